//! The gradient formula of every recorded op, written with public tensor ops.
//!
//! `backward(op, g)` returns one optional gradient per entry of `op.inputs()`, each with the
//! shape and dtype of its input. Because the formulas are tensor ops, they run on every backend,
//! and under `create_graph` they are recorded too.

use super::Op;
use crate::backend::{BinaryOp, UnaryOp};
use crate::{Result, Tensor};
use std::f64::consts::PI;

pub(crate) fn backward(op: &Op, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    Ok(match op {
        Op::ToDType { x } => vec![Some(g.to_dtype(x.dtype())?)],
        Op::ToDevice { x } => vec![Some(g.to_device(x.device())?)],
        Op::Copy { .. } => vec![Some(g.clone())],
        Op::Reshape { x } => vec![Some(g.reshape(x.shape())?)],
        Op::Permute { perm, .. } => {
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            vec![Some(g.permute(inverse)?)]
        }
        Op::Expand { x } => vec![Some(g.sum_to(x.shape())?)],
        Op::Narrow {
            x,
            dim,
            start,
            step,
        } => {
            let mut region = vec![(0, 1); x.rank()];
            region[*dim] = (*start, *step);
            vec![Some(g.embed(x.shape(), &region, 0.0)?)]
        }
        Op::Embed { x, region } => vec![Some(g.strided_box(region, x.dims())?)],
        Op::Unary { x, op } => vec![Some(unary(*op, x, g)?)],
        Op::Binary { lhs, rhs, op } => {
            let (a, b) = binary(*op, lhs, rhs, g)?;
            vec![a, b]
        }
        Op::BinaryScalar { x, op, s } => vec![binary_scalar(*op, x, *s, g)?],
        Op::Where { cond, .. } => {
            let zero = scalar_zero(g)?;
            vec![
                Some(cond.where_cond(g, &zero)?),
                Some(cond.where_cond(&zero, g)?),
            ]
        }
        Op::Sum { x, .. } => vec![Some(g.broadcast_to(x.shape())?.contiguous()?)],
        Op::Prod { x, dims } => vec![Some(prod(x, dims, g)?)],
        Op::Extremum { x, dims, out, all } => {
            // Ties share the gradient evenly, as torch.amax/amin do.
            let out = out.broadcast_to(x.shape())?;
            let mut mask = x.eq(&out)?;
            if *all {
                mask = out.isnan()?.where_cond(&x.isnan()?, &mask)?;
            }
            let mask = mask.to_dtype(x.dtype())?;
            let count = mask.sum(dims.as_slice(), true)?;
            vec![Some(mask.mul(&g.div(&count)?)?)]
        }
        Op::CumProd { x, dim } => vec![Some(crate::tensor::scan::cumprod_grad(x, *dim, g)?)],
        Op::Var {
            x,
            dims,
            correction,
        } => {
            // PyTorch's formula, 2 (x - mean) / (n - correction): the path through the mean
            // adds Σ(x - mean) = 0, which with an infinite element would be NaN instead.
            let n: usize = dims.iter().map(|&d| x.dims()[d]).product();
            let scale = 2.0 / (n as f64 - *correction as f64);
            let centered = x.sub(&x.precise_mean(dims)?)?;
            vec![Some(centered.mul(&g.mul_scalar(scale)?)?)]
        }
        Op::Matmul { lhs, rhs } => {
            let gl = g.matmul(&rhs.transpose(-1, -2)?)?;
            // `x @ w.t()` (Linear): give the transposed weight its gradient as the transpose of
            // a contiguous product, so that `w` itself receives a contiguous one.
            let gr = if lhs.rank() == 2 && is_transposed(rhs) {
                g.t()?.matmul(lhs)?.t()?
            } else {
                lhs.transpose(-1, -2)?.matmul(g)?
            };
            vec![Some(gl), Some(gr)]
        }
        Op::Softmax { x, dim, log, out } => {
            // Under create_graph, recompute the output so second derivatives flow through it.
            let out = if super::is_grad_enabled() {
                if *log {
                    x.log_softmax(*dim)?
                } else {
                    x.softmax(*dim)?
                }
            } else {
                out.clone()
            };
            let gx = if *log {
                g.sub(&out.exp()?.mul(&g.sum(*dim, true)?)?)?
            } else {
                out.mul(&g.sub(&g.mul(&out)?.sum(*dim, true)?)?)?
            };
            vec![Some(gx)]
        }
        Op::Conv2d {
            input,
            weight,
            bias,
            params,
        } => super::conv::conv2d_backward(input, weight, bias.as_ref(), params, g)?,
        Op::Conv2dInputGrad {
            g: go,
            weight,
            params,
        } => super::conv::input_grad_backward(go, weight, params, g)?,
        Op::Conv2dWeightGrad {
            input,
            g: go,
            params,
        } => super::conv::weight_grad_backward(input, go, params, g)?,
        Op::MaxPool2d { x, indices } => {
            let d = x.dims();
            let (planes, hw) = (d[0] * d[1], d[2] * d[3]);
            let out_hw = g.elem_count() / planes.max(1);
            let gi = Tensor::zeros([planes, hw], g.dtype(), g.device())?.scatter_add(
                1,
                &indices.reshape([planes, out_hw])?,
                &g.reshape([planes, out_hw])?,
            )?;
            vec![Some(gi.reshape(x.shape())?)]
        }
        Op::AvgPool2d { params, .. } => vec![Some(super::pool::avg_pool2d_grad(g, params)?)],
        Op::AvgPool2dGrad { params, .. } => vec![Some(g.avg_pool2d_with(params)?)],
        Op::Custom { f, inputs } => super::function::backward(f.as_ref(), inputs, g)?,
        Op::BatchNorm {
            x,
            weight,
            bias,
            mean,
            var,
            eps,
        } => {
            let (dx, dw, db) = super::batch_norm_grads(g, x, mean, var, weight.as_ref(), *eps)?;
            std::iter::once(Some(dx))
                .chain(weight.as_ref().map(|_| Some(dw)))
                .chain(bias.as_ref().map(|_| Some(db)))
                .collect()
        }
        Op::IndexSelect { x, dim, index } => {
            // index_add: scatter along `dim` with the index broadcast over the other dims.
            let mut shape = vec![1; g.rank()];
            shape[*dim] = index.elem_count();
            let idx = index.reshape(shape)?.broadcast_to(g.shape())?;
            vec![Some(x.zeros_like()?.scatter_add(*dim, &idx, g)?)]
        }
        Op::Gather { x, dim, index } => vec![Some(x.zeros_like()?.scatter_add(*dim, index, g)?)],
        Op::ScatterAdd {
            dim, index, src, ..
        } => {
            // `src` may be larger than `index`: its other elements were not read.
            let gs = g.gather(*dim, index)?;
            let gs = if gs.shape() == src.shape() {
                gs
            } else {
                gs.embed(src.shape(), &vec![(0, 1); src.rank()], 0.0)?
            };
            vec![Some(g.clone()), Some(gs)]
        }
        Op::Cat { xs, dim } => {
            let mut start = 0;
            let mut out = Vec::with_capacity(xs.len());
            for x in xs {
                let len = x.dims()[*dim];
                out.push(Some(g.narrow(*dim, start, len)?));
                start += len;
            }
            out
        }
    })
}

