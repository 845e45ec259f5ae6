"""The PyTorch side of the differential fuzzer: random cases from a seed, with PyTorch's answers.

usage: fuzz.py --seed S --cases N OUT.safetensors   draws N cases from seed S
       fuzz.py --show NAME FILE.safetensors          prints one case of a file

Each case draws an op, its arguments, and inputs of random shapes (0- and 1-sized dims, 0-dim
tensors), dtypes (mixed, for type promotion) and values (NaN, inf, -0.0, ties). Every input is
a view of a contiguous base tensor, through a random chain of transpose, permute, stepped
slices (a non-zero storage offset), select and expand. PyTorch runs the op, then the gradient
of sum_j (out_j * v_j).sum() with respect to every float base that requires grad.

The file holds, for case NAME:
  NAME/in0, NAME/in1, ...   the base tensors
  NAME/out0, ...            the outputs (none when PyTorch raised)
  NAME/v0, ...              the random weights of the float outputs
  NAME/g0, ...              the gradient of each base that has one
and one metadata entry, "cases": a JSON list with, per case, its name, op, args, inputs
(views, grad flags), the number of outputs, and PyTorch's error messages (forward, backward).

crates/silica-nn/tests/differential/ replays the cases through Silica and compares.
"""
import argparse
import contextlib
import json
import math
import os
import re
import struct
import sys

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_writer  # noqa: E402


from fuzz_draw import Draw, apply_view, view_chain  # noqa: E402
from fuzz_ops import OPS  # noqa: E402

# ---- rules -------------------------------------------------------------------------------------
# Where PyTorch 1.13 fails, or answers inconsistently, the generator records the answer of an
# equivalent computation instead, and the case's spec names the rule. The Rust side documents
# the same rules (crates/silica-nn/tests/differential/rules.rs); nothing else is excused.
#
# Each rule is (name, applies, equivalent):
#   applies(op, args, xs, message) -> bool, where message is PyTorch's error (forward rules, and
#       backward rules) or None (value rules, which look at the inputs);
#   equivalent(run, args, xs) -> outputs, computed with autograd, so that both the values and
#       the gradients come from it.

HALF = (torch.float16, torch.bfloat16)
INT_VALUED = {"abs", "floor", "ceil", "round", "neg", "relu", "sign", "square"}


class RoundEachOp(TorchDispatchMode):
    """Rounds the f32 result of every aten op to `low` (keeping the f32 dtype): an f32
    computation that rounds where a kernel of the low dtype would, after each op of the forward
    and of the backward. A gradient reduced over a broadcast dim then sums rounded terms, as
    later PyTorch versions and Silica do, rather than exact ones."""

    def __init__(self, low):
        super().__init__()
        self.low = low

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))

        def round_f32(t):
            if isinstance(t, torch.Tensor) and t.dtype == torch.float32:
                return t.to(self.low).to(torch.float32)
            return t

        return tree_map(round_f32, out)


def low_dtype(xs):
    return next((x.dtype for x in xs if isinstance(x, torch.Tensor) and x.dtype in HALF), None)


def rounding(rule, xs):
    """The mode under which a case's equivalent computation and its backward run."""
    low = low_dtype(xs)
    if rule is None or rule[2] is not half_as_f32 or low is None:
        return contextlib.nullcontext()
    return RoundEachOp(low)


def half_as_f32(run, args, xs):
    """PyTorch 1.13's CPU lacks many f16/bf16 kernels; later versions compute each op in f32
    and round its result, as Silica does. Run under `rounding`, which rounds every op in
    between, this does the same."""
    low = low_dtype(xs)
    if low is None:
        raise ValueError("half_as_f32: no f16 or bf16 input")
    with RoundEachOp(low):
        outs = as_list(run(args, [x.float() if x.dtype in HALF else x for x in xs]))
    return [o.to(low) if o.dtype == torch.float32 else o for o in outs]


