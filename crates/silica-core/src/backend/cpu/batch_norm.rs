//! Fused batch normalisation in training mode and its gradient, over `[n, c, s]` views of
//! contiguous data (channel dim 1, `s` the product of the dims after it).

use super::strided::PAR_THRESHOLD;
use super::{cache, Contiguous, Read};
use crate::{DType, Element, Error, HostData, Result};
use rayon::prelude::*;

fn unsupported(dtype: DType) -> Error {
    Error::NotSupported {
        op: "batch_norm",
        backend: format!("cpu ({dtype})"),
    }
}

/// `[n, c, s]` of a view whose dim 1 is the channel.
fn geometry(dims: &[usize]) -> (usize, usize, usize) {
    (dims[0], dims[1], dims[2..].iter().product())
}

/// Independent accumulators in the sums below, so that their loops vectorise.
const LANES: usize = 8;

/// `(Σ f(a, b).0, Σ f(a, b).1)` over pairs of elements, in f64.
fn sum2<T: Element>(a: &[T], b: &[T], f: impl Fn(f64, f64) -> (f64, f64)) -> (f64, f64) {
    let (mut acc0, mut acc1) = ([0.0; LANES], [0.0; LANES]);
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (mut t0, mut t1) = (0.0, 0.0);
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        let (u, v) = f(x.to_f64(), y.to_f64());
        (t0, t1) = (t0 + u, t1 + v);
    }
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            let (u, v) = f(x[l].to_f64(), y[l].to_f64());
            acc0[l] += u;
            acc1[l] += v;
        }
    }
    (acc0.iter().sum::<f64>() + t0, acc1.iter().sum::<f64>() + t1)
}

/// `Σ f(a)` in f64.
fn sum<T: Element>(a: &[T], f: impl Fn(f64) -> f64) -> f64 {
    sum2(a, a, |v, _| (f(v), 0.0)).0
}

/// Per-channel (mean, biased variance), two passes in f64.
fn stats<T: Element>(x: &[T], (n, c, s): (usize, usize, usize)) -> Vec<(f64, f64)> {
    let m = (n * s) as f64;
    (0..c)
        .into_par_iter()
        .map(|ch| {
            let rows = (0..n).map(|i| &x[(i * c + ch) * s..][..s]);
            let mean = rows.clone().map(|r| sum(r, |v| v)).sum::<f64>() / m;
            let var = rows.map(|r| sum(r, |v| (v - mean).powi(2))).sum::<f64>() / m;
            (mean, var)
        })
        .collect()
}

/// The `c` values of a per-channel tensor as f64, or `default` for each when absent.
fn per_channel(t: Option<&Contiguous<'_>>, c: usize, default: f64) -> Vec<f64> {
    match t {
        Some(t) => {
            let (d, o) = t.data();
            (0..c).map(|i| d.get_f64(o + i)).collect()
        }
        None => vec![default; c],
    }
}

/// `y = (x - mean) * invstd * weight + bias`, the mean and the biased variance per channel.
pub(crate) fn forward(
    x: &Read<'_>,
    weight: Option<&Read<'_>>,
    bias: Option<&Read<'_>>,
    eps: f64,
) -> Result<[HostData; 3]> {
    let dt = x.data.dtype();
    if !matches!(dt, DType::F32 | DType::F64) {
        return Err(unsupported(dt));
    }
    let geo = geometry(x.layout.dims());
    let c = geo.1;
    let xs = Contiguous::of(x, dt);
    let w = weight.map(|w| Contiguous::of(w, dt));
    let b = bias.map(|b| Contiguous::of(b, dt));
    let (scale, shift) = (
        per_channel(w.as_ref(), c, 1.0),
        per_channel(b.as_ref(), c, 0.0),
    );
    fn go<T: Element>(
        x: &[T],
        geo: (usize, usize, usize),
        eps: f64,
        scale: &[f64],
        shift: &[f64],
    ) -> [HostData; 3] {
        let (n, c, s) = geo;
        let st = stats(x, geo);
        let mut y = cache::output(n * c * s);
        if s > 0 {
            let blocks = y
                .par_chunks_mut(s)
                .enumerate()
                .with_min_len((PAR_THRESHOLD / s).max(1));
            blocks.for_each(|(bi, out)| {
                let ch = bi % c;
                let (mean, var) = st[ch];
                let invstd = 1.0 / (var + eps).sqrt();
                let (a, b) = (invstd * scale[ch], shift[ch] - mean * invstd * scale[ch]);
                for (o, v) in out.iter_mut().zip(&x[bi * s..][..s]) {
                    *o = T::from_f64(v.to_f64() * a + b);
                }
            });
        }
        let mean = st.iter().map(|&(m, _)| T::from_f64(m)).collect();
        let var = st.iter().map(|&(_, v)| T::from_f64(v)).collect();
        [T::into_host(y), T::into_host(mean), T::into_host(var)]
    }
    let (d, o) = xs.data();
    Ok(match d {
        HostData::F32(v) => go(&v[o..], geo, eps, &scale, &shift),
        HostData::F64(v) => go(&v[o..], geo, eps, &scale, &shift),
        _ => return Err(unsupported(dt)),
    })
}

