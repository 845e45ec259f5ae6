"""The PyTorch twin of `silica bench`: the workloads of shared/reference/torch_bench.py at its
CPU sizes, timed as Silica times them, printed as one JSON object on stdout.

    /usr/bin/python3 tools/bench/torch_twin.py [--threads 2] [--quick] [--only NAME]
                                               [--device cpu|cuda:N|mps]

`silica bench --vs-torch` runs it (embedded in the binary) right after Silica. It runs PyTorch
at its best on this machine:

- OpenBLAS picks its kernels from the CPU at load time, and on a virtual CPU it can pick
  generic ones (`Prescott`, `Core2`, ...), with which PyTorch's matmul runs about 4x slower.
  The twin reads OpenBLAS's choice (OPENBLAS_VERBOSE=2 prints `Core: NAME` when the library
  loads), compares it with the best core type that the CPU's flags allow (/proc/cpuinfo), and
  when OpenBLAS chose worse, runs the workloads with OPENBLAS_CORETYPE set to the better one.
  An OPENBLAS_CORETYPE already in the environment is kept.
- PyTorch's CPU tensors come from glibc's malloc, which maps large blocks fresh on every
  allocation, so their pages fault in again and again (Silica's CPU backend keeps freed
  buffers). With the full timing the twin runs the workloads twice, once as installed and once
  with glibc keeping freed memory mapped (GLIBC_TUNABLES below), and keeps each workload's
  faster time.

The report: engine, version, threads, blas, openblas_core (the core type the workloads ran
with), openblas_core_detected (OpenBLAS's own choice), malloc, and seconds: the median seconds
of one step by workload name (the names of crates/silica-cli/src/bench/workloads.rs).
A missing PyTorch is an error on stderr and exit status 2.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

# glibc settings under which freed memory stays mapped (see above).
WARM_MALLOC = "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296"

# OpenBLAS core types by the widest SIMD their kernels use, lower-case, as OpenBLAS names them.
CORE_LEVEL = {
    "sapphirerapids": 5, "cooperlake": 5,
    "skylakex": 4,
    "haswell": 3, "zen": 3, "excavator": 3,
    "sandybridge": 2, "bulldozer": 2, "piledriver": 2, "steamroller": 2,
}

# The GPT of torch_bench.py at its CPU sizes.
V, D, H, L, T, B = 65, 128, 4, 4, 64, 16


def options():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only")
    p.add_argument("--device", default="cpu")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args()


def fail(msg):
    print(f"torch_twin: {msg}", file=sys.stderr)
    sys.exit(2)


# ---------------------------------------------------------------------------------------------
# The driver: OpenBLAS's core type, then the workers.

def cpu_flags():
    """The CPU's vendor and its flags, from /proc/cpuinfo."""
    vendor, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "vendor_id" and not vendor:
                    vendor = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return vendor, flags


def best_core():
    """The best OpenBLAS core type that the CPU's flags allow, or None where we cannot tell."""
    vendor, flags = cpu_flags()
    if {"avx512f", "avx512vl", "avx512bw", "avx512dq"} <= flags:
        return "Cooperlake" if "avx512_bf16" in flags else "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Zen" if vendor == "AuthenticAMD" else "Haswell"
    if "avx" in flags:
        return "Sandybridge"
    return None


def probe(env):
    """(OpenBLAS's core type or None, PyTorch's BLAS) when PyTorch loads with `env`."""
    code = ("import torch, re; torch.ones(8, 8) @ torch.ones(8, 8); "
            "m = re.search(r'BLAS_INFO=(\\w+)', torch.__config__.show()); "
            "print(m.group(1) if m else 'unknown')")
    p = subprocess.run([sys.executable, "-c", code], env=dict(env, OPENBLAS_VERBOSE="2"),
                       capture_output=True, text=True)
    if p.returncode != 0:
        if "No module named 'torch'" in p.stderr:
            fail(f"PyTorch is not installed for {sys.executable} (on Debian: apt-get install "
                 "python3-torch libopenblas0-pthread; or set SILICA_PYTHON)")
        fail(f"PyTorch failed to load: {p.stderr.strip()[-2000:]}")
    m = re.search(r"Core: (\S+)", p.stderr)
    return (m.group(1) if m else None), p.stdout.strip()


def choose_core(env):
    """The environment to run the workloads in, and the report's OpenBLAS fields."""
    detected, blas = probe(env)
    info = {"blas": blas, "openblas_core": detected, "openblas_core_detected": detected}
    if detected is None or "OPENBLAS_CORETYPE" in env:
        return env, info
    best = best_core()
    if best and CORE_LEVEL.get(detected.lower(), 1) < CORE_LEVEL[best.lower()]:
        forced = dict(env, OPENBLAS_CORETYPE=best)
        got, _ = probe(forced)
        if got and got.lower() == best.lower():
            info["openblas_core"] = got
            return forced, info
        print(f"torch_twin: OPENBLAS_CORETYPE={best} was not taken (OpenBLAS chose {got}); "
              f"keeping {detected}", file=sys.stderr)
    return env, info


