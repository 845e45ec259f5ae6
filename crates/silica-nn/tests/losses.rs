//! Every loss against PyTorch 1.13 (`testdata/golden/losses.safetensors`, written by
//! `tools/golden/gen_losses.py`): values and input gradients in f32 and f64, for each
//! reduction; then a table of bad inputs and the error each must give.

use silica_core::backendtest::AsyncCpuBackend;
use silica_core::{safetensors, DType, Device, Error, Result, Tensor};
use silica_nn::nn::{
    bce_loss, bce_with_logits, cross_entropy, huber_loss, l1_loss, mse_loss, nll_loss,
    smooth_l1_loss, BceWithLogitsOptions, CrossEntropyOptions, NllLossOptions, Reduction,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;

type Golden = BTreeMap<String, Tensor>;

fn golden() -> &'static Golden {
    static G: OnceLock<Golden> = OnceLock::new();
    G.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/golden/losses.safetensors");
        safetensors::load(&path, Device::Cpu).unwrap_or_else(|e| {
            panic!(
                "cannot read {}: {e} (run tools/golden/gen.sh)",
                path.display()
            )
        })
    })
}

/// Asserts `|got - want| <= rtol * max(|want|, 1)` elementwise (NaNs must match).
fn assert_close(what: &str, got: &Tensor, want: &Tensor, rtol: f64) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    let g = got.to_f64_vec().unwrap();
    let w = want.to_f64_vec().unwrap();
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let ok = if b.is_nan() {
            a.is_nan()
        } else {
            (a - b).abs() <= rtol * b.abs().max(1.0)
        };
        assert!(
            ok,
            "{what}: element {i}: got {a:e}, want {b:e} (rtol {rtol:e})"
        );
    }
}

/// The inputs of one case in one dtype; `input` is a fresh leaf that requires grad.
struct Inputs {
    name: &'static str,
    dt: &'static str,
    input: Tensor,
}

impl Inputs {
    /// `NAME.DT.key` (float inputs) or `NAME.key` (integer inputs).
    fn opt(&self, key: &str) -> Option<Tensor> {
        let g = golden();
        g.get(&format!("{}.{}.{key}", self.name, self.dt))
            .or_else(|| g.get(&format!("{}.{key}", self.name)))
            .cloned()
    }
    fn get(&self, key: &str) -> Tensor {
        self.opt(key)
            .unwrap_or_else(|| panic!("{}: no input {key:?}", self.name))
    }
}

type LossFn = fn(&Inputs, Reduction) -> Result<Tensor>;

fn ce(a: &Inputs, reduction: Reduction, ignore_index: i64, label_smoothing: f64) -> Result<Tensor> {
    let opts = CrossEntropyOptions {
        weight: a.opt("weight"),
        ignore_index,
        label_smoothing,
        reduction,
    };
    cross_entropy(&a.input, &a.get("target"), &opts)
}

fn nll(a: &Inputs, reduction: Reduction, ignore_index: i64) -> Result<Tensor> {
    let opts = NllLossOptions {
        weight: a.opt("weight"),
        ignore_index,
        reduction,
    };
    nll_loss(&a.input, &a.get("target"), &opts)
}

fn bce_logits(a: &Inputs, reduction: Reduction) -> Result<Tensor> {
    let opts = BceWithLogitsOptions {
        weight: a.opt("weight"),
        pos_weight: a.opt("pos_weight"),
        reduction,
    };
    bce_with_logits(&a.input, &a.get("target"), &opts)
}

