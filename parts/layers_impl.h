/* parts/layers_impl.h: development fragment of genrep.h, inlined before release */

/* -------------------------------------------------------------- [LAYERS] */
/* The non-GEMM layers: batchnorm, conditional batchnorm, activations,
   residual add, pools, upsample, embedding, L2 normalisation, softmax
   cross-entropy, and the optimisers ([OPTIM] at the end). Plain scalar
   loops in llm.c's style; the compiler vectorises the element-wise ones
   (`omp simd` on loops of unknown length, which GCC's -O2 cost model
   would otherwise leave scalar; branch-free selects where a ternary with
   arithmetic in one arm would stay a branch).

   Threads: loops are split over independent units (channels, planes, rows)
   with a static schedule, and every unit is computed the same sequential
   way whichever thread runs it, so results are bitwise identical for any
   thread count. Small loops stay on one thread (GENREP__PAR_MIN). */

#ifdef _OPENMP
/* parallel-for over independent units when the total work is worth a team */
#define GENREP__LPARFOR(work) GENREP__OMP(omp parallel for schedule(static) if ((work) > GENREP__PAR_MIN))
/* element-wise loops (no dependence between iterations, in-place allowed):
   threads, and `simd` so they vectorise at -O2 without alias versioning */
#define GENREP__EWFOR(n) GENREP__OMP(omp parallel for simd schedule(static) if ((n) > GENREP__PAR_MIN))
/* an inner loop without dependences between iterations: vectorise it (GCC's
   -O2 cost model leaves loops of unknown length scalar otherwise) */
#define GENREP__SIMD GENREP__OMP(omp simd)
#else
#define GENREP__LPARFOR(work)
#define GENREP__EWFOR(n)
#define GENREP__SIMD
#endif
#define GENREP__PAR_MIN 32768 /* elements touched; below this a thread team costs more than it saves */

/* Checks shared by the layers: a float that must be > 0 (NaN fails too). */
#define GENREP__CHECK_FPOS(x) \
    do { if (!((x) > 0.0f)) return genrep__fail(GENREP_ERR_ARG, "%s: '%s' must be > 0, got %g", __func__, #x, (double)(x)); } while (0)

/* [BATCHNORM] ------------------------------------------------------------ */

/* Sums over a row of n floats in double, split over 8 interleaved partial
   sums: the compiler can vectorise this (a single running sum has one long
   dependency chain), and the order is still fixed, so the result does not
   depend on threads. */
static double genrep__sum8(const float *x, int n) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += x[i + j];
    for (; i < n; i++) acc[i & 7] += x[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}
/* sum (x - m)^2 in double, same pattern */
static double genrep__ssq8(const float *x, int n, double m) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) { double d = x[i + j] - m; acc[j] += d * d; }
    for (; i < n; i++) { double d = x[i] - m; acc[i & 7] += d * d; }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}
/* *sdy += sum dy, *sdyx += sum dy * xhat with xhat = (x - m) * r (float, as
   the forward computes it), same pattern */
static void genrep__bn_dsums(double *sdy, double *sdyx, const float *dy, const float *x, int n, float m, float r) {
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) { a[j] += dy[i + j]; b[j] += (double)dy[i + j] * ((x[i + j] - m) * r); }
    for (; i < n; i++) { a[i & 7] += dy[i]; b[i & 7] += (double)dy[i] * ((x[i] - m) * r); }
    *sdy += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    *sdyx += ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]));
}

/* Shared by batchnorm and condbn. Per channel c, over the N*HW values
   inp[n, c, :]: the statistics used to normalise (batch or running), the
   cache, and the running-stat update. Writes mean_c, rstd_c. */
static void genrep__bn_stats(float *mean_c, float *rstd_c, float *running_mean, float *running_var,
                             const float *inp, int c, int N, int C, int HW, float eps, float momentum,
                             int training) {
    if (!training) {
        *mean_c = running_mean[c];
        *rstd_c = (float)(1.0 / sqrt((double)running_var[c] + (double)eps));
        return;
    }
    /* two passes in double: mean, then the sum of squared deviations, each
       summed in the fixed order n, hw (this order is what makes the result
       independent of the thread count) */
    const size_t M = (size_t)N * HW;
    double sum = 0.0;
    for (int n = 0; n < N; n++) sum += genrep__sum8(inp + ((size_t)n * C + c) * HW, HW);
    double mean = sum / (double)M;
    double ssq = 0.0;
    for (int n = 0; n < N; n++) ssq += genrep__ssq8(inp + ((size_t)n * C + c) * HW, HW, mean);
    double var = ssq / (double)M;          /* biased: used to normalise */
    *mean_c = (float)mean;
    *rstd_c = (float)(1.0 / sqrt(var + (double)eps));
    /* PyTorch: running = (1 - momentum) * running + momentum * batch, with
       the unbiased variance (M > 1 is checked by the caller) */
    if (running_mean)
        running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + (double)momentum * mean);
    if (running_var)
        running_var[c] = (float)((1.0 - momentum) * running_var[c] + (double)momentum * (ssq / (double)(M - 1)));
}

