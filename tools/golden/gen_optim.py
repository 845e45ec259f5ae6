"""Golden values for optimizers, learning-rate schedulers and gradient clipping.

Writes optim.safetensors into the folder given as the only argument. Layout:

  opt.NAME.DT.p{j}.init          parameter j before the first step (DT is f32 or f64)
  opt.NAME.DT.p{j}.grad{k}       its gradient at step k (absent: no gradient at that step,
                                 so the optimizer must skip the parameter)
  opt.NAME.DT.p{j}.step{k}       the parameter after step k
  sched.NAME                     f64 [31, 2]: the two groups' learning rates after the
                                 constructor, then after each of 30 steps
  clip.NAME.DT.g{j}              gradient j before clipping
  clip.NAME.DT.out{j}            gradient j after clipping
  clip.NAME.DT.total             the total norm clip_grad_norm_ returned

Each optimizer case runs 5 steps on two parameters of shapes [3, 4] and [5] with PyTorch's
default single-tensor (foreach=False) code path. The Rust test (crates/silica-nn/tests/optim.rs)
has a table with the same case names. Every random value comes from one seeded generator.
"""
import math
import os
import sys
import warnings

import torch
from torch.optim import SGD, Adagrad, Adam, AdamW, RMSprop
from torch.optim import lr_scheduler as S

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_writer  # noqa: E402

G = torch.Generator().manual_seed(20240613)
DTYPES = {"f32": torch.float32, "f64": torch.float64}
SHAPES = [(3, 4), (5,)]
STEPS = 5
# (parameter, step) pairs without a gradient.
SKIP = {(1, 2)}


def randn(*shape):
    return torch.randn(shape, generator=G, dtype=torch.float64)


def two_groups(opt_cls, group1, **defaults):
    """An optimizer whose second parameter is in its own group with `group1` overrides."""
    return lambda ps: opt_cls([{"params": [ps[0]]}, dict(params=[ps[1]], **group1)], **defaults)


OPTIMIZERS = {
    "sgd": lambda ps: SGD(ps, lr=0.1),
    "sgd_momentum": lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "sgd_nesterov": lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05),
    "sgd_maximize": lambda ps: SGD(ps, lr=0.1, momentum=0.5, maximize=True),
    "sgd_groups": two_groups(SGD, {"lr": 0.01, "momentum": 0.5}, lr=0.1, momentum=0.9),
    "adam": lambda ps: Adam(ps, lr=0.01),
    "adam_wd_amsgrad": lambda ps: Adam(
        ps, lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1, amsgrad=True
    ),
    "adam_maximize": lambda ps: Adam(ps, lr=0.01, maximize=True),
    "adam_groups": two_groups(Adam, {"lr": 0.1, "weight_decay": 0.1}, lr=0.01),
    "adamw": lambda ps: AdamW(ps, lr=0.01),
    "adamw_amsgrad": lambda ps: AdamW(
        ps, lr=0.05, betas=(0.85, 0.99), weight_decay=0.1, amsgrad=True
    ),
    "rmsprop": lambda ps: RMSprop(ps, lr=0.01),
    "rmsprop_centered": lambda ps: RMSprop(ps, lr=0.01, centered=True),
    "rmsprop_momentum": lambda ps: RMSprop(ps, lr=0.02, momentum=0.5),
    "rmsprop_full": lambda ps: RMSprop(
        ps, lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.8, centered=True
    ),
    "adagrad": lambda ps: Adagrad(ps, lr=0.1),
    "adagrad_full": lambda ps: Adagrad(
        ps, lr=0.2, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.5, eps=1e-8
    ),
    "adagrad_groups": two_groups(Adagrad, {"lr": 0.5}, lr=0.05),
}


def gen_optimizers(store):
    for name, make in OPTIMIZERS.items():
        init = [randn(*s) for s in SHAPES]
        grads = [[randn(*s) for s in SHAPES] for _ in range(STEPS)]
        for dn, dt in DTYPES.items():
            pre = f"opt.{name}.{dn}"
            ps = [x.to(dt).clone().requires_grad_(True) for x in init]
            for j, p in enumerate(ps):
                store[f"{pre}.p{j}.init"] = p.detach().clone()
            opt = make(ps)
            for k in range(STEPS):
                for j, p in enumerate(ps):
                    if (j, k) in SKIP:
                        p.grad = None
                    else:
                        p.grad = grads[k][j].to(dt).clone()
                        store[f"{pre}.p{j}.grad{k}"] = p.grad.clone()
                opt.step()
                for j, p in enumerate(ps):
                    store[f"{pre}.p{j}.step{k}"] = p.detach().clone()


