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
#include "opt.h"
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_CLASSES 10
#define EVAL_PIX 784
#define EVAL_CHUNK 250   /* images per forward when scoring */
#define EVAL_FLOOR_N 10000
#define EVAL_DEFAULT_CLASSIFIER "weights/fmnist_classifier.safetensors"
#define EVAL_MAX_GENS 8

typedef struct {
    opt_list gen;
    const char *classifier, *out, *data_dir;
    int train, n, epochs, batch, train_n, threads;
    float lr;
    uint64_t seed;
} eval_opts;

#define F(x) offsetof(eval_opts, x)
static const opt_spec eval_spec[] = {
    {"gen", OPT_LIST, F(gen), NULL, 0, 0, NULL, "FILE", "generator weights (dcgan or cgan); repeat to score several (at most 8)", 0},
    {"classifier", OPT_STR, F(classifier), EVAL_DEFAULT_CLASSIFIER, 0, 0, NULL, "FILE", "the classifier", 0},
    {"n", OPT_INT, F(n), "10000", 2, 1000000, NULL, "N", "generated images per generator", 0},
    {"out", OPT_STR, F(out), NULL, 0, 0, NULL, "FILE", "scoring: the table as CSV (one row per source); "
     "--train-classifier: the weights file (default " EVAL_DEFAULT_CLASSIFIER ")", 0},
    {"seed", OPT_U64, F(seed), "0", 0, 0, NULL, "S", "latent seed (z ~ N(0, I), cgan labels y = i mod 10), or the "
     "classifier's training seed", 0},
    {"train-classifier", OPT_BOOL, F(train), NULL, 0, 0, NULL, NULL, "train the classifier on Fashion-MNIST train", 0},
    {"epochs", OPT_INT, F(epochs), "4", 1, 1000, NULL, "E", "classifier training epochs", 0},
    {"batch", OPT_INT, F(batch), "128", 8, 4096, NULL, "B", "classifier training batch", 0},
    {"lr", OPT_FLOAT, F(lr), "2e-3", 1e-7, 1, NULL, "LR", "classifier peak learning rate (Adam, cosine)", 0},
    {"train-n", OPT_INT, F(train_n), "60000", 100, 60000, NULL, "N", "classifier training images (the first N)", 0},
    {"data-dir", OPT_STR, F(data_dir), NULL, 0, 0, NULL, "DIR", "Fashion-MNIST files (default $GENREP_FMNIST_DIR or Debian's path)", 0},
    {"threads", OPT_INT, F(threads), NULL, 1, 1024, NULL, "T", "OpenMP threads (default OMP_NUM_THREADS / all cores)", 0},
};
#undef F
static const opt_table eval_table = {
    "gan-eval", "--gen WEIGHTS [--gen WEIGHTS ...] [flags]\n"
    "       genrep gan-eval --train-classifier [--out FILE.safetensors] [flags]",
    "Without --gen (and without --train-classifier) only the real floor is computed.\n",
    eval_spec, OPT_N(eval_spec)};

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

/* fc and the scoring buffers of an encoder already created (F known). */
static void classifier_buffers(classifier *c, int max_batch) {
    c->F = c->enc.feat_dim;
    c->w = (float *)xcalloc((size_t)EVAL_CLASSES * (c->F + 1), sizeof(float), "the classifier's fc");
    c->b = c->w + (size_t)EVAL_CLASSES * c->F;
    c->logits = (float *)xmalloc(sizeof(float) * (size_t)max_batch * EVAL_CLASSES, "logits");
    c->probs = (float *)xmalloc(sizeof(float) * (size_t)max_batch * EVAL_CLASSES, "probabilities");
    c->test_acc = -1;
}

static int classifier_alloc(classifier *c, const genrep_encoder_config *ec, int max_batch, uint64_t seed) {
    genrep_status s = genrep_encoder_create(&c->enc, ec, max_batch, seed);
    if (s) { report_status("gan-eval", "classifier", s); return -1; }
    classifier_buffers(c, max_batch);
    return 0;
}

