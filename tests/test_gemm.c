/* [GEMM] genrep_sgemm on every ISA path this CPU runs, against genrep_sgemm_ref:
   shape sweep (1, primes, tile and cache-block boundaries), all 4 transposes,
   padded leading dimensions, alpha/beta variants, beta == 0 over NaN-filled C,
   bitwise equality across thread counts, argument errors. */
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include "testutil.h"
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* op(X)(r, c) for a row-major X stored with leading dimension ld. */
static float opel(const float *X, int ld, int trans, int r, int c) {
    return trans ? X[(size_t)c * ld + r] : X[(size_t)r * ld + c];
}

/* Per-element error bound: the reference and the blocked path sum the same K
   products in different orders (and with / without FMA); each rounding is at
   most eps * (partial sum) <= eps * S with S = sum_k |a_ik b_kj|. Random
   rounding errors grow like sqrt(K); 16 * eps * sqrt(K) * S leaves a wide
   margin, yet a missing or doubled term (~S/K) is caught for all K here. */
static void gemm_bound(float *tol, int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, const float *C0, int ldc) {
    const double eps = 1.1920929e-7;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += fabs((double)opel(A, lda, tA, i, k) * opel(B, ldb, tB, k, j));
            double c = beta == 0.0f ? 0.0 : fabs((double)beta * C0[(size_t)i * ldc + j]);
            tol[(size_t)i * ldc + j] = (float)(16 * eps * sqrt((double)K + 1) * (fabs(alpha) * s + c) + 1e-30);
        }
}

/* One configuration on all ISA paths; returns nothing, asserts. */
static void check_case(int tA, int tB, int M, int N, int K, float alpha, float beta, int pad, uint64_t seed) {
    int lda = (tA ? M : K) + pad, ldb = (tB ? K : N) + pad, ldc = N + pad;
    if (lda < 1) lda = 1;
    if (ldb < 1) ldb = 1;
    if (ldc < 1) ldc = 1;
    size_t na = (size_t)(tA ? K : M) * lda, nb = (size_t)(tB ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = (float *)malloc((na + 1) * sizeof(float)), *B = (float *)malloc((nb + 1) * sizeof(float));
    float *C0 = (float *)malloc((nc + 1) * sizeof(float)), *R = (float *)malloc((nc + 1) * sizeof(float));
    float *G = (float *)malloc((nc + 1) * sizeof(float)), *T = (float *)malloc((nc + 1) * sizeof(float));
    tu_fill(A, na, seed, -1, 1);
    tu_fill(B, nb, seed + 1, -1, 1);
    tu_fill(C0, nc, seed + 2, -1, 1);
    if (beta == 0.0f) /* beta == 0 must ignore C: NaN there must not reach the result */
        for (size_t i = 0; i < nc; i++) C0[i] = NAN;
    memcpy(R, C0, nc * sizeof(float));
    ck_assert_int_eq(genrep_sgemm_ref(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc), GENREP_OK);
    gemm_bound(T, tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C0, ldc);
    genrep_isa best = genrep_get_isa();
    int paths = 0;
    for (int isa = GENREP_ISA_SCALAR; isa <= GENREP_ISA_AVX512; isa++) {
        if (genrep_set_isa((genrep_isa)isa) != GENREP_OK) continue;
        paths++;
        memcpy(G, C0, nc * sizeof(float));
        ck_assert_int_eq(genrep_sgemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, G, ldc), GENREP_OK);
        /* Find the first bad element, then assert once (each passing
           ck_assert costs Check a write(2), far too slow per element). */
        int bi = -1, bj = -1, pad_written = 0;
        for (int i = 0; i < M && bi < 0; i++)
            for (int j = 0; j < ldc; j++) {
                size_t x = (size_t)i * ldc + j;
                if (j >= N) { /* padding columns of C are never touched */
                    if (memcmp(&G[x], &C0[x], sizeof(float)) != 0) { bi = i; bj = j; pad_written = 1; break; }
                    continue;
                }
                if (!(fabsf(G[x] - R[x]) <= T[x])) { bi = i; bj = j; break; } /* also catches NaN */
            }
        if (bi >= 0) {
            size_t x = (size_t)bi * ldc + bj;
            ck_assert_msg(0,
                          "%s tA=%d tB=%d M=%d N=%d K=%d alpha=%g beta=%g pad=%d: C(%d,%d) got %.9g want %.9g "
                          "(tol %.3g)%s",
                          genrep_isa_name((genrep_isa)isa), tA, tB, M, N, K, alpha, beta, pad, bi, bj, G[x], R[x],
                          T[x], pad_written ? " [padding column written]" : "");
        }
    }
    /* every path the CPU can run was exercised (scalar at least) */
    ck_assert_int_eq(paths, genrep__cpu_max_isa() + 1);
    ck_assert_int_eq(genrep_set_isa(best), GENREP_OK);
    free(A); free(B); free(C0); free(R); free(G); free(T);
}

