//! The [`Dropout`] layer.

use super::module::{Module, Slot};
use silica_core::rng::default_generator;
use silica_core::{DType, Device, Error, Generator, Result, Tensor};
use std::sync::atomic::{AtomicBool, Ordering};

/// Inverted dropout, as `torch.nn.Dropout`: in training mode each element is zeroed with
/// probability `p` and the others are scaled by `1 / (1 - p)`; in evaluation mode it is the
/// identity. Any input shape; the output has the same shape.
///
/// The masks come from a [`Generator`] that the layer owns, so a seeded layer draws the same
/// masks on every run and every device (they cannot match PyTorch's, whose stream differs).
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Tensor};
/// use silica_nn::nn::{Dropout, Module};
/// # fn main() -> silica_core::Result<()> {
/// let drop = Dropout::with_seed(0.5, 42)?;
/// let x = Tensor::ones([1000], DType::F32, Device::Cpu)?;
/// let y = drop.forward(&x)?.to_vec::<f32>()?;
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
/// drop.eval();
/// assert_eq!(drop.forward(&x)?.to_vec::<f32>()?, vec![1.0; 1000]);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    generator: Generator,
    training: AtomicBool,
}

impl Dropout {
    /// A layer that drops with probability `p` (in `[0, 1]`), seeded from the default
    /// generator, so that [`silica_core::manual_seed`] makes it reproducible.
    pub fn new(p: f64) -> Result<Dropout> {
        let seed = default_generator()
            .randint(0, i64::MAX, (), DType::I64, Device::Cpu)?
            .item::<i64>()?;
        Dropout::with_seed(p, seed as u64)
    }

    /// A layer that drops with probability `p` (in `[0, 1]`), with its own stream of `seed`.
    pub fn with_seed(p: f64, seed: u64) -> Result<Dropout> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::invalid(
                "Dropout",
                format!("probability {p} is outside [0, 1]"),
            ));
        }
        Ok(Dropout {
            p,
            generator: Generator::new(seed),
            training: AtomicBool::new(true),
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// The generator the masks come from (to reseed it, or to save and restore its state).
    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    /// True in training mode (the initial mode).
    pub fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if self.is_training() {
            x.dropout(self.p, &self.generator)
        } else {
            Ok(x.clone())
        }
    }

    fn visit(&self, _f: &mut dyn FnMut(Slot<'_>)) {}

    fn set_own_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }
}
