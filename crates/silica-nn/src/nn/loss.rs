//! Loss functions with the semantics of `torch.nn.functional`.
//!
//! Every loss is a plain function of tensors that returns the loss as a tensor, so gradients
//! flow through ordinary autograd. Each takes a [`Reduction`]: `None` keeps one value per
//! element (per sample for the classification losses), `Mean` (the default) averages and `Sum`
//! adds them up.
//!
//! The classification losses ([`cross_entropy`], [`nll_loss`]) take class indices as I64
//! targets of shape `[N]` (input `[N, C]`), `[N, d1, ..]` (input `[N, C, d1, ..]`) or `[]`
//! (unbatched input `[C]`). The targets are read to the host once per call to check that every
//! index is a class or `ignore_index`: targets are small, and this gives a clear error instead
//! of garbage or an asynchronous device error naming a `gather`.

use silica_core::{DType, Error, Result, Shape, Tensor};

/// How a loss combines its per-element values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// One loss per element (per sample for classification losses).
    None,
    /// The mean (for weighted classification losses, divided by the sum of target weights).
    #[default]
    Mean,
    /// The sum.
    Sum,
}

/// Options of [`cross_entropy`], with PyTorch's defaults.
#[derive(Clone, Debug)]
pub struct CrossEntropyOptions {
    /// A weight per class, shape `[C]`, in the input's dtype.
    pub weight: Option<Tensor>,
    /// Targets equal to this index add nothing to the loss, nor to the mean's denominator.
    /// Class-index targets only. Default -100.
    pub ignore_index: i64,
    /// Mixes the target with the uniform distribution: `(1 - ε) target + ε / C`. Default 0.
    pub label_smoothing: f64,
    /// Default [`Reduction::Mean`].
    pub reduction: Reduction,
}

impl Default for CrossEntropyOptions {
    fn default() -> Self {
        CrossEntropyOptions {
            weight: None,
            ignore_index: -100,
            label_smoothing: 0.0,
            reduction: Reduction::Mean,
        }
    }
}

/// Options of [`nll_loss`], with PyTorch's defaults.
#[derive(Clone, Debug)]
pub struct NllLossOptions {
    /// A weight per class, shape `[C]`, in the input's dtype.
    pub weight: Option<Tensor>,
    /// Targets equal to this index add nothing to the loss, nor to the mean's denominator.
    /// Default -100.
    pub ignore_index: i64,
    /// Default [`Reduction::Mean`].
    pub reduction: Reduction,
}

impl Default for NllLossOptions {
    fn default() -> Self {
        NllLossOptions {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
        }
    }
}

/// Options of [`bce_with_logits`].
#[derive(Clone, Debug, Default)]
pub struct BceWithLogitsOptions {
    /// A weight broadcast to the input's shape, multiplying each element's loss.
    pub weight: Option<Tensor>,
    /// A weight of the positive term, broadcast along the last dim (one per class), as
    /// PyTorch's `pos_weight`.
    pub pos_weight: Option<Tensor>,
    /// Default [`Reduction::Mean`].
    pub reduction: Reduction,
}

fn reduce(loss: Tensor, reduction: Reduction) -> Result<Tensor> {
    match reduction {
        Reduction::None => Ok(loss),
        Reduction::Mean => loss.mean_all(),
        Reduction::Sum => loss.sum_all(),
    }
}

/// Checks that `input` and `target` have one shape and one float dtype.
fn check_pair(op: &'static str, input: &Tensor, target: &Tensor) -> Result<()> {
    if input.shape() != target.shape() {
        return Err(Error::shape(
            op,
            &[input.shape(), target.shape()],
            format!(
                "input of shape {} and target of shape {} must have one shape",
                input.shape(),
                target.shape()
            ),
        ));
    }
    check_float(op, "input and target", input, target)
}

