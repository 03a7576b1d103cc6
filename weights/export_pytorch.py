#!/usr/bin/python3
"""Export a PyTorch generator to genrep's safetensors profile.

genrep.h's generators ([GAN] in genrep.h) are a DCGAN family described by
metadata. With C_i = width * 2^(n_up - i) channels and side s0 * 2^i at
stage i:

  z (B,Z) -> first -> (C_0,s0,s0) -> bn0 -> relu
     first = fc: Linear(Z, C_0*s0*s0, no bias) viewed (C_0,s0,s0)
           | fc: ConvTranspose2d(Z, C_0, s0, 1, 0, no bias) on z as (Z,1,1)
  -> upI: ConvTranspose2d(C_{I-1}, C_I, 4, 2, 1, no bias) -> bnI -> relu, I = 1..n_up
  -> out: Conv2d(width, out_channels, 3, 1, 1) | ConvTranspose2d(width, out_channels, 4, 2, 1),
          with or without bias -> tanh | sigmoid | none
  cgan: embed = Embedding(n_classes, E) and every bnI is a class-conditional
  batchnorm xhat * (1 + gain(e)) + bias(e) with gain, bias = Linear(E, C).

The project's own generator is the default member (linear first, n_up 2,
28x28x1, conv out with bias, tanh). Generator below is the family in
torch.nn with genrep's state_dict names. Other PyTorch generators of the
family are renamed on export: an nn.Sequential such as the PyTorch DCGAN
tutorial's (main.0 = ConvTranspose2d(nz, ngf*8, 4, 1, 0), main.1 =
BatchNorm2d, main.2 = ReLU, ..., main.12 = ConvTranspose2d(ngf, nc, 4, 2, 1),
main.13 = Tanh) is read layer by layer: from the module itself when given
one (strides, paddings and the output activation are checked), or from a
plain state_dict by shapes (then the strides are assumed to be the
family's and the activation is --out-act).

File profile (what genrep's strict loader accepts): 8-byte little-endian
header length, a JSON header padded with spaces to a multiple of 8, then
the tensors contiguously with no holes; every tensor F32 little-endian
under its genrep name, layouts as PyTorch keeps them (ConvTranspose2d
weights stay (C_in, C_out, kH, kW)); BatchNorm running_mean/var kept; int64
buffers (num_batches_tracked) dropped with a note on stderr; __metadata__
holds genrep.model ("dcgan" or "cgan"), genrep.zdim, genrep.width,
genrep.dwidth, genrep.n_classes, genrep.embed_dim as strings, and for any
member other than the default also genrep.first (linear|convt),
genrep.n_up, genrep.out_size, genrep.out_channels, genrep.out_layer
(conv|convt), genrep.out_bias (0|1), genrep.out_act (tanh|sigmoid|none).
Only the standard library writes the file.

CLI (python3 with torch, e.g. Debian's /usr/bin/python3):
  export_pytorch.py --state-dict G.pt --out G.safetensors [--out-act tanh]
      (genrep names or an nn.Sequential's; config read off the shapes)
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
    """genrep's generator family (defaults: its own 28x28x1 DCGAN); cond=True
    is the class-conditional one."""

    def __init__(self, zdim=128, width=32, cond=False, n_classes=10, embed_dim=32, first="linear", n_up=2,
                 out_size=28, out_channels=1, out_layer="conv", out_bias=True, out_act="tanh"):
        super().__init__()
        self.zdim, self.width, self.cond = zdim, width, cond
        self.n_classes, self.embed_dim = n_classes, embed_dim
        self.first, self.n_up, self.out_size, self.out_channels = first, n_up, out_size, out_channels
        self.out_layer, self.out_act = out_layer, out_act
        sh = n_up + (out_layer == "convt")
        if out_size % (1 << sh):
            raise ValueError(f"out_size {out_size} is not a multiple of 2^{sh}")
        self.s0 = s0 = out_size >> sh
        chans = [width << (n_up - i) for i in range(n_up + 1)]
        if cond:
            self.embed = nn.Embedding(n_classes, embed_dim)
        if first == "linear":
            self.fc = nn.Linear(zdim, chans[0] * s0 * s0, bias=False)
        else:
            self.fc = nn.ConvTranspose2d(zdim, chans[0], s0, 1, 0, bias=False)
        bn = (lambda c: CondBN(c, embed_dim)) if cond else (lambda c: nn.BatchNorm2d(c))
        # registered in genrep's table order: bn0, up1, bn1, up2, ...
        for i, c in enumerate(chans):
            setattr(self, f"bn{i}", bn(c))
            if i < n_up:
                setattr(self, f"up{i + 1}", nn.ConvTranspose2d(c, chans[i + 1], 4, 2, 1, bias=False))
        if out_layer == "conv":
            self.out = nn.Conv2d(width, out_channels, 3, 1, 1, bias=out_bias)
        else:
            self.out = nn.ConvTranspose2d(width, out_channels, 4, 2, 1, bias=out_bias)

    def forward(self, z, y=None):
        e = self.embed(y) if self.cond else None
        norm = (lambda m, x: m(x, e)) if self.cond else (lambda m, x: m(x))
        c0 = self.width << self.n_up
        if self.first == "linear":
            x = self.fc(z).view(-1, c0, self.s0, self.s0)
        else:
            x = self.fc(z.view(-1, self.zdim, 1, 1))
        x = torch.relu(norm(self.bn0, x))
        for i in range(1, self.n_up + 1):
            x = torch.relu(norm(getattr(self, f"bn{i}"), getattr(self, f"up{i}")(x)))
        x = self.out(x)
        return {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "none": lambda v: v}[self.out_act](x)

    def config(self):
        return dict(kind="cgan" if self.cond else "dcgan", zdim=self.zdim, width=self.width,
                    n_classes=self.n_classes, embed_dim=self.embed_dim, first=self.first, n_up=self.n_up,
                    out_size=self.out_size, out_channels=self.out_channels, out_layer=self.out_layer,
                    out_bias=self.out.bias is not None, out_act=self.out_act)

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


DEFAULT_ARCH = dict(first="linear", n_up=2, out_size=28, out_channels=1, out_layer="conv", out_bias=True,
                    out_act="tanh")


def expected_shapes(cfg):
    """name -> shape, in genrep's table order (the order tensors are written)."""
    kind, zdim, width, n_up, E = cfg["kind"], cfg["zdim"], cfg["width"], cfg["n_up"], cfg["embed_dim"]
    s0 = cfg["out_size"] >> (n_up + (cfg["out_layer"] == "convt"))
    chans = [width << (n_up - i) for i in range(n_up + 1)]
    out = {}
    if kind == "cgan":
        out["embed.weight"] = (cfg["n_classes"], E)
    out["fc.weight"] = (chans[0] * s0 * s0, zdim) if cfg["first"] == "linear" else (zdim, chans[0], s0, s0)
    for i, c in enumerate(chans):
        if kind == "cgan":
            out[f"bn{i}.gain.weight"] = (c, E)
            out[f"bn{i}.gain.bias"] = (c,)
            out[f"bn{i}.bias.weight"] = (c, E)
            out[f"bn{i}.bias.bias"] = (c,)
        else:
            out[f"bn{i}.weight"] = (c,)
            out[f"bn{i}.bias"] = (c,)
        out[f"bn{i}.running_mean"] = (c,)
        out[f"bn{i}.running_var"] = (c,)
        if i < n_up:
            out[f"up{i + 1}.weight"] = (c, chans[i + 1], 4, 4)
    oc = cfg["out_channels"]
    out["out.weight"] = (oc, width, 3, 3) if cfg["out_layer"] == "conv" else (width, oc, 4, 4)
    if cfg["out_bias"]:
        out["out.bias"] = (oc,)
    return out


