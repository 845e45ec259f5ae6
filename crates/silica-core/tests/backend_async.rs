//! The fake asynchronous device: CPU kernels run later on a worker thread, and data can be read
//! only through a synchronising copy. Passing the conformance suite here shows that the tensor
//! layer never assumes an op has finished when it returns.

use silica_core::backendtest::AsyncCpuBackend;
use silica_core::{DType, Device, Error, Tensor};
use std::sync::OnceLock;

fn device() -> Device {
    static DEV: OnceLock<Device> = OnceLock::new();
    *DEV.get_or_init(AsyncCpuBackend::register)
}

#[test]
fn kernel_errors_surface_at_the_next_read() {
    // A fresh device, so no other test's work shares its queue.
    let dev = AsyncCpuBackend::register();
    let x = Tensor::ones([3, 2], DType::F32, dev).unwrap();
    let bad = Tensor::from_slice(&[1i64, 7], [2], dev).unwrap();
    // The op only enqueues work: it cannot know the index is bad yet.
    let y = x.index_select(0, &bad).expect("enqueueing succeeds");
    let z = y.mul_scalar(2.0).expect("enqueueing succeeds");
    match z.to_vec::<f32>() {
        Err(Error::IndexOutOfBounds {
            index: 7, size: 3, ..
        }) => {}
        other => panic!("expected the index error at the read, got {other:?}"),
    }
    // The device stays usable.
    assert_eq!(x.sum_all().unwrap().item::<f32>().unwrap(), 6.0);
}

#[test]
fn long_chains_read_back_in_order() {
    let dev = device();
    let mut t = Tensor::zeros([64], DType::F64, dev).unwrap();
    for i in 0..200 {
        t = t.add_scalar(i as f64).unwrap();
    }
    let want = (0..200).sum::<i32>() as f64;
    assert!(t.to_vec::<f64>().unwrap().iter().all(|&v| v == want));
}

#[test]
fn moves_between_devices() {
    let cpu = Tensor::arange(0.0, 6.0, 1.0, DType::F32, Device::Cpu).unwrap();
    let on = cpu.to_device(device()).unwrap();
    assert_eq!(on.device(), device());
    let back = on.mul_scalar(2.0).unwrap().to_device(Device::Cpu).unwrap();
    assert_eq!(
        back.to_vec::<f32>().unwrap(),
        vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    );
    let err = on.add(&cpu).unwrap_err();
    assert!(matches!(err, Error::DeviceMismatch { .. }), "{err}");
}

#[test]
fn one_hot_class_errors_surface_at_the_next_read() {
    let dev = AsyncCpuBackend::register();
    let classes = Tensor::from_slice(&[2i64, 0, 1], [3], dev).unwrap();
    // Inferring the count reads the indices (as PyTorch does); a given count reads nothing.
    let inferred = classes.one_hot(None).unwrap();
    assert_eq!(inferred.dims(), &[3, 3]);
    assert_eq!(
        inferred.to_vec::<i64>().unwrap(),
        vec![0, 0, 1, 1, 0, 0, 0, 1, 0]
    );
    let bad = classes.one_hot(Some(2)).expect("enqueueing succeeds");
    match bad.to_vec::<i64>() {
        Err(Error::IndexOutOfBounds { index: 2, .. }) => {}
        other => panic!("expected the class error at the read, got {other:?}"),
    }
}
