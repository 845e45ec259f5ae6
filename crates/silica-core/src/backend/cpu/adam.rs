//! The fused Adam/AdamW step: one pass over the parameter, its gradient and its moments,
//! instead of a dozen elementwise ops with a temporary each.

use super::strided::PAR_THRESHOLD;
use super::{cache, cpu_buf, Read};
use crate::backend::{AdamStep, View};
use crate::{Error, HostData, Result};
use rayon::prelude::*;

/// f32 or f64: what the fused step computes in.
trait Float:
    Copy
    + Send
    + Sync
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
    + crate::Element
{
    fn of(v: f64) -> Self;
    fn sqrt(self) -> Self;
}

impl Float for f32 {
    fn of(v: f64) -> Self {
        v as f32
    }
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
}

impl Float for f64 {
    fn of(v: f64) -> Self {
        v
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
}

fn unsupported(why: &str) -> Error {
    Error::NotSupported {
        op: "adam_step",
        backend: format!("cpu ({why})"),
    }
}

/// A contiguous slice of `T` from a read view, or `None` when the view is not one.
fn slice<'a, T: crate::Element>(r: &'a Read<'a>) -> Option<&'a [T]> {
    if !r.layout.is_contiguous() {
        return None;
    }
    let v = T::slice(&r.data)?;
    v.get(r.layout.offset()..r.layout.offset() + r.layout.elem_count())
}

pub(crate) fn adam_step(
    param: View<'_>,
    grad: View<'_>,
    moments: [Option<View<'_>>; 3],
    s: &AdamStep,
) -> Result<Vec<HostData>> {
    let pbuf = cpu_buf(param.buf, "adam_step")?;
    if std::ptr::eq(param.buf.as_any(), grad.buf.as_any())
        || moments
            .iter()
            .flatten()
            .any(|m| std::ptr::eq(param.buf.as_any(), m.buf.as_any()))
    {
        return Err(unsupported(
            "a moment or the gradient shares the parameter's buffer",
        ));
    }
    if !param.layout.is_contiguous() {
        return Err(unsupported("a non-contiguous parameter"));
    }
    let g = super::read(grad, "adam_step")?;
    let ms: Vec<Option<Read<'_>>> = moments
        .iter()
        .map(|m| m.map(|v| super::read(v, "adam_step")).transpose())
        .collect::<Result<_>>()?;
    let mut p = pbuf.write();
    let (off, n) = (param.layout.offset(), param.layout.elem_count());
    match &mut *p {
        HostData::F32(p) => go::<f32>(&mut p[off..off + n], &g, &ms, s),
        HostData::F64(p) => go::<f64>(&mut p[off..off + n], &g, &ms, s),
        _ => Err(unsupported("a dtype other than f32 and f64")),
    }
}

fn go<T: Float>(
    p: &mut [T],
    g: &Read<'_>,
    ms: &[Option<Read<'_>>],
    s: &AdamStep,
) -> Result<Vec<HostData>> {
    let n = p.len();
    let g = slice::<T>(g).ok_or_else(|| unsupported("a non-contiguous gradient"))?;
    let moment = |i: usize| -> Result<Option<&[T]>> {
        match &ms[i] {
            None => Ok(None),
            Some(r) => slice::<T>(r)
                .map(Some)
                .ok_or_else(|| unsupported("a non-contiguous moment")),
        }
    };
    let (m_in, v_in, vmax_in) = (moment(0)?, moment(1)?, moment(2)?);
    if g.len() != n || [m_in, v_in, vmax_in].iter().flatten().any(|m| m.len() != n) {
        return Err(Error::invalid(
            "adam_step",
            "the parameter, gradient and moments differ in size",
        ));
    }
    let zero = T::of(0.0);
    let mut m_out = cache::output(n);
    let mut v_out = cache::output(n);
    let mut vmax_out = if s.amsgrad {
        cache::output(n)
    } else {
        Vec::new()
    };

    let (beta1, beta2) = (T::of(s.beta1), T::of(s.beta2));
    let (one_b1, one_b2) = (T::of(1.0 - s.beta1), T::of(1.0 - s.beta2));
    let step = s.step as f64;
    let step_size = T::of(s.lr / (1.0 - s.beta1.powf(step)));
    let bc2_sqrt = T::of((1.0 - s.beta2.powf(step)).sqrt());
    let eps = T::of(s.eps);
    let wd = T::of(s.weight_decay);
    let decay = T::of(1.0 - s.lr * s.weight_decay);
    let (decoupled, coupled) = (s.decoupled, !s.decoupled && s.weight_decay != 0.0);

    let chunk = PAR_THRESHOLD.min(n.max(1));
    let work = |c: usize, p: &mut [T], m: &mut [T], v: &mut [T], mut vmax: Option<&mut [T]>| {
        let base = c * chunk;
        for i in 0..p.len() {
            let j = base + i;
            let mut gi = if s.maximize { -g[j] } else { g[j] };
            let mut pi = p[i];
            if decoupled {
                pi = pi * decay;
            } else if coupled {
                gi = gi + wd * pi;
            }
            let mi = m_in.map_or(zero, |a| a[j]) * beta1 + gi * one_b1;
            let vi = v_in.map_or(zero, |a| a[j]) * beta2 + gi * one_b2 * gi;
            let used = match vmax.as_deref_mut() {
                Some(out) => {
                    let prev = vmax_in.map_or(zero, |a| a[j]);
                    out[i] = if prev > vi { prev } else { vi };
                    out[i]
                }
                None => vi,
            };
            let denom = used.sqrt() / bc2_sqrt + eps;
            p[i] = pi + (-step_size * mi) / denom;
            m[i] = mi;
            v[i] = vi;
        }
    };
    let min_len = if n >= PAR_THRESHOLD { 1 } else { usize::MAX };
    let chunks = p
        .par_chunks_mut(chunk)
        .zip(m_out.par_chunks_mut(chunk))
        .zip(v_out.par_chunks_mut(chunk))
        .enumerate()
        .with_min_len(min_len);
    if s.amsgrad {
        chunks
            .zip(vmax_out.par_chunks_mut(chunk))
            .for_each(|((c, ((p, m), v)), x)| work(c, p, m, v, Some(x)));
    } else {
        chunks.for_each(|(c, ((p, m), v))| work(c, p, m, v, None));
    }
    let mut out = vec![T::into_host(m_out), T::into_host(v_out)];
    if s.amsgrad {
        out.push(T::into_host(vmax_out));
    }
    Ok(out)
}
