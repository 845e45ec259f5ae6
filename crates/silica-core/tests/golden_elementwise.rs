//! Golden tests against PyTorch 1.13: elementwise ops, comparisons, type promotion, casts, views
//! and reductions, forward values and input gradients, in f32 and f64, on contiguous and
//! non-contiguous inputs.
//!
//! The reference files come from `tools/golden/gen_elementwise.py`. Every case `NAME` stores its
//! inputs `NAME/in0..`, outputs `NAME/out0..` and, when differentiable, weights `NAME/w0..` and
//! the gradients `NAME/g0..` of `sum_j (out_j * w_j).sum()` with respect to the float inputs.
//! Each table row rebuilds the case (views included) from the inputs; one loop checks every row
//! and reports all failing cases at once.

mod common;

use common::cases::{case, floats, floats_multi, run, Case};
use silica_core::{DType, Result, Tensor};

/// f32 tolerance for elementwise ops, views and casts (relative, see `assert_close`).
const ELEMENTWISE: f64 = 1e-5;
/// f32 tolerance for reductions.
const REDUCTION: f64 = 1e-4;

type Split = fn(&Tensor) -> Result<Vec<Tensor>>;
type Unary = fn(&Tensor) -> Result<Tensor>;
type Binary = fn(&Tensor, &Tensor) -> Result<Tensor>;

// ---- elementwise.safetensors -------------------------------------------------------------------

fn unary_ops() -> Vec<(&'static str, Unary)> {
    vec![
        ("neg", |x| x.neg()),
        ("abs", |x| x.abs()),
        ("exp", |x| x.exp()),
        ("log", |x| x.log()),
        ("log1p", |x| x.log1p()),
        ("sqrt", |x| x.sqrt()),
        ("rsqrt", |x| x.rsqrt()),
        ("square", |x| x.square()),
        ("sin", |x| x.sin()),
        ("cos", |x| x.cos()),
        ("tanh", |x| x.tanh()),
        ("sigmoid", |x| x.sigmoid()),
        ("relu", |x| x.relu()),
        ("leaky_relu", |x| x.leaky_relu(0.01)),
        ("leaky_relu_0.2", |x| x.leaky_relu(0.2)),
        ("gelu", |x| x.gelu()),
        ("gelu_tanh", |x| x.gelu_tanh()),
        ("silu", |x| x.silu()),
        ("softplus", |x| x.softplus()),
        ("softplus_b2_t5", |x| x.softplus_with(2.0, 5.0)),
        ("erf", |x| x.erf()),
        ("sign", |x| x.sign()),
        ("floor", |x| x.floor()),
        ("ceil", |x| x.ceil()),
        ("round", |x| x.round()),
        ("recip", |x| x.recip()),
        ("clamp", |x| x.clamp(-0.5, 0.7)),
        ("clamp_max", |x| x.clamp(f64::NEG_INFINITY, 0.7)),
        ("clamp_min", |x| x.clamp(-0.3, f64::INFINITY)),
    ]
}

/// The views unary and scalar ops run on (the generator's `UNARY_VIEWS`).
fn unary_views() -> Vec<(&'static str, Unary)> {
    vec![
        ("c", |x| Ok(x.clone())),
        ("t", |x| x.t()),
        ("s", |x| x.slice(1, 1, 8, 2)),
        ("e", |x| x.expand([3, 4])),
    ]
}

fn binary_ops() -> Vec<(&'static str, Binary)> {
    vec![
        ("add", |a, b| a.add(b)),
        ("sub", |a, b| a.sub(b)),
        ("mul", |a, b| a.mul(b)),
        ("div", |a, b| a.div(b)),
        ("pow", |a, b| a.pow(b)),
        ("maximum", |a, b| a.maximum(b)),
        ("minimum", |a, b| a.minimum(b)),
    ]
}

/// (name, lhs view, rhs view), as the generator's `BINARY_SHAPES`.
fn binary_layouts() -> Vec<(&'static str, Unary, Unary)> {
    let id: Unary = |x| Ok(x.clone());
    vec![
        ("same", id, id),
        ("bcast", id, id),
        ("bcast_col", id, id),
        ("scalar0d", id, id),
        ("nc", |a| a.t(), |b| b.slice(1, 0, 8, 2)),
        ("nc_bcast", |a| a.transpose(0, 2), |b| b.t()),
        ("scalar0d_lhs", id, id),
    ]
}

