//! Optional fused fast paths that optimizers use when the backend provides them.

use super::Tensor;
use crate::backend::AdamStep;
use crate::{Error, Result};

impl Tensor {
    /// One fused Adam/AdamW step of this parameter (see [`AdamStep`]), written in place, when
    /// the backend provides the fused kernel: returns the new `[exp_avg, exp_avg_sq]` (and
    /// `max_exp_avg_sq` with AMSGrad), or `None` when the caller must compose the update from
    /// ordinary ops. `moments` are the previous `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`
    /// (`None` before the first step). Must run under [`crate::no_grad`] when the parameter
    /// requires grad, as [`Tensor::assign`] must.
    pub fn adam_step_(
        &self,
        grad: &Tensor,
        moments: [Option<&Tensor>; 3],
        s: &AdamStep,
    ) -> Result<Option<Vec<Tensor>>> {
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
        let views = moments.map(|m| m.map(Tensor::as_view));
        match self
            .backend()
            .adam_step(self.as_view(), grad.as_view(), views, s)
        {
            Ok(bufs) => Ok(Some(
                bufs.into_iter()
                    .map(|b| {
                        Tensor::from_buffer(self.backend().clone(), b, self.shape().clone(), None)
                    })
                    .collect(),
            )),
            Err(Error::NotSupported { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
