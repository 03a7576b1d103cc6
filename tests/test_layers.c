/* Non-GEMM layers: forward against plain double references, every backward
   against central finite differences of L = sum(out * G) (G fixed random,
   L summed in double), accumulate (+=) semantics, batchnorm running stats,
   eval and 1-d modes, bad arguments, and thread-count determinism. */
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include "testutil.h"
#include <string.h>

/* ------------------------------------------------------------ helpers */

static float *fbuf(size_t n) { float *p = (float *)calloc(n ? n : 1, sizeof(float)); ck_assert_ptr_nonnull(p); return p; }
static float *frand(size_t n, uint64_t seed, float lo, float hi) { float *p = fbuf(n); tu_fill(p, n, seed, lo, hi); return p; }
static double dotd(const float *a, const float *b, size_t n) {
    double s = 0; for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i]; return s;
}
static float maxabs(const float *a, size_t n) {
    float m = 0; for (size_t i = 0; i < n; i++) m = fabsf(a[i]) > m ? fabsf(a[i]) : m; return m;
}

typedef double (*loss_fn)(void *ctx);

/* Central differences of f with respect to each x[i], compared with the
   analytic gradient ana[i]. The step actually taken is (double)(x+h) -
   (double)(x-h), so rounding of x +- h in float does not bias the quotient.
   Tolerance: atol * max(1, max|ana|) + rtol * |num|. */
static void fd_check(loss_fn f, void *ctx, float *x, size_t n, const float *ana, float h,
                     double atol, double rtol, const char *what) {
    double scale = maxabs(ana, n) > 1.0f ? maxabs(ana, n) : 1.0;
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i], xp = x0 + h, xm = x0 - h;
        x[i] = xp; double lp = f(ctx);
        x[i] = xm; double lm = f(ctx);
        x[i] = x0;
        double num = (lp - lm) / ((double)xp - (double)xm);
        double tol = atol * scale + rtol * fabs(num);
        ck_assert_msg(fabs(num - (double)ana[i]) <= tol, "%s[%zu]: analytic %.8g numeric %.8g (tol %.3g)",
                      what, i, (double)ana[i], num, tol);
    }
}

/* got must equal base + delta, where delta is what a backward wrote into
   zeroed gradients and base the values a second run started from (to
   rounding: an element that receives several contributions sums them in
   another order when it starts from base). */
static void check_accumulated(const float *got, const float *base, const float *delta, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++) {
        double want = (double)base[i] + delta[i];
        ck_assert_msg(fabs(got[i] - want) <= 1e-6 * (fabs(base[i]) + fabs(delta[i])),
                      "%s[%zu]: %.9g != %.9g + %.9g (not accumulated)", what, i,
                      (double)got[i], (double)base[i], (double)delta[i]);
    }
}

#define ST_OK(call) ck_assert_msg((call) == GENREP_OK, "%s failed: %s", #call, genrep_last_error())
/* A call that must fail with status st and a message naming `word`. */
#define ST_FAIL(call, st, word) do { \
    genrep_status s_ = (call); \
    ck_assert_msg(s_ == (st), "%s returned %d (%s), want %d", #call, (int)s_, genrep_last_error(), (int)(st)); \
    ck_assert_msg(strstr(genrep_last_error(), (word)) != NULL, "%s: message '%s' does not name '%s'", #call, \
                  genrep_last_error(), (word)); } while (0)

/* --------------------------------------------------------- [BATCHNORM] */

typedef struct {
    int N, C, HW, training, cond;   /* cond: condbn (gain/bias per (n,c)) */
    float eps;
    float *x, *g, *b;               /* gamma/beta (C) or gain/bias (N,C); may be NULL */
    float *rm, *rv, *out, *mean, *rstd;
    const float *G;
} bn_ctx;

static double bn_loss(void *p) {
    bn_ctx *c = (bn_ctx *)p;
    /* training: running stats left out so repeated calls see the same function */
    float *rm = c->training ? NULL : c->rm, *rv = c->training ? NULL : c->rv;
    if (c->cond) ST_OK(genrep_condbn_forward(c->out, c->mean, c->rstd, rm, rv, c->x, c->g, c->b,
                                             c->N, c->C, c->HW, c->eps, 0.1f, c->training));
    else ST_OK(genrep_batchnorm_forward(c->out, c->mean, c->rstd, rm, rv, c->x, c->g, c->b,
                                        c->N, c->C, c->HW, c->eps, 0.1f, c->training));
    return dotd(c->out, c->G, (size_t)c->N * c->C * c->HW);
}

/* Double reference of the forward: out and the (mean, rstd) it used. */
static void bn_ref(double *out, double *mean, double *rstd, const bn_ctx *c) {
    int N = c->N, C = c->C, HW = c->HW;
    for (int ch = 0; ch < C; ch++) {
        double m, var;
        if (c->training) {
            double s = 0, s2 = 0;
            for (int n = 0; n < N; n++) for (int i = 0; i < HW; i++) s += c->x[((size_t)n * C + ch) * HW + i];
            m = s / (N * HW);
            for (int n = 0; n < N; n++) for (int i = 0; i < HW; i++) {
                double d = c->x[((size_t)n * C + ch) * HW + i] - m; s2 += d * d;
            }
            var = s2 / (N * HW);
        } else { m = c->rm[ch]; var = c->rv[ch]; }
        double r = 1.0 / sqrt(var + c->eps);
        mean[ch] = m; rstd[ch] = r;
        for (int n = 0; n < N; n++) {
            double scale, shift;
            if (c->cond) { scale = 1.0 + (c->g ? c->g[n * C + ch] : 0.0); shift = c->b ? c->b[n * C + ch] : 0.0; }
            else { scale = c->g ? c->g[ch] : 1.0; shift = c->b ? c->b[ch] : 0.0; }
            for (int i = 0; i < HW; i++) {
                size_t k = ((size_t)n * C + ch) * HW + i;
                out[k] = (c->x[k] - m) * r * scale + shift;
            }
        }
    }
}

/* One batchnorm / condbn case: forward vs double reference, backward vs
   finite differences (through the batch statistics when training), and
   accumulation into pre-filled gradients. */
