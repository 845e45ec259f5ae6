//! Safetensors I/O: round trips of every dtype, a table of hostile files that must each give a
//! specific `Error::SafeTensors` (never a panic), atomic saves, and the fuzz corpus regression
//! test, which runs every file of `fuzz/corpus/safetensors` through the fuzz target's check.

use half::{bf16, f16};
use silica_core::{safetensors, DType, Device, Element, Error, Tensor};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The check the fuzz target runs on every input.
#[path = "../../../fuzz/src/roundtrip.rs"]
mod roundtrip;

// ---- helpers --------------------------------------------------------------------------------

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "silica-safetensors-{what}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// The names of the entries in the directory, sorted.
    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A safetensors file: the 8-byte little-endian header length, the header, the data.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    file_with_len(header.len() as u64, header.as_bytes(), data)
}

/// Like [`file`], with a header length that may lie and a header that may not be UTF-8.
fn file_with_len(len: u64, header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = len.to_le_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(data);
    out
}

/// The little-endian bytes of a tensor's elements in row-major order (compares NaNs and -0.0
/// exactly).
fn bytes_of(t: &Tensor) -> Vec<u8> {
    t.to_host().unwrap().to_le_bytes()
}

fn tensor<T: Element>(values: &[T]) -> Tensor {
    Tensor::from_slice(values, [values.len()], Device::Cpu).unwrap()
}

/// One tensor of every dtype, with the awkward values of each, plus a 0-dim tensor, an empty
/// one and a non-contiguous view.
fn sample_tensors() -> Vec<(&'static str, Tensor)> {
    let transposed = Tensor::from_slice(&[1i64, 2, 3, 4, 5, 6], [2, 3], Device::Cpu)
        .unwrap()
        .t()
        .unwrap();
    assert!(
        !transposed.is_contiguous(),
        "the view must be non-contiguous"
    );
    vec![
        (
            "f32",
            tensor(&[
                0.0f32,
                -0.0,
                1.5,
                f32::NAN,
                -f32::NAN,
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::MIN_POSITIVE,
                f32::from_bits(1), // the smallest subnormal
                f32::MAX,
                f32::MIN,
            ]),
        ),
        (
            "f64",
            tensor(&[
                0.0f64,
                -0.0,
                -2.25,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::MIN_POSITIVE,
                f64::from_bits(1),
                f64::MAX,
                f64::MIN,
            ]),
        ),
        (
            "f16",
            tensor(&[
                f16::ZERO,
                f16::NEG_ZERO,
                f16::ONE,
                f16::NAN,
                f16::INFINITY,
                f16::NEG_INFINITY,
                f16::MIN_POSITIVE_SUBNORMAL,
                f16::MAX,
                f16::MIN,
            ]),
        ),
        (
            "bf16",
            tensor(&[
                bf16::ZERO,
                bf16::NEG_ZERO,
                bf16::ONE,
                bf16::NAN,
                bf16::INFINITY,
                bf16::NEG_INFINITY,
                bf16::MIN_POSITIVE_SUBNORMAL,
                bf16::MAX,
                bf16::MIN,
            ]),
        ),
        ("i32", tensor(&[i32::MIN, -1, 0, 1, i32::MAX])),
        ("i64", tensor(&[i64::MIN, -1, 0, 1, i64::MAX])),
        ("u8", tensor(&[0u8, 1, 127, 128, 255])),
        ("bool", tensor(&[true, false, false, true])),
        ("scalar", Tensor::scalar(3.5f64, Device::Cpu).unwrap()),
        (
            "empty",
            Tensor::zeros([0, 3], DType::F32, Device::Cpu).unwrap(),
        ),
        ("transposed", transposed),
    ]
}