/// The gradients (input, weight, bias) of [`forward`], given the output gradient `g` and the
/// batch's mean and biased variance.
pub(crate) fn backward(
    g: &Read<'_>,
    x: &Read<'_>,
    mean: &Read<'_>,
    var: &Read<'_>,
    weight: Option<&Read<'_>>,
    eps: f64,
) -> Result<[HostData; 3]> {
    let dt = x.data.dtype();
    if !matches!(dt, DType::F32 | DType::F64) || g.data.dtype() != dt {
        return Err(unsupported(dt));
    }
    let geo = geometry(x.layout.dims());
    let (_, c, _) = geo;
    let (gs, xs) = (Contiguous::of(g, dt), Contiguous::of(x, dt));
    let (ms, vs) = (Contiguous::of(mean, dt), Contiguous::of(var, dt));
    let w = weight.map(|w| Contiguous::of(w, dt));
    let scale = per_channel(w.as_ref(), c, 1.0);
    let means = per_channel(Some(&ms), c, 0.0);
    let invstd: Vec<f64> = per_channel(Some(&vs), c, 0.0)
        .into_iter()
        .map(|v| 1.0 / (v + eps).sqrt())
        .collect();
    fn go<T: Element>(
        g: &[T],
        x: &[T],
        geo: (usize, usize, usize),
        means: &[f64],
        invstd: &[f64],
        scale: &[f64],
    ) -> [HostData; 3] {
        let (n, c, s) = geo;
        let m = (n * s) as f64;
        // Per channel: sum(g) and sum(g * xhat).
        let sums: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (mut sg, mut sgx) = (0.0, 0.0);
                for i in 0..n {
                    let off = (i * c + ch) * s;
                    let (a, b) = sum2(&g[off..off + s], &x[off..off + s], |gv, xv| {
                        (gv, gv * (xv - means[ch]))
                    });
                    (sg, sgx) = (sg + a, sgx + b);
                }
                (sg, sgx * invstd[ch])
            })
            .collect();
        let mut dx = cache::output(n * c * s);
        if s > 0 {
            let blocks = dx
                .par_chunks_mut(s)
                .enumerate()
                .with_min_len((PAR_THRESHOLD / s).max(1));
            blocks.for_each(|(bi, out)| {
                let ch = bi % c;
                let (sg, sgx) = sums[ch];
                let k = scale[ch] * invstd[ch] / m;
                let off = bi * s;
                for ((o, gv), xv) in out.iter_mut().zip(&g[off..off + s]).zip(&x[off..off + s]) {
                    let xhat = (xv.to_f64() - means[ch]) * invstd[ch];
                    *o = T::from_f64(k * (m * gv.to_f64() - sg - xhat * sgx));
                }
            });
        }
        let dw = sums.iter().map(|&(_, sgx)| T::from_f64(sgx)).collect();
        let db = sums.iter().map(|&(sg, _)| T::from_f64(sg)).collect();
        [T::into_host(dx), T::into_host(dw), T::into_host(db)]
    }
    Ok(match (gs.data(), xs.data()) {
        ((HostData::F32(g), go_), (HostData::F32(x), xo)) => {
            go(&g[go_..], &x[xo..], geo, &means, &invstd, &scale)
        }
        ((HostData::F64(g), go_), (HostData::F64(x), xo)) => {
            go(&g[go_..], &x[xo..], geo, &means, &invstd, &scale)
        }
        _ => return Err(unsupported(dt)),
    })
}
