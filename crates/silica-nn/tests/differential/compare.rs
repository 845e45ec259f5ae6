//! Comparing one Silica tensor with PyTorch's: shape, dtype, then values.
//!
//! Integers and bools must be equal. Floats must have NaN in the same places and the same
//! infinities; finite values may differ by `tol · (1 + |want|)`, where `tol` is a few hundred
//! units in the last place of the dtype: both libraries round every op, but not always in the
//! same order (sums, matmul, composed formulas), and f16/bf16 results go through more roundings
//! than one.

use silica_core::{DType, Tensor};

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
pub fn compare_either(
    what: &str,
    got: &Tensor,
    want: &Tensor,
    precise: Option<&Tensor>,
    tol: f64,
) -> Result<Matched, String> {
    match (compare(what, got, want, tol), precise) {
        (Ok(()), _) => Ok(Matched::Torch),
        (Err(e), Some(p)) => compare(what, got, p, tol)
            .map(|()| Matched::Precise)
            .map_err(|_| e),
        (Err(e), None) => Err(e),
    }
}

/// `Ok` when `got` matches `want`; otherwise what differs, for the report.
fn compare(what: &str, got: &Tensor, want: &Tensor, tol: f64) -> Result<(), String> {
    if got.dims() != want.dims() {
        return Err(format!(
            "{what}: shape {:?}, PyTorch {:?}",
            got.dims(),
            want.dims()
        ));
    }
    if got.dtype() != want.dtype() {
        return Err(format!(
            "{what}: dtype {}, PyTorch {}",
            got.dtype(),
            want.dtype()
        ));
    }
    let g = got
        .to_f64_vec()
        .map_err(|e| format!("{what}: reading: {e}"))?;
    let w = want
        .to_f64_vec()
        .map_err(|e| format!("{what}: reading: {e}"))?;
    let bad: Vec<usize> = (0..w.len()).filter(|&i| !close(g[i], w[i], tol)).collect();
    if bad.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = bad
        .iter()
        .take(4)
        .map(|&i| format!("[{i}] {} vs {}", g[i], w[i]))
        .collect();
    Err(format!(
        "{what}: {} of {} values differ (Silica vs PyTorch): {}",
        bad.len(),
        w.len(),
        shown.join(", ")
    ))
}

fn close(got: f64, want: f64, tol: f64) -> bool {
    if want.is_nan() || got.is_nan() {
        return want.is_nan() && got.is_nan();
    }
    if want.is_infinite() || got.is_infinite() {
        return want == got;
    }
    (got - want).abs() <= tol * (1.0 + want.abs())
}

/// True when every value is 0 (or the tensor is empty): a missing gradient means zeros.
pub fn all_zero(t: &Tensor) -> bool {
    t.to_f64_vec()
        .map(|v| v.iter().all(|&x| x == 0.0))
        .unwrap_or(false)
}
