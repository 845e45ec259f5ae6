//! Optimizers, learning-rate schedulers and gradient clipping against PyTorch 1.13, plus
//! state-dict round trips and tables of bad inputs.
//!
//! The reference file `testdata/golden/optim.safetensors` comes from
//! `tools/golden/gen_optim.py` (its docstring describes the layout). Each optimizer case runs
//! five steps on parameters of shapes [3, 4] and [5] from stored gradients (parameter 1 has
//! none at step 2, so it must be skipped there) in f32 and f64; each scheduler case records
//! two groups' rates over 30 steps.

use serde_json::{json, Value};
use silica_core::{safetensors, DType, Device, Result, Tensor};
use silica_nn::optim::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

const CPU: Device = Device::Cpu;
const STEPS: usize = 5;

// ---- helpers (from crates/silica-core/tests/common/mod.rs) -------------------------------

fn load_golden() -> BTreeMap<String, Tensor> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/optim.safetensors");
    safetensors::load(&path, CPU).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (run tools/golden/gen.sh)",
            path.display()
        )
    })
}

/// Asserts `|got - want| <= rtol * max(|want|, 1)` elementwise, with equal shapes.
fn assert_close(what: &str, got: &Tensor, want: &Tensor, rtol: f64) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    let g = got.to_f64_vec().unwrap();
    let w = want.to_f64_vec().unwrap();
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!(
            (a - b).abs() <= rtol * b.abs().max(1.0),
            "{what}: element {i}: got {a:e}, want {b:e} (rtol {rtol:e})"
        );
    }
}

fn rtol(dtype: DType) -> f64 {
    if dtype == DType::F64 {
        1e-10
    } else {
        1e-5
    }
}

fn boxed<O: Optimizer + 'static>(o: Result<O>) -> Result<Box<dyn Optimizer>> {
    Ok(Box::new(o?))
}

fn two(ps: &[Tensor]) -> (Vec<Tensor>, Vec<Tensor>) {
    (vec![ps[0].clone()], vec![ps[1].clone()])
}

// ---- the optimizer table -------------------------------------------------------------------

type MakeOpt = fn(Vec<Tensor>) -> Result<Box<dyn Optimizer>>;

/// The cases of gen_optim.py's `OPTIMIZERS`, with the same hyper-parameters.
const OPTIMIZERS: &[(&str, MakeOpt)] = &[
    ("sgd", |ps| boxed(SGD::new(ps, SGDConfig::new(0.1)))),
    ("sgd_momentum", |ps| {
        let c = SGDConfig {
            dampening: 0.1,
            weight_decay: 0.01,
            ..SGDConfig::with_momentum(0.1, 0.9)
        };
        boxed(SGD::new(ps, c))
    }),
    ("sgd_nesterov", |ps| {
        let c = SGDConfig {
            nesterov: true,
            weight_decay: 0.05,
            ..SGDConfig::with_momentum(0.05, 0.9)
        };
        boxed(SGD::new(ps, c))
    }),
    ("sgd_maximize", |ps| {
        let c = SGDConfig {
            maximize: true,
            ..SGDConfig::with_momentum(0.1, 0.5)
        };
        boxed(SGD::new(ps, c))
    }),
    ("sgd_groups", |ps| {
        let (a, b) = two(&ps);
        boxed(SGD::with_groups(vec![
            ParamGroup::new(a, SGDConfig::with_momentum(0.1, 0.9)),
            ParamGroup::new(b, SGDConfig::with_momentum(0.01, 0.5)),
        ]))
    }),
    ("adam", |ps| boxed(Adam::new(ps, AdamConfig::new(0.01)))),
    ("adam_wd_amsgrad", |ps| {
        let c = AdamConfig {
            betas: (0.8, 0.95),
            eps: 1e-6,
            weight_decay: 0.1,
            amsgrad: true,
            ..AdamConfig::new(0.02)
        };
        boxed(Adam::new(ps, c))
    }),
    ("adam_maximize", |ps| {
        let c = AdamConfig {
            maximize: true,
            ..AdamConfig::new(0.01)
        };
        boxed(Adam::new(ps, c))
    }),
    ("adam_groups", |ps| {
        let (a, b) = two(&ps);
        let c1 = AdamConfig {
            weight_decay: 0.1,
            ..AdamConfig::new(0.1)
        };
        boxed(Adam::with_groups(vec![
            ParamGroup::new(a, AdamConfig::new(0.01)),
            ParamGroup::new(b, c1),
        ]))
    }),
    ("adamw", |ps| boxed(AdamW::new(ps, AdamWConfig::new(0.01)))),
    ("adamw_amsgrad", |ps| {
        let c = AdamWConfig {
            betas: (0.85, 0.99),
            weight_decay: 0.1,
            amsgrad: true,
            ..AdamWConfig::new(0.05)
        };
        boxed(AdamW::new(ps, c))
    }),
    ("rmsprop", |ps| {
        boxed(RMSprop::new(ps, RMSpropConfig::new(0.01)))
    }),
    ("rmsprop_centered", |ps| {
        let c = RMSpropConfig {
            centered: true,
            ..RMSpropConfig::new(0.01)
        };
        boxed(RMSprop::new(ps, c))
    }),
    ("rmsprop_momentum", |ps| {
        let c = RMSpropConfig {
            momentum: 0.5,
            ..RMSpropConfig::new(0.02)
        };
        boxed(RMSprop::new(ps, c))
    }),
    ("rmsprop_full", |ps| {
        let c = RMSpropConfig {
            alpha: 0.9,
            eps: 1e-6,
            weight_decay: 0.1,
            momentum: 0.8,
            centered: true,
            ..RMSpropConfig::new(0.01)
        };
        boxed(RMSprop::new(ps, c))
    }),
    ("adagrad", |ps| {
        boxed(Adagrad::new(ps, AdagradConfig::new(0.1)))
    }),
    ("adagrad_full", |ps| {
        let c = AdagradConfig {
            lr_decay: 0.1,
            weight_decay: 0.05,
            initial_accumulator_value: 0.5,
            eps: 1e-8,
            ..AdagradConfig::new(0.2)
        };
        boxed(Adagrad::new(ps, c))
    }),
    ("adagrad_groups", |ps| {
        let (a, b) = two(&ps);
        boxed(Adagrad::with_groups(vec![
            ParamGroup::new(a, AdagradConfig::new(0.05)),
            ParamGroup::new(b, AdagradConfig::new(0.5)),
        ]))
    }),
];

