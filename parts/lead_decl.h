/* parts/lead_decl.h: development fragment of genrep.h (declarations), inlined before release */

/* --------------------------------------------------------------- [VIEWS] */
/* Latent views (GenRep section 3). Every draw comes from a Philox stream
   named by (seed, sample index, purpose), so a sample's latent and its
   views do not depend on batch size, batch split or thread count. The
   sample index of row b is first + b. */

/* Anchors: z (B,D), each coordinate truncation * TruncNormal(-2, 2). */
GENREP_API genrep_status genrep_latent_anchors(float *z, int B, int D, float truncation,
                                               uint64_t seed, uint64_t first);
/* Class labels y (B) uniform in [0, n_classes). */
GENREP_API genrep_status genrep_latent_classes(int32_t *y, int B, int n_classes, uint64_t seed, uint64_t first);

typedef enum {
    GENREP_VIEW_NONE = 0,     /* the anchor itself (pixel augmentations only) */
    GENREP_VIEW_GAUSS,        /* z + sigma * TruncNormal(-2, 2), not re-clipped */
    GENREP_VIEW_ANGULAR,      /* the Gaussian view rescaled to the anchor's own norm */
    GENREP_VIEW_INDEPENDENT,  /* a fresh z (same class: the caller keeps y) */
    GENREP_VIEW_STEER         /* z + sum_t alpha_t w_t, alpha_t ~ U(-alpha_max_t, alpha_max_t) */
} genrep_view_kind;
GENREP_API const char *genrep_view_name(genrep_view_kind k);
/* Parse "none|gauss|angular|independent|steer"; GENREP_ERR_ARG otherwise. */
GENREP_API genrep_status genrep_view_parse(genrep_view_kind *k, const char *s);

typedef struct {
    genrep_view_kind kind;
    float sigma;              /* GAUSS, ANGULAR: noise scale (>= 0) */
    float truncation;         /* INDEPENDENT: as for anchors (usually 1) */
    int   n_walks;            /* STEER: T walks ... */
    const float *walks;       /* ... (T, D) */
    const float *alpha_max;   /* ... (T), each walk's alpha range */
} genrep_view_config;

/* zv (B,D) = view number `view` (>= 1; 0 is reserved for anchors) of the
   anchors z (B,D) with sample indices first..first+B-1. zv may not alias z. */
GENREP_API genrep_status genrep_latent_view(float *zv, const float *z, int B, int D,
                                            const genrep_view_config *cfg, uint64_t seed,
                                            uint64_t first, int view);

/* --------------------------------------------------------------- [PROBE] */
/* Linear probe: multinomial logistic regression on frozen features,
   standardised with the training set's mean and std, trained with Adam
   (minibatch 256, cosine schedule, shuffles from `seed`). Returns top-1
   accuracy on the test features in *test_acc (and on train in *train_acc,
   may be NULL). Features (N, D) row-major, labels in [0, n_classes). */
typedef struct {
    int   epochs;         /* default 30 */
    float lr;             /* default 1e-3 */
    float weight_decay;   /* default 1e-5 (L2, on weights only) */
    int   batch;          /* default 256 */
    uint64_t seed;
} genrep_probe_config;
GENREP_API void genrep_probe_config_default(genrep_probe_config *cfg);
GENREP_API genrep_status genrep_linear_probe(float *test_acc, float *train_acc,
                                             const float *xtr, const int32_t *ytr, int ntr,
                                             const float *xte, const int32_t *yte, int nte,
                                             int D, int n_classes, const genrep_probe_config *cfg);
/* k-nearest-neighbour classifier on cosine similarity (features are L2
   normalised inside): the k most similar training rows vote with weight
   exp(sim / 0.07) (Wu et al. 2018, as SimCLR/SupCon monitors do). */
GENREP_API genrep_status genrep_knn_accuracy(float *acc, const float *xtr, const int32_t *ytr, int ntr,
                                             const float *xte, const int32_t *yte, int nte,
                                             int D, int n_classes, int k);
