"""The differential fuzzer's ops: for each, how its arguments and inputs are drawn and how
PyTorch runs it (see fuzz.py). The Rust side (crates/silica-nn/tests/differential/ops.rs) has
one arm per name of `OPS`."""
import math

import torch
import torch.nn.functional as F

from fuzz_draw import DTYPES, FLOATS, INTS, In, broadcastable, rand_dim, reduce_dims
from fuzz_ops_nn import (
    draw_batch_norm_eval,
    draw_batch_norm_module,
    draw_class_loss,
    draw_layer_norm,
    draw_linear,
    draw_mha,
    draw_pointwise_loss,
    run_batch_norm_eval,
    run_batch_norm_module,
    run_class_loss,
    run_layer_norm,
    run_mha,
    run_pointwise_loss,
)
from fuzz_ops_composed import (
    draw_clamp_tensor,
    draw_einsum,
    draw_extremum,
    draw_flip,
    draw_lerp,
    draw_norm,
    draw_one_hot,
    draw_repeat,
    draw_roll,
    draw_triangle,
    run_clamp_tensor,
    run_einsum,
    run_extremum,
    run_lerp,
    run_norm,
    run_one_hot,
    run_triangle,
)

# Each op is (name, weight, draw, run): draw(d) gives (args, [In, ...]); run(args, xs) gives a
# tensor or a list of tensors. The Rust side has one arm per name.

UNARY = {
    "neg": torch.neg,
    "abs": torch.abs,
    "exp": torch.exp,
    "log": torch.log,
    "log1p": torch.log1p,
    "sqrt": torch.sqrt,
    "rsqrt": torch.rsqrt,
    "square": torch.square,
    "sin": torch.sin,
    "cos": torch.cos,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "erf": torch.erf,
    "sign": torch.sign,
    "floor": torch.floor,
    "ceil": torch.ceil,
    "round": torch.round,
    "recip": torch.reciprocal,
    "isnan": torch.isnan,
    "logical_not": torch.logical_not,
    "contiguous": lambda x: x.contiguous(),
}


def unary_dtype(d):
    return d.float_dtype() if d.chance(0.85) else d.pick(INTS + ["bool"])


def draw_unary(d):
    return {"fn": d.pick(sorted(UNARY))}, [In(d.shape(), unary_dtype(d))]


def draw_leaky_relu(d):
    return {"slope": d.pick([0.01, 0.2, -0.5])}, [In(d.shape(), unary_dtype(d))]


def draw_softplus(d):
    args = {"beta": d.pick([1.0, 2.0, 0.5]), "threshold": d.pick([20.0, 5.0, 1.0])}
    return args, [In(d.shape(), unary_dtype(d))]


def draw_clamp(d):
    which = d.pick(["both", "min", "max"])
    args = {"which": which}
    for side in ["min", "max"]:
        if which in ("both", side):
            args[side] = d.scalar(("f", "i"))[1]
    return args, [In(d.shape(), unary_dtype(d))]


def scalar_value(s):
    kind, v = s
    if kind == "f":
        return float(v)
    return v


def run_clamp(a, xs):
    if a["which"] == "min":
        return torch.clamp_min(xs[0], scalar_value(a["min"]))
    if a["which"] == "max":
        return torch.clamp_max(xs[0], scalar_value(a["max"]))
    return torch.clamp(xs[0], scalar_value(a["min"]), scalar_value(a["max"]))


BINARY = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "pow": torch.pow,
    "maximum": torch.maximum,
    "minimum": torch.minimum,
    "eq": torch.eq,
    "ne": torch.ne,
    "lt": torch.lt,
    "le": torch.le,
    "gt": torch.gt,
    "ge": torch.ge,
    "logical_and": torch.logical_and,
    "logical_or": torch.logical_or,
}


def pair_dtypes(d):
    if d.chance(0.7):
        dt = d.float_dtype() if d.chance(0.85) else d.pick(INTS + ["bool"])
        return dt, dt
    return d.any_dtype(), d.any_dtype()