/* Sizes around every tile (MR 4/6/8, NR 8/16/48) and the scalar path's
   MC 128 / KC 256 block boundaries, plus 1 and primes. The larger KC/NC of
   the SIMD paths are crossed in sweep_large, and every block boundary with
   tiny blocks in sweep_tiny_blocks. */
static const int shapes[][3] = {
    {1, 1, 1},    {1, 17, 1},   {17, 1, 1},    {1, 1, 31},   {7, 13, 17},   {13, 7, 31},  {31, 33, 65},
    {65, 97, 7},  {8, 48, 16},  {6, 16, 9},    {4, 8, 3},    {9, 49, 33},   {5, 15, 2},   {7, 47, 129},
    {129, 65, 97}, {127, 50, 255}, {145, 17, 257}, {33, 97, 385}, {16, 96, 384}, {12, 32, 256}, {3, 100, 40},
    {1, 200, 5},
};

START_TEST(sweep_small) {
    int nshape = (int)(sizeof shapes / sizeof shapes[0]);
    const float alphas[2] = {1.0f, -0.5f}, betas[3] = {0.0f, 1.0f, 0.3f};
    for (int s = 0; s < nshape; s++)
        for (int t = 0; t < 4; t++)
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 3; b++) {
                    int pad = (s + t + a + b) % 3 == 0 ? 0 : (s + b) % 5 + 1;
                    check_case(t >> 1, t & 1, shapes[s][0], shapes[s][1], shapes[s][2], alphas[a], betas[b], pad,
                               1000u * s + 10u * t + 3u * a + b);
                }
}
END_TEST

/* One moderately large case per transpose; crosses MC and KC blocks and
   (N > NC) the NC block of every path; the M-split threading case too. */
START_TEST(sweep_large) {
    for (int t = 0; t < 4; t++) check_case(t >> 1, t & 1, 300, 257, 513, t & 1 ? -0.5f : 1.0f, t == 1 ? 0.3f : 0.0f, t, 77 + t);
    check_case(0, 0, 9, 3200, 20, 1.0f, 0.3f, 1, 91);
    check_case(1, 1, 3, 3300, 5, -0.5f, 0.0f, 0, 92);
    check_case(0, 1, 400, 20, 70, 1.0f, 1.0f, 2, 93);  /* N small: threads split M */
    check_case(0, 0, 64, 2000, 200, 1.0f, 0.0f, 0, 94); /* conv-like: small M, long N */
    check_case(0, 0, 20, 1000, 1100, 1.0f, 0.3f, 3, 95); /* several k blocks with A packed once */
    check_case(1, 0, 20, 1000, 1100, -0.5f, 0.0f, 0, 96);
}
END_TEST

/* Tiny cache blocks (internal knobs of the implementation, reachable here
   because this file includes it): every shape below then crosses many MC,
   KC and NC blocks, thread chunks and both A-packing strategies cheaply. */
START_TEST(sweep_tiny_blocks) {
    int saved[3][4];
    size_t saved_akeep = genrep__gemm_akeep;
    memcpy(saved, genrep__gemm_blocking, sizeof saved);
    static const int tiny[3][4] = {{8, 5, 16, 24}, {12, 7, 32, 48}, {16, 9, 96, 144}};
    memcpy(genrep__gemm_blocking, tiny, sizeof tiny);
    static const int sh[][3] = {{37, 301, 29}, {50, 97, 40}, {9, 500, 19}, {70, 45, 23}};
    for (int akeep = 0; akeep < 2; akeep++) {
        genrep__gemm_akeep = akeep ? (size_t)1 << 20 : 0; /* A packed once / per block */
        for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++)
            for (int t = 0; t < 4; t++)
                check_case(t >> 1, t & 1, sh[s][0], sh[s][1], sh[s][2], t & 1 ? -0.5f : 1.0f,
                           s % 2 ? 0.3f : 0.0f, (int)s, 500 + 10 * s + t);
    }
    memcpy(genrep__gemm_blocking, saved, sizeof saved);
    genrep__gemm_akeep = saved_akeep;
}
END_TEST

