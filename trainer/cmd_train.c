/* trainer/cmd_train.c: `genrep train`, contrastive (or baseline) training of
   an encoder on views rendered by a generator, or on real Fashion-MNIST. */
#include "common.h"
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SRC_GEN = 0, SRC_FMNIST = 1 };
enum { LOSS_NTXENT = 0, LOSS_SUPCON, LOSS_CE, LOSS_INVERTER };
static const char *loss_names[] = {"ntxent", "supcon", "ce", "inverter"};

typedef struct {
    char  gen[1024], data_dir[1024], out[1024], encoder[32], walks[1024];
    int   source, loss, aug, pool, anchors, batch, steps, epochs, threads, ckpt_every, resume, warmup;
    int   scale_base_tau, quiet, width, blocks; /* 0: the encoder's own */
    int64_t debug_nan_at;  /* hidden --debug-nan-at STEP: pretend the loss of that step is NaN (tests) */
    genrep_view_kind views;
    float sigma, lr, wd, momentum, tau, alpha;
    uint64_t seed;
} train_opts;

static volatile sig_atomic_t stop_requested = 0;
static void on_sigint(int sig) { (void)sig; stop_requested = 1; }

static void usage(FILE *f) {
    fprintf(f,
        "usage: genrep train (--gen WEIGHTS.safetensors | --data fmnist) --out RUN_DIR [flags]\n"
        "  source:  --gen FILE         generator weights (weights/fmnist_dcgan.safetensors ...)\n"
        "           --data fmnist      real Fashion-MNIST train images (the real-data baseline)\n"
        "           --data-dir DIR     Fashion-MNIST files (default $GENREP_FMNIST_DIR or Debian's path)\n"
        "  views:   --views gauss|angular|independent|steer|none (default gauss)\n"
        "           --sigma S          latent noise scale for gauss/angular (default 0.2)\n"
        "           --walks FILE       steering walks (genrep steer-train) for --views steer\n"
        "           --online           fresh anchors every step (default)\n"
        "           --pool N           pre-generate N neighbours per anchor into RUN_DIR/pool.bin\n"
        "           --anchors A        unique anchors of the pool (default 60000)\n"
        "  pixels:  --aug simclr|none  pixel augmentations on both views (default simclr)\n"
        "  loss:    --loss ntxent|supcon|ce|inverter (default ntxent); --tau T (0.1);\n"
        "           --scale-base-tau   multiply the loss by tau/0.07 as the reference code does\n"
        "  model:   --encoder small|resnet18 (default small)\n"
        "           --width W          base channels: small W/2W/4W (default 32), resnet18 W..8W (64)\n"
        "           --blocks N         basic blocks per stage (default 2)\n"
        "  optim:   --batch B (256) --steps N | --epochs E (of 60000 anchors) --lr (0.05)\n"
        "           --wd (1e-4) --momentum (0.9) --warmup STEPS (default 5%% of steps), cosine schedule\n"
        "  run:     --seed S (0) --threads T --ckpt-every N (200) --resume auto|no (auto) --quiet\n"
        "Writes RUN_DIR/config.txt, metrics.csv, ckpt.safetensors (atomic). Ctrl-C saves and exits.\n");
}