def draw_binary(d):
    fn = d.pick(sorted(BINARY))
    a = d.shape()
    b = broadcastable(d, a)
    if d.chance(0.5):
        a, b = b, a
    da, db = pair_dtypes(d)
    return {"fn": fn}, [In(a, da), In(b, db)]


SCALAR = {
    "add_scalar": lambda x, s: x + s,
    "sub_scalar": lambda x, s: x - s,
    "mul_scalar": lambda x, s: x * s,
    "div_scalar": lambda x, s: x / s,
    "pow_scalar": lambda x, s: x**s,
    "eq_scalar": lambda x, s: x == s,
    "ne_scalar": lambda x, s: x != s,
    "lt_scalar": lambda x, s: x < s,
    "le_scalar": lambda x, s: x <= s,
    "gt_scalar": lambda x, s: x > s,
    "ge_scalar": lambda x, s: x >= s,
    # Silica's maximum_scalar is maximum() with the scalar promoted as a wrapped number.
    "maximum_scalar": lambda x, s: torch.maximum(*wrapped(x, s)),
    "minimum_scalar": lambda x, s: torch.minimum(*wrapped(x, s)),
}


def wrapped(x, s):
    """`x` and the scalar `s` as two tensors of their promoted dtype."""
    rt = torch.result_type(x, s)
    return x.to(rt), torch.tensor(s, dtype=torch.float64).to(rt)


def draw_scalar(d):
    fn = d.pick(sorted(SCALAR))
    kinds = ("f", "i", "b") if fn.endswith("_scalar") and fn[:2] in ("ad", "mu") else ("f", "i")
    return {"fn": fn, "s": d.scalar(kinds)[1]}, [In(d.shape(), unary_dtype(d))]


def run_scalar(a, xs):
    return SCALAR[a["fn"]](xs[0], scalar_value(a["s"]))


def draw_where(d):
    shape = d.shape()
    shapes = [broadcastable(d, shape) for _ in range(2)] + [shape]
    d.r.shuffle(shapes)
    da, db = pair_dtypes(d)
    return {}, [In(shapes[0], "bool"), In(shapes[1], da), In(shapes[2], db)]


def draw_masked_fill(d):
    shape = d.shape()
    dt = unary_dtype(d)
    return {"value": d.scalar(("f", "i"))[1]}, [In(shape, dt), In(broadcastable(d, shape), "bool")]


def draw_cast(d):
    src = d.any_dtype()
    to = d.any_dtype()
    # Casting NaN, inf or an out-of-range float to an integer is undefined behaviour in C++, so
    # PyTorch's answer is whatever the CPU gives: such values are not drawn (rule
    # `float_to_int_casts_in_range` on the Rust side).
    kind = "finite" if to in INTS + ["bool"] and src in FLOATS else "any"
    if to == "u8" and src in FLOATS:
        kind = "pos"
    return {"to": to}, [In(d.shape(), src, kind)]


# -- views, as ops


def draw_reshape(d):
    shape = d.shape()
    n = math.prod(shape)
    new = factor(d, n)
    if new and d.chance(0.3) and n > 0:
        new[d.int(0, len(new) - 1)] = -1
    if d.chance(0.05):
        new = new + [2]
    return {"shape": new, "view": d.chance(0.3)}, [In(shape, d.any_dtype())]


def factor(d, n):
    """A random shape with `n` elements."""
    if n == 0:
        out = [d.pick([1, 2, 3]) for _ in range(d.int(0, 2))]
        out.insert(d.int(0, len(out)), 0)
        return out
    out = []
    while n > 1:
        f = d.pick([k for k in range(2, n + 1) if n % k == 0][:3])
        out.append(f)
        n //= f
    d.r.shuffle(out)
    while d.chance(0.3):
        out.insert(d.int(0, len(out)), 1)
    return out


