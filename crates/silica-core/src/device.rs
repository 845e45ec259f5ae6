//! Devices: where a tensor's storage lives.

use crate::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// A device that can hold tensors.
///
/// # Examples
///
/// ```
/// use silica_core::Device;
/// let d: Device = "cuda:1".parse().unwrap();
/// assert_eq!(d, Device::Cuda(1));
/// assert_eq!(Device::Cpu.to_string(), "cpu");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Device {
    /// The host CPU.
    Cpu,
    /// An NVIDIA GPU, by ordinal (needs the `cuda` feature).
    Cuda(usize),
    /// An Apple GPU, by ordinal (built on Apple targets).
    Metal(usize),
    /// A backend registered at run time with [`crate::backend::register`], by registration
    /// number. The test suite's asynchronous fake device is one.
    Custom(usize),
}

impl Device {
    /// The best device available: a CUDA GPU, else a Metal GPU, else the CPU.
    pub fn best() -> Device {
        [Device::Cuda(0), Device::Metal(0)]
            .into_iter()
            .find(|d| crate::backend::get(*d).is_ok())
            .unwrap_or(Device::Cpu)
    }

    /// The device named by the `SILICA_DEVICE` environment variable (`cpu`, `cuda:0`, `metal`),
    /// or the CPU when it is unset. An unparsable value is an error.
    pub fn from_env() -> Result<Device> {
        match std::env::var("SILICA_DEVICE") {
            Ok(s) if !s.is_empty() => s.parse(),
            _ => Ok(Device::Cpu),
        }
    }

    /// True for the CPU.
    pub fn is_cpu(&self) -> bool {
        matches!(self, Device::Cpu)
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
            Device::Metal(i) => write!(f, "metal:{i}"),
            Device::Custom(i) => write!(f, "custom:{i}"),
        }
    }
}

impl FromStr for Device {
    type Err = Error;

    fn from_str(s: &str) -> Result<Device> {
        let s = s.trim().to_ascii_lowercase();
        let (kind, index) = match s.split_once(':') {
            Some((k, i)) => {
                let i = i.parse::<usize>().map_err(|_| {
                    Error::invalid("device", format!("cannot parse device index in {s:?}"))
                })?;
                (k.to_string(), i)
            }
            None => (s.clone(), 0),
        };
        match kind.as_str() {
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda(index)),
            "metal" | "mps" => Ok(Device::Metal(index)),
            "custom" => Ok(Device::Custom(index)),
            _ => Err(Error::invalid(
                "device",
                format!("unknown device {s:?}; expected cpu, cuda[:N] or metal[:N]"),
            )),
        }
    }
}
