"""Golden values for training parity: 20 training steps of three small models with PyTorch.

Writes three files into the folder given as the only argument:

  training_mlp.safetensors          Linear-ReLU-Linear-ReLU-Linear (64 -> 32 -> 32 -> 10) on
                                    the digits, Adam(lr=1e-2)
  training_cnn.safetensors          Conv2d(1,8,3,p=1)-BatchNorm2d-ReLU-MaxPool2d(2)-
                                    Conv2d(8,16,3,p=1)-BatchNorm2d-ReLU-Flatten-Linear(256,10)
                                    on the digits as [N,1,8,8], in training mode,
                                    SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
  training_transformer.safetensors  a causal transformer: token + learned position embeddings,
                                    2 pre-norm TransformerEncoderLayers (GELU, no dropout,
                                    batch first, causal mask), a final LayerNorm and a linear
                                    head, trained on next-token prediction with
                                    AdamW(lr=3e-3, weight_decay=0.01), CosineAnnealingLR(T_max=20)
                                    stepped every step, and clip_grad_norm_(max_norm=1.0);
                                    its head weight starts scaled by 3 (so that the gradient
                                    norm starts above 1 and clipping acts in the first steps
                                    only) and its layer norms start off ones and zeros

Layout of each file (float32, PyTorch's default, unless said otherwise):

  init.<key>        the model's state_dict before the first step
  batch.<i>.x       the input of step i (f32 features, or i64 token ids [B, T])
  batch.<i>.y       the i64 targets of step i ([B], or [B, T] next tokens)
  losses            f64 [20]: the loss of each step (computed in float32, before the update)
  final.<key>       the state_dict after the 20 steps (BatchNorm running stats and
                    num_batches_tracked included)

and in training_transformer.safetensors also

  lrs               f64 [20]: the learning rate each step used
  grad_norms        f64 [20]: the total gradient norm clip_grad_norm_ returned at each step

Each file also holds the same run in float64, from the same initial weights and batches
(exact in float64), under the prefix `f64.`: `f64.losses`, `f64.final.<key>`, and for the
transformer `f64.lrs` and `f64.grad_norms`. A float64 run of both sides agreeing to ~1e-10 shows
that the algorithms are identical, so that a larger float32 difference is rounding noise.

Each step is `zero_grad(); loss = cross_entropy(model(x), y); loss.backward(); [clip;]
opt.step(); [sched.step()]`. The Rust test is crates/silica-nn/tests/training_parity.rs. Every
random value comes from seeded generators, so the output is deterministic.
"""
import gzip
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_writer  # noqa: E402

STEPS = 20
BATCH = 16
DIGITS = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data", "digits.csv.gz"
)
DIGITS_FALLBACK = "/work/shared/data/digits.csv.gz"

# The transformer.
VOCAB = 20
SEQ = 12
D_MODEL = 32
HEADS = 2
LAYERS = 2
FF = 64


def load_digits():
    """Features f32 [1797, 64] in [0, 1] (pixels / 16, exact) and labels i64 [1797]."""
    path = DIGITS if os.path.exists(DIGITS) else DIGITS_FALLBACK
    with gzip.open(path, "rt") as f:
        rows = [[int(v) for v in line.split(",")] for line in f if line.strip()]
    data = torch.tensor(rows, dtype=torch.int64)
    return data[:, :64].to(torch.float32) / 16.0, data[:, 64].clone()


def digit_batches(seed, image):
    """STEPS batches of BATCH distinct digits, drawn with a seeded permutation."""
    x, y = load_digits()
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(x.shape[0], generator=g)[: STEPS * BATCH]
    out = []
    for i in range(STEPS):
        idx = perm[i * BATCH : (i + 1) * BATCH]
        xi = x[idx]
        if image:
            xi = xi.reshape(BATCH, 1, 8, 8)
        out.append((xi.contiguous(), y[idx].contiguous()))
    return out


def sequence_batches(seed):
    """STEPS batches of BATCH arithmetic progressions mod VOCAB (a start and a stride in 1..3),
    as inputs [B, SEQ] and next-token targets [B, SEQ]."""
    g = torch.Generator().manual_seed(seed)
    out = []
    k = torch.arange(SEQ + 1)
    for _ in range(STEPS):
        start = torch.randint(0, VOCAB, (BATCH, 1), generator=g)
        stride = torch.randint(1, 4, (BATCH, 1), generator=g)
        tokens = (start + stride * k) % VOCAB
        out.append((tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()))
    return out


