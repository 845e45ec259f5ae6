//! 2-D convolution by im2col and GEMM, with its two gradients.
//!
//! For each image and group, `col` holds the receptive fields as a `[c_in/g * kh * kw, oh * ow]`
//! matrix, so that the forward pass is `out = W @ col`, the input gradient is
//! `col2im(W^T @ grad)`, and the weight gradient is `sum over images of grad @ col^T`.
//! Images are spread over threads; f16 and bf16 compute in f32.

use super::matmul::{gemm_into, Mat};
use super::{elementwise, Contiguous, Read};
use crate::backend::Conv2dParams;
use crate::{DType, Element, Error, HostData, Layout, Result};
use rayon::prelude::*;
use std::ops::AddAssign;

/// The geometry of one group's GEMMs.
#[derive(Clone, Copy)]
struct Geom {
    p: Conv2dParams,
    cg: usize,
    og: usize,
    /// Rows of `col`: cg * kh * kw.
    kk: usize,
    /// Columns of `col`: oh * ow.
    ohw: usize,
    hw: usize,
}

impl Geom {
    fn new(p: &Conv2dParams) -> Geom {
        let cg = p.in_channels / p.groups;
        Geom {
            p: *p,
            cg,
            og: p.out_channels / p.groups,
            kk: cg * p.kernel_h * p.kernel_w,
            ohw: p.out_h() * p.out_w(),
            hw: p.in_h * p.in_w,
        }
    }

    /// True when `col` equals the input itself (1x1 kernel, stride 1, no padding).
    fn is_pointwise(&self) -> bool {
        let p = &self.p;
        p.kernel_h == 1 && p.kernel_w == 1 && p.stride == (1, 1) && p.padding == (0, 0)
    }
}

/// The dtype conv2d computes in: f64 for f64, f32 for the other floats.
fn compute_dtype(dt: DType) -> Result<DType> {
    match dt {
        DType::F64 => Ok(DType::F64),
        DType::F32 | DType::F16 | DType::BF16 => Ok(DType::F32),
        _ => Err(Error::dtype("conv2d", dt, "a float dtype")),
    }
}

/// The forward or a gradient kernel of one compute dtype: `(a, b, bias, geometry)`.
type Kernel<T> = fn(&[T], &[T], Option<&[T]>, &Geom) -> Vec<T>;

fn run(
    a: &Read<'_>,
    b: &Read<'_>,
    bias: Option<&Read<'_>>,
    p: &Conv2dParams,
    f32_fn: Kernel<f32>,
    f64_fn: Kernel<f64>,
) -> Result<HostData> {
    let dt = a.data.dtype();
    if let Some(other) = [Some(b), bias]
        .into_iter()
        .flatten()
        .find(|r| r.data.dtype() != dt)
    {
        return Err(Error::invalid(
            "conv2d",
            format!("operands have dtypes {dt} and {}", other.data.dtype()),
        ));
    }
    let compute = compute_dtype(dt)?;
    let (x, y) = (Contiguous::of(a, compute), Contiguous::of(b, compute));
    let bias = bias.map(|r| Contiguous::of(r, compute));
    let g = Geom::new(p);
    if compute == DType::F64 {
        let bias = bias.as_ref().map(|b| b.slice());
        return Ok(HostData::F64(f64_fn(x.slice(), y.slice(), bias, &g)));
    }
    let out = HostData::F32(f32_fn(
        x.slice(),
        y.slice(),
        bias.as_ref().map(|b| b.slice()),
        &g,
    ));
    if dt == DType::F32 {
        return Ok(out);
    }
    let cast = elementwise::copy(&out, &Layout::contiguous(out.len()), dt);
    super::cache::recycle(out);
    Ok(cast)
}

/// `x` `[n, c_in, h, w]` correlated with `w` `[c_out, c_in / groups, kh, kw]`, plus `bias`
/// `[c_out]` when given.
pub(crate) fn forward(
    x: &Read<'_>,
    w: &Read<'_>,
    bias: Option<&Read<'_>>,
    p: &Conv2dParams,
) -> Result<HostData> {
    if let Some(b) = bias.filter(|b| b.layout.elem_count() != p.out_channels) {
        return Err(Error::invalid(
            "conv2d",
            format!(
                "bias {} must have {} elements, one per output channel",
                b.layout.shape(),
                p.out_channels
            ),
        ));
    }
    run(x, w, bias, p, forward_t::<f32>, forward_t::<f64>)
}

