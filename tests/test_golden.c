/* Golden tests: every layer and optimiser of genrep.h against PyTorch.
   tests/ref/make_golden.py wrote tests/ref/golden_<layer>.bin (float32
   autograd, one thread, fixed seeds); each case holds inputs, parameters,
   an upstream gradient dout, PyTorch's outputs and all its gradients.
   Each test runs every case on every ISA path this CPU supports:
   forward, then backward into ZEROED gradients (compare), then the same
   backward again into the same buffers (compare with 2*ref), which checks
   the accumulate (+=) contract of genrep.h's [LAYERS] section.
   Golden files are looked up in $GENREP_REF_DIR, default tests/ref (run
   from the repository root, as tests/run.sh does).
   Tolerance: |got - ref| <= atol + rtol*|ref|; the worst ratio per layer
   and ISA is printed (1.0 = at the limit). */
#include "genrep.h"
#include "testutil.h"
#include "golden.h"
#include <string.h>

/* Tolerances. Exact ops (copies, max, a*x) may still round differently when
   a path uses FMA or a different summation order, hence not 0. */
#define TOL_EXACT 1e-6, 1e-6
#define TOL_ELEM  1e-5, 1e-4   /* transcendental / short reductions */
#define TOL_GEMM  1e-4, 1e-3   /* GEMM-backed: reductions of up to ~200 terms */
#define TOL_OPT   1e-6, 1e-5   /* optimiser steps on O(1) parameters */

static const char *ref_dir(void) {
    const char *d = getenv("GENREP_REF_DIR");
    return d && *d ? d : "tests/ref";
}

static void gload(golden_file *g, const char *layer) {
    char path[512];
    snprintf(path, sizeof path, "%s/golden_%s.bin", ref_dir(), layer);
    ck_assert_msg(golden_load(g, path) == 0,
                  "cannot load %s (run tests from the repo root, or set GENREP_REF_DIR; "
                  "regenerate with /usr/bin/python3 tests/ref/make_golden.py)", path);
}

static golden_tensor *gt(golden_file *g, int c, const char *what) {
    char name[128];
    snprintf(name, sizeof name, "c%d/%s", c, what);
    golden_tensor *t = golden_get(g, name);
    ck_assert_msg(t != NULL, "golden tensor %s missing", name);
    return t;
}
static float *gf(golden_file *g, int c, const char *what) {
    golden_tensor *t = gt(g, c, what);
    ck_assert_msg(t->dtype == 0, "golden tensor c%d/%s is not float32", c, what);
    return (float *)t->data;
}
static int32_t *gi(golden_file *g, int c, const char *what) {
    golden_tensor *t = gt(g, c, what);
    ck_assert_msg(t->dtype == 1, "golden tensor c%d/%s is not int32", c, what);
    return (int32_t *)t->data;
}
static size_t gn(golden_file *g, int c, const char *what) { return (size_t)gt(g, c, what)->numel; }
static int ncases(golden_file *g) {
    golden_tensor *t = golden_get(g, "ncases");
    ck_assert(t != NULL && t->dtype == 1);
    return ((int32_t *)t->data)[0];
}

/* Zeroed float buffer of n (>= 1) elements. */
static float *zbuf(size_t n) {
    float *p = (float *)calloc(n ? n : 1, sizeof(float));
    ck_assert_ptr_nonnull(p);
    return p;
}
static float *fcopy(const float *x, size_t n) {
    float *p = zbuf(n);
    memcpy(p, x, n * sizeof(float));
    return p;
}

/* The state of one test: layer name, case, ISA, and the worst ratio seen. */
typedef struct {
    const char *layer;
    int         c;
    genrep_isa  isa;
    double      worst[3];
} ctx;

