//! The fully connected layer [`Linear`].

use super::init;
use super::module::{Module, Slot};
use silica_core::{Error, Generator, Result, Tensor};

/// `y = x Wᵀ + b`, as `torch.nn.Linear`: input `[.., in_features]`, output
/// `[.., out_features]`, with weight `[out_features, in_features]` and bias `[out_features]`.
///
/// Both are initialised as PyTorch does, from U(-1/sqrt(in), 1/sqrt(in)) (the weight by
/// `kaiming_uniform_` with `a = sqrt(5)`), drawn from the given generator.
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Generator, Tensor};
/// use silica_nn::nn::{Linear, Module};
/// # fn main() -> silica_core::Result<()> {
/// let fc = Linear::new(4, 3, true, &Generator::new(0))?;
/// let x = Tensor::ones([8, 4], DType::F32, Device::Cpu)?;
/// assert_eq!(fc.forward(&x)?.dims(), &[8, 3]);
/// assert_eq!(fc.state_dict().keys().collect::<Vec<_>>(), ["bias", "weight"]);
/// assert_eq!(
///     fc.forward(&Tensor::ones([8, 3], DType::F32, Device::Cpu)?).unwrap_err().to_string(),
///     "Linear: input [8, 3] has 3 features, expected 4"
/// );
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// A layer from `in_features` to `out_features`, with a bias if `bias`, in F32 on the CPU
    /// (see [`Linear::to`] for other dtypes and devices).
    pub fn new(
        in_features: usize,
        out_features: usize,
        bias: bool,
        generator: &Generator,
    ) -> Result<Linear> {
        let (weight, bias) =
            init::default_weight_and_bias(&[out_features, in_features], bias, generator)?;
        Ok(Linear { weight, bias })
    }

    /// The weight, `[out_features, in_features]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias, `[out_features]`, if the layer has one.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// The size of each input's last dim.
    pub fn in_features(&self) -> usize {
        self.weight.dims()[1]
    }

    /// The size of each output's last dim.
    pub fn out_features(&self) -> usize {
        self.weight.dims()[0]
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let expected = self.in_features();
        if x.dims().last() != Some(&expected) {
            let got = match x.dims().last() {
                Some(n) => format!("has {n} features"),
                None => "is a scalar".to_string(),
            };
            return Err(Error::shape(
                "Linear",
                &[x.shape()],
                format!("input {} {got}, expected {expected}", x.shape()),
            ));
        }
        let y = x.matmul(&self.weight.t()?)?;
        match &self.bias {
            Some(b) => y.add(b),
            None => Ok(y),
        }
    }

    fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
        f(Slot::Param("weight", &self.weight));
        if let Some(b) = &self.bias {
            f(Slot::Param("bias", b));
        }
    }
}
