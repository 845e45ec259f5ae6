//! Matrix products with `torch.matmul`'s rules.

use super::Tensor;
use crate::autograd::{record, Op};
use crate::{Error, Result, Shape};

impl Tensor {
    /// The matrix product, following `torch.matmul`:
    /// - 1-D · 1-D is a dot product (a 0-dim result);
    /// - 2-D · 2-D is a matrix product;
    /// - a 1-D operand gains a dim of size 1 (in front for the left, at the end for the right),
    ///   which is removed from the result;
    /// - otherwise the leading (batch) dims broadcast: `[b.., m, k] · [b.., k, n] -> [b.., m, n]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, DType, Device};
    /// let a = Tensor::ones([5, 2, 3], DType::F32, Device::Cpu).unwrap();
    /// let b = Tensor::ones([3, 4], DType::F32, Device::Cpu).unwrap();
    /// assert_eq!(a.matmul(&b).unwrap().dims(), &[5, 2, 4]);
    /// ```
    pub fn matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        self.same_device("matmul", &[rhs])?;
        if self.dtype() != rhs.dtype() {
            return Err(Error::invalid(
                "matmul",
                format!(
                    "operands have dtypes {} and {}; expected one dtype",
                    self.dtype(),
                    rhs.dtype()
                ),
            ));
        }
        if self.rank() == 0 || rhs.rank() == 0 {
            return Err(Error::shape(
                "matmul",
                &[self.shape(), rhs.shape()],
                format!(
                    "both operands need at least 1 dim, got shapes {} and {}",
                    self.shape(),
                    rhs.shape()
                ),
            ));
        }
        let a = if self.rank() == 1 {
            self.unsqueeze(0)?
        } else {
            self.clone()
        };
        let b = if rhs.rank() == 1 {
            rhs.unsqueeze(1)?
        } else {
            rhs.clone()
        };
        let (ra, rb) = (a.rank(), b.rank());
        let (m, k) = (a.dims()[ra - 2], a.dims()[ra - 1]);
        let (k2, n) = (b.dims()[rb - 2], b.dims()[rb - 1]);
        if k != k2 {
            return Err(Error::shape(
                "matmul",
                &[self.shape(), rhs.shape()],
                format!(
                    "shapes {} and {} do not align ({k} != {k2})",
                    self.shape(),
                    rhs.shape()
                ),
            ));
        }
        let batch = Shape::from(&a.dims()[..ra - 2])
            .broadcast(&Shape::from(&b.dims()[..rb - 2]), "matmul")?;
        let with = |t: &[usize]| -> Shape { Shape::new([batch.dims(), t].concat()) };
        let a = a.broadcast_to(with(&[m, k]))?;
        let b = b.broadcast_to(with(&[k, n]))?;
        let buf = a.backend().matmul(a.hold().view(), b.hold().view())?;
        let op = record(&[&a, &b], || Op::Matmul {
            lhs: a.clone(),
            rhs: b.clone(),
        });
        let out = Tensor::from_buffer(a.backend(), buf, with(&[m, n]), op);
        match (self.rank(), rhs.rank()) {
            (1, 1) => out.reshape(()),
            (1, _) => out.squeeze(-2),
            (_, 1) => out.squeeze(-1),
            _ => Ok(out),
        }
    }
}
