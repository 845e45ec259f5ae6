//! Silica's side of every op the fuzzer draws: one arm per name of `tools/golden/fuzz_ops.py`'s
//! `OPS` table, calling the public API as a user would.

use crate::case::{ints, Args};
use serde_json::Value;
use silica_core::{Conv2dConfig, Device, Generator, PadMode, Pool2dConfig, Result, Scalar, Tensor};
use silica_nn::nn::{
    bce_loss, bce_with_logits, cross_entropy, huber_loss, l1_loss, mse_loss, nll_loss,
    smooth_l1_loss, BatchNorm1d, BatchNorm2d, BatchNormConfig, BceWithLogitsOptions,
    CrossEntropyOptions, LayerNorm, LayerNormConfig, Linear, Module, MultiheadAttention,
    MultiheadAttentionConfig, NllLossOptions, Reduction, StateDict,
};

/// Every op of `fuzz.py`'s `OPS` table, in its order; the fixed-seed file must cover them all.
pub const NAMES: [&str; 62] = [
    "unary",
    "leaky_relu",
    "softplus",
    "clamp",
    "clamp_tensor",
    "binary",
    "scalar",
    "where",
    "masked_fill",
    "lerp",
    "cast",
    "reshape",
    "flatten",
    "squeeze",
    "unsqueeze",
    "permute",
    "transpose",
    "t",
    "expand",
    "narrow",
    "slice",
    "select",
    "chunk",
    "split",
    "cat",
    "stack",
    "triangle",
    "repeat",
    "flip",
    "roll",
    "reduce",
    "reduce_all",
    "norm",
    "arg",
    "extremum",
    "sort",
    "topk",
    "cumulative",
    "matmul",
    "einsum",
    "softmax",
    "conv2d",
    "pool",
    "adaptive_avg_pool2d",
    "pad",
    "batch_norm",
    "linear",
    "layer_norm",
    "batch_norm_eval",
    "multihead_attention",
    "batch_norm_module",
    "index_select",
    "gather",
    "scatter_add",
    "embedding",
    "one_hot",
    "pointwise_loss",
    "class_loss",
    "arange",
    "linspace",
    "eye",
    "full",
];

/// Applies one view of an input's chain, as `fuzz.py`'s `apply_view`.
pub fn view(x: &Tensor, v: &Value) -> Result<Tensor> {
    let int = |i: usize| v[i].as_i64().expect("an integer view argument");
    match v[0].as_str().expect("a view name") {
        "transpose" => x.transpose(int(1) as isize, int(2) as isize),
        "permute" => x.permute(ints(&v[1]).iter().map(|&d| d as isize).collect::<Vec<_>>()),
        "slice" => x.slice(
            int(1) as isize,
            int(2) as isize,
            int(3) as isize,
            int(4) as usize,
        ),
        "select" => x.select(int(1) as isize, int(2) as isize),
        "expand" => x.expand(ints(&v[1])),
        other => panic!("unknown view {other:?}"),
    }
}

/// What an op gives: its outputs, and for a layer, the module parameters that stand for some
/// inputs (input index, parameter), whose gradients are the ones to compare.
pub struct Output {
    pub outs: Vec<Tensor>,
    pub params: Vec<(usize, Tensor)>,
}

/// Runs op `name` on `xs` (the inputs after their views).
pub fn run(name: &str, a: &Args, xs: &[Tensor]) -> Result<Output> {
    if let Some(layer) = layer(name, a, xs) {
        return layer;
    }
    let outs = function(name, a, xs)?;
    Ok(Output {
        outs,
        params: Vec::new(),
    })
}

