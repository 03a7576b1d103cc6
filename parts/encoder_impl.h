/* parts/encoder_impl.h: development fragment of genrep.h, inlined before release */
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
    /* profile: per unit conv/BN forward/backward seconds, and the rest */
    int    profiling;
    double prof[GENREP__ENC_MAX_UNITS][4];
    double prof_pool, prof_head, prof_elem, prof_zero;
    int    prof_fwd_calls, prof_bwd_calls;
};

/* Elementwise loops over n values go parallel above this size. */
#define GENREP__ENC_PARFOR(n) GENREP__OMP(omp parallel for schedule(static) if ((n) > 65536))

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
    if (c->stem_width <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: stem_width must be > 0", fn);
    if (c->num_stages < 1 || c->num_stages > GENREP_ENCODER_MAX_STAGES)
        return genrep__fail(GENREP_ERR_ARG, "%s: num_stages must be 1..%d, got %d", fn,
                            GENREP_ENCODER_MAX_STAGES, c->num_stages);
    for (int s = 0; s < c->num_stages; s++) {
        if (c->widths[s] <= 0 || c->strides[s] < 1 || c->strides[s] > 4 ||
            c->blocks[s] < 1 || c->blocks[s] > GENREP__ENC_MAX_BLOCKS_PER_STAGE)
            return genrep__fail(GENREP_ERR_ARG, "%s: stage %d: width %d, stride %d (1..4), blocks %d (1..%d)",
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
        genrep_encoder_tensor *t = &b->e->tensors[i];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", name);
        t->offset = off;            /* buffers are rebased after num_params is known */
        t->numel = numel;
        t->ndim = ndim;
        for (int k = 0; k < GENREP_MAX_DIMS; k++) t->shape[k] = k < ndim ? shp[k] : 1;
        t->trainable = trainable;
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

GENREP_API void genrep_encoder_free(genrep_encoder *e) {
    if (!e) return;
    if (e->plan) { genrep_free(e->plan->init_kind); genrep_free(e->plan->init_scale); }
    genrep_free(e->plan);
    genrep_free(e->params);
    genrep_free(e->grads);
    genrep_free(e->tensors);
    genrep_free(e->acts);
    genrep_free(e->ws);
    memset(e, 0, sizeof *e);
}

GENREP_API genrep_status genrep_encoder_init_params(genrep_encoder *e, uint64_t seed) {
    GENREP__CHECK_PTR(e);
    if (!e->plan || !e->params) return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_init_params: encoder not created");
    /* one Philox stream per tensor (its table index): a tensor's values do
       not depend on the other tensors' sizes */
    for (int i = 0; i < e->num_tensors; i++) {
        const genrep_encoder_tensor *t = &e->tensors[i];
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

GENREP_API genrep_status genrep_encoder_create(genrep_encoder *e, const genrep_encoder_config *cfg,
                                               int max_batch, uint64_t seed) {
    GENREP__CHECK_PTR(e); GENREP__CHECK_PTR(cfg);
    memset(e, 0, sizeof *e);
    genrep_status st = genrep__enc_check_config(cfg, max_batch);
    if (st) return st;
    e->cfg = *cfg;
    e->max_batch = max_batch;
    e->plan = (struct genrep__encoder_plan *)genrep_alloc(sizeof *e->plan);
    if (!e->plan) return genrep__fail(GENREP_ERR_NOMEM, "genrep_encoder_create: cannot allocate the plan");
    memset(e->plan, 0, sizeof *e->plan);
    if ((st = genrep__enc_layout(e, max_batch))) { genrep_encoder_free(e); return st; }
    /* pass 1: the table */
    e->tensors = (genrep_encoder_tensor *)genrep_alloc((size_t)e->num_tensors * sizeof *e->tensors);
    e->plan->init_kind = (int *)genrep_alloc((size_t)e->num_tensors * sizeof(int));
    e->plan->init_scale = (float *)genrep_alloc((size_t)e->num_tensors * sizeof(float));
    if (!e->tensors || !e->plan->init_kind || !e->plan->init_scale) {
        genrep_encoder_free(e);
        return genrep__fail(GENREP_ERR_NOMEM, "genrep_encoder_create: cannot allocate the tensor table");
    }
    genrep__enc_layout(e, max_batch);
    /* buffers live after the trained tensors; trained tensors first in the table */
    {
        genrep_encoder_tensor *tmp = (genrep_encoder_tensor *)genrep_alloc((size_t)e->num_tensors * sizeof *tmp);
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
                if (e->tensors[i].trainable == pass) {
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
    return genrep_encoder_init_params(e, seed);
}

GENREP_API const genrep_encoder_tensor *genrep_encoder_find(const genrep_encoder *e, const char *name) {
    if (!e || !name || !e->tensors) return NULL;
    for (int i = 0; i < e->num_tensors; i++)
        if (!strcmp(e->tensors[i].name, name)) return &e->tensors[i];
    return NULL;
}

/* x = relu(x) in place; and x = relu(x + s). Elementwise, so any thread split gives the same bits. */
static void genrep__enc_relu_inplace(float *x, size_t n) {
GENREP__ENC_PARFOR(n)
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
static void genrep__enc_add_relu_inplace(float *x, const float *s, size_t n) {
GENREP__ENC_PARFOR(n)
    for (size_t i = 0; i < n; i++) { float v = x[i] + s[i]; x[i] = v > 0.0f ? v : 0.0f; }
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

static genrep_status genrep__enc_unit_forward(genrep_encoder *e, int ui, const float *inp, int N, int training) {
    struct genrep__encoder_plan *pl = e->plan;
    const genrep__enc_unit *u = &pl->units[ui];
    genrep_conv2d_desc d;
    genrep_status st = genrep_conv2d_init(&d, N, u->C, u->H, u->W, u->K, u->R, u->S, u->stride, u->pad);
    if (st) return st;
    if (genrep_conv2d_workspace(&d) > e->ws_floats)
        return genrep__fail(GENREP_ERR_SHAPE, "genrep_encoder_forward: conv workspace too small for N=%d", N);
    float *c = e->acts + u->a_conv, *y = e->acts + u->a_bn;
    const genrep_encoder_tensor *T = e->tensors;
    double t0 = pl->profiling ? genrep__enc_now() : 0, t1 = 0;
    if ((st = genrep_conv2d_forward(c, e->ws, inp, e->params + T[u->t_w].offset, NULL, &d))) return st;
    if (pl->profiling) { t1 = genrep__enc_now(); pl->prof[ui][GENREP__PROF_CONV_F] += t1 - t0; }
    st = genrep_batchnorm_forward(y, e->acts + u->a_mean, e->acts + u->a_rstd,
                                  e->params + T[u->t_rmean].offset, e->params + T[u->t_rvar].offset, c,
                                  e->params + T[u->t_gamma].offset, e->params + T[u->t_beta].offset,
                                  N, u->K, u->P * u->Q, e->cfg.bn_eps, e->cfg.bn_momentum, training);
    if (st) return st;
    if (u->relu) genrep__enc_relu_inplace(y, (size_t)N * u->K * u->P * u->Q);
    if (pl->profiling) pl->prof[ui][GENREP__PROF_BN_F] += genrep__enc_now() - t1;
    return GENREP_OK;
}

/* dinp += d(unit)/d(inp) . g, where g (N,K,P,Q) is the gradient w.r.t. the
   unit's BN output (already masked by the ReLU if any). gbn is scratch. */
static genrep_status genrep__enc_unit_backward(genrep_encoder *e, int ui, float *dinp, float *gbn,
                                               const float *g, const float *inp, int N, int training) {
    struct genrep__encoder_plan *pl = e->plan;
    const genrep__enc_unit *u = &pl->units[ui];
    const genrep_encoder_tensor *T = e->tensors;
    genrep_conv2d_desc d;
    genrep_status st = genrep_conv2d_init(&d, N, u->C, u->H, u->W, u->K, u->R, u->S, u->stride, u->pad);
    if (st) return st;
    size_t n = (size_t)N * u->K * u->P * u->Q;
    genrep__enc_zero(e, gbn, n);
    double t0 = pl->profiling ? genrep__enc_now() : 0, t1 = 0;
    st = genrep_batchnorm_backward(gbn, e->grads + T[u->t_gamma].offset, e->grads + T[u->t_beta].offset, g,
                                   e->acts + u->a_conv, e->params + T[u->t_gamma].offset,
                                   e->acts + u->a_mean, e->acts + u->a_rstd, N, u->K, u->P * u->Q, training);
    if (st) return st;
    if (pl->profiling) { t1 = genrep__enc_now(); pl->prof[ui][GENREP__PROF_BN_B] += t1 - t0; }
    st = genrep_conv2d_backward(dinp, e->grads + T[u->t_w].offset, NULL, e->ws, gbn, inp,
                                e->params + T[u->t_w].offset, &d);
    if (pl->profiling) pl->prof[ui][GENREP__PROF_CONV_B] += genrep__enc_now() - t1;
    return st;
}

GENREP_API genrep_status genrep_encoder_forward(genrep_encoder *e, const float *inp, int N, int training) {
    GENREP__CHECK_PTR(e); GENREP__CHECK_PTR(inp);
    if (!e->plan) return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_forward: encoder not created");
    if (N <= 0 || N > e->max_batch)
        return genrep__fail(GENREP_ERR_ARG, "genrep_encoder_forward: N=%d outside 1..max_batch=%d", N, e->max_batch);
    struct genrep__encoder_plan *pl = e->plan;
    const genrep_encoder_tensor *T = e->tensors;
    genrep_status st;
    e->last_n = 0;
    if ((st = genrep__enc_unit_forward(e, 0, inp, N, training))) return st;
    const float *cur = e->acts + pl->units[0].a_bn;
    for (int bi = 0; bi < pl->n_blocks; bi++) {
        const genrep__enc_block *b = &pl->blocks[bi];
        if ((st = genrep__enc_unit_forward(e, b->u1, cur, N, training))) return st;
        if ((st = genrep__enc_unit_forward(e, b->u2, e->acts + pl->units[b->u1].a_bn, N, training))) return st;
        const float *s = cur;
        if (b->sc >= 0) {
            if ((st = genrep__enc_unit_forward(e, b->sc, cur, N, training))) return st;
            s = e->acts + pl->units[b->sc].a_bn;
        }
        const genrep__enc_unit *u2 = &pl->units[b->u2];
        double t0 = pl->profiling ? genrep__enc_now() : 0;
        genrep__enc_add_relu_inplace(e->acts + u2->a_bn, s, (size_t)N * u2->K * u2->P * u2->Q);
        if (pl->profiling) pl->prof_elem += genrep__enc_now() - t0;
        cur = e->acts + u2->a_bn;
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
        if ((st = genrep_linear_forward(h1, feat, e->params + T[pl->t_w1].offset, e->params + T[pl->t_b1].offset,
                                        N, pl->F, pl->Hd))) return st;
        genrep__enc_relu_inplace(h1, (size_t)N * pl->Hd);
        if ((st = genrep_linear_forward(z, h1, e->params + T[pl->t_w2].offset, e->params + T[pl->t_b2].offset,
                                        N, pl->Hd, pl->O))) return st;
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
    const genrep_encoder_tensor *T = e->tensors;
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
        memset(dh, 0, (size_t)N * pl->Hd * sizeof(float));
        if ((st = genrep_linear_backward(dh, e->grads + T[pl->t_w2].offset, e->grads + T[pl->t_b2].offset, dz, h1,
                                         e->params + T[pl->t_w2].offset, N, pl->Hd, pl->O))) return st;
        genrep__enc_relu_mask(dh, h1, (size_t)N * pl->Hd);
        memset(dz, 0, (size_t)N * pl->F * sizeof(float));
        if ((st = genrep_linear_backward(dz, e->grads + T[pl->t_w1].offset, e->grads + T[pl->t_b1].offset, dh,
                                         e->acts + pl->a_feat, e->params + T[pl->t_w1].offset,
                                         N, pl->F, pl->Hd))) return st;
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
        /* second unit: ga = d(u1 output) */
        genrep__enc_zero(e, ga, (size_t)N * u1->K * u1->P * u1->Q);
        if ((st = genrep__enc_unit_backward(e, b->u2, ga, gb, gcur, e->acts + u1->a_bn, N, tr))) return st;
        genrep__enc_relu_mask(ga, e->acts + u1->a_bn, (size_t)N * u1->K * u1->P * u1->Q);
        /* first unit: gx = d(block input) */
        genrep__enc_zero(e, gx, nin);
        if ((st = genrep__enc_unit_backward(e, b->u1, gx, gb, ga, bin, N, tr))) return st;
        if (b->sc >= 0) {
            if ((st = genrep__enc_unit_backward(e, b->sc, gx, gb, gcur, bin, N, tr))) return st;
        } else {
            ts = pl->profiling ? genrep__enc_now() : 0;
            if ((st = genrep_add_backward(gx, NULL, gcur, nin))) return st;
            if (pl->profiling) pl->prof_elem += genrep__enc_now() - ts;
        }
        float *t = gcur; gcur = gx; gx = t;
    }
    /* stem */
    const genrep__enc_unit *s0 = &pl->units[0];
    genrep__enc_relu_mask(gcur, e->acts + s0->a_bn, (size_t)N * s0->K * s0->P * s0->Q);
    if ((st = genrep__enc_unit_backward(e, 0, dinp, gb, gcur, e->last_inp, N, tr))) return st;
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
        /* npos >= 1 always: the other view of sample i shares its label */
        double logS = log(S);
        rowloss[i] = (float)(-(double)s * (pos / npos - logS));
        for (int j = 0; j < N; j++) l[j] = j == i ? 0.0f : (float)(exp((double)l[j] - m) / S);
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
