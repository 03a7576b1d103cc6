/* parts/gemm_impl.h: development fragment of genrep.h, inlined before release */
/* ---------------------------------------------------------------- [GEMM] */
/* BLIS-shaped SGEMM (Van Zee & van de Geijn, "BLIS", TOMS 2015):

     for jc in N step NC            (B block KC x NC, packed, L2)
       for pc in K step KC          (pack op(B)(pc:pc+KC, jc:jc+NC) into NR-wide micro-panels)
         for ic in M step MC        (pack op(A)(ic:ic+MC, pc:pc+KC) into MR-tall micro-panels)
           for jr in NC step NR     (one B micro-panel KC x NR, reused MC/MR times from L1/L2)
             for ir in MC step MR   C(MR,NR) = alpha * A-panel @ B-panel + beta * C  (microkernel)

   Only the microkernels are ISA-specific; the driver and packing are portable
   C. Transposes are absorbed by packing: the microkernel always sees A as
   (k, MR) and B as (k, NR), both contiguous. Edge panels are zero-padded;
   edge tiles are computed into a local MR x NR tile whose valid part is then
   added to C, so the microkernel never branches on size. Two refinements for
   the conv GEMMs (M = 64..256 rows, N = tens of thousands of columns, where
   packing B costs about as much memory traffic as the whole product):
   - When op(B) = B is row-major (no transpose), the first row tile of each B
     micro-panel runs a kernel variant that loads B straight from the caller's
     matrix and writes the packed copy as it goes: packing B hides under the
     FMAs instead of being a separate pass (+25..30% on 64x25088x576).
   - A small op(A) (<= genrep__gemm_akeep floats) is packed once per thread
     and call, not once per NC block.

   Threads (OpenMP) take chunks of whole NR panels of N (or MR panels of M
   when N is narrow), handed out dynamically. Every thread packs what it
   needs itself: no barriers inside a call.

   Determinism: the k dimension is cut at KC boundaries that depend on K
   only, and every tile sums k in ascending order inside the microkernel,
   whatever thread computes it. Chunks start at MR / NR multiples, so a
   tile's position (full or edge) does not depend on the thread count either:
   results are bitwise identical for any number of threads (tested for 1, 2,
   3). The packing variant reads the same values in the same order.

   Buffers: every thread (OpenMP worker or caller) keeps its own packing
   buffers, found through thread-local storage, grown on demand and reused
   across calls (no allocation in steady state); genrep_release_buffers()
   frees those of all threads (call it while no GEMM runs). */

/* Microkernel: C(MR,NR) = alpha * sum_k a[k*MR+i] * b[k*NR+j] + beta * C
   (beta == 0: C is not read). a, b are packed micro-panels (64-byte aligned). */
typedef void (*genrep__ukernel_fn)(int kc, const float *a, const float *b, float *c, long ldc,
                                   float alpha, float beta);

/* Variant that reads op(B) = B (K, N) unpacked (row stride ldb) and writes the
   packed micro-panel to bpack as it goes. */
typedef void (*genrep__ukernel_pb_fn)(int kc, const float *a, const float *b, long ldb, float *bpack, float *c,
                                      long ldc, float alpha, float beta);

typedef struct {
    int MR, NR;       /* microkernel tile */
    int MC, KC, NC;   /* cache blocking; MC % MR == 0, NC % NR == 0 */
    int NC_wide;      /* NC when A is too big to pack only once */
    genrep__ukernel_fn kernel;
    genrep__ukernel_pb_fn kernel_pb; /* packs B while computing; NULL: pack first */
} genrep__gemm_cfg;

