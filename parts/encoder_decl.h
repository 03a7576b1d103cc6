/* parts/encoder_decl.h: development fragment of genrep.h, inlined before release */
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

/* One named tensor of the parameter slab (a state_dict entry). */
typedef struct {
    char    name[64];
    size_t  offset;                 /* in floats from params (and grads, if trainable) */
    size_t  numel;
    int     ndim;
    int64_t shape[GENREP_MAX_DIMS];
    int     trainable;              /* 0 for BN running_mean / running_var */
} genrep_encoder_tensor;

struct genrep__encoder_plan;        /* layer geometry and activation offsets */

typedef struct {
    genrep_encoder_config cfg;
    int    feat_dim, out_dim;       /* F; out_dim = head_out, or F without a head */
    int    max_batch;
    float *params;                  /* num_params + num_buffers floats */
    float *grads;                   /* num_params floats, backward accumulates */
    size_t num_params, num_buffers;
    genrep_encoder_tensor *tensors;     /* num_tensors entries, trained ones first */
    int    num_tensors;
    /* after a forward: */
    const float *features;          /* (N, F) pooled features, in the activation slab */
    const float *out;               /* (N, out_dim) L2-normalised embeddings (or = features) */
    int    last_n, last_training;
    const float *last_inp;          /* forward's input, read by backward */
    /* internals */
    struct genrep__encoder_plan *plan;
    float *acts;  size_t acts_floats;
    float *ws;    size_t ws_floats;
} genrep_encoder;

/* Allocate all slabs for batches up to max_batch and initialise the
   parameters from seed (Kaiming normal fan_out convs, BN 1/0, linear
   uniform(+-1/sqrt(fan_in)) weights and biases, running stats 0/1). */
GENREP_API genrep_status genrep_encoder_create(genrep_encoder *e, const genrep_encoder_config *cfg,
                                               int max_batch, uint64_t seed);
GENREP_API void genrep_encoder_free(genrep_encoder *e);
/* Re-draw the parameters from seed and reset the running stats (as create). */
GENREP_API genrep_status genrep_encoder_init_params(genrep_encoder *e, uint64_t seed);
/* Forward of inp (N, C, H, W), N <= max_batch. training != 0: BN uses batch
   statistics and updates its running stats. Sets e->features and e->out
   (valid until the next forward) and remembers the pointer inp: keep it
   alive and unchanged until backward. */
GENREP_API genrep_status genrep_encoder_forward(genrep_encoder *e, const float *inp, int N, int training);
/* Backward of the last forward: dout (N, out_dim) is the gradient w.r.t.
   e->out. grads += dparams; dinp (N, C, H, W) += dinput if not NULL.
   Its scratch is a separate part of the activation slab: e->out and
   e->features stay valid. BN's gradient follows the forward's mode. */
GENREP_API genrep_status genrep_encoder_backward(genrep_encoder *e, float *dinp, const float *dout);
/* Eval-mode features (N, F) of any number of images, in chunks of max_batch. */
GENREP_API genrep_status genrep_encoder_features(float *feats, genrep_encoder *e, const float *inp, int N);
/* The named tensor, or NULL. */
GENREP_API const genrep_encoder_tensor *genrep_encoder_find(const genrep_encoder *e, const char *name);

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
GENREP_API genrep_status genrep_ntxent_forward(float *loss, float *ws, const float *z,
                                               int B, int D, float tau, int flags);
GENREP_API genrep_status genrep_ntxent_backward(float *dz, float *ws, const float *z,
                                                int B, int D, float tau, int flags, float dloss);
/* labels (B): class of each sample (both views share it). */
GENREP_API size_t genrep_supcon_workspace(int B);
GENREP_API genrep_status genrep_supcon_forward(float *loss, float *ws, const float *z, const int32_t *labels,
                                               int B, int D, float tau, int flags);
GENREP_API genrep_status genrep_supcon_backward(float *dz, float *ws, const float *z, const int32_t *labels,
                                                int B, int D, float tau, int flags, float dloss);

/* [MSE] loss = mean over n of (pred - target)^2 (torch.nn.MSELoss, the
   inverter baseline regressing z); backward dpred += dloss * 2 (pred - target) / n. */
GENREP_API genrep_status genrep_mse_forward(float *loss, const float *pred, const float *target, size_t n);
GENREP_API genrep_status genrep_mse_backward(float *dpred, const float *pred, const float *target,
                                             size_t n, float dloss);
