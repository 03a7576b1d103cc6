/* trainer/cmd_gan.c: `genrep gan-train`, a DCGAN or class-conditional GAN
   (projection discriminator) trained on Fashion-MNIST train with Adam.

   One step: G makes B fakes (training-mode batchnorm); D sees [real; fake]
   as one batch of 2B (D has no batchnorm, so this equals two passes) and
   takes an Adam step; then D (updated) scores the same fakes again and G
   takes an Adam step on the generator loss, the gradient reaching G
   through D's input gradient (PyTorch's DCGAN example does the same).

   Every random draw is a function of (seed, step, sample): the data order
   is a per-epoch permutation from Philox stream (seed, epoch), latents and
   fake labels of sample k come from stream k. A resumed run therefore
   continues exactly as the uninterrupted one would.

   Reads like train: set-up (options, run directory, data, models, resume),
   then a loop of real_batch -> gan_step -> log / samples / checkpoint. */
#include "common.h"
#include "opt.h"
#include "run.h"
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define HW 784

typedef struct {
    const char *out, *data_dir, *resume;
    int kind, loss, steps, batch, zdim, width, dwidth, threads, sample_every, ckpt_every, log_every, quiet;
    float lr_g, lr_d, beta1, beta2;
    uint64_t seed;
} gan_opts;

#define F(x) offsetof(gan_opts, x)
static const opt_spec gan_spec[] = {
    {"out", OPT_STR, F(out), NULL, 0, 0, NULL, "RUN_DIR", "run directory", OPT_REQUIRED},
    {"model", OPT_ENUM, F(kind), "dcgan", 0, 0, "dcgan|cgan", NULL, "cgan = class-conditional G + projection D", OPT_RUN},
    {"zdim", OPT_INT, F(zdim), "128", 1, 4096, NULL, "Z", "latent size", OPT_RUN},
    {"width", OPT_INT, F(width), "32", 1, 1024, NULL, "W", "G channels 4W, 2W, W", OPT_RUN},
    {"dwidth", OPT_INT, F(dwidth), "64", 1, 1024, NULL, "W", "D channels W, 2W", OPT_RUN},
    {"loss", OPT_ENUM, F(loss), "ns", 0, 0, "ns|hinge", NULL, "ns: non-saturating softplus", OPT_RUN},
    {"steps", OPT_INT, F(steps), "5000", 1, 100000000, NULL, "N", "training steps (a larger N extends a finished run)", 0},
    {"batch", OPT_INT, F(batch), "64", 1, 4096, NULL, "B", "real images per step (and B fakes)", OPT_RUN},
    {"lr", OPT_FLOAT, F(lr_g), "2e-4", 1e-8, 1, NULL, "LR", "Adam learning rate of both nets", OPT_RUN},
    {"lr-d", OPT_FLOAT, F(lr_d), NULL, 1e-8, 1, NULL, "LR", "D's learning rate (default --lr)", OPT_RUN},
    {"beta1", OPT_FLOAT, F(beta1), "0.5", 0, 0.9999, NULL, "B1", "Adam beta1", OPT_RUN},
    {"beta2", OPT_FLOAT, F(beta2), "0.999", 0, 0.99999, NULL, "B2", "Adam beta2", OPT_RUN},
    {"data-dir", OPT_STR, F(data_dir), NULL, 0, 0, NULL, "DIR", "Fashion-MNIST files (default $GENREP_FMNIST_DIR or Debian's path)", 0},
    {"seed", OPT_U64, F(seed), "0", 0, 0, NULL, "S", "seed of every random stream", OPT_RUN},
    {"threads", OPT_INT, F(threads), NULL, 1, 1024, NULL, "T", "OpenMP threads (default OMP_NUM_THREADS / all cores)", 0},
    {"sample-every", OPT_INT, F(sample_every), "500", 1, 100000000, NULL, "N", "sample grid every N steps (and at the end)", 0},
    {"ckpt-every", OPT_INT, F(ckpt_every), "500", 1, 100000000, NULL, "N", "checkpoint every N steps (and at the end, and on Ctrl-C)", 0},
    {"log-every", OPT_INT, F(log_every), "50", 1, 100000000, NULL, "N", "metrics row and progress line every N steps", 0},
    {"resume", OPT_STR, F(resume), "auto", 0, 0, NULL, "auto|no", "continue RUN_DIR/ckpt.safetensors if present, or start over", 0},
    {"quiet", OPT_BOOL, F(quiet), NULL, 0, 0, NULL, NULL, "no progress lines", 0},
};
#undef F
static const opt_table gan_table = {
    "gan-train", "--out RUN_DIR [flags]",
    "Writes RUN_DIR/config.txt, metrics.csv (step,d_loss,g_loss,d_real,d_fake,img_per_s),\n"
    "samples/step_NNNNNN.png (10x10 grids; cgan: one class per row), ckpt.safetensors (G, D and\n"
    "Adam state, atomic) and generator.safetensors (the generator weights alone). Ctrl-C saves and exits.\n",
    gan_spec, OPT_N(gan_spec)};

