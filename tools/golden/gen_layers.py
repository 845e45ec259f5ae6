"""Golden values for the nn layers and containers of silica-nn.

Writes layers.safetensors into the folder given as the only argument.

Each case `NAME` builds one torch.nn module, fills every float parameter and buffer with
fixed random values (running_var with positive ones), and then, for each dtype DT in
(f32, f64), runs a list of steps on one copy of it. A step STEP is named `s<k>_train` or
`s<k>_eval` (the mode it runs in; steps run in name order) and stores
  NAME.DT.STEP.x            its input
  NAME.DT.STEP.out          the output
  NAME.DT.STEP.w            a fixed random weight of the output's shape (steps with gradients)
  NAME.DT.STEP.grad.x       d(sum(out * w)) / dx, for a float input
  NAME.DT.STEP.grad.KEY     d(sum(out * w)) / d(parameter KEY), KEY as in named_parameters
Parameter gradients are cleared before each step. Besides the steps, a case stores
  NAME.DT.state.KEY         the state dict before the first step (to load)
  NAME.DT.final.KEY         the state dict after the last step (batch norm's running stats)
and the file stores the key lists of the `sequential` case's model, as UTF-8 bytes (U8),
one name per line:
  keys.state_dict           its state_dict keys, in PyTorch's order
  keys.parameters           its named_parameters names, in order
  keys.buffers              its named_buffers names, in order

Every random value comes from one seeded generator, so the output is deterministic.
"""
import copy
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_writer  # noqa: E402

G = torch.Generator().manual_seed(20240917)
DTYPES = {"f32": torch.float32, "f64": torch.float64}

# The steps of most layers: the same input in training and in evaluation mode.
TRAIN_EVAL = (("s1_train", "x", True), ("s2_eval", "x", True))
# Batch norm: three training forwards (the first with gradients), then evaluation.
BATCH_NORM = (
    ("s1_train", "x", True),
    ("s2_train", "x2", False),
    ("s3_train", "x3", False),
    ("s4_eval", "x", True),
)


def randn(*shape):
    return torch.randn(tuple(shape), generator=G, dtype=torch.float64)


def fill(module, batches_tracked=0):
    """Overwrites every float parameter and buffer of `module` with fixed random values."""
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if name.endswith("num_batches_tracked"):
                t.fill_(batches_tracked)
            elif name.endswith("running_var"):
                t.copy_(randn(*t.shape).abs() + 0.5)
            else:
                t.copy_(randn(*t.shape))
    return module


def layer_case(store, name, module, steps=TRAIN_EVAL, **inputs):
    """Runs `steps` on a copy of `module` in each dtype and stores what the docstring lists."""
    ws = {}
    for dn, dt in DTYPES.items():
        m = copy.deepcopy(module).to(dt)
        for k, v in m.state_dict().items():
            store[f"{name}.{dn}.state.{k}"] = v.clone()
        for step, input_name, grad in steps:
            m.train(step.endswith("_train"))
            m.zero_grad(set_to_none=True)
            x = inputs[input_name]
            if x.is_floating_point():
                x = x.to(dt).detach().clone().requires_grad_(grad)
            p = f"{name}.{dn}.{step}"
            store[f"{p}.x"] = x
            if not grad:
                with torch.no_grad():
                    store[f"{p}.out"] = m(x)
                continue
            out = m(x)
            assert out.dtype == dt, (name, out.dtype)
            store[f"{p}.out"] = out
            if step not in ws:
                ws[step] = randn(*out.shape)
            w = ws[step].to(dt)
            store[f"{p}.w"] = w
            (out * w).sum().backward()
            if x.is_floating_point():
                store[f"{p}.grad.x"] = x.grad
            for k, t in m.named_parameters():
                assert t.grad is not None, (name, k)
                store[f"{p}.grad.{k}"] = t.grad
        for k, v in m.state_dict().items():
            store[f"{name}.{dn}.final.{k}"] = v.clone()


def names(keys):
    return torch.tensor(list("\n".join(keys).encode()), dtype=torch.uint8)


