"""Golden values for genrep's contrastive losses (tests/test_losses.c).

Writes tests/ref/golden_losses.bin (format: golden_io.py). For each case k:
  case{k}.meta   int32 [B, D, kind (0 NT-Xent, 1 SupCon), flags (1 = scale by tau/0.07)]
  case{k}.tau    float32 [tau]
  case{k}.z      float32 (2B, D)  L2-normalised rows, view 1 then view 2
  case{k}.labels int32 (B)        classes (NT-Xent: 0..B-1, unused)
  case{k}.loss   float32 [loss]
  case{k}.dz     float32 (2B, D)  d loss / d z (z taken as free, already normalised)
Also (prefix "enc.") a tiny encoder, the reference's SupConResNet layout
(stem 3x3 conv+BN+ReLU, basic blocks with 1x1 conv+BN projection
shortcuts, global average pool, head Linear-ReLU-Linear, F.normalize) for
tests/test_encoder.c: input (3, 2, 8, 8), stem 4, stage 1 width 4 x 1
block stride 1, stage 2 width 6 x 2 blocks stride 2, head 6 -> 5 -> 3:
  enc.param.<state_dict name>  every parameter and BN running stat (random)
  enc.x, enc.r                 input, and R: the loss is sum(out * R)
  enc.train.out, enc.train.feat, enc.train.dx, enc.grad.<name>,
  enc.train.running.<name>     train-mode forward/backward, updated stats
  enc.eval.out                 eval-mode forward with the updated stats
The loss follows SupContrast's SupConLoss (contrast_mode 'all', base
temperature 0.07) as used by GenRep; NT-Xent is the same loss with every
sample its own class. Computed in float64 from the float32 inputs.
Usage: /usr/bin/python3 tests/ref/make_loss_golden.py [out.bin]
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_io import write_golden  # noqa: E402

BASE_TAU = 0.07


def contrastive_loss(z, labels, tau, scale):
    """z (2B, D) float64, labels (B) int64. Every row is an anchor; the
    positives of a row are the other rows with the same label."""
    n = z.shape[0]
    rows = torch.cat([labels, labels])
    logits = z @ z.t() / tau
    # stability: subtract each row's max (a constant per row, so no gradient)
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    not_self = 1.0 - torch.eye(n, dtype=z.dtype)
    positive = (rows[:, None] == rows[None, :]).to(z.dtype) * not_self
    log_denom = torch.log((torch.exp(logits) * not_self).sum(dim=1, keepdim=True))
    log_prob = logits - log_denom
    per_anchor = (positive * log_prob).sum(dim=1) / positive.sum(dim=1)
    s = tau / BASE_TAU if scale else 1.0
    return (-s * per_anchor).mean()


def make_case(gen, B, D, kind, scale, tau, nclass):
    z = torch.randn(2 * B, D, generator=gen, dtype=torch.float64)
    z = torch.nn.functional.normalize(z, dim=1).float()  # stored as float32
    if kind == 0:
        labels = torch.arange(B, dtype=torch.int64)
    else:
        labels = torch.randint(0, nclass, (B,), generator=gen, dtype=torch.int64)
    z64 = z.double().requires_grad_(True)
    loss = contrastive_loss(z64, labels, tau, scale)
    loss.backward()
    return z, labels, loss.detach(), z64.grad.detach()


class Block(torch.nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        F = torch.nn.functional
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class Encoder(torch.nn.Module):
    def __init__(self, cin, stem, stages, hidden, out):
        super().__init__()
        nn = torch.nn
        self.stem = nn.Sequential(nn.Conv2d(cin, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU())
        c = stem
        for i, (w, n, s) in enumerate(stages):
            blocks = []
            for k in range(n):
                blocks.append(Block(c, w, s if k == 0 else 1))
                c = w
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*blocks))
        self.nstages = len(stages)
        self.feat_dim = c

    def forward(self, x):
        h = self.stem(x)
        for i in range(self.nstages):
            h = getattr(self, "layer%d" % (i + 1))(h)
        return h.mean(dim=(2, 3))


class SupConNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.encoder = Encoder(2, 4, [(4, 1, 1), (6, 2, 2)], 5, 3)
        self.head = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))

    def forward(self, x):
        feat = self.encoder(x)
        return feat, torch.nn.functional.normalize(self.head(feat), dim=1)


def encoder_golden():
    gen = torch.Generator().manual_seed(7)
    net = SupConNet().double()
    sd = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    with torch.no_grad():
        for name, v in sd.items():
            if name.endswith("running_var"):
                v.copy_(0.5 + torch.rand(v.shape, generator=gen, dtype=torch.float64))
            elif name.endswith("running_mean"):
                v.copy_(0.4 * torch.rand(v.shape, generator=gen, dtype=torch.float64) - 0.2)
            else:
                v.copy_(1.2 * torch.rand(v.shape, generator=gen, dtype=torch.float64) - 0.6)
            v.copy_(v.float().double())  # the values the C side sees
    params = [("enc.param." + k, v.clone().float()) for k, v in sd.items()]
    x = (2 * torch.rand(3, 2, 8, 8, generator=gen, dtype=torch.float64) - 1).float().double()
    r = (2 * torch.rand(3, 3, generator=gen, dtype=torch.float64) - 1).float().double()
    x.requires_grad_(True)
    net.train()
    feat, out = net(x)
    (out * r).sum().backward()
    grads = [("enc.grad." + k, p.grad.float()) for k, p in net.named_parameters()]
    running = [("enc.train.running." + k, v.float()) for k, v in net.state_dict().items() if "running" in k]
    net.eval()
    with torch.no_grad():
        _, out_eval = net(x.detach())
    return (params + [("enc.x", x.detach().float()), ("enc.r", r.float()),
                      ("enc.train.out", out.detach().float()), ("enc.train.feat", feat.detach().float()),
                      ("enc.train.dx", x.grad.float())] + grads + running
            + [("enc.eval.out", out_eval.float())])


def main():
    torch.set_num_threads(1)
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "golden_losses.bin")
    gen = torch.Generator().manual_seed(20260528)
    # (B, D, kind, scale, tau, nclass)
    cases = [
        (4, 16, 0, 0, 0.1, 0),
        (5, 7, 0, 1, 0.5, 0),
        (1, 3, 0, 0, 0.1, 0),
        (33, 128, 0, 0, 0.1, 0),
        (1, 5, 1, 0, 0.1, 1),
        (6, 9, 1, 1, 0.1, 3),
        (8, 13, 1, 0, 0.2, 2),
        (32, 128, 1, 1, 0.07, 10),
        (17, 31, 1, 0, 0.1, 17),
    ]
    tensors = []
    for k, (B, D, kind, scale, tau, nclass) in enumerate(cases):
        z, labels, loss, dz = make_case(gen, B, D, kind, scale, tau, nclass)
        p = "case%d." % k
        tensors += [
            (p + "meta", np.array([B, D, kind, scale], dtype=np.int32)),
            (p + "tau", np.array([tau], dtype=np.float32)),
            (p + "z", z),
            (p + "labels", labels.numpy().astype(np.int32)),
            (p + "loss", np.array([loss.item()], dtype=np.float32)),
            (p + "dz", dz.float()),
        ]
    tensors += encoder_golden()
    write_golden(out, tensors)
    print("wrote %s (%d cases)" % (out, len(cases)))


if __name__ == "__main__":
    main()
