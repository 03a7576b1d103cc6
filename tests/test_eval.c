/* tests/test_eval.c: [EVAL] mean/covariance, the Jacobi eigen-solver and the
   Frechet distance against hand-checked cases and closed forms. */
#include "../genrep.h"
#include "testutil.h"
#include <string.h>

/* Random orthogonal Q (n, n): Gram-Schmidt (twice) on uniform columns. */
static void random_orthogonal(double *Q, int n, uint64_t seed) {
    genrep_rng r;
    genrep_rng_init(&r, seed, 1);
    for (int i = 0; i < n * n; i++) Q[i] = genrep_rng_normal(&r);
    for (int j = 0; j < n; j++)
        for (int pass = 0; pass < 2; pass++) {
            for (int k = 0; k < j; k++) {
                double d = 0;
                for (int i = 0; i < n; i++) d += Q[i * n + j] * Q[i * n + k];
                for (int i = 0; i < n; i++) Q[i * n + j] -= d * Q[i * n + k];
            }
            double nn = 0;
            for (int i = 0; i < n; i++) nn += Q[i * n + j] * Q[i * n + j];
            for (int i = 0; i < n; i++) Q[i * n + j] /= sqrt(nn);
        }
}

/* A = Q diag(lam) Q^T */
static void build_sym(double *A, const double *Q, const double *lam, int n) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double acc = 0;
            for (int k = 0; k < n; k++) acc += Q[i * n + k] * lam[k] * Q[j * n + k];
            A[i * n + j] = acc;
        }
}

START_TEST(eig_2x2_by_hand) {
    double a[4] = {2, 1, 1, 2}, w[2], v[4];
    ck_assert_int_eq(genrep_sym_eig(w, v, a, 2), GENREP_OK);
    ck_assert(fabs(w[0] - 1) < 1e-14 && fabs(w[1] - 3) < 1e-14);
    /* eigenvector of 3 is (1,1)/sqrt2 up to sign: column 1 */
    ck_assert(fabs(fabs(v[0 * 2 + 1]) - sqrt(0.5)) < 1e-14 && fabs(v[0 * 2 + 1] - v[1 * 2 + 1]) < 1e-14);
    ck_assert(fabs(v[0 * 2 + 0] + v[1 * 2 + 0]) < 1e-14);
    double d[9] = {3, 0, 0, 0, -1, 0, 0, 0, 2}, wd[3]; /* already diagonal */
    ck_assert_int_eq(genrep_sym_eig(wd, NULL, d, 3), GENREP_OK);
    ck_assert(wd[0] == -1 && wd[1] == 2 && wd[2] == 3);
}
END_TEST

START_TEST(eig_known_spectrum) {
    for (int n = 1; n <= 70; n += 23) {
        double *Q = malloc(sizeof(double) * n * n), *A = malloc(sizeof(double) * n * n);
        double *A0 = malloc(sizeof(double) * n * n), *V = malloc(sizeof(double) * n * n);
        double *lam = malloc(sizeof(double) * n), *w = malloc(sizeof(double) * n);
        random_orthogonal(Q, n, 7 + n);
        /* distinct, with negatives and a repeated pair */
        for (int k = 0; k < n; k++) lam[k] = (double)(k % 2 ? k : -k) * 0.37 + (k == 1 ? 0.37 * 2 : 0);
        build_sym(A, Q, lam, n);
        memcpy(A0, A, sizeof(double) * n * n);
        ck_assert_int_eq(genrep_sym_eig(w, V, A, n), GENREP_OK);
        /* sorted copy of lam */
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (lam[j] < lam[i]) { double t = lam[i]; lam[i] = lam[j]; lam[j] = t; }
        for (int i = 0; i < n; i++) {
            ck_assert_msg(fabs(w[i] - lam[i]) < 1e-11 * (1 + fabs(lam[i])), "n %d: w[%d] %.17g want %.17g", n, i,
                          w[i], lam[i]);
            if (i) ck_assert(w[i] >= w[i - 1]);
        }
        /* A0 V = V diag(w) and V^T V = I */
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                double av = 0, vv = 0;
                for (int k = 0; k < n; k++) { av += A0[i * n + k] * V[k * n + j]; vv += V[k * n + i] * V[k * n + j]; }
                ck_assert_msg(fabs(av - w[j] * V[i * n + j]) < 1e-10 * (1 + n), "n %d residual (%d,%d)", n, i, j);
                ck_assert(fabs(vv - (i == j)) < 1e-12);
            }
        free(Q); free(A); free(A0); free(V); free(lam); free(w);
    }
}
END_TEST

