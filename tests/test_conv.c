/* Linear, conv2d and conv_transpose2d: the im2col + GEMM paths against the
   scalar references (every ISA, odd shapes, ragged batch chunks), backward
   against central differences of a double-precision forward written here,
   accumulation and NULL gradients, thread-count determinism, bad arguments. */
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include "testutil.h"
#include <string.h>

static float *fa(size_t n) { float *p = (float *)genrep_alloc((n ? n : 1) * sizeof(float)); ck_assert_ptr_nonnull(p); return p; }
static float *fr(size_t n, uint64_t seed) { float *p = fa(n); tu_fill(p, n, seed, -1.0f, 1.0f); return p; }
static float *fcopy(const float *x, size_t n) { float *p = fa(n); memcpy(p, x, (n ? n : 1) * sizeof(float)); return p; }

/* Forward geometry of both conv kinds as the test sees it. */
typedef struct { int tr; genrep_conv2d_desc c; genrep_convt2d_desc t; } op_desc;

static size_t n_inp(const op_desc *o) { return o->tr ? (size_t)o->t.N * o->t.C * o->t.H * o->t.W : (size_t)o->c.N * o->c.C * o->c.H * o->c.W; }
static size_t n_out(const op_desc *o) { return o->tr ? (size_t)o->t.N * o->t.K * o->t.P * o->t.Q : (size_t)o->c.N * o->c.K * o->c.P * o->c.Q; }
static size_t n_wt(const op_desc *o) { return o->tr ? (size_t)o->t.C * o->t.K * o->t.R * o->t.S : (size_t)o->c.K * o->c.C * o->c.R * o->c.S; }
static size_t n_bias(const op_desc *o) { return (size_t)(o->tr ? o->t.K : o->c.K); }
static size_t n_ws(const op_desc *o) { return o->tr ? genrep_convt2d_workspace(&o->t) : genrep_conv2d_workspace(&o->c); }

static genrep_status op_fwd(const op_desc *o, float *out, float *ws, const float *x, const float *w, const float *b) {
    return o->tr ? genrep_convt2d_forward(out, ws, x, w, b, &o->t) : genrep_conv2d_forward(out, ws, x, w, b, &o->c);
}
static genrep_status op_bwd(const op_desc *o, float *dx, float *dw, float *db, float *ws, const float *dy,
                            const float *x, const float *w) {
    return o->tr ? genrep_convt2d_backward(dx, dw, db, ws, dy, x, w, &o->t)
                 : genrep_conv2d_backward(dx, dw, db, ws, dy, x, w, &o->c);
}
static void op_fwd_ref(const op_desc *o, float *out, const float *x, const float *w, const float *b) {
    if (o->tr) genrep__convt2d_forward_ref(out, x, w, b, &o->t); else genrep__conv2d_forward_ref(out, x, w, b, &o->c);
}
static void op_bwd_ref(const op_desc *o, float *dx, float *dw, float *db, const float *dy, const float *x, const float *w) {
    if (o->tr) genrep__convt2d_backward_ref(dx, dw, db, dy, x, w, &o->t);
    else genrep__conv2d_backward_ref(dx, dw, db, dy, x, w, &o->c);
}

/* Double-precision forward, written independently of the library: conv2d as
   a gather, conv_transpose2d as a gather too (out pixel p collects the input
   pixels h with h*stride - pad + r = p), where the library's reference
   scatters. */
static void fwd_double(const op_desc *o, double *out, const double *x, const double *w, const double *b) {
    if (!o->tr) {
        const genrep_conv2d_desc *d = &o->c;
        for (int n = 0; n < d->N; n++) for (int k = 0; k < d->K; k++)
        for (int p = 0; p < d->P; p++) for (int q = 0; q < d->Q; q++) {
            double acc = b ? b[k] : 0.0;
            for (int c = 0; c < d->C; c++) for (int r = 0; r < d->R; r++) for (int s = 0; s < d->S; s++) {
                int h = p * d->stride_h - d->pad_h + r, ww = q * d->stride_w - d->pad_w + s;
                if (h < 0 || h >= d->H || ww < 0 || ww >= d->W) continue;
                acc += x[((n * d->C + c) * d->H + h) * d->W + ww] * w[((k * d->C + c) * d->R + r) * d->S + s];
            }
            out[((n * d->K + k) * d->P + p) * d->Q + q] = acc;
        }
    } else {
        const genrep_convt2d_desc *d = &o->t;
        for (int n = 0; n < d->N; n++) for (int k = 0; k < d->K; k++)
        for (int p = 0; p < d->P; p++) for (int q = 0; q < d->Q; q++) {
            double acc = b ? b[k] : 0.0;
            for (int c = 0; c < d->C; c++) for (int r = 0; r < d->R; r++) for (int s = 0; s < d->S; s++) {
                int th = p + d->pad_h - r, tw = q + d->pad_w - s;
                if (th < 0 || tw < 0 || th % d->stride_h || tw % d->stride_w) continue;
                int h = th / d->stride_h, ww = tw / d->stride_w;
                if (h >= d->H || ww >= d->W) continue;
                acc += x[((n * d->C + c) * d->H + h) * d->W + ww] * w[((c * d->K + k) * d->R + r) * d->S + s];
            }
            out[((n * d->K + k) * d->P + p) * d->Q + q] = acc;
        }
    }
}

static op_desc mk_conv(int N, int C, int H, int W, int K, int R, int S, int stride, int pad) {
    op_desc o; memset(&o, 0, sizeof o);
    ck_assert_int_eq(genrep_conv2d_init(&o.c, N, C, H, W, K, R, S, stride, pad), GENREP_OK);
    return o;
}
static op_desc mk_convt(int N, int C, int H, int W, int K, int R, int S, int stride, int pad, int outpad) {
    op_desc o; memset(&o, 0, sizeof o); o.tr = 1;
    ck_assert_int_eq(genrep_convt2d_init(&o.t, N, C, H, W, K, R, S, stride, pad, outpad), GENREP_OK);
    return o;
}
static void desc_str(const op_desc *o, char *buf, size_t n) {
    if (o->tr) snprintf(buf, n, "convt N%d C%d %dx%d K%d k%dx%d s%dx%d p%dx%d op%dx%d -> %dx%d", o->t.N, o->t.C, o->t.H,
                        o->t.W, o->t.K, o->t.R, o->t.S, o->t.stride_h, o->t.stride_w, o->t.pad_h, o->t.pad_w,
                        o->t.outpad_h, o->t.outpad_w, o->t.P, o->t.Q);
    else snprintf(buf, n, "conv N%d C%d %dx%d K%d k%dx%d s%dx%d p%dx%d -> %dx%d", o->c.N, o->c.C, o->c.H, o->c.W,
                  o->c.K, o->c.R, o->c.S, o->c.stride_h, o->c.stride_w, o->c.pad_h, o->c.pad_w, o->c.P, o->c.Q);
}

/* Fast path vs the scalar reference, forward and backward (accumulating into
   pre-filled gradients), on one descriptor. */
