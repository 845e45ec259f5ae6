//! Elementwise kernels: copies with casts, unary and binary ops, `where`.

use super::real::{FloatElem, Real};
use super::strided::{fill_runs, Plan, PAR_THRESHOLD};
use super::Read;
use crate::backend::{BinaryOp, UnaryOp};
use crate::shape::DimVec;
use crate::{DType, Element, Error, HostData, Layout, Result, Scalar};
use rayon::prelude::*;

/// `f` applied to every element of the strided view `(src, layout)`, in row-major order.
pub(crate) fn map1<S, D>(src: &[S], layout: &Layout, f: impl Fn(S) -> D + Sync) -> Vec<D>
where
    S: Copy + Sync,
    D: Element,
{
    let n = layout.elem_count();
    let mut out = super::cache::output(n);
    if layout.is_contiguous() {
        let src = &src[layout.offset()..layout.offset() + n];
        if n >= PAR_THRESHOLD {
            out.par_chunks_mut(PAR_THRESHOLD)
                .zip(src.par_chunks(PAR_THRESHOLD))
                .for_each(|(o, s)| o.iter_mut().zip(s).for_each(|(o, &s)| *o = f(s)));
        } else {
            out.iter_mut().zip(src).for_each(|(o, &s)| *o = f(s));
        }
        return out;
    }
    let plan = Plan::<1>::of(layout);
    let st = plan.inner_strides[0];
    fill_runs(&plan, &mut out, |run, [o]| {
        if st == 1 {
            let len = run.len();
            run.iter_mut()
                .zip(&src[o..o + len])
                .for_each(|(r, &s)| *r = f(s));
        } else {
            for (j, r) in run.iter_mut().enumerate() {
                *r = f(src[o + j * st]);
            }
        }
    });
    out
}

/// `f(a, b)` for every pair of elements of two strided views of one shape.
pub(crate) fn map2<A, B, D>(
    a: &[A],
    la: &Layout,
    b: &[B],
    lb: &Layout,
    f: impl Fn(A, B) -> D + Sync,
) -> Vec<D>
where
    A: Copy + Sync,
    B: Copy + Sync,
    D: Element,
{
    let n = la.elem_count();
    if n < PAR_THRESHOLD && la.is_contiguous() && lb.is_contiguous() {
        // The common small case: two contiguous operands of one shape.
        let (a, b) = (
            &a[la.offset()..la.offset() + n],
            &b[lb.offset()..lb.offset() + n],
        );
        return a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect();
    }
    let mut out = super::cache::output(n);
    let plan = Plan::new(
        la.dims(),
        [(la.strides(), la.offset()), (lb.strides(), lb.offset())],
    );
    let [sa, sb] = plan.inner_strides;
    fill_runs(&plan, &mut out, |run, [oa, ob]| {
        let len = run.len();
        match (sa, sb) {
            (1, 1) => run
                .iter_mut()
                .zip(a[oa..oa + len].iter().zip(&b[ob..ob + len]))
                .for_each(|(r, (&x, &y))| *r = f(x, y)),
            (1, 0) => {
                let y = b[ob];
                run.iter_mut()
                    .zip(&a[oa..oa + len])
                    .for_each(|(r, &x)| *r = f(x, y));
            }
            (0, 1) => {
                let x = a[oa];
                run.iter_mut()
                    .zip(&b[ob..ob + len])
                    .for_each(|(r, &y)| *r = f(x, y));
            }
            _ => {
                for (j, r) in run.iter_mut().enumerate() {
                    *r = f(a[oa + j * sa], b[ob + j * sb]);
                }
            }
        }
    });
    out
}