/* 0: run; 1: --help was printed; -1: a bad flag, the message printed. */
static int parse(train_opts *o, int argc, char **argv) {
    const char *C = "train";
    memset(o, 0, sizeof *o);
    o->source = -1; o->views = GENREP_VIEW_GAUSS; o->sigma = 0.2f; o->aug = 1; o->anchors = 60000;
    o->batch = 256; o->lr = 0.05f; o->wd = 1e-4f; o->momentum = 0.9f; o->tau = 0.1f; o->ckpt_every = 200;
    o->resume = 1; o->warmup = -1; o->alpha = 1.0f;
    snprintf(o->encoder, sizeof o->encoder, "small");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
#define VAL() do { if (!(v = flag_value(C, argc, argv, &i))) return -1; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 1; }
        else if (!strcmp(a, "--gen")) { VAL(); snprintf(o->gen, sizeof o->gen, "%s", v); o->source = SRC_GEN; }
        else if (!strcmp(a, "--data")) {
            VAL();
            if (strcmp(v, "fmnist")) { fprintf(stderr, "genrep train: --data: '%s' unknown, expected fmnist\n", v); return -1; }
            o->source = SRC_FMNIST;
        }
        else if (!strcmp(a, "--data-dir")) { VAL(); snprintf(o->data_dir, sizeof o->data_dir, "%s", v); }
        else if (!strcmp(a, "--out")) { VAL(); snprintf(o->out, sizeof o->out, "%s", v); }
        else if (!strcmp(a, "--walks")) { VAL(); snprintf(o->walks, sizeof o->walks, "%s", v); }
        else if (!strcmp(a, "--views")) {
            VAL();
            if (genrep_view_parse(&o->views, v)) { fprintf(stderr, "genrep train: --views: %s\n", genrep_last_error()); return -1; }
        }
        else if (!strcmp(a, "--sigma")) { VAL(); if (flag_float(C, a, v, 0, 100, &o->sigma)) return -1; }
        else if (!strcmp(a, "--online")) o->pool = 0;
        else if (!strcmp(a, "--pool")) { VAL(); if (flag_int(C, a, v, 1, 1000, &o->pool)) return -1; }
        else if (!strcmp(a, "--anchors")) { VAL(); if (flag_int(C, a, v, 1, 100000000, &o->anchors)) return -1; }
        else if (!strcmp(a, "--aug")) {
            VAL();
            if (!strcmp(v, "simclr")) o->aug = 1;
            else if (!strcmp(v, "none")) o->aug = 0;
            else { fprintf(stderr, "genrep train: --aug: '%s' unknown, expected simclr or none\n", v); return -1; }
        }
        else if (!strcmp(a, "--loss")) {
            VAL();
            int k = -1;
            for (int j = 0; j < 4; j++) if (!strcmp(v, loss_names[j])) k = j;
            if (k < 0) { fprintf(stderr, "genrep train: --loss: '%s' unknown, expected ntxent, supcon, ce or inverter\n", v); return -1; }
            o->loss = k;
        }
        else if (!strcmp(a, "--tau")) { VAL(); if (flag_float(C, a, v, 1e-4, 100, &o->tau)) return -1; }
        else if (!strcmp(a, "--scale-base-tau")) o->scale_base_tau = 1;
        else if (!strcmp(a, "--encoder")) {
            VAL();
            if (strcmp(v, "small") && strcmp(v, "resnet18")) { fprintf(stderr, "genrep train: --encoder: '%s' unknown, expected small or resnet18\n", v); return -1; }
            snprintf(o->encoder, sizeof o->encoder, "%s", v);
        }
        else if (!strcmp(a, "--width")) { VAL(); if (flag_int(C, a, v, 1, ENC_MAX_WIDTH, &o->width)) return -1; }
        else if (!strcmp(a, "--blocks")) { VAL(); if (flag_int(C, a, v, 1, ENC_MAX_BLOCKS, &o->blocks)) return -1; }
        else if (!strcmp(a, "--batch")) { VAL(); if (flag_int(C, a, v, 2, 4096, &o->batch)) return -1; }
        else if (!strcmp(a, "--steps")) { VAL(); if (flag_int(C, a, v, 1, 100000000, &o->steps)) return -1; }
        else if (!strcmp(a, "--epochs")) { VAL(); if (flag_int(C, a, v, 1, 100000, &o->epochs)) return -1; }
        else if (!strcmp(a, "--lr")) { VAL(); if (flag_float(C, a, v, 1e-8, 100, &o->lr)) return -1; }
        else if (!strcmp(a, "--wd")) { VAL(); if (flag_float(C, a, v, 0, 1, &o->wd)) return -1; }
        else if (!strcmp(a, "--momentum")) { VAL(); if (flag_float(C, a, v, 0, 0.9999, &o->momentum)) return -1; }
        else if (!strcmp(a, "--warmup")) { VAL(); if (flag_int(C, a, v, 0, 100000000, &o->warmup)) return -1; }
        else if (!strcmp(a, "--alpha")) { VAL(); if (flag_float(C, a, v, 0, 100, &o->alpha)) return -1; }
        else if (!strcmp(a, "--seed")) { VAL(); if (flag_u64(C, a, v, &o->seed)) return -1; }
        else if (!strcmp(a, "--threads")) { VAL(); if (flag_int(C, a, v, 1, 1024, &o->threads)) return -1; }
        else if (!strcmp(a, "--ckpt-every")) { VAL(); if (flag_int(C, a, v, 1, 100000000, &o->ckpt_every)) return -1; }
        else if (!strcmp(a, "--resume")) {
            VAL();
            if (!strcmp(v, "auto")) o->resume = 1;
            else if (!strcmp(v, "no")) o->resume = 0;
            else { fprintf(stderr, "genrep train: --resume: '%s' unknown, expected auto or no\n", v); return -1; }
        }
        else if (!strcmp(a, "--quiet")) o->quiet = 1;
        else if (!strcmp(a, "--debug-nan-at")) {
            int k; VAL(); if (flag_int(C, a, v, 1, 100000000, &k)) return -1;
            o->debug_nan_at = k;
        }
        else { fprintf(stderr, "genrep train: unknown flag '%s' (genrep train --help lists them)\n", a); return -1; }
#undef VAL
    }
    if (o->source < 0) { fprintf(stderr, "genrep train: give a data source: --gen WEIGHTS.safetensors or --data fmnist\n"); return -1; }
    if (!o->out[0]) { fprintf(stderr, "genrep train: --out RUN_DIR is required\n"); return -1; }
    if (o->steps && o->epochs) { fprintf(stderr, "genrep train: give --steps or --epochs, not both\n"); return -1; }
    if (!o->steps) o->steps = o->epochs ? (int)(((int64_t)o->epochs * 60000 + o->batch - 1) / o->batch) : 1000;
    if (o->warmup < 0) o->warmup = o->steps / 20;
    if (o->source == SRC_FMNIST && o->loss == LOSS_INVERTER) {
        fprintf(stderr, "genrep train: --loss inverter needs a generator (--gen): real images have no latent\n"); return -1;
    }
    if (o->views == GENREP_VIEW_STEER && !o->walks[0] && o->source == SRC_GEN) {
        fprintf(stderr, "genrep train: --views steer needs --walks FILE (made by genrep steer-train)\n"); return -1;
    }
    return 0;
}