/// The stored case `name` in dtype `dt`: fresh parameters (their own storage, requiring
/// grad) and the gradients of each step (`None`: no gradient).
struct Case {
    params: Vec<Tensor>,
    grads: Vec<Vec<Option<Tensor>>>,
}

fn case(g: &BTreeMap<String, Tensor>, name: &str, dt: &str) -> Case {
    let pre = format!("opt.{name}.{dt}");
    let params = (0..2)
        .map(|j| {
            let p = g[&format!("{pre}.p{j}.init")].copy().unwrap();
            p.set_requires_grad(true).unwrap();
            p
        })
        .collect();
    let grads = (0..STEPS)
        .map(|k| {
            (0..2)
                .map(|j| g.get(&format!("{pre}.p{j}.grad{k}")).cloned())
                .collect()
        })
        .collect();
    Case { params, grads }
}

/// Sets the gradients of step `k` and steps.
fn step(opt: &mut dyn Optimizer, c: &Case, k: usize) {
    for (p, grad) in c.params.iter().zip(&c.grads[k]) {
        p.set_grad(grad.clone()).unwrap();
    }
    opt.step().unwrap();
}

#[test]
fn golden_table_matches_the_file() {
    let g = load_golden();
    let in_file: BTreeSet<String> = g
        .keys()
        .filter_map(|k| k.strip_prefix("opt."))
        .map(|k| k.split('.').next().unwrap().to_string())
        .collect();
    let in_table: BTreeSet<String> = OPTIMIZERS.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(in_file, in_table);
}

#[test]
fn optimizers_match_pytorch() {
    let g = load_golden();
    for (name, make) in OPTIMIZERS {
        for dt in ["f32", "f64"] {
            let c = case(&g, name, dt);
            assert!(c.grads[2][1].is_none(), "{name}: the skipped gradient");
            let mut opt = make(c.params.clone()).unwrap();
            for k in 0..STEPS {
                step(&mut *opt, &c, k);
                for (j, p) in c.params.iter().enumerate() {
                    let want = &g[&format!("opt.{name}.{dt}.p{j}.step{k}")];
                    assert_eq!(p.dtype(), want.dtype());
                    assert_close(
                        &format!("{name} {dt} param {j} after step {k}"),
                        p,
                        want,
                        rtol(p.dtype()),
                    );
                    assert!(p.is_leaf() && p.requires_grad(), "{name}: param {j}");
                }
            }
            for (key, t) in opt.state_dict().unwrap().tensors {
                assert!(!t.requires_grad() && t.is_leaf(), "{name}: {key}");
            }
        }
    }
}

#[test]
fn two_groups_keep_their_learning_rates() {
    let g = load_golden();
    let c = case(&g, "adam_groups", "f32");
    let mut opt = (OPTIMIZERS
        .iter()
        .find(|(n, _)| *n == "adam_groups")
        .unwrap()
        .1)(c.params)
    .unwrap();
    assert_eq!(opt.learning_rates(), vec![0.01, 0.1]);
    opt.set_learning_rates(&[0.5, 0.25]).unwrap();
    assert_eq!(opt.learning_rates(), vec![0.5, 0.25]);
    assert_eq!(opt.params().len(), 2);
    let meta = opt.state_dict().unwrap().meta;
    assert_eq!(meta["groups"][1]["lr"], 0.25);
    assert_eq!(meta["groups"][1]["params"], serde_json::json!([1]));
    opt.zero_grad();
    assert!(opt.params().iter().all(|p| p.grad().is_none()));
}

// ---- state dicts -----------------------------------------------------------------------------

/// The state through a safetensors file's bytes and a JSON string, as a checkpoint stores it.
fn through_file(s: &OptimizerState) -> OptimizerState {
    let named: Vec<(&str, &Tensor)> = s.tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let meta = HashMap::from([("optimizer".to_string(), s.meta.to_string())]);
    let bytes = safetensors::serialize(&named, Some(meta)).unwrap();
    let (tensors, meta) = safetensors::deserialize(&bytes, CPU).unwrap();
    OptimizerState {
        tensors,
        meta: serde_json::from_str(&meta["optimizer"]).unwrap(),
    }
}