/* --- scalar microkernel, 4 x 8: plain C, the portable fallback ---------- */
#define GENREP__S_MR 4
#define GENREP__S_NR 8
static void genrep__sgemm_scalar_4x8(int kc, const float *a, const float *b, float *c, long ldc,
                                     float alpha, float beta) {
    float acc[GENREP__S_MR][GENREP__S_NR] = {{0}};
    for (int k = 0; k < kc; k++, a += GENREP__S_MR, b += GENREP__S_NR)
        for (int i = 0; i < GENREP__S_MR; i++)
            for (int j = 0; j < GENREP__S_NR; j++) acc[i][j] += a[i] * b[j];
    for (int i = 0; i < GENREP__S_MR; i++)
        for (int j = 0; j < GENREP__S_NR; j++) {
            float *cij = &c[i * ldc + j];
            *cij = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *cij;
        }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* --- AVX2 + FMA microkernel, 6 x 16: 12 ymm accumulators + 2 for B + 1
   broadcast = 15 of 16 registers. Per k: 2 loads of B, 6 broadcasts, 12 FMAs.
   pack == 1: b is the caller's row-major B (row stride ldb) and the packed
   micro-panel is written to bpack on the way (see the AVX-512 kernel). */
__attribute__((target("avx2,fma"), always_inline))
static inline void genrep__avx2_6x16_body(int kc, const float *a, const float *b, long ldb, float *bpack,
                                          float *c, long ldc, float alpha, float beta, const int pack) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(),
           c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(),
           c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps(),
           c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++, a += 6) {
        __m256 b0, b1, ai;
        if (pack) {
            _mm_prefetch((const char *)(b + 8 * ldb), _MM_HINT_T0);
            b0 = _mm256_loadu_ps(b); b1 = _mm256_loadu_ps(b + 8);
            _mm256_store_ps(bpack, b0); _mm256_store_ps(bpack + 8, b1);
            b += ldb;
            bpack += 16;
        } else {
            b0 = _mm256_load_ps(b); b1 = _mm256_load_ps(b + 8);
            b += 16;
        }
        ai = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(ai, b0, c00); c01 = _mm256_fmadd_ps(ai, b1, c01);
        ai = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(ai, b0, c10); c11 = _mm256_fmadd_ps(ai, b1, c11);
        ai = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(ai, b0, c20); c21 = _mm256_fmadd_ps(ai, b1, c21);
        ai = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(ai, b0, c30); c31 = _mm256_fmadd_ps(ai, b1, c31);
        ai = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(ai, b0, c40); c41 = _mm256_fmadd_ps(ai, b1, c41);
        ai = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(ai, b0, c50); c51 = _mm256_fmadd_ps(ai, b1, c51);
    }
    __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 2; j++) {
            float *p = c + i * ldc + 8 * j;
            __m256 r = _mm256_mul_ps(va, acc[i][j]);
            if (beta != 0.0f) r = _mm256_fmadd_ps(vb, _mm256_loadu_ps(p), r);
            _mm256_storeu_ps(p, r);
        }
}
__attribute__((target("avx2,fma")))
static void genrep__sgemm_avx2_6x16(int kc, const float *a, const float *b, float *c, long ldc,
                                    float alpha, float beta) {
    genrep__avx2_6x16_body(kc, a, b, 16, NULL, c, ldc, alpha, beta, 0);
}
__attribute__((target("avx2,fma")))
static void genrep__sgemm_avx2_6x16_pb(int kc, const float *a, const float *b, long ldb, float *bpack,
                                       float *c, long ldc, float alpha, float beta) {
    genrep__avx2_6x16_body(kc, a, b, ldb, bpack, c, ldc, alpha, beta, 1);
}

/* --- AVX-512, 8 x 48 (the kernels follow the shared body) */
#define GENREP__Z_MR 8
#define GENREP__Z_NV 3 /* NR = 16 * NV = 48 */
/* Prefetch distance (rows of B) of the packing variant below. */
#ifndef GENREP__Z_PF
#define GENREP__Z_PF 8
#endif
/* Shared body. pack == 0: b is a packed micro-panel (row stride 48).
   pack == 1: b points into the caller's row-major B (row stride ldb); the
   kernel also writes the packed micro-panel to bpack, so the first MR rows
   of C pay for packing B with stores hidden under the FMAs, and the
   remaining row tiles read the packed copy (same values, same order: the
   result is bitwise the same as packing first). */
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl"), always_inline))
static inline void genrep__avx512_8x48_body(int kc, const float *a, const float *b, long ldb, float *bpack,
                                            float *c, long ldc, float alpha, float beta, const int pack) {
    __m512 acc[GENREP__Z_MR][GENREP__Z_NV];
#pragma GCC unroll 8
    for (int i = 0; i < GENREP__Z_MR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < GENREP__Z_NV; j++) acc[i][j] = _mm512_setzero_ps();
    /* Touch the C tile early so its lines arrive while the k loop runs. */
#pragma GCC unroll 8
    for (int i = 0; i < GENREP__Z_MR; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 47), _MM_HINT_T0);
    }
