//! The golden-file test harness: a table of cases, each rebuilt from the inputs that PyTorch
//! saw (`NAME/in0..`) and checked against PyTorch's outputs (`NAME/out0..`) and the gradients
//! (`NAME/g0..`) of `sum_j (out_j * w_j).sum()` (`NAME/w0..`). One loop checks every row,
//! reports every failing case at once, and fails on a case without a row or a row without a
//! case.

use super::{assert_close, load_golden, tolerance};
use silica_core::{DType, Result, Tensor};
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

pub type Build = Rc<dyn Fn(&[Tensor]) -> Result<Vec<Tensor>>>;
pub type Build1 = Rc<dyn Fn(&[Tensor]) -> Result<Tensor>>;

/// One table row: the case name in the golden file, the f32 tolerance, and how to compute the
/// outputs from the inputs.
pub struct Case {
    pub name: String,
    pub rtol: f64,
    /// Some f64 result passes through an f32 step (an f32 input of a mixed op, a cast to f32):
    /// compare every tensor at the f32 tolerance. (PyTorch, for one, saves an f32 input of a
    /// mixed op and computes e.g. `log(a)` of `pow`'s exponent gradient in f32.)
    pub f32_limited: bool,
    pub build: Build,
}

impl Case {
    pub fn f32_limited(mut self) -> Case {
        self.f32_limited = true;
        self
    }
}

/// A case with one output.
pub fn case(
    name: impl Into<String>,
    rtol: f64,
    f: impl Fn(&[Tensor]) -> Result<Tensor> + 'static,
) -> Case {
    Case {
        name: name.into(),
        rtol,
        f32_limited: false,
        build: Rc::new(move |x| Ok(vec![f(x)?])),
    }
}

/// A case with several outputs.
pub fn case_multi(
    name: impl Into<String>,
    rtol: f64,
    f: impl Fn(&[Tensor]) -> Result<Vec<Tensor>> + 'static,
) -> Case {
    Case {
        name: name.into(),
        rtol,
        f32_limited: false,
        build: Rc::new(f),
    }
}

/// The same case in f32 and f64: rows `NAME.f32` and `NAME.f64`.
pub fn floats(
    name: &str,
    rtol: f64,
    f: impl Fn(&[Tensor]) -> Result<Tensor> + 'static,
) -> Vec<Case> {
    let f: Build1 = Rc::new(f);
    ["f32", "f64"]
        .into_iter()
        .map(|dt| {
            let f = f.clone();
            case(format!("{name}.{dt}"), rtol, move |x| f(x))
        })
        .collect()
}

/// Like [`floats`], for cases with several outputs.
pub fn floats_multi(
    name: &str,
    rtol: f64,
    f: impl Fn(&[Tensor]) -> Result<Vec<Tensor>> + 'static,
) -> Vec<Case> {
    let f: Build = Rc::new(f);
    ["f32", "f64"]
        .into_iter()
        .map(|dt| {
            let f = f.clone();
            case_multi(format!("{name}.{dt}"), rtol, move |x| f(x))
        })
        .collect()
}

// ---- the checking loop -------------------------------------------------------------------------

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else {
        "panic".to_string()
    }
}

/// Compares dtype, shape and values; the relative tolerance depends on the expected dtype
/// (exact for integers, bools, f16 and bf16), or the f32 one for an `f32_limited` case.
fn compare(what: &str, got: &Tensor, want: &Tensor, c: &Case) -> std::result::Result<(), String> {
    if got.dtype() != want.dtype() {
        return Err(format!(
            "{what}: dtype {} (PyTorch: {})",
            got.dtype(),
            want.dtype()
        ));
    }
    let rtol = match want.dtype() {
        DType::F64 if c.f32_limited => c.rtol,
        DType::F32 | DType::F64 => tolerance(want.dtype(), c.rtol),
        _ => 0.0,
    };
    catch_unwind(AssertUnwindSafe(|| assert_close(what, got, want, rtol))).map_err(panic_text)
}

fn check(g: &BTreeMap<String, Tensor>, c: &Case) -> std::result::Result<(), String> {
    let key = |kind: &str, i: usize| format!("{}/{kind}{i}", c.name);
    let err = |e: silica_core::Error| format!("error: {e}");
    // Fresh leaves sharing the loaded storage.
    let inputs: Vec<Tensor> = (0..)
        .map_while(|i| g.get(&key("in", i)).map(Tensor::detach))
        .collect();
    for (i, x) in inputs.iter().enumerate() {
        if g.contains_key(&key("g", i)) {
            x.set_requires_grad(true).map_err(err)?;
        }
    }
    let outs = (c.build)(&inputs).map_err(err)?;
    let n_out = (0..)
        .take_while(|&j| g.contains_key(&key("out", j)))
        .count();
    if outs.len() != n_out {
        return Err(format!("{} outputs, PyTorch has {n_out}", outs.len()));
    }
    for (j, o) in outs.iter().enumerate() {
        compare(&key("out", j), o, &g[&key("out", j)], c)?;
    }
    if !g.contains_key(&key("w", 0)) {
        return Ok(());
    }
    let mut loss: Option<Tensor> = None;
    for (j, o) in outs.iter().enumerate() {
        let term = o
            .mul(&g[&key("w", j)])
            .and_then(|t| t.sum_all())
            .map_err(err)?;
        loss = Some(match loss {
            None => term,
            Some(l) => l.add(&term).map_err(err)?,
        });
    }
    loss.expect("one output").backward().map_err(err)?;
    for (i, x) in inputs.iter().enumerate() {
        if let Some(want) = g.get(&key("g", i)) {
            let got = x
                .grad()
                .ok_or_else(|| format!("{}: no gradient", key("g", i)))?;
            compare(&key("g", i), &got, want, c)?;
        }
    }
    Ok(())
}

/// Checks every row against `testdata/golden/<file>.safetensors`, and that the rows and the
/// file's cases correspond one to one. Panics listing every failure.
pub fn run(file: &str, cases: Vec<Case>) {
    let g = load_golden(file);
    let in_file: BTreeSet<&str> = g
        .keys()
        .map(|k| k.split('/').next().expect("name"))
        .collect();
    let mut failures = Vec::new();
    let mut rows = BTreeSet::new();
    for c in &cases {
        if !rows.insert(c.name.as_str()) {
            failures.push(format!("{}: duplicate row", c.name));
        }
        if !in_file.contains(c.name.as_str()) {
            failures.push(format!("{}: not in {file}.safetensors", c.name));
            continue;
        }
        match catch_unwind(AssertUnwindSafe(|| check(&g, c))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("{}: {e}", c.name)),
            Err(p) => failures.push(format!("{}: panicked: {}", c.name, panic_text(p))),
        }
    }
    for name in in_file.difference(&rows) {
        failures.push(format!("{name}: in {file}.safetensors but no test row"));
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed against PyTorch:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}