def int_as_f32(run, args, xs):
    """Silica computes float-valued ops of integer and bool tensors in F32."""
    return as_list(run(args, [x.float() if not x.is_floating_point() else x for x in xs]))


def float_valued(op, args):
    return op in ("leaky_relu", "softplus") or (op == "unary" and args["fn"] not in INT_VALUED)


def zero_batch_conv(run, args, xs):
    """PyTorch 1.13 fails with a view error on some convolutions of a zero batch. The answer is
    an empty output of the convolution's shape, whose gradients are zeros."""
    x, w = xs[0], xs[1]
    size = []
    for i in range(2):
        span = args["dilation"][i] * (w.shape[2 + i] - 1) + 1
        n = (x.shape[2 + i] + 2 * args["padding"][i] - span) // args["stride"][i] + 1
        if n <= 0:
            raise RuntimeError("conv2d: the kernel is larger than the padded input")
        size.append(n)
    zero = sum(t.sum() for t in xs if t.requires_grad) * 0
    return [torch.zeros([0, w.shape[0]] + size, dtype=x.dtype) + zero]


def narrow_src(run, args, xs):
    """scatter_add with `src` larger than `index`: PyTorch 1.13's backward fails; reading only
    the used corner of `src` is the same function."""
    index = xs[1]
    return as_list(run(args, [xs[0], index, xs[2][tuple(slice(0, s) for s in index.shape)]]))


def promote_first(run, args, xs):
    """Operands of different dtypes: PyTorch's backward evaluates parts of the formula in an
    operand's own dtype (pow's log(self) in bf16, pow of a bool exponent fails); Silica
    promotes first, which is this."""
    rt = torch.result_type(xs[-2], xs[-1])
    return as_list(run(args, xs[:-2] + [x.to(rt) for x in xs[-2:]]))


def contiguous_inputs(run, args, xs):
    """PyTorch 1.13's CPU batch-norm backward gives wrong input gradients for some strided
    inputs (a non-contiguous weight in training mode, a transposed input in evaluation mode);
    its nll_loss backward refuses some ("grad_input must be contiguous"). Contiguous copies are
    the same function."""
    return as_list(run(args, [x.contiguous() for x in xs]))


def var_detached_mean(run, args, xs):
    """var/std with as many elements as `correction`: PyTorch 1.13's gradient is -inf for a
    0-dim input, NaN or inf for one of shape [1]; the formula 2 (x - mean) / (n - correction)
    that Silica (and later PyTorch) uses is this composition's gradient."""
    x, dims, keep = xs[0], args["dims"], args["keepdim"]
    dims = dims if x.dim() else []
    m = x.mean(dims, keepdim=True).detach() if dims else x.detach()
    s = (x - m).square()
    s = s.sum(dims, keepdim=keep) if dims else s
    var = s / 0.0
    return [var.sqrt() if args["fn"] == "std" else var]


def var_without_dof(op, args, xs, msg):
    if op != "reduce" or args["fn"] not in ("var", "std"):
        return False
    x = xs[0]
    n = math.prod(x.shape[d] for d in args["dims"]) if x.dim() else 1
    return n == args["correction"]


def chained_prod(run, args, xs):
    """prod's gradient: PyTorch 1.13 takes result / x when the whole tensor has no zero (NaN
    for a NaN or infinite element) and exclusive products otherwise. Silica always gives the
    product of the other elements, which this chain of multiplications gives."""
    x, dim = xs[0], args["dims"][0]
    out = x.narrow(dim, 0, 1)
    for i in range(1, x.shape[dim]):
        out = out * x.narrow(dim, i, 1)
    return [out if args["keepdim"] else out.squeeze(dim)]


def prod_needs_care(op, args, xs, msg):
    if op != "reduce" or args["fn"] != "prod" or xs[0].dim() == 0:
        return False
    if not xs[0].is_floating_point():
        return False
    x = xs[0].detach()
    return x.shape[args["dims"][0]] > 0 and bool(((x == 0) | ~torch.isfinite(x)).any())


