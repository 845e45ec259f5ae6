"""Golden values for ordering and scans: sort, argsort, topk, cumsum, cumprod.

Writes ordering.safetensors into the folder given as the first argument, in the format of
gen_elementwise.py (NAME/in*, NAME/out*, NAME/w*, NAME/g*); the Rust side is
crates/silica-core/tests/golden_ordering.rs.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_elementwise import FLOATS, Golden  # noqa: E402

NAN, INF = float("nan"), float("inf")
F64, I32, I64 = torch.float64, torch.int32, torch.int64


def randn(*shape):
    return torch.randn(shape, dtype=F64)


def ties(*shape):
    """Small integers as floats, so that slices hold equal values."""
    return torch.randint(-2, 3, shape).to(F64)


def with_specials(t):
    flat = t.clone().flatten()
    flat[::4] = NAN
    flat[1::7] = INF
    flat[2::9] = -INF
    return flat.reshape(t.shape)


def sort(dim, descending):
    return lambda x: torch.sort(x, dim=dim, descending=descending, stable=True)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../testdata/golden")
    torch.manual_seed(3)
    g = Golden()
    for dname, dt in FLOATS:
        x = randn(4, 6).to(dt)
        t = ties(5, 7).to(dt)
        s = with_specials(randn(5, 8)).to(dt)
        g.case(f"sort.last.{dname}", sort(-1, False), x)
        g.case(f"sort.first_desc.{dname}", sort(0, True), x)
        g.case(f"sort.ties.{dname}", sort(1, False), t)
        g.case(f"sort.ties_desc.{dname}", sort(1, True), t)
        g.case(f"sort.nan_inf.{dname}", sort(1, False), s)
        g.case(f"sort.nan_inf_desc.{dname}", sort(1, True), s)
        g.case(f"sort.transposed.{dname}", lambda x: torch.sort(x.t(), dim=1, stable=True), x)
        g.case(f"sort.empty.{dname}", sort(1, False), randn(3, 0).to(dt))
        g.case(f"sort.zero_dim.{dname}", sort(0, False), randn().to(dt))
        g.case(f"argsort.ties.{dname}", lambda x: torch.sort(x, dim=1, stable=True)[1], t)
        g.case(f"topk.largest.{dname}", lambda x: torch.topk(x, 3, 1), x)
        g.case(f"topk.smallest.{dname}", lambda x: torch.topk(x, 2, 0, largest=False), x)
        g.case(f"topk.all.{dname}", lambda x: torch.topk(x, 6, -1), x)
        g.case(f"topk.none.{dname}", lambda x: torch.topk(x, 0, 1), x)
        g.case(f"cumsum.last.{dname}", lambda x: torch.cumsum(x, -1), x)
        g.case(f"cumsum.first.{dname}", lambda x: torch.cumsum(x, 0), x)
        g.case(f"cumsum.transposed.{dname}", lambda x: torch.cumsum(x.t(), 1), x)
        g.case(f"cumsum.long.{dname}", lambda x: torch.cumsum(x, 0), randn(37).to(dt))
        g.case(f"cumsum.specials.{dname}", lambda x: torch.cumsum(x, 1), s)
        g.case(f"cumsum.empty.{dname}", lambda x: torch.cumsum(x, 0), randn(0, 3).to(dt))
        g.case(f"cumsum.zero_dim.{dname}", lambda x: torch.cumsum(x, 0), randn().to(dt))
        g.case(f"cumprod.last.{dname}", lambda x: torch.cumprod(x, -1), x)
        g.case(f"cumprod.first.{dname}", lambda x: torch.cumprod(x, 0), x)
        zeros = x.clone()
        zeros[1, 2] = 0.0
        zeros[2, 1] = 0.0
        zeros[2, 4] = 0.0
        g.case(f"cumprod.zeros.{dname}", lambda x: torch.cumprod(x, 1), zeros)
        g.case(f"cumprod.long.{dname}", lambda x: torch.cumprod(x, 0), (torch.rand(23, dtype=F64) + 0.5).to(dt))
    xi = torch.randint(-5, 6, (4, 6))
    g.case("sort.i64", sort(1, False), xi)
    g.case("sort.i32_desc", sort(0, True), xi.to(I32))
    g.case("topk.i64", lambda x: torch.topk(x, 2, 1), torch.randperm(24).reshape(4, 6))
    g.case("cumsum.i32", lambda x: torch.cumsum(x, 1), xi.to(I32))
    g.case("cumsum.bool", lambda x: torch.cumsum(x, 0), xi > 0)
    g.case("cumprod.i64", lambda x: torch.cumprod(x, 1), xi)
    g.save(os.path.join(out_dir, "ordering.safetensors"))


if __name__ == "__main__":
    main()
