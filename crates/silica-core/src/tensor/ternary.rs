//! Elementwise ops of three operands, broadcasting all three: clamp with tensor bounds, and
//! linear interpolation.
//!
//! Both are composed from comparisons, arithmetic and `where`, so they run on every backend and
//! their gradients come from those ops. Where the gradient must follow a branch (which bound
//! binds, which formula lerp uses), the branch is selected with `where`, never by multiplying
//! with a 0/1 mask, so an infinite upstream gradient gives 0, not NaN, to the branches not taken.

use super::Tensor;
use crate::autograd::{is_grad_enabled, no_grad_scope};
use crate::dtype::result_type;
use crate::{DType, Error, Result, Shape};

/// `torch.result_type` of several tensors: dimensioned ones first, then 0-dim ones.
fn promoted(tensors: &[&Tensor]) -> DType {
    let (mut dim, mut zero) = (None, None);
    for t in tensors {
        let slot = if t.rank() == 0 { &mut zero } else { &mut dim };
        *slot = Some(slot.map_or(t.dtype(), |d: DType| d.promote(t.dtype())));
    }
    result_type(dim, zero, None)
}

/// The broadcast shape of `tensors`, or an error naming `op` and every shape.
fn broadcast_all(op: &'static str, tensors: &[&Tensor]) -> Result<Shape> {
    let mut shape = Shape::scalar();
    for t in tensors {
        shape = shape.broadcast(t.shape(), op).map_err(|_| {
            let shapes: Vec<&Shape> = tensors.iter().map(|t| t.shape()).collect();
            let shown: Vec<String> = shapes.iter().map(|s| s.to_string()).collect();
            Error::shape(
                op,
                &shapes,
                format!("shapes {} cannot be broadcast together", shown.join(", ")),
            )
        })?;
    }
    Ok(shape)
}

