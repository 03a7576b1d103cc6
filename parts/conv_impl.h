/* parts/conv_impl.h: development fragment of genrep.h, inlined before release */

/* ----------------------------------------------------- [LINEAR] [CONV] [CONVT]
   The GEMM-backed layers. Each op has a plain scalar reference
   (genrep__*_ref: direct loops, the specification and the tests' oracle;
   static, so tests reach them by defining GENREP_IMPLEMENTATION in their own
   translation unit) and the fast path every public function takes:

     conv2d  forward   col = im2col(inp)             (C*R*S, nb*P*Q)
                       y   = weight (K, CRS) @ col    (K, nb*P*Q)  -> out (+bias)
             backward  dweight (K, CRS) += dout (K, nbPQ) @ col^T
                       dcol = weight^T @ dout,  dinp += col2im(dcol)
     convt2d forward   = conv2d backward-data: dcol = weight^T @ inp, out = col2im(dcol)
             backward  dinp = conv2d forward of dout with the same weight,
                       dweight (C, KRS) += inp (C, nbHW) @ im2col(dout)^T

   The batch is processed in chunks of nb images: one GEMM per chunk with
   N = nb*P*Q columns (wide N keeps the GEMM's packed panels busy), while
   the chunk's im2col matrix stays near genrep__conv_col_budget floats (4 MB)
   so it is still in the last-level cache when the GEMM packs it, and the
   workspace stays bounded (a single image larger than the budget still gets
   a chunk of 1). Measured (bench/RESULTS.md): one image per chunk, i.e.
   GEMMs with N = P*Q = 49..196, is 20-50% slower; bigger chunks are no
   faster. The GEMM's (K, nb*P*Q) result is not NCHW when nb > 1, so it
   lands in a second workspace slab and is scattered into out (with bias).

   Threads: conv2d forward with up to GENREP__CONV_SLOTS threads hands whole
   chunks to threads (one-thread GEMMs, no barriers); otherwise, and in every
   backward, chunks run in sequence and each stage (im2col, GEMM, col2im,
   scatter) is parallel inside.

   Determinism: im2col/col2im/gather/scatter parallelise over independent
   output rows or planes, each summed in a fixed order; chunk sizes do not
   depend on the thread count and gradient chunks are summed in sequence;
   dbias sums each channel in (n, p, q) order. So results do not depend on
   the thread count (given a GEMM that does not either: tests check 1 vs 2). */

#if defined(_OPENMP)
/* parallel for, skipped when the loop touches fewer than ~32k floats */
#define GENREP__CONV_PARFOR(work) GENREP__OMP(omp parallel for schedule(static) if((work) > 32768))
/* short inner loops: -O2's cheap vectoriser skips loops of unknown trip count */
#define GENREP__CONV_SIMD GENREP__OMP(omp simd)
#else
#define GENREP__CONV_PARFOR(work)
#define GENREP__CONV_SIMD
#endif
#if defined(__GNUC__)
#define GENREP__CONV_UNUSED __attribute__((unused))
#define GENREP__CONV_RESTRICT __restrict
#else
#define GENREP__CONV_UNUSED
#define GENREP__CONV_RESTRICT
#endif

/* Target size (floats) of one chunk's im2col matrix: 1 M floats = 4 MB.
   A variable, not a constant, so tests can force several (and ragged)
   chunks on small shapes and benches can compare chunk sizes; change it
   only before querying the workspace size. */
static GENREP__CONV_UNUSED size_t genrep__conv_col_budget = (size_t)1 << 20;
/* Workspace slots of conv2d forward: up to this many threads take whole
   chunks (more threads share each chunk's stages instead). A constant, so
   the workspace size does not depend on the thread count. */
#define GENREP__CONV_SLOTS 2

/* -------------------------------------------------------------- [LINEAR] */

/* out (B,OC) = inp (B,C) @ weight^T + bias: plain loops, float sum in c order. */
static GENREP__CONV_UNUSED void genrep__linear_forward_ref(float *out, const float *inp, const float *weight,
                                                          const float *bias, int B, int C, int OC) {
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OC; o++) {
            float acc = bias ? bias[o] : 0.0f;
            for (int c = 0; c < C; c++) acc += inp[(size_t)b * C + c] * weight[(size_t)o * C + c];
            out[(size_t)b * OC + o] = acc;
        }
}

static GENREP__CONV_UNUSED void genrep__linear_backward_ref(float *dinp, float *dweight, float *dbias,
                                                           const float *dout, const float *inp,
                                                           const float *weight, int B, int C, int OC) {
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OC; o++) {
            float g = dout[(size_t)b * OC + o];
            if (dbias) dbias[o] += g;
            for (int c = 0; c < C; c++) {
                if (dinp) dinp[(size_t)b * C + c] += g * weight[(size_t)o * C + c];
                if (dweight) dweight[(size_t)o * C + c] += g * inp[(size_t)b * C + c];
            }
        }
}

