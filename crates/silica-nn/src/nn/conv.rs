//! The 2-D convolution layer [`Conv2d`].

use super::init;
use super::module::{Module, Slot};
use silica_core::{Conv2dConfig, Error, Generator, Result, Tensor};

/// 2-D convolution, as `torch.nn.Conv2d` (zero padding): input `[n, in, h, w]` (or unbatched
/// `[in, h, w]`), output `[n, out, h_out, w_out]`, with weight `[out, in / groups, kh, kw]`
/// and bias `[out]`.
///
/// Stride, padding, dilation and groups come from a [`Conv2dConfig`]. Weight and bias are
/// initialised as PyTorch does, from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
/// `fan_in = in / groups * kh * kw`.
///
/// # Examples
///
/// ```
/// use silica_core::{Conv2dConfig, DType, Device, Generator, Tensor};
/// use silica_nn::nn::{Conv2d, Module};
/// # fn main() -> silica_core::Result<()> {
/// let cfg = Conv2dConfig::default().with_stride(2).with_padding(1);
/// let conv = Conv2d::new(3, 16, [3, 3], cfg, true, &Generator::new(0))?;
/// let x = Tensor::ones([8, 3, 32, 32], DType::F32, Device::Cpu)?;
/// assert_eq!(conv.forward(&x)?.dims(), &[8, 16, 16, 16]);
/// assert_eq!(conv.weight().dims(), &[16, 3, 3, 3]);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Conv2d {
    weight: Tensor,
    bias: Option<Tensor>,
    config: Conv2dConfig,
}

impl Conv2d {
    /// A convolution from `in_channels` to `out_channels` with a `kernel` of `[kh, kw]`, with a
    /// bias if `bias`, in F32 on the CPU. Both channel counts must be divisible by
    /// `config.groups`.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        config: Conv2dConfig,
        bias: bool,
        generator: &Generator,
    ) -> Result<Conv2d> {
        let groups = config.groups;
        if groups == 0 || in_channels % groups != 0 || out_channels % groups != 0 {
            return Err(Error::invalid(
                "Conv2d",
                format!(
                    "in_channels {in_channels} and out_channels {out_channels} must both be divisible by groups {groups}"
                ),
            ));
        }
        if kernel.contains(&0) {
            return Err(Error::invalid(
                "Conv2d",
                format!("kernel {kernel:?} must be positive"),
            ));
        }
        let shape = [out_channels, in_channels / groups, kernel[0], kernel[1]];
        let (weight, bias) = init::default_weight_and_bias(&shape, bias, generator)?;
        Ok(Conv2d {
            weight,
            bias,
            config,
        })
    }

    /// The weight, `[out, in / groups, kh, kw]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias, `[out]`, if the layer has one.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// Stride, padding, dilation and groups.
    pub fn config(&self) -> &Conv2dConfig {
        &self.config
    }

    /// The number of input channels.
    pub fn in_channels(&self) -> usize {
        self.weight.dims()[1] * self.config.groups
    }

    /// The number of output channels.
    pub fn out_channels(&self) -> usize {
        self.weight.dims()[0]
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let expected = self.in_channels();
        let channels = match x.rank() {
            3 => x.dims()[0],
            4 => x.dims()[1],
            r => {
                return Err(Error::shape(
                    "Conv2d",
                    &[x.shape()],
                    format!(
                        "input {} has rank {r}, expected [n, c, h, w] or [c, h, w]",
                        x.shape()
                    ),
                ))
            }
        };
        if channels != expected {
            return Err(Error::shape(
                "Conv2d",
                &[x.shape()],
                format!(
                    "input {} has {channels} channels, expected {expected}",
                    x.shape()
                ),
            ));
        }
        x.conv2d(&self.weight, self.bias.as_ref(), &self.config)
    }

    fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
        f(Slot::Param("weight", &self.weight));
        if let Some(b) = &self.bias {
            f(Slot::Param("bias", b));
        }
    }
}
