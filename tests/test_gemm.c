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
    suite_add_tcase(s, tc);
    return tu_run(s);
}
