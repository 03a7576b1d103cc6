/* parts/data_impl.h: development fragment of genrep.h, inlined before release */

/* ----------------------------------------------------------------- [AUG] */
/* Every piece works on one (C,H,W) image with plain loops; the batch driver
   runs whole views in parallel (one image per OpenMP iteration), which is
   where the throughput comes from at 28x28. Nothing allocates: the crop
   tables and the blur line buffer live on the stack, bounded by
   GENREP_AUG_MAX_SIDE, and the remaining steps work in place in `out`. */

#define GENREP__AUG_MAX_KERNEL 255  /* blur kernel side bound (line buffer) */
#define GENREP__VB 8                /* block width of the loops written to vectorise */

static float genrep__clamp01(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }

static genrep_status genrep__aug_check(const char *fn, const float *out, const float *in, int C, int H, int W) {
    if (!out || !in) return genrep__fail(GENREP_ERR_ARG, "%s: out or in is NULL", fn);
    if (C != 1 && C != 3) return genrep__fail(GENREP_ERR_ARG, "%s: C must be 1 or 3, got %d", fn, C);
    if (H < 1 || W < 1 || H > GENREP_AUG_MAX_SIDE || W > GENREP_AUG_MAX_SIDE)
        return genrep__fail(GENREP_ERR_ARG, "%s: image %dx%d outside 1..%d", fn, H, W, GENREP_AUG_MAX_SIDE);
    return GENREP_OK;
}

/* Source taps of a bilinear resize along one axis, as PyTorch's
   upsample_bilinear2d with align_corners=False: src = (dst+0.5)*in/out - 0.5,
   clamped at 0; i0 = floor(src), i1 = i0 + (i0 < in-1), weight lam on i1. */
static void genrep__bilinear_taps(int *i0, int *i1, float *lam, int in, int out) {
    float scale = (float)in / (float)out;
    for (int o = 0; o < out; o++) {
        float src = scale * ((float)o + 0.5f) - 0.5f;
        if (src < 0.0f) src = 0.0f;
        int i = (int)src;
        if (i > in - 1) i = in - 1;
        float l = src - (float)i;
        if (l < 0.0f) l = 0.0f;
        if (l > 1.0f) l = 1.0f;
        i0[o] = i;
        i1[o] = i + (i < in - 1 ? 1 : 0);
        lam[o] = l;
    }
}

/* out (C,oh,ow) = bilinear resize of box (top,left,h,w) of in (C,H,W);
   flip mirrors the output columns (hflip after the resize, fused). */
static void genrep__resized_crop(float *out, const float *in, int C, int H, int W,
                                 int top, int left, int h, int w, int oh, int ow, int flip) {
    int y0[GENREP_AUG_MAX_SIDE], y1[GENREP_AUG_MAX_SIDE], x0[GENREP_AUG_MAX_SIDE], x1[GENREP_AUG_MAX_SIDE];
    float ly[GENREP_AUG_MAX_SIDE], lx[GENREP_AUG_MAX_SIDE];
    genrep__bilinear_taps(y0, y1, ly, h, oh);
    genrep__bilinear_taps(x0, x1, lx, w, ow);
    if (flip) { /* reverse the column tables: output column o reads source column ow-1-o */
        for (int a = 0, b = ow - 1; a < b; a++, b--) {
            int t = x0[a]; x0[a] = x0[b]; x0[b] = t;
            t = x1[a]; x1[a] = x1[b]; x1[b] = t;
            float f = lx[a]; lx[a] = lx[b]; lx[b] = f;
        }
    }
    /* Separable, horizontal pass first as PyTorch's expression
       wy0*(wx0*a + wx1*b) + wy1*(wx0*c + wx1*d): each source row needed is
       resampled to ow columns once (kept in a two-row cache, since
       neighbouring output rows share source rows), then rows are blended
       in vectorisable blocks. Bitwise equal to the direct 4-tap loop. */
    float rows[2][GENREP_AUG_MAX_SIDE];
    int rows_y[2];
    for (int c = 0; c < C; c++) {
        const float *src = in + ((size_t)c * H + top) * W + left;
        float *dst = out + (size_t)c * oh * ow;
        rows_y[0] = rows_y[1] = -1;
        for (int oy = 0; oy < oh; oy++) {
            const float *hr[2];
            int want[2] = {y0[oy], y1[oy]};
            for (int k = 0; k < 2; k++) {
                int slot = rows_y[0] == want[k] ? 0 : rows_y[1] == want[k] ? 1 : -1;
                if (slot < 0) { /* resample source row want[k] into the slot the other tap does not hold */
                    slot = rows_y[0] == want[1 - k] ? 1 : 0;
                    const float *sr = src + (size_t)want[k] * W;
                    float *hrow = rows[slot];
                    for (int ox = 0; ox < ow; ox++) {
                        float wx1 = lx[ox], wx0 = 1.0f - wx1;
                        hrow[ox] = wx0 * sr[x0[ox]] + wx1 * sr[x1[ox]];
                    }
                    rows_y[slot] = want[k];
                }
                hr[k] = rows[slot];
            }
            float wy1 = ly[oy], wy0 = 1.0f - wy1;
            float *d = dst + (size_t)oy * ow;
            int ox = 0;
            for (; ox + GENREP__VB <= ow; ox += GENREP__VB) {
                float t[GENREP__VB];
                for (int q = 0; q < GENREP__VB; q++) t[q] = wy0 * hr[0][ox + q] + wy1 * hr[1][ox + q];
                for (int q = 0; q < GENREP__VB; q++) d[ox + q] = t[q];
            }
            for (; ox < ow; ox++) d[ox] = wy0 * hr[0][ox] + wy1 * hr[1][ox];
        }
    }
}

static void genrep__hflip(float *out, const float *in, int C, int H, int W) {
    for (size_t r = 0; r < (size_t)C * H; r++) {
        const float *s = in + r * W;
        float *d = out + r * W;
        for (int a = 0, b = W - 1; a <= b; a++, b--) { float t = s[a]; d[a] = s[b]; d[b] = t; }
    }
}

static float genrep__gray(float r, float g, float b) { return 0.2989f * r + 0.587f * g + 0.114f * b; }

/* out = clamp01(a*x + b) over n values: torchvision's _blend with a
   constant (brightness: b = 0; contrast: b = (1-a)*mean). Blocks of 8 with
   a fixed trip count so that -O2 vectorises them; then a scalar tail. */
static void genrep__affine_clamp(float *out, const float *in, size_t n, float a, float b) {
    size_t i = 0;
    for (; i + GENREP__VB <= n; i += GENREP__VB) { /* load all, then store: out may be in */
        float t[GENREP__VB];
        for (int c = 0; c < GENREP__VB; c++) t[c] = in[i + c];
        for (int c = 0; c < GENREP__VB; c++) t[c] = genrep__clamp01(a * t[c] + b);
        for (int c = 0; c < GENREP__VB; c++) out[i + c] = t[c];
    }
    for (; i < n; i++) out[i] = genrep__clamp01(a * in[i] + b);
}

static void genrep__brightness(float *out, const float *in, size_t n, float f) {
    genrep__affine_clamp(out, in, n, f, 0.0f);
}

/* blend(x, mean of gray image): the mean is summed in double */
static void genrep__contrast(float *out, const float *in, int C, size_t hw, float f) {
    /* GENREP__VB independent partial sums (a dependent chain of double adds
       would be latency-bound), combined in a fixed order */
    double part[GENREP__VB] = {0};
    size_t i = 0;
    if (C == 3) {
        for (; i + GENREP__VB <= hw; i += GENREP__VB)
            for (int c = 0; c < GENREP__VB; c++) part[c] += genrep__gray(in[i + c], in[hw + i + c], in[2 * hw + i + c]);
        for (; i < hw; i++) part[0] += genrep__gray(in[i], in[hw + i], in[2 * hw + i]);
    } else {
        for (; i + GENREP__VB <= hw; i += GENREP__VB)
            for (int c = 0; c < GENREP__VB; c++) part[c] += in[i + c];
        for (; i < hw; i++) part[0] += in[i];
    }
    double s = 0.0;
    for (int c = 0; c < GENREP__VB; c++) s += part[c];
    float m = (float)(s / (double)hw);
    genrep__affine_clamp(out, in, (size_t)C * hw, f, (1.0f - f) * m);
}

