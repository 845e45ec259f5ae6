"""Golden values for elementwise ops, type promotion, casts, views and reductions.

Writes three files into the folder given as the first argument:
  elementwise.safetensors  unary and binary ops, comparisons, logical ops, where, masked_fill,
                           isnan, type promotion and casts
  views.safetensors        reshape, view, flatten, squeeze, transpose, expand, slice, chunk, ...
  reductions.safetensors   sum, mean, amax/amin, argmax/argmin, prod, var, std, logsumexp

Every case `NAME` stores
  NAME/in0, NAME/in1, ...   the inputs (the base tensors: views are applied by the case itself,
                            identically on the Rust side)
  NAME/out0, NAME/out1, ... the outputs
  NAME/w0, NAME/w1, ...     (differentiable cases) fixed random weights of the outputs' shapes
  NAME/g0, NAME/g1, ...     the gradients of sum_j (out_j * w_j).sum() with respect to each
                            float input

The Rust side (crates/silica-core/tests/golden_elementwise.rs) has one row per NAME.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_writer  # noqa: E402

F32, F64, F16, BF16 = torch.float32, torch.float64, torch.float16, torch.bfloat16
I32, I64, U8, BOOL = torch.int32, torch.int64, torch.uint8, torch.bool
FLOATS = [("f32", F32), ("f64", F64)]
NAN, INF = float("nan"), float("inf")


class Golden:
    def __init__(self):
        self.tensors = {}
        self.names = set()

    def case(self, name, fn, *inputs, grad=True):
        assert name not in self.names, name
        assert "/" not in name, name
        self.names.add(name)
        xs = [x.detach().clone() for x in inputs]
        for x in xs:
            if grad and x.is_floating_point():
                x.requires_grad_(True)
        out = fn(*xs)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        for i, x in enumerate(inputs):
            self.tensors[f"{name}/in{i}"] = x.detach().clone()
        for j, o in enumerate(outs):
            self.tensors[f"{name}/out{j}"] = o.detach().clone()
        if grad and any(o.requires_grad for o in outs):
            loss = 0
            for j, o in enumerate(outs):
                w = torch.randn(o.shape, dtype=F64).to(o.dtype)
                self.tensors[f"{name}/w{j}"] = w
                loss = loss + (o * w).sum()
            loss.backward()
            for i, x in enumerate(xs):
                if x.grad is not None:
                    self.tensors[f"{name}/g{i}"] = x.grad.detach().clone()

    def save(self, path):
        st_writer.save(self.tensors, path)
        print(f"{path}: {len(self.names)} cases, {os.path.getsize(path)} bytes")


# ---- input makers (drawn in f64, then cast, so the f32 and f64 cases see the same values) ----


def randn(*shape):
    return torch.randn(shape, dtype=F64)


def domain(kind, shape):
    if kind == "any":
        return randn(*shape)
    if kind == "pos":  # log, sqrt, rsqrt, pow bases
        return torch.rand(shape, dtype=F64) * 2 + 0.1
    if kind == "gt_m1":  # log1p
        return torch.rand(shape, dtype=F64) * 3 - 0.9
    if kind == "nonzero":  # abs, recip: away from 0
        return torch.sign(randn(*shape)) * (torch.rand(shape, dtype=F64) + 0.2)
    if kind == "wide":  # softplus: reaches the linear branch past the threshold
        return torch.rand(shape, dtype=F64) * 60 - 30
    if kind == "halves":  # floor, ceil, round, sign: integers and .5 ties
        return torch.round(randn(*shape) * 4) / 2
    raise ValueError(kind)


# ---- elementwise.safetensors ------------------------------------------------------------------

# (name, torch function, input domain); the Rust table lists the same names.
UNARY = [
    ("neg", torch.neg, "any"),
    ("abs", torch.abs, "nonzero"),
    ("exp", torch.exp, "any"),
    ("log", torch.log, "pos"),
    ("log1p", torch.log1p, "gt_m1"),
    ("sqrt", torch.sqrt, "pos"),
    ("rsqrt", torch.rsqrt, "pos"),
    ("square", torch.square, "any"),
    ("sin", torch.sin, "any"),
    ("cos", torch.cos, "any"),
    ("tanh", torch.tanh, "any"),
    ("sigmoid", torch.sigmoid, "any"),
    ("relu", torch.relu, "nonzero"),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.01), "nonzero"),
    ("leaky_relu_0.2", lambda x: F.leaky_relu(x, 0.2), "nonzero"),
    ("gelu", F.gelu, "any"),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), "any"),
    ("silu", F.silu, "any"),
    ("softplus", F.softplus, "wide"),
    ("softplus_b2_t5", lambda x: F.softplus(x, beta=2.0, threshold=5.0), "wide"),
    ("erf", torch.erf, "any"),
    ("sign", torch.sign, "halves"),
    ("floor", torch.floor, "halves"),
    ("ceil", torch.ceil, "halves"),
    ("round", torch.round, "halves"),
    ("recip", torch.reciprocal, "nonzero"),
    ("clamp", lambda x: torch.clamp(x, -0.5, 0.7), "any"),
    ("clamp_max", lambda x: torch.clamp(x, max=0.7), "any"),
    ("clamp_min", lambda x: torch.clamp(x, min=-0.3), "any"),
]

# (name, base shape, view): each op runs on a contiguous, a transposed, a stepped-slice and an
# expanded input.
UNARY_VIEWS = [
    ("c", (3, 4), lambda x: x),
    ("t", (4, 3), lambda x: x.t()),
    ("s", (3, 8), lambda x: x[:, 1:8:2]),
    ("e", (1, 4), lambda x: x.expand(3, 4)),
]

# (name, lhs base shape, rhs base shape, lhs view, rhs view)
BINARY_SHAPES = [
    ("same", (3, 4), (3, 4), lambda a: a, lambda b: b),
    ("bcast", (3, 1, 4), (2, 4), lambda a: a, lambda b: b),
    ("bcast_col", (3, 1), (1, 4), lambda a: a, lambda b: b),
    ("scalar0d", (3, 4), (), lambda a: a, lambda b: b),
    ("nc", (4, 3), (3, 8), lambda a: a.t(), lambda b: b[:, 0:8:2]),
    ("nc_bcast", (4, 1, 3), (4, 2), lambda a: a.transpose(0, 2), lambda b: b.t()),
    ("scalar0d_lhs", (), (3, 4), lambda a: a, lambda b: b),
]

BINARY = [
    ("add", torch.add, "any", "any"),
    ("sub", torch.sub, "any", "any"),
    ("mul", torch.mul, "any", "any"),
    ("div", torch.div, "any", "nonzero"),
    ("pow", torch.pow, "pos", "any"),
    ("maximum", torch.maximum, "any", "any"),
    ("minimum", torch.minimum, "any", "any"),
]

SCALAR = [
    ("add_scalar", lambda x: x + 1.5, "any"),
    ("add_scalar_int", lambda x: x + 2, "any"),
    ("sub_scalar", lambda x: x - 0.75, "any"),
    ("mul_scalar", lambda x: x * -2.5, "any"),
    ("mul_scalar_int", lambda x: x * 3, "any"),
    ("div_scalar", lambda x: x / 3.0, "any"),
    ("pow_scalar", lambda x: x**2.5, "pos"),
    ("pow_scalar_int", lambda x: x**2, "any"),
    ("pow_scalar_neg", lambda x: x**-1.5, "pos"),
    ("pow_scalar_half", lambda x: x**0.5, "pos"),
    ("maximum_scalar", lambda x: torch.maximum(x, torch.tensor(0.3, dtype=x.dtype)), "any"),
    ("minimum_scalar", lambda x: torch.minimum(x, torch.tensor(0.3, dtype=x.dtype)), "any"),
]

COMPARE = [
    ("eq", torch.eq),
    ("ne", torch.ne),
    ("lt", torch.lt),
    ("le", torch.le),
    ("gt", torch.gt),
    ("ge", torch.ge),
]


def small_ints(*shape):
    """Integer-valued floats in [-2, 2], so that comparisons see equal pairs."""
    return torch.randint(-2, 3, shape).to(F64)


def with_nans(t):
    flat = t.clone().flatten()
    flat[::5] = NAN
    return flat.reshape(t.shape)


def gen_elementwise(out_dir):
    g = Golden()

    # Unary ops, each on four views, in f32 and f64.
    for name, fn, dom in UNARY:
        for vname, shape, view in UNARY_VIEWS:
            x = domain(dom, shape)
            for dname, dt in FLOATS:
                g.case(f"unary.{name}.{vname}.{dname}", lambda x: fn(view(x)), x.to(dt))

    # Binary ops over several broadcasting / strided layouts.
    for name, fn, da, db in BINARY:
        for sname, sa, sb, va, vb in BINARY_SHAPES:
            a, b = domain(da, sa), domain(db, sb)
            for dname, dt in FLOATS:
                g.case(
                    f"binary.{name}.{sname}.{dname}",
                    lambda a, b: fn(va(a), vb(b)),
                    a.to(dt),
                    b.to(dt),
                )
    # Operands of two float dtypes: the result is f64, each gradient has its input's dtype.
    for name, fn, da, db in BINARY:
        a, b = domain(da, (3, 1, 4)), domain(db, (2, 4))
        g.case(f"binary.{name}.mixed.f32_f64", fn, a.to(F32), b.to(F64))

    # Tensor op Python scalar.
    for name, fn, dom in SCALAR:
        for vname, shape, view in UNARY_VIEWS[:3]:
            x = domain(dom, shape)
            for dname, dt in FLOATS:
                g.case(f"scalar.{name}.{vname}.{dname}", lambda x: fn(view(x)), x.to(dt))

    # Comparisons: tensor-tensor with broadcasting, on a transposed view, with NaNs, and
    # against scalars.
    for name, fn in COMPARE:
        a, b = small_ints(3, 1, 4), small_ints(2, 4)
        at, bt = small_ints(4, 3), small_ints(3, 4)
        an, bn = with_nans(small_ints(3, 4)), with_nans(small_ints(4)).flip(0)
        for dname, dt in FLOATS:
            g.case(f"cmp.{name}.bcast.{dname}", fn, a.to(dt), b.to(dt))
            g.case(f"cmp.{name}.nc.{dname}", lambda a, b: fn(a.t(), b), at.to(dt), bt.to(dt))
            g.case(f"cmp.{name}.nan.{dname}", fn, an.to(dt), bn.to(dt))
            g.case(f"cmp.{name}.scalar.{dname}", lambda a: fn(a, 1.0), an.to(dt))
            g.case(f"cmp.{name}.scalar_frac.{dname}", lambda a: fn(a, 0.5), a.to(dt))
        g.case(f"cmp.{name}.i64", fn, a.to(I64), b.to(I64))

    # Logical ops: non-zero (NaN included) is true.
    la = torch.tensor([[0.0, 1.0, -2.0, NAN], [0.0, 0.0, 3.5, -0.0], [NAN, 0.0, 1.0, 0.0]])
    lb = torch.tensor([0.0, 2.0, NAN, 0.0])
    ma = torch.tensor([[True, False, True, False], [False, False, True, True], [True, True, False, False]])
    for dname, dt in FLOATS:
        g.case(f"logical.and.{dname}", torch.logical_and, la.to(dt), lb.to(dt))
        g.case(f"logical.or.{dname}", torch.logical_or, la.to(dt), lb.to(dt))
        g.case(f"logical.not.{dname}", torch.logical_not, la.to(dt))
        g.case(f"logical.not.t.{dname}", lambda x: torch.logical_not(x.t()), la.to(dt))
    g.case("logical.and.bool", torch.logical_and, ma, ma[1])
    g.case("logical.or.bool", torch.logical_or, ma, ma[1])
    g.case("logical.not.bool", torch.logical_not, ma)
    g.case("logical.and.i32", torch.logical_and, la.nan_to_num(5.0).to(I32), lb.nan_to_num(5.0).to(I32))

    # where: condition, both branches broadcast; gradients flow to both branches.
    cond = torch.rand(3, 1, 4) > 0.5
    for dname, dt in FLOATS:
        a, b = randn(2, 4).to(dt), randn(3, 1, 1).to(dt)
        g.case(f"where.bcast.{dname}", torch.where, cond, a, b)
        a, b = randn(4, 3).to(dt), randn(3, 8).to(dt)
        c2 = torch.rand(3, 4) > 0.5
        g.case(f"where.nc.{dname}", lambda c, a, b: torch.where(c, a.t(), b[:, 1:8:2]), c2, a, b)
        x = randn(4, 3).to(dt)
        mask = torch.tensor([[True, False, False, True]])
        g.case(f"masked_fill.{dname}", lambda x, m: x.masked_fill(m, 2.5), randn(3, 4).to(dt), mask)
        g.case(f"masked_fill.nc.{dname}", lambda x, m: x.t().masked_fill(m, -1.0), x, mask)
        xn = with_nans(randn(3, 4))
        xn[1, 1] = INF
        g.case(f"isnan.{dname}", torch.isnan, xn.to(dt))
        g.case(f"isnan.t.{dname}", lambda x: torch.isnan(x.t()), xn.to(dt))
    g.case("where.mixed.f32_f64", torch.where, cond, randn(2, 4).to(F32), randn(3, 1, 1).to(F64))
    g.case("where.mixed.i32_f32", torch.where, cond, torch.arange(8, dtype=I32).reshape(2, 4), randn(3, 1, 1).to(F32))
    g.case("where.i64", torch.where, cond, torch.arange(8).reshape(2, 4), torch.tensor([[[-1]], [[-2]], [[-3]]]))
    g.case("masked_fill.i32", lambda x, m: x.masked_fill(m, 7), torch.arange(12, dtype=I32).reshape(3, 4), mask)
    g.case("isnan.i32", torch.isnan, torch.arange(6, dtype=I32))

    gen_edges(g)
    gen_promotion(g)
    gen_casts(g)
    g.save(os.path.join(out_dir, "elementwise.safetensors"))


def gen_edges(g):
    """Points where a formula needs care: zeros, ties, boundaries, NaN, empty tensors."""
    # Zeros of both signs, .5 ties and the clamp bounds.
    halves = torch.tensor([[0.0, -0.5, 1.0, 2.5], [-1.5, 0.0, 0.5, -2.0], [1.5, -0.5, 3.0, -0.0]])
    ties = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 0.49999997, -0.0, 1e6 + 0.5])
    for dname, dt in FLOATS:
        x = halves.to(dt)
        g.case(f"edge.round_ties.{dname}", torch.round, ties.to(dt))
        g.case(f"edge.floor_halves.{dname}", torch.floor, x)
        g.case(f"edge.ceil_halves.{dname}", torch.ceil, x)
        # Zero gradient at exactly 0 (PyTorch: sign(0) = 0, relu's mask is x > 0).
        g.case(f"edge.relu_zeros.{dname}", torch.relu, x)
        g.case(f"edge.abs_zeros.{dname}", torch.abs, x)
        g.case(f"edge.leaky_relu_zeros.{dname}", lambda x: F.leaky_relu(x, 0.1), x)
        # The clamp gradient passes at the bounds themselves.
        g.case(f"edge.clamp_bounds.{dname}", lambda x: torch.clamp(x, -0.5, 1.0), x)
        # maximum/minimum split the gradient of ties in half.
        a, b = small_ints(3, 1, 4).to(dt), small_ints(2, 4).to(dt)
        g.case(f"edge.maximum_ties.{dname}", torch.maximum, a, b)
        g.case(f"edge.minimum_ties.{dname}", torch.minimum, a, b)
        # pow at a zero base and a zero exponent: the gradients are 0, not NaN.
        base = torch.tensor([0.0, 0.0, 2.0, 1.5, 0.0, 3.0], dtype=dt)
        expo = torch.tensor([0.0, 2.0, 0.0, 1.0, 3.0, 0.5], dtype=dt)
        g.case(f"edge.pow_zero_base.{dname}", torch.pow, base, expo)
        g.case(f"edge.pow_scalar_zero.{dname}", lambda x: x**0, x)
        g.case(f"edge.pow_scalar_int_zero_base.{dname}", lambda x: x**3, x)
        g.case(f"edge.sign_nan.{dname}", torch.sign, torch.tensor([NAN, -0.0, 0.0, 1.5, -2.0], dtype=dt))
        g.case(f"edge.maximum_nan.{dname}", torch.maximum, with_nans(randn(3, 4)).to(dt), with_nans(randn(4)).flip(0).to(dt), grad=False)
        g.case(f"edge.minimum_nan.{dname}", torch.minimum, with_nans(randn(3, 4)).to(dt), with_nans(randn(4)).flip(0).to(dt), grad=False)
        # where with a 0-dim branch.
        g.case(f"edge.where_0d.{dname}", torch.where, torch.rand(3, 4) > 0.5, randn(3, 4).to(dt), torch.tensor(0.5, dtype=dt))
        # One leaf used several times (gradients accumulate across views).
        sq = randn(3, 3).to(dt)
        g.case(f"edge.self_mul_t.{dname}", lambda x: x * x.t(), sq)
        g.case(f"edge.self_add_slice.{dname}", lambda x: x[:, 0:3:2] + x[:, 1:3].exp(), sq)
        g.case(f"edge.self_where.{dname}", lambda x: torch.where(x > 0, x.sin(), x * x), sq)
        # Empty tensors.
        g.case(f"edge.empty_exp.{dname}", torch.exp, torch.zeros(0, 3, dtype=dt))
        g.case(f"edge.empty_add_bcast.{dname}", torch.add, torch.zeros(0, 3, dtype=dt), randn(3).to(dt))


def gen_promotion(g):
    """Mixed-dtype ops: the result dtype must be torch.result_type's."""
    ints = torch.tensor([[-3, -1, 0, 2], [5, 7, 11, 100]])
    u8s = torch.tensor([[0, 1, 2, 3], [100, 200, 250, 255]], dtype=U8)
    bools = torch.tensor([[True, False, True, True], [False, False, True, False]])
    fl = torch.tensor([[0.5, -1.25, 3.0, 2.75], [-0.1, 7.3, 1.0, 0.3]], dtype=F64)
    h = torch.tensor([[1.0, 3.0, 0.7, 1.3], [-2.5, 1000.0, 0.1, 0.333]], dtype=F64)

    cases = [
        # tensor op tensor
        ("i32_add_f16", lambda a, b: a + b, ints.to(I32), h.to(F16)),
        ("i64_mul_f32", lambda a, b: a * b, ints, fl.to(F32)),
        ("u8_add_i32", lambda a, b: a + b, u8s, ints.to(I32)),
        ("u8_add_u8_wraps", lambda a, b: a + b, u8s, u8s),
        ("u8_sub_u8_wraps", lambda a, b: a - b, u8s, u8s.flip(1)),
        ("bool_add_u8", lambda a, b: a + b, bools, u8s),
        ("bool_add_bool", lambda a, b: a + b, bools, bools.flip(1)),
        ("bool_mul_f32", lambda a, b: a * b, bools, fl.to(F32)),
        ("f16_add_bf16", lambda a, b: a + b, h.to(F16), fl.to(BF16)),
        ("f16_add_f16", lambda a, b: a + b, h.to(F16), fl.to(F16)),
        ("f16_mul_f16", lambda a, b: a * b, h.to(F16), fl.to(F16)),
        ("bf16_mul_bf16", lambda a, b: a * b, h.to(BF16), fl.to(BF16)),
        ("bf16_div_bf16", lambda a, b: a / b, h.to(BF16), fl.to(BF16)),
        ("f16_add_f32", lambda a, b: a + b, h.to(F16), fl.to(F32)),
        ("i32_add_f64", lambda a, b: a + b, ints.to(I32), fl),
        ("i32_div_i32", lambda a, b: a / b, ints.to(I32), ints.to(I32).flip(1).clamp(min=1)),
        ("i64_maximum_i32", torch.maximum, ints, ints.to(I32).flip(0)),
        ("i32_pow_i32", lambda a, b: a**b, ints.to(I32).clamp(-3, 5), torch.tensor([2, 3, 0, 1], dtype=I32)),
        # tensor op 0-dim tensor
        ("f16_add_0d_f64", lambda a, b: a + b, h.to(F16), torch.tensor(2.5, dtype=F64)),
        ("bf16_mul_0d_f64", lambda a, b: a * b, h.to(BF16), torch.tensor(-1.5, dtype=F64)),
        ("i32_add_0d_f64", lambda a, b: a + b, ints.to(I32), torch.tensor(0.25, dtype=F64)),
        ("i32_add_0d_i64", lambda a, b: a + b, ints.to(I32), torch.tensor(4)),
        ("u8_mul_0d_i64", lambda a, b: a * b, u8s, torch.tensor(2)),
        ("u8_add_0d_i64_neg", lambda a, b: a + b, u8s, torch.tensor(-1)),
        ("f32_add_0d_f64", lambda a, b: a + b, fl.to(F32), torch.tensor(1.0 / 3.0, dtype=F64)),
        ("0d_f64_add_f16", lambda a, b: a + b, torch.tensor(2.5, dtype=F64), h.to(F16)),
        ("0d_i32_add_0d_f64", lambda a, b: a + b, torch.tensor(3, dtype=I32), torch.tensor(0.5, dtype=F64)),
        ("0d_f32_add_0d_f64", lambda a, b: a + b, torch.tensor(1.5, dtype=F32), torch.tensor(0.5, dtype=F64)),
        # tensor op Python scalar
        ("i32_mul_2.5", lambda a: a * 2.5, ints.to(I32)),
        ("i64_add_3", lambda a: a + 3, ints),
        ("i64_div_2", lambda a: a / 2, ints),
        ("i32_pow_2", lambda a: a**2, ints.to(I32)),
        ("i32_pow_0.5", lambda a: a**0.5, ints.to(I32).abs()),
        ("u8_add_3", lambda a: a + 3, u8s),
        ("u8_mul_neg1", lambda a: a * -1, u8s),
        ("bool_add_1", lambda a: a + 1, bools),
        ("bool_add_2.5", lambda a: a + 2.5, bools),
        ("bool_add_true", lambda a: a + True, bools),
        ("f16_mul_0.1", lambda a: a * 0.1, h.to(F16)),
        ("f16_add_0.1", lambda a: a + 0.1, h.to(F16)),
        ("bf16_mul_0.1", lambda a: a * 0.1, h.to(BF16)),
        ("f64_mul_0.1", lambda a: a * 0.1, h),
        ("0d_i32_add_2.5", lambda a: a + 2.5, torch.tensor(3, dtype=I32)),
        ("0d_f64_add_2.5", lambda a: a + 2.5, torch.tensor(3.0, dtype=F64)),
        ("0d_u8_add_7", lambda a: a + 7, torch.tensor(250, dtype=U8)),
        # comparisons and where across dtypes
        ("i32_lt_f32", lambda a, b: a < b, ints.to(I32), fl.to(F32)),
        ("i64_eq_f32", lambda a, b: a == b, ints, torch.tensor([-3.0, -1.5, 0.0, 2.0])),
        ("u8_ge_2.5", lambda a: a >= 2.5, u8s),
        ("i32_gt_0d_f64", lambda a, b: a > b, ints.to(I32), torch.tensor(1.5, dtype=F64)),
        # unary float ops on integers compute in f32; the others keep the dtype
        ("exp_i32", torch.exp, ints.to(I32).clamp(max=10)),
        ("sqrt_i64", torch.sqrt, ints.abs()),
        ("sigmoid_u8", torch.sigmoid, u8s),
        ("log_bool", torch.log, bools),
        ("abs_i32", torch.abs, ints.to(I32)),
        ("neg_i64", torch.neg, ints),
        ("sign_i32", torch.sign, ints.to(I32)),
        ("relu_i64", torch.relu, ints),
        ("square_i32", torch.square, ints.to(I32)),
        ("clamp_i32_int_bounds", lambda a: torch.clamp(a, -1, 6), ints.to(I32)),
        ("floor_i64", torch.floor, ints),
    ]
    for name, fn, *inputs in cases:
        g.case(f"promo.{name}", fn, *inputs, grad=False)