/* got (n) ~= factor * ref, where ref is golden tensor c<i>/what. */
static void cmpf(ctx *x, const float *got, golden_file *g, const char *what, double factor, double atol,
                 double rtol) {
    size_t n = gn(g, x->c, what);
    const float *ref = gf(g, x->c, what);
    const float *r = ref;
    float *scaled = NULL;
    if (factor != 1.0) {
        scaled = zbuf(n);
        for (size_t i = 0; i < n; i++) scaled[i] = (float)(factor * ref[i]);
        r = scaled;
    }
    size_t w;
    double q = tu_close_ratio(got, r, n, atol * factor, rtol, &w);
    if (q > x->worst[x->isa]) x->worst[x->isa] = q;
    ck_assert_msg(q <= 1.0, "%s case %d isa %s: %s%s element %zu of %zu: got %.9g want %.9g (ratio %.3g, atol %g rtol %g)",
                  x->layer, x->c, genrep_isa_name(x->isa), what, factor != 1.0 ? " (2nd backward, 2x)" : "",
                  w, n, (double)got[w], (double)r[w], q, atol * factor, rtol);
    free(scaled);
}

#define CK_OK(call, x) do { genrep_status s_ = (call); \
    ck_assert_msg(s_ == GENREP_OK, "%s case %d isa %s: %s returned %s (%s)", (x)->layer, (x)->c, \
                  genrep_isa_name((x)->isa), #call, genrep_status_str(s_), genrep_last_error()); } while (0)

/* Runs body(ctx*, golden_file*, case) for every case on every ISA path. */
typedef void (*case_fn)(ctx *x, golden_file *g);
static void run_layer(const char *layer, case_fn fn) {
    golden_file g;
    gload(&g, layer);
    ctx x = {layer, 0, GENREP_ISA_SCALAR, {0, 0, 0}};
    genrep_isa saved = genrep_get_isa();
    int ran[3] = {0, 0, 0};
    for (int isa = GENREP_ISA_SCALAR; isa <= GENREP_ISA_AVX512; isa++) {
        if (genrep_set_isa((genrep_isa)isa) != GENREP_OK) continue;
        ran[isa] = 1;
        x.isa = (genrep_isa)isa;
        for (x.c = 0; x.c < ncases(&g); x.c++) fn(&x, &g);
    }
    ck_assert_int_eq(genrep_set_isa(saved), GENREP_OK);
    genrep_release_buffers(); /* GEMM's per-thread packing buffers (LeakSanitizer) */
    printf("golden %-10s %d cases, worst |err|/tol:", layer, ncases(&g));
    for (int i = 0; i < 3; i++)
        if (ran[i]) printf(" %s %.3f", genrep_isa_name((genrep_isa)i), x.worst[i]);
    printf("\n");
    fflush(stdout);
    golden_free(&g);
}

/* ------------------------------------------------------------- [LINEAR] */
static void linear_case(ctx *x, golden_file *g) {
    int32_t *d = gi(g, x->c, "dims");
    int B = d[0], C = d[1], OC = d[2], hb = d[3];
    const float *inp = gf(g, x->c, "x"), *w = gf(g, x->c, "w"), *b = hb ? gf(g, x->c, "b") : NULL;
    float *out = zbuf((size_t)B * OC), *dx = zbuf((size_t)B * C), *dw = zbuf((size_t)OC * C);
    float *db = hb ? zbuf(OC) : NULL;
    CK_OK(genrep_linear_forward(out, inp, w, b, B, C, OC), x);
    cmpf(x, out, g, "out", 1, TOL_GEMM);
    const float *dout = gf(g, x->c, "dout");
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_linear_backward(dx, dw, db, dout, inp, w, B, C, OC), x);
        cmpf(x, dx, g, "dx", rep, TOL_GEMM);
        cmpf(x, dw, g, "dw", rep, TOL_GEMM);
        if (hb) cmpf(x, db, g, "db", rep, TOL_GEMM);
    }
    /* only dinp wanted: NULL dweight / dbias are allowed */
    memset(dx, 0, (size_t)B * C * sizeof(float));
    CK_OK(genrep_linear_backward(dx, NULL, NULL, dout, inp, w, B, C, OC), x);
    cmpf(x, dx, g, "dx", 1, TOL_GEMM);
    free(out); free(dx); free(dw); free(db);
}
START_TEST(golden_linear) { run_layer("linear", linear_case); }
END_TEST