static int gan_parse(gan_opts *o, int argc, char **argv) {
    int r = opt_parse(&gan_table, o, NULL, argc, argv);
    if (r) return r;
    if (strcmp(o->resume, "auto") && strcmp(o->resume, "no")) {
        fprintf(stderr, "genrep gan-train: --resume: '%s' unknown, expected auto or no\n", o->resume);
        return -1;
    }
    if (o->lr_d == 0.0f) o->lr_d = o->lr_g; /* not given (the range starts at 1e-8) */
    return 0;
}

/* ---- training state and its checkpoint ---- */

typedef struct {
    genrep_gen g;
    genrep_disc d;
    int has_g, has_d;
    float *gm, *gv, *dm, *dv;   /* Adam moments, slab layout */
    int64_t step;               /* steps done */
} gan_state;

static int gan_state_create(gan_state *s, const gan_opts *o, genrep_gan_config *cfg) {
    genrep_status st;
    memset(s, 0, sizeof *s);
    genrep_gan_config_default(cfg, (genrep_gan_kind)o->kind);
    cfg->zdim = o->zdim; cfg->width = o->width; cfg->dwidth = o->dwidth;
    if ((st = genrep_gen_create(&s->g, cfg, o->batch > 100 ? o->batch : 100, o->seed))) {
        report_status("gan-train", "creating the generator", st);
        return -1;
    }
    s->has_g = 1;
    if ((st = genrep_disc_create(&s->d, cfg, 2 * o->batch, o->seed + 1))) {
        report_status("gan-train", "creating the discriminator", st);
        return -1;
    }
    s->has_d = 1;
    s->gm = (float *)xcalloc(s->g.n_params, sizeof(float), "Adam state");
    s->gv = (float *)xcalloc(s->g.n_params, sizeof(float), "Adam state");
    s->dm = (float *)xcalloc(s->d.n_params, sizeof(float), "Adam state");
    s->dv = (float *)xcalloc(s->d.n_params, sizeof(float), "Adam state");
    return 0;
}

static void gan_state_free(gan_state *s) {
    free(s->gm); free(s->gv); free(s->dm); free(s->dv);
    if (s->has_g) genrep_gen_free(&s->g);
    if (s->has_d) genrep_disc_free(&s->d);
}

/* One safetensors file: "G.<name>", "D.<name>" for every table entry, the
   Adam moments as flat "opt.G.m" ... (slab layout, padding included), and
   the run's settings as metadata: the run-defining flags as gan-train.<flag>
   (checked on resume by opt_check_resume) and, as before, genrep.model,
   genrep.zdim ... (read by older genrep versions, and the resume check of
   files written before the gan-train.* keys). */
