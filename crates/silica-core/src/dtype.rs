//! Element types and PyTorch's type promotion.

use half::{bf16, f16};
use std::fmt;

/// The element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// 32-bit float, the default.
    F32,
    /// 64-bit float.
    F64,
    /// IEEE half precision; computed in f32 on the CPU.
    F16,
    /// bfloat16; computed in f32 on the CPU.
    BF16,
    /// 32-bit signed integer.
    I32,
    /// 64-bit signed integer, the dtype of indices.
    I64,
    /// 8-bit unsigned integer.
    U8,
    /// Boolean, one byte per element.
    Bool,
}

/// The promotion category of a dtype, ordered as PyTorch orders them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Category {
    Bool,
    Int,
    Float,
}

impl DType {
    /// Every dtype, in declaration order.
    pub const ALL: [DType; 8] = [
        DType::F32,
        DType::F64,
        DType::F16,
        DType::BF16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::Bool,
    ];

    /// Size of one element in bytes.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::U8 | DType::Bool => 1,
        }
    }

    /// True for F32, F64, F16 and BF16.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64 | DType::F16 | DType::BF16)
    }

    /// True for I32, I64 and U8.
    pub fn is_int(self) -> bool {
        matches!(self, DType::I32 | DType::I64 | DType::U8)
    }

    pub(crate) fn category(self) -> Category {
        match self {
            DType::Bool => Category::Bool,
            d if d.is_int() => Category::Int,
            _ => Category::Float,
        }
    }

    /// The dtype PyTorch gives to a binary op between two tensors of these dtypes
    /// (`torch.promote_types`).
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::DType;
    /// assert_eq!(DType::I32.promote(DType::F16), DType::F16);
    /// assert_eq!(DType::F16.promote(DType::BF16), DType::F32);
    /// assert_eq!(DType::U8.promote(DType::I32), DType::I32);
    /// ```
    pub fn promote(self, other: DType) -> DType {
        use DType::*;
        if self == other {
            return self;
        }
        match (self.category(), other.category()) {
            (Category::Bool, _) => other,
            (_, Category::Bool) => self,
            (Category::Float, Category::Int) => self,
            (Category::Int, Category::Float) => other,
            (Category::Int, Category::Int) => {
                let rank = |d: DType| match d {
                    U8 => 0,
                    I32 => 1,
                    _ => 2,
                };
                if rank(self) >= rank(other) {
                    self
                } else {
                    other
                }
            }
            (Category::Float, Category::Float) => match (self, other) {
                (F16, BF16) | (BF16, F16) => F32,
                (F64, _) | (_, F64) => F64,
                (F32, _) | (_, F32) => F32,
                _ => self,
            },
        }
    }

    /// The dtype that float-valued ops (`exp`, `div`, `mean`) produce for this input dtype:
    /// floats keep their dtype, integers and bools become F32 (PyTorch's default dtype).
    pub fn to_float(self) -> DType {
        if self.is_float() {
            self
        } else {
            DType::F32
        }
    }

    /// The name used in safetensors headers (`F32`, `BF16`, `BOOL`, ...).
    pub fn safetensors_name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F64 => "F64",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
            DType::I32 => "I32",
            DType::I64 => "I64",
            DType::U8 => "U8",
            DType::Bool => "BOOL",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::U8 => "u8",
            DType::Bool => "bool",
        };
        f.write_str(s)
    }
}

/// PyTorch's result type for a binary op, given the dtypes of the dimensioned operands, of the
/// zero-dimensional operands and of wrapped scalars (`torch.result_type`).
///
/// Inside one group the dtypes promote normally. A zero-dim tensor or a scalar changes the result
/// only when it belongs to a higher category (bool < int < float) than the dimensioned operands.
pub(crate) fn result_type(
    dimensioned: Option<DType>,
    zero_dim: Option<DType>,
    scalar: Option<DType>,
) -> DType {
    fn combine(higher: Option<DType>, lower: Option<DType>) -> Option<DType> {
        match (higher, lower) {
            (None, l) => l,
            (h, None) => h,
            (Some(h), Some(l)) => {
                if h.is_float() {
                    Some(h)
                } else if h == DType::Bool || l.category() > h.category() {
                    Some(h.promote(l))
                } else {
                    Some(h)
                }
            }
        }
    }
    combine(dimensioned, combine(zero_dim, scalar)).unwrap_or(DType::F32)
}

/// True for NaN; false for every non-float value.
#[inline(always)]
#[allow(clippy::eq_op)]
pub(crate) fn is_nan<T: PartialEq>(x: T) -> bool {
    x != x
}