START_TEST(k_zero_and_empty) {
    float C[6] = {1, 2, 3, 4, 5, 6}, A[1] = {7}, B[1] = {8};
    /* K == 0: C = beta * C */
    ck_assert_int_eq(genrep_sgemm(0, 0, 2, 3, 0, 1.0f, A, 1, B, 3, 0.5f, C, 3), GENREP_OK);
    for (int i = 0; i < 6; i++) ck_assert(C[i] == 0.5f * (i + 1));
    for (int i = 0; i < 6; i++) C[i] = NAN;
    ck_assert_int_eq(genrep_sgemm(0, 0, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 0.0f, C, 3), GENREP_OK);
    for (int i = 0; i < 6; i++) ck_assert(C[i] == 0.0f);
    /* M == 0 / N == 0: nothing happens, C may be NULL */
    ck_assert_int_eq(genrep_sgemm(0, 0, 0, 3, 4, 1.0f, NULL, 4, NULL, 3, 0.0f, NULL, 3), GENREP_OK);
    ck_assert_int_eq(genrep_sgemm(0, 0, 2, 0, 4, 1.0f, NULL, 4, NULL, 1, 0.0f, NULL, 1), GENREP_OK);
    /* alpha == 0 with beta == 0 over NaN gives zeros */
    float A4[4] = {1, 2, 3, 4}, B4[4] = {1, 2, 3, 4}, C4[4] = {NAN, NAN, NAN, NAN};
    ck_assert_int_eq(genrep_sgemm(0, 0, 2, 2, 2, 0.0f, A4, 2, B4, 2, 0.0f, C4, 2), GENREP_OK);
    for (int i = 0; i < 4; i++) ck_assert(C4[i] == 0.0f);
    /* exact small product: [1 2; 3 4] @ [1 2; 3 4] = [7 10; 15 22] */
    ck_assert_int_eq(genrep_sgemm(0, 0, 2, 2, 2, 1.0f, A4, 2, B4, 2, 0.0f, C4, 2), GENREP_OK);
    ck_assert(C4[0] == 7 && C4[1] == 10 && C4[2] == 15 && C4[3] == 22);
    /* A^T B^T = (B A)^T = [7 15; 10 22] */
    ck_assert_int_eq(genrep_sgemm(1, 1, 2, 2, 2, 1.0f, A4, 2, B4, 2, 0.0f, C4, 2), GENREP_OK);
    ck_assert(C4[0] == 7 && C4[1] == 15 && C4[2] == 10 && C4[3] == 22);
}
END_TEST

START_TEST(bad_args) {
    float A[16] = {0}, B[16] = {0}, C[16] = {0};
    ck_assert_int_eq(genrep_sgemm(0, 0, -1, 2, 2, 1, A, 2, B, 2, 0, C, 2), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "genrep_sgemm") != NULL);
    ck_assert_int_eq(genrep_sgemm(0, 0, 2, -2, 2, 1, A, 2, B, 2, 0, C, 2), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_sgemm(0, 0, 2, 2, -3, 1, A, 2, B, 2, 0, C, 2), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_sgemm(0, 0, 2, 3, 4, 1, A, 3, B, 3, 0, C, 3), GENREP_ERR_ARG); /* lda < K */
    ck_assert_int_eq(genrep_sgemm(1, 0, 2, 3, 4, 1, A, 1, B, 3, 0, C, 3), GENREP_ERR_ARG); /* lda < M (A^T) */
    ck_assert_int_eq(genrep_sgemm(0, 0, 2, 3, 4, 1, A, 4, B, 2, 0, C, 3), GENREP_ERR_ARG); /* ldb < N */
    ck_assert_int_eq(genrep_sgemm(0, 1, 2, 3, 4, 1, A, 4, B, 3, 0, C, 3), GENREP_ERR_ARG); /* ldb < K (B^T) */
    ck_assert_int_eq(genrep_sgemm(0, 0, 2, 3, 4, 1, A, 4, B, 3, 0, C, 2), GENREP_ERR_ARG); /* ldc < N */
    ck_assert_int_eq(genrep_sgemm(0, 0, 2, 3, 4, 1, NULL, 4, B, 3, 0, C, 3), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_sgemm(0, 0, 2, 3, 4, 1, A, 4, NULL, 3, 0, C, 3), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_sgemm(0, 0, 2, 3, 4, 1, A, 4, B, 3, 0, NULL, 3), GENREP_ERR_ARG);
    for (int i = 0; i < 16; i++) ck_assert(C[i] == 0.0f); /* nothing written */
}
END_TEST