static void genrep__saturation_px(float *out, const float *in, size_t hw, size_t i, float f) {
    float r = in[i], g = in[hw + i], b = in[2 * hw + i];
    float gb = (1.0f - f) * genrep__gray(r, g, b);
    out[i] = genrep__clamp01(f * r + gb);
    out[hw + i] = genrep__clamp01(f * g + gb);
    out[2 * hw + i] = genrep__clamp01(f * b + gb);
}

static void genrep__saturation(float *out, const float *in, int C, size_t hw, float f) {
    if (C != 3) { if (out != in) memcpy(out, in, hw * C * sizeof(float)); return; }
    size_t i = 0;
    for (; i + GENREP__VB <= hw; i += GENREP__VB) { /* load all, then store: out may be in */
        float r[GENREP__VB], g[GENREP__VB], b[GENREP__VB];
        for (int c = 0; c < GENREP__VB; c++) { r[c] = in[i + c]; g[c] = in[hw + i + c]; b[c] = in[2 * hw + i + c]; }
        for (int c = 0; c < GENREP__VB; c++) {
            float gb = (1.0f - f) * genrep__gray(r[c], g[c], b[c]);
            r[c] = genrep__clamp01(f * r[c] + gb);
            g[c] = genrep__clamp01(f * g[c] + gb);
            b[c] = genrep__clamp01(f * b[c] + gb);
        }
        for (int c = 0; c < GENREP__VB; c++) { out[i + c] = r[c]; out[hw + i + c] = g[c]; out[2 * hw + i + c] = b[c]; }
    }
    for (; i < hw; i++) genrep__saturation_px(out, in, hw, i, f);
}

/* RGB -> HSV -> shift hue -> RGB per pixel, with torchvision's formulas
   (h in [0,1), s = (max-min)/max, v = max, the same masked sums and the
   same p/q/t table), so results agree to rounding. Written without
   branches (selects only) on blocks of 8 pixels so that -O2 vectorises
   it: random hues make branches unpredictable. floor/fmod use integer
   conversion; every value involved lies in (-1, 7). */
static void genrep__hue_block(float *r, float *g, float *b, float shift) {
    for (int c = 0; c < GENREP__VB; c++) {
        float R = r[c], G = g[c], B = b[c];
        float maxc = R > G ? R : G; maxc = maxc > B ? maxc : B;
        float minc = R < G ? R : G; minc = minc < B ? minc : B;
        /* 0/1 masks multiply, as torchvision's code does: no branches */
        float eq = (float)(maxc == minc), ne = 1.0f - eq;
        float cr = maxc - minc;
        float s = cr / (eq + ne * maxc);            /* maxc, or 1 if gray */
        float crd = eq + ne * cr;                   /* cr, or 1 if gray */
        float rc = (maxc - R) / crd, gc = (maxc - G) / crd, bc = (maxc - B) / crd;
        float isr = (float)(maxc == R), isg = (float)(maxc == G);
        float h = isr * (bc - gc) + (isg * (1.0f - isr)) * (2.0f + rc - bc)
                + ((1.0f - isg) * (1.0f - isr)) * (4.0f + gc - rc);
        h = h / 6.0f + 1.0f;                        /* in [0.83, 1.84] */
        h -= (float)(int)h;                         /* fmod(h, 1) */
        h += shift;                                 /* Python's % 1.0 of (-0.5, 1.5): */
        float fl = (float)(int)h;
        fl -= (float)(h < fl);
        h -= fl;
        float h6 = h * 6.0f;
        float sec = (float)(int)h6;                 /* floor: h6 >= 0 */
        float f = h6 - sec;
        sec -= 6.0f * (float)(sec >= 6.0f);
        float v = maxc;
        float p = genrep__clamp01(v * (1.0f - s));
        float q = genrep__clamp01(v * (1.0f - s * f));
        float t = genrep__clamp01(v * (1.0f - s * (1.0f - f)));
        /* torchvision's table, sector -> (R, G, B):
           0 (v,t,p) 1 (q,v,p) 2 (p,v,t) 3 (p,q,v) 4 (t,p,v) 5 (v,p,q);
           one mask is 1, the others add exact zeros */
        float m0 = (float)(sec == 0.0f), m1 = (float)(sec == 1.0f), m2 = (float)(sec == 2.0f);
        float m3 = (float)(sec == 3.0f), m4 = (float)(sec == 4.0f), m5 = (float)(sec == 5.0f);
        r[c] = m0 * v + m1 * q + m2 * p + m3 * p + m4 * t + m5 * v;
        g[c] = m0 * t + m1 * v + m2 * v + m3 * q + m4 * p + m5 * p;
        b[c] = m0 * p + m1 * p + m2 * t + m3 * v + m4 * v + m5 * q;
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
/* The block above, 8 pixels per AVX2 register, the same operations in the
   same order (no FMA), so its results are bitwise those of the scalar code. */
__attribute__((target("avx2"))) static __m256 genrep__clamp01_avx2(__m256 x) {
    __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    __m256 t = _mm256_blendv_ps(x, one, _mm256_cmp_ps(x, one, _CMP_GT_OQ));
    return _mm256_blendv_ps(t, zero, _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
}
/* 8 pixels of the planes at in (stride hw) -> out; out may be in */
__attribute__((target("avx2"))) static void genrep__hue_avx2(float *out, const float *in, size_t hw, float shift) {
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f),
                 six = _mm256_set1_ps(6.0f), sh = _mm256_set1_ps(shift);
    __m256 R = _mm256_loadu_ps(in), G = _mm256_loadu_ps(in + hw), B = _mm256_loadu_ps(in + 2 * hw);
#define GENREP__MASK(a, b_, op) _mm256_and_ps(_mm256_cmp_ps((a), (b_), op), one)
    __m256 maxc = _mm256_max_ps(_mm256_max_ps(R, G), B);
    __m256 minc = _mm256_min_ps(_mm256_min_ps(R, G), B);
    __m256 eq = GENREP__MASK(maxc, minc, _CMP_EQ_OQ), ne = _mm256_sub_ps(one, eq);
    __m256 cr = _mm256_sub_ps(maxc, minc);
    __m256 s = _mm256_div_ps(cr, _mm256_add_ps(eq, _mm256_mul_ps(ne, maxc)));
    __m256 crd = _mm256_add_ps(eq, _mm256_mul_ps(ne, cr));
    __m256 rc = _mm256_div_ps(_mm256_sub_ps(maxc, R), crd);
    __m256 gc = _mm256_div_ps(_mm256_sub_ps(maxc, G), crd);
    __m256 bc = _mm256_div_ps(_mm256_sub_ps(maxc, B), crd);
    __m256 isr = GENREP__MASK(maxc, R, _CMP_EQ_OQ), isg = GENREP__MASK(maxc, G, _CMP_EQ_OQ);
    __m256 nr = _mm256_sub_ps(one, isr);
    __m256 h = _mm256_add_ps(_mm256_add_ps(
                   _mm256_mul_ps(isr, _mm256_sub_ps(bc, gc)),
                   _mm256_mul_ps(_mm256_mul_ps(isg, nr), _mm256_sub_ps(_mm256_add_ps(two, rc), bc))),
                   _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(one, isg), nr), _mm256_sub_ps(_mm256_add_ps(four, gc), rc)));
    h = _mm256_add_ps(_mm256_div_ps(h, six), one);
    h = _mm256_sub_ps(h, _mm256_cvtepi32_ps(_mm256_cvttps_epi32(h)));
    h = _mm256_add_ps(h, sh);
    __m256 fl = _mm256_cvtepi32_ps(_mm256_cvttps_epi32(h));
    fl = _mm256_sub_ps(fl, GENREP__MASK(h, fl, _CMP_LT_OQ));
    h = _mm256_sub_ps(h, fl);
    __m256 h6 = _mm256_mul_ps(h, six);
    __m256 sec = _mm256_cvtepi32_ps(_mm256_cvttps_epi32(h6));
    __m256 f = _mm256_sub_ps(h6, sec);
    sec = _mm256_sub_ps(sec, _mm256_mul_ps(six, GENREP__MASK(sec, six, _CMP_GE_OQ)));
    __m256 v = maxc;
    __m256 p = genrep__clamp01_avx2(_mm256_mul_ps(v, _mm256_sub_ps(one, s)));
    __m256 q = genrep__clamp01_avx2(_mm256_mul_ps(v, _mm256_sub_ps(one, _mm256_mul_ps(s, f))));
    __m256 t = genrep__clamp01_avx2(_mm256_mul_ps(v, _mm256_sub_ps(one, _mm256_mul_ps(s, _mm256_sub_ps(one, f)))));
    __m256 m0 = GENREP__MASK(sec, _mm256_set1_ps(0.0f), _CMP_EQ_OQ), m1 = GENREP__MASK(sec, one, _CMP_EQ_OQ);
    __m256 m2 = GENREP__MASK(sec, two, _CMP_EQ_OQ), m3 = GENREP__MASK(sec, _mm256_set1_ps(3.0f), _CMP_EQ_OQ);
    __m256 m4 = GENREP__MASK(sec, four, _CMP_EQ_OQ), m5 = GENREP__MASK(sec, _mm256_set1_ps(5.0f), _CMP_EQ_OQ);
#undef GENREP__MASK
#define GENREP__SEL(a0, a1, a2, a3, a4, a5) \
    _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(m0, a0), _mm256_mul_ps(m1, a1)), \
        _mm256_mul_ps(m2, a2)), _mm256_mul_ps(m3, a3)), _mm256_mul_ps(m4, a4)), _mm256_mul_ps(m5, a5))
    _mm256_storeu_ps(out, GENREP__SEL(v, q, p, p, t, v));
    _mm256_storeu_ps(out + hw, GENREP__SEL(t, v, v, q, p, p));
    _mm256_storeu_ps(out + 2 * hw, GENREP__SEL(p, p, t, v, v, q));
