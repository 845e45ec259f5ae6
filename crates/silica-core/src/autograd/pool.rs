//! The gradient of average pooling, recorded as an op of its own: it is linear in the output
//! gradient, and its own gradient is the average pooling again, so every order is exact.
//! (Max pooling's gradient is a `scatter_add` at the recorded indices, an ordinary op.)

use super::{record, Op};
use crate::backend::Pool2dParams;
use crate::{Result, Shape, Tensor};

/// The input gradient `[n, c, h, w]` of an average pooling, given the output gradient `g`.
pub(crate) fn avg_pool2d_grad(g: &Tensor, p: &Pool2dParams) -> Result<Tensor> {
    let backend = g.backend();
    let buf = backend.avg_pool2d_backward(g.hold().view(), p)?;
    let op = record(&[g], || Op::AvgPool2dGrad {
        g: g.clone(),
        params: *p,
    });
    let shape = Shape::new(vec![p.batch, p.channels, p.in_h, p.in_w]);
    Ok(Tensor::from_buffer(backend, buf, &shape, op))
}
