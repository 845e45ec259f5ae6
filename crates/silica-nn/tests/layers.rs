//! The `nn` layers, containers and initialisers.
//!
//! - Golden parity with PyTorch 1.13 (`tools/golden/gen_layers.py`, whose docstring gives the
//!   file's layout): each case loads the module's state dict with `strict`, runs its steps in
//!   training and evaluation mode, and compares outputs, the gradients of `sum(out * w)` with
//!   respect to the input and every parameter, and the state dict after the last step (batch
//!   norm's running statistics), in f32 and f64.
//! - State dict key names of a small model against PyTorch's.
//! - Initialisers: bounds and moments, PyTorch's gain table and fans, reproducible seeds.
//! - `load_state_dict` errors, and that a failed load leaves the module unchanged.
//! - `train`/`eval` reaching every child of nested containers.
//! - Error messages for bad inputs, naming the layer, the input shape and the expectation.

use silica_core::{
    manual_seed, no_grad, safetensors, Conv2dConfig, DType, Device, Generator, Pool2dConfig,
    Result, Tensor,
};
use silica_nn::nn::init::{self, FanMode, Nonlinearity};
use silica_nn::nn::{
    AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, BatchNormConfig, Conv2d, Dropout,
    Embedding, Flatten, LayerNorm, LayerNormConfig, LeakyReLU, Linear, MaxPool2d, Module,
    ModuleList, ReLU, Sequential, SiLU, Sigmoid, Slot, Softmax, StateDict, Tanh, GELU,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const CPU: Device = Device::Cpu;
/// f32 tolerance of matmul, convolution, normalisation and reductions (softmax, pooling).
const REDUCE: f64 = 1e-4;
/// f32 tolerance of elementwise layers, lookups and reshapes.
const EXACT: f64 = 1e-5;

// ---- helpers (as in silica-core's tests/common) ---------------------------------------------

/// Every tensor of `testdata/golden/<name>.safetensors`, on the CPU.
fn load_golden(name: &str) -> BTreeMap<String, Tensor> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/golden")
        .join(format!("{name}.safetensors"));
    safetensors::load(&path, CPU).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (run tools/golden/gen.sh)",
            path.display()
        )
    })
}

/// `f32_tol` for f32, 1e-10 for f64.
fn tolerance(dtype: DType, f32_tol: f64) -> f64 {
    if dtype == DType::F64 {
        1e-10
    } else {
        f32_tol
    }
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

fn boxed<M: Module + 'static>(m: M) -> Result<Box<dyn Module>> {
    Ok(Box::new(m))
}

fn seed() -> Generator {
    Generator::new(0)
}

// ---- (1) golden parity ---------------------------------------------------------------------

type Build = fn(DType) -> Result<Box<dyn Module>>;

