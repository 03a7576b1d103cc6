#!/usr/bin/python3
"""Export a PyTorch generator to genrep's safetensors profile.

The modules below are genrep.h's generators ([GAN] in genrep.h) written in
torch.nn with the same state_dict names, so a state_dict trained in PyTorch
loads into genrep (trainer `gen_load`, tests/test_export.c) unchanged:

  DCGAN  z (B,Z) -> fc (Linear, no bias) -> view (4ch,7,7) -> bn0 -> relu
         -> up1 ConvTranspose2d(4ch,2ch,4,2,1, no bias) -> bn1 -> relu
         -> up2 ConvTranspose2d(2ch,ch,4,2,1, no bias) -> bn2 -> relu
         -> out Conv2d(ch,1,3,1,1) -> tanh                   images (B,1,28,28)
  CGAN   the same trunk; embed = Embedding(n_classes, E) and every bnI is a
         class-conditional batchnorm xhat * (1 + gain(e)) + bias(e) with
         gain, bias = Linear(E, C) and its own running statistics.

File profile (what genrep's strict loader accepts): 8-byte little-endian
header length, a JSON header padded with spaces to a multiple of 8, then
the tensors contiguously with no holes; every tensor F32 little-endian
under its state_dict name, layouts as PyTorch keeps them (ConvTranspose2d
weights stay (C_in, C_out, kH, kW)); BatchNorm running_mean/var kept,
num_batches_tracked dropped; __metadata__ holds genrep.model ("dcgan" or
"cgan"), genrep.zdim, genrep.width, genrep.dwidth, genrep.n_classes,
genrep.embed_dim as strings. Only the standard library writes the file.

CLI (python3 with torch, e.g. Debian's /usr/bin/python3):
  export_pytorch.py --state-dict G.pt --out G.safetensors    (config read off the shapes)
  export_pytorch.py --random SEED [--kind dcgan|cgan] [--zdim 128] [--width 32] --out G.safetensors
"""
import argparse
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class CondBN(nn.Module):
    """BigGAN class-conditional batchnorm: xhat * (1 + gain(e)) + bias(e)."""

    def __init__(self, c, embed_dim):
        super().__init__()
        self.gain = nn.Linear(embed_dim, c)
        self.bias = nn.Linear(embed_dim, c)
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_var", torch.ones(c))

    def forward(self, x, e):
        xh = F.batch_norm(x, self.running_mean, self.running_var, None, None, self.training, 0.1, 1e-5)
        return xh * (1 + self.gain(e))[:, :, None, None] + self.bias(e)[:, :, None, None]


class Generator(nn.Module):
    """genrep's DCGAN generator (cond=False) or its class-conditional one."""

    def __init__(self, zdim=128, width=32, cond=False, n_classes=10, embed_dim=32):
        super().__init__()
        self.zdim, self.width, self.cond = zdim, width, cond
        self.n_classes, self.embed_dim = n_classes, embed_dim
        ch = width
        if cond:
            self.embed = nn.Embedding(n_classes, embed_dim)
        self.fc = nn.Linear(zdim, 4 * ch * 49, bias=False)
        bn = (lambda c: CondBN(c, embed_dim)) if cond else (lambda c: nn.BatchNorm2d(c))
        self.bn0 = bn(4 * ch)
        self.up1 = nn.ConvTranspose2d(4 * ch, 2 * ch, 4, 2, 1, bias=False)
        self.bn1 = bn(2 * ch)
        self.up2 = nn.ConvTranspose2d(2 * ch, ch, 4, 2, 1, bias=False)
        self.bn2 = bn(ch)
        self.out = nn.Conv2d(ch, 1, 3, 1, 1)

    def forward(self, z, y=None):
        e = self.embed(y) if self.cond else None
        norm = (lambda m, x: m(x, e)) if self.cond else (lambda m, x: m(x))
        x = self.fc(z).view(-1, 4 * self.width, 7, 7)
        x = torch.relu(norm(self.bn0, x))
        x = torch.relu(norm(self.bn1, self.up1(x)))
        x = torch.relu(norm(self.bn2, self.up2(x)))
        return torch.tanh(self.out(x))

    def dcgan_init_(self, seed):
        """genrep's init law (not its bits): weights N(0, 0.02), BN gamma
        N(1, 0.02), embedding N(0, 1), biases 0, running stats 0 / 1."""
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for n, p in self.named_parameters():
                if n == "embed.weight":
                    p.copy_(torch.randn(p.shape, generator=g))
                elif n.startswith("bn") and n.endswith(".weight") and p.dim() == 1:
                    p.copy_(1 + 0.02 * torch.randn(p.shape, generator=g))
                elif n.endswith(".weight"):
                    p.copy_(0.02 * torch.randn(p.shape, generator=g))
                else:
                    p.zero_()
        return self


