//! Scalars: plain numbers used as operands (`x.add_scalar(1.5)`, `x.masked_fill(&m, 0)`).

use crate::{DType, Error, Result};

/// A number that takes part in an op, with PyTorch's "wrapped number" promotion: an integer
/// scalar keeps an integer tensor's dtype, a float scalar turns it into F32, and neither changes
/// the dtype of a float tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    /// A boolean (1 or 0 as a number).
    Bool(bool),
    /// An integer, held exactly as i64.
    Int(i64),
    /// A floating-point number, held as f64.
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

    /// This scalar as a tensor of `dtype` stores it, with PyTorch's `checked_convert` rules:
    /// a float is truncated toward zero for an integer dtype; an integer wraps into U8 when its
    /// magnitude fits (-1 is 255); any value is true or false for Bool; a value out of the
    /// dtype's range (NaN or an infinity for an integer dtype, 1e10 for F16) is an error naming
    /// `op`. Integers stay exact: an I64 fill of `i64::MAX` holds `i64::MAX`.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{DType, Scalar};
    /// assert_eq!(Scalar::Int(-1).cast_checked(DType::U8, "full").unwrap(), Scalar::Int(255));
    /// assert_eq!(Scalar::Float(-2.7).cast_checked(DType::I32, "full").unwrap(), Scalar::Int(-2));
    /// assert!(Scalar::Float(f64::NAN).cast_checked(DType::I64, "full").is_err());
    /// ```
    pub fn cast_checked(self, dtype: DType, op: &'static str) -> Result<Scalar> {
        let v = self.to_f64();
        let overflow = || {
            Error::invalid(
                op,
                format!("value {v} cannot be converted to {dtype} without overflow"),
            )
        };
        let (lo, hi) = match dtype {
            DType::Bool => return Ok(Scalar::Bool(v != 0.0)),
            DType::F64 => return Ok(Scalar::Float(v)),
            DType::F32 => (f32::MIN as f64, f32::MAX as f64),
            DType::F16 => (half::f16::MIN.to_f64(), half::f16::MAX.to_f64()),
            DType::BF16 => (half::bf16::MIN.to_f64(), half::bf16::MAX.to_f64()),
            DType::I32 => (i32::MIN as f64, i32::MAX as f64),
            // 2^63 itself is out of range; i64::MAX as f64 rounds up to it.
            DType::I64 => (i64::MIN as f64, i64::MAX as f64),
            DType::U8 => (-255.0, 255.0),
        };
        match self {
            Scalar::Float(f) if dtype.is_float() => {
                if f.is_finite() && !(lo..=hi).contains(&f) {
                    return Err(overflow());
                }
                Ok(Scalar::Float(f))
            }
            Scalar::Float(f) => {
                let lo = if dtype == DType::U8 { 0.0 } else { lo };
                let below_max = if dtype == DType::I64 { f < hi } else { f <= hi };
                if !(f >= lo && below_max) {
                    return Err(overflow());
                }
                Ok(Scalar::Int(f.trunc() as i64))
            }
            Scalar::Int(i) if dtype.is_int() => {
                let fits = match dtype {
                    DType::U8 => (-255..=255).contains(&i),
                    DType::I32 => i32::try_from(i).is_ok(),
                    _ => true,
                };
                if !fits {
                    return Err(overflow());
                }
                Ok(Scalar::Int(wrap(i, dtype)))
            }
            Scalar::Bool(b) if dtype.is_int() => Ok(Scalar::Int(b as i64)),
            _ => {
                if !(lo..=hi).contains(&v) {
                    return Err(overflow());
                }
                Ok(Scalar::Float(v))
            }
        }
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

/// `v` as an integer dtype stores it (U8 wraps).
fn wrap(v: i64, dtype: DType) -> i64 {
    match dtype {
        DType::U8 => v as u8 as i64,
        DType::I32 => v as i32 as i64,
        _ => v,
    }
}
