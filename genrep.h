/* genrep.h v0.1.0 - generative models as a data source for multiview representation learning. MIT licence, see end of file. */
/*
   ============================================================================
   genrep.h -- a single-header C library for GenRep (Jahanian, Puig, Tian,
   Isola, ICLR 2022): sample a generator, make latent "views" of each sample,
   train an encoder contrastively on them, probe it on real data.

   RECIPE
     In exactly one C or C++ file:
         #define GENREP_IMPLEMENTATION
         #include "genrep.h"
     Everywhere else just #include "genrep.h". Build with -fopenmp for
     threads (without it everything runs on one thread); link -lz -lm, and
     -lstb when GENREP_IMAGE_IO is defined. A CUDA path is planned as a
     GENREP_CUDA_IMPLEMENTATION section in one .cu file; it does not exist
     yet (see ISA / CUDA below).

   CONFIGURATION (define before the include; the same in every file)
     GENREP_STATIC           all functions static (default: extern)
     GENREP_MALLOC(sz)       allocator returning 64-byte aligned memory
                             (default: aligned_alloc(64, round_up(sz, 64)))
     GENREP_FREE(p)          matching free (default: free)
     GENREP_ASSERT(x)        internal invariant check (default: assert)
     GENREP_NO_ZLIB          IDX reader reads plain files only (no -lz)
     GENREP_IMAGE_IO         image folders and PNG grids through Debian's
                             libstb-dev (stb_image, stb_image_write; -lstb)

   ENVIRONMENT
     GENREP_ISA=scalar|avx2|avx512   force a kernel path (default: the best
                                     this CPU and OS support, chosen once)
     GENREP_FMNIST_DIR               Fashion-MNIST files (default
                                     /usr/share/datasets/fashion-mnist)
     OMP_NUM_THREADS                 threads for GEMM, conv and batch ops

   QUICK START (examples/00_quickstart.c, byte for byte; make test checks)
QUICKSTART-BEGIN
// Quick start: fit a linear classifier to two Gaussian blobs with genrep.h's
// layers (linear -> softmax cross-entropy -> SGD), checking every status.
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include <stdio.h>

#define B 64 // batch
#define D 2  // input features
#define V 2  // classes

int main(void) {
    float x[B * D], logits[B * V], probs[B * V], dlogits[B * V], loss = 0;
    int32_t y[B];
    float w[V * D + V] = {0}, g[V * D + V], mom[V * D + V] = {0}; // weight (V,D), bias (V)
    genrep_sgd_config sgd = {0.5f, 0.9f, 0.0f, 0};                  // lr, momentum, wd, nesterov
    genrep_rng rng;
    genrep_rng_init(&rng, 1234, 0); // Philox stream (seed 1234, stream 0)
    for (int step = 1; step <= 50; step++) {
        for (int b = 0; b < B; b++) { // class c is centred at (2c-1, 2c-1)
            y[b] = (int32_t)genrep_rng_below(&rng, V);
            for (int d = 0; d < D; d++) x[b * D + d] = (2.0f * y[b] - 1.0f) + genrep_rng_normal(&rng);
        }
        genrep_status st = genrep_linear_forward(logits, x, w, w + V * D, B, D, V);
        if (!st) st = genrep_softmax_xent_forward(&loss, probs, logits, y, B, V);
        for (int i = 0; i < V * D + V; i++) g[i] = 0.0f; // backward accumulates (+=)
        for (int i = 0; i < B * V; i++) dlogits[i] = 0.0f;
        if (!st) st = genrep_softmax_xent_backward(dlogits, probs, y, B, V, 1.0f);
        if (!st) st = genrep_linear_backward(NULL, g, g + V * D, dlogits, x, w, B, D, V);
        if (!st) st = genrep_sgd_step(w, mom, g, V * D + V, &sgd, step);
        if (st) { fprintf(stderr, "error: %s: %s\n", genrep_status_str(st), genrep_last_error()); return 1; }
        if (step % 10 == 0) printf("step %2d  loss %.4f\n", step, loss);
    }
    return loss < 0.4f ? 0 : 1; // two blobs 2.8 sigma apart: the loss ends near 0.2
}
QUICKSTART-END

   TENSOR LAYOUT
     All data is fp32, row-major, contiguous. Images are NCHW: element
     (n,c,h,w) of an (N,C,H,W) tensor lives at ((n*C + c)*H + h)*W + w, so
     the strides are (C*H*W, H*W, W, 1). genrep_tensor records shape and
     these strides; the ops take plain pointers plus sizes (llm.c style),
     outputs first, then caches/gradients, then inputs, then sizes.
     Weights use PyTorch's layouts and state_dict names: linear (OUT, IN),
     conv2d (K, C, R, S), conv_transpose2d (C_in, C_out, R, S).

   MEMORY OWNERSHIP
     Only the _create, _alloc and _open functions allocate; each has a
     matching _free or _close. Models (generator, discriminator, encoder)
     hold their parameters in one slab and their gradients in another (a
     checkpoint is one copy). Ops never allocate, except GEMM's per-thread
     packing buffers (made on first use, reused, released by
     genrep_release_buffers()) and the evaluation helpers of [PROBE] and
     [EVAL], which allocate their scratch and free it before returning.
     Ops that need scratch (conv, losses) take a workspace whose size the
     caller queries first (genrep_conv2d_workspace, genrep_ntxent_workspace).

   ERRORS
     Everything a caller can get wrong returns a genrep_status (GENREP_OK is
     0); genrep_status_str() names it and genrep_last_error() holds this
     thread's detail message naming the argument, tensor or file and what
     was expected. The library never prints and never exits; GENREP_ASSERT
     guards internal invariants only.

   GRADIENTS
     Every *_backward ACCUMULATES (+=) into every gradient it writes (dinp,
     dweight, dbias ...), as llm.c does: zero gradients before a backward
     pass. A NULL gradient pointer means "not needed".

   ISA / CUDA
     One build runs on any x86-64: SIMD kernels carry target attributes and
     are chosen at run time from cpuid + XGETBV (no -march=native needed).
     GEMM has scalar, AVX2+FMA and AVX-512 microkernels; the other ops are
     plain C loops the compiler vectorises. CUDA: not implemented yet; the
     tensor's device field is reserved for it and is always NULL today.

   DETERMINISM
     Random draws come from Philox4x32-10 streams named by (seed, stream,
     counter) -- for data, by (seed, sample index, view index) -- never by
     thread count or call order. For a fixed ISA path every op gives the
     same bits on 1 and on N threads (reductions run in a fixed order), so
     a training run with the same seed and flags is bitwise reproducible on
     any thread count. The scalar, AVX2 and AVX-512 paths differ from each
     other in rounding (FMA and summation order), by a few ulp per dot
     product; runs are reproducible per path, not across paths.

   CONTENTS (search for the tags)
     [CORE]        status, allocation, ISA choice, threads
     [RNG]         Philox4x32-10 counter-based generator
     [TENSOR]      small fp32 tensor
     [GEMM]        genrep_sgemm: scalar reference, AVX2, AVX-512 kernels
     [LAYERS]      [LINEAR] [CONV] [CONVT] [BATCHNORM] [CONDBN] [ACT]
                   [RESIDUAL] [POOL] [UPSAMPLE] [EMBED] [L2NORM] [XENT]
     [OPTIM]       SGD, Adam/AdamW, cosine schedule with warm-up
     [AUG]         SimCLR pixel augmentations, batched and deterministic
     [IDX]         gzip IDX files, Fashion-MNIST
     [IMAGE]       image folders, PNG grids (with GENREP_IMAGE_IO)
     [SAFETENSORS] strict validating reader, atomic writer
     [ENCODER]     ResNet encoders with projection head
     [LOSS] [MSE]  NT-Xent, SupCon, MSE
     [MODELS]      [GAN] generators and discriminators, [GANLOSS]
     [VIEWS]       latent views: Gaussian, angular, independent, steered
     [PROBE]       linear probe (logistic regression), kNN accuracy
     [EVAL]        Frechet distance and generator quality helpers
     [STEER]       image edits and learned latent walks
     Every public function is declared below with its shapes, ownership
     and errors, under its tag; the examples/ folder shows them in use.
   ============================================================================
*/
#ifndef GENREP_H
#define GENREP_H