#pragma GCC unroll 2
    for (int k = 0; k < kc; k++) {
        __m512 b0, b1, b2;
        if (pack) {
            const float *pf = b + GENREP__Z_PF * ldb;
            _mm_prefetch((const char *)pf, _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + 16), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + 32), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + 47), _MM_HINT_T0);
            b0 = _mm512_loadu_ps(b); b1 = _mm512_loadu_ps(b + 16); b2 = _mm512_loadu_ps(b + 32);
            _mm512_store_ps(bpack, b0); _mm512_store_ps(bpack + 16, b1); _mm512_store_ps(bpack + 32, b2);
            b += ldb;
            bpack += 48;
        } else {
            b0 = _mm512_load_ps(b); b1 = _mm512_load_ps(b + 16); b2 = _mm512_load_ps(b + 32);
            b += 48;
        }
#pragma GCC unroll 8
        for (int i = 0; i < GENREP__Z_MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(ai, b2, acc[i][2]);
        }
        a += GENREP__Z_MR;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    if (beta == 0.0f) {
#pragma GCC unroll 8
        for (int i = 0; i < GENREP__Z_MR; i++)
#pragma GCC unroll 4
            for (int j = 0; j < GENREP__Z_NV; j++)
                _mm512_storeu_ps(c + i * ldc + 16 * j, _mm512_mul_ps(va, acc[i][j]));
    } else {
#pragma GCC unroll 8
        for (int i = 0; i < GENREP__Z_MR; i++)
#pragma GCC unroll 4
            for (int j = 0; j < GENREP__Z_NV; j++) {
                float *p = c + i * ldc + 16 * j;
                _mm512_storeu_ps(p, _mm512_fmadd_ps(vb, _mm512_loadu_ps(p), _mm512_mul_ps(va, acc[i][j])));
            }
    }
}

/* --- AVX-512 microkernel, 8 x 48: 24 zmm accumulators + 3 for B + 1
   broadcast of A. Per k: 3 B loads, 8 broadcasts, 24 FMAs = 12 cycles on
   two 512-bit FMA pipes (Zen 5); 12 independent chains per pipe hide the
   4-cycle FMA latency. MR = 8 divides the conv GEMMs' M (64, 128, ...), so
   they have no edge tiles in M. Measured in L1: 208 GFLOP/s = 96% of this
   core's FMA peak (216 GFLOP/s by a pure-FMA loop). */
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl")))
static void genrep__sgemm_avx512_8x48(int kc, const float *a, const float *b, float *c, long ldc,
                                      float alpha, float beta) {
    genrep__avx512_8x48_body(kc, a, b, 48, NULL, c, ldc, alpha, beta, 0);
}
/* Same, reading B (K, N) row-major in place and packing it on the way. */
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl")))
static void genrep__sgemm_avx512_8x48_pb(int kc, const float *a, const float *b, long ldb, float *bpack,
                                         float *c, long ldc, float alpha, float beta) {
    genrep__avx512_8x48_body(kc, a, b, ldb, bpack, c, ldc, alpha, beta, 1);
}
#endif /* x86 */

/* Blocking per path {MC, KC, NC, NC for a large A}. KC*NR*4 bytes (one B
   micro-panel) is what the inner loop keeps hot in L1/L2; MC*KC*4 (packed
   A block) is sized for L2 (1 MB on Zen 5). When A is small enough to be
   packed once per call (genrep__gemm_akeep), a narrow NC keeps the packed B
   block and the C block in L2 between k blocks; when it is not, A is
   re-packed for every NC block, so NC is wide to amortise that.
   Indexed by genrep_isa; MC % MR == 0 and NC % NR == 0. Measured on Zen 5
   (AVX-512, one thread): KC 384 -> 1024 gave 1024^3 178 -> 197 GFLOP/s;
   wide NC for 2048^3 +6%; narrow NC for 128x6272x1152 +17%. */