/* The determinism promise: the same bits for 1, 2 and 3 threads, per ISA. */
START_TEST(threads_bitwise) {
#ifdef _OPENMP
    static const int cases[][5] = {/* tA, tB, M, N, K */
                                   {0, 0, 64, 1500, 600},  {0, 1, 130, 517, 300}, {1, 0, 500, 40, 400},
                                   {1, 1, 97, 389, 129}};
    int saved = omp_get_max_threads();
    genrep_isa best = genrep_get_isa();
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int tA = cases[c][0], tB = cases[c][1], M = cases[c][2], N = cases[c][3], K = cases[c][4];
        size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
        float *A = (float *)malloc(na * sizeof(float)), *B = (float *)malloc(nb * sizeof(float));
        float *C1 = (float *)malloc(nc * sizeof(float)), *Cn = (float *)malloc(nc * sizeof(float));
        tu_fill(A, na, 5 + c, -1, 1);
        tu_fill(B, nb, 6 + c, -1, 1);
        for (int isa = GENREP_ISA_SCALAR; isa <= GENREP_ISA_AVX512; isa++) {
            if (genrep_set_isa((genrep_isa)isa) != GENREP_OK) continue;
            tu_fill(C1, nc, 7, -1, 1);
            omp_set_num_threads(1);
            ck_assert_int_eq(genrep_sgemm(tA, tB, M, N, K, 0.7f, A, tA ? M : K, B, tB ? K : N, 0.3f, C1, N),
                             GENREP_OK);
            for (int nt = 2; nt <= 3; nt++) {
                tu_fill(Cn, nc, 7, -1, 1);
                omp_set_num_threads(nt);
                ck_assert_int_eq(genrep_sgemm(tA, tB, M, N, K, 0.7f, A, tA ? M : K, B, tB ? K : N, 0.3f, Cn, N),
                                 GENREP_OK);
                ck_assert_msg(memcmp(C1, Cn, nc * sizeof(float)) == 0, "%s: %d threads differ from 1 (case %zu)",
                              genrep_isa_name((genrep_isa)isa), nt, c);
            }
        }
        free(A); free(B); free(C1); free(Cn);
    }
    omp_set_num_threads(saved);
    ck_assert_int_eq(genrep_set_isa(best), GENREP_OK);
#endif
}
END_TEST

/* Buffers survive release and are re-made; a call inside a parallel region
   (as the conv layers may do per sample) runs on the caller's thread. */
START_TEST(buffers_and_nested) {
    enum { M = 37, N = 53, K = 71 };
    float A[M * K], B[K * N], R[M * N], G[4][M * N];
    tu_fill(A, M * K, 1, -1, 1);
    tu_fill(B, K * N, 2, -1, 1);
    ck_assert_int_eq(genrep_sgemm(0, 0, M, N, K, 1, A, K, B, N, 0, R, N), GENREP_OK);
    genrep_release_buffers();
    genrep_release_buffers(); /* twice is fine */
#ifdef _OPENMP
#pragma omp parallel for num_threads(2)
#endif
    for (int r = 0; r < 4; r++) genrep_sgemm(0, 0, M, N, K, 1, A, K, B, N, 0, G[r], N);
    for (int r = 0; r < 4; r++) ck_assert(memcmp(G[r], R, sizeof R) == 0);
    genrep_release_buffers();
}
END_TEST

/* ------------------------------------------------------------ bf16 [GEMM] */

