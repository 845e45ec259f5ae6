//! The [`Tensor`] type: a cheap handle to a strided view of a device storage, with autograd.

mod arrange;
mod conv;
mod create;
mod display;
mod dropout;
mod einsum;
mod elementwise;
pub(crate) mod fused;
mod index;
mod linalg;
pub(crate) mod norm;
mod ops_traits;
mod pad;
mod pool;
mod reduce;
pub(crate) mod scan;
mod softmax;
mod sort;
mod ternary;
mod view;

pub use conv::Conv2dConfig;
pub use pad::PadMode;
pub use pool::Pool2dConfig;
pub use view::{DimSize, ShapeSpec};

use crate::autograd::{Hooks, Op};
use crate::backend::{BackendRef, BufferBox, View};
use crate::storage::{Storage, StorageKey};
use crate::{DType, Device, Element, Error, HostData, Layout, Result, Shape};
use parking_lot::{RwLock, RwLockReadGuard};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// An n-dimensional array on a device, with automatic differentiation.
///
/// `Tensor` is a cheap `Clone` handle (an `Arc`): clones share the storage, and views such as
/// [`Tensor::transpose`] or [`Tensor::narrow`] share it too, with a new [`Layout`].
///
/// # Examples
/// ```
/// use silica_core::{Tensor, Device};
/// # fn main() -> silica_core::Result<()> {
/// let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0], [2, 2], Device::Cpu)?;
/// x.set_requires_grad(true)?;
/// let y = x.matmul(&x.t()?)?.sum_all()?;
/// y.backward()?;
/// assert_eq!(y.item::<f32>()?, 52.0);
/// assert_eq!(x.grad().unwrap().to_vec::<f32>()?, vec![8.0, 12.0, 8.0, 12.0]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<TensorImpl>);

/// A stable identity for a tensor handle (shared by its clones, not by its views).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    /// A fresh id. Each thread takes ids from the shared counter in blocks, so that creating a
    /// tensor costs no atomic operation.
    #[inline]
    fn next() -> Self {
        const BLOCK: u64 = 1024;
        static NEXT: AtomicU64 = AtomicU64::new(1);
        thread_local!(static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) });
        RANGE.with(|range| {
            let (mut next, mut end) = range.get();
            if next == end {
                next = NEXT.fetch_add(BLOCK, Ordering::Relaxed);
                end = next + BLOCK;
            }
            range.set((next + 1, end));
            TensorId(next)
        })
    }
}

pub(crate) struct TensorImpl {
    id: TensorId,
    /// The storage, swapped only by [`Tensor::set_data`] (moving a parameter to another
    /// device or dtype keeps the handle, as PyTorch's `param.data = ...` does).
    /// Kernels hold it with a recursive read lock (two atomic operations, and no cost when the
    /// tensor drops); `set_data` takes the write lock.
    storage: RwLock<Arc<Storage>>,
    /// The storage's dtype and device, packed by [`StorageKey`]: read on every op without
    /// loading the storage.
    key: AtomicU64,
    layout: Layout,
    /// For leaves, the user's flag; for results, whether an op was recorded.
    requires_grad: AtomicBool,
    /// True for tensors that no recorded op produced.
    is_leaf: bool,
    /// The op that produced this tensor; `None` for leaves and after the graph was freed.
    /// Boxed, so that a tensor that records nothing stays small.
    pub(crate) op: Mutex<Option<Box<Op>>>,
    /// The accumulated gradient of a leaf (or of a non-leaf that retains it).
    pub(crate) grad: Mutex<Option<Tensor>>,
    /// Hooks and `retain_grad`, allocated on first use.
    pub(crate) hooks: Mutex<Option<Box<Hooks>>>,
}

impl Drop for TensorImpl {
    fn drop(&mut self) {
        // Drop long autograd chains iteratively, so a graph of a million ops cannot overflow
        // the stack through nested `Arc` drops.
        let mut stack: Vec<Tensor> = Vec::new();
        let take = |t: &mut TensorImpl, stack: &mut Vec<Tensor>| {
            if let Some(op) = t.op.get_mut().ok().and_then(|o| o.take()) {
                stack.extend((*op).into_inputs());
            }
        };
        take(self, &mut stack);
        while let Some(t) = stack.pop() {
            if let Ok(mut inner) = Arc::try_unwrap(t.0) {
                take(&mut inner, &mut stack);
            }
        }
    }
}

