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
   continues exactly as the uninterrupted one would. */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include "common.h"
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char  out[1024], data_dir[1024];
    int   kind, loss, steps, batch, zdim, width, dwidth, threads, sample_every, ckpt_every, log_every;
    int   resume, quiet;
    float lr_g, lr_d, beta1, beta2;
    uint64_t seed;
} gan_opts;

static volatile sig_atomic_t gan_stop = 0;
static void gan_on_sigint(int sig) { (void)sig; gan_stop = 1; }

static void gan_usage(FILE *f) {
    fprintf(f,
        "usage: genrep gan-train --out RUN_DIR [flags]\n"
        "  model:  --model dcgan|cgan (default dcgan; cgan = class-conditional G + projection D)\n"
        "          --zdim Z (128) --width W (32: G channels 4W,2W,W) --dwidth W (64: D channels W,2W)\n"
        "  loss:   --loss ns|hinge (default ns: non-saturating softplus)\n"
        "  optim:  --steps N (5000) --batch B (64) --lr LR (2e-4, both nets) --lr-d LR (default --lr)\n"
        "          --beta1 (0.5) --beta2 (0.999)  (Adam)\n"
        "  data:   --data-dir DIR  Fashion-MNIST files (default $GENREP_FMNIST_DIR or Debian's path)\n"
        "  run:    --seed S (0) --threads T --sample-every N (500) --ckpt-every N (500) --log-every N (50)\n"
        "          --resume auto|no (auto: continue from RUN_DIR/ckpt.safetensors if present) --quiet\n"
        "Writes RUN_DIR/config.txt, metrics.csv (step,d_loss,g_loss,d_real,d_fake,img_per_s),\n"
        "samples/step_NNNNNN.png (10x10 grids; cgan: one class per row), ckpt.safetensors (G, D and\n"
        "Adam state, atomic) and generator.safetensors (the generator weights alone). Ctrl-C saves and exits.\n");
}

static int gan_parse(gan_opts *o, int argc, char **argv) {
    const char *C = "gan-train";
    memset(o, 0, sizeof *o);
    o->kind = GENREP_GAN_DCGAN; o->loss = GENREP_GAN_LOSS_NS;
    o->steps = 5000; o->batch = 64; o->zdim = 128; o->width = 32; o->dwidth = 64;
    o->lr_g = 2e-4f; o->lr_d = -1.0f; o->beta1 = 0.5f; o->beta2 = 0.999f;
    o->sample_every = 500; o->ckpt_every = 500; o->log_every = 50; o->resume = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
#define VAL() do { if (!(v = flag_value(C, argc, argv, &i))) return -1; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { gan_usage(stdout); exit(0); }
        else if (!strcmp(a, "--out")) { VAL(); snprintf(o->out, sizeof o->out, "%s", v); }
        else if (!strcmp(a, "--data-dir")) { VAL(); snprintf(o->data_dir, sizeof o->data_dir, "%s", v); }
        else if (!strcmp(a, "--model")) {
            VAL();
            if (!strcmp(v, "dcgan")) o->kind = GENREP_GAN_DCGAN;
            else if (!strcmp(v, "cgan")) o->kind = GENREP_GAN_CGAN;
            else { fprintf(stderr, "genrep gan-train: --model: '%s' unknown, expected dcgan or cgan\n", v); return -1; }
        }
        else if (!strcmp(a, "--loss")) {
            VAL();
            if (!strcmp(v, "ns")) o->loss = GENREP_GAN_LOSS_NS;
            else if (!strcmp(v, "hinge")) o->loss = GENREP_GAN_LOSS_HINGE;
            else { fprintf(stderr, "genrep gan-train: --loss: '%s' unknown, expected ns or hinge\n", v); return -1; }
        }
        else if (!strcmp(a, "--steps")) { VAL(); if (flag_int(C, a, v, 1, 100000000, &o->steps)) return -1; }
        else if (!strcmp(a, "--batch")) { VAL(); if (flag_int(C, a, v, 1, 4096, &o->batch)) return -1; }
        else if (!strcmp(a, "--zdim")) { VAL(); if (flag_int(C, a, v, 1, 4096, &o->zdim)) return -1; }
        else if (!strcmp(a, "--width")) { VAL(); if (flag_int(C, a, v, 1, 1024, &o->width)) return -1; }
        else if (!strcmp(a, "--dwidth")) { VAL(); if (flag_int(C, a, v, 1, 1024, &o->dwidth)) return -1; }
        else if (!strcmp(a, "--lr")) { VAL(); if (flag_float(C, a, v, 1e-8, 1, &o->lr_g)) return -1; }
        else if (!strcmp(a, "--lr-d")) { VAL(); if (flag_float(C, a, v, 1e-8, 1, &o->lr_d)) return -1; }
        else if (!strcmp(a, "--beta1")) { VAL(); if (flag_float(C, a, v, 0, 0.9999, &o->beta1)) return -1; }
        else if (!strcmp(a, "--beta2")) { VAL(); if (flag_float(C, a, v, 0, 0.99999, &o->beta2)) return -1; }
        else if (!strcmp(a, "--seed")) { VAL(); if (flag_u64(C, a, v, &o->seed)) return -1; }
        else if (!strcmp(a, "--threads")) { VAL(); if (flag_int(C, a, v, 1, 1024, &o->threads)) return -1; }
        else if (!strcmp(a, "--sample-every")) { VAL(); if (flag_int(C, a, v, 1, 100000000, &o->sample_every)) return -1; }
        else if (!strcmp(a, "--ckpt-every")) { VAL(); if (flag_int(C, a, v, 1, 100000000, &o->ckpt_every)) return -1; }
        else if (!strcmp(a, "--log-every")) { VAL(); if (flag_int(C, a, v, 1, 100000000, &o->log_every)) return -1; }
        else if (!strcmp(a, "--resume")) {
            VAL();
            if (!strcmp(v, "auto")) o->resume = 1;
            else if (!strcmp(v, "no")) o->resume = 0;
            else { fprintf(stderr, "genrep gan-train: --resume: '%s' unknown, expected auto or no\n", v); return -1; }
        }
        else if (!strcmp(a, "--quiet")) o->quiet = 1;
        else { fprintf(stderr, "genrep gan-train: unknown flag '%s' (genrep gan-train --help lists them)\n", a); return -1; }
#undef VAL
    }
    if (!o->out[0]) { fprintf(stderr, "genrep gan-train: --out RUN_DIR is required\n"); return -1; }
    if (o->lr_d < 0) o->lr_d = o->lr_g;
    return 0;
}

