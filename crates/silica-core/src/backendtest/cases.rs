//! The conformance cases: one row per op, reaching every kernel of the backend contract.

use crate::{Conv2dConfig, DType, PadMode, Pool2dConfig, Result, Tensor};

/// How a case's input is generated.
pub(super) enum Arg {
    /// Standard normal floats.
    Normal(&'static [usize]),
    /// Floats in [0.5, 1.5).
    Positive(&'static [usize]),
    /// I64 indices in [0, high).
    Index(&'static [usize], i64),
    /// A Bool mask.
    Mask(&'static [usize]),
}

pub(super) struct Case {
    pub name: &'static str,
    pub inputs: &'static [Arg],
    pub op: fn(&[Tensor]) -> Result<Tensor>,
    /// Also compare the input gradients.
    pub grad: bool,
    pub dtypes: &'static [DType],
}

use Arg::*;
const ALL: &[DType] = &[DType::F64, DType::F32, DType::F16, DType::BF16];
/// For outputs that are indices or exact comparisons, where f16 rounding could create ties.
const WIDE: &[DType] = &[DType::F64, DType::F32];

macro_rules! case {
    ($name:expr, [$($arg:expr),*], $grad:expr, $dtypes:expr, $op:expr) => {
        Case { name: $name, inputs: &[$($arg),*], op: $op, grad: $grad, dtypes: $dtypes }
    };
}

pub(super) const CASES: &[Case] = &[
    case!(
        "add broadcast",
        [Normal(&[3, 1, 4]), Normal(&[2, 4])],
        true,
        ALL,
        |x| x[0].add(&x[1])
    ),
    case!("sub", [Normal(&[3, 4]), Normal(&[3, 4])], true, ALL, |x| x
        [0]
    .sub(&x[1])),
    case!(
        "mul broadcast",
        [Normal(&[2, 3]), Normal(&[3])],
        true,
        ALL,
        |x| x[0].mul(&x[1])
    ),
    case!(
        "div",
        [Normal(&[4, 3]), Positive(&[4, 3])],
        true,
        ALL,
        |x| x[0].div(&x[1])
    ),
    case!(
        "pow",
        [Positive(&[3, 3]), Normal(&[3, 3])],
        true,
        ALL,
        |x| x[0].pow(&x[1])
    ),
    case!(
        "maximum",
        [Normal(&[3, 4]), Normal(&[3, 4])],
        true,
        ALL,
        |x| x[0].maximum(&x[1])
    ),
    case!("minimum scalar", [Normal(&[3, 4])], true, ALL, |x| x[0]
        .minimum_scalar(0.25)),
    case!("exp", [Normal(&[3, 5])], true, ALL, |x| x[0].exp()),
    case!("log", [Positive(&[3, 5])], true, ALL, |x| x[0].log()),
    case!("log1p", [Positive(&[3, 5])], true, ALL, |x| x[0].log1p()),
    case!("sqrt rsqrt", [Positive(&[4, 2])], true, ALL, |x| x[0]
        .sqrt()?
        .add(&x[0].rsqrt()?)),
    case!("sin cos", [Normal(&[4, 2])], true, ALL, |x| x[0]
        .sin()?
        .mul(&x[0].cos()?)),
    case!("tanh sigmoid", [Normal(&[4, 3])], true, ALL, |x| x[0]
        .tanh()?
        .add(&x[0].sigmoid()?)),
    case!("relu leaky", [Normal(&[4, 3])], true, ALL, |x| x[0]
        .relu()?
        .add(&x[0].leaky_relu(0.1)?)),
    case!("gelu", [Normal(&[4, 3])], true, ALL, |x| x[0]
        .gelu()?
        .add(&x[0].gelu_tanh()?)),
    case!("silu softplus", [Normal(&[4, 3])], true, ALL, |x| x[0]
        .silu()?
        .add(&x[0].softplus()?)),
    case!("erf abs neg", [Normal(&[4, 3])], true, ALL, |x| x[0]
        .erf()?
        .add(&x[0].abs()?.neg()?)),
    case!("square recip", [Positive(&[4, 3])], true, ALL, |x| x[0]
        .square()?
        .add(&x[0].recip()?)),
    case!("clamp", [Normal(&[4, 3])], true, ALL, |x| x[0]
        .clamp(-0.5, 0.7)),
    case!("rounding", [Normal(&[4, 3])], false, WIDE, |x| {
        let y = x[0].mul_scalar(3.0)?;
        y.floor()?
            .add(&y.ceil()?)?
            .add(&y.round()?)?
            .add(&y.sign()?)
    }),
    case!(
        "comparisons",
        [Normal(&[3, 4]), Normal(&[4])],
        false,
        WIDE,
        |x| {
            let lt = x[0].lt(&x[1])?.to_dtype(x[0].dtype())?;
            let ge = x[0].ge_scalar(0.0)?.logical_and(&x[1].ne_scalar(0.0)?)?;
            lt.add(&ge.to_dtype(x[0].dtype())?)
        }
    ),
    case!(
        "where",
        [Mask(&[3, 4]), Normal(&[3, 4]), Normal(&[4])],
        true,
        ALL,
        |x| x[0].where_cond(&x[1], &x[2])
    ),
    case!(
        "masked_fill",
        [Normal(&[3, 4]), Mask(&[4])],
        true,
        ALL,
        |x| x[0].masked_fill(&x[1], -1.5)
    ),
    case!("sum dims", [Normal(&[3, 4, 5])], true, ALL, |x| x[0]
        .sum([0, 2], false)),
    case!("sum all", [Normal(&[6, 7])], true, ALL, |x| x[0].sum_all()),
    case!("mean keepdim", [Normal(&[3, 4])], true, ALL, |x| x[0]
        .mean(1, true)),
    case!("max min", [Normal(&[5, 6])], true, WIDE, |x| x[0]
        .max(1, false)?
        .add(&x[0].min(0, false)?.sum_all()?)),
    case!("argmax argmin", [Normal(&[5, 6])], false, WIDE, |x| {
        x[0].argmax(1, false)?
            .add(&x[0].argmin(0, false)?.narrow(0, 0, 5)?)
    }),
    case!("prod", [Positive(&[3, 4])], true, WIDE, |x| x[0]
        .prod(1, false)),
    case!("var std", [Normal(&[4, 6])], true, ALL, |x| x[0]
        .var(1, 1, false)?
        .add(&x[0].std(1, 0, false)?)),
    case!("logsumexp", [Normal(&[4, 6])], true, ALL, |x| x[0]
        .logsumexp(-1, false)),
    case!(
        "matmul",
        [Normal(&[5, 4]), Normal(&[4, 3])],
        true,
        ALL,
        |x| x[0].matmul(&x[1])
    ),
    case!(
        "matmul batched broadcast",
        [Normal(&[2, 1, 3, 4]), Normal(&[3, 4, 2])],
        true,
        ALL,
        |x| x[0].matmul(&x[1])
    ),
    case!(
        "matmul vector",
        [Normal(&[4]), Normal(&[2, 4, 3])],
        true,
        ALL,
        |x| x[0].matmul(&x[1])
    ),
    case!("softmax", [Normal(&[3, 5])], true, ALL, |x| x[0]
        .softmax(-1)),
    case!("log_softmax dim 0", [Normal(&[3, 5])], true, ALL, |x| x[0]
        .log_softmax(0)),
    case!(
        "conv2d",
        [Normal(&[2, 4, 7, 6]), Normal(&[6, 2, 3, 3]), Normal(&[6])],
        true,
        ALL,
        |x| {
            let cfg = Conv2dConfig {
                stride: [2, 1],
                padding: [1, 2],
                dilation: [1, 2],
                groups: 2,
            };
            x[0].conv2d(&x[1], Some(&x[2]), &cfg)
        }
    ),
    case!(
        "batch_norm",
        [Normal(&[4, 3, 2, 5]), Normal(&[3]), Normal(&[3])],
        true,
        ALL,
        |x| {
            let (y, mean, var) = x[0].batch_norm_train(Some(&x[1]), Some(&x[2]), 1e-5)?;
            y.add(&mean.reshape([3, 1, 1])?)?
                .mul(&var.add_scalar(1.0)?.reshape([3, 1, 1])?)
        }
    ),
    case!("max_pool2d", [Normal(&[2, 3, 6, 5])], true, WIDE, |x| {
        x[0].max_pool2d(&Pool2dConfig {
            ceil_mode: true,
            ..Pool2dConfig::new(3).with_stride(2).with_padding(1)
        })
    }),
    case!("avg_pool2d", [Normal(&[2, 3, 6, 5])], true, ALL, |x| {
        x[0].avg_pool2d(&Pool2dConfig {
            count_include_pad: false,
            ..Pool2dConfig::new(2).with_padding(1)
        })
    }),
    case!(
        "adaptive_avg_pool2d",
        [Normal(&[1, 2, 7, 5])],
        true,
        ALL,
        |x| x[0].adaptive_avg_pool2d(3, 2)
    ),
    case!(
        "index_select",
        [Normal(&[5, 3]), Index(&[4], 5)],
        true,
        ALL,
        |x| x[0].index_select(0, &x[1])
    ),
    case!(
        "gather",
        [Normal(&[3, 5]), Index(&[3, 4], 5)],
        true,
        ALL,
        |x| x[0].gather(1, &x[1])
    ),
    case!(
        "scatter_add",
        [Normal(&[4, 3]), Index(&[5, 3], 4), Normal(&[5, 3])],
        true,
        ALL,
        |x| { x[0].scatter_add(0, &x[1], &x[2]) }
    ),
    case!(
        "embedding",
        [Normal(&[6, 3]), Index(&[2, 4], 6)],
        true,
        ALL,
        |x| x[0].embedding(&x[1])
    ),
    case!(
        "cat stack",
        [Normal(&[2, 3]), Normal(&[2, 2])],
        true,
        ALL,
        |x| {
            let c = Tensor::cat(&[&x[0], &x[1]], 1)?;
            Tensor::stack(&[&c, &c.mul_scalar(2.0)?], 0)
        }
    ),
    case!("pad", [Normal(&[2, 4, 5])], true, ALL, |x| {
        x[0].pad(&[2, 1, 1, 3], PadMode::Reflect)?
            .add(&x[0].pad(&[2, 1, 1, 3], PadMode::Constant(0.5))?)
    }),
    case!("views", [Normal(&[4, 6])], true, ALL, |x| {
        let v = x[0].slice(1, 1, 6, 2)?.t()?.reshape([-1])?.unsqueeze(0)?;
        v.expand([2, -1])?
            .mul(&x[0].narrow(0, 1, 2)?.flatten_all()?.narrow(0, 0, 12)?)
    }),
    case!("sort topk", [Normal(&[4, 5])], true, WIDE, |x| {
        let (v, i) = x[0].sort(1, true)?;
        let (t, j) = x[0].topk(2, 0, false)?;
        let order = i.add(&j.sum(0, true)?)?.to_dtype(x[0].dtype())?;
        v.add(&order)?.add(&t.sum_all()?)
    }),
    case!("cumsum cumprod", [Positive(&[3, 9])], true, ALL, |x| {
        x[0].cumsum(1)?.add(&x[0].cumprod(0)?.sum(0, true)?)
    }),
    case!("max_dim min_dim", [Normal(&[4, 5])], true, WIDE, |x| {
        let (v, i) = x[0].max_dim(1, true)?;
        let (w, j) = x[0].min_dim(0, false)?;
        let order = i.add(&j)?.to_dtype(x[0].dtype())?;
        v.add(&w)?.add(&order)
    }),
    case!("tril triu", [Normal(&[2, 4, 5])], true, ALL, |x| {
        x[0].tril(1)?.add(&x[0].triu(-2)?.mul_scalar(3.0)?)
    }),
    case!("repeat flip roll", [Normal(&[3, 4])], true, ALL, |x| {
        let moved = x[0].flip([0, 1])?.add(&x[0].roll(&[1, -3], [0, 1])?)?;
        moved
            .repeat(&[2, 1, 2])?
            .add(&x[0].roll(&[5], Vec::<isize>::new())?.repeat(&[1, 2])?)
    }),
    case!(
        "one_hot",
        [Index(&[2, 3], 5), Normal(&[5])],
        true,
        ALL,
        |x| x[0].one_hot(Some(5))?.to_dtype(x[1].dtype())?.mul(&x[1])
    ),
    case!("norm 1 2", [Normal(&[3, 4, 5])], true, ALL, |x| {
        x[0].norm(2.0, [0, 2], true)?
            .add(&x[0].norm(1.0, 1, true)?)?
            .add(&x[0].norm(2.0, Vec::<isize>::new(), false)?)
    }),
    case!("norm inf", [Normal(&[3, 4, 5])], true, WIDE, |x| {
        x[0].norm(f64::INFINITY, 2, true)?
            .add(&x[0].norm(f64::NEG_INFINITY, [0, 1], true)?)
    }),
    case!(
        "clamp_tensor",
        [Normal(&[3, 4]), Normal(&[4]), Normal(&[3, 1])],
        true,
        ALL,
        |x| x[0].clamp_tensor(Some(&x[1]), Some(&x[2].add_scalar(0.5)?))
    ),
    case!(
        "lerp",
        [Normal(&[3, 4]), Normal(&[4]), Normal(&[3, 1])],
        true,
        ALL,
        |x| x[0]
            .lerp(&x[1], &x[2])?
            .add(&x[0].lerp_scalar(&x[1], 0.75)?)
    ),
    case!(
        "einsum",
        [Normal(&[2, 3, 4]), Normal(&[2, 4, 5]), Normal(&[3, 3, 5])],
        true,
        ALL,
        |x| {
            let bmm = Tensor::einsum("bij,bjk->bik", &[&x[0], &x[1]])?;
            bmm.add(&Tensor::einsum("iik->ik", &[&x[2]])?)
        }
    ),
    case!("casts", [Normal(&[3, 4])], true, ALL, |x| {
        let i = x[0]
            .mul_scalar(4.0)?
            .to_dtype(DType::I32)?
            .to_dtype(x[0].dtype())?;
        x[0].to_dtype(DType::F32)?.to_dtype(x[0].dtype())?.add(&i)
    }),
];
