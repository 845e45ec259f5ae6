//! Reverse-mode automatic differentiation.
//!
//! Each differentiable op records an `Op` on its result: the op code, its inputs, and what
//! its gradient needs. [`Tensor::backward`] walks the recorded graph in reverse topological
//! order, calls the gradient formulas in `backward.rs` (written with ordinary tensor ops, so they
//! run on every backend), and accumulates into the `grad()` of each leaf that requires it. The
//! graph's saved tensors are then freed, unless `retain_graph` is set. With `create_graph`, the
//! formulas themselves are recorded, so gradients can be differentiated again.

mod backward;
mod conv;
mod function;
mod gradcheck;
mod hooks;
mod norm;
mod pool;

pub use function::Function;
pub use gradcheck::{gradcheck, gradgradcheck, GradcheckOptions};
pub use hooks::HookHandle;
pub(crate) use hooks::Hooks;
pub(crate) use norm::batch_norm_grads;

use crate::backend::{BinaryOp, Conv2dParams, Pool2dParams, UnaryOp};
use crate::{Error, Result, Scalar, Tensor, TensorId};
use std::cell::Cell;
use std::collections::HashMap;

/// An op recorded for autograd, with what its gradient formula needs.
#[derive(Clone)]
pub(crate) enum Op {
    ToDType {
        x: Tensor,
    },
    ToDevice {
        x: Tensor,
    },
    Copy {
        x: Tensor,
    },
    Reshape {
        x: Tensor,
    },
    Permute {
        x: Tensor,
        perm: Vec<usize>,
    },
    Expand {
        x: Tensor,
    },
    /// `x.narrow(dim, start, len, step)`.
    Narrow {
        x: Tensor,
        dim: usize,
        start: usize,
        step: usize,
    },
    /// `x` written into a larger tensor at `(start, step)` per dim (pad, and narrow's gradient).
    Embed {
        x: Tensor,
        region: Vec<(usize, usize)>,
    },
    Unary {
        x: Tensor,
        op: UnaryOp,
    },
    Binary {
        lhs: Tensor,
        rhs: Tensor,
        op: BinaryOp,
    },
    /// `op(x, s)` with a scalar right operand.
    BinaryScalar {
        x: Tensor,
        op: BinaryOp,
        s: Scalar,
    },
    Where {
        cond: Tensor,
        on_true: Tensor,
        on_false: Tensor,
    },
    /// A keepdim sum.
    Sum {
        x: Tensor,
    },
    /// A keepdim product over `dims`.
    Prod {
        x: Tensor,
        dims: Vec<usize>,
    },
    /// A keepdim max or min over `dims`; `out` is the (detached) result. With `all` (as
    /// `torch.max(x)`), a NaN result sends the gradient to the NaN elements; otherwise (as
    /// `torch.amax`) a slice whose result is NaN gets NaN.
    Extremum {
        x: Tensor,
        dims: Vec<usize>,
        out: Tensor,
        all: bool,
    },
    /// A cumulative product along `dim`.
    CumProd {
        x: Tensor,
        dim: usize,
    },
    /// A keepdim variance over `dims` with `correction`.
    Var {
        x: Tensor,
        dims: Vec<usize>,
        correction: usize,
    },
    Matmul {
        lhs: Tensor,
        rhs: Tensor,
    },
    /// Softmax (or log-softmax) along `dim`; `out` is the detached result.
    Softmax {
        x: Tensor,
        dim: usize,
        log: bool,
        out: Tensor,
    },
    Conv2d {
        input: Tensor,
        weight: Tensor,
        bias: Option<Tensor>,
        params: Conv2dParams,
    },
    /// The input gradient of a convolution, `Bi(g, weight)` (see `autograd/conv.rs`).
    Conv2dInputGrad {
        g: Tensor,
        weight: Tensor,
        params: Conv2dParams,
    },
    /// The weight gradient of a convolution, `Bw(input, g)`.
    Conv2dWeightGrad {
        input: Tensor,
        g: Tensor,
        params: Conv2dParams,
    },
    MaxPool2d {
        x: Tensor,
        indices: Tensor,
    },
    /// Batch norm with batch statistics; `mean` and `var` (biased) are the detached `[c]`
    /// statistics of the forward pass.
    BatchNorm {
        x: Tensor,
        weight: Option<Tensor>,
        bias: Option<Tensor>,
        mean: Tensor,
        var: Tensor,
        eps: f64,
    },
    AvgPool2d {
        x: Tensor,
        params: Pool2dParams,
    },
    /// The input gradient of an average pooling.
    AvgPool2dGrad {
        g: Tensor,
        params: Pool2dParams,
    },
    /// A user-defined [`Function`].
    Custom {
        f: std::sync::Arc<dyn Function>,
        inputs: Vec<Tensor>,
    },
    IndexSelect {
        x: Tensor,
        dim: usize,
        index: Tensor,
    },
    Gather {
        x: Tensor,
        dim: usize,
        index: Tensor,
    },
    ScatterAdd {
        base: Tensor,
        dim: usize,
        index: Tensor,
        src: Tensor,
    },
    Cat {
        xs: Vec<Tensor>,
        dim: usize,
    },
}

