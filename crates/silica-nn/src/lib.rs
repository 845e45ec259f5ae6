//! # silica-nn
//!
//! The training stack on top of `silica-core`: [`nn`] (modules, layers, losses, initialisation),
//! [`optim`] (optimizers, schedulers, gradient clipping), [`data`] (datasets and the
//! `DataLoader`) and [`io`] (state dicts and checkpoints as safetensors).

#![warn(missing_docs)]

pub mod data;
pub mod io;
pub mod nn;
pub mod optim;
