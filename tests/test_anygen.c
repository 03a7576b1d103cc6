/* tests/test_anygen.c: the trainer's generator source (trainer/common.c's
   anygen: a DCGAN-family or BigGAN-deep file behind one render call, the
   --class list, --size/--channels), on the committed fixtures
   tests/ref/biggan128.safetensors (random 128 px BigGAN-deep, ch 4, z 8,
   5 classes) and tests/ref/export_{cgan,dcgan}.safetensors. What
   `genrep train --gen` and `genrep views --gen` do per view: latents from
   [VIEWS], then anygen_render. Checked: a Gaussian view with sigma 0
   renders the anchor bit for bit, sigma > 0 renders something else; an
   independent view keeps the anchor's class (the image is G(z', that
   class's one-hot), not another class's); labels index the --class list;
   the resize is a box average / the gray mix; a DCGAN-family file renders
   exactly as before (genrep_gen_render, then (x+1)/2). */
#define _GNU_SOURCE
#include "../trainer/common.c" /* the trainer's header (genrep.h with GENREP_IMAGE_IO) and anygen */
#include "testutil.h"
#include <string.h>

#define BIG "tests/ref/biggan128.safetensors"
#define R 128
#define PIX ((size_t)3 * R * R)

static double mean_abs_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d += fabs((double)a[i] - b[i]);
    return d / (double)n;
}

/* Reference: genrep_biggan_render on one-hot rows of `cls`, then (x+1)/2. */
static void big_ref(genrep_biggan *g, float *out, const float *z, const int *cls, int B) {
    const int NC = g->cfg.num_classes;
    float *cv = calloc((size_t)B * NC, sizeof(float));
    for (int i = 0; i < B; i++) cv[(size_t)i * NC + cls[i]] = 1.0f;
    genrep_status s = genrep_biggan_render(g, out, z, cv, B, 1.0);
    ck_assert_msg(s == GENREP_OK, "%s", genrep_last_error());
    for (size_t i = 0; i < (size_t)B * PIX; i++) out[i] = 0.5f * (out[i] + 1.0f);
    free(cv);
}

START_TEST(biggan_file_is_detected) {
    anygen a;
    ck_assert(gen_file_is_biggan(BIG));
    ck_assert(!gen_file_is_biggan("tests/ref/export_cgan.safetensors"));
    ck_assert_int_eq(anygen_load(&a, "test", BIG, 16), 0);
    ck_assert_int_eq(a.biggan, 1);
    ck_assert_int_eq(a.cond, 1);
    ck_assert_int_eq(a.Z, 8);
    ck_assert_int_eq(a.ncls, 5);
    ck_assert(a.C == 3 && a.H == R && a.W == R);
    ck_assert_int_eq(a.max_batch, 8); /* BigGAN renders in chunks of 8 */
    anygen_free(&a);
    ck_assert_int_eq(anygen_load(&a, "test", "tests/ref/export_dcgan.safetensors", 4), 0);
    ck_assert(!a.biggan && !a.cond && a.ncls == 0 && a.C == 1 && a.H == 28);
    ck_assert_int_eq(anygen_classes(&a, "test", "3"), -1); /* unconditional */
    ck_assert_int_eq(anygen_classes(&a, "test", "all"), 0);
    anygen_free(&a);
}
END_TEST

