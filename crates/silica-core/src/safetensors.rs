//! Reading and writing safetensors files, through the `safetensors` crate.
//!
//! Every Silica dtype maps to its safetensors name (`F32`, `BF16`, `BOOL`, ...). Reading never
//! trusts the file: a lying header length, offsets past the end, an unknown dtype, a shape whose
//! element count overflows or disagrees with its bytes, or bool bytes other than 0 and 1 all
//! give [`Error::SafeTensors`], never a panic. Writes are atomic.

use crate::{DType, Device, Error, HostData, Result, Shape, Tensor};
use safetensors::tensor::{Dtype, View};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

fn to_st(dtype: DType) -> Dtype {
    match dtype {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        DType::I32 => Dtype::I32,
        DType::I64 => Dtype::I64,
        DType::U8 => Dtype::U8,
        DType::Bool => Dtype::BOOL,
    }
}

fn from_st(dtype: Dtype, name: &str) -> Result<DType> {
    Ok(match dtype {
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::I32 => DType::I32,
        Dtype::I64 => DType::I64,
        Dtype::U8 => DType::U8,
        Dtype::BOOL => DType::Bool,
        other => {
            return Err(Error::SafeTensors(format!(
                "tensor {name:?} has dtype {other:?}, which Silica does not support"
            )))
        }
    })
}

/// One tensor's bytes, ready for the writer.
struct Entry {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Entry {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// The safetensors encoding of named tensors, with optional string metadata.
pub fn serialize(
    tensors: &[(&str, &Tensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let mut entries = BTreeMap::new();
    for (name, t) in tensors {
        let entry = Entry {
            dtype: to_st(t.dtype()),
            shape: t.dims().to_vec(),
            bytes: t.to_host()?.to_le_bytes(),
        };
        if entries.insert(name.to_string(), entry).is_some() {
            return Err(Error::SafeTensors(format!(
                "the name {name:?} appears twice"
            )));
        }
    }
    safetensors::serialize(entries.iter(), metadata).map_err(|e| Error::SafeTensors(e.to_string()))
}

/// Parses safetensors bytes into named tensors on `device`, sorted by name, and the metadata.
pub fn deserialize(
    bytes: &[u8],
    device: Device,
) -> Result<(BTreeMap<String, Tensor>, HashMap<String, String>)> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| Error::SafeTensors(format!("invalid file: {e}")))?;
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| Error::SafeTensors(format!("invalid file: {e}")))?;
    let mut out = BTreeMap::new();
    for (name, view) in st.iter() {
        let dtype = from_st(view.dtype(), name)?;
        let shape = Shape::from(view.shape());
        let n = shape.checked_elem_count("safetensors").map_err(|_| {
            Error::SafeTensors(format!(
                "tensor {name:?} has shape {shape}, whose size overflows"
            ))
        })?;
        let data = view.data();
        if n.checked_mul(dtype.size_in_bytes()) != Some(data.len()) {
            return Err(Error::SafeTensors(format!(
                "tensor {name:?} of shape {shape} and dtype {dtype} needs {} bytes, the file has {}",
                n.saturating_mul(dtype.size_in_bytes()),
                data.len()
            )));
        }
        let host = HostData::from_le_bytes(dtype, data).ok_or_else(|| {
            Error::SafeTensors(format!(
                "tensor {name:?} has bytes that are not valid {dtype} values"
            ))
        })?;
        out.insert(name.to_string(), Tensor::from_host(host, shape, device)?);
    }
    Ok((out, meta.metadata().clone().unwrap_or_default()))
}

/// Writes named tensors to `path` atomically (see [`write_atomic`]).
///
/// ```
/// use silica_core::{safetensors, Tensor, Device};
/// let dir = std::env::temp_dir().join(format!("silica-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("w.safetensors");
/// let w = Tensor::from_slice(&[1.0f32, 2.0], [2], Device::Cpu).unwrap();
/// safetensors::save(&[("weight", &w)], &path).unwrap();
/// let back = safetensors::load(&path, Device::Cpu).unwrap();
/// assert_eq!(back["weight"].to_vec::<f32>().unwrap(), vec![1.0, 2.0]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn save(tensors: &[(&str, &Tensor)], path: impl AsRef<Path>) -> Result<()> {
    write_atomic(path.as_ref(), &serialize(tensors, None)?)
}

/// Reads every tensor of a safetensors file onto `device`.
pub fn load(path: impl AsRef<Path>, device: Device) -> Result<BTreeMap<String, Tensor>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    deserialize(&bytes, device)
        .map(|(t, _)| t)
        .map_err(|e| match e {
            Error::SafeTensors(msg) => Error::SafeTensors(format!("{}: {msg}", path.display())),
            e => e,
        })
}

/// Writes `bytes` to `path` so that a reader sees the old file or the whole new one, never a
/// part: the bytes go to a temporary file in the same directory, which is flushed to disk and
/// then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        Error::invalid(
            "write_atomic",
            format!("{} does not name a file", path.display()),
        )
    })?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(
        ".{}.{}.{nanos}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}
