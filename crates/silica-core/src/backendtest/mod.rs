//! The backend conformance suite.
//!
//! [`run_all`] checks a device against the float64 CPU reference: every case runs once on the
//! CPU in f64 and once on the device in each float dtype, with contiguous and with strided
//! (transposed) inputs, and compares the outputs and the input gradients. It also checks that
//! random numbers match the CPU's for the same seed, that kernel errors surface (at the op or
//! at the next synchronisation), and that memory returns when tensors drop. A backend "works"
//! when `run_all` passes; every backend's own tests call it:
//!
//! # Examples
//!
//! ```
//! silica_core::backendtest::run_all(silica_core::Device::Cpu).unwrap();
//! ```

mod async_cpu;
mod cases;

pub use async_cpu::{AsyncBuffer, AsyncCpuBackend};

use crate::{DType, Device, Error, Generator, Result, Tensor};
use cases::{Arg, Case, CASES};

/// The float dtypes a device is checked in, with the relative tolerance of each.
const DTYPES: [(DType, f64); 4] = [
    (DType::F64, 1e-9),
    (DType::F32, 1e-4),
    (DType::F16, 1e-2),
    (DType::BF16, 5e-2),
];

/// Runs every conformance case on `device`, in each dtype it supports. The error lists every
/// failing case.
///
/// The memory check reads the device's counters, so it must not share them with other work:
/// call `run_all` from a test binary of its own (or on a device registered for it).
pub fn run_all(device: Device) -> Result<()> {
    let backend = crate::backend::get(device)?;
    let mut failures = Vec::new();
    for case in CASES {
        let dtypes = DTYPES
            .iter()
            .filter(|(d, _)| case.dtypes.contains(d) && backend.supports(*d));
        for &(dtype, tol) in dtypes {
            for strided in [false, true] {
                if let Err(e) = check_case(case, device, dtype, tol, strided) {
                    failures.push(format!(
                        "{} [{dtype}{}]: {e}",
                        case.name,
                        if strided { ", strided" } else { "" }
                    ));
                }
            }
        }
    }
    for (name, check) in [
        ("random", check_random as fn(Device) -> Result<()>),
        ("dtypes", check_dtypes),
        ("errors", check_errors),
        ("memory", check_memory),
        ("assign", check_assign),
    ] {
        if let Err(e) = check(device) {
            failures.push(format!("{name}: {e}"));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(
            "backendtest",
            format!(
                "{} check(s) failed on {device}:\n{}",
                failures.len(),
                failures.join("\n")
            ),
        ))
    }
}

/// Deterministic inputs: the CPU f64 reference and the device copy in `dtype`.
fn make_inputs(
    case: &Case,
    device: Device,
    dtype: DType,
    strided: bool,
) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
    let gen = Generator::new(0x5EED);
    let (mut reference, mut on_device) = (Vec::new(), Vec::new());
    for arg in case.inputs {
        let r = match *arg {
            Arg::Normal(shape) => gen.randn(shape, DType::F64, Device::Cpu)?,
            Arg::Positive(shape) => gen.rand(shape, DType::F64, Device::Cpu)?.add_scalar(0.5)?,
            Arg::Index(shape, high) => gen.randint(0, high, shape, DType::I64, Device::Cpu)?,
            Arg::Mask(shape) => gen.rand(shape, DType::F64, Device::Cpu)?.gt_scalar(0.5)?,
        };
        let is_float = r.dtype().is_float();
        // Round the reference through the tested dtype, so both sides see the same numbers.
        let r = if is_float {
            r.to_dtype(dtype)?.to_dtype(DType::F64)?
        } else {
            r
        };
        let mut d = if is_float {
            r.to_dtype(dtype)?
        } else {
            r.clone()
        }
        .to_device(device)?;
        if strided && d.rank() >= 2 {
            // The same values through a transposed layout.
            d = d.transpose(-1, -2)?.contiguous()?.transpose(-1, -2)?;
        }
        reference.push(r);
        on_device.push(d);
    }
    Ok((reference, on_device))
}

fn compare(what: &str, got: &Tensor, want: &Tensor, tol: f64) -> Result<()> {
    if got.dims() != want.dims() {
        return Err(Error::invalid(
            "backendtest",
            format!("{what}: shape {} != {}", got.shape(), want.shape()),
        ));
    }
    let (g, w) = (got.to_f64_vec()?, want.to_f64_vec()?);
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let ok = (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= tol * b.abs().max(1.0);
        if !ok {
            return Err(Error::invalid(
                "backendtest",
                format!("{what}: element {i} is {a}, expected {b}"),
            ));
        }
    }
    Ok(())
}

