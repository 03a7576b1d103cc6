"""Peer of bench/bench_augment.cc: torchvision's SimCLR transforms, one view per
call (as a DataLoader worker runs them), on the same shapes, one core.

  /usr/bin/python3 bench/augment_torchvision.py [--reps 5]

Two input paths per shape:
  tensor  float CHW tensor in [0,1] (what genrep_augment_batch computes)
  pil     uint8 PIL image + ToTensor at the end (what GenRep's loader ran)
Prints the median over repetitions of views per second of wall time and of
process CPU time (views per core-second).
"""
import argparse
import statistics
import time

import torch
import torchvision.transforms as T
from torchvision.transforms import InterpolationMode

torch.set_num_threads(1)


def recipe(out, blur, pil):
    ops = [
        T.RandomResizedCrop(out, scale=(0.2, 1.0), interpolation=InterpolationMode.BILINEAR,
                            **({} if pil else {"antialias": False})),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
    ]
    if blur:  # SimCLR: kernel ~10% of the side, odd; sigma in [0.1, 2]
        k = max(3, (out // 10 // 2) * 2 + 1)
        ops.append(T.RandomApply([T.GaussianBlur(k, sigma=(0.1, 2.0))], p=0.5))
    if pil:
        ops.append(T.ToTensor())
    return T.Compose(ops)


def bench(name, C, H, W, out, blur, pil, n, reps):
    torch.manual_seed(0)
    imgs = [torch.rand(C, H, W) for _ in range(16)]
    if pil:
        to_pil = T.ToPILImage()
        imgs = [to_pil(x) for x in imgs]
    tf = recipe(out, blur, pil)
    for x in imgs:  # warm-up
        tf(x)
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(n):
            tf(imgs[i % len(imgs)])
        wall.append(n / (time.perf_counter() - t0))
        cpu.append(n / (time.process_time() - c0))
    print("%-22s %-6s views/s wall %9.0f   per core-second %9.0f" %
          (name, "pil" if pil else "tensor", statistics.median(wall), statistics.median(cpu)), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    print("torch %s torchvision %s, 1 thread, median of %d" % (torch.__version__, __import__("torchvision").__version__, a.reps))
    for pil in (False, True):
        bench("28x28x1", 1, 28, 28, 28, False, pil, 1000, a.reps)
        bench("28x28x1_blur", 1, 28, 28, 28, True, pil, 1000, a.reps)
        bench("128to112x3", 3, 128, 128, 112, False, pil, 200, a.reps)
        bench("128to112x3_blur", 3, 128, 128, 112, True, pil, 200, a.reps)


if __name__ == "__main__":
    main()
