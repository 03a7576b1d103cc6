/* Augmentations: each deterministic piece against torchvision goldens
   (tests/ref/make_aug_golden.py), the random sampler's ranges and
   probabilities, and determinism across thread counts and batch splits. */
#include "genrep.h"
#include "testutil.h"
#include "golden.h"
#include <string.h>

#define GOLDEN_PATH "tests/ref/aug_golden.bin"
#define ATOL 1e-5
#define RTOL 1e-5

static golden_file G;
static const float *img3, *img1; /* (3,20,24) and (1,28,28) */

static void load_golden(void) {
    ck_assert_msg(golden_load(&G, GOLDEN_PATH) == 0, "cannot load %s (run from the repository root)", GOLDEN_PATH);
    img3 = golden_f32(&G, "img3");
    img1 = golden_f32(&G, "img1");
    ck_assert(img3 && img1);
}
static void free_golden(void) { golden_free(&G); }

static const float *gf(const char *fmt, int k) {
    char name[64];
    snprintf(name, sizeof name, fmt, k);
    const float *p = golden_f32(&G, name);
    ck_assert_msg(p != NULL, "golden tensor %s missing", name);
    return p;
}

START_TEST(golden_resized_crop) {
    float out[3 * 64 * 64];
    const int32_t *p3 = golden_i32(&G, "crop3_params"), *p1 = golden_i32(&G, "crop1_params");
    ck_assert(p3 && p1);
    for (int k = 0; k < 6; k++) {
        const int32_t *q = p3 + 6 * k;
        ck_assert_int_eq(genrep_aug_resized_crop(out, img3, 3, 20, 24, q[0], q[1], q[2], q[3], q[4], q[5]), GENREP_OK);
        char what[64]; snprintf(what, sizeof what, "crop3_%d", k);
        TU_ASSERT_CLOSE(out, gf("crop3_%d", k), (size_t)3 * q[4] * q[5], ATOL, RTOL, what);
    }
    for (int k = 0; k < 3; k++) {
        const int32_t *q = p1 + 6 * k;
        ck_assert_int_eq(genrep_aug_resized_crop(out, img1, 1, 28, 28, q[0], q[1], q[2], q[3], q[4], q[5]), GENREP_OK);
        char what[64]; snprintf(what, sizeof what, "crop1_%d", k);
        TU_ASSERT_CLOSE(out, gf("crop1_%d", k), (size_t)q[4] * q[5], ATOL, RTOL, what);
    }
    /* a box outside the image is refused */
    ck_assert_int_eq(genrep_aug_resized_crop(out, img3, 3, 20, 24, 10, 0, 11, 5, 8, 8), GENREP_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), "box"));
}
END_TEST