/// `f(a, b, c)` for every triple of elements of three strided views of one shape.
fn map3<A, B, C, D>(
    (a, la): (&[A], &Layout),
    (b, lb): (&[B], &Layout),
    (c, lc): (&[C], &Layout),
    f: impl Fn(A, B, C) -> D + Sync,
) -> Vec<D>
where
    A: Copy + Sync,
    B: Copy + Sync,
    C: Copy + Sync,
    D: Element,
{
    let mut out = super::cache::output(la.elem_count());
    let plan = Plan::new(
        la.dims(),
        [
            (la.strides(), la.offset()),
            (lb.strides(), lb.offset()),
            (lc.strides(), lc.offset()),
        ],
    );
    let [sa, sb, sc] = plan.inner_strides;
    fill_runs(&plan, &mut out, |run, [oa, ob, oc]| {
        let len = run.len();
        match (sa, sb, sc) {
            // The common cases (relu's gradient, masked_fill): unit strides or a broadcast
            // scalar branch, written so that the loop vectorises.
            (1, 1, 1) => {
                let (a, b, c) = (&a[oa..oa + len], &b[ob..ob + len], &c[oc..oc + len]);
                for (j, r) in run.iter_mut().enumerate() {
                    *r = f(a[j], b[j], c[j]);
                }
            }
            (1, 1, 0) => {
                let (a, b, z) = (&a[oa..oa + len], &b[ob..ob + len], c[oc]);
                for (j, r) in run.iter_mut().enumerate() {
                    *r = f(a[j], b[j], z);
                }
            }
            (1, 0, 1) => {
                let (a, y, c) = (&a[oa..oa + len], b[ob], &c[oc..oc + len]);
                for (j, r) in run.iter_mut().enumerate() {
                    *r = f(a[j], y, c[j]);
                }
            }
            _ => {
                for (j, r) in run.iter_mut().enumerate() {
                    *r = f(a[oa + j * sa], b[ob + j * sb], c[oc + j * sc]);
                }
            }
        }
    });
    out
}

/// A contiguous copy of the view, cast to `dtype`.
pub(crate) fn copy(src: &HostData, layout: &Layout, dtype: DType) -> HostData {
    if dtype == src.dtype() {
        return match_host!(src, s => Element::into_host(map1(s, layout, |x| x)));
    }
    if src.dtype().is_int() && dtype.is_int() {
        // Integer to integer wraps modulo 2^bits (300 -> u8 44, -1 -> u8 255), as in PyTorch,
        // and stays exact for i64 beyond 2^53.
        fn wrap<S: IntElem>(src: &[S], layout: &Layout, dtype: DType) -> HostData {
            let v = map1(src, layout, |x: S| x.to_i64());
            match dtype {
                DType::I32 => HostData::I32(v.into_iter().map(|x| x as i32).collect()),
                DType::U8 => HostData::U8(v.into_iter().map(|x| x as u8).collect()),
                _ => HostData::I64(v),
            }
        }
        return match src {
            HostData::I32(s) => wrap(s, layout, dtype),
            HostData::I64(s) => wrap(s, layout, dtype),
            HostData::U8(s) => wrap(s, layout, dtype),
            _ => unreachable!("an integer dtype"),
        };
    }
    fn go<S: Element, D: Element>(src: &[S], layout: &Layout) -> HostData {
        D::into_host(map1(src, layout, |x| D::from_f64(x.to_f64())))
    }
    match_host!(src, s => dispatch_dtype!(dtype, D => go::<_, D>(s, layout)))
}

/// Writes the contiguous `src` into the strided region `layout` of `dst` (same dtype).
pub(crate) fn scatter_into(src: &HostData, dst: &mut HostData, layout: &Layout) {
    fn go<T: Copy>(src: &[T], dst: &mut [T], layout: &Layout) {
        let plan = Plan::<1>::of(layout);
        let st = plan.inner_strides[0];
        let mut chunks = src.chunks(plan.inner.max(1));
        plan.for_runs(0, plan.runs(), |_, [o]| {
            let run = chunks.next().expect("run count");
            for (j, &v) in run.iter().enumerate() {
                dst[o + j * st] = v;
            }
        });
    }
    macro_rules! arm {
        ($($v:ident),*) => {
            match (src, dst) {
                $((HostData::$v(s), HostData::$v(d)) => go(s, d, layout),)*
                _ => unreachable!("scatter_into: the staged copy has the destination's dtype"),
            }
        };
    }
    arm!(F32, F64, F16, BF16, I32, I64, U8, Bool)
}

pub(crate) fn unary(op: UnaryOp, src: &HostData, layout: &Layout) -> Result<HostData> {
    Ok(match src {
        HostData::F32(s) => HostData::F32(unary_float(op, s, layout)),
        HostData::F64(s) => HostData::F64(unary_float(op, s, layout)),
        HostData::F16(s) => HostData::F16(unary_float(op, s, layout)),
        HostData::BF16(s) => HostData::BF16(unary_float(op, s, layout)),
        HostData::I32(s) => HostData::I32(unary_int(op, s, layout)?),
        HostData::I64(s) => HostData::I64(unary_int(op, s, layout)?),
        HostData::U8(s) => HostData::U8(unary_int(op, s, layout)?),
        HostData::Bool(_) => {
            return Err(Error::dtype(op.name(), DType::Bool, "a numeric dtype"));
        }
    })
}

