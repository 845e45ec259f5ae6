#!/usr/bin/env bash
# The differential fuzzer's long sweep: PyTorch answers CASES fresh cases per seed
# (tools/golden/fuzz.py), then Silica replays them all (crates/silica-nn/tests/differential).
#
# usage: tools/golden/fuzz_sweep.sh [SEED...]      (default seeds 1 2 3 4 5)
#        FUZZ_CASES=N sets the cases per seed (default 2000); FUZZ_KEEP=DIR keeps the files.
# Needs Debian's python3-torch: apt-get install python3-torch python3-numpy
set -euo pipefail
cd "$(dirname "$0")/../.."
cases=${FUZZ_CASES:-2000}
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(1 2 3 4 5)
dir=${FUZZ_KEEP:-$(mktemp -d)}
mkdir -p "$dir"
files=()
for seed in "${seeds[@]}"; do
  /usr/bin/python3 tools/golden/fuzz.py --seed "$seed" --cases "$cases" "$dir/fuzz_$seed.safetensors"
  files+=("$dir/fuzz_$seed.safetensors")
done
SILICA_FUZZ_FILES=$(IFS=:; echo "${files[*]}") \
  cargo test --workspace --test differential -- --ignored sweep --nocapture
[ -n "${FUZZ_KEEP:-}" ] || rm -rf "$dir"
