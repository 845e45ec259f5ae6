//! `silica devices`: every device kind, whether this build and machine provide it, and its
//! memory; and the `--device` parser that `train` and `bench` share.

use silica::backend;
use silica::backendtest::AsyncCpuBackend;
use silica::{Device, Result};

/// Parses a `--device` flag: `cpu`, `cuda[:N]`, `metal[:N]`, or `fake`, which registers the
/// asynchronous fake device (the CPU kernels on a worker thread, run later, as on a GPU).
/// Whether the device is available is checked when it is used.
pub fn parse_device(s: &str) -> std::result::Result<Device, String> {
    if s == "fake" {
        return Ok(AsyncCpuBackend::register());
    }
    s.parse::<Device>().map_err(|e| e.to_string())
}

pub fn run() -> Result<()> {
    for device in [Device::Cpu, Device::Cuda(0), Device::Metal(0)] {
        match backend::get(device) {
            Ok(b) => {
                let memory = b
                    .total_memory()
                    .map(|m| format!("{:.1} GiB", m as f64 / (1u64 << 30) as f64))
                    .or_else(host_memory)
                    .unwrap_or_else(|| "memory unknown".into());
                println!(
                    "{:<8} available    {} ({memory})",
                    device.to_string(),
                    b.describe()
                );
            }
            Err(e) => println!("{:<8} unavailable  {e}", device.to_string()),
        }
    }
    Ok(())
}

/// Total host memory from /proc/meminfo, where there is one.
fn host_memory() -> Option<String> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: f64 = info
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(format!("{:.1} GiB", kib / (1u64 << 20) as f64))
}