/// Checks that `other` has `input`'s float dtype; `what` names the pair in the message.
fn check_float(op: &'static str, what: &str, input: &Tensor, other: &Tensor) -> Result<()> {
    if !input.dtype().is_float() || input.dtype() != other.dtype() {
        return Err(Error::invalid(
            op,
            format!(
                "{what} need one float dtype, got {} and {}",
                input.dtype(),
                other.dtype()
            ),
        ));
    }
    Ok(())
}

/// Checks that an optional weight broadcasts to `shape` and has `input`'s dtype.
fn check_weight(op: &'static str, name: &str, input: &Tensor, w: Option<&Tensor>) -> Result<()> {
    let Some(w) = w else { return Ok(()) };
    check_float(op, &format!("input and {name}"), input, w)?;
    let fits = w.shape().broadcast(input.shape(), op).ok() == Some(input.shape().clone());
    if !fits {
        return Err(Error::shape(
            op,
            &[w.shape(), input.shape()],
            format!(
                "{name} of shape {} does not broadcast to the input's shape {}",
                w.shape(),
                input.shape()
            ),
        ));
    }
    Ok(())
}

/// The mean squared error `(input - target)²`, as `F.mse_loss`.
///
/// # Examples
///
/// ```
/// use silica_core::{Tensor, Device};
/// use silica_nn::nn::{mse_loss, Reduction};
/// # fn main() -> silica_core::Result<()> {
/// let x = Tensor::from_slice(&[1.0f32, 2.0], [2], Device::Cpu)?;
/// let y = Tensor::from_slice(&[1.0f32, 4.0], [2], Device::Cpu)?;
/// assert_eq!(mse_loss(&x, &y, Reduction::Mean)?.item::<f32>()?, 2.0);
/// # Ok(()) }
/// ```
pub fn mse_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    check_pair("mse_loss", input, target)?;
    reduce(input.sub(target)?.square()?, reduction)
}

/// The absolute error `|input - target|`, as `F.l1_loss`.
pub fn l1_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    check_pair("l1_loss", input, target)?;
    reduce(input.sub(target)?.abs()?, reduction)
}

/// `0.5 d² / beta` where `|d| < beta`, else `|d| - 0.5 beta`, with `d = input - target`, as
/// `F.smooth_l1_loss` (`beta` 0 gives the L1 loss; PyTorch's default is 1).
pub fn smooth_l1_loss(
    input: &Tensor,
    target: &Tensor,
    beta: f64,
    reduction: Reduction,
) -> Result<Tensor> {
    check_pair("smooth_l1_loss", input, target)?;
    if beta.is_nan() || beta < 0.0 {
        return Err(Error::invalid(
            "smooth_l1_loss",
            format!("beta {beta} must be non-negative"),
        ));
    }
    let z = input.sub(target)?.abs()?;
    if beta == 0.0 {
        return reduce(z, reduction);
    }
    reduce(huber(&z, beta)?.div_scalar(beta)?, reduction)
}

/// The Huber function of `z = |d|`: `0.5 z²` below `delta`, `delta (z - 0.5 delta)` above,
/// written as `0.5 m² + delta (z - m)` with `m = min(z, delta)`. Unlike a `where` between the
/// two branches, no branch sees an input it would turn into inf, so an infinite `d` gets the
/// gradient `delta · sign(d)` instead of NaN.
fn huber(z: &Tensor, delta: f64) -> Result<Tensor> {
    let m = z.minimum_scalar(delta)?;
    m.square()?
        .mul_scalar(0.5)?
        .add(&z.sub(&m)?.mul_scalar(delta)?)
}

/// `0.5 d²` where `|d| < delta`, else `delta (|d| - 0.5 delta)`, with `d = input - target`, as
/// `F.huber_loss` (PyTorch's default `delta` is 1).
pub fn huber_loss(
    input: &Tensor,
    target: &Tensor,
    delta: f64,
    reduction: Reduction,
) -> Result<Tensor> {
    check_pair("huber_loss", input, target)?;
    if delta.is_nan() || delta <= 0.0 {
        return Err(Error::invalid(
            "huber_loss",
            format!("delta {delta} must be positive"),
        ));
    }
    reduce(huber(&input.sub(target)?.abs()?, delta)?, reduction)
}