static void check_vs_ref(const op_desc *o, uint64_t seed) {
    char name[160], what[200];
    desc_str(o, name, sizeof name);
    size_t ni = n_inp(o), no = n_out(o), nw = n_wt(o), nb = n_bias(o), nws = n_ws(o);
    ck_assert_msg(nws > 0, "%s: workspace 0", name);
    float *x = fr(ni, seed), *w = fr(nw, seed + 1), *b = fr(nb, seed + 2), *dy = fr(no, seed + 3);
    float *ws = fa(nws), *y = fa(no), *yr = fa(no);
    float *dx = fr(ni, seed + 4), *dw = fr(nw, seed + 5), *db = fr(nb, seed + 6);
    float *dxr = fcopy(dx, ni), *dwr = fcopy(dw, nw), *dbr = fcopy(db, nb);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        ck_assert_int_eq(op_fwd(o, y, ws, x, w, with_bias ? b : NULL), GENREP_OK);
        op_fwd_ref(o, yr, x, w, with_bias ? b : NULL);
        snprintf(what, sizeof what, "%s forward bias=%d isa=%s", name, with_bias, genrep_isa_name(genrep_get_isa()));
        TU_ASSERT_CLOSE(y, yr, no, 1e-5, 1e-5, what);
    }
    ck_assert_int_eq(op_bwd(o, dx, dw, db, ws, dy, x, w), GENREP_OK);
    op_bwd_ref(o, dxr, dwr, dbr, dy, x, w);
    snprintf(what, sizeof what, "%s dinp", name);   TU_ASSERT_CLOSE(dx, dxr, ni, 1e-5, 1e-5, what);
    snprintf(what, sizeof what, "%s dweight", name); TU_ASSERT_CLOSE(dw, dwr, nw, 1e-5, 1e-5, what);
    snprintf(what, sizeof what, "%s dbias", name);   TU_ASSERT_CLOSE(db, dbr, nb, 1e-5, 1e-5, what);
    float *bufs[] = { x, w, b, dy, ws, y, yr, dx, dw, db, dxr, dwr, dbr };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) genrep_free(bufs[i]);
}

/* Odd shapes for both conv kinds, each checked by check_vs_ref; the test
   below runs the sweep per ISA and per chunk budget. */
static void sweep_shapes(void) {
    uint64_t seed = 100;
    /* conv2d: batch 1 and 3, 3 channels, 7x7 (and 7x5), kernels 1/3/4/5 (and 3x2), strides 1..3, pads 0..2 */
    for (int ks = 0; ks < 5; ks++)
        for (int stride = 1; stride <= 3; stride++)
            for (int pad = 0; pad <= 2; pad++) {
                static const int RS[5][2] = { {1, 1}, {3, 3}, {4, 4}, {5, 5}, {3, 2} };
                int R = RS[ks][0], S = RS[ks][1];
                int N = (stride + pad) % 2 ? 3 : 1, W = ks == 4 ? 5 : 7;
                if (7 + 2 * pad < R || W + 2 * pad < S) continue;
                op_desc o = mk_conv(N, 3, 7, W, 4, R, S, stride, pad);
                check_vs_ref(&o, seed++);
            }
    /* non-square stride and padding, set on the descriptor directly */
    op_desc o = mk_conv(2, 3, 7, 6, 5, 3, 4, 1, 0);
    o.c.stride_h = 2; o.c.stride_w = 1; o.c.pad_h = 1; o.c.pad_w = 2;
    o.c.P = (7 + 2 - 3) / 2 + 1; o.c.Q = (6 + 4 - 4) / 1 + 1;
    check_vs_ref(&o, seed++);
    /* conv_transpose2d: kernels 1/3/4/5, strides 1..3 with every output padding, pads 0..2 */
    for (int R = 1; R <= 5; R++) {
        if (R == 2) continue;
        for (int stride = 1; stride <= 3; stride++)
            for (int outpad = 0; outpad < stride; outpad++)
                for (int pad = 0; pad <= 2; pad++) {
                    if ((7 - 1) * stride - 2 * pad + R + outpad <= 0) continue;
                    op_desc t = mk_convt((stride + pad) % 2 ? 3 : 1, 3, 7, 7, 4, R, R, stride, pad, outpad);
                    check_vs_ref(&t, seed++);
                }
    }
    op_desc t = mk_convt(3, 5, 5, 4, 3, 4, 3, 2, 1, 1); /* the DCGAN-style upsampler, non-square */
    check_vs_ref(&t, seed++);
}

START_TEST(conv_fast_vs_ref_all_isas) {
    genrep_isa best = genrep_get_isa();
    const size_t budget0 = genrep__conv_col_budget;
    for (int isa = GENREP_ISA_SCALAR; isa <= GENREP_ISA_AVX512; isa++) {
        if (genrep_set_isa((genrep_isa)isa) != GENREP_OK) continue;
        genrep__conv_col_budget = budget0;       /* whole (small) batch in one chunk */
        sweep_shapes();
        genrep__conv_col_budget = 3000;          /* 2 images per chunk for 3x3: chunks 2 + 1 */
        sweep_shapes();
        genrep__conv_col_budget = 300;           /* mostly 1 image per chunk (no gather/scatter) */
        sweep_shapes();
    }
    genrep__conv_col_budget = budget0;
    ck_assert_int_eq(genrep_set_isa(best), GENREP_OK);
}
END_TEST

START_TEST(linear_fast_vs_ref_all_isas) {
    genrep_isa best = genrep_get_isa();
    static const int shapes[][3] = { {1, 1, 1}, {1, 3, 5}, {7, 13, 3}, {17, 33, 65}, {64, 128, 10} };
    for (int isa = GENREP_ISA_SCALAR; isa <= GENREP_ISA_AVX512; isa++) {
        if (genrep_set_isa((genrep_isa)isa) != GENREP_OK) continue;
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
            int B = shapes[i][0], C = shapes[i][1], OC = shapes[i][2];
            float *x = fr((size_t)B * C, 1 + i), *w = fr((size_t)OC * C, 2 + i), *b = fr(OC, 3 + i), *dy = fr((size_t)B * OC, 4 + i);
            float *y = fa((size_t)B * OC), *yr = fa((size_t)B * OC);
            float *dx = fr((size_t)B * C, 5 + i), *dw = fr((size_t)OC * C, 6 + i), *db = fr(OC, 7 + i);
            float *dxr = fcopy(dx, (size_t)B * C), *dwr = fcopy(dw, (size_t)OC * C), *dbr = fcopy(db, OC);
            for (int wb = 0; wb < 2; wb++) {
                ck_assert_int_eq(genrep_linear_forward(y, x, w, wb ? b : NULL, B, C, OC), GENREP_OK);
                genrep__linear_forward_ref(yr, x, w, wb ? b : NULL, B, C, OC);
                TU_ASSERT_CLOSE(y, yr, (size_t)B * OC, 1e-5, 1e-5, "linear forward");
            }
            ck_assert_int_eq(genrep_linear_backward(dx, dw, db, dy, x, w, B, C, OC), GENREP_OK);
            genrep__linear_backward_ref(dxr, dwr, dbr, dy, x, w, B, C, OC);
            TU_ASSERT_CLOSE(dx, dxr, (size_t)B * C, 1e-5, 1e-5, "linear dinp");
            TU_ASSERT_CLOSE(dw, dwr, (size_t)OC * C, 1e-5, 1e-5, "linear dweight");
            TU_ASSERT_CLOSE(db, dbr, (size_t)OC, 1e-5, 1e-5, "linear dbias");
            float *bufs[] = { x, w, b, dy, y, yr, dx, dw, db, dxr, dwr, dbr };
            for (size_t j = 0; j < sizeof bufs / sizeof *bufs; j++) genrep_free(bufs[j]);
        }
    }
    ck_assert_int_eq(genrep_set_isa(best), GENREP_OK);
}
END_TEST

/* ------------------------------------------------ finite differences (double) */

static double *to_d(const float *x, size_t n) {
    double *d = (double *)malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}
static double loss_d(const op_desc *o, const double *x, const double *w, const double *b, const double *G, double *tmp) {
    fwd_double(o, tmp, x, w, b);
    double L = 0;
    for (size_t i = 0; i < n_out(o); i++) L += tmp[i] * G[i];
    return L;
}

