/* trainer/cmd_gan_eval.c: `genrep gan-eval`, the quality figures of the
   generators, measured with a classifier the project trains on real
   Fashion-MNIST (no pretrained Inception network exists here):
     (a) class-conditional generators: the classifier's accuracy on samples
         against the conditioning label, per class;
     (b) any generator: the Frechet distance between the classifier's
         features of real test images and of N generated images (FID's
         formula in this feature space), next to the floor: the same
         distance between 10,000 real train images and real test.
   `genrep gan-eval --train-classifier` trains the classifier: a small ResNet
   (genrep_encoder, no projection head) plus a linear layer, softmax
   cross-entropy, Adam with a cosine schedule; its real test accuracy goes
   into the file's metadata. Images enter the classifier in [-1, 1], the
   generators' range ((x - 0.5) / 0.5 for real data). */
#include "common.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_CLASSES 10
#define EVAL_PIX 784
#define EVAL_CHUNK 250   /* images per forward when scoring */
#define EVAL_FLOOR_N 10000
#define EVAL_DEFAULT_CLASSIFIER "weights/fmnist_classifier.safetensors"
#define EVAL_MAX_GENS 8

static void usage(FILE *f) {
    fprintf(f,
        "usage: genrep gan-eval --gen WEIGHTS [--gen WEIGHTS ...] [flags]\n"
        "       genrep gan-eval --train-classifier [--out FILE.safetensors] [flags]\n"
        "scoring:\n"
        "  --gen FILE        generator weights (dcgan or cgan); repeat to score several\n"
        "  --classifier FILE the classifier (default " EVAL_DEFAULT_CLASSIFIER ")\n"
        "  --n N             generated images per generator (default 10000)\n"
        "  --out FILE.csv    write the table as CSV (one row per source)\n"
        "  --seed S          latent seed (default 0); z ~ N(0, I), cgan labels y = i mod 10\n"
        "training the classifier:\n"
        "  --train-classifier  train it on Fashion-MNIST train; --out is the weights file\n"
        "                    (default " EVAL_DEFAULT_CLASSIFIER ")\n"
        "  --epochs E (4)  --batch B (128)  --lr (2e-3)  --train-n N (60000)  --seed S (0)\n"
        "common:\n"
        "  --data-dir DIR    Fashion-MNIST files (default $GENREP_FMNIST_DIR or Debian's path)\n"
        "  --threads T\n"
        "Without --gen (and without --train-classifier) only the real floor is computed.\n");
}

/* ---- the classifier: encoder (no head) + linear (10, F) ---- */

typedef struct {
    genrep_encoder enc;
    float *w, *b;            /* fc.weight (10, F), fc.bias (10): one slab */
    float *logits, *probs;   /* (max_batch, 10) */
    int    F;
    float  test_acc;         /* recorded in the file (-1 if absent) */
} classifier;

/* The architecture, written into the file's metadata so loading needs no
   code change if it is retuned: 28x28x1, stem 16, stages 32/64 of one
   basic block each with stride 2 (28 -> 14 -> 7), 64 pooled features. */
static void classifier_config(genrep_encoder_config *c) {
    genrep_encoder_config_small(c, 1, 28, 28);
    c->stem_width = 16;
    c->num_stages = 2;
    c->widths[0] = 32; c->widths[1] = 64;
    c->blocks[0] = 1;  c->blocks[1] = 1;
    c->strides[0] = 2; c->strides[1] = 2;
    c->head_out = 0; c->head_hidden = 0;
}

static int parse_list(const char *s, int *v, int n) {
    for (int i = 0; i < n; i++) {
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s || x <= 0 || x > 4096) return -1;
        v[i] = (int)x;
        s = end;
        if (i + 1 < n) { if (*s != ',') return -1; s++; }
    }
    return *s ? -1 : 0;
}

