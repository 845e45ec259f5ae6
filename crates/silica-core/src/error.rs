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
        /// The op that failed, e.g. `"add"`.
        op: &'static str,
        /// The shapes involved, in argument order.
        shapes: Vec<Shape>,
        /// What was wrong or expected, as a sentence.
        msg: String,
    },

    /// A dimension index outside `[-rank, rank)`.
    #[error("{op}: dim {dim} is out of range for a tensor of shape {shape} (expected a dim in [{lo}, {hi}))", lo = -(shape.rank() as isize), hi = shape.rank())]
    DimOutOfRange {
        /// The op that failed.
        op: &'static str,
        /// The dim as given (negative dims count from the end).
        dim: isize,
        /// The shape of the tensor indexed.
        shape: Shape,
    },

    /// A dtype the op cannot take, e.g. float indices given to `index_select`.
    #[error("{op}: got dtype {got}, expected {expected}")]
    DType {
        /// The op that failed.
        op: &'static str,
        /// The dtype given.
        got: DType,
        /// The dtypes the op accepts, in words, e.g. `"i64 or i32 indices"`.
        expected: String,
    },

    /// A dtype the device does not store or compute, e.g. F64 on Metal.
    #[error("{op}: dtype {dtype} is not supported on {device}")]
    UnsupportedDtype {
        /// The op that failed.
        op: &'static str,
        /// The dtype the device lacks.
        dtype: DType,
        /// The device asked to hold or compute it.
        device: Device,
    },

    /// Operands on different devices.
    #[error("{op}: expected all tensors on one device, got {lhs} and {rhs}")]
    DeviceMismatch {
        /// The op that failed.
        op: &'static str,
        /// The device of the first tensor (usually `self`).
        lhs: Device,
        /// The device of the first other operand that differs from `lhs`.
        rhs: Device,
    },

    /// A device that this build or this machine does not provide.
    #[error("device {device} is not available: {reason}")]
    DeviceUnavailable {
        /// The device asked for.
        device: Device,
        /// Why it is missing, e.g. the feature it needs is off.
        reason: String,
    },

    /// An index outside the dimension it indexes.
    #[error("{op}: index {index} is out of bounds for dim {dim} with size {size}")]
    IndexOutOfBounds {
        /// The op that failed.
        op: &'static str,
        /// The offending index, as given (it may be negative).
        index: i64,
        /// The dim it indexes, normalised to `[0, rank)`.
        dim: usize,
        /// The size of that dim; valid indices are `[0, size)`.
        size: usize,
    },

    /// An argument with a value the op cannot take (a negative size, a zero stride, ...).
    #[error("{op}: {msg}")]
    InvalidArgument {
        /// The op that failed.
        op: &'static str,
        /// Which argument was wrong and why.
        msg: String,
    },

    /// The backend does not implement this op (fused fast paths return this by default).
    #[error("{op} is not supported by the {backend} backend")]
    NotSupported {
        /// The op the backend lacks, e.g. `"softmax"`.
        op: &'static str,
        /// The backend's description, possibly with the reason, e.g. `"cpu (f16)"`.
        backend: String,
    },

    /// Misuse of autograd, e.g. `backward` on a non-scalar without a gradient.
    #[error("backward: {0}")]
    Autograd(String),

    /// The device ran out of memory, after the allocator freed its cache and retried.
    #[error("out of memory on {device}: requested {requested} bytes, {free} bytes free, {reserved} bytes reserved by the allocator")]
    OutOfMemory {
        /// The device that ran out.
        device: Device,
        /// Size of the failed allocation, in bytes.
        requested: usize,
        /// Bytes the device reported free at the failure.
        free: usize,
        /// Bytes reserved by the caching allocator at the failure.
        reserved: usize,
    },

    /// An error raised by device work, surfaced at the next synchronisation.
    #[error("{device}: {msg}")]
    Device {
        /// The device whose work failed.
        device: Device,
        /// The device's or driver's error message.
        msg: String,
    },

    /// A malformed or unsupported safetensors file.
    #[error("safetensors: {0}")]
    SafeTensors(String),

    /// An I/O error, with the path that caused it.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory being read or written.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Another error, with where it happened: `DataLoader: batch 3, sample 17: data/x.csv: ...`.
    /// The cause keeps its kind: match on [`Error::root_cause`].
    #[error("{context}: {source}")]
    Context {
        /// Where the error happened.
        context: String,
        /// The error itself.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// This error with `context` (where it happened) added in front; its kind is kept, as
    /// [`Error::root_cause`].
    pub fn context(self, context: impl Into<String>) -> Self {
        Error::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// The innermost error under any [`Error::Context`] layers: the kind of what failed.
    pub fn root_cause(&self) -> &Error {
        let mut e = self;
        while let Error::Context { source, .. } = e {
            e = source;
        }
        e
    }

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
