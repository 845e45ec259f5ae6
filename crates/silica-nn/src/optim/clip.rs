//! Gradient clipping: by the norm of all gradients together, or by value, as PyTorch's
//! `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`.
//!
//! Both replace each parameter's gradient with the clipped one through
//! [`Tensor::set_grad`] instead of writing into the gradient's storage: Silica's autograd may
//! hand one gradient tensor to several leaves (the two inputs of an `add` share theirs), so
//! writing one in place could scale another twice.

use silica_core::{Device, Error, Result, Tensor};

/// Scales the gradients of `params` so that their total `norm_type`-norm (all gradients seen
/// as one vector) is at most `max_norm`, and returns that total norm before clipping as a
/// zero-dim tensor of the gradients' dtype.
///
/// The scale factor is `min(max_norm / (total + 1e-6), 1)`, applied to every gradient, as in
/// PyTorch; the factor stays on the device, so no synchronisation is needed. `norm_type` is
/// any finite `p > 0` or `f64::INFINITY` (the largest absolute value). Parameters without a
/// gradient are skipped; with none, the total is a zero-dim F32 zero.
///
/// # Examples
///
/// ```
/// use silica_core::{Device, Tensor};
/// use silica_nn::optim::clip_grad_norm;
/// # fn main() -> silica_core::Result<()> {
/// let w = Tensor::zeros([2], silica_core::DType::F32, Device::Cpu)?;
/// w.set_grad(Some(Tensor::from_slice(&[3.0f32, 4.0], [2], Device::Cpu)?))?;
/// let total = clip_grad_norm(std::slice::from_ref(&w), 1.0, 2.0)?;
/// assert_eq!(total.to_scalar()?, 5.0);
/// let g = w.grad().unwrap().to_vec::<f32>()?;
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// # Ok(()) }
/// ```
pub fn clip_grad_norm(params: &[Tensor], max_norm: f64, norm_type: f64) -> Result<Tensor> {
    if norm_type.is_nan() || norm_type <= 0.0 {
        return Err(Error::invalid(
            "clip_grad_norm",
            format!("invalid norm_type {norm_type} (expected p > 0 or infinity)"),
        ));
    }
    if max_norm.is_nan() {
        return Err(Error::invalid(
            "clip_grad_norm",
            "max_norm is NaN (expected a number)",
        ));
    }
    let _guard = silica_core::no_grad();
    let grads: Vec<(&Tensor, Tensor)> = params
        .iter()
        .filter_map(|p| p.grad().map(|g| (p, g)))
        .collect();
    if grads.is_empty() {
        return Tensor::scalar(0.0f32, Device::Cpu);
    }
    let norms = grads
        .iter()
        .map(|(_, g)| norm(g, norm_type))
        .collect::<Result<Vec<_>>>()?;
    let total = if norms.len() == 1 {
        norms[0].clone()
    } else {
        let refs: Vec<&Tensor> = norms.iter().collect();
        norm(&Tensor::stack(&refs, 0)?, norm_type)?
    };
    // PyTorch's `max_norm / (total + 1e-6)` is `(total + 1e-6).reciprocal() * max_norm`.
    let coef = total
        .add_scalar(1e-6)?
        .recip()?
        .mul_scalar(max_norm)?
        .clamp(f64::NEG_INFINITY, 1.0)?;
    for (p, g) in &grads {
        p.set_grad(Some(g.mul(&coef.to_dtype(g.dtype())?)?))?;
    }
    Ok(total)
}

/// The `p`-norm of all elements of `t`, as a zero-dim tensor.
fn norm(t: &Tensor, p: f64) -> Result<Tensor> {
    if p == f64::INFINITY {
        t.abs()?.max_all()
    } else if p == 1.0 {
        t.abs()?.sum_all()
    } else if p == 2.0 {
        t.square()?.sum_all()?.sqrt()
    } else {
        t.abs()?.pow_scalar(p)?.sum_all()?.pow_scalar(1.0 / p)
    }
}

/// Clamps every gradient of `params` to `[-clip_value, clip_value]`, as PyTorch's
/// `clip_grad_value_`. Parameters without a gradient are skipped.
///
/// # Examples
///
/// ```
/// use silica_core::{Device, Tensor};
/// use silica_nn::optim::clip_grad_value;
/// # fn main() -> silica_core::Result<()> {
/// let w = Tensor::zeros([3], silica_core::DType::F32, Device::Cpu)?;
/// w.set_grad(Some(Tensor::from_slice(&[-2.0f32, 0.1, 3.0], [3], Device::Cpu)?))?;
/// clip_grad_value(std::slice::from_ref(&w), 0.5)?;
/// assert_eq!(w.grad().unwrap().to_vec::<f32>()?, vec![-0.5, 0.1, 0.5]);
/// # Ok(()) }
/// ```
pub fn clip_grad_value(params: &[Tensor], clip_value: f64) -> Result<()> {
    if clip_value.is_nan() || clip_value < 0.0 {
        return Err(Error::invalid(
            "clip_grad_value",
            format!("invalid clip_value {clip_value} (expected a value >= 0)"),
        ));
    }
    let _guard = silica_core::no_grad();
    for p in params {
        if let Some(g) = p.grad() {
            p.set_grad(Some(g.clamp(-clip_value, clip_value)?))?;
        }
    }
    Ok(())
}