static void bn_case(int cond, int N, int C, int HW, int training, int affine, uint64_t seed) {
    size_t n = (size_t)N * C * HW, np = cond ? (size_t)N * C : (size_t)C;
    bn_ctx c = {N, C, HW, training, cond, 1e-5f, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    /* per-channel offsets and scales so the statistics differ across channels */
    c.x = frand(n, seed, -1.0f, 1.0f);
    for (size_t k = 0; k < n; k++) { int ch = (int)(k / HW % C); c.x[k] = c.x[k] * (0.5f + 0.3f * ch) + 0.2f * ch; }
    if (affine) {
        c.g = frand(np, seed + 1, cond ? -0.5f : 0.5f, 1.5f);
        c.b = frand(np, seed + 2, -0.5f, 0.5f);
    }
    c.rm = frand(C, seed + 3, -0.3f, 0.3f);
    c.rv = frand(C, seed + 4, 0.5f, 1.5f);
    c.out = fbuf(n); c.mean = fbuf(C); c.rstd = fbuf(C);
    float *G = frand(n, seed + 5, -1.0f, 1.0f);
    c.G = G;

    /* forward vs reference */
    bn_loss(&c);
    double *ro = (double *)malloc(n * sizeof(double)), rmean[64], rrstd[64];
    ck_assert_int_le(C, 64);
    bn_ref(ro, rmean, rrstd, &c);
    for (size_t k = 0; k < n; k++)
        ck_assert_msg(fabs(c.out[k] - ro[k]) <= 2e-5 + 2e-5 * fabs(ro[k]), "forward out[%zu] %.8g vs %.8g", k, (double)c.out[k], ro[k]);
    for (int ch = 0; ch < C; ch++) {
        ck_assert(fabs(c.mean[ch] - rmean[ch]) <= 1e-6 + 1e-6 * fabs(rmean[ch]));
        ck_assert(fabs(c.rstd[ch] - rrstd[ch]) <= 1e-6 * fabs(rrstd[ch]));
    }
    free(ro);

    /* analytic gradients into zeros */
    float *dx = fbuf(n), *dg = fbuf(np), *db = fbuf(np);
    if (cond) ST_OK(genrep_condbn_backward(dx, affine ? dg : NULL, affine ? db : NULL, G, c.x, c.g, c.mean, c.rstd, N, C, HW, training));
    else ST_OK(genrep_batchnorm_backward(dx, affine ? dg : NULL, affine ? db : NULL, G, c.x, c.g, c.mean, c.rstd, N, C, HW, training));
    ck_assert(maxabs(dx, n) > 0.05f);

    /* accumulation: same call into pre-filled gradients (cache is still valid) */
    float *bx = frand(n, seed + 6, -1, 1), *bg = frand(np, seed + 7, -1, 1), *bb = frand(np, seed + 8, -1, 1);
    float *ax = fbuf(n), *ag = fbuf(np), *ab = fbuf(np);
    memcpy(ax, bx, n * 4); memcpy(ag, bg, np * 4); memcpy(ab, bb, np * 4);
    if (cond) ST_OK(genrep_condbn_backward(ax, affine ? ag : NULL, affine ? ab : NULL, G, c.x, c.g, c.mean, c.rstd, N, C, HW, training));
    else ST_OK(genrep_batchnorm_backward(ax, affine ? ag : NULL, affine ? ab : NULL, G, c.x, c.g, c.mean, c.rstd, N, C, HW, training));
    check_accumulated(ax, bx, dx, n, "dinp");
    check_accumulated(ag, bg, dg, np, "dgamma");
    check_accumulated(ab, bb, db, np, "dbeta");
    /* NULL dinp still gives the parameter gradients */
    if (affine) {
        float *dg2 = fbuf(np);
        if (cond) ST_OK(genrep_condbn_backward(NULL, dg2, NULL, G, c.x, c.g, c.mean, c.rstd, N, C, HW, training));
        else ST_OK(genrep_batchnorm_backward(NULL, dg2, NULL, G, c.x, c.g, c.mean, c.rstd, N, C, HW, training));
        ck_assert(memcmp(dg2, dg, np * 4) == 0);
        free(dg2);
    }

    fd_check(bn_loss, &c, c.x, n, dx, 1e-2f, 1e-3, 1e-2, "dinp");
    if (affine) {
        fd_check(bn_loss, &c, c.g, np, dg, 1e-2f, 1e-3, 1e-2, cond ? "dgain" : "dgamma");
        fd_check(bn_loss, &c, c.b, np, db, 1e-2f, 1e-3, 1e-2, cond ? "dbias" : "dbeta");
    }
    free(c.x); free(c.g); free(c.b); free(c.rm); free(c.rv); free(c.out); free(c.mean); free(c.rstd);
    free(G); free(dx); free(dg); free(db); free(bx); free(bg); free(bb); free(ax); free(ag); free(ab);
}

START_TEST(batchnorm_2d_training_grads) {
    bn_case(0, 3, 4, 5, 1, 1, 100);
    bn_case(0, 2, 3, 16, 1, 1, 110);
    bn_case(0, 3, 2, 4, 1, 0, 120);   /* affine=False: gamma, beta NULL */
}
END_TEST

START_TEST(batchnorm_1d_and_eval_grads) {
    bn_case(0, 6, 5, 1, 1, 1, 200);   /* 1-d (B, C) */
    bn_case(0, 3, 3, 1, 1, 1, 213);   /* tiny batch (seed picked so no channel is nearly constant) */
    bn_case(0, 4, 3, 6, 0, 1, 220);   /* eval, 2-d */
    bn_case(0, 5, 4, 1, 0, 0, 230);   /* eval, 1-d, no affine */
}
END_TEST

/* The running stats against numbers worked out by hand. */
START_TEST(batchnorm_running_stats_by_hand) {
    /* N=2, C=1, HW=2, x = 1 2 3 4: mean 2.5, biased var 1.25, unbiased 5/3 */
    float x[4] = {1, 2, 3, 4}, out[4], mean, rstd, rm = 0.0f, rv = 1.0f;
    ST_OK(genrep_batchnorm_forward(out, &mean, &rstd, &rm, &rv, x, NULL, NULL, 2, 1, 2, 1e-5f, 0.1f, 1));
    ck_assert(fabsf(mean - 2.5f) < 1e-7f);
    ck_assert(fabsf(rstd - (float)(1.0 / sqrt(1.25 + 1e-5))) < 1e-7f);
    ck_assert(fabsf(rm - 0.25f) < 1e-7f);                           /* 0.9*0 + 0.1*2.5 */
    ck_assert(fabsf(rv - (float)(0.9 + 0.1 * 5.0 / 3.0)) < 1e-7f);  /* 0.9*1 + 0.1*5/3 */
    ck_assert(fabsf(out[0] - (float)(-1.5 / sqrt(1.25 + 1e-5))) < 1e-6f);
    /* second step with momentum 0.5 on C=2 with gamma/beta: x per channel */
    float x2[8] = {0, 2, 10, 14, 4, 6, 6, 10}; /* (N=2, C=2, HW=2): ch0 {0,2,4,6}, ch1 {10,14,6,10} */
    float rm2[2] = {1, 2}, rv2[2] = {3, 4}, m2[2], r2[2], o2[8], gam[2] = {2, 3}, bet[2] = {1, -1};
    ST_OK(genrep_batchnorm_forward(o2, m2, r2, rm2, rv2, x2, gam, bet, 2, 2, 2, 1e-5f, 0.5f, 1));
    /* ch0: mean 3, unbiased var 20/3; ch1: mean 10, unbiased var 32/3 */
    ck_assert(fabsf(rm2[0] - 2.0f) < 1e-6f && fabsf(rm2[1] - 6.0f) < 1e-6f);
    ck_assert(fabsf(rv2[0] - (float)(1.5 + 10.0 / 3.0)) < 1e-6f);
    ck_assert(fabsf(rv2[1] - (float)(2.0 + 16.0 / 3.0)) < 1e-6f);
    ck_assert(fabsf(o2[2] - (float)(3.0 * 0.0 / sqrt(8.0 + 1e-5) - 1.0)) < 1e-6f);   /* x=10 is ch1's mean */
    ck_assert(fabsf(o2[0] - (float)(2.0 * -3.0 / sqrt(5.0 + 1e-5) + 1.0)) < 1e-6f);
    /* eval mode reads the running stats, leaves them alone, and caches them */
    float rm3[2] = {1, 2}, rv3[2] = {3, 4};
    ST_OK(genrep_batchnorm_forward(o2, m2, r2, rm3, rv3, x2, gam, bet, 2, 2, 2, 1e-5f, 0.5f, 0));
    ck_assert(rm3[0] == 1 && rm3[1] == 2 && rv3[0] == 3 && rv3[1] == 4);
    ck_assert(m2[0] == 1.0f && fabsf(r2[1] - (float)(1 / sqrt(4 + 1e-5))) < 1e-7f);
    ck_assert(fabsf(o2[2] - (float)(3.0 * (10 - 2) / sqrt(4 + 1e-5) - 1)) < 1e-5f);
    /* condbn shares the statistics: same running update */
    float rm4 = 0.0f, rv4 = 1.0f, o4[4], gain[2] = {0.5f, -0.25f}, bias[2] = {1, 2};
    ST_OK(genrep_condbn_forward(o4, &mean, &rstd, &rm4, &rv4, x, gain, bias, 2, 1, 2, 1e-5f, 0.1f, 1));
    ck_assert(fabsf(rm4 - 0.25f) < 1e-7f && fabsf(rv4 - (float)(0.9 + 0.1 * 5.0 / 3.0)) < 1e-7f);
    /* sample 1 (x = 3, 4) uses gain[1], bias[1] */
    ck_assert(fabsf(o4[2] - (float)(0.5 / sqrt(1.25 + 1e-5) * 0.75 + 2)) < 1e-6f);
}
END_TEST

START_TEST(condbn_grads) {
    bn_case(1, 3, 4, 5, 1, 1, 300);
    bn_case(1, 4, 3, 1, 1, 1, 310);   /* 1-d */
    bn_case(1, 3, 2, 6, 0, 1, 320);   /* eval */
    bn_case(1, 2, 3, 4, 1, 0, 330);   /* gain, bias NULL: plain normalisation */
}
END_TEST

/* Batchnorm, condbn and maxpool give bitwise identical results on 1 and 2
   threads (sizes above the parallel threshold). */
START_TEST(threads_bitwise_identical) {
    const int N = 8, C = 64, HW = 256;
    const size_t n = (size_t)N * C * HW;
    float *x = frand(n, 400, -2, 3), *G = frand(n, 401, -1, 1), *gam = frand(C, 402, 0.5f, 1.5f);
    float *bet = frand(C, 403, -1, 1), *gain = frand((size_t)N * C, 404, -0.5f, 0.5f);
    float *cbias = frand((size_t)N * C, 405, -1, 1);
    float *out[2], *dx[2], *dg[2], *db[2], *rm[2], *rv[2], *mean[2], *rstd[2], *cout[2], *cdx[2], *cdg[2];
    float *mp[2], *mdx[2];
    int32_t *am[2];
    int P = (16 + 2 - 3) / 2 + 1;
    for (int t = 0; t < 2; t++) {
        genrep_set_num_threads(t + 1);
        out[t] = fbuf(n); dx[t] = fbuf(n); dg[t] = fbuf(C); db[t] = fbuf(C); mean[t] = fbuf(C); rstd[t] = fbuf(C);
        rm[t] = fbuf(C); rv[t] = fbuf(C);
        for (int c = 0; c < C; c++) rv[t][c] = 1.0f;
        cout[t] = fbuf(n); cdx[t] = fbuf(n); cdg[t] = fbuf((size_t)N * C);
        ST_OK(genrep_batchnorm_forward(out[t], mean[t], rstd[t], rm[t], rv[t], x, gam, bet, N, C, HW, 1e-5f, 0.1f, 1));
        ST_OK(genrep_batchnorm_backward(dx[t], dg[t], db[t], G, x, gam, mean[t], rstd[t], N, C, HW, 1));
        ST_OK(genrep_condbn_forward(cout[t], mean[t], rstd[t], NULL, NULL, x, gain, cbias, N, C, HW, 1e-5f, 0.1f, 1));
        ST_OK(genrep_condbn_backward(cdx[t], cdg[t], NULL, G, x, gain, mean[t], rstd[t], N, C, HW, 1));
        mp[t] = fbuf((size_t)N * C * P * P); mdx[t] = fbuf(n);
        am[t] = (int32_t *)calloc((size_t)N * C * P * P, 4);
        ST_OK(genrep_maxpool_forward(mp[t], am[t], x, N, C, 16, 16, 3, 2, 1));
        ST_OK(genrep_maxpool_backward(mdx[t], G, am[t], N, C, 16, 16, 3, 2, 1));
    }
    genrep_set_num_threads(2);
    ck_assert(memcmp(out[0], out[1], n * 4) == 0);
    ck_assert(memcmp(dx[0], dx[1], n * 4) == 0);
    ck_assert(memcmp(dg[0], dg[1], C * 4) == 0 && memcmp(db[0], db[1], C * 4) == 0);
    ck_assert(memcmp(rm[0], rm[1], C * 4) == 0 && memcmp(rv[0], rv[1], C * 4) == 0);
    ck_assert(memcmp(cout[0], cout[1], n * 4) == 0 && memcmp(cdx[0], cdx[1], n * 4) == 0);
    ck_assert(memcmp(cdg[0], cdg[1], (size_t)N * C * 4) == 0);
    ck_assert(memcmp(mp[0], mp[1], (size_t)N * C * P * P * 4) == 0 && memcmp(mdx[0], mdx[1], n * 4) == 0);
    for (int t = 0; t < 2; t++) {
        free(out[t]); free(dx[t]); free(dg[t]); free(db[t]); free(mean[t]); free(rstd[t]); free(rm[t]); free(rv[t]);
        free(cout[t]); free(cdx[t]); free(cdg[t]); free(mp[t]); free(mdx[t]); free(am[t]);
    }
    free(x); free(G); free(gam); free(bet); free(gain); free(cbias);
}
END_TEST

/* The batchnorm sums' 8-lane vector form (GCC vector extensions) gives the
   bits of the plain 8-partial-sum loops it replaces, on lengths around and
   between multiples of 8. */
static void ds_scalar(double *sdy, double *sdyx, const float *dy, const float *x, int n, float m, float r) {
    double a[8] = {0}, b[8] = {0};
    for (int i = 0; i < n; i++) { a[i & 7] += dy[i]; b[i & 7] += (double)dy[i] * ((x[i] - m) * r); }
    *sdy += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    *sdyx += ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]));
}
START_TEST(batchnorm_sums_bitwise) {
    float *x = frand(1000, 700, -2, 5), *dy = frand(1000, 701, -1, 1), *a = frand(1000, 702, -1, 1), *dm = fbuf(1000);
    for (int i = 0; i < 1000; i++) dm[i] = a[i] > 0 ? dy[i] : 0.0f;
    const int ns[] = {1, 7, 8, 13, 64, 784, 999};
    for (int k = 0; k < 7; k++) {
        const int n = ns[k];
        double s1 = 0.5, s2 = 0.25, t1 = 0.5, t2 = 0.25;
        genrep__bn_dsums(&s1, &s2, dy, x, n, 0.3f, 1.7f);
        ds_scalar(&t1, &t2, dy, x, n, 0.3f, 1.7f);
        ck_assert_msg(s1 == t1 && s2 == t2, "dsums n=%d", n);
        s1 = 0.5; s2 = 0.25; t1 = 0.5; t2 = 0.25;
        genrep__bn_dsums_masked(&s1, &s2, dy, a, x, n, 0.3f, 1.7f);
        ds_scalar(&t1, &t2, dm, x, n, 0.3f, 1.7f);
        ck_assert_msg(s1 == t1 && s2 == t2, "masked dsums n=%d", n);
        double q1 = 0, q2 = 0, a8[8] = {0}, b8[8] = {0};
        genrep__sum_ssq8(&q1, &q2, x, n);
        for (int i = 0; i < n; i++) { double v = x[i]; a8[i & 7] += v; b8[i & 7] += v * v; }
        ck_assert_msg(q1 == ((a8[0] + a8[1]) + (a8[2] + a8[3])) + ((a8[4] + a8[5]) + (a8[6] + a8[7])) &&
                      q2 == ((b8[0] + b8[1]) + (b8[2] + b8[3])) + ((b8[4] + b8[5]) + (b8[6] + b8[7])), "sum_ssq8 n=%d", n);
    }
    free(x); free(dy); free(a); free(dm);
}
END_TEST

