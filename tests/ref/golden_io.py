"""Writer for genrep golden files (read by tests/golden.h).

Format, all little-endian:
  magic   4 bytes  b"GRGD"
  version u32      1
  count   u32      number of tensors
  then per tensor:
    name_len u32, name bytes (UTF-8, no NUL)
    dtype    u32  0 = float32, 1 = int32
    ndim     u32
    dims     ndim x i64
    data     prod(dims) x 4 bytes
Tensors are written in the order given, so files are byte-for-byte
reproducible from a seed.
"""
import struct

import numpy as np


def write_golden(path, tensors):
    """tensors: list of (name, array-like) pairs; float arrays become float32,
    integer arrays int32."""
    out = [b"GRGD", struct.pack("<II", 1, len(tensors))]
    for name, arr in tensors:
        if hasattr(arr, "detach"):
            arr = arr.detach().cpu().numpy()
        arr = np.asarray(arr)
        if arr.dtype.kind in "iub":
            arr, dtype = arr.astype("<i4"), 1
        else:
            arr, dtype = arr.astype("<f4"), 0
        nb = name.encode("utf-8")
        out.append(struct.pack("<I", len(nb)) + nb)
        out.append(struct.pack("<II", dtype, arr.ndim))
        out.append(struct.pack("<%dq" % arr.ndim, *arr.shape))
        out.append(np.ascontiguousarray(arr).tobytes())
    with open(path, "wb") as f:
        f.write(b"".join(out))