/* Argument checks shared by the batchnorm and condbn forwards. */
static genrep_status genrep__bn_check_fwd(const char *fn, float *out, const float *inp,
                                          const float *running_mean, const float *running_var,
                                          int N, int C, int HW, float eps, float momentum, int training) {
    if (!out) return genrep__fail(GENREP_ERR_ARG, "%s: argument 'out' is NULL", fn);
    if (!inp) return genrep__fail(GENREP_ERR_ARG, "%s: argument 'inp' is NULL", fn);
    if (N <= 0 || C <= 0 || HW <= 0)
        return genrep__fail(GENREP_ERR_ARG, "%s: N, C, HW must be > 0, got N=%d C=%d HW=%d", fn, N, C, HW);
    if (!(eps > 0.0f)) return genrep__fail(GENREP_ERR_ARG, "%s: 'eps' must be > 0, got %g", fn, (double)eps);
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return genrep__fail(GENREP_ERR_ARG, "%s: 'momentum' must be in [0, 1], got %g", fn, (double)momentum);
    if (training && (size_t)N * HW < 2)
        return genrep__fail(GENREP_ERR_SHAPE, "%s: training needs more than 1 value per channel, got N*HW=%lld",
                            fn, (long long)N * HW);
    if (!training && (!running_mean || !running_var))
        return genrep__fail(GENREP_ERR_ARG, "%s: eval mode (training=0) needs running_mean and running_var", fn);
    return GENREP_OK;
}

static genrep_status genrep__bn_check_bwd(const char *fn, const float *dout, const float *inp,
                                          const float *mean, const float *rstd, int N, int C, int HW) {
    if (!dout) return genrep__fail(GENREP_ERR_ARG, "%s: argument 'dout' is NULL", fn);
    if (!inp) return genrep__fail(GENREP_ERR_ARG, "%s: argument 'inp' is NULL", fn);
    if (!mean) return genrep__fail(GENREP_ERR_ARG, "%s: argument 'mean' is NULL", fn);
    if (!rstd) return genrep__fail(GENREP_ERR_ARG, "%s: argument 'rstd' is NULL", fn);
    if (N <= 0 || C <= 0 || HW <= 0)
        return genrep__fail(GENREP_ERR_ARG, "%s: N, C, HW must be > 0, got N=%d C=%d HW=%d", fn, N, C, HW);
    return GENREP_OK;
}

/* out (N,C,HW) = (inp - mean[c]) * rstd[c] * gamma[c] + beta[c].
   The cache pointers mean, rstd (C) may be NULL when no backward follows. */
GENREP_API genrep_status genrep_batchnorm_forward(float *out, float *mean, float *rstd,
                                                  float *running_mean, float *running_var,
                                                  const float *inp, const float *gamma, const float *beta,
                                                  int N, int C, int HW, float eps, float momentum,
                                                  int training) {
    genrep_status st = genrep__bn_check_fwd(__func__, out, inp, running_mean, running_var,
                                            N, C, HW, eps, momentum, training);
    if (st) return st;
    GENREP__LPARFOR((size_t)N * C * HW)
    for (int c = 0; c < C; c++) {
        float m, r;
        genrep__bn_stats(&m, &r, running_mean, running_var, inp, c, N, C, HW, eps, momentum, training);
        if (mean) mean[c] = m;
        if (rstd) rstd[c] = r;
        float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
        for (int n = 0; n < N; n++) {
            const float *x = inp + ((size_t)n * C + c) * HW;
            float *y = out + ((size_t)n * C + c) * HW;
            GENREP__SIMD
            for (int i = 0; i < HW; i++) y[i] = (x[i] - m) * r * g + b;
        }
    }
    return GENREP_OK;
}

/* Training mode, with xhat = (x - mean) * rstd and dxhat = dout * scale:
     dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
   (the mean is over the N*HW values of the channel), the gradient through
   the batch mean and variance. Eval mode: dx = dxhat * rstd.
   dgamma[c] += sum dout * xhat, dbeta[c] += sum dout. */
GENREP_API genrep_status genrep_batchnorm_backward(float *dinp, float *dgamma, float *dbeta,
                                                   const float *dout, const float *inp,
                                                   const float *gamma, const float *mean,
                                                   const float *rstd, int N, int C, int HW,
                                                   int training) {
    genrep_status st = genrep__bn_check_bwd(__func__, dout, inp, mean, rstd, N, C, HW);
    if (st) return st;
    const double M = (double)N * HW;
    GENREP__LPARFOR((size_t)N * C * HW)
    for (int c = 0; c < C; c++) {
        const float m = mean[c], r = rstd[c], g = gamma ? gamma[c] : 1.0f;
        /* sum dout and sum dout * xhat over the channel, in double, fixed order */
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < N; n++) {
            const size_t off = ((size_t)n * C + c) * HW;
            genrep__bn_dsums(&sdy, &sdyx, dout + off, inp + off, HW, m, r);
        }
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
        if (!dinp) continue;
        /* mean(dxhat) and mean(dxhat * xhat): gamma is constant per channel */
        const float k1 = training ? (float)(g * sdy / M) : 0.0f;
        const float k2 = training ? (float)(g * sdyx / M) : 0.0f;
        for (int n = 0; n < N; n++) {
            const float *x = inp + ((size_t)n * C + c) * HW;
            const float *dy = dout + ((size_t)n * C + c) * HW;
            float *dx = dinp + ((size_t)n * C + c) * HW;
            GENREP__SIMD
            for (int i = 0; i < HW; i++) {
                float xhat = (x[i] - m) * r;
                dx[i] += r * (g * dy[i] - k1 - xhat * k2);
            }
        }
    }
    return GENREP_OK;
}

/* [CONDBN] ---------------------------------------------------------------- */

/* out (N,C,HW) = xhat * (1 + gain[n,c]) + bias[n,c]; gain, bias (N,C) may
   be NULL (read as 0). Statistics, cache and running stats as batchnorm. */