/* Fused batchnorm + residual + ReLU (the encoder's units). */
typedef struct { int N, C, HW; float *x, *g, *b, *res, *out, *mean, *rstd; const float *G; } bna_ctx;
static double bna_loss(void *p) {   /* relu = 0: smooth in x, for finite differences */
    bna_ctx *c = (bna_ctx *)p;
    ST_OK(genrep_batchnorm_act_forward(c->out, c->mean, c->rstd, NULL, NULL, c->x, c->g, c->b, c->res, 0,
                                       c->N, c->C, c->HW, 1e-5f, 0.1f, 1));
    return dotd(c->out, c->G, (size_t)c->N * c->C * c->HW);
}

static void bn_act_case(int N, int C, int HW, int training, int relu, int with_res, float offset, uint64_t seed) {
    const size_t n = (size_t)N * C * HW;
    float *x = frand(n, seed, -1, 1), *gam = frand(C, seed + 1, 0.5f, 1.5f), *bet = frand(C, seed + 2, -0.5f, 0.5f);
    /* per-channel scale and offset; a large offset checks the one-pass variance */
    for (size_t k = 0; k < n; k++) { int ch = (int)(k / HW % C); x[k] = x[k] * (0.5f + 0.3f * ch) + offset + 0.2f * ch; }
    float *res = with_res ? frand(n, seed + 3, -1, 1) : NULL, *G = frand(n, seed + 4, -1, 1);
    float *rm = frand(C, seed + 5, -0.3f, 0.3f), *rv = frand(C, seed + 6, 0.5f, 1.5f);
    float *rm2 = fbuf(C), *rv2 = fbuf(C);
    memcpy(rm2, rm, C * 4); memcpy(rv2, rv, C * 4);
    if (!training) for (int ch = 0; ch < C; ch++) rm[ch] = rm2[ch] += offset;
    float *out = fbuf(n), *mean = fbuf(C), *rstd = fbuf(C), *ref = fbuf(n), *rmean = fbuf(C), *rrstd = fbuf(C);
    ST_OK(genrep_batchnorm_act_forward(out, mean, rstd, rm, rv, x, gam, bet, res, relu, N, C, HW, 1e-5f, 0.1f, training));
    /* against the unfused chain (two-pass statistics: equal to rounding) */
    ST_OK(genrep_batchnorm_forward(ref, rmean, rrstd, rm2, rv2, x, gam, bet, N, C, HW, 1e-5f, 0.1f, training));
    for (size_t k = 0; k < n; k++) {
        double v = ref[k] + (res ? res[k] : 0.0f);
        if (relu) v = v > 0 ? v : 0;
        ck_assert_msg(fabs(out[k] - v) <= 2e-5 + 2e-5 * fabs(v), "fused out[%zu] %.8g vs %.8g", k, (double)out[k], v);
    }
    for (int ch = 0; ch < C; ch++) {
        ck_assert(fabs(mean[ch] - rmean[ch]) <= 1e-6 * (1 + fabs(rmean[ch])));
        ck_assert_msg(fabs(rstd[ch] - rrstd[ch]) <= 1e-5 * fabs(rrstd[ch]), "rstd[%d] %.8g vs %.8g", ch, rstd[ch], rrstd[ch]);
        ck_assert(fabs(rm[ch] - rm2[ch]) <= 1e-6 * (1 + fabs(rm2[ch])));
        ck_assert(fabs(rv[ch] - rv2[ch]) <= 1e-5 * (1 + fabs(rv2[ch])));
    }
    /* backward = ReLU mask, then batchnorm_backward with the same cache: the same
       float operations, so the same bits (dinp overwritten: garbage before) */
    float *Gm = fbuf(n), *dx = frand(n, seed + 7, -9, 9), *dxr = fbuf(n);
    float *dg = fbuf(C), *db = fbuf(C), *dgr = fbuf(C), *dbr = fbuf(C);
    for (size_t k = 0; k < n; k++) Gm[k] = relu && !(out[k] > 0.0f) ? 0.0f : G[k];
    ST_OK(genrep_batchnorm_act_backward(dx, dg, db, G, relu ? out : NULL, x, gam, mean, rstd, N, C, HW, training, 0));
    ST_OK(genrep_batchnorm_backward(dxr, dgr, dbr, Gm, x, gam, mean, rstd, N, C, HW, training));
    for (size_t k = 0; k < n; k++) ck_assert_msg(dx[k] == dxr[k], "dinp[%zu] %.9g vs %.9g", k, dx[k], dxr[k]);
    ck_assert(memcmp(dg, dgr, C * 4) == 0 && memcmp(db, dbr, C * 4) == 0);
    ck_assert(maxabs(dx, n) > 0.01f);
    /* accumulate = 1 adds onto what is there, as batchnorm_backward does */
    float *ax = frand(n, seed + 8, -1, 1), *axr = fbuf(n);
    memcpy(axr, ax, n * 4);
    ST_OK(genrep_batchnorm_act_backward(ax, NULL, NULL, G, relu ? out : NULL, x, gam, mean, rstd, N, C, HW, training, 1));
    ST_OK(genrep_batchnorm_backward(axr, NULL, NULL, Gm, x, gam, mean, rstd, N, C, HW, training));
    ck_assert(memcmp(ax, axr, n * 4) == 0);
    /* finite differences of the fused forward itself (no ReLU: smooth) */
    if (!relu && training && offset == 0.0f) {
        bna_ctx c = {N, C, HW, x, gam, bet, res, out, mean, rstd, G};
        fd_check(bna_loss, &c, x, n, dx, 1e-2f, 1e-3, 1e-2, "fused dinp");
        fd_check(bna_loss, &c, gam, C, dg, 1e-2f, 1e-3, 1e-2, "fused dgamma");
        if (res) fd_check(bna_loss, &c, res, n, G, 1e-2f, 1e-3, 1e-2, "fused dres");
    }
    free(x); free(gam); free(bet); free(res); free(G); free(rm); free(rv); free(rm2); free(rv2); free(out);
    free(mean); free(rstd); free(ref); free(rmean); free(rrstd); free(Gm); free(dx); free(dxr); free(dg); free(db);
    free(dgr); free(dbr); free(ax); free(axr);
}

