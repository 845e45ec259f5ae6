//! Ordering along a dim: `sort`, `argsort` and `topk`. Sorting is a backend primitive (it
//! cannot be composed cheaply); `topk` is a sort and a narrow.

use super::Tensor;
use crate::autograd::{record, Op};
use crate::{DType, Dim, Error, Result};

impl Tensor {
    /// The elements sorted along `dim`, and the I64 index of each in its slice, as
    /// `torch.sort(x, dim, descending, stable=True)`: equal values keep their order, and NaN
    /// counts as greater than every number. The values are differentiable (the gradient goes
    /// back to where each value came from).
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Device, Tensor};
    /// let x = Tensor::from_slice(&[3.0f32, 1.0, 2.0, 1.0], [4], Device::Cpu).unwrap();
    /// let (values, indices) = x.sort(0, false).unwrap();
    /// assert_eq!(values.to_vec::<f32>().unwrap(), [1.0, 1.0, 2.0, 3.0]);
    /// assert_eq!(indices.to_vec::<i64>().unwrap(), [1, 3, 2, 0]);
    /// ```
    pub fn sort(&self, dim: impl Dim, descending: bool) -> Result<(Tensor, Tensor)> {
        let Some(d) = self.shape().dim_or_scalar("sort", dim)? else {
            // A 0-dim tensor is sorted; its one element is at index 0.
            return Ok((self.clone(), Tensor::zeros((), DType::I64, self.device())?));
        };
        let (values, indices) = self.backend().sort(self.hold().view(), d, descending)?;
        let backend = self.backend();
        let indices = Tensor::from_buffer(backend, indices, self.shape(), None);
        let op = record(&[self], || Op::Gather {
            x: self.clone(),
            dim: d,
            index: indices.clone(),
        });
        let values = Tensor::from_buffer(backend, values, self.shape(), op);
        Ok((values, indices))
    }

    /// The I64 indices that sort `self` along `dim`, as `torch.argsort(x, dim, descending,
    /// stable=True)`.
    pub fn argsort(&self, dim: impl Dim, descending: bool) -> Result<Tensor> {
        crate::autograd::no_grad_scope(|| self.sort(dim, descending)).map(|(_, i)| i)
    }

    /// The `k` largest elements along `dim` (or the smallest, without `largest`), sorted, and
    /// their I64 indices, as `torch.topk(x, k, dim, largest, sorted=True)`. Among equal values
    /// the first in the slice comes first.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Device, Tensor};
    /// let x = Tensor::from_slice(&[1.0f32, 5.0, 3.0, 4.0], [4], Device::Cpu).unwrap();
    /// let (values, indices) = x.topk(2, 0, true).unwrap();
    /// assert_eq!(values.to_vec::<f32>().unwrap(), [5.0, 4.0]);
    /// assert_eq!(indices.to_vec::<i64>().unwrap(), [1, 3]);
    /// ```
    pub fn topk(&self, k: usize, dim: impl Dim, largest: bool) -> Result<(Tensor, Tensor)> {
        let d = self.shape().dim_or_scalar("topk", dim)?;
        let size = d.map_or(1, |d| self.dims()[d]);
        if k > size {
            return Err(Error::invalid(
                "topk",
                format!(
                    "k {k} is larger than the size {size} of dim {} of shape {}",
                    d.unwrap_or(0),
                    self.shape()
                ),
            ));
        }
        let (values, indices) = self.sort(d.unwrap_or(0), largest)?;
        match d {
            Some(d) => Ok((values.narrow(d, 0, k)?, indices.narrow(d, 0, k)?)),
            None => Ok((values, indices)),
        }
    }
}