def infer_config(sd, out_act="tanh"):
    """The config read off a genrep-named state_dict's shapes (the output
    activation is not in a state_dict: out_act)."""
    for k in ("fc.weight", "out.weight"):
        if k not in sd:
            raise ValueError(f"state_dict has no {k}: not a genrep generator (nor an nn.Sequential of the family)")
    cfg = {"kind": "cgan" if "embed.weight" in sd else "dcgan", "out_act": out_act}
    cfg["n_classes"], cfg["embed_dim"] = (tuple(int(s) for s in sd["embed.weight"].shape)
                                          if cfg["kind"] == "cgan" else (10, 32))
    n_up = 0
    while f"up{n_up + 1}.weight" in sd:
        n_up += 1
    cfg["n_up"] = n_up
    fc, ow = sd["fc.weight"], sd["out.weight"]
    cfg["out_layer"] = "conv" if ow.shape[-1] == 3 else "convt"
    cfg["width"] = int(ow.shape[1] if cfg["out_layer"] == "conv" else ow.shape[0])
    cfg["out_channels"] = int(ow.shape[0] if cfg["out_layer"] == "conv" else ow.shape[1])
    cfg["out_bias"] = "out.bias" in sd
    c0 = cfg["width"] << n_up
    if fc.dim() == 2:
        cfg["first"], cfg["zdim"] = "linear", int(fc.shape[1])
        s0 = int(round((fc.shape[0] / c0) ** 0.5))
    else:
        cfg["first"], cfg["zdim"], s0 = "convt", int(fc.shape[0]), int(fc.shape[2])
    cfg["out_size"] = s0 << (n_up + (cfg["out_layer"] == "convt"))
    return cfg


