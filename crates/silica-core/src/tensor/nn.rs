//! Neural-network primitives: softmax, convolution, pooling, padding, dropout.

use super::fused::fused_or;
use super::{Held, Tensor};
use crate::autograd::{no_grad_scope, record, Op};
use crate::backend::{Conv2dParams, Pool2dParams};
use crate::rng::Generator;
use crate::{DType, Dim, Error, Result, Shape};

/// Hyper-parameters of [`Tensor::conv2d`], as `(height, width)` pairs.
///
/// # Examples
///
/// ```
/// use silica_core::Conv2dConfig;
/// let c = Conv2dConfig::default().with_stride(2).with_padding(1);
/// assert_eq!((c.stride, c.padding, c.dilation, c.groups), ([2, 2], [1, 1], [1, 1], 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dConfig {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Default for Conv2dConfig {
    fn default() -> Self {
        Conv2dConfig {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl Conv2dConfig {
    /// The same stride in both dims.
    pub fn with_stride(mut self, s: usize) -> Self {
        self.stride = [s, s];
        self
    }
    /// The same zero padding in both dims.
    pub fn with_padding(mut self, p: usize) -> Self {
        self.padding = [p, p];
        self
    }
    /// The same dilation in both dims.
    pub fn with_dilation(mut self, d: usize) -> Self {
        self.dilation = [d, d];
        self
    }
    /// The number of groups.
    pub fn with_groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
}

/// Hyper-parameters of [`Tensor::max_pool2d`] and [`Tensor::avg_pool2d`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dConfig {
    /// Window size.
    pub kernel: [usize; 2],
    /// Step between windows; PyTorch's default is the window size.
    pub stride: [usize; 2],
    /// Implicit padding on each side (at most half the window).
    pub padding: [usize; 2],
    /// Use `ceil` for the output size.
    pub ceil_mode: bool,
    /// Average pooling: count padded elements in the divisor (PyTorch's default, true).
    pub count_include_pad: bool,
}

impl Pool2dConfig {
    /// A square `k x k` window with stride `k` and no padding.
    pub fn new(k: usize) -> Self {
        Pool2dConfig {
            kernel: [k, k],
            stride: [k, k],
            padding: [0, 0],
            ceil_mode: false,
            count_include_pad: true,
        }
    }
    /// The same stride in both dims.
    pub fn with_stride(mut self, s: usize) -> Self {
        self.stride = [s, s];
        self
    }
    /// The same padding in both dims.
    pub fn with_padding(mut self, p: usize) -> Self {
        self.padding = [p, p];
        self
    }
}

/// How [`Tensor::pad`] fills the border.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PadMode {
    /// A constant value.
    Constant(f64),
    /// Mirror without repeating the edge (`[1, 2, 3]` → `3 2 | 1 2 3 | 2 1`).
    Reflect,
    /// Repeat the edge element.
    Replicate,
    /// Wrap around.
    Circular,
}

impl Tensor {
    fn softmax_impl(&self, dim: impl Dim, log: bool) -> Result<Tensor> {
        let name = if log { "log_softmax" } else { "softmax" };
        if !self.dtype().is_float() {
            return Err(Error::dtype(name, self.dtype(), "a float dtype"));
        }
        let Some(d) = self.shape().dim_or_scalar(name, dim)? else {
            return self.unsqueeze(0)?.softmax_impl(0, log)?.squeeze(0);
        };
        let fused = self
            .backend()
            .softmax(self.hold().view(), d, log)
            .map(|buf| Tensor::from_buffer(self.backend(), buf, self.shape().clone(), None));
        let out = fused_or(fused, || {
            no_grad_scope(|| {
                let shifted = self.sub(&self.max(d, true)?)?;
                if log {
                    shifted.sub(&shifted.exp()?.sum(d, true)?.log()?)
                } else {
                    let e = shifted.exp()?;
                    e.div(&e.sum(d, true)?)
                }
            })
        })?;
        match record(&[self], || Op::Softmax {
            x: self.clone(),
            dim: d,
            log,
            out: out.detach(),
        }) {
            Some(op) => Ok(out.with_layout(out.layout().clone(), Some(op))),
            None => Ok(out),
        }
    }

    /// `exp(x) / sum(exp(x))` along `dim`.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, Device};
    /// let x = Tensor::from_slice(&[1.0f64, 1.0], [2], Device::Cpu).unwrap();
    /// assert_eq!(x.softmax(0).unwrap().to_vec::<f64>().unwrap(), vec![0.5, 0.5]);
    /// ```
    pub fn softmax(&self, dim: impl Dim) -> Result<Tensor> {
        self.softmax_impl(dim, false)
    }

