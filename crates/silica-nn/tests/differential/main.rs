//! The differential fuzzer, Silica's side: replays the cases that `tools/golden/fuzz.py` drew and
//! PyTorch 1.13 answered, and compares outputs (values, shapes, dtypes), the gradients of
//! `sum(out * v)` with respect to every input, and whether both sides raise. Each case runs
//! under `catch_unwind`: a panic is a finding.
//!
//! - `fixed_seed_matches_pytorch` replays `testdata/golden/fuzz_seed0.safetensors` (seed 0,
//!   written by `tools/golden/gen.sh`) in every `cargo test`.
//! - `sweep` replays any files named in `SILICA_FUZZ_FILES` (colon-separated);
//!   `tools/golden/fuzz_sweep.sh` draws fresh seeds and runs it.

mod case;
mod compare;
mod ops;
mod rules;

use case::Case;
use compare::{all_zero, compare_either, tolerance, Matched};
use silica_core::{Result, Tensor};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// What a run found.
#[derive(Default)]
struct Tally {
    cases: usize,
    /// Cases where both PyTorch and Silica raise.
    both_raise: usize,
    /// The outputs and gradients that matched.
    matched: Counts,
    /// Cases answered through each rule.
    by_rule: BTreeMap<String, usize>,
    /// Cases per op.
    by_op: BTreeMap<String, usize>,
    /// Mismatches and panics, one line each.
    findings: Vec<String>,
    panics: usize,
}

/// How many outputs and gradients matched, and how many of them matched the precise reference
/// where PyTorch's own answer is off it.
#[derive(Default)]
struct Counts {
    outputs: usize,
    grads: usize,
    precise: usize,
}

impl Counts {
    fn note(&mut self, m: Matched) {
        if let Matched::Precise = m {
            self.precise += 1;
        }
    }
}

impl Tally {
    fn add(&mut self, c: &Case) {
        self.cases += 1;
        *self.by_op.entry(c.op.clone()).or_default() += 1;
        if let Some(rule) = &c.rule {
            *self.by_rule.entry(rule.clone()).or_default() += 1;
        }
        let finding = match catch_unwind(AssertUnwindSafe(|| check(c))) {
            Ok(Ok(Outcome::BothRaise)) => {
                self.both_raise += 1;
                return;
            }
            Ok(Ok(Outcome::Match(n))) => {
                self.matched.outputs += n.outputs;
                self.matched.grads += n.grads;
                self.matched.precise += n.precise;
                return;
            }
            Ok(Err(finding)) => finding,
            Err(panic) => {
                self.panics += 1;
                let text = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                format!("PANIC: {text}")
            }
        };
        self.findings
            .push(format!("{} {} {}: {finding}", c.name, c.op, c.args.0));
    }

    fn summary(&self) -> String {
        let rules: Vec<String> = self
            .by_rule
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        let m = &self.matched;
        format!(
            "{} cases, {} ops; {} outputs and {} gradients match ({} of them the precise \
             reference); {} where both raise; rules: {}; {} findings ({} panics)",
            self.cases,
            self.by_op.len(),
            m.outputs,
            m.grads,
            m.precise,
            self.both_raise,
            if rules.is_empty() {
                "none".to_string()
            } else {
                rules.join(", ")
            },
            self.findings.len(),
            self.panics
        )
    }
}

enum Outcome {
    Match(Counts),
    BothRaise,
}

/// Runs one case through Silica and compares it with PyTorch's answer.
fn check(c: &Case) -> std::result::Result<Outcome, String> {
    if let Some(rule) = &c.rule {
        if !rules::RULES.contains(&rule.as_str()) {
            return Err(format!(
                "names rule {rule:?}, which rules.rs does not document"
            ));
        }
    }
    let leaves = c.inputs.iter().map(|inp| {
        let base = inp.base.detach();
        base.set_requires_grad(inp.grad)?;
        Ok(base)
    });
    let mut leaves = leaves
        .collect::<Result<Vec<Tensor>>>()
        .map_err(|e| format!("setting up: {e}"))?;
    let xs = leaves
        .iter()
        .zip(&c.inputs)
        .map(|(base, inp)| {
            inp.views
                .iter()
                .try_fold(base.clone(), |x, v| ops::view(&x, v))
        })
        .collect::<Result<Vec<Tensor>>>()
        .map_err(|e| format!("applying the input views: {e}"))?;
    let out = match (ops::run(&c.op, &c.args, &xs), c.torch_fails()) {
        (Err(_), true) => return Ok(Outcome::BothRaise),
        (Ok(out), true) => {
            let shapes: Vec<String> = out
                .outs
                .iter()
                .map(|o| format!("{:?} {}", o.dims(), o.dtype()))
                .collect();
            return Err(format!(
                "PyTorch raises ({}), Silica returns {}",
                c.error.as_deref().unwrap_or_default(),
                shapes.join(", ")
            ));
        }
        (Err(e), false) => return Err(format!("Silica raises ({e}), PyTorch does not")),
        (Ok(out), false) => out,
    };
    if out.outs.len() != c.outputs.len() {
        return Err(format!(
            "{} outputs, PyTorch {}",
            out.outs.len(),
            c.outputs.len()
        ));
    }
    let mut counts = Counts::default();
    for (j, (got, want)) in out.outs.iter().zip(&c.outputs).enumerate() {
        let precise = c.ref_outputs[j].as_ref();
        let tol = tolerance(want.dtype());
        counts.note(compare_either(
            &format!("out{j}"),
            got,
            want,
            precise,
            tol,
            false,
        )?);
        counts.outputs += 1;
    }
    // A layer's parameters stand for their inputs.
    for (i, p) in out.params {
        leaves[i] = p;
    }
    check_grads(c, &leaves, &out.outs, &mut counts)?;
    Ok(Outcome::Match(counts))
}

