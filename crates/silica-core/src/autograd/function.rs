//! User-defined differentiable functions, as `torch.autograd.Function`.

use super::{is_grad_enabled, no_grad_scope, record, Op};
use crate::{Error, Result, Tensor};
use std::sync::Arc;

/// A differentiable function with a hand-written gradient, as `torch.autograd.Function`.
///
/// [`Function::apply`] runs [`Function::forward`] with gradient recording off and records
/// the function itself as the output's op; `backward` later receives the output gradient and
/// returns one gradient per input. Keep what `backward` needs in `self` during `forward`
/// (`ctx.save_for_backward`): inputs as they are, the output detached (`out.detach()`), so that
/// the graph holds no cycle.
///
/// A gradient written with tensor ops of the saved inputs can be differentiated again: say so
/// with [`Function::supports_double_backward`]. Otherwise `create_graph` through the function
/// is an error that names it, rather than a silently wrong second derivative.
///
/// # Examples
///
/// ```
/// use silica_core::{Device, Function, Result, Tensor};
///
/// /// `x³`, with its gradient `3x²` written by hand.
/// #[derive(Default)]
/// struct Cube {
///     x: Option<Tensor>,
/// }
///
/// impl Function for Cube {
///     fn name(&self) -> &'static str {
///         "cube"
///     }
///     fn forward(&mut self, inputs: &[Tensor]) -> Result<Tensor> {
///         self.x = Some(inputs[0].clone());
///         inputs[0].pow_scalar(3.0)
///     }
///     fn backward(&self, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
///         let x = self.x.as_ref().unwrap();
///         Ok(vec![Some(grad.mul(&x.square()?.mul_scalar(3.0)?)?)])
///     }
/// }
///
/// # fn main() -> Result<()> {
/// let x = Tensor::from_slice(&[2.0f64], [1], Device::Cpu)?;
/// x.set_requires_grad(true)?;
/// Cube::default().apply(&[&x])?.sum_all()?.backward()?;
/// assert_eq!(x.grad().unwrap().to_vec::<f64>()?, vec![12.0]);
/// # Ok(()) }
/// ```
pub trait Function: Send + Sync + 'static {
    /// The name that errors and graph dumps give.
    fn name(&self) -> &'static str;

    /// The output, from the inputs (in [`Function::apply`]'s order). Runs with gradient
    /// recording off.
    fn forward(&mut self, inputs: &[Tensor]) -> Result<Tensor>;

    /// The gradient of each input (same shape, dtype and device), or `None` for an input that
    /// gets none, given the gradient of the output.
    fn backward(&self, grad_output: &Tensor) -> Result<Vec<Option<Tensor>>>;

    /// True when `backward` is written with tensor ops of the saved inputs, so that it can be
    /// differentiated again under `create_graph`. False by default: `create_graph` through the
    /// function is then an error.
    fn supports_double_backward(&self) -> bool {
        false
    }

    /// Runs `forward` on `inputs` and, when one of them requires a gradient (and grad mode is
    /// on), records this function as the output's op.
    fn apply(mut self, inputs: &[&Tensor]) -> Result<Tensor>
    where
        Self: Sized,
    {
        let owned: Vec<Tensor> = inputs.iter().map(|t| (*t).clone()).collect();
        let out = no_grad_scope(|| self.forward(&owned))?;
        let name = self.name();
        match record(inputs, || Op::Custom {
            f: Arc::new(self),
            inputs: owned,
        }) {
            Some(_) if !out.dtype().is_float() => Err(Error::dtype(
                name,
                out.dtype(),
                "a float output for a function whose inputs require gradients",
            )),
            Some(op) => Ok(out.with_layout(out.layout().clone(), Some(op))),
            None => Ok(out),
        }
    }
}

/// Runs `f`'s backward for the output gradient `g`, checking what it returns.
pub(crate) fn backward(
    f: &dyn Function,
    inputs: &[Tensor],
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    let name = f.name();
    if is_grad_enabled() && !f.supports_double_backward() {
        return Err(Error::Autograd(format!(
            "{name}: create_graph needs a gradient that can be differentiated again, and this Function does not declare one (Function::supports_double_backward)"
        )));
    }
    let grads = f.backward(g)?;
    if grads.len() != inputs.len() {
        return Err(Error::Autograd(format!(
            "{name}: backward returned {} gradients for {} inputs",
            grads.len(),
            inputs.len()
        )));
    }
    for (i, (x, gx)) in inputs.iter().zip(&grads).enumerate() {
        let Some(gx) = gx else { continue };
        if gx.shape() != x.shape() || gx.dtype() != x.dtype() || gx.device() != x.device() {
            return Err(Error::Autograd(format!(
                "{name}: backward gave input {i} a gradient {} {} on {}, but the input is {} {} on {}",
                gx.shape(),
                gx.dtype(),
                gx.device(),
                x.shape(),
                x.dtype(),
                x.device()
            )));
        }
    }
    Ok(grads)
}