GENREP_API genrep_status genrep_condbn_forward(float *out, float *mean, float *rstd,
                                               float *running_mean, float *running_var,
                                               const float *inp, const float *gain, const float *bias,
                                               int N, int C, int HW, float eps, float momentum,
                                               int training) {
    genrep_status st = genrep__bn_check_fwd(__func__, out, inp, running_mean, running_var,
                                            N, C, HW, eps, momentum, training);
    if (st) return st;
    GENREP__LPARFOR((size_t)N * C * HW)
    for (int c = 0; c < C; c++) {
        float m, r;
        genrep__bn_stats(&m, &r, running_mean, running_var, inp, c, N, C, HW, eps, momentum, training);
        if (mean) mean[c] = m;
        if (rstd) rstd[c] = r;
        for (int n = 0; n < N; n++) {
            const size_t nc = (size_t)n * C + c;
            const float g = 1.0f + (gain ? gain[nc] : 0.0f), b = bias ? bias[nc] : 0.0f;
            const float *x = inp + nc * HW;
            float *y = out + nc * HW;
            GENREP__SIMD
            for (int i = 0; i < HW; i++) y[i] = (x[i] - m) * r * g + b;
        }
    }
    return GENREP_OK;
}

/* As batchnorm_backward with a per-sample scale (1 + gain[n,c]):
   dxhat = dout * (1 + gain[n,c]); dgain[n,c] += sum_hw dout * xhat;
   dbias[n,c] += sum_hw dout; dinp through the batch statistics when training. */
GENREP_API genrep_status genrep_condbn_backward(float *dinp, float *dgain, float *dbias,
                                                const float *dout, const float *inp,
                                                const float *gain, const float *mean,
                                                const float *rstd, int N, int C, int HW,
                                                int training) {
    genrep_status st = genrep__bn_check_bwd(__func__, dout, inp, mean, rstd, N, C, HW);
    if (st) return st;
    const double M = (double)N * HW;
    GENREP__LPARFOR((size_t)N * C * HW)
    for (int c = 0; c < C; c++) {
        const float m = mean[c], r = rstd[c];
        double sdxh = 0.0, sdxhx = 0.0; /* sum dxhat, sum dxhat * xhat over the channel */
        for (int n = 0; n < N; n++) {
            const size_t nc = (size_t)n * C + c;
            const float *x = inp + nc * HW;
            const float *dy = dout + nc * HW;
            double sdy = 0.0, sdyx = 0.0; /* per (n, c) */
            genrep__bn_dsums(&sdy, &sdyx, dy, x, HW, m, r);
            if (dgain) dgain[nc] += (float)sdyx;
            if (dbias) dbias[nc] += (float)sdy;
            const double g = 1.0 + (gain ? gain[nc] : 0.0f);
            sdxh += g * sdy;
            sdxhx += g * sdyx;
        }
        if (!dinp) continue;
        const float k1 = training ? (float)(sdxh / M) : 0.0f;
        const float k2 = training ? (float)(sdxhx / M) : 0.0f;
        for (int n = 0; n < N; n++) {
            const size_t nc = (size_t)n * C + c;
            const float g = 1.0f + (gain ? gain[nc] : 0.0f);
            const float *x = inp + nc * HW;
            const float *dy = dout + nc * HW;
            float *dx = dinp + nc * HW;
            GENREP__SIMD
            for (int i = 0; i < HW; i++) {
                float xhat = (x[i] - m) * r;
                dx[i] += r * (g * dy[i] - k1 - xhat * k2);
            }
        }
    }
    return GENREP_OK;
}

/* [ACT] ------------------------------------------------------------------- */
/* Element-wise; each element is independent, so any split is deterministic. */

static genrep_status genrep__check_ew(const char *fn, const void *a, const char *an, const void *b,
                                      const char *bn, const void *c, const char *cn, size_t n) {
    if (!a) return genrep__fail(GENREP_ERR_ARG, "%s: argument '%s' is NULL", fn, an);
    if (!b) return genrep__fail(GENREP_ERR_ARG, "%s: argument '%s' is NULL", fn, bn);
    if (cn && !c) return genrep__fail(GENREP_ERR_ARG, "%s: argument '%s' is NULL", fn, cn);
    if (n == 0) return genrep__fail(GENREP_ERR_ARG, "%s: 'n' must be > 0, got 0", fn);
    return GENREP_OK;
}
#define GENREP__CHECK_EW2(a, b, n) do { genrep_status s_ = genrep__check_ew(__func__, a, #a, b, #b, NULL, NULL, n); if (s_) return s_; } while (0)
#define GENREP__CHECK_EW3(a, b, c, n) do { genrep_status s_ = genrep__check_ew(__func__, a, #a, b, #b, c, #c, n); if (s_) return s_; } while (0)

