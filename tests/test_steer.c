/* Steered latent views ([STEER] in genrep.h): the image edits against hand
   computed values, the walk gradient against central differences, the
   walk loss going down, and bitwise determinism of training. */
#include "genrep.h"
#include "testutil.h"
#include <string.h>

/* in(c,i,j) = 100c + 10i + j: every pixel says where it came from */
static void coded(float *x, int N, int C, int H, int W) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) x[((n * C + c) * H + i) * W + j] = (float)(1000 * n + 100 * c + 10 * i + j);
}
#define AT(x, n, c, i, j) (x)[(((n) * C + (c)) * H + (i)) * W + (j)]

START_TEST(shift_moves_and_masks) {
    enum { N = 2, C = 2, H = 3, W = 4 };
    float in[N * C * H * W], out[N * C * H * W], mask[N * C * H * W];
    coded(in, N, C, H, W);
    float a[N] = {1.0f, -1.0f};
    ck_assert_int_eq(genrep_steer_edit(out, mask, in, a, GENREP_STEER_SHIFTX, N, C, H, W), GENREP_OK);
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                /* image 0 moves right: column 0 is uncovered */
                if (j == 0) { ck_assert(AT(mask, 0, c, i, j) == 0.0f); ck_assert(AT(out, 0, c, i, j) == 0.0f); }
                else { ck_assert(AT(mask, 0, c, i, j) == 1.0f); ck_assert(AT(out, 0, c, i, j) == AT(in, 0, c, i, j - 1)); }
                /* image 1 moves left: the last column is uncovered */
                if (j == W - 1) ck_assert(AT(mask, 1, c, i, j) == 0.0f);
                else { ck_assert(AT(mask, 1, c, i, j) == 1.0f); ck_assert(AT(out, 1, c, i, j) == AT(in, 1, c, i, j + 1)); }
            }
    /* shift y by +1: row 0 uncovered, row i shows row i-1 */
    a[1] = 1.0f;
    ck_assert_int_eq(genrep_steer_edit(out, mask, in, a, GENREP_STEER_SHIFTY, N, C, H, W), GENREP_OK);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int j = 0; j < W; j++) {
                ck_assert(AT(mask, n, c, 0, j) == 0.0f);
                for (int i = 1; i < H; i++) {
                    ck_assert(AT(mask, n, c, i, j) == 1.0f);
                    ck_assert(AT(out, n, c, i, j) == AT(in, n, c, i - 1, j));
                }
            }
    /* half a pixel: bilinear mean of the two neighbours */
    a[0] = 0.5f; a[1] = 0.0f;
    ck_assert_int_eq(genrep_steer_edit(out, mask, in, a, GENREP_STEER_SHIFTX, N, C, H, W), GENREP_OK);
    for (int i = 0; i < H; i++) {
        ck_assert(AT(mask, 0, 1, i, 0) == 0.0f);
        for (int j = 1; j < W; j++)
            ck_assert_float_eq_tol(AT(out, 0, 1, i, j), 0.5f * (AT(in, 0, 1, i, j) + AT(in, 0, 1, i, j - 1)), 1e-4f);
    }
    /* alpha 0 is the identity with a full mask */
    ck_assert_mem_eq(out + C * H * W, in + C * H * W, C * H * W * sizeof(float));
}
END_TEST

