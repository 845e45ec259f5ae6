//! Batched matrix products through the `gemm` crate (f32, f64, f16; bf16 via f32).

use super::strided::Plan;
use super::{elementwise, Read};
use crate::{DType, Element, Error, HostData, Layout, Result};
use half::bf16;
use rayon::prelude::*;

/// Shapes of one batched product: `batch` pairs of `[m, k] x [k, n]`.
struct Dims {
    m: usize,
    k: usize,
    n: usize,
    /// Element offsets of each (lhs, rhs) matrix pair.
    pairs: Vec<[usize; 2]>,
}

fn dims(la: &Layout, lb: &Layout) -> Dims {
    let r = la.dims().len();
    let (m, k, n) = (la.dims()[r - 2], la.dims()[r - 1], lb.dims()[r - 1]);
    let plan = Plan::new(
        &la.dims()[..r - 2],
        [
            (&la.strides()[..r - 2], la.offset()),
            (&lb.strides()[..r - 2], lb.offset()),
        ],
    );
    let mut pairs = Vec::with_capacity(plan.len());
    let [sa, sb] = plan.inner_strides;
    plan.for_runs(0, plan.runs(), |_, [oa, ob]| {
        for j in 0..plan.inner {
            pairs.push([oa + j * sa, ob + j * sb]);
        }
    });
    Dims { m, k, n, pairs }
}

pub(crate) fn matmul(a: &Read<'_>, b: &Read<'_>) -> Result<HostData> {
    let (la, lb) = (a.layout, b.layout);
    for (l, len) in [(la, a.data.len()), (lb, b.data.len())] {
        if l.storage_span() > len {
            return Err(Error::invalid(
                "matmul",
                format!(
                    "a view reaching element {} of a buffer of {len}",
                    l.storage_span()
                ),
            ));
        }
    }
    let d = dims(la, lb);
    Ok(match (&*a.data, &*b.data) {
        (HostData::F32(x), HostData::F32(y)) => HostData::F32(gemm_batched(x, la, y, lb, &d)),
        (HostData::F64(x), HostData::F64(y)) => HostData::F64(gemm_batched(x, la, y, lb, &d)),
        (HostData::F16(x), HostData::F16(y)) => HostData::F16(gemm_batched(x, la, y, lb, &d)),
        (HostData::BF16(_), HostData::BF16(_)) => {
            // gemm has no bf16: compute in f32 on contiguous copies.
            let x = elementwise::copy(&a.data, la, DType::F32);
            let y = elementwise::copy(&b.data, lb, DType::F32);
            let (cx, cy) = (
                Layout::contiguous(la.shape()),
                Layout::contiguous(lb.shape()),
            );
            let (HostData::F32(x), HostData::F32(y)) = (x, y) else {
                unreachable!("copied to f32")
            };
            let out = gemm_batched(&x, &cx, &y, &cy, &dims(&cx, &cy));
            HostData::BF16(out.into_iter().map(bf16::from_f32).collect())
        }
        (HostData::I32(x), HostData::I32(y)) => HostData::I32(int_batched(x, la, y, lb, &d)),
        (HostData::I64(x), HostData::I64(y)) => HostData::I64(int_batched(x, la, y, lb, &d)),
        (HostData::U8(x), HostData::U8(y)) => HostData::U8(int_batched(x, la, y, lb, &d)),
        (x, y) => {
            return Err(Error::invalid(
                "matmul",
                format!(
                    "operands have dtypes {} and {}; expected one numeric dtype",
                    x.dtype(),
                    y.dtype()
                ),
            ))
        }
    })
}

/// A strided matrix: element (i, j) is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a, T> {
    pub data: &'a [T],
    pub rs: usize,
    pub cs: usize,
}

impl<T> Mat<'_, T> {
    /// True when every element of a `rows x cols` matrix lies inside `data`.
    fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0 || cols == 0 || (rows - 1) * self.rs + (cols - 1) * self.cs < self.data.len()
    }
}

/// `dst = a @ b` (or `dst += a @ b` with `accumulate`), where `a` is `m x k`, `b` is `k x n`
/// and `dst` is a row-major `m x n` matrix. `T` is f32, f64 or f16.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_into<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    accumulate: bool,
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    par: gemm::Parallelism,
) {
    assert!(
        dst.len() >= m * n && a.fits(m, k) && b.fits(k, n),
        "gemm_into: operands out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(T::from_f64(0.0));
        }
        return;
    }
    // SAFETY: the assert above keeps every element that gemm reads (a: i * rs + j * cs for
    // i < m, j < k; b likewise for k x n) and writes (dst: i * n + j) inside its slice; the
    // slices do not alias because `dst` is borrowed mutably.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            T::from_f64(1.0),
            T::from_f64(1.0),
            false,
            false,
            false,
            par,
        )
    }
}

fn gemm_batched<T: Element>(x: &[T], la: &Layout, y: &[T], lb: &Layout, d: &Dims) -> Vec<T> {
    let (m, k, n) = (d.m, d.k, d.n);
    if m == 0 || n == 0 || k == 0 {
        return super::cache::filled(d.pairs.len() * m * n, T::from_f64(0.0));
    }
    let mut out = super::cache::output(d.pairs.len() * m * n);
    let r = la.dims().len();
    let (a_rs, a_cs) = (la.strides()[r - 2], la.strides()[r - 1]);
    let (b_rs, b_cs) = (lb.strides()[r - 2], lb.strides()[r - 1]);
    let threads = rayon::current_num_threads();
    let one = |dst: &mut [T], [oa, ob]: [usize; 2], par: gemm::Parallelism| {
        let a = Mat {
            data: &x[oa..],
            rs: a_rs,
            cs: a_cs,
        };
        let b = Mat {
            data: &y[ob..],
            rs: b_rs,
            cs: b_cs,
        };
        gemm_into(m, n, k, dst, false, a, b, par);
    };
    let small = m * n * k < 128 * 128 * 128;
    if d.pairs.len() > 1 && small {
        out.par_chunks_mut(m * n)
            .zip(&d.pairs)
            .for_each(|(dst, &p)| one(dst, p, gemm::Parallelism::None));
    } else {
        let par = if m * n * k >= 48 * 48 * 48 && threads > 1 {
            gemm::Parallelism::Rayon(threads)
        } else {
            gemm::Parallelism::None
        };
        for (dst, &p) in out.chunks_mut(m * n).zip(&d.pairs) {
            one(dst, p, par);
        }
    }
    out
}

/// Integer products: not a hot path, so a plain loop in i-k-j order with wrapping i64 sums.
fn int_batched<T: super::elementwise::IntElem>(
    x: &[T],
    la: &Layout,
    y: &[T],
    lb: &Layout,
    d: &Dims,
) -> Vec<T> {
    let (m, k, n) = (d.m, d.k, d.n);
    let r = la.dims().len();
    let (a_rs, a_cs) = (la.strides()[r - 2], la.strides()[r - 1]);
    let (b_rs, b_cs) = (lb.strides()[r - 2], lb.strides()[r - 1]);
    let mut out = Vec::with_capacity(d.pairs.len() * m * n);
    for &[oa, ob] in &d.pairs {
        let mut acc = vec![0i64; m * n];
        for i in 0..m {
            for p in 0..k {
                let av = x[oa + i * a_rs + p * a_cs].to_i64();
                for (j, c) in acc[i * n..(i + 1) * n].iter_mut().enumerate() {
                    *c = c.wrapping_add(av.wrapping_mul(y[ob + p * b_rs + j * b_cs].to_i64()));
                }
            }
        }
        out.extend(acc.into_iter().map(T::from_i64));
    }
    out
}
