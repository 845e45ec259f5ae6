//! Activation functions as modules: [`ReLU`], [`GELU`], [`SiLU`], [`Tanh`], [`Sigmoid`],
//! [`LeakyReLU`] and [`Softmax`], so that they can sit in a [`super::Sequential`].
//!
//! Each one applies the tensor op of the same name; the output has the input's shape.

use super::module::{Module, Slot};
use silica_core::{Result, Tensor};

/// `max(x, 0)`, as `torch.nn.ReLU`.
///
/// # Examples
///
/// ```
/// use silica_core::{Device, Tensor};
/// use silica_nn::nn::{Module, ReLU};
/// let x = Tensor::from_slice(&[-1.0f32, 2.0], [2], Device::Cpu).unwrap();
/// assert_eq!(ReLU.forward(&x).unwrap().to_vec::<f32>().unwrap(), vec![0.0, 2.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReLU;

impl Module for ReLU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.relu()
    }
    fn visit(&self, _f: &mut dyn FnMut(Slot<'_>)) {}
}

/// How [`GELU`] computes the normal CDF.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GeluApproximation {
    /// Exactly, with `erf` (PyTorch's default, `approximate='none'`).
    #[default]
    None,
    /// With the tanh formula (`approximate='tanh'`).
    Tanh,
}

/// `x * Φ(x)`, as `torch.nn.GELU`; exact by default, or with the tanh approximation.
///
/// # Examples
///
/// ```
/// use silica_core::{Device, Tensor};
/// use silica_nn::nn::{Module, GELU};
/// let x = Tensor::from_slice(&[0.0f32, 10.0], [2], Device::Cpu).unwrap();
/// assert_eq!(GELU::new().forward(&x).unwrap().to_vec::<f32>().unwrap(), vec![0.0, 10.0]);
/// assert_eq!(GELU::tanh().forward(&x).unwrap().to_vec::<f32>().unwrap(), vec![0.0, 10.0]);
/// ```
// Named as PyTorch names it.
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GELU {
    /// Exact or tanh.
    pub approximation: GeluApproximation,
}

impl GELU {
    /// The exact GELU.
    pub fn new() -> GELU {
        GELU {
            approximation: GeluApproximation::None,
        }
    }

    /// The tanh approximation.
    pub fn tanh() -> GELU {
        GELU {
            approximation: GeluApproximation::Tanh,
        }
    }
}

impl Module for GELU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self.approximation {
            GeluApproximation::None => x.gelu(),
            GeluApproximation::Tanh => x.gelu_tanh(),
        }
    }
    fn visit(&self, _f: &mut dyn FnMut(Slot<'_>)) {}
}

/// `x * sigmoid(x)`, as `torch.nn.SiLU`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SiLU;

impl Module for SiLU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.silu()
    }
    fn visit(&self, _f: &mut dyn FnMut(Slot<'_>)) {}
}

/// The hyperbolic tangent, as `torch.nn.Tanh`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tanh;

impl Module for Tanh {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.tanh()
    }
    fn visit(&self, _f: &mut dyn FnMut(Slot<'_>)) {}
}

/// `1 / (1 + e^-x)`, as `torch.nn.Sigmoid`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sigmoid;

impl Module for Sigmoid {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.sigmoid()
    }
    fn visit(&self, _f: &mut dyn FnMut(Slot<'_>)) {}
}

/// `x` where positive, else `negative_slope * x`, as `torch.nn.LeakyReLU` (slope 0.01 by
/// default).
///
/// # Examples
///
/// ```
/// use silica_core::{Device, Tensor};
/// use silica_nn::nn::{LeakyReLU, Module};
/// let x = Tensor::from_slice(&[-2.0f64, 3.0], [2], Device::Cpu).unwrap();
/// let y = LeakyReLU::new(0.5).forward(&x).unwrap();
/// assert_eq!(y.to_vec::<f64>().unwrap(), vec![-1.0, 3.0]);
/// assert_eq!(LeakyReLU::default().negative_slope, 0.01);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyReLU {
    /// The slope for negative inputs.
    pub negative_slope: f64,
}

impl LeakyReLU {
    /// A leaky ReLU with `negative_slope`.
    pub fn new(negative_slope: f64) -> LeakyReLU {
        LeakyReLU { negative_slope }
    }
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new(0.01)
    }
}

impl Module for LeakyReLU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.leaky_relu(self.negative_slope)
    }
    fn visit(&self, _f: &mut dyn FnMut(Slot<'_>)) {}
}

/// `exp(x) / sum(exp(x))` along `dim` (negative counts from the end), as `torch.nn.Softmax`.
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Tensor};
/// use silica_nn::nn::{Module, Softmax};
/// let x = Tensor::zeros([2, 4], DType::F32, Device::Cpu).unwrap();
/// assert_eq!(Softmax::new(-1).forward(&x).unwrap().to_vec::<f32>().unwrap(), vec![0.25; 8]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Softmax {
    /// The dim whose entries sum to 1.
    pub dim: isize,
}

impl Softmax {
    /// Softmax along `dim`.
    pub fn new(dim: isize) -> Softmax {
        Softmax { dim }
    }
}

impl Module for Softmax {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.softmax(self.dim)
    }
    fn visit(&self, _f: &mut dyn FnMut(Slot<'_>)) {}
}