def draw_flatten(d):
    shape = d.shape()
    if d.chance(0.2):
        return {"all": True}, [In(shape, d.any_dtype())]
    r = max(len(shape), 1)
    s, e = sorted([d.int(-r, r - 1), d.int(-r, r - 1)], key=lambda i: i % r)
    return {"all": False, "start": s, "end": e}, [In(shape, d.any_dtype())]


def run_flatten(a, xs):
    if a["all"]:
        return xs[0].reshape(-1)
    return torch.flatten(xs[0], a["start"], a["end"])


def draw_squeeze(d):
    shape = d.shape()
    if d.chance(0.3):
        return {"dim": None}, [In(shape, d.any_dtype())]
    return {"dim": rand_dim(d, len(shape))}, [In(shape, d.any_dtype())]


def draw_unsqueeze(d):
    shape = d.shape()
    return {"dim": rand_dim(d, len(shape), 1)}, [In(shape, d.any_dtype())]


def draw_permute(d):
    shape = d.shape()
    perm = list(range(len(shape)))
    d.r.shuffle(perm)
    perm = [p - len(shape) if d.chance(0.3) else p for p in perm]
    if perm and d.chance(0.05):
        perm[0] = perm[-1]  # repeated dim
    return {"dims": perm}, [In(shape, d.any_dtype())]


def draw_transpose(d):
    shape = d.shape()
    return {"d0": rand_dim(d, len(shape)), "d1": rand_dim(d, len(shape))}, [In(shape, d.any_dtype())]


def draw_t(d):
    return {}, [In(d.shape(max_rank=3), d.any_dtype())]


def draw_expand(d):
    target = d.shape(min_rank=0)
    shape, _ = [1 if d.chance(0.5) else s for s in target], None
    lead = d.int(0, len(shape)) if d.chance(0.3) else 0
    shape = shape[lead:]
    spec = [(-1 if d.chance(0.3) and i >= lead else s) for i, s in enumerate(target)]
    if spec and d.chance(0.05):
        spec[-1] = spec[-1] + 3 if spec[-1] != -1 else 7  # not expandable
    return {"shape": spec, "broadcast_to": d.chance(0.3)}, [In(shape, d.any_dtype())]


def draw_narrow(d):
    shape = d.shape(min_rank=1)
    dim = rand_dim(d, len(shape))
    size = shape[dim % len(shape)] if -len(shape) <= dim < len(shape) else 1
    start = d.int(0, size)
    length = d.int(0, size - start) + (1 if d.chance(0.05) else 0)
    return {"dim": dim, "start": start, "len": length}, [In(shape, d.any_dtype())]


def draw_slice(d):
    shape = d.shape(min_rank=1)
    dim = d.int(0, len(shape) - 1)
    size = shape[dim]
    start = d.int(-size - 2, size + 2)
    end = d.int(-size - 2, size + 2)
    return {"dim": dim, "start": start, "end": end, "step": d.pick([1, 2, 3])}, [
        In(shape, d.any_dtype())
    ]


def run_slice(a, xs):
    dim = a["dim"]
    return xs[0][(slice(None),) * dim + (slice(a["start"], a["end"], a["step"]),)]


def draw_select(d):
    shape = d.shape(min_rank=1)
    dim = rand_dim(d, len(shape))
    size = shape[dim % len(shape)] if -len(shape) <= dim < len(shape) else 1
    index = d.int(-size - 1, size)
    return {"dim": dim, "index": index}, [In(shape, d.any_dtype())]


def draw_chunk(d):
    shape = d.shape(min_rank=1)
    return {"chunks": d.int(1, 4), "dim": rand_dim(d, len(shape))}, [In(shape, d.any_dtype())]


def draw_split(d):
    shape = d.shape(min_rank=1)
    return {"size": d.int(0, 4), "dim": rand_dim(d, len(shape))}, [In(shape, d.any_dtype())]


