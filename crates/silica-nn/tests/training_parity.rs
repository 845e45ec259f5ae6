//! Training parity with PyTorch 1.13: twenty training steps of three small models, from the
//! same initial weights on the same batches, give the same losses and the same final weights.
//!
//! The reference files `testdata/golden/training_{mlp,cnn,transformer}.safetensors` come from
//! `tools/golden/gen_training.py` (its docstring describes the layout):
//!
//! - an MLP (64 → 32 → 32 → 10, ReLU) on the digits with Adam;
//! - a CNN with batch norm in training mode (batch statistics; the final state includes the
//!   running statistics and `num_batches_tracked`) with SGD, Nesterov momentum and weight decay;
//! - a small causal transformer (token and position embeddings, two pre-norm GELU encoder
//!   layers, a final layer norm and a linear head) on next-token prediction, with AdamW, a
//!   cosine schedule stepped every step and gradient-norm clipping every step.
//!
//! Each set-up runs in float32 (PyTorch's default), where every loss and every final tensor
//! must agree within `|a - b| <= 1e-4 * max(|b|, 1)`, and in float64 from the same initial
//! weights and batches, where they must agree within 1e-10: that shows the algorithms are the
//! same step for step, so what float32 differences remain are rounding.

use silica_core::{
    safetensors, Conv2dConfig, DType, Device, Generator, Pool2dConfig, Result, Tensor,
};
use silica_nn::nn::{
    cross_entropy, BatchNorm2d, Conv2d, CrossEntropyOptions, Embedding, Flatten, LayerNorm, Linear,
    MaxPool2d, Module, ModuleList, ReLU, Sequential, Slot, StateDict, TransformerActivation,
    TransformerEncoderLayer, TransformerEncoderLayerConfig,
};
use silica_nn::optim::{
    clip_grad_norm, Adam, AdamConfig, AdamW, AdamWConfig, CosineAnnealingLR, LrScheduler,
    Optimizer, SGDConfig, SGD,
};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

const CPU: Device = Device::Cpu;
const STEPS: usize = 20;
/// Tolerance of the float32 runs, relative to `max(|want|, 1)`.
const RTOL_F32: f64 = 1e-4;
/// Tolerance of the float64 runs.
const RTOL_F64: f64 = 1e-10;
/// How far from zero the key part of an attention layer's input-projection bias may be in the
/// float32 transformer run, on either side (see [`key_bias_rows`]): about three times the
/// initial learning rate. Its gradient is rounding noise (~1e-9) below Adam's `eps` (1e-8), so
/// each step moves it by roughly a tenth of the learning rate, in a random direction; both
/// sides end near 1e-3.
const NOISE_BOUND: f64 = 1e-2;

// ---- golden files and comparisons ----------------------------------------------------------

type Golden = BTreeMap<String, Tensor>;

fn load_golden(name: &str) -> Golden {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../testdata/golden/training_{name}.safetensors"));
    safetensors::load(&path, CPU).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (run tools/golden/gen.sh)",
            path.display()
        )
    })
}

fn get<'a>(golden: &'a Golden, key: &str) -> &'a Tensor {
    golden
        .get(key)
        .unwrap_or_else(|| panic!("the golden file has no {key:?}"))
}

/// The entries under `prefix`, with the prefix taken off.
fn with_prefix(golden: &Golden, prefix: &str) -> StateDict {
    let out: StateDict = golden
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v.clone())))
        .collect();
    assert!(
        !out.is_empty(),
        "the golden file has no keys under {prefix:?}"
    );
    out
}

/// The largest `|got - want| / max(|want|, 1)` over the elements (NaN if any is NaN).
fn max_err(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    got.iter().zip(want).fold(0.0f64, |m, (a, b)| {
        let e = (a - b).abs() / b.abs().max(1.0);
        if e.is_nan() {
            f64::NAN
        } else {
            m.max(e)
        }
    })
}

/// The worst error found in each category of one run, for the report.
#[derive(Default, Debug)]
struct Errors {
    losses: f64,
    weights: f64,
    worst_tensor: String,
    lrs: f64,
    grad_norms: f64,
    /// The largest `|got - want|` over the elements that are rounding noise on both sides.
    noise: f64,
}