/* --------------------------------------------------------------- [CONV] */
static void conv2d_case(ctx *x, golden_file *g) {
    int32_t *d = gi(g, x->c, "dims");
    int N = d[0], C = d[1], H = d[2], W = d[3], K = d[4], R = d[5], S = d[6], st = d[7], pad = d[8], hb = d[9];
    genrep_conv2d_desc cd;
    CK_OK(genrep_conv2d_init(&cd, N, C, H, W, K, R, S, st, pad), x);
    ck_assert_msg(cd.P == d[10] && cd.Q == d[11], "conv2d case %d: P,Q = %d,%d, PyTorch %d,%d", x->c, cd.P,
                  cd.Q, d[10], d[11]);
    size_t nin = (size_t)N * C * H * W, nw = (size_t)K * C * R * S, nout = (size_t)N * K * cd.P * cd.Q;
    float *ws = zbuf(genrep_conv2d_workspace(&cd));
    const float *inp = gf(g, x->c, "x"), *w = gf(g, x->c, "w"), *b = hb ? gf(g, x->c, "b") : NULL;
    float *out = zbuf(nout), *dx = zbuf(nin), *dw = zbuf(nw), *db = hb ? zbuf(K) : NULL;
    CK_OK(genrep_conv2d_forward(out, ws, inp, w, b, &cd), x);
    cmpf(x, out, g, "out", 1, TOL_GEMM);
    const float *dout = gf(g, x->c, "dout");
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_conv2d_backward(dx, dw, db, ws, dout, inp, w, &cd), x);
        cmpf(x, dx, g, "dx", rep, TOL_GEMM);
        cmpf(x, dw, g, "dw", rep, TOL_GEMM);
        if (hb) cmpf(x, db, g, "db", rep, TOL_GEMM);
    }
    /* the first layer of a network needs no dinp */
    memset(dw, 0, nw * sizeof(float));
    CK_OK(genrep_conv2d_backward(NULL, dw, NULL, ws, dout, inp, w, &cd), x);
    cmpf(x, dw, g, "dw", 1, TOL_GEMM);
    free(ws); free(out); free(dx); free(dw); free(db);
}
START_TEST(golden_conv2d) { run_layer("conv2d", conv2d_case); }
END_TEST

/* -------------------------------------------------------------- [CONVT] */
static void convt2d_case(ctx *x, golden_file *g) {
    int32_t *d = gi(g, x->c, "dims");
    int N = d[0], C = d[1], H = d[2], W = d[3], K = d[4], R = d[5], S = d[6], st = d[7], pad = d[8];
    int op = d[9], hb = d[10];
    genrep_convt2d_desc cd;
    CK_OK(genrep_convt2d_init(&cd, N, C, H, W, K, R, S, st, pad, op), x);
    ck_assert_msg(cd.P == d[11] && cd.Q == d[12], "convt2d case %d: P,Q = %d,%d, PyTorch %d,%d", x->c, cd.P,
                  cd.Q, d[11], d[12]);
    size_t nin = (size_t)N * C * H * W, nw = (size_t)C * K * R * S, nout = (size_t)N * K * cd.P * cd.Q;
    float *ws = zbuf(genrep_convt2d_workspace(&cd));
    const float *inp = gf(g, x->c, "x"), *w = gf(g, x->c, "w"), *b = hb ? gf(g, x->c, "b") : NULL;
    float *out = zbuf(nout), *dx = zbuf(nin), *dw = zbuf(nw), *db = hb ? zbuf(K) : NULL;
    CK_OK(genrep_convt2d_forward(out, ws, inp, w, b, &cd), x);
    cmpf(x, out, g, "out", 1, TOL_GEMM);
    const float *dout = gf(g, x->c, "dout");
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_convt2d_backward(dx, dw, db, ws, dout, inp, w, &cd), x);
        cmpf(x, dx, g, "dx", rep, TOL_GEMM);
        cmpf(x, dw, g, "dw", rep, TOL_GEMM);
        if (hb) cmpf(x, db, g, "db", rep, TOL_GEMM);
    }
    free(ws); free(out); free(dx); free(dw); free(db);
}
START_TEST(golden_convt2d) { run_layer("convt2d", convt2d_case); }
END_TEST

/* ---------------------------------------------------------- [BATCHNORM] */
#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

