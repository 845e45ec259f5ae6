//! State dicts and checkpoints as safetensors files.
//!
//! A state dict file holds the model's tensors under their PyTorch `state_dict` keys with their
//! own dtypes, so `model.load_state_dict(safetensors.torch.load_file(path))` works in PyTorch,
//! and files written by PyTorch load here. A [`Checkpoint`] adds the optimizer, the scheduler,
//! the step and the generator state in the same file: tensors under `model.`, `optimizer.`
//! prefixes, everything else as JSON in the header's metadata. Every write is atomic (a
//! temporary file, fsync, rename), so a crash never leaves a half-written file behind.

use crate::nn::StateDict;
use crate::optim::OptimizerState;
use silica_core::{safetensors, Device, Error, GeneratorState, Result, Tensor};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Writes a state dict to `path` as safetensors, atomically.
///
/// # Examples
///
/// ```
/// use silica_core::{Device, DType, Tensor};
/// use silica_nn::{io, nn::StateDict};
/// let dir = std::env::temp_dir().join(format!("silica-io-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let mut sd = StateDict::new();
/// sd.insert("fc.weight".into(), Tensor::ones([2, 3], DType::F32, Device::Cpu).unwrap());
/// io::save_state_dict(&sd, dir.join("model.safetensors")).unwrap();
/// let back = io::load_state_dict(dir.join("model.safetensors"), Device::Cpu).unwrap();
/// assert_eq!(back["fc.weight"].dims(), &[2, 3]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn save_state_dict(state: &StateDict, path: impl AsRef<Path>) -> Result<()> {
    let named: Vec<(&str, &Tensor)> = state.iter().map(|(k, v)| (k.as_str(), v)).collect();
    safetensors::save(&named, path)
}

/// Reads a state dict written by [`save_state_dict`] or by PyTorch's
/// `safetensors.torch.save_file`, onto `device`.
pub fn load_state_dict(path: impl AsRef<Path>, device: Device) -> Result<StateDict> {
    safetensors::load(path, device)
}

/// Everything needed to resume training.
#[derive(Clone, Debug, Default)]
pub struct Checkpoint {
    /// The model's state dict.
    pub model: StateDict,
    /// The optimizer's state, if saved.
    pub optimizer: Option<OptimizerState>,
    /// The learning-rate scheduler's state, if saved.
    pub scheduler: Option<serde_json::Value>,
    /// Optimizer steps taken so far.
    pub step: u64,
    /// Epochs completed so far.
    pub epoch: u64,
    /// The random generator's state, if saved.
    pub generator: Option<GeneratorState>,
    /// Free-form strings (the model kind, the command line, ...).
    pub extra: BTreeMap<String, String>,
}

const FORMAT_KEY: &str = "silica.checkpoint";
const FORMAT_VERSION: &str = "1";

/// Writes a checkpoint to `path` atomically.
pub fn save_checkpoint(ckpt: &Checkpoint, path: impl AsRef<Path>) -> Result<()> {
    let mut named: Vec<(String, &Tensor)> = ckpt
        .model
        .iter()
        .map(|(k, v)| (format!("model.{k}"), v))
        .collect();
    if let Some(opt) = &ckpt.optimizer {
        named.extend(
            opt.tensors
                .iter()
                .map(|(k, v)| (format!("optimizer.{k}"), v)),
        );
    }
    let mut meta = HashMap::new();
    meta.insert(FORMAT_KEY.to_string(), FORMAT_VERSION.to_string());
    meta.insert("step".into(), ckpt.step.to_string());
    meta.insert("epoch".into(), ckpt.epoch.to_string());
    if let Some(opt) = &ckpt.optimizer {
        meta.insert("optimizer".into(), opt.meta.to_string());
    }
    if let Some(s) = &ckpt.scheduler {
        meta.insert("scheduler".into(), s.to_string());
    }
    if let Some(g) = &ckpt.generator {
        meta.insert("generator".into(), format!("{} {}", g.seed, g.offset));
    }
    for (k, v) in &ckpt.extra {
        meta.insert(format!("extra.{k}"), v.clone());
    }
    let refs: Vec<(&str, &Tensor)> = named.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let bytes = safetensors::serialize(&refs, Some(meta))?;
    safetensors::write_atomic(path.as_ref(), &bytes)
}

/// Reads a checkpoint written by [`save_checkpoint`]. A truncated or corrupt file, or one that
/// is not a Silica checkpoint, gives an error that lists what is wrong.
pub fn load_checkpoint(path: impl AsRef<Path>, device: Device) -> Result<Checkpoint> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    let bad = |msg: String| Error::SafeTensors(format!("{}: {msg}", path.display()));
    let (tensors, meta) = safetensors::deserialize(&bytes, device)
        .map_err(|e| bad(format!("not a readable checkpoint: {e}")))?;
    let mut problems = Vec::new();
    if meta.get(FORMAT_KEY).map(String::as_str) != Some(FORMAT_VERSION) {
        problems.push(format!("metadata {FORMAT_KEY:?} is not {FORMAT_VERSION:?}"));
    }
    let number = |key: &str, problems: &mut Vec<String>| -> u64 {
        match meta.get(key).map(|s| s.parse::<u64>()) {
            Some(Ok(v)) => v,
            _ => {
                problems.push(format!("metadata {key:?} is missing or not a number"));
                0
            }
        }
    };
    let step = number("step", &mut problems);
    let epoch = number("epoch", &mut problems);
    let json = |key: &str, problems: &mut Vec<String>| -> Option<serde_json::Value> {
        let s = meta.get(key)?;
        match serde_json::from_str(s) {
            Ok(v) => Some(v),
            Err(e) => {
                problems.push(format!("metadata {key:?} is not JSON: {e}"));
                None
            }
        }
    };
    let optimizer_meta = json("optimizer", &mut problems);
    let scheduler = json("scheduler", &mut problems);
    let generator = meta.get("generator").and_then(|s| {
        let mut parts = s.split(' ').map(str::parse::<u64>);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(Ok(seed)), Some(Ok(offset)), None) => Some(GeneratorState { seed, offset }),
            _ => {
                problems.push(format!(
                    "metadata \"generator\" is {s:?}, expected \"<seed> <offset>\""
                ));
                None
            }
        }
    });
    let mut model = StateDict::new();
    let mut opt_tensors = BTreeMap::new();
    for (k, v) in tensors {
        if let Some(name) = k.strip_prefix("model.") {
            model.insert(name.to_string(), v);
        } else if let Some(name) = k.strip_prefix("optimizer.") {
            opt_tensors.insert(name.to_string(), v);
        } else {
            problems.push(format!("unexpected tensor {k:?}"));
        }
    }
    if !problems.is_empty() {
        return Err(bad(problems.join("; ")));
    }
    let extra = meta
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("extra.")?.to_string(), v.clone())))
        .collect();
    Ok(Checkpoint {
        model,
        optimizer: optimizer_meta.map(|meta| OptimizerState {
            tensors: opt_tensors,
            meta,
        }),
        scheduler,
        step,
        epoch,
        generator,
        extra,
    })
}