#define GAN_META_N 12
static void gan_old_meta(const gan_opts *o, int64_t step, char vals[GAN_META_N][64], const char *kv[2 * GAN_META_N]) {
    static const char *keys[GAN_META_N] = {"genrep.model", "genrep.zdim", "genrep.width", "genrep.dwidth",
                                           "genrep.n_classes", "genrep.embed_dim", "genrep.step", "genrep.seed",
                                           "genrep.batch", "genrep.loss", "genrep.lr_g", "genrep.lr_d"};
    genrep_gan_config c;
    genrep_gan_config_default(&c, (genrep_gan_kind)o->kind);
    snprintf(vals[0], 64, "%s", o->kind == GENREP_GAN_CGAN ? "cgan" : "dcgan");
    snprintf(vals[1], 64, "%d", o->zdim);
    snprintf(vals[2], 64, "%d", o->width);
    snprintf(vals[3], 64, "%d", o->dwidth);
    snprintf(vals[4], 64, "%d", c.n_classes);
    snprintf(vals[5], 64, "%d", c.embed_dim);
    snprintf(vals[6], 64, "%lld", (long long)step);
    snprintf(vals[7], 64, "%llu", (unsigned long long)o->seed);
    snprintf(vals[8], 64, "%d", o->batch);
    snprintf(vals[9], 64, "%s", o->loss == GENREP_GAN_LOSS_HINGE ? "hinge" : "ns");
    snprintf(vals[10], 64, "%.9g", o->lr_g);
    snprintf(vals[11], 64, "%.9g", o->lr_d);
    for (int i = 0; i < GAN_META_N; i++) { kv[2 * i] = keys[i]; kv[2 * i + 1] = vals[i]; }
}

/* The two tables and the four Adam moments of s, as the file names them. */
static void gan_tables(gan_state *s, genrep_table_ref t[2], genrep_extra_tensor ex[4]) {
    genrep_table_ref tt[2] = {{"G.", s->g.table, s->g.n_tensors, s->g.params}, {"D.", s->d.table, s->d.n_tensors, s->d.params}};
    genrep_extra_tensor e[4] = {{"opt.G.m", s->gm, s->g.n_params}, {"opt.G.v", s->gv, s->g.n_params},
                                {"opt.D.m", s->dm, s->d.n_params}, {"opt.D.v", s->dv, s->d.n_params}};
    memcpy(t, tt, sizeof tt);
    memcpy(ex, e, sizeof e);
}

static int gan_ckpt_save(const char *path, const gan_opts *o, gan_state *s) {
    char old[GAN_META_N][64], vals[OPT_MAX_RUN][160];
    const char *kv[2 * (GAN_META_N + OPT_MAX_RUN)];
    gan_old_meta(o, s->step, old, kv);
    int n = GAN_META_N + opt_run_kv(&gan_table, o, vals, kv + 2 * GAN_META_N);
    genrep_table_ref t[2];
    genrep_extra_tensor ex[4];
    gan_tables(s, t, ex);
    genrep_status st = genrep_tables_save(path, t, 2, ex, 4, kv, n);
    if (st) { report_status("gan-train", path, st); fprintf(stderr, "genrep gan-train: the previous checkpoint (if any) is intact\n"); }
    return st ? -1 : 0;
}

/* The resume check of a file without gan-train.* keys: every genrep.*
   setting except the step must match this invocation. */
static int gan_old_check(const genrep_st *st, const char *path, const gan_opts *o) {
    char vals[GAN_META_N][64];
    const char *kv[2 * GAN_META_N];
    gan_old_meta(o, 0, vals, kv);
    for (int i = 0; i < GAN_META_N; i++) {
        if (!strcmp(kv[2 * i], "genrep.step")) continue;
        const char *v = genrep_st_meta(st, kv[2 * i]);
        if (!v || strcmp(v, kv[2 * i + 1])) {
            fprintf(stderr, "genrep gan-train: %s was made with %s = %s, this run has %s; "
                    "use the same flags, another --out, or --resume no to start over\n",
                    path, kv[2 * i], v ? v : "(missing)", kv[2 * i + 1]);
            return -1;
        }
    }
    return 0;
}

/* Restore s (already created with o's config) from a checkpoint; refuses
   one made with other run-defining settings. 0 or -1 with a message. */
