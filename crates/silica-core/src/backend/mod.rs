//! The backend contract: what every device provides.
//!
//! Two small traits define a backend:
//! - [`DeviceBackend`]: host↔device copies, synchronisation and memory accounting;
//! - [`Kernels`]: the primitive ops, each on (buffer, layout) pairs ([`View`]s).
//!
//! Every kernel writes a fresh contiguous buffer (except [`Kernels::copy_into`]), so inputs may
//! be any strided view, including expanded dims with stride 0. Fused fast paths (softmax, ...) are
//! default methods that return [`Error::NotSupported`]; the tensor layer then composes the
//! primitives.
//!
//! Execution may be asynchronous: a kernel may return before its work has run, and its output
//! buffer may be read only through [`DeviceBackend::to_host`], which waits. A failure raised by
//! device work surfaces at the next synchronisation.

pub mod cpu;
mod ops;
mod registry;

pub use ops::{AdamStep, BinaryOp, Conv2dParams, Distribution, Pool2dParams, ReduceOp, UnaryOp};
pub(crate) use registry::cpu;
pub use registry::{get, register, BackendRef};

use crate::{DType, Device, Error, HostData, Layout, Result, Scalar};
use std::any::Any;
use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A device buffer: a run of elements of one dtype, owned by a backend.
pub trait Buffer: Any + Send + Sync + Debug {
    /// The element dtype.
    fn dtype(&self) -> DType;
    /// Number of elements.
    fn len(&self) -> usize;
    /// True when the buffer has no elements.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// For the owning backend to downcast to its own buffer type.
    fn as_any(&self) -> &dyn Any;
}

/// An owned buffer, as kernels return them.
///
/// A CPU buffer is held inline, so that the storage wrapping it takes no allocation of its
/// own; any other backend's buffer is boxed ([`BufferBox::new`]).
#[derive(Debug)]
pub struct BufferBox(BufferRepr);

#[derive(Debug)]
enum BufferRepr {
    Cpu(cpu::CpuBuffer),
    Boxed(Box<dyn Buffer>),
}

impl BufferBox {
    /// Boxes a backend's buffer.
    pub fn new(buffer: impl Buffer) -> Self {
        BufferBox(BufferRepr::Boxed(Box::new(buffer)))
    }

    /// Holds a CPU buffer inline.
    #[inline]
    pub fn cpu(buffer: cpu::CpuBuffer) -> Self {
        BufferBox(BufferRepr::Cpu(buffer))
    }

    /// Number of elements (without a virtual call for a CPU buffer).
    #[inline]
    pub fn len(&self) -> usize {
        match &self.0 {
            BufferRepr::Cpu(b) => b.len(),
            BufferRepr::Boxed(b) => b.len(),
        }
    }

    /// True when the buffer has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element dtype (without a virtual call for a CPU buffer).
    #[inline]
    pub fn dtype(&self) -> DType {
        match &self.0 {
            BufferRepr::Cpu(b) => b.dtype(),
            BufferRepr::Boxed(b) => b.dtype(),
        }
    }

    /// The CPU buffer inside, if this is one.
    #[inline]
    pub(crate) fn as_cpu(&self) -> Option<&cpu::CpuBuffer> {
        match &self.0 {
            BufferRepr::Cpu(b) => Some(b),
            BufferRepr::Boxed(_) => None,
        }
    }

    /// Unwraps the CPU buffer inside, if this is one.
    pub(crate) fn into_cpu(self) -> Option<cpu::CpuBuffer> {
        match self.0 {
            BufferRepr::Cpu(b) => Some(b),
            BufferRepr::Boxed(_) => None,
        }
    }
}

impl std::ops::Deref for BufferBox {
    type Target = dyn Buffer;

    #[inline]
    fn deref(&self) -> &(dyn Buffer + 'static) {
        match &self.0 {
            BufferRepr::Cpu(b) => b,
            BufferRepr::Boxed(b) => &**b,
        }
    }
}

/// A strided view of a buffer: the input of every kernel.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    /// The buffer holding the elements.
    pub buf: &'a dyn Buffer,
    /// Where the view's elements sit in `buf`.
    pub layout: &'a Layout,
    /// `buf` as the CPU buffer it is, when the tensor layer knows: the CPU backend then
    /// needs no downcast.
    cpu: Option<&'a cpu::CpuBuffer>,
}

impl<'a> View<'a> {
    /// A view of `buf` through `layout`.
    pub fn new(buf: &'a dyn Buffer, layout: &'a Layout) -> Self {
        View {
            buf,
            layout,
            cpu: None,
        }
    }