START_TEST(batchnorm_act_fused) {
    for (int relu = 0; relu < 2; relu++)
        for (int r = 0; r < 2; r++) {
            bn_act_case(3, 4, 5, 1, relu, r, 0.0f, 500 + 10 * relu + r);
            bn_act_case(2, 3, 17, 1, relu, r, 0.0f, 520 + 10 * relu + r);   /* HW not a multiple of 8 */
            bn_act_case(5, 3, 1, 1, relu, r, 0.0f, 540 + 10 * relu + r);    /* 1-d */
            bn_act_case(4, 3, 9, 0, relu, r, 0.0f, 560 + 10 * relu + r);    /* eval */
            bn_act_case(3, 2, 12, 1, relu, r, 50.0f, 580 + 10 * relu + r);  /* mean 50x the std */
        }
    /* 1 vs 2 threads: the same bits (sizes above the parallel threshold) */
    const int N = 8, C = 64, HW = 256;
    const size_t n = (size_t)N * C * HW;
    float *x = frand(n, 600, -2, 3), *res = frand(n, 601, -1, 1), *G = frand(n, 602, -1, 1);
    float *gam = frand(C, 603, 0.5f, 1.5f), *bet = frand(C, 604, -1, 1);
    float *out[2], *dx[2], *dg[2], *mean[2], *rstd[2];
    for (int t = 0; t < 2; t++) {
        genrep_set_num_threads(t + 1);
        out[t] = fbuf(n); dx[t] = fbuf(n); dg[t] = fbuf(C); mean[t] = fbuf(C); rstd[t] = fbuf(C);
        ST_OK(genrep_batchnorm_act_forward(out[t], mean[t], rstd[t], NULL, NULL, x, gam, bet, res, 1, N, C, HW, 1e-5f, 0.1f, 1));
        ST_OK(genrep_batchnorm_act_backward(dx[t], dg[t], NULL, G, out[t], x, gam, mean[t], rstd[t], N, C, HW, 1, 0));
    }
    genrep_set_num_threads(2);
    ck_assert(memcmp(out[0], out[1], n * 4) == 0 && memcmp(dx[0], dx[1], n * 4) == 0);
    ck_assert(memcmp(dg[0], dg[1], C * 4) == 0 && memcmp(rstd[0], rstd[1], C * 4) == 0);
    for (int t = 0; t < 2; t++) { free(out[t]); free(dx[t]); free(dg[t]); free(mean[t]); free(rstd[t]); }
    free(x); free(res); free(G); free(gam); free(bet);
    /* argument checks are the plain ones' */
    float a[4] = {1, 2, 3, 4}, b[4], m[2], r2[2];
    ST_FAIL(genrep_batchnorm_act_forward(NULL, m, r2, NULL, NULL, a, NULL, NULL, NULL, 1, 2, 1, 2, 1e-5f, 0.1f, 1), GENREP_ERR_ARG, "out");
    ST_FAIL(genrep_batchnorm_act_backward(b, NULL, NULL, a, NULL, a, NULL, NULL, r2, 2, 1, 2, 1, 0), GENREP_ERR_ARG, "mean");
}
END_TEST

