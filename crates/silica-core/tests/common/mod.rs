//! Helpers shared by the integration tests: loading golden files and comparing tensors.

#![allow(dead_code)]

pub mod cases;

use silica_core::{safetensors, DType, Device, Tensor};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The repository's `testdata/golden` folder.
pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden")
}

/// Every tensor of `testdata/golden/<name>.safetensors`, on the CPU.
pub fn load_golden(name: &str) -> BTreeMap<String, Tensor> {
    let path = golden_dir().join(format!("{name}.safetensors"));
    safetensors::load(&path, Device::Cpu).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (run tools/golden/gen.sh)",
            path.display()
        )
    })
}

/// The relative tolerance for comparing with PyTorch: `f32` for f32 (and lower) dtypes,
/// `1e-10` for f64.
pub fn tolerance(dtype: DType, f32_tol: f64) -> f64 {
    if dtype == DType::F64 {
        1e-10
    } else {
        f32_tol
    }
}

/// Asserts `|got - want| <= rtol * max(|want|, 1)` elementwise (NaNs must match), with the
/// shapes equal. `what` names the case in the failure message.
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor, rtol: f64) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    let g = got.to_f64_vec().unwrap();
    let w = want.to_f64_vec().unwrap();
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let ok = if b.is_nan() {
            a.is_nan()
        } else if b.is_infinite() {
            a == b
        } else {
            (a - b).abs() <= rtol * b.abs().max(1.0)
        };
        assert!(
            ok,
            "{what}: element {i}: got {a:e}, want {b:e} (rtol {rtol:e})"
        );
    }
}