START_TEST(rotate_quarter_turns) {
    enum { N = 3, C = 1, H = 5, W = 5 };
    float in[N * C * H * W], out[N * C * H * W], mask[N * C * H * W];
    coded(in, N, C, H, W);
    const float a[N] = {90.0f, -90.0f, 180.0f};
    ck_assert_int_eq(genrep_steer_edit(out, mask, in, a, GENREP_STEER_ROTATE, N, C, H, W), GENREP_OK);
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            /* counter-clockwise: the top-right corner goes to the top-left */
            ck_assert_float_eq(AT(out, 0, 0, i, j), AT(in, 0, 0, j, W - 1 - i));
            ck_assert_float_eq(AT(out, 1, 0, i, j), AT(in, 1, 0, H - 1 - j, i));
            ck_assert_float_eq(AT(out, 2, 0, i, j), AT(in, 2, 0, H - 1 - i, W - 1 - j));
            for (int n = 0; n < N; n++) ck_assert(AT(mask, n, 0, i, j) == 1.0f);
        }
    ck_assert_float_eq(AT(out, 0, 0, 0, 0), 4.0f); /* in(0, 4) */
    /* 45 degrees: the corners fall outside, the centre stays */
    const float b[N] = {45.0f, 45.0f, 45.0f};
    ck_assert_int_eq(genrep_steer_edit(out, mask, in, b, GENREP_STEER_ROTATE, N, C, H, W), GENREP_OK);
    ck_assert(AT(mask, 0, 0, 0, 0) == 0.0f && AT(mask, 0, 0, 4, 4) == 0.0f);
    ck_assert(AT(mask, 0, 0, 2, 2) == 1.0f);
    ck_assert_float_eq(AT(out, 0, 0, 2, 2), AT(in, 0, 0, 2, 2));
    /* (i,j) = (2,3): offset (dx,dy) = (1,0) comes from (cos45, sin45) = source (2.707, 2.707) */
    double s = sqrt(0.5), sx = 2 + s, fx = sx - 2;
    double top = (1 - fx) * AT(in, 0, 0, 2, 2) + fx * AT(in, 0, 0, 2, 3);
    double bot = (1 - fx) * AT(in, 0, 0, 3, 2) + fx * AT(in, 0, 0, 3, 3);
    ck_assert_float_eq_tol(AT(out, 0, 0, 2, 3), (float)((1 - fx) * top + fx * bot), 1e-4f);
}
END_TEST

START_TEST(zoom_identity_and_scale) {
    enum { N = 3, C = 2, H = 5, W = 5 };
    float in[N * C * H * W], out[N * C * H * W], mask[N * C * H * W];
    coded(in, N, C, H, W);
    const float a[N] = {0.0f, 1.0f, -1.0f};
    ck_assert_int_eq(genrep_steer_edit(out, mask, in, a, GENREP_STEER_ZOOM, N, C, H, W), GENREP_OK);
    /* alpha 0 (factor 1): identity */
    ck_assert_mem_eq(out, in, C * H * W * sizeof(float));
    for (int k = 0; k < C * H * W; k++) ck_assert(mask[k] == 1.0f);
    for (int c = 0; c < C; c++) {
        /* x2 about the centre 2: out(p) = in(2 + (p-2)/2), all inside */
        ck_assert_float_eq(AT(out, 1, c, 0, 0), AT(in, 1, c, 1, 1));
        ck_assert_float_eq(AT(out, 1, c, 4, 0), AT(in, 1, c, 3, 1));
        ck_assert_float_eq(AT(out, 1, c, 2, 2), AT(in, 1, c, 2, 2));
        float avg = 0.25f * (AT(in, 1, c, 1, 1) + AT(in, 1, c, 1, 2) + AT(in, 1, c, 2, 1) + AT(in, 1, c, 2, 2));
        ck_assert_float_eq_tol(AT(out, 1, c, 1, 1), avg, 1e-4f);
        for (int k = 0; k < H * W; k++) ck_assert(mask[(1 * C + c) * H * W + k] == 1.0f);
        /* x1/2: out(p) = in(2 + 2(p-2)); the outer ring is uncovered */
        ck_assert_float_eq(AT(out, 2, c, 1, 1), AT(in, 2, c, 0, 0));
        ck_assert_float_eq(AT(out, 2, c, 3, 2), AT(in, 2, c, 4, 2));
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                int ring = i == 0 || j == 0 || i == H - 1 || j == W - 1;
                ck_assert(AT(mask, 2, c, i, j) == (ring ? 0.0f : 1.0f));
            }
    }
}
END_TEST

