"""The differential fuzzer's ops that Silica composes from primitives (issue 8): max/min over a
dim with indices, tril/triu, repeat, flip, roll, one_hot, vector norms, clamp with tensor
bounds, lerp and einsum. Each has a draw and a run, as in fuzz_ops.py, whose OPS table lists
them; the Rust side (crates/silica-nn/tests/differential/ops.rs) has one arm per name."""
import math

import torch
import torch.nn.functional as F

from fuzz_draw import FLOATS, INTS, In, broadcastable, rand_dim, reduce_dims


def draw_extremum(d):
    shape = d.shape()
    args = {"fn": d.pick(["max", "min"]), "dim": rand_dim(d, len(shape)), "keepdim": d.chance(0.4)}
    return args, [In(shape, d.any_dtype())]


def run_extremum(a, xs):
    f = torch.max if a["fn"] == "max" else torch.min
    return list(f(xs[0], a["dim"], a["keepdim"]))


def draw_triangle(d):
    # A few tensors of rank 0 or 1, which both libraries refuse; not empty ones, which PyTorch
    # 1.13 returns unchanged before it checks the rank (rules.rs, "In what is drawn").
    shape = d.shape(min_rank=2) if d.chance(0.92) else [d.int(1, 3) for _ in range(d.int(0, 1))]
    return {"fn": d.pick(["tril", "triu"]), "diagonal": d.int(-4, 4)}, [In(shape, d.any_dtype())]


def run_triangle(a, xs):
    return (torch.tril if a["fn"] == "tril" else torch.triu)(xs[0], a["diagonal"])


def draw_repeat(d):
    shape = d.shape(max_rank=3)
    n = len(shape) + d.pick([0, 0, 1, 2])
    if shape and d.chance(0.05):
        n = len(shape) - 1  # too few
    return {"repeats": [d.pick([0, 1, 1, 2, 3]) for _ in range(n)]}, [In(shape, d.any_dtype())]


def distinct_dims(d, rank):
    """Some distinct dims of a tensor of `rank` (possibly none), negative at times; rarely a
    repeated or out-of-range one."""
    if rank == 0:
        dims = d.pick([[], [0], [-1]])
    else:
        dims = d.r.sample(range(rank), d.int(0, rank))
        dims = [x - rank if d.chance(0.3) else x for x in dims]
    if d.chance(0.05):
        dims.append(dims[0] if dims else rank + 1)
    return dims


def draw_flip(d):
    shape = d.shape()
    return {"dims": distinct_dims(d, len(shape))}, [In(shape, d.any_dtype())]


def draw_roll(d):
    shape = d.shape()
    if d.chance(0.25):  # rolled as if flattened
        dims, k = [], 1
    else:
        k = d.int(1, 3)
        dims = [rand_dim(d, len(shape)) for _ in range(k)]  # a dim may repeat: its shifts add
        if math.prod(shape) == 0:
            # PyTorch 1.13 returns an empty tensor unchanged before it checks the dims (rules.rs,
            # "In what is drawn"): only dims in range.
            dims = [x if -len(shape) <= x < len(shape) else 0 for x in dims]
    if d.chance(0.05):
        k += 1  # one shift too many
    return {"shifts": [d.int(-7, 7) for _ in range(k)], "dims": dims}, [In(shape, d.any_dtype())]


def draw_one_hot(d):
    classes = d.pick([None, None, 1, 2, 3, 5])
    hi = (classes or d.int(1, 5)) + (1 if d.chance(0.05) else 0)
    lo = -1 if d.chance(0.04) else 0
    dt = "i64" if d.chance(0.95) else d.pick(["i32", "f32"])
    return {"classes": classes}, [In(d.shape(max_rank=3), dt, "index", grad=False, lo=lo, hi=hi)]


def run_one_hot(a, xs):
    return F.one_hot(xs[0], -1 if a["classes"] is None else a["classes"])


