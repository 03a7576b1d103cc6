/* trainer/stats.c: see stats.h. Double precision throughout; every function
   is checked in tests/test_stats.c against known values and against
   tests/ref/stats_ref.py (Python standard library, computed differently:
   the t CDF by numerical integration of the density, OLS with exact fractions). */
#include "stats.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

/* ---------------------------------------------------------- distributions */

/* Continued fraction of I_x(a, b) (modified Lentz), valid for x < (a+1)/(a+b+2). */
static double stats__betacf(double a, double b, double x) {
    const double TINY = 1e-300, EPS = 1e-16;
    double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < TINY) d = TINY;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d; if (fabs(d) < TINY) d = TINY;
        c = 1 + aa / c; if (fabs(c) < TINY) c = TINY;
        d = 1 / d; h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d; if (fabs(d) < TINY) d = TINY;
        c = 1 + aa / c; if (fabs(c) < TINY) c = TINY;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < EPS) break;
    }
    return h;
}

double stats_betainc(double a, double b, double x) {
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1)) return NAN;
    if (x == 0 || x == 1) return x;
    /* front factor x^a (1-x)^b / (a B(a, b)), in logs */
    double lf = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1) / (a + b + 2)) return exp(lf) * stats__betacf(a, b, x) / a;
    return 1 - exp(lf) * stats__betacf(b, a, 1 - x) / b;
}

double stats_t_cdf(double t, double df) {
    if (!(df > 0) || isnan(t)) return NAN;
    if (isinf(t)) return t > 0 ? 1 : 0;
    /* P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2) */
    double tail = 0.5 * stats_betainc(0.5 * df, 0.5, df / (df + t * t));
    return t > 0 ? 1 - tail : tail;
}