/* out = max(inp, 0); NaN passes through as in PyTorch's clamp. */
GENREP_API genrep_status genrep_relu_forward(float *out, const float *inp, size_t n) {
    GENREP__CHECK_EW2(out, inp, n);
    GENREP__EWFOR(n)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] < 0.0f ? 0.0f : inp[i];
    return GENREP_OK;
}
/* dinp += dout where inp > 0 (the gradient at 0 is 0, as PyTorch). */
GENREP_API genrep_status genrep_relu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    GENREP__CHECK_EW3(dinp, dout, inp, n);
    GENREP__EWFOR(n)
    for (size_t i = 0; i < n; i++) { float g = dout[i]; dinp[i] += inp[i] > 0.0f ? g : 0.0f; }
    return GENREP_OK;
}
/* out = inp > 0 ? inp : slope * inp (NaN stays NaN) */
GENREP_API genrep_status genrep_leaky_relu_forward(float *out, const float *inp, float slope, size_t n) {
    GENREP__CHECK_EW2(out, inp, n);
    GENREP__EWFOR(n)
    for (size_t i = 0; i < n; i++) {
        /* two selects then one multiply-add: GCC if-converts (vectorises) this
           form; the plain ternary with a multiply in one arm stays a branch */
        float x = inp[i], pos = x > 0.0f ? x : 0.0f, neg = x > 0.0f ? 0.0f : x;
        out[i] = pos + neg * slope;
    }
    return GENREP_OK;
}
GENREP_API genrep_status genrep_leaky_relu_backward(float *dinp, const float *dout, const float *inp,
                                                    float slope, size_t n) {
    GENREP__CHECK_EW3(dinp, dout, inp, n);
    GENREP__EWFOR(n)
    for (size_t i = 0; i < n; i++) {
        float g = dout[i], pos = inp[i] > 0.0f ? g : 0.0f, neg = inp[i] > 0.0f ? 0.0f : g;
        dinp[i] += pos + neg * slope;
    }
    return GENREP_OK;
}
GENREP_API genrep_status genrep_tanh_forward(float *out, const float *inp, size_t n) {
    GENREP__CHECK_EW2(out, inp, n);
    GENREP__LPARFOR(n) /* no simd: libm calls do not vectorise (clang would warn) */
    for (size_t i = 0; i < n; i++) out[i] = tanhf(inp[i]);
    return GENREP_OK;
}
/* d tanh = 1 - tanh^2, from the forward output */
GENREP_API genrep_status genrep_tanh_backward(float *dinp, const float *dout, const float *out, size_t n) {
    GENREP__CHECK_EW3(dinp, dout, out, n);
    GENREP__EWFOR(n)
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * (1.0f - out[i] * out[i]);
    return GENREP_OK;
}
/* 1 / (1 + exp(-x)): exp overflows to inf for x < -88 and the result is 0, never NaN. */
GENREP_API genrep_status genrep_sigmoid_forward(float *out, const float *inp, size_t n) {
    GENREP__CHECK_EW2(out, inp, n);
    GENREP__LPARFOR(n) /* no simd: libm call */
    for (size_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-inp[i]));
    return GENREP_OK;
}
/* d sigmoid = s * (1 - s), from the forward output */
GENREP_API genrep_status genrep_sigmoid_backward(float *dinp, const float *dout, const float *out, size_t n) {
    GENREP__CHECK_EW3(dinp, dout, out, n);
    GENREP__EWFOR(n)
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * out[i] * (1.0f - out[i]);
    return GENREP_OK;
}

/* [RESIDUAL] -------------------------------------------------------------- */

GENREP_API genrep_status genrep_add_forward(float *out, const float *a, const float *b, size_t n) {
    GENREP__CHECK_EW3(out, a, b, n);
    GENREP__EWFOR(n)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
    return GENREP_OK;
}
/* da += dout, db += dout; either may be NULL (but not both: then nothing is asked). */
GENREP_API genrep_status genrep_add_backward(float *da, float *db, const float *dout, size_t n) {
    GENREP__CHECK_PTR(dout);
    GENREP__CHECK_POS(n);
    if (da) {
        GENREP__EWFOR(n)
        for (size_t i = 0; i < n; i++) da[i] += dout[i];
    }
    if (db) {
        GENREP__EWFOR(n)
        for (size_t i = 0; i < n; i++) db[i] += dout[i];
    }
    return GENREP_OK;
}

/* [POOL] ------------------------------------------------------------------ */

/* out[n,c] = mean over the HW values of plane (n,c), summed in double. */
GENREP_API genrep_status genrep_avgpool_forward(float *out, const float *inp, int N, int C, int HW) {
    GENREP__CHECK_PTR(out); GENREP__CHECK_PTR(inp);
    GENREP__CHECK_POS(N); GENREP__CHECK_POS(C); GENREP__CHECK_POS(HW);
    const int64_t planes = (int64_t)N * C;
    GENREP__LPARFOR((size_t)planes * HW)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *x = inp + pl * HW;
        double s = 0.0;
        for (int i = 0; i < HW; i++) s += x[i];
        out[pl] = (float)(s / HW);
    }
    return GENREP_OK;
}
/* dinp[n,c,:] += dout[n,c] / HW */
GENREP_API genrep_status genrep_avgpool_backward(float *dinp, const float *dout, int N, int C, int HW) {
    GENREP__CHECK_PTR(dinp); GENREP__CHECK_PTR(dout);
    GENREP__CHECK_POS(N); GENREP__CHECK_POS(C); GENREP__CHECK_POS(HW);
    const int64_t planes = (int64_t)N * C;
    GENREP__LPARFOR((size_t)planes * HW)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float g = dout[pl] / (float)HW;
        float *dx = dinp + pl * HW;
        GENREP__SIMD
        for (int i = 0; i < HW; i++) dx[i] += g;
    }
    return GENREP_OK;
}

/* Sizes check for max pool; PyTorch's rules: k, s > 0, 0 <= p <= k/2,
   output at least 1x1 (floor mode, dilation 1). */