START_TEST(golden_color_ops) {
    float out[3 * 20 * 24], inplace[3 * 20 * 24];
    const size_t n3 = 3 * 20 * 24, n1 = 28 * 28;
    const float *bf = golden_f32(&G, "bright_f"), *cf = golden_f32(&G, "contrast_f"),
                *sf = golden_f32(&G, "sat_f"), *hf = golden_f32(&G, "hue_f");
    for (int k = 0; k < 4; k++) {
        ck_assert_int_eq(genrep_aug_adjust_brightness(out, img3, 3, 20, 24, bf[k]), GENREP_OK);
        TU_ASSERT_CLOSE(out, gf("bright3_%d", k), n3, ATOL, RTOL, "brightness");
    }
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(genrep_aug_adjust_contrast(out, img3, 3, 20, 24, cf[k]), GENREP_OK);
        TU_ASSERT_CLOSE(out, gf("contrast3_%d", k), n3, ATOL, RTOL, "contrast 3ch");
        float o1[28 * 28];
        ck_assert_int_eq(genrep_aug_adjust_contrast(o1, img1, 1, 28, 28, cf[k]), GENREP_OK);
        TU_ASSERT_CLOSE(o1, gf("contrast1_%d", k), n1, ATOL, RTOL, "contrast 1ch");
    }
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(genrep_aug_adjust_saturation(out, img3, 3, 20, 24, sf[k]), GENREP_OK);
        TU_ASSERT_CLOSE(out, gf("sat3_%d", k), n3, ATOL, RTOL, "saturation");
    }
    for (int k = 0; k < 5; k++) {
        ck_assert_int_eq(genrep_aug_adjust_hue(out, img3, 3, 20, 24, hf[k]), GENREP_OK);
        char what[32]; snprintf(what, sizeof what, "hue %g", (double)hf[k]);
        TU_ASSERT_CLOSE(out, gf("hue3_%d", k), n3, ATOL, RTOL, what);
        /* the scalar path agrees bitwise with the SIMD one */
        genrep_isa isa = genrep_get_isa();
        ck_assert_int_eq(genrep_set_isa(GENREP_ISA_SCALAR), GENREP_OK);
        ck_assert_int_eq(genrep_aug_adjust_hue(inplace, img3, 3, 20, 24, hf[k]), GENREP_OK);
        ck_assert_int_eq(genrep_set_isa(isa), GENREP_OK);
        ck_assert_mem_eq(inplace, out, sizeof out);
        /* in place gives the same bits */
        memcpy(inplace, img3, sizeof inplace);
        ck_assert_int_eq(genrep_aug_adjust_hue(inplace, inplace, 3, 20, 24, hf[k]), GENREP_OK);
        ck_assert_mem_eq(inplace, out, sizeof out);
    }
    ck_assert_int_eq(genrep_aug_grayscale(out, img3, 3, 20, 24), GENREP_OK);
    TU_ASSERT_CLOSE(out, golden_f32(&G, "gray3"), n3, ATOL, RTOL, "grayscale");
    ck_assert_int_eq(genrep_aug_hflip(out, img3, 3, 20, 24), GENREP_OK);
    TU_ASSERT_CLOSE(out, golden_f32(&G, "flip3"), n3, 0, 0, "hflip 3ch");
    float o1[28 * 28];
    memcpy(o1, img1, sizeof o1);
    ck_assert_int_eq(genrep_aug_hflip(o1, o1, 1, 28, 28), GENREP_OK); /* in place */
    TU_ASSERT_CLOSE(o1, golden_f32(&G, "flip1"), n1, 0, 0, "hflip 1ch in place");
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    ck_assert_int_eq(genrep_aug_normalize(out, img3, 3, 20, 24, mean, std), GENREP_OK);
    TU_ASSERT_CLOSE(out, golden_f32(&G, "norm3"), n3, ATOL, RTOL, "normalize");
    /* bad factors are refused */
    ck_assert_int_eq(genrep_aug_adjust_hue(out, img3, 3, 20, 24, 0.6f), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_aug_adjust_brightness(out, img3, 3, 20, 24, -1.0f), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_aug_adjust_contrast(out, img3, 2, 20, 24, 1.0f), GENREP_ERR_ARG);
}
END_TEST

/* On 1-channel images saturation, hue and grayscale are identities. */
START_TEST(one_channel_identities) {
    float out[28 * 28];
    ck_assert_int_eq(genrep_aug_adjust_saturation(out, img1, 1, 28, 28, 0.3f), GENREP_OK);
    ck_assert_mem_eq(out, img1, sizeof out);
    ck_assert_int_eq(genrep_aug_adjust_hue(out, img1, 1, 28, 28, 0.25f), GENREP_OK);
    ck_assert_mem_eq(out, img1, sizeof out);
    ck_assert_int_eq(genrep_aug_grayscale(out, img1, 1, 28, 28), GENREP_OK);
    ck_assert_mem_eq(out, img1, sizeof out);
}
END_TEST

START_TEST(golden_blur) {
    float out3[3 * 20 * 24], out1[28 * 28];
    const int32_t *ks = golden_i32(&G, "blur_k");
    const float *ss = golden_f32(&G, "blur_s");
    for (int k = 0; k < 5; k++) {
        ck_assert_int_eq(genrep_aug_gaussian_blur(out3, img3, 3, 20, 24, ks[k], ss[k]), GENREP_OK);
        char what[48]; snprintf(what, sizeof what, "blur3 k=%d s=%g", ks[k], (double)ss[k]);
        TU_ASSERT_CLOSE(out3, gf("blur3_%d", k), sizeof out3 / 4, ATOL, RTOL, what);
        ck_assert_int_eq(genrep_aug_gaussian_blur(out1, img1, 1, 28, 28, ks[k], ss[k]), GENREP_OK);
        TU_ASSERT_CLOSE(out1, gf("blur1_%d", k), sizeof out1 / 4, ATOL, RTOL, "blur1");
    }
    ck_assert_int_eq(genrep_aug_gaussian_blur(out1, img1, 1, 28, 28, 4, 1.0f), GENREP_ERR_ARG);
}
END_TEST