fn scalar_ops() -> Vec<(&'static str, Unary)> {
    vec![
        ("add_scalar", |x| x.add_scalar(1.5)),
        ("add_scalar_int", |x| x.add_scalar(2)),
        ("sub_scalar", |x| x.sub_scalar(0.75)),
        ("mul_scalar", |x| x.mul_scalar(-2.5)),
        ("mul_scalar_int", |x| x.mul_scalar(3)),
        ("div_scalar", |x| x.div_scalar(3.0)),
        ("pow_scalar", |x| x.pow_scalar(2.5)),
        ("pow_scalar_int", |x| x.pow_scalar(2)),
        ("pow_scalar_neg", |x| x.pow_scalar(-1.5)),
        ("pow_scalar_half", |x| x.pow_scalar(0.5)),
        ("maximum_scalar", |x| x.maximum_scalar(0.3)),
        ("minimum_scalar", |x| x.minimum_scalar(0.3)),
    ]
}

type Compare = (&'static str, Binary, fn(&Tensor, f64) -> Result<Tensor>);

fn comparisons() -> Vec<Compare> {
    vec![
        ("eq", |a, b| a.eq(b), |a, s| a.eq_scalar(s)),
        ("ne", |a, b| a.ne(b), |a, s| a.ne_scalar(s)),
        ("lt", |a, b| a.lt(b), |a, s| a.lt_scalar(s)),
        ("le", |a, b| a.le(b), |a, s| a.le_scalar(s)),
        ("gt", |a, b| a.gt(b), |a, s| a.gt_scalar(s)),
        ("ge", |a, b| a.ge(b), |a, s| a.ge_scalar(s)),
    ]
}

fn elementwise_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (op, f) in unary_ops() {
        for (v, view) in unary_views() {
            cases.extend(floats(&format!("unary.{op}.{v}"), ELEMENTWISE, move |x| {
                f(&view(&x[0])?)
            }));
        }
    }
    for (op, f) in binary_ops() {
        for (layout, va, vb) in binary_layouts() {
            cases.extend(floats(
                &format!("binary.{op}.{layout}"),
                ELEMENTWISE,
                move |x| f(&va(&x[0])?, &vb(&x[1])?),
            ));
        }
        cases.push(
            case(
                format!("binary.{op}.mixed.f32_f64"),
                ELEMENTWISE,
                move |x| f(&x[0], &x[1]),
            )
            .f32_limited(),
        );
    }
    for (op, f) in scalar_ops() {
        for (v, view) in unary_views().into_iter().take(3) {
            cases.extend(floats(&format!("scalar.{op}.{v}"), ELEMENTWISE, move |x| {
                f(&view(&x[0])?)
            }));
        }
    }
    for (op, f, fs) in comparisons() {
        let p = format!("cmp.{op}");
        cases.extend(floats(&format!("{p}.bcast"), 0.0, move |x| f(&x[0], &x[1])));
        cases.extend(floats(&format!("{p}.nc"), 0.0, move |x| {
            f(&x[0].t()?, &x[1])
        }));
        cases.extend(floats(&format!("{p}.nan"), 0.0, move |x| f(&x[0], &x[1])));
        cases.extend(floats(&format!("{p}.scalar"), 0.0, move |x| fs(&x[0], 1.0)));
        cases.extend(floats(&format!("{p}.scalar_frac"), 0.0, move |x| {
            fs(&x[0], 0.5)
        }));
        cases.push(case(format!("{p}.i64"), 0.0, move |x| f(&x[0], &x[1])));
    }
    cases.extend(floats("logical.and", 0.0, |x| x[0].logical_and(&x[1])));
    cases.extend(floats("logical.or", 0.0, |x| x[0].logical_or(&x[1])));
    cases.extend(floats("logical.not", 0.0, |x| x[0].logical_not()));
    cases.extend(floats("logical.not.t", 0.0, |x| x[0].t()?.logical_not()));
    cases.push(case("logical.and.bool", 0.0, |x| x[0].logical_and(&x[1])));
    cases.push(case("logical.or.bool", 0.0, |x| x[0].logical_or(&x[1])));
    cases.push(case("logical.not.bool", 0.0, |x| x[0].logical_not()));
    cases.push(case("logical.and.i32", 0.0, |x| x[0].logical_and(&x[1])));

    cases.extend(floats("where.bcast", ELEMENTWISE, |x| {
        x[0].where_cond(&x[1], &x[2])
    }));
    cases.extend(floats("where.nc", ELEMENTWISE, |x| {
        x[0].where_cond(&x[1].t()?, &x[2].slice(1, 1, 8, 2)?)
    }));
    cases.extend(floats("masked_fill", ELEMENTWISE, |x| {
        x[0].masked_fill(&x[1], 2.5)
    }));
    cases.extend(floats("masked_fill.nc", ELEMENTWISE, |x| {
        x[0].t()?.masked_fill(&x[1], -1.0)
    }));
    cases.extend(floats("isnan", 0.0, |x| x[0].isnan()));
    cases.extend(floats("isnan.t", 0.0, |x| x[0].t()?.isnan()));
    for name in ["where.mixed.f32_f64", "where.mixed.i32_f32", "where.i64"] {
        cases.push(case(name, ELEMENTWISE, |x| x[0].where_cond(&x[1], &x[2])));
    }
    cases.push(case("masked_fill.i32", 0.0, |x| x[0].masked_fill(&x[1], 7)));
    cases.push(case("isnan.i32", 0.0, |x| x[0].isnan()));
    cases.extend(edge_cases());
    cases.extend(promotion_cases());
    cases.extend(cast_cases());
    cases
}

