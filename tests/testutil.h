/* tests/testutil.h: helpers shared by the Check test binaries. */
#ifndef GENREP_TESTUTIL_H
#define GENREP_TESTUTIL_H
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Fill x with uniform values in [lo, hi) from a Philox stream. */
static inline void tu_fill(float *x, size_t n, uint64_t seed, float lo, float hi) {
    genrep_rng r;
    genrep_rng_init(&r, seed, 0x7e57);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * genrep_rng_uniform(&r);
}

/* Largest violation of |got - ref| <= atol + rtol*|ref|, as a ratio (<= 1 passes).
   Writes the worst index to *worst when not NULL. NaN anywhere fails. */
static inline double tu_close_ratio(const float *got, const float *ref, size_t n, double atol, double rtol,
                                    size_t *worst) {
    double w = 0; size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        double tol = atol + rtol * fabs((double)ref[i]);
        double q = (d != d || got[i] != got[i]) ? INFINITY : d / tol;
        if (q > w) { w = q; wi = i; }
    }
    if (worst) *worst = wi;
    return w;
}

/* ck_assert that got ~= ref, reporting the worst element. */
#define TU_ASSERT_CLOSE(got, ref, n, atol, rtol, what) do { \
    size_t tu_w_; double tu_q_ = tu_close_ratio((got), (ref), (n), (atol), (rtol), &tu_w_); \
    ck_assert_msg(tu_q_ <= 1.0, "%s: element %zu got %.9g want %.9g (ratio %.3g)", (what), tu_w_, \
                  (double)(got)[tu_w_], (double)(ref)[tu_w_], tu_q_); } while (0)

/* Run one suite; returns the process exit code (0 only if all passed). */
static inline int tu_run(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf == 0 ? 0 : 1;
}
#endif
