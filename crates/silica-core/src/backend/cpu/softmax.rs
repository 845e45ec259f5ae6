//! Fused softmax and log-softmax along one dim.

use super::real::{FloatElem, Real};
use super::strided::{Plan, PAR_THRESHOLD};
use super::Read;
use crate::{Error, HostData, Layout, Result, Shape};
use rayon::prelude::*;

pub(crate) fn softmax(r: &Read<'_>, dim: usize, log: bool) -> Result<HostData> {
    Ok(match &*r.data {
        HostData::F32(v) => HostData::F32(go(v, r.layout, dim, log)),
        HostData::F64(v) => HostData::F64(go(v, r.layout, dim, log)),
        HostData::F16(v) => HostData::F16(go(v, r.layout, dim, log)),
        HostData::BF16(v) => HostData::BF16(go(v, r.layout, dim, log)),
        d => return Err(Error::dtype("softmax", d.dtype(), "a float dtype")),
    })
}

/// Softmax of one row of `n` elements read with stride `st`, written to `out` with stride `ot`.
fn row<T: FloatElem>(src: &[T], st: usize, n: usize, out: &mut [T], ot: usize, log: bool) {
    let mut max = T::Acc::NEG_INFINITY;
    for k in 0..n {
        let x = src[k * st].to_acc();
        if x > max || x.is_nan() {
            max = x;
        }
    }
    let mut sum = T::Acc::ZERO;
    for k in 0..n {
        sum += (src[k * st].to_acc() - max).exp();
    }
    if log {
        let lse = sum.ln();
        for k in 0..n {
            out[k * ot] = T::from_acc(src[k * st].to_acc() - max - lse);
        }
    } else {
        let inv = T::Acc::ONE / sum;
        for k in 0..n {
            out[k * ot] = T::from_acc((src[k * st].to_acc() - max).exp() * inv);
        }
    }
}

fn go<T: FloatElem>(src: &[T], layout: &Layout, dim: usize, log: bool) -> Vec<T> {
    let n = layout.dims()[dim];
    let mut out = super::cache::output(layout.elem_count());
    if out.is_empty() {
        return out;
    }
    let out_strides = layout.shape().contiguous_strides();
    let mut rows_d = layout.dims().to_vec();
    let mut rows_s = layout.strides().to_vec();
    let mut rows_o = out_strides.clone();
    rows_d.remove(dim);
    let st = rows_s.remove(dim);
    let ot = rows_o.remove(dim);
    let plan = Plan::new(&rows_d, [(&rows_s, layout.offset()), (&rows_o, 0)]);
    let [ps, po] = plan.inner_strides;
    if dim + 1 == layout.dims().len() {
        // Rows are contiguous in the output: one chunk per row, in parallel when large.
        let rows = Shape::new(rows_d).elem_count();
        let per_task = (PAR_THRESHOLD / n.max(1)).max(1);
        out.par_chunks_mut(per_task * n)
            .enumerate()
            .with_min_len(if rows * n >= PAR_THRESHOLD {
                1
            } else {
                usize::MAX
            })
            .for_each(|(t, chunk)| {
                let first = t * per_task;
                let count = chunk.len() / n;
                let (r0, r1) = (
                    first / plan.inner.max(1),
                    (first + count).div_ceil(plan.inner.max(1)),
                );
                plan.for_runs(r0, r1, |r, [s, _]| {
                    for j in 0..plan.inner {
                        let i = r * plan.inner + j;
                        if i >= first && i < first + count {
                            let dst = &mut chunk[(i - first) * n..][..n];
                            row(&src[s + j * ps..], st, n, dst, 1, log);
                        }
                    }
                });
            });
        return out;
    }
    plan.for_runs(0, plan.runs(), |_, [s, o]| {
        for j in 0..plan.inner {
            row(&src[s + j * ps..], st, n, &mut out[o + j * po..], ot, log);
        }
    });
    out
}
