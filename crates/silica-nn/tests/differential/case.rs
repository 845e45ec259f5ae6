//! Reading a fuzz file: the cases `tools/golden/fuzz.py` drew, with PyTorch's answers.

use serde_json::Value;
use silica_core::{safetensors, DType, Device, Scalar, Tensor};
use std::collections::BTreeMap;
use std::path::Path;

/// One input: its base tensor, the views that turn the base into what the op sees, and
/// whether the base requires grad.
pub struct Input {
    pub base: Tensor,
    pub views: Vec<Value>,
    pub grad: bool,
}

/// One drawn case and PyTorch's answer to it.
pub struct Case {
    pub name: String,
    pub op: String,
    pub args: Args,
    pub inputs: Vec<Input>,
    /// The outputs, empty when PyTorch raised (and no rule gave an answer).
    pub outputs: Vec<Tensor>,
    /// The random weight of each output that has a gradient.
    pub weights: Vec<Option<Tensor>>,
    /// The gradient of each input's base, where PyTorch gives one.
    pub grads: Vec<Option<Tensor>>,
    /// The f64 answers rounded to the same dtypes, where PyTorch's own are further from them
    /// than the tolerance (see `fuzz.py`'s precise reference); Silica may match either.
    pub ref_outputs: Vec<Option<Tensor>>,
    pub ref_grads: Vec<Option<Tensor>>,
    /// PyTorch's forward error.
    pub error: Option<String>,
    /// PyTorch's backward error.
    pub grad_error: Option<String>,
    /// The documented rule that gave PyTorch's answer instead (see `rules.rs`).
    pub rule: Option<String>,
}

impl Case {
    /// PyTorch raised, and no rule stands in for its answer.
    pub fn torch_fails(&self) -> bool {
        self.error.is_some() && self.rule.is_none()
    }
}

/// Every case of one file, in order.
pub fn load(path: &Path) -> Result<Vec<Case>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (mut tensors, meta) =
        safetensors::deserialize(&bytes, Device::Cpu).map_err(|e| e.to_string())?;
    let specs: Vec<Value> = serde_json::from_str(meta.get("cases").ok_or("no \"cases\" entry")?)
        .map_err(|e| format!("cases: {e}"))?;
    specs
        .into_iter()
        .map(|spec| case(spec, &mut tensors))
        .collect()
}

fn case(spec: Value, tensors: &mut BTreeMap<String, Tensor>) -> Result<Case, String> {
    let name = spec["name"]
        .as_str()
        .ok_or("a case without a name")?
        .to_string();
    let mut take = |kind: &str, i: usize| tensors.remove(&format!("{name}/{kind}{i}"));
    let inputs = spec["inputs"]
        .as_array()
        .ok_or_else(|| format!("{name}: no inputs"))?
        .iter()
        .enumerate()
        .map(|(i, inp)| {
            Ok(Input {
                base: take("in", i).ok_or_else(|| format!("{name}: no in{i}"))?,
                views: inp["views"].as_array().cloned().unwrap_or_default(),
                grad: inp["grad"].as_bool().unwrap_or(false),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let n_out = spec["outputs"].as_u64().unwrap_or(0) as usize;
    let outputs = (0..n_out)
        .map(|j| take("out", j).ok_or_else(|| format!("{name}: no out{j}")))
        .collect::<Result<Vec<_>, String>>()?;
    let weights = (0..n_out).map(|j| take("v", j)).collect();
    let grads = (0..inputs.len()).map(|i| take("g", i)).collect();
    let ref_outputs = (0..n_out).map(|j| take("ref_out", j)).collect();
    let ref_grads = (0..inputs.len()).map(|i| take("ref_g", i)).collect();
    let text = |key: &str| spec[key].as_str().map(str::to_string);
    Ok(Case {
        op: text("op").ok_or_else(|| format!("{name}: no op"))?,
        args: Args(spec["args"].clone()),
        error: text("error"),
        grad_error: text("grad_error"),
        rule: text("rule"),
        name,
        inputs,
        outputs,
        weights,
        grads,
        ref_outputs,
        ref_grads,
    })
}

/// An op's arguments, read by name. A missing or mistyped argument is a broken file, so the
/// accessors panic, and the panic is reported against the case.
pub struct Args(pub Value);

impl Args {
    fn get(&self, key: &str) -> &Value {
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("argument {key:?} missing from {}", self.0))
    }
    pub fn has(&self, key: &str) -> bool {
        self.0.get(key).is_some_and(|v| !v.is_null())
    }
    pub fn str(&self, key: &str) -> &str {
        self.get(key).as_str().expect("a string argument")
    }
    pub fn bool(&self, key: &str) -> bool {
        self.get(key).as_bool().expect("a bool argument")
    }
    pub fn f64(&self, key: &str) -> f64 {
        self.get(key).as_f64().expect("a number argument")
    }
    pub fn i64(&self, key: &str) -> i64 {
        self.get(key).as_i64().expect("an integer argument")
    }
    pub fn isize(&self, key: &str) -> isize {
        self.i64(key) as isize
    }
    pub fn usize(&self, key: &str) -> usize {
        usize::try_from(self.i64(key)).expect("a non-negative integer argument")
    }
    pub fn ints(&self, key: &str) -> Vec<i64> {
        ints(self.get(key))
    }
    pub fn pair(&self, key: &str) -> [usize; 2] {
        let v = self.ints(key);
        [v[0] as usize, v[1] as usize]
    }
    pub fn dtype(&self, key: &str) -> DType {
        dtype(self.str(key))
    }
    pub fn scalar(&self, key: &str) -> Scalar {
        scalar(self.get(key))
    }
}

pub fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("a list of integers")
        .iter()
        .map(|x| x.as_i64().expect("an integer"))
        .collect()
}

pub fn dtype(name: &str) -> DType {
    match name {
        "f32" => DType::F32,
        "f64" => DType::F64,
        "f16" => DType::F16,
        "bf16" => DType::BF16,
        "i32" => DType::I32,
        "i64" => DType::I64,
        "u8" => DType::U8,
        "bool" => DType::Bool,
        other => panic!("unknown dtype {other:?}"),
    }
}

/// A scalar written as `["f", "2.5"]`, `["i", 3]` or `["b", true]`; floats are strings so that
/// NaN and the infinities survive JSON.
pub fn scalar(v: &Value) -> Scalar {
    match v[0].as_str() {
        Some("f") => Scalar::Float(
            v[1].as_str()
                .and_then(|s| s.parse().ok())
                .expect("a float scalar"),
        ),
        Some("i") => Scalar::Int(v[1].as_i64().expect("an int scalar")),
        Some("b") => Scalar::Bool(v[1].as_bool().expect("a bool scalar")),
        _ => panic!("bad scalar {v}"),
    }
}