impl Tensor {
    /// Limits every element to `[min, max]` with tensor bounds, as `torch.clamp(x, min, max)`:
    /// `min(max(x, min), max)`, broadcasting all three, in their promoted dtype (as
    /// `torch.result_type`). Either bound may be `None`, not both. Where `min > max` the result
    /// is `max`; a NaN in `x` or in a bound gives NaN.
    ///
    /// The gradients are PyTorch's: `x` gets it where `min <= x <= max`; `min` where
    /// `x < min < max`; `max` where `x > max`, or wherever `max < min` (so even at a NaN `x`).
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Device, Tensor};
    /// let x = Tensor::from_slice(&[-2.0f32, 0.5, 3.0], [3], Device::Cpu).unwrap();
    /// let lo = Tensor::from_slice(&[0.0f32, 0.0, 0.0], [3], Device::Cpu).unwrap();
    /// let hi = Tensor::from_slice(&[1.0f64], [1], Device::Cpu).unwrap();
    /// let y = x.clamp_tensor(Some(&lo), Some(&hi)).unwrap();
    /// assert_eq!(y.to_vec::<f64>().unwrap(), vec![0.0, 0.5, 1.0]);
    /// ```
    pub fn clamp_tensor(&self, min: Option<&Tensor>, max: Option<&Tensor>) -> Result<Tensor> {
        if min.is_none() && max.is_none() {
            return Err(Error::invalid(
                "clamp_tensor",
                format!(
                    "at least one of min and max must be given (x of shape {})",
                    self.shape()
                ),
            ));
        }
        let all: Vec<&Tensor> = [Some(self), min, max].into_iter().flatten().collect();
        self.same_device("clamp_tensor", &all)?;
        let dtype = promoted(&all);
        let shape = broadcast_all("clamp_tensor", &all)?;
        let prep = |t: &Tensor| t.to_dtype(dtype)?.broadcast_to(shape.clone());
        let x = prep(self)?;
        let lo = min.map(prep).transpose()?;
        let hi = max.map(prep).transpose()?;
        let value = no_grad_scope(|| -> Result<Tensor> {
            let v = match &lo {
                Some(lo) => x.maximum(lo)?,
                None => x.clone(),
            };
            match &hi {
                Some(hi) => v.minimum(hi),
                None => Ok(v),
            }
        })?;
        let wants_grad = is_grad_enabled() && all.iter().any(|t| t.requires_grad());
        if !dtype.is_float() || !wants_grad {
            return Ok(value);
        }
        // The branch that takes the gradient (PyTorch's clamp_backward and
        // clamp_backward_min_max); where none does (x below min == max, or a NaN), the value
        // itself, detached.
        let (inside, to_min, to_max) = match (&lo, &hi) {
            (Some(lo), Some(hi)) => (
                x.ge(lo)?.logical_and(&x.le(hi)?)?,
                Some(x.lt(lo)?.logical_and(&lo.lt(hi)?)?),
                Some(x.gt(hi)?.logical_or(&hi.lt(lo)?)?),
            ),
            (Some(lo), None) => (x.ge(lo)?, Some(x.lt(lo)?), None),
            (None, Some(hi)) => (x.le(hi)?, None, Some(x.gt(hi)?)),
            (None, None) => unreachable!("checked above"),
        };
        let mut selected = value.clone();
        if let (Some(to_min), Some(lo)) = (&to_min, &lo) {
            selected = to_min.where_cond(lo, &selected)?;
        }
        if let (Some(to_max), Some(hi)) = (&to_max, &hi) {
            selected = to_max.where_cond(hi, &selected)?;
        }
        let selected = inside.where_cond(&x, &selected)?;
        // A NaN result whose gradient still goes to a bound (x NaN with max < min, or a NaN
        // min with x > max): NaN in value, the bound's gradient unchanged.
        let nan = value.isnan()?;
        nan.where_cond(&selected.add(&value)?, &selected)
    }

    /// Linear interpolation `self + weight · (end - self)` with a tensor weight, broadcasting
    /// all three, as `torch.lerp`. All three must have one float dtype (PyTorch does not
    /// promote here); f16 and bf16 are computed in f32 and rounded.
    ///
    /// The formula is PyTorch's, for its rounding: `self + weight · (end - self)` where
    /// `weight < 0.5`, else `end - (end - self) · (1 - weight)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Device, Tensor};
    /// let a = Tensor::from_slice(&[0.0f32, 10.0], [2], Device::Cpu).unwrap();
    /// let b = Tensor::from_slice(&[4.0f32, 20.0], [2], Device::Cpu).unwrap();
    /// let w = Tensor::from_slice(&[0.25f32, 0.75], [2], Device::Cpu).unwrap();
    /// assert_eq!(a.lerp(&b, &w).unwrap().to_vec::<f32>().unwrap(), vec![1.0, 17.5]);
    /// assert_eq!(a.lerp_scalar(&b, 0.5).unwrap().to_vec::<f32>().unwrap(), vec![2.0, 15.0]);
    /// ```
    pub fn lerp(&self, end: &Tensor, weight: &Tensor) -> Result<Tensor> {
        self.check_lerp(&[("end", end), ("weight", weight)])?;
        broadcast_all("lerp", &[self, end, weight])?;
        if matches!(self.dtype(), DType::F16 | DType::BF16) {
            let up = |t: &Tensor| t.to_dtype(DType::F32);
            return up(self)?
                .lerp(&up(end)?, &up(weight)?)?
                .to_dtype(self.dtype());
        }
        // Each formula sees the weight only where it is chosen (elsewhere 0, or 1 for
        // 1 - weight), so that its zero gradient there meets no infinite `end - self`.
        let is_small = weight.lt_scalar(0.5)?;
        let zero = Tensor::zeros((), weight.dtype(), weight.device())?;
        let one = Tensor::ones((), weight.dtype(), weight.device())?;
        let diff = end.sub(self)?;
        let small = self.add(&is_small.where_cond(weight, &zero)?.mul(&diff)?)?;
        let one_minus = is_small.where_cond(&one, weight)?.neg()?.add_scalar(1.0)?;
        let large = end.sub(&diff.mul(&one_minus)?)?;
        is_small.where_cond(&small, &large)
    }

    /// Linear interpolation with a scalar weight, as `torch.lerp(self, end, weight)`; see
    /// [`Tensor::lerp`]. `self` and `end` must have one float dtype.
    pub fn lerp_scalar(&self, end: &Tensor, weight: f64) -> Result<Tensor> {
        self.check_lerp(&[("end", end)])?;
        broadcast_all("lerp", &[self, end])?;
        let (w, one_minus_w) = match self.dtype() {
            DType::F64 => (weight, 1.0 - weight),
            // PyTorch computes in f32 (f16 and bf16 too): the weight and 1 - weight are f32s.
            dtype => {
                let w = weight as f32;
                if dtype != DType::F32 {
                    let up = |t: &Tensor| t.to_dtype(DType::F32);
                    return up(self)?.lerp_scalar(&up(end)?, weight)?.to_dtype(dtype);
                }
                (w as f64, (1.0f32 - w) as f64)
            }
        };
        let diff = end.sub(self)?;
        if w < 0.5 {
            self.add(&diff.mul_scalar(w)?)
        } else {
            end.sub(&diff.mul_scalar(one_minus_w)?)
        }
    }

    /// lerp's operands: one float dtype, one device.
    fn check_lerp(&self, others: &[(&str, &Tensor)]) -> Result<()> {
        if !self.dtype().is_float() {
            return Err(Error::dtype(
                "lerp",
                self.dtype(),
                format!("a float dtype (start of shape {})", self.shape()),
            ));
        }
        for (name, t) in others {
            self.same_device("lerp", &[t])?;
            if t.dtype() != self.dtype() {
                return Err(Error::dtype(
                    "lerp",
                    t.dtype(),
                    format!(
                        "{} for {name} (of shape {}), the dtype of start (shape {}); lerp does not promote",
                        self.dtype(),
                        t.shape(),
                        self.shape()
                    ),
                ));
            }
        }
        Ok(())
    }
}
