//! Indexing kernels: index_select, gather, scatter_add. Every index is bounds-checked.

use super::elementwise::{copy, map1};
use super::strided::Plan;
use super::Read;
use crate::{DType, Element, Error, HostData, Layout, Result};
use half::{bf16, f16};
use rayon::prelude::*;

/// Element types that scatter_add adds in their own precision (f16 and bf16 through f32).
trait AddElem: Element {
    fn add(self, other: Self) -> Self;
}

macro_rules! impl_add {
    ($($t:ty),*) => {$(
        impl AddElem for $t {
            #[inline(always)]
            fn add(self, other: Self) -> Self {
                self.wrapping_add(other)
            }
        }
    )*};
}
impl_add!(i32, i64, u8);

impl AddElem for f32 {
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        self + other
    }
}

impl AddElem for f64 {
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        self + other
    }
}

impl AddElem for f16 {
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        f16::from_f32(self.to_f32() + other.to_f32())
    }
}

impl AddElem for bf16 {
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        bf16::from_f32(self.to_f32() + other.to_f32())
    }
}

/// The index values in row-major order, each checked against `size`.
fn index_values(op: &'static str, i: &Read<'_>, dim: usize, size: usize) -> Result<Vec<usize>> {
    let vals: Vec<i64> = match &*i.data {
        HostData::I64(v) => map1(v, i.layout, |x| x),
        HostData::I32(v) => map1(v, i.layout, |x| x as i64),
        d => return Err(Error::dtype(op, d.dtype(), "i64 or i32 indices")),
    };
    vals.into_iter()
        .map(|x| {
            if x < 0 || x as usize >= size {
                Err(Error::IndexOutOfBounds {
                    op,
                    index: x,
                    dim,
                    size,
                })
            } else {
                Ok(x as usize)
            }
        })
        .collect()
}

pub(crate) fn index_select(s: &Read<'_>, dim: usize, i: &Read<'_>) -> Result<HostData> {
    let dims = s.layout.dims();
    let idx = index_values("index_select", i, dim, dims[dim])?;
    let outer: usize = dims[..dim].iter().product();
    let inner: usize = dims[dim + 1..].iter().product();
    let src = if s.layout.is_contiguous() {
        None
    } else {
        Some(copy(&s.data, s.layout, s.data.dtype()))
    };
    let (data, offset) = match &src {
        Some(d) => (d, 0),
        None => (&*s.data, s.layout.offset()),
    };
    fn go<T: Element>(
        src: &[T],
        idx: &[usize],
        outer: usize,
        size: usize,
        inner: usize,
    ) -> HostData {
        let mut out = Vec::with_capacity(outer * idx.len() * inner);
        for o in 0..outer {
            for &j in idx {
                out.extend_from_slice(&src[(o * size + j) * inner..][..inner]);
            }
        }
        T::into_host(out)
    }
    Ok(match_host!(data, v => go(&v[offset..], &idx, outer, dims[dim], inner)))
}

/// The layout of `src` seen through `index`'s shape, with `dim` given stride 0 (the index
/// supplies that coordinate).
fn through_index(op: &'static str, src: &Layout, dim: usize, index: &Layout) -> Result<Layout> {
    if src.dims().len() != index.dims().len() {
        return Err(Error::invalid(
            op,
            format!(
                "index has {} dims but the tensor has {}",
                index.dims().len(),
                src.dims().len()
            ),
        ));
    }
    let mut strides = src.strides().to_vec();
    strides[dim] = 0;
    Ok(Layout::new(index.shape().clone(), &strides, src.offset()))
}

pub(crate) fn gather(s: &Read<'_>, dim: usize, i: &Read<'_>) -> Result<HostData> {
    let idx = index_values("gather", i, dim, s.layout.dims()[dim])?;
    let view = through_index("gather", s.layout, dim, i.layout)?;
    let dstride = s.layout.strides()[dim];
    let plan = Plan::<1>::of(&view);
    fn go<T: Element>(src: &[T], plan: &Plan<1>, idx: &[usize], dstride: usize) -> HostData {
        let mut out = Vec::with_capacity(idx.len());
        let st = plan.inner_strides[0];
        plan.for_runs(0, plan.runs(), |r, [o]| {
            for j in 0..plan.inner {
                out.push(src[o + j * st + idx[r * plan.inner + j] * dstride]);
            }
        });
        T::into_host(out)
    }
    Ok(match_host!(&*s.data, v => go(v, &plan, &idx, dstride)))
}

