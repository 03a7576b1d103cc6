/* parts/models_impl.h: development fragment of genrep.h, inlined before release */
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
   Tensor roles (poff index): */
enum {
    GENREP__G_EMBED = 0, GENREP__G_FC,
    GENREP__G_BN0,  /* 6 per batchnorm: w (gamma | gain.weight), b (beta | gain.bias),
                       bias.weight, bias.bias (cgan only), running_mean, running_var */
    GENREP__G_UP1 = GENREP__G_BN0 + 6,
    GENREP__G_BN1,
    GENREP__G_UP2 = GENREP__G_BN1 + 6,
    GENREP__G_BN2,
    GENREP__G_OUTW = GENREP__G_BN2 + 6,
    GENREP__G_OUTB,
    GENREP__G_NP
};
/* Activation roles (aoff index); per-batch tensors hold max_batch rows. */
enum {
    GENREP__GA_EMB = 0,
    GENREP__GA_GAIN0, GENREP__GA_BIAS0, GENREP__GA_GAIN1, GENREP__GA_BIAS1, GENREP__GA_GAIN2, GENREP__GA_BIAS2,
    GENREP__GA_FC, GENREP__GA_BN0, GENREP__GA_R0,
    GENREP__GA_UP1, GENREP__GA_BN1, GENREP__GA_R1,
    GENREP__GA_UP2, GENREP__GA_BN2, GENREP__GA_R2,
    GENREP__GA_CONV, GENREP__GA_OUT,
    GENREP__GA_MEAN0, GENREP__GA_RSTD0, GENREP__GA_MEAN1, GENREP__GA_RSTD1, GENREP__GA_MEAN2, GENREP__GA_RSTD2,
    GENREP__GA_N
};
#define GENREP__GAN_PIX 784  /* 28*28 */

/* Channels and spatial size of batchnorm i of a generator (7, 14, 28). */
static void genrep__gen_bn_dims(const genrep_gan_config *c, int i, int *C, int *HW) {
    static const int side[3] = {7, 14, 28};
    *C = c->width * (4 >> i);
    *HW = side[i] * side[i];
}

GENREP_API double genrep_gen_macs(const genrep_gan_config *c) {
    double c0 = 4.0 * c->width, c1 = 2.0 * c->width, c2 = c->width;
    double macs = (double)c->zdim * c0 * 49    /* fc */
                + c0 * c1 * 16 * 49            /* up1: every input pixel scatters a 4x4 patch */
                + c1 * c2 * 16 * 196           /* up2 */
                + c2 * 9 * GENREP__GAN_PIX;    /* out conv */
    if (c->kind == GENREP_GAN_CGAN) macs += 2.0 * c->embed_dim * (c0 + c1 + c2);
    return macs;
}