static void classifier_free(classifier *c) {
    genrep_encoder_free(&c->enc);
    free(c->w); free(c->logits); free(c->probs);
}

/* An encoder file (genrep_encoder_load: architecture from its metadata)
   with genrep.classifier = resnet and the extra tensors fc.weight (10 F
   values) and fc.bias (10). 0, or -1 with a message. */
static int classifier_load(classifier *c, const char *path, int max_batch) {
    genrep_st *st;
    genrep_extra_tensor later[2] = {{"fc.weight", NULL, 0}, {"fc.bias", NULL, 0}}; /* read once F is known */
    genrep_status s = genrep_encoder_load(&c->enc, path, max_batch, later, 2, &st);
    if (s) {
        report_status("gan-eval", path, s);
        if (!file_exists(path))
            fprintf(stderr, "genrep gan-eval: train one with: genrep gan-eval --train-classifier --out %s\n", path);
        else if (strstr(genrep_last_error(), "genrep.in"))
            fprintf(stderr, "genrep gan-eval: a classifier written by an older genrep lacks genrep.in/genrep.head: add "
                    "them with python3 weights/classifier_meta.py %s\n", path);
        return -1;
    }
    const char *kind = genrep_st_meta(st, "genrep.classifier"), *acc = genrep_st_meta(st, "genrep.test_acc");
    if (!kind || strcmp(kind, "resnet")) {
        fprintf(stderr, "genrep gan-eval: %s: not a gan-eval classifier (metadata genrep.classifier is %s); train one "
                "with --train-classifier\n", path, kind ? kind : "missing");
        genrep_st_close(st); genrep_encoder_free(&c->enc);
        return -1;
    }
    classifier_buffers(c, max_batch);
    genrep_extra_tensor fc[2] = {{"fc.weight", c->w, (size_t)EVAL_CLASSES * c->F}, {"fc.bias", c->b, EVAL_CLASSES}};
    genrep_table_ref t = {"", c->enc.tensors, c->enc.num_tensors, c->enc.params};
    if ((s = genrep_tables_read(st, path, &t, 1, fc, 2))) {
        report_status("gan-eval", path, s);
        genrep_st_close(st); classifier_free(c);
        return -1;
    }
    if (acc) c->test_acc = (float)atof(acc);
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
    float *x = (float *)xmalloc(sizeof(float) * (size_t)n * EVAL_PIX, "images");
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

/* Training state of the classifier: Adam moments of encoder + fc (one slab), batch buffers. */
typedef struct {
    classifier c;
    size_t np, nfc;
    float *m, *v, *gfc, *dfeat, *dlog, *x;
    int32_t *perm, *y;
    int n, batch;
} clf_train;

static int clf_train_create(clf_train *t, const eval_opts *o, int n) {
    genrep_encoder_config ec;
    classifier_config(&ec);
    memset(t, 0, sizeof *t);
    if (classifier_alloc(&t->c, &ec, o->batch, o->seed ^ 0xC1A55)) return -1;
    classifier *c = &t->c;
    /* fc: PyTorch Linear init, U(+-1/sqrt(F)) */
    genrep_rng r;
    genrep_rng_init(&r, o->seed ^ 0xC1A55, 1);
    float bound = 1.0f / sqrtf((float)c->F);
    for (int i = 0; i < EVAL_CLASSES * (c->F + 1); i++) c->w[i] = bound * (2 * genrep_rng_uniform(&r) - 1);
    t->n = n; t->batch = o->batch;
    t->nfc = (size_t)EVAL_CLASSES * (c->F + 1); t->np = c->enc.num_params;
    t->m = (float *)xcalloc(2 * (t->np + t->nfc), sizeof(float), "Adam state");
    t->v = t->m + t->np + t->nfc;
    t->gfc = (float *)xcalloc(t->nfc, sizeof(float), "fc gradient");
    t->dfeat = (float *)xmalloc(sizeof(float) * (size_t)o->batch * c->F, "feature gradient");
    t->dlog = (float *)xmalloc(sizeof(float) * (size_t)o->batch * EVAL_CLASSES, "logit gradient");
    t->x = (float *)xmalloc(sizeof(float) * (size_t)o->batch * EVAL_PIX, "images");
    t->perm = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)n, "the data order");
    t->y = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)o->batch, "labels");
    return 0;
}