/* ------------------------------------------------------------ [ACT] */

typedef struct { int op; float slope; size_t n; float *x, *y; const float *G; } act_ctx;
enum { OP_RELU, OP_LEAKY, OP_TANH, OP_SIGMOID };

static void act_fwd(act_ctx *c) {
    switch (c->op) {
    case OP_RELU: ST_OK(genrep_relu_forward(c->y, c->x, c->n)); break;
    case OP_LEAKY: ST_OK(genrep_leaky_relu_forward(c->y, c->x, c->slope, c->n)); break;
    case OP_TANH: ST_OK(genrep_tanh_forward(c->y, c->x, c->n)); break;
    default: ST_OK(genrep_sigmoid_forward(c->y, c->x, c->n)); break;
    }
}
static double act_loss(void *p) { act_ctx *c = (act_ctx *)p; act_fwd(c); return dotd(c->y, c->G, c->n); }
static double act_ref(int op, float slope, double x) {
    switch (op) {
    case OP_RELU: return x > 0 ? x : 0;
    case OP_LEAKY: return x > 0 ? x : slope * x;
    case OP_TANH: return tanh(x);
    default: return 1.0 / (1.0 + exp(-x));
    }
}

START_TEST(activations) {
    const size_t n = 301;
    for (int op = OP_RELU; op <= OP_SIGMOID; op++) {
        act_ctx c = {op, 0.2f, n, frand(n, 500 + op, -3, 3), fbuf(n), NULL};
        /* keep relu / leaky relu inputs at least 0.05 from the kink */
        for (size_t i = 0; i < n; i++) if (fabsf(c.x[i]) < 0.05f) c.x[i] = c.x[i] < 0 ? -0.05f - c.x[i] : 0.05f + c.x[i];
        float *G = frand(n, 510 + op, -1, 1);
        c.G = G;
        act_fwd(&c);
        for (size_t i = 0; i < n; i++) {
            double r = act_ref(op, c.slope, c.x[i]);
            ck_assert_msg(fabs(c.y[i] - r) <= 1e-6 + 1e-6 * fabs(r), "op %d forward [%zu]: %.8g vs %.8g", op, i, (double)c.y[i], r);
        }
        float *dx = fbuf(n), *base = frand(n, 520, -1, 1), *acc = fbuf(n);
        memcpy(acc, base, n * 4);
        const float *cache = (op == OP_TANH || op == OP_SIGMOID) ? c.y : c.x;
        for (int rep = 0; rep < 2; rep++) {
            float *d = rep ? acc : dx;
            switch (op) {
            case OP_RELU: ST_OK(genrep_relu_backward(d, G, cache, n)); break;
            case OP_LEAKY: ST_OK(genrep_leaky_relu_backward(d, G, cache, c.slope, n)); break;
            case OP_TANH: ST_OK(genrep_tanh_backward(d, G, cache, n)); break;
            default: ST_OK(genrep_sigmoid_backward(d, G, cache, n)); break;
            }
            if (!rep) act_fwd(&c); /* cache must be the output of the unperturbed x */
        }
        check_accumulated(acc, base, dx, n, "act dinp");
        fd_check(act_loss, &c, c.x, n, dx, 1e-3f, 1e-4, 1e-3, "act dinp");
        free(c.x); free(c.y); free(G); free(dx); free(base); free(acc);
    }
    /* relu: the gradient at exactly 0 is 0 (PyTorch), sigmoid saturates without NaN */
    float z[3] = {0.0f, -100.0f, 100.0f}, y[3], g[3] = {1, 1, 1}, d[3] = {0, 0, 0};
    ST_OK(genrep_relu_backward(d, g, z, 1));
    ck_assert(d[0] == 0.0f);
    ST_OK(genrep_sigmoid_forward(y, z, 3));
    ck_assert(y[0] == 0.5f && y[1] >= 0.0f && y[1] < 1e-30f && y[2] == 1.0f);
}
END_TEST

START_TEST(residual_add) {
    const size_t n = 77;
    float *a = frand(n, 600, -1, 1), *b = frand(n, 601, -1, 1), *o = fbuf(n), *dout = frand(n, 602, -1, 1);
    ST_OK(genrep_add_forward(o, a, b, n));
    for (size_t i = 0; i < n; i++) ck_assert(o[i] == a[i] + b[i]);
    float *da = frand(n, 603, -1, 1), *db = frand(n, 604, -1, 1), *a0 = fbuf(n), *b0 = fbuf(n);
    memcpy(a0, da, n * 4); memcpy(b0, db, n * 4);
    ST_OK(genrep_add_backward(da, db, dout, n));
    check_accumulated(da, a0, dout, n, "da");
    check_accumulated(db, b0, dout, n, "db");
    ST_OK(genrep_add_backward(NULL, db, dout, n)); /* one side not needed */
    free(a); free(b); free(o); free(dout); free(da); free(db); free(a0); free(b0);
}
END_TEST

/* ------------------------------------------------------------ [POOL] */

typedef struct { int N, C, H, W, k, s, p, P, Q; float *x, *y; int32_t *am; const float *G; } pool_ctx;
static double avg_loss(void *p) {
    pool_ctx *c = (pool_ctx *)p;
    ST_OK(genrep_avgpool_forward(c->y, c->x, c->N, c->C, c->H * c->W));
    return dotd(c->y, c->G, (size_t)c->N * c->C);
}
static double max_loss(void *p) {
    pool_ctx *c = (pool_ctx *)p;
    ST_OK(genrep_maxpool_forward(c->y, c->am, c->x, c->N, c->C, c->H, c->W, c->k, c->s, c->p));
    return dotd(c->y, c->G, (size_t)c->N * c->C * c->P * c->Q);
}