impl Tensor {
    /// Wraps a fresh contiguous buffer of `shape`, recording `op` for autograd.
    #[inline]
    pub(crate) fn from_buffer(
        backend: BackendRef,
        buffer: BufferBox,
        shape: &Shape,
        op: Option<Op>,
    ) -> Tensor {
        debug_assert_eq!(buffer.len(), shape.elem_count());
        // The layout is built inside the allocation's initialiser, so that it is written once,
        // in place: built outside and moved in, its scalar stores were read back by wider loads
        // that stalled on store forwarding.
        Tensor::make(
            Storage::new(backend, buffer),
            || Layout::contiguous_of(shape),
            op,
        )
    }

    #[inline(always)]
    fn make(storage: Arc<Storage>, layout: impl FnOnce() -> Layout, op: Option<Op>) -> Tensor {
        let is_leaf = op.is_none();
        let op = op.map(Box::new);
        let id = TensorId::next();
        Tensor(crate::storage::arc_in_place(|| TensorImpl {
            id,
            key: AtomicU64::new(storage.key()),
            storage: RwLock::new(storage),
            requires_grad: AtomicBool::new(!is_leaf),
            is_leaf,
            layout: layout(),
            op: Mutex::new(op),
            grad: Mutex::new(None),
            hooks: Mutex::new(None),
        }))
    }

    /// A new tensor sharing this storage through `layout`, recording `op`.
    pub(crate) fn with_layout(&self, layout: Layout, op: Option<Op>) -> Tensor {
        Tensor::make(self.storage().clone(), || layout, op)
    }

