/* Models: GAN generators and discriminators ([MODELS] in genrep.h). Layout and
   names, finite-difference gradients of whole models, GAN losses,
   determinism of init and sampling, eval-mode batch independence. */
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include "testutil.h"
#include "golden.h"
#include <string.h>

#ifndef GOLDEN_DIR
#define GOLDEN_DIR "tests/ref/"
#endif

/* A tiny configuration: fast enough for finite differences over many
   coordinates (C0=8, C1=4, C2=2 generator channels, 2/4 in D). */
static genrep_gan_config tiny(genrep_gan_kind kind) {
    genrep_gan_config c;
    genrep_gan_config_default(&c, kind);
    c.zdim = 6; c.width = 2; c.dwidth = 2; c.n_classes = 4; c.embed_dim = 3;
    return c;
}

START_TEST(layout_and_names) {
    genrep_gan_config c;
    genrep_gan_config_default(&c, GENREP_GAN_DCGAN);
    genrep_gen g;
    ck_assert_int_eq(genrep_gen_create(&g, &c, 4, 1), GENREP_OK);
    const genrep_param_info *p = genrep_gen_param(&g, "fc.weight");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->ndim, 2); ck_assert_int_eq(p->shape[0], 128 * 49); ck_assert_int_eq(p->shape[1], 128);
    p = genrep_gen_param(&g, "up1.weight");
    ck_assert_int_eq(p->ndim, 4);
    ck_assert_int_eq(p->shape[0], 128); ck_assert_int_eq(p->shape[1], 64);
    ck_assert_int_eq(p->shape[2], 4); ck_assert_int_eq(p->shape[3], 4);
    p = genrep_gen_param(&g, "up2.weight");
    ck_assert_int_eq(p->shape[0], 64); ck_assert_int_eq(p->shape[1], 32);
    p = genrep_gen_param(&g, "out.weight");
    ck_assert_int_eq(p->shape[0], 1); ck_assert_int_eq(p->shape[1], 32); ck_assert_int_eq(p->shape[2], 3);
    ck_assert(genrep_gen_param(&g, "bn1.running_var")->is_buffer);
    ck_assert(!genrep_gen_param(&g, "bn1.weight")->is_buffer);
    ck_assert_ptr_null(genrep_gen_param(&g, "embed.weight"));
    ck_assert_ptr_null(genrep_gen_param(&g, "nope"));
    /* tensors are disjoint, aligned, inside the slab; running_var starts at 1 */
    size_t total = 0;
    for (int i = 0; i < g.n_tensors; i++) {
        ck_assert_uint_eq(g.table[i].offset % 16, 0);
        ck_assert_uint_le(g.table[i].offset + g.table[i].numel, g.n_params);
        if (i) ck_assert_uint_ge(g.table[i].offset, g.table[i - 1].offset + g.table[i - 1].numel);
        total += g.table[i].numel;
    }
    ck_assert_int_eq(g.n_tensors, 17);
    ck_assert_float_eq(g.params[genrep_gen_param(&g, "bn2.running_var")->offset], 1.0f);
    ck_assert_float_eq(g.params[genrep_gen_param(&g, "bn2.running_mean")->offset], 0.0f);
    /* ~14 M multiply-adds per image at the default width */
    double macs = genrep_gen_macs(&c);
    ck_assert(macs > 13e6 && macs < 15e6);
    genrep_gen_free(&g);

    genrep_gan_config_default(&c, GENREP_GAN_CGAN);
    ck_assert_int_eq(genrep_gen_create(&g, &c, 4, 1), GENREP_OK);
    p = genrep_gen_param(&g, "embed.weight");
    ck_assert_int_eq(p->shape[0], 10); ck_assert_int_eq(p->shape[1], 32);
    p = genrep_gen_param(&g, "bn0.gain.weight");
    ck_assert_int_eq(p->shape[0], 128); ck_assert_int_eq(p->shape[1], 32);
    ck_assert_ptr_nonnull(genrep_gen_param(&g, "bn2.bias.bias"));
    ck_assert_ptr_null(genrep_gen_param(&g, "bn0.weight"));
    genrep_gen_free(&g);

    genrep_disc d;
    ck_assert_int_eq(genrep_disc_create(&d, &c, 4, 1), GENREP_OK);
    p = genrep_disc_param(&d, "conv2.weight");
    ck_assert_int_eq(p->shape[0], 128); ck_assert_int_eq(p->shape[1], 64);
    p = genrep_disc_param(&d, "embed.weight");
    ck_assert_int_eq(p->shape[0], 10); ck_assert_int_eq(p->shape[1], 128 * 49);
    genrep_disc_free(&d);

    /* bad arguments name what is wrong */
    c.zdim = 0;
    ck_assert_int_eq(genrep_gen_create(&g, &c, 4, 1), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "zdim") != NULL);
    genrep_gan_config_default(&c, GENREP_GAN_CGAN);
    ck_assert_int_eq(genrep_gen_create(&g, &c, 0, 1), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_gen_create(&g, &c, 2, 1), GENREP_OK);
    float z[2 * 128] = {0};
    int32_t y[2] = {3, 10};
    ck_assert_int_eq(genrep_gen_forward(&g, z, y, 2, 1), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "y[1]") != NULL);
    ck_assert_int_eq(genrep_gen_forward(&g, z, NULL, 2, 1), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_gen_forward(&g, z, y, 3, 1), GENREP_ERR_ARG);
    genrep_gen_free(&g);
}
END_TEST

