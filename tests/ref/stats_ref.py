#!/usr/bin/env python3
"""Reference values for tests/test_stats.c, Python standard library only, and
computed differently from trainer/stats.c: the Student t CDF by adaptive
Simpson integration of the density (stats.c: incomplete beta continued
fraction), quantiles by bisection on that, OLS by exact rational Gaussian
elimination (fractions.Fraction), Holm by its definition. Writes
tests/ref/stats_expected.txt: one "key value" per line.
    python3 tests/ref/stats_ref.py   (from the repository root)"""
import csv, math
from fractions import Fraction

def t_pdf(x, df):
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    return c * (1 + x * x / df) ** (-(df + 1) / 2)

def simpson(f, a, b, eps, whole, depth):
    m = (a + b) / 2
    lm, rm = (a + m) / 2, (m + b) / 2
    left = (m - a) / 6 * (f(a) + 4 * f(lm) + f(m))
    right = (b - m) / 6 * (f(m) + 4 * f(rm) + f(b))
    if depth <= 0 or abs(left + right - whole) <= 15 * eps:
        return left + right + (left + right - whole) / 15
    return simpson(f, a, m, eps / 2, left, depth - 1) + simpson(f, m, b, eps / 2, right, depth - 1)

def integral(f, a, b, eps=1e-14):
    whole = (b - a) / 6 * (f(a) + 4 * f((a + b) / 2) + f(b))
    return simpson(f, a, b, eps, whole, 60)

def t_cdf(t, df):
    # P(T <= t) = 1/2 + int_0^t pdf for t >= 0; split [0, t] into pieces so Simpson sees the shape
    s, x, step = 0.0, 0.0, 0.25
    while x < abs(t):
        y = min(abs(t), x + step)
        s += integral(lambda u: t_pdf(u, df), x, y)
        x = y
        step *= 1.5
    return 0.5 + s if t >= 0 else 0.5 - s

def t_quantile(p, df):
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < p: lo = mid
        else: hi = mid
    return (lo + hi) / 2

def mean(x): return sum(x) / len(x)
def ss(x):
    m = mean(x); return sum((v - m) ** 2 for v in x)

def ols(rows, y):
    """exact normal equations; returns beta, (X'X)^-1 (floats), rss"""
    p = len(rows[0])
    R = [[Fraction(v) for v in r] for r in rows]; Y = [Fraction(v) for v in y]
    A = [[sum(r[i] * r[j] for r in R) for j in range(p)] for i in range(p)]
    M = [A[i] + [Fraction(int(i == j)) for j in range(p)] for i in range(p)]
    for c in range(p):
        piv = next(r for r in range(c, p) if M[r][c] != 0)
        M[c], M[piv] = M[piv], M[c]
        d = M[c][c]; M[c] = [v / d for v in M[c]]
        for r in range(p):
            if r != c:
                f = M[r][c]; M[r] = [a - f * b for a, b in zip(M[r], M[c])]
    inv = [row[p:] for row in M]
    Xty = [sum(r[i] * yy for r, yy in zip(R, Y)) for i in range(p)]
    beta = [sum(inv[i][k] * Xty[k] for k in range(p)) for i in range(p)]
    rss = sum((yy - sum(b * v for b, v in zip(beta, r))) ** 2 for r, yy in zip(R, Y))
    return [float(b) for b in beta], [[float(v) for v in row] for row in inv], float(rss)

def fieller(a, b, vaa, vbb, vab, tq):
    t2 = tq * tq
    A, B, C = b * b - t2 * vbb, a * b - t2 * vab, a * a - t2 * vaa
    disc = B * B - A * C
    if A <= 0 or disc < 0: return None
    r = math.sqrt(disc); return (B - r) / A, (B + r) / A

def holm(ps):
    order = sorted(range(len(ps)), key=lambda i: ps[i]); m = len(ps); out = [0.0] * m; run = 0.0
    for k, i in enumerate(order):
        run = max(run, min(1.0, (m - k) * ps[i])); out[i] = run
    return out

out = []
def put(k, v): out.append("%s %.17g" % (k, v))

# known quantiles (also asserted literally in the C test)
for p, df in [(0.975, 3), (0.975, 10), (0.975, 1), (0.95, 6), (0.995, 15), (0.9, 2.5)]:
    put("tq_%g_%g" % (p, df), t_quantile(p, df))
