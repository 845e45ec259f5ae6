"""The differential fuzzer's layers (Linear, LayerNorm, BatchNorm, MultiheadAttention) and
losses: for each, how its arguments and inputs are drawn and how PyTorch runs it, as in
fuzz_ops.py, whose OPS table lists them."""
import torch.nn.functional as F

from fuzz_draw import In, broadcastable


# -- layers: the module's parameters are inputs without views, so that the Rust side can load
# them into the module and compare the module's parameter gradients.


def draw_linear(d):
    fin, fout = d.int(0, 4), d.int(0, 4)
    dt = d.pick(["f32", "f64"])
    x = d.shape(max_rank=2) + [fin + (1 if d.chance(0.04) else 0)]
    ins = [In(x, dt), In([fout, fin], dt, views=False)]
    bias = d.chance(0.7)
    if bias:
        ins.append(In([fout], dt, views=False))
    return {"bias": bias}, ins


def draw_layer_norm(d):
    shape = d.shape(min_rank=1)
    k = d.int(1, len(shape))
    norm = shape[len(shape) - k :]
    dt = d.pick(["f32", "f64"])
    affine = d.chance(0.7)
    ins = [In(shape, dt)]
    if affine:
        ins += [In(norm, dt, views=False), In(norm, dt, views=False)]
    return {"normalized_shape": norm, "affine": affine, "eps": d.pick([1e-5, 1e-3])}, ins


def run_layer_norm(a, xs):
    w, b = (xs[1], xs[2]) if a["affine"] else (None, None)
    return F.layer_norm(xs[0], a["normalized_shape"], w, b, a["eps"])


def draw_batch_norm_eval(d):
    c = d.int(1, 3)
    shape = [d.int(0, 3), c] + [d.int(1, 3) for _ in range(d.pick([0, 1, 2]))]
    dt = d.pick(["f32", "f64"])
    affine = d.chance(0.6)
    ins = [In(shape, dt), In([c], dt, grad=False, views=False), In([c], dt, "pos", grad=False, views=False)]
    if affine:
        ins += [In([c], dt, views=False), In([c], dt, views=False)]
    return {"affine": affine, "eps": d.pick([1e-5, 1e-3])}, ins


def run_batch_norm_eval(a, xs):
    w, b = (xs[3], xs[4]) if a["affine"] else (None, None)
    return F.batch_norm(xs[0], xs[1], xs[2], w, b, training=False, eps=a["eps"])


def draw_batch_norm_module(d):
    """A BatchNorm layer in training mode: its output and its running statistics after the
    step (momentum None is the cumulative average over num_batches_tracked + 1 batches)."""
    c = d.int(1, 3)
    shape = [d.int(1, 3), c] + [d.int(1, 3) for _ in range(d.pick([0, 1, 2]))]
    dt = d.pick(["f32", "f64"])
    affine = d.chance(0.6)
    ins = [
        In(shape, dt, "finite"),
        In([c], dt, "finite", grad=False, views=False),
        In([c], dt, "pos", grad=False, views=False),
        In([], "i64", "index", grad=False, lo=0, hi=4, views=False),
    ]
    if affine:
        ins += [In([c], dt, "finite", views=False), In([c], dt, "finite", views=False)]
    args = {"affine": affine, "eps": d.pick([1e-5, 1e-3]), "momentum": d.pick([0.1, 0.5, 1.0, None])}
    return args, ins


def run_batch_norm_module(a, xs):
    x, rm, rv, count = xs[0], xs[1].clone(), xs[2].clone(), int(xs[3])
    w, b = (xs[4], xs[5]) if a["affine"] else (None, None)
    momentum = a["momentum"] if a["momentum"] is not None else 1.0 / (count + 1)
    y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=momentum, eps=a["eps"])
    return [y, rm, rv]


def draw_mha(d):
    heads, head_dim = d.int(1, 2), d.int(1, 3)
    e = heads * head_dim
    b, t, s = d.int(1, 2), d.int(0, 3), d.int(0, 3)
    batch_first, batched = d.chance(0.5), d.chance(0.85)
    dt = d.pick(["f32", "f64"])
    self_attn = d.chance(0.4)
    if self_attn:
        s = t

    def seq(n):
        if not batched:
            return [n, e]
        return [b, n, e] if batch_first else [n, b, e]

    ins, slots = [In(seq(t), dt)], {"query": 0}
    if not self_attn:
        slots.update(key=1, value=2)
        ins += [In(seq(s), dt), In(seq(s), dt)]
    bias = d.chance(0.7)
    params = [("in_proj_weight", [3 * e, e]), ("out_proj.weight", [e, e])]
    if bias:
        params += [("in_proj_bias", [3 * e]), ("out_proj.bias", [e])]
    for key, shape in params:
        slots[key] = len(ins)
        ins.append(In(shape, dt, "finite", views=False))
    mask = d.pick(["none", "bool", "float"])
    if mask != "none":
        slots["attn_mask"] = len(ins)
        if mask == "bool":
            ins.append(In([t, s], "bool", grad=False))
        else:
            ins.append(In([t, s], dt, "finite", grad=False))
    if batched and d.chance(0.4):
        slots["key_padding_mask"] = len(ins)
        ins.append(In([b, s], "bool", grad=False))
    args = {"heads": heads, "bias": bias, "batch_first": batch_first, "slots": slots}
    return args, ins


