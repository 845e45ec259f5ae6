//! Reductions over chosen dims, with `keepdim` as in PyTorch.

use super::Tensor;
use crate::autograd::{no_grad_scope, record, Op};
use crate::backend::ReduceOp;
use crate::{DType, Dim, Dims, Error, Result, Shape};

impl Tensor {
    /// Runs a backend reduction over `dims` and returns the keepdim-shaped result.
    fn reduce_raw(&self, op: ReduceOp, dims: &[usize], name: &'static str) -> Result<Tensor> {
        if op != ReduceOp::Sum && op != ReduceOp::Prod {
            if let Some(&d) = dims.iter().find(|&&d| self.dims()[d] == 0) {
                return Err(Error::invalid(
                    name,
                    format!(
                        "cannot reduce dim {d} of size 0 (shape {}); the result has no identity",
                        self.shape()
                    ),
                ));
            }
        }
        let shape = self.shape().reduced(dims, true);
        if dims.is_empty() {
            let buf = self.backend().copy(self.hold().view(), self.dtype())?;
            return Ok(Tensor::from_buffer(self.backend(), buf, &shape, None));
        }
        let buf = self.backend().reduce(op, self.hold().view(), dims)?;
        Ok(Tensor::from_buffer(self.backend(), buf, &shape, None))
    }

    /// Reshapes a keepdim result to drop the reduced dims when `keepdim` is false.
    fn finish_reduce(&self, t: Tensor, dims: &[usize], keepdim: bool) -> Result<Tensor> {
        if keepdim {
            Ok(t)
        } else {
            t.reshape(self.shape().reduced(dims, false))
        }
    }

    /// The sum over `dims` (an empty list sums everything). Integers and bools sum to I64.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, Device};
    /// let t = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0], [2, 2], Device::Cpu).unwrap();
    /// assert_eq!(t.sum(0, false).unwrap().to_vec::<f32>().unwrap(), vec![4.0, 6.0]);
    /// assert_eq!(t.sum(1, true).unwrap().dims(), &[2, 1]);
    /// ```
    pub fn sum(&self, dims: impl Dims, keepdim: bool) -> Result<Tensor> {
        let dims = self.shape().dims_list("sum", &dims.dim_list())?;
        let x = if self.dtype().is_float() {
            self.clone()
        } else {
            self.to_dtype(DType::I64)?
        };
        let out = x.reduce_raw(ReduceOp::Sum, &dims, "sum")?;
        let out = match record(&[&x], || Op::Sum { x: x.clone() }) {
            Some(op) => out.with_layout(out.layout().clone(), Some(op)),
            None => out,
        };
        self.finish_reduce(out, &dims, keepdim)
    }

    /// The sum of every element, as a 0-dim tensor.
    pub fn sum_all(&self) -> Result<Tensor> {
        self.sum(Vec::<usize>::new(), false)
    }

    /// The mean over `dims` (an empty list averages everything). Float dtypes only.
    pub fn mean(&self, dims: impl Dims, keepdim: bool) -> Result<Tensor> {
        if !self.dtype().is_float() {
            return Err(Error::dtype(
                "mean",
                self.dtype(),
                "a float dtype (cast integers first)",
            ));
        }
        let dims = self.shape().dims_list("mean", &dims.dim_list())?;
        let count: usize = dims.iter().map(|&d| self.dims()[d]).product();
        self.sum(dims, keepdim)?.div_scalar(count as f64)
    }

    /// The mean of every element, as a 0-dim tensor.
    pub fn mean_all(&self) -> Result<Tensor> {
        self.mean(Vec::<usize>::new(), false)
    }

    fn extremum(
        &self,
        op: ReduceOp,
        dims: impl Dims,
        keepdim: bool,
        all: bool,
        name: &'static str,
    ) -> Result<Tensor> {
        let dims = self.shape().dims_list(name, &dims.dim_list())?;
        let out = self.reduce_raw(op, &dims, name)?;
        let out = match record(&[self], || Op::Extremum {
            x: self.clone(),
            dims: dims.clone(),
            out: out.detach(),
            all,
        }) {
            Some(op) => out.with_layout(out.layout().clone(), Some(op)),
            None => out,
        };
        self.finish_reduce(out, &dims, keepdim)
    }

    /// The maximum over `dims` (an empty list means all); ties share the gradient, as
    /// `torch.amax`.
    pub fn max(&self, dims: impl Dims, keepdim: bool) -> Result<Tensor> {
        self.extremum(ReduceOp::Max, dims, keepdim, false, "max")
    }