static int classifier_alloc(classifier *c, const genrep_encoder_config *ec, int max_batch, uint64_t seed) {
    genrep_status s = genrep_encoder_create(&c->enc, ec, max_batch, seed);
    if (s) { report_status("gan-eval", "classifier", s); return -1; }
    c->F = c->enc.feat_dim;
    c->w = (float *)calloc((size_t)EVAL_CLASSES * (c->F + 1), sizeof(float));
    c->b = c->w + (size_t)EVAL_CLASSES * c->F;
    c->logits = (float *)malloc(sizeof(float) * (size_t)max_batch * EVAL_CLASSES);
    c->probs = (float *)malloc(sizeof(float) * (size_t)max_batch * EVAL_CLASSES);
    c->test_acc = -1;
    return 0;
}

static void classifier_free(classifier *c) {
    genrep_encoder_free(&c->enc);
    free(c->w); free(c->logits); free(c->probs);
}

static int classifier_load(classifier *c, const char *path, int max_batch) {
    genrep_st *st;
    genrep_status s = genrep_st_open(&st, path, 0);
    if (s) {
        report_status("gan-eval", path, s);
        fprintf(stderr, "genrep gan-eval: train one with: genrep gan-eval --train-classifier --out %s\n", path);
        return -1;
    }
    const char *kind = genrep_st_meta(st, "genrep.classifier"), *stem = genrep_st_meta(st, "genrep.stem");
    const char *wid = genrep_st_meta(st, "genrep.widths"), *blk = genrep_st_meta(st, "genrep.blocks");
    const char *str = genrep_st_meta(st, "genrep.strides"), *acc = genrep_st_meta(st, "genrep.test_acc");
    genrep_encoder_config ec;
    classifier_config(&ec);
    int ns = 0;
    if (wid) { ns = 1; for (const char *p = wid; *p; p++) ns += *p == ','; }
    if (!kind || strcmp(kind, "resnet") || !stem || !wid || !blk || !str || ns < 1 || ns > GENREP_ENCODER_MAX_STAGES
        || parse_list(stem, &ec.stem_width, 1) || parse_list(wid, ec.widths, ns) || parse_list(blk, ec.blocks, ns)
        || parse_list(str, ec.strides, ns)) {
        fprintf(stderr, "genrep gan-eval: %s: not a gan-eval classifier (metadata genrep.classifier/stem/"
                "widths/blocks/strides missing or invalid); train one with --train-classifier\n", path);
        genrep_st_close(st);
        return -1;
    }
    ec.num_stages = ns;
    if (classifier_alloc(c, &ec, max_batch, 0)) { genrep_st_close(st); return -1; }
    /* exactly the encoder's tensors plus fc.weight / fc.bias, shapes checked */
    int n = c->enc.num_tensors + 2;
    genrep_st_spec *spec = (genrep_st_spec *)calloc((size_t)n, sizeof *spec);
    for (int i = 0; i < c->enc.num_tensors; i++) {
        const genrep_param_info *t = &c->enc.tensors[i];
        spec[i].name = t->name; spec[i].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) spec[i].shape[d] = t->shape[d];
    }
    spec[n - 2].name = "fc.weight"; spec[n - 2].ndim = 2; spec[n - 2].shape[0] = EVAL_CLASSES; spec[n - 2].shape[1] = c->F;
    spec[n - 1].name = "fc.bias"; spec[n - 1].ndim = 1; spec[n - 1].shape[0] = EVAL_CLASSES;
    s = genrep_st_expect(st, spec, n);
    if (s) {
        report_status("gan-eval", path, s);
        free(spec); classifier_free(c); genrep_st_close(st);
        return -1;
    }
    for (int i = 0; i < c->enc.num_tensors; i++) {
        const genrep_param_info *t = &c->enc.tensors[i];
        memcpy(c->enc.params + t->offset, genrep_st_find(st, t->name)->data, t->numel * sizeof(float));
    }
    memcpy(c->w, genrep_st_find(st, "fc.weight")->data, sizeof(float) * EVAL_CLASSES * (size_t)c->F);
    memcpy(c->b, genrep_st_find(st, "fc.bias")->data, sizeof(float) * EVAL_CLASSES);
    if (acc) c->test_acc = (float)atof(acc);
    free(spec);
    genrep_st_close(st);
    return 0;
}