static void genrep__gen_layout(genrep_gen *g) {
    const genrep_gan_config *c = &g->cfg;
    int cg = c->kind == GENREP_GAN_CGAN, Z = c->zdim, E = c->embed_dim;
    int C0 = 4 * c->width, C1 = 2 * c->width, C2 = c->width;
    genrep_param_info *t = g->table;
    int *n = &g->n_tensors;
    size_t tot = 0;
    *n = 0;
    for (int i = 0; i < GENREP_GAN_MAX_TENSORS; i++) g->poff[i] = (size_t)-1;
    if (cg) g->poff[GENREP__G_EMBED] = genrep__gan_add(t, n, &tot, "embed.weight", 0, 2, c->n_classes, E, 0, 0);
    /* fc output (4ch*49) is viewed as (4ch, 7, 7), as PyTorch's .view(B, 4ch, 7, 7) */
    g->poff[GENREP__G_FC] = genrep__gan_add(t, n, &tot, "fc.weight", 0, 2, (int64_t)C0 * 49, Z, 0, 0);
    for (int i = 0; i < 3; i++) {
        int C, HW;
        genrep__gen_bn_dims(c, i, &C, &HW);
        int base = i == 0 ? GENREP__G_BN0 : i == 1 ? GENREP__G_BN1 : GENREP__G_BN2;
        char nm[48];
        if (cg) {
            snprintf(nm, sizeof nm, "bn%d.gain.weight", i); g->poff[base + 0] = genrep__gan_add(t, n, &tot, nm, 0, 2, C, E, 0, 0);
            snprintf(nm, sizeof nm, "bn%d.gain.bias", i);   g->poff[base + 1] = genrep__gan_add(t, n, &tot, nm, 0, 1, C, 0, 0, 0);
            snprintf(nm, sizeof nm, "bn%d.bias.weight", i); g->poff[base + 2] = genrep__gan_add(t, n, &tot, nm, 0, 2, C, E, 0, 0);
            snprintf(nm, sizeof nm, "bn%d.bias.bias", i);   g->poff[base + 3] = genrep__gan_add(t, n, &tot, nm, 0, 1, C, 0, 0, 0);
        } else {
            snprintf(nm, sizeof nm, "bn%d.weight", i); g->poff[base + 0] = genrep__gan_add(t, n, &tot, nm, 0, 1, C, 0, 0, 0);
            snprintf(nm, sizeof nm, "bn%d.bias", i);   g->poff[base + 1] = genrep__gan_add(t, n, &tot, nm, 0, 1, C, 0, 0, 0);
        }
        snprintf(nm, sizeof nm, "bn%d.running_mean", i); g->poff[base + 4] = genrep__gan_add(t, n, &tot, nm, 1, 1, C, 0, 0, 0);
        snprintf(nm, sizeof nm, "bn%d.running_var", i);  g->poff[base + 5] = genrep__gan_add(t, n, &tot, nm, 1, 1, C, 0, 0, 0);
        if (i == 0) g->poff[GENREP__G_UP1] = genrep__gan_add(t, n, &tot, "up1.weight", 0, 4, C0, C1, 4, 4);
        if (i == 1) g->poff[GENREP__G_UP2] = genrep__gan_add(t, n, &tot, "up2.weight", 0, 4, C1, C2, 4, 4);
    }
    g->poff[GENREP__G_OUTW] = genrep__gan_add(t, n, &tot, "out.weight", 0, 4, 1, C2, 3, 3);
    g->poff[GENREP__G_OUTB] = genrep__gan_add(t, n, &tot, "out.bias", 0, 1, 1, 0, 0, 0);
    g->n_params = (tot + 15) & ~(size_t)15;

    /* activations: per-batch rows of each role, then the per-channel stats */
    size_t B = (size_t)g->max_batch, a = 0;
    size_t rows[GENREP__GA_N] = {0};
    if (cg) {
        rows[GENREP__GA_EMB] = (size_t)E;
        rows[GENREP__GA_GAIN0] = rows[GENREP__GA_BIAS0] = (size_t)C0;
        rows[GENREP__GA_GAIN1] = rows[GENREP__GA_BIAS1] = (size_t)C1;
        rows[GENREP__GA_GAIN2] = rows[GENREP__GA_BIAS2] = (size_t)C2;
    }
    rows[GENREP__GA_FC] = rows[GENREP__GA_BN0] = rows[GENREP__GA_R0] = (size_t)C0 * 49;
    rows[GENREP__GA_UP1] = rows[GENREP__GA_BN1] = rows[GENREP__GA_R1] = (size_t)C1 * 196;
    rows[GENREP__GA_UP2] = rows[GENREP__GA_BN2] = rows[GENREP__GA_R2] = (size_t)C2 * GENREP__GAN_PIX;
    rows[GENREP__GA_CONV] = rows[GENREP__GA_OUT] = GENREP__GAN_PIX;
    for (int r = 0; r < GENREP__GA_N; r++) {
        size_t len = r >= GENREP__GA_MEAN0 ? (size_t)(r < GENREP__GA_MEAN1 ? C0 : r < GENREP__GA_MEAN2 ? C1 : C2)
                                           : rows[r] * B;
        g->aoff[r] = a;
        a = (a + len + 15) & ~(size_t)15;
    }
    g->n_acts = a;

    /* conv workspace: the largest any of the three convolutions needs at max_batch */
    genrep_convt2d_desc d1, d2;
    genrep_conv2d_desc d3;
    genrep_convt2d_init(&d1, g->max_batch, C0, 7, 7, C1, 4, 4, 2, 1, 0);
    genrep_convt2d_init(&d2, g->max_batch, C1, 14, 14, C2, 4, 4, 2, 1, 0);
    genrep_conv2d_init(&d3, g->max_batch, C2, 28, 28, 1, 3, 3, 1, 1);
    size_t w1 = genrep_convt2d_workspace(&d1), w2 = genrep_convt2d_workspace(&d2), w3 = genrep_conv2d_workspace(&d3);
    g->n_ws = w1 > w2 ? w1 : w2;
    if (w3 > g->n_ws) g->n_ws = w3;
}

