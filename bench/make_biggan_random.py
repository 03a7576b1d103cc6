#!/usr/bin/python3
"""A BigGAN-deep weights file with random weights at the published full
width (ch 128, z 128, 1000 classes, n_stats 51) for timing `genrep train
--gen` (bench/run_biggan_train.sh): weights/export_pytorch.py's BigGAN (the
pytorch_pretrained_biggan architecture and names), PyTorch's default init,
u / v from 3 power iterations (as bench/biggan_torch.py), exported with
export_biggan. Pictures are noise; shapes and cost are the real model's.

    /usr/bin/python3 bench/make_biggan_random.py --res 128 --out build/bench/biggan128_random.safetensors
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "weights"))
from export_pytorch import BigGAN, export_biggan  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--res", type=int, default=128, choices=(128, 256, 512))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.manual_seed(1)
    m = BigGAN(a.res).eval()
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
    export_biggan(m.state_dict(), a.out, {"genrep.note": "random weights (bench/make_biggan_random.py)"})
    print(f"wrote {a.out}: random BigGAN-deep-{a.res}")


if __name__ == "__main__":
    main()