/* Eval-mode features (n, F) and predicted classes (n) of images in [-1, 1]. */
static int classify(classifier *c, float *feats, int32_t *pred, const float *x, int n) {
    for (int i0 = 0; i0 < n; i0 += c->enc.max_batch) {
        int nb = n - i0 < c->enc.max_batch ? n - i0 : c->enc.max_batch;
        genrep_status s = genrep_encoder_forward(&c->enc, x + (size_t)i0 * EVAL_PIX, nb, 0);
        if (!s) s = genrep_linear_forward(c->logits, c->enc.features, c->w, c->b, nb, c->F, EVAL_CLASSES);
        if (s) { report_status("gan-eval", "classifier forward", s); return -1; }
        if (feats) memcpy(feats + (size_t)i0 * c->F, c->enc.features, sizeof(float) * (size_t)nb * c->F);
        for (int b = 0; b < nb; b++) {
            const float *l = c->logits + (size_t)b * EVAL_CLASSES;
            int best = 0;
            for (int k = 1; k < EVAL_CLASSES; k++) if (l[k] > l[best]) best = k;
            pred[i0 + b] = best;
        }
    }
    c->enc.last_n = 0;
    return 0;
}

/* Real images of a split, first n, scaled to [-1, 1]. */
static float *to_pm1(const genrep_dataset *d, int n) {
    float *x = (float *)malloc(sizeof(float) * (size_t)n * EVAL_PIX);
    for (size_t i = 0; i < (size_t)n * EVAL_PIX; i++) x[i] = 2.0f * d->images[i] - 1.0f;
    return x;
}

/* accuracy overall and per class of pred against labels */
static float accuracy(float per[EVAL_CLASSES], const int32_t *pred, const int32_t *y, int n) {
    int hit[EVAL_CLASSES] = {0}, tot[EVAL_CLASSES] = {0}, all = 0;
    for (int i = 0; i < n; i++) {
        tot[y[i]]++;
        if (pred[i] == y[i]) { hit[y[i]]++; all++; }
    }
    for (int k = 0; k < EVAL_CLASSES; k++) per[k] = tot[k] ? (float)hit[k] / tot[k] : NAN;
    return (float)all / n;
}