START_TEST(avgpool) {
    pool_ctx c = {3, 4, 5, 6, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL};
    size_t n = (size_t)3 * 4 * 30;
    c.x = frand(n, 700, -1, 2); c.y = fbuf(12);
    float *G = frand(12, 701, -1, 1); c.G = G;
    avg_loss(&c);
    for (int pl = 0; pl < 12; pl++) {
        double s = 0; for (int i = 0; i < 30; i++) s += c.x[pl * 30 + i];
        ck_assert(fabs(c.y[pl] - s / 30) < 1e-6);
    }
    float *dx = fbuf(n), *base = frand(n, 702, -1, 1), *acc = fbuf(n);
    memcpy(acc, base, n * 4);
    ST_OK(genrep_avgpool_backward(dx, G, 3, 4, 30));
    ST_OK(genrep_avgpool_backward(acc, G, 3, 4, 30));
    check_accumulated(acc, base, dx, n, "avgpool dinp");
    fd_check(avg_loss, &c, c.x, n, dx, 1e-2f, 1e-4, 1e-3, "avgpool dinp");
    free(c.x); free(c.y); free(G); free(dx); free(base); free(acc);
}
END_TEST

/* Brute-force max pool: padded cells are -inf and never chosen. */
static void maxpool_ref(float *y, int32_t *am, const float *x, int H, int W, int k, int s, int p, int P, int Q) {
    for (int ph = 0; ph < P; ph++)
        for (int qw = 0; qw < Q; qw++) {
            float best = -INFINITY; int bi = -1;
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++) {
                    int h = ph * s - p + i, w = qw * s - p + j;
                    if (h < 0 || h >= H || w < 0 || w >= W) continue;
                    if (bi < 0 || x[h * W + w] > best) { best = x[h * W + w]; bi = h * W + w; }
                }
            y[ph * Q + qw] = best; am[ph * Q + qw] = bi;
        }
}

START_TEST(maxpool) {
    const int cfg[][5] = { /* H, W, k, s, p */
        {7, 6, 3, 2, 1}, {5, 5, 2, 2, 0}, {6, 7, 3, 1, 1}, {4, 5, 1, 1, 0}, {9, 8, 4, 3, 2}, {3, 3, 3, 3, 0}};
    for (size_t t = 0; t < sizeof cfg / sizeof cfg[0]; t++) {
        pool_ctx c = {2, 3, cfg[t][0], cfg[t][1], cfg[t][2], cfg[t][3], cfg[t][4], 0, 0, NULL, NULL, NULL, NULL};
        c.P = (c.H + 2 * c.p - c.k) / c.s + 1; c.Q = (c.W + 2 * c.p - c.k) / c.s + 1;
        size_t n = (size_t)c.N * c.C * c.H * c.W, no = (size_t)c.N * c.C * c.P * c.Q;
        /* tie-free input: distinct values 0.05 apart, shuffled */
        c.x = fbuf(n);
        genrep_rng r; genrep_rng_init(&r, 800 + t, 0);
        for (size_t i = 0; i < n; i++) c.x[i] = 0.05f * (float)i - 3.0f;
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = genrep_rng_below(&r, (uint32_t)(i + 1)); float tmp = c.x[i]; c.x[i] = c.x[j]; c.x[j] = tmp;
        }
        c.y = fbuf(no); c.am = (int32_t *)calloc(no, 4);
        float *G = frand(no, 810 + t, -1, 1); c.G = G;
        max_loss(&c);
        float *ry = fbuf(no); int32_t *ram = (int32_t *)calloc(no, 4);
        for (int pl = 0; pl < c.N * c.C; pl++)
            maxpool_ref(ry + (size_t)pl * c.P * c.Q, ram + (size_t)pl * c.P * c.Q, c.x + (size_t)pl * c.H * c.W,
                        c.H, c.W, c.k, c.s, c.p, c.P, c.Q);
        ck_assert(memcmp(ry, c.y, no * 4) == 0);
        ck_assert(memcmp(ram, c.am, no * 4) == 0);
        float *dx = fbuf(n), *base = frand(n, 820, -1, 1), *acc = fbuf(n);
        memcpy(acc, base, n * 4);
        ST_OK(genrep_maxpool_backward(dx, G, c.am, c.N, c.C, c.H, c.W, c.k, c.s, c.p));
        ST_OK(genrep_maxpool_backward(acc, G, c.am, c.N, c.C, c.H, c.W, c.k, c.s, c.p));
        check_accumulated(acc, base, dx, n, "maxpool dinp");
        fd_check(max_loss, &c, c.x, n, dx, 1e-2f, 1e-4, 1e-3, "maxpool dinp");
        free(c.x); free(c.y); free(c.am); free(G); free(ry); free(ram); free(dx); free(base); free(acc);
    }
}
END_TEST

START_TEST(maxpool_ties_and_nan) {
    /* all-equal 2x2 plane, k=2, s=1, p=1 -> 3x3 output; each window's first
       in-bounds cell wins */
    float x[4] = {1, 1, 1, 1}, y[9];
    int32_t am[9], want[9] = {0, 0, 1, 0, 0, 1, 2, 2, 3};
    ST_OK(genrep_maxpool_forward(y, am, x, 1, 1, 2, 2, 2, 1, 1));
    for (int i = 0; i < 9; i++) { ck_assert_int_eq(am[i], want[i]); ck_assert(y[i] == 1.0f); }
    /* a NaN wins its windows, as in PyTorch */
    float xn[4] = {1, NAN, 3, 2};
    ST_OK(genrep_maxpool_forward(y, am, xn, 1, 1, 2, 2, 2, 2, 0));
    ck_assert(y[0] != y[0]); ck_assert_int_eq(am[0], 1);
}
END_TEST

/* --------------------------------------------------------- [UPSAMPLE] */

typedef struct { int N, C, H, W; float *x, *y; const float *G; } up_ctx;
static double up_loss(void *p) {
    up_ctx *c = (up_ctx *)p;
    ST_OK(genrep_upsample2x_forward(c->y, c->x, c->N, c->C, c->H, c->W));
    return dotd(c->y, c->G, (size_t)c->N * c->C * 4 * c->H * c->W);
}
START_TEST(upsample) {
    up_ctx c = {2, 3, 3, 5, NULL, NULL, NULL};
    size_t n = 2 * 3 * 15, no = 4 * n;
    c.x = frand(n, 900, -1, 1); c.y = fbuf(no);
    float *G = frand(no, 901, -1, 1); c.G = G;
    up_loss(&c);
    for (int pl = 0; pl < 6; pl++)
        for (int h = 0; h < 6; h++)
            for (int w = 0; w < 10; w++)
                ck_assert(c.y[(pl * 6 + h) * 10 + w] == c.x[(pl * 3 + h / 2) * 5 + w / 2]);
    float *dx = fbuf(n), *base = frand(n, 902, -1, 1), *acc = fbuf(n);
    memcpy(acc, base, n * 4);
    ST_OK(genrep_upsample2x_backward(dx, G, 2, 3, 3, 5));
    ST_OK(genrep_upsample2x_backward(acc, G, 2, 3, 3, 5));
    check_accumulated(acc, base, dx, n, "upsample dinp");
    fd_check(up_loss, &c, c.x, n, dx, 1e-2f, 1e-4, 1e-3, "upsample dinp");
    free(c.x); free(c.y); free(G); free(dx); free(base); free(acc);
}
END_TEST

/* ------------------------------------------------------------ [EMBED] */