/* The whole view with given parameters against torchvision's composition. */
START_TEST(golden_pipeline) {
    const int32_t *pi = golden_i32(&G, "pipe_i");
    const float *pf = golden_f32(&G, "pipe_f");
    ck_assert(pi && pf);
    float out[3 * 28 * 28];
    for (int k = 0; k < 3; k++) {
        const int32_t *q = pi + 14 * k;
        const float *f = pf + 11 * k;
        for (int ch = 3; ch >= 1; ch -= 2) {
            genrep_aug_config cfg;
            genrep_aug_params p;
            memset(&p, 0, sizeof p);
            if (ch == 3) { p.top = q[0]; p.left = q[1]; p.crop_h = q[2]; p.crop_w = q[3]; genrep_aug_config_simclr(&cfg, q[4], q[5]); }
            else { p.top = 3; p.left = 2; p.crop_h = 20; p.crop_w = 22; genrep_aug_config_simclr(&cfg, 28, 28); }
            p.flip = q[6];
            p.jitter = 1;
            for (int i = 0; i < 4; i++) p.order[i] = q[7 + i];
            p.gray = q[11]; p.blur = q[12]; p.kernel = q[13];
            p.brightness = f[0]; p.contrast = f[1]; p.saturation = f[2]; p.hue = f[3]; p.sigma = f[4];
            cfg.normalize = 1;
            for (int c = 0; c < 3; c++) { cfg.mean[c] = f[5 + c]; cfg.std[c] = f[8 + c]; }
            const float *in = ch == 3 ? img3 : img1;
            ck_assert_int_eq(genrep_aug_apply(out, in, ch, ch == 3 ? 20 : 28, ch == 3 ? 24 : 28, &cfg, &p), GENREP_OK);
            char what[32]; snprintf(what, sizeof what, "pipe%d_%d", ch, k);
            TU_ASSERT_CLOSE(out, gf(ch == 3 ? "pipe3_%d" : "pipe1_%d", k), (size_t)ch * cfg.out_h * cfg.out_w,
                            4 * ATOL, RTOL, what);
        }
    }
}
END_TEST

/* Sampler: box inside the image, area and aspect within the configured
   ranges (up to rounding), jitter factors in range, each probability within
   5 standard deviations, every order permutation about equally often. */