pub(crate) fn backward_input(g: &Read<'_>, w: &Read<'_>, p: &Conv2dParams) -> Result<HostData> {
    run(
        g,
        w,
        None,
        p,
        backward_input_t::<f32>,
        backward_input_t::<f64>,
    )
}

pub(crate) fn backward_weight(x: &Read<'_>, g: &Read<'_>, p: &Conv2dParams) -> Result<HostData> {
    run(
        x,
        g,
        None,
        p,
        backward_weight_t::<f32>,
        backward_weight_t::<f64>,
    )
}

/// Work per image below which one image's GEMMs use every thread instead.
fn images_in_parallel(g: &Geom) -> bool {
    g.p.batch >= rayon::current_num_threads() || g.og * g.kk * g.ohw < 1 << 18
}

fn inner_par(g: &Geom) -> gemm::Parallelism {
    if images_in_parallel(g) {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    }
}

/// Calls `f(image, out_chunk, scratch)` for each image's `chunk` of `out`, across threads when
/// [`images_in_parallel`]; each worker allocates one `scratch` of `scratch_len` elements.
fn for_images<T: Element>(
    out: &mut [T],
    chunk: usize,
    scratch_len: usize,
    g: &Geom,
    f: impl Fn(usize, &mut [T], &mut [T]) + Sync,
) {
    if chunk == 0 {
        return;
    }
    let zero = T::from_f64(0.0);
    if images_in_parallel(g) {
        out.par_chunks_mut(chunk).enumerate().for_each_init(
            || vec![zero; scratch_len],
            |scratch, (n, o)| f(n, o, scratch),
        );
    } else {
        let mut scratch = vec![zero; scratch_len];
        for (n, o) in out.chunks_mut(chunk).enumerate() {
            f(n, o, &mut scratch);
        }
    }
}

fn forward_t<T: Element + AddAssign>(x: &[T], w: &[T], bias: Option<&[T]>, g: &Geom) -> Vec<T> {
    let p = &g.p;
    let mut out = super::cache::output(p.batch * p.out_channels * g.ohw);
    let scratch = if g.is_pointwise() { 0 } else { g.kk * g.ohw };
    for_images(
        &mut out,
        p.out_channels * g.ohw,
        scratch,
        g,
        |n, out_n, col| {
            // The bias goes in first, while this image's output is in cache; the products
            // then add to it.
            if let Some(b) = bias {
                for (row, &v) in out_n.chunks_mut(g.ohw).zip(b) {
                    row.fill(v);
                }
            }
            for grp in 0..p.groups {
                let x_g = &x[(n * p.in_channels + grp * g.cg) * g.hw..][..g.cg * g.hw];
                let col: &[T] = if g.is_pointwise() {
                    x_g
                } else {
                    im2col(x_g, g, col);
                    col
                };
                let w_g = &w[grp * g.og * g.kk..][..g.og * g.kk];
                gemm_into(
                    g.og,
                    g.ohw,
                    g.kk,
                    &mut out_n[grp * g.og * g.ohw..][..g.og * g.ohw],
                    bias.is_some(),
                    Mat {
                        data: w_g,
                        rs: g.kk,
                        cs: 1,
                    },
                    Mat {
                        data: col,
                        rs: g.ohw,
                        cs: 1,
                    },
                    inner_par(g),
                );
            }
        },
    );
    out
}