START_TEST(embedding) {
    const int B = 6, V = 4, D = 5;
    int32_t idx[6] = {2, 0, 2, 3, 2, 1};
    float *table = frand(V * D, 1000, -1, 1), *out = fbuf(B * D), *dout = frand(B * D, 1001, -1, 1);
    ST_OK(genrep_embedding_forward(out, idx, table, B, V, D));
    for (int b = 0; b < B; b++) ck_assert(memcmp(out + b * D, table + idx[b] * D, D * 4) == 0);
    float *dt = frand(V * D, 1002, -1, 1), *want = fbuf(V * D);
    memcpy(want, dt, V * D * 4);
    for (int b = 0; b < B; b++) for (int d = 0; d < D; d++) want[idx[b] * D + d] += dout[b * D + d];
    ST_OK(genrep_embedding_backward(dt, dout, idx, B, V, D));
    ck_assert(memcmp(dt, want, V * D * 4) == 0);
    /* out of range: error, nothing written */
    int32_t bad1[2] = {0, 4}, bad2[2] = {-1, 0};
    float before[10]; memcpy(before, out, sizeof before);
    ST_FAIL(genrep_embedding_forward(out, bad1, table, 2, V, D), GENREP_ERR_ARG, "idx[1]");
    ST_FAIL(genrep_embedding_forward(out, bad2, table, 2, V, D), GENREP_ERR_ARG, "idx[0]");
    ck_assert(memcmp(before, out, sizeof before) == 0);
    ST_FAIL(genrep_embedding_backward(dt, dout, bad1, 2, V, D), GENREP_ERR_ARG, "idx");
    ck_assert(memcmp(dt, want, V * D * 4) == 0);
    free(table); free(out); free(dout); free(dt); free(want);
}
END_TEST

/* ----------------------------------------------------------- [L2NORM] */

typedef struct { int B, D; float eps; float *x, *y, *nrm; const float *G; } l2_ctx;
static double l2_loss(void *p) {
    l2_ctx *c = (l2_ctx *)p;
    ST_OK(genrep_l2norm_forward(c->y, c->nrm, c->x, c->B, c->D, c->eps));
    return dotd(c->y, c->G, (size_t)c->B * c->D);
}
START_TEST(l2norm) {
    for (int clamped = 0; clamped < 2; clamped++) {
        l2_ctx c = {5, 7, clamped ? 4.0f : 1e-12f, NULL, NULL, NULL, NULL};
        size_t n = 35;
        c.x = frand(n, 1100 + clamped, -1, 1); c.y = fbuf(n); c.nrm = fbuf(5);
        float *G = frand(n, 1110, -1, 1); c.G = G;
        l2_loss(&c);
        for (int b = 0; b < 5; b++) {
            double ss = 0; for (int d = 0; d < 7; d++) ss += (double)c.x[b * 7 + d] * c.x[b * 7 + d];
            double nb = sqrt(ss) > c.eps ? sqrt(ss) : c.eps;
            ck_assert(clamped ? c.nrm[b] == 4.0f : fabs(c.nrm[b] - nb) < 1e-6 * nb);
            for (int d = 0; d < 7; d++) ck_assert(fabs(c.y[b * 7 + d] - c.x[b * 7 + d] / nb) < 1e-6);
        }
        float *dx = fbuf(n), *base = frand(n, 1120, -1, 1), *acc = fbuf(n);
        memcpy(acc, base, n * 4);
        ST_OK(genrep_l2norm_backward(dx, G, c.y, c.nrm, 5, 7));
        ST_OK(genrep_l2norm_backward(acc, G, c.y, c.nrm, 5, 7));
        check_accumulated(acc, base, dx, n, "l2norm dinp");
        fd_check(l2_loss, &c, c.x, n, dx, 1e-3f, 1e-3, 1e-2, clamped ? "l2norm clamped dinp" : "l2norm dinp");
        free(c.x); free(c.y); free(c.nrm); free(G); free(dx); free(base); free(acc);
    }
    /* a zero row: out 0, norm = eps, no NaN */
    float z[3] = {0, 0, 0}, y[3], nb;
    ST_OK(genrep_l2norm_forward(y, &nb, z, 1, 3, 1e-12f));
    ck_assert(nb == 1e-12f && y[0] == 0.0f && y[2] == 0.0f);
}
END_TEST

/* ------------------------------------------------------------- [XENT] */

typedef struct { int B, V; float dloss; float *z, *pr; const int32_t *t; } xent_ctx;
static double xent_loss(void *p) {
    xent_ctx *c = (xent_ctx *)p; float loss;
    ST_OK(genrep_softmax_xent_forward(&loss, c->pr, c->z, c->t, c->B, c->V));
    return (double)c->dloss * loss;
}
/* mean over rows of logsumexp - z[t], in double with the max subtracted */
static double xent_ref(const float *z, const int32_t *t, int B, int V) {
    double tot = 0;
    for (int b = 0; b < B; b++) {
        double mx = z[b * V]; for (int v = 1; v < V; v++) mx = z[b * V + v] > mx ? z[b * V + v] : mx;
        double s = 0; for (int v = 0; v < V; v++) s += exp(z[b * V + v] - mx);
        tot += mx + log(s) - z[b * V + t[b]];
    }
    return tot / B;
}
START_TEST(softmax_xent) {
    const int B = 6, V = 7;
    int32_t t[6] = {0, 6, 3, 3, 1, 5};
    xent_ctx c = {B, V, 1.7f, frand(B * V, 1200, -3, 3), fbuf(B * V), t};
    float loss;
    ST_OK(genrep_softmax_xent_forward(&loss, c.pr, c.z, t, B, V));
    double ref = xent_ref(c.z, t, B, V);
    ck_assert_msg(fabs(loss - ref) < 1e-6 * ref, "loss %.9g vs %.9g", (double)loss, ref);
    for (int b = 0; b < B; b++) {
        double s = 0; for (int v = 0; v < V; v++) s += c.pr[b * V + v];
        ck_assert(fabs(s - 1.0) < 1e-6);
    }
    float *dz = fbuf(B * V), *base = frand(B * V, 1201, -1, 1), *acc = fbuf(B * V);
    memcpy(acc, base, B * V * 4);
    ST_OK(genrep_softmax_xent_backward(dz, c.pr, t, B, V, c.dloss));
    ST_OK(genrep_softmax_xent_backward(acc, c.pr, t, B, V, c.dloss));
    check_accumulated(acc, base, dz, B * V, "dlogits");
    fd_check(xent_loss, &c, c.z, B * V, dz, 1e-2f, 1e-3, 1e-2, "dlogits");
    /* huge logits: log-sum-exp keeps it finite and exact */
    float big[6] = {1000, 990, -1000, 88.7f, 100, 89};
    int32_t tb[2] = {1, 2};
    float pb[6];
    ST_OK(genrep_softmax_xent_forward(&loss, pb, big, tb, 2, 3));
    ref = xent_ref(big, tb, 2, 3);
    ck_assert_msg(isfinite(loss) && fabs(loss - ref) < 1e-5 * ref, "big loss %.9g vs %.9g", (double)loss, ref);
    ck_assert(pb[0] > 0.9999f && pb[2] == 0.0f);
    ST_FAIL(genrep_softmax_xent_forward(&loss, pb, big, (int32_t[]){3, 0}, 2, 3), GENREP_ERR_ARG, "targets[0]");
    ST_FAIL(genrep_softmax_xent_backward(dz, pb, (int32_t[]){0, -1}, 2, 3, 1.0f), GENREP_ERR_ARG, "targets[1]");
    free(c.z); free(c.pr); free(dz); free(base); free(acc);
}
END_TEST

/* ---------------------------------------------------- bad arguments */