/* sum_i r_i * x_i in double */
static double dotd(const float *x, const float *r, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * r[i];
    return s;
}

/* Finite differences through ReLUs are only valid if no pre-activation
   changes sign between the two evaluations. Each loss evaluation records
   the sign pattern of every pre-activation (a list of slab ranges); a
   step that flips any sign is halved, and a coordinate that still crosses
   a kink at the smallest step is skipped (counted, so a test cannot pass
   by skipping everything). */
typedef struct { const float *p[4]; size_t n[4]; int k; } preacts;
static size_t signs(uint8_t *out, const preacts *pa) {
    size_t j = 0;
    for (int r = 0; r < pa->k; r++)
        for (size_t i = 0; i < pa->n[r]; i++) out[j++] = pa->p[r][i] > 0.0f;
    return j;
}

typedef double (*loss_fn)(void *model, const void *arg);
/* Central difference of loss wrt *x; returns 0 if every step crossed a kink. */
static int central_diff(double *fd, float *x, loss_fn f, void *model, const void *arg, const preacts *pa,
                        uint8_t *s1, uint8_t *s2) {
    float w = *x;
    for (double h = 1e-2; h > 1e-4; h /= 4) { /* below ~1e-4 float rounding dominates */
        *x = (float)(w + h);
        double fp = f(model, arg);
        size_t n = signs(s1, pa);
        *x = (float)(w - h);
        double fm = f(model, arg);
        signs(s2, pa);
        *x = w;
        if (memcmp(s1, s2, n)) continue;
        /* the step actually taken is the float difference */
        *fd = (fp - fm) / ((double)(float)(w + h) - (double)(float)(w - h));
        return 1;
    }
    return 0;
}

/* |analytic - fd| <= 2e-3 * scale + 5e-2 * |analytic|, scale = largest
   |gradient| of the tensor (float rounding in the forward is absolute). */
static int grad_close(double an, double fd, double scale) {
    return fabs(an - fd) <= 2e-3 * scale + 5e-2 * fabs(an);
}

/* Generator loss: sum(out * R) in double after a forward. */
typedef struct { const float *z; const int32_t *y; int B, training; const float *R; size_t pix; } gen_arg;
static double gen_loss(void *model, const void *arg) {
    genrep_gen *g = (genrep_gen *)model;
    const gen_arg *a = (const gen_arg *)arg;
    ck_assert_int_eq(genrep_gen_forward(g, a->z, a->y, a->B, a->training), GENREP_OK);
    return dotd(genrep_gen_output(g), a->R, (size_t)a->B * a->pix);
}

/* Check every listed coordinate x[idx] of one tensor against finite
   differences; returns how many were checked (not skipped at a kink). */
static int check_coords(const char *who, const char *what, float *x, const float *grad, size_t n, int count,
                        genrep_rng *r, loss_fn f, void *model, const void *arg, const preacts *pa,
                        uint8_t *s1, uint8_t *s2) {
    double scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(grad[i]));
    int checked = 0;
    for (int k = 0; k < count; k++) {
        size_t i = genrep_rng_below(r, (uint32_t)n);
        double fd;
        if (!central_diff(&fd, x + i, f, model, arg, pa, s1, s2)) continue;
        checked++;
        ck_assert_msg(grad_close(grad[i], fd, scale), "%s %s[%zu]: analytic %.7g, finite difference %.7g (scale %.3g)",
                      who, what, i, grad[i], fd, scale);
    }
    return checked;
}

