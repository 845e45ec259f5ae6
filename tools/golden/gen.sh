#!/usr/bin/env bash
# Regenerates testdata/golden/*.safetensors with PyTorch. Needs Debian's python3-torch:
#   apt-get install python3-torch python3-numpy
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p ../../testdata/golden
for script in gen_*.py; do
  echo "== $script"
  /usr/bin/python3 "$script" ../../testdata/golden
done
echo "== fuzz.py (the differential fuzzer's fixed seed)"
/usr/bin/python3 fuzz.py --seed 0 --cases 400 ../../testdata/golden/fuzz_seed0.safetensors
