/* [LOSS] NT-Xent, SupCon (golden vs PyTorch, finite differences in double,
   accumulate semantics, thread determinism) and MSE. */
#include "genrep.h"
#include "testutil.h"
#include "golden.h"
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef GOLDEN_DIR
#define GOLDEN_DIR "tests/ref/"
#endif

/* Independent double-precision reference of the loss (the formula in the
   header comment, written directly, with no max subtraction games beyond
   log-sum-exp). labels NULL = NT-Xent. */
static double ref_loss(const double *z, const int32_t *labels, int B, int D, double tau, int scale) {
    int N = 2 * B;
    double total = 0;
    for (int i = 0; i < N; i++) {
        int yi = labels ? labels[i % B] : i % B;
        double l[2 * 64];
        double m = -INFINITY;
        for (int j = 0; j < N; j++) {
            double d = 0;
            for (int k = 0; k < D; k++) d += z[i * D + k] * z[j * D + k];
            l[j] = d / tau;
            if (j != i && l[j] > m) m = l[j];
        }
        double S = 0, pos = 0; int np = 0;
        for (int j = 0; j < N; j++) {
            if (j == i) continue;
            S += exp(l[j] - m);
            int yj = labels ? labels[j % B] : j % B;
            if (yj == yi) { pos += l[j]; np++; }
        }
        double lse = m + log(S);
        total += -(scale ? tau / 0.07 : 1.0) * (pos / np - lse);
    }
    return total / N;
}

static void random_unit_rows(float *z, int N, int D, uint64_t seed) {
    tu_fill(z, (size_t)N * D, seed, -1, 1);
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int k = 0; k < D; k++) s += (double)z[i * D + k] * z[i * D + k];
        for (int k = 0; k < D; k++) z[i * D + k] = (float)(z[i * D + k] / sqrt(s));
    }
}

static genrep_status loss_fwd(int kind, float *loss, float *ws, const float *z, const int32_t *lab,
                              int B, int D, float tau, int flags) {
    return kind == 0 ? genrep_ntxent_forward(loss, ws, z, B, D, tau, flags)
                     : genrep_supcon_forward(loss, ws, z, lab, B, D, tau, flags);
}
static genrep_status loss_bwd(int kind, float *dz, float *ws, const float *z, const int32_t *lab,
                              int B, int D, float tau, int flags, float dloss) {
    return kind == 0 ? genrep_ntxent_backward(dz, ws, z, B, D, tau, flags, dloss)
                     : genrep_supcon_backward(dz, ws, z, lab, B, D, tau, flags, dloss);
}

START_TEST(golden_vs_pytorch) {
    golden_file g;
    ck_assert_int_eq(golden_load(&g, GOLDEN_DIR "golden_losses.bin"), 0);
    int ncase = 0;
    for (int k = 0;; k++) {
        char name[64];
        snprintf(name, sizeof name, "case%d.meta", k);
        int found = 0;
        for (int t = 0; t < g.count; t++) found |= !strcmp(g.t[t].name, name);
        if (!found) break;
        int32_t *meta = golden_i32(&g, name);
        int B = meta[0], D = meta[1], kind = meta[2], flags = meta[3] ? GENREP_LOSS_SCALE_BASE_TAU : 0;
#define GET(field) (snprintf(name, sizeof name, "case%d." field, k), name)
        float tau = golden_f32(&g, GET("tau"))[0];
        const float *z = golden_f32(&g, GET("z"));
        const int32_t *lab = golden_i32(&g, GET("labels"));
        float want = golden_f32(&g, GET("loss"))[0];
        const float *dzw = golden_f32(&g, GET("dz"));
#undef GET
        ck_assert_ptr_nonnull(z); ck_assert_ptr_nonnull(lab); ck_assert_ptr_nonnull(dzw);
        size_t nz = (size_t)2 * B * D;
        float *ws = genrep_alloc(genrep_supcon_workspace(B) * sizeof(float));
        float *dz = genrep_alloc(nz * sizeof(float)), *base = genrep_alloc(nz * sizeof(float));
        float *want2 = genrep_alloc(nz * sizeof(float));
        float loss = 0;
        ck_assert_int_eq(loss_fwd(kind, &loss, ws, z, lab, B, D, tau, flags), GENREP_OK);
        char what[96];
        snprintf(what, sizeof what, "case %d (B=%d D=%d kind=%d flags=%d) loss", k, B, D, kind, flags);
        TU_ASSERT_CLOSE(&loss, &want, 1, 1e-6, 1e-5, what);
        /* backward accumulates: start from noise, dloss = 1.5 */
        tu_fill(base, nz, 100 + k, -1, 1);
        memcpy(dz, base, nz * sizeof(float));
        ck_assert_int_eq(loss_bwd(kind, dz, ws, z, lab, B, D, tau, flags, 1.5f), GENREP_OK);
        for (size_t i = 0; i < nz; i++) want2[i] = base[i] + 1.5f * dzw[i];
        snprintf(what, sizeof what, "case %d (B=%d D=%d kind=%d flags=%d) dz", k, B, D, kind, flags);
        TU_ASSERT_CLOSE(dz, want2, nz, 2e-6, 1e-4, what);
        genrep_free(ws); genrep_free(dz); genrep_free(base); genrep_free(want2);
        ncase++;
    }
    ck_assert_int_ge(ncase, 9);
    golden_free(&g);
}
END_TEST

