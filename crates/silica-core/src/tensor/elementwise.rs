//! Elementwise ops with PyTorch's broadcasting and type promotion.

use super::Tensor;
use crate::autograd::{record, Op};
use crate::backend::{BinaryOp, UnaryOp};
use crate::dtype::result_type;
use crate::{DType, Error, Result, Scalar, Shape};
use std::borrow::Cow;

impl Tensor {
    fn unary_op(&self, op: UnaryOp) -> Result<Tensor> {
        let x = if self.dtype().is_float() || (op.takes_int() && self.dtype() != DType::Bool) {
            self.clone()
        } else if self.dtype() == DType::Bool && op.takes_int() {
            return Err(Error::dtype(op.name(), DType::Bool, "a numeric dtype"));
        } else {
            // Float-valued ops on integers compute in the default float dtype, as in PyTorch.
            crate::autograd::no_grad_scope(|| self.to_dtype(DType::F32))?
        };
        let buf = x.backend().unary(op, x.hold().view())?;
        let op = if x.dtype().is_float() {
            record(&[&x], || Op::Unary { x: x.clone(), op })
        } else {
            None
        };
        Ok(Tensor::from_buffer(x.backend(), buf, x.shape(), op))
    }

    /// `-x`.
    pub fn neg(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Neg)
    }
    /// `|x|`.
    pub fn abs(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Abs)
    }
    /// `e^x`.
    pub fn exp(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Exp)
    }
    /// Natural logarithm.
    pub fn log(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Log)
    }
    /// `ln(1 + x)`, accurate near 0.
    pub fn log1p(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Log1p)
    }
    /// Square root.
    pub fn sqrt(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Sqrt)
    }
    /// `1 / sqrt(x)`.
    pub fn rsqrt(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Rsqrt)
    }
    /// `x * x` (a bool tensor squares to I64, as `x ** 2` in PyTorch).
    pub fn square(&self) -> Result<Tensor> {
        if self.dtype() == DType::Bool {
            return self.to_dtype(DType::I64)?.square();
        }
        self.unary_op(UnaryOp::Square)
    }
    /// Sine.
    pub fn sin(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Sin)
    }
    /// Cosine.
    pub fn cos(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Cos)
    }
    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Tanh)
    }
    /// `1 / (1 + e^-x)`.
    pub fn sigmoid(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Sigmoid)
    }
    /// `max(x, 0)`.
    pub fn relu(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Relu)
    }
    /// `x` where positive, else `slope * x` (PyTorch's default slope is 0.01).
    pub fn leaky_relu(&self, slope: f64) -> Result<Tensor> {
        self.unary_op(UnaryOp::LeakyRelu(slope))
    }
    /// GELU with the exact normal CDF: `x * Φ(x)`.
    pub fn gelu(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Gelu)
    }
    /// GELU's tanh approximation (`approximate='tanh'` in PyTorch).
    pub fn gelu_tanh(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::GeluTanh)
    }
    /// `x * sigmoid(x)`.
    pub fn silu(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Silu)
    }
    /// `ln(1 + e^x)`, with PyTorch's defaults (beta 1, threshold 20).
    pub fn softplus(&self) -> Result<Tensor> {
        self.softplus_with(1.0, 20.0)
    }
    /// `ln(1 + e^(beta x)) / beta`, linear where `beta x > threshold`.
    pub fn softplus_with(&self, beta: f64, threshold: f64) -> Result<Tensor> {
        self.unary_op(UnaryOp::Softplus { beta, threshold })
    }
    /// The error function.
    pub fn erf(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Erf)
    }
    /// -1, 0 or 1 (NaN stays NaN; a bool tensor is its own sign).
    pub fn sign(&self) -> Result<Tensor> {
        if self.dtype() == DType::Bool {
            return self.contiguous();
        }
        self.unary_op(UnaryOp::Sign)
    }
    /// Rounds down.
    pub fn floor(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Floor)
    }
    /// Rounds up.
    pub fn ceil(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Ceil)
    }
    /// Rounds half to even, as `torch.round`.
    pub fn round(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Round)
    }
    /// `1 / x`.
    pub fn recip(&self) -> Result<Tensor> {
        self.unary_op(UnaryOp::Recip)
    }
    /// Limits every element to `[min, max]`, as `torch.clamp`: with `min > max` every element
    /// becomes `max`, and a NaN bound gives NaN. The result dtype follows type promotion with
    /// the bounds as scalars, so an integer tensor with a fractional bound becomes F32.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{DType, Device, Tensor};
    /// let x = Tensor::from_slice(&[-2i64, 0, 5], [3], Device::Cpu).unwrap();
    /// assert_eq!(x.clamp(-1, 3).unwrap().to_vec::<i64>().unwrap(), vec![-1, 0, 3]);
    /// let y = x.clamp(-0.5, 1.5).unwrap();
    /// assert_eq!(y.dtype(), DType::F32);
    /// assert_eq!(y.to_vec::<f32>().unwrap(), vec![-0.5, 0.0, 1.5]);
    /// ```
    pub fn clamp(&self, min: impl Into<Scalar>, max: impl Into<Scalar>) -> Result<Tensor> {
        self.clamp_bounds(Some(min.into()), Some(max.into()))
    }

    /// `max(x, min)` elementwise, as `torch.clamp_min`.
    pub fn clamp_min(&self, min: impl Into<Scalar>) -> Result<Tensor> {
        self.clamp_bounds(Some(min.into()), None)
    }

    /// `min(x, max)` elementwise, as `torch.clamp_max`.
    pub fn clamp_max(&self, max: impl Into<Scalar>) -> Result<Tensor> {
        self.clamp_bounds(None, Some(max.into()))
    }

    fn clamp_bounds(&self, min: Option<Scalar>, max: Option<Scalar>) -> Result<Tensor> {
        let scalar = [min, max]
            .into_iter()
            .flatten()
            .map(Scalar::wrapped_dtype)
            .reduce(DType::promote);
        let (dim, zero) = self.promotion_group();
        let dtype = result_type(dim, zero, scalar);
        let x = self.to_dtype(dtype)?;
        // An integer bound converts to an integer dtype as a fill would (-2 is 254 in U8).
        let bound = |b: Option<Scalar>, none: f64| match b {
            None => Ok(none),
            Some(b) if dtype.is_int() => Ok(b.cast_checked(dtype, "clamp")?.to_f64()),
            Some(b) => Ok(b.to_f64()),
        };
        x.unary_op(UnaryOp::Clamp {
            min: bound(min, f64::NEG_INFINITY)?,
            max: bound(max, f64::INFINITY)?,
        })
    }

    /// Broadcasts and promotes `self` and `rhs`, then applies `op` in `dtype`.
    fn binary_in<'a>(&'a self, op: BinaryOp, rhs: &'a Tensor, dtype: DType) -> Result<Tensor> {
        self.same_device(op.name(), &[rhs])?;
        let same_shape = self.shape() == rhs.shape();
        let shape = if same_shape {
            self.shape().clone()
        } else {
            self.shape().broadcast(rhs.shape(), op.name())?
        };
        // An operand of the right dtype and shape is used as it is: no new handle.
        let prep = |t: &'a Tensor| -> Result<Cow<'a, Tensor>> {
            if t.dtype() == dtype && (same_shape || t.shape() == &shape) {
                return Ok(Cow::Borrowed(t));
            }
            let t = if op.is_predicate() {
                crate::autograd::no_grad_scope(|| t.to_dtype(dtype))?
            } else {
                t.to_dtype(dtype)?
            };
            Ok(Cow::Owned(if t.shape() == &shape {
                t
            } else {
                t.broadcast_to(shape.clone())?
            }))
        };
        let (a, b) = (prep(self)?, prep(rhs)?);
        a.binary_kernel(op, &b, &shape)
    }

    /// `op` on two operands of one dtype, device and shape `shape`.
    fn binary_kernel(&self, op: BinaryOp, rhs: &Tensor, shape: &Shape) -> Result<Tensor> {
        let backend = self.backend();
        let buf = backend.binary(op, self.hold().view(), rhs.hold().view())?;
        let rec = if op.is_predicate() || !self.dtype().is_float() {
            None
        } else {
            record(&[self, rhs], || Op::Binary {
                lhs: self.clone(),
                rhs: rhs.clone(),
                op,
            })
        };
        Ok(Tensor::from_buffer(backend, buf, shape, rec))
    }

    /// The dtype PyTorch computes `self op rhs` in.
    fn promoted(&self, rhs: &Tensor) -> DType {
        let (mut dim, mut zero) = (None, None);
        for t in [self, rhs] {
            let slot = if t.rank() == 0 { &mut zero } else { &mut dim };
            *slot = Some(slot.map_or(t.dtype(), |d: DType| d.promote(t.dtype())));
        }
        result_type(dim, zero, None)
    }

    fn binary_op(&self, op: BinaryOp, rhs: &Tensor) -> Result<Tensor> {
        // The common case, float operands of one dtype, device and shape, has nothing to
        // promote or broadcast.
        if self.same_storage_key(rhs) && self.dtype().is_float() && self.shape() == rhs.shape() {
            return self.binary_kernel(op, rhs, self.shape());
        }
        no_bool_subtraction(
            op,
            self.dtype() == DType::Bool || rhs.dtype() == DType::Bool,
        )?;
        let mut dtype = self.promoted(rhs);
        if op == BinaryOp::Div {
            dtype = dtype.to_float();
        }
        self.binary_in(op, rhs, dtype)
    }

    /// This tensor's dtype as `result_type`'s (dimensioned, zero-dim) operand.
    fn promotion_group(&self) -> (Option<DType>, Option<DType>) {
        if self.rank() == 0 {
            (None, Some(self.dtype()))
        } else {
            (Some(self.dtype()), None)
        }
    }

    fn binary_scalar(&self, op: BinaryOp, s: Scalar) -> Result<Tensor> {
        no_bool_subtraction(
            op,
            self.dtype() == DType::Bool || matches!(s, Scalar::Bool(_)),
        )?;
        let (dim, zero) = self.promotion_group();
        let mut dtype = result_type(dim, zero, Some(s.wrapped_dtype()));
        if op == BinaryOp::Div {
            dtype = dtype.to_float();
        }
        if op == BinaryOp::Pow {
            match s {
                Scalar::Int(e) if e < 0 && dtype.is_int() => {
                    return Err(Error::invalid(
                        "pow",
                        format!("integers to negative integer powers are not allowed ({dtype} to the power {e})"),
                    ))
                }
                // PyTorch takes these as sqrt and rsqrt: sqrt(-inf) is NaN, not pow's inf.
                Scalar::Float(e) if e == 0.5 && dtype.is_float() => {
                    return self.to_dtype(dtype)?.sqrt()
                }
                Scalar::Float(e) if e == -0.5 && dtype.is_float() => {
                    return self.to_dtype(dtype)?.rsqrt()
                }
                _ => {}
            }
        }
        // The backend gets the scalar itself; an integer scalar wraps into an integer dtype
        // (u8 * -1 multiplies by 255), as in PyTorch.
        let x = if op.is_predicate() {
            crate::autograd::no_grad_scope(|| self.to_dtype(dtype))?
        } else {
            self.to_dtype(dtype)?
        };
        let buf = x.backend().binary_scalar(op, x.hold().view(), s)?;
        let rec = if op.is_predicate() || !dtype.is_float() {
            None
        } else {
            record(&[&x], || Op::BinaryScalar {
                x: x.clone(),
                op,
                s,
            })
        };
        Ok(Tensor::from_buffer(x.backend(), buf, x.shape(), rec))
    }

    /// `self + rhs`, broadcasting.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, Device};
    /// let a = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0], [2, 2], Device::Cpu).unwrap();
    /// let b = Tensor::from_slice(&[10.0f32, 20.0], [2], Device::Cpu).unwrap();
    /// assert_eq!(a.add(&b).unwrap().to_vec::<f32>().unwrap(), vec![11.0, 22.0, 13.0, 24.0]);
    /// ```
    pub fn add(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_op(BinaryOp::Add, rhs)
    }
    /// `self - rhs`, broadcasting.
    pub fn sub(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_op(BinaryOp::Sub, rhs)
    }
    /// `self * rhs`, broadcasting.
    pub fn mul(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_op(BinaryOp::Mul, rhs)
    }
    /// `self / rhs` (true division: integers give floats), broadcasting.
    pub fn div(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_op(BinaryOp::Div, rhs)
    }
    /// `self ^ rhs`, broadcasting.
    pub fn pow(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_op(BinaryOp::Pow, rhs)
    }
    /// The elementwise maximum (NaN propagates), broadcasting.
    pub fn maximum(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_op(BinaryOp::Maximum, rhs)
    }
    /// The elementwise minimum (NaN propagates), broadcasting.
    pub fn minimum(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_op(BinaryOp::Minimum, rhs)
    }

    /// `self + s`.
    pub fn add_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        self.binary_scalar(BinaryOp::Add, s.into())
    }
    /// `self - s`.
    pub fn sub_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        self.binary_scalar(BinaryOp::Sub, s.into())
    }
    /// `self * s`.
    pub fn mul_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        self.binary_scalar(BinaryOp::Mul, s.into())
    }
    /// `self / s` (true division).
    pub fn div_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        self.binary_scalar(BinaryOp::Div, s.into())
    }
    /// `self ^ s`.
    pub fn pow_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        self.binary_scalar(BinaryOp::Pow, s.into())
    }
    /// `max(self, s)` elementwise.
    pub fn maximum_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        self.binary_scalar(BinaryOp::Maximum, s.into())
    }
    /// `min(self, s)` elementwise.
    pub fn minimum_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        self.binary_scalar(BinaryOp::Minimum, s.into())
    }

    /// `self == rhs` as Bool, broadcasting.
    pub fn eq(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_op(BinaryOp::Eq, rhs)
    }
    /// `self != rhs` as Bool, broadcasting.
    pub fn ne(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_op(BinaryOp::Ne, rhs)
    }
    /// `self < rhs` as Bool, broadcasting.
    pub fn lt(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_op(BinaryOp::Lt, rhs)
    }
    /// `self <= rhs` as Bool, broadcasting.
    pub fn le(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_op(BinaryOp::Le, rhs)
    }
    /// `self > rhs` as Bool, broadcasting.
    pub fn gt(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_op(BinaryOp::Gt, rhs)
    }
    /// `self >= rhs` as Bool, broadcasting.
    pub fn ge(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_op(BinaryOp::Ge, rhs)
    }
    /// `self == s` as Bool.
    pub fn eq_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        self.binary_scalar(BinaryOp::Eq, s.into())
    }
    /// `self != s` as Bool.
    pub fn ne_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        self.binary_scalar(BinaryOp::Ne, s.into())
    }
    /// `self < s` as Bool.
    pub fn lt_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        self.binary_scalar(BinaryOp::Lt, s.into())
    }
    /// `self <= s` as Bool.
    pub fn le_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        self.binary_scalar(BinaryOp::Le, s.into())
    }
    /// `self > s` as Bool.
    pub fn gt_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        self.binary_scalar(BinaryOp::Gt, s.into())
    }
    /// `self >= s` as Bool.
    pub fn ge_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        self.binary_scalar(BinaryOp::Ge, s.into())
    }

    /// Elementwise logical and (non-zero is true), as Bool.
    pub fn logical_and(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_op(BinaryOp::And, rhs)
    }
    /// Elementwise logical or (non-zero is true), as Bool.
    pub fn logical_or(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_op(BinaryOp::Or, rhs)
    }
    /// Elementwise logical not (zero is true), as Bool.
    pub fn logical_not(&self) -> Result<Tensor> {
        self.eq_scalar(0)
    }
    /// True where an element is NaN.
    pub fn isnan(&self) -> Result<Tensor> {
        if self.dtype().is_float() {
            self.ne(self)
        } else {
            Tensor::filled(self.shape(), 0.0, DType::Bool, self.device())
        }
    }

    /// `on_true` where `self` (a Bool condition) is true, else `on_false`, broadcasting all three.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, Device};
    /// let x = Tensor::from_slice(&[-1.0f32, 2.0, -3.0], [3], Device::Cpu).unwrap();
    /// let zero = x.zeros_like().unwrap();
    /// let y = x.gt_scalar(0.0).unwrap().where_cond(&x, &zero).unwrap();
    /// assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.0, 2.0, 0.0]);
    /// ```
    pub fn where_cond(&self, on_true: &Tensor, on_false: &Tensor) -> Result<Tensor> {
        if self.dtype() != DType::Bool {
            return Err(Error::dtype(
                "where",
                self.dtype(),
                "bool for the condition",
            ));
        }
        self.same_device("where", &[on_true, on_false])?;
        let dtype = on_true.promoted(on_false);
        let shape = self
            .shape()
            .broadcast(on_true.shape(), "where")?
            .broadcast(on_false.shape(), "where")?;
        let c = self.broadcast_to(shape.clone())?;
        let a = on_true.to_dtype(dtype)?.broadcast_to(shape.clone())?;
        let b = on_false.to_dtype(dtype)?.broadcast_to(shape.clone())?;
        let buf = self
            .backend()
            .where_cond(c.hold().view(), a.hold().view(), b.hold().view())?;
        let rec = if dtype.is_float() {
            record(&[&a, &b], || Op::Where {
                cond: c.clone(),
                on_true: a.clone(),
                on_false: b.clone(),
            })
        } else {
            None
        };
        Ok(Tensor::from_buffer(self.backend(), buf, &shape, rec))
    }

    /// `value` where `mask` (Bool) is true, else `self`, in this tensor's dtype. As the
    /// out-of-place `torch.masked_fill`, the result has the broadcast shape of both.
    pub fn masked_fill(&self, mask: &Tensor, value: impl Into<Scalar>) -> Result<Tensor> {
        let value = value.into().cast_checked(self.dtype(), "masked_fill")?;
        let fill = Tensor::filled((), value, self.dtype(), self.device())?;
        mask.where_cond(&fill, self)
    }
}

/// PyTorch refuses `-` with a bool operand (`~` or `logical_not` inverts a mask).
fn no_bool_subtraction(op: BinaryOp, has_bool: bool) -> Result<()> {
    if op == BinaryOp::Sub && has_bool {
        return Err(Error::invalid(
            "sub",
            "subtraction with a bool operand is not supported; use logical_not to invert a mask",
        ));
    }
    Ok(())
}
