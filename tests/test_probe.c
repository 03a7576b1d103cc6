/* tests/test_probe.c: the converged linear probe (genrep_logreg_fit /
   genrep_logreg_probe) against Newton's method in double written here, its
   gradient recomputed in double at the returned solution, 1 vs 2 threads
   bitwise, cross-validation's choice of L2 on noisy vs clean data; and
   genrep_knn_accuracy against a brute-force double-precision kNN. */
#include "genrep.h"
#include "testutil.h"
#include <string.h>

/* n rows of D features in V overlapping Gaussian clusters: mean sep * e_c on
   the first V features, the rest pure noise; labels flipped with prob flip */
static void blobs(float *x, int32_t *y, int n, int D, int V, float sep, float flip, uint64_t seed) {
    genrep_rng r;
    genrep_rng_init(&r, seed, 0xb10b);
    for (int i = 0; i < n; i++) {
        int c = (int)genrep_rng_below(&r, (uint32_t)V);
        for (int d = 0; d < D; d++) x[(size_t)i * D + d] = (d == c ? sep : 0.0f) + genrep_rng_normal(&r);
        y[i] = genrep_rng_uniform(&r) < flip ? (int32_t)genrep_rng_below(&r, (uint32_t)V) : c;
    }
}

/* objective and gradient in double, straight from the definition */
static double ref_eval(double *g, const double *th, const float *x, const int32_t *y, int n, int D, int V, double lam) {
    const int nw = V * D;
    double f = 0;
    for (int k = 0; k < nw + V; k++) g[k] = 0;
    for (int i = 0; i < n; i++) {
        double l[16], m = -1e300, z = 0;
        for (int v = 0; v < V; v++) {
            l[v] = th[nw + v];
            for (int d = 0; d < D; d++) l[v] += th[v * D + d] * x[i * D + d];
            if (l[v] > m) m = l[v];
        }
        for (int v = 0; v < V; v++) z += exp(l[v] - m);
        f += m + log(z) - l[y[i]];
        for (int v = 0; v < V; v++) {
            double p = exp(l[v] - m) / z - (v == y[i]);
            for (int d = 0; d < D; d++) g[v * D + d] += p * x[i * D + d] / n;
            g[nw + v] += p / n;
        }
    }
    f /= n;
    for (int k = 0; k < nw; k++) { f += 0.5 * lam * th[k] * th[k]; g[k] += lam * th[k]; }
    return f;
}

/* Newton's method in double (dense Hessian, Gaussian elimination): the reference optimum */
static void ref_newton(double *th, const float *x, const int32_t *y, int n, int D, int V, double lam) {
    enum { PMAX = 64 };
    const int nw = V * D, P = nw + V;
    static double H[PMAX][PMAX + 1];
    double g[PMAX];
    for (int k = 0; k < P; k++) th[k] = 0;
    for (int it = 0; it < 50; it++) {
        ref_eval(g, th, x, y, n, D, V, lam);
        memset(H, 0, sizeof H);
        for (int i = 0; i < n; i++) {
            double l[16], m = -1e300, z = 0, p[16], a[PMAX];
            for (int v = 0; v < V; v++) {
                l[v] = th[nw + v];
                for (int d = 0; d < D; d++) l[v] += th[v * D + d] * x[i * D + d];
                if (l[v] > m) m = l[v];
            }
            for (int v = 0; v < V; v++) z += exp(l[v] - m);
            for (int v = 0; v < V; v++) p[v] = exp(l[v] - m) / z;
            /* feature vector of parameter k: x_d for (v, d), 1 for bias v */
            for (int k = 0; k < P; k++) a[k] = k < nw ? x[i * D + k % D] : 1.0;
            for (int k1 = 0; k1 < P; k1++) {
                int v1 = k1 < nw ? k1 / D : k1 - nw;
                for (int k2 = 0; k2 < P; k2++) {
                    int v2 = k2 < nw ? k2 / D : k2 - nw;
                    H[k1][k2] += p[v1] * ((v1 == v2) - p[v2]) * a[k1] * a[k2] / n;
                }
            }
        }
        for (int k = 0; k < nw; k++) H[k][k] += lam;
        for (int k = nw; k < P; k++) H[k][k] += 1e-12; /* the bias is defined up to a constant shift */
        for (int k = 0; k < P; k++) H[k][P] = -g[k];
        for (int c = 0; c < P; c++) {
            int pv = c;
            for (int r = c + 1; r < P; r++) if (fabs(H[r][c]) > fabs(H[pv][c])) pv = r;
            for (int k = 0; k <= P; k++) { double t = H[c][k]; H[c][k] = H[pv][k]; H[pv][k] = t; }
            for (int r = 0; r < P; r++) {
                if (r == c) continue;
                double f = H[r][c] / H[c][c];
                for (int k = c; k <= P; k++) H[r][k] -= f * H[c][k];
            }
        }
        for (int k = 0; k < P; k++) th[k] += H[k][P] / H[k][k];
    }
}