/// Zeros, ties, bounds, NaN and empty tensors.
fn edge_cases() -> Vec<Case> {
    let unary: Vec<(&str, Unary)> = vec![
        ("relu_zeros", |x| x.relu()),
        ("round_ties", |x| x.round()),
        ("floor_halves", |x| x.floor()),
        ("ceil_halves", |x| x.ceil()),
        ("abs_zeros", |x| x.abs()),
        ("leaky_relu_zeros", |x| x.leaky_relu(0.1)),
        ("clamp_bounds", |x| x.clamp(-0.5, 1.0)),
        ("pow_scalar_zero", |x| x.pow_scalar(0)),
        ("pow_scalar_int_zero_base", |x| x.pow_scalar(3)),
        ("sign_nan", |x| x.sign()),
        ("empty_exp", |x| x.exp()),
        ("self_mul_t", |x| x.mul(&x.t()?)),
        ("self_add_slice", |x| {
            x.slice(1, 0, 3, 2)?.add(&x.slice(1, 1, 3, 1)?.exp()?)
        }),
        ("self_where", |x| {
            x.gt_scalar(0.0)?.where_cond(&x.sin()?, &x.mul(x)?)
        }),
    ];
    let binary: Vec<(&str, Binary)> = vec![
        ("maximum_ties", |a, b| a.maximum(b)),
        ("minimum_ties", |a, b| a.minimum(b)),
        ("pow_zero_base", |a, b| a.pow(b)),
        ("maximum_nan", |a, b| a.maximum(b)),
        ("minimum_nan", |a, b| a.minimum(b)),
        ("empty_add_bcast", |a, b| a.add(b)),
    ];
    let mut cases = Vec::new();
    for (name, f) in unary {
        cases.extend(floats(&format!("edge.{name}"), ELEMENTWISE, move |x| {
            f(&x[0])
        }));
    }
    for (name, f) in binary {
        cases.extend(floats(&format!("edge.{name}"), ELEMENTWISE, move |x| {
            f(&x[0], &x[1])
        }));
    }
    cases.extend(floats("edge.where_0d", ELEMENTWISE, |x| {
        x[0].where_cond(&x[1], &x[2])
    }));
    cases
}

