//! The CPU backend: Rayon for parallel loops, `gemm` for matrix products, im2col for conv.
//!
//! f16 and bf16 are stored as such and computed in f32. Every kernel has a contiguous fast
//! path and a strided path (see `strided.rs`).

mod adam;
mod batch_norm;
pub mod cache;
mod conv;
mod elementwise;
mod index;
mod matmul;
mod pool;
mod real;
mod reduce;
mod softmax;
mod sort;
pub(crate) mod strided;

use super::{
    AdamStep, BinaryOp, Buffer, BufferBox, Conv2dParams, DeviceBackend, Distribution, Kernels,
    MemoryCounters, Pool2dParams, ReduceOp, UnaryOp, View,
};
use crate::{DType, Device, Element, Error, HostData, Layout, Result, Scalar};
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::any::Any;

/// The CPU backend. Use it through [`crate::backend::get`]`(Device::Cpu)`.
#[derive(Debug, Default)]
pub struct CpuBackend {
    memory: MemoryCounters,
}

impl CpuBackend {
    /// A CPU backend with fresh memory counters.
    pub fn new() -> Self {
        CpuBackend::default()
    }
}

/// A CPU buffer: host data behind a lock, so that `copy_into` can write in place.
#[derive(Debug)]
pub struct CpuBuffer {
    data: RwLock<HostData>,
    dtype: DType,
    len: usize,
}

impl CpuBuffer {
    /// Wraps host data.
    #[inline]
    pub fn new(data: HostData) -> Self {
        CpuBuffer {
            dtype: data.dtype(),
            len: data.len(),
            data: RwLock::new(data),
        }
    }

    /// Host data as a kernel's result.
    #[inline]
    pub fn boxed(data: HostData) -> BufferBox {
        BufferBox::cpu(CpuBuffer::new(data))
    }

    /// Reads the data.
    pub fn read(&self) -> RwLockReadGuard<'_, HostData> {
        self.data.read()
    }

    fn write(&self) -> RwLockWriteGuard<'_, HostData> {
        self.data.write()
    }
}

impl Drop for CpuBuffer {
    fn drop(&mut self) {
        let data = std::mem::replace(self.data.get_mut(), HostData::U8(Vec::new()));
        cache::recycle(data);
    }
}

impl Buffer for CpuBuffer {
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn len(&self) -> usize {
        self.len
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Downcasts a buffer that must belong to the CPU backend.
pub(crate) fn cpu_buf<'a>(buf: &'a dyn Buffer, op: &'static str) -> Result<&'a CpuBuffer> {
    buf.as_any()
        .downcast_ref::<CpuBuffer>()
        .ok_or_else(|| Error::invalid(op, format!("the CPU backend got a foreign buffer {buf:?}")))
}

/// A read-locked view: the data and its layout.
pub(crate) struct Read<'a> {
    pub data: RwLockReadGuard<'a, HostData>,
    pub layout: &'a Layout,
}

pub(crate) fn read<'a>(v: View<'a>, op: &'static str) -> Result<Read<'a>> {
    Ok(Read {
        data: match v.known_cpu() {
            Some(b) => b,
            None => cpu_buf(v.buf, op)?,
        }
        .read(),
        layout: v.layout,
    })
}

/// The elements of a view, contiguous and of one dtype: borrowed when the view already is,
/// else a copy whose memory goes back to the cache when dropped.
pub(crate) enum Contiguous<'a> {
    Borrowed(&'a HostData, usize),
    Owned(HostData),
}

impl<'a> Contiguous<'a> {
    /// The view's elements as `dtype`.
    pub(crate) fn of(r: &'a Read<'a>, dtype: DType) -> Self {
        if r.layout.is_contiguous() && r.data.dtype() == dtype {
            Contiguous::Borrowed(&r.data, r.layout.offset())
        } else {
            Contiguous::Owned(elementwise::copy(&r.data, r.layout, dtype))
        }
    }

    /// The data and the offset of the first element.
    pub(crate) fn data(&self) -> (&HostData, usize) {
        match self {
            Contiguous::Borrowed(d, o) => (d, *o),
            Contiguous::Owned(d) => (d, 0),
        }
    }

    /// The elements as a slice of `T` (whose dtype must be the one asked for).
    pub(crate) fn slice<T: Element>(&self) -> &[T] {
        let (d, o) = self.data();
        &T::slice(d).expect("Contiguous::of converted to this dtype")[o..]
    }
}

impl Drop for Contiguous<'_> {
    fn drop(&mut self) {
        if let Contiguous::Owned(d) = self {
            cache::recycle(std::mem::replace(d, HostData::U8(Vec::new())));
        }
    }
}