/// One golden case: its name in the file, the f32 tolerance, and how to build the module (in
/// the case's dtype; the weights come from the file).
type Case = (&'static str, f64, Build);

fn conv(
    cin: usize,
    cout: usize,
    k: [usize; 2],
    cfg: Conv2dConfig,
    bias: bool,
    dt: DType,
) -> Result<Box<dyn Module>> {
    boxed(Conv2d::new(cin, cout, k, cfg, bias, &seed())?.to(dt, CPU)?)
}

fn bn2d(cfg: BatchNormConfig, dt: DType) -> Result<Box<dyn Module>> {
    boxed(BatchNorm2d::with_config(3, cfg)?.to(dt, CPU)?)
}

fn pool(k: usize) -> Pool2dConfig {
    Pool2dConfig::new(k)
}

/// The `sequential` case: Conv2d, BatchNorm2d, ReLU, Flatten, Linear.
fn small_model(dt: DType) -> Result<Sequential> {
    let g = seed();
    let same = Conv2dConfig::default().with_padding(1);
    Ok(Sequential::new()
        .add(Conv2d::new(3, 4, [3, 3], same, true, &g)?.to(dt, CPU)?)
        .add(BatchNorm2d::new(4)?.to(dt, CPU)?)
        .add(ReLU)
        .add(Flatten::new())
        .add(Linear::new(4 * 5 * 4, 3, true, &g)?.to(dt, CPU)?))
}

const CASES: &[Case] = &[
    ("linear", REDUCE, |dt| {
        boxed(Linear::new(5, 3, true, &seed())?.to(dt, CPU)?)
    }),
    ("linear_nobias", REDUCE, |dt| {
        boxed(Linear::new(5, 3, false, &seed())?.to(dt, CPU)?)
    }),
    ("linear_3d", REDUCE, |dt| {
        boxed(Linear::new(5, 3, true, &seed())?.to(dt, CPU)?)
    }),
    ("linear_1d", REDUCE, |dt| {
        boxed(Linear::new(5, 3, true, &seed())?.to(dt, CPU)?)
    }),
    ("conv", REDUCE, |dt| {
        conv(4, 6, [3, 3], Conv2dConfig::default(), true, dt)
    }),
    ("conv_s2_p1", REDUCE, |dt| {
        conv(
            4,
            6,
            [3, 3],
            Conv2dConfig::default().with_stride(2).with_padding(1),
            true,
            dt,
        )
    }),
    ("conv_mixed", REDUCE, |dt| {
        let cfg = Conv2dConfig {
            stride: [2, 1],
            padding: [1, 2],
            dilation: [1, 2],
            groups: 1,
        };
        conv(4, 6, [3, 2], cfg, true, dt)
    }),
    ("conv_groups", REDUCE, |dt| {
        conv(
            4,
            6,
            [3, 3],
            Conv2dConfig::default().with_padding(1).with_groups(2),
            false,
            dt,
        )
    }),
    ("conv_unbatched", REDUCE, |dt| {
        conv(
            4,
            6,
            [3, 3],
            Conv2dConfig::default().with_padding(1),
            true,
            dt,
        )
    }),
    ("bn1d", REDUCE, |dt| {
        boxed(BatchNorm1d::new(4)?.to(dt, CPU)?)
    }),
    ("bn1d_3d", REDUCE, |dt| {
        boxed(BatchNorm1d::new(4)?.to(dt, CPU)?)
    }),
    ("bn2d", REDUCE, |dt| bn2d(BatchNormConfig::default(), dt)),
    ("bn2d_momentum", REDUCE, |dt| {
        bn2d(
            BatchNormConfig::default()
                .with_momentum(Some(0.3))
                .with_eps(1e-3),
            dt,
        )
    }),
    ("bn2d_cumulative", REDUCE, |dt| {
        bn2d(BatchNormConfig::default().with_momentum(None), dt)
    }),
    ("bn2d_noaffine", REDUCE, |dt| {
        bn2d(BatchNormConfig::default().with_affine(false), dt)
    }),
    ("bn2d_notrack", REDUCE, |dt| {
        bn2d(
            BatchNormConfig::default().with_track_running_stats(false),
            dt,
        )
    }),
    ("layernorm", REDUCE, |dt| {
        boxed(LayerNorm::new(&[5])?.to(dt, CPU)?)
    }),
    ("layernorm_2d", REDUCE, |dt| {
        let cfg = LayerNormConfig {
            eps: 1e-3,
            ..Default::default()
        };
        boxed(LayerNorm::with_config(&[4, 5], cfg)?.to(dt, CPU)?)
    }),
    ("layernorm_noaffine", REDUCE, |dt| {
        let cfg = LayerNormConfig {
            elementwise_affine: false,
            ..Default::default()
        };
        boxed(LayerNorm::with_config(&[5], cfg)?.to(dt, CPU)?)
    }),
    ("embedding", EXACT, |dt| {
        boxed(Embedding::new(10, 4, &seed())?.to(dt, CPU)?)
    }),
    ("max_pool", EXACT, |_| boxed(MaxPool2d::new(pool(2)))),
    ("max_pool_k3s2p1", EXACT, |_| {
        boxed(MaxPool2d::new(pool(3).with_stride(2).with_padding(1)))
    }),
    ("max_pool_unbatched", EXACT, |_| {
        boxed(MaxPool2d::new(pool(2).with_stride(1)))
    }),
    ("avg_pool", REDUCE, |_| boxed(AvgPool2d::new(pool(2)))),
    ("avg_pool_k3s2p1_ceil_nopad", REDUCE, |_| {
        let cfg = Pool2dConfig {
            ceil_mode: true,
            count_include_pad: false,
            ..pool(3).with_stride(2).with_padding(1)
        };
        boxed(AvgPool2d::new(cfg))
    }),
    ("adaptive_avg_pool", REDUCE, |_| {
        boxed(AdaptiveAvgPool2d::new(3, 2))
    }),
    ("adaptive_avg_pool_1x1", REDUCE, |_| {
        boxed(AdaptiveAvgPool2d::new(1, 1))
    }),
    ("flatten", EXACT, |_| boxed(Flatten::new())),
    ("flatten_0_1", EXACT, |_| boxed(Flatten::with_dims(0, 1))),
    ("flatten_1_2", EXACT, |_| boxed(Flatten::with_dims(1, 2))),
    ("relu", EXACT, |_| boxed(ReLU)),
    ("gelu", EXACT, |_| boxed(GELU::new())),
    ("gelu_tanh", EXACT, |_| boxed(GELU::tanh())),
    ("silu", EXACT, |_| boxed(SiLU)),
    ("tanh", EXACT, |_| boxed(Tanh)),
    ("sigmoid", EXACT, |_| boxed(Sigmoid)),
    ("leaky_relu", EXACT, |_| boxed(LeakyReLU::default())),
    ("leaky_relu_0_2", EXACT, |_| boxed(LeakyReLU::new(0.2))),
    ("softmax_1", REDUCE, |_| boxed(Softmax::new(1))),
    ("softmax_last", REDUCE, |_| boxed(Softmax::new(-1))),
    ("dropout_eval", EXACT, |_| {
        boxed(Dropout::with_seed(0.3, 0)?)
    }),
    ("sequential", REDUCE, |dt| boxed(small_model(dt)?)),
];

/// The tensors of `g` under `prefix`, by the rest of their key.
fn under(g: &BTreeMap<String, Tensor>, prefix: &str) -> StateDict {
    g.iter()
        .filter_map(|(k, t)| Some((k.strip_prefix(prefix)?.to_string(), t.clone())))
        .collect()
}

/// Runs one case in one dtype (see the golden script's docstring for the layout).
fn run_case(
    g: &BTreeMap<String, Tensor>,
    name: &str,
    dt: &str,
    tol: f64,
    build: Build,
) -> Result<()> {
    let dtype = if dt == "f64" { DType::F64 } else { DType::F32 };
    let rtol = tolerance(dtype, tol);
    let p = format!("{name}.{dt}.");
    let m = build(dtype)?;
    let report = m.load_state_dict(&under(g, &format!("{p}state.")), true)?;
    assert!(report.missing_keys.is_empty() && report.unexpected_keys.is_empty());

    let steps: BTreeSet<String> = under(g, &p)
        .keys()
        .filter_map(|k| k.strip_suffix(".out").map(str::to_string))
        .collect();
    assert!(!steps.is_empty(), "{name}.{dt}: no steps");
    for step in &steps {
        let what = format!("{name}.{dt}.{step}");
        m.set_training(step.ends_with("_train"));
        m.zero_grad();
        let x = g[&format!("{p}{step}.x")].detach().copy()?;
        let w = g.get(&format!("{p}{step}.w"));
        if w.is_some() && x.dtype().is_float() {
            x.set_requires_grad(true)?;
        }
        let out = match w {
            Some(_) => m.forward(&x)?,
            None => {
                let _guard = no_grad();
                m.forward(&x)?
            }
        };
        assert_eq!(out.dtype(), dtype, "{what}: output dtype");
        assert_close(
            &format!("{what} forward"),
            &out,
            &g[&format!("{p}{step}.out")],
            rtol,
        );
        let Some(w) = w else { continue };
        out.mul(w)?.sum_all()?.backward()?;
        let want_grads = under(g, &format!("{p}{step}.grad."));
        let mut compared = 0;
        if let Some(want) = want_grads.get("x") {
            let got = x
                .grad()
                .unwrap_or_else(|| panic!("{what}: no gradient for x"));
            assert_close(&format!("{what} grad x"), &got, want, rtol);
            compared += 1;
        }
        for (key, param) in m.named_parameters() {
            let want = want_grads
                .get(&key)
                .unwrap_or_else(|| panic!("{what}: PyTorch has no gradient for {key}"));
            let got = param
                .grad()
                .unwrap_or_else(|| panic!("{what}: no gradient for {key}"));
            assert_close(&format!("{what} grad {key}"), &got, want, rtol);
            compared += 1;
        }
        assert_eq!(compared, want_grads.len(), "{what}: gradients compared");
    }

    let want_final = under(g, &format!("{p}final."));
    let got_final = m.state_dict();
    assert_eq!(
        got_final.keys().collect::<Vec<_>>(),
        want_final.keys().collect::<Vec<_>>(),
        "{name}.{dt}: state dict keys"
    );
    for (key, want) in &want_final {
        assert_eq!(
            got_final[key].dtype(),
            want.dtype(),
            "{name}.{dt}: dtype of {key}"
        );
        assert_close(
            &format!("{name}.{dt} final {key}"),
            &got_final[key],
            want,
            rtol,
        );
    }
    Ok(())
}

#[test]
fn golden_layers() {
    let g = load_golden("layers");
    let table = CASES;
    let in_file: BTreeSet<&str> = g
        .keys()
        .filter(|k| !k.starts_with("keys."))
        .map(|k| k.split('.').next().unwrap())
        .collect();
    let in_table: BTreeSet<&str> = table.iter().map(|c| c.0).collect();
    assert_eq!(
        in_file, in_table,
        "cases in the golden file and in the table"
    );
    for &(name, tol, build) in table {
        for dt in ["f32", "f64"] {
            if let Err(e) = run_case(&g, name, dt, tol, build) {
                panic!("{name}.{dt}: {e}");
            }
        }
    }
}

// ---- (2) state dict key names -------------------------------------------------------------

fn golden_names(g: &BTreeMap<String, Tensor>, key: &str) -> Vec<String> {
    let bytes = g[key].to_vec::<u8>().unwrap();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn state_dict_keys_match_pytorch() -> Result<()> {
    let g = load_golden("layers");
    let model = small_model(DType::F32)?;
    let mut want_state = golden_names(&g, "keys.state_dict");
    assert_eq!(
        want_state,
        [
            "0.weight",
            "0.bias",
            "1.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var",
            "1.num_batches_tracked",
            "4.weight",
            "4.bias"
        ]
    );
    want_state.sort();
    assert_eq!(
        model.state_dict().into_keys().collect::<Vec<_>>(),
        want_state
    );
    let names = |v: Vec<(String, Tensor)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(
        names(model.named_parameters()),
        golden_names(&g, "keys.parameters")
    );
    assert_eq!(
        names(model.named_buffers()),
        golden_names(&g, "keys.buffers")
    );
    Ok(())
}

// ---- (3) initialisation -------------------------------------------------------------------

/// Mean, standard deviation and largest absolute value of `t`.
fn moments(t: &Tensor) -> (f64, f64, f64) {
    let v = t.to_f64_vec().unwrap();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let max_abs = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    (mean, var.sqrt(), max_abs)
}

#[test]
fn gain_table_and_fans() -> Result<()> {
    use init::calculate_gain as gain;
    let table = [
        (Nonlinearity::Linear, 1.0),
        (Nonlinearity::Conv, 1.0),
        (Nonlinearity::Sigmoid, 1.0),
        (Nonlinearity::Tanh, 5.0 / 3.0),
        (Nonlinearity::Relu, 2f64.sqrt()),
        (
            Nonlinearity::LeakyRelu(0.01),
            (2.0 / (1.0 + 0.01f64.powi(2))).sqrt(),
        ),
        (Nonlinearity::LeakyRelu(5f64.sqrt()), (1.0f64 / 3.0).sqrt()),
        (Nonlinearity::Selu, 0.75),
    ];
    for (nl, want) in table {
        assert!(
            (gain(nl) - want).abs() < 1e-15,
            "{nl:?}: {} vs {want}",
            gain(nl)
        );
    }
    let fans = [
        (vec![3, 4], (4, 3)),
        (vec![16, 3, 5, 5], (75, 400)),
        (vec![6, 2, 3, 2], (12, 36)),
    ];
    for (shape, want) in fans {
        let t = Tensor::zeros(shape.clone(), DType::F32, CPU)?;
        assert_eq!(init::calculate_fan_in_and_fan_out(&t)?, want, "{shape:?}");
    }
    let e = init::calculate_fan_in_and_fan_out(&Tensor::zeros([5], DType::F32, CPU)?).unwrap_err();
    assert_eq!(
        e.to_string(),
        "init: fan in and fan out need a tensor with at least 2 dims, got shape [5]"
    );
    Ok(())
}

/// How an initialiser's samples must look: a range `[low, high]` that they fill (to within 1%
/// of its width), a mean (within five standard errors) and a standard deviation (within 2%).
struct Expect {
    range: Option<(f64, f64)>,
    mean: f64,
    std: f64,
}

#[test]
fn init_bounds_and_moments() -> Result<()> {
    type Fill = Box<dyn Fn(&Tensor, &Generator) -> Result<()>>;
    let (fan_in, fan_out) = (250.0f64, 400.0f64);
    let uniform = |b: f64| Expect {
        range: Some((-b, b)),
        mean: 0.0,
        std: b / 3f64.sqrt(),
    };
    let normal = |s: f64| Expect {
        range: None,
        mean: 0.0,
        std: s,
    };
    let leaky = Nonlinearity::LeakyRelu(0.2);
    let table: Vec<(&str, Fill, Expect)> = vec![
        (
            "uniform_(-2, 3)",
            Box::new(|t, g| init::uniform_(t, -2.0, 3.0, g)),
            Expect {
                range: Some((-2.0, 3.0)),
                mean: 0.5,
                std: 5.0 / 12f64.sqrt(),
            },
        ),
        (
            "normal_(1.5, 0.5)",
            Box::new(|t, g| init::normal_(t, 1.5, 0.5, g)),
            Expect {
                range: None,
                mean: 1.5,
                std: 0.5,
            },
        ),
        (
            "xavier_uniform_(gain 2)",
            Box::new(|t, g| init::xavier_uniform_(t, 2.0, g)),
            uniform(2.0 * (6.0 / (fan_in + fan_out)).sqrt()),
        ),
        (
            "xavier_normal_(gain 1)",
            Box::new(|t, g| init::xavier_normal_(t, 1.0, g)),
            normal((2.0 / (fan_in + fan_out)).sqrt()),
        ),
        (
            "kaiming_uniform_(fan_in, relu)",
            Box::new(|t, g| init::kaiming_uniform_(t, FanMode::FanIn, Nonlinearity::Relu, g)),
            uniform(2f64.sqrt() * (3.0 / fan_in).sqrt()),
        ),
        (
            "kaiming_uniform_(fan_out, leaky 0.2)",
            Box::new(move |t, g| init::kaiming_uniform_(t, FanMode::FanOut, leaky, g)),
            uniform((2.0 / 1.04f64).sqrt() * (3.0 / fan_out).sqrt()),
        ),
        (
            "kaiming_uniform_(a = sqrt(5)), Linear's",
            Box::new(|t, g| {
                init::kaiming_uniform_(t, FanMode::FanIn, Nonlinearity::LeakyRelu(5f64.sqrt()), g)
            }),
            uniform(1.0 / fan_in.sqrt()),
        ),
        (
            "kaiming_normal_(fan_in, relu)",
            Box::new(|t, g| init::kaiming_normal_(t, FanMode::FanIn, Nonlinearity::Relu, g)),
            normal(2f64.sqrt() / fan_in.sqrt()),
        ),
        (
            "kaiming_normal_(fan_out, tanh)",
            Box::new(|t, g| init::kaiming_normal_(t, FanMode::FanOut, Nonlinearity::Tanh, g)),
            normal(5.0 / 3.0 / fan_out.sqrt()),
        ),
    ];
    for dtype in [DType::F32, DType::F64] {
        for (name, fill, want) in &table {
            // [out, in, k] with fan_in = 50 * 5 = 250 and fan_out = 80 * 5 = 400.
            let t = Tensor::zeros([80, 50, 5], dtype, CPU)?;
            t.set_requires_grad(true)?; // initialisers write into parameters
            fill(&t, &Generator::new(7))?;
            let (mean, std, _) = moments(&t);
            // Five standard errors of the mean.
            let mean_tol = 5.0 * want.std / (t.elem_count() as f64).sqrt();
            assert!(
                (mean - want.mean).abs() < mean_tol,
                "{name} {dtype}: mean {mean}, want {}",
                want.mean
            );
            assert!(
                (std / want.std - 1.0).abs() < 0.02,
                "{name} {dtype}: std {std}, want {}",
                want.std
            );
            if let Some((low, high)) = want.range {
                let v = t.to_f64_vec()?;
                let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
                let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let slack = 1e-6 * high.abs().max(low.abs());
                assert!(
                    min >= low - slack && max <= high + slack,
                    "{name} {dtype}: [{min}, {max}] leaves [{low}, {high}]"
                );
                let near = 0.01 * (high - low);
                assert!(
                    min < low + near && max > high - near,
                    "{name} {dtype}: [{min}, {max}] does not fill [{low}, {high}]"
                );
            }
            // The same seed gives the same values.
            let again = Tensor::zeros([80, 50, 5], dtype, CPU)?;
            fill(&again, &Generator::new(7))?;
            assert_eq!(t.to_f64_vec()?, again.to_f64_vec()?, "{name}: reproducible");
        }
    }
    Ok(())
}

#[test]
fn init_constants_and_errors() -> Result<()> {
    let t = Tensor::zeros([3, 4], DType::F64, CPU)?;
    init::constant_(&t, 2.5)?;
    assert_eq!(t.to_vec::<f64>()?, vec![2.5; 12]);
    init::ones_(&t)?;
    assert_eq!(t.to_vec::<f64>()?, vec![1.0; 12]);
    init::zeros_(&t)?;
    assert_eq!(t.to_vec::<f64>()?, vec![0.0; 12]);

    // In place: every handle of a parameter sees the new values.
    let fc = Linear::new(4, 3, true, &seed())?;
    let handle = fc.weight().clone();
    init::constant_(fc.weight(), 0.25)?;
    assert_eq!(handle.to_vec::<f32>()?, vec![0.25; 12]);
    assert!(fc.weight().requires_grad());

    let ints = Tensor::zeros([3, 4], DType::I64, CPU)?;
    assert_eq!(
        init::uniform_(&ints, 0.0, 1.0, &seed())
            .unwrap_err()
            .to_string(),
        "uniform_: got dtype i64, expected a float dtype"
    );
    // As in PyTorch, Kaiming initialisation of a tensor with no elements does nothing, so a
    // layer with no inputs builds (its bias bound is 0).
    let empty = Tensor::zeros([3, 0], DType::F32, CPU)?;
    init::kaiming_uniform_(&empty, FanMode::FanIn, Nonlinearity::Relu, &seed())?;
    init::kaiming_normal_(&empty, FanMode::FanOut, Nonlinearity::Relu, &seed())?;
    let fc = Linear::new(0, 3, true, &seed())?;
    let y = fc.forward(&Tensor::zeros([2, 0], DType::F32, CPU)?)?;
    assert_eq!((y.dims(), y.to_vec::<f32>()?), (&[2, 3][..], vec![0.0; 6]));
    Ok(())
}

#[test]
fn default_init_is_pytorchs_and_reproducible() -> Result<()> {
    // Linear: weight and bias in U(-1/sqrt(in), 1/sqrt(in)).
    let a = Linear::new(64, 32, true, &Generator::new(3))?;
    let b = Linear::new(64, 32, true, &Generator::new(3))?;
    let c = Linear::new(64, 32, true, &Generator::new(4))?;
    assert_eq!(a.weight().to_vec::<f32>()?, b.weight().to_vec::<f32>()?);
    assert_eq!(
        a.bias().unwrap().to_vec::<f32>()?,
        b.bias().unwrap().to_vec::<f32>()?
    );
    assert_ne!(a.weight().to_vec::<f32>()?, c.weight().to_vec::<f32>()?);
    let bound = 1.0 / 8.0;
    let (_, std, max_abs) = moments(a.weight());
    assert!(
        max_abs <= bound && max_abs > 0.99 * bound,
        "Linear weight max {max_abs}"
    );
    assert!(
        (std * 3f64.sqrt() / bound - 1.0).abs() < 0.03,
        "Linear weight std {std}"
    );
    let (_, _, max_abs) = moments(a.bias().unwrap());
    assert!(
        max_abs <= bound && max_abs > 0.8 * bound,
        "Linear bias max {max_abs}"
    );
    assert!(a.weight().requires_grad() && a.bias().unwrap().requires_grad());

    // Conv2d with groups: fan_in = in / groups * kh * kw = 16 / 2 * 3 * 3.
    let conv = Conv2d::new(
        16,
        32,
        [3, 3],
        Conv2dConfig::default().with_groups(2),
        true,
        &seed(),
    )?;
    assert_eq!(conv.weight().dims(), &[32, 8, 3, 3]);
    let bound = 1.0 / 72f64.sqrt();
    for (what, t) in [("weight", conv.weight()), ("bias", conv.bias().unwrap())] {
        let (_, _, max_abs) = moments(t);
        assert!(
            max_abs <= bound && max_abs > 0.9 * bound,
            "Conv2d {what} max {max_abs}"
        );
    }

    // Embedding: N(0, 1).
    let emb = Embedding::new(1000, 64, &seed())?;
    let (mean, std, _) = moments(emb.weight());
    assert!(
        mean.abs() < 0.01 && (std - 1.0).abs() < 0.02,
        "Embedding {mean} {std}"
    );

    // Norm layers: ones and zeros; running stats zeros, ones and a zero I64 counter.
    let bn = BatchNorm2d::new(3)?;
    let sd = bn.state_dict();
    assert_eq!(sd["weight"].to_vec::<f32>()?, vec![1.0; 3]);
    assert_eq!(sd["bias"].to_vec::<f32>()?, vec![0.0; 3]);
    assert_eq!(sd["running_mean"].to_vec::<f32>()?, vec![0.0; 3]);
    assert_eq!(sd["running_var"].to_vec::<f32>()?, vec![1.0; 3]);
    assert_eq!(sd["num_batches_tracked"].dims(), &[] as &[usize]);
    assert_eq!(sd["num_batches_tracked"].item::<i64>()?, 0);
    assert_eq!(bn.parameters().len(), 2);
    assert!(bn.named_buffers().iter().all(|(_, t)| !t.requires_grad()));

    // `to` keeps values and requires_grad, and leaves integer buffers alone.
    let a64 = Linear::new(64, 32, true, &Generator::new(3))?.to(DType::F64, CPU)?;
    assert_eq!(a64.weight().dtype(), DType::F64);
    assert!(a64.weight().requires_grad());
    assert_eq!(
        a64.weight().to_dtype(DType::F32)?.to_vec::<f32>()?,
        a.weight().to_vec::<f32>()?
    );
    let bn64 = BatchNorm2d::new(3)?.to(DType::F64, CPU)?;
    assert_eq!(bn64.num_batches_tracked().unwrap().dtype(), DType::I64);
    assert_eq!(bn64.running_var().unwrap().dtype(), DType::F64);
    Ok(())
}

// ---- (4) load_state_dict ------------------------------------------------------------------

fn snapshot(m: &dyn Module) -> BTreeMap<String, Vec<f64>> {
    m.state_dict()
        .into_iter()
        .map(|(k, t)| (k, t.to_f64_vec().unwrap()))
        .collect()
}

#[test]
fn load_state_dict_errors_leave_the_module_unchanged() -> Result<()> {
    let g = seed();
    let model = Sequential::new()
        .add(Linear::new(3, 2, true, &g)?)
        .add(BatchNorm1d::new(2)?);
    let before = snapshot(&model);
    // A full, valid state dict with other values.
    let good: StateDict = model
        .state_dict()
        .into_iter()
        .map(|(k, t)| (k, t.add_scalar(1).unwrap()))
        .collect();

    // Wrong shape: an error naming the key and both shapes; nothing written, not even the
    // valid keys.
    let mut bad = good.clone();
    bad.insert("0.weight".into(), Tensor::zeros([3, 2], DType::F32, CPU)?);
    let e = model.load_state_dict(&bad, true).unwrap_err().to_string();
    assert_eq!(
        e,
        "load_state_dict: key \"0.weight\" has shape [3, 2] in the state dict but [2, 3] in the module"
    );
    assert!(
        model.load_state_dict(&bad, false).is_err(),
        "shape errors are not forgiven"
    );
    assert_eq!(snapshot(&model), before);

    // Missing key.
    let mut missing = good.clone();
    missing.remove("1.running_mean");
    let e = model
        .load_state_dict(&missing, true)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "load_state_dict: missing key \"1.running_mean\"");
    assert_eq!(snapshot(&model), before);

    // Unexpected key.
    let mut extra = good.clone();
    extra.insert("2.weight".into(), Tensor::zeros([1], DType::F32, CPU)?);
    let e = model.load_state_dict(&extra, true).unwrap_err().to_string();
    assert_eq!(e, "load_state_dict: unexpected key \"2.weight\"");
    assert_eq!(snapshot(&model), before);

    // Non-strict: both are reported, and the keys that match are loaded.
    let mut both = missing.clone();
    both.insert("2.weight".into(), Tensor::zeros([1], DType::F32, CPU)?);
    let report = model.load_state_dict(&both, false)?;
    assert_eq!(report.missing_keys, ["1.running_mean"]);
    assert_eq!(report.unexpected_keys, ["2.weight"]);
    let after = snapshot(&model);
    assert_eq!(after["1.running_mean"], before["1.running_mean"]);
    assert_eq!(after["0.weight"], good["0.weight"].to_f64_vec()?);
    assert_eq!(after["1.num_batches_tracked"], vec![1.0]);

    // A strict load of the full dict (in f64: values are cast) writes everything.
    let f64_state: StateDict = good
        .iter()
        .map(|(k, t)| (k.clone(), t.to_dtype(DType::F64).unwrap()))
        .collect();
    model.load_state_dict(&f64_state, true)?;
    assert_eq!(model.state_dict()["0.weight"].dtype(), DType::F32);
    for (k, t) in &good {
        assert_eq!(snapshot(&model)[k], t.to_f64_vec()?, "{k}");
    }
    Ok(())
}

// ---- (5) train / eval ----------------------------------------------------------------------

/// A module that records the mode it was last put in.
struct Probe(Arc<AtomicBool>);

impl Module for Probe {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }
    fn visit(&self, _f: &mut dyn FnMut(Slot<'_>)) {}
    fn set_own_training(&self, training: bool) {
        self.0.store(training, Ordering::Relaxed);
    }
}

#[test]
fn train_and_eval_reach_every_child() -> Result<()> {
    let flags: Vec<Arc<AtomicBool>> = (0..4).map(|_| Arc::new(AtomicBool::new(true))).collect();
    let probe = |i: usize| Probe(flags[i].clone());
    let inner = Sequential::new()
        .add(probe(1))
        .add(Sequential::new().add(probe(2)));
    let list = ModuleList::new().add(probe(3));
    let model = Sequential::new().add(probe(0)).add(inner).add(list);
    let all = |want: bool| flags.iter().all(|f| f.load(Ordering::Relaxed) == want);
    model.eval();
    assert!(all(false));
    model.train();
    assert!(all(true));

    // The same through real layers: in evaluation mode dropout is the identity and batch norm
    // neither uses nor updates batch statistics.
    let model = Sequential::new()
        .add(Sequential::new().add(Dropout::with_seed(0.5, 1)?))
        .add(BatchNorm1d::new(3)?);
    let x = Generator::new(2).randn([16, 3], DType::F32, CPU)?;
    model.eval();
    let y = model.forward(&x)?;
    let want = x.div_scalar((1.0f64 + 1e-5).sqrt())?; // running stats: mean 0, var 1
    assert_close("eval", &y, &want, 1e-6);
    assert_eq!(
        model.state_dict()["1.num_batches_tracked"].item::<i64>()?,
        0
    );
    model.train();
    let y = model.forward(&x)?;
    assert_eq!(
        model.state_dict()["1.num_batches_tracked"].item::<i64>()?,
        1
    );
    let (mean, std, _) = moments(&y);
    assert!(
        mean.abs() < 1e-5 && (std - 1.0).abs() < 1e-3,
        "train: {mean} {std}"
    );
    Ok(())
}

// ---- dropout -------------------------------------------------------------------------------

#[test]
fn dropout_masks() -> Result<()> {
    let x = Tensor::ones([100_000], DType::F32, CPU)?;
    for p in [0.1, 0.5, 0.8] {
        let d = Dropout::with_seed(p, 11)?;
        let y = d.forward(&x)?.to_vec::<f32>()?;
        let kept = 1.0 / (1.0 - p) as f32;
        assert!(y.iter().all(|&v| v == 0.0 || v == kept), "p {p}: values");
        let zeros = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
        assert!((zeros - p).abs() < 0.01, "p {p}: dropped {zeros}");
        // A fresh layer with the same seed draws the same first mask; the next differs.
        let again = Dropout::with_seed(p, 11)?;
        assert_eq!(again.forward(&x)?.to_vec::<f32>()?, y);
        assert_ne!(again.forward(&x)?.to_vec::<f32>()?, y);
    }
    assert_eq!(
        Dropout::with_seed(0.0, 1)?.forward(&x)?.to_vec::<f32>()?,
        x.to_vec::<f32>()?
    );
    assert_eq!(
        Dropout::with_seed(1.0, 1)?.forward(&x)?.to_vec::<f32>()?,
        vec![0.0; 100_000]
    );

    // Gradients flow through the kept elements only, scaled.
    let d = Dropout::with_seed(0.5, 3)?;
    let v = Tensor::ones([1000], DType::F64, CPU)?;
    v.set_requires_grad(true)?;
    let y = d.forward(&v)?;
    y.sum_all()?.backward()?;
    assert_eq!(v.grad().unwrap().to_vec::<f64>()?, y.to_vec::<f64>()?);

    // Seeded from the default generator: `manual_seed` makes it reproducible.
    manual_seed(5);
    let a = Dropout::new(0.5)?.forward(&x)?.to_vec::<f32>()?;
    manual_seed(5);
    let b = Dropout::new(0.5)?.forward(&x)?.to_vec::<f32>()?;
    assert_eq!(a, b);
    Ok(())
}

// ---- containers ----------------------------------------------------------------------------

#[test]
fn containers_name_and_index_children() -> Result<()> {
    let g = seed();
    let block = || -> Result<Sequential> {
        Ok(Sequential::new()
            .add(Linear::new(4, 4, true, &g)?)
            .add(GELU::new()))
    };
    let mut model = Sequential::new().add(block()?);
    model.push(block()?);
    model.push_boxed(Box::new(Linear::new(4, 2, false, &g)?));
    assert_eq!(model.len(), 3);
    assert_eq!(
        model.state_dict().into_keys().collect::<Vec<_>>(),
        [
            "0.0.bias",
            "0.0.weight",
            "1.0.bias",
            "1.0.weight",
            "2.weight"
        ]
    );
    assert_eq!(model[2].parameters().len(), 1);
    assert!(model.get(3).is_none());
    let x = Tensor::ones([5, 4], DType::F32, CPU)?;
    let mut y = x.clone();
    for m in model.iter() {
        y = m.forward(&y)?;
    }
    assert_eq!(model.forward(&x)?.to_vec::<f32>()?, y.to_vec::<f32>()?);
    assert_eq!(
        Sequential::new().forward(&x)?.to_vec::<f32>()?,
        x.to_vec::<f32>()?
    );

    let list: ModuleList = (0..3)
        .map(|_| Box::new(Linear::new(4, 4, false, &g).unwrap()) as Box<dyn Module>)
        .collect();
    assert_eq!(list.named_parameters().len(), 3);
    assert_eq!(list.named_parameters()[2].0, "2.weight");
    assert_eq!(
        list.forward(&x).unwrap_err().to_string(),
        "ModuleList: a list of 3 modules has no forward of its own (input [5, 4]); index it (list[i].forward(x)) or iterate over it"
    );
    assert_eq!(list[1].forward(&x)?.dims(), &[5, 4]);
    Ok(())
}

// ---- errors ------------------------------------------------------------------------------

#[test]
fn bad_inputs_give_errors_that_name_the_layer() -> Result<()> {
    let g = seed();
    let f32s = |shape: &[usize]| Tensor::ones(shape, DType::F32, CPU).unwrap();
    let linear = Linear::new(4, 2, true, &g)?;
    let conv = Conv2d::new(4, 6, [3, 3], Conv2dConfig::default(), true, &g)?;
    let bn1 = BatchNorm1d::new(4)?;
    let bn2 = BatchNorm2d::new(4)?;
    let table: Vec<(Result<Tensor>, &str)> = vec![
        (linear.forward(&f32s(&[8, 3])), "Linear: input [8, 3] has 3 features, expected 4"),
        (linear.forward(&f32s(&[])), "Linear: input [] is a scalar, expected 4"),
        (
            conv.forward(&f32s(&[2, 3, 8, 8])),
            "Conv2d: input [2, 3, 8, 8] has 3 channels, expected 4",
        ),
        (
            conv.forward(&f32s(&[3, 8])),
            "Conv2d: input [3, 8] has rank 2, expected [n, c, h, w] or [c, h, w]",
        ),
        (
            Conv2d::new(3, 6, [3, 3], Conv2dConfig::default().with_groups(2), true, &g)
                .map(|_| f32s(&[1])),
            "Conv2d: in_channels 3 and out_channels 6 must both be divisible by groups 2",
        ),
        (
            bn1.forward(&f32s(&[2, 4, 3, 3])),
            "BatchNorm1d: input [2, 4, 3, 3] has rank 4, expected [n, c] or [n, c, l]",
        ),
        (bn1.forward(&f32s(&[8, 3])), "BatchNorm1d: input [8, 3] has 3 features, expected 4"),
        (
            bn2.forward(&f32s(&[2, 4, 5])),
            "BatchNorm2d: input [2, 4, 5] has rank 3, expected [n, c, h, w]",
        ),
        (
            bn2.forward(&f32s(&[1, 4, 1, 1])),
            "BatchNorm2d: input [1, 4, 1, 1] has 1 value per channel, expected more than 1 in training mode",
        ),
        (
            LayerNorm::new(&[5])?.forward(&f32s(&[3, 4])),
            "LayerNorm: input [3, 4] does not end with the normalized shape [5]",
        ),
        (
            LayerNorm::new(&[]).map(|_| f32s(&[1])),
            "LayerNorm: the normalized shape must have at least one dim",
        ),
        (
            Embedding::new(10, 3, &g)?.forward(&f32s(&[2])),
            "Embedding: got dtype f32, expected an integer dtype for the ids of input [2]",
        ),
        (
            MaxPool2d::new(Pool2dConfig::new(2)).forward(&f32s(&[4, 4])),
            "MaxPool2d: input [4, 4] has rank 2, expected [n, c, h, w] or [c, h, w]",
        ),
        (
            AdaptiveAvgPool2d::new(2, 2).forward(&f32s(&[1, 2, 3, 4, 5])),
            "AdaptiveAvgPool2d: input [1, 2, 3, 4, 5] has rank 5, expected [n, c, h, w] or [c, h, w]",
        ),
        (
            Dropout::with_seed(1.5, 0).map(|_| f32s(&[1])),
            "Dropout: probability 1.5 is outside [0, 1]",
        ),
    ];
    for (got, want) in table {
        match got {
            Ok(t) => panic!(
                "expected the error {want:?}, got a tensor of shape {}",
                t.shape()
            ),
            Err(e) => assert_eq!(e.to_string(), want),
        }
    }
    // In evaluation mode batch norm takes a batch of one.
    bn2.eval();
    assert_eq!(bn2.forward(&f32s(&[1, 4, 1, 1]))?.dims(), &[1, 4, 1, 1]);
    Ok(())
}