/* L = sum(out * G). The library's backward (fast path, dout = G, zeroed
   gradients) must match central differences of the double forward at every
   coordinate of inp, weight and bias. L is linear in each tensor, so the
   difference quotient is exact up to double rounding; the tolerance only
   covers the float sums of the backward. The library's float forward is
   checked against the double forward on the way. */
static void check_fd(const op_desc *o, uint64_t seed) {
    char name[160], what[200];
    desc_str(o, name, sizeof name);
    size_t ni = n_inp(o), no = n_out(o), nw = n_wt(o), nb = n_bias(o);
    float *x = fr(ni, seed), *w = fr(nw, seed + 1), *b = fr(nb, seed + 2), *G = fr(no, seed + 3);
    float *ws = fa(n_ws(o)), *y = fa(no), *yd = fa(no);
    float *dx = fa(ni), *dw = fa(nw), *db = fa(nb);
    memset(dx, 0, ni * sizeof(float)); memset(dw, 0, nw * sizeof(float)); memset(db, 0, nb * sizeof(float));
    ck_assert_int_eq(op_fwd(o, y, ws, x, w, b), GENREP_OK);
    ck_assert_int_eq(op_bwd(o, dx, dw, db, ws, G, x, w), GENREP_OK);
    double *xd = to_d(x, ni), *wd = to_d(w, nw), *bd = to_d(b, nb), *Gd = to_d(G, no), *tmp = to_d(y, no);
    fwd_double(o, tmp, xd, wd, bd);
    for (size_t i = 0; i < no; i++) yd[i] = (float)tmp[i];
    snprintf(what, sizeof what, "%s forward vs double", name);
    TU_ASSERT_CLOSE(y, yd, no, 1e-5, 1e-5, what);
    struct { double *p; float *g; size_t n; const char *nm; } ts[3] = {
        { xd, dx, ni, "dinp" }, { wd, dw, nw, "dweight" }, { bd, db, nb, "dbias" } };
    const double eps = 1e-3;
    for (int t = 0; t < 3; t++) {
        float *fd = fa(ts[t].n);
        for (size_t i = 0; i < ts[t].n; i++) {
            double v = ts[t].p[i];
            ts[t].p[i] = v + eps; double Lp = loss_d(o, xd, wd, bd, Gd, tmp);
            ts[t].p[i] = v - eps; double Lm = loss_d(o, xd, wd, bd, Gd, tmp);
            ts[t].p[i] = v;
            fd[i] = (float)((Lp - Lm) / (2 * eps));
        }
        snprintf(what, sizeof what, "%s %s vs finite differences", name, ts[t].nm);
        TU_ASSERT_CLOSE(ts[t].g, fd, ts[t].n, 2e-5, 2e-5, what);
        genrep_free(fd);
    }
    free(xd); free(wd); free(bd); free(Gd); free(tmp);
    float *bufs[] = { x, w, b, G, ws, y, yd, dx, dw, db };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) genrep_free(bufs[i]);
}

START_TEST(conv2d_grad_fd) {
    op_desc a = mk_conv(2, 3, 6, 5, 4, 3, 3, 2, 1); check_fd(&a, 11);
    op_desc b = mk_conv(1, 2, 7, 7, 3, 3, 2, 1, 0); check_fd(&b, 12);
    op_desc c = mk_conv(3, 2, 7, 6, 2, 4, 4, 3, 2); check_fd(&c, 13);
    genrep__conv_col_budget = 50;               /* chunks of one image */
    op_desc d = mk_conv(3, 2, 5, 5, 3, 3, 3, 1, 1); check_fd(&d, 14);
    genrep__conv_col_budget = (size_t)1 << 20;
}
END_TEST

START_TEST(convt2d_grad_fd) {
    op_desc a = mk_convt(2, 3, 4, 5, 4, 4, 4, 2, 1, 1); check_fd(&a, 21);
    op_desc b = mk_convt(1, 2, 5, 5, 3, 3, 3, 1, 1, 0); check_fd(&b, 22);
    op_desc c = mk_convt(3, 2, 3, 4, 2, 5, 3, 3, 2, 2); check_fd(&c, 23);
    genrep__conv_col_budget = 40;
    op_desc d = mk_convt(3, 2, 4, 4, 3, 3, 3, 2, 0, 1); check_fd(&d, 24);
    genrep__conv_col_budget = (size_t)1 << 20;
}
END_TEST

START_TEST(linear_grad_fd) {
    const int B = 5, C = 7, OC = 4;
    float *x = fr(B * C, 31), *w = fr(OC * C, 32), *b = fr(OC, 33), *G = fr(B * OC, 34);
    float dx[5 * 7] = {0}, dw[4 * 7] = {0}, db[4] = {0}, y[5 * 4];
    ck_assert_int_eq(genrep_linear_forward(y, x, w, b, B, C, OC), GENREP_OK);
    ck_assert_int_eq(genrep_linear_backward(dx, dw, db, G, x, w, B, C, OC), GENREP_OK);
    double xd[5 * 7], wd[4 * 7], bd[4];
    for (int i = 0; i < B * C; i++) xd[i] = x[i];
    for (int i = 0; i < OC * C; i++) wd[i] = w[i];
    for (int i = 0; i < OC; i++) bd[i] = b[i];
    /* L(x, w, b) = sum_{b,o} G[b,o] * (b[o] + sum_c x[b,c] w[o,c]) in double */
#define LIN_L(L) do { L = 0; for (int bb = 0; bb < B; bb++) for (int o = 0; o < OC; o++) { \
        double acc = bd[o]; for (int c = 0; c < C; c++) acc += xd[bb * C + c] * wd[o * C + c]; \
        L += acc * G[bb * OC + o]; } } while (0)
    struct { double *p; float *g; int n; } ts[3] = { { xd, dx, B * C }, { wd, dw, OC * C }, { bd, db, OC } };
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < ts[t].n; i++) {
            double v = ts[t].p[i], Lp, Lm;
            ts[t].p[i] = v + 1e-3; LIN_L(Lp);
            ts[t].p[i] = v - 1e-3; LIN_L(Lm);
            ts[t].p[i] = v;
            double fd = (Lp - Lm) / 2e-3;
            ck_assert_msg(fabs(ts[t].g[i] - fd) <= 2e-5 + 2e-5 * fabs(fd), "linear grad %d[%d]: %g vs fd %g", t, i,
                          (double)ts[t].g[i], fd);
        }
#undef LIN_L
    genrep_free(x); genrep_free(w); genrep_free(b); genrep_free(G);
}
END_TEST

/* ------------------------------------------- accumulation and NULL gradients */

