"""Golden values for matmul, neural-network primitives, indexing and creation ops.

Writes three files into the folder given as the only argument:
  matmul.safetensors  torch.matmul in all its shapes
  nn.safetensors      softmax, log_softmax, conv2d, pooling, pad, creation ops
  index.safetensors   index_select, gather, scatter_add, embedding, cat, stack

Layout of a file: each case `NAME` stores, for each dtype DT in (f32, f64),
  NAME.DT.<input>       a float input (the *base* tensor: views are applied by the case
                        function, and the Rust test applies the same views)
  NAME.DT.out           the forward result
  NAME.DT.w             a fixed random weight of the output's shape
  NAME.DT.grad.<input>  d(sum(out * w)) / d(input), for every float input
and integer inputs (indices) once, as NAME.<input> (int64).
Cases without a `w` (creation ops) compare values only.

Every random value comes from one seeded generator, so the output is deterministic.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_writer  # noqa: E402

G = torch.Generator().manual_seed(20240611)
DTYPES = {"f32": torch.float32, "f64": torch.float64}


def randn(*shape):
    return torch.randn(tuple(shape), generator=G, dtype=torch.float64)


def randint(high, *shape):
    return torch.randint(0, high, shape, generator=G, dtype=torch.int64)


def case(store, name, fn, grad=True, **inputs):
    """Runs `fn(**inputs)` in each dtype and stores inputs, output, weight and gradients."""
    assert not {"out", "w", "grad"} & inputs.keys(), name
    w64 = None
    for dn, dt in DTYPES.items():
        ins = {}
        for k, v in inputs.items():
            if v.is_floating_point():
                ins[k] = v.to(dt).detach().clone().requires_grad_(grad)
                store[f"{name}.{dn}.{k}"] = ins[k]
            else:
                ins[k] = v
                store[f"{name}.{k}"] = v
        out = fn(**ins)
        assert out.dtype == dt, (name, out.dtype)
        store[f"{name}.{dn}.out"] = out
        if not grad:
            continue
        if w64 is None:
            w64 = randn(*out.shape)
        w = w64.to(dt)
        store[f"{name}.{dn}.w"] = w
        (out * w).sum().backward()
        for k, t in ins.items():
            if t.is_floating_point():
                assert t.grad is not None, (name, k)
                store[f"{name}.{dn}.grad.{k}"] = t.grad


def creation(store, name, fn):
    """Stores `fn(dtype)` for each dtype: values only."""
    for dn, dt in DTYPES.items():
        out = fn(dt)
        assert out.dtype == dt, (name, out.dtype)
        store[f"{name}.{dn}.out"] = out


def gen_matmul():
    s = {}
    def mm(a, b):
        return torch.matmul(a, b)

    case(s, "dot", mm, a=randn(5), b=randn(5))
    case(s, "mv", mm, a=randn(3, 4), b=randn(4))
    case(s, "vm", mm, a=randn(4), b=randn(4, 3))
    case(s, "mm", mm, a=randn(3, 4), b=randn(4, 5))
    case(s, "bmm", mm, a=randn(2, 3, 4), b=randn(2, 4, 5))
    case(s, "bmm_mat", mm, a=randn(2, 3, 4), b=randn(4, 2))
    case(s, "mat_bmm", mm, a=randn(3, 4), b=randn(2, 4, 5))
    case(s, "vec_bmm", mm, a=randn(4), b=randn(2, 4, 3))
    case(s, "bmm_vec", mm, a=randn(2, 3, 4), b=randn(4))
    case(s, "broadcast", mm, a=randn(2, 1, 3, 4), b=randn(5, 4, 2))
    case(s, "broadcast_4d", mm, a=randn(2, 1, 3, 4), b=randn(1, 3, 4, 2))
    # Non-contiguous operands: the Rust test builds the same views.
    case(s, "mm_tt", lambda a, b: mm(a.t(), b.t()), a=randn(4, 3), b=randn(5, 4))
    case(s, "mm_t_left", lambda a, b: mm(a.t(), b), a=randn(4, 3), b=randn(4, 5))
    case(s, "mm_t_right", lambda a, b: mm(a, b.t()), a=randn(3, 4), b=randn(5, 4))
    case(
        s,
        "bmm_transposed",
        lambda a, b: mm(a.transpose(1, 2), b.transpose(-1, -2)),
        a=randn(2, 4, 3),
        b=randn(2, 5, 4),
    )
    case(
        s,
        "mm_sliced",
        lambda a, b: mm(a[0:6:2], b[:, 1:10:2]),
        a=randn(6, 4),
        b=randn(4, 10),
    )
    case(
        s,
        "dot_strided",
        lambda a, b: mm(a[::2], b[:, 0]),
        a=randn(10),
        b=randn(5, 2),
    )
    case(
        s,
        "mv_strided",
        lambda a, b: mm(a.t(), b[1:8:3]),
        a=randn(3, 4),
        b=randn(9),
    )
    case(
        s,
        "broadcast_transposed",
        lambda a, b: mm(a.transpose(-1, -2), b.permute(2, 0, 1)),
        a=randn(2, 1, 4, 3),
        b=randn(4, 2, 5),
    )
    case(s, "vec_mat_t", lambda a, b: mm(a, b.t()), a=randn(4), b=randn(3, 4))
    case(
        s,
        "mm_double_strided",
        lambda a, b: mm(a[::2, ::3], b[::2]),
        a=randn(6, 9),
        b=randn(6, 4),
    )
    case(
        s,
        "bmm_medium_nc",
        lambda a, b: mm(a.transpose(1, 2), b),
        a=randn(2, 33, 17),
        b=randn(33, 9),
    )
    case(s, "mm_empty_k", mm, a=randn(3, 0), b=randn(0, 4))
    # Expanded (stride 0) operands, in the batch and in the matrix dims.
    case(
        s,
        "mm_expanded",
        lambda a, b: mm(a.expand(3, 4), b.expand(4, 5)),
        a=randn(1, 4),
        b=randn(4, 1),
    )
    case(
        s,
        "bmm_expanded_batch",
        lambda a, b: mm(a.expand(3, 2, 4), b),
        a=randn(1, 2, 4),
        b=randn(3, 4, 2),
    )
    # One leaf used twice: the gradients of both uses add up.
    case(s, "mm_self_t", lambda a: mm(a, a.t()), a=randn(3, 4))
    return s


def gen_nn():
    s = {}
    # softmax / log_softmax
    x = randn(3, 4, 5)
    case(s, "softmax_last", lambda x: F.softmax(x, -1), x=x)
    case(s, "softmax_mid", lambda x: F.softmax(x, 1), x=x)
    case(s, "softmax_first", lambda x: F.softmax(x, 0), x=x)
    case(s, "log_softmax_last", lambda x: F.log_softmax(x, -1), x=x)
    case(s, "log_softmax_mid", lambda x: F.log_softmax(x, 1), x=x)
    case(s, "softmax_large", lambda x: F.softmax(x, -1), x=randn(4, 6) * 40)
    case(s, "log_softmax_large", lambda x: F.log_softmax(x, -1), x=randn(4, 6) * 40)
    case(s, "softmax_1d", lambda x: F.softmax(x, 0), x=randn(7))
    case(s, "softmax_wide", lambda x: F.softmax(x, -1), x=randn(2, 260) * 3)
    case(s, "log_softmax_wide_mid", lambda x: F.log_softmax(x, 1), x=randn(1, 130, 3))
    case(s, "softmax_expanded", lambda x: F.softmax(x.expand(3, 4, 5), 1), x=randn(3, 1, 5))
    case(s, "softmax_size1_dim", lambda x: F.softmax(x, 1), x=randn(3, 1, 4))
    masked = randn(4, 5)
    masked[0, 1] = masked[2, 0] = masked[2, 4] = float("-inf")
    case(s, "log_softmax_masked", lambda x: F.log_softmax(x, -1), x=masked)
    masked = masked.clone()
    masked[3, :] = float("-inf")  # a fully masked row gives NaN, as in PyTorch
    case(s, "softmax_masked", lambda x: F.softmax(x, -1), x=masked)
    xt = randn(5, 4, 3)
    case(s, "softmax_last_nc", lambda x: F.softmax(x.transpose(0, 2), -1), x=xt)
    case(s, "softmax_mid_nc", lambda x: F.softmax(x.transpose(0, 2), 1), x=xt)
    case(s, "log_softmax_last_nc", lambda x: F.log_softmax(x.transpose(0, 2), -1), x=xt)
    case(s, "log_softmax_mid_nc", lambda x: F.log_softmax(x.transpose(0, 2), 1), x=xt)
    case(
        s,
        "softmax_sliced",
        lambda x: F.softmax(x[:, 1:8:2], -1),
        x=randn(3, 9, 6)[:, :, ::2].contiguous(),
    )

    # conv2d: inputs x, weight and (optionally) bias
    def conv(**kw):
        return lambda x, weight, bias=None: F.conv2d(x, weight, bias, **kw)

    x = randn(2, 4, 7, 6)
    w = randn(6, 4, 3, 3)
    b = randn(6)
    case(s, "conv", conv(), x=x, weight=w, bias=b)
    case(s, "conv_stride2", conv(stride=2), x=x, weight=w, bias=b)
    case(s, "conv_pad1", conv(padding=1), x=x, weight=w, bias=b)
    case(s, "conv_dil2", conv(dilation=2), x=x, weight=w, bias=b)
    case(s, "conv_groups2", conv(padding=1, groups=2), x=x, weight=randn(6, 2, 3, 3), bias=b)
    case(s, "conv_depthwise", conv(groups=4), x=x, weight=randn(8, 1, 3, 3), bias=randn(8))
    case(s, "conv_nobias", conv(stride=2, padding=1), x=x, weight=w)
    case(s, "conv_unbatched", conv(padding=1), x=randn(4, 7, 6), weight=w, bias=b)
    case(
        s,
        "conv_mixed",
        conv(stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
        x=x,
        weight=randn(6, 4, 3, 2),
        bias=b,
    )
    case(s, "conv_k2s3p2", conv(stride=3, padding=2), x=x, weight=randn(6, 4, 2, 2), bias=b)
    case(
        s,
        "conv_larger",
        conv(stride=(1, 2), padding=1),
        x=randn(2, 5, 10, 9),
        weight=randn(7, 5, 3, 3),
        bias=randn(7),
    )
    case(
        s,
        "conv_expanded",
        lambda x, weight, bias: conv(padding=1)(x.expand(2, 4, 5, 6), weight, bias),
        x=randn(1, 4, 5, 1),
        weight=w,
        bias=b,
    )
    case(s, "conv_1x1", conv(), x=x, weight=randn(3, 4, 1, 1), bias=randn(3))
    case(
        s,
        "conv_nc",
        lambda x, weight, bias: conv(padding=1)(x.transpose(2, 3), weight.transpose(0, 1), bias),
        x=randn(2, 4, 6, 7),
        weight=randn(4, 6, 3, 3),
        bias=b,
    )
    case(
        s,
        "conv_nc_sliced",
        lambda x, weight, bias: conv(stride=2, groups=2)(x[:, ::2], weight, bias),
        x=randn(2, 8, 7, 6),
        weight=randn(6, 2, 3, 3),
        bias=b,
    )

    # pooling
    x = randn(2, 3, 7, 6)
    xt = randn(2, 3, 6, 7)

    def mp(k, st=None, p=0, ceil=False):
        return lambda x: F.max_pool2d(x, k, st, p, ceil_mode=ceil)

    def ap(k, st=None, p=0, ceil=False, cip=True):
        return lambda x: F.avg_pool2d(x, k, st, p, ceil_mode=ceil, count_include_pad=cip)

    case(s, "max_pool_k2", mp(2), x=x)
    case(s, "max_pool_k3s2p1", mp(3, 2, 1), x=x)
    case(s, "max_pool_k3s2_ceil", mp(3, 2, 0, True), x=x)
    case(s, "max_pool_k2s2p1_ceil", mp(2, 2, 1, True), x=x)
    case(s, "max_pool_k32s21", mp((3, 2), (2, 1)), x=x)
    case(s, "max_pool_k2s1_nc", lambda x: mp(2, 1)(x.transpose(2, 3)), x=xt)
    case(s, "max_pool_k3s2p1_nc", lambda x: mp(3, 2, 1)(x.transpose(2, 3)), x=xt)
    case(s, "max_pool_expanded", lambda x: mp(2, 1)(x.expand(2, 3, 4, 5)), x=randn(2, 1, 4, 5))
    case(s, "avg_pool_k2", ap(2), x=x)
    case(s, "avg_pool_k3s2p1", ap(3, 2, 1), x=x)
    case(s, "avg_pool_k3s2p1_nopad", ap(3, 2, 1, cip=False), x=x)
    case(s, "avg_pool_k3s2_ceil", ap(3, 2, 0, True), x=x)
    case(s, "avg_pool_k3s2p1_ceil", ap(3, 2, 1, True), x=x)
    case(s, "avg_pool_k3s2p1_ceil_nopad", ap(3, 2, 1, True, cip=False), x=x)
    case(s, "avg_pool_k2s2p1_ceil", ap(2, 2, 1, True), x=x)
    case(s, "avg_pool_k32s21", ap((3, 2), (2, 1)), x=x)
    case(s, "avg_pool_k2s1_nc", lambda x: ap(2, 1)(x.transpose(2, 3)), x=xt)
    case(s, "adaptive_8x6_to_4x3", lambda x: F.adaptive_avg_pool2d(x, (4, 3)), x=randn(2, 3, 8, 6))
    case(s, "adaptive_7x5_to_3x2", lambda x: F.adaptive_avg_pool2d(x, (3, 2)), x=randn(2, 3, 7, 5))
    case(s, "adaptive_8x5_to_4x3", lambda x: F.adaptive_avg_pool2d(x, (4, 3)), x=randn(1, 2, 8, 5))
    case(s, "adaptive_to_1x1", lambda x: F.adaptive_avg_pool2d(x, 1), x=x)
    case(
        s,
        "adaptive_up_3x2_to_5x4",
        lambda x: F.adaptive_avg_pool2d(x, (5, 4)),
        x=randn(1, 2, 3, 2),
    )
    case(
        s,
        "adaptive_8x6_to_4x3_nc",
        lambda x: F.adaptive_avg_pool2d(x[:, :, ::2], (4, 3)),
        x=randn(1, 2, 16, 6),
    )
    case(
        s,
        "adaptive_7x5_to_3x2_nc",
        lambda x: F.adaptive_avg_pool2d(x.transpose(2, 3), (3, 2)),
        x=randn(2, 3, 5, 7),
    )

    # pad: [left, right, top, bottom]
    x = randn(2, 3, 4, 5)
    case(s, "pad_constant", lambda x: F.pad(x, [1, 2, 2, 1], "constant", 0.5), x=x)
    case(s, "pad_constant_3dims", lambda x: F.pad(x, [1, 0, 0, 2, 1, 1]), x=x)
    case(s, "pad_reflect", lambda x: F.pad(x, [2, 1, 3, 1], "reflect"), x=x)
    case(s, "pad_replicate", lambda x: F.pad(x, [3, 2, 1, 4], "replicate"), x=x)
    case(s, "pad_circular", lambda x: F.pad(x, [2, 3, 1, 2], "circular"), x=x)
    x3 = randn(2, 3, 5)
    case(s, "pad_reflect_1d", lambda x: F.pad(x, [4, 2], "reflect"), x=x3)
    case(s, "pad_replicate_1d", lambda x: F.pad(x, [1, 3], "replicate"), x=x3)
    case(s, "pad_circular_1d", lambda x: F.pad(x, [5, 1], "circular"), x=x3)
    xt = randn(2, 3, 5, 4)
    case(
        s,
        "pad_reflect_expanded",
        lambda x: F.pad(x.expand(2, 3, 4), [2, 1], "reflect"),
        x=randn(2, 1, 4),
    )
    case(s, "pad_constant_nc", lambda x: F.pad(x.transpose(2, 3), [1, 2, 2, 1]), x=xt)
    case(s, "pad_reflect_nc", lambda x: F.pad(x.transpose(2, 3), [2, 1, 3, 1], "reflect"), x=xt)
    case(
        s,
        "pad_replicate_nc",
        lambda x: F.pad(x.transpose(2, 3), [3, 2, 1, 4], "replicate"),
        x=xt,
    )
    case(
        s,
        "pad_circular_nc",
        lambda x: F.pad(x.transpose(2, 3), [2, 3, 1, 2], "circular"),
        x=xt,
    )

    # creation ops (values only)
    creation(s, "arange_tenths", lambda dt: torch.arange(0, 1, 0.1, dtype=dt))
    creation(s, "arange_float_step", lambda dt: torch.arange(-1, 2.5, 0.3, dtype=dt))
    creation(s, "arange_negative_step", lambda dt: torch.arange(5, 0, -0.7, dtype=dt))
    creation(s, "arange_int_step", lambda dt: torch.arange(2, 11, 3, dtype=dt))
    # (end - start) / step is 2.9999999999999996 and 3.0000000000000004: 3 and 4 values
    creation(s, "arange_rounding_down", lambda dt: torch.arange(0, 0.3, 0.1, dtype=dt))
    creation(s, "arange_rounding_up", lambda dt: torch.arange(1, 1.3, 0.1, dtype=dt))
    creation(s, "linspace_2", lambda dt: torch.linspace(2, -1.5, 2, dtype=dt))
    creation(s, "linspace_7", lambda dt: torch.linspace(-1, 1, 7, dtype=dt))
    creation(s, "linspace_10", lambda dt: torch.linspace(0, 1, 10, dtype=dt))
    creation(s, "linspace_down", lambda dt: torch.linspace(3, -2, 6, dtype=dt))
    creation(s, "linspace_1", lambda dt: torch.linspace(0.5, 1, 1, dtype=dt))
    creation(s, "eye_4", lambda dt: torch.eye(4, dtype=dt))
    creation(s, "zeros", lambda dt: torch.zeros(2, 3, dtype=dt))
    creation(s, "ones", lambda dt: torch.ones(2, 3, dtype=dt))
    creation(s, "full", lambda dt: torch.full((2, 3), 2.5, dtype=dt))
    return s


def gen_index():
    s = {}
    x = randn(5, 4)
    case(
        s,
        "index_select_dim0",
        lambda x, i: x.index_select(0, i),
        x=x,
        i=torch.tensor([3, 0, 3, 1, 4]),
    )
    case(
        s,
        "index_select_dim1_nc",
        lambda x, i: x.t().index_select(1, i),
        x=x,
        i=torch.tensor([4, 4, 2, 0]),
    )
    case(
        s,
        "index_select_mid",
        lambda x, i: x.index_select(1, i),
        x=randn(2, 5, 3),
        i=torch.tensor([1, 4, 1]),
    )
    case(
        s,
        "index_select_strided_index",
        lambda x, i: x.index_select(0, i[::2]),
        x=x,
        i=torch.tensor([4, 9, 0, 9, 4, 9, 2]),
    )
    case(
        s,
        "index_select_expanded",
        lambda x, i: x.expand(4, 3).index_select(1, i),
        x=randn(1, 3),
        i=torch.tensor([2, 0, 2, 1]),
    )
    case(
        s,
        "index_select_i32",
        lambda x, i: x.index_select(0, i),
        x=x,
        i=torch.tensor([2, 2, 0]),
    )
    case(s, "gather_dim1", lambda x, i: x.gather(1, i), x=randn(3, 5), i=randint(5, 3, 4))
    case(s, "gather_dim0", lambda x, i: x.gather(0, i), x=randn(3, 5), i=randint(3, 4, 5))
    case(s, "gather_small_index", lambda x, i: x.gather(1, i), x=randn(3, 5), i=randint(5, 2, 3))
    case(s, "gather_3d", lambda x, i: x.gather(1, i), x=randn(2, 4, 3), i=randint(4, 2, 6, 3))
    case(
        s,
        "gather_nc",
        lambda x, i: x.transpose(0, 1).gather(1, i),
        x=randn(5, 3),
        i=randint(5, 3, 4),
    )
    case(s, "gather_neg_dim", lambda x, i: x.gather(-1, i), x=randn(2, 3, 4), i=randint(4, 2, 3, 5))
    case(
        s,
        "gather_nc_index",
        lambda x, i: x.gather(1, i.t()),
        x=randn(3, 5),
        i=randint(5, 4, 3),
    )
    case(
        s,
        "scatter_add_nc_index",
        lambda x, i, src: x.scatter_add(1, i.t(), src.t()),
        x=randn(3, 5),
        i=randint(5, 4, 3),
        src=randn(4, 3),
    )
    case(
        s,
        "scatter_add_dim0",
        lambda x, i, src: x.scatter_add(0, i, src),
        x=randn(4, 5),
        i=randint(4, 3, 5),
        src=randn(3, 5),
    )
    case(
        s,
        "scatter_add_dim1",
        lambda x, i, src: x.scatter_add(1, i, src),
        x=randn(3, 4),
        i=randint(4, 3, 6),
        src=randn(3, 6),
    )
    # PyTorch 1.13's backward rejects a src larger than the index: forward values only.
    case(
        s,
        "scatter_add_src_larger",
        lambda x, i, src: x.scatter_add(1, i, src),
        grad=False,
        x=randn(3, 5),
        i=randint(5, 2, 4),
        src=randn(3, 6),
    )
    case(
        s,
        "scatter_add_nc",
        lambda x, i, src: x.t().scatter_add(0, i, src[:, ::2]),
        x=randn(3, 4),
        i=randint(4, 5, 3),
        src=randn(5, 6),
    )
    case(
        s,
        "embedding",
        lambda weight, i: F.embedding(i, weight),
        weight=randn(10, 4),
        i=randint(10, 2, 3),
    )
    case(
        s,
        "embedding_repeat_nc",
        lambda weight, i: F.embedding(i, weight.t()),
        weight=randn(4, 6),
        i=torch.tensor([[5, 0, 5], [2, 5, 0]]),
    )
    case(
        s,
        "embedding_nc_ids",
        lambda weight, i: F.embedding(i.t(), weight),
        weight=randn(7, 3),
        i=torch.tensor([[1, 6, 1], [0, 2, 6]]),
    )
    case(
        s,
        "cat_repeated",
        lambda a, b: torch.cat([a, b, a], 0),
        a=randn(2, 3),
        b=randn(1, 3),
    )
    case(
        s,
        "cat_mid",
        lambda a, b, c: torch.cat([a, b, c], 1),
        a=randn(2, 3, 4),
        b=randn(2, 1, 4),
        c=randn(2, 2, 4),
    )
    case(
        s,
        "cat_first",
        lambda a, b, c: torch.cat([a, b, c], 0),
        a=randn(1, 3),
        b=randn(4, 3),
        c=randn(2, 3),
    )
    case(
        s,
        "cat_last_nc",
        lambda a, b, c: torch.cat([a.t(), b, c[:, ::2]], -1),
        a=randn(2, 3),
        b=randn(3, 1),
        c=randn(3, 6),
    )
    case(
        s,
        "cat_with_empty",
        lambda a, b, c: torch.cat([a, b, c], 1),
        a=randn(2, 0, 4),
        b=randn(2, 3, 4),
        c=randn(2, 0, 4),
    )
    case(
        s,
        "stack_mid",
        lambda a, b, c: torch.stack([a, b, c], 1),
        a=randn(2, 4),
        b=randn(2, 4),
        c=randn(2, 4),
    )
    case(
        s,
        "stack_first",
        lambda a, b, c: torch.stack([a, b, c], 0),
        a=randn(3, 2),
        b=randn(3, 2),
        c=randn(3, 2),
    )
    case(
        s,
        "stack_last_nc",
        lambda a, b, c: torch.stack([a.t(), b, c], -1),
        a=randn(4, 2),
        b=randn(2, 4),
        c=randn(2, 4),
    )
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "testdata/golden"
    os.makedirs(out, exist_ok=True)
    for name, gen in [("matmul", gen_matmul), ("nn", gen_nn), ("index", gen_index)]:
        path = os.path.join(out, f"{name}.safetensors")
        tensors = gen()
        st_writer.save(tensors, path)
        print(f"{path}: {len(tensors)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