#include <stddef.h>
#include <stdint.h>

#ifdef GENREP_STATIC
#if defined(__GNUC__)
#define GENREP_API static __attribute__((unused))
#else
#define GENREP_API static
#endif
#else
#define GENREP_API extern
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- [CORE] */

typedef enum {
    GENREP_OK = 0,
    GENREP_ERR_ARG,          /* bad argument: NULL, negative size, bad flag */
    GENREP_ERR_SHAPE,        /* shapes that do not fit together */
    GENREP_ERR_NOMEM,        /* allocation failed */
    GENREP_ERR_IO,           /* open/read/write failed */
    GENREP_ERR_FORMAT,       /* a file is malformed */
    GENREP_ERR_UNSUPPORTED,  /* ISA, dtype or feature not available */
    GENREP_ERR_NONFINITE     /* NaN or Inf where finite values are needed */
} genrep_status;

GENREP_API const char *genrep_status_str(genrep_status s);
/* Detail message of the last failure on this thread ("" if none). */
GENREP_API const char *genrep_last_error(void);

/* 64-byte aligned allocation through GENREP_MALLOC / GENREP_FREE. */
GENREP_API void *genrep_alloc(size_t bytes);
GENREP_API void  genrep_free(void *p);

typedef enum { GENREP_ISA_SCALAR = 0, GENREP_ISA_AVX2 = 1, GENREP_ISA_AVX512 = 2 } genrep_isa;
/* The ISA in use: chosen on first call from cpuid/XGETBV and GENREP_ISA. */
GENREP_API genrep_isa  genrep_get_isa(void);
/* Force a path; GENREP_ERR_UNSUPPORTED if this CPU/OS cannot run it. */
GENREP_API genrep_status genrep_set_isa(genrep_isa isa);
GENREP_API const char *genrep_isa_name(genrep_isa isa);
/* Threads used by parallel ops (OpenMP max threads; 1 without OpenMP). */
GENREP_API int  genrep_num_threads(void);
GENREP_API void genrep_set_num_threads(int n);
/* Free GEMM's per-thread packing buffers, those of every thread (they are
   re-made on demand). Not while any genrep_sgemm call is running. */