def sequential_to_genrep(sd, module=None, out_act="tanh"):
    """Rename an nn.Sequential generator of the family (PyTorch DCGAN
    tutorial style: <prefix>.<index>.<param>) to genrep's names. With the
    module, every layer's type, stride, padding and the output activation
    are checked; from a state_dict alone the layers are told apart by
    shape. Returns (renamed state_dict, out_act)."""
    layers = {}
    for k, v in sd.items():
        parts = k.split(".")
        if len(parts) < 3 or not parts[-2].isdigit():
            raise ValueError(f"tensor {k} is not <prefix>.<index>.<name> of an nn.Sequential")
        layers.setdefault(int(parts[-2]), {})[parts[-1]] = v
    idx = sorted(layers)
    if module is not None:
        seq = [m for m in module.modules() if isinstance(m, nn.Sequential)]
        if len(seq) != 1:
            raise ValueError("the module must hold exactly one nn.Sequential")
        mods = list(seq[0])
        last = mods[-1]
        acts = {nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}
        out_act = acts.get(type(last), "none" if isinstance(last, (nn.Conv2d, nn.ConvTranspose2d)) else None)
        if out_act is None:
            raise ValueError(f"the output activation {type(last).__name__} is not tanh, sigmoid or none")
        convs = [m for m in mods if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        for j, m in enumerate(convs):
            first, lastc = j == 0, j == len(convs) - 1
            want = ((1, 0) if first else (1, 1) if isinstance(m, nn.Conv2d) else (2, 1))
            if first and not isinstance(m, nn.ConvTranspose2d):
                raise ValueError("the first layer must be ConvTranspose2d(nz, C, k, 1, 0)")
            if not first and not lastc and (not isinstance(m, nn.ConvTranspose2d) or m.kernel_size != (4, 4)):
                raise ValueError(f"layer {m} is not ConvTranspose2d(C, C/2, 4, 2, 1)")
            if (m.stride[0], m.padding[0]) != want or m.stride[0] != m.stride[1] or m.padding[0] != m.padding[1]:
                raise ValueError(f"layer {m} has stride {m.stride} padding {m.padding}, expected {want}")
            if lastc and m.kernel_size != ((3, 3) if isinstance(m, nn.Conv2d) else (4, 4)):
                raise ValueError(f"output layer {m}: expected Conv2d 3x3 or ConvTranspose2d 4x4")
            if first and m.kernel_size[0] != m.kernel_size[1]:
                raise ValueError(f"first layer {m}: the kernel must be square")
            if not lastc and m.bias is not None:
                raise ValueError(f"layer {m} has a bias: genrep's hidden layers have none (batchnorm follows)")
        for m in mods:
            if not isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.ReLU, nn.Tanh, nn.Sigmoid)):
                raise ValueError(f"module {type(m).__name__} is not part of the DCGAN family")
    out, stage, conv_seen = {}, 0, 0
    for j, i in enumerate(idx):
        L = layers[i]
        if "running_mean" in L:  # BatchNorm2d
            for n in ("weight", "bias", "running_mean", "running_var"):
                if n not in L:
                    raise ValueError(f"batchnorm at index {i} has no {n}")
                out[f"bn{stage}.{n}"] = L[n]
            stage += 1
        elif "weight" in L and L["weight"].dim() == 4:
            w = L["weight"]
            is_last = j == len(idx) - 1
            if conv_seen == 0:
                name = "fc"
            elif is_last:
                name = "out"
            else:
                name = f"up{stage}"
                if stage == 0:
                    raise ValueError(f"layer at index {i}: two convolutions without a batchnorm between them")
            conv_seen += 1
            out[f"{name}.weight"] = w
            if "bias" in L:
                if name != "out":
                    raise ValueError(f"layer at index {i} has a bias: genrep's hidden layers have none")
                out["out.bias"] = L["bias"]
        else:
            raise ValueError(f"index {i} holds {sorted(L)}: not a convolution or batchnorm of the family")
    return out, out_act