def gen_layers():
    s = {}
    # Linear: 2-D, 3-D and 1-D inputs, with and without a bias.
    layer_case(s, "linear", fill(nn.Linear(5, 3)), x=randn(4, 5))
    layer_case(s, "linear_nobias", fill(nn.Linear(5, 3, bias=False)), x=randn(4, 5))
    layer_case(s, "linear_3d", fill(nn.Linear(5, 3)), x=randn(2, 3, 5))
    layer_case(s, "linear_1d", fill(nn.Linear(5, 3)), x=randn(5))

    # Conv2d
    x = randn(2, 4, 7, 6)
    layer_case(s, "conv", fill(nn.Conv2d(4, 6, 3)), x=x)
    layer_case(s, "conv_s2_p1", fill(nn.Conv2d(4, 6, 3, stride=2, padding=1)), x=x)
    layer_case(
        s,
        "conv_mixed",
        fill(nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2))),
        x=x,
    )
    layer_case(s, "conv_groups", fill(nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=False)), x=x)
    layer_case(s, "conv_unbatched", fill(nn.Conv2d(4, 6, 3, padding=1)), x=randn(4, 7, 6))

    # BatchNorm: the running statistics after three training forwards, then evaluation.
    def bn_case(case, module, *shape, batches_tracked=0):
        layer_case(
            s,
            case,
            fill(module, batches_tracked),
            BATCH_NORM,
            x=randn(*shape),
            x2=randn(*shape) * 2 + 1,
            x3=randn(*shape) - 0.5,
        )

    bn_case("bn1d", nn.BatchNorm1d(4), 6, 4)
    bn_case("bn1d_3d", nn.BatchNorm1d(4), 3, 4, 5)
    bn_case("bn2d", nn.BatchNorm2d(3), 4, 3, 5, 4)
    bn_case("bn2d_momentum", nn.BatchNorm2d(3, momentum=0.3, eps=1e-3), 4, 3, 5, 4)
    bn_case("bn2d_cumulative", nn.BatchNorm2d(3, momentum=None), 4, 3, 5, 4, batches_tracked=2)
    bn_case("bn2d_noaffine", nn.BatchNorm2d(3, affine=False), 4, 3, 5, 4)
    bn_case("bn2d_notrack", nn.BatchNorm2d(3, track_running_stats=False), 4, 3, 5, 4)

    # LayerNorm
    x = randn(3, 4, 5)
    layer_case(s, "layernorm", fill(nn.LayerNorm(5)), x=x)
    layer_case(s, "layernorm_2d", fill(nn.LayerNorm([4, 5], eps=1e-3)), x=x)
    layer_case(s, "layernorm_noaffine", nn.LayerNorm(5, elementwise_affine=False), x=x)

    # Embedding
    layer_case(
        s,
        "embedding",
        fill(nn.Embedding(10, 4)),
        x=torch.tensor([[1, 9, 1], [0, 3, 9]]),
    )

    # Pooling and flattening
    x = randn(2, 3, 7, 6)
    layer_case(s, "max_pool", nn.MaxPool2d(2), x=x)
    layer_case(s, "max_pool_k3s2p1", nn.MaxPool2d(3, 2, 1), x=x)
    layer_case(s, "max_pool_unbatched", nn.MaxPool2d(2, 1), x=randn(3, 5, 4))
    layer_case(s, "avg_pool", nn.AvgPool2d(2), x=x)
    layer_case(
        s,
        "avg_pool_k3s2p1_ceil_nopad",
        nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
        x=x,
    )
    layer_case(s, "adaptive_avg_pool", nn.AdaptiveAvgPool2d((3, 2)), x=x)
    layer_case(s, "adaptive_avg_pool_1x1", nn.AdaptiveAvgPool2d(1), x=x)
    layer_case(s, "flatten", nn.Flatten(), x=x)
    layer_case(s, "flatten_0_1", nn.Flatten(0, 1), x=x)
    layer_case(s, "flatten_1_2", nn.Flatten(1, 2), x=x)

    # Activations
    x = randn(3, 4, 5) * 2
    layer_case(s, "relu", nn.ReLU(), x=x)
    layer_case(s, "gelu", nn.GELU(), x=x)
    layer_case(s, "gelu_tanh", nn.GELU(approximate="tanh"), x=x)
    layer_case(s, "silu", nn.SiLU(), x=x)
    layer_case(s, "tanh", nn.Tanh(), x=x)
    layer_case(s, "sigmoid", nn.Sigmoid(), x=x)
    layer_case(s, "leaky_relu", nn.LeakyReLU(), x=x)
    layer_case(s, "leaky_relu_0_2", nn.LeakyReLU(0.2), x=x)
    layer_case(s, "softmax_1", nn.Softmax(dim=1), x=x)
    layer_case(s, "softmax_last", nn.Softmax(dim=-1), x=x)

    # Dropout: its random stream cannot match PyTorch's, so evaluation mode only.
    layer_case(s, "dropout_eval", nn.Dropout(0.3), (("s1_eval", "x", True),), x=x)

    # A small model; its key lists are stored too.
    model = fill(
        nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(4 * 5 * 4, 3),
        )
    )
    layer_case(
        s,
        "sequential",
        model,
        BATCH_NORM,
        x=randn(2, 3, 5, 4),
        x2=randn(2, 3, 5, 4),
        x3=randn(2, 3, 5, 4),
    )
    s["keys.state_dict"] = names(model.state_dict().keys())
    s["keys.parameters"] = names(k for k, _ in model.named_parameters())
    s["keys.buffers"] = names(k for k, _ in model.named_buffers())
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "testdata/golden"
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "layers.safetensors")
    tensors = gen_layers()
    st_writer.save(tensors, path)
    print(f"{path}: {len(tensors)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