/// Asserts that `got` holds exactly the tensors of `want`: names, dtypes, shapes and bytes.
fn assert_same(
    what: &str,
    want: &[(&str, Tensor)],
    got: &std::collections::BTreeMap<String, Tensor>,
) {
    let mut names: Vec<&str> = want.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    assert_eq!(
        got.keys().map(String::as_str).collect::<Vec<_>>(),
        names,
        "{what}: names"
    );
    for (name, w) in want {
        let g = &got[*name];
        assert_eq!(g.dtype(), w.dtype(), "{what}: {name}: dtype");
        assert_eq!(g.dims(), w.dims(), "{what}: {name}: shape");
        assert_eq!(bytes_of(g), bytes_of(w), "{what}: {name}: bytes");
        assert!(
            g.is_contiguous(),
            "{what}: {name}: a read tensor is contiguous"
        );
    }
}

fn named<'a>(tensors: &'a [(&'static str, Tensor)]) -> Vec<(&'static str, &'a Tensor)> {
    tensors.iter().map(|(n, t)| (*n, t)).collect()
}

// ---- round trips ----------------------------------------------------------------------------

#[test]
fn round_trip_every_dtype_in_memory() {
    let tensors = sample_tensors();
    let meta = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("note".to_string(), "ünïcode \"quoted\"".to_string()),
    ]);
    let bytes = safetensors::serialize(&named(&tensors), Some(meta.clone())).unwrap();
    let (back, back_meta) = safetensors::deserialize(&bytes, Device::Cpu).unwrap();
    assert_same("serialize/deserialize", &tensors, &back);
    assert_eq!(back_meta, meta);

    // The transposed view is written in row-major order of its own shape.
    assert_eq!(back["transposed"].dims(), &[3, 2]);
    assert_eq!(
        back["transposed"].to_vec::<i64>().unwrap(),
        vec![1, 4, 2, 5, 3, 6]
    );
    assert_eq!(back["scalar"].dims(), &[] as &[usize]);
    assert_eq!(back["scalar"].item::<f64>().unwrap(), 3.5);
    assert_eq!(
        back["bool"].to_vec::<bool>().unwrap(),
        vec![true, false, false, true]
    );

    // Each dtype is written under its safetensors name.
    let raw = ::safetensors::SafeTensors::deserialize(&bytes).unwrap();
    for (name, dtype) in [
        ("f32", "F32"),
        ("f64", "F64"),
        ("f16", "F16"),
        ("bf16", "BF16"),
        ("i32", "I32"),
        ("i64", "I64"),
        ("u8", "U8"),
        ("bool", "BOOL"),
    ] {
        assert_eq!(format!("{:?}", raw.tensor(name).unwrap().dtype()), dtype);
    }

    // Every valid file passes the fuzz target's check too.
    assert_eq!(roundtrip::check(&bytes), Ok(tensors.len()));
}

#[test]
fn round_trip_no_tensors_and_no_metadata() {
    // `Some(empty)` used to hit a bug of the `safetensors` crate, which wrote the invalid
    // header `{},"__metadata__":{}}` for no tensors and empty metadata.
    for metadata in [None, Some(HashMap::new())] {
        let bytes = safetensors::serialize(&[], metadata).unwrap();
        let (back, meta) = safetensors::deserialize(&bytes, Device::Cpu).unwrap();
        assert!(back.is_empty());
        assert!(meta.is_empty());
    }
    let one = HashMap::from([("k".to_string(), "v".to_string())]);
    let bytes = safetensors::serialize(&[], Some(one.clone())).unwrap();
    assert_eq!(
        safetensors::deserialize(&bytes, Device::Cpu).unwrap().1,
        one
    );
}

#[test]
fn round_trip_every_dtype_on_disk() {
    let dir = TempDir::new("disk");
    let path = dir.path().join("all.safetensors");
    let tensors = sample_tensors();
    safetensors::save(&named(&tensors), &path).unwrap();
    let back = safetensors::load(&path, Device::Cpu).unwrap();
    assert_same("save/load", &tensors, &back);
    assert_eq!(dir.entries(), vec!["all.safetensors"]);
}

#[test]
fn serialize_rejects_duplicate_and_reserved_names() {
    let t = tensor(&[1.0f32]);
    let err = safetensors::serialize(&[("w", &t), ("w", &t)], None).unwrap_err();
    assert!(err.to_string().contains("\"w\" appears twice"), "{err}");
    let err = safetensors::serialize(&[("__metadata__", &t)], None).unwrap_err();
    assert!(err.to_string().contains("reserved"), "{err}");
}