static void gen_gradcheck_cfg(const genrep_gan_config *cfg, int training) {
    genrep_gan_config c = *cfg;
    int kind = c.kind;
    enum { B = 3 };
    genrep_gen g;
    ck_assert_int_eq(genrep_gen_create(&g, &c, B, 11), GENREP_OK);
    /* larger weights than the DCGAN init so every path carries signal */
    for (int t = 0; t < g.n_tensors; t++) {
        genrep_param_info *p = &g.table[t];
        if (p->is_buffer) continue;
        tu_fill(g.params + p->offset, p->numel, 100 + t, -0.5f, 0.5f);
        if (strstr(p->name, "bn") && p->ndim == 1 && strstr(p->name, ".weight"))
            for (size_t i = 0; i < p->numel; i++) g.params[p->offset + i] += 1.0f;
    }
    if (!training) { /* non-trivial running statistics */
        for (int t = 0; t < g.n_tensors; t++) {
            genrep_param_info *p = &g.table[t];
            if (!p->is_buffer) continue;
            int var = strstr(p->name, "var") != NULL;
            tu_fill(g.params + p->offset, p->numel, 300 + t, var ? 0.5f : -0.2f, var ? 1.5f : 0.2f);
        }
    }
    int OC, OH, OW;
    genrep_gen_shape(&g, &OC, &OH, &OW);
    size_t pix = (size_t)OC * OH * OW;
    float z[B * 6], dz[B * 6] = {0}, *R = (float *)malloc(sizeof(float) * B * pix);
    int32_t y[B] = {1, 3, 1};
    tu_fill(z, B * 6, 5, -1.5f, 1.5f);
    /* R is sparse (1 pixel in 8): less rounding noise in the sum */
    tu_fill(R, B * pix, 6, -1.0f, 1.0f);
    for (size_t i = 0; i < B * pix; i++) if (i % 8) R[i] = 0.0f;
    gen_arg arg = {z, y, B, training, R, pix};
    genrep_gen_zero_grad(&g);
    gen_loss(&g, &arg);
    ck_assert_int_eq(genrep_gen_backward(&g, dz, R), GENREP_OK);
    float *grads = (float *)malloc(g.n_params * sizeof(float));
    memcpy(grads, g.grads, g.n_params * sizeof(float));
    for (int t = 0; t < g.n_tensors; t++)
        if (g.table[t].is_buffer) /* buffers get no gradient */
            for (size_t i = 0; i < g.table[t].numel; i++) ck_assert_float_eq(grads[g.table[t].offset + i], 0.0f);

    /* pre-activations of the ReLUs (batchnorm outputs, one per stage); tanh's input is smooth */
    ck_assert_int_le(c.n_up + 1, 4);
    preacts pa = {{0}, {0}, c.n_up + 1};
    for (int i = 0; i <= c.n_up; i++) {
        int C, s;
        genrep__gen_stage(&c, i, &C, &s);
        pa.p[i] = g.acts + g.aoff[GENREP__GA(i, GENREP__GA_BNO)];
        pa.n[i] = (size_t)B * C * s * s;
    }
    uint8_t *s1 = (uint8_t *)malloc(g.n_acts), *s2 = (uint8_t *)malloc(g.n_acts);
    const char *who = kind ? "cgan generator" : "dcgan generator";
    genrep_rng r;
    genrep_rng_init(&r, 99, kind * 2 + training);
    int checked = 0, tried = 0;
    for (int t = 0; t < g.n_tensors; t++) {
        genrep_param_info *p = &g.table[t];
        if (p->is_buffer) continue;
        checked += check_coords(who, p->name, g.params + p->offset, grads + p->offset, p->numel, 4, &r, gen_loss,
                                &g, &arg, &pa, s1, s2);
        tried += 4;
    }
    checked += check_coords(who, "z", z, dz, B * 6, 8, &r, gen_loss, &g, &arg, &pa, s1, s2);
    tried += 8;
    /* most coordinates must have been checked (few sit next to a kink) */
    ck_assert_msg(checked >= tried * 2 / 3, "%s: only %d of %d coordinates checked", who, checked, tried);
    free(grads); free(s1); free(s2); free(R);
    genrep_gen_free(&g);
}
static void gen_gradcheck(genrep_gan_kind kind, int training) {
    genrep_gan_config c = tiny(kind);
    gen_gradcheck_cfg(&c, training);
}

/* Other members of the DCGAN family: convT first layer, convT output layer
   without bias, sigmoid, 2 channels, class-conditional; and a linear first
   layer straight into a 3-channel conv output with no activation. */
