//! Golden tests against PyTorch 1.13 for the ops of issue 8: `max_dim`/`min_dim`, `tril`/`triu`,
//! `repeat`, `flip`, `roll`, `one_hot`, `norm`, `clamp_tensor`, `lerp`/`lerp_scalar` and
//! `einsum`, forward values and input gradients, in f32 and f64, on contiguous and
//! non-contiguous inputs, with empty and 0-dim tensors, and NaN and inf where the op has NaN
//! semantics.
//!
//! The reference file comes from `tools/golden/gen_ops.py`, in the layout of
//! `golden_elementwise.rs` (see `common/cases.rs`): one row here per case there.

mod common;

use common::cases::{case, case_multi, floats, floats_multi, run, Case};
use silica_core::{Result, Tensor};

/// f32 tolerance for ops that only move or select elements.
const EXACT: f64 = 1e-5;
/// f32 tolerance for ops that sum (norms, einsum) or interpolate.
const REDUCTION: f64 = 1e-4;

type Unary = fn(&Tensor) -> Result<Tensor>;

fn pair(r: Result<(Tensor, Tensor)>) -> Result<Vec<Tensor>> {
    r.map(|(v, i)| vec![v, i])
}

fn max_min_cases() -> Vec<Case> {
    type Extremum = fn(&Tensor, isize, bool) -> Result<(Tensor, Tensor)>;
    let ops: [(&str, Extremum); 2] = [
        ("max_dim", |x, d, k| x.max_dim(d, k)),
        ("min_dim", |x, d, k| x.min_dim(d, k)),
    ];
    let mut cases = Vec::new();
    for (op, f) in ops {
        let views: Vec<(&str, Unary, isize, bool)> = vec![
            ("d1", |x| Ok(x.clone()), 1, false),
            ("neg_keep", |x| Ok(x.clone()), -1, true),
            ("t", |x| x.t(), 0, false),
            ("slice", |x| x.slice(1, 1, 8, 2), 1, false),
            ("ties", |x| Ok(x.clone()), 1, false),
            ("nan", |x| Ok(x.clone()), 1, false),
            ("0d", |x| Ok(x.clone()), 0, false),
            ("0d_keep", |x| Ok(x.clone()), -1, true),
            ("empty_other", |x| Ok(x.clone()), 1, false),
        ];
        for (name, view, d, keep) in views {
            cases.extend(floats_multi(&format!("{op}.{name}"), EXACT, move |x| {
                pair(f(&view(&x[0])?, d, keep))
            }));
        }
        cases.push(case_multi(format!("{op}.i32"), 0.0, move |x| {
            pair(f(&x[0], 0, false))
        }));
        cases.push(case_multi(format!("{op}.bool"), 0.0, move |x| {
            pair(f(&x[0], 1, false))
        }));
    }
    cases
}

fn arrange_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    type Triangle = fn(&Tensor, i64) -> Result<Tensor>;
    let triangles: [(&str, Triangle); 2] = [("tril", |x, k| x.tril(k)), ("triu", |x, k| x.triu(k))];
    for (op, f) in triangles {
        for k in [0, 1, -1, 5, -5] {
            cases.extend(floats(&format!("{op}.k{k}"), EXACT, move |x| f(&x[0], k)));
        }
        cases.extend(floats(&format!("{op}.batched_t"), EXACT, move |x| {
            f(&x[0].transpose(-1, -2)?, 1)
        }));
        cases.extend(floats(&format!("{op}.empty"), EXACT, move |x| f(&x[0], 0)));
        cases.extend(floats(&format!("{op}.nan"), EXACT, move |x| f(&x[0], 0)));
        cases.push(case(format!("{op}.i64"), 0.0, move |x| f(&x[0], -1)));
        cases.push(case(format!("{op}.bool"), 0.0, move |x| f(&x[0], 0)));
    }
    let unary: Vec<(&str, Unary)> = vec![
        ("repeat.2d", |x| x.repeat(&[2, 1])),
        ("repeat.prepend", |x| x.repeat(&[2, 2, 2])),
        ("repeat.t", |x| x.t()?.repeat(&[1, 3])),
        ("repeat.slice", |x| x.slice(1, 0, 6, 2)?.repeat(&[3, 2])),
        ("repeat.0d", |x| x.repeat(&[2, 3])),
        ("repeat.0d_none", |x| x.repeat(&[])),
        ("repeat.zero", |x| x.repeat(&[0, 2])),
        ("repeat.empty", |x| x.repeat(&[2, 2])),
        ("flip.02", |x| x.flip([0, 2])),
        ("flip.neg", |x| x.flip([-1])),
        ("flip.t", |x| x.t()?.flip([0])),
        ("flip.slice", |x| x.slice(0, 1, 8, 3)?.flip([0, 1])),
        ("flip.none", |x| x.flip(Vec::<isize>::new())),
        ("flip.0d", |x| x.flip([0])),
        ("flip.empty", |x| x.flip([0, 1])),
        ("roll.d0", |x| x.roll(&[1], [0])),
        ("roll.two", |x| x.roll(&[1, -2], [0, 1])),
        ("roll.flat", |x| x.roll(&[5], Vec::<isize>::new())),
        ("roll.t_neg", |x| x.t()?.roll(&[-7], [1])),
        ("roll.repeated_dim", |x| x.roll(&[2, 3], [1, -1])),
        ("roll.big", |x| x.roll(&[10], [1])),
        ("roll.empty", |x| x.roll(&[2], [0])),
        ("roll.0d", |x| x.roll(&[3], Vec::<isize>::new())),
        ("repeat.special", |x| x.repeat(&[2, 2])),
        ("flip.special", |x| x.flip([0, 1])),
        ("roll.special", |x| x.roll(&[1, -1], [0, 1])),
    ];
    for (name, f) in unary {
        cases.extend(floats(name, EXACT, move |x| f(&x[0])));
    }
    cases.push(case("repeat.i64", 0.0, |x| x[0].repeat(&[2, 1, 2])));
    cases.push(case("flip.i32", 0.0, |x| x[0].flip([1])));
    cases.push(case("roll.i64", 0.0, |x| x[0].roll(&[1, 1], [0, 1])));
    cases
}

