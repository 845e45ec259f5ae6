//! The check run on every input, shared by the fuzz target (`fuzz_targets/safetensors.rs`) and
//! the corpus regression test (`crates/silica-core/tests/safetensors.rs`, which includes this
//! file with `#[path]`).

use silica_core::{safetensors as st, Device, Error, Tensor};

/// Reads `data` as a safetensors file.
///
/// Returns `Err(message)` when Silica rejects it, which must be with `Error::SafeTensors` and a
/// non-empty message. When Silica accepts it, checks that every tensor holds exactly the bytes
/// the `safetensors` crate sees in the file, and that `serialize` followed by `deserialize`
/// gives back the same names, dtypes, shapes, bytes and metadata; returns the number of tensors.
/// Panics on any broken invariant (which is what the fuzzer looks for).
pub fn check(data: &[u8]) -> Result<usize, String> {
    let (tensors, metadata) = match st::deserialize(data, Device::Cpu) {
        Ok(read) => read,
        Err(Error::SafeTensors(msg)) => {
            assert!(!msg.is_empty(), "an empty error message");
            return Err(msg);
        }
        Err(e) => panic!("deserialize failed with a non-safetensors error: {e:?}"),
    };

    // What Silica read is what the file holds.
    let raw = ::safetensors::SafeTensors::deserialize(data)
        .unwrap_or_else(|e| panic!("Silica accepted a file the safetensors crate rejects: {e}"));
    assert_eq!(raw.len(), tensors.len(), "tensor count");
    for (name, t) in &tensors {
        let view = raw
            .tensor(name)
            .unwrap_or_else(|e| panic!("{name:?} is not in the file: {e}"));
        assert_eq!(t.dims(), view.shape(), "{name:?}: shape");
        assert_eq!(bytes_of(name, t), view.data(), "{name:?}: bytes");
    }

    // The round trip through `serialize` keeps everything.
    let named: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let written = st::serialize(&named, Some(metadata.clone()))
        .unwrap_or_else(|e| panic!("cannot re-serialize an accepted file: {e}"));
    let (back, back_meta) = st::deserialize(&written, Device::Cpu)
        .unwrap_or_else(|e| panic!("cannot read back what serialize wrote: {e}"));
    assert_eq!(back_meta, metadata, "metadata after the round trip");
    assert_eq!(
        back.keys().collect::<Vec<_>>(),
        tensors.keys().collect::<Vec<_>>(),
        "names after the round trip"
    );
    for (name, t) in &tensors {
        let b = &back[name];
        assert_eq!(b.dtype(), t.dtype(), "{name:?}: dtype after the round trip");
        assert_eq!(b.dims(), t.dims(), "{name:?}: shape after the round trip");
        assert_eq!(
            bytes_of(name, b),
            bytes_of(name, t),
            "{name:?}: bytes after the round trip"
        );
    }
    Ok(tensors.len())
}

fn bytes_of(name: &str, t: &Tensor) -> Vec<u8> {
    t.to_host()
        .unwrap_or_else(|e| panic!("{name:?}: to_host failed: {e}"))
        .to_le_bytes()
}