def worker(env, args):
    """The workers' report, run with `env`."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--threads", str(args.threads),
           "--device", args.device]
    if args.quick:
        cmd.append("--quick")
    if args.only:
        cmd += ["--only", args.only]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"the workloads failed: {p.stderr.strip()[-2000:]}")
    return json.loads(p.stdout)


def drive(args):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads),
               OMP_NUM_THREADS=str(args.threads))
    env, info = choose_core(env)
    plain = worker(env, args)
    seconds, warm_faster = plain["seconds"], []
    if args.quick or args.device != "cpu":
        malloc = "glibc's defaults"
    else:
        warm = worker(dict(env, GLIBC_TUNABLES=WARM_MALLOC), args)["seconds"]
        for name, t in warm.items():
            if t < seconds.get(name, float("inf")):
                seconds[name] = t
                warm_faster.append(name)
        malloc = (f"each workload's faster run of glibc's defaults and GLIBC_TUNABLES="
                  f"{WARM_MALLOC} (faster with the latter: {', '.join(warm_faster) or 'none'})")
    report = {"engine": "PyTorch", "version": plain["version"], "threads": plain["threads"],
              "device": args.device, **info, "malloc": malloc, "warm_malloc_faster": warm_faster,
              "seconds": seconds}
    print(json.dumps(report, indent=1))


# ---------------------------------------------------------------------------------------------
# The worker: the workloads, timed.

def work(args):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        elif dev.type == "mps":
            torch.mps.synchronize()

    warmup, min_runs, min_time = (1, 3, 0.0) if args.quick else (3, 10, 2.0)

    def median_seconds(step):
        """Silica's timing: warm-up steps, then synchronised steps until both minimums, median."""
        for _ in range(warmup):
            step()
        sync()
        times, total = [], 0.0
        while len(times) < min_runs or total < min_time:
            t = time.perf_counter()
            step()
            sync()
            took = time.perf_counter() - t
            total += took
            times.append(took)
        times.sort()
        return times[len(times) // 2]

    def training_step(model, opt, x, y):
        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
        return step

    def matmul(n):
        def build():
            a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
            return lambda: a @ b
        return build

    def small_add_chain():
        x, y = torch.randn(16, device=dev), torch.randn(16, device=dev)

        def chain():
            z = x
            for _ in range(1000):
                z = z + y
            return z
        return chain

    def mlp():
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                              nn.Linear(512, 10)).to(dev)
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        x, y = torch.randn(128, 784, device=dev), torch.randint(0, 10, (128,), device=dev)
        return training_step(model, opt, x, y)

    def cnn():
        model = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 8 * 8, 10)).to(dev)
        opt = torch.optim.SGD(model.parameters(), 0.1, momentum=0.9)
        x = torch.randn(64, 3, 32, 32, device=dev)
        y = torch.randint(0, 10, (64,), device=dev)
        return training_step(model, opt, x, y)

    class Block(nn.Module):
        def __init__(s, d, h):
            super().__init__()
            s.ln1 = nn.LayerNorm(d)
            s.attn = nn.MultiheadAttention(d, h, batch_first=True)
            s.ln2 = nn.LayerNorm(d)
            s.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(s, x, mask):
            h = s.ln1(x)
            x = x + s.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
            return x + s.mlp(s.ln2(x))

    class GPT(nn.Module):
        def __init__(s, V, d, h, L, T):
            super().__init__()
            s.tok = nn.Embedding(V, d)
            s.pos = nn.Embedding(T, d)
            s.blocks = nn.ModuleList([Block(d, h) for _ in range(L)])
            s.ln = nn.LayerNorm(d)
            s.head = nn.Linear(d, V)

        def forward(s, idx):
            T = idx.shape[1]
            x = s.tok(idx) + s.pos(torch.arange(T, device=idx.device))
            mask = torch.triu(torch.full((T, T), float("-inf"), device=idx.device), 1)
            for b in s.blocks:
                x = b(x, mask)
            return s.head(s.ln(x))

    def gpt():
        model = GPT(V, D, H, L, T).to(dev)
        opt = torch.optim.AdamW(model.parameters(), 3e-4)
        idx = torch.randint(0, V, (B, T), device=dev)
        tgt = torch.randint(0, V, (B, T), device=dev)

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(idx).view(-1, V), tgt.view(-1)).backward()
            opt.step()
        return step

    workloads = {
        "matmul_f32_256": matmul(256),
        "matmul_f32_512": matmul(512),
        "matmul_f32_1024": matmul(1024),
        "small_add_chain_1000": small_add_chain,
        "mlp_b128_adam": mlp,
        "cnn_b64_sgd": cnn,
        f"gpt_L{L}_d{D}_T{T}_B{B}_adamw": gpt,
    }
    torch.manual_seed(0)
    seconds = {}
    for name, build in workloads.items():
        if args.only is None or args.only in name:
            seconds[name] = median_seconds(build())
    print(json.dumps({"version": torch.__version__, "threads": torch.get_num_threads(),
                      "seconds": seconds}))


if __name__ == "__main__":
    a = options()
    work(a) if a.worker else drive(a)
