//! Checking gradients against float64 central differences.

use super::{grad, BackwardOptions};
use crate::{DType, Error, Result, Tensor};

/// Tolerances for [`gradcheck`], with PyTorch's defaults.
#[derive(Clone, Copy, Debug)]
pub struct GradcheckOptions {
    /// The finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
        }
    }
}

/// Checks the gradients of `f` at `inputs` (F64 tensors) against central differences.
///
/// The output is projected onto a fixed pseudo-random vector `v`, and the analytic gradient of
/// `sum(f(x) * v)` is compared with `(L(x + eps) - L(x - eps)) / (2 eps)` for every element of
/// every input that requires grad. Returns an error describing the first mismatch.
///
/// # Examples
///
/// ```
/// use silica_core::{gradcheck, GradcheckOptions, Tensor, DType, Device};
/// let x = Tensor::from_slice(&[0.3f64, -1.2, 2.0], [3], Device::Cpu).unwrap();
/// x.set_requires_grad(true).unwrap();
/// gradcheck(|xs| xs[0].tanh()?.mul(&xs[0]), &[x], GradcheckOptions::default()).unwrap();
/// ```
pub fn gradcheck<F>(f: F, inputs: &[Tensor], opts: GradcheckOptions) -> Result<()>
where
    F: Fn(&[Tensor]) -> Result<Tensor>,
{
    for (i, x) in inputs.iter().enumerate() {
        if x.requires_grad() && x.dtype() != DType::F64 {
            return Err(Error::dtype(
                "gradcheck",
                x.dtype(),
                format!("f64 for input {i}"),
            ));
        }
    }
    let out = f(inputs)?;
    if out.dtype() != DType::F64 {
        return Err(Error::dtype("gradcheck", out.dtype(), "an f64 output"));
    }
    let v: Vec<f64> = (0..out.elem_count())
        .map(|i| 0.5 + ((i * 7919) % 101) as f64 / 101.0)
        .collect();
    let v = Tensor::from_vec(v, out.shape().clone(), out.device())?;
    let loss = |xs: &[Tensor]| -> Result<f64> { f(xs)?.mul(&v)?.sum_all()?.to_scalar() };

    let wanted: Vec<&Tensor> = inputs.iter().filter(|t| t.requires_grad()).collect();
    let projected = out.mul(&v)?.sum_all()?;
    let analytic = grad(&projected, &wanted, None, BackwardOptions::default())?;

    for (which, (x, g)) in wanted.iter().zip(analytic).enumerate() {
        let g = match g {
            Some(g) => g.to_f64_vec()?,
            None => vec![0.0; x.elem_count()],
        };
        let base = x.to_f64_vec()?;
        for (j, &gj) in g.iter().enumerate() {
            let probe = |delta: f64| -> Result<f64> {
                let mut p = base.clone();
                p[j] += delta;
                let moved = Tensor::from_vec(p, x.shape().clone(), x.device())?;
                let xs: Vec<Tensor> = inputs
                    .iter()
                    .map(|t| {
                        if t.id() == x.id() {
                            moved.clone()
                        } else {
                            t.detach()
                        }
                    })
                    .collect();
                crate::autograd::no_grad_scope(|| loss(&xs))
            };
            let numeric = (probe(opts.eps)? - probe(-opts.eps)?) / (2.0 * opts.eps);
            if (numeric - gj).abs() > opts.atol + opts.rtol * numeric.abs() {
                return Err(Error::Autograd(format!(
                    "gradcheck: input {which} element {j}: analytic {gj:.8e}, numeric {numeric:.8e}"
                )));
            }
        }
    }
    Ok(())
}

/// A fixed pseudo-random vector of `n` values in [0.5, 1.5), different for each `salt`.
fn probe_weights(n: usize, salt: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 + ((i * 7919 + salt * 104_729) % 101) as f64 / 101.0)
        .collect()
}