GENREP_API void genrep_gen_init(genrep_gen *g, uint64_t seed) {
    memset(g->params, 0, g->n_params * sizeof(float));
    genrep__gan_init_table(g->params, g->table, g->n_tensors, seed);
}

GENREP_API void genrep_gen_zero_grad(genrep_gen *g) { memset(g->grads, 0, g->n_params * sizeof(float)); }

GENREP_API genrep_status genrep_gen_create(genrep_gen *g, const genrep_gan_config *cfg, int max_batch,
                                           uint64_t seed) {
    GENREP__CHECK_PTR(g);
    memset(g, 0, sizeof *g);
    genrep_status st = genrep__gan_check_config(__func__, cfg, max_batch);
    if (st) return st;
    g->cfg = *cfg;
    g->max_batch = max_batch;
    genrep__gen_layout(g);
    g->params = (float *)genrep_alloc(g->n_params * sizeof(float));
    g->grads = (float *)genrep_alloc(g->n_params * sizeof(float));
    g->acts = (float *)genrep_alloc(g->n_acts * sizeof(float));
    g->dacts = (float *)genrep_alloc(g->n_acts * sizeof(float));
    g->ws = (float *)genrep_alloc((g->n_ws ? g->n_ws : 1) * sizeof(float));
    if (!g->params || !g->grads || !g->acts || !g->dacts || !g->ws) {
        size_t need = (2 * g->n_params + 2 * g->n_acts + g->n_ws) * sizeof(float);
        genrep_gen_free(g);
        return genrep__fail(GENREP_ERR_NOMEM, "%s: cannot allocate %zu bytes (max_batch %d)", __func__, need, max_batch);
    }
    memset(g->acts, 0, g->n_acts * sizeof(float));
    genrep_gen_zero_grad(g);
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
    int cg = c->kind == GENREP_GAN_CGAN, E = c->embed_dim;
    if (cg) GENREP__GAN_TRY(genrep__gan_check_labels(__func__, y, B, c->n_classes));
    float *P = g->params, *A = g->acts;
    int C0 = 4 * c->width, C2 = c->width;
    const int bnbase[3] = {GENREP__G_BN0, GENREP__G_BN1, GENREP__G_BN2};
    const int ins[3] = {GENREP__GA_FC, GENREP__GA_UP1, GENREP__GA_UP2};
    g->last_B = B; g->last_training = training; g->last_z = z; g->last_y = cg ? y : NULL;

    /* class conditioning: e = embed[y]; per batchnorm gain, bias (B,C) = linear(e) */
    if (cg) {
        float *e = A + g->aoff[GENREP__GA_EMB];
        GENREP__GAN_TRY(genrep_embedding_forward(e, y, P + g->poff[GENREP__G_EMBED], B, c->n_classes, E));
        for (int i = 0; i < 3; i++) {
            int C, HW, pb = bnbase[i];
            genrep__gen_bn_dims(c, i, &C, &HW);
            GENREP__GAN_TRY(genrep_linear_forward(A + g->aoff[GENREP__GA_GAIN0 + 2 * i], e, P + g->poff[pb + 0],
                                                  P + g->poff[pb + 1], B, E, C));
            GENREP__GAN_TRY(genrep_linear_forward(A + g->aoff[GENREP__GA_BIAS0 + 2 * i], e, P + g->poff[pb + 2],
                                                  P + g->poff[pb + 3], B, E, C));
        }
    }
    /* fc: (B,Z) -> (B, C0*49) = (B, C0, 7, 7) */
    GENREP__GAN_TRY(genrep_linear_forward(A + g->aoff[GENREP__GA_FC], z, P + g->poff[GENREP__G_FC], NULL, B, c->zdim, C0 * 49));
    for (int i = 0; i < 3; i++) {
        int C, HW, pb = bnbase[i];
        genrep__gen_bn_dims(c, i, &C, &HW);
        float *x = A + g->aoff[ins[i]], *bn = A + g->aoff[ins[i] + 1], *r = A + g->aoff[ins[i] + 2];
        float *mean = A + g->aoff[GENREP__GA_MEAN0 + 2 * i], *rstd = A + g->aoff[GENREP__GA_RSTD0 + 2 * i];
        float *rm = P + g->poff[pb + 4], *rv = P + g->poff[pb + 5];
        if (cg)
            GENREP__GAN_TRY(genrep_condbn_forward(bn, mean, rstd, rm, rv, x, A + g->aoff[GENREP__GA_GAIN0 + 2 * i],
                                                  A + g->aoff[GENREP__GA_BIAS0 + 2 * i], B, C, HW,
                                                  GENREP__GAN_BN_EPS, GENREP__GAN_BN_MOMENTUM, training));
        else
            GENREP__GAN_TRY(genrep_batchnorm_forward(bn, mean, rstd, rm, rv, x, P + g->poff[pb + 0], P + g->poff[pb + 1],
                                                     B, C, HW, GENREP__GAN_BN_EPS, GENREP__GAN_BN_MOMENTUM, training));
        GENREP__GAN_TRY(genrep_relu_forward(r, bn, (size_t)B * C * HW));
        if (i == 0 || i == 1) {
            /* upsample x2: (B,C,s,s) -> (B,C/2,2s,2s) */
            genrep_convt2d_desc d;
            int s = i == 0 ? 7 : 14;
            GENREP__GAN_TRY(genrep_convt2d_init(&d, B, C, s, s, C / 2, 4, 4, 2, 1, 0));
            GENREP_ASSERT(genrep_convt2d_workspace(&d) <= g->n_ws);
            GENREP__GAN_TRY(genrep_convt2d_forward(A + g->aoff[ins[i + 1]], g->ws, r,
                                                   P + g->poff[i == 0 ? GENREP__G_UP1 : GENREP__G_UP2], NULL, &d));
        }
    }
    genrep_conv2d_desc d;
    GENREP__GAN_TRY(genrep_conv2d_init(&d, B, C2, 28, 28, 1, 3, 3, 1, 1));
    GENREP_ASSERT(genrep_conv2d_workspace(&d) <= g->n_ws);
    GENREP__GAN_TRY(genrep_conv2d_forward(A + g->aoff[GENREP__GA_CONV], g->ws, A + g->aoff[GENREP__GA_R2],
                                          P + g->poff[GENREP__G_OUTW], P + g->poff[GENREP__G_OUTB], &d));
    GENREP__GAN_TRY(genrep_tanh_forward(A + g->aoff[GENREP__GA_OUT], A + g->aoff[GENREP__GA_CONV], (size_t)B * GENREP__GAN_PIX));
    return GENREP_OK;
}

