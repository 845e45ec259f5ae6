//! Softmax and log-softmax along a dim, fused where the backend has a kernel.

use super::fused::fused_or;
use super::Tensor;
use crate::autograd::{no_grad_scope, record, Op};
use crate::{Dim, Error, Result};

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
            .map(|buf| Tensor::from_buffer(self.backend(), buf, self.shape(), None));
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
}