/// Binary cross entropy of probabilities `input` in `[0, 1]` against `target` of the same shape:
/// `-w (t ln x + (1 - t) ln(1 - x))`, with each log clamped at -100, as `F.binary_cross_entropy`.
/// `weight` broadcasts to the input's shape.
///
/// Unlike PyTorch, inputs outside `[0, 1]` are not checked (they give NaN); use
/// [`bce_with_logits`] on logits, which is also numerically stable.
pub fn bce_loss(
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    reduction: Reduction,
) -> Result<Tensor> {
    check_pair("bce_loss", input, target)?;
    check_weight("bce_loss", "weight", input, weight)?;
    let log_x = input.log()?.maximum_scalar(-100.0)?;
    let log_1mx = input.neg()?.log1p()?.maximum_scalar(-100.0)?;
    // -(t ln x + (1 - t) ln(1 - x)) = (t - 1) ln(1 - x) - t ln x
    let loss = target
        .sub_scalar(1.0)?
        .mul(&log_1mx)?
        .sub(&target.mul(&log_x)?)?;
    let loss = match weight {
        Some(w) => loss.mul(w)?,
        None => loss,
    };
    reduce(loss, reduction)
}

/// Binary cross entropy of `sigmoid(input)` against `target`, computed stably from the logits,
/// as `F.binary_cross_entropy_with_logits`:
/// `w (p t softplus(-x) + (1 - t) softplus(x))`, with `p` the optional `pos_weight` (PyTorch's
/// `w ((1 - t) x + (1 + (p - 1) t) softplus(-x))`, the same function, written so that an
/// infinite logit gives the limit instead of NaN).
///
/// # Examples
///
/// ```
/// use silica_core::{Tensor, Device};
/// use silica_nn::nn::{bce_with_logits, BceWithLogitsOptions};
/// # fn main() -> silica_core::Result<()> {
/// // Confidently wrong: in f32, sigmoid(100) is 1 and ln(1 - 1) would be -inf.
/// let x = Tensor::from_slice(&[100.0f32, -100.0], [2], Device::Cpu)?;
/// let t = Tensor::from_slice(&[0.0f32, 1.0], [2], Device::Cpu)?;
/// let loss = bce_with_logits(&x, &t, &BceWithLogitsOptions::default())?;
/// assert_eq!(loss.item::<f32>()?, 100.0);
/// # Ok(()) }
/// ```
pub fn bce_with_logits(
    input: &Tensor,
    target: &Tensor,
    opts: &BceWithLogitsOptions,
) -> Result<Tensor> {
    const OP: &str = "bce_with_logits";
    check_pair(OP, input, target)?;
    check_weight(OP, "weight", input, opts.weight.as_ref())?;
    check_weight(OP, "pos_weight", input, opts.pos_weight.as_ref())?;
    // -t p ln σ(x) - (1 - t) ln(1 - σ(x)) = t p softplus(-x) + (1 - t) softplus(x): each term
    // stays finite where the other is infinite, so an infinite logit gives the loss's limit
    // and finite gradients (PyTorch's (1 - t) x + (1 + (p - 1) t) softplus(-x) gives NaN).
    let positive = match &opts.pos_weight {
        Some(p) => target.mul(p)?,
        None => target.clone(),
    };
    let loss = positive
        .mul(&input.neg()?.softplus()?)?
        .add(&target.neg()?.add_scalar(1.0)?.mul(&input.softplus()?)?)?;
    let loss = match &opts.weight {
        Some(w) => loss.mul(w)?,
        None => loss,
    };
    reduce(loss, opts.reduction)
}

