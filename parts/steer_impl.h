/* parts/steer_impl.h: development fragment of genrep.h (implementation), inlined before release */

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
