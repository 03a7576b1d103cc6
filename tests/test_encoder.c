/* [ENCODER] ResNet encoder + projection head: layout and names, init,
   finite differences of the whole network, eval consistency, threads. */
#define _POSIX_C_SOURCE 200809L /* pthread barriers under -std=c11 (the bn_sync split test) */
#include "genrep.h"
#include "testutil.h"
#include "golden.h"
#include <pthread.h>
#include <string.h>

#ifndef GOLDEN_DIR
#define GOLDEN_DIR "tests/ref/"
#endif

/* A tiny network: 2x8x8 input, stem 4, stage 1 (width 4, identity
   shortcut), stage 2 (width 6, stride 2, projection shortcut), head 6->5->3. */
static void tiny_config(genrep_encoder_config *c) {
    genrep_encoder_config_small(c, 2, 8, 8);
    c->stem_width = 4;
    c->num_stages = 2;
    c->widths[0] = 4; c->blocks[0] = 1; c->strides[0] = 1;
    c->widths[1] = 6; c->blocks[1] = 2; c->strides[1] = 2;
    c->head_hidden = 5; c->head_out = 3;
}

START_TEST(layout_and_names) {
    genrep_encoder_config c;
    genrep_encoder e;
    /* the default small ResNet: counts from PyTorch (the reference's
       SupConResNet layout with this config, num_batches_tracked left out) */
    genrep_encoder_config_small(&c, 1, 28, 28);
    ck_assert_int_eq(genrep_encoder_create(&e, &c, 4, 1), GENREP_OK);
    ck_assert_uint_eq(e.num_params, 727776);
    ck_assert_uint_eq(e.num_buffers, 2240);
    ck_assert_int_eq(e.num_tensors, 79);
    ck_assert_int_eq(e.feat_dim, 128);
    ck_assert_int_eq(e.out_dim, 128);
    const genrep_param_info *t = genrep_encoder_param(&e, "encoder.stem.0.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->ndim, 4);
    ck_assert(t->shape[0] == 32 && t->shape[1] == 1 && t->shape[2] == 3 && t->shape[3] == 3);
    t = genrep_encoder_param(&e, "encoder.layer2.0.shortcut.0.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert(t->shape[0] == 64 && t->shape[1] == 32 && t->shape[2] == 1 && t->shape[3] == 1);
    ck_assert_ptr_null(genrep_encoder_param(&e, "encoder.layer1.0.shortcut.0.weight")); /* identity */
    ck_assert_ptr_nonnull(genrep_encoder_param(&e, "encoder.layer3.1.bn2.running_var"));
    t = genrep_encoder_param(&e, "head.2.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert(t->ndim == 2 && t->shape[0] == 128 && t->shape[1] == 128);
    /* trained tensors tile [0, num_params), buffers [num_params, +num_buffers), no overlap */
    size_t tr = 0, bf = 0;
    int seen_buffer = 0;
    for (int i = 0; i < e.num_tensors; i++) {
        const genrep_param_info *x = &e.tensors[i];
        if (!x->is_buffer) { ck_assert(!seen_buffer); ck_assert_uint_eq(x->offset, tr); tr += x->numel; }
        else { seen_buffer = 1; ck_assert_uint_eq(x->offset, e.num_params + bf); bf += x->numel; }
        size_t n = 1;
        for (int k = 0; k < x->ndim; k++) n *= (size_t)x->shape[k];
        ck_assert_uint_eq(n, x->numel);
        for (int j = 0; j < i; j++) ck_assert_str_ne(x->name, e.tensors[j].name);
    }
    ck_assert_uint_eq(tr, e.num_params);
    ck_assert_uint_eq(bf, e.num_buffers);
    genrep_encoder_free(&e);
    genrep_encoder_config_resnet18(&c, 1, 28, 28);
    ck_assert_int_eq(genrep_encoder_create(&e, &c, 2, 1), GENREP_OK);
    ck_assert_uint_eq(e.num_params, 11496000);
    ck_assert_uint_eq(e.num_buffers, 9600);
    ck_assert_int_eq(e.num_tensors, 104);
    ck_assert_int_eq(e.feat_dim, 512);
    float x[2 * 28 * 28];
    tu_fill(x, 2 * 28 * 28, 3, -1, 1);
    ck_assert_int_eq(genrep_encoder_forward(&e, x, 2, 1), GENREP_OK);
    for (int i = 0; i < 2; i++) {
        double s = 0;
        for (int k = 0; k < 128; k++) s += (double)e.out[i * 128 + k] * e.out[i * 128 + k];
        ck_assert(fabs(s - 1.0) < 1e-5);
    }
    genrep_encoder_free(&e);
    /* bad configurations */
    genrep_encoder_config_small(&c, 1, 28, 28);
    c.num_stages = 5;
    ck_assert_int_eq(genrep_encoder_create(&e, &c, 4, 1), GENREP_ERR_ARG);
    genrep_encoder_config_small(&c, 1, 28, 28);
    ck_assert_int_eq(genrep_encoder_create(&e, &c, 0, 1), GENREP_ERR_ARG);
}
END_TEST

/* genrep_encoder_sizes predicts what create allocates, for several shapes,
   and refuses a config create refuses. */
START_TEST(sizes_match_create) {
    genrep_encoder_config c[4];
    genrep_encoder_config_small(&c[0], 1, 28, 28);
    genrep_encoder_config_small(&c[1], 3, 17, 23);
    c[1].stem_width = 5; c[1].widths[0] = 5; c[1].widths[1] = 7; c[1].widths[2] = 9; c[1].head_out = 0;
    genrep_encoder_config_resnet18(&c[2], 1, 28, 28);
    genrep_encoder_config_small(&c[3], 1, 12, 12);
    c[3].blocks[1] = 3; c[3].head_hidden = 33; c[3].head_out = 11;
    for (int i = 0; i < 4; i++) {
        for (int mb = 1; mb <= 7; mb += 6) {
            size_t np = 0, nb = 0, na = 0;
            ck_assert_int_eq(genrep_encoder_sizes(&c[i], mb, &np, &nb, &na), GENREP_OK);
            genrep_encoder e;
            ck_assert_int_eq(genrep_encoder_create(&e, &c[i], mb, 1), GENREP_OK);
            ck_assert_uint_eq(np, e.num_params);
            ck_assert_uint_eq(nb, e.num_buffers);
            ck_assert_uint_eq(na, e.acts_floats);
            ck_assert_uint_gt(np, 0);
            genrep_encoder_free(&e);
        }
    }
    genrep_encoder_config bad = c[0];
    bad.num_stages = 0;
    size_t np = 123;
    ck_assert_int_eq(genrep_encoder_sizes(&bad, 4, &np, NULL, NULL), GENREP_ERR_ARG);
    ck_assert_uint_eq(np, 123); /* untouched on failure */
    ck_assert_int_eq(genrep_encoder_sizes(NULL, 4, &np, NULL, NULL), GENREP_ERR_ARG);
}
END_TEST

START_TEST(init_deterministic_and_distributed) {
    genrep_encoder_config c;
    genrep_encoder_config_small(&c, 1, 28, 28);
    genrep_encoder a, b;
    ck_assert_int_eq(genrep_encoder_create(&a, &c, 1, 42), GENREP_OK);
    ck_assert_int_eq(genrep_encoder_create(&b, &c, 1, 42), GENREP_OK);
    size_t n = a.num_params + a.num_buffers;
    ck_assert(!memcmp(a.params, b.params, n * sizeof(float)));
    ck_assert_int_eq(genrep_encoder_init(&b, 43), GENREP_OK);
    ck_assert(memcmp(a.params, b.params, a.num_params * sizeof(float)));
    /* Kaiming normal, fan_out = K*R*S: std sqrt(2 / fan_out) */
    const genrep_param_info *t = genrep_encoder_param(&a, "encoder.layer3.1.conv2.weight");
    double s = 0, s2 = 0;
    for (size_t i = 0; i < t->numel; i++) { double v = a.params[t->offset + i]; s += v; s2 += v * v; }
    double sd = sqrt(s2 / t->numel), want = sqrt(2.0 / (128 * 9));
    ck_assert_msg(fabs(sd - want) < 0.02 * want, "conv std %g want %g", sd, want);
    ck_assert(fabs(s / t->numel) < 0.02 * want);
    /* linear: uniform(+-1/sqrt(fan_in)), weights and bias */
    const char *lin[2] = {"head.0.weight", "head.2.bias"};
    for (int k = 0; k < 2; k++) {
        t = genrep_encoder_param(&a, lin[k]);
        float lo = 1, hi = -1, bound = 1.0f / sqrtf(128.0f);
        for (size_t i = 0; i < t->numel; i++) {
            float v = a.params[t->offset + i];
            lo = v < lo ? v : lo; hi = v > hi ? v : hi;
        }
        ck_assert(lo >= -bound && hi <= bound && hi - lo > 1.5f * bound);
    }
    /* BN: gamma 1, beta 0, running mean 0, var 1 */
    ck_assert(a.params[genrep_encoder_param(&a, "encoder.layer1.1.bn1.weight")->offset + 3] == 1.0f);
    ck_assert(a.params[genrep_encoder_param(&a, "encoder.layer1.1.bn1.bias")->offset + 3] == 0.0f);
    ck_assert(a.params[genrep_encoder_param(&a, "encoder.layer1.1.bn1.running_mean")->offset + 3] == 0.0f);
    ck_assert(a.params[genrep_encoder_param(&a, "encoder.layer1.1.bn1.running_var")->offset + 3] == 1.0f);
    genrep_encoder_free(&a);
    genrep_encoder_free(&b);
}
END_TEST

/* The tiny network against PyTorch (tests/ref/make_loss_golden.py, "enc."
   tensors): every tensor loads by its state_dict name 1:1, and train-mode
   forward, backward, running-stat update and eval-mode forward agree. */
START_TEST(pytorch_golden) {
    golden_file g;
    ck_assert_int_eq(golden_load(&g, GOLDEN_DIR "golden_losses.bin"), 0);
    genrep_encoder_config c;
    tiny_config(&c);
    genrep_encoder e;
    ck_assert_int_eq(genrep_encoder_create(&e, &c, 3, 1), GENREP_OK);
    int ngold = 0;
    for (int i = 0; i < g.count; i++) ngold += !strncmp(g.t[i].name, "enc.param.", 10);
    ck_assert_int_eq(ngold, e.num_tensors);
    char nm[160];
    for (int i = 0; i < e.num_tensors; i++) {
        const genrep_param_info *t = &e.tensors[i];
        snprintf(nm, sizeof nm, "enc.param.%s", t->name);
        golden_tensor *gt = golden_get(&g, nm);
        ck_assert_msg(gt != NULL, "%s missing from the PyTorch state_dict", t->name);
        ck_assert_int_eq(gt->ndim, t->ndim);
        for (int k = 0; k < t->ndim; k++) ck_assert_int_eq(gt->dims[k], t->shape[k]);
        memcpy(e.params + t->offset, gt->data, t->numel * sizeof(float));
    }
    const float *x = golden_f32(&g, "enc.x"), *r = golden_f32(&g, "enc.r");
    ck_assert_int_eq(genrep_encoder_forward(&e, x, 3, 1), GENREP_OK);
    TU_ASSERT_CLOSE(e.features, golden_f32(&g, "enc.train.feat"), 3 * 6, 1e-5, 1e-4, "train features");
    TU_ASSERT_CLOSE(e.out, golden_f32(&g, "enc.train.out"), 3 * 3, 1e-5, 1e-4, "train out");
    memset(e.grads, 0, e.num_params * sizeof(float));
    float dx[3 * 2 * 8 * 8] = {0};
    ck_assert_int_eq(genrep_encoder_backward(&e, dx, r), GENREP_OK);
    TU_ASSERT_CLOSE(dx, golden_f32(&g, "enc.train.dx"), 3 * 2 * 8 * 8, 1e-5, 1e-3, "dx");
    for (int i = 0; i < e.num_tensors; i++) {
        const genrep_param_info *t = &e.tensors[i];
        snprintf(nm, sizeof nm, !t->is_buffer ? "enc.grad.%s" : "enc.train.running.%s", t->name);
        const float *want = golden_f32(&g, nm);
        ck_assert_ptr_nonnull(want);
        TU_ASSERT_CLOSE((!t->is_buffer ? e.grads : e.params) + t->offset, want, t->numel, 1e-5, 1e-3, nm);
    }
    ck_assert_int_eq(genrep_encoder_forward(&e, x, 3, 0), GENREP_OK);
    TU_ASSERT_CLOSE(e.out, golden_f32(&g, "enc.eval.out"), 3 * 3, 1e-5, 1e-4, "eval out");
    genrep_encoder_free(&e);
    golden_free(&g);
}
END_TEST

/* loss = sum(out * R), accumulated in double */
static double tiny_loss(genrep_encoder *e, const float *x, int N, const float *R, int training) {
    ck_assert_int_eq(genrep_encoder_forward(e, x, N, training), GENREP_OK);
    double s = 0;
    for (int i = 0; i < N * e->out_dim; i++) s += (double)e->out[i] * R[i];
    return s;
}

/* Central differences (in float forward passes, loss summed in double)
   against backward for every parameter and every input value. */
static void fd_check(int training, int with_head) {
    genrep_set_num_threads(1); /* thousands of tiny passes: no thread-team overhead (Check forks per test) */
    genrep_encoder_config c;
    tiny_config(&c);
    if (!with_head) c.head_out = 0;
    genrep_encoder e;
    const int N = 3, nx = N * 2 * 8 * 8;
    ck_assert_int_eq(genrep_encoder_create(&e, &c, N, 7), GENREP_OK);
    /* random (not init-shaped) parameters so BN's gamma/beta matter too;
       running stats positive for eval mode */
    tu_fill(e.params, e.num_params, 11, -0.6f, 0.6f);
    tu_fill(e.params + e.num_params, e.num_buffers, 12, 0.2f, 1.0f);
    float *x = malloc(nx * sizeof(float)), *dx = calloc(nx, sizeof(float));
    float R[3 * 6];
    tu_fill(x, nx, 13, -1, 1);
    tu_fill(R, 3 * 6, 14, -1, 1);
    float *run0 = malloc(e.num_buffers * sizeof(float));
    memcpy(run0, e.params + e.num_params, e.num_buffers * sizeof(float));
    tiny_loss(&e, x, N, R, training);
    memset(e.grads, 0, e.num_params * sizeof(float));
    float dout[3 * 6];
    for (int i = 0; i < N * e.out_dim; i++) dout[i] = R[i];
    ck_assert_int_eq(genrep_encoder_backward(&e, dx, dout), GENREP_OK);
    /* Every ReLU kink within +-h of a perturbed value bends the difference
       quotient (a tiny net with random weights has many units near 0), so an
       element passes if the quotient at h = 1e-3, 2.5e-4 or 1e-4 agrees. */
    int nbad = 0, nchk = 0;
    double worst = 0;
    char msg[512] = "";
    int at = 0;
    for (int which = 0; which < 2; which++) {
        float *v = which ? x : e.params;
        const float *g = which ? dx : e.grads;
        size_t n = which ? (size_t)nx : e.num_params;
        for (size_t i = 0; i < n; i++) {
            double err = INFINITY, num = 0;
            for (int hk = 0; hk < 3 && err > 1; hk++) {
                float h = hk == 0 ? 1e-3f : hk == 1 ? 2.5e-4f : 1e-4f, keep = v[i];
                v[i] = keep + h; double lp = tiny_loss(&e, x, N, R, training);
                v[i] = keep - h; double lm = tiny_loss(&e, x, N, R, training);
                v[i] = keep;
                num = (lp - lm) / ((double)(keep + h) - (double)(keep - h));
                double q = fabs(g[i] - num) / (2e-3 + 2e-2 * fabs(num));
                if (q < err) err = q;
            }
            if (err > worst) worst = err;
            nchk++;
            if (err > 1) {
                if (nbad < 4)
                    at += snprintf(msg + at, sizeof msg - at, " %s[%zu] analytic %.6g numeric %.6g;",
                                   which ? "input" : "param", i, g[i], num);
                nbad++;
            }
        }
    }
    /* a kink of a ReLU inside +-h can spoil a handful of differences; more is a bug */
    ck_assert_msg(nbad <= nchk / 200, "%d of %d finite differences disagree (worst ratio %.3g):%s", nbad, nchk, worst,
                  msg);
    if (!training) /* eval mode never touches the running stats */
        ck_assert(!memcmp(run0, e.params + e.num_params, e.num_buffers * sizeof(float)));
    else
        ck_assert(memcmp(run0, e.params + e.num_params, e.num_buffers * sizeof(float)));
    free(x); free(dx); free(run0);
    genrep_encoder_free(&e);
}

START_TEST(finite_differences_train) { fd_check(1, 1); }
END_TEST
START_TEST(finite_differences_eval) { fd_check(0, 1); }
END_TEST
START_TEST(finite_differences_no_head) { fd_check(1, 0); }
END_TEST

/* backward accumulates into grads and dinp */
START_TEST(backward_accumulates) {
    genrep_encoder_config c;
    tiny_config(&c);
    genrep_encoder e;
    const int N = 2, nx = N * 2 * 8 * 8;
    ck_assert_int_eq(genrep_encoder_create(&e, &c, N, 3), GENREP_OK);
    float x[2 * 2 * 8 * 8], dx1[2 * 2 * 8 * 8] = {0}, dx2[2 * 2 * 8 * 8], dout[2 * 3];
    tu_fill(x, nx, 1, -1, 1); tu_fill(dout, 6, 2, -1, 1);
    ck_assert_int_eq(genrep_encoder_forward(&e, x, N, 1), GENREP_OK);
    float out0[2 * 3];
    memcpy(out0, e.out, sizeof out0);
    memset(e.grads, 0, e.num_params * 4);
    ck_assert_int_eq(genrep_encoder_backward(&e, dx1, dout), GENREP_OK);
    ck_assert(!memcmp(out0, e.out, sizeof out0)); /* backward leaves out valid */
    float *g1 = malloc(e.num_params * 4);
    memcpy(g1, e.grads, e.num_params * 4);
    memcpy(dx2, dx1, sizeof dx2);
    ck_assert_int_eq(genrep_encoder_forward(&e, x, N, 1), GENREP_OK);
    ck_assert_int_eq(genrep_encoder_backward(&e, dx2, dout), GENREP_OK);
    for (size_t i = 0; i < e.num_params; i++) ck_assert(fabsf(e.grads[i] - 2 * g1[i]) <= 1e-6f + 1e-5f * fabsf(g1[i]));
    for (int i = 0; i < nx; i++) ck_assert(fabsf(dx2[i] - 2 * dx1[i]) <= 1e-6f + 1e-5f * fabsf(dx1[i]));
    free(g1);
    ck_assert_int_eq(genrep_encoder_forward(&e, x, 3, 1), GENREP_ERR_ARG); /* > max_batch */
    genrep_encoder_free(&e);
}
END_TEST

/* Eval mode: one image alone gives its row of a larger batch; features()
   in chunks gives the same rows. */
START_TEST(eval_batch_consistency) {
    genrep_encoder_config c;
    genrep_encoder_config_small(&c, 1, 28, 28);
    c.stem_width = 8; c.widths[0] = 8; c.widths[1] = 16; c.widths[2] = 32;
    genrep_encoder e;
    const int N = 5, chw = 28 * 28;
    ck_assert_int_eq(genrep_encoder_create(&e, &c, N, 5), GENREP_OK);
    float *x = malloc((size_t)7 * chw * 4);
    tu_fill(x, (size_t)7 * chw, 21, -1, 1);
    /* some training steps' worth of running stats */
    ck_assert_int_eq(genrep_encoder_forward(&e, x, N, 1), GENREP_OK);
    ck_assert_int_eq(genrep_encoder_forward(&e, x + chw, N, 1), GENREP_OK);
    ck_assert_int_eq(genrep_encoder_forward(&e, x, N, 0), GENREP_OK);
    int F = e.feat_dim, O = e.out_dim;
    float *fb = malloc((size_t)N * F * 4), *ob = malloc((size_t)N * O * 4);
    memcpy(fb, e.features, (size_t)N * F * 4);
    memcpy(ob, e.out, (size_t)N * O * 4);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(genrep_encoder_forward(&e, x + (size_t)i * chw, 1, 0), GENREP_OK);
        TU_ASSERT_CLOSE(e.features, fb + (size_t)i * F, F, 1e-6, 1e-5, "batch-1 features");
        TU_ASSERT_CLOSE(e.out, ob + (size_t)i * O, O, 1e-6, 1e-5, "batch-1 embedding");
    }
    /* 7 images through a max_batch of 5: chunks 5 + 2 */
    float *f7 = malloc((size_t)7 * F * 4);
    ck_assert_int_eq(genrep_encoder_features(f7, &e, x, 7), GENREP_OK);
    TU_ASSERT_CLOSE(f7, fb, (size_t)N * F, 1e-6, 1e-5, "features() chunk 1");
    ck_assert_int_eq(genrep_encoder_forward(&e, x + (size_t)5 * chw, 2, 0), GENREP_OK);
    TU_ASSERT_CLOSE(f7 + (size_t)5 * F, e.features, (size_t)2 * F, 1e-6, 1e-5, "features() chunk 2");
    ck_assert_int_eq(genrep_encoder_backward(&e, NULL, ob), GENREP_OK); /* last forward is a batch: fine */
    ck_assert_int_eq(genrep_encoder_features(f7, &e, x, 7), GENREP_OK);
    ck_assert_int_eq(genrep_encoder_backward(&e, NULL, ob), GENREP_ERR_ARG); /* after features(): no batch */
    free(x); free(fb); free(ob); free(f7);
    genrep_encoder_free(&e);
}
END_TEST

/* Same bits on 1 and 2 threads: forward, parameter gradients, input gradient. */
START_TEST(threads_bitwise) {
    genrep_encoder_config c;
    genrep_encoder_config_small(&c, 1, 28, 28);
    c.stem_width = 16; c.widths[0] = 16; c.widths[1] = 32; c.widths[2] = 64;
    const int N = 8, nx = N * 28 * 28;
    genrep_encoder e;
    ck_assert_int_eq(genrep_encoder_create(&e, &c, N, 9), GENREP_OK);
    float *x = malloc(nx * 4), *dout = malloc((size_t)N * 128 * 4);
    tu_fill(x, nx, 31, -1, 1); tu_fill(dout, (size_t)N * 128, 32, -1, 1);
    float *out[2], *g[2], *dx[2], *run[2];
    size_t np = e.num_params, nb = e.num_buffers;
    float *p0 = malloc((np + nb) * 4);
    memcpy(p0, e.params, (np + nb) * 4);
    int nt0 = genrep_num_threads();
    for (int k = 0; k < 2; k++) {
        genrep_set_num_threads(k + 1);
        memcpy(e.params, p0, (np + nb) * 4);
        memset(e.grads, 0, np * 4);
        dx[k] = calloc(nx, 4);
        ck_assert_int_eq(genrep_encoder_forward(&e, x, N, 1), GENREP_OK);
        out[k] = malloc((size_t)N * 128 * 4);
        memcpy(out[k], e.out, (size_t)N * 128 * 4);
        ck_assert_int_eq(genrep_encoder_backward(&e, dx[k], dout), GENREP_OK);
        g[k] = malloc(np * 4); memcpy(g[k], e.grads, np * 4);
        run[k] = malloc(nb * 4); memcpy(run[k], e.params + np, nb * 4);
    }
    genrep_set_num_threads(nt0);
    ck_assert(!memcmp(out[0], out[1], (size_t)N * 128 * 4));
    ck_assert(!memcmp(g[0], g[1], np * 4));
    ck_assert(!memcmp(dx[0], dx[1], (size_t)nx * 4));
    ck_assert(!memcmp(run[0], run[1], nb * 4));
    for (int k = 0; k < 2; k++) { free(out[k]); free(g[k]); free(dx[k]); free(run[k]); }
    free(x); free(dout); free(p0);
    genrep_encoder_free(&e);
}
END_TEST

/* ---- bn_sync: batch-norm statistics of a batch split over processes ---- */

typedef struct { int calls, fwd_counts_ok; int n_last; genrep_status fail; } sync_probe;

/* the identity: one process, the sums are already global */
static genrep_status identity_hook(void *user, double *v, int n) {
    sync_probe *p = (sync_probe *)user;
    p->calls++;
    p->n_last = n;
    if (!(v[n - 1] >= 2 && v[n - 1] == floor(v[n - 1]))) p->fwd_counts_ok = 0; /* a value count */
    return p->fail;
}

/* A hook of P = 1 that returns the sums unchanged gives bitwise the results
   of no hook: forward, running stats, parameter and input gradients. It is
   called once per BN in forward and once in backward, never in eval mode,
   and its failure fails the pass. */
START_TEST(bn_sync_identity_bitwise) {
    genrep_encoder_config c;
    tiny_config(&c);
    const int N = 4, nx = N * 2 * 8 * 8;
    genrep_encoder e;
    ck_assert_int_eq(genrep_encoder_create(&e, &c, N, 12), GENREP_OK);
    ck_assert(e.bn_sync == NULL);
    const size_t np = e.num_params, nb = e.num_buffers, O = (size_t)e.out_dim;
    float x[4 * 2 * 8 * 8], dout[4 * 3], dx[2][4 * 2 * 8 * 8], out[2][4 * 3];
    float *p0 = malloc((np + nb) * 4), *g[2], *run[2];
    memcpy(p0, e.params, (np + nb) * 4);
    tu_fill(x, nx, 41, -1, 1); tu_fill(dout, N * O, 42, -1, 1);
    sync_probe pr = {0, 1, 0, GENREP_OK};
    for (int k = 0; k < 2; k++) {
        memcpy(e.params, p0, (np + nb) * 4);
        genrep_encoder_zero_grad(&e);
        e.bn_sync = k ? identity_hook : NULL; e.bn_sync_user = &pr;
        memset(dx[k], 0, sizeof dx[k]);
        ck_assert_int_eq(genrep_encoder_forward(&e, x, N, 1), GENREP_OK);
        memcpy(out[k], e.out, N * O * 4);
        ck_assert_int_eq(genrep_encoder_backward(&e, dx[k], dout), GENREP_OK);
        g[k] = malloc(np * 4); memcpy(g[k], e.grads, np * 4);
        run[k] = malloc(nb * 4); memcpy(run[k], e.params + np, nb * 4);
    }
    ck_assert(!memcmp(out[0], out[1], sizeof out[0]));
    ck_assert(!memcmp(g[0], g[1], np * 4));
    ck_assert(!memcmp(dx[0], dx[1], sizeof dx[0]));
    ck_assert(!memcmp(run[0], run[1], nb * 4));
    /* tiny_config: stem + 3 blocks of 2 units + 1 projection shortcut = 8 BNs */
    ck_assert_int_eq(pr.calls, 2 * 8);
    ck_assert(pr.fwd_counts_ok);
    ck_assert_int_eq(pr.n_last, 2 * 4 + 1); /* the stem (K = 4) is the last BN of backward */
    ck_assert_int_eq(genrep_encoder_forward(&e, x, N, 0), GENREP_OK);
    ck_assert_int_eq(pr.calls, 2 * 8); /* eval mode: no statistics to share */
    pr.fail = GENREP_ERR_IO;
    ck_assert_int_eq(genrep_encoder_forward(&e, x, N, 1), GENREP_ERR_IO);
    for (int k = 0; k < 2; k++) { free(g[k]); free(run[k]); }
    free(p0);
    genrep_encoder_free(&e);
}
END_TEST

/* Two "processes" as two threads, each with its own encoder and half of
   the batch, the hook summing their sums (process 0's + process 1's, behind
   a barrier): the outputs are the whole batch's rows, the running stats the
   whole batch's, and the two halves' gradients add up to the whole batch's
   gradient. Equal up to summation order (double sums, then float). */
typedef struct { pthread_barrier_t bar; double *v[2]; int n[2]; } split2;
typedef struct {
    split2 *sh; int me; genrep_encoder e; const float *x, *dout; float *dx; int N; genrep_status st;
} split_worker;

static genrep_status sum2_hook(void *user, double *v, int n) {
    split_worker *w = (split_worker *)user;
    split2 *sh = w->sh;
    double t[2 * 64 + 1];
    sh->v[w->me] = v; sh->n[w->me] = n;
    pthread_barrier_wait(&sh->bar);
    int ok = sh->n[0] == sh->n[1] && n <= 2 * 64 + 1;
    for (int i = 0; ok && i < n; i++) t[i] = sh->v[0][i] + sh->v[1][i];
    pthread_barrier_wait(&sh->bar); /* both have read both */
    if (!ok) return GENREP_ERR_ARG;
    memcpy(v, t, (size_t)n * sizeof(double));
    return GENREP_OK;
}

static void *split_run(void *arg) {
    split_worker *w = (split_worker *)arg;
    genrep_set_num_threads(1);
    w->st = genrep_encoder_forward(&w->e, w->x, w->N, 1);
    if (!w->st) w->st = genrep_encoder_backward(&w->e, w->dx, w->dout);
    return NULL;
}

START_TEST(bn_sync_two_way_split) {
    genrep_encoder_config c;
    tiny_config(&c);
    const int N = 6, h = 3, chw = 2 * 8 * 8, nx = N * chw;
    genrep_encoder whole;
    ck_assert_int_eq(genrep_encoder_create(&whole, &c, N, 13), GENREP_OK);
    const size_t np = whole.num_params, nb = whole.num_buffers, O = (size_t)whole.out_dim;
    float x[6 * 2 * 8 * 8], dout[6 * 3], dxw[6 * 2 * 8 * 8] = {0}, dxs[6 * 2 * 8 * 8] = {0};
    tu_fill(x, nx, 51, -1, 2); tu_fill(dout, N * O, 52, -1, 1);
    split2 sh;
    pthread_barrier_init(&sh.bar, NULL, 2);
    split_worker w[2];
    for (int k = 0; k < 2; k++) {
        memset(&w[k], 0, sizeof w[k]);
        ck_assert_int_eq(genrep_encoder_create(&w[k].e, &c, h, 99), GENREP_OK);
        memcpy(w[k].e.params, whole.params, (np + nb) * 4);
        w[k].sh = &sh; w[k].me = k; w[k].N = h;
        w[k].x = x + (size_t)k * h * chw; w[k].dout = dout + (size_t)k * h * O; w[k].dx = dxs + (size_t)k * h * chw;
        w[k].e.bn_sync = sum2_hook; w[k].e.bn_sync_user = &w[k];
    }
    ck_assert_int_eq(genrep_encoder_forward(&whole, x, N, 1), GENREP_OK);
    ck_assert_int_eq(genrep_encoder_backward(&whole, dxw, dout), GENREP_OK);
    pthread_t t[2];
    for (int k = 0; k < 2; k++) ck_assert_int_eq(pthread_create(&t[k], NULL, split_run, &w[k]), 0);
    for (int k = 0; k < 2; k++) ck_assert_int_eq(pthread_join(t[k], NULL), 0);
    ck_assert_int_eq(w[0].st, GENREP_OK);
    ck_assert_int_eq(w[1].st, GENREP_OK);
    for (int k = 0; k < 2; k++) {
        TU_ASSERT_CLOSE(w[k].e.out, whole.out + (size_t)k * h * O, h * O, 1e-6, 1e-5, "split embeddings");
        TU_ASSERT_CLOSE(w[k].e.params + np, whole.params + np, nb, 1e-6, 1e-5, "split running stats");
    }
    float *gs = malloc(np * 4);
    for (size_t i = 0; i < np; i++) gs[i] = w[0].e.grads[i] + w[1].e.grads[i];
    TU_ASSERT_CLOSE(gs, whole.grads, np, 1e-5, 1e-4, "sum of the halves' gradients");
    TU_ASSERT_CLOSE(dxs, dxw, nx, 1e-6, 1e-4, "input gradients");
    /* and the split is not trivially equal: without the hook each half
       normalises by its own statistics */
    w[0].e.bn_sync = NULL;
    ck_assert_int_eq(genrep_encoder_forward(&w[0].e, x, h, 1), GENREP_OK);
    ck_assert(tu_close_ratio(w[0].e.out, whole.out, h * O, 1e-6, 1e-5, NULL) > 1.0);
    free(gs);
    pthread_barrier_destroy(&sh.bar);
    for (int k = 0; k < 2; k++) genrep_encoder_free(&w[k].e);
    genrep_encoder_free(&whole);
}
END_TEST

/* Share mode (genrep_encoder_set_share): the batch of 2 groups (views) of 4
   images split over two "processes" (threads), each holding the first or
   second half of every group, with the hook adding the two processes' sums
   (for 2 the pairwise tree) and bn_sync_rank 0 on one of them: the
   embeddings, running stats, input gradients and the sum of the halves'
   gradients are bitwise those of the whole batch on one encoder; the whole
   batch gives the same bits at 1 and 2 threads; and share mode stays near
   the default reductions. */
START_TEST(share_split_bitwise) {
    genrep_encoder_config c;
    tiny_config(&c);
    const int N = 8, G = 2, Ng = N / G, h = N / 2, hg = h / G, chw = 2 * 8 * 8, nx = N * chw;
    genrep_encoder whole;
    ck_assert_int_eq(genrep_encoder_create(&whole, &c, N, 13), GENREP_OK);
    ck_assert_int_eq(whole.share, 0);
    ck_assert_int_eq(genrep_encoder_set_share(&whole, 1, 3), GENREP_ERR_ARG); /* 3 does not divide max_batch 8 */
    ck_assert(strstr(genrep_last_error(), "groups") != NULL);
    const size_t np = whole.num_params, nb = whole.num_buffers, O = (size_t)whole.out_dim;
    float *p0 = malloc((np + nb) * 4), *gdef = malloc(np * 4), *g1 = malloc(np * 4), *gs = malloc(np * 4);
    float x[8 * 2 * 8 * 8], dout[8 * 3], dxw[8 * 2 * 8 * 8], dx1[8 * 2 * 8 * 8], dxs[8 * 2 * 8 * 8] = {0};
    float xs[2][4 * 2 * 8 * 8], douts[2][4 * 3], outw[8 * 3];
    memcpy(p0, whole.params, (np + nb) * 4);
    tu_fill(x, nx, 61, -1, 2); tu_fill(dout, N * O, 62, -1, 1);
    /* the default reductions, then share mode at 2 threads and at 1 */
    for (int k = 0; k < 3; k++) {
        memcpy(whole.params, p0, (np + nb) * 4);
        genrep_encoder_zero_grad(&whole);
        if (k == 1) ck_assert_int_eq(genrep_encoder_set_share(&whole, 1, G), GENREP_OK);
        genrep_set_num_threads(k == 2 ? 1 : 2);
        float *dx = k == 2 ? dx1 : dxw;
        memset(dx, 0, sizeof dxw);
        ck_assert_int_eq(genrep_encoder_forward(&whole, x, N, 1), GENREP_OK);
        ck_assert_int_eq(genrep_encoder_backward(&whole, dx, dout), GENREP_OK);
        memcpy(k == 0 ? gdef : k == 1 ? gs : g1, whole.grads, np * 4);
        if (k == 1) memcpy(outw, whole.out, sizeof outw);
    }
    ck_assert(!memcmp(gs, g1, np * 4));
    ck_assert(!memcmp(dxw, dx1, sizeof dxw));
    TU_ASSERT_CLOSE(gs, gdef, np, 1e-5, 1e-4, "share mode vs the default reductions");
    /* the split: process k holds images k*hg .. k*hg+hg-1 of each group */
    split2 sh;
    pthread_barrier_init(&sh.bar, NULL, 2);
    split_worker w[2];
    for (int k = 0; k < 2; k++) {
        memset(&w[k], 0, sizeof w[k]);
        ck_assert_int_eq(genrep_encoder_create(&w[k].e, &c, h, 99), GENREP_OK);
        ck_assert_int_eq(genrep_encoder_set_share(&w[k].e, 1, G), GENREP_OK);
        memcpy(w[k].e.params, p0, (np + nb) * 4);
        for (int g = 0; g < G; g++) {
            memcpy(xs[k] + (size_t)g * hg * chw, x + ((size_t)g * Ng + (size_t)k * hg) * chw, sizeof(float) * hg * chw);
            memcpy(douts[k] + (size_t)g * hg * O, dout + ((size_t)g * Ng + (size_t)k * hg) * O, sizeof(float) * hg * O);
        }
        w[k].sh = &sh; w[k].me = k; w[k].N = h;
        w[k].x = xs[k]; w[k].dout = douts[k]; w[k].dx = dxs + (size_t)k * h * chw;
        w[k].e.bn_sync = sum2_hook; w[k].e.bn_sync_user = &w[k]; w[k].e.bn_sync_rank = k;
    }
    pthread_t t[2];
    for (int k = 0; k < 2; k++) ck_assert_int_eq(pthread_create(&t[k], NULL, split_run, &w[k]), 0);
    for (int k = 0; k < 2; k++) ck_assert_int_eq(pthread_join(t[k], NULL), 0);
    ck_assert_int_eq(w[0].st, GENREP_OK);
    ck_assert_int_eq(w[1].st, GENREP_OK);
    for (int k = 0; k < 2; k++) {
        for (int g = 0; g < G; g++) {
            ck_assert(!memcmp(w[k].e.out + (size_t)g * hg * O, outw + ((size_t)g * Ng + (size_t)k * hg) * O, sizeof(float) * hg * O));
            ck_assert(!memcmp(dxs + ((size_t)k * h + (size_t)g * hg) * chw, dxw + ((size_t)g * Ng + (size_t)k * hg) * chw,
                              sizeof(float) * hg * chw));
        }
        ck_assert(!memcmp(w[k].e.params + np, whole.params + np, nb * 4)); /* running stats */
    }
    size_t bad = np;
    for (size_t i = 0; i < np; i++) if (w[0].e.grads[i] + w[1].e.grads[i] != gs[i] && bad == np) bad = i;
    ck_assert_msg(bad == np, "gradient %zu: %g + %g (split) vs %g (whole)", bad, w[0].e.grads[bad], w[1].e.grads[bad], gs[bad]);
    pthread_barrier_destroy(&sh.bar);
    for (int k = 0; k < 2; k++) genrep_encoder_free(&w[k].e);
    genrep_encoder_free(&whole);
    free(p0); free(gdef); free(g1); free(gs);
}
END_TEST

/* Relative L2 distance |a - b| / |b|. */
static double rel_l2(const float *a, const float *b, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) { d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]); r += (double)b[i] * b[i]; }
    return sqrt(d / (r > 0 ? r : 1));
}

