#!/usr/bin/env python3
"""Writes the small seed corpora of fuzz_idx, fuzz_ckpt, fuzz_pool and
fuzz_flags into corpus/<target>/. Usage: make_seeds.py [ENCODER_CKPT]
(an encoder checkpoint of `genrep train`, whose header gives the tensor
names; without it the ckpt seeds are skipped) [SMALL_CKPT] (a whole
checkpoint small enough to be a seed, e.g. `genrep train --width 1`: loads
fully, so the fuzzer starts on the copy path)."""
import gzip, json, os, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
def put(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), "wb").write(data)

# IDX: first byte 0 = as is, 1 = the harness gzips the rest
def idx(tcode, dims, payload):
    return bytes([0, 0, tcode, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload
labels = idx(0x08, [10], bytes(range(10)))
images = idx(0x08, [2, 4, 4], bytes(range(32)))
floats = idx(0x0D, [3], struct.pack(">3f", 1.0, -2.5, 0.0))
i16 = idx(0x0B, [2, 2], struct.pack(">4h", 1, -1, 300, -300))
f64 = idx(0x0E, [1, 1, 1, 2], struct.pack(">2d", 3.0, -1e300))
for n, b in [("labels", labels), ("images", images), ("f32", floats), ("i16", i16), ("f64", f64)]:
    put("idx", n + ".plain", b"\0" + b)
    put("idx", n + ".zip", b"\1" + b)
put("idx", "labels.gz", b"\0" + gzip.compress(labels, mtime=0))
put("idx", "trailing", b"\0" + labels + b"x")
put("idx", "truncated", b"\0" + images[:-3])

# safetensors writer in the layout of genrep_st_write (header padded to 8)
def st(tensors, meta):
    h, off, blob = {"__metadata__": meta} if meta else {}, 0, b""
    for name, shape, vals in tensors:
        data = struct.pack("<%df" % len(vals), *vals)
        h[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data); blob += data
    j = json.dumps(h, separators=(",", ":")).encode()
    j += b" " * (-len(j) % 8)
    return struct.pack("<Q", len(j)) + j + blob

if len(sys.argv) > 1:
    raw = open(sys.argv[1], "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    meta = hdr.pop("__metadata__")
    names = [k for k in hdr]
    one = [(k, [1], [0.5]) for k in names]
    put("ckpt", "shapes1", st(one, meta))
    put("ckpt", "nometa", st(one, {}))
    put("ckpt", "noextra", st([t for t in one if not t[0].startswith("optim")], meta))
    put("ckpt", "resnet18", st(one[:4], dict(meta, **{"genrep.encoder": "resnet18"})))
    put("ckpt", "badin", st(one[:4], dict(meta, **{"genrep.in": "0,28,28"})))
    put("ckpt", "nohead", st(one[:4], dict(meta, **{"genrep.head_out": "0"})))
    put("ckpt", "width8", st(one[:4], dict(meta, **{"genrep.widths": "8,16,32"})))
    put("ckpt", "blocks1", st(one[:4], dict(meta, **{"genrep.blocks": "1,1,1"})))
    legacy = {k: v for k, v in meta.items() if k not in ("genrep.widths", "genrep.stem", "genrep.strides", "genrep.head")}
    put("ckpt", "legacy", st(one, dict(legacy, **{"genrep.width": "4", "genrep.blocks": "1", "genrep.head_out": "128"})))
    # the right shape for the first tensor, so the copy path is reached
    first = hdr[names[0]]
    k = 1
    for d in first["shape"]: k *= d
    put("ckpt", "first_ok", st([(names[0], first["shape"], [0.1] * k)] + one[1:], meta))
if len(sys.argv) > 2:
    put("ckpt", "full_w1", open(sys.argv[2], "rb").read())

# pool: 4-byte run expectation (A-1, N-1, Z-1, ncls pick), then the file
def pool(A, N, Z, labels):
    b = b"GRPL" + struct.pack("<5I", 2, A, N, Z, 1 if labels else 0) + bytes(256)  # version 2: settings key
    b += struct.pack("<%df" % (A * (N + 1) * Z), *[0.25 * (i % 7) for i in range(A * (N + 1) * Z)])
    if labels: b += struct.pack("<%di" % A, *[i % 3 for i in range(A)])
    return b
put("pool", "labels", bytes([3, 1, 7, 5]) + pool(4, 2, 8, True))
put("pool", "nolabels", bytes([3, 1, 7, 3]) + pool(4, 2, 8, False))
put("pool", "other", bytes([0, 0, 0, 1]) + pool(1, 1, 1, True))

# flags: argv of train, one argument a line
for i, a in enumerate([
    "--data\nfmnist\n--out\nr\n--batch\n8\n--steps\n3",
    "--gen\ng.safetensors\n--out\nr\n--views\nsteer\n--walks\nw.safetensors\n--alpha\n0.5",
    "--gen\ng\n--out\nr\n--pool\n4\n--anchors\n100\n--sigma\n0.3\n--loss\nsupcon\n--tau\n0.2",
    "--data\nfmnist\n--out\nr\n--epochs\n2\n--lr\n1e-3\n--wd\n0\n--momentum\n0.5\n--warmup\n10",
    "--data\nfmnist\n--out\nr\n--seed\n18446744073709551615\n--threads\n2\n--ckpt-every\n1\n--resume\nno",
    "--gen\ng\n--out\nr\n--encoder\nresnet18\n--aug\nnone\n--loss\ninverter\n--scale-base-tau\n--quiet",
    "--data\nfmnist\n--out\nr\n--views\nangular\n--online\n--debug-nan-at\n2\n--data-dir\n/x",
    "--data\nfmnist\n--out\nr\n--encoder\nsmall\n--width\n16\n--blocks\n3",
    "--data=fmnist\n--out=r\n--steps=20\n--eval-every=5\n--eval-n\n200",
    "--help",
]):
    put("flags", "argv%d" % i, a.encode())