#[test]
fn state_dict_round_trip_resumes_exactly() {
    let g = load_golden();
    for (name, make) in OPTIMIZERS {
        for dt in ["f32", "f64"] {
            let straight = case(&g, name, dt);
            let mut opt = make(straight.params.clone()).unwrap();
            for k in 0..STEPS {
                step(&mut *opt, &straight, k);
            }
            let resumed = case(&g, name, dt);
            let mut first = make(resumed.params.clone()).unwrap();
            for k in 0..3 {
                step(&mut *first, &resumed, k);
            }
            let saved = through_file(&first.state_dict().unwrap());
            drop(first);
            let mut second = make(resumed.params.clone()).unwrap();
            second.load_state_dict(&saved).unwrap();
            for k in 3..STEPS {
                step(&mut *second, &resumed, k);
            }
            for (a, b) in straight.params.iter().zip(&resumed.params) {
                assert_eq!(
                    a.to_f64_vec().unwrap(),
                    b.to_f64_vec().unwrap(),
                    "{name} {dt}: 3 steps + load + 2 steps differ from 5 steps"
                );
            }
            let (s1, s2) = (opt.state_dict().unwrap(), second.state_dict().unwrap());
            assert_eq!(s1.meta, s2.meta, "{name} {dt}");
            assert_eq!(
                s1.tensors.keys().collect::<Vec<_>>(),
                s2.tensors.keys().collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn state_dict_names_follow_pytorch() {
    let g = load_golden();
    let c = case(&g, "adam_wd_amsgrad", "f32");
    let mut opt = (OPTIMIZERS[6].1)(c.params.clone()).unwrap();
    step(&mut *opt, &c, 0);
    let s = opt.state_dict().unwrap();
    let keys: Vec<&str> = s.tensors.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "state.0.exp_avg",
            "state.0.exp_avg_sq",
            "state.0.max_exp_avg_sq",
            "state.0.step",
            "state.1.exp_avg",
            "state.1.exp_avg_sq",
            "state.1.max_exp_avg_sq",
            "state.1.step",
        ]
    );
    assert_eq!(s.tensors["state.1.step"].item::<i64>().unwrap(), 1);
    assert_eq!(s.meta["optimizer"], "Adam");
    assert_eq!(s.meta["groups"][0]["betas"], serde_json::json!([0.8, 0.95]));
    // Later steps do not change a state dict already taken.
    let before = s.tensors["state.0.exp_avg"].to_f64_vec().unwrap();
    step(&mut *opt, &c, 1);
    assert_eq!(s.tensors["state.0.exp_avg"].to_f64_vec().unwrap(), before);
}

/// Everything observable about an optimizer's state, for "unchanged" checks.
fn snapshot(opt: &dyn Optimizer) -> (Value, BTreeMap<String, Vec<f64>>) {
    let s = opt.state_dict().unwrap();
    let t = s
        .tensors
        .iter()
        .map(|(k, v)| (k.clone(), v.to_f64_vec().unwrap()))
        .collect();
    (s.meta, t)
}

fn adam_over(shapes: &[&[usize]], steps: usize) -> Adam {
    let ps: Vec<Tensor> = shapes
        .iter()
        .map(|s| {
            let p = Tensor::randn(s.to_vec(), DType::F32, CPU).unwrap();
            p.set_requires_grad(true).unwrap();
            p
        })
        .collect();
    let mut opt = Adam::new(ps.clone(), AdamConfig::new(0.01)).unwrap();
    for _ in 0..steps {
        for p in &ps {
            p.set_grad(Some(p.randn_like().unwrap())).unwrap();
        }
        opt.step().unwrap();
    }
    opt
}

type Corrupt = fn() -> OptimizerState;

#[test]
fn bad_state_dicts_leave_the_optimizer_unchanged() {
    let good = || adam_over(&[&[3, 4], &[5]], 1).state_dict().unwrap();
    let cases: &[(&str, Corrupt, &str)] = &[
        (
            "another optimizer",
            || {
                let p = Tensor::zeros([3, 4], DType::F32, CPU).unwrap();
                SGD::new(vec![p], SGDConfig::new(0.1))
                    .unwrap()
                    .state_dict()
                    .unwrap()
            },
            "the state is for optimizer \"SGD\", not Adam",
        ),
        (
            "too many parameters",
            || adam_over(&[&[3, 4], &[5], &[2]], 1).state_dict().unwrap(),
            "group 0 has 3 parameters in the state, 2 in the optimizer",
        ),
        (
            "too few parameters",
            || adam_over(&[&[3, 4]], 1).state_dict().unwrap(),
            "group 0 has 1 parameters in the state, 2 in the optimizer",
        ),
        (
            "wrong shapes",
            || adam_over(&[&[4, 3], &[5]], 1).state_dict().unwrap(),
            "state.0.exp_avg has shape [4, 3], but parameter 0 has shape [3, 4]",
        ),
        (
            "two groups",
            || {
                let ps: Vec<Tensor> = [[3usize, 4].as_slice(), &[5]]
                    .iter()
                    .map(|s| Tensor::zeros(s.to_vec(), DType::F32, CPU).unwrap())
                    .collect();
                let (a, b) = two(&ps);
                Adam::with_groups(vec![
                    ParamGroup::new(a, AdamConfig::default()),
                    ParamGroup::new(b, AdamConfig::default()),
                ])
                .unwrap()
                .state_dict()
                .unwrap()
            },
            "the state has 2 parameter groups, the optimizer 1",
        ),
        (
            "missing buffer",
            || {
                let mut s = adam_over(&[&[3, 4], &[5]], 1).state_dict().unwrap();
                s.tensors.remove("state.0.exp_avg");
                s
            },
            "state.0.exp_avg is missing",
        ),
        (
            "missing step",
            || {
                let mut s = adam_over(&[&[3, 4], &[5]], 1).state_dict().unwrap();
                s.tensors.remove("state.1.step");
                s
            },
            "state.1.step is missing",
        ),
        (
            "negative step",
            || {
                let mut s = adam_over(&[&[3, 4], &[5]], 1).state_dict().unwrap();
                s.tensors
                    .insert("state.1.step".into(), Tensor::scalar(-1i64, CPU).unwrap());
                s
            },
            "state.1.step must hold one whole number >= 0",
        ),
        (
            "a buffer Adam does not keep",
            || {
                let mut s = adam_over(&[&[3, 4], &[5]], 1).state_dict().unwrap();
                let t = Tensor::zeros([3, 4], DType::F32, CPU).unwrap();
                s.tensors.insert("state.0.momentum_buffer".into(), t);
                s
            },
            "unexpected key state.0.momentum_buffer",
        ),
        (
            "a parameter index out of range",
            || {
                let mut s = adam_over(&[&[3, 4], &[5]], 1).state_dict().unwrap();
                s.tensors
                    .insert("state.7.step".into(), Tensor::scalar(1i64, CPU).unwrap());
                s
            },
            "state.7.step names parameter 7, but the optimizer has 2 parameters",
        ),
        (
            "a malformed key",
            || {
                let mut s = adam_over(&[&[3, 4], &[5]], 1).state_dict().unwrap();
                s.tensors
                    .insert("exp_avg".into(), Tensor::scalar(1i64, CPU).unwrap());
                s
            },
            "unexpected key \"exp_avg\"",
        ),
        (
            "a negative learning rate",
            || {
                let mut s = adam_over(&[&[3, 4], &[5]], 1).state_dict().unwrap();
                s.meta["groups"][0]["lr"] = (-1.0).into();
                s
            },
            "group 0: Adam: invalid learning rate -1",
        ),
        (
            "beta1 of 1",
            || {
                let mut s = adam_over(&[&[3, 4], &[5]], 1).state_dict().unwrap();
                s.meta["groups"][0]["betas"] = serde_json::json!([1.0, 0.999]);
                s
            },
            "invalid beta1 (betas.0) 1",
        ),
        (
            "a missing hyper-parameter",
            || {
                let mut s = adam_over(&[&[3, 4], &[5]], 1).state_dict().unwrap();
                s.meta["groups"][0].as_object_mut().unwrap().remove("eps");
                s
            },
            "hyper-parameter \"eps\" is missing",
        ),
    ];
    assert!(good().tensors.contains_key("state.1.exp_avg_sq"));
    for (what, corrupt, expected) in cases {
        let mut opt = adam_over(&[&[3, 4], &[5]], 2);
        opt.set_learning_rates(&[0.125]).unwrap();
        let before = snapshot(&opt);
        let err = opt.load_state_dict(&corrupt()).unwrap_err().to_string();
        assert!(
            err.contains(expected),
            "{what}: the error {err:?} does not say {expected:?}"
        );
        assert!(
            err.starts_with("load_state_dict: cannot load this state into Adam: "),
            "{what}: {err}"
        );
        assert_eq!(snapshot(&opt), before, "{what}: the optimizer changed");
        assert_eq!(opt.learning_rates(), vec![0.125], "{what}");
    }
}

type CorruptJson = fn(&mut Value);

fn remove(v: &mut Value, key: &str) {
    v.as_object_mut().unwrap().remove(key);
}

#[test]
fn malformed_meta_is_an_error_that_names_the_field() {
    let cases: &[(&str, CorruptJson, &str)] = &[
        (
            "not an object",
            |m| *m = json!(3),
            "invalid type: integer `3`",
        ),
        (
            "no optimizer",
            |m| remove(m, "optimizer"),
            "missing field `optimizer`",
        ),
        (
            "no groups",
            |m| remove(m, "groups"),
            "missing field `groups`",
        ),
        (
            "groups not a list",
            |m| m["groups"] = json!({"lr": 0.1}),
            "groups: invalid type: map, expected a sequence",
        ),
        (
            "no group",
            |m| m["groups"] = json!([]),
            "the state has 0 parameter groups, the optimizer 1",
        ),
        (
            "a group not an object",
            |m| m["groups"][0] = json!(0.1),
            "group 0: invalid type: floating point `0.1`",
        ),
        (
            "lr a string",
            |m| m["groups"][0]["lr"] = json!("fast"),
            "group 0: lr: invalid type: string \"fast\", expected f64",
        ),
        (
            "amsgrad a number",
            |m| m["groups"][0]["amsgrad"] = json!(1),
            "group 0: amsgrad: invalid type: integer `1`, expected a boolean",
        ),
        (
            "one beta",
            |m| m["groups"][0]["betas"] = json!([0.9]),
            "group 0: betas: invalid length 1",
        ),
        (
            "a beta a string",
            |m| m["groups"][0]["betas"][1] = json!("0.999"),
            "group 0: betas[1]: invalid type: string \"0.999\", expected f64",
        ),
        (
            "params not a list",
            |m| m["groups"][0]["params"] = json!(2),
            "group 0 has no list of parameters in the state, 2 in the optimizer",
        ),
    ];
    for (what, corrupt, expected) in cases {
        let mut s = adam_over(&[&[3, 4], &[5]], 1).state_dict().unwrap();
        corrupt(&mut s.meta);
        let mut opt = adam_over(&[&[3, 4], &[5]], 2);
        let before = snapshot(&opt);
        let err = opt.load_state_dict(&s).unwrap_err().to_string();
        assert!(
            err.starts_with("load_state_dict: cannot load this state into Adam: ")
                && err.contains(expected),
            "{what}: the error {err:?} does not say {expected:?}"
        );
        assert_eq!(snapshot(&opt), before, "{what}: the optimizer changed");
    }
}

#[test]
fn every_hyper_parameter_is_read_by_name() {
    let params = || vec![param(&[3]), param(&[2])];
    for (name, make) in OPTIMIZERS {
        let good = make(params()).unwrap().state_dict().unwrap();
        let keys: Vec<String> = good.meta["groups"][0]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "params")
            .cloned()
            .collect();
        assert!(keys.len() >= 6, "{name}: {keys:?}");
        for key in &keys {
            let mut missing = good.clone();
            remove(&mut missing.meta["groups"][0], key);
            let mut wrong = good.clone();
            wrong.meta["groups"][0][key] = json!("x");
            for (s, expected) in [
                (
                    missing,
                    format!("group 0: hyper-parameter {key:?} is missing"),
                ),
                (wrong, format!("group 0: {key}: invalid type: string \"x\"")),
            ] {
                let mut opt = make(params()).unwrap();
                let before = snapshot(&*opt);
                let err = opt.load_state_dict(&s).unwrap_err().to_string();
                assert!(
                    err.contains(&expected),
                    "{name}: {err:?} does not say {expected:?}"
                );
                assert_eq!(
                    snapshot(&*opt),
                    before,
                    "{name} {key}: the optimizer changed"
                );
            }
        }
        // The state as written loads back.
        make(params()).unwrap().load_state_dict(&good).unwrap();
    }
}

#[test]
fn load_converts_dtype_and_restores_hyper_parameters() {
    let s = adam_over(&[&[3, 4], &[5]], 2).state_dict().unwrap();
    let mut s64 = s.clone();
    for t in s64.tensors.values_mut() {
        if t.dtype() == DType::F32 {
            *t = t.to_dtype(DType::F64).unwrap();
        }
    }
    let mut opt = adam_over(&[&[3, 4], &[5]], 0);
    opt.set_learning_rates(&[0.5]).unwrap();
    opt.load_state_dict(&s64).unwrap();
    assert_eq!(opt.learning_rates(), vec![0.01]);
    let back = opt.state_dict().unwrap();
    assert_eq!(back.tensors["state.0.exp_avg"].dtype(), DType::F32);
    assert_eq!(
        back.tensors["state.0.exp_avg"].to_f64_vec().unwrap(),
        s.tensors["state.0.exp_avg"].to_f64_vec().unwrap()
    );
    // The optimizer owns what it loaded: it does not share the caller's storage.
    assert!(!back.tensors["state.1.exp_avg"].shares_storage(&s.tensors["state.1.exp_avg"]));
}

// ---- construction errors ----------------------------------------------------------------------

fn param(dims: &[usize]) -> Tensor {
    let p = Tensor::zeros(dims.to_vec(), DType::F32, CPU).unwrap();
    p.set_requires_grad(true).unwrap();
    p
}

type Build = fn() -> Result<Box<dyn Optimizer>>;

#[test]
fn bad_hyper_parameters_are_errors() {
    let cases: &[(&str, Build, &str)] = &[
        (
            "SGD lr < 0",
            || boxed(SGD::new(vec![param(&[2])], SGDConfig::new(-0.1))),
            "SGD: invalid learning rate -0.1",
        ),
        (
            "SGD lr NaN",
            || boxed(SGD::new(vec![param(&[2])], SGDConfig::new(f64::NAN))),
            "invalid learning rate NaN",
        ),
        (
            "Nesterov without momentum",
            || {
                let c = SGDConfig {
                    nesterov: true,
                    ..SGDConfig::new(0.1)
                };
                boxed(SGD::new(vec![param(&[2])], c))
            },
            "Nesterov momentum requires a momentum > 0",
        ),
        (
            "SGD momentum < 0",
            || {
                boxed(SGD::new(
                    vec![param(&[2])],
                    SGDConfig::with_momentum(0.1, -0.9),
                ))
            },
            "invalid momentum -0.9",
        ),
        (
            "Adam beta1 = 1",
            || {
                let c = AdamConfig {
                    betas: (1.0, 0.999),
                    ..AdamConfig::default()
                };
                boxed(Adam::new(vec![param(&[2])], c))
            },
            "Adam: invalid beta1 (betas.0) 1 (expected a value in [0, 1))",
        ),
        (
            "Adam beta2 < 0",
            || {
                let c = AdamConfig {
                    betas: (0.9, -0.1),
                    ..AdamConfig::default()
                };
                boxed(Adam::new(vec![param(&[2])], c))
            },
            "invalid beta2 (betas.1) -0.1",
        ),
        (
            "AdamW eps < 0",
            || {
                let c = AdamWConfig {
                    eps: -1e-8,
                    ..AdamWConfig::default()
                };
                boxed(AdamW::new(vec![param(&[2])], c))
            },
            "AdamW: invalid eps",
        ),
        (
            "AdamW lr < 0",
            || boxed(AdamW::new(vec![param(&[2])], AdamWConfig::new(-1.0))),
            "AdamW: invalid learning rate -1",
        ),
        (
            "RMSprop alpha < 0",
            || {
                let c = RMSpropConfig {
                    alpha: -0.5,
                    ..RMSpropConfig::default()
                };
                boxed(RMSprop::new(vec![param(&[2])], c))
            },
            "RMSprop: invalid alpha -0.5",
        ),
        (
            "Adagrad lr_decay < 0",
            || {
                let c = AdagradConfig {
                    lr_decay: -1.0,
                    ..AdagradConfig::default()
                };
                boxed(Adagrad::new(vec![param(&[2])], c))
            },
            "Adagrad: invalid lr_decay -1",
        ),
        (
            "no parameters",
            || boxed(Adam::new(vec![], AdamConfig::default())),
            "Adam: got an empty parameter list",
        ),
        (
            "a parameter twice",
            || {
                let p = param(&[2]);
                let (a, b) = (vec![p.clone()], vec![p]);
                boxed(SGD::with_groups(vec![
                    ParamGroup::new(a, SGDConfig::new(0.1)),
                    ParamGroup::new(b, SGDConfig::new(0.2)),
                ]))
            },
            "parameter 0 of group 1 appears more than once",
        ),
        (
            "a non-leaf parameter",
            || {
                let p = param(&[2]).mul_scalar(2.0)?;
                boxed(SGD::new(vec![p], SGDConfig::new(0.1)))
            },
            "parameter 0 of group 0 is not a leaf tensor",
        ),
        (
            "an integer parameter",
            || {
                let p = Tensor::zeros([2], DType::I64, CPU)?;
                boxed(SGD::new(vec![p], SGDConfig::new(0.1)))
            },
            "SGD: got dtype i64, expected a float dtype for parameter 0 of group 0",
        ),
    ];
    for (what, build, expected) in cases {
        let err = build().map(|_| ()).unwrap_err().to_string();
        assert!(
            err.contains(expected),
            "{what}: the error {err:?} does not say {expected:?}"
        );
    }
}

#[test]
fn set_learning_rates_checks_its_input() {
    let mut opt = SGD::new(vec![param(&[2])], SGDConfig::new(0.1)).unwrap();
    let err = opt.set_learning_rates(&[0.1, 0.2]).unwrap_err().to_string();
    assert!(
        err.contains("got 2 learning rates for 1 parameter groups"),
        "{err}"
    );
    let err = opt.set_learning_rates(&[-0.1]).unwrap_err().to_string();
    assert!(err.contains("invalid learning rate -0.1"), "{err}");
    assert_eq!(opt.learning_rates(), vec![0.1]);
}

#[test]
fn steps_skip_parameters_without_gradients_and_record_no_graph() {
    let (a, b) = (param(&[2]), param(&[3]));
    let mut opt = Adam::new(vec![a.clone(), b.clone()], AdamConfig::new(0.1)).unwrap();
    a.set_grad(Some(Tensor::ones([2], DType::F32, CPU).unwrap()))
        .unwrap();
    opt.step().unwrap();
    assert_eq!(b.to_vec::<f32>().unwrap(), vec![0.0; 3]);
    let s = opt.state_dict().unwrap();
    assert!(s.tensors.keys().all(|k| k.starts_with("state.0.")), "{s:?}");
    // The parameters are still leaves: a forward pass and backward work as before.
    let loss = a.mul(&a).unwrap().sum_all().unwrap();
    assert!(loss.requires_grad());
    a.set_grad(None).unwrap();
    loss.backward().unwrap();
    assert!(a.grad().is_some());
}

// ---- schedulers ---------------------------------------------------------------------------------

type MakeSched = fn(&mut SGD) -> Result<Box<dyn LrScheduler>>;

fn sched<S: LrScheduler + 'static>(s: Result<S>) -> Result<Box<dyn LrScheduler>> {
    Ok(Box::new(s?))
}

