//! Storage: one backend buffer, shared by every tensor that views it.

use crate::backend::{get, BackendRef, BufferBox, MemoryStats};
use crate::{Device, Result};
use std::sync::Arc;

/// A device buffer and the backend that owns it. Dropping the last `Arc<Storage>` frees the
/// buffer and updates the device's memory counters.
#[derive(Debug)]
pub(crate) struct Storage {
    buffer: BufferBox,
    backend: BackendRef,
    bytes: usize,
}

impl Storage {
    /// Wraps a buffer that `backend` just made.
    pub(crate) fn new(backend: BackendRef, buffer: BufferBox) -> Arc<Storage> {
        let bytes = buffer.len() * buffer.dtype().size_in_bytes();
        backend.memory().on_alloc(bytes);
        Arc::new(Storage {
            buffer,
            backend,
            bytes,
        })
    }

    pub(crate) fn buffer(&self) -> &dyn crate::backend::Buffer {
        &*self.buffer
    }

    pub(crate) fn backend(&self) -> BackendRef {
        self.backend
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        self.backend.memory().on_free(self.bytes);
    }
}

/// Live storages, live bytes and peak bytes of `device`.
///
/// # Examples
///
/// ```
/// use silica_core::{memory_stats, Device, Tensor, DType};
/// let before = memory_stats(Device::Cpu).unwrap();
/// let t = Tensor::zeros([256], DType::F32, Device::Cpu).unwrap();
/// assert!(memory_stats(Device::Cpu).unwrap().peak_bytes >= 1024);
/// drop(t);
/// ```
pub fn memory_stats(device: Device) -> Result<MemoryStats> {
    let backend = get(device)?;
    Ok(MemoryStats {
        cached_bytes: backend.cached_bytes(),
        ..backend.memory().stats()
    })
}

/// Releases the memory `device`'s allocator keeps cached, like `torch.cuda.empty_cache()`.
pub fn empty_cache(device: Device) -> Result<()> {
    get(device)?.empty_cache();
    Ok(())
}
