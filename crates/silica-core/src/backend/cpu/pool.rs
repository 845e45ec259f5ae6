//! 2-D max and average pooling, one (image, channel) plane per task.

use super::{Contiguous, Read};
use crate::backend::Pool2dParams;
use crate::dtype::is_nan;
use crate::{DType, Element, Error, HostData, Result};
use rayon::prelude::*;

/// The clipped window `[start, end)` of output position `o` along one axis, and the size the
/// window had with padding counted (PyTorch's avg_pool2d `pool_size`).
fn window(
    o: usize,
    stride: usize,
    pad: usize,
    kernel: usize,
    input: usize,
) -> (usize, usize, usize) {
    let start = (o * stride) as isize - pad as isize;
    let end = (start + kernel as isize).min((input + pad) as isize);
    let padded = (end - start) as usize;
    (
        start.max(0) as usize,
        end.min(input as isize).max(0) as usize,
        padded,
    )
}

pub(crate) fn max_pool2d(x: &Read<'_>, p: &Pool2dParams) -> Result<(HostData, HostData)> {
    fn go<T: Element>(x: &[T], p: &Pool2dParams) -> (HostData, HostData) {
        let (oh, ow, hw) = (p.out_h(), p.out_w(), p.in_h * p.in_w);
        let planes = p.batch * p.channels;
        let mut vals = super::cache::output(planes * oh * ow);
        let mut idx = super::cache::output(planes * oh * ow);
        if oh * ow == 0 {
            return (T::into_host(vals), HostData::I64(idx));
        }
        // The clipped column windows are the same for every row: compute them once.
        let cols: Vec<(usize, usize)> = (0..ow)
            .map(|ox| {
                let (w0, w1, _) = window(ox, p.stride.1, p.padding.1, p.kernel.1, p.in_w);
                (w0, w1)
            })
            .collect();
        vals.par_chunks_mut(oh * ow)
            .zip(idx.par_chunks_mut(oh * ow))
            .enumerate()
            .for_each(|(plane, (v, ix))| {
                let src = &x[plane * hw..][..hw];
                for oy in 0..oh {
                    let (h0, h1, _) = window(oy, p.stride.0, p.padding.0, p.kernel.0, p.in_h);
                    let (v_row, ix_row) = (&mut v[oy * ow..][..ow], &mut ix[oy * ow..][..ow]);
                    for ((out_v, out_i), &(w0, w1)) in v_row.iter_mut().zip(ix_row).zip(&cols) {
                        if h0 >= h1 || w0 >= w1 {
                            *out_v = T::from_f64(f64::NEG_INFINITY);
                            *out_i = (h0 * p.in_w + w0) as i64;
                            continue;
                        }
                        let mut best_i = h0 * p.in_w + w0;
                        let mut best = src[best_i];
                        for iy in h0..h1 {
                            let start = iy * p.in_w + w0;
                            for (i, &val) in (start..).zip(&src[start..start + (w1 - w0)]) {
                                // NaN wins, as in PyTorch. Written without branches on data.
                                let take = val > best || is_nan(val);
                                best = if take { val } else { best };
                                best_i = if take { i } else { best_i };
                            }
                        }
                        *out_v = best;
                        *out_i = best_i as i64;
                    }
                }
            });
        (T::into_host(vals), HostData::I64(idx))
    }
    let c = Contiguous::of(x, x.data.dtype());
    match c.data() {
        (HostData::Bool(_), _) => Err(Error::dtype("max_pool2d", DType::Bool, "a numeric dtype")),
        (d, o) => Ok(match_host!(d, v => go(&v[o..], p))),
    }
}

/// The divisor of output position (oy, ox).
fn divisor(p: &Pool2dParams, oy: usize, ox: usize) -> (usize, usize, usize, usize, f64) {
    let (h0, h1, ph) = window(oy, p.stride.0, p.padding.0, p.kernel.0, p.in_h);
    let (w0, w1, pw) = window(ox, p.stride.1, p.padding.1, p.kernel.1, p.in_w);
    let count = if p.count_include_pad {
        ph * pw
    } else {
        (h1 - h0) * (w1 - w0)
    };
    (h0, h1, w0, w1, count as f64)
}

pub(crate) fn avg_pool2d(x: &Read<'_>, p: &Pool2dParams) -> Result<HostData> {
    fn go<T: Element>(x: &[T], p: &Pool2dParams) -> HostData {
        let (oh, ow, hw) = (p.out_h(), p.out_w(), p.in_h * p.in_w);
        let mut out = super::cache::output(p.batch * p.channels * oh * ow);
        if oh * ow > 0 {
            out.par_chunks_mut(oh * ow)
                .enumerate()
                .for_each(|(plane, o)| {
                    let src = &x[plane * hw..][..hw];
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let (h0, h1, w0, w1, count) = divisor(p, oy, ox);
                            let mut acc = 0.0;
                            for iy in h0..h1 {
                                for v in &src[iy * p.in_w + w0..iy * p.in_w + w1] {
                                    acc += v.to_f64();
                                }
                            }
                            o[oy * ow + ox] = T::from_f64(acc / count);
                        }
                    }
                });
        }
        T::into_host(out)
    }
    if !x.data.dtype().is_float() {
        return Err(Error::dtype("avg_pool2d", x.data.dtype(), "a float dtype"));
    }
    let c = Contiguous::of(x, x.data.dtype());
    let (d, o) = c.data();
    Ok(match_host!(d, v => go(&v[o..], p)))
}

pub(crate) fn avg_pool2d_backward(g: &Read<'_>, p: &Pool2dParams) -> Result<HostData> {
    fn go<T: Element>(g: &[T], p: &Pool2dParams) -> HostData {
        let (oh, ow, hw) = (p.out_h(), p.out_w(), p.in_h * p.in_w);
        let mut dx = vec![0.0f64; p.batch * p.channels * hw];
        if hw > 0 {
            dx.par_chunks_mut(hw).enumerate().for_each(|(plane, d)| {
                let src = &g[plane * oh * ow..][..oh * ow];
                for oy in 0..oh {
                    for ox in 0..ow {
                        let (h0, h1, w0, w1, count) = divisor(p, oy, ox);
                        let share = src[oy * ow + ox].to_f64() / count;
                        for iy in h0..h1 {
                            for v in &mut d[iy * p.in_w + w0..iy * p.in_w + w1] {
                                *v += share;
                            }
                        }
                    }
                }
            });
        }
        T::into_host(dx.into_iter().map(T::from_f64).collect())
    }
    let c = Contiguous::of(g, g.data.dtype());
    let (d, o) = c.data();
    Ok(match_host!(d, v => go(&v[o..], p)))
}