/// The cases of gen_optim.py's `SCHEDULERS`.
const SCHEDULERS: &[(&str, MakeSched)] = &[
    ("step", |o| sched(StepLR::new(o, 7, 0.5))),
    ("multistep", |o| {
        sched(MultiStepLR::new(o, &[3, 8, 8, 20], 0.3))
    }),
    ("exponential", |o| sched(ExponentialLR::new(o, 0.9))),
    ("cosine", |o| sched(CosineAnnealingLR::new(o, 10, 0.001))),
    ("linear_warmup", |o| sched(LinearLR::new(o, 0.25, 1.0, 8))),
    ("linear_decay", |o| sched(LinearLR::new(o, 1.0, 0.1, 12))),
    ("onecycle_cos", |o| {
        let c = OneCycleConfig {
            max_lr: vec![1.0, 0.5],
            ..OneCycleConfig::new(0.0, 30)
        };
        sched(OneCycleLR::new(o, c))
    }),
    ("onecycle_linear", |o| {
        let c = OneCycleConfig {
            pct_start: 0.25,
            anneal_strategy: AnnealStrategy::Linear,
            div_factor: 10.0,
            final_div_factor: 100.0,
            ..OneCycleConfig::new(0.8, 30)
        };
        sched(OneCycleLR::new(o, c))
    }),
    ("onecycle_three_phase", |o| {
        let c = OneCycleConfig {
            three_phase: true,
            ..OneCycleConfig::new(0.6, 30)
        };
        sched(OneCycleLR::new(o, c))
    }),
    ("sequential", |o| {
        let warmup = LinearLR::new(o, 0.1, 1.0, 5)?;
        let cosine = CosineAnnealingLR::new(o, 20, 0.0)?;
        sched(SequentialLR::new(
            o,
            vec![Box::new(warmup), Box::new(cosine)],
            &[5],
        ))
    }),
    ("sequential3", |o| {
        let a = LinearLR::new(o, 0.5, 1.0, 4)?;
        let b = ExponentialLR::new(o, 0.8)?;
        let c = StepLR::new(o, 3, 0.5)?;
        sched(SequentialLR::new(
            o,
            vec![Box::new(a), Box::new(b), Box::new(c)],
            &[6, 15],
        ))
    }),
];

