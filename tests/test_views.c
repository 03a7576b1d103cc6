/* Latent views and the linear / kNN probes. */
#include "genrep.h"
#include "testutil.h"
#include <string.h>

START_TEST(anchors_range_and_split_invariance) {
    enum { B = 10, D = 33 };
    float z[B * D], z2[B * D];
    ck_assert_int_eq(genrep_latent_anchors(z, B, D, 0.5f, 9, 100), GENREP_OK);
    for (int i = 0; i < B * D; i++) ck_assert(z[i] >= -1.0f && z[i] <= 1.0f);
    /* rows 3..9 drawn as their own batch (first = 103) are the same bits */
    ck_assert_int_eq(genrep_latent_anchors(z2, 7, D, 0.5f, 9, 103), GENREP_OK);
    ck_assert_mem_eq(z + 3 * D, z2, 7 * D * sizeof(float));
    /* another seed differs */
    ck_assert_int_eq(genrep_latent_anchors(z2, B, D, 0.5f, 10, 100), GENREP_OK);
    ck_assert(memcmp(z, z2, sizeof z) != 0);
    int32_t y[B], y2[5];
    ck_assert_int_eq(genrep_latent_classes(y, B, 10, 3, 0), GENREP_OK);
    ck_assert_int_eq(genrep_latent_classes(y2, 5, 10, 3, 5), GENREP_OK);
    ck_assert_mem_eq(y + 5, y2, sizeof y2);
    for (int i = 0; i < B; i++) ck_assert(y[i] >= 0 && y[i] < 10);
}
END_TEST

START_TEST(gauss_view_statistics) {
    enum { B = 400, D = 128 };
    static float z[B * D], zv[B * D], zw[B * D];
    const float sigma = 0.3f;
    ck_assert_int_eq(genrep_latent_anchors(z, B, D, 1.0f, 1, 0), GENREP_OK);
    genrep_view_config cfg = {GENREP_VIEW_GAUSS, sigma, 1.0f, 0, NULL, NULL};
    ck_assert_int_eq(genrep_latent_view(zv, z, B, D, &cfg, 1, 0, 1), GENREP_OK);
    double s = 0, s2 = 0;
    for (int i = 0; i < B * D; i++) {
        double e = (zv[i] - z[i]) / sigma;
        ck_assert(fabs(e) <= 2.0 + 1e-4);
        s += e; s2 += e * e;
    }
    /* Var of N(0,1) truncated to [-2,2] is 1 - 4 phi(2) / (2 Phi(2) - 1) = 0.7737 */
    ck_assert(fabs(s / (B * D)) < 0.01);
    ck_assert(fabs(s2 / (B * D) - 0.7737) < 0.01);
    /* view 2 is a different draw; view 1 again is the same */
    ck_assert_int_eq(genrep_latent_view(zw, z, B, D, &cfg, 1, 0, 2), GENREP_OK);
    ck_assert(memcmp(zv, zw, sizeof zv) != 0);
    ck_assert_int_eq(genrep_latent_view(zw, z, B, D, &cfg, 1, 0, 1), GENREP_OK);
    ck_assert_mem_eq(zv, zw, sizeof zv);
    /* sigma 0 gives the anchor */
    cfg.sigma = 0;
    ck_assert_int_eq(genrep_latent_view(zw, z, B, D, &cfg, 1, 0, 1), GENREP_OK);
    ck_assert_mem_eq(z, zw, sizeof z);
}
END_TEST

START_TEST(angular_keeps_each_norm) {
    enum { B = 8, D = 64 };
    float z[B * D], zv[B * D];
    ck_assert_int_eq(genrep_latent_anchors(z, B, D, 1.0f, 2, 0), GENREP_OK);
    for (int d = 0; d < D; d++) z[3 * D + d] *= 5.0f; /* one sample with a much larger norm */
    genrep_view_config cfg = {GENREP_VIEW_ANGULAR, 0.5f, 1.0f, 0, NULL, NULL};
    ck_assert_int_eq(genrep_latent_view(zv, z, B, D, &cfg, 2, 0, 1), GENREP_OK);
    for (int b = 0; b < B; b++) {
        double n0 = 0, n1 = 0, dot = 0;
        for (int d = 0; d < D; d++) { n0 += z[b * D + d] * z[b * D + d]; n1 += zv[b * D + d] * zv[b * D + d]; dot += z[b*D+d] * zv[b*D+d]; }
        ck_assert(fabs(sqrt(n1) / sqrt(n0) - 1.0) < 1e-5);
        ck_assert(dot / n0 < 0.9999); /* it moved */
    }
}
END_TEST