static int genrep__gemm_blocking[3][4] = {
    {128, 256, 8 * 96, 8 * 384},      /* scalar 4x8 */
    {144, 512, 16 * 48, 16 * 192},    /* AVX2 6x16 */
    {128, 1024, 48 * 16, 48 * 64},    /* AVX-512 8x48 */
};

static genrep__gemm_cfg genrep__gemm_config(genrep_isa isa) {
    genrep__gemm_cfg g;
    g.kernel_pb = NULL;
    switch (isa) {
#if defined(__x86_64__) || defined(__i386__)
    case GENREP_ISA_AVX512:
        g.MR = GENREP__Z_MR; g.NR = 16 * GENREP__Z_NV; g.kernel = genrep__sgemm_avx512_8x48;
        g.kernel_pb = genrep__sgemm_avx512_8x48_pb;
        break;
    case GENREP_ISA_AVX2:
        g.MR = 6; g.NR = 16; g.kernel = genrep__sgemm_avx2_6x16;
        g.kernel_pb = genrep__sgemm_avx2_6x16_pb;
        break;
#endif
    default:
        isa = GENREP_ISA_SCALAR;
        g.MR = GENREP__S_MR; g.NR = GENREP__S_NR; g.kernel = genrep__sgemm_scalar_4x8;
        break;
    }
    g.MC = genrep__gemm_blocking[isa][0];
    g.KC = genrep__gemm_blocking[isa][1];
    g.NC = genrep__gemm_blocking[isa][2];
    g.NC_wide = genrep__gemm_blocking[isa][3];
    return g;
}

/* Per-thread packing buffers. Each thread that runs GEMM work gets its own
   record (found through a thread-local pointer, so concurrent callers never
   share); records are also chained into one global list, pushed lock-free
   and never unlinked, so genrep_release_buffers() can free the buffers of
   every thread, including pool threads that no longer exist. */
typedef struct genrep__gemm_bufs {
    float *a, *b;
    size_t acap, bcap;
    struct genrep__gemm_bufs *next;
} genrep__gemm_bufs;
static genrep__gemm_bufs *genrep__gemm_all;
static GENREP__TLS genrep__gemm_bufs *genrep__gemm_mine;

static genrep__gemm_bufs *genrep__gemm_get_bufs(void) {
    genrep__gemm_bufs *bu = genrep__gemm_mine;
    if (bu) return bu;
    bu = (genrep__gemm_bufs *)genrep_alloc(sizeof *bu);
    if (!bu) return NULL;
    memset(bu, 0, sizeof *bu);
    bu->next = __atomic_load_n(&genrep__gemm_all, __ATOMIC_ACQUIRE);
    while (!__atomic_compare_exchange_n(&genrep__gemm_all, &bu->next, bu, 1, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE)) {
    }
    return genrep__gemm_mine = bu;
}

static int genrep__gemm_reserve(float **p, size_t *cap, size_t n) {
    if (n <= *cap) return 1;
    genrep_free(*p);
    *p = (float *)genrep_alloc(n * sizeof(float));
    *cap = *p ? n : 0;
    return *p != NULL;
}

/* Pack op(A)(i0:i0+mc, p0:p0+kc) into MR-row micro-panels: panel r holds
   element (i, k) at [r*MR*kc + k*MR + i]; rows past mc are zero. */
static void genrep__pack_a(float *dst, const float *A, int lda, int transA, int i0, int mc, int p0, int kc,
                           int MR) {
    for (int ir = 0; ir < mc; ir += MR, dst += (size_t)MR * kc) {
        int mr = mc - ir < MR ? mc - ir : MR;
        if (transA) { /* A stored (K, M): a row of MR floats per k is contiguous */
            const float *src = A + (size_t)p0 * lda + i0 + ir;
            for (int k = 0; k < kc; k++, src += lda) {
                float *d = dst + (size_t)k * MR;
                int i = 0;
                for (; i < mr; i++) d[i] = src[i];
                for (; i < MR; i++) d[i] = 0.0f;
            }
        } else { /* A stored (M, K): gather column i of the panel with stride MR */
            for (int i = 0; i < mr; i++) {
                const float *src = A + (size_t)(i0 + ir + i) * lda + p0;
                float *d = dst + i;
                for (int k = 0; k < kc; k++) d[(size_t)k * MR] = src[k];
            }
            for (int i = mr; i < MR; i++)
                for (int k = 0; k < kc; k++) dst[(size_t)k * MR + i] = 0.0f;
        }
    }
}