/// SGD with two groups at rates 0.1 and 0.05, as the Python side.
fn two_group_sgd() -> SGD {
    SGD::with_groups(vec![
        ParamGroup::new(vec![param(&[1])], SGDConfig::new(0.1)),
        ParamGroup::new(vec![param(&[1])], SGDConfig::new(0.05)),
    ])
    .unwrap()
}

#[test]
fn schedulers_match_pytorch() {
    let g = load_golden();
    let in_file: BTreeSet<&str> = g.keys().filter_map(|k| k.strip_prefix("sched.")).collect();
    let in_table: BTreeSet<&str> = SCHEDULERS.iter().map(|(n, _)| *n).collect();
    assert_eq!(in_file, in_table);
    for (name, make) in SCHEDULERS {
        let want = g[&format!("sched.{name}")].to_vec::<f64>().unwrap();
        let mut opt = two_group_sgd();
        let mut s = make(&mut opt).unwrap();
        for (t, row) in want.chunks(2).enumerate() {
            if t > 0 {
                opt.step().unwrap();
                s.step(&mut opt).unwrap();
            }
            if name.starts_with("onecycle") && t == 30 {
                // Past the cycle PyTorch extrapolates; Silica holds the final rate.
                let last = &want[2 * 29..2 * 30];
                assert_eq!(opt.learning_rates(), last, "{name}: after the cycle");
                continue;
            }
            for (lrs, what) in [
                (opt.learning_rates(), "optimizer"),
                (s.last_lrs(), "last_lrs"),
            ] {
                for (gi, (a, b)) in lrs.iter().zip(row).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                        "{name}: step {t}, group {gi} ({what}): got {a:e}, want {b:e}"
                    );
                }
            }
        }
    }
}