static void clf_train_free(clf_train *t) {
    free(t->m); free(t->gfc); free(t->dfeat); free(t->dlog); free(t->x); free(t->perm); free(t->y);
    classifier_free(&t->c);
}

/* The batch of step it of an epoch, with random horizontal flips (the only augmentation). */
static void clf_batch(clf_train *t, const genrep_dataset *tr, uint64_t seed, int it, int64_t step) {
    for (int b = 0; b < t->batch; b++) {
        int idx = t->perm[it * t->batch + b];
        genrep_rng fr;
        genrep_rng_init(&fr, seed ^ 0xF11Full, (uint64_t)step * t->batch + b);
        int flip = genrep_rng_uniform(&fr) < 0.5f;
        const float *src = tr->images + (size_t)idx * EVAL_PIX;
        float *dst = t->x + (size_t)b * EVAL_PIX;
        for (int h = 0; h < 28; h++)
            for (int w = 0; w < 28; w++) dst[h * 28 + w] = 2.0f * src[h * 28 + (flip ? 27 - w : w)] - 1.0f;
        t->y[b] = tr->labels[idx];
    }
}

/* forward, softmax cross-entropy, backward, Adam on encoder and fc; the batch's hits in *hits. */
static genrep_status clf_step(float *loss, int *hits, clf_train *t, genrep_adam_config *ad, int64_t step) {
    classifier *c = &t->c;
    const int B = t->batch;
    genrep_status s;
    if ((s = genrep_encoder_forward(&c->enc, t->x, B, 1))
        || (s = genrep_linear_forward(c->logits, c->enc.features, c->w, c->b, B, c->F, EVAL_CLASSES))
        || (s = genrep_softmax_xent_forward(loss, c->probs, c->logits, t->y, B, EVAL_CLASSES)))
        return s;
    memset(t->dlog, 0, sizeof(float) * (size_t)B * EVAL_CLASSES);
    memset(t->dfeat, 0, sizeof(float) * (size_t)B * c->F);
    memset(t->gfc, 0, sizeof(float) * t->nfc);
    memset(c->enc.grads, 0, sizeof(float) * t->np);
    if ((s = genrep_softmax_xent_backward(t->dlog, c->probs, t->y, B, EVAL_CLASSES, 1.0f))
        || (s = genrep_linear_backward(t->dfeat, t->gfc, t->gfc + (size_t)EVAL_CLASSES * c->F, t->dlog, c->enc.features,
                                       c->w, B, c->F, EVAL_CLASSES))
        || (s = genrep_encoder_backward(&c->enc, NULL, t->dfeat))
        || (s = genrep_adam_step(c->enc.params, t->m, t->v, c->enc.grads, t->np, ad, step + 1))
        || (s = genrep_adam_step(c->w, t->m + t->np, t->v + t->np, t->gfc, t->nfc, ad, step + 1)))
        return s;
    for (int b = 0; b < B; b++) {
        const float *p = c->probs + (size_t)b * EVAL_CLASSES;
        int best = 0;
        for (int k = 1; k < EVAL_CLASSES; k++) if (p[k] > p[best]) best = k;
        *hits += best == t->y[b];
    }
    return GENREP_OK;
}