impl Op {
    /// The tensors gradients flow to, in the order `backward` returns their gradients.
    pub(crate) fn inputs(&self) -> Vec<&Tensor> {
        match self {
            Op::ToDType { x }
            | Op::ToDevice { x }
            | Op::Copy { x }
            | Op::Reshape { x }
            | Op::Permute { x, .. }
            | Op::Expand { x }
            | Op::Narrow { x, .. }
            | Op::Embed { x, .. }
            | Op::Unary { x, .. }
            | Op::BinaryScalar { x, .. }
            | Op::Sum { x, .. }
            | Op::Prod { x, .. }
            | Op::Extremum { x, .. }
            | Op::Var { x, .. }
            | Op::CumProd { x, .. }
            | Op::Softmax { x, .. }
            | Op::MaxPool2d { x, .. }
            | Op::AvgPool2d { x, .. }
            | Op::AvgPool2dGrad { g: x, .. }
            | Op::IndexSelect { x, .. }
            | Op::Gather { x, .. } => vec![x],
            Op::Conv2dInputGrad { g, weight, .. } => vec![g, weight],
            Op::Conv2dWeightGrad { input, g, .. } => vec![input, g],
            Op::Custom { inputs, .. } => inputs.iter().collect(),
            Op::Binary { lhs, rhs, .. } | Op::Matmul { lhs, rhs } => vec![lhs, rhs],
            Op::Where {
                on_true, on_false, ..
            } => vec![on_true, on_false],
            Op::Conv2d {
                input,
                weight,
                bias,
                ..
            } => [input, weight].into_iter().chain(bias).collect(),
            Op::BatchNorm {
                x, weight, bias, ..
            } => std::iter::once(x).chain(weight).chain(bias).collect(),
            Op::ScatterAdd { base, src, .. } => vec![base, src],
            Op::Cat { xs, .. } => xs.iter().collect(),
        }
    }

    /// Every tensor the op holds, for dropping graphs without recursion.
    pub(crate) fn into_inputs(self) -> Vec<Tensor> {
        match self {
            Op::Where {
                cond,
                on_true,
                on_false,
            } => vec![cond, on_true, on_false],
            Op::Extremum { x, out, .. } | Op::Softmax { x, out, .. } => vec![x, out],
            Op::MaxPool2d { x, indices } => vec![x, indices],
            Op::BatchNorm {
                x,
                weight,
                bias,
                mean,
                var,
                ..
            } => [Some(x), weight, bias, Some(mean), Some(var)]
                .into_iter()
                .flatten()
                .collect(),
            Op::IndexSelect { x, index, .. } | Op::Gather { x, index, .. } => vec![x, index],
            Op::ScatterAdd {
                base, index, src, ..
            } => vec![base, index, src],
            other => other.inputs().into_iter().cloned().collect(),
        }
    }
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// True unless a [`no_grad`] guard is alive on this thread.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Restores the previous grad mode when dropped. Made by [`no_grad`].
#[must_use = "gradients are disabled only while the guard is alive"]
pub struct GradModeGuard {
    previous: bool,
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

fn set_grad_enabled(enabled: bool) -> GradModeGuard {
    let previous = GRAD_ENABLED.with(|g| g.replace(enabled));
    GradModeGuard { previous }
}

/// Disables gradient recording on this thread until the guard drops, like `torch.no_grad()`.
///
/// # Examples
///
/// ```
/// use silica_core::{no_grad, Tensor, Device, DType};
/// let w = Tensor::ones([2], DType::F32, Device::Cpu).unwrap();
/// w.set_requires_grad(true).unwrap();
/// {
///     let _guard = no_grad();
///     assert!(!w.mul_scalar(2.0).unwrap().requires_grad());
/// }
/// assert!(w.mul_scalar(2.0).unwrap().requires_grad());
/// ```
pub fn no_grad() -> GradModeGuard {
    set_grad_enabled(false)
}

/// Returns the op to record on a result, or `None` when grad mode is off or no input requires
/// gradients.
pub(crate) fn record(inputs: &[&Tensor], make: impl FnOnce() -> Op) -> Option<Op> {
    if is_grad_enabled() && inputs.iter().any(|t| t.requires_grad()) {
        Some(make())
    } else {
        None
    }
}

/// Options for [`Tensor::backward_with_options`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackwardOptions {
    /// Keep the graph, so that `backward` can run through it again.
    pub retain_graph: bool,
    /// Record the gradient computation itself, for higher-order gradients. Implies
    /// `retain_graph`.
    pub create_graph: bool,
}

impl Tensor {
    /// Computes the gradient of this one-element tensor with respect to every leaf that
    /// requires it, and adds it to the leaves' `grad()`. The graph is freed afterwards.
    pub fn backward(&self) -> Result<()> {
        self.backward_with_options(None, BackwardOptions::default())
    }

