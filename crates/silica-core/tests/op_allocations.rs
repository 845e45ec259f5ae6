//! The heap allocations of one small op, counted by a global allocator of this test binary
//! (its own binary, so no other test allocates meanwhile).
//!
//! A small add on the CPU makes three: the output's elements, the storage that owns them (the
//! CPU buffer sits inside it) and the tensor handle. Shapes and strides of up to four dims sit
//! inline.

use silica_core::{DType, Device, Tensor};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counter has no
// effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `layout` is passed on as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `ptr` came from this allocator with `layout`, as the caller guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator with `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f`, the fewest of a few runs (a first call may initialise lazily).
fn allocations(f: impl Fn()) -> usize {
    (0..5)
        .map(|_| {
            let before = ALLOCATIONS.load(Ordering::Relaxed);
            f();
            ALLOCATIONS.load(Ordering::Relaxed) - before
        })
        .min()
        .unwrap()
}

/// One test, so that no other test of this binary allocates while it counts.
#[test]
fn small_ops_allocate_only_their_outputs() {
    let cases: [(&str, &[usize]); 4] = [
        ("vector", &[16]),
        ("matrix", &[4, 4]),
        ("4-d", &[2, 2, 2, 2]),
        ("scalar", &[]),
    ];
    type BinaryFn = fn(&Tensor, &Tensor) -> silica_core::Result<Tensor>;
    let ops: [(&str, BinaryFn); 4] = [
        ("x.add(&y)", |x, y| x.add(y)),
        ("x.mul_scalar(2.0)", |x, _| x.mul_scalar(2.0)),
        ("x.exp()", |x, _| x.exp()),
        ("x.relu()", |x, _| x.relu()),
    ];
    for (name, dims) in cases {
        let x = Tensor::ones(dims, DType::F32, Device::Cpu).unwrap();
        let y = Tensor::ones(dims, DType::F32, Device::Cpu).unwrap();
        for (op, f) in ops {
            let n = allocations(|| drop(f(&x, &y).unwrap()));
            assert_eq!(n, 3, "{name} {dims:?}: {op} made {n} heap allocations");
        }
    }
    let x = Tensor::ones([4, 4], DType::F32, Device::Cpu).unwrap();
    let b = Tensor::ones([4], DType::F32, Device::Cpu).unwrap();
    // The broadcast view of `b` is a second tensor handle: one allocation more.
    let n = allocations(|| drop(x.add(&b).unwrap()));
    assert_eq!(n, 4, "x.add(&b) with b broadcast made {n} heap allocations");
}