/// Each golden case and the Silica call that must reproduce it.
const CASES: &[(&str, LossFn)] = &[
    ("mse", |a, r| mse_loss(&a.input, &a.get("target"), r)),
    ("mse_3d", |a, r| mse_loss(&a.input, &a.get("target"), r)),
    ("l1", |a, r| l1_loss(&a.input, &a.get("target"), r)),
    ("smooth_l1", |a, r| {
        smooth_l1_loss(&a.input, &a.get("target"), 1.0, r)
    }),
    ("smooth_l1_beta", |a, r| {
        smooth_l1_loss(&a.input, &a.get("target"), 0.5, r)
    }),
    ("smooth_l1_beta0", |a, r| {
        smooth_l1_loss(&a.input, &a.get("target"), 0.0, r)
    }),
    ("huber", |a, r| {
        huber_loss(&a.input, &a.get("target"), 1.0, r)
    }),
    ("huber_delta", |a, r| {
        huber_loss(&a.input, &a.get("target"), 2.0, r)
    }),
    ("bce", |a, r| bce_loss(&a.input, &a.get("target"), None, r)),
    ("bce_weight", |a, r| {
        bce_loss(&a.input, &a.get("target"), a.opt("weight").as_ref(), r)
    }),
    ("bce_hard", |a, r| {
        bce_loss(&a.input, &a.get("target"), None, r)
    }),
    ("bce_logits", bce_logits),
    ("bce_logits_weight", bce_logits),
    ("bce_logits_pos_weight", bce_logits),
    ("bce_logits_both", bce_logits),
    ("nll", |a, r| nll(a, r, -100)),
    ("nll_weight", |a, r| nll(a, r, -100)),
    ("nll_ignore", |a, r| nll(a, r, -100)),
    ("nll_ignore_custom", |a, r| nll(a, r, 2)),
    ("nll_3d", |a, r| nll(a, r, -100)),
    ("ce", |a, r| ce(a, r, -100, 0.0)),
    ("ce_weight", |a, r| ce(a, r, -100, 0.0)),
    ("ce_ignore", |a, r| ce(a, r, -100, 0.0)),
    ("ce_ignore_custom_weight", |a, r| ce(a, r, 1, 0.0)),
    ("ce_smooth", |a, r| ce(a, r, -100, 0.1)),
    ("ce_smooth_weight_ignore", |a, r| ce(a, r, -100, 0.25)),
    ("ce_4d", |a, r| ce(a, r, -100, 0.2)),
    ("ce_unbatched", |a, r| ce(a, r, -100, 0.0)),
    ("ce_probs", |a, r| ce(a, r, -100, 0.0)),
    ("ce_probs_smooth_weight", |a, r| ce(a, r, -100, 0.3)),
    ("ce_probs_3d", |a, r| ce(a, r, -100, 0.0)),
];

const REDUCTIONS: [(&str, Reduction); 3] = [
    ("none", Reduction::None),
    ("mean", Reduction::Mean),
    ("sum", Reduction::Sum),
];

#[test]
fn losses_match_pytorch() {
    let g = golden();
    for &(name, f) in CASES {
        for dt in ["f32", "f64"] {
            for (rn, red) in REDUCTIONS {
                let what = format!("{name}.{rn}.{dt}");
                let input = g[&format!("{name}.{dt}.input")].detach();
                input.set_requires_grad(true).unwrap();
                let a = Inputs { name, dt, input };
                let out = f(&a, red).unwrap_or_else(|e| panic!("{what}: {e}"));
                let want = &g[&format!("{what}.out")];
                let f32_tol = if red == Reduction::None { 1e-5 } else { 1e-4 };
                let tol = if dt == "f64" { 1e-10 } else { f32_tol };
                assert_close(&format!("{what} forward"), &out, want, tol);
                match g.get(&format!("{what}.w")) {
                    Some(w) => out.mul(w).unwrap().sum_all().unwrap().backward().unwrap(),
                    None => out.backward().unwrap(),
                }
                let grad = a
                    .input
                    .grad()
                    .unwrap_or_else(|| panic!("{what}: no gradient"));
                let want = &g[&format!("{what}.grad.input")];
                let tol = if dt == "f64" { 1e-10 } else { 1e-5 };
                assert_close(&format!("{what} grad"), &grad, want, tol);
            }
        }
    }
}

