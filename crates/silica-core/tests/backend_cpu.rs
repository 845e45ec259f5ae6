//! The conformance suite on the CPU backend. This binary holds one test, so that the suite's
//! memory check sees no allocations from concurrent tests.

#[test]
fn cpu_backend_conforms() {
    silica_core::backendtest::run_all(silica_core::Device::Cpu).unwrap();
}