def draw_norm(d):
    shape = d.shape()
    dt = d.float_dtype() if d.chance(0.95) else d.pick(INTS)
    dims = [] if d.chance(0.3) else reduce_dims(d, len(shape))
    # `ord` is a string, so that the infinities survive JSON.
    args = {"ord": d.pick(["1", "2", "inf", "-inf"]), "dims": dims, "keepdim": d.chance(0.4)}
    return args, [In(shape, dt)]


def run_norm(a, xs):
    return torch.linalg.vector_norm(xs[0], float(a["ord"]), a["dims"], a["keepdim"])


def draw_clamp_tensor(d):
    shape = d.shape()
    which = d.pick(["both", "min", "max"])
    n = 2 if which == "both" else 1
    if d.chance(0.7):
        dt = d.float_dtype() if d.chance(0.85) else d.pick(INTS + ["bool"])
        dts = [dt] * (n + 1)
    else:
        dts = [d.any_dtype() for _ in range(n + 1)]
    ins = [In(shape, dts[0])] + [In(broadcastable(d, shape), dt) for dt in dts[1:]]
    return {"which": which}, ins


def run_clamp_tensor(a, xs):
    if a["which"] == "min":
        return torch.clamp(xs[0], min=xs[1])
    if a["which"] == "max":
        return torch.clamp(xs[0], max=xs[1])
    return torch.clamp(xs[0], xs[1], xs[2])


def draw_lerp(d):
    shape = d.shape()
    dt = d.float_dtype()
    scalar = d.chance(0.4)
    shapes = [shape, broadcastable(d, shape)] + ([] if scalar else [broadcastable(d, shape)])
    d.r.shuffle(shapes)
    # Rarely a second float dtype, which lerp refuses.
    dts = [dt if d.chance(0.95) else d.pick(FLOATS) for _ in shapes]
    args = {"weight": d.pick([0.3, 0.7, -0.5, 1.5, 0.5, 0.0, 1.0, 0.25])} if scalar else {}
    return args, [In(s, t) for s, t in zip(shapes, dts)]


def run_lerp(a, xs):
    return torch.lerp(xs[0], xs[1], a["weight"] if "weight" in a else xs[2])


EINSUM = [
    "ij,jk->ik",
    "bij,bjk->bik",
    "bhqd,bhkd->bhqk",
    "i,j->ij",
    "i,i->",
    "ij,j->i",
    "bi,bj->bij",
    "ii->",
    "ii->i",
    "iij->ji",
    "ij->i",
    "ij->ji",
    "ij->",
    "ij,jk",
    "ba",
    "ii",
    "ij,jk,kl->il",
    "ij,ij->",
    "ij,ij->ij",
    "abc,cda->bd",
    "ijk,jl->il",
    "...ij,...jk->...ik",
    "...ij->j",
    "j...i",
    "...i,...i->...",
    ",->",
    ",i->i",
]


def draw_einsum(d):
    eq = d.pick(EINSUM)
    terms = eq.split("->")[0].split(",")
    size = {c: d.dim_size() for c in sorted(set(eq)) if c.isalpha()}
    ellipsis = d.shape(max_rank=2)
    dt = d.float_dtype() if d.chance(0.9) else d.pick(["i64", "f64"])
    ins = []
    for i, term in enumerate(terms):
        before, dots, after = term.partition("...")
        # A letter of size 1 in one operand broadcasts against the others.
        shape = [1 if d.chance(0.08) else size[c] for c in before]
        if dots:
            shape += list(ellipsis) if i == 0 else broadcastable(d, ellipsis)
        shape += [1 if d.chance(0.08) else size[c] for c in after]
        # Rarely a second dtype, but not beside f16/bf16: PyTorch 1.13 has no f16 bmm, and its
        # answer computed in f32 (half_kernel_missing) would hide a real product's dtype error.
        mixed = dt not in ("f16", "bf16") and d.chance(0.04)
        ins.append(In(shape, d.pick(["f32", "f64", "i64"]) if mixed else dt))
    return {"equation": eq}, ins


def run_einsum(a, xs):
    return torch.einsum(a["equation"], *xs)