    /// `x - log(sum(exp(x)))` along `dim`, computed stably.
    pub fn log_softmax(&self, dim: impl Dim) -> Result<Tensor> {
        self.softmax_impl(dim, true)
    }

    /// 2-D convolution of `[n, c_in, h, w]` (or unbatched `[c_in, h, w]`) with `weight`
    /// `[c_out, c_in / groups, kh, kw]` and an optional `bias` `[c_out]`, as
    /// `torch.nn.functional.conv2d`.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, DType, Device, Conv2dConfig};
    /// let x = Tensor::ones([8, 3, 32, 32], DType::F32, Device::Cpu).unwrap();
    /// let w = Tensor::ones([16, 3, 3, 3], DType::F32, Device::Cpu).unwrap();
    /// let y = x.conv2d(&w, None, &Conv2dConfig::default().with_padding(1)).unwrap();
    /// assert_eq!(y.dims(), &[8, 16, 32, 32]);
    /// let bad = Tensor::ones([16, 4, 3, 3], DType::F32, Device::Cpu).unwrap();
    /// assert_eq!(
    ///     x.conv2d(&bad, None, &Conv2dConfig::default()).unwrap_err().to_string(),
    ///     "conv2d: input [8, 3, 32, 32] has 3 channels, weight [16, 4, 3, 3] expects 4"
    /// );
    /// ```
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        cfg: &Conv2dConfig,
    ) -> Result<Tensor> {
        if self.rank() == 3 {
            return self.unsqueeze(0)?.conv2d(weight, bias, cfg)?.squeeze(0);
        }
        self.same_device("conv2d", &[weight])?;
        let (xs, ws) = (self.shape(), weight.shape());
        if self.rank() != 4 || weight.rank() != 4 {
            return Err(Error::shape(
                "conv2d",
                &[xs, ws],
                format!("expected input [n, c, h, w] and weight [c_out, c_in/groups, kh, kw], got {xs} and {ws}"),
            ));
        }
        if !self.dtype().is_float() || self.dtype() != weight.dtype() {
            return Err(Error::invalid(
                "conv2d",
                format!(
                    "input and weight need one float dtype, got {} and {}",
                    self.dtype(),
                    weight.dtype()
                ),
            ));
        }
        let (x, w) = (self.dims(), weight.dims());
        let groups = cfg.groups;
        if groups == 0 || cfg.stride.contains(&0) || cfg.dilation.contains(&0) {
            return Err(Error::invalid(
                "conv2d",
                format!("stride, dilation and groups must be positive, got {cfg:?}"),
            ));
        }
        if x[1] != w[1] * groups {
            return Err(Error::shape(
                "conv2d",
                &[xs, ws],
                format!(
                    "input {xs} has {} channels, weight {ws} expects {}",
                    x[1],
                    w[1] * groups
                ),
            ));
        }
        if w[0] % groups != 0 {
            return Err(Error::shape(
                "conv2d",
                &[ws],
                format!(
                    "weight {ws} has {} output channels, not divisible by groups {groups}",
                    w[0]
                ),
            ));
        }
        if (x[2] == 0 || x[3] == 0) && x[0] * x[1] > 0 {
            // PyTorch refuses an empty image too, even when padding would give it an output.
            return Err(Error::shape(
                "conv2d",
                &[xs, ws],
                format!("input {xs} has an empty image; only a zero batch or zero channels may be empty"),
            ));
        }
        let params = Conv2dParams {
            batch: x[0],
            in_channels: x[1],
            out_channels: w[0],
            in_h: x[2],
            in_w: x[3],
            kernel_h: w[2],
            kernel_w: w[3],
            stride: (cfg.stride[0], cfg.stride[1]),
            padding: (cfg.padding[0], cfg.padding[1]),
            dilation: (cfg.dilation[0], cfg.dilation[1]),
            groups,
        };
        let (oh, ow) = (params.out_h(), params.out_w());
        if oh == 0 || ow == 0 {
            return Err(Error::shape(
                "conv2d",
                &[xs, ws],
                format!(
                    "input {xs} (padded by {:?}) is smaller than the dilated kernel of weight {ws}",
                    cfg.padding
                ),
            ));
        }
        if let Some(b) = bias {
            self.same_device("conv2d", &[b])?;
            if b.dims() != [w[0]] || b.dtype() != weight.dtype() {
                return Err(Error::shape(
                    "conv2d",
                    &[b.shape(), ws],
                    format!(
                        "bias {} ({}) must have shape [{}] and dtype {} for weight {ws}",
                        b.shape(),
                        b.dtype(),
                        w[0],
                        weight.dtype()
                    ),
                ));
            }
        }
        let bias_held = bias.map(Tensor::hold);
        let buf = self.backend().conv2d(
            self.hold().view(),
            weight.hold().view(),
            bias_held.as_ref().map(Held::view),
            &params,
        )?;
        let inputs: Vec<&Tensor> = [self, weight].into_iter().chain(bias).collect();
        let op = record(&inputs, || Op::Conv2d {
            input: self.clone(),
            weight: weight.clone(),
            bias: bias.cloned(),
            params,
        });
        Ok(Tensor::from_buffer(
            self.backend(),
            buf,
            Shape::new(vec![x[0], w[0], oh, ow]),
            op,
        ))
    }

    fn pool_params(&self, name: &'static str, cfg: &Pool2dConfig) -> Result<Pool2dParams> {
        if self.rank() != 4 {
            return Err(Error::shape(
                name,
                &[self.shape()],
                format!("expected input [n, c, h, w], got {}", self.shape()),
            ));
        }
        if cfg.kernel.contains(&0) || cfg.stride.contains(&0) {
            return Err(Error::invalid(
                name,
                format!("kernel and stride must be positive, got {cfg:?}"),
            ));
        }
        if cfg.padding[0] * 2 > cfg.kernel[0] || cfg.padding[1] * 2 > cfg.kernel[1] {
            return Err(Error::invalid(
                name,
                format!(
                    "padding {:?} should be at most half of kernel {:?}",
                    cfg.padding, cfg.kernel
                ),
            ));
        }
        let d = self.dims();
        let p = Pool2dParams {
            batch: d[0],
            channels: d[1],
            in_h: d[2],
            in_w: d[3],
            kernel: (cfg.kernel[0], cfg.kernel[1]),
            stride: (cfg.stride[0], cfg.stride[1]),
            padding: (cfg.padding[0], cfg.padding[1]),
            ceil_mode: cfg.ceil_mode,
            count_include_pad: cfg.count_include_pad,
        };
        if p.out_h() == 0 || p.out_w() == 0 {
            return Err(Error::shape(
                name,
                &[self.shape()],
                format!(
                    "input {} is smaller than the window {:?}",
                    self.shape(),
                    cfg.kernel
                ),
            ));
        }
        Ok(p)
    }

    /// 2-D max pooling of `[n, c, h, w]` to `[n, c, out_h, out_w]`.
    pub fn max_pool2d(&self, cfg: &Pool2dConfig) -> Result<Tensor> {
        let p = self.pool_params("max_pool2d", cfg)?;
        let (vals, idx) = self.backend().max_pool2d(self.hold().view(), &p)?;
        let shape = Shape::new(vec![p.batch, p.channels, p.out_h(), p.out_w()]);
        let indices = Tensor::from_buffer(self.backend(), idx, shape.clone(), None);
        let op = record(&[self], || Op::MaxPool2d {
            x: self.clone(),
            indices,
        });
        Ok(Tensor::from_buffer(self.backend(), vals, shape, op))
    }

    /// 2-D average pooling of `[n, c, h, w]` to `[n, c, out_h, out_w]`.
    pub fn avg_pool2d(&self, cfg: &Pool2dConfig) -> Result<Tensor> {
        let p = self.pool_params("avg_pool2d", cfg)?;
        let buf = self.backend().avg_pool2d(self.hold().view(), &p)?;
        let shape = Shape::new(vec![p.batch, p.channels, p.out_h(), p.out_w()]);
        let op = record(&[self], || Op::AvgPool2d {
            x: self.clone(),
            params: p,
        });
        Ok(Tensor::from_buffer(self.backend(), buf, shape, op))
    }

    /// Average pooling of `[n, c, h, w]` to `[n, c, out_h, out_w]` with windows chosen as
    /// `torch.nn.functional.adaptive_avg_pool2d` chooses them.
    pub fn adaptive_avg_pool2d(&self, out_h: usize, out_w: usize) -> Result<Tensor> {
        if self.rank() != 4 || out_h == 0 || out_w == 0 {
            return Err(Error::shape(
                "adaptive_avg_pool2d",
                &[self.shape()],
                format!("expected input [n, c, h, w] and a positive output size, got {} and ({out_h}, {out_w})", self.shape()),
            ));
        }
        let (h, w) = (self.dims()[2], self.dims()[3]);
        if h % out_h == 0 && w % out_w == 0 {
            let cfg = Pool2dConfig {
                kernel: [h / out_h, w / out_w],
                stride: [h / out_h, w / out_w],
                ..Pool2dConfig::new(1)
            };
            return self.avg_pool2d(&cfg);
        }
        // Uneven windows: the mean of each window of rows, then of each window of columns
        // (separable, so out_h + out_w small reductions; a matrix product would turn an
        // infinite element into NaN through its zero weights).
        self.adaptive_mean(2, out_h)?.adaptive_mean(3, out_w)
    }

    /// The means over `out` windows of `dim`, window `i` covering
    /// `[floor(i·n/out), ceil((i+1)·n/out))` as PyTorch's adaptive pooling.
    fn adaptive_mean(&self, dim: usize, out: usize) -> Result<Tensor> {
        let n = self.dims()[dim];
        if n == out {
            return Ok(self.clone());
        }
        let windows = (0..out)
            .map(|i| {
                let (s, e) = (i * n / out, ((i + 1) * n).div_ceil(out));
                self.narrow(dim, s, e - s)?.mean(dim, true)
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&windows.iter().collect::<Vec<_>>(), dim)
    }

    /// Pads the last dims, as `torch.nn.functional.pad`: `pads` lists (before, after) pairs
    /// starting from the last dim, e.g. `[left, right, top, bottom]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, Device, PadMode};
    /// let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0], [3], Device::Cpu).unwrap();
    /// let r = x.pad(&[2, 1], PadMode::Reflect).unwrap();
    /// assert_eq!(r.to_vec::<f32>().unwrap(), vec![3.0, 2.0, 1.0, 2.0, 3.0, 2.0]);
    /// ```
    pub fn pad(&self, pads: &[usize], mode: PadMode) -> Result<Tensor> {
        if pads.len() % 2 != 0 || pads.len() / 2 > self.rank() {
            return Err(Error::invalid(
                "pad",
                format!(
                    "expected (before, after) pairs for at most {} dims, got {pads:?}",
                    self.rank()
                ),
            ));
        }
        let mut region = vec![(0usize, 1usize); self.rank()];
        let mut dims = self.dims().to_vec();
        for (i, pair) in pads.chunks(2).enumerate() {
            let d = self.rank() - 1 - i;
            region[d].0 = pair[0];
            dims[d] += pair[0] + pair[1];
        }
        if let PadMode::Constant(v) = mode {
            return self.embed(&Shape::new(dims), &region, v);
        }
        let mut out = self.clone();
        for (i, pair) in pads.chunks(2).enumerate() {
            let d = self.rank() - 1 - i;
            let n = self.dims()[d] as isize;
            let (before, after) = (pair[0] as isize, pair[1] as isize);
            if mode == PadMode::Reflect && (before >= n || after >= n) {
                return Err(Error::invalid(
                    "pad",
                    format!("reflect padding {pair:?} must be smaller than dim {d} of size {n} (shape {})", self.shape()),
                ));
            }
            if n == 0 || (mode == PadMode::Circular && (before > n || after > n)) {
                return Err(Error::invalid(
                    "pad",
                    format!("padding {pair:?} does not fit dim {d} of size {n}"),
                ));
            }
            let idx: Vec<i64> = (-before..n + after)
                .map(|j| match mode {
                    PadMode::Reflect => {
                        if j < 0 {
                            -j
                        } else if j >= n {
                            2 * (n - 1) - j
                        } else {
                            j
                        }
                    }
                    PadMode::Replicate => j.clamp(0, n - 1),
                    _ => j.rem_euclid(n),
                } as i64)
                .collect();
            let len = idx.len();
            out = out.index_select(d, &Tensor::from_vec(idx, [len], self.device())?)?;
        }
        Ok(out)
    }

    /// Zeroes each element with probability `p` and scales the rest by `1 / (1 - p)`, drawing
    /// the mask from `generator` (inverted dropout, as in training mode of PyTorch).
    pub fn dropout(&self, p: f64, generator: &Generator) -> Result<Tensor> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::invalid(
                "dropout",
                format!("probability {p} is outside [0, 1]"),
            ));
        }
        if p == 0.0 {
            return Ok(self.clone());
        }
        if p == 1.0 {
            return self.mul_scalar(0.0);
        }
        let keep = generator
            .rand(self.shape(), DType::F32, self.device())?
            .ge_scalar(p)?;
        keep.where_cond(&self.mul_scalar(1.0 / (1.0 - p))?, &self.zeros_like()?)
    }
}