START_TEST(steer_and_independent) {
    enum { B = 50, D = 16, T = 2 };
    float z[B * D], zv[B * D];
    float walks[T * D] = {0}, amax[T] = {0.5f, 2.0f};
    walks[0] = 1.0f; walks[D + 1] = 1.0f; /* walk 0 moves coordinate 0, walk 1 coordinate 1 */
    ck_assert_int_eq(genrep_latent_anchors(z, B, D, 1.0f, 4, 0), GENREP_OK);
    genrep_view_config cfg = {GENREP_VIEW_STEER, 0, 1.0f, T, walks, amax};
    ck_assert_int_eq(genrep_latent_view(zv, z, B, D, &cfg, 4, 0, 1), GENREP_OK);
    float m0 = 0, m1 = 0;
    for (int b = 0; b < B; b++) {
        float a0 = zv[b * D] - z[b * D], a1 = zv[b * D + 1] - z[b * D + 1];
        ck_assert(fabsf(a0) <= 0.5f + 1e-6f && fabsf(a1) <= 2.0f + 1e-6f);
        if (fabsf(a0) > m0) m0 = fabsf(a0);
        if (fabsf(a1) > m1) m1 = fabsf(a1);
        for (int d = 2; d < D; d++) ck_assert(zv[b * D + d] == z[b * D + d]);
    }
    ck_assert(m0 > 0.3f && m1 > 1.2f); /* the ranges are used */
    cfg.kind = GENREP_VIEW_INDEPENDENT;
    ck_assert_int_eq(genrep_latent_view(zv, z, B, D, &cfg, 4, 0, 1), GENREP_OK);
    int same = 0;
    for (int i = 0; i < B * D; i++) { same += zv[i] == z[i]; ck_assert(fabsf(zv[i]) <= 2.0f); }
    ck_assert_int_lt(same, 3);
}
END_TEST

START_TEST(view_bad_args) {
    float z[4] = {0}, zv[4];
    genrep_view_config cfg = {GENREP_VIEW_GAUSS, -1.0f, 1.0f, 0, NULL, NULL};
    ck_assert_int_eq(genrep_latent_view(zv, z, 2, 2, &cfg, 0, 0, 1), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "sigma") != NULL);
    cfg.sigma = 0.1f;
    ck_assert_int_eq(genrep_latent_view(zv, z, 2, 2, &cfg, 0, 0, 0), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_latent_view(z, z, 2, 2, &cfg, 0, 0, 1), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_latent_view(zv, NULL, 2, 2, &cfg, 0, 0, 1), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_latent_view(zv, z, 0, 2, &cfg, 0, 0, 1), GENREP_ERR_ARG);
    cfg.kind = GENREP_VIEW_STEER;
    ck_assert_int_eq(genrep_latent_view(zv, z, 2, 2, &cfg, 0, 0, 1), GENREP_ERR_ARG);
    genrep_view_kind k;
    ck_assert_int_eq(genrep_view_parse(&k, "angular"), GENREP_OK);
    ck_assert_int_eq(k, GENREP_VIEW_ANGULAR);
    ck_assert_int_eq(genrep_view_parse(&k, "gaussian"), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "gaussian") != NULL);
}
END_TEST

/* Three Gaussian clusters in 8-d: both probes should be nearly perfect;
   with labels shuffled they should be near chance. */
static void make_clusters(float *x, int32_t *y, int n, int D, uint64_t seed, int shuffle_labels) {
    genrep_rng r;
    genrep_rng_init(&r, seed, 0);
    for (int i = 0; i < n; i++) {
        int c = (int)genrep_rng_below(&r, 3);
        for (int d = 0; d < D; d++) x[i * D + d] = (d == c ? 3.0f : 0.0f) + genrep_rng_normal(&r) * 0.7f + 10.0f;
        y[i] = shuffle_labels ? (int32_t)genrep_rng_below(&r, 3) : c;
    }
}

START_TEST(probes_on_clusters) {
    enum { NTR = 1500, NTE = 500, D = 8 };
    static float xtr[NTR * D], xte[NTE * D];
    static int32_t ytr[NTR], yte[NTE];
    make_clusters(xtr, ytr, NTR, D, 1, 0);
    make_clusters(xte, yte, NTE, D, 2, 0);
    genrep_probe_config cfg;
    genrep_probe_config_default(&cfg);
    cfg.epochs = 10; cfg.lr = 1e-2f;
    float acc = 0, tracc = 0, knn = 0;
    ck_assert_int_eq(genrep_linear_probe(&acc, &tracc, xtr, ytr, NTR, xte, yte, NTE, D, 3, &cfg), GENREP_OK);
    ck_assert_msg(acc > 0.95f && tracc > 0.95f, "linear probe acc %.3f train %.3f", acc, tracc);
    ck_assert_int_eq(genrep_knn_accuracy(&knn, xtr, ytr, NTR, xte, yte, NTE, D, 3, 20), GENREP_OK);
    ck_assert_msg(knn > 0.9f, "knn acc %.3f", knn);
    make_clusters(xtr, ytr, NTR, D, 1, 1);
    ck_assert_int_eq(genrep_linear_probe(&acc, NULL, xtr, ytr, NTR, xte, yte, NTE, D, 3, &cfg), GENREP_OK);
    ck_assert_msg(acc < 0.45f, "random labels gave %.3f", acc);
    ytr[7] = 3;
    ck_assert_int_eq(genrep_linear_probe(&acc, NULL, xtr, ytr, NTR, xte, yte, NTE, D, 3, &cfg), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "row 7") != NULL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("views");
    TCase *tc = tcase_create("views");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, anchors_range_and_split_invariance);
    tcase_add_test(tc, gauss_view_statistics);
    tcase_add_test(tc, angular_keeps_each_norm);
    tcase_add_test(tc, steer_and_independent);
    tcase_add_test(tc, view_bad_args);
    tcase_add_test(tc, probes_on_clusters);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