pub(crate) fn scatter_add(
    b: &Read<'_>,
    dim: usize,
    i: &Read<'_>,
    s: &Read<'_>,
) -> Result<HostData> {
    if b.data.dtype() != s.data.dtype() {
        return Err(Error::invalid(
            "scatter_add",
            format!(
                "self has dtype {} but src has {}",
                b.data.dtype(),
                s.data.dtype()
            ),
        ));
    }
    if b.data.dtype() == DType::Bool {
        return Err(Error::dtype("scatter_add", DType::Bool, "a numeric dtype"));
    }
    let idx = index_values("scatter_add", i, dim, b.layout.dims()[dim])?;
    let mut out = copy(&b.data, b.layout, b.data.dtype());
    let out_layout = through_index(
        "scatter_add",
        &Layout::contiguous(b.layout.shape()),
        dim,
        i.layout,
    )?;
    let (idims, bdims) = (i.layout.dims(), b.layout.dims());
    // Rows that differ in a dim before `dim` write disjoint blocks of the output. When the
    // index covers every such row, each block is scattered on its own.
    let lead = if dim > 0 && idims[..dim] == bdims[..dim] {
        dim
    } else {
        0
    };
    let rows: usize = idims[..lead].iter().product();
    let src_strides = s.layout.strides();
    let job = Scatter {
        plan: Plan::new(
            &idims[lead..],
            [
                (&out_layout.strides()[lead..], 0),
                (&src_strides[lead..], 0),
            ],
        ),
        idx: &idx,
        dstride: Layout::contiguous(b.layout.shape()).strides()[dim],
        block: bdims[lead..].iter().product(),
        per_row: idims[lead..].iter().product(),
        src_base: (0..rows)
            .map(|r| {
                let (mut rem, mut off) = (r, s.layout.offset());
                for d in (0..lead).rev() {
                    off += (rem % idims[d]) * src_strides[d];
                    rem /= idims[d];
                }
                off
            })
            .collect(),
    };
    macro_rules! arm {
        ($($v:ident),*) => {
            match (&mut out, &*s.data) {
                $((HostData::$v(o), HostData::$v(src)) => job.run(o, src),)*
                _ => unreachable!("dtypes checked above"),
            }
        };
    }
    arm!(F32, F64, F16, BF16, I32, I64, U8);
    Ok(out)
}

/// One scatter_add: the walk over one row of the index, and where the rows sit.
struct Scatter<'a> {
    plan: Plan<2>,
    idx: &'a [usize],
    /// Stride of the scattered dim in the output.
    dstride: usize,
    /// Output elements per row.
    block: usize,
    /// Index elements per row.
    per_row: usize,
    /// Source offset of each row.
    src_base: Vec<usize>,
}

impl Scatter<'_> {
    /// Adds `src` into `out`, one row per task (rows write disjoint blocks of `out`).
    fn run<T: AddElem>(&self, out: &mut [T], src: &[T]) {
        if self.block == 0 || self.per_row == 0 {
            return;
        }
        let row = |(r, out): (usize, &mut [T])| {
            let idx = &self.idx[r * self.per_row..][..self.per_row];
            let (base, plan) = (self.src_base[r], &self.plan);
            let [so, ss] = plan.inner_strides;
            plan.for_runs(0, plan.runs(), |run, [oo, os]| {
                for j in 0..plan.inner {
                    let at = oo + j * so + idx[run * plan.inner + j] * self.dstride;
                    out[at] = out[at].add(src[base + os + j * ss]);
                }
            });
        };
        if out.len() >= super::strided::PAR_THRESHOLD {
            out.par_chunks_mut(self.block).enumerate().for_each(row);
        } else {
            out.chunks_mut(self.block).enumerate().for_each(row);
        }
    }
}
