//! Neural-network modules, losses and initialisation, following PyTorch's `torch.nn`.
//!
//! Layers own their parameters as tensors that require grad, with PyTorch's default
//! initialisation drawn from a [`silica_core::Generator`], and PyTorch's `state_dict` names.

mod activation;
mod attention;
mod build;
mod container;
mod conv;
mod dropout;
mod embedding;
pub mod init;
mod linear;
mod loss;
mod module;
mod norm;
mod pool;

pub use activation::*;
pub use attention::*;
pub use build::{build_on, build_target, BuildOn};
pub use container::*;
pub use conv::*;
pub use dropout::*;
pub use embedding::*;
pub use linear::*;
pub use loss::*;
pub use module::{LoadReport, Module, Slot, StateDict};
pub use norm::*;
pub use pool::*;