static int train_classifier(const char *out, const char *data_dir, int epochs, int batch, float lr, int train_n,
                            uint64_t seed, int argc, char **argv) {
    const char *C = "gan-eval";
    genrep_dataset tr, te;
    genrep_status s;
    if ((s = genrep_fmnist_load(&tr, data_dir, 1)) || (s = genrep_fmnist_load(&te, data_dir, 0))) {
        report_status(C, "loading Fashion-MNIST", s); return 1;
    }
    int n = train_n < tr.n ? train_n : (int)tr.n;
    genrep_encoder_config ec;
    classifier_config(&ec);
    classifier c;
    if (classifier_alloc(&c, &ec, batch, seed ^ 0xC1A55)) return 1;
    /* fc: PyTorch Linear init, U(+-1/sqrt(F)) */
    genrep_rng r;
    genrep_rng_init(&r, seed ^ 0xC1A55, 1);
    float bound = 1.0f / sqrtf((float)c.F);
    for (int i = 0; i < EVAL_CLASSES * (c.F + 1); i++) c.w[i] = bound * (2 * genrep_rng_uniform(&r) - 1);
    size_t nfc = (size_t)EVAL_CLASSES * (c.F + 1), np = c.enc.num_params;
    float *m = (float *)calloc(2 * (np + nfc), sizeof(float)), *v = m + np + nfc;
    float *gfc = (float *)calloc(nfc, sizeof(float)), *dfeat = (float *)malloc(sizeof(float) * (size_t)batch * c.F);
    float *dlog = (float *)malloc(sizeof(float) * (size_t)batch * EVAL_CLASSES);
    float *x = (float *)malloc(sizeof(float) * (size_t)batch * EVAL_PIX);
    int32_t *perm = (int32_t *)malloc(sizeof(int32_t) * (size_t)n), *y = (int32_t *)malloc(sizeof(int32_t) * (size_t)batch);
    genrep_adam_config ad = {lr, 0.9f, 0.999f, 1e-8f, 5e-4f, 1};
    int steps_per_epoch = n / batch;
    int64_t total = (int64_t)steps_per_epoch * epochs, step = 0;
    double t0 = now_seconds(), loss_acc = 0;
    int hits = 0, seen = 0;
    printf("gan-eval: training the classifier (%d params) on %d images, %d epochs of %d steps, batch %d\n",
           (int)(np + nfc), n, epochs, steps_per_epoch, batch);
    for (int ep = 0; ep < epochs; ep++) {
        genrep_rng pr;
        genrep_rng_init(&pr, seed ^ 0x5eedda7aull, (uint64_t)ep);
        for (int i = 0; i < n; i++) perm[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = (int)genrep_rng_below(&pr, (uint32_t)(i + 1));
            int32_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        }
        for (int it = 0; it < steps_per_epoch; it++, step++) {
            /* batch, random horizontal flips (the only augmentation) */
            for (int b = 0; b < batch; b++) {
                int idx = perm[it * batch + b];
                genrep_rng fr;
                genrep_rng_init(&fr, seed ^ 0xF11Full, (uint64_t)step * batch + b);
                int flip = genrep_rng_uniform(&fr) < 0.5f;
                const float *src = tr.images + (size_t)idx * EVAL_PIX;
                float *dst = x + (size_t)b * EVAL_PIX;
                for (int h = 0; h < 28; h++)
                    for (int w = 0; w < 28; w++) dst[h * 28 + w] = 2.0f * src[h * 28 + (flip ? 27 - w : w)] - 1.0f;
                y[b] = tr.labels[idx];
            }
            float loss;
            ad.lr = genrep_cosine_lr(lr, 0.0f, step, total / 50, total);
            if ((s = genrep_encoder_forward(&c.enc, x, batch, 1))
                || (s = genrep_linear_forward(c.logits, c.enc.features, c.w, c.b, batch, c.F, EVAL_CLASSES))
                || (s = genrep_softmax_xent_forward(&loss, c.probs, c.logits, y, batch, EVAL_CLASSES))) {
                report_status(C, "forward", s); return 1;
            }
            memset(dlog, 0, sizeof(float) * (size_t)batch * EVAL_CLASSES);
            memset(dfeat, 0, sizeof(float) * (size_t)batch * c.F);
            memset(gfc, 0, sizeof(float) * nfc);
            memset(c.enc.grads, 0, sizeof(float) * np);
            if ((s = genrep_softmax_xent_backward(dlog, c.probs, y, batch, EVAL_CLASSES, 1.0f))
                || (s = genrep_linear_backward(dfeat, gfc, gfc + (size_t)EVAL_CLASSES * c.F, dlog, c.enc.features,
                                               c.w, batch, c.F, EVAL_CLASSES))
                || (s = genrep_encoder_backward(&c.enc, NULL, dfeat))
                || (s = genrep_adam_step(c.enc.params, m, v, c.enc.grads, np, &ad, step + 1))
                || (s = genrep_adam_step(c.w, m + np, v + np, gfc, nfc, &ad, step + 1))) {
                report_status(C, "backward", s); return 1;
            }
            loss_acc += loss;
            for (int b = 0; b < batch; b++) {
                const float *p = c.probs + (size_t)b * EVAL_CLASSES;
                int best = 0;
                for (int k = 1; k < EVAL_CLASSES; k++) if (p[k] > p[best]) best = k;
                hits += best == y[b];
            }
            seen += batch;
            if ((step + 1) % 50 == 0 || step + 1 == total) {
                double el = now_seconds() - t0;
                char eta[32];
                format_eta(eta, sizeof eta, el / (double)(step + 1) * (double)(total - step - 1));
                printf("step %lld/%lld  epoch %d  loss %.4f  train acc %.2f%%  lr %.2e  %.0f img/s  ETA %s\n",
                       (long long)(step + 1), (long long)total, ep + 1, loss_acc / (seen / batch),
                       100.0 * hits / seen, ad.lr, (double)(step + 1) * batch / el, eta);
                fflush(stdout);
                loss_acc = 0; hits = 0; seen = 0;
            }
        }
    }
    double wall = now_seconds() - t0;
    /* real test accuracy, eval mode (needs a max_batch that fits any chunk) */
    float *xt = to_pm1(&te, (int)te.n);
    int32_t *pred = (int32_t *)malloc(sizeof(int32_t) * (size_t)te.n);
    if (classify(&c, NULL, pred, xt, (int)te.n)) return 1;
    float per[EVAL_CLASSES];
    float acc = accuracy(per, pred, te.labels, (int)te.n);
    printf("gan-eval: classifier real test accuracy %.2f%% (per class:", 100 * acc);
    for (int k = 0; k < EVAL_CLASSES; k++) printf(" %.1f", 100 * per[k]);
    printf("), trained in %.0f s\n", wall);
    /* save: encoder tensors, fc, metadata (architecture, accuracy, how it was made) */
    int nt = c.enc.num_tensors + 2;
    genrep_st_entry *en = (genrep_st_entry *)calloc((size_t)nt, sizeof *en);
    for (int i = 0; i < c.enc.num_tensors; i++) {
        const genrep_param_info *t = &c.enc.tensors[i];
        en[i].name = t->name; en[i].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) en[i].shape[d] = t->shape[d];
        en[i].data = c.enc.params + t->offset;
    }
    en[nt - 2].name = "fc.weight"; en[nt - 2].ndim = 2; en[nt - 2].shape[0] = EVAL_CLASSES; en[nt - 2].shape[1] = c.F;
    en[nt - 2].data = c.w;
    en[nt - 1].name = "fc.bias"; en[nt - 1].ndim = 1; en[nt - 1].shape[0] = EVAL_CLASSES; en[nt - 1].data = c.b;
    char stem[16], wid[64] = "", blk[64] = "", str[64] = "", accs[32], walls[32], cmd[1024] = "genrep";
    snprintf(stem, sizeof stem, "%d", ec.stem_width);
    for (int i = 0; i < ec.num_stages; i++) {
        snprintf(wid + strlen(wid), sizeof wid - strlen(wid), "%s%d", i ? "," : "", ec.widths[i]);
        snprintf(blk + strlen(blk), sizeof blk - strlen(blk), "%s%d", i ? "," : "", ec.blocks[i]);
        snprintf(str + strlen(str), sizeof str - strlen(str), "%s%d", i ? "," : "", ec.strides[i]);
    }
    snprintf(accs, sizeof accs, "%.4f", acc);
    snprintf(walls, sizeof walls, "%.0f", wall);
    for (int i = 0; i < argc; i++) snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %s", argv[i]);
    const char *kv[] = {"genrep.classifier", "resnet", "genrep.stem", stem, "genrep.widths", wid,
                        "genrep.blocks", blk, "genrep.strides", str, "genrep.input", "1,28,28 in [-1,1]",
                        "genrep.test_acc", accs, "genrep.train_seconds", walls, "genrep.command", cmd};
    s = genrep_st_write(out, en, nt, kv, (int)(sizeof kv / sizeof kv[0] / 2));
    if (s) { report_status(C, out, s); return 1; }
    printf("gan-eval: wrote %s\n", out);
    free(en); free(xt); free(pred); free(m); free(gfc); free(dfeat); free(dlog); free(x); free(perm); free(y);
    classifier_free(&c);
    genrep_dataset_free(&tr); genrep_dataset_free(&te);
    return 0;
}

