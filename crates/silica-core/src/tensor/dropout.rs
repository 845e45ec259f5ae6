//! Inverted dropout with a mask drawn from a [`Generator`].

use super::Tensor;
use crate::rng::Generator;
use crate::{DType, Error, Result};

impl Tensor {
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