/* Pack op(B)(p0:p0+kc, j0:j0+nc) into NR-column micro-panels: panel r holds
   element (k, j) at [r*NR*kc + k*NR + j]; columns past nc are zero. */
static void genrep__pack_b(float *dst, const float *B, int ldb, int transB, int p0, int kc, int j0, int nc,
                           int NR) {
    if (!transB) {
        /* B stored (K, N): walk each source row once, left to right, and
           deal it out to the panels (long sequential reads for the
           prefetcher; one pass over B's rows touches each page once). */
        int nfull = nc / NR * NR, nr = nc - nfull;
        for (int k = 0; k < kc; k++) {
            const float *src = B + (size_t)(p0 + k) * ldb + j0;
            float *d = dst + (size_t)k * NR;
            for (int jr = 0; jr < nfull; jr += NR, d += (size_t)NR * kc)
                memcpy(d, src + jr, (size_t)NR * sizeof(float));
            if (nr) {
                int j = 0;
                for (; j < nr; j++) d[j] = src[nfull + j];
                for (; j < NR; j++) d[j] = 0.0f;
            }
        }
        return;
    }
    for (int jr = 0; jr < nc; jr += NR, dst += (size_t)NR * kc) {
        int nr = nc - jr < NR ? nc - jr : NR;
        /* B stored (N, K): row j of storage is column j of op(B) */
        for (int j = 0; j < nr; j++) {
            const float *src = B + (size_t)(j0 + jr + j) * ldb + p0;
            float *d = dst + j;
            for (int k = 0; k < kc; k++) d[(size_t)k * NR] = src[k];
        }
        for (int j = nr; j < NR; j++)
            for (int k = 0; k < kc; k++) dst[(size_t)k * NR + j] = 0.0f;
    }
}

typedef struct {
    int transA, transB, M, N, K;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int lda, ldb, ldc;
} genrep__gemm_args;

/* Packed A up to this many floats (4 MB) is kept for the whole call when
   N is cut into several blocks or chunks: the conv GEMMs (M = 64..256,
   K <= 2304) then pack A once per thread instead of once per NC block. */
static size_t genrep__gemm_akeep = (size_t)1 << 20; /* a variable so tests can shrink it */

/* One chunk: C(m0:m1, n0:n1); m0, n0 are multiples of MR, NR. keep_a: all
   of op(A)(m0:m1, :) is packed once into this thread's buffer (*a_ready
   says whether that happened already; m0, m1 must be the same for every
   chunk of the call). Returns 0 if its buffers could not be allocated. */