/* ---- scoring ---- */

typedef struct {
    char   source[1100], model[16];
    int    n;
    double fd;               /* vs real test; NAN: not computed */
    float  acc, per[EVAL_CLASSES];  /* NAN: not applicable */
} eval_row;

static void print_row(const eval_row *r) {
    printf("%-44s %-6s %6d ", r->source, r->model, r->n);
    if (r->fd == r->fd) printf("%9.3f ", r->fd); else printf("%9s ", "-");
    if (r->acc == r->acc) {
        printf("%6.2f%% |", 100 * r->acc);
        for (int k = 0; k < EVAL_CLASSES; k++) printf(" %5.1f", 100 * r->per[k]);
    } else {
        printf("%7s |", "-");
    }
    printf("\n");
}

static void csv_row(char *buf, size_t cap, const eval_row *r) {
    size_t l = strlen(buf);
    l += (size_t)snprintf(buf + l, cap - l, "\"%s\",%s,%d,", r->source, r->model, r->n);
    if (r->fd == r->fd) l += (size_t)snprintf(buf + l, cap - l, "%.4f", r->fd);
    l += (size_t)snprintf(buf + l, cap - l, ",");
    if (r->acc == r->acc) l += (size_t)snprintf(buf + l, cap - l, "%.4f", r->acc);
    for (int k = 0; k < EVAL_CLASSES; k++) {
        l += (size_t)snprintf(buf + l, cap - l, ",");
        if (r->per[k] == r->per[k]) l += (size_t)snprintf(buf + l, cap - l, "%.4f", r->per[k]);
    }
    snprintf(buf + l, cap - l, "\n");
}

