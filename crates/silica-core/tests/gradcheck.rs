//! Every differentiable op against float64 central differences.

use silica_core::{
    gradcheck, gradgradcheck, Conv2dConfig, DType, Device, Generator, GradcheckOptions, PadMode,
    Pool2dConfig, Result, Tensor,
};

/// How an input is drawn.
enum In {
    /// Standard normal.
    N(&'static [usize]),
    /// In [0.5, 1.5).
    P(&'static [usize]),
    /// Integer indices in [0, high), not differentiated.
    I(&'static [usize], i64),
    /// A Bool mask, not differentiated.
    M(&'static [usize]),
}
use In::*;

type Op = fn(&[Tensor]) -> Result<Tensor>;

/// (name, inputs, op)
const CASES: &[(&str, &[In], Op)] = &[
    ("neg", &[N(&[3, 4])], |x| x[0].neg()),
    ("abs", &[N(&[3, 4])], |x| x[0].abs()),
    ("exp", &[N(&[3, 4])], |x| x[0].exp()),
    ("log", &[P(&[3, 4])], |x| x[0].log()),
    ("log1p", &[P(&[3, 4])], |x| x[0].log1p()),
    ("sqrt", &[P(&[3, 4])], |x| x[0].sqrt()),
    ("rsqrt", &[P(&[3, 4])], |x| x[0].rsqrt()),
    ("square", &[N(&[3, 4])], |x| x[0].square()),
    ("sin", &[N(&[3, 4])], |x| x[0].sin()),
    ("cos", &[N(&[3, 4])], |x| x[0].cos()),
    ("tanh", &[N(&[3, 4])], |x| x[0].tanh()),
    ("sigmoid", &[N(&[3, 4])], |x| x[0].sigmoid()),
    ("relu", &[N(&[3, 4])], |x| x[0].relu()),
    ("leaky_relu", &[N(&[3, 4])], |x| x[0].leaky_relu(0.2)),
    ("gelu", &[N(&[3, 4])], |x| x[0].gelu()),
    ("gelu_tanh", &[N(&[3, 4])], |x| x[0].gelu_tanh()),
    ("silu", &[N(&[3, 4])], |x| x[0].silu()),
    ("softplus", &[N(&[3, 4])], |x| x[0].softplus_with(2.0, 1.5)),
    ("erf", &[N(&[3, 4])], |x| x[0].erf()),
    ("recip", &[P(&[3, 4])], |x| x[0].recip()),
    ("clamp", &[N(&[3, 4])], |x| x[0].clamp(-0.3, 0.4)),
    ("sign floor ceil round (zero grads)", &[N(&[3, 4])], |x| {
        x[0].sign()?
            .add(&x[0].floor()?)?
            .add(&x[0].ceil()?)?
            .add(&x[0].round()?)?
            .add(&x[0])
    }),
    ("add broadcast", &[N(&[3, 1, 4]), N(&[2, 4])], |x| {
        x[0].add(&x[1])
    }),
    ("sub", &[N(&[3, 4]), N(&[4])], |x| x[0].sub(&x[1])),
    ("mul", &[N(&[3, 4]), N(&[3, 1])], |x| x[0].mul(&x[1])),
    ("div", &[N(&[3, 4]), P(&[3, 4])], |x| x[0].div(&x[1])),
    ("pow", &[P(&[3, 4]), N(&[3, 4])], |x| x[0].pow(&x[1])),
    ("maximum", &[N(&[3, 4]), N(&[3, 4])], |x| {
        x[0].maximum(&x[1])
    }),
    ("minimum", &[N(&[3, 4]), N(&[4])], |x| x[0].minimum(&x[1])),
    ("scalar ops", &[P(&[3, 4])], |x| {
        x[0].add_scalar(1.5)?
            .mul_scalar(-2.0)?
            .sub_scalar(0.5)?
            .div_scalar(3.0)?
            .add(&x[0].pow_scalar(2.5)?)
    }),
    ("where", &[M(&[3, 4]), N(&[3, 4]), N(&[3, 1])], |x| {
        x[0].where_cond(&x[1], &x[2])
    }),
    ("masked_fill", &[N(&[3, 4]), M(&[4])], |x| {
        x[0].masked_fill(&x[1], 2.0)
    }),
    ("reshape view flatten", &[N(&[2, 3, 4])], |x| {
        x[0].reshape([4, -1])?
            .view([2, 12])?
            .flatten(0, 1)?
            .mul(&x[0].flatten_all()?)
    }),
    ("squeeze unsqueeze", &[N(&[3, 1, 4])], |x| {
        x[0].squeeze(1)?.unsqueeze(0)?.squeeze_all()
    }),
    ("transpose permute t", &[N(&[2, 3, 4])], |x| {
        x[0].permute([2, 0, 1])?.transpose(0, 2)?.select(0, 1)?.t()
    }),
    ("expand broadcast_to", &[N(&[3, 1])], |x| {
        x[0].expand([2, -1, 4])?.add(&x[0].broadcast_to([3, 4])?)
    }),
    ("narrow slice select", &[N(&[5, 6])], |x| {
        x[0].narrow(0, 1, 3)?
            .slice(1, -5, 6, 2)?
            .mul(&x[0].select(1, -1)?.narrow(0, 0, 3)?.unsqueeze(1)?)
    }),
    ("chunk split", &[N(&[6, 4])], |x| {
        let c = x[0].chunk(3, 0)?;
        let s = x[0].split(3, 1)?;
        c[0].mul(&c[2])?.sum_all()?.add(&s[1].sum_all()?)
    }),
    ("contiguous copy", &[N(&[3, 4])], |x| {
        x[0].t()?.contiguous()?.mul(&x[0].t()?.copy()?)
    }),
    ("sum", &[N(&[2, 3, 4])], |x| x[0].sum([0, 2], false)),
    ("sum keepdim all", &[N(&[2, 3])], |x| {
        x[0].sum(1, true)?.add(&x[0].sum_all()?)
    }),
    ("mean", &[N(&[2, 3, 4])], |x| x[0].mean(-1, true)),
    ("max", &[N(&[3, 5])], |x| x[0].max(1, false)),
    ("min all", &[N(&[3, 5])], |x| x[0].min_all()),
    ("prod", &[P(&[3, 4])], |x| x[0].prod(1, true)),
    ("prod with a zero", &[N(&[2, 3])], |x| {
        let mask = Tensor::from_slice(
            &[false, true, false, false, false, false],
            [2, 3],
            Device::Cpu,
        )?;
        x[0].masked_fill(&mask, 0.0)?.prod(1, false)
    }),
    ("var", &[N(&[3, 5])], |x| x[0].var(1, 1, false)),
    ("sort values", &[N(&[3, 5])], |x| Ok(x[0].sort(1, true)?.0)),
    ("topk values", &[N(&[4, 3])], |x| {
        Ok(x[0].topk(2, 0, false)?.0)
    }),
    ("cumsum", &[N(&[3, 6])], |x| x[0].cumsum(1)),
    ("cumsum first dim", &[N(&[7, 2])], |x| x[0].cumsum(0)),
    ("cumprod", &[N(&[3, 6])], |x| x[0].cumprod(-1)),
    ("std", &[N(&[3, 5])], |x| x[0].std([0, 1], 0, false)),
    ("logsumexp", &[N(&[3, 5])], |x| x[0].logsumexp(1, false)),
    ("matmul 2d", &[N(&[3, 4]), N(&[4, 2])], |x| {
        x[0].matmul(&x[1])
    }),
    (
        "matmul batched broadcast",
        &[N(&[2, 1, 3, 4]), N(&[3, 4, 2])],
        |x| x[0].matmul(&x[1]),
    ),
    (
        "matmul sequence @ weight (batch folded into rows)",
        &[N(&[2, 3, 4]), N(&[5, 4])],
        |x| x[0].matmul(&x[1].t()?),
    ),
    (
        "matmul strided sequence @ weight",
        &[N(&[3, 2, 4]), N(&[4, 5])],
        |x| x[0].transpose(0, 1)?.matmul(&x[1]),
    ),
    ("matmul vectors", &[N(&[4]), N(&[4]), N(&[3, 4])], |x| {
        x[0].matmul(&x[1])?.add(&x[2].matmul(&x[0])?.sum_all()?)
    }),
    ("softmax", &[N(&[3, 5])], |x| x[0].softmax(1)),
    ("log_softmax", &[N(&[3, 5])], |x| x[0].log_softmax(0)),
    (
        "conv2d",
        &[N(&[2, 4, 6, 5]), N(&[6, 2, 3, 2]), N(&[6])],
        |x| {
            let cfg = Conv2dConfig {
                stride: [2, 1],
                padding: [1, 1],
                dilation: [1, 2],
                groups: 2,
            };
            x[0].conv2d(&x[1], Some(&x[2]), &cfg)
        },
    ),
    (
        "batch_norm_train",
        &[N(&[3, 2, 2, 3]), N(&[2]), N(&[2])],
        |x| {
            // The statistics come back detached (they feed the running averages), so only the
            // output is differentiated.
            Ok(x[0].batch_norm_train(Some(&x[1]), Some(&x[2]), 1e-5)?.0)
        },
    ),
    ("batch_norm_train without affine", &[N(&[4, 3])], |x| {
        Ok(x[0].batch_norm_train(None, None, 0.1)?.0)
    }),
    ("max_pool2d", &[N(&[2, 2, 5, 5])], |x| {
        x[0].max_pool2d(&Pool2dConfig::new(2).with_stride(1))
    }),
    ("avg_pool2d", &[N(&[2, 2, 5, 5])], |x| {
        x[0].avg_pool2d(&Pool2dConfig {
            ceil_mode: true,
            ..Pool2dConfig::new(3).with_stride(2).with_padding(1)
        })
    }),
    ("adaptive_avg_pool2d", &[N(&[1, 2, 5, 7])], |x| {
        x[0].adaptive_avg_pool2d(2, 3)
    }),
    ("index_select", &[N(&[5, 3]), I(&[4], 5)], |x| {
        x[0].index_select(0, &x[1])
    }),
    ("gather", &[N(&[3, 5]), I(&[3, 4], 5)], |x| {
        x[0].gather(1, &x[1])
    }),
    (
        "scatter_add",
        &[N(&[4, 3]), I(&[5, 3], 4), N(&[5, 3])],
        |x| x[0].scatter_add(0, &x[1], &x[2]),
    ),
    ("embedding", &[N(&[6, 3]), I(&[2, 4], 6)], |x| {
        x[0].embedding(&x[1])
    }),
    ("cat stack", &[N(&[2, 3]), N(&[2, 2])], |x| {
        let c = Tensor::cat(&[&x[0], &x[1]], 1)?;
        Tensor::stack(&[&c, &c], 1)
    }),
    ("pad constant", &[N(&[2, 3, 4])], |x| {
        x[0].pad(&[1, 2, 0, 1], PadMode::Constant(3.0))
    }),
    ("pad reflect replicate circular", &[N(&[2, 3, 4])], |x| {
        let r = x[0].pad(&[2, 1], PadMode::Reflect)?;
        let p = x[0].pad(&[2, 1], PadMode::Replicate)?;
        let c = x[0].pad(&[2, 1], PadMode::Circular)?;
        r.add(&p)?.mul(&c)
    }),
    ("dropout (fixed mask)", &[N(&[4, 5])], |x| {
        x[0].dropout(0.3, &Generator::new(3))
    }),
    // The ops composed from primitives (issue 8).
    ("max_dim values", &[N(&[3, 5])], |x| {
        Ok(x[0].max_dim(1, false)?.0)
    }),
    ("min_dim values keepdim", &[N(&[4, 3])], |x| {
        Ok(x[0].min_dim(0, true)?.0)
    }),
    ("tril", &[N(&[2, 3, 4])], |x| x[0].tril(1)),
    ("triu of a transpose", &[N(&[4, 3])], |x| x[0].t()?.triu(-1)),
    ("repeat", &[N(&[2, 3])], |x| x[0].repeat(&[2, 1, 3])),
    ("flip", &[N(&[2, 3, 4])], |x| x[0].flip([0, -1])),
    ("roll", &[N(&[3, 4])], |x| x[0].roll(&[1, -3], [0, 1])),
    ("roll flattened", &[N(&[3, 4])], |x| {
        x[0].roll(&[5], Vec::<isize>::new())
    }),
    ("norm 1", &[N(&[3, 4])], |x| x[0].norm(1.0, 1, false)),
    ("norm 2", &[N(&[2, 3, 4])], |x| x[0].norm(2.0, [0, 2], true)),
    ("norm 2 of everything", &[N(&[3, 4])], |x| {
        x[0].norm(2.0, Vec::<isize>::new(), false)
    }),
    ("norm inf", &[N(&[3, 4])], |x| {
        x[0].norm(f64::INFINITY, 0, false)
    }),
    ("norm -inf", &[N(&[3, 4])], |x| {
        x[0].norm(f64::NEG_INFINITY, 1, false)
    }),
    ("clamp_tensor", &[N(&[3, 4]), N(&[4]), N(&[3, 1])], |x| {
        // Bounds around 0 that cross (min > max) in some places.
        let lo = x[1].sub_scalar(0.5)?;
        let hi = x[2].add_scalar(0.5)?;
        x[0].clamp_tensor(Some(&lo), Some(&hi))
    }),
    ("clamp_tensor min only", &[N(&[3, 4]), N(&[3, 4])], |x| {
        x[0].clamp_tensor(Some(&x[1]), None)
    }),
    ("clamp_tensor max only", &[N(&[3, 4]), N(&[1, 4])], |x| {
        x[0].clamp_tensor(None, Some(&x[1]))
    }),
    ("lerp", &[N(&[3, 4]), N(&[4]), N(&[3, 1])], |x| {
        x[0].lerp(&x[1], &x[2])
    }),
    ("lerp_scalar below 0.5", &[N(&[3, 4]), N(&[3, 4])], |x| {
        x[0].lerp_scalar(&x[1], 0.3)
    }),
    ("lerp_scalar above 0.5", &[N(&[3, 4]), N(&[4])], |x| {
        x[0].lerp_scalar(&x[1], 0.8)
    }),
    (
        "einsum batched matmul",
        &[N(&[2, 3, 4]), N(&[2, 4, 5])],
        |x| Tensor::einsum("bij,bjk->bik", &[&x[0], &x[1]]),
    ),
    (
        "einsum trace and diagonal",
        &[N(&[4, 4]), N(&[3, 3, 2])],
        |x| {
            let trace = Tensor::einsum("ii->", &[&x[0]])?;
            Tensor::einsum("iij->ji", &[&x[1]])?.mul(&trace)
        },
    ),
    (
        "einsum three operands",
        &[N(&[2, 3]), N(&[3, 4]), N(&[4, 2])],
        |x| Tensor::einsum("ij,jk,kl->il", &[&x[0], &x[1], &x[2]]),
    ),
    (
        "einsum ellipsis and sums",
        &[N(&[5, 2, 3]), N(&[3, 4])],
        |x| Tensor::einsum("...ij,jk->k", &[&x[0], &x[1]]),
    ),
    ("einsum outer", &[N(&[3]), N(&[2])], |x| {
        Tensor::einsum("i,j->ji", &[&x[0], &x[1]])
    }),
];

/// The inputs of a case, drawn from a fixed seed; the F64 ones require gradients.
fn draw(inputs: &[In]) -> Vec<Tensor> {
    let gen = Generator::new(11);
    let xs: Vec<Tensor> = inputs
        .iter()
        .map(|i| match *i {
            N(s) => gen.randn(s, DType::F64, Device::Cpu),
            P(s) => gen.rand(s, DType::F64, Device::Cpu)?.add_scalar(0.5),
            I(s, high) => gen.randint(0, high, s, DType::I64, Device::Cpu),
            M(s) => gen.rand(s, DType::F64, Device::Cpu)?.gt_scalar(0.5),
        })
        .collect::<Result<_>>()
        .unwrap();
    for x in xs.iter().filter(|x| x.dtype() == DType::F64) {
        x.set_requires_grad(true).unwrap();
    }
    xs
}

type Check = fn(Op, &[Tensor], GradcheckOptions) -> Result<()>;

/// Runs `check` on every case and lists the failures.
fn check_all(check: Check) {
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|(name, inputs, op)| {
            check(*op, &draw(inputs), GradcheckOptions::default())
                .err()
                .map(|e| format!("{name}: {e}"))
        })
        .collect();
    assert!(failures.is_empty(), "failed:\n{}", failures.join("\n"));
}

#[test]
fn every_differentiable_op_passes_gradcheck() {
    check_all(gradcheck);
}

/// Every op claims double backward: its gradient is recorded with differentiable ops (conv2d,
/// the pools and batch norm included), so second derivatives, with respect to the inputs and
/// to the output gradient, agree with finite differences.
#[test]
fn every_differentiable_op_passes_gradgradcheck() {
    check_all(gradgradcheck);
}

#[test]
fn casts_pass_gradcheck_with_a_step_above_f32_rounding() {
    let x = Generator::new(4)
        .randn([6], DType::F64, Device::Cpu)
        .unwrap();
    x.set_requires_grad(true).unwrap();
    let cast = |x: &[Tensor]| {
        x[0].to_dtype(DType::F32)?
            .mul_scalar(3.0)?
            .to_dtype(DType::F64)
    };
    let opts = GradcheckOptions {
        eps: 1e-2,
        ..GradcheckOptions::default()
    };
    gradcheck(cast, &[x], opts).unwrap();
}

#[test]
fn gradcheck_catches_a_wrong_gradient() {
    // sign(x) * x has gradient sign(x) almost everywhere; detaching a factor breaks it.
    let x = Generator::new(2)
        .randn([5], DType::F64, Device::Cpu)
        .unwrap();
    x.set_requires_grad(true).unwrap();
    let wrong = |x: &[Tensor]| x[0].mul(&x[0].detach());
    assert!(gradcheck(wrong, &[x], GradcheckOptions::default()).is_err());
}