GENREP_API genrep_status genrep_gen_backward(genrep_gen *g, float *dz, const float *dout) {
    GENREP__CHECK_PTR(g);
    GENREP__CHECK_PTR(dout);
    int B = g->last_B, tr = g->last_training;
    if (B <= 0) return genrep__fail(GENREP_ERR_ARG, "%s: no forward pass to differentiate", __func__);
    const genrep_gan_config *c = &g->cfg;
    int cg = c->kind == GENREP_GAN_CGAN, E = c->embed_dim;
    float *P = g->params, *G = g->grads, *A = g->acts, *D = g->dacts;
    int C0 = 4 * c->width, C2 = c->width;
    const int bnbase[3] = {GENREP__G_BN0, GENREP__G_BN1, GENREP__G_BN2};
    const int ins[3] = {GENREP__GA_FC, GENREP__GA_UP1, GENREP__GA_UP2};
    /* every layer backward accumulates, so start the activation gradients at 0 */
    memset(D, 0, g->aoff[GENREP__GA_MEAN0] * sizeof(float));

    GENREP__GAN_TRY(genrep_tanh_backward(D + g->aoff[GENREP__GA_CONV], dout, A + g->aoff[GENREP__GA_OUT],
                                         (size_t)B * GENREP__GAN_PIX));
    genrep_conv2d_desc d;
    GENREP__GAN_TRY(genrep_conv2d_init(&d, B, C2, 28, 28, 1, 3, 3, 1, 1));
    GENREP__GAN_TRY(genrep_conv2d_backward(D + g->aoff[GENREP__GA_R2], G + g->poff[GENREP__G_OUTW],
                                           G + g->poff[GENREP__G_OUTB], g->ws, D + g->aoff[GENREP__GA_CONV],
                                           A + g->aoff[GENREP__GA_R2], P + g->poff[GENREP__G_OUTW], &d));
    for (int i = 2; i >= 0; i--) {
        int C, HW, pb = bnbase[i];
        genrep__gen_bn_dims(c, i, &C, &HW);
        if (i < 2) {
            genrep_convt2d_desc dt;
            int s = i == 0 ? 7 : 14, wi = i == 0 ? GENREP__G_UP1 : GENREP__G_UP2;
            GENREP__GAN_TRY(genrep_convt2d_init(&dt, B, C, s, s, C / 2, 4, 4, 2, 1, 0));
            GENREP__GAN_TRY(genrep_convt2d_backward(D + g->aoff[ins[i] + 2], G + g->poff[wi], NULL, g->ws,
                                                    D + g->aoff[ins[i + 1]], A + g->aoff[ins[i] + 2], P + g->poff[wi], &dt));
        }
        size_t n = (size_t)B * C * HW;
        GENREP__GAN_TRY(genrep_relu_backward(D + g->aoff[ins[i] + 1], D + g->aoff[ins[i] + 2], A + g->aoff[ins[i] + 1], n));
        const float *mean = A + g->aoff[GENREP__GA_MEAN0 + 2 * i], *rstd = A + g->aoff[GENREP__GA_RSTD0 + 2 * i];
        if (cg)
            GENREP__GAN_TRY(genrep_condbn_backward(D + g->aoff[ins[i]], D + g->aoff[GENREP__GA_GAIN0 + 2 * i],
                                                   D + g->aoff[GENREP__GA_BIAS0 + 2 * i], D + g->aoff[ins[i] + 1],
                                                   A + g->aoff[ins[i]], A + g->aoff[GENREP__GA_GAIN0 + 2 * i],
                                                   mean, rstd, B, C, HW, tr));
        else
            GENREP__GAN_TRY(genrep_batchnorm_backward(D + g->aoff[ins[i]], G + g->poff[pb + 0], G + g->poff[pb + 1],
                                                      D + g->aoff[ins[i] + 1], A + g->aoff[ins[i]], P + g->poff[pb + 0],
                                                      mean, rstd, B, C, HW, tr));
    }
    GENREP__GAN_TRY(genrep_linear_backward(dz, G + g->poff[GENREP__G_FC], NULL, D + g->aoff[GENREP__GA_FC], g->last_z,
                                           P + g->poff[GENREP__G_FC], B, c->zdim, C0 * 49));
    if (cg) {
        float *e = A + g->aoff[GENREP__GA_EMB], *de = D + g->aoff[GENREP__GA_EMB];
        for (int i = 0; i < 3; i++) {
            int C, HW, pb = bnbase[i];
            genrep__gen_bn_dims(c, i, &C, &HW);
            GENREP__GAN_TRY(genrep_linear_backward(de, G + g->poff[pb + 0], G + g->poff[pb + 1],
                                                   D + g->aoff[GENREP__GA_GAIN0 + 2 * i], e, P + g->poff[pb + 0], B, E, C));
            GENREP__GAN_TRY(genrep_linear_backward(de, G + g->poff[pb + 2], G + g->poff[pb + 3],
                                                   D + g->aoff[GENREP__GA_BIAS0 + 2 * i], e, P + g->poff[pb + 2], B, E, C));
        }
        GENREP__GAN_TRY(genrep_embedding_backward(G + g->poff[GENREP__G_EMBED], de, g->last_y, B, c->n_classes, E));
    }
    return GENREP_OK;
}

