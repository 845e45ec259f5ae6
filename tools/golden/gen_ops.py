"""Golden values for the ops of issue 8: max/min over a dim with indices, tril/triu, repeat,
flip, roll, one_hot, vector norms, clamp with tensor bounds, lerp and einsum.

Writes ops.safetensors into the folder given as the first argument, in the layout of
gen_elementwise.py (whose Golden class it uses): every case NAME stores its base inputs
NAME/in0.., outputs NAME/out0.. and, when differentiable, weights NAME/w0.. and the gradients
NAME/g0.. of sum_j (out_j * w_j).sum() with respect to each float input. Views (transposes,
stepped slices) are applied by the case itself, identically on the Rust side
(crates/silica-core/tests/golden_ops.rs, one row per NAME).
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_elementwise import FLOATS, INF, NAN, Golden, randn  # noqa: E402

F32, F64, I32, I64 = torch.float32, torch.float64, torch.int32, torch.int64


def ties(*shape):
    """Integer-valued floats in [-2, 2]: ties for max/min and for the inf norm."""
    return torch.randint(-2, 3, shape).to(F64)


def specials(*shape):
    """Normal values with NaN, inf and -inf sprinkled in."""
    x = randn(*shape).flatten()
    x[1::7] = NAN
    x[3::11] = INF
    x[5::13] = -INF
    return x.reshape(shape)


def floats(g, name, fn, *inputs, grad=True):
    """The case in f32 and f64: NAME.f32 and NAME.f64 (float inputs cast, others kept)."""
    for dname, dt in FLOATS:
        xs = [x.to(dt) if x.is_floating_point() else x for x in inputs]
        g.case(f"{name}.{dname}", fn, *xs, grad=grad)


def gen_max_min(g):
    for op, f in [("max_dim", torch.max), ("min_dim", torch.min)]:
        floats(g, f"{op}.d1", lambda x: f(x, 1), randn(3, 4))
        floats(g, f"{op}.neg_keep", lambda x: f(x, -1, keepdim=True), randn(2, 3, 4))
        floats(g, f"{op}.t", lambda x: f(x.t(), 0), randn(4, 3))
        floats(g, f"{op}.slice", lambda x: f(x[:, 1:8:2], 1), randn(3, 8))
        floats(g, f"{op}.ties", lambda x: f(x, 1), ties(4, 5))
        floats(g, f"{op}.nan", lambda x: f(x, 1), specials(4, 6))
        floats(g, f"{op}.0d", lambda x: f(x, 0), randn())
        floats(g, f"{op}.0d_keep", lambda x: f(x, -1, keepdim=True), randn())
        floats(g, f"{op}.empty_other", lambda x: f(x, 1), torch.zeros(0, 3, dtype=F64))
        g.case(f"{op}.i32", lambda x: f(x, 0), torch.randint(-5, 5, (3, 4), dtype=I32))
        g.case(f"{op}.bool", lambda x: f(x, 1), torch.rand(3, 4) > 0.5)


def gen_triangles(g):
    for op, f in [("tril", torch.tril), ("triu", torch.triu)]:
        for k in [0, 1, -1, 5, -5]:
            floats(g, f"{op}.k{k}", lambda x: f(x, k), randn(3, 4))
        floats(g, f"{op}.batched_t", lambda x: f(x.transpose(-1, -2), 1), randn(2, 4, 3))
        floats(g, f"{op}.empty", lambda x: f(x), torch.zeros(2, 0, 3, dtype=F64))
        # NaN and inf off the triangle must reach neither the values nor the gradients.
        floats(g, f"{op}.nan", lambda x: f(x), specials(4, 4))
        g.case(f"{op}.i64", lambda x: f(x, -1), torch.arange(12).reshape(3, 4))
        g.case(f"{op}.bool", lambda x: f(x), torch.rand(2, 3, 3) > 0.3)


def gen_repeat(g):
    floats(g, "repeat.2d", lambda x: x.repeat(2, 1), randn(2, 3))
    floats(g, "repeat.prepend", lambda x: x.repeat(2, 2, 2), randn(3))
    floats(g, "repeat.t", lambda x: x.t().repeat(1, 3), randn(3, 2))
    floats(g, "repeat.slice", lambda x: x[:, 0:6:2].repeat(3, 2), randn(2, 6))
    floats(g, "repeat.0d", lambda x: x.repeat(2, 3), randn())
    floats(g, "repeat.0d_none", lambda x: x.repeat(()), randn())
    floats(g, "repeat.zero", lambda x: x.repeat(0, 2), randn(2, 3))
    floats(g, "repeat.empty", lambda x: x.repeat(2, 2), torch.zeros(0, 3, dtype=F64))
    g.case("repeat.i64", lambda x: x.repeat(2, 1, 2), torch.arange(6).reshape(2, 3))


def gen_flip(g):
    floats(g, "flip.02", lambda x: x.flip([0, 2]), randn(2, 3, 4))
    floats(g, "flip.neg", lambda x: x.flip([-1]), randn(2, 3, 4))
    floats(g, "flip.t", lambda x: x.t().flip([0]), randn(3, 5))
    floats(g, "flip.slice", lambda x: x[1:8:3].flip([0, 1]), randn(8, 3))
    floats(g, "flip.none", lambda x: x.flip([]), randn(2, 3))
    floats(g, "flip.0d", lambda x: x.flip([0]), randn())
    floats(g, "flip.empty", lambda x: x.flip([0, 1]), torch.zeros(0, 3, dtype=F64))
    g.case("flip.i32", lambda x: x.flip([1]), torch.arange(6, dtype=I32).reshape(2, 3))


def gen_roll(g):
    floats(g, "roll.d0", lambda x: x.roll(1, 0), randn(3, 4))
    floats(g, "roll.two", lambda x: x.roll((1, -2), (0, 1)), randn(3, 4))
    floats(g, "roll.flat", lambda x: x.roll(5), randn(3, 4))
    floats(g, "roll.t_neg", lambda x: x.t().roll(-7, 1), randn(4, 3))
    floats(g, "roll.repeated_dim", lambda x: x.roll((2, 3), (1, -1)), randn(2, 4))
    floats(g, "roll.big", lambda x: x.roll(10, 1), randn(2, 3))
    floats(g, "roll.empty", lambda x: x.roll(2, 0), torch.zeros(0, 3, dtype=F64))
    floats(g, "roll.0d", lambda x: x.roll(3), randn())
    g.case("roll.i64", lambda x: x.roll((1, 1), (0, 1)), torch.arange(12).reshape(3, 4))


def gen_one_hot(g):
    g.case("one_hot.infer", F.one_hot, torch.tensor([0, 2, 1, 2]))
    g.case("one_hot.given", lambda x: F.one_hot(x, 5), torch.tensor([[1, 0], [3, 3], [4, 2]]))
    g.case("one_hot.t", lambda x: F.one_hot(x.t(), 4), torch.tensor([[1, 0, 3], [3, 2, 0]]))
    g.case("one_hot.0d", lambda x: F.one_hot(x, 3), torch.tensor(2))
    g.case("one_hot.empty", lambda x: F.one_hot(x, 4), torch.zeros(0, 2, dtype=I64))


NORMS = [("p1", 1), ("p2", 2), ("pinf", INF), ("pminf", -INF)]


def gen_norm(g):
    for pname, p in NORMS:
        norm = torch.linalg.vector_norm
        floats(g, f"norm.{pname}.d1", lambda x: norm(x, p, 1), randn(3, 4))
        floats(g, f"norm.{pname}.d02_keep", lambda x: norm(x, p, (0, 2), keepdim=True), randn(2, 3, 4))
        floats(g, f"norm.{pname}.all", lambda x: norm(x, p), randn(2, 3))
        floats(g, f"norm.{pname}.t", lambda x: norm(x.t(), p, -1), randn(4, 3))
        floats(g, f"norm.{pname}.ties", lambda x: norm(x, p, 1), ties(4, 5))
        floats(g, f"norm.{pname}.0d", lambda x: norm(x, p, 0), randn())
        # A zero row (the 2-norm's gradient is 0 there), then rows with NaN and with infinities.
        zeros_nan = torch.tensor([[0.0, 0.0, 0.0], [3.0, -4.0, 0.0], [NAN, 1.0, -2.0], [INF, 1.0, -INF]])
        floats(g, f"norm.{pname}.special", lambda x: norm(x, p, 1), zeros_nan)
        if p in (1, 2):
            floats(g, f"norm.{pname}.empty", lambda x: norm(x, p, 0), torch.zeros(0, 3, dtype=F64))


def gen_clamp(g):
    # The bounds broadcast against x and each other; x gets the gradient inside, a bound
    # where it binds.
    floats(g, "clamp_tensor.both", lambda x, lo, hi: torch.clamp(x, lo, hi), randn(3, 4), randn(4) - 1, randn(3, 1) + 1)
    floats(g, "clamp_tensor.min", lambda x, lo: torch.clamp(x, min=lo), randn(3, 4), randn(3, 4))
    floats(g, "clamp_tensor.max", lambda x, hi: torch.clamp(x, max=hi), randn(3, 4), randn(4))
    floats(g, "clamp_tensor.bigger", lambda x, lo: torch.clamp(x, min=lo), randn(4), randn(2, 3, 4))
    floats(g, "clamp_tensor.t", lambda x, lo, hi: torch.clamp(x.t(), lo[:, 0:8:2], hi), randn(4, 3), randn(3, 8), randn() + 1)
    # min > max (the result is max, whose gradient it is), ties at the bounds, and NaN in x,
    # in min and in max.
    x = torch.tensor([[-2.0, 0.5, 3.0, NAN, 1.0, 1.0]]).t()
    lo = torch.tensor([0.0, 0.0, 1.0, 0.0, 2.0, NAN])
    hi = torch.tensor([1.0, 0.5, 1.0, NAN, 1.5, 2.0])
    floats(g, "clamp_tensor.special", lambda x, lo, hi: torch.clamp(x, lo, hi), x, lo, hi)
    floats(g, "clamp_tensor.special_min", lambda x, lo: torch.clamp(x, min=lo), x, lo)
    floats(g, "clamp_tensor.special_max", lambda x, hi: torch.clamp(x, max=hi), x, hi)
    floats(g, "clamp_tensor.0d_bounds", lambda x, lo, hi: torch.clamp(x, lo, hi), randn(3), randn(), randn() + 1)
    floats(g, "clamp_tensor.0d_x", lambda x, lo: torch.clamp(x, min=lo), randn(), randn(3))
    floats(g, "clamp_tensor.empty", lambda x, lo: torch.clamp(x, min=lo), torch.zeros(0, 3, dtype=F64), randn(3))
    # Promotion: an f32 x with f64 bounds is f64; a 0-dim f64 bound keeps f32; an integer x
    # with a float bound is float; integers stay integers.
    g.case("clamp_tensor.f32_f64", lambda x, lo: torch.clamp(x, min=lo), randn(3, 4).to(F32), randn(4))
    g.case("clamp_tensor.f32_0d_f64", lambda x, lo, hi: torch.clamp(x, lo, hi), randn(3, 4).to(F32), randn() - 1, randn() + 1)
    g.case("clamp_tensor.i64_f32", lambda x, hi: torch.clamp(x, max=hi), torch.arange(-3, 3), randn(6).to(F32))
    g.case("clamp_tensor.i32_i64", lambda x, lo, hi: torch.clamp(x, lo, hi), torch.arange(-3, 3, dtype=I32), torch.tensor([-1]), torch.tensor([2, 2, 2, 2, 2, 0]))


def gen_lerp(g):
    floats(g, "lerp.tensor", torch.lerp, randn(3, 4), randn(3, 4), randn(3, 4))
    floats(g, "lerp.bcast", torch.lerp, randn(3, 1), randn(1, 4), torch.rand(2, 1, 1, dtype=F64) * 2 - 0.5)
    floats(g, "lerp.0d_weight", torch.lerp, randn(3, 4), randn(4), torch.tensor(0.7, dtype=F64))
    floats(g, "lerp.nc", lambda a, b, w: torch.lerp(a.t(), b[:, 0:8:2], w), randn(4, 3), randn(3, 8), randn(4))
    # Weights on both sides of 0.5 with infinite ends: the formula decides inf, -inf or NaN.
    s = torch.tensor([0.0, 0.0, 0.0, 1.0, 0.0, INF, 2.0])
    e = torch.tensor([INF, INF, INF, INF, 1.0, 1.0, 2.0])
    w = torch.tensor([-0.7, 0.3, 0.7, 0.5, NAN, 0.25, 1.5])
    floats(g, "lerp.special", torch.lerp, s, e, w)
    for wname, ws in [("0.3", 0.3), ("0.7", 0.7), ("neg", -0.7), ("1.5", 1.5), ("half", 0.5)]:
        floats(g, f"lerp_scalar.{wname}", lambda a, b: torch.lerp(a, b, ws), randn(3, 4), randn(4))
        floats(g, f"lerp_scalar.special_{wname}", lambda a, b: torch.lerp(a, b, ws), s, e)
    floats(g, "lerp_scalar.nc", lambda a, b: torch.lerp(a.t(), b, 0.25), randn(4, 3), randn(3, 4))


EINSUM = [
    ("bmm", "bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("attention", "bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("outer", "i,j->ij", [(3,), (4,)]),
    ("trace", "ii->", [(4, 4)]),
    ("sum_axis", "ij->i", [(3, 4)]),
    ("transpose", "ij->ji", [(3, 4)]),
    ("diagonal", "ii->i", [(4, 4)]),
    ("diag_batched", "iij->ji", [(3, 3, 2)]),
    ("implicit_mm", "ij,jk", [(2, 3), (3, 4)]),
    ("implicit_sorted", "ba", [(2, 3)]),
    ("implicit_trace", "ii", [(3, 3)]),
    ("three", "ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("contract_all", "ij,ij->", [(3, 4), (3, 4)]),
    ("hadamard", "ij,ij->ij", [(3, 4), (3, 4)]),
    ("general", "abc,cda->bd", [(2, 3, 4), (4, 5, 2)]),
    ("lone_sums", "ijk,jl->il", [(2, 3, 4), (3, 5)]),
    ("bcast_batch", "bij,bjk->bik", [(1, 2, 3), (4, 3, 5)]),
    ("bcast_contracted", "ij,jk->ik", [(2, 1), (3, 5)]),
    ("ellipsis", "...ij,...jk->...ik", [(5, 2, 3), (3, 4)]),
    ("ellipsis_sum", "...ij->j", [(5, 2, 3)]),
    ("ellipsis_implicit", "j...i", [(5, 2, 3)]),
    ("scalars", ",->", [(), ()]),
    ("scalar_vec", ",i->i", [(), (3,)]),
    ("empty_k", "ij,jk->ik", [(2, 0), (0, 5)]),
    ("empty_batch", "bij,bjk->bik", [(0, 2, 3), (0, 3, 4)]),
    ("spaces", " i j , j k -> k i ", [(2, 3), (3, 4)]),
]


def gen_einsum(g):
    for name, eq, shapes in EINSUM:
        floats(g, f"einsum.{name}", lambda *xs: torch.einsum(eq, *xs), *[randn(*s) for s in shapes])
    # Non-contiguous operands.
    floats(g, "einsum.nc", lambda a, b: torch.einsum("bij,bjk->bik", a.transpose(1, 2), b[:, :, 0:8:2]), randn(2, 4, 3), randn(2, 4, 8))
    floats(g, "einsum.nc_trace", lambda a: torch.einsum("ii->", a.t()), randn(4, 4))
    # An outer product promotes; integers contract exactly.
    g.case("einsum.outer_f32_f64", lambda a, b: torch.einsum("i,j->ij", a, b), randn(3).to(F32), randn(2))
    g.case("einsum.i64_mm", lambda a, b: torch.einsum("ij,jk->ik", a, b), torch.arange(6).reshape(2, 3), torch.arange(12).reshape(3, 4))
    g.case("einsum.i32_sum", lambda a: torch.einsum("ij->j", a), torch.arange(6, dtype=I32).reshape(2, 3))


def gen_specials(g):
    """NaN, inf, empty and 0-dim inputs for the ops whose tables above lack them (drawn last,
    so that the cases above keep their values)."""
    floats(g, "repeat.special", lambda x: x.repeat(2, 2), specials(2, 3))
    floats(g, "flip.special", lambda x: x.flip([0, 1]), specials(3, 4))
    floats(g, "roll.special", lambda x: x.roll((1, -1), (0, 1)), specials(3, 4))
    floats(g, "lerp.empty", torch.lerp, torch.zeros(0, 3, dtype=F64), randn(3), randn(0, 1))
    floats(g, "lerp.0d", torch.lerp, randn(), randn(), randn())
    floats(g, "lerp_scalar.empty", lambda a, b: torch.lerp(a, b, 0.3), torch.zeros(0, 3, dtype=F64), randn(3))
    floats(g, "lerp_scalar.0d", lambda a, b: torch.lerp(a, b, 0.7), randn(), randn())
    floats(g, "einsum.special", lambda a, b: torch.einsum("bij,bjk->bik", a, b), specials(2, 3, 4), specials(2, 4, 5))
    # inf * 0 is NaN in the values and in both gradients.
    outer_a = torch.tensor([INF, NAN, 1.0, 0.0])
    outer_b = torch.tensor([0.0, 2.0, -INF])
    floats(g, "einsum.special_outer", lambda a, b: torch.einsum("i,j->ij", a, b), outer_a, outer_b)
    floats(g, "einsum.special_trace", lambda a: torch.einsum("ii->", a), specials(3, 3))
    # Mixed dtypes promote where no matrix product is needed: a summed subscript of size 1, or
    # an empty operand.
    g.case("einsum.size1_f32_f64", lambda a, b: torch.einsum("ij,jk->ik", a, b), randn(2, 1).to(F32), randn(1, 3))
    g.case("einsum.empty_f32_f64", lambda a, b: torch.einsum("ij,jk->ik", a, b), torch.zeros(2, 0), torch.zeros(0, 3, dtype=F64))


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../testdata/golden")
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(8)
    g = Golden()
    for gen in [gen_max_min, gen_triangles, gen_repeat, gen_flip, gen_roll, gen_one_hot, gen_norm, gen_clamp, gen_lerp, gen_einsum, gen_specials]:
        gen(g)
    g.save(os.path.join(out_dir, "ops.safetensors"))


if __name__ == "__main__":
    main()