/* The epochs: a permutation per epoch, cosine lr with 2% warm-up, a line every 50 steps. */
static int clf_train_epochs(clf_train *t, const genrep_dataset *tr, const eval_opts *o) {
    genrep_adam_config ad = {o->lr, 0.9f, 0.999f, 1e-8f, 5e-4f, 1};
    const int steps_per_epoch = t->n / t->batch;
    const int64_t total = (int64_t)steps_per_epoch * o->epochs;
    int64_t step = 0;
    double t0 = now_seconds(), loss_acc = 0;
    int hits = 0, seen = 0;
    printf("gan-eval: training the classifier (%d params) on %d images, %d epochs of %d steps, batch %d\n",
           (int)(t->np + t->nfc), t->n, o->epochs, steps_per_epoch, t->batch);
    for (int ep = 0; ep < o->epochs; ep++) {
        genrep_rng pr;
        genrep_rng_init(&pr, o->seed ^ 0x5eedda7aull, (uint64_t)ep);
        for (int i = 0; i < t->n; i++) t->perm[i] = i;
        for (int i = t->n - 1; i > 0; i--) {
            int j = (int)genrep_rng_below(&pr, (uint32_t)(i + 1));
            int32_t tmp = t->perm[i]; t->perm[i] = t->perm[j]; t->perm[j] = tmp;
        }
        for (int it = 0; it < steps_per_epoch; it++, step++) {
            float loss;
            clf_batch(t, tr, o->seed, it, step);
            ad.lr = genrep_cosine_lr(o->lr, 0.0f, step, total / 50, total);
            genrep_status s = clf_step(&loss, &hits, t, &ad, step);
            if (s) { report_status("gan-eval", "training step", s); return -1; }
            loss_acc += loss;
            seen += t->batch;
            if ((step + 1) % 50 == 0 || step + 1 == total) {
                double el = now_seconds() - t0;
                char eta[32];
                format_eta(eta, sizeof eta, el / (double)(step + 1) * (double)(total - step - 1));
                printf("step %lld/%lld  epoch %d  loss %.4f  train acc %.2f%%  lr %.2e  %.0f img/s  ETA %s\n",
                       (long long)(step + 1), (long long)total, ep + 1, loss_acc / (seen / t->batch),
                       100.0 * hits / seen, ad.lr, (double)(step + 1) * t->batch / el, eta);
                fflush(stdout);
                loss_acc = 0; hits = 0; seen = 0;
            }
        }
    }
    return 0;
}

/* The classifier file: the encoder (genrep_encoder_save records its
   architecture), fc.weight / fc.bias, accuracy and how it was made. */
static int clf_save(const char *out, classifier *c, float acc, double wall, int argc, char **argv) {
    char accs[32], walls[32], cmd[1024] = "genrep";
    snprintf(accs, sizeof accs, "%.4f", acc);
    snprintf(walls, sizeof walls, "%.0f", wall);
    for (int i = 0; i < argc; i++) snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %s", argv[i]);
    const char *kv[] = {"genrep.classifier", "resnet", "genrep.input", "1,28,28 in [-1,1]",
                        "genrep.test_acc", accs, "genrep.train_seconds", walls, "genrep.command", cmd};
    genrep_extra_tensor fc[2] = {{"fc.weight", c->w, (size_t)EVAL_CLASSES * c->F}, {"fc.bias", c->b, EVAL_CLASSES}};
    genrep_status s = genrep_encoder_save(&c->enc, out, "resnet", fc, 2, kv, (int)(sizeof kv / sizeof kv[0] / 2));
    if (s) { report_status("gan-eval", out, s); return -1; }
    printf("gan-eval: wrote %s\n", out);
    return 0;
}

