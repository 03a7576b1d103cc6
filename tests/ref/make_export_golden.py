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


def case(name, cond, zdim, width, seed, **kw):
    g = Generator(zdim, width, cond, **kw)
    randomise(g, seed)
    g.eval()
    gen = torch.Generator().manual_seed(seed + 1)
    z = torch.randn(B, zdim, generator=gen)
    y = torch.tensor([0, 3, 9, 1, 3, 7][:B], dtype=torch.int64) if cond else None
    with torch.no_grad():
        img = g(z, y)
    st_path = os.path.join(HERE, f"export_{name}.safetensors")
    export(g.state_dict(), st_path, dwidth=8)
    # the file read back holds exactly the state_dict minus num_batches_tracked
    meta, back = read_safetensors(st_path)
    sd = {k: v for k, v in g.state_dict().items() if not k.endswith("num_batches_tracked")}
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