double stats_t_quantile(double p, double df) {
    if (!(p > 0) || !(p < 1) || !(df > 0)) return NAN;
    if (p == 0.5) return 0;
    if (p < 0.5) return -stats_t_quantile(1 - p, df);
    double lo = 0, hi = 1;
    while (stats_t_cdf(hi, df) < p && hi < 1e300) { lo = hi; hi *= 2; }
    for (int i = 0; i < 2000 && hi - lo > 1e-15 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (stats_t_cdf(mid, df) < p) lo = mid; else hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* ------------------------------------------------------------ summaries */

void stats_summarize(stats_summary *s, const double *x, int n, double level) {
    s->n = n; s->mean = s->sd = s->lo = s->hi = NAN;
    if (n < 1) return;
    double m = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m /= n;
    s->mean = m;
    if (n < 2) return;
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    s->sd = sqrt(ss / (n - 1));
    double h = stats_t_quantile(0.5 + 0.5 * level, n - 1) * s->sd / sqrt((double)n);
    s->lo = m - h; s->hi = m + h;
}

/* fill p and the CI of an estimate from est, se, df */
static void stats__finish(stats_test *r, double level) {
    r->t = r->est / r->se;
    r->p = r->se > 0 ? 2 * stats_t_cdf(-fabs(r->t), r->df) : (r->est == 0 ? 1 : 0);
    double q = stats_t_quantile(0.5 + 0.5 * level, r->df);
    r->lo = r->est - q * r->se; r->hi = r->est + q * r->se;
    r->padj = r->p;
}

static double stats__ss(const double *x, int n, double *mean) {
    double m = 0, ss = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m /= n;
    for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    *mean = m;
    return ss;
}

int stats_ttest_pooled(stats_test *r, const double *a, int na, const double *b, int nb, double level) {
    memset(r, 0, sizeof *r);
    if (na < 1 || nb < 1 || na + nb - 2 < 1) return -1;
    double ma, mb, ssa = stats__ss(a, na, &ma), ssb = stats__ss(b, nb, &mb);
    r->df = na + nb - 2;
    double s2 = (ssa + ssb) / r->df;
    r->est = ma - mb;
    r->se = sqrt(s2 * (1.0 / na + 1.0 / nb));
    stats__finish(r, level);
    return 0;
}

/* --------------------------------------------------------------- OLS */

/* In-place inverse of a p x p symmetric positive definite matrix by
   Gauss-Jordan with partial pivoting; -1 when singular. */
static int stats__inverse(double *A, int p) {
    double I[16] = {0};
    for (int i = 0; i < p; i++) I[i * p + i] = 1;
    double scale = 0;
    for (int i = 0; i < p * p; i++) scale = fmax(scale, fabs(A[i]));
    for (int c = 0; c < p; c++) {
        int piv = c;
        for (int r = c + 1; r < p; r++) if (fabs(A[r * p + c]) > fabs(A[piv * p + c])) piv = r;
        if (!(fabs(A[piv * p + c]) > 1e-13 * scale)) return -1;
        for (int k = 0; k < p; k++) {
            double t = A[c * p + k]; A[c * p + k] = A[piv * p + k]; A[piv * p + k] = t;
            t = I[c * p + k]; I[c * p + k] = I[piv * p + k]; I[piv * p + k] = t;
        }
        double d = A[c * p + c];
        for (int k = 0; k < p; k++) { A[c * p + k] /= d; I[c * p + k] /= d; }
        for (int r = 0; r < p; r++) {
            if (r == c) continue;
            double f = A[r * p + c];
            for (int k = 0; k < p; k++) { A[r * p + k] -= f * A[c * p + k]; I[r * p + k] -= f * I[c * p + k]; }
        }
    }
    memcpy(A, I, sizeof(double) * p * p);
    return 0;
}

int stats_ols(double *beta, double *V, double *s2, const double *X, const double *y, int n, int p) {
    if (p < 1 || p > 4 || n <= p) return -1;
    double XtX[16] = {0}, Xty[4] = {0};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < p; j++) {
            Xty[j] += X[i * p + j] * y[i];
            for (int k = 0; k < p; k++) XtX[j * p + k] += X[i * p + j] * X[i * p + k];
        }
    if (stats__inverse(XtX, p)) return -1;
    for (int j = 0; j < p; j++) {
        beta[j] = 0;
        for (int k = 0; k < p; k++) beta[j] += XtX[j * p + k] * Xty[k];
    }
    double rss = 0;
    for (int i = 0; i < n; i++) {
        double f = 0;
        for (int j = 0; j < p; j++) f += X[i * p + j] * beta[j];
        rss += (y[i] - f) * (y[i] - f);
    }
    *s2 = rss / (n - p);
    for (int i = 0; i < p * p; i++) V[i] = *s2 * XtX[i];
    return 0;
}

int stats_fieller(double *lo, double *hi, double a, double b, double Vaa, double Vbb, double Vab, double tq) {
    /* {theta : (a - theta b)^2 <= tq^2 (Vaa - 2 theta Vab + theta^2 Vbb)} */
    double t2 = tq * tq, A = b * b - t2 * Vbb, B = a * b - t2 * Vab, C = a * a - t2 * Vaa;
    double disc = B * B - A * C;
    if (!(A > 0) || disc < 0) { *lo = -INFINITY; *hi = INFINITY; return 0; }
    double r = sqrt(disc);
    *lo = (B - r) / A; *hi = (B + r) / A;
    return 1;
}

void stats_holm(double *padj, const double *p, int m) {
    int *o = (int *)malloc(sizeof(int) * (size_t)(m > 0 ? m : 1));
    for (int i = 0; i < m; i++) o[i] = i;
    for (int i = 1; i < m; i++) /* insertion sort: stable */
        for (int j = i; j > 0 && p[o[j]] < p[o[j - 1]]; j--) { int t = o[j]; o[j] = o[j - 1]; o[j - 1] = t; }
    double run = 0;
    for (int k = 0; k < m; k++) {
        double v = (m - k) * p[o[k]];
        if (v > 1) v = 1;
        if (v > run) run = v;
        padj[o[k]] = run;
    }
    free(o);
}

/* --------------------------------------------------------------- data */

int stats_data_add(stats_data *d, const char *name, double x) {
    stats_group *g = (stats_group *)stats_data_find(d, name);
    if (!g) {
        stats_group *ng = (stats_group *)realloc(d->g, sizeof(stats_group) * (size_t)(d->ng + 1));
        if (!ng) return -1;
        d->g = ng; g = &d->g[d->ng++];
        memset(g, 0, sizeof *g);
        snprintf(g->name, sizeof g->name, "%s", name);
    }
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 8;
        double *nx = (double *)realloc(g->x, sizeof(double) * (size_t)cap);
        if (!nx) return -1;
        g->x = nx; g->cap = cap;
    }
    g->x[g->n++] = x;
    return 0;
}

