#!/usr/bin/env python3
"""Make a shippable encoder file from a `genrep train` checkpoint: the same
safetensors file without the optimiser state (tensors named optim.*), so it
is half the size. The encoder's tensors keep their bytes, names and order,
and the metadata (architecture genrep.*, the run's flags train.*, its step)
is kept, so `genrep embed` and `genrep probe` give the same numbers from
either file. Python 3 standard library only.

    python3 weights/ship_encoder.py RUN_DIR/ckpt.safetensors weights/fmnist_encoder.safetensors
"""
import json
import os
import struct
import sys


def main(src, dst):
    with open(src, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    meta = header.get("__metadata__", {})
    if "genrep.encoder" not in meta or "genrep.step" not in meta:
        sys.exit("%s: not a `genrep train` checkpoint (metadata genrep.encoder / genrep.step missing)" % src)
    out, parts, off = {"__metadata__": meta}, [], 0
    dropped = []
    # keep the file's tensor order (by offset), drop the optimiser's
    for name, t in sorted(((k, v) for k, v in header.items() if k != "__metadata__"),
                          key=lambda kv: kv[1]["data_offsets"][0]):
        if name.startswith("optim."):
            dropped.append(name)
            continue
        a, b = t["data_offsets"]
        parts.append(data[a:b])
        out[name] = {"dtype": t["dtype"], "shape": t["shape"], "data_offsets": [off, off + (b - a)]}
        off += b - a
    text = json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # safetensors: header padded with spaces to 8 bytes
    tmp = "%s.tmp.%d" % (dst, os.getpid())
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(parts))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dst)
    print("%s: %d tensors from %s (step %s), dropped %s" % (dst, len(out) - 1, src, meta["genrep.step"],
                                                          ", ".join(dropped) or "nothing"))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