def draw_cat(d):
    shape = d.shape(min_rank=1)
    dim = rand_dim(d, len(shape))
    k = d.int(1, 3)
    dts = pair_dtypes(d)
    ins = []
    for i in range(k):
        s = list(shape)
        if -len(s) <= dim < len(s):
            s[dim] = d.pick([0, 1, 2, 3])
        if d.chance(0.04):
            s = s + [1]  # rank mismatch
        ins.append(In(s, dts[i % 2]))
    return {"dim": dim, "stack": False}, ins


def draw_stack(d):
    shape = d.shape(max_rank=3)
    dt = d.any_dtype()
    k = d.int(1, 3)
    ins = [In(shape if not d.chance(0.04) else shape + [2], dt) for _ in range(k)]
    return {"dim": rand_dim(d, len(shape), 1), "stack": True}, ins


def run_cat(a, xs):
    return (torch.stack if a["stack"] else torch.cat)(xs, a["dim"])


# -- reductions


def draw_reduce(d):
    fn = d.pick(["sum", "mean", "max", "min", "logsumexp", "var", "std", "prod"])
    shape = d.shape()
    dt = d.float_dtype() if d.chance(0.8) else d.pick(INTS + ["bool"])
    if fn == "prod":
        dims = [rand_dim(d, len(shape))]
    else:
        dims = reduce_dims(d, len(shape))
    if fn in ("sum", "mean", "max", "min", "logsumexp", "var", "std") and not dims:
        dims = [0] if shape == [] else dims
    args = {"fn": fn, "dims": dims, "keepdim": d.chance(0.4)}
    if fn in ("var", "std"):
        args["correction"] = d.pick([0, 1, 1, 2])
    return args, [In(shape, dt)]


def run_reduce(a, xs):
    x, dims, keep = xs[0], a["dims"], a["keepdim"]
    fn = a["fn"]
    if fn == "sum":
        return torch.sum(x, dims, keep)
    if fn == "mean":
        return torch.mean(x, dims, keep)
    if fn == "max":
        return torch.amax(x, dims, keep)
    if fn == "min":
        return torch.amin(x, dims, keep)
    if fn == "logsumexp":
        return torch.logsumexp(x, dims, keep)
    if fn == "var":
        return torch.var(x, dims, correction=a["correction"], keepdim=keep)
    if fn == "std":
        return torch.std(x, dims, correction=a["correction"], keepdim=keep)
    if fn == "prod":
        return torch.prod(x, dims[0], keep)
    raise ValueError(fn)


def draw_reduce_all(d):
    fn = d.pick(["sum_all", "mean_all", "max_all", "min_all"])
    dt = d.float_dtype() if d.chance(0.8) else d.pick(INTS + ["bool"])
    return {"fn": fn}, [In(d.shape(), dt)]


def run_reduce_all(a, xs):
    return {"sum_all": torch.sum, "mean_all": torch.mean, "max_all": torch.max, "min_all": torch.min}[
        a["fn"]
    ](xs[0])


def draw_arg(d):
    shape = d.shape()
    dt = d.float_dtype() if d.chance(0.8) else d.pick(INTS)
    args = {"fn": d.pick(["argmax", "argmin"]), "dim": rand_dim(d, len(shape)), "keepdim": d.chance(0.4)}
    return args, [In(shape, dt)]


def run_arg(a, xs):
    f = torch.argmax if a["fn"] == "argmax" else torch.argmin
    return f(xs[0], a["dim"], a["keepdim"])


# -- ordering and scans


def draw_sort(d):
    shape = d.shape()
    dt = d.any_dtype()
    args = {"dim": rand_dim(d, len(shape)), "descending": d.chance(0.5), "argsort": d.chance(0.25)}
    return args, [In(shape, dt)]


def run_sort(a, xs):
    values, indices = torch.sort(xs[0], dim=a["dim"], descending=a["descending"], stable=True)
    return [indices] if a["argsort"] else [values, indices]