static int train_classifier(const eval_opts *o, int argc, char **argv) {
    const char *out = o->out ? o->out : EVAL_DEFAULT_CLASSIFIER;
    genrep_dataset tr, te;
    genrep_status s;
    if ((s = genrep_fmnist_load(&tr, o->data_dir, 1))) { report_status("gan-eval", "loading Fashion-MNIST", s); return 1; }
    if ((s = genrep_fmnist_load(&te, o->data_dir, 0))) {
        report_status("gan-eval", "loading Fashion-MNIST", s); genrep_dataset_free(&tr); return 1;
    }
    clf_train t;
    int rc = 1;
    double t0 = now_seconds();
    if (clf_train_create(&t, o, o->train_n < tr.n ? o->train_n : (int)tr.n)) goto out_data;
    if (clf_train_epochs(&t, &tr, o)) goto out;
    double wall = now_seconds() - t0;
    /* real test accuracy, eval mode (needs a max_batch that fits any chunk) */
    float *xt = to_pm1(&te, (int)te.n);
    int32_t *pred = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)te.n, "predictions");
    if (!classify(&t.c, NULL, pred, xt, (int)te.n)) {
        float per[EVAL_CLASSES];
        float acc = accuracy(per, pred, te.labels, (int)te.n);
        printf("gan-eval: classifier real test accuracy %.2f%% (per class:", 100 * acc);
        for (int k = 0; k < EVAL_CLASSES; k++) printf(" %.1f", 100 * per[k]);
        printf("), trained in %.0f s\n", wall);
        rc = clf_save(out, &t.c, acc, wall, argc, argv) ? 1 : 0;
    }
    free(xt); free(pred);
out:
    clf_train_free(&t);
out_data:
    genrep_dataset_free(&tr); genrep_dataset_free(&te);
    return rc;
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

/* Scoring state: the classifier, real data, the reference statistics of real test. */
typedef struct {
    classifier c;
    genrep_dataset tr, te;
    float *feats;
    int32_t *pred;
    double *mu_te, *cov_te;
    int F, n;
} scorer;

/* Row of real test (reference statistics, accuracy) and of the floor: the
   first 10,000 real train images against real test. */
static int score_real(eval_row *rows, scorer *sc) {
    const int F = sc->F, nte = (int)sc->te.n, ntr = EVAL_FLOOR_N < sc->tr.n ? EVAL_FLOOR_N : (int)sc->tr.n;
    float *x = to_pm1(&sc->te, nte);
    int bad = classify(&sc->c, sc->feats, sc->pred, x, nte);
    free(x);
    if (bad) return -1;
    genrep_status s = genrep_mean_cov(sc->mu_te, sc->cov_te, sc->feats, nte, F);
    if (s) { report_status("gan-eval", "statistics", s); return -1; }
    eval_row *r = &rows[0];
    snprintf(r->source, sizeof r->source, "real test (Fashion-MNIST t10k)");
    snprintf(r->model, sizeof r->model, "real");
    r->n = nte; r->fd = 0.0;
    r->acc = accuracy(r->per, sc->pred, sc->te.labels, nte);
    if (sc->c.test_acc >= 0 && fabsf(sc->c.test_acc - r->acc) > 1e-3f)
        fprintf(stderr, "genrep gan-eval: warning: the classifier's recorded test accuracy %.4f differs from %.4f "
                "measured now\n", sc->c.test_acc, r->acc);
    x = to_pm1(&sc->tr, ntr);
    bad = classify(&sc->c, sc->feats, sc->pred, x, ntr);
    free(x);
    if (bad) return -1;
    r = &rows[1];
    snprintf(r->source, sizeof r->source, "real train (first %d) [floor]", ntr);
    snprintf(r->model, sizeof r->model, "real");
    r->n = ntr;
    if (fd_against(&r->fd, sc->feats, ntr, sc->mu_te, sc->cov_te, F)) return -1;
    r->acc = accuracy(r->per, sc->pred, sc->tr.labels, ntr);
    return 0;
}