GENREP_API genrep_status genrep_linear_forward(float *out, const float *inp, const float *weight,
                                               const float *bias, int B, int C, int OC) {
    GENREP__CHECK_PTR(out); GENREP__CHECK_PTR(inp); GENREP__CHECK_PTR(weight);
    GENREP__CHECK_POS(B); GENREP__CHECK_POS(C); GENREP__CHECK_POS(OC);
    /* out = inp (B,C) @ weight^T (C,OC); then the bias row by row */
    genrep_status st = genrep_sgemm(0, 1, B, OC, C, 1.0f, inp, C, weight, C, 0.0f, out, OC);
    if (st) return st;
    if (bias) {
        GENREP__CONV_PARFOR((size_t)B * OC)
        for (int b = 0; b < B; b++)
            for (int o = 0; o < OC; o++) out[(size_t)b * OC + o] += bias[o];
    }
    return GENREP_OK;
}

GENREP_API genrep_status genrep_linear_backward(float *dinp, float *dweight, float *dbias,
                                                const float *dout, const float *inp,
                                                const float *weight, int B, int C, int OC) {
    GENREP__CHECK_PTR(dout);
    GENREP__CHECK_POS(B); GENREP__CHECK_POS(C); GENREP__CHECK_POS(OC);
    if (dinp) GENREP__CHECK_PTR(weight);
    if (dweight) GENREP__CHECK_PTR(inp);
    genrep_status st;
    /* dinp (B,C) += dout (B,OC) @ weight (OC,C) */
    if (dinp && (st = genrep_sgemm(0, 0, B, C, OC, 1.0f, dout, OC, weight, C, 1.0f, dinp, C))) return st;
    /* dweight (OC,C) += dout^T (OC,B) @ inp (B,C) */
    if (dweight && (st = genrep_sgemm(1, 0, OC, C, B, 1.0f, dout, OC, inp, C, 1.0f, dweight, C))) return st;
    if (dbias) {
        /* one channel per iteration, summed over b in order: thread-count independent */
        GENREP__CONV_PARFOR((size_t)B * OC)
        for (int o = 0; o < OC; o++) {
            float acc = 0.0f;
            for (int b = 0; b < B; b++) acc += dout[(size_t)b * OC + o];
            dbias[o] += acc;
        }
    }
    return GENREP_OK;
}

/* ---------------------------------------------------------------- [CONV] */

/* The geometry shared by conv2d and convt2d: an "image" side with ch
   channels of h x w, a "column" side of p x q positions, and the kernel
   r x s with its stride and padding. For conv2d the image is the input and
   the columns the output; for convt2d it is the other way round. */
typedef struct {
    int ch, h, w;       /* image plane */
    int r, s;           /* kernel */
    int sh, sw, ph, pw; /* stride, padding */
    int p, q;           /* column grid (conv output size) */
} genrep__col_geom;

/* im2col of nb images: col (ch*r*s, ld) with column i*p*q + y*q + x of row
   (c*r + kr)*s + ks holding img[i, c, y*sh - ph + kr, x*sw - pw + ks] (0 when
   outside). img holds nb contiguous (ch, h, w) images. */
static void genrep__im2col(float *col, size_t ld, const float *img, int nb, const genrep__col_geom *g) {
    const int rows = g->ch * g->r * g->s;
    const size_t pq = (size_t)g->p * g->q, hw = (size_t)g->h * g->w;
    GENREP__CONV_PARFOR((size_t)rows * nb * pq)
    for (int row = 0; row < rows; row++) {
        const int c = row / (g->r * g->s), kr = (row / g->s) % g->r, ks = row % g->s;
        /* valid x range: 0 <= x*sw - pw + ks < w */
        int x0 = 0, x1 = g->q;
        while (x0 < x1 && x0 * g->sw - g->pw + ks < 0) x0++;
        while (x1 > x0 && (x1 - 1) * g->sw - g->pw + ks >= g->w) x1--;
        /* stride 1 and q == w (a "same"-width conv): the valid part of
           this row is the input plane shifted by one offset, so it is one
           contiguous copy; then the columns that wrapped round are zeroed. */
        const int shifted = g->sh == 1 && g->sw == 1 && g->q == g->w;
        int y0 = 0, y1 = g->p;
        while (y0 < y1 && y0 * g->sh - g->ph + kr < 0) y0++;
        while (y1 > y0 && (y1 - 1) * g->sh - g->ph + kr >= g->h) y1--;
        for (int i = 0; i < nb; i++) {
            const float *src = img + (size_t)i * g->ch * hw + (size_t)c * hw;
            float *dst = col + (size_t)row * ld + (size_t)i * pq;
            if (shifted) {
                if (x0 >= x1 || y0 >= y1) { memset(dst, 0, sizeof(float) * pq); continue; }
                memset(dst, 0, sizeof(float) * (size_t)y0 * g->q);
                /* from (y0, x0) to (y1-1, x1-1) inclusive: never reads outside the plane */
                memcpy(dst + (size_t)y0 * g->q + x0, src + (size_t)(y0 - g->ph + kr) * g->w + x0 - g->pw + ks,
                       sizeof(float) * ((size_t)(y1 - 1 - y0) * g->q + (size_t)(x1 - x0)));
                for (int y = y0; y < y1; y++) {
                    float *d = dst + (size_t)y * g->q;
                    for (int x = 0; x < x0; x++) d[x] = 0.0f;
                    for (int x = x1; x < g->q; x++) d[x] = 0.0f;
                }
                memset(dst + (size_t)y1 * g->q, 0, sizeof(float) * (size_t)(g->p - y1) * g->q);
                continue;
            }
            for (int y = 0; y < g->p; y++, dst += g->q) {
                float *GENREP__CONV_RESTRICT d = dst;
                if (y < y0 || y >= y1) { memset(d, 0, sizeof(float) * (size_t)g->q); continue; }
                const float *GENREP__CONV_RESTRICT srow = src + (size_t)(y * g->sh - g->ph + kr) * g->w - g->pw + ks;
                for (int x = 0; x < x0; x++) d[x] = 0.0f;
                if (g->sw == 1) {
                    GENREP__CONV_SIMD
                    for (int x = x0; x < x1; x++) d[x] = srow[x];
                } else {
                    for (int x = x0; x < x1; x++) d[x] = srow[(size_t)x * g->sw];
                }
                for (int x = x1; x < g->q; x++) d[x] = 0.0f;
            }
        }
    }
}