static genrep_status genrep__maxpool_check(const char *fn, int N, int C, int H, int W, int k, int s, int p,
                                           int *P, int *Q) {
    if (N <= 0 || C <= 0 || H <= 0 || W <= 0)
        return genrep__fail(GENREP_ERR_ARG, "%s: N, C, H, W must be > 0, got %d %d %d %d", fn, N, C, H, W);
    if (k <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: kernel 'k' must be > 0, got %d", fn, k);
    if (s <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: stride 's' must be > 0, got %d", fn, s);
    if (p < 0 || p > k / 2)
        return genrep__fail(GENREP_ERR_ARG, "%s: padding 'p' must be in [0, k/2] = [0, %d], got %d", fn, k / 2, p);
    if (H + 2 * p < k || W + 2 * p < k)
        return genrep__fail(GENREP_ERR_SHAPE, "%s: kernel %d larger than padded input %dx%d", fn, k,
                            H + 2 * p, W + 2 * p);
    *P = (H + 2 * p - k) / s + 1;
    *Q = (W + 2 * p - k) / s + 1;
    return GENREP_OK;
}

/* out (N,C,P,Q) = max over the k x k window at (ph*s - p, qw*s - p), padded
   cells left out; argmax = flat h*W + w of the first maximum in row-major
   window order. As PyTorch, a NaN wins (and stays). */
GENREP_API genrep_status genrep_maxpool_forward(float *out, int32_t *argmax, const float *inp,
                                                int N, int C, int H, int W, int k, int s, int p) {
    GENREP__CHECK_PTR(out); GENREP__CHECK_PTR(argmax); GENREP__CHECK_PTR(inp);
    int P, Q;
    genrep_status st = genrep__maxpool_check(__func__, N, C, H, W, k, s, p, &P, &Q);
    if (st) return st;
    const int64_t planes = (int64_t)N * C;
    GENREP__LPARFOR((size_t)planes * P * Q * k * k)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *x = inp + pl * H * W;
        float *y = out + pl * P * Q;
        int32_t *am = argmax + pl * P * Q;
        for (int ph = 0; ph < P; ph++) {
            int h0 = ph * s - p, h1 = h0 + k;
            if (h0 < 0) h0 = 0;
            if (h1 > H) h1 = H;
            for (int qw = 0; qw < Q; qw++) {
                int w0 = qw * s - p, w1 = w0 + k;
                if (w0 < 0) w0 = 0;
                if (w1 > W) w1 = W;
                float best = -INFINITY;
                int32_t bi = h0 * W + w0;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) {
                        float v = x[h * W + w];
                        if (v > best || v != v) { best = v; bi = h * W + w; }
                    }
                y[ph * Q + qw] = best;
                am[ph * Q + qw] = bi;
            }
        }
    }
    return GENREP_OK;
}

/* dinp[n,c,argmax] += dout; planes in parallel, each plane in order. */
GENREP_API genrep_status genrep_maxpool_backward(float *dinp, const float *dout, const int32_t *argmax,
                                                 int N, int C, int H, int W, int k, int s, int p) {
    GENREP__CHECK_PTR(dinp); GENREP__CHECK_PTR(dout); GENREP__CHECK_PTR(argmax);
    int P, Q;
    genrep_status st = genrep__maxpool_check(__func__, N, C, H, W, k, s, p, &P, &Q);
    if (st) return st;
    const int64_t planes = (int64_t)N * C, PQ = (int64_t)P * Q;
    /* a bad cache would write out of bounds: check it all before writing */
    for (int64_t i = 0; i < planes * PQ; i++)
        if (argmax[i] < 0 || argmax[i] >= H * W)
            return genrep__fail(GENREP_ERR_ARG, "%s: argmax[%lld] = %d outside [0, H*W=%d)", __func__,
                                (long long)i, (int)argmax[i], H * W);
    GENREP__LPARFOR((size_t)planes * PQ)
    for (int64_t pl = 0; pl < planes; pl++) {
        float *dx = dinp + pl * H * W;
        const float *dy = dout + pl * PQ;
        const int32_t *am = argmax + pl * PQ;
        for (int64_t i = 0; i < PQ; i++) dx[am[i]] += dy[i];
    }
    return GENREP_OK;
}

/* [UPSAMPLE] -------------------------------------------------------------- */

/* out[n,c,y,x] = inp[n,c,y/2,x/2] */
GENREP_API genrep_status genrep_upsample2x_forward(float *out, const float *inp, int N, int C, int H, int W) {
    GENREP__CHECK_PTR(out); GENREP__CHECK_PTR(inp);
    GENREP__CHECK_POS(N); GENREP__CHECK_POS(C); GENREP__CHECK_POS(H); GENREP__CHECK_POS(W);
    const int64_t planes = (int64_t)N * C;
    GENREP__LPARFOR((size_t)planes * H * W * 4)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *x = inp + pl * H * W;
        float *y = out + pl * 4 * H * W;
        for (int h = 0; h < H; h++) {
            float *r0 = y + (size_t)(2 * h) * 2 * W, *r1 = r0 + 2 * W;
            for (int w = 0; w < W; w++) {
                float v = x[h * W + w];
                r0[2 * w] = v; r0[2 * w + 1] = v;
            }
            memcpy(r1, r0, sizeof(float) * 2 * W);
        }
    }
    return GENREP_OK;
}
/* dinp[n,c,h,w] += sum of the 2x2 block of dout it was copied to */
GENREP_API genrep_status genrep_upsample2x_backward(float *dinp, const float *dout, int N, int C, int H, int W) {
    GENREP__CHECK_PTR(dinp); GENREP__CHECK_PTR(dout);
    GENREP__CHECK_POS(N); GENREP__CHECK_POS(C); GENREP__CHECK_POS(H); GENREP__CHECK_POS(W);
    const int64_t planes = (int64_t)N * C;
    GENREP__LPARFOR((size_t)planes * H * W * 4)
    for (int64_t pl = 0; pl < planes; pl++) {
        float *dx = dinp + pl * H * W;
        const float *dy = dout + pl * 4 * H * W;
        for (int h = 0; h < H; h++) {
            const float *r0 = dy + (size_t)(2 * h) * 2 * W, *r1 = r0 + 2 * W;
            for (int w = 0; w < W; w++)
                dx[h * W + w] += (r0[2 * w] + r0[2 * w + 1]) + (r1[2 * w] + r1[2 * w + 1]);
        }
    }
    return GENREP_OK;
}