void stats_data_free(stats_data *d) {
    for (int i = 0; i < d->ng; i++) free(d->g[i].x);
    free(d->g); d->g = NULL; d->ng = 0;
}

const stats_group *stats_data_find(const stats_data *d, const char *name) {
    for (int i = 0; i < d->ng; i++) if (!strcmp(d->g[i].name, name)) return &d->g[i];
    return NULL;
}

/* split a CSV line in place on commas (fields may be "quoted", no embedded quotes) */
static int stats__fields(char *line, char **f, int cap) {
    int n = 0;
    char *s = line;
    while (n < cap) {
        if (*s == '"') {
            f[n++] = ++s;
            while (*s && *s != '"') s++;
            if (*s) *s++ = 0;
            while (*s && *s != ',') s++;
        } else {
            f[n++] = s;
            while (*s && *s != ',' && *s != '\n' && *s != '\r') s++;
        }
        if (*s != ',') { *s = 0; break; }
        *s++ = 0;
    }
    return n;
}

int stats_data_load(stats_data *d, const char *path, const char *metric, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    FILE *fp = fopen(path, "r");
    if (!fp) { snprintf(err, errlen, "cannot open %s", path); return -1; }
    char line[8192], *f[64];
    int ci = -1, mi = -1, nf;
    if (!fgets(line, sizeof line, fp)) { fclose(fp); snprintf(err, errlen, "%s is empty", path); return -1; }
    nf = stats__fields(line, f, 64);
    for (int i = 0; i < nf; i++) {
        if (!strcmp(f[i], "condition")) ci = i;
        if (!strcmp(f[i], metric)) mi = i;
    }
    if (ci < 0 || mi < 0) {
        fclose(fp);
        snprintf(err, errlen, "%s: the header has no '%s' column", path, ci < 0 ? "condition" : metric);
        return -1;
    }
    while (fgets(line, sizeof line, fp)) {
        nf = stats__fields(line, f, 64);
        if (nf <= ci || nf <= mi || !f[ci][0]) continue;
        char *end;
        double v = strtod(f[mi], &end);
        if (end == f[mi] || !isfinite(v)) continue;
        if (stats_data_add(d, f[ci], v)) { fclose(fp); snprintf(err, errlen, "out of memory"); return -1; }
    }
    fclose(fp);
    return 0;
}

int stats_data_match(const stats_data *d, const char *pattern, double *xs, const stats_group **gs, int cap) {
    const char *star = strchr(pattern, '*');
    if (!star) return 0;
    size_t pre = (size_t)(star - pattern), post = strlen(star + 1);
    int n = 0;
    for (int i = 0; i < d->ng && n < cap; i++) {
        const char *nm = d->g[i].name;
        size_t L = strlen(nm);
        if (L <= pre + post || strncmp(nm, pattern, pre) || strcmp(nm + L - post, star + 1)) continue;
        char num[96];
        size_t k = L - pre - post;
        if (k >= sizeof num) continue;
        memcpy(num, nm + pre, k); num[k] = 0;
        char *end;
        double x = strtod(num, &end);
        if (*end || end == num) continue;
        /* insertion in name order keeps the output deterministic */
        int j = n++;
        while (j > 0 && strcmp(gs[j - 1]->name, nm) > 0) { gs[j] = gs[j - 1]; xs[j] = xs[j - 1]; j--; }
        gs[j] = &d->g[i]; xs[j] = x;
    }
    return n;
}