START_TEST(sampler_ranges_and_probabilities) {
    genrep_aug_config cfg;
    genrep_aug_config_simclr(&cfg, 28, 28);
    cfg.blur_p = 0.5f;
    const int n = 24000, H = 28, W = 28;
    int flips = 0, jit = 0, grays = 0, blurs = 0, perm_count[256] = {0};
    double bsum = 0, hsum = 0, area_sum = 0;
    for (int i = 0; i < n; i++) {
        genrep_aug_params p;
        genrep_aug_sample(&p, &cfg, H, W, 1234, (uint64_t)i, i & 1);
        ck_assert(p.top >= 0 && p.left >= 0 && p.crop_h >= 1 && p.crop_w >= 1);
        ck_assert(p.top + p.crop_h <= H && p.left + p.crop_w <= W);
        double area = (double)p.crop_h * p.crop_w / (H * W);
        /* sqrt(area*ar) rounds by <= 0.5 px each side */
        double lo = (sqrt(0.2 * H * W * 0.75) - 0.5) * (sqrt(0.2 * H * W / (4.0 / 3.0)) - 0.5) / (H * W);
        ck_assert_msg(area >= lo && area <= 1.0, "area %g", area);
        double ar = (double)p.crop_w / p.crop_h;
        ck_assert_msg(ar >= 0.75 * 0.8 && ar <= 4.0 / 3.0 / 0.8, "aspect %g", ar);
        area_sum += area;
        ck_assert(p.brightness >= 0.6f && p.brightness <= 1.4f);
        ck_assert(p.contrast >= 0.6f && p.contrast <= 1.4f);
        ck_assert(p.saturation >= 0.6f && p.saturation <= 1.4f);
        ck_assert(p.hue >= -0.1f && p.hue <= 0.1f);
        ck_assert(p.sigma >= 0.1f && p.sigma <= 2.0f);
        ck_assert_int_eq(p.kernel, 3); /* 28/10 = 2 -> radius 1 -> 3 */
        int seen = 0, code = 0;
        for (int j = 0; j < 4; j++) { seen |= 1 << p.order[j]; code = code * 4 + p.order[j]; }
        ck_assert_int_eq(seen, 15);
        perm_count[code]++;
        flips += p.flip; jit += p.jitter; grays += p.gray; blurs += p.blur;
        bsum += p.brightness; hsum += p.hue;
    }
#define PROB_OK(count, prob) do { double f_ = (double)(count) / n, sd_ = sqrt((prob) * (1 - (prob)) / n); \
        ck_assert_msg(fabs(f_ - (prob)) < 5 * sd_, #count ": frequency %g, want %g", f_, (double)(prob)); } while (0)
    PROB_OK(flips, 0.5);
    PROB_OK(jit, 0.8);
    PROB_OK(grays, 0.2);
    PROB_OK(blurs, 0.5);
    ck_assert(fabs(bsum / n - 1.0) < 0.01);
    ck_assert(fabs(hsum / n) < 0.003);
    /* E[area] of torchvision's RandomResizedCrop.get_params at 28x28 is
       0.5521 (100k draws, sd 0.2076; below 0.6 because boxes that do not
       fit are redrawn); 5 standard errors at n = 24000 is 0.0067 */
    ck_assert_msg(fabs(area_sum / n - 0.5521) < 0.0067, "mean area %g", area_sum / n);
    int perms = 0;
    for (int c = 0; c < 256; c++)
        if (perm_count[c]) {
            perms++;
            ck_assert_msg(fabs(perm_count[c] - n / 24.0) < 5 * sqrt(n / 24.0), "order %d drawn %d times", c, perm_count[c]);
        }
    ck_assert_int_eq(perms, 24);
}
END_TEST

/* A 4x100 strip defeats all 10 tries: centre crop at the closest ratio. */
START_TEST(sampler_fallback_center_crop) {
    genrep_aug_config cfg;
    genrep_aug_config_simclr(&cfg, 8, 8);
    for (int i = 0; i < 50; i++) {
        genrep_aug_params p;
        genrep_aug_sample(&p, &cfg, 4, 100, 9, (uint64_t)i, 0);
        ck_assert_int_eq(p.crop_h, 4);
        ck_assert_int_eq(p.crop_w, 5); /* round(4 * 4/3) */
        ck_assert_int_eq(p.top, 0);
        ck_assert_int_eq(p.left, 47);
    }
    /* and a 100x4 strip: w = 4, h = round(4 / (3/4)) = 5 */
    genrep_aug_params p;
    genrep_aug_sample(&p, &cfg, 100, 4, 9, 0, 0);
    ck_assert_int_eq(p.crop_w, 4);
    ck_assert_int_eq(p.crop_h, 5);
    ck_assert_int_eq(p.top, 47);
}
END_TEST

/* Same bits for 1 vs 2 threads and one call vs two; views differ by view index. */
START_TEST(batch_determinism) {
    enum { N = 37, C = 3, H = 30, W = 26, OH = 24, OW = 20 };
    float *in = (float *)malloc(sizeof(float) * N * C * H * W);
    float *a = (float *)malloc(sizeof(float) * N * C * OH * OW);
    float *b = (float *)malloc(sizeof(float) * N * C * OH * OW);
    tu_fill(in, (size_t)N * C * H * W, 5, 0.0f, 1.0f);
    genrep_aug_config cfg;
    genrep_aug_config_simclr(&cfg, OH, OW);
    cfg.blur_p = 0.5f; cfg.normalize = 1;
    cfg.mean[0] = 0.4f; cfg.std[0] = 0.3f;
    int nt = genrep_num_threads();
    genrep_set_num_threads(1);
    ck_assert_int_eq(genrep_augment_batch(a, in, N, C, H, W, &cfg, 77, 1000, 1), GENREP_OK);
    genrep_set_num_threads(2);
    ck_assert_int_eq(genrep_augment_batch(b, in, N, C, H, W, &cfg, 77, 1000, 1), GENREP_OK);
    ck_assert_mem_eq(a, b, sizeof(float) * N * C * OH * OW);
    memset(b, 0, sizeof(float) * N * C * OH * OW);
    size_t so = (size_t)C * OH * OW, si = (size_t)C * H * W;
    ck_assert_int_eq(genrep_augment_batch(b, in, 10, C, H, W, &cfg, 77, 1000, 1), GENREP_OK);
    ck_assert_int_eq(genrep_augment_batch(b + 10 * so, in + 10 * si, N - 10, C, H, W, &cfg, 77, 1010, 1), GENREP_OK);
    ck_assert_mem_eq(a, b, sizeof(float) * N * C * OH * OW);
    /* each image equals sample + apply for its own (seed, index, view) */
    float one[3 * OH * OW];
    genrep_aug_params p;
    genrep_aug_sample(&p, &cfg, H, W, 77, 1000 + 17, 1);
    ck_assert_int_eq(genrep_aug_apply(one, in + 17 * si, C, H, W, &cfg, &p), GENREP_OK);
    ck_assert_mem_eq(one, a + 17 * so, sizeof one);
    /* the scalar path gives the same bits as the SIMD one (hue has both) */
    genrep_isa isa = genrep_get_isa();
    ck_assert_int_eq(genrep_set_isa(GENREP_ISA_SCALAR), GENREP_OK);
    ck_assert_int_eq(genrep_augment_batch(b, in, N, C, H, W, &cfg, 77, 1000, 1), GENREP_OK);
    ck_assert_int_eq(genrep_set_isa(isa), GENREP_OK);
    ck_assert_mem_eq(a, b, sizeof(float) * N * C * OH * OW);
    /* another view index or seed gives other views */
    ck_assert_int_eq(genrep_augment_batch(b, in, N, C, H, W, &cfg, 77, 1000, 2), GENREP_OK);
    ck_assert(memcmp(a, b, sizeof(float) * N * C * OH * OW) != 0);
    int same = 0;
    for (int n = 0; n < N; n++) same += !memcmp(a + n * so, b + n * so, so * sizeof(float));
    ck_assert_int_lt(same, 3);
    ck_assert_int_eq(genrep_augment_batch(b, in, N, C, H, W, &cfg, 78, 1000, 1), GENREP_OK);
    ck_assert(memcmp(a, b, sizeof(float) * N * C * OH * OW) != 0);
    genrep_set_num_threads(nt);
    free(in); free(a); free(b);
}
END_TEST

/* Outputs of the random pipeline without normalisation stay in [0, 1];
   1-channel views ignore saturation, hue and grayscale. */
START_TEST(batch_ranges_and_one_channel) {
    enum { N = 64, H = 28, W = 28 };
    float *in = (float *)malloc(sizeof(float) * N * H * W);
    float *a = (float *)malloc(sizeof(float) * N * H * W), *b = (float *)malloc(sizeof(float) * N * H * W);
    tu_fill(in, (size_t)N * H * W, 6, 0.0f, 1.0f);
    genrep_aug_config cfg;
    genrep_aug_config_simclr(&cfg, H, W);
    cfg.blur_p = 0.5f;
    ck_assert_int_eq(genrep_augment_batch(a, in, N, 1, H, W, &cfg, 3, 0, 0), GENREP_OK);
    for (int i = 0; i < N * H * W; i++) /* convex combinations: [0,1] up to rounding */
        ck_assert_msg(a[i] >= -1e-6f && a[i] <= 1.0f + 1e-6f, "value %.9g at %d", (double)a[i], i);
    /* saturation/hue/gray changes do not touch the draws of the other
       parameters, so outputs must be identical on 1 channel */
    genrep_aug_config c2 = cfg;
    c2.saturation = 0.9f; c2.hue = 0.5f; c2.gray_p = 1.0f;
    ck_assert_int_eq(genrep_augment_batch(b, in, N, 1, H, W, &c2, 3, 0, 0), GENREP_OK);
    ck_assert_mem_eq(a, b, sizeof(float) * N * H * W);
    /* config errors name the field */
    c2 = cfg; c2.gray_p = 1.5f;
    ck_assert_int_eq(genrep_augment_batch(b, in, N, 1, H, W, &c2, 3, 0, 0), GENREP_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), "gray_p"));
    c2 = cfg; c2.out_h = 0;
    ck_assert_int_eq(genrep_augment_batch(b, in, N, 1, H, W, &c2, 3, 0, 0), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_augment_batch(b, NULL, N, 1, H, W, &cfg, 3, 0, 0), GENREP_ERR_ARG);
    free(in); free(a); free(b);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("augment");
    TCase *g = tcase_create("golden");
    tcase_set_timeout(g, 30);
    tcase_add_checked_fixture(g, load_golden, free_golden);
    tcase_add_test(g, golden_resized_crop);
    tcase_add_test(g, golden_color_ops);
    tcase_add_test(g, one_channel_identities);
    tcase_add_test(g, golden_blur);
    tcase_add_test(g, golden_pipeline);
    suite_add_tcase(s, g);
    TCase *r = tcase_create("random");
    tcase_set_timeout(r, 60);
    tcase_add_test(r, sampler_ranges_and_probabilities);
    tcase_add_test(r, sampler_fallback_center_crop);
    tcase_add_test(r, batch_determinism);
    tcase_add_test(r, batch_ranges_and_one_channel);
    suite_add_tcase(s, r);
    return s;
}

int main(void) { return tu_run(suite()); }