/// A zero-dim zero of `g`'s dtype and device, which broadcasts without filling memory.
fn scalar_zero(g: &Tensor) -> Result<Tensor> {
    Tensor::zeros((), g.dtype(), g.device())
}

/// d op(x) / dx · g.
fn unary(op: UnaryOp, x: &Tensor, g: &Tensor) -> Result<Tensor> {
    let one = |t: &Tensor| t.ones_like();
    Ok(match op {
        UnaryOp::Neg => g.neg()?,
        UnaryOp::Abs => g.mul(&x.sign()?)?,
        UnaryOp::Exp => g.mul(&x.exp()?)?,
        UnaryOp::Log => g.div(x)?,
        UnaryOp::Log1p => g.div(&x.add_scalar(1.0)?)?,
        UnaryOp::Sqrt => g.div(&x.sqrt()?.mul_scalar(2.0)?)?,
        // -0.5 rsqrt(x)^3, PyTorch's formula (at x = -0 it is +inf, where rsqrt(x) / x is -inf).
        UnaryOp::Rsqrt => g.mul(&x.rsqrt()?.pow_scalar(3)?.mul_scalar(-0.5)?)?,
        UnaryOp::Square => g.mul(&x.mul_scalar(2.0)?)?,
        UnaryOp::Sin => g.mul(&x.cos()?)?,
        UnaryOp::Cos => g.mul(&x.sin()?.neg()?)?,
        UnaryOp::Tanh => {
            let t = x.tanh()?;
            g.mul(&one(&t)?.sub(&t.square()?)?)?
        }
        UnaryOp::Sigmoid => {
            let s = x.sigmoid()?;
            g.mul(&s.mul(&one(&s)?.sub(&s)?)?)?
        }
        // As PyTorch's threshold_backward: 0 where x <= 0, so a NaN passes the gradient on.
        UnaryOp::Relu => x.le_scalar(0.0)?.where_cond(&scalar_zero(g)?, g)?,
        UnaryOp::LeakyRelu(slope) => {
            let pos = x.gt_scalar(0.0)?;
            let slope_t = Tensor::full_like(x, slope)?;
            g.mul(&pos.where_cond(&one(x)?, &slope_t)?)?
        }
        UnaryOp::Gelu => {
            // Φ(x) + x φ(x)
            let cdf = x
                .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)?
                .erf()?
                .add_scalar(1.0)?
                .mul_scalar(0.5)?;
            let pdf = x
                .square()?
                .mul_scalar(-0.5)?
                .exp()?
                .mul_scalar(1.0 / (2.0 * PI).sqrt())?;
            g.mul(&cdf.add(&x.mul(&pdf)?)?)?
        }
        UnaryOp::GeluTanh => {
            let k = (2.0 / PI).sqrt();
            let x2 = x.square()?;
            let inner = x
                .mul(&x2.mul_scalar(0.044715)?.add_scalar(1.0)?)?
                .mul_scalar(k)?;
            let t = inner.tanh()?;
            let left = t.add_scalar(1.0)?.mul_scalar(0.5)?;
            let dinner = x2
                .mul_scalar(3.0 * 0.044715)?
                .add_scalar(1.0)?
                .mul_scalar(k)?;
            let right = x
                .mul(&one(&t)?.sub(&t.square()?)?)?
                .mul(&dinner)?
                .mul_scalar(0.5)?;
            g.mul(&left.add(&right)?)?
        }
        UnaryOp::Silu => {
            let s = x.sigmoid()?;
            let d = s.mul(&x.mul(&one(&s)?.sub(&s)?)?.add_scalar(1.0)?)?;
            g.mul(&d)?
        }
        UnaryOp::Softplus { beta, threshold } => {
            let bx = x.mul_scalar(beta)?;
            let linear = bx.gt_scalar(threshold)?;
            g.mul(&linear.where_cond(&one(x)?, &bx.sigmoid()?)?)?
        }
        UnaryOp::Erf => g.mul(&x.square()?.neg()?.exp()?.mul_scalar(2.0 / PI.sqrt())?)?,
        UnaryOp::Sign | UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round => g.zeros_like()?,
        UnaryOp::Recip => g.neg()?.div(&x.square()?)?,
        UnaryOp::Clamp { min, max } => {
            // Select rather than multiply by a mask, so an infinite `g` outside gives 0.
            let inside = x.ge_scalar(min)?.logical_and(&x.le_scalar(max)?)?;
            inside.where_cond(g, &scalar_zero(g)?)?
        }
    })
}