/// Asserts that `got` (one value per step) matches `want` within `rtol`, and returns the error.
fn check_steps(what: &str, got: &[f64], want: &Tensor, rtol: f64) -> f64 {
    let want = want.to_f64_vec().unwrap();
    let err = max_err(got, &want);
    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
        assert!(
            (a - b).abs() <= rtol * b.abs().max(1.0),
            "{what}: step {i}: got {a:e}, want {b:e} (rtol {rtol:e}; all got {got:?})"
        );
    }
    err
}

/// Which elements of a state-dict tensor are float32 rounding noise on both sides, so that they
/// are compared only against [`NOISE_BOUND`]: a flattened index range, by key.
type NoiseRows<'a> = &'a dyn Fn(&str) -> Option<Range<usize>>;

/// Asserts that every tensor of `got` matches `want` (same keys, shapes and integer values;
/// floats within `rtol`), and returns the largest error and the key where it is. The elements
/// `noise` names are checked only to lie within [`NOISE_BOUND`] of zero on both sides; their
/// largest difference goes into `noise_err`.
fn check_state(
    what: &str,
    got: &StateDict,
    want: &StateDict,
    rtol: f64,
    noise: NoiseRows<'_>,
    noise_err: &mut f64,
) -> (f64, String) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: keys"
    );
    let mut worst = (0.0f64, String::new());
    for (key, w) in want {
        let g = &got[key];
        assert_eq!(g.dims(), w.dims(), "{what}: {key}: shape");
        assert_eq!(g.dtype(), w.dtype(), "{what}: {key}: dtype");
        let (mut gv, mut wv) = (g.to_f64_vec().unwrap(), w.to_f64_vec().unwrap());
        if !w.dtype().is_float() {
            assert_eq!(gv, wv, "{what}: {key}: integer values");
            continue;
        }
        if let Some(rows) = noise(key) {
            let (gn, wn): (Vec<f64>, Vec<f64>) =
                (gv.drain(rows.clone()).collect(), wv.drain(rows).collect());
            for (a, b) in gn.iter().zip(&wn) {
                assert!(
                    a.abs() <= NOISE_BOUND && b.abs() <= NOISE_BOUND,
                    "{what}: {key}: got {a:e}, want {b:e}, where both should be rounding noise below {NOISE_BOUND:e}"
                );
                *noise_err = noise_err.max((a - b).abs());
            }
        }
        let err = max_err(&gv, &wv);
        assert!(
            err <= rtol,
            "{what}: {key}: error {err:e} above {rtol:e} (relative to max(|want|, 1))"
        );
        if err > worst.0 || worst.1.is_empty() {
            worst = (err, key.clone());
        }
    }
    worst
}

// ---- the training loop ---------------------------------------------------------------------

/// What one run records.
struct Run {
    losses: Vec<f64>,
    lrs: Vec<f64>,
    grad_norms: Vec<f64>,
}

/// Builds the optimizer of a set-up over the model's parameters.
type MakeOpt<'a> = &'a dyn Fn(Vec<Tensor>) -> Result<Box<dyn Optimizer>>;
/// Builds the learning-rate scheduler of a set-up from its optimizer.
type MakeSched<'a> = &'a dyn Fn(&mut dyn Optimizer) -> Result<Box<dyn LrScheduler>>;

/// Options of a set-up beyond the model and the optimizer.
#[derive(Clone, Copy, Default)]
struct Extras<'a> {
    /// The targets are `[B, T]`: flatten the logits to `[B * T, V]` and the targets to `[B * T]`.
    flat_targets: bool,
    /// Clip the gradients' total 2-norm to this, every step.
    clip: Option<f64>,
    /// A scheduler stepped after every optimizer step; the golden file then has `lrs`.
    sched: Option<MakeSched<'a>>,
    /// The elements of the final state that are rounding noise (see [`check_state`]).
    noise: Option<NoiseRows<'a>>,
}