/* Frechet distance between features a (na, F) and the reference stats. */
static int fd_against(double *fd, const float *a, int na, const double *mu_ref, const double *cov_ref, int F) {
    double *mu = (double *)malloc(sizeof(double) * F), *cov = (double *)malloc(sizeof(double) * F * F);
    double *ws = (double *)malloc(sizeof(double) * genrep_frechet_workspace(F));
    genrep_status s = genrep_mean_cov(mu, cov, a, na, F);
    if (!s) s = genrep_frechet_distance(fd, mu, cov, mu_ref, cov_ref, F, ws);
    free(mu); free(cov); free(ws);
    if (s) { report_status("gan-eval", "Frechet distance", s); return -1; }
    return 0;
}

static int score(const char *const *gens, int ngen, const char *clf_path, int n, const char *out,
                 const char *data_dir, uint64_t seed) {
    const char *C = "gan-eval";
    classifier c;
    if (classifier_load(&c, clf_path, EVAL_CHUNK)) return 1;
    genrep_dataset tr, te;
    genrep_status s;
    if ((s = genrep_fmnist_load(&tr, data_dir, 1)) || (s = genrep_fmnist_load(&te, data_dir, 0))) {
        report_status(C, "loading Fashion-MNIST", s); return 1;
    }
    const int F = c.F, nte = (int)te.n, ntr = EVAL_FLOOR_N < tr.n ? EVAL_FLOOR_N : (int)tr.n;
    int nmax = n > nte ? n : nte;
    if (ntr > nmax) nmax = ntr;
    float *feats = (float *)malloc(sizeof(float) * (size_t)nmax * F);
    int32_t *pred = (int32_t *)malloc(sizeof(int32_t) * (size_t)nmax);
    double *mu_te = (double *)malloc(sizeof(double) * F), *cov_te = (double *)malloc(sizeof(double) * F * F);
    double t0 = now_seconds();
    eval_row *rows = (eval_row *)calloc((size_t)ngen + 2, sizeof *rows);
    int nrows = 0;

    /* real test: reference statistics and the classifier's accuracy */
    float *x = to_pm1(&te, nte);
    if (classify(&c, feats, pred, x, nte)) return 1;
    free(x);
    if ((s = genrep_mean_cov(mu_te, cov_te, feats, nte, F))) { report_status(C, "statistics", s); return 1; }
    eval_row *r = &rows[nrows++];
    snprintf(r->source, sizeof r->source, "real test (Fashion-MNIST t10k)");
    snprintf(r->model, sizeof r->model, "real");
    r->n = nte; r->fd = 0.0;
    r->acc = accuracy(r->per, pred, te.labels, nte);
    if (c.test_acc >= 0 && fabsf(c.test_acc - r->acc) > 1e-3f)
        fprintf(stderr, "genrep gan-eval: warning: the classifier's recorded test accuracy %.4f differs from %.4f "
                "measured now\n", c.test_acc, r->acc);

    /* the floor: the first 10,000 real train images against real test */
    x = to_pm1(&tr, ntr);
    if (classify(&c, feats, pred, x, ntr)) return 1;
    free(x);
    r = &rows[nrows++];
    snprintf(r->source, sizeof r->source, "real train (first %d) [floor]", ntr);
    snprintf(r->model, sizeof r->model, "real");
    r->n = ntr;
    if (fd_against(&r->fd, feats, ntr, mu_te, cov_te, F)) return 1;
    r->acc = accuracy(r->per, pred, tr.labels, ntr);

    /* each generator: n samples, z ~ N(0, I) from Philox (seed, i), cgan labels i mod 10 */
    for (int gi = 0; gi < ngen; gi++) {
        genrep_gen g;
        if ((s = genrep_gen_load(&g, gens[gi], EVAL_CHUNK))) { report_status(C, gens[gi], s); return 1; }
        const int Z = g.cfg.zdim, cond = g.cfg.kind == GENREP_GAN_CGAN;
        if (cond && g.cfg.n_classes != EVAL_CLASSES) {
            fprintf(stderr, "genrep gan-eval: %s has %d classes, the classifier %d\n", gens[gi], g.cfg.n_classes,
                    EVAL_CLASSES);
            return 1;
        }
        float *z = (float *)malloc(sizeof(float) * EVAL_CHUNK * Z);
        float *img = (float *)malloc(sizeof(float) * EVAL_CHUNK * EVAL_PIX);
        int32_t *y = (int32_t *)malloc(sizeof(int32_t) * (size_t)n), *cp = (int32_t *)malloc(sizeof(int32_t) * EVAL_CHUNK);
        int hist[EVAL_CLASSES] = {0};
        for (int i0 = 0; i0 < n; i0 += EVAL_CHUNK) {
            int nb = n - i0 < EVAL_CHUNK ? n - i0 : EVAL_CHUNK;
            for (int b = 0; b < nb; b++) {
                genrep_rng rr;
                genrep_rng_init(&rr, seed ^ 0xE7A1ull, (uint64_t)(i0 + b));
                for (int k = 0; k < Z; k++) z[(size_t)b * Z + k] = genrep_rng_normal(&rr);
                y[i0 + b] = (i0 + b) % EVAL_CLASSES;
            }
            if ((s = genrep_gen_render(&g, img, z, cond ? y + i0 : NULL, nb))) { report_status(C, "render", s); return 1; }
            if (classify(&c, feats + (size_t)i0 * F, cp, img, nb)) return 1;
            memcpy(pred + i0, cp, sizeof(int32_t) * (size_t)nb);
        }
        r = &rows[nrows++];
        snprintf(r->source, sizeof r->source, "%s", gens[gi]);
        snprintf(r->model, sizeof r->model, "%s", cond ? "cgan" : "dcgan");
        r->n = n;
        if (fd_against(&r->fd, feats, n, mu_te, cov_te, F)) return 1;
        if (cond) {
            r->acc = accuracy(r->per, pred, y, n);
        } else {
            r->acc = NAN;
            for (int k = 0; k < EVAL_CLASSES; k++) r->per[k] = NAN;
        }
        for (int i = 0; i < n; i++) hist[pred[i]]++;
        printf("gan-eval: %s: predicted-class mix of its samples (%%):", gens[gi]);
        for (int k = 0; k < EVAL_CLASSES; k++) printf(" %.1f", 100.0 * hist[k] / n);
        printf("\n");
        free(z); free(img); free(y); free(cp);
        genrep_gen_free(&g);
    }

    printf("\nclassifier %s (%d-d features; recorded real test accuracy %.2f%%), %.0f s\n", clf_path, F,
           100 * c.test_acc, now_seconds() - t0);
    printf("%-44s %-6s %6s %9s %7s | per-class accuracy (%%) 0..9\n", "source", "model", "n", "FD(test)", "acc");
    for (int i = 0; i < nrows; i++) print_row(&rows[i]);
    printf("FD: Frechet distance to real test in the classifier's feature space; acc: classifier accuracy against\n"
           "the true label (real) or the conditioning label (cgan).\n");
    if (out[0]) {
        size_t cap = (size_t)(nrows + 1) * 1500;
        char *csv = (char *)malloc(cap);
        snprintf(csv, cap, "source,model,n,fd_test,acc");
        for (int k = 0; k < EVAL_CLASSES; k++) snprintf(csv + strlen(csv), cap - strlen(csv), ",acc_%d", k);
        snprintf(csv + strlen(csv), cap - strlen(csv), "\n");
        for (int i = 0; i < nrows; i++) csv_row(csv, cap, &rows[i]);
        if (write_text_atomic(out, csv)) return 1;
        printf("gan-eval: wrote %s\n", out);
        free(csv);
    }
    free(rows); free(feats); free(pred); free(mu_te); free(cov_te);
    classifier_free(&c);
    genrep_dataset_free(&tr); genrep_dataset_free(&te);
    return 0;
}