START_TEST(gen_family_gradcheck) {
    genrep_gan_config c = tiny(GENREP_GAN_CGAN);
    c.first = GENREP_GEN_FIRST_CONVT; c.n_up = 1; c.out_layer = GENREP_GEN_OUT_CONVT; c.out_bias = 0;
    c.out_channels = 2; c.out_size = 12; c.out_act = GENREP_GEN_ACT_SIGMOID; /* s0 = 3 */
    gen_gradcheck_cfg(&c, 1);
    gen_gradcheck_cfg(&c, 0);
    c = tiny(GENREP_GAN_DCGAN);
    c.n_up = 0; c.out_size = 5; c.out_channels = 3; c.out_act = GENREP_GEN_ACT_NONE;
    gen_gradcheck_cfg(&c, 1);
}
END_TEST

/* Family configs: shapes, names, and the errors for sizes that do not fit. */
START_TEST(gen_family_layout) {
    genrep_gan_config c;
    genrep_gan_config_default(&c, GENREP_GAN_DCGAN);
    c.zdim = 10; c.width = 4; c.first = GENREP_GEN_FIRST_CONVT; c.n_up = 3; c.out_layer = GENREP_GEN_OUT_CONVT;
    c.out_bias = 0; c.out_channels = 3; c.out_size = 64; /* the PyTorch DCGAN tutorial's shape */
    genrep_gen g;
    ck_assert_int_eq(genrep_gen_create(&g, &c, 2, 1), GENREP_OK);
    int C, H, W;
    genrep_gen_shape(&g, &C, &H, &W);
    ck_assert(C == 3 && H == 64 && W == 64);
    const genrep_param_info *p = genrep_gen_param(&g, "fc.weight");
    ck_assert(p->ndim == 4 && p->shape[0] == 10 && p->shape[1] == 32 && p->shape[2] == 4 && p->shape[3] == 4);
    p = genrep_gen_param(&g, "up3.weight");
    ck_assert(p && p->shape[0] == 8 && p->shape[1] == 4);
    p = genrep_gen_param(&g, "out.weight");
    ck_assert(p->shape[0] == 4 && p->shape[1] == 3 && p->shape[2] == 4);
    ck_assert_ptr_null(genrep_gen_param(&g, "out.bias"));
    ck_assert_ptr_nonnull(genrep_gen_param(&g, "bn3.running_var"));
    ck_assert_int_eq(g.n_tensors, 1 + 4 * 4 + 3 + 1);
    /* 10*32*16 + 32*16*16*16 + 16*8*16*64 + 8*4*16*256 + 4*3*16*1024 */
    ck_assert(fabs(genrep_gen_macs(&c) - (5120.0 + 131072 + 131072 + 131072 + 196608)) < 0.5);
    float z[2 * 10], out[2 * 3 * 64 * 64];
    tu_fill(z, 20, 3, -1, 1);
    ck_assert_int_eq(genrep_gen_render(&g, out, z, NULL, 2), GENREP_OK);
    for (int i = 0; i < 2 * 3 * 64 * 64; i++) ck_assert(out[i] >= -1.0f && out[i] <= 1.0f);
    genrep_gen_free(&g);
    /* the discriminator stays 28x28x1 */
    genrep_disc d;
    ck_assert_int_eq(genrep_disc_create(&d, &c, 2, 1), GENREP_ERR_UNSUPPORTED);
    ck_assert(strstr(genrep_last_error(), "28x28x1") != NULL);
    c.out_size = 60; /* not a multiple of 2^4 */
    ck_assert_int_eq(genrep_gen_create(&g, &c, 2, 1), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "out_size 60") != NULL);
    c.out_size = 64; c.n_up = GENREP_GEN_MAX_UP + 1;
    ck_assert_int_eq(genrep_gen_create(&g, &c, 2, 1), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "n_up") != NULL);
    c.n_up = 3; c.out_act = 7;
    ck_assert_int_eq(genrep_gen_create(&g, &c, 2, 1), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "out_act") != NULL);
    /* a config built without genrep_gan_config_default (out_size 0) is the 28x28x1 default */
    genrep_gan_config old = {GENREP_GAN_DCGAN, 8, 2, 2, 10, 4, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(genrep_gen_create(&g, &old, 2, 1), GENREP_OK);
    genrep_gen_shape(&g, &C, &H, &W);
    ck_assert(C == 1 && H == 28 && W == 28);
    ck_assert_int_eq(g.n_tensors, 17);
    genrep_gen_free(&g);
}
END_TEST