def draw_topk(d):
    shape = d.shape()
    dim = rand_dim(d, len(shape))
    size = shape[dim % len(shape)] if shape and -len(shape) <= dim < len(shape) else 1
    k = d.int(0, size) + (1 if d.chance(0.05) else 0)
    # PyTorch 1.13 has no bool topk: none is drawn.
    dt = d.pick(FLOATS + INTS, [0.5, 0.2, 0.05, 0.05, 0.07, 0.08, 0.05])
    return {"k": k, "dim": dim, "largest": d.chance(0.6)}, [In(shape, dt)]


def draw_cumulative(d):
    shape = d.shape()
    return {"fn": d.pick(["cumsum", "cumprod"]), "dim": rand_dim(d, len(shape))}, [In(shape, d.any_dtype())]


def run_cumulative(a, xs):
    return (torch.cumsum if a["fn"] == "cumsum" else torch.cumprod)(xs[0], a["dim"])


# -- linear algebra and nn primitives


def draw_matmul(d):
    m, k, n = d.dim_size(), d.dim_size(), d.dim_size()
    kind = d.pick(["vv", "mv", "vm", "mm", "bmm", "bcast"])
    batch = d.shape(max_rank=2)
    a, b = {
        "vv": ([k], [k]),
        "mv": ([m, k], [k]),
        "vm": ([k], [k, n]),
        "mm": ([m, k], [k, n]),
        "bmm": (batch + [m, k], batch + [k, n]),
        "bcast": (batch + [m, k], broadcastable(d, batch) + [k, n]),
    }[kind]
    if d.chance(0.05):
        b = list(b)
        b[0] += 1  # inner dims disagree
    dt = d.pick(["f32", "f64", "f16", "bf16", "i64"], [0.5, 0.3, 0.08, 0.08, 0.04])
    return {}, [In(a, dt), In(b, dt)]


def draw_softmax(d):
    shape = d.shape()
    return {"log": d.chance(0.5), "dim": rand_dim(d, len(shape))}, [In(shape, d.float_dtype())]


def run_softmax(a, xs):
    return (torch.log_softmax if a["log"] else torch.softmax)(xs[0], a["dim"])