START_TEST(backward_accumulates_and_null_ok) {
    op_desc os[2] = { mk_conv(3, 3, 6, 6, 4, 3, 3, 1, 1), mk_convt(3, 3, 4, 4, 4, 4, 4, 2, 1, 0) };
    for (int k = 0; k < 2; k++) {
        const op_desc *o = &os[k];
        size_t ni = n_inp(o), no = n_out(o), nw = n_wt(o), nb = n_bias(o);
        float *x = fr(ni, 41), *w = fr(nw, 42), *dy = fr(no, 43), *ws = fa(n_ws(o));
        float *p0x = fr(ni, 44), *p0w = fr(nw, 45), *p0b = fr(nb, 46);
        float *zx = fa(ni), *zw = fa(nw), *zb = fa(nb);
        memset(zx, 0, ni * 4); memset(zw, 0, nw * 4); memset(zb, 0, nb * 4);
        ck_assert_int_eq(op_bwd(o, zx, zw, zb, ws, dy, x, w), GENREP_OK);  /* from zero */
        float *ax = fcopy(p0x, ni), *aw = fcopy(p0w, nw), *ab = fcopy(p0b, nb);
        ck_assert_int_eq(op_bwd(o, ax, aw, ab, ws, dy, x, w), GENREP_OK);  /* onto p0 */
        for (size_t i = 0; i < ni; i++) zx[i] += p0x[i];
        for (size_t i = 0; i < nw; i++) zw[i] += p0w[i];
        for (size_t i = 0; i < nb; i++) zb[i] += p0b[i];
        TU_ASSERT_CLOSE(ax, zx, ni, 1e-5, 1e-5, "dinp accumulates");
        TU_ASSERT_CLOSE(aw, zw, nw, 1e-5, 1e-5, "dweight accumulates");
        TU_ASSERT_CLOSE(ab, zb, nb, 1e-5, 1e-5, "dbias accumulates");
        /* each gradient alone gives the same bits as all three together */
        float *sx = fcopy(p0x, ni), *sw = fcopy(p0w, nw), *sb = fcopy(p0b, nb);
        ck_assert_int_eq(op_bwd(o, sx, NULL, NULL, ws, dy, x, w), GENREP_OK);
        ck_assert_int_eq(op_bwd(o, NULL, sw, NULL, ws, dy, x, w), GENREP_OK);
        ck_assert_int_eq(op_bwd(o, NULL, NULL, sb, NULL, dy, x, w), GENREP_OK); /* bias needs no workspace */
        ck_assert_int_eq(op_bwd(o, NULL, NULL, NULL, NULL, dy, x, w), GENREP_OK);
        ck_assert(memcmp(sx, ax, ni * 4) == 0);
        ck_assert(memcmp(sw, aw, nw * 4) == 0);
        ck_assert(memcmp(sb, ab, nb * 4) == 0);
        /* only what is needed must be given: no weight for dweight, no inp for dinp */
        ck_assert_int_eq(op_bwd(o, NULL, sw, NULL, ws, dy, x, NULL), GENREP_OK);
        ck_assert_int_eq(op_bwd(o, sx, NULL, NULL, ws, dy, NULL, w), GENREP_OK);
        float *bufs[] = { x, w, dy, ws, p0x, p0w, p0b, zx, zw, zb, ax, aw, ab, sx, sw, sb };
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) genrep_free(bufs[i]);
    }
    /* linear */
    const int B = 4, C = 6, OC = 3;
    float *x = fr(B * C, 51), *w = fr(OC * C, 52), *dy = fr(B * OC, 53);
    float *p0x = fr(B * C, 54), *p0w = fr(OC * C, 55), *p0b = fr(OC, 56);
    float zx[24] = {0}, zw[18] = {0}, zb[3] = {0};
    ck_assert_int_eq(genrep_linear_backward(zx, zw, zb, dy, x, w, B, C, OC), GENREP_OK);
    float *ax = fcopy(p0x, 24), *aw = fcopy(p0w, 18), *ab = fcopy(p0b, 3);
    ck_assert_int_eq(genrep_linear_backward(ax, aw, ab, dy, x, w, B, C, OC), GENREP_OK);
    for (int i = 0; i < 24; i++) zx[i] += p0x[i];
    for (int i = 0; i < 18; i++) zw[i] += p0w[i];
    for (int i = 0; i < 3; i++) zb[i] += p0b[i];
    TU_ASSERT_CLOSE(ax, zx, 24, 1e-5, 1e-5, "linear dinp accumulates");
    TU_ASSERT_CLOSE(aw, zw, 18, 1e-5, 1e-5, "linear dweight accumulates");
    TU_ASSERT_CLOSE(ab, zb, 3, 1e-5, 1e-5, "linear dbias accumulates");
    ck_assert_int_eq(genrep_linear_backward(NULL, NULL, NULL, dy, NULL, NULL, B, C, OC), GENREP_OK);
    float *bufs[] = { x, w, dy, p0x, p0w, p0b, ax, aw, ab };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) genrep_free(bufs[i]);
}
END_TEST

/* ------------------------------------------------------------ determinism */

/* Every output of every op, at 1 and at 2 threads, must be the same bits. */
static void run_all(const op_desc *o, float *y, float *dx, float *dw, float *db, const float *x, const float *w,
                    const float *b, const float *dy, float *ws) {
    ck_assert_int_eq(op_fwd(o, y, ws, x, w, b), GENREP_OK);
    memset(dx, 0, n_inp(o) * 4); memset(dw, 0, n_wt(o) * 4); memset(db, 0, n_bias(o) * 4);
    ck_assert_int_eq(op_bwd(o, dx, dw, db, ws, dy, x, w), GENREP_OK);
}

/* The internal overwrite variant (dinp =, used by the encoder instead of
   zeroing first) equals the public += variant run into zeros, bit for bit,
   on the stride-1 path (data gradient as a forward conv) and the col2im
   path (stride 2), with ragged chunks, on every ISA. */
START_TEST(backward_overwrite_variant) {
    size_t old = genrep__conv_col_budget;
    genrep_isa best = genrep_get_isa();
    genrep__conv_col_budget = 700; /* several chunks, last one ragged */
    const int shapes[][9] = { /* N C H W K R S stride pad */
        {5, 3, 9, 7, 6, 3, 3, 1, 1}, {4, 5, 10, 9, 7, 3, 3, 2, 1}, {3, 4, 8, 8, 9, 1, 1, 2, 0}};
    for (int isa = 0; isa < 3; isa++) {
        if (genrep_set_isa((genrep_isa)isa) != GENREP_OK) continue;
        for (int si = 0; si < 3; si++) {
            const int *z = shapes[si];
            genrep_conv2d_desc d;
            ck_assert_int_eq(genrep_conv2d_init(&d, z[0], z[1], z[2], z[3], z[4], z[5], z[6], z[7], z[8]), GENREP_OK);
            size_t ni = (size_t)d.N * d.C * d.H * d.W, no = (size_t)d.N * d.K * d.P * d.Q, nw = (size_t)d.K * d.C * d.R * d.S;
            float *x = fr(ni, 10 + si), *w = fr(nw, 20 + si), *dy = fr(no, 30 + si), *ws = fa(genrep_conv2d_workspace(&d));
            float *dx0 = fa(ni), *dx1 = fr(ni, 40 + si), *dw0 = fa(nw), *dw1 = fa(nw);
            memset(dx0, 0, ni * 4); memset(dw0, 0, nw * 4); memset(dw1, 0, nw * 4);
            ck_assert_int_eq(genrep_conv2d_backward(dx0, dw0, NULL, ws, dy, x, w, &d), GENREP_OK);
            ck_assert_int_eq(genrep__conv2d_backward_impl(dx1, dw1, NULL, ws, dy, x, w, &d, 0), GENREP_OK);
            ck_assert_msg(memcmp(dx0, dx1, ni * 4) == 0, "isa %d shape %d: overwrite dinp differs", isa, si);
            ck_assert(memcmp(dw0, dw1, nw * 4) == 0);
            genrep_free(x); genrep_free(w); genrep_free(dy); genrep_free(ws);
            genrep_free(dx0); genrep_free(dx1); genrep_free(dw0); genrep_free(dw1);
        }
    }
    ck_assert_int_eq(genrep_set_isa(best), GENREP_OK);
    genrep__conv_col_budget = old;
}
END_TEST

/* The weight gradient with implicit im2col (col^T packed straight from the
   images) equals the explicit im2col path bit for bit: odd sizes, pixel
   blocks that cross images (P*Q not a multiple of 8), kernels 1x1 .. 5x5 with
   "same" and other paddings, ragged chunks, every ISA; and a shape the
   implicit path does not take (q != w) still matches. */