/// Backward of `sum_j (out_j * v_j).sum()`, then each leaf's gradient against PyTorch's.
///
/// A gradient is compared with the tolerance of the least precise of its own dtype and the
/// outputs' dtypes: the gradient of an f64 input that an op computed in f32 is as good as f32.
fn check_grads(
    c: &Case,
    leaves: &[Tensor],
    outs: &[Tensor],
    counts: &mut Counts,
) -> std::result::Result<(), String> {
    let mut loss: Option<Tensor> = None;
    for (o, v) in outs.iter().zip(&c.weights) {
        let Some(v) = v else { continue };
        let term = o.mul(v).and_then(|t| t.sum_all());
        let term = term.map_err(|e| format!("weighting the outputs: {e}"))?;
        loss = Some(match loss {
            None => term,
            Some(l) => l.add(&term).map_err(|e| format!("summing: {e}"))?,
        });
    }
    let Some(loss) = loss else { return Ok(()) };
    let backward = loss.backward();
    match (&backward, &c.grad_error, &c.rule) {
        (Err(_), Some(_), None) => return Ok(()),
        (Ok(()), Some(e), None) => {
            return Err(format!(
                "PyTorch's backward raises ({e}), Silica's does not"
            ))
        }
        (Err(e), _, _) => return Err(format!("backward: {e}")),
        _ => {}
    }
    let computed = outs
        .iter()
        .map(|o| tolerance(o.dtype()))
        .fold(0.0, f64::max);
    for (i, (leaf, want)) in leaves.iter().zip(&c.grads).enumerate() {
        let what = format!("grad{i}");
        match (leaf.grad(), want) {
            (Some(got), Some(want)) => {
                let tol = tolerance(want.dtype()).max(computed);
                let precise = c.ref_grads[i].as_ref();
                let nan_for_inf = rules::nan_for_inf(c.rule.as_deref());
                counts.note(compare_either(
                    &what,
                    &got,
                    want,
                    precise,
                    tol,
                    nan_for_inf,
                )?);
                counts.grads += 1;
            }
            (None, Some(want)) if !all_zero(want) => {
                return Err(format!("{what}: none, PyTorch has one"))
            }
            (Some(got), None) if !all_zero(&got) => {
                return Err(format!("{what}: Silica has one, PyTorch none"))
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_files(files: &[PathBuf]) -> Tally {
    let mut tally = Tally::default();
    for path in files {
        let cases = case::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for c in &cases {
            tally.add(c);
        }
    }
    tally
}

fn assert_clean(tally: &Tally) {
    println!("{}", tally.summary());
    assert!(
        tally.findings.is_empty(),
        "{}\n  {}",
        tally.summary(),
        tally.findings.join("\n  ")
    );
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/golden")
        .join(name)
}

#[test]
fn fixed_seed_matches_pytorch() {
    let tally = check_files(&[testdata("fuzz_seed0.safetensors")]);
    let missing: Vec<&str> = ops::NAMES
        .into_iter()
        .filter(|op| !tally.by_op.contains_key(*op))
        .collect();
    assert!(
        tally.cases >= 300 && missing.is_empty(),
        "the fixed-seed file has {} cases; it lacks the ops {missing:?}",
        tally.cases
    );
    assert_clean(&tally);
}

#[test]
#[ignore = "a long sweep over fresh seeds: run tools/golden/fuzz_sweep.sh"]
fn sweep() {
    let files = std::env::var("SILICA_FUZZ_FILES")
        .expect("SILICA_FUZZ_FILES names the files to replay (tools/golden/fuzz_sweep.sh)");
    let files: Vec<PathBuf> = files.split(':').map(PathBuf::from).collect();
    assert_clean(&check_files(&files));
}
