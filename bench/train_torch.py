#!/usr/bin/python3
"""PyTorch CPU peer of bench/bench_train.cc: one SimCLR training step of the
identical model and batch, at 1 and 2 threads; median of repetitions,
steps/s and view-images/s.

Model (genrep.h [ENCODER], genrep_encoder_config_small(1, 28, 28)): stem
conv3x3 1->32 (no bias) + BN + ReLU; stages 32/64/128 of 2 BasicBlocks,
strides 1/2/2, 1x1 conv + BN shortcut where the shape changes; global
average pool to 128 features; head Linear 128->128, ReLU, Linear 128->128,
L2 normalise. BN eps 1e-5, momentum 0.1, training mode.
Step: forward of 2 x 256 view images (view 1 rows, then view 2), NT-Xent
with tau 0.1 over the 512 rows (every row an anchor, self-pairs left out of
the softmax, mean over rows), zero grads, backward, SGD lr 0.05, momentum
0.9, weight decay 1e-4. The input is a fixed batch of uniform [0,1] images,
normalised to [-1,1] as genrep's trainer does.

With --precision fp32,bf16 the bf16 rows run the forward and the loss under
torch.autocast('cpu', dtype=torch.bfloat16) (oneDNN bf16 convs and matmuls;
fp32 master weights, SGD in fp32), the peer of genrep's bf16 mode.

    /usr/bin/python3 bench/train_torch.py [--reps 5] [--threads 1,2] [--precision fp32[,bf16]]
                                          [--json OUT.json] [--profile FILE]
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

B, TAU = 256, 0.1


def conv_bn(cin, cout, k, stride):
    return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)]


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(cin, cout, 3, stride)
        self.conv2, self.bn2 = conv_bn(cout, cout, 3, 1)
        self.shortcut = nn.Sequential(*conv_bn(cin, cout, 1, stride)) if stride != 1 or cin != cout \
            else nn.Sequential()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Encoder(nn.Module):
    """SupConResNet-style; state_dict names and shapes are genrep's (encoder.stem.0.weight,
    encoder.layer1.0.conv1.weight, ..., head.2.bias), num_batches_tracked aside."""

    def __init__(self, cin=1, stem=32, widths=(32, 64, 128), strides=(1, 2, 2), blocks=2, out=128):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.stem = nn.Sequential(*conv_bn(cin, stem, 3, 1), nn.ReLU())
        c = stem
        for i, (w, s) in enumerate(zip(widths, strides)):
            setattr(self.encoder, f"layer{i + 1}", nn.Sequential(
                *[BasicBlock(c if k == 0 else w, w, s if k == 0 else 1) for k in range(blocks)]))
            c = w
        self.stages = [getattr(self.encoder, f"layer{i + 1}") for i in range(len(widths))]
        self.head = nn.Sequential(nn.Linear(c, c), nn.ReLU(), nn.Linear(c, out))

    def forward(self, x):
        x = self.encoder.stem(x)
        for s in self.stages:
            x = s(x)
        return F.normalize(self.head(x.mean(dim=(2, 3))), dim=1)


def ntxent(z, tau):
    """genrep_ntxent_forward: rows 0..B-1 view 1, B..2B-1 view 2; the positive
    of row i is its other view; self-pairs excluded; mean over all 2B rows."""
    n = z.shape[0]
    logits = z @ z.t() / tau
    logits = logits.masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))
    target = (torch.arange(n) + n // 2) % n
    return F.cross_entropy(logits, target)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--precision", default="fp32", help="comma list of fp32, bf16 (autocast)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--profile", default=None, metavar="FILE",
                    help="after the timing, profile one step at the last thread count (torch.autograd.profiler) "
                         "and write the top ops by self CPU time to FILE")
    a = ap.parse_args()
    print(f"torch {torch.__version__}, mkldnn {torch.backends.mkldnn.is_available()}, "
          f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, load {open('/proc/loadavg').read().split()[:3]}")
    g = torch.Generator().manual_seed(7)
    x = (torch.rand(2 * B, 1, 28, 28, generator=g) - 0.5) / 0.5
    rows = []
    runs = [(p, int(t)) for p in a.precision.split(",") for t in a.threads.split(",")]
    for prec, threads in runs:
        assert prec in ("fp32", "bf16"), prec
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        model = Encoder().train()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=prec == "bf16"):
                loss = ntxent(model(x), TAU)
            loss.backward()
            opt.step()
            return loss.item()

        step()
        step()  # warm-up: allocator, oneDNN primitives, momentum buffers
        walls, cpus = [], []
        for _ in range(a.reps):  # a step takes seconds: one step per repetition
            t0, c0 = time.perf_counter(), time.process_time()
            loss = step()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        med = statistics.median(walls)
        name = f"simclr small B256x2 torch{'-bf16' if prec == 'bf16' else ''} t{threads}"
        rows.append({"name": name, "ms": med * 1e3, "steps_s": 1 / med, "img_s": 2 * B / med,
                     "min_ms": min(walls) * 1e3, "max_ms": max(walls) * 1e3,
                     "cpu_ms": statistics.median(cpus) * 1e3, "loss": loss,
                     "reps": [[1 / w, 1 / c] for w, c in zip(walls, cpus)]})
        print(f"{name:34s} {med * 1e3:8.1f} ms (min {min(walls) * 1e3:.1f}, max {max(walls) * 1e3:.1f})  "
              f"{1 / med:6.3f} steps/s  {2 * B / med:6.0f} img/s  {2 * B / statistics.median(cpus):6.0f} img/cpu-s  "
              f"loss {loss:.3f}")
    if a.profile:
        with torch.autograd.profiler.profile() as prof:
            step()
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)
        with open(a.profile, "w") as f:
            f.write(f"PyTorch {torch.__version__} SimCLR step profile, {threads} threads, one step\n{table}\n")
        print(f"op profile of one step at {threads} threads written to {a.profile}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"peak RSS of this PyTorch process: {rss} MiB")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "maxrss_mib": rss}, f, indent=1)


if __name__ == "__main__":
    main()