GENREP_API genrep_status genrep_gen_render(genrep_gen *g, float *out, const float *z, const int32_t *y, int B) {
    GENREP__CHECK_PTR(g);
    GENREP__CHECK_PTR(out);
    GENREP__CHECK_PTR(z);
    GENREP__CHECK_NONNEG(B);
    for (int b0 = 0; b0 < B; b0 += g->max_batch) {
        int nb = B - b0 < g->max_batch ? B - b0 : g->max_batch;
        GENREP__GAN_TRY(genrep_gen_forward(g, z + (size_t)b0 * g->cfg.zdim, y ? y + b0 : NULL, nb, 0));
        memcpy(out + (size_t)b0 * GENREP__GAN_PIX, genrep_gen_output(g), (size_t)nb * GENREP__GAN_PIX * sizeof(float));
    }
    g->last_B = 0; /* z, y were only borrowed: nothing to differentiate */
    return GENREP_OK;
}

/* ---- discriminator layout ---- */
enum { GENREP__D_C1W = 0, GENREP__D_C1B, GENREP__D_C2W, GENREP__D_C2B, GENREP__D_FCW, GENREP__D_FCB, GENREP__D_EMBED };
enum { GENREP__DA_C1 = 0, GENREP__DA_L1, GENREP__DA_C2, GENREP__DA_L2, GENREP__DA_EMB, GENREP__DA_DL, GENREP__DA_N };