    /// The maximum of every element, as a 0-dim tensor (`torch.max(x)`: if it is NaN, the
    /// gradient goes to the NaN elements).
    pub fn max_all(&self) -> Result<Tensor> {
        self.extremum(ReduceOp::Max, Vec::<usize>::new(), false, true, "max")
    }

    /// The minimum over `dims` (an empty list means all), as `torch.amin`.
    pub fn min(&self, dims: impl Dims, keepdim: bool) -> Result<Tensor> {
        self.extremum(ReduceOp::Min, dims, keepdim, false, "min")
    }

    /// The minimum of every element, as a 0-dim tensor (`torch.min(x)`).
    pub fn min_all(&self) -> Result<Tensor> {
        self.extremum(ReduceOp::Min, Vec::<usize>::new(), false, true, "min")
    }

    /// The index (I64) of the first maximum along `dim`.
    pub fn argmax(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor> {
        self.arg_extremum(ReduceOp::ArgMax, dim, keepdim, "argmax")
    }

    /// The index (I64) of the first minimum along `dim`.
    pub fn argmin(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor> {
        self.arg_extremum(ReduceOp::ArgMin, dim, keepdim, "argmin")
    }

    /// The maximum along `dim` and its index (I64), as `torch.max(x, dim)`: shapes without
    /// `dim` (or with it as 1 under `keepdim`). The index is the first maximum's, or the first
    /// NaN's (whose value is then NaN); the gradient goes to that element only, unlike
    /// [`Tensor::max`], which shares it among ties.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Device, Tensor};
    /// let x = Tensor::from_slice(&[1.0f32, 5.0, 5.0, 7.0, 2.0, 0.0], [2, 3], Device::Cpu).unwrap();
    /// let (values, indices) = x.max_dim(1, false).unwrap();
    /// assert_eq!(values.to_vec::<f32>().unwrap(), vec![5.0, 7.0]);
    /// assert_eq!(indices.to_vec::<i64>().unwrap(), vec![1, 0]);
    /// ```
    pub fn max_dim(&self, dim: impl Dim, keepdim: bool) -> Result<(Tensor, Tensor)> {
        self.selected_extremum(ReduceOp::ArgMax, dim, keepdim, "max_dim")
    }

    /// The minimum along `dim` and its index (I64), as `torch.min(x, dim)`; see
    /// [`Tensor::max_dim`].
    pub fn min_dim(&self, dim: impl Dim, keepdim: bool) -> Result<(Tensor, Tensor)> {
        self.selected_extremum(ReduceOp::ArgMin, dim, keepdim, "min_dim")
    }

    /// The values at the indices of `argmax`/`argmin`, gathered so that only they get a
    /// gradient.
    fn selected_extremum(
        &self,
        op: ReduceOp,
        dim: impl Dim,
        keepdim: bool,
        name: &'static str,
    ) -> Result<(Tensor, Tensor)> {
        let Some(d) = self.shape().dim_or_scalar(name, dim)? else {
            // A 0-dim tensor is its own extremum, at index 0.
            return Ok((self.copy()?, Tensor::zeros((), DType::I64, self.device())?));
        };
        let indices = self.reduce_raw(op, &[d], name)?;
        let values = self.gather(d, &indices)?;
        Ok((
            self.finish_reduce(values, &[d], keepdim)?,
            self.finish_reduce(indices, &[d], keepdim)?,
        ))
    }

    fn arg_extremum(
        &self,
        op: ReduceOp,
        dim: impl Dim,
        keepdim: bool,
        name: &'static str,
    ) -> Result<Tensor> {
        let Some(d) = self.shape().dim_or_scalar(name, dim)? else {
            // A 0-dim tensor is its own only element.
            return Tensor::zeros((), DType::I64, self.device());
        };
        let out = self.reduce_raw(op, &[d], name)?;
        self.finish_reduce(out, &[d], keepdim)
    }

    /// The product over `dims` (an empty list means all). Integers and bools give I64.
    pub fn prod(&self, dims: impl Dims, keepdim: bool) -> Result<Tensor> {
        let dims = self.shape().dims_list("prod", &dims.dim_list())?;
        let x = if self.dtype().is_float() {
            self.clone()
        } else {
            self.to_dtype(DType::I64)?
        };
        let out = x.reduce_raw(ReduceOp::Prod, &dims, "prod")?;
        let out = match record(&[&x], || Op::Prod {
            x: x.clone(),
            dims: dims.clone(),
        }) {
            Some(op) => out.with_layout(out.layout().clone(), Some(op)),
            None => out,
        };
        self.finish_reduce(out, &dims, keepdim)
    }

    /// The variance over `dims` with `correction` (1 is Bessel's, PyTorch's default).
    pub fn var(&self, dims: impl Dims, correction: usize, keepdim: bool) -> Result<Tensor> {
        if !self.dtype().is_float() {
            return Err(Error::dtype("var", self.dtype(), "a float dtype"));
        }
        let dims = self.shape().dims_list("var", &dims.dim_list())?;
        let count: usize = dims.iter().map(|&d| self.dims()[d]).product();
        let denom = (count as f64 - correction as f64).max(0.0);
        let out = no_grad_scope(|| {
            self.sub(&self.precise_mean(&dims)?)?
                .square()?
                .sum(dims.clone(), true)?
                .div_scalar(denom)
        })?;
        let out = match record(&[self], || Op::Var {
            x: self.clone(),
            dims: dims.clone(),
            correction,
        }) {
            Some(op) => out.with_layout(out.layout().clone(), Some(op)),
            None => out,
        };
        self.finish_reduce(out, &dims, keepdim)
    }

    /// The keepdim mean over `dims`, corrected by the mean of the deviations (the corrected
    /// two-pass algorithm): a constant slice gets exactly its value, so its variance is exactly
    /// 0, as PyTorch's Welford kernel gives. An infinite mean keeps its value (its correction,
    /// inf - inf, is NaN and dropped).
    pub(crate) fn precise_mean(&self, dims: &[usize]) -> Result<Tensor> {
        let m = self.mean(dims, true)?;
        let c = self.sub(&m)?.mean(dims, true)?;
        m.add(&c.isnan()?.where_cond(&c.zeros_like()?, &c)?)
    }

    /// The standard deviation over `dims` with `correction`.
    ///
    /// Where it is 0 its gradient is 0, as in PyTorch, not the NaN of `sqrt`'s infinite slope
    /// times a zero deviation.
    pub fn std(&self, dims: impl Dims, correction: usize, keepdim: bool) -> Result<Tensor> {
        let var = self.var(dims, correction, keepdim)?;
        let zero = var.eq_scalar(0.0)?;
        let safe = zero.where_cond(&var.ones_like()?, &var)?.sqrt()?;
        // `var` is 0 where selected, and so is its gradient (every deviation is 0).
        zero.where_cond(&var, &safe)
    }

    /// `log(sum(exp(x)))` over `dims`, computed stably.
    pub fn logsumexp(&self, dims: impl Dims, keepdim: bool) -> Result<Tensor> {
        if !self.dtype().is_float() {
            // As PyTorch: integers and bools in the default float dtype.
            return self.to_dtype(DType::F32)?.logsumexp(dims, keepdim);
        }
        let dims = self.shape().dims_list("logsumexp", &dims.dim_list())?;
        // Shift by the (detached) maximum; infinite maxima shift by 0 so that all -inf rows
        // give -inf and +inf rows give +inf.
        let m = no_grad_scope(|| -> Result<Tensor> {
            if dims.iter().any(|&d| self.dims()[d] == 0) {
                // No terms: nothing to shift by, and the result is log(0) = -inf, as in PyTorch.
                let shape = self.shape().reduced(&dims, true);
                return Tensor::zeros(shape, self.dtype(), self.device());
            }
            let m = self.max(dims.clone(), true)?;
            let finite = m.abs()?.lt_scalar(f64::INFINITY)?;
            m.masked_fill(&finite.logical_not()?, 0.0)
        })?;
        let lse = self
            .sub(&m)?
            .exp()?
            .sum(dims.clone(), true)?
            .log()?
            .add(&m)?;
        self.finish_reduce(lse, &dims, keepdim)
    }

    /// Sums a gradient of a broadcast result back to `shape` (the inverse of broadcasting).
    pub(crate) fn sum_to(&self, shape: &Shape) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let lead = self.rank() - shape.rank();
        let dims: Vec<usize> = (0..self.rank())
            .filter(|&i| i < lead || (shape.dims()[i - lead] == 1 && self.dims()[i] != 1))
            .collect();
        let summed = if dims.is_empty() {
            self.clone()
        } else {
            self.sum(dims, true)?
        };
        summed.reshape(shape)
    }
}