/// The twenty steps of gen_training.py's `train`: `zero_grad`, forward, cross-entropy,
/// backward, clipping, `opt.step()`, `sched.step()`, on the golden batches cast to `dtype`.
fn train(
    model: &dyn Module,
    golden: &Golden,
    dtype: DType,
    opt: &mut dyn Optimizer,
    mut sched: Option<&mut (dyn LrScheduler + 'static)>,
    extras: Extras<'_>,
) -> Result<Run> {
    model.train();
    let params = model.parameters();
    let mut run = Run {
        losses: Vec::new(),
        lrs: Vec::new(),
        grad_norms: Vec::new(),
    };
    for i in 0..STEPS {
        let x = get(golden, &format!("batch.{i}.x"));
        let x = if x.dtype().is_float() {
            x.to_dtype(dtype)?
        } else {
            x.clone()
        };
        let mut y = get(golden, &format!("batch.{i}.y")).clone();
        run.lrs.push(opt.learning_rates()[0]);
        opt.zero_grad();
        let mut logits = model.forward(&x)?;
        if extras.flat_targets {
            let classes = *logits.dims().last().unwrap();
            logits = logits.reshape([-1, classes as isize])?;
            y = y.reshape([-1])?;
        }
        let loss = cross_entropy(&logits, &y, &CrossEntropyOptions::default())?;
        assert_eq!(loss.dtype(), dtype);
        loss.backward()?;
        if let Some(max_norm) = extras.clip {
            run.grad_norms
                .push(clip_grad_norm(&params, max_norm, 2.0)?.to_scalar()?);
        }
        opt.step()?;
        if let Some(s) = sched.as_deref_mut() {
            s.step(opt)?;
        }
        run.losses.push(loss.to_scalar()?);
    }
    Ok(run)
}

/// Loads `init.*` into `model` (strictly), runs [`train`], and checks the losses, the final
/// state and (where stored) the learning rates and gradient norms against the golden run of
/// `dtype` (`f64.`-prefixed for F64).
fn check_run(
    name: &str,
    model: &dyn Module,
    golden: &Golden,
    dtype: DType,
    make_opt: MakeOpt<'_>,
    extras: Extras<'_>,
) -> Errors {
    let (pre, rtol) = match dtype {
        DType::F64 => ("f64.", RTOL_F64),
        _ => ("", RTOL_F32),
    };
    let what = format!("{name} {dtype:?}");
    let report = model
        .load_state_dict(&with_prefix(golden, "init."), true)
        .unwrap_or_else(|e| panic!("{what}: load_state_dict(init): {e}"));
    assert!(report.missing_keys.is_empty() && report.unexpected_keys.is_empty());
    for (k, t) in model.state_dict() {
        if t.dtype().is_float() {
            assert_eq!(t.dtype(), dtype, "{what}: {k} has the wrong dtype");
        }
    }
    let mut opt = make_opt(model.parameters()).unwrap();
    let mut sched = extras.sched.map(|f| f(opt.as_mut()).unwrap());
    let run = train(
        model,
        golden,
        dtype,
        opt.as_mut(),
        sched.as_deref_mut(),
        extras,
    )
    .unwrap_or_else(|e| panic!("{what}: training failed: {e}"));

    let mut errors = Errors {
        lrs: f64::NAN,
        grad_norms: f64::NAN,
        ..Default::default()
    };
    if extras.sched.is_some() {
        let want = get(golden, &format!("{pre}lrs"));
        errors.lrs = check_steps(&format!("{what}: learning rate"), &run.lrs, want, 1e-12);
    }
    if extras.clip.is_some() {
        let want = get(golden, &format!("{pre}grad_norms"));
        errors.grad_norms = check_steps(
            &format!("{what}: gradient norm"),
            &run.grad_norms,
            want,
            rtol,
        );
    }
    errors.losses = check_steps(
        &format!("{what}: loss"),
        &run.losses,
        get(golden, &format!("{pre}losses")),
        rtol,
    );
    let want = with_prefix(golden, &format!("{pre}final."));
    (errors.weights, errors.worst_tensor) = check_state(
        &format!("{what}: final state"),
        &model.state_dict(),
        &want,
        rtol,
        extras.noise.unwrap_or(&|_| None),
        &mut errors.noise,
    );
    println!("{what}: max errors {errors:?}");
    errors
}

fn boxed<O: Optimizer + 'static>(o: Result<O>) -> Result<Box<dyn Optimizer>> {
    Ok(Box::new(o?))
}

// ---- the models ----------------------------------------------------------------------------

