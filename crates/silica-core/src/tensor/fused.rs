//! Fused fast paths: one helper that takes a backend's fused kernel or, where it has none,
//! the same result composed from primitives; and the fused Adam/AdamW step.

use super::{Held, Tensor};
use crate::backend::AdamStep;
use crate::{Error, Result};

/// The fused kernel's result, or, where the backend has none ([`Error::NotSupported`]), the
/// result of `composed`. Every optional kernel of the contract goes through this.
pub(crate) fn fused_or<T>(fused: Result<T>, composed: impl FnOnce() -> Result<T>) -> Result<T> {
    match fused {
        Err(Error::NotSupported { .. }) => composed(),
        other => other,
    }
}

impl Tensor {
    /// One Adam/AdamW step of this parameter (see [`AdamStep`]), written in place: returns the
    /// new `[exp_avg, exp_avg_sq]` (and `max_exp_avg_sq` with AMSGrad). `moments` are the
    /// previous `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq` (`None` before the first step). The
    /// backend's fused kernel does it in one pass where it has one; otherwise the update is
    /// composed from ordinary ops, as PyTorch's `_single_tensor_adam(w)` computes it. Must run
    /// under [`crate::no_grad`] when the parameter requires grad, as [`Tensor::assign`] must.
    pub fn adam_step_(
        &self,
        grad: &Tensor,
        moments: [Option<&Tensor>; 3],
        s: &AdamStep,
    ) -> Result<Vec<Tensor>> {
        if self.requires_grad() && crate::autograd::is_grad_enabled() {
            return Err(Error::Autograd(
                "adam_step_: a tensor that requires grad can be updated in place only under no_grad()".into(),
            ));
        }
        for t in std::iter::once(grad).chain(moments.iter().flatten().copied()) {
            self.same_device("adam_step_", &[t])?;
            if t.shape() != self.shape() || t.dtype() != self.dtype() {
                return Err(Error::shape(
                    "adam_step_",
                    &[self.shape(), t.shape()],
                    format!(
                        "parameter {} {} and state {} {} must match",
                        self.shape(),
                        self.dtype(),
                        t.shape(),
                        t.dtype()
                    ),
                ));
            }
        }
        let held = moments.map(|m| m.map(Tensor::hold));
        let views = [0, 1, 2].map(|i| held[i].as_ref().map(Held::view));
        let fused = self
            .backend()
            .adam_step(self.hold().view(), grad.hold().view(), views, s)
            .map(|bufs| {
                bufs.into_iter()
                    .map(|b| Tensor::from_buffer(self.backend(), b, self.shape(), None))
                    .collect()
            });
        fused_or(fused, || self.adam_composed(grad, moments, s))
    }

    /// [`Tensor::adam_step_`] from ordinary ops, op for op as PyTorch's single-tensor Adam.
    fn adam_composed(
        &self,
        grad: &Tensor,
        moments: [Option<&Tensor>; 3],
        s: &AdamStep,
    ) -> Result<Vec<Tensor>> {
        let g = if s.maximize {
            grad.neg()?
        } else {
            grad.clone()
        };
        let (g, param) = if s.decoupled {
            // AdamW: p = p (1 - lr wd), then the Adam step on the raw gradient.
            let decay = 1.0 - s.lr * s.weight_decay;
            let p = if decay == 1.0 {
                self.clone()
            } else {
                self.mul_scalar(decay)?
            };
            (g, p)
        } else if s.weight_decay != 0.0 {
            (g.add(&self.mul_scalar(s.weight_decay)?)?, self.clone())
        } else {
            (g, self.clone())
        };
        let decayed = |prev: Option<&Tensor>, decay: f64, term: Tensor| match prev {
            None => Ok(term),
            Some(prev) => prev.mul_scalar(decay)?.add(&term),
        };
        // m = beta1 m + (1 - beta1) g;  v = beta2 v + ((1 - beta2) g) g
        let m = decayed(moments[0], s.beta1, g.mul_scalar(1.0 - s.beta1)?)?;
        let v = decayed(moments[1], s.beta2, g.mul_scalar(1.0 - s.beta2)?.mul(&g)?)?;
        let step = s.step as f64;
        let bias_correction1 = 1.0 - s.beta1.powf(step);
        let bias_correction2 = 1.0 - s.beta2.powf(step);
        let step_size = s.lr / bias_correction1;
        // The running maximum starts at zero and v >= 0, so the first maximum is v itself.
        let max = match (s.amsgrad, moments[2]) {
            (false, _) => None,
            (true, Some(prev)) => Some(prev.maximum(&v)?),
            (true, None) => Some(v.clone()),
        };
        // denom = sqrt(v) / sqrt(bias_correction2) + eps;  p += (-step_size m) / denom
        let denom = max
            .as_ref()
            .unwrap_or(&v)
            .sqrt()?
            .div_scalar(bias_correction2.sqrt())?
            .add_scalar(s.eps)?;
        self.assign(&param.add(&m.mul_scalar(-step_size)?.div(&denom)?)?)?;
        Ok([Some(m), Some(v), max].into_iter().flatten().collect())
    }
}