def run_mha(a, xs):
    slots = a["slots"]
    get = lambda key: xs[slots[key]] if key in slots else None  # noqa: E731
    q = get("query")
    k, v = (get("key"), get("value")) if "key" in slots else (q, q)
    batch_first = a["batch_first"] and q.dim() == 3
    if batch_first:
        q, k, v = (t.transpose(0, 1) for t in (q, k, v))
    e = q.shape[-1]
    out, _ = F.multi_head_attention_forward(
        q, k, v, e, a["heads"], get("in_proj_weight"), get("in_proj_bias"), None, None, False,
        0.0, get("out_proj.weight"), get("out_proj.bias"), training=False,
        key_padding_mask=get("key_padding_mask"), need_weights=False, attn_mask=get("attn_mask"),
    )
    return out.transpose(0, 1) if batch_first else out


# -- losses


REDUCTIONS = ["none", "mean", "sum"]


def draw_pointwise_loss(d):
    fn = d.pick(["mse", "l1", "smooth_l1", "huber", "bce", "bce_logits"])
    shape = d.shape()
    dt = d.pick(["f32", "f64"])
    kind = "unit" if fn == "bce" else "any"
    target_kind = "unit" if fn in ("bce", "bce_logits") else "any"
    args = {"fn": fn, "reduction": d.pick(REDUCTIONS), "param": d.pick([1.0, 0.5, 2.0])}
    ins = [In(shape, dt, kind), In(shape, dt, target_kind)]
    if fn in ("bce", "bce_logits") and d.chance(0.4):
        args["weight"] = True
        ins.append(In(broadcastable(d, shape) if shape else [], dt, "pos", grad=False))
    if fn == "bce_logits" and d.chance(0.4) and shape:
        args["pos_weight"] = True
        ins.append(In([shape[-1]], dt, "pos", grad=False))
    return args, ins


def run_pointwise_loss(a, xs):
    fn, red, p = a["fn"], a["reduction"], a["param"]
    x, t = xs[0], xs[1]
    rest = xs[2:]
    if fn == "mse":
        return F.mse_loss(x, t, reduction=red)
    if fn == "l1":
        return F.l1_loss(x, t, reduction=red)
    if fn == "smooth_l1":
        return F.smooth_l1_loss(x, t, reduction=red, beta=p)
    if fn == "huber":
        return F.huber_loss(x, t, reduction=red, delta=p)
    w = rest.pop(0) if a.get("weight") else None
    if fn == "bce":
        return F.binary_cross_entropy(x, t, weight=w, reduction=red)
    pw = rest.pop(0) if a.get("pos_weight") else None
    return F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction=red)


def draw_class_loss(d):
    fn = d.pick(["cross_entropy", "nll"])
    c = d.int(1, 4)
    lead = d.shape(max_rank=1)
    extra = d.shape(max_rank=2) if d.chance(0.3) else []
    if not lead and extra:
        lead = [1]
    shape = lead[:1] + [c] + extra if lead else [c]
    tshape = lead[:1] + extra if lead else []
    dt = d.pick(["f32", "f64"])
    args = {
        "fn": fn,
        "reduction": d.pick(REDUCTIONS),
        "ignore_index": d.pick([-100, 0, 1]),
        "smoothing": d.pick([0.0, 0.0, 0.1]) if fn == "cross_entropy" else 0.0,
        "probs": fn == "cross_entropy" and d.chance(0.2),
        "weight": d.chance(0.3),
    }
    if args["probs"]:
        args["ignore_index"] = -100
        target = In(shape, dt, "unit", grad=False)
    else:
        hi = c + (1 if d.chance(0.04) else 0)
        target = In(tshape, "i64", "index", grad=False, lo=-1 if d.chance(0.2) else 0, hi=hi)
        if d.chance(0.3) and args["ignore_index"] == -100:
            target.lo, target.hi = -100, -99  # all ignored
    ins = [In(shape, dt, "finite"), target]
    if args["weight"]:
        ins.append(In([c], dt, "pos", grad=False))
    return args, ins


def run_class_loss(a, xs):
    x, t = xs[0], xs[1]
    w = xs[2] if a["weight"] else None
    if a["fn"] == "nll":
        return F.nll_loss(x, t, weight=w, ignore_index=a["ignore_index"], reduction=a["reduction"])
    return F.cross_entropy(
        x,
        t,
        weight=w,
        ignore_index=a["ignore_index"],
        reduction=a["reduction"],
        label_smoothing=a["smoothing"],
    )