START_TEST(gen_dcgan_gradcheck_train) { gen_gradcheck(GENREP_GAN_DCGAN, 1); }
END_TEST
START_TEST(gen_dcgan_gradcheck_eval) { gen_gradcheck(GENREP_GAN_DCGAN, 0); }
END_TEST
START_TEST(gen_cgan_gradcheck_train) { gen_gradcheck(GENREP_GAN_CGAN, 1); }
END_TEST

typedef struct { const float *x; const int32_t *y; int B; const float *R; } disc_arg;
static double disc_loss(void *model, const void *arg) {
    genrep_disc *d = (genrep_disc *)model;
    const disc_arg *a = (const disc_arg *)arg;
    float logits[4];
    ck_assert_int_eq(genrep_disc_forward(d, logits, a->x, a->y, a->B), GENREP_OK);
    return dotd(logits, a->R, (size_t)a->B);
}

static void disc_gradcheck(genrep_gan_kind kind) {
    genrep_gan_config c = tiny(kind);
    enum { B = 3 };
    genrep_disc d;
    ck_assert_int_eq(genrep_disc_create(&d, &c, B, 12), GENREP_OK);
    for (int t = 0; t < d.n_tensors; t++)
        tu_fill(d.params + d.table[t].offset, d.table[t].numel, 200 + t, -0.5f, 0.5f);
    float x[B * 784], dx[B * 784] = {0}, R[B] = {0.7f, -1.3f, 0.4f};
    int32_t y[B] = {2, 0, 3};
    tu_fill(x, B * 784, 7, -1.0f, 1.0f);
    disc_arg arg = {x, y, B, R};
    genrep_disc_zero_grad(&d);
    disc_loss(&d, &arg);
    ck_assert_int_eq(genrep_disc_backward(&d, dx, R, 1), GENREP_OK);
    float *grads = (float *)malloc(d.n_params * sizeof(float));
    memcpy(grads, d.grads, d.n_params * sizeof(float));
    /* param_grads = 0 leaves the slab alone and gives the same dx */
    float dx2[B * 784] = {0};
    genrep_disc_zero_grad(&d);
    disc_loss(&d, &arg);
    ck_assert_int_eq(genrep_disc_backward(&d, dx2, R, 0), GENREP_OK);
    for (size_t i = 0; i < d.n_params; i++) ck_assert_float_eq(d.grads[i], 0.0f);
    TU_ASSERT_CLOSE(dx2, dx, B * 784, 0, 0, "dx without param grads");

    preacts pa = {{d.acts + d.aoff[GENREP__DA_C1], d.acts + d.aoff[GENREP__DA_C2]},
                  {(size_t)B * c.dwidth * 196, (size_t)B * 2 * c.dwidth * 49}, 2};
    uint8_t *s1 = (uint8_t *)malloc(d.n_acts), *s2 = (uint8_t *)malloc(d.n_acts);
    const char *who = kind ? "projection discriminator" : "dcgan discriminator";
    genrep_rng r;
    genrep_rng_init(&r, 98, kind);
    int checked = 0, tried = 0;
    for (int t = 0; t < d.n_tensors; t++) {
        genrep_param_info *p = &d.table[t];
        checked += check_coords(who, p->name, d.params + p->offset, grads + p->offset, p->numel, 6, &r, disc_loss,
                                &d, &arg, &pa, s1, s2);
        tried += 6;
    }
    checked += check_coords(who, "x", x, dx, B * 784, 20, &r, disc_loss, &d, &arg, &pa, s1, s2);
    tried += 20;
    ck_assert_msg(checked >= tried * 2 / 3, "%s: only %d of %d coordinates checked", who, checked, tried);
    free(grads); free(s1); free(s2);
    genrep_disc_free(&d);
}

START_TEST(disc_dcgan_gradcheck) { disc_gradcheck(GENREP_GAN_DCGAN); }
END_TEST
START_TEST(disc_cgan_gradcheck) { disc_gradcheck(GENREP_GAN_CGAN); }
END_TEST