    /// The storage, held for the length of a kernel call.
    #[inline]
    fn storage(&self) -> RwLockReadGuard<'_, Arc<Storage>> {
        // Recursive, so that one thread may hold a tensor twice (`x.add(&x)`) even while
        // another waits to write.
        self.0.storage.read_recursive()
    }

    /// The identity of this handle.
    pub fn id(&self) -> TensorId {
        self.0.id
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        self.0.layout.shape()
    }

    /// The dimension sizes.
    pub fn dims(&self) -> &[usize] {
        self.0.layout.dims()
    }

    /// The size of dimension `dim` (negative counts from the end).
    pub fn size(&self, dim: impl crate::Dim) -> Result<usize> {
        Ok(self.dims()[self.shape().dim("size", dim)?])
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape().rank()
    }

    /// Number of elements.
    pub fn elem_count(&self) -> usize {
        self.0.layout.elem_count()
    }

    /// The element dtype.
    pub fn dtype(&self) -> DType {
        StorageKey::dtype(self.0.key.load(Ordering::Relaxed))
    }

    /// True when `self` and `other` have one dtype and one device.
    pub(crate) fn same_storage_key(&self, other: &Tensor) -> bool {
        self.0.key.load(Ordering::Relaxed) == other.0.key.load(Ordering::Relaxed)
    }

    /// The device holding the storage.
    pub fn device(&self) -> Device {
        StorageKey::device(self.0.key.load(Ordering::Relaxed))
    }

    /// The strided layout of this view.
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }

    /// The strides, in elements.
    pub fn strides(&self) -> &[usize] {
        self.0.layout.strides()
    }

    /// True when the elements are in row-major order with no gaps.
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }

    /// True when this handle is the only one to its data: no clone, view or other tensor
    /// shares the storage.
    pub(crate) fn is_exclusive(&self) -> bool {
        Arc::strong_count(&self.0) == 1 && Arc::strong_count(&self.storage()) == 1
    }

    /// True when `self` and `other` view the same storage.
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage(), &other.storage())
    }

    /// The backend that owns the storage.
    #[inline]
    pub(crate) fn backend(&self) -> BackendRef {
        if self.device() == Device::Cpu {
            // The common case, without taking the storage's lock.
            return crate::backend::cpu();
        }
        self.storage().backend()
    }

    /// The storage held with the layout, for a kernel call: `t.hold().view()`.
    #[inline]
    pub(crate) fn hold(&self) -> Held<'_> {
        Held {
            storage: self.storage(),
            layout: &self.0.layout,
        }
    }

    /// Fails unless `self` and every tensor in `others` are on one device.
    pub(crate) fn same_device(&self, op: &'static str, others: &[&Tensor]) -> Result<()> {
        for o in others {
            if o.device() != self.device() {
                return Err(Error::DeviceMismatch {
                    op,
                    lhs: self.device(),
                    rhs: o.device(),
                });
            }
        }
        Ok(())
    }

    // ---- autograd state -------------------------------------------------------------------

    /// True when gradients flow to or through this tensor.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Marks a leaf tensor as a parameter whose gradient `backward` should accumulate.
    /// Only leaves with a float dtype can require gradients.
    pub fn set_requires_grad(&self, requires_grad: bool) -> Result<&Tensor> {
        if !self.0.is_leaf {
            return Err(Error::Autograd(
                "set_requires_grad works on leaf tensors only; use detach() for a non-leaf".into(),
            ));
        }
        if requires_grad && !self.dtype().is_float() {
            return Err(Error::dtype(
                "set_requires_grad",
                self.dtype(),
                "a float dtype (only float tensors can require gradients)",
            ));
        }
        self.0.requires_grad.store(requires_grad, Ordering::Relaxed);
        Ok(self)
    }

    /// True when no recorded op produced this tensor.
    pub fn is_leaf(&self) -> bool {
        self.0.is_leaf
    }

    /// The gradient accumulated by `backward` into this leaf (or into a non-leaf after
    /// [`Tensor::retain_grad`]), if any.
    pub fn grad(&self) -> Option<Tensor> {
        self.0
            .grad
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the accumulated gradient (`None` clears it, as `zero_grad(set_to_none)` does).
    pub fn set_grad(&self, grad: Option<Tensor>) -> Result<()> {
        if let Some(g) = &grad {
            if g.shape() != self.shape() {
                return Err(Error::shape(
                    "set_grad",
                    &[g.shape(), self.shape()],
                    format!(
                        "gradient of shape {} for a tensor of shape {}",
                        g.shape(),
                        self.shape()
                    ),
                ));
            }
            self.same_device("set_grad", &[g])?;
        }
        *self.0.grad.lock().unwrap_or_else(|e| e.into_inner()) = grad;
        Ok(())
    }

    /// A tensor sharing this storage, cut off from the autograd graph.
    pub fn detach(&self) -> Tensor {
        self.with_layout(self.0.layout.clone(), None)
    }

    // ---- host reads ------------------------------------------------------------------------

    /// Copies the elements to the host in row-major order, waiting for pending device work.
    pub fn to_host(&self) -> Result<HostData> {
        self.backend().to_host(self.hold().view())
    }

    /// The elements in row-major order, as `T`. The dtype must be `T`'s.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, Device};
    /// let t = Tensor::arange(0.0, 4.0, 1.0, silica_core::DType::F32, Device::Cpu).unwrap();
    /// assert_eq!(t.to_vec::<f32>().unwrap(), vec![0.0, 1.0, 2.0, 3.0]);
    /// ```
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if self.dtype() != T::DTYPE {
            return Err(Error::dtype(
                "to_vec",
                self.dtype(),
                format!("{} (cast with to_dtype first)", T::DTYPE),
            ));
        }
        let host = self.to_host()?;
        let dtype = host.dtype();
        T::from_host(host).ok_or_else(|| Error::dtype("to_vec", dtype, T::DTYPE.to_string()))
    }

    /// The elements converted to f64, in row-major order.
    pub fn to_f64_vec(&self) -> Result<Vec<f64>> {
        Ok(self.to_host()?.to_f64_vec())
    }

    /// The single element of a one-element tensor, as `T` (the dtype must be `T`'s).
    pub fn item<T: Element>(&self) -> Result<T> {
        if self.elem_count() != 1 {
            return Err(Error::shape(
                "item",
                &[self.shape()],
                format!(
                    "expected a tensor with one element, got shape {}",
                    self.shape()
                ),
            ));
        }
        Ok(self.to_vec::<T>()?[0])
    }

    /// The single element of a one-element tensor, converted to f64.
    pub fn to_scalar(&self) -> Result<f64> {
        if self.elem_count() != 1 {
            return Err(Error::shape(
                "to_scalar",
                &[self.shape()],
                format!(
                    "expected a tensor with one element, got shape {}",
                    self.shape()
                ),
            ));
        }
        Ok(self.to_f64_vec()?[0])
    }

    // ---- casts and moves -------------------------------------------------------------------

    /// This tensor with elements cast to `dtype` (a no-op returning a clone when equal).
    /// Differentiable between float dtypes.
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        self.backend().check_dtype("to_dtype", dtype)?;
        let buf = self.backend().copy(self.hold().view(), dtype)?;
        let op = if dtype.is_float() && self.dtype().is_float() {
            crate::autograd::record(&[self], || Op::ToDType { x: self.clone() })
        } else {
            None
        };
        Ok(Tensor::from_buffer(self.backend(), buf, self.shape(), op))
    }

    /// A copy of this tensor on `device` (a clone when already there). Differentiable.
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        if device == self.device() {
            return Ok(self.clone());
        }
        let target = crate::backend::get(device)?;
        target.check_dtype("to_device", self.dtype())?;
        let buf = self.backend().copy_to(self.hold().view(), target)?;
        let op = crate::autograd::record(&[self], || Op::ToDevice { x: self.clone() });
        Ok(Tensor::from_buffer(target, buf, self.shape(), op))
    }

    /// A contiguous tensor with these elements: `self` when already contiguous, else a copy.
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        self.copy()
    }

    /// A contiguous copy that owns fresh storage. Differentiable.
    pub fn copy(&self) -> Result<Tensor> {
        let buf = self.backend().copy(self.hold().view(), self.dtype())?;
        let op = crate::autograd::record(&[self], || Op::Copy { x: self.clone() });
        Ok(Tensor::from_buffer(self.backend(), buf, self.shape(), op))
    }

    /// Replaces this tensor's data with `src`'s, keeping the handle, like PyTorch's
    /// `param.data = src`: every clone of the handle (an optimizer's, say) sees the new
    /// device, dtype and values, and the gradient is left as it is. Views taken before keep the
    /// old data. `src` must have this shape; this tensor must be a leaf with a contiguous
    /// layout at offset 0, as parameters and buffers are. Not recorded by autograd.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{DType, Device, Tensor};
    /// let w = Tensor::zeros([2], DType::F32, Device::Cpu).unwrap();
    /// let handle = w.clone();
    /// w.set_data(&Tensor::ones([2], DType::F64, Device::Cpu).unwrap()).unwrap();
    /// assert_eq!((handle.dtype(), handle.to_vec::<f64>().unwrap()), (DType::F64, vec![1.0; 2]));
    /// ```
    pub fn set_data(&self, src: &Tensor) -> Result<()> {
        let refuse = |why: String| Err(Error::invalid("set_data", why));
        if !self.is_leaf() {
            return refuse("only a leaf tensor's data can be replaced".into());
        }
        if src.shape() != self.shape() {
            return refuse(format!(
                "new data of shape {} for a tensor of shape {}",
                src.shape(),
                self.shape()
            ));
        }
        if !self.is_contiguous() || self.layout().offset() != 0 {
            return refuse(format!(
                "a strided view (strides {:?}, offset {}) keeps its storage",
                self.strides(),
                self.layout().offset()
            ));
        }
        if self.requires_grad() && !src.dtype().is_float() {
            return refuse(format!(
                "a tensor that requires grad cannot take {} data",
                src.dtype()
            ));
        }
        let exact = src.is_contiguous()
            && src.layout().offset() == 0
            && src.storage().buffer().len() == src.elem_count();
        let owned = if exact {
            src.clone()
        } else {
            crate::autograd::no_grad_scope(|| src.copy())?
        };
        let storage = owned.storage().clone();
        let mut slot = self.0.storage.write();
        self.0.key.store(storage.key(), Ordering::Relaxed);
        let old = std::mem::replace(&mut *slot, storage);
        drop(slot);
        drop(old);
        Ok(())
    }

    /// Writes the values of `src` (broadcast to this shape, cast to this dtype) into this
    /// tensor's storage, in place, outside autograd. Every view of the storage sees the change.
    ///
    /// Optimizers use this to update parameters. It fails on a tensor that requires gradients
    /// unless called under [`crate::no_grad`], as PyTorch's in-place ops do.
    pub fn assign(&self, src: &Tensor) -> Result<()> {
        self.same_device("assign", &[src])?;
        if self.requires_grad() && crate::autograd::is_grad_enabled() {
            return Err(Error::Autograd(
                "assign: a tensor that requires grad can be written in place only under no_grad()"
                    .into(),
            ));
        }
        let src_layout = src.layout().broadcast_to(self.shape(), "assign")?;
        let (from, to) = (src.storage(), self.storage());
        to.backend().copy_into(
            View::of(from.buffer(), &src_layout),
            &**to.buffer(),
            self.layout(),
        )
    }
}

/// A tensor's storage, held for the length of a kernel call, with the tensor's layout.
pub(crate) struct Held<'a> {
    storage: RwLockReadGuard<'a, Arc<Storage>>,
    layout: &'a Layout,
}

impl Held<'_> {
    /// The view a kernel takes.
    #[inline]
    pub(crate) fn view(&self) -> View<'_> {
        View::of(self.storage.buffer(), self.layout)
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor[dims {:?}, dtype {}, device {}, strides {:?}, offset {}{}]",
            self.dims(),
            self.dtype(),
            self.device(),
            self.strides(),
            self.layout().offset(),
            if self.requires_grad() {
                ", requires_grad"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn tensor_is_send_sync() {
        assert_send_sync::<Tensor>();
    }
}