def gen_casts(g):
    """to_dtype between every pair of dtypes, with values in range of the target."""
    e = 2.0**-11  # half an ulp of f16 at 1
    b = 2.0**-8  # half an ulp of bf16 at 1
    floats = [
        -2.75, -1.5, -0.5, -0.0, 0.0, 0.3, 1.0, 2.5, 3.7, 100.6, 250.9,
        1 + e,  # f16 tie -> even (1.0)
        1 + 3 * e,  # f16 tie -> even (1 + 2^-9)
        1 + e + 2.0**-23,  # just above an f16 tie (exact in f32)
        1 + b,  # bf16 tie -> even
        1 + b + 2.0**-22,  # just above a bf16 tie (exact in f32)
        1 + 3 * b,  # bf16 tie -> even (up)
        2049.0, 257.0, 259.0, 65519.0, 65520.0, 1e-6, -1e-8,
    ]
    # Only representable in f64: PyTorch casts f64 -> f16/bf16 through f32.
    f64_only = [1 + e + 2.0**-40, 1 + b + 2.0**-40, 1 + e - 2.0**-40, 0.1, 1.0 / 3.0]
    ints = [-5, -1, 0, 1, 7, 127, 128, 255, 256, 257, 259, 300, 2049, 65519, 65521, 16777217, 2**31 - 1, -(2**31)]
    i64_extra = [2**40 + 5, -(2**40) - 3, 2**53 + 1, 2**62 + 12345]
    u8s = [0, 1, 7, 127, 128, 200, 255]
    bools = [True, False, True, True, False]

    sources = {
        "f32": torch.tensor(floats, dtype=F64).to(F32),
        "f64": torch.tensor(floats + f64_only, dtype=F64),
        "f16": torch.tensor(floats, dtype=F64).to(F16),
        "bf16": torch.tensor(floats, dtype=F64).to(BF16),
        "i32": torch.tensor(ints, dtype=I32),
        "i64": torch.tensor(ints + i64_extra, dtype=I64),
        "u8": torch.tensor(u8s, dtype=U8),
        "bool": torch.tensor(bools),
    }
    targets = {"f32": F32, "f64": F64, "f16": F16, "bf16": BF16, "i32": I32, "i64": I64, "u8": U8, "bool": BOOL}
    for sname, src in sources.items():
        for tname, dt in targets.items():
            if sname == tname:
                continue
            x = src
            if src.is_floating_point() and not dt.is_floating_point and dt != BOOL:
                # Float -> int: only in-range values (out-of-range is undefined in C++), and no
                # negatives for u8. Truncation towards zero.
                lo, hi = (0, 255) if dt == U8 else (-(2**31), 2**31 - 1)
                keep = (x.double() >= lo) & (x.double() <= hi) & torch.isfinite(x.double())
                x = x[keep]
            g.case(f"cast.{sname}_to_{tname}", lambda x: x.to(dt), x, grad=False)

    # Casts of non-contiguous inputs, and gradients through casts between float dtypes.
    base = randn(4, 3)
    g.case("cast.t.f64_to_f32", lambda x: x.t().to(F32), base)
    g.case("cast.t.f32_to_f64", lambda x: x.t().to(F64), base.to(F32))
    g.case("cast.s.f64_to_f16", lambda x: x[:, 0:3:2].to(F16), base, grad=False)
    g.case("cast.t.f32_to_i32", lambda x: (x.t() * 10).to(I32), base.to(F32), grad=False)
    g.case("cast.grad.f32_to_f64_mul", lambda x: x.to(F64) * 3.0, base.to(F32))
    g.case("cast.grad.f64_to_f32_exp", lambda x: x.to(F32).exp(), base)