/// The layers: the module is built, the parameter and buffer inputs are loaded into it, and it
/// runs on `xs[0]`.
fn layer(name: &str, a: &Args, xs: &[Tensor]) -> Option<Result<Output>> {
    let dtype = xs.first()?.dtype();
    let (module, slots): (Result<Box<dyn Module>>, &[Slot]) = match name {
        "linear" => {
            let w = &xs[1];
            let layer = Linear::new(w.dims()[1], w.dims()[0], a.bool("bias"), &Generator::new(0));
            (
                dynamic(layer.and_then(|l| l.to(dtype, Device::Cpu))),
                &[("weight", 1), ("bias", 2)],
            )
        }
        "layer_norm" => {
            let shape: Vec<usize> = a
                .ints("normalized_shape")
                .iter()
                .map(|&s| s as usize)
                .collect();
            let cfg = LayerNormConfig {
                eps: a.f64("eps"),
                elementwise_affine: a.bool("affine"),
            };
            let layer = LayerNorm::with_config(&shape, cfg);
            (
                dynamic(layer.and_then(|l| l.to(dtype, Device::Cpu))),
                &[("weight", 1), ("bias", 2)],
            )
        }
        "batch_norm_eval" => {
            let cfg = BatchNormConfig {
                eps: a.f64("eps"),
                affine: a.bool("affine"),
                ..BatchNormConfig::default()
            };
            let c = xs[1].dims()[0];
            let layer = if xs[0].rank() == 4 {
                dynamic(BatchNorm2d::with_config(c, cfg).and_then(|l| l.to(dtype, Device::Cpu)))
            } else {
                dynamic(BatchNorm1d::with_config(c, cfg).and_then(|l| l.to(dtype, Device::Cpu)))
            };
            let slots: &[Slot] = &[
                ("running_mean", 1),
                ("running_var", 2),
                ("weight", 3),
                ("bias", 4),
            ];
            (layer, slots)
        }
        "multihead_attention" => return Some(attention(a, xs)),
        "batch_norm_module" => return Some(batch_norm_step(a, xs)),
        _ => return None,
    };
    Some(module.and_then(|m| load_and_run(m.as_ref(), slots, xs, name == "batch_norm_eval")))
}

/// A `BatchNorm` layer's training step: inputs x, running mean, running variance,
/// num_batches_tracked, then weight and bias; outputs y and the running statistics after it.
fn batch_norm_step(a: &Args, xs: &[Tensor]) -> Result<Output> {
    let momentum = a.0["momentum"].as_f64();
    let cfg = BatchNormConfig {
        eps: a.f64("eps"),
        momentum,
        affine: a.bool("affine"),
        track_running_stats: true,
    };
    let (c, dtype) = (xs[1].dims()[0], xs[0].dtype());
    let layer = if xs[0].rank() == 4 {
        dynamic(BatchNorm2d::with_config(c, cfg).and_then(|l| l.to(dtype, Device::Cpu)))
    } else {
        dynamic(BatchNorm1d::with_config(c, cfg).and_then(|l| l.to(dtype, Device::Cpu)))
    }?;
    let slots: &[Slot] = &[
        ("running_mean", 1),
        ("running_var", 2),
        ("num_batches_tracked", 3),
        ("weight", 4),
        ("bias", 5),
    ];
    let mut out = load_and_run(layer.as_ref(), slots, xs, false)?;
    let buffers: StateDict = layer.named_buffers().into_iter().collect();
    for key in ["running_mean", "running_var"] {
        out.outs.push(buffers[key].clone());
    }
    Ok(out)
}

