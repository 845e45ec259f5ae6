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
