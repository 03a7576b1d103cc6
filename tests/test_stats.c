/* tests/test_stats.c: the reproduction report's statistics (trainer/stats.c):
   t distribution against published table values and against
   tests/ref/stats_expected.txt (tests/ref/stats_ref.py: Python standard
   library, t CDF by numerical integration, OLS in exact fractions), the
   analyses on the fixture tests/ref/stats_fixture.csv, Holm, verdicts. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../trainer/stats.c"

#define FIXTURE "tests/ref/stats_fixture.csv"
#define EXPECTED "tests/ref/stats_expected.txt"

static double expect(const char *key) {
    FILE *f = fopen(EXPECTED, "r");
    ck_assert_msg(f != NULL, "cannot open %s (run from the repository root)", EXPECTED);
    char k[128]; double v; int found = 0;
    while (fscanf(f, "%127s %lf", k, &v) == 2) if (!strcmp(k, key)) { found = 1; break; }
    fclose(f);
    ck_assert_msg(found, "%s has no key %s (rerun python3 tests/ref/stats_ref.py)", EXPECTED, key);
    return v;
}

#define CLOSE(got, want, tol, what) \
    ck_assert_msg(fabs((got) - (want)) <= (tol) * (1 + fabs((double)(want))), "%s: got %.12g want %.12g", (what), (double)(got), (double)(want))

START_TEST(t_table_values) {
    /* published two-sided 95% critical values */
    CLOSE(stats_t_quantile(0.975, 3), 3.182446, 1e-6, "t 0.975,3");
    CLOSE(stats_t_quantile(0.975, 10), 2.228139, 1e-6, "t 0.975,10");
    CLOSE(stats_t_quantile(0.975, 1), 12.706205, 1e-6, "t 0.975,1");
    CLOSE(stats_t_quantile(0.975, 1e6), 1.959966, 1e-5, "t 0.975,inf ~ z");
    CLOSE(stats_t_quantile(0.025, 6), -2.446912, 1e-6, "t 0.025,6");
    /* t with 1 df is Cauchy: CDF 1/2 + atan(t)/pi; with 2 df 1/2 + t / (2 sqrt(2 + t^2)) */
    for (double t = -5; t <= 5; t += 0.7) {
        CLOSE(stats_t_cdf(t, 1), 0.5 + atan(t) / 3.14159265358979323846, 1e-13, "Cauchy CDF");
        CLOSE(stats_t_cdf(t, 2), 0.5 + t / (2 * sqrt(2 + t * t)), 1e-13, "t2 CDF");
    }
    CLOSE(stats_betainc(2, 3, 0.4), 0.5248, 1e-12, "I_0.4(2,3)"); /* = 1 - 0.6^4 - 4*0.4*0.6^3 */
    ck_assert(isnan(stats_betainc(-1, 2, 0.5)) && isnan(stats_t_quantile(1.0, 3)));
    ck_assert(stats_t_cdf(0, 5) == 0.5 && stats_t_quantile(0.5, 5) == 0);
}
END_TEST

START_TEST(t_against_python) {
    const double ps[] = {0.975, 0.975, 0.975, 0.95, 0.995, 0.9}, dfs[] = {3, 10, 1, 6, 15, 2.5};
    char key[64];
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof key, "tq_%g_%g", ps[i], dfs[i]);
        CLOSE(stats_t_quantile(ps[i], dfs[i]), expect(key), 1e-9, key);
    }
    const double ts[] = {2.0, -1.3, 0.4, 3.5, 1.0, -6.0}, dft[] = {3, 7, 1, 15, 2.5, 4};
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof key, "tcdf_%g_%g", ts[i], dft[i]);
        CLOSE(stats_t_cdf(ts[i], dft[i]), expect(key), 1e-10, key);
    }
}
END_TEST

static void check_test(const stats_result *r, const char *id) {
    char key[64];
    ck_assert_msg(r->ok, "%s: %s", id, r->err);
#define K(f, v) do { snprintf(key, sizeof key, "%s_" f, id); CLOSE((v), expect(key), 1e-8, key); } while (0)
    K("est", r->t.est); K("se", r->t.se); K("t", r->t.t); K("df", r->t.df);
    K("p", r->t.p); K("lo", r->t.lo); K("hi", r->t.hi);
#undef K
}