// ---- hostile files --------------------------------------------------------------------------

/// A tensor entry of the header.
fn entry(name: &str, dtype: &str, shape: &str, offsets: &str) -> String {
    format!("\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":{offsets}}}")
}

/// A header with these entries.
fn header(entries: &[String]) -> String {
    format!("{{{}}}", entries.join(","))
}

/// A file with one F32 tensor "w" of `shape` and `offsets` over `data`.
fn one_f32(shape: &str, offsets: &str, data: &[u8]) -> Vec<u8> {
    file(&header(&[entry("w", "F32", shape, offsets)]), data)
}

/// Malformed files, each with a piece of the error message it must give. Every row is also a
/// file `hostile-<name>.safetensors` of the fuzz corpus (see `regenerate_corpus`).
fn hostile_cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let two_f32 = |a: &str, b: &str| {
        file(
            &header(&[entry("a", "F32", "[2]", a), entry("b", "F32", "[2]", b)]),
            &[0; 12],
        )
    };
    // Eight U8 tensors of 2^61 - 1 bytes each, tiling offsets up to 2^64 - 8: the `safetensors`
    // crate's `buffer_end + 8 + n` overflows on these (a panic in debug builds).
    let big = (1u64 << 61) - 1;
    let tiles: Vec<String> = (0..8u64)
        .map(|i| {
            entry(
                &format!("t{i}"),
                "U8",
                &format!("[{big}]"),
                &format!("[{}, {}]", i * big, (i + 1) * big),
            )
        })
        .collect();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    vec![
        ("empty-file", vec![], "the file is 0 bytes, too short"),
        ("shorter-than-8-bytes", vec![2, 0, 0], "the file is 3 bytes, too short"),
        (
            "header-length-past-end",
            file_with_len(100, b"{}", &[]),
            "header length 100 is larger than the 2 bytes",
        ),
        (
            "header-length-u64-max",
            file_with_len(u64::MAX, b"{}", &[]),
            "header length 18446744073709551615 is larger",
        ),
        (
            "header-length-u64-max-minus-7",
            file_with_len(u64::MAX - 7, b"{}", &[]),
            "header length 18446744073709551608 is larger",
        ),
        (
            "header-length-zero",
            file_with_len(0, b"", &[]),
            "the header is not valid JSON",
        ),
        (
            "header-not-utf8",
            file_with_len(4, b"{\"\xff\xfe", &[]),
            "the header is not valid UTF-8",
        ),
        ("header-not-json", file("{not json", &[]), "the header is not valid JSON"),
        (
            "header-truncated-json",
            file(&header(&[entry("w", "F32", "[1]", "[0, 4]")])[..20], &[0; 4]),
            "the header is not valid JSON",
        ),
        (
            "header-deeply-nested",
            file(&deep, &[]),
            "the header is not valid JSON",
        ),
        (
            "header-json-array",
            file("[1, 2]", &[]),
            "the header must be a JSON object, got an array",
        ),
        (
            "header-json-string",
            file("\"w\"", &[]),
            "the header must be a JSON object, got a string",
        ),
        ("header-json-null", file("null", &[]), "must be a JSON object, got null"),
        (
            "entry-not-object",
            file("{\"w\": 3}", &[]),
            "tensor \"w\": expected an object",
        ),
        (
            "entry-missing-offsets",
            file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", &[0; 4]),
            "tensor \"w\" has no \"data_offsets\"",
        ),
        (
            "dtype-not-string",
            file(&header(&[entry("w", "F32", "[1]", "[0,4]").replace("\"F32\"", "7")]), &[0; 4]),
            "tensor \"w\": \"dtype\" must be a string",
        ),
        (
            "dtype-f8-unsupported",
            file(&header(&[entry("w", "F8_E4M3", "[2]", "[0, 2]")]), &[0; 2]),
            "tensor \"w\" has dtype F8_E4M3, which Silica does not support",
        ),
        (
            "dtype-u16-unsupported",
            file(&header(&[entry("w", "U16", "[1]", "[0, 2]")]), &[0; 2]),
            "tensor \"w\" has dtype U16, which Silica does not support",
        ),
        (
            "dtype-made-up",
            file(&header(&[entry("w", "F7", "[1]", "[0, 1]")]), &[0; 1]),
            "tensor \"w\" has unknown dtype \"F7\"",
        ),
        (
            "dtype-lowercase",
            file(&header(&[entry("w", "f32", "[1]", "[0, 4]")]), &[0; 4]),
            "tensor \"w\" has unknown dtype \"f32\"",
        ),
        (
            "offsets-past-end",
            one_f32("[2]", "[0, 8]", &[0; 4]),
            "tensor \"w\" has data_offsets [0, 8], past the end of the data (4 bytes",
        ),
        (
            "offsets-u64-max",
            one_f32("[1]", "[18446744073709551611, 18446744073709551615]", &[0; 4]),
            "past the end of the data",
        ),
        (
            "offsets-tiling-to-u64-max",
            file(&header(&tiles), &[]),
            "past the end of the data (0 bytes",
        ),
        (
            "offsets-reversed",
            one_f32("[1]", "[4, 0]", &[0; 4]),
            "tensor \"w\" has data_offsets [4, 0], which end before they begin",
        ),
        (
            "offsets-overlap",
            two_f32("[0, 8]", "[4, 12]"),
            "tensors \"a\" (data_offsets [0, 8]) and \"b\" (data_offsets [4, 12]) overlap",
        ),
        (
            "offsets-same-range",
            file(
                &header(&[entry("a", "F32", "[1]", "[0, 4]"), entry("b", "F32", "[1]", "[0, 4]")]),
                &[0; 4],
            ),
            "overlap",
        ),
        (
            "offsets-empty-inside-other",
            file(
                &header(&[entry("a", "F32", "[2]", "[0, 8]"), entry("e", "F32", "[0]", "[4, 4]")]),
                &[0; 8],
            ),
            "tensors \"a\" (data_offsets [0, 8]) and \"e\" (data_offsets [4, 4]) overlap",
        ),
        (
            "offsets-gap",
            file(
                &header(&[entry("a", "F32", "[1]", "[0, 4]"), entry("b", "F32", "[1]", "[8, 12]")]),
                &[0; 12],
            ),
            "bytes 4..8 of the data belong to no tensor (a gap after tensor \"a\" and before tensor \"b\")",
        ),
        (
            "offsets-not-from-zero",
            one_f32("[1]", "[4, 8]", &[0; 8]),
            "bytes 0..4 of the data belong to no tensor (a gap before tensor \"w\")",
        ),
        (
            "offsets-three-numbers",
            one_f32("[1]", "[0, 4, 8]", &[0; 4]),
            "tensor \"w\": \"data_offsets\" must be [begin, end]",
        ),
        (
            "offsets-negative",
            one_f32("[1]", "[-4, 0]", &[0; 4]),
            "tensor \"w\": \"data_offsets\" must be [begin, end]",
        ),
        (
            "shape-product-overflows",
            one_f32("[4294967296, 4294967296, 2]", "[0, 4]", &[0; 4]),
            "tensor \"w\" has shape [4294967296, 4294967296, 2], whose size overflows usize",
        ),
        (
            "shape-bytes-overflow",
            one_f32("[4611686018427387904]", "[0, 4]", &[0; 4]),
            "whose size overflows usize",
        ),
        (
            "shape-empty-but-strides-overflow",
            one_f32("[0, 1099511627776, 1099511627776]", "[0, 0]", &[]),
            "tensor \"w\" has shape [0, 1099511627776, 1099511627776], whose size overflows usize",
        ),
        (
            "shape-dim-above-u64",
            one_f32("[18446744073709551616]", "[0, 4]", &[0; 4]),
            "tensor \"w\": \"shape\" must be an array of non-negative integers",
        ),
        (
            "shape-negative",
            one_f32("[-1]", "[0, 4]", &[0; 4]),
            "tensor \"w\": \"shape\" must be an array of non-negative integers",
        ),
        (
            "shape-fractional",
            one_f32("[1.5]", "[0, 4]", &[0; 4]),
            "tensor \"w\": \"shape\" must be an array of non-negative integers",
        ),
        (
            "shape-offsets-mismatch",
            one_f32("[2, 2]", "[0, 8]", &[0; 8]),
            "tensor \"w\" of shape [2, 2] and dtype f32 needs 16 bytes, but its data_offsets [0, 8] hold 8",
        ),
        (
            "shape-misaligned-bytes",
            file(&header(&[entry("w", "F64", "[1]", "[0, 4]")]), &[0; 4]),
            "needs 8 bytes, but its data_offsets [0, 4] hold 4",
        ),
        (
            "bool-byte-2",
            file(&header(&[entry("m", "BOOL", "[3]", "[0, 3]")]), &[1, 2, 0]),
            "tensor \"m\" (BOOL) has byte 2 at element 1; bool bytes must be 0 or 1",
        ),
        (
            "bool-byte-255",
            file(&header(&[entry("m", "BOOL", "[1]", "[0, 1]")]), &[255]),
            "has byte 255 at element 0",
        ),
        (
            "trailing-garbage",
            one_f32("[1]", "[0, 4]", &[0, 0, 128, 63, 0xde, 0xad]),
            "2 bytes of trailing data after the last tensor \"w\", which ends at byte 4 of 6",
        ),
        (
            "no-tensors-but-data",
            file("{}", b"junk"),
            "the header lists no tensors, but 4 bytes of data follow it",
        ),
        (
            "duplicate-key",
            file(
                &header(&[entry("w", "F32", "[1]", "[0, 4]"), entry("w", "F32", "[1]", "[0, 4]")]),
                &[0; 4],
            ),
            "the name \"w\" appears twice in the header",
        ),
        (
            "duplicate-key-escaped",
            file(
                &header(&[entry("w", "F32", "[1]", "[0, 4]"), entry("\\u0077", "F32", "[1]", "[4, 8]")]),
                &[0; 8],
            ),
            "the name \"w\" appears twice in the header",
        ),
        (
            "duplicate-metadata",
            file(
                "{\"__metadata__\":{\"a\":\"1\"},\"__metadata__\":{\"a\":\"2\"}}",
                &[],
            ),
            "the name \"__metadata__\" appears twice in the header",
        ),
        (
            "duplicate-field",
            file(
                "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
                &[0; 8],
            ),
            "tensor \"w\" has the key \"dtype\" twice",
        ),
        (
            "duplicate-metadata-key",
            file("{\"__metadata__\":{\"a\":\"1\",\"b\":\"2\",\"a\":\"3\"}}", &[]),
            "\"__metadata__\" has the key \"a\" twice",
        ),
        (
            "metadata-not-object",
            file("{\"__metadata__\":[\"a\"]}", &[]),
            "\"__metadata__\" must be an object of strings, got an array",
        ),
        (
            "metadata-value-not-string",
            file("{\"__metadata__\":{\"epoch\":3}}", &[]),
            "\"__metadata__\" entry \"epoch\" must be a string, got a number (3)",
        ),
    ]
}

