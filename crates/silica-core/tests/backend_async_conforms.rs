//! The conformance suite on the fake asynchronous device, in a test binary of its own: the
//! suite reads the device's memory counters, which no other test may move meanwhile.

use silica_core::backendtest::{run_all, AsyncCpuBackend};
use silica_core::DType;

#[test]
fn async_backend_conforms() {
    run_all(AsyncCpuBackend::register()).unwrap();
}

/// A device without F64, as Metal is: the suite runs in the dtypes it has, and checks that
/// F64 is refused with a clear error.
#[test]
fn a_device_without_f64_conforms_in_the_dtypes_it_has() {
    run_all(AsyncCpuBackend::register_without(&[DType::F64])).unwrap();
}