/* [EMBED] ----------------------------------------------------------------- */

static genrep_status genrep__embed_check(const char *fn, const int32_t *idx, int B, int V, int D) {
    if (B <= 0 || V <= 0 || D <= 0)
        return genrep__fail(GENREP_ERR_ARG, "%s: B, V, D must be > 0, got %d %d %d", fn, B, V, D);
    for (int b = 0; b < B; b++)
        if (idx[b] < 0 || idx[b] >= V)
            return genrep__fail(GENREP_ERR_ARG, "%s: idx[%d] = %d outside [0, V=%d)", fn, b, (int)idx[b], V);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_embedding_forward(float *out, const int32_t *idx, const float *table,
                                                  int B, int V, int D) {
    GENREP__CHECK_PTR(out); GENREP__CHECK_PTR(idx); GENREP__CHECK_PTR(table);
    genrep_status st = genrep__embed_check(__func__, idx, B, V, D);
    if (st) return st;
    for (int b = 0; b < B; b++)
        memcpy(out + (size_t)b * D, table + (size_t)idx[b] * D, sizeof(float) * D);
    return GENREP_OK;
}
/* Sequential over b: repeated indices add up in batch order (deterministic). */
GENREP_API genrep_status genrep_embedding_backward(float *dtable, const float *dout, const int32_t *idx,
                                                   int B, int V, int D) {
    GENREP__CHECK_PTR(dtable); GENREP__CHECK_PTR(dout); GENREP__CHECK_PTR(idx);
    genrep_status st = genrep__embed_check(__func__, idx, B, V, D);
    if (st) return st;
    for (int b = 0; b < B; b++) {
        float *dt = dtable + (size_t)idx[b] * D;
        const float *dy = dout + (size_t)b * D;
        GENREP__SIMD
        for (int d = 0; d < D; d++) dt[d] += dy[d];
    }
    return GENREP_OK;
}

/* [L2NORM] ---------------------------------------------------------------- */

/* norm[b] = max(||inp[b]||, eps) (the 2-norm summed in double);
   out[b] = inp[b] / norm[b]. */
GENREP_API genrep_status genrep_l2norm_forward(float *out, float *norm, const float *inp, int B, int D, float eps) {
    GENREP__CHECK_PTR(out); GENREP__CHECK_PTR(norm); GENREP__CHECK_PTR(inp);
    GENREP__CHECK_POS(B); GENREP__CHECK_POS(D); GENREP__CHECK_FPOS(eps);
    GENREP__LPARFOR((size_t)B * D)
    for (int b = 0; b < B; b++) {
        const float *x = inp + (size_t)b * D;
        float *y = out + (size_t)b * D;
        double ss = 0.0;
        for (int d = 0; d < D; d++) ss += (double)x[d] * x[d];
        float nb = (float)sqrt(ss);
        if (!(nb >= eps)) nb = eps; /* clamp_min(eps) */
        norm[b] = nb;
        GENREP__SIMD
        for (int d = 0; d < D; d++) y[d] = x[d] / nb;
    }
    return GENREP_OK;
}
/* Unclamped rows (||x|| >= eps): dx = (dout - out * <out, dout>) / norm.
   Clamped rows (||x|| < eps, norm = eps): out = x / eps is linear, dx = dout / eps.
   The two are told apart by ||out||: 1 (to rounding) unless clamped, so rows
   with ||x|| within 1e-4 relative of eps count as unclamped (the gradient
   jumps there anyway). */
GENREP_API genrep_status genrep_l2norm_backward(float *dinp, const float *dout, const float *out,
                                                const float *norm, int B, int D) {
    GENREP__CHECK_PTR(dinp); GENREP__CHECK_PTR(dout); GENREP__CHECK_PTR(out); GENREP__CHECK_PTR(norm);
    GENREP__CHECK_POS(B); GENREP__CHECK_POS(D);
    GENREP__LPARFOR((size_t)B * D)
    for (int b = 0; b < B; b++) {
        const float *y = out + (size_t)b * D, *dy = dout + (size_t)b * D;
        float *dx = dinp + (size_t)b * D;
        double yy = 0.0, ydy = 0.0;
        for (int d = 0; d < D; d++) { yy += (double)y[d] * y[d]; ydy += (double)y[d] * dy[d]; }
        const float inv = 1.0f / norm[b];
        const float proj = yy < 1.0 - 2e-4 ? 0.0f : (float)ydy; /* clamped rows: no projection */
        GENREP__SIMD
        for (int d = 0; d < D; d++) dx[d] += (dy[d] - y[d] * proj) * inv;
    }
    return GENREP_OK;
}

/* [XENT] ------------------------------------------------------------------ */

/* probs[b] = softmax(logits[b]) (max subtracted first); *loss = mean over b
   of logsumexp(logits[b]) - logits[b, t], in double. Sequential over rows so
   the loss sum has one order (the op is tiny next to the encoder). */
GENREP_API genrep_status genrep_softmax_xent_forward(float *loss, float *probs, const float *logits,
                                                     const int32_t *targets, int B, int V) {
    GENREP__CHECK_PTR(loss); GENREP__CHECK_PTR(probs); GENREP__CHECK_PTR(logits); GENREP__CHECK_PTR(targets);
    GENREP__CHECK_POS(B); GENREP__CHECK_POS(V);
    for (int b = 0; b < B; b++)
        if (targets[b] < 0 || targets[b] >= V)
            return genrep__fail(GENREP_ERR_ARG, "%s: targets[%d] = %d outside [0, V=%d)", __func__, b,
                                (int)targets[b], V);
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * V;
        float *pr = probs + (size_t)b * V;
        float mx = z[0];
        for (int v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
        double sum = 0.0;
        for (int v = 0; v < V; v++) { pr[v] = expf(z[v] - mx); sum += pr[v]; }
        const float inv = (float)(1.0 / sum);
        for (int v = 0; v < V; v++) pr[v] *= inv;
        total += (double)mx + log(sum) - (double)z[targets[b]];
    }
    *loss = (float)(total / B);
    return GENREP_OK;
}
/* dlogits[b] += dloss * (probs[b] - onehot(targets[b])) / B */
GENREP_API genrep_status genrep_softmax_xent_backward(float *dlogits, const float *probs,
                                                      const int32_t *targets, int B, int V, float dloss) {
    GENREP__CHECK_PTR(dlogits); GENREP__CHECK_PTR(probs); GENREP__CHECK_PTR(targets);
    GENREP__CHECK_POS(B); GENREP__CHECK_POS(V);
    for (int b = 0; b < B; b++)
        if (targets[b] < 0 || targets[b] >= V)
            return genrep__fail(GENREP_ERR_ARG, "%s: targets[%d] = %d outside [0, V=%d)", __func__, b,
                                (int)targets[b], V);
    const float s = dloss / (float)B;
    GENREP__LPARFOR((size_t)B * V)
    for (int b = 0; b < B; b++) {
        const float *pr = probs + (size_t)b * V;
        float *dz = dlogits + (size_t)b * V;
        for (int v = 0; v < V; v++) dz[v] += s * (pr[v] - (v == targets[b] ? 1.0f : 0.0f));
    }
    return GENREP_OK;
}

/* --------------------------------------------------------------- [OPTIM] */
/* Element-wise updates in float, in the operation order of PyTorch's
   single-tensor CPU implementations (scalars computed in double as Python
   does, then rounded to float), so results agree with torch.optim to an ulp
   or so per step. */

/* torch.optim.SGD (dampening 0, maximize False):
     g = grad + wd * p
     buf = step == 1 ? g : momentum * buf + g      (only when momentum != 0)
     g = nesterov ? g + momentum * buf : buf
     p = p - lr * g
   buf may be NULL when momentum == 0; step 1 ignores (zeroes) its content. */
GENREP_API genrep_status genrep_sgd_step(float *params, float *buf, const float *grads, size_t n,
                                         const genrep_sgd_config *cfg, int64_t step) {
    GENREP__CHECK_PTR(params); GENREP__CHECK_PTR(grads); GENREP__CHECK_PTR(cfg);
    GENREP__CHECK_POS(n); GENREP__CHECK_POS(step);
    const float lr = cfg->lr, mu = cfg->momentum, wd = cfg->weight_decay;
    if (!(lr >= 0.0f) || isinf(lr)) return genrep__fail(GENREP_ERR_ARG, "%s: 'cfg->lr' must be finite and >= 0, got %g", __func__, (double)lr);
    if (!(mu >= 0.0f) || isinf(mu)) return genrep__fail(GENREP_ERR_ARG, "%s: 'cfg->momentum' must be finite and >= 0, got %g", __func__, (double)mu);
    if (!(wd >= 0.0f) || isinf(wd)) return genrep__fail(GENREP_ERR_ARG, "%s: 'cfg->weight_decay' must be finite and >= 0, got %g", __func__, (double)wd);
    if (cfg->nesterov && mu <= 0.0f)
        return genrep__fail(GENREP_ERR_ARG, "%s: nesterov needs cfg->momentum > 0", __func__);
    if (mu != 0.0f && !buf) return genrep__fail(GENREP_ERR_ARG, "%s: argument 'buf' is NULL (needed when momentum != 0)", __func__);
    /* Step 1 starts from fresh state whatever buf holds: with buf = 0,
       "momentum*buf + g" is exactly torch's "buf = g". The mode tests are
       hoisted out of the loops so each loop is straight code the compiler
       vectorises; "g + wd*p" with wd = 0 is exactly g for finite p. */
    if (step == 1 && mu != 0.0f) memset(buf, 0, n * sizeof(float));
    if (mu == 0.0f) {
        GENREP__EWFOR(n)
        for (size_t i = 0; i < n; i++) {
            float g = grads[i] + wd * params[i];
            params[i] = params[i] - lr * g;
        }
    } else if (!cfg->nesterov) {
        GENREP__EWFOR(n)
        for (size_t i = 0; i < n; i++) {
            float g = grads[i] + wd * params[i];
            float b = buf[i] * mu + g;
            buf[i] = b;
            params[i] = params[i] - lr * b;
        }
    } else {
        GENREP__EWFOR(n)
        for (size_t i = 0; i < n; i++) {
            float g = grads[i] + wd * params[i];
            float b = buf[i] * mu + g;
            buf[i] = b;
            params[i] = params[i] - lr * (g + mu * b);
        }
    }
    return GENREP_OK;
}

/* torch.optim.Adam / AdamW (amsgrad False):
     Adam:  g = grad + wd * p          AdamW: p = p * (1 - lr * wd)
     m = beta1 * m + (1 - beta1) * g    (torch >= 2.0 writes this as a lerp; same to an ulp)
     v = beta2 * v + (1 - beta2) * g * g
     p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
   Step 1 zeroes m and v first (torch's fresh state). */
GENREP_API genrep_status genrep_adam_step(float *params, float *m, float *v, const float *grads, size_t n,
                                          const genrep_adam_config *cfg, int64_t step) {
    GENREP__CHECK_PTR(params); GENREP__CHECK_PTR(m); GENREP__CHECK_PTR(v);
    GENREP__CHECK_PTR(grads); GENREP__CHECK_PTR(cfg);
    GENREP__CHECK_POS(n); GENREP__CHECK_POS(step);
    const float lr = cfg->lr, b1 = cfg->beta1, b2 = cfg->beta2, eps = cfg->eps, wd = cfg->weight_decay;
    if (!(lr >= 0.0f) || isinf(lr)) return genrep__fail(GENREP_ERR_ARG, "%s: 'cfg->lr' must be finite and >= 0, got %g", __func__, (double)lr);
    if (!(b1 >= 0.0f && b1 < 1.0f)) return genrep__fail(GENREP_ERR_ARG, "%s: 'cfg->beta1' must be in [0, 1), got %g", __func__, (double)b1);
    if (!(b2 >= 0.0f && b2 < 1.0f)) return genrep__fail(GENREP_ERR_ARG, "%s: 'cfg->beta2' must be in [0, 1), got %g", __func__, (double)b2);
    if (!(eps >= 0.0f) || isinf(eps)) return genrep__fail(GENREP_ERR_ARG, "%s: 'cfg->eps' must be finite and >= 0, got %g", __func__, (double)eps);
    if (!(wd >= 0.0f) || isinf(wd)) return genrep__fail(GENREP_ERR_ARG, "%s: 'cfg->weight_decay' must be finite and >= 0, got %g", __func__, (double)wd);
    /* scalars in double, as PyTorch computes them in Python */
    const double t = (double)step;
    const float step_size = (float)((double)lr / (1.0 - pow((double)b1, t)));
    const float bc2_sqrt = (float)sqrt(1.0 - pow((double)b2, t));
    const float w1 = (float)(1.0 - (double)b1), w2 = (float)(1.0 - (double)b2);
    const float decay = (float)(1.0 - (double)lr * wd); /* AdamW's multiplicative decay */
    /* Adam's L2 term "g + wd*p" and AdamW's "p * (1 - lr*wd)" are exact
       no-ops for wd = 0 and finite p, so only the mode is tested, outside
       the loop. sqrtf keeps these loops scalar at -O2 (errno); the update is
       a few ns per parameter, small next to a training step. */
    if (step == 1) { /* fresh state, as torch creates it */
        memset(m, 0, n * sizeof(float));
        memset(v, 0, n * sizeof(float));
    }
    if (cfg->decoupled) {
        GENREP__LPARFOR(n) /* no simd: sqrtf */
        for (size_t i = 0; i < n; i++) {
            float p = params[i] * decay, g = grads[i];
            float mi = m[i] * b1 + w1 * g, vi = v[i] * b2 + w2 * g * g;
            m[i] = mi; v[i] = vi;
            params[i] = p + (-step_size * mi) / (sqrtf(vi) / bc2_sqrt + eps);
        }
    } else {
        GENREP__LPARFOR(n) /* no simd: sqrtf */
        for (size_t i = 0; i < n; i++) {
            float p = params[i], g = grads[i] + wd * p;
            float mi = m[i] * b1 + w1 * g, vi = v[i] * b2 + w2 * g * g;
            m[i] = mi; v[i] = vi;
            params[i] = p + (-step_size * mi) / (sqrtf(vi) / bc2_sqrt + eps);
        }
    }
    return GENREP_OK;
}

/* warm-up: base_lr * (step + 1) / warmup for step < warmup; then
   min_lr + (base_lr - min_lr) * (1 + cos(pi * r)) / 2 with
   r = (step - warmup) / (total - warmup), so lr = base_lr at step = warmup
   and min_lr from step = total on. Bad arguments (step < 0, warmup < 0,
   total <= 0) give NaN, which the optimisers reject. */
GENREP_API float genrep_cosine_lr(float base_lr, float min_lr, int64_t step, int64_t warmup, int64_t total) {
    if (step < 0 || warmup < 0 || total <= 0) {
        genrep__fail(GENREP_ERR_ARG, "%s: need step >= 0, warmup >= 0, total > 0; got %lld %lld %lld", __func__,
                     (long long)step, (long long)warmup, (long long)total);
        return NAN;
    }
    if (step < warmup) return (float)((double)base_lr * (double)(step + 1) / (double)warmup);
    if (step >= total) return min_lr;
    double r = (double)(step - warmup) / (double)(total - warmup);
    return (float)(min_lr + 0.5 * ((double)base_lr - min_lr) * (1.0 + cos(3.14159265358979323846 * r)));
}