    /// A view of an owned buffer through `layout`.
    #[inline]
    pub(crate) fn of(buf: &'a BufferBox, layout: &'a Layout) -> Self {
        View {
            buf: &**buf,
            layout,
            cpu: buf.as_cpu(),
        }
    }

    /// The CPU buffer behind `buf`, if known without a downcast.
    #[inline]
    pub(crate) fn known_cpu(&self) -> Option<&'a cpu::CpuBuffer> {
        self.cpu
    }

    /// The element dtype.
    pub fn dtype(&self) -> DType {
        self.buf.dtype()
    }

    /// The view's dimension sizes.
    pub fn dims(&self) -> &'a [usize] {
        self.layout.dims()
    }
}

/// Device-level services: copies between host and device, synchronisation, memory accounting.
pub trait DeviceBackend: Send + Sync + Debug {
    /// The device this backend drives.
    fn device(&self) -> Device;

    /// A human-readable description, e.g. `cpu (2 threads)`.
    fn describe(&self) -> String;

    /// True when this device stores and computes `dtype` (all of them by default; Metal has
    /// no F64). The tensor layer refuses the others with [`Error::UnsupportedDtype`] wherever a
    /// tensor of a new dtype would appear on the device, and the conformance suite checks only
    /// these.
    fn supports(&self, dtype: DType) -> bool {
        let _ = dtype;
        true
    }

    /// Fails with [`Error::UnsupportedDtype`] unless this device supports `dtype`.
    fn check_dtype(&self, op: &'static str, dtype: DType) -> Result<()> {
        if self.supports(dtype) {
            Ok(())
        } else {
            Err(Error::UnsupportedDtype {
                op,
                dtype,
                device: self.device(),
            })
        }
    }

    /// Total device memory in bytes, where known.
    fn total_memory(&self) -> Option<usize> {
        None
    }

    /// Copies host data into a new device buffer of the same dtype.
    fn upload(&self, data: HostData) -> Result<BufferBox>;

    /// Copies the elements of `src`, in row-major order, to the host. Waits for all work that
    /// produces them, and reports any error raised by earlier device work.
    fn to_host(&self, src: View<'_>) -> Result<HostData>;

    /// Copies the elements of `src`, in row-major order, into a new buffer on `target` (another
    /// device). The default goes through the host: this device's `to_host`, which waits, then
    /// `target.upload`. A backend may override it with a direct copy, peer to peer or
    /// asynchronous through pinned memory.
    fn copy_to(&self, src: View<'_>, target: &dyn Backend) -> Result<BufferBox> {
        target.upload(self.to_host(src)?)
    }

    /// Waits until all queued work has finished, and reports any error it raised.
    fn synchronize(&self) -> Result<()>;

    /// The live-storage counters of this device.
    fn memory(&self) -> &MemoryCounters;

    /// Bytes the backend's allocator keeps cached for reuse (not held by any tensor).
    fn cached_bytes(&self) -> usize {
        0
    }

    /// Releases the allocator's cached memory, like `torch.cuda.empty_cache()`.
    fn empty_cache(&self) {}
}

/// The primitive ops every backend implements, and the optional fused ones.
pub trait Kernels: DeviceBackend {
    /// `len` elements of `dtype`, each equal to `value` (cast as `as` casts do: an integer
    /// scalar wraps into a narrower integer dtype, and stays exact in I64).
    fn fill(&self, dtype: DType, len: usize, value: Scalar) -> Result<BufferBox>;

    /// `len` random elements of `dtype` from `dist`, from the Philox stream `seed` starting at
    /// block `offset` (see [`crate::rng`] for the exact mapping, which every backend shares).
    fn random(
        &self,
        dist: Distribution,
        dtype: DType,
        len: usize,
        seed: u64,
        offset: u64,
    ) -> Result<BufferBox>;

