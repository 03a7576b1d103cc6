#!/usr/bin/env python3
"""Add the encoder metadata genrep_encoder_load needs (genrep.encoder,
genrep.in, genrep.head) to a gan-eval classifier file written before
`genrep gan-eval` saved it with genrep_encoder_save. Only the JSON header
changes: the tensors' bytes and their order stay exactly as they were, so
the numbers gan-eval reports do not move. A file that already has the keys
is left alone. Python 3 standard library only.

    python3 weights/classifier_meta.py weights/fmnist_classifier.safetensors
"""
import json
import os
import struct
import sys

# what `gan-eval --train-classifier` builds: 1x28x28 input in [-1, 1], no projection head
ADD = {"genrep.encoder": "resnet", "genrep.in": "1,28,28", "genrep.head": "0,0"}


def main(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    meta = header.get("__metadata__", {})
    if meta.get("genrep.classifier") != "resnet" or "genrep.widths" not in meta:
        sys.exit("%s: not a gan-eval classifier (metadata genrep.classifier / genrep.widths missing)" % path)
    missing = {k: v for k, v in ADD.items() if k not in meta}
    if not missing:
        print("%s: already has %s; unchanged" % (path, ", ".join(ADD)))
        return
    meta.update(missing)
    header["__metadata__"] = meta  # first key stays first: json keeps insertion order
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # safetensors: header padded with spaces to 8 bytes
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    print("%s: added %s" % (path, ", ".join("%s=%s" % kv for kv in missing.items())))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