/// Linear(64, 32) - ReLU - Linear(32, 32) - ReLU - Linear(32, 10).
fn mlp(dtype: DType) -> Result<Sequential> {
    let g = Generator::new(0);
    Ok(Sequential::new()
        .add(Linear::new(64, 32, true, &g)?.to(dtype, CPU)?)
        .add(ReLU)
        .add(Linear::new(32, 32, true, &g)?.to(dtype, CPU)?)
        .add(ReLU)
        .add(Linear::new(32, 10, true, &g)?.to(dtype, CPU)?))
}

/// Conv2d(1, 8, 3, padding=1) - BatchNorm2d - ReLU - MaxPool2d(2) - Conv2d(8, 16, 3,
/// padding=1) - BatchNorm2d - ReLU - Flatten - Linear(256, 10).
fn cnn(dtype: DType) -> Result<Sequential> {
    let g = Generator::new(0);
    let same = Conv2dConfig::default().with_padding(1);
    Ok(Sequential::new()
        .add(Conv2d::new(1, 8, [3, 3], same, true, &g)?.to(dtype, CPU)?)
        .add(BatchNorm2d::new(8)?.to(dtype, CPU)?)
        .add(ReLU)
        .add(MaxPool2d::new(Pool2dConfig::new(2)))
        .add(Conv2d::new(8, 16, [3, 3], same, true, &g)?.to(dtype, CPU)?)
        .add(BatchNorm2d::new(16)?.to(dtype, CPU)?)
        .add(ReLU)
        .add(Flatten::new())
        .add(Linear::new(16 * 4 * 4, 10, true, &g)?.to(dtype, CPU)?))
}

const VOCAB: usize = 20;
const SEQ: usize = 12;
const D_MODEL: usize = 32;
const HEADS: usize = 2;
const LAYERS: usize = 2;
const FF: usize = 64;

/// gen_training.py's `TinyGPT`: token and learned position embeddings, causal pre-norm
/// encoder layers, a final layer norm and a linear head, with the same state-dict keys
/// (`tok.weight`, `layers.0.self_attn.in_proj_weight`, `norm.bias`, `head.weight`, ...).
struct TinyGpt {
    tok: Embedding,
    pos: Embedding,
    layers: ModuleList,
    norm: LayerNorm,
    head: Linear,
}

impl TinyGpt {
    fn new(dtype: DType) -> Result<TinyGpt> {
        let g = Generator::new(0);
        let config = TransformerEncoderLayerConfig {
            dim_feedforward: FF,
            dropout: 0.0,
            activation: TransformerActivation::Gelu,
            batch_first: true,
            norm_first: true,
            causal: true,
            ..Default::default()
        };
        let mut layers = ModuleList::new();
        for _ in 0..LAYERS {
            layers.push(TransformerEncoderLayer::new(D_MODEL, HEADS, config, &g)?.to(dtype, CPU)?);
        }
        Ok(TinyGpt {
            tok: Embedding::new(VOCAB, D_MODEL, &g)?.to(dtype, CPU)?,
            pos: Embedding::new(SEQ, D_MODEL, &g)?.to(dtype, CPU)?,
            layers,
            norm: LayerNorm::new(&[D_MODEL])?.to(dtype, CPU)?,
            head: Linear::new(D_MODEL, VOCAB, true, &g)?.to(dtype, CPU)?,
        })
    }
}

impl Module for TinyGpt {
    /// Token ids `[B, T]` → logits `[B, T, VOCAB]`.
    fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let t = ids.dims()[1];
        let positions = Tensor::arange(0.0, t as f64, 1.0, DType::I64, ids.device())?;
        let mut h = self.tok.forward(ids)?.add(&self.pos.forward(&positions)?)?;
        for layer in self.layers.iter() {
            // The layers apply the causal mask themselves (`causal: true`).
            h = layer.forward(&h)?;
        }
        self.head.forward(&self.norm.forward(&h)?)
    }

    fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
        f(Slot::Child("tok", &self.tok));
        f(Slot::Child("pos", &self.pos));
        f(Slot::Child("layers", &self.layers));
        f(Slot::Child("norm", &self.norm));
        f(Slot::Child("head", &self.head));
    }
}

