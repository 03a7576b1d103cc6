/* trainer/stats.h: the statistics of the reproduction report (issue #15):
   Student t distribution, per-condition summaries with confidence intervals,
   pooled-variance two-sample t-tests, OLS fits (quadratic curvature, slopes),
   Fieller intervals for ratios, Holm's step-down correction, and the verdict
   rule. Plain C with libm, no genrep.h, so tests/test_stats.c can include
   stats.c directly. Nothing here prints or exits: errors come back as text. */
#ifndef TRAINER_STATS_H
#define TRAINER_STATS_H
#include <stddef.h>

/* ---- distributions */
/* Regularised incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1 (continued
   fraction, modified Lentz); NaN outside the domain. */
double stats_betainc(double a, double b, double x);
/* Student t with df > 0 degrees of freedom: P(T <= t), and its inverse for
   0 < p < 1 (bisection on the CDF to full double precision). */
double stats_t_cdf(double t, double df);
double stats_t_quantile(double p, double df);

/* ---- one sample: mean, std (n - 1), n and the `level` CI of the mean
   (sd, lo, hi are NaN when n < 2) */
typedef struct { int n; double mean, sd, lo, hi; } stats_summary;
void stats_summarize(stats_summary *s, const double *x, int n, double level);

/* ---- an estimate with its test: est, se, df, t = est / se, two-sided p,
   `level` CI [lo, hi]; padj is filled by stats_holm */
typedef struct { double est, se, df, t, p, lo, hi, padj; } stats_test;
/* mean(a) - mean(b) with the pooled variance of the two groups (df = na + nb - 2).
   Returns 0, or -1 when a group has fewer than 1 run or df < 1. */
int stats_ttest_pooled(stats_test *r, const double *a, int na, const double *b, int nb, double level);

/* Ordinary least squares y = X beta (X: n rows, p <= 4 columns, row-major).
   beta[p], V[p*p] = s2 (X'X)^-1, s2 = RSS / (n - p). Returns 0, or -1 when
   n <= p or X'X is singular. */
int stats_ols(double *beta, double *V, double *s2, const double *X, const double *y, int n, int p);

/* Fieller's `level` CI for theta = a / b, var(a) = Vaa, var(b) = Vbb,
   cov = Vab, t quantile tq. Returns 1 and [lo, hi] when the set is a bounded
   interval (b significantly away from 0), 0 when it is unbounded. */
int stats_fieller(double *lo, double *hi, double a, double b, double Vaa, double Vbb, double Vab, double tq);

/* Holm's step-down adjusted p-values of m p-values (ties keep input order). */
void stats_holm(double *padj, const double *p, int m);

/* ---- runs: condition name -> values of one metric */
typedef struct { char name[96]; double *x; int n, cap; } stats_group;
typedef struct { stats_group *g; int ng; } stats_data;
/* Reads a CSV whose header names a "condition" column and `metric`;
   rows whose metric is empty or not a number are skipped. */
int stats_data_load(stats_data *d, const char *path, const char *metric, char *err, size_t errlen);
int stats_data_add(stats_data *d, const char *name, double x);
void stats_data_free(stats_data *d);
const stats_group *stats_data_find(const stats_data *d, const char *name);
/* Groups whose name matches `pattern` with one '*' standing for a number:
   fills up to cap (x value, group) pairs in name order; returns their count. */
int stats_data_match(const stats_data *d, const char *pattern, double *xs, const stats_group **gs, int cap);

/* ---- analyses, from a spec string (the `genrep stats` flags):
     diff:ID:A:B:DIR        mean(A) - mean(B), pooled t             DIR + - or .
     quad:ID:PATTERN:DIR    curvature b2 of y = b0 + b1 u + b2 u^2, u = ln(x)
                            over every run of every matching group; also the
                            peak x* = exp(-b1 / 2 b2) with Fieller's CI
     slope:ID:PATTERN:DIR   slope of y on log10(x) over every matching run
     ratio:ID:A:B:C         (mean A - mean B) / (mean C - mean B) with Fieller's
                            CI under the pooled variance of A, B, C (no test)
   DIR is the direction the paper predicts ('.' = none: reported, not in the
   Holm family). */
enum { STATS_DIFF, STATS_QUAD, STATS_SLOPE, STATS_RATIO };
typedef struct {
    int kind, dir, ok;
    char id[32], a[96], b[96], c[96];
    stats_test t;
    int n;                       /* runs used */
    double peak, peak_lo, peak_hi, xmin, xmax; /* quad: in x units; ratio: peak = ratio */
    int peak_bounded;
    char err[160];
} stats_result;
int stats_parse_spec(stats_result *r, const char *spec, char *err, size_t errlen);
/* Evaluates r on d at confidence `level`; r->ok = 0 and r->err say why not. */
void stats_eval(stats_result *r, const stats_data *d, double level);
/* Holm over the results with a direction and ok; the others get padj = p. */
void stats_holm_results(stats_result *r, int m);
/* "reproduced", "contradicted", "not reproduced (inconclusive)", "n/a" for
   ratios and directionless rows, "not computed" when !ok; quad adds the peak rule. */
const char *stats_verdict(const stats_result *r, double alpha);

#endif