#undef GENREP__SEL
}
#endif

static void genrep__hue(float *out, const float *in, int C, size_t hw, float shift) {
    if (C != 3) { if (out != in) memcpy(out, in, hw * C * sizeof(float)); return; }
#if defined(__x86_64__) || defined(__i386__)
    int avx2 = genrep_get_isa() >= GENREP_ISA_AVX2;
#else
    int avx2 = 0;
#endif
    for (size_t i = 0; i < hw; i += GENREP__VB) {
        int n = hw - i < GENREP__VB ? (int)(hw - i) : GENREP__VB;
#if defined(__x86_64__) || defined(__i386__)
        if (avx2 && n == GENREP__VB) { genrep__hue_avx2(out + i, in + i, hw, shift); continue; }
#endif
        float r[GENREP__VB] = {0}, g[GENREP__VB] = {0}, b[GENREP__VB] = {0};
        for (int c = 0; c < n; c++) { r[c] = in[i + c]; g[c] = in[hw + i + c]; b[c] = in[2 * hw + i + c]; }
        genrep__hue_block(r, g, b, shift);
        for (int c = 0; c < n; c++) { out[i + c] = r[c]; out[hw + i + c] = g[c]; out[2 * hw + i + c] = b[c]; }
    }
    (void)avx2;
}

static void genrep__grayscale(float *out, const float *in, int C, size_t hw) {
    if (C != 3) { if (out != in) memcpy(out, in, hw * C * sizeof(float)); return; }
    for (size_t i = 0; i < hw; i++) {
        float l = genrep__gray(in[i], in[hw + i], in[2 * hw + i]);
        out[i] = l; out[hw + i] = l; out[2 * hw + i] = l;
    }
}

/* torchvision's 1-d kernel: x = linspace(-(k-1)/2, (k-1)/2, k), exp(-x^2/2s^2), sum 1. */
static void genrep__gauss_kernel(float *kw, int k, float sigma) {
    float half = (float)(k - 1) * 0.5f, sum = 0.0f;
    for (int i = 0; i < k; i++) {
        float x = ((float)i - half) / sigma;
        kw[i] = expf(-0.5f * x * x);
        sum += kw[i];
    }
    for (int i = 0; i < k; i++) kw[i] /= sum;
}

/* reflect index (no edge repeat) into [0, n), for any i */
static int genrep__reflect(int i, int n) {
    if (i >= 0 && i < n) return i;   /* the common case, without a division */
    if (n == 1) return 0;
    int period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

/* In-place separable blur of one (H,W) plane with reflect padding. Rows:
   each row is copied padded into a line buffer and the taps run over the
   whole row (tap-outer loops vectorise). Columns: strips of
   GENREP__BLUR_STRIP columns are copied padded into a stack buffer and
   blurred row by row. Taps are summed in the same order (j = 0..k-1) in
   both passes. */
#define GENREP__BLUR_STRIP 16  /* columns per vertical strip (stack: ~80 KB) */
#define GENREP__BLUR_ROWB  16  /* outputs per block of the row pass */
#if defined(__GNUC__)
#define GENREP__INLINE static inline __attribute__((always_inline))
#else
#define GENREP__INLINE static inline
#endif
GENREP__INLINE void genrep__blur_plane_body(float *x, int H, int W, const float *kw, int k) {
    /* row buffer: padded row plus slack so that blocks may run past W */
    float buf[GENREP_AUG_MAX_SIDE + GENREP__AUG_MAX_KERNEL + GENREP__BLUR_ROWB];
    float acc[GENREP__BLUR_ROWB > GENREP__BLUR_STRIP ? GENREP__BLUR_ROWB : GENREP__BLUR_STRIP];
    float strip[(GENREP_AUG_MAX_SIDE + GENREP__AUG_MAX_KERNEL) * GENREP__BLUR_STRIP];
    int r = k / 2;
    for (int y = 0; y < H; y++) {
        float *row = x + (size_t)y * W;
        for (int i = -r; i < W + r; i++) buf[i + r] = row[genrep__reflect(i, W)];
        for (int i = W + 2 * r; i < W + 2 * r + GENREP__BLUR_ROWB; i++) buf[i] = 0.0f;
        /* fixed-width blocks vectorise; several vectors per block keep
           independent add chains in flight */
        for (int i0 = 0; i0 < W; i0 += GENREP__BLUR_ROWB) {
            const float *b0 = buf + i0;
            for (int c = 0; c < GENREP__BLUR_ROWB; c++) acc[c] = kw[0] * b0[c];
            for (int j = 1; j < k; j++) {
                float wj = kw[j];
                for (int c = 0; c < GENREP__BLUR_ROWB; c++) acc[c] += wj * b0[j + c];
            }
            int nw = W - i0 < GENREP__BLUR_ROWB ? W - i0 : GENREP__BLUR_ROWB;
            for (int c = 0; c < nw; c++) row[i0 + c] = acc[c];
        }
    }
    for (int x0 = 0; x0 < W; x0 += GENREP__BLUR_STRIP) {
        int nw = W - x0 < GENREP__BLUR_STRIP ? W - x0 : GENREP__BLUR_STRIP;
        for (int i = -r; i < H + r; i++) {
            const float *src = x + (size_t)genrep__reflect(i, H) * W + x0;
            float *dst = strip + (size_t)(i + r) * GENREP__BLUR_STRIP;
            for (int c = 0; c < nw; c++) dst[c] = src[c];
            for (int c = nw; c < GENREP__BLUR_STRIP; c++) dst[c] = 0.0f;
        }
        for (int i = 0; i < H; i++) {
            const float *s0 = strip + (size_t)i * GENREP__BLUR_STRIP;
            for (int c = 0; c < GENREP__BLUR_STRIP; c++) acc[c] = kw[0] * s0[c];
            for (int j = 1; j < k; j++) {
                float wj = kw[j];
                const float *sj = s0 + (size_t)j * GENREP__BLUR_STRIP;
                for (int c = 0; c < GENREP__BLUR_STRIP; c++) acc[c] += wj * sj[c];
            }
            float *d = x + (size_t)i * W + x0;
            for (int c = 0; c < nw; c++) d[c] = acc[c];
        }
    }
}

/* The same C body compiled twice: baseline (SSE2) and AVX2 (8-wide; no
   FMA, so both give the same bits). Chosen by genrep_get_isa(). */
static void genrep__blur_plane_base(float *x, int H, int W, const float *kw, int k) {
    genrep__blur_plane_body(x, H, W, kw, k);
}
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2"))) static void genrep__blur_plane_avx2(float *x, int H, int W, const float *kw, int k) {
    genrep__blur_plane_body(x, H, W, kw, k);
}
#endif

static void genrep__blur(float *out, const float *in, int C, int H, int W, int k, float sigma) {
    float kw[GENREP__AUG_MAX_KERNEL];
    genrep__gauss_kernel(kw, k, sigma);
    if (out != in) memcpy(out, in, (size_t)C * H * W * sizeof(float));
#if defined(__x86_64__) || defined(__i386__)
    if (genrep_get_isa() >= GENREP_ISA_AVX2) {
        for (int c = 0; c < C; c++) genrep__blur_plane_avx2(out + (size_t)c * H * W, H, W, kw, k);
        return;
    }
#endif
    for (int c = 0; c < C; c++) genrep__blur_plane_base(out + (size_t)c * H * W, H, W, kw, k);
}

