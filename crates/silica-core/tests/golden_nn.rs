//! Golden tests against PyTorch 1.13 for matmul, softmax, conv2d, pooling, padding, indexing
//! and creation ops, forward values and input gradients, in f32 and f64. Dropout, whose
//! random stream cannot match PyTorch's, is checked by its properties instead.
//!
//! The reference files come from `tools/golden/gen_nn.py` (see its docstring for the layout):
//! each case stores its *base* inputs, and the case function here applies the same views
//! (`t()`, `transpose`, stepped `slice`) as the Python side did, so many cases run on
//! non-contiguous tensors. Gradients are those of `sum(out * w)` for a stored random `w`.

mod common;

use common::{assert_close, load_golden, tolerance};
use silica_core::{
    Conv2dConfig, DType, Device, Error, Generator, PadMode, Pool2dConfig, Result, Tensor,
};
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

const CPU: Device = Device::Cpu;

/// f32 tolerance of matmul, convolution and reductions (softmax, pooling).
const REDUCE: f64 = 1e-4;
/// f32 tolerance of the elementwise-like ops: padding, indexing, joining, creation.
const EXACT: f64 = 1e-5;

/// The inputs of one case in one dtype.
struct Ins {
    tensors: BTreeMap<String, Tensor>,
    dtype: DType,
}

impl Ins {
    /// The input `name`; panics (a reported failure) when the file lacks it.
    fn x(&self, name: &str) -> &Tensor {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("no input `{name}` in the golden file"))
    }
}

type CaseFn = fn(&Ins) -> Result<Tensor>;