/* ---- training state and its checkpoint ---- */

typedef struct {
    genrep_gen g;
    genrep_disc d;
    float *gm, *gv, *dm, *dv;   /* Adam moments, slab layout */
    int64_t step;               /* steps done */
} gan_state;

/* One safetensors file: "G.<name>", "D.<name>" for every table entry, the
   Adam moments as flat "opt.G.m" ... (slab layout, padding included), and
   the run's settings as metadata. */
#define GAN_META_N 12
static void gan_meta(const gan_opts *o, int64_t step, char vals[GAN_META_N][64], const char *kv[2 * GAN_META_N]) {
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

static genrep_status gan_ckpt_save(const char *path, const gan_opts *o, const gan_state *s) {
    enum { MAXE = 2 * GENREP_GAN_MAX_TENSORS + 4 };
    genrep_st_entry e[MAXE];
    char names[MAXE][64];
    int n = 0;
    for (int net = 0; net < 2; net++) {
        const genrep_param_info *t = net ? s->d.table : s->g.table;
        int nt = net ? s->d.n_tensors : s->g.n_tensors;
        const float *p = net ? s->d.params : s->g.params;
        for (int i = 0; i < nt; i++, n++) {
            memset(&e[n], 0, sizeof e[n]);
            snprintf(names[n], sizeof names[n], "%s.%.48s", net ? "D" : "G", t[i].name);
            e[n].name = names[n];
            e[n].ndim = t[i].ndim;
            for (int k = 0; k < t[i].ndim; k++) e[n].shape[k] = t[i].shape[k];
            e[n].data = p + t[i].offset;
        }
    }
    const float *opt[4] = {s->gm, s->gv, s->dm, s->dv};
    static const char *opt_names[4] = {"opt.G.m", "opt.G.v", "opt.D.m", "opt.D.v"};
    for (int i = 0; i < 4; i++, n++) {
        memset(&e[n], 0, sizeof e[n]);
        e[n].name = opt_names[i];
        e[n].ndim = 1;
        e[n].shape[0] = (int64_t)(i < 2 ? s->g.n_params : s->d.n_params);
        e[n].data = opt[i];
    }
    char vals[GAN_META_N][64];
    const char *kv[2 * GAN_META_N];
    gan_meta(o, s->step, vals, kv);
    return genrep_st_write(path, e, n, kv, GAN_META_N);
}

/* Restore s (already created with o's config) from a checkpoint; refuses
   one made with other settings that change the run. Returns 0 or -1. */
static int gan_ckpt_load(const char *path, const gan_opts *o, gan_state *s) {
    genrep_st *st;
    genrep_status rc = genrep_st_open(&st, path, 0);
    if (rc) { report_status("gan-train", path, rc); return -1; }
    char vals[GAN_META_N][64];
    const char *kv[2 * GAN_META_N];
    gan_meta(o, 0, vals, kv);
    /* every setting except the step must match this invocation */
    for (int i = 0; i < GAN_META_N; i++) {
        if (!strcmp(kv[2 * i], "genrep.step")) continue;
        const char *v = genrep_st_meta(st, kv[2 * i]);
        if (!v || strcmp(v, kv[2 * i + 1])) {
            fprintf(stderr, "genrep gan-train: %s was made with %s = %s, this run has %s; "
                    "use the same flags, another --out, or --resume no to start over\n",
                    path, kv[2 * i], v ? v : "(missing)", kv[2 * i + 1]);
            genrep_st_close(st);
            return -1;
        }
    }
    const char *sv = genrep_st_meta(st, "genrep.step");
    char *end;
    long long step = sv ? strtoll(sv, &end, 10) : -1;
    if (!sv || end == sv || *end || step < 0) {
        fprintf(stderr, "genrep gan-train: %s: metadata genrep.step is missing or bad\n", path);
        genrep_st_close(st);
        return -1;
    }
    for (int net = 0; net < 2; net++) {
        const genrep_param_info *t = net ? s->d.table : s->g.table;
        int nt = net ? s->d.n_tensors : s->g.n_tensors;
        float *p = net ? s->d.params : s->g.params;
        for (int i = 0; i < nt; i++) {
            char nm[64];
            snprintf(nm, sizeof nm, "%s.%.48s", net ? "D" : "G", t[i].name);
            const genrep_st_tensor *x = genrep_st_find(st, nm);
            if (!x || (size_t)x->numel != t[i].numel) {
                fprintf(stderr, "genrep gan-train: %s: tensor %s is %s\n", path, nm, x ? "of the wrong size" : "missing");
                genrep_st_close(st);
                return -1;
            }
            memcpy(p + t[i].offset, x->data, t[i].numel * sizeof(float));
        }
    }
    float *opt[4] = {s->gm, s->gv, s->dm, s->dv};
    static const char *opt_names[4] = {"opt.G.m", "opt.G.v", "opt.D.m", "opt.D.v"};
    for (int i = 0; i < 4; i++) {
        size_t n = i < 2 ? s->g.n_params : s->d.n_params;
        const genrep_st_tensor *x = genrep_st_find(st, opt_names[i]);
        if (!x || (size_t)x->numel != n) {
            fprintf(stderr, "genrep gan-train: %s: tensor %s is %s\n", path, opt_names[i], x ? "of the wrong size" : "missing");
            genrep_st_close(st);
            return -1;
        }
        memcpy(opt[i], x->data, n * sizeof(float));
    }
    s->step = step;
    genrep_st_close(st);
    return 0;
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

/* 10x10 grid of eval-mode samples from fixed latents (cgan: row r is class r). */
static int gan_write_samples(const char *dir, int64_t step, genrep_gen *g, const float *z, const int32_t *y, float *img) {
    genrep_status s = genrep_gen_render(g, img, z, y, 100);
    if (s) { report_status("gan-train", "rendering samples", s); return -1; }
    char path[1300];
    snprintf(path, sizeof path, "%s/step_%06lld.png", dir, (long long)step);
    const float mean = 0.5f, stdv = 0.5f; /* [-1,1] -> [0,1] */
    s = genrep_png_write_grid(path, img, 10, 10, 1, 28, 28, 2, 1.0f, &mean, &stdv);
    if (s) { report_status("gan-train", path, s); return -1; }
    return 0;
}

static int gan_write_config(const char *path, const gan_opts *o, const char *data_dir, int64_t start_step) {
    char text[4096];
    snprintf(text, sizeof text,
             "# genrep gan-train: resolved configuration\n"
             "model = %s\nloss = %s\nsteps = %d\nbatch = %d\nzdim = %d\nwidth = %d\ndwidth = %d\n"
             "lr_g = %g\nlr_d = %g\nbeta1 = %g\nbeta2 = %g\nseed = %llu\nthreads = %d\n"
             "isa = %s\ndata_dir = %s\nsample_every = %d\nckpt_every = %d\nresumed_from_step = %lld\n",
             o->kind == GENREP_GAN_CGAN ? "cgan" : "dcgan", o->loss == GENREP_GAN_LOSS_HINGE ? "hinge" : "ns",
             o->steps, o->batch, o->zdim, o->width, o->dwidth, o->lr_g, o->lr_d, o->beta1, o->beta2,
             (unsigned long long)o->seed, genrep_num_threads(), genrep_isa_name(genrep_get_isa()), data_dir,
             o->sample_every, o->ckpt_every, (long long)start_step);
    return write_text_atomic(path, text);
}

/* Keep the rows of metrics.csv up to step (a resumed run rewrites what came after). */
static FILE *gan_open_metrics(const char *path, int64_t step) {
    FILE *in = step > 0 ? fopen(path, "r") : NULL;
    char *kept = NULL;
    size_t len = 0;
    if (in) {
        FILE *mem = open_memstream(&kept, &len);
        char line[512];
        while (mem && fgets(line, sizeof line, in)) {
            long long s;
            if (sscanf(line, "%lld,", &s) == 1 && s > step) continue;
            fputs(line, mem);
        }
        fclose(in);
        if (mem) fclose(mem);
    }
    FILE *f = fopen(path, "w");
    if (!f) { fprintf(stderr, "genrep gan-train: cannot write %s\n", path); free(kept); return NULL; }
    if (kept && len) fwrite(kept, 1, len, f);
    else fprintf(f, "step,d_loss,g_loss,d_real,d_fake,img_per_s\n");
    free(kept);
    fflush(f);
    return f;
}

int genrep_cmd_gan_train(int argc, char **argv) {
    gan_opts o;
    if (gan_parse(&o, argc, argv)) return 2;
    if (o.threads) genrep_set_num_threads(o.threads);
    char path[1200], ckpt[1200], samples[1200];
    snprintf(samples, sizeof samples, "%s/samples", o.out);
    if (mkdir_p(o.out) || mkdir_p(samples)) return 1;

    /* ---- data: Fashion-MNIST train, scaled to [-1, 1] like tanh's range ---- */
    genrep_dataset data;
    const char *dir = o.data_dir[0] ? o.data_dir : genrep_fmnist_default_dir();
    genrep_status s = genrep_fmnist_load(&data, dir, 1);
    if (s) {
        report_status("gan-train", "loading Fashion-MNIST", s);
        fprintf(stderr, "genrep gan-train: install Debian's dataset-fashion-mnist or pass --data-dir DIR\n");
        return 1;
    }
    const int N = (int)data.n, HW = 784, B = o.batch, Z = o.zdim;
    for (size_t i = 0; i < (size_t)N * HW; i++) data.images[i] = 2.0f * data.images[i] - 1.0f;

    /* ---- models, optimiser state, buffers ---- */
    genrep_gan_config cfg;
    genrep_gan_config_default(&cfg, (genrep_gan_kind)o.kind);
    cfg.zdim = Z; cfg.width = o.width; cfg.dwidth = o.dwidth;
    const int cond = o.kind == GENREP_GAN_CGAN, K = cfg.n_classes;
    gan_state st;
    memset(&st, 0, sizeof st);
    int rc = 1;
    float *real2 = NULL, *z = NULL, *zs = NULL, *img = NULL, *logits = NULL, *dlog = NULL, *dfake = NULL;
    int32_t *perm = NULL, *y2 = NULL, *ys = NULL;
    FILE *metrics = NULL;
    if ((s = genrep_gen_create(&st.g, &cfg, B > 100 ? B : 100, o.seed)) ||
        (s = genrep_disc_create(&st.d, &cfg, 2 * B, o.seed + 1))) {
        report_status("gan-train", "creating the models", s);
        goto done;
    }
    st.gm = (float *)calloc(st.g.n_params, sizeof(float));
    st.gv = (float *)calloc(st.g.n_params, sizeof(float));
    st.dm = (float *)calloc(st.d.n_params, sizeof(float));
    st.dv = (float *)calloc(st.d.n_params, sizeof(float));
    real2 = (float *)malloc((size_t)2 * B * HW * sizeof(float)); /* [real; fake] */
    z = (float *)malloc((size_t)B * Z * sizeof(float));
    zs = (float *)malloc((size_t)100 * Z * sizeof(float));
    img = (float *)malloc((size_t)100 * HW * sizeof(float));
    logits = (float *)malloc((size_t)2 * B * sizeof(float));
    dlog = (float *)malloc((size_t)2 * B * sizeof(float));
    dfake = (float *)malloc((size_t)B * HW * sizeof(float));
    perm = (int32_t *)malloc((size_t)N * sizeof(int32_t));
    y2 = (int32_t *)malloc((size_t)2 * B * sizeof(int32_t)); /* [real labels; fake labels] */
    ys = (int32_t *)malloc(100 * sizeof(int32_t));
    if (!st.gm || !st.gv || !st.dm || !st.dv || !real2 || !z || !zs || !img || !logits || !dlog || !dfake ||
        !perm || !y2 || !ys) {
        fprintf(stderr, "genrep gan-train: out of memory (try a smaller --batch)\n");
        goto done;
    }

    snprintf(ckpt, sizeof ckpt, "%s/ckpt.safetensors", o.out);
    if (o.resume && file_exists(ckpt)) {
        if (gan_ckpt_load(ckpt, &o, &st)) goto done;
        if (!o.quiet) printf("gan-train: resumed from %s at step %lld\n", ckpt, (long long)st.step);
    }
    const int64_t start = st.step;
    snprintf(path, sizeof path, "%s/config.txt", o.out);
    if (gan_write_config(path, &o, dir, start)) goto done;
    snprintf(path, sizeof path, "%s/metrics.csv", o.out);
    if (!(metrics = gan_open_metrics(path, start))) goto done;
    /* fixed sample latents: stream space of the step latents is never reached */
    gan_latents(zs, NULL, 100, Z, K, o.seed ^ 0xfeedull, (uint64_t)1 << 62);
    for (int i = 0; i < 100; i++) ys[i] = i / 10;

    genrep_adam_config ag = {o.lr_g, o.beta1, o.beta2, 1e-8f, 0.0f, 0};
    genrep_adam_config ad = {o.lr_d, o.beta1, o.beta2, 1e-8f, 0.0f, 0};
    gan_stop = 0;
    void (*old_handler)(int) = signal(SIGINT, gan_on_sigint);
    int64_t cur_epoch = -1;
    double t0 = now_seconds(), tlog = t0;
    int64_t steps_since_log = 0;
    double sum_d = 0, sum_g = 0, sum_real = 0, sum_fake = 0;
    if (!o.quiet)
        printf("gan-train: %s, %d steps of batch %d, %.1f MMAC/img generator, %d threads, %s; run dir %s\n",
               cond ? "cgan" : "dcgan", o.steps, B, genrep_gen_macs(&cfg) * 1e-6, genrep_num_threads(),
               genrep_isa_name(genrep_get_isa()), o.out);
    fflush(stdout);
    rc = 0;
    while (st.step < o.steps && !gan_stop) {
        const int64_t step = st.step;
        /* real batch: samples step*B .. step*B+B-1 of the epoch permutations */
        for (int b = 0; b < B; b++) {
            int64_t k = step * B + b, epoch = k / N;
            if (epoch != cur_epoch) { gan_permutation(perm, N, o.seed, epoch); cur_epoch = epoch; }
            int idx = perm[k % N];
            memcpy(real2 + (size_t)b * HW, data.images + (size_t)idx * HW, HW * sizeof(float));
            y2[b] = data.labels[idx];
        }
        gan_latents(z, cond ? y2 + B : NULL, B, Z, K, o.seed, (uint64_t)step * B);

        /* ---- D step: D([real; G(z)]) ---- */
        if ((s = genrep_gen_forward(&st.g, z, cond ? y2 + B : NULL, B, 1))) goto fail;
        memcpy(real2 + (size_t)B * HW, genrep_gen_output(&st.g), (size_t)B * HW * sizeof(float));
        if ((s = genrep_disc_forward(&st.d, logits, real2, cond ? y2 : NULL, 2 * B))) goto fail;
        float l_real, l_fake, l_g;
        genrep_gan_loss(&l_real, dlog, logits, B, (genrep_gan_loss_kind)o.loss, GENREP_GAN_D_REAL);
        genrep_gan_loss(&l_fake, dlog + B, logits + B, B, (genrep_gan_loss_kind)o.loss, GENREP_GAN_D_FAKE);
        for (int b = 0; b < B; b++) { sum_real += logits[b] / B; sum_fake += logits[B + b] / B; }
        genrep_disc_zero_grad(&st.d);
        if ((s = genrep_disc_backward(&st.d, NULL, dlog, 1))) goto fail;
        if ((s = genrep_gan_adam_step(st.d.params, st.dm, st.dv, st.d.grads, st.d.table, st.d.n_tensors, &ad, step + 1)))
            goto fail;

        /* ---- G step: the same fakes through the updated D ---- */
        if ((s = genrep_disc_forward(&st.d, logits, genrep_gen_output(&st.g), cond ? y2 + B : NULL, B))) goto fail;
        genrep_gan_loss(&l_g, dlog, logits, B, (genrep_gan_loss_kind)o.loss, GENREP_GAN_G);
        memset(dfake, 0, (size_t)B * HW * sizeof(float));
        if ((s = genrep_disc_backward(&st.d, dfake, dlog, 0))) goto fail;
        genrep_gen_zero_grad(&st.g);
        if ((s = genrep_gen_backward(&st.g, NULL, dfake))) goto fail;
        if ((s = genrep_gan_adam_step(st.g.params, st.gm, st.gv, st.g.grads, st.g.table, st.g.n_tensors, &ag, step + 1)))
            goto fail;

        float l_d = l_real + l_fake;
        if (!isfinite(l_d) || !isfinite(l_g)) {
            fprintf(stderr, "genrep gan-train: step %lld: loss is not finite (d %g, g %g); the last checkpoint "
                    "is kept. Try a lower --lr or --loss hinge.\n", (long long)step + 1, l_d, l_g);
            rc = 1;
            break;
        }
        st.step++;
        sum_d += l_d; sum_g += l_g; steps_since_log++;

        int last = st.step == o.steps;
        if (st.step % o.log_every == 0 || last) {
            double t = now_seconds(), ips = (double)steps_since_log * B / (t - tlog);
            double n = (double)steps_since_log;
            fprintf(metrics, "%lld,%.6f,%.6f,%.4f,%.4f,%.1f\n", (long long)st.step, sum_d / n, sum_g / n,
                    sum_real / n, sum_fake / n, ips);
            fflush(metrics);
            if (!o.quiet) {
                char eta[32];
                format_eta(eta, sizeof eta, (t - t0) / (double)(st.step - start) * (double)(o.steps - st.step));
                printf("step %7lld/%d  d_loss %.4f  g_loss %.4f  D(real) %+.2f  D(fake) %+.2f  %.0f img/s  ETA %s\n",
                       (long long)st.step, o.steps, sum_d / n, sum_g / n, sum_real / n, sum_fake / n, ips, eta);
                fflush(stdout);
            }
            tlog = t; steps_since_log = 0; sum_d = sum_g = sum_real = sum_fake = 0;
        }
        if (st.step % o.sample_every == 0 || last)
            if (gan_write_samples(samples, st.step, &st.g, zs, cond ? ys : NULL, img)) { rc = 1; break; }
        if (st.step % o.ckpt_every == 0 || last) {
            if ((s = gan_ckpt_save(ckpt, &o, &st))) { report_status("gan-train", ckpt, s); rc = 1; break; }
            snprintf(path, sizeof path, "%s/generator.safetensors", o.out);
            char stepv[32];
            snprintf(stepv, sizeof stepv, "%lld", (long long)st.step);
            const char *extra[2] = {"genrep.step", stepv};
            if ((s = genrep_gen_save(&st.g, path, extra, 1))) { report_status("gan-train", path, s); rc = 1; break; }
        }
        continue;
    fail:
        report_status("gan-train", "training step", s);
        rc = 1;
        break;
    }
    signal(SIGINT, old_handler);
    if (gan_stop && rc == 0) {
        if ((s = gan_ckpt_save(ckpt, &o, &st))) { report_status("gan-train", ckpt, s); rc = 1; }
        else if (!o.quiet) printf("gan-train: interrupted; saved step %lld to %s (rerun the same command to resume)\n",
                                  (long long)st.step, ckpt);
    }
    if (rc == 0 && !o.quiet && !gan_stop)
        printf("gan-train: done, %lld steps in %.1f s; weights in %s/generator.safetensors\n",
               (long long)(st.step - start), now_seconds() - t0, o.out);

done:
    if (metrics) fclose(metrics);
    free(real2); free(z); free(zs); free(img); free(logits); free(dlog); free(dfake); free(perm); free(y2); free(ys);
    free(st.gm); free(st.gv); free(st.dm); free(st.dv);
    genrep_gen_free(&st.g);
    genrep_disc_free(&st.d);
    genrep_dataset_free(&data);
    return rc;
}
