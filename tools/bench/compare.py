"""A thin wrapper kept for old instructions: runs `silica bench --vs-torch` (plus any flags
given here, such as --vs-candle or --threads 4) from the repository root.

    python3 tools/bench/compare.py [FLAGS...]

`silica bench` times the workloads of shared/reference/torch_bench.py in Silica, then runs the
PyTorch twin (tools/bench/torch_twin.py) on the same machine and prints the table with the
ratios; see docs/BENCHMARKS.md.
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

if __name__ == "__main__":
    cmd = ["cargo", "run", "--release", "-q", "-p", "silica-cli", "--", "bench", "--vs-torch"]
    sys.exit(subprocess.run(cmd + sys.argv[1:], cwd=ROOT).returncode)