START_TEST(t_fixture) {
    stats_data d; char err[256];
    ck_assert_msg(!stats_data_load(&d, FIXTURE, "linear_top1", err, sizeof err), "%s", err);
    const char *specs[] = {"diff:H1:P_gauss:P_pixel:+", "quad:H3:S_sigma_*:-", "diff:H5a:P_real:P_pixel:+",
                           "diff:H5b:P_real:P_gauss:+", "ratio:gap:P_gauss:P_pixel:P_real", "slope:F4:S_pool_a*_n5:."};
    stats_result r[6];
    for (int i = 0; i < 6; i++) {
        ck_assert_msg(!stats_parse_spec(&r[i], specs[i], err, sizeof err), "%s", err);
        stats_eval(&r[i], &d, 0.95);
    }
    stats_holm_results(r, 6);
    check_test(&r[0], "H1"); check_test(&r[1], "H3"); check_test(&r[2], "H5a"); check_test(&r[3], "H5b");
    check_test(&r[5], "F4");
    CLOSE(r[0].t.padj, expect("H1_padj"), 1e-8, "H1 padj");
    CLOSE(r[1].t.padj, expect("H3_padj"), 1e-8, "H3 padj");
    CLOSE(r[2].t.padj, expect("H5a_padj"), 1e-8, "H5a padj");
    CLOSE(r[3].t.padj, expect("H5b_padj"), 1e-8, "H5b padj");
    ck_assert_msg(r[5].t.padj == r[5].t.p, "a directionless row stays out of the Holm family");
    CLOSE(r[1].peak, expect("H3_peak"), 1e-8, "peak");
    ck_assert(r[1].peak_bounded);
    CLOSE(r[1].peak_lo, expect("H3_peaklo"), 1e-8, "peak lo");
    CLOSE(r[1].peak_hi, expect("H3_peakhi"), 1e-8, "peak hi");
    ck_assert(r[1].xmin == 0.05 && r[1].xmax == 1.6 && r[1].n == 18);
    CLOSE(r[4].peak, expect("gap_est"), 1e-8, "gap");
    CLOSE(r[4].peak_lo, expect("gap_lo"), 1e-8, "gap lo");
    CLOSE(r[4].peak_hi, expect("gap_hi"), 1e-8, "gap hi");
    ck_assert_str_eq(stats_verdict(&r[0], 0.05), "reproduced");
    ck_assert_str_eq(stats_verdict(&r[1], 0.05), "reproduced");
    ck_assert_str_eq(stats_verdict(&r[4], 0.05), "n/a");
    /* H5b: raw p 0.0238 < 0.05 and Holm leaves it at 0.0238 (largest p, multiplier 1) */
    ck_assert_str_eq(stats_verdict(&r[3], 0.05), "reproduced");
    ck_assert_str_eq(stats_verdict(&r[3], 0.02), "not reproduced (inconclusive)");
    /* the opposite direction, significant: contradicted */
    stats_result c;
    stats_parse_spec(&c, "diff:X:P_pixel:P_real:+", err, sizeof err);
    stats_eval(&c, &d, 0.95); stats_holm_results(&c, 1);
    ck_assert_str_eq(stats_verdict(&c, 0.05), "contradicted");
    /* a condition with one run and no partner: not computed, with a reason */
    stats_parse_spec(&c, "diff:X:raw:nothing:+", err, sizeof err);
    stats_eval(&c, &d, 0.95);
    ck_assert(!c.ok && strstr(c.err, "nothing"));
    ck_assert_str_eq(stats_verdict(&c, 0.05), "not computed");
    /* summary of P_real */
    stats_summary s;
    const stats_group *g = stats_data_find(&d, "P_real");
    ck_assert(g && g->n == 4);
    stats_summarize(&s, g->x, g->n, 0.95);
    CLOSE(s.mean, expect("sum_mean"), 1e-12, "mean"); CLOSE(s.sd, expect("sum_sd"), 1e-10, "sd");
    CLOSE(s.lo, expect("sum_lo"), 1e-10, "lo"); CLOSE(s.hi, expect("sum_hi"), 1e-10, "hi");
    stats_data_free(&d);
    /* the knn column skips raw's empty cell */
    ck_assert(!stats_data_load(&d, FIXTURE, "knn_top1", err, sizeof err));
    ck_assert(stats_data_find(&d, "raw") == NULL && stats_data_find(&d, "P_real")->n == 4);
    stats_data_free(&d);
}
END_TEST

START_TEST(t_holm_and_errors) {
    const double p[] = {0.01, 0.04, 0.03, 0.5, 0.03};
    double a[5]; char key[32], err[256];
    stats_holm(a, p, 5);
    for (int i = 0; i < 5; i++) { snprintf(key, sizeof key, "holm_%d", i); CLOSE(a[i], expect(key), 1e-15, key); }
    stats_data d;
    ck_assert(stats_data_load(&d, FIXTURE, "no_such_column", err, sizeof err) && strstr(err, "no_such_column"));
    ck_assert(stats_data_load(&d, "/nonexistent.csv", "x", err, sizeof err) && strstr(err, "nonexistent"));
    stats_result r;
    ck_assert(stats_parse_spec(&r, "diff:H:A:B", err, sizeof err));
    ck_assert(stats_parse_spec(&r, "diff:H:A:B:up", err, sizeof err) && strstr(err, "direction"));
    ck_assert(stats_parse_spec(&r, "quad:H:S_sigma:-", err, sizeof err) && strstr(err, "*"));
    /* OLS recovers an exact quadratic; too few points is refused */
    double X[15], y[5], beta[3], V[9], s2;
    for (int i = 0; i < 5; i++) { double u = i - 2.0; X[3 * i] = 1; X[3 * i + 1] = u; X[3 * i + 2] = u * u; y[i] = 3 - 2 * u - 0.5 * u * u; }
    ck_assert(!stats_ols(beta, V, &s2, X, y, 5, 3));
    CLOSE(beta[0], 3, 1e-12, "b0"); CLOSE(beta[1], -2, 1e-12, "b1"); CLOSE(beta[2], -0.5, 1e-12, "b2");
    ck_assert(s2 < 1e-20);
    ck_assert(stats_ols(beta, V, &s2, X, y, 3, 3) == -1);
    /* Fieller: a denominator not distinguishable from 0 gives an unbounded set */
    double lo, hi;
    ck_assert(stats_fieller(&lo, &hi, 1, 0.1, 0.01, 0.04, 0, 2) == 0 && isinf(hi));
    ck_assert(stats_fieller(&lo, &hi, 1, 2, 0.01, 0.01, 0, 2) == 1 && lo < 0.5 && hi > 0.5);
}
END_TEST

int main(void) {
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("stats");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, t_table_values);
    tcase_add_test(tc, t_against_python);
    tcase_add_test(tc, t_fixture);
    tcase_add_test(tc, t_holm_and_errors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? 1 : 0;
}