GENREP_API void genrep_release_buffers(void);

/* ----------------------------------------------------------------- [RNG] */
/* Philox4x32-10 (Salmon et al. 2011). A stream is fully named by
   (seed, stream, counter): the 128-bit counter is (counter, stream) and the
   key is the seed, so draws never depend on thread count or call order
   across streams. Use one stream per sample (and per purpose). */

typedef struct {
    uint64_t seed, stream, counter; /* next block to generate */
    uint32_t buf[4];
    int      pos;                   /* next unused word of buf, 4 = empty */
} genrep_rng;

/* out = Philox4x32-10(key = seed, counter = (counter, stream)) */
GENREP_API void     genrep_philox(uint32_t out[4], uint64_t seed, uint64_t stream, uint64_t counter);
GENREP_API void     genrep_rng_init(genrep_rng *r, uint64_t seed, uint64_t stream);
GENREP_API uint32_t genrep_rng_u32(genrep_rng *r);
GENREP_API float    genrep_rng_uniform(genrep_rng *r);            /* [0, 1) */
GENREP_API float    genrep_rng_normal(genrep_rng *r);             /* N(0, 1) */
/* N(0,1) conditioned on [lo, hi] (rejection; lo < hi, interval must hold mass) */
GENREP_API float    genrep_rng_truncnormal(genrep_rng *r, float lo, float hi);
GENREP_API uint32_t genrep_rng_below(genrep_rng *r, uint32_t n); /* uniform in [0, n) */

/* -------------------------------------------------------------- [TENSOR] */

#define GENREP_MAX_DIMS 4
typedef struct {
    float  *data;                       /* 64-byte aligned when owned */
    int     ndim;
    int64_t shape[GENREP_MAX_DIMS];     /* unused dims are 1 */
    int64_t stride[GENREP_MAX_DIMS];    /* contiguous row-major, in elements */
    int     owns;                       /* 1 if genrep_tensor_free frees data */
    void   *device;                     /* CUDA mirror, NULL on CPU */
} genrep_tensor;

/* Allocate a zeroed contiguous tensor of the given shape. */
GENREP_API genrep_status genrep_tensor_create(genrep_tensor *t, int ndim, const int64_t *shape);
/* Wrap caller memory (not freed by genrep_tensor_free). */
GENREP_API genrep_status genrep_tensor_wrap(genrep_tensor *t, float *data, int ndim, const int64_t *shape);
GENREP_API void    genrep_tensor_free(genrep_tensor *t);
GENREP_API int64_t genrep_tensor_numel(const genrep_tensor *t);

/* ---------------------------------------------------------------- [GEMM] */
/* C (M,N) = alpha * op(A) (M,K) @ op(B) (K,N) + beta * C, row-major, BLAS
   semantics: op(X) = X or X^T; A is (M,K) with lda >= K when !transA, else
   stored (K,M) with lda >= M; likewise B. beta == 0 ignores C's old content
   (NaNs in C are not propagated). Any M, N, K >= 0. Threads: OpenMP. */
GENREP_API genrep_status genrep_sgemm(int transA, int transB, int M, int N, int K,
                                      float alpha, const float *A, int lda,
                                      const float *B, int ldb,
                                      float beta, float *C, int ldc);
/* The plain triple loop, the specification the fast paths are tested
   against (no threads, no blocking, double accumulation is NOT used:
   a float running sum in k order). */
GENREP_API genrep_status genrep_sgemm_ref(int transA, int transB, int M, int N, int K,
                                          float alpha, const float *A, int lda,
                                          const float *B, int ldb,
                                          float beta, float *C, int ldc);

/* -------------------------------------------------------------- [LAYERS] */
/* Conventions: outputs first, then caches / gradients, then inputs, then
   sizes. Backward ACCUMULATES into all gradients; NULL = not needed. */

/* [LINEAR] out (B,OC) = inp (B,C) @ weight^T (weight (OC,C)) + bias (OC); bias may be NULL. */
GENREP_API genrep_status genrep_linear_forward(float *out, const float *inp, const float *weight,
                                               const float *bias, int B, int C, int OC);
