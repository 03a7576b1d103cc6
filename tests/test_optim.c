/* Optimisers: SGD (plain, momentum, nesterov, weight decay) and Adam / AdamW
   over several steps against double-precision re-implementations written
   from the pseudo-code in the PyTorch docs (torch.optim.SGD, Adam, AdamW),
   the cosine schedule, and bad arguments. */
#include "genrep.h"
#include "testutil.h"
#include <string.h>

#define ST_OK(call) ck_assert_msg((call) == GENREP_OK, "%s failed: %s", #call, genrep_last_error())
#define ST_FAIL(call, st, word) do { \
    genrep_status s_ = (call); \
    ck_assert_msg(s_ == (st), "%s returned %d (%s), want %d", #call, (int)s_, genrep_last_error(), (int)(st)); \
    ck_assert_msg(strstr(genrep_last_error(), (word)) != NULL, "%s: message '%s' does not name '%s'", #call, \
                  genrep_last_error(), (word)); } while (0)

enum { NP = 1000, STEPS = 12 };

/* A different gradient at every step: grads of a quadratic plus noise, so
   the reference and the library see the same numbers. */
static void make_grads(float *g, const float *p, int step) {
    tu_fill(g, NP, 9000 + step, -1.0f, 1.0f);
    for (int i = 0; i < NP; i++) g[i] += 0.5f * p[i];
}

/* torch.optim.SGD docs, dampening tau = 0, maximize False:
     g = grad; if wd: g = g + wd*theta
     if mu: b = (t > 1) ? mu*b + (1 - tau)*g : g;  g = nesterov ? g + mu*b : b
     theta = theta - lr*g */
static void sgd_ref(double *theta, double *b, const float *grad, int n, double lr, double mu, double wd,
                    int nesterov, int t) {
    for (int i = 0; i < n; i++) {
        double g = grad[i];
        if (wd != 0) g = g + wd * theta[i];
        if (mu != 0) {
            b[i] = t > 1 ? mu * b[i] + g : g;
            g = nesterov ? g + mu * b[i] : b[i];
        }
        theta[i] = theta[i] - lr * g;
    }
}

static void sgd_case(float lr, float mu, float wd, int nesterov) {
    float *p = (float *)malloc(NP * 4), *buf = (float *)malloc(NP * 4), *g = (float *)malloc(NP * 4);
    double *rp = (double *)malloc(NP * 8), *rb = (double *)calloc(NP, 8);
    tu_fill(p, NP, 77, -2.0f, 2.0f);
    for (int i = 0; i < NP; i++) { rp[i] = p[i]; buf[i] = i % 7 ? 123.0f : NAN; } /* content ignored at step 1 */
    genrep_sgd_config cfg = {lr, mu, wd, nesterov};
    for (int t = 1; t <= STEPS; t++) {
        make_grads(g, p, t);
        ST_OK(genrep_sgd_step(p, mu != 0 ? buf : NULL, g, NP, &cfg, t));
        sgd_ref(rp, rb, g, NP, lr, mu, wd, nesterov, t);
        for (int i = 0; i < NP; i++)
            ck_assert_msg(fabs(p[i] - rp[i]) <= 1e-6 + 1e-5 * fabs(rp[i]),
                          "sgd lr=%g mu=%g wd=%g nesterov=%d step %d p[%d] = %.9g, ref %.9g", (double)lr, (double)mu,
                          (double)wd, nesterov, t, i, (double)p[i], rp[i]);
    }
    /* the parameters moved (the check above is not vacuous) */
    float p0[NP];
    tu_fill(p0, NP, 77, -2.0f, 2.0f);
    double moved = 0;
    for (int i = 0; i < NP; i++) moved += fabs(p[i] - p0[i]);
    ck_assert(moved / NP > 1e-3);
    free(p); free(buf); free(g); free(rp); free(rb);
}

START_TEST(sgd_variants) {
    sgd_case(0.1f, 0.0f, 0.0f, 0);     /* plain */
    sgd_case(0.05f, 0.9f, 0.0f, 0);    /* momentum */
    sgd_case(0.05f, 0.9f, 0.0f, 1);    /* nesterov */
    sgd_case(0.05f, 0.0f, 5e-2f, 0);   /* weight decay only */
    sgd_case(0.03f, 0.8f, 1e-2f, 1);   /* everything */
}
END_TEST

