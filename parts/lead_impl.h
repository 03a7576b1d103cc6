/* parts/lead_impl.h: development fragment of genrep.h (implementation), inlined before release */

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
    if (view < 1 || view > 61) return genrep__fail(GENREP_ERR_ARG, "genrep_latent_view: view must be 1..61, got %d", view);
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
    cfg->epochs = 30; cfg->lr = 1e-3f; cfg->weight_decay = 1e-5f; cfg->batch = 256; cfg->seed = 0;
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
        genrep_linear_forward(logits, xb, W, bias, nb, D, V);
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
        genrep_sgemm(0, 1, nb, ntr, D, 1.0f, te, D, tr, D, 0.0f, sim, ntr);
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
