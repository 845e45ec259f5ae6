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
        // Columns whose window lies wholly inside the input: a contiguous range, where one
        // pass per kernel offset updates the whole row at once.
        let full = |&(w0, w1): &(usize, usize)| w1.saturating_sub(w0) == p.kernel.1;
        let lo = cols.iter().position(full).unwrap_or(ow);
        let hi = lo + cols[lo..].iter().take_while(|c| full(c)).count();
        let (sw, pw) = (p.stride.1, p.padding.1);
        vals.par_chunks_mut(oh * ow)
            .zip(idx.par_chunks_mut(oh * ow))
            .enumerate()
            .for_each(|(plane, (v, ix))| {
                let src = &x[plane * hw..][..hw];
                for oy in 0..oh {
                    let (h0, h1, _) = window(oy, p.stride.0, p.padding.0, p.kernel.0, p.in_h);
                    let (v_row, ix_row) = (&mut v[oy * ow..][..ow], &mut ix[oy * ow..][..ow]);
                    let interior = if h0 < h1 { lo..hi } else { 0..0 };
                    for ox in (0..ow).filter(|ox| !interior.contains(ox)) {
                        (v_row[ox], ix_row[ox]) = window_max(src, p.in_w, (h0, h1), cols[ox]);
                    }
                    if interior.is_empty() {
                        continue;
                    }
                    let (bv, bi) = (&mut v_row[interior.clone()], &mut ix_row[interior.clone()]);
                    // Every window starts with its top-left element; then each element of the
                    // window, in row-major order, competes as in `window_max`. Interior
                    // windows start inside the input, so `interior.start * sw >= pw`.
                    let first = h0 * p.in_w + interior.start * sw - pw;
                    for (j, (b, i)) in bv.iter_mut().zip(bi.iter_mut()).enumerate() {
                        *i = (first + j * sw) as i64;
                        *b = src[first + j * sw];
                    }
                    if (sw, p.kernel.1) == (2, 2) {
                        // MaxPool2d(2): each window's columns are one pair of the row.
                        for iy in h0..h1 {
                            let base = iy * p.in_w + interior.start * 2 - pw;
                            let pairs = src[base..][..2 * bv.len()].chunks_exact(2);
                            for (j, ((b, i), pair)) in
                                bv.iter_mut().zip(bi.iter_mut()).zip(pairs).enumerate()
                            {
                                for (kx, &val) in pair.iter().enumerate() {
                                    let take = val > *b || is_nan(val);
                                    *b = if take { val } else { *b };
                                    *i = if take { (base + 2 * j + kx) as i64 } else { *i };
                                }
                            }
                        }
                        continue;
                    }
                    let span = (bv.len() - 1) * sw + 1;
                    for iy in h0..h1 {
                        for kx in 0..p.kernel.1 {
                            let base = iy * p.in_w + interior.start * sw + kx - pw;
                            let row = src[base..][..span].iter().step_by(sw);
                            for (j, ((b, i), &val)) in
                                bv.iter_mut().zip(bi.iter_mut()).zip(row).enumerate()
                            {
                                let take = val > *b || is_nan(val);
                                *b = if take { val } else { *b };
                                *i = if take { (base + j * sw) as i64 } else { *i };
                            }
                        }
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

/// The maximum of one clipped window (rows `h0..h1`, columns `w0..w1` of a plane `in_w`
/// wide) and its index in the plane. The first maximum wins ties and NaN beats everything,
/// as in PyTorch; an empty window gives -inf.
fn window_max<T: Element>(
    src: &[T],
    in_w: usize,
    (h0, h1): (usize, usize),
    (w0, w1): (usize, usize),
) -> (T, i64) {
    let mut best_i = h0 * in_w + w0;
    if h0 >= h1 || w0 >= w1 {
        return (T::from_f64(f64::NEG_INFINITY), best_i as i64);
    }
    let mut best = src[best_i];
    for iy in h0..h1 {
        let start = iy * in_w + w0;
        for (i, &val) in (start..).zip(&src[start..start + (w1 - w0)]) {
            let take = val > best || is_nan(val);
            best = if take { val } else { best };
            best_i = if take { i } else { best_i };
        }
    }
    (best, best_i as i64)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Layout;
    use parking_lot::RwLock;

    /// The row-at-a-time path agrees with `window_max` on every window: clipped edges, strides,
    /// padding, ceil mode, ties (small integers) and NaN.
    #[test]
    fn rows_match_window_by_window() {
        let base = Pool2dParams {
            batch: 2,
            channels: 3,
            in_h: 7,
            in_w: 9,
            kernel: (2, 2),
            stride: (2, 2),
            padding: (0, 0),
            ceil_mode: false,
            count_include_pad: true,
        };
        let cases = [
            base,
            Pool2dParams {
                kernel: (3, 3),
                stride: (1, 2),
                padding: (1, 1),
                ..base
            },
            Pool2dParams {
                kernel: (3, 2),
                stride: (2, 3),
                ceil_mode: true,
                ..base
            },
            Pool2dParams {
                kernel: (1, 4),
                stride: (1, 1),
                padding: (0, 2),
                ..base
            },
        ];
        let n = base.batch * base.channels * base.in_h * base.in_w;
        let mut x: Vec<f32> = (0..n).map(|i| ((i * 7) % 5) as f32).collect();
        for i in (0..n).step_by(11) {
            x[i] = f32::NAN;
        }
        let data = RwLock::new(HostData::F32(x.clone()));
        let layout = Layout::contiguous([n]);
        for p in cases {
            let read = Read {
                data: data.read(),
                layout: &layout,
            };
            let (vals, idx) = max_pool2d(&read, &p).unwrap();
            let (HostData::F32(vals), HostData::I64(idx)) = (vals, idx) else {
                panic!("dtypes")
            };
            let (oh, ow, hw) = (p.out_h(), p.out_w(), p.in_h * p.in_w);
            for plane in 0..p.batch * p.channels {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let (h0, h1, _) = window(oy, p.stride.0, p.padding.0, p.kernel.0, p.in_h);
                        let (w0, w1, _) = window(ox, p.stride.1, p.padding.1, p.kernel.1, p.in_w);
                        let src = &x[plane * hw..][..hw];
                        let (v, i) = window_max(src, p.in_w, (h0, h1), (w0, w1));
                        let o = (plane * oh + oy) * ow + ox;
                        assert_eq!(idx[o], i, "{p:?} at {plane}, {oy}, {ox}");
                        assert_eq!(vals[o].to_bits(), v.to_bits(), "{p:?} at {o}");
                    }
                }
            }
        }
    }
}