/// The key part (rows `D_MODEL..2 * D_MODEL`) of each layer's `self_attn.in_proj_bias`, in
/// float32 only.
///
/// Adding the same vector to every key adds `q · b` to all the scores of a query, which softmax
/// ignores, so the gradient of the key bias is exactly zero: the rows of the softmax gradient
/// sum to zero. In float32 it comes out as rounding noise (~1e-9), and Adam divides each
/// gradient by the root of its running square, so noise becomes steps of the order of the
/// learning rate in a random direction: PyTorch's own float32 run ends with key biases up to
/// 7e-4 while its float64 run ends with 1e-12, and every other tensor of the two PyTorch runs
/// agrees within 6e-7. The key bias has no effect on the loss, so this noise goes nowhere else.
/// These elements are checked to be noise-sized (below [`NOISE_BOUND`]) on both sides; in
/// float64 they are compared as everything else is, within 1e-10, which pins their gradient to
/// zero on the Silica side too.
fn key_bias_rows(key: &str, dtype: DType) -> Option<Range<usize>> {
    let is_key_bias = key.starts_with("layers.") && key.ends_with(".self_attn.in_proj_bias");
    (dtype == DType::F32 && is_key_bias).then_some(D_MODEL..2 * D_MODEL)
}

// ---- the set-ups ---------------------------------------------------------------------------

fn run_mlp(dtype: DType) -> Errors {
    let golden = load_golden("mlp");
    let model = mlp(dtype).unwrap();
    check_run(
        "mlp",
        &model,
        &golden,
        dtype,
        &|ps| boxed(Adam::new(ps, AdamConfig::new(1e-2))),
        Extras::default(),
    )
}

fn run_cnn(dtype: DType) -> Errors {
    let golden = load_golden("cnn");
    let model = cnn(dtype).unwrap();
    let config = SGDConfig {
        nesterov: true,
        weight_decay: 1e-4,
        ..SGDConfig::with_momentum(0.05, 0.9)
    };
    check_run(
        "cnn",
        &model,
        &golden,
        dtype,
        &|ps| boxed(SGD::new(ps, config.clone())),
        Extras::default(),
    )
}

fn run_transformer(dtype: DType) -> Errors {
    let golden = load_golden("transformer");
    let model = TinyGpt::new(dtype).unwrap();
    let config = AdamWConfig {
        weight_decay: 0.01,
        ..AdamWConfig::new(3e-3)
    };
    let errors = check_run(
        "transformer",
        &model,
        &golden,
        dtype,
        &|ps| boxed(AdamW::new(ps, config.clone())),
        Extras {
            flat_targets: true,
            clip: Some(1.0),
            sched: Some(&|opt| Ok(Box::new(CosineAnnealingLR::new(opt, STEPS, 0.0)?))),
            noise: Some(&|key| key_bias_rows(key, dtype)),
        },
    );
    // Clipping acts in the first steps (the norm starts above 1) and not in the last ones, so
    // both of its branches are exercised.
    let norms = get(&golden, "grad_norms").to_f64_vec().unwrap();
    assert!(norms[0] > 1.0 && norms[STEPS - 1] < 1.0, "{norms:?}");
    errors
}

#[test]
fn mlp_adam_f32() {
    run_mlp(DType::F32);
}

#[test]
fn mlp_adam_f64() {
    run_mlp(DType::F64);
}

#[test]
fn cnn_batchnorm_sgd_nesterov_f32() {
    run_cnn(DType::F32);
}

#[test]
fn cnn_batchnorm_sgd_nesterov_f64() {
    run_cnn(DType::F64);
}

#[test]
fn transformer_adamw_cosine_clip_f32() {
    run_transformer(DType::F32);
}

#[test]
fn transformer_adamw_cosine_clip_f64() {
    run_transformer(DType::F64);
}

/// Training changes every tensor of the state (so the comparisons above are not vacuous), and
/// the initial state loads strictly into each model.
#[test]
fn training_changes_every_tensor() {
    for (name, model) in [
        ("mlp", Box::new(mlp(DType::F32).unwrap()) as Box<dyn Module>),
        ("cnn", Box::new(cnn(DType::F32).unwrap())),
        ("transformer", Box::new(TinyGpt::new(DType::F32).unwrap())),
    ] {
        let golden = load_golden(name);
        let init = with_prefix(&golden, "init.");
        let fin = with_prefix(&golden, "final.");
        model.load_state_dict(&init, true).unwrap();
        for (key, t) in model.state_dict() {
            assert_ne!(
                t.to_f64_vec().unwrap(),
                fin[&key].to_f64_vec().unwrap(),
                "{name}: {key} does not change in training"
            );
        }
    }
}