fn check_case(case: &Case, device: Device, dtype: DType, tol: f64, strided: bool) -> Result<()> {
    let (reference, on_device) = make_inputs(case, device, dtype, strided)?;
    let want = (case.op)(&reference)?;
    let got = (case.op)(&on_device)?;
    if got.device() != device {
        return Err(Error::invalid(
            "backendtest",
            format!("the result is on {}", got.device()),
        ));
    }
    if want.dtype().is_float() && got.dtype() != dtype {
        return Err(Error::invalid(
            "backendtest",
            format!("the result has dtype {}", got.dtype()),
        ));
    }
    compare("output", &got, &want, tol)?;
    if !case.grad {
        return Ok(());
    }
    // Gradients of sum(out * w) for a fixed w.
    let w = Generator::new(7).randn(want.shape(), DType::F64, Device::Cpu)?;
    let grads = |inputs: &[Tensor], w: &Tensor| -> Result<Vec<Option<Tensor>>> {
        let leaves: Vec<Tensor> = inputs.iter().map(|t| t.detach()).collect();
        for t in leaves.iter().filter(|t| t.dtype().is_float()) {
            t.set_requires_grad(true)?;
        }
        (case.op)(&leaves)?.mul(w)?.sum_all()?.backward()?;
        Ok(leaves.iter().map(|t| t.grad()).collect())
    };
    let want_g = grads(&reference, &w)?;
    let got_g = grads(&on_device, &w.to_dtype(dtype)?.to_device(device)?)?;
    for (i, (g, r)) in got_g.iter().zip(&want_g).enumerate() {
        match (g, r) {
            (Some(g), Some(r)) => compare(&format!("grad of input {i}"), g, r, tol * 2.0)?,
            (None, None) => {}
            _ => {
                return Err(Error::invalid(
                    "backendtest",
                    format!("grad of input {i}: present on one side only"),
                ))
            }
        }
    }
    Ok(())
}

/// The same seed gives the same numbers as on the CPU.
fn check_random(device: Device) -> Result<()> {
    let backend = crate::backend::get(device)?;
    for dtype in [DType::F32, DType::F64]
        .into_iter()
        .filter(|&d| backend.supports(d))
    {
        let a = Generator::new(42).randn([1001], dtype, device)?;
        let b = Generator::new(42).randn([1001], dtype, Device::Cpu)?;
        compare(&format!("randn {dtype}"), &a, &b, 1e-6)?;
        let a = Generator::new(42).rand([7, 3], dtype, device)?;
        let b = Generator::new(42).rand([7, 3], dtype, Device::Cpu)?;
        compare(&format!("rand {dtype}"), &a, &b, 0.0)?;
    }
    let a = Generator::new(1).randint(-5, 5, [99], DType::I64, device)?;
    let b = Generator::new(1).randint(-5, 5, [99], DType::I64, Device::Cpu)?;
    compare("randint", &a, &b, 0.0)
}

/// Every dtype the device does not support is refused, with an error that names it, wherever
/// a tensor of it would appear: created, uploaded, cast or moved there.
fn check_dtypes(device: Device) -> Result<()> {
    let backend = crate::backend::get(device)?;
    let all = [
        DType::F32,
        DType::F64,
        DType::F16,
        DType::BF16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::Bool,
    ];
    for dtype in all.into_iter().filter(|&d| !backend.supports(d)) {
        let host = Tensor::zeros([2], dtype, Device::Cpu)?;
        let attempts = [
            ("zeros", Tensor::zeros([2], dtype, device)),
            ("to_device", host.to_device(device)),
            (
                "to_dtype",
                Tensor::zeros([2], DType::F32, device)?.to_dtype(dtype),
            ),
            ("from_host", Tensor::from_host(host.to_host()?, [2], device)),
        ];
        for (what, outcome) in attempts {
            match outcome {
                Err(Error::UnsupportedDtype { dtype: d, .. }) if d == dtype => {}
                other => {
                    return Err(Error::invalid(
                        "backendtest",
                        format!("{what} of unsupported {dtype}: {other:?}"),
                    ))
                }
            }
        }
    }
    Ok(())
}

/// A kernel error (an index out of bounds) surfaces at the op or at the next read, and the
/// device stays usable afterwards.
fn check_errors(device: Device) -> Result<()> {
    let x = Tensor::ones([4, 3], DType::F32, device)?;
    let bad = Tensor::from_slice(&[0i64, 9], [2], device)?;
    let outcome = x.index_select(0, &bad).and_then(|t| t.to_vec::<f32>());
    match outcome {
        Err(Error::IndexOutOfBounds { index: 9, .. }) => {}
        other => {
            return Err(Error::invalid(
                "backendtest",
                format!("index 9 of 4 rows gave {other:?}"),
            ));
        }
    }
    crate::backend::get(device)?.synchronize()?;
    let y = x.sum_all()?.item::<f32>()?;
    if y != 12.0 {
        return Err(Error::invalid(
            "backendtest",
            format!("after an error, sum gave {y}"),
        ));
    }
    Ok(())
}

/// Storages are released when the last tensor using them drops.
fn check_memory(device: Device) -> Result<()> {
    let backend = crate::backend::get(device)?;
    backend.synchronize()?;
    let before = backend.memory().stats();
    {
        let w = Tensor::randn([16, 8], DType::F32, device)?;
        w.set_requires_grad(true)?;
        let x = Tensor::randn([4, 16], DType::F32, device)?;
        x.matmul(&w)?.relu()?.sum_all()?.backward()?;
        backend.synchronize()?;
    }
    let after = backend.memory().stats();
    if after.live_storages != before.live_storages || after.live_bytes != before.live_bytes {
        return Err(Error::invalid(
            "backendtest",
            format!("live storages went from {before:?} to {after:?}"),
        ));
    }
    Ok(())
}

/// In-place writes through `assign` reach every view of the storage.
fn check_assign(device: Device) -> Result<()> {
    let x = Tensor::zeros([2, 3], DType::F32, device)?;
    let col = x.narrow(1, 1, 1)?;
    col.assign(&Tensor::full([2, 1], 5.0, DType::F32, device)?)?;
    let got = x.to_vec::<f32>()?;
    if got != [0.0, 5.0, 0.0, 0.0, 5.0, 0.0] {
        return Err(Error::invalid(
            "backendtest",
            format!("assign into a column gave {got:?}"),
        ));
    }
    Ok(())
}
