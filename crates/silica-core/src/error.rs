//! One error type for the whole library.
//!
//! Every fallible operation returns [`Result<T>`]. Each variant carries what a reader needs to
//! fix the call: the op, the shapes, the dtypes and the devices involved, and what was expected.

use crate::{DType, Device, Shape};

/// The result type of every fallible Silica operation.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in Silica.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Shapes that do not fit together, e.g. `add: shapes [2, 3] and [4] cannot be broadcast`.
    #[error("{op}: {msg}")]
    Shape {
        op: &'static str,
        shapes: Vec<Shape>,
        msg: String,
    },

    /// A dimension index outside `[-rank, rank)`.
    #[error("{op}: dim {dim} is out of range for a tensor of shape {shape} (expected a dim in [{lo}, {hi}))", lo = -(shape.rank() as isize), hi = shape.rank())]
    DimOutOfRange {
        op: &'static str,
        dim: isize,
        shape: Shape,
    },

    /// A dtype the op cannot take, e.g. float indices given to `index_select`.
    #[error("{op}: got dtype {got}, expected {expected}")]
    DType {
        op: &'static str,
        got: DType,
        expected: String,
    },

    /// A dtype the device does not store or compute, e.g. F64 on Metal.
    #[error("{op}: dtype {dtype} is not supported on {device}")]
    UnsupportedDtype {
        op: &'static str,
        dtype: DType,
        device: Device,
    },

    /// Operands on different devices.
    #[error("{op}: expected all tensors on one device, got {lhs} and {rhs}")]
    DeviceMismatch {
        op: &'static str,
        lhs: Device,
        rhs: Device,
    },

    /// A device that this build or this machine does not provide.
    #[error("device {device} is not available: {reason}")]
    DeviceUnavailable { device: Device, reason: String },

    /// An index outside the dimension it indexes.
    #[error("{op}: index {index} is out of bounds for dim {dim} with size {size}")]
    IndexOutOfBounds {
        op: &'static str,
        index: i64,
        dim: usize,
        size: usize,
    },

    /// An argument with a value the op cannot take (a negative size, a zero stride, ...).
    #[error("{op}: {msg}")]
    InvalidArgument { op: &'static str, msg: String },

    /// The backend does not implement this op (fused fast paths return this by default).
    #[error("{op} is not supported by the {backend} backend")]
    NotSupported { op: &'static str, backend: String },

    /// Misuse of autograd, e.g. `backward` on a non-scalar without a gradient.
    #[error("backward: {0}")]
    Autograd(String),

    /// The device ran out of memory, after the allocator freed its cache and retried.
    #[error("out of memory on {device}: requested {requested} bytes, {free} bytes free, {reserved} bytes reserved by the allocator")]
    OutOfMemory {
        device: Device,
        requested: usize,
        free: usize,
        reserved: usize,
    },

    /// An error raised by device work, surfaced at the next synchronisation.
    #[error("{device}: {msg}")]
    Device { device: Device, msg: String },

    /// A malformed or unsupported safetensors file.
    #[error("safetensors: {0}")]
    SafeTensors(String),

    /// An I/O error, with the path that caused it.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A shape error for `op` with the offending shapes and a sentence saying what was expected.
    pub fn shape(op: &'static str, shapes: &[&Shape], msg: impl Into<String>) -> Self {
        Error::Shape {
            op,
            shapes: shapes.iter().map(|s| (*s).clone()).collect(),
            msg: msg.into(),
        }
    }

    /// An invalid-argument error for `op`.
    pub fn invalid(op: &'static str, msg: impl Into<String>) -> Self {
        Error::InvalidArgument {
            op,
            msg: msg.into(),
        }
    }

    /// A dtype error for `op`.
    pub fn dtype(op: &'static str, got: DType, expected: impl Into<String>) -> Self {
        Error::DType {
            op,
            got,
            expected: expected.into(),
        }
    }
}
