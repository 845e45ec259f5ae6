//! Comparing one Silica tensor with PyTorch's: shape, dtype, then values.
//!
//! Integers and bools must be equal. Floats must have NaN in the same places and the same
//! infinities; finite values may differ by `tol · (1 + |want|)`, where `tol` is a few hundred
//! units in the last place of the dtype: both libraries round every op, but not always in the
//! same order (sums, matmul, composed formulas), and f16/bf16 results go through more roundings
//! than one.
//!
//! Where the case carries a precise reference (the f64 answer rounded to the dtype, stored
//! because PyTorch's own answer is further from it than a sixteenth of the tolerance), Silica
//! may instead
//! match that reference within the tolerance, or within [`AS_ACCURATE`] times PyTorch's
//! largest error on the same tensor: a result that cancels large terms cannot be closer in f32
//! than rounding allows, but it must be about as accurate as PyTorch's.

use silica_core::{DType, Tensor};

/// How many times PyTorch's largest error on a tensor a Silica value may be off the precise
/// reference.
pub const AS_ACCURATE: f64 = 4.0;

/// The tolerance for values of `dtype` (0 for integers and bools).
pub fn tolerance(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-10,
        DType::F32 => 5e-5,
        DType::F16 => 8e-3,
        DType::BF16 => 4e-2,
        _ => 0.0,
    }
}

/// How a comparison went.
pub enum Matched {
    /// PyTorch's answer.
    Torch,
    /// The precise reference, where PyTorch's answer is off it.
    Precise,
}

/// Compares `got` with PyTorch's `want`, then, if that fails and there is one, with the
/// precise reference; `tol` is the tolerance for finite values.
///
/// With `nan_for_inf`, a NaN where the reference is infinite also matches (see the rule
/// `cumprod_exclusive`).
pub fn compare_either(
    what: &str,
    got: &Tensor,
    want: &Tensor,
    precise: Option<&Tensor>,
    tol: f64,
    nan_for_inf: bool,
) -> Result<Matched, String> {
    let (g, w) = (values(what, got, want)?, values(what, want, want)?);
    let check = |got: &[f64], want: &[f64], bound: &dyn Fn(usize) -> f64| {
        check(what, got, want, nan_for_inf, bound)
    };
    let direct = |i: usize| tol * (1.0 + w[i].abs());
    let Err(e) = check(&g, &w, &direct) else {
        return Ok(Matched::Torch);
    };
    let Some(precise) = precise else {
        return Err(e);
    };
    let p = values(what, precise, want)?;
    // PyTorch's worst error on this tensor: the rounding noise of its computation.
    let noise = (0..p.len())
        .map(|i| (w[i] - p[i]).abs())
        .filter(|d| d.is_finite())
        .fold(0.0, f64::max);
    let as_accurate = |i: usize| (tol * (1.0 + p[i].abs())).max(AS_ACCURATE * noise);
    check(&g, &p, &as_accurate)
        .map(|()| Matched::Precise)
        .map_err(|ep| format!("{e}; against the precise reference: {ep}"))
}

/// The values of `t`, after checking that its shape and dtype are `want`'s.
fn values(what: &str, t: &Tensor, want: &Tensor) -> Result<Vec<f64>, String> {
    if t.dims() != want.dims() {
        return Err(format!(
            "{what}: shape {:?}, PyTorch {:?}",
            t.dims(),
            want.dims()
        ));
    }
    if t.dtype() != want.dtype() {
        return Err(format!(
            "{what}: dtype {}, PyTorch {}",
            t.dtype(),
            want.dtype()
        ));
    }
    t.to_f64_vec().map_err(|e| format!("{what}: reading: {e}"))
}

/// `Ok` when every `got[i]` is within `bound(i)` of `want[i]` (NaN and inf exactly); else what
/// differs, for the report.
fn check(
    what: &str,
    got: &[f64],
    want: &[f64],
    nan_for_inf: bool,
    bound: &dyn Fn(usize) -> f64,
) -> Result<(), String> {
    let close = |i: usize| {
        let (g, w) = (got[i], want[i]);
        if nan_for_inf && g.is_nan() && w.is_infinite() {
            true
        } else if g.is_nan() || w.is_nan() {
            g.is_nan() && w.is_nan()
        } else if g.is_infinite() || w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= bound(i)
        }
    };
    let bad: Vec<usize> = (0..want.len()).filter(|&i| !close(i)).collect();
    if bad.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = bad
        .iter()
        .take(4)
        .map(|&i| format!("[{i}] {} vs {}", got[i], want[i]))
        .collect();
    Err(format!(
        "{what}: {} of {} values differ (Silica vs PyTorch): {}",
        bad.len(),
        want.len(),
        shown.join(", ")
    ))
}

/// True when every value is 0 (or the tensor is empty): a missing gradient means zeros.
pub fn all_zero(t: &Tensor) -> bool {
    t.to_f64_vec()
        .map(|v| v.iter().all(|&x| x == 0.0))
        .unwrap_or(false)
}
