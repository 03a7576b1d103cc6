/* trainer/cmd_stats.c: `genrep stats`, the statistics of the reproduction
   report as markdown tables (trainer/stats.c does the arithmetic; this file
   only parses flags and formats). Used by trainer/repro_report.sh. */
#include "common.h"
#include "opt.h"
#include <stddef.h>
#include "stats.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *csv, *metric, *tsv, *scsv;
    int summary;
    opt_list test;
    float level, alpha;
} stats_opts;

#define F(x) offsetof(stats_opts, x)
static const opt_spec stats_spec[] = {
    {"csv", OPT_STR, F(csv), NULL, 0, 0, NULL, "FILE", "one row per run; columns 'condition' and the metric", OPT_REQUIRED},
    {"metric", OPT_STR, F(metric), "linear_top1", 0, 0, NULL, "COL", "the column to analyse", 0},
    {"summary", OPT_BOOL, F(summary), NULL, 0, 0, NULL, NULL, "table of every condition: n, mean, std, CI of the mean", 0},
    {"test", OPT_LIST, F(test), NULL, 0, 0, NULL, "SPEC", "an analysis (repeatable, below); those with a direction form one Holm family", 0},
    {"level", OPT_FLOAT, F(level), "0.95", 0.5, 0.9999, NULL, "L", "confidence level", 0},
    {"alpha", OPT_FLOAT, F(alpha), "0.05", 1e-6, 0.5, NULL, "A", "test level (Holm-adjusted p below it: reproduced)", 0},
    {"tsv", OPT_STR, F(tsv), NULL, 0, 0, NULL, "FILE", "also write id, estimate, lo, hi, p, Holm p, verdict as TSV", 0},
    {"summary-csv", OPT_STR, F(scsv), NULL, 0, 0, NULL, "FILE", "also write condition,n,mean,sd,lo,hi,half for plots", 0},
};
#undef F
static const opt_table stats_table = {
    "stats", "--csv RUNS.csv [--summary] [--test SPEC]... [flags]",
    "SPEC:  diff:ID:A:B:DIR       mean(A) - mean(B), pooled-variance t\n"
    "       quad:ID:PATTERN:DIR   curvature of y on ln(x), x = the number at '*' in PATTERN\n"
    "                             (e.g. S_sigma_*), with the peak's CI\n"
    "       slope:ID:PATTERN:DIR  slope of y on log10(x)\n"
    "       ratio:ID:A:B:C        (A - B) / (C - B) with Fieller's CI\n"
    "DIR: + or - (the paper's direction), . (reported, not tested). Markdown goes to stdout.\n",
    stats_spec, OPT_N(stats_spec)};

static void fmt(char *b, size_t n, double v, int prec) {
    if (isnan(v)) snprintf(b, n, "-");
    else if (isinf(v)) snprintf(b, n, "%sinf", v < 0 ? "-" : "");
    else snprintf(b, n, "%.*f", prec, v);
}
static void fmtp(char *b, size_t n, double p) {
    if (isnan(p)) snprintf(b, n, "-");
    else if (p < 1e-4) snprintf(b, n, "%.1e", p);
    else snprintf(b, n, "%.4f", p);
}