/// Checks that a class weight is `[C]` in the input's float dtype.
fn check_class_weight(op: &'static str, input: &Tensor, weight: Option<&Tensor>) -> Result<()> {
    let Some(w) = weight else { return Ok(()) };
    check_float(op, "input and weight", input, w)?;
    let classes = input.dims()[1];
    if w.dims() != [classes] {
        return Err(Error::shape(
            op,
            &[w.shape(), input.shape()],
            format!(
                "weight of shape {} must have one entry per class ([{classes}]) for input of shape {}",
                w.shape(),
                input.shape()
            ),
        ));
    }
    Ok(())
}

/// Class-index targets after validation, in the layout `[N, d1, ..]` of a batched input.
struct ClassTargets {
    /// The targets with ignored entries replaced by class 0 (so they can be gathered).
    safe: Tensor,
    /// The weight of each target's class (1 without class weights), 0 where ignored.
    weight: Tensor,
}

/// Validates `[N, C, d1, ..]` input against `[N, d1, ..]` I64 targets and the class weights.
fn class_targets(
    op: &'static str,
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
) -> Result<ClassTargets> {
    let mut sample_dims = input.dims().to_vec();
    sample_dims.remove(1);
    let sample_shape = Shape::new(sample_dims);
    if target.dtype() != DType::I64 {
        let probabilities = match op {
            "cross_entropy" => format!(
                ", or float class probabilities of the input's shape {}",
                input.shape()
            ),
            _ => String::new(),
        };
        return Err(Error::dtype(
            op,
            target.dtype(),
            format!("i64 class indices of shape {sample_shape}{probabilities}"),
        ));
    }
    if target.shape() != &sample_shape {
        return Err(Error::shape(
            op,
            &[input.shape(), target.shape()],
            format!(
                "input of shape {} needs class indices of shape {sample_shape}, got target of shape {}",
                input.shape(),
                target.shape()
            ),
        ));
    }
    check_class_weight(op, input, weight)?;
    // A class index out of range is reported by the gather kernel (at the call on the CPU, at
    // the next read on an asynchronous device): reading the targets here would stall every
    // training step on a host sync.
    let ignored = target.eq_scalar(ignore_index)?;
    let safe = ignored.where_cond(&Tensor::zeros((), DType::I64, target.device())?, target)?;
    let class_weight = match weight {
        Some(w) => w
            .index_select(0, &safe.flatten_all()?)?
            .reshape(target.shape())?,
        None => Tensor::ones(target.shape(), input.dtype(), input.device())?,
    };
    let zero = Tensor::zeros((), input.dtype(), input.device())?;
    Ok(ClassTargets {
        safe,
        weight: ignored.where_cond(&zero, &class_weight)?,
    })
}

/// Sums per-sample losses as `reduction` asks; `Mean` divides by the sum of target weights.
///
/// When every target is ignored that sum is 0: the loss is NaN (0 / 0), as in PyTorch, but the
/// gradient is 0, so one all-padding batch cannot poison the parameters.
fn reduce_weighted(loss: Tensor, weight: &Tensor, reduction: Reduction) -> Result<Tensor> {
    match reduction {
        Reduction::None => Ok(loss),
        Reduction::Sum => loss.sum_all(),
        Reduction::Mean => {
            let total = weight.sum_all()?;
            let none = total.eq_scalar(0.0)?;
            let denom = none.where_cond(&total.ones_like()?, &total)?;
            let nan = Tensor::full((), f64::NAN, loss.dtype(), loss.device())?;
            let nan_if_none = none.where_cond(&nan, &total.zeros_like()?)?;
            loss.sum_all()?.div(&denom)?.add(&nan_if_none)
        }
    }
}