static int gan_ckpt_resume(const char *path, const gan_opts *o, gan_state *s) {
    genrep_st *st;
    genrep_status rc = genrep_st_open(&st, path, 0);
    if (rc) { report_status("gan-train", path, rc); return -1; }
    char key[96];
    snprintf(key, sizeof key, "%s.model", gan_table.cmd);
    int ok = genrep_st_meta(st, key) ? !opt_check_resume(&gan_table, o, st, path) : !gan_old_check(st, path, o);
    const char *sv = genrep_st_meta(st, "genrep.step");
    char *end = NULL;
    long long step = sv ? strtoll(sv, &end, 10) : -1;
    if (ok && (!sv || end == sv || *end || step < 0)) {
        fprintf(stderr, "genrep gan-train: %s: metadata genrep.step is missing or bad\n", path);
        ok = 0;
    }
    genrep_table_ref t[2];
    genrep_extra_tensor ex[4];
    gan_tables(s, t, ex);
    if (ok && (rc = genrep_tables_read(st, path, t, 2, ex, 4))) { report_status("gan-train", path, rc); ok = 0; }
    if (ok) s->step = step;
    genrep_st_close(st);
    return ok ? 0 : -1;
}

/* ---- data order and latents ---- */

/* perm = the permutation of [0, n) for epoch (Fisher-Yates on stream (seed, epoch)). */
static void gan_permutation(int32_t *perm, int n, uint64_t seed, int64_t epoch) {
    genrep_rng r;
    genrep_rng_init(&r, seed ^ 0x5eedda7aull, (uint64_t)epoch);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)genrep_rng_below(&r, (uint32_t)(i + 1));
        int32_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
}

/* z (B, Z) ~ N(0,1) and labels y (B) uniform for samples first..first+B-1. */
static void gan_latents(float *z, int32_t *y, int B, int Z, int K, uint64_t seed, uint64_t first) {
    for (int b = 0; b < B; b++) {
        genrep_rng r;
        genrep_rng_init(&r, seed ^ 0x1a7e47ull, first + (uint64_t)b);
        for (int k = 0; k < Z; k++) z[(size_t)b * Z + k] = genrep_rng_normal(&r);
        if (y) y[b] = (int32_t)genrep_rng_below(&r, (uint32_t)K);
    }
}

/* One step's buffers and the fixed sample latents. */
typedef struct {
    int B, Z, K, cond;
    float *real2, *z, *zs, *img, *logits, *dlog, *dfake; /* real2 = [real; fake] */
    int32_t *perm, *y2, *ys;                           /* y2 = [real labels; fake labels] */
    int64_t epoch;                                     /* of perm; -1: none yet */
} gan_batch;

static void gan_batch_alloc(gan_batch *b, const gan_opts *o, const genrep_gan_config *cfg, int N) {
    const int B = o->batch, Z = o->zdim;
    b->B = B; b->Z = Z; b->K = cfg->n_classes; b->cond = o->kind == GENREP_GAN_CGAN; b->epoch = -1;
    b->real2 = (float *)xmalloc((size_t)2 * B * HW * sizeof(float), "the batch (try a smaller --batch)");
    b->z = (float *)xmalloc((size_t)B * Z * sizeof(float), "latents");
    b->zs = (float *)xmalloc((size_t)100 * Z * sizeof(float), "sample latents");
    b->img = (float *)xmalloc((size_t)100 * HW * sizeof(float), "samples");
    b->logits = (float *)xmalloc((size_t)2 * B * sizeof(float), "logits");
    b->dlog = (float *)xmalloc((size_t)2 * B * sizeof(float), "logit gradients");
    b->dfake = (float *)xmalloc((size_t)B * HW * sizeof(float), "fake image gradients");
    b->perm = (int32_t *)xmalloc((size_t)N * sizeof(int32_t), "the data order");
    b->y2 = (int32_t *)xmalloc((size_t)2 * B * sizeof(int32_t), "labels");
    b->ys = (int32_t *)xmalloc(100 * sizeof(int32_t), "sample labels");
    /* fixed sample latents: stream space of the step latents is never reached */
    gan_latents(b->zs, NULL, 100, Z, b->K, o->seed ^ 0xfeedull, (uint64_t)1 << 62);
    for (int i = 0; i < 100; i++) b->ys[i] = i / 10;
}