impl Tensor {
    /// Batch normalisation with this batch's statistics over every dim but 1 of `[n, c, ..]`
    /// (training-mode `torch.nn.functional.batch_norm`): returns
    /// `y = (x - mean) / sqrt(var + eps) * weight + bias` and the per-channel `mean` and biased
    /// `var` (`[c]`, detached, for the running statistics). `weight` and `bias` are `[c]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, Device};
    /// let x = Tensor::from_slice(&[1.0f32, 3.0, 10.0, 30.0], [2, 2], Device::Cpu).unwrap();
    /// let (y, mean, var) = x.batch_norm_train(None, None, 0.0).unwrap();
    /// assert_eq!(mean.to_vec::<f32>().unwrap(), vec![5.5, 16.5]);
    /// assert_eq!(var.to_vec::<f32>().unwrap(), vec![20.25, 182.25]);
    /// assert_eq!(y.to_vec::<f32>().unwrap(), vec![-1.0, -1.0, 1.0, 1.0]);
    /// ```
    pub fn batch_norm_train(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f64,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        const OP: &str = "batch_norm";
        if self.rank() < 2 || !self.dtype().is_float() {
            return Err(Error::shape(
                OP,
                &[self.shape()],
                format!(
                    "expected a float input [n, c, ..], got {} {}",
                    self.shape(),
                    self.dtype()
                ),
            ));
        }
        let c = self.dims()[1];
        if self.elem_count() == c && c > 0 {
            // One value per channel has no spread to normalise by (PyTorch raises too).
            return Err(Error::shape(
                OP,
                &[self.shape()],
                format!(
                    "expected more than 1 value per channel when training, got input {}",
                    self.shape()
                ),
            ));
        }
        for t in [weight, bias].into_iter().flatten() {
            self.same_device(OP, &[t])?;
            if t.dims() != [c] || t.dtype() != self.dtype() {
                return Err(Error::shape(
                    OP,
                    &[self.shape(), t.shape()],
                    format!(
                        "weight and bias must be [{c}] {} for input {}, got {} {}",
                        self.dtype(),
                        self.shape(),
                        t.shape(),
                        t.dtype()
                    ),
                ));
            }
        }
        let backend = self.backend();
        let (weight_held, bias_held) = (weight.map(Tensor::hold), bias.map(Tensor::hold));
        let fused = backend.batch_norm(
            self.hold().view(),
            weight_held.as_ref().map(Held::view),
            bias_held.as_ref().map(Held::view),
            eps,
        );
        let fused = fused.map(|[y, m, v]| {
            (
                Tensor::from_buffer(backend.clone(), y, self.shape().clone(), None),
                Tensor::from_buffer(backend.clone(), m, Shape::new(vec![c]), None),
                Tensor::from_buffer(backend.clone(), v, Shape::new(vec![c]), None),
            )
        });
        let (y, mean, var) = fused_or(fused, || {
            no_grad_scope(|| {
                let (mean, var) = channel_stats(self)?;
                let y = normalise(self, &mean, &var, weight, bias, eps)?;
                Ok((y, mean.reshape([c])?, var.reshape([c])?))
            })
        })?;
        let inputs: Vec<&Tensor> = std::iter::once(self).chain(weight).chain(bias).collect();
        let op = record(&inputs, || Op::BatchNorm {
            x: self.clone(),
            weight: weight.cloned(),
            bias: bias.cloned(),
            mean: mean.clone(),
            var: var.clone(),
            eps,
        });
        let y = match op {
            Some(op) => y.with_layout(y.layout().clone(), Some(op)),
            None => y,
        };
        Ok((y, mean, var))
    }
}

