//! # Silica
//!
//! A PyTorch-like deep-learning library in Rust: tensors with autograd ([`Tensor`]), neural
//! network modules and losses ([`nn`]), optimizers and schedulers ([`optim`]), datasets and the
//! `DataLoader` ([`data`]), and safetensors checkpoints ([`io`]). It runs on the CPU; the CUDA and
//! Metal backends are not written yet (they will implement the same backend contract). It builds with cargo alone.
//!
//! # Examples
//!
//! ```
//! use silica::prelude::*;
//! # fn main() -> silica::Result<()> {
//! let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0], [3], Device::Cpu)?;
//! x.set_requires_grad(true)?;
//! let y = x.square()?.sum_all()?;
//! y.backward()?;
//! assert_eq!(x.grad().unwrap().to_vec::<f32>()?, vec![2.0, 4.0, 6.0]);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub use silica_core::*;
pub use silica_nn::{data, io, nn, optim};

/// The names most programs need: `use silica::prelude::*;`.
pub mod prelude {
    pub use silica_core::{
        manual_seed, no_grad, Conv2dConfig, DType, Device, Error, Generator, PadMode, Pool2dConfig,
        Result, Scalar, Shape, Tensor,
    };
    pub use silica_nn::data::{DataLoader, DataLoaderConfig, Dataset};
    pub use silica_nn::nn::Module;
    pub use silica_nn::optim::{LrScheduler, Optimizer};
}