fn unary_float<T: FloatElem>(op: UnaryOp, src: &[T], layout: &Layout) -> Vec<T> {
    fn go<T: FloatElem>(src: &[T], layout: &Layout, f: impl Fn(T::Acc) -> T::Acc + Sync) -> Vec<T> {
        map1(src, layout, |x: T| T::from_acc(f(x.to_acc())))
    }
    let one = T::Acc::ONE;
    let zero = T::Acc::ZERO;
    let half = T::Acc::from_f64(0.5);
    let c = |v: f64| T::Acc::from_f64(v);
    match op {
        UnaryOp::Neg => go(src, layout, |x| -x),
        UnaryOp::Abs => go(src, layout, |x| x.abs()),
        UnaryOp::Exp => go(src, layout, |x| x.exp()),
        UnaryOp::Log => go(src, layout, |x| x.ln()),
        UnaryOp::Log1p => go(src, layout, |x| x.ln_1p()),
        UnaryOp::Sqrt => go(src, layout, |x| x.sqrt()),
        UnaryOp::Rsqrt => go(src, layout, |x| one / x.sqrt()),
        UnaryOp::Square => go(src, layout, |x| x * x),
        UnaryOp::Sin => go(src, layout, |x| x.sin()),
        UnaryOp::Cos => go(src, layout, |x| x.cos()),
        UnaryOp::Tanh => go(src, layout, |x| x.tanh()),
        UnaryOp::Sigmoid => go(src, layout, |x| one / (one + (-x).exp())),
        UnaryOp::Relu => go(src, layout, |x| if x < zero { zero } else { x }),
        UnaryOp::LeakyRelu(slope) => {
            let s = c(slope);
            go(src, layout, |x| if x > zero { x } else { x * s })
        }
        UnaryOp::Gelu => {
            let r = c(std::f64::consts::FRAC_1_SQRT_2);
            go(src, layout, |x| half * x * (one + (x * r).erf()))
        }
        UnaryOp::GeluTanh => {
            let k = c((2.0 / std::f64::consts::PI).sqrt());
            let a = c(0.044715);
            go(src, layout, |x| {
                half * x * (one + (k * (x + a * x * x * x)).tanh())
            })
        }
        UnaryOp::Silu => go(src, layout, |x| x / (one + (-x).exp())),
        UnaryOp::Softplus { beta, threshold } => {
            let (b, t) = (c(beta), c(threshold));
            go(src, layout, |x| {
                if x * b > t {
                    x
                } else {
                    (x * b).exp().ln_1p() / b
                }
            })
        }
        UnaryOp::Erf => go(src, layout, |x| x.erf()),
        UnaryOp::Sign => go(src, layout, |x| {
            if x > zero {
                one
            } else if x < zero {
                -one
            } else {
                zero
            }
        }),
        UnaryOp::Floor => go(src, layout, |x| x.floor()),
        UnaryOp::Ceil => go(src, layout, |x| x.ceil()),
        UnaryOp::Round => go(src, layout, |x| x.round_even()),
        UnaryOp::Recip => go(src, layout, |x| one / x),
        UnaryOp::Clamp { min, max } => {
            let (lo, hi) = (c(min), c(max));
            if min.is_nan() || max.is_nan() {
                return go(src, layout, |_| c(f64::NAN));
            }
            go(src, layout, |x| {
                let y = if x < lo { lo } else { x };
                if y > hi {
                    hi
                } else {
                    y
                }
            })
        }
    }
}

/// Integer element types, computed in i64 with wrapping arithmetic (back through
/// [`Element::from_i64`]).
pub(crate) trait IntElem: Element {
    fn to_i64(self) -> i64;
}

macro_rules! impl_int {
    ($($t:ty),*) => {$(
        impl IntElem for $t {
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
        }
    )*};
}
impl_int!(i32, i64, u8);