/* ------------------------------------------------------------- analyses */

int stats_parse_spec(stats_result *r, const char *spec, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    char buf[512], *f[6];
    snprintf(buf, sizeof buf, "%s", spec);
    int n = 0;
    for (char *s = buf; n < 6;) {
        f[n++] = s;
        char *c = strchr(s, ':');
        if (!c) break;
        *c = 0; s = c + 1;
    }
    const char *kinds[] = {"diff", "quad", "slope", "ratio"};
    const int need[] = {5, 4, 4, 5};
    r->kind = -1;
    for (int k = 0; k < 4; k++) if (!strcmp(f[0], kinds[k])) r->kind = k;
    if (r->kind < 0 || n != need[r->kind]) {
        snprintf(err, errlen, "'%s': expected diff:ID:A:B:DIR, quad:ID:PATTERN:DIR, slope:ID:PATTERN:DIR or ratio:ID:A:B:C", spec);
        return -1;
    }
    snprintf(r->id, sizeof r->id, "%s", f[1]);
    snprintf(r->a, sizeof r->a, "%s", f[2]);
    if (r->kind == STATS_DIFF || r->kind == STATS_RATIO) snprintf(r->b, sizeof r->b, "%s", f[3]);
    if (r->kind == STATS_RATIO) snprintf(r->c, sizeof r->c, "%s", f[4]);
    else {
        const char *dir = f[n - 1];
        if (!strcmp(dir, "+")) r->dir = 1;
        else if (!strcmp(dir, "-")) r->dir = -1;
        else if (!strcmp(dir, ".")) r->dir = 0;
        else { snprintf(err, errlen, "'%s': direction '%s', expected + - or .", spec, dir); return -1; }
    }
    if ((r->kind == STATS_QUAD || r->kind == STATS_SLOPE) && !strchr(r->a, '*')) {
        snprintf(err, errlen, "'%s': the pattern needs a '*' where the number is", spec);
        return -1;
    }
    return 0;
}