static void gan_batch_free(gan_batch *b) {
    free(b->real2); free(b->z); free(b->zs); free(b->img); free(b->logits); free(b->dlog); free(b->dfake);
    free(b->perm); free(b->y2); free(b->ys);
}

/* 1. real batch: samples step*B .. step*B+B-1 of the epoch permutations;
   fake latents (and labels) of the same sample indices. */
static void real_batch(gan_batch *b, const genrep_dataset *data, uint64_t seed, int64_t step) {
    const int B = b->B, N = (int)data->n;
    for (int i = 0; i < B; i++) {
        int64_t k = step * B + i, epoch = k / N;
        if (epoch != b->epoch) { gan_permutation(b->perm, N, seed, epoch); b->epoch = epoch; }
        int idx = b->perm[k % N];
        memcpy(b->real2 + (size_t)i * HW, data->images + (size_t)idx * HW, HW * sizeof(float));
        b->y2[i] = data->labels[idx];
    }
    gan_latents(b->z, b->cond ? b->y2 + B : NULL, B, b->Z, b->K, seed, (uint64_t)step * B);
}

/* Running sums between two log rows. */
typedef struct { double d, g, real, fake; int64_t n; double t; } gan_log;

/* 2. the D step on [real; G(z)], then the G step through the updated D. */
static genrep_status gan_step(float *l_d, float *l_g, gan_state *s, gan_batch *b, const gan_opts *o, gan_log *lg,
                              const genrep_adam_config *ag, const genrep_adam_config *ad) {
    const int B = b->B;
    const int32_t *yr = b->cond ? b->y2 : NULL, *yf = b->cond ? b->y2 + B : NULL;
    const genrep_gan_loss_kind lk = (genrep_gan_loss_kind)o->loss;
    const int64_t t = s->step + 1;
    float l_real, l_fake;
    genrep_status st;
    /* D: D([real; G(z)]) */
    if ((st = genrep_gen_forward(&s->g, b->z, yf, B, 1))) return st;
    memcpy(b->real2 + (size_t)B * HW, genrep_gen_output(&s->g), (size_t)B * HW * sizeof(float));
    if ((st = genrep_disc_forward(&s->d, b->logits, b->real2, yr, 2 * B))) return st;
    if ((st = genrep_gan_loss(&l_real, b->dlog, b->logits, B, lk, GENREP_GAN_D_REAL))) return st;
    if ((st = genrep_gan_loss(&l_fake, b->dlog + B, b->logits + B, B, lk, GENREP_GAN_D_FAKE))) return st;
    for (int i = 0; i < B; i++) { lg->real += b->logits[i] / B; lg->fake += b->logits[B + i] / B; }
    genrep_disc_zero_grad(&s->d);
    if ((st = genrep_disc_backward(&s->d, NULL, b->dlog, 1))) return st;
    if ((st = genrep_gan_adam_step(s->d.params, s->dm, s->dv, s->d.grads, s->d.table, s->d.n_tensors, ad, t))) return st;
    /* G: the same fakes through the updated D */
    if ((st = genrep_disc_forward(&s->d, b->logits, genrep_gen_output(&s->g), yf, B))) return st;
    if ((st = genrep_gan_loss(l_g, b->dlog, b->logits, B, lk, GENREP_GAN_G))) return st;
    memset(b->dfake, 0, (size_t)B * HW * sizeof(float));
    if ((st = genrep_disc_backward(&s->d, b->dfake, b->dlog, 0))) return st;
    genrep_gen_zero_grad(&s->g);
    if ((st = genrep_gen_backward(&s->g, NULL, b->dfake))) return st;
    if ((st = genrep_gan_adam_step(s->g.params, s->gm, s->gv, s->g.grads, s->g.table, s->g.n_tensors, ag, t))) return st;
    *l_d = l_real + l_fake;
    return GENREP_OK;
}

