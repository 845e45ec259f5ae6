//! Matrix products with `torch.matmul`'s rules, and vector norms.

use super::Tensor;
use crate::autograd::{no_grad_scope, record, Op};
use crate::{DType, Dims, Error, Result, Shape};

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
        if rhs.rank() == 2 && ra >= 3 && self.is_contiguous() {
            // `[.., m, k] @ [k, n]` (every `Linear` on a sequence): fold the batch into the
            // rows, one product instead of one per batch entry against an expanded weight,
            // whose gradient would then be a batch of products to sum.
            let rows: usize = self.dims()[..ra - 1].iter().product();
            let mut dims = self.dims().to_vec();
            dims[ra - 1] = n;
            return self.reshape([rows, k])?.matmul(rhs)?.reshape(dims);
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
        let out = Tensor::from_buffer(a.backend(), buf, &with(&[m, n]), op);
        match (self.rank(), rhs.rank()) {
            (1, 1) => out.reshape(()),
            (1, _) => out.squeeze(-2),
            (_, 1) => out.squeeze(-1),
            _ => Ok(out),
        }
    }

    /// The vector `p`-norm over `dims` (an empty list means every dim), as
    /// `torch.linalg.vector_norm(x, p, dims, keepdim)`, for `p` = 1 (`Σ|x|`), 2 (`√Σx²`), `inf`
    /// (`max|x|`) and `-inf` (`min|x|`). Float dtypes only; f16 and bf16 are computed in f32
    /// and rounded, as PyTorch accumulates them.
    ///
    /// The gradients follow PyTorch's: the 2-norm's is `x / ‖x‖`, and 0 where the norm is 0 (not
    /// NaN); the ±inf norms share it among the elements that attain the norm (ties) and give 0
    /// to every element of a slice whose norm is NaN.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Device, Tensor};
    /// let x = Tensor::from_slice(&[3.0f32, -4.0, 0.0, 0.0], [2, 2], Device::Cpu).unwrap();
    /// assert_eq!(x.norm(2.0, 1, false).unwrap().to_vec::<f32>().unwrap(), vec![5.0, 0.0]);
    /// assert_eq!(x.norm(1.0, Vec::<usize>::new(), false).unwrap().item::<f32>().unwrap(), 7.0);
    /// let inf = x.norm(f64::INFINITY, 0, true).unwrap();
    /// assert_eq!((inf.dims(), inf.to_vec::<f32>().unwrap()), (&[1usize, 2][..], vec![3.0, 4.0]));
    /// ```
    pub fn norm(&self, p: f64, dims: impl Dims, keepdim: bool) -> Result<Tensor> {
        if !self.dtype().is_float() {
            return Err(Error::dtype(
                "norm",
                self.dtype(),
                format!("a float dtype (shape {}; cast first)", self.shape()),
            ));
        }
        if !(p == 1.0 || p == 2.0 || p.is_infinite()) {
            return Err(Error::invalid(
                "norm",
                format!(
                    "p = {p} is not supported (1, 2, inf and -inf are), for a tensor of shape {} and dtype {}",
                    self.shape(),
                    self.dtype()
                ),
            ));
        }
        let list = dims.dim_list();
        let dims = if list.is_empty() {
            (0..self.rank()).collect()
        } else {
            self.shape().dims_list("norm", &list)?
        };
        if matches!(self.dtype(), DType::F16 | DType::BF16) {
            return self
                .to_dtype(DType::F32)?
                .norm(p, dims, keepdim)?
                .to_dtype(self.dtype());
        }
        let out = if p == 1.0 {
            self.abs()?.sum(dims.clone(), true)?
        } else if p == 2.0 {
            // sqrt is infinitely steep at 0: select so that a zero norm has gradient 0.
            let squares = self.square()?.sum(dims.clone(), true)?;
            let zero = squares.eq_scalar(0.0)?;
            let safe = zero.where_cond(&squares.ones_like()?, &squares)?.sqrt()?;
            zero.where_cond(&squares, &safe)?
        } else {
            self.inf_norm(p > 0.0, &dims)?
        };
        if keepdim {
            Ok(out)
        } else {
            out.reshape(self.shape().reduced(&dims, false))
        }
    }

    /// `max|x|` (or `min|x|`) over `dims`, keepdim. A slice whose result is NaN has gradient 0,
    /// as in PyTorch (where the NaN elements take it, times `sgn(NaN) = 0`).
    fn inf_norm(&self, max: bool, dims: &[usize]) -> Result<Tensor> {
        if let Some(&d) = dims.iter().find(|&&d| self.dims()[d] == 0) {
            return Err(Error::invalid(
                "norm",
                format!(
                    "the {}inf norm over dim {d} of size 0 (shape {}) has no identity",
                    if max { "" } else { "-" },
                    self.shape()
                ),
            ));
        }
        let abs = self.abs()?;
        if dims.is_empty() {
            return Ok(abs); // a 0-dim tensor
        }
        let extremum = |t: &Tensor| match max {
            true => t.max(dims.to_vec(), true),
            false => t.min(dims.to_vec(), true),
        };
        let nan = no_grad_scope(|| extremum(&abs)?.isnan())?;
        let zero = Tensor::zeros((), abs.dtype(), abs.device())?;
        let kept = extremum(&nan.where_cond(&zero, &abs)?)?;
        let nan_value = Tensor::filled((), f64::NAN, abs.dtype(), abs.device())?;
        nan.where_cond(&nan_value, &kept)
    }
}
