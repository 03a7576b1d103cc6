#!/usr/bin/python3
"""PyTorch CPU peer of bench/bench_biggan.cc: the same BigGAN-deep
(weights/export_pytorch.py's BigGAN, the pytorch_pretrained_biggan
architecture) at the published full width, random weights with u, v from a
few power iterations (so sigma is the spectral norm, as in a real
checkpoint), batch 8 one-hot classes, truncation 0.4, eval mode under
torch.no_grad(), 2 threads; median of repetitions, images/s and GFLOP/s with
genrep's MAC count (bench_biggan.cc prints GFLOP/img).

    /usr/bin/python3 bench/biggan_torch.py [--reps 3] [--json OUT.json] [--res 128 256]
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "weights"))
from export_pytorch import BigGAN  # noqa: E402

B = 8


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", default=None)
    ap.add_argument("--res", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, mkldnn {torch.backends.mkldnn.is_available()}, threads {a.threads}, "
          f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, load {open('/proc/loadavg').read().split()[:3]}")
    rows = []
    g = torch.Generator().manual_seed(1)
    for R in a.res:
        m = BigGAN(R).eval()
        with torch.no_grad():
            for mod in m.modules():
                if hasattr(mod, "weight_u"):
                    w = mod.weight_orig.reshape(mod.weight_orig.shape[0], -1)
                    u = mod.weight_u
                    for _ in range(3):
                        v = F.normalize(w.t() @ u, dim=0, eps=1e-4)
                        u = F.normalize(w @ v, dim=0, eps=1e-4)
                    mod.weight_u.copy_(u)
                    mod.weight_v.copy_(v)
        z = 0.4 * torch.randn(B, 128, generator=g).clamp(-2, 2)
        y = F.one_hot((torch.arange(B) * 97) % 1000, 1000).float()
        with torch.no_grad():
            out = m(z, y, 0.4)  # warm-up
            assert torch.isfinite(out).all()
            walls, cpus = [], []
            for _ in range(a.reps):
                t0, c0 = time.perf_counter(), time.process_time()
                m(z, y, 0.4)
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
        med = statistics.median(walls)
        name = f"biggan{R} B8 torch t{a.threads}"
        rows.append({"name": name, "ms": med * 1e3, "img_s": B / med, "min_ms": min(walls) * 1e3,
                     "max_ms": max(walls) * 1e3, "img_cpu_s": B / statistics.median(cpus),
                     "reps": [[B / w, B / c] for w, c in zip(walls, cpus)]})
        print(f"{name:24s} {med * 1e3:9.1f} ms (min {min(walls) * 1e3:.1f}, max {max(walls) * 1e3:.1f})  "
              f"{B / med:6.2f} img/s  {B / statistics.median(cpus):6.2f} img/cpu-s")
        del m
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