START_TEST(brightness_contrast_formulas) {
    enum { N = 2, C = 2, H = 2, W = 3 };
    float in[N * C * H * W], out[N * C * H * W], mask[N * C * H * W];
    tu_fill(in, N * C * H * W, 5, -1.0f, 1.0f);
    const float a[N] = {0.25f, -0.5f};
    ck_assert_int_eq(genrep_steer_edit(out, mask, in, a, GENREP_STEER_BRIGHTNESS, N, C, H, W), GENREP_OK);
    for (int k = 0; k < N * C * H * W; k++) {
        ck_assert_float_eq(out[k], in[k] + a[k / (C * H * W)]);
        ck_assert(mask[k] == 1.0f);
    }
    const float b[N] = {1.0f, -1.0f}; /* factors 2 and 1/2 about each image's mean */
    ck_assert_int_eq(genrep_steer_edit(out, mask, in, b, GENREP_STEER_CONTRAST, N, C, H, W), GENREP_OK);
    for (int n = 0; n < N; n++) {
        double m = 0;
        for (int k = 0; k < C * H * W; k++) m += in[n * C * H * W + k];
        m /= C * H * W;
        double f = n == 0 ? 2.0 : 0.5, om = 0;
        for (int k = 0; k < C * H * W; k++) {
            int q = n * C * H * W + k;
            ck_assert_float_eq_tol(out[q], (float)(m + f * (in[q] - m)), 1e-6f);
            ck_assert(mask[q] == 1.0f);
            om += out[q];
        }
        ck_assert(fabs(om / (C * H * W) - m) < 1e-6); /* the mean is kept */
    }
    /* names, parsing, refusals */
    for (int k = 0; k < GENREP_STEER_N_KINDS; k++) {
        genrep_steer_kind p;
        ck_assert_int_eq(genrep_steer_parse(&p, genrep_steer_name((genrep_steer_kind)k)), GENREP_OK);
        ck_assert_int_eq(p, k);
        ck_assert(genrep_steer_default_alpha_max((genrep_steer_kind)k) > 0.0f);
    }
    genrep_steer_kind p;
    ck_assert_int_eq(genrep_steer_parse(&p, "scale"), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_steer_edit(in, NULL, in, a, GENREP_STEER_ZOOM, N, C, H, W), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_steer_edit(out, NULL, in, a, GENREP_STEER_N_KINDS, N, C, H, W), GENREP_ERR_ARG);
    const float bad[N] = {0.0f, NAN};
    ck_assert_int_eq(genrep_steer_edit(out, NULL, in, bad, GENREP_STEER_SHIFTX, N, C, H, W), GENREP_ERR_NONFINITE);
}
END_TEST

/* A tiny DCGAN generator with weights redrawn N(0, 2/fan_in) so that, in
   eval mode (running stats 0/1), activations keep unit scale and the image
   depends visibly on z (the DCGAN N(0, 0.02) init gives an almost flat G). */
static void tiny_gen(genrep_gen *g, int zdim, int width, int max_batch, uint64_t seed) {
    genrep_gan_config c;
    genrep_gan_config_default(&c, GENREP_GAN_DCGAN);
    c.zdim = zdim; c.width = width;
    ck_assert_int_eq(genrep_gen_create(g, &c, max_batch, seed), GENREP_OK);
    genrep_rng r;
    genrep_rng_init(&r, seed, 77);
    for (int i = 0; i < g->n_tensors; i++) {
        const genrep_param_info *p = &g->table[i];
        if (p->is_buffer || p->ndim < 2) continue;
        /* linear (OUT,IN): fan IN; conv (K,C,R,S): C*R*S; convT (C,K,4,4) stride 2: C*4 */
        double fan = p->ndim == 2 ? (double)p->shape[1]
                   : strstr(p->name, "up") ? (double)p->shape[0] * 4 : (double)p->shape[1] * p->shape[2] * p->shape[3];
        float sd = (float)sqrt(2.0 / fan);
        for (size_t k = 0; k < p->numel; k++) g->params[p->offset + k] = sd * genrep_rng_normal(&r);
    }
}