/* n samples of a generator: z ~ N(0, I) from Philox (seed, i), cgan labels i mod 10. */
static int score_generator(eval_row *r, scorer *sc, const char *path, uint64_t seed) {
    const int n = sc->n, F = sc->F;
    genrep_gen g;
    genrep_status s;
    if (gen_file_is_biggan(path)) {
        fprintf(stderr, "genrep gan-eval: %s is a BigGAN-deep file; gan-eval scores 1x28x28 generators with a Fashion-MNIST classifier\n", path);
        return -1;
    }
    if ((s = genrep_gen_load(&g, path, EVAL_CHUNK))) { report_status("gan-eval", path, s); return -1; }
    if (gen_require_28("gan-eval", path, &g, "its scores come from a Fashion-MNIST classifier")) { genrep_gen_free(&g); return -1; }
    const int Z = g.cfg.zdim, cond = g.cfg.kind == GENREP_GAN_CGAN;
    if (cond && g.cfg.n_classes != EVAL_CLASSES) {
        fprintf(stderr, "genrep gan-eval: %s has %d classes, the classifier %d\n", path, g.cfg.n_classes, EVAL_CLASSES);
        genrep_gen_free(&g);
        return -1;
    }
    float *z = (float *)xmalloc(sizeof(float) * EVAL_CHUNK * Z, "latents");
    float *img = (float *)xmalloc(sizeof(float) * EVAL_CHUNK * EVAL_PIX, "samples");
    int32_t *y = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)n, "labels");
    int32_t *cp = (int32_t *)xmalloc(sizeof(int32_t) * EVAL_CHUNK, "predictions");
    int hist[EVAL_CLASSES] = {0}, rc = 0;
    for (int i0 = 0; i0 < n && !rc; i0 += EVAL_CHUNK) {
        int nb = n - i0 < EVAL_CHUNK ? n - i0 : EVAL_CHUNK;
        for (int b = 0; b < nb; b++) {
            genrep_rng rr;
            genrep_rng_init(&rr, seed ^ 0xE7A1ull, (uint64_t)(i0 + b));
            for (int k = 0; k < Z; k++) z[(size_t)b * Z + k] = genrep_rng_normal(&rr);
            y[i0 + b] = (i0 + b) % EVAL_CLASSES;
        }
        if ((s = genrep_gen_render(&g, img, z, cond ? y + i0 : NULL, nb))) { report_status("gan-eval", "render", s); rc = -1; }
        else if (classify(&sc->c, sc->feats + (size_t)i0 * F, cp, img, nb)) rc = -1;
        else memcpy(sc->pred + i0, cp, sizeof(int32_t) * (size_t)nb);
    }
    snprintf(r->source, sizeof r->source, "%s", path);
    snprintf(r->model, sizeof r->model, "%s", cond ? "cgan" : "dcgan");
    r->n = n;
    if (!rc && fd_against(&r->fd, sc->feats, n, sc->mu_te, sc->cov_te, F)) rc = -1;
    if (!rc) {
        if (cond) r->acc = accuracy(r->per, sc->pred, y, n);
        else { r->acc = NAN; for (int k = 0; k < EVAL_CLASSES; k++) r->per[k] = NAN; }
        for (int i = 0; i < n; i++) hist[sc->pred[i]]++;
        printf("gan-eval: %s: predicted-class mix of its samples (%%):", path);
        for (int k = 0; k < EVAL_CLASSES; k++) printf(" %.1f", 100.0 * hist[k] / n);
        printf("\n");
    }
    free(z); free(img); free(y); free(cp);
    genrep_gen_free(&g);
    return rc;
}