static uint32_t bits_of(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static float float_of(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

/* genrep_bf16_round on values whose bf16 is known by hand: ties to even,
   carries into the exponent, overflow, denormals (read as zero), NaN. */
START_TEST(bf16_round_cases) {
    static const uint32_t cases[][2] = {
        {0x3f800000u, 0x3f80u}, /* 1 */
        {0x3f808000u, 0x3f80u}, /* 1 + half an ulp: tie, to even (down) */
        {0x3f818000u, 0x3f82u}, /* tie, to even (up) */
        {0x3f808001u, 0x3f81u}, /* just above the tie */
        {0x3f807fffu, 0x3f80u}, /* just below */
        {0x3fffffffu, 0x4000u}, /* carry into the exponent */
        {0x7f7fffffu, 0x7f80u}, /* FLT_MAX rounds to infinity */
        {0x7f800000u, 0x7f80u}, {0xff800000u, 0xff80u}, /* infinities */
        {0x80000000u, 0x8000u}, {0x00000000u, 0x0000u}, /* signed zeros */
        {0x00800000u, 0x0080u}, /* FLT_MIN stays */
        {0x007fffffu, 0x0000u}, {0x807fffffu, 0x8000u}, {0x00000001u, 0x0000u}, /* denormals -> signed zero */
        {0x7f800001u, 0x7fc0u}, {0xff812345u, 0xffc1u}, {0x7fffffffu, 0x7fffu}, /* NaN: quieted, top bits kept */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t h = genrep_bf16_round(float_of(cases[i][0]));
        ck_assert_msg(h == cases[i][1], "bf16_round(%08x) = %04x, want %04x", cases[i][0], h, cases[i][1]);
        ck_assert(bits_of(genrep_bf16_to_f32(h)) == (uint32_t)h << 16);
    }
}
END_TEST

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
__attribute__((target("avx512f,avx512vl,avx512bf16"))) static uint16_t hw_cvt(float x) {
    __m128 v = _mm_set1_ps(x);
    __m128bh r = _mm_cvtne2ps_pbh(v, v);
    uint16_t o[8];
    memcpy(o, &r, sizeof o);
    return o[0];
}
/* One vdpbf16ps lane: acc + a.hi*b.hi + a.lo*b.lo as the hardware does it. */
__attribute__((target("avx512f,avx512vl,avx512bf16"))) static float hw_dp(float acc, uint32_t a, uint32_t b) {
    __m128 c = _mm_dpbf16_ps(_mm_set1_ps(acc), (__m128bh)_mm_set1_epi32((int)a), (__m128bh)_mm_set1_epi32((int)b));
    return _mm_cvtss_f32(c);
}
static int have_bf16(void) { return genrep__cpu_max_isa() == GENREP_ISA_AVX512 && __builtin_cpu_supports("avx512bf16"); }
#endif

/* A random float for the hardware comparisons: any bits (NaN, Inf,
   denormal included), a value near the denormal boundary, or a moderate one. */
static float rand_float(genrep_rng *r, int mode) {
    uint32_t u = genrep_rng_u32(r);
    if (mode == 0) return float_of(u);
    if (mode == 1) return float_of((u & 0x807fffffu) | ((uint32_t)(115 + u % 24) << 23)); /* 2^-12..2^11 x 2^-115.. */
    return 2.0f * genrep_rng_uniform(r) - 1.0f;
}

/* genrep_bf16_round is vcvtne2ps2bf16, and genrep__bf16_fma twice is one
   vdpbf16ps lane, on random and edge inputs (skipped without AVX512-BF16).
   This is how the model in [GEMM] bf16 was found: Zen 5 does the odd pair
   first, one fused rounding per product, DAZ in, FTZ out judged after
   rounding to 24 bits (case acc = 2^-126, p = -2^-150 below). */
START_TEST(bf16_hw_model) {
#if defined(__x86_64__) || defined(__i386__)
    if (!have_bf16()) { fprintf(stderr, "bf16_hw_model: no AVX512-BF16 here, skipped\n"); return; }
    genrep_rng r;
    genrep_rng_init(&r, 77, 1);
    long nan_payload = 0;
    for (int it = 0; it < 300000; it++) {
        float x = rand_float(&r, it % 3);
        uint16_t h = genrep_bf16_round(x), w = hw_cvt(x);
        ck_assert_msg(h == w, "bf16_round(%08x) = %04x, vcvtne2ps2bf16 gives %04x", bits_of(x), h, w);
    }
    for (int it = 0; it < 600000; it++) {
        int mode = it % 3;
        uint16_t a0 = genrep_bf16_round(rand_float(&r, mode)), a1 = genrep_bf16_round(rand_float(&r, mode));
        uint16_t b0 = genrep_bf16_round(rand_float(&r, mode)), b1 = genrep_bf16_round(rand_float(&r, mode));
        float acc = rand_float(&r, mode); /* accumulators are never denormal (FTZ) */
        if (fabsf(acc) < 0x1p-126f) acc = copysignf(0.0f, acc);
        float hw = hw_dp(acc, (uint32_t)a0 | (uint32_t)a1 << 16, (uint32_t)b0 | (uint32_t)b1 << 16);
        float m = genrep__bf16_fma(genrep_bf16_to_f32(a0), genrep_bf16_to_f32(b0),
                                   genrep__bf16_fma(genrep_bf16_to_f32(a1), genrep_bf16_to_f32(b1), acc));
        if (isnan(hw) && isnan(m)) { nan_payload += bits_of(hw) != bits_of(m); continue; }
        ck_assert_msg(bits_of(hw) == bits_of(m), "vdpbf16ps(acc %a, a (%a, %a), b (%a, %a)) = %a, model %a", acc,
                      genrep_bf16_to_f32(a0), genrep_bf16_to_f32(a1), genrep_bf16_to_f32(b0), genrep_bf16_to_f32(b1),
                      hw, m);
    }
    /* Hand-made edge cases: (acc, a1*b1 with a0*b0 = 0). */
    static const float edge[][3] = {
        {0x1p-126f, -0x1p-75f, 0x1p-75f},  /* exact 2^-126 - 2^-150: tiny at 24 bits -> +0 */
        {0x1p-126f, -0x1p-76f, 0x1p-76f},  /* 2^-126 - 2^-152 rounds to 2^-126: kept */
        {0x1p-126f, -0x1p-75f, 0x1p-76f},  /* tie at 2^-151: to even, 2^-126 */
        {1.0f, 1.0f, 0x1p-24f},            /* 1 + 2^-24: tie, to even (1) */
        {1.0f, 1.0f, 0x1.8p-23f},          /* 1 + 3*2^-24: tie, to even (1 + 2^-22) */
        {0.0f, 0x1p-100f, 0x1p-100f},      /* product below FLT_MIN: +0 */
        {-0.0f, -0x1p-100f, 0x1p-100f},    /* -0, then + 0*0: +0 */
        {INFINITY, -1.0f, INFINITY},       /* inf - inf = NaN */
        {3.0e38f, 2.0f, 2.0e38f},          /* overflow to inf */
    };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        uint32_t a = (uint32_t)genrep_bf16_round(edge[i][1]) << 16, b = (uint32_t)genrep_bf16_round(edge[i][2]) << 16;
        /* the low pair is 0 * 0: the lane's second step adds +0 (so -0 becomes +0) */
        float hw = hw_dp(edge[i][0], a, b), m = genrep__bf16_fma(0.0f, 0.0f, genrep__bf16_fma(edge[i][1], edge[i][2], edge[i][0]));
        ck_assert_msg(bits_of(hw) == bits_of(m) || (isnan(hw) && isnan(m)), "edge %zu: hw %a model %a", i, hw, m);
    }
    fprintf(stderr, "bf16_hw_model: model == vdpbf16ps (NaN payloads differ in %ld of 600000)\n", nan_payload);
#endif
}
END_TEST

/* Largest |got - want| / bound over an (M,N) result, 0 when NaN-free and
   within; the bound of [GEMM] bf16 (see there):
     |C_bf16 - C_exact| <= (2u + u^2) S + g(K + nkb) (1 + u)^2 S + (K + nkb) 2^-126
     |C_fp32 - C_exact| <= g(K) S,   g(n) = n v / (1 - n v),  u = 2^-8, v = 2^-24
   with S = sum_k |a_ik b_kj| of the unrounded operands. */
static double bf16_bound_ratio(const float *got, const float *want, const float *A, const float *B, int M, int N,
                               int K, int *bi, int *bj) {
    const double u = 0x1p-8, v = 0x1p-24;
    int nkb = K / 1024 + (K % 1024 != 0);
    double n1 = K + nkb, g1 = n1 * v / (1 - n1 * v), g2 = K * v / (1 - K * v);
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double S = 0;
            for (int k = 0; k < K; k++) S += fabs((double)A[(size_t)i * K + k] * B[(size_t)k * N + j]);
            double tol = (2 * u + u * u) * S + g1 * (1 + u) * (1 + u) * S + g2 * S + n1 * 0x1p-126;
            double d = fabs((double)got[(size_t)i * N + j] - want[(size_t)i * N + j]);
            double q = d != d ? INFINITY : d / tol;
            if (q > worst) { worst = q; *bi = i; *bj = j; }
        }
    return worst;
}

