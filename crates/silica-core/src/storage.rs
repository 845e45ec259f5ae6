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
        let key = StorageKey::of(dtype, backend.device());
        arc_in_place(|| Storage {
            key,
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

/// `Arc::new(make())`, with the value written straight into the new allocation.
///
/// `Arc::new` builds its argument on the stack and copies it: for the storage and the tensor
/// handle that every op creates, the copy read back values just written, and the loads stalled
/// on store forwarding (7-8 ns of a 108 ns op).
#[inline(always)]
pub(crate) fn arc_in_place<T>(make: impl FnOnce() -> T) -> Arc<T> {
    let slot = Arc::<T>::new_uninit();
    let ptr = Arc::as_ptr(&slot).cast_mut();
    // SAFETY: `slot` is the only handle to a fresh allocation, so nothing else reads or writes
    // it during the write; `Arc::as_ptr` keeps the allocation's write permission. After the
    // write the value is initialised, as `assume_init` requires. Should `make` panic, `slot`
    // is dropped still uninitialised, which frees the allocation and drops nothing.
    unsafe {
        (*ptr).write(make());
        slot.assume_init()
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

#[cfg(test)]
mod tests {
    use super::arc_in_place;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts its drops in the counter it points to.
    struct Counted<'a>(&'a AtomicUsize, [u64; 8]);

    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn arc_in_place_holds_the_value_and_drops_it_once() {
        let drops = AtomicUsize::new(0);
        let a = arc_in_place(|| Counted(&drops, [7; 8]));
        let b = a.clone();
        assert_eq!(a.1, [7; 8]);
        drop(a);
        assert_eq!(drops.load(Ordering::Relaxed), 0);
        drop(b);
        assert_eq!(drops.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn arc_in_place_drops_nothing_when_make_panics() {
        let drops = AtomicUsize::new(0);
        let result = std::panic::catch_unwind(|| {
            arc_in_place::<Counted>(|| panic!("make failed"));
        });
        assert!(result.is_err());
        assert_eq!(drops.load(Ordering::Relaxed), 0);
    }
}