/// Valid files written by hand (not by `serialize`): other key orders, padding, empty and
/// 0-dim tensors, a tensor named like a number. Each is `valid-<name>.safetensors` in the corpus.
fn valid_cases() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty-header", file("{}", &[])),
        ("padded-header", file("{}      ", &[])),
        (
            "metadata-only",
            file("{\"__metadata__\":{\"format\":\"pt\"}}", &[]),
        ),
        (
            "reverse-offset-order",
            file(
                &header(&[
                    entry("b", "I32", "[1]", "[4, 8]"),
                    entry("a", "U8", "[4]", "[0, 4]"),
                ]),
                &[1, 2, 3, 4, 0xff, 0xff, 0xff, 0x7f],
            ),
        ),
        (
            "zero-dim-and-empty",
            file(
                &header(&[
                    entry("e", "F16", "[0, 3]", "[0, 0]"),
                    entry("s", "BF16", "[]", "[0, 2]"),
                    entry("z", "BOOL", "[0]", "[2, 2]"),
                ]),
                &[0x80, 0x3f],
            ),
        ),
        (
            "extra-fields-ignored",
            file(
                "{\"1\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8],\"extra\":null}}",
                &f64::NAN.to_le_bytes(),
            ),
        ),
    ]
}

/// Runs `f`, turning a panic into an `Err` with its message.
fn no_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn hostile_files_give_specific_errors() {
    let mut failures = Vec::new();
    for (name, bytes, expected) in hostile_cases() {
        match no_panic(|| safetensors::deserialize(&bytes, Device::Cpu)) {
            Err(panic) => failures.push(format!("{name}: panicked: {panic}")),
            Ok(Ok(_)) => failures.push(format!("{name}: was accepted")),
            Ok(Err(Error::SafeTensors(msg))) if msg.contains(expected) => {}
            Ok(Err(e)) => failures.push(format!("{name}: got {e:?}, expected {expected:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn hostile_files_on_disk_name_the_path() {
    let dir = TempDir::new("hostile");
    for (name, bytes, expected) in hostile_cases() {
        let path = dir.path().join(format!("{name}.safetensors"));
        std::fs::write(&path, &bytes).unwrap();
        match safetensors::load(&path, Device::Cpu) {
            Err(Error::SafeTensors(msg)) => {
                assert!(msg.contains(&path.display().to_string()), "{name}: {msg}");
                assert!(msg.contains(expected), "{name}: {msg}");
            }
            other => panic!("{name}: expected Error::SafeTensors, got {other:?}"),
        }
    }

    let missing = dir.path().join("missing.safetensors");
    match safetensors::load(&missing, Device::Cpu) {
        Err(e @ Error::Io { .. }) => {
            assert!(e.to_string().contains("missing.safetensors"), "{e}")
        }
        other => panic!("a missing file: expected Error::Io, got {other:?}"),
    }
}

#[test]
fn valid_hand_written_files_are_read() {
    for (name, bytes) in valid_cases() {
        let n = roundtrip::check(&bytes).unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
        let (tensors, _) = safetensors::deserialize(&bytes, Device::Cpu).unwrap();
        assert_eq!(n, tensors.len());
    }
    let (t, _) = safetensors::deserialize(&valid_cases()[3].1, Device::Cpu).unwrap();
    assert_eq!(t["a"].to_vec::<u8>().unwrap(), vec![1, 2, 3, 4]);
    assert_eq!(t["b"].to_vec::<i32>().unwrap(), vec![i32::MAX]);
    let (t, _) = safetensors::deserialize(&valid_cases()[4].1, Device::Cpu).unwrap();
    assert_eq!(t["e"].dims(), &[0, 3]);
    assert_eq!(t["s"].to_vec::<bf16>().unwrap(), vec![bf16::ONE]);
    assert_eq!(t["z"].dtype(), DType::Bool);
}

// ---- atomic saves ---------------------------------------------------------------------------

#[test]
fn save_replaces_atomically_and_leaves_no_temp_files() {
    let dir = TempDir::new("atomic");
    let path = dir.path().join("w.safetensors");
    let old = tensor(&[1.0f32; 64]);
    let new = tensor(&[2i64; 4096]);
    safetensors::save(&[("w", &old)], &path).unwrap();
    safetensors::save(&[("w", &new)], &path).unwrap();
    assert_eq!(
        bytes_of(&safetensors::load(&path, Device::Cpu).unwrap()["w"]),
        bytes_of(&new)
    );
    assert_eq!(dir.entries(), vec!["w.safetensors"]);

    // A reader racing with repeated saves sees the old file or the new one, never a mix.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let old_bytes = safetensors::serialize(&[("w", &old)], None).unwrap();
    let new_bytes = safetensors::serialize(&[("w", &new)], None).unwrap();
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    bytes == old_bytes || bytes == new_bytes,
                    "a reader saw a partial file of {} bytes",
                    bytes.len()
                );
                reads += 1;
            }
            reads
        });
        for i in 0..40 {
            let t = if i % 2 == 0 { &old } else { &new };
            safetensors::save(&[("w", t)], &path).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    });
    assert_eq!(dir.entries(), vec!["w.safetensors"]);
}