START_TEST(mean_cov_by_hand) {
    /* rows (1,2), (3,6), (5,4): mean (3,4); deviations (-2,-2), (0,2), (2,0);
       unbiased cov = [[8, 4], [4, 8]] / 2 = [[4, 2], [2, 4]] */
    const float x[6] = {1, 2, 3, 6, 5, 4};
    double mu[2], cov[4];
    ck_assert_int_eq(genrep_mean_cov(mu, cov, x, 3, 2), GENREP_OK);
    ck_assert(mu[0] == 3 && mu[1] == 4);
    ck_assert(cov[0] == 4 && cov[1] == 2 && cov[2] == 2 && cov[3] == 4);
    ck_assert_int_eq(genrep_mean_cov(mu, cov, x, 1, 2), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_mean_cov(mu, NULL, x, 3, 2), GENREP_ERR_ARG);
}
END_TEST

START_TEST(frechet_2x2_closed_form) {
    /* C1 = [[2,1],[1,2]], C2 = diag(1,3): C1 C2 = [[2,3],[1,6]]; for 2x2,
       tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)) = sqrt(8 + 2*3) = sqrt(14).
       FD = |(0,0) - (1,2)|^2 + 4 + 4 - 2 sqrt(14). */
    const double mu1[2] = {0, 0}, mu2[2] = {1, 2}, c1[4] = {2, 1, 1, 2}, c2[4] = {1, 0, 0, 3};
    double ws[4 * 4 + 2], fd;
    ck_assert_uint_eq(genrep_frechet_workspace(2), 18);
    ck_assert_int_eq(genrep_frechet_distance(&fd, mu1, c1, mu2, c2, 2, ws), GENREP_OK);
    double want = 5 + 8 - 2 * sqrt(14.0);
    ck_assert_msg(fabs(fd - want) < 1e-12, "fd %.17g want %.17g", fd, want);
    /* symmetric in its arguments */
    double fd2;
    ck_assert_int_eq(genrep_frechet_distance(&fd2, mu2, c2, mu1, c1, 2, ws), GENREP_OK);
    ck_assert(fabs(fd2 - want) < 1e-12);
    /* diagonal (commuting) covariances: sum (sqrt a - sqrt b)^2 */
    const double d1[4] = {4, 0, 0, 9}, d2[4] = {1, 0, 0, 16};
    ck_assert_int_eq(genrep_frechet_distance(&fd, mu1, d1, mu1, d2, 2, ws), GENREP_OK);
    ck_assert(fabs(fd - (1.0 + 1.0)) < 1e-12);
}
END_TEST

START_TEST(frechet_scaled_covariance) {
    /* C2 = s^2 C1 (C1 random, rank-deficient): FD = |dmu|^2 + (1 - s)^2 tr C1 */
    const int n = 48;
    double *Q = malloc(sizeof(double) * n * n), *C1 = malloc(sizeof(double) * n * n);
    double *C2 = malloc(sizeof(double) * n * n), *ws = malloc(sizeof(double) * genrep_frechet_workspace(n));
    double lam[48], mu1[48], mu2[48], tr = 0, dmu = 0, s = 1.7, fd;
    random_orthogonal(Q, n, 3);
    for (int k = 0; k < n; k++) { lam[k] = k < 5 ? 0 : 0.1 + 0.05 * k; tr += lam[k]; }
    build_sym(C1, Q, lam, n);
    for (int i = 0; i < n * n; i++) C2[i] = s * s * C1[i];
    for (int i = 0; i < n; i++) { mu1[i] = 0.01 * i; mu2[i] = -0.02 * i; dmu += 0.0009 * i * i; }
    ck_assert_int_eq(genrep_frechet_distance(&fd, mu1, C1, mu2, C2, n, ws), GENREP_OK);
    double want = dmu + (1 - s) * (1 - s) * tr;
    ck_assert_msg(fabs(fd - want) < 1e-8 * want, "fd %.17g want %.17g", fd, want);
    /* identical Gaussians: 0 (rank deficiency only leaves round-off) */
    ck_assert_int_eq(genrep_frechet_distance(&fd, mu1, C1, mu1, C1, n, ws), GENREP_OK);
    ck_assert_msg(fabs(fd) < 1e-6, "fd %.3g", fd);
    free(Q); free(C1); free(C2); free(ws);
}
END_TEST