def drop_int_buffers(sd, note=True):
    """state_dict without integer tensors (BatchNorm's num_batches_tracked):
    they are counters, not weights; a note says what went."""
    keep = {k: v for k, v in sd.items() if v.is_floating_point()}
    gone = [k for k in sd if k not in keep]
    if gone and note:
        print(f"export_pytorch.py: note: dropped {len(gone)} integer buffer(s) ({', '.join(gone[:3])}"
              f"{', ...' if len(gone) > 3 else ''}): batchnorm counters, not weights", file=sys.stderr)
    return keep


def export(state_dict, path, zdim=None, width=None, kind=None, n_classes=None, embed_dim=None, dwidth=64,
           extra_meta=None, out_act=None, module=None):
    """Write state_dict (genrep-named, as Generator's, or an nn.Sequential
    generator of the family, e.g. the PyTorch DCGAN tutorial's; pass the
    module too to have its strides and activation checked) to path in
    genrep's safetensors profile. Unspecified config values are read off
    the shapes; every tensor's name and shape is checked against the config.
    Returns the metadata written."""
    sd = drop_int_buffers(state_dict)
    if module is not None and out_act is None and hasattr(module, "out_act"):
        out_act = module.out_act
    if "fc.weight" not in sd and any(k.split(".")[-2].isdigit() for k in sd if k.count(".") >= 2):
        sd, out_act = sequential_to_genrep(sd, module, out_act or "tanh")
    cfg = infer_config(sd, out_act or "tanh")
    for k, v in (("kind", kind), ("zdim", zdim), ("width", width), ("n_classes", n_classes),
                 ("embed_dim", embed_dim)):
        if v:
            cfg[k] = v
    want = expected_shapes(cfg)
    missing = [k for k in want if k not in sd]
    extra = [k for k in sd if k not in want]
    if missing or extra:
        raise ValueError(f"state_dict does not match a {cfg['kind']} generator (zdim {cfg['zdim']}, width "
                         f"{cfg['width']}, n_up {cfg['n_up']}): missing {missing}, unexpected {extra}")
    for k, shape in want.items():
        if tuple(sd[k].shape) != shape:
            raise ValueError(f"tensor {k} has shape {tuple(sd[k].shape)}, expected {shape}")
    meta = {"genrep.model": cfg["kind"], "genrep.zdim": str(cfg["zdim"]), "genrep.width": str(cfg["width"]),
            "genrep.dwidth": str(dwidth), "genrep.n_classes": str(cfg["n_classes"]),
            "genrep.embed_dim": str(cfg["embed_dim"])}
    if any(cfg[k] != v for k, v in DEFAULT_ARCH.items()):
        for k in DEFAULT_ARCH:
            meta["genrep." + k] = str(int(cfg[k])) if k == "out_bias" else str(cfg[k])
    meta["genrep.exported_by"] = "weights/export_pytorch.py"
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
    ap.add_argument("--out-act", choices=("tanh", "sigmoid", "none"), default=None,
                    help="output activation (not in a state_dict; default tanh)")
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
        meta = export(sd, a.out, a.zdim, a.width, a.kind, a.n_classes, a.embed_dim, a.dwidth, out_act=a.out_act)
    except ValueError as e:
        print(f"export_pytorch.py: {e}", file=sys.stderr)
        return 1
    shape = (f"{meta.get('genrep.out_channels', 1)}x{meta.get('genrep.out_size', 28)}x"
             f"{meta.get('genrep.out_size', 28)}")
    print(f"wrote {a.out}: {meta['genrep.model']} zdim {meta['genrep.zdim']} width {meta['genrep.width']}, "
          f"images {shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
