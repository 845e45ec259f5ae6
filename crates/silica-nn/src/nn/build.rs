//! Where new layers put their parameters and buffers: the CPU in F32 by default, or the device
//! and dtype of a [`build_on`] guard, as PyTorch's `with torch.device(...)` and
//! `torch.set_default_dtype`.

use silica_core::{backend, DType, Device, Error, Result};
use std::cell::Cell;

thread_local! {
    static TARGET: Cell<(Device, DType)> = const { Cell::new((Device::Cpu, DType::F32)) };
}

/// The device and float dtype that layers built now on this thread use.
pub fn build_target() -> (Device, DType) {
    TARGET.with(Cell::get)
}

/// While the returned guard lives, layers built on this thread create their parameters and
/// buffers directly on `device`, in `dtype` (a float dtype; integer buffers keep theirs).
/// Random initial values are the same as on the CPU: every device draws the same Philox
/// stream. Guards nest; dropping one restores the target before it.
///
/// # Examples
///
/// ```
/// use silica_core::{backendtest::AsyncCpuBackend, DType, Generator};
/// use silica_nn::nn::{build_on, Linear};
/// # fn main() -> silica_core::Result<()> {
/// let device = AsyncCpuBackend::register();
/// let fc = {
///     let _on = build_on(device, DType::F64)?;
///     Linear::new(3, 2, true, &Generator::new(0))?
/// };
/// assert_eq!((fc.weight().device(), fc.weight().dtype()), (device, DType::F64));
/// # Ok(()) }
/// ```
pub fn build_on(device: Device, dtype: DType) -> Result<BuildOn> {
    if !dtype.is_float() {
        return Err(Error::dtype(
            "build_on",
            dtype,
            "a float dtype for parameters",
        ));
    }
    backend::get(device)?.check_dtype("build_on", dtype)?;
    let previous = TARGET.with(|t| t.replace((device, dtype)));
    Ok(BuildOn { previous })
}

/// The guard of [`build_on`]: restores the previous build target when dropped.
#[must_use = "layers are built on the target only while the guard lives"]
#[derive(Debug)]
pub struct BuildOn {
    previous: (Device, DType),
}

impl Drop for BuildOn {
    fn drop(&mut self) {
        TARGET.with(|t| t.set(self.previous));
    }
}