/* Central differences of the double reference vs the float analytic gradient. */
static void fd_check(int kind, int B, int D, float tau, int flags, uint64_t seed) {
    int N = 2 * B;
    size_t nz = (size_t)N * D;
    float *z = genrep_alloc(nz * sizeof(float)), *dz = genrep_alloc(nz * sizeof(float));
    float *ws = genrep_alloc(genrep_ntxent_workspace(B) * sizeof(float));
    double *zd = malloc(nz * sizeof(double));
    int32_t lab[64];
    for (int b = 0; b < B; b++) lab[b] = (int32_t)((b * 7 + seed) % 3);
    random_unit_rows(z, N, D, seed);
    for (size_t i = 0; i < nz; i++) zd[i] = z[i];
    float loss;
    ck_assert_int_eq(loss_fwd(kind, &loss, ws, z, lab, B, D, tau, flags), GENREP_OK);
    double lref = ref_loss(zd, kind ? lab : NULL, B, D, tau, flags);
    ck_assert_msg(fabs(loss - lref) <= 1e-5 + 1e-5 * fabs(lref), "loss %.9g ref %.9g", loss, lref);
    memset(dz, 0, nz * sizeof(float));
    ck_assert_int_eq(loss_bwd(kind, dz, ws, z, lab, B, D, tau, flags, 1.0f), GENREP_OK);
    const double h = 1e-6;
    for (size_t i = 0; i < nz; i++) {
        double keep = zd[i];
        zd[i] = keep + h; double lp = ref_loss(zd, kind ? lab : NULL, B, D, tau, flags);
        zd[i] = keep - h; double lm = ref_loss(zd, kind ? lab : NULL, B, D, tau, flags);
        zd[i] = keep;
        double num = (lp - lm) / (2 * h);
        ck_assert_msg(fabs(dz[i] - num) <= 1e-5 + 1e-4 * fabs(num),
                      "kind %d B=%d D=%d: dz[%zu] = %.9g, finite difference %.9g", kind, B, D, i, dz[i], num);
    }
    genrep_free(z); genrep_free(dz); genrep_free(ws); free(zd);
}

START_TEST(finite_differences) {
    fd_check(0, 3, 5, 0.1f, 0, 1);
    fd_check(0, 4, 7, 0.5f, GENREP_LOSS_SCALE_BASE_TAU, 2);
    fd_check(1, 1, 4, 0.1f, 0, 3);
    fd_check(1, 5, 6, 0.1f, GENREP_LOSS_SCALE_BASE_TAU, 4);
    fd_check(1, 6, 3, 0.3f, 0, 5);
}
END_TEST

/* NT-Xent equals SupCon with all-distinct labels; SupCon with one class for
   all samples has every other row positive. */
