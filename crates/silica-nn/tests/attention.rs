//! `MultiheadAttention` and `TransformerEncoderLayer` against PyTorch 1.13
//! (`testdata/golden/attention.safetensors`, written by `tools/golden/gen_losses.py`): each
//! module loads PyTorch's `state_dict` strictly, and its output and the gradients of every input
//! and parameter must match, in f32 and f64.

use silica_core::{safetensors, DType, Device, Generator, Result, Tensor};
use silica_nn::nn::{
    causal_mask, Module, MultiheadAttention, MultiheadAttentionConfig, StateDict,
    TransformerActivation, TransformerEncoderLayer, TransformerEncoderLayerConfig,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

type Golden = BTreeMap<String, Tensor>;

fn golden() -> &'static Golden {
    static G: OnceLock<Golden> = OnceLock::new();
    G.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/golden/attention.safetensors");
        safetensors::load(&path, Device::Cpu).unwrap_or_else(|e| {
            panic!(
                "cannot read {}: {e} (run tools/golden/gen.sh)",
                path.display()
            )
        })
    })
}

fn get(key: &str) -> Tensor {
    golden()
        .get(key)
        .unwrap_or_else(|| panic!("no golden tensor {key:?}"))
        .clone()
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

const DTYPES: [(&str, DType, f64); 2] = [("f32", DType::F32, 1e-4), ("f64", DType::F64, 1e-10)];

/// The state dict stored for case `name` in dtype `dt`.
fn state(name: &str, dt: &str) -> StateDict {
    let prefix = format!("{name}.{dt}.state.");
    golden()
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_string(), v.clone())))
        .collect()
}

/// A golden input as a fresh leaf that requires grad.
fn input(name: &str, dt: &str, key: &str) -> Tensor {
    let t = get(&format!("{name}.{dt}.{key}")).detach();
    t.set_requires_grad(true).unwrap();
    t
}

/// Loads case `name` into `module` (strictly), runs `run`, and compares the output and the
/// gradients of `sum(out * w)` for the inputs and every parameter.
fn check_case(
    name: &str,
    dt: &str,
    tol: f64,
    module: &dyn Module,
    inputs: &[(&str, &Tensor)],
    run: &dyn Fn() -> Result<Tensor>,
) {
    let report = module.load_state_dict(&state(name, dt), true).unwrap();
    assert!(report.missing_keys.is_empty() && report.unexpected_keys.is_empty());
    module.zero_grad();
    for (_, x) in inputs {
        x.set_grad(None).unwrap();
    }
    let what = format!("{name}.{dt}");
    let out = run().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_close(
        &format!("{what} out"),
        &out,
        &get(&format!("{what}.out")),
        tol,
    );
    let w = get(&format!("{what}.w"));
    out.mul(&w).unwrap().sum_all().unwrap().backward().unwrap();
    for (key, x) in inputs {
        let want = get(&format!("{what}.grad.{key}"));
        assert_close(
            &format!("{what} grad {key}"),
            &x.grad().unwrap(),
            &want,
            tol,
        );
    }
    let params = module.named_parameters();
    assert_eq!(params.len(), module.state_dict().len());
    for (key, p) in params {
        let want = get(&format!("{what}.grad.state.{key}"));
        let got = p
            .grad()
            .unwrap_or_else(|| panic!("{what}: no gradient for {key}"));
        assert_close(&format!("{what} grad {key}"), &got, &want, tol);
    }
}

fn mha(bias: bool, dtype: DType) -> MultiheadAttention {
    let cfg = MultiheadAttentionConfig {
        bias,
        ..Default::default()
    };
    MultiheadAttention::with_config(8, 2, cfg, &Generator::new(1))
        .unwrap()
        .to(dtype, Device::Cpu)
        .unwrap()
}

#[test]
fn causal_mask_matches_pytorch() {
    let want = get("causal_mask.f64");
    let got = causal_mask(5, Device::Cpu).unwrap();
    let neg_inf = want.eq_scalar(f64::NEG_INFINITY).unwrap();
    assert_eq!(
        got.to_vec::<bool>().unwrap(),
        neg_inf.to_vec::<bool>().unwrap()
    );
}