#[test]
fn every_golden_case_is_tested() {
    let tested: BTreeSet<&str> = CASES.iter().map(|c| c.0).collect();
    let golden: BTreeSet<&str> = golden()
        .keys()
        .filter_map(|k| k.strip_suffix(".none.f32.out"))
        .collect();
    assert_eq!(tested, golden);
}

fn f32s(shape: &[usize]) -> Tensor {
    let n = shape.iter().product::<usize>();
    let v: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
    Tensor::from_vec(v, shape, Device::Cpu).unwrap()
}

fn i64s(v: &[i64]) -> Tensor {
    Tensor::from_slice(v, [v.len()], Device::Cpu).unwrap()
}

fn ce_opts() -> CrossEntropyOptions {
    CrossEntropyOptions::default()
}

/// Bad inputs: each must fail with an error whose message contains every listed fragment.
#[test]
fn errors() {
    type Bad = fn() -> Result<Tensor>;
    let cases: &[(&str, Bad, &[&str])] = &[
        (
            "class index past the end",
            || cross_entropy(&f32s(&[3, 5]), &i64s(&[0, 5, 1]), &ce_opts()),
            &["gather", "index 5", "size 5"],
        ),
        (
            "negative class index that is not ignore_index",
            || cross_entropy(&f32s(&[3, 5]), &i64s(&[0, -1, 1]), &ce_opts()),
            &["gather", "index -1", "size 5"],
        ),
        (
            "class index past the end, nll_loss, [N, C, d]",
            || {
                let t = Tensor::from_slice(&[0i64, 1, 2, 3, 9, 0], [2, 3], Device::Cpu)?;
                nll_loss(&f32s(&[2, 4, 3]), &t, &NllLossOptions::default())
            },
            &["gather", "index 9", "size 4"],
        ),
        (
            "class targets of the wrong shape",
            || cross_entropy(&f32s(&[3, 5]), &i64s(&[0, 1]), &ce_opts()),
            &["cross_entropy", "[3, 5]", "[3]", "[2]"],
        ),
        (
            "class targets of the wrong dtype",
            || {
                let t = Tensor::from_slice(&[0i32, 1, 2], [3], Device::Cpu)?;
                cross_entropy(&f32s(&[3, 5]), &t, &ce_opts())
            },
            &["cross_entropy", "i32", "i64"],
        ),
        (
            "bool targets",
            || {
                let t = Tensor::from_slice(&[true, false, true], [3], Device::Cpu)?;
                nll_loss(&f32s(&[3, 5]), &t, &NllLossOptions::default())
            },
            &["nll_loss", "bool", "i64"],
        ),
        (
            "probability targets of another shape",
            || cross_entropy(&f32s(&[3, 5]), &f32s(&[3, 4]), &ce_opts()),
            &["cross_entropy", "[3, 5]", "[3, 4]"],
        ),
        (
            "probability targets of another float dtype",
            || {
                let t = f32s(&[3, 5]).to_dtype(DType::F64)?;
                cross_entropy(&f32s(&[3, 5]), &t, &ce_opts())
            },
            &["cross_entropy", "f32", "f64"],
        ),
        (
            "probability targets with ignore_index",
            || {
                let opts = CrossEntropyOptions {
                    ignore_index: 0,
                    ..ce_opts()
                };
                cross_entropy(&f32s(&[3, 5]), &f32s(&[3, 5]), &opts)
            },
            &["cross_entropy", "ignore_index 0"],
        ),
        (
            "class weight of the wrong length",
            || {
                let opts = CrossEntropyOptions {
                    weight: Some(f32s(&[4])),
                    ..ce_opts()
                };
                cross_entropy(&f32s(&[3, 5]), &i64s(&[0, 1, 2]), &opts)
            },
            &["cross_entropy", "weight", "[4]", "[5]"],
        ),
        (
            "label smoothing above 1",
            || {
                let opts = CrossEntropyOptions {
                    label_smoothing: 1.5,
                    ..ce_opts()
                };
                cross_entropy(&f32s(&[3, 5]), &i64s(&[0, 1, 2]), &opts)
            },
            &["cross_entropy", "label_smoothing 1.5"],
        ),
        (
            "integer logits",
            || {
                let x = Tensor::zeros([3, 5], DType::I64, Device::Cpu)?;
                cross_entropy(&x, &i64s(&[0, 1, 2]), &ce_opts())
            },
            &["cross_entropy", "i64"],
        ),
        (
            "0-dim logits",
            || cross_entropy(&f32s(&[]), &i64s(&[0]), &ce_opts()),
            &["cross_entropy", "0-dim"],
        ),
        (
            "mse shapes differ",
            || mse_loss(&f32s(&[3, 4]), &f32s(&[4, 3]), Reduction::Mean),
            &["mse_loss", "[3, 4]", "[4, 3]"],
        ),
        (
            "l1 integer target",
            || {
                let t = Tensor::zeros([3, 4], DType::I64, Device::Cpu)?;
                l1_loss(&f32s(&[3, 4]), &t, Reduction::Mean)
            },
            &["l1_loss", "f32", "i64"],
        ),
        (
            "negative smooth_l1 beta",
            || smooth_l1_loss(&f32s(&[3]), &f32s(&[3]), -1.0, Reduction::Mean),
            &["smooth_l1_loss", "beta -1"],
        ),
        (
            "zero huber delta",
            || huber_loss(&f32s(&[3]), &f32s(&[3]), 0.0, Reduction::Mean),
            &["huber_loss", "delta 0"],
        ),
        (
            "bce shapes differ",
            || bce_loss(&f32s(&[2, 3]), &f32s(&[3]), None, Reduction::Mean),
            &["bce_loss", "[2, 3]", "[3]"],
        ),
        (
            "bce_with_logits pos_weight that does not broadcast",
            || {
                let opts = BceWithLogitsOptions {
                    pos_weight: Some(f32s(&[2])),
                    ..Default::default()
                };
                bce_with_logits(&f32s(&[2, 3]), &f32s(&[2, 3]), &opts)
            },
            &["bce_with_logits", "pos_weight", "[2]", "[2, 3]"],
        ),
    ];
    for (what, f, fragments) in cases {
        let msg = match f() {
            Ok(t) => panic!("{what}: expected an error, got {t:?}"),
            Err(e) => e.to_string(),
        };
        for frag in *fragments {
            assert!(
                msg.contains(frag),
                "{what}: {msg:?} does not mention {frag:?}"
            );
        }
    }
}