/// `MultiheadAttention` in evaluation mode: `args.slots` names the input of each of query, key,
/// value, the parameters and the masks (key and value absent for self-attention).
fn attention(a: &Args, xs: &[Tensor]) -> Result<Output> {
    const PARAMS: [&str; 4] = [
        "in_proj_weight",
        "in_proj_bias",
        "out_proj.weight",
        "out_proj.bias",
    ];
    let slots = &a.0["slots"];
    let index = |key: &str| slots.get(key).and_then(|i| i.as_u64()).map(|i| i as usize);
    let query = &xs[0];
    let cfg = MultiheadAttentionConfig {
        dropout: 0.0,
        bias: a.bool("bias"),
        batch_first: a.bool("batch_first"),
    };
    let embed = query.dims().last().copied().unwrap_or(0);
    let layer = MultiheadAttention::with_config(embed, a.usize("heads"), cfg, &Generator::new(0))?
        .to(query.dtype(), Device::Cpu)?;
    let present: Vec<(&str, usize)> = PARAMS
        .into_iter()
        .filter_map(|key| index(key).map(|i| (key, i)))
        .collect();
    let state: StateDict = present
        .iter()
        .map(|&(key, i)| (key.to_string(), xs[i].clone()))
        .collect();
    layer.load_state_dict(&state, true)?;
    layer.eval();
    // Self-attention passes the query tensor itself three times, as a user would.
    let (key, value) = match (index("key"), index("value")) {
        (Some(k), Some(v)) => (&xs[k], &xs[v]),
        _ => (query, query),
    };
    let mask = |key: &str| index(key).map(|i| &xs[i]);
    let out = layer.forward_qkv(
        query,
        key,
        value,
        mask("attn_mask"),
        mask("key_padding_mask"),
    )?;
    let own: StateDict = layer.named_parameters().into_iter().collect();
    let params = present
        .iter()
        .filter_map(|&(key, i)| own.get(key).map(|p| (i, p.clone())))
        .collect();
    Ok(Output {
        outs: vec![out],
        params,
    })
}

/// A state-dict key of a layer and the input that fills it.
type Slot = (&'static str, usize);

fn dynamic<M: Module + 'static>(m: Result<M>) -> Result<Box<dyn Module>> {
    m.map(|m| Box::new(m) as Box<dyn Module>)
}

fn load_and_run(module: &dyn Module, slots: &[Slot], xs: &[Tensor], eval: bool) -> Result<Output> {
    let present: Vec<Slot> = slots
        .iter()
        .copied()
        .filter(|&(_, i)| i < xs.len())
        .collect();
    let state: StateDict = present
        .iter()
        .map(|&(key, i)| (key.to_string(), xs[i].clone()))
        .collect();
    module.load_state_dict(&state, false)?;
    if eval {
        module.eval();
    }
    let own: StateDict = module.named_parameters().into_iter().collect();
    let params = present
        .iter()
        .filter_map(|&(key, i)| own.get(key).map(|p| (i, p.clone())))
        .collect();
    Ok(Output {
        outs: vec![module.forward(&xs[0])?],
        params,
    })
}

