//! Pooling and flattening, the layers between the convolutional and the dense part of a
//! network: [`MaxPool2d`], [`AvgPool2d`], [`AdaptiveAvgPool2d`] and [`Flatten`].
//!
//! The pooling layers take `[n, c, h, w]` or unbatched `[c, h, w]`, as PyTorch's do.

use super::module::{Module, Slot};
use silica_core::{Error, Pool2dConfig, Result, Tensor};

/// Runs `f` on `x` as a batch: `[n, c, h, w]` directly, `[c, h, w]` as a batch of one.
fn batched(
    name: &'static str,
    x: &Tensor,
    f: impl Fn(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    match x.rank() {
        4 => f(x),
        3 => f(&x.unsqueeze(0)?)?.squeeze(0),
        r => Err(Error::shape(
            name,
            &[x.shape()],
            format!(
                "input {} has rank {r}, expected [n, c, h, w] or [c, h, w]",
                x.shape()
            ),
        )),
    }
}

/// 2-D max pooling, as `torch.nn.MaxPool2d`: `[n, c, h, w]` to `[n, c, h_out, w_out]`, with
/// window, stride (by default the window), padding and `ceil_mode` from a [`Pool2dConfig`].
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Pool2dConfig, Tensor};
/// use silica_nn::nn::{MaxPool2d, Module};
/// # fn main() -> silica_core::Result<()> {
/// let pool = MaxPool2d::new(Pool2dConfig::new(2));
/// let x = Tensor::arange(0.0, 16.0, 1.0, DType::F32, Device::Cpu)?.reshape([1, 1, 4, 4])?;
/// assert_eq!(pool.forward(&x)?.to_vec::<f32>()?, vec![5.0, 7.0, 13.0, 15.0]);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool2d {
    /// Window, stride, padding and `ceil_mode` (`count_include_pad` is unused).
    pub config: Pool2dConfig,
}

impl MaxPool2d {
    /// Max pooling with `config`.
    pub fn new(config: Pool2dConfig) -> MaxPool2d {
        MaxPool2d { config }
    }
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        batched("MaxPool2d", x, |x| x.max_pool2d(&self.config))
    }

    fn visit(&self, _f: &mut dyn FnMut(Slot<'_>)) {}
}

/// 2-D average pooling, as `torch.nn.AvgPool2d`: `[n, c, h, w]` to `[n, c, h_out, w_out]`,
/// with window, stride, padding, `ceil_mode` and `count_include_pad` from a [`Pool2dConfig`].
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Pool2dConfig, Tensor};
/// use silica_nn::nn::{AvgPool2d, Module};
/// # fn main() -> silica_core::Result<()> {
/// let pool = AvgPool2d::new(Pool2dConfig::new(2));
/// let x = Tensor::arange(0.0, 16.0, 1.0, DType::F32, Device::Cpu)?.reshape([1, 1, 4, 4])?;
/// assert_eq!(pool.forward(&x)?.to_vec::<f32>()?, vec![2.5, 4.5, 10.5, 12.5]);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPool2d {
    /// Window, stride, padding, `ceil_mode` and `count_include_pad`.
    pub config: Pool2dConfig,
}

impl AvgPool2d {
    /// Average pooling with `config`.
    pub fn new(config: Pool2dConfig) -> AvgPool2d {
        AvgPool2d { config }
    }
}

impl Module for AvgPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        batched("AvgPool2d", x, |x| x.avg_pool2d(&self.config))
    }

    fn visit(&self, _f: &mut dyn FnMut(Slot<'_>)) {}
}

/// Average pooling to a fixed output size, as `torch.nn.AdaptiveAvgPool2d`: `[n, c, h, w]`
/// to `[n, c, out_h, out_w]`, with PyTorch's choice of (possibly overlapping) windows.
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Tensor};
/// use silica_nn::nn::{AdaptiveAvgPool2d, Module};
/// # fn main() -> silica_core::Result<()> {
/// let gap = AdaptiveAvgPool2d::new(1, 1);
/// let x = Tensor::ones([8, 512, 7, 7], DType::F32, Device::Cpu)?;
/// assert_eq!(gap.forward(&x)?.dims(), &[8, 512, 1, 1]);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdaptiveAvgPool2d {
    /// The output size `[out_h, out_w]`.
    pub output_size: [usize; 2],
}

impl AdaptiveAvgPool2d {
    /// Pooling to `out_h x out_w`.
    pub fn new(out_h: usize, out_w: usize) -> AdaptiveAvgPool2d {
        AdaptiveAvgPool2d {
            output_size: [out_h, out_w],
        }
    }
}

impl Module for AdaptiveAvgPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let [h, w] = self.output_size;
        batched("AdaptiveAvgPool2d", x, |x| x.adaptive_avg_pool2d(h, w))
    }

    fn visit(&self, _f: &mut dyn FnMut(Slot<'_>)) {}
}

/// Merges dims `start_dim..=end_dim` into one, as `torch.nn.Flatten`; the default
/// (`start_dim` 1, `end_dim` -1) turns `[n, c, h, w]` into `[n, c * h * w]`. Negative dims
/// count from the end.
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Tensor};
/// use silica_nn::nn::{Flatten, Module};
/// # fn main() -> silica_core::Result<()> {
/// let x = Tensor::zeros([8, 3, 4, 5], DType::F32, Device::Cpu)?;
/// assert_eq!(Flatten::new().forward(&x)?.dims(), &[8, 60]);
/// assert_eq!(Flatten::with_dims(0, 1).forward(&x)?.dims(), &[24, 4, 5]);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flatten {
    /// The first merged dim.
    pub start_dim: isize,
    /// The last merged dim (inclusive).
    pub end_dim: isize,
}

impl Flatten {
    /// Flattens every dim but the first (`start_dim` 1, `end_dim` -1).
    pub fn new() -> Flatten {
        Flatten::with_dims(1, -1)
    }

    /// Flattens dims `start_dim..=end_dim`.
    pub fn with_dims(start_dim: isize, end_dim: isize) -> Flatten {
        Flatten { start_dim, end_dim }
    }
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten::new()
    }
}

impl Module for Flatten {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.flatten(self.start_dim, self.end_dim)
    }

    fn visit(&self, _f: &mut dyn FnMut(Slot<'_>)) {}
}
