//! Golden tests against PyTorch 1.13 for ordering and scans: `sort`, `argsort`, `topk`,
//! `cumsum` and `cumprod`, values and gradients, in f32 and f64, with ties, NaN and infinities,
//! transposed inputs, empty and 0-dim tensors (`tools/golden/gen_ordering.py`).

mod common;

use common::cases::{case, case_multi, floats, floats_multi, run, Case};
use silica_core::{Result, Tensor};

/// f32 tolerance: sorting moves values exactly; scans round a little differently from
/// PyTorch's sequential f64 accumulation.
const TOL: f64 = 1e-5;

fn pair((a, b): (Tensor, Tensor)) -> Vec<Tensor> {
    vec![a, b]
}

fn ordering_cases() -> Vec<Case> {
    type Multi = fn(&[Tensor]) -> Result<Vec<Tensor>>;
    type Single = fn(&[Tensor]) -> Result<Tensor>;
    let multi: [(&str, Multi); 13] = [
        ("sort.last", |x| x[0].sort(-1, false).map(pair)),
        ("sort.first_desc", |x| x[0].sort(0, true).map(pair)),
        ("sort.ties", |x| x[0].sort(1, false).map(pair)),
        ("sort.ties_desc", |x| x[0].sort(1, true).map(pair)),
        ("sort.nan_inf", |x| x[0].sort(1, false).map(pair)),
        ("sort.nan_inf_desc", |x| x[0].sort(1, true).map(pair)),
        ("sort.transposed", |x| x[0].t()?.sort(1, false).map(pair)),
        ("sort.empty", |x| x[0].sort(1, false).map(pair)),
        ("sort.zero_dim", |x| x[0].sort(0, false).map(pair)),
        ("topk.largest", |x| x[0].topk(3, 1, true).map(pair)),
        ("topk.smallest", |x| x[0].topk(2, 0, false).map(pair)),
        ("topk.all", |x| x[0].topk(6, -1, true).map(pair)),
        ("topk.none", |x| x[0].topk(0, 1, true).map(pair)),
    ];
    let single: [(&str, Single); 12] = [
        ("argsort.ties", |x| x[0].argsort(1, false)),
        ("cumsum.last", |x| x[0].cumsum(-1)),
        ("cumsum.first", |x| x[0].cumsum(0)),
        ("cumsum.transposed", |x| x[0].t()?.cumsum(1)),
        ("cumsum.long", |x| x[0].cumsum(0)),
        ("cumsum.specials", |x| x[0].cumsum(1)),
        ("cumsum.empty", |x| x[0].cumsum(0)),
        ("cumsum.zero_dim", |x| x[0].cumsum(0)),
        ("cumprod.last", |x| x[0].cumprod(-1)),
        ("cumprod.first", |x| x[0].cumprod(0)),
        ("cumprod.zeros", |x| x[0].cumprod(1)),
        ("cumprod.long", |x| x[0].cumprod(0)),
    ];
    let mut cases: Vec<Case> = multi
        .into_iter()
        .flat_map(|(name, f)| floats_multi(name, TOL, f))
        .collect();
    cases.extend(
        single
            .into_iter()
            .flat_map(|(name, f)| floats(name, TOL, f)),
    );
    cases.extend([
        case_multi("sort.i64", 0.0, |x| x[0].sort(1, false).map(pair)),
        case_multi("sort.i32_desc", 0.0, |x| x[0].sort(0, true).map(pair)),
        case_multi("topk.i64", 0.0, |x| x[0].topk(2, 1, true).map(pair)),
        case("cumsum.i32", 0.0, |x| x[0].cumsum(1)),
        case("cumsum.bool", 0.0, |x| x[0].cumsum(0)),
        case("cumprod.i64", 0.0, |x| x[0].cumprod(1)),
    ]);
    cases
}

#[test]
fn golden_ordering() {
    run("ordering", ordering_cases());
}