/// Runs `f` on a batched view of `input`: an unbatched `[C]` input (with a `[]` target)
/// becomes `[1, C]`, and a per-sample result is brought back to `[]`.
fn batched(
    op: &'static str,
    input: &Tensor,
    target: &Tensor,
    reduction: Reduction,
    f: impl FnOnce(&Tensor, &Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    if !input.dtype().is_float() {
        return Err(Error::dtype(
            op,
            input.dtype(),
            "a float dtype for the input",
        ));
    }
    match input.rank() {
        0 => Err(Error::shape(
            op,
            &[input.shape()],
            "expected input [C], [N, C] or [N, C, d1, ..], got a 0-dim tensor",
        )),
        1 => {
            let target = if target.dims() == input.dims() {
                target.unsqueeze(0)? // class probabilities
            } else if target.rank() == 0 {
                target.reshape([1])?
            } else {
                return Err(Error::shape(
                    op,
                    &[input.shape(), target.shape()],
                    format!(
                        "unbatched input of shape {} needs a 0-dim class index or probabilities of shape {}, got target of shape {}",
                        input.shape(),
                        input.shape(),
                        target.shape()
                    ),
                ));
            };
            let out = f(&input.unsqueeze(0)?, &target)?;
            match reduction {
                Reduction::None => out.reshape(()),
                _ => Ok(out),
            }
        }
        _ => f(input, target),
    }
}

/// The negative log-likelihood of log-probabilities `input` `[N, C, d1, ..]` (or `[N, C]`, or
/// `[C]`) at the class indices `target` `[N, d1, ..]`, as `F.nll_loss`:
/// `-weight[t] · input[n, t]`, with ignored targets contributing nothing.
///
/// The mean divides by the sum of the weights of the non-ignored targets.
pub fn nll_loss(input: &Tensor, target: &Tensor, opts: &NllLossOptions) -> Result<Tensor> {
    const OP: &str = "nll_loss";
    batched(OP, input, target, opts.reduction, |input, target| {
        let t = class_targets(OP, input, target, opts.weight.as_ref(), opts.ignore_index)?;
        let loss = picked_nll(input, &t)?;
        reduce_weighted(loss, &t.weight, opts.reduction)
    })
}

/// `-weight[t] · logp[n, t]` per sample, shape `[N, d1, ..]`.
fn picked_nll(logp: &Tensor, t: &ClassTargets) -> Result<Tensor> {
    logp.gather(1, &t.safe.unsqueeze(1)?)?
        .squeeze(1)?
        .mul(&t.weight)?
        .neg()
}

/// Cross entropy between logits `input` `[N, C, d1, ..]` (or `[N, C]`, or `[C]`) and a target,
/// as `F.cross_entropy`:
/// - class indices (I64) of shape `[N, d1, ..]`: `-weight[t] · log_softmax(input)[n, t]`, with
///   `ignore_index`, and a weighted mean divided by the sum of the targets' weights;
/// - class probabilities (float) of the input's shape: `-Σ_c weight[c] p_c log_softmax(input)_c`,
///   whose mean divides by the number of samples `N · d1 · ..`.
///
/// `label_smoothing` ε mixes the target with the uniform distribution, as PyTorch does.
///
/// # Examples
///
/// ```
/// use silica_core::{Tensor, Device};
/// use silica_nn::nn::{cross_entropy, CrossEntropyOptions};
/// # fn main() -> silica_core::Result<()> {
/// let logits = Tensor::zeros([2, 4], silica_core::DType::F64, Device::Cpu)?;
/// let target = Tensor::from_slice(&[1i64, 3], [2], Device::Cpu)?;
/// let loss = cross_entropy(&logits, &target, &CrossEntropyOptions::default())?;
/// assert!((loss.item::<f64>()? - 4f64.ln()).abs() < 1e-12);
///
/// let bad = Tensor::from_slice(&[1i64, 4], [2], Device::Cpu)?;
/// let err = cross_entropy(&logits, &bad, &CrossEntropyOptions::default()).unwrap_err();
/// assert!(err.to_string().contains("index 4 is out of bounds for dim 1 with size 4"));
/// # Ok(()) }
/// ```
pub fn cross_entropy(
    input: &Tensor,
    target: &Tensor,
    opts: &CrossEntropyOptions,
) -> Result<Tensor> {
    const OP: &str = "cross_entropy";
    let eps = opts.label_smoothing;
    if !(0.0..=1.0).contains(&eps) {
        return Err(Error::invalid(
            OP,
            format!("label_smoothing {eps} is outside [0, 1]"),
        ));
    }
    batched(OP, input, target, opts.reduction, |input, target| {
        if target.dtype().is_float() {
            cross_entropy_probs(input, target, opts)
        } else {
            cross_entropy_indices(input, target, opts)
        }
    })
}

/// The weight per class, shaped `[1, C, 1, ..]` to broadcast against an `[N, C, d1, ..]` input.
fn class_weight_view(input: &Tensor, weight: &Tensor) -> Result<Tensor> {
    let mut dims = vec![1; input.rank()];
    dims[1] = input.dims()[1];
    weight.reshape(dims)
}

fn cross_entropy_indices(
    input: &Tensor,
    target: &Tensor,
    opts: &CrossEntropyOptions,
) -> Result<Tensor> {
    const OP: &str = "cross_entropy";
    let t = class_targets(OP, input, target, opts.weight.as_ref(), opts.ignore_index)?;
    let logp = input.log_softmax(1)?;
    let nll = picked_nll(&logp, &t)?;
    let eps = opts.label_smoothing;
    let loss = if eps > 0.0 {
        // The uniform part: -Σ_c weight[c] logp_c per sample, zero where ignored (PyTorch's
        // `smooth_loss`), sharing the denominator of the weighted mean.
        let weighted = match &opts.weight {
            Some(w) => logp.mul(&class_weight_view(input, w)?)?,
            None => logp,
        };
        let valid = target
            .ne_scalar(opts.ignore_index)?
            .to_dtype(input.dtype())?;
        let smooth = weighted.sum(1, false)?.neg()?.mul(&valid)?;
        let classes = input.dims()[1] as f64;
        nll.mul_scalar(1.0 - eps)?
            .add(&smooth.mul_scalar(eps / classes)?)?
    } else {
        nll
    };
    reduce_weighted(loss, &t.weight, opts.reduction)
}

fn cross_entropy_probs(
    input: &Tensor,
    target: &Tensor,
    opts: &CrossEntropyOptions,
) -> Result<Tensor> {
    const OP: &str = "cross_entropy";
    if target.shape() != input.shape() {
        return Err(Error::shape(
            OP,
            &[input.shape(), target.shape()],
            format!(
                "class probabilities must have the input's shape {}, got target of shape {} (class indices must be i64)",
                input.shape(),
                target.shape()
            ),
        ));
    }
    check_float(OP, "input and target probabilities", input, target)?;
    check_class_weight(OP, input, opts.weight.as_ref())?;
    if opts.ignore_index >= 0 {
        return Err(Error::invalid(
            OP,
            format!(
                "ignore_index {} is not supported for class-probability targets",
                opts.ignore_index
            ),
        ));
    }
    let classes = input.dims()[1];
    let eps = opts.label_smoothing;
    let target = if eps > 0.0 {
        target
            .mul_scalar(1.0 - eps)?
            .add_scalar(eps / classes as f64)?
    } else {
        target.clone()
    };
    let mut terms = input.log_softmax(1)?.mul(&target)?;
    if let Some(w) = &opts.weight {
        terms = terms.mul(&class_weight_view(input, w)?)?;
    }
    match opts.reduction {
        Reduction::None => terms.sum(1, false)?.neg(),
        Reduction::Sum => terms.sum_all()?.neg(),
        Reduction::Mean => {
            let samples = (input.elem_count() / classes.max(1)) as f64;
            terms.sum_all()?.neg()?.div_scalar(samples)
        }
    }
}