/* 3. one metrics row (and progress line) of the means since the last one. */
static int gan_log_row(run_dir *run, gan_log *lg, const gan_opts *o, int64_t step, int64_t start, double t0) {
    double t = now_seconds(), n = (double)lg->n, ips = n * o->batch / (t - lg->t);
    if (run_metrics_row(run, "%lld,%.6f,%.6f,%.4f,%.4f,%.1f\n", (long long)step, lg->d / n, lg->g / n, lg->real / n,
                        lg->fake / n, ips))
        return -1;
    if (!o->quiet) {
        char eta[32];
        format_eta(eta, sizeof eta, (t - t0) / (double)(step - start) * (double)(o->steps - step));
        printf("step %7lld/%d  d_loss %.4f  g_loss %.4f  D(real) %+.2f  D(fake) %+.2f  %.0f img/s  ETA %s\n",
               (long long)step, o->steps, lg->d / n, lg->g / n, lg->real / n, lg->fake / n, ips, eta);
        fflush(stdout);
    }
    memset(lg, 0, sizeof *lg);
    lg->t = t;
    return 0;
}

/* 10x10 grid of eval-mode samples from fixed latents (cgan: row r is class r). */
static int gan_write_samples(run_dir *run, int64_t step, genrep_gen *g, gan_batch *b) {
    genrep_status s = genrep_gen_render(g, b->img, b->zs, b->cond ? b->ys : NULL, 100);
    if (s) { report_status("gan-train", "rendering samples", s); return -1; }
    char name[64];
    snprintf(name, sizeof name, "samples/step_%06lld.png", (long long)step);
    const char *path = run_path(run, name);
    const float mean = 0.5f, stdv = 0.5f; /* [-1,1] -> [0,1] */
    s = genrep_png_write_grid(path, b->img, 10, 10, 1, 28, 28, 2, 1.0f, &mean, &stdv);
    if (s) { report_status("gan-train", path, s); return -1; }
    return 0;
}

/* The checkpoint (G, D, Adam) and generator.safetensors (G alone). */
static int gan_save(run_dir *run, const char *ckpt, const gan_opts *o, gan_state *s) {
    if (gan_ckpt_save(ckpt, o, s)) return -1;
    char stepv[32];
    snprintf(stepv, sizeof stepv, "%lld", (long long)s->step);
    const char *extra[2] = {"genrep.step", stepv};
    const char *path = run_path(run, "generator.safetensors");
    genrep_status st = genrep_gen_save(&s->g, path, extra, 1);
    if (st) { report_status("gan-train", path, st); return -1; }
    return 0;
}

/* ---- set-up ---- */

/* Fashion-MNIST train, scaled to [-1, 1] like tanh's range. */
static int gan_data(genrep_dataset *data, const char *dir) {
    genrep_status s = genrep_fmnist_load(data, dir, 1);
    if (s) {
        report_status("gan-train", "loading Fashion-MNIST", s);
        fprintf(stderr, "genrep gan-train: install Debian's dataset-fashion-mnist or pass --data-dir DIR\n");
        return -1;
    }
    for (size_t i = 0; i < (size_t)data->n * HW; i++) data->images[i] = 2.0f * data->images[i] - 1.0f;
    return 0;
}

static int gan_config(run_dir *run, const gan_opts *o, const char *data_dir, int64_t start) {
    char text[8192] = "# genrep gan-train: resolved configuration\n";
    opt_config_text(&gan_table, o, text, sizeof text);
    snprintf(text + strlen(text), sizeof text - strlen(text), "data_dir_used = %s\nthreads_used = %d\nisa = %s\nresumed_from_step = %lld\n",
             data_dir, genrep_num_threads(), genrep_isa_name(genrep_get_isa()), (long long)start);
    return run_write_text(run, "config.txt", text);
}

/* ---- main ---- */

