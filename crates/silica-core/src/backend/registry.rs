//! Finding the backend that drives a [`Device`].

use super::{cpu::CpuBackend, Backend};
use crate::{Device, Error, Result};
use std::sync::{OnceLock, RwLock};

/// A backend lives as long as the process: tensors hold a plain reference to theirs, so that
/// an op pays no reference count for it.
pub type BackendRef = &'static dyn Backend;

static CPU: OnceLock<CpuBackend> = OnceLock::new();
static CUSTOM: RwLock<Vec<BackendRef>> = RwLock::new(Vec::new());

/// The CPU backend.
pub(crate) fn cpu() -> BackendRef {
    CPU.get_or_init(CpuBackend::new)
}

/// The backend for `device`, or an error saying why it is unavailable.
pub fn get(device: Device) -> Result<BackendRef> {
    match device {
        Device::Cpu => Ok(cpu()),
        Device::Cuda(_) => Err(Error::DeviceUnavailable {
            device,
            reason: "this build has no CUDA backend yet (the `cuda` feature)".into(),
        }),
        Device::Metal(_) => Err(Error::DeviceUnavailable {
            device,
            reason: if cfg!(target_vendor = "apple") {
                "the Metal backend is not built yet".into()
            } else {
                "Metal is only built on Apple targets".into()
            },
        }),
        Device::Custom(i) => CUSTOM
            .read()
            .map_err(|_| Error::invalid("device", "the backend registry is poisoned"))?
            .get(i)
            .cloned()
            .ok_or_else(|| Error::DeviceUnavailable {
                device,
                reason: "no backend was registered under this number".into(),
            }),
    }
}

/// Registers a backend built by `make`, which receives the [`Device::Custom`] it will answer
/// to, and returns that device. The backend is never dropped: it serves its device until the
/// process ends, as the built-in ones do.
pub fn register(make: impl FnOnce(Device) -> Box<dyn Backend>) -> Device {
    let mut list = CUSTOM.write().unwrap_or_else(|e| e.into_inner());
    let device = Device::Custom(list.len());
    list.push(Box::leak(make(device)));
    device
}
