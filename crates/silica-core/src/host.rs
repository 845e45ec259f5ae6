//! Typed element vectors on the host: the currency of host↔device copies, and the CPU
//! backend's own storage.

use crate::{DType, Element};
use half::{bf16, f16};

/// A vector of elements of one dtype, on the host.
#[derive(Clone, Debug, PartialEq)]
pub enum HostData {
    /// [`DType::F32`] elements.
    F32(Vec<f32>),
    /// [`DType::F64`] elements.
    F64(Vec<f64>),
    /// [`DType::F16`] elements (IEEE half precision).
    F16(Vec<f16>),
    /// [`DType::BF16`] elements (bfloat16).
    BF16(Vec<bf16>),
    /// [`DType::I32`] elements.
    I32(Vec<i32>),
    /// [`DType::I64`] elements.
    I64(Vec<i64>),
    /// [`DType::U8`] elements.
    U8(Vec<u8>),
    /// [`DType::Bool`] elements.
    Bool(Vec<bool>),
}

impl HostData {
    /// The dtype of the elements.
    pub fn dtype(&self) -> DType {
        match self {
            HostData::F32(_) => DType::F32,
            HostData::F64(_) => DType::F64,
            HostData::F16(_) => DType::F16,
            HostData::BF16(_) => DType::BF16,
            HostData::I32(_) => DType::I32,
            HostData::I64(_) => DType::I64,
            HostData::U8(_) => DType::U8,
            HostData::Bool(_) => DType::Bool,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match_host!(self, v => v.len())
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` as f64.
    pub fn get_f64(&self, i: usize) -> f64 {
        match_host!(self, v => v[i].to_f64())
    }

    /// `values` converted to `dtype` as `as` casts do (for building creation ops on the host).
    pub fn from_f64s(dtype: DType, values: &[f64]) -> HostData {
        dispatch_dtype!(dtype, T => T::into_host(values.iter().map(|&v| T::from_f64(v)).collect()))
    }

    /// Converts every element to f64.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match_host!(self, v => v.iter().map(|x| x.to_f64()).collect())
    }

    /// The raw little-endian bytes of the elements (bools as 0 or 1).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            HostData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            HostData::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            HostData::F16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            HostData::BF16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            HostData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            HostData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            HostData::U8(v) => v.clone(),
            HostData::Bool(v) => v.iter().map(|&b| b as u8).collect(),
        }
    }

    /// Parses little-endian bytes as elements of `dtype`. Returns `None` when the length is not
    /// a multiple of the element size, or a bool byte is neither 0 nor 1.
    pub fn from_le_bytes(dtype: DType, bytes: &[u8]) -> Option<HostData> {
        let size = dtype.size_in_bytes();
        if bytes.len() % size != 0 {
            return None;
        }
        macro_rules! parse {
            ($t:ty, $n:expr) => {
                bytes
                    .chunks_exact($n)
                    .map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk size")))
                    .collect()
            };
        }
        Some(match dtype {
            DType::F32 => HostData::F32(parse!(f32, 4)),
            DType::F64 => HostData::F64(parse!(f64, 8)),
            DType::F16 => HostData::F16(parse!(f16, 2)),
            DType::BF16 => HostData::BF16(parse!(bf16, 2)),
            DType::I32 => HostData::I32(parse!(i32, 4)),
            DType::I64 => HostData::I64(parse!(i64, 8)),
            DType::U8 => HostData::U8(bytes.to_vec()),
            DType::Bool => HostData::Bool(
                bytes
                    .iter()
                    .map(|&b| match b {
                        0 => Some(false),
                        1 => Some(true),
                        _ => None,
                    })
                    .collect::<Option<Vec<bool>>>()?,
            ),
        })
    }
}
