//! Parameter initialisation, following `torch.nn.init`.
//!
//! Every function writes into an existing tensor in place (with [`Tensor::assign`] under
//! [`no_grad`], so parameters that require grad can be initialised), and draws its values from
//! an explicit [`Generator`], so that the same seed gives the same weights. The scaled
//! initialisers (`xavier_*`, `kaiming_*`) read the fans from the tensor's shape, as
//! [`calculate_fan_in_and_fan_out`] computes them, and the gain from [`calculate_gain`].
//!
//! # Examples
//!
//! ```
//! use silica_core::{DType, Device, Generator, Tensor};
//! use silica_nn::nn::init::{self, FanMode, Nonlinearity};
//! # fn main() -> silica_core::Result<()> {
//! let w = Tensor::zeros([64, 100], DType::F32, Device::Cpu)?;
//! init::kaiming_uniform_(&w, FanMode::FanIn, Nonlinearity::Relu, &Generator::new(0))?;
//! let bound = 2f64.sqrt() * (3.0 / 100.0f64).sqrt();
//! assert!(w.abs()?.max_all()?.to_scalar()? <= bound);
//! # Ok(()) }
//! ```

use silica_core::{no_grad, Error, Generator, Result, Tensor};

/// The nonlinearity that follows a layer, which sets the gain of [`calculate_gain`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nonlinearity {
    /// No nonlinearity (gain 1).
    Linear,
    /// A convolution with no nonlinearity (gain 1).
    Conv,
    /// Sigmoid (gain 1).
    Sigmoid,
    /// Tanh (gain 5/3).
    Tanh,
    /// ReLU (gain sqrt(2)).
    Relu,
    /// Leaky ReLU with this negative slope (gain sqrt(2 / (1 + slope²))). PyTorch's
    /// `kaiming_*_(t, a)` is `LeakyRelu(a)`; its default `a = 0` gives ReLU's gain.
    LeakyRelu(f64),
    /// SELU (gain 3/4).
    Selu,
}

/// The recommended gain for `nonlinearity`, as `torch.nn.init.calculate_gain`.
///
/// # Examples
///
/// ```
/// use silica_nn::nn::init::{calculate_gain, Nonlinearity};
/// assert_eq!(calculate_gain(Nonlinearity::Tanh), 5.0 / 3.0);
/// assert_eq!(calculate_gain(Nonlinearity::LeakyRelu(0.0)), 2f64.sqrt());
/// ```
pub fn calculate_gain(nonlinearity: Nonlinearity) -> f64 {
    match nonlinearity {
        Nonlinearity::Linear | Nonlinearity::Conv | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => 2f64.sqrt(),
        Nonlinearity::LeakyRelu(slope) => (2.0 / (1.0 + slope * slope)).sqrt(),
        Nonlinearity::Selu => 0.75,
    }
}

/// Which fan a Kaiming initialiser preserves the variance of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FanMode {
    /// The forward pass (PyTorch's default, `mode='fan_in'`).
    #[default]
    FanIn,
    /// The backward pass (`mode='fan_out'`).
    FanOut,
}

/// The `(fan_in, fan_out)` of a weight of shape `[out, in, k...]`: `in * prod(k)` and
/// `out * prod(k)`, as `torch.nn.init._calculate_fan_in_and_fan_out`. The tensor needs at
/// least 2 dims.
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Tensor};
/// use silica_nn::nn::init::calculate_fan_in_and_fan_out;
/// let conv_weight = Tensor::zeros([16, 3, 5, 5], DType::F32, Device::Cpu).unwrap();
/// assert_eq!(calculate_fan_in_and_fan_out(&conv_weight).unwrap(), (75, 400));
/// ```
pub fn calculate_fan_in_and_fan_out(tensor: &Tensor) -> Result<(usize, usize)> {
    let d = tensor.dims();
    if d.len() < 2 {
        return Err(Error::shape(
            "init",
            &[tensor.shape()],
            format!(
                "fan in and fan out need a tensor with at least 2 dims, got shape {}",
                tensor.shape()
            ),
        ));
    }
    let receptive: usize = d[2..].iter().product();
    Ok((d[1] * receptive, d[0] * receptive))
}

/// Fails unless `tensor` has a float dtype (only those can be drawn into).
fn check_float(op: &'static str, tensor: &Tensor) -> Result<()> {
    if tensor.dtype().is_float() {
        Ok(())
    } else {
        Err(Error::dtype(op, tensor.dtype(), "a float dtype"))
    }
}

/// Writes `src` into `tensor` in place, outside autograd.
fn write(tensor: &Tensor, src: &Tensor) -> Result<()> {
    let _guard = no_grad();
    tensor.assign(src)
}

/// Fills `tensor` with samples of U(`low`, `high`), as `torch.nn.init.uniform_`.
pub fn uniform_(tensor: &Tensor, low: f64, high: f64, generator: &Generator) -> Result<()> {
    check_float("uniform_", tensor)?;
    let v = generator.uniform(tensor.shape(), low, high, tensor.dtype(), tensor.device())?;
    write(tensor, &v)
}

/// Fills `tensor` with samples of N(`mean`, `std²`), as `torch.nn.init.normal_`.
pub fn normal_(tensor: &Tensor, mean: f64, std: f64, generator: &Generator) -> Result<()> {
    check_float("normal_", tensor)?;
    let v = generator.normal(tensor.shape(), mean, std, tensor.dtype(), tensor.device())?;
    write(tensor, &v)
}