int genrep_cmd_gan_eval(int argc, char **argv) {
    const char *C = "gan-eval";
    const char *gens[EVAL_MAX_GENS];
    int ngen = 0, train = 0, n = 10000, epochs = 4, batch = 128, train_n = 60000, threads = 0;
    float lr = 2e-3f;
    uint64_t seed = 0;
    char clf[1200] = EVAL_DEFAULT_CLASSIFIER, out[1200] = "", data_dir[1024] = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
#define VAL() do { if (!(v = flag_value(C, argc, argv, &i))) return 2; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--gen")) {
            VAL();
            if (ngen == EVAL_MAX_GENS) { fprintf(stderr, "genrep gan-eval: at most %d --gen\n", EVAL_MAX_GENS); return 2; }
            gens[ngen++] = v;
        }
        else if (!strcmp(a, "--classifier")) { VAL(); snprintf(clf, sizeof clf, "%s", v); }
        else if (!strcmp(a, "--train-classifier")) train = 1;
        else if (!strcmp(a, "--n")) { VAL(); if (flag_int(C, a, v, 2, 1000000, &n)) return 2; }
        else if (!strcmp(a, "--out")) { VAL(); snprintf(out, sizeof out, "%s", v); }
        else if (!strcmp(a, "--seed")) { VAL(); if (flag_u64(C, a, v, &seed)) return 2; }
        else if (!strcmp(a, "--epochs")) { VAL(); if (flag_int(C, a, v, 1, 1000, &epochs)) return 2; }
        else if (!strcmp(a, "--batch")) { VAL(); if (flag_int(C, a, v, 8, 4096, &batch)) return 2; }
        else if (!strcmp(a, "--lr")) { VAL(); if (flag_float(C, a, v, 1e-7, 1, &lr)) return 2; }
        else if (!strcmp(a, "--train-n")) { VAL(); if (flag_int(C, a, v, 100, 60000, &train_n)) return 2; }
        else if (!strcmp(a, "--data-dir")) { VAL(); snprintf(data_dir, sizeof data_dir, "%s", v); }
        else if (!strcmp(a, "--threads")) { VAL(); if (flag_int(C, a, v, 1, 1024, &threads)) return 2; }
        else { fprintf(stderr, "genrep gan-eval: unknown flag '%s' (genrep gan-eval --help lists them)\n", a); return 2; }
#undef VAL
    }
    if (threads) genrep_set_num_threads(threads);
    const char *dd = data_dir[0] ? data_dir : NULL;
    if (train) {
        if (ngen) { fprintf(stderr, "genrep gan-eval: --train-classifier and --gen do not go together\n"); return 2; }
        return train_classifier(out[0] ? out : EVAL_DEFAULT_CLASSIFIER, dd, epochs, batch, lr, train_n, seed,
                                argc, argv);
    }
    return score(gens, ngen, clf, n, out, dd, seed);
}