    /// A contiguous copy of `src`, cast to `dtype`.
    fn copy(&self, src: View<'_>, dtype: DType) -> Result<BufferBox>;

    /// Writes the elements of `src` (cast to the dtype of `dst`) into the strided region
    /// `dst_layout` of the existing buffer `dst`. Shapes are equal.
    fn copy_into(&self, src: View<'_>, dst: &dyn Buffer, dst_layout: &Layout) -> Result<()>;

    /// Elementwise `op(src)`, same dtype.
    fn unary(&self, op: UnaryOp, src: View<'_>) -> Result<BufferBox>;

    /// Elementwise `op(lhs, rhs)`. Both have the same shape (broadcast by stride 0) and dtype;
    /// the output has that dtype, or Bool for comparisons and logical ops.
    fn binary(&self, op: BinaryOp, lhs: View<'_>, rhs: View<'_>) -> Result<BufferBox>;

    /// Elementwise `op(lhs, rhs)` with a scalar right operand: the output has `lhs`'s dtype, or
    /// Bool for comparisons and logical ops. The tensor layer has already cast `lhs` to the
    /// promoted dtype and converted the scalar as a fill would (see [`Kernels::fill`]).
    /// Optional: the default fills a one-element buffer and broadcasts it through
    /// [`Kernels::binary`].
    fn binary_scalar(&self, op: BinaryOp, lhs: View<'_>, rhs: Scalar) -> Result<BufferBox> {
        let one = self.fill(lhs.dtype(), 1, rhs)?;
        let dims = lhs.dims();
        let layout = Layout::new(dims.into(), &vec![0; dims.len()], 0);
        self.binary(op, lhs, View::new(&*one, &layout))
    }

    /// `cond ? on_true : on_false` elementwise; `cond` is Bool, the others share a dtype, all
    /// share a shape.
    fn where_cond(
        &self,
        cond: View<'_>,
        on_true: View<'_>,
        on_false: View<'_>,
    ) -> Result<BufferBox>;

    /// Reduces `src` over `dims` (sorted, non-empty). The output is contiguous with the shape
    /// of `src` where reduced dims have size 1. ArgMax and ArgMin take one dim and give I64.
    fn reduce(&self, op: ReduceOp, src: View<'_>, dims: &[usize]) -> Result<BufferBox>;

    /// Batched matrix product: `lhs` is `[batch.., m, k]`, `rhs` is `[batch.., k, n]` with the
    /// same batch dims (broadcast by stride 0); the output is `[batch.., m, n]`. Float dtypes.
    fn matmul(&self, lhs: View<'_>, rhs: View<'_>) -> Result<BufferBox>;

    /// 2-D convolution (cross-correlation): `input` `[n, c_in, h, w]`, `weight`
    /// `[c_out, c_in / groups, kh, kw]`, and an optional `bias` `[c_out]` added to every output
    /// position of its channel; output `[n, c_out, out_h, out_w]`.
    fn conv2d(
        &self,
        input: View<'_>,
        weight: View<'_>,
        bias: Option<View<'_>>,
        p: &Conv2dParams,
    ) -> Result<BufferBox>;

    /// Gradient of [`Kernels::conv2d`] with respect to its input: `grad_out`
    /// `[n, c_out, out_h, out_w]` to `[n, c_in, h, w]`.
    fn conv2d_backward_input(
        &self,
        grad_out: View<'_>,
        weight: View<'_>,
        p: &Conv2dParams,
    ) -> Result<BufferBox>;

    /// Gradient of [`Kernels::conv2d`] with respect to its weight, `[c_out, c_in / groups, kh, kw]`.
    fn conv2d_backward_weight(
        &self,
        input: View<'_>,
        grad_out: View<'_>,
        p: &Conv2dParams,
    ) -> Result<BufferBox>;

    /// 2-D max pooling of `[n, c, h, w]`: the maxima `[n, c, out_h, out_w]`, and (I64, same shape)
    /// the index of each maximum within its `h * w` input plane.
    fn max_pool2d(&self, input: View<'_>, p: &Pool2dParams) -> Result<(BufferBox, BufferBox)>;

    /// A stable sort of `src` along `dim`: the sorted values (contiguous, `src`'s shape and
    /// dtype) and, as I64, the index of each within its slice. Ascending, or `descending`;
    /// equal values keep their order either way, and NaN counts as greater than every number
    /// (last ascending, first descending), as in PyTorch.
    fn sort(&self, src: View<'_>, dim: usize, descending: bool) -> Result<(BufferBox, BufferBox)>;

    /// 2-D average pooling of `[n, c, h, w]` to `[n, c, out_h, out_w]`.
    fn avg_pool2d(&self, input: View<'_>, p: &Pool2dParams) -> Result<BufferBox>;

    /// Gradient of [`Kernels::avg_pool2d`]: `[n, c, out_h, out_w]` to `[n, c, h, w]`.
    fn avg_pool2d_backward(&self, grad_out: View<'_>, p: &Pool2dParams) -> Result<BufferBox>;

    /// `src` indexed along `dim` by the 1-D I64/I32 `index`: the output has `src`'s shape with
    /// `dim` of size `index.len()`. An index out of range is an error.
    fn index_select(&self, src: View<'_>, dim: usize, index: View<'_>) -> Result<BufferBox>;

    /// `out[i][j][k] = src[i][index[i][j][k]][k]` for `dim == 1` (likewise for other dims); the
    /// output has `index`'s shape.
    fn gather(&self, src: View<'_>, dim: usize, index: View<'_>) -> Result<BufferBox>;

    /// A copy of `base` with `base[i][index[i][j][k]][k] += src[i][j][k]` for `dim == 1`
    /// (likewise for other dims). `index` and `src` share a shape.
    fn scatter_add(
        &self,
        base: View<'_>,
        dim: usize,
        index: View<'_>,
        src: View<'_>,
    ) -> Result<BufferBox>;

    /// Optional fused softmax (`log = false`) or log-softmax (`log = true`) along `dim`. Float
    /// dtypes; the output is contiguous with `src`'s shape.
    fn softmax(&self, src: View<'_>, dim: usize, log: bool) -> Result<BufferBox> {
        let _ = (src, dim, log);
        Err(Error::NotSupported {
            op: "softmax",
            backend: self.describe(),
        })
    }

    /// Optional fused batch normalisation with batch statistics over every dim but 1 of `x`
    /// (`[n, c, ..]`): returns `(x - mean) / sqrt(var + eps) * weight + bias` (shape of `x`),
    /// and the per-channel mean and biased variance (`[c]`). `weight` and `bias` are `[c]`.
    fn batch_norm(
        &self,
        x: View<'_>,
        weight: Option<View<'_>>,
        bias: Option<View<'_>>,
        eps: f64,
    ) -> Result<[BufferBox; 3]> {
        let _ = (x, weight, bias, eps);
        Err(Error::NotSupported {
            op: "batch_norm",
            backend: self.describe(),
        })
    }

    /// Optional gradient of [`Kernels::batch_norm`]: given the output gradient, the input, and
    /// the batch's mean and biased variance, returns the gradients of `x`, `weight` and `bias`.
    fn batch_norm_backward(
        &self,
        grad: View<'_>,
        x: View<'_>,
        mean: View<'_>,
        var: View<'_>,
        weight: Option<View<'_>>,
        eps: f64,
    ) -> Result<[BufferBox; 3]> {
        let _ = (grad, x, mean, var, weight, eps);
        Err(Error::NotSupported {
            op: "batch_norm_backward",
            backend: self.describe(),
        })
    }

    /// Optional fused Adam/AdamW step (see [`AdamStep`]): writes the new parameter into
    /// `param`'s buffer in place and returns the new `exp_avg`, `exp_avg_sq` and, with AMSGrad,
    /// `max_exp_avg_sq`. Absent moments (the first step) are zeros. Every view has one shape
    /// and dtype.
    fn adam_step(
        &self,
        param: View<'_>,
        grad: View<'_>,
        moments: [Option<View<'_>>; 3],
        s: &AdamStep,
    ) -> Result<Vec<BufferBox>> {
        let _ = (param, grad, moments, s);
        Err(Error::NotSupported {
            op: "adam_step",
            backend: self.describe(),
        })
    }
}

/// A complete backend: device services and kernels.
pub trait Backend: Kernels {}
impl<T: Kernels> Backend for T {}

/// Counts of live storages and bytes on one device, kept by the storage layer. Every op pays
/// for these, so a storage's life costs four atomic additions: the live count is derived from
/// the allocations and frees, and the peak is written only when it rises.
#[derive(Debug, Default)]
pub struct MemoryCounters {
    live_bytes: AtomicUsize,
    peak_bytes: AtomicUsize,
    allocations: AtomicUsize,
    frees: AtomicUsize,
}

/// A snapshot of [`MemoryCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Storages alive now.
    pub live_storages: usize,
    /// Bytes held by the live storages.
    pub live_bytes: usize,
    /// The most bytes live at once since the process started.
    pub peak_bytes: usize,
    /// Storages created since the process started.
    pub allocations: usize,
    /// Bytes the allocator keeps cached for reuse, beyond the live bytes.
    pub cached_bytes: usize,
}

impl MemoryCounters {
    /// Records a new storage of `bytes`.
    pub fn on_alloc(&self, bytes: usize) {
        self.allocations.fetch_add(1, Ordering::Relaxed);
        let now = self.live_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if now > self.peak_bytes.load(Ordering::Relaxed) {
            self.peak_bytes.fetch_max(now, Ordering::Relaxed);
        }
    }

    /// Records that a storage of `bytes` was dropped.
    pub fn on_free(&self, bytes: usize) {
        self.frees.fetch_add(1, Ordering::Relaxed);
        self.live_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// The current counts.
    pub fn stats(&self) -> MemoryStats {
        // Frees first: a storage freed between the two loads then counts as live, never as a
        // negative count.
        let frees = self.frees.load(Ordering::Relaxed);
        let allocations = self.allocations.load(Ordering::Relaxed);
        MemoryStats {
            live_storages: allocations.saturating_sub(frees),
            live_bytes: self.live_bytes.load(Ordering::Relaxed),
            peak_bytes: self.peak_bytes.load(Ordering::Relaxed),
            allocations,
            cached_bytes: 0,
        }
    }
}