START_TEST(gan_losses) {
    const float logits[5] = {-3.0f, -0.5f, 0.0f, 0.7f, 2.5f};
    for (int kind = 0; kind < 2; kind++)
        for (int role = 0; role < 3; role++) {
            float loss, dl[5];
            ck_assert_int_eq(genrep_gan_loss(&loss, dl, logits, 5, (genrep_gan_loss_kind)kind, (genrep_gan_role)role),
                             GENREP_OK);
            double ref = 0;
            for (int b = 0; b < 5; b++) {
                double l = logits[b], f;
                if (kind == 0) f = role == GENREP_GAN_D_FAKE ? log(1 + exp(l)) : log(1 + exp(-l));
                else f = role == GENREP_GAN_D_REAL ? fmax(0, 1 - l) : role == GENREP_GAN_D_FAKE ? fmax(0, 1 + l) : -l;
                ref += f / 5;
                /* derivative by central difference of the same per-logit loss */
                float lp[5], lm[5], fp, fm;
                memcpy(lp, logits, sizeof lp); memcpy(lm, logits, sizeof lm);
                lp[b] += 1e-2f; lm[b] -= 1e-2f;
                ck_assert_int_eq(genrep_gan_loss(&fp, NULL, lp, 5, (genrep_gan_loss_kind)kind, (genrep_gan_role)role), GENREP_OK);
                ck_assert_int_eq(genrep_gan_loss(&fm, NULL, lm, 5, (genrep_gan_loss_kind)kind, (genrep_gan_role)role), GENREP_OK);
                ck_assert_msg(fabs(((double)fp - fm) / 2e-2 - dl[b]) < 2e-3, "loss %d role %d logit %d: d %g vs fd %g",
                              kind, role, b, dl[b], ((double)fp - fm) / 2e-2);
            }
            ck_assert_msg(fabs(loss - ref) < 1e-6 * (1 + fabs(ref)), "loss %d role %d: %g vs %g", kind, role, loss, ref);
        }
    /* softplus of large logits neither overflows nor loses the linear part */
    const float big[2] = {200.0f, -200.0f};
    float loss, dl[2];
    ck_assert_int_eq(genrep_gan_loss(&loss, dl, big, 2, GENREP_GAN_LOSS_NS, GENREP_GAN_D_FAKE), GENREP_OK);
    ck_assert(fabs(loss - 100.0) < 1e-4);
    ck_assert(fabs(dl[0] - 0.5) < 1e-7 && fabs(dl[1]) < 1e-7);
    ck_assert_int_eq(genrep_gan_loss(&loss, dl, big, 0, GENREP_GAN_LOSS_NS, GENREP_GAN_G), GENREP_ERR_ARG);
}
END_TEST

START_TEST(init_and_render_deterministic) {
    genrep_gan_config c;
    genrep_gan_config_default(&c, GENREP_GAN_CGAN);
    c.width = 8;
    genrep_gen a, b, s;
    ck_assert_int_eq(genrep_gen_create(&a, &c, 8, 42), GENREP_OK);
    ck_assert_int_eq(genrep_gen_create(&b, &c, 8, 42), GENREP_OK);
    ck_assert_int_eq(genrep_gen_create(&s, &c, 3, 42), GENREP_OK); /* small max_batch: renders in chunks */
    ck_assert_int_eq(memcmp(a.params, b.params, a.n_params * sizeof(float)), 0);
    /* init statistics: conv weights N(0, 0.02), bn gains around 1 */
    const genrep_param_info *p = genrep_gen_param(&a, "up2.weight");
    double m = 0, v = 0;
    for (size_t i = 0; i < p->numel; i++) { m += a.params[p->offset + i]; v += (double)a.params[p->offset + i] * a.params[p->offset + i]; }
    m /= p->numel; v = v / p->numel - m * m;
    ck_assert(fabs(m) < 3e-3 && fabs(sqrt(v) - 0.02) < 2e-3);
    genrep_gen_init(&b, 43);
    ck_assert_int_ne(memcmp(a.params, b.params, a.n_params * sizeof(float)), 0);
    genrep_gen_init(&b, 42);

    /* train a little so the running statistics are not the init values */
    enum { N = 7 };
    float z[N * 128], img1[N * 784], img2[N * 784], img3[N * 784], one[784];
    int32_t y[N] = {0, 1, 2, 3, 9, 5, 6};
    tu_fill(z, sizeof z / sizeof z[0], 3, -2.0f, 2.0f);
    for (int it = 0; it < 3; it++) {
        ck_assert_int_eq(genrep_gen_forward(&a, z, y, N, 1), GENREP_OK);
        ck_assert_int_eq(genrep_gen_forward(&b, z, y, N, 1), GENREP_OK);
    }
    memcpy(s.params, a.params, a.n_params * sizeof(float));
    int nt = genrep_num_threads();
    genrep_set_num_threads(1);
    ck_assert_int_eq(genrep_gen_render(&a, img1, z, y, N), GENREP_OK);
    genrep_set_num_threads(2);
    ck_assert_int_eq(genrep_gen_render(&b, img2, z, y, N), GENREP_OK);
    ck_assert_int_eq(memcmp(img1, img2, sizeof img1), 0); /* same bits on 1 and 2 threads */
    ck_assert_int_eq(genrep_gen_render(&s, img3, z, y, N), GENREP_OK);
    TU_ASSERT_CLOSE(img3, img1, N * 784, 1e-6, 1e-5, "render in chunks of 3");
    for (int i = 0; i < N * 784; i++) ck_assert(img1[i] >= -1.0f && img1[i] <= 1.0f);
    /* eval mode: batch of one equals its row of the larger batch */
    for (int r = 0; r < N; r += 3) {
        ck_assert_int_eq(genrep_gen_render(&a, one, z + r * 128, y + r, 1), GENREP_OK);
        TU_ASSERT_CLOSE(one, img1 + r * 784, 784, 1e-6, 1e-5, "batch-1 render");
    }
    /* the class changes the image */
    int32_t y2[N];
    for (int i = 0; i < N; i++) y2[i] = (y[i] + 1) % 10;
    ck_assert_int_eq(genrep_gen_render(&a, img2, z, y2, N), GENREP_OK);
    double diff = 0;
    for (int i = 0; i < N * 784; i++) diff += fabs(img2[i] - img1[i]);
    ck_assert(diff > 1e-3);
    genrep_set_num_threads(nt);
    genrep_gen_free(&a); genrep_gen_free(&b); genrep_gen_free(&s);
}
END_TEST