#[test]
fn failed_saves_name_the_path_and_clean_up() {
    let dir = TempDir::new("failed");
    let t = tensor(&[1u8, 2, 3]);

    // A directory that does not exist.
    let path = dir.path().join("no-such-dir").join("w.safetensors");
    match safetensors::save(&[("w", &t)], &path) {
        Err(e @ Error::Io { .. }) => {
            assert!(e.to_string().contains(&path.display().to_string()), "{e}")
        }
        other => panic!("expected Error::Io, got {other:?}"),
    }
    assert!(dir.entries().is_empty(), "{:?}", dir.entries());

    // A path that is an existing directory: the rename fails and the temp file goes.
    let path = dir.path().join("taken");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("keep"), b"x").unwrap();
    match safetensors::save(&[("w", &t)], &path) {
        Err(e @ Error::Io { .. }) => assert!(e.to_string().contains("taken"), "{e}"),
        other => panic!("expected Error::Io, got {other:?}"),
    }
    assert_eq!(dir.entries(), vec!["taken"]);
    assert_eq!(std::fs::read(path.join("keep")).unwrap(), b"x");

    // A path that names no file.
    assert!(safetensors::save(&[("w", &t)], dir.path().join("..")).is_err());
}

// ---- the fuzz corpus ------------------------------------------------------------------------

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/safetensors")
}