impl DeviceBackend for CpuBackend {
    fn device(&self) -> Device {
        Device::Cpu
    }

    fn describe(&self) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }

    fn upload(&self, data: HostData) -> Result<BufferBox> {
        Ok(CpuBuffer::boxed(data))
    }

    fn to_host(&self, src: View<'_>) -> Result<HostData> {
        let r = read(src, "to_host")?;
        Ok(elementwise::copy(&r.data, r.layout, r.data.dtype()))
    }

    fn synchronize(&self) -> Result<()> {
        Ok(())
    }

    fn memory(&self) -> &MemoryCounters {
        &self.memory
    }

    fn cached_bytes(&self) -> usize {
        cache::cached_bytes()
    }

    fn empty_cache(&self) {
        cache::empty_cache()
    }
}

impl Kernels for CpuBackend {
    fn fill(&self, dtype: DType, len: usize, value: Scalar) -> Result<BufferBox> {
        let data =
            dispatch_dtype!(dtype, T => T::into_host(cache::filled(len, T::from_scalar(value))));
        Ok(CpuBuffer::boxed(data))
    }

    fn random(
        &self,
        dist: Distribution,
        dtype: DType,
        len: usize,
        seed: u64,
        offset: u64,
    ) -> Result<BufferBox> {
        Ok(CpuBuffer::boxed(crate::rng::fill_host(
            dist, dtype, len, seed, offset,
        )))
    }

    fn copy(&self, src: View<'_>, dtype: DType) -> Result<BufferBox> {
        let r = read(src, "copy")?;
        Ok(CpuBuffer::boxed(elementwise::copy(
            &r.data, r.layout, dtype,
        )))
    }

    fn copy_into(&self, src: View<'_>, dst: &dyn Buffer, dst_layout: &Layout) -> Result<()> {
        let dst_buf = cpu_buf(dst, "copy_into")?;
        let src_buf = cpu_buf(src.buf, "copy_into")?;
        // Stage through a contiguous copy: the read lock is released before the write lock is
        // taken, so source and destination may share the buffer.
        let staged = elementwise::copy(&src_buf.read(), src.layout, dst.dtype());
        elementwise::scatter_into(&staged, &mut dst_buf.write(), dst_layout);
        Ok(())
    }

    fn unary(&self, op: UnaryOp, src: View<'_>) -> Result<BufferBox> {
        let r = read(src, op.name())?;
        elementwise::unary(op, &r.data, r.layout).map(CpuBuffer::boxed)
    }

    fn binary(&self, op: BinaryOp, lhs: View<'_>, rhs: View<'_>) -> Result<BufferBox> {
        let (a, b) = (read(lhs, op.name())?, read(rhs, op.name())?);
        elementwise::binary(op, &a.data, a.layout, &b.data, b.layout).map(CpuBuffer::boxed)
    }

    fn binary_scalar(&self, op: BinaryOp, lhs: View<'_>, rhs: Scalar) -> Result<BufferBox> {
        let a = read(lhs, op.name())?;
        elementwise::binary_scalar(op, &a.data, a.layout, rhs).map(CpuBuffer::boxed)
    }

    fn where_cond(
        &self,
        cond: View<'_>,
        on_true: View<'_>,
        on_false: View<'_>,
    ) -> Result<BufferBox> {
        let c = read(cond, "where")?;
        let (t, f) = (read(on_true, "where")?, read(on_false, "where")?);
        elementwise::where_cond(&c, &t, &f).map(CpuBuffer::boxed)
    }

    fn reduce(&self, op: ReduceOp, src: View<'_>, dims: &[usize]) -> Result<BufferBox> {
        let r = read(src, "reduce")?;
        reduce::reduce(op, &r.data, r.layout, dims).map(CpuBuffer::boxed)
    }

    fn matmul(&self, lhs: View<'_>, rhs: View<'_>) -> Result<BufferBox> {
        let (a, b) = (read(lhs, "matmul")?, read(rhs, "matmul")?);
        matmul::matmul(&a, &b).map(CpuBuffer::boxed)
    }

    fn conv2d(
        &self,
        input: View<'_>,
        weight: View<'_>,
        bias: Option<View<'_>>,
        p: &Conv2dParams,
    ) -> Result<BufferBox> {
        let (x, w) = (read(input, "conv2d")?, read(weight, "conv2d")?);
        let b = bias.map(|b| read(b, "conv2d")).transpose()?;
        conv::forward(&x, &w, b.as_ref(), p).map(CpuBuffer::boxed)
    }