/* dinp (B,C) += dout @ weight; dweight (OC,C) += dout^T @ inp; dbias (OC) += sum_b dout. */
GENREP_API genrep_status genrep_linear_backward(float *dinp, float *dweight, float *dbias,
                                                const float *dout, const float *inp,
                                                const float *weight, int B, int C, int OC);

/* [CONV] 2-D convolution, cross-correlation as PyTorch, zero padding.
   inp (N,C,H,W), weight (K,C,R,S), bias (K) or NULL, out (N,K,P,Q) with
   P = (H + 2*pad_h - R)/stride_h + 1, Q = (W + 2*pad_w - S)/stride_w + 1. */
typedef struct {
    int N, C, H, W;       /* input */
    int K, R, S;          /* output channels, kernel height, width */
    int stride_h, stride_w, pad_h, pad_w;
    int P, Q;             /* output height, width (filled by _init) */
} genrep_conv2d_desc;
/* Fill d and compute P,Q; GENREP_ERR_ARG / _SHAPE on bad sizes. */
GENREP_API genrep_status genrep_conv2d_init(genrep_conv2d_desc *d, int N, int C, int H, int W,
                                            int K, int R, int S, int stride, int pad);
/* Scratch floats for forward and backward (one size serves both); 0 if d
   is invalid. Bounded and independent of the thread count: the batch runs
   in chunks whose im2col matrix is about 4 MB (one image per chunk when a
   single image needs more), forward keeping up to 2 chunks in flight. */
GENREP_API size_t genrep_conv2d_workspace(const genrep_conv2d_desc *d);
GENREP_API genrep_status genrep_conv2d_forward(float *out, float *ws, const float *inp,
                                               const float *weight, const float *bias,
                                               const genrep_conv2d_desc *d);
/* dinp += conv^T(dout), dweight += corr(inp, dout), dbias += sum dout. */
GENREP_API genrep_status genrep_conv2d_backward(float *dinp, float *dweight, float *dbias, float *ws,
                                                const float *dout, const float *inp,
                                                const float *weight, const genrep_conv2d_desc *d);

/* [CONVT] 2-D transposed convolution (the gradient of conv2d w.r.t. its
   input), PyTorch semantics: inp (N,C,H,W), weight (C,K,R,S) (PyTorch's
   (C_in, C_out, kH, kW)), bias (K) or NULL, out (N,K,P,Q) with
   P = (H-1)*stride_h - 2*pad_h + R + outpad_h, likewise Q. */
typedef struct {
    int N, C, H, W;
    int K, R, S;
    int stride_h, stride_w, pad_h, pad_w, outpad_h, outpad_w;
    int P, Q;
} genrep_convt2d_desc;
GENREP_API genrep_status genrep_convt2d_init(genrep_convt2d_desc *d, int N, int C, int H, int W,
                                             int K, int R, int S, int stride, int pad, int outpad);
GENREP_API size_t genrep_convt2d_workspace(const genrep_convt2d_desc *d);
GENREP_API genrep_status genrep_convt2d_forward(float *out, float *ws, const float *inp,
                                                const float *weight, const float *bias,
                                                const genrep_convt2d_desc *d);
GENREP_API genrep_status genrep_convt2d_backward(float *dinp, float *dweight, float *dbias, float *ws,
                                                 const float *dout, const float *inp,
                                                 const float *weight, const genrep_convt2d_desc *d);

/* [BATCHNORM] over (N, C, HW): HW = H*W for 2-d, HW = 1 for 1-d (B, C).
   training != 0: normalise with batch statistics (biased variance), write
   the cache mean (C), rstd (C) = 1/sqrt(var + eps), and update running
   stats as PyTorch: running = (1-momentum)*running + momentum*batch, with
   the unbiased variance for running_var (running_* may be NULL).
   training == 0: normalise with running stats; mean/rstd cache is still
   written from them. gamma/beta may be NULL (affine=False). */
GENREP_API genrep_status genrep_batchnorm_forward(float *out, float *mean, float *rstd,
                                                  float *running_mean, float *running_var,
                                                  const float *inp, const float *gamma, const float *beta,
                                                  int N, int C, int HW, float eps, float momentum,
                                                  int training);
/* training selects the batch-statistics gradient (through mean and var)
   or the eval-mode gradient (a per-channel scale). */
GENREP_API genrep_status genrep_batchnorm_backward(float *dinp, float *dgamma, float *dbeta,
                                                   const float *dout, const float *inp,
                                                   const float *gamma, const float *mean,
                                                   const float *rstd, int N, int C, int HW,
                                                   int training);

/* [CONDBN] class-conditional batchnorm, BigGAN-style: out = xhat * (1 + gain)
   + bias with per-sample gain, bias (N, C) (the caller computes them from a
   class embedding with a linear layer and back-propagates dgain, dbias into
   it). Statistics as genrep_batchnorm_forward without affine. */