def mlp():
    return nn.Sequential(
        nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10)
    )


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10),
    )


class TinyGPT(nn.Module):
    """Token + position embeddings, pre-norm causal encoder layers, a final norm, a head."""

    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, D_MODEL)
        self.pos = nn.Embedding(SEQ, D_MODEL)
        self.layers = nn.ModuleList(
            [
                nn.TransformerEncoderLayer(
                    D_MODEL,
                    HEADS,
                    dim_feedforward=FF,
                    dropout=0.0,
                    activation="gelu",
                    batch_first=True,
                    norm_first=True,
                )
                for _ in range(LAYERS)
            ]
        )
        self.norm = nn.LayerNorm(D_MODEL)
        self.head = nn.Linear(D_MODEL, VOCAB)
        with torch.no_grad():
            # Larger logits, so that the gradient norm starts above 1 and clipping acts in the
            # first steps (not in the later ones); layer norms that are not ones and zeros.
            self.head.weight.mul_(3.0)
            for m in self.modules():
                if isinstance(m, nn.LayerNorm):
                    m.weight.copy_(1.0 + 0.1 * torch.randn(m.weight.shape))
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape))

    def forward(self, ids):
        t = ids.shape[1]
        h = self.tok(ids) + self.pos(torch.arange(t))
        # True above the diagonal: position i attends to positions <= i only.
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        for layer in self.layers:
            h = layer(h, src_mask=mask)
        return self.head(self.norm(h))


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def train(model, batches, make_opt, flat_targets=False, clip=None, make_sched=None):
    """Runs STEPS steps; returns (losses, lrs, grad_norms) as f64 tensors."""
    model.train()
    opt = make_opt(model.parameters())
    sched = make_sched(opt) if make_sched else None
    losses, lrs, norms = [], [], []
    for x, y in batches:
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        out = model(x)
        if flat_targets:
            out = out.reshape(-1, out.shape[-1])
            y = y.reshape(-1)
        loss = F.cross_entropy(out, y)
        loss.backward()
        if clip is not None:
            norms.append(nn.utils.clip_grad_norm_(model.parameters(), clip).item())
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
    f64 = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return f64(losses), f64(lrs), f64(norms)


def setup(store, make_model, seed, batches, make_opt, **kw):
    """Trains a fresh model from `seed` in float32, then from the same initial weights and
    batches in float64, whose results go under the prefix `f64.`."""
    torch.manual_seed(seed)
    model32 = make_model()
    init = state(model32)
    for dt, pre in ((torch.float32, ""), (torch.float64, "f64.")):
        model = make_model().to(dt)
        model.load_state_dict(init)
        if pre == "":
            for k, v in init.items():
                store[f"init.{k}"] = v
            for i, (x, y) in enumerate(batches):
                store[f"batch.{i}.x"] = x
                store[f"batch.{i}.y"] = y
        cast = [(x.to(dt) if x.is_floating_point() else x, y) for x, y in batches]
        losses, lrs, norms = train(model, cast, make_opt, **kw)
        for k, v in state(model).items():
            store[f"{pre}final.{k}"] = v
        store[f"{pre}losses"] = losses
        if "make_sched" in kw:
            store[f"{pre}lrs"] = lrs
        if kw.get("clip") is not None:
            store[f"{pre}grad_norms"] = norms
        print(f"  {dt}: losses {losses[0]:.4f} -> {losses[-1]:.4f}")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.set_num_threads(1)

    store = {}
    print("== mlp")
    setup(
        store,
        mlp,
        seed=1,
        batches=digit_batches(101, image=False),
        make_opt=lambda ps: torch.optim.Adam(ps, lr=1e-2),
    )
    st_writer.save(store, os.path.join(out, "training_mlp.safetensors"))

    store = {}
    print("== cnn")
    setup(
        store,
        cnn,
        seed=2,
        batches=digit_batches(102, image=True),
        make_opt=lambda ps: torch.optim.SGD(
            ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4
        ),
    )
    st_writer.save(store, os.path.join(out, "training_cnn.safetensors"))

    store = {}
    print("== transformer")
    setup(
        store,
        TinyGPT,
        seed=3,
        batches=sequence_batches(103),
        make_opt=lambda ps: torch.optim.AdamW(ps, lr=3e-3, weight_decay=0.01),
        flat_targets=True,
        clip=1.0,
        make_sched=lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS),
    )
    st_writer.save(store, os.path.join(out, "training_transformer.safetensors"))
    assert math.isfinite(store["losses"].sum().item())


if __name__ == "__main__":
    main()
