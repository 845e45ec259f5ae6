"""The PyTorch side of crates/silica-nn/tests/torch_roundtrip.rs.

    torch_roundtrip.py <silica_state.safetensors> <input.safetensors> <out.safetensors>

Builds the same small CNN as the Rust test, loads the state dict Silica saved (strict), runs
it in eval mode on the input, and writes the output plus a fresh PyTorch state dict (a
different initialisation) and PyTorch's output with it, for Silica to load in turn.
"""
import sys

import torch
import torch.nn as nn

import st_reader
import st_writer

try:
    from safetensors.torch import load_file  # the real package, where installed
except ImportError:
    load_file = st_reader.load


def model():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 5),
    )


def main(state_path, input_path, out_path):
    x = st_reader.load(input_path)["x"]
    m = model()
    m.load_state_dict(load_file(state_path), strict=True)
    m.eval()
    with torch.no_grad():
        y_silica_weights = m(x)
    torch.manual_seed(123)
    fresh = model()
    # Non-trivial running statistics, so the reverse direction checks them too.
    fresh.train()
    with torch.no_grad():
        fresh(torch.randn(8, 1, 8, 8))
    fresh.eval()
    with torch.no_grad():
        y_torch_weights = fresh(x)
    out = {"y_silica_weights": y_silica_weights, "y_torch_weights": y_torch_weights}
    out.update({f"torch.{k}": v for k, v in fresh.state_dict().items()})
    st_writer.save(out, out_path)


if __name__ == "__main__":
    main(*sys.argv[1:])