/// Mixed dtypes: the result dtype must be `torch.result_type`'s.
fn promotion_cases() -> Vec<Case> {
    let binary: Vec<(&str, Binary)> = vec![
        ("i32_add_f16", |a, b| a.add(b)),
        ("i64_mul_f32", |a, b| a.mul(b)),
        ("u8_add_i32", |a, b| a.add(b)),
        ("u8_add_u8_wraps", |a, b| a.add(b)),
        ("u8_sub_u8_wraps", |a, b| a.sub(b)),
        ("bool_add_u8", |a, b| a.add(b)),
        ("bool_add_bool", |a, b| a.add(b)),
        ("bool_mul_f32", |a, b| a.mul(b)),
        ("f16_add_bf16", |a, b| a.add(b)),
        ("f16_add_f16", |a, b| a.add(b)),
        ("f16_mul_f16", |a, b| a.mul(b)),
        ("bf16_mul_bf16", |a, b| a.mul(b)),
        ("bf16_div_bf16", |a, b| a.div(b)),
        ("f16_add_f32", |a, b| a.add(b)),
        ("i32_add_f64", |a, b| a.add(b)),
        ("i32_div_i32", |a, b| a.div(b)),
        ("i64_maximum_i32", |a, b| a.maximum(b)),
        ("i32_pow_i32", |a, b| a.pow(b)),
        ("f16_add_0d_f64", |a, b| a.add(b)),
        ("bf16_mul_0d_f64", |a, b| a.mul(b)),
        ("i32_add_0d_f64", |a, b| a.add(b)),
        ("i32_add_0d_i64", |a, b| a.add(b)),
        ("u8_mul_0d_i64", |a, b| a.mul(b)),
        ("u8_add_0d_i64_neg", |a, b| a.add(b)),
        ("f32_add_0d_f64", |a, b| a.add(b)),
        ("0d_f64_add_f16", |a, b| a.add(b)),
        ("0d_i32_add_0d_f64", |a, b| a.add(b)),
        ("0d_f32_add_0d_f64", |a, b| a.add(b)),
        ("i32_lt_f32", |a, b| a.lt(b)),
        ("i64_eq_f32", |a, b| a.eq(b)),
        ("i32_gt_0d_f64", |a, b| a.gt(b)),
    ];
    let unary: Vec<(&str, Unary)> = vec![
        ("i32_mul_2.5", |a| a.mul_scalar(2.5)),
        ("i64_add_3", |a| a.add_scalar(3)),
        ("i64_div_2", |a| a.div_scalar(2)),
        ("i32_pow_2", |a| a.pow_scalar(2)),
        ("i32_pow_0.5", |a| a.pow_scalar(0.5)),
        ("u8_add_3", |a| a.add_scalar(3)),
        ("u8_mul_neg1", |a| a.mul_scalar(-1)),
        ("bool_add_1", |a| a.add_scalar(1)),
        ("bool_add_2.5", |a| a.add_scalar(2.5)),
        ("bool_add_true", |a| a.add_scalar(true)),
        ("f16_mul_0.1", |a| a.mul_scalar(0.1)),
        ("f16_add_0.1", |a| a.add_scalar(0.1)),
        ("bf16_mul_0.1", |a| a.mul_scalar(0.1)),
        ("f64_mul_0.1", |a| a.mul_scalar(0.1)),
        ("0d_i32_add_2.5", |a| a.add_scalar(2.5)),
        ("0d_f64_add_2.5", |a| a.add_scalar(2.5)),
        ("0d_u8_add_7", |a| a.add_scalar(7)),
        ("u8_ge_2.5", |a| a.ge_scalar(2.5)),
        ("exp_i32", |a| a.exp()),
        ("sqrt_i64", |a| a.sqrt()),
        ("sigmoid_u8", |a| a.sigmoid()),
        ("log_bool", |a| a.log()),
        ("abs_i32", |a| a.abs()),
        ("neg_i64", |a| a.neg()),
        ("sign_i32", |a| a.sign()),
        ("relu_i64", |a| a.relu()),
        ("square_i32", |a| a.square()),
        ("clamp_i32_int_bounds", |a| a.clamp(-1, 6)),
        ("floor_i64", |a| a.floor()),
    ];
    let mut cases: Vec<Case> = binary
        .into_iter()
        .map(|(n, f)| case(format!("promo.{n}"), ELEMENTWISE, move |x| f(&x[0], &x[1])))
        .collect();
    cases.extend(
        unary
            .into_iter()
            .map(|(n, f)| case(format!("promo.{n}"), ELEMENTWISE, move |x| f(&x[0]))),
    );
    cases
}

