#!/usr/bin/python3
"""Writes the fixtures of tests/test_biggan.c: BigGAN-deep generators with the
layer structure of pytorch_pretrained_biggan's published 128 and 256 px
configs (weights/export_pytorch.py's BigGAN, the port's names and shapes) at
a reduced channel width, z size, class count and n_stats so the files stay
small, random weights (fixed seeds), exported with export_biggan, and what
PyTorch renders from them in eval mode:

  tests/ref/biggan128.safetensors     128 px, ch 4, z 8, 5 classes, n_stats 6
  tests/ref/biggan128_images.bin      z (2,8), class_vec (2,5), truncation (1), images (2,3,128,128)
                                      (images: PyTorch's forward in float64, stored as float32)
  tests/ref/biggan256.safetensors     256 px, ch 4, z 8, 5 classes, n_stats 6
  tests/ref/biggan256_images.bin      z (1,8), class_vec (1,5), truncation (1), images (1,3,256,256)
  tests/ref/biggan_names.txt          name and shape of every tensor of the full
                                      published 128 and 256 px models, in state_dict order

Weights: weight_orig N(0,1), with weight_u / weight_v from 30 power
iterations (as the port's converter prepares them), so sigma is the
spectral norm; biases 0.1 N(0,1); attention gamma 0.7 (so attention shows);
the stored statistics are set from a calibration batch (the batch's mean and
variance, perturbed differently for every truncation row), so activations
stay O(1) through the blocks and the blend between rows matters. Truncations
0.43 (rows 2 and 3 blended 0.15 / 0.85 with n_stats 6) and 1.0 (last row).

Run from anywhere:  /usr/bin/python3 tests/ref/make_biggan_golden.py
Reproducible byte for byte (fixed seeds, one thread).
"""
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "weights"))
from golden_io import write_golden  # noqa: E402
from export_pytorch import BigGAN, BigGANBatchNorm, export_biggan, read_safetensors  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def truncnorm(shape, g):
    """N(0,1) conditioned on [-2, 2] by rejection."""
    out = torch.randn(shape, generator=g)
    while (out.abs() > 2).any():
        bad = out.abs() > 2
        out[bad] = torch.randn(int(bad.sum()), generator=g)
    return out


def randomise(m, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n.endswith("gamma"):
                p.fill_(0.7)
            elif n == "generator.bn.weight":
                p.copy_(1.5 + torch.rand(p.shape, generator=g))
            elif n.endswith("bias") and p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g))
        for mod in m.modules():
            if hasattr(mod, "weight_u"):
                w = mod.weight_orig.reshape(mod.weight_orig.shape[0], -1)
                u = F.normalize(torch.randn(w.shape[0], generator=g), dim=0)
                for _ in range(30):
                    v = F.normalize(w.t() @ u, dim=0, eps=1e-4)
                    u = F.normalize(w @ v, dim=0, eps=1e-4)
                mod.weight_u.copy_(u)
                mod.weight_v.copy_(v)
    return g


def calibrate(m, g, zdim, nc, t):
    """One forward of 6 samples with every BN setting its rows from the batch."""
    bns = [x for x in m.modules() if isinstance(x, BigGANBatchNorm)]
    for b in bns:
        b.calibrate = g
    z = truncnorm((6, zdim), g) * t
    y = F.one_hot(torch.arange(6) % nc, nc).float()
    with torch.no_grad():
        m(z, y, t)
    for b in bns:
        b.calibrate = None


def case(R, B, t, seed):
    ch, zdim, nc, n_stats = 4, 8, 5, 6
    m = BigGAN(R, ch, zdim, nc, n_stats)
    g = randomise(m, seed)
    calibrate(m, g, zdim, nc, t)
    m.eval()
    z = truncnorm((B, zdim), g) * t
    y = F.one_hot(torch.tensor([3, 1][:B]), nc).float()
    if B > 1:  # a mix of two classes in the second row (the embedding is linear)
        y[1] = 0.25 * F.one_hot(torch.tensor(4), nc).float() + 0.75 * y[1]
    with torch.no_grad():
        img = m(z, y, t)
    v = img.var().item()
    sat = (img.abs() > 0.99).float().mean().item()
    assert v > 0.05 and sat < 0.2, f"{R}: images too flat or saturated (var {v}, saturated {sat})"
    st = os.path.join(HERE, f"biggan{R}.safetensors")
    export_biggan(m.state_dict(), st)
    meta, back = read_safetensors(st)
    sd = m.state_dict()
    assert list(back) == list(sd), "the file lists the state_dict's tensors in its order"
    for k in sd:
        assert torch.equal(back[k], sd[k].float()), k
    assert meta["genrep.output_dim"] == str(R) and meta["genrep.n_stats"] == str(n_stats)
    # the reference images: the same model in double precision, the answer
    # float32 implementations approximate (PyTorch's own float32 forward is
    # printed for scale: it is ~1e-5 off at 12 blocks deep)
    m.double()
    with torch.no_grad():
        img64 = m(z.double(), y.double(), t)
    err32 = (img.double() - img64).abs().max().item()
    write_golden(os.path.join(HERE, f"biggan{R}_images.bin"),
                 [("z", z), ("class_vec", y), ("truncation", torch.tensor([t])), ("images", img64.float())])
    print(f"biggan{R}: {sum(x.numel() for x in sd.values())} floats, image var {v:.3f}, saturated {sat:.3f}, "
          f"PyTorch float32 vs float64 max |d| {err32:.2e}")


def names():
    """The full published configs: names and shapes, and the parameter counts
    the port's README gives (50.4M for 128 px, 55.9M for 256 px)."""
    lines = []
    for R, published in ((128, 50.4e6), (256, 55.9e6)):
        m = BigGAN(R)
        sd = m.state_dict()
        n = sum(p.numel() for p in m.parameters())
        assert abs(n - published) < 0.05e6, f"{R}: {n} parameters, the port's README says {published}"
        print(f"biggan-deep-{R}: {len(sd)} tensors, {n / 1e6:.2f} M parameters")
        for k, v in sd.items():
            lines.append(f"{R} {k} {' '.join(str(int(s)) for s in v.shape)}\n")
    with open(os.path.join(HERE, "biggan_names.txt"), "w") as f:
        f.writelines(lines)


if __name__ == "__main__":
    case(128, 2, 0.43, 17)
    case(256, 1, 1.0, 29)
    names()