fn unary_int<T: IntElem>(op: UnaryOp, src: &[T], layout: &Layout) -> Result<Vec<T>> {
    fn go<T: IntElem>(src: &[T], layout: &Layout, f: impl Fn(i64) -> i64 + Sync) -> Vec<T> {
        map1(src, layout, |x: T| T::from_i64(f(x.to_i64())))
    }
    Ok(match op {
        UnaryOp::Neg => go(src, layout, |x| x.wrapping_neg()),
        UnaryOp::Abs => go(src, layout, |x| x.wrapping_abs()),
        UnaryOp::Sign => go(src, layout, |x| x.signum()),
        UnaryOp::Square => go(src, layout, |x| x.wrapping_mul(x)),
        UnaryOp::Relu => go(src, layout, |x| x.max(0)),
        // Integer tensors meet only integer (or infinite) bounds: fractional ones promote.
        // With min > max every element becomes max, as in PyTorch.
        UnaryOp::Clamp { min, max } => map1(src, layout, |x: T| {
            let v = x.to_f64();
            if v > max || min > max {
                T::from_f64(max)
            } else if v < min {
                T::from_f64(min)
            } else {
                x
            }
        }),
        UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round => go(src, layout, |x| x),
        _ => return Err(Error::dtype(op.name(), T::DTYPE, "a float dtype")),
    })
}

pub(crate) fn binary(
    op: BinaryOp,
    a: &HostData,
    la: &Layout,
    b: &HostData,
    lb: &Layout,
) -> Result<HostData> {
    macro_rules! arm {
        ($($v:ident => $f:ident),*) => {
            match (a, b) {
                $((HostData::$v(x), HostData::$v(y)) => $f(op, x, la, y, lb),)*
                _ => Err(Error::invalid(
                    op.name(),
                    format!("operands have dtypes {} and {}; cast them to one dtype first", a.dtype(), b.dtype()),
                )),
            }
        };
    }
    arm!(F32 => binary_float, F64 => binary_float, F16 => binary_float, BF16 => binary_float,
         I32 => binary_int, I64 => binary_int, U8 => binary_int, Bool => binary_bool)
}

/// `op(a, s)` with the scalar `s` in `a`'s dtype: the binary kernels, with the scalar on the
/// stack behind a stride-0 layout (the inner loop hoists it).
pub(crate) fn binary_scalar(
    op: BinaryOp,
    a: &HostData,
    la: &Layout,
    s: Scalar,
) -> Result<HostData> {
    let lb = Layout::new(
        la.shape().clone(),
        &DimVec::from_elem(0, la.dims().len()),
        0,
    );
    macro_rules! arm {
        ($($v:ident => $f:ident),*) => {
            match a {
                $(HostData::$v(x) => $f(op, x, la, &[Element::from_scalar(s)], &lb),)*
            }
        };
    }
    arm!(F32 => binary_float, F64 => binary_float, F16 => binary_float, BF16 => binary_float,
         I32 => binary_int, I64 => binary_int, U8 => binary_int, Bool => binary_bool)
}

/// Comparisons and logical ops, shared by every dtype.
fn predicate<T: Element>(op: BinaryOp, a: &[T], la: &Layout, b: &[T], lb: &Layout) -> HostData {
    let zero = T::from_f64(0.0);
    let v = match op {
        BinaryOp::Eq => map2(a, la, b, lb, |x, y| x == y),
        BinaryOp::Ne => map2(a, la, b, lb, |x, y| x != y),
        BinaryOp::Lt => map2(a, la, b, lb, |x, y| x < y),
        BinaryOp::Le => map2(a, la, b, lb, |x, y| x <= y),
        BinaryOp::Gt => map2(a, la, b, lb, |x, y| x > y),
        BinaryOp::Ge => map2(a, la, b, lb, |x, y| x >= y),
        BinaryOp::And => map2(a, la, b, lb, |x, y| x != zero && y != zero),
        BinaryOp::Or => map2(a, la, b, lb, |x, y| x != zero || y != zero),
        _ => unreachable!("predicate called with {op:?}"),
    };
    HostData::Bool(v)
}