SCHEDULERS = {
    "step": lambda o: S.StepLR(o, step_size=7, gamma=0.5),
    "multistep": lambda o: S.MultiStepLR(o, milestones=[3, 8, 8, 20], gamma=0.3),
    "exponential": lambda o: S.ExponentialLR(o, gamma=0.9),
    "cosine": lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    "linear_warmup": lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=8),
    "linear_decay": lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=12),
    "onecycle_cos": lambda o: S.OneCycleLR(
        o, max_lr=[1.0, 0.5], total_steps=30, cycle_momentum=False
    ),
    "onecycle_linear": lambda o: S.OneCycleLR(
        o,
        max_lr=0.8,
        total_steps=30,
        pct_start=0.25,
        anneal_strategy="linear",
        div_factor=10.0,
        final_div_factor=100.0,
        cycle_momentum=False,
    ),
    "onecycle_three_phase": lambda o: S.OneCycleLR(
        o, max_lr=0.6, total_steps=30, three_phase=True, cycle_momentum=False
    ),
    "sequential": lambda o: S.SequentialLR(
        o,
        [
            S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=5),
            S.CosineAnnealingLR(o, T_max=20, eta_min=0.0),
        ],
        milestones=[5],
    ),
    "sequential3": lambda o: S.SequentialLR(
        o,
        [
            S.LinearLR(o, start_factor=0.5, end_factor=1.0, total_iters=4),
            S.ExponentialLR(o, gamma=0.8),
            S.StepLR(o, step_size=3, gamma=0.5),
        ],
        milestones=[6, 15],
    ),
}


def gen_schedulers(store):
    for name, make in SCHEDULERS.items():
        p0 = torch.zeros(1, requires_grad=True)
        p1 = torch.zeros(1, requires_grad=True)
        opt = SGD([{"params": [p0]}, {"params": [p1], "lr": 0.05}], lr=0.1)
        sched = make(opt)
        lrs = [[g["lr"] for g in opt.param_groups]]
        for _ in range(30):
            opt.step()
            sched.step()
            lrs.append([g["lr"] for g in opt.param_groups])
        store[f"sched.{name}"] = torch.tensor(lrs, dtype=torch.float64)


CLIPS = {
    "l2": lambda ps: torch.nn.utils.clip_grad_norm_(ps, 1.0, 2.0),
    "l2_noclip": lambda ps: torch.nn.utils.clip_grad_norm_(ps, 100.0, 2.0),
    "inf": lambda ps: torch.nn.utils.clip_grad_norm_(ps, 0.5, math.inf),
    "l1": lambda ps: torch.nn.utils.clip_grad_norm_(ps, 2.0, 1.0),
    "value": lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.5),
}


def gen_clip(store):
    for name, clip in CLIPS.items():
        grads = [randn(*s) for s in SHAPES]
        for dn, dt in DTYPES.items():
            pre = f"clip.{name}.{dn}"
            ps = [torch.zeros(s, dtype=dt, requires_grad=True) for s in SHAPES]
            for j, (p, g) in enumerate(zip(ps, grads)):
                p.grad = g.to(dt).clone()
                store[f"{pre}.g{j}"] = p.grad.clone()
            total = clip(ps)
            if total is not None:
                assert total.dtype == dt, (name, total.dtype)
                store[f"{pre}.total"] = total.detach().clone()
            for j, p in enumerate(ps):
                store[f"{pre}.out{j}"] = p.grad.clone()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "testdata/golden"
    os.makedirs(out, exist_ok=True)
    warnings.simplefilter("ignore")
    store = {}
    gen_optimizers(store)
    gen_schedulers(store)
    gen_clip(store)
    path = os.path.join(out, "optim.safetensors")
    st_writer.save(store, path)
    print(f"{path}: {len(store)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
