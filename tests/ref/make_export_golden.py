#!/usr/bin/python3
"""Writes the fixtures of tests/test_export.c: PyTorch generators of genrep's
architecture (weights/export_pytorch.py's Generator) with random weights and
random non-trivial batchnorm running statistics, exported with
weights/export_pytorch.export, and what PyTorch computes from them in eval
mode for fixed latents:

  tests/ref/export_dcgan.safetensors   DCGAN, zdim 16, width 8
  tests/ref/export_dcgan_images.bin    z (B,16), images (B,1,28,28)
  tests/ref/export_cgan.safetensors    CGAN, zdim 12, width 4, 10 classes, E 6
  tests/ref/export_cgan_images.bin     z (B,12), y (B) int32, images (B,1,28,28)

and two other members of the generator family (architectures other than
genrep's own):

  tests/ref/export_tutorial.safetensors  the PyTorch DCGAN tutorial's
      generator (nn.Sequential main.0 ... main.13, 64x64 RGB, convT first
      and output layers, tanh) at nz 10, ngf 2, exported by module
  tests/ref/export_tutorial_images.bin   z (B,10), images (B,3,64,64)
  tests/ref/export_cbn32.safetensors     class-conditional, linear first
      layer, 2 up-sampling stages, 32x32x3, conv output with bias, sigmoid
      (zdim 12, width 3, 5 classes, E 4)
  tests/ref/export_cbn32_images.bin      z (B,12), y (B) int32, images (B,3,32,32)

(.bin: tests/ref/golden_io.py format). The state_dicts carry
num_batches_tracked, which the exporter must drop.

Run from anywhere:  /usr/bin/python3 tests/ref/make_export_golden.py
Reproducible byte for byte (fixed seeds, one thread): run it twice and cmp.
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "weights"))
from golden_io import write_golden  # noqa: E402
from export_pytorch import Generator, export, read_safetensors  # noqa: E402
import torch.nn as nn  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
B = 6


def randomise(g, seed):
    """Weights scaled so every layer's output has unit-ish spread (tanh not
    saturated), BN affine params and running stats far from identity."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in g.named_parameters():
            if n.startswith("bn") and n.endswith(".weight") and p.dim() == 1:
                p.copy_(0.5 + torch.rand(p.shape, generator=gen))
            elif n == "embed.weight":
                p.copy_(torch.randn(p.shape, generator=gen))
            elif n.startswith("bn"):  # conditional gain / bias: modest per-class modulation
                p.copy_(0.3 * torch.randn(p.shape, generator=gen) / p.shape[-1] ** 0.5)
            elif p.dim() >= 2:
                fan_in = p.shape[1] * (p[0, 0].numel() if p.dim() == 4 else 1)
                if n.startswith("up"):  # each output pixel of a 4x4/s2 convT sees 4 taps per input channel
                    fan_in = p.shape[0] * 4
                p.copy_(torch.randn(p.shape, generator=gen) * (1.5 / fan_in ** 0.5))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
        for n, b in g.named_buffers():
            if n.endswith("running_mean"):
                b.copy_(0.3 * torch.randn(b.shape, generator=gen))
            elif n.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=gen))
            elif n.endswith("num_batches_tracked"):
                b.fill_(1234)


class TutorialGenerator(nn.Module):
    """The PyTorch DCGAN tutorial's generator (pytorch.org/tutorials/beginner/dcgan_faces_tutorial.html)."""

    def __init__(self, nz, ngf, nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z, y=None):
        return self.main(z.view(z.shape[0], -1, 1, 1))


def randomise_tutorial(g, seed):
    """As randomise, for nn.Sequential names: convT fan-in is C_in * 4 taps
    (C_in * k^2 for the first, which sees one pixel)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in g.main:
            if isinstance(m, nn.ConvTranspose2d):
                fan = m.in_channels * (m.kernel_size[0] ** 2 if m.stride[0] == 1 else 4) / (16 if m.stride[0] == 1 else 1)
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (1.5 / fan ** 0.5))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=gen))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=gen))
                m.running_mean.copy_(0.3 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
                m.num_batches_tracked.fill_(1234)


def case(name, cond, zdim, width, seed, **kw):
    if name == "tutorial":
        g = TutorialGenerator(zdim, width, 3)
        randomise_tutorial(g, seed)
    else:
        g = Generator(zdim, width, cond, **kw)
        randomise(g, seed)
    g.eval()
    gen = torch.Generator().manual_seed(seed + 1)
    z = torch.randn(B, zdim, generator=gen)
    y = torch.tensor([0, 3, 9, 1, 3, 7][:B], dtype=torch.int64) % g.n_classes if cond else None
    with torch.no_grad():
        img = g(z, y)
    st_path = os.path.join(HERE, f"export_{name}.safetensors")
    export(g.state_dict(), st_path, dwidth=8, module=g)
    # the file read back holds exactly the state_dict minus num_batches_tracked
    meta, back = read_safetensors(st_path)
    sd = {k: v for k, v in g.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert len(back) == len(sd), (sorted(back), sorted(sd))
    if name == "tutorial":  # renamed in order: main.0 -> fc, main.1 -> bn0, main.3 -> up1, ..., main.12 -> out
        assert torch.equal(back["fc.weight"], sd["main.0.weight"]) and torch.equal(back["out.weight"], sd["main.12.weight"])
        assert torch.equal(back["bn3.running_var"], sd["main.10.running_var"])
        # the state_dict alone (by shapes) gives the same file as the module
        alt = st_path + ".alt"
        export(g.state_dict(), alt, dwidth=8)
        with open(alt, "rb") as f1, open(st_path, "rb") as f2:
            assert f1.read() == f2.read()
        os.remove(alt)
    else:
        assert set(back) == set(sd), (set(back) ^ set(sd))
        for k in sd:
            assert torch.equal(back[k], sd[k].float()), k
    assert meta["genrep.model"] == ("cgan" if cond else "dcgan")
    tensors = [("z", z)]
    if cond:
        tensors.append(("y", y.to(torch.int32)))
    tensors.append(("images", img))
    write_golden(os.path.join(HERE, f"export_{name}_images.bin"), tensors)
    sat = (img.abs() > 0.99).float().mean().item()
    print(f"{name}: {os.path.getsize(st_path)} bytes, images mean {img.mean():.3f} std {img.std():.3f} "
          f"saturated {100 * sat:.1f}%")


if __name__ == "__main__":
    case("dcgan", False, 16, 8, 100)
    case("cgan", True, 12, 4, 200, n_classes=10, embed_dim=6)
    case("tutorial", False, 10, 2, 300)
    case("cbn32", True, 12, 3, 400, n_classes=5, embed_dim=4, out_size=32, out_channels=3, out_act="sigmoid")