def chained_cumprod(run, args, xs):
    """cumprod's gradient: PyTorch 1.13 divides the output by the input where it can (NaN at
    an infinite element); Silica gives the sum over later outputs of the product of the other
    factors, which this chain of multiplications gives."""
    x, dim = xs[0], args["dim"]
    if x.dim() == 0 or x.shape[dim] <= 1:
        return as_list(run(args, xs))
    x = x if x.is_floating_point() else x.to(torch.int64)
    parts = [x.narrow(dim, 0, 1)]
    for i in range(1, x.shape[dim]):
        parts.append(parts[-1] * x.narrow(dim, i, 1))
    return [torch.cat(parts, dim)]


def cumprod_needs_care(op, args, xs, msg):
    if op != "cumulative" or args["fn"] != "cumprod" or not xs[0].is_floating_point():
        return False
    x = xs[0].detach()
    return x.numel() > 0 and bool(((x == 0) | ~torch.isfinite(x)).any())


def stable_topk(run, args, xs):
    """topk among equal values: PyTorch 1.13's CPU kernel returns their indices in no set
    order; Silica's topk is a stable sort and a narrow (the first in the slice first), which
    is this."""
    x, k, dim = xs[0], args["k"], args["dim"]
    values, indices = torch.sort(x, dim=dim, descending=args["largest"], stable=True)
    if x.dim() == 0:
        return [values, indices]
    return [values.narrow(dim, 0, k), indices.narrow(dim, 0, k)]


def topk_order_differs(op, args, xs, msg):
    if op != "topk":
        return False
    x = xs[0].detach()
    if x.dtype in HALF:
        x = x.float()  # PyTorch 1.13 has no f16 topk: its f32 kernel answers (half_kernel_missing)
    try:
        _, direct = torch.topk(x, args["k"], args["dim"], args["largest"])
        _, stable = stable_topk(None, args, [x])
    except RuntimeError:
        return False  # PyTorch's error (or a missing kernel) answers this case
    return not torch.equal(direct, stable)


def broadcast_first(run, args, xs):
    """clamp with tensor bounds that broadcast `x` or `min` to a larger shape: PyTorch 1.13's
    backward fails ("output with shape [1] doesn't match the broadcast shape [3]"); clamping
    operands expanded to their common shape is the same function."""
    shape = torch.broadcast_shapes(*(x.shape for x in xs))
    return as_list(run(args, [x.expand(shape) for x in xs]))


def clamp_in_two_steps(run, args, xs):
    """clamp of bools with both bounds: PyTorch 1.13 has bool kernels for clamp_min and
    clamp_max but none for clamp; min(max(x, min), max) in two steps is the same function."""
    return [torch.clamp(torch.clamp(xs[0], min=xs[1]), max=xs[2])]


def einsum_promoted(run, args, xs):
    """einsum with an empty operand and operands of several dtypes: PyTorch 1.13 returns the
    zeros of a pair in the second operand's dtype (and may fail at the next pair); nothing meets
    in a matrix product, so Silica promotes every operand, which is this."""
    dtype = xs[0].dtype
    for x in xs[1:]:
        dtype = torch.promote_types(dtype, x.dtype)
    return as_list(run(args, [x.to(dtype) for x in xs]))


def einsum_empty_mixed(op, args, xs, msg):
    return op == "einsum" and any(x.numel() == 0 for x in xs) and len({x.dtype for x in xs}) > 1


def explicit_padding(run, args, xs):
    """A convolution with zero padding and an infinite or NaN weight: PyTorch 1.13's CPU kernel
    skips the padding, Silica multiplies it (0 * inf = NaN), as convolving the explicitly
    padded input does."""
    ph, pw = args["padding"]
    padded = F.pad(xs[0], [pw, pw, ph, ph])
    return as_list(run(dict(args, padding=[0, 0]), [padded] + xs[1:]))


