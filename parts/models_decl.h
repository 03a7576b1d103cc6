/* parts/models_decl.h: development fragment of genrep.h, inlined before release */
/* -------------------------------------------------------------- [MODELS] */
/* [GAN] Generators and discriminators for 28x28x1 images in [-1, 1].

   DCGAN generator (width ch, default 32; ~14 M multiply-adds per image):
     z (B,Z) -> fc (no bias) -> (4ch,7,7) -> bn0 -> relu
       -> up1: convT 4x4 s2 p1 (no bias) -> (2ch,14,14) -> bn1 -> relu
       -> up2: convT 4x4 s2 p1 (no bias) -> (ch,28,28)  -> bn2 -> relu
       -> out: conv 3x3 p1 (+bias) -> (1,28,28) -> tanh
   Class-conditional generator (GENREP_GAN_CGAN): the same trunk; a shared
   class embedding (n_classes, E) feeds every batchnorm, which becomes a
   class-conditional batchnorm (BigGAN): gain = bnI.gain(e), bias =
   bnI.bias(e), out = xhat * (1 + gain) + bias.

   Discriminator (width dch, default 64), no normalisation (so real and
   fake can share one forward pass):
     x (B,1,28,28) -> conv1 4x4 s2 p1 -> (dch,14,14) -> leaky 0.2
       -> conv2 4x4 s2 p1 -> (2dch,7,7) -> leaky 0.2 -> flatten h (B,F)
       -> fc -> logit;  conditional: logit += <embed[y], h>  (projection
       discriminator, Miyato & Koyama 2018).

   The modules are torch.nn's: Linear(Z, 4ch*49, bias=False) viewed as
   (4ch,7,7), BatchNorm2d (eps 1e-5, momentum 0.1), ConvTranspose2d(...,
   bias=False), Conv2d, Embedding; tests/ref/make_models_golden.py builds
   them in PyTorch and the tests match its outputs and gradients.

   Parameters live in one slab, gradients in another with the same layout
   (llm.c). Each model has a table of named tensors with PyTorch
   state_dict names ("fc.weight", "bn0.running_mean", ...) and layouts, so
   a checkpoint maps 1:1 onto safetensors. Batchnorm running statistics
   are in the table marked is_buffer: saved, never trained (their gradient
   slots stay zero and genrep_gan_adam_step skips them). */

typedef enum { GENREP_GAN_DCGAN = 0, GENREP_GAN_CGAN = 1 } genrep_gan_kind;

typedef struct {
    int kind;        /* genrep_gan_kind */
    int zdim;        /* latent size, default 128 */
    int width;       /* generator base channels ch, default 32 */
    int dwidth;      /* discriminator base channels dch, default 64 */
    int n_classes;   /* classes of the conditional models, default 10 */
    int embed_dim;   /* generator class embedding size E, default 32 */
} genrep_gan_config;

/* Fill the defaults above for a kind. */
GENREP_API void genrep_gan_config_default(genrep_gan_config *cfg, genrep_gan_kind kind);

/* One named tensor of a model: slab[offset .. offset+numel) with shape. */
typedef struct {
    char    name[48];
    int     ndim;
    int64_t shape[4];
    size_t  offset, numel;
    int     is_buffer;  /* 1 = running statistic: saved, not trained */
} genrep_param_info;

#define GENREP_GAN_MAX_TENSORS 32

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
    size_t poff[GENREP_GAN_MAX_TENSORS], aoff[32];
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
    size_t poff[GENREP_GAN_MAX_TENSORS], aoff[32];
} genrep_disc;

/* Allocate a generator for batches up to max_batch and initialise it from
   seed (DCGAN init: conv/linear weights N(0, 0.02), batchnorm gamma
   N(1, 0.02), biases 0, running_mean 0, running_var 1; class embedding
   N(0, 1)). Same seed, same bits. */
GENREP_API genrep_status genrep_gen_create(genrep_gen *g, const genrep_gan_config *cfg, int max_batch,
                                           uint64_t seed);
GENREP_API void genrep_gen_free(genrep_gen *g);
/* Re-draw every parameter from seed (as _create does). */
GENREP_API void genrep_gen_init(genrep_gen *g, uint64_t seed);
GENREP_API void genrep_gen_zero_grad(genrep_gen *g);
/* Look a tensor up by name; NULL if absent. */
GENREP_API const genrep_param_info *genrep_gen_param(const genrep_gen *g, const char *name);
/* Output images of the last forward: (B,1,28,28), inside g's activation slab. */
GENREP_API float *genrep_gen_output(const genrep_gen *g);