static void batchnorm_case(ctx *x, golden_file *g) {
    int32_t *d = gi(g, x->c, "dims");
    int N = d[0], C = d[1], HW = d[2], training = d[3], affine = d[4];
    size_t n = (size_t)N * C * HW;
    const float *inp = gf(g, x->c, "x");
    const float *gamma = affine ? gf(g, x->c, "gamma") : NULL, *beta = affine ? gf(g, x->c, "beta") : NULL;
    float *rm = fcopy(gf(g, x->c, "running_mean0"), C), *rv = fcopy(gf(g, x->c, "running_var0"), C);
    float *out = zbuf(n), *mean = zbuf(C), *rstd = zbuf(C), *dx = zbuf(n);
    float *dgamma = affine ? zbuf(C) : NULL, *dbeta = affine ? zbuf(C) : NULL;
    CK_OK(genrep_batchnorm_forward(out, mean, rstd, rm, rv, inp, gamma, beta, N, C, HW, BN_EPS, BN_MOMENTUM,
                                   training), x);
    cmpf(x, out, g, "out", 1, TOL_ELEM);
    cmpf(x, mean, g, "mean", 1, TOL_ELEM);
    cmpf(x, rstd, g, "rstd", 1, TOL_ELEM);
    cmpf(x, rm, g, "running_mean", 1, TOL_ELEM);   /* eval: unchanged */
    cmpf(x, rv, g, "running_var", 1, TOL_ELEM);
    const float *dout = gf(g, x->c, "dout");
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_batchnorm_backward(dx, dgamma, dbeta, dout, inp, gamma, mean, rstd, N, C, HW, training), x);
        cmpf(x, dx, g, "dx", rep, TOL_ELEM);
        if (affine) {
            cmpf(x, dgamma, g, "dgamma", rep, TOL_ELEM);
            cmpf(x, dbeta, g, "dbeta", rep, TOL_ELEM);
        }
    }
    if (training) { /* running stats are optional in training mode */
        memset(out, 0, n * sizeof(float));
        CK_OK(genrep_batchnorm_forward(out, mean, rstd, NULL, NULL, inp, gamma, beta, N, C, HW, BN_EPS,
                                       BN_MOMENTUM, 1), x);
        cmpf(x, out, g, "out", 1, TOL_ELEM);
    }
    free(rm); free(rv); free(out); free(mean); free(rstd); free(dx); free(dgamma); free(dbeta);
}
START_TEST(golden_batchnorm) { run_layer("batchnorm", batchnorm_case); }
END_TEST

/* ------------------------------------------------------------- [CONDBN] */
static void condbn_case(ctx *x, golden_file *g) {
    int32_t *d = gi(g, x->c, "dims");
    int N = d[0], C = d[1], HW = d[2], training = d[3];
    size_t n = (size_t)N * C * HW, nc = (size_t)N * C;
    const float *inp = gf(g, x->c, "x"), *gain = gf(g, x->c, "gain"), *bias = gf(g, x->c, "bias");
    float *rm = fcopy(gf(g, x->c, "running_mean0"), C), *rv = fcopy(gf(g, x->c, "running_var0"), C);
    float *out = zbuf(n), *mean = zbuf(C), *rstd = zbuf(C), *dx = zbuf(n), *dgain = zbuf(nc), *dbias = zbuf(nc);
    CK_OK(genrep_condbn_forward(out, mean, rstd, rm, rv, inp, gain, bias, N, C, HW, BN_EPS, BN_MOMENTUM,
                                training), x);
    cmpf(x, out, g, "out", 1, TOL_ELEM);
    cmpf(x, mean, g, "mean", 1, TOL_ELEM);
    cmpf(x, rstd, g, "rstd", 1, TOL_ELEM);
    cmpf(x, rm, g, "running_mean", 1, TOL_ELEM);
    cmpf(x, rv, g, "running_var", 1, TOL_ELEM);
    const float *dout = gf(g, x->c, "dout");
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_condbn_backward(dx, dgain, dbias, dout, inp, gain, mean, rstd, N, C, HW, training), x);
        cmpf(x, dx, g, "dx", rep, TOL_ELEM);
        cmpf(x, dgain, g, "dgain", rep, TOL_ELEM);
        cmpf(x, dbias, g, "dbias", rep, TOL_ELEM);
    }
    free(rm); free(rv); free(out); free(mean); free(rstd); free(dx); free(dgain); free(dbias);
}
START_TEST(golden_condbn) { run_layer("condbn", condbn_case); }
END_TEST

