//! The gradient of batch normalisation with batch statistics.

use crate::tensor::fused::fused_or;
use crate::tensor::norm::{channel_shape, channel_stats};
use crate::tensor::Held;
use crate::{Result, Shape, Tensor};

/// The gradients of [`Tensor::batch_norm_train`] with respect to `x`, `weight` and `bias`,
/// given the output gradient `g` and the forward pass's `[c]` mean and biased variance.
///
/// Under `create_graph` the statistics are recomputed from `x` with recorded ops, so the
/// formula is a function of `x` everywhere and its own derivatives are exact; otherwise the
/// fused kernel (or the same formula) runs on the saved statistics.
pub(crate) fn batch_norm_grads(
    g: &Tensor,
    x: &Tensor,
    mean: &Tensor,
    var: &Tensor,
    weight: Option<&Tensor>,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    let c = Shape::new(vec![x.dims()[1]]);
    if super::is_grad_enabled() {
        let (mean, var) = channel_stats(x)?;
        return composed(g, x, &mean, &var, weight, eps, &c);
    }
    let backend = x.backend();
    let weight_held = weight.map(Tensor::hold);
    let fused = backend.batch_norm_backward(
        g.hold().view(),
        x.hold().view(),
        mean.hold().view(),
        var.hold().view(),
        weight_held.as_ref().map(Held::view),
        eps,
    );
    let fused = fused.map(|[dx, dw, db]| {
        (
            Tensor::from_buffer(backend, dx, x.shape(), None),
            Tensor::from_buffer(backend, dw, &c, None),
            Tensor::from_buffer(backend, db, &c, None),
        )
    });
    let shape = channel_shape(x);
    fused_or(fused, || {
        composed(
            g,
            x,
            &mean.reshape(shape.clone())?,
            &var.reshape(shape)?,
            weight,
            eps,
            &c,
        )
    })
}

/// `dx = weight * invstd / m * (m g - sum(g) - xhat * sum(g xhat))`, `dw = sum(g xhat)`,
/// `db = sum(g)`, with keepdim statistics `mean` and `var`.
fn composed(
    g: &Tensor,
    x: &Tensor,
    mean: &Tensor,
    var: &Tensor,
    weight: Option<&Tensor>,
    eps: f64,
    c: &Shape,
) -> Result<(Tensor, Tensor, Tensor)> {
    let shape = channel_shape(x);
    let dims: Vec<usize> = (0..x.rank()).filter(|&d| d != 1).collect();
    let m = (x.elem_count() / x.dims()[1].max(1)) as f64;
    let invstd = var.add_scalar(eps)?.rsqrt()?;
    let xhat = x.sub(mean)?.mul(&invstd)?;
    let db = g.sum(dims.clone(), true)?;
    let dw = g.mul(&xhat)?.sum(dims, true)?;
    let scale = match weight {
        Some(w) => w.reshape(shape)?.mul(&invstd)?,
        None => invstd,
    };
    let dx = g
        .mul_scalar(m)?
        .sub(&db)?
        .sub(&xhat.mul(&dw)?)?
        .mul(&scale.div_scalar(m)?)?;
    Ok((dx, dw.reshape(c.clone())?, db.reshape(c.clone())?))
}
