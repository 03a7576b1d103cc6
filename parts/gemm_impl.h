/* parts/gemm_impl.h: development fragment of genrep.h, inlined before release */
/* TEMPORARY: the fast GEMM replaces this; until then the reference serves. */
GENREP_API genrep_status genrep_sgemm(int transA, int transB, int M, int N, int K,
                                      float alpha, const float *A, int lda,
                                      const float *B, int ldb,
                                      float beta, float *C, int ldc) {
    return genrep_sgemm_ref(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
GENREP_API void genrep_release_buffers(void) {}