def composed_norm(run, args, xs):
    """PyTorch 1.13's CPU layer norm and batch norm (eval) are fused kernels. Layer norm
    computes x * s + (b - mean * s), which cancels when the spread of a slice is small against
    its mean (an error of 1e-4 in f32); with an infinite weight, both turn other elements into
    NaN than the formula does. The reference is the formula, in the input dtype (the precise
    reference then offers it in f64 too)."""
    x = xs[0]
    if "normalized_shape" in args:  # layer_norm: statistics over the last dims
        dims = list(range(x.dim() - len(args["normalized_shape"]), x.dim()))
        centered = x - x.mean(dims, keepdim=True)
        y = centered * (centered.square().mean(dims, keepdim=True) + args["eps"]).rsqrt()
        return [y * xs[1] + xs[2] if args["affine"] else y]
    shape = [1, -1] + [1] * (x.dim() - 2)  # batch_norm_eval: the running statistics
    y = (x - xs[1].view(shape)) * (xs[2].view(shape) + args["eps"]).rsqrt()
    return [y * xs[3].view(shape) + xs[4].view(shape) if args["affine"] else y]


def norm_needs_composing(op, args, xs, msg):
    if op == "layer_norm":
        norm, x = args["normalized_shape"], xs[0]
        if len(norm) > x.dim() or list(x.shape[x.dim() - len(norm) :]) != norm:
            return False  # PyTorch's error is the answer
        return x.dtype == torch.float32 or not all_finite(xs)
    return op == "batch_norm_eval" and xs[0].dim() > 1 and not all_finite(xs)


def all_finite(xs):
    return all(bool(torch.isfinite(x).all()) for x in xs if x.is_floating_point())


def bce_logits_as_softplus(run, args, xs):
    """PyTorch's bce_with_logits computes (1 - t) x + (1 + (p - 1) t) softplus(-x), which is
    NaN at an infinite logit (while its gradients are finite); Silica computes the same function
    as p t softplus(-x) + (1 - t) softplus(x), which gives the limit."""
    x, t, rest = xs[0], xs[1], list(xs[2:])
    w = rest.pop(0) if args.get("weight") else None
    p = rest.pop(0) if args.get("pos_weight") else None
    loss = (t * p if p is not None else t) * F.softplus(-x) + (1 - t) * F.softplus(x)
    if w is not None:
        loss = loss * w
    return [{"none": loss, "mean": loss.mean(), "sum": loss.sum()}[args["reduction"]]]


def arange_i32_as_i64(run, args, xs):
    """An int32 arange: PyTorch 1.13 truncates start, end and step for the values but sizes an
    int32 result from the untruncated ones; Silica sizes it as an int64 arange."""
    return [as_list(run(dict(args, dtype="i64"), xs))[0].to(torch.int32)]


def arange_sizes_differ(op, args, xs, msg):
    if op != "arange" or args["dtype"] != "i32":
        return False
    t = [args["start"], args["end"], args["step"]]
    if int(t[2]) == 0:
        return False
    return len(torch.arange(*t, dtype=torch.int32)) != len(torch.arange(*[int(v) for v in t]))


def matches(pattern):
    return lambda op, args, xs, msg: msg is not None and re.search(pattern, msg) is not None