START_TEST(class_lists) {
    anygen a;
    ck_assert_int_eq(anygen_load(&a, "test", BIG, 2), 0);
    const char *bad[] = {"5", "-1", "1,1", "x", "3-1", "1,", "0-5", "2,,3", " 2", "+2", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(anygen_classes(&a, "test", bad[i]) == -1, "--class '%s' was accepted", bad[i]);
    ck_assert_int_eq(a.ncls, 5); /* a refused list leaves "all" */
    ck_assert_ptr_null(a.cls);
    ck_assert_int_eq(anygen_classes(&a, "test", "4,0-1"), 0);
    ck_assert_int_eq(a.ncls, 3);
    ck_assert(a.cls[0] == 4 && a.cls[1] == 0 && a.cls[2] == 1);
    anygen_free(&a);
}
END_TEST

/* The trainer's views of 2 anchors: gauss sigma 0 = the anchor, bit for bit. */
START_TEST(gauss_sigma0_is_the_anchor) {
    enum { B = 2 };
    anygen a;
    ck_assert_int_eq(anygen_load(&a, "test", BIG, B), 0);
    ck_assert_int_eq(anygen_classes(&a, "test", "3"), 0);
    float z[B * 8], zv[B * 8];
    int32_t y[B];
    float *x0 = malloc(B * PIX * sizeof(float)), *x1 = malloc(B * PIX * sizeof(float));
    ck_assert(!genrep_latent_anchors(z, B, 8, 1.0f, 7, 100));
    ck_assert(!genrep_latent_classes(y, B, a.ncls, 7, 100));
    for (int i = 0; i < B; i++) ck_assert_int_eq(y[i], 0); /* one class: label 0, class 3 */
    genrep_view_config vc = {GENREP_VIEW_GAUSS, 0.0f, 1.0f, 0, NULL, NULL};
    ck_assert(!genrep_latent_view(zv, z, B, 8, &vc, 7, 100, 1));
    ck_assert(!anygen_render(&a, x0, z, y, B));
    ck_assert(!anygen_render(&a, x1, zv, y, B));
    ck_assert_msg(!memcmp(x0, x1, B * PIX * sizeof(float)), "a sigma-0 Gaussian view does not render the anchor");
    for (size_t i = 0; i < B * PIX; i++) ck_assert(x0[i] >= 0.0f && x0[i] <= 1.0f);
    vc.sigma = 0.5f; /* a real view: another image */
    ck_assert(!genrep_latent_view(zv, z, B, 8, &vc, 7, 100, 1));
    ck_assert(!anygen_render(&a, x1, zv, y, B));
    for (int i = 0; i < B; i++) {
        double d = mean_abs_diff(x0 + i * PIX, x1 + i * PIX, PIX);
        ck_assert_msg(d > 1e-3, "view %d of sigma 0.5 is the anchor (mean |diff| %g)", i, d);
    }
    free(x0); free(x1);
    anygen_free(&a);
}
END_TEST

/* Independent views: a fresh z, the anchor's class. With --class 1,3 and
   labels (0, 1, 1), the images are G(z', one-hot 1 / 3 / 3). */
START_TEST(independent_keeps_the_class) {
    enum { B = 3 };
    anygen a;
    genrep_biggan g;
    ck_assert_int_eq(anygen_load(&a, "test", BIG, 2), 0); /* 2 < B: render chunks too */
    ck_assert_int_eq(anygen_classes(&a, "test", "1,3"), 0);
    ck_assert(!genrep_biggan_load(&g, BIG, B));
    float z[B * 8], zv[B * 8];
    const int32_t y[B] = {0, 1, 1};
    const int cls[B] = {1, 3, 3}, other[B] = {2, 4, 0};
    float *x = malloc(B * PIX * sizeof(float)), *ref = malloc(B * PIX * sizeof(float));
    ck_assert(!genrep_latent_anchors(z, B, 8, 1.0f, 11, 0));
    genrep_view_config vc = {GENREP_VIEW_INDEPENDENT, 0.0f, 1.0f, 0, NULL, NULL};
    ck_assert(!genrep_latent_view(zv, z, B, 8, &vc, 11, 0, 1));
    ck_assert(mean_abs_diff(z, zv, B * 8) > 0.1); /* another z */
    ck_assert(!anygen_render(&a, x, zv, y, B));
    big_ref(&g, ref, zv, cls, B);
    ck_assert_msg(!memcmp(x, ref, B * PIX * sizeof(float)), "independent views are not G(z', the anchor's class)");
    big_ref(&g, ref, zv, other, B);
    for (int i = 0; i < B; i++) ck_assert_msg(mean_abs_diff(x + i * PIX, ref + i * PIX, PIX) > 1e-3, "class makes no difference");
    free(x); free(ref);
    genrep_biggan_free(&g);
    anygen_free(&a);
}
END_TEST

/* --size 32 (divides 128: 4x4 box average) and --channels 1 (gray mix). */
START_TEST(resize_and_gray) {
    enum { B = 2, S = 32 };
    anygen a, b;
    ck_assert_int_eq(anygen_load(&a, "test", BIG, B), 0);
    ck_assert_int_eq(anygen_load(&b, "test", BIG, B), 0);
    anygen_set_shape(&b, 1, S);
    ck_assert(b.C == 1 && b.H == S && b.W == S && b.GH == R);
    float z[B * 8];
    const int32_t y[B] = {2, 4};
    float *full = malloc(B * PIX * sizeof(float)), *small = malloc(B * S * S * sizeof(float));
    ck_assert(!genrep_latent_anchors(z, B, 8, 1.0f, 3, 0));
    ck_assert(!anygen_render(&a, full, z, y, B));
    ck_assert(!anygen_render(&b, small, z, y, B));
    for (int n = 0; n < B; n++)
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                double acc = 0;
                for (int c = 0; c < 3; c++)
                    for (int di = 0; di < 4; di++)
                        for (int dj = 0; dj < 4; dj++)
                            acc += (c == 0 ? 0.2989 : c == 1 ? 0.587 : 0.114) * full[n * PIX + (size_t)c * R * R + (4 * i + di) * R + 4 * j + dj];
                float got = small[(size_t)n * S * S + i * S + j];
                ck_assert_msg(fabs(got - acc / 16) < 1e-5, "pixel (%d,%d,%d): %g, box average %g", n, i, j, got, acc / 16);
            }
    anygen_set_shape(&b, 3, 48); /* 48 does not divide 128: bilinear, still in [0, 1] and not constant */
    float *mid = malloc(B * 3 * 48 * 48 * sizeof(float));
    ck_assert(!anygen_render(&b, mid, z, y, B));
    double lo = 1, hi = 0;
    for (size_t i = 0; i < B * 3 * 48 * 48; i++) { lo = fmin(lo, mid[i]); hi = fmax(hi, mid[i]); }
    ck_assert(lo >= 0 && hi <= 1 && hi - lo > 0.1);
    free(full); free(small); free(mid);
    anygen_free(&a); anygen_free(&b);
}
END_TEST

