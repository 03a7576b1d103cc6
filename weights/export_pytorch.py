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
  export_pytorch.py --biggan pytorch_model.bin --out biggan.safetensors
      (a pytorch_pretrained_biggan BigGAN-deep-128/256/512 state_dict; config read off
      the shapes; see BigGAN below and genrep.h's [BIGGAN])
"""
import argparse
import json
import math
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


def _write_safetensors(path, items, meta):
    """items: (name, tensor) pairs, written F32 in this order, contiguous."""
    header = {"__metadata__": meta}
    blobs, off = [], 0
    for k, t in items:
        t = t.detach().to("cpu", torch.float32).contiguous()
        if not torch.isfinite(t).all():
            raise ValueError(f"tensor {k} has NaN or Inf values")
        b = t.numpy().astype("<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    hj += b" " * (-len(hj) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


# --------------------------------------------------------------- BigGAN-deep
# genrep.h's [BIGGAN]: the architecture of the public pytorch_pretrained_biggan
# port (huggingface/pytorch-pretrained-BigGAN), written here from its
# description (module names, registration order and therefore state_dict
# names and order are the port's), so tests can make random weights with the
# port's layout. eps 1e-4 everywhere (the port's config.eps).

BIGGAN_LAYERS = {  # (up-sample, in channels / ch, out channels / ch) per GenBlock
    128: [(0, 16, 16), (1, 16, 16), (0, 16, 16), (1, 16, 8), (0, 8, 8), (1, 8, 4), (0, 4, 4), (1, 4, 2),
          (0, 2, 2), (1, 2, 1)],
    256: [(0, 16, 16), (1, 16, 16), (0, 16, 16), (1, 16, 8), (0, 8, 8), (1, 8, 8), (0, 8, 8), (1, 8, 4),
          (0, 4, 4), (1, 4, 2), (0, 2, 2), (1, 2, 1)],
    512: [(0, 16, 16), (1, 16, 16), (0, 16, 16), (1, 16, 8), (0, 8, 8), (1, 8, 8), (0, 8, 8), (1, 8, 4),
          (0, 4, 4), (1, 4, 2), (0, 2, 2), (1, 2, 1), (0, 1, 1), (1, 1, 1)],
}
BIGGAN_EPS = 1e-4
BIGGAN_ATTENTION = 8


def _sn(m):
    return nn.utils.spectral_norm(m, eps=BIGGAN_EPS)


class BigGANBatchNorm(nn.Module):
    """Batchnorm with statistics stored for n_stats truncation values and, if
    conditional, a per-sample affine 1 + scale(cond), offset(cond)."""

    def __init__(self, c, cond_dim, n_stats, conditional=True):
        super().__init__()
        self.register_buffer("running_means", torch.zeros(n_stats, c))
        self.register_buffer("running_vars", torch.ones(n_stats, c))
        self.n_stats, self.conditional = n_stats, conditional
        self.calibrate = None  # tests: a torch.Generator -> set the statistics from this batch
        if conditional:
            self.scale = _sn(nn.Linear(cond_dim, c, bias=False))
            self.offset = _sn(nn.Linear(cond_dim, c, bias=False))
        else:
            self.weight = nn.Parameter(torch.ones(c))
            self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x, truncation, cond=None):
        if self.calibrate is not None:  # per row: the batch's statistics, perturbed
            g = self.calibrate
            mu, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
            sd = var.sqrt()
            for r in range(self.n_stats):
                self.running_means[r] = mu + 0.2 * sd * torch.randn(mu.shape, generator=g)
                self.running_vars[r] = var * (0.7 + 0.6 * torch.rand(var.shape, generator=g))
        # the port's lookup: c, i = modf(t / step); blend rows i, i+1 as c, 1-c
        coef, idx = math.modf(truncation / (1.0 / (self.n_stats - 1)))
        idx = int(idx)
        if coef != 0.0:
            mean = self.running_means[idx] * coef + self.running_means[idx + 1] * (1 - coef)
            var = self.running_vars[idx] * coef + self.running_vars[idx + 1] * (1 - coef)
        else:
            mean, var = self.running_means[idx], self.running_vars[idx]
        if not self.conditional:
            return F.batch_norm(x, mean, var, self.weight, self.bias, False, 0.0, BIGGAN_EPS)
        w = 1 + self.scale(cond)[:, :, None, None]
        b = self.offset(cond)[:, :, None, None]
        return (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + BIGGAN_EPS) * w + b


class BigGANSelfAttn(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.snconv1x1_theta = _sn(nn.Conv2d(c, c // 8, 1, bias=False))
        self.snconv1x1_phi = _sn(nn.Conv2d(c, c // 8, 1, bias=False))
        self.snconv1x1_g = _sn(nn.Conv2d(c, c // 2, 1, bias=False))
        self.snconv1x1_o_conv = _sn(nn.Conv2d(c // 2, c, 1, bias=False))

    def forward(self, x):
        n, c, h, w = x.shape
        theta = self.snconv1x1_theta(x).reshape(n, c // 8, h * w)
        phi = F.max_pool2d(self.snconv1x1_phi(x), 2).reshape(n, c // 8, h * w // 4)
        g = F.max_pool2d(self.snconv1x1_g(x), 2).reshape(n, c // 2, h * w // 4)
        attn = torch.softmax(torch.bmm(theta.transpose(1, 2), phi), dim=-1)      # (n, hw, hw/4)
        og = torch.bmm(g, attn.transpose(1, 2)).reshape(n, c // 2, h, w)
        return x + self.gamma * self.snconv1x1_o_conv(og)


class BigGANGenBlock(nn.Module):
    def __init__(self, cin, cout, cond_dim, up, n_stats):
        super().__init__()
        mid = cin // 4
        self.up, self.drop = up, cin != cout
        for k, (ci, co, ks) in enumerate(((cin, mid, 1), (mid, mid, 3), (mid, mid, 3), (mid, cout, 1))):
            setattr(self, f"bn_{k}", BigGANBatchNorm(ci, cond_dim, n_stats))
            setattr(self, f"conv_{k}", _sn(nn.Conv2d(ci, co, ks, padding=ks // 2)))

    def forward(self, x, cond, t):
        h = x
        for k in range(4):
            h = torch.relu(getattr(self, f"bn_{k}")(h, t, cond))
            if k == 1 and self.up:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = getattr(self, f"conv_{k}")(h)
        if self.drop:
            x = x[:, :x.shape[1] // 2]
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return h + x


class BigGANGenerator(nn.Module):
    def __init__(self, layers, ch, z_dim, n_stats):
        super().__init__()
        self.ch = ch
        cond = 2 * z_dim
        self.gen_z = _sn(nn.Linear(cond, 4 * 4 * 16 * ch))
        mods = []
        for i, (up, a, b) in enumerate(layers):
            if i == BIGGAN_ATTENTION:
                mods.append(BigGANSelfAttn(ch * a))
            mods.append(BigGANGenBlock(ch * a, ch * b, cond, bool(up), n_stats))
        self.layers = nn.ModuleList(mods)
        self.bn = BigGANBatchNorm(ch, None, n_stats, conditional=False)
        self.conv_to_rgb = _sn(nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, cond, t):
        h = self.gen_z(cond).reshape(-1, 4, 4, 16 * self.ch).permute(0, 3, 1, 2).contiguous()  # TF's (h, w, c)
        for m in self.layers:
            h = m(h, cond, t) if isinstance(m, BigGANGenBlock) else m(h)
        h = self.conv_to_rgb(torch.relu(self.bn(h, t)))
        return torch.tanh(h[:, :3])


class BigGAN(nn.Module):
    """BigGAN-deep as pytorch_pretrained_biggan.BigGAN: forward(z, class_vec, truncation)."""

    def __init__(self, output_dim=128, ch=128, z_dim=128, num_classes=1000, n_stats=51):
        super().__init__()
        self.output_dim, self.ch, self.z_dim, self.num_classes, self.n_stats = output_dim, ch, z_dim, num_classes, n_stats
        self.embeddings = nn.Linear(num_classes, z_dim, bias=False)
        self.generator = BigGANGenerator(BIGGAN_LAYERS[output_dim], ch, z_dim, n_stats)

    def forward(self, z, class_vec, truncation):
        assert 0 < truncation <= 1
        return self.generator(torch.cat((z, self.embeddings(class_vec)), dim=1), truncation)


def biggan_infer_config(sd):
    """(output_dim, ch, z_dim, num_classes, n_stats) read off a port state_dict."""
    for k in ("embeddings.weight", "generator.gen_z.weight_orig", "generator.bn.running_means"):
        if k not in sd:
            raise ValueError(f"state_dict has no {k}: not a pytorch_pretrained_biggan BigGAN-deep")
    z_dim, num_classes = (int(s) for s in sd["embeddings.weight"].shape)
    n_stats, ch = (int(s) for s in sd["generator.bn.running_means"].shape)
    blocks = {int(k.split(".")[2]) for k in sd if k.startswith("generator.layers.") and ".conv_0." in k}
    dims = {len(v): d for d, v in BIGGAN_LAYERS.items()}  # GenBlocks -> output_dim
    if len(blocks) not in dims:
        raise ValueError(f"state_dict has {len(blocks)} GenBlocks; BigGAN-deep 128/256/512 have 10/12/14")
    return dims[len(blocks)], ch, z_dim, num_classes, n_stats


def export_biggan(state_dict, path, extra_meta=None):
    """Write a pytorch_pretrained_biggan state_dict to path in genrep's
    profile: exactly the tensors genrep's [BIGGAN] forward reads (every one
    of the port's, spectral-norm weight_orig/_u/_v included: genrep divides
    by sigma = u.(W v) itself), F32, state_dict names; other entries
    (num_batches_tracked, anything the forward does not read) are dropped
    with a note on stderr. Metadata: genrep.model = biggan-deep,
    genrep.output_dim, genrep.channel_width, genrep.num_classes,
    genrep.z_dim, genrep.n_stats."""
    od, ch, z_dim, nc, n_stats = biggan_infer_config(state_dict)
    want = {k: tuple(v.shape) for k, v in BigGAN(od, ch, z_dim, nc, n_stats).state_dict().items()}
    missing = [k for k in want if k not in state_dict]
    if missing:
        raise ValueError(f"state_dict is not a BigGAN-deep-{od} (ch {ch}, z {z_dim}, {nc} classes): missing {missing[:8]}"
                         f"{' ...' if len(missing) > 8 else ''}")
    dropped = [k for k in state_dict if k not in want]
    if dropped:
        print(f"export_pytorch.py: dropping {len(dropped)} tensors the forward does not read: {dropped[:8]}"
              f"{' ...' if len(dropped) > 8 else ''}", file=sys.stderr)
    for k, shape in want.items():
        if tuple(state_dict[k].shape) != shape:
            raise ValueError(f"tensor {k} has shape {tuple(state_dict[k].shape)}, expected {shape}")
    meta = {"genrep.model": "biggan-deep", "genrep.output_dim": str(od), "genrep.channel_width": str(ch),
            "genrep.num_classes": str(nc), "genrep.z_dim": str(z_dim), "genrep.n_stats": str(n_stats),
            "genrep.exported_by": "weights/export_pytorch.py --biggan"}
    for k, v in (extra_meta or {}).items():
        meta[str(k)] = str(v)
    _write_safetensors(path, [(k, state_dict[k]) for k in want], meta)
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
    src.add_argument("--biggan", metavar="PT",
                     help="a pytorch_pretrained_biggan BigGAN-deep state_dict (its pytorch_model.bin) -> genrep's [BIGGAN]")
    ap.add_argument("--out", required=True, help="output .safetensors")
    ap.add_argument("--kind", choices=("dcgan", "cgan"), default=None)
    ap.add_argument("--zdim", type=int, default=None)
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--n-classes", type=int, default=None)
    ap.add_argument("--embed-dim", type=int, default=None)
    ap.add_argument("--dwidth", type=int, default=64, help="recorded in the metadata (default 64)")
    a = ap.parse_args()
    if a.biggan:
        sd = torch.load(a.biggan, map_location="cpu", weights_only=True)
        try:
            meta = export_biggan(sd, a.out)
        except ValueError as e:
            print(f"export_pytorch.py: {e}", file=sys.stderr)
            return 1
        print(f"wrote {a.out}: biggan-deep {meta['genrep.output_dim']} px, ch {meta['genrep.channel_width']}, "
              f"z {meta['genrep.z_dim']}, {meta['genrep.num_classes']} classes")
        return 0
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