#[test]
fn scheduler_state_round_trip_resumes() {
    for (name, make) in SCHEDULERS {
        let mut opt = two_group_sgd();
        let mut straight = make(&mut opt).unwrap();
        let mut want = Vec::new();
        for _ in 0..25 {
            straight.step(&mut opt).unwrap();
            want.push(opt.learning_rates());
        }
        let mut opt = two_group_sgd();
        let mut first = make(&mut opt).unwrap();
        for _ in 0..10 {
            first.step(&mut opt).unwrap();
        }
        let state: Value = serde_json::from_str(&first.state_dict().to_string()).unwrap();
        let mut opt = two_group_sgd();
        let mut second = make(&mut opt).unwrap();
        second.load_state_dict(&state).unwrap();
        for (t, w) in want.iter().enumerate().skip(10) {
            second.step(&mut opt).unwrap();
            assert_eq!(&opt.learning_rates(), w, "{name}: step {}", t + 1);
        }
    }
}

#[test]
fn bad_scheduler_inputs_are_errors() {
    type BadSched = fn(&mut SGD) -> Result<Box<dyn LrScheduler>>;
    let cases: &[(&str, BadSched, &str)] = &[
        (
            "step_size 0",
            |o| sched(StepLR::new(o, 0, 0.1)),
            "StepLR: step_size must be at least 1",
        ),
        (
            "gamma < 0",
            |o| sched(ExponentialLR::new(o, -0.5)),
            "invalid gamma -0.5",
        ),
        (
            "t_max 0",
            |o| sched(CosineAnnealingLR::new(o, 0, 0.0)),
            "t_max must be at least 1",
        ),
        (
            "start_factor > 1",
            |o| sched(LinearLR::new(o, 1.5, 1.0, 5)),
            "LinearLR: invalid start_factor 1.5 (expected a value in [0, 1])",
        ),
        (
            "pct_start > 1",
            |o| {
                let c = OneCycleConfig {
                    pct_start: 1.5,
                    ..OneCycleConfig::new(1.0, 10)
                };
                sched(OneCycleLR::new(o, c))
            },
            "invalid pct_start 1.5",
        ),
        (
            "max_lr per group",
            |o| {
                let c = OneCycleConfig {
                    max_lr: vec![1.0, 2.0, 3.0],
                    ..OneCycleConfig::new(1.0, 10)
                };
                sched(OneCycleLR::new(o, c))
            },
            "expected 1 or 2 values for max_lr, got 3",
        ),
        (
            "milestones",
            |o| {
                let a = StepLR::new(o, 2, 0.5)?;
                sched(SequentialLR::new(o, vec![Box::new(a)], &[3]))
            },
            "expected 0 milestones for 1 schedulers (one fewer), got 1",
        ),
    ];
    for (what, make, expected) in cases {
        let mut opt = two_group_sgd();
        let err = make(&mut opt).map(|_| ()).unwrap_err().to_string();
        assert!(
            err.contains(expected),
            "{what}: {err:?} does not say {expected:?}"
        );
    }
    // Stepping past the end of a cycle is an error that changes nothing.
    let mut opt = two_group_sgd();
    let mut s = OneCycleLR::new(&mut opt, OneCycleConfig::new(1.0, 3)).unwrap();
    for _ in 0..3 {
        s.step(&mut opt).unwrap();
    }
    let lrs = opt.learning_rates();
    let err = s.step(&mut opt).unwrap_err().to_string();
    assert!(
        err.contains("tried to step 5 times, but total_steps is 3"),
        "{err}"
    );
    assert_eq!(opt.learning_rates(), lrs);
    assert_eq!(s.last_lrs(), lrs);
    // A state of another kind is refused.
    let mut step = StepLR::new(&mut opt, 2, 0.5).unwrap();
    let before = step.state_dict();
    let err = step
        .load_state_dict(&s.state_dict())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the state is for scheduler OneCycleLR, not StepLR"),
        "{err}"
    );
    assert_eq!(step.state_dict(), before);
}

