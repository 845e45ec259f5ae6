//! The gradients of a 2-D convolution, recorded as ops of their own so that they can be
//! differentiated again (as PyTorch's `convolution_backward` is).
//!
//! With `y = conv(x, w)` and output gradient `g`: the input gradient is `Bi(g, w)` (a transposed
//! convolution) and the weight gradient is `Bw(x, g)`. Both are bilinear, and their adjoints are
//! convolutions again: for a gradient `a` of `Bi(g, w)`, `d/dg = conv(a, w)` and
//! `d/dw = Bw(a, g)`; for a gradient `b` of `Bw(x, g)`, `d/dx = Bi(g, b)` and
//! `d/dg = conv(x, b)`. So derivatives of every order are exact.

use super::{record, Op};
use crate::backend::Conv2dParams;
use crate::{Result, Shape, Tensor};

/// `Bi(g, w)`: the gradient of a convolution's input `[n, c_in, h, w]`.
pub(crate) fn input_grad(g: &Tensor, weight: &Tensor, p: &Conv2dParams) -> Result<Tensor> {
    let backend = g.backend();
    let buf = backend.conv2d_backward_input(g.hold().view(), weight.hold().view(), p)?;
    let op = record(&[g, weight], || Op::Conv2dInputGrad {
        g: g.clone(),
        weight: weight.clone(),
        params: *p,
    });
    let shape = Shape::new(vec![p.batch, p.in_channels, p.in_h, p.in_w]);
    Ok(Tensor::from_buffer(backend, buf, &shape, op))
}

/// `Bw(x, g)`: the gradient of a convolution's weight `[c_out, c_in / groups, kh, kw]`.
pub(crate) fn weight_grad(input: &Tensor, g: &Tensor, p: &Conv2dParams) -> Result<Tensor> {
    let backend = g.backend();
    let buf = backend.conv2d_backward_weight(input.hold().view(), g.hold().view(), p)?;
    let op = record(&[input, g], || Op::Conv2dWeightGrad {
        input: input.clone(),
        g: g.clone(),
        params: *p,
    });
    let shape = Shape::new(vec![
        p.out_channels,
        p.in_channels / p.groups,
        p.kernel_h,
        p.kernel_w,
    ]);
    Ok(Tensor::from_buffer(backend, buf, &shape, op))
}

/// `Some(make())` when `t` needs a gradient: the first layer's input rarely does.
fn wanted(t: &Tensor, make: impl FnOnce() -> Result<Tensor>) -> Result<Option<Tensor>> {
    t.requires_grad().then(make).transpose()
}

/// The gradients of `conv(input, weight) + bias` for the output gradient `g`.
pub(crate) fn conv2d_backward(
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    p: &Conv2dParams,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    let gi = wanted(input, || input_grad(g, weight, p))?;
    let gw = wanted(weight, || weight_grad(input, g, p))?;
    let mut out = vec![gi, gw];
    if let Some(b) = bias {
        out.push(wanted(b, || g.sum([0, 2, 3], false))?);
    }
    Ok(out)
}

/// The gradients of `Bi(g, weight)` for its gradient `a`: `[d/dg, d/dweight]`.
pub(crate) fn input_grad_backward(
    g: &Tensor,
    weight: &Tensor,
    p: &Conv2dParams,
    a: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    Ok(vec![
        wanted(g, || a.conv2d_with(weight, None, p))?,
        wanted(weight, || weight_grad(a, g, p))?,
    ])
}

/// The gradients of `Bw(input, g)` for its gradient `b`: `[d/dinput, d/dg]`.
pub(crate) fn weight_grad_backward(
    input: &Tensor,
    g: &Tensor,
    p: &Conv2dParams,
    b: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    Ok(vec![
        wanted(input, || input_grad(g, b, p))?,
        wanted(g, || input.conv2d_with(b, None, p))?,
    ])
}