fn backward_input_t<T: Element + AddAssign>(
    grad: &[T],
    w: &[T],
    _: Option<&[T]>,
    g: &Geom,
) -> Vec<T> {
    let p = &g.p;
    let mut dx = super::cache::output(p.batch * p.in_channels * g.hw);
    for_images(
        &mut dx,
        p.in_channels * g.hw,
        g.kk * g.ohw,
        g,
        |n, dx_n, dcol| {
            for grp in 0..p.groups {
                let g_n = &grad[(n * p.out_channels + grp * g.og) * g.ohw..][..g.og * g.ohw];
                let w_g = &w[grp * g.og * g.kk..][..g.og * g.kk];
                let dx_g = &mut dx_n[grp * g.cg * g.hw..][..g.cg * g.hw];
                // W_g^T is [kk, og]: element (i, j) = w_g[j * kk + i].
                let wt = Mat {
                    data: w_g,
                    rs: 1,
                    cs: g.kk,
                };
                let gm = Mat {
                    data: g_n,
                    rs: g.ohw,
                    cs: 1,
                };
                if g.is_pointwise() {
                    gemm_into(g.kk, g.ohw, g.og, dx_g, false, wt, gm, inner_par(g));
                } else {
                    gemm_into(g.kk, g.ohw, g.og, dcol, false, wt, gm, inner_par(g));
                    col2im(dcol, g, dx_g);
                }
            }
        },
    );
    dx
}

fn backward_weight_t<T: Element + AddAssign>(
    x: &[T],
    grad: &[T],
    _: Option<&[T]>,
    g: &Geom,
) -> Vec<T> {
    let p = &g.p;
    let zero = T::from_f64(0.0);
    let wlen = p.out_channels * g.kk;
    // Each task accumulates the gradient of a range of images; the partial sums add up after.
    let tasks = if images_in_parallel(g) {
        rayon::current_num_threads().min(p.batch).max(1)
    } else {
        1
    };
    let per = p.batch.div_ceil(tasks).max(1);
    let partials: Vec<Vec<T>> = (0..tasks)
        .into_par_iter()
        .map(|t| {
            let mut dw = vec![zero; wlen];
            let mut col = vec![zero; if g.is_pointwise() { 0 } else { g.kk * g.ohw }];
            // col^T, [ohw, kk]: GEMM packs a right operand with unit column stride fastest.
            let mut col_t = vec![zero; g.kk * g.ohw];
            for n in t * per..((t + 1) * per).min(p.batch) {
                for grp in 0..p.groups {
                    let x_g = &x[(n * p.in_channels + grp * g.cg) * g.hw..][..g.cg * g.hw];
                    let col: &[T] = if g.is_pointwise() {
                        x_g
                    } else {
                        im2col(x_g, g, &mut col);
                        &col
                    };
                    transpose_into(col, g.kk, g.ohw, &mut col_t);
                    let g_n = &grad[(n * p.out_channels + grp * g.og) * g.ohw..][..g.og * g.ohw];
                    // dW_g [og, kk] += grad_n [og, ohw] @ col^T [ohw, kk].
                    gemm_into(
                        g.og,
                        g.kk,
                        g.ohw,
                        &mut dw[grp * g.og * g.kk..][..g.og * g.kk],
                        true,
                        Mat {
                            data: g_n,
                            rs: g.ohw,
                            cs: 1,
                        },
                        Mat {
                            data: &col_t,
                            rs: g.kk,
                            cs: 1,
                        },
                        inner_par(g),
                    );
                }
            }
            dw
        })
        .collect();
    let mut it = partials.into_iter();
    let mut dw = it.next().unwrap_or_else(|| vec![zero; wlen]);
    for part in it {
        for (a, b) in dw.iter_mut().zip(part) {
            *a += b;
        }
    }
    dw
}

/// Writes the transpose of the row-major `rows x cols` matrix `src` into `dst`, eight source
/// rows at a time, so that reads stream along eight rows and writes fill short runs.
fn transpose_into<T: Copy>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    const BAND: usize = 8;
    for r0 in (0..rows).step_by(BAND) {
        let band: Vec<&[T]> = (r0..(r0 + BAND).min(rows))
            .map(|r| &src[r * cols..][..cols])
            .collect();
        for (c, out) in dst.chunks_exact_mut(rows).take(cols).enumerate() {
            for (d, row) in out[r0..r0 + band.len()].iter_mut().zip(&band) {
                *d = row[c];
            }
        }
    }
}