#[test]
fn bad_scheduler_states_leave_the_scheduler_unchanged() {
    let step: MakeSched = |o| sched(StepLR::new(o, 7, 0.5));
    let seq = SCHEDULERS
        .iter()
        .find(|(n, _)| *n == "sequential")
        .unwrap()
        .1;
    let cases: &[(&str, MakeSched, CorruptJson, &str)] = &[
        (
            "not an object",
            step,
            |s| *s = json!("StepLR"),
            "cannot load this state into StepLR: invalid type: string \"StepLR\"",
        ),
        (
            "no name",
            step,
            |s| remove(s, "scheduler"),
            "missing field `scheduler`",
        ),
        (
            "no step",
            step,
            |s| remove(s, "last_epoch"),
            "missing field `last_epoch`",
        ),
        (
            "a negative step",
            step,
            |s| s["last_epoch"] = json!(-1),
            "last_epoch: invalid value: integer `-1`, expected usize",
        ),
        (
            "a fractional step",
            step,
            |s| s["last_epoch"] = json!(2.5),
            "last_epoch: invalid type: floating point `2.5`, expected usize",
        ),
        (
            "a rate that is not a number",
            step,
            |s| s["base_lrs"][1] = json!("x"),
            "base_lrs[1]: invalid type: string \"x\", expected f64",
        ),
        (
            "too few groups",
            step,
            |s| s["base_lrs"] = json!([0.1]),
            "the state has 1 base rates and 2 last rates, the scheduler 2 groups",
        ),
        (
            "too many last rates",
            step,
            |s| s["last_lrs"] = json!([0.1, 0.1, 0.1]),
            "the state has 2 base rates and 3 last rates, the scheduler 2 groups",
        ),
        (
            "another scheduler",
            step,
            |s| s["scheduler"] = json!("ExponentialLR"),
            "the state is for scheduler ExponentialLR, not StepLR",
        ),
        (
            "sequential: a step that is not a number",
            seq,
            |s| s["last_epoch"] = json!("x"),
            "cannot load this state into SequentialLR: last_epoch: invalid type: string",
        ),
        (
            "sequential: other milestones",
            seq,
            |s| s["milestones"] = json!([4]),
            "the state's milestones [4] differ from the scheduler's [5]",
        ),
        (
            "sequential: a milestone that is not a number",
            seq,
            |s| s["milestones"][0] = json!("5"),
            "milestones[0]: invalid type: string \"5\", expected usize",
        ),
        (
            "sequential: no schedulers",
            seq,
            |s| remove(s, "schedulers"),
            "missing field `schedulers`",
        ),
        (
            "sequential: too few schedulers",
            seq,
            |s| {
                s["schedulers"].as_array_mut().unwrap().pop();
            },
            "the state has 1 schedulers, the scheduler 2",
        ),
        (
            "sequential: a bad state of its second scheduler",
            seq,
            |s| s["schedulers"][1]["last_epoch"] = Value::Null,
            "cannot load this state into CosineAnnealingLR: last_epoch: invalid type: null",
        ),
    ];
    for (what, make, corrupt, expected) in cases {
        let mut opt = two_group_sgd();
        let mut source = make(&mut opt).unwrap();
        for _ in 0..8 {
            source.step(&mut opt).unwrap();
        }
        let mut state = source.state_dict();
        corrupt(&mut state);
        let mut opt = two_group_sgd();
        let mut s = make(&mut opt).unwrap();
        for _ in 0..3 {
            s.step(&mut opt).unwrap();
        }
        let before = (s.state_dict(), opt.learning_rates());
        let err = s.load_state_dict(&state).unwrap_err().to_string();
        assert!(
            err.contains(expected),
            "{what}: {err:?} does not say {expected:?}"
        );
        let after = (s.state_dict(), opt.learning_rates());
        assert_eq!(after, before, "{what}: the scheduler changed");
    }
}