/// Fills `tensor` with `value`, as `torch.nn.init.constant_`.
pub fn constant_(tensor: &Tensor, value: f64) -> Result<()> {
    write(
        tensor,
        &Tensor::full((), value, tensor.dtype(), tensor.device())?,
    )
}

/// Fills `tensor` with zeros.
pub fn zeros_(tensor: &Tensor) -> Result<()> {
    constant_(tensor, 0.0)
}

/// Fills `tensor` with ones.
pub fn ones_(tensor: &Tensor) -> Result<()> {
    constant_(tensor, 1.0)
}

/// Fills `tensor` with U(-a, a), `a = gain * sqrt(6 / (fan_in + fan_out))` (Glorot & Bengio),
/// as `torch.nn.init.xavier_uniform_`.
pub fn xavier_uniform_(tensor: &Tensor, gain: f64, generator: &Generator) -> Result<()> {
    let (fan_in, fan_out) = calculate_fan_in_and_fan_out(tensor)?;
    let bound = gain * (6.0 / (fan_in + fan_out) as f64).sqrt();
    uniform_(tensor, -bound, bound, generator)
}

/// Fills `tensor` with N(0, std²), `std = gain * sqrt(2 / (fan_in + fan_out))`, as
/// `torch.nn.init.xavier_normal_`.
pub fn xavier_normal_(tensor: &Tensor, gain: f64, generator: &Generator) -> Result<()> {
    let (fan_in, fan_out) = calculate_fan_in_and_fan_out(tensor)?;
    let std = gain * (2.0 / (fan_in + fan_out) as f64).sqrt();
    normal_(tensor, 0.0, std, generator)
}

/// The standard deviation `gain / sqrt(fan)` of a Kaiming initialiser.
fn kaiming_std(tensor: &Tensor, mode: FanMode, nonlinearity: Nonlinearity) -> Result<f64> {
    let (fan_in, fan_out) = calculate_fan_in_and_fan_out(tensor)?;
    let fan = match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    };
    if fan == 0 {
        return Err(Error::shape(
            "init",
            &[tensor.shape()],
            format!(
                "Kaiming initialisation of a tensor of shape {} divides by a zero fan",
                tensor.shape()
            ),
        ));
    }
    Ok(calculate_gain(nonlinearity) / (fan as f64).sqrt())
}

/// Fills `tensor` with U(-b, b), `b = gain * sqrt(3 / fan)` (He et al.), as
/// `torch.nn.init.kaiming_uniform_` (a tensor with no elements is left as it is). PyTorch's `Linear` and `Conv2d` use
/// `kaiming_uniform_(w, FanIn, LeakyRelu(sqrt(5)))`, which gives `b = 1 / sqrt(fan_in)`.
pub fn kaiming_uniform_(
    tensor: &Tensor,
    mode: FanMode,
    nonlinearity: Nonlinearity,
    generator: &Generator,
) -> Result<()> {
    if tensor.elem_count() == 0 {
        return Ok(());
    }
    let bound = 3f64.sqrt() * kaiming_std(tensor, mode, nonlinearity)?;
    uniform_(tensor, -bound, bound, generator)
}

/// Fills `tensor` with N(0, std²), `std = gain / sqrt(fan)` (He et al.), as
/// `torch.nn.init.kaiming_normal_` (a tensor with no elements is left as it is).
pub fn kaiming_normal_(
    tensor: &Tensor,
    mode: FanMode,
    nonlinearity: Nonlinearity,
    generator: &Generator,
) -> Result<()> {
    if tensor.elem_count() == 0 {
        return Ok(());
    }
    let std = kaiming_std(tensor, mode, nonlinearity)?;
    normal_(tensor, 0.0, std, generator)
}

// ---- helpers the layers share ------------------------------------------------------------

/// A learnable parameter of `shape` on the build target (see [`super::build_on`]), filled
/// with U(-bound, bound).
pub(crate) fn uniform_param(shape: &[usize], bound: f64, generator: &Generator) -> Result<Tensor> {
    let (device, dtype) = super::build_target();
    let t = generator.uniform(shape, -bound, bound, dtype, device)?;
    t.set_requires_grad(true)?;
    Ok(t)
}

/// A learnable parameter of `shape` on the build target, filled with `value`.
pub(crate) fn full_param(shape: &[usize], value: f64) -> Result<Tensor> {
    let (device, dtype) = super::build_target();
    let t = Tensor::full(shape, value, dtype, device)?;
    t.set_requires_grad(true)?;
    Ok(t)
}

/// PyTorch's default initialisation of `Linear` and `Conv2d`: a weight of `shape`
/// (`[out, in, k...]`) and an optional bias `[out]`, both U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
/// drawn in that order.
pub(crate) fn default_weight_and_bias(
    shape: &[usize],
    bias: bool,
    generator: &Generator,
) -> Result<(Tensor, Option<Tensor>)> {
    let weight = full_param(shape, 0.0)?;
    // kaiming_uniform_(a = sqrt(5)): gain sqrt(1/3), bound gain * sqrt(3 / fan_in).
    kaiming_uniform_(
        &weight,
        FanMode::FanIn,
        Nonlinearity::LeakyRelu(5f64.sqrt()),
        generator,
    )?;
    let bias = if bias {
        let (fan_in, _) = calculate_fan_in_and_fan_out(&weight)?;
        let bound = if fan_in > 0 {
            1.0 / (fan_in as f64).sqrt()
        } else {
            0.0
        };
        Some(uniform_param(&shape[..1], bound, generator)?)
    } else {
        None
    };
    Ok((weight, bias))
}