GENREP_API genrep_status genrep_condbn_forward(float *out, float *mean, float *rstd,
                                               float *running_mean, float *running_var,
                                               const float *inp, const float *gain, const float *bias,
                                               int N, int C, int HW, float eps, float momentum,
                                               int training);
GENREP_API genrep_status genrep_condbn_backward(float *dinp, float *dgain, float *dbias,
                                                const float *dout, const float *inp,
                                                const float *gain, const float *mean,
                                                const float *rstd, int N, int C, int HW,
                                                int training);

/* [ACT] elementwise over n values. Backward takes what it needs:
   relu/leaky_relu the input, tanh/sigmoid the output. */
GENREP_API genrep_status genrep_relu_forward(float *out, const float *inp, size_t n);
GENREP_API genrep_status genrep_relu_backward(float *dinp, const float *dout, const float *inp, size_t n);
GENREP_API genrep_status genrep_leaky_relu_forward(float *out, const float *inp, float slope, size_t n);
GENREP_API genrep_status genrep_leaky_relu_backward(float *dinp, const float *dout, const float *inp,
                                                    float slope, size_t n);
GENREP_API genrep_status genrep_tanh_forward(float *out, const float *inp, size_t n);
GENREP_API genrep_status genrep_tanh_backward(float *dinp, const float *dout, const float *out, size_t n);
GENREP_API genrep_status genrep_sigmoid_forward(float *out, const float *inp, size_t n);
GENREP_API genrep_status genrep_sigmoid_backward(float *dinp, const float *dout, const float *out, size_t n);

/* [RESIDUAL] out = a + b; backward da += dout, db += dout. */
GENREP_API genrep_status genrep_add_forward(float *out, const float *a, const float *b, size_t n);
GENREP_API genrep_status genrep_add_backward(float *da, float *db, const float *dout, size_t n);

/* [POOL] global average pool: inp (N,C,HW) -> out (N,C). */
GENREP_API genrep_status genrep_avgpool_forward(float *out, const float *inp, int N, int C, int HW);
GENREP_API genrep_status genrep_avgpool_backward(float *dinp, const float *dout, int N, int C, int HW);
/* max pool 2-d, kernel k, stride s, padding p (padded cells never win, as PyTorch).
   inp (N,C,H,W) -> out (N,C,P,Q), P = (H + 2p - k)/s + 1; argmax (N,C,P,Q)
   int32 cache holds the flat h*W+w of each maximum (first on ties). */
GENREP_API genrep_status genrep_maxpool_forward(float *out, int32_t *argmax, const float *inp,
                                                int N, int C, int H, int W, int k, int s, int p);
GENREP_API genrep_status genrep_maxpool_backward(float *dinp, const float *dout, const int32_t *argmax,
                                                 int N, int C, int H, int W, int k, int s, int p);

/* [UPSAMPLE] nearest x2: inp (N,C,H,W) -> out (N,C,2H,2W). */
GENREP_API genrep_status genrep_upsample2x_forward(float *out, const float *inp, int N, int C, int H, int W);
GENREP_API genrep_status genrep_upsample2x_backward(float *dinp, const float *dout, int N, int C, int H, int W);

/* [EMBED] out (B,D) = table[idx[b]] (table (V,D)); backward dtable[idx[b]] += dout[b].
   Indices outside [0,V) give GENREP_ERR_ARG. */
GENREP_API genrep_status genrep_embedding_forward(float *out, const int32_t *idx, const float *table,
                                                  int B, int V, int D);
GENREP_API genrep_status genrep_embedding_backward(float *dtable, const float *dout, const int32_t *idx,
                                                   int B, int V, int D);

/* [L2NORM] row-wise, as torch.nn.functional.normalize(x, dim=1, eps):
   out[b] = inp[b] / max(||inp[b]||, eps); norm (B) cache holds max(||.||, eps). */
GENREP_API genrep_status genrep_l2norm_forward(float *out, float *norm, const float *inp, int B, int D, float eps);
GENREP_API genrep_status genrep_l2norm_backward(float *dinp, const float *dout, const float *out,
                                                const float *norm, int B, int D);

/* [XENT] mean softmax cross-entropy: logits (B,V), targets (B) in [0,V).
   Writes *loss and probs (B,V) (the softmax, the backward cache).
   Backward: dlogits += dloss * (probs - onehot) / B. */
GENREP_API genrep_status genrep_softmax_xent_forward(float *loss, float *probs, const float *logits,
                                                     const int32_t *targets, int B, int V);
GENREP_API genrep_status genrep_softmax_xent_backward(float *dlogits, const float *probs,
                                                      const int32_t *targets, int B, int V, float dloss);