#[test]
fn self_attention_with_causal_mask_matches_pytorch() {
    for name in ["mha_causal", "mha_nobias_causal"] {
        for (dt, dtype, tol) in DTYPES {
            let m = mha(name == "mha_causal", dtype);
            let x = input(name, dt, "x");
            // PyTorch's float mask (0 / -inf), and the equivalent boolean mask.
            let float_mask = get(&format!("causal_mask.{dt}"));
            let bool_mask = causal_mask(5, Device::Cpu).unwrap();
            for mask in [&float_mask, &bool_mask] {
                check_case(name, dt, tol, &m, &[("x", &x)], &|| {
                    m.forward_qkv(&x, &x, &x, Some(mask), None)
                });
            }
            // Distinct handles of the same values take the unfused projection path.
            let (k, v) = (x.copy().unwrap(), x.copy().unwrap());
            check_case(name, dt, tol, &m, &[("x", &x)], &|| {
                m.forward_qkv(&x, &k, &v, Some(&bool_mask), None)
            });
        }
    }
}

#[test]
fn cross_attention_with_key_padding_matches_pytorch() {
    for name in ["mha_padding", "mha_padding_bool_mask"] {
        for (dt, dtype, tol) in DTYPES {
            let m = mha(true, dtype);
            let (q, k, v) = (
                input(name, dt, "q"),
                input(name, dt, "k"),
                input(name, dt, "v"),
            );
            let kpm = get(&format!("{name}.key_padding_mask"));
            let attn_mask = golden().get(&format!("{name}.attn_mask")).cloned();
            check_case(
                name,
                dt,
                tol,
                &m,
                &[("q", &q), ("k", &k), ("v", &v)],
                &|| m.forward_qkv(&q, &k, &v, attn_mask.as_ref(), Some(&kpm)),
            );
            // The same masks as additive floats.
            let to_float = |mask: &Tensor| -> Tensor {
                let zero = Tensor::zeros((), dtype, Device::Cpu).unwrap();
                let inf = Tensor::full((), f64::NEG_INFINITY, dtype, Device::Cpu).unwrap();
                mask.where_cond(&inf, &zero).unwrap()
            };
            let kpm_f = to_float(&kpm);
            let attn_f = attn_mask.as_ref().map(to_float);
            check_case(
                name,
                dt,
                tol,
                &m,
                &[("q", &q), ("k", &k), ("v", &v)],
                &|| m.forward_qkv(&q, &k, &v, attn_f.as_ref(), Some(&kpm_f)),
            );
        }
    }
}

fn encoder(
    norm_first: bool,
    activation: TransformerActivation,
    dtype: DType,
) -> TransformerEncoderLayer {
    let cfg = TransformerEncoderLayerConfig {
        dim_feedforward: 16,
        dropout: 0.0,
        activation,
        norm_first,
        causal: true,
        ..Default::default()
    };
    TransformerEncoderLayer::new(8, 2, cfg, &Generator::new(2))
        .unwrap()
        .to(dtype, Device::Cpu)
        .unwrap()
}

#[test]
fn pre_norm_gelu_encoder_layer_with_causal_mask_matches_pytorch() {
    let name = "enc_prenorm_gelu";
    for (dt, dtype, tol) in DTYPES {
        let layer = encoder(true, TransformerActivation::Gelu, dtype);
        let x = input(name, dt, "x");
        let mask = get(&format!("{name}.mask")).to_dtype(dtype).unwrap();
        check_case(name, dt, tol, &layer, &[("x", &x)], &|| {
            layer.forward_masked(&x, Some(&mask), None)
        });
        // Module::forward applies the causal mask itself.
        check_case(name, dt, tol, &layer, &[("x", &x)], &|| layer.forward(&x));
    }
}

#[test]
fn post_norm_relu_encoder_layer_with_key_padding_matches_pytorch() {
    let name = "enc_postnorm_relu_padding";
    for (dt, dtype, tol) in DTYPES {
        let layer = encoder(false, TransformerActivation::Relu, dtype);
        let x = input(name, dt, "x");
        let kpm = get(&format!("{name}.key_padding_mask"));
        check_case(name, dt, tol, &layer, &[("x", &x)], &|| {
            layer.forward_masked(&x, None, Some(&kpm))
        });
    }
}

