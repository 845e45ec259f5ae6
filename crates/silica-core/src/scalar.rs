//! Scalars: plain numbers used as operands (`x.add_scalar(1.5)`, `x.masked_fill(&m, 0)`).

use crate::{DType, Error, Result};

/// A number that takes part in an op, with PyTorch's "wrapped number" promotion: an integer
/// scalar keeps an integer tensor's dtype, a float scalar turns it into F32, and neither changes
/// the dtype of a float tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl Scalar {
    /// The value as f64.
    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as u8 as f64,
            Scalar::Int(i) => i as f64,
            Scalar::Float(f) => f,
        }
    }

    /// The value that a tensor of `dtype` filled with this scalar holds, with PyTorch's
    /// `checked_convert` rules: a float is truncated toward zero for an integer dtype; an integer
    /// wraps into U8 when its magnitude fits (-1 is 255); any value is true or false for Bool;
    /// a value out of the dtype's range (NaN or an infinity for an integer dtype, 1e10 for F16)
    /// is an error naming `op`.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{DType, Scalar};
    /// assert_eq!(Scalar::Int(-1).to_dtype_value(DType::U8, "full").unwrap(), 255.0);
    /// assert_eq!(Scalar::Float(-2.7).to_dtype_value(DType::I32, "full").unwrap(), -2.0);
    /// assert!(Scalar::Float(f64::NAN).to_dtype_value(DType::I64, "full").is_err());
    /// ```
    pub fn to_dtype_value(self, dtype: DType, op: &'static str) -> Result<f64> {
        let v = self.to_f64();
        let (lo, hi) = match dtype {
            DType::Bool => return Ok(if v != 0.0 { 1.0 } else { 0.0 }),
            DType::F64 => return Ok(v),
            DType::F32 => (f32::MIN as f64, f32::MAX as f64),
            DType::F16 => (half::f16::MIN.to_f64(), half::f16::MAX.to_f64()),
            DType::BF16 => (half::bf16::MIN.to_f64(), half::bf16::MAX.to_f64()),
            DType::I32 => (i32::MIN as f64, i32::MAX as f64),
            DType::I64 => (i64::MIN as f64, i64::MAX as f64),
            DType::U8 => (-255.0, 255.0),
        };
        let fits = match self {
            Scalar::Float(f) if dtype.is_float() => !f.is_finite() || (lo..=hi).contains(&f),
            Scalar::Float(f) if dtype == DType::U8 => (0.0..=hi).contains(&f),
            _ => (lo..=hi).contains(&v),
        };
        if !fits {
            return Err(Error::invalid(
                op,
                format!("value {v} cannot be converted to {dtype} without overflow"),
            ));
        }
        Ok(match dtype {
            DType::U8 => v.trunc() as i64 as u8 as f64,
            d if d.is_int() => v.trunc(),
            _ => v,
        })
    }

    /// The dtype this scalar has when it takes part in promotion.
    pub(crate) fn wrapped_dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int(_) => DType::I64,
            Scalar::Float(_) => DType::F32,
        }
    }
}

impl From<f64> for Scalar {
    fn from(v: f64) -> Self {
        Scalar::Float(v)
    }
}

impl From<f32> for Scalar {
    fn from(v: f32) -> Self {
        Scalar::Float(v as f64)
    }
}

impl From<i64> for Scalar {
    fn from(v: i64) -> Self {
        Scalar::Int(v)
    }
}

impl From<i32> for Scalar {
    fn from(v: i32) -> Self {
        Scalar::Int(v as i64)
    }
}

impl From<usize> for Scalar {
    fn from(v: usize) -> Self {
        Scalar::Int(v as i64)
    }
}

impl From<u8> for Scalar {
    fn from(v: u8) -> Self {
        Scalar::Int(v as i64)
    }
}

impl From<bool> for Scalar {
    fn from(v: bool) -> Self {
        Scalar::Bool(v)
    }
}
