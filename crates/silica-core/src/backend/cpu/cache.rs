//! A cache of freed CPU buffers, so that large tensors reuse memory the process already touched.
//!
//! Allocating a fresh multi-megabyte `Vec` maps new pages, and the first write to each page
//! faults; in a VM that costs more than the arithmetic of most kernels (a conv2d forward of
//! batch 64 took 8 ms with fresh pages and 1 ms with reused ones). Buffers of at least
//! [`MIN_BYTES`] are therefore returned here when their storage drops, grouped by dtype and by a
//! size class (capacities rounded up to 1/8 of a power of two), and handed out again. The cache
//! holds at most [`MAX_CACHED_BYTES`]; [`empty_cache`] releases everything.

use crate::{DType, Element, HostData};
use std::collections::HashMap;
use std::sync::Mutex;

/// Buffers smaller than this come straight from the system allocator.
pub const MIN_BYTES: usize = 64 * 1024;
/// The most bytes the cache keeps.
pub const MAX_CACHED_BYTES: usize = 1 << 30;

#[derive(Default)]
struct Cache {
    free: HashMap<(DType, usize), Vec<HostData>>,
    bytes: usize,
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

fn with_cache<R>(f: impl FnOnce(&mut Cache) -> R) -> R {
    let mut guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Cache::default))
}

/// `n` rounded up to its size class: a multiple of 1/8 of the largest power of two not above
/// `n`, so a class wastes at most an eighth.
fn size_class(n: usize) -> usize {
    let floor_pow2 = if n.is_power_of_two() {
        n
    } else {
        n.next_power_of_two() / 2
    };
    let step = (floor_pow2 / 8).max(1);
    n.div_ceil(step) * step
}

fn capacity_bytes(data: &HostData) -> usize {
    match_host!(data, v => v.capacity()) * data.dtype().size_in_bytes()
}

/// A cached allocation of `n`'s size class, if there is one (its contents are stale).
fn take<T: Element>(n: usize) -> Option<Vec<T>> {
    if n * T::DTYPE.size_in_bytes() < MIN_BYTES {
        return None;
    }
    let class = size_class(n);
    let cached = with_cache(|c| {
        let data = c.free.get_mut(&(T::DTYPE, class))?.pop()?;
        c.bytes -= capacity_bytes(&data);
        Some(data)
    });
    let mut v = cached.and_then(T::from_host).unwrap_or_default();
    v.reserve_exact(class.saturating_sub(v.len()));
    Some(v)
}

/// A vector of `n` copies of `value`, reusing a cached allocation when one fits.
pub(crate) fn filled<T: Element>(n: usize, value: T) -> Vec<T> {
    let Some(mut v) = take(n) else {
        return vec![value; n];
    };
    v.clear();
    v.resize(n, value);
    v
}

/// A vector of `n` elements for a kernel that writes every one of them: a reused allocation
/// keeps its stale values (saving a pass over memory), a fresh one is zeroed.
pub(crate) fn output<T: Element>(n: usize) -> Vec<T> {
    let zero = T::from_f64(0.0);
    let Some(mut v) = take(n) else {
        return vec![zero; n];
    };
    v.truncate(n);
    v.resize(n, zero);
    v
}

/// Takes back the memory of a dropped buffer.
pub(crate) fn recycle(data: HostData) {
    let bytes = capacity_bytes(&data);
    if bytes < MIN_BYTES {
        return;
    }
    let class = match_host!(&data, v => v.capacity());
    if size_class(class) != class {
        return;
    }
    with_cache(|c| {
        if c.bytes + bytes <= MAX_CACHED_BYTES {
            c.bytes += bytes;
            c.free.entry((data.dtype(), class)).or_default().push(data);
        }
    });
}

/// Bytes held by the cache (not by live tensors).
pub fn cached_bytes() -> usize {
    with_cache(|c| c.bytes)
}

/// Returns every cached buffer to the system allocator.
pub fn empty_cache() {
    with_cache(|c| *c = Cache::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up_by_at_most_an_eighth() {
        for n in [1usize, 7, 8, 9, 100, 1000, 65_537, 1 << 20, (1 << 20) + 1] {
            let c = size_class(n);
            assert!(c >= n && c - n <= n / 7 + 1, "{n} -> {c}");
            assert_eq!(size_class(c), c);
        }
    }

    #[test]
    fn large_buffers_are_reused() {
        let n = MIN_BYTES; // f64: 8 x MIN_BYTES bytes
        let v = filled::<f64>(n, 0.0);
        let ptr = v.as_ptr();
        recycle(HostData::F64(v));
        let w = filled::<f64>(n - 3, 2.0);
        // Another test may have taken it first; if not, the memory is reused.
        if w.as_ptr() == ptr {
            assert!(w.iter().all(|&x| x == 2.0) && w.len() == n - 3);
        }
        assert!(filled::<f64>(5, 0.0).iter().all(|&x| x == 0.0));
    }
}