# ---- views.safetensors ------------------------------------------------------------------------

# (name, base shape, function): the Rust table builds the same view.
VIEWS = [
    ("reshape_m1", (2, 3, 4), lambda x: x.reshape(-1, 4)),
    ("reshape_m1_first", (2, 3, 4), lambda x: x.reshape(4, -1)),
    ("reshape_nc", (2, 3, 4), lambda x: x.transpose(0, 2).reshape(4, -1)),
    ("reshape_t_flat", (3, 4), lambda x: x.t().reshape(-1)),
    ("reshape_slice", (3, 8), lambda x: x[:, 1:8:2].reshape(2, 6)),
    ("view", (2, 3, 4), lambda x: x.view(6, 4)),
    ("view_m1", (2, 3, 4), lambda x: x.view(2, -1)),
    ("view_narrow", (4, 3, 2), lambda x: x.narrow(0, 1, 2).view(-1)),
    ("view_split_dim", (6, 4), lambda x: x.view(2, 3, 2, 2)),
    ("view_of_t", (3, 4), lambda x: x.t().view(4, 3, 1)),
    ("flatten", (2, 3, 4), lambda x: x.flatten(1, -1)),
    ("flatten_01", (2, 3, 4), lambda x: x.flatten(0, 1)),
    ("flatten_nc", (2, 3, 4), lambda x: x.permute(2, 0, 1).flatten(0, 1)),
    ("squeeze", (3, 1, 4), lambda x: x.squeeze(1)),
    ("squeeze_neg", (3, 4, 1), lambda x: x.squeeze(-1)),
    ("squeeze_noop", (3, 4), lambda x: x.squeeze(0)),
    ("unsqueeze", (3, 4), lambda x: x.unsqueeze(1)),
    ("unsqueeze_neg", (3, 4), lambda x: x.unsqueeze(-1)),
    ("unsqueeze_t", (3, 4), lambda x: x.t().unsqueeze(0)),
    ("transpose", (2, 3, 4), lambda x: x.transpose(0, 2)),
    ("transpose_neg", (2, 3, 4), lambda x: x.transpose(-1, -2)),
    ("permute", (2, 3, 4), lambda x: x.permute(2, 0, 1)),
    ("permute_neg", (2, 3, 4), lambda x: x.permute(-1, 0, -2)),
    ("t", (3, 4), lambda x: x.t()),
    ("t_1d", (4,), lambda x: x.t()),
    ("expand", (3, 1), lambda x: x.expand(3, 4)),
    ("expand_m1_new_dim", (1, 3, 1), lambda x: x.expand(2, -1, 4)),
    ("expand_lead", (3, 1), lambda x: x.expand(2, 3, 4)),
    ("broadcast_to", (3, 1), lambda x: torch.broadcast_to(x, (2, 3, 4))),
    ("expand_t", (1, 3), lambda x: x.t().expand(3, 4)),
    ("narrow", (3, 5), lambda x: x.narrow(1, 1, 3)),
    ("narrow_t", (3, 5), lambda x: x.t().narrow(0, 2, 2)),
    ("slice_step", (2, 3, 7), lambda x: x[:, :, 1:7:2]),
    ("slice_step3", (7, 3), lambda x: x[0:7:3]),
    ("slice_neg_start", (3, 5), lambda x: x[:, -3:5]),
    ("slice_clamped", (5, 3), lambda x: x[2:100:2]),
    ("slice_of_t", (4, 6), lambda x: x.t()[1:6:2]),
    ("slice_twice", (6, 8), lambda x: x[1:6:2][:, 0:8:3]),
    ("select", (2, 3, 4), lambda x: x.select(0, 1)),
    ("select_neg", (2, 3, 4), lambda x: x.select(1, -1)),
    ("select_t", (3, 4), lambda x: x.t().select(1, -2)),
    ("chunk", (3, 4), lambda x: x.chunk(3, 1)),
    ("chunk_uneven", (5, 2), lambda x: x.chunk(3, 0)),
    ("chunk_neg", (2, 3, 4), lambda x: x.chunk(2, -1)),
    ("chunk_t", (4, 6), lambda x: x.t().chunk(4, 0)),
    ("split", (5, 3), lambda x: x.split(2, 0)),
    ("split_dim1", (3, 7), lambda x: x.split(3, 1)),
    ("split_t", (3, 5), lambda x: x.t().split(2, 1)),
    ("contiguous_t", (3, 4), lambda x: x.t().contiguous()),
    ("contiguous_slice", (3, 8), lambda x: x[:, 1:8:2].contiguous()),
    ("contiguous_expand", (3, 1), lambda x: x.expand(3, 4).contiguous()),
    ("unsqueeze_0d", (), lambda x: x.unsqueeze(0)),
    ("expand_0d", (), lambda x: x.expand(2, 3)),
    ("flatten_0d", (), lambda x: x.flatten()),
    ("reshape_to_0d", (1, 1), lambda x: x.reshape(())),
    ("squeeze_all", (1, 3, 1, 4), lambda x: x.squeeze()),
    ("flatten_all_nc", (2, 3, 4), lambda x: x.transpose(0, 2).flatten()),
    ("chunk_more_than_size", (3, 2), lambda x: x.chunk(5, 0)),
    ("split_bigger", (3, 2), lambda x: x.split(5, 0)),
    ("slice_empty", (3, 4), lambda x: x[:, 3:1]),
    ("slice_neg_end", (3, 5), lambda x: x[:, 1:-1]),
    ("narrow_empty", (3, 4), lambda x: x.narrow(1, 2, 0)),
    ("select_of_expand", (3, 1), lambda x: x.expand(3, 4).select(1, 2)),
    ("empty_reshape_m1", (0, 3), lambda x: x.reshape(-1)),
    ("empty_t", (0, 3), lambda x: x.t()),
    ("chain", (3, 4), lambda x: x.t().unsqueeze(0).expand(2, -1, -1).reshape(8, 3)[1:8:3]),
    ("chain_select_view", (2, 3, 4), lambda x: x.permute(1, 2, 0).select(2, 0).reshape(-1).view(2, 6)),
]