/// Runs every file of the fuzz corpus through the fuzz target's check: none may panic, files
/// named `valid-*` must be accepted and round-trip, files named `hostile-*` must be rejected.
#[test]
fn fuzz_corpus_regression() {
    let dir = corpus_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the fuzz corpus {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "the fuzz corpus {} is empty",
        dir.display()
    );

    let mut failures = Vec::new();
    let (mut valid, mut hostile) = (0, 0);
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path).unwrap();
        match no_panic(|| roundtrip::check(&bytes)) {
            Err(panic) => failures.push(format!("{name}: panicked: {panic}")),
            Ok(Ok(_)) if name.starts_with("hostile-") => {
                failures.push(format!("{name}: was accepted"))
            }
            Ok(Err(msg)) if name.starts_with("valid-") => {
                failures.push(format!("{name}: was rejected: {msg}"))
            }
            Ok(Ok(_)) => valid += 1,
            Ok(Err(_)) => hostile += 1,
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        valid > 0 && hostile > 0,
        "{valid} valid and {hostile} rejected files"
    );
}

/// Every case of this file is in the corpus, so that the fuzzer starts from them.
#[test]
fn fuzz_corpus_holds_every_case() {
    let dir = corpus_dir();
    let missing: Vec<String> = corpus_files()
        .into_iter()
        .filter(|(name, bytes)| std::fs::read(dir.join(name)).ok().as_ref() != Some(bytes))
        .map(|(name, _)| name)
        .collect();
    assert!(
        missing.is_empty(),
        "missing or stale in {}: {missing:?} (run `cargo test -p silica-core --test safetensors \
         -- --ignored regenerate_corpus`)",
        dir.display()
    );
}

/// The seed corpus: the hostile and valid cases, and a `serialize`d file of every dtype.
fn corpus_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = hostile_cases()
        .into_iter()
        // The huge nesting case is kept out of the corpus: libFuzzer limits input sizes.
        .filter(|(name, _, _)| *name != "header-deeply-nested")
        .map(|(name, bytes, _)| (format!("hostile-{name}.safetensors"), bytes))
        .chain(
            valid_cases()
                .into_iter()
                .map(|(name, bytes)| (format!("valid-{name}.safetensors"), bytes)),
        )
        .collect();
    let tensors = sample_tensors();
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    files.push((
        "valid-every-dtype.safetensors".to_string(),
        safetensors::serialize(&named(&tensors), Some(meta)).unwrap(),
    ));
    files
}

/// Writes the seed corpus; run with `--ignored` after changing the cases.
#[test]
#[ignore]
fn regenerate_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in corpus_files() {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