for t, df in [(2.0, 3), (-1.3, 7), (0.4, 1), (3.5, 15), (1.0, 2.5), (-6.0, 4)]:
    put("tcdf_%g_%g" % (t, df), t_cdf(t, df))

groups = {}
with open("tests/ref/stats_fixture.csv") as f:
    for r in csv.DictReader(f):
        if r["linear_top1"]: groups.setdefault(r["condition"], []).append(float(r["linear_top1"]))

def diff(key, A, B):
    a, b = groups[A], groups[B]
    df = len(a) + len(b) - 2; s2 = (ss(a) + ss(b)) / df
    est = mean(a) - mean(b); se = math.sqrt(s2 * (1 / len(a) + 1 / len(b))); t = est / se
    p = 2 * t_cdf(-abs(t), df); q = t_quantile(0.975, df)
    for k, v in [("est", est), ("se", se), ("t", t), ("df", df), ("p", p), ("lo", est - q * se), ("hi", est + q * se)]:
        put(key + "_" + k, v)
    return p

def fit(key, prefix, quad):
    rows, y, xs = [], [], []
    for name, vals in groups.items():
        if not name.startswith(prefix): continue
        x = float(name[len(prefix):].split("_")[0])
        if not quad and not name.endswith("_n5"): continue
        xs.append(x)
        u = math.log(x) if quad else math.log10(x)
        for v in vals:
            rows.append([1, u, u * u] if quad else [1, u]); y.append(v)
    beta, inv, rss = ols(rows, y)
    n, p = len(y), len(rows[0]); s2 = rss / (n - p); j = p - 1
    se = math.sqrt(s2 * inv[j][j]); t = beta[j] / se; df = n - p
    pv = 2 * t_cdf(-abs(t), df); q = t_quantile(0.975, df)
    for k, v in [("est", beta[j]), ("se", se), ("t", t), ("df", df), ("p", pv), ("lo", beta[j] - q * se), ("hi", beta[j] + q * se)]:
        put(key + "_" + k, v)
    if quad:
        a, b = -beta[1], 2 * beta[2]
        put(key + "_peak", math.exp(a / b))
        ci = fieller(a, b, s2 * inv[1][1], 4 * s2 * inv[2][2], -2 * s2 * inv[1][2], q)
        put(key + "_peaklo", math.exp(ci[0])); put(key + "_peakhi", math.exp(ci[1]))
    return pv

ps = [diff("H1", "P_gauss", "P_pixel"), fit("H3", "S_sigma_", True),
      diff("H5a", "P_real", "P_pixel"), diff("H5b", "P_real", "P_gauss")]
for k, v in zip(["H1", "H3", "H5a", "H5b"], holm(ps)): put(k + "_padj", v)
fit("F4", "S_pool_a", False)

# gap fraction (gauss - pixel) / (real - pixel), Fieller with the 3-group pooled variance
g, px, rl = groups["P_gauss"], groups["P_pixel"], groups["P_real"]
df = len(g) + len(px) + len(rl) - 3; s2 = (ss(g) + ss(px) + ss(rl)) / df
a, b = mean(g) - mean(px), mean(rl) - mean(px)
put("gap_est", a / b)
lo, hi = fieller(a, b, s2 * (1 / len(g) + 1 / len(px)), s2 * (1 / len(rl) + 1 / len(px)), s2 / len(px), t_quantile(0.975, df))
put("gap_lo", lo); put("gap_hi", hi)
# a summary: mean, sd, CI of P_real
x = groups["P_real"]; m = mean(x); sd = math.sqrt(ss(x) / (len(x) - 1)); h = t_quantile(0.975, len(x) - 1) * sd / math.sqrt(len(x))
put("sum_mean", m); put("sum_sd", sd); put("sum_lo", m - h); put("sum_hi", m + h)
# Holm on a fixed vector with a tie and a cap at 1
for i, v in enumerate(holm([0.01, 0.04, 0.03, 0.5, 0.03])): put("holm_%d" % i, v)

with open("tests/ref/stats_expected.txt", "w") as f:
    f.write("\n".join(out) + "\n")
print("wrote tests/ref/stats_expected.txt (%d values)" % len(out))