FORWARD_RULES = [
    ("half_kernel_missing", matches(r"not implemented for '(Half|BFloat16)'"), half_as_f32),
    ("int_kernel_missing", matches(r"not implemented for '(Long|Int|Byte)'"), int_as_f32),
    (
        "int_kernel_missing",
        lambda op, args, xs, msg: matches(r"not implemented for 'Bool'")(op, args, xs, msg)
        and float_valued(op, args),
        int_as_f32,
    ),
    (
        "conv2d_zero_batch",
        lambda op, args, xs, msg: op == "conv2d"
        and xs[0].dim() == 4
        and xs[0].shape[0] == 0
        and matches("view size is not compatible")(op, args, xs, msg),
        zero_batch_conv,
    ),
    (
        "einsum_empty_dtype",
        lambda op, args, xs, msg: einsum_empty_mixed(op, args, xs, msg)
        and matches("expected scalar type")(op, args, xs, msg),
        einsum_promoted,
    ),
    (
        "bool_clamp_missing",
        lambda op, args, xs, msg: op == "clamp_tensor"
        and matches(r"\"clamp_cpu\" not implemented for 'Bool'")(op, args, xs, msg),
        clamp_in_two_steps,
    ),
]
VALUE_RULES = [
    ("einsum_empty_dtype", einsum_empty_mixed, einsum_promoted),
    ("arange_i32_size", arange_sizes_differ, arange_i32_as_i64),
    ("var_without_dof", var_without_dof, var_detached_mean),
    ("norm_composed", norm_needs_composing, composed_norm),
    (
        "batch_norm_strided",
        lambda op, args, xs, msg: (op == "batch_norm" and not all(x.is_contiguous() for x in xs[1:]))
        or (op in ("batch_norm_eval", "batch_norm_module") and not all(x.is_contiguous() for x in xs)),
        contiguous_inputs,
    ),
    (
        "bce_logits_limit",
        lambda op, args, xs, msg: op == "pointwise_loss"
        and args["fn"] == "bce_logits"
        and bool(torch.isinf(xs[0]).any()),
        bce_logits_as_softplus,
    ),
    ("prod_exclusive", prod_needs_care, chained_prod),
    ("cumprod_exclusive", cumprod_needs_care, chained_cumprod),
    ("topk_ties", topk_order_differs, stable_topk),
    (
        "conv2d_padding_nonfinite_weight",
        lambda op, args, xs, msg: op == "conv2d"
        and any(args["padding"])
        and not bool(torch.isfinite(xs[1]).all()),
        explicit_padding,
    ),
    (
        "mixed_dtype_backward",
        lambda op, args, xs, msg: op in ("binary", "where")
        and xs[-2].dtype != xs[-1].dtype
        and torch.result_type(xs[-2], xs[-1]).is_floating_point,
        promote_first,
    ),
]
GRAD_RULES = [
    ("scatter_add_src_larger", matches("ScatterAddBackward0 returned an invalid gradient"), narrow_src),
    ("half_kernel_missing", matches(r"not implemented for '(Half|BFloat16)'"), half_as_f32),
    ("pow_bool_backward", matches("with a bool tensor is not supported"), promote_first),
    ("nll_strided_backward", matches("grad_input must be contiguous"), contiguous_inputs),
    (
        "clamp_broadcast_backward",
        lambda op, args, xs, msg: op == "clamp_tensor"
        and matches("doesn't match the broadcast shape")(op, args, xs, msg),
        broadcast_first,
    ),
]


def find_rule(rules, op, args, xs, msg):
    return next((r for r in rules if r[1](op, args, xs, msg)), None)


def equivalent(rule, run, args, xs, op=None):
    """The rule's equivalent computation; where that itself meets a PyTorch 1.13 failure that
    a forward rule covers (a missing f16 kernel, the zero-batch convolution), that rule's
    computation wraps it."""
    try:
        return rule[2](run, args, xs)
    except RuntimeError as e:
        inner = find_rule(FORWARD_RULES, op, args, xs, short(e))
        if inner is None or inner is rule:
            raise
        return inner[2](lambda a, ys: rule[2](run, a, ys), args, xs)


# ---- running a case --------------------------------------------------------------------------


def short(e):
    return str(e).strip().split("\n")[0][:300]


