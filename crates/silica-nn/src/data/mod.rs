//! Datasets and the [`DataLoader`].
//!
//! A [`Dataset`] gives samples by index; a sample is a list of tensors, one per field (for
//! example `[image, label]`). Datasets are shared between threads as `Arc<dyn Dataset>`: the
//! loader, [`Subset`] and [`random_split`] take any `Dataset + 'static` (a user's type, a
//! built-in one, or an `Arc` of either) and wrap it once.
//!
//! The [`DataLoader`] turns a dataset into batches: it orders the indices (shuffled by a seeded
//! permutation that depends only on the seed and the epoch), fetches samples (in the caller's
//! thread or in worker threads), stacks each field along a new dim 0, and moves the batch to a
//! device.
//!
//! Built-in datasets: [`TensorDataset`] (rows of tensors), [`Digits`] (8x8 digits embedded in
//! the library), [`MnistDataset`] (IDX files) and [`CsvDataset`] (numeric CSV files).

mod csv;
mod dataset;
mod digits;
mod loader;
mod mnist;

pub use csv::*;
pub use dataset::*;
pub use digits::*;
pub use loader::*;
pub use mnist::*;

use silica_core::{Result, Tensor};
use std::sync::Arc;

/// A collection of samples, each a list of tensors (`[features, label]`).
pub trait Dataset: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    /// True when there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `index`: one tensor per field, with the same shapes for every index.
    fn get(&self, index: usize) -> Result<Vec<Tensor>>;
}

/// A shared dataset is a dataset, so an `Arc<dyn Dataset>` can be handed to the loader again.
impl<D: Dataset + ?Sized> Dataset for Arc<D> {
    fn len(&self) -> usize {
        (**self).len()
    }

    fn get(&self, index: usize) -> Result<Vec<Tensor>> {
        (**self).get(index)
    }
}

/// A boxed dataset is a dataset.
impl<D: Dataset + ?Sized> Dataset for Box<D> {
    fn len(&self) -> usize {
        (**self).len()
    }

    fn get(&self, index: usize) -> Result<Vec<Tensor>> {
        (**self).get(index)
    }
}

/// Wraps `dataset` for sharing; an `Arc<dyn Dataset>` given here is wrapped once more, which
/// costs one pointer hop per sample.
fn share(dataset: impl Dataset + 'static) -> Arc<dyn Dataset> {
    Arc::new(dataset)
}

/// An error about the contents of a file (or of embedded data) called `path`: an
/// [`silica_core::Error::Io`] of kind [`std::io::ErrorKind::InvalidData`], which reads
/// "`path`: `msg`".
fn invalid_data(path: &str, msg: impl Into<String>) -> silica_core::Error {
    silica_core::Error::Io {
        path: path.to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into()),
    }
}

/// Reads the whole file at `path`, naming the path in the error.
fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| silica_core::Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// `bytes`, gunzipped when they start with the gzip magic number (`1f 8b`).
fn maybe_gunzip(bytes: Vec<u8>, path: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_end(&mut out)
        .map_err(|e| invalid_data(path, format!("cannot decompress gzip data: {e}")))?;
    Ok(out)
}