/* col2im, the adjoint of im2col: img[i, c, :, :] += every column entry that
   im2col would have read from it. One (image, channel) plane per iteration
   and a fixed (kr, ks, y, x) order inside, so no races and no thread-count
   dependent sums. col is scratch: the shifted case below zeroes entries of it. */
static void genrep__col2im_add(float *img, float *col, size_t ld, int nb, const genrep__col_geom *g) {
    const size_t pq = (size_t)g->p * g->q, hw = (size_t)g->h * g->w;
    const int planes = nb * g->ch;
    const int shifted = g->sh == 1 && g->sw == 1 && g->q == g->w; /* as in im2col */
    GENREP__CONV_PARFOR((size_t)planes * g->r * g->s * pq)
    for (int pl = 0; pl < planes; pl++) {
        const int i = pl / g->ch, c = pl % g->ch;
        float *dst = img + (size_t)pl * hw;
        for (int kr = 0; kr < g->r; kr++)
            for (int ks = 0; ks < g->s; ks++) {
                float *src = col + (size_t)((c * g->r + kr) * g->s + ks) * ld + (size_t)i * pq;
                int x0 = 0, x1 = g->q, y0 = 0, y1 = g->p;
                while (x0 < x1 && x0 * g->sw - g->pw + ks < 0) x0++;
                while (x1 > x0 && (x1 - 1) * g->sw - g->pw + ks >= g->w) x1--;
                while (y0 < y1 && y0 * g->sh - g->ph + kr < 0) y0++;
                while (y1 > y0 && (y1 - 1) * g->sh - g->ph + kr >= g->h) y1--;
                if (x0 >= x1 || y0 >= y1) continue;
                if (shifted) {
                    /* zero the entries that fall outside the image, then add
                       the whole span (y0, x0) .. (y1-1, x1-1) as one shifted
                       vector: the zeroed entries land on neighbouring rows
                       and add nothing */
                    for (int y = y0; y < y1; y++) {
                        float *srow = src + (size_t)y * g->q;
                        for (int x = 0; x < x0; x++) srow[x] = 0.0f;
                        for (int x = x1; x < g->q; x++) srow[x] = 0.0f;
                    }
                    const size_t j0 = (size_t)y0 * g->q + x0, j1 = (size_t)(y1 - 1) * g->q + x1;
                    /* (y0, x0) of col is pixel (y0 - ph + kr, x0 - pw + ks) >= (0, 0) of the plane */
                    float *GENREP__CONV_RESTRICT d = dst + (size_t)(y0 - g->ph + kr) * g->w + (x0 - g->pw + ks);
                    const float *GENREP__CONV_RESTRICT s = src + j0;
                    GENREP__CONV_SIMD
                    for (size_t j = 0; j < j1 - j0; j++) d[j] += s[j];
                    continue;
                }
                for (int y = y0; y < y1; y++) {
                    float *GENREP__CONV_RESTRICT drow = dst + (size_t)(y * g->sh - g->ph + kr) * g->w - g->pw + ks;
                    const float *GENREP__CONV_RESTRICT srow = src + (size_t)y * g->q;
                    if (g->sw == 1) {
                        GENREP__CONV_SIMD
                        for (int x = x0; x < x1; x++) drow[x] += srow[x];
                    } else {
                        for (int x = x0; x < x1; x++) drow[(size_t)x * g->sw] += srow[x];
                    }
                }
            }
    }
}

/* nb images (ch, n) contiguous <-> one (ch, nb*n) matrix (the GEMM layout). */
static void genrep__chunk_gather(float *dst, const float *src, int nb, int ch, size_t n) {
    GENREP__CONV_PARFOR((size_t)nb * ch * n)
    for (int c = 0; c < ch; c++)
        for (int i = 0; i < nb; i++)
            memcpy(dst + ((size_t)c * nb + i) * n, src + ((size_t)i * ch + c) * n, sizeof(float) * n);
}
/* dst images (nb, ch, n) (op) src (ch, nb*n): accumulate ? += : =, then + bias[c] if bias. */
static void genrep__chunk_scatter(float *dst, const float *src, const float *bias, int accumulate,
                                  int nb, int ch, size_t n) {
    GENREP__CONV_PARFOR((size_t)nb * ch * n)
    for (int pl = 0; pl < nb * ch; pl++) {
        const int i = pl / ch, c = pl % ch;
        float *d = dst + (size_t)pl * n;
        const float *s = src + ((size_t)c * nb + i) * n;
        const float b = bias ? bias[c] : 0.0f;
        if (accumulate) for (size_t j = 0; j < n; j++) d[j] += s[j];
        else if (bias)  for (size_t j = 0; j < n; j++) d[j] = s[j] + b;
        else            memcpy(d, s, sizeof(float) * n);
    }
}