START_TEST(walk_gradient_matches_finite_differences) {
    enum { Z = 6, B = 8, T = 3 };
    genrep_gen g;
    tiny_gen(&g, Z, 2, B, 3);
    const genrep_steer_kind kinds[T] = {GENREP_STEER_SHIFTX, GENREP_STEER_ZOOM, GENREP_STEER_BRIGHTNESS};
    genrep_steer s;
    ck_assert_int_eq(genrep_steer_create(&s, kinds, NULL, T, Z, B, 11), GENREP_OK);
    for (int k = 0; k < T * Z; k++) s.unit[k] *= 5.0f; /* walks of visible length */
    float loss;
    ck_assert_int_eq(genrep_steer_loss_grad(&s, &loss, &g, B, 21, 4), GENREP_OK);
    ck_assert(loss > 1e-3f && isfinite(loss));
    float grad[T * Z];
    memcpy(grad, s.grad, sizeof grad);
    /* the loss from its definition, rebuilt from the batch the step drew
       (left in s's scratch): anchors of rows 4B.., a transform and an alpha
       in range per row, target/mask from the public edit */
    {
        float z[B * Z], zw[B * Z], img[B * 784], tgt[784], msk[784], wimg[B * 784];
        ck_assert_int_eq(genrep_latent_anchors(z, B, Z, 1.0f, 21, 4 * B), GENREP_OK);
        ck_assert_mem_eq(z, s.z, sizeof z);
        ck_assert_int_eq(genrep_gen_render(&g, img, z, NULL, B), GENREP_OK);
        for (int b = 0; b < B; b++) {
            int t = s.t[b];
            ck_assert(t >= 0 && t < T);
            ck_assert(fabsf(s.alpha[b]) <= s.alpha_max[t]);
            for (int d = 0; d < Z; d++) zw[b * Z + d] = z[b * Z + d] + s.alpha[b] / s.alpha_max[t] * s.unit[t * Z + d];
        }
        ck_assert_int_eq(genrep_gen_render(&g, wimg, zw, NULL, B), GENREP_OK);
        double num = 0, den = 0;
        for (int b = 0; b < B; b++) {
            ck_assert_int_eq(genrep_steer_edit(tgt, msk, img + b * 784, &s.alpha[b], kinds[s.t[b]], 1, 1, 28, 28), GENREP_OK);
            for (int k = 0; k < 784; k++) {
                double e = (double)wimg[b * 784 + k] - tgt[k];
                num += msk[k] * e * e; den += msk[k];
            }
        }
        ck_assert_float_eq_tol(loss, (float)(num / den), 1e-5f * loss);
    }
    double gnorm = 0;
    for (int k = 0; k < T * Z; k++) gnorm += (double)grad[k] * grad[k];
    ck_assert(sqrt(gnorm) > 1e-4);
    /* every transform drawn at least once in this batch, so each walk has a gradient */
    for (int t = 0; t < T; t++) {
        double n2 = 0;
        for (int d = 0; d < Z; d++) n2 += (double)grad[t * Z + d] * grad[t * Z + d];
        ck_assert_msg(n2 > 0, "walk %d got no gradient", t);
    }
    const float eps = 1e-2f;
    double worst = 0;
    for (int k = 0; k < T * Z; k++) {
        float u0 = s.unit[k], lp, lm;
        s.unit[k] = u0 + eps;
        ck_assert_int_eq(genrep_steer_loss_grad(&s, &lp, &g, B, 21, 4), GENREP_OK);
        s.unit[k] = u0 - eps;
        ck_assert_int_eq(genrep_steer_loss_grad(&s, &lm, &g, B, 21, 4), GENREP_OK);
        s.unit[k] = u0;
        double fd = ((double)lp - (double)lm) / (2.0 * eps);
        double err = fabs(fd - grad[k]) / (1e-4 + 0.03 * fabs(fd));
        if (err > worst) worst = err;
        ck_assert_msg(err <= 1.0, "dL/dU[%d]: analytic %.6g, central difference %.6g", k, grad[k], fd);
    }
    /* walks per alpha unit */
    float w[T * Z];
    genrep_steer_walks(w, &s);
    for (int k = 0; k < T * Z; k++) ck_assert_float_eq_tol(w[k] * s.alpha_max[k / Z], s.unit[k], 1e-6f);
    genrep_steer_free(&s);
    genrep_gen_free(&g);
}
END_TEST