/// Fills `col` ([cg * kh * kw, oh * ow]) with the receptive fields of one group of one image
/// (`x`: [cg, h, w]); padding reads as zero.
fn im2col<T: Element + AddAssign>(x: &[T], g: &Geom, col: &mut [T]) {
    let p = &g.p;
    let (oh, ow) = (p.out_h(), p.out_w());
    let zero = T::from_f64(0.0);
    for c in 0..g.cg {
        for ki in 0..p.kernel_h {
            for kj in 0..p.kernel_w {
                let row = (c * p.kernel_h + ki) * p.kernel_w + kj;
                let dst = &mut col[row * g.ohw..][..g.ohw];
                let (lo, hi) = valid_range(ow, p.in_w, p.stride.1, p.padding.1, kj * p.dilation.1);
                for oy in 0..oh {
                    let iy = (oy * p.stride.0 + ki * p.dilation.0) as isize - p.padding.0 as isize;
                    let d = &mut dst[oy * ow..][..ow];
                    if iy < 0 || iy as usize >= p.in_h {
                        d.fill(zero);
                        continue;
                    }
                    let src = &x[(c * p.in_h + iy as usize) * p.in_w..][..p.in_w];
                    d[..lo].fill(zero);
                    d[hi.max(lo)..].fill(zero);
                    let shift = kj * p.dilation.1;
                    if p.stride.1 == 1 {
                        let start = lo + shift - p.padding.1;
                        if hi > lo {
                            d[lo..hi].copy_from_slice(&src[start..start + hi - lo]);
                        }
                    } else {
                        for (ox, v) in d.iter_mut().enumerate().take(hi).skip(lo) {
                            *v = src[ox * p.stride.1 + shift - p.padding.1];
                        }
                    }
                }
            }
        }
    }
}

/// Adds `col` back into the image gradient `dx` ([cg, h, w]): the adjoint of `im2col`.
fn col2im<T: Element + AddAssign>(col: &[T], g: &Geom, dx: &mut [T]) {
    let p = &g.p;
    let (oh, ow) = (p.out_h(), p.out_w());
    dx.fill(T::from_f64(0.0));
    for c in 0..g.cg {
        for ki in 0..p.kernel_h {
            for kj in 0..p.kernel_w {
                let row = (c * p.kernel_h + ki) * p.kernel_w + kj;
                let src = &col[row * g.ohw..][..g.ohw];
                let (lo, hi) = valid_range(ow, p.in_w, p.stride.1, p.padding.1, kj * p.dilation.1);
                let shift = kj * p.dilation.1;
                for oy in 0..oh {
                    let iy = (oy * p.stride.0 + ki * p.dilation.0) as isize - p.padding.0 as isize;
                    if iy < 0 || iy as usize >= p.in_h {
                        continue;
                    }
                    let d = &mut dx[(c * p.in_h + iy as usize) * p.in_w..][..p.in_w];
                    let s = &src[oy * ow..][..ow];
                    if hi <= lo {
                        continue;
                    }
                    if p.stride.1 == 1 {
                        // A unit stride adds one run of the row: a loop that vectorises.
                        let start = lo + shift - p.padding.1;
                        for (d, &v) in d[start..start + hi - lo].iter_mut().zip(&s[lo..hi]) {
                            *d += v;
                        }
                    } else {
                        for (ox, &v) in s.iter().enumerate().take(hi).skip(lo) {
                            d[ox * p.stride.1 + shift - p.padding.1] += v;
                        }
                    }
                }
            }
        }
    }
}