/* Forward a batch: z (B, zdim), y (B) class labels in [0, n_classes)
   (NULL for DCGAN), B <= max_batch. training != 0 uses batch statistics
   and updates the running statistics (momentum 0.1); 0 uses running
   statistics. z and y must stay valid until backward. */
GENREP_API genrep_status genrep_gen_forward(genrep_gen *g, const float *z, const int32_t *y, int B,
                                            int training);
/* Backward of the last forward: dout (B,1,28,28) -> grads += ...,
   dz (B, zdim) += ... (NULL if not needed). */
GENREP_API genrep_status genrep_gen_backward(genrep_gen *g, float *dz, const float *dout);

/* Sampling: out (B,1,28,28) = G(z, y) in eval mode, any B (processed in
   chunks of max_batch). Row b depends only on z[b], y[b] and the weights. */
GENREP_API genrep_status genrep_gen_render(genrep_gen *g, float *out, const float *z, const int32_t *y,
                                           int B);

/* Multiply-adds per image of the generator's forward (for img/s -> GFLOP/s). */
GENREP_API double genrep_gen_macs(const genrep_gan_config *cfg);

GENREP_API genrep_status genrep_disc_create(genrep_disc *d, const genrep_gan_config *cfg, int max_batch,
                                            uint64_t seed);
GENREP_API void genrep_disc_free(genrep_disc *d);
GENREP_API void genrep_disc_init(genrep_disc *d, uint64_t seed);
GENREP_API void genrep_disc_zero_grad(genrep_disc *d);
GENREP_API const genrep_param_info *genrep_disc_param(const genrep_disc *d, const char *name);
/* logits (B) = D(x, y); x (B,1,28,28), y (B) or NULL for DCGAN. x and y
   must stay valid until backward. */
GENREP_API genrep_status genrep_disc_forward(genrep_disc *d, float *logits, const float *x, const int32_t *y,
                                             int B);
/* Backward of the last forward: dlogits (B) -> grads += ... when
   param_grads != 0 (the generator step passes 0), dx (B,1,28,28) += ...
   (NULL if not needed). */
GENREP_API genrep_status genrep_disc_backward(genrep_disc *d, float *dx, const float *dlogits,
                                              int param_grads);

/* [GANLOSS] mean over B of the per-logit loss for a role:
     D_REAL: ns softplus(-l), hinge relu(1 - l)
     D_FAKE: ns softplus(l),  hinge relu(1 + l)
     G:      ns softplus(-l), hinge -l
   Writes *loss and dlogits (B) = d loss / d logit (overwrites). */
typedef enum { GENREP_GAN_LOSS_NS = 0, GENREP_GAN_LOSS_HINGE = 1 } genrep_gan_loss_kind;
typedef enum { GENREP_GAN_D_REAL = 0, GENREP_GAN_D_FAKE = 1, GENREP_GAN_G = 2 } genrep_gan_role;
GENREP_API genrep_status genrep_gan_loss(float *loss, float *dlogits, const float *logits, int B,
                                         genrep_gan_loss_kind kind, genrep_gan_role role);

/* Adam over the trainable tensors of a table (buffers skipped); m and v
   have the slab's layout. */
GENREP_API genrep_status genrep_gan_adam_step(float *params, float *m, float *v, const float *grads,
                                              const genrep_param_info *table, int n_tensors,
                                              const genrep_adam_config *cfg, int64_t step);

/* [GANIO] Generator weights as safetensors: the named table (buffers
   included) plus metadata genrep.model = "dcgan" | "cgan", genrep.zdim,
   genrep.width, genrep.dwidth, genrep.n_classes, genrep.embed_dim (the
   files `genrep gan-train` ships in weights/ and weights/export_pytorch.py
   writes). extra_kv holds n_extra more key/value pairs (may be NULL).
   Written atomically (see [SAFETENSORS]). */
GENREP_API genrep_status genrep_gen_save(const genrep_gen *g, const char *path,
                                         const char *const *extra_kv, int n_extra);
/* Create g (batches up to max_batch) from a weights file: the metadata
   gives the architecture, every tensor's name and shape is checked
   (_FORMAT / _SHAPE naming the file and tensor). Free with genrep_gen_free. */
GENREP_API genrep_status genrep_gen_load(genrep_gen *g, const char *path, int max_batch);