/// Checks the second derivatives of `f` at `inputs` (F64 tensors) against central differences
/// of its analytic gradient, as PyTorch's `gradgradcheck`.
///
/// With a fixed output gradient `v` and fixed weights `u_i`, the scalar
/// `h(x, v) = Σ_i ⟨u_i, ∂⟨f(x), v⟩/∂x_i⟩` is built with `create_graph`; its analytic gradient
/// with respect to every input that requires grad, and to `v` itself (which checks that each
/// gradient is recorded as a function of the output gradient too), is compared with central
/// differences of `h`. Returns an error describing the first mismatch.
///
/// # Examples
///
/// ```
/// use silica_core::{gradgradcheck, GradcheckOptions, Tensor, Device};
/// let x = Tensor::from_slice(&[0.3f64, -1.2, 2.0], [3], Device::Cpu).unwrap();
/// x.set_requires_grad(true).unwrap();
/// gradgradcheck(|xs| xs[0].tanh()?.mul(&xs[0]), &[x], GradcheckOptions::default()).unwrap();
/// ```
pub fn gradgradcheck<F>(f: F, inputs: &[Tensor], opts: GradcheckOptions) -> Result<()>
where
    F: Fn(&[Tensor]) -> Result<Tensor>,
{
    for (i, x) in inputs.iter().enumerate() {
        if x.requires_grad() && x.dtype() != DType::F64 {
            return Err(Error::dtype(
                "gradgradcheck",
                x.dtype(),
                format!("f64 for input {i}"),
            ));
        }
    }
    let out = crate::autograd::no_grad_scope(|| f(inputs))?;
    if out.dtype() != DType::F64 {
        return Err(Error::dtype("gradgradcheck", out.dtype(), "an f64 output"));
    }
    let (out_shape, device) = (out.shape().clone(), out.device());
    let differentiated: Vec<usize> = (0..inputs.len())
        .filter(|&i| inputs[i].requires_grad())
        .collect();
    let weights: Vec<Tensor> = differentiated
        .iter()
        .map(|&i| {
            let x = &inputs[i];
            Tensor::from_vec(
                probe_weights(x.elem_count(), i + 1),
                x.shape().clone(),
                device,
            )
        })
        .collect::<Result<_>>()?;
    // h(xs, v) with the given leaves; `create` records the first backward.
    let h = |xs: &[Tensor], v: &Tensor, create: bool| -> Result<Tensor> {
        let out = f(xs)?;
        let wanted: Vec<&Tensor> = differentiated.iter().map(|&i| &xs[i]).collect();
        let opts = BackwardOptions {
            create_graph: create,
            retain_graph: create,
        };
        let grads = if out.requires_grad() {
            grad(&out, &wanted, Some(v), opts)?
        } else {
            vec![None; wanted.len()]
        };
        let mut total = Tensor::zeros((), DType::F64, device)?;
        for (g, u) in grads.iter().zip(&weights) {
            if let Some(g) = g {
                total = total.add(&g.mul(u)?.sum_all()?)?;
            }
        }
        Ok(total)
    };
    let v = Tensor::from_vec(probe_weights(out_shape.elem_count(), 0), out_shape, device)?;
    v.set_requires_grad(true)?;
    let projected = h(inputs, &v, true)?;
    let mut targets: Vec<&Tensor> = differentiated.iter().map(|&i| &inputs[i]).collect();
    targets.push(&v);
    let analytic = if projected.requires_grad() {
        grad(&projected, &targets, None, BackwardOptions::default())?
    } else {
        vec![None; targets.len()]
    };

    // Fresh leaves with one element moved, for the finite differences.
    let leaf = |t: &Tensor, values: Vec<f64>| -> Result<Tensor> {
        let moved = Tensor::from_vec(values, t.shape().clone(), device)?;
        moved.set_requires_grad(t.requires_grad())?;
        Ok(moved)
    };
    for (which, (x, g)) in targets.iter().zip(analytic).enumerate() {
        let g = match g {
            Some(g) => g.to_f64_vec()?,
            None => vec![0.0; x.elem_count()],
        };
        let base = x.to_f64_vec()?;
        let is_v = which == differentiated.len();
        for (j, &gj) in g.iter().enumerate() {
            let probe = |delta: f64| -> Result<f64> {
                let mut p = base.clone();
                p[j] += delta;
                let xs: Vec<Tensor> = inputs
                    .iter()
                    .map(|t| {
                        if !is_v && t.id() == x.id() {
                            leaf(t, p.clone())
                        } else if t.requires_grad() {
                            leaf(t, t.to_f64_vec()?)
                        } else {
                            Ok(t.detach())
                        }
                    })
                    .collect::<Result<_>>()?;
                let v = if is_v { leaf(&v, p)? } else { v.detach() };
                h(&xs, &v, false)?.to_scalar()
            };
            let numeric = (probe(opts.eps)? - probe(-opts.eps)?) / (2.0 * opts.eps);
            if (numeric - gj).abs() > opts.atol + opts.rtol * numeric.abs() {
                let what = if is_v {
                    "the output gradient".to_string()
                } else {
                    format!("input {}", differentiated[which])
                };
                return Err(Error::Autograd(format!(
                    "gradgradcheck: {what} element {j}: analytic {gj:.8e}, numeric {numeric:.8e}"
                )));
            }
        }
    }
    Ok(())
}