fn one_hot_cases() -> Vec<Case> {
    vec![
        case("one_hot.infer", 0.0, |x| x[0].one_hot(None)),
        case("one_hot.given", 0.0, |x| x[0].one_hot(Some(5))),
        case("one_hot.t", 0.0, |x| x[0].t()?.one_hot(Some(4))),
        case("one_hot.0d", 0.0, |x| x[0].one_hot(Some(3))),
        case("one_hot.empty", 0.0, |x| x[0].one_hot(Some(4))),
    ]
}

fn norm_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let ps = [
        ("p1", 1.0),
        ("p2", 2.0),
        ("pinf", f64::INFINITY),
        ("pminf", f64::NEG_INFINITY),
    ];
    for (name, p) in ps {
        let n = |row: &str| format!("norm.{name}.{row}");
        cases.extend(floats(&n("d1"), REDUCTION, move |x| x[0].norm(p, 1, false)));
        cases.extend(floats(&n("d02_keep"), REDUCTION, move |x| {
            x[0].norm(p, [0, 2], true)
        }));
        cases.extend(floats(&n("all"), REDUCTION, move |x| {
            x[0].norm(p, Vec::<isize>::new(), false)
        }));
        cases.extend(floats(&n("t"), REDUCTION, move |x| {
            x[0].t()?.norm(p, -1, false)
        }));
        cases.extend(floats(&n("ties"), REDUCTION, move |x| {
            x[0].norm(p, 1, false)
        }));
        cases.extend(floats(&n("0d"), REDUCTION, move |x| x[0].norm(p, 0, false)));
        cases.extend(floats(&n("special"), REDUCTION, move |x| {
            x[0].norm(p, 1, false)
        }));
        if p.is_finite() {
            cases.extend(floats(&n("empty"), REDUCTION, move |x| {
                x[0].norm(p, 0, false)
            }));
        }
    }
    cases
}

fn clamp_cases() -> Vec<Case> {
    let both = |x: &[Tensor]| x[0].clamp_tensor(Some(&x[1]), Some(&x[2]));
    let min = |x: &[Tensor]| x[0].clamp_tensor(Some(&x[1]), None);
    let max = |x: &[Tensor]| x[0].clamp_tensor(None, Some(&x[1]));
    let mut cases = Vec::new();
    cases.extend(floats("clamp_tensor.both", EXACT, both));
    cases.extend(floats("clamp_tensor.min", EXACT, min));
    cases.extend(floats("clamp_tensor.max", EXACT, max));
    cases.extend(floats("clamp_tensor.bigger", EXACT, min));
    cases.extend(floats("clamp_tensor.t", EXACT, |x| {
        x[0].t()?
            .clamp_tensor(Some(&x[1].slice(1, 0, 8, 2)?), Some(&x[2]))
    }));
    cases.extend(floats("clamp_tensor.special", EXACT, both));
    cases.extend(floats("clamp_tensor.special_min", EXACT, min));
    cases.extend(floats("clamp_tensor.special_max", EXACT, max));
    cases.extend(floats("clamp_tensor.0d_bounds", EXACT, both));
    cases.extend(floats("clamp_tensor.0d_x", EXACT, min));
    cases.extend(floats("clamp_tensor.empty", EXACT, min));
    cases.push(case("clamp_tensor.f32_f64", EXACT, min).f32_limited());
    cases.push(case("clamp_tensor.f32_0d_f64", EXACT, both));
    cases.push(case("clamp_tensor.i64_f32", EXACT, max));
    cases.push(case("clamp_tensor.i32_i64", 0.0, both));
    cases
}