#define STATS_MAXG 64
void stats_eval(stats_result *r, const stats_data *d, double level) {
    r->ok = 0; r->err[0] = 0; r->peak = r->peak_lo = r->peak_hi = NAN;
    memset(&r->t, 0, sizeof r->t);
    if (r->kind == STATS_DIFF || r->kind == STATS_RATIO) {
        const stats_group *A = stats_data_find(d, r->a), *B = stats_data_find(d, r->b);
        const stats_group *C = r->kind == STATS_RATIO ? stats_data_find(d, r->c) : NULL;
        const char *missing = !A ? r->a : !B ? r->b : (r->kind == STATS_RATIO && !C) ? r->c : NULL;
        if (missing) { snprintf(r->err, sizeof r->err, "no runs of %s", missing); return; }
        if (r->kind == STATS_DIFF) {
            r->n = A->n + B->n;
            if (stats_ttest_pooled(&r->t, A->x, A->n, B->x, B->n, level) || A->n + B->n < 3) {
                snprintf(r->err, sizeof r->err, "too few runs (%d and %d) for a test", A->n, B->n); return;
            }
            r->ok = 1;
            return;
        }
        double ma, mb, mc, ss = stats__ss(A->x, A->n, &ma) + stats__ss(B->x, B->n, &mb) + stats__ss(C->x, C->n, &mc);
        int df = A->n + B->n + C->n - 3;
        r->n = A->n + B->n + C->n;
        double a = ma - mb, b = mc - mb;
        r->peak = a / b;
        r->t.est = r->peak; r->t.df = df; r->t.p = r->t.padj = NAN;
        if (df < 1) { snprintf(r->err, sizeof r->err, "too few runs for an interval"); r->ok = 1; r->peak_bounded = 0; return; }
        double s2 = ss / df, tq = stats_t_quantile(0.5 + 0.5 * level, df);
        r->peak_bounded = stats_fieller(&r->peak_lo, &r->peak_hi, a, b, s2 * (1.0 / A->n + 1.0 / B->n),
                                        s2 * (1.0 / C->n + 1.0 / B->n), s2 / B->n, tq);
        r->t.lo = r->peak_lo; r->t.hi = r->peak_hi;
        r->ok = 1;
        return;
    }
    double xs[STATS_MAXG];
    const stats_group *gs[STATS_MAXG];
    int ng = stats_data_match(d, r->a, xs, gs, STATS_MAXG), n = 0;
    for (int i = 0; i < ng; i++) n += gs[i]->n;
    int p = r->kind == STATS_QUAD ? 3 : 2;
    r->n = n;
    if (ng < p || n <= p) { snprintf(r->err, sizeof r->err, "%d runs in %d conditions match %s: too few for the fit", n, ng, r->a); return; }
    double *X = (double *)malloc(sizeof(double) * (size_t)n * p), *y = (double *)malloc(sizeof(double) * (size_t)n);
    int k = 0;
    r->xmin = INFINITY; r->xmax = -INFINITY;
    for (int i = 0; i < ng; i++) {
        if (!(xs[i] > 0)) { snprintf(r->err, sizeof r->err, "%s: x must be > 0 for a log scale", gs[i]->name); free(X); free(y); return; }
        double u = r->kind == STATS_QUAD ? log(xs[i]) : log10(xs[i]);
        r->xmin = fmin(r->xmin, xs[i]); r->xmax = fmax(r->xmax, xs[i]);
        for (int j = 0; j < gs[i]->n; j++, k++) {
            X[k * p + 0] = 1; X[k * p + 1] = u;
            if (p == 3) X[k * p + 2] = u * u;
            y[k] = gs[i]->x[j];
        }
    }
    double beta[4], V[16], s2;
    int bad = stats_ols(beta, V, &s2, X, y, n, p);
    free(X); free(y);
    if (bad) { snprintf(r->err, sizeof r->err, "the fit over %s is singular", r->a); return; }
    int j = p - 1; /* the tested coefficient: b2 or the slope */
    r->t.est = beta[j]; r->t.se = sqrt(V[j * p + j]); r->t.df = n - p;
    stats__finish(&r->t, level);
    if (p == 3) { /* peak u* = -b1 / (2 b2) = a / b */
        double tq = stats_t_quantile(0.5 + 0.5 * level, n - p), lo, hi;
        double a = -beta[1], b = 2 * beta[2];
        r->peak = exp(a / b);
        r->peak_bounded = stats_fieller(&lo, &hi, a, b, V[1 * 3 + 1], 4 * V[2 * 3 + 2], -2 * V[1 * 3 + 2], tq);
        r->peak_lo = r->peak_bounded ? exp(lo) : 0;
        r->peak_hi = r->peak_bounded ? exp(hi) : INFINITY;
    }
    r->ok = 1;
}

void stats_holm_results(stats_result *r, int m) {
    double p[64] = {0}, padj[64] = {0};
    int idx[64], k = 0;
    for (int i = 0; i < m; i++) {
        r[i].t.padj = r[i].t.p;
        if (r[i].ok && r[i].dir && r[i].kind != STATS_RATIO && k < 64) { idx[k] = i; p[k++] = r[i].t.p; }
    }
    stats_holm(padj, p, k);
    for (int i = 0; i < k; i++) r[idx[i]].t.padj = padj[i];
}

const char *stats_verdict(const stats_result *r, double alpha) {
    if (!r->ok) return "not computed";
    if (r->kind == STATS_RATIO || !r->dir) return "n/a";
    if (!(r->t.padj < alpha)) return "not reproduced (inconclusive)";
    int sign = r->t.est > 0 ? 1 : r->t.est < 0 ? -1 : 0;
    if (sign != r->dir) return "contradicted";
    if (r->kind == STATS_QUAD && !(r->peak >= r->xmin && r->peak <= r->xmax))
        return "curvature reproduced, peak outside the tested range";
    return "reproduced";
}