def make_case(d, name, index, tensors):
    # Every op three times first, so that even a short file covers them all; then by weight.
    if index < 3 * len(OPS):
        op_name, _, draw, run = OPS[index % len(OPS)]
    else:
        op_name, _, draw, run = d.pick(OPS, [w for _, w, _, _ in OPS])
    args, ins = draw(d)
    spec = {"name": name, "op": op_name, "args": args, "inputs": []}
    bases, xs = [], []
    for i, inp in enumerate(ins):
        views = []
        base_shape = inp.shape
        if inp.views and d.chance(0.5):
            base_shape, views = view_chain(d, inp.shape)
        base = d.values(base_shape, inp.dtype, inp.kind, inp.lo, inp.hi)
        grad = inp.grad and base.is_floating_point()
        leaf = base.clone().requires_grad_(grad)
        x = leaf
        for v in views:
            x = apply_view(x, v)
        tensors[f"{name}/in{i}"] = base
        bases.append(leaf)
        xs.append(x)
        spec["inputs"].append({"views": views, "grad": grad})
    rule = None
    try:
        outs = as_list(run(args, xs))
    except Exception as e:  # noqa: BLE001 - any PyTorch error is an expected answer
        spec["error"] = short(e)
        rule = find_rule(FORWARD_RULES, op_name, args, xs, spec["error"])
        if rule is None:
            spec["outputs"] = 0
            return spec
    # A value rule also covers a forward rule's case (its equivalent computes in f32 where
    # PyTorch lacks an f16 kernel).
    rule = find_rule(VALUE_RULES, op_name, args, xs, None) or rule
    if rule:
        try:
            outs = equivalent(rule, run, args, xs, op_name)
        except RuntimeError as e:
            # The equivalent computation raises too (an f16 einsum of mixed dtypes computed in
            # f32, say): its error is PyTorch's answer.
            spec["error"] = short(e)
            spec["outputs"] = 0
            return spec
        spec["rule"] = rule[0]
    spec["outputs"] = len(outs)
    weights = {}
    for j, o in enumerate(outs):
        tensors[f"{name}/out{j}"] = o.detach().clone()
        if o.requires_grad:
            weights[j] = torch.randn(o.shape, generator=d.g, dtype=torch.float64).to(o.dtype)
            tensors[f"{name}/v{j}"] = weights[j]
    if not weights:
        return spec
    try:
        with rounding(rule, xs):
            weighted_sum(outs, weights).backward()
    except Exception as e:  # noqa: BLE001
        spec["grad_error"] = short(e)
        rule = find_rule(GRAD_RULES, op_name, args, xs, spec["grad_error"])
        if rule is None:
            return spec
        spec["rule"] = rule[0]
        for b in bases:
            b.grad = None
        with rounding(rule, xs):
            weighted_sum(equivalent(rule, run, args, xs, op_name), weights).backward()
    for i, b in enumerate(bases):
        if b.grad is not None:
            tensors[f"{name}/g{i}"] = b.grad.detach().clone()
    precise_reference(name, op_name, run, rule, args, spec, bases, outs, weights, tensors)
    return spec


# ---- the precise reference ---------------------------------------------------------------
# PyTorch rounds in the op's dtype, sometimes more often than it must (f16/bf16 sums
# accumulated in the low dtype, batch norm's and layer norm's gradients where the variance is
# tiny), and a result that cancels large terms carries rounding noise near the tolerance.
# Where its answer is off the f64 answer, rounded to the same dtype, by more than a sixteenth of
# the tolerance, the file also holds that answer (NAME/ref_out{j}, NAME/ref_g{i}): Silica may
# match either (see crates/silica-nn/tests/differential/compare.rs, whose tolerances these are).

TOLERANCE = {torch.float64: 1e-10, torch.float32: 5e-5, torch.float16: 8e-3, torch.bfloat16: 4e-2}
PRECISE_SHARE = 1 / 16


def close(got, want, share=1.0):
    """`got` within `share` of the tolerance of `want` (NaN and inf exactly)."""
    g, w = got.double(), want.double()
    both_nan = torch.isnan(g) & torch.isnan(w)
    finite = torch.isfinite(g) & torch.isfinite(w)
    near = (g - w).abs() <= share * TOLERANCE[want.dtype] * (1 + w.abs())
    return bool((both_nan | (finite & near) | (~finite & (g == w))).all())