fn cast_cases() -> Vec<Case> {
    let dtypes = [
        ("f32", DType::F32),
        ("f64", DType::F64),
        ("f16", DType::F16),
        ("bf16", DType::BF16),
        ("i32", DType::I32),
        ("i64", DType::I64),
        ("u8", DType::U8),
        ("bool", DType::Bool),
    ];
    let mut cases = Vec::new();
    for (s, _) in dtypes {
        for (t, dt) in dtypes {
            if s != t {
                cases.push(case(format!("cast.{s}_to_{t}"), 0.0, move |x| {
                    x[0].to_dtype(dt)
                }));
            }
        }
    }
    cases.push(case("cast.t.f64_to_f32", ELEMENTWISE, |x| {
        x[0].t()?.to_dtype(DType::F32)
    }));
    cases.push(case("cast.t.f32_to_f64", ELEMENTWISE, |x| {
        x[0].t()?.to_dtype(DType::F64)
    }));
    cases.push(case("cast.s.f64_to_f16", 0.0, |x| {
        x[0].slice(1, 0, 3, 2)?.to_dtype(DType::F16)
    }));
    cases.push(case("cast.t.f32_to_i32", 0.0, |x| {
        x[0].t()?.mul_scalar(10)?.to_dtype(DType::I32)
    }));
    cases.push(case("cast.grad.f32_to_f64_mul", ELEMENTWISE, |x| {
        x[0].to_dtype(DType::F64)?.mul_scalar(3.0)
    }));
    cases.push(
        case("cast.grad.f64_to_f32_exp", ELEMENTWISE, |x| {
            x[0].to_dtype(DType::F32)?.exp()
        })
        .f32_limited(),
    );
    cases
}

// ---- views.safetensors -------------------------------------------------------------------------

fn view_cases() -> Vec<Case> {
    let single: Vec<(&str, Unary)> = vec![
        ("reshape_m1", |x| x.reshape([-1, 4])),
        ("reshape_m1_first", |x| x.reshape([4, -1])),
        ("reshape_nc", |x| x.transpose(0, 2)?.reshape([4, -1])),
        ("reshape_t_flat", |x| x.t()?.reshape([-1])),
        ("reshape_slice", |x| x.slice(1, 1, 8, 2)?.reshape([2, 6])),
        ("view", |x| x.view([6, 4])),
        ("view_m1", |x| x.view([2, -1])),
        ("view_narrow", |x| x.narrow(0, 1, 2)?.view([-1])),
        ("view_split_dim", |x| x.view([2, 3, 2, 2])),
        ("view_of_t", |x| x.t()?.view([4, 3, 1])),
        ("flatten", |x| x.flatten(1, -1)),
        ("flatten_01", |x| x.flatten(0, 1)),
        ("flatten_nc", |x| x.permute([2, 0, 1])?.flatten(0, 1)),
        ("squeeze", |x| x.squeeze(1)),
        ("squeeze_neg", |x| x.squeeze(-1)),
        ("squeeze_noop", |x| x.squeeze(0)),
        ("unsqueeze", |x| x.unsqueeze(1)),
        ("unsqueeze_neg", |x| x.unsqueeze(-1)),
        ("unsqueeze_t", |x| x.t()?.unsqueeze(0)),
        ("transpose", |x| x.transpose(0, 2)),
        ("transpose_neg", |x| x.transpose(-1, -2)),
        ("permute", |x| x.permute([2, 0, 1])),
        ("permute_neg", |x| x.permute([-1, 0, -2])),
        ("t", |x| x.t()),
        ("t_1d", |x| x.t()),
        ("expand", |x| x.expand([3, 4])),
        ("expand_m1_new_dim", |x| x.expand([2, -1, 4])),
        ("expand_lead", |x| x.expand([2, 3, 4])),
        ("broadcast_to", |x| x.broadcast_to([2usize, 3, 4])),
        ("expand_t", |x| x.t()?.expand([3, 4])),
        ("narrow", |x| x.narrow(1, 1, 3)),
        ("narrow_t", |x| x.t()?.narrow(0, 2, 2)),
        ("slice_step", |x| x.slice(2, 1, 7, 2)),
        ("slice_step3", |x| x.slice(0, 0, 7, 3)),
        ("slice_neg_start", |x| x.slice(1, -3, 5, 1)),
        ("slice_clamped", |x| x.slice(0, 2, 100, 2)),
        ("slice_of_t", |x| x.t()?.slice(0, 1, 6, 2)),
        ("slice_twice", |x| x.slice(0, 1, 6, 2)?.slice(1, 0, 8, 3)),
        ("select", |x| x.select(0, 1)),
        ("select_neg", |x| x.select(1, -1)),
        ("select_t", |x| x.t()?.select(1, -2)),
        ("contiguous_t", |x| x.t()?.contiguous()),
        ("contiguous_slice", |x| x.slice(1, 1, 8, 2)?.contiguous()),
        ("contiguous_expand", |x| x.expand([3, 4])?.contiguous()),
        ("unsqueeze_0d", |x| x.unsqueeze(0)),
        ("expand_0d", |x| x.expand([2, 3])),
        ("flatten_0d", |x| x.flatten(0, -1)),
        ("reshape_to_0d", |x| x.reshape(())),
        ("squeeze_all", |x| x.squeeze_all()),
        ("flatten_all_nc", |x| x.transpose(0, 2)?.flatten_all()),
        ("slice_empty", |x| x.slice(1, 3, 1, 1)),
        ("slice_neg_end", |x| x.slice(1, 1, -1, 1)),
        ("narrow_empty", |x| x.narrow(1, 2, 0)),
        ("select_of_expand", |x| x.expand([3, 4])?.select(1, 2)),
        ("empty_reshape_m1", |x| x.reshape([-1])),
        ("empty_t", |x| x.t()),
        ("chain", |x| {
            x.t()?
                .unsqueeze(0)?
                .expand([2, -1, -1])?
                .reshape([8, 3])?
                .slice(0, 1, 8, 3)
        }),
        ("chain_select_view", |x| {
            x.permute([1, 2, 0])?
                .select(2, 0)?
                .reshape([-1])?
                .view([2, 6])
        }),
    ];
    let multi: Vec<(&str, Split)> = vec![
        ("chunk", |x| x.chunk(3, 1)),
        ("chunk_uneven", |x| x.chunk(3, 0)),
        ("chunk_neg", |x| x.chunk(2, -1)),
        ("chunk_t", |x| x.t()?.chunk(4, 0)),
        ("split", |x| x.split(2, 0)),
        ("split_dim1", |x| x.split(3, 1)),
        ("split_t", |x| x.t()?.split(2, 1)),
        ("chunk_more_than_size", |x| x.chunk(5, 0)),
        ("split_bigger", |x| x.split(5, 0)),
    ];
    let mut cases = Vec::new();
    for (name, f) in single {
        cases.extend(floats(&format!("view.{name}"), ELEMENTWISE, move |x| {
            f(&x[0])
        }));
    }
    for (name, f) in multi {
        cases.extend(floats_multi(
            &format!("view.{name}"),
            ELEMENTWISE,
            move |x| f(&x[0]),
        ));
    }
    cases.push(case("view.int.transpose_reshape", 0.0, |x| {
        x[0].transpose(0, 2)?.reshape([4, -1])
    }));
    cases.push(case("view.int.slice_step", 0.0, |x| {
        x[0].slice(2, 1, 4, 2)?.contiguous()
    }));
    cases.push(case("view.bool.expand", 0.0, |x| x[0].expand([2, 3, 4])));
    cases
}