def gen_views(out_dir):
    g = Golden()
    for name, shape, fn in VIEWS:
        x = randn(*shape)
        for dname, dt in FLOATS:
            g.case(f"view.{name}.{dname}", fn, x.to(dt))
    # Views of an integer tensor (no gradients).
    xi = torch.arange(24, dtype=I64).reshape(2, 3, 4)
    g.case("view.int.transpose_reshape", lambda x: x.transpose(0, 2).reshape(4, -1), xi)
    g.case("view.int.slice_step", lambda x: x[:, :, 1:4:2].contiguous(), xi.to(I32))
    g.case("view.bool.expand", lambda x: x.expand(2, 3, 4), torch.tensor([[True], [False], [True]]))
    g.save(os.path.join(out_dir, "views.safetensors"))


# ---- reductions.safetensors -------------------------------------------------------------------

# (name, base shape, function)
REDUCTIONS = [
    ("sum_1", (2, 3, 4), lambda x: x.sum(1)),
    ("sum_1_keep", (2, 3, 4), lambda x: x.sum(1, keepdim=True)),
    ("sum_02", (2, 3, 4), lambda x: x.sum((0, 2))),
    ("sum_02_keep", (2, 3, 4), lambda x: x.sum((0, 2), keepdim=True)),
    ("sum_neg", (2, 3, 4), lambda x: x.sum(-1)),
    ("sum_all", (2, 3, 4), lambda x: x.sum()),
    ("sum_all_keep", (2, 3, 4), lambda x: x.sum((0, 1, 2), keepdim=True)),
    ("sum_t", (3, 4), lambda x: x.t().sum(1)),
    ("sum_slice", (3, 8), lambda x: x[:, 1:8:2].sum(0, keepdim=True)),
    ("sum_expand", (3, 1), lambda x: x.expand(3, 4).sum(0)),
    ("mean_1", (2, 3, 4), lambda x: x.mean(1)),
    ("mean_02_keep", (2, 3, 4), lambda x: x.mean((0, 2), keepdim=True)),
    ("mean_all", (2, 3, 4), lambda x: x.mean()),
    ("mean_nc", (2, 3, 4), lambda x: x.transpose(0, 2).mean(-1)),
    ("max_1", (2, 3, 4), lambda x: torch.amax(x, 1)),
    ("max_1_keep", (2, 3, 4), lambda x: torch.amax(x, 1, keepdim=True)),
    ("max_02", (2, 3, 4), lambda x: torch.amax(x, (0, 2))),
    ("max_all", (2, 3, 4), lambda x: x.max()),
    ("max_t", (3, 4), lambda x: torch.amax(x.t(), 0)),
    ("min_1", (2, 3, 4), lambda x: torch.amin(x, 1)),
    ("min_02_keep", (2, 3, 4), lambda x: torch.amin(x, (0, 2), keepdim=True)),
    ("min_all", (2, 3, 4), lambda x: x.min()),
    ("min_slice", (3, 8), lambda x: torch.amin(x[:, 0:8:3], -1)),
    ("argmax_1", (2, 3, 4), lambda x: x.argmax(1)),
    ("argmax_1_keep", (2, 3, 4), lambda x: x.argmax(1, keepdim=True)),
    ("argmax_neg", (2, 3, 4), lambda x: x.argmax(-1)),
    ("argmax_t", (3, 4), lambda x: x.t().argmax(1)),
    ("argmin_0", (2, 3, 4), lambda x: x.argmin(0)),
    ("argmin_2_keep", (2, 3, 4), lambda x: x.argmin(2, keepdim=True)),
    ("argmin_slice", (3, 8), lambda x: x[:, 1:8:2].argmin(1)),
    ("prod_1", (2, 3, 4), lambda x: x.prod(1)),
    ("prod_1_keep", (2, 3, 4), lambda x: x.prod(1, keepdim=True)),
    ("prod_all", (2, 3, 4), lambda x: x.prod()),
    ("prod_t", (3, 4), lambda x: x.t().prod(0)),
    ("var_1_c1", (2, 3, 4), lambda x: x.var(1, correction=1)),
    ("var_1_c0", (2, 3, 4), lambda x: x.var(1, correction=0)),
    ("var_02_c1_keep", (2, 3, 4), lambda x: x.var((0, 2), correction=1, keepdim=True)),
    ("var_02_c0_keep", (2, 3, 4), lambda x: x.var((0, 2), correction=0, keepdim=True)),
    ("var_1_c2", (2, 3, 4), lambda x: x.var(1, correction=2)),
    ("var_t_c1", (3, 4), lambda x: x.t().var(-1, correction=1)),
    ("std_1_c1", (2, 3, 4), lambda x: x.std(1, correction=1)),
    ("std_1_c0_keep", (2, 3, 4), lambda x: x.std(1, correction=0, keepdim=True)),
    ("std_02_c1", (2, 3, 4), lambda x: x.std((0, 2), correction=1)),
    ("std_slice_c0", (3, 8), lambda x: x[:, 1:8:2].std(0, correction=0)),
    ("logsumexp_1", (2, 3, 4), lambda x: x.logsumexp(1)),
    ("logsumexp_1_keep", (2, 3, 4), lambda x: x.logsumexp(1, keepdim=True)),
    ("logsumexp_02", (2, 3, 4), lambda x: x.logsumexp((0, 2))),
    ("logsumexp_t", (3, 4), lambda x: x.t().logsumexp(-1)),
]