START_TEST(bad_arguments) {
    float a[64] = {0}, b[64] = {0}, c[64] = {0}, d[64] = {0}, rm[4] = {0}, rv[4] = {1, 1, 1, 1};
    int32_t am[64] = {0};
    /* batchnorm / condbn */
    ST_FAIL(genrep_batchnorm_forward(NULL, c, d, rm, rv, a, NULL, NULL, 2, 2, 2, 1e-5f, 0.1f, 1), GENREP_ERR_ARG, "out");
    ST_FAIL(genrep_batchnorm_forward(b, c, d, rm, rv, NULL, NULL, NULL, 2, 2, 2, 1e-5f, 0.1f, 1), GENREP_ERR_ARG, "inp");
    ST_FAIL(genrep_batchnorm_forward(b, c, d, rm, rv, a, NULL, NULL, 0, 2, 2, 1e-5f, 0.1f, 1), GENREP_ERR_ARG, "N=0");
    ST_FAIL(genrep_batchnorm_forward(b, c, d, rm, rv, a, NULL, NULL, 2, -1, 2, 1e-5f, 0.1f, 1), GENREP_ERR_ARG, "C=-1");
    ST_FAIL(genrep_batchnorm_forward(b, c, d, rm, rv, a, NULL, NULL, 2, 2, 2, 0.0f, 0.1f, 1), GENREP_ERR_ARG, "eps");
    ST_FAIL(genrep_batchnorm_forward(b, c, d, rm, rv, a, NULL, NULL, 2, 2, 2, NAN, 0.1f, 1), GENREP_ERR_ARG, "eps");
    ST_FAIL(genrep_batchnorm_forward(b, c, d, rm, rv, a, NULL, NULL, 2, 2, 2, 1e-5f, 1.5f, 1), GENREP_ERR_ARG, "momentum");
    ST_FAIL(genrep_batchnorm_forward(b, c, d, rm, rv, a, NULL, NULL, 1, 2, 1, 1e-5f, 0.1f, 1), GENREP_ERR_SHAPE, "more than 1 value");
    ST_FAIL(genrep_batchnorm_forward(b, c, d, NULL, rv, a, NULL, NULL, 2, 2, 2, 1e-5f, 0.1f, 0), GENREP_ERR_ARG, "running_mean");
    ST_OK(genrep_batchnorm_forward(b, c, d, rm, rv, a, NULL, NULL, 1, 2, 1, 1e-5f, 0.1f, 0)); /* eval: N=1 fine */
    ST_FAIL(genrep_batchnorm_backward(a, NULL, NULL, b, a, NULL, NULL, d, 2, 2, 2, 1), GENREP_ERR_ARG, "mean");
    ST_FAIL(genrep_batchnorm_backward(a, NULL, NULL, NULL, a, NULL, c, d, 2, 2, 2, 1), GENREP_ERR_ARG, "dout");
    ST_FAIL(genrep_batchnorm_backward(a, NULL, NULL, b, a, NULL, c, d, 2, 2, 0, 1), GENREP_ERR_ARG, "HW=0");
    ST_FAIL(genrep_condbn_forward(b, c, d, rm, rv, a, NULL, NULL, 2, 2, 2, -1.0f, 0.1f, 1), GENREP_ERR_ARG, "eps");
    ST_FAIL(genrep_condbn_backward(a, NULL, NULL, b, a, NULL, c, NULL, 2, 2, 2, 1), GENREP_ERR_ARG, "rstd");
    /* element-wise */
    ST_FAIL(genrep_relu_forward(NULL, a, 4), GENREP_ERR_ARG, "out");
    ST_FAIL(genrep_relu_backward(a, b, NULL, 4), GENREP_ERR_ARG, "inp");
    ST_FAIL(genrep_tanh_forward(b, a, 0), GENREP_ERR_ARG, "'n'");
    ST_FAIL(genrep_sigmoid_backward(a, NULL, c, 4), GENREP_ERR_ARG, "dout");
    ST_FAIL(genrep_leaky_relu_forward(b, NULL, 0.1f, 4), GENREP_ERR_ARG, "inp");
    ST_FAIL(genrep_add_forward(c, a, NULL, 4), GENREP_ERR_ARG, "'b'");
    ST_FAIL(genrep_add_backward(a, b, NULL, 4), GENREP_ERR_ARG, "dout");
    /* pools, upsample */
    ST_FAIL(genrep_avgpool_forward(b, a, 2, 0, 4), GENREP_ERR_ARG, "'C'");
    ST_FAIL(genrep_avgpool_backward(NULL, a, 2, 2, 4), GENREP_ERR_ARG, "dinp");
    ST_FAIL(genrep_maxpool_forward(b, am, a, 1, 1, 4, 4, 0, 1, 0), GENREP_ERR_ARG, "'k'");
    ST_FAIL(genrep_maxpool_forward(b, am, a, 1, 1, 4, 4, 2, 0, 0), GENREP_ERR_ARG, "'s'");
    ST_FAIL(genrep_maxpool_forward(b, am, a, 1, 1, 4, 4, 3, 1, 2), GENREP_ERR_ARG, "'p'");   /* p > k/2 */
    ST_FAIL(genrep_maxpool_forward(b, am, a, 1, 1, 4, 4, 2, 1, -1), GENREP_ERR_ARG, "'p'");
    ST_FAIL(genrep_maxpool_forward(b, am, a, 1, 1, 2, 2, 5, 1, 1), GENREP_ERR_SHAPE, "kernel");
    ST_FAIL(genrep_maxpool_forward(b, NULL, a, 1, 1, 4, 4, 2, 2, 0), GENREP_ERR_ARG, "argmax");
    am[3] = 16; /* outside the 4x4 plane */
    ST_FAIL(genrep_maxpool_backward(b, a, am, 1, 1, 4, 4, 2, 2, 0), GENREP_ERR_ARG, "argmax[3]");
    ST_FAIL(genrep_upsample2x_forward(b, a, 1, 1, 0, 2), GENREP_ERR_ARG, "'H'");
    ST_FAIL(genrep_upsample2x_backward(b, NULL, 1, 1, 2, 2), GENREP_ERR_ARG, "dout");
    /* embedding, l2norm, xent */
    int32_t idx[2] = {0, 1};
    ST_FAIL(genrep_embedding_forward(b, idx, a, 2, 0, 3), GENREP_ERR_ARG, "V");
    ST_FAIL(genrep_embedding_forward(b, NULL, a, 2, 2, 3), GENREP_ERR_ARG, "idx");
    ST_FAIL(genrep_l2norm_forward(b, c, a, 2, 3, 0.0f), GENREP_ERR_ARG, "eps");
    ST_FAIL(genrep_l2norm_forward(b, NULL, a, 2, 3, 1e-12f), GENREP_ERR_ARG, "norm");
    ST_FAIL(genrep_l2norm_backward(b, a, c, d, 0, 3), GENREP_ERR_ARG, "'B'");
    float loss;
    ST_FAIL(genrep_softmax_xent_forward(NULL, b, a, idx, 2, 3), GENREP_ERR_ARG, "loss");
    ST_FAIL(genrep_softmax_xent_forward(&loss, b, a, idx, 2, 0), GENREP_ERR_ARG, "'V'");
}
END_TEST

int main(void) {
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("layers");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, batchnorm_2d_training_grads);
    tcase_add_test(tc, batchnorm_1d_and_eval_grads);
    tcase_add_test(tc, batchnorm_running_stats_by_hand);
    tcase_add_test(tc, condbn_grads);
    tcase_add_test(tc, threads_bitwise_identical);
    tcase_add_test(tc, batchnorm_act_fused);
    tcase_add_test(tc, batchnorm_sums_bitwise);
    tcase_add_test(tc, activations);
    tcase_add_test(tc, residual_add);
    tcase_add_test(tc, avgpool);
    tcase_add_test(tc, maxpool);
    tcase_add_test(tc, maxpool_ties_and_nan);
    tcase_add_test(tc, upsample);
    tcase_add_test(tc, embedding);
    tcase_add_test(tc, l2norm);
    tcase_add_test(tc, softmax_xent);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