// ---- gradient clipping --------------------------------------------------------------------------

#[test]
fn clipping_matches_pytorch() {
    let g = load_golden();
    let cases: &[(&str, Option<(f64, f64)>)] = &[
        ("l2", Some((1.0, 2.0))),
        ("l2_noclip", Some((100.0, 2.0))),
        ("inf", Some((0.5, f64::INFINITY))),
        ("l1", Some((2.0, 1.0))),
        ("value", None),
    ];
    for (name, norm) in cases {
        for dt in ["f32", "f64"] {
            let pre = format!("clip.{name}.{dt}");
            let ps: Vec<Tensor> = (0..2)
                .map(|j| {
                    let gj = &g[&format!("{pre}.g{j}")];
                    let p = gj.zeros_like().unwrap();
                    p.set_requires_grad(true).unwrap();
                    p.set_grad(Some(gj.copy().unwrap())).unwrap();
                    p
                })
                .collect();
            let tol = if dt == "f64" { 1e-12 } else { 1e-6 };
            match norm {
                Some((max_norm, p)) => {
                    let total = clip_grad_norm(&ps, *max_norm, *p).unwrap();
                    let want = &g[&format!("{pre}.total")];
                    assert_eq!(total.dtype(), want.dtype(), "{pre}");
                    assert_close(&format!("{pre} total"), &total, want, tol);
                }
                None => clip_grad_value(&ps, 0.5).unwrap(),
            }
            for (j, p) in ps.iter().enumerate() {
                let want = &g[&format!("{pre}.out{j}")];
                assert_close(&format!("{pre} grad {j}"), &p.grad().unwrap(), want, tol);
            }
        }
    }
}

#[test]
fn clipping_edge_cases() {
    let p = param(&[2]);
    assert_eq!(
        clip_grad_norm(std::slice::from_ref(&p), 1.0, 2.0)
            .unwrap()
            .to_scalar()
            .unwrap(),
        0.0
    );
    let err = clip_grad_norm(std::slice::from_ref(&p), 1.0, 0.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid norm_type 0"), "{err}");
    let err = clip_grad_value(&[p], -1.0).unwrap_err().to_string();
    assert!(err.contains("invalid clip_value -1"), "{err}");
    // Two leaves of one `add` may share one gradient tensor: clipping one must not scale the
    // other a second time.
    let (a, b) = (param(&[2]), param(&[2]));
    a.add(&b)
        .unwrap()
        .mul_scalar(3.0)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    clip_grad_norm(&[a.clone(), b.clone()], 1.0, 2.0).unwrap();
    let (ga, gb) = (
        a.grad().unwrap().to_vec::<f32>().unwrap(),
        b.grad().unwrap().to_vec::<f32>().unwrap(),
    );
    assert_eq!(ga, gb);
    assert!((ga[0] - 0.5).abs() < 1e-5, "{ga:?}");
}