/* dbias[c] += sum over n and the plane of dout (N, ch, n); fixed order per channel. */
static void genrep__bias_grad(float *dbias, const float *dout, int N, int ch, size_t n) {
    GENREP__CONV_PARFOR((size_t)N * ch * n)
    for (int c = 0; c < ch; c++) {
        float acc = 0.0f;
        for (int i = 0; i < N; i++) {
            const float *s = dout + ((size_t)i * ch + c) * n;
            for (size_t j = 0; j < n; j++) acc += s[j];
        }
        dbias[c] += acc;
    }
}

/* Images per chunk: as many as keep rows x (nb*cols) within the budget, at least 1. */
static int genrep__conv_chunk(int N, size_t rows, size_t cols) {
    size_t per = rows * cols, nb = per ? genrep__conv_col_budget / per : (size_t)N;
    if (nb < 1) nb = 1;
    if (nb > (size_t)N) nb = (size_t)N;
    return (int)nb;
}

/* Workspace of the chunked scheme: the im2col matrix (rows, nb*cols) and,
   when nb > 1, the (other, nb*cols) GEMM operand that is not NCHW. */
static size_t genrep__conv_ws(int N, size_t rows, size_t other, size_t cols) {
    int nb = genrep__conv_chunk(N, rows, cols);
    return rows * nb * cols + (nb > 1 ? other * nb * cols : 0);
}

static genrep__col_geom genrep__conv2d_geom(const genrep_conv2d_desc *d) {
    genrep__col_geom g = { d->C, d->H, d->W, d->R, d->S, d->stride_h, d->stride_w,
                           d->pad_h, d->pad_w, d->P, d->Q };
    return g;
}