/// The ops that are functions of their inputs.
fn function(name: &str, a: &Args, xs: &[Tensor]) -> Result<Vec<Tensor>> {
    let one = |t: Result<Tensor>| t.map(|t| vec![t]);
    let Some(x) = xs.first() else {
        return one(create(name, a));
    };
    match name {
        "unary" => one(unary(a.str("fn"), x)),
        "leaky_relu" => one(x.leaky_relu(a.f64("slope"))),
        "softplus" => one(x.softplus_with(a.f64("beta"), a.f64("threshold"))),
        "clamp" => one(match a.str("which") {
            "both" => x.clamp(a.scalar("min"), a.scalar("max")),
            "min" => x.clamp_min(a.scalar("min")),
            _ => x.clamp_max(a.scalar("max")),
        }),
        "clamp_tensor" => one(match a.str("which") {
            "both" => x.clamp_tensor(Some(&xs[1]), Some(&xs[2])),
            "min" => x.clamp_tensor(Some(&xs[1]), None),
            _ => x.clamp_tensor(None, Some(&xs[1])),
        }),
        "binary" => one(binary(a.str("fn"), x, &xs[1])),
        "scalar" => one(scalar_op(a.str("fn"), x, a.scalar("s"))),
        "where" => one(x.where_cond(&xs[1], &xs[2])),
        "masked_fill" => one(x.masked_fill(&xs[1], a.scalar("value"))),
        "lerp" if a.has("weight") => one(x.lerp_scalar(&xs[1], a.f64("weight"))),
        "lerp" => one(x.lerp(&xs[1], &xs[2])),
        "cast" => one(x.to_dtype(a.dtype("to"))),
        "reshape" if a.bool("view") => one(x.view(a.ints("shape"))),
        "reshape" => one(x.reshape(a.ints("shape"))),
        "flatten" if a.bool("all") => one(x.flatten_all()),
        "flatten" => one(x.flatten(a.isize("start"), a.isize("end"))),
        "squeeze" if a.has("dim") => one(x.squeeze(a.isize("dim"))),
        "squeeze" => one(x.squeeze_all()),
        "unsqueeze" => one(x.unsqueeze(a.isize("dim"))),
        "permute" => one(x.permute(a.ints("dims"))),
        "transpose" => one(x.transpose(a.isize("d0"), a.isize("d1"))),
        "t" => one(x.t()),
        "expand" => {
            let spec = a.ints("shape");
            // `broadcast_to` takes a plain shape; with a -1 in it, PyTorch's broadcast_to is
            // expand.
            if a.bool("broadcast_to") && spec.iter().all(|&s| s >= 0) {
                one(x.broadcast_to(spec.iter().map(|&s| s as usize).collect::<Vec<_>>()))
            } else {
                one(x.expand(spec))
            }
        }
        "narrow" => one(x.narrow(a.isize("dim"), a.usize("start"), a.usize("len"))),
        "slice" => one(x.slice(
            a.isize("dim"),
            a.isize("start"),
            a.isize("end"),
            a.usize("step"),
        )),
        "select" => one(x.select(a.isize("dim"), a.isize("index"))),
        "chunk" => x.chunk(a.usize("chunks"), a.isize("dim")),
        "split" => x.split(a.usize("size"), a.isize("dim")),
        "cat" | "stack" => {
            let refs: Vec<&Tensor> = xs.iter().collect();
            one(if a.bool("stack") {
                Tensor::stack(&refs, a.isize("dim"))
            } else {
                Tensor::cat(&refs, a.isize("dim"))
            })
        }
        "triangle" if a.str("fn") == "tril" => one(x.tril(a.i64("diagonal"))),
        "triangle" => one(x.triu(a.i64("diagonal"))),
        "repeat" => {
            let repeats: Vec<usize> = a.ints("repeats").iter().map(|&r| r as usize).collect();
            one(x.repeat(&repeats))
        }
        "flip" => one(x.flip(a.ints("dims"))),
        "roll" => one(x.roll(&a.ints("shifts"), a.ints("dims"))),
        "reduce" => one(reduce(a, x)),
        "reduce_all" => one(match a.str("fn") {
            "sum_all" => x.sum_all(),
            "mean_all" => x.mean_all(),
            "max_all" => x.max_all(),
            _ => x.min_all(),
        }),
        "norm" => {
            let ord: f64 = a.str("ord").parse().expect("a norm order");
            one(x.norm(ord, a.ints("dims"), a.bool("keepdim")))
        }
        "arg" => one(if a.str("fn") == "argmax" {
            x.argmax(a.isize("dim"), a.bool("keepdim"))
        } else {
            x.argmin(a.isize("dim"), a.bool("keepdim"))
        }),
        "extremum" => {
            let (dim, keep) = (a.isize("dim"), a.bool("keepdim"));
            let (values, indices) = if a.str("fn") == "max" {
                x.max_dim(dim, keep)?
            } else {
                x.min_dim(dim, keep)?
            };
            Ok(vec![values, indices])
        }
        "sort" => {
            let (values, indices) = x.sort(a.isize("dim"), a.bool("descending"))?;
            Ok(if a.bool("argsort") {
                vec![indices]
            } else {
                vec![values, indices]
            })
        }
        "topk" => {
            let (values, indices) = x.topk(a.usize("k"), a.isize("dim"), a.bool("largest"))?;
            Ok(vec![values, indices])
        }
        "cumulative" if a.str("fn") == "cumsum" => one(x.cumsum(a.isize("dim"))),
        "cumulative" => one(x.cumprod(a.isize("dim"))),
        "matmul" => one(x.matmul(&xs[1])),
        "einsum" => {
            let refs: Vec<&Tensor> = xs.iter().collect();
            one(Tensor::einsum(a.str("equation"), &refs))
        }
        "softmax" if a.bool("log") => one(x.log_softmax(a.isize("dim"))),
        "softmax" => one(x.softmax(a.isize("dim"))),
        "conv2d" => {
            let cfg = Conv2dConfig {
                stride: a.pair("stride"),
                padding: a.pair("padding"),
                dilation: a.pair("dilation"),
                groups: a.usize("groups"),
            };
            one(x.conv2d(&xs[1], a.bool("bias").then(|| &xs[2]), &cfg))
        }
        "pool" => {
            let cfg = Pool2dConfig {
                kernel: a.pair("kernel"),
                stride: a.pair("stride"),
                padding: a.pair("padding"),
                ceil_mode: a.bool("ceil_mode"),
                count_include_pad: a.bool("count_include_pad"),
            };
            one(if a.str("fn") == "max" {
                x.max_pool2d(&cfg)
            } else {
                x.avg_pool2d(&cfg)
            })
        }
        "adaptive_avg_pool2d" => {
            let [h, w] = a.pair("out");
            one(x.adaptive_avg_pool2d(h, w))
        }
        "pad" => {
            let pads: Vec<usize> = a.ints("pads").iter().map(|&p| p as usize).collect();
            let mode = match a.str("mode") {
                "constant" => PadMode::Constant(a.f64("value")),
                "reflect" => PadMode::Reflect,
                "replicate" => PadMode::Replicate,
                _ => PadMode::Circular,
            };
            one(x.pad(&pads, mode))
        }
        "batch_norm" => {
            let (w, b) = if a.bool("affine") {
                (Some(&xs[1]), Some(&xs[2]))
            } else {
                (None, None)
            };
            let (y, mean, var) = x.batch_norm_train(w, b, a.f64("eps"))?;
            Ok(vec![y, mean, var])
        }
        "index_select" => one(x.index_select(a.isize("dim"), &xs[1])),
        "gather" => one(x.gather(a.isize("dim"), &xs[1])),
        "scatter_add" => one(x.scatter_add(a.isize("dim"), &xs[1], &xs[2])),
        "embedding" => one(x.embedding(&xs[1])),
        "one_hot" => one(x.one_hot(a.has("classes").then(|| a.usize("classes")))),
        "pointwise_loss" => one(pointwise_loss(a, xs)),
        "class_loss" => one(class_loss(a, xs)),
        other => panic!("unknown op {other:?}"),
    }
}