    fn conv2d_backward_input(
        &self,
        grad_out: View<'_>,
        weight: View<'_>,
        p: &Conv2dParams,
    ) -> Result<BufferBox> {
        let (g, w) = (read(grad_out, "conv2d")?, read(weight, "conv2d")?);
        conv::backward_input(&g, &w, p).map(CpuBuffer::boxed)
    }

    fn conv2d_backward_weight(
        &self,
        input: View<'_>,
        grad_out: View<'_>,
        p: &Conv2dParams,
    ) -> Result<BufferBox> {
        let (x, g) = (read(input, "conv2d")?, read(grad_out, "conv2d")?);
        conv::backward_weight(&x, &g, p).map(CpuBuffer::boxed)
    }

    fn max_pool2d(&self, input: View<'_>, p: &Pool2dParams) -> Result<(BufferBox, BufferBox)> {
        let x = read(input, "max_pool2d")?;
        let (v, i) = pool::max_pool2d(&x, p)?;
        Ok((CpuBuffer::boxed(v), CpuBuffer::boxed(i)))
    }

    fn sort(&self, src: View<'_>, dim: usize, descending: bool) -> Result<(BufferBox, BufferBox)> {
        let x = read(src, "sort")?;
        let (v, i) = sort::sort(&x, dim, descending)?;
        Ok((CpuBuffer::boxed(v), CpuBuffer::boxed(i)))
    }

    fn avg_pool2d(&self, input: View<'_>, p: &Pool2dParams) -> Result<BufferBox> {
        let x = read(input, "avg_pool2d")?;
        pool::avg_pool2d(&x, p).map(CpuBuffer::boxed)
    }

    fn avg_pool2d_backward(&self, grad_out: View<'_>, p: &Pool2dParams) -> Result<BufferBox> {
        let g = read(grad_out, "avg_pool2d")?;
        pool::avg_pool2d_backward(&g, p).map(CpuBuffer::boxed)
    }

    fn index_select(&self, src: View<'_>, dim: usize, index: View<'_>) -> Result<BufferBox> {
        let (s, i) = (read(src, "index_select")?, read(index, "index_select")?);
        index::index_select(&s, dim, &i).map(CpuBuffer::boxed)
    }

    fn gather(&self, src: View<'_>, dim: usize, index: View<'_>) -> Result<BufferBox> {
        let (s, i) = (read(src, "gather")?, read(index, "gather")?);
        index::gather(&s, dim, &i).map(CpuBuffer::boxed)
    }

    fn scatter_add(
        &self,
        base: View<'_>,
        dim: usize,
        index: View<'_>,
        src: View<'_>,
    ) -> Result<BufferBox> {
        let b = read(base, "scatter_add")?;
        let (i, s) = (read(index, "scatter_add")?, read(src, "scatter_add")?);
        index::scatter_add(&b, dim, &i, &s).map(CpuBuffer::boxed)
    }

    fn softmax(&self, src: View<'_>, dim: usize, log: bool) -> Result<BufferBox> {
        let r = read(src, "softmax")?;
        softmax::softmax(&r, dim, log).map(CpuBuffer::boxed)
    }

    fn batch_norm(
        &self,
        x: View<'_>,
        weight: Option<View<'_>>,
        bias: Option<View<'_>>,
        eps: f64,
    ) -> Result<[BufferBox; 3]> {
        let x = read(x, "batch_norm")?;
        let w = weight.map(|w| read(w, "batch_norm")).transpose()?;
        let b = bias.map(|b| read(b, "batch_norm")).transpose()?;
        let out = batch_norm::forward(&x, w.as_ref(), b.as_ref(), eps)?;
        Ok(out.map(CpuBuffer::boxed))
    }

    fn batch_norm_backward(
        &self,
        grad: View<'_>,
        x: View<'_>,
        mean: View<'_>,
        var: View<'_>,
        weight: Option<View<'_>>,
        eps: f64,
    ) -> Result<[BufferBox; 3]> {
        let op = "batch_norm_backward";
        let (g, x) = (read(grad, op)?, read(x, op)?);
        let (m, v) = (read(mean, op)?, read(var, op)?);
        let w = weight.map(|w| read(w, op)).transpose()?;
        let out = batch_norm::backward(&g, &x, &m, &v, w.as_ref(), eps)?;
        Ok(out.map(CpuBuffer::boxed))
    }

    fn adam_step(
        &self,
        param: View<'_>,
        grad: View<'_>,
        moments: [Option<View<'_>>; 3],
        s: &AdamStep,
    ) -> Result<Vec<BufferBox>> {
        let out = adam::adam_step(param, grad, moments, s)?;
        Ok(out.into_iter().map(CpuBuffer::boxed).collect())
    }
}