START_TEST(dweight_implicit_im2col_bitwise) {
    size_t old = genrep__conv_col_budget;
    genrep_isa best = genrep_get_isa();
    const int shapes[][9] = { /* N C H W K R S stride pad */
        {5, 3, 9, 7, 6, 3, 3, 1, 1}, {3, 2, 7, 7, 9, 5, 5, 1, 2}, {4, 5, 6, 11, 8, 1, 1, 1, 0},
        {3, 4, 5, 5, 7, 3, 3, 1, 2}, {2, 3, 13, 10, 5, 3, 3, 1, 0}, {4, 3, 9, 9, 10, 3, 3, 2, 1},
        {6, 1, 28, 28, 32, 3, 3, 1, 1}};
    const int ns = (int)(sizeof shapes / sizeof shapes[0]);
    for (int isa = 0; isa < 3; isa++) {
        if (genrep_set_isa((genrep_isa)isa) != GENREP_OK) continue;
        for (int bud = 0; bud < 2; bud++) {
            genrep__conv_col_budget = bud ? 900 : old; /* ragged chunks / one chunk */
            for (int si = 0; si < ns; si++) {
                const int *z = shapes[si];
                genrep_conv2d_desc d;
                ck_assert_int_eq(genrep_conv2d_init(&d, z[0], z[1], z[2], z[3], z[4], z[5], z[6], z[7], z[8]), GENREP_OK);
                size_t ni = (size_t)d.N * d.C * d.H * d.W, no = (size_t)d.N * d.K * d.P * d.Q, nw = (size_t)d.K * d.C * d.R * d.S;
                float *x = fr(ni, 50 + si), *dy = fr(no, 60 + si), *ws = fa(genrep_conv2d_workspace(&d));
                float *dw0 = fa(nw), *dw1 = fa(nw), *ref = fa(nw);
                memset(dw0, 0, nw * 4); memset(dw1, 0, nw * 4); memset(ref, 0, nw * 4);
                genrep__conv_implicit = 0;
                ck_assert_int_eq(genrep_conv2d_backward(NULL, dw0, NULL, ws, dy, x, NULL, &d), GENREP_OK);
                genrep__conv_implicit = 1;
                ck_assert_int_eq(genrep_conv2d_backward(NULL, dw1, NULL, ws, dy, x, NULL, &d), GENREP_OK);
                ck_assert_msg(memcmp(dw0, dw1, nw * 4) == 0, "isa %d shape %d budget %d: implicit dweight differs", isa, si, bud);
                /* and both near the scalar reference */
                genrep__conv2d_backward_ref(NULL, ref, NULL, dy, x, NULL, &d);
                for (size_t i = 0; i < nw; i++)
                    ck_assert_msg(fabsf(dw1[i] - ref[i]) <= 1e-4f * (1.0f + fabsf(ref[i])), "shape %d dw[%zu] %g vs %g", si, i, dw1[i], ref[i]);
                genrep_free(x); genrep_free(dy); genrep_free(ws); genrep_free(dw0); genrep_free(dw1); genrep_free(ref);
            }
        }
    }
    ck_assert_int_eq(genrep_set_isa(best), GENREP_OK);
    genrep__conv_col_budget = old;
}
END_TEST

/* Share mode (genrep_encoder_set_share, issue 16): the weight gradient as a
   pairwise tree over shares of S images per group (G groups). Near the
   scalar reference on every ISA; the same bits at 1 and 2 threads; and the
   batch cut in two halves (each group's first and second half: what two MPI
   ranks hold), each half's tree root added, gives the whole batch's bits
   (the halves are subtrees of the whole tree when the share count is a
   power of two). */
START_TEST(dweight_share_tree) {
    genrep_isa best = genrep_get_isa();
    const int nt0 = genrep_num_threads();
    const int shapes[][11] = { /* N C H W K R S stride pad  G S */
        {8, 3, 9, 7, 6, 3, 3, 1, 1, 2, 1}, {8, 4, 7, 7, 9, 3, 3, 2, 1, 2, 2}, {16, 5, 6, 6, 8, 1, 1, 1, 0, 1, 2},
        {8, 1, 28, 28, 16, 3, 3, 1, 1, 2, 2}, {8, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1}};
    const int ns = (int)(sizeof shapes / sizeof shapes[0]);
    for (int isa = 0; isa < 3; isa++) {
        if (genrep_set_isa((genrep_isa)isa) != GENREP_OK) continue;
        for (int si = 0; si < ns; si++) {
            const int *z = shapes[si], G = z[9], S = z[10];
            genrep_conv2d_desc d, dh;
            ck_assert_int_eq(genrep_conv2d_init(&d, z[0], z[1], z[2], z[3], z[4], z[5], z[6], z[7], z[8]), GENREP_OK);
            ck_assert_int_eq(genrep_conv2d_init(&dh, z[0] / 2, z[1], z[2], z[3], z[4], z[5], z[6], z[7], z[8]), GENREP_OK);
            const size_t chw = (size_t)d.C * d.H * d.W, kpq = (size_t)d.K * d.P * d.Q, nw = (size_t)d.K * d.C * d.R * d.S;
            float *x = fr(d.N * chw, 80 + si), *dy = fr(d.N * kpq, 90 + si), *ws = fa(genrep__conv2d_tree_ws(&d, G, S));
            float *dw[2], *ref = fa(nw), *half = fa(nw), *hx = fa(dh.N * chw), *hdy = fa(dh.N * kpq);
            memset(ref, 0, nw * 4);
            genrep__conv2d_backward_ref(NULL, ref, NULL, dy, x, NULL, &d);
            for (int t = 0; t < 2; t++) {
                dw[t] = fa(nw);
                memset(dw[t], 0, nw * 4);
                genrep_set_num_threads(t + 1);
                ck_assert_int_eq(genrep__conv2d_dweight_tree(dw[t], ws, dy, x, &d, G, S), GENREP_OK);
            }
            ck_assert_msg(memcmp(dw[0], dw[1], nw * 4) == 0, "isa %d shape %d: share tree differs at 2 threads", isa, si);
            for (size_t i = 0; i < nw; i++)
                ck_assert_msg(fabsf(dw[0][i] - ref[i]) <= 1e-4f * (1.0f + fabsf(ref[i])), "shape %d dw[%zu] %g vs %g",
                              si, i, dw[0][i], ref[i]);
            /* two halves: half k holds images k*Ng/2 .. of every group */
            const int Ng = d.N / G, hg = Ng / 2;
            memset(half, 0, nw * 4);
            for (int k = 0; k < 2; k++) {
                float *part = fa(nw);
                memset(part, 0, nw * 4);
                for (int g = 0; g < G; g++) {
                    memcpy(hx + (size_t)g * hg * chw, x + ((size_t)g * Ng + (size_t)k * hg) * chw, hg * chw * 4);
                    memcpy(hdy + (size_t)g * hg * kpq, dy + ((size_t)g * Ng + (size_t)k * hg) * kpq, hg * kpq * 4);
                }
                ck_assert_int_eq(genrep__conv2d_dweight_tree(part, ws, hdy, hx, &dh, G, S), GENREP_OK);
                for (size_t i = 0; i < nw; i++) half[i] = half[i] + part[i];
                genrep_free(part);
            }
            ck_assert_msg(memcmp(half, dw[0], nw * 4) == 0, "isa %d shape %d: two halves' roots differ from the whole batch",
                          isa, si);
            genrep_free(x); genrep_free(dy); genrep_free(ws); genrep_free(dw[0]); genrep_free(dw[1]);
            genrep_free(ref); genrep_free(half); genrep_free(hx); genrep_free(hdy);
        }
    }
    ck_assert_int_eq(genrep_set_isa(best), GENREP_OK);
    genrep_set_num_threads(nt0);
}
END_TEST