def draw_conv2d(d):
    groups = d.pick([1, 1, 2])
    cin, cout = groups * d.int(1, 2), groups * d.int(1, 2)
    kh, kw = d.int(1, 3), d.int(1, 3)
    stride = [d.int(1, 2), d.int(1, 2)]
    padding = [d.int(0, 1), d.int(0, 1)]
    dilation = [d.int(1, 2), d.int(1, 2)]
    h, w = d.int(0, 6), d.int(0, 6)
    x = [d.int(0, 2), cin, h, w] if d.chance(0.85) else [cin, h, w]
    dt = d.pick(["f32", "f64"], [0.6, 0.4])
    ins = [In(x, dt), In([cout, cin // groups, kh, kw], dt)]
    bias = d.chance(0.6)
    if bias:
        ins.append(In([cout], dt))
    args = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups, "bias": bias}
    return args, ins


def run_conv2d(a, xs):
    b = xs[2] if a["bias"] else None
    return F.conv2d(xs[0], xs[1], b, a["stride"], a["padding"], a["dilation"], a["groups"])


def pool_args(d):
    kernel = [d.int(1, 3), d.int(1, 3)]
    stride = [d.int(1, 3), d.int(1, 3)]
    padding = [d.int(0, k // 2) for k in kernel]
    return {"kernel": kernel, "stride": stride, "padding": padding, "ceil_mode": d.chance(0.4)}


def draw_pool(d):
    args = pool_args(d)
    args["fn"] = d.pick(["max", "avg"])
    args["count_include_pad"] = d.chance(0.6)
    shape = [d.int(0, 2), d.int(1, 2), d.int(1, 6), d.int(1, 6)]
    return args, [In(shape, d.pick(["f32", "f64"]))]


def run_pool(a, xs):
    if a["fn"] == "max":
        return F.max_pool2d(xs[0], a["kernel"], a["stride"], a["padding"], ceil_mode=a["ceil_mode"])
    return F.avg_pool2d(
        xs[0], a["kernel"], a["stride"], a["padding"], a["ceil_mode"], a["count_include_pad"]
    )


def draw_adaptive(d):
    shape = [d.int(1, 2), d.int(1, 2), d.int(1, 7), d.int(1, 7)]
    return {"out": [d.int(1, 4), d.int(1, 4)]}, [In(shape, d.pick(["f32", "f64"]))]


def draw_pad(d):
    mode = d.pick(["constant", "reflect", "replicate", "circular"])
    rank = d.int(1, 4)
    shape = [d.int(1, 4) for _ in range(rank)]
    n = d.int(1, min(rank, 2 if mode != "constant" else 3))
    pads = [d.int(0, 2) for _ in range(2 * n)]
    args = {"pads": pads, "mode": mode, "value": d.pick([0.0, 1.5, -2.0])}
    if mode != "constant":  # PyTorch pads only the last 1-2 dims of a batched input this way
        shape = [d.int(1, 2), d.int(1, 2)] + [d.int(1, 4) for _ in range(n)]
    return args, [In(shape, d.pick(["f32", "f64"]))]


def run_pad(a, xs):
    if a["mode"] == "constant":
        return F.pad(xs[0], a["pads"], "constant", a["value"])
    return F.pad(xs[0], a["pads"], a["mode"])


def draw_batch_norm(d):
    shape = [d.int(1, 4), d.int(1, 3)] + [d.int(1, 3) for _ in range(d.int(0, 2))]
    dt = d.pick(["f32", "f64"])
    affine = d.chance(0.6)
    ins = [In(shape, dt, "finite")]
    if affine:
        ins += [In([shape[1]], dt, "finite"), In([shape[1]], dt, "finite")]
    return {"affine": affine, "eps": d.pick([1e-5, 1e-3])}, ins


def run_batch_norm(a, xs):
    x = xs[0]
    w, b = (xs[1], xs[2]) if a["affine"] else (None, None)
    y = F.batch_norm(x, None, None, w, b, training=True, eps=a["eps"])
    dims = [0] + list(range(2, x.dim()))
    xd = x.detach()
    return [y, xd.mean(dims), xd.var(dims, unbiased=False)]


# -- indexing


def draw_index_select(d):
    shape = d.shape(min_rank=1)
    dim = rand_dim(d, len(shape))
    size = shape[dim % len(shape)] if -len(shape) <= dim < len(shape) else 1
    hi = size + (1 if d.chance(0.05) else 0)
    n = d.int(0, 4)
    ids = In([n], d.pick(["i64", "i32"]), "index", grad=False, lo=0, hi=max(hi, 1))
    if size == 0 and n > 0:
        ids.hi = 1  # always out of range
    return {"dim": dim}, [In(shape, d.float_dtype()), ids]


def draw_gather(d):
    shape = d.shape(min_rank=1)
    dim = d.int(0, len(shape) - 1)
    ishape = [d.int(0, s) for s in shape]
    ishape[dim] = d.int(0, 4)
    hi = shape[dim] + (1 if d.chance(0.05) else 0)
    ids = In(ishape, "i64", "index", grad=False, lo=0, hi=max(hi, 1))
    return {"dim": dim - (len(shape) if d.chance(0.3) else 0)}, [In(shape, d.float_dtype()), ids]


def draw_scatter_add(d):
    shape = d.shape(min_rank=1)
    dim = d.int(0, len(shape) - 1)
    ishape = [d.int(0, s) for s in shape]
    ishape[dim] = d.int(0, 4)
    src = [s + d.pick([0, 0, 1]) for s in ishape]
    hi = shape[dim] + (1 if d.chance(0.05) else 0)
    dt = d.float_dtype()
    ids = In(ishape, "i64", "index", grad=False, lo=0, hi=max(hi, 1))
    return {"dim": dim}, [In(shape, dt), ids, In(src, dt)]


def draw_embedding(d):
    rows = d.int(1, 5)
    weight = In([rows, d.int(0, 4)], d.float_dtype())
    hi = rows + (1 if d.chance(0.05) else 0)
    return {}, [weight, In(d.shape(max_rank=2), "i64", "index", grad=False, lo=0, hi=hi)]


# -- creation


def draw_arange(d):
    start, end = d.pick([0, 1, -2, 0.5]), d.pick([5, 3.5, -1, 0])
    step = d.pick([1, 2, 0.5, -1, -0.75, 0])
    return {"start": start, "end": end, "step": step, "dtype": d.pick(["f32", "f64", "i64", "i32"])}, []


def run_arange(a, xs):
    return torch.arange(a["start"], a["end"], a["step"], dtype=DTYPES[a["dtype"]])


def draw_linspace(d):
    args = {
        "start": d.pick([0.0, -1.0, 2.5]),
        "end": d.pick([1.0, 10.0, -3.0]),
        "steps": d.int(0, 6),
        "dtype": d.pick(["f32", "f64", "i64"]),
    }
    return args, []


def draw_eye(d):
    return {"n": d.int(0, 4), "dtype": d.pick(["f32", "f64", "i64", "bool"])}, []


def draw_full(d):
    return {"shape": d.shape(), "value": d.scalar(("f", "i"))[1], "dtype": d.any_dtype()}, []


def run_full(a, xs):
    return torch.full(a["shape"], scalar_value(a["value"]), dtype=DTYPES[a["dtype"]])


OPS = [
    ("unary", 14, draw_unary, lambda a, xs: UNARY[a["fn"]](xs[0])),
    ("leaky_relu", 1, draw_leaky_relu, lambda a, xs: F.leaky_relu(xs[0], a["slope"])),
    ("softplus", 1, draw_softplus, lambda a, xs: F.softplus(xs[0], a["beta"], a["threshold"])),
    ("clamp", 3, draw_clamp, run_clamp),
    ("clamp_tensor", 2, draw_clamp_tensor, run_clamp_tensor),
    ("binary", 14, draw_binary, lambda a, xs: BINARY[a["fn"]](xs[0], xs[1])),
    ("scalar", 6, draw_scalar, run_scalar),
    ("where", 2, draw_where, lambda a, xs: torch.where(xs[0], xs[1], xs[2])),
    (
        "masked_fill",
        2,
        draw_masked_fill,
        lambda a, xs: xs[0].masked_fill(xs[1], scalar_value(a["value"])),
    ),
    ("lerp", 2, draw_lerp, run_lerp),
    ("cast", 3, draw_cast, lambda a, xs: xs[0].to(DTYPES[a["to"]])),
    (
        "reshape",
        2,
        draw_reshape,
        lambda a, xs: xs[0].view(a["shape"]) if a["view"] else xs[0].reshape(a["shape"]),
    ),
    ("flatten", 1, draw_flatten, run_flatten),
    (
        "squeeze",
        1,
        draw_squeeze,
        lambda a, xs: xs[0].squeeze() if a["dim"] is None else xs[0].squeeze(a["dim"]),
    ),
    ("unsqueeze", 1, draw_unsqueeze, lambda a, xs: xs[0].unsqueeze(a["dim"])),
    ("permute", 1, draw_permute, lambda a, xs: xs[0].permute(a["dims"])),
    ("transpose", 1, draw_transpose, lambda a, xs: xs[0].transpose(a["d0"], a["d1"])),
    ("t", 1, draw_t, lambda a, xs: xs[0].t()),
    (
        "expand",
        2,
        draw_expand,
        lambda a, xs: xs[0].broadcast_to(a["shape"]) if a["broadcast_to"] else xs[0].expand(a["shape"]),
    ),
    ("narrow", 1, draw_narrow, lambda a, xs: xs[0].narrow(a["dim"], a["start"], a["len"])),
    ("slice", 2, draw_slice, run_slice),
    ("select", 1, draw_select, lambda a, xs: xs[0].select(a["dim"], a["index"])),
    ("chunk", 1, draw_chunk, lambda a, xs: list(xs[0].chunk(a["chunks"], a["dim"]))),
    ("split", 1, draw_split, lambda a, xs: list(xs[0].split(a["size"], a["dim"]))),
    ("cat", 2, draw_cat, run_cat),
    ("stack", 1, draw_stack, run_cat),
    ("triangle", 2, draw_triangle, run_triangle),
    ("repeat", 2, draw_repeat, lambda a, xs: xs[0].repeat(a["repeats"])),
    ("flip", 2, draw_flip, lambda a, xs: xs[0].flip(a["dims"])),
    ("roll", 2, draw_roll, lambda a, xs: xs[0].roll(a["shifts"], a["dims"])),
    ("reduce", 10, draw_reduce, run_reduce),
    ("reduce_all", 3, draw_reduce_all, run_reduce_all),
    ("norm", 3, draw_norm, run_norm),
    ("arg", 2, draw_arg, run_arg),
    ("extremum", 2, draw_extremum, run_extremum),
    ("sort", 2, draw_sort, run_sort),
    ("topk", 2, draw_topk, lambda a, xs: list(torch.topk(xs[0], a["k"], a["dim"], a["largest"]))),
    ("cumulative", 2, draw_cumulative, run_cumulative),
    ("matmul", 5, draw_matmul, lambda a, xs: torch.matmul(xs[0], xs[1])),
    ("einsum", 3, draw_einsum, run_einsum),
    ("softmax", 3, draw_softmax, run_softmax),
    ("conv2d", 4, draw_conv2d, run_conv2d),
    ("pool", 4, draw_pool, run_pool),
    ("adaptive_avg_pool2d", 1, draw_adaptive, lambda a, xs: F.adaptive_avg_pool2d(xs[0], a["out"])),
    ("pad", 2, draw_pad, run_pad),
    ("batch_norm", 2, draw_batch_norm, run_batch_norm),
    ("linear", 2, draw_linear, lambda a, xs: F.linear(xs[0], xs[1], xs[2] if a["bias"] else None)),
    ("layer_norm", 2, draw_layer_norm, run_layer_norm),
    ("batch_norm_eval", 1, draw_batch_norm_eval, run_batch_norm_eval),
    ("multihead_attention", 2, draw_mha, run_mha),
    ("batch_norm_module", 1, draw_batch_norm_module, run_batch_norm_module),
    ("index_select", 2, draw_index_select, lambda a, xs: xs[0].index_select(a["dim"], xs[1])),
    ("gather", 2, draw_gather, lambda a, xs: xs[0].gather(a["dim"], xs[1])),
    ("scatter_add", 2, draw_scatter_add, lambda a, xs: xs[0].scatter_add(a["dim"], xs[1], xs[2])),
    ("embedding", 1, draw_embedding, lambda a, xs: F.embedding(xs[1], xs[0])),
    ("one_hot", 2, draw_one_hot, run_one_hot),
    ("pointwise_loss", 4, draw_pointwise_loss, run_pointwise_loss),
    ("class_loss", 4, draw_class_loss, run_class_loss),
    ("arange", 1, draw_arange, run_arange),
    (
        "linspace",
        1,
        draw_linspace,
        lambda a, xs: torch.linspace(a["start"], a["end"], a["steps"], dtype=DTYPES[a["dtype"]]),
    ),
    ("eye", 1, draw_eye, lambda a, xs: torch.eye(a["n"], dtype=DTYPES[a["dtype"]])),
    ("full", 1, draw_full, run_full),
]