/* torch.optim.Adam / AdamW docs (amsgrad False, maximize False):
     Adam:  if wd: g = g + wd*theta       AdamW: theta = theta - lr*wd*theta
     m = b1*m + (1 - b1)*g;  v = b2*v + (1 - b2)*g^2
     mhat = m / (1 - b1^t);  vhat = v / (1 - b2^t)
     theta = theta - lr*mhat / (sqrt(vhat) + eps) */
static void adam_ref(double *theta, double *m, double *v, const float *grad, int n, double lr, double b1,
                     double b2, double eps, double wd, int decoupled, int t) {
    for (int i = 0; i < n; i++) {
        double g = grad[i];
        if (decoupled) theta[i] = theta[i] - lr * wd * theta[i];
        else if (wd != 0) g = g + wd * theta[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        double mhat = m[i] / (1 - pow(b1, t)), vhat = v[i] / (1 - pow(b2, t));
        theta[i] = theta[i] - lr * mhat / (sqrt(vhat) + eps);
    }
}

static void adam_case(float lr, float b1, float b2, float eps, float wd, int decoupled) {
    float *p = (float *)malloc(NP * 4), *m = (float *)malloc(NP * 4), *v = (float *)malloc(NP * 4);
    float *g = (float *)malloc(NP * 4);
    for (int i = 0; i < NP; i++) { m[i] = NAN; v[i] = 5.0f; } /* step 1 starts from zero state regardless */
    double *rp = (double *)malloc(NP * 8), *rm = (double *)calloc(NP, 8), *rv = (double *)calloc(NP, 8);
    tu_fill(p, NP, 78, -2.0f, 2.0f);
    for (int i = 0; i < NP; i++) rp[i] = p[i];
    genrep_adam_config cfg = {lr, b1, b2, eps, wd, decoupled};
    for (int t = 1; t <= STEPS; t++) {
        make_grads(g, p, t);
        ST_OK(genrep_adam_step(p, m, v, g, NP, &cfg, t));
        adam_ref(rp, rm, rv, g, NP, lr, b1, b2, eps, wd, decoupled, t);
        for (int i = 0; i < NP; i++) {
            ck_assert_msg(fabs(p[i] - rp[i]) <= 2e-6 + 1e-5 * fabs(rp[i]),
                          "adam wd=%g decoupled=%d step %d p[%d] = %.9g, ref %.9g", (double)wd, decoupled, t, i,
                          (double)p[i], rp[i]);
            ck_assert(fabs(m[i] - rm[i]) <= 1e-6 + 1e-5 * fabs(rm[i]));
            ck_assert(fabs(v[i] - rv[i]) <= 1e-7 + 1e-5 * fabs(rv[i]));
        }
    }
    free(p); free(m); free(v); free(g); free(rp); free(rm); free(rv);
}

START_TEST(adam_variants) {
    adam_case(1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f, 0);    /* plain Adam */
    adam_case(1e-2f, 0.9f, 0.999f, 1e-8f, 0.1f, 0);    /* Adam, L2 weight decay in the gradient */
    adam_case(1e-2f, 0.9f, 0.999f, 1e-8f, 0.1f, 1);    /* AdamW, decoupled */
    adam_case(3e-3f, 0.5f, 0.9f, 1e-3f, 0.05f, 1);     /* other betas: lerp weight >= 0.5 branch */
    adam_case(1e-3f, 0.0f, 0.99f, 1e-6f, 0.0f, 0);     /* beta1 = 0 (RMSprop-like) */
}
END_TEST

/* Adam and AdamW differ only when weight decay is on, and in the right way:
   one step from m = v = 0 moves every parameter by about lr (sign of g). */
START_TEST(adam_first_step) {
    float p[4] = {1, -1, 2, 0.5f}, m[4] = {0}, v[4] = {0}, g[4] = {0.3f, -2, 1e-3f, -0.01f};
    genrep_adam_config cfg = {0.01f, 0.9f, 0.999f, 1e-8f, 0.0f, 0};
    ST_OK(genrep_adam_step(p, m, v, g, 4, &cfg, 1));
    ck_assert(fabsf(p[0] - 0.99f) < 1e-6f && fabsf(p[1] + 0.99f) < 1e-6f);
    ck_assert(fabsf(p[2] - (2 - 0.01f * 1e-3f / (1e-3f + 1e-8f))) < 1e-6f);
    /* AdamW with wd: p *= 1 - lr*wd first */
    float q[1] = {2}, mq[1] = {0}, vq[1] = {0}, gq[1] = {0.5f};
    genrep_adam_config w = {0.1f, 0.9f, 0.999f, 1e-8f, 0.5f, 1};
    ST_OK(genrep_adam_step(q, mq, vq, gq, 1, &w, 1));
    ck_assert(fabsf(q[0] - (2 * (1 - 0.05f) - 0.1f)) < 1e-6f);
}
END_TEST

START_TEST(cosine_schedule) {
    const float base = 0.1f, mn = 0.001f;
    const int64_t warm = 10, total = 110;
    /* warm-up: base*(step+1)/warmup, strictly increasing to base */
    ck_assert(fabsf(genrep_cosine_lr(base, mn, 0, warm, total) - 0.01f) < 1e-8f);
    ck_assert(fabsf(genrep_cosine_lr(base, mn, 4, warm, total) - 0.05f) < 1e-8f);
    ck_assert(fabsf(genrep_cosine_lr(base, mn, 9, warm, total) - base) < 1e-8f);
    for (int64_t s = 1; s < warm; s++)
        ck_assert(genrep_cosine_lr(base, mn, s, warm, total) > genrep_cosine_lr(base, mn, s - 1, warm, total));
    /* cosine: base at step = warmup, midpoint half-way, min_lr at total and beyond */
    ck_assert(fabsf(genrep_cosine_lr(base, mn, warm, warm, total) - base) < 1e-8f);
    ck_assert(fabsf(genrep_cosine_lr(base, mn, 60, warm, total) - 0.5f * (base + mn)) < 1e-8f);
    float q = genrep_cosine_lr(base, mn, 35, warm, total); /* quarter: min + (base-min)*(1+cos(pi/4))/2 */
    ck_assert(fabsf(q - (float)(mn + (base - mn) * (1 + cos(3.14159265358979 / 4)) / 2)) < 1e-8f);
    ck_assert(genrep_cosine_lr(base, mn, total, warm, total) == mn);
    ck_assert(genrep_cosine_lr(base, mn, total + 50, warm, total) == mn);
    float last = genrep_cosine_lr(base, mn, total - 1, warm, total);
    ck_assert(last > mn && last - mn < 1e-4f);
    for (int64_t s = warm + 1; s <= total; s++)
        ck_assert(genrep_cosine_lr(base, mn, s, warm, total) < genrep_cosine_lr(base, mn, s - 1, warm, total));
    for (int64_t s = 0; s <= total; s++) {
        float lr = genrep_cosine_lr(base, mn, s, warm, total);
        ck_assert(lr > 0 && lr <= base);
    }
    /* no warm-up: base at step 0 */
    ck_assert(genrep_cosine_lr(base, mn, 0, 0, 100) == base);
    /* bad arguments give NaN, which the optimisers then refuse */
    float bad = genrep_cosine_lr(base, mn, -1, warm, total);
    ck_assert(bad != bad);
    ck_assert(genrep_cosine_lr(base, mn, 0, -1, total) != genrep_cosine_lr(base, mn, 0, -1, total));
    ck_assert(genrep_cosine_lr(base, mn, 0, 0, 0) != genrep_cosine_lr(base, mn, 0, 0, 0));
    float p = 1, g = 1, buf = 0;
    genrep_sgd_config cfg = {bad, 0, 0, 0};
    ST_FAIL(genrep_sgd_step(&p, &buf, &g, 1, &cfg, 1), GENREP_ERR_ARG, "lr");
}
END_TEST

START_TEST(bad_arguments) {
    float p[4] = {0}, b[4] = {0}, g[4] = {0}, m[4] = {0}, v[4] = {0};
    genrep_sgd_config s = {0.1f, 0.9f, 0.0f, 0};
    ST_FAIL(genrep_sgd_step(NULL, b, g, 4, &s, 1), GENREP_ERR_ARG, "params");
    ST_FAIL(genrep_sgd_step(p, b, NULL, 4, &s, 1), GENREP_ERR_ARG, "grads");
    ST_FAIL(genrep_sgd_step(p, NULL, g, 4, &s, 1), GENREP_ERR_ARG, "buf");
    ST_FAIL(genrep_sgd_step(p, b, g, 0, &s, 1), GENREP_ERR_ARG, "'n'");
    ST_FAIL(genrep_sgd_step(p, b, g, 4, &s, 0), GENREP_ERR_ARG, "step");
    ST_FAIL(genrep_sgd_step(p, b, g, 4, NULL, 1), GENREP_ERR_ARG, "cfg");
    genrep_sgd_config bad1 = {0.1f, 0.0f, 0.0f, 1};
    ST_FAIL(genrep_sgd_step(p, b, g, 4, &bad1, 1), GENREP_ERR_ARG, "nesterov");
    genrep_sgd_config bad2 = {-0.1f, 0.0f, 0.0f, 0};
    ST_FAIL(genrep_sgd_step(p, b, g, 4, &bad2, 1), GENREP_ERR_ARG, "lr");
    genrep_sgd_config bad3 = {0.1f, 0.0f, -1.0f, 0};
    ST_FAIL(genrep_sgd_step(p, b, g, 4, &bad3, 1), GENREP_ERR_ARG, "weight_decay");
    genrep_sgd_config plain = {0.1f, 0.0f, 0.0f, 0};
    ST_OK(genrep_sgd_step(p, NULL, g, 4, &plain, 1)); /* no momentum: no buffer needed */

    genrep_adam_config a = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0};
    ST_FAIL(genrep_adam_step(p, NULL, v, g, 4, &a, 1), GENREP_ERR_ARG, "'m'");
    ST_FAIL(genrep_adam_step(p, m, NULL, g, 4, &a, 1), GENREP_ERR_ARG, "'v'");
    ST_FAIL(genrep_adam_step(p, m, v, g, 4, &a, -3), GENREP_ERR_ARG, "step");
    genrep_adam_config a1 = {1e-3f, 1.0f, 0.999f, 1e-8f, 0.0f, 0};
    ST_FAIL(genrep_adam_step(p, m, v, g, 4, &a1, 1), GENREP_ERR_ARG, "beta1");
    genrep_adam_config a2 = {1e-3f, 0.9f, -0.1f, 1e-8f, 0.0f, 0};
    ST_FAIL(genrep_adam_step(p, m, v, g, 4, &a2, 1), GENREP_ERR_ARG, "beta2");
    genrep_adam_config a3 = {1e-3f, 0.9f, 0.999f, -1e-8f, 0.0f, 0};
    ST_FAIL(genrep_adam_step(p, m, v, g, 4, &a3, 1), GENREP_ERR_ARG, "eps");
    genrep_adam_config a4 = {NAN, 0.9f, 0.999f, 1e-8f, 0.0f, 0};
    ST_FAIL(genrep_adam_step(p, m, v, g, 4, &a4, 1), GENREP_ERR_ARG, "lr");
}
END_TEST