START_TEST(frechet_of_samples) {
    /* identical sample sets -> ~0; a shifted set -> |shift|^2 exactly (same covariance) */
    const int N = 3000, D = 16;
    float *x = malloc(sizeof(float) * N * D), *y = malloc(sizeof(float) * N * D);
    genrep_rng r;
    genrep_rng_init(&r, 11, 0);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) {
            float g = genrep_rng_normal(&r);
            x[i * D + j] = j ? 0.5f * x[i * D + j - 1] + g : g; /* correlated coordinates */
            y[i * D + j] = x[i * D + j] + 0.25f;
        }
    double mu1[16], mu2[16], c1[256], c2[256], fd;
    double *ws = malloc(sizeof(double) * genrep_frechet_workspace(D));
    ck_assert_int_eq(genrep_mean_cov(mu1, c1, x, N, D), GENREP_OK);
    ck_assert_int_eq(genrep_mean_cov(mu2, c2, y, N, D), GENREP_OK);
    ck_assert_int_eq(genrep_frechet_distance(&fd, mu1, c1, mu1, c1, D, ws), GENREP_OK);
    ck_assert_msg(fabs(fd) < 1e-9, "identical: fd %.3g", fd);
    ck_assert_int_eq(genrep_frechet_distance(&fd, mu1, c1, mu2, c2, D, ws), GENREP_OK);
    ck_assert_msg(fabs(fd - D * 0.0625) < 1e-5, "shifted: fd %.9g want %.9g", fd, D * 0.0625);
    /* population check: two independent N(0, I) samples are close (about D^2/N) */
    for (int i = 0; i < N * D; i++) y[i] = genrep_rng_normal(&r);
    for (int i = 0; i < N * D; i++) x[i] = genrep_rng_normal(&r);
    ck_assert_int_eq(genrep_mean_cov(mu1, c1, x, N, D), GENREP_OK);
    ck_assert_int_eq(genrep_mean_cov(mu2, c2, y, N, D), GENREP_OK);
    ck_assert_int_eq(genrep_frechet_distance(&fd, mu1, c1, mu2, c2, D, ws), GENREP_OK);
    ck_assert_msg(fd > 0 && fd < 0.5, "N(0,I) vs N(0,I): fd %.4g", fd);
    free(x); free(y); free(ws);
}
END_TEST

START_TEST(bad_input) {
    double a[4] = {1, NAN, NAN, 1}, w[2], ws[18], fd, mu[2] = {0, 0};
    ck_assert_int_eq(genrep_sym_eig(w, NULL, a, 2), GENREP_ERR_NONFINITE);
    ck_assert_int_eq(genrep_sym_eig(w, NULL, a, 0), GENREP_ERR_ARG);
    const double c[4] = {1, 0, 0, 1};
    ck_assert_int_eq(genrep_frechet_distance(&fd, mu, c, mu, c, 0, ws), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_frechet_distance(&fd, mu, c, mu, c, 2, NULL), GENREP_ERR_ARG);
}
END_TEST

int main(void) {
    Suite *s = suite_create("eval");
    TCase *tc = tcase_create("eval");
    tcase_add_test(tc, eig_2x2_by_hand);
    tcase_add_test(tc, eig_known_spectrum);
    tcase_add_test(tc, mean_cov_by_hand);
    tcase_add_test(tc, frechet_2x2_closed_form);
    tcase_add_test(tc, frechet_scaled_covariance);
    tcase_add_test(tc, frechet_of_samples);
    tcase_add_test(tc, bad_input);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