/// The ops without tensor inputs.
fn create(name: &str, a: &Args) -> Result<Tensor> {
    let dtype = a.dtype("dtype");
    match name {
        "arange" => Tensor::arange(
            a.f64("start"),
            a.f64("end"),
            a.f64("step"),
            dtype,
            Device::Cpu,
        ),
        "linspace" => Tensor::linspace(
            a.f64("start"),
            a.f64("end"),
            a.usize("steps"),
            dtype,
            Device::Cpu,
        ),
        "eye" => Tensor::eye(a.usize("n"), dtype, Device::Cpu),
        "full" => {
            let shape: Vec<usize> = a.ints("shape").iter().map(|&s| s as usize).collect();
            Tensor::full(shape, a.scalar("value"), dtype, Device::Cpu)
        }
        other => panic!("unknown op {other:?}"),
    }
}

fn unary(f: &str, x: &Tensor) -> Result<Tensor> {
    match f {
        "neg" => x.neg(),
        "abs" => x.abs(),
        "exp" => x.exp(),
        "log" => x.log(),
        "log1p" => x.log1p(),
        "sqrt" => x.sqrt(),
        "rsqrt" => x.rsqrt(),
        "square" => x.square(),
        "sin" => x.sin(),
        "cos" => x.cos(),
        "tanh" => x.tanh(),
        "sigmoid" => x.sigmoid(),
        "relu" => x.relu(),
        "gelu" => x.gelu(),
        "gelu_tanh" => x.gelu_tanh(),
        "silu" => x.silu(),
        "erf" => x.erf(),
        "sign" => x.sign(),
        "floor" => x.floor(),
        "ceil" => x.ceil(),
        "round" => x.round(),
        "recip" => x.recip(),
        "isnan" => x.isnan(),
        "logical_not" => x.logical_not(),
        "contiguous" => x.contiguous(),
        other => panic!("unknown unary op {other:?}"),
    }
}