START_TEST(threads_bitwise_identical) {
    const size_t budget0 = genrep__conv_col_budget;
    /* the last op has many chunks, so that the threads' chunks of conv2d
       forward overlap in time (each must use its own workspace slot) */
    op_desc os[4] = { mk_conv(5, 16, 12, 12, 24, 3, 3, 1, 1), mk_conv(4, 8, 15, 13, 16, 5, 5, 2, 2),
                      mk_convt(5, 16, 8, 8, 12, 4, 4, 2, 1, 0), mk_conv(24, 16, 16, 16, 16, 3, 3, 1, 1) };
    for (int k = 0; k < 4; k++)
        for (int chunked = 0; chunked < 2; chunked++) {
            const op_desc *o = &os[k];
            /* chunks of 2,2,1 / 5 / 4,1 / 24 x 1 images */
            genrep__conv_col_budget = chunked ? 50000 : budget0;
            size_t ni = n_inp(o), no = n_out(o), nw = n_wt(o), nb = n_bias(o), nws = n_ws(o);
            float *x = fr(ni, 61), *w = fr(nw, 62), *b = fr(nb, 63), *dy = fr(no, 64), *ws = fa(nws);
            /* 1 thread, 2 (slots run at once), 3 (more threads than slots: chunks in sequence) */
            float *y[3], *dx[3], *dw[3], *db[3];
            for (int t = 0; t < 3; t++) {
                y[t] = fa(no); dx[t] = fa(ni); dw[t] = fa(nw); db[t] = fa(nb);
                genrep_set_num_threads(t + 1);
                run_all(o, y[t], dx[t], dw[t], db[t], x, w, b, dy, ws);
            }
            for (int t = 1; t < 3; t++) {
                ck_assert_msg(memcmp(y[0], y[t], no * 4) == 0, "op %d forward differs at %d threads", k, t + 1);
                ck_assert_msg(memcmp(dx[0], dx[t], ni * 4) == 0, "op %d dinp differs at %d threads", k, t + 1);
                ck_assert_msg(memcmp(dw[0], dw[t], nw * 4) == 0, "op %d dweight differs at %d threads", k, t + 1);
                ck_assert_msg(memcmp(db[0], db[t], nb * 4) == 0, "op %d dbias differs at %d threads", k, t + 1);
            }
            for (int t = 0; t < 3; t++) { genrep_free(y[t]); genrep_free(dx[t]); genrep_free(dw[t]); genrep_free(db[t]); }
            genrep_free(x); genrep_free(w); genrep_free(b); genrep_free(dy); genrep_free(ws);
        }
    genrep__conv_col_budget = budget0;
    /* linear: the GEMM and the bias sums */
    const int B = 33, C = 70, OC = 45;
    float *x = fr(B * C, 71), *w = fr(OC * C, 72), *b = fr(OC, 73), *dy = fr(B * OC, 74);
    float *y[2], *dx[2], *dw[2], *db[2];
    for (int t = 0; t < 2; t++) {
        y[t] = fa(B * OC); dx[t] = fa(B * C); dw[t] = fa(OC * C); db[t] = fa(OC);
        memset(dx[t], 0, B * C * 4); memset(dw[t], 0, OC * C * 4); memset(db[t], 0, OC * 4);
        genrep_set_num_threads(t + 1);
        ck_assert_int_eq(genrep_linear_forward(y[t], x, w, b, B, C, OC), GENREP_OK);
        ck_assert_int_eq(genrep_linear_backward(dx[t], dw[t], db[t], dy, x, w, B, C, OC), GENREP_OK);
    }
    ck_assert(memcmp(y[0], y[1], B * OC * 4) == 0);
    ck_assert(memcmp(dx[0], dx[1], B * C * 4) == 0);
    ck_assert(memcmp(dw[0], dw[1], OC * C * 4) == 0);
    ck_assert(memcmp(db[0], db[1], OC * 4) == 0);
    for (int t = 0; t < 2; t++) { genrep_free(y[t]); genrep_free(dx[t]); genrep_free(dw[t]); genrep_free(db[t]); }
    genrep_free(x); genrep_free(w); genrep_free(b); genrep_free(dy);
}
END_TEST

/* ---------------------------------------------------------- bad arguments */

#define EXPECT_FAIL(call, status, needle) do { \
    ck_assert_int_eq((call), (status)); \
    ck_assert_msg(strstr(genrep_last_error(), (needle)) != NULL, "message '%s' lacks '%s'", genrep_last_error(), (needle)); \
} while (0)