/* The reference against fp32 GEMM within the bound (K across block edges). */
START_TEST(bf16_ref_vs_fp32) {
    static const int shapes[][3] = {{7, 9, 1}, {5, 13, 33}, {3, 17, 1023}, {4, 5, 1025}, {2, 3, 2100}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = (float *)malloc((size_t)M * K * 4), *B = (float *)malloc((size_t)K * N * 4);
        float *R = (float *)malloc((size_t)M * N * 4), *F = (float *)malloc((size_t)M * N * 4);
        tu_fill(A, (size_t)M * K, 40 + s, -1, 1);
        tu_fill(B, (size_t)K * N, 50 + s, -2, 2);
        ck_assert_int_eq(genrep_gemm_bf16_ref(0, 0, M, N, K, A, K, B, N, 0.0f, R, N), GENREP_OK);
        ck_assert_int_eq(genrep_sgemm_ref(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, F, N), GENREP_OK);
        int bi = 0, bj = 0;
        double q = bf16_bound_ratio(R, F, A, B, M, N, K, &bi, &bj);
        ck_assert_msg(q <= 1.0, "bf16 ref M=%d N=%d K=%d: C(%d,%d) %.9g vs fp32 %.9g, %.3g x the bound", M, N, K,
                      bi, bj, R[bi * N + bj], F[bi * N + bj], q);
        /* and it is not fp32 GEMM: rounding the operands shows */
        ck_assert(memcmp(R, F, (size_t)M * N * 4) != 0);
        free(A); free(B); free(R); free(F);
    }
}
END_TEST

/* First element where got and want differ in bits (both NaN counts as the
   same: payloads are unspecified), or -1. */
static long bf16_first_diff(const float *got, const float *want, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (bits_of(got[i]) != bits_of(want[i]) && !(isnan(got[i]) && isnan(want[i]))) return (long)i;
    return -1;
}

