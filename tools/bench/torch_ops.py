"""Times the criterion micro-benchmarks of crates/silica-core/benches/ops.rs (matmul, conv2d
forward and backward, the small-add chain) and crates/silica-nn/benches/train_step.rs in
PyTorch, on 2 CPU threads, to read beside `cargo bench`'s figures when working on a kernel.

Prints JSON: seconds per iteration (median) for each benchmark id that ops.rs uses.
Run with Debian's PyTorch: /usr/bin/python3 tools/bench/torch_ops.py

The comparison that docs/BENCHMARKS.md reports is `silica bench --vs-torch`, whose PyTorch side
is tools/bench/torch_twin.py (which also picks OpenBLAS's best core type).
"""
import json
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)


def bench(fn, min_time=2.0, warm=3):
    for _ in range(warm):
        fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_time or len(times) < 10:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


res = {}
for n in (256, 512, 1024):
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    res[f"matmul_f32/{n}"] = bench(lambda: a @ b)

x = torch.randn(64, 3, 32, 32, requires_grad=True)
w = torch.randn(32, 3, 3, 3, requires_grad=True)
bias = torch.randn(32, requires_grad=True)
seed = torch.ones(64, 32, 32, 32)


def conv_step():
    for t in (x, w, bias):
        t.grad = None
    y = F.conv2d(x, w, bias, padding=1)
    y.backward(seed)


res["conv2d/fwd_bwd_b64_3x32x32_to_32_k3"] = bench(conv_step)
with torch.no_grad():
    res["conv2d/fwd_b64_3x32x32_to_32_k3"] = bench(lambda: F.conv2d(x, w, bias, padding=1))

sx = torch.randn(16)
sy = torch.randn(16)


def chain():
    z = sx
    for _ in range(1000):
        z = z + sy
    return z


res["small_add_chain_1000"] = bench(chain)

# Whole training steps (crates/silica-nn/benches/train_step.rs).
import torch.nn as nn

mlp = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
opt = torch.optim.Adam(mlp.parameters(), 1e-3)
xb, yb = torch.randn(128, 784), torch.randint(0, 10, (128,))


def mlp_step():
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(mlp(xb), yb).backward()
    opt.step()


res["train_step/mlp_b128_adam"] = bench(mlp_step)
cnn = nn.Sequential(
    nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(64 * 8 * 8, 10),
)
opt2 = torch.optim.SGD(cnn.parameters(), 0.1, momentum=0.9)
xc, yc = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))


def cnn_step():
    opt2.zero_grad(set_to_none=True)
    F.cross_entropy(cnn(xc), yc).backward()
    opt2.step()


res["train_step/cnn_b64_sgd"] = bench(cnn_step)
res["_torch"] = torch.__version__
print(json.dumps(res, indent=1))