/// The loss never reads its targets to the host (that would stall every training step): on a
/// device whose kernels run later, a bad class index surfaces at the next read, as the index
/// error of the kernel that met it.
#[test]
fn bad_class_index_on_an_async_device() {
    let dev = AsyncCpuBackend::register();
    let x = f32s(&[3, 5]).to_device(dev).unwrap();
    let t = i64s(&[0, 7, 1]).to_device(dev).unwrap();
    let loss = cross_entropy(&x, &t, &ce_opts()).expect("enqueueing succeeds");
    match loss.item::<f32>() {
        Err(Error::IndexOutOfBounds {
            index: 7, size: 5, ..
        }) => {}
        other => panic!("expected the index error at the read, got {other:?}"),
    }
    let ok = i64s(&[0, 4, -100]).to_device(dev).unwrap();
    let loss = cross_entropy(&x, &ok, &ce_opts()).unwrap();
    let cpu = cross_entropy(&f32s(&[3, 5]), &i64s(&[0, 4, -100]), &ce_opts()).unwrap();
    assert_close("async vs cpu", &loss, &cpu, 1e-6);
}

/// Every target ignored: the mean is 0 / 0, NaN, as in PyTorch.
#[test]
fn all_ignored_mean_is_nan() {
    let loss = cross_entropy(&f32s(&[2, 3]), &i64s(&[-100, -100]), &ce_opts()).unwrap();
    assert!(loss.item::<f32>().unwrap().is_nan());
    let opts = CrossEntropyOptions {
        reduction: Reduction::Sum,
        ..ce_opts()
    };
    let loss = cross_entropy(&f32s(&[2, 3]), &i64s(&[-100, -100]), &opts).unwrap();
    assert_eq!(loss.item::<f32>().unwrap(), 0.0);
}