/* Shared checks of both descriptors' sizes. */
static genrep_status genrep__conv_check_sizes(const char *fn, int N, int C, int H, int W, int K, int R, int S,
                                              int sh, int sw, int ph, int pw) {
    if (N <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: 'N' must be > 0, got %d", fn, N);
    if (C <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: 'C' must be > 0, got %d", fn, C);
    if (H <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: 'H' must be > 0, got %d", fn, H);
    if (W <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: 'W' must be > 0, got %d", fn, W);
    if (K <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: 'K' must be > 0, got %d", fn, K);
    if (R <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: 'R' must be > 0, got %d", fn, R);
    if (S <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: 'S' must be > 0, got %d", fn, S);
    if (sh <= 0 || sw <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: 'stride' must be > 0, got %d x %d", fn, sh, sw);
    if (ph < 0 || pw < 0) return genrep__fail(GENREP_ERR_ARG, "%s: 'pad' must be >= 0, got %d x %d", fn, ph, pw);
    /* every GEMM dimension and plane index must fit an int */
    if ((int64_t)C * R * S > INT32_MAX / 4 || (int64_t)K * R * S > INT32_MAX / 4 || (int64_t)H * W > INT32_MAX / 4)
        return genrep__fail(GENREP_ERR_ARG, "%s: sizes too large", fn);
    return GENREP_OK;
}

/* A descriptor handed to forward/backward must be what _init produced. */
static genrep_status genrep__conv2d_check_desc(const char *fn, const genrep_conv2d_desc *d) {
    if (!d) return genrep__fail(GENREP_ERR_ARG, "%s: argument 'd' is NULL", fn);
    genrep_status st = genrep__conv_check_sizes(fn, d->N, d->C, d->H, d->W, d->K, d->R, d->S,
                                                d->stride_h, d->stride_w, d->pad_h, d->pad_w);
    if (st) return st;
    if (d->P != (d->H + 2 * d->pad_h - d->R) / d->stride_h + 1 || d->P <= 0 ||
        d->Q != (d->W + 2 * d->pad_w - d->S) / d->stride_w + 1 || d->Q <= 0)
        return genrep__fail(GENREP_ERR_SHAPE, "%s: descriptor P=%d Q=%d do not match its sizes (use genrep_conv2d_init)",
                            fn, d->P, d->Q);
    if ((int64_t)d->P * d->Q > INT32_MAX / 4) return genrep__fail(GENREP_ERR_ARG, "%s: output too large", fn);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_conv2d_init(genrep_conv2d_desc *d, int N, int C, int H, int W,
                                            int K, int R, int S, int stride, int pad) {
    GENREP__CHECK_PTR(d);
    genrep_status st = genrep__conv_check_sizes(__func__, N, C, H, W, K, R, S, stride, stride, pad, pad);
    if (st) return st;
    /* H + 2*pad - R < 0 would make C's truncating division round toward 0, so test before dividing */
    if (H + 2 * pad < R || W + 2 * pad < S)
        return genrep__fail(GENREP_ERR_SHAPE, "%s: kernel %dx%d larger than padded input %dx%d",
                            __func__, R, S, H + 2 * pad, W + 2 * pad);
    genrep_conv2d_desc t = { N, C, H, W, K, R, S, stride, stride, pad, pad,
                             (H + 2 * pad - R) / stride + 1, (W + 2 * pad - S) / stride + 1 };
    *d = t;
    return GENREP_OK;
}

/* A slab is col (CRS, nb*PQ) and, for nb > 1, a (K, nb*PQ) output /
   output-gradient matrix. Backward uses one slab; forward has up to
   GENREP__CONV_SLOTS so that threads can take whole chunks. */
GENREP_API size_t genrep_conv2d_workspace(const genrep_conv2d_desc *d) {
    if (genrep__conv2d_check_desc(__func__, d)) return 0;
    const size_t CRS = (size_t)d->C * d->R * d->S, PQ = (size_t)d->P * d->Q;
    const int nb = genrep__conv_chunk(d->N, CRS, PQ), nchunks = (d->N + nb - 1) / nb;
    const int slots = nchunks < GENREP__CONV_SLOTS ? nchunks : GENREP__CONV_SLOTS;
    return (size_t)slots * genrep__conv_ws(d->N, CRS, (size_t)d->K, PQ);
}

/* out (N,K,P,Q) = sum_{c,r,s} inp[n,c,p*sh-ph+r,q*sw-pw+s] * weight[k,c,r,s] + bias[k]. */
static GENREP__CONV_UNUSED void genrep__conv2d_forward_ref(float *out, const float *inp, const float *weight,
                                                          const float *bias, const genrep_conv2d_desc *d) {
    for (int n = 0; n < d->N; n++)
        for (int k = 0; k < d->K; k++)
            for (int p = 0; p < d->P; p++)
                for (int q = 0; q < d->Q; q++) {
                    float acc = bias ? bias[k] : 0.0f;
                    for (int c = 0; c < d->C; c++)
                        for (int r = 0; r < d->R; r++) {
                            int h = p * d->stride_h - d->pad_h + r;
                            if (h < 0 || h >= d->H) continue;
                            for (int s = 0; s < d->S; s++) {
                                int w = q * d->stride_w - d->pad_w + s;
                                if (w < 0 || w >= d->W) continue;
                                acc += inp[(((size_t)n * d->C + c) * d->H + h) * d->W + w] *
                                       weight[(((size_t)k * d->C + c) * d->R + r) * d->S + s];
                            }
                        }
                    out[(((size_t)n * d->K + k) * d->P + p) * d->Q + q] = acc;
                }
}

/* The adjoint of the loop above, term by term. */
static GENREP__CONV_UNUSED void genrep__conv2d_backward_ref(float *dinp, float *dweight, float *dbias,
                                                           const float *dout, const float *inp,
                                                           const float *weight, const genrep_conv2d_desc *d) {
    for (int n = 0; n < d->N; n++)
        for (int k = 0; k < d->K; k++)
            for (int p = 0; p < d->P; p++)
                for (int q = 0; q < d->Q; q++) {
                    float g = dout[(((size_t)n * d->K + k) * d->P + p) * d->Q + q];
                    if (dbias) dbias[k] += g;
                    for (int c = 0; c < d->C; c++)
                        for (int r = 0; r < d->R; r++) {
                            int h = p * d->stride_h - d->pad_h + r;
                            if (h < 0 || h >= d->H) continue;
                            for (int s = 0; s < d->S; s++) {
                                int w = q * d->stride_w - d->pad_w + s;
                                if (w < 0 || w >= d->W) continue;
                                size_t ii = (((size_t)n * d->C + c) * d->H + h) * d->W + w;
                                size_t wi = (((size_t)k * d->C + c) * d->R + r) * d->S + s;
                                if (dinp) dinp[ii] += g * weight[wi];
                                if (dweight) dweight[wi] += g * inp[ii];
                            }
                        }
                }
}

/* One chunk of the forward: images n0 .. n0+m-1, col and y are this chunk's slab. */
static genrep_status genrep__conv2d_forward_chunk(float *out, float *col, float *y, const float *inp,
                                                  const float *weight, const float *bias,
                                                  const genrep_conv2d_desc *d, const genrep__col_geom *g,
                                                  int n0, int m) {
    const int K = d->K, CRS = d->C * d->R * d->S;
    const size_t PQ = (size_t)d->P * d->Q, CHW = (size_t)d->C * d->H * d->W;
    const int cols = (int)(m * PQ);
    genrep__im2col(col, (size_t)cols, inp + (size_t)n0 * CHW, m, g);
    if (m == 1) {
        /* one image: the (K, PQ) product is already NCHW; bias first, GEMM adds onto it */
        float *o = out + (size_t)n0 * K * PQ;
        if (bias) for (int k = 0; k < K; k++) for (size_t j = 0; j < PQ; j++) o[(size_t)k * PQ + j] = bias[k];
        return genrep_sgemm(0, 0, K, cols, CRS, 1.0f, weight, CRS, col, cols, bias ? 1.0f : 0.0f, o, cols);
    }
    genrep_status st = genrep_sgemm(0, 0, K, cols, CRS, 1.0f, weight, CRS, col, cols, 0.0f, y, cols);
    if (st) return st;
    genrep__chunk_scatter(out + (size_t)n0 * K * PQ, y, bias, 0, m, K, PQ);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_conv2d_forward(float *out, float *ws, const float *inp,
                                               const float *weight, const float *bias,
                                               const genrep_conv2d_desc *d) {
    genrep_status st = genrep__conv2d_check_desc(__func__, d);
    if (st) return st;
    GENREP__CHECK_PTR(out); GENREP__CHECK_PTR(ws); GENREP__CHECK_PTR(inp); GENREP__CHECK_PTR(weight);
    const genrep__col_geom g = genrep__conv2d_geom(d);
    const int CRS = d->C * d->R * d->S;
    const size_t PQ = (size_t)d->P * d->Q;
    const int nb = genrep__conv_chunk(d->N, (size_t)CRS, PQ);
#ifdef _OPENMP
    /* With no more threads than workspace slots, whole chunks go to threads
       (chunk c to thread c % slots), each running im2col, a one-thread GEMM
       and the scatter in its own slab: no barrier inside the pass, which
       matters on a shared machine (bench/RESULTS.md: 10x under load), and
       each core reads back the im2col matrix it wrote. A chunk computes the
       same bits on any thread, so this is as deterministic as the serial loop. */
    const int nchunks = (d->N + nb - 1) / nb, nt = genrep_num_threads();
    const int slots = nchunks < GENREP__CONV_SLOTS ? nchunks : GENREP__CONV_SLOTS;
    const size_t slab = genrep__conv_ws(d->N, (size_t)CRS, (size_t)d->K, PQ);
    if (nt > 1 && nt <= slots && !omp_in_parallel()) {
        int fail = 0;
        #pragma omp parallel for schedule(static, 1) num_threads(slots) reduction(| : fail)
        for (int c = 0; c < nchunks; c++) {
            float *col = ws + (size_t)omp_get_thread_num() * slab, *y = col + (size_t)CRS * nb * PQ;
            const int n0 = c * nb, m = d->N - n0 < nb ? d->N - n0 : nb;
            if (!fail && genrep__conv2d_forward_chunk(out, col, y, inp, weight, bias, d, &g, n0, m)) fail = 1;
        }
        return fail ? genrep__fail(GENREP_ERR_NOMEM, "%s: GEMM failed (packing buffers)", __func__) : GENREP_OK;
    }
#endif
    /* otherwise chunks in sequence, each stage parallel inside */
    for (int n0 = 0; n0 < d->N; n0 += nb) {
        const int m = d->N - n0 < nb ? d->N - n0 : nb;
        st = genrep__conv2d_forward_chunk(out, ws, ws + (size_t)CRS * nb * PQ, inp, weight, bias, d, &g, n0, m);
        if (st) return st;
    }
    return GENREP_OK;
}

GENREP_API genrep_status genrep_conv2d_backward(float *dinp, float *dweight, float *dbias, float *ws,
                                                const float *dout, const float *inp,
                                                const float *weight, const genrep_conv2d_desc *d) {
    genrep_status st = genrep__conv2d_check_desc(__func__, d);
    if (st) return st;
    GENREP__CHECK_PTR(dout);
    if (dinp) GENREP__CHECK_PTR(weight);
    if (dweight) GENREP__CHECK_PTR(inp);
    if (dinp || dweight) GENREP__CHECK_PTR(ws);
    const genrep__col_geom g = genrep__conv2d_geom(d);
    const int K = d->K, CRS = d->C * d->R * d->S;
    const size_t PQ = (size_t)d->P * d->Q, CHW = (size_t)d->C * d->H * d->W;
    if (dbias) genrep__bias_grad(dbias, dout, d->N, K, PQ);
    if (!dinp && !dweight) return GENREP_OK;
    const int nb = genrep__conv_chunk(d->N, (size_t)CRS, PQ);
    float *col = ws, *dy = ws + (size_t)CRS * nb * PQ;
    for (int n0 = 0; n0 < d->N; n0 += nb) {
        const int m = d->N - n0 < nb ? d->N - n0 : nb;
        const int cols = (int)(m * PQ);
        /* dout chunk as one (K, m*PQ) matrix */
        const float *dyc = dout + (size_t)n0 * K * PQ;
        if (m > 1) { genrep__chunk_gather(dy, dyc, m, K, PQ); dyc = dy; }
        if (dweight) {
            /* dweight (K, CRS) += dout (K, cols) @ col^T (cols, CRS) */
            genrep__im2col(col, (size_t)cols, inp + (size_t)n0 * CHW, m, &g);
            st = genrep_sgemm(0, 1, K, CRS, cols, 1.0f, dyc, cols, col, cols, 1.0f, dweight, CRS);
            if (st) return st;
        }
        if (dinp) {
            /* dcol (CRS, cols) = weight^T (CRS, K) @ dout (K, cols), then scattered back */
            st = genrep_sgemm(1, 0, CRS, cols, K, 1.0f, weight, CRS, dyc, cols, 0.0f, col, cols);
            if (st) return st;
            genrep__col2im_add(dinp + (size_t)n0 * CHW, col, (size_t)cols, m, &g);
        }
    }
    return GENREP_OK;
}

/* --------------------------------------------------------------- [CONVT] */

/* A transposed conv is the conv2d whose input is our output: image side
   (K, P, Q), column side (H, W). */
static genrep__col_geom genrep__convt2d_geom(const genrep_convt2d_desc *d) {
    genrep__col_geom g = { d->K, d->P, d->Q, d->R, d->S, d->stride_h, d->stride_w,
                           d->pad_h, d->pad_w, d->H, d->W };
    return g;
}

static genrep_status genrep__convt2d_check_desc(const char *fn, const genrep_convt2d_desc *d) {
    if (!d) return genrep__fail(GENREP_ERR_ARG, "%s: argument 'd' is NULL", fn);
    genrep_status st = genrep__conv_check_sizes(fn, d->N, d->C, d->H, d->W, d->K, d->R, d->S,
                                                d->stride_h, d->stride_w, d->pad_h, d->pad_w);
    if (st) return st;
    if (d->outpad_h < 0 || d->outpad_w < 0 || d->outpad_h >= d->stride_h || d->outpad_w >= d->stride_w)
        return genrep__fail(GENREP_ERR_ARG, "%s: 'outpad' must be in [0, stride), got %d x %d", fn,
                            d->outpad_h, d->outpad_w);
    if (d->P != (d->H - 1) * d->stride_h - 2 * d->pad_h + d->R + d->outpad_h || d->P <= 0 ||
        d->Q != (d->W - 1) * d->stride_w - 2 * d->pad_w + d->S + d->outpad_w || d->Q <= 0)
        return genrep__fail(GENREP_ERR_SHAPE, "%s: descriptor P=%d Q=%d do not match its sizes (use genrep_convt2d_init)",
                            fn, d->P, d->Q);
    if ((int64_t)d->P * d->Q > INT32_MAX / 4) return genrep__fail(GENREP_ERR_ARG, "%s: output too large", fn);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_convt2d_init(genrep_convt2d_desc *d, int N, int C, int H, int W,
                                             int K, int R, int S, int stride, int pad, int outpad) {
    GENREP__CHECK_PTR(d);
    genrep_status st = genrep__conv_check_sizes(__func__, N, C, H, W, K, R, S, stride, stride, pad, pad);
    if (st) return st;
    if (outpad < 0 || outpad >= stride)
        return genrep__fail(GENREP_ERR_ARG, "%s: 'outpad' must be in [0, stride=%d), got %d", __func__, stride, outpad);
    int64_t P = (int64_t)(H - 1) * stride - 2 * pad + R + outpad, Q = (int64_t)(W - 1) * stride - 2 * pad + S + outpad;
    if (P <= 0 || Q <= 0)
        return genrep__fail(GENREP_ERR_SHAPE, "%s: output %lldx%lld is empty (pad %d too large)", __func__,
                            (long long)P, (long long)Q, pad);
    if (P * Q > INT32_MAX / 4) return genrep__fail(GENREP_ERR_ARG, "%s: output too large", __func__);
    genrep_convt2d_desc t = { N, C, H, W, K, R, S, stride, stride, pad, pad, outpad, outpad, (int)P, (int)Q };
    *d = t;
    return GENREP_OK;
}

/* col (KRS, nb*HW) plus, for nb > 1, a (C, nb*HW) slab for the input (forward,
   dweight) or the input gradient (backward). */
GENREP_API size_t genrep_convt2d_workspace(const genrep_convt2d_desc *d) {
    if (genrep__convt2d_check_desc(__func__, d)) return 0;
    return genrep__conv_ws(d->N, (size_t)d->K * d->R * d->S, (size_t)d->C, (size_t)d->H * d->W);
}

/* out[n,k,h*sh-ph+r, w*sw-pw+s] += inp[n,c,h,w] * weight[c,k,r,s]: the
   definition (each input pixel stamps the kernel onto the output), then bias. */
static GENREP__CONV_UNUSED void genrep__convt2d_forward_ref(float *out, const float *inp, const float *weight,
                                                           const float *bias, const genrep_convt2d_desc *d) {
    for (int n = 0; n < d->N; n++)
        for (int k = 0; k < d->K; k++)
            for (size_t j = 0; j < (size_t)d->P * d->Q; j++)
                out[((size_t)n * d->K + k) * d->P * d->Q + j] = bias ? bias[k] : 0.0f;
    for (int n = 0; n < d->N; n++)
        for (int c = 0; c < d->C; c++)
            for (int h = 0; h < d->H; h++)
                for (int w = 0; w < d->W; w++) {
                    float x = inp[(((size_t)n * d->C + c) * d->H + h) * d->W + w];
                    for (int k = 0; k < d->K; k++)
                        for (int r = 0; r < d->R; r++) {
                            int p = h * d->stride_h - d->pad_h + r;
                            if (p < 0 || p >= d->P) continue;
                            for (int s = 0; s < d->S; s++) {
                                int q = w * d->stride_w - d->pad_w + s;
                                if (q < 0 || q >= d->Q) continue;
                                out[(((size_t)n * d->K + k) * d->P + p) * d->Q + q] +=
                                    x * weight[(((size_t)c * d->K + k) * d->R + r) * d->S + s];
                            }
                        }
                }
}

static GENREP__CONV_UNUSED void genrep__convt2d_backward_ref(float *dinp, float *dweight, float *dbias,
                                                            const float *dout, const float *inp,
                                                            const float *weight, const genrep_convt2d_desc *d) {
    if (dbias)
        for (int n = 0; n < d->N; n++)
            for (int k = 0; k < d->K; k++)
                for (size_t j = 0; j < (size_t)d->P * d->Q; j++)
                    dbias[k] += dout[((size_t)n * d->K + k) * d->P * d->Q + j];
    for (int n = 0; n < d->N; n++)
        for (int c = 0; c < d->C; c++)
            for (int h = 0; h < d->H; h++)
                for (int w = 0; w < d->W; w++) {
                    size_t ii = (((size_t)n * d->C + c) * d->H + h) * d->W + w;
                    float dx = 0.0f;
                    for (int k = 0; k < d->K; k++)
                        for (int r = 0; r < d->R; r++) {
                            int p = h * d->stride_h - d->pad_h + r;
                            if (p < 0 || p >= d->P) continue;
                            for (int s = 0; s < d->S; s++) {
                                int q = w * d->stride_w - d->pad_w + s;
                                if (q < 0 || q >= d->Q) continue;
                                float g = dout[(((size_t)n * d->K + k) * d->P + p) * d->Q + q];
                                size_t wi = (((size_t)c * d->K + k) * d->R + r) * d->S + s;
                                dx += g * weight[wi];
                                if (dweight) dweight[wi] += g * inp[ii];
                            }
                        }
                    if (dinp) dinp[ii] += dx;
                }
}

GENREP_API genrep_status genrep_convt2d_forward(float *out, float *ws, const float *inp,
                                                const float *weight, const float *bias,
                                                const genrep_convt2d_desc *d) {
    genrep_status st = genrep__convt2d_check_desc(__func__, d);
    if (st) return st;
    GENREP__CHECK_PTR(out); GENREP__CHECK_PTR(ws); GENREP__CHECK_PTR(inp); GENREP__CHECK_PTR(weight);
    const genrep__col_geom g = genrep__convt2d_geom(d);
    const int C = d->C, KRS = d->K * d->R * d->S;
    const size_t HW = (size_t)d->H * d->W, KPQ = (size_t)d->K * d->P * d->Q;
    const int nb = genrep__conv_chunk(d->N, (size_t)KRS, HW);
    float *col = ws, *x = ws + (size_t)KRS * nb * HW;
    /* out starts as the bias (or 0); col2im accumulates onto it */
    GENREP__CONV_PARFOR((size_t)d->N * KPQ)
    for (int pl = 0; pl < d->N * d->K; pl++) {
        float *o = out + (size_t)pl * d->P * d->Q, b = bias ? bias[pl % d->K] : 0.0f;
        for (size_t j = 0; j < (size_t)d->P * d->Q; j++) o[j] = b;
    }
    for (int n0 = 0; n0 < d->N; n0 += nb) {
        const int m = d->N - n0 < nb ? d->N - n0 : nb;
        const int cols = (int)(m * HW);
        const float *xc = inp + (size_t)n0 * C * HW;
        if (m > 1) { genrep__chunk_gather(x, xc, m, C, HW); xc = x; }
        /* col (KRS, cols) = weight^T (KRS, C) @ inp (C, cols) */
        st = genrep_sgemm(1, 0, KRS, cols, C, 1.0f, weight, KRS, xc, cols, 0.0f, col, cols);
        if (st) return st;
        genrep__col2im_add(out + (size_t)n0 * KPQ, col, (size_t)cols, m, &g);
    }
    return GENREP_OK;
}

GENREP_API genrep_status genrep_convt2d_backward(float *dinp, float *dweight, float *dbias, float *ws,
                                                 const float *dout, const float *inp,
                                                 const float *weight, const genrep_convt2d_desc *d) {
    genrep_status st = genrep__convt2d_check_desc(__func__, d);
    if (st) return st;
    GENREP__CHECK_PTR(dout);
    if (dinp) GENREP__CHECK_PTR(weight);
    if (dweight) GENREP__CHECK_PTR(inp);
    if (dinp || dweight) GENREP__CHECK_PTR(ws);
    const genrep__col_geom g = genrep__convt2d_geom(d);
    const int C = d->C, KRS = d->K * d->R * d->S;
    const size_t HW = (size_t)d->H * d->W, KPQ = (size_t)d->K * d->P * d->Q;
    if (dbias) genrep__bias_grad(dbias, dout, d->N, d->K, (size_t)d->P * d->Q);
    if (!dinp && !dweight) return GENREP_OK;
    const int nb = genrep__conv_chunk(d->N, (size_t)KRS, HW);
    float *col = ws, *x = ws + (size_t)KRS * nb * HW;
    for (int n0 = 0; n0 < d->N; n0 += nb) {
        const int m = d->N - n0 < nb ? d->N - n0 : nb;
        const int cols = (int)(m * HW);
        /* col (KRS, cols) = im2col(dout): the conv2d forward of dout */
        genrep__im2col(col, (size_t)cols, dout + (size_t)n0 * KPQ, m, &g);
        if (dweight) {
            /* dweight (C, KRS) += inp (C, cols) @ col^T (cols, KRS) */
            const float *xc = inp + (size_t)n0 * C * HW;
            if (m > 1) { genrep__chunk_gather(x, xc, m, C, HW); xc = x; }
            st = genrep_sgemm(0, 1, C, KRS, cols, 1.0f, xc, cols, col, cols, 1.0f, dweight, KRS);
            if (st) return st;
        }
        if (dinp) {
            /* dinp (C, cols) += weight (C, KRS) @ col (KRS, cols) */
            float *dx = dinp + (size_t)n0 * C * HW;
            if (m == 1) {
                st = genrep_sgemm(0, 0, C, cols, KRS, 1.0f, weight, KRS, col, cols, 1.0f, dx, cols);
                if (st) return st;
            } else {
                st = genrep_sgemm(0, 0, C, cols, KRS, 1.0f, weight, KRS, col, cols, 0.0f, x, cols);
                if (st) return st;
                genrep__chunk_scatter(dx, x, NULL, 1, m, C, HW);
            }
        }
    }
    return GENREP_OK;
}