/* Element-wise updates: 1 and 2 threads give the same bits (large n takes
   the parallel path). */
START_TEST(threads_bitwise_identical) {
    enum { BIG = 1 << 18 };
    float *p[2], *m[2], *v[2], *g = (float *)malloc(BIG * 4);
    tu_fill(g, BIG, 5, -1, 1);
    genrep_adam_config a = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 1};
    genrep_sgd_config s = {0.1f, 0.9f, 1e-4f, 1};
    for (int t = 0; t < 2; t++) {
        genrep_set_num_threads(t + 1);
        p[t] = (float *)malloc(BIG * 4); m[t] = (float *)calloc(BIG, 4); v[t] = (float *)calloc(BIG, 4);
        tu_fill(p[t], BIG, 6, -1, 1);
        for (int step = 1; step <= 3; step++) {
            ST_OK(genrep_adam_step(p[t], m[t], v[t], g, BIG, &a, step));
            ST_OK(genrep_sgd_step(p[t], m[t], g, BIG, &s, step));
        }
    }
    genrep_set_num_threads(2);
    ck_assert(memcmp(p[0], p[1], BIG * 4) == 0);
    ck_assert(memcmp(v[0], v[1], BIG * 4) == 0);
    for (int t = 0; t < 2; t++) { free(p[t]); free(m[t]); free(v[t]); }
    free(g);
}
END_TEST

int main(void) {
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, sgd_variants);
    tcase_add_test(tc, adam_variants);
    tcase_add_test(tc, adam_first_step);
    tcase_add_test(tc, cosine_schedule);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, threads_bitwise_identical);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