/* bf16 mixed precision: forward + backward give the same bits on every ISA
   path (scalar, AVX2 emulation, AVX512-BF16) and on 1 and 2 threads, and
   BN running stats and parameters stay fp32. Against fp32: the embeddings
   and the head's gradients within 5%; the gradients of the layers below go
   through BN in training mode and the L2 normalisation, which amplify any
   perturbation (an fp32 run with every weight scaled by 1 +- 2^-8 at random,
   i.e. bf16's rounding applied to the weights alone, moves them 10-50% on
   this random network), so they are held to 3x what that perturbation does
   (a wrong gradient is off by ~100%). A bad precision is refused. */
START_TEST(bf16_paths_bitwise_and_close) {
    genrep_encoder_config c;
    genrep_encoder_config_small(&c, 1, 16, 16);
    c.stem_width = 8; c.widths[0] = 8; c.widths[1] = 16; c.widths[2] = 16;
    c.head_hidden = 16; c.head_out = 8;
    const int N = 6, nx = N * 16 * 16, O = 8;
    genrep_encoder e;
    ck_assert_int_eq(genrep_encoder_create(&e, &c, N, 5), GENREP_OK);
    ck_assert_int_eq(e.precision, GENREP_PRECISION_FP32);
    ck_assert_int_eq(genrep_encoder_set_precision(&e, (genrep_precision)2), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "precision") != NULL);
    size_t np = e.num_params, nb = e.num_buffers;
    float *x = malloc(nx * 4), *dout = malloc((size_t)N * O * 4), *p0 = malloc((np + nb) * 4);
    tu_fill(x, nx, 41, -1, 1); tu_fill(dout, (size_t)N * O, 42, -1, 1);
    memcpy(p0, e.params, (np + nb) * 4);
    /* run k: precision, isa, threads; k = 0 is fp32 */
    static const int runs[][3] = {{0, -1, 2}, {1, GENREP_ISA_SCALAR, 1}, {1, GENREP_ISA_AVX2, 2},
                                  {1, GENREP_ISA_AVX512, 1}, {1, GENREP_ISA_AVX512, 2}, {2, -1, 2}};
    float *out[6], *g[6], *dx[6], *run[6];
    int done[6] = {0};
    genrep_rng rr;
    genrep_rng_init(&rr, 43, 0);
    genrep_isa best = genrep_get_isa();
    int nt0 = genrep_num_threads();
    for (int k = 0; k < 6; k++) {
        if (runs[k][1] >= 0 && genrep_set_isa((genrep_isa)runs[k][1]) != GENREP_OK) continue;
        genrep_set_num_threads(runs[k][2]);
        ck_assert_int_eq(genrep_encoder_set_precision(&e, runs[k][0] == 1 ? GENREP_PRECISION_BF16 : GENREP_PRECISION_FP32),
                         GENREP_OK);
        memcpy(e.params, p0, (np + nb) * 4);
        if (runs[k][0] == 2) /* fp32, weights perturbed by bf16's unit roundoff */
            for (size_t i = 0; i < np; i++) e.params[i] *= 1.0f + (2.0f * genrep_rng_uniform(&rr) - 1.0f) * 0x1p-8f;
        memset(e.grads, 0, np * 4);
        dx[k] = calloc(nx, 4);
        ck_assert_int_eq(genrep_encoder_forward(&e, x, N, 1), GENREP_OK);
        out[k] = malloc((size_t)N * O * 4);
        memcpy(out[k], e.out, (size_t)N * O * 4);
        ck_assert_int_eq(genrep_encoder_backward(&e, dx[k], dout), GENREP_OK);
        g[k] = malloc(np * 4); memcpy(g[k], e.grads, np * 4);
        run[k] = malloc(nb * 4); memcpy(run[k], e.params + np, nb * 4);
        if (runs[k][0] != 2) ck_assert(!memcmp(e.params, p0, np * 4)); /* parameters untouched (fp32 master copy) */
        done[k] = 1;
    }
    genrep_set_num_threads(nt0);
    ck_assert_int_eq(genrep_set_isa(best), GENREP_OK);
    ck_assert(done[0] && done[1]);
    for (int k = 2; k < 5; k++) {
        if (!done[k]) continue;
        ck_assert_msg(!memcmp(out[k], out[1], (size_t)N * O * 4), "bf16 run %d: embeddings differ from scalar", k);
        ck_assert_msg(!memcmp(g[k], g[1], np * 4), "bf16 run %d: gradients differ from scalar", k);
        ck_assert_msg(!memcmp(dx[k], dx[1], (size_t)nx * 4), "bf16 run %d: dinp differs from scalar", k);
        ck_assert_msg(!memcmp(run[k], run[1], nb * 4), "bf16 run %d: BN running stats differ from scalar", k);
    }
    ck_assert(memcmp(out[1], out[0], (size_t)N * O * 4) != 0);
    double eo = rel_l2(out[1], out[0], (size_t)N * O), ex = rel_l2(dx[1], dx[0], (size_t)nx);
    double eg = rel_l2(g[1], g[0], np), pg = rel_l2(g[5], g[0], np), px = rel_l2(dx[5], dx[0], (size_t)nx), eh = 0;
    for (int t = 0; t < e.num_tensors; t++) {
        const genrep_param_info *T = &e.tensors[t];
        if (!strncmp(T->name, "head.", 5)) {
            double r = rel_l2(g[1] + T->offset, g[0] + T->offset, T->numel);
            if (r > eh) eh = r;
        }
    }
    ck_assert_msg(eo < 0.05 && eh < 0.05, "bf16 vs fp32: embeddings %.3g, head gradients %.3g", eo, eh);
    ck_assert_msg(eg <= 3 * pg && ex <= 3 * px, "bf16 vs fp32: gradients %.3g, dinp %.3g; weights perturbed by 2^-8: "
                  "%.3g, %.3g", eg, ex, pg, px);
    ck_assert_msg(eo > 1e-5, "bf16 vs fp32 embeddings %.3g: too close for bf16 operands", eo);
    for (int k = 0; k < 6; k++)
        if (done[k]) { free(out[k]); free(g[k]); free(dx[k]); free(run[k]); }
    free(x); free(dout); free(p0);
    genrep_encoder_free(&e);
}
END_TEST

int main(void) {
    Suite *s = suite_create("encoder");
    TCase *tc = tcase_create("encoder");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, layout_and_names);
    tcase_add_test(tc, sizes_match_create);
    tcase_add_test(tc, init_deterministic_and_distributed);
    tcase_add_test(tc, pytorch_golden);
    tcase_add_test(tc, finite_differences_train);
    tcase_add_test(tc, finite_differences_eval);
    tcase_add_test(tc, finite_differences_no_head);
    tcase_add_test(tc, backward_accumulates);
    tcase_add_test(tc, eval_batch_consistency);
    tcase_add_test(tc, threads_bitwise);
    tcase_add_test(tc, bn_sync_identity_bitwise);
    tcase_add_test(tc, bn_sync_two_way_split);
    tcase_add_test(tc, share_split_bitwise);
    tcase_add_test(tc, bf16_paths_bitwise_and_close);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
