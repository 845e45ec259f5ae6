//! Storage: one backend buffer, shared by every tensor that views it.

use crate::backend::{get, BackendRef, BufferBox, MemoryCounters, MemoryStats};
use crate::tensor::StorageKey;
use crate::{Device, Result};
use std::sync::Arc;

/// A device buffer and the backend that owns it. Dropping the last `Arc<Storage>` frees the
/// buffer and updates the device's memory counters.
#[derive(Debug)]
pub(crate) struct Storage {
    buffer: BufferBox,
    backend: BackendRef,
    /// The backend's counters, kept so that a drop makes no virtual call to find them.
    memory: &'static MemoryCounters,
    bytes: usize,
    /// The dtype and device, packed by [`StorageKey`].
    key: u64,
}

impl Storage {
    /// Wraps a buffer that `backend` just made.
    #[inline]
    pub(crate) fn new(backend: BackendRef, buffer: BufferBox) -> Arc<Storage> {
        let (len, dtype) = (buffer.len(), buffer.dtype());
        let bytes = len * dtype.size_in_bytes();
        let memory = backend.memory();
        memory.on_alloc(bytes);
        Arc::new(Storage {
            key: StorageKey::of(dtype, backend.device()),
            buffer,
            backend,
            memory,
            bytes,
        })
    }

    /// The dtype and device, packed by [`StorageKey`].
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    #[inline]
    pub(crate) fn buffer(&self) -> &BufferBox {
        &self.buffer
    }

    pub(crate) fn backend(&self) -> BackendRef {
        self.backend
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        self.memory.on_free(self.bytes);
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
