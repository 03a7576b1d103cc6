#!/usr/bin/python3
"""PyTorch CPU peer of bench/bench_gen.cc: the identical generator
(weights/export_pytorch.py's Generator: zdim 128, width 32; DCGAN and the
class-conditional one; and the PyTorch DCGAN tutorial's nn.Sequential
generator at nz 100, ngf 64, 64x64 RGB) rendering a batch of 256 latents in eval mode under
torch.no_grad(), at 2 and 1 threads; median of repetitions, images/s and
GFLOP/s counted as genrep does (2 x multiply-adds of fc, both transposed
convs, the output conv, and the cgan's gain/bias linears).

    /usr/bin/python3 bench/gen_torch.py [--reps 7] [--json OUT.json]
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "weights"))
from export_pytorch import Generator  # noqa: E402

B, Z, W, E = 256, 128, 32, 32


def macs(cond):
    c0, c1, c2 = 4 * W, 2 * W, W
    m = Z * c0 * 49 + c0 * c1 * 16 * 49 + c1 * c2 * 16 * 196 + c2 * 9 * 784
    return m + (2 * E * (c0 + c1 + c2) if cond else 0)


NZ, NGF = 100, 64


def tutorial():
    """The PyTorch DCGAN tutorial's generator (64x64x3), as bench_gen.cc's kind 2."""
    nn = torch.nn
    return nn.Sequential(
        nn.ConvTranspose2d(NZ, NGF * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(NGF * 8), nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 8, NGF * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 4), nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 2), nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF), nn.ReLU(True),
        nn.ConvTranspose2d(NGF, 3, 4, 2, 1, bias=False), nn.Tanh())


def tutorial_macs():
    return NZ * NGF * 8 * 16 + sum(c * c // 2 * 16 * s * s for c, s in ((NGF * 8, 4), (NGF * 4, 8), (NGF * 2, 16))) \
        + NGF * 3 * 16 * 32 * 32


def timed(fn, reps, min_time=0.3):
    """Per call over reps repetitions (each >= min_time): median wall seconds,
    min and max wall, median process CPU seconds (all threads)."""
    fn()
    fn()  # warm-up: allocations, oneDNN primitives
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_time:
        fn()
        n += 1
    per = max(1, n)
    out, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(per):
            fn()
        out.append((time.perf_counter() - t0) / per)
        cpu.append((time.process_time() - c0) / per)
    return statistics.median(out), min(out), max(out), statistics.median(cpu), out, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    print(f"torch {torch.__version__}, mkldnn {torch.backends.mkldnn.is_available()}, "
          f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, load {open('/proc/loadavg').read().split()[:3]}")
    rows = []
    for cond in (False, True):
        g = Generator(Z, W, cond, 10, E).dcgan_init_(1).eval()
        with torch.no_grad():
            for n, b in g.named_buffers():
                if n.endswith("running_var"):
                    b.fill_(1.5)
                elif n.endswith("running_mean"):
                    b.fill_(0.1)
        z = torch.randn(B, Z, generator=torch.Generator().manual_seed(7))
        y = torch.arange(B) % 10 if cond else None
        for threads in ((2, 1) if not cond else (2,)):
            torch.set_num_threads(threads)
            with torch.no_grad():
                med, lo, hi, cpu, walls, cpus = timed(lambda: g(z, y), a.reps)
            ips = B / med
            name = f"{'cgan' if cond else 'dcgan'} B256 torch t{threads}"
            rows.append({"name": name, "ms": med * 1e3, "img_s": ips, "gflops": 2 * macs(cond) * ips * 1e-9,
                         "min_ms": lo * 1e3, "max_ms": hi * 1e3, "cpu_ms": cpu * 1e3, "img_cpu_s": B / cpu,
                         "reps": [[B / w, B / c] for w, c in zip(walls, cpus)]})
            print(f"{name:28s} {med * 1e3:8.2f} ms (min {lo * 1e3:.2f}, max {hi * 1e3:.2f})  "
                  f"{ips:9.0f} img/s  {2 * macs(cond) * ips * 1e-9:6.1f} GFLOP/s  {B / cpu:7.0f} img/cpu-s")
    g = tutorial().eval()
    with torch.no_grad():
        for n, b in g.named_buffers():
            if n.endswith("running_var"):
                b.fill_(1.5)
            elif n.endswith("running_mean"):
                b.fill_(0.1)
    z = torch.randn(B, NZ, 1, 1, generator=torch.Generator().manual_seed(7))
    torch.set_num_threads(2)
    with torch.no_grad():
        med, lo, hi, cpu, walls, cpus = timed(lambda: g(z), a.reps)
    ips, name = B / med, "tutorial B256 torch t2"
    rows.append({"name": name, "ms": med * 1e3, "img_s": ips, "gflops": 2 * tutorial_macs() * ips * 1e-9,
                 "min_ms": lo * 1e3, "max_ms": hi * 1e3, "cpu_ms": cpu * 1e3, "img_cpu_s": B / cpu,
                 "reps": [[B / w, B / c] for w, c in zip(walls, cpus)]})
    print(f"{name:28s} {med * 1e3:8.2f} ms (min {lo * 1e3:.2f}, max {hi * 1e3:.2f})  "
          f"{ips:9.0f} img/s  {2 * tutorial_macs() * ips * 1e-9:6.1f} GFLOP/s  {B / cpu:7.0f} img/cpu-s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