fn binary_float<T: FloatElem>(
    op: BinaryOp,
    a: &[T],
    la: &Layout,
    b: &[T],
    lb: &Layout,
) -> Result<HostData> {
    if op.is_predicate() {
        return Ok(predicate(op, a, la, b, lb));
    }
    fn go<T: FloatElem>(
        a: &[T],
        la: &Layout,
        b: &[T],
        lb: &Layout,
        f: impl Fn(T::Acc, T::Acc) -> T::Acc + Sync,
    ) -> HostData {
        T::into_host(map2(a, la, b, lb, |x: T, y: T| {
            T::from_acc(f(x.to_acc(), y.to_acc()))
        }))
    }
    Ok(match op {
        BinaryOp::Add => go(a, la, b, lb, |x, y| x + y),
        BinaryOp::Sub => go(a, la, b, lb, |x, y| x - y),
        BinaryOp::Mul => go(a, la, b, lb, |x, y| x * y),
        BinaryOp::Div => go(a, la, b, lb, |x, y| x / y),
        BinaryOp::Pow => go(a, la, b, lb, |x, y| x.powf(y)),
        BinaryOp::Maximum => go(a, la, b, lb, |x, y| if x.is_nan() || x > y { x } else { y }),
        BinaryOp::Minimum => go(a, la, b, lb, |x, y| if x.is_nan() || x < y { x } else { y }),
        _ => unreachable!("handled above"),
    })
}

fn binary_int<T: IntElem>(
    op: BinaryOp,
    a: &[T],
    la: &Layout,
    b: &[T],
    lb: &Layout,
) -> Result<HostData> {
    if op.is_predicate() {
        return Ok(predicate(op, a, la, b, lb));
    }
    // Division by zero is an error, as in PyTorch.
    if op == BinaryOp::Div && map1(b, lb, |y: T| y.to_i64()).contains(&0) {
        return Err(Error::invalid("div", "integer division by zero"));
    }
    fn go<T: IntElem>(
        a: &[T],
        la: &Layout,
        b: &[T],
        lb: &Layout,
        f: impl Fn(i64, i64) -> i64 + Sync,
    ) -> HostData {
        T::into_host(map2(a, la, b, lb, |x: T, y: T| {
            T::from_i64(f(x.to_i64(), y.to_i64()))
        }))
    }
    Ok(match op {
        BinaryOp::Add => go(a, la, b, lb, |x, y| x.wrapping_add(y)),
        BinaryOp::Sub => go(a, la, b, lb, |x, y| x.wrapping_sub(y)),
        BinaryOp::Mul => go(a, la, b, lb, |x, y| x.wrapping_mul(y)),
        BinaryOp::Div => go(a, la, b, lb, |x, y| x.wrapping_div(y)),
        BinaryOp::Pow => go(a, la, b, lb, |x, y| match y {
            0.. => x.wrapping_pow(y.min(u32::MAX as i64) as u32),
            // A negative power is 1 / x^-y truncated toward 0, as PyTorch's integer pow.
            _ if x == 1 => 1,
            _ if x == -1 => 1 - 2 * (y & 1),
            _ => 0,
        }),
        BinaryOp::Maximum => go(a, la, b, lb, |x, y| x.max(y)),
        BinaryOp::Minimum => go(a, la, b, lb, |x, y| x.min(y)),
        _ => unreachable!("handled above"),
    })
}

fn binary_bool(op: BinaryOp, a: &[bool], la: &Layout, b: &[bool], lb: &Layout) -> Result<HostData> {
    if op.is_predicate() {
        return Ok(predicate(op, a, la, b, lb));
    }
    let v = match op {
        BinaryOp::Add | BinaryOp::Maximum => map2(a, la, b, lb, |x, y| x || y),
        BinaryOp::Mul | BinaryOp::Minimum => map2(a, la, b, lb, |x, y| x && y),
        _ => {
            return Err(Error::dtype(
                op.name(),
                DType::Bool,
                "a numeric dtype (cast bool tensors first)",
            ))
        }
    };
    Ok(HostData::Bool(v))
}

pub(crate) fn where_cond(c: &Read<'_>, t: &Read<'_>, f: &Read<'_>) -> Result<HostData> {
    let HostData::Bool(cond) = &*c.data else {
        return Err(Error::dtype(
            "where",
            c.data.dtype(),
            "bool for the condition",
        ));
    };
    let lc = c.layout;
    macro_rules! arm {
        ($($v:ident),*) => {
            match (&*t.data, &*f.data) {
                $((HostData::$v(x), HostData::$v(y)) => Ok(HostData::$v(map3(
                    (cond, lc),
                    (x, t.layout),
                    (y, f.layout),
                    |c, x, y| if c { x } else { y },
                ))),)*
                (x, y) => Err(Error::invalid(
                    "where",
                    format!("the branches have dtypes {} and {}; cast them to one dtype first", x.dtype(), y.dtype()),
                )),
            }
        };
    }
    arm!(F32, F64, F16, BF16, I32, I64, U8, Bool)
}
