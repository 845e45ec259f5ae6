//! Cumulative sums and products, composed from primitives: a scan by doubling (log n steps of
//! narrow, an elementwise op and cat), which runs on every backend, parallel as GPUs scan, and
//! is differentiable through its parts (no division, so zeros need no special case).

use super::Tensor;
use crate::autograd::{no_grad_scope, record, Op};
use crate::{DType, Dim, Result};

impl Tensor {
    /// Running sums along `dim`, as `torch.cumsum`: integers and bools sum in I64.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Device, Tensor};
    /// let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0], [4], Device::Cpu).unwrap();
    /// assert_eq!(x.cumsum(0).unwrap().to_vec::<f32>().unwrap(), [1.0, 3.0, 6.0, 10.0]);
    /// ```
    pub fn cumsum(&self, dim: impl Dim) -> Result<Tensor> {
        self.cumulative("cumsum", dim, |a, b| a.add(b))
    }

    /// Running products along `dim`, as `torch.cumprod`: integers and bools multiply in I64.
    /// The gradient of element `i` sums, over the later outputs, the product of the other
    /// factors, without division (see `cumprod_grad`).
    pub fn cumprod(&self, dim: impl Dim) -> Result<Tensor> {
        let out = no_grad_scope(|| self.cumulative("cumprod", dim, |a, b| a.mul(b)))?;
        let d = self.shape().dim_or_scalar("cumprod", dim)?;
        match (
            d,
            record(&[self], || Op::CumProd {
                x: self.clone(),
                dim: d.unwrap_or(0),
            }),
        ) {
            (Some(_), Some(op)) => Ok(out.with_layout(out.layout().clone(), Some(op))),
            // A 0-dim cumprod is the element itself.
            (None, Some(_)) => self.copy(),
            (_, None) => Ok(out),
        }
    }

    fn cumulative(
        &self,
        name: &'static str,
        dim: impl Dim,
        op: fn(&Tensor, &Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let x = if self.dtype().is_float() {
            self.clone()
        } else {
            self.to_dtype(DType::I64)?
        };
        match self.shape().dim_or_scalar(name, dim)? {
            Some(d) if x.dims()[d] > 1 => scan(&x, d, true, op),
            _ => x.copy(),
        }
    }
}

/// The inclusive scan of `x` along `d` under the associative `op`, from the start (`forward`)
/// or from the end: element `i` combines elements `0..=i` (or `i..n`), in their order.
pub(crate) fn scan(
    x: &Tensor,
    d: usize,
    forward: bool,
    op: fn(&Tensor, &Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let n = x.dims()[d];
    let mut p = x.clone();
    let mut s = 1;
    while s < n {
        let (head, tail) = (p.narrow(d, 0, n - s)?, p.narrow(d, s, n - s)?);
        p = if forward {
            // p[i] = p[i - s] op p[i], for i >= s
            Tensor::cat(&[&p.narrow(d, 0, s)?, &op(&head, &tail)?], d)?
        } else {
            // p[i] = p[i] op p[i + s], for i < n - s
            Tensor::cat(&[&op(&head, &tail)?, &p.narrow(d, n - s, s)?], d)?
        };
        s *= 2;
    }
    Ok(p)
}

/// The gradient of `cumprod` along `d`: `grad_i = (x_0 ⋯ x_{i-1}) · S_i` with
/// `S_i = g_i + x_{i+1} S_{i+1}`, the exclusive prefix product times a reverse affine scan
/// (by doubling). Factoring the prefix out keeps an infinite factor before `i` multiplying a
/// finite sum (the limit, ±inf), where summing the expanded products would mix infinities of
/// both signs into NaN. Built from tensor ops, so it is differentiable again.
pub(crate) fn cumprod_grad(x: &Tensor, d: usize, g: &Tensor) -> Result<Tensor> {
    let n = x.dims()[d];
    if n <= 1 {
        return Ok(g.clone());
    }
    let ones = x.narrow(d, 0, 1)?.ones_like()?;
    let prefix = scan(x, d, true, |a, b| a.mul(b))?;
    let before = Tensor::cat(&[&ones, &prefix.narrow(d, 0, n - 1)?], d)?;
    // f_i(s) = b_i + a_i s, composed pairwise: (a_i, b_i) ∘ (a_j, b_j) = (a_i a_j, b_i + a_i b_j).
    let (mut a, mut b) = (
        Tensor::cat(&[&x.narrow(d, 1, n - 1)?, &ones], d)?,
        g.clone(),
    );
    let mut s = 1;
    while s < n {
        let (a_head, b_head) = (a.narrow(d, 0, n - s)?, b.narrow(d, 0, n - s)?);
        let (a_next, b_next) = (a.narrow(d, s, n - s)?, b.narrow(d, s, n - s)?);
        let b_tail = b.narrow(d, n - s, s)?;
        b = Tensor::cat(&[&b_head.add(&a_head.mul(&b_next)?)?, &b_tail], d)?;
        a = Tensor::cat(&[&a_head.mul(&a_next)?, &a.narrow(d, n - s, s)?], d)?;
        s *= 2;
    }
    before.mul(&b)
}
