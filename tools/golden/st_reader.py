"""A minimal safetensors reader (the twin of st_writer.py), for machines without the
`safetensors` package. `load(path)` returns a dict of name -> torch.Tensor."""
import json
import struct

import numpy as np
import torch

_DTYPES = {
    "F32": (np.float32, None),
    "F64": (np.float64, None),
    "F16": (np.float16, None),
    "BF16": (np.int16, torch.bfloat16),
    "I32": (np.int32, None),
    "I64": (np.int64, None),
    "U8": (np.uint8, None),
    "BOOL": (np.bool_, None),
}


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        np_dtype, view = _DTYPES[info["dtype"]]
        arr = np.frombuffer(body[start:end], dtype=np_dtype).reshape(info["shape"])
        t = torch.from_numpy(arr.copy())
        out[name] = t.view(view) if view is not None else t
    return out
