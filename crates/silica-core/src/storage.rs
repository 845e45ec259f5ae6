//! Storage: one backend buffer, shared by every tensor that views it.

use crate::backend::{get, BackendRef, BufferBox, MemoryCounters, MemoryStats};
use crate::{DType, Device, Result};
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

/// A storage's dtype and device packed in a `u64`: the dtype's index in [`DType::ALL`] in
/// bits 0..8, the device kind in bits 8..16, its ordinal above.
pub(crate) struct StorageKey;

impl StorageKey {
    pub(crate) fn of(dtype: DType, device: Device) -> u64 {
        // `DType`'s discriminants are its indices in `DType::ALL`.
        let dtype = dtype as u64;
        let (kind, ordinal) = match device {
            Device::Cpu => (0, 0),
            Device::Cuda(i) => (1, i),
            Device::Metal(i) => (2, i),
            Device::Custom(i) => (3, i),
        };
        dtype | (kind << 8) | ((ordinal as u64) << 16)
    }

    pub(crate) fn dtype(key: u64) -> DType {
        DType::ALL[(key & 0xff) as usize]
    }

    pub(crate) fn device(key: u64) -> Device {
        let ordinal = (key >> 16) as usize;
        match (key >> 8) & 0xff {
            0 => Device::Cpu,
            1 => Device::Cuda(ordinal),
            2 => Device::Metal(ordinal),
            _ => Device::Custom(ordinal),
        }
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
    use super::{arc_in_place, StorageKey};
    use crate::{DType, Device};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn storage_keys_unpack_to_their_dtype_and_device() {
        let devices = [
            Device::Cpu,
            Device::Cuda(0),
            Device::Cuda(7),
            Device::Metal(1),
            Device::Custom(300),
        ];
        for dtype in DType::ALL {
            for device in devices {
                let key = StorageKey::of(dtype, device);
                assert_eq!(StorageKey::dtype(key), dtype, "{dtype} on {device}");
                assert_eq!(StorageKey::device(key), device, "{dtype} on {device}");
            }
        }
    }

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
