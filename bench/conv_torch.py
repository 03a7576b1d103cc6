#!/usr/bin/python3
"""PyTorch CPU peer of bench/bench_conv.cc: conv2d forward and backward
(dinp + dweight + dbias) on the same shapes, at 1 and 2 threads, median of
repetitions, GFLOP/s counted the same way (forward 2*N*K*C*R*S*P*Q, backward
twice that). Run it in the same session as bench_conv for a ratio:

    /usr/bin/python3 bench/conv_torch.py [--reps 11]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

SHAPES = [  # name, N, C, H, W, K, R, S, stride, pad (as bench_conv.cc)
    ("3x3_64to64_128x14x14", 128, 64, 14, 14, 64, 3, 3, 1, 1),
    ("3x3_128to128_128x7x7", 128, 128, 7, 7, 128, 3, 3, 1, 1),
]


def timed(fn, reps, min_time=0.2):
    """Median (wall, process CPU) seconds per call over reps repetitions, each
    repeating fn for >= min_time. On a loaded machine the CPU time of a
    1-thread run is the steadier number (it leaves out time spent preempted)."""
    fn()  # warm-up (allocations, oneDNN primitive creation)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_time:
        fn(); n += 1
    per_rep = max(1, n)
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(per_rep):
            fn()
        wall.append((time.perf_counter() - t0) / per_rep)
        cpu.append((time.process_time() - c0) / per_rep)
    return statistics.median(wall), statistics.median(cpu)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, mkldnn {torch.backends.mkldnn.is_available()}, "
          f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
    for name, N, C, H, W, K, R, S, stride, pad in SHAPES:
        x = torch.rand(N, C, H, W) - 0.5
        w = torch.rand(K, C, R, S) - 0.5
        b = torch.rand(K) - 0.5
        P = (H + 2 * pad - R) // stride + 1
        Q = (W + 2 * pad - S) // stride + 1
        flops = 2.0 * N * K * C * R * S * P * Q
        xg, wg, bg = (t.clone().requires_grad_() for t in (x, w, b))
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with torch.no_grad():
                tf = timed(lambda: F.conv2d(x, w, b, stride, pad), args.reps)
            y = F.conv2d(xg, wg, bg, stride, pad)
            gy = torch.rand_like(y) - 0.5

            def bwd():
                # the same work as genrep_conv2d_backward: dinp, dweight, dbias
                torch.autograd.grad(y, (xg, wg, bg), gy, retain_graph=True)
            tb = timed(bwd, args.reps)
            print(f"torch conv2d {name} t{threads}: forward {tf[0]*1e3:8.2f} ms {flops/tf[0]*1e-9:7.1f} GFLOP/s "
                  f"(cpu {tf[1]*1e3:8.2f} ms) | backward {tb[0]*1e3:8.2f} ms {2*flops/tb[0]*1e-9:7.1f} GFLOP/s "
                  f"(cpu {tb[1]*1e3:8.2f} ms)")


if __name__ == "__main__":
    main()
