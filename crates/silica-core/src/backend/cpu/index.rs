//! Indexing kernels: index_select, gather, scatter_add. Every index is bounds-checked.

use super::elementwise::{copy, map1};
use super::strided::Plan;
use super::Read;
use crate::{DType, Element, Error, HostData, Layout, Result};

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
    Ok(Layout::new(index.shape().clone(), strides, src.offset()))
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
    let src_layout = Layout::new(
        i.layout.shape().clone(),
        s.layout.strides().to_vec(),
        s.layout.offset(),
    );
    let dstride = Layout::contiguous(b.layout.shape()).strides()[dim];
    let plan = Plan::new(
        i.layout.dims(),
        [
            (out_layout.strides(), 0),
            (src_layout.strides(), src_layout.offset()),
        ],
    );
    fn go<T: Element>(out: &mut [T], src: &[T], plan: &Plan<2>, idx: &[usize], dstride: usize) {
        let [so, ss] = plan.inner_strides;
        plan.for_runs(0, plan.runs(), |r, [oo, os]| {
            for j in 0..plan.inner {
                let at = oo + j * so + idx[r * plan.inner + j] * dstride;
                out[at] = T::from_f64(out[at].to_f64() + src[os + j * ss].to_f64());
            }
        });
    }
    macro_rules! arm {
        ($($v:ident),*) => {
            match (&mut out, &*s.data) {
                $((HostData::$v(o), HostData::$v(src)) => go(o, src, &plan, &idx, dstride),)*
                _ => unreachable!("dtypes checked above"),
            }
        };
    }
    arm!(F32, F64, F16, BF16, I32, I64, U8);
    Ok(out)
}