/* Fill with values that exercise the corners: mostly uniform, some huge,
   tiny (products near and below FLT_MIN), denormal, exact ties of the
   rounding, zeros of both signs, and (when specials) infinities and NaN. */
static void bf16_fill(float *x, size_t n, uint64_t seed, int specials) {
    genrep_rng r;
    genrep_rng_init(&r, seed, 0xbf16);
    for (size_t i = 0; i < n; i++) {
        uint32_t sel = genrep_rng_below(&r, 64);
        float v = 2.0f * genrep_rng_uniform(&r) - 1.0f;
        if (sel == 0) v *= 0x1p-63f;                                       /* products near 2^-126 */
        else if (sel == 1) v = float_of(genrep_rng_u32(&r) & 0x807fffffu); /* denormal */
        else if (sel == 2) v = float_of((bits_of(v) & 0xffff0000u) | 0x8000u); /* a tie */
        else if (sel == 3) v = genrep_rng_below(&r, 2) ? 0.0f : -0.0f;
        else if (sel == 4) v *= 0x1p60f;                                   /* large, cancels */
        else if (specials && sel == 5) v = genrep_rng_below(&r, 2) ? INFINITY : -INFINITY;
        else if (specials && sel == 6) v = NAN;
        x[i] = v;
    }
}

/* Every path this CPU runs (scalar, AVX2 emulation, AVX512-BF16) against
   genrep_gemm_bf16_ref bit for bit: odd sizes around the tiles (4x8, 4x16,
   8x48) and the k block (1024), all transposes, padded leading
   dimensions, beta 0 (over NaN) and 1, corner values. */
static void bf16_case(int tA, int tB, int M, int N, int K, float beta, int pad, int specials, uint64_t seed) {
    int lda = (tA ? M : K) + pad, ldb = (tB ? K : N) + pad, ldc = N + pad;
    if (lda < 1) lda = 1;
    if (ldb < 1) ldb = 1;
    if (ldc < 1) ldc = 1;
    size_t na = (size_t)(tA ? K : M) * lda, nb = (size_t)(tB ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = (float *)malloc((na + 1) * 4), *B = (float *)malloc((nb + 1) * 4);
    float *C0 = (float *)malloc((nc + 1) * 4), *R = (float *)malloc((nc + 1) * 4), *G = (float *)malloc((nc + 1) * 4);
    bf16_fill(A, na, seed, specials);
    bf16_fill(B, nb, seed + 1, specials);
    tu_fill(C0, nc, seed + 2, -1, 1);
    if (beta == 0.0f)
        for (size_t i = 0; i < nc; i++) C0[i] = NAN;
    memcpy(R, C0, nc * 4);
    ck_assert_int_eq(genrep_gemm_bf16_ref(tA, tB, M, N, K, A, lda, B, ldb, beta, R, ldc), GENREP_OK);
    genrep_isa best = genrep_get_isa();
    for (int isa = GENREP_ISA_SCALAR; isa <= GENREP_ISA_AVX512; isa++) {
        if (genrep_set_isa((genrep_isa)isa) != GENREP_OK) continue;
        memcpy(G, C0, nc * 4);
        ck_assert_int_eq(genrep_gemm_bf16(tA, tB, M, N, K, A, lda, B, ldb, beta, G, ldc), GENREP_OK);
        long d = bf16_first_diff(G, R, nc);
        ck_assert_msg(d < 0, "bf16 %s tA=%d tB=%d M=%d N=%d K=%d beta=%g pad=%d: C[%ld] got %a want %a",
                      genrep__kernels()->gemm_bf16.name, tA, tB, M, N, K, beta, pad, d, d < 0 ? 0.0 : G[d],
                      d < 0 ? 0.0 : R[d]);
    }
    ck_assert_int_eq(genrep_set_isa(best), GENREP_OK);
    free(A); free(B); free(C0); free(R); free(G);
}

START_TEST(bf16_paths_bitwise) {
    static const int sizes[][3] = {{1, 1, 1},   {3, 5, 2},    {4, 8, 7},    {9, 49, 3},   {8, 48, 64},
                                   {13, 97, 33}, {17, 50, 129}, {5, 7, 1023}, {6, 17, 1025}, {33, 65, 2051}};
    uint64_t seed = 900;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int t = 0; t < 4; t++) {
            int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
            bf16_case(t >> 1, t & 1, M, N, K, (t & 1) ? 1.0f : 0.0f, (int)(s % 3), 0, seed++);
        }
    /* infinities and NaN through every path (NaN where the reference has NaN) */
    bf16_case(0, 0, 11, 53, 77, 1.0f, 1, 1, seed++);
    bf16_case(1, 1, 10, 20, 300, 0.0f, 0, 1, seed++);
    /* big enough for several threads, MC/NC blocks and edge tiles */
    bf16_case(0, 0, 130, 800, 600, 0.0f, 0, 0, seed++);
    bf16_case(1, 0, 70, 1000, 200, 1.0f, 3, 0, seed++);
    /* A packed once for several NC blocks, over three k blocks */
    bf16_case(0, 1, 20, 900, 2100, 1.0f, 0, 0, seed++);
}
END_TEST