/// `[1, c, 1, ..]`: the shape that broadcasts a per-channel tensor over `x`.
fn channel_shape(x: &Tensor) -> Vec<usize> {
    let mut shape = vec![1; x.rank()];
    shape[1] = x.dims()[1];
    shape
}

/// The per-channel mean and biased variance of `x`, keepdim.
fn channel_stats(x: &Tensor) -> Result<(Tensor, Tensor)> {
    let dims: Vec<usize> = (0..x.rank()).filter(|&d| d != 1).collect();
    let mean = x.mean(dims.clone(), true)?;
    let var = x.sub(&mean)?.square()?.mean(dims, true)?;
    Ok((mean, var))
}

/// `(x - mean) / sqrt(var + eps) * weight + bias`, with keepdim statistics.
fn normalise(
    x: &Tensor,
    mean: &Tensor,
    var: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Result<Tensor> {
    let shape = channel_shape(x);
    let mut y = x.sub(mean)?.mul(&var.add_scalar(eps)?.rsqrt()?)?;
    if let Some(w) = weight {
        y = y.mul(&w.reshape(shape.clone())?)?;
    }
    if let Some(b) = bias {
        y = y.add(&b.reshape(shape)?)?;
    }
    Ok(y)
}

/// The gradients of [`Tensor::batch_norm_train`] with respect to `x`, `weight` and `bias`,
/// given the output gradient `g` and the forward pass's `[c]` mean and biased variance.
pub(crate) fn batch_norm_grads(
    g: &Tensor,
    x: &Tensor,
    mean: &Tensor,
    var: &Tensor,
    weight: Option<&Tensor>,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    let backend = x.backend();
    let c = Shape::new(vec![x.dims()[1]]);
    let weight_held = weight.map(Tensor::hold);
    let fused = backend.batch_norm_backward(
        g.hold().view(),
        x.hold().view(),
        mean.hold().view(),
        var.hold().view(),
        weight_held.as_ref().map(Held::view),
        eps,
    );
    let fused = fused.map(|[dx, dw, db]| {
        (
            Tensor::from_buffer(backend.clone(), dx, x.shape().clone(), None),
            Tensor::from_buffer(backend.clone(), dw, c.clone(), None),
            Tensor::from_buffer(backend.clone(), db, c.clone(), None),
        )
    });
    fused_or(fused, || {
        // dx = weight * invstd / m * (m g - sum(g) - xhat * sum(g xhat)).
        let shape = channel_shape(x);
        let dims: Vec<usize> = (0..x.rank()).filter(|&d| d != 1).collect();
        let m = (x.elem_count() / x.dims()[1].max(1)) as f64;
        let invstd = var.add_scalar(eps)?.rsqrt()?.reshape(shape.clone())?;
        let xhat = x.sub(&mean.reshape(shape.clone())?)?.mul(&invstd)?;
        let db = g.sum(dims.clone(), true)?;
        let dw = g.mul(&xhat)?.sum(dims, true)?;
        let scale = match weight {
            Some(w) => w.reshape(shape)?.mul(&invstd)?,
            None => invstd,
        };
        let dx = g
            .mul_scalar(m)?
            .sub(&db)?
            .sub(&xhat.mul(&dw)?)?
            .mul(&scale.div_scalar(m)?)?;
        Ok((dx, dw.reshape(c.clone())?, db.reshape(c.clone())?))
    })
}

/// The gradients of a convolution's input and weight, given the output gradient `g`; each only
/// when asked for (`want_input`, `want_weight` are the tensors whose gradient is wanted).
pub(crate) fn conv2d_grads(
    want_input: Option<&Tensor>,
    want_weight: Option<&Tensor>,
    (input, weight): (&Tensor, &Tensor),
    g: &Tensor,
    p: &Conv2dParams,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    let backend = input.backend();
    let gi = match want_input {
        Some(x) => {
            let buf = backend.conv2d_backward_input(g.hold().view(), weight.hold().view(), p)?;
            Some(Tensor::from_buffer(
                backend.clone(),
                buf,
                x.shape().clone(),
                None,
            ))
        }
        None => None,
    };
    let gw = match want_weight {
        Some(w) => {
            let buf = backend.conv2d_backward_weight(input.hold().view(), g.hold().view(), p)?;
            Some(Tensor::from_buffer(backend, buf, w.shape().clone(), None))
        }
        None => None,
    };
    Ok((gi, gw))
}

/// The input gradient of an average pooling, given the output gradient `g`.
pub(crate) fn avg_pool2d_grad(g: &Tensor, p: &Pool2dParams) -> Result<Tensor> {
    let buf = g.backend().avg_pool2d_backward(g.hold().view(), p)?;
    let shape = Shape::new(vec![p.batch, p.channels, p.in_h, p.in_w]);
    Ok(Tensor::from_buffer(g.backend(), buf, shape, None))
}