def expected_shapes(kind, zdim, width, n_classes, embed_dim):
    """name -> shape, in genrep's table order (the order tensors are written)."""
    c0, c1, c2 = 4 * width, 2 * width, width
    out = {}
    if kind == "cgan":
        out["embed.weight"] = (n_classes, embed_dim)
    out["fc.weight"] = (c0 * 49, zdim)
    for i, c in enumerate((c0, c1, c2)):
        if kind == "cgan":
            out[f"bn{i}.gain.weight"] = (c, embed_dim)
            out[f"bn{i}.gain.bias"] = (c,)
            out[f"bn{i}.bias.weight"] = (c, embed_dim)
            out[f"bn{i}.bias.bias"] = (c,)
        else:
            out[f"bn{i}.weight"] = (c,)
            out[f"bn{i}.bias"] = (c,)
        out[f"bn{i}.running_mean"] = (c,)
        out[f"bn{i}.running_var"] = (c,)
        if i == 0:
            out["up1.weight"] = (c0, c1, 4, 4)
        if i == 1:
            out["up2.weight"] = (c1, c2, 4, 4)
    out["out.weight"] = (1, c2, 3, 3)
    out["out.bias"] = (1,)
    return out


def infer_config(sd):
    """(kind, zdim, width, n_classes, embed_dim) read off a state_dict's shapes."""
    for k in ("fc.weight", "out.weight"):
        if k not in sd:
            raise ValueError(f"state_dict has no {k}: not a genrep generator")
    kind = "cgan" if "embed.weight" in sd else "dcgan"
    zdim = int(sd["fc.weight"].shape[1])
    width = int(sd["out.weight"].shape[1])
    n_classes, embed_dim = (tuple(int(s) for s in sd["embed.weight"].shape) if kind == "cgan" else (10, 32))
    return kind, zdim, width, n_classes, embed_dim


def export(state_dict, path, zdim=None, width=None, kind=None, n_classes=None, embed_dim=None, dwidth=64,
           extra_meta=None):
    """Write state_dict (a genrep generator's, from Generator or anything with
    the same names) to path in genrep's safetensors profile. Unspecified
    config values are read off the shapes; every tensor's name and shape is
    checked against the config. Returns the metadata written."""
    sd = {k: v for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
    ik, iz, iw, inc, ie = infer_config(sd)
    kind = kind or ik
    zdim = zdim or iz
    width = width or iw
    n_classes = n_classes or inc
    embed_dim = embed_dim or ie
    want = expected_shapes(kind, zdim, width, n_classes, embed_dim)
    missing = [k for k in want if k not in sd]
    extra = [k for k in sd if k not in want]
    if missing or extra:
        raise ValueError(f"state_dict does not match a {kind} generator (zdim {zdim}, width {width}): "
                         f"missing {missing}, unexpected {extra}")
    for k, shape in want.items():
        if tuple(sd[k].shape) != shape:
            raise ValueError(f"tensor {k} has shape {tuple(sd[k].shape)}, expected {shape}")
    meta = {"genrep.model": kind, "genrep.zdim": str(zdim), "genrep.width": str(width),
            "genrep.dwidth": str(dwidth), "genrep.n_classes": str(n_classes),
            "genrep.embed_dim": str(embed_dim), "genrep.exported_by": "weights/export_pytorch.py"}
    for k, v in (extra_meta or {}).items():
        meta[str(k)] = str(v)
    header = {"__metadata__": meta}
    blobs, off = [], 0
    for k in want:  # genrep's table order; offsets contiguous from 0
        t = sd[k].detach().to("cpu", torch.float32).contiguous()
        if not torch.isfinite(t).all():
            raise ValueError(f"tensor {k} has NaN or Inf values")
        b = struct.pack(f"<{t.numel()}f", *t.flatten().tolist())
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    hj += b" " * (-len(hj) % 8)
    data = struct.pack("<Q", len(hj)) + hj + b"".join(blobs)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return meta


def read_safetensors(path):
    """(metadata, {name: float32 tensor}) of an F32 safetensors file (for checks)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for k, v in header.items():
        b, e = v["data_offsets"]
        vals = struct.unpack(f"<{(e - b) // 4}f", raw[8 + n + b:8 + n + e])
        out[k] = torch.tensor(vals, dtype=torch.float32).reshape(v["shape"])
    return meta, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--state-dict", help="torch.save'd state_dict (or {'state_dict': ...}) of a generator")
    src.add_argument("--random", type=int, metavar="SEED", help="export a freshly initialised generator")
    ap.add_argument("--out", required=True, help="output .safetensors")
    ap.add_argument("--kind", choices=("dcgan", "cgan"), default=None)
    ap.add_argument("--zdim", type=int, default=None)
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--n-classes", type=int, default=None)
    ap.add_argument("--embed-dim", type=int, default=None)
    ap.add_argument("--dwidth", type=int, default=64, help="recorded in the metadata (default 64)")
    a = ap.parse_args()
    if a.random is not None:
        kind = a.kind or "dcgan"
        g = Generator(a.zdim or 128, a.width or 32, kind == "cgan", a.n_classes or 10, a.embed_dim or 32)
        sd = g.dcgan_init_(a.random).state_dict()
    else:
        sd = torch.load(a.state_dict, map_location="cpu", weights_only=True)
        if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
            sd = sd["state_dict"]
    try:
        meta = export(sd, a.out, a.zdim, a.width, a.kind, a.n_classes, a.embed_dim, a.dwidth)
    except ValueError as e:
        print(f"export_pytorch.py: {e}", file=sys.stderr)
        return 1
    print(f"wrote {a.out}: {meta['genrep.model']} zdim {meta['genrep.zdim']} width {meta['genrep.width']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