/// Every target ignored (issue 7): the mean loss is NaN, but its gradient is 0, as in PyTorch,
/// with and without label smoothing and class weights.
#[test]
fn all_ignored_mean_has_a_zero_gradient() {
    let weight = Tensor::from_slice(&[0.5f32, 1.0, 2.0], [3], Device::Cpu).unwrap();
    let ce_cases = [
        ce_opts(),
        CrossEntropyOptions {
            label_smoothing: 0.1,
            ..ce_opts()
        },
        CrossEntropyOptions {
            weight: Some(weight.clone()),
            ..ce_opts()
        },
    ];
    let target = i64s(&[-100, -100]);
    for (i, opts) in ce_cases.iter().enumerate() {
        let x = f32s(&[2, 3]);
        x.set_requires_grad(true).unwrap();
        let loss = cross_entropy(&x, &target, opts).unwrap();
        assert!(loss.item::<f32>().unwrap().is_nan(), "case {i}");
        loss.backward().unwrap();
        assert_eq!(
            x.grad().unwrap().to_vec::<f32>().unwrap(),
            [0.0; 6],
            "case {i}"
        );
    }
    let x = f32s(&[2, 3]);
    x.set_requires_grad(true).unwrap();
    let loss = nll_loss(&x, &target, &NllLossOptions::default()).unwrap();
    assert!(loss.item::<f32>().unwrap().is_nan());
    loss.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec::<f32>().unwrap(), [0.0; 6]);
}

/// Found by the differential fuzzer: an infinite error or logit gives the loss's limit and
/// finite gradients (PyTorch's huber and smooth L1 gradients are ±delta and ±1 there; its
/// bce_with_logits is NaN at an infinite logit, see the fuzzer's rule `bce_logits_limit`).
#[test]
fn infinite_inputs_give_limits_not_nan() {
    let inf = f32::INFINITY;
    let grad_of = |f: &dyn Fn(&Tensor) -> Result<Tensor>| {
        let x = Tensor::from_slice(&[inf, -inf, 0.5], [3], Device::Cpu).unwrap();
        x.set_requires_grad(true).unwrap();
        let loss = f(&x).unwrap();
        loss.backward().unwrap();
        (
            loss.item::<f32>().unwrap(),
            x.grad().unwrap().to_vec::<f32>().unwrap(),
        )
    };
    let zeros = Tensor::zeros([3], DType::F32, Device::Cpu).unwrap();
    let (loss, g) = grad_of(&|x| huber_loss(x, &zeros, 1.0, Reduction::Sum));
    assert_eq!((loss, g), (inf, vec![1.0, -1.0, 0.5]));
    let (loss, g) = grad_of(&|x| smooth_l1_loss(x, &zeros, 0.5, Reduction::Sum));
    assert_eq!((loss, g), (inf, vec![1.0, -1.0, 1.0]));
    let t = Tensor::from_slice(&[0.0f32, 1.0, 1.0], [3], Device::Cpu).unwrap();
    let sum = BceWithLogitsOptions {
        reduction: Reduction::Sum,
        ..Default::default()
    };
    let (loss, g) = grad_of(&|x| bce_with_logits(x, &t, &sum));
    assert_eq!(loss, inf, "a confident wrong answer costs infinity");
    let sigmoid_half = 1.0 / (1.0 + (-0.5f32).exp());
    assert_eq!(g[..2], [1.0, -1.0]);
    assert!((g[2] - (sigmoid_half - 1.0)).abs() < 1e-6, "{}", g[2]);
}
