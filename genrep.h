/* genrep.h v0.2.0 - generative models as a data source for multiview representation learning. MIT licence, see end of file. */
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
     GENREP_NODISCARD        attribute on status-returning functions
                             (default: warn_unused_result on GCC/Clang)
     GENREP_MALLOC(sz)       allocator returning 64-byte aligned memory
                             (default: aligned_alloc(64, round_up(sz, 64)))
     GENREP_FREE(p)          matching free (default: free)
     GENREP_ASSERT(x)        internal invariant check (default: assert)
     GENREP_NO_ZLIB          IDX reader reads plain files only (no -lz)
     GENREP_IMAGE_IO         image folders and PNG grids through Debian's
                             libstb-dev (stb_image, stb_image_write; -lstb)
     Limits on what a file may ask for (checked before allocating):
     GENREP_FMNIST_MAX_IMAGES  images genrep_fmnist_load allocates (131072;
                             genrep_fmnist_load_n loads a prefix instead)
     GENREP_IMAGE_MAX_BYTES  image file size (64 MiB)         [IMAGE]
     GENREP_IMAGE_MAX_PIXELS image width * height (2^25 = 33.5 M)
     GENREP_IMAGE_MAX_SIDE   image width, height (16384)
     GENREP_IMAGE_MAX_SCANS  JPEG scans (256)
     Images: PNG and JPEG only (magic bytes checked; see [IMAGE]).
     GENREP_IDX_MAX_BYTES (2 GiB payload) and GENREP_ST_MAX_HEADER (100 MiB
     safetensors header) are fixed. Every reader opens regular files only.

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
     guards internal invariants only. Status-returning functions carry
     warn_unused_result (GENREP_NODISCARD) under GCC and Clang, so an
     ignored status is a compiler warning.

   VERSION
     GENREP_VERSION "0.2.0" (GENREP_VERSION_MAJOR/_MINOR/_PATCH). The header
     needs C11 (or C++11); below that it stops with an #error naming the flag.

   GRADIENTS
     Every *_backward ACCUMULATES (+=) into every gradient it writes (dinp,
     dweight, dbias ...), as llm.c does: zero gradients before a backward
     pass. A NULL gradient pointer means "not needed". One exception, asked
     for by name: genrep_batchnorm_act_backward with accumulate = 0 writes
     dinp (=) so a first write needs no zeroing pass (the encoder uses it).

   ISA / CUDA
     One build runs on any x86-64: SIMD kernels carry target attributes and
     are chosen at run time from cpuid + XGETBV (no -march=native needed).
     GEMM has scalar, AVX2+FMA and AVX-512 microkernels; the augmentations'
     hue and blur have AVX2 paths; the other ops are plain C loops the
     compiler vectorises (batchnorm sums with GCC vector extensions). What
     each ISA uses lives in one kernel table ([GEMM], genrep__kernels()),
     filled once when the ISA is chosen and again only by genrep_set_isa.
     bf16 mixed precision (genrep_gemm_bf16; genrep_conv2d_desc.precision;
     genrep_encoder_set_precision; `genrep train --precision bf16`): bf16
     operands, fp32 sums, fp32 everything else. Kernels: AVX512-BF16
     (vdpbf16ps, 8x48) where cpuid has it on the AVX-512 path; otherwise an
     AVX2+FMA emulation (the AVX2 path, and AVX-512 CPUs without BF16);
     the scalar path on the same model in C. All three compute the same bits:
     the summation order, rounding and FTZ of vdpbf16ps are written down in
     [GEMM] bf16 and were checked against this Zen 5 bit for bit.
     CUDA: not implemented yet; the tensor's device field is reserved for it
     and is always NULL today.

   DETERMINISM
     Random draws come from Philox4x32-10 streams named by (seed, stream,
     counter) -- for data, by (seed, sample index, view index) -- never by
     thread count or call order. For a fixed ISA path every op gives the
     same bits on 1 and on N threads (reductions run in a fixed order), so
     a training run with the same seed and flags is bitwise reproducible on
     any thread count. The scalar, AVX2 and AVX-512 paths differ from each
     other in rounding (FMA and summation order), by a few ulp per dot
     product; runs are reproducible per path, not across paths. In bf16
     mode the encoder's forward and backward are the same bits on every path
     as well (genrep_gemm_bf16 is path-independent by construction); the
     fp32 parts outside the encoder (the loss's similarity GEMM) still
     differ by path, so a whole bf16 run is reproducible per path. A batch
     split over processes (the encoder's bn_sync hook, genrep train under
     mpirun) sums in another grouping: the same up to rounding, unless the
     encoder is in share mode (genrep_encoder_set_share: every batch sum a
     pairwise tree over fixed shares of the batch), where P = 2^k processes
     each holding a power of two of shares and adding their roots pairwise
     in rank order get the bits of one process (genrep train does this).

   EXAMPLES (examples/; `make` builds them, `make test` runs each with --smoke)
     00_quickstart.c        this manual's quick start
     01_generate.c          load a generator (any shape), write a PNG grid
     02_latent_views.c      anchors and their Gaussian, angular, steered views
     03_augment.c           SimCLR views of your own PNG/JPEG
     04_contrastive_step.c  generator -> views -> augmentations -> encoder -> NT-Xent -> SGD
     05_embed.c             encoder checkpoint -> CSV of a folder's features; nearest neighbours
     06_biggan.c            BigGAN-deep weights -> PNG grid, one row per class

   FILES (safetensors, see [SAFETENSORS]; every model file goes through [MODELIO])
     generator (genrep gan-train, genrep_gen_save/_load,
       weights/export_pytorch.py): the generator's named table; metadata
       genrep.model = dcgan|cgan, genrep.zdim, genrep.width, genrep.dwidth,
       genrep.n_classes, genrep.embed_dim, and for a DCGAN-family member
       other than the default 28x28x1 one also genrep.first = linear|convt,
       genrep.n_up, genrep.out_size, genrep.out_channels, genrep.out_layer =
       conv|convt, genrep.out_bias = 0|1, genrep.out_act = tanh|sigmoid|none
       (all or none of these). Output shape: genrep_gen_shape. Outputs of
       tanh are in [-1, 1]. Discriminator (1x28x28 only):
       genrep_disc_save/_load, the same metadata.
     encoder (genrep train, genrep_encoder_save/_load): state_dict tensors
       (+ optim.* state, head.linear of the CE / inverter baselines);
       metadata records the whole architecture -- genrep.encoder (arch
       label), genrep.in = "C,H,W", genrep.stem, genrep.widths,
       genrep.blocks, genrep.strides (one value per stage), genrep.head =
       "hidden,out" -- so any encoder reloads without flags, plus the
       training settings (train.<flag>) and genrep.step. Loading is strict:
       metadata that disagrees with the tensors is refused by name.
       Inputs are (x - 0.5) / 0.5 of images in [0, 1].
     walks (genrep steer-train): walks (T, zdim) per alpha unit, alpha_max (T).
     BigGAN-deep (weights/export_pytorch.py --biggan pytorch_model.bin,
       genrep_biggan_load): the pytorch_pretrained_biggan state_dict as is
       (spectral-norm weight_orig/_u/_v, running_means/_vars per truncation);
       metadata genrep.model = biggan-deep, genrep.output_dim,
       genrep.channel_width, genrep.num_classes, genrep.z_dim, genrep.n_stats.

   CONTENTS (search for the tags; declarations and implementation follow
   this order)
     [CORE]        status, allocation, ISA choice, threads, regular-file open
     [RNG]         Philox4x32-10 counter-based generator
     [TENSOR]      small fp32 tensor
     [GEMM]        genrep_sgemm: scalar reference, AVX2, AVX-512 kernels;
                   the ISA kernel table; genrep_gemm_bf16 (bf16 operands,
                   fp32 sums: scalar, AVX2 emulation, AVX512-BF16)
     [LAYERS]      [LINEAR] [CONV] [CONVT] [BATCHNORM] [CONDBN] [ACT]
                   [RESIDUAL] [POOL] [UPSAMPLE] [EMBED] [L2NORM] [XENT]
     [OPTIM]       SGD, Adam/AdamW, cosine schedule with warm-up
     [MODELS]      [GAN] DCGAN-family generators (any size, from
                   metadata) and discriminators, [GANLOSS], [GANIO]
     [BIGGAN]      BigGAN-deep 128/256/512 forward (pytorch_pretrained_biggan
                   architecture and names), stored BN statistics, truncation
     [ENCODER]     ResNet encoders with projection head; bn_sync for data parallel
     [LOSS] [MSE]  NT-Xent, SupCon, MSE
     [VIEWS]       latent views: Gaussian, angular, independent, steered
     [PROBE]       converged logistic-regression probe (L-BFGS, CV'd L2), kNN
     [STEER]       image edits and learned latent walks
     [AUG]         SimCLR pixel augmentations, batched and deterministic
     [IDX]         gzip IDX files, Fashion-MNIST
     [IMAGE]       PNG/JPEG through a guard, image folders, PNG grids
                   (with GENREP_IMAGE_IO)
     [EVAL]        Frechet distance and generator quality helpers
     [SAFETENSORS] strict validating reader, atomic writer
     [MODELIO]     model files: tables + extra tensors + metadata, strict
                   loading; encoder and discriminator save/load
     Every public function is declared below with its shapes, ownership
     and errors, under its tag; the examples/ folder shows them in use.
   ============================================================================
*/
#ifndef GENREP_H
#define GENREP_H

#define GENREP_VERSION_MAJOR 0
#define GENREP_VERSION_MINOR 2
#define GENREP_VERSION_PATCH 0
#define GENREP_VERSION "0.2.0"

/* C11 at least (_Thread_local, aligned_alloc); C++11 or later for C++. */
#if !defined(__cplusplus) && (!defined(__STDC_VERSION__) || __STDC_VERSION__ < 201112L)
#error "genrep.h needs C11 or later: compile with -std=c11 (or -std=gnu11, gcc's default), not -std=c99/c89"
#endif

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

/* Every status-returning function is warn_unused_result: an ignored status
   is a compiler warning (define GENREP_NODISCARD empty to turn it off). */
#ifndef GENREP_NODISCARD
#if defined(__GNUC__) || defined(__clang__)
#define GENREP_NODISCARD __attribute__((warn_unused_result))
#else
#define GENREP_NODISCARD
#endif
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
GENREP_API GENREP_NODISCARD genrep_status genrep_set_isa(genrep_isa isa);
GENREP_API const char *genrep_isa_name(genrep_isa isa);
/* Threads used by parallel ops (OpenMP max threads; 1 without OpenMP). */
GENREP_API int  genrep_num_threads(void);
GENREP_API void genrep_set_num_threads(int n);
/* Free GEMM's per-thread packing buffers, those of every thread (they are
   re-made on demand). Not while any genrep_sgemm call is running. */
GENREP_API void genrep_release_buffers(void);
/* Open path read-only if it is a regular file: *fd gets a blocking file
   descriptor (close it with close()). The open itself is non-blocking, so a
   FIFO or device given as a data file is refused at once instead of hanging;
   a directory, FIFO, socket or device is GENREP_ERR_IO with a message naming
   the path and what it is. Every reader of this library opens its files
   through it (IDX, images, safetensors). POSIX only. */
GENREP_API GENREP_NODISCARD genrep_status genrep_file_open_regular(int *fd, const char *path);

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
GENREP_API GENREP_NODISCARD genrep_status genrep_tensor_create(genrep_tensor *t, int ndim, const int64_t *shape);
/* Wrap caller memory (not freed by genrep_tensor_free). */
GENREP_API GENREP_NODISCARD genrep_status genrep_tensor_wrap(genrep_tensor *t, float *data, int ndim, const int64_t *shape);
GENREP_API void    genrep_tensor_free(genrep_tensor *t);
GENREP_API int64_t genrep_tensor_numel(const genrep_tensor *t);

/* ---------------------------------------------------------------- [GEMM] */
/* C (M,N) = alpha * op(A) (M,K) @ op(B) (K,N) + beta * C, row-major, BLAS
   semantics: op(X) = X or X^T; A is (M,K) with lda >= K when !transA, else
   stored (K,M) with lda >= M; likewise B. beta == 0 ignores C's old content
   (NaNs in C are not propagated). Any M, N, K >= 0. Threads: OpenMP. */
GENREP_API GENREP_NODISCARD genrep_status genrep_sgemm(int transA, int transB, int M, int N, int K,
                                      float alpha, const float *A, int lda,
                                      const float *B, int ldb,
                                      float beta, float *C, int ldc);
/* The plain triple loop, the specification the fast paths are tested
   against (no threads, no blocking, double accumulation is NOT used:
   a float running sum in k order). */
GENREP_API GENREP_NODISCARD genrep_status genrep_sgemm_ref(int transA, int transB, int M, int N, int K,
                                          float alpha, const float *A, int lda,
                                          const float *B, int ldb,
                                          float beta, float *C, int ldc);

/* [GEMM] bf16 mixed precision: bf16 operands, fp32 accumulation.
   genrep_bf16_round: fp32 -> bf16 bits, round to nearest even; a denormal
   input becomes a zero of its sign, NaN stays NaN (quieted), overflow
   rounds to infinity (vcvtne2ps2bf16's rounding). genrep_bf16_to_f32 is exact. */
typedef enum { GENREP_PRECISION_FP32 = 0, GENREP_PRECISION_BF16 = 1 } genrep_precision;
GENREP_API uint16_t genrep_bf16_round(float x);
GENREP_API float    genrep_bf16_to_f32(uint16_t h);
/* C (M,N) = op(A) @ op(B) (beta == 0) or C += op(A) @ op(B) (beta == 1; any
   other beta is GENREP_ERR_ARG), A and B fp32 in memory (layouts and
   leading dimensions as genrep_sgemm), each element rounded to bf16 by
   genrep_bf16_round, products summed in fp32 with FTZ: the exact order is
   written down in [GEMM] bf16 and genrep_gemm_bf16_ref is its plain loop.
   Every path (scalar, AVX2 emulation, AVX512-BF16) and every thread count
   gives the same bits (NaN payloads aside). Error against the fp32 product
   of the unrounded operands: see the bound in [GEMM] bf16. */
GENREP_API GENREP_NODISCARD genrep_status genrep_gemm_bf16(int transA, int transB, int M, int N, int K,
                                          const float *A, int lda, const float *B, int ldb,
                                          float beta, float *C, int ldc);
GENREP_API GENREP_NODISCARD genrep_status genrep_gemm_bf16_ref(int transA, int transB, int M, int N, int K,
                                              const float *A, int lda, const float *B, int ldb,
                                              float beta, float *C, int ldc);

/* -------------------------------------------------------------- [LAYERS] */
/* Conventions: outputs first, then caches / gradients, then inputs, then
   sizes. Backward ACCUMULATES into all gradients; NULL = not needed. */

/* [LINEAR] out (B,OC) = inp (B,C) @ weight^T (weight (OC,C)) + bias (OC); bias may be NULL. */
GENREP_API GENREP_NODISCARD genrep_status genrep_linear_forward(float *out, const float *inp, const float *weight,
                                               const float *bias, int B, int C, int OC);
/* dinp (B,C) += dout @ weight; dweight (OC,C) += dout^T @ inp; dbias (OC) += sum_b dout. */
GENREP_API GENREP_NODISCARD genrep_status genrep_linear_backward(float *dinp, float *dweight, float *dbias,
                                                const float *dout, const float *inp,
                                                const float *weight, int B, int C, int OC);
/* [LINEAR] share mode (genrep_encoder_set_share): dweight (OC,C) += dout^T @ inp and
   dbias (OC) += sum_b dout (either may be NULL) as a pairwise tree over
   shares, B rows in `groups` groups of B/groups, share j = rows j*share ..
   j*share+share-1 of every group: a batch cut into power-of-two runs of
   shares, the runs' results added pairwise, gives the same bits. ws holds
   genrep_linear_share_workspace(B, C, OC, groups, share) floats (0 for bad
   sizes). dinp: genrep_linear_backward with dweight and dbias NULL. */
GENREP_API size_t genrep_linear_share_workspace(int B, int C, int OC, int groups, int share);
GENREP_API GENREP_NODISCARD genrep_status genrep_linear_backward_share(float *dweight, float *dbias, float *ws,
                                                      const float *dout, const float *inp, int B, int C, int OC,
                                                      int groups, int share);

/* [CONV] 2-D convolution, cross-correlation as PyTorch, zero padding.
   inp (N,C,H,W), weight (K,C,R,S), bias (K) or NULL, out (N,K,P,Q) with
   P = (H + 2*pad_h - R)/stride_h + 1, Q = (W + 2*pad_w - S)/stride_w + 1. */
typedef struct {
    int N, C, H, W;       /* input */
    int K, R, S;          /* output channels, kernel height, width */
    int stride_h, stride_w, pad_h, pad_w;
    int P, Q;             /* output height, width (filled by _init) */
    int precision;        /* genrep_precision of the GEMMs: _init sets FP32; BF16 runs
                             forward and both backward GEMMs through genrep_gemm_bf16
                             (bf16 operands, fp32 sums; outputs and gradients stay fp32) */
} genrep_conv2d_desc;
/* Fill d and compute P,Q (precision FP32); GENREP_ERR_ARG / _SHAPE on bad sizes. */
GENREP_API GENREP_NODISCARD genrep_status genrep_conv2d_init(genrep_conv2d_desc *d, int N, int C, int H, int W,
                                            int K, int R, int S, int stride, int pad);
/* Scratch floats for forward and backward (one size serves both); 0 if d
   is invalid. Bounded and independent of the thread count: the batch runs
   in chunks whose im2col matrix is about 4 MB (one image per chunk when a
   single image needs more), forward keeping up to 2 chunks in flight; for
   stride 1 also the flipped kernel (K*C*R*S) of the data gradient, and
   with several chunks a weight-gradient partial (K*C*R*S) per slot. */
GENREP_API size_t genrep_conv2d_workspace(const genrep_conv2d_desc *d);
GENREP_API GENREP_NODISCARD genrep_status genrep_conv2d_forward(float *out, float *ws, const float *inp,
                                               const float *weight, const float *bias,
                                               const genrep_conv2d_desc *d);
/* dinp += conv^T(dout), dweight += corr(inp, dout), dbias += sum dout. */
GENREP_API GENREP_NODISCARD genrep_status genrep_conv2d_backward(float *dinp, float *dweight, float *dbias, float *ws,
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
GENREP_API GENREP_NODISCARD genrep_status genrep_convt2d_init(genrep_convt2d_desc *d, int N, int C, int H, int W,
                                             int K, int R, int S, int stride, int pad, int outpad);
GENREP_API size_t genrep_convt2d_workspace(const genrep_convt2d_desc *d);
GENREP_API GENREP_NODISCARD genrep_status genrep_convt2d_forward(float *out, float *ws, const float *inp,
                                                const float *weight, const float *bias,
                                                const genrep_convt2d_desc *d);
GENREP_API GENREP_NODISCARD genrep_status genrep_convt2d_backward(float *dinp, float *dweight, float *dbias, float *ws,
                                                 const float *dout, const float *inp,
                                                 const float *weight, const genrep_convt2d_desc *d);

/* [BATCHNORM] over (N, C, HW): HW = H*W for 2-d, HW = 1 for 1-d (B, C).
   training != 0: normalise with batch statistics (biased variance), write
   the cache mean (C), rstd (C) = 1/sqrt(var + eps), and update running
   stats as PyTorch: running = (1-momentum)*running + momentum*batch, with
   the unbiased variance for running_var (running_* may be NULL).
   training == 0: normalise with running stats; mean/rstd cache is still
   written from them. gamma/beta may be NULL (affine=False). */
GENREP_API GENREP_NODISCARD genrep_status genrep_batchnorm_forward(float *out, float *mean, float *rstd,
                                                  float *running_mean, float *running_var,
                                                  const float *inp, const float *gamma, const float *beta,
                                                  int N, int C, int HW, float eps, float momentum,
                                                  int training);
/* training selects the batch-statistics gradient (through mean and var)
   or the eval-mode gradient (a per-channel scale). */
GENREP_API GENREP_NODISCARD genrep_status genrep_batchnorm_backward(float *dinp, float *dgamma, float *dbeta,
                                                   const float *dout, const float *inp,
                                                   const float *gamma, const float *mean,
                                                   const float *rstd, int N, int C, int HW,
                                                   int training);

/* [BATCHNORM] fused, for the encoder's conv -> BN -> (+ residual) -> ReLU units:
   out = act(batchnorm(inp) + res) with act = ReLU if relu != 0, else the
   identity; res (N,C,HW) may be NULL; out may alias res. Same arguments,
   cache and running-stat update as genrep_batchnorm_forward, in two passes
   over memory instead of five: the batch statistics come from one pass
   (sum and sum of squares in double, var = max(0, (ssq - sum*mean)/M)), so
   they may differ from genrep_batchnorm_forward's two-pass ones in the last
   bits; normalise, residual add and ReLU are one pass. */
GENREP_API GENREP_NODISCARD genrep_status genrep_batchnorm_act_forward(float *out, float *mean, float *rstd,
                                                      float *running_mean, float *running_var,
                                                      const float *inp, const float *gamma, const float *beta,
                                                      const float *res, int relu, int N, int C, int HW,
                                                      float eps, float momentum, int training);
/* Its backward through the batchnorm (and the ReLU): act_out is the fused
   forward's out when it had relu (the gradient is dout where act_out > 0,
   else 0), NULL without ReLU; the residual's gradient (dout masked the same
   way) is the caller's. accumulate != 0: dinp += (as genrep_batchnorm_backward);
   0: dinp = (no zeroing pass needed). dgamma, dbeta accumulate (+=). */
GENREP_API GENREP_NODISCARD genrep_status genrep_batchnorm_act_backward(float *dinp, float *dgamma, float *dbeta,
                                                       const float *dout, const float *act_out,
                                                       const float *inp, const float *gamma,
                                                       const float *mean, const float *rstd,
                                                       int N, int C, int HW, int training, int accumulate);

/* [CONDBN] class-conditional batchnorm, BigGAN-style: out = xhat * (1 + gain)
   + bias with per-sample gain, bias (N, C) (the caller computes them from a
   class embedding with a linear layer and back-propagates dgain, dbias into
   it). Statistics as genrep_batchnorm_forward without affine. */
GENREP_API GENREP_NODISCARD genrep_status genrep_condbn_forward(float *out, float *mean, float *rstd,
                                               float *running_mean, float *running_var,
                                               const float *inp, const float *gain, const float *bias,
                                               int N, int C, int HW, float eps, float momentum,
                                               int training);
GENREP_API GENREP_NODISCARD genrep_status genrep_condbn_backward(float *dinp, float *dgain, float *dbias,
                                                const float *dout, const float *inp,
                                                const float *gain, const float *mean,
                                                const float *rstd, int N, int C, int HW,
                                                int training);

/* [ACT] elementwise over n values. Backward takes what it needs:
   relu/leaky_relu the input, tanh/sigmoid the output. */
GENREP_API GENREP_NODISCARD genrep_status genrep_relu_forward(float *out, const float *inp, size_t n);
GENREP_API GENREP_NODISCARD genrep_status genrep_relu_backward(float *dinp, const float *dout, const float *inp, size_t n);
GENREP_API GENREP_NODISCARD genrep_status genrep_leaky_relu_forward(float *out, const float *inp, float slope, size_t n);
GENREP_API GENREP_NODISCARD genrep_status genrep_leaky_relu_backward(float *dinp, const float *dout, const float *inp,
                                                    float slope, size_t n);
GENREP_API GENREP_NODISCARD genrep_status genrep_tanh_forward(float *out, const float *inp, size_t n);
GENREP_API GENREP_NODISCARD genrep_status genrep_tanh_backward(float *dinp, const float *dout, const float *out, size_t n);
GENREP_API GENREP_NODISCARD genrep_status genrep_sigmoid_forward(float *out, const float *inp, size_t n);
GENREP_API GENREP_NODISCARD genrep_status genrep_sigmoid_backward(float *dinp, const float *dout, const float *out, size_t n);

/* [RESIDUAL] out = a + b; backward da += dout, db += dout. */
GENREP_API GENREP_NODISCARD genrep_status genrep_add_forward(float *out, const float *a, const float *b, size_t n);
GENREP_API GENREP_NODISCARD genrep_status genrep_add_backward(float *da, float *db, const float *dout, size_t n);

/* [POOL] global average pool: inp (N,C,HW) -> out (N,C). */
GENREP_API GENREP_NODISCARD genrep_status genrep_avgpool_forward(float *out, const float *inp, int N, int C, int HW);
GENREP_API GENREP_NODISCARD genrep_status genrep_avgpool_backward(float *dinp, const float *dout, int N, int C, int HW);
/* max pool 2-d, kernel k, stride s, padding p (padded cells never win, as PyTorch).
   inp (N,C,H,W) -> out (N,C,P,Q), P = (H + 2p - k)/s + 1; argmax (N,C,P,Q)
   int32 cache holds the flat h*W+w of each maximum (first on ties). */
GENREP_API GENREP_NODISCARD genrep_status genrep_maxpool_forward(float *out, int32_t *argmax, const float *inp,
                                                int N, int C, int H, int W, int k, int s, int p);
GENREP_API GENREP_NODISCARD genrep_status genrep_maxpool_backward(float *dinp, const float *dout, const int32_t *argmax,
                                                 int N, int C, int H, int W, int k, int s, int p);

/* [UPSAMPLE] nearest x2: inp (N,C,H,W) -> out (N,C,2H,2W). */
GENREP_API GENREP_NODISCARD genrep_status genrep_upsample2x_forward(float *out, const float *inp, int N, int C, int H, int W);
GENREP_API GENREP_NODISCARD genrep_status genrep_upsample2x_backward(float *dinp, const float *dout, int N, int C, int H, int W);

/* [EMBED] out (B,D) = table[idx[b]] (table (V,D)); backward dtable[idx[b]] += dout[b].
   Indices outside [0,V) give GENREP_ERR_ARG. */
GENREP_API GENREP_NODISCARD genrep_status genrep_embedding_forward(float *out, const int32_t *idx, const float *table,
                                                  int B, int V, int D);
GENREP_API GENREP_NODISCARD genrep_status genrep_embedding_backward(float *dtable, const float *dout, const int32_t *idx,
                                                   int B, int V, int D);

/* [L2NORM] row-wise, as torch.nn.functional.normalize(x, dim=1, eps):
   out[b] = inp[b] / max(||inp[b]||, eps); norm (B) cache holds max(||.||, eps). */
GENREP_API GENREP_NODISCARD genrep_status genrep_l2norm_forward(float *out, float *norm, const float *inp, int B, int D, float eps);
GENREP_API GENREP_NODISCARD genrep_status genrep_l2norm_backward(float *dinp, const float *dout, const float *out,
                                                const float *norm, int B, int D);

/* [XENT] mean softmax cross-entropy: logits (B,V), targets (B) in [0,V).
   Writes *loss and probs (B,V) (the softmax, the backward cache).
   Backward: dlogits += dloss * (probs - onehot) / B. */
GENREP_API GENREP_NODISCARD genrep_status genrep_softmax_xent_forward(float *loss, float *probs, const float *logits,
                                                     const int32_t *targets, int B, int V);
GENREP_API GENREP_NODISCARD genrep_status genrep_softmax_xent_backward(float *dlogits, const float *probs,
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
GENREP_API GENREP_NODISCARD genrep_status genrep_sgd_step(float *params, float *buf, const float *grads, size_t n,
                                         const genrep_sgd_config *cfg, int64_t step);
typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
    int   decoupled;   /* 1 = AdamW (p *= 1 - lr*wd), 0 = Adam (g += wd*p) */
} genrep_adam_config;
GENREP_API GENREP_NODISCARD genrep_status genrep_adam_step(float *params, float *m, float *v, const float *grads, size_t n,
                                          const genrep_adam_config *cfg, int64_t step);
/* Learning rate at step (0-based) of total: linear warm-up from 0 over
   warmup steps (lr*(step+1)/warmup), then cosine from base_lr to min_lr. */
GENREP_API float genrep_cosine_lr(float base_lr, float min_lr, int64_t step, int64_t warmup, int64_t total);

/* -------------------------------------------------------------- [MODELS] */
/* [GAN] DCGAN-family generators (any output size and channel count, from
   metadata) and a discriminator for 28x28x1 images in [-1, 1].

   The generator family ("bring your own generator"): with
   C_i = width * 2^(n_up - i) channels and side s_i = s0 * 2^i at stage i,
     z (B,Z) -> first -> (C_0, s0, s0) -> bn0 -> relu            stage 0
       first = linear (fc, no bias, output viewed as (C_0,s0,s0))
             | convT from z viewed as (Z,1,1), kernel s0, stride 1, pad 0
       -> upI: convT 4x4 s2 p1 (no bias) -> (C_I, s_I, s_I) -> bnI -> relu
          for I = 1 .. n_up
       -> out: conv 3x3 p1 | convT 4x4 s2 p1, to (out_channels, S, S),
          bias or none -> tanh | sigmoid | none
   where S = out_size = s0 * 2^n_up (conv out) or s0 * 2^(n_up+1) (convT
   out). The defaults are the project's own 28x28x1 DCGAN (width ch = 32,
   ~14 M multiply-adds per image):
     z -> fc -> (4ch,7,7) -> bn0 -> relu -> up1 -> (2ch,14,14) -> bn1 -> relu
       -> up2 -> (ch,28,28) -> bn2 -> relu -> out conv 3x3 (+bias) -> tanh
   and PyTorch's DCGAN tutorial generator (64x64 RGB, nz, ngf) is first =
   convT (s0 = 4), n_up 3, width ngf, out convT without bias, 3 channels,
   tanh (weights/export_pytorch.py renames its main.N.* tensors).
   Class-conditional generator (GENREP_GAN_CGAN): the same trunk; a shared
   class embedding (n_classes, E) feeds every batchnorm, which becomes a
   class-conditional batchnorm (BigGAN): gain = bnI.gain(e), bias =
   bnI.bias(e), out = xhat * (1 + gain) + bias.

   Discriminator (width dch, default 64), no normalisation (so real and
   fake can share one forward pass); the default 28x28x1 generator shape
   only (genrep gan-train):
     x (B,1,28,28) -> conv1 4x4 s2 p1 -> (dch,14,14) -> leaky 0.2
       -> conv2 4x4 s2 p1 -> (2dch,7,7) -> leaky 0.2 -> flatten h (B,F)
       -> fc -> logit;  conditional: logit += <embed[y], h>  (projection
       discriminator, Miyato & Koyama 2018).

   The modules are torch.nn's: Linear(Z, C_0*s0*s0, bias=False) viewed as
   (C_0,s0,s0), BatchNorm2d (eps 1e-5, momentum 0.1), ConvTranspose2d(...,
   bias=False), Conv2d, Embedding; tests/ref/make_models_golden.py and
   tests/ref/make_export_golden.py build them in PyTorch and the tests
   match its outputs and gradients.

   Parameters live in one slab, gradients in another with the same layout
   (llm.c). Each model has a table of named tensors with PyTorch
   state_dict names ("fc.weight", "bn0.running_mean", ...) and layouts, so
   a checkpoint maps 1:1 onto safetensors. Batchnorm running statistics
   are in the table marked is_buffer: saved, never trained (their gradient
   slots stay zero and genrep_gan_adam_step skips them). */

typedef enum { GENREP_GAN_DCGAN = 0, GENREP_GAN_CGAN = 1 } genrep_gan_kind;
/* The generator's first layer, output layer and output activation. */
typedef enum { GENREP_GEN_FIRST_LINEAR = 0, GENREP_GEN_FIRST_CONVT = 1 } genrep_gen_first;
typedef enum { GENREP_GEN_OUT_CONV = 0, GENREP_GEN_OUT_CONVT = 1 } genrep_gen_out_layer;
typedef enum { GENREP_GEN_ACT_TANH = 0, GENREP_GEN_ACT_SIGMOID = 1, GENREP_GEN_ACT_NONE = 2 } genrep_gen_act;
#define GENREP_GEN_MAX_UP 6  /* up-sampling stages at most */

typedef struct {
    int kind;        /* genrep_gan_kind: batchnorm (dcgan) or class-conditional (cgan) */
    int zdim;        /* latent size, default 128 */
    int width;       /* generator base channels ch (those of the last stage), default 32 */
    int dwidth;      /* discriminator base channels dch, default 64 */
    int n_classes;   /* classes of the conditional models, default 10 */
    int embed_dim;   /* generator class embedding size E, default 32 */
    /* generator architecture (defaults: the 28x28x1 DCGAN above). A config
       whose out_size is 0 (made without genrep_gan_config_default) means
       these defaults. */
    int first;        /* genrep_gen_first, default linear */
    int n_up;         /* convT up-sampling stages after the first layer, 0..GENREP_GEN_MAX_UP, default 2 */
    int out_size;     /* output side S (square images), default 28 */
    int out_channels; /* output channels, default 1 */
    int out_layer;    /* genrep_gen_out_layer, default conv 3x3 */
    int out_bias;     /* 1: the output layer has a bias, default 1 */
    int out_act;      /* genrep_gen_act, default tanh */
} genrep_gan_config;

/* Fill the defaults above for a kind. */
GENREP_API void genrep_gan_config_default(genrep_gan_config *cfg, genrep_gan_kind kind);

/* One named tensor of a model's table (generator, discriminator and
   encoder alike): a state_dict entry at params[offset .. offset+numel)
   (and grads[offset ..] when trained) with its shape. */
typedef struct {
    char    name[64];
    int     ndim;
    int64_t shape[GENREP_MAX_DIMS];
    size_t  offset, numel;
    int     is_buffer;  /* 1 = running statistic (BN mean/var): saved, never trained */
} genrep_param_info;

#define GENREP_GAN_MAX_TENSORS 64

typedef struct {
    genrep_gan_config cfg;
    int    max_batch;
    /* parameters and their gradients: one slab each, same layout */
    float *params, *grads;
    size_t n_params;                 /* floats in each slab (buffers included) */
    genrep_param_info table[GENREP_GAN_MAX_TENSORS];
    int    n_tensors;
    /* activations (forward caches) and their gradients, sized for max_batch */
    float *acts, *dacts;
    size_t n_acts;
    float *ws;                       /* conv workspace */
    size_t n_ws;
    /* state of the last forward, used by backward */
    int    last_B, last_training;
    const int32_t *last_y;
    const float *last_z;
    /* internal: slab offsets of each tensor and activation, by role */
    size_t poff[GENREP_GAN_MAX_TENSORS], aoff[GENREP_GAN_MAX_TENSORS];
} genrep_gen;

typedef struct {
    genrep_gan_config cfg;
    int    max_batch;
    float *params, *grads;
    size_t n_params;
    genrep_param_info table[GENREP_GAN_MAX_TENSORS];
    int    n_tensors;
    float *acts, *dacts;
    size_t n_acts;
    float *ws;
    size_t n_ws;
    int    last_B;
    const float *last_x;
    const int32_t *last_y;
    size_t poff[GENREP_GAN_MAX_TENSORS], aoff[GENREP_GAN_MAX_TENSORS];
} genrep_disc;

/* Allocate a generator for batches up to max_batch and initialise it from
   seed (DCGAN init: conv/linear weights N(0, 0.02), batchnorm gamma
   N(1, 0.02), biases 0, running_mean 0, running_var 1; class embedding
   N(0, 1)). Same seed, same bits. */
GENREP_API GENREP_NODISCARD genrep_status genrep_gen_create(genrep_gen *g, const genrep_gan_config *cfg, int max_batch,
                                           uint64_t seed);
GENREP_API void genrep_gen_free(genrep_gen *g);
/* Re-draw every parameter from seed (as _create does). */
GENREP_API void genrep_gen_init(genrep_gen *g, uint64_t seed);
GENREP_API void genrep_gen_zero_grad(genrep_gen *g);
/* Look a tensor up by name; NULL if absent. */
GENREP_API const genrep_param_info *genrep_gen_param(const genrep_gen *g, const char *name);
/* Output images of the last forward: (B,C,H,W), inside g's activation slab. */
GENREP_API float *genrep_gen_output(const genrep_gen *g);
/* The shape (C,H,W) of one output image: (out_channels, out_size, out_size),
   (1,28,28) for the default generator. */
GENREP_API void genrep_gen_shape(const genrep_gen *g, int *C, int *H, int *W);

/* Forward a batch: z (B, zdim), y (B) class labels in [0, n_classes)
   (NULL for DCGAN), B <= max_batch. training != 0 uses batch statistics
   and updates the running statistics (momentum 0.1); 0 uses running
   statistics. z and y must stay valid until backward. */
GENREP_API GENREP_NODISCARD genrep_status genrep_gen_forward(genrep_gen *g, const float *z, const int32_t *y, int B,
                                            int training);
/* Backward of the last forward: dout (B,C,H,W) -> grads += ...,
   dz (B, zdim) += ... (NULL if not needed). */
GENREP_API GENREP_NODISCARD genrep_status genrep_gen_backward(genrep_gen *g, float *dz, const float *dout);

/* Sampling: out (B,C,H,W) = G(z, y) in eval mode, any B (processed in
   chunks of max_batch). Row b depends only on z[b], y[b] and the weights. */
GENREP_API GENREP_NODISCARD genrep_status genrep_gen_render(genrep_gen *g, float *out, const float *z, const int32_t *y,
                                           int B);

/* Multiply-adds per image of the generator's forward (for img/s -> GFLOP/s). */
GENREP_API double genrep_gen_macs(const genrep_gan_config *cfg);

GENREP_API GENREP_NODISCARD genrep_status genrep_disc_create(genrep_disc *d, const genrep_gan_config *cfg, int max_batch,
                                            uint64_t seed);
GENREP_API void genrep_disc_free(genrep_disc *d);
GENREP_API void genrep_disc_init(genrep_disc *d, uint64_t seed);
GENREP_API void genrep_disc_zero_grad(genrep_disc *d);
GENREP_API const genrep_param_info *genrep_disc_param(const genrep_disc *d, const char *name);
/* logits (B) = D(x, y); x (B,1,28,28), y (B) or NULL for DCGAN. x and y
   must stay valid until backward. */
GENREP_API GENREP_NODISCARD genrep_status genrep_disc_forward(genrep_disc *d, float *logits, const float *x, const int32_t *y,
                                             int B);
/* Backward of the last forward: dlogits (B) -> grads += ... when
   param_grads != 0 (the generator step passes 0), dx (B,1,28,28) += ...
   (NULL if not needed). */
GENREP_API GENREP_NODISCARD genrep_status genrep_disc_backward(genrep_disc *d, float *dx, const float *dlogits,
                                              int param_grads);

/* [GANLOSS] mean over B of the per-logit loss for a role:
     D_REAL: ns softplus(-l), hinge relu(1 - l)
     D_FAKE: ns softplus(l),  hinge relu(1 + l)
     G:      ns softplus(-l), hinge -l
   Writes *loss and dlogits (B) = d loss / d logit (overwrites). */
typedef enum { GENREP_GAN_LOSS_NS = 0, GENREP_GAN_LOSS_HINGE = 1 } genrep_gan_loss_kind;
typedef enum { GENREP_GAN_D_REAL = 0, GENREP_GAN_D_FAKE = 1, GENREP_GAN_G = 2 } genrep_gan_role;
GENREP_API GENREP_NODISCARD genrep_status genrep_gan_loss(float *loss, float *dlogits, const float *logits, int B,
                                         genrep_gan_loss_kind kind, genrep_gan_role role);

/* Adam over the trainable tensors of a table (buffers skipped); m and v
   have the slab's layout. */
GENREP_API GENREP_NODISCARD genrep_status genrep_gan_adam_step(float *params, float *m, float *v, const float *grads,
                                              const genrep_param_info *table, int n_tensors,
                                              const genrep_adam_config *cfg, int64_t step);

/* [GANIO] Generator weights as safetensors: the named table (buffers
   included) plus metadata genrep.model = "dcgan" | "cgan", genrep.zdim,
   genrep.width, genrep.dwidth, genrep.n_classes, genrep.embed_dim (the
   files `genrep gan-train` ships in weights/ and weights/export_pytorch.py
   writes), and when the architecture is not the default 28x28x1 one
   genrep.first, genrep.n_up, genrep.out_size, genrep.out_channels,
   genrep.out_layer, genrep.out_bias, genrep.out_act (see [GAN]; a file
   without them is the default). extra_kv holds n_extra more key/value
   pairs (may be NULL).
   Written atomically (see [SAFETENSORS]). */
GENREP_API GENREP_NODISCARD genrep_status genrep_gen_save(const genrep_gen *g, const char *path,
                                         const char *const *extra_kv, int n_extra);
/* Create g (batches up to max_batch) from a weights file: the metadata
   gives the architecture, every tensor's name and shape is checked
   (_FORMAT / _SHAPE naming the file and tensor). An int64 tensor (a plain
   PyTorch state_dict's num_batches_tracked) is _UNSUPPORTED with a hint
   to weights/export_pytorch.py. Free with genrep_gen_free. */
GENREP_API GENREP_NODISCARD genrep_status genrep_gen_load(genrep_gen *g, const char *path, int max_batch);
/* -------------------------------------------------------------- [BIGGAN] */
/* BigGAN-deep generator (Brock et al. 2019), forward only (eval mode), with
   the architecture, tensor names and layouts of the public PyTorch port
   `pytorch_pretrained_biggan` (huggingface/pytorch-pretrained-BigGAN), the
   generator GenRep's paper sampled (BigGAN-deep-256). For a batch:
     e    = embeddings(class_vec)            Linear(num_classes, z_dim), no bias
     cond = [z, e]                           (B, 2*z_dim), fed whole to every conditional BN
                                             (BigGAN-deep's hierarchy: no z split into
                                             chunks per block, unlike BigGAN; as the port)
     h    = gen_z(cond)                      Linear(2z, 16*16ch), viewed as (B,4,4,16ch)
                                             (TF order) and permuted to (B,16ch,4,4)
     for each layer i of cfg (attention first when i == attention_layer_position):
       GenBlock (bottleneck residual, mid = in/4):
         t = conv_0 1x1( relu(bn_0(h)) )                       in  -> mid
         t = conv_1 3x3( up2?( relu(bn_1(t)) ) )               mid -> mid
         t = conv_2 3x3( relu(bn_2(t)) )                       mid -> mid
         t = conv_3 1x1( relu(bn_3(t)) )                       mid -> out
         h = t + up2?( h[:, :in/2] if in != out else h )       (channel drop)
       SelfAttn (SAGAN; C channels, N = H*W positions):
         theta = Wt h (C/8,N), phi = maxpool2(Wp h) (C/8,N/4), g = maxpool2(Wg h) (C/2,N/4)
         h = h + gamma * Wo ( g @ softmax_rows(theta^T phi)^T )
     img  = tanh( conv_to_rgb 3x3 ( relu(bn(h)) )[:, :3] )    (B,3,R,R) in [-1,1]
   Every conditional BN normalises with stored statistics and a per-sample
   affine from cond: (x - mean) / sqrt(var + eps) * (1 + scale(cond)) + offset(cond)
   (scale, offset: Linear(2z, C), no bias); the final bn is a plain affine BN.
   The statistics are stored for n_stats truncation values t in [0, 1]
   (running_means, running_vars (n_stats, C)); a forward at truncation t
   uses row i = floor(t*(n_stats-1)), and with c = frac(t*(n_stats-1)) > 0
   the port's blend  rows[i]*c + rows[i+1]*(1-c)  (the port's weighting,
   kept as is so the outputs match it). eps = 1e-4.
   Spectral normalisation: every Linear/Conv2d except `embeddings` is stored
   as the port's state_dict stores it, weight_orig, weight_u, weight_v; the
   weight used is weight_orig / sigma with sigma = u . (W v) from the stored
   u, v (what PyTorch's spectral_norm computes in eval mode: no power
   iteration). The loader divides once; the model holds the divided
   weights, named <module>.weight.
   z is the caller's: the port samples z = t * TruncNormal(-2, 2) for
   truncation t and passes the same t here (it picks the statistics).
   Published configs (genrep_biggan_config_default): 128 and 256 px (and
   512): z_dim 128, channel width 128, 1000 classes, n_stats 51, attention
   before layer 8 (at 64x64: 256 channels at 128 px, 512 at 256 px); 128 px
   has 10 GenBlocks, 256 px 12. A file may shrink width, classes, z_dim and
   n_stats (the tests do) but keeps the layer list of its output_dim. */

#define GENREP_BIGGAN_MAX_LAYERS  16
#define GENREP_BIGGAN_MAX_TENSORS (24 * GENREP_BIGGAN_MAX_LAYERS + 16)

typedef struct {
    int    output_dim;      /* image side: 128, 256 or 512 */
    int    z_dim;           /* latent size, also the class embedding size (128) */
    int    channel_width;   /* ch (128) */
    int    num_classes;     /* 1000 */
    int    n_stats;         /* stored BN statistics per truncation (51) */
    int    attention_layer_position;  /* SelfAttn before this layer (8) */
    float  eps;             /* BN eps (1e-4) */
    int    n_layers;        /* GenBlocks */
    int    up[GENREP_BIGGAN_MAX_LAYERS];       /* 1: up-sample x2 in this block */
    int    in_mult[GENREP_BIGGAN_MAX_LAYERS];  /* in channels = ch * in_mult */
    int    out_mult[GENREP_BIGGAN_MAX_LAYERS]; /* out channels = ch * out_mult */
} genrep_biggan_config;

struct genrep__biggan_plan;
typedef struct {
    genrep_biggan_config cfg;
    int    max_batch;
    float *params;                   /* one slab: divided weights, biases, statistics */
    size_t n_params;
    genrep_param_info table[GENREP_BIGGAN_MAX_TENSORS];  /* <module>.weight names */
    int    n_tensors;
    float *acts;                     /* activations and scratch for max_batch images */
    size_t n_acts;
    struct genrep__biggan_plan *plan;  /* internal: tensor and buffer indices */
} genrep_biggan;

/* The port's published config for output_dim 128, 256 or 512 (_ARG otherwise). */
GENREP_API GENREP_NODISCARD genrep_status genrep_biggan_config_default(genrep_biggan_config *cfg, int output_dim);
/* The tensors a weights file of cfg holds, as the port's state_dict names
   them (<m>.weight_orig, <m>.weight_u, <m>.weight_v for spectral-normalised
   modules, generator.layers.K... with the attention module at index
   attention_layer_position): writes up to cap entries of table (offset and
   numel are per file tensor, offsets contiguous in this order) and *n. */
GENREP_API GENREP_NODISCARD genrep_status genrep_biggan_file_table(genrep_param_info *table, int cap, int *n,
                                                  const genrep_biggan_config *cfg);
/* Allocate a model for batches up to max_batch with random weights from
   seed (weights N(0, 1/fan_in), statistics 0 / 1, BN affine identity,
   gamma 0.1): for benchmarks and shapes, not for pictures. */
GENREP_API GENREP_NODISCARD genrep_status genrep_biggan_create(genrep_biggan *g, const genrep_biggan_config *cfg,
                                              int max_batch, uint64_t seed);
/* Create g from a weights file written by weights/export_pytorch.py
   --biggan: metadata genrep.model = "biggan-deep", genrep.output_dim,
   genrep.channel_width, genrep.num_classes, genrep.z_dim, genrep.n_stats
   give the config; the file must hold exactly genrep_biggan_file_table's
   tensors (checked by name and shape before any data is read). _FORMAT
   also for a sigma that is not finite and positive (naming the module). */
GENREP_API GENREP_NODISCARD genrep_status genrep_biggan_load(genrep_biggan *g, const char *path, int max_batch);
GENREP_API void genrep_biggan_free(genrep_biggan *g);
/* Look a model tensor up by name (<module>.weight, ...); NULL if absent. */
GENREP_API const genrep_param_info *genrep_biggan_param(const genrep_biggan *g, const char *name);
/* out (B,3,R,R) in [-1,1] = G(z, class_vec) at truncation t in (0, 1]:
   z (B, z_dim), class_vec (B, num_classes) (one-hot, or any mix of
   classes). Any B (chunks of max_batch). Eval mode; g's activation slab is
   the scratch, so one render at a time per model. */
GENREP_API GENREP_NODISCARD genrep_status genrep_biggan_render(genrep_biggan *g, float *out, const float *z,
                                              const float *class_vec, int B, double truncation);
/* Multiply-adds per image of genrep_biggan_render (convs, linears, the
   attention products; conv_to_rgb counts the 3 channels kept). */
GENREP_API double genrep_biggan_macs(const genrep_biggan_config *cfg);

/* ------------------------------------------------------------- [ENCODER] */
/* ResNet encoders with a projection head, as GenRep's SupConResNet
   (networks/resnet_big.py of the reference): a 3x3 stem conv + BN + ReLU
   (no max pool: CIFAR style), stages of basic blocks
       out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
   with a 1x1 conv + BN shortcut where the shape changes, global average
   pool to the feature vector (N, F), then the head
       emb = l2normalize(linear2(relu(linear1(feat))))   F -> F -> out_dim.
   Convs have no bias. Parameter names follow the reference's state_dict:
       encoder.stem.0.weight, encoder.stem.1.{weight,bias,running_mean,running_var},
       encoder.layer1.0.conv1.weight, encoder.layer1.0.bn1.*, ..conv2, ..bn2,
       encoder.layer2.0.shortcut.0.weight, encoder.layer2.0.shortcut.1.*,
       head.0.{weight,bias}, head.2.{weight,bias}
   (BN's num_batches_tracked, an int64 counter, is not kept).

   Memory (llm.c's malloc_and_point_parameters): ONE parameter slab holding
   the trained tensors first (num_params floats) and then the BN running
   statistics (num_buffers floats), ONE gradient slab of num_params floats
   (same offsets as the trained part of params), ONE activation slab sized
   for max_batch images, and ONE conv workspace. Nothing is allocated after
   genrep_encoder_create. The optimiser steps the first num_params floats
   of params with grads; the buffers follow them and are never trained.

   One SimCLR step (x holds view 1 of B images, then view 2):
       genrep_encoder_forward(&enc, x, 2*B, 1);
       genrep_ntxent_forward(&loss, lws, enc.out, B, enc.out_dim, 0.1f, 0);
       memset(dz, 0, ...);   genrep_ntxent_backward(dz, lws, enc.out, B, enc.out_dim, 0.1f, 0, 1.0f);
       memset(enc.grads, 0, enc.num_params * sizeof(float));
       genrep_encoder_backward(&enc, NULL, dz);
       genrep_sgd_step(enc.params, momentum_buf, enc.grads, enc.num_params, &sgd, step); */

#define GENREP_ENCODER_MAX_STAGES 4

typedef struct {
    int   in_channels, in_h, in_w;                 /* input images (C, H, W) */
    int   stem_width;                              /* stem conv output channels */
    int   num_stages;                              /* 1..GENREP_ENCODER_MAX_STAGES */
    int   widths[GENREP_ENCODER_MAX_STAGES];       /* channels of each stage */
    int   blocks[GENREP_ENCODER_MAX_STAGES];       /* basic blocks per stage */
    int   strides[GENREP_ENCODER_MAX_STAGES];      /* stride of each stage's first block */
    int   head_hidden;                             /* head hidden width; 0 = feature dim */
    int   head_out;                                /* embedding dim; 0 = no head (output = features) */
    float bn_eps, bn_momentum;                     /* 1e-5, 0.1 (PyTorch defaults) */
} genrep_encoder_config;

/* The default small ResNet: stem 3x3 32, stages 32/64/128 of 2 blocks,
   strides 1/2/2, features 128, head 128 -> 128 -> ReLU -> 128. */
GENREP_API void genrep_encoder_config_small(genrep_encoder_config *c, int in_channels, int H, int W);
/* ResNet-18, CIFAR variant: stem 3x3 64, stages 64/128/256/512 of 2 blocks,
   strides 1/2/2/2, features 512, head 512 -> 512 -> ReLU -> 128. */
GENREP_API void genrep_encoder_config_resnet18(genrep_encoder_config *c, int in_channels, int H, int W);


struct genrep__encoder_plan;        /* layer geometry and activation offsets */

/* Data-parallel training (one batch split over P processes, e.g. MPI ranks):
   batch-norm statistics must be those of the whole batch. With e->bn_sync
   set, every training-mode BN calls it once in forward and once in backward
   with v = the local per-channel sums and, last, the local value count
   (forward: sum x (C), sum x^2 (C), N*H*W; backward: sum dout, sum dout *
   xhat, N*H*W; n = 2C + 1 doubles). It must replace v by its elementwise sum
   over the P processes (MPI_Allreduce) and return GENREP_OK; every process
   calls it the same number of times, in the same order. The local dgamma and
   dbeta stay local (sum the gradients over processes afterwards, as the
   other parameters; in share mode see genrep_encoder_set_share). With P = 1 and a hook that returns v unchanged the
   results are bitwise those without a hook. A non-OK return fails the
   forward/backward with that status. Eval mode never calls it. */
typedef genrep_status (*genrep_encoder_bn_sync_fn)(void *user, double *v, int n);

typedef struct {
    genrep_encoder_config cfg;
    int    feat_dim, out_dim;       /* F; out_dim = head_out, or F without a head */
    int    max_batch;
    int    precision;               /* genrep_precision of conv and head GEMMs: FP32 after
                                       create; set with genrep_encoder_set_precision */
    float *params;                  /* num_params + num_buffers floats */
    float *grads;                   /* num_params floats, backward accumulates */
    size_t num_params, num_buffers;
    genrep_param_info *tensors;     /* num_tensors entries, trained ones first */
    int    num_tensors;
    /* after a forward: */
    const float *features;          /* (N, F) pooled features, in the activation slab */
    const float *out;               /* (N, out_dim) L2-normalised embeddings (or = features) */
    int    last_n, last_training;
    const float *last_inp;          /* forward's input, read by backward */
    /* set by the caller after create (create sets NULL): see genrep_encoder_bn_sync_fn */
    genrep_encoder_bn_sync_fn bn_sync;
    void  *bn_sync_user;
    int    bn_sync_rank;            /* share mode with bn_sync: 0 on the one process that adds the
                                       BN parameters' whole-batch gradients (see genrep_encoder_set_share) */
    int    share, share_groups;     /* genrep_encoder_set_share; 0 and 1 after create */
    /* internals */
    struct genrep__encoder_plan *plan;
    float *acts;  size_t acts_floats;
    float *ws;    size_t ws_floats;
} genrep_encoder;

/* Allocate all slabs for batches up to max_batch and initialise the
   parameters from seed (Kaiming normal fan_out convs, BN 1/0, linear
   uniform(+-1/sqrt(fan_in)) weights and biases, running stats 0/1). */
GENREP_API GENREP_NODISCARD genrep_status genrep_encoder_create(genrep_encoder *e, const genrep_encoder_config *cfg,
                                               int max_batch, uint64_t seed);
GENREP_API void genrep_encoder_free(genrep_encoder *e);
/* Mixed precision: GENREP_PRECISION_BF16 runs every conv (forward, data and
   weight gradient) and the head's linear layers through genrep_gemm_bf16
   (bf16 operands, fp32 sums); parameters, gradients, optimiser state, BN
   statistics, activations and the loss stay fp32. The forward and backward
   then give the same bits on every ISA path (scalar, AVX2, AVX512-BF16) and
   thread count. Takes effect at the next forward; GENREP_ERR_ARG for any
   other value than GENREP_PRECISION_FP32 / _BF16. */
GENREP_API GENREP_NODISCARD genrep_status genrep_encoder_set_precision(genrep_encoder *e, genrep_precision p);
/* Share mode: batch-size-independent bits (data parallel over any power of
   two of processes, issue 16). The batch of a training forward/backward is
   `groups` equal groups of N/groups images (SimCLR's views: view 1 of every
   anchor, then view 2); share j is images j*share .. j*share+share-1 of
   every group. Every sum over the batch in training mode (BN's sum x, sum
   x^2, sum dout, sum dout*xhat; the convs' and the head's weight and bias
   gradients) is then a partial per share (its images in a fixed order, each
   group's run one GEMM of fixed shape) combined by a binary counter, which
   for a power-of-two share count is the perfect pairwise tree over shares.
   A batch split into P consecutive power-of-two runs of shares (P a power
   of two, one run per process) therefore gives each process the root of a
   subtree; adding the P roots pairwise in rank order (recursive doubling or
   halving) rebuilds the same tree: the same bits as one process. With
   bn_sync set, the hook's sums must be combined that way too, and the BN
   parameters' gradients come from the whole-batch sums, added on the
   process with bn_sync_rank 0 only (the others add 0, so summing the
   gradients over processes is exact for them). Independent of the thread
   count like the default mode, which stays as it was (share 0). Allocates
   the tree's scratch (about log2(max_batch/share) copies of the largest
   weight); GENREP_ERR_ARG for share < 0, groups < 1, or max_batch not a
   multiple of groups. */
GENREP_API GENREP_NODISCARD genrep_status genrep_encoder_set_share(genrep_encoder *e, int share, int groups);
/* The sizes create would allocate, without allocating them: trained
   parameters, buffers (BN running stats) and activation floats for
   max_batch. A loader can refuse a file too small for the model its
   metadata describes before paying for that model. NULL outputs are skipped. */
GENREP_API GENREP_NODISCARD genrep_status genrep_encoder_sizes(const genrep_encoder_config *cfg, int max_batch, size_t *num_params,
                                              size_t *num_buffers, size_t *act_floats);
/* Re-draw the parameters from seed and reset the running stats (as create). */
GENREP_API GENREP_NODISCARD genrep_status genrep_encoder_init(genrep_encoder *e, uint64_t seed);
/* Forward of inp (N, C, H, W), N <= max_batch. training != 0: BN uses batch
   statistics and updates its running stats. Sets e->features and e->out
   (valid until the next forward) and remembers the pointer inp: keep it
   alive and unchanged until backward. */
GENREP_API GENREP_NODISCARD genrep_status genrep_encoder_forward(genrep_encoder *e, const float *inp, int N, int training);
/* Backward of the last forward: dout (N, out_dim) is the gradient w.r.t.
   e->out. grads += dparams; dinp (N, C, H, W) += dinput if not NULL.
   Its scratch is a separate part of the activation slab: e->out and
   e->features stay valid. BN's gradient follows the forward's mode. */
GENREP_API GENREP_NODISCARD genrep_status genrep_encoder_backward(genrep_encoder *e, float *dinp, const float *dout);
/* Eval-mode features (N, F) of any number of images, in chunks of max_batch. */
GENREP_API GENREP_NODISCARD genrep_status genrep_encoder_features(float *feats, genrep_encoder *e, const float *inp, int N);
/* grads = 0 (before a backward, which accumulates). */
GENREP_API void genrep_encoder_zero_grad(genrep_encoder *e);
/* The named tensor, or NULL. */
GENREP_API const genrep_param_info *genrep_encoder_param(const genrep_encoder *e, const char *name);

/* Per-layer wall-clock timing of forward and backward (conv and BN of
   every layer, pool, head, elementwise, zeroing), for benchmarks; off by
   default. */
GENREP_API void genrep_encoder_profile(genrep_encoder *e, int on);
/* Writes a table "layer fwd_ms bwd_ms" to buf (at most n chars); resets the counters. */
GENREP_API int  genrep_encoder_profile_report(genrep_encoder *e, char *buf, size_t n);

/* ---------------------------------------------------------------- [LOSS] */
/* Contrastive losses over 2B L2-normalised embeddings z (2B, D): rows
   0..B-1 are view 1 of samples 0..B-1, rows B..2B-1 view 2 of the same
   samples. Logits l_ij = z_i.z_j / tau; every row is an anchor; self-pairs
   are left out of the softmax. For anchor i with positives P(i):
       L_i = -s * mean_{p in P(i)} [ l_ip - log sum_{j != i} exp(l_ij) ],
       loss = mean_i L_i,
   s = tau / 0.07 with GENREP_LOSS_SCALE_BASE_TAU (SupContrast's
   base_temperature), else 1.
   NT-Xent (SimCLR): P(i) = {the other view of the same sample}.
   SupCon (Khosla et al.): P(i) = {every other row with the same label}.
   Workspace: genrep_*_workspace(B) floats; forward leaves the softmax in it
   for backward (call backward with the same z and ws). Backward:
   dz (2B, D) += dloss * dL/dz, with z treated as the free variable (the
   L2 normalisation's gradient is genrep_l2norm_backward's job). */
#define GENREP_LOSS_SCALE_BASE_TAU 1   /* flag: multiply the loss by tau / 0.07 */
#define GENREP_LOSS_BASE_TAU 0.07f

GENREP_API size_t genrep_ntxent_workspace(int B);
GENREP_API GENREP_NODISCARD genrep_status genrep_ntxent_forward(float *loss, float *ws, const float *z,
                                               int B, int D, float tau, int flags);
GENREP_API GENREP_NODISCARD genrep_status genrep_ntxent_backward(float *dz, float *ws, const float *z,
                                                int B, int D, float tau, int flags, float dloss);
/* labels (B): class of each sample (both views share it). */
GENREP_API size_t genrep_supcon_workspace(int B);
GENREP_API GENREP_NODISCARD genrep_status genrep_supcon_forward(float *loss, float *ws, const float *z, const int32_t *labels,
                                               int B, int D, float tau, int flags);
GENREP_API GENREP_NODISCARD genrep_status genrep_supcon_backward(float *dz, float *ws, const float *z, const int32_t *labels,
                                                int B, int D, float tau, int flags, float dloss);

/* [LOSS] rows of a batch split over processes (SimCLR's per-replica loss):
   a process holding anchors r0 .. r0+b-1 (its rows r0.. and B+r0.. of the
   gathered z (2B, D)) computes only its 2b rows' logits against all 2B
   columns, O(2b 2B D) instead of O((2B)^2 D). forward_rows: *loss_sum = the
   sum of its rows' L_i (the loss is the sum over processes / 2B), as a
   pairwise tree over shares of `share` anchors (both views). backward_rows:
   dz (2b, D), its rows in the order view 1 then view 2, += dloss/tau *
   G_rows @ Z; dzt (2B, D) = G_rows^T @ Z_rows, the term every row's
   gradient gets from this process's rows, as the same tree (overwritten).
   The caller sums dzt over processes and adds dloss/tau * dzt[its rows] to
   dz. One process: r0 = 0, b = B. With those sums taken pairwise in rank
   order (K = 2^k, a power of two of shares each), K processes give the
   bits of one; against genrep_ntxent_forward/backward, equal up to
   rounding. ws: genrep_contrastive_rows_workspace(B, D, b, share) floats;
   backward reads the softmax forward left there. */
GENREP_API size_t genrep_contrastive_rows_workspace(int B, int D, int b, int share);
GENREP_API GENREP_NODISCARD genrep_status genrep_ntxent_forward_rows(double *loss_sum, float *ws, const float *z, int B, int D,
                                                    float tau, int flags, int r0, int b, int share);
GENREP_API GENREP_NODISCARD genrep_status genrep_ntxent_backward_rows(float *dz, float *dzt, float *ws, const float *z, int B,
                                                     int D, float tau, int flags, float dloss, int r0, int b, int share);
GENREP_API GENREP_NODISCARD genrep_status genrep_supcon_forward_rows(double *loss_sum, float *ws, const float *z,
                                                    const int32_t *labels, int B, int D, float tau, int flags,
                                                    int r0, int b, int share);
GENREP_API GENREP_NODISCARD genrep_status genrep_supcon_backward_rows(float *dz, float *dzt, float *ws, const float *z,
                                                     const int32_t *labels, int B, int D, float tau, int flags,
                                                     float dloss, int r0, int b, int share);
/* [MSE] loss = mean over n of (pred - target)^2 (torch.nn.MSELoss, the
   inverter baseline regressing z); backward dpred += dloss * 2 (pred - target) / n. */
GENREP_API GENREP_NODISCARD genrep_status genrep_mse_forward(float *loss, const float *pred, const float *target, size_t n);
GENREP_API GENREP_NODISCARD genrep_status genrep_mse_backward(float *dpred, const float *pred, const float *target,
                                             size_t n, float dloss);

/* --------------------------------------------------------------- [VIEWS] */
/* Latent views (GenRep section 3). Every draw comes from a Philox stream
   named by (seed, sample index, purpose), so a sample's latent and its
   views do not depend on batch size, batch split or thread count. The
   sample index of row b is first + b. */

/* Anchors: z (B,D), each coordinate truncation * TruncNormal(-2, 2). */
GENREP_API GENREP_NODISCARD genrep_status genrep_latent_anchors(float *z, int B, int D, float truncation,
                                               uint64_t seed, uint64_t first);
/* Class labels y (B) uniform in [0, n_classes). */
GENREP_API GENREP_NODISCARD genrep_status genrep_latent_classes(int32_t *y, int B, int n_classes, uint64_t seed, uint64_t first);

typedef enum {
    GENREP_VIEW_NONE = 0,     /* the anchor itself (pixel augmentations only) */
    GENREP_VIEW_GAUSS,        /* z + sigma * TruncNormal(-2, 2), not re-clipped */
    GENREP_VIEW_ANGULAR,      /* the Gaussian view rescaled to the anchor's own norm */
    GENREP_VIEW_INDEPENDENT,  /* a fresh z (same class: the caller keeps y) */
    GENREP_VIEW_STEER         /* z + sum_t alpha_t w_t, alpha_t ~ U(-alpha_max_t, alpha_max_t) */
} genrep_view_kind;
GENREP_API const char *genrep_view_name(genrep_view_kind k);
/* Parse "none|gauss|angular|independent|steer"; GENREP_ERR_ARG otherwise. */
GENREP_API GENREP_NODISCARD genrep_status genrep_view_parse(genrep_view_kind *k, const char *s);

typedef struct {
    genrep_view_kind kind;
    float sigma;              /* GAUSS, ANGULAR: noise scale (>= 0) */
    float truncation;         /* INDEPENDENT: as for anchors (usually 1) */
    int   n_walks;            /* STEER: T walks ... */
    const float *walks;       /* ... (T, D) */
    const float *alpha_max;   /* ... (T), each walk's alpha range */
} genrep_view_config;

/* zv (B,D) = view number `view` (1..GENREP_VIEW_MAX; 0 is reserved for
   anchors) of the anchors z (B,D) with sample indices first..first+B-1.
   zv may not alias z. The limit comes from the layout of a sample's
   random streams (views use purposes 2..62), so it is part of the
   determinism promise: a pool holds at most GENREP_VIEW_MAX neighbours. */
#define GENREP_VIEW_MAX 61
GENREP_API GENREP_NODISCARD genrep_status genrep_latent_view(float *zv, const float *z, int B, int D,
                                            const genrep_view_config *cfg, uint64_t seed,
                                            uint64_t first, int view);

/* --------------------------------------------------------------- [PROBE] */
/* Linear probe: multinomial logistic regression on frozen features,
   standardised with the training set's mean and std, trained with Adam
   (minibatch 256, cosine schedule, shuffles from `seed`). Returns top-1
   accuracy on the test features in *test_acc (and on train in *train_acc,
   may be NULL). Features (N, D) row-major, labels in [0, n_classes). */
typedef struct {
    int   epochs;         /* default 60 */
    float lr;             /* default 1e-2 (1e-3 under-fits: train and test accuracy stay equal) */
    float weight_decay;   /* default 1e-5 (L2, on weights only) */
    int   batch;          /* default 256 */
    uint64_t seed;
} genrep_probe_config;
GENREP_API void genrep_probe_config_default(genrep_probe_config *cfg);
GENREP_API GENREP_NODISCARD genrep_status genrep_linear_probe(float *test_acc, float *train_acc,
                                             const float *xtr, const int32_t *ytr, int ntr,
                                             const float *xte, const int32_t *yte, int nte,
                                             int D, int n_classes, const genrep_probe_config *cfg);
/* k-nearest-neighbour classifier on cosine similarity (features are L2
   normalised inside): the k most similar training rows vote with weight
   exp(sim / 0.07) (Wu et al. 2018, as SimCLR/SupCon monitors do). */
GENREP_API GENREP_NODISCARD genrep_status genrep_knn_accuracy(float *acc, const float *xtr, const int32_t *ytr, int ntr,
                                             const float *xte, const int32_t *yte, int nte,
                                             int D, int n_classes, int k);

/* Converged linear probe (issue #15): multinomial logistic regression,
   loss = mean cross-entropy + (lambda/2) ||W||^2 (bias not penalised), fitted
   by L-BFGS (two-loop recursion, backtracking Armijo line search) until
   max|grad| <= gtol or the relative loss change < ftol, or max_iter. The
   heavy products are genrep_sgemm calls; sums are in double in a fixed order,
   so 1 and N threads give the same bits. */
typedef struct {
    int    max_iter;      /* default 5000 (info->hit_cap says it stopped there) */
    int    memory;        /* L-BFGS pairs kept, default 10 */
    double gtol;          /* default 1e-5, on max |gradient| */
    double ftol;          /* default 1e-9, relative loss change between iterations */
    int    folds;         /* cross-validation folds (row i is in fold i mod folds), default 3 */
    int    n_lambdas;     /* grid size, <= 16; default 6: 1e-6, 1e-5, ..., 1e-1 */
    double lambdas[16];
} genrep_logreg_config;
typedef struct {
    double loss, grad_max;  /* at the solution */
    int    iters, hit_cap;  /* L-BFGS iterations; 1 when max_iter stopped it */
} genrep_logreg_info;
typedef struct {
    float  test_acc, train_acc;
    double lambda;            /* chosen by cross-validation */
    float  cv_acc[16];        /* held-out accuracy per grid lambda */
    double cv_xent[16];       /* held-out mean cross-entropy per grid lambda (the criterion) */
    genrep_logreg_info fit;   /* of the final fit on all training rows */
} genrep_logreg_result;
GENREP_API void genrep_logreg_config_default(genrep_logreg_config *cfg);
/* Fit on x (n, D) as given (no standardisation), labels in [0, V). Wb (V*D + V):
   W (V, D) row-major then the bias (V); on entry the starting point (zeros
   for a cold start), on return the solution. info may be NULL. */
GENREP_API genrep_status genrep_logreg_fit(float *Wb, genrep_logreg_info *info, const float *x, const int32_t *y,
                                           int n, int D, int V, double lambda, const genrep_logreg_config *cfg);
/* The probe: standardise with the training rows' mean and std, pick lambda
   from cfg's grid by k-fold cross-validation on the training rows (lowest
   held-out cross-entropy, ties to the larger lambda; held-out accuracy is
   coarse and ties on easy data; each fold walks the grid from
   the largest lambda down, warm-started), refit on all training rows, report
   test (and train) top-1. */
GENREP_API genrep_status genrep_logreg_probe(genrep_logreg_result *res, const float *xtr, const int32_t *ytr, int ntr,
                                             const float *xte, const int32_t *yte, int nte,
                                             int D, int n_classes, const genrep_logreg_config *cfg);

/* --------------------------------------------------------------- [STEER] */
/* Steered latent views (GenRep section 3.2, after "On the steerability of
   GANs", Jahanian et al. 2020): one learned linear walk w_t in latent
   space per image transform t, trained through a FROZEN generator so that
   G(z + alpha*w_t) looks like edit_t(G(z), alpha). At view time
   (GENREP_VIEW_STEER) every walk gets its own alpha ~ U(-alpha_max_t,
   alpha_max_t) and the steps are summed.

   Edits work on (N,C,H,W) images in the generator's range [-1,1] and
   return the edited image and a validity mask of the same shape (1 where
   the edited pixel came from inside the source image; 0 elsewhere, where
   the image value is 0 too). Alpha units, one alpha per image:
     SHIFTX      pixels, content moves right for alpha > 0 (fractional
                 alphas are sampled bilinearly)
     SHIFTY      pixels, content moves down for alpha > 0
     ZOOM        log2 of the magnification about the image centre
                 ((H-1)/2, (W-1)/2): 1 = twice as large, -1 = half size
                 (the border that zooming out uncovers is masked)
     ROTATE      degrees, counter-clockwise as seen on screen, about the
                 centre
     BRIGHTNESS  added to every pixel (mask all ones)
     CONTRAST    log2 of the factor applied about each image's mean over
                 (C,H,W): out = m + 2^alpha (x - m) (mask all ones)
   Geometric edits map each output pixel back to a source point and sample
   it bilinearly; the point counts as inside when it lies in
   [0, H-1] x [0, W-1] (coordinates within 1e-6 of an integer are snapped
   to it, so integer shifts and quarter turns are exact copies). Edits are
   deterministic and forward only: the training target needs no gradient. */

typedef enum {
    GENREP_STEER_SHIFTX = 0,
    GENREP_STEER_SHIFTY,
    GENREP_STEER_ZOOM,
    GENREP_STEER_ROTATE,
    GENREP_STEER_BRIGHTNESS,
    GENREP_STEER_CONTRAST,
    GENREP_STEER_N_KINDS
} genrep_steer_kind;

/* "shiftx", "shifty", "zoom", "rotate", "brightness", "contrast". */
GENREP_API const char *genrep_steer_name(genrep_steer_kind k);
GENREP_API GENREP_NODISCARD genrep_status genrep_steer_parse(genrep_steer_kind *k, const char *s);
/* Default alpha range (training and views) for 28x28 images: shift 4 px,
   zoom 0.75 (x0.59 .. x1.68), rotate 30 degrees, brightness 0.4, contrast 0.75. */
GENREP_API float genrep_steer_default_alpha_max(genrep_steer_kind k);

/* out (N,C,H,W) = edit_kind(inp, alpha[n]) for each image n; mask (same
   shape, may be NULL) = 1 where valid else 0. out may not alias inp. */
GENREP_API GENREP_NODISCARD genrep_status genrep_steer_edit(float *out, float *mask, const float *inp, const float *alpha,
                                           genrep_steer_kind kind, int N, int C, int H, int W);

/* Walk training state. The trained parameters are the unit walks U (T,D):
   the latent step for alpha = alpha_max_t, so z' = z + (alpha/alpha_max_t)
   U_t. Adam then sees every transform on the same scale whatever its
   units (the reference code feeds alpha/alpha_max to the graph too);
   genrep_steer_walks converts to walks per alpha unit, W_t = U_t /
   alpha_max_t, which is what GENREP_VIEW_STEER takes. */
#define GENREP_STEER_MAX_WALKS 16
typedef struct {
    int   T, D, max_batch;
    genrep_steer_kind kinds[GENREP_STEER_MAX_WALKS];
    float alpha_max[GENREP_STEER_MAX_WALKS];   /* > 0, alpha units */
    float truncation;                          /* anchors, default 1 */
    float *unit, *grad, *m, *v;                /* (T,D) each: U, dL/dU, Adam moments */
    /* scratch for one batch (max_batch rows) */
    float *z, *zs, *dz;                        /* (B,D) */
    float *alpha;                              /* (B) */
    int32_t *t, *y;                            /* (B) transform, class */
    float *target, *mask, *dout;               /* (B,1,28,28) */
} genrep_steer;

/* Allocate for T <= GENREP_STEER_MAX_WALKS walks of a D-dim latent and
   batches up to max_batch; U ~ N(0, 0.1) per coordinate from seed (as
   the reference). alpha_max NULL = the defaults above. */
GENREP_API GENREP_NODISCARD genrep_status genrep_steer_create(genrep_steer *s, const genrep_steer_kind *kinds,
                                             const float *alpha_max, int T, int D, int max_batch,
                                             uint64_t seed);
GENREP_API void genrep_steer_free(genrep_steer *s);
/* walks (T,D) = U_t / alpha_max_t (per alpha unit). */
GENREP_API void genrep_steer_walks(float *walks, const genrep_steer *s);

/* The loss of batch number `step` and its gradient s->grad = dL/dU
   (overwritten). The batch: anchors z (B,D) = genrep_latent_anchors(seed,
   first = step*B) (classes likewise for a conditional g); per sample a
   transform t uniform over the T walks and alpha = alpha_max_t * U(-1,1)
   from Philox (seed, sample index). target, mask = edit_t(G(z), alpha);
   L = sum(mask * (G(z + alpha/alpha_max_t U_t) - target)^2) / sum(mask)
   over the batch; dL/dU_t = sum over samples of t of alpha/alpha_max_t *
   dL/dz'. g runs in eval mode and stays frozen (its own gradient slab is
   zeroed and gets junk; its parameters are untouched). B <= max_batch and
   B <= g->max_batch; g->cfg.zdim == D; g's images must be (1,28,28). */
GENREP_API GENREP_NODISCARD genrep_status genrep_steer_loss_grad(genrep_steer *s, float *loss, genrep_gen *g, int B,
                                                uint64_t seed, int64_t step);
/* loss_grad, then Adam on U (Adam step count step + 1). */
GENREP_API GENREP_NODISCARD genrep_status genrep_steer_train_step(genrep_steer *s, float *loss, genrep_gen *g, int B,
                                                 const genrep_adam_config *cfg, uint64_t seed, int64_t step);
/* Held-out check per walk t: on B anchors with sample indices from
   first, alpha = alpha_max_t * U(-1,1), the masked MSE against
   edit_t(G(z), alpha) of the walked image G(z + alpha w_t) (loss_walk[t])
   and of the unmoved image G(z) (loss_still[t], what doing nothing
   scores). Either output may be NULL. */
GENREP_API GENREP_NODISCARD genrep_status genrep_steer_eval(genrep_steer *s, float *loss_walk, float *loss_still, genrep_gen *g,
                                           int B, uint64_t seed, uint64_t first);

/* ----------------------------------------------------------------- [AUG] */
/* SimCLR pixel augmentations as GenRep uses them (torchvision semantics on
   float images in [0, 1]), per view in this order:
     RandomResizedCrop(out, scale, ratio, bilinear, antialias=False)
     -> RandomHorizontalFlip(flip_p)
     -> RandomApply(ColorJitter(b, c, s, h) in a random order, jitter_p)
     -> RandomGrayscale(gray_p) -> RandomApply(GaussianBlur, blur_p)
     -> Normalize(mean, std) (if normalize).
   GenRep's recipe is genrep_aug_config_simclr() (blur_p = 0); SimCLR's full
   set adds blur_p = 0.5. On 1-channel images saturation, hue and grayscale
   are identities (torchvision/PIL behaviour). All images are (C,H,W) planes
   inside NCHW tensors, C = 1 or 3, sides <= GENREP_AUG_MAX_SIDE. */

#define GENREP_AUG_MAX_SIDE 1024  /* bound on H, W, out_h, out_w: the per-view tables
                                     and line buffers live on the stack (~120 KB
                                     per thread at most) */

typedef struct {
    int   out_h, out_w;                     /* output size of the resized crop */
    float scale_min, scale_max;             /* crop area fraction, (0.2, 1.0) */
    float ratio_min, ratio_max;             /* crop aspect w/h, (3/4, 4/3) */
    float flip_p;                           /* horizontal flip probability, 0.5 */
    float jitter_p;                         /* colour jitter probability, 0.8 */
    float brightness, contrast, saturation; /* factor ~ U[max(0,1-x), 1+x]: 0.4 each */
    float hue;                              /* shift ~ U[-hue, hue], hue <= 0.5: 0.1 */
    float gray_p;                           /* grayscale probability, 0.2 */
    float blur_p;                           /* Gaussian blur probability: 0 (GenRep), 0.5 (SimCLR) */
    float blur_sigma_min, blur_sigma_max;   /* sigma ~ U[0.1, 2.0] */
    int   blur_kernel;                      /* odd kernel side; 0: ~10% of min(out_h,out_w), made odd, >= 3 */
    int   normalize;                        /* 1: out = (x - mean[c]) / std[c] at the end */
    float mean[3], std[3];                  /* per channel (only [0] used for C = 1) */
} genrep_aug_config;

/* The random choices of one view (what the sampler drew). */
typedef struct {
    int   top, left, crop_h, crop_w;        /* crop box in the input image */
    int   flip;                             /* 1: flip horizontally */
    int   jitter;                           /* 1: colour jitter applied */
    int   order[4];                         /* permutation of 0 brightness, 1 contrast, 2 saturation, 3 hue */
    float brightness, contrast, saturation, hue;
    int   gray;                             /* 1: to grayscale */
    int   blur;                             /* 1: Gaussian blur */
    float sigma;                            /* blur sigma */
    int   kernel;                           /* blur kernel side (odd) */
} genrep_aug_params;

/* GenRep's SimCLR/SupCon recipe for an out_h x out_w crop: scale (0.2,1),
   ratio (3/4,4/3), flip 0.5, jitter (0.4,0.4,0.4,0.1) w.p. 0.8, grayscale
   0.2, no blur (blur_p = 0; sigma range 0.1..2.0 ready), no normalisation
   (mean 0, std 1; set normalize = 1 and mean/std to use it). */
GENREP_API void genrep_aug_config_simclr(genrep_aug_config *cfg, int out_h, int out_w);
/* GENREP_ERR_ARG naming the field if cfg is unusable. */
GENREP_API GENREP_NODISCARD genrep_status genrep_aug_config_check(const genrep_aug_config *cfg);

/* Draw the parameters of one view of an H x W image (cfg must pass
   genrep_aug_config_check). The draws come only from the Philox streams
   named by (seed, sample_index, view_index), as torchvision draws them:
   RandomResizedCrop.get_params (10 tries, then a centre crop of the closest
   allowed ratio; Python's round-half-even), then flip, jitter, the order of
   the four jitter ops, their factors, grayscale, blur, sigma. */
GENREP_API void genrep_aug_sample(genrep_aug_params *p, const genrep_aug_config *cfg, int H, int W,
                                  uint64_t seed, uint64_t sample_index, int view_index);

/* One view with given parameters: out (C, cfg->out_h, cfg->out_w) from
   in (C, H, W); no allocation, in and out must not overlap. */
GENREP_API GENREP_NODISCARD genrep_status genrep_aug_apply(float *out, const float *in, int C, int H, int W,
                                          const genrep_aug_config *cfg, const genrep_aug_params *p);

/* out (N, C, cfg->out_h, cfg->out_w) = one augmented view of each image of
   in (N, C, H, W). Image n is sample first_sample_index + n; its view is a
   function of (seed, sample index, view_index) only, so the result is
   bitwise the same for any thread count or split of the batch. OpenMP over
   images; no allocation. */
GENREP_API GENREP_NODISCARD genrep_status genrep_augment_batch(float *out, const float *in, int N, int C, int H, int W,
                                              const genrep_aug_config *cfg, uint64_t seed,
                                              uint64_t first_sample_index, int view_index);

/* The deterministic pieces, one (C, H, W) image each, torchvision's
   functional ops on float tensors. out == in (in place) is allowed except
   for resized_crop. Colour ops clamp to [0, 1] as torchvision does. */
/* out (C,out_h,out_w) = bilinear resize (align_corners=False, no antialias)
   of the box (top, left, h, w), which must lie inside the image. */
GENREP_API GENREP_NODISCARD genrep_status genrep_aug_resized_crop(float *out, const float *in, int C, int H, int W,
                                                 int top, int left, int h, int w, int out_h, int out_w);
GENREP_API GENREP_NODISCARD genrep_status genrep_aug_hflip(float *out, const float *in, int C, int H, int W);
GENREP_API GENREP_NODISCARD genrep_status genrep_aug_adjust_brightness(float *out, const float *in, int C, int H, int W, float factor);
/* blends with the mean of the grayscale image (of the image itself if C = 1) */
GENREP_API GENREP_NODISCARD genrep_status genrep_aug_adjust_contrast(float *out, const float *in, int C, int H, int W, float factor);
GENREP_API GENREP_NODISCARD genrep_status genrep_aug_adjust_saturation(float *out, const float *in, int C, int H, int W, float factor);
/* hue shift in [-0.5, 0.5] (fraction of the colour circle), via HSV */
GENREP_API GENREP_NODISCARD genrep_status genrep_aug_adjust_hue(float *out, const float *in, int C, int H, int W, float shift);
/* gray = 0.2989 R + 0.587 G + 0.114 B, written to all C channels */
GENREP_API GENREP_NODISCARD genrep_status genrep_aug_grayscale(float *out, const float *in, int C, int H, int W);
/* separable Gaussian, odd kernel side, reflect padding (torchvision gaussian_blur) */
GENREP_API GENREP_NODISCARD genrep_status genrep_aug_gaussian_blur(float *out, const float *in, int C, int H, int W,
                                                  int kernel, float sigma);
GENREP_API GENREP_NODISCARD genrep_status genrep_aug_normalize(float *out, const float *in, int C, int H, int W,
                                              const float *mean, const float *std);

/* ----------------------------------------------------------------- [IDX] */
/* IDX files (LeCun's MNIST format; gzip or plain, read through zlib unless
   GENREP_NO_ZLIB, then plain only) and Fashion-MNIST. */

#define GENREP_IDX_MAX_DIMS  4
#define GENREP_IDX_MAX_BYTES ((int64_t)1 << 31)   /* bound on an IDX payload */
#ifndef GENREP_FMNIST_MAX_IMAGES
#define GENREP_FMNIST_MAX_IMAGES ((int64_t)1 << 17) /* images genrep_fmnist_load allocates at most (131072, 411 MB) */
#endif

typedef struct {
    void   *data;                          /* host-endian values, genrep_alloc'd */
    int     type;                          /* IDX type code: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64 */
    int     elem_size;                     /* bytes per value */
    int     ndim;                          /* 1..GENREP_IDX_MAX_DIMS */
    int64_t dims[GENREP_IDX_MAX_DIMS];     /* unused dims are 1 */
    int64_t numel;
} genrep_idx;

/* A labelled image set: images (n, c, h, w) in [0, 1], labels (n) in [0, num_classes). */
typedef struct {
    float   *images;
    int32_t *labels;
    int64_t  n;
    int      c, h, w;
    int      num_classes;
} genrep_dataset;

/* Read a whole IDX file; validates the magic, dims (each >= 1, payload
   <= GENREP_IDX_MAX_BYTES), the length (no truncation, no trailing bytes).
   Errors: GENREP_ERR_IO (cannot open/read), GENREP_ERR_FORMAT, naming the file. */
GENREP_API GENREP_NODISCARD genrep_status genrep_idx_read(genrep_idx *out, const char *path);
GENREP_API void          genrep_idx_free(genrep_idx *x);

/* The directory used when dir is NULL: $GENREP_FMNIST_DIR, else
   /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist). */
GENREP_API const char *genrep_fmnist_default_dir(void);
/* Load Fashion-MNIST's train (60000) or test (10000) split from
   dir/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]: images (N,1,28,28)
   in [0,1], labels 0..9. Checks magic numbers, 28x28 images, image and label
   counts agree, label range, file lengths; every error names the file. */
GENREP_API GENREP_NODISCARD genrep_status genrep_fmnist_load(genrep_dataset *out, const char *dir, int train);
/* The same, loading at most max_images (the first ones; 0 = all). Both
   files' headers are checked before anything is allocated: a split that
   would load more than GENREP_FMNIST_MAX_IMAGES images is refused
   (_FORMAT), whatever the files hold; the pixels are decoded straight into
   the returned buffer (peak memory: that buffer, n*784 floats). With
   max_images < the file's count, the rest of the files is not read. */
GENREP_API GENREP_NODISCARD genrep_status genrep_fmnist_load_n(genrep_dataset *out, const char *dir, int train, int64_t max_images);
GENREP_API void          genrep_dataset_free(genrep_dataset *d);

/* --------------------------------------------------------------- [IMAGE] */
/* Image files through stb_image / stb_image_write (Debian libstb-dev).
   Opt-in: #define GENREP_IMAGE_IO before including genrep.h (in the
   implementation unit too) and link -lstb; the core needs no stb. */
#ifdef GENREP_IMAGE_IO
/* Formats: PNG and JPEG only (baseline and progressive JPEG, PNG of any
   bit depth, 8-bit output). stb_image also parses GIF, BMP, TGA, PSD, HDR,
   PIC and PNM, and those parsers have known crashes, hangs and memory bombs
   on hostile files; genrep.h never hands them a byte: every file's magic
   bytes are checked first (PNG 89 50 4E 47 0D 0A 1A 0A, JPEG FF D8 FF).
   Limits, checked before anything is decoded (define to change):
     GENREP_IMAGE_MAX_BYTES   file size (default 64 MiB); the file is read
                              whole into memory, then decoded from there
     GENREP_IMAGE_MAX_PIXELS  width * height from the header (default 2^25,
                              33.5 M, e.g. 8192 x 4096; decoding needs about
                              8 bytes per pixel, the float copy 4 per channel)
     GENREP_IMAGE_MAX_SIDE    width and height (default 16384)
     GENREP_IMAGE_MAX_SCANS   JPEG scans (SOS markers, default 256): a
                              progressive file repeating empty scans over a
                              large image would take hours otherwise
   and the structure is checked where stb 2.27 (Debian's) would crash,
   abort or allocate what the file only declares: PNG chunks must lie inside
   the file and the IDAT zlib stream must inflate (with zlib, into 64 KiB of
   scratch) to no more than the header's dimensions need; JPEG marker
   segments must lie inside the file, Huffman tables hold at most 256 codes
   and are defined before a scan uses them, one frame, Huffman coding only
   (baseline, extended, progressive). Details and the fuzzer that found
   them: tests/fuzz/RESULTS.md (fuzz_image). */
#ifndef GENREP_IMAGE_MAX_BYTES
#define GENREP_IMAGE_MAX_BYTES ((int64_t)64 << 20)
#endif
#ifndef GENREP_IMAGE_MAX_PIXELS
#define GENREP_IMAGE_MAX_PIXELS ((int64_t)1 << 25)
#endif
#ifndef GENREP_IMAGE_MAX_SIDE
#define GENREP_IMAGE_MAX_SIDE 16384
#endif
#ifndef GENREP_IMAGE_MAX_SCANS
#define GENREP_IMAGE_MAX_SCANS 256
#endif

/* Decode a PNG or JPEG held in memory (n bytes; name, may be NULL, is used
   in messages) into *px: h rows of w pixels of C interleaved 8-bit channels
   (C = 1 gray, 3 RGB, 4 RGBA; stb's conversions), to be freed with
   genrep_image_free. Refusals, each naming the file: _FORMAT (not PNG or
   JPEG -- the message names the format the magic bytes suggest --, corrupt,
   over a limit above), _NOMEM. On failure *px is NULL. */
GENREP_API GENREP_NODISCARD genrep_status genrep_image_decode(unsigned char **px, int *w, int *h, const void *bytes, size_t n,
                                             int C, const char *name);
/* The same for a file: only a regular file (genrep_file_open_regular), at
   most GENREP_IMAGE_MAX_BYTES (checked with fstat before reading), read in
   one piece, then genrep_image_decode. _IO for open/read failures. */
GENREP_API GENREP_NODISCARD genrep_status genrep_image_load(unsigned char **px, int *w, int *h, const char *path, int C);
GENREP_API void genrep_image_free(unsigned char *px);

/* Class-per-subfolder layout root/<class>/<image>: classes are the
   subfolders in byte order (label = rank), files with image extensions in
   byte order: png/jpg/jpeg, and bmp/gif/tga/ppm/pgm/pnm/psd/hdr/pic, which
   are listed so that they are refused by name rather than ignored; other
   files and names starting with '.' are skipped.
   Each image (genrep_image_load: PNG or JPEG, within the limits above)
   becomes C channels (1 gray or 3 RGB), bilinearly resized to out_h x
   out_w, values in [0,1]. A file that is not a regular file, not PNG/JPEG,
   cannot be decoded or is over a limit is an error naming it. */
GENREP_API GENREP_NODISCARD genrep_status genrep_imagefolder_load(genrep_dataset *out, const char *root, int C,
                                                 int out_h, int out_w);

/* PNG of a grid of rows x cols images, images (rows*cols, C, H, W), C = 1
   (gray PNG) or 3 (RGB), row-major (image r*cols + c at row r, column c),
   with pad pixels of value pad_value around and between the tiles. Values
   are x*std[c] + mean[c] when mean and std are non-NULL (undoing a
   normalisation), then clamped to [0,1] and rounded to 8 bits. */
GENREP_API GENREP_NODISCARD genrep_status genrep_png_write_grid(const char *path, const float *images, int rows, int cols,
                                               int C, int H, int W, int pad, float pad_value,
                                               const float *mean, const float *std);
#endif

/* ---------------------------------------------------------------- [EVAL] */
/* Sample-quality statistics in double precision: feature means and
   covariances, a symmetric eigen-solver, and the Frechet distance between
   two Gaussians (the FID formula, here in a classifier's feature space):
       FD = |mu1 - mu2|^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2)).
   The trace of the matrix square root is computed without a non-symmetric
   sqrtm: with S = C1^(1/2) (symmetric, from C1's eigen-decomposition),
   C1 C2 is similar to S C2 S, which is symmetric PSD, so
       tr((C1 C2)^(1/2)) = sum_i sqrt(max(lambda_i(S C2 S), 0)).
   Sizes are meant for feature dims up to a few hundred (cyclic Jacobi is
   O(D^3) per sweep). */

/* mu (D) = mean of the rows of x (N, D); cov (D, D) = unbiased covariance
   (divides by N - 1, as numpy.cov). N >= 2. Accumulates in double. */
GENREP_API GENREP_NODISCARD genrep_status genrep_mean_cov(double *mu, double *cov, const float *x, int N, int D);

/* Eigen-decomposition of the symmetric a (n, n), row-major, destroyed:
   a = V diag(w) V^T with w (n) ascending and V (n, n) holding the
   eigenvectors as COLUMNS (v may be NULL: eigenvalues only). Cyclic
   Jacobi rotations until the off-diagonal Frobenius norm is below 1e-14
   of the whole matrix's (at most 100 sweeps, else GENREP_ERR_ARG, which
   does not happen for finite symmetric input; non-finite input gives
   GENREP_ERR_NONFINITE). */
GENREP_API GENREP_NODISCARD genrep_status genrep_sym_eig(double *w, double *v, double *a, int n);

/* Doubles of workspace genrep_frechet_distance needs for dimension D. */
GENREP_API size_t genrep_frechet_workspace(int D);
/* *fd = Frechet distance between N(mu1, c1) and N(mu2, c2), D dims;
   c1, c2 (D, D) symmetric PSD (small negative eigenvalues from round-off
   are clamped to 0). ws: genrep_frechet_workspace(D) doubles. */
GENREP_API GENREP_NODISCARD genrep_status genrep_frechet_distance(double *fd, const double *mu1, const double *c1,
                                                 const double *mu2, const double *c2, int D, double *ws);

/* --------------------------------------------------------- [SAFETENSORS] */
/* Weights files in the safetensors layout, strict profile:
     [u64 little-endian N][N bytes of JSON header][data section]
   The header is one JSON object: tensor name -> {"dtype", "shape",
   "data_offsets": [begin, end]} (offsets relative to the data section),
   plus an optional "__metadata__": {string: string} holding architecture
   and settings. Names are PyTorch state_dict names ("net.0.weight").
   Reading accepts F32, F16 and BF16 (the last two widened to F32); other
   dtypes are recognised and refused with GENREP_ERR_UNSUPPORTED. The loader
   validates the whole file (header, numbers, offsets, no holes, no
   overlaps, no trailing bytes, finite values) before it returns a handle;
   every refusal names the file, the tensor and the broken rule.
   Writing pads the header with spaces to a multiple of 8 bytes, lays the
   tensors out contiguously in the order given, and replaces the target
   atomically (temp file in the same directory, fsync, rename, fsync of the
   directory): an existing file is never left half-written. */

#define GENREP_ST_MAX_RANK   8                      /* dims per tensor */
#define GENREP_ST_MAX_HEADER ((uint64_t)100 << 20)  /* JSON header cap, bytes */
#define GENREP_ST_ALLOW_NONFINITE 1                 /* flag: accept NaN/Inf weights */
#define GENREP_ST_HEADER_ONLY     2                 /* flag: names, shapes, metadata; no data read */

typedef struct genrep_st genrep_st; /* an open, fully validated file */

typedef struct {
    const char  *name;                       /* NUL-terminated, unescaped */
    const char  *dtype;                      /* dtype in the file: "F32", "F16", "BF16" */
    int          ndim;                       /* 0 (scalar) .. GENREP_ST_MAX_RANK */
    int64_t      shape[GENREP_ST_MAX_RANK];  /* unused dims are 0 */
    int64_t      numel;
    const float *data;                       /* numel floats, widened to F32, 64-byte aligned */
} genrep_st_tensor;

/* What a model expects to find: name and shape (unused dims ignored). */
typedef struct {
    const char *name;
    int         ndim;
    int64_t     shape[GENREP_ST_MAX_RANK];
} genrep_st_spec;

/* One tensor to write: data holds prod(shape) floats, row-major. */
typedef struct {
    const char  *name;
    int          ndim;
    int64_t      shape[GENREP_ST_MAX_RANK];
    const float *data;
} genrep_st_entry;

/* Read and validate path: the length and JSON header first, then each
   tensor's bytes straight into the handle's F32 slot (memory: the handle's
   data, never the file twice). Only regular files are opened
   (genrep_file_open_regular). flags: GENREP_ST_ALLOW_NONFINITE and/or
   GENREP_ST_HEADER_ONLY (validate the header against the file size, read
   no tensor data: every tensor's data is NULL; for metadata and shapes).
   On failure *out is NULL and the status is _IO, _NOMEM, _FORMAT,
   _UNSUPPORTED (dtype) or _NONFINITE. */
GENREP_API GENREP_NODISCARD genrep_status genrep_st_open(genrep_st **out, const char *path, int flags);
/* genrep_st_open for a model's weights: the file must hold exactly the n
   tensors of specs (as genrep_st_expect; _FORMAT / _SHAPE otherwise), and
   this is checked after reading the header, before any tensor data is read
   or allocated: an unexpected 1.5 GB tensor costs nothing. */
GENREP_API GENREP_NODISCARD genrep_status genrep_st_open_expect(genrep_st **out, const char *path, int flags,
                                               const genrep_st_spec *specs, int n);
/* The same on bytes in memory (copied; the caller keeps ownership).
   name (may be NULL) is the file name used in error messages. */
GENREP_API GENREP_NODISCARD genrep_status genrep_st_open_memory(genrep_st **out, const void *bytes, size_t n, int flags,
                                               const char *name);
GENREP_API void genrep_st_close(genrep_st *st);
/* Tensors, in data-section order. */
GENREP_API int genrep_st_count(const genrep_st *st);
GENREP_API const genrep_st_tensor *genrep_st_get(const genrep_st *st, int i);
/* Tensor by name, NULL if absent (binary search). */
GENREP_API const genrep_st_tensor *genrep_st_find(const genrep_st *st, const char *name);
/* __metadata__ value for key, NULL if absent. */
GENREP_API const char *genrep_st_meta(const genrep_st *st, const char *key);
/* Metadata entries in key order: *key, *value of entry i; 0 <= i < genrep_st_meta_count. */
GENREP_API int genrep_st_meta_count(const genrep_st *st);
GENREP_API void genrep_st_meta_get(const genrep_st *st, int i, const char **key, const char **value);
/* Check the file holds exactly the tensors a model needs: GENREP_OK, or
   _FORMAT naming missing and unexpected tensors, or _SHAPE naming the
   tensors whose shape differs (the message lists as many as fit). */
GENREP_API GENREP_NODISCARD genrep_status genrep_st_expect(const genrep_st *st, const genrep_st_spec *specs, int n);
/* Write n tensors (F32) and n_meta metadata pairs meta_kv[2i] = key,
   meta_kv[2i+1] = value to path, atomically. Names must be unique and
   not "__metadata__"; data must be finite (_NONFINITE otherwise, so a
   diverged run never replaces a good checkpoint). On any failure the
   previous file at path is untouched and no temp file is left. */
GENREP_API GENREP_NODISCARD genrep_status genrep_st_write(const char *path, const genrep_st_entry *entries, int n,
                                         const char *const *meta_kv, int n_meta);


/* ------------------------------------------------------------- [MODELIO] */
/* Model files: the tables of one or more models (generator, discriminator,
   encoder; tensor names prefixed per model), extra fp32 tensors (optimiser
   state, heads) and metadata, as one safetensors file (see [SAFETENSORS]:
   written atomically, read fully validated). Loading is strict: every
   expected tensor must be present with its exact shape, and every tensor
   in the file must be expected -- except optimiser state, whose names
   start with "optim." or "opt.", which a caller that does not want it may
   leave unread. An unexpected tensor is named and refused (_FORMAT), so a
   file whose metadata disagrees with its tensors (fewer blocks, another
   width) never loads as a different network. */

/* A 1-D extra tensor of n floats. On load, data == NULL marks a tensor
   the caller allows in the file but does not read (any size). */
typedef struct { const char *name; float *data; size_t n; } genrep_extra_tensor;
/* One model's table: n tensors at params, stored as prefix + name. */
typedef struct { const char *prefix; const genrep_param_info *table; int n; float *params; } genrep_table_ref;

/* Write nt tables, n_extra extra tensors and n_kv metadata pairs (kv[2i]
   key, kv[2i+1] value) to path, atomically. */
GENREP_API GENREP_NODISCARD genrep_status genrep_tables_save(const char *path, const genrep_table_ref *t, int nt,
                                            const genrep_extra_tensor *extra, int n_extra,
                                            const char *const *kv, int n_kv);
/* Fill the tables and extra tensors from an open file, strictly (above).
   Nothing is written to the tables unless every check passes. */
GENREP_API GENREP_NODISCARD genrep_status genrep_tables_read(const genrep_st *st, const char *path, const genrep_table_ref *t,
                                            int nt, genrep_extra_tensor *extra, int n_extra);

/* The named encoder architectures: arch "small" or "resnet18"; width > 0
   sets the stem and first stage channels, each later stage twice the one
   before (0: the arch's own 32 / 64); blocks > 0 basic blocks per stage
   (0: 2). _ARG naming the argument for an unknown arch or a value outside
   width 0..GENREP_ENCODER_MAX_WIDTH, blocks 0..GENREP_ENCODER_MAX_BLOCKS. */
#define GENREP_ENCODER_MAX_WIDTH  512
#define GENREP_ENCODER_MAX_BLOCKS 8
GENREP_API GENREP_NODISCARD genrep_status genrep_encoder_config_named(genrep_encoder_config *c, const char *arch, int width,
                                                     int blocks, int C, int H, int W);

/* Encoder checkpoints. Metadata records the whole config, so any encoder
   reloads without flags: genrep.encoder = arch label (informational),
   genrep.in = "C,H,W", genrep.stem, genrep.widths, genrep.blocks and
   genrep.strides ("32,64,128" ...: one value per stage), genrep.head =
   "hidden,out" (out 0: no head). Older files (genrep.width + a single
   genrep.blocks + genrep.head_out, arch small|resnet18) still load. The
   caller's kv pairs (training settings, step) are added. */
GENREP_API GENREP_NODISCARD genrep_status genrep_encoder_save(const genrep_encoder *e, const char *path, const char *arch,
                                             const genrep_extra_tensor *extra, int n_extra,
                                             const char *const *kv, int n_kv);
/* The config a checkpoint's metadata describes, validated against
   bounds (C 1..4, H, W 8..1024, widths 1..4096, blocks 1..8, strides 1..2,
   head 0..65536): _FORMAT naming the file and key otherwise. */
GENREP_API GENREP_NODISCARD genrep_status genrep_encoder_config_from_file(genrep_encoder_config *c, const genrep_st *st,
                                                         const char *path);
/* Create e (batches up to max_batch) from a checkpoint: config from the
   metadata (header only, no data read), then a check that the file holds
   at least that model's values and at most what the model, its optimiser
   state and the extra tensors can need (4x the model + extras + 1 M values)
   before anything is read or allocated, then the strict read (above) of
   the encoder's tensors and the extra tensors. *st_out (may be NULL) receives the open file for more
   metadata (close with genrep_st_close). Free e with genrep_encoder_free. */
GENREP_API GENREP_NODISCARD genrep_status genrep_encoder_load(genrep_encoder *e, const char *path, int max_batch,
                                             genrep_extra_tensor *extra, int n_extra, genrep_st **st_out);

/* Discriminator weights: its table (prefix "") with the generator's GAN
   metadata (genrep.model, genrep.zdim, ...); load creates d. */
GENREP_API GENREP_NODISCARD genrep_status genrep_disc_save(const genrep_disc *d, const char *path, const char *const *kv, int n_kv);
GENREP_API GENREP_NODISCARD genrep_status genrep_disc_load(genrep_disc *d, const char *path, int max_batch);

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
    int transpose8;   /* pack transposed operands with the AVX 8x8 transpose (x86 paths) */
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
/* Transposing copy of an 8 x 8 block: dst[k*ldd + j] = src[j*lds + k] for
   j, k < 8, with unaligned loads and stores (the packing of a transposed
   operand: 8 source rows at a time become 8 packed rows). A copy, so the
   packed values are the same bits as the scalar loops'. */
__attribute__((target("avx2"))) static void genrep__transpose8x8_avx(float *dst, long ldd, const float *src,
                                                                     long lds) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds), r2 = _mm256_loadu_ps(src + 2 * lds),
           r3 = _mm256_loadu_ps(src + 3 * lds), r4 = _mm256_loadu_ps(src + 4 * lds),
           r5 = _mm256_loadu_ps(src + 5 * lds), r6 = _mm256_loadu_ps(src + 6 * lds),
           r7 = _mm256_loadu_ps(src + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
           s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)),
           s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)), s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2)),
           s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)), s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    _mm256_storeu_ps(dst,           _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(dst + ldd,     _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(s3, s7, 0x31));
}
#define GENREP__HAVE_T8 1
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
    g.transpose8 = isa == GENREP_ISA_AVX2 || isa == GENREP_ISA_AVX512;
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

/* The kernel table: everything ISA-specific in one place, filled once when
   the ISA is chosen and again only when genrep_set_isa changes it (as
   stb_image's stbi__setup_jpeg fills its IDCT/colour function pointers and
   BLIS fills a context): the GEMM microkernels, tiles and blocking, and the
   switch of the explicitly vectorised elementwise paths. Ops read it through
   genrep__kernels(); nothing else asks which ISA is in use. */
/* Microkernel: C(MR,NR) = (accum ? C : nothing) + sum over kp pairs, a and b
   packed pairs (a[p*MR + i], b[p*NR + j]; low half = even k). */
typedef void (*genrep__ukernel_bf16_fn)(int kp, const uint32_t *a, const uint32_t *b, float *c, long ldc,
                                        int accum);
/* dst (ceil(kc/2), w) pairs from kc fp32 rows of w values, row stride lds;
   w a multiple of 8. */
typedef void (*genrep__bf16_pairs_fn)(uint32_t *dst, const float *src, int kc, int w, size_t lds);

typedef struct {
    int MR, NR, MC, NC;               /* tile; blocking (k blocks: GENREP__BF16_KC, every path) */
    genrep__ukernel_bf16_fn kernel;
    genrep__bf16_pairs_fn pairs;      /* fp32 rows -> bf16 pairs, for B panels (and A when MR % 8 == 0) */
    int transpose8;
    const char *name;                 /* "avx512bf16", "avx2-emulated", "scalar" */
} genrep__gemm_bf16_cfg;
static genrep__gemm_bf16_cfg genrep__gemm_bf16_config(genrep_isa isa);

typedef struct {
    int isa;                 /* the genrep_isa this table was filled for; -1: empty */
    genrep__gemm_cfg gemm;   /* microkernels, MR x NR tiles, MC/KC/NC blocking */
    int simd_avx2;           /* AVX2 paths of the augmentations (hue, blur) */
    genrep__gemm_bf16_cfg gemm_bf16; /* bf16 GEMM: native AVX512-BF16, AVX2 emulation or scalar */
} genrep__kernel_table;
static genrep__kernel_table genrep__kt = {-1, {0, 0, 0, 0, 0, 0, NULL, NULL, 0}, 0, {0, 0, 0, 0, NULL, NULL, 0, NULL}};

static const genrep__kernel_table *genrep__kernels(void) {
    int isa = (int)genrep_get_isa();
    if (genrep__kt.isa != isa) {
        genrep__kernel_table t;
        t.gemm = genrep__gemm_config((genrep_isa)isa);
        t.simd_avx2 = isa >= GENREP_ISA_AVX2;
        t.gemm_bf16 = genrep__gemm_bf16_config((genrep_isa)isa);
        t.isa = isa;
        genrep__kt = t;
    }
    return &genrep__kt;
}

/* Per-thread packing buffers. Each thread that runs GEMM work gets its own
   record (found through a thread-local pointer, so concurrent callers never
   share); records are also chained into one global list, pushed lock-free
   and never unlinked, so genrep_release_buffers() can free the buffers of
   every thread, including pool threads that no longer exist. */
typedef struct genrep__gemm_bufs {
    float *a, *b;
    size_t acap, bcap;
    float *s; size_t scap;   /* bf16 GEMM: one fp32 micro-panel before it is rounded into pairs */
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
                           int MR, int t8) {
    for (int ir = 0; ir < mc; ir += MR, dst += (size_t)MR * kc) {
        int mr = mc - ir < MR ? mc - ir : MR;
#ifdef GENREP__HAVE_T8
        if (t8 && !transA && MR == 8 && mr == 8 && kc >= 8) { /* 8 rows x 8 k at a time */
            const float *src = A + (size_t)(i0 + ir) * lda + p0;
            int k = 0;
            for (; k + 8 <= kc; k += 8) genrep__transpose8x8_avx(dst + (size_t)k * 8, 8, src + k, lda);
            for (; k < kc; k++)
                for (int i = 0; i < 8; i++) dst[(size_t)k * 8 + i] = src[(size_t)i * lda + k];
            continue;
        }
#else
        (void)t8;
#endif
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
                           int NR, int t8) {
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
#ifdef GENREP__HAVE_T8
        if (t8 && nr == NR && NR % 8 == 0 && kc >= 8) {
            /* a full panel: 8 source rows (panel columns) x 8 k at a time */
            for (int j = 0; j < NR; j += 8) {
                const float *src = B + (size_t)(j0 + jr + j) * ldb + p0;
                int k = 0;
                for (; k + 8 <= kc; k += 8) genrep__transpose8x8_avx(dst + (size_t)k * NR + j, NR, src + k, ldb);
                for (; k < kc; k++)
                    for (int jj = 0; jj < 8; jj++) dst[(size_t)k * NR + j + jj] = src[(size_t)jj * ldb + k];
            }
            continue;
        }
#else
        (void)t8;
#endif
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

/* Packs op(B)(p0:p0+kc, j0:j0+nc) as genrep__pack_b does, from a B that is
   not stored (the conv's implicit im2col); ctx is the caller's. */
typedef void (*genrep__pack_b_fn)(float *dst, const void *ctx, int p0, int kc, int j0, int nc, int NR, int t8);

typedef struct {
    int transA, transB, M, N, K;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int lda, ldb, ldc;
    genrep__pack_b_fn pack_b; /* NULL: pack from B */
    const void *pack_ctx;
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
                               pc, kc, MR, cf->transpose8);
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
            int fused = cf->kernel_pb && !g->transB && !g->pack_b;
            if (g->pack_b) g->pack_b(bu->b, g->pack_ctx, pc, kc, jc, nc, NR, cf->transpose8);
            else if (!fused) genrep__pack_b(bu->b, g->B, g->ldb, g->transB, pc, kc, jc, nc, NR, cf->transpose8);
            for (int ic = m0; ic < m1; ic += cf->MC) {
                int mc = m1 - ic < cf->MC ? m1 - ic : cf->MC;
                const float *ablk = bu->a;
                if (keep_a) ablk += (size_t)pc * mpad + (size_t)(ic - m0) * kc;
                else genrep__pack_a(bu->a, g->A, g->lda, g->transA, ic, mc, pc, kc, MR, cf->transpose8);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    float *bp = bu->b + (size_t)jr * kc;
                    int packing = fused && ic == m0; /* this panel is not packed yet */
                    if (packing && nr < NR) { /* edge panel: zero-padded by the pack routine */
                        genrep__pack_b(bp, g->B, g->ldb, 0, pc, kc, jc + jr, nr, NR, 0);
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

/* genrep_sgemm with an optional packing callback for B (then B, ldb only
   need to pass the checks). */
static genrep_status genrep__sgemm_impl(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                                        int lda, const float *B, int ldb, float beta, float *C, int ldc,
                                        genrep__pack_b_fn pack_b, const void *pack_ctx);

GENREP_API genrep_status genrep_sgemm(int transA, int transB, int M, int N, int K,
                                      float alpha, const float *A, int lda,
                                      const float *B, int ldb,
                                      float beta, float *C, int ldc) {
    return genrep__sgemm_impl(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL, NULL);
}

static genrep_status genrep__sgemm_impl(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                                        int lda, const float *B, int ldb, float beta, float *C, int ldc,
                                        genrep__pack_b_fn pack_b, const void *pack_ctx) {
    genrep_status st = genrep__sgemm_check("genrep_sgemm", transA, transB, M, N, K, A, lda, B, ldb, C, ldc);
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
    genrep__gemm_cfg cf = genrep__kernels()->gemm;
    /* Even k blocks: K = 1152 with KC = 1024 runs 2 x 576, not 1024 + 128
       (a short block costs a full C read/write for little work). Depends
       on K only, so every thread count cuts k the same way. */
    {   /* ceil divisions written so that K near INT_MAX cannot overflow */
        int nkb = K / cf.KC + (K % cf.KC != 0);
        cf.KC = K / nkb + (K % nkb != 0);
    }
    genrep__gemm_args g = {transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, beta, A, B, C, lda, ldb, ldc,
                           pack_b, pack_ctx};

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
        genrep_free(bu->s);
        bu->a = bu->b = bu->s = NULL;
        bu->acap = bu->bcap = bu->scap = 0;
    }
}

/* ----------------------------------------------------------- [GEMM] bf16
   Mixed precision GEMM: operands rounded to bf16 as they are packed, products
   accumulated in fp32. One arithmetic, written out in genrep__bf16_fma and
   genrep_gemm_bf16_ref, is what every path computes, bit for bit:

     k is cut into nkb = ceil(K / GENREP__BF16_KC) blocks of kb = ceil(K / nkb)
     rounded up to even (the last block shorter); for each block an fp32
     accumulator starts at +0 and takes the pairs (k, k+1) in order:
         acc = ftz(fma(a[k+1], b[k+1], acc));  acc = ftz(fma(a[k], b[k], acc))
     (a missing k+1 at the end of an odd block is 0 * 0); then
     C = C + acc, except C = acc for the first block when beta == 0.

   This is AVX512-BF16's vdpbf16ps as the Intel SDM writes it and as this
   Zen 5 does it (checked against this model on 7 M random and edge inputs,
   tests/test_gemm.c bf16_dpbf16_model): the odd element of each pair first,
   each step one fused multiply-add rounded to nearest even, products exact,
   denormal inputs read as zero (DAZ), a result below FLT_MIN flushed to a
   zero of its sign (FTZ) -- where "below" is judged on the result rounded to
   24 bits with an unbounded exponent (2^-126 - 2^-150 flushes, although
   fmaf's denormal rounding gives FLT_MIN). MXCSR is neither read nor set.
   NaN results are NaN on every path but their payload (which operand's NaN
   survives) is not specified; every other result is the same bits on the
   scalar, AVX2 and AVX512-BF16 paths, on any thread count.

   fp32 -> bf16 (genrep_bf16_round) is round to nearest even with denormal
   inputs read as zero, as vcvtne2ps2bf16 does (checked on 20 M values), so
   no denormal ever reaches the products.

   Paths (kernel table, gemm_bf16): AVX512-BF16 8 x 48 (24 zmm accumulators,
   vdpbf16ps on k pairs; twice the multiply-adds of vfmadd231ps per
   instruction) where the CPU has it; an AVX2+FMA 4 x 16 emulation (the pair
   split into odd and even fp32 lanes, two vfmadd231ps, FTZ+DAZ set in MXCSR
   around the k loop and restored before C is touched) on the AVX2 path and on
   AVX-512 CPUs without BF16; a scalar 4 x 8 kernel on genrep__bf16_fma.
   Packing: the fp32 packing of [GEMM] (or a conv's implicit im2col) fills
   one micro-panel in a per-thread staging buffer, then rows 2p and 2p+1 are
   rounded and interleaved into 32-bit pairs (low half = even k).

   Error bound against the exact product of the unrounded fp32 operands,
   per element, with S = sum_k |a_ik b_kj|, u = 2^-8 (bf16's unit roundoff:
   8 significant bits), v = 2^-24 and g(n) = n v / (1 - n v):
       |C_bf16 - C| <= (2u + u^2) S + g(K + nkb) (1 + u)^2 S + (K + nkb) 2^-126
   Rounding a and b gives a'b' = ab (1 + d), |d| <= 2u + u^2; the K products
   are exact in fp32 and enter K fused additions plus nkb - 1 block additions
   (+1 with beta), each one rounding (recursive summation: g(n) times the sum
   of magnitudes, Higham 2002 sec. 4.2); FTZ loses less than 2^-126 per step.
   fp32 GEMM itself is within g(K) S, so the tests hold the two to the sum. */

#define GENREP__BF16_KC 1024 /* k per block, the same on every path */

GENREP_API uint16_t genrep_bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* NaN: quiet, keep sign */
    if ((u & 0x7f800000u) == 0) u &= 0x80000000u;                            /* denormal: signed zero */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);               /* nearest even; inf stays */
}

GENREP_API float genrep_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* One step of the model: ftz(fma(a, b, acc)) judged at 24 bits with an
   unbounded exponent. fmaf rounds a tiny result in the denormal format
   instead; when its result is at most FLT_MIN the step is redone with the
   smaller factor and acc scaled by 2^64, rounded there and judged. The
   scaling is exact and cannot overflow: a nonzero result below 2^-125 is a
   multiple of the lowest bit of acc or of a*b (16 significant bits), so
   |acc| < 2^-102 and |a*b| < 2^-101 (otherwise both bits, hence the
   result, are larger), and the smaller factor is below 2^-50. a, b are bf16
   values (no denormals); acc is never denormal. */
static inline float genrep__bf16_fma(float a, float b, float acc) {
    float r = fmaf(a, b, acc);
    if (fabsf(r) <= 0x1p-126f && r != 0.0f) {
        float r2 = fabsf(a) <= fabsf(b) ? fmaf(a * 0x1p64f, b, acc * 0x1p64f) : fmaf(a, b * 0x1p64f, acc * 0x1p64f);
        r = fabsf(r2) < 0x1p-62f ? copysignf(0.0f, r2) : r2 * 0x1p-64f;
    }
    return r;
}

static void genrep__bf16_blocks(int K, int *nkb, int *kb) {
    int n = K / GENREP__BF16_KC + (K % GENREP__BF16_KC != 0);
    if (n < 1) n = 1;
    int b = K / n + (K % n != 0);
    *nkb = n;
    *kb = b + (b & 1);
}

static genrep_status genrep__gemm_bf16_check(const char *fn, int transA, int transB, int M, int N, int K,
                                             const float *A, int lda, const float *B, int ldb, float beta,
                                             const float *C, int ldc) {
    if (beta != 0.0f && beta != 1.0f)
        return genrep__fail(GENREP_ERR_ARG, "%s: beta must be 0 (C = AB) or 1 (C += AB), got %g", fn, beta);
    return genrep__sgemm_check(fn, transA, transB, M, N, K, A, lda, B, ldb, C, ldc);
}

GENREP_API genrep_status genrep_gemm_bf16_ref(int transA, int transB, int M, int N, int K, const float *A, int lda,
                                              const float *B, int ldb, float beta, float *C, int ldc) {
    genrep_status st = genrep__gemm_bf16_check(__func__, transA, transB, M, N, K, A, lda, B, ldb, beta, C, ldc);
    if (st) return st;
    int nkb, kb;
    genrep__bf16_blocks(K, &nkb, &kb);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float *c = &C[(size_t)i * ldc + j];
            if (beta == 0.0f) *c = 0.0f;
            for (int k0 = 0, blk = 0; k0 < K; k0 += kb, blk++) {
                int k1 = k0 + kb < K ? k0 + kb : K;
                float acc = 0.0f;
                for (int k = k0; k < k1; k += 2) {
                    float a[2] = {0.0f, 0.0f}, b[2] = {0.0f, 0.0f};
                    for (int t = 0; t < 2 && k + t < k1; t++) {
                        a[t] = genrep_bf16_to_f32(genrep_bf16_round(transA ? A[(size_t)(k + t) * lda + i]
                                                                           : A[(size_t)i * lda + k + t]));
                        b[t] = genrep_bf16_to_f32(genrep_bf16_round(transB ? B[(size_t)j * ldb + k + t]
                                                                           : B[(size_t)(k + t) * ldb + j]));
                    }
                    acc = genrep__bf16_fma(a[1], b[1], acc);
                    acc = genrep__bf16_fma(a[0], b[0], acc);
                }
                *c = blk == 0 && beta == 0.0f ? acc : *c + acc;
            }
        }
    return GENREP_OK;
}


static void genrep__bf16_pairs_scalar(uint32_t *dst, const float *src, int kc, int w, size_t lds) {
    for (int k = 0; k < kc; k += 2, dst += w, src += 2 * lds)
        for (int j = 0; j < w; j++) {
            uint32_t lo = genrep_bf16_round(src[j]), hi = k + 1 < kc ? genrep_bf16_round(src[lds + j]) : 0u;
            dst[j] = lo | hi << 16;
        }
}

#define GENREP__BS_MR 4
#define GENREP__BS_NR 8
static void genrep__gemm_bf16_scalar_4x8(int kp, const uint32_t *a, const uint32_t *b, float *c, long ldc,
                                         int accum) {
    float acc[GENREP__BS_MR][GENREP__BS_NR] = {{0}};
    for (int p = 0; p < kp; p++, a += GENREP__BS_MR, b += GENREP__BS_NR)
        for (int i = 0; i < GENREP__BS_MR; i++) {
            float a0 = genrep_bf16_to_f32((uint16_t)a[i]), a1 = genrep_bf16_to_f32((uint16_t)(a[i] >> 16));
            for (int j = 0; j < GENREP__BS_NR; j++) {
                float b0 = genrep_bf16_to_f32((uint16_t)b[j]), b1 = genrep_bf16_to_f32((uint16_t)(b[j] >> 16));
                acc[i][j] = genrep__bf16_fma(a0, b0, genrep__bf16_fma(a1, b1, acc[i][j]));
            }
        }
    for (int i = 0; i < GENREP__BS_MR; i++)
        for (int j = 0; j < GENREP__BS_NR; j++) c[i * ldc + j] = accum ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

#if defined(__x86_64__) || defined(__i386__)
/* fp32 -> bf16 of 8 lanes, as genrep_bf16_round (zero-extended to 32 bits). */
__attribute__((target("avx2"), always_inline))
static inline __m256i genrep__bf16_round8(__m256 x) {
    __m256i u = _mm256_castps_si256(x);
    __m256i mag = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
    __m256i isnan = _mm256_cmpgt_epi32(mag, _mm256_set1_epi32(0x7f800000));
    __m256i isden = _mm256_cmpeq_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7f800000)), _mm256_setzero_si256());
    u = _mm256_blendv_epi8(u, _mm256_and_si256(u, _mm256_set1_epi32((int)0x80000000u)), isden);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
    __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    return _mm256_blendv_epi8(r, q, isnan);
}

__attribute__((target("avx2")))
static void genrep__bf16_pairs_avx2(uint32_t *dst, const float *src, int kc, int w, size_t lds) {
    for (int k = 0; k < kc; k += 2, dst += w, src += 2 * lds)
        for (int j = 0; j < w; j += 8) {
            __m256i lo = genrep__bf16_round8(_mm256_loadu_ps(src + j));
            __m256i hi = k + 1 < kc ? _mm256_slli_epi32(genrep__bf16_round8(_mm256_loadu_ps(src + lds + j)), 16)
                                    : _mm256_setzero_si256();
            _mm256_storeu_si256((__m256i *)(dst + j), _mm256_or_si256(lo, hi));
        }
}

/* AVX2 emulation, 4 x 16: 8 ymm accumulators, 4 for B (odd/even halves of
   two vectors of 8 pairs), 2 broadcasts. FTZ+DAZ only around the k loop. */
__attribute__((target("avx2,fma")))
static void genrep__gemm_bf16_avx2_4x16(int kp, const uint32_t *a, const uint32_t *b, float *c, long ldc,
                                        int accum) {
    __m256 acc[4][2];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
    unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
    for (int p = 0; p < kp; p++, a += 4, b += 16) {
        __m256i r0 = _mm256_load_si256((const __m256i *)b), r1 = _mm256_load_si256((const __m256i *)(b + 8));
        __m256 bo0 = _mm256_castsi256_ps(_mm256_and_si256(r0, hi)), be0 = _mm256_castsi256_ps(_mm256_slli_epi32(r0, 16));
        __m256 bo1 = _mm256_castsi256_ps(_mm256_and_si256(r1, hi)), be1 = _mm256_castsi256_ps(_mm256_slli_epi32(r1, 16));
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            __m256i ar = _mm256_set1_epi32((int)a[i]);
            __m256 ao = _mm256_castsi256_ps(_mm256_and_si256(ar, hi)), ae = _mm256_castsi256_ps(_mm256_slli_epi32(ar, 16));
            acc[i][0] = _mm256_fmadd_ps(ae, be0, _mm256_fmadd_ps(ao, bo0, acc[i][0]));
            acc[i][1] = _mm256_fmadd_ps(ae, be1, _mm256_fmadd_ps(ao, bo1, acc[i][1]));
        }
    }
    _mm_setcsr(csr);
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++) {
            float *q = c + i * ldc + 8 * j;
            _mm256_storeu_ps(q, accum ? _mm256_add_ps(_mm256_loadu_ps(q), acc[i][j]) : acc[i][j]);
        }
}

/* Native AVX512-BF16, 8 x 48: per pair 3 B loads, 8 broadcasts, 24
   vdpbf16ps (48 multiply-adds per lane-group of 16, twice the fp32 kernel's). */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static void genrep__bf16_pairs_avx512(uint32_t *dst, const float *src, int kc, int w, size_t lds) {
    /* _mm512_cvtne2ps_pbh(hi, lo) puts lo's 16 bf16 in the low half; the
       permutation interleaves them into (lo[j], hi[j]) pairs. */
    const __m512i perm = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                          23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m256i perm8 = _mm256_set_epi16(15, 7, 14, 6, 13, 5, 12, 4, 11, 3, 10, 2, 9, 1, 8, 0);
    for (int k = 0; k < kc; k += 2, dst += w, src += 2 * lds) {
        int j = 0;
        for (; j + 16 <= w; j += 16) {
            __m512 lo = _mm512_loadu_ps(src + j), h = k + 1 < kc ? _mm512_loadu_ps(src + lds + j) : _mm512_setzero_ps();
            __m512i v = (__m512i)_mm512_cvtne2ps_pbh(h, lo);
            _mm512_storeu_si512((void *)(dst + j), _mm512_permutexvar_epi16(perm, v));
        }
        for (; j + 8 <= w; j += 8) { /* A panels (w = MR = 8): the same on ymm */
            __m256 lo = _mm256_loadu_ps(src + j), h = k + 1 < kc ? _mm256_loadu_ps(src + lds + j) : _mm256_setzero_ps();
            __m256i v = (__m256i)_mm256_cvtne2ps_pbh(h, lo);
            _mm256_storeu_si256((__m256i *)(dst + j), _mm256_permutexvar_epi16(perm8, v));
        }
        for (; j < w; j++) {
            uint32_t l = genrep_bf16_round(src[j]), h = k + 1 < kc ? genrep_bf16_round(src[lds + j]) : 0u;
            dst[j] = l | h << 16;
        }
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static void genrep__gemm_bf16_avx512_8x48(int kp, const uint32_t *a, const uint32_t *b, float *c, long ldc,
                                          int accum) {
    __m512 acc[8][3];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++) acc[i][j] = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 47), _MM_HINT_T0);
    }
#pragma GCC unroll 2
    for (int p = 0; p < kp; p++, a += 8, b += 48) {
        __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)b), b1 = (__m512bh)_mm512_load_si512((const void *)(b + 16)),
                 b2 = (__m512bh)_mm512_load_si512((const void *)(b + 32));
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[i]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
            acc[i][2] = _mm512_dpbf16_ps(acc[i][2], ai, b2);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++) {
            float *q = c + i * ldc + 16 * j;
            _mm512_storeu_ps(q, accum ? _mm512_add_ps(_mm512_loadu_ps(q), acc[i][j]) : acc[i][j]);
        }
}

static int genrep__cpu_has_bf16(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && genrep__cpu_max_isa() == GENREP_ISA_AVX512;
}
#endif /* x86 */

static genrep__gemm_bf16_cfg genrep__gemm_bf16_config(genrep_isa isa) {
    genrep__gemm_bf16_cfg g = {GENREP__BS_MR, GENREP__BS_NR, 128, 8 * 96, genrep__gemm_bf16_scalar_4x8,
                               genrep__bf16_pairs_scalar, 0, "scalar"};
#if defined(__x86_64__) || defined(__i386__)
    if (isa == GENREP_ISA_AVX512 && genrep__cpu_has_bf16()) {
        genrep__gemm_bf16_cfg z = {8, 48, 128, 48 * 16, genrep__gemm_bf16_avx512_8x48, genrep__bf16_pairs_avx512, 1,
                                   "avx512bf16"};
        g = z;
    } else if (isa >= GENREP_ISA_AVX2) {
        genrep__gemm_bf16_cfg y = {4, 16, 128, 16 * 48, genrep__gemm_bf16_avx2_4x16, genrep__bf16_pairs_avx2, 1,
                                   "avx2-emulated"};
        g = y;
    }
#else
    (void)isa;
#endif
    return g;
}

/* One chunk C(m0:m1, n0:n1) (m0, n0 multiples of MR, NR): the loops of
   genrep__gemm_block with k blocks of kb (even, from K only), B packed one
   micro-panel at a time through the staging buffer. 0: no buffers. */
static int genrep__gemm_bf16_block(const genrep__gemm_args *g, const genrep__gemm_bf16_cfg *cf, int kb, int m0,
                                   int m1, int n0, int n1) {
    const int MR = cf->MR, NR = cf->NR, K = g->K, kpb = kb / 2;
    genrep__gemm_bufs *bu = genrep__gemm_get_bufs();
    if (!bu) return 0;
    int mspan = m1 - m0, nspan = n1 - n0, nkb = (K + kb - 1) / kb;
    size_t mcpad = (size_t)((mspan < cf->MC ? mspan : cf->MC) + MR - 1) / MR * MR;
    size_t ncpad = (size_t)((nspan < cf->NC ? nspan : cf->NC) + NR - 1) / NR * NR;
    size_t mpad = (size_t)(mspan + MR - 1) / MR * MR;
    /* A small enough (a conv's weights, a chunk's output gradient) and
       several NC blocks: all of A is packed once, block b at [b*mpad*kpb],
       instead of once per NC block (as genrep__gemm_block's keep_a). */
    int keep_a = nspan > cf->NC && mpad * (size_t)nkb * kpb <= genrep__gemm_akeep;
    size_t asz = keep_a ? mpad * (size_t)nkb * kpb : mcpad * kpb;
    /* packed pairs live in the float buffers (4 bytes each) */
    if (!genrep__gemm_reserve(&bu->a, &bu->acap, asz) || !genrep__gemm_reserve(&bu->b, &bu->bcap, ncpad * kpb) ||
        !genrep__gemm_reserve(&bu->s, &bu->scap, (size_t)kb * (MR > NR ? MR : NR)))
        return 0;
    uint32_t *apk = (uint32_t *)(void *)bu->a, *bpk = (uint32_t *)(void *)bu->b;
    genrep__bf16_pairs_fn apairs = MR % 8 == 0 ? cf->pairs : genrep__bf16_pairs_scalar;
    float tile[8 * 48] __attribute__((aligned(64))); /* edge tile, MR*NR <= 384 */
    if (keep_a)
        for (int pc = 0; pc < K; pc += kb) {
            int kc = K - pc < kb ? K - pc : kb, kp = (kc + 1) / 2;
            for (int ir = 0; ir < mspan; ir += MR) {
                int mr = mspan - ir < MR ? mspan - ir : MR;
                genrep__pack_a(bu->s, g->A, g->lda, g->transA, m0 + ir, mr, pc, kc, MR, cf->transpose8);
                apairs(apk + (size_t)(pc / kb) * mpad * kpb + (size_t)ir * kp, bu->s, kc, MR, (size_t)MR);
            }
        }
    for (int jc = n0; jc < n1; jc += cf->NC) {
        int nc = n1 - jc < cf->NC ? n1 - jc : cf->NC;
        for (int pc = 0; pc < K; pc += kb) {
            int kc = K - pc < kb ? K - pc : kb, kp = (kc + 1) / 2;
            int accum = pc > 0 || g->beta != 0.0f;
            for (int jr = 0; jr < nc; jr += NR) {
                int nr = nc - jr < NR ? nc - jr : NR;
                if (!g->pack_b && !g->transB && nr == NR) { /* rows of B straight into pairs */
                    cf->pairs(bpk + (size_t)jr * kp, g->B + (size_t)pc * g->ldb + jc + jr, kc, NR, (size_t)g->ldb);
                    continue;
                }
                if (g->pack_b) g->pack_b(bu->s, g->pack_ctx, pc, kc, jc + jr, nr, NR, cf->transpose8);
                else genrep__pack_b(bu->s, g->B, g->ldb, g->transB, pc, kc, jc + jr, nr, NR, cf->transpose8);
                cf->pairs(bpk + (size_t)jr * kp, bu->s, kc, NR, (size_t)NR);
            }
            for (int ic = m0; ic < m1; ic += cf->MC) {
                int mc = m1 - ic < cf->MC ? m1 - ic : cf->MC;
                const uint32_t *ablk = apk;
                if (keep_a) ablk += (size_t)(pc / kb) * mpad * kpb + (size_t)(ic - m0) * kp;
                else
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = mc - ir < MR ? mc - ir : MR;
                        genrep__pack_a(bu->s, g->A, g->lda, g->transA, ic + ir, mr, pc, kc, MR, cf->transpose8);
                        apairs(apk + (size_t)ir * kp, bu->s, kc, MR, (size_t)MR);
                    }
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = mc - ir < MR ? mc - ir : MR;
                        const uint32_t *ap = ablk + (size_t)ir * kp, *bp = bpk + (size_t)jr * kp;
                        float *c = g->C + (size_t)(ic + ir) * g->ldc + jc + jr;
                        if (mr == MR && nr == NR) {
                            cf->kernel(kp, ap, bp, c, g->ldc, accum);
                            continue;
                        }
                        cf->kernel(kp, ap, bp, tile, NR, 0);
                        for (int i = 0; i < mr; i++)
                            for (int j = 0; j < nr; j++) {
                                float *cij = &c[(size_t)i * g->ldc + j];
                                *cij = accum ? *cij + tile[i * NR + j] : tile[i * NR + j];
                            }
                    }
                }
            }
        }
    }
    return 1;
}

/* genrep_gemm_bf16 with an optional packing callback for B (the conv's
   implicit im2col), as genrep__sgemm_impl. */
static genrep_status genrep__gemm_bf16_impl(int transA, int transB, int M, int N, int K, const float *A, int lda,
                                            const float *B, int ldb, float beta, float *C, int ldc,
                                            genrep__pack_b_fn pack_b, const void *pack_ctx) {
    genrep_status st = genrep__gemm_bf16_check("genrep_gemm_bf16", transA, transB, M, N, K, A, lda, B, ldb, beta, C, ldc);
    if (st) return st;
    if (M == 0 || N == 0) return GENREP_OK;
    if (K == 0) {
        if (beta == 0.0f)
            for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof(float));
        return GENREP_OK;
    }
    genrep__gemm_bf16_cfg cf = genrep__kernels()->gemm_bf16;
    int nkb, kb;
    genrep__bf16_blocks(K, &nkb, &kb);
    genrep__gemm_args g = {transA ? 1 : 0, transB ? 1 : 0, M, N, K, 1.0f, beta, A, B, C, lda, ldb, ldc,
                           pack_b, pack_ctx};
    /* Threads as genrep__sgemm_impl: dynamic chunks of whole NR panels of N,
       or MR panels of M when N is narrow. Each element is computed by one
       kernel call per k block in the same order whoever runs it. */
    int nt = 1;
#ifdef _OPENMP
    if ((double)M * N * K >= GENREP__GEMM_MT_MIN && !omp_in_parallel()) nt = omp_get_max_threads();
#endif
    int npan = (N + cf.NR - 1) / cf.NR, mpan = (M + cf.MR - 1) / cf.MR;
    int split_n = npan >= 2 * nt || npan >= mpan;
    int pans = split_n ? npan : mpan;
    if (nt > pans) nt = pans;
    if (nt <= 1) {
        if (!genrep__gemm_bf16_block(&g, &cf, kb, 0, M, 0, N))
            return genrep__fail(GENREP_ERR_NOMEM, "genrep_gemm_bf16: packing buffers");
        return GENREP_OK;
    }
    int fail = 0;
#ifdef _OPENMP
    int per = split_n ? pans / (nt * (cf.NC / cf.NR)) : 4;
    per = per < 1 ? 1 : per > 4 ? 4 : per;
    int chunk = (pans + nt * per - 1) / (nt * per), nchunk = (pans + chunk - 1) / chunk;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : fail)
    for (int c = 0; c < nchunk; c++) {
        int p0 = c * chunk, p1 = p0 + chunk < pans ? p0 + chunk : pans;
        int ok = split_n ? genrep__gemm_bf16_block(&g, &cf, kb, 0, M, p0 * cf.NR, p1 * cf.NR < N ? p1 * cf.NR : N)
                         : genrep__gemm_bf16_block(&g, &cf, kb, p0 * cf.MR, p1 * cf.MR < M ? p1 * cf.MR : M, 0, N);
        fail |= !ok;
    }
#endif
    if (fail) return genrep__fail(GENREP_ERR_NOMEM, "genrep_gemm_bf16: packing buffers");
    return GENREP_OK;
}

GENREP_API genrep_status genrep_gemm_bf16(int transA, int transB, int M, int N, int K, const float *A, int lda,
                                          const float *B, int ldb, float beta, float *C, int ldc) {
    return genrep__gemm_bf16_impl(transA, transB, M, N, K, A, lda, B, ldb, beta, C, ldc, NULL, NULL);
}

/* ----------------------------------------------------- [LINEAR] [CONV] [CONVT]
   The GEMM-backed layers. Each op has a plain scalar reference
   (genrep__*_ref: direct loops, the specification and the tests' oracle;
   static, so tests reach them by defining GENREP_IMPLEMENTATION in their own
   translation unit) and the fast path every public function takes:

     conv2d  forward   col = im2col(inp)             (C*R*S, nb*P*Q)
                       y   = weight (K, CRS) @ col    (K, nb*P*Q)  -> out (+bias)
             backward  dweight (K, CRS) += dout (K, nbPQ) @ col^T
                       stride 1: dinp += conv2d forward of dout with the
                                 flipped, transposed kernel (genrep__conv2d_dgrad_desc)
                       else:     dcol = weight^T @ dout,  dinp += col2im(dcol)
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

   Threads: conv2d forward and backward with up to GENREP__CONV_SLOTS
   threads hand whole chunks to threads (chunk c to slot c % slots;
   one-thread GEMMs, no barriers); with more threads chunks run in sequence
   and each stage (im2col, GEMM, col2im, scatter) is parallel inside.
   convt2d runs in sequence, stages parallel.

   Determinism: im2col/col2im/gather/scatter parallelise over independent
   output rows or planes, each summed in a fixed order; chunk sizes do not
   depend on the thread count; conv2d's weight gradient is summed per slot
   (that slot's chunks in order) and the slots added in order at the end,
   however many threads ran them; dbias sums each channel in (n, p, q)
   order. So results do not depend on the thread count (given a GEMM that
   does not either: tests check 1 vs 2). */

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

/* Pairwise trees over shares (genrep_encoder_set_share): a binary counter.
   Leaf i (0-based) goes into level genrep__tree_level(i) (the trailing one
   bits of i), after which the occupied levels of the stack are the set bits
   of i + 1. Leaf i merges the stored nodes below its level, ((leaf + s0) +
   s1) + ..: for L = 2^k leaves the root is the perfect binary tree. Float
   addition commutes, so only the tree's shape matters, not the operands'
   order. A stack needs genrep__tree_levels(L) levels. */
static int genrep__tree_level(unsigned i) { int t = 0; while (i & 1u) { i >>= 1; t++; } return t; }
static int genrep__tree_levels(unsigned L) { int k = 1; while (L >> k) k++; return k; }
/* float vectors of n, level l at stack + l*n: merge leaf i (already written at its level) */
static void genrep__ftree_merge(float *stack, size_t n, unsigned i) {
    const int t = genrep__tree_level(i);
    if (!t) return;
    float *dst = stack + (size_t)t * n;
    GENREP__OMP(omp parallel for schedule(static) if (n * (size_t)t > 32768))
    for (size_t j = 0; j < n; j++) {
        float acc = dst[j];
        for (int l = 0; l < t; l++) acc = stack[(size_t)l * n + j] + acc;
        dst[j] = acc;
    }
}
/* out (len) += the root of a stack (levels n floats apart) holding L leaves */
static void genrep__ftree_root_add(float *out, const float *stack, size_t n, size_t len, unsigned L) {
    GENREP__OMP(omp parallel for schedule(static) if (len > 32768))
    for (size_t j = 0; j < len; j++) {
        float acc = 0.0f;
        int first = 1;
        for (int l = 0; (L >> l) != 0; l++)
            if ((L >> l) & 1u) { acc = first ? stack[(size_t)l * n + j] : stack[(size_t)l * n + j] + acc; first = 0; }
        out[j] += acc;
    }
}
/* the same for pairs of doubles (BN's per-channel sums), on the caller's stack */
typedef struct { double v[33][2]; unsigned n; } genrep__dtree;
static void genrep__dtree_push(genrep__dtree *t, double a, double b) {
    unsigned i = t->n++;
    int l = 0;
    while (i & 1u) { a = t->v[l][0] + a; b = t->v[l][1] + b; i >>= 1; l++; }
    t->v[l][0] = a; t->v[l][1] = b;
}
static void genrep__dtree_root(double *a, double *b, const genrep__dtree *t) {
    int first = 1;
    *a = 0.0; *b = 0.0;
    for (int l = 0; (t->n >> l) != 0; l++)
        if ((t->n >> l) & 1u) {
            *a = first ? t->v[l][0] : t->v[l][0] + *a;
            *b = first ? t->v[l][1] : t->v[l][1] + *b;
            first = 0;
        }
}

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

/* The linear layers' GEMMs (alpha 1, beta 0 or 1) in precision prec (the
   encoder's head follows its precision switch). */
static genrep_status genrep__linear_gemm(int prec, int tA, int tB, int M, int N, int K, const float *A, int lda,
                                         const float *B, int ldb, float beta, float *C, int ldc) {
    if (prec == GENREP_PRECISION_BF16) return genrep_gemm_bf16(tA, tB, M, N, K, A, lda, B, ldb, beta, C, ldc);
    return genrep_sgemm(tA, tB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

static genrep_status genrep__linear_forward_p(float *out, const float *inp, const float *weight, const float *bias,
                                              int B, int C, int OC, int prec);
static genrep_status genrep__linear_backward_p(float *dinp, float *dweight, float *dbias, const float *dout,
                                               const float *inp, const float *weight, int B, int C, int OC, int prec);

GENREP_API genrep_status genrep_linear_forward(float *out, const float *inp, const float *weight,
                                               const float *bias, int B, int C, int OC) {
    return genrep__linear_forward_p(out, inp, weight, bias, B, C, OC, GENREP_PRECISION_FP32);
}

static genrep_status genrep__linear_forward_p(float *out, const float *inp, const float *weight, const float *bias,
                                              int B, int C, int OC, int prec) {
    GENREP__CHECK_PTR(out); GENREP__CHECK_PTR(inp); GENREP__CHECK_PTR(weight);
    GENREP__CHECK_POS(B); GENREP__CHECK_POS(C); GENREP__CHECK_POS(OC);
    /* out = inp (B,C) @ weight^T (C,OC); then the bias row by row */
    genrep_status st = genrep__linear_gemm(prec, 0, 1, B, OC, C, inp, C, weight, C, 0.0f, out, OC);
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
    return genrep__linear_backward_p(dinp, dweight, dbias, dout, inp, weight, B, C, OC, GENREP_PRECISION_FP32);
}

static genrep_status genrep__linear_backward_p(float *dinp, float *dweight, float *dbias, const float *dout,
                                               const float *inp, const float *weight, int B, int C, int OC, int prec) {
    GENREP__CHECK_PTR(dout);
    GENREP__CHECK_POS(B); GENREP__CHECK_POS(C); GENREP__CHECK_POS(OC);
    if (dinp) GENREP__CHECK_PTR(weight);
    if (dweight) GENREP__CHECK_PTR(inp);
    genrep_status st;
    /* dinp (B,C) += dout (B,OC) @ weight (OC,C) */
    if (dinp && (st = genrep__linear_gemm(prec, 0, 0, B, C, OC, dout, OC, weight, C, 1.0f, dinp, C))) return st;
    /* dweight (OC,C) += dout^T (OC,B) @ inp (B,C) */
    if (dweight && (st = genrep__linear_gemm(prec, 1, 0, OC, C, B, dout, OC, inp, C, 1.0f, dweight, C))) return st;
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

/* Share mode (genrep_encoder_set_share): dweight (OC,C) += dout^T @ inp and
   dbias (OC) += the column sums of dout (B rows, G groups of B/G), as a
   pairwise tree over shares of S rows per group. stack: genrep__tree_levels(L)
   levels of OC*C + OC floats, L = ceil(B/G / S). */
static genrep_status genrep__linear_dweight_tree(float *dweight, float *dbias, float *stack, const float *dout,
                                                 const float *inp, int B, int C, int OC, int prec, int G, int S) {
    const int Bg = B / G;
    const unsigned L = (unsigned)((Bg + S - 1) / S);
    const size_t n = (size_t)OC * C + OC;
    for (unsigned i = 0; i < L; i++) {
        float *leaf = stack + (size_t)genrep__tree_level(i) * n, *lb = leaf + (size_t)OC * C;
        const int j0 = (int)i * S, m = Bg - j0 < S ? Bg - j0 : S;
        memset(leaf, 0, sizeof(float) * n);
        for (int g = 0; g < G; g++) {
            const int r0 = g * Bg + j0;
            genrep_status st = genrep__linear_gemm(prec, 1, 0, OC, C, m, dout + (size_t)r0 * OC, OC,
                                                   inp + (size_t)r0 * C, C, 1.0f, leaf, C);
            if (st) return st;
            for (int r = r0; r < r0 + m; r++)
                for (int o = 0; o < OC; o++) lb[o] += dout[(size_t)r * OC + o];
        }
        genrep__ftree_merge(stack, n, i);
    }
    /* the root: weights, then bias */
    if (dweight) genrep__ftree_root_add(dweight, stack, n, (size_t)OC * C, L);
    if (dbias) genrep__ftree_root_add(dbias, stack + (size_t)OC * C, n, (size_t)OC, L);
    return GENREP_OK;
}

GENREP_API size_t genrep_linear_share_workspace(int B, int C, int OC, int groups, int share) {
    if (B <= 0 || C <= 0 || OC <= 0 || groups < 1 || share < 1 || B % groups) return 0;
    const unsigned L = (unsigned)((B / groups + share - 1) / share);
    return (size_t)genrep__tree_levels(L) * ((size_t)OC * C + OC);
}

GENREP_API genrep_status genrep_linear_backward_share(float *dweight, float *dbias, float *ws, const float *dout,
                                                      const float *inp, int B, int C, int OC, int groups, int share) {
    GENREP__CHECK_PTR(dout); GENREP__CHECK_PTR(inp); GENREP__CHECK_PTR(ws);
    GENREP__CHECK_POS(B); GENREP__CHECK_POS(C); GENREP__CHECK_POS(OC); GENREP__CHECK_POS(share);
    if (groups < 1 || B % groups)
        return genrep__fail(GENREP_ERR_ARG, "%s: groups %d must be >= 1 and divide B %d", __func__, groups, B);
    return genrep__linear_dweight_tree(dweight, dbias, ws, dout, inp, B, C, OC, GENREP_PRECISION_FP32, groups, share);
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

/* Implicit im2col for the weight gradient's GEMM, dw (K, CRS) += dout (K, cols)
   @ col^T: the GEMM packs col^T's panels straight from the images instead of
   reading a materialised col matrix (im2col alone cost ~35% of that GEMM's
   time, and its 4 MB chunk makes a round trip through L3; measured at 1
   thread under load: 0-13% less CPU time than im2col + transposed pack, the
   gain is the memory traffic more than the instructions). Stride 1 and
   q == w (the "shifted" case of genrep__im2col): column j = pixel jp of image
   i of row (c, kr, ks) is plane(i, c)[jp + (kr - ph) * w + ks - pw], zero
   where the column x + ks - pw falls outside the row (xmask) or the index
   outside the plane. The packed values are the same floats as im2col's, so
   results are bitwise those of the explicit path (tested). */
#define GENREP__IMPLICIT_MASK_MAX 8192 /* s * p * q entries of the mask table (on the stack) */
static GENREP__CONV_UNUSED int genrep__conv_implicit = 1; /* tests turn it off to compare */
typedef struct {
    const float *img;          /* the chunk's first image; nb images of (ch, h, w) follow */
    const genrep__col_geom *g;
    const uint32_t *xmask;     /* (s, p*q): ~0 where x + ks - pw is inside the row, else 0 */
} genrep__im2col_ctx;

/* genrep__pack_b_fn for op(B) = col^T (B = col (rows, cols), transposed):
   packed element (k, jj) of a panel is col[j0 + jr + jj][p0 + k]. 8 col rows
   x 8 pixels at a time into a tile, then transposed into the panel (NR is a
   multiple of 8 on every path). A row of the tile is one masked 8-float copy
   when its 8 pixels are in one image and their sources inside the plane
   (then a pixel outside the plane's rows has its source outside the plane,
   so only the x mask is needed), else element by element. No divisions in
   the inner loops: each row's (c, kr, ks) is decoded once per panel, each
   pixel block's (image, pixel) is advanced by 8. */
static void genrep__pack_b_im2col_t(float *dst, const void *ctx, int p0, int kc, int j0, int nc, int NR, int t8) {
    const genrep__im2col_ctx *s = (const genrep__im2col_ctx *)ctx;
    const genrep__col_geom *g = s->g;
    const long pq = (long)g->p * g->q, hw = (long)g->h * g->w, chw = (long)g->ch * hw;
    (void)t8;
    for (int jr = 0; jr < nc; jr += NR, dst += (size_t)NR * kc) {
        const int nr = nc - jr < NR ? nc - jr : NR;
        for (int jb = 0; jb < NR; jb += 8) {
            long plane[8], off[8];
            const uint32_t *mrow[8];
            int nl = nr - jb < 8 ? (nr - jb > 0 ? nr - jb : 0) : 8; /* real rows in this group */
            for (int l = 0; l < nl; l++) {
                const int row = j0 + jr + jb + l, c = row / (g->r * g->s), kr = (row / g->s) % g->r, ks = row % g->s;
                plane[l] = (long)c * hw;
                off[l] = (long)(kr - g->ph) * g->w + (ks - g->pw);
                mrow[l] = s->xmask + (size_t)ks * pq;
            }
            long i = (long)p0 / pq, jp = (long)p0 % pq; /* image and pixel of column p0 + k */
            for (int k = 0; k < kc; k += 8) {
                const int kb = kc - k < 8 ? kc - k : 8;
                float tmp[8][8];
                const int one_image = kb == 8 && jp + 8 <= pq;
                const float *img = s->img + i * chw;
                for (int l = 0; l < 8; l++) {
                    if (l >= nl) { memset(tmp[l], 0, sizeof tmp[l]); continue; }
                    const long src0 = jp + off[l];
                    if (one_image && src0 >= 0 && src0 + 8 <= hw) {
                        uint32_t v[8];
                        const uint32_t *m = mrow[l] + jp;
                        memcpy(v, img + plane[l] + src0, sizeof v);
                        GENREP__CONV_SIMD
                        for (int t = 0; t < 8; t++) v[t] &= m[t];
                        memcpy(tmp[l], v, sizeof v);
                    } else { /* lane by lane, stepping (image, pixel) */
                        long it = i, jt = jp;
                        for (int t = 0; t < 8; t++) {
                            float v = 0.0f;
                            const long idx = jt + off[l];
                            if (t < kb && idx >= 0 && idx < hw && mrow[l][jt]) v = s->img[it * chw + plane[l] + idx];
                            tmp[l][t] = v;
                            if (++jt == pq) { jt = 0; it++; }
                        }
                    }
                }
                jp += 8;
                while (jp >= pq) { jp -= pq; i++; }
#ifdef GENREP__HAVE_T8
                if (t8 && kb == 8) { genrep__transpose8x8_avx(dst + (size_t)k * NR + jb, NR, &tmp[0][0], 8); continue; }
#endif
                for (int t = 0; t < kb; t++)
                    for (int l = 0; l < 8; l++) dst[(size_t)(k + t) * NR + jb + l] = tmp[l][t];
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
    /* every GEMM dimension and plane index must fit an int, and so must the
       output-size formulas (H + 2*pad - R, (H-1)*stride - 2*pad + R + outpad) */
    if ((int64_t)C * R * S > INT32_MAX / 4 || (int64_t)K * R * S > INT32_MAX / 4 || (int64_t)H * W > INT32_MAX / 4)
        return genrep__fail(GENREP_ERR_ARG, "%s: sizes too large", fn);
    if (sh > INT32_MAX / 4 || sw > INT32_MAX / 4 || ph > INT32_MAX / 8 || pw > INT32_MAX / 8
        || (int64_t)(H - 1) * sh > INT32_MAX / 4 || (int64_t)(W - 1) * sw > INT32_MAX / 4)
        return genrep__fail(GENREP_ERR_ARG, "%s: stride %d x %d or pad %d x %d too large for %dx%d", fn, sh, sw, ph, pw, H, W);
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
    if (d->precision != GENREP_PRECISION_FP32 && d->precision != GENREP_PRECISION_BF16)
        return genrep__fail(GENREP_ERR_ARG, "%s: descriptor precision=%d, expected GENREP_PRECISION_FP32 (0) or _BF16 (1)",
                            fn, d->precision);
    return GENREP_OK;
}

/* The conv GEMMs (alpha 1, beta 0 or 1) in the descriptor's precision. */
static genrep_status genrep__conv_gemm(const genrep_conv2d_desc *d, int tA, int tB, int M, int N, int K,
                                       const float *A, int lda, const float *B, int ldb, float beta, float *C,
                                       int ldc, genrep__pack_b_fn pack_b, const void *ctx) {
    if (d->precision == GENREP_PRECISION_BF16)
        return genrep__gemm_bf16_impl(tA, tB, M, N, K, A, lda, B, ldb, beta, C, ldc, pack_b, ctx);
    return genrep__sgemm_impl(tA, tB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc, pack_b, ctx);
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
                             (H + 2 * pad - R) / stride + 1, (W + 2 * pad - S) / stride + 1, GENREP_PRECISION_FP32 };
    *d = t;
    return GENREP_OK;
}

/* A slab is col (CRS, nb*PQ) and, for nb > 1, a (K, nb*PQ) output /
   output-gradient matrix. Backward uses one slab; forward has up to
   GENREP__CONV_SLOTS so that threads can take whole chunks. */
static size_t genrep__conv2d_fwd_ws(const genrep_conv2d_desc *d) {
    const size_t CRS = (size_t)d->C * d->R * d->S, PQ = (size_t)d->P * d->Q;
    const int nb = genrep__conv_chunk(d->N, CRS, PQ), nchunks = (d->N + nb - 1) / nb;
    const int slots = nchunks < GENREP__CONV_SLOTS ? nchunks : GENREP__CONV_SLOTS;
    return (size_t)slots * genrep__conv_ws(d->N, CRS, (size_t)d->K, PQ);
}

/* Stride 1 and pad <= kernel - 1: the data gradient is itself a conv2d
   forward, of dout (N, K, P, Q) with the kernel transposed and flipped,
   wf[c, k, r, s] = weight[k, c, R-1-r, S-1-s], and padding R-1-pad:
     dinp[n, c, h, w] = sum_{k,r,s} dout[n, k, h+ph-r, w+pw-s] weight[k, c, r, s].
   That GEMM reduces over K*R*S instead of K and needs no col2im (which for
   the narrow layers of a small ResNet cost more than the GEMM: bench/RESULTS.md).
   *t receives that forward's descriptor (its output is H x W). */
static int genrep__conv2d_dgrad_desc(const genrep_conv2d_desc *d, genrep_conv2d_desc *t) {
    if (d->stride_h != 1 || d->stride_w != 1 || d->pad_h > d->R - 1 || d->pad_w > d->S - 1) return 0;
    genrep_conv2d_desc x = { d->N, d->K, d->P, d->Q, d->C, d->R, d->S, 1, 1,
                             d->R - 1 - d->pad_h, d->S - 1 - d->pad_w, d->H, d->W, d->precision };
    *t = x;
    return 1;
}

GENREP_API size_t genrep_conv2d_workspace(const genrep_conv2d_desc *d) {
    if (genrep__conv2d_check_desc(__func__, d)) return 0;
    size_t ws = genrep__conv2d_fwd_ws(d);
    {   /* backward: the slots' slabs, then one weight-gradient partial per slot */
        const size_t CRS = (size_t)d->C * d->R * d->S;
        const int nb = genrep__conv_chunk(d->N, CRS, (size_t)d->P * d->Q), nchunks = (d->N + nb - 1) / nb;
        if (nchunks > 1) ws += (size_t)(nchunks < GENREP__CONV_SLOTS ? nchunks : GENREP__CONV_SLOTS) * d->K * CRS;
    }
    genrep_conv2d_desc t;
    if (genrep__conv2d_dgrad_desc(d, &t)) { /* that forward's slabs, then the flipped kernel */
        size_t wt = genrep__conv2d_fwd_ws(&t) + (size_t)d->K * d->C * d->R * d->S;
        if (wt > ws) ws = wt;
    }
    return ws;
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
static genrep_status genrep__conv2d_forward_chunk(float *out, int acc, float *col, float *y, const float *inp,
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
        if (bias && !acc) for (int k = 0; k < K; k++) for (size_t j = 0; j < PQ; j++) o[(size_t)k * PQ + j] = bias[k];
        return genrep__conv_gemm(d, 0, 0, K, cols, CRS, weight, CRS, col, cols, bias || acc ? 1.0f : 0.0f, o, cols,
                                 NULL, NULL);
    }
    genrep_status st = genrep__conv_gemm(d, 0, 0, K, cols, CRS, weight, CRS, col, cols, 0.0f, y, cols, NULL, NULL);
    if (st) return st;
    genrep__chunk_scatter(out + (size_t)n0 * K * PQ, y, acc ? NULL : bias, acc, m, K, PQ);
    return GENREP_OK;
}

/* out = (acc ? out : 0) + conv(inp) (+ bias unless acc); d checked by the caller. */
static genrep_status genrep__conv2d_forward_impl(float *out, int acc, float *ws, const float *inp,
                                                 const float *weight, const float *bias,
                                                 const genrep_conv2d_desc *d) {
    genrep_status st;
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
            if (!fail && genrep__conv2d_forward_chunk(out, acc, col, y, inp, weight, bias, d, &g, n0, m)) fail = 1;
        }
        return fail ? genrep__fail(GENREP_ERR_NOMEM, "%s: GEMM failed (packing buffers)", __func__) : GENREP_OK;
    }
#endif
    /* otherwise chunks in sequence, each stage parallel inside */
    for (int n0 = 0; n0 < d->N; n0 += nb) {
        const int m = d->N - n0 < nb ? d->N - n0 : nb;
        st = genrep__conv2d_forward_chunk(out, acc, ws, ws + (size_t)CRS * nb * PQ, inp, weight, bias, d, &g, n0, m);
        if (st) return st;
    }
    return GENREP_OK;
}

GENREP_API genrep_status genrep_conv2d_forward(float *out, float *ws, const float *inp,
                                               const float *weight, const float *bias,
                                               const genrep_conv2d_desc *d) {
    genrep_status st = genrep__conv2d_check_desc(__func__, d);
    if (st) return st;
    GENREP__CHECK_PTR(out); GENREP__CHECK_PTR(ws); GENREP__CHECK_PTR(inp); GENREP__CHECK_PTR(weight);
    return genrep__conv2d_forward_impl(out, 0, ws, inp, weight, bias, d);
}

/* One chunk of the backward: images n0 .. n0+m-1 with this slot's col and
   dy slabs; dw (K, CRS) += its weight gradient (if dw); dinp += its data
   gradient through col2im (if do_col2im). */
static genrep_status genrep__conv2d_backward_chunk(float *dinp, float *dw, float *col, float *dy,
                                                   const float *dout, const float *inp, const float *weight,
                                                   const genrep_conv2d_desc *d, const genrep__col_geom *g,
                                                   int n0, int m, int do_col2im, const uint32_t *xmask) {
    const int K = d->K, CRS = d->C * d->R * d->S;
    const size_t PQ = (size_t)d->P * d->Q, CHW = (size_t)d->C * d->H * d->W;
    const int cols = (int)(m * PQ);
    genrep_status st;
    /* dout chunk as one (K, m*PQ) matrix */
    const float *dyc = dout + (size_t)n0 * K * PQ;
    if (m > 1) { genrep__chunk_gather(dy, dyc, m, K, PQ); dyc = dy; }
    if (dw && xmask) {
        /* dw (K, CRS) += dout (K, cols) @ col^T (cols, CRS), col packed from the images */
        genrep__im2col_ctx ctx = { inp + (size_t)n0 * CHW, g, xmask };
        if ((st = genrep__conv_gemm(d, 0, 1, K, CRS, cols, dyc, cols, inp, cols, 1.0f, dw, CRS,
                                    genrep__pack_b_im2col_t, &ctx))) return st;
    } else if (dw) {
        /* dw (K, CRS) += dout (K, cols) @ col^T (cols, CRS) */
        genrep__im2col(col, (size_t)cols, inp + (size_t)n0 * CHW, m, g);
        if ((st = genrep__conv_gemm(d, 0, 1, K, CRS, cols, dyc, cols, col, cols, 1.0f, dw, CRS, NULL, NULL))) return st;
    }
    if (do_col2im) {
        /* dcol (CRS, cols) = weight^T (CRS, K) @ dout (K, cols), then scattered back */
        if ((st = genrep__conv_gemm(d, 1, 0, CRS, cols, K, weight, CRS, dyc, cols, 0.0f, col, cols, NULL, NULL)))
            return st;
        genrep__col2im_add(dinp + (size_t)n0 * CHW, col, (size_t)cols, m, g);
    }
    return GENREP_OK;
}

/* genrep_conv2d_backward with dinp_acc = 0: dinp = its gradient instead of
   += (the encoder's first write into a gradient buffer then needs no zeroing
   pass; the stride-1 data gradient is a forward conv that overwrites).
   Arguments checked by the caller. */
static genrep_status genrep__conv2d_backward_impl(float *dinp, float *dweight, float *dbias, float *ws,
                                                  const float *dout, const float *inp, const float *weight,
                                                  const genrep_conv2d_desc *d, int dinp_acc);

GENREP_API genrep_status genrep_conv2d_backward(float *dinp, float *dweight, float *dbias, float *ws,
                                                const float *dout, const float *inp,
                                                const float *weight, const genrep_conv2d_desc *d) {
    genrep_status st = genrep__conv2d_check_desc(__func__, d);
    if (st) return st;
    GENREP__CHECK_PTR(dout);
    if (dinp) GENREP__CHECK_PTR(weight);
    if (dweight) GENREP__CHECK_PTR(inp);
    if (dinp || dweight) GENREP__CHECK_PTR(ws);
    return genrep__conv2d_backward_impl(dinp, dweight, dbias, ws, dout, inp, weight, d, 1);
}

static genrep_status genrep__conv2d_backward_impl(float *dinp, float *dweight, float *dbias, float *ws,
                                                  const float *dout, const float *inp, const float *weight,
                                                  const genrep_conv2d_desc *d, int dinp_acc) {
    const char *fn = "genrep_conv2d_backward";
    genrep_status st;
    const genrep__col_geom g = genrep__conv2d_geom(d);
    const int K = d->K, CRS = d->C * d->R * d->S;
    const size_t PQ = (size_t)d->P * d->Q;
    if (dbias) genrep__bias_grad(dbias, dout, d->N, K, PQ);
    if (!dinp && !dweight) return GENREP_OK;
    genrep_conv2d_desc t;
    const int dgrad_fwd = dinp && genrep__conv2d_dgrad_desc(d, &t);
    const int do_col2im = dinp && !dgrad_fwd;
    if (do_col2im && !dinp_acc) { /* col2im adds: start from zeros */
        const size_t nin = (size_t)d->N * d->C * d->H * d->W;
        GENREP__CONV_PARFOR(nin)
        for (size_t i = 0; i < nin; i++) dinp[i] = 0.0f;
    }
    /* Chunks go to GENREP__CONV_SLOTS slots, chunk c to slot c % slots, each
       slot with its own slabs; with more than one slot the weight gradient
       is summed per slot (its chunks in order) and the slots are added to
       dweight at the end. That depends on the chunk count only, so whether
       the slots run on two threads at once (no barrier inside the pass, as
       in the forward) or one after the other, the bits are the same. */
    const int nb = genrep__conv_chunk(d->N, (size_t)CRS, PQ), nchunks = (d->N + nb - 1) / nb;
    const int slots = nchunks < GENREP__CONV_SLOTS ? nchunks : GENREP__CONV_SLOTS;
    const size_t slab = genrep__conv_ws(d->N, (size_t)CRS, (size_t)K, PQ), KC = (size_t)K * CRS;
    float *pw = ws + (size_t)slots * slab;
    const int partial = dweight && slots > 1;
    /* implicit im2col for the weight gradient: the x-mask table (see genrep__im2col_ctx) */
    uint32_t xmask_buf[GENREP__IMPLICIT_MASK_MAX];
    const uint32_t *xmask = NULL;
    if (dweight && genrep__conv_implicit && g.sh == 1 && g.sw == 1 && g.q == g.w &&
        (size_t)g.s * PQ <= GENREP__IMPLICIT_MASK_MAX) {
        for (int ks = 0; ks < g.s; ks++)
            for (size_t jp = 0; jp < PQ; jp++) {
                const int ix = (int)(jp % (size_t)g.q) - g.pw + ks;
                xmask_buf[(size_t)ks * PQ + jp] = ix >= 0 && ix < g.w ? ~(uint32_t)0 : 0;
            }
        xmask = xmask_buf;
    }
    if (dweight || do_col2im) {
        if (partial) memset(pw, 0, sizeof(float) * (size_t)slots * KC);
        int fail = 0;
#ifdef _OPENMP
        const int nt = genrep_num_threads();
        if (slots > 1 && nt > 1 && nt <= slots && !omp_in_parallel()) {
            #pragma omp parallel num_threads(slots) reduction(| : fail)
            {
                const int sl = omp_get_thread_num();
                float *col = ws + (size_t)sl * slab, *dy = col + (size_t)CRS * nb * PQ;
                for (int c = sl; c < nchunks; c += slots) {
                    const int n0 = c * nb, m = d->N - n0 < nb ? d->N - n0 : nb;
                    if (!fail && genrep__conv2d_backward_chunk(dinp, dweight ? pw + (size_t)sl * KC : NULL, col, dy, dout,
                                                               inp, weight, d, &g, n0, m, do_col2im, xmask))
                        fail = 1;
                }
            }
        } else
#endif
        {   /* chunks in sequence, each stage parallel inside */
            for (int c = 0; c < nchunks && !fail; c++) {
                const int sl = c % slots, n0 = c * nb, m = d->N - n0 < nb ? d->N - n0 : nb;
                float *col = ws + (size_t)sl * slab, *dy = col + (size_t)CRS * nb * PQ;
                float *dw = !dweight ? NULL : partial ? pw + (size_t)sl * KC : dweight;
                if (genrep__conv2d_backward_chunk(dinp, dw, col, dy, dout, inp, weight, d, &g, n0, m, do_col2im, xmask))
                    fail = 1;
            }
        }
        if (fail) return genrep__fail(GENREP_ERR_NOMEM, "%s: GEMM failed (packing buffers)", fn);
        if (partial) {
            GENREP__CONV_PARFOR(KC)
            for (size_t i = 0; i < KC; i++) {
                float acc = pw[i];
                for (int sl = 1; sl < slots; sl++) acc += pw[(size_t)sl * KC + i];
                dweight[i] += acc;
            }
        }
    }
    if (dgrad_fwd) {
        /* dinp += conv(dout, flipped kernel): the kernel after that forward's slabs */
        const int C = d->C, R = d->R, S = d->S;
        float *wf = ws + genrep__conv2d_fwd_ws(&t);
        for (int k = 0; k < K; k++)
            for (int c = 0; c < C; c++)
                for (int r = 0; r < R; r++)
                    for (int q = 0; q < S; q++)
                        wf[(((size_t)c * K + k) * R + (R - 1 - r)) * S + (S - 1 - q)] =
                            weight[(((size_t)k * C + c) * R + r) * S + q];
        st = genrep__conv2d_forward_impl(dinp, dinp_acc, ws, dout, wf, NULL, &t);
        if (st) return st;
    }
    return GENREP_OK;
}

/* Share mode (genrep_encoder_set_share): dweight (K, CRS) += the weight
   gradient as a pairwise tree over shares (G groups of N/G images, S per
   share and group). A leaf's images (its run of every group, in group
   order) and their dout are first copied together, so the leaf is one GEMM
   of m*PQ columns written (beta 0) into its level of the stack: its bits
   depend only on the share's images, and each leaf costs one pass over the
   (K, CRS) gradient plus its merge.
   Threads: the binary counter's root over L leaves is T(first P leaves) +
   counter(the other L - P), P the largest power of two below L (or L/2), so
   with 2+ threads two slots take those two ranges, each with its own stack
   and one-thread GEMMs (no barrier per leaf: small GEMMs under load paid
   more in barriers than they saved), and add their roots: the bits of the
   one-slot loop, whose GEMMs are parallel inside instead. Workspace per
   slot: the stack, genrep__tree_levels(L) * K*CRS floats, then the leaf's
   images, dout as (K, m*PQ), and im2col (unless the implicit path packs
   from the images). */
static size_t genrep__conv2d_tree_slot(const genrep_conv2d_desc *d, int G, int S) {
    const size_t CRS = (size_t)d->C * d->R * d->S, PQ = (size_t)d->P * d->Q, m = (size_t)G * S;
    const unsigned L = (unsigned)((d->N / G + S - 1) / S);
    return (size_t)genrep__tree_levels(L) * d->K * CRS + m * ((size_t)d->C * d->H * d->W + (size_t)d->K * PQ + CRS * PQ);
}
static size_t genrep__conv2d_tree_ws(const genrep_conv2d_desc *d, int G, int S) {
    return 2 * genrep__conv2d_tree_slot(d, G, S);
}
/* leaves i0 .. i1-1 into stack (a counter started at i0), slab after the stack */
static genrep_status genrep__conv2d_tree_range(float *stack, int levels, const float *dout, const float *inp,
                                               const genrep_conv2d_desc *d, const genrep__col_geom *g,
                                               const uint32_t *xmask, int G, int S, unsigned i0, unsigned i1) {
    const int K = d->K, CRS = d->C * d->R * d->S, Ng = d->N / G;
    const size_t PQ = (size_t)d->P * d->Q, KC = (size_t)K * CRS, CHW = (size_t)d->C * d->H * d->W;
    float *xin = stack + (size_t)levels * KC, *dy = xin + (size_t)G * S * CHW, *col = dy + (size_t)G * S * K * PQ;
    for (unsigned i = i0; i < i1; i++) {
        float *leaf = stack + (size_t)genrep__tree_level(i - i0) * KC;
        const int j0 = (int)i * S, mg = Ng - j0 < S ? Ng - j0 : S, m = G * mg, cols = (int)(m * PQ);
        /* the leaf's images, and its dout as one (K, cols) matrix */
        for (int gi = 0; gi < G; gi++)
            memcpy(xin + (size_t)gi * mg * CHW, inp + ((size_t)gi * Ng + j0) * CHW, sizeof(float) * mg * CHW);
        GENREP__CONV_PARFOR((size_t)K * cols)
        for (int k = 0; k < K; k++)
            for (int t = 0; t < m; t++) {
                const size_t n = (size_t)(t / mg) * Ng + j0 + t % mg;
                memcpy(dy + (size_t)k * cols + (size_t)t * PQ, dout + (n * K + k) * PQ, sizeof(float) * PQ);
            }
        genrep_status st;
        if (xmask) {
            genrep__im2col_ctx ctx = { xin, g, xmask };
            st = genrep__conv_gemm(d, 0, 1, K, CRS, cols, dy, cols, xin, cols, 0.0f, leaf, CRS, genrep__pack_b_im2col_t, &ctx);
        } else {
            genrep__im2col(col, (size_t)cols, xin, m, g);
            st = genrep__conv_gemm(d, 0, 1, K, CRS, cols, dy, cols, col, cols, 0.0f, leaf, CRS, NULL, NULL);
        }
        if (st) return st;
        genrep__ftree_merge(stack, KC, i - i0);
    }
    return GENREP_OK;
}
static genrep_status genrep__conv2d_dweight_tree(float *dweight, float *ws, const float *dout, const float *inp,
                                                 const genrep_conv2d_desc *d, int G, int S) {
    const genrep__col_geom g = genrep__conv2d_geom(d);
    const size_t PQ = (size_t)d->P * d->Q, KC = (size_t)d->K * d->C * d->R * d->S;
    const unsigned L = (unsigned)((d->N / G + S - 1) / S);
    const int levels = genrep__tree_levels(L);
    uint32_t xmask_buf[GENREP__IMPLICIT_MASK_MAX];
    const uint32_t *xmask = NULL;
    if (genrep__conv_implicit && g.sh == 1 && g.sw == 1 && g.q == g.w && (size_t)g.s * PQ <= GENREP__IMPLICIT_MASK_MAX) {
        for (int ks = 0; ks < g.s; ks++)
            for (size_t jp = 0; jp < PQ; jp++) {
                const int ix = (int)(jp % (size_t)g.q) - g.pw + ks;
                xmask_buf[(size_t)ks * PQ + jp] = ix >= 0 && ix < g.w ? ~(uint32_t)0 : 0;
            }
        xmask = xmask_buf;
    }
#ifdef _OPENMP
    if (L >= 2 && genrep_num_threads() > 1 && !omp_in_parallel()) {
        unsigned P = 1;
        while (2 * P < L) P *= 2;  /* the largest power of two below L */
        float *st1 = ws + genrep__conv2d_tree_slot(d, G, S);
        int fail = 0;
        #pragma omp parallel num_threads(2) reduction(| : fail)
        {
            const int t = omp_get_thread_num();
            if (genrep__conv2d_tree_range(t ? st1 : ws, levels, dout, inp, d, &g, xmask, G, S, t ? P : 0, t ? L : P))
                fail = 1;
        }
        if (fail) return genrep__fail(GENREP_ERR_NOMEM, "genrep_conv2d_backward: GEMM failed (packing buffers)");
        const float *left = ws + (size_t)genrep__tree_level(P - 1) * KC; /* P leaves: the root sits at level log2 P */
        const unsigned R = L - P;
        GENREP__CONV_PARFOR(KC)
        for (size_t j = 0; j < KC; j++) {
            float acc = 0.0f;
            int first = 1;
            for (int l = 0; (R >> l) != 0; l++)
                if ((R >> l) & 1u) { acc = first ? st1[(size_t)l * KC + j] : st1[(size_t)l * KC + j] + acc; first = 0; }
            dweight[j] += left[j] + acc;
        }
        return GENREP_OK;
    }
#endif
    genrep_status st = genrep__conv2d_tree_range(ws, levels, dout, inp, d, &g, xmask, G, S, 0, L);
    if (st) return st;
    genrep__ftree_root_add(dweight, ws, KC, KC, L);
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
#if defined(__GNUC__)
/* The 8 partial sums as one 8-lane vector (GCC/clang vector extensions,
   baseline SSE2 code): lane j does exactly what the scalar loop's acc[j]
   does, in the same order, so the bits are the same; -O2 keeps the scalar
   form's partial-sum arrays in memory, ~15 cycles per element (BN backward
   was compute-bound at 1/3 of the memory bandwidth). */
typedef float genrep__v8f __attribute__((vector_size(32)));
typedef double genrep__v8d __attribute__((vector_size(64)));
typedef int32_t genrep__v8i __attribute__((vector_size(32)));
#define GENREP__HAVE_V8 1
static inline double genrep__v8d_sum(genrep__v8d a) {
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}
#endif
static void genrep__bn_dsums(double *sdy, double *sdyx, const float *dy, const float *x, int n, float m, float r) {
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
#ifdef GENREP__HAVE_V8
    {
        genrep__v8d va = {0, 0, 0, 0, 0, 0, 0, 0}, vb = va;
        const genrep__v8f vm = {m, m, m, m, m, m, m, m}, vr = {r, r, r, r, r, r, r, r};
        for (; i + 8 <= n; i += 8) {
            genrep__v8f g, xv;
            memcpy(&g, dy + i, sizeof g);
            memcpy(&xv, x + i, sizeof xv);
            const genrep__v8d gd = __builtin_convertvector(g, genrep__v8d);
            va += gd;
            vb += gd * __builtin_convertvector((xv - vm) * vr, genrep__v8d);
        }
        memcpy(a, &va, sizeof a);
        memcpy(b, &vb, sizeof b);
    }
#endif
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

/* [BATCHNORM] fused ------------------------------------------------------ */
/* The encoder's BN passes are memory-bound: a 512-image 32x28x28 activation
   is 51 MB and one pass over it costs ~9.5 ms per core on this VM (~5.5 GB/s
   per core, bench/RESULTS.md), while the arithmetic is a few ms. So the
   fused ops count passes: statistics in one read, normalise + residual +
   ReLU in one read-write (the unfused chain read the input three times and
   the output twice more); backward masks the ReLU while reading dout and
   overwrites dinp instead of needing it zeroed. */

/* sum x and sum x^2 in double over n floats, 8 interleaved partial sums each
   (fixed order, as genrep__sum8) */
static void genrep__sum_ssq8(double *sum, double *ssq, const float *x, int n) {
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, q[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
#ifdef GENREP__HAVE_V8
    {
        genrep__v8d va = {0, 0, 0, 0, 0, 0, 0, 0}, vq = va;
        for (; i + 8 <= n; i += 8) {
            genrep__v8f xv;
            memcpy(&xv, x + i, sizeof xv);
            const genrep__v8d v = __builtin_convertvector(xv, genrep__v8d);
            va += v;
            vq += v * v;
        }
        memcpy(a, &va, sizeof a);
        memcpy(q, &vq, sizeof q);
    }
#endif
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) { double v = x[i + j]; a[j] += v; q[j] += v * v; }
    for (; i < n; i++) { double v = x[i]; a[i & 7] += v; q[i & 7] += v * v; }
    *sum += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    *ssq += ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]));
}

/* genrep__bn_stats with one pass for training mode. The squares of floats are
   exact in double and the sums carry ~16 digits, so sum (x - mean)^2 =
   ssq - sum * mean loses only what |mean| / std costs: at mean = 1000 std
   the variance still has ~10 correct digits. Clamped at 0. */
/* channel c's sum x and sum x^2 over its N*HW values, in the fixed order n, hw */
static void genrep__bn_sums1(double *sum, double *sq, const float *inp, int c, int N, int C, int HW) {
    for (int n = 0; n < N; n++) genrep__sum_ssq8(sum, sq, inp + ((size_t)n * C + c) * HW, HW);
}
/* mean, rstd and the running stats of channel c from its sums over M values */
static void genrep__bn_finish1(float *mean_c, float *rstd_c, float *running_mean, float *running_var, int c,
                               double sum, double sq, double M, float eps, float momentum) {
    const double mean = sum / M;
    double ssq = sq - sum * mean;
    if (!(ssq > 0.0)) ssq = 0.0;
    *mean_c = (float)mean;
    *rstd_c = (float)(1.0 / sqrt(ssq / M + (double)eps));
    if (running_mean)
        running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + (double)momentum * mean);
    if (running_var)
        running_var[c] = (float)((1.0 - momentum) * running_var[c] + (double)momentum * (ssq / (M - 1.0)));
}
static void genrep__bn_stats1(float *mean_c, float *rstd_c, float *running_mean, float *running_var,
                              const float *inp, int c, int N, int C, int HW, float eps, float momentum,
                              int training) {
    if (!training) {
        genrep__bn_stats(mean_c, rstd_c, running_mean, running_var, inp, c, N, C, HW, eps, momentum, 0);
        return;
    }
    double sum = 0.0, sq = 0.0;
    genrep__bn_sums1(&sum, &sq, inp, c, N, C, HW);
    genrep__bn_finish1(mean_c, rstd_c, running_mean, running_var, c, sum, sq, (double)N * HW, eps, momentum);
}

/* gs (training only): NULL, or the statistics of a batch split over
   processes (the encoder's bn_sync): sum x (C), sum x^2 (C), then the value
   count M, summed over every process; the local pass is skipped. */
static void genrep__bn_sums1_tree(double *sum, double *sq, const float *inp, int c, int N, int C, int HW, int G, int S);
/* S > 0 (training, gs NULL): the statistics by the share tree of G groups, S per share (genrep_encoder_set_share) */
static genrep_status genrep__bn_act_forward(float *out, float *mean, float *rstd, float *running_mean,
                                            float *running_var, const float *inp, const float *gamma,
                                            const float *beta, const float *res, int relu, int N, int C, int HW,
                                            float eps, float momentum, int training, const double *gs, int G, int S) {
    genrep_status st = genrep__bn_check_fwd("genrep_batchnorm_act_forward", out, inp, running_mean, running_var,
                                            N, C, HW, eps, momentum, training);
    if (st) return st;
    GENREP__LPARFOR((size_t)N * C * HW)
    for (int c = 0; c < C; c++) {
        float m, r;
        if (gs && training)
            genrep__bn_finish1(&m, &r, running_mean, running_var, c, gs[c], gs[C + c], gs[2 * C], eps, momentum);
        else if (S && training) {
            double sum, sq;
            genrep__bn_sums1_tree(&sum, &sq, inp, c, N, C, HW, G, S);
            genrep__bn_finish1(&m, &r, running_mean, running_var, c, sum, sq, (double)N * HW, eps, momentum);
        } else
            genrep__bn_stats1(&m, &r, running_mean, running_var, inp, c, N, C, HW, eps, momentum, training);
        if (mean) mean[c] = m;
        if (rstd) rstd[c] = r;
        const float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
        for (int n = 0; n < N; n++) {
            const size_t off = ((size_t)n * C + c) * HW;
            const float *x = inp + off;
            float *y = out + off;
            /* the same float operations as batchnorm, then add, then ReLU */
            if (res) {
                const float *s = res + off;
                if (relu) {
                    GENREP__SIMD
                    for (int i = 0; i < HW; i++) { float v = (x[i] - m) * r * g + b + s[i]; y[i] = v > 0.0f ? v : 0.0f; }
                } else {
                    GENREP__SIMD
                    for (int i = 0; i < HW; i++) y[i] = (x[i] - m) * r * g + b + s[i];
                }
            } else if (relu) {
                GENREP__SIMD
                for (int i = 0; i < HW; i++) { float v = (x[i] - m) * r * g + b; y[i] = v > 0.0f ? v : 0.0f; }
            } else {
                GENREP__SIMD
                for (int i = 0; i < HW; i++) y[i] = (x[i] - m) * r * g + b;
            }
        }
    }
    return GENREP_OK;
}

GENREP_API genrep_status genrep_batchnorm_act_forward(float *out, float *mean, float *rstd,
                                                      float *running_mean, float *running_var,
                                                      const float *inp, const float *gamma, const float *beta,
                                                      const float *res, int relu, int N, int C, int HW,
                                                      float eps, float momentum, int training) {
    return genrep__bn_act_forward(out, mean, rstd, running_mean, running_var, inp, gamma, beta, res, relu, N, C, HW,
                                  eps, momentum, training, NULL, 1, 0);
}

/* sums (2C): sum x and sum x^2 of every channel, as the forward's local pass */
static void genrep__bn_act_sums(double *sums, const float *inp, int N, int C, int HW) {
    GENREP__LPARFOR((size_t)N * C * HW)
    for (int c = 0; c < C; c++) {
        double sum = 0.0, sq = 0.0;
        genrep__bn_sums1(&sum, &sq, inp, c, N, C, HW);
        sums[c] = sum; sums[C + c] = sq;
    }
}

/* a > 0 ? d : 0.0f without a branch (the ReLU mask is a coin flip per
   element: as a branch it mispredicts half the time, and this loop is not
   vectorised at -O2) */
static inline float genrep__relu_sel(float a, float d) {
    uint32_t u;
    memcpy(&u, &d, sizeof u);
    u &= (uint32_t)0 - (uint32_t)(a > 0.0f);
    memcpy(&d, &u, sizeof u);
    return d;
}

/* genrep__bn_dsums with dout masked where act_out <= 0 (act_out may be NULL) */
static void genrep__bn_dsums_masked(double *sdy, double *sdyx, const float *dy, const float *act, const float *x,
                                    int n, float m, float r) {
    if (!act) { genrep__bn_dsums(sdy, sdyx, dy, x, n, m, r); return; }
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
#ifdef GENREP__HAVE_V8
    {   /* as genrep__bn_dsums, dout masked by a lane-wise AND */
        genrep__v8d va = {0, 0, 0, 0, 0, 0, 0, 0}, vb = va;
        const genrep__v8f vm = {m, m, m, m, m, m, m, m}, vr = {r, r, r, r, r, r, r, r}, z = {0, 0, 0, 0, 0, 0, 0, 0};
        for (; i + 8 <= n; i += 8) {
            genrep__v8f g, xv, av;
            memcpy(&g, dy + i, sizeof g);
            memcpy(&xv, x + i, sizeof xv);
            memcpy(&av, act + i, sizeof av);
            g = (genrep__v8f)((genrep__v8i)g & (genrep__v8i)(av > z));
            const genrep__v8d gd = __builtin_convertvector(g, genrep__v8d);
            va += gd;
            vb += gd * __builtin_convertvector((xv - vm) * vr, genrep__v8d);
        }
        memcpy(a, &va, sizeof a);
        memcpy(b, &vb, sizeof b);
    }
#endif
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) {
            float g = genrep__relu_sel(act[i + j], dy[i + j]);
            a[j] += g; b[j] += (double)g * ((x[i + j] - m) * r);
        }
    for (; i < n; i++) {
        float g = genrep__relu_sel(act[i], dy[i]);
        a[i & 7] += g; b[i & 7] += (double)g * ((x[i] - m) * r);
    }
    *sdy += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    *sdyx += ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]));
}

/* sums (2C): sum dout and sum dout * xhat of every channel (dout masked by
   act_out), as the backward's local pass; dgamma, dbeta += them */
static void genrep__bn_act_dsums(double *sums, float *dgamma, float *dbeta, const float *dout, const float *act_out,
                                 const float *inp, const float *mean, const float *rstd, int N, int C, int HW) {
    GENREP__LPARFOR((size_t)N * C * HW)
    for (int c = 0; c < C; c++) {
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < N; n++) {
            const size_t off = ((size_t)n * C + c) * HW;
            genrep__bn_dsums_masked(&sdy, &sdyx, dout + off, act_out ? act_out + off : NULL, inp + off, HW, mean[c], rstd[c]);
        }
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
        sums[c] = sdy; sums[C + c] = sdyx;
    }
}

/* Share mode (genrep_encoder_set_share): channel c's sums as pairwise
   trees over shares: a share's partial is its images of group 0, 1, .. in
   order, each image's HW values as the default pass sums them. Used inside
   the BN passes (one pass over the data, as the default) and, with
   bn_sync, as the separate local pass before the exchange: the same bits. */
static void genrep__bn_sums1_tree(double *sum, double *sq, const float *inp, int c, int N, int C, int HW, int G, int S) {
    const int Ng = N / G;
    genrep__dtree t;
    t.n = 0;
    for (int j0 = 0; j0 < Ng; j0 += S) {
        double a = 0.0, b = 0.0;
        for (int g = 0; g < G; g++)
            for (int n = g * Ng + j0; n < g * Ng + j0 + S && n < (g + 1) * Ng; n++)
                genrep__sum_ssq8(&a, &b, inp + ((size_t)n * C + c) * HW, HW);
        genrep__dtree_push(&t, a, b);
    }
    genrep__dtree_root(sum, sq, &t);
}
static void genrep__bn_dsums1_tree(double *sdy, double *sdyx, const float *dout, const float *act_out, const float *inp,
                                   int c, int N, int C, int HW, float m, float r, int G, int S) {
    const int Ng = N / G;
    genrep__dtree t;
    t.n = 0;
    for (int j0 = 0; j0 < Ng; j0 += S) {
        double a = 0.0, b = 0.0;
        for (int g = 0; g < G; g++)
            for (int n = g * Ng + j0; n < g * Ng + j0 + S && n < (g + 1) * Ng; n++) {
                const size_t off = ((size_t)n * C + c) * HW;
                genrep__bn_dsums_masked(&a, &b, dout + off, act_out ? act_out + off : NULL, inp + off, HW, m, r);
            }
        genrep__dtree_push(&t, a, b);
    }
    genrep__dtree_root(sdy, sdyx, &t);
}
/* every channel: sums (2C) as genrep__bn_act_sums / _dsums (dgamma, dbeta untouched) */
static void genrep__bn_act_sums_tree(double *sums, const float *inp, int N, int C, int HW, int G, int S) {
    GENREP__LPARFOR((size_t)N * C * HW)
    for (int c = 0; c < C; c++) genrep__bn_sums1_tree(&sums[c], &sums[C + c], inp, c, N, C, HW, G, S);
}
static void genrep__bn_act_dsums_tree(double *sums, const float *dout, const float *act_out, const float *inp,
                                      const float *mean, const float *rstd, int N, int C, int HW, int G, int S) {
    GENREP__LPARFOR((size_t)N * C * HW)
    for (int c = 0; c < C; c++)
        genrep__bn_dsums1_tree(&sums[c], &sums[C + c], dout, act_out, inp, c, N, C, HW, mean[c], rstd[c], G, S);
}

/* gs (training only): NULL, or sum dout (C), sum dout * xhat (C) and the
   value count M of a batch split over processes, summed over every process
   (the local pass, and with it dgamma and dbeta, was genrep__bn_act_dsums). */
static genrep_status genrep__bn_act_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                             const float *act_out, const float *inp, const float *gamma,
                                             const float *mean, const float *rstd, int N, int C, int HW,
                                             int training, int accumulate, const double *gs, int G, int S) {
    genrep_status st = genrep__bn_check_bwd("genrep_batchnorm_act_backward", dout, inp, mean, rstd, N, C, HW);
    if (st) return st;
    if (!training) gs = NULL;
    const double M = gs ? gs[2 * C] : (double)N * HW;
    GENREP__LPARFOR((size_t)N * C * HW)
    for (int c = 0; c < C; c++) {
        const float m = mean[c], r = rstd[c], g = gamma ? gamma[c] : 1.0f;
        double sdy = 0.0, sdyx = 0.0;
        if (gs) { sdy = gs[c]; sdyx = gs[C + c]; }
        else if (S && training) { /* the share tree, dgamma and dbeta from it */
            genrep__bn_dsums1_tree(&sdy, &sdyx, dout, act_out, inp, c, N, C, HW, m, r, G, S);
            if (dgamma) dgamma[c] += (float)sdyx;
            if (dbeta) dbeta[c] += (float)sdy;
        } else {
            for (int n = 0; n < N; n++) {
                const size_t off = ((size_t)n * C + c) * HW;
                genrep__bn_dsums_masked(&sdy, &sdyx, dout + off, act_out ? act_out + off : NULL, inp + off, HW, m, r);
            }
            if (dgamma) dgamma[c] += (float)sdyx;
            if (dbeta) dbeta[c] += (float)sdy;
        }
        if (!dinp) continue;
        const float k1 = training ? (float)(g * sdy / M) : 0.0f;
        const float k2 = training ? (float)(g * sdyx / M) : 0.0f;
        for (int n = 0; n < N; n++) {
            const size_t off = ((size_t)n * C + c) * HW;
            const float *x = inp + off, *dy = dout + off, *a = act_out ? act_out + off : NULL;
            float *dx = dinp + off;
            /* the same float operations as genrep_batchnorm_backward on the masked dout
               (the mask by bit-and: a conditional load of dy is not vectorised) */
            if (a && accumulate) {
                GENREP__SIMD
                for (int i = 0; i < HW; i++) {
                    float gy = genrep__relu_sel(a[i], dy[i]), xhat = (x[i] - m) * r;
                    dx[i] += r * (g * gy - k1 - xhat * k2);
                }
            } else if (a) {
                GENREP__SIMD
                for (int i = 0; i < HW; i++) {
                    float gy = genrep__relu_sel(a[i], dy[i]), xhat = (x[i] - m) * r;
                    dx[i] = r * (g * gy - k1 - xhat * k2);
                }
            } else if (accumulate) {
                GENREP__SIMD
                for (int i = 0; i < HW; i++) { float xhat = (x[i] - m) * r; dx[i] += r * (g * dy[i] - k1 - xhat * k2); }
            } else {
                GENREP__SIMD
                for (int i = 0; i < HW; i++) { float xhat = (x[i] - m) * r; dx[i] = r * (g * dy[i] - k1 - xhat * k2); }
            }
        }
    }
    return GENREP_OK;
}

GENREP_API genrep_status genrep_batchnorm_act_backward(float *dinp, float *dgamma, float *dbeta,
                                                       const float *dout, const float *act_out,
                                                       const float *inp, const float *gamma,
                                                       const float *mean, const float *rstd,
                                                       int N, int C, int HW, int training, int accumulate) {
    return genrep__bn_act_backward(dinp, dgamma, dbeta, dout, act_out, inp, gamma, mean, rstd, N, C, HW, training,
                                   accumulate, NULL, 1, 0);
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
/* -------------------------------------------------------------- [MODELS] */
/* [GAN] DCGAN / class-conditional generator and (projection) discriminator.
   Every layer is a call into [LAYERS]; this section only lays out the
   slabs, names the tensors and chains the ops. */

#define GENREP__GAN_BN_EPS 1e-5f
#define GENREP__GAN_BN_MOMENTUM 0.1f
#define GENREP__GAN_LEAK 0.2f

GENREP_API void genrep_gan_config_default(genrep_gan_config *cfg, genrep_gan_kind kind) {
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = (int)kind;
    cfg->zdim = 128;
    cfg->width = 32;
    cfg->dwidth = 64;
    cfg->n_classes = 10;
    cfg->embed_dim = 32;
    cfg->first = GENREP_GEN_FIRST_LINEAR;
    cfg->n_up = 2;
    cfg->out_size = 28;
    cfg->out_channels = 1;
    cfg->out_layer = GENREP_GEN_OUT_CONV;
    cfg->out_bias = 1;
    cfg->out_act = GENREP_GEN_ACT_TANH;
}

/* The generator architecture fields of c, with out_size 0 read as the
   28x28x1 defaults (a config built field by field before they existed). */
static genrep_gan_config genrep__gan_arch(const genrep_gan_config *c) {
    genrep_gan_config a = *c;
    if (a.out_size == 0) {
        genrep_gan_config d;
        genrep_gan_config_default(&d, GENREP_GAN_DCGAN);
        a.first = d.first; a.n_up = d.n_up; a.out_size = d.out_size; a.out_channels = d.out_channels;
        a.out_layer = d.out_layer; a.out_bias = d.out_bias; a.out_act = d.out_act;
    }
    return a;
}

/* 1 if c's generator is the default 28x28x1 one (what the discriminator takes). */
static int genrep__gan_is_default_arch(const genrep_gan_config *c) {
    genrep_gan_config a = genrep__gan_arch(c), d;
    genrep_gan_config_default(&d, GENREP_GAN_DCGAN);
    return a.first == d.first && a.n_up == d.n_up && a.out_size == d.out_size && a.out_channels == d.out_channels
           && a.out_layer == d.out_layer && a.out_bias == d.out_bias && a.out_act == d.out_act;
}

/* Side s0 of stage 0: out_size / 2^(n_up + (out convT)); 0 if it does not divide. */
static int genrep__gen_s0(const genrep_gan_config *c) {
    int sh = c->n_up + (c->out_layer == GENREP_GEN_OUT_CONVT);
    if (c->out_size <= 0 || c->n_up < 0 || sh > 16 || c->out_size % (1 << sh)) return 0;
    return c->out_size >> sh;
}

static genrep_status genrep__gan_check_config(const char *fn, const genrep_gan_config *c, int max_batch) {
    if (!c) return genrep__fail(GENREP_ERR_ARG, "%s: cfg is NULL", fn);
    if (c->kind != GENREP_GAN_DCGAN && c->kind != GENREP_GAN_CGAN)
        return genrep__fail(GENREP_ERR_ARG, "%s: cfg->kind must be GENREP_GAN_DCGAN or _CGAN, got %d", fn, c->kind);
    if (c->zdim <= 0 || c->zdim > 65536)
        return genrep__fail(GENREP_ERR_ARG, "%s: cfg->zdim must be in 1..65536, got %d", fn, c->zdim);
    if (c->width <= 0 || c->width > 4096)
        return genrep__fail(GENREP_ERR_ARG, "%s: cfg->width must be in 1..4096, got %d", fn, c->width);
    if (c->dwidth <= 0 || c->dwidth > 4096)
        return genrep__fail(GENREP_ERR_ARG, "%s: cfg->dwidth must be in 1..4096, got %d", fn, c->dwidth);
    if (c->kind == GENREP_GAN_CGAN) {
        if (c->n_classes <= 0 || c->n_classes > 1000000)
            return genrep__fail(GENREP_ERR_ARG, "%s: cfg->n_classes must be in 1..1000000, got %d", fn, c->n_classes);
        if (c->embed_dim <= 0 || c->embed_dim > 65536)
            return genrep__fail(GENREP_ERR_ARG, "%s: cfg->embed_dim must be in 1..65536, got %d", fn, c->embed_dim);
    }
    if (max_batch <= 0 || max_batch > (1 << 20))
        return genrep__fail(GENREP_ERR_ARG, "%s: max_batch must be in 1..1048576, got %d", fn, max_batch);
    genrep_gan_config a = genrep__gan_arch(c);
    if (a.first != GENREP_GEN_FIRST_LINEAR && a.first != GENREP_GEN_FIRST_CONVT)
        return genrep__fail(GENREP_ERR_ARG, "%s: cfg->first must be GENREP_GEN_FIRST_LINEAR or _CONVT, got %d", fn, a.first);
    if (a.out_layer != GENREP_GEN_OUT_CONV && a.out_layer != GENREP_GEN_OUT_CONVT)
        return genrep__fail(GENREP_ERR_ARG, "%s: cfg->out_layer must be GENREP_GEN_OUT_CONV or _CONVT, got %d", fn, a.out_layer);
    if (a.out_act < GENREP_GEN_ACT_TANH || a.out_act > GENREP_GEN_ACT_NONE)
        return genrep__fail(GENREP_ERR_ARG, "%s: cfg->out_act must be GENREP_GEN_ACT_TANH, _SIGMOID or _NONE, got %d", fn, a.out_act);
    if (a.out_bias != 0 && a.out_bias != 1)
        return genrep__fail(GENREP_ERR_ARG, "%s: cfg->out_bias must be 0 or 1, got %d", fn, a.out_bias);
    if (a.n_up < 0 || a.n_up > GENREP_GEN_MAX_UP)
        return genrep__fail(GENREP_ERR_ARG, "%s: cfg->n_up must be in 0..%d, got %d", fn, GENREP_GEN_MAX_UP, a.n_up);
    if (a.out_channels <= 0 || a.out_channels > 64)
        return genrep__fail(GENREP_ERR_ARG, "%s: cfg->out_channels must be in 1..64, got %d", fn, a.out_channels);
    if (a.out_size <= 0 || a.out_size > 1024 || !genrep__gen_s0(&a))
        return genrep__fail(GENREP_ERR_ARG, "%s: cfg->out_size %d must be in 1..1024 and a multiple of 2^%d "
                            "(n_up %d up-sampling stages%s)", fn, a.out_size,
                            a.n_up + (a.out_layer == GENREP_GEN_OUT_CONVT), a.n_up,
                            a.out_layer == GENREP_GEN_OUT_CONVT ? " and a convT output layer" : "");
    /* the widest stage has width * 2^n_up channels and the largest activation must stay countable */
    int64_t s0 = genrep__gen_s0(&a);
    if ((int64_t)c->width << a.n_up > 65536 || (int64_t)c->width * a.out_size * a.out_size > ((int64_t)1 << 28)
        || ((int64_t)c->width << a.n_up) * s0 * s0 > ((int64_t)1 << 28))
        return genrep__fail(GENREP_ERR_ARG, "%s: cfg->width %d with n_up %d and out_size %d gives layers too large",
                            fn, c->width, a.n_up, a.out_size);
    return GENREP_OK;
}

/* Append a named tensor to a table; returns its slab offset. Offsets are
   rounded up to 16 floats so every tensor starts 64-byte aligned. */
static size_t genrep__gan_add(genrep_param_info *table, int *n, size_t *total, const char *name,
                              int is_buffer, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    GENREP_ASSERT(*n < GENREP_GAN_MAX_TENSORS);
    genrep_param_info *p = &table[(*n)++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    int64_t d[4] = {d0, d1, d2, d3};
    p->numel = 1;
    for (int i = 0; i < 4; i++) {
        p->shape[i] = i < ndim ? d[i] : 1;
        if (i < ndim) p->numel *= (size_t)d[i];
    }
    p->is_buffer = is_buffer;
    p->offset = (*total + 15) & ~(size_t)15;
    *total = p->offset + p->numel;
    return p->offset;
}

/* Fill a slab region: N(mean, std) from stream `stream` of seed, or a constant. */
static void genrep__gan_fill_normal(float *x, size_t n, float mean, float std, uint64_t seed, uint64_t stream) {
    genrep_rng r;
    genrep_rng_init(&r, seed, stream);
    for (size_t i = 0; i < n; i++) x[i] = mean + std * genrep_rng_normal(&r);
}
static void genrep__gan_fill(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++) x[i] = v;
}

/* Initialise a table's tensors by name suffix (DCGAN, Radford et al. 2016):
   *.weight of conv/linear N(0, 0.02); batchnorm gamma ("bnI.weight")
   N(1, 0.02); "embed.weight" N(0, 1); biases and running_mean 0;
   running_var 1. Tensor i draws from stream i + 1, so adding a tensor at
   the end never changes the others. */
static void genrep__gan_init_table(float *params, const genrep_param_info *table, int n, uint64_t seed) {
    for (int i = 0; i < n; i++) {
        const genrep_param_info *p = &table[i];
        float *x = params + p->offset;
        const char *nm = p->name;
        size_t len = strlen(nm);
#define GENREP__ENDS(s) (len >= sizeof(s) - 1 && !strcmp(nm + len - (sizeof(s) - 1), s))
        if (GENREP__ENDS("running_var")) genrep__gan_fill(x, p->numel, 1.0f);
        else if (GENREP__ENDS("running_mean")) genrep__gan_fill(x, p->numel, 0.0f);
        else if (!strcmp(nm, "embed.weight")) genrep__gan_fill_normal(x, p->numel, 0.0f, 1.0f, seed, (uint64_t)i + 1);
        else if (!strncmp(nm, "bn", 2) && p->ndim == 1 && GENREP__ENDS(".weight"))
            genrep__gan_fill_normal(x, p->numel, 1.0f, 0.02f, seed, (uint64_t)i + 1);
        else if (GENREP__ENDS(".weight")) genrep__gan_fill_normal(x, p->numel, 0.0f, 0.02f, seed, (uint64_t)i + 1);
        else genrep__gan_fill(x, p->numel, 0.0f); /* biases */
#undef GENREP__ENDS
    }
}

static const genrep_param_info *genrep__gan_find(const genrep_param_info *table, int n, const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < n; i++)
        if (!strcmp(table[i].name, name)) return &table[i];
    return NULL;
}

/* ---- generator layout ----
   Tensor roles (poff index): the embedding, the first layer, then per
   stage i (0..n_up) six batchnorm slots -- w (gamma | gain.weight), b
   (beta | gain.bias), bias.weight, bias.bias (cgan only), running_mean,
   running_var -- and the up-sampling convT upI feeding it (i >= 1), then
   the output layer. */
#define GENREP__G_EMBED 0
#define GENREP__G_FIRST 1
#define GENREP__G_BN(i, k) (2 + 7 * (i) + (k))
#define GENREP__G_UP(i) (2 + 7 * (i) + 6)
#define GENREP__G_OUTW (2 + 7 * (GENREP_GEN_MAX_UP + 1))
#define GENREP__G_OUTB (GENREP__G_OUTW + 1)
/* Activation roles (aoff index): per stage i the layer output X, the
   batchnorm output, the ReLU output, the conditional gain and bias (B,C),
   then the per-channel mean and rstd of the batch statistics. */
#define GENREP__GA_EMB 0
#define GENREP__GA_CONV 1
#define GENREP__GA_OUT 2
#define GENREP__GA(i, k) (3 + 7 * (i) + (k))
enum { GENREP__GA_X = 0, GENREP__GA_BNO, GENREP__GA_R, GENREP__GA_GAIN, GENREP__GA_BIAS, GENREP__GA_MEAN, GENREP__GA_RSTD };
#define GENREP__GA_N GENREP__GA(GENREP_GEN_MAX_UP + 1, 0)

/* Channels C_i and side s_i of stage i (0..n_up) of a generator. */
static void genrep__gen_stage(const genrep_gan_config *c, int i, int *C, int *side) {
    genrep_gan_config a = genrep__gan_arch(c);
    *C = c->width << (a.n_up - i);
    *side = genrep__gen_s0(&a) << i;
}

/* Pixels of one output image (C*H*W). */
static size_t genrep__gen_pix(const genrep_gan_config *c) {
    genrep_gan_config a = genrep__gan_arch(c);
    return (size_t)a.out_channels * a.out_size * a.out_size;
}

GENREP_API void genrep_gen_shape(const genrep_gen *g, int *C, int *H, int *W) {
    genrep_gan_config a = genrep__gan_arch(&g->cfg);
    if (C) *C = a.out_channels;
    if (H) *H = a.out_size;
    if (W) *W = a.out_size;
}

GENREP_API double genrep_gen_macs(const genrep_gan_config *cfg) {
    genrep_gan_config a = genrep__gan_arch(cfg);
    int C, s;
    genrep__gen_stage(&a, 0, &C, &s);
    /* linear and convT-from-1x1 cost the same: every output of stage 0 sees all of z */
    double macs = (double)a.zdim * C * s * s, chan = C;
    for (int i = 1; i <= a.n_up; i++) {
        int Cp = C, sp = s;
        genrep__gen_stage(&a, i, &C, &s);
        macs += (double)Cp * C * 16 * sp * sp; /* every input pixel scatters a 4x4 patch */
        chan += C;
    }
    if (a.out_layer == GENREP_GEN_OUT_CONV) macs += (double)C * 9 * a.out_channels * a.out_size * a.out_size;
    else macs += (double)C * a.out_channels * 16 * s * s;
    if (a.kind == GENREP_GAN_CGAN) macs += 2.0 * a.embed_dim * chan;
    return macs;
}

/* The descriptors of the convolutions of g at batch B: up[i] for stage i
   (1..n_up), then the output layer (*oc or *ot by out_layer), and the first
   layer when it is a convT (*first). */
static genrep_status genrep__gen_descs(const genrep_gen *g, int B, genrep_convt2d_desc *first,
                                       genrep_convt2d_desc *up, genrep_conv2d_desc *oc, genrep_convt2d_desc *ot) {
    genrep_gan_config a = genrep__gan_arch(&g->cfg);
    int C, s, Cp, sp;
    genrep__gen_stage(&a, 0, &C, &s);
    genrep_status st = GENREP_OK;
    if (a.first == GENREP_GEN_FIRST_CONVT) st = genrep_convt2d_init(first, B, a.zdim, 1, 1, C, s, s, 1, 0, 0);
    for (int i = 1; !st && i <= a.n_up; i++) {
        Cp = C; sp = s;
        genrep__gen_stage(&a, i, &C, &s);
        st = genrep_convt2d_init(&up[i], B, Cp, sp, sp, C, 4, 4, 2, 1, 0);
    }
    if (st) return st;
    if (a.out_layer == GENREP_GEN_OUT_CONV) return genrep_conv2d_init(oc, B, C, s, s, a.out_channels, 3, 3, 1, 1);
    return genrep_convt2d_init(ot, B, C, s, s, a.out_channels, 4, 4, 2, 1, 0);
}

static genrep_status genrep__gen_layout(genrep_gen *g) {
    genrep_gan_config arch = genrep__gan_arch(&g->cfg);
    const genrep_gan_config *c = &arch;
    int cg = c->kind == GENREP_GAN_CGAN, Z = c->zdim, E = c->embed_dim, nup = c->n_up;
    int C0, s0;
    genrep__gen_stage(c, 0, &C0, &s0);
    genrep_param_info *t = g->table;
    int *n = &g->n_tensors;
    size_t tot = 0;
    *n = 0;
    for (int i = 0; i < GENREP_GAN_MAX_TENSORS; i++) g->poff[i] = (size_t)-1;
    if (cg) g->poff[GENREP__G_EMBED] = genrep__gan_add(t, n, &tot, "embed.weight", 0, 2, c->n_classes, E, 0, 0);
    if (c->first == GENREP_GEN_FIRST_LINEAR) /* fc output (C0*s0*s0) is viewed as (C0, s0, s0), as PyTorch's .view */
        g->poff[GENREP__G_FIRST] = genrep__gan_add(t, n, &tot, "fc.weight", 0, 2, (int64_t)C0 * s0 * s0, Z, 0, 0);
    else /* ConvTranspose2d(Z, C0, s0, 1, 0) weight (Z, C0, s0, s0) */
        g->poff[GENREP__G_FIRST] = genrep__gan_add(t, n, &tot, "fc.weight", 0, 4, Z, C0, s0, s0);
    for (int i = 0; i <= nup; i++) {
        int C, s;
        genrep__gen_stage(c, i, &C, &s);
        char nm[48];
        if (cg) {
            snprintf(nm, sizeof nm, "bn%d.gain.weight", i); g->poff[GENREP__G_BN(i, 0)] = genrep__gan_add(t, n, &tot, nm, 0, 2, C, E, 0, 0);
            snprintf(nm, sizeof nm, "bn%d.gain.bias", i);   g->poff[GENREP__G_BN(i, 1)] = genrep__gan_add(t, n, &tot, nm, 0, 1, C, 0, 0, 0);
            snprintf(nm, sizeof nm, "bn%d.bias.weight", i); g->poff[GENREP__G_BN(i, 2)] = genrep__gan_add(t, n, &tot, nm, 0, 2, C, E, 0, 0);
            snprintf(nm, sizeof nm, "bn%d.bias.bias", i);   g->poff[GENREP__G_BN(i, 3)] = genrep__gan_add(t, n, &tot, nm, 0, 1, C, 0, 0, 0);
        } else {
            snprintf(nm, sizeof nm, "bn%d.weight", i); g->poff[GENREP__G_BN(i, 0)] = genrep__gan_add(t, n, &tot, nm, 0, 1, C, 0, 0, 0);
            snprintf(nm, sizeof nm, "bn%d.bias", i);   g->poff[GENREP__G_BN(i, 1)] = genrep__gan_add(t, n, &tot, nm, 0, 1, C, 0, 0, 0);
        }
        snprintf(nm, sizeof nm, "bn%d.running_mean", i); g->poff[GENREP__G_BN(i, 4)] = genrep__gan_add(t, n, &tot, nm, 1, 1, C, 0, 0, 0);
        snprintf(nm, sizeof nm, "bn%d.running_var", i);  g->poff[GENREP__G_BN(i, 5)] = genrep__gan_add(t, n, &tot, nm, 1, 1, C, 0, 0, 0);
        if (i < nup) { /* upI+1: (C, s, s) -> (C/2, 2s, 2s), weight (C_in, C_out, 4, 4) */
            snprintf(nm, sizeof nm, "up%d.weight", i + 1);
            g->poff[GENREP__G_UP(i + 1)] = genrep__gan_add(t, n, &tot, nm, 0, 4, C, C / 2, 4, 4);
        }
    }
    int CL = c->width, OC = c->out_channels, k = c->out_layer == GENREP_GEN_OUT_CONV ? 3 : 4;
    if (c->out_layer == GENREP_GEN_OUT_CONV) /* Conv2d weight (K, C, 3, 3) */
        g->poff[GENREP__G_OUTW] = genrep__gan_add(t, n, &tot, "out.weight", 0, 4, OC, CL, k, k);
    else /* ConvTranspose2d weight (C_in, C_out, 4, 4) */
        g->poff[GENREP__G_OUTW] = genrep__gan_add(t, n, &tot, "out.weight", 0, 4, CL, OC, k, k);
    if (c->out_bias) g->poff[GENREP__G_OUTB] = genrep__gan_add(t, n, &tot, "out.bias", 0, 1, OC, 0, 0, 0);
    g->n_params = (tot + 15) & ~(size_t)15;

    /* activations: per-batch rows of each role, then the per-channel stats */
    size_t B = (size_t)g->max_batch, a = 0, pix = genrep__gen_pix(c);
    size_t rows[GENREP__GA_N] = {0}, chans[GENREP__GA_N] = {0};
    if (cg) rows[GENREP__GA_EMB] = (size_t)E;
    rows[GENREP__GA_CONV] = rows[GENREP__GA_OUT] = pix;
    for (int i = 0; i <= nup; i++) {
        int C, s;
        genrep__gen_stage(c, i, &C, &s);
        rows[GENREP__GA(i, GENREP__GA_X)] = rows[GENREP__GA(i, GENREP__GA_BNO)] = rows[GENREP__GA(i, GENREP__GA_R)] =
            (size_t)C * s * s;
        if (cg) rows[GENREP__GA(i, GENREP__GA_GAIN)] = rows[GENREP__GA(i, GENREP__GA_BIAS)] = (size_t)C;
        chans[GENREP__GA(i, GENREP__GA_MEAN)] = chans[GENREP__GA(i, GENREP__GA_RSTD)] = (size_t)C;
    }
    for (int r = 0; r < GENREP__GA_N; r++) {
        g->aoff[r] = a;
        a = (a + rows[r] * B + chans[r] + 15) & ~(size_t)15;
    }
    g->n_acts = a;

    /* conv workspace: the largest any of the convolutions needs at max_batch */
    genrep_convt2d_desc first, up[GENREP_GEN_MAX_UP + 1], ot;
    genrep_conv2d_desc oc;
    if (genrep__gen_descs(g, g->max_batch, &first, up, &oc, &ot))
        return genrep__fail(GENREP_ERR_ARG, "genrep_gen_create: the config gives impossible layer sizes");
    size_t w = c->out_layer == GENREP_GEN_OUT_CONV ? genrep_conv2d_workspace(&oc) : genrep_convt2d_workspace(&ot);
    if (c->first == GENREP_GEN_FIRST_CONVT && genrep_convt2d_workspace(&first) > w) w = genrep_convt2d_workspace(&first);
    for (int i = 1; i <= nup; i++)
        if (genrep_convt2d_workspace(&up[i]) > w) w = genrep_convt2d_workspace(&up[i]);
    g->n_ws = w;
    return GENREP_OK;
}

GENREP_API void genrep_gen_init(genrep_gen *g, uint64_t seed) {
    memset(g->params, 0, g->n_params * sizeof(float));
    genrep__gan_init_table(g->params, g->table, g->n_tensors, seed);
}

GENREP_API void genrep_gen_zero_grad(genrep_gen *g) { memset(g->grads, 0, g->n_params * sizeof(float)); }

/* The five slabs of a GAN model (params, grads, acts, dacts, conv
   workspace), zeroed; on failure all are freed and set to NULL, returns 0. */
static int genrep__gan_alloc_slabs(float **params, float **grads, float **acts, float **dacts, float **ws,
                                   size_t n_params, size_t n_acts, size_t n_ws) {
    *params = (float *)genrep_alloc(n_params * sizeof(float));
    *grads = (float *)genrep_alloc(n_params * sizeof(float));
    *acts = (float *)genrep_alloc(n_acts * sizeof(float));
    *dacts = (float *)genrep_alloc(n_acts * sizeof(float));
    *ws = (float *)genrep_alloc((n_ws ? n_ws : 1) * sizeof(float));
    if (!*params || !*grads || !*acts || !*dacts || !*ws) {
        genrep_free(*params); genrep_free(*grads); genrep_free(*acts); genrep_free(*dacts); genrep_free(*ws);
        *params = *grads = *acts = *dacts = *ws = NULL;
        return 0;
    }
    memset(*grads, 0, n_params * sizeof(float));
    memset(*acts, 0, n_acts * sizeof(float));
    return 1;
}

GENREP_API genrep_status genrep_gen_create(genrep_gen *g, const genrep_gan_config *cfg, int max_batch,
                                           uint64_t seed) {
    GENREP__CHECK_PTR(g);
    memset(g, 0, sizeof *g);
    genrep_status st = genrep__gan_check_config(__func__, cfg, max_batch);
    if (st) return st;
    g->cfg = genrep__gan_arch(cfg);
    g->max_batch = max_batch;
    if ((st = genrep__gen_layout(g))) return st;
    if (!genrep__gan_alloc_slabs(&g->params, &g->grads, &g->acts, &g->dacts, &g->ws,
                                 g->n_params, g->n_acts, g->n_ws)) {
        size_t need = (2 * g->n_params + 2 * g->n_acts + g->n_ws) * sizeof(float);
        genrep_gen_free(g);
        return genrep__fail(GENREP_ERR_NOMEM, "%s: cannot allocate %zu bytes (max_batch %d)", __func__, need, max_batch);
    }
    genrep_gen_init(g, seed);
    return GENREP_OK;
}

GENREP_API void genrep_gen_free(genrep_gen *g) {
    if (!g) return;
    genrep_free(g->params); genrep_free(g->grads);
    genrep_free(g->acts); genrep_free(g->dacts); genrep_free(g->ws);
    memset(g, 0, sizeof *g);
}

GENREP_API const genrep_param_info *genrep_gen_param(const genrep_gen *g, const char *name) {
    return g ? genrep__gan_find(g->table, g->n_tensors, name) : NULL;
}

GENREP_API float *genrep_gen_output(const genrep_gen *g) { return g->acts + g->aoff[GENREP__GA_OUT]; }

static genrep_status genrep__gan_check_labels(const char *fn, const int32_t *y, int B, int K) {
    if (!y) return genrep__fail(GENREP_ERR_ARG, "%s: the conditional model needs labels y", fn);
    for (int b = 0; b < B; b++)
        if (y[b] < 0 || y[b] >= K)
            return genrep__fail(GENREP_ERR_ARG, "%s: label y[%d] = %d is outside [0, %d)", fn, b, (int)y[b], K);
    return GENREP_OK;
}

#define GENREP__GAN_TRY(call) do { genrep_status genrep__st_ = (call); if (genrep__st_) return genrep__st_; } while (0)

GENREP_API genrep_status genrep_gen_forward(genrep_gen *g, const float *z, const int32_t *y, int B, int training) {
    GENREP__CHECK_PTR(g);
    GENREP__CHECK_PTR(z);
    if (B <= 0 || B > g->max_batch)
        return genrep__fail(GENREP_ERR_ARG, "%s: batch B=%d must be in 1..max_batch=%d", __func__, B, g->max_batch);
    const genrep_gan_config *c = &g->cfg;
    int cg = c->kind == GENREP_GAN_CGAN, E = c->embed_dim, nup = c->n_up;
    if (cg) GENREP__GAN_TRY(genrep__gan_check_labels(__func__, y, B, c->n_classes));
    float *P = g->params, *A = g->acts;
    size_t pix = genrep__gen_pix(c);
    g->last_B = B; g->last_training = training; g->last_z = z; g->last_y = cg ? y : NULL;
    genrep_convt2d_desc first, up[GENREP_GEN_MAX_UP + 1], ot;
    genrep_conv2d_desc oc;
    GENREP__GAN_TRY(genrep__gen_descs(g, B, &first, up, &oc, &ot));
#define GENREP__GAO(i, k) (A + g->aoff[GENREP__GA(i, k)])

    /* class conditioning: e = embed[y]; per batchnorm gain, bias (B,C) = linear(e) */
    if (cg) {
        float *e = A + g->aoff[GENREP__GA_EMB];
        GENREP__GAN_TRY(genrep_embedding_forward(e, y, P + g->poff[GENREP__G_EMBED], B, c->n_classes, E));
        for (int i = 0; i <= nup; i++) {
            int C, s;
            genrep__gen_stage(c, i, &C, &s);
            GENREP__GAN_TRY(genrep_linear_forward(GENREP__GAO(i, GENREP__GA_GAIN), e, P + g->poff[GENREP__G_BN(i, 0)],
                                                  P + g->poff[GENREP__G_BN(i, 1)], B, E, C));
            GENREP__GAN_TRY(genrep_linear_forward(GENREP__GAO(i, GENREP__GA_BIAS), e, P + g->poff[GENREP__G_BN(i, 2)],
                                                  P + g->poff[GENREP__G_BN(i, 3)], B, E, C));
        }
    }
    /* first layer: (B,Z) -> (B, C0, s0, s0) */
    int C0, s0;
    genrep__gen_stage(c, 0, &C0, &s0);
    if (c->first == GENREP_GEN_FIRST_LINEAR)
        GENREP__GAN_TRY(genrep_linear_forward(GENREP__GAO(0, GENREP__GA_X), z, P + g->poff[GENREP__G_FIRST], NULL, B,
                                              c->zdim, C0 * s0 * s0));
    else /* z viewed as (B, Z, 1, 1) */
        GENREP__GAN_TRY(genrep_convt2d_forward(GENREP__GAO(0, GENREP__GA_X), g->ws, z, P + g->poff[GENREP__G_FIRST],
                                               NULL, &first));
    for (int i = 0; i <= nup; i++) {
        int C, s;
        genrep__gen_stage(c, i, &C, &s);
        int HW = s * s;
        float *x = GENREP__GAO(i, GENREP__GA_X), *bn = GENREP__GAO(i, GENREP__GA_BNO), *r = GENREP__GAO(i, GENREP__GA_R);
        float *mean = GENREP__GAO(i, GENREP__GA_MEAN), *rstd = GENREP__GAO(i, GENREP__GA_RSTD);
        float *rm = P + g->poff[GENREP__G_BN(i, 4)], *rv = P + g->poff[GENREP__G_BN(i, 5)];
        if (cg)
            GENREP__GAN_TRY(genrep_condbn_forward(bn, mean, rstd, rm, rv, x, GENREP__GAO(i, GENREP__GA_GAIN),
                                                  GENREP__GAO(i, GENREP__GA_BIAS), B, C, HW,
                                                  GENREP__GAN_BN_EPS, GENREP__GAN_BN_MOMENTUM, training));
        else
            GENREP__GAN_TRY(genrep_batchnorm_forward(bn, mean, rstd, rm, rv, x, P + g->poff[GENREP__G_BN(i, 0)],
                                                     P + g->poff[GENREP__G_BN(i, 1)], B, C, HW, GENREP__GAN_BN_EPS,
                                                     GENREP__GAN_BN_MOMENTUM, training));
        GENREP__GAN_TRY(genrep_relu_forward(r, bn, (size_t)B * C * HW));
        if (i < nup) /* up-sample x2: (B,C,s,s) -> (B,C/2,2s,2s) */
            GENREP__GAN_TRY(genrep_convt2d_forward(GENREP__GAO(i + 1, GENREP__GA_X), g->ws, r,
                                                   P + g->poff[GENREP__G_UP(i + 1)], NULL, &up[i + 1]));
    }
    const float *ob = c->out_bias ? P + g->poff[GENREP__G_OUTB] : NULL;
    float *conv = A + g->aoff[GENREP__GA_CONV], *out = A + g->aoff[GENREP__GA_OUT];
    if (c->out_layer == GENREP_GEN_OUT_CONV)
        GENREP__GAN_TRY(genrep_conv2d_forward(conv, g->ws, GENREP__GAO(nup, GENREP__GA_R), P + g->poff[GENREP__G_OUTW],
                                              ob, &oc));
    else
        GENREP__GAN_TRY(genrep_convt2d_forward(conv, g->ws, GENREP__GAO(nup, GENREP__GA_R), P + g->poff[GENREP__G_OUTW],
                                               ob, &ot));
    size_t n = (size_t)B * pix;
    if (c->out_act == GENREP_GEN_ACT_TANH) GENREP__GAN_TRY(genrep_tanh_forward(out, conv, n));
    else if (c->out_act == GENREP_GEN_ACT_SIGMOID) GENREP__GAN_TRY(genrep_sigmoid_forward(out, conv, n));
    else memcpy(out, conv, n * sizeof(float));
#undef GENREP__GAO
    return GENREP_OK;
}

GENREP_API genrep_status genrep_gen_backward(genrep_gen *g, float *dz, const float *dout) {
    GENREP__CHECK_PTR(g);
    GENREP__CHECK_PTR(dout);
    int B = g->last_B, tr = g->last_training;
    if (B <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: no forward pass to differentiate", __func__);
    const genrep_gan_config *c = &g->cfg;
    int cg = c->kind == GENREP_GAN_CGAN, E = c->embed_dim, nup = c->n_up;
    float *P = g->params, *G = g->grads, *A = g->acts, *D = g->dacts;
    size_t pix = genrep__gen_pix(c), n = (size_t)B * pix;
    genrep_convt2d_desc first, up[GENREP_GEN_MAX_UP + 1], ot;
    genrep_conv2d_desc oc;
    GENREP__GAN_TRY(genrep__gen_descs(g, B, &first, up, &oc, &ot));
#define GENREP__GAO(i, k) (A + g->aoff[GENREP__GA(i, k)])
#define GENREP__GDO(i, k) (D + g->aoff[GENREP__GA(i, k)])
    /* every layer backward accumulates, so start the activation gradients at 0 */
    memset(D, 0, g->n_acts * sizeof(float));

    float *dconv = D + g->aoff[GENREP__GA_CONV];
    if (c->out_act == GENREP_GEN_ACT_TANH)
        GENREP__GAN_TRY(genrep_tanh_backward(dconv, dout, A + g->aoff[GENREP__GA_OUT], n));
    else if (c->out_act == GENREP_GEN_ACT_SIGMOID)
        GENREP__GAN_TRY(genrep_sigmoid_backward(dconv, dout, A + g->aoff[GENREP__GA_OUT], n));
    else
        GENREP__GAN_TRY(genrep_add_backward(dconv, NULL, dout, n));
    float *dob = c->out_bias ? G + g->poff[GENREP__G_OUTB] : NULL;
    if (c->out_layer == GENREP_GEN_OUT_CONV)
        GENREP__GAN_TRY(genrep_conv2d_backward(GENREP__GDO(nup, GENREP__GA_R), G + g->poff[GENREP__G_OUTW], dob, g->ws,
                                               dconv, GENREP__GAO(nup, GENREP__GA_R), P + g->poff[GENREP__G_OUTW], &oc));
    else
        GENREP__GAN_TRY(genrep_convt2d_backward(GENREP__GDO(nup, GENREP__GA_R), G + g->poff[GENREP__G_OUTW], dob, g->ws,
                                                dconv, GENREP__GAO(nup, GENREP__GA_R), P + g->poff[GENREP__G_OUTW], &ot));
    for (int i = nup; i >= 0; i--) {
        int C, s;
        genrep__gen_stage(c, i, &C, &s);
        int HW = s * s;
        if (i < nup)
            GENREP__GAN_TRY(genrep_convt2d_backward(GENREP__GDO(i, GENREP__GA_R), G + g->poff[GENREP__G_UP(i + 1)], NULL,
                                                    g->ws, GENREP__GDO(i + 1, GENREP__GA_X), GENREP__GAO(i, GENREP__GA_R),
                                                    P + g->poff[GENREP__G_UP(i + 1)], &up[i + 1]));
        GENREP__GAN_TRY(genrep_relu_backward(GENREP__GDO(i, GENREP__GA_BNO), GENREP__GDO(i, GENREP__GA_R),
                                             GENREP__GAO(i, GENREP__GA_BNO), (size_t)B * C * HW));
        const float *mean = GENREP__GAO(i, GENREP__GA_MEAN), *rstd = GENREP__GAO(i, GENREP__GA_RSTD);
        if (cg)
            GENREP__GAN_TRY(genrep_condbn_backward(GENREP__GDO(i, GENREP__GA_X), GENREP__GDO(i, GENREP__GA_GAIN),
                                                   GENREP__GDO(i, GENREP__GA_BIAS), GENREP__GDO(i, GENREP__GA_BNO),
                                                   GENREP__GAO(i, GENREP__GA_X), GENREP__GAO(i, GENREP__GA_GAIN),
                                                   mean, rstd, B, C, HW, tr));
        else
            GENREP__GAN_TRY(genrep_batchnorm_backward(GENREP__GDO(i, GENREP__GA_X), G + g->poff[GENREP__G_BN(i, 0)],
                                                      G + g->poff[GENREP__G_BN(i, 1)], GENREP__GDO(i, GENREP__GA_BNO),
                                                      GENREP__GAO(i, GENREP__GA_X), P + g->poff[GENREP__G_BN(i, 0)],
                                                      mean, rstd, B, C, HW, tr));
    }
    int C0, s0;
    genrep__gen_stage(c, 0, &C0, &s0);
    if (c->first == GENREP_GEN_FIRST_LINEAR)
        GENREP__GAN_TRY(genrep_linear_backward(dz, G + g->poff[GENREP__G_FIRST], NULL, GENREP__GDO(0, GENREP__GA_X),
                                               g->last_z, P + g->poff[GENREP__G_FIRST], B, c->zdim, C0 * s0 * s0));
    else
        GENREP__GAN_TRY(genrep_convt2d_backward(dz, G + g->poff[GENREP__G_FIRST], NULL, g->ws,
                                                GENREP__GDO(0, GENREP__GA_X), g->last_z, P + g->poff[GENREP__G_FIRST],
                                                &first));
    if (cg) {
        float *e = A + g->aoff[GENREP__GA_EMB], *de = D + g->aoff[GENREP__GA_EMB];
        for (int i = 0; i <= nup; i++) {
            int C, s;
            genrep__gen_stage(c, i, &C, &s);
            GENREP__GAN_TRY(genrep_linear_backward(de, G + g->poff[GENREP__G_BN(i, 0)], G + g->poff[GENREP__G_BN(i, 1)],
                                                   GENREP__GDO(i, GENREP__GA_GAIN), e, P + g->poff[GENREP__G_BN(i, 0)],
                                                   B, E, C));
            GENREP__GAN_TRY(genrep_linear_backward(de, G + g->poff[GENREP__G_BN(i, 2)], G + g->poff[GENREP__G_BN(i, 3)],
                                                   GENREP__GDO(i, GENREP__GA_BIAS), e, P + g->poff[GENREP__G_BN(i, 2)],
                                                   B, E, C));
        }
        GENREP__GAN_TRY(genrep_embedding_backward(G + g->poff[GENREP__G_EMBED], de, g->last_y, B, c->n_classes, E));
    }
#undef GENREP__GAO
#undef GENREP__GDO
    return GENREP_OK;
}

GENREP_API genrep_status genrep_gen_render(genrep_gen *g, float *out, const float *z, const int32_t *y, int B) {
    GENREP__CHECK_PTR(g);
    GENREP__CHECK_PTR(out);
    GENREP__CHECK_PTR(z);
    GENREP__CHECK_NONNEG(B);
    size_t pix = genrep__gen_pix(&g->cfg);
    for (int b0 = 0; b0 < B; b0 += g->max_batch) {
        int nb = B - b0 < g->max_batch ? B - b0 : g->max_batch;
        GENREP__GAN_TRY(genrep_gen_forward(g, z + (size_t)b0 * g->cfg.zdim, y ? y + b0 : NULL, nb, 0));
        memcpy(out + (size_t)b0 * pix, genrep_gen_output(g), (size_t)nb * pix * sizeof(float));
    }
    g->last_B = 0; /* z, y were only borrowed: nothing to differentiate */
    return GENREP_OK;
}

/* ---- discriminator layout ---- */
enum { GENREP__D_C1W = 0, GENREP__D_C1B, GENREP__D_C2W, GENREP__D_C2B, GENREP__D_FCW, GENREP__D_FCB, GENREP__D_EMBED };
enum { GENREP__DA_C1 = 0, GENREP__DA_L1, GENREP__DA_C2, GENREP__DA_L2, GENREP__DA_EMB, GENREP__DA_DL, GENREP__DA_N };

static genrep_status genrep__disc_layout(genrep_disc *d) {
    const genrep_gan_config *c = &d->cfg;
    int D1 = c->dwidth, D2 = 2 * c->dwidth, F = D2 * 49;
    genrep_param_info *t = d->table;
    int *n = &d->n_tensors;
    size_t tot = 0;
    *n = 0;
    for (int i = 0; i < GENREP_GAN_MAX_TENSORS; i++) d->poff[i] = (size_t)-1;
    d->poff[GENREP__D_C1W] = genrep__gan_add(t, n, &tot, "conv1.weight", 0, 4, D1, 1, 4, 4);
    d->poff[GENREP__D_C1B] = genrep__gan_add(t, n, &tot, "conv1.bias", 0, 1, D1, 0, 0, 0);
    d->poff[GENREP__D_C2W] = genrep__gan_add(t, n, &tot, "conv2.weight", 0, 4, D2, D1, 4, 4);
    d->poff[GENREP__D_C2B] = genrep__gan_add(t, n, &tot, "conv2.bias", 0, 1, D2, 0, 0, 0);
    d->poff[GENREP__D_FCW] = genrep__gan_add(t, n, &tot, "fc.weight", 0, 2, 1, F, 0, 0);
    d->poff[GENREP__D_FCB] = genrep__gan_add(t, n, &tot, "fc.bias", 0, 1, 1, 0, 0, 0);
    if (c->kind == GENREP_GAN_CGAN)
        d->poff[GENREP__D_EMBED] = genrep__gan_add(t, n, &tot, "embed.weight", 0, 2, c->n_classes, F, 0, 0);
    d->n_params = (tot + 15) & ~(size_t)15;
    size_t B = (size_t)d->max_batch, rows[GENREP__DA_N] = {(size_t)D1 * 196, (size_t)D1 * 196, (size_t)F, (size_t)F,
                                                           c->kind == GENREP_GAN_CGAN ? (size_t)F : 0, 1};
    size_t a = 0;
    for (int r = 0; r < GENREP__DA_N; r++) {
        d->aoff[r] = a;
        a = (a + rows[r] * B + 15) & ~(size_t)15;
    }
    d->n_acts = a;
    genrep_conv2d_desc d1, d2;
    if (genrep_conv2d_init(&d1, d->max_batch, 1, 28, 28, D1, 4, 4, 2, 1)
        || genrep_conv2d_init(&d2, d->max_batch, D1, 14, 14, D2, 4, 4, 2, 1)) {
        return genrep__fail(GENREP_ERR_ARG, "genrep_disc_create: the config gives impossible layer sizes");
    }
    size_t w1 = genrep_conv2d_workspace(&d1), w2 = genrep_conv2d_workspace(&d2);
    d->n_ws = w1 > w2 ? w1 : w2;
    return GENREP_OK;
}

GENREP_API void genrep_disc_init(genrep_disc *d, uint64_t seed) {
    memset(d->params, 0, d->n_params * sizeof(float));
    genrep__gan_init_table(d->params, d->table, d->n_tensors, seed);
    if (d->cfg.kind == GENREP_GAN_CGAN) {
        /* the projection embedding starts small like the other weights
           (N(0,1) over F = 2dch*49 features would swamp the logit) */
        const genrep_param_info *p = &d->table[d->n_tensors - 1];
        genrep__gan_fill_normal(d->params + p->offset, p->numel, 0.0f, 0.02f, seed, (uint64_t)d->n_tensors);
    }
}

GENREP_API void genrep_disc_zero_grad(genrep_disc *d) { memset(d->grads, 0, d->n_params * sizeof(float)); }

GENREP_API genrep_status genrep_disc_create(genrep_disc *d, const genrep_gan_config *cfg, int max_batch,
                                            uint64_t seed) {
    GENREP__CHECK_PTR(d);
    memset(d, 0, sizeof *d);
    genrep_status st = genrep__gan_check_config(__func__, cfg, max_batch);
    if (st) return st;
    if (!genrep__gan_is_default_arch(cfg))
        return genrep__fail(GENREP_ERR_UNSUPPORTED, "%s: the discriminator takes the default generator's 28x28x1 "
                            "images only (cfg has out_size %d, out_channels %d)", __func__, cfg->out_size, cfg->out_channels);
    d->cfg = genrep__gan_arch(cfg);
    d->max_batch = max_batch;
    if ((st = genrep__disc_layout(d))) return st;
    if (!genrep__gan_alloc_slabs(&d->params, &d->grads, &d->acts, &d->dacts, &d->ws,
                                 d->n_params, d->n_acts, d->n_ws)) {
        size_t need = (2 * d->n_params + 2 * d->n_acts + d->n_ws) * sizeof(float);
        genrep_disc_free(d);
        return genrep__fail(GENREP_ERR_NOMEM, "%s: cannot allocate %zu bytes (max_batch %d)", __func__, need, max_batch);
    }
    genrep_disc_init(d, seed);
    return GENREP_OK;
}

GENREP_API void genrep_disc_free(genrep_disc *d) {
    if (!d) return;
    genrep_free(d->params); genrep_free(d->grads);
    genrep_free(d->acts); genrep_free(d->dacts); genrep_free(d->ws);
    memset(d, 0, sizeof *d);
}

GENREP_API const genrep_param_info *genrep_disc_param(const genrep_disc *d, const char *name) {
    return d ? genrep__gan_find(d->table, d->n_tensors, name) : NULL;
}

GENREP_API genrep_status genrep_disc_forward(genrep_disc *d, float *logits, const float *x, const int32_t *y, int B) {
    GENREP__CHECK_PTR(d);
    GENREP__CHECK_PTR(logits);
    GENREP__CHECK_PTR(x);
    if (B <= 0 || B > d->max_batch)
        return genrep__fail(GENREP_ERR_ARG, "%s: batch B=%d must be in 1..max_batch=%d", __func__, B, d->max_batch);
    const genrep_gan_config *c = &d->cfg;
    int cg = c->kind == GENREP_GAN_CGAN, D1 = c->dwidth, D2 = 2 * c->dwidth, F = D2 * 49;
    if (cg) GENREP__GAN_TRY(genrep__gan_check_labels(__func__, y, B, c->n_classes));
    float *P = d->params, *A = d->acts;
    d->last_B = B; d->last_x = x; d->last_y = cg ? y : NULL;
    genrep_conv2d_desc d1, d2;
    GENREP__GAN_TRY(genrep_conv2d_init(&d1, B, 1, 28, 28, D1, 4, 4, 2, 1));
    GENREP__GAN_TRY(genrep_conv2d_init(&d2, B, D1, 14, 14, D2, 4, 4, 2, 1));
    GENREP__GAN_TRY(genrep_conv2d_forward(A + d->aoff[GENREP__DA_C1], d->ws, x, P + d->poff[GENREP__D_C1W],
                                          P + d->poff[GENREP__D_C1B], &d1));
    GENREP__GAN_TRY(genrep_leaky_relu_forward(A + d->aoff[GENREP__DA_L1], A + d->aoff[GENREP__DA_C1], GENREP__GAN_LEAK,
                                              (size_t)B * D1 * 196));
    GENREP__GAN_TRY(genrep_conv2d_forward(A + d->aoff[GENREP__DA_C2], d->ws, A + d->aoff[GENREP__DA_L1],
                                          P + d->poff[GENREP__D_C2W], P + d->poff[GENREP__D_C2B], &d2));
    float *h = A + d->aoff[GENREP__DA_L2];
    GENREP__GAN_TRY(genrep_leaky_relu_forward(h, A + d->aoff[GENREP__DA_C2], GENREP__GAN_LEAK, (size_t)B * F));
    GENREP__GAN_TRY(genrep_linear_forward(logits, h, P + d->poff[GENREP__D_FCW], P + d->poff[GENREP__D_FCB], B, F, 1));
    if (cg) {
        /* projection: logit += <embed[y], h> */
        float *e = A + d->aoff[GENREP__DA_EMB];
        GENREP__GAN_TRY(genrep_embedding_forward(e, y, P + d->poff[GENREP__D_EMBED], B, c->n_classes, F));
        for (int b = 0; b < B; b++) {
            float s = 0.0f;
            const float *eb = e + (size_t)b * F, *hb = h + (size_t)b * F;
            for (int f = 0; f < F; f++) s += eb[f] * hb[f];
            logits[b] += s;
        }
    }
    return GENREP_OK;
}

GENREP_API genrep_status genrep_disc_backward(genrep_disc *d, float *dx, const float *dlogits, int param_grads) {
    GENREP__CHECK_PTR(d);
    GENREP__CHECK_PTR(dlogits);
    int B = d->last_B;
    if (B <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: no forward pass to differentiate", __func__);
    const genrep_gan_config *c = &d->cfg;
    int cg = c->kind == GENREP_GAN_CGAN, D1 = c->dwidth, D2 = 2 * c->dwidth, F = D2 * 49;
    float *P = d->params, *G = param_grads ? d->grads : NULL, *A = d->acts, *DA = d->dacts;
#define GENREP__DG(role) (G ? G + d->poff[role] : NULL)
    memset(DA, 0, d->n_acts * sizeof(float));
    float *h = A + d->aoff[GENREP__DA_L2], *dh = DA + d->aoff[GENREP__DA_L2];
    GENREP__GAN_TRY(genrep_linear_backward(dh, GENREP__DG(GENREP__D_FCW), GENREP__DG(GENREP__D_FCB), dlogits, h,
                                           P + d->poff[GENREP__D_FCW], B, F, 1));
    if (cg) {
        const float *e = A + d->aoff[GENREP__DA_EMB];
        float *de = DA + d->aoff[GENREP__DA_EMB];
        for (int b = 0; b < B; b++) {
            float dl = dlogits[b];
            const float *eb = e + (size_t)b * F, *hb = h + (size_t)b * F;
            float *dhb = dh + (size_t)b * F, *deb = de + (size_t)b * F;
            for (int f = 0; f < F; f++) { dhb[f] += dl * eb[f]; deb[f] = dl * hb[f]; }
        }
        if (G) GENREP__GAN_TRY(genrep_embedding_backward(G + d->poff[GENREP__D_EMBED], de, d->last_y, B, c->n_classes, F));
    }
    genrep_conv2d_desc d1, d2;
    GENREP__GAN_TRY(genrep_conv2d_init(&d1, B, 1, 28, 28, D1, 4, 4, 2, 1));
    GENREP__GAN_TRY(genrep_conv2d_init(&d2, B, D1, 14, 14, D2, 4, 4, 2, 1));
    GENREP__GAN_TRY(genrep_leaky_relu_backward(DA + d->aoff[GENREP__DA_C2], dh, A + d->aoff[GENREP__DA_C2],
                                               GENREP__GAN_LEAK, (size_t)B * F));
    GENREP__GAN_TRY(genrep_conv2d_backward(DA + d->aoff[GENREP__DA_L1], GENREP__DG(GENREP__D_C2W), GENREP__DG(GENREP__D_C2B),
                                           d->ws, DA + d->aoff[GENREP__DA_C2], A + d->aoff[GENREP__DA_L1],
                                           P + d->poff[GENREP__D_C2W], &d2));
    if (!dx && !G) return GENREP_OK;
    GENREP__GAN_TRY(genrep_leaky_relu_backward(DA + d->aoff[GENREP__DA_C1], DA + d->aoff[GENREP__DA_L1],
                                               A + d->aoff[GENREP__DA_C1], GENREP__GAN_LEAK, (size_t)B * D1 * 196));
    GENREP__GAN_TRY(genrep_conv2d_backward(dx, GENREP__DG(GENREP__D_C1W), GENREP__DG(GENREP__D_C1B), d->ws,
                                           DA + d->aoff[GENREP__DA_C1], d->last_x, P + d->poff[GENREP__D_C1W], &d1));
#undef GENREP__DG
    return GENREP_OK;
}

/* [GANLOSS] softplus(x) = log(1 + e^x), computed without overflow. */
static double genrep__softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double genrep__sigmoid(double x) {
    return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

GENREP_API genrep_status genrep_gan_loss(float *loss, float *dlogits, const float *logits, int B,
                                         genrep_gan_loss_kind kind, genrep_gan_role role) {
    GENREP__CHECK_PTR(loss);
    GENREP__CHECK_PTR(logits);
    GENREP__CHECK_POS(B);
    if (kind != GENREP_GAN_LOSS_NS && kind != GENREP_GAN_LOSS_HINGE)
        return genrep__fail(GENREP_ERR_ARG, "%s: unknown loss kind %d", __func__, (int)kind);
    if (role != GENREP_GAN_D_REAL && role != GENREP_GAN_D_FAKE && role != GENREP_GAN_G)
        return genrep__fail(GENREP_ERR_ARG, "%s: unknown role %d", __func__, (int)role);
    double sum = 0.0, inv = 1.0 / B;
    for (int b = 0; b < B; b++) {
        double l = logits[b], f, df;
        if (kind == GENREP_GAN_LOSS_NS) {
            /* real / G: softplus(-l), d = -sigmoid(-l); fake: softplus(l), d = sigmoid(l) */
            if (role == GENREP_GAN_D_FAKE) { f = genrep__softplus(l); df = genrep__sigmoid(l); }
            else { f = genrep__softplus(-l); df = -genrep__sigmoid(-l); }
        } else if (role == GENREP_GAN_D_REAL) { f = l < 1 ? 1 - l : 0; df = l < 1 ? -1 : 0; }
        else if (role == GENREP_GAN_D_FAKE) { f = l > -1 ? 1 + l : 0; df = l > -1 ? 1 : 0; }
        else { f = -l; df = -1; }
        sum += f;
        if (dlogits) dlogits[b] = (float)(df * inv);
    }
    *loss = (float)(sum * inv);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_gan_adam_step(float *params, float *m, float *v, const float *grads,
                                              const genrep_param_info *table, int n_tensors,
                                              const genrep_adam_config *cfg, int64_t step) {
    GENREP__CHECK_PTR(table);
    for (int i = 0; i < n_tensors; i++) {
        const genrep_param_info *p = &table[i];
        if (p->is_buffer) continue;
        GENREP__GAN_TRY(genrep_adam_step(params + p->offset, m + p->offset, v + p->offset, grads + p->offset,
                                         p->numel, cfg, step));
    }
    return GENREP_OK;
}

/* ---------------------------------------------------------------- [GANIO] */

#define GENREP__GAN_META_N 6

/* The GAN metadata pairs of a config: kv[0 .. 2*GENREP__GAN_META_N). */
static void genrep__gan_meta(const genrep_gan_config *c, char vals[][32], const char **kv) {
    static const char *keys[GENREP__GAN_META_N] = {"genrep.model", "genrep.zdim", "genrep.width",
                                                   "genrep.dwidth", "genrep.n_classes", "genrep.embed_dim"};
    snprintf(vals[0], 32, "%s", c->kind == GENREP_GAN_CGAN ? "cgan" : "dcgan");
    snprintf(vals[1], 32, "%d", c->zdim);
    snprintf(vals[2], 32, "%d", c->width);
    snprintf(vals[3], 32, "%d", c->dwidth);
    snprintf(vals[4], 32, "%d", c->n_classes);
    snprintf(vals[5], 32, "%d", c->embed_dim);
    for (int i = 0; i < GENREP__GAN_META_N; i++) { kv[2 * i] = keys[i]; kv[2 * i + 1] = vals[i]; }
}

/* The generator architecture's metadata pairs (written only when it is not
   the default 28x28x1 one, so the project's own files keep their bytes). */
#define GENREP__GEN_ARCH_META_N 7
static const char *const genrep__gen_arch_keys[GENREP__GEN_ARCH_META_N] = {
    "genrep.first", "genrep.n_up", "genrep.out_size", "genrep.out_channels",
    "genrep.out_layer", "genrep.out_bias", "genrep.out_act"};
static void genrep__gen_arch_meta(const genrep_gan_config *c, char vals[][32], const char **kv) {
    static const char *acts[3] = {"tanh", "sigmoid", "none"};
    snprintf(vals[0], 32, "%s", c->first == GENREP_GEN_FIRST_CONVT ? "convt" : "linear");
    snprintf(vals[1], 32, "%d", c->n_up);
    snprintf(vals[2], 32, "%d", c->out_size);
    snprintf(vals[3], 32, "%d", c->out_channels);
    snprintf(vals[4], 32, "%s", c->out_layer == GENREP_GEN_OUT_CONVT ? "convt" : "conv");
    snprintf(vals[5], 32, "%d", c->out_bias);
    snprintf(vals[6], 32, "%s", acts[c->out_act]);
    for (int i = 0; i < GENREP__GEN_ARCH_META_N; i++) { kv[2 * i] = genrep__gen_arch_keys[i]; kv[2 * i + 1] = vals[i]; }
}

GENREP_API genrep_status genrep_gen_save(const genrep_gen *g, const char *path,
                                         const char *const *extra_kv, int n_extra) {
    GENREP__CHECK_PTR(g); GENREP__CHECK_PTR(path); GENREP__CHECK_NONNEG(n_extra);
    if (n_extra > 0 && !extra_kv) return genrep__fail(GENREP_ERR_ARG, "genrep_gen_save: extra_kv is NULL");
    if (n_extra > 32) return genrep__fail(GENREP_ERR_ARG, "genrep_gen_save: at most 32 extra metadata pairs");
    char vals[GENREP__GAN_META_N + GENREP__GEN_ARCH_META_N][32];
    const char *kv[2 * (GENREP__GAN_META_N + GENREP__GEN_ARCH_META_N + 32)];
    genrep__gan_meta(&g->cfg, vals, kv);
    int nm = GENREP__GAN_META_N;
    if (!genrep__gan_is_default_arch(&g->cfg)) {
        genrep__gen_arch_meta(&g->cfg, vals + nm, kv + 2 * nm);
        nm += GENREP__GEN_ARCH_META_N;
    }
    for (int i = 0; i < 2 * n_extra; i++) kv[2 * nm + i] = extra_kv[i];
    genrep_st_entry e[GENREP_GAN_MAX_TENSORS];
    memset(e, 0, sizeof e);
    for (int i = 0; i < g->n_tensors; i++) {
        e[i].name = g->table[i].name;
        e[i].ndim = g->table[i].ndim;
        for (int d = 0; d < g->table[i].ndim; d++) e[i].shape[d] = g->table[i].shape[d];
        e[i].data = g->params + g->table[i].offset;
    }
    return genrep_st_write(path, e, g->n_tensors, kv, nm + n_extra);
}

/* A metadata value that must be a positive integer (decimal digits, at
   most 2^24); what names the model in the message ("generator", "BigGAN"). */
static genrep_status genrep__meta_posint(const genrep_st *st, const char *what, const char *path, const char *key,
                                         int *out) {
    const char *v = genrep_st_meta(st, key);
    long x = 0;
    int ok = v && *v;
    for (const char *p = v; ok && *p; p++) {
        if (*p < '0' || *p > '9' || x > (1L << 24)) ok = 0;
        else x = x * 10 + (*p - '0');
    }
    if (!ok || x <= 0)
        return genrep__fail(GENREP_ERR_FORMAT, "%s '%s': metadata %s is %s%s%s, expected a positive integer",
                            what, path, key, v ? "'" : "missing", v ? v : "", v ? "'" : "");
    *out = (int)x;
    return GENREP_OK;
}

static genrep_status genrep__gen_meta_int(const genrep_st *st, const char *path, const char *key, int *out) {
    return genrep__meta_posint(st, "generator", path, key, out);
}

/* The GAN config of a weights file's metadata (genrep.model, genrep.zdim ...). */
static genrep_status genrep__gan_config_from_file(genrep_gan_config *c, const genrep_st *st, const char *path) {
    genrep_status s;
    const char *m = genrep_st_meta(st, "genrep.model");
    if (!m || (strcmp(m, "dcgan") && strcmp(m, "cgan"))) {
        s = genrep__fail(GENREP_ERR_FORMAT, "generator '%s': metadata genrep.model is %s%s%s, expected dcgan or cgan "
                         "(is this a generator weights file?)", path, m ? "'" : "missing", m ? m : "", m ? "'" : "");
    } else {
        genrep_gan_config_default(c, !strcmp(m, "cgan") ? GENREP_GAN_CGAN : GENREP_GAN_DCGAN);
        s = genrep__gen_meta_int(st, path, "genrep.zdim", &c->zdim);
        if (!s) s = genrep__gen_meta_int(st, path, "genrep.width", &c->width);
        if (!s) s = genrep__gen_meta_int(st, path, "genrep.dwidth", &c->dwidth);
        if (!s) s = genrep__gen_meta_int(st, path, "genrep.n_classes", &c->n_classes);
        if (!s) s = genrep__gen_meta_int(st, path, "genrep.embed_dim", &c->embed_dim);
    }
    /* the architecture keys: all absent (the default generator) or all present */
    int have = 0;
    for (int i = 0; i < GENREP__GEN_ARCH_META_N; i++) have += genrep_st_meta(st, genrep__gen_arch_keys[i]) != NULL;
    if (s || !have) return s;
    for (int i = 0; i < GENREP__GEN_ARCH_META_N; i++)
        if (!genrep_st_meta(st, genrep__gen_arch_keys[i]))
            return genrep__fail(GENREP_ERR_FORMAT, "generator '%s': metadata %s is missing (a file with any of "
                                "genrep.first, n_up, out_size, out_channels, out_layer, out_bias, out_act needs all)",
                                path, genrep__gen_arch_keys[i]);
    /* strings: each key's allowed values, index = the enum value */
    static const char *const firsts[] = {"linear", "convt", NULL}, *const layers[] = {"conv", "convt", NULL},
                             *const acts[] = {"tanh", "sigmoid", "none", NULL}, *const bits[] = {"0", "1", NULL};
    const char *const *allowed[4] = {firsts, layers, acts, bits};
    const char *skeys[4] = {"genrep.first", "genrep.out_layer", "genrep.out_act", "genrep.out_bias"};
    int *sval[4] = {&c->first, &c->out_layer, &c->out_act, &c->out_bias};
    for (int k = 0; k < 4; k++) {
        const char *v = genrep_st_meta(st, skeys[k]);
        int found = -1;
        for (int j = 0; allowed[k][j]; j++)
            if (!strcmp(v, allowed[k][j])) found = j;
        if (found < 0)
            return genrep__fail(GENREP_ERR_FORMAT, "generator '%s': metadata %s is '%.32s', expected %s", path, skeys[k],
                                v, k == 0 ? "linear or convt" : k == 1 ? "conv or convt" : k == 2 ? "tanh, sigmoid or none"
                                                                                                   : "0 or 1");
        *sval[k] = found;
    }
    /* n_up may be 0 */
    const char *nu = genrep_st_meta(st, "genrep.n_up");
    if (!strcmp(nu, "0")) c->n_up = 0;
    else if ((s = genrep__gen_meta_int(st, path, "genrep.n_up", &c->n_up))) return s;
    if ((s = genrep__gen_meta_int(st, path, "genrep.out_size", &c->out_size))) return s;
    return genrep__gen_meta_int(st, path, "genrep.out_channels", &c->out_channels);
}

/* Three steps, so that no file can make us allocate what it does not hold:
   the header alone (metadata -> architecture), the tensor table that
   architecture has (layout only, nothing allocated), then the file opened
   against that table (names and shapes checked before any data is read),
   and only then the model. */
GENREP_API genrep_status genrep_gen_load(genrep_gen *g, const char *path, int max_batch) {
    GENREP__CHECK_PTR(g); GENREP__CHECK_PTR(path);
    memset(g, 0, sizeof *g);
    genrep_st *st;
    genrep_status s = genrep_st_open(&st, path, GENREP_ST_HEADER_ONLY);
    if (s == GENREP_ERR_UNSUPPORTED && strstr(genrep_last_error(), "dtype I64")) {
        /* a plain PyTorch state_dict saved as safetensors: BN's num_batches_tracked is int64 */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", genrep_last_error());
        return genrep__fail(s, "%s; hint: int64 tensors such as batchnorm's num_batches_tracked come from a plain "
                            "PyTorch state_dict: convert it with weights/export_pytorch.py --state-dict, which drops "
                            "them with a note and writes the genrep.* metadata", msg);
    }
    if (s) return s;
    genrep_gan_config c;
    s = genrep__gan_config_from_file(&c, st, path);
    genrep_st_close(st);
    if (s) return s;
    if ((s = genrep__gan_check_config(__func__, &c, max_batch))) return s;
    genrep_gen lay; /* the table of the architecture, nothing allocated */
    memset(&lay, 0, sizeof lay);
    lay.cfg = c; lay.max_batch = max_batch;
    if ((s = genrep__gen_layout(&lay))) return s;
    genrep_st_spec spec[GENREP_GAN_MAX_TENSORS];
    memset(spec, 0, sizeof spec);
    for (int i = 0; i < lay.n_tensors; i++) {
        spec[i].name = lay.table[i].name;
        spec[i].ndim = lay.table[i].ndim;
        for (int d = 0; d < lay.table[i].ndim; d++) spec[i].shape[d] = lay.table[i].shape[d];
    }
    if ((s = genrep_st_open_expect(&st, path, 0, spec, lay.n_tensors))) return s;
    if ((s = genrep_gen_create(g, &c, max_batch, 0))) { genrep_st_close(st); return s; }
    for (int i = 0; i < g->n_tensors; i++) {
        const genrep_st_tensor *x = genrep_st_find(st, g->table[i].name);
        GENREP_ASSERT(x && (size_t)x->numel == g->table[i].numel);
        memcpy(g->params + g->table[i].offset, x->data, g->table[i].numel * sizeof(float));
    }
    genrep_st_close(st);
    return GENREP_OK;
}
/* -------------------------------------------------------------- [BIGGAN] */
/* Layout: one parameter slab (the divided weights under <module>.weight,
   biases, statistics) and one activation slab for max_batch images:
   three activation buffers X, T1, T2 of the largest per-image tensor each
   (block input, and the branch ping-ponging between T1 and T2; the block
   output lands in a T buffer and becomes the next X), cond, the BN
   gain/offset, the attention scratch of one image and the conv workspace. */

typedef struct {
    int Cin, Cout, mid, H, W, up;         /* input side H x W */
    int bn_s[4], bn_o[4], bn_m[4], bn_v[4];
    int cw[4], cb[4];
} genrep__bg_block;

struct genrep__biggan_plan {
    genrep__bg_block blk[GENREP_BIGGAN_MAX_LAYERS];
    int t_embed, t_genz_w, t_genz_b;
    int t_th, t_ph, t_g, t_o, t_gamma, att_C, att_H, att_W;
    int t_bn_w, t_bn_b, t_bn_m, t_bn_v, t_rgb_w, t_rgb_b;
    unsigned char sn[GENREP_BIGGAN_MAX_TENSORS];  /* file holds weight_orig/_u/_v */
    size_t act;                                   /* floats per image of X, T1, T2 */
    size_t a_x, a_t1, a_t2, a_cond, a_emb, a_gain, a_off, a_att, a_ws;
};

GENREP_API genrep_status genrep_biggan_config_default(genrep_biggan_config *cfg, int output_dim) {
    GENREP__CHECK_PTR(cfg);
    /* (up, in, out) per GenBlock, as the port's BigGAN128/256/512 configs */
    static const int L128[10][3] = {{0,16,16},{1,16,16},{0,16,16},{1,16,8},{0,8,8},{1,8,4},{0,4,4},{1,4,2},{0,2,2},{1,2,1}};
    static const int L256[12][3] = {{0,16,16},{1,16,16},{0,16,16},{1,16,8},{0,8,8},{1,8,8},{0,8,8},{1,8,4},{0,4,4},
                                    {1,4,2},{0,2,2},{1,2,1}};
    static const int L512[14][3] = {{0,16,16},{1,16,16},{0,16,16},{1,16,8},{0,8,8},{1,8,8},{0,8,8},{1,8,4},{0,4,4},
                                    {1,4,2},{0,2,2},{1,2,1},{0,1,1},{1,1,1}};
    const int (*L)[3] = output_dim == 128 ? L128 : output_dim == 256 ? L256 : output_dim == 512 ? L512 : NULL;
    if (!L) return genrep__fail(GENREP_ERR_ARG, "%s: output_dim %d, expected 128, 256 or 512", __func__, output_dim);
    memset(cfg, 0, sizeof *cfg);
    cfg->output_dim = output_dim;
    cfg->z_dim = 128;
    cfg->channel_width = 128;
    cfg->num_classes = 1000;
    cfg->n_stats = 51;
    cfg->attention_layer_position = 8;
    cfg->eps = 1e-4f;
    cfg->n_layers = output_dim == 128 ? 10 : output_dim == 256 ? 12 : 14;
    for (int i = 0; i < cfg->n_layers; i++) {
        cfg->up[i] = L[i][0];
        cfg->in_mult[i] = L[i][1];
        cfg->out_mult[i] = L[i][2];
    }
    return GENREP_OK;
}

static genrep_status genrep__bg_check_config(const char *fn, const genrep_biggan_config *c) {
    if (!c) return genrep__fail(GENREP_ERR_ARG, "%s: argument 'cfg' is NULL", fn);
    if (c->z_dim <= 0 || c->z_dim > (1 << 16) || c->channel_width <= 0 || c->channel_width > (1 << 12)
        || c->num_classes <= 0 || c->num_classes > (1 << 20) || c->n_stats < 2 || c->n_stats > (1 << 16))
        return genrep__fail(GENREP_ERR_ARG, "%s: config z_dim %d, channel_width %d, num_classes %d, n_stats %d out of "
                            "range (each > 0, n_stats >= 2)", fn, c->z_dim, c->channel_width, c->num_classes, c->n_stats);
    if (!(c->eps > 0.0f)) return genrep__fail(GENREP_ERR_ARG, "%s: config eps must be > 0", fn);
    if (c->n_layers < 1 || c->n_layers > GENREP_BIGGAN_MAX_LAYERS)
        return genrep__fail(GENREP_ERR_ARG, "%s: config n_layers %d, expected 1..%d", fn, c->n_layers, GENREP_BIGGAN_MAX_LAYERS);
    if (c->attention_layer_position < 0 || c->attention_layer_position >= c->n_layers)
        return genrep__fail(GENREP_ERR_ARG, "%s: config attention_layer_position %d, expected 0..%d", fn,
                            c->attention_layer_position, c->n_layers - 1);
    int side = 4;
    for (int i = 0; i < c->n_layers; i++) {
        int64_t cin = (int64_t)c->channel_width * c->in_mult[i], cout = (int64_t)c->channel_width * c->out_mult[i];
        int prev = i ? c->channel_width * c->out_mult[i - 1] : 16 * c->channel_width;
        if (c->in_mult[i] <= 0 || c->out_mult[i] <= 0 || cin > (1 << 16) || cin < 4 || cin != prev
            || (cout != cin && 2 * cout != cin))
            return genrep__fail(GENREP_ERR_ARG, "%s: layer %d channels %lld -> %lld (previous %d): a block takes the previous "
                                "output (16*ch first), keeps or halves it, and needs >= 4 input channels",
                                fn, i, (long long)cin, (long long)cout, prev);
        if (i == c->attention_layer_position && (cin % 8 || side % 2))
            return genrep__fail(GENREP_ERR_ARG, "%s: attention at layer %d needs channels divisible by 8 and an even side, "
                                "got %lld at %d", fn, i, (long long)cin, side);
        side <<= c->up[i] ? 1 : 0;
        if (side > 4096) return genrep__fail(GENREP_ERR_ARG, "%s: image side over 4096", fn);
    }
    if (side != c->output_dim)
        return genrep__fail(GENREP_ERR_ARG, "%s: config output_dim %d, but its layers up-sample 4 to %d", fn, c->output_dim, side);
    if (c->channel_width * c->out_mult[c->n_layers - 1] != c->channel_width)
        return genrep__fail(GENREP_ERR_ARG, "%s: the last layer must output ch channels", fn);
    return GENREP_OK;
}

/* Append one tensor to a table; returns its index. */
static int genrep__bg_add(genrep_param_info *t, int *n, int cap, size_t *tot, const char *name, int is_buffer,
                          int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    genrep_param_info *p = &t[*n];
    GENREP_ASSERT(*n < cap && strlen(name) < sizeof p->name);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    int64_t d[4] = {d0, d1, d2, d3};
    p->numel = 1;
    for (int i = 0; i < GENREP_MAX_DIMS; i++) {
        p->shape[i] = i < ndim ? d[i] : 1;
        if (i < ndim) p->numel *= (size_t)d[i];
    }
    p->offset = *tot;
    p->is_buffer = is_buffer;
    *tot += (p->numel + 15) & ~(size_t)15;   /* every tensor 64-byte aligned */
    return (*n)++;
}

/* The model's table (divided weights as <module>.weight) in the port's
   state_dict order, and the plan's indices; sn marks spectral-normalised
   weights. With file != 0 the table is the file's instead: each sn weight
   becomes <module>.weight_orig, .weight_u (out), .weight_v (in*kh*kw), in
   the order PyTorch's state_dict lists them (own parameters -- bias before
   weight_orig --, own buffers, then children). */
static void genrep__bg_layout(const genrep_biggan_config *c, genrep_param_info *t, int *n, size_t *tot,
                              struct genrep__biggan_plan *P, int file) {
    const int Z2 = 2 * c->z_dim, ch = c->channel_width, S = c->n_stats;
    char nm[96];
    const int cap = file ? 3 * GENREP_BIGGAN_MAX_TENSORS : GENREP_BIGGAN_MAX_TENSORS;
    *n = 0; *tot = 0;
    memset(P->sn, 0, sizeof P->sn);
    /* an sn module: bias (if any), then the weight (or orig/u/v) */
    #define GENREP__BG_SN(idx, bidx, mod, hasb, nd, a, b, cc, dd) do { \
        if (hasb) { snprintf(nm, sizeof nm, "%s.bias", mod); bidx = genrep__bg_add(t, n, cap, tot, nm, 0, 1, a, 0, 0, 0); } \
        if (file) { \
            snprintf(nm, sizeof nm, "%s.weight_orig", mod); idx = genrep__bg_add(t, n, cap, tot, nm, 0, nd, a, b, cc, dd); \
            snprintf(nm, sizeof nm, "%s.weight_u", mod); genrep__bg_add(t, n, cap, tot, nm, 1, 1, a, 0, 0, 0); \
            snprintf(nm, sizeof nm, "%s.weight_v", mod); \
            genrep__bg_add(t, n, cap, tot, nm, 1, 1, (int64_t)(b) * ((nd) == 4 ? (int64_t)(cc) * (dd) : 1), 0, 0, 0); \
        } else { \
            snprintf(nm, sizeof nm, "%s.weight", mod); idx = genrep__bg_add(t, n, cap, tot, nm, 0, nd, a, b, cc, dd); \
            P->sn[idx] = 1; \
        } } while (0)
    int dummy = 0;
    P->t_embed = genrep__bg_add(t, n, cap, tot, "embeddings.weight", 0, 2, c->z_dim, c->num_classes, 0, 0);
    GENREP__BG_SN(P->t_genz_w, P->t_genz_b, "generator.gen_z", 1, 2, (int64_t)16 * 16 * ch, Z2, 0, 0);
    int H = 4, mi = 0;
    for (int i = 0; i < c->n_layers; i++, mi++) {
        const int Cin = ch * c->in_mult[i], Cout = ch * c->out_mult[i], mid = Cin / 4;
        if (i == c->attention_layer_position) {
            char mod[64];
            snprintf(nm, sizeof nm, "generator.layers.%d.gamma", mi);
            P->t_gamma = genrep__bg_add(t, n, cap, tot, nm, 0, 1, 1, 0, 0, 0);
            snprintf(mod, sizeof mod, "generator.layers.%d.snconv1x1_theta", mi);
            GENREP__BG_SN(P->t_th, dummy, mod, 0, 4, Cin / 8, Cin, 1, 1);
            snprintf(mod, sizeof mod, "generator.layers.%d.snconv1x1_phi", mi);
            GENREP__BG_SN(P->t_ph, dummy, mod, 0, 4, Cin / 8, Cin, 1, 1);
            snprintf(mod, sizeof mod, "generator.layers.%d.snconv1x1_g", mi);
            GENREP__BG_SN(P->t_g, dummy, mod, 0, 4, Cin / 2, Cin, 1, 1);
            snprintf(mod, sizeof mod, "generator.layers.%d.snconv1x1_o_conv", mi);
            GENREP__BG_SN(P->t_o, dummy, mod, 0, 4, Cin, Cin / 2, 1, 1);
            P->att_C = Cin; P->att_H = H; P->att_W = H;
            mi++;
        }
        genrep__bg_block *b = &P->blk[i];
        b->Cin = Cin; b->Cout = Cout; b->mid = mid; b->H = H; b->W = H; b->up = c->up[i] != 0;
        for (int k = 0; k < 4; k++) {
            const int Cb = k == 0 ? Cin : mid;    /* bn_k normalises conv_k's input */
            char mod[64];
            snprintf(nm, sizeof nm, "generator.layers.%d.bn_%d.running_means", mi, k);
            b->bn_m[k] = genrep__bg_add(t, n, cap, tot, nm, 1, 2, S, Cb, 0, 0);
            snprintf(nm, sizeof nm, "generator.layers.%d.bn_%d.running_vars", mi, k);
            b->bn_v[k] = genrep__bg_add(t, n, cap, tot, nm, 1, 2, S, Cb, 0, 0);
            snprintf(mod, sizeof mod, "generator.layers.%d.bn_%d.scale", mi, k);
            GENREP__BG_SN(b->bn_s[k], dummy, mod, 0, 2, Cb, Z2, 0, 0);
            snprintf(mod, sizeof mod, "generator.layers.%d.bn_%d.offset", mi, k);
            GENREP__BG_SN(b->bn_o[k], dummy, mod, 0, 2, Cb, Z2, 0, 0);
            const int K = k == 3 ? Cout : mid, R = (k == 1 || k == 2) ? 3 : 1;
            snprintf(mod, sizeof mod, "generator.layers.%d.conv_%d", mi, k);
            GENREP__BG_SN(b->cw[k], b->cb[k], mod, 1, 4, K, Cb, R, R);
        }
        if (b->up) H *= 2;
    }
    P->t_bn_w = genrep__bg_add(t, n, cap, tot, "generator.bn.weight", 0, 1, ch, 0, 0, 0);
    P->t_bn_b = genrep__bg_add(t, n, cap, tot, "generator.bn.bias", 0, 1, ch, 0, 0, 0);
    P->t_bn_m = genrep__bg_add(t, n, cap, tot, "generator.bn.running_means", 1, 2, S, ch, 0, 0);
    P->t_bn_v = genrep__bg_add(t, n, cap, tot, "generator.bn.running_vars", 1, 2, S, ch, 0, 0);
    GENREP__BG_SN(P->t_rgb_w, P->t_rgb_b, "generator.conv_to_rgb", 1, 4, ch, ch, 3, 3);
    #undef GENREP__BG_SN
    (void)dummy;
}

GENREP_API genrep_status genrep_biggan_file_table(genrep_param_info *table, int cap, int *n,
                                                  const genrep_biggan_config *cfg) {
    GENREP__CHECK_PTR(table); GENREP__CHECK_PTR(n);
    genrep_status s = genrep__bg_check_config(__func__, cfg);
    if (s) return s;
    struct genrep__biggan_plan *P = (struct genrep__biggan_plan *)genrep_alloc(sizeof *P);
    if (!P) return genrep__fail(GENREP_ERR_NOMEM, "%s: out of memory", __func__);
    genrep_param_info *t = (genrep_param_info *)genrep_alloc(3 * GENREP_BIGGAN_MAX_TENSORS * sizeof *t);
    if (!t) { genrep_free(P); return genrep__fail(GENREP_ERR_NOMEM, "%s: out of memory", __func__); }
    size_t tot;
    genrep__bg_layout(cfg, t, n, &tot, P, 1);
    /* file offsets are contiguous (no alignment padding) */
    size_t off = 0;
    for (int i = 0; i < *n; i++) { t[i].offset = off; off += t[i].numel; }
    if (*n > cap) s = genrep__fail(GENREP_ERR_ARG, "%s: the file has %d tensors, table holds %d", __func__, *n, cap);
    else memcpy(table, t, (size_t)*n * sizeof *t);
    genrep_free(t);
    genrep_free(P);
    return s;
}

GENREP_API double genrep_biggan_macs(const genrep_biggan_config *c) {
    if (genrep__bg_check_config(__func__, c)) return 0.0;
    const double Z = c->z_dim, Z2 = 2.0 * Z, ch = c->channel_width;
    double macs = c->num_classes * Z + Z2 * 256.0 * ch;   /* embeddings, gen_z */
    double H = 4;
    for (int i = 0; i < c->n_layers; i++) {
        const double Cin = ch * c->in_mult[i], Cout = ch * c->out_mult[i], mid = (double)((int)Cin / 4);
        if (i == c->attention_layer_position) {
            const double N = H * H;
            macs += N * Cin * (Cin / 8 * 2 + Cin / 2)   /* theta, phi, g */
                  + N * (N / 4) * (Cin / 8)             /* theta^T phi */
                  + (Cin / 2) * N * (N / 4)             /* g attn^T */
                  + N * Cin * Cin / 2;                  /* o_conv */
        }
        const double Ho = c->up[i] ? 2 * H : H;
        macs += Z2 * 2.0 * (Cin + 3 * mid)              /* BN scale, offset */
              + H * H * Cin * mid                       /* conv_0 */
              + Ho * Ho * mid * mid * 9 * 2             /* conv_1, conv_2 */
              + Ho * Ho * mid * Cout;                   /* conv_3 */
        H = Ho;
    }
    return macs + H * H * ch * 9 * 3;                   /* conv_to_rgb, 3 channels kept */
}

/* Random weights (for benches): N(0, 1/fan_in), BN scale/offset 10x smaller. */
static void genrep__bg_init(genrep_biggan *g, uint64_t seed) {
    for (int i = 0; i < g->n_tensors; i++) {
        const genrep_param_info *p = &g->table[i];
        float *x = g->params + p->offset;
        const char *nm = p->name;
        size_t L = strlen(nm);
        genrep_rng r;
        genrep_rng_init(&r, seed, (uint64_t)i);
        const int ends_vars = L >= 12 && !strcmp(nm + L - 12, "running_vars");
        if (ends_vars || !strcmp(nm, "generator.bn.weight")) {
            for (size_t j = 0; j < p->numel; j++) x[j] = 1.0f;
        } else if (strstr(nm, ".gamma")) {
            x[0] = 0.1f;
        } else if (p->ndim >= 2 && !strstr(nm, "running_means")) {
            const float sd = (strstr(nm, ".scale.") || strstr(nm, ".offset.") ? 0.1f : 1.0f)
                             / sqrtf((float)(p->numel / (size_t)p->shape[0]));
            for (size_t j = 0; j < p->numel; j++) x[j] = sd * genrep_rng_normal(&r);
        } else {
            for (size_t j = 0; j < p->numel; j++) x[j] = 0.0f;
        }
    }
}

static genrep_status genrep__bg_alloc(genrep_biggan *g, const genrep_biggan_config *cfg, int max_batch) {
    memset(g, 0, sizeof *g);
    g->cfg = *cfg;
    g->max_batch = max_batch;
    struct genrep__biggan_plan *P = (struct genrep__biggan_plan *)genrep_alloc(sizeof *P);
    if (!P) return genrep__fail(GENREP_ERR_NOMEM, "genrep_biggan: out of memory (plan)");
    memset(P, 0, sizeof *P);
    g->plan = P;
    genrep__bg_layout(cfg, g->table, &g->n_tensors, &g->n_params, P, 0);
    /* activation sizes per image */
    const int ch = cfg->channel_width, M = max_batch;
    size_t act = (size_t)16 * 16 * ch, ws = 0;
    int cmax = 16 * ch;
    for (int i = 0; i < cfg->n_layers; i++) {
        const genrep__bg_block *b = &P->blk[i];
        const size_t Ho = (size_t)b->H << b->up;
        size_t need[3] = { (size_t)b->Cin * b->H * b->W, (size_t)b->Cout * Ho * Ho, (size_t)b->mid * Ho * Ho };
        for (int k = 0; k < 3; k++) if (need[k] > act) act = need[k];
        if (b->Cin > cmax) cmax = b->Cin;
        for (int m = 1; m <= M; m++) {
            genrep_conv2d_desc d;
            if (genrep_conv2d_init(&d, m, b->mid, (int)Ho, (int)Ho, b->mid, 3, 3, 1, 1))
                return genrep__fail(GENREP_ERR_ARG, "genrep_biggan: layer %d too large", i);
            size_t w = genrep_conv2d_workspace(&d);
            if (w > ws) ws = w;
        }
    }
    for (int m = 1; m <= M; m++) {
        genrep_conv2d_desc d;
        if (genrep_conv2d_init(&d, m, ch, cfg->output_dim, cfg->output_dim, 3, 3, 3, 1, 1))
            return genrep__fail(GENREP_ERR_ARG, "genrep_biggan: output too large");
        size_t w = genrep_conv2d_workspace(&d);
        if (w > ws) ws = w;
    }
    const size_t C = (size_t)P->att_C, N = (size_t)P->att_H * P->att_W;
    /* theta (C/8,N), full (C/2,N: phi, then g, then g attn^T), phi (C/8,N/4), g (C/2,N/4), attn (N,N/4), o (C,N) */
    const size_t att = C / 8 * N + C / 2 * N + C / 8 * (N / 4) + C / 2 * (N / 4) + N * (N / 4) + C * N + 6 * 16;
    P->act = (act + 15) & ~(size_t)15;
    size_t off = 0;
    #define GENREP__BG_SLAB(field, nf) do { P->field = off; off += ((size_t)(nf) + 15) & ~(size_t)15; } while (0)
    GENREP__BG_SLAB(a_x, P->act * M);
    GENREP__BG_SLAB(a_t1, P->act * M);
    GENREP__BG_SLAB(a_t2, P->act * M);
    GENREP__BG_SLAB(a_cond, (size_t)M * 2 * cfg->z_dim);
    GENREP__BG_SLAB(a_emb, (size_t)M * cfg->z_dim);
    GENREP__BG_SLAB(a_gain, (size_t)M * cmax);
    GENREP__BG_SLAB(a_off, (size_t)M * cmax);
    GENREP__BG_SLAB(a_att, att);
    GENREP__BG_SLAB(a_ws, ws);
    #undef GENREP__BG_SLAB
    g->n_acts = off;
    g->params = (float *)genrep_alloc(g->n_params * sizeof(float));
    g->acts = (float *)genrep_alloc(g->n_acts * sizeof(float));
    if (!g->params || !g->acts) {
        genrep_biggan_free(g);
        return genrep__fail(GENREP_ERR_NOMEM, "genrep_biggan: out of memory (%.1f MB of weights, %.1f MB of activations "
                            "for max_batch %d)", g->n_params * 4e-6, (double)off * 4e-6, max_batch);
    }
    memset(g->params, 0, g->n_params * sizeof(float));
    return GENREP_OK;
}

GENREP_API genrep_status genrep_biggan_create(genrep_biggan *g, const genrep_biggan_config *cfg, int max_batch,
                                              uint64_t seed) {
    GENREP__CHECK_PTR(g);
    memset(g, 0, sizeof *g);
    genrep_status s = genrep__bg_check_config(__func__, cfg);
    if (s) return s;
    if (max_batch <= 0 || max_batch > 4096)
        return genrep__fail(GENREP_ERR_ARG, "%s: max_batch must be in 1..4096, got %d", __func__, max_batch);
    if ((s = genrep__bg_alloc(g, cfg, max_batch))) return s;
    genrep__bg_init(g, seed);
    return GENREP_OK;
}

GENREP_API void genrep_biggan_free(genrep_biggan *g) {
    if (!g) return;
    genrep_free(g->params);
    genrep_free(g->acts);
    genrep_free(g->plan);
    g->params = g->acts = NULL;
    g->plan = NULL;
}

GENREP_API const genrep_param_info *genrep_biggan_param(const genrep_biggan *g, const char *name) {
    if (!g || !name) return NULL;
    for (int i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->table[i].name, name)) return &g->table[i];
    return NULL;
}

static genrep_status genrep__bg_meta_int(const genrep_st *st, const char *path, const char *key, int *out, int dflt) {
    if (!genrep_st_meta(st, key) && dflt > 0) { *out = dflt; return GENREP_OK; }
    return genrep__meta_posint(st, "BigGAN", path, key, out);
}

GENREP_API genrep_status genrep_biggan_load(genrep_biggan *g, const char *path, int max_batch) {
    GENREP__CHECK_PTR(g); GENREP__CHECK_PTR(path);
    memset(g, 0, sizeof *g);
    genrep_st *st;
    genrep_status s = genrep_st_open(&st, path, GENREP_ST_HEADER_ONLY);
    if (s) return s;
    genrep_biggan_config c;
    const char *m = genrep_st_meta(st, "genrep.model");
    int od = 0;
    if (!m || strcmp(m, "biggan-deep"))
        s = genrep__fail(GENREP_ERR_FORMAT, "BigGAN '%s': metadata genrep.model is %s%s%s, expected biggan-deep (export "
                         "with weights/export_pytorch.py --biggan)", path, m ? "'" : "missing", m ? m : "", m ? "'" : "");
    if (!s) s = genrep__bg_meta_int(st, path, "genrep.output_dim", &od, 0);
    if (!s && (s = genrep_biggan_config_default(&c, od)))
        s = genrep__fail(GENREP_ERR_FORMAT, "BigGAN '%s': metadata genrep.output_dim is %d, expected 128, 256 or 512", path, od);
    if (!s) s = genrep__bg_meta_int(st, path, "genrep.channel_width", &c.channel_width, 0);
    if (!s) s = genrep__bg_meta_int(st, path, "genrep.num_classes", &c.num_classes, 0);
    if (!s) s = genrep__bg_meta_int(st, path, "genrep.z_dim", &c.z_dim, 0);
    if (!s) s = genrep__bg_meta_int(st, path, "genrep.n_stats", &c.n_stats, 51);
    genrep_st_close(st);
    if (s) return s;
    if ((s = genrep__bg_check_config(__func__, &c))) return s;
    if (max_batch <= 0 || max_batch > 4096)
        return genrep__fail(GENREP_ERR_ARG, "%s: max_batch must be in 1..4096, got %d", __func__, max_batch);
    /* the file's table, checked before any tensor data is read */
    int nf = 0;
    genrep_param_info *ft = (genrep_param_info *)genrep_alloc(3 * GENREP_BIGGAN_MAX_TENSORS * sizeof *ft);
    genrep_st_spec *spec = (genrep_st_spec *)genrep_alloc(3 * GENREP_BIGGAN_MAX_TENSORS * sizeof *spec);
    if (!ft || !spec) { genrep_free(ft); genrep_free(spec); return genrep__fail(GENREP_ERR_NOMEM, "%s: out of memory", __func__); }
    s = genrep_biggan_file_table(ft, 3 * GENREP_BIGGAN_MAX_TENSORS, &nf, &c);
    memset(spec, 0, 3 * GENREP_BIGGAN_MAX_TENSORS * sizeof *spec);
    for (int i = 0; !s && i < nf; i++) {
        spec[i].name = ft[i].name;
        spec[i].ndim = ft[i].ndim;
        for (int d = 0; d < ft[i].ndim; d++) spec[i].shape[d] = ft[i].shape[d];
    }
    if (!s) s = genrep_st_open_expect(&st, path, 0, spec, nf);
    genrep_free(spec);
    genrep_free(ft);
    if (s) return s;
    if ((s = genrep__bg_alloc(g, &c, max_batch))) { genrep_st_close(st); return s; }
    for (int i = 0; i < g->n_tensors && !s; i++) {
        const genrep_param_info *p = &g->table[i];
        float *dst = g->params + p->offset;
        if (!g->plan->sn[i]) {
            const genrep_st_tensor *x = genrep_st_find(st, p->name);
            GENREP_ASSERT(x && (size_t)x->numel == p->numel);
            memcpy(dst, x->data, p->numel * sizeof(float));
            continue;
        }
        /* sigma = u . (W v) with the stored u, v (PyTorch's eval-mode spectral_norm) */
        char mod[96], nm[112];
        size_t L = strlen(p->name) - strlen(".weight");
        memcpy(mod, p->name, L); mod[L] = 0;
        snprintf(nm, sizeof nm, "%s.weight_orig", mod);
        const genrep_st_tensor *w = genrep_st_find(st, nm);
        snprintf(nm, sizeof nm, "%s.weight_u", mod);
        const genrep_st_tensor *u = genrep_st_find(st, nm);
        snprintf(nm, sizeof nm, "%s.weight_v", mod);
        const genrep_st_tensor *v = genrep_st_find(st, nm);
        GENREP_ASSERT(w && u && v && (size_t)w->numel == p->numel && (size_t)(u->numel * v->numel) == p->numel);
        double sigma = 0;
        for (int64_t r = 0; r < u->numel; r++) {
            double acc = 0;
            for (int64_t k = 0; k < v->numel; k++) acc += (double)w->data[r * v->numel + k] * v->data[k];
            sigma += (double)u->data[r] * acc;
        }
        if (!(sigma > 0) || !isfinite(sigma) || !isfinite((float)(1.0 / sigma)))
            s = genrep__fail(GENREP_ERR_FORMAT, "BigGAN '%s': module %s has spectral norm u.(W v) = %g, expected a "
                             "positive finite number (are weight_u/weight_v those of weight_orig?)", path, mod, sigma);
        const float sg = (float)sigma;
        for (size_t j = 0; j < p->numel; j++) dst[j] = w->data[j] / sg;
    }
    genrep_st_close(st);
    if (s) genrep_biggan_free(g);
    return s;
}

/* The stored statistics for truncation t: row i, blend coefficient c (the
   port: c, i = modf(t / (1/(n_stats-1))), rows[i]*c + rows[i+1]*(1-c)). */
static void genrep__bg_stats_at(int *row, float *c0, float *c1, int n_stats, double t) {
    double step = 1.0 / (n_stats - 1), ip;
    double frac = modf(t / step, &ip);
    *row = (int)ip;
    if (*row >= n_stats - 1) { *row = n_stats - 1; frac = 0.0; }  /* t = 1 whatever the rounding */
    if (frac != 0.0) { *c0 = (float)frac; *c1 = (float)(1.0 - frac); }
    else { *c0 = 1.0f; *c1 = 0.0f; }
}

/* out (m,C,HW) = relu((x - mean) / sqrt(var + eps) * scale + shift) with
   per-sample scale = 1 + gain (m,C), shift = off (m,C) when gain != NULL,
   else the per-channel w, b (the final, unconditional bn). In place allowed. */
static void genrep__bg_bn_relu(float *out, const float *inp, const float *gain, const float *off,
                               const float *w, const float *b, const float *rm, const float *rv,
                               int row, float c0, float c1, int n_stats, int m, int C, size_t HW, float eps) {
    const int nxt = c1 != 0.0f ? row + 1 : row;
    GENREP_ASSERT(row >= 0 && nxt < n_stats);
    (void)n_stats;
    GENREP__LPARFOR((size_t)m * C * HW)
    for (int64_t nc = 0; nc < (int64_t)m * C; nc++) {
        const int n = (int)(nc / C), c = (int)(nc % C);
        const float mean = c1 != 0.0f ? rm[(size_t)row * C + c] * c0 + rm[(size_t)nxt * C + c] * c1 : rm[(size_t)row * C + c];
        const float var = c1 != 0.0f ? rv[(size_t)row * C + c] * c0 + rv[(size_t)nxt * C + c] * c1 : rv[(size_t)row * C + c];
        const float sc = (gain ? 1.0f + gain[(size_t)n * C + c] : w[c]) / sqrtf(var + eps);
        const float sh = gain ? off[(size_t)n * C + c] : b[c];
        const float *x = inp + (size_t)nc * HW;
        float *y = out + (size_t)nc * HW;
        GENREP__SIMD
        for (size_t j = 0; j < HW; j++) {
            float v = (x[j] - mean) * sc + sh;
            y[j] = v > 0.0f ? v : 0.0f;
        }
    }
}

/* out (m,K,HW) = W (K,C) @ inp (m,C,HW) + bias: a 1x1 conv as one GEMM per image. */
static genrep_status genrep__bg_conv1x1(float *out, const float *inp, const float *w, const float *bias,
                                        int m, int C, int K, int HW) {
    for (int n = 0; n < m; n++) {
        float *o = out + (size_t)n * K * HW;
        if (bias) for (int k = 0; k < K; k++) for (int j = 0; j < HW; j++) o[(size_t)k * HW + j] = bias[k];
        genrep_status s = genrep_sgemm(0, 0, K, HW, C, 1.0f, w, C, inp + (size_t)n * C * HW, HW,
                                       bias ? 1.0f : 0.0f, o, HW);
        if (s) return s;
    }
    return GENREP_OK;
}

/* 2x2 max-pool, stride 2: inp (C,H,W) -> out (C,H/2,W/2). */
static void genrep__bg_maxpool2(float *out, const float *inp, int C, int H, int W) {
    const int Ho = H / 2, Wo = W / 2;
    GENREP__LPARFOR((size_t)C * H * W)
    for (int c = 0; c < C; c++)
        for (int i = 0; i < Ho; i++)
            for (int j = 0; j < Wo; j++) {
                const float *x = inp + ((size_t)c * H + 2 * i) * W + 2 * j;
                float a = x[0] > x[1] ? x[0] : x[1], b = x[W] > x[W + 1] ? x[W] : x[W + 1];
                out[((size_t)c * Ho + i) * Wo + j] = a > b ? a : b;
            }
}

/* SelfAttn on one image x (C,H,W), in place: x += gamma * o_conv(g attn^T). */
static genrep_status genrep__bg_attention(genrep_biggan *g, float *x) {
    const struct genrep__biggan_plan *P = g->plan;
    const float *W = g->params;
    const int C = P->att_C, H = P->att_H, Wd = P->att_W, N = H * Wd, N4 = N / 4, C8 = C / 8, C2 = C / 2;
    float *theta = g->acts + P->a_att;
    float *full = theta + (((size_t)C8 * N + 15) & ~(size_t)15);
    float *phi = full + (((size_t)C2 * N + 15) & ~(size_t)15);
    float *gp = phi + (((size_t)C8 * N4 + 15) & ~(size_t)15);
    float *attn = gp + (((size_t)C2 * N4 + 15) & ~(size_t)15);
    float *o = attn + (((size_t)N * N4 + 15) & ~(size_t)15);
    genrep_status s;
    if ((s = genrep__bg_conv1x1(theta, x, W + g->table[P->t_th].offset, NULL, 1, C, C8, N))) return s;
    if ((s = genrep__bg_conv1x1(full, x, W + g->table[P->t_ph].offset, NULL, 1, C, C8, N))) return s;
    genrep__bg_maxpool2(phi, full, C8, H, Wd);
    if ((s = genrep__bg_conv1x1(full, x, W + g->table[P->t_g].offset, NULL, 1, C, C2, N))) return s;
    genrep__bg_maxpool2(gp, full, C2, H, Wd);
    /* attn (N, N4) = theta^T (N, C8) @ phi (C8, N4), softmax over each row */
    if ((s = genrep_sgemm(1, 0, N, N4, C8, 1.0f, theta, N, phi, N4, 0.0f, attn, N4))) return s;
    GENREP__LPARFOR((size_t)N * N4)
    for (int i = 0; i < N; i++) {
        float *a = attn + (size_t)i * N4, mx = a[0];
        for (int j = 1; j < N4; j++) mx = a[j] > mx ? a[j] : mx;
        double sum = 0;
        for (int j = 0; j < N4; j++) { a[j] = expf(a[j] - mx); sum += a[j]; }
        const float inv = (float)(1.0 / sum);
        for (int j = 0; j < N4; j++) a[j] *= inv;
    }
    /* attn_g (C2, N) = g (C2, N4) @ attn^T (N4, N), into full */
    if ((s = genrep_sgemm(0, 1, C2, N, N4, 1.0f, gp, N4, attn, N4, 0.0f, full, N))) return s;
    if ((s = genrep__bg_conv1x1(o, full, W + g->table[P->t_o].offset, NULL, 1, C2, C, N))) return s;
    const float gamma = W[g->table[P->t_gamma].offset];
    const size_t n = (size_t)C * N;
    GENREP__EWFOR(n)
    for (size_t i = 0; i < n; i++) x[i] += gamma * o[i];
    return GENREP_OK;
}

/* Conditional BN + ReLU of bn_k of block b: gain/offset from cond, then the normalisation. */
static genrep_status genrep__bg_cbn(genrep_biggan *g, float *out, const float *inp, const genrep__bg_block *b, int k,
                                    int m, int C, size_t HW, int row, float c0, float c1) {
    const float *W = g->params;
    const int Z2 = 2 * g->cfg.z_dim;
    float *gain = g->acts + g->plan->a_gain, *off = g->acts + g->plan->a_off, *cond = g->acts + g->plan->a_cond;
    genrep_status s = genrep_linear_forward(gain, cond, W + g->table[b->bn_s[k]].offset, NULL, m, Z2, C);
    if (!s) s = genrep_linear_forward(off, cond, W + g->table[b->bn_o[k]].offset, NULL, m, Z2, C);
    if (s) return s;
    genrep__bg_bn_relu(out, inp, gain, off, NULL, NULL, W + g->table[b->bn_m[k]].offset, W + g->table[b->bn_v[k]].offset,
                       row, c0, c1, g->cfg.n_stats, m, C, HW, g->cfg.eps);
    return GENREP_OK;
}

static genrep_status genrep__bg_conv3x3(genrep_biggan *g, float *out, const float *inp, int wi, int bi,
                                        int m, int C, int H, int K) {
    genrep_conv2d_desc d;
    genrep_status s = genrep_conv2d_init(&d, m, C, H, H, K, 3, 3, 1, 1);
    if (!s) s = genrep_conv2d_forward(out, g->acts + g->plan->a_ws, inp, g->params + g->table[wi].offset,
                                      g->params + g->table[bi].offset, &d);
    return s;
}

/* One chunk of m <= max_batch images into out (m,3,R,R). */
static genrep_status genrep__bg_forward(genrep_biggan *g, float *out, const float *z, const float *cv, int m, double t) {
    const genrep_biggan_config *c = &g->cfg;
    const struct genrep__biggan_plan *P = g->plan;
    const float *W = g->params;
    const int Z = c->z_dim, ch = c->channel_width, F = 16 * ch;
    float *X = g->acts + P->a_x, *T1 = g->acts + P->a_t1, *T2 = g->acts + P->a_t2;
    float *cond = g->acts + P->a_cond, *emb = g->acts + P->a_emb;
    genrep_status s;
    int row; float c0, c1;
    genrep__bg_stats_at(&row, &c0, &c1, c->n_stats, t);
    /* cond = [z, embeddings(class_vec)] */
    if ((s = genrep_linear_forward(emb, cv, W + g->table[P->t_embed].offset, NULL, m, c->num_classes, Z))) return s;
    for (int n = 0; n < m; n++) {
        memcpy(cond + (size_t)n * 2 * Z, z + (size_t)n * Z, (size_t)Z * sizeof(float));
        memcpy(cond + (size_t)n * 2 * Z + Z, emb + (size_t)n * Z, (size_t)Z * sizeof(float));
    }
    /* gen_z: (m, 4*4*F) in TF's (h, w, c) order -> X (m, F, 4, 4) */
    if ((s = genrep_linear_forward(T1, cond, W + g->table[P->t_genz_w].offset, W + g->table[P->t_genz_b].offset,
                                   m, 2 * Z, 16 * F))) return s;
    for (int n = 0; n < m; n++)
        for (int cc = 0; cc < F; cc++)
            for (int i = 0; i < 16; i++) X[((size_t)n * F + cc) * 16 + i] = T1[((size_t)n * 16 + i) * F + cc];
    for (int i = 0; i < c->n_layers; i++) {
        const genrep__bg_block *b = &P->blk[i];
        if (i == c->attention_layer_position)
            for (int n = 0; n < m; n++)
                if ((s = genrep__bg_attention(g, X + (size_t)n * b->Cin * b->H * b->W))) return s;
        const int H = b->H, Ho = H << b->up;
        const size_t HW = (size_t)H * H, HWo = (size_t)Ho * Ho;
        /* branch: T1 = bnrelu0(X), T2 = conv_0(T1), bnrelu1 in place, [up], conv_1, ... */
        if ((s = genrep__bg_cbn(g, T1, X, b, 0, m, b->Cin, HW, row, c0, c1))) return s;
        if ((s = genrep__bg_conv1x1(T2, T1, W + g->table[b->cw[0]].offset, W + g->table[b->cb[0]].offset,
                                    m, b->Cin, b->mid, (int)HW))) return s;
        if ((s = genrep__bg_cbn(g, T2, T2, b, 1, m, b->mid, HW, row, c0, c1))) return s;
        float *src = T2, *dst = T1;
        if (b->up) {
            if ((s = genrep_upsample2x_forward(T1, T2, m, b->mid, H, H))) return s;
            src = T1; dst = T2;
        }
        if ((s = genrep__bg_conv3x3(g, dst, src, b->cw[1], b->cb[1], m, b->mid, Ho, b->mid))) return s;
        if ((s = genrep__bg_cbn(g, dst, dst, b, 2, m, b->mid, HWo, row, c0, c1))) return s;
        if ((s = genrep__bg_conv3x3(g, src, dst, b->cw[2], b->cb[2], m, b->mid, Ho, b->mid))) return s;
        if ((s = genrep__bg_cbn(g, src, src, b, 3, m, b->mid, HWo, row, c0, c1))) return s;
        if ((s = genrep__bg_conv1x1(dst, src, W + g->table[b->cw[3]].offset, W + g->table[b->cb[3]].offset,
                                    m, b->mid, b->Cout, (int)HWo))) return s;
        /* shortcut: the first Cout channels of X (channel drop), up-sampled, added */
        const int Cin = b->Cin, Cout = b->Cout, up = b->up;
        GENREP__LPARFOR((size_t)m * Cout * HWo)
        for (int64_t nc = 0; nc < (int64_t)m * Cout; nc++) {
            const int n = (int)(nc / Cout), cc = (int)(nc % Cout);
            const float *x0 = X + ((size_t)n * Cin + cc) * HW;
            float *y = dst + (size_t)nc * HWo;
            for (int h = 0; h < Ho; h++)
                for (int w = 0; w < Ho; w++) y[(size_t)h * Ho + w] += x0[(size_t)(h >> up) * H + (w >> up)];
        }
        float *tmp = X; X = dst;
        if (dst == T1) T1 = tmp; else T2 = tmp;
    }
    /* bn -> relu -> conv_to_rgb (first 3 output channels) -> tanh */
    const int R = c->output_dim;
    genrep__bg_bn_relu(T1, X, NULL, NULL, W + g->table[P->t_bn_w].offset, W + g->table[P->t_bn_b].offset,
                       W + g->table[P->t_bn_m].offset, W + g->table[P->t_bn_v].offset, row, c0, c1, c->n_stats,
                       m, ch, (size_t)R * R, c->eps);
    if ((s = genrep__bg_conv3x3(g, out, T1, P->t_rgb_w, P->t_rgb_b, m, ch, R, 3))) return s;
    return genrep_tanh_forward(out, out, (size_t)m * 3 * R * R);
}

GENREP_API genrep_status genrep_biggan_render(genrep_biggan *g, float *out, const float *z, const float *class_vec,
                                              int B, double truncation) {
    GENREP__CHECK_PTR(g); GENREP__CHECK_PTR(out); GENREP__CHECK_PTR(z); GENREP__CHECK_PTR(class_vec);
    if (!g->params || !g->plan) return genrep__fail(GENREP_ERR_ARG, "%s: model not created", __func__);
    GENREP__CHECK_POS(B);
    if (!(truncation > 0.0 && truncation <= 1.0))
        return genrep__fail(GENREP_ERR_ARG, "%s: truncation %g, expected 0 < truncation <= 1", __func__, truncation);
    const genrep_biggan_config *c = &g->cfg;
    const size_t img = (size_t)3 * c->output_dim * c->output_dim;
    for (int n0 = 0; n0 < B; n0 += g->max_batch) {
        const int m = B - n0 < g->max_batch ? B - n0 : g->max_batch;
        genrep_status s = genrep__bg_forward(g, out + (size_t)n0 * img, z + (size_t)n0 * c->z_dim,
                                             class_vec + (size_t)n0 * c->num_classes, m, truncation);
        if (s) return s;
    }
    return GENREP_OK;
}

/* ------------------------------------------------------------- [ENCODER] */
#include <time.h> /* timespec_get, for the profile without OpenMP */
/* Layout. The network is a list of "units" (conv -> BN [-> ReLU]) and a
   list of blocks naming their units. Every unit owns two activation
   buffers of (max_batch, K, P, Q) in the slab: the conv output (BN's
   backward needs it) and the BN output, on which the ReLU runs in place
   (relu(x) > 0 iff x > 0, so the output is enough for the ReLU mask). A
   block adds its shortcut into its second unit's BN output and applies the
   ReLU there, in place: that buffer is the block output. Backward uses four
   scratch gradient buffers of the largest activation size, rotating. */

#define GENREP__ENC_MAX_UNITS 400
#define GENREP__ENC_MAX_BLOCKS 130
#define GENREP__ENC_MAX_BLOCKS_PER_STAGE 32

typedef struct {
    int C, H, W, K, R, S, stride, pad, P, Q;
    int relu;
    int t_w, t_gamma, t_beta, t_rmean, t_rvar;  /* tensor table indices */
    size_t a_conv, a_bn, a_mean, a_rstd;         /* activation slab offsets */
} genrep__enc_unit;

typedef struct { int u1, u2, sc; } genrep__enc_block;   /* sc = -1: identity shortcut */

enum { GENREP__INIT_KAIMING_OUT, GENREP__INIT_ONE, GENREP__INIT_ZERO, GENREP__INIT_UNIFORM };

enum { GENREP__PROF_CONV_F, GENREP__PROF_BN_F, GENREP__PROF_CONV_B, GENREP__PROF_BN_B };

struct genrep__encoder_plan {
    int n_units, n_blocks;
    genrep__enc_unit units[GENREP__ENC_MAX_UNITS];
    genrep__enc_block blocks[GENREP__ENC_MAX_BLOCKS];
    int F, HWf, Hd, O, has_head;
    int t_w1, t_b1, t_w2, t_b2;                  /* head tensors */
    size_t a_feat, a_h1, a_e, a_out, a_norm;     /* head activations */
    size_t a_g[4], a_gh[2];                      /* gradient scratch */
    size_t max_act, max_head;                    /* floats per scratch buffer */
    /* per-tensor init rule, parallel to e->tensors */
    int    *init_kind;
    float  *init_scale;
    double *bn_sums;                             /* 2 * max channels + 1, for bn_sync and share mode */
    float  *tree;  size_t tree_floats;           /* share mode's scratch (genrep_encoder_set_share) */
    /* profile: per unit conv/BN forward/backward seconds, and the rest */
    int    profiling;
    double prof[GENREP__ENC_MAX_UNITS][4];
    double prof_pool, prof_head, prof_elem, prof_zero;
    int    prof_fwd_calls, prof_bwd_calls;
};

/* Elementwise loops over n values go parallel above this size, and are
   marked simd: at -O2 GCC vectorises only the simplest loops on its own
   (the in-place ReLU, add and mask loops ran scalar: 3x slower). */
#define GENREP__ENC_PARFOR(n) GENREP__OMP(omp parallel for simd schedule(static) if ((n) > 65536))

static double genrep__enc_now(void) {
#ifdef _OPENMP
    return omp_get_wtime();
#else
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
}

GENREP_API void genrep_encoder_config_small(genrep_encoder_config *c, int in_channels, int H, int W) {
    if (!c) return;
    memset(c, 0, sizeof *c);
    c->in_channels = in_channels; c->in_h = H; c->in_w = W;
    c->stem_width = 32;
    c->num_stages = 3;
    const int w[3] = {32, 64, 128}, s[3] = {1, 2, 2};
    for (int i = 0; i < 3; i++) { c->widths[i] = w[i]; c->blocks[i] = 2; c->strides[i] = s[i]; }
    c->head_hidden = 0; c->head_out = 128;
    c->bn_eps = 1e-5f; c->bn_momentum = 0.1f;
}

GENREP_API void genrep_encoder_config_resnet18(genrep_encoder_config *c, int in_channels, int H, int W) {
    if (!c) return;
    genrep_encoder_config_small(c, in_channels, H, W);
    c->stem_width = 64;
    c->num_stages = 4;
    const int w[4] = {64, 128, 256, 512}, s[4] = {1, 2, 2, 2};
    for (int i = 0; i < 4; i++) { c->widths[i] = w[i]; c->blocks[i] = 2; c->strides[i] = s[i]; }
}

static genrep_status genrep__enc_check_config(const genrep_encoder_config *c, int max_batch) {
    const char *fn = "genrep_encoder_create";
    if (c->in_channels <= 0 || c->in_h <= 0 || c->in_w <= 0)
        return genrep__fail(GENREP_ERR_ARG, "%s: input (C,H,W) = (%d,%d,%d) must be > 0", fn,
                            c->in_channels, c->in_h, c->in_w);
    /* upper bounds keep every size below (channels * kernel taps, activations
       per image) inside an int, whatever a checkpoint's metadata asks for */
    if (c->in_channels > 4096 || c->in_h > 8192 || c->in_w > 8192)
        return genrep__fail(GENREP_ERR_ARG, "%s: input (C,H,W) = (%d,%d,%d) exceeds (4096,8192,8192)", fn,
                            c->in_channels, c->in_h, c->in_w);
    if (c->stem_width <= 0 || c->stem_width > 65536)
        return genrep__fail(GENREP_ERR_ARG, "%s: stem_width must be in 1..65536, got %d", fn, c->stem_width);
    if (c->head_hidden > (1 << 20) || c->head_out > (1 << 20) || max_batch > (1 << 20))
        return genrep__fail(GENREP_ERR_ARG, "%s: head_hidden %d, head_out %d, max_batch %d: each at most 1048576", fn,
                            c->head_hidden, c->head_out, max_batch);
    if (c->num_stages < 1 || c->num_stages > GENREP_ENCODER_MAX_STAGES)
        return genrep__fail(GENREP_ERR_ARG, "%s: num_stages must be 1..%d, got %d", fn,
                            GENREP_ENCODER_MAX_STAGES, c->num_stages);
    for (int s = 0; s < c->num_stages; s++) {
        if (c->widths[s] <= 0 || c->widths[s] > 65536 || c->strides[s] < 1 || c->strides[s] > 4 ||
            c->blocks[s] < 1 || c->blocks[s] > GENREP__ENC_MAX_BLOCKS_PER_STAGE)
            return genrep__fail(GENREP_ERR_ARG, "%s: stage %d: width %d (1..65536), stride %d (1..4), blocks %d (1..%d)",
                                fn, s, c->widths[s], c->strides[s], c->blocks[s], GENREP__ENC_MAX_BLOCKS_PER_STAGE);
    }
    if (c->head_hidden < 0 || c->head_out < 0)
        return genrep__fail(GENREP_ERR_ARG, "%s: head_hidden and head_out must be >= 0", fn);
    if (!(c->bn_eps > 0.0f) || !(c->bn_momentum >= 0.0f && c->bn_momentum <= 1.0f))
        return genrep__fail(GENREP_ERR_ARG, "%s: bn_eps must be > 0 and bn_momentum in [0,1]", fn);
    if (max_batch <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: max_batch must be > 0, got %d", fn, max_batch);
    return GENREP_OK;
}

/* Build state: running counters while units and tensors are laid out. */
typedef struct {
    genrep_encoder *e;
    struct genrep__encoder_plan *pl;
    int    nt;                 /* tensors so far */
    size_t ptrain, pbuf;       /* floats of trained tensors, of buffers */
    size_t acts;               /* activation floats */
    int    max_batch;
} genrep__enc_build;

static size_t genrep__enc_take(size_t *cursor, size_t n) {
    size_t at = *cursor;
    *cursor += (n + 15) & ~(size_t)15;  /* keep every buffer 64-byte aligned */
    return at;
}

/* Register a tensor (sizes only in pass 0; e->tensors filled in pass 1).
   Trained tensors are numbered from 0 in the params slab, buffers after. */
static int genrep__enc_tensor(genrep__enc_build *b, const char *name, int trainable, int kind, float scale,
                              int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    int i = b->nt++;
    int64_t shp[4] = {d0, d1, d2, d3};
    size_t numel = 1;
    for (int k = 0; k < ndim; k++) numel *= (size_t)shp[k];
    /* packed without padding (as PyTorch counts them); GEMM packs its operands anyway */
    size_t *cur = trainable ? &b->ptrain : &b->pbuf, off = *cur;
    *cur += numel;
    if (b->e->tensors) {
        genrep_param_info *t = &b->e->tensors[i];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", name);
        t->offset = off;            /* buffers are rebased after num_params is known */
        t->numel = numel;
        t->ndim = ndim;
        for (int k = 0; k < GENREP_MAX_DIMS; k++) t->shape[k] = k < ndim ? shp[k] : 1;
        t->is_buffer = !trainable;
        b->pl->init_kind[i] = kind;
        b->pl->init_scale[i] = scale;
    }
    return i;
}

static int genrep__enc_add_unit(genrep__enc_build *b, const char *conv_name, const char *bn_name,
                            int C, int H, int W, int K, int R, int stride, int pad, int relu) {
    struct genrep__encoder_plan *pl = b->pl;
    int ui = pl->n_units++;
    genrep__enc_unit *u = &pl->units[ui];
    u->C = C; u->H = H; u->W = W; u->K = K; u->R = R; u->S = R;
    u->stride = stride; u->pad = pad; u->relu = relu;
    u->P = (H + 2 * pad - R) / stride + 1;
    u->Q = (W + 2 * pad - R) / stride + 1;
    char nm[96];
    snprintf(nm, sizeof nm, "%s.weight", conv_name);
    u->t_w = genrep__enc_tensor(b, nm, 1, GENREP__INIT_KAIMING_OUT, sqrtf(2.0f / (float)(K * R * R)), 4, K, C, R, R);
    snprintf(nm, sizeof nm, "%s.weight", bn_name);
    u->t_gamma = genrep__enc_tensor(b, nm, 1, GENREP__INIT_ONE, 0, 1, K, 1, 1, 1);
    snprintf(nm, sizeof nm, "%s.bias", bn_name);
    u->t_beta = genrep__enc_tensor(b, nm, 1, GENREP__INIT_ZERO, 0, 1, K, 1, 1, 1);
    snprintf(nm, sizeof nm, "%s.running_mean", bn_name);
    u->t_rmean = genrep__enc_tensor(b, nm, 0, GENREP__INIT_ZERO, 0, 1, K, 1, 1, 1);
    snprintf(nm, sizeof nm, "%s.running_var", bn_name);
    u->t_rvar = genrep__enc_tensor(b, nm, 0, GENREP__INIT_ONE, 0, 1, K, 1, 1, 1);
    size_t n = (size_t)b->max_batch * K * u->P * u->Q;
    u->a_conv = genrep__enc_take(&b->acts, n);
    u->a_bn = genrep__enc_take(&b->acts, n);
    u->a_mean = genrep__enc_take(&b->acts, (size_t)K);
    u->a_rstd = genrep__enc_take(&b->acts, (size_t)K);
    if (n > pl->max_act) pl->max_act = n;
    return ui;
}

/* Lay the network out; pass 0 counts, pass 1 (e->tensors allocated) fills names. */
static genrep_status genrep__enc_layout(genrep_encoder *e, int max_batch) {
    const genrep_encoder_config *c = &e->cfg;
    struct genrep__encoder_plan *pl = e->plan;
    genrep__enc_build b = { e, pl, 0, 0, 0, 0, max_batch };
    pl->n_units = pl->n_blocks = 0;
    pl->max_act = 0;
    int C = c->in_channels, H = c->in_h, W = c->in_w;
    if (H + 2 < 3 || W + 2 < 3) return genrep__fail(GENREP_ERR_SHAPE, "genrep_encoder_create: input too small");
    int u = genrep__enc_add_unit(&b, "encoder.stem.0", "encoder.stem.1", C, H, W, c->stem_width, 3, 1, 1, 1);
    C = pl->units[u].K; H = pl->units[u].P; W = pl->units[u].Q;
    for (int s = 0; s < c->num_stages; s++)
        for (int k = 0; k < c->blocks[s]; k++) {
            int stride = k == 0 ? c->strides[s] : 1, K = c->widths[s];
            if (H + 2 < 3 || W + 2 < 3 || (H + 1) / stride < 1)
                return genrep__fail(GENREP_ERR_SHAPE, "genrep_encoder_create: stage %d block %d: input %dx%d too small",
                                    s + 1, k, H, W);
            if (pl->n_units + 3 > GENREP__ENC_MAX_UNITS || pl->n_blocks >= GENREP__ENC_MAX_BLOCKS)
                return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_create: too many blocks");
            char p[64], cn[96], bn[96];
            snprintf(p, sizeof p, "encoder.layer%d.%d", s + 1, k);
            genrep__enc_block *blk = &pl->blocks[pl->n_blocks++];
            snprintf(cn, sizeof cn, "%s.conv1", p); snprintf(bn, sizeof bn, "%s.bn1", p);
            blk->u1 = genrep__enc_add_unit(&b, cn, bn, C, H, W, K, 3, stride, 1, 1);
            int P = pl->units[blk->u1].P, Q = pl->units[blk->u1].Q;
            snprintf(cn, sizeof cn, "%s.conv2", p); snprintf(bn, sizeof bn, "%s.bn2", p);
            blk->u2 = genrep__enc_add_unit(&b, cn, bn, K, P, Q, K, 3, 1, 1, 0);
            blk->sc = -1;
            if (stride != 1 || C != K) {
                snprintf(cn, sizeof cn, "%s.shortcut.0", p); snprintf(bn, sizeof bn, "%s.shortcut.1", p);
                blk->sc = genrep__enc_add_unit(&b, cn, bn, C, H, W, K, 1, stride, 0, 0);
            }
            C = K; H = P; W = Q;
        }
    pl->F = C; pl->HWf = H * W;
    pl->has_head = c->head_out > 0;
    pl->Hd = c->head_hidden > 0 ? c->head_hidden : pl->F;
    pl->O = pl->has_head ? c->head_out : pl->F;
    if (pl->has_head) {
        float b1 = 1.0f / sqrtf((float)pl->F), b2 = 1.0f / sqrtf((float)pl->Hd);
        pl->t_w1 = genrep__enc_tensor(&b, "head.0.weight", 1, GENREP__INIT_UNIFORM, b1, 2, pl->Hd, pl->F, 1, 1);
        pl->t_b1 = genrep__enc_tensor(&b, "head.0.bias", 1, GENREP__INIT_UNIFORM, b1, 1, pl->Hd, 1, 1, 1);
        pl->t_w2 = genrep__enc_tensor(&b, "head.2.weight", 1, GENREP__INIT_UNIFORM, b2, 2, pl->O, pl->Hd, 1, 1);
        pl->t_b2 = genrep__enc_tensor(&b, "head.2.bias", 1, GENREP__INIT_UNIFORM, b2, 1, pl->O, 1, 1, 1);
    }
    size_t NB = (size_t)max_batch;
    pl->a_feat = genrep__enc_take(&b.acts, NB * pl->F);
    pl->a_h1 = genrep__enc_take(&b.acts, NB * pl->Hd);
    pl->a_e = genrep__enc_take(&b.acts, NB * pl->O);
    pl->a_out = genrep__enc_take(&b.acts, NB * pl->O);
    pl->a_norm = genrep__enc_take(&b.acts, NB);
    int mh = pl->F > pl->Hd ? pl->F : pl->Hd;
    if (pl->O > mh) mh = pl->O;
    pl->max_head = NB * mh;
    for (int i = 0; i < 4; i++) pl->a_g[i] = genrep__enc_take(&b.acts, pl->max_act);
    for (int i = 0; i < 2; i++) pl->a_gh[i] = genrep__enc_take(&b.acts, pl->max_head);
    e->num_tensors = b.nt;
    e->num_params = b.ptrain;
    e->num_buffers = b.pbuf;
    e->acts_floats = b.acts;
    e->feat_dim = pl->F;
    e->out_dim = pl->O;
    return GENREP_OK;
}

GENREP_API genrep_status genrep_encoder_set_precision(genrep_encoder *e, genrep_precision p) {
    GENREP__CHECK_PTR(e);
    if (p != GENREP_PRECISION_FP32 && p != GENREP_PRECISION_BF16)
        return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_set_precision: precision %d, expected "
                            "GENREP_PRECISION_FP32 (0) or GENREP_PRECISION_BF16 (1)", (int)p);
    e->precision = (int)p;
    return GENREP_OK;
}

GENREP_API genrep_status genrep_encoder_set_share(genrep_encoder *e, int share, int groups) {
    GENREP__CHECK_PTR(e);
    if (!e->plan) return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_set_share: encoder not created");
    if (share < 0 || groups < 1 || e->max_batch % groups)
        return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_set_share: share %d, groups %d: expected share >= 0 and "
                            "groups >= 1 dividing max_batch %d", share, groups, e->max_batch);
    struct genrep__encoder_plan *pl = e->plan;
    size_t need = 0;
    if (share) {
        const unsigned L = (unsigned)((e->max_batch / groups + share - 1) / share);
        for (int u = 0; u < pl->n_units; u++) {
            const genrep__enc_unit *un = &pl->units[u];
            genrep_conv2d_desc d;
            genrep_status st = genrep_conv2d_init(&d, e->max_batch, un->C, un->H, un->W, un->K, un->R, un->S,
                                                  un->stride, un->pad);
            if (st) return st;
            size_t w = genrep__conv2d_tree_ws(&d, groups, share);
            if (w > need) need = w;
        }
        if (pl->has_head) {
            size_t h1 = (size_t)pl->Hd * pl->F + pl->Hd, h2 = (size_t)pl->O * pl->Hd + pl->O;
            size_t w = (size_t)genrep__tree_levels(L) * (h1 > h2 ? h1 : h2);
            if (w > need) need = w;
        }
    }
    if (need > pl->tree_floats) {
        float *t = (float *)genrep_alloc(need * sizeof(float));
        if (!t) return genrep__fail(GENREP_ERR_NOMEM, "genrep_encoder_set_share: cannot allocate %zu MiB for share %d",
                                    (need * sizeof(float)) >> 20, share);
        genrep_free(pl->tree);
        pl->tree = t;
        pl->tree_floats = need;
    }
    e->share = share;
    e->share_groups = groups;
    return GENREP_OK;
}

GENREP_API void genrep_encoder_free(genrep_encoder *e) {
    if (!e) return;
    if (e->plan) {
        genrep_free(e->plan->init_kind); genrep_free(e->plan->init_scale); genrep_free(e->plan->bn_sums);
        genrep_free(e->plan->tree);
    }
    genrep_free(e->plan);
    genrep_free(e->params);
    genrep_free(e->grads);
    genrep_free(e->tensors);
    genrep_free(e->acts);
    genrep_free(e->ws);
    memset(e, 0, sizeof *e);
}

GENREP_API genrep_status genrep_encoder_init(genrep_encoder *e, uint64_t seed) {
    GENREP__CHECK_PTR(e);
    if (!e->plan || !e->params) return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_init: encoder not created");
    /* one Philox stream per tensor (its table index): a tensor's values do
       not depend on the other tensors' sizes */
    for (int i = 0; i < e->num_tensors; i++) {
        const genrep_param_info *t = &e->tensors[i];
        float *p = e->params + t->offset, sc = e->plan->init_scale[i];
        genrep_rng r;
        genrep_rng_init(&r, seed, (uint64_t)i);
        switch (e->plan->init_kind[i]) {
        case GENREP__INIT_KAIMING_OUT: for (size_t k = 0; k < t->numel; k++) p[k] = sc * genrep_rng_normal(&r); break;
        case GENREP__INIT_UNIFORM: for (size_t k = 0; k < t->numel; k++) p[k] = sc * (2.0f * genrep_rng_uniform(&r) - 1.0f); break;
        case GENREP__INIT_ONE: for (size_t k = 0; k < t->numel; k++) p[k] = 1.0f; break;
        default: for (size_t k = 0; k < t->numel; k++) p[k] = 0.0f; break;
        }
    }
    return GENREP_OK;
}

GENREP_API genrep_status genrep_encoder_sizes(const genrep_encoder_config *cfg, int max_batch, size_t *num_params,
                                              size_t *num_buffers, size_t *act_floats) {
    GENREP__CHECK_PTR(cfg);
    genrep_status st = genrep__enc_check_config(cfg, max_batch);
    if (st) return st;
    genrep_encoder e;
    memset(&e, 0, sizeof e);
    e.cfg = *cfg;
    e.max_batch = max_batch;
    e.plan = (struct genrep__encoder_plan *)genrep_alloc(sizeof *e.plan);
    if (!e.plan) return genrep__fail(GENREP_ERR_NOMEM, "genrep_encoder_sizes: cannot allocate the plan");
    memset(e.plan, 0, sizeof *e.plan);
    st = genrep__enc_layout(&e, max_batch); /* no table yet: counts only */
    if (!st) {
        if (num_params) *num_params = e.num_params;
        if (num_buffers) *num_buffers = e.num_buffers;
        if (act_floats) *act_floats = e.acts_floats;
    }
    genrep_free(e.plan);
    return st;
}

GENREP_API genrep_status genrep_encoder_create(genrep_encoder *e, const genrep_encoder_config *cfg,
                                               int max_batch, uint64_t seed) {
    GENREP__CHECK_PTR(e); GENREP__CHECK_PTR(cfg);
    memset(e, 0, sizeof *e);
    genrep_status st = genrep__enc_check_config(cfg, max_batch);
    if (st) return st;
    e->cfg = *cfg;
    e->max_batch = max_batch;
    e->share_groups = 1;
    e->plan = (struct genrep__encoder_plan *)genrep_alloc(sizeof *e->plan);
    if (!e->plan) return genrep__fail(GENREP_ERR_NOMEM, "genrep_encoder_create: cannot allocate the plan");
    memset(e->plan, 0, sizeof *e->plan);
    if ((st = genrep__enc_layout(e, max_batch))) { genrep_encoder_free(e); return st; }
    /* pass 1: the table */
    e->tensors = (genrep_param_info *)genrep_alloc((size_t)e->num_tensors * sizeof *e->tensors);
    e->plan->init_kind = (int *)genrep_alloc((size_t)e->num_tensors * sizeof(int));
    e->plan->init_scale = (float *)genrep_alloc((size_t)e->num_tensors * sizeof(float));
    if (!e->tensors || !e->plan->init_kind || !e->plan->init_scale) {
        genrep_encoder_free(e);
        return genrep__fail(GENREP_ERR_NOMEM, "genrep_encoder_create: cannot allocate the tensor table");
    }
    genrep__enc_layout(e, max_batch);
    /* buffers live after the trained tensors; trained tensors first in the table */
    {
        genrep_param_info *tmp = (genrep_param_info *)genrep_alloc((size_t)e->num_tensors * sizeof *tmp);
        int *kind = (int *)genrep_alloc((size_t)e->num_tensors * sizeof(int));
        float *scale = (float *)genrep_alloc((size_t)e->num_tensors * sizeof(float));
        int *where = (int *)genrep_alloc((size_t)e->num_tensors * sizeof(int));
        if (!tmp || !kind || !scale || !where) {
            genrep_free(tmp); genrep_free(kind); genrep_free(scale); genrep_free(where);
            genrep_encoder_free(e);
            return genrep__fail(GENREP_ERR_NOMEM, "genrep_encoder_create: cannot allocate the tensor table");
        }
        int j = 0;
        for (int pass = 1; pass >= 0; pass--)
            for (int i = 0; i < e->num_tensors; i++)
                if ((!e->tensors[i].is_buffer) == pass) {
                    tmp[j] = e->tensors[i];
                    if (!pass) tmp[j].offset += e->num_params;
                    kind[j] = e->plan->init_kind[i]; scale[j] = e->plan->init_scale[i];
                    where[i] = j++;
                }
        memcpy(e->tensors, tmp, (size_t)e->num_tensors * sizeof *tmp);
        memcpy(e->plan->init_kind, kind, (size_t)e->num_tensors * sizeof(int));
        memcpy(e->plan->init_scale, scale, (size_t)e->num_tensors * sizeof(float));
        struct genrep__encoder_plan *pl = e->plan;
        for (int u = 0; u < pl->n_units; u++) {
            genrep__enc_unit *un = &pl->units[u];
            un->t_w = where[un->t_w]; un->t_gamma = where[un->t_gamma]; un->t_beta = where[un->t_beta];
            un->t_rmean = where[un->t_rmean]; un->t_rvar = where[un->t_rvar];
        }
        if (pl->has_head) {
            pl->t_w1 = where[pl->t_w1]; pl->t_b1 = where[pl->t_b1];
            pl->t_w2 = where[pl->t_w2]; pl->t_b2 = where[pl->t_b2];
        }
        genrep_free(tmp); genrep_free(kind); genrep_free(scale); genrep_free(where);
    }
    /* conv workspace: the largest any conv needs at max_batch */
    size_t ws = 0;
    int maxk = 1;
    for (int u = 0; u < e->plan->n_units; u++) if (e->plan->units[u].K > maxk) maxk = e->plan->units[u].K;
    e->plan->bn_sums = (double *)genrep_alloc((2 * (size_t)maxk + 1) * sizeof(double));
    if (!e->plan->bn_sums) {
        genrep_encoder_free(e);
        return genrep__fail(GENREP_ERR_NOMEM, "genrep_encoder_create: cannot allocate the BN sums");
    }
    for (int u = 0; u < e->plan->n_units; u++) {
        const genrep__enc_unit *un = &e->plan->units[u];
        genrep_conv2d_desc d;
        if ((st = genrep_conv2d_init(&d, max_batch, un->C, un->H, un->W, un->K, un->R, un->S, un->stride, un->pad))) {
            genrep_encoder_free(e);
            return st;
        }
        size_t w = genrep_conv2d_workspace(&d);
        if (w > ws) ws = w;
    }
    e->ws_floats = ws;
    e->params = (float *)genrep_alloc((e->num_params + e->num_buffers) * sizeof(float));
    e->grads = (float *)genrep_alloc(e->num_params * sizeof(float));
    e->acts = (float *)genrep_alloc(e->acts_floats * sizeof(float));
    e->ws = (float *)genrep_alloc((ws ? ws : 1) * sizeof(float));
    if (!e->params || !e->grads || !e->acts || !e->ws) {
        size_t total = (e->num_params * 2 + e->num_buffers + e->acts_floats + ws) * sizeof(float);
        genrep_encoder_free(e);
        return genrep__fail(GENREP_ERR_NOMEM, "genrep_encoder_create: cannot allocate %zu MiB for max_batch %d",
                            total >> 20, max_batch);
    }
    memset(e->grads, 0, e->num_params * sizeof(float));
    memset(e->acts, 0, e->acts_floats * sizeof(float));
    return genrep_encoder_init(e, seed);
}

GENREP_API void genrep_encoder_zero_grad(genrep_encoder *e) {
    if (e && e->grads) memset(e->grads, 0, e->num_params * sizeof(float));
}

GENREP_API const genrep_param_info *genrep_encoder_param(const genrep_encoder *e, const char *name) {
    if (!e || !name || !e->tensors) return NULL;
    for (int i = 0; i < e->num_tensors; i++)
        if (!strcmp(e->tensors[i].name, name)) return &e->tensors[i];
    return NULL;
}

/* x = relu(x) in place (the head's hidden layer; the convs' ReLUs are fused into their BN). Elementwise, so any thread split gives the same bits. */
static void genrep__enc_relu_inplace(float *x, size_t n) {
GENREP__ENC_PARFOR(n)
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
/* g = 0 where the ReLU output y is 0 (the gradient of y = relu(x), in place) */
static void genrep__enc_relu_mask(float *g, const float *y, size_t n) {
GENREP__ENC_PARFOR(n)
    for (size_t i = 0; i < n; i++) if (!(y[i] > 0.0f)) g[i] = 0.0f;
}
static void genrep__enc_zero(genrep_encoder *e, float *p, size_t n) {
    double t0 = e->plan->profiling ? genrep__enc_now() : 0;
GENREP__ENC_PARFOR(n)
    for (size_t i = 0; i < n; i++) p[i] = 0.0f;
    if (e->plan->profiling) e->plan->prof_zero += genrep__enc_now() - t0;
}

/* A unit's conv, then its BN fused with what follows it: + res (the block's
   shortcut, or NULL) and ReLU if relu. */
static genrep_status genrep__enc_unit_forward(genrep_encoder *e, int ui, const float *inp, int N, int training,
                                              const float *res, int relu) {
    struct genrep__encoder_plan *pl = e->plan;
    const genrep__enc_unit *u = &pl->units[ui];
    genrep_conv2d_desc d;
    genrep_status st = genrep_conv2d_init(&d, N, u->C, u->H, u->W, u->K, u->R, u->S, u->stride, u->pad);
    if (st) return st;
    d.precision = e->precision;
    if (genrep_conv2d_workspace(&d) > e->ws_floats)
        return genrep__fail(GENREP_ERR_SHAPE, "genrep_encoder_forward: conv workspace too small for N=%d", N);
    float *c = e->acts + u->a_conv, *y = e->acts + u->a_bn;
    const genrep_param_info *T = e->tensors;
    double t0 = pl->profiling ? genrep__enc_now() : 0, t1 = 0;
    if ((st = genrep_conv2d_forward(c, e->ws, inp, e->params + T[u->t_w].offset, NULL, &d))) return st;
    if (pl->profiling) { t1 = genrep__enc_now(); pl->prof[ui][GENREP__PROF_CONV_F] += t1 - t0; }
    const double *gs = NULL;
    if (training && e->bn_sync) { /* whole-batch statistics over the processes (by the share tree in share mode) */
        double *v = pl->bn_sums;
        if (e->share) genrep__bn_act_sums_tree(v, c, N, u->K, u->P * u->Q, e->share_groups, e->share);
        else genrep__bn_act_sums(v, c, N, u->K, u->P * u->Q);
        v[2 * u->K] = (double)N * u->P * u->Q;
        if ((st = e->bn_sync(e->bn_sync_user, v, 2 * u->K + 1))) return st;
        gs = v;
    }
    st = genrep__bn_act_forward(y, e->acts + u->a_mean, e->acts + u->a_rstd,
                                e->params + T[u->t_rmean].offset, e->params + T[u->t_rvar].offset, c,
                                e->params + T[u->t_gamma].offset, e->params + T[u->t_beta].offset, res, relu,
                                N, u->K, u->P * u->Q, e->cfg.bn_eps, e->cfg.bn_momentum, training, gs,
                                e->share_groups, e->share);
    if (st) return st;
    if (pl->profiling) pl->prof[ui][GENREP__PROF_BN_F] += genrep__enc_now() - t1;
    return GENREP_OK;
}

/* dinp (+)= d(unit)/d(inp) . g, where g (N,K,P,Q) is the gradient w.r.t.
   the unit's output: act NULL, g is w.r.t. the BN output (already masked by
   any ReLU); else act is the unit's ReLU output and the mask is applied
   here. dinp_acc: += (else =, for the first write into a buffer). gbn is scratch. */
static genrep_status genrep__enc_unit_backward(genrep_encoder *e, int ui, float *dinp, float *gbn,
                                               const float *g, const float *act, const float *inp, int N,
                                               int training, int dinp_acc) {
    struct genrep__encoder_plan *pl = e->plan;
    const genrep__enc_unit *u = &pl->units[ui];
    const genrep_param_info *T = e->tensors;
    genrep_conv2d_desc d;
    genrep_status st = genrep_conv2d_init(&d, N, u->C, u->H, u->W, u->K, u->R, u->S, u->stride, u->pad);
    if (st) return st;
    d.precision = e->precision;
    double t0 = pl->profiling ? genrep__enc_now() : 0, t1 = 0;
    const double *gs = NULL;
    float *dgamma = e->grads + T[u->t_gamma].offset, *dbeta = e->grads + T[u->t_beta].offset;
    if (training && e->share && e->bn_sync) { /* the share tree; dgamma, dbeta from the whole batch's sums (on one process) */
        double *v = pl->bn_sums;
        const int K = u->K;
        genrep__bn_act_dsums_tree(v, g, act, e->acts + u->a_conv, e->acts + u->a_mean, e->acts + u->a_rstd, N, K,
                                  u->P * u->Q, e->share_groups, e->share);
        v[2 * K] = (double)N * u->P * u->Q;
        if (e->bn_sync && (st = e->bn_sync(e->bn_sync_user, v, 2 * K + 1))) return st;
        if (!e->bn_sync || e->bn_sync_rank == 0)
            for (int c = 0; c < K; c++) { dgamma[c] += (float)v[K + c]; dbeta[c] += (float)v[c]; }
        gs = v;
    } else if (training && e->bn_sync) { /* local dgamma, dbeta; whole-batch sums for dinp */
        double *v = pl->bn_sums;
        genrep__bn_act_dsums(v, e->grads + T[u->t_gamma].offset, e->grads + T[u->t_beta].offset, g, act,
                             e->acts + u->a_conv, e->acts + u->a_mean, e->acts + u->a_rstd, N, u->K, u->P * u->Q);
        v[2 * u->K] = (double)N * u->P * u->Q;
        if ((st = e->bn_sync(e->bn_sync_user, v, 2 * u->K + 1))) return st;
        gs = v;
    }
    /* gbn is overwritten (no zeroing pass) */
    st = genrep__bn_act_backward(gbn, e->grads + T[u->t_gamma].offset, e->grads + T[u->t_beta].offset, g, act,
                                 e->acts + u->a_conv, e->params + T[u->t_gamma].offset,
                                 e->acts + u->a_mean, e->acts + u->a_rstd, N, u->K, u->P * u->Q, training, 0, gs,
                                 e->share_groups, e->share);
    if (st) return st;
    if (pl->profiling) { t1 = genrep__enc_now(); pl->prof[ui][GENREP__PROF_BN_B] += t1 - t0; }
    if (training && e->share) { /* the data gradient as usual, the weight gradient by the share tree */
        st = genrep__conv2d_backward_impl(dinp, NULL, NULL, e->ws, gbn, inp, e->params + T[u->t_w].offset, &d, dinp_acc);
        if (!st) st = genrep__conv2d_dweight_tree(e->grads + T[u->t_w].offset, pl->tree, gbn, inp, &d,
                                                  e->share_groups, e->share);
    } else
        st = genrep__conv2d_backward_impl(dinp, e->grads + T[u->t_w].offset, NULL, e->ws, gbn, inp,
                                          e->params + T[u->t_w].offset, &d, dinp_acc);
    if (pl->profiling) pl->prof[ui][GENREP__PROF_CONV_B] += genrep__enc_now() - t1;
    return st;
}

GENREP_API genrep_status genrep_encoder_forward(genrep_encoder *e, const float *inp, int N, int training) {
    GENREP__CHECK_PTR(e); GENREP__CHECK_PTR(inp);
    if (!e->plan) return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_forward: encoder not created");
    if (N <= 0 || N > e->max_batch)
        return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_forward: N=%d outside 1..max_batch=%d", N, e->max_batch);
    if (training && e->share && N % e->share_groups)
        return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_forward: N=%d is not a multiple of the share groups %d",
                            N, e->share_groups);
    struct genrep__encoder_plan *pl = e->plan;
    const genrep_param_info *T = e->tensors;
    genrep_status st;
    e->last_n = 0;
    if ((st = genrep__enc_unit_forward(e, 0, inp, N, training, NULL, pl->units[0].relu))) return st;
    const float *cur = e->acts + pl->units[0].a_bn;
    for (int bi = 0; bi < pl->n_blocks; bi++) {
        const genrep__enc_block *b = &pl->blocks[bi];
        if ((st = genrep__enc_unit_forward(e, b->u1, cur, N, training, NULL, pl->units[b->u1].relu))) return st;
        /* the shortcut first, so the second unit's BN can add it and apply
           the block's ReLU in the same pass (u2 has no ReLU of its own) */
        const float *s = cur;
        if (b->sc >= 0) {
            if ((st = genrep__enc_unit_forward(e, b->sc, cur, N, training, NULL, pl->units[b->sc].relu))) return st;
            s = e->acts + pl->units[b->sc].a_bn;
        }
        if ((st = genrep__enc_unit_forward(e, b->u2, e->acts + pl->units[b->u1].a_bn, N, training, s, 1)))
            return st;
        cur = e->acts + pl->units[b->u2].a_bn;
    }
    double t0 = pl->profiling ? genrep__enc_now() : 0;
    float *feat = e->acts + pl->a_feat;
    if ((st = genrep_avgpool_forward(feat, cur, N, pl->F, pl->HWf))) return st;
    double t1 = pl->profiling ? genrep__enc_now() : 0;
    pl->prof_pool += t1 - t0;
    e->features = feat;
    e->out = feat;
    if (pl->has_head) {
        float *h1 = e->acts + pl->a_h1, *z = e->acts + pl->a_e, *out = e->acts + pl->a_out;
        if ((st = genrep__linear_forward_p(h1, feat, e->params + T[pl->t_w1].offset, e->params + T[pl->t_b1].offset,
                                           N, pl->F, pl->Hd, e->precision))) return st;
        genrep__enc_relu_inplace(h1, (size_t)N * pl->Hd);
        if ((st = genrep__linear_forward_p(z, h1, e->params + T[pl->t_w2].offset, e->params + T[pl->t_b2].offset,
                                           N, pl->Hd, pl->O, e->precision))) return st;
        if ((st = genrep_l2norm_forward(out, e->acts + pl->a_norm, z, N, pl->O, 1e-12f))) return st;
        e->out = out;
    }
    if (pl->profiling) { pl->prof_head += genrep__enc_now() - t1; pl->prof_fwd_calls++; }
    e->last_n = N;
    e->last_training = training;
    e->last_inp = inp;
    return GENREP_OK;
}

GENREP_API genrep_status genrep_encoder_backward(genrep_encoder *e, float *dinp, const float *dout) {
    GENREP__CHECK_PTR(e); GENREP__CHECK_PTR(dout);
    if (!e->plan || e->last_n <= 0)
        return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_backward: no forward pass to differentiate");
    struct genrep__encoder_plan *pl = e->plan;
    const genrep_param_info *T = e->tensors;
    const int N = e->last_n, tr = e->last_training;
    genrep_status st;
    float *G[4];
    for (int i = 0; i < 4; i++) G[i] = e->acts + pl->a_g[i];
    /* head: dfeat (N, F) */
    double t0 = pl->profiling ? genrep__enc_now() : 0;
    const float *dfeat = dout;
    if (pl->has_head) {
        float *dz = e->acts + pl->a_gh[0], *dh = e->acts + pl->a_gh[1];
        const float *h1 = e->acts + pl->a_h1;
        memset(dz, 0, (size_t)N * pl->O * sizeof(float));
        if ((st = genrep_l2norm_backward(dz, dout, e->acts + pl->a_out, e->acts + pl->a_norm, N, pl->O))) return st;
        /* share mode: the weight and bias gradients by the share tree, the data gradient as usual */
        const int sh = tr && e->share;
        float *dw2 = e->grads + T[pl->t_w2].offset, *db2 = e->grads + T[pl->t_b2].offset;
        float *dw1 = e->grads + T[pl->t_w1].offset, *db1 = e->grads + T[pl->t_b1].offset;
        memset(dh, 0, (size_t)N * pl->Hd * sizeof(float));
        if ((st = genrep__linear_backward_p(dh, sh ? NULL : dw2, sh ? NULL : db2, dz, h1,
                                            e->params + T[pl->t_w2].offset, N, pl->Hd, pl->O, e->precision)))
            return st;
        if (sh && (st = genrep__linear_dweight_tree(dw2, db2, pl->tree, dz, h1, N, pl->Hd, pl->O, e->precision,
                                                    e->share_groups, e->share))) return st;
        genrep__enc_relu_mask(dh, h1, (size_t)N * pl->Hd);
        memset(dz, 0, (size_t)N * pl->F * sizeof(float));
        if ((st = genrep__linear_backward_p(dz, sh ? NULL : dw1, sh ? NULL : db1, dh,
                                            e->acts + pl->a_feat, e->params + T[pl->t_w1].offset,
                                            N, pl->F, pl->Hd, e->precision))) return st;
        if (sh && (st = genrep__linear_dweight_tree(dw1, db1, pl->tree, dh, e->acts + pl->a_feat, N, pl->F, pl->Hd,
                                                    e->precision, e->share_groups, e->share))) return st;
        dfeat = dz;
    }
    double t1 = pl->profiling ? genrep__enc_now() : 0;
    pl->prof_head += t1 - t0;
    /* pool: G[0] = d(last block output) */
    const genrep__enc_unit *last = &pl->units[pl->n_blocks ? pl->blocks[pl->n_blocks - 1].u2 : 0];
    genrep__enc_zero(e, G[0], (size_t)N * last->K * last->P * last->Q);
    if ((st = genrep_avgpool_backward(G[0], dfeat, N, pl->F, pl->HWf))) return st;
    if (pl->profiling) pl->prof_pool += genrep__enc_now() - t1;
    float *gcur = G[0], *ga = G[1], *gb = G[2], *gx = G[3];
    for (int bi = pl->n_blocks - 1; bi >= 0; bi--) {
        const genrep__enc_block *b = &pl->blocks[bi];
        const genrep__enc_unit *u1 = &pl->units[b->u1], *u2 = &pl->units[b->u2];
        const float *bin = e->acts + (bi ? pl->units[pl->blocks[bi - 1].u2].a_bn : pl->units[0].a_bn);
        size_t nout = (size_t)N * u2->K * u2->P * u2->Q, nin = (size_t)N * u1->C * u1->H * u1->W;
        double ts = pl->profiling ? genrep__enc_now() : 0;
        genrep__enc_relu_mask(gcur, e->acts + u2->a_bn, nout);   /* through the block's ReLU */
        if (pl->profiling) pl->prof_elem += genrep__enc_now() - ts;
        /* second unit: ga = d(u1 output), written (not added: no zeroing pass) */
        if ((st = genrep__enc_unit_backward(e, b->u2, ga, gb, gcur, NULL, e->acts + u1->a_bn, N, tr, 0))) return st;
        /* first unit: gx = d(block input), written; u1's ReLU is masked inside its BN backward */
        if ((st = genrep__enc_unit_backward(e, b->u1, gx, gb, ga, e->acts + u1->a_bn, bin, N, tr, 0))) return st;
        if (b->sc >= 0) {
            if ((st = genrep__enc_unit_backward(e, b->sc, gx, gb, gcur, NULL, bin, N, tr, 1))) return st;
        } else {
            ts = pl->profiling ? genrep__enc_now() : 0;
            if ((st = genrep_add_backward(gx, NULL, gcur, nin))) return st;
            if (pl->profiling) pl->prof_elem += genrep__enc_now() - ts;
        }
        float *t = gcur; gcur = gx; gx = t;
    }
    /* stem */
    const genrep__enc_unit *s0 = &pl->units[0];
    if ((st = genrep__enc_unit_backward(e, 0, dinp, gb, gcur, e->acts + s0->a_bn, e->last_inp, N, tr, 1))) return st;
    if (pl->profiling) pl->prof_bwd_calls++;
    return GENREP_OK;
}

GENREP_API genrep_status genrep_encoder_features(float *feats, genrep_encoder *e, const float *inp, int N) {
    GENREP__CHECK_PTR(feats); GENREP__CHECK_PTR(e); GENREP__CHECK_PTR(inp);
    GENREP__CHECK_NONNEG(N);
    if (!e->plan) return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_features: encoder not created");
    const size_t chw = (size_t)e->cfg.in_channels * e->cfg.in_h * e->cfg.in_w;
    for (int n0 = 0; n0 < N; n0 += e->max_batch) {
        int m = N - n0 < e->max_batch ? N - n0 : e->max_batch;
        genrep_status st = genrep_encoder_forward(e, inp + (size_t)n0 * chw, m, 0);
        if (st) return st;
        memcpy(feats + (size_t)n0 * e->feat_dim, e->features, (size_t)m * e->feat_dim * sizeof(float));
    }
    e->last_n = 0;  /* the chunks are not one batch: nothing to differentiate */
    return GENREP_OK;
}

GENREP_API void genrep_encoder_profile(genrep_encoder *e, int on) {
    if (e && e->plan) e->plan->profiling = on;
}

GENREP_API int genrep_encoder_profile_report(genrep_encoder *e, char *buf, size_t n) {
    if (!e || !e->plan || !buf || !n) return 0;
    struct genrep__encoder_plan *pl = e->plan;
    double nf = pl->prof_fwd_calls ? pl->prof_fwd_calls : 1, nb = pl->prof_bwd_calls ? pl->prof_bwd_calls : 1;
    size_t at = 0;
#define GENREP__ENC_PR(...) do { if (at < n) { int k_ = snprintf(buf + at, n - at, __VA_ARGS__); if (k_ > 0) at += (size_t)k_; } } while (0)
    GENREP__ENC_PR("%-34s %9s %9s %9s %9s  (ms per call; %d fwd, %d bwd)\n", "layer", "conv_f", "bn_f", "conv_b",
                   "bn_b", pl->prof_fwd_calls, pl->prof_bwd_calls);
    double tot[4] = {0};
    for (int u = 0; u < pl->n_units; u++) {
        const genrep__enc_unit *un = &pl->units[u];
        char nm[64];
        snprintf(nm, sizeof nm, "%s", e->tensors[un->t_w].name);
        char *dot = strrchr(nm, '.');
        if (dot) *dot = 0;
        GENREP__ENC_PR("%-24s %2dx%-2d %2dx%-2d %9.2f %9.2f %9.2f %9.2f\n", nm + (strncmp(nm, "encoder.", 8) ? 0 : 8),
                       un->K, un->P, un->C, un->R, 1e3 * pl->prof[u][0] / nf, 1e3 * pl->prof[u][1] / nf,
                       1e3 * pl->prof[u][2] / nb, 1e3 * pl->prof[u][3] / nb);
        for (int k = 0; k < 4; k++) tot[k] += pl->prof[u][k] / (k < 2 ? nf : nb);
    }
    GENREP__ENC_PR("%-34s %9.2f %9.2f %9.2f %9.2f\n", "total conv/bn", 1e3 * tot[0], 1e3 * tot[1], 1e3 * tot[2], 1e3 * tot[3]);
    GENREP__ENC_PR("pool %.2f  head %.2f  add/relu/mask %.2f  zeroing %.2f  (ms per fwd+bwd)\n",
                   1e3 * pl->prof_pool / nf, 1e3 * pl->prof_head / nf, 1e3 * pl->prof_elem / nf,
                   1e3 * pl->prof_zero / nb);
#undef GENREP__ENC_PR
    memset(pl->prof, 0, sizeof pl->prof);
    pl->prof_pool = pl->prof_head = pl->prof_elem = pl->prof_zero = 0;
    pl->prof_fwd_calls = pl->prof_bwd_calls = 0;
    return (int)(at < n ? at : n - 1);
}

/* ---------------------------------------------------------------- [LOSS] */
/* NT-Xent and SupCon share one kernel: NT-Xent is SupCon where every sample
   is its own class. With N = 2B rows, n_i = |P(i)|, s the scale:
     forward   logits = Z Z^T / tau               (GEMM, N x N x D)
               per row: m = max_{j!=i} l_ij, S = sum_{j!=i} exp(l_ij - m),
               p_ij = exp(l_ij - m) / S (p_ii = 0), lse_i = m + log S
               L_i = -s/n_i * sum_{j in P(i)} (l_ij - lse_i)
     backward  dL/dl_ij = s/N * (p_ij - [j in P(i)]/n_i) =: G_ij   (G_ii = 0)
               dZ = (G + G^T) Z / tau              (GEMM, N x D x N)
   Workspace (floats): [0, N*N) logits then p, [N*N, 2*N*N) the symmetric
   G + G^T, [2*N*N, 2*N*N + N) per-row losses (summed in row order, so the
   loss does not depend on the thread count). */

static size_t genrep__contrastive_ws(int B) {
    size_t N = 2 * (size_t)(B > 0 ? B : 0);
    return 2 * N * N + N;
}
GENREP_API size_t genrep_ntxent_workspace(int B) { return genrep__contrastive_ws(B); }
GENREP_API size_t genrep_supcon_workspace(int B) { return genrep__contrastive_ws(B); }

/* label of row r: the class, or the sample index for NT-Xent (labels NULL) */
static inline int32_t genrep__row_label(const int32_t *labels, int r, int B) {
    int s = r < B ? r : r - B;
    return labels ? labels[s] : (int32_t)s;
}

static genrep_status genrep__contrastive_check(const char *fn, const void *out, const float *ws, const float *z,
                                               int B, int D, float tau, int flags) {
    if (!out) return genrep__fail(GENREP_ERR_ARG, "%s: output pointer is NULL", fn);
    if (!ws) return genrep__fail(GENREP_ERR_ARG, "%s: workspace is NULL (size: genrep_*_workspace(B))", fn);
    if (!z) return genrep__fail(GENREP_ERR_ARG, "%s: z is NULL", fn);
    if (B <= 0 || D <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: B and D must be > 0, got B=%d D=%d", fn, B, D);
    if (B > 23170) return genrep__fail(GENREP_ERR_ARG, "%s: B=%d too large (2B x 2B logits)", fn, B);
    if (!(tau > 0.0f) || !isfinite(tau)) return genrep__fail(GENREP_ERR_ARG, "%s: tau must be > 0, got %g", fn, (double)tau);
    if (flags & ~GENREP_LOSS_SCALE_BASE_TAU) return genrep__fail(GENREP_ERR_ARG, "%s: unknown flags 0x%x", fn, flags);
    return GENREP_OK;
}

/* Row i of the contrastive loss on its logits l (N wide, the diagonal
   ignored): returns the row's loss and leaves in l the softmax over j != i
   (0 at i). npos >= 1 always: the other view of sample i shares its label. */
static float genrep__contrastive_row(float *l, int i, const int32_t *labels, int B, int N, float s) {
    int32_t yi = genrep__row_label(labels, i, B);
    float m = -INFINITY;
    for (int j = 0; j < N; j++)
        if (j != i && l[j] > m) m = l[j];
    double S = 0.0, pos = 0.0;
    int npos = 0;
    for (int j = 0; j < N; j++) {
        if (j == i) continue;
        S += exp((double)l[j] - m);
        if (genrep__row_label(labels, j, B) == yi) { pos += (double)l[j] - m; npos++; }
    }
    double logS = log(S);
    float loss = (float)(-(double)s * (pos / npos - logS));
    for (int j = 0; j < N; j++) l[j] = j == i ? 0.0f : (float)(exp((double)l[j] - m) / S);
    return loss;
}

static genrep_status genrep__contrastive_forward(const char *fn, float *loss, float *ws, const float *z,
                                                 const int32_t *labels, int B, int D, float tau, int flags) {
    genrep_status st = genrep__contrastive_check(fn, loss, ws, z, B, D, tau, flags);
    if (st) return st;
    const int N = 2 * B;
    const size_t NN = (size_t)N * N;
    float *P = ws, *rowloss = ws + 2 * NN;
    const float s = (flags & GENREP_LOSS_SCALE_BASE_TAU) ? tau / GENREP_LOSS_BASE_TAU : 1.0f;
    /* logits = Z Z^T / tau */
    st = genrep_sgemm(0, 1, N, N, D, 1.0f / tau, z, D, z, D, 0.0f, P, N);
    if (st) return st;
    int bad = 0;
GENREP__OMP(omp parallel for schedule(static) reduction(| : bad) if (N >= 64))
    for (int i = 0; i < N; i++) {
        float *l = P + (size_t)i * N;
        rowloss[i] = genrep__contrastive_row(l, i, labels, B, N, s);
        if (!isfinite(rowloss[i])) bad = 1;
    }
    double acc = 0.0;
    for (int i = 0; i < N; i++) acc += rowloss[i];
    *loss = (float)(acc / N);
    if (bad) return genrep__fail(GENREP_ERR_NONFINITE, "%s: non-finite loss (NaN/Inf in z?)", fn);
    return GENREP_OK;
}

static genrep_status genrep__contrastive_backward(const char *fn, float *dz, float *ws, const float *z,
                                                  const int32_t *labels, int B, int D, float tau, int flags,
                                                  float dloss) {
    genrep_status st = genrep__contrastive_check(fn, dz, ws, z, B, D, tau, flags);
    if (st) return st;
    const int N = 2 * B;
    const size_t NN = (size_t)N * N;
    const float *P = ws;
    float *G = ws + NN;
    const float s = (flags & GENREP_LOSS_SCALE_BASE_TAU) ? tau / GENREP_LOSS_BASE_TAU : 1.0f;
    const float c = s / (float)N;
    /* G_ij = c * (p_ij - [j in P(i)] / n_i), diagonal 0 */
GENREP__OMP(omp parallel for schedule(static) if (N >= 64))
    for (int i = 0; i < N; i++) {
        int32_t yi = genrep__row_label(labels, i, B);
        int npos = 0;
        for (int j = 0; j < N; j++) npos += j != i && genrep__row_label(labels, j, B) == yi;
        const float inv = 1.0f / (float)npos;
        const float *p = P + (size_t)i * N;
        float *g = G + (size_t)i * N;
        for (int j = 0; j < N; j++) {
            float t = p[j];
            if (j != i && genrep__row_label(labels, j, B) == yi) t -= inv;
            g[j] = j == i ? 0.0f : c * t;
        }
    }
    /* symmetrise in place: G <- G + G^T (each pair is read and written by one thread) */
GENREP__OMP(omp parallel for schedule(static, 8) if (N >= 64))
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            float a = G[(size_t)i * N + j] + G[(size_t)j * N + i];
            G[(size_t)i * N + j] = a;
            G[(size_t)j * N + i] = a;
        }
    /* dz += dloss/tau * (G + G^T) @ Z */
    return genrep_sgemm(0, 0, N, D, N, dloss / tau, G, N, z, D, 1.0f, dz, D);
}

GENREP_API genrep_status genrep_ntxent_forward(float *loss, float *ws, const float *z,
                                               int B, int D, float tau, int flags) {
    return genrep__contrastive_forward(__func__, loss, ws, z, NULL, B, D, tau, flags);
}
GENREP_API genrep_status genrep_ntxent_backward(float *dz, float *ws, const float *z,
                                                int B, int D, float tau, int flags, float dloss) {
    return genrep__contrastive_backward(__func__, dz, ws, z, NULL, B, D, tau, flags, dloss);
}
GENREP_API genrep_status genrep_supcon_forward(float *loss, float *ws, const float *z, const int32_t *labels,
                                               int B, int D, float tau, int flags) {
    GENREP__CHECK_PTR(labels);
    return genrep__contrastive_forward(__func__, loss, ws, z, labels, B, D, tau, flags);
}
GENREP_API genrep_status genrep_supcon_backward(float *dz, float *ws, const float *z, const int32_t *labels,
                                                int B, int D, float tau, int flags, float dloss) {
    GENREP__CHECK_PTR(labels);
    return genrep__contrastive_backward(__func__, dz, ws, z, labels, B, D, tau, flags, dloss);
}

/* ---- rows of a split batch (data parallel: each process its own rows) ---- */

/* local row t (0..2b-1) of a process holding anchors r0..r0+b-1: global row */
static inline int genrep__rows_global(int t, int r0, int b, int B) { return t < b ? r0 + t : B + r0 + (t - b); }

GENREP_API size_t genrep_contrastive_rows_workspace(int B, int D, int b, int share) {
    if (B <= 0 || D <= 0 || b <= 0 || b > B || share < 1) return 0;
    const size_t N = 2 * (size_t)B, n = 2 * (size_t)b, S2 = 2 * (size_t)share;
    const unsigned L = (unsigned)((b + share - 1) / share);
    return 2 * n * N + n + S2 * (N + (size_t)D) + (size_t)genrep__tree_levels(L) * N * D;
}

static genrep_status genrep__rows_check(const char *fn, const void *out, const float *ws, const float *z, int B, int D,
                                        float tau, int flags, int r0, int b, int share) {
    genrep_status st = genrep__contrastive_check(fn, out, ws, z, B, D, tau, flags);
    if (st) return st;
    if (b <= 0 || r0 < 0 || r0 + b > B || share < 1)
        return genrep__fail(GENREP_ERR_ARG, "%s: rows r0=%d b=%d share=%d: expected 0 <= r0, r0 + b <= B=%d, share >= 1",
                            fn, r0, b, share, B);
    return GENREP_OK;
}

static genrep_status genrep__contrastive_forward_rows(const char *fn, double *loss_sum, float *ws, const float *z,
                                                      const int32_t *labels, int B, int D, float tau, int flags,
                                                      int r0, int b, int share) {
    genrep_status st = genrep__rows_check(fn, loss_sum, ws, z, B, D, tau, flags, r0, b, share);
    if (st) return st;
    const int N = 2 * B, n = 2 * b;
    float *P = ws, *rowloss = ws + 2 * (size_t)n * N;
    const float s = (flags & GENREP_LOSS_SCALE_BASE_TAU) ? tau / GENREP_LOSS_BASE_TAU : 1.0f;
    /* this process's logits rows, view 1 then view 2: z_i . Z^T / tau */
    for (int v = 0; v < 2; v++)
        if ((st = genrep_sgemm(0, 1, b, N, D, 1.0f / tau, z + ((size_t)v * B + r0) * D, D, z, D, 0.0f,
                               P + (size_t)v * b * N, N))) return st;
    int bad = 0;
GENREP__OMP(omp parallel for schedule(static) reduction(| : bad) if (n >= 64))
    for (int t = 0; t < n; t++) {   /* as genrep__contrastive_forward's row i */
        const int i = genrep__rows_global(t, r0, b, B);
        float *l = P + (size_t)t * N;
        rowloss[t] = genrep__contrastive_row(l, i, labels, B, N, s);
        if (!isfinite(rowloss[t])) bad = 1;
    }
    /* the sum of the rows' losses: a pairwise tree over shares (both views of `share` anchors) */
    genrep__dtree tr;
    tr.n = 0;
    for (int j0 = 0; j0 < b; j0 += share) {
        double acc = 0.0;
        for (int v = 0; v < 2; v++)
            for (int t = j0; t < j0 + share && t < b; t++) acc += rowloss[(size_t)v * b + t];
        genrep__dtree_push(&tr, acc, 0.0);
    }
    double unused;
    genrep__dtree_root(loss_sum, &unused, &tr);
    if (bad) return genrep__fail(GENREP_ERR_NONFINITE, "%s: non-finite loss (NaN/Inf in z?)", fn);
    return GENREP_OK;
}

static genrep_status genrep__contrastive_backward_rows(const char *fn, float *dz, float *dzt, float *ws, const float *z,
                                                       const int32_t *labels, int B, int D, float tau, int flags,
                                                       float dloss, int r0, int b, int share) {
    genrep_status st = genrep__rows_check(fn, dz, ws, z, B, D, tau, flags, r0, b, share);
    if (st) return st;
    if (!dzt) return genrep__fail(GENREP_ERR_ARG, "%s: dzt is NULL", fn);
    const int N = 2 * B, n = 2 * b;
    const float *P = ws;
    float *G = ws + (size_t)n * N, *ga = ws + 2 * (size_t)n * N + n, *za = ga + 2 * (size_t)share * N;
    float *stack = za + 2 * (size_t)share * D;
    const float s = (flags & GENREP_LOSS_SCALE_BASE_TAU) ? tau / GENREP_LOSS_BASE_TAU : 1.0f;
    const float c = s / (float)N;
GENREP__OMP(omp parallel for schedule(static) if (n >= 64))
    for (int t = 0; t < n; t++) {
        const int i = genrep__rows_global(t, r0, b, B);
        int32_t yi = genrep__row_label(labels, i, B);
        int npos = 0;
        for (int j = 0; j < N; j++) npos += j != i && genrep__row_label(labels, j, B) == yi;
        const float inv = 1.0f / (float)npos;
        const float *p = P + (size_t)t * N;
        float *g = G + (size_t)t * N;
        for (int j = 0; j < N; j++) {
            float u = p[j];
            if (j != i && genrep__row_label(labels, j, B) == yi) u -= inv;
            g[j] = j == i ? 0.0f : c * u;
        }
    }
    /* own rows: dz (n, D) += dloss/tau * G_rows @ Z */
    if ((st = genrep_sgemm(0, 0, n, D, N, dloss / tau, G, N, z, D, 1.0f, dz, D))) return st;
    /* every row's share of the transposed term, G_rows^T @ Z_rows (N, D), by the share tree */
    const size_t ND = (size_t)N * D;
    const unsigned L = (unsigned)((b + share - 1) / share);
    for (unsigned li = 0; li < L; li++) {
        const int j0 = (int)li * share, m = b - j0 < share ? b - j0 : share;
        for (int v = 0; v < 2; v++)
            for (int t = 0; t < m; t++) {
                memcpy(ga + ((size_t)v * m + t) * N, G + ((size_t)v * b + j0 + t) * N, sizeof(float) * N);
                memcpy(za + ((size_t)v * m + t) * D, z + ((size_t)v * B + r0 + j0 + t) * D, sizeof(float) * D);
            }
        float *leaf = stack + (size_t)genrep__tree_level(li) * ND;
        if ((st = genrep_sgemm(1, 0, N, D, 2 * m, 1.0f, ga, N, za, D, 0.0f, leaf, D))) return st;
        genrep__ftree_merge(stack, ND, li);
    }
    memset(dzt, 0, sizeof(float) * ND);
    genrep__ftree_root_add(dzt, stack, ND, ND, L);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_ntxent_forward_rows(double *loss_sum, float *ws, const float *z, int B, int D,
                                                    float tau, int flags, int r0, int b, int share) {
    return genrep__contrastive_forward_rows(__func__, loss_sum, ws, z, NULL, B, D, tau, flags, r0, b, share);
}
GENREP_API genrep_status genrep_ntxent_backward_rows(float *dz, float *dzt, float *ws, const float *z, int B,
                                                     int D, float tau, int flags, float dloss, int r0, int b, int share) {
    return genrep__contrastive_backward_rows(__func__, dz, dzt, ws, z, NULL, B, D, tau, flags, dloss, r0, b, share);
}
GENREP_API genrep_status genrep_supcon_forward_rows(double *loss_sum, float *ws, const float *z,
                                                    const int32_t *labels, int B, int D, float tau, int flags,
                                                    int r0, int b, int share) {
    GENREP__CHECK_PTR(labels);
    return genrep__contrastive_forward_rows(__func__, loss_sum, ws, z, labels, B, D, tau, flags, r0, b, share);
}
GENREP_API genrep_status genrep_supcon_backward_rows(float *dz, float *dzt, float *ws, const float *z,
                                                     const int32_t *labels, int B, int D, float tau, int flags,
                                                     float dloss, int r0, int b, int share) {
    GENREP__CHECK_PTR(labels);
    return genrep__contrastive_backward_rows(__func__, dz, dzt, ws, z, labels, B, D, tau, flags, dloss, r0, b, share);
}

/* [MSE] sums in double, in index order (deterministic, thread-free). */
GENREP_API genrep_status genrep_mse_forward(float *loss, const float *pred, const float *target, size_t n) {
    GENREP__CHECK_PTR(loss); GENREP__CHECK_PTR(pred); GENREP__CHECK_PTR(target);
    GENREP__CHECK_POS(n);
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) { double d = (double)pred[i] - target[i]; acc += d * d; }
    *loss = (float)(acc / (double)n);
    return GENREP_OK;
}
GENREP_API genrep_status genrep_mse_backward(float *dpred, const float *pred, const float *target,
                                             size_t n, float dloss) {
    GENREP__CHECK_PTR(dpred); GENREP__CHECK_PTR(pred); GENREP__CHECK_PTR(target);
    GENREP__CHECK_POS(n);
    const float c = 2.0f * dloss / (float)n;
    for (size_t i = 0; i < n; i++) dpred[i] += c * (pred[i] - target[i]);
    return GENREP_OK;
}

/* --------------------------------------------------------------- [VIEWS] */

/* Stream of sample i for a purpose: 64 purposes per sample (0 anchor,
   1 class, 2.. views). Seeds of different modules are kept apart by the
   caller (the trainer derives one seed per purpose). */
static uint64_t genrep__latent_stream(uint64_t index, int purpose) {
    return index * 64u + (uint64_t)purpose;
}

GENREP_API genrep_status genrep_latent_anchors(float *z, int B, int D, float truncation,
                                               uint64_t seed, uint64_t first) {
    GENREP__CHECK_PTR(z); GENREP__CHECK_POS(B); GENREP__CHECK_POS(D);
    if (!(truncation > 0.0f)) return genrep__fail(GENREP_ERR_ARG, "genrep_latent_anchors: truncation must be > 0, got %g", truncation);
    GENREP__OMP(omp parallel for if (B * D > 65536))
    for (int b = 0; b < B; b++) {
        genrep_rng r;
        genrep_rng_init(&r, seed, genrep__latent_stream(first + (uint64_t)b, 0));
        for (int d = 0; d < D; d++) z[(size_t)b * D + d] = truncation * genrep_rng_truncnormal(&r, -2.0f, 2.0f);
    }
    return GENREP_OK;
}

GENREP_API genrep_status genrep_latent_classes(int32_t *y, int B, int n_classes, uint64_t seed, uint64_t first) {
    GENREP__CHECK_PTR(y); GENREP__CHECK_POS(B); GENREP__CHECK_POS(n_classes);
    for (int b = 0; b < B; b++) {
        genrep_rng r;
        genrep_rng_init(&r, seed, genrep__latent_stream(first + (uint64_t)b, 1));
        y[b] = (int32_t)genrep_rng_below(&r, (uint32_t)n_classes);
    }
    return GENREP_OK;
}

GENREP_API const char *genrep_view_name(genrep_view_kind k) {
    switch (k) {
    case GENREP_VIEW_NONE: return "none";
    case GENREP_VIEW_GAUSS: return "gauss";
    case GENREP_VIEW_ANGULAR: return "angular";
    case GENREP_VIEW_INDEPENDENT: return "independent";
    case GENREP_VIEW_STEER: return "steer";
    }
    return "unknown";
}

GENREP_API genrep_status genrep_view_parse(genrep_view_kind *k, const char *s) {
    GENREP__CHECK_PTR(k);
    for (int i = GENREP_VIEW_NONE; i <= GENREP_VIEW_STEER; i++)
        if (s && !strcmp(s, genrep_view_name((genrep_view_kind)i))) { *k = (genrep_view_kind)i; return GENREP_OK; }
    return genrep__fail(GENREP_ERR_ARG, "unknown view '%s': expected none, gauss, angular, independent or steer",
                        s ? s : "(null)");
}

GENREP_API genrep_status genrep_latent_view(float *zv, const float *z, int B, int D,
                                            const genrep_view_config *cfg, uint64_t seed,
                                            uint64_t first, int view) {
    GENREP__CHECK_PTR(zv); GENREP__CHECK_PTR(z); GENREP__CHECK_PTR(cfg);
    GENREP__CHECK_POS(B); GENREP__CHECK_POS(D);
    if (view < 1 || view > GENREP_VIEW_MAX)
        return genrep__fail(GENREP_ERR_ARG, "genrep_latent_view: view must be 1..%d, got %d", GENREP_VIEW_MAX, view);
    if (zv == z) return genrep__fail(GENREP_ERR_ARG, "genrep_latent_view: zv must not alias z");
    int kind = (int)cfg->kind;
    if ((kind == GENREP_VIEW_GAUSS || kind == GENREP_VIEW_ANGULAR) && !(cfg->sigma >= 0.0f))
        return genrep__fail(GENREP_ERR_ARG, "genrep_latent_view: sigma must be >= 0, got %g", cfg->sigma);
    if (kind == GENREP_VIEW_INDEPENDENT && !(cfg->truncation > 0.0f))
        return genrep__fail(GENREP_ERR_ARG, "genrep_latent_view: truncation must be > 0, got %g", cfg->truncation);
    if (kind == GENREP_VIEW_STEER && (cfg->n_walks <= 0 || !cfg->walks || !cfg->alpha_max))
        return genrep__fail(GENREP_ERR_ARG, "genrep_latent_view: steer views need n_walks > 0, walks and alpha_max");
    if (kind < GENREP_VIEW_NONE || kind > GENREP_VIEW_STEER)
        return genrep__fail(GENREP_ERR_ARG, "genrep_latent_view: unknown view kind %d", kind);
    GENREP__OMP(omp parallel for if (B * D > 65536))
    for (int b = 0; b < B; b++) {
        const float *za = z + (size_t)b * D;
        float *o = zv + (size_t)b * D;
        genrep_rng r;
        genrep_rng_init(&r, seed, genrep__latent_stream(first + (uint64_t)b, 1 + view));
        switch (kind) {
        case GENREP_VIEW_NONE:
            memcpy(o, za, (size_t)D * sizeof *o);
            break;
        case GENREP_VIEW_GAUSS:
        case GENREP_VIEW_ANGULAR: {
            double n0 = 0, n1 = 0;
            for (int d = 0; d < D; d++) {
                o[d] = za[d] + cfg->sigma * genrep_rng_truncnormal(&r, -2.0f, 2.0f);
                n0 += (double)za[d] * za[d];
                n1 += (double)o[d] * o[d];
            }
            /* angular: move on the sphere of this sample's own radius */
            if (kind == GENREP_VIEW_ANGULAR && n1 > 0) {
                float s = (float)sqrt(n0 / n1);
                for (int d = 0; d < D; d++) o[d] *= s;
            }
            break;
        }
        case GENREP_VIEW_INDEPENDENT:
            for (int d = 0; d < D; d++) o[d] = cfg->truncation * genrep_rng_truncnormal(&r, -2.0f, 2.0f);
            break;
        case GENREP_VIEW_STEER:
            memcpy(o, za, (size_t)D * sizeof *o);
            for (int t = 0; t < cfg->n_walks; t++) {
                float a = cfg->alpha_max[t] * (2.0f * genrep_rng_uniform(&r) - 1.0f);
                const float *w = cfg->walks + (size_t)t * D;
                for (int d = 0; d < D; d++) o[d] += a * w[d];
            }
            break;
        }
    }
    return GENREP_OK;
}

/* --------------------------------------------------------------- [PROBE] */

GENREP_API void genrep_probe_config_default(genrep_probe_config *cfg) {
    cfg->epochs = 60; cfg->lr = 1e-2f; cfg->weight_decay = 1e-5f; cfg->batch = 256; cfg->seed = 0;
}

static genrep_status genrep__check_labels(const char *fn, const int32_t *y, int n, int n_classes) {
    for (int i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= n_classes)
            return genrep__fail(GENREP_ERR_ARG, "%s: label %d of row %d is outside [0, %d)", fn, y[i], i, n_classes);
    return GENREP_OK;
}

/* Top-1 accuracy of logits = x @ W^T + b over n rows, in chunks of 256. */
static float genrep__probe_accuracy(const float *x, const int32_t *y, int n, const float *W, const float *bias,
                                    const float *mu, const float *sd, int D, int V, float *xb, float *logits) {
    int correct = 0;
    for (int i0 = 0; i0 < n; i0 += 256) {
        int nb = n - i0 < 256 ? n - i0 : 256;
        for (int i = 0; i < nb; i++)
            for (int d = 0; d < D; d++) xb[(size_t)i * D + d] = (x[(size_t)(i0 + i) * D + d] - mu[d]) / sd[d];
        genrep_status ls = genrep_linear_forward(logits, xb, W, bias, nb, D, V);
        GENREP_ASSERT(ls == GENREP_OK); /* sizes checked by the caller */
        (void)ls;
        for (int i = 0; i < nb; i++) {
            int best = 0;
            for (int v = 1; v < V; v++) if (logits[(size_t)i * V + v] > logits[(size_t)i * V + best]) best = v;
            correct += best == y[i0 + i];
        }
    }
    return n ? (float)correct / (float)n : 0.0f;
}

GENREP_API genrep_status genrep_linear_probe(float *test_acc, float *train_acc,
                                             const float *xtr, const int32_t *ytr, int ntr,
                                             const float *xte, const int32_t *yte, int nte,
                                             int D, int n_classes, const genrep_probe_config *cfg) {
    GENREP__CHECK_PTR(test_acc); GENREP__CHECK_PTR(xtr); GENREP__CHECK_PTR(ytr);
    GENREP__CHECK_PTR(xte); GENREP__CHECK_PTR(yte); GENREP__CHECK_PTR(cfg);
    GENREP__CHECK_POS(ntr); GENREP__CHECK_NONNEG(nte); GENREP__CHECK_POS(D); GENREP__CHECK_POS(n_classes);
    if (cfg->epochs <= 0 || cfg->batch <= 0 || !(cfg->lr > 0))
        return genrep__fail(GENREP_ERR_ARG, "genrep_linear_probe: epochs, batch and lr must be > 0");
    genrep_status st = genrep__check_labels(__func__, ytr, ntr, n_classes);
    if (!st) st = genrep__check_labels(__func__, yte, nte, n_classes);
    if (st) return st;
    const int V = n_classes, Bm = cfg->batch;
    size_t np = (size_t)V * D + V;
    /* one slab: params, grads, adam m, v, feature mean/std, batch, logits, probs, dlogits, order */
    size_t nfl = 4 * np + 2 * (size_t)D + (size_t)(Bm > 256 ? Bm : 256) * D + 3 * (size_t)(Bm > 256 ? Bm : 256) * V;
    float *slab = (float *)genrep_alloc(nfl * sizeof(float));
    int32_t *order = (int32_t *)genrep_alloc((size_t)ntr * sizeof(int32_t));
    int32_t *yb = (int32_t *)genrep_alloc((size_t)Bm * sizeof(int32_t));
    if (!slab || !order || !yb) {
        genrep_free(slab); genrep_free(order); genrep_free(yb);
        return genrep__fail(GENREP_ERR_NOMEM, "genrep_linear_probe: out of memory");
    }
    memset(slab, 0, nfl * sizeof(float));
    float *W = slab, *g = W + np, *m = g + np, *v = m + np, *mu = v + np, *sd = mu + D;
    float *xb = sd + D, *logits = xb + (size_t)(Bm > 256 ? Bm : 256) * D;
    float *probs = logits + (size_t)(Bm > 256 ? Bm : 256) * V, *dlog = probs + (size_t)(Bm > 256 ? Bm : 256) * V;
    /* standardise with train statistics (double sums) */
    for (int d = 0; d < D; d++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < ntr; i++) { double x = xtr[(size_t)i * D + d]; s += x; s2 += x * x; }
        double mean = s / ntr, var = s2 / ntr - mean * mean;
        mu[d] = (float)mean;
        sd[d] = (float)sqrt(var > 1e-12 ? var : 1e-12);
    }
    genrep_rng r;
    genrep_rng_init(&r, cfg->seed, 0x9b0be);
    for (int i = 0; i < ntr; i++) order[i] = i;
    int64_t steps_per_epoch = (ntr + Bm - 1) / Bm, total = steps_per_epoch * cfg->epochs, step = 0;
    genrep_adam_config ac = {cfg->lr, 0.9f, 0.999f, 1e-8f, 0.0f, 0};
    for (int ep = 0; ep < cfg->epochs && !st; ep++) {
        for (int i = ntr - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)genrep_rng_below(&r, (uint32_t)i + 1);
            int32_t t = order[i]; order[i] = order[j]; order[j] = t;
        }
        for (int i0 = 0; i0 < ntr && !st; i0 += Bm) {
            int nb = ntr - i0 < Bm ? ntr - i0 : Bm;
            for (int i = 0; i < nb; i++) {
                const float *src = xtr + (size_t)order[i0 + i] * D;
                for (int d = 0; d < D; d++) xb[(size_t)i * D + d] = (src[d] - mu[d]) / sd[d];
                yb[i] = ytr[order[i0 + i]];
            }
            float loss;
            memset(g, 0, np * sizeof(float));
            memset(dlog, 0, (size_t)nb * V * sizeof(float));
            st = genrep_linear_forward(logits, xb, W, W + (size_t)V * D, nb, D, V);
            if (!st) st = genrep_softmax_xent_forward(&loss, probs, logits, yb, nb, V);
            if (!st) st = genrep_softmax_xent_backward(dlog, probs, yb, nb, V, 1.0f);
            if (!st) st = genrep_linear_backward(NULL, g, g + (size_t)V * D, dlog, xb, W, nb, D, V);
            for (size_t k = 0; k < (size_t)V * D; k++) g[k] += cfg->weight_decay * W[k];
            ac.lr = genrep_cosine_lr(cfg->lr, 0.0f, step, 0, total);
            if (!st) st = genrep_adam_step(W, m, v, g, np, &ac, ++step);
        }
    }
    if (!st) {
        *test_acc = genrep__probe_accuracy(xte, yte, nte, W, W + (size_t)V * D, mu, sd, D, V, xb, logits);
        if (train_acc) *train_acc = genrep__probe_accuracy(xtr, ytr, ntr, W, W + (size_t)V * D, mu, sd, D, V, xb, logits);
    }
    genrep_free(slab); genrep_free(order); genrep_free(yb);
    return st;
}

/* Copy rows of x into out, each divided by its L2 norm. */
static void genrep__normalize_rows(float *out, const float *x, int n, int D) {
    GENREP__OMP(omp parallel for if (n > 1024))
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int d = 0; d < D; d++) s += (double)x[(size_t)i * D + d] * x[(size_t)i * D + d];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (int d = 0; d < D; d++) out[(size_t)i * D + d] = x[(size_t)i * D + d] * inv;
    }
}

GENREP_API genrep_status genrep_knn_accuracy(float *acc, const float *xtr, const int32_t *ytr, int ntr,
                                             const float *xte, const int32_t *yte, int nte,
                                             int D, int n_classes, int k) {
    GENREP__CHECK_PTR(acc); GENREP__CHECK_PTR(xtr); GENREP__CHECK_PTR(ytr);
    GENREP__CHECK_PTR(xte); GENREP__CHECK_PTR(yte);
    GENREP__CHECK_POS(ntr); GENREP__CHECK_NONNEG(nte); GENREP__CHECK_POS(D);
    GENREP__CHECK_POS(n_classes); GENREP__CHECK_POS(k);
    if (k > ntr) k = ntr;
    genrep_status st = genrep__check_labels(__func__, ytr, ntr, n_classes);
    if (!st) st = genrep__check_labels(__func__, yte, nte, n_classes);
    if (st) return st;
    const int CH = 128; /* test rows per similarity GEMM */
    float *tr = (float *)genrep_alloc((size_t)ntr * D * sizeof(float));
    float *te = (float *)genrep_alloc((size_t)CH * D * sizeof(float));
    float *sim = (float *)genrep_alloc((size_t)CH * ntr * sizeof(float));
    int nth = genrep_num_threads();
    /* per-thread top-k heaps (value, label) and class votes */
    float *hv = (float *)genrep_alloc((size_t)nth * k * sizeof(float));
    int32_t *hl = (int32_t *)genrep_alloc((size_t)nth * k * sizeof(int32_t));
    double *votes = (double *)genrep_alloc((size_t)nth * n_classes * sizeof(double));
    if (!tr || !te || !sim || !hv || !hl || !votes) {
        genrep_free(tr); genrep_free(te); genrep_free(sim); genrep_free(hv); genrep_free(hl); genrep_free(votes);
        return genrep__fail(GENREP_ERR_NOMEM, "genrep_knn_accuracy: out of memory");
    }
    genrep__normalize_rows(tr, xtr, ntr, D);
    int correct = 0;
    for (int i0 = 0; i0 < nte; i0 += CH) {
        int nb = nte - i0 < CH ? nte - i0 : CH;
        genrep__normalize_rows(te, xte + (size_t)i0 * D, nb, D);
        genrep_status gs = genrep_sgemm(0, 1, nb, ntr, D, 1.0f, te, D, tr, D, 0.0f, sim, ntr);
        GENREP_ASSERT(gs == GENREP_OK); /* sizes checked above */
        (void)gs;
        GENREP__OMP(omp parallel for reduction(+:correct))
        for (int i = 0; i < nb; i++) {
            int t = 0;
#ifdef _OPENMP
            t = omp_get_thread_num();
#endif
            float *v = hv + (size_t)t * k; int32_t *l = hl + (size_t)t * k;
            double *vo = votes + (size_t)t * n_classes;
            const float *s = sim + (size_t)i * ntr;
            int n = 0;
            /* min-heap of the k largest similarities */
            for (int j = 0; j < ntr; j++) {
                float x = s[j];
                if (n < k) {
                    int c = n++;
                    while (c > 0 && v[(c - 1) / 2] > x) { v[c] = v[(c - 1) / 2]; l[c] = l[(c - 1) / 2]; c = (c - 1) / 2; }
                    v[c] = x; l[c] = ytr[j];
                } else if (x > v[0]) {
                    int c = 0;
                    for (;;) {
                        int a = 2 * c + 1, b = a + 1, m = c;
                        float mv = x;
                        if (a < n && v[a] < mv) { m = a; mv = v[a]; }
                        if (b < n && v[b] < mv) { m = b; }
                        if (m == c) break;
                        v[c] = v[m]; l[c] = l[m]; c = m;
                    }
                    v[c] = x; l[c] = ytr[j];
                }
            }
            for (int c = 0; c < n_classes; c++) vo[c] = 0;
            for (int q = 0; q < n; q++) vo[l[q]] += exp((double)v[q] / 0.07);
            int best = 0;
            for (int c = 1; c < n_classes; c++) if (vo[c] > vo[best]) best = c;
            correct += best == yte[i0 + i];
        }
    }
    *acc = nte ? (float)correct / (float)nte : 0.0f;
    genrep_free(tr); genrep_free(te); genrep_free(sim); genrep_free(hv); genrep_free(hl); genrep_free(votes);
    return GENREP_OK;
}

/* ---- converged logistic regression (L-BFGS) */

GENREP_API void genrep_logreg_config_default(genrep_logreg_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->max_iter = 5000; cfg->memory = 10; cfg->gtol = 1e-5; cfg->ftol = 1e-9; cfg->folds = 3;
    cfg->n_lambdas = 6;
    for (int i = 0; i < 6; i++) cfg->lambdas[i] = pow(10.0, -6 + i);
}

/* Objective and gradient at theta (double, V*D + V). Wf, L, G: float scratch
   (V*D + V, n*V, n*V); lrow: n doubles. Returns the loss. */
static double genrep__logreg_eval(double *grad, const double *theta, const float *x, const int32_t *y, int n, int D,
                                  int V, double lambda, float *Wf, float *L, float *G, double *lrow) {
    const size_t nw = (size_t)V * D;
    for (size_t k = 0; k < nw + V; k++) Wf[k] = (float)theta[k];
    genrep_status gs = genrep_sgemm(0, 1, n, V, D, 1.0f, x, D, Wf, D, 0.0f, L, V);   /* logits (n, V) */
    const double inv_n = 1.0 / n;
    GENREP__OMP(omp parallel for if (n > 4096))
    for (int i = 0; i < n; i++) {
        float *l = L + (size_t)i * V, *g = G + (size_t)i * V;
        double m = -INFINITY, z = 0;
        for (int v = 0; v < V; v++) { double t = (double)l[v] + theta[nw + v]; if (t > m) m = t; }
        for (int v = 0; v < V; v++) z += exp((double)l[v] + theta[nw + v] - m);
        double lse = m + log(z);
        lrow[i] = lse - ((double)l[y[i]] + theta[nw + y[i]]);
        for (int v = 0; v < V; v++) g[v] = (float)((exp((double)l[v] + theta[nw + v] - lse) - (v == y[i])) * inv_n);
    }
    double loss = 0, reg = 0;
    for (int i = 0; i < n; i++) loss += lrow[i];            /* fixed order */
    if (!gs) gs = genrep_sgemm(1, 0, V, D, n, 1.0f, G, V, x, D, 0.0f, Wf, D); /* dW (V, D) = G^T X */
    GENREP_ASSERT(gs == GENREP_OK); /* sizes validated by the caller */
    (void)gs;
    for (size_t k = 0; k < nw; k++) { grad[k] = (double)Wf[k] + lambda * theta[k]; reg += theta[k] * theta[k]; }
    for (int v = 0; v < V; v++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += G[(size_t)i * V + v];
        grad[nw + v] = s;
    }
    return loss * inv_n + 0.5 * lambda * reg;
}

GENREP_API genrep_status genrep_logreg_fit(float *Wb, genrep_logreg_info *info, const float *x, const int32_t *y,
                                           int n, int D, int V, double lambda, const genrep_logreg_config *cfg) {
    GENREP__CHECK_PTR(Wb); GENREP__CHECK_PTR(x); GENREP__CHECK_PTR(y); GENREP__CHECK_PTR(cfg);
    GENREP__CHECK_POS(n); GENREP__CHECK_POS(D); GENREP__CHECK_POS(V);
    if (cfg->max_iter < 1 || cfg->memory < 1 || !(cfg->gtol >= 0) || !(cfg->ftol >= 0) || !(lambda >= 0))
        return genrep__fail(GENREP_ERR_ARG, "genrep_logreg_fit: max_iter and memory must be >= 1, gtol, ftol and lambda >= 0");
    genrep_status st = genrep__check_labels(__func__, y, n, V);
    if (st) return st;
    const size_t P = (size_t)V * D + V, M = (size_t)cfg->memory;
    /* doubles: theta, grad, dir, theta_new, grad_new, S (M P), Y (M P), rho, alpha, lrow */
    double *dslab = (double *)genrep_alloc((5 * P + 2 * M * P + 2 * M + (size_t)n) * sizeof(double));
    float *fslab = (float *)genrep_alloc((P + 2 * (size_t)n * V) * sizeof(float));
    if (!dslab || !fslab) {
        genrep_free(dslab); genrep_free(fslab);
        return genrep__fail(GENREP_ERR_NOMEM, "genrep_logreg_fit: out of memory (n %d, D %d)", n, D);
    }
    double *th = dslab, *g = th + P, *d = g + P, *th2 = d + P, *g2 = th2 + P, *S = g2 + P, *Yv = S + M * P;
    double *rho = Yv + M * P, *al = rho + M, *lrow = al + M;
    float *Wf = fslab, *L = Wf + P, *G = L + (size_t)n * V;
    for (size_t k = 0; k < P; k++) th[k] = Wb[k];
    double f = genrep__logreg_eval(g, th, x, y, n, D, V, lambda, Wf, L, G, lrow);
    int it = 0, hit_cap = 0, stored = 0, head = 0;
    for (;;) {
        double gmax = 0;
        for (size_t k = 0; k < P; k++) gmax = fmax(gmax, fabs(g[k]));
        if (gmax <= cfg->gtol) break;
        if (it >= cfg->max_iter) { hit_cap = 1; break; }
        /* two-loop recursion: d = -H g */
        for (size_t k = 0; k < P; k++) d[k] = -g[k];
        for (int j = 0; j < stored; j++) {
            int m = (head - 1 - j + cfg->memory) % cfg->memory;
            double a = 0;
            for (size_t k = 0; k < P; k++) a += S[m * P + k] * d[k];
            al[m] = a * rho[m];
            for (size_t k = 0; k < P; k++) d[k] -= al[m] * Yv[m * P + k];
        }
        if (stored) {
            int m = (head - 1 + cfg->memory) % cfg->memory;
            double sy = 0, yy = 0;
            for (size_t k = 0; k < P; k++) { sy += S[m * P + k] * Yv[m * P + k]; yy += Yv[m * P + k] * Yv[m * P + k]; }
            for (size_t k = 0; k < P; k++) d[k] *= sy / yy;
        } else {
            double gn = 0;
            for (size_t k = 0; k < P; k++) gn += g[k] * g[k];
            for (size_t k = 0; k < P; k++) d[k] /= fmax(1.0, sqrt(gn)); /* first step: at most unit length */
        }
        for (int j = stored - 1; j >= 0; j--) {
            int m = (head - 1 - j + cfg->memory) % cfg->memory;
            double b = 0;
            for (size_t k = 0; k < P; k++) b += Yv[m * P + k] * d[k];
            b *= rho[m];
            for (size_t k = 0; k < P; k++) d[k] += S[m * P + k] * (al[m] - b);
        }
        double gd = 0;
        for (size_t k = 0; k < P; k++) gd += g[k] * d[k];
        if (!(gd < 0)) { /* not a descent direction (rounding): restart from steepest descent */
            for (size_t k = 0; k < P; k++) d[k] = -g[k];
            gd = 0;
            for (size_t k = 0; k < P; k++) gd += g[k] * d[k];
            stored = 0;
        }
        /* backtracking Armijo line search */
        double step = 1, f2 = f;
        int ok = 0;
        for (int ls = 0; ls < 40; ls++) {
            for (size_t k = 0; k < P; k++) th2[k] = th[k] + step * d[k];
            f2 = genrep__logreg_eval(g2, th2, x, y, n, D, V, lambda, Wf, L, G, lrow);
            if (f2 <= f + 1e-4 * step * gd) { ok = 1; break; }
            step *= 0.5;
        }
        it++;
        if (!ok) break; /* no decrease to be found at float resolution: converged as far as it goes */
        /* curvature pair */
        double sy = 0;
        int m = head;
        for (size_t k = 0; k < P; k++) {
            S[m * P + k] = th2[k] - th[k]; Yv[m * P + k] = g2[k] - g[k];
            sy += S[m * P + k] * Yv[m * P + k];
        }
        if (sy > 1e-12) { rho[m] = 1 / sy; head = (head + 1) % cfg->memory; if (stored < cfg->memory) stored++; }
        double fold = f;
        memcpy(th, th2, P * sizeof(double)); memcpy(g, g2, P * sizeof(double)); f = f2;
        if (fabs(fold - f) <= cfg->ftol * fmax(fmax(fabs(fold), fabs(f)), 1.0)) break;
    }
    double gmax = 0;
    for (size_t k = 0; k < P; k++) { Wb[k] = (float)th[k]; gmax = fmax(gmax, fabs(g[k])); }
    if (info) { info->loss = f; info->grad_max = gmax; info->iters = it; info->hit_cap = hit_cap; }
    genrep_free(dslab); genrep_free(fslab);
    return GENREP_OK;
}

/* correct predictions of Wb on x (n, D); *xent (may be NULL) += the summed
   cross-entropy, in row order */
static int genrep__logreg_correct(double *xent, const float *Wb, const float *x, const int32_t *y, int n, int D, int V,
                                  float *L) {
    int correct = 0;
    for (int i0 = 0; i0 < n; i0 += 4096) {
        int nb = n - i0 < 4096 ? n - i0 : 4096;
        genrep_status gs = genrep_sgemm(0, 1, nb, V, D, 1.0f, x + (size_t)i0 * D, D, Wb, D, 0.0f, L, V);
        GENREP_ASSERT(gs == GENREP_OK);
        (void)gs;
        for (int i = 0; i < nb; i++) {
            const float *l = L + (size_t)i * V, *b = Wb + (size_t)V * D;
            int best = 0;
            for (int v = 1; v < V; v++) if (l[v] + b[v] > l[best] + b[best]) best = v;
            correct += best == y[i0 + i];
            if (xent) {
                double m = (double)l[best] + b[best], z = 0;
                for (int v = 0; v < V; v++) z += exp((double)l[v] + b[v] - m);
                *xent += m + log(z) - ((double)l[y[i0 + i]] + b[y[i0 + i]]);
            }
        }
    }
    return correct;
}

GENREP_API genrep_status genrep_logreg_probe(genrep_logreg_result *res, const float *xtr, const int32_t *ytr, int ntr,
                                             const float *xte, const int32_t *yte, int nte,
                                             int D, int n_classes, const genrep_logreg_config *cfg) {
    GENREP__CHECK_PTR(res); GENREP__CHECK_PTR(xtr); GENREP__CHECK_PTR(ytr);
    GENREP__CHECK_PTR(xte); GENREP__CHECK_PTR(yte); GENREP__CHECK_PTR(cfg);
    GENREP__CHECK_POS(ntr); GENREP__CHECK_NONNEG(nte); GENREP__CHECK_POS(D); GENREP__CHECK_POS(n_classes);
    const int V = n_classes, K = cfg->folds, NL = cfg->n_lambdas;
    if (NL < 1 || NL > 16 || K < 2 || K > ntr)
        return genrep__fail(GENREP_ERR_ARG, "genrep_logreg_probe: n_lambdas must be 1..16 and folds 2..%d (got %d, %d)", ntr, NL, K);
    for (int j = 0; j < NL; j++)
        if (!(cfg->lambdas[j] >= 0)) return genrep__fail(GENREP_ERR_ARG, "genrep_logreg_probe: lambdas[%d] is negative", j);
    genrep_status st = genrep__check_labels(__func__, ytr, ntr, V);
    if (!st) st = genrep__check_labels(__func__, yte, nte, V);
    if (st) return st;
    memset(res, 0, sizeof *res);
    const size_t P = (size_t)V * D + V;
    int nmax = ntr > nte ? ntr : nte;
    float *xs = (float *)genrep_alloc((size_t)nmax * D * sizeof(float));      /* standardised rows */
    float *xf = (float *)genrep_alloc((size_t)ntr * D * sizeof(float));       /* a fold's train / held-out rows */
    int32_t *yf = (int32_t *)genrep_alloc((size_t)ntr * sizeof(int32_t));
    float *Wb = (float *)genrep_alloc(P * sizeof(float));
    float *L = (float *)genrep_alloc((size_t)4096 * V * sizeof(float));
    double *mu = (double *)genrep_alloc(2 * (size_t)D * sizeof(double)), *sd = mu + D;
    int *order = (int *)genrep_alloc((size_t)NL * sizeof(int));
    long long *correct = (long long *)genrep_alloc((size_t)NL * sizeof(long long));
    double *xent = (double *)genrep_alloc((size_t)NL * sizeof(double));
    int best = 0; /* (declared before the first goto: C++ forbids jumping past it) */
    if (!xs || !xf || !yf || !Wb || !L || !mu || !order || !correct || !xent) {
        st = genrep__fail(GENREP_ERR_NOMEM, "genrep_logreg_probe: out of memory (%d rows of %d features)", ntr, D);
        goto done;
    }
    /* standardise with train statistics (double sums, row order) */
    for (int d = 0; d < D; d++) { mu[d] = 0; sd[d] = 0; }
    for (int i = 0; i < ntr; i++) for (int d = 0; d < D; d++) mu[d] += xtr[(size_t)i * D + d];
    for (int d = 0; d < D; d++) mu[d] /= ntr;
    for (int i = 0; i < ntr; i++)
        for (int d = 0; d < D; d++) { double t = xtr[(size_t)i * D + d] - mu[d]; sd[d] += t * t; }
    for (int d = 0; d < D; d++) { double v = sd[d] / ntr; sd[d] = v > 1e-12 ? sqrt(v) : 1.0; }
#define GENREP__STD(dst, src, n) \
    for (size_t i_ = 0; i_ < (size_t)(n); i_++) \
        for (int d_ = 0; d_ < D; d_++) (dst)[i_ * D + d_] = (float)(((src)[i_ * D + d_] - mu[d_]) / sd[d_])
    GENREP__STD(xs, xtr, ntr);
    /* grid from the largest lambda down (warm starts go from simple to complex) */
    for (int j = 0; j < NL; j++) order[j] = j;
    for (int a = 1; a < NL; a++)
        for (int b = a; b > 0 && cfg->lambdas[order[b]] > cfg->lambdas[order[b - 1]]; b--) {
            int t = order[b]; order[b] = order[b - 1]; order[b - 1] = t;
        }
    for (int j = 0; j < NL; j++) { correct[j] = 0; xent[j] = 0; }
    for (int k = 0; k < K && !st; k++) {
        int nt = 0, nh;
        for (int i = 0; i < ntr; i++) if (i % K != k) { memcpy(xf + (size_t)nt * D, xs + (size_t)i * D, D * sizeof(float)); yf[nt++] = ytr[i]; }
        nh = ntr - nt;
        /* held-out rows go after the fold's training rows */
        for (int i = 0, h = nt; i < ntr; i++) if (i % K == k) { memcpy(xf + (size_t)h * D, xs + (size_t)i * D, D * sizeof(float)); yf[h++] = ytr[i]; }
        memset(Wb, 0, P * sizeof(float));
        for (int j = 0; j < NL && !st; j++) {
            st = genrep_logreg_fit(Wb, NULL, xf, yf, nt, D, V, cfg->lambdas[order[j]], cfg);
            if (!st) correct[order[j]] += genrep__logreg_correct(&xent[order[j]], Wb, xf + (size_t)nt * D, yf + nt, nh, D, V, L);
        }
    }
    if (st) goto done;
    for (int j = 0; j < NL; j++) {
        res->cv_acc[j] = (float)correct[j] / (float)ntr;
        res->cv_xent[j] = xent[j] / ntr;
        if (xent[j] < xent[best] || (xent[j] == xent[best] && cfg->lambdas[j] > cfg->lambdas[best])) best = j;
    }
    res->lambda = cfg->lambdas[best];
    memset(Wb, 0, P * sizeof(float));
    st = genrep_logreg_fit(Wb, &res->fit, xs, ytr, ntr, D, V, res->lambda, cfg);
    if (st) goto done;
    res->train_acc = (float)genrep__logreg_correct(NULL, Wb, xs, ytr, ntr, D, V, L) / (float)ntr;
    GENREP__STD(xs, xte, nte);
#undef GENREP__STD
    res->test_acc = nte ? (float)genrep__logreg_correct(NULL, Wb, xs, yte, nte, D, V, L) / (float)nte : 0.0f;
done:
    genrep_free(xs); genrep_free(xf); genrep_free(yf); genrep_free(Wb); genrep_free(L); genrep_free(mu);
    genrep_free(order); genrep_free(correct); genrep_free(xent);
    return st;
}

/* --------------------------------------------------------------- [STEER] */

static const char *const genrep__steer_names[GENREP_STEER_N_KINDS] = {
    "shiftx", "shifty", "zoom", "rotate", "brightness", "contrast"};

GENREP_API const char *genrep_steer_name(genrep_steer_kind k) {
    return (int)k >= 0 && k < GENREP_STEER_N_KINDS ? genrep__steer_names[k] : "unknown";
}

GENREP_API genrep_status genrep_steer_parse(genrep_steer_kind *k, const char *s) {
    GENREP__CHECK_PTR(k);
    for (int i = 0; i < GENREP_STEER_N_KINDS; i++)
        if (s && !strcmp(s, genrep__steer_names[i])) { *k = (genrep_steer_kind)i; return GENREP_OK; }
    return genrep__fail(GENREP_ERR_ARG, "unknown transform '%s': expected shiftx, shifty, zoom, rotate, "
                        "brightness or contrast", s ? s : "(null)");
}

GENREP_API float genrep_steer_default_alpha_max(genrep_steer_kind k) {
    switch (k) {
    case GENREP_STEER_SHIFTX: case GENREP_STEER_SHIFTY: return 4.0f;   /* px of 28 */
    case GENREP_STEER_ZOOM: return 0.75f;                               /* log2 */
    case GENREP_STEER_ROTATE: return 30.0f;                             /* degrees */
    case GENREP_STEER_BRIGHTNESS: return 0.4f;                          /* of the [-1,1] range */
    case GENREP_STEER_CONTRAST: return 0.75f;                           /* log2 */
    default: return 0.0f;
    }
}

/* Snap a source coordinate to a nearby integer so exact copies (integer
   shifts, quarter turns, whose cos/sin are not exact) stay exact. */
static double genrep__steer_snap(double x) {
    double r = floor(x + 0.5);
    return fabs(x - r) < 1e-6 ? r : x;
}

/* One image (C,H,W): out(p) = inp(src(p)) bilinear, where src(p) =
   c + A (p - c) + t with p = (x, y) = (column, row), c the centre.
   A = [[a, b], [d, e]] maps (dx, dy) to the source offset. */
static void genrep__steer_warp(float *out, float *mask, const float *inp, int C, int H, int W,
                               double a, double b, double d, double e, double tx, double ty) {
    const double cx = 0.5 * (W - 1), cy = 0.5 * (H - 1);
    const size_t HW = (size_t)H * W;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            double dx = j - cx, dy = i - cy;
            double sx = genrep__steer_snap(cx + a * dx + b * dy + tx);
            double sy = genrep__steer_snap(cy + d * dx + e * dy + ty);
            size_t o = (size_t)i * W + j;
            if (!(sx >= 0 && sx <= W - 1 && sy >= 0 && sy <= H - 1)) {
                for (int c = 0; c < C; c++) {
                    out[c * HW + o] = 0.0f;
                    if (mask) mask[c * HW + o] = 0.0f;
                }
                continue;
            }
            int x0 = (int)sx, y0 = (int)sy;
            int x1 = x0 + 1 < W ? x0 + 1 : x0, y1 = y0 + 1 < H ? y0 + 1 : y0;
            double fx = sx - x0, fy = sy - y0;
            for (int c = 0; c < C; c++) {
                const float *p = inp + c * HW;
                double top = (1 - fx) * p[(size_t)y0 * W + x0] + fx * p[(size_t)y0 * W + x1];
                double bot = (1 - fx) * p[(size_t)y1 * W + x0] + fx * p[(size_t)y1 * W + x1];
                out[c * HW + o] = (float)((1 - fy) * top + fy * bot);
                if (mask) mask[c * HW + o] = 1.0f;
            }
        }
}

/* One image (C,H,W) with one alpha. */
static void genrep__steer_edit1(float *out, float *mask, const float *inp, float alpha, int kind,
                                int C, int H, int W) {
    const size_t n = (size_t)C * H * W;
    switch (kind) {
    case GENREP_STEER_SHIFTX: /* out(x) = inp(x - alpha) */
        genrep__steer_warp(out, mask, inp, C, H, W, 1, 0, 0, 1, -(double)alpha, 0);
        return;
    case GENREP_STEER_SHIFTY:
        genrep__steer_warp(out, mask, inp, C, H, W, 1, 0, 0, 1, 0, -(double)alpha);
        return;
    case GENREP_STEER_ZOOM: { /* out(p) = inp(c + (p - c) / s), s = 2^alpha */
        double inv = exp2(-(double)alpha);
        genrep__steer_warp(out, mask, inp, C, H, W, inv, 0, 0, inv, 0, 0);
        return;
    }
    case GENREP_STEER_ROTATE: {
        /* counter-clockwise on screen with rows pointing down: the source of
           offset (dx, dy) is (cos dx - sin dy, sin dx + cos dy) */
        double th = (double)alpha * 3.14159265358979323846 / 180.0, cs = cos(th), sn = sin(th);
        genrep__steer_warp(out, mask, inp, C, H, W, cs, -sn, sn, cs, 0, 0);
        return;
    }
    case GENREP_STEER_BRIGHTNESS:
        for (size_t i = 0; i < n; i++) out[i] = inp[i] + alpha;
        break;
    case GENREP_STEER_CONTRAST: {
        double m = 0;
        for (size_t i = 0; i < n; i++) m += inp[i];
        m /= (double)n;
        double f = exp2((double)alpha);
        for (size_t i = 0; i < n; i++) out[i] = (float)(m + f * ((double)inp[i] - m));
        break;
    }
    }
    if (mask) for (size_t i = 0; i < n; i++) mask[i] = 1.0f;
}

GENREP_API genrep_status genrep_steer_edit(float *out, float *mask, const float *inp, const float *alpha,
                                           genrep_steer_kind kind, int N, int C, int H, int W) {
    GENREP__CHECK_PTR(out); GENREP__CHECK_PTR(inp); GENREP__CHECK_PTR(alpha);
    GENREP__CHECK_POS(N); GENREP__CHECK_POS(C); GENREP__CHECK_POS(H); GENREP__CHECK_POS(W);
    if ((int)kind < 0 || kind >= GENREP_STEER_N_KINDS)
        return genrep__fail(GENREP_ERR_ARG, "genrep_steer_edit: unknown transform %d", (int)kind);
    if (out == inp) return genrep__fail(GENREP_ERR_ARG, "genrep_steer_edit: out must not alias inp");
    for (int i = 0; i < N; i++)
        if (!isfinite(alpha[i]))
            return genrep__fail(GENREP_ERR_NONFINITE, "genrep_steer_edit: alpha[%d] is not finite", i);
    const size_t n = (size_t)C * H * W;
    GENREP__OMP(omp parallel for if ((size_t)N * n > 65536))
    for (int i = 0; i < N; i++)
        genrep__steer_edit1(out + i * n, mask ? mask + i * n : NULL, inp + i * n, alpha[i], (int)kind, C, H, W);
    return GENREP_OK;
}

/* ---- walk training ---- */

#define GENREP__STEER_PIX 784 /* generator images (1,28,28) */

GENREP_API void genrep_steer_free(genrep_steer *s) {
    if (!s) return;
    genrep_free(s->unit);   /* one slab from unit onwards */
    genrep_free(s->t);      /* t and y */
    memset(s, 0, sizeof *s);
}

GENREP_API genrep_status genrep_steer_create(genrep_steer *s, const genrep_steer_kind *kinds,
                                             const float *alpha_max, int T, int D, int max_batch,
                                             uint64_t seed) {
    GENREP__CHECK_PTR(s); GENREP__CHECK_PTR(kinds);
    GENREP__CHECK_POS(T); GENREP__CHECK_POS(D); GENREP__CHECK_POS(max_batch);
    memset(s, 0, sizeof *s);
    if (T > GENREP_STEER_MAX_WALKS)
        return genrep__fail(GENREP_ERR_ARG, "genrep_steer_create: T=%d walks, at most %d", T, GENREP_STEER_MAX_WALKS);
    for (int t = 0; t < T; t++) {
        if ((int)kinds[t] < 0 || kinds[t] >= GENREP_STEER_N_KINDS)
            return genrep__fail(GENREP_ERR_ARG, "genrep_steer_create: kinds[%d] = %d is no transform", t, (int)kinds[t]);
        float am = alpha_max ? alpha_max[t] : genrep_steer_default_alpha_max(kinds[t]);
        if (!(am > 0.0f) || !isfinite(am))
            return genrep__fail(GENREP_ERR_ARG, "genrep_steer_create: alpha_max[%d] must be finite and > 0, got %g", t, am);
        s->kinds[t] = kinds[t];
        s->alpha_max[t] = am;
    }
    s->T = T; s->D = D; s->max_batch = max_batch; s->truncation = 1.0f;
    const size_t TD = (size_t)T * D, BD = (size_t)max_batch * D, BP = (size_t)max_batch * GENREP__STEER_PIX;
    /* every array rounded up to 16 floats so each starts 64-byte aligned */
#define GENREP__STEER_R(n) (((n) + 15) & ~(size_t)15)
    size_t nf = 4 * GENREP__STEER_R(TD) + 3 * GENREP__STEER_R(BD) + GENREP__STEER_R((size_t)max_batch) + 3 * BP;
    float *f = (float *)genrep_alloc(nf * sizeof(float));
    int32_t *ti = (int32_t *)genrep_alloc(2 * GENREP__STEER_R((size_t)max_batch) * sizeof(int32_t));
    if (!f || !ti) {
        genrep_free(f); genrep_free(ti);
        return genrep__fail(GENREP_ERR_NOMEM, "genrep_steer_create: out of memory (%zu floats)", nf);
    }
    memset(f, 0, nf * sizeof(float));
    memset(ti, 0, 2 * GENREP__STEER_R((size_t)max_batch) * sizeof(int32_t));
    s->unit = f;                               f += GENREP__STEER_R(TD);
    s->grad = f;                               f += GENREP__STEER_R(TD);
    s->m = f;                                  f += GENREP__STEER_R(TD);
    s->v = f;                                  f += GENREP__STEER_R(TD);
    s->z = f;                                  f += GENREP__STEER_R(BD);
    s->zs = f;                                 f += GENREP__STEER_R(BD);
    s->dz = f;                                 f += GENREP__STEER_R(BD);
    s->alpha = f;                              f += GENREP__STEER_R((size_t)max_batch);
    s->target = f;                             f += BP;
    s->mask = f;                               f += BP;
    s->dout = f;
    s->t = ti;
    s->y = ti + GENREP__STEER_R((size_t)max_batch);
#undef GENREP__STEER_R
    /* N(0, 0.1) init, one stream per walk */
    for (int t = 0; t < T; t++) {
        genrep_rng r;
        genrep_rng_init(&r, seed, 0x57EE40000ull + (uint64_t)t);
        for (int d = 0; d < D; d++) s->unit[(size_t)t * D + d] = 0.1f * genrep_rng_normal(&r);
    }
    return GENREP_OK;
}

GENREP_API void genrep_steer_walks(float *walks, const genrep_steer *s) {
    for (int t = 0; t < s->T; t++)
        for (int d = 0; d < s->D; d++)
            walks[(size_t)t * s->D + d] = s->unit[(size_t)t * s->D + d] / s->alpha_max[t];
}

static genrep_status genrep__steer_check(const char *fn, const genrep_steer *s, const genrep_gen *g, int B) {
    if (!s || !g) return genrep__fail(GENREP_ERR_ARG, "%s: argument '%s' is NULL", fn, s ? "g" : "s");
    if (!s->unit) return genrep__fail(GENREP_ERR_ARG, "%s: the steer state is not created", fn);
    if (B <= 0 || B > s->max_batch || B > g->max_batch)
        return genrep__fail(GENREP_ERR_ARG, "%s: batch B=%d must be in 1..min(max_batch %d, generator max_batch %d)",
                            fn, B, s->max_batch, g->max_batch);
    if (g->cfg.zdim != s->D)
        return genrep__fail(GENREP_ERR_SHAPE, "%s: generator zdim %d != walk dimension %d", fn, g->cfg.zdim, s->D);
    int C, H, W;
    genrep_gen_shape(g, &C, &H, &W);
    if (C != 1 || H != 28 || W != 28)
        return genrep__fail(GENREP_ERR_UNSUPPORTED, "%s: learned walks take a generator of 1x28x28 images, this one "
                            "makes %dx%dx%d", fn, C, H, W);
    return GENREP_OK;
}

/* One batch of the walk loss. The anchors (and classes) of rows
   first..first+B-1 are drawn from seed; each row's transform is `only`
   (>= 0) or uniform over the walks, its alpha alpha_max * U(-1,1), from
   the row's own stream. walk_scale multiplies the latent step (1 =
   walked, 0 = the unmoved G(z)). With want_grad, s->grad = dL/dU. */
static genrep_status genrep__steer_batch(genrep_steer *s, float *loss, genrep_gen *g, int B, uint64_t seed,
                                         uint64_t first, int only, float walk_scale, int want_grad) {
    const int D = s->D, P = GENREP__STEER_PIX;
    const int cg = g->cfg.kind == GENREP_GAN_CGAN;
    genrep_status st = genrep_latent_anchors(s->z, B, D, s->truncation, seed, first);
    if (!st && cg) st = genrep_latent_classes(s->y, B, g->cfg.n_classes, seed, first);
    if (st) return st;
    for (int b = 0; b < B; b++) {
        /* purpose 63 of the sample's latent streams: views use 2..62 */
        genrep_rng r;
        genrep_rng_init(&r, seed, genrep__latent_stream(first + (uint64_t)b, 63));
        int t = only >= 0 ? only : (int)genrep_rng_below(&r, (uint32_t)s->T);
        s->t[b] = t;
        s->alpha[b] = s->alpha_max[t] * (2.0f * genrep_rng_uniform(&r) - 1.0f);
    }
    /* target = edit_t(G(z), alpha), per row since rows differ in t */
    if ((st = genrep_gen_render(g, s->target, s->z, cg ? s->y : NULL, B))) return st;
    for (int b = 0; b < B; b++) {
        float img[GENREP__STEER_PIX];
        memcpy(img, s->target + (size_t)b * P, sizeof img);
        genrep__steer_edit1(s->target + (size_t)b * P, s->mask + (size_t)b * P, img, s->alpha[b],
                            (int)s->kinds[s->t[b]], 1, 28, 28);
    }
    /* z' = z + (alpha / alpha_max_t) U_t */
    for (int b = 0; b < B; b++) {
        float c = walk_scale * s->alpha[b] / s->alpha_max[s->t[b]];
        const float *u = s->unit + (size_t)s->t[b] * D;
        for (int d = 0; d < D; d++) s->zs[(size_t)b * D + d] = s->z[(size_t)b * D + d] + c * u[d];
    }
    if ((st = genrep_gen_forward(g, s->zs, cg ? s->y : NULL, B, 0))) return st;
    const float *out = genrep_gen_output(g);
    const size_t n = (size_t)B * P;
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)out[i] - s->target[i];
        num += s->mask[i] * e * e;
        den += s->mask[i];
    }
    *loss = den > 0 ? (float)(num / den) : 0.0f;
    if (!want_grad) return GENREP_OK;
    /* dL/dout = 2 mask (out - target) / sum(mask) */
    float k = den > 0 ? (float)(2.0 / den) : 0.0f;
    for (size_t i = 0; i < n; i++) s->dout[i] = k * s->mask[i] * (out[i] - s->target[i]);
    memset(s->dz, 0, (size_t)B * D * sizeof(float));
    genrep_gen_zero_grad(g); /* frozen: its parameter gradients are discarded */
    if ((st = genrep_gen_backward(g, s->dz, s->dout))) return st;
    /* dL/dU_t = sum_{b of t} (alpha_b / alpha_max_t) dL/dz'_b, summed in row order */
    memset(s->grad, 0, (size_t)s->T * D * sizeof(float));
    for (int b = 0; b < B; b++) {
        float c = walk_scale * s->alpha[b] / s->alpha_max[s->t[b]];
        float *gu = s->grad + (size_t)s->t[b] * D;
        for (int d = 0; d < D; d++) gu[d] += c * s->dz[(size_t)b * D + d];
    }
    return GENREP_OK;
}

GENREP_API genrep_status genrep_steer_loss_grad(genrep_steer *s, float *loss, genrep_gen *g, int B,
                                                uint64_t seed, int64_t step) {
    GENREP__CHECK_PTR(loss);
    genrep_status st = genrep__steer_check(__func__, s, g, B);
    if (st) return st;
    GENREP__CHECK_NONNEG(step);
    return genrep__steer_batch(s, loss, g, B, seed, (uint64_t)step * (uint64_t)B, -1, 1.0f, 1);
}

GENREP_API genrep_status genrep_steer_train_step(genrep_steer *s, float *loss, genrep_gen *g, int B,
                                                 const genrep_adam_config *cfg, uint64_t seed, int64_t step) {
    GENREP__CHECK_PTR(cfg);
    genrep_status st = genrep_steer_loss_grad(s, loss, g, B, seed, step);
    if (st) return st;
    if (!isfinite(*loss))
        return genrep__fail(GENREP_ERR_NONFINITE, "genrep_steer_train_step: loss is %g at step %lld",
                            *loss, (long long)step);
    return genrep_adam_step(s->unit, s->m, s->v, s->grad, (size_t)s->T * s->D, cfg, step + 1);
}

GENREP_API genrep_status genrep_steer_eval(genrep_steer *s, float *loss_walk, float *loss_still, genrep_gen *g,
                                           int B, uint64_t seed, uint64_t first) {
    genrep_status st = genrep__steer_check(__func__, s, g, B);
    for (int t = 0; !st && t < s->T; t++) {
        float l;
        if (loss_walk && !(st = genrep__steer_batch(s, &l, g, B, seed, first, t, 1.0f, 0))) loss_walk[t] = l;
        if (!st && loss_still && !(st = genrep__steer_batch(s, &l, g, B, seed, first, t, 0.0f, 0))) loss_still[t] = l;
    }
    return st;
}

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
    int avx2 = genrep__kernels()->simd_avx2;
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
   FMA, so both give the same bits). Chosen by the kernel table. */
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
    if (genrep__kernels()->simd_avx2) {
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

/* ------------------------------------------------------------ file opening */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

/* O_CLOEXEC and S_ISSOCK need POSIX 2008 / XSI, which a strict -std=c11
   build without feature macros does not declare */
#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
static const char *genrep__file_kind(mode_t m) {
#ifdef S_ISSOCK
    if (S_ISSOCK(m)) return "a socket";
#endif
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO (named pipe)"
         : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" : "a special file";
}

GENREP_API genrep_status genrep_file_open_regular(int *fd, const char *path) {
    GENREP__CHECK_PTR(fd);
    *fd = -1;
    GENREP__CHECK_PTR(path);
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer */
    int f;
    do f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY); while (f < 0 && errno == EINTR);
    if (f < 0) return genrep__fail(GENREP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(f, &sb) != 0) {
        int e = errno;
        close(f);
        return genrep__fail(GENREP_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(f);
        return genrep__fail(GENREP_ERR_IO, "%s: is %s, not a regular file", path, genrep__file_kind(sb.st_mode));
    }
    int fl = fcntl(f, F_GETFL); /* back to blocking reads */
    if (fl < 0 || fcntl(f, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(f);
        return genrep__fail(GENREP_ERR_IO, "%s: fcntl: %s", path, strerror(e));
    }
    *fd = f;
    return GENREP_OK;
}

/* read() until n bytes or end of file; returns the count, -1 on error (errno set). */
static int64_t genrep__read_full(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        size_t want = n - got > ((size_t)1 << 30) ? ((size_t)1 << 30) : n - got;
        ssize_t r = read(fd, (char *)buf + got, want);
        if (r < 0) { if (errno == EINTR) continue; return -1; }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (int64_t)got;
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
    int fd;
#endif
    const char *path;
} genrep__reader;

/* Opens only regular files (genrep_file_open_regular), then reads through
   zlib (gzip or plain) or plain read(). */
static genrep_status genrep__reader_open(genrep__reader *rd, const char *path) {
    rd->path = path;
    int fd;
    genrep_status st = genrep_file_open_regular(&fd, path);
    if (st) return st;
#ifndef GENREP_NO_ZLIB
    errno = 0;
    rd->gz = gzdopen(fd, "rb");
    if (!rd->gz) { close(fd); return genrep__fail(GENREP_ERR_IO, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory"); }
    gzbuffer(rd->gz, 1 << 17);
#else
    rd->fd = fd;
    unsigned char m[2];
    int64_t r = genrep__read_full(fd, m, 2);
    if (r == 2 && m[0] == 0x1f && m[1] == 0x8b) {
        close(fd); rd->fd = -1;
        return genrep__fail(GENREP_ERR_UNSUPPORTED, "%s: gzip-compressed, but genrep.h was built with GENREP_NO_ZLIB", path);
    }
    if (r < 0 || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd); rd->fd = -1;
        return genrep__fail(GENREP_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
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
        int64_t r = genrep__read_full(rd->fd, b + got, (size_t)want);
        if (r < 0) { genrep__fail(GENREP_ERR_IO, "%s: read error: %s", rd->path, strerror(errno)); return -1; }
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
    if (rd->fd >= 0) close(rd->fd);
    rd->fd = -1;
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

/* Read and check the magic and dims of an open IDX stream: each dim >= 1,
   the payload numel * es <= GENREP_IDX_MAX_BYTES (checked without forming
   a product that could overflow). Unused dims are set to 1. */
static genrep_status genrep__idx_header(genrep__reader *rd, int *type_out, int *ndim_out, int *es_out,
                                        int64_t dims[GENREP_IDX_MAX_DIMS], int64_t *numel_out) {
    const char *path = rd->path;
    unsigned char hdr[4 + 4 * GENREP_IDX_MAX_DIMS];
    int64_t got = genrep__reader_read(rd, hdr, 4);
    if (got < 0) return GENREP_ERR_FORMAT;
    if (got < 4) return genrep__fail(GENREP_ERR_FORMAT, "%s: truncated: %lld bytes, too short for an IDX header", path, (long long)got);
    uint32_t magic = genrep__be32(hdr);
    int type = hdr[2], ndim = hdr[3], es = genrep__idx_elem_size(type);
    if (hdr[0] != 0 || hdr[1] != 0 || es == 0 || ndim < 1 || ndim > GENREP_IDX_MAX_DIMS)
        return genrep__fail(GENREP_ERR_FORMAT,
                            "%s: bad magic number 0x%08x (want 0x0000TTDD: type TT in 08,09,0B,0C,0D,0E, DD = 1..%d dims)",
                            path, (unsigned)magic, GENREP_IDX_MAX_DIMS);
    got = genrep__reader_read(rd, hdr + 4, 4 * ndim);
    if (got < 0) return GENREP_ERR_FORMAT;
    if (got < 4 * ndim) return genrep__fail(GENREP_ERR_FORMAT, "%s: truncated in the header (%d dims declared)", path, ndim);
    int64_t bytes = es; /* <= GENREP_IDX_MAX_BYTES throughout */
    for (int d = 0; d < GENREP_IDX_MAX_DIMS; d++) dims[d] = 1;
    for (int d = 0; d < ndim; d++) {
        uint32_t v = genrep__be32(hdr + 4 + 4 * d);
        if (v == 0 || (int64_t)v > GENREP_IDX_MAX_BYTES / bytes)
            return genrep__fail(GENREP_ERR_FORMAT, "%s: dimension %d = %u is 0 or makes the payload exceed %lld bytes",
                                path, d, (unsigned)v, (long long)GENREP_IDX_MAX_BYTES);
        dims[d] = v;
        bytes *= v;
    }
    *type_out = type; *ndim_out = ndim; *es_out = es; *numel_out = bytes / es;
    return GENREP_OK;
}

GENREP_API genrep_status genrep_idx_read(genrep_idx *out, const char *path) {
    GENREP__CHECK_PTR(out);
    memset(out, 0, sizeof *out);
    GENREP__CHECK_PTR(path);
    genrep__reader rd;
    genrep_status st = genrep__reader_open(&rd, path);
    if (st) return st;
    int type, ndim, es;
    int64_t numel, got;
    if ((st = genrep__idx_header(&rd, &type, &ndim, &es, out->dims, &numel))) {
        genrep__reader_close(&rd);
        memset(out, 0, sizeof *out);
        return st;
    }
    int64_t bytes = numel * es;
    /* Grow the buffer (x4 steps from 1 MiB) as data arrives, so a short
       file that declares a huge payload never costs a huge allocation. */
    int64_t cap = bytes < ((int64_t)1 << 20) ? bytes : ((int64_t)1 << 20);
    unsigned char *data = (unsigned char *)genrep_alloc((size_t)cap);
    got = 0;
    for (;;) {
        if (!data) {
            genrep__reader_close(&rd);
            return genrep__fail(GENREP_ERR_NOMEM, "%s: cannot allocate %lld bytes", path, (long long)cap);
        }
        int64_t r = genrep__reader_read(&rd, data + got, cap - got);
        if (r < 0) { got = -1; break; }
        got += r;
        if (got < cap || cap == bytes) break; /* end of data, or all of it */
        int64_t ncap = cap * 4 < bytes ? cap * 4 : bytes;
        unsigned char *nd = (unsigned char *)genrep_alloc((size_t)ncap);
        if (nd) memcpy(nd, data, (size_t)got);
        genrep_free(data);
        data = nd; cap = ncap;
    }
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
   so that the open error names the file we looked for first. stat, not a
   trial open: opening a FIFO would block (the open that follows refuses it). */
static genrep_status genrep__fmnist_path(char *buf, size_t cap, const char *dir, const char *stem) {
    struct stat sb;
    int n = snprintf(buf, cap, "%s/%s.gz", dir, stem);
    if (n < 0 || (size_t)n >= cap) return genrep__fail(GENREP_ERR_ARG, "genrep_fmnist_load: directory name too long: %s", dir);
    if (stat(buf, &sb) == 0) return GENREP_OK;
    snprintf(buf, cap, "%s/%s", dir, stem);
    if (stat(buf, &sb) == 0) return GENREP_OK;
    snprintf(buf, cap, "%s/%s.gz", dir, stem);
    return GENREP_OK;
}

/* Nothing may follow a payload read in full; this read also makes zlib check the CRC. */
static genrep_status genrep__idx_expect_end(genrep__reader *rd, int64_t bytes) {
    unsigned char extra[256];
    int64_t more = genrep__reader_read(rd, extra, sizeof extra);
    if (more < 0) return GENREP_ERR_FORMAT;
    if (more > 0)
        return genrep__fail(GENREP_ERR_FORMAT, "%s: trailing bytes after the %lld-byte payload (%s%lld extra)",
                            rd->path, (long long)bytes, more == (int64_t)sizeof extra ? ">= " : "", (long long)more);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_fmnist_load(genrep_dataset *out, const char *dir, int train) {
    return genrep_fmnist_load_n(out, dir, train, 0);
}

/* Both headers are read and checked against each other and the limits
   first; then the labels, then the pixels are decoded in 64 KiB pieces
   straight into the final float buffer (peak: that buffer, no u8 copy). */
GENREP_API genrep_status genrep_fmnist_load_n(genrep_dataset *out, const char *dir, int train, int64_t max_images) {
    GENREP__CHECK_PTR(out);
    memset(out, 0, sizeof *out);
    if (max_images < 0) return genrep__fail(GENREP_ERR_ARG, "genrep_fmnist_load_n: max_images = %lld is negative", (long long)max_images);
    if (!dir) dir = genrep_fmnist_default_dir();
    char ipath[4096], lpath[4096];
    genrep_status st = genrep__fmnist_path(ipath, sizeof ipath, dir, train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte");
    if (!st) st = genrep__fmnist_path(lpath, sizeof lpath, dir, train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte");
    if (st) return st;
    genrep__reader ri, rl;
    int it, ind, ies, lt, lnd, les;
    int64_t idims[GENREP_IDX_MAX_DIMS], ldims[GENREP_IDX_MAX_DIMS], inum, lnum;
    if ((st = genrep__reader_open(&ri, ipath))) return st;
    if ((st = genrep__idx_header(&ri, &it, &ind, &ies, idims, &inum))) { genrep__reader_close(&ri); return st; }
    if (it != 0x08 || ind != 3 || idims[1] != 28 || idims[2] != 28) {
        genrep__reader_close(&ri);
        return genrep__fail(GENREP_ERR_FORMAT, "%s: expected u8 images of 28x28 (magic 0x00000803), got magic 0x%08x with %d dims (%lld x %lld)",
                            ipath, (unsigned)(it << 8 | ind), ind, (long long)idims[1], (long long)idims[2]);
    }
    if ((st = genrep__reader_open(&rl, lpath))) { genrep__reader_close(&ri); return st; }
    if ((st = genrep__idx_header(&rl, &lt, &lnd, &les, ldims, &lnum))) goto done;
    if (lt != 0x08 || lnd != 1) {
        st = genrep__fail(GENREP_ERR_FORMAT, "%s: expected u8 labels (magic 0x00000801), got magic 0x%08x",
                          lpath, (unsigned)(lt << 8 | lnd));
        goto done;
    }
    if (ldims[0] != idims[0]) {
        st = genrep__fail(GENREP_ERR_FORMAT, "count mismatch: %s has %lld images but %s has %lld labels",
                          ipath, (long long)idims[0], lpath, (long long)ldims[0]);
        goto done;
    }
    {
        int64_t nfile = idims[0], n = max_images > 0 && max_images < nfile ? max_images : nfile;
        if (n > GENREP_FMNIST_MAX_IMAGES) {
            st = genrep__fail(GENREP_ERR_FORMAT, "%s: declares %lld images, more than the limit of %lld "
                              "(GENREP_FMNIST_MAX_IMAGES; pass max_images to load the first ones)",
                              ipath, (long long)nfile, (long long)GENREP_FMNIST_MAX_IMAGES);
            goto done;
        }
        out->images = (float *)genrep_alloc((size_t)n * 784 * sizeof(float));
        out->labels = (int32_t *)genrep_alloc((size_t)n * sizeof(int32_t));
        if (!out->images || !out->labels) {
            st = genrep__fail(GENREP_ERR_NOMEM, "genrep_fmnist_load: cannot allocate %lld images", (long long)n);
            goto done;
        }
        unsigned char buf[1 << 16];
        for (int64_t i = 0; i < n;) { /* labels */
            int64_t want = n - i < (int64_t)sizeof buf ? n - i : (int64_t)sizeof buf;
            int64_t r = genrep__reader_read(&rl, buf, want);
            if (r < 0) { st = GENREP_ERR_FORMAT; goto done; }
            for (int64_t k = 0; k < r; k++) {
                if (buf[k] > 9) {
                    st = genrep__fail(GENREP_ERR_FORMAT, "%s: label %d at index %lld is out of range 0..9", lpath, buf[k], (long long)(i + k));
                    goto done;
                }
                out->labels[i + k] = buf[k];
            }
            if (r < want) {
                st = genrep__fail(GENREP_ERR_FORMAT, "%s: truncated: the header promises %lld data bytes, the file has %lld",
                                  lpath, (long long)nfile, (long long)(i + r));
                goto done;
            }
            i += r;
        }
        int64_t bytes = n * 784;
        for (int64_t i = 0; i < bytes;) { /* pixels, as ToTensor */
            int64_t want = bytes - i < (int64_t)sizeof buf ? bytes - i : (int64_t)sizeof buf;
            int64_t r = genrep__reader_read(&ri, buf, want);
            if (r < 0) { st = GENREP_ERR_FORMAT; goto done; }
            for (int64_t k = 0; k < r; k++) out->images[i + k] = (float)buf[k] / 255.0f;
            if (r < want) {
                st = genrep__fail(GENREP_ERR_FORMAT, "%s: truncated: the header promises %lld data bytes, the file has %lld",
                                  ipath, (long long)(nfile * 784), (long long)(i + r));
                goto done;
            }
            i += r;
        }
        if (n == nfile) { /* read in full: nothing may follow */
            if ((st = genrep__idx_expect_end(&rl, nfile))) goto done;
            if ((st = genrep__idx_expect_end(&ri, nfile * 784))) goto done;
        }
        out->n = n; out->c = 1; out->h = 28; out->w = 28; out->num_classes = 10;
    }
done:
    genrep__reader_close(&ri);
    genrep__reader_close(&rl);
    if (st) genrep_dataset_free(out);
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

/* What the first bytes of a refused file look like, for the message. */
static const char *genrep__image_guess(const unsigned char *b, size_t n) {
    if (n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6))) return "GIF";
    if (n >= 2 && b[0] == 'B' && b[1] == 'M') return "BMP";
    if (n >= 4 && !memcmp(b, "8BPS", 4)) return "PSD";
    if (n >= 2 && b[0] == '#' && b[1] == '?') return "Radiance HDR";
    if (n >= 4 && b[0] == 0x53 && b[1] == 0x80 && b[2] == 0xF6 && b[3] == 0x34) return "Softimage PIC";
    if (n >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7') return "PNM (PPM/PGM/PBM)";
    if (n >= 4 && !memcmp(b, "RIFF", 4)) return "RIFF (WebP?)";
    if (n >= 12 && !memcmp(b + 4, "ftyp", 4)) return "ISO media (HEIC/AVIF?)";
    if (n >= 3 && b[1] <= 1 && (b[2] == 1 || b[2] == 2 || b[2] == 3 || b[2] == 9 || b[2] == 10 || b[2] == 11)) return "TGA?";
    return "unknown";
}

static uint32_t genrep__image_be32(const unsigned char *b) {
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}

/* PNG: walk the chunks (each must lie inside the file: stb 2.27 grows its
   IDAT buffer to a chunk's declared length before reading it, so a 70-byte
   file could cost 2 GiB; found by fuzz_image), inflate the IDAT stream into
   scratch and refuse it if it holds more than the image needs (w, h from
   IHDR, already within the pixel cap): stb would inflate any amount into
   one growing buffer. */
static genrep_status genrep__png_inflate_check(const unsigned char *b, size_t n, const char *name) {
    if (n < 33 || genrep__image_be32(b + 8) != 13 || memcmp(b + 12, "IHDR", 4))
        return genrep__fail(GENREP_ERR_FORMAT, "%s: corrupt PNG: no IHDR chunk first", name);
    uint64_t w = genrep__image_be32(b + 16), h = genrep__image_be32(b + 20);
    unsigned depth = b[24], color = b[25];
    unsigned ch = color == 0 ? 1 : color == 2 ? 3 : color == 3 ? 1 : color == 4 ? 2 : 4;
    /* filter byte per row; Adam7 adds at most 7 passes' filter bytes and row padding */
    uint64_t need = ((w * ch * (depth ? depth : 16) + 7) / 8 + 1) * h + 8 * (h + 8) + 64;
    genrep_status st = GENREP_OK;
#ifndef GENREP_NO_ZLIB
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) return genrep__fail(GENREP_ERR_NOMEM, "%s: out of memory (zlib)", name);
    unsigned char out[1 << 16];
    uint64_t total = 0;
    int zr = Z_OK;
#endif
    /* while a length and a type are there (stb reads a chunk from 8 bytes on) */
    for (size_t pos = 8; pos + 8 <= n && !st;) {
        uint32_t len = genrep__image_be32(b + pos);
        const unsigned char *type = b + pos + 4;
        if (n - pos < 12 || len > n - pos - 12) { /* stb would first grow its IDAT buffer to the declared length (up to 4 GiB) */
            st = genrep__fail(GENREP_ERR_FORMAT, "%s: corrupt PNG: chunk of %lu bytes at byte %zu runs past the end of the file",
                              name, (unsigned long)len, pos);
            break;
        }
        if (!memcmp(type, "CgBI", 4)) st = genrep__fail(GENREP_ERR_FORMAT, "%s: Apple CgBI PNG (not a standard PNG)", name);
        if (!memcmp(type, "IEND", 4)) break;
#ifndef GENREP_NO_ZLIB
        if (!memcmp(type, "IDAT", 4)) {
            z.next_in = (Bytef *)(uintptr_t)(b + pos + 8);
            z.avail_in = len;
            while (z.avail_in && zr == Z_OK && !st) {
                uInt in0 = z.avail_in;
                z.next_out = out; z.avail_out = sizeof out;
                zr = inflate(&z, Z_NO_FLUSH);
                total += sizeof out - z.avail_out;
                if (total > need)
                    st = genrep__fail(GENREP_ERR_FORMAT, "%s: PNG data inflates to more than the %llu bytes a %llux%llu image needs",
                                      name, (unsigned long long)need, (unsigned long long)w, (unsigned long long)h);
                /* Z_BUF_ERROR: no progress possible; after Z_STREAM_END or an error
                   (a corrupt stream, which stb reports) only the chunk walk goes on */
                if (zr == Z_BUF_ERROR && (z.avail_in != in0 || z.avail_out != sizeof out)) zr = Z_OK;
            }
        }
#endif
        pos += 12 + (size_t)len;
    }
#ifndef GENREP_NO_ZLIB
    /* stb needs every byte of the image (it refuses short data), so a stream
       zlib finds corrupt or unfinished is refused here: stb's own inflate
       then never runs on data zlib would not accept */
    if (!st && zr != Z_STREAM_END)
        st = genrep__fail(GENREP_ERR_FORMAT, "%s: corrupt PNG: the image data is %s (zlib: %s)", name,
                          zr == Z_OK || zr == Z_BUF_ERROR ? "truncated" : "not a valid zlib stream", z.msg ? z.msg : "no message");
    inflateEnd(&z);
#else
    (void)need; /* without zlib: stb's own inflate, bounded by its 4 GiB buffer cap only */
#endif
    return st;
}

/* JPEG: walk the marker segments before stb does and refuse what stb 2.27
   (Debian's libstb, 0.0~git20220908) mishandles or what costs unbounded
   time:
   - a DHT table whose 16 code counts sum to more than 256: stb's
     stbi__build_huffman has no such check and writes past its 257-entry
     size[] and 256-entry values[] arrays (a heap overflow; fixed upstream
     in 2.28, found here by fuzz_image);
   - more than one frame header (SOFn), or one with 0 or more than 4
     components, sampling factors outside 1..4 or a table id over 3;
   - more than GENREP_IMAGE_MAX_SCANS scans (SOS): a progressive file
     repeating scans over a large image would decode for hours;
   - a scan that uses a Huffman table no DHT defined: stb decodes with the
     table memory as it found it (heap left over from earlier images) and,
     in Debian's build, aborts the process on its STBI_ASSERT in
     stbi__jpeg_huff_decode (found by fuzz_image);
   - a marker segment that runs past the end of the file.
   Entropy-coded data (after SOS) is skipped to the next marker the way
   stb's bit reader finds it (FF..FF 00 is a stuffed byte, FF D0..D7 a
   restart); a marker stb does not know is refused (stb refuses it too), so
   the two walks see the same segments (a first version that took FF FF 00
   for a marker parted ways with stb and let an oversized DHT through:
   fuzz_image). */
static genrep_status genrep__jpeg_check(const unsigned char *b, size_t n, const char *name) {
    int64_t scans = 0;
    int frames = 0, progressive = 0;
    unsigned char defined[2][4] = {{0}}; /* Huffman tables [DC/AC][id] seen so far */
    size_t pos = 2; /* after SOI */
    while (pos + 1 < n) {
        if (b[pos] != 0xFF) { pos++; continue; } /* garbage between segments: stb skips it too */
        unsigned m = b[pos + 1];
        if (m == 0xFF) { pos++; continue; } /* fill bytes */
        pos += 2;
        if (m == 0xD9) break;                                  /* EOI */
        /* what stb's marker handling knows; it refuses anything else, so do we
           (and the two walks cannot part ways at a marker one of them skips) */
        if (!(m <= 0xC2 && m >= 0xC0) && m != 0xC4 && !(m >= 0xC3 && m <= 0xCF && m != 0xC8 && m != 0xCC)
            && m != 0xDA && m != 0xDB && m != 0xDC && m != 0xDD && !(m >= 0xE0 && m <= 0xEF) && m != 0xFE)
            return genrep__fail(GENREP_ERR_FORMAT, "%s: corrupt JPEG: unexpected marker FF %02X at byte %zu", name, m, pos - 2);
        if (pos + 2 > n) return genrep__fail(GENREP_ERR_FORMAT, "%s: corrupt JPEG: marker FF %02X cut by the end of the file", name, m);
        size_t L = ((size_t)b[pos] << 8) | b[pos + 1];
        if (L < 2 || L > n - pos)
            return genrep__fail(GENREP_ERR_FORMAT, "%s: corrupt JPEG: segment FF %02X of length %zu at byte %zu runs past the end of the file",
                                name, m, L, pos - 2);
        const unsigned char *seg = b + pos + 2;
        size_t sl = L - 2;
        if (m == 0xC4) { /* DHT: tables of (TcTh, 16 counts, values) */
            for (size_t q = 0; q < sl;) {
                if (sl - q < 17) return genrep__fail(GENREP_ERR_FORMAT, "%s: corrupt JPEG: short Huffman table", name);
                if ((seg[q] >> 4) > 1 || (seg[q] & 15) > 3)
                    return genrep__fail(GENREP_ERR_FORMAT, "%s: corrupt JPEG: Huffman table class/id 0x%02x", name, seg[q]);
                size_t cnt = 0;
                for (int i = 1; i <= 16; i++) cnt += seg[q + i];
                if (cnt > 256 || cnt > sl - q - 17)
                    return genrep__fail(GENREP_ERR_FORMAT, "%s: corrupt JPEG: Huffman table with %zu codes (at most 256, and within its segment)",
                                        name, cnt);
                defined[seg[q] >> 4][seg[q] & 15] = 1;
                q += 17 + cnt;
            }
        } else if ((m >= 0xC0 && m <= 0xC3) || (m >= 0xC5 && m <= 0xC7) || (m >= 0xC9 && m <= 0xCB) || (m >= 0xCD && m <= 0xCF)) {
            if (++frames > 1) return genrep__fail(GENREP_ERR_FORMAT, "%s: JPEG with more than one frame header", name);
            if (m > 0xC2) /* stb reads baseline, extended and progressive Huffman JPEG only */
                return genrep__fail(GENREP_ERR_FORMAT, "%s: unsupported JPEG coding (SOF marker FF %02X: lossless, hierarchical "
                                    "or arithmetic); baseline and progressive JPEG are read", name, m);
            progressive = m == 0xC2;
            if (sl < 6) return genrep__fail(GENREP_ERR_FORMAT, "%s: corrupt JPEG: short frame header", name);
            unsigned nc = seg[5];
            if (nc < 1 || nc > 4 || sl < 6 + 3 * (size_t)nc)
                return genrep__fail(GENREP_ERR_FORMAT, "%s: corrupt JPEG: frame header with %u components", name, nc);
            for (unsigned c = 0; c < nc; c++) {
                unsigned hv = seg[6 + 3 * c + 1], tq = seg[6 + 3 * c + 2];
                if ((hv >> 4) < 1 || (hv >> 4) > 4 || (hv & 15) < 1 || (hv & 15) > 4 || tq > 3)
                    return genrep__fail(GENREP_ERR_FORMAT, "%s: corrupt JPEG: component %u sampling 0x%02x, table %u", name, c, hv, tq);
            }
        } else if (m == 0xDA) { /* SOS, then entropy-coded data up to the next marker */
            if (++scans > GENREP_IMAGE_MAX_SCANS)
                return genrep__fail(GENREP_ERR_FORMAT, "%s: JPEG with more than %d scans (GENREP_IMAGE_MAX_SCANS)", name, GENREP_IMAGE_MAX_SCANS);
            unsigned ns = sl ? seg[0] : 0;
            if (ns < 1 || ns > 4 || sl != 4 + 2 * (size_t)ns)
                return genrep__fail(GENREP_ERR_FORMAT, "%s: corrupt JPEG: scan header with %u components in %zu bytes", name, ns, sl);
            unsigned ss = seg[1 + 2 * ns], ah = seg[3 + 2 * ns] >> 4;
            /* sequential scans use both tables; progressive DC-first scans the
               DC table, AC scans the AC table, DC refinements none */
            int need_dc = !progressive || (ss == 0 && ah == 0), need_ac = !progressive || ss > 0;
            for (unsigned c = 0; c < ns; c++) {
                unsigned td = seg[2 + 2 * c] >> 4, ta = seg[2 + 2 * c] & 15;
                if (td > 3 || ta > 3 || (need_dc && !defined[0][td]) || (need_ac && !defined[1][ta]))
                    return genrep__fail(GENREP_ERR_FORMAT, "%s: corrupt JPEG: scan %lld uses Huffman table DC %u / AC %u, not defined before it",
                                        name, (long long)scans, td, ta);
            }
            /* entropy-coded data: as stb's bit reader, a run of FF then 00 is a
               stuffed FF, FF then D0..D7 a restart; FF then anything else ends it */
            for (pos += L;;) {
                while (pos < n && b[pos] != 0xFF) pos++;
                size_t q = pos + 1;
                while (q < n && b[q] == 0xFF) q++;
                if (q >= n) { pos = n; break; }
                if (b[q] == 0x00 || (b[q] >= 0xD0 && b[q] <= 0xD7)) { pos = q + 1; continue; }
                pos = q - 1; /* the FF before the marker byte */
                break;
            }
            continue;
        }
        pos += L;
    }
    return GENREP_OK;
}

GENREP_API genrep_status genrep_image_decode(unsigned char **px, int *w, int *h, const void *bytes, size_t n,
                                             int C, const char *name) {
    GENREP__CHECK_PTR(px);
    *px = NULL;
    GENREP__CHECK_PTR(w); GENREP__CHECK_PTR(h);
    if (!bytes && n) return genrep__fail(GENREP_ERR_ARG, "%s: bytes is NULL", __func__);
    if (C < 1 || C > 4) return genrep__fail(GENREP_ERR_ARG, "%s: C must be 1..4, got %d", __func__, C);
    if (!name) name = "<memory>";
    const unsigned char *b = (const unsigned char *)bytes;
    if ((uint64_t)n > (uint64_t)GENREP_IMAGE_MAX_BYTES || n > (size_t)0x7fffffff)
        return genrep__fail(GENREP_ERR_FORMAT, "%s: %llu bytes, more than the limit of %lld (GENREP_IMAGE_MAX_BYTES)",
                            name, (unsigned long long)n, (long long)GENREP_IMAGE_MAX_BYTES);
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    int is_png = n >= 8 && !memcmp(b, png_sig, 8);
    int is_jpeg = n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF;
    if (!is_png && !is_jpeg) {
        char hex[3 * 8 + 1] = "empty file";
        for (size_t i = 0; i < n && i < 8; i++) snprintf(hex + 3 * i, 4, "%02x ", b[i]);
        if (n) hex[3 * (n < 8 ? n : 8) - 1] = '\0';
        return genrep__fail(GENREP_ERR_FORMAT, "%s: not a PNG or JPEG file (first bytes: %s; looks like: %s); genrep.h reads PNG and JPEG only",
                            name, hex, genrep__image_guess(b, n));
    }
    /* JPEG structure first: stbi_info already parses the Huffman tables */
    genrep_status st = is_jpeg ? genrep__jpeg_check(b, n, name) : GENREP_OK;
    if (st) return st;
    int iw = 0, ih = 0, comp = 0;
    if (!stbi_info_from_memory(b, (int)n, &iw, &ih, &comp))
        return genrep__fail(GENREP_ERR_FORMAT, "%s: cannot read the %s header: %s", name, is_png ? "PNG" : "JPEG", stbi_failure_reason());
    if (iw < 1 || ih < 1 || iw > GENREP_IMAGE_MAX_SIDE || ih > GENREP_IMAGE_MAX_SIDE || (int64_t)iw * ih > GENREP_IMAGE_MAX_PIXELS)
        return genrep__fail(GENREP_ERR_FORMAT, "%s: %dx%d image exceeds the limits (%d a side, %lld pixels: GENREP_IMAGE_MAX_SIDE, "
                            "GENREP_IMAGE_MAX_PIXELS)", name, iw, ih, GENREP_IMAGE_MAX_SIDE, (long long)GENREP_IMAGE_MAX_PIXELS);
    if (is_png && (st = genrep__png_inflate_check(b, n, name))) return st;
    int dw = 0, dh = 0;
    unsigned char *p = stbi_load_from_memory(b, (int)n, &dw, &dh, &comp, C);
    if (!p) return genrep__fail(GENREP_ERR_FORMAT, "%s: cannot decode the %s: %s", name, is_png ? "PNG" : "JPEG", stbi_failure_reason());
    if (dw != iw || dh != ih) { /* the header and the decoder disagree: do not trust either */
        stbi_image_free(p);
        return genrep__fail(GENREP_ERR_FORMAT, "%s: header says %dx%d, decoder gave %dx%d", name, iw, ih, dw, dh);
    }
    *px = p; *w = dw; *h = dh;
    return GENREP_OK;
}

GENREP_API genrep_status genrep_image_load(unsigned char **px, int *w, int *h, const char *path, int C) {
    GENREP__CHECK_PTR(px);
    *px = NULL;
    GENREP__CHECK_PTR(path);
    int fd;
    genrep_status st = genrep_file_open_regular(&fd, path);
    if (st) return st;
    struct stat sb;
    if (fstat(fd, &sb) != 0) { st = genrep__fail(GENREP_ERR_IO, "%s: cannot stat: %s", path, strerror(errno)); close(fd); return st; }
    if ((int64_t)sb.st_size > GENREP_IMAGE_MAX_BYTES) {
        close(fd);
        return genrep__fail(GENREP_ERR_FORMAT, "%s: %lld bytes, more than the limit of %lld (GENREP_IMAGE_MAX_BYTES)",
                            path, (long long)sb.st_size, (long long)GENREP_IMAGE_MAX_BYTES);
    }
    size_t n = (size_t)sb.st_size;
    unsigned char *buf = (unsigned char *)genrep_alloc(n + 1);
    if (!buf) { close(fd); return genrep__fail(GENREP_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n + 1); }
    int64_t got = genrep__read_full(fd, buf, n + 1); /* one byte more: a file that grew is refused */
    int e = errno;
    close(fd);
    if (got != (int64_t)n) {
        genrep_free(buf);
        return genrep__fail(GENREP_ERR_IO, "%s: %s", path, got < 0 ? strerror(e) : "the file changed size while being read");
    }
    st = genrep_image_decode(px, w, h, buf, n, C, path);
    genrep_free(buf);
    return st;
}

GENREP_API void genrep_image_free(unsigned char *px) { stbi_image_free(px); }

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
    static const char *exts[] = {"png", "jpg", "jpeg", "bmp", "gif", "tga", "ppm", "pgm", "pnm", "psd", "hdr", "pic"};
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
    size_t plane = (size_t)C * out_h * out_w; /* <= 3 * 1024 * 1024 */
    if ((uint64_t)total > (uint64_t)SIZE_MAX / sizeof(float) / plane) {
        genrep__names_free(&classes);
        return genrep__fail(GENREP_ERR_NOMEM, "%s: %lld images of %zu values do not fit in memory", root, (long long)total, plane);
    }
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
                int w = 0, h = 0;
                unsigned char *px = NULL;
                if ((st = genrep_image_load(&px, &w, &h, path, C))) break;
                size_t need = (size_t)C * w * h; /* w * h <= GENREP_IMAGE_MAX_PIXELS */
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

/* ---------------------------------------------------------------- [EVAL] */
GENREP_API genrep_status genrep_mean_cov(double *mu, double *cov, const float *x, int N, int D) {
    GENREP__CHECK_PTR(mu); GENREP__CHECK_PTR(cov); GENREP__CHECK_PTR(x);
    if (N < 2 || D < 1)
        return genrep__fail(GENREP_ERR_ARG, "genrep_mean_cov: need N >= 2 and D >= 1, got N %d, D %d", N, D);
    const size_t d = (size_t)D;
    for (size_t i = 0; i < d; i++) mu[i] = 0.0;
    for (size_t n = 0; n < (size_t)N; n++)
        for (size_t i = 0; i < d; i++) mu[i] += (double)x[n * d + i];
    for (size_t i = 0; i < d; i++) mu[i] /= (double)N;
    /* upper triangle of sum_n r r^T, r = x_n - mu (two-pass: no cancellation) */
    for (size_t i = 0; i < d * d; i++) cov[i] = 0.0;
    GENREP__OMP(omp parallel for schedule(dynamic, 4) if ((size_t)N * d * d > 262144))
    for (int ii = 0; ii < D; ii++) {
        size_t i = (size_t)ii;
        double *ci = cov + i * d;
        for (size_t n = 0; n < (size_t)N; n++) {
            const float *xn = x + n * d;
            double ri = (double)xn[i] - mu[i];
            for (size_t j = i; j < d; j++) ci[j] += ri * ((double)xn[j] - mu[j]);
        }
    }
    for (size_t i = 0; i < d; i++)
        for (size_t j = i; j < d; j++) {
            cov[i * d + j] /= (double)(N - 1);
            cov[j * d + i] = cov[i * d + j];
        }
    return GENREP_OK;
}

GENREP_API genrep_status genrep_sym_eig(double *w, double *v, double *a, int n) {
    GENREP__CHECK_PTR(w); GENREP__CHECK_PTR(a);
    if (n < 1) return genrep__fail(GENREP_ERR_ARG, "genrep_sym_eig: n must be >= 1, got %d", n);
    const size_t N = (size_t)n;
    if (v)
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++) v[i * N + j] = i == j ? 1.0 : 0.0;
    double frob2 = 0.0;
    for (size_t i = 0; i < N * N; i++) frob2 += a[i] * a[i];
    if (!(frob2 == frob2) || frob2 > 1e300)
        return genrep__fail(GENREP_ERR_NONFINITE, "genrep_sym_eig: matrix (%d x %d) is not finite", n, n);
    int converged = 0;
    for (int sweep = 0; sweep < 100 && !converged; sweep++) {
        double off = 0.0;
        for (size_t p = 0; p < N; p++)
            for (size_t q = p + 1; q < N; q++) off += 2.0 * a[p * N + q] * a[p * N + q];
        /* off-diagonal Frobenius norm below 1e-14 of the whole matrix's */
        if (off <= 1e-28 * frob2) { converged = 1; break; }
        for (size_t p = 0; p < N; p++)
            for (size_t q = p + 1; q < N; q++) {
                double apq = a[p * N + q];
                if (apq == 0.0) continue;
                /* rotation J (J_pp = J_qq = c, J_pq = s, J_qp = -s) with
                   (J^T A J)_pq = 0: cot 2phi = (a_qq - a_pp) / (2 a_pq), t = tan phi
                   the smaller root of t^2 + 2 t theta - 1 = 0 (|phi| <= pi/4) */
                double theta = (a[q * N + q] - a[p * N + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (size_t k = 0; k < N; k++) { /* A J: columns p, q */
                    double akp = a[k * N + p], akq = a[k * N + q];
                    a[k * N + p] = c * akp - s * akq;
                    a[k * N + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < N; k++) { /* J^T (A J): rows p, q */
                    double apk = a[p * N + k], aqk = a[q * N + k];
                    a[p * N + k] = c * apk - s * aqk;
                    a[q * N + k] = s * apk + c * aqk;
                }
                a[p * N + q] = a[q * N + p] = 0.0; /* exact zero by construction */
                if (v)
                    for (size_t k = 0; k < N; k++) {
                        double vkp = v[k * N + p], vkq = v[k * N + q];
                        v[k * N + p] = c * vkp - s * vkq;
                        v[k * N + q] = s * vkp + c * vkq;
                    }
            }
    }
    if (!converged) {
        double off = 0.0;
        for (size_t p = 0; p < N; p++)
            for (size_t q = p + 1; q < N; q++) off += 2.0 * a[p * N + q] * a[p * N + q];
        if (off > 1e-28 * frob2)
            return genrep__fail(GENREP_ERR_ARG, "genrep_sym_eig: no convergence after 100 sweeps (n %d)", n);
    }
    for (size_t i = 0; i < N; i++) w[i] = a[i * N + i];
    /* ascending order, eigenvector columns moved along (selection sort, n swaps) */
    for (size_t i = 0; i < N; i++) {
        size_t m = i;
        for (size_t j = i + 1; j < N; j++)
            if (w[j] < w[m]) m = j;
        if (m == i) continue;
        double tw = w[i]; w[i] = w[m]; w[m] = tw;
        if (v)
            for (size_t k = 0; k < N; k++) {
                double tv = v[k * N + i]; v[k * N + i] = v[k * N + m]; v[k * N + m] = tv;
            }
    }
    return GENREP_OK;
}

GENREP_API size_t genrep_frechet_workspace(int D) {
    size_t d = D > 0 ? (size_t)D : 0;
    return 4 * d * d + d;
}

GENREP_API genrep_status genrep_frechet_distance(double *fd, const double *mu1, const double *c1,
                                                 const double *mu2, const double *c2, int D, double *ws) {
    GENREP__CHECK_PTR(fd); GENREP__CHECK_PTR(mu1); GENREP__CHECK_PTR(c1);
    GENREP__CHECK_PTR(mu2); GENREP__CHECK_PTR(c2); GENREP__CHECK_PTR(ws);
    if (D < 1) return genrep__fail(GENREP_ERR_ARG, "genrep_frechet_distance: D must be >= 1, got %d", D);
    const size_t d = (size_t)D;
    double *S = ws, *V = S + d * d, *A = V + d * d, *T = A + d * d, *w = T + d * d;
    /* S = C1^(1/2) = V diag(sqrt(max(w, 0))) V^T */
    memcpy(A, c1, d * d * sizeof(double));
    genrep_status st = genrep_sym_eig(w, V, A, D);
    if (st) return st;
    for (size_t i = 0; i < d; i++) w[i] = w[i] > 0.0 ? sqrt(w[i]) : 0.0;
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < d; k++) acc += V[i * d + k] * w[k] * V[j * d + k];
            S[i * d + j] = acc;
        }
    /* A = S C2 S (symmetric up to round-off: symmetrise before the solver) */
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < d; k++) acc += S[i * d + k] * c2[k * d + j];
            T[i * d + j] = acc;
        }
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < d; k++) acc += T[i * d + k] * S[k * d + j];
            A[i * d + j] = acc;
        }
    for (size_t i = 0; i < d; i++)
        for (size_t j = i + 1; j < d; j++) A[i * d + j] = A[j * d + i] = 0.5 * (A[i * d + j] + A[j * d + i]);
    st = genrep_sym_eig(w, NULL, A, D);
    if (st) return st;
    double tr_sqrt = 0.0, tr1 = 0.0, tr2 = 0.0, dmu = 0.0;
    for (size_t i = 0; i < d; i++) {
        tr_sqrt += w[i] > 0.0 ? sqrt(w[i]) : 0.0;
        tr1 += c1[i * d + i];
        tr2 += c2[i * d + i];
        dmu += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
    }
    *fd = dmu + tr1 + tr2 - 2.0 * tr_sqrt;
    return GENREP_OK;
}

/* --------------------------------------------------------- [SAFETENSORS] */
/* Reader: the 8-byte length and the JSON header are read first; the header
   is parsed by a schema-directed strict parser (the profile allows
   exactly three nesting levels: top object -> tensor object -> array, so
   the parser has no recursion and its depth is bounded by construction),
   every rule is checked against the file size, and only then the handle is
   allocated (struct, tensor table, name index, strings) and, if the caller
   gave specs, the tensor set is checked; last, one slab for the widened F32
   data of every tensor at a 64-byte aligned address, each tensor read from
   the file straight into its slot (F16/BF16 into the slot's tail, widened
   in place), so peak memory is the handle itself. Numbers are parsed
   digit by digit as unsigned 64-bit integers, never through a double.
   Writer: everything is validated and the whole file laid out in memory
   first (genrep__st_serialize), then written to a temp file beside the
   target with write(), fsync'd, renamed over the target, and the directory
   fsync'd; any failure unlinks the temp file and leaves the target as it was. */

#include <errno.h>
#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#define GENREP__ST_POSIX 1
#endif

struct genrep_st {
    int               ntensors, nmeta;
    genrep_st_tensor *tensors;  /* (ntensors) in data-section order */
    int              *by_name;  /* (ntensors) indices into tensors, sorted by name */
    const char      **meta;     /* (2*nmeta) key, value, ... sorted by key */
    void             *data_slab; /* the tensors' F32 data (NULL with GENREP_ST_HEADER_ONLY) */
};

/* dtype table: name, bytes per element, supported by this profile */
typedef struct { const char *name; int size; int supported; } genrep__st_dtype;
static const genrep__st_dtype genrep__st_dtypes[] = {
    {"F32", 4, 1}, {"F16", 2, 1}, {"BF16", 2, 1},
    {"F64", 8, 0}, {"I64", 8, 0}, {"I32", 4, 0}, {"I16", 2, 0}, {"I8", 1, 0},
    {"U64", 8, 0}, {"U32", 4, 0}, {"U16", 2, 0}, {"U8", 1, 0}, {"BOOL", 1, 0},
    {"F8_E4M3", 1, 0}, {"F8_E5M2", 1, 0}, {"F8_E8M0", 1, 0}, {"C64", 8, 0},
};
enum { GENREP__ST_F32 = 0, GENREP__ST_F16 = 1, GENREP__ST_BF16 = 2 };

/* One tensor entry of the header while parsing (strings live in the pool). */
typedef struct {
    const char *name;
    int         dtype, ndim;
    uint64_t    shape[GENREP_ST_MAX_RANK];
    uint64_t    begin, end, numel;
} genrep__st_rec;

typedef struct {
    const unsigned char *p, *start, *end; /* header bytes being parsed */
    char           *pool;                 /* unescaped strings, NUL-terminated */
    size_t          pool_used;
    const char     *file;                 /* for messages */
    genrep__st_rec *recs;
    int             nrecs, caprecs;
    const char    **meta;                 /* key, value pairs */
    int             nmeta, capmeta;
    int             have_meta;
} genrep__st_parser;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static genrep_status genrep__st_fail(const char *file, genrep_status s, const char *fmt, ...) {
    char detail[448];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return genrep__fail(s, "safetensors '%.200s': %s", file ? file : "<memory>", detail);
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF.
   Returns the offset of the first bad byte, or n if all is well. */
static size_t genrep__utf8_check(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        int len; unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
        else return i;
        if (n - i < (size_t)len) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (int k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
        i += (size_t)len;
    }
    return n;
}

static void genrep__st_ws(genrep__st_parser *P) {
    while (P->p < P->end && (*P->p == ' ' || *P->p == '\t' || *P->p == '\n' || *P->p == '\r')) P->p++;
}

static size_t genrep__st_pos(const genrep__st_parser *P) { return (size_t)(P->p - P->start); }

/* What the next JSON value is, for messages. */
static const char *genrep__st_kind(const genrep__st_parser *P) {
    if (P->p >= P->end) return "end of header";
    switch (*P->p) {
    case '"': return "a string";
    case '{': return "an object";
    case '[': return "an array";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    case '-': return "a negative number";
    default: return (*P->p >= '0' && *P->p <= '9') ? "a number" : "an invalid character";
    }
}

static genrep_status genrep__st_expect(genrep__st_parser *P, char c, const char *where) {
    genrep__st_ws(P);
    if (P->p >= P->end || *P->p != (unsigned char)c)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON at header byte %zu: expected '%c' %s, got %s",
                               genrep__st_pos(P), c, where, genrep__st_kind(P));
    P->p++;
    return GENREP_OK;
}

static int genrep__st_hex4(const unsigned char *s, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        *v = *v * 16 + d;
    }
    return 1;
}

/* Parse a JSON string at P->p (after whitespace) into the pool; *out points
   at the NUL-terminated unescaped text. The pool holds header_len + 1 bytes,
   enough because every string shrinks when unescaped and loses its quotes. */
static genrep_status genrep__st_string(genrep__st_parser *P, const char **out, const char *what) {
    genrep__st_ws(P);
    if (P->p >= P->end || *P->p != '"')
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON at header byte %zu: expected %s (a string), got %s",
                               genrep__st_pos(P), what, genrep__st_kind(P));
    size_t at = genrep__st_pos(P);
    P->p++;
    char *dst = P->pool + P->pool_used, *d = dst;
    for (;;) {
        if (P->p >= P->end)
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: string at header byte %zu is not terminated", at);
        unsigned c = *P->p++;
        if (c == '"') break;
        if (c < 0x20)
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: unescaped control character 0x%02x in string at header byte %zu", c, at);
        if (c != '\\') { *d++ = (char)c; continue; }
        if (P->p >= P->end)
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: string at header byte %zu is not terminated", at);
        c = *P->p++;
        switch (c) {
        case '"': *d++ = '"'; break;
        case '\\': *d++ = '\\'; break;
        case '/': *d++ = '/'; break;
        case 'b': *d++ = '\b'; break;
        case 'f': *d++ = '\f'; break;
        case 'n': *d++ = '\n'; break;
        case 'r': *d++ = '\r'; break;
        case 't': *d++ = '\t'; break;
        case 'u': {
            unsigned u, u2;
            if (P->end - P->p < 4 || !genrep__st_hex4(P->p, &u))
                return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: bad \\u escape in string at header byte %zu", at);
            P->p += 4;
            if (u >= 0xDC00 && u <= 0xDFFF)
                return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: lone low surrogate \\u%04X in string at header byte %zu", u, at);
            if (u >= 0xD800 && u <= 0xDBFF) {
                /* a high surrogate must be followed by \uDC00..\uDFFF */
                if (P->end - P->p < 6 || P->p[0] != '\\' || P->p[1] != 'u' || !genrep__st_hex4(P->p + 2, &u2)
                    || u2 < 0xDC00 || u2 > 0xDFFF)
                    return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: unpaired surrogate \\u%04X in string at header byte %zu", u, at);
                P->p += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (u2 - 0xDC00);
            }
            if (u == 0)
                return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "string at header byte %zu contains NUL (\\u0000), not allowed in names", at);
            if (u < 0x80) *d++ = (char)u;
            else if (u < 0x800) { *d++ = (char)(0xC0 | (u >> 6)); *d++ = (char)(0x80 | (u & 0x3F)); }
            else if (u < 0x10000) {
                *d++ = (char)(0xE0 | (u >> 12)); *d++ = (char)(0x80 | ((u >> 6) & 0x3F)); *d++ = (char)(0x80 | (u & 0x3F));
            } else {
                *d++ = (char)(0xF0 | (u >> 18)); *d++ = (char)(0x80 | ((u >> 12) & 0x3F));
                *d++ = (char)(0x80 | ((u >> 6) & 0x3F)); *d++ = (char)(0x80 | (u & 0x3F));
            }
            break;
        }
        default:
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: bad escape '\\%c' in string at header byte %zu",
                                   c >= 0x20 && c < 0x7F ? (char)c : '?', at);
        }
    }
    *d++ = '\0';
    P->pool_used += (size_t)(d - dst);
    *out = dst;
    return GENREP_OK;
}

/* An unsigned integer, digit by digit: no sign, fraction, exponent, leading
   zero, or value above 2^64-1. what/name say where it is for messages. */
static genrep_status genrep__st_u64(genrep__st_parser *P, uint64_t *v, const char *what, const char *name) {
    genrep__st_ws(P);
    const char *bad = NULL;
    if (P->p < P->end && *P->p == '-') bad = "negative number";
    else if (P->p >= P->end || *P->p < '0' || *P->p > '9')
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': %s: malformed integer: expected an integer at header byte %zu, got %s",
                               name, what, genrep__st_pos(P), genrep__st_kind(P));
    else if (*P->p == '0' && P->end - P->p > 1 && P->p[1] >= '0' && P->p[1] <= '9') bad = "leading zero";
    if (bad)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': %s: malformed integer (%s) at header byte %zu",
                               name, what, bad, genrep__st_pos(P));
    uint64_t x = 0;
    size_t at = genrep__st_pos(P);
    while (P->p < P->end && *P->p >= '0' && *P->p <= '9') {
        unsigned dgt = (unsigned)(*P->p - '0');
        if (x > (UINT64_MAX - dgt) / 10)
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': %s: malformed integer (larger than 2^64-1) at header byte %zu",
                                   name, what, at);
        x = x * 10 + dgt;
        P->p++;
    }
    if (P->p < P->end && (*P->p == '.' || *P->p == 'e' || *P->p == 'E'))
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': %s: malformed integer (%s) at header byte %zu",
                               name, what, *P->p == '.' ? "fractional number" : "exponent", at);
    *v = x;
    return GENREP_OK;
}

/* "[u64, u64, ...]" with at most maxn entries (rank limit for shapes). */
static genrep_status genrep__st_u64_array(genrep__st_parser *P, uint64_t *v, int *n, int maxn,
                                          const char *what, const char *name) {
    genrep__st_ws(P);
    if (P->p >= P->end || *P->p != '[')
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': field '%s' must be an array of integers, got %s",
                               name, what, genrep__st_kind(P));
    P->p++;
    *n = 0;
    genrep__st_ws(P);
    if (P->p < P->end && *P->p == ']') { P->p++; return GENREP_OK; }
    for (;;) {
        uint64_t x = 0;
        genrep_status s = genrep__st_u64(P, &x, what, name);
        if (s) return s;
        if (*n == maxn)
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': %s has more than %d entries%s", name, what, maxn,
                                   maxn == GENREP_ST_MAX_RANK ? " (rank above the limit)" : "");
        v[(*n)++] = x;
        genrep__st_ws(P);
        if (P->p < P->end && *P->p == ',') { P->p++; continue; }
        if (P->p < P->end && *P->p == ']') { P->p++; return GENREP_OK; }
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON at header byte %zu: expected ',' or ']' in '%s' of tensor '%.64s', got %s",
                               genrep__st_pos(P), what, name, genrep__st_kind(P));
    }
}

/* Grow a temporary array (GENREP_MALLOC has no realloc). */
static int genrep__st_grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return 1;
    int nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > INT32_MAX / 2) return 0;
        nc *= 2;
    }
    void *q = genrep_alloc((size_t)nc * elem);
    if (!q) return 0;
    if (*arr) { memcpy(q, *arr, (size_t)*cap * elem); genrep_free(*arr); }
    *arr = q; *cap = nc;
    return 1;
}

/* Per-tensor rules that need the whole entry: fields present, dtype known
   and supported, shape x dtype size without overflow, offsets ordered and
   matching the byte size, inside the data section. */
static genrep_status genrep__st_check_rec(genrep__st_parser *P, genrep__st_rec *r, unsigned seen,
                                          const char *dtype, uint64_t data_size) {
    static const char *fields[3] = {"dtype", "shape", "data_offsets"};
    for (int f = 0; f < 3; f++)
        if (!(seen & (1u << f)))
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': missing field '%s'", r->name, fields[f]);
    r->dtype = -1;
    for (int i = 0; i < (int)(sizeof genrep__st_dtypes / sizeof genrep__st_dtypes[0]); i++)
        if (!strcmp(dtype, genrep__st_dtypes[i].name)) r->dtype = i;
    if (r->dtype < 0)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': unknown dtype '%.32s'", r->name, dtype);
    if (!genrep__st_dtypes[r->dtype].supported)
        return genrep__st_fail(P->file, GENREP_ERR_UNSUPPORTED, "tensor '%.64s': dtype %s is not supported (this profile reads F32, F16, BF16)",
                               r->name, dtype);
    /* numel and bytes in 64 bits; every dim must also fit int64 */
    uint64_t numel = 1;
    int zero = 0;
    for (int i = 0; i < r->ndim; i++) zero |= r->shape[i] == 0;
    for (int i = 0; i < r->ndim; i++) {
        uint64_t d = r->shape[i];
        if (d > (uint64_t)INT64_MAX || (!zero && d && numel > (uint64_t)INT64_MAX / d))
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': shape x dtype size overflows 64 bits (dim %d = %llu)",
                                   r->name, i, (unsigned long long)d);
        numel *= d;
    }
    uint64_t es = (uint64_t)genrep__st_dtypes[r->dtype].size;
    if (numel > (uint64_t)INT64_MAX / es)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': shape x dtype size overflows 64 bits", r->name);
    r->numel = numel;
    if (r->begin > r->end)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': data_offsets begin %llu > end %llu", r->name,
                               (unsigned long long)r->begin, (unsigned long long)r->end);
    if (r->end - r->begin != numel * es)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT,
                               "tensor '%.64s': byte size mismatch: data_offsets span %llu bytes, shape x %s needs %llu",
                               r->name, (unsigned long long)(r->end - r->begin), dtype, (unsigned long long)(numel * es));
    if (r->end > data_size)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT,
                               "tensor '%.64s': data_offsets [%llu, %llu] out of range: the data section has %llu bytes (truncated file?)",
                               r->name, (unsigned long long)r->begin, (unsigned long long)r->end, (unsigned long long)data_size);
    return GENREP_OK;
}

/* {"dtype": "...", "shape": [...], "data_offsets": [b, e]} in any order. */
static genrep_status genrep__st_tensor_entry(genrep__st_parser *P, const char *name, uint64_t data_size) {
    genrep_status s;
    genrep__st_ws(P);
    if (P->p >= P->end || *P->p != '{')
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': entry must be an object, got %s", name, genrep__st_kind(P));
    P->p++;
    if (!genrep__st_grow((void **)&P->recs, &P->caprecs, P->nrecs + 1, sizeof(genrep__st_rec)))
        return genrep__st_fail(P->file, GENREP_ERR_NOMEM, "out of memory parsing the header");
    genrep__st_rec *r = &P->recs[P->nrecs++];
    memset(r, 0, sizeof *r);
    r->name = name;
    unsigned seen = 0;
    const char *dtype = "";
    genrep__st_ws(P);
    if (P->p < P->end && *P->p == '}') P->p++;
    else for (;;) {
        const char *key;
        if ((s = genrep__st_string(P, &key, "a field name"))) return s;
        if ((s = genrep__st_expect(P, ':', "after a field name"))) return s;
        int f = !strcmp(key, "dtype") ? 0 : !strcmp(key, "shape") ? 1 : !strcmp(key, "data_offsets") ? 2 : -1;
        if (f < 0)
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': unknown field '%.32s'", name, key);
        if (seen & (1u << f))
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': duplicate key '%s'", name, key);
        seen |= 1u << f;
        if (f == 0) {
            genrep__st_ws(P);
            if (P->p >= P->end || *P->p != '"')
                return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': dtype must be a string, got %s", name, genrep__st_kind(P));
            if ((s = genrep__st_string(P, &dtype, "a dtype"))) return s;
        } else if (f == 1) {
            if ((s = genrep__st_u64_array(P, r->shape, &r->ndim, GENREP_ST_MAX_RANK, "shape", name))) return s;
        } else {
            uint64_t off[3]; int n;
            if ((s = genrep__st_u64_array(P, off, &n, 3, "data_offsets", name))) return s;
            if (n != 2)
                return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': data_offsets must have 2 entries, has %d", name, n);
            r->begin = off[0]; r->end = off[1];
        }
        genrep__st_ws(P);
        if (P->p < P->end && *P->p == ',') { P->p++; continue; }
        if (P->p < P->end && *P->p == '}') { P->p++; break; }
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON at header byte %zu: expected ',' or '}' in tensor '%.64s', got %s",
                               genrep__st_pos(P), name, genrep__st_kind(P));
    }
    return genrep__st_check_rec(P, r, seen, dtype, data_size);
}

/* "__metadata__": {"key": "value", ...}, values strings only. */
static genrep_status genrep__st_metadata(genrep__st_parser *P) {
    genrep_status s;
    genrep__st_ws(P);
    if (P->p >= P->end || *P->p != '{')
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "__metadata__ must be an object of strings, got %s", genrep__st_kind(P));
    P->p++;
    genrep__st_ws(P);
    if (P->p < P->end && *P->p == '}') { P->p++; return GENREP_OK; }
    for (;;) {
        const char *key, *val;
        if ((s = genrep__st_string(P, &key, "a __metadata__ key"))) return s;
        if ((s = genrep__st_expect(P, ':', "after a __metadata__ key"))) return s;
        genrep__st_ws(P);
        if (P->p >= P->end || *P->p != '"')
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "__metadata__ value for key '%.64s' is not a string (got %s)", key,
                                   genrep__st_kind(P));
        if ((s = genrep__st_string(P, &val, "a __metadata__ value"))) return s;
        if (!genrep__st_grow((void **)&P->meta, &P->capmeta, 2 * P->nmeta + 2, sizeof(const char *)))
            return genrep__st_fail(P->file, GENREP_ERR_NOMEM, "out of memory parsing the header");
        P->meta[2 * P->nmeta] = key; P->meta[2 * P->nmeta + 1] = val;
        P->nmeta++;
        genrep__st_ws(P);
        if (P->p < P->end && *P->p == ',') { P->p++; continue; }
        if (P->p < P->end && *P->p == '}') { P->p++; return GENREP_OK; }
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON at header byte %zu: expected ',' or '}' in __metadata__, got %s",
                               genrep__st_pos(P), genrep__st_kind(P));
    }
}

/* The top-level object. */
static genrep_status genrep__st_header(genrep__st_parser *P, uint64_t data_size) {
    genrep_status s;
    genrep__st_ws(P);
    if (P->p >= P->end || *P->p != '{')
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "header is not a JSON object (starts with %s)", genrep__st_kind(P));
    P->p++;
    genrep__st_ws(P);
    if (P->p < P->end && *P->p == '}') P->p++;
    else for (;;) {
        const char *key;
        if ((s = genrep__st_string(P, &key, "a tensor name"))) return s;
        if ((s = genrep__st_expect(P, ':', "after a tensor name"))) return s;
        if (!strcmp(key, "__metadata__")) {
            if (P->have_meta) return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "duplicate key '__metadata__'");
            P->have_meta = 1;
            if ((s = genrep__st_metadata(P))) return s;
        } else if ((s = genrep__st_tensor_entry(P, key, data_size))) {
            return s;
        }
        genrep__st_ws(P);
        if (P->p < P->end && *P->p == ',') { P->p++; continue; }
        if (P->p < P->end && *P->p == '}') { P->p++; break; }
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON at header byte %zu: expected ',' or '}' after a tensor entry, got %s",
                               genrep__st_pos(P), genrep__st_kind(P));
    }
    genrep__st_ws(P);
    if (P->p != P->end)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: trailing characters after the header object at header byte %zu",
                               genrep__st_pos(P));
    return GENREP_OK;
}

static int genrep__st_cmp_name(const void *a, const void *b) {
    return strcmp((*(const genrep__st_rec *const *)a)->name, (*(const genrep__st_rec *const *)b)->name);
}
static int genrep__st_cmp_offset(const void *a, const void *b) {
    const genrep__st_rec *x = *(const genrep__st_rec *const *)a, *y = *(const genrep__st_rec *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}
static int genrep__st_cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static uint16_t genrep__st_ld16(const unsigned char *b) { return (uint16_t)(b[0] | (b[1] << 8)); }
static uint32_t genrep__st_ld32(const unsigned char *b) {
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}
static float genrep__st_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* IEEE binary16 -> binary32, exact (subnormals, inf, NaN payload kept). */
static float genrep__f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0x1F) return genrep__st_bits(sign | 0x7F800000u | (m << 13));
    if (e) return genrep__st_bits(sign | ((e + 112) << 23) | (m << 13));
    float f = (float)m * 0x1p-24f; /* subnormal: m * 2^-24, exact */
    return sign ? -f : f;
}

static int genrep__st_cmp_tensor(const void *a, const void *b) {
    return strcmp((*(const genrep_st_tensor *const *)a)->name, (*(const genrep_st_tensor *const *)b)->name);
}

/* Where the data section comes from: bytes in memory, or a file
   descriptor positioned at its first byte (read in data-section order). */
typedef struct { const unsigned char *mem; int fd; } genrep__st_src;

/* After the header parsed: cross-tensor rules, then the handle (struct,
   tensor table, name index, metadata, strings), then -- if specs are given
   -- the check that the file holds exactly those tensors, and only then the
   data slab, filled tensor by tensor from src. So a file is refused for a
   wrong tensor set before any tensor's bytes are read, and reading costs
   the handle's F32 data and nothing more (a file is never held whole in
   memory). order and tidx are caller-owned scratch (nt + 1 entries each);
   *out gets the handle as soon as it exists so the caller frees it on failure. */
static genrep_status genrep__st_build(genrep__st_parser *P, genrep__st_src src, uint64_t data_size, int flags,
                                      const genrep_st_spec *specs, int nspecs,
                                      genrep__st_rec **order, const genrep_st_tensor **tidx, genrep_st **out) {
    const char *file = P->file;
    int nt = P->nrecs, nm = P->nmeta;
    /* duplicates, compared after unescaping */
    for (int i = 0; i < nt; i++) order[i] = &P->recs[i];
    qsort(order, (size_t)nt, sizeof *order, genrep__st_cmp_name);
    for (int i = 1; i < nt; i++)
        if (!strcmp(order[i]->name, order[i - 1]->name))
            return genrep__st_fail(file, GENREP_ERR_FORMAT, "duplicate tensor name '%.64s'", order[i]->name);
    if (nm > 1) qsort(P->meta, (size_t)nm, 2 * sizeof(const char *), genrep__st_cmp_str);
    for (int i = 1; i < nm; i++)
        if (!strcmp(P->meta[2 * i], P->meta[2 * i - 2]))
            return genrep__st_fail(file, GENREP_ERR_FORMAT, "duplicate key '%.64s' in __metadata__", P->meta[2 * i]);

    /* the data section is tiled exactly: sorted by offset, each tensor
       starts where the previous one ended, the last ends at the file end */
    qsort(order, (size_t)nt, sizeof *order, genrep__st_cmp_offset);
    uint64_t pos = 0;
    for (int i = 0; i < nt; i++) {
        const genrep__st_rec *r = order[i];
        if (r->begin < pos)
            return genrep__st_fail(file, GENREP_ERR_FORMAT, "tensor '%.64s' [%llu, %llu] overlaps tensor '%.64s' (ends at %llu)", r->name,
                                   (unsigned long long)r->begin, (unsigned long long)r->end, order[i - 1]->name, (unsigned long long)pos);
        if (r->begin > pos)
            return genrep__st_fail(file, GENREP_ERR_FORMAT, "hole in the data section: bytes [%llu, %llu) before tensor '%.64s' belong to no tensor",
                                   (unsigned long long)pos, (unsigned long long)r->begin, r->name);
        pos = r->end;
    }
    if (pos != data_size)
        return genrep__st_fail(file, GENREP_ERR_FORMAT, "trailing bytes: %llu bytes after the last tensor's data",
                               (unsigned long long)(data_size - pos));

    /* the handle: struct | tensors | by_name | meta | strings */
    size_t off_ten = (sizeof(genrep_st) + 63) & ~(size_t)63;
    size_t off_idx = off_ten + (size_t)nt * sizeof(genrep_st_tensor);
    size_t off_meta = (off_idx + (size_t)nt * sizeof(int) + 7) & ~(size_t)7;
    size_t off_str = off_meta + 2 * (size_t)nm * sizeof(char *);
    size_t total = off_str + P->pool_used;
    unsigned char *slab = (unsigned char *)genrep_alloc(total);
    if (!slab) return genrep__st_fail(file, GENREP_ERR_NOMEM, "out of memory: %zu bytes for the header", total);
    genrep_st *st = (genrep_st *)(void *)slab;
    *out = st;
    st->ntensors = nt; st->nmeta = nm; st->data_slab = NULL;
    st->tensors = (genrep_st_tensor *)(void *)(slab + off_ten);
    st->by_name = (int *)(void *)(slab + off_idx);
    st->meta = (const char **)(void *)(slab + off_meta);
    char *strs = (char *)(slab + off_str);
    memcpy(strs, P->pool, P->pool_used);
    for (int i = 0; i < nt; i++) {
        const genrep__st_rec *r = order[i];
        genrep_st_tensor *t = &st->tensors[i];
        memset(t, 0, sizeof *t);
        t->name = strs + (r->name - P->pool);
        t->dtype = genrep__st_dtypes[r->dtype].name;
        t->ndim = r->ndim;
        for (int k = 0; k < r->ndim; k++) t->shape[k] = (int64_t)r->shape[k];
        t->numel = (int64_t)r->numel;
    }
    /* name index for genrep_st_find */
    for (int i = 0; i < nt; i++) tidx[i] = &st->tensors[i];
    qsort(tidx, (size_t)nt, sizeof *tidx, genrep__st_cmp_tensor);
    for (int i = 0; i < nt; i++) st->by_name[i] = (int)(tidx[i] - st->tensors);
    for (int i = 0; i < 2 * nm; i++) st->meta[i] = strs + (P->meta[i] - P->pool);
    if (specs) {
        genrep_status s = genrep_st_expect(st, specs, nspecs);
        if (s) {
            char why[512];
            snprintf(why, sizeof why, "%s", genrep_last_error());
            return genrep__st_fail(file, s, "%s", why);
        }
    }
    if (flags & GENREP_ST_HEADER_ONLY) return GENREP_OK;

    /* the data: one 64-byte aligned F32 slot per tensor. Each record's
       numel * 4 bytes fit in size_t: the header check bounded end - begin by
       the data section, which is in memory or a file we could stat. */
    size_t dtotal = 64;
    for (int i = 0; i < nt; i++) dtotal += ((size_t)order[i]->numel * sizeof(float) + 63) & ~(size_t)63;
    unsigned char *dslab = (unsigned char *)genrep_alloc(dtotal);
    if (!dslab) return genrep__st_fail(file, GENREP_ERR_NOMEM, "out of memory: %zu bytes for the tensors", dtotal);
    st->data_slab = dslab;
    size_t dpos = 0;
    for (int i = 0; i < nt; i++) {
        const genrep__st_rec *r = order[i];
        genrep_st_tensor *t = &st->tensors[i];
        float *dst = (float *)(void *)(dslab + dpos);
        t->data = dst;
        dpos += ((size_t)r->numel * sizeof(float) + 63) & ~(size_t)63;
        size_t cnt = (size_t)r->numel, nb = (size_t)(r->end - r->begin);
        const unsigned char *in;
        if (src.mem) in = src.mem + r->begin;
        else { /* read into the slot's tail (F16/BF16) or the slot itself (F32), widen in place, front to back */
            unsigned char *tail = (unsigned char *)dst + (cnt * sizeof(float) - nb);
            int64_t got = genrep__read_full(src.fd, tail, nb);
            if (got != (int64_t)nb)
                return genrep__st_fail(file, GENREP_ERR_IO, "tensor '%.64s': read %lld of %zu bytes (%s)", r->name,
                                       (long long)got, nb, got < 0 ? strerror(errno) : "the file shrank while being read");
            in = tail;
        }
        /* byte-wise little-endian loads: right on any host, a plain load on x86.
           In place, element k's source bytes lie at or after its destination's. */
        if (r->dtype == GENREP__ST_F32) for (size_t k = 0; k < cnt; k++) dst[k] = genrep__st_bits(genrep__st_ld32(in + 4 * k));
        else if (r->dtype == GENREP__ST_F16) for (size_t k = 0; k < cnt; k++) dst[k] = genrep__f16_to_f32(genrep__st_ld16(in + 2 * k));
        else for (size_t k = 0; k < cnt; k++) dst[k] = genrep__st_bits((uint32_t)genrep__st_ld16(in + 2 * k) << 16);
        if (!(flags & GENREP_ST_ALLOW_NONFINITE))
            for (size_t k = 0; k < cnt; k++)
                if (!isfinite(dst[k]))
                    return genrep__st_fail(file, GENREP_ERR_NONFINITE,
                                           "tensor '%.64s': non-finite value %s at element %zu (pass GENREP_ST_ALLOW_NONFINITE to accept)",
                                           r->name, isnan(dst[k]) ? "NaN" : dst[k] > 0 ? "+Inf" : "-Inf", k);
    }
    return GENREP_OK;
}

/* Parse and validate the header hdr[0, hlen) of a file whose data section
   has data_size bytes (from src) and build the handle. */
static genrep_status genrep__st_load(genrep_st **out, const unsigned char *hdr, uint64_t hlen, uint64_t data_size,
                                     genrep__st_src src, int flags, const genrep_st_spec *specs, int nspecs, const char *file) {
    size_t bad = genrep__utf8_check(hdr, (size_t)hlen);
    if (bad != (size_t)hlen)
        return genrep__st_fail(file, GENREP_ERR_FORMAT, "header is not valid UTF-8 (byte %zu)", bad);
    genrep__st_parser P;
    memset(&P, 0, sizeof P);
    P.file = file;
    P.start = P.p = hdr; P.end = hdr + hlen;
    P.pool = (char *)genrep_alloc((size_t)hlen + 1);
    if (!P.pool) return genrep__st_fail(file, GENREP_ERR_NOMEM, "out of memory for a %llu-byte header", (unsigned long long)hlen);
    genrep_status s = genrep__st_header(&P, data_size);
    genrep__st_rec **order = NULL;
    const genrep_st_tensor **tidx = NULL;
    if (!s) {
        order = (genrep__st_rec **)genrep_alloc(((size_t)P.nrecs + 1) * sizeof *order);
        tidx = (const genrep_st_tensor **)genrep_alloc(((size_t)P.nrecs + 1) * sizeof *tidx);
        if (!order || !tidx) s = genrep__st_fail(file, GENREP_ERR_NOMEM, "out of memory for %d tensors", P.nrecs);
        else s = genrep__st_build(&P, src, data_size, flags, specs, nspecs, order, tidx, out);
    }
    if (s && *out) { genrep_st_close(*out); *out = NULL; }
    genrep_free(P.pool); genrep_free(P.recs); genrep_free((void *)P.meta);
    genrep_free(order); genrep_free((void *)tidx);
    return s;
}

/* The 8-byte length of a file of n bytes, checked against the cap and n. */
static genrep_status genrep__st_hlen(uint64_t *hlen, const unsigned char b[8], uint64_t n, const char *file) {
    if (n < 8)
        return genrep__st_fail(file, GENREP_ERR_FORMAT, "file too short: %llu bytes, the 8-byte header length is missing", (unsigned long long)n);
    *hlen = (uint64_t)genrep__st_ld32(b) | ((uint64_t)genrep__st_ld32(b + 4) << 32);
    /* compare without forming 8 + hlen, which could wrap */
    if (*hlen > GENREP_ST_MAX_HEADER)
        return genrep__st_fail(file, GENREP_ERR_FORMAT, "header length %llu exceeds the cap of %llu bytes",
                               (unsigned long long)*hlen, (unsigned long long)GENREP_ST_MAX_HEADER);
    if (*hlen > n - 8)
        return genrep__st_fail(file, GENREP_ERR_FORMAT, "header length %llu exceeds the file (%llu bytes after the length)",
                               (unsigned long long)*hlen, (unsigned long long)(n - 8));
    return GENREP_OK;
}

#define GENREP__ST_FLAGS (GENREP_ST_ALLOW_NONFINITE | GENREP_ST_HEADER_ONLY)

GENREP_API genrep_status genrep_st_open_memory(genrep_st **out, const void *bytes, size_t n, int flags, const char *name) {
    GENREP__CHECK_PTR(out);
    *out = NULL;
    if (!bytes && n) return genrep__fail(GENREP_ERR_ARG, "genrep_st_open_memory: bytes is NULL");
    if (flags & ~GENREP__ST_FLAGS) return genrep__fail(GENREP_ERR_ARG, "genrep_st_open_memory: unknown flags 0x%x", (unsigned)flags);
    const unsigned char *b = (const unsigned char *)bytes;
    uint64_t hlen;
    genrep_status s = genrep__st_hlen(&hlen, b, n, name);
    if (s) return s;
    genrep__st_src src = {b + 8 + hlen, -1};
    return genrep__st_load(out, b + 8, hlen, (uint64_t)n - 8 - hlen, src, flags, NULL, 0, name);
}

/* The file is read in two steps: the length and the header, then (after
   every header rule, and the specs if any, passed) each tensor's bytes
   straight into its slot of the handle. */
static genrep_status genrep__st_open_file(genrep_st **out, const char *path, int flags,
                                          const genrep_st_spec *specs, int nspecs) {
    int fd;
    genrep_status s = genrep_file_open_regular(&fd, path);
    if (s) return s; /* the message names the path and what it is */
    struct stat sb;
    unsigned char b8[8];
    unsigned char *hdr = NULL;
    uint64_t hlen = 0, n = 0;
    if (fstat(fd, &sb) != 0) s = genrep__st_fail(path, GENREP_ERR_IO, "cannot stat: %s", strerror(errno));
    if (!s) {
        n = (uint64_t)sb.st_size;
        int64_t got = genrep__read_full(fd, b8, n < 8 ? (size_t)n : 8);
        if (got < 0) s = genrep__st_fail(path, GENREP_ERR_IO, "read error: %s", strerror(errno));
        else if ((uint64_t)got != (n < 8 ? n : 8)) s = genrep__st_fail(path, GENREP_ERR_IO, "the file shrank while being read");
    }
    if (!s) s = genrep__st_hlen(&hlen, b8, n, path);
    if (!s) {
        hdr = (unsigned char *)genrep_alloc((size_t)hlen + 1);
        if (!hdr) s = genrep__st_fail(path, GENREP_ERR_NOMEM, "out of memory for a %llu-byte header", (unsigned long long)hlen);
    }
    if (!s) {
        int64_t got = genrep__read_full(fd, hdr, (size_t)hlen);
        if (got != (int64_t)hlen)
            s = genrep__st_fail(path, GENREP_ERR_IO, "read %lld of the %llu header bytes", (long long)got, (unsigned long long)hlen);
    }
    if (!s) {
        genrep__st_src src = {NULL, fd};
        s = genrep__st_load(out, hdr, hlen, n - 8 - hlen, src, flags, specs, nspecs, path);
    }
    if (!s && !(flags & GENREP_ST_HEADER_ONLY)) { /* nothing may have been appended while reading */
        unsigned char extra;
        if (genrep__read_full(fd, &extra, 1) != 0) {
            genrep_st_close(*out); *out = NULL;
            s = genrep__st_fail(path, GENREP_ERR_IO, "the file grew while being read");
        }
    }
    genrep_free(hdr);
    close(fd);
    return s;
}

GENREP_API genrep_status genrep_st_open(genrep_st **out, const char *path, int flags) {
    GENREP__CHECK_PTR(out);
    *out = NULL;
    GENREP__CHECK_PTR(path);
    if (flags & ~GENREP__ST_FLAGS) return genrep__fail(GENREP_ERR_ARG, "genrep_st_open: unknown flags 0x%x", (unsigned)flags);
    return genrep__st_open_file(out, path, flags, NULL, 0);
}

GENREP_API genrep_status genrep_st_open_expect(genrep_st **out, const char *path, int flags,
                                               const genrep_st_spec *specs, int n) {
    GENREP__CHECK_PTR(out);
    *out = NULL;
    GENREP__CHECK_PTR(path);
    GENREP__CHECK_NONNEG(n);
    if (n && !specs) return genrep__fail(GENREP_ERR_ARG, "genrep_st_open_expect: specs is NULL");
    if (flags & ~GENREP__ST_FLAGS) return genrep__fail(GENREP_ERR_ARG, "genrep_st_open_expect: unknown flags 0x%x", (unsigned)flags);
    static const genrep_st_spec none = {NULL, 0, {0}};
    return genrep__st_open_file(out, path, flags, n ? specs : &none, n);
}

GENREP_API void genrep_st_close(genrep_st *st) {
    if (!st) return;
    genrep_free(st->data_slab);
    genrep_free(st);
}
GENREP_API int genrep_st_count(const genrep_st *st) { return st ? st->ntensors : 0; }
GENREP_API const genrep_st_tensor *genrep_st_get(const genrep_st *st, int i) {
    return st && i >= 0 && i < st->ntensors ? &st->tensors[i] : NULL;
}

GENREP_API const genrep_st_tensor *genrep_st_find(const genrep_st *st, const char *name) {
    if (!st || !name) return NULL;
    int lo = 0, hi = st->ntensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const genrep_st_tensor *t = &st->tensors[st->by_name[mid]];
        int c = strcmp(name, t->name);
        if (!c) return t;
        if (c < 0) hi = mid - 1; else lo = mid + 1;
    }
    return NULL;
}

GENREP_API const char *genrep_st_meta(const genrep_st *st, const char *key) {
    if (!st || !key) return NULL;
    int lo = 0, hi = st->nmeta - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(key, st->meta[2 * mid]);
        if (!c) return st->meta[2 * mid + 1];
        if (c < 0) hi = mid - 1; else lo = mid + 1;
    }
    return NULL;
}

GENREP_API int genrep_st_meta_count(const genrep_st *st) { return st ? st->nmeta : 0; }
GENREP_API void genrep_st_meta_get(const genrep_st *st, int i, const char **key, const char **value) {
    int ok = st && i >= 0 && i < st->nmeta;
    if (key) *key = ok ? st->meta[2 * i] : NULL;
    if (value) *value = ok ? st->meta[2 * i + 1] : NULL;
}

/* Append "name [d0, d1]" style text to a message buffer, truncating with "...". */
static void genrep__st_msg(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
    if (*len + 4 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if (*len + (size_t)k >= cap - 4) { strcpy(buf + cap - 4, "..."); *len = cap; return; }
    *len += (size_t)k;
}

static void genrep__st_shape_str(char *s, size_t cap, int ndim, const int64_t *shape) {
    size_t l = 0;
    l += (size_t)snprintf(s, cap, "[");
    for (int i = 0; i < ndim && l < cap; i++) l += (size_t)snprintf(s + l, cap - l, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (l < cap) snprintf(s + l, cap - l, "]");
}

GENREP_API genrep_status genrep_st_expect(const genrep_st *st, const genrep_st_spec *specs, int n) {
    GENREP__CHECK_PTR(st);
    GENREP__CHECK_NONNEG(n);
    if (n && !specs) return genrep__fail(GENREP_ERR_ARG, "genrep_st_expect: specs is NULL");
    unsigned char *used = (unsigned char *)genrep_alloc((size_t)st->ntensors + 1);
    if (!used) return genrep__fail(GENREP_ERR_NOMEM, "genrep_st_expect: out of memory");
    memset(used, 0, (size_t)st->ntensors + 1);
    char msg[400]; size_t len = 0; msg[0] = '\0';
    int missing = 0, extra = 0, wrong = 0;
    for (int i = 0; i < n; i++) {
        const genrep_st_tensor *t = genrep_st_find(st, specs[i].name);
        if (!t) {
            genrep__st_msg(msg, sizeof msg, &len, "%smissing tensor '%.64s'", len ? "; " : "", specs[i].name ? specs[i].name : "(null)");
            missing++;
            continue;
        }
        used[t - st->tensors] = 1;
        int same = t->ndim == specs[i].ndim;
        for (int k = 0; same && k < t->ndim; k++) same = t->shape[k] == specs[i].shape[k];
        if (!same) {
            char a[96], b[96];
            genrep__st_shape_str(a, sizeof a, t->ndim, t->shape);
            genrep__st_shape_str(b, sizeof b, specs[i].ndim < 0 ? 0 : specs[i].ndim > GENREP_ST_MAX_RANK ? GENREP_ST_MAX_RANK : specs[i].ndim,
                                 specs[i].shape);
            genrep__st_msg(msg, sizeof msg, &len, "%swrong shape: tensor '%.64s' is %s, the model expects %s", len ? "; " : "", t->name, a, b);
            wrong++;
        }
    }
    for (int i = 0; i < st->ntensors; i++)
        if (!used[i]) {
            genrep__st_msg(msg, sizeof msg, &len, "%sunexpected tensor '%.64s'", len ? "; " : "", st->tensors[i].name);
            extra++;
        }
    genrep_free(used);
    if (!missing && !extra && !wrong) return GENREP_OK;
    return genrep__fail(missing || extra ? GENREP_ERR_FORMAT : GENREP_ERR_SHAPE,
                        "genrep_st_expect: %d missing, %d unexpected, %d wrong shape: %s", missing, extra, wrong, msg);
}

/* ---- writer ---- */

/* Append s as a JSON string (quotes, escapes) to buf at *len; buf may be
   NULL to count. s is valid UTF-8 (checked by the caller). */
static void genrep__st_put(char *buf, size_t *len, const char *s, size_t n) {
    if (buf) memcpy(buf + *len, s, n);
    *len += n;
}
static void genrep__st_put_str(char *buf, size_t *len, const char *s) {
    genrep__st_put(buf, len, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[8];
        if (*p == '"' || *p == '\\') { e[0] = '\\'; e[1] = (char)*p; genrep__st_put(buf, len, e, 2); }
        else if (*p < 0x20) { snprintf(e, sizeof e, "\\u%04x", *p); genrep__st_put(buf, len, e, 6); }
        else genrep__st_put(buf, len, (const char *)p, 1);
    }
    genrep__st_put(buf, len, "\"", 1);
}
static void genrep__st_put_u64(char *buf, size_t *len, uint64_t v) {
    char t[24];
    int k = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    genrep__st_put(buf, len, t, (size_t)k);
}

/* The header JSON, padded with spaces to a multiple of 8; buf NULL counts. */
static size_t genrep__st_header_json(char *buf, const genrep_st_entry *e, int n, const char *const *kv, int nm) {
    size_t len = 0;
    uint64_t off = 0;
    genrep__st_put(buf, &len, "{", 1);
    if (nm > 0) {
        genrep__st_put_str(buf, &len, "__metadata__");
        genrep__st_put(buf, &len, ":{", 2);
        for (int i = 0; i < nm; i++) {
            if (i) genrep__st_put(buf, &len, ",", 1);
            genrep__st_put_str(buf, &len, kv[2 * i]);
            genrep__st_put(buf, &len, ":", 1);
            genrep__st_put_str(buf, &len, kv[2 * i + 1]);
        }
        genrep__st_put(buf, &len, "}", 1);
    }
    for (int i = 0; i < n; i++) {
        if (i || nm > 0) genrep__st_put(buf, &len, ",", 1);
        genrep__st_put_str(buf, &len, e[i].name);
        genrep__st_put(buf, &len, ":{\"dtype\":\"F32\",\"shape\":[", 25);
        uint64_t numel = 1;
        for (int k = 0; k < e[i].ndim; k++) {
            if (k) genrep__st_put(buf, &len, ",", 1);
            genrep__st_put_u64(buf, &len, (uint64_t)e[i].shape[k]);
            numel *= (uint64_t)e[i].shape[k];
        }
        genrep__st_put(buf, &len, "],\"data_offsets\":[", 18);
        genrep__st_put_u64(buf, &len, off);
        genrep__st_put(buf, &len, ",", 1);
        off += numel * 4;
        genrep__st_put_u64(buf, &len, off);
        genrep__st_put(buf, &len, "]}", 2);
    }
    genrep__st_put(buf, &len, "}", 1);
    while (len % 8) genrep__st_put(buf, &len, " ", 1);
    return len;
}

/* Validate entries and metadata and lay out the whole file in one buffer
   (*out, *outn; the caller frees it with genrep_free): what genrep_st_write
   puts on disk, byte for byte. Checks what the reader will demand: unique
   UTF-8 names, not "__metadata__", rank <= 8, finite data. */
static genrep_status genrep__st_serialize(const char *path, const genrep_st_entry *entries, int n,
                                          const char *const *meta_kv, int n_meta, unsigned char **out, size_t *outn) {
    *out = NULL; *outn = 0;
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        const genrep_st_entry *e = &entries[i];
        if (!e->name) return genrep__st_fail(path, GENREP_ERR_ARG, "entry %d: name is NULL", i);
        size_t nl = strlen(e->name);
        if (genrep__utf8_check((const unsigned char *)e->name, nl) != nl)
            return genrep__st_fail(path, GENREP_ERR_ARG, "entry %d: name is not valid UTF-8", i);
        if (!strcmp(e->name, "__metadata__"))
            return genrep__st_fail(path, GENREP_ERR_ARG, "entry %d: '__metadata__' is reserved", i);
        if (e->ndim < 0 || e->ndim > GENREP_ST_MAX_RANK)
            return genrep__st_fail(path, GENREP_ERR_ARG, "tensor '%.64s': ndim %d outside 0..%d", e->name, e->ndim, GENREP_ST_MAX_RANK);
        uint64_t numel = 1;
        int zero = 0;
        for (int k = 0; k < e->ndim; k++) {
            if (e->shape[k] < 0)
                return genrep__st_fail(path, GENREP_ERR_ARG, "tensor '%.64s': shape[%d] = %lld is negative", e->name, k, (long long)e->shape[k]);
            zero |= e->shape[k] == 0;
        }
        for (int k = 0; k < e->ndim && !zero; k++) {
            if (numel > ((uint64_t)SIZE_MAX / 8) / (uint64_t)e->shape[k])
                return genrep__st_fail(path, GENREP_ERR_ARG, "tensor '%.64s': shape overflows", e->name);
            numel *= (uint64_t)e->shape[k];
        }
        if (zero) numel = 0;
        if (total + numel * 4 < total || total + numel * 4 > (uint64_t)SIZE_MAX / 2)
            return genrep__st_fail(path, GENREP_ERR_ARG, "tensor '%.64s': the file would be too large", e->name);
        total += numel * 4;
        if (numel && !e->data) return genrep__st_fail(path, GENREP_ERR_ARG, "tensor '%.64s': data is NULL", e->name);
        for (uint64_t k = 0; k < numel; k++)
            if (!isfinite(e->data[k]))
                return genrep__st_fail(path, GENREP_ERR_NONFINITE, "tensor '%.64s': non-finite value at element %llu, not written",
                                       e->name, (unsigned long long)k);
    }
    for (int i = 0; i < 2 * n_meta; i++) {
        if (!meta_kv[i]) return genrep__st_fail(path, GENREP_ERR_ARG, "metadata %s %d is NULL", i % 2 ? "value" : "key", i / 2);
        size_t l = strlen(meta_kv[i]);
        if (genrep__utf8_check((const unsigned char *)meta_kv[i], l) != l)
            return genrep__st_fail(path, GENREP_ERR_ARG, "metadata %s %d is not valid UTF-8", i % 2 ? "value" : "key", i / 2);
    }
    /* unique names and keys */
    const char **srt = (const char **)genrep_alloc(((size_t)(n > n_meta ? n : n_meta) + 1) * sizeof(char *));
    if (!srt) return genrep__fail(GENREP_ERR_NOMEM, "genrep_st_write: out of memory");
    genrep_status s = GENREP_OK;
    for (int i = 0; i < n; i++) srt[i] = entries[i].name;
    qsort(srt, (size_t)n, sizeof *srt, genrep__st_cmp_str);
    for (int i = 1; i < n && !s; i++)
        if (!strcmp(srt[i], srt[i - 1])) s = genrep__st_fail(path, GENREP_ERR_ARG, "duplicate tensor name '%.64s'", srt[i]);
    for (int i = 0; i < n_meta; i++) srt[i] = meta_kv[2 * i];
    qsort(srt, (size_t)n_meta, sizeof *srt, genrep__st_cmp_str);
    for (int i = 1; i < n_meta && !s; i++)
        if (!strcmp(srt[i], srt[i - 1])) s = genrep__st_fail(path, GENREP_ERR_ARG, "duplicate metadata key '%.64s'", srt[i]);
    genrep_free((void *)srt);
    if (s) return s;

    size_t hlen = genrep__st_header_json(NULL, entries, n, meta_kv, n_meta);
    if ((uint64_t)hlen > GENREP_ST_MAX_HEADER)
        return genrep__st_fail(path, GENREP_ERR_ARG, "header of %zu bytes exceeds the cap", hlen);
    size_t len = 8 + hlen + (size_t)total;
    unsigned char *buf = (unsigned char *)genrep_alloc(len);
    if (!buf) return genrep__st_fail(path, GENREP_ERR_NOMEM, "out of memory for a %zu-byte file", len);
    for (int k = 0; k < 8; k++) buf[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
    genrep__st_header_json((char *)buf + 8, entries, n, meta_kv, n_meta);
    /* data, little-endian, contiguous in entry order (what the header says) */
    unsigned char *d = buf + 8 + hlen;
    for (int i = 0; i < n; i++) {
        uint64_t numel = 1;
        for (int k = 0; k < entries[i].ndim; k++) numel *= (uint64_t)entries[i].shape[k];
        for (uint64_t k = 0; k < numel; k++, d += 4) {
            uint32_t u;
            memcpy(&u, &entries[i].data[k], 4);
            d[0] = (unsigned char)u; d[1] = (unsigned char)(u >> 8); d[2] = (unsigned char)(u >> 16); d[3] = (unsigned char)(u >> 24);
        }
    }
    GENREP_ASSERT(d == buf + len);
    *out = buf; *outn = len;
    return GENREP_OK;
}

#ifdef GENREP__ST_POSIX
static int genrep__st_write_all(int fd, const unsigned char *b, size_t n) {
    while (n) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return 0;
        b += k; n -= (size_t)k;
    }
    return 1;
}
#endif

GENREP_API genrep_status genrep_st_write(const char *path, const genrep_st_entry *entries, int n,
                                         const char *const *meta_kv, int n_meta) {
    GENREP__CHECK_PTR(path);
    GENREP__CHECK_NONNEG(n);
    GENREP__CHECK_NONNEG(n_meta);
    if (n && !entries) return genrep__fail(GENREP_ERR_ARG, "genrep_st_write: entries is NULL");
    if (n_meta && !meta_kv) return genrep__fail(GENREP_ERR_ARG, "genrep_st_write: meta_kv is NULL");
    /* everything is validated and laid out before the file system is touched */
    unsigned char *buf;
    size_t len;
    genrep_status s = genrep__st_serialize(path, entries, n, meta_kv, n_meta, &buf, &len);
    if (s) return s;
    size_t plen = strlen(path);
    char *tmp = (char *)genrep_alloc(plen + 48);
    if (!tmp) { genrep_free(buf); return genrep__fail(GENREP_ERR_NOMEM, "genrep_st_write: out of memory"); }
#ifdef GENREP__ST_POSIX
    /* temp file next to the target, so rename() stays within one file system
       and replaces the target atomically */
    static GENREP__TLS unsigned genrep__st_tmp_counter; /* per thread; O_EXCL settles collisions */
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        snprintf(tmp, plen + 48, "%s.tmp.%ld.%u", path, (long)getpid(), genrep__st_tmp_counter++);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        s = genrep__st_fail(path, GENREP_ERR_IO, "cannot create the temp file '%.200s': %s", tmp, strerror(errno));
        genrep_free(tmp); genrep_free(buf);
        return s;
    }
    int ok = genrep__st_write_all(fd, buf, len), err = ok ? 0 : errno;
    if (ok && fsync(fd) != 0) { ok = 0; err = errno; }
    if (close(fd) != 0 && ok) { ok = 0; err = errno; }
    if (ok && rename(tmp, path) != 0) { ok = 0; err = errno; }
    if (!ok) {
        unlink(tmp);
        s = genrep__st_fail(path, GENREP_ERR_IO, "writing failed (%s); the previous file, if any, is unchanged", strerror(err));
    } else {
        /* make the rename itself durable: fsync the directory (skipped where
           the file system cannot fsync directories) */
        const char *slash = strrchr(path, '/');
        if (slash) { size_t dl = (size_t)(slash - path); memcpy(tmp, path, dl ? dl : 1); tmp[dl ? dl : 1] = '\0'; }
        else strcpy(tmp, ".");
        int dfd = open(tmp, O_RDONLY);
        if (dfd >= 0) {
            if (fsync(dfd) != 0 && errno != EINVAL && errno != EROFS && errno != EBADF)
                s = genrep__st_fail(path, GENREP_ERR_IO, "written, but fsync of the directory failed: %s", strerror(errno));
            close(dfd);
        }
    }
#else
    /* no POSIX: stdio to a temp name, then replace (not atomic everywhere) */
    snprintf(tmp, plen + 48, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f != NULL;
    if (f) {
        ok = fwrite(buf, 1, len, f) == len;
        ok = fflush(f) == 0 && ok;
        ok = fclose(f) == 0 && ok;
        if (ok) { remove(path); ok = rename(tmp, path) == 0; }
        if (!ok) remove(tmp);
    }
    if (!ok) s = genrep__st_fail(path, GENREP_ERR_IO, "writing failed");
#endif
    genrep_free(tmp); genrep_free(buf);
    return s;
}


/* ------------------------------------------------------------- [MODELIO] */

static int genrep__is_optim_name(const char *name) {
    return !strncmp(name, "optim.", 6) || !strncmp(name, "opt.", 4);
}

GENREP_API genrep_status genrep_tables_save(const char *path, const genrep_table_ref *t, int nt,
                                            const genrep_extra_tensor *extra, int n_extra,
                                            const char *const *kv, int n_kv) {
    GENREP__CHECK_PTR(path); GENREP__CHECK_NONNEG(nt); GENREP__CHECK_NONNEG(n_extra); GENREP__CHECK_NONNEG(n_kv);
    if ((nt && !t) || (n_extra && !extra) || (n_kv && !kv))
        return genrep__fail(GENREP_ERR_ARG, "genrep_tables_save: a table, extra or kv array is NULL");
    int n = n_extra;
    for (int i = 0; i < nt; i++) n += t[i].n;
    genrep_st_entry *e = (genrep_st_entry *)genrep_alloc((size_t)(n ? n : 1) * sizeof *e);
    char (*names)[128] = (char (*)[128])genrep_alloc((size_t)(n ? n : 1) * 128);
    if (!e || !names) { genrep_free(e); genrep_free(names); return genrep__fail(GENREP_ERR_NOMEM, "genrep_tables_save: out of memory"); }
    memset(e, 0, (size_t)(n ? n : 1) * sizeof *e);
    int k = 0;
    for (int i = 0; i < nt; i++)
        for (int j = 0; j < t[i].n; j++, k++) {
            const genrep_param_info *p = &t[i].table[j];
            snprintf(names[k], 128, "%s%s", t[i].prefix ? t[i].prefix : "", p->name);
            e[k].name = names[k];
            e[k].ndim = p->ndim;
            for (int d = 0; d < p->ndim; d++) e[k].shape[d] = p->shape[d];
            e[k].data = t[i].params + p->offset;
        }
    for (int i = 0; i < n_extra; i++, k++) {
        e[k].name = extra[i].name; e[k].ndim = 1; e[k].shape[0] = (int64_t)extra[i].n; e[k].data = extra[i].data;
    }
    genrep_status s = genrep_st_write(path, e, n, kv, n_kv);
    genrep_free(e); genrep_free(names);
    return s;
}

GENREP_API genrep_status genrep_tables_read(const genrep_st *st, const char *path, const genrep_table_ref *t,
                                            int nt, genrep_extra_tensor *extra, int n_extra) {
    GENREP__CHECK_PTR(st); GENREP__CHECK_NONNEG(nt); GENREP__CHECK_NONNEG(n_extra);
    if ((nt && !t) || (n_extra && !extra)) return genrep__fail(GENREP_ERR_ARG, "genrep_tables_read: a table or extra array is NULL");
    if (!path) path = "(memory)";
    char name[128];
    /* 1. every expected tensor present, with its shape */
    for (int i = 0; i < nt; i++)
        for (int j = 0; j < t[i].n; j++) {
            const genrep_param_info *p = &t[i].table[j];
            snprintf(name, sizeof name, "%s%s", t[i].prefix ? t[i].prefix : "", p->name);
            const genrep_st_tensor *x = genrep_st_find(st, name);
            if (!x) return genrep__fail(GENREP_ERR_FORMAT, "'%s': tensor %s is missing", path, name);
            int same = x->ndim == p->ndim;
            for (int d = 0; same && d < p->ndim; d++) same = x->shape[d] == p->shape[d];
            if (!same) {
                char want[96] = "", got[96] = "";
                for (int d = 0; d < p->ndim; d++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? "," : "", (long long)p->shape[d]);
                for (int d = 0; d < x->ndim && d < 8; d++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "," : "", (long long)x->shape[d]);
                return genrep__fail(GENREP_ERR_SHAPE, "'%s': tensor %s has shape (%s), the model's metadata needs (%s)", path, name, got, want);
            }
        }
    for (int i = 0; i < n_extra; i++) {
        if (!extra[i].data) continue;
        const genrep_st_tensor *x = genrep_st_find(st, extra[i].name);
        if (!x) return genrep__fail(GENREP_ERR_FORMAT, "'%s': tensor %s is missing", path, extra[i].name);
        if ((size_t)x->numel != extra[i].n)
            return genrep__fail(GENREP_ERR_SHAPE, "'%s': tensor %s has %lld values, expected %zu", path, extra[i].name,
                                (long long)x->numel, extra[i].n);
    }
    /* 2. every tensor in the file expected (optimiser state may stay unread) */
    for (int f = 0; f < genrep_st_count(st); f++) {
        const char *fn = genrep_st_get(st, f)->name;
        int used = genrep__is_optim_name(fn);
        for (int i = 0; !used && i < n_extra; i++) used = !strcmp(fn, extra[i].name);
        for (int i = 0; !used && i < nt; i++) {
            size_t pl = t[i].prefix ? strlen(t[i].prefix) : 0;
            if (pl && strncmp(fn, t[i].prefix, pl)) continue;
            for (int j = 0; !used && j < t[i].n; j++) used = !strcmp(fn + pl, t[i].table[j].name);
        }
        if (!used)
            return genrep__fail(GENREP_ERR_FORMAT, "'%s': holds tensor %s, which the model its metadata describes does not "
                                "have (metadata and tensors disagree)", path, fn);
    }
    /* 3. copy */
    for (int i = 0; i < nt; i++)
        for (int j = 0; j < t[i].n; j++) {
            const genrep_param_info *p = &t[i].table[j];
            snprintf(name, sizeof name, "%s%s", t[i].prefix ? t[i].prefix : "", p->name);
            memcpy(t[i].params + p->offset, genrep_st_find(st, name)->data, p->numel * sizeof(float));
        }
    for (int i = 0; i < n_extra; i++)
        if (extra[i].data) memcpy(extra[i].data, genrep_st_find(st, extra[i].name)->data, extra[i].n * sizeof(float));
    return GENREP_OK;
}

GENREP_API genrep_status genrep_encoder_config_named(genrep_encoder_config *c, const char *arch, int width,
                                                     int blocks, int C, int H, int W) {
    GENREP__CHECK_PTR(c); GENREP__CHECK_PTR(arch);
    if (!strcmp(arch, "small")) genrep_encoder_config_small(c, C, H, W);
    else if (!strcmp(arch, "resnet18")) genrep_encoder_config_resnet18(c, C, H, W);
    else return genrep__fail(GENREP_ERR_ARG, "encoder arch '%s' is unknown, expected small or resnet18", arch);
    if (width < 0 || width > GENREP_ENCODER_MAX_WIDTH)
        return genrep__fail(GENREP_ERR_ARG, "encoder width %d is outside 0..%d", width, GENREP_ENCODER_MAX_WIDTH);
    if (blocks < 0 || blocks > GENREP_ENCODER_MAX_BLOCKS)
        return genrep__fail(GENREP_ERR_ARG, "encoder blocks %d is outside 0..%d", blocks, GENREP_ENCODER_MAX_BLOCKS);
    for (int i = 0; i < c->num_stages; i++) {
        if (blocks > 0) c->blocks[i] = blocks;
        if (width > 0) c->widths[i] = width << i;
    }
    if (width > 0) c->stem_width = width;
    return GENREP_OK;
}

/* "a,b,c" -> out[0..n) each in lo..hi; the count, or -1. */
static int genrep__int_list(const char *s, int *out, int max, long lo, long hi) {
    int n = 0;
    if (!s || !*s) return -1;
    for (;;) {
        char *end;
        if (*s < '0' || *s > '9') return -1; /* no sign, no space */
        long v = strtol(s, &end, 10);
        if (end == s || v < lo || v > hi || n == max) return -1;
        out[n++] = (int)v;
        if (!*end) return n;
        if (*end != ',') return -1;
        s = end + 1;
    }
}

static void genrep__list_str(char *buf, size_t cap, const int *v, int n) {
    buf[0] = '\0';
    for (int i = 0; i < n; i++) snprintf(buf + strlen(buf), cap - strlen(buf), "%s%d", i ? "," : "", v[i]);
}

GENREP_API genrep_status genrep_encoder_save(const genrep_encoder *e, const char *path, const char *arch,
                                             const genrep_extra_tensor *extra, int n_extra,
                                             const char *const *kv, int n_kv) {
    GENREP__CHECK_PTR(e); GENREP__CHECK_PTR(path); GENREP__CHECK_NONNEG(n_kv);
    if (!e->params) return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_save: encoder not created");
    if (n_kv > 64) return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_save: at most 64 extra metadata pairs");
    if (n_kv && !kv) return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_save: kv is NULL");
    const genrep_encoder_config *c = &e->cfg;
    char in[48], stem[16], wid[64], blk[64], str[64], head[32];
    snprintf(in, sizeof in, "%d,%d,%d", c->in_channels, c->in_h, c->in_w);
    snprintf(stem, sizeof stem, "%d", c->stem_width);
    genrep__list_str(wid, sizeof wid, c->widths, c->num_stages);
    genrep__list_str(blk, sizeof blk, c->blocks, c->num_stages);
    genrep__list_str(str, sizeof str, c->strides, c->num_stages);
    snprintf(head, sizeof head, "%d,%d", c->head_out ? c->head_hidden : 0, c->head_out);
    const char *m[2 * (7 + 64)] = {"genrep.encoder", arch ? arch : "resnet", "genrep.in", in, "genrep.stem", stem,
                                   "genrep.widths", wid, "genrep.blocks", blk, "genrep.strides", str, "genrep.head", head};
    for (int i = 0; i < 2 * n_kv; i++) m[14 + i] = kv[i];
    genrep_table_ref t = {"", e->tensors, e->num_tensors, e->params};
    return genrep_tables_save(path, &t, 1, extra, n_extra, m, 7 + n_kv);
}

GENREP_API genrep_status genrep_encoder_config_from_file(genrep_encoder_config *c, const genrep_st *st,
                                                         const char *path) {
    GENREP__CHECK_PTR(c); GENREP__CHECK_PTR(st);
    if (!path) path = "(memory)";
    const char *arch = genrep_st_meta(st, "genrep.encoder"), *in = genrep_st_meta(st, "genrep.in");
    int dims[3], ns;
    if (!in || genrep__int_list(in, dims, 3, 1, 1024) != 3 || dims[0] > 4 || dims[1] < 8 || dims[2] < 8)
        return genrep__fail(GENREP_ERR_FORMAT, "'%s': metadata genrep.in is %s%s%s, expected \"C,H,W\" with C 1..4 and "
                            "H, W 8..1024 (is this an encoder checkpoint?)", path, in ? "'" : "missing", in ? in : "", in ? "'" : "");
    const char *wid = genrep_st_meta(st, "genrep.widths");
    if (wid) { /* the whole config */
        const char *stem = genrep_st_meta(st, "genrep.stem"), *blk = genrep_st_meta(st, "genrep.blocks");
        const char *str = genrep_st_meta(st, "genrep.strides"), *head = genrep_st_meta(st, "genrep.head");
        int hv[2];
        genrep_encoder_config_small(c, dims[0], dims[1], dims[2]);
        ns = genrep__int_list(wid, c->widths, GENREP_ENCODER_MAX_STAGES, 1, 4096);
        const char *bad = ns < 1 ? "genrep.widths"
            : genrep__int_list(stem, &c->stem_width, 1, 1, 4096) != 1 ? "genrep.stem"
            : genrep__int_list(blk, c->blocks, GENREP_ENCODER_MAX_STAGES, 1, GENREP_ENCODER_MAX_BLOCKS) != ns ? "genrep.blocks"
            : genrep__int_list(str, c->strides, GENREP_ENCODER_MAX_STAGES, 1, 2) != ns ? "genrep.strides"
            : genrep__int_list(head, hv, 2, 0, 65536) != 2 ? "genrep.head" : NULL;
        if (bad) {
            const char *v = genrep_st_meta(st, bad);
            return genrep__fail(GENREP_ERR_FORMAT, "'%s': metadata %s is %s%s%s, expected %s", path, bad,
                                v ? "'" : "missing", v ? v : "", v ? "'" : "",
                                !strcmp(bad, "genrep.head") ? "\"hidden,out\"" : "one value per stage of genrep.widths");
        }
        c->num_stages = ns;
        c->head_hidden = hv[0]; c->head_out = hv[1];
        if (!c->head_out) c->head_hidden = 0;
        return GENREP_OK;
    }
    /* older files: arch + one width + one depth + head_out */
    const char *wd = genrep_st_meta(st, "genrep.width"), *bl = genrep_st_meta(st, "genrep.blocks");
    const char *ho = genrep_st_meta(st, "genrep.head_out");
    int width = 0, blocks = 0, head_out = -1;
    if (!arch || !ho || genrep__int_list(ho, &head_out, 1, 0, 65536) != 1
        || (wd && genrep__int_list(wd, &width, 1, 1, GENREP_ENCODER_MAX_WIDTH) != 1)
        || (bl && genrep__int_list(bl, &blocks, 1, 1, GENREP_ENCODER_MAX_BLOCKS) != 1)
        || genrep_encoder_config_named(c, arch, width, blocks, dims[0], dims[1], dims[2]))
        return genrep__fail(GENREP_ERR_FORMAT, "'%s': not an encoder checkpoint (metadata genrep.widths, or "
                            "genrep.encoder/genrep.head_out/genrep.width/genrep.blocks, missing or invalid)", path);
    c->head_out = head_out;
    if (!head_out) c->head_hidden = 0;
    return GENREP_OK;
}

GENREP_API genrep_status genrep_encoder_load(genrep_encoder *e, const char *path, int max_batch,
                                             genrep_extra_tensor *extra, int n_extra, genrep_st **st_out) {
    GENREP__CHECK_PTR(e); GENREP__CHECK_PTR(path);
    if (st_out) *st_out = NULL;
    genrep_st *st;
    /* the header first: metadata and tensor sizes, backed by the file's length, no data read */
    genrep_status s = genrep_st_open(&st, path, GENREP_ST_HEADER_ONLY);
    if (s) return s;
    genrep_encoder_config c;
    memset(&c, 0, sizeof c);
    size_t np = 0, nbuf = 0, have = 0, extra_n = 0;
    if ((s = genrep_encoder_config_from_file(&c, st, path))) { genrep_st_close(st); return s; }
    /* the file must hold the values of the model its metadata describes, checked
       before that model is allocated (a small file cannot ask for gigabytes) */
    if ((s = genrep_encoder_sizes(&c, max_batch, &np, &nbuf, NULL))) {
        char why[256];
        size_t wl = strlen(genrep_last_error());
        wl = wl < sizeof why ? wl : sizeof why - 1;
        memcpy(why, genrep_last_error(), wl);
        why[wl] = '\0';
        s = genrep__fail(s, "'%s': the encoder its metadata describes cannot be built: %s", path, why);
        genrep_st_close(st); return s;
    }
    for (int i = 0; i < genrep_st_count(st); i++) have += (size_t)genrep_st_get(st, i)->numel;
    if (have < np + nbuf) {
        genrep_st_close(st);
    {
        char wid[64], blk[64];
        genrep__list_str(wid, sizeof wid, c.widths, c.num_stages);
        genrep__list_str(blk, sizeof blk, c.blocks, c.num_stages);
        return genrep__fail(GENREP_ERR_SHAPE, "'%s': holds %zu values, but the encoder of its metadata (stem %d, widths %s, "
                            "blocks %s) has %zu", path, have, c.stem_width, wid, blk, np + nbuf);
    }
    }
    /* ... and no more than the model, its optimiser state and the caller's extra
       tensors can need: a file with a huge extra tensor is refused before it is read */
    for (int i = 0; i < n_extra; i++) extra_n += extra && extra[i].data ? extra[i].n : 0;
    if (have > 4 * (np + nbuf) + extra_n + ((size_t)1 << 20)) {
        genrep_st_close(st);
        return genrep__fail(GENREP_ERR_FORMAT, "'%s': holds %zu values, more than the encoder of its metadata (%zu) and "
                            "its optimiser state can need; refused unread", path, have, np + nbuf);
    }
    genrep_st_close(st);
    if ((s = genrep_st_open(&st, path, 0))) return s;
    if ((s = genrep_encoder_create(e, &c, max_batch, 0))) { genrep_st_close(st); return s; }
    genrep_table_ref t = {"", e->tensors, e->num_tensors, e->params};
    if ((s = genrep_tables_read(st, path, &t, 1, extra, n_extra))) { genrep_encoder_free(e); genrep_st_close(st); return s; }
    if (st_out) *st_out = st; else genrep_st_close(st);
    return GENREP_OK;
}

GENREP_API genrep_status genrep_disc_save(const genrep_disc *d, const char *path, const char *const *kv, int n_kv) {
    GENREP__CHECK_PTR(d); GENREP__CHECK_PTR(path); GENREP__CHECK_NONNEG(n_kv);
    if (n_kv > 32) return genrep__fail(GENREP_ERR_ARG, "genrep_disc_save: at most 32 extra metadata pairs");
    if (n_kv && !kv) return genrep__fail(GENREP_ERR_ARG, "genrep_disc_save: kv is NULL");
    char vals[GENREP__GAN_META_N][32];
    const char *m[2 * (GENREP__GAN_META_N + 32)];
    genrep__gan_meta(&d->cfg, vals, m);
    for (int i = 0; i < 2 * n_kv; i++) m[2 * GENREP__GAN_META_N + i] = kv[i];
    genrep_table_ref t = {"", d->table, d->n_tensors, d->params};
    return genrep_tables_save(path, &t, 1, NULL, 0, m, GENREP__GAN_META_N + n_kv);
}

GENREP_API genrep_status genrep_disc_load(genrep_disc *d, const char *path, int max_batch) {
    GENREP__CHECK_PTR(d); GENREP__CHECK_PTR(path);
    genrep_st *st;
    genrep_gan_config c;
    genrep_status s = genrep_st_open(&st, path, 0);
    if (s) return s;
    if (!(s = genrep__gan_config_from_file(&c, st, path)) && !(s = genrep_disc_create(d, &c, max_batch, 0))) {
        genrep_table_ref t = {"", d->table, d->n_tensors, d->params};
        if ((s = genrep_tables_read(st, path, &t, 1, NULL, 0))) genrep_disc_free(d);
    }
    genrep_st_close(st);
    return s;
}

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
