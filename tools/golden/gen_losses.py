"""Golden values for the losses and the attention modules of silica-nn.

Writes two files into the folder given as the only argument:
  losses.safetensors     every loss of torch.nn.functional that silica-nn implements
  attention.safetensors  nn.MultiheadAttention and nn.TransformerEncoderLayer

Layout of losses.safetensors: each case `NAME` stores, for each dtype DT in (f32, f64),
  NAME.DT.<input>              a float input (input, target probabilities, weight, pos_weight)
  NAME.<input>                 an integer input (class indices), once
and for each reduction RED in (none, mean, sum)
  NAME.RED.DT.out              the loss
  NAME.none.DT.w               a fixed random weight of the unreduced loss's shape
  NAME.RED.DT.grad.input       d(loss) / d(input), or d(sum(loss * w)) / d(input) for none

Layout of attention.safetensors: each case `NAME` stores, for each dtype DT,
  NAME.DT.<input>              the inputs (x, or q, k, v)
  NAME.DT.state.<key>          the module's state_dict (randomised, so no bias is zero)
  NAME.DT.out                  the output
  NAME.DT.w                    a fixed random weight of the output's shape
  NAME.DT.grad.<input>         d(sum(out * w)) / d(input)
  NAME.DT.grad.state.<key>     d(sum(out * w)) / d(parameter)
and boolean masks once, as NAME.<mask>.

Every random value comes from one seeded generator, so the output is deterministic.
"""
import copy
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_writer  # noqa: E402

G = torch.Generator().manual_seed(20240703)
DTYPES = {"f32": torch.float32, "f64": torch.float64}
REDUCTIONS = ("none", "mean", "sum")


def randn(*shape):
    return torch.randn(tuple(shape), generator=G, dtype=torch.float64)


def rand(*shape):
    return torch.rand(tuple(shape), generator=G, dtype=torch.float64)


def randint(high, *shape):
    return torch.randint(0, high, shape, generator=G, dtype=torch.int64)


def loss_case(store, name, fn, **inputs):
    """Runs `fn(reduction=RED, **inputs)` for each dtype and reduction; only `input` gets a
    gradient."""
    w64 = None
    for dn, dt in DTYPES.items():
        ins = {}
        for k, v in inputs.items():
            if v.is_floating_point():
                ins[k] = v.to(dt)
                store[f"{name}.{dn}.{k}"] = ins[k]
            else:
                ins[k] = v
                store[f"{name}.{k}"] = v
        for red in REDUCTIONS:
            x = ins["input"].detach().clone().requires_grad_(True)
            out = fn(**{**ins, "input": x}, reduction=red)
            assert out.dtype == dt, (name, out.dtype)
            store[f"{name}.{red}.{dn}.out"] = out
            if red == "none":
                if w64 is None:
                    w64 = randn(*out.shape)
                w = w64.to(dt)
                store[f"{name}.{red}.{dn}.w"] = w
                (out * w).sum().backward()
            else:
                out.backward()
            store[f"{name}.{red}.{dn}.grad.input"] = x.grad


def with_ignored(target, every, value=-100):
    t = target.clone()
    t.view(-1)[::every] = value
    return t