/// A Rust type that can be an element of a tensor.
///
/// Implemented for `f32`, `f64`, `half::f16`, `half::bf16`, `i32`, `i64`, `u8` and `bool`.
pub trait Element: Copy + Send + Sync + PartialOrd + fmt::Debug + fmt::Display + 'static {
    /// The dtype of this element type.
    const DTYPE: DType;
    /// Converts to f64 (exactly, except for i64 beyond 2^53).
    fn to_f64(self) -> f64;
    /// Converts from f64, rounding as `as` casts do (saturating for integers).
    fn from_f64(v: f64) -> Self;
    /// Converts from i64 as `as` casts do (wrapping for narrower integers), exactly for I64.
    fn from_i64(v: i64) -> Self;
    /// Converts a scalar: integers through [`Element::from_i64`], so an I64 keeps every bit.
    fn from_scalar(s: crate::Scalar) -> Self {
        match s {
            crate::Scalar::Int(i) => Self::from_i64(i),
            crate::Scalar::Bool(b) => Self::from_i64(b as i64),
            crate::Scalar::Float(f) => Self::from_f64(f),
        }
    }
    /// Wraps a vector of this type as host data.
    fn into_host(v: Vec<Self>) -> crate::HostData;
    /// Borrows host data as a slice of this type, if the dtype matches.
    fn slice(data: &crate::HostData) -> Option<&[Self]>;
    /// Unwraps host data into a vector of this type, if the dtype matches.
    fn from_host(data: crate::HostData) -> Option<Vec<Self>>;
}

macro_rules! impl_element {
    ($t:ty, $dtype:ident, $to:expr, $from:expr, $from_int:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$dtype;
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                #[allow(clippy::redundant_closure_call)]
                ($from_int)(v)
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                #[allow(clippy::redundant_closure_call)]
                ($to)(self)
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                #[allow(clippy::redundant_closure_call)]
                ($from)(v)
            }
            fn into_host(v: Vec<Self>) -> crate::HostData {
                crate::HostData::$dtype(v)
            }
            fn slice(data: &crate::HostData) -> Option<&[Self]> {
                match data {
                    crate::HostData::$dtype(v) => Some(v),
                    _ => None,
                }
            }
            fn from_host(data: crate::HostData) -> Option<Vec<Self>> {
                match data {
                    crate::HostData::$dtype(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}

impl_element!(f32, F32, |x: f32| x as f64, |v: f64| v as f32, |v: i64| v
    as f32);
impl_element!(f64, F64, |x: f64| x, |v: f64| v, |v: i64| v as f64);
// Through f32, as PyTorch converts doubles to half types (`half`'s direct f64 conversions drop
// the low mantissa bits before rounding, and round ties differently from the f32 route).
impl_element!(
    f16,
    F16,
    |x: f16| x.to_f64(),
    |v: f64| f16::from_f32(v as f32),
    |v: i64| f16::from_f32(v as f32)
);
impl_element!(
    bf16,
    BF16,
    |x: bf16| x.to_f64(),
    |v: f64| bf16::from_f32(v as f32),
    |v: i64| bf16::from_f32(v as f32)
);
impl_element!(i32, I32, |x: i32| x as f64, |v: f64| v as i32, |v: i64| v
    as i32);
impl_element!(i64, I64, |x: i64| x as f64, |v: f64| v as i64, |v: i64| v);
impl_element!(u8, U8, |x: u8| x as f64, |v: f64| v as u8, |v: i64| v as u8);
impl_element!(
    bool,
    Bool,
    |x: bool| x as u8 as f64,
    |v: f64| v != 0.0,
    |v: i64| v != 0
);

#[cfg(test)]
mod tests {
    use super::*;
    use DType::*;

    #[test]
    fn discriminants_are_indices_in_all() {
        // `StorageKey` packs a dtype as its discriminant and unpacks it through `ALL`.
        for (i, d) in DType::ALL.into_iter().enumerate() {
            assert_eq!(d as usize, i, "{d}");
        }
    }

    #[test]
    fn promote_table() {
        let cases = [
            (F32, F32, F32),
            (F32, F64, F64),
            (F16, F32, F32),
            (F16, BF16, F32),
            (BF16, BF16, BF16),
            (I32, F16, F16),
            (I64, F32, F32),
            (U8, I32, I32),
            (U8, I64, I64),
            (I32, I64, I64),
            (Bool, U8, U8),
            (Bool, F16, F16),
            (Bool, Bool, Bool),
        ];
        for (a, b, want) in cases {
            assert_eq!(a.promote(b), want, "{a} + {b}");
            assert_eq!(b.promote(a), want, "{b} + {a}");
        }
    }

    #[test]
    fn result_type_table() {
        // (dimensioned, zero-dim, scalar) -> result, from torch.result_type.
        let cases = [
            (Some(F16), Some(F64), None, F16),
            (Some(I32), Some(F64), None, F64),
            (Some(I32), None, Some(F32), F32),
            (Some(F16), None, Some(F32), F16),
            (Some(I32), None, Some(I64), I32),
            (Some(Bool), None, Some(I64), I64),
            (Some(U8), Some(I64), None, U8),
            (None, Some(I32), Some(F32), F32),
            (None, Some(F64), Some(F32), F64),
        ];
        for (d, z, s, want) in cases {
            assert_eq!(result_type(d, z, s), want, "{d:?} {z:?} {s:?}");
        }
    }
}
