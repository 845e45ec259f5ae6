//! 2-D convolution: [`Conv2dConfig`] and [`Tensor::conv2d`]. Its gradients, which are
//! convolutions again, live in `autograd/conv.rs`.

use super::{Held, Tensor};
use crate::autograd::{record, Op};
use crate::backend::Conv2dParams;
use crate::{Error, Result, Shape};

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
    /// `[height, width]` step between kernel applications; positive. Default `[1, 1]`.
    pub stride: [usize; 2],
    /// `[height, width]` zero padding added on each side of the input (top and bottom, left
    /// and right). Default `[0, 0]`.
    pub padding: [usize; 2],
    /// `[height, width]` spacing between kernel elements; positive. Default `[1, 1]`.
    pub dilation: [usize; 2],
    /// Number of channel groups: input and output channels are split into `groups` blocks
    /// convolved independently, so both must be multiples of it. Default 1.
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

impl Tensor {
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
        self.conv2d_with(weight, bias, &params)
    }

    /// The convolution of checked operands with `params` (also the gradient of a convolution's
    /// input gradient), recorded for autograd.
    pub(crate) fn conv2d_with(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        params: &Conv2dParams,
    ) -> Result<Tensor> {
        let bias_held = bias.map(Tensor::hold);
        let buf = self.backend().conv2d(
            self.hold().view(),
            weight.hold().view(),
            bias_held.as_ref().map(Held::view),
            params,
        )?;
        let inputs: Vec<&Tensor> = [self, weight].into_iter().chain(bias).collect();
        let op = record(&inputs, || Op::Conv2d {
            input: self.clone(),
            weight: weight.clone(),
            bias: bias.cloned(),
            params: *params,
        });
        let shape = Shape::new(vec![
            params.batch,
            params.out_channels,
            params.out_h(),
            params.out_w(),
        ]);
        Ok(Tensor::from_buffer(self.backend(), buf, &shape, op))
    }
}