def gen_losses():
    s = {}
    x, y = randn(3, 4) * 2, randn(3, 4)
    loss_case(s, "mse", F.mse_loss, input=x, target=y)
    loss_case(s, "mse_3d", F.mse_loss, input=randn(2, 3, 4), target=randn(2, 3, 4))
    loss_case(s, "l1", F.l1_loss, input=x, target=y)
    loss_case(s, "smooth_l1", F.smooth_l1_loss, input=x, target=y)
    loss_case(
        s, "smooth_l1_beta", lambda **k: F.smooth_l1_loss(**k, beta=0.5), input=x, target=y
    )
    loss_case(
        s, "smooth_l1_beta0", lambda **k: F.smooth_l1_loss(**k, beta=0.0), input=x, target=y
    )
    loss_case(s, "huber", F.huber_loss, input=x, target=y)
    loss_case(s, "huber_delta", lambda **k: F.huber_loss(**k, delta=2.0), input=x, target=y)

    # Probabilities for bce, kept away from 0 and 1 by construction.
    p = torch.sigmoid(randn(3, 4) * 2)
    t = rand(3, 4)
    loss_case(s, "bce", F.binary_cross_entropy, input=p, target=t)
    loss_case(s, "bce_weight", F.binary_cross_entropy, input=p, target=t, weight=rand(4) + 0.5)
    hard = (rand(3, 4) > 0.5).double()
    loss_case(s, "bce_hard", F.binary_cross_entropy, input=p, target=hard)

    logits = randn(3, 4) * 3
    logits[0, 0] = 0.0  # the kink of max(-x, 0)
    logits[1, 1] = 60.0  # far out: the naive formula overflows or loses everything
    logits[2, 2] = -60.0
    loss_case(s, "bce_logits", F.binary_cross_entropy_with_logits, input=logits, target=t)
    loss_case(
        s,
        "bce_logits_weight",
        F.binary_cross_entropy_with_logits,
        input=logits,
        target=t,
        weight=rand(3, 1) + 0.5,
    )
    loss_case(
        s,
        "bce_logits_pos_weight",
        F.binary_cross_entropy_with_logits,
        input=logits,
        target=hard,
        pos_weight=rand(4) * 3,
    )
    loss_case(
        s,
        "bce_logits_both",
        F.binary_cross_entropy_with_logits,
        input=logits,
        target=t,
        weight=rand(4) + 0.5,
        pos_weight=rand(4) * 3,
    )

    # nll_loss takes log-probabilities, but any float input is fine for its gradient.
    n, c = 6, 5
    lp = F.log_softmax(randn(n, c), 1)
    tgt = randint(c, n)
    loss_case(s, "nll", F.nll_loss, input=lp, target=tgt)
    loss_case(s, "nll_weight", F.nll_loss, input=lp, target=tgt, weight=rand(c) + 0.5)
    loss_case(
        s,
        "nll_ignore",
        F.nll_loss,
        input=lp,
        target=with_ignored(tgt, 3),
        weight=rand(c) + 0.5,
    )
    loss_case(
        s,
        "nll_ignore_custom",
        lambda **k: F.nll_loss(**k, ignore_index=2),
        input=lp,
        target=tgt,
    )
    loss_case(
        s, "nll_3d", F.nll_loss, input=F.log_softmax(randn(2, c, 3), 1), target=randint(c, 2, 3)
    )

    logits = randn(n, c) * 2
    loss_case(s, "ce", F.cross_entropy, input=logits, target=tgt)
    loss_case(s, "ce_weight", F.cross_entropy, input=logits, target=tgt, weight=rand(c) + 0.5)
    loss_case(s, "ce_ignore", F.cross_entropy, input=logits, target=with_ignored(tgt, 2))
    loss_case(
        s,
        "ce_ignore_custom_weight",
        lambda **k: F.cross_entropy(**k, ignore_index=1),
        input=logits,
        target=tgt,
        weight=rand(c) + 0.5,
    )
    loss_case(
        s,
        "ce_smooth",
        lambda **k: F.cross_entropy(**k, label_smoothing=0.1),
        input=logits,
        target=tgt,
    )
    loss_case(
        s,
        "ce_smooth_weight_ignore",
        lambda **k: F.cross_entropy(**k, label_smoothing=0.25),
        input=logits,
        target=with_ignored(tgt, 4),
        weight=rand(c) + 0.5,
    )
    loss_case(
        s,
        "ce_4d",
        lambda **k: F.cross_entropy(**k, label_smoothing=0.2),
        input=randn(2, c, 3, 2),
        target=with_ignored(randint(c, 2, 3, 2), 5),
        weight=rand(c) + 0.5,
    )
    loss_case(s, "ce_unbatched", F.cross_entropy, input=randn(c), target=torch.tensor(3))
    probs = F.softmax(randn(n, c), 1)
    loss_case(s, "ce_probs", F.cross_entropy, input=logits, target=probs)
    loss_case(
        s,
        "ce_probs_smooth_weight",
        lambda **k: F.cross_entropy(**k, label_smoothing=0.3),
        input=logits,
        target=probs,
        weight=rand(c) + 0.5,
    )
    loss_case(
        s,
        "ce_probs_3d",
        F.cross_entropy,
        input=randn(2, c, 3),
        target=F.softmax(randn(2, c, 3), 1),
    )
    return s