START_TEST(fit_reaches_the_optimum) {
    enum { N = 600, D = 6, V = 3, P = V * D + V };
    static float x[N * D];
    static int32_t y[N];
    blobs(x, y, N, D, V, 1.5f, 0.1f, 7);
    const double lams[] = {1e-3, 1e-1};
    for (int t = 0; t < 2; t++) {
        genrep_logreg_config cfg;
        genrep_logreg_config_default(&cfg);
        float Wb[P] = {0};
        genrep_logreg_info info;
        ck_assert_int_eq(genrep_logreg_fit(Wb, &info, x, y, N, D, V, lams[t], &cfg), GENREP_OK);
        double th[P], ref[P], g[P], gr[P];
        for (int k = 0; k < P; k++) th[k] = Wb[k];
        double f = ref_eval(g, th, x, y, N, D, V, lams[t]);
        ref_newton(ref, x, y, N, D, V, lams[t]);
        double fr = ref_eval(gr, ref, x, y, N, D, V, lams[t]), gmax = 0, grmax = 0;
        for (int k = 0; k < P; k++) { gmax = fmax(gmax, fabs(g[k])); grmax = fmax(grmax, fabs(gr[k])); }
        ck_assert_msg(grmax < 1e-12, "Newton reference did not converge: |g| %g", grmax);
        ck_assert_msg(!info.hit_cap && info.iters > 3, "iters %d cap %d", info.iters, info.hit_cap);
        ck_assert_msg(gmax < 2e-5, "lambda %g: max |grad| in double at the solution %g (reported %g)", lams[t], gmax, info.grad_max);
        ck_assert_msg(f - fr < 1e-9 && f - fr > -1e-12, "lambda %g: loss %.12f vs Newton %.12f", lams[t], f, fr);
        ck_assert_msg(fabs(info.loss - fr) < 1e-6, "reported loss %.9f vs %.9f", info.loss, fr);
        /* the weights (bias up to a common shift) */
        double sh = 0;
        for (int v = 0; v < V; v++) sh += (th[V * D + v] - ref[V * D + v]) / V;
        for (int k = 0; k < P; k++) {
            double want = ref[k] + (k >= V * D ? sh : 0);
            ck_assert_msg(fabs(th[k] - want) < 1e-3 * (1 + fabs(want)), "lambda %g: param %d %.6f vs Newton %.6f", lams[t], k, th[k], want);
        }
    }
}
END_TEST

START_TEST(fit_threads_bitwise) {
    enum { N = 9000, D = 24, V = 5, NT = 1000 };
    float *x = malloc(sizeof(float) * N * D), *xt = malloc(sizeof(float) * NT * D);
    int32_t *y = malloc(sizeof(int32_t) * N), *yt = malloc(sizeof(int32_t) * NT);
    blobs(x, y, N, D, V, 2.0f, 0.05f, 11);
    blobs(xt, yt, NT, D, V, 2.0f, 0.05f, 12);
    genrep_logreg_config cfg;
    genrep_logreg_config_default(&cfg);
    cfg.n_lambdas = 3; cfg.lambdas[0] = 1e-4; cfg.lambdas[1] = 1e-2; cfg.lambdas[2] = 1;
    genrep_logreg_result r1, r2;
    genrep_set_num_threads(1);
    ck_assert_int_eq(genrep_logreg_probe(&r1, x, y, N, xt, yt, NT, D, V, &cfg), GENREP_OK);
    genrep_set_num_threads(2);
    ck_assert_int_eq(genrep_logreg_probe(&r2, x, y, N, xt, yt, NT, D, V, &cfg), GENREP_OK);
    ck_assert_msg(!memcmp(&r1, &r2, sizeof r1), "1 and 2 threads differ: acc %.6f vs %.6f loss %.17g vs %.17g",
                  r1.test_acc, r2.test_acc, r1.fit.loss, r2.fit.loss);
    ck_assert_msg(r1.test_acc > 0.7f && r1.train_acc > 0.7f, "acc %.3f train %.3f", r1.test_acc, r1.train_acc);
    ck_assert(r1.fit.grad_max <= 1e-4 && !r1.fit.hit_cap);
    free(x); free(xt); free(y); free(yt);
}
END_TEST