/* --------------------------------------------------------------- [OPTIM] */
/* All optimisers update n parameters in one slab in place, PyTorch
   semantics. State slabs (m, v, buf) are caller-allocated, zero at step 1. */
typedef struct {
    float lr, momentum, weight_decay;
    int   nesterov;
} genrep_sgd_config;
/* torch.optim.SGD: g = grad + wd*p; buf = momentum*buf + g (buf = g at
   step 1); g = nesterov ? g + momentum*buf : buf; p -= lr*g. step counts from 1. */
GENREP_API genrep_status genrep_sgd_step(float *params, float *buf, const float *grads, size_t n,
                                         const genrep_sgd_config *cfg, int64_t step);
typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
    int   decoupled;   /* 1 = AdamW (p *= 1 - lr*wd), 0 = Adam (g += wd*p) */
} genrep_adam_config;
GENREP_API genrep_status genrep_adam_step(float *params, float *m, float *v, const float *grads, size_t n,
                                          const genrep_adam_config *cfg, int64_t step);
/* Learning rate at step (0-based) of total: linear warm-up from 0 over
   warmup steps (lr*(step+1)/warmup), then cosine from base_lr to min_lr. */
GENREP_API float genrep_cosine_lr(float base_lr, float min_lr, int64_t step, int64_t warmup, int64_t total);

#include "parts/data_decl.h"
#include "parts/st_decl.h"
#include "parts/encoder_decl.h"
#include "parts/models_decl.h"
#include "parts/lead_decl.h"
#include "parts/eval_decl.h"
#include "parts/steer_decl.h"

#ifdef __cplusplus
}
#endif
#endif /* GENREP_H */

/* =========================================================================
   IMPLEMENTATION
   ========================================================================= */
#ifdef GENREP_IMPLEMENTATION
#ifndef GENREP__IMPLEMENTED
#define GENREP__IMPLEMENTED

#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <stdarg.h>
#include <math.h>
#include <assert.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef GENREP_ASSERT
#define GENREP_ASSERT(x) assert(x)
#endif
#ifndef GENREP_MALLOC
#define GENREP_MALLOC(sz) aligned_alloc(64, ((size_t)(sz) + 63u) & ~(size_t)63u)
#define GENREP_FREE(p) free(p)
#endif

#if defined(__cplusplus)
#define GENREP__TLS thread_local
#else
#define GENREP__TLS _Thread_local
#endif

/* ---------------------------------------------------------------- [CORE] */

static GENREP__TLS char genrep__errbuf[512];

GENREP_API const char *genrep_status_str(genrep_status s) {
    switch (s) {
    case GENREP_OK: return "ok";
    case GENREP_ERR_ARG: return "invalid argument";
    case GENREP_ERR_SHAPE: return "shape mismatch";
    case GENREP_ERR_NOMEM: return "out of memory";
    case GENREP_ERR_IO: return "I/O error";
    case GENREP_ERR_FORMAT: return "malformed file";
    case GENREP_ERR_UNSUPPORTED: return "unsupported";
    case GENREP_ERR_NONFINITE: return "non-finite value";
    }
    return "unknown status";
}

GENREP_API const char *genrep_last_error(void) { return genrep__errbuf; }

/* Record a detail message for this thread and return s: `return genrep__fail(...)`. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static genrep_status genrep__fail(genrep_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(genrep__errbuf, sizeof genrep__errbuf, fmt, ap);
    va_end(ap);
    return s;
}

/* OpenMP pragmas that vanish (without unknown-pragma warnings) in builds
   without -fopenmp: GENREP__OMP(omp parallel for if (n > 65536)). */
#ifdef _OPENMP
#define GENREP__OMP(x) _Pragma(#x)
#else
#define GENREP__OMP(x)
#endif