fn binary(f: &str, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    match f {
        "add" => a.add(b),
        "sub" => a.sub(b),
        "mul" => a.mul(b),
        "div" => a.div(b),
        "pow" => a.pow(b),
        "maximum" => a.maximum(b),
        "minimum" => a.minimum(b),
        "eq" => a.eq(b),
        "ne" => a.ne(b),
        "lt" => a.lt(b),
        "le" => a.le(b),
        "gt" => a.gt(b),
        "ge" => a.ge(b),
        "logical_and" => a.logical_and(b),
        "logical_or" => a.logical_or(b),
        other => panic!("unknown binary op {other:?}"),
    }
}

fn scalar_op(f: &str, x: &Tensor, s: Scalar) -> Result<Tensor> {
    match f {
        "add_scalar" => x.add_scalar(s),
        "sub_scalar" => x.sub_scalar(s),
        "mul_scalar" => x.mul_scalar(s),
        "div_scalar" => x.div_scalar(s),
        "pow_scalar" => x.pow_scalar(s),
        "maximum_scalar" => x.maximum_scalar(s),
        "minimum_scalar" => x.minimum_scalar(s),
        "eq_scalar" => x.eq_scalar(s),
        "ne_scalar" => x.ne_scalar(s),
        "lt_scalar" => x.lt_scalar(s),
        "le_scalar" => x.le_scalar(s),
        "gt_scalar" => x.gt_scalar(s),
        "ge_scalar" => x.ge_scalar(s),
        other => panic!("unknown scalar op {other:?}"),
    }
}

fn reduce(a: &Args, x: &Tensor) -> Result<Tensor> {
    let dims: Vec<isize> = a.ints("dims").iter().map(|&d| d as isize).collect();
    let keep = a.bool("keepdim");
    let correction = || a.usize("correction");
    match a.str("fn") {
        "sum" => x.sum(dims, keep),
        "mean" => x.mean(dims, keep),
        "max" => x.max(dims, keep),
        "min" => x.min(dims, keep),
        "logsumexp" => x.logsumexp(dims, keep),
        "var" => x.var(dims, correction(), keep),
        "std" => x.std(dims, correction(), keep),
        "prod" => x.prod(dims, keep),
        other => panic!("unknown reduction {other:?}"),
    }
}

fn reduction(a: &Args) -> Reduction {
    match a.str("reduction") {
        "none" => Reduction::None,
        "sum" => Reduction::Sum,
        _ => Reduction::Mean,
    }
}

fn pointwise_loss(a: &Args, xs: &[Tensor]) -> Result<Tensor> {
    let (x, t, red, p) = (&xs[0], &xs[1], reduction(a), a.f64("param"));
    let mut rest = xs[2..].iter();
    let weight = a
        .has("weight")
        .then(|| rest.next().expect("a weight input"));
    match a.str("fn") {
        "mse" => mse_loss(x, t, red),
        "l1" => l1_loss(x, t, red),
        "smooth_l1" => smooth_l1_loss(x, t, p, red),
        "huber" => huber_loss(x, t, p, red),
        "bce" => bce_loss(x, t, weight, red),
        _ => {
            let opts = BceWithLogitsOptions {
                weight: weight.cloned(),
                pos_weight: a.has("pos_weight").then(|| rest.next().cloned()).flatten(),
                reduction: red,
            };
            bce_with_logits(x, t, &opts)
        }
    }
}

fn class_loss(a: &Args, xs: &[Tensor]) -> Result<Tensor> {
    let weight = a.bool("weight").then(|| xs[2].clone());
    if a.str("fn") == "nll" {
        let opts = NllLossOptions {
            weight,
            ignore_index: a.i64("ignore_index"),
            reduction: reduction(a),
        };
        return nll_loss(&xs[0], &xs[1], &opts);
    }
    let opts = CrossEntropyOptions {
        weight,
        ignore_index: a.i64("ignore_index"),
        label_smoothing: a.f64("smoothing"),
        reduction: reduction(a),
    };
    cross_entropy(&xs[0], &xs[1], &opts)
}
