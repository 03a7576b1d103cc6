#!/usr/bin/python3
"""Writes tests/ref/golden_models.bin, read by tests/test_models.c: the GAN
models of genrep.h ([GAN] in genrep.h) built from torch.nn with the
same state_dict names, random weights, and what PyTorch (float32, CPU, one
thread) computes: eval- and train-mode generator outputs, every parameter
gradient and dz for a given upstream gradient, running statistics after
one train-mode forward; the projection discriminator's logits, gradients
and dx. Tiny widths keep the file small.

Run from anywhere:  /usr/bin/python3 tests/ref/make_models_golden.py
Reproducible byte for byte (fixed seeds, one thread).
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_io import write_golden  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

CH, Z, B, K, E, DCH = 4, 8, 3, 4, 3, 4


class CondBN(nn.Module):
    """BigGAN class-conditional batchnorm: xhat * (1 + gain(e)) + bias(e)."""
    def __init__(self, c):
        super().__init__()
        self.gain = nn.Linear(E, c)
        self.bias = nn.Linear(E, c)
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_var", torch.ones(c))

    def forward(self, x, e):
        xh = F.batch_norm(x, self.running_mean, self.running_var, None, None, self.training, 0.1, 1e-5)
        return xh * (1 + self.gain(e))[:, :, None, None] + self.bias(e)[:, :, None, None]


class Gen(nn.Module):
    """genrep's DCGAN generator (cond=False) or class-conditional one (cond=True)."""
    def __init__(self, cond):
        super().__init__()
        self.cond = cond
        if cond:
            self.embed = nn.Embedding(K, E)
        self.fc = nn.Linear(Z, 4 * CH * 49, bias=False)
        bn = (lambda c: CondBN(c)) if cond else (lambda c: nn.BatchNorm2d(c))
        self.bn0 = bn(4 * CH)
        self.up1 = nn.ConvTranspose2d(4 * CH, 2 * CH, 4, 2, 1, bias=False)
        self.bn1 = bn(2 * CH)
        self.up2 = nn.ConvTranspose2d(2 * CH, CH, 4, 2, 1, bias=False)
        self.bn2 = bn(CH)
        self.out = nn.Conv2d(CH, 1, 3, 1, 1)

    def forward(self, z, y=None):
        e = self.embed(y) if self.cond else None
        norm = (lambda m, x: m(x, e)) if self.cond else (lambda m, x: m(x))
        x = self.fc(z).view(-1, 4 * CH, 7, 7)
        x = torch.relu(norm(self.bn0, x))
        x = torch.relu(norm(self.bn1, self.up1(x)))
        x = torch.relu(norm(self.bn2, self.up2(x)))
        return torch.tanh(self.out(x))


class Disc(nn.Module):
    """genrep's projection discriminator (no normalisation, leaky 0.2)."""
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, DCH, 4, 2, 1)
        self.conv2 = nn.Conv2d(DCH, 2 * DCH, 4, 2, 1)
        self.fc = nn.Linear(2 * DCH * 49, 1)
        self.embed = nn.Embedding(K, 2 * DCH * 49)

    def forward(self, x, y):
        h = F.leaky_relu(self.conv1(x), 0.2)
        h = F.leaky_relu(self.conv2(h), 0.2).flatten(1)
        return self.fc(h)[:, 0] + (self.embed(y) * h).sum(1)


def gen_case(prefix, cond, seed, out):
    torch.manual_seed(seed)
    g = Gen(cond)
    with torch.no_grad():
        for n, p in g.named_parameters():
            if n.startswith("bn") and n.endswith("weight") and p.dim() == 1:
                p.uniform_(0.5, 1.5)
            else:
                p.normal_(0, 0.3)
        for n, b in g.named_buffers():
            if n.endswith("running_mean"):
                b.uniform_(-0.2, 0.2)
            elif n.endswith("running_var"):
                b.uniform_(0.5, 1.5)
    z = torch.randn(B, Z)
    y = torch.tensor([1, 3, 0], dtype=torch.int64)
    for n, t in g.state_dict().items():
        if "num_batches" not in n:
            out.append((f"{prefix}/{n}", t.clone()))
    out.append((f"{prefix}/z", z))
    if cond:
        out.append((f"{prefix}/y", y.to(torch.int32)))
    g.eval()
    with torch.no_grad():
        out.append((f"{prefix}/out_eval", g(z, y)))
    g.train()
    zz = z.clone().requires_grad_(True)
    yt = g(zz, y)
    dout = torch.randn(yt.shape)
    yt.backward(dout)
    out.append((f"{prefix}/out_train", yt))
    out.append((f"{prefix}/dout", dout))
    out.append((f"{prefix}/dz", zz.grad))
    for n, p in g.named_parameters():
        out.append((f"{prefix}/grad/{n}", p.grad))
    for n, b in g.named_buffers():
        if "num_batches" not in n:
            out.append((f"{prefix}/after/{n}", b))


def disc_case(prefix, seed, out):
    torch.manual_seed(seed)
    d = Disc()
    with torch.no_grad():
        for p in d.parameters():
            p.normal_(0, 0.3)
    x = torch.rand(B, 1, 28, 28) * 2 - 1
    y = torch.tensor([2, 0, 3], dtype=torch.int64)
    for n, t in d.state_dict().items():
        out.append((f"{prefix}/{n}", t.clone()))
    xx = x.clone().requires_grad_(True)
    logits = d(xx, y)
    dlogits = torch.randn(B)
    logits.backward(dlogits)
    out += [(f"{prefix}/x", x), (f"{prefix}/y", y.to(torch.int32)), (f"{prefix}/logits", logits),
            (f"{prefix}/dlogits", dlogits), (f"{prefix}/dx", xx.grad)]
    for n, p in d.named_parameters():
        out.append((f"{prefix}/grad/{n}", p.grad))


def main():
    out = []
    gen_case("dcgan", False, 1, out)
    gen_case("cgan", True, 2, out)
    disc_case("pdisc", 3, out)
    write_golden(os.path.join(HERE, "golden_models.bin"), out)


if __name__ == "__main__":
    main()