/* Argument checks used at the top of every op. */
#define GENREP__CHECK_PTR(p) \
    do { if (!(p)) return genrep__fail(GENREP_ERR_ARG, "%s: argument '%s' is NULL", __func__, #p); } while (0)
#define GENREP__CHECK_POS(x) \
    do { if ((x) <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: '%s' must be > 0, got %lld", __func__, #x, (long long)(x)); } while (0)
#define GENREP__CHECK_NONNEG(x) \
    do { if ((x) < 0) return genrep__fail(GENREP_ERR_ARG, "%s: '%s' must be >= 0, got %lld", __func__, #x, (long long)(x)); } while (0)

GENREP_API void *genrep_alloc(size_t bytes) { return GENREP_MALLOC(bytes ? bytes : 1); }
GENREP_API void genrep_free(void *p) { if (p) GENREP_FREE(p); }

/* ISA selection: cpuid says what the CPU has, XGETBV what the OS saves on
   context switch (AVX state for AVX2, opmask+ZMM state for AVX-512). */
static int genrep__isa_state = -1; /* -1: not chosen yet */

static int genrep__cpu_max_isa(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    unsigned int xcr0_lo = 0, xcr0_hi = 0;
    unsigned int a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if (!(c & (1u << 27))) return GENREP_ISA_SCALAR; /* no OSXSAVE */
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    (void)xcr0_hi;
    int os_avx = (xcr0_lo & 0x6) == 0x6;
    int os_avx512 = os_avx && (xcr0_lo & 0xe0) == 0xe0;
    if (os_avx512 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return GENREP_ISA_AVX512;
    if (os_avx && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return GENREP_ISA_AVX2;
#endif
    return GENREP_ISA_SCALAR;
}

static void genrep__isa_choose(void) {
    int best = genrep__cpu_max_isa();
    int isa = best;
    const char *env = getenv("GENREP_ISA");
    if (env && *env) {
        if (!strcmp(env, "scalar")) isa = GENREP_ISA_SCALAR;
        else if (!strcmp(env, "avx2")) isa = GENREP_ISA_AVX2;
        else if (!strcmp(env, "avx512")) isa = GENREP_ISA_AVX512;
        if (isa > best) isa = best; /* cannot force what the CPU lacks */
    }
    genrep__isa_state = isa;
}

GENREP_API genrep_isa genrep_get_isa(void) {
    if (genrep__isa_state < 0) genrep__isa_choose();
    return (genrep_isa)genrep__isa_state;
}

GENREP_API genrep_status genrep_set_isa(genrep_isa isa) {
    if ((int)isa < 0 || (int)isa > GENREP_ISA_AVX512)
        return genrep__fail(GENREP_ERR_ARG, "genrep_set_isa: unknown ISA %d", (int)isa);
    if ((int)isa > genrep__cpu_max_isa())
        return genrep__fail(GENREP_ERR_UNSUPPORTED, "genrep_set_isa: this CPU/OS cannot run %s",
                            genrep_isa_name(isa));
    genrep__isa_state = (int)isa;
    return GENREP_OK;
}

GENREP_API const char *genrep_isa_name(genrep_isa isa) {
    switch (isa) {
    case GENREP_ISA_SCALAR: return "scalar";
    case GENREP_ISA_AVX2: return "avx2";
    case GENREP_ISA_AVX512: return "avx512";
    }
    return "unknown";
}

GENREP_API int genrep_num_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

GENREP_API void genrep_set_num_threads(int n) {
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#else
    (void)n;
#endif
}

/* ----------------------------------------------------------------- [RNG] */

GENREP_API void genrep_philox(uint32_t out[4], uint64_t seed, uint64_t stream, uint64_t counter) {
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32);
    uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

GENREP_API void genrep_rng_init(genrep_rng *r, uint64_t seed, uint64_t stream) {
    r->seed = seed; r->stream = stream; r->counter = 0; r->pos = 4;
}

GENREP_API uint32_t genrep_rng_u32(genrep_rng *r) {
    if (r->pos >= 4) {
        genrep_philox(r->buf, r->seed, r->stream, r->counter++);
        r->pos = 0;
    }
    return r->buf[r->pos++];
}

/* 24 random bits -> exactly representable float in [0, 1). */
GENREP_API float genrep_rng_uniform(genrep_rng *r) {
    return (float)(genrep_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

/* Box-Muller in double; one normal per call (the pair's second half is
   dropped so the stream position is simple to reason about). */
GENREP_API float genrep_rng_normal(genrep_rng *r) {
    double u1 = ((double)(genrep_rng_u32(r) >> 8) + 1.0) * (1.0 / 16777217.0); /* (0,1) */
    double u2 = (double)(genrep_rng_u32(r) >> 8) * (1.0 / 16777216.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

GENREP_API float genrep_rng_truncnormal(genrep_rng *r, float lo, float hi) {
    for (int tries = 0; tries < 1000000; tries++) {
        float x = genrep_rng_normal(r);
        if (x >= lo && x <= hi) return x;
    }
    return 0.5f * (lo + hi); /* interval with (almost) no mass */
}

/* Lemire's multiply-shift with rejection: unbiased. */
GENREP_API uint32_t genrep_rng_below(genrep_rng *r, uint32_t n) {
    if (n == 0) return 0;
    uint64_t m = (uint64_t)genrep_rng_u32(r) * n;
    uint32_t l = (uint32_t)m;
    if (l < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (l < t) { m = (uint64_t)genrep_rng_u32(r) * n; l = (uint32_t)m; }
    }
    return (uint32_t)(m >> 32);
}

/* -------------------------------------------------------------- [TENSOR] */

static genrep_status genrep__tensor_shape(genrep_tensor *t, int ndim, const int64_t *shape) {
    if (!t) return genrep__fail(GENREP_ERR_ARG, "genrep_tensor: tensor pointer is NULL");
    if (ndim < 1 || ndim > GENREP_MAX_DIMS)
        return genrep__fail(GENREP_ERR_ARG, "genrep_tensor: ndim must be 1..%d, got %d", GENREP_MAX_DIMS, ndim);
    if (!shape) return genrep__fail(GENREP_ERR_ARG, "genrep_tensor: shape is NULL");
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (int i = 0; i < GENREP_MAX_DIMS; i++) t->shape[i] = 1;
    int64_t total = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return genrep__fail(GENREP_ERR_ARG, "genrep_tensor: shape[%d] = %lld is negative", i, (long long)shape[i]);
        if (shape[i] > 0 && total > INT64_MAX / 4 / shape[i])
            return genrep__fail(GENREP_ERR_ARG, "genrep_tensor: shape overflows");
        t->shape[i] = shape[i];
        total *= shape[i];
    }
    int64_t s = 1;
    for (int i = GENREP_MAX_DIMS - 1; i >= 0; i--) { t->stride[i] = s; s *= t->shape[i]; }
    /* strides of the leading ndim dims are what matter; trailing unused dims are 1 */
    s = 1;
    for (int i = ndim - 1; i >= 0; i--) { t->stride[i] = s; s *= t->shape[i]; }
    for (int i = ndim; i < GENREP_MAX_DIMS; i++) t->stride[i] = 1;
    return GENREP_OK;
}

GENREP_API int64_t genrep_tensor_numel(const genrep_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

GENREP_API genrep_status genrep_tensor_create(genrep_tensor *t, int ndim, const int64_t *shape) {
    genrep_status st = genrep__tensor_shape(t, ndim, shape);
    if (st) return st;
    size_t bytes = (size_t)genrep_tensor_numel(t) * sizeof(float);
    t->data = (float *)genrep_alloc(bytes);
    if (!t->data) return genrep__fail(GENREP_ERR_NOMEM, "genrep_tensor_create: cannot allocate %zu bytes", bytes);
    memset(t->data, 0, bytes);
    t->owns = 1;
    return GENREP_OK;
}

GENREP_API genrep_status genrep_tensor_wrap(genrep_tensor *t, float *data, int ndim, const int64_t *shape) {
    genrep_status st = genrep__tensor_shape(t, ndim, shape);
    if (st) return st;
    if (!data && genrep_tensor_numel(t) > 0) return genrep__fail(GENREP_ERR_ARG, "genrep_tensor_wrap: data is NULL");
    t->data = data;
    t->owns = 0;
    return GENREP_OK;
}

GENREP_API void genrep_tensor_free(genrep_tensor *t) {
    if (!t) return;
    if (t->owns) genrep_free(t->data);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- [GEMM] */

static genrep_status genrep__sgemm_check(const char *fn, int transA, int transB, int M, int N, int K,
                                         const float *A, int lda, const float *B, int ldb,
                                         const float *C, int ldc) {
    if (M < 0 || N < 0 || K < 0)
        return genrep__fail(GENREP_ERR_ARG, "%s: sizes must be >= 0, got M=%d N=%d K=%d", fn, M, N, K);
    int acols = transA ? M : K, bcols = transB ? K : N;
    if (lda < (acols > 1 ? acols : 1))
        return genrep__fail(GENREP_ERR_ARG, "%s: lda=%d < %d", fn, lda, acols);
    if (ldb < (bcols > 1 ? bcols : 1))
        return genrep__fail(GENREP_ERR_ARG, "%s: ldb=%d < %d", fn, ldb, bcols);
    if (ldc < (N > 1 ? N : 1))
        return genrep__fail(GENREP_ERR_ARG, "%s: ldc=%d < N=%d", fn, ldc, N);
    if (M > 0 && N > 0 && !C) return genrep__fail(GENREP_ERR_ARG, "%s: C is NULL", fn);
    if (M > 0 && N > 0 && K > 0 && (!A || !B)) return genrep__fail(GENREP_ERR_ARG, "%s: A or B is NULL", fn);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_sgemm_ref(int transA, int transB, int M, int N, int K,
                                          float alpha, const float *A, int lda,
                                          const float *B, int ldb,
                                          float beta, float *C, int ldc) {
    genrep_status st = genrep__sgemm_check(__func__, transA, transB, M, N, K, A, lda, B, ldb, C, ldc);
    if (st) return st;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) {
                float a = transA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = transB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                acc += a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
        }
    return GENREP_OK;
}

#include "parts/gemm_impl.h"
#include "parts/conv_impl.h"
#include "parts/layers_impl.h"
#include "parts/data_impl.h"
#include "parts/st_impl.h"
#include "parts/encoder_impl.h"
#include "parts/models_impl.h"
#include "parts/lead_impl.h"
#include "parts/eval_impl.h"
#include "parts/steer_impl.h"

#endif /* GENREP__IMPLEMENTED */
#endif /* GENREP_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
MIT License

Copyright (c) 2026 the genrep.h authors

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
*/