START_TEST(cv_regularises_small_noisy_data_more) {
    enum { D = 40, V = 4, NT = 2000 };
    static float xs[60 * D], xb[4000 * D], xt[NT * D];
    static int32_t ys[60], yb[4000], yt[NT];
    blobs(xs, ys, 60, D, V, 2.0f, 0.2f, 21);   /* tiny, noisy: 60 rows for 164 parameters */
    blobs(xb, yb, 4000, D, V, 1.5f, 0.0f, 22); /* big, clean */
    blobs(xt, yt, NT, D, V, 2.0f, 0.2f, 23);
    genrep_logreg_config cfg;
    genrep_logreg_config_default(&cfg);
    genrep_logreg_result rs, rb;
    ck_assert_int_eq(genrep_logreg_probe(&rs, xs, ys, 60, xt, yt, NT, D, V, &cfg), GENREP_OK);
    ck_assert_int_eq(genrep_logreg_probe(&rb, xb, yb, 4000, xt, yt, NT, D, V, &cfg), GENREP_OK);
    ck_assert_msg(rs.lambda > rb.lambda, "tiny noisy set chose lambda %g, big clean set %g", rs.lambda, rb.lambda);
    ck_assert_msg(rs.lambda >= 1e-2, "tiny noisy set chose lambda %g", rs.lambda);
    /* the chosen lambda beats the smallest one on held-out data of the tiny set */
    ck_assert_msg(rs.cv_xent[5] < rs.cv_xent[0], "held-out xent %.3f at 1e-1 vs %.3f at 1e-6", rs.cv_xent[5], rs.cv_xent[0]);
    int jb = 0; /* the chosen lambda has the lowest held-out cross-entropy */
    for (int j = 0; j < 6; j++) if (cfg.lambdas[j] == rs.lambda) jb = j;
    for (int j = 0; j < 6; j++) ck_assert_msg(rs.cv_xent[j] >= rs.cv_xent[jb], "lambda %g has xent %.4f < chosen %.4f", cfg.lambdas[j], rs.cv_xent[j], rs.cv_xent[jb]);
    /* bad labels, bad grid */
    yb[9] = 7;
    ck_assert_int_eq(genrep_logreg_probe(&rb, xb, yb, 4000, xt, yt, NT, D, V, &cfg), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "row 9") != NULL);
    yb[9] = 0;
    cfg.folds = 1;
    ck_assert_int_eq(genrep_logreg_probe(&rb, xb, yb, 4000, xt, yt, NT, D, V, &cfg), GENREP_ERR_ARG);
}
END_TEST

/* brute force: double cosine similarities, a full sort, exp(sim / 0.07) votes */
static int cmp_desc(const void *a, const void *b) {
    double x = ((const double *)a)[0], y = ((const double *)b)[0];
    return x < y ? 1 : x > y ? -1 : 0;
}
START_TEST(knn_matches_brute_force) {
    enum { NTR = 1500, NTE = 300, D = 12, V = 5 };
    static float xtr[NTR * D], xte[NTE * D];
    static int32_t ytr[NTR], yte[NTE];
    static double pairs[NTR][2];
    blobs(xtr, ytr, NTR, D, V, 1.2f, 0.1f, 31);
    blobs(xte, yte, NTE, D, V, 1.2f, 0.1f, 32);
    const int ks[] = {1, 200, 5000};
    for (int t = 0; t < 3; t++) {
        int k = ks[t] < NTR ? ks[t] : NTR, correct = 0;
        for (int i = 0; i < NTE; i++) {
            double ni = 0;
            for (int d = 0; d < D; d++) ni += (double)xte[i * D + d] * xte[i * D + d];
            for (int j = 0; j < NTR; j++) {
                double dot = 0, nj = 0;
                for (int d = 0; d < D; d++) { dot += (double)xte[i * D + d] * xtr[j * D + d]; nj += (double)xtr[j * D + d] * xtr[j * D + d]; }
                pairs[j][0] = dot / sqrt(ni * nj); pairs[j][1] = ytr[j];
            }
            qsort(pairs, NTR, sizeof pairs[0], cmp_desc);
            double votes[V] = {0};
            for (int q = 0; q < k; q++) votes[(int)pairs[q][1]] += exp(pairs[q][0] / 0.07);
            int best = 0;
            for (int v = 1; v < V; v++) if (votes[v] > votes[best]) best = v;
            correct += best == yte[i];
        }
        float acc = -1;
        ck_assert_int_eq(genrep_knn_accuracy(&acc, xtr, ytr, NTR, xte, yte, NTE, D, V, ks[t]), GENREP_OK);
        /* float similarities may swap near-ties: allow one test row in 300 */
        ck_assert_msg(fabs(acc * NTE - correct) <= 1.0, "k %d: knn %.4f vs brute force %.4f", ks[t], acc, (double)correct / NTE);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("probe");
    TCase *tc = tcase_create("probe");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fit_reaches_the_optimum);
    tcase_add_test(tc, fit_threads_bitwise);
    tcase_add_test(tc, cv_regularises_small_noisy_data_more);
    tcase_add_test(tc, knn_matches_brute_force);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