#[test]
fn state_dict_names_are_pytorchs() {
    let layer = encoder(true, TransformerActivation::Gelu, DType::F32);
    let keys: Vec<String> = layer.state_dict().into_keys().collect();
    let want: Vec<String> = state("enc_prenorm_gelu", "f32").into_keys().collect();
    assert_eq!(keys, want);
    let names: Vec<String> = layer.named_parameters().into_iter().map(|p| p.0).collect();
    assert_eq!(
        names,
        [
            "self_attn.in_proj_weight",
            "self_attn.in_proj_bias",
            "self_attn.out_proj.weight",
            "self_attn.out_proj.bias",
            "linear1.weight",
            "linear1.bias",
            "linear2.weight",
            "linear2.bias",
            "norm1.weight",
            "norm1.bias",
            "norm2.weight",
            "norm2.bias",
        ]
    );
}

#[test]
fn default_init_is_pytorchs() {
    let m = MultiheadAttention::new(12, 3, &Generator::new(0)).unwrap();
    let sd = m.state_dict();
    assert_eq!(
        sd["in_proj_bias"]
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar()
            .unwrap(),
        0.0
    );
    assert_eq!(
        sd["out_proj.bias"]
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar()
            .unwrap(),
        0.0
    );
    // Xavier-uniform on [36, 12]: bound sqrt(6 / (12 + 36)).
    let w = sd["in_proj_weight"]
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap();
    let bound = (6.0f64 / 48.0).sqrt();
    assert!(w <= bound && w > 0.8 * bound, "{w} vs {bound}");
    // out_proj.weight as Linear's: U(-1/sqrt(12), 1/sqrt(12)).
    let w = sd["out_proj.weight"]
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!(w <= 1.0 / 12f64.sqrt(), "{w}");
    for (_, p) in m.named_parameters() {
        assert!(p.requires_grad());
    }
}

#[test]
fn sequence_first_layout_matches_batch_first() {
    let name = "mha_padding";
    let g = Generator::new(3);
    let seq_first = MultiheadAttentionConfig {
        batch_first: false,
        ..Default::default()
    };
    let a = MultiheadAttention::new(8, 2, &g).unwrap();
    let b = MultiheadAttention::with_config(8, 2, seq_first, &g).unwrap();
    a.load_state_dict(&state(name, "f32"), true).unwrap();
    b.load_state_dict(&state(name, "f32"), true).unwrap();
    let (q, k, v) = (
        get("mha_padding.f32.q"),
        get("mha_padding.f32.k"),
        get("mha_padding.f32.v"),
    );
    let kpm = get("mha_padding.key_padding_mask");
    let want = a.forward_qkv(&q, &k, &v, None, Some(&kpm)).unwrap();
    let t = |x: &Tensor| x.transpose(0, 1).unwrap();
    let got = b
        .forward_qkv(&t(&q), &t(&k), &t(&v), None, Some(&kpm))
        .unwrap();
    assert_close("seq first", &t(&got), &want, 1e-6);
    // Unbatched [T, E] inputs give one batch entry.
    let q0 = q.select(0, 0).unwrap();
    let (k0, v0) = (k.select(0, 0).unwrap(), v.select(0, 0).unwrap());
    let kpm0 = kpm.select(0, 0).unwrap();
    let got = a.forward_qkv(&q0, &k0, &v0, None, Some(&kpm0)).unwrap();
    assert_close("unbatched", &got, &want.select(0, 0).unwrap(), 1e-6);
}

#[test]
fn dropout_follows_train_and_eval() {
    let cfg = TransformerEncoderLayerConfig {
        dim_feedforward: 32,
        dropout: 0.5,
        ..Default::default()
    };
    let layer = TransformerEncoderLayer::new(8, 2, cfg, &Generator::new(4)).unwrap();
    let x = Tensor::randn([2, 6, 8], DType::F32, Device::Cpu).unwrap();
    let a = layer.forward(&x).unwrap().to_vec::<f32>().unwrap();
    let b = layer.forward(&x).unwrap().to_vec::<f32>().unwrap();
    assert_ne!(a, b, "training mode must drop");
    layer.eval();
    let a = layer.forward(&x).unwrap().to_vec::<f32>().unwrap();
    let b = layer.forward(&x).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(a, b, "evaluation mode must not drop");
    // Only the attention weights' dropout (which is not a child) left in training mode.
    layer.self_attn().train();
    let c = layer.forward(&x).unwrap().to_vec::<f32>().unwrap();
    assert_ne!(a, c, "self_attn.train() must re-enable attention dropout");
}

