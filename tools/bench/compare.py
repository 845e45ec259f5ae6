"""Runs Silica's criterion benchmarks and the same workloads in PyTorch, in one go on one
machine, and prints a Markdown table of times and ratios.

    python3 tools/bench/compare.py            # from the repository root

Needs Debian's python3-torch (and libopenblas0-pthread, so that PyTorch uses OpenBLAS rather
than the reference BLAS). Both sides use 2 threads. PyTorch runs twice: as installed, and
with glibc keeping freed memory mapped (GLIBC_TUNABLES, see WARM_MALLOC); the ratio is taken
against the faster of the two.
"""
import json
import os
import platform
import subprocess
import sys
from datetime import date

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLOPS = {f"matmul_f32/{n}": 2 * n**3 for n in (256, 512, 1024)}


def silica():
    env = dict(os.environ, RAYON_NUM_THREADS="2")
    for package, bench in (("silica-core", "ops"), ("silica-nn", "train_step")):
        subprocess.run(
            ["cargo", "bench", "-q", "-p", package, "--bench", bench],
            cwd=ROOT, env=env, check=True, stdout=sys.stderr,
        )
    out = {}
    base = os.path.join(ROOT, "target", "criterion")
    for dirpath, _, files in os.walk(base):
        if "estimates.json" in files and dirpath.endswith(os.path.join("new")):
            rel = os.path.relpath(os.path.dirname(dirpath), base).replace(os.sep, "/")
            with open(os.path.join(dirpath, "estimates.json")) as f:
                out[rel] = json.load(f)["median"]["point_estimate"] / 1e9
    return out


# glibc settings under which freed memory stays mapped, so PyTorch's large tensors reuse
# pages instead of faulting fresh ones in (Silica's CPU backend keeps its own buffer cache).
WARM_MALLOC = "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296"


def torch_side(warm):
    env = dict(os.environ)
    if warm:
        env["GLIBC_TUNABLES"] = WARM_MALLOC
    p = subprocess.run(
        ["/usr/bin/python3", os.path.join(ROOT, "tools", "bench", "torch_ops.py")],
        check=True, capture_output=True, text=True, env=env,
    )
    return json.loads(p.stdout)


def fmt(name, secs):
    if name in FLOPS:
        return f"{FLOPS[name] / secs / 1e9:.1f} GFLOP/s"
    if name.startswith("small_add"):
        return f"{secs / 1000 * 1e6:.3f} µs/op"
    return f"{secs * 1e3:.2f} ms"


def main():
    s = silica()
    t = torch_side(warm=False)
    w = torch_side(warm=True)
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"Measured {date.today()} on {cpu} ({platform.machine()}), 2 threads, "
          f"PyTorch {t['_torch']}.\n")
    print("| benchmark | Silica | PyTorch | PyTorch, warm malloc | Silica / best PyTorch time |")
    print("|---|---|---|---|---|")
    for name in sorted(k for k in t if not k.startswith("_")):
        if name not in s:
            continue
        best = min(t[name], w[name])
        print(f"| {name} | {fmt(name, s[name])} | {fmt(name, t[name])} | {fmt(name, w[name])} "
              f"| {s[name] / best:.2f} |")


if __name__ == "__main__":
    main()