START_TEST(loss_decreases) {
    enum { Z = 8, B = 16, T = 6 };
    genrep_gen g;
    tiny_gen(&g, Z, 2, B, 5);
    genrep_steer_kind kinds[T];
    for (int t = 0; t < T; t++) kinds[t] = (genrep_steer_kind)t;
    genrep_steer s;
    ck_assert_int_eq(genrep_steer_create(&s, kinds, NULL, T, Z, B, 1), GENREP_OK);
    /* start from long random walks (|U_t| ~ 3): a random G cannot follow
       the edits much, but the walks must at least stop making it worse */
    for (int k = 0; k < T * Z; k++) s.unit[k] *= 10.0f;
    float before[T], after[T];
    const uint64_t held_out = (uint64_t)1 << 40;
    ck_assert_int_eq(genrep_steer_eval(&s, before, NULL, &g, B, 9, held_out), GENREP_OK);
    genrep_adam_config ac = {0.05f, 0.9f, 0.999f, 1e-8f, 0.0f, 0};
    float first = 0, last = 0, l;
    const int steps = 60;
    for (int it = 0; it < steps; it++) {
        ck_assert_int_eq(genrep_steer_train_step(&s, &l, &g, B, &ac, 9, it), GENREP_OK);
        if (it < 10) first += l / 10;
        if (it >= steps - 10) last += l / 10;
    }
    ck_assert_int_eq(genrep_steer_eval(&s, after, NULL, &g, B, 9, held_out), GENREP_OK);
    double sb = 0, sa = 0;
    for (int t = 0; t < T; t++) {
        sb += before[t]; sa += after[t];
        ck_assert_msg(after[t] < before[t], "%s: held-out loss %.5f -> %.5f", genrep_steer_name(kinds[t]),
                      before[t], after[t]);
    }
    ck_assert_msg(sa < 0.9 * sb, "held-out loss %.5f -> %.5f", sb / T, sa / T);
    ck_assert_msg(last < first, "training loss %.5f -> %.5f", first, last);
    genrep_steer_free(&s);
    genrep_gen_free(&g);
}
END_TEST

START_TEST(training_is_deterministic) {
    enum { Z = 6, B = 8, T = 2 };
    genrep_gen g;
    tiny_gen(&g, Z, 2, B, 2);
    const genrep_steer_kind kinds[T] = {GENREP_STEER_ROTATE, GENREP_STEER_CONTRAST};
    const float am[T] = {20.0f, 0.5f};
    genrep_adam_config ac = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0};
    float u[3][T * Z], loss[3];
    const uint64_t seeds[3] = {4, 4, 5};
    for (int rep = 0; rep < 3; rep++) {
        genrep_set_num_threads(rep == 1 ? 2 : 1); /* bits may not depend on the thread count */
        genrep_steer s;
        ck_assert_int_eq(genrep_steer_create(&s, kinds, am, T, Z, B, 8), GENREP_OK);
        for (int it = 0; it < 4; it++)
            ck_assert_int_eq(genrep_steer_train_step(&s, &loss[rep], &g, B, &ac, seeds[rep], it), GENREP_OK);
        memcpy(u[rep], s.unit, sizeof u[rep]);
        genrep_steer_free(&s);
    }
    genrep_set_num_threads(1);
    ck_assert_mem_eq(u[0], u[1], sizeof u[0]);
    ck_assert(memcmp(&loss[0], &loss[1], sizeof(float)) == 0);
    ck_assert(memcmp(u[0], u[2], sizeof u[0]) != 0);
    /* refusals */
    genrep_steer s;
    const float zero[T] = {1.0f, 0.0f};
    ck_assert_int_eq(genrep_steer_create(&s, kinds, zero, T, Z, B, 8), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_steer_create(&s, kinds, am, T, Z + 1, B, 8), GENREP_OK);
    float l;
    ck_assert_int_eq(genrep_steer_loss_grad(&s, &l, &g, B, 1, 0), GENREP_ERR_SHAPE);
    genrep_steer_free(&s);
    ck_assert_int_eq(genrep_steer_create(&s, kinds, am, T, Z, 2 * B, 8), GENREP_OK);
    ck_assert_int_eq(genrep_steer_loss_grad(&s, &l, &g, 2 * B, 1, 0), GENREP_ERR_ARG);
    genrep_steer_free(&s);
    genrep_gen_free(&g);
}
END_TEST

int main(void) {
    /* the models here are tiny: OpenMP start-up would dominate on a shared machine */
    genrep_set_num_threads(1);
    Suite *su = suite_create("steer");
    TCase *tc = tcase_create("steer");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, shift_moves_and_masks);
    tcase_add_test(tc, rotate_quarter_turns);
    tcase_add_test(tc, zoom_identity_and_scale);
    tcase_add_test(tc, brightness_contrast_formulas);
    tcase_add_test(tc, walk_gradient_matches_finite_differences);
    tcase_add_test(tc, loss_decreases);
    tcase_add_test(tc, training_is_deterministic);
    suite_add_tcase(su, tc);
    return tu_run(su);
}