#[test]
fn errors() {
    let g = Generator::new(5);
    let err = MultiheadAttention::new(10, 3, &g).unwrap_err().to_string();
    assert!(
        err.contains("embed_dim 10") && err.contains("num_heads 3"),
        "{err}"
    );
    let m = MultiheadAttention::new(8, 2, &g).unwrap();
    let x = Tensor::zeros([2, 5, 8], DType::F32, Device::Cpu).unwrap();
    type Bad<'a> = Box<dyn Fn() -> Result<Tensor> + 'a>;
    let cases: Vec<(&str, Bad, &[&str])> = vec![
        (
            "wrong width",
            Box::new(|| m.forward(&Tensor::zeros([2, 5, 6], DType::F32, Device::Cpu)?)),
            &["MultiheadAttention", "[2, 5, 6]", "8"],
        ),
        (
            "attention mask of the wrong size",
            Box::new(|| m.forward_qkv(&x, &x, &x, Some(&causal_mask(4, Device::Cpu)?), None)),
            &["attn_mask", "[4, 4]", "[5, 5]", "[4, 5, 5]"],
        ),
        (
            "key padding mask of the wrong size",
            Box::new(|| {
                let kpm = Tensor::zeros([2, 4], DType::Bool, Device::Cpu)?;
                m.forward_qkv(&x, &x, &x, None, Some(&kpm))
            }),
            &["key_padding_mask", "[2, 4]", "[2, 5]"],
        ),
        (
            "integer mask",
            Box::new(|| {
                let mask = Tensor::zeros([5, 5], DType::I64, Device::Cpu)?;
                m.forward_qkv(&x, &x, &x, Some(&mask), None)
            }),
            &["MultiheadAttention", "i64", "bool or float"],
        ),
        (
            "keys and values of different lengths",
            Box::new(|| {
                let v = Tensor::zeros([2, 4, 8], DType::F32, Device::Cpu)?;
                m.forward_qkv(&x, &x, &v, None, None)
            }),
            &["MultiheadAttention", "[2, 5, 8]", "[2, 4, 8]"],
        ),
    ];
    for (what, f, fragments) in cases {
        let msg = match f() {
            Ok(t) => panic!("{what}: expected an error, got {t:?}"),
            Err(e) => e.to_string(),
        };
        for frag in fragments {
            assert!(
                msg.contains(frag),
                "{what}: {msg:?} does not mention {frag:?}"
            );
        }
    }
}

/// Found by the differential fuzzer: a query whose every key is masked gives NaN, and so do the
/// gradients through it, as in PyTorch, which adds a bool mask as 0 / -inf (a `where` would
/// give those gradients 0 and hide the NaN output from the parameters).
#[test]
fn a_fully_masked_row_is_nan_with_nan_gradients() -> Result<()> {
    let attn = mha(true, DType::F64);
    let q = Tensor::randn([1, 2, 8], DType::F64, Device::Cpu)?;
    let kv = Tensor::randn([1, 2, 8], DType::F64, Device::Cpu)?;
    q.set_requires_grad(true)?;
    // Query 0 sees no key; query 1 sees both.
    let mask = Tensor::from_slice(&[true, true, false, false], [2, 2], Device::Cpu)?;
    let y = attn.forward_qkv(&q, &kv, &kv, Some(&mask), None)?;
    let rows = y.to_vec::<f64>()?;
    assert!(rows[..8].iter().all(|v| v.is_nan()) && rows[8..].iter().all(|v| v.is_finite()));
    // The query reaches the output only through the scores, which the mask replaced.
    y.sum_all()?.backward()?;
    let g = q.grad().expect("a gradient").to_vec::<f64>()?;
    assert!(g[..8].iter().all(|v| v.is_nan()), "{g:?}");
    assert!(g[8..].iter().all(|v| v.is_finite()), "{g:?}");
    Ok(())
}