/* ---------------------------------------------------------- [ACT] [RESIDUAL] */
static void act_case(ctx *x, golden_file *g) {
    size_t n = (size_t)gi(g, x->c, "dims")[0];
    const float *inp = gf(g, x->c, "x");
    float *out = zbuf(n), *dx = zbuf(n), *db = zbuf(n);
    /* relu and leaky relu: backward reads the input */
    CK_OK(genrep_relu_forward(out, inp, n), x);
    cmpf(x, out, g, "relu/out", 1, TOL_EXACT);
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_relu_backward(dx, gf(g, x->c, "relu/dout"), inp, n), x);
        cmpf(x, dx, g, "relu/dx", rep, TOL_EXACT);
    }
    memset(dx, 0, n * sizeof(float));
    CK_OK(genrep_leaky_relu_forward(out, inp, 0.2f, n), x);
    cmpf(x, out, g, "lrelu/out", 1, TOL_EXACT);
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_leaky_relu_backward(dx, gf(g, x->c, "lrelu/dout"), inp, 0.2f, n), x);
        cmpf(x, dx, g, "lrelu/dx", rep, TOL_EXACT);
    }
    /* tanh and sigmoid: backward reads the output (our own forward's) */
    memset(dx, 0, n * sizeof(float));
    CK_OK(genrep_tanh_forward(out, inp, n), x);
    cmpf(x, out, g, "tanh/out", 1, TOL_ELEM);
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_tanh_backward(dx, gf(g, x->c, "tanh/dout"), out, n), x);
        cmpf(x, dx, g, "tanh/dx", rep, TOL_ELEM);
    }
    memset(dx, 0, n * sizeof(float));
    CK_OK(genrep_sigmoid_forward(out, inp, n), x);
    cmpf(x, out, g, "sigmoid/out", 1, TOL_ELEM);
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_sigmoid_backward(dx, gf(g, x->c, "sigmoid/dout"), out, n), x);
        cmpf(x, dx, g, "sigmoid/dx", rep, TOL_ELEM);
    }
    /* residual add */
    memset(dx, 0, n * sizeof(float));
    CK_OK(genrep_add_forward(out, inp, gf(g, x->c, "add/b"), n), x);
    cmpf(x, out, g, "add/out", 1, TOL_EXACT);
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_add_backward(dx, db, gf(g, x->c, "add/dout"), n), x);
        cmpf(x, dx, g, "add/da", rep, TOL_EXACT);
        cmpf(x, db, g, "add/db", rep, TOL_EXACT);
    }
    free(out); free(dx); free(db);
}
START_TEST(golden_act) { run_layer("act", act_case); }
END_TEST

/* --------------------------------------------------------------- [POOL] */
static void avgpool_case(ctx *x, golden_file *g) {
    int32_t *d = gi(g, x->c, "dims");
    int N = d[0], C = d[1], HW = d[2];
    float *out = zbuf((size_t)N * C), *dx = zbuf((size_t)N * C * HW);
    CK_OK(genrep_avgpool_forward(out, gf(g, x->c, "x"), N, C, HW), x);
    cmpf(x, out, g, "out", 1, TOL_EXACT);
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_avgpool_backward(dx, gf(g, x->c, "dout"), N, C, HW), x);
        cmpf(x, dx, g, "dx", rep, TOL_EXACT);
    }
    free(out); free(dx);
}
START_TEST(golden_avgpool) { run_layer("avgpool", avgpool_case); }
END_TEST

static void maxpool_case(ctx *x, golden_file *g) {
    int32_t *d = gi(g, x->c, "dims");
    int N = d[0], C = d[1], H = d[2], W = d[3], k = d[4], s = d[5], p = d[6], P = d[7], Q = d[8];
    size_t nout = (size_t)N * C * P * Q;
    ck_assert_uint_eq(gn(g, x->c, "out"), nout);
    float *out = zbuf(nout), *dx = zbuf((size_t)N * C * H * W);
    int32_t *am = (int32_t *)calloc(nout, sizeof(int32_t));
    CK_OK(genrep_maxpool_forward(out, am, gf(g, x->c, "x"), N, C, H, W, k, s, p), x);
    cmpf(x, out, g, "out", 1, TOL_EXACT);
    const int32_t *ram = gi(g, x->c, "argmax");
    for (size_t i = 0; i < nout; i++)
        ck_assert_msg(am[i] == ram[i], "maxpool case %d isa %s: argmax element %zu got %d want %d", x->c,
                      genrep_isa_name(x->isa), i, am[i], ram[i]);
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_maxpool_backward(dx, gf(g, x->c, "dout"), am, N, C, H, W, k, s, p), x);
        cmpf(x, dx, g, "dx", rep, TOL_EXACT);
    }
    free(out); free(dx); free(am);
}
START_TEST(golden_maxpool) { run_layer("maxpool", maxpool_case); }
END_TEST