START_TEST(bad_arguments) {
    genrep_conv2d_desc d;
    EXPECT_FAIL(genrep_conv2d_init(NULL, 1, 1, 4, 4, 1, 3, 3, 1, 0), GENREP_ERR_ARG, "'d'");
    EXPECT_FAIL(genrep_conv2d_init(&d, 0, 1, 4, 4, 1, 3, 3, 1, 0), GENREP_ERR_ARG, "'N'");
    EXPECT_FAIL(genrep_conv2d_init(&d, 1, -2, 4, 4, 1, 3, 3, 1, 0), GENREP_ERR_ARG, "'C'");
    EXPECT_FAIL(genrep_conv2d_init(&d, 1, 1, 0, 4, 1, 3, 3, 1, 0), GENREP_ERR_ARG, "'H'");
    EXPECT_FAIL(genrep_conv2d_init(&d, 1, 1, 4, 4, 0, 3, 3, 1, 0), GENREP_ERR_ARG, "'K'");
    EXPECT_FAIL(genrep_conv2d_init(&d, 1, 1, 4, 4, 1, 0, 3, 1, 0), GENREP_ERR_ARG, "'R'");
    EXPECT_FAIL(genrep_conv2d_init(&d, 1, 1, 4, 4, 1, 3, 3, 0, 0), GENREP_ERR_ARG, "'stride'");
    EXPECT_FAIL(genrep_conv2d_init(&d, 1, 1, 4, 4, 1, 3, 3, 1, -1), GENREP_ERR_ARG, "'pad'");
    EXPECT_FAIL(genrep_conv2d_init(&d, 1, 1, 2, 4, 1, 5, 3, 1, 1), GENREP_ERR_SHAPE, "kernel"); /* P <= 0 */
    ck_assert_int_eq(genrep_conv2d_init(&d, 2, 3, 5, 5, 4, 3, 3, 1, 1), GENREP_OK);
    ck_assert_int_eq(d.P, 5); ck_assert_int_eq(d.Q, 5);
    static float buf[16384], *ws = buf + 4096, *x = buf + 8192, *w = buf + 12288, *y = buf;
    ck_assert_uint_le(genrep_conv2d_workspace(&d), 4096);
    EXPECT_FAIL(genrep_conv2d_forward(NULL, ws, x, w, NULL, &d), GENREP_ERR_ARG, "'out'");
    EXPECT_FAIL(genrep_conv2d_forward(y, NULL, x, w, NULL, &d), GENREP_ERR_ARG, "'ws'");
    EXPECT_FAIL(genrep_conv2d_forward(y, ws, NULL, w, NULL, &d), GENREP_ERR_ARG, "'inp'");
    EXPECT_FAIL(genrep_conv2d_forward(y, ws, x, NULL, NULL, &d), GENREP_ERR_ARG, "'weight'");
    EXPECT_FAIL(genrep_conv2d_forward(y, ws, x, w, NULL, NULL), GENREP_ERR_ARG, "'d'");
    EXPECT_FAIL(genrep_conv2d_backward(x, w, NULL, ws, NULL, x, w, &d), GENREP_ERR_ARG, "'dout'");
    EXPECT_FAIL(genrep_conv2d_backward(x, NULL, NULL, ws, y, x, NULL, &d), GENREP_ERR_ARG, "'weight'");
    EXPECT_FAIL(genrep_conv2d_backward(NULL, w, NULL, ws, y, NULL, w, &d), GENREP_ERR_ARG, "'inp'");
    EXPECT_FAIL(genrep_conv2d_backward(x, NULL, NULL, NULL, y, x, w, &d), GENREP_ERR_ARG, "'ws'");
    genrep_conv2d_desc bad = d; bad.P = 7;                        /* hand-edited, inconsistent */
    EXPECT_FAIL(genrep_conv2d_forward(y, ws, x, w, NULL, &bad), GENREP_ERR_SHAPE, "P=7");
    ck_assert_uint_eq(genrep_conv2d_workspace(&bad), 0);
    ck_assert_uint_eq(genrep_conv2d_workspace(NULL), 0);
    bad = d; bad.K = 0;
    EXPECT_FAIL(genrep_conv2d_backward(x, w, NULL, ws, y, x, w, &bad), GENREP_ERR_ARG, "'K'");

    genrep_convt2d_desc t;
    EXPECT_FAIL(genrep_convt2d_init(NULL, 1, 1, 4, 4, 1, 3, 3, 2, 1, 1), GENREP_ERR_ARG, "'d'");
    EXPECT_FAIL(genrep_convt2d_init(&t, 1, 1, 4, -4, 1, 3, 3, 2, 1, 1), GENREP_ERR_ARG, "'W'");
    EXPECT_FAIL(genrep_convt2d_init(&t, 1, 1, 4, 4, 1, 3, 0, 2, 1, 1), GENREP_ERR_ARG, "'S'");
    EXPECT_FAIL(genrep_convt2d_init(&t, 1, 1, 4, 4, 1, 3, 3, 2, 1, 2), GENREP_ERR_ARG, "'outpad'");
    EXPECT_FAIL(genrep_convt2d_init(&t, 1, 1, 4, 4, 1, 3, 3, 2, 1, -1), GENREP_ERR_ARG, "'outpad'");
    EXPECT_FAIL(genrep_convt2d_init(&t, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0), GENREP_ERR_SHAPE, "empty"); /* P = -1 */
    ck_assert_int_eq(genrep_convt2d_init(&t, 2, 3, 4, 4, 2, 4, 4, 2, 1, 0), GENREP_OK);
    ck_assert_int_eq(t.P, 8); ck_assert_int_eq(t.Q, 8);
    ck_assert_uint_le(genrep_convt2d_workspace(&t), 4096);
    EXPECT_FAIL(genrep_convt2d_forward(y, NULL, x, w, NULL, &t), GENREP_ERR_ARG, "'ws'");
    EXPECT_FAIL(genrep_convt2d_forward(y, ws, x, w, NULL, NULL), GENREP_ERR_ARG, "'d'");
    EXPECT_FAIL(genrep_convt2d_backward(x, w, NULL, ws, NULL, x, w, &t), GENREP_ERR_ARG, "'dout'");
    genrep_convt2d_desc badt = t; badt.outpad_h = 2;
    EXPECT_FAIL(genrep_convt2d_backward(x, w, NULL, ws, y, x, w, &badt), GENREP_ERR_ARG, "'outpad'");
    badt = t; badt.Q = 3;
    EXPECT_FAIL(genrep_convt2d_forward(y, ws, x, w, NULL, &badt), GENREP_ERR_SHAPE, "Q=3");
    ck_assert_uint_eq(genrep_convt2d_workspace(&badt), 0);

    EXPECT_FAIL(genrep_linear_forward(NULL, x, w, NULL, 2, 3, 4), GENREP_ERR_ARG, "'out'");
    EXPECT_FAIL(genrep_linear_forward(y, x, NULL, NULL, 2, 3, 4), GENREP_ERR_ARG, "'weight'");
    EXPECT_FAIL(genrep_linear_forward(y, x, w, NULL, 0, 3, 4), GENREP_ERR_ARG, "'B'");
    EXPECT_FAIL(genrep_linear_forward(y, x, w, NULL, 2, -3, 4), GENREP_ERR_ARG, "'C'");
    EXPECT_FAIL(genrep_linear_backward(x, NULL, NULL, NULL, x, w, 2, 3, 4), GENREP_ERR_ARG, "'dout'");
    EXPECT_FAIL(genrep_linear_backward(x, NULL, NULL, y, x, NULL, 2, 3, 4), GENREP_ERR_ARG, "'weight'");
    EXPECT_FAIL(genrep_linear_backward(NULL, w, NULL, y, NULL, w, 2, 3, 4), GENREP_ERR_ARG, "'inp'");
    EXPECT_FAIL(genrep_linear_backward(x, w, NULL, y, x, w, 2, 3, 0), GENREP_ERR_ARG, "'OC'");
}
END_TEST

/* The workspace stays bounded on the bench shapes (chunking works) and a
   chunk of the big layer still holds several images. */
START_TEST(workspace_bounded) {
    genrep_conv2d_desc d;
    ck_assert_int_eq(genrep_conv2d_init(&d, 128, 64, 14, 14, 64, 3, 3, 1, 1), GENREP_OK);
    size_t ws = genrep_conv2d_workspace(&d);
    ck_assert_uint_gt(ws, (size_t)576 * 196);
    ck_assert_uint_le(ws * 4, (size_t)32 << 20);
    ck_assert_int_eq(genrep_conv2d_init(&d, 512, 512, 64, 64, 512, 3, 3, 1, 1), GENREP_OK);
    /* one image per slot, even past the budget, plus the flipped kernel of the data gradient */
    ck_assert_uint_le(genrep_conv2d_workspace(&d), (size_t)4608 * 4096 * 2 + (size_t)512 * 512 * 9 * 2);
    genrep_convt2d_desc t;
    ck_assert_int_eq(genrep_convt2d_init(&t, 128, 256, 4, 4, 128, 4, 4, 2, 1, 0), GENREP_OK);
    ck_assert_uint_le(genrep_convt2d_workspace(&t) * 4, (size_t)32 << 20);
}
END_TEST

/* ------------------------------------------------------------- bf16 conv */

/* Largest |got - want| / tol with the bf16 bound of [GEMM] bf16 per
   element: tol = (2u + u^2) S + 2 g(n) (1 + u)^2 S + n 2^-126, S the sum of
   |terms| (the same op on |x|, |w|, |dy|), n a bound on the roundings of
   one sum, u = 2^-8 (bf16 operands), g(n) = n 2^-24 / (1 - n 2^-24) (fp32
   sums of both the bf16 and the fp32 result). 0 = within. */
static double bf16_ratio(const float *got, const float *want, const float *S, size_t n, double terms, size_t *wi) {
    const double u = 0x1p-8, g = terms * 0x1p-24 / (1 - terms * 0x1p-24);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double tol = (2 * u + u * u) * S[i] + 2 * g * (1 + u) * (1 + u) * S[i] + terms * 0x1p-126;
        double d = fabs((double)got[i] - want[i]), q = d != d ? INFINITY : d / tol;
        if (q > worst) { worst = q; *wi = i; }
    }
    return worst;
}
static float *fabs_copy(const float *x, size_t n) { float *p = fa(n); for (size_t i = 0; i < n; i++) p[i] = fabsf(x[i]); return p; }

/* bf16 conv2d (desc precision BF16): forward bit for bit against the model
   (each output is genrep_gemm_bf16_ref over its im2col column, (c, r, s)
   order, padding as zeros, + bias); forward, dinp and dweight within the bf16
   bound of the fp32 reference; scalar, AVX2-emulated and AVX512-BF16 paths
   and 1 / 2 / 3 threads give the same bits (ragged chunks included). */