/// (d/dlhs, d/drhs) of `lhs op rhs`, times `g`. The operands share the output's shape.
fn binary(
    op: BinaryOp,
    lhs: &Tensor,
    rhs: &Tensor,
    g: &Tensor,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    Ok(match op {
        BinaryOp::Add => (Some(g.clone()), Some(g.clone())),
        BinaryOp::Sub => (Some(g.clone()), Some(g.neg()?)),
        BinaryOp::Mul => (Some(g.mul(rhs)?), Some(g.mul(lhs)?)),
        BinaryOp::Div => {
            let gl = g.div(rhs)?;
            let gr = gl.mul(lhs)?.div(rhs)?.neg()?;
            (Some(gl), Some(gr))
        }
        BinaryOp::Pow => {
            // d/da a^b = b a^(b-1), taken as 0 where b == 0 (0^0 gives no NaN), as in PyTorch;
            // d/db a^b = a^b ln a, taken as 0 where a == 0 and b >= 0.
            let gl = g.mul(&rhs.mul(&lhs.pow(&rhs.sub_scalar(1.0)?)?)?)?;
            let gl = rhs.eq_scalar(0.0)?.where_cond(&gl.zeros_like()?, &gl)?;
            let out = lhs.pow(rhs)?;
            let zero_base = lhs.eq_scalar(0.0)?.logical_and(&rhs.ge_scalar(0.0)?)?;
            let safe_log = zero_base.where_cond(&lhs.ones_like()?, lhs)?.log()?;
            let gr = g.mul(&out.mul(&safe_log)?)?;
            let gr = zero_base.where_cond(&gr.zeros_like()?, &gr)?;
            (Some(gl), Some(gr))
        }
        BinaryOp::Maximum | BinaryOp::Minimum => {
            // The larger (smaller) operand takes the gradient; ties split it in half.
            let (wins, loses) = if op == BinaryOp::Maximum {
                (lhs.gt(rhs)?, lhs.lt(rhs)?)
            } else {
                (lhs.lt(rhs)?, lhs.gt(rhs)?)
            };
            // Select with `where`, so an infinite `g` gives 0, not NaN, to the loser. As in
            // PyTorch, a NaN operand makes neither side lose: both take the whole `g`.
            let zero = scalar_zero(g)?;
            let shared = lhs.eq(rhs)?.where_cond(&g.mul_scalar(0.5)?, g)?;
            (
                Some(loses.where_cond(&zero, &shared)?),
                Some(wins.where_cond(&zero, &shared)?),
            )
        }
        _ => (None, None),
    })
}