/* The fast path against fp32 GEMM within the bound, on conv-like shapes. */
START_TEST(bf16_vs_fp32_bound) {
    static const int shapes[][3] = {{64, 700, 288}, {32, 300, 2500}, {10, 1000, 99}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = (float *)malloc((size_t)M * K * 4), *B = (float *)malloc((size_t)K * N * 4);
        float *R = (float *)malloc((size_t)M * N * 4), *F = (float *)malloc((size_t)M * N * 4);
        tu_fill(A, (size_t)M * K, 60 + s, -1, 1);
        tu_fill(B, (size_t)K * N, 70 + s, -1, 1);
        ck_assert_int_eq(genrep_gemm_bf16(0, 0, M, N, K, A, K, B, N, 0.0f, R, N), GENREP_OK);
        ck_assert_int_eq(genrep_sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, F, N), GENREP_OK);
        int bi = 0, bj = 0;
        double q = bf16_bound_ratio(R, F, A, B, M, N, K, &bi, &bj);
        ck_assert_msg(q <= 1.0, "bf16 M=%d N=%d K=%d: C(%d,%d) %.9g vs fp32 %.9g, %.3g x the bound", M, N, K, bi, bj,
                      R[bi * N + bj], F[bi * N + bj], q);
        free(A); free(B); free(R); free(F);
    }
}
END_TEST

/* Same bits on 1, 2 and 3 threads on every path; bad beta refused. */
START_TEST(bf16_threads_and_args) {
    enum { M = 72, N = 1500, K = 700 };
    float *A = (float *)malloc((size_t)M * K * 4), *B = (float *)malloc((size_t)K * N * 4);
    float *C1 = (float *)malloc((size_t)M * N * 4), *Cn = (float *)malloc((size_t)M * N * 4);
    bf16_fill(A, (size_t)M * K, 5, 0);
    bf16_fill(B, (size_t)K * N, 6, 0);
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    genrep_isa best = genrep_get_isa();
    for (int isa = GENREP_ISA_SCALAR; isa <= GENREP_ISA_AVX512; isa++) {
        if (genrep_set_isa((genrep_isa)isa) != GENREP_OK) continue;
        omp_set_num_threads(1);
        ck_assert_int_eq(genrep_gemm_bf16(0, 1, M, N, K, A, K, B, K, 0.0f, C1, N), GENREP_OK);
        for (int nt = 2; nt <= 3; nt++) {
            omp_set_num_threads(nt);
            ck_assert_int_eq(genrep_gemm_bf16(0, 1, M, N, K, A, K, B, K, 0.0f, Cn, N), GENREP_OK);
            ck_assert_msg(memcmp(C1, Cn, (size_t)M * N * 4) == 0, "bf16 %s: %d threads differ from 1",
                          genrep__kernels()->gemm_bf16.name, nt);
        }
    }
    omp_set_num_threads(saved);
    ck_assert_int_eq(genrep_set_isa(best), GENREP_OK);
#endif
    ck_assert_int_eq(genrep_gemm_bf16(0, 0, 2, 3, 4, A, 4, B, 3, 0.5f, C1, 3), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "beta") != NULL);
    ck_assert_int_eq(genrep_gemm_bf16(0, 0, 2, 3, 4, A, 3, B, 3, 0.0f, C1, 3), GENREP_ERR_ARG); /* lda < K */
    ck_assert_int_eq(genrep_gemm_bf16_ref(0, 0, 2, 3, 4, A, 4, B, 3, 2.0f, C1, 3), GENREP_ERR_ARG);
    free(A); free(B); free(C1); free(Cn);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("gemm");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sweep_small);
    tcase_add_test(tc, sweep_large);
    tcase_add_test(tc, sweep_tiny_blocks);
    tcase_add_test(tc, k_zero_and_empty);
    tcase_add_test(tc, bad_args);
    tcase_add_test(tc, threads_bitwise);
    tcase_add_test(tc, buffers_and_nested);
    tcase_add_test(tc, bf16_round_cases);
    tcase_add_test(tc, bf16_hw_model);
    tcase_add_test(tc, bf16_ref_vs_fp32);
    tcase_add_test(tc, bf16_paths_bitwise);
    tcase_add_test(tc, bf16_vs_fp32_bound);
    tcase_add_test(tc, bf16_threads_and_args);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