/* The table on stdout and, with out, as CSV. */
static int report_rows(const eval_row *rows, int nrows, const scorer *sc, const char *clf_path, const char *out, double t0) {
    printf("\nclassifier %s (%d-d features; recorded real test accuracy %.2f%%), %.0f s\n", clf_path, sc->F,
           100 * sc->c.test_acc, now_seconds() - t0);
    printf("%-44s %-6s %6s %9s %7s | per-class accuracy (%%) 0..9\n", "source", "model", "n", "FD(test)", "acc");
    for (int i = 0; i < nrows; i++) print_row(&rows[i]);
    printf("FD: Frechet distance to real test in the classifier's feature space; acc: classifier accuracy against\n"
           "the true label (real) or the conditioning label (cgan).\n");
    if (!out) return 0;
    size_t cap = (size_t)(nrows + 1) * 1500;
    char *csv = (char *)xmalloc(cap, "the CSV table");
    snprintf(csv, cap, "source,model,n,fd_test,acc");
    for (int k = 0; k < EVAL_CLASSES; k++) snprintf(csv + strlen(csv), cap - strlen(csv), ",acc_%d", k);
    snprintf(csv + strlen(csv), cap - strlen(csv), "\n");
    for (int i = 0; i < nrows; i++) csv_row(csv, cap, &rows[i]);
    int rc = write_text_atomic(out, csv);
    free(csv);
    if (rc) return -1;
    printf("gan-eval: wrote %s\n", out);
    return 0;
}

static int score(const eval_opts *o) {
    scorer sc;
    genrep_status s;
    memset(&sc, 0, sizeof sc);
    if (classifier_load(&sc.c, o->classifier, EVAL_CHUNK)) return 1;
    if ((s = genrep_fmnist_load(&sc.tr, o->data_dir, 1))) { report_status("gan-eval", "loading Fashion-MNIST", s); classifier_free(&sc.c); return 1; }
    if ((s = genrep_fmnist_load(&sc.te, o->data_dir, 0))) {
        report_status("gan-eval", "loading Fashion-MNIST", s); genrep_dataset_free(&sc.tr); classifier_free(&sc.c); return 1;
    }
    const int nte = (int)sc.te.n, ntr = EVAL_FLOOR_N < sc.tr.n ? EVAL_FLOOR_N : (int)sc.tr.n;
    int nmax = o->n > nte ? o->n : nte;
    if (ntr > nmax) nmax = ntr;
    sc.F = sc.c.F; sc.n = o->n;
    sc.feats = (float *)xmalloc(sizeof(float) * (size_t)nmax * sc.F, "features");
    sc.pred = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)nmax, "predictions");
    sc.mu_te = (double *)xmalloc(sizeof(double) * sc.F, "statistics");
    sc.cov_te = (double *)xmalloc(sizeof(double) * sc.F * sc.F, "statistics");
    double t0 = now_seconds();
    eval_row *rows = (eval_row *)xcalloc((size_t)o->gen.n + 2, sizeof *rows, "rows");
    int rc = score_real(rows, &sc) ? 1 : 0;
    for (int gi = 0; gi < o->gen.n && !rc; gi++)
        if (score_generator(&rows[2 + gi], &sc, o->gen.v[gi], o->seed)) rc = 1;
    if (!rc && report_rows(rows, 2 + o->gen.n, &sc, o->classifier, o->out, t0)) rc = 1;
    free(rows); free(sc.feats); free(sc.pred); free(sc.mu_te); free(sc.cov_te);
    classifier_free(&sc.c);
    genrep_dataset_free(&sc.tr); genrep_dataset_free(&sc.te);
    return rc;
}

int genrep_cmd_gan_eval(int argc, char **argv) {
    eval_opts o;
    int pr = opt_parse(&eval_table, &o, NULL, argc, argv);
    if (pr) return pr > 0 ? 0 : 2;
    if (o.gen.n > EVAL_MAX_GENS) { fprintf(stderr, "genrep gan-eval: at most %d --gen\n", EVAL_MAX_GENS); return 2; }
    if (o.out && !*o.out) o.out = NULL; /* as before: an empty --out writes no CSV (and the default classifier) */
    if (o.data_dir && !*o.data_dir) o.data_dir = NULL;
    if (o.threads) genrep_set_num_threads(o.threads);
    if (o.train) {
        if (o.gen.n) { fprintf(stderr, "genrep gan-eval: --train-classifier and --gen do not go together\n"); return 2; }
        return train_classifier(&o, argc, argv);
    }
    return score(&o);
}
