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