/// One row of a table: the case name in the golden file, the f32 tolerance, the computation.
type Row = (&'static str, f64, CaseFn);

/// Runs one case in one dtype: forward against `NAME.DT.out`, then, when the file has a
/// weight `NAME.DT.w`, the gradient of `sum(out * w)` for every input with a stored gradient.
fn run_case(g: &BTreeMap<String, Tensor>, name: &str, dt: &str, tol: f64, f: CaseFn) -> Result<()> {
    let own = format!("{name}.{dt}.");
    let shared = format!("{name}.");
    let want = g
        .get(&format!("{own}out"))
        .ok_or_else(|| Error::invalid("golden", format!("no {own}out in the golden file")))?;
    let dtype = want.dtype();
    let rtol = tolerance(dtype, tol);
    let mut tensors = BTreeMap::new();
    for (key, t) in g {
        let input = match (key.strip_prefix(&own), key.strip_prefix(&shared)) {
            (Some(rest), _) if !rest.contains('.') && rest != "out" && rest != "w" => rest,
            (None, Some(rest)) if !rest.contains('.') => rest,
            _ => continue,
        };
        // A fresh leaf, so that gradients never leak between cases.
        let t = t.detach().copy()?;
        if g.contains_key(&format!("{own}grad.{input}")) {
            t.set_requires_grad(true)?;
        }
        tensors.insert(input.to_string(), t);
    }
    let ins = Ins { tensors, dtype };
    let out = f(&ins)?;
    assert_eq!(out.dtype(), dtype, "{name}.{dt}: output dtype");
    assert_close(&format!("{name}.{dt} forward"), &out, want, rtol);
    let Some(w) = g.get(&format!("{own}w")) else {
        return Ok(());
    };
    out.mul(w)?.sum_all()?.backward()?;
    for (input, t) in &ins.tensors {
        if let Some(want) = g.get(&format!("{own}grad.{input}")) {
            let got = t.grad().ok_or_else(|| {
                Error::invalid("golden", format!("{name}.{dt}: no gradient for {input}"))
            })?;
            assert_close(&format!("{name}.{dt} grad of {input}"), &got, want, rtol);
        }
    }
    Ok(())
}

/// Checks every row of `file` in f32 and f64; reports every failing case before failing.
fn run_rows(file: &str, rows: &[Row]) {
    let g = load_golden(file);
    let mut failures = Vec::new();
    for &(name, tol, f) in rows {
        for dt in ["f32", "f64"] {
            if let Some(msg) = check_one(&g, name, dt, tol, f) {
                failures.push(msg);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases of {file}.safetensors failed:\n{}",
        failures.len(),
        rows.len() * 2,
        failures.join("\n")
    );
}

/// Runs one case, turning an error or a failed assertion into a message.
fn check_one(
    g: &BTreeMap<String, Tensor>,
    name: &str,
    dt: &str,
    tol: f64,
    f: CaseFn,
) -> Option<String> {
    match catch_unwind(AssertUnwindSafe(|| run_case(g, name, dt, tol, f))) {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("{name}.{dt}: error: {e}")),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Some(format!("{name}.{dt}: {msg}"))
        }
    }
}

const MATMUL: &[Row] = &[
    ("dot", REDUCE, |i| i.x("a").matmul(i.x("b"))),
    ("mv", REDUCE, |i| i.x("a").matmul(i.x("b"))),
    ("vm", REDUCE, |i| i.x("a").matmul(i.x("b"))),
    ("mm", REDUCE, |i| i.x("a").matmul(i.x("b"))),
    ("bmm", REDUCE, |i| i.x("a").matmul(i.x("b"))),
    ("bmm_mat", REDUCE, |i| i.x("a").matmul(i.x("b"))),
    ("mat_bmm", REDUCE, |i| i.x("a").matmul(i.x("b"))),
    ("vec_bmm", REDUCE, |i| i.x("a").matmul(i.x("b"))),
    ("bmm_vec", REDUCE, |i| i.x("a").matmul(i.x("b"))),
    ("broadcast", REDUCE, |i| i.x("a").matmul(i.x("b"))),
    ("broadcast_4d", REDUCE, |i| i.x("a").matmul(i.x("b"))),
    ("mm_tt", REDUCE, |i| i.x("a").t()?.matmul(&i.x("b").t()?)),
    ("mm_t_left", REDUCE, |i| i.x("a").t()?.matmul(i.x("b"))),
    ("mm_t_right", REDUCE, |i| i.x("a").matmul(&i.x("b").t()?)),
    ("bmm_transposed", REDUCE, |i| {
        i.x("a")
            .transpose(1, 2)?
            .matmul(&i.x("b").transpose(-1, -2)?)
    }),
    ("mm_sliced", REDUCE, |i| {
        i.x("a")
            .slice(0, 0, 6, 2)?
            .matmul(&i.x("b").slice(1, 1, 10, 2)?)
    }),
    ("dot_strided", REDUCE, |i| {
        i.x("a")
            .slice(0, 0, isize::MAX, 2)?
            .matmul(&i.x("b").select(1, 0)?)
    }),
    ("mv_strided", REDUCE, |i| {
        i.x("a").t()?.matmul(&i.x("b").slice(0, 1, 8, 3)?)
    }),
    ("broadcast_transposed", REDUCE, |i| {
        i.x("a")
            .transpose(-1, -2)?
            .matmul(&i.x("b").permute([2, 0, 1])?)
    }),
    ("vec_mat_t", REDUCE, |i| i.x("a").matmul(&i.x("b").t()?)),
    ("mm_double_strided", REDUCE, |i| {
        let a = i.x("a").slice(0, 0, 6, 2)?.slice(1, 0, 9, 3)?;
        a.matmul(&i.x("b").slice(0, 0, 6, 2)?)
    }),
    ("bmm_medium_nc", REDUCE, |i| {
        i.x("a").transpose(1, 2)?.matmul(i.x("b"))
    }),
    ("mm_empty_k", REDUCE, |i| i.x("a").matmul(i.x("b"))),
    ("mm_expanded", REDUCE, |i| {
        i.x("a").expand([3, 4])?.matmul(&i.x("b").expand([4, 5])?)
    }),
    ("bmm_expanded_batch", REDUCE, |i| {
        i.x("a").expand([3, 2, 4])?.matmul(i.x("b"))
    }),
    ("mm_self_t", REDUCE, |i| i.x("a").matmul(&i.x("a").t()?)),
];

/// A pooling window as `F.max_pool2d` / `F.avg_pool2d` take it; `stride` defaults to `kernel`.
fn pool(
    kernel: [usize; 2],
    stride: Option<[usize; 2]>,
    padding: usize,
    ceil: bool,
) -> Pool2dConfig {
    Pool2dConfig {
        kernel,
        stride: stride.unwrap_or(kernel),
        padding: [padding, padding],
        ceil_mode: ceil,
        count_include_pad: true,
    }
}

fn no_pad(cfg: Pool2dConfig) -> Pool2dConfig {
    Pool2dConfig {
        count_include_pad: false,
        ..cfg
    }
}

fn conv(i: &Ins, cfg: Conv2dConfig) -> Result<Tensor> {
    i.x("x").conv2d(i.x("weight"), Some(i.x("bias")), &cfg)
}

const SOFTMAX: &[Row] = &[
    ("softmax_last", REDUCE, |i| i.x("x").softmax(-1)),
    ("softmax_mid", REDUCE, |i| i.x("x").softmax(1)),
    ("softmax_first", REDUCE, |i| i.x("x").softmax(0)),
    ("log_softmax_last", REDUCE, |i| i.x("x").log_softmax(-1)),
    ("log_softmax_mid", REDUCE, |i| i.x("x").log_softmax(1)),
    ("softmax_large", REDUCE, |i| i.x("x").softmax(-1)),
    ("log_softmax_large", REDUCE, |i| i.x("x").log_softmax(-1)),
    ("softmax_1d", REDUCE, |i| i.x("x").softmax(0)),
    ("softmax_wide", REDUCE, |i| i.x("x").softmax(-1)),
    ("log_softmax_wide_mid", REDUCE, |i| i.x("x").log_softmax(1)),
    ("softmax_expanded", REDUCE, |i| {
        i.x("x").expand([3, 4, 5])?.softmax(1)
    }),
    ("softmax_size1_dim", REDUCE, |i| i.x("x").softmax(1)),
    ("log_softmax_masked", REDUCE, |i| i.x("x").log_softmax(-1)),
    ("softmax_masked", REDUCE, |i| i.x("x").softmax(-1)),
    ("softmax_last_nc", REDUCE, |i| {
        i.x("x").transpose(0, 2)?.softmax(-1)
    }),
    ("softmax_mid_nc", REDUCE, |i| {
        i.x("x").transpose(0, 2)?.softmax(1)
    }),
    ("log_softmax_last_nc", REDUCE, |i| {
        i.x("x").transpose(0, 2)?.log_softmax(-1)
    }),
    ("log_softmax_mid_nc", REDUCE, |i| {
        i.x("x").transpose(0, 2)?.log_softmax(1)
    }),
    ("softmax_sliced", REDUCE, |i| {
        i.x("x").slice(1, 1, 8, 2)?.softmax(-1)
    }),
];

const CONV2D: &[Row] = &[
    ("conv", REDUCE, |i| conv(i, Conv2dConfig::default())),
    ("conv_stride2", REDUCE, |i| {
        conv(i, Conv2dConfig::default().with_stride(2))
    }),
    ("conv_pad1", REDUCE, |i| {
        conv(i, Conv2dConfig::default().with_padding(1))
    }),
    ("conv_dil2", REDUCE, |i| {
        conv(i, Conv2dConfig::default().with_dilation(2))
    }),
    ("conv_groups2", REDUCE, |i| {
        conv(i, Conv2dConfig::default().with_padding(1).with_groups(2))
    }),
    ("conv_depthwise", REDUCE, |i| {
        conv(i, Conv2dConfig::default().with_groups(4))
    }),
    ("conv_nobias", REDUCE, |i| {
        let cfg = Conv2dConfig::default().with_stride(2).with_padding(1);
        i.x("x").conv2d(i.x("weight"), None, &cfg)
    }),
    ("conv_unbatched", REDUCE, |i| {
        conv(i, Conv2dConfig::default().with_padding(1))
    }),
    ("conv_mixed", REDUCE, |i| {
        let cfg = Conv2dConfig {
            stride: [2, 1],
            padding: [1, 2],
            dilation: [1, 2],
            groups: 1,
        };
        conv(i, cfg)
    }),
    ("conv_k2s3p2", REDUCE, |i| {
        conv(i, Conv2dConfig::default().with_stride(3).with_padding(2))
    }),
    ("conv_larger", REDUCE, |i| {
        let cfg = Conv2dConfig {
            stride: [1, 2],
            ..Conv2dConfig::default().with_padding(1)
        };
        conv(i, cfg)
    }),
    ("conv_expanded", REDUCE, |i| {
        let x = i.x("x").expand([2, 4, 5, 6])?;
        let cfg = Conv2dConfig::default().with_padding(1);
        x.conv2d(i.x("weight"), Some(i.x("bias")), &cfg)
    }),
    ("conv_1x1", REDUCE, |i| conv(i, Conv2dConfig::default())),
    ("conv_nc", REDUCE, |i| {
        let (x, w) = (i.x("x").transpose(2, 3)?, i.x("weight").transpose(0, 1)?);
        x.conv2d(
            &w,
            Some(i.x("bias")),
            &Conv2dConfig::default().with_padding(1),
        )
    }),
    ("conv_nc_sliced", REDUCE, |i| {
        let x = i.x("x").slice(1, 0, isize::MAX, 2)?;
        let cfg = Conv2dConfig::default().with_stride(2).with_groups(2);
        x.conv2d(i.x("weight"), Some(i.x("bias")), &cfg)
    }),
];

const POOL2D: &[Row] = &[
    ("max_pool_k2", REDUCE, |i| {
        i.x("x").max_pool2d(&pool([2, 2], None, 0, false))
    }),
    ("max_pool_k3s2p1", REDUCE, |i| {
        i.x("x").max_pool2d(&pool([3, 3], Some([2, 2]), 1, false))
    }),
    ("max_pool_k3s2_ceil", REDUCE, |i| {
        i.x("x").max_pool2d(&pool([3, 3], Some([2, 2]), 0, true))
    }),
    ("max_pool_k2s2p1_ceil", REDUCE, |i| {
        i.x("x").max_pool2d(&pool([2, 2], Some([2, 2]), 1, true))
    }),
    ("max_pool_k32s21", REDUCE, |i| {
        i.x("x").max_pool2d(&pool([3, 2], Some([2, 1]), 0, false))
    }),
    ("max_pool_k2s1_nc", REDUCE, |i| {
        let x = i.x("x").transpose(2, 3)?;
        x.max_pool2d(&pool([2, 2], Some([1, 1]), 0, false))
    }),
    ("max_pool_k3s2p1_nc", REDUCE, |i| {
        let x = i.x("x").transpose(2, 3)?;
        x.max_pool2d(&pool([3, 3], Some([2, 2]), 1, false))
    }),
    ("max_pool_expanded", REDUCE, |i| {
        let x = i.x("x").expand([2, 3, 4, 5])?;
        x.max_pool2d(&pool([2, 2], Some([1, 1]), 0, false))
    }),
    ("avg_pool_k2", REDUCE, |i| {
        i.x("x").avg_pool2d(&pool([2, 2], None, 0, false))
    }),
    ("avg_pool_k3s2p1", REDUCE, |i| {
        i.x("x").avg_pool2d(&pool([3, 3], Some([2, 2]), 1, false))
    }),
    ("avg_pool_k3s2p1_nopad", REDUCE, |i| {
        let cfg = no_pad(pool([3, 3], Some([2, 2]), 1, false));
        i.x("x").avg_pool2d(&cfg)
    }),
    ("avg_pool_k3s2_ceil", REDUCE, |i| {
        i.x("x").avg_pool2d(&pool([3, 3], Some([2, 2]), 0, true))
    }),
    ("avg_pool_k3s2p1_ceil", REDUCE, |i| {
        i.x("x").avg_pool2d(&pool([3, 3], Some([2, 2]), 1, true))
    }),
    ("avg_pool_k3s2p1_ceil_nopad", REDUCE, |i| {
        let cfg = no_pad(pool([3, 3], Some([2, 2]), 1, true));
        i.x("x").avg_pool2d(&cfg)
    }),
    ("avg_pool_k2s2p1_ceil", REDUCE, |i| {
        i.x("x").avg_pool2d(&pool([2, 2], Some([2, 2]), 1, true))
    }),
    ("avg_pool_k32s21", REDUCE, |i| {
        i.x("x").avg_pool2d(&pool([3, 2], Some([2, 1]), 0, false))
    }),
    ("avg_pool_k2s1_nc", REDUCE, |i| {
        let x = i.x("x").transpose(2, 3)?;
        x.avg_pool2d(&pool([2, 2], Some([1, 1]), 0, false))
    }),
    ("adaptive_8x6_to_4x3", REDUCE, |i| {
        i.x("x").adaptive_avg_pool2d(4, 3)
    }),
    ("adaptive_7x5_to_3x2", REDUCE, |i| {
        i.x("x").adaptive_avg_pool2d(3, 2)
    }),
    ("adaptive_8x5_to_4x3", REDUCE, |i| {
        i.x("x").adaptive_avg_pool2d(4, 3)
    }),
    ("adaptive_to_1x1", REDUCE, |i| {
        i.x("x").adaptive_avg_pool2d(1, 1)
    }),
    ("adaptive_up_3x2_to_5x4", REDUCE, |i| {
        i.x("x").adaptive_avg_pool2d(5, 4)
    }),
    ("adaptive_8x6_to_4x3_nc", REDUCE, |i| {
        i.x("x")
            .slice(2, 0, isize::MAX, 2)?
            .adaptive_avg_pool2d(4, 3)
    }),
    ("adaptive_7x5_to_3x2_nc", REDUCE, |i| {
        i.x("x").transpose(2, 3)?.adaptive_avg_pool2d(3, 2)
    }),
];

const PAD: &[Row] = &[
    ("pad_constant", EXACT, |i| {
        i.x("x").pad(&[1, 2, 2, 1], PadMode::Constant(0.5))
    }),
    ("pad_constant_3dims", EXACT, |i| {
        i.x("x").pad(&[1, 0, 0, 2, 1, 1], PadMode::Constant(0.0))
    }),
    ("pad_reflect", EXACT, |i| {
        i.x("x").pad(&[2, 1, 3, 1], PadMode::Reflect)
    }),
    ("pad_replicate", EXACT, |i| {
        i.x("x").pad(&[3, 2, 1, 4], PadMode::Replicate)
    }),
    ("pad_circular", EXACT, |i| {
        i.x("x").pad(&[2, 3, 1, 2], PadMode::Circular)
    }),
    ("pad_reflect_1d", EXACT, |i| {
        i.x("x").pad(&[4, 2], PadMode::Reflect)
    }),
    ("pad_replicate_1d", EXACT, |i| {
        i.x("x").pad(&[1, 3], PadMode::Replicate)
    }),
    ("pad_circular_1d", EXACT, |i| {
        i.x("x").pad(&[5, 1], PadMode::Circular)
    }),
    ("pad_reflect_expanded", EXACT, |i| {
        i.x("x").expand([2, 3, 4])?.pad(&[2, 1], PadMode::Reflect)
    }),
    ("pad_constant_nc", EXACT, |i| {
        let x = i.x("x").transpose(2, 3)?;
        x.pad(&[1, 2, 2, 1], PadMode::Constant(0.0))
    }),
    ("pad_reflect_nc", EXACT, |i| {
        i.x("x")
            .transpose(2, 3)?
            .pad(&[2, 1, 3, 1], PadMode::Reflect)
    }),
    ("pad_replicate_nc", EXACT, |i| {
        i.x("x")
            .transpose(2, 3)?
            .pad(&[3, 2, 1, 4], PadMode::Replicate)
    }),
    ("pad_circular_nc", EXACT, |i| {
        i.x("x")
            .transpose(2, 3)?
            .pad(&[2, 3, 1, 2], PadMode::Circular)
    }),
];

const CREATION: &[Row] = &[
    ("arange_tenths", EXACT, |i| {
        Tensor::arange(0.0, 1.0, 0.1, i.dtype, CPU)
    }),
    ("arange_float_step", EXACT, |i| {
        Tensor::arange(-1.0, 2.5, 0.3, i.dtype, CPU)
    }),
    ("arange_negative_step", EXACT, |i| {
        Tensor::arange(5.0, 0.0, -0.7, i.dtype, CPU)
    }),
    ("arange_int_step", EXACT, |i| {
        Tensor::arange(2.0, 11.0, 3.0, i.dtype, CPU)
    }),
    ("arange_rounding_down", EXACT, |i| {
        Tensor::arange(0.0, 0.3, 0.1, i.dtype, CPU)
    }),
    ("arange_rounding_up", EXACT, |i| {
        Tensor::arange(1.0, 1.3, 0.1, i.dtype, CPU)
    }),
    ("linspace_2", EXACT, |i| {
        Tensor::linspace(2.0, -1.5, 2, i.dtype, CPU)
    }),
    ("linspace_7", EXACT, |i| {
        Tensor::linspace(-1.0, 1.0, 7, i.dtype, CPU)
    }),
    ("linspace_10", EXACT, |i| {
        Tensor::linspace(0.0, 1.0, 10, i.dtype, CPU)
    }),
    ("linspace_down", EXACT, |i| {
        Tensor::linspace(3.0, -2.0, 6, i.dtype, CPU)
    }),
    ("linspace_1", EXACT, |i| {
        Tensor::linspace(0.5, 1.0, 1, i.dtype, CPU)
    }),
    ("eye_4", EXACT, |i| Tensor::eye(4, i.dtype, CPU)),
    ("zeros", EXACT, |i| Tensor::zeros([2, 3], i.dtype, CPU)),
    ("ones", EXACT, |i| Tensor::ones([2, 3], i.dtype, CPU)),
    ("full", EXACT, |i| Tensor::full([2, 3], 2.5, i.dtype, CPU)),
];

const INDEX: &[Row] = &[
    ("index_select_dim0", EXACT, |i| {
        i.x("x").index_select(0, i.x("i"))
    }),
    ("index_select_dim1_nc", EXACT, |i| {
        i.x("x").t()?.index_select(1, i.x("i"))
    }),
    ("index_select_mid", EXACT, |i| {
        i.x("x").index_select(1, i.x("i"))
    }),
    ("index_select_strided_index", EXACT, |i| {
        i.x("x")
            .index_select(0, &i.x("i").slice(0, 0, isize::MAX, 2)?)
    }),
    ("index_select_expanded", EXACT, |i| {
        i.x("x").expand([4, 3])?.index_select(1, i.x("i"))
    }),
    ("index_select_i32", EXACT, |i| {
        i.x("x").index_select(0, &i.x("i").to_dtype(DType::I32)?)
    }),
    ("gather_dim1", EXACT, |i| i.x("x").gather(1, i.x("i"))),
    ("gather_dim0", EXACT, |i| i.x("x").gather(0, i.x("i"))),
    ("gather_small_index", EXACT, |i| {
        i.x("x").gather(1, i.x("i"))
    }),
    ("gather_3d", EXACT, |i| i.x("x").gather(1, i.x("i"))),
    ("gather_nc", EXACT, |i| {
        i.x("x").transpose(0, 1)?.gather(1, i.x("i"))
    }),
    ("gather_neg_dim", EXACT, |i| i.x("x").gather(-1, i.x("i"))),
    ("gather_nc_index", EXACT, |i| {
        i.x("x").gather(1, &i.x("i").t()?)
    }),
    ("scatter_add_nc_index", EXACT, |i| {
        i.x("x").scatter_add(1, &i.x("i").t()?, &i.x("src").t()?)
    }),
    ("scatter_add_dim0", EXACT, |i| {
        i.x("x").scatter_add(0, i.x("i"), i.x("src"))
    }),
    ("scatter_add_dim1", EXACT, |i| {
        i.x("x").scatter_add(1, i.x("i"), i.x("src"))
    }),
    ("scatter_add_src_larger", EXACT, |i| {
        i.x("x").scatter_add(1, i.x("i"), i.x("src"))
    }),
    ("scatter_add_nc", EXACT, |i| {
        let src = i.x("src").slice(1, 0, isize::MAX, 2)?;
        i.x("x").t()?.scatter_add(0, i.x("i"), &src)
    }),
    ("embedding", EXACT, |i| i.x("weight").embedding(i.x("i"))),
    ("embedding_repeat_nc", EXACT, |i| {
        i.x("weight").t()?.embedding(i.x("i"))
    }),
    ("embedding_nc_ids", EXACT, |i| {
        i.x("weight").embedding(&i.x("i").t()?)
    }),
    ("cat_repeated", EXACT, |i| {
        Tensor::cat(&[i.x("a"), i.x("b"), i.x("a")], 0)
    }),
    ("cat_mid", EXACT, |i| {
        Tensor::cat(&[i.x("a"), i.x("b"), i.x("c")], 1)
    }),
    ("cat_first", EXACT, |i| {
        Tensor::cat(&[i.x("a"), i.x("b"), i.x("c")], 0)
    }),
    ("cat_last_nc", EXACT, |i| {
        let (a, c) = (i.x("a").t()?, i.x("c").slice(1, 0, isize::MAX, 2)?);
        Tensor::cat(&[&a, i.x("b"), &c], -1)
    }),
    ("cat_with_empty", EXACT, |i| {
        Tensor::cat(&[i.x("a"), i.x("b"), i.x("c")], 1)
    }),
    ("stack_mid", EXACT, |i| {
        Tensor::stack(&[i.x("a"), i.x("b"), i.x("c")], 1)
    }),
    ("stack_first", EXACT, |i| {
        Tensor::stack(&[i.x("a"), i.x("b"), i.x("c")], 0)
    }),
    ("stack_last_nc", EXACT, |i| {
        let a = i.x("a").t()?;
        Tensor::stack(&[&a, i.x("b"), i.x("c")], -1)
    }),
];

#[test]
fn golden_matmul() {
    run_rows("matmul", MATMUL);
}

#[test]
fn golden_softmax() {
    run_rows("nn", SOFTMAX);
}

#[test]
fn golden_conv2d() {
    run_rows("nn", CONV2D);
}

#[test]
fn golden_pool2d() {
    run_rows("nn", POOL2D);
}

#[test]
fn golden_pad() {
    run_rows("nn", PAD);
}

#[test]
fn golden_creation() {
    run_rows("nn", CREATION);
}

#[test]
fn golden_index() {
    run_rows("index", INDEX);
}

/// Every case in a golden file has a row, and every row has its case in the file.
#[test]
fn golden_rows_cover_the_files() {
    let tables: [(&str, Vec<&[Row]>); 3] = [
        ("matmul", vec![MATMUL]),
        ("nn", vec![SOFTMAX, CONV2D, POOL2D, PAD, CREATION]),
        ("index", vec![INDEX]),
    ];
    let mut problems = Vec::new();
    for (file, tables) in tables {
        let g = load_golden(file);
        let in_file: BTreeSet<&str> = g.keys().map(|k| k.split('.').next().unwrap()).collect();
        let mut in_rows = BTreeSet::new();
        for row in tables.iter().flat_map(|t| t.iter()) {
            if !in_rows.insert(row.0) {
                problems.push(format!("{file}: two rows named {}", row.0));
            }
        }
        for name in in_file.difference(&in_rows) {
            problems.push(format!("{file}: case {name} has no row"));
        }
        for name in in_rows.difference(&in_file) {
            problems.push(format!("{file}: row {name} has no case in the file"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---- dropout: PyTorch's random stream differs from Philox, so check properties ----

/// Positive inputs (no element is 0, so a kept element is never mistaken for a dropped one).
fn dropout_input(n: usize, dtype: DType) -> Result<Tensor> {
    Generator::new(7).rand([n], dtype, CPU)?.add_scalar(0.5)
}

#[test]
fn dropout_values_fraction_and_gradient() {
    let n = 100_000;
    let mut failures = Vec::new();
    for dtype in [DType::F32, DType::F64] {
        for p in [0.1, 0.3, 0.75] {
            let case = format!("dropout {dtype} p={p}");
            let res = catch_unwind(AssertUnwindSafe(|| -> Result<()> {
                let x = dropout_input(n, dtype)?;
                x.set_requires_grad(true)?;
                let out = x.dropout(p, &Generator::new(11))?;
                assert_eq!(out.dtype(), dtype, "{case}: dtype");
                assert_eq!(out.dims(), x.dims(), "{case}: shape");
                let w = Generator::new(13).randn([n], dtype, CPU)?;
                out.mul(&w)?.sum_all()?.backward()?;
                let grad = x.grad().expect("x gets a gradient").to_f64_vec()?;
                let (xs, ys, ws) = (x.to_f64_vec()?, out.to_f64_vec()?, w.to_f64_vec()?);
                let scale = 1.0 / (1.0 - p);
                let rtol = tolerance(dtype, 1e-6);
                let close = |a: f64, b: f64| (a - b).abs() <= rtol * b.abs().max(1.0);
                let mut kept = 0usize;
                for i in 0..n {
                    let keep = ys[i] != 0.0;
                    if keep {
                        kept += 1;
                        assert!(
                            close(ys[i], xs[i] * scale),
                            "{case}: element {i} is {}, neither 0 nor x/(1-p) = {}",
                            ys[i],
                            xs[i] * scale
                        );
                    }
                    let mask = if keep { scale } else { 0.0 };
                    assert!(
                        close(grad[i], ws[i] * mask),
                        "{case}: gradient {i} is {}, want w * mask/(1-p) = {}",
                        grad[i],
                        ws[i] * mask
                    );
                }
                let frac = kept as f64 / n as f64;
                // The standard deviation of the kept fraction is below 0.0016 here.
                assert!(
                    (frac - (1.0 - p)).abs() < 0.01,
                    "{case}: kept fraction {frac}, want about {}",
                    1.0 - p
                );
                Ok(())
            }));
            match res {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(format!("{case}: error: {e}")),
                Err(_) => failures.push(case),
            }
        }
    }
    assert!(failures.is_empty(), "failing: {}", failures.join(", "));
}

#[test]
fn dropout_is_reproducible_and_handles_p_0_and_1() -> Result<()> {
    let x = dropout_input(1000, DType::F32)?;
    let a = x.dropout(0.5, &Generator::new(3))?.to_vec::<f32>()?;
    let b = x.dropout(0.5, &Generator::new(3))?.to_vec::<f32>()?;
    assert_eq!(a, b, "one seed, one mask");
    let gen = Generator::new(3);
    let first = x.dropout(0.5, &gen)?.to_vec::<f32>()?;
    let second = x.dropout(0.5, &gen)?.to_vec::<f32>()?;
    assert_ne!(first, second, "the generator advances");
    assert_eq!(x.dropout(0.0, &gen)?.to_vec::<f32>()?, x.to_vec::<f32>()?);
    x.set_requires_grad(true)?;
    let zero = x.dropout(1.0, &gen)?;
    assert!(zero.to_vec::<f32>()?.iter().all(|&v| v == 0.0));
    zero.sum_all()?.backward()?;
    assert!(x.grad().unwrap().to_vec::<f32>()?.iter().all(|&v| v == 0.0));
    Ok(())
}