    /// Like [`Tensor::backward`] for a tensor of any shape, given the gradient of the final
    /// result with respect to it (same shape).
    pub fn backward_with(&self, grad: &Tensor) -> Result<()> {
        self.backward_with_options(Some(grad), BackwardOptions::default())
    }

    /// Backward with an optional seed gradient and [`BackwardOptions`].
    pub fn backward_with_options(
        &self,
        grad: Option<&Tensor>,
        opts: BackwardOptions,
    ) -> Result<()> {
        let grads = run_backward(self, grad, opts, None)?;
        for (leaf, g) in grads.into_values() {
            accumulate_grad(&leaf, g, opts.create_graph)?;
        }
        Ok(())
    }
}

/// Adds `g` to `t.grad()`. A gradient that shares memory with anything else (another
/// leaf's gradient, the seed, a view of an intermediate) is copied, so that writing into one
/// tensor's `grad()` never changes another's; a strided one is made contiguous, as PyTorch's
/// gradient layout contract does, so optimizers can use fused kernels on it.
fn accumulate_grad(t: &Tensor, g: Tensor, create_graph: bool) -> Result<()> {
    let mut slot = t.0.grad.lock().unwrap_or_else(|e| e.into_inner());
    let _mode = set_grad_enabled(create_graph);
    *slot = Some(match slot.take() {
        None if g.is_exclusive() && g.is_contiguous() => g,
        None => g.copy()?,
        Some(prev) => prev.add(&g)?,
    });
    Ok(())
}

/// The gradients of `output` with respect to each of `inputs`, without touching any `grad()`
/// (like `torch.autograd.grad`). An input the output does not depend on gets `None`.
pub fn grad(
    output: &Tensor,
    inputs: &[&Tensor],
    grad_output: Option<&Tensor>,
    opts: BackwardOptions,
) -> Result<Vec<Option<Tensor>>> {
    let wanted: Vec<TensorId> = inputs.iter().map(|t| t.id()).collect();
    let mut grads = run_backward(output, grad_output, opts, Some(&wanted))?;
    Ok(wanted
        .iter()
        .map(|id| grads.remove(id).map(|(_, g)| g))
        .collect())
}

/// Runs the backward pass from `root`. Returns the gradient of every leaf that requires one
/// or, with `capture`, of every tensor listed there.
fn run_backward(
    root: &Tensor,
    seed: Option<&Tensor>,
    opts: BackwardOptions,
    capture: Option<&[TensorId]>,
) -> Result<HashMap<TensorId, (Tensor, Tensor)>> {
    if !root.requires_grad() {
        return Err(Error::Autograd(
            "the tensor does not require grad and has no recorded op (did you call set_requires_grad(true) on a leaf?)".into(),
        ));
    }
    let seed = match seed {
        Some(g) => {
            if g.shape() != root.shape() {
                return Err(Error::shape(
                    "backward",
                    &[g.shape(), root.shape()],
                    format!(
                        "the gradient has shape {} but the tensor has shape {}",
                        g.shape(),
                        root.shape()
                    ),
                ));
            }
            root.same_device("backward", &[g])?;
            g.to_dtype(root.dtype())?
        }
        None => {
            if root.elem_count() != 1 {
                return Err(Error::Autograd(format!(
                    "grad can be created implicitly only for a tensor with one element, got shape {}; use backward_with(grad)",
                    root.shape()
                )));
            }
            Tensor::ones_like(root)?
        }
    };
    let retain = opts.retain_graph || opts.create_graph;
    let _mode = set_grad_enabled(opts.create_graph);

    if root.is_leaf() {
        // A leaf's gradient with respect to itself is the seed.
        let mut out = HashMap::new();
        if capture.is_none_or(|c| c.contains(&root.id())) {
            out.insert(root.id(), (root.clone(), root.run_hooks(seed)?.0));
        }
        return Ok(out);
    }
    let order = topo_order(root)?;
    let is_captured = |id: TensorId| capture.is_some_and(|c| c.contains(&id));
    let mut pending: HashMap<TensorId, Tensor> = HashMap::new();
    let mut out: HashMap<TensorId, (Tensor, Tensor)> = HashMap::new();
    pending.insert(root.id(), seed);

    for node in order.iter().rev() {
        let Some(g) = pending.remove(&node.id()) else {
            continue;
        };
        // The node's gradient is complete: its hooks see it, and it is kept if asked.
        let (g, keep) = node.run_hooks(g)?;
        if is_captured(node.id()) || (keep && capture.is_none()) {
            out.insert(node.id(), (node.clone(), g.clone()));
        }
        let op = {
            let mut slot = node.0.op.lock().unwrap_or_else(|e| e.into_inner());
            if retain {
                slot.clone()
            } else {
                slot.take()
            }
        };
        let Some(op) = op else { continue };
        let input_grads = backward::backward(&op, &g)?;
        for (input, ig) in op.inputs().into_iter().zip(input_grads) {
            let Some(ig) = ig else { continue };
            if !input.requires_grad() {
                continue;
            }
            debug_assert_eq!(ig.shape(), input.shape(), "gradient shape for {op:?}");
            if input.is_leaf() {
                if capture.is_none() || is_captured(input.id()) {
                    match out.remove(&input.id()) {
                        Some((t, prev)) => out.insert(input.id(), (t, prev.add(&ig)?)),
                        None => out.insert(input.id(), (input.clone(), ig)),
                    };
                }
            } else {
                let acc = match pending.remove(&input.id()) {
                    Some(prev) => prev.add(&ig)?,
                    None => ig,
                };
                pending.insert(input.id(), acc);
            }
        }
    }
    // A leaf's gradient is complete once every path has been walked.
    for (t, g) in out.values_mut() {
        if t.is_leaf() {
            *g = t.run_hooks(g.clone())?.0;
        }
    }
    Ok(out)
}

/// The non-leaf tensors that `root` depends on, each after all of its inputs (post-order).
fn topo_order(root: &Tensor) -> Result<Vec<Tensor>> {
    let mut order = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // (tensor, inputs already pushed?)
    let mut stack = vec![(root.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if t.is_leaf() || !t.requires_grad() || !seen.insert(t.id()) {
            continue;
        }
        let inputs: Vec<Tensor> = {
            let slot = t.0.op.lock().unwrap_or_else(|e| e.into_inner());
            match slot.as_ref() {
                Some(op) => op.inputs().into_iter().cloned().collect(),
                None => {
                    return Err(Error::Autograd(
                        "trying to backward through the graph a second time; its saved tensors were freed after the first backward (pass retain_graph: true the first time)".into(),
                    ))
                }
            }
        };
        stack.push((t, true));
        for i in inputs {
            stack.push((i, false));
        }
    }
    Ok(order)
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Op::ToDType { .. } => "to_dtype",
            Op::ToDevice { .. } => "to_device",
            Op::Copy { .. } => "copy",
            Op::Reshape { .. } => "reshape",
            Op::Permute { .. } => "permute",
            Op::Expand { .. } => "expand",
            Op::Narrow { .. } => "narrow",
            Op::Embed { .. } => "embed",
            Op::Unary { op, .. } => op.name(),
            Op::Binary { op, .. } | Op::BinaryScalar { op, .. } => op.name(),
            Op::Where { .. } => "where",
            Op::Sum { .. } => "sum",
            Op::Prod { .. } => "prod",
            Op::Extremum { .. } => "max/min",
            Op::Var { .. } => "var",
            Op::CumProd { .. } => "cumprod",
            Op::Matmul { .. } => "matmul",
            Op::Softmax { log: false, .. } => "softmax",
            Op::Softmax { log: true, .. } => "log_softmax",
            Op::Conv2d { .. } => "conv2d",
            Op::Conv2dInputGrad { .. } => "conv2d_input_grad",
            Op::Conv2dWeightGrad { .. } => "conv2d_weight_grad",
            Op::AvgPool2dGrad { .. } => "avg_pool2d_grad",
            Op::Custom { f, .. } => f.name(),
            Op::MaxPool2d { .. } => "max_pool2d",
            Op::BatchNorm { .. } => "batch_norm",
            Op::AvgPool2d { .. } => "avg_pool2d",
            Op::IndexSelect { .. } => "index_select",
            Op::Gather { .. } => "gather",
            Op::ScatterAdd { .. } => "scatter_add",
            Op::Cat { .. } => "cat",
        };
        f.write_str(name)
    }
}

/// Runs `f` with gradient recording off on this thread.
pub(crate) fn no_grad_scope<T>(f: impl FnOnce() -> T) -> T {
    let _guard = no_grad();
    f()
}