START_TEST(adam_skips_buffers) {
    genrep_gan_config c = tiny(GENREP_GAN_DCGAN);
    genrep_gen g;
    ck_assert_int_eq(genrep_gen_create(&g, &c, 2, 5), GENREP_OK);
    float *before = (float *)malloc(g.n_params * sizeof(float));
    float *m = (float *)calloc(g.n_params, sizeof(float)), *v = (float *)calloc(g.n_params, sizeof(float));
    memcpy(before, g.params, g.n_params * sizeof(float));
    for (size_t i = 0; i < g.n_params; i++) g.grads[i] = 1.0f; /* even in buffer slots */
    genrep_adam_config ac = {2e-4f, 0.5f, 0.999f, 1e-8f, 0.0f, 0};
    ck_assert_int_eq(genrep_gan_adam_step(g.params, m, v, g.grads, g.table, g.n_tensors, &ac, 1), GENREP_OK);
    for (int t = 0; t < g.n_tensors; t++) {
        const genrep_param_info *p = &g.table[t];
        float want = p->is_buffer ? before[p->offset] : before[p->offset] - 2e-4f;
        ck_assert_msg(fabs(g.params[p->offset] - want) < 1e-6, "%s", p->name);
    }
    free(before); free(m); free(v);
    genrep_gen_free(&g);
}
END_TEST


/* PyTorch reference (tests/ref/make_models_golden.py): the same modules
   built from torch.nn with the same state_dict names. Outputs in eval and
   train mode, every gradient, dz / dx, running statistics after a step. */
static void load_table(golden_file *G, const char *prefix, const genrep_param_info *t, int n, float *slab) {
    for (int i = 0; i < n; i++) {
        char nm[160];
        snprintf(nm, sizeof nm, "%s/%s", prefix, t[i].name);
        golden_tensor *x = golden_get(G, nm);
        ck_assert_msg(x != NULL && (size_t)x->numel == t[i].numel, "golden %s missing or wrong size", nm);
        for (int d = 0; d < t[i].ndim; d++) ck_assert_int_eq(x->dims[d], t[i].shape[d]);
        memcpy(slab + t[i].offset, x->data, t[i].numel * sizeof(float));
    }
}

static void check_table(golden_file *G, const char *prefix, const genrep_param_info *t, int n, const float *slab,
                        int buffers) {
    for (int i = 0; i < n; i++) {
        if (t[i].is_buffer != buffers) continue;
        char nm[160];
        snprintf(nm, sizeof nm, "%s/%s/%s", prefix, buffers ? "after" : "grad", t[i].name);
        float *ref = golden_f32(G, nm);
        ck_assert_msg(ref != NULL, "golden %s missing", nm);
        TU_ASSERT_CLOSE(slab + t[i].offset, ref, t[i].numel, 2e-5, 1e-3, nm);
    }
}