fn lerp_cases() -> Vec<Case> {
    let lerp = |x: &[Tensor]| x[0].lerp(&x[1], &x[2]);
    let mut cases = Vec::new();
    for name in ["tensor", "bcast", "0d_weight", "special", "empty", "0d"] {
        cases.extend(floats(&format!("lerp.{name}"), REDUCTION, lerp));
    }
    cases.extend(floats("lerp.nc", REDUCTION, |x| {
        x[0].t()?.lerp(&x[1].slice(1, 0, 8, 2)?, &x[2])
    }));
    for (name, w) in [
        ("0.3", 0.3),
        ("0.7", 0.7),
        ("neg", -0.7),
        ("1.5", 1.5),
        ("half", 0.5),
    ] {
        cases.extend(floats(
            &format!("lerp_scalar.{name}"),
            REDUCTION,
            move |x| x[0].lerp_scalar(&x[1], w),
        ));
        cases.extend(floats(
            &format!("lerp_scalar.special_{name}"),
            REDUCTION,
            move |x| x[0].lerp_scalar(&x[1], w),
        ));
    }
    cases.extend(floats("lerp_scalar.nc", REDUCTION, |x| {
        x[0].t()?.lerp_scalar(&x[1], 0.25)
    }));
    cases.extend(floats("lerp_scalar.empty", REDUCTION, |x| {
        x[0].lerp_scalar(&x[1], 0.3)
    }));
    cases.extend(floats("lerp_scalar.0d", REDUCTION, |x| {
        x[0].lerp_scalar(&x[1], 0.7)
    }));
    cases
}

fn einsum_cases() -> Vec<Case> {
    let equations = [
        ("bmm", "bij,bjk->bik"),
        ("attention", "bhqd,bhkd->bhqk"),
        ("outer", "i,j->ij"),
        ("trace", "ii->"),
        ("sum_axis", "ij->i"),
        ("transpose", "ij->ji"),
        ("diagonal", "ii->i"),
        ("diag_batched", "iij->ji"),
        ("implicit_mm", "ij,jk"),
        ("implicit_sorted", "ba"),
        ("implicit_trace", "ii"),
        ("three", "ij,jk,kl->il"),
        ("contract_all", "ij,ij->"),
        ("hadamard", "ij,ij->ij"),
        ("general", "abc,cda->bd"),
        ("lone_sums", "ijk,jl->il"),
        ("bcast_batch", "bij,bjk->bik"),
        ("bcast_contracted", "ij,jk->ik"),
        ("ellipsis", "...ij,...jk->...ik"),
        ("ellipsis_sum", "...ij->j"),
        ("ellipsis_implicit", "j...i"),
        ("scalars", ",->"),
        ("scalar_vec", ",i->i"),
        ("empty_k", "ij,jk->ik"),
        ("empty_batch", "bij,bjk->bik"),
        ("spaces", " i j , j k -> k i "),
        ("special", "bij,bjk->bik"),
        ("special_outer", "i,j->ij"),
        ("special_trace", "ii->"),
    ];
    let mut cases = Vec::new();
    for (name, eq) in equations {
        cases.extend(floats(&format!("einsum.{name}"), REDUCTION, move |x| {
            Tensor::einsum(eq, &x.iter().collect::<Vec<_>>())
        }));
    }
    cases.extend(floats("einsum.nc", REDUCTION, |x| {
        let a = x[0].transpose(1, 2)?;
        let b = x[1].slice(2, 0, 8, 2)?;
        Tensor::einsum("bij,bjk->bik", &[&a, &b])
    }));
    cases.extend(floats("einsum.nc_trace", REDUCTION, |x| {
        Tensor::einsum("ii->", &[&x[0].t()?])
    }));
    cases.push(
        case("einsum.outer_f32_f64", REDUCTION, |x| {
            Tensor::einsum("i,j->ij", &[&x[0], &x[1]])
        })
        .f32_limited(),
    );
    for name in ["size1_f32_f64", "empty_f32_f64"] {
        let row = case(format!("einsum.{name}"), REDUCTION, |x| {
            Tensor::einsum("ij,jk->ik", &[&x[0], &x[1]])
        });
        cases.push(row.f32_limited());
    }
    cases.push(case("einsum.i64_mm", 0.0, |x| {
        Tensor::einsum("ij,jk->ik", &[&x[0], &x[1]])
    }));
    cases.push(case("einsum.i32_sum", 0.0, |x| {
        Tensor::einsum("ij->j", &[&x[0]])
    }));
    cases
}

#[test]
fn golden_ops() {
    let mut cases = max_min_cases();
    cases.extend(arrange_cases());
    cases.extend(one_hot_cases());
    cases.extend(norm_cases());
    cases.extend(clamp_cases());
    cases.extend(lerp_cases());
    cases.extend(einsum_cases());
    run("ops", cases);
}