/// d/dx op(x, s) · g for a scalar `s`.
fn binary_scalar(op: BinaryOp, x: &Tensor, s: crate::Scalar, g: &Tensor) -> Result<Option<Tensor>> {
    Ok(Some(match op {
        BinaryOp::Add | BinaryOp::Sub => g.clone(),
        BinaryOp::Mul => g.mul_scalar(s)?,
        BinaryOp::Div => g.div_scalar(s)?,
        // s x^(s-1), 0 for s = 0 (no NaN from 0^-1), as PyTorch's pow_backward.
        BinaryOp::Pow if s.to_f64() == 0.0 => g.zeros_like()?,
        BinaryOp::Pow => {
            let e = s.to_f64();
            g.mul(&x.pow_scalar(e - 1.0)?.mul_scalar(e)?)?
        }
        BinaryOp::Maximum | BinaryOp::Minimum => {
            let rhs = Tensor::filled((), s, x.dtype(), x.device())?.broadcast_to(x.shape())?;
            return Ok(binary(op, x, &rhs, g)?.0);
        }
        _ => return Ok(None),
    }))
}

/// The gradient of a product over `dims`: each element gets `g` times the product of the
/// other elements of its slice. Computed as exclusive products (no division), so zeros, NaN
/// and infinities give what the product of the others gives, and it is differentiable again.
fn prod(x: &Tensor, dims: &[usize], g: &Tensor) -> Result<Tensor> {
    if dims.is_empty() {
        return Ok(g.clone());
    }
    // Move the reduced dims last and merge them: [kept.., n].
    let kept: Vec<usize> = (0..x.rank()).filter(|d| !dims.contains(d)).collect();
    let perm: Vec<usize> = kept.iter().chain(dims).copied().collect();
    let moved = x.permute(perm.clone())?;
    let mut merged: Vec<usize> = kept.iter().map(|&d| x.dims()[d]).collect();
    merged.push(dims.iter().map(|&d| x.dims()[d]).product());
    let others = exclusive_products(&moved.reshape(merged)?)?.reshape(moved.shape())?;
    let mut inverse = vec![0; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p] = i;
    }
    g.mul(&others.permute(inverse)?)
}

/// Along the last dim: element `i` becomes the product of the elements other than `i`, from
/// prefix and suffix products (scans by doubling).
fn exclusive_products(t: &Tensor) -> Result<Tensor> {
    let last = t.rank() - 1;
    let n = t.dims()[last];
    if n == 0 {
        return Ok(t.clone());
    }
    let mul = |a: &Tensor, b: &Tensor| a.mul(b);
    let ones = t.narrow(last, 0, 1)?.ones_like()?;
    let prefix = crate::tensor::scan::scan(t, last, true, mul)?;
    let suffix = crate::tensor::scan::scan(t, last, false, mul)?;
    let before = Tensor::cat(&[&ones, &prefix.narrow(last, 0, n - 1)?], last)?;
    let after = Tensor::cat(&[&suffix.narrow(last, 1, n - 1)?, &ones], last)?;
    before.mul(&after)
}

/// True for a 2-D view that is the transpose of a contiguous matrix.
fn is_transposed(t: &Tensor) -> bool {
    let layout = t.layout();
    let (d, s) = (layout.dims(), layout.strides());
    d.len() == 2 && d[0] > 1 && d[1] > 1 && s == [1, d[0]]
}