START_TEST(pytorch_golden) {
    golden_file G;
    ck_assert_msg(golden_load(&G, GOLDEN_DIR "golden_models.bin") == 0, "cannot load golden_models.bin (run from the repository root)");
    for (int cond = 0; cond < 2; cond++) {
        const char *pre = cond ? "cgan" : "dcgan";
        genrep_gan_config c;
        genrep_gan_config_default(&c, cond ? GENREP_GAN_CGAN : GENREP_GAN_DCGAN);
        c.width = 4; c.zdim = 8; c.n_classes = 4; c.embed_dim = 3;
        const int B = 3;
        genrep_gen g;
        ck_assert_int_eq(genrep_gen_create(&g, &c, B, 0), GENREP_OK);
        load_table(&G, pre, g.table, g.n_tensors, g.params);
        char nm[64];
        snprintf(nm, sizeof nm, "%s/z", pre);
        const float *z = golden_f32(&G, nm);
        snprintf(nm, sizeof nm, "%s/y", pre);
        const int32_t *y = cond ? golden_i32(&G, nm) : NULL;
        float out[3 * 784], dz[3 * 8] = {0};
        ck_assert_int_eq(genrep_gen_render(&g, out, z, y, B), GENREP_OK);
        snprintf(nm, sizeof nm, "%s/out_eval", pre);
        TU_ASSERT_CLOSE(out, golden_f32(&G, nm), B * 784, 1e-5, 1e-4, nm);
        genrep_gen_zero_grad(&g);
        ck_assert_int_eq(genrep_gen_forward(&g, z, y, B, 1), GENREP_OK);
        snprintf(nm, sizeof nm, "%s/out_train", pre);
        TU_ASSERT_CLOSE(genrep_gen_output(&g), golden_f32(&G, nm), B * 784, 1e-5, 1e-4, nm);
        snprintf(nm, sizeof nm, "%s/dout", pre);
        ck_assert_int_eq(genrep_gen_backward(&g, dz, golden_f32(&G, nm)), GENREP_OK);
        snprintf(nm, sizeof nm, "%s/dz", pre);
        TU_ASSERT_CLOSE(dz, golden_f32(&G, nm), B * 8, 2e-5, 1e-3, nm);
        check_table(&G, pre, g.table, g.n_tensors, g.grads, 0);
        check_table(&G, pre, g.table, g.n_tensors, g.params, 1);
        genrep_gen_free(&g);
    }
    /* projection discriminator */
    genrep_gan_config c;
    genrep_gan_config_default(&c, GENREP_GAN_CGAN);
    c.dwidth = 4; c.n_classes = 4;
    genrep_disc d;
    ck_assert_int_eq(genrep_disc_create(&d, &c, 3, 0), GENREP_OK);
    load_table(&G, "pdisc", d.table, d.n_tensors, d.params);
    float logits[3], dx[3 * 784] = {0};
    ck_assert_int_eq(genrep_disc_forward(&d, logits, golden_f32(&G, "pdisc/x"), golden_i32(&G, "pdisc/y"), 3), GENREP_OK);
    TU_ASSERT_CLOSE(logits, golden_f32(&G, "pdisc/logits"), 3, 1e-5, 1e-4, "pdisc/logits");
    genrep_disc_zero_grad(&d);
    ck_assert_int_eq(genrep_disc_backward(&d, dx, golden_f32(&G, "pdisc/dlogits"), 1), GENREP_OK);
    TU_ASSERT_CLOSE(dx, golden_f32(&G, "pdisc/dx"), 3 * 784, 2e-5, 1e-3, "pdisc/dx");
    check_table(&G, "pdisc", d.table, d.n_tensors, d.grads, 0);
    genrep_disc_free(&d);
    golden_free(&G);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("models");
    TCase *tc = tcase_create("models");
    tcase_set_timeout(tc, 120); /* ~4 s of CPU; generous for a loaded machine */
    tcase_add_test(tc, layout_and_names);
    tcase_add_test(tc, gen_dcgan_gradcheck_train);
    tcase_add_test(tc, gen_dcgan_gradcheck_eval);
    tcase_add_test(tc, gen_cgan_gradcheck_train);
    tcase_add_test(tc, gen_family_gradcheck);
    tcase_add_test(tc, gen_family_layout);
    tcase_add_test(tc, disc_dcgan_gradcheck);
    tcase_add_test(tc, disc_cgan_gradcheck);
    tcase_add_test(tc, gan_losses);
    tcase_add_test(tc, init_and_render_deterministic);
    tcase_add_test(tc, adam_skips_buffers);
    tcase_add_test(tc, pytorch_golden);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