def gen_reductions(out_dir):
    g = Golden()
    for name, shape, fn in REDUCTIONS:
        x = randn(*shape)
        if name.startswith("logsumexp"):
            x = x * 10  # large values exercise the max shift
        for dname, dt in FLOATS:
            g.case(f"red.{name}.{dname}", fn, x.to(dt))

    special = torch.tensor([[1.0, 3.0, 3.0, -2.0], [2.0, 2.0, 0.0, 2.0], [-1.0, -1.0, -1.0, 5.0]])
    zeros = torch.tensor([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 0.5], [2.0, -0.5, 1.25, 3.0]])
    nans = torch.tensor([[1.0, NAN, 3.0, -2.0], [2.0, 0.5, 0.0, 2.0], [NAN, -1.0, 4.0, 5.0]])
    for dname, dt in FLOATS:
        # Ties: amax/amin share the gradient evenly; argmax/argmin take the first.
        g.case(f"red.max_ties.{dname}", lambda x: torch.amax(x, 1), special.to(dt))
        g.case(f"red.max_ties_all.{dname}", lambda x: torch.amax(x, (0, 1)), special.to(dt))
        g.case(f"red.min_ties.{dname}", lambda x: torch.amin(x, 0, keepdim=True), special.to(dt))
        g.case(f"red.argmax_ties.{dname}", lambda x: x.argmax(1), special.to(dt))
        g.case(f"red.argmin_ties.{dname}", lambda x: x.argmin(0), special.to(dt))
        # Products with one and with several zeros in a slice.
        g.case(f"red.prod_zeros.{dname}", lambda x: x.prod(1), zeros.to(dt))
        g.case(f"red.prod_zeros_0.{dname}", lambda x: x.prod(0), zeros.to(dt))
        # NaN propagates through max/min/sum; argmax/argmin point at it.
        g.case(f"red.nan_max.{dname}", lambda x: torch.amax(x, 1), nans.to(dt), grad=False)
        g.case(f"red.nan_min_all.{dname}", lambda x: x.min(), nans.to(dt), grad=False)
        g.case(f"red.nan_sum.{dname}", lambda x: x.sum(0), nans.to(dt), grad=False)
        g.case(f"red.nan_argmax.{dname}", lambda x: x.argmax(1), nans.to(dt), grad=False)
        g.case(f"red.nan_argmin.{dname}", lambda x: x.argmin(1), nans.to(dt), grad=False)
        g.case(f"red.nan_logsumexp.{dname}", lambda x: x.logsumexp(1), nans.to(dt), grad=False)
        # Infinite maxima in logsumexp.
        infs = torch.tensor([[-INF, -INF, -INF], [INF, 1.0, 2.0], [-INF, 0.0, 1.0]])
        g.case(f"red.inf_logsumexp.{dname}", lambda x: x.logsumexp(1), infs.to(dt), grad=False)
        # A single element with Bessel's correction divides by zero.
        g.case(f"red.var_single_c1.{dname}", lambda x: x.var(1), randn(3, 1).to(dt), grad=False)
        g.case(f"red.std_single_c1.{dname}", lambda x: x.std(1), randn(3, 1).to(dt), grad=False)
        # Empty reductions: sum 0, prod 1, mean NaN, logsumexp -inf.
        empty = torch.zeros(0, 3, dtype=dt)
        g.case(f"red.empty_sum.{dname}", lambda x: x.sum(0), empty)
        g.case(f"red.empty_sum_all.{dname}", lambda x: x.sum(), empty)
        g.case(f"red.empty_prod.{dname}", lambda x: x.prod(0), empty)
        g.case(f"red.empty_mean.{dname}", lambda x: x.mean(0), empty, grad=False)
        g.case(f"red.empty_logsumexp.{dname}", lambda x: x.logsumexp(0), empty)
        g.case(f"red.empty_sum_keep_other.{dname}", lambda x: x.sum(1, keepdim=True), empty)
    # Integer and bool reductions: sums and products give i64; max/min keep the dtype.
    xi = torch.tensor([[3, -1, 7, 7], [0, 2, -5, 4], [1, 1, 1, 1]], dtype=I32)
    g.case("red.int.sum_i32", lambda x: x.sum(1), xi)
    g.case("red.int.sum_all_u8", lambda x: x.sum(), torch.tensor([200, 100, 255, 3], dtype=U8))
    g.case("red.int.sum_bool", lambda x: x.sum(0), xi > 0)
    g.case("red.int.prod_i32", lambda x: x.prod(0), xi)
    g.case("red.int.max_i32", lambda x: torch.amax(x, 1), xi)
    g.case("red.int.min_i64_t", lambda x: torch.amin(x.t(), 1), xi.to(I64))
    g.case("red.int.argmax_ties_i64", lambda x: x.argmax(1), xi.to(I64))
    g.case("red.int.argmin_u8", lambda x: x.argmin(0), (xi + 5).to(U8))
    g.save(os.path.join(out_dir, "reductions.safetensors"))


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../testdata/golden")
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    gen_elementwise(out_dir)
    torch.manual_seed(1)
    gen_views(out_dir)
    torch.manual_seed(2)
    gen_reductions(out_dir)


if __name__ == "__main__":
    main()