static void genrep__normalize(float *out, const float *in, int C, size_t hw, const float *mean, const float *std) {
    for (int c = 0; c < C; c++) {
        float m = mean[c], sd = std[c];   /* divide, as torchvision does (bit-closer than * 1/std) */
        const float *s = in + c * hw;
        float *d = out + c * hw;
        for (size_t i = 0; i < hw; i++) d[i] = (s[i] - m) / sd;
    }
}

/* ---- public fixed-parameter pieces ---- */

GENREP_API genrep_status genrep_aug_resized_crop(float *out, const float *in, int C, int H, int W,
                                                 int top, int left, int h, int w, int out_h, int out_w) {
    genrep_status st = genrep__aug_check(__func__, out, in, C, H, W);
    if (st) return st;
    if (top < 0 || left < 0 || h < 1 || w < 1 || top + h > H || left + w > W)
        return genrep__fail(GENREP_ERR_ARG, "%s: box top=%d left=%d h=%d w=%d not inside the %dx%d image",
                            __func__, top, left, h, w, H, W);
    if (out_h < 1 || out_w < 1 || out_h > GENREP_AUG_MAX_SIDE || out_w > GENREP_AUG_MAX_SIDE)
        return genrep__fail(GENREP_ERR_ARG, "%s: output %dx%d outside 1..%d", __func__, out_h, out_w, GENREP_AUG_MAX_SIDE);
    genrep__resized_crop(out, in, C, H, W, top, left, h, w, out_h, out_w, 0);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_aug_hflip(float *out, const float *in, int C, int H, int W) {
    genrep_status st = genrep__aug_check(__func__, out, in, C, H, W);
    if (st) return st;
    genrep__hflip(out, in, C, H, W);
    return GENREP_OK;
}

static genrep_status genrep__check_factor(const char *fn, float f) {
    if (!(f >= 0.0f) || f > 1e6f) return genrep__fail(GENREP_ERR_ARG, "%s: factor must be >= 0 and finite, got %g", fn, (double)f);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_aug_adjust_brightness(float *out, const float *in, int C, int H, int W, float factor) {
    genrep_status st = genrep__aug_check(__func__, out, in, C, H, W);
    if (!st) st = genrep__check_factor(__func__, factor);
    if (st) return st;
    genrep__brightness(out, in, (size_t)C * H * W, factor);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_aug_adjust_contrast(float *out, const float *in, int C, int H, int W, float factor) {
    genrep_status st = genrep__aug_check(__func__, out, in, C, H, W);
    if (!st) st = genrep__check_factor(__func__, factor);
    if (st) return st;
    genrep__contrast(out, in, C, (size_t)H * W, factor);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_aug_adjust_saturation(float *out, const float *in, int C, int H, int W, float factor) {
    genrep_status st = genrep__aug_check(__func__, out, in, C, H, W);
    if (!st) st = genrep__check_factor(__func__, factor);
    if (st) return st;
    genrep__saturation(out, in, C, (size_t)H * W, factor);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_aug_adjust_hue(float *out, const float *in, int C, int H, int W, float shift) {
    genrep_status st = genrep__aug_check(__func__, out, in, C, H, W);
    if (st) return st;
    if (!(shift >= -0.5f && shift <= 0.5f))
        return genrep__fail(GENREP_ERR_ARG, "%s: shift must be in [-0.5, 0.5], got %g", __func__, (double)shift);
    genrep__hue(out, in, C, (size_t)H * W, shift);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_aug_grayscale(float *out, const float *in, int C, int H, int W) {
    genrep_status st = genrep__aug_check(__func__, out, in, C, H, W);
    if (st) return st;
    genrep__grayscale(out, in, C, (size_t)H * W);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_aug_gaussian_blur(float *out, const float *in, int C, int H, int W,
                                                  int kernel, float sigma) {
    genrep_status st = genrep__aug_check(__func__, out, in, C, H, W);
    if (st) return st;
    if (kernel < 1 || kernel % 2 == 0 || kernel > GENREP__AUG_MAX_KERNEL)
        return genrep__fail(GENREP_ERR_ARG, "%s: kernel must be odd in 1..%d, got %d", __func__, GENREP__AUG_MAX_KERNEL, kernel);
    if (!(sigma > 0.0f) || sigma > 1e6f)
        return genrep__fail(GENREP_ERR_ARG, "%s: sigma must be > 0 and finite, got %g", __func__, (double)sigma);
    genrep__blur(out, in, C, H, W, kernel, sigma);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_aug_normalize(float *out, const float *in, int C, int H, int W,
                                              const float *mean, const float *std) {
    genrep_status st = genrep__aug_check(__func__, out, in, C, H, W);
    if (st) return st;
    GENREP__CHECK_PTR(mean);
    GENREP__CHECK_PTR(std);
    for (int c = 0; c < C; c++)
        if (!(std[c] != 0.0f) || std[c] != std[c])
            return genrep__fail(GENREP_ERR_ARG, "%s: std[%d] = %g must be non-zero", __func__, c, (double)std[c]);
    genrep__normalize(out, in, C, (size_t)H * W, mean, std);
    return GENREP_OK;
}

/* ---- random views ---- */

GENREP_API void genrep_aug_config_simclr(genrep_aug_config *cfg, int out_h, int out_w) {
    memset(cfg, 0, sizeof *cfg);
    cfg->out_h = out_h; cfg->out_w = out_w;
    cfg->scale_min = 0.2f; cfg->scale_max = 1.0f;
    cfg->ratio_min = 3.0f / 4.0f; cfg->ratio_max = 4.0f / 3.0f;
    cfg->flip_p = 0.5f;
    cfg->jitter_p = 0.8f;
    cfg->brightness = 0.4f; cfg->contrast = 0.4f; cfg->saturation = 0.4f; cfg->hue = 0.1f;
    cfg->gray_p = 0.2f;
    cfg->blur_p = 0.0f; cfg->blur_sigma_min = 0.1f; cfg->blur_sigma_max = 2.0f; cfg->blur_kernel = 0;
    cfg->normalize = 0;
    for (int c = 0; c < 3; c++) { cfg->mean[c] = 0.0f; cfg->std[c] = 1.0f; }
}

static int genrep__prob_ok(float p) { return p >= 0.0f && p <= 1.0f; }

GENREP_API genrep_status genrep_aug_config_check(const genrep_aug_config *cfg) {
    const char *fn = "genrep_aug_config";
    if (!cfg) return genrep__fail(GENREP_ERR_ARG, "%s: cfg is NULL", fn);
    if (cfg->out_h < 1 || cfg->out_w < 1 || cfg->out_h > GENREP_AUG_MAX_SIDE || cfg->out_w > GENREP_AUG_MAX_SIDE)
        return genrep__fail(GENREP_ERR_ARG, "%s: out_h x out_w = %dx%d outside 1..%d", fn, cfg->out_h, cfg->out_w, GENREP_AUG_MAX_SIDE);
    if (!(cfg->scale_min > 0.0f && cfg->scale_min <= cfg->scale_max && cfg->scale_max <= 1.0f))
        return genrep__fail(GENREP_ERR_ARG, "%s: need 0 < scale_min <= scale_max <= 1, got (%g, %g)", fn,
                            (double)cfg->scale_min, (double)cfg->scale_max);
    if (!(cfg->ratio_min > 0.0f && cfg->ratio_min <= cfg->ratio_max && cfg->ratio_max < 1e6f))
        return genrep__fail(GENREP_ERR_ARG, "%s: need 0 < ratio_min <= ratio_max, got (%g, %g)", fn,
                            (double)cfg->ratio_min, (double)cfg->ratio_max);
    const float probs[4] = {cfg->flip_p, cfg->jitter_p, cfg->gray_p, cfg->blur_p};
    const char *pn[4] = {"flip_p", "jitter_p", "gray_p", "blur_p"};
    for (int i = 0; i < 4; i++)
        if (!genrep__prob_ok(probs[i])) return genrep__fail(GENREP_ERR_ARG, "%s: %s = %g not in [0, 1]", fn, pn[i], (double)probs[i]);
    const float jit[3] = {cfg->brightness, cfg->contrast, cfg->saturation};
    const char *jn[3] = {"brightness", "contrast", "saturation"};
    for (int i = 0; i < 3; i++)
        if (!(jit[i] >= 0.0f && jit[i] < 1e6f)) return genrep__fail(GENREP_ERR_ARG, "%s: %s = %g must be >= 0", fn, jn[i], (double)jit[i]);
    if (!(cfg->hue >= 0.0f && cfg->hue <= 0.5f))
        return genrep__fail(GENREP_ERR_ARG, "%s: hue = %g not in [0, 0.5]", fn, (double)cfg->hue);
    if (cfg->blur_p > 0.0f) {
        if (!(cfg->blur_sigma_min > 0.0f && cfg->blur_sigma_min <= cfg->blur_sigma_max && cfg->blur_sigma_max < 1e6f))
            return genrep__fail(GENREP_ERR_ARG, "%s: need 0 < blur_sigma_min <= blur_sigma_max, got (%g, %g)", fn,
                                (double)cfg->blur_sigma_min, (double)cfg->blur_sigma_max);
        if (cfg->blur_kernel < 0 || (cfg->blur_kernel > 0 && cfg->blur_kernel % 2 == 0) || cfg->blur_kernel > GENREP__AUG_MAX_KERNEL)
            return genrep__fail(GENREP_ERR_ARG, "%s: blur_kernel = %d must be 0 (auto) or odd in 1..%d", fn,
                                cfg->blur_kernel, GENREP__AUG_MAX_KERNEL);
    }
    if (cfg->normalize)
        for (int c = 0; c < 3; c++)
            if (!(cfg->std[c] != 0.0f) || cfg->std[c] != cfg->std[c])
                return genrep__fail(GENREP_ERR_ARG, "%s: std[%d] = %g must be non-zero", fn, c, (double)cfg->std[c]);
    return GENREP_OK;
}

/* SimCLR's blur kernel: ~10% of the (smaller) output side, odd, >= 3. */
static int genrep__aug_kernel(const genrep_aug_config *cfg) {
    if (cfg->blur_kernel > 0) return cfg->blur_kernel;
    int side = cfg->out_h < cfg->out_w ? cfg->out_h : cfg->out_w;
    int k = (side / 10 / 2) * 2 + 1;
    return k < 3 ? 3 : k;
}

static double genrep__u01(genrep_rng *r) { return (double)genrep_rng_uniform(r); }

/* Python's round(): half to even (rint in the default rounding mode). */
static int genrep__round_half_even(double x) {
    if (!(x > -1e9 && x < 1e9)) return 0;   /* NaN or absurd: "does not fit" */
    double f = floor(x), d = x - f;
    if (d > 0.5 || (d == 0.5 && fmod(f, 2.0) != 0.0)) f += 1.0;
    return (int)f;
}

GENREP_API void genrep_aug_sample(genrep_aug_params *p, const genrep_aug_config *cfg, int H, int W,
                                  uint64_t seed, uint64_t sample_index, int view_index) {
    /* Name the two streams of this view by hashing (sample, view) with
       Philox under a fixed tag key: one stream for the crop (whose number of
       draws depends on the image size) and one for everything else. */
    uint32_t hsh[4];
    genrep_philox(hsh, 0x47656e5265704175ull /* "GenRepAu" */, (uint64_t)(uint32_t)view_index, sample_index);
    genrep_rng rc, rp;
    genrep_rng_init(&rc, seed, (uint64_t)hsh[0] | ((uint64_t)hsh[1] << 32));
    genrep_rng_init(&rp, seed, (uint64_t)hsh[2] | ((uint64_t)hsh[3] << 32));

    /* RandomResizedCrop.get_params: 10 tries, then a centre crop. */
    double area = (double)H * (double)W;
    double lr0 = log((double)cfg->ratio_min), lr1 = log((double)cfg->ratio_max);
    int found = 0;
    for (int t = 0; t < 10 && !found; t++) {
        double target = area * ((double)cfg->scale_min + ((double)cfg->scale_max - (double)cfg->scale_min) * genrep__u01(&rc));
        double ar = exp(lr0 + (lr1 - lr0) * genrep__u01(&rc));
        int w = genrep__round_half_even(sqrt(target * ar));
        int h = genrep__round_half_even(sqrt(target / ar));
        if (w > 0 && w <= W && h > 0 && h <= H) {
            p->top = (int)genrep_rng_below(&rc, (uint32_t)(H - h + 1));
            p->left = (int)genrep_rng_below(&rc, (uint32_t)(W - w + 1));
            p->crop_h = h; p->crop_w = w;
            found = 1;
        }
    }
    if (!found) {
        double in_ratio = (double)W / (double)H;
        int w, h;
        if (in_ratio < (double)cfg->ratio_min) { w = W; h = genrep__round_half_even(w / (double)cfg->ratio_min); }
        else if (in_ratio > (double)cfg->ratio_max) { h = H; w = genrep__round_half_even(h * (double)cfg->ratio_max); }
        else { w = W; h = H; }
        if (h > H) h = H;
        if (w > W) w = W;
        if (h < 1) h = 1;
        if (w < 1) w = 1;
        p->top = (H - h) / 2; p->left = (W - w) / 2; p->crop_h = h; p->crop_w = w;
    }

    /* Fixed number of draws for the rest, whatever is applied. */
    p->flip = genrep_rng_uniform(&rp) < cfg->flip_p;
    p->jitter = genrep_rng_uniform(&rp) < cfg->jitter_p;
    for (int i = 0; i < 4; i++) p->order[i] = i;
    for (int i = 3; i > 0; i--) { /* Fisher-Yates: a uniform permutation, like torch.randperm */
        int j = (int)genrep_rng_below(&rp, (uint32_t)(i + 1));
        int t = p->order[i]; p->order[i] = p->order[j]; p->order[j] = t;
    }
    const float jit[3] = {cfg->brightness, cfg->contrast, cfg->saturation};
    float fac[3];
    for (int i = 0; i < 3; i++) {
        float lo = 1.0f - jit[i] > 0.0f ? 1.0f - jit[i] : 0.0f, hi = 1.0f + jit[i];
        float u = genrep_rng_uniform(&rp);
        fac[i] = jit[i] > 0.0f ? lo + (hi - lo) * u : 1.0f;
    }
    p->brightness = fac[0]; p->contrast = fac[1]; p->saturation = fac[2];
    float uh = genrep_rng_uniform(&rp);
    p->hue = cfg->hue > 0.0f ? -cfg->hue + 2.0f * cfg->hue * uh : 0.0f;
    p->gray = genrep_rng_uniform(&rp) < cfg->gray_p;
    p->blur = genrep_rng_uniform(&rp) < cfg->blur_p;
    float us = genrep_rng_uniform(&rp);
    p->sigma = cfg->blur_sigma_min + (cfg->blur_sigma_max - cfg->blur_sigma_min) * us;
    p->kernel = genrep__aug_kernel(cfg);
}

/* One view, parameters given; arguments already checked. */
static void genrep__aug_apply(float *out, const float *in, int C, int H, int W,
                              const genrep_aug_config *cfg, const genrep_aug_params *p) {
    int oh = cfg->out_h, ow = cfg->out_w;
    size_t hw = (size_t)oh * ow;
    genrep__resized_crop(out, in, C, H, W, p->top, p->left, p->crop_h, p->crop_w, oh, ow, p->flip);
    if (p->jitter) {
        for (int i = 0; i < 4; i++) {
            switch (p->order[i]) {
            case 0: if (cfg->brightness > 0.0f) genrep__brightness(out, out, C * hw, p->brightness); break;
            case 1: if (cfg->contrast > 0.0f) genrep__contrast(out, out, C, hw, p->contrast); break;
            case 2: if (cfg->saturation > 0.0f) genrep__saturation(out, out, C, hw, p->saturation); break;
            default: if (cfg->hue > 0.0f) genrep__hue(out, out, C, hw, p->hue); break;
            }
        }
    }
    if (p->gray) genrep__grayscale(out, out, C, hw);
    if (p->blur) genrep__blur(out, out, C, oh, ow, p->kernel, p->sigma);
    if (cfg->normalize) genrep__normalize(out, out, C, hw, cfg->mean, cfg->std);
}

static genrep_status genrep__aug_params_check(const char *fn, const genrep_aug_params *p, int H, int W) {
    if (p->top < 0 || p->left < 0 || p->crop_h < 1 || p->crop_w < 1 || p->top + p->crop_h > H || p->left + p->crop_w > W)
        return genrep__fail(GENREP_ERR_ARG, "%s: crop box top=%d left=%d h=%d w=%d not inside the %dx%d image",
                            fn, p->top, p->left, p->crop_h, p->crop_w, H, W);
    if (p->jitter) {
        int seen = 0;
        for (int i = 0; i < 4; i++) if (p->order[i] >= 0 && p->order[i] < 4) seen |= 1 << p->order[i];
        if (seen != 15) return genrep__fail(GENREP_ERR_ARG, "%s: order is not a permutation of 0..3", fn);
        if (!(p->brightness >= 0.0f && p->contrast >= 0.0f && p->saturation >= 0.0f && p->hue >= -0.5f && p->hue <= 0.5f))
            return genrep__fail(GENREP_ERR_ARG, "%s: jitter factors out of range", fn);
    }
    if (p->blur && (p->kernel < 1 || p->kernel % 2 == 0 || p->kernel > GENREP__AUG_MAX_KERNEL || !(p->sigma > 0.0f)))
        return genrep__fail(GENREP_ERR_ARG, "%s: blur kernel %d / sigma %g invalid", fn, p->kernel, (double)p->sigma);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_aug_apply(float *out, const float *in, int C, int H, int W,
                                          const genrep_aug_config *cfg, const genrep_aug_params *p) {
    genrep_status st = genrep__aug_check(__func__, out, in, C, H, W);
    if (st) return st;
    GENREP__CHECK_PTR(p);
    if ((st = genrep_aug_config_check(cfg))) return st;
    if ((st = genrep__aug_params_check(__func__, p, H, W))) return st;
    genrep__aug_apply(out, in, C, H, W, cfg, p);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_augment_batch(float *out, const float *in, int N, int C, int H, int W,
                                              const genrep_aug_config *cfg, uint64_t seed,
                                              uint64_t first_sample_index, int view_index) {
    GENREP__CHECK_NONNEG(N);
    if (N == 0) return GENREP_OK;
    genrep_status st = genrep__aug_check(__func__, out, in, C, H, W);
    if (st) return st;
    if ((st = genrep_aug_config_check(cfg))) return st;
    size_t in_sz = (size_t)C * H * W, out_sz = (size_t)C * cfg->out_h * cfg->out_w;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int n = 0; n < N; n++) {
        genrep_aug_params p;
        genrep_aug_sample(&p, cfg, H, W, seed, first_sample_index + (uint64_t)n, view_index);
        genrep__aug_apply(out + (size_t)n * out_sz, in + (size_t)n * in_sz, C, H, W, cfg, &p);
    }
    return GENREP_OK;
}

/* ----------------------------------------------------------------- [IDX] */
/* IDX: 4-byte magic (0, 0, type, ndim), ndim big-endian u32 dims, then the
   values big-endian, row-major. The file is read through one small reader
   that is zlib's gz* (which also reads plain files) or stdio. */

#ifndef GENREP_NO_ZLIB
#include <zlib.h>
#endif
#include <errno.h>

typedef struct {
#ifndef GENREP_NO_ZLIB
    gzFile gz;
#else
    FILE *f;
#endif
    const char *path;
} genrep__reader;

static genrep_status genrep__reader_open(genrep__reader *rd, const char *path) {
    rd->path = path;
#ifndef GENREP_NO_ZLIB
    errno = 0;
    rd->gz = gzopen(path, "rb");
    if (!rd->gz) return genrep__fail(GENREP_ERR_IO, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    gzbuffer(rd->gz, 1 << 17);
#else
    rd->f = fopen(path, "rb");
    if (!rd->f) return genrep__fail(GENREP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int c0 = fgetc(rd->f), c1 = fgetc(rd->f);
    if (c0 == 0x1f && c1 == 0x8b) {
        fclose(rd->f); rd->f = NULL;
        return genrep__fail(GENREP_ERR_UNSUPPORTED, "%s: gzip-compressed, but genrep.h was built with GENREP_NO_ZLIB", path);
    }
    rewind(rd->f);
#endif
    return GENREP_OK;
}

/* Read up to n bytes; returns the count read, or -1 (message set) on a
   decode/read error. */
static int64_t genrep__reader_read(genrep__reader *rd, void *buf, int64_t n) {
    int64_t got = 0;
    unsigned char *b = (unsigned char *)buf;
    while (got < n) {
        int64_t want = n - got > (1 << 30) ? (1 << 30) : n - got;
#ifndef GENREP_NO_ZLIB
        int r = gzread(rd->gz, b + got, (unsigned)want);
        if (r < 0) {
            int err = 0;
            const char *msg = gzerror(rd->gz, &err);
            genrep__fail(GENREP_ERR_FORMAT, "%s: corrupt gzip stream (%s)", rd->path, msg ? msg : "?");
            return -1;
        }
        if ((int64_t)r < want) { /* end of data: zlib says Z_BUF_ERROR if the gzip stream was cut short */
            int err = 0;
            gzerror(rd->gz, &err);
            if (err == Z_BUF_ERROR) {
                genrep__fail(GENREP_ERR_FORMAT, "%s: truncated gzip stream (unexpected end of file)", rd->path);
                return -1;
            }
        }
#else
        int64_t r = (int64_t)fread(b + got, 1, (size_t)want, rd->f);
        if (r == 0 && ferror(rd->f)) { genrep__fail(GENREP_ERR_IO, "%s: read error", rd->path); return -1; }
#endif
        if (r == 0) break;
        got += r;
    }
    return got;
}

static void genrep__reader_close(genrep__reader *rd) {
#ifndef GENREP_NO_ZLIB
    if (rd->gz) gzclose(rd->gz);
    rd->gz = NULL;
#else
    if (rd->f) fclose(rd->f);
    rd->f = NULL;
#endif
}

static uint32_t genrep__be32(const unsigned char *b) {
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}

static int genrep__idx_elem_size(int type) {
    switch (type) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    }
    return 0;
}

GENREP_API void genrep_idx_free(genrep_idx *x) {
    if (!x) return;
    genrep_free(x->data);
    memset(x, 0, sizeof *x);
}

GENREP_API genrep_status genrep_idx_read(genrep_idx *out, const char *path) {
    GENREP__CHECK_PTR(out);
    memset(out, 0, sizeof *out);
    GENREP__CHECK_PTR(path);
    genrep__reader rd;
    genrep_status st = genrep__reader_open(&rd, path);
    if (st) return st;
    unsigned char hdr[4 + 4 * GENREP_IDX_MAX_DIMS];
    int64_t got = genrep__reader_read(&rd, hdr, 4);
    if (got < 0) { genrep__reader_close(&rd); return GENREP_ERR_FORMAT; }
    if (got < 4) {
        genrep__reader_close(&rd);
        return genrep__fail(GENREP_ERR_FORMAT, "%s: truncated: %lld bytes, too short for an IDX header", path, (long long)got);
    }
    uint32_t magic = genrep__be32(hdr);
    int type = hdr[2], ndim = hdr[3], es = genrep__idx_elem_size(type);
    if (hdr[0] != 0 || hdr[1] != 0 || es == 0 || ndim < 1 || ndim > GENREP_IDX_MAX_DIMS) {
        genrep__reader_close(&rd);
        return genrep__fail(GENREP_ERR_FORMAT,
                            "%s: bad magic number 0x%08x (want 0x0000TTDD: type TT in 08,09,0B,0C,0D,0E, DD = 1..%d dims)",
                            path, (unsigned)magic, GENREP_IDX_MAX_DIMS);
    }
    got = genrep__reader_read(&rd, hdr + 4, 4 * ndim);
    if (got < 0) { genrep__reader_close(&rd); return GENREP_ERR_FORMAT; }
    if (got < 4 * ndim) {
        genrep__reader_close(&rd);
        return genrep__fail(GENREP_ERR_FORMAT, "%s: truncated in the header (%d dims declared)", path, ndim);
    }
    int64_t numel = 1;
    for (int d = 0; d < GENREP_IDX_MAX_DIMS; d++) out->dims[d] = 1;
    for (int d = 0; d < ndim; d++) {
        uint32_t v = genrep__be32(hdr + 4 + 4 * d);
        if (v == 0 || (int64_t)v * numel * es > GENREP_IDX_MAX_BYTES) {
            genrep__reader_close(&rd);
            return genrep__fail(GENREP_ERR_FORMAT, "%s: dimension %d = %u is 0 or makes the payload exceed %lld bytes",
                                path, d, (unsigned)v, (long long)GENREP_IDX_MAX_BYTES);
        }
        out->dims[d] = v;
        numel *= v;
    }
    int64_t bytes = numel * es;
    unsigned char *data = (unsigned char *)genrep_alloc((size_t)bytes);
    if (!data) {
        genrep__reader_close(&rd);
        return genrep__fail(GENREP_ERR_NOMEM, "%s: cannot allocate %lld bytes", path, (long long)bytes);
    }
    got = genrep__reader_read(&rd, data, bytes);
    if (got >= 0 && got < bytes)
        st = genrep__fail(GENREP_ERR_FORMAT, "%s: truncated: the header promises %lld data bytes, the file has %lld",
                          path, (long long)bytes, (long long)got);
    else if (got < 0) st = GENREP_ERR_FORMAT;
    if (!st) { /* nothing may follow the payload; this read also makes zlib check the CRC */
        unsigned char extra[256];
        int64_t more = genrep__reader_read(&rd, extra, sizeof extra);
        if (more < 0) st = GENREP_ERR_FORMAT;
        else if (more > 0)
            st = genrep__fail(GENREP_ERR_FORMAT, "%s: trailing bytes after the %lld-byte payload (%s%lld extra)",
                              path, (long long)bytes, more == (int64_t)sizeof extra ? ">= " : "", (long long)more);
    }
    genrep__reader_close(&rd);
    if (st) { genrep_free(data); return st; }
    /* big-endian -> host order, byte by byte (no alignment or endianness assumptions) */
    if (es > 1) {
        for (int64_t i = 0; i < numel; i++) {
            unsigned char *e = data + i * es, tmp[8];
            uint64_t v = 0;
            for (int k = 0; k < es; k++) v = (v << 8) | e[k];
            memcpy(tmp, &v, 8);
            if (es == 2) { uint16_t v16 = (uint16_t)v; memcpy(e, &v16, 2); }
            else if (es == 4) { uint32_t v32 = (uint32_t)v; memcpy(e, &v32, 4); }
            else memcpy(e, tmp, 8);
        }
    }
    out->data = data; out->type = type; out->elem_size = es; out->ndim = ndim; out->numel = numel;
    return GENREP_OK;
}

GENREP_API void genrep_dataset_free(genrep_dataset *d) {
    if (!d) return;
    genrep_free(d->images);
    genrep_free(d->labels);
    memset(d, 0, sizeof *d);
}

GENREP_API const char *genrep_fmnist_default_dir(void) {
    const char *env = getenv("GENREP_FMNIST_DIR");
    return env && *env ? env : "/usr/share/datasets/fashion-mnist";
}

/* dir/stem.gz if it exists (or stem if only that exists); .gz name otherwise,
   so that the open error names the file we looked for first. */
static genrep_status genrep__fmnist_path(char *buf, size_t cap, const char *dir, const char *stem) {
    int n = snprintf(buf, cap, "%s/%s.gz", dir, stem);
    if (n < 0 || (size_t)n >= cap) return genrep__fail(GENREP_ERR_ARG, "genrep_fmnist_load: directory name too long: %s", dir);
    FILE *f = fopen(buf, "rb");
    if (f) { fclose(f); return GENREP_OK; }
    snprintf(buf, cap, "%s/%s", dir, stem);
    f = fopen(buf, "rb");
    if (f) { fclose(f); return GENREP_OK; }
    snprintf(buf, cap, "%s/%s.gz", dir, stem);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_fmnist_load(genrep_dataset *out, const char *dir, int train) {
    GENREP__CHECK_PTR(out);
    memset(out, 0, sizeof *out);
    if (!dir) dir = genrep_fmnist_default_dir();
    char ipath[4096], lpath[4096];
    genrep_status st = genrep__fmnist_path(ipath, sizeof ipath, dir, train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte");
    if (!st) st = genrep__fmnist_path(lpath, sizeof lpath, dir, train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte");
    if (st) return st;
    genrep_idx im, lb;
    memset(&lb, 0, sizeof lb);
    if ((st = genrep_idx_read(&im, ipath))) return st;
    if (im.type != 0x08 || im.ndim != 3 || im.dims[1] != 28 || im.dims[2] != 28) {
        st = genrep__fail(GENREP_ERR_FORMAT, "%s: expected u8 images of 28x28 (magic 0x00000803), got magic 0x%08x with %d dims (%lld x %lld)",
                          ipath, (unsigned)(im.type << 8 | im.ndim), im.ndim, (long long)im.dims[1], (long long)im.dims[2]);
        goto done;
    }
    if ((st = genrep_idx_read(&lb, lpath))) goto done;
    if (lb.type != 0x08 || lb.ndim != 1) {
        st = genrep__fail(GENREP_ERR_FORMAT, "%s: expected u8 labels (magic 0x00000801), got magic 0x%08x",
                          lpath, (unsigned)(lb.type << 8 | lb.ndim));
        goto done;
    }
    if (lb.dims[0] != im.dims[0]) {
        st = genrep__fail(GENREP_ERR_FORMAT, "count mismatch: %s has %lld images but %s has %lld labels",
                          ipath, (long long)im.dims[0], lpath, (long long)lb.dims[0]);
        goto done;
    }
    {
        int64_t n = im.dims[0];
        const unsigned char *l8 = (const unsigned char *)lb.data, *p8 = (const unsigned char *)im.data;
        for (int64_t i = 0; i < n; i++)
            if (l8[i] > 9) {
                st = genrep__fail(GENREP_ERR_FORMAT, "%s: label %d at index %lld is out of range 0..9", lpath, l8[i], (long long)i);
                goto done;
            }
        out->images = (float *)genrep_alloc((size_t)n * 784 * sizeof(float));
        out->labels = (int32_t *)genrep_alloc((size_t)n * sizeof(int32_t));
        if (!out->images || !out->labels) {
            genrep_dataset_free(out);
            st = genrep__fail(GENREP_ERR_NOMEM, "genrep_fmnist_load: cannot allocate %lld images", (long long)n);
            goto done;
        }
        for (int64_t i = 0; i < n * 784; i++) out->images[i] = (float)p8[i] / 255.0f /* as ToTensor */;
        for (int64_t i = 0; i < n; i++) out->labels[i] = l8[i];
        out->n = n; out->c = 1; out->h = 28; out->w = 28; out->num_classes = 10;
    }
done:
    genrep_idx_free(&im);
    genrep_idx_free(&lb);
    return st;
}

/* --------------------------------------------------------------- [IMAGE] */
#ifdef GENREP_IMAGE_IO
/* Implementations come from Debian's shared libstb (-lstb); no
   STB_IMAGE_IMPLEMENTATION here. */
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <dirent.h>
#include <sys/stat.h>

/* A growing list of strings in one buffer (names of one directory); v[i]
   points at the i-th name in sorted order once genrep__names_sort ran. */
typedef struct { char *buf; size_t len, cap; size_t *off; int n, ncap; const char **v; } genrep__names;

static int genrep__names_add(genrep__names *s, const char *name) {
    size_t l = strlen(name) + 1;
    if (s->len + l > s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 4096;
        while (nc < s->len + l) nc *= 2;
        char *nb = (char *)genrep_alloc(nc);
        if (!nb) return 0;
        if (s->len) memcpy(nb, s->buf, s->len);
        genrep_free(s->buf); s->buf = nb; s->cap = nc;
    }
    if (s->n == s->ncap) {
        int nc = s->ncap ? s->ncap * 2 : 64;
        size_t *no = (size_t *)genrep_alloc((size_t)nc * sizeof(size_t));
        if (!no) return 0;
        if (s->n) memcpy(no, s->off, (size_t)s->n * sizeof(size_t));
        genrep_free(s->off); s->off = no; s->ncap = nc;
    }
    memcpy(s->buf + s->len, name, l);
    s->off[s->n++] = s->len;
    s->len += l;
    return 1;
}
static void genrep__names_free(genrep__names *s) {
    genrep_free(s->buf); genrep_free(s->off); genrep_free((void *)s->v);
    memset(s, 0, sizeof *s);
}

static int genrep__names_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}
/* Byte order, so class labels do not depend on the directory's order. */
static int genrep__names_sort(genrep__names *s) {
    s->v = (const char **)genrep_alloc((size_t)(s->n ? s->n : 1) * sizeof(char *));
    if (!s->v) return 0;
    for (int i = 0; i < s->n; i++) s->v[i] = s->buf + s->off[i];
    if (s->n > 1) qsort((void *)s->v, (size_t)s->n, sizeof(char *), genrep__names_cmp);
    return 1;
}

static int genrep__is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    static const char *exts[] = {"png", "jpg", "jpeg", "bmp", "gif", "tga", "ppm", "pgm"};
    for (size_t e = 0; e < sizeof exts / sizeof exts[0]; e++) {
        const char *a = dot + 1, *b = exts[e];
        while (*a && *b && (*a | 0x20) == *b) { a++; b++; }
        if (!*a && !*b) return 1;
    }
    return 0;
}

/* names of the entries of dir (without . and ..) that are directories (want_dir)
   or image files (!want_dir), sorted */
static genrep_status genrep__list_dir(genrep__names *out, const char *dir, int want_dir) {
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return genrep__fail(GENREP_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue; /* ., .. and hidden files */
        int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof path) continue;
        struct stat sb;
        if (stat(path, &sb) != 0) continue;
        int is_dir = S_ISDIR(sb.st_mode);
        if (want_dir ? !is_dir : (is_dir || !genrep__is_image_name(e->d_name))) continue;
        if (!genrep__names_add(out, e->d_name)) {
            closedir(d); genrep__names_free(out);
            return genrep__fail(GENREP_ERR_NOMEM, "%s: out of memory listing the directory", dir);
        }
    }
    closedir(d);
    if (!genrep__names_sort(out)) {
        genrep__names_free(out);
        return genrep__fail(GENREP_ERR_NOMEM, "%s: out of memory listing the directory", dir);
    }
    return GENREP_OK;
}

GENREP_API genrep_status genrep_imagefolder_load(genrep_dataset *out, const char *root, int C, int out_h, int out_w) {
    GENREP__CHECK_PTR(out);
    memset(out, 0, sizeof *out);
    GENREP__CHECK_PTR(root);
    if (C != 1 && C != 3) return genrep__fail(GENREP_ERR_ARG, "%s: C must be 1 or 3, got %d", __func__, C);
    if (out_h < 1 || out_w < 1 || out_h > GENREP_AUG_MAX_SIDE || out_w > GENREP_AUG_MAX_SIDE)
        return genrep__fail(GENREP_ERR_ARG, "%s: output size %dx%d outside 1..%d", __func__, out_h, out_w, GENREP_AUG_MAX_SIDE);
    genrep__names classes, files;
    memset(&files, 0, sizeof files);
    genrep_status st = genrep__list_dir(&classes, root, 1);
    if (st) return st;
    if (classes.n == 0) {
        genrep__names_free(&classes);
        return genrep__fail(GENREP_ERR_FORMAT, "%s: no class subfolders (expected root/<class>/<image>)", root);
    }
    /* pass 1: count images */
    char path[4096];
    int64_t total = 0;
    for (int k = 0; k < classes.n; k++) {
        snprintf(path, sizeof path, "%s/%s", root, classes.v[k]);
        if ((st = genrep__list_dir(&files, path, 0))) { genrep__names_free(&classes); return st; }
        total += files.n;
        genrep__names_free(&files);
    }
    if (total == 0) {
        genrep__names_free(&classes);
        return genrep__fail(GENREP_ERR_FORMAT, "%s: the class subfolders hold no image files", root);
    }
    size_t plane = (size_t)C * out_h * out_w;
    out->images = (float *)genrep_alloc((size_t)total * plane * sizeof(float));
    out->labels = (int32_t *)genrep_alloc((size_t)total * sizeof(int32_t));
    float *tmp = NULL;
    size_t tmp_cap = 0;
    if (!out->images || !out->labels) {
        st = genrep__fail(GENREP_ERR_NOMEM, "%s: cannot allocate %lld images", root, (long long)total);
        goto fail;
    }
    /* pass 2: decode, convert to float planes, resize */
    {
        int64_t i = 0;
        for (int k = 0; k < classes.n && !st; k++) {
            char cdir[4096];
            snprintf(cdir, sizeof cdir, "%s/%s", root, classes.v[k]);
            if ((st = genrep__list_dir(&files, cdir, 0))) break;
            for (int f = 0; f < files.n && !st && i < total; f++) {
                int pn = snprintf(path, sizeof path, "%s/%s", cdir, files.v[f]);
                if (pn < 0 || (size_t)pn >= sizeof path) {
                    st = genrep__fail(GENREP_ERR_ARG, "%s/%s: path too long", cdir, files.v[f]);
                    break;
                }
                int w = 0, h = 0, comp = 0;
                if (!stbi_info(path, &w, &h, &comp)) {
                    st = genrep__fail(GENREP_ERR_FORMAT, "%s: cannot read image: %s", path, stbi_failure_reason());
                    break;
                }
                if (w < 1 || h < 1 || w > GENREP_IMAGE_MAX_SIDE || h > GENREP_IMAGE_MAX_SIDE || (int64_t)w * h > ((int64_t)1 << 28)) {
                    st = genrep__fail(GENREP_ERR_FORMAT, "%s: image %dx%d exceeds the bound of %d pixels a side", path, w, h, GENREP_IMAGE_MAX_SIDE);
                    break;
                }
                unsigned char *px = stbi_load(path, &w, &h, &comp, C);
                if (!px) {
                    st = genrep__fail(GENREP_ERR_FORMAT, "%s: cannot decode image: %s", path, stbi_failure_reason());
                    break;
                }
                size_t need = (size_t)C * w * h;
                if (need > tmp_cap) {
                    genrep_free(tmp);
                    tmp = (float *)genrep_alloc(need * sizeof(float));
                    tmp_cap = tmp ? need : 0;
                    if (!tmp) { stbi_image_free(px); st = genrep__fail(GENREP_ERR_NOMEM, "%s: out of memory", path); break; }
                }
                for (int c = 0; c < C; c++)   /* interleaved HWC bytes -> CHW floats */
                    for (size_t q = 0; q < (size_t)w * h; q++) tmp[c * (size_t)w * h + q] = (float)px[q * C + c] / 255.0f;
                stbi_image_free(px);
                /* bilinear over the whole image (tap tables are sized by the output) */
                genrep__resized_crop(out->images + (size_t)i * plane, tmp, C, h, w, 0, 0, h, w, out_h, out_w, 0);
                out->labels[i] = k;
                i++;
            }
            genrep__names_free(&files);
        }
        if (st) goto fail;
        out->n = i; out->c = C; out->h = out_h; out->w = out_w; out->num_classes = classes.n;
    }
    genrep_free(tmp);
    genrep__names_free(&classes);
    return GENREP_OK;
fail:
    genrep_free(tmp);
    genrep__names_free(&files);
    genrep__names_free(&classes);
    genrep_dataset_free(out);
    return st;
}

GENREP_API genrep_status genrep_png_write_grid(const char *path, const float *images, int rows, int cols,
                                               int C, int H, int W, int pad, float pad_value,
                                               const float *mean, const float *std) {
    GENREP__CHECK_PTR(path);
    GENREP__CHECK_PTR(images);
    GENREP__CHECK_POS(rows);
    GENREP__CHECK_POS(cols);
    GENREP__CHECK_POS(H);
    GENREP__CHECK_POS(W);
    GENREP__CHECK_NONNEG(pad);
    if (C != 1 && C != 3) return genrep__fail(GENREP_ERR_ARG, "%s: C must be 1 or 3, got %d", __func__, C);
    if ((mean == NULL) != (std == NULL)) return genrep__fail(GENREP_ERR_ARG, "%s: give both mean and std or neither", __func__);
    int64_t gw = (int64_t)cols * (W + pad) + pad, gh = (int64_t)rows * (H + pad) + pad;
    if (gw > 65535 || gh > 65535) return genrep__fail(GENREP_ERR_ARG, "%s: grid %lldx%lld too large for a PNG here", __func__, (long long)gw, (long long)gh);
    unsigned char *px = (unsigned char *)genrep_alloc((size_t)gw * gh * C);
    if (!px) return genrep__fail(GENREP_ERR_NOMEM, "%s: cannot allocate the %lldx%lld grid", __func__, (long long)gw, (long long)gh);
    unsigned char padb = (unsigned char)(genrep__clamp01(pad_value) * 255.0f + 0.5f);
    memset(px, padb, (size_t)gw * gh * C);
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < cols; q++) {
            const float *img = images + ((size_t)r * cols + q) * C * H * W;
            int64_t y0 = pad + (int64_t)r * (H + pad), x0 = pad + (int64_t)q * (W + pad);
            for (int c = 0; c < C; c++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        float v = img[((size_t)c * H + y) * W + x];
                        if (mean) v = v * std[c] + mean[c];
                        if (v != v) v = 0.0f; /* NaN shows as black */
                        px[((y0 + y) * gw + x0 + x) * C + c] = (unsigned char)(genrep__clamp01(v) * 255.0f + 0.5f);
                    }
        }
    int ok = stbi_write_png(path, (int)gw, (int)gh, C, px, (int)gw * C);
    genrep_free(px);
    if (!ok) return genrep__fail(GENREP_ERR_IO, "%s: cannot write PNG (directory missing or not writable?)", path);
    return GENREP_OK;
}
#endif /* GENREP_IMAGE_IO */