static int genrep__gemm_block(const genrep__gemm_args *g, const genrep__gemm_cfg *cf, int m0, int m1, int n0,
                              int n1, int keep_a, int *a_ready) {
    const int MR = cf->MR, NR = cf->NR, K = g->K;
    genrep__gemm_bufs *bu = genrep__gemm_get_bufs();
    if (!bu) return 0;
    int mspan = m1 - m0, nspan = n1 - n0;
    int mcmax = mspan < cf->MC ? mspan : cf->MC, ncmax = nspan < cf->NC ? nspan : cf->NC;
    int mpad = (mspan + MR - 1) / MR * MR; /* rows of the whole share, padded */
    /* keep_a: block (pc, ic) of packed A sits at [pc*mpad + (ic-m0)*kc]
       (ic - m0 is a multiple of MR) */
    size_t asz = keep_a ? (size_t)mpad * K : (size_t)((mcmax + MR - 1) / MR * MR) * cf->KC;
    size_t bsz = (size_t)((ncmax + NR - 1) / NR * NR) * cf->KC;
    if (!genrep__gemm_reserve(&bu->a, &bu->acap, asz) || !genrep__gemm_reserve(&bu->b, &bu->bcap, bsz))
        return 0;
    if (keep_a && !*a_ready) {
        for (int pc = 0; pc < K; pc += cf->KC) {
            int kc = K - pc < cf->KC ? K - pc : cf->KC;
            for (int ic = m0; ic < m1; ic += cf->MC) {
                int mc = m1 - ic < cf->MC ? m1 - ic : cf->MC;
                genrep__pack_a(bu->a + (size_t)pc * mpad + (size_t)(ic - m0) * kc, g->A, g->lda, g->transA, ic, mc,
                               pc, kc, MR);
            }
        }
        *a_ready = 1;
    }
    float tile[16 * 64] __attribute__((aligned(64))); /* edge tile, MR*NR <= 1024 */
    for (int jc = n0; jc < n1; jc += cf->NC) {
        int nc = n1 - jc < cf->NC ? n1 - jc : cf->NC;
        for (int pc = 0; pc < K; pc += cf->KC) {
            int kc = K - pc < cf->KC ? K - pc : cf->KC;
            /* later k blocks accumulate onto what the first one wrote */
            float beta = pc == 0 ? g->beta : 1.0f;
            /* fused: full NR panels of B are packed by the first row tile's kernel */
            int fused = cf->kernel_pb && !g->transB;
            if (!fused) genrep__pack_b(bu->b, g->B, g->ldb, g->transB, pc, kc, jc, nc, NR);
            for (int ic = m0; ic < m1; ic += cf->MC) {
                int mc = m1 - ic < cf->MC ? m1 - ic : cf->MC;
                const float *ablk = bu->a;
                if (keep_a) ablk += (size_t)pc * mpad + (size_t)(ic - m0) * kc;
                else genrep__pack_a(bu->a, g->A, g->lda, g->transA, ic, mc, pc, kc, MR);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    float *bp = bu->b + (size_t)jr * kc;
                    int packing = fused && ic == m0; /* this panel is not packed yet */
                    if (packing && nr < NR) { /* edge panel: zero-padded by the pack routine */
                        genrep__pack_b(bp, g->B, g->ldb, 0, pc, kc, jc + jr, nr, NR);
                        packing = 0;
                    }
                    const float *bsrc = g->B + (size_t)pc * g->ldb + jc + jr;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = mc - ir < MR ? mc - ir : MR;
                        const float *ap = ablk + (size_t)ir * kc;
                        float *c = g->C + (size_t)(ic + ir) * g->ldc + jc + jr;
                        if (mr == MR && nr == NR) {
                            if (packing) cf->kernel_pb(kc, ap, bsrc, g->ldb, bp, c, g->ldc, g->alpha, beta);
                            else cf->kernel(kc, ap, bp, c, g->ldc, g->alpha, beta);
                        } else if (packing) { /* M-edge tile that packs B */
                            cf->kernel_pb(kc, ap, bsrc, g->ldb, bp, tile, NR, 1.0f, 0.0f);
                        } else {
                            cf->kernel(kc, ap, bp, tile, NR, 1.0f, 0.0f);
                        }
                        packing = 0;
                        if (mr < MR || nr < NR) { /* edge: add the valid part of the local tile */
                            for (int i = 0; i < mr; i++)
                                for (int j = 0; j < nr; j++) {
                                    float *cij = &c[(size_t)i * g->ldc + j];
                                    float t = g->alpha * tile[i * NR + j];
                                    *cij = beta == 0.0f ? t : t + beta * *cij;
                                }
                        }
                    }
                }
            }
        }
    }
    return 1;
}

/* Below this many multiply-adds one thread is faster than waking a team. */
#define GENREP__GEMM_MT_MIN (1 << 18)