def composed_batch_norm(args, xs):
    """Training-mode batch norm as its formula. PyTorch's fused kernel loses precision even in
    f64 when a channel has two values (its input gradient is then a difference of nearly equal
    terms)."""
    x = xs[0]
    dims = [0] + list(range(2, x.dim()))
    shape = [1, -1] + [1] * (x.dim() - 2)
    mean = x.mean(dims, keepdim=True)
    var = (x - mean).square().mean(dims, keepdim=True)
    y = (x - mean) * (var + args["eps"]).rsqrt()
    if args["affine"]:
        y = y * xs[1].view(shape) + xs[2].view(shape)
    return [y, mean.detach().flatten(), var.detach().flatten()]


# Ops whose precise reference is their formula rather than PyTorch's kernel in f64.
PRECISE_RUN = {"batch_norm": composed_batch_norm}


def precise_reference(name, op, run, rule, args, spec, bases, outs, weights, tensors):
    leaves = [b.detach().double().requires_grad_(b.requires_grad) if b.is_floating_point() else b.detach() for b in bases]
    if not any(b.is_floating_point() for b in bases):
        return
    xs = []
    for leaf, inp in zip(leaves, spec["inputs"]):
        for v in inp["views"]:
            leaf = apply_view(leaf, v)
        xs.append(leaf)
    try:
        run = PRECISE_RUN.get(op, run)
        precise = equivalent(rule, run, args, xs, op) if rule else as_list(run(args, xs))
        if weights:
            weighted_sum(precise, {j: v.double() for j, v in weights.items()}).backward()
    except Exception:  # noqa: BLE001 - no f64 answer (an integer kernel missing, say): none to offer
        return
    stored = False
    for j, (o, p) in enumerate(zip(outs, precise)):
        if o.is_floating_point() and p.is_floating_point() and o.shape == p.shape:
            p = p.detach().to(o.dtype)
            if not close(o.detach(), p, PRECISE_SHARE):
                tensors[f"{name}/ref_out{j}"] = p
                stored = True
    for i, (b, leaf) in enumerate(zip(bases, leaves)):
        if b.grad is not None and leaf.grad is not None:
            p = leaf.grad.to(b.grad.dtype)
            if not close(b.grad, p, PRECISE_SHARE):
                tensors[f"{name}/ref_g{i}"] = p
                stored = True
    if stored:
        spec["precise"] = True


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def weighted_sum(outs, weights):
    return sum((outs[j] * v).sum() for j, v in weights.items())


def show(path, name):
    """Prints one case of a file: its spec, then each tensor."""
    import st_reader

    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        meta = json.loads(f.read(n))["__metadata__"]
    spec = next(c for c in json.loads(meta["cases"]) if c["name"] == name)
    print(json.dumps(spec, indent=1))
    torch.set_printoptions(precision=10)
    for key, t in sorted(st_reader.load(path).items()):
        if key.startswith(name + "/"):
            print(f"{key} {t.dtype} {list(t.shape)}\n{t}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, help="draw cases from this seed")
    p.add_argument("--cases", type=int, default=400)
    p.add_argument("--show", metavar="NAME", help="print case NAME of the file instead")
    p.add_argument("file")
    a = p.parse_args()
    if a.show:
        show(a.file, a.show)
        return
    if a.seed is None:
        p.error("--seed is required to draw cases")
    torch.set_num_threads(1)
    d = Draw(a.seed)
    tensors, specs = {}, []
    for i in range(a.cases):
        specs.append(make_case(d, f"s{a.seed}c{i:05}", i, tensors))
    meta = {"cases": json.dumps(specs, separators=(",", ":")), "seed": str(a.seed)}
    st_writer.save(tensors, a.file, metadata=meta)
    errors = sum(1 for s in specs if "error" in s)
    print(f"{a.file}: {len(specs)} cases ({errors} where PyTorch raises), {os.path.getsize(a.file)} bytes")


if __name__ == "__main__":
    main()