/* ----------------------------------------------------------- [UPSAMPLE] */
static void upsample_case(ctx *x, golden_file *g) {
    int32_t *d = gi(g, x->c, "dims");
    int N = d[0], C = d[1], H = d[2], W = d[3];
    size_t nin = (size_t)N * C * H * W;
    float *out = zbuf(4 * nin), *dx = zbuf(nin);
    CK_OK(genrep_upsample2x_forward(out, gf(g, x->c, "x"), N, C, H, W), x);
    cmpf(x, out, g, "out", 1, TOL_EXACT);
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_upsample2x_backward(dx, gf(g, x->c, "dout"), N, C, H, W), x);
        cmpf(x, dx, g, "dx", rep, TOL_EXACT);
    }
    free(out); free(dx);
}
START_TEST(golden_upsample) { run_layer("upsample", upsample_case); }
END_TEST

/* -------------------------------------------------------------- [EMBED] */
static void embedding_case(ctx *x, golden_file *g) {
    int32_t *d = gi(g, x->c, "dims");
    int B = d[0], V = d[1], D = d[2];
    const int32_t *idx = gi(g, x->c, "idx");
    float *out = zbuf((size_t)B * D), *dt = zbuf((size_t)V * D);
    CK_OK(genrep_embedding_forward(out, idx, gf(g, x->c, "table"), B, V, D), x);
    cmpf(x, out, g, "out", 1, TOL_EXACT);
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_embedding_backward(dt, gf(g, x->c, "dout"), idx, B, V, D), x);
        cmpf(x, dt, g, "dtable", rep, TOL_EXACT);
    }
    free(out); free(dt);
}
START_TEST(golden_embedding) { run_layer("embedding", embedding_case); }
END_TEST

/* ------------------------------------------------------------- [L2NORM] */
static void l2norm_case(ctx *x, golden_file *g) {
    int32_t *d = gi(g, x->c, "dims");
    int B = d[0], D = d[1];
    float eps = gf(g, x->c, "eps")[0];
    size_t n = (size_t)B * D;
    float *out = zbuf(n), *norm = zbuf(B), *dx = zbuf(n);
    CK_OK(genrep_l2norm_forward(out, norm, gf(g, x->c, "x"), B, D, eps), x);
    cmpf(x, out, g, "out", 1, TOL_ELEM);
    cmpf(x, norm, g, "norm", 1, TOL_ELEM);
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_l2norm_backward(dx, gf(g, x->c, "dout"), out, norm, B, D), x);
        cmpf(x, dx, g, "dx", rep, TOL_ELEM);
    }
    free(out); free(norm); free(dx);
}
START_TEST(golden_l2norm) { run_layer("l2norm", l2norm_case); }
END_TEST

/* --------------------------------------------------------------- [XENT] */
static void xent_case(ctx *x, golden_file *g) {
    int32_t *d = gi(g, x->c, "dims");
    int B = d[0], V = d[1];
    const int32_t *tgt = gi(g, x->c, "targets");
    float loss = -1, *probs = zbuf((size_t)B * V), *dl = zbuf((size_t)B * V);
    CK_OK(genrep_softmax_xent_forward(&loss, probs, gf(g, x->c, "logits"), tgt, B, V), x);
    cmpf(x, &loss, g, "loss", 1, TOL_ELEM);
    cmpf(x, probs, g, "probs", 1, TOL_ELEM);
    for (int rep = 1; rep <= 2; rep++) {
        CK_OK(genrep_softmax_xent_backward(dl, probs, tgt, B, V, gf(g, x->c, "dloss")[0]), x);
        cmpf(x, dl, g, "dlogits", rep, TOL_ELEM);
    }
    free(probs); free(dl);
}
START_TEST(golden_xent) { run_layer("xent", xent_case); }
END_TEST