START_TEST(conv_bf16) {
    const size_t budget0 = genrep__conv_col_budget;
    const op_desc os[4] = {mk_conv(3, 5, 9, 7, 6, 3, 3, 1, 1), mk_conv(4, 7, 9, 9, 10, 3, 3, 2, 1),
                           mk_conv(5, 9, 6, 6, 3, 1, 1, 2, 0), mk_conv(2, 130, 5, 5, 4, 3, 3, 1, 1)};
    genrep_isa best = genrep_get_isa();
    for (int k = 0; k < 4; k++) {
        op_desc o = os[k];
        o.c.precision = GENREP_PRECISION_BF16;
        char name[160];
        desc_str(&o, name, sizeof name);
        genrep__conv_col_budget = k == 3 ? budget0 : 600; /* several (ragged) chunks */
        size_t ni = n_inp(&o), no = n_out(&o), nw = n_wt(&o), nb = n_bias(&o), nws = n_ws(&o);
        float *x = fr(ni, 81 + k), *w = fr(nw, 82 + k), *b = fr(nb, 83 + k), *dy = fr(no, 84 + k), *ws = fa(nws);
        const int C = o.c.C, H = o.c.H, W = o.c.W, K = o.c.K, R = o.c.R, S = o.c.S, P = o.c.P, Q = o.c.Q;
        const int CRS = C * R * S;
        /* 1. forward against the model, with a bias (CRS <= 1024 except op 3: no bias there) */
        const float *bias = k == 3 ? NULL : b;
        float *yr = fa(no), *col = fa((size_t)CRS);
        for (int n = 0; n < o.c.N; n++)
            for (int p = 0; p < P; p++)
                for (int q = 0; q < Q; q++) {
                    for (int c = 0; c < C; c++)
                        for (int r = 0; r < R; r++)
                            for (int s = 0; s < S; s++) {
                                int h = p * o.c.stride_h - o.c.pad_h + r, ww = q * o.c.stride_w - o.c.pad_w + s;
                                col[(c * R + r) * S + s] =
                                    h < 0 || h >= H || ww < 0 || ww >= W ? 0.0f : x[(((size_t)n * C + c) * H + h) * W + ww];
                            }
                    for (int kk = 0; kk < K; kk++) {
                        float *out = &yr[(((size_t)n * K + kk) * P + p) * Q + q];
                        *out = bias ? bias[kk] : 0.0f;
                        ck_assert_int_eq(genrep_gemm_bf16_ref(0, 0, 1, 1, CRS, w + (size_t)kk * CRS, CRS, col, 1,
                                                              bias ? 1.0f : 0.0f, out, 1), GENREP_OK);
                    }
                }
        /* 2. every path and thread count: the same bits, = the model */
        float *y0 = fa(no), *dx0 = fa(ni), *dw0 = fa(nw), *db0 = fa(nb);
        float *y = fa(no), *dx = fa(ni), *dw = fa(nw), *db = fa(nb);
        int first = 1;
        for (int isa = GENREP_ISA_SCALAR; isa <= GENREP_ISA_AVX512; isa++) {
            if (genrep_set_isa((genrep_isa)isa) != GENREP_OK) continue;
            for (int nt = 1; nt <= 3; nt++) {
                genrep_set_num_threads(nt);
                run_all(&o, first ? y0 : y, first ? dx0 : dx, first ? dw0 : dw, first ? db0 : db, x, w, bias, dy, ws);
                if (first) {
                    for (size_t i = 0; i < no; i++)
                        ck_assert_msg(memcmp(&y0[i], &yr[i], 4) == 0, "%s bf16 forward [%zu] %a, model %a", name, i,
                                      y0[i], yr[i]);
                    first = 0;
                    continue;
                }
                const char *pn = genrep__kernels()->gemm_bf16.name;
                ck_assert_msg(memcmp(y, y0, no * 4) == 0, "%s bf16 forward: %s %d threads differ", name, pn, nt);
                ck_assert_msg(memcmp(dx, dx0, ni * 4) == 0, "%s bf16 dinp: %s %d threads differ", name, pn, nt);
                ck_assert_msg(memcmp(dw, dw0, nw * 4) == 0, "%s bf16 dweight: %s %d threads differ", name, pn, nt);
                ck_assert_msg(memcmp(db, db0, nb * 4) == 0, "%s bf16 dbias: %s %d threads differ", name, pn, nt);
            }
        }
        genrep_set_num_threads(2);
        ck_assert_int_eq(genrep_set_isa(best), GENREP_OK);
        /* 3. within the bound of the fp32 reference */
        float *ax = fabs_copy(x, ni), *aw = fabs_copy(w, nw), *ady = fabs_copy(dy, no);
        float *sy = fa(no), *sdx = fa(ni), *sdw = fa(nw), *sdb = fa(nb), *fy = fa(no), *fdx = fa(ni), *fdw = fa(nw);
        memset(sdx, 0, ni * 4); memset(sdw, 0, nw * 4); memset(sdb, 0, nb * 4); memset(fdx, 0, ni * 4);
        memset(fdw, 0, nw * 4);
        op_fwd_ref(&o, fy, x, w, bias);
        op_fwd_ref(&o, sy, ax, aw, NULL);
        op_bwd_ref(&o, fdx, fdw, sdb, dy, x, w);
        op_bwd_ref(&o, sdx, sdw, sdb, ady, ax, aw);
        double terms = (double)o.c.N * P * Q + CRS + (double)K * R * S + 16;
        size_t wi = 0;
        double q = bf16_ratio(y0, fy, sy, no, terms, &wi);
        ck_assert_msg(q <= 1, "%s bf16 forward [%zu] %g vs fp32 %g: %.3g x bound", name, wi, y0[wi], fy[wi], q);
        q = bf16_ratio(dx0, fdx, sdx, ni, terms, &wi);
        ck_assert_msg(q <= 1, "%s bf16 dinp [%zu] %g vs fp32 %g: %.3g x bound", name, wi, dx0[wi], fdx[wi], q);
        q = bf16_ratio(dw0, fdw, sdw, nw, terms, &wi);
        ck_assert_msg(q <= 1, "%s bf16 dweight [%zu] %g vs fp32 %g: %.3g x bound", name, wi, dw0[wi], fdw[wi], q);
        float *bufs[] = {x, w, b, dy, ws, yr, col, y0, dx0, dw0, db0, y, dx, dw, db, ax, aw, ady, sy, sdx, sdw, sdb, fy, fdx, fdw};
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) genrep_free(bufs[i]);
    }
    genrep__conv_col_budget = budget0;
    /* a descriptor with an unknown precision is refused by name */
    op_desc bad = os[0];
    bad.c.precision = 7;
    float one = 0;
    EXPECT_FAIL(genrep_conv2d_forward(&one, &one, &one, &one, NULL, &bad.c), GENREP_ERR_ARG, "precision");
}
END_TEST

int main(void) {
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, conv_fast_vs_ref_all_isas);
    tcase_add_test(tc, linear_fast_vs_ref_all_isas);
    tcase_add_test(tc, conv2d_grad_fd);
    tcase_add_test(tc, convt2d_grad_fd);
    tcase_add_test(tc, linear_grad_fd);
    tcase_add_test(tc, backward_accumulates_and_null_ok);
    tcase_add_test(tc, backward_overwrite_variant);
    tcase_add_test(tc, dweight_implicit_im2col_bitwise);
    tcase_add_test(tc, dweight_share_tree);
    tcase_add_test(tc, threads_bitwise_identical);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, workspace_bounded);
    tcase_add_test(tc, conv_bf16);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
