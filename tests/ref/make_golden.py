#!/usr/bin/python3
"""Writes the golden files read by tests/test_golden.c: for every layer and
optimiser of genrep.h, inputs, parameters, an upstream gradient, and what
PyTorch (float32, CPU, one thread, autograd) computes from them.

Run from anywhere:  /usr/bin/python3 tests/ref/make_golden.py
The output is byte-for-byte reproducible (fixed seeds, one thread,
deterministic algorithms), so a rerun followed by `git diff` shows nothing.

Every file holds "ncases" (int32 [n]) and, per case i, tensors named
"c<i>/<what>": "c<i>/dims" (int32) gives the sizes in the order the C test
reads them; gradient tensors start with "d". Names follow genrep.h's
argument names (x = inp, w = weight, b = bias, out, dout, dx = dinp ...).
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_io import write_golden  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
torch.set_default_dtype(torch.float32)

EPS_BN = 1e-5
MOMENTUM_BN = 0.1


def gen(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def randn(g, *shape, scale=1.0, shift=0.0):
    return torch.randn(*shape, generator=g) * scale + shift


def leaf(t):
    return t.clone().requires_grad_(True)


def i32(*v):
    return torch.tensor(v, dtype=torch.int32)


def grad_or_zeros(t):
    return t.grad if t.grad is not None else torch.zeros_like(t)


summary = []


def save(name, cases):
    """cases: list of lists of (name, tensor) without the c<i>/ prefix."""
    tensors = [("ncases", i32(len(cases)))]
    for i, case in enumerate(cases):
        tensors += [("c%d/%s" % (i, n), t) for n, t in case]
    path = os.path.join(HERE, "golden_%s.bin" % name)
    write_golden(path, tensors)
    summary.append((name, len(cases), os.path.getsize(path)))


# ---------------------------------------------------------------- linear
def make_linear():
    g = gen(101)
    cases = []
    # (B, C, OC, bias): B=1, odd sizes, sizes around SIMD widths
    for B, C, OC, bias in [(1, 7, 5, 1), (1, 13, 3, 0), (5, 17, 9, 1), (6, 64, 33, 0), (3, 1, 1, 1),
                           (9, 31, 47, 1), (8, 300, 70, 1)]:     # last: K > a 256-deep GEMM block
        x, w = leaf(randn(g, B, C)), leaf(randn(g, OC, C, scale=C ** -0.5))
        b = leaf(randn(g, OC)) if bias else None
        out = F.linear(x, w, b)
        dout = randn(g, B, OC)
        out.backward(dout)
        case = [("dims", i32(B, C, OC, bias)), ("x", x), ("w", w)]
        if bias:
            case.append(("b", b))
        case += [("out", out), ("dout", dout), ("dx", x.grad), ("dw", w.grad)]
        if bias:
            case.append(("db", b.grad))
        cases.append(case)
    save("linear", cases)


# ---------------------------------------------------------------- conv2d
def make_conv2d():
    g = gen(102)
    cases = []
    # (N, C, H, W, K, R, S, stride, pad, bias); P,Q as PyTorch (floor)
    for N, C, H, W, K, R, S, st, pad, bias in [
            (1, 3, 7, 7, 4, 3, 3, 1, 1, 0),
            (2, 3, 9, 11, 5, 3, 3, 2, 1, 0),
            (2, 3, 9, 11, 4, 1, 1, 1, 0, 0),
            (1, 3, 7, 7, 6, 4, 4, 2, 1, 0),
            (2, 3, 9, 11, 3, 5, 5, 3, 2, 0),
            (1, 3, 9, 11, 5, 4, 4, 3, 0, 0),
            (2, 3, 7, 7, 8, 1, 1, 2, 0, 0),
            (2, 7, 9, 11, 8, 5, 5, 1, 2, 1),
            (2, 5, 8, 8, 16, 3, 3, 1, 1, 1),
            (1, 3, 7, 7, 2, 3, 5, 1, 1, 0),
            (2, 32, 8, 8, 64, 3, 3, 1, 1, 1),      # C*R*S = 288: crosses GEMM blocks
            (1, 16, 16, 16, 24, 4, 4, 2, 1, 0)]:   # DCGAN discriminator block
        x = leaf(randn(g, N, C, H, W))
        w = leaf(randn(g, K, C, R, S, scale=(C * R * S) ** -0.5))
        b = leaf(randn(g, K)) if bias else None
        out = F.conv2d(x, w, b, stride=st, padding=pad)
        dout = randn(g, *out.shape)
        out.backward(dout)
        P, Q = out.shape[2], out.shape[3]
        case = [("dims", i32(N, C, H, W, K, R, S, st, pad, bias, P, Q)), ("x", x), ("w", w)]
        if bias:
            case.append(("b", b))
        case += [("out", out), ("dout", dout), ("dx", x.grad), ("dw", w.grad)]
        if bias:
            case.append(("db", b.grad))
        cases.append(case)
    save("conv2d", cases)


# ------------------------------------------------------- conv_transpose2d
def make_convt2d():
    g = gen(103)
    cases = []
    # (N, C_in, H, W, C_out, R, S, stride, pad, outpad, bias)
    for N, C, H, W, K, R, S, st, pad, op, bias in [
            (2, 8, 4, 4, 5, 4, 4, 2, 1, 0, 0),     # DCGAN block
            (1, 3, 5, 5, 4, 3, 3, 2, 1, 1, 0),     # kernel 3, output_padding 1 -> 2H
            (2, 4, 3, 5, 3, 3, 3, 2, 1, 0, 0),
            (1, 6, 4, 4, 3, 4, 4, 2, 1, 0, 1),
            (2, 3, 7, 7, 2, 3, 3, 1, 1, 0, 1),     # stride 1
            (1, 2, 3, 3, 3, 5, 5, 3, 2, 2, 0),     # stride 3, output_padding 2
            (1, 16, 1, 1, 7, 4, 4, 1, 0, 0, 0),    # DCGAN first layer: 1x1 -> 4x4
            (2, 64, 4, 4, 32, 4, 4, 2, 1, 0, 1)]:  # DCGAN generator block, wider
        x = leaf(randn(g, N, C, H, W))
        w = leaf(randn(g, C, K, R, S, scale=(C * R * S) ** -0.5))
        b = leaf(randn(g, K)) if bias else None
        out = F.conv_transpose2d(x, w, b, stride=st, padding=pad, output_padding=op)
        dout = randn(g, *out.shape)
        out.backward(dout)
        P, Q = out.shape[2], out.shape[3]
        case = [("dims", i32(N, C, H, W, K, R, S, st, pad, op, bias, P, Q)), ("x", x), ("w", w)]
        if bias:
            case.append(("b", b))
        case += [("out", out), ("dout", dout), ("dx", x.grad), ("dw", w.grad)]
        if bias:
            case.append(("db", b.grad))
        cases.append(case)
    save("convt2d", cases)


# ------------------------------------------------------------- batchnorm
def bn_input(g, N, C, HW):
    # per-channel offsets and scales so mean and var are far from 0 and 1
    shift = randn(g, 1, C, 1) * 2
    scale = torch.rand(1, C, 1, generator=g) * 2 + 0.5
    return randn(g, N, C, HW) * scale + shift


def make_batchnorm():
    g = gen(104)
    cases = []
    # (N, C, H, W, training, affine); H=W=0 means 1-d input (N, C) (HW = 1)
    for N, C, H, W, training, affine in [
            (2, 3, 5, 7, 1, 1),
            (4, 5, 0, 0, 1, 1),      # BatchNorm1d (B, C)
            (3, 4, 3, 3, 1, 0),      # affine=False
            (8, 17, 0, 0, 1, 1),
            (2, 3, 4, 6, 0, 1),      # eval
            (5, 4, 0, 0, 0, 1),      # eval 1-d
            (1, 2, 3, 5, 1, 1),      # N = 1 (spatial stats only)
            (4, 8, 16, 16, 1, 1),    # HW = 256: full SIMD vectors
            (64, 40, 0, 0, 1, 1)]:   # 1-d, projection-head sized
        HW = H * W if H else 1
        x3 = bn_input(g, N, C, HW)
        shape = (N, C, H, W) if H else (N, C)
        x = leaf(x3.reshape(shape))
        gamma = leaf(randn(g, C, scale=0.5, shift=1.0)) if affine else None
        beta = leaf(randn(g, C)) if affine else None
        rm0 = randn(g, C, scale=0.5)
        rv0 = torch.rand(C, generator=g) + 0.5
        rm, rv = rm0.clone(), rv0.clone()
        out = F.batch_norm(x, rm, rv, gamma, beta, training=bool(training),
                           momentum=MOMENTUM_BN, eps=EPS_BN)
        if training:
            # the cache PyTorch itself saves for backward
            with torch.no_grad():
                _, mean, rstd = torch.native_batch_norm(x.detach(), None, None, None, None, True,
                                                        MOMENTUM_BN, EPS_BN)
        else:
            mean, rstd = rm0.clone(), 1.0 / torch.sqrt(rv0 + EPS_BN)
        dout = randn(g, *out.shape)
        out.backward(dout)
        case = [("dims", i32(N, C, HW, training, affine)), ("x", x), ("running_mean0", rm0),
                ("running_var0", rv0)]
        if affine:
            case += [("gamma", gamma), ("beta", beta)]
        case += [("out", out), ("mean", mean), ("rstd", rstd), ("running_mean", rm),
                 ("running_var", rv), ("dout", dout), ("dx", x.grad)]
        if affine:
            case += [("dgamma", gamma.grad), ("dbeta", beta.grad)]
        cases.append(case)
    save("batchnorm", cases)


def make_condbn():
    g = gen(105)
    cases = []
    # (N, C, H, W, training); out = xhat * (1 + gain) + bias, gain/bias (N, C)
    for N, C, H, W, training in [(2, 3, 5, 7, 1), (4, 6, 2, 3, 1), (3, 5, 0, 0, 1), (2, 3, 4, 4, 0),
                                 (1, 4, 3, 5, 1), (4, 8, 8, 8, 1)]:
        HW = H * W if H else 1
        shape = (N, C, H, W) if H else (N, C)
        bshape = (N, C, 1, 1) if H else (N, C)
        x = leaf(bn_input(g, N, C, HW).reshape(shape))
        gain = leaf(randn(g, N, C, scale=0.3))
        bias = leaf(randn(g, N, C, scale=0.3))
        rm0 = randn(g, C, scale=0.5)
        rv0 = torch.rand(C, generator=g) + 0.5
        rm, rv = rm0.clone(), rv0.clone()
        xhat = F.batch_norm(x, rm, rv, None, None, training=bool(training), momentum=MOMENTUM_BN,
                            eps=EPS_BN)
        out = xhat * (1 + gain.reshape(bshape)) + bias.reshape(bshape)
        if training:
            with torch.no_grad():
                _, mean, rstd = torch.native_batch_norm(x.detach(), None, None, None, None, True,
                                                        MOMENTUM_BN, EPS_BN)
        else:
            mean, rstd = rm0.clone(), 1.0 / torch.sqrt(rv0 + EPS_BN)
        dout = randn(g, *out.shape)
        out.backward(dout)
        cases.append([("dims", i32(N, C, HW, training)), ("x", x), ("gain", gain), ("bias", bias),
                      ("running_mean0", rm0), ("running_var0", rv0), ("out", out), ("mean", mean),
                      ("rstd", rstd), ("running_mean", rm), ("running_var", rv), ("dout", dout),
                      ("dx", x.grad), ("dgain", gain.grad), ("dbias", bias.grad)])
    save("condbn", cases)


# ------------------------------------------------- activations, residual
def nonzero(t, lo=1e-3):
    # keep inputs away from the kinks of relu / leaky_relu
    return torch.where(t.abs() < lo, torch.full_like(t, 0.5), t)


def make_act():
    g = gen(106)
    cases = []
    # n covers 1, less than one AVX2 vector, vector multiples and odd tails
    for n, scale in [(1, 1.0), (7, 2.0), (16, 3.0), (33, 3.0), (1037, 4.0), (4099, 12.0)]:
        x0 = nonzero(randn(g, n, scale=scale))
        case = [("dims", i32(n)), ("x", x0)]
        for name, fn in [("relu", F.relu), ("lrelu", lambda t: F.leaky_relu(t, 0.2)),
                         ("tanh", torch.tanh), ("sigmoid", torch.sigmoid)]:
            x = leaf(x0)
            out = fn(x)
            dout = randn(g, n)
            out.backward(dout)
            case += [(name + "/out", out), (name + "/dout", dout), (name + "/dx", x.grad)]
        a, b = leaf(x0), leaf(randn(g, n))
        out = a + b
        dout = randn(g, n)
        out.backward(dout)
        case += [("add/b", b), ("add/out", out), ("add/dout", dout), ("add/da", a.grad),
                 ("add/db", b.grad)]
        cases.append(case)
    save("act", cases)


# --------------------------------------------------------------- pooling
def make_pool():
    g = gen(107)
    avg = []
    for N, C, HW in [(2, 3, 35), (1, 16, 1), (3, 5, 64), (1, 1, 7)]:
        x = leaf(randn(g, N, C, HW))
        out = x.mean(dim=2)
        dout = randn(g, N, C)
        out.backward(dout)
        avg.append([("dims", i32(N, C, HW)), ("x", x), ("out", out), ("dout", dout), ("dx", x.grad)])
    save("avgpool", avg)

    mx = []
    for N, C, H, W, k, s, p in [(2, 3, 7, 9, 2, 2, 0), (1, 4, 9, 11, 3, 2, 1), (2, 2, 8, 8, 2, 2, 0),
                                (1, 3, 5, 7, 3, 2, 1), (1, 2, 4, 4, 3, 2, 1), (2, 3, 6, 5, 2, 2, 0)]:
        # distinct values (a shuffled ramp) so no window has ties
        M = N * C * H * W
        vals = (torch.randperm(M, generator=g).to(torch.float32) - M / 2) / 8
        x = leaf(vals.reshape(N, C, H, W))
        out, idx = F.max_pool2d(x, k, s, p, return_indices=True)
        dout = randn(g, *out.shape)
        out.backward(dout)
        P, Q = out.shape[2], out.shape[3]
        mx.append([("dims", i32(N, C, H, W, k, s, p, P, Q)), ("x", x), ("out", out),
                   ("argmax", idx.to(torch.int32)), ("dout", dout), ("dx", x.grad)])
    save("maxpool", mx)


def make_upsample():
    g = gen(108)
    cases = []
    for N, C, H, W in [(2, 3, 4, 5), (1, 1, 1, 1), (1, 4, 7, 3), (2, 2, 8, 8)]:
        x = leaf(randn(g, N, C, H, W))
        out = F.interpolate(x, scale_factor=2, mode="nearest")
        dout = randn(g, *out.shape)
        out.backward(dout)
        cases.append([("dims", i32(N, C, H, W)), ("x", x), ("out", out), ("dout", dout),
                      ("dx", x.grad)])
    save("upsample", cases)


def make_embedding():
    g = gen(109)
    cases = []
    for B, V, D in [(7, 10, 13), (1, 5, 3), (16, 100, 32), (12, 3, 17)]:
        idx = torch.randint(0, V, (B,), generator=g)
        if B > 2:
            idx[1] = idx[0]        # a repeated index: gradients must add up
            idx[2] = V - 1         # and the last row
        table = leaf(randn(g, V, D))
        out = F.embedding(idx, table)
        dout = randn(g, B, D)
        out.backward(dout)
        cases.append([("dims", i32(B, V, D)), ("idx", idx.to(torch.int32)), ("table", table),
                      ("out", out), ("dout", dout), ("dtable", table.grad)])
    save("embedding", cases)


def make_l2norm():
    g = gen(110)
    cases = []
    eps = 1e-12
    # (B, D, zero_row): a zero row gives out 0 and, as PyTorch, dinp = dout/eps
    for B, D, zero in [(5, 17, 0), (3, 128, 0), (1, 1, 0), (4, 33, 0), (3, 8, 1)]:
        x0 = randn(g, B, D, scale=3.0)
        if zero:
            x0[1] = 0
        x = leaf(x0)
        out = F.normalize(x, p=2.0, dim=1, eps=eps)
        with torch.no_grad():
            norm = x.norm(p=2, dim=1).clamp_min(eps)
        dout = randn(g, B, D)
        out.backward(dout)
        cases.append([("dims", i32(B, D, zero)), ("eps", torch.tensor([eps])), ("x", x),
                      ("out", out), ("norm", norm), ("dout", dout), ("dx", x.grad)])
    save("l2norm", cases)


def make_xent():
    g = gen(111)
    cases = []
    for B, V, scale, dloss in [(4, 10, 1.0, 1.0), (1, 1, 1.0, 1.0), (3, 1000, 20.0, 0.7),
                               (7, 33, 3.0, 1.0), (2, 5, 100.0, 2.5)]:
        logits = leaf(randn(g, B, V, scale=scale))
        tgt = torch.randint(0, V, (B,), generator=g)
        loss = F.cross_entropy(logits, tgt, reduction="mean")
        with torch.no_grad():
            probs = torch.softmax(logits, dim=1)
        loss.backward(torch.tensor(dloss))
        cases.append([("dims", i32(B, V)), ("logits", logits), ("targets", tgt.to(torch.int32)),
                      ("dloss", torch.tensor([dloss])), ("loss", loss.reshape(1)), ("probs", probs),
                      ("dlogits", logits.grad)])
    save("xent", cases)


# ------------------------------------------------------------ optimisers
def make_optim():
    g = gen(112)
    steps, n = 6, 37
    cases = []
    # SGD: config (lr, momentum, wd, nesterov); Adam: (lr, b1, b2, eps, wd, decoupled)
    configs = [("sgd", (0.1, 0.9, 1e-4, 0)), ("sgd", (0.1, 0.9, 1e-4, 1)), ("sgd", (0.05, 0.0, 0.0, 0)),
               ("sgd", (0.2, 0.5, 1e-2, 1)),
               ("adam", (1e-2, 0.9, 0.999, 1e-8, 0.0, 0)), ("adam", (1e-2, 0.9, 0.999, 1e-8, 1e-2, 0)),
               ("adam", (3e-3, 0.8, 0.99, 1e-6, 0.05, 1)), ("adam", (1e-2, 0.9, 0.999, 1e-8, 0.0, 1))]
    for kind, cfg in configs:
        p = randn(g, n).requires_grad_(True)
        grads = randn(g, steps, n)
        p0 = p.detach().clone()
        if kind == "sgd":
            lr, mom, wd, nest = cfg
            opt = torch.optim.SGD([p], lr=lr, momentum=mom, weight_decay=wd, nesterov=bool(nest))
        else:
            lr, b1, b2, eps, wd, dec = cfg
            cls = torch.optim.AdamW if dec else torch.optim.Adam
            opt = cls([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
        after = []
        for t in range(steps):
            p.grad = grads[t].clone()
            opt.step()
            after.append(p.detach().clone())
        case = [("kind", i32(0 if kind == "sgd" else 1)), ("dims", i32(n, steps)),
                ("cfg", torch.tensor(cfg, dtype=torch.float32)), ("p0", p0), ("grads", grads),
                ("params", torch.stack(after))]
        st = opt.state[p]
        if kind == "sgd":
            if st.get("momentum_buffer") is not None:
                case.append(("buf", st["momentum_buffer"]))
        else:
            case += [("m", st["exp_avg"]), ("v", st["exp_avg_sq"])]
        cases.append(case)
    save("optim", cases)

    # cosine schedule, from the declaration: step < warmup -> base*(step+1)/warmup;
    # else t = (step - warmup)/(total - warmup), min + (base - min)*(1 + cos(pi t))/2
    def cosine(base, mn, step, warmup, total):
        if step < warmup:
            return base * (step + 1) / warmup
        t = (step - warmup) / (total - warmup)
        return mn + 0.5 * (base - mn) * (1 + math.cos(math.pi * t))

    rows_i, rows_f = [], []
    for base, mn, warmup, total in [(0.1, 0.0, 10, 100), (3e-4, 1e-5, 0, 50), (1.0, 0.1, 5, 7)]:
        for step in sorted({0, 1, warmup - 1, warmup, warmup + 1, (warmup + total) // 2, total - 1, total}):
            if step < 0:
                continue
            rows_i.append((step, warmup, total))
            rows_f.append((base, mn, cosine(base, mn, step, warmup, total)))
    save("cosine", [[("steps", torch.tensor(rows_i, dtype=torch.int32)),
                     ("vals", torch.tensor(rows_f, dtype=torch.float64).float())]])


def main():
    for f in [make_linear, make_conv2d, make_convt2d, make_batchnorm, make_condbn, make_act, make_pool,
              make_upsample, make_embedding, make_l2norm, make_xent, make_optim]:
        f()
    total = sum(s for _, _, s in summary)
    print("make_golden: torch %s, %d files, %d cases, %.1f KiB in %s" % (
        torch.__version__, len(summary), sum(c for _, c, _ in summary), total / 1024, HERE))
    for name, nc, size in summary:
        print("  golden_%-14s %2d cases %8d bytes" % (name + ".bin", nc, size))


if __name__ == "__main__":
    main()
