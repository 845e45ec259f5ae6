//! # silica-core
//!
//! Silica's tensor core: [`Tensor`] (a strided view of a device storage, with autograd), the
//! backend contract ([`backend::DeviceBackend`] and [`backend::Kernels`]), the CPU backend,
//! Philox random numbers, safetensors I/O, and the conformance suite [`backendtest`].
//!
//! # Examples
//!
//! ```
//! use silica_core::{Tensor, DType, Device};
//! # fn main() -> silica_core::Result<()> {
//! let w = Tensor::randn([3, 2], DType::F32, Device::Cpu)?;
//! w.set_requires_grad(true)?;
//! let x = Tensor::ones([4, 3], DType::F32, Device::Cpu)?;
//! let loss = x.matmul(&w)?.relu()?.mean_all()?;
//! loss.backward()?;
//! assert_eq!(w.grad().unwrap().dims(), &[3, 2]);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

#[macro_use]
mod macros;

pub mod autograd;
pub mod backend;
pub mod backendtest;
mod device;
mod dtype;
mod error;
mod host;
mod layout;
pub mod rng;
pub mod safetensors;
mod scalar;
mod shape;
mod storage;
mod tensor;

pub use autograd::{
    grad, gradcheck, gradgradcheck, is_grad_enabled, no_grad, BackwardOptions, Function,
    GradModeGuard, GradcheckOptions, HookHandle,
};
pub use backend::MemoryStats;
pub use device::Device;
pub use dtype::{DType, Element};
pub use error::{Error, Result};
pub use host::HostData;
pub use layout::Layout;
pub use rng::{manual_seed, Generator, GeneratorState};
pub use scalar::Scalar;
pub use shape::{Dim, Dims, Shape};
pub use storage::{empty_cache, memory_stats};
pub use tensor::{Conv2dConfig, PadMode, Pool2dConfig, Tensor, TensorId};
pub use tensor::{DimSize, ShapeSpec};