/// The output columns `[lo, hi)` whose input column `ox * stride + shift - pad` lies in
/// `[0, in_w)`.
fn valid_range(ow: usize, in_w: usize, stride: usize, pad: usize, shift: usize) -> (usize, usize) {
    // ix >= 0  <=>  ox * stride >= pad - shift
    let lo = if pad > shift {
        (pad - shift).div_ceil(stride)
    } else {
        0
    };
    // ix < in_w  <=>  ox * stride < in_w + pad - shift
    let limit = in_w + pad;
    let hi = if limit > shift {
        (limit - shift).div_ceil(stride)
    } else {
        0
    };
    (lo.min(ow), hi.min(ow))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct definition of conv2d, the oracle for the im2col kernel.
    fn conv_reference(x: &[f64], w: &[f64], p: &Conv2dParams) -> Vec<f64> {
        let (oh, ow) = (p.out_h(), p.out_w());
        let cg = p.in_channels / p.groups;
        let og = p.out_channels / p.groups;
        let mut out = vec![0.0; p.batch * p.out_channels * oh * ow];
        for n in 0..p.batch {
            for o in 0..p.out_channels {
                let grp = o / og;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = 0.0;
                        for c in 0..cg {
                            for ki in 0..p.kernel_h {
                                for kj in 0..p.kernel_w {
                                    let iy = (oy * p.stride.0 + ki * p.dilation.0) as isize
                                        - p.padding.0 as isize;
                                    let ix = (ox * p.stride.1 + kj * p.dilation.1) as isize
                                        - p.padding.1 as isize;
                                    if iy < 0
                                        || ix < 0
                                        || iy as usize >= p.in_h
                                        || ix as usize >= p.in_w
                                    {
                                        continue;
                                    }
                                    let ci = grp * cg + c;
                                    acc += x[((n * p.in_channels + ci) * p.in_h + iy as usize)
                                        * p.in_w
                                        + ix as usize]
                                        * w[((o * cg + c) * p.kernel_h + ki) * p.kernel_w + kj];
                                }
                            }
                        }
                        out[((n * p.out_channels + o) * oh + oy) * ow + ox] = acc;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_direct_definition() {
        let base = Conv2dParams {
            batch: 2,
            in_channels: 4,
            out_channels: 6,
            in_h: 7,
            in_w: 6,
            kernel_h: 3,
            kernel_w: 2,
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        };
        let cases = [
            base,
            Conv2dParams {
                stride: (2, 3),
                padding: (1, 2),
                ..base
            },
            Conv2dParams {
                dilation: (2, 2),
                padding: (2, 1),
                ..base
            },
            Conv2dParams {
                groups: 2,
                stride: (2, 1),
                ..base
            },
            Conv2dParams {
                kernel_h: 1,
                kernel_w: 1,
                ..base
            },
        ];
        for p in cases {
            let g = Geom::new(&p);
            let x: Vec<f64> = (0..p.batch * p.in_channels * g.hw)
                .map(|i| ((i * 37) % 17) as f64 - 8.0)
                .collect();
            let w: Vec<f64> = (0..p.out_channels * g.kk)
                .map(|i| ((i * 11) % 7) as f64 - 3.0)
                .collect();
            let reference = conv_reference(&x, &w, &p);
            assert_eq!(forward_t(&x, &w, None, &g), reference, "{p:?}");
            // A bias adds to every position of its channel.
            let bias: Vec<f64> = (0..p.out_channels).map(|c| c as f64 - 2.5).collect();
            let with_bias: Vec<f64> = reference
                .iter()
                .enumerate()
                .map(|(i, v)| v + bias[(i / g.ohw) % p.out_channels])
                .collect();
            assert_eq!(forward_t(&x, &w, Some(&bias), &g), with_bias, "{p:?}");
            // The gradients are the adjoints of the forward map: <conv(x), gy> equals
            // <x, dx(gy)> and <w, dw(x, gy)>.
            let gy: Vec<f64> = (0..p.batch * p.out_channels * g.ohw)
                .map(|i| ((i * 5) % 9) as f64 - 4.0)
                .collect();
            let y = forward_t(&x, &w, None, &g);
            let lhs: f64 = y.iter().zip(&gy).map(|(a, b)| a * b).sum();
            let dx = backward_input_t(&gy, &w, None, &g);
            let dw = backward_weight_t(&x, &gy, None, &g);
            let rx: f64 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
            let rw: f64 = w.iter().zip(&dw).map(|(a, b)| a * b).sum();
            assert_eq!(lhs, rx, "{p:?}");
            assert_eq!(lhs, rw, "{p:?}");
        }
    }
}