/* The training loop from s->step to o->steps (or Ctrl-C). 0, 1 or 130. */
static int gan_loop(run_dir *run, const char *ckpt, const gan_opts *o, gan_state *s, gan_batch *b,
                    const genrep_dataset *data) {
    genrep_adam_config ag = {o->lr_g, o->beta1, o->beta2, 1e-8f, 0.0f, 0};
    genrep_adam_config ad = {o->lr_d, o->beta1, o->beta2, 1e-8f, 0.0f, 0};
    const int64_t start = s->step;
    const double t0 = now_seconds();
    gan_log lg = {0, 0, 0, 0, 0, t0};
    while (s->step < o->steps && !run_stop) {
        float l_d, l_g;
        real_batch(b, data, o->seed, s->step);
        genrep_status st = gan_step(&l_d, &l_g, s, b, o, &lg, &ag, &ad);
        if (st) { report_status("gan-train", "training step", st); return 1; }
        if (!isfinite(l_d) || !isfinite(l_g)) {
            fprintf(stderr, "genrep gan-train: step %lld: loss is not finite (d %g, g %g); the last checkpoint "
                    "is kept. Try a lower --lr or --loss hinge.\n", (long long)s->step + 1, l_d, l_g);
            return 1;
        }
        s->step++;
        lg.d += l_d; lg.g += l_g; lg.n++;
        int last = s->step == o->steps;
        if ((s->step % o->log_every == 0 || last) && gan_log_row(run, &lg, o, s->step, start, t0)) return 1;
        if ((s->step % o->sample_every == 0 || last) && gan_write_samples(run, s->step, &s->g, b)) return 1;
        if ((s->step % o->ckpt_every == 0 || last) && gan_save(run, ckpt, o, s)) return 1;
    }
    if (run_stop && s->step < o->steps) {
        if (gan_ckpt_save(ckpt, o, s)) return 1;
        if (!o->quiet) printf("gan-train: interrupted; saved step %lld to %s (rerun the same command to resume)\n",
                              (long long)s->step, ckpt);
        return 130;
    }
    if (!o->quiet)
        printf("gan-train: done, %lld steps in %.1f s; weights in %s\n", (long long)(s->step - start),
               now_seconds() - t0, run_path(run, "generator.safetensors"));
    return 0;
}

int genrep_cmd_gan_train(int argc, char **argv) {
    gan_opts o;
    int pr = gan_parse(&o, argc, argv);
    if (pr) return pr > 0 ? 0 : 2;
    if (o.threads) genrep_set_num_threads(o.threads);
    run_dir run;
    if (run_open(&run, "gan-train", o.out)) return 1;
    if (mkdir_p(run_path(&run, "samples"))) { run_close(&run, 0); return 1; }
    char ckpt[4200];
    snprintf(ckpt, sizeof ckpt, "%s", run_path(&run, "ckpt.safetensors"));
    const char *dir = o.data_dir ? o.data_dir : genrep_fmnist_default_dir();
    genrep_dataset data;
    if (gan_data(&data, dir)) { run_close(&run, 0); return 1; }
    genrep_gan_config cfg;
    gan_state st;
    gan_batch b;
    int rc = 1;
    if (gan_state_create(&st, &o, &cfg)) goto out_state;
    gan_batch_alloc(&b, &o, &cfg, (int)data.n);
    if (!strcmp(o.resume, "auto") && file_exists(ckpt)) {
        if (gan_ckpt_resume(ckpt, &o, &st)) goto out_batch;
        if (!o.quiet) printf("gan-train: resumed from %s at step %lld\n", ckpt, (long long)st.step);
    }
    if (gan_config(&run, &o, dir, st.step)) goto out_batch;
    if (run_metrics_open(&run, "step,d_loss,g_loss,d_real,d_fake,img_per_s\n", st.step)) goto out_batch;
    run_catch_signals();
    if (!o.quiet)
        printf("gan-train: %s, %d steps of batch %d, %.1f MMAC/img generator, %d threads, %s; run dir %s\n",
               b.cond ? "cgan" : "dcgan", o.steps, o.batch, genrep_gen_macs(&cfg) * 1e-6, genrep_num_threads(),
               genrep_isa_name(genrep_get_isa()), o.out);
    fflush(stdout);
    rc = gan_loop(&run, ckpt, &o, &st, &b, &data);
out_batch:
    gan_batch_free(&b);
out_state:
    if (run_close(&run, rc == 0) && rc == 0) rc = 1;
    gan_state_free(&st);
    genrep_dataset_free(&data);
    return rc;
}