/* A DCGAN-family file: the render the trainer always did, bit for bit;
   a cgan's --class list maps labels to classes. */
START_TEST(dcgan_family_unchanged) {
    enum { B = 5 };
    anygen a;
    genrep_gen g;
    ck_assert_int_eq(anygen_load(&a, "test", "tests/ref/export_cgan.safetensors", B), 0);
    ck_assert(!genrep_gen_load(&g, "tests/ref/export_cgan.safetensors", B));
    const size_t pix = 784;
    float z[B * 12], x[B * 784], ref[B * 784];
    int32_t y[B] = {0, 1, 2, 3, 4}, yc[B] = {9, 0, 2, 3, 4};
    ck_assert(!genrep_latent_anchors(z, B, 12, 1.0f, 5, 0));
    ck_assert(!anygen_render(&a, x, z, y, B));
    ck_assert(!genrep_gen_render(&g, ref, z, y, B));
    for (size_t i = 0; i < B * pix; i++) ref[i] = 0.5f * (ref[i] + 1.0f);
    ck_assert(!memcmp(x, ref, sizeof x));
    ck_assert_int_eq(anygen_classes(&a, "test", "9,0-8"), 0);
    ck_assert_int_eq(a.ncls, 10);
    int32_t yl[B] = {0, 1, 3, 4, 5}; /* list positions of classes 9, 0, 2, 3, 4 */
    ck_assert(!anygen_render(&a, x, z, yl, B));
    ck_assert(!genrep_gen_render(&g, ref, z, yc, B));
    for (size_t i = 0; i < B * pix; i++) ref[i] = 0.5f * (ref[i] + 1.0f);
    ck_assert(!memcmp(x, ref, sizeof x));
    genrep_gen_free(&g);
    anygen_free(&a);
}
END_TEST

int main(void) {
    genrep_set_num_threads(1); /* ch-4 renders: threads only add contention on a busy machine (3x slower at 2) */
    Suite *s = suite_create("anygen");
    TCase *tc = tcase_create("anygen");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, biggan_file_is_detected);
    tcase_add_test(tc, class_lists);
    tcase_add_test(tc, gauss_sigma0_is_the_anchor);
    tcase_add_test(tc, independent_keeps_the_class);
    tcase_add_test(tc, resize_and_gray);
    tcase_add_test(tc, dcgan_family_unchanged);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