START_TEST(ntxent_is_supcon_with_distinct_labels) {
    int B = 9, D = 11;
    float z[18 * 11], ws1[2 * 18 * 18 + 18], ws2[2 * 18 * 18 + 18], d1[18 * 11] = {0}, d2[18 * 11] = {0};
    int32_t lab[9];
    for (int b = 0; b < B; b++) lab[b] = 100 - b;
    random_unit_rows(z, 2 * B, D, 9);
    float l1, l2;
    ck_assert_int_eq(genrep_ntxent_forward(&l1, ws1, z, B, D, 0.1f, 0), GENREP_OK);
    ck_assert_int_eq(genrep_supcon_forward(&l2, ws2, z, lab, B, D, 0.1f, 0), GENREP_OK);
    ck_assert(l1 == l2);
    ck_assert_int_eq(genrep_ntxent_backward(d1, ws1, z, B, D, 0.1f, 0, 1.0f), GENREP_OK);
    ck_assert_int_eq(genrep_supcon_backward(d2, ws2, z, lab, B, D, 0.1f, 0, 1.0f), GENREP_OK);
    ck_assert(!memcmp(d1, d2, sizeof d1));
    /* scale flag multiplies loss and gradient by tau/0.07 */
    float l3, d3[18 * 11] = {0};
    ck_assert_int_eq(genrep_ntxent_forward(&l3, ws1, z, B, D, 0.1f, GENREP_LOSS_SCALE_BASE_TAU), GENREP_OK);
    ck_assert(fabs(l3 - l1 * (0.1 / 0.07)) < 1e-5 * fabs(l3));
    ck_assert_int_eq(genrep_ntxent_backward(d3, ws1, z, B, D, 0.1f, GENREP_LOSS_SCALE_BASE_TAU, 1.0f), GENREP_OK);
    for (int i = 0; i < 2 * B * D; i++) ck_assert(fabs(d3[i] - d1[i] * (0.1 / 0.07)) < 1e-6 + 1e-5 * fabs(d3[i]));
}
END_TEST

/* A tiny temperature makes logits of +-1000: the row max keeps it finite. */
START_TEST(stable_at_small_tau) {
    int B = 6, D = 8;
    float z[12 * 8], ws[2 * 12 * 12 + 12], dz[12 * 8] = {0};
    double zd[12 * 8];
    random_unit_rows(z, 2 * B, D, 11);
    for (int i = 0; i < 2 * B * D; i++) zd[i] = z[i];
    float loss;
    ck_assert_int_eq(genrep_ntxent_forward(&loss, ws, z, B, D, 1e-3f, 0), GENREP_OK);
    double ref = ref_loss(zd, NULL, B, D, (double)1e-3f, 0);
    ck_assert(isfinite(loss));
    ck_assert_msg(fabs(loss - ref) <= 1e-3 * fabs(ref) + 1e-3, "loss %g ref %g", loss, ref);
    ck_assert_int_eq(genrep_ntxent_backward(dz, ws, z, B, D, 1e-3f, 0, 1.0f), GENREP_OK);
    for (int i = 0; i < 2 * B * D; i++) ck_assert(isfinite(dz[i]));
}
END_TEST

/* Batch 256 (512 x 512 logits): identical bits on 1 and 2 threads. */
START_TEST(threads_bitwise_and_size) {
    int B = 256, D = 128, N = 2 * B;
    size_t nz = (size_t)N * D;
    ck_assert_uint_eq(genrep_ntxent_workspace(B), (size_t)2 * N * N + N);
    float *z = genrep_alloc(nz * 4), *ws = genrep_alloc(genrep_supcon_workspace(B) * 4);
    float *d1 = genrep_alloc(nz * 4), *d2 = genrep_alloc(nz * 4);
    int32_t *lab = malloc(B * sizeof(int32_t));
    for (int b = 0; b < B; b++) lab[b] = b % 10;
    random_unit_rows(z, N, D, 77);
    for (int kind = 0; kind < 2; kind++) {
        float l1, l2;
        int nt0 = genrep_num_threads();
        genrep_set_num_threads(1);
        memset(d1, 0, nz * 4);
        ck_assert_int_eq(loss_fwd(kind, &l1, ws, z, lab, B, D, 0.1f, 0), GENREP_OK);
        ck_assert_int_eq(loss_bwd(kind, d1, ws, z, lab, B, D, 0.1f, 0, 1.0f), GENREP_OK);
        genrep_set_num_threads(2);
        memset(d2, 0, nz * 4);
        double t0 = 0;
#ifdef _OPENMP
        t0 = omp_get_wtime();
#endif
        ck_assert_int_eq(loss_fwd(kind, &l2, ws, z, lab, B, D, 0.1f, 0), GENREP_OK);
        ck_assert_int_eq(loss_bwd(kind, d2, ws, z, lab, B, D, 0.1f, 0, 1.0f), GENREP_OK);
#ifdef _OPENMP
        fprintf(stderr, "%s B=256 D=128 fwd+bwd on 2 threads: %.2f ms\n", kind ? "supcon" : "ntxent",
                1e3 * (omp_get_wtime() - t0));
#endif
        genrep_set_num_threads(nt0);
        ck_assert(memcmp(&l1, &l2, 4) == 0);
        ck_assert(memcmp(d1, d2, nz * 4) == 0);
        /* the loss of random directions is near log(N - 1) */
        if (kind == 0) ck_assert(fabs(l1 - log(N - 1.0)) < 0.5);
    }
    genrep_free(z); genrep_free(ws); genrep_free(d1); genrep_free(d2); free(lab);
}
END_TEST