def randomise(module):
    """Replaces every parameter with random values, so that no bias is zero and LayerNorm
    scales are not one."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            base = 1.0 if name.endswith("norm1.weight") or name.endswith("norm2.weight") else 0.0
            p.copy_(base + randn(*p.shape) * 0.3)
    return module


def module_case(store, name, module64, call, inputs, masks=None):
    """Runs `call(module, **inputs, **masks)` for each dtype and stores the state dict, the
    output, and the gradients of every input and parameter."""
    masks = masks or {}
    for k, m in masks.items():
        store[f"{name}.{k}"] = m
    w64 = None
    for dn, dt in DTYPES.items():
        module = copy.deepcopy(module64).to(dt)
        for k, v in module.state_dict().items():
            store[f"{name}.{dn}.state.{k}"] = v
        ins = {k: v.to(dt).detach().clone().requires_grad_(True) for k, v in inputs.items()}
        for k, v in ins.items():
            store[f"{name}.{dn}.{k}"] = v
        ms = {k: (m.to(dt) if m.is_floating_point() else m) for k, m in masks.items()}
        out = call(module, **ins, **ms)
        assert out.dtype == dt, (name, out.dtype)
        store[f"{name}.{dn}.out"] = out
        if w64 is None:
            w64 = randn(*out.shape)
        w = w64.to(dt)
        store[f"{name}.{dn}.w"] = w
        (out * w).sum().backward()
        for k, v in ins.items():
            store[f"{name}.{dn}.grad.{k}"] = v.grad
        for k, p in module.named_parameters():
            assert p.grad is not None, (name, k)
            store[f"{name}.{dn}.grad.state.{k}"] = p.grad


def gen_attention():
    torch.manual_seed(20240703)
    s = {}
    b, t, src, e, h = 2, 5, 6, 8, 2
    causal = nn.Transformer.generate_square_subsequent_mask(t).double()
    for dn, dt in DTYPES.items():
        s[f"causal_mask.{dn}"] = causal.to(dt)

    def mha_self(m, x, attn_mask):
        return m(x, x, x, attn_mask=attn_mask, need_weights=False)[0]

    mha = randomise(nn.MultiheadAttention(e, h, batch_first=True).double())
    module_case(
        s, "mha_causal", mha, mha_self, {"x": randn(b, t, e)}, {"attn_mask": causal}
    )
    mha_nb = randomise(nn.MultiheadAttention(e, h, bias=False, batch_first=True).double())
    module_case(
        s, "mha_nobias_causal", mha_nb, mha_self, {"x": randn(b, t, e)}, {"attn_mask": causal}
    )

    # Cross-attention with padded keys, and with padded keys plus a boolean attention mask.
    kpm = torch.zeros(b, src, dtype=torch.bool)
    kpm[0, 4:] = True
    kpm[1, 1] = True
    qkv = {"q": randn(b, t, e), "k": randn(b, src, e), "v": randn(b, src, e)}

    def mha_cross(m, q, k, v, key_padding_mask, attn_mask=None):
        return m(
            q, k, v, key_padding_mask=key_padding_mask, attn_mask=attn_mask, need_weights=False
        )[0]

    module_case(s, "mha_padding", mha, mha_cross, qkv, {"key_padding_mask": kpm})
    bool_mask = torch.zeros(t, src, dtype=torch.bool)
    bool_mask[0, 2:] = True
    bool_mask[3, 0] = True
    module_case(
        s,
        "mha_padding_bool_mask",
        mha,
        mha_cross,
        qkv,
        {"key_padding_mask": kpm, "attn_mask": bool_mask},
    )

    d, nhead, ff = 8, 2, 16
    pre = nn.TransformerEncoderLayer(
        d, nhead, ff, dropout=0.0, batch_first=True, norm_first=True, activation="gelu"
    )
    module_case(
        s,
        "enc_prenorm_gelu",
        randomise(pre.double()),
        lambda m, x, mask: m(x, src_mask=mask),
        {"x": randn(b, t, d)},
        {"mask": causal},
    )
    post = nn.TransformerEncoderLayer(d, nhead, ff, dropout=0.0, batch_first=True)
    pad = torch.zeros(b, t, dtype=torch.bool)
    pad[1, 3:] = True
    module_case(
        s,
        "enc_postnorm_relu_padding",
        randomise(post.double()),
        lambda m, x, key_padding_mask: m(x, src_key_padding_mask=key_padding_mask),
        {"x": randn(b, t, d)},
        {"key_padding_mask": pad},
    )
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "testdata/golden"
    os.makedirs(out, exist_ok=True)
    for name, gen in [("losses", gen_losses), ("attention", gen_attention)]:
        path = os.path.join(out, f"{name}.safetensors")
        tensors = gen()
        st_writer.save(tensors, path)
        print(f"{path}: {len(tensors)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
