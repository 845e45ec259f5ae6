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
        if *name == "__metadata__" {
            return Err(Error::SafeTensors(
                "the name \"__metadata__\" is reserved for the file's metadata".to_string(),
            ));
        }
        if entries.insert(name.to_string(), entry).is_some() {
            return Err(Error::SafeTensors(format!(
                "the name {name:?} appears twice"
            )));
        }
    }
    // The crate writes the invalid header `{},"__metadata__":{}}` for no tensors and an empty
    // metadata map (it sizes the JSON map by the metadata's entries), so leave empty metadata out.
    let metadata = metadata.filter(|m| !m.is_empty());
    safetensors::serialize(entries.iter(), metadata).map_err(|e| Error::SafeTensors(e.to_string()))
}

/// The largest header the `safetensors` crate accepts.
const MAX_HEADER_BYTES: usize = 100_000_000;

fn bad(msg: String) -> Error {
    Error::SafeTensors(msg)
}

/// A short description of a JSON value for error messages (never the whole, possibly huge,
/// value).
fn describe(v: &serde_json::Value) -> String {
    use serde_json::Value;
    let kind = match v {
        Value::Null => return "null".to_string(),
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    let mut text = v.to_string();
    if text.len() > 40 {
        let mut cut = 40;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    format!("{kind} ({text})")
}

/// A key that appears twice in one object of `header`, a valid JSON object, as an error
/// message. (`serde_json` silently keeps the last of duplicate keys.)
fn duplicate_key(header: &str) -> Option<String> {
    let b = header.as_bytes();
    // One entry per open object or array: the keys seen so far (`None` for an array) and
    // whether the next string is a key.
    let mut stack: Vec<(Option<std::collections::HashSet<String>>, bool)> = Vec::new();
    let mut top_key = String::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => {
                let start = i;
                i += 1;
                while let Some(&c) = b.get(i) {
                    match c {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                let depth = stack.len();
                if let Some((Some(keys), expect_key @ true)) = stack.last_mut() {
                    *expect_key = false;
                    let key: String = serde_json::from_str(header.get(start..=i)?).ok()?;
                    if depth == 1 {
                        top_key.clone_from(&key);
                    }
                    if !keys.insert(key.clone()) {
                        return Some(match depth {
                            1 => format!("the name {key:?} appears twice in the header"),
                            2 if top_key == "__metadata__" => {
                                format!("\"__metadata__\" has the key {key:?} twice")
                            }
                            2 => format!("tensor {top_key:?} has the key {key:?} twice"),
                            _ => {
                                format!("the key {key:?} appears twice in one object of the header")
                            }
                        });
                    }
                }
            }
            b'{' => stack.push((Some(Default::default()), true)),
            b'[' => stack.push((None, false)),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some((Some(_), expect_key)) = stack.last_mut() {
                    *expect_key = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// One tensor's entry in the header, checked.
struct Info {
    name: String,
    begin: usize,
    end: usize,
}

/// Checks one tensor entry of the header against the `data_len` bytes that follow it.
fn check_entry(name: &str, v: &serde_json::Value, data_len: usize) -> Result<Info> {
    let obj = v.as_object().ok_or_else(|| {
        bad(format!(
            "tensor {name:?}: expected an object with \"dtype\", \"shape\" and \"data_offsets\", got {}",
            describe(v)
        ))
    })?;
    let field = |key: &str| {
        obj.get(key)
            .ok_or_else(|| bad(format!("tensor {name:?} has no {key:?}")))
    };
    // dtype: a name the `safetensors` crate knows, and one Silica supports.
    let dtype_value = field("dtype")?;
    let dtype_name = dtype_value.as_str().ok_or_else(|| {
        bad(format!(
            "tensor {name:?}: \"dtype\" must be a string, got {}",
            describe(dtype_value)
        ))
    })?;
    let st_dtype: Dtype = serde_json::from_value(dtype_value.clone())
        .map_err(|_| bad(format!("tensor {name:?} has unknown dtype {dtype_name:?}")))?;
    let dtype = from_st(st_dtype, name)?;
    // shape: non-negative integers whose product (and every stride) fits in usize.
    let shape_value = field("shape")?;
    let not_a_shape = || {
        bad(format!(
            "tensor {name:?}: \"shape\" must be an array of non-negative integers, got {}",
            describe(shape_value)
        ))
    };
    let dims = shape_value
        .as_array()
        .ok_or_else(not_a_shape)?
        .iter()
        .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(not_a_shape)?;
    let shape = Shape::from(dims);
    let overflow = || {
        bad(format!(
            "tensor {name:?} has shape {shape}, whose size overflows usize"
        ))
    };
    // The strides multiply the non-zero dims even when a zero dim empties the tensor.
    shape
        .dims()
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(overflow)?;
    let nbytes = shape
        .elem_count()
        .checked_mul(dtype.size_in_bytes())
        .ok_or_else(overflow)?;
    // data_offsets: [begin, end] inside the data, holding exactly the tensor's bytes.
    let offsets_value = field("data_offsets")?;
    let offsets = offsets_value
        .as_array()
        .filter(|a| a.len() == 2)
        .and_then(|a| {
            let get = |i: usize| a[i].as_u64().and_then(|x| usize::try_from(x).ok());
            Some((get(0)?, get(1)?))
        });
    let Some((begin, end)) = offsets else {
        return Err(bad(format!(
            "tensor {name:?}: \"data_offsets\" must be [begin, end] with non-negative integers, got {}",
            describe(offsets_value)
        )));
    };
    if end < begin {
        return Err(bad(format!(
            "tensor {name:?} has data_offsets [{begin}, {end}], which end before they begin"
        )));
    }
    if end > data_len {
        return Err(bad(format!(
            "tensor {name:?} has data_offsets [{begin}, {end}], past the end of the data ({data_len} bytes after the header)"
        )));
    }
    if end - begin != nbytes {
        return Err(bad(format!(
            "tensor {name:?} of shape {shape} and dtype {dtype} needs {nbytes} bytes, but its data_offsets [{begin}, {end}] hold {}",
            end - begin
        )));
    }
    Ok(Info {
        name: name.to_string(),
        begin,
        end,
    })
}

/// Checks the header of a safetensors file: everything the `safetensors` crate checks, with
/// messages that say which tensor is wrong and how, plus duplicate names and unsupported
/// dtypes. Returns the metadata.
fn check_header(bytes: &[u8]) -> Result<HashMap<String, String>> {
    let Some(len_bytes) = bytes.get(..8) else {
        return Err(bad(format!(
            "the file is {} bytes, too short to hold the 8-byte header length",
            bytes.len()
        )));
    };
    let n = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
    let rest = bytes.len() - 8;
    if n > rest as u64 {
        return Err(bad(format!(
            "the header length {n} is larger than the {rest} bytes that follow it"
        )));
    }
    let n = n as usize;
    if n > MAX_HEADER_BYTES {
        return Err(bad(format!(
            "the header length {n} is over the limit of {MAX_HEADER_BYTES} bytes"
        )));
    }
    let header = std::str::from_utf8(&bytes[8..8 + n])
        .map_err(|e| bad(format!("the header is not valid UTF-8: {e}")))?;
    let json: serde_json::Value = serde_json::from_str(header)
        .map_err(|e| bad(format!("the header is not valid JSON: {e}")))?;
    let serde_json::Value::Object(entries) = &json else {
        return Err(bad(format!(
            "the header must be a JSON object, got {}",
            describe(&json)
        )));
    };
    if let Some(msg) = duplicate_key(header) {
        return Err(bad(msg));
    }
    let data_len = rest - n;
    let mut metadata = HashMap::new();
    let mut infos = Vec::with_capacity(entries.len());
    for (name, v) in entries {
        if name == "__metadata__" {
            let map = v.as_object().ok_or_else(|| {
                bad(format!(
                    "\"__metadata__\" must be an object of strings, got {}",
                    describe(v)
                ))
            })?;
            for (key, value) in map {
                let value = value.as_str().ok_or_else(|| {
                    bad(format!(
                        "\"__metadata__\" entry {key:?} must be a string, got {}",
                        describe(value)
                    ))
                })?;
                metadata.insert(key.clone(), value.to_string());
            }
        } else {
            infos.push(check_entry(name, v, data_len)?);
        }
    }
    // The tensors must tile the data exactly: no overlap, no gap, nothing after the last.
    infos.sort_by_key(|i| (i.begin, i.end));
    let mut pos = 0;
    let mut prev: Option<&Info> = None;
    for info in &infos {
        if info.begin < pos {
            let p = prev.expect("pos > 0 only after a tensor");
            return Err(bad(format!(
                "tensors {:?} (data_offsets [{}, {}]) and {:?} (data_offsets [{}, {}]) overlap",
                p.name, p.begin, p.end, info.name, info.begin, info.end
            )));
        }
        if info.begin > pos {
            let after = prev.map_or(String::new(), |p| format!(" after tensor {:?} and", p.name));
            return Err(bad(format!(
                "bytes {pos}..{} of the data belong to no tensor (a gap{after} before tensor {:?})",
                info.begin, info.name
            )));
        }
        pos = info.end;
        prev = Some(info);
    }
    if pos != data_len {
        return Err(bad(match prev {
            Some(p) => format!(
                "{} bytes of trailing data after the last tensor {:?}, which ends at byte {pos} of {data_len}",
                data_len - pos,
                p.name
            ),
            None => format!("the header lists no tensors, but {data_len} bytes of data follow it"),
        }));
    }
    Ok(metadata)
}

/// Parses safetensors bytes into named tensors on `device`, sorted by name, and the metadata.
///
/// Every malformed input gives [`Error::SafeTensors`] with a message naming the problem (and
/// the tensor, where one is at fault); none panics.
pub fn deserialize(
    bytes: &[u8],
    device: Device,
) -> Result<(BTreeMap<String, Tensor>, HashMap<String, String>)> {
    let metadata = check_header(bytes)?;
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| Error::SafeTensors(format!("invalid file: {e}")))?;
    let mut out = BTreeMap::new();
    for (name, view) in st.iter() {
        let dtype = from_st(view.dtype(), name)?;
        let shape = Shape::from(view.shape());
        let n = shape.checked_elem_count("safetensors").map_err(|_| {
            Error::SafeTensors(format!(
                "tensor {name:?} has shape {shape}, whose size overflows usize"
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
        if dtype == DType::Bool {
            if let Some((i, b)) = data.iter().enumerate().find(|(_, &b)| b > 1) {
                return Err(Error::SafeTensors(format!(
                    "tensor {name:?} (BOOL) has byte {b} at element {i}; bool bytes must be 0 or 1"
                )));
            }
        }
        let host = HostData::from_le_bytes(dtype, data).ok_or_else(|| {
            Error::SafeTensors(format!(
                "tensor {name:?} has bytes that are not valid {dtype} values"
            ))
        })?;
        out.insert(name.to_string(), Tensor::from_host(host, shape, device)?);
    }
    Ok((out, metadata))
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
