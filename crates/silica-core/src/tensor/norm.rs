//! Batch normalisation with batch statistics (fused where the backend has a kernel). Its
//! gradient lives in `autograd/norm.rs`.

use super::fused::fused_or;
use super::{Held, Tensor};
use crate::autograd::{no_grad_scope, record, Op};
use crate::{Error, Result, Shape};

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
                Tensor::from_buffer(backend, y, self.shape(), None),
                Tensor::from_buffer(backend, m, &Shape::new(vec![c]), None),
                Tensor::from_buffer(backend, v, &Shape::new(vec![c]), None),
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
pub(crate) fn channel_shape(x: &Tensor) -> Vec<usize> {
    let mut shape = vec![1; x.rank()];
    shape[1] = x.dims()[1];
    shape
}

/// The per-channel mean and biased variance of `x`, keepdim.
pub(crate) fn channel_stats(x: &Tensor) -> Result<(Tensor, Tensor)> {
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