int genrep_cmd_stats(int argc, char **argv) {
    stats_opts o;
    int pr = opt_parse(&stats_table, &o, NULL, argc, argv);
    if (pr) return pr > 0 ? 0 : 2;
    const char *csv = o.csv, *metric = o.metric, *tsv = o.tsv, *scsv = o.scsv;
    const char *const *specs = o.test.v;
    int nspec = o.test.n, summary = o.summary;
    float level = o.level, alpha = o.alpha;
    char err[256];
    stats_result *r = (stats_result *)calloc((size_t)(nspec ? nspec : 1), sizeof *r);
    for (int i = 0; i < nspec; i++)
        if (stats_parse_spec(&r[i], specs[i], err, sizeof err)) { fprintf(stderr, "genrep stats: --test %s\n", err); free(r); return 2; }
    stats_data d;
    if (stats_data_load(&d, csv, metric, err, sizeof err)) { fprintf(stderr, "genrep stats: %s\n", err); free(r); return 1; }
    int pct = (int)lround(100 * level);
    char b1[64], b2[64], b3[64], b4[160], b5[64];
    if (scsv) {
        FILE *sf = fopen(scsv, "w");
        if (!sf) { fprintf(stderr, "genrep stats: cannot write %s\n", scsv); stats_data_free(&d); free(r); return 1; }
        fprintf(sf, "condition,n,mean,sd,lo,hi,half\n");
        for (int i = 0; i < d.ng; i++) {
            stats_summary s;
            stats_summarize(&s, d.g[i].x, d.g[i].n, level);
            fprintf(sf, "%s,%d,%.4f,%.4f,%.4f,%.4f,%.4f\n", d.g[i].name, s.n, s.mean, s.n > 1 ? s.sd : 0.0,
                    s.n > 1 ? s.lo : s.mean, s.n > 1 ? s.hi : s.mean, s.n > 1 ? 0.5 * (s.hi - s.lo) : 0.0);
        }
        fclose(sf);
    }
    if (summary) {
        printf("| condition | n | mean | std | %d%% CI of the mean |\n|---|---|---|---|---|\n", pct);
        for (int i = 0; i < d.ng; i++) {
            stats_summary s;
            stats_summarize(&s, d.g[i].x, d.g[i].n, level);
            fmt(b1, sizeof b1, s.mean, 2); fmt(b2, sizeof b2, s.sd, 2); fmt(b3, sizeof b3, s.lo, 2); fmt(b4, sizeof b4, s.hi, 2);
            if (s.n < 2) printf("| `%s` | %d | %s | - | - |\n", d.g[i].name, s.n, b1);
            else printf("| `%s` | %d | %s | %s | [%s, %s] |\n", d.g[i].name, s.n, b1, b2, b3, b4);
        }
        if (nspec) printf("\n");
    }
    for (int i = 0; i < nspec; i++) stats_eval(&r[i], &d, level);
    stats_holm_results(r, nspec);
    FILE *tf = NULL;
    if (tsv && !(tf = fopen(tsv, "w"))) { fprintf(stderr, "genrep stats: cannot write %s\n", tsv); stats_data_free(&d); free(r); return 1; }
    if (tf) fprintf(tf, "id\testimate\tlo\thi\tp\tp_holm\tverdict\n");
    if (nspec) printf("| id | contrast (%s, points) | estimate | %d%% CI | t (df) | p | Holm p | verdict |\n|---|---|---|---|---|---|---|---|\n",
                      metric, pct);
    for (int i = 0; i < nspec; i++) {
        const stats_result *x = &r[i];
        const char *dirs = x->dir > 0 ? " > 0" : x->dir < 0 ? " < 0" : "";
        char what[400];
        switch (x->kind) {
        case STATS_DIFF: snprintf(what, sizeof what, "`%s` - `%s`%s", x->a, x->b, dirs); break;
        case STATS_QUAD: snprintf(what, sizeof what, "curvature b2 of y on ln(x), `%s`%s", x->a, dirs); break;
        case STATS_SLOPE: snprintf(what, sizeof what, "slope of y on log10(x), `%s`%s", x->a, dirs); break;
        default: snprintf(what, sizeof what, "(`%s` - `%s`) / (`%s` - `%s`) (a fraction)", x->a, x->b, x->c, x->b);
        }
        const char *verdict = stats_verdict(x, alpha);
        if (!x->ok) {
            printf("| %s | %s | - | - | - | - | - | not computed: %s |\n", x->id, what, x->err);
            if (tf) fprintf(tf, "%s\tnan\tnan\tnan\tnan\tnan\tnot computed\n", x->id);
            continue;
        }
        fmt(b1, sizeof b1, x->t.est, x->kind == STATS_RATIO ? 3 : 3);
        fmt(b2, sizeof b2, x->t.lo, 3); fmt(b3, sizeof b3, x->t.hi, 3);
        if (x->kind == STATS_RATIO) {
            printf("| %s | %s | %s | %s | - | - | - | %s |\n", x->id, what, b1,
                   x->peak_bounded ? (snprintf(b4, sizeof b4, "[%s, %s]", b2, b3), b4) : "unbounded", verdict);
        } else {
            fmtp(b4, sizeof b4, x->t.p); fmtp(b5, sizeof b5, x->t.padj);
            printf("| %s | %s | %s | [%s, %s] | %.2f (%g) | %s | %s | %s |\n", x->id, what, b1, b2, b3, x->t.t, x->t.df, b4,
                   x->dir ? b5 : "-", verdict);
        }
        if (tf) fprintf(tf, "%s\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\t%s\n", x->id, x->t.est, x->t.lo, x->t.hi, x->t.p, x->t.padj, verdict);
    }
    for (int i = 0; i < nspec; i++) {
        const stats_result *x = &r[i];
        if (!x->ok || x->kind != STATS_QUAD) continue;
        fmt(b1, sizeof b1, x->peak, 3);
        printf("\n%s: peak of the fitted parabola at x = %s (tested range %g .. %g); %d%% CI (Fieller): ", x->id, b1,
               x->xmin, x->xmax, pct);
        if (x->peak_bounded) { fmt(b2, sizeof b2, x->peak_lo, 3); fmt(b3, sizeof b3, x->peak_hi, 3); printf("[%s, %s].\n", b2, b3); }
        else printf("unbounded (the curvature is not distinguishable from 0).\n");
        if (tf) fprintf(tf, "%s_peak\t%.6g\t%.6g\t%.6g\tnan\tnan\t-\n", x->id, x->peak,
                        x->peak_bounded ? x->peak_lo : NAN, x->peak_bounded ? x->peak_hi : NAN);
    }
    if (tf) fclose(tf);
    stats_data_free(&d);
    free(r);
    return 0;
}
