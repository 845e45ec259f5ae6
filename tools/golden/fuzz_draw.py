"""The differential fuzzer's drawing: random shapes, dtypes, values and view chains from a seed
(see fuzz.py)."""
import math
import random

import torch

DTYPES = {
    "f32": torch.float32,
    "f64": torch.float64,
    "f16": torch.float16,
    "bf16": torch.bfloat16,
    "i32": torch.int32,
    "i64": torch.int64,
    "u8": torch.uint8,
    "bool": torch.bool,
}
FLOATS = ["f32", "f64", "f16", "bf16"]
INTS = ["i32", "i64", "u8"]
SPECIALS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0]


# ---- drawing ---------------------------------------------------------------------------------


class Draw:
    """Random structure (Python's `random`) and values (a torch generator), both from one seed."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.g = torch.Generator().manual_seed(seed)

    def pick(self, options, weights=None):
        return self.r.choices(options, weights)[0]

    def chance(self, p):
        return self.r.random() < p

    def int(self, lo, hi):
        """An integer in [lo, hi]."""
        return self.r.randint(lo, hi)

    def dim_size(self):
        return self.pick([0, 1, 2, 3, 4, 5], [0.06, 0.2, 0.26, 0.24, 0.12, 0.12])

    def shape(self, rank=None, min_rank=0, max_rank=4):
        if rank is None:
            rank = self.pick(range(min_rank, max_rank + 1))
        return [self.dim_size() for _ in range(rank)]

    def float_dtype(self):
        return self.pick(FLOATS, [0.55, 0.25, 0.1, 0.1])

    def any_dtype(self):
        return self.pick(FLOATS + INTS + ["bool"], [0.35, 0.15, 0.06, 0.06, 0.1, 0.12, 0.08, 0.08])

    def values(self, shape, dtype, kind="any", lo=0, hi=1):
        """A contiguous tensor of `shape` and `dtype` (a name) with values of `kind`."""
        dt = DTYPES[dtype]
        if kind == "index":
            return torch.randint(lo, hi, shape, generator=self.g, dtype=torch.int64).to(dt)
        if dtype == "bool":
            return torch.randint(0, 2, shape, generator=self.g).bool()
        if dtype == "u8":
            return torch.randint(0, 12, shape, generator=self.g).to(dt)
        if dtype in INTS:
            return torch.randint(-6, 7, shape, generator=self.g).to(dt)
        if kind == "unit":  # probabilities strictly inside (0, 1)
            x = torch.rand(shape, generator=self.g, dtype=torch.float64) * 0.98 + 0.01
        elif kind == "pos":
            x = torch.rand(shape, generator=self.g, dtype=torch.float64) * 3 + 0.1
        elif kind == "finite":
            x = torch.randn(shape, generator=self.g, dtype=torch.float64) * 3
        elif self.chance(0.2):  # ties: small integers and halves
            x = torch.randint(-4, 5, shape, generator=self.g).to(torch.float64) / 2
        else:
            x = torch.randn(shape, generator=self.g, dtype=torch.float64) * self.pick([1, 3])
        if kind == "any" and x.numel() and self.chance(0.25):
            flat = x.flatten()
            for i in range(flat.numel()):
                if self.chance(0.15):
                    flat[i] = self.pick(SPECIALS)
            x = flat.reshape(shape)
        return x.to(dt)

    def scalar(self, kinds=("f", "i")):
        """A Python scalar with its kind: ["f", "2.5"], ["i", 3] or ["b", true]."""
        kind = self.pick(list(kinds))
        if kind == "i":
            v = self.int(-3, 3)
            return v, ["i", v]
        if kind == "b":
            v = self.chance(0.5)
            return v, ["b", v]
        v = self.pick([0.5, -1.5, 2.0, 0.3, -0.25, 3.0, math.nan, math.inf, -math.inf, 0.0])
        return v, ["f", repr(v)]


def broadcastable(d, shape):
    """A shape that broadcasts with `shape`: a suffix of it with some dims set to 1."""
    n = d.int(0, len(shape)) if d.chance(0.4) else len(shape)
    out = [1 if d.chance(0.3) else s for s in shape[len(shape) - n :]]
    if d.chance(0.15):  # a leading dim of its own
        out = [d.pick([1, 2])] + out
    if out and d.chance(0.05):  # incompatible
        i = d.int(0, len(out) - 1)
        out[i] = out[i] + 2
    return out


def rand_dim(d, rank, extra=0):
    """A dim index for a tensor of `rank` (negative half the time); `extra` widens the range
    (unsqueeze) and rank 0 accepts -1 and 0."""
    r = max(rank + extra, 1)
    i = d.int(0, r - 1)
    if d.chance(0.05):
        return r + d.int(0, 1)  # out of range
    return i - r if d.chance(0.4) else i


def reduce_dims(d, rank):
    """A non-empty list of distinct dims of a tensor of `rank`, some negative ([], [0] or [-1]
    for rank 0)."""
    if rank == 0:
        return d.pick([[], [0], [-1]])
    k = d.int(1, rank)
    dims = d.r.sample(range(rank), k)
    return [x - rank if d.chance(0.3) else x for x in dims]


# ---- views -----------------------------------------------------------------------------------


def view_chain(d, shape):
    """A base shape and a chain of views that turns a tensor of that shape into one of `shape`."""
    ops = []
    cur = list(shape)
    for _ in range(d.pick([0, 1, 2], [0.45, 0.38, 0.17])):
        n = len(cur)
        kind = d.pick(["transpose", "permute", "slice", "select", "expand"])
        if kind == "transpose" and n >= 2:
            i, j = d.r.sample(range(n), 2)
            cur[i], cur[j] = cur[j], cur[i]
            ops.insert(0, ["transpose", i, j])
        elif kind == "permute" and n >= 2:
            perm = list(range(n))
            d.r.shuffle(perm)
            base = [0] * n
            for k in range(n):
                base[perm[k]] = cur[k]
            cur = base
            ops.insert(0, ["permute", perm])
        elif kind == "slice" and n >= 1:
            dim, step, start = d.int(0, n - 1), d.pick([1, 2, 3]), d.pick([0, 1, 2])
            size = cur[dim]
            end = start + (size - 1) * step + 1 if size > 0 else start
            cur[dim] = end + d.pick([0, 1])
            ops.insert(0, ["slice", dim, start, end, step])
        elif kind == "select":
            dim, k = d.int(0, n), d.pick([1, 2, 3])
            index = d.int(0, k - 1) - (k if d.chance(0.3) else 0)
            cur.insert(dim, k)
            ops.insert(0, ["select", dim, index])
        elif kind == "expand" and n >= 1:
            target = list(cur)
            lead = d.int(0, n) if d.chance(0.3) else 0
            cur = [1 if d.chance(0.4) else s for s in cur[lead:]]
            ops.insert(0, ["expand", target])
    return cur, ops


def apply_view(x, op):
    kind = op[0]
    if kind == "transpose":
        return x.transpose(op[1], op[2])
    if kind == "permute":
        return x.permute(op[1])
    if kind == "slice":
        dim, start, end, step = op[1:]
        return x[(slice(None),) * dim + (slice(start, end, step),)]
    if kind == "select":
        return x.select(op[1], op[2])
    if kind == "expand":
        return x.expand(op[1])
    raise ValueError(kind)


class In:
    """One input: its shape as the op sees it, dtype, kind of values, and whether it may
    require grad and be a view."""

    def __init__(self, shape, dtype, kind="any", grad=True, lo=0, hi=1, views=True):
        self.shape, self.dtype, self.kind = list(shape), dtype, kind
        self.grad, self.lo, self.hi, self.views = grad, lo, hi, views
