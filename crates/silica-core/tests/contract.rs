//! The backend contract, version 2, as a user sees it: exact integer scalars, dtype support,
//! device-to-device copies, and the fused paths' fallbacks.

use silica_core::backendtest::AsyncCpuBackend;
use silica_core::{DType, Device, Error, Tensor};

#[test]
fn integer_fills_keep_every_bit() {
    for device in [Device::Cpu, AsyncCpuBackend::register()] {
        let big = i64::MAX - 1;
        let t = Tensor::full([3], big, DType::I64, device).unwrap();
        assert_eq!(t.to_vec::<i64>().unwrap(), [big; 3]);
        let m = Tensor::zeros([2], DType::I64, device)
            .unwrap()
            .masked_fill(
                &Tensor::from_slice(&[true, false], [2], device).unwrap(),
                big,
            )
            .unwrap();
        assert_eq!(m.to_vec::<i64>().unwrap(), [big, 0]);
    }
}

#[test]
fn an_unsupported_dtype_is_a_clear_error() {
    let dev = AsyncCpuBackend::register_without(&[DType::F64]);
    let err = Tensor::zeros([2], DType::F64, dev).unwrap_err();
    assert!(matches!(
        err,
        Error::UnsupportedDtype {
            dtype: DType::F64,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        format!("full: dtype f64 is not supported on {dev}")
    );
    // Creation ops build their values in the target dtype, never in F64 on the device.
    let r = Tensor::arange(0.0, 4.0, 1.0, DType::F32, dev).unwrap();
    assert_eq!(r.to_vec::<f32>().unwrap(), [0.0, 1.0, 2.0, 3.0]);
    let l = Tensor::linspace(0.0, 1.0, 3, DType::F32, dev).unwrap();
    assert_eq!(l.to_vec::<f32>().unwrap(), [0.0, 0.5, 1.0]);
}
