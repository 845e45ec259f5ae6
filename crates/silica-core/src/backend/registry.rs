//! Finding the backend that drives a [`Device`].

use super::{cpu::CpuBackend, Backend};
use crate::{Device, Error, Result};
use std::sync::{Arc, OnceLock, RwLock};

static CPU: OnceLock<Arc<dyn Backend>> = OnceLock::new();
static CUSTOM: RwLock<Vec<Arc<dyn Backend>>> = RwLock::new(Vec::new());

/// The backend for `device`, or an error saying why it is unavailable.
pub fn get(device: Device) -> Result<Arc<dyn Backend>> {
    match device {
        Device::Cpu => Ok(CPU
            .get_or_init(|| Arc::new(CpuBackend::new()) as Arc<dyn Backend>)
            .clone()),
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
/// to, and returns that device.
pub fn register(make: impl FnOnce(Device) -> Arc<dyn Backend>) -> Device {
    let mut list = CUSTOM.write().unwrap_or_else(|e| e.into_inner());
    let device = Device::Custom(list.len());
    list.push(make(device));
    device
}