/* -------------------------------------------------------------- [OPTIM] */
static void optim_case(ctx *x, golden_file *g) {
    int kind = gi(g, x->c, "kind")[0];
    int32_t *d = gi(g, x->c, "dims");
    size_t n = (size_t)d[0];
    int steps = d[1];
    const float *cfg = gf(g, x->c, "cfg"), *grads = gf(g, x->c, "grads"), *ref = gf(g, x->c, "params");
    float *p = fcopy(gf(g, x->c, "p0"), n), *s1 = zbuf(n), *s2 = zbuf(n);
    genrep_sgd_config sc = {cfg[0], cfg[1], cfg[2], (int)cfg[3]};
    genrep_adam_config ac = {0};
    if (kind == 1) {
        ac.lr = cfg[0]; ac.beta1 = cfg[1]; ac.beta2 = cfg[2]; ac.eps = cfg[3];
        ac.weight_decay = cfg[4]; ac.decoupled = (int)cfg[5];
    }
    for (int t = 0; t < steps; t++) {
        if (kind == 0)
            CK_OK(genrep_sgd_step(p, s1, grads + (size_t)t * n, n, &sc, t + 1), x);
        else
            CK_OK(genrep_adam_step(p, s1, s2, grads + (size_t)t * n, n, &ac, t + 1), x);
        size_t w;
        double q = tu_close_ratio(p, ref + (size_t)t * n, n, TOL_OPT, &w);
        if (q > x->worst[x->isa]) x->worst[x->isa] = q;
        ck_assert_msg(q <= 1.0, "optim case %d (%s) isa %s: params after step %d, element %zu: got %.9g want %.9g (ratio %.3g)",
                      x->c, kind == 0 ? "sgd" : ac.decoupled ? "adamw" : "adam", genrep_isa_name(x->isa),
                      t + 1, w, (double)p[w], (double)ref[(size_t)t * n + w], q);
    }
    /* final optimiser state, PyTorch's momentum_buffer / exp_avg / exp_avg_sq */
    if (kind == 0 && sc.momentum != 0) cmpf(x, s1, g, "buf", 1, TOL_OPT);
    if (kind == 1) {
        cmpf(x, s1, g, "m", 1, TOL_OPT);
        cmpf(x, s2, g, "v", 1, TOL_OPT);
    }
    free(p); free(s1); free(s2);
}
START_TEST(golden_optim) { run_layer("optim", optim_case); }
END_TEST

static void cosine_case(ctx *x, golden_file *g) {
    size_t rows = gn(g, x->c, "steps") / 3;
    const int32_t *st = gi(g, x->c, "steps");
    const float *v = gf(g, x->c, "vals");
    for (size_t i = 0; i < rows; i++) {
        float got = genrep_cosine_lr(v[3 * i], v[3 * i + 1], st[3 * i], st[3 * i + 1], st[3 * i + 2]);
        double want = v[3 * i + 2], tol = 1e-7 + 1e-5 * fabs(want), q = fabs(got - want) / tol;
        if (q > x->worst[x->isa]) x->worst[x->isa] = q;
        ck_assert_msg(q <= 1.0, "cosine_lr(base %g, min %g, step %d, warmup %d, total %d) = %.9g, want %.9g",
                      (double)v[3 * i], (double)v[3 * i + 1], st[3 * i], st[3 * i + 1], st[3 * i + 2],
                      (double)got, want);
    }
}
START_TEST(golden_cosine) { run_layer("cosine", cosine_case); }
END_TEST

int main(void) {
    Suite *s = suite_create("golden");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, golden_linear);
    tcase_add_test(tc, golden_conv2d);
    tcase_add_test(tc, golden_convt2d);
    tcase_add_test(tc, golden_batchnorm);
    tcase_add_test(tc, golden_condbn);
    tcase_add_test(tc, golden_act);
    tcase_add_test(tc, golden_avgpool);
    tcase_add_test(tc, golden_maxpool);
    tcase_add_test(tc, golden_upsample);
    tcase_add_test(tc, golden_embedding);
    tcase_add_test(tc, golden_l2norm);
    tcase_add_test(tc, golden_xent);
    tcase_add_test(tc, golden_optim);
    tcase_add_test(tc, golden_cosine);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