int genrep_cmd_train(int argc, char **argv) {
    train_opts o;
    int pr = parse(&o, argc, argv);
    if (pr) return pr > 0 ? 0 : 2; /* 1: --help was printed */
    if (o.threads) genrep_set_num_threads(o.threads);
    if (mkdir_p(o.out)) return 1;
    const int B = o.batch, B2 = 2 * B, H = 28, W = 28, HW = H * W;
    genrep_status s;
    char path[1200], ckpt[1200];

    /* ---- data source ---- */
    genrep_gen g; memset(&g, 0, sizeof g);
    genrep_dataset train; memset(&train, 0, sizeof train);
    int cond = 0, Z = 0, ncls = 10;
    float *walks = NULL, *alpha_max = NULL; int n_walks = 0;
    if (o.source == SRC_GEN) {
        if ((s = gen_load(o.gen, &g, B))) { report_status("train", o.gen, s); return 1; }
        cond = g.cfg.kind == GENREP_GAN_CGAN; Z = g.cfg.zdim; ncls = g.cfg.n_classes;
        if ((o.views == GENREP_VIEW_INDEPENDENT || o.loss == LOSS_SUPCON || o.loss == LOSS_CE) && !cond) {
            fprintf(stderr, "genrep train: --%s needs a class-conditional generator; %s is unconditional\n",
                    o.views == GENREP_VIEW_INDEPENDENT ? "views independent" : "loss supcon/ce", o.gen);
            genrep_gen_free(&g); return 2;
        }
        if (o.views == GENREP_VIEW_STEER) {
            genrep_st *ws;
            if ((s = genrep_st_open(&ws, o.walks, 0))) { report_status("train", o.walks, s); genrep_gen_free(&g); return 1; }
            const genrep_st_tensor *wt = genrep_st_find(ws, "walks"), *at = genrep_st_find(ws, "alpha_max");
            if (!wt || !at || wt->ndim != 2 || wt->shape[1] != Z || at->numel != wt->shape[0]) {
                fprintf(stderr, "genrep train: %s: expected tensors walks (T,%d) and alpha_max (T)\n", o.walks, Z);
                genrep_st_close(ws); genrep_gen_free(&g); return 1;
            }
            n_walks = (int)wt->shape[0];
            walks = (float *)malloc(sizeof(float) * (size_t)n_walks * Z);
            alpha_max = (float *)malloc(sizeof(float) * (size_t)n_walks);
            memcpy(walks, wt->data, sizeof(float) * (size_t)n_walks * Z);
            for (int t = 0; t < n_walks; t++) alpha_max[t] = at->data[t] * o.alpha;
            genrep_st_close(ws);
        }
    } else {
        if ((s = genrep_fmnist_load(&train, o.data_dir[0] ? o.data_dir : NULL, 1))) {
            report_status("train", "loading Fashion-MNIST", s); return 1;
        }
    }

    /* ---- encoder and optimiser ---- */
    genrep_encoder_config ec;
    enc_config_by_name(&ec, o.encoder, o.width, o.blocks, 1, H, W);
    int head_dim = 0; /* CE / inverter: linear head on the features instead of the projection head */
    if (o.loss == LOSS_CE || o.loss == LOSS_INVERTER) { ec.head_out = 0; ec.head_hidden = 0; }
    genrep_encoder e;
    if ((s = genrep_encoder_create(&e, &ec, B2, o.seed ^ 0xE7C0DE))) { report_status("train", "encoder", s); return 1; }
    int F = e.feat_dim;
    if (o.loss == LOSS_CE) head_dim = ncls;
    if (o.loss == LOSS_INVERTER) head_dim = Z;
    size_t np = e.num_params, nh = (size_t)head_dim * F + head_dim;
    float *mom = (float *)calloc(np, sizeof(float));
    float *head = (float *)calloc(nh + 1, sizeof(float)), *dhead = (float *)calloc(nh + 1, sizeof(float));
    float *hmom = (float *)calloc(nh + 1, sizeof(float));
    {   /* head init: PyTorch Linear default uniform(-1/sqrt(F), 1/sqrt(F)) */
        genrep_rng r; genrep_rng_init(&r, o.seed ^ 0x4EAD, 0);
        for (size_t i = 0; i < nh; i++) head[i] = (2.0f * genrep_rng_uniform(&r) - 1.0f) / sqrtf((float)F);
    }
    int64_t step0 = 0;
    snprintf(ckpt, sizeof ckpt, "%s/ckpt.safetensors", o.out);
    extra_tensor ex[3] = {{"optim.momentum", mom, np}, {"head.linear", head, nh}, {"optim.head_momentum", hmom, nh}};
    int n_ex = head_dim ? 3 : 1;
    if (o.resume && file_exists(ckpt)) {
        genrep_encoder e2; genrep_st *cst;
        {   /* another architecture, width or depth: say so before the tensor sizes disagree */
            genrep_st *peek;
            if (!genrep_st_open(&peek, ckpt, 0)) {
                genrep_encoder_config fc;
                const char *fa;
                int bad = enc_config_from_meta(peek, ckpt, &fc, &fa) != GENREP_OK;
                int other = !bad && (strcmp(fa, o.encoder) || fc.stem_width != ec.stem_width || fc.blocks[0] != ec.blocks[0]);
                if (other) fprintf(stderr, "genrep train: %s was made with --encoder %s --width %d --blocks %d, not --encoder %s "
                                   "--width %d --blocks %d (use another --out, or the same flags)\n", ckpt, fa,
                                   fc.stem_width, fc.blocks[0], o.encoder, ec.stem_width, ec.blocks[0]);
                genrep_st_close(peek);
                if (bad || other) return 1;
            }
        }
        if ((s = enc_load(ckpt, &e2, B2, ex, n_ex, &cst))) { report_status("train", ckpt, s); return 1; }
        const char *st_step = genrep_st_meta(cst, "genrep.step");
        step0 = st_step ? atoll(st_step) : 0;
        if (step0 < 0 || step0 > o.steps) {
            fprintf(stderr, "genrep train: %s: metadata genrep.step = %s is outside 0..%d (--steps)\n", ckpt,
                    st_step, o.steps);
            genrep_encoder_free(&e2); genrep_st_close(cst); return 1;
        }
        if (e2.num_params != e.num_params) {
            fprintf(stderr, "genrep train: %s was made with another encoder (not --encoder %s --width %d --blocks %d)\n", ckpt, o.encoder, ec.stem_width, ec.blocks[0]);
            genrep_encoder_free(&e2); genrep_st_close(cst); return 1;
        }
        memcpy(e.params, e2.params, (e.num_params + e.num_buffers) * sizeof(float));
        genrep_encoder_free(&e2); genrep_st_close(cst);
        fprintf(stderr, "genrep train: resuming %s at step %lld\n", ckpt, (long long)step0);
    }

    /* ---- config.txt ---- */
    char cfgtxt[4096];
    snprintf(cfgtxt, sizeof cfgtxt,
             "source = %s\ngen = %s\nviews = %s\nsigma = %g\nwalks = %s\nalpha = %g\npool = %d\nanchors = %d\naug = %s\n"
             "loss = %s\ntau = %g\nscale_base_tau = %d\nencoder = %s\nwidth = %d\nblocks = %d\nbatch = %d\nsteps = %d\nlr = %g\nwd = %g\n"
             "momentum = %g\nwarmup = %d\nseed = %llu\nthreads = %d\nisa = %s\n",
             o.source == SRC_GEN ? "generator" : "fmnist", o.gen, genrep_view_name(o.views), o.sigma, o.walks, o.alpha,
             o.pool, o.anchors, o.aug ? "simclr" : "none", loss_names[o.loss], o.tau, o.scale_base_tau, o.encoder, ec.stem_width, ec.blocks[0], B,
             o.steps, o.lr, o.wd, o.momentum, o.warmup, (unsigned long long)o.seed, genrep_num_threads(),
             genrep_isa_name(genrep_get_isa()));
    snprintf(path, sizeof path, "%s/config.txt", o.out);
    if (write_text_atomic(path, cfgtxt)) return 1;

    /* ---- pool of latent neighbours ---- */
    pool_t pool = {0, 0, 0, NULL, NULL};
    if (o.source == SRC_GEN && o.pool > 0) {
        pool.A = o.anchors; pool.N = o.pool; pool.Z = Z;
        pool.z = (float *)malloc(sizeof(float) * (size_t)pool.A * (pool.N + 1) * Z);
        pool.y = cond ? (int32_t *)malloc(sizeof(int32_t) * (size_t)pool.A) : NULL;
        if (!pool.z || (cond && !pool.y)) { fprintf(stderr, "genrep train: pool of %d x %d latents does not fit in memory\n", pool.A, pool.N + 1); return 1; }
        snprintf(path, sizeof path, "%s/pool.bin", o.out);
        if (pool_read(path, &pool, pool.A, pool.N, Z, cond ? ncls : 0)) {
            genrep_view_config vc = {o.views, o.sigma, 1.0f, n_walks, walks, alpha_max};
            float *za = (float *)malloc(sizeof(float) * (size_t)pool.A * Z);
            float *zv = (float *)malloc(sizeof(float) * (size_t)pool.A * Z);
            genrep_latent_anchors(za, pool.A, Z, 1.0f, o.seed, 0);
            if (cond) genrep_latent_classes(pool.y, pool.A, ncls, o.seed, 0);
            for (int a = 0; a < pool.A; a++) memcpy(pool.z + (size_t)a * (pool.N + 1) * Z, za + (size_t)a * Z, sizeof(float) * Z);
            for (int j = 1; j <= pool.N; j++) {
                if (o.views == GENREP_VIEW_NONE) memcpy(zv, za, sizeof(float) * (size_t)pool.A * Z);
                else genrep_latent_view(zv, za, pool.A, Z, &vc, o.seed, 0, j);
                for (int a = 0; a < pool.A; a++)
                    memcpy(pool.z + ((size_t)a * (pool.N + 1) + j) * Z, zv + (size_t)a * Z, sizeof(float) * Z);
            }
            free(za); free(zv);
            if (pool_write(path, &pool)) return 1;
        }
    }

    /* ---- buffers ---- */
    float *z1 = (float *)malloc(sizeof(float) * (size_t)B * (Z ? Z : 1)), *z2 = (float *)malloc(sizeof(float) * (size_t)B * (Z ? Z : 1));
    int32_t *y = (int32_t *)malloc(sizeof(int32_t) * B2);
    float *raw = (float *)malloc(sizeof(float) * (size_t)B2 * HW), *x = (float *)malloc(sizeof(float) * (size_t)B2 * HW);
    size_t lws = o.loss == LOSS_SUPCON ? genrep_supcon_workspace(B) : genrep_ntxent_workspace(B);
    float *lw = (float *)malloc(sizeof(float) * (lws + 1));
    float *dz = (float *)malloc(sizeof(float) * (size_t)B2 * (e.out_dim > head_dim ? e.out_dim : head_dim));
    float *hout = (float *)malloc(sizeof(float) * (size_t)B2 * (head_dim + 1)), *probs = (float *)malloc(sizeof(float) * (size_t)B2 * (head_dim + 1));
    float *dhout = (float *)malloc(sizeof(float) * (size_t)B2 * (head_dim + 1)), *target = (float *)malloc(sizeof(float) * (size_t)B2 * (Z + 1));
    genrep_aug_config ac;
    genrep_aug_config_simclr(&ac, H, W);
    const float norm_mean = 0.5f, norm_std = 0.5f; /* encoder input (x - 0.5) / 0.5 for every source */

    snprintf(path, sizeof path, "%s/metrics.csv", o.out);
    if (step0) { /* drop rows logged after the checkpoint we resume from */
        FILE *old = fopen(path, "r");
        char keep[1300], line[512];
        snprintf(keep, sizeof keep, "%s.keep", path);
        FILE *nf = fopen(keep, "w");
        if (old && nf) {
            while (fgets(line, sizeof line, old))
                if (!strncmp(line, "step", 4) || atoll(line) <= step0) fputs(line, nf);
        }
        if (old) fclose(old);
        if (nf) { fclose(nf); rename(keep, path); }
    }
    FILE *mf = fopen(path, step0 ? "a" : "w");
    if (!mf) { fprintf(stderr, "genrep train: cannot write %s\n", path); return 1; }
    if (!step0) fprintf(mf, "step,loss,lr,img_per_s\n");
    signal(SIGINT, on_sigint);
    genrep_sgd_config sgd = {o.lr, o.momentum, o.wd, 0};
    genrep_sgd_config sgd_head = {o.lr, o.momentum, o.wd, 0};
    double t0 = now_seconds(), tlast = t0;
    int rc = 0;
    float loss = 0;
    const uint64_t seed_pick = o.seed ^ 0x51C4, seed_aug = o.seed ^ 0xA06;
    for (int64_t step = step0; step < o.steps; step++) {
        uint64_t first = (uint64_t)step * B; /* sample indices of this step */
        /* 1. the two views before pixel augmentation, in [0, 1] */
        if (o.source == SRC_GEN) {
            if (pool.z) {
                for (int b = 0; b < B; b++) {
                    genrep_rng r; genrep_rng_init(&r, seed_pick, first + b);
                    uint32_t a = genrep_rng_below(&r, (uint32_t)pool.A), j = 1 + genrep_rng_below(&r, (uint32_t)pool.N);
                    memcpy(z1 + (size_t)b * Z, pool.z + (size_t)a * (pool.N + 1) * Z, sizeof(float) * Z);
                    memcpy(z2 + (size_t)b * Z, pool.z + ((size_t)a * (pool.N + 1) + j) * Z, sizeof(float) * Z);
                    if (cond) y[b] = pool.y[a];
                }
            } else {
                genrep_view_config vc = {o.views, o.sigma, 1.0f, n_walks, walks, alpha_max};
                genrep_latent_anchors(z1, B, Z, 1.0f, o.seed, first);
                if (cond) genrep_latent_classes(y, B, ncls, o.seed, first);
                if (o.views == GENREP_VIEW_NONE) memcpy(z2, z1, sizeof(float) * (size_t)B * Z);
                else genrep_latent_view(z2, z1, B, Z, &vc, o.seed, first, 1);
            }
            if ((s = genrep_gen_render(&g, raw, z1, cond ? y : NULL, B))
                || (s = genrep_gen_render(&g, raw + (size_t)B * HW, z2, cond ? y : NULL, B))) {
                report_status("train", "rendering", s); rc = 1; break;
            }
            for (size_t i = 0; i < (size_t)B2 * HW; i++) raw[i] = 0.5f * (raw[i] + 1.0f); /* tanh range -> [0,1] */
        } else {
            for (int b = 0; b < B; b++) {
                genrep_rng r; genrep_rng_init(&r, seed_pick, first + b);
                uint32_t idx = genrep_rng_below(&r, (uint32_t)train.n);
                memcpy(raw + (size_t)b * HW, train.images + (size_t)idx * HW, sizeof(float) * HW);
                memcpy(raw + (size_t)(B + b) * HW, train.images + (size_t)idx * HW, sizeof(float) * HW);
                y[b] = train.labels[idx];
            }
        }
        for (int b = 0; b < B; b++) y[B + b] = y[b];
        /* 2. pixel augmentations, independently per view, then normalisation */
        if (o.aug) {
            genrep_augment_batch(x, raw, B, 1, H, W, &ac, seed_aug, first, 1);
            genrep_augment_batch(x + (size_t)B * HW, raw + (size_t)B * HW, B, 1, H, W, &ac, seed_aug, first, 2);
        } else memcpy(x, raw, sizeof(float) * (size_t)B2 * HW);
        for (size_t i = 0; i < (size_t)B2 * HW; i++) x[i] = (x[i] - norm_mean) / norm_std;
        /* 3. forward, loss, backward */
        memset(e.grads, 0, sizeof(float) * np);
        if ((s = genrep_encoder_forward(&e, x, B2, 1))) { report_status("train", "encoder forward", s); rc = 1; break; }
        memset(dz, 0, sizeof(float) * (size_t)B2 * (e.out_dim > head_dim ? e.out_dim : head_dim));
        int flags = o.scale_base_tau ? GENREP_LOSS_SCALE_BASE_TAU : 0;
        if (o.loss == LOSS_NTXENT) {
            s = genrep_ntxent_forward(&loss, lw, e.out, B, e.out_dim, o.tau, flags);
            if (!s) s = genrep_ntxent_backward(dz, lw, e.out, B, e.out_dim, o.tau, flags, 1.0f);
        } else if (o.loss == LOSS_SUPCON) {
            s = genrep_supcon_forward(&loss, lw, e.out, y, B, e.out_dim, o.tau, flags);
            if (!s) s = genrep_supcon_backward(dz, lw, e.out, y, B, e.out_dim, o.tau, flags, 1.0f);
        } else {
            memset(dhead, 0, sizeof(float) * nh);
            memset(dhout, 0, sizeof(float) * (size_t)B2 * head_dim);
            s = genrep_linear_forward(hout, e.out, head, head + (size_t)head_dim * F, B2, F, head_dim);
            if (!s && o.loss == LOSS_CE) {
                s = genrep_softmax_xent_forward(&loss, probs, hout, y, B2, head_dim);
                if (!s) s = genrep_softmax_xent_backward(dhout, probs, y, B2, head_dim, 1.0f);
            } else if (!s) {
                memcpy(target, z1, sizeof(float) * (size_t)B * Z);
                memcpy(target + (size_t)B * Z, z2, sizeof(float) * (size_t)B * Z);
                s = genrep_mse_forward(&loss, hout, target, (size_t)B2 * Z);
                if (!s) s = genrep_mse_backward(dhout, hout, target, (size_t)B2 * Z, 1.0f);
            }
            if (!s) s = genrep_linear_backward(dz, dhead, dhead + (size_t)head_dim * F, dhout, e.out, head, B2, F, head_dim);
        }
        if (!s) s = genrep_encoder_backward(&e, NULL, dz);
        if (s) { report_status("train", "loss/backward", s); rc = 1; break; }
        if (o.debug_nan_at == step + 1) loss = NAN;
        size_t bad_grad = np;
        for (size_t i = 0; i < np && bad_grad == np; i++) if (!isfinite(e.grads[i])) bad_grad = i;
        if (!isfinite(loss) || bad_grad < np) {
            if (!isfinite(loss)) fprintf(stderr, "\ngenrep train: loss is %g at step %lld", loss, (long long)step + 1);
            else fprintf(stderr, "\ngenrep train: gradient %zu is %g at step %lld", bad_grad, e.grads[bad_grad],
                         (long long)step + 1);
            fprintf(stderr, "; stopping without saving (last good checkpoint: %s%s)\n", ckpt,
                    file_exists(ckpt) ? "" : ", none yet");
            rc = 1; break;
        }
        /* 4. SGD with cosine schedule and warm-up */
        float lr = genrep_cosine_lr(o.lr, 0.0f, step, o.warmup, o.steps);
        sgd.lr = lr; sgd_head.lr = lr;
        genrep_sgd_step(e.params, mom, e.grads, np, &sgd, step + 1);
        if (head_dim) genrep_sgd_step(head, hmom, dhead, nh, &sgd_head, step + 1);
        /* 5. log, checkpoint */
        double t = now_seconds();
        double ips = (double)B2 * (double)(step + 1 - step0) / (t - t0 + 1e-9);
        fprintf(mf, "%lld,%.6f,%.6g,%.1f\n", (long long)step + 1, loss, lr, ips);
        fflush(mf); /* a row per step on disk: progress is visible to tail -f and to tests */
        int last = step + 1 == o.steps || stop_requested;
        if (!o.quiet && (t - tlast > 1.0 || last)) {
            char eta[32];
            format_eta(eta, sizeof eta, (double)(o.steps - step - 1) * B2 / ips);
            fprintf(stderr, "\rstep %lld/%d  loss %.4f  lr %.4f  %.0f img/s  ETA %s   ", (long long)step + 1,
                    o.steps, loss, lr, ips, eta);
            tlast = t;
        }
        if ((step + 1) % o.ckpt_every == 0 || last) {
            char sv[32]; snprintf(sv, sizeof sv, "%lld", (long long)step + 1);
            const char *kv[2] = {"genrep.step", sv};
            fflush(mf);
            if ((s = enc_save(ckpt, &e, o.encoder, ex, n_ex, kv, 1))) {
                report_status("train", ckpt, s);
                fprintf(stderr, "genrep train: the previous checkpoint (if any) is intact\n");
                rc = 1; break;
            }
        }
        if (stop_requested) { fprintf(stderr, "\ngenrep train: interrupted; checkpoint saved at step %lld\n", (long long)step + 1); rc = 130; break; }
    }
    if (!o.quiet) fprintf(stderr, "\n");
    fclose(mf);
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/DONE", o.out);
        write_text_atomic(path, "done\n");
    }
    free(z1); free(z2); free(y); free(raw); free(x); free(lw); free(dz); free(hout); free(probs); free(dhout);
    free(target); free(mom); free(head); free(dhead); free(hmom); free(walks); free(alpha_max);
    free(pool.z); free(pool.y);
    genrep_encoder_free(&e);
    if (o.source == SRC_GEN) genrep_gen_free(&g); else genrep_dataset_free(&train);
    return rc;
}