static void genrep__disc_layout(genrep_disc *d) {
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
    genrep_conv2d_init(&d1, d->max_batch, 1, 28, 28, D1, 4, 4, 2, 1);
    genrep_conv2d_init(&d2, d->max_batch, D1, 14, 14, D2, 4, 4, 2, 1);
    size_t w1 = genrep_conv2d_workspace(&d1), w2 = genrep_conv2d_workspace(&d2);
    d->n_ws = w1 > w2 ? w1 : w2;
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
    d->cfg = *cfg;
    d->max_batch = max_batch;
    genrep__disc_layout(d);
    d->params = (float *)genrep_alloc(d->n_params * sizeof(float));
    d->grads = (float *)genrep_alloc(d->n_params * sizeof(float));
    d->acts = (float *)genrep_alloc(d->n_acts * sizeof(float));
    d->dacts = (float *)genrep_alloc(d->n_acts * sizeof(float));
    d->ws = (float *)genrep_alloc((d->n_ws ? d->n_ws : 1) * sizeof(float));
    if (!d->params || !d->grads || !d->acts || !d->dacts || !d->ws) {
        size_t need = (2 * d->n_params + 2 * d->n_acts + d->n_ws) * sizeof(float);
        genrep_disc_free(d);
        return genrep__fail(GENREP_ERR_NOMEM, "%s: cannot allocate %zu bytes (max_batch %d)", __func__, need, max_batch);
    }
    memset(d->acts, 0, d->n_acts * sizeof(float));
    genrep_disc_zero_grad(d);
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

GENREP_API genrep_status genrep_gen_save(const genrep_gen *g, const char *path,
                                         const char *const *extra_kv, int n_extra) {
    GENREP__CHECK_PTR(g); GENREP__CHECK_PTR(path); GENREP__CHECK_NONNEG(n_extra);
    if (n_extra > 0 && !extra_kv) return genrep__fail(GENREP_ERR_ARG, "genrep_gen_save: extra_kv is NULL");
    if (n_extra > 32) return genrep__fail(GENREP_ERR_ARG, "genrep_gen_save: at most 32 extra metadata pairs");
    const genrep_gan_config *c = &g->cfg;
    char vals[GENREP__GAN_META_N][32];
    const char *kv[2 * (GENREP__GAN_META_N + 32)];
    static const char *keys[GENREP__GAN_META_N] = {"genrep.model", "genrep.zdim", "genrep.width",
                                                   "genrep.dwidth", "genrep.n_classes", "genrep.embed_dim"};
    snprintf(vals[0], 32, "%s", c->kind == GENREP_GAN_CGAN ? "cgan" : "dcgan");
    snprintf(vals[1], 32, "%d", c->zdim);
    snprintf(vals[2], 32, "%d", c->width);
    snprintf(vals[3], 32, "%d", c->dwidth);
    snprintf(vals[4], 32, "%d", c->n_classes);
    snprintf(vals[5], 32, "%d", c->embed_dim);
    for (int i = 0; i < GENREP__GAN_META_N; i++) { kv[2 * i] = keys[i]; kv[2 * i + 1] = vals[i]; }
    for (int i = 0; i < 2 * n_extra; i++) kv[2 * GENREP__GAN_META_N + i] = extra_kv[i];
    genrep_st_entry e[GENREP_GAN_MAX_TENSORS];
    memset(e, 0, sizeof e);
    for (int i = 0; i < g->n_tensors; i++) {
        e[i].name = g->table[i].name;
        e[i].ndim = g->table[i].ndim;
        for (int d = 0; d < g->table[i].ndim; d++) e[i].shape[d] = g->table[i].shape[d];
        e[i].data = g->params + g->table[i].offset;
    }
    return genrep_st_write(path, e, g->n_tensors, kv, GENREP__GAN_META_N + n_extra);
}

static genrep_status genrep__gen_meta_int(const genrep_st *st, const char *path, const char *key, int *out) {
    const char *v = genrep_st_meta(st, key);
    long x = 0;
    int ok = v && *v;
    for (const char *p = v; ok && *p; p++) {
        if (*p < '0' || *p > '9' || x > (1L << 24)) ok = 0;
        else x = x * 10 + (*p - '0');
    }
    if (!ok || x <= 0)
        return genrep__fail(GENREP_ERR_FORMAT, "generator '%s': metadata %s is %s%s%s, expected a positive integer",
                            path, key, v ? "'" : "missing", v ? v : "", v ? "'" : "");
    *out = (int)x;
    return GENREP_OK;
}

GENREP_API genrep_status genrep_gen_load(genrep_gen *g, const char *path, int max_batch) {
    GENREP__CHECK_PTR(g); GENREP__CHECK_PTR(path);
    genrep_st *st;
    genrep_status s = genrep_st_open(&st, path, 0);
    if (s) return s;
    const char *m = genrep_st_meta(st, "genrep.model");
    genrep_gan_config c;
    if (!m || (strcmp(m, "dcgan") && strcmp(m, "cgan"))) {
        s = genrep__fail(GENREP_ERR_FORMAT, "generator '%s': metadata genrep.model is %s%s%s, expected dcgan or cgan "
                         "(is this a generator weights file?)", path, m ? "'" : "missing", m ? m : "", m ? "'" : "");
    } else {
        genrep_gan_config_default(&c, !strcmp(m, "cgan") ? GENREP_GAN_CGAN : GENREP_GAN_DCGAN);
        s = genrep__gen_meta_int(st, path, "genrep.zdim", &c.zdim);
        if (!s) s = genrep__gen_meta_int(st, path, "genrep.width", &c.width);
        if (!s) s = genrep__gen_meta_int(st, path, "genrep.dwidth", &c.dwidth);
        if (!s) s = genrep__gen_meta_int(st, path, "genrep.n_classes", &c.n_classes);
        if (!s) s = genrep__gen_meta_int(st, path, "genrep.embed_dim", &c.embed_dim);
    }
    if (!s) s = genrep_gen_create(g, &c, max_batch, 0);
    if (s) { genrep_st_close(st); return s; }
    genrep_st_spec spec[GENREP_GAN_MAX_TENSORS];
    memset(spec, 0, sizeof spec);
    for (int i = 0; i < g->n_tensors; i++) {
        spec[i].name = g->table[i].name;
        spec[i].ndim = g->table[i].ndim;
        for (int d = 0; d < g->table[i].ndim; d++) spec[i].shape[d] = g->table[i].shape[d];
    }
    s = genrep_st_expect(st, spec, g->n_tensors);
    for (int i = 0; !s && i < g->n_tensors; i++) {
        const genrep_st_tensor *x = genrep_st_find(st, g->table[i].name);
        memcpy(g->params + g->table[i].offset, x->data, g->table[i].numel * sizeof(float));
    }
    genrep_st_close(st);
    if (s) genrep_gen_free(g);
    return s;
}