START_TEST(bad_arguments) {
    float z[8] = {1, 0, 0, 1, 1, 0, 0, 1}, ws[64], loss, dz[8];
    int32_t lab[2] = {0, 1};
    ck_assert_int_eq(genrep_ntxent_forward(&loss, NULL, z, 2, 2, 0.1f, 0), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_ntxent_forward(&loss, ws, z, 0, 2, 0.1f, 0), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_ntxent_forward(&loss, ws, z, 2, 2, 0.0f, 0), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_ntxent_forward(&loss, ws, z, 2, 2, 0.1f, 8), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_supcon_forward(&loss, ws, z, NULL, 2, 2, 0.1f, 0), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_supcon_backward(NULL, ws, z, lab, 2, 2, 0.1f, 0, 1.0f), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "genrep_supcon_backward") != NULL);
    ck_assert_int_eq(genrep_supcon_forward(&loss, ws, z, lab, 2, 2, 0.1f, 0), GENREP_OK);
    ck_assert_int_eq(genrep_supcon_backward(dz, ws, z, lab, 2, 2, 0.1f, 0, 1.0f), GENREP_OK);
    ck_assert_int_eq(genrep_mse_forward(&loss, z, NULL, 4), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_mse_forward(&loss, z, z, 0), GENREP_ERR_ARG);
}
END_TEST

/* MSE: value, accumulate, and finite differences in double. */
/* Rows of a split batch (genrep_*_rows, issue 16's per-rank loss): one
   process's call (r0 = 0, b = B) matches the whole-batch loss and gradient
   up to rounding; two processes' halves, their loss sums and dzt added,
   give the bits of the one-process call; and the same at 1 and 2 threads. */