// ---- reductions.safetensors --------------------------------------------------------------------

fn reduction_cases() -> Vec<Case> {
    let float_cases: Vec<(&str, Unary)> = vec![
        ("sum_1", |x| x.sum(1, false)),
        ("sum_1_keep", |x| x.sum(1, true)),
        ("sum_02", |x| x.sum([0, 2], false)),
        ("sum_02_keep", |x| x.sum([0, 2], true)),
        ("sum_neg", |x| x.sum(-1, false)),
        ("sum_all", |x| x.sum_all()),
        ("sum_all_keep", |x| x.sum([0, 1, 2], true)),
        ("sum_t", |x| x.t()?.sum(1, false)),
        ("sum_slice", |x| x.slice(1, 1, 8, 2)?.sum(0, true)),
        ("sum_expand", |x| x.expand([3, 4])?.sum(0, false)),
        ("mean_1", |x| x.mean(1, false)),
        ("mean_02_keep", |x| x.mean([0, 2], true)),
        ("mean_all", |x| x.mean_all()),
        ("mean_nc", |x| x.transpose(0, 2)?.mean(-1, false)),
        ("max_1", |x| x.max(1, false)),
        ("max_1_keep", |x| x.max(1, true)),
        ("max_02", |x| x.max([0, 2], false)),
        ("max_all", |x| x.max_all()),
        ("max_t", |x| x.t()?.max(0, false)),
        ("min_1", |x| x.min(1, false)),
        ("min_02_keep", |x| x.min([0, 2], true)),
        ("min_all", |x| x.min_all()),
        ("min_slice", |x| x.slice(1, 0, 8, 3)?.min(-1, false)),
        ("argmax_1", |x| x.argmax(1, false)),
        ("argmax_1_keep", |x| x.argmax(1, true)),
        ("argmax_neg", |x| x.argmax(-1, false)),
        ("argmax_t", |x| x.t()?.argmax(1, false)),
        ("argmin_0", |x| x.argmin(0, false)),
        ("argmin_2_keep", |x| x.argmin(2, true)),
        ("argmin_slice", |x| x.slice(1, 1, 8, 2)?.argmin(1, false)),
        ("prod_1", |x| x.prod(1, false)),
        ("prod_1_keep", |x| x.prod(1, true)),
        ("prod_all", |x| x.prod(Vec::<usize>::new(), false)),
        ("prod_t", |x| x.t()?.prod(0, false)),
        ("var_1_c1", |x| x.var(1, 1, false)),
        ("var_1_c0", |x| x.var(1, 0, false)),
        ("var_02_c1_keep", |x| x.var([0, 2], 1, true)),
        ("var_02_c0_keep", |x| x.var([0, 2], 0, true)),
        ("var_1_c2", |x| x.var(1, 2, false)),
        ("var_t_c1", |x| x.t()?.var(-1, 1, false)),
        ("std_1_c1", |x| x.std(1, 1, false)),
        ("std_1_c0_keep", |x| x.std(1, 0, true)),
        ("std_02_c1", |x| x.std([0, 2], 1, false)),
        ("std_slice_c0", |x| x.slice(1, 1, 8, 2)?.std(0, 0, false)),
        ("logsumexp_1", |x| x.logsumexp(1, false)),
        ("logsumexp_1_keep", |x| x.logsumexp(1, true)),
        ("logsumexp_02", |x| x.logsumexp([0, 2], false)),
        ("logsumexp_t", |x| x.t()?.logsumexp(-1, false)),
        ("max_ties", |x| x.max(1, false)),
        ("max_ties_all", |x| x.max([0, 1], false)),
        ("min_ties", |x| x.min(0, true)),
        ("argmax_ties", |x| x.argmax(1, false)),
        ("argmin_ties", |x| x.argmin(0, false)),
        ("prod_zeros", |x| x.prod(1, false)),
        ("prod_zeros_0", |x| x.prod(0, false)),
        ("nan_max", |x| x.max(1, false)),
        ("nan_min_all", |x| x.min_all()),
        ("nan_sum", |x| x.sum(0, false)),
        ("nan_argmax", |x| x.argmax(1, false)),
        ("nan_argmin", |x| x.argmin(1, false)),
        ("nan_logsumexp", |x| x.logsumexp(1, false)),
        ("inf_logsumexp", |x| x.logsumexp(1, false)),
        ("var_single_c1", |x| x.var(1, 1, false)),
        ("std_single_c1", |x| x.std(1, 1, false)),
        ("empty_sum", |x| x.sum(0, false)),
        ("empty_sum_all", |x| x.sum_all()),
        ("empty_prod", |x| x.prod(0, false)),
        ("empty_mean", |x| x.mean(0, false)),
        ("empty_logsumexp", |x| x.logsumexp(0, false)),
        ("empty_sum_keep_other", |x| x.sum(1, true)),
    ];
    let int_cases: Vec<(&str, Unary)> = vec![
        ("sum_i32", |x| x.sum(1, false)),
        ("sum_all_u8", |x| x.sum_all()),
        ("sum_bool", |x| x.sum(0, false)),
        ("prod_i32", |x| x.prod(0, false)),
        ("max_i32", |x| x.max(1, false)),
        ("min_i64_t", |x| x.t()?.min(1, false)),
        ("argmax_ties_i64", |x| x.argmax(1, false)),
        ("argmin_u8", |x| x.argmin(0, false)),
    ];
    let mut cases = Vec::new();
    for (name, f) in float_cases {
        cases.extend(floats(&format!("red.{name}"), REDUCTION, move |x| f(&x[0])));
    }
    for (name, f) in int_cases {
        cases.push(case(format!("red.int.{name}"), 0.0, move |x| f(&x[0])));
    }
    cases
}

// ---- the tests ---------------------------------------------------------------------------------

#[test]
fn golden_elementwise_ops() {
    run("elementwise", elementwise_cases());
}

#[test]
fn golden_views() {
    run("views", view_cases());
}

#[test]
fn golden_reductions() {
    run("reductions", reduction_cases());
}