GENREP_API genrep_status genrep_sgemm(int transA, int transB, int M, int N, int K,
                                      float alpha, const float *A, int lda,
                                      const float *B, int ldb,
                                      float beta, float *C, int ldc) {
    genrep_status st = genrep__sgemm_check(__func__, transA, transB, M, N, K, A, lda, B, ldb, C, ldc);
    if (st) return st;
    if (M == 0 || N == 0) return GENREP_OK;
    if (K == 0 || alpha == 0.0f) { /* C = beta * C; beta == 0 writes zeros without reading C */
        for (int i = 0; i < M; i++) {
            float *c = C + (size_t)i * ldc;
            if (beta == 0.0f) memset(c, 0, (size_t)N * sizeof(float));
            else if (beta != 1.0f)
                for (int j = 0; j < N; j++) c[j] *= beta;
        }
        return GENREP_OK;
    }
    genrep__gemm_cfg cf = genrep__gemm_config(genrep_get_isa());
    /* Even k blocks: K = 1152 with KC = 1024 runs 2 x 576, not 1024 + 128
       (a short block costs a full C read/write for little work). Depends
       on K only, so every thread count cuts k the same way. */
    {
        int nkb = (K + cf.KC - 1) / cf.KC;
        cf.KC = (K + nkb - 1) / nkb;
    }
    genrep__gemm_args g = {transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, beta, A, B, C, lda, ldb, ldc};

    /* Threads take chunks of N (the long side of the conv GEMMs) in whole
       NR panels, or of M in whole MR panels when N has too few panels.
       Chunks are handed out dynamically (a busy core then delays one chunk,
       not half the work); a few per thread when A can be packed once per
       thread, else about one NC block each, so A is not packed much more
       often than with one thread. Chunk bounds never change a result. */
    int nt = 1;
#ifdef _OPENMP
    if ((double)M * N * K >= GENREP__GEMM_MT_MIN && !omp_in_parallel()) nt = omp_get_max_threads();
#endif
    int npan = (N + cf.NR - 1) / cf.NR, mpan = (M + cf.MR - 1) / cf.MR;
    int keep_a = (size_t)mpan * cf.MR * K <= genrep__gemm_akeep;
    if (!keep_a) cf.NC = cf.NC_wide;
    int split_n = npan >= 2 * nt || npan >= mpan;
    int pans = split_n ? npan : mpan;
    if (nt > pans) nt = pans;

    if (nt <= 1) {
        int a_ready = 0;
        if (!genrep__gemm_block(&g, &cf, 0, M, 0, N, keep_a && N > cf.NC, &a_ready))
            return genrep__fail(GENREP_ERR_NOMEM, "genrep_sgemm: packing buffers");
        return GENREP_OK;
    }
    int fail = 0;
#ifdef _OPENMP
    int per = 4; /* chunks per thread */
    if (split_n && !keep_a) {
        per = pans / (nt * (cf.NC / cf.NR));
        per = per < 1 ? 1 : per > 4 ? 4 : per;
    }
    int chunk = (pans + nt * per - 1) / (nt * per), nchunk = (pans + chunk - 1) / chunk;
    /* The full team, always: libgomp retires pool threads when a team
       shrinks, and a retired thread's packing buffers would be lost until
       genrep_release_buffers(). Threads past nt find no chunk left. */
#pragma omp parallel reduction(| : fail)
    {
        int a_ready = 0;
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < nchunk; c++) {
            int p0 = c * chunk, p1 = p0 + chunk < pans ? p0 + chunk : pans;
            int ok = split_n ? genrep__gemm_block(&g, &cf, 0, M, p0 * cf.NR, p1 * cf.NR < N ? p1 * cf.NR : N,
                                                  keep_a, &a_ready)
                             : genrep__gemm_block(&g, &cf, p0 * cf.MR, p1 * cf.MR < M ? p1 * cf.MR : M, 0, N, 0,
                                                  &a_ready);
            fail |= !ok;
        }
    }
#endif
    if (fail) return genrep__fail(GENREP_ERR_NOMEM, "genrep_sgemm: packing buffers");
    return GENREP_OK;
}

/* Frees the packing buffers of every thread; must not run while any
   genrep_sgemm is running. The small per-thread records stay (a live thread
   still points at its own) and are reused. */
GENREP_API void genrep_release_buffers(void) {
    for (genrep__gemm_bufs *bu = __atomic_load_n(&genrep__gemm_all, __ATOMIC_ACQUIRE); bu; bu = bu->next) {
        genrep_free(bu->a);
        genrep_free(bu->b);
        bu->a = bu->b = NULL;
        bu->acap = bu->bcap = 0;
    }
}