START_TEST(rows_split_bitwise) {
    const int B = 8, D = 5, N = 2 * B, h = B / 2, share = 2;
    const float tau = 0.5f;
    float z[16 * 5];
    int32_t y[8] = {0, 1, 0, 2, 1, 1, 0, 2};
    tu_fill(z, (size_t)N * D, 77, -1, 1);
    for (int sup = 0; sup < 2; sup++) {
        const int32_t *lab = sup ? y : NULL;
        size_t wfull = sup ? genrep_supcon_workspace(B) : genrep_ntxent_workspace(B);
        size_t wrows = genrep_contrastive_rows_workspace(B, D, B, share);
        ck_assert(wrows > 0);
        float *wf = malloc(wfull * 4), *wr = malloc(wrows * 4);
        float loss_full, dz_full[16 * 5] = {0}, dz1[16 * 5] = {0}, dzt1[16 * 5], dz_t[2][16 * 5], dzt_t[2][16 * 5];
        double sum1, sum_t[2];
        if (sup) {
            ck_assert_int_eq(genrep_supcon_forward(&loss_full, wf, z, y, B, D, tau, 0), GENREP_OK);
            ck_assert_int_eq(genrep_supcon_backward(dz_full, wf, z, y, B, D, tau, 0, 1.0f), GENREP_OK);
        } else {
            ck_assert_int_eq(genrep_ntxent_forward(&loss_full, wf, z, B, D, tau, 0), GENREP_OK);
            ck_assert_int_eq(genrep_ntxent_backward(dz_full, wf, z, B, D, tau, 0, 1.0f), GENREP_OK);
        }
        /* one process, at 1 and 2 threads */
        for (int t = 0; t < 2; t++) {
            genrep_set_num_threads(t + 1);
            float *dz = t ? dz_t[1] : dz1, *dzt = t ? dzt_t[1] : dzt1;
            double *sum = t ? &sum_t[1] : &sum1;
            memset(dz, 0, sizeof dz1);
            if (sup) {
                ck_assert_int_eq(genrep_supcon_forward_rows(sum, wr, z, lab, B, D, tau, 0, 0, B, share), GENREP_OK);
                ck_assert_int_eq(genrep_supcon_backward_rows(dz, dzt, wr, z, lab, B, D, tau, 0, 1.0f, 0, B, share), GENREP_OK);
            } else {
                ck_assert_int_eq(genrep_ntxent_forward_rows(sum, wr, z, B, D, tau, 0, 0, B, share), GENREP_OK);
                ck_assert_int_eq(genrep_ntxent_backward_rows(dz, dzt, wr, z, B, D, tau, 0, 1.0f, 0, B, share), GENREP_OK);
            }
        }
        ck_assert(sum_t[1] == sum1);
        ck_assert(!memcmp(dz_t[1], dz1, sizeof dz1) && !memcmp(dzt_t[1], dzt1, sizeof dzt1));
        /* near the whole-batch functions */
        float dzw[16 * 5];
        for (int i = 0; i < N * D; i++) dzw[i] = dz1[i] + dzt1[i] / tau;
        ck_assert_msg(fabs((float)(sum1 / N) - loss_full) <= 1e-6 * (1 + fabs(loss_full)), "loss %g vs %g", sum1 / N, loss_full);
        TU_ASSERT_CLOSE(dzw, dz_full, N * D, 1e-6, 1e-5, "rows gradient vs the whole-batch gradient");
        /* two processes of h anchors each */
        for (int k = 0; k < 2; k++) {
            memset(dz_t[k], 0, sizeof dz_t[k]);
            if (sup) {
                ck_assert_int_eq(genrep_supcon_forward_rows(&sum_t[k], wr, z, lab, B, D, tau, 0, k * h, h, share), GENREP_OK);
                ck_assert_int_eq(genrep_supcon_backward_rows(dz_t[k], dzt_t[k], wr, z, lab, B, D, tau, 0, 1.0f, k * h, h, share),
                                 GENREP_OK);
            } else {
                ck_assert_int_eq(genrep_ntxent_forward_rows(&sum_t[k], wr, z, B, D, tau, 0, k * h, h, share), GENREP_OK);
                ck_assert_int_eq(genrep_ntxent_backward_rows(dz_t[k], dzt_t[k], wr, z, B, D, tau, 0, 1.0f, k * h, h, share),
                                 GENREP_OK);
            }
        }
        ck_assert_msg(sum_t[0] + sum_t[1] == sum1, "loss sums %.17g + %.17g vs %.17g", sum_t[0], sum_t[1], sum1);
        for (int i = 0; i < N * D; i++) ck_assert_msg(dzt_t[0][i] + dzt_t[1][i] == dzt1[i], "dzt[%d]", i);
        for (int k = 0; k < 2; k++)
            for (int v = 0; v < 2; v++) /* local rows: view 1 then view 2 of anchors k*h .. */
                ck_assert(!memcmp(dz_t[k] + (size_t)v * h * D, dz1 + ((size_t)v * B + (size_t)k * h) * D, sizeof(float) * h * D));
        free(wf); free(wr);
    }
    ck_assert_int_eq(genrep_ntxent_forward_rows(NULL, NULL, z, B, D, tau, 0, 0, B, share), GENREP_ERR_ARG);
    float w1[1];
    double sdummy;
    ck_assert_int_eq(genrep_ntxent_forward_rows(&sdummy, w1, z, B, D, tau, 0, 6, 4, share), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "r0") != NULL);
}
END_TEST

START_TEST(mse) {
    enum { n = 37 };
    float p[n], t[n], d[n], base[n];
    tu_fill(p, n, 1, -2, 2); tu_fill(t, n, 2, -2, 2); tu_fill(base, n, 3, -1, 1);
    double ref = 0;
    for (int i = 0; i < n; i++) ref += ((double)p[i] - t[i]) * ((double)p[i] - t[i]);
    ref /= n;
    float loss;
    ck_assert_int_eq(genrep_mse_forward(&loss, p, t, n), GENREP_OK);
    ck_assert(fabs(loss - ref) <= 1e-6 * ref);
    memcpy(d, base, sizeof d);
    ck_assert_int_eq(genrep_mse_backward(d, p, t, n, 0.5f), GENREP_OK);
    for (int i = 0; i < n; i++) {
        double num = 0.5 * 2.0 * ((double)p[i] - t[i]) / n; /* d/dp of 0.5*mse, exact */
        ck_assert(fabs((d[i] - base[i]) - num) <= 1e-6 + 1e-5 * fabs(num));
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("losses");
    TCase *tc = tcase_create("losses");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, golden_vs_pytorch);
    tcase_add_test(tc, finite_differences);
    tcase_add_test(tc, ntxent_is_supcon_with_distinct_labels);
    tcase_add_test(tc, stable_at_small_tau);
    tcase_add_test(tc, threads_bitwise_and_size);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, mse);
    tcase_add_test(tc, rows_split_bitwise);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
