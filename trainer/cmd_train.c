/* trainer/cmd_train.c: `genrep train`, contrastive (or baseline) training of
   an encoder on views rendered by a generator (DCGAN family or
   BigGAN-deep), or on real images (Fashion-MNIST, or a folder of PNG/JPEG).
   Image shape (C,H,W) comes from the data source: the generator's output
   or the folder's images (either resized by --size, --channels), or
   Fashion-MNIST's 1x28x28; the encoder takes that shape.
   Reads like llm.c's train_gpt2.c main: set-up, then a loop of
   make_views -> augment -> forward_backward -> update -> log/eval/save. */
#include "common.h"
#include "folder.h"
#include "dist.h"
#include "opt.h"
#include "run.h"
#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum { LOSS_NTXENT = 0, LOSS_SUPCON, LOSS_CE, LOSS_INVERTER };

typedef struct {
    const char *gen, *data, *data_dir, *out, *walks, *resume, *encoder, *cls;
    int views, aug, loss, pool, anchors, batch, steps, epochs, threads, ckpt_every, warmup, width, blocks;
    int eval_every, eval_n, quiet, online, scale_base_tau, debug_nan_at, size, channels, skip_bad, precision;
    float sigma, lr, wd, momentum, tau, alpha;
    uint64_t seed;
} train_opts;

#define F(x) offsetof(train_opts, x)
static const opt_spec train_spec[] = {
    {"gen", OPT_STR, F(gen), NULL, 0, 0, NULL, "FILE", "generator weights: a DCGAN-family file (weights/fmnist_dcgan.safetensors ...) or a BigGAN-deep file (export_pytorch.py --biggan)", OPT_RUN},
    {"class", OPT_STR, F(cls), "all", 0, 0, NULL, "all|C|C1,C2|A-B", "classes a conditional generator (cgan, BigGAN) draws from, uniformly; labels are positions in this list", OPT_RUN},
    {"data", OPT_STR, F(data), NULL, 0, 0, NULL, "fmnist|folder:DIR", "real images instead (the real-data baseline): Fashion-MNIST's train set, or DIR/<class>/<image>.png|jpg (or DIR/<image> unlabelled)", OPT_RUN},
    {"size", OPT_INT, F(size), NULL, 1, 4096, NULL, "S", "--data folder: centre-crop and resize every image to SxS (default: all images must share one size, used as is); --gen: resize the generator's images to SxS (area average when S divides the side, else bilinear; default: its own size)", 0},
    {"channels", OPT_INT, F(channels), NULL, 1, 3, NULL, "1|3", "--data folder: gray or RGB (default 3); --gen: convert the generator's images (default: its own)", 0},
    {"skip-bad", OPT_BOOL, F(skip_bad), NULL, 0, 0, NULL, NULL, "--data folder: leave out unreadable files (each is named) instead of stopping", 0},
    {"data-dir", OPT_STR, F(data_dir), NULL, 0, 0, NULL, "DIR", "Fashion-MNIST files (default $GENREP_FMNIST_DIR or Debian's path)", 0},
    {"out", OPT_STR, F(out), NULL, 0, 0, NULL, "RUN_DIR", "run directory", OPT_REQUIRED},
    {"views", OPT_ENUM, F(views), "gauss", 0, 0, "none|gauss|angular|independent|steer", NULL, "latent view of the positive", OPT_RUN},
    {"sigma", OPT_FLOAT, F(sigma), "0.2", 0, 100, NULL, "S", "latent noise scale of gauss/angular views", OPT_RUN},
    {"walks", OPT_STR, F(walks), NULL, 0, 0, NULL, "FILE", "steering walks for --views steer: tensors walks (T, zdim) and alpha_max (T), from genrep steer-train (DCGAN family) or made elsewhere (BigGAN)", OPT_RUN},
    {"alpha", OPT_FLOAT, F(alpha), "1", 0, 100, NULL, "A", "scale of the walks' alpha ranges (--views steer)", OPT_RUN},
    {"online", OPT_BOOL, F(online), NULL, 0, 0, NULL, NULL, "fresh anchors every step (the default; same as --pool 0)", 0},
    {"pool", OPT_INT, F(pool), "0", 0, GENREP_VIEW_MAX, NULL, "N", "pre-generate N neighbours per anchor into RUN_DIR/pool.bin", OPT_RUN},
    {"anchors", OPT_INT, F(anchors), "60000", 1, 100000000, NULL, "A", "unique anchors of the pool", OPT_RUN},
    {"aug", OPT_ENUM, F(aug), "simclr", 0, 0, "none|simclr", NULL, "pixel augmentations on both views", OPT_RUN},
    {"loss", OPT_ENUM, F(loss), "ntxent", 0, 0, "ntxent|supcon|ce|inverter", NULL, "training loss", OPT_RUN},
    {"tau", OPT_FLOAT, F(tau), "0.1", 1e-4, 100, NULL, "T", "temperature of ntxent/supcon", OPT_RUN},
    {"scale-base-tau", OPT_BOOL, F(scale_base_tau), NULL, 0, 0, NULL, NULL, "multiply the loss by tau/0.07 as the reference code does", OPT_RUN},
    {"encoder", OPT_STR, F(encoder), "small", 0, 0, NULL, "small|resnet18", "encoder architecture", OPT_RUN},
    {"width", OPT_INT, F(width), NULL, 1, GENREP_ENCODER_MAX_WIDTH, NULL, "W", "base channels (default: the arch's own, small 32 -> W/2W/4W, resnet18 64)", OPT_RUN},
    {"blocks", OPT_INT, F(blocks), NULL, 1, GENREP_ENCODER_MAX_BLOCKS, NULL, "N", "basic blocks per stage (default 2)", OPT_RUN},
    {"batch", OPT_INT, F(batch), "256", 2, 4096, NULL, "B", "anchors per step (2B views)", OPT_RUN},
    {"steps", OPT_INT, F(steps), "1000", 1, 100000000, NULL, "N", "training steps (a larger N extends a finished run)", 0},
    {"epochs", OPT_INT, F(epochs), NULL, 1, 100000, NULL, "E", "instead of --steps: E x 60000 anchors / --batch steps", 0},
    {"lr", OPT_FLOAT, F(lr), "0.05", 1e-8, 100, NULL, "LR", "peak learning rate (SGD, cosine schedule)", OPT_RUN},
    {"wd", OPT_FLOAT, F(wd), "1e-4", 0, 1, NULL, "WD", "weight decay", OPT_RUN},
    {"momentum", OPT_FLOAT, F(momentum), "0.9", 0, 0.9999, NULL, "M", "SGD momentum", OPT_RUN},
    {"warmup", OPT_INT, F(warmup), "-1", -1, 100000000, NULL, "STEPS", "linear warm-up steps (-1: 5% of --steps)", OPT_RUN},
    {"seed", OPT_U64, F(seed), "0", 0, 0, NULL, "S", "seed of every random stream", OPT_RUN},
    {"precision", OPT_ENUM, F(precision), "fp32", 0, 0, "fp32|bf16", NULL, "encoder GEMMs: fp32, or bf16 operands with fp32 sums (weights, optimiser, BN, loss stay fp32)", OPT_RUN},
    {"threads", OPT_INT, F(threads), NULL, 1, 1024, NULL, "T", "OpenMP threads (per rank under mpirun; default: OMP_NUM_THREADS, else all cores)", 0},
    {"ckpt-every", OPT_INT, F(ckpt_every), "200", 1, 100000000, NULL, "N", "checkpoint every N steps (and at the end, and on Ctrl-C)", 0},
    {"eval-every", OPT_INT, F(eval_every), "0", 0, 100000000, NULL, "N", "kNN monitor every N steps (0: off); does not change the run", 0},
    {"eval-n", OPT_INT, F(eval_n), "10000", 100, 60000, NULL, "N", "kNN monitor bank: the first N real training images", 0},
    {"resume", OPT_STR, F(resume), "auto", 0, 0, NULL, "auto|no", "continue RUN_DIR's checkpoint, or start over", 0},
    {"quiet", OPT_BOOL, F(quiet), NULL, 0, 0, NULL, NULL, "no progress line", 0},
    {"debug-nan-at", OPT_INT, F(debug_nan_at), "0", 0, 100000000, NULL, "STEP", "tests: pretend the loss of STEP is NaN", OPT_HIDDEN},
};
#undef F
static const opt_table train_table = {
    "train", "(--gen WEIGHTS.safetensors | --data fmnist | --data folder:DIR) --out RUN_DIR [flags]",
    "Writes RUN_DIR/config.txt, metrics.csv (step,loss,lr,img_per_s[,knn_top1]) and ckpt.safetensors\n"
    "(atomic); rerunning the same command resumes; Ctrl-C saves and exits. The encoder's input is the\n"
    "data's image shape: the generator's output (or --size/--channels), 1x28x28 for fmnist, the\n"
    "folder's images (decoded once into RUN_DIR/data_cache.u8, memory-mapped) for folder:DIR.\n"
    "--gen takes a DCGAN-family file or a BigGAN-deep file (told apart by metadata genrep.model).\n"
    "BigGAN: z = 1.0 x TruncNormal(-2,2) (truncation 1), one-hot class from --class, images in\n"
    "[-1,1] mapped to [0,1]; views gauss/angular/independent/none, and steer with --walks of shape\n"
    "(T, z_dim) from elsewhere (genrep steer-train needs a generator backward that BigGAN lacks).\n"
    "Data parallel (a `make MPI=1` build): `mpirun -np K genrep train ...` trains the same run over K\n"
    "ranks, each on B/K anchors (--batch a multiple of K), BN statistics and the loss over the whole\n"
    "batch, gradients summed; rank 0 writes RUN_DIR; resume with any K; --threads is per rank. Every\n"
    "sum over the batch is a fixed pairwise tree over shares of 2 anchors, so K = 2^k ranks with a\n"
    "power of two of shares each (B/K = 2, 4, 8, ..) give the bits of one process.\n",
    train_spec, OPT_N(train_spec)};

/* ---- set-up ---- */

static int parse(train_opts *o, int argc, char **argv) {
    unsigned char given[OPT_N(train_spec)];
    int r = opt_parse(&train_table, o, given, argc, argv);
    if (r) return r;
    const char *C = "genrep train";
    if (!!o->gen + !!o->data != 1) { fprintf(stderr, "%s: give one data source: --gen WEIGHTS.safetensors, --data fmnist or --data folder:DIR\n", C); return -1; }
    if (o->data && strcmp(o->data, "fmnist") && (strncmp(o->data, "folder:", 7) || !o->data[7])) {
        fprintf(stderr, "%s: --data: '%s' unknown, expected fmnist or folder:DIR\n", C, o->data); return -1;
    }
    if ((o->size || o->channels) && o->data && !strcmp(o->data, "fmnist")) {
        fprintf(stderr, "%s: --size and --channels are for --gen and --data folder:DIR (fmnist is 1x28x28)\n", C); return -1;
    }
    if (o->skip_bad && !(o->data && !strncmp(o->data, "folder:", 7))) { fprintf(stderr, "%s: --skip-bad is for --data folder:DIR\n", C); return -1; }
    if (strcmp(o->cls, "all") && !o->gen) { fprintf(stderr, "%s: --class picks the classes of a conditional generator (--gen); real data has its own\n", C); return -1; }
    if (o->channels == 2) { fprintf(stderr, "%s: --channels: 2 is not an image format, expected 1 (gray) or 3 (RGB)\n", C); return -1; }
    if (strcmp(o->resume, "auto") && strcmp(o->resume, "no")) { fprintf(stderr, "%s: --resume: '%s' unknown, expected auto or no\n", C, o->resume); return -1; }
    if (strcmp(o->encoder, "small") && strcmp(o->encoder, "resnet18")) { fprintf(stderr, "%s: --encoder: '%s' unknown, expected small or resnet18\n", C, o->encoder); return -1; }
    if (o->online && o->pool) { fprintf(stderr, "%s: give --online or --pool N, not both\n", C); return -1; }
    for (int i = 0; i < OPT_N(train_spec); i++) /* --steps given beside --epochs */
        if (given[i] && o->epochs && train_spec[i].off == offsetof(train_opts, steps)) { fprintf(stderr, "%s: give --steps or --epochs, not both\n", C); return -1; }
    if (o->epochs) o->steps = (int)(((int64_t)o->epochs * 60000 + o->batch - 1) / o->batch); /* a folder: redone with its size */
    if (o->data && o->loss == LOSS_INVERTER) { fprintf(stderr, "%s: --loss inverter needs a generator (--gen): real images have no latent\n", C); return -1; }
    if (o->gen && o->views == GENREP_VIEW_STEER && !o->walks) { fprintf(stderr, "%s: --views steer needs --walks FILE (made by genrep steer-train)\n", C); return -1; }
    return 0;
}

/* Where the two views of each anchor come from, and their image shape.
   A generator of either family (anygen: DCGAN family or BigGAN-deep,
   resized to --size/--channels, rendered in [0,1]) is one kind; another
   generator kind plugs into anygen. */
typedef struct {
    anygen g;               /* generator source */
    int has_gen, cond, Z, ncls;
    int C, H, W;            /* one image (C,H,W) */
    size_t pix;             /* C*H*W */
    double gen_s;           /* seconds in make_views (latents and rendering) */
    float *walks, *alpha_max; int n_walks;
    genrep_dataset real;    /* --data fmnist */
    folder_cache fc;        /* --data folder:DIR */
    int has_folder;
    pool_t pool;            /* --pool */
} source;

/* --data folder:DIR: the folder decoded into RUN_DIR/data_cache.u8 (reused while the files and settings are the same) */
static int folder_open(source *src, const train_opts *o, run_dir *run) {
    folder_t f;
    const char *root = o->data + 7;
    if (folder_scan(&f, root, "train")) return -1;
    folder_shape sh = {o->channels ? o->channels : 3, 0, 0, o->size, 0};
    int r = folder_shape_init(&sh, &f, "train");
    if (!r) r = folder_cache_open(&src->fc, run_path(run, "data_cache.u8"), &f, &sh, o->skip_bad, "train");
    if (!r) {
        src->has_folder = 1;
        src->C = sh.C; src->H = sh.H; src->W = sh.W;
        src->ncls = f.flat ? 0 : f.n_classes;
        fprintf(stderr, "genrep train: %s: %d images %dx%dx%d, %s\n", root, src->fc.n, sh.C, sh.H, sh.W,
                f.flat ? "unlabelled" : "labelled by class folder");
        for (int c = 0; c < f.n_classes && c < 20; c++) fprintf(stderr, "%s%d=%s", c ? " " : "  classes: ", c, f.classes[c]);
        if (f.n_classes) fprintf(stderr, "%s\n", f.n_classes > 20 ? " ..." : "");
    }
    folder_free(&f);
    return r;
}

static int source_open(source *src, const train_opts *o, int B, run_dir *run) {
    genrep_status s;
    memset(src, 0, sizeof *src);
    src->ncls = 10;
    src->C = 1; src->H = src->W = 28; src->pix = 784;
    if (o->data && strcmp(o->data, "fmnist")) {
        if (folder_open(src, o, run)) return -1;
        src->pix = (size_t)src->C * src->H * src->W;
        if ((o->loss == LOSS_SUPCON || o->loss == LOSS_CE) && !src->ncls) {
            fprintf(stderr, "genrep train: --loss supcon/ce needs labels; %s has no class folders\n", o->data + 7);
            return -2;
        }
        return 0;
    }
    if (o->data) {
        if ((s = genrep_fmnist_load(&src->real, o->data_dir, 1))) { report_status("train", "loading Fashion-MNIST", s); return -1; }
        return 0;
    }
    if (anygen_load(&src->g, "train", o->gen, B)) return -1;
    src->has_gen = 1;
    if (anygen_classes(&src->g, "train", o->cls)) return -2;
    anygen_set_shape(&src->g, o->channels, o->size);
    src->cond = src->g.cond; src->Z = src->g.Z; src->ncls = src->g.ncls;
    src->C = src->g.C; src->H = src->g.H; src->W = src->g.W;
    src->pix = (size_t)src->C * src->H * src->W;
    if (src->g.biggan)
        fprintf(stderr, "genrep train: %s: BigGAN-deep %d px, z %d, %d classes (%s%s), views %dx%dx%d\n", o->gen, src->g.GH, src->Z,
                src->g.n_gen_classes, strcmp(o->cls, "all") ? "--class " : "all", strcmp(o->cls, "all") ? o->cls : "", src->C, src->H, src->W);
    if ((o->views == GENREP_VIEW_INDEPENDENT || o->loss == LOSS_SUPCON || o->loss == LOSS_CE) && !src->cond) {
        fprintf(stderr, "genrep train: --%s needs a class-conditional generator; %s is unconditional\n",
                o->views == GENREP_VIEW_INDEPENDENT ? "views independent" : "loss supcon/ce", o->gen);
        return -2;
    }
    if (o->views == GENREP_VIEW_STEER) {
        genrep_st *ws;
        if ((s = genrep_st_open(&ws, o->walks, 0))) { report_status("train", o->walks, s); return -1; }
        const genrep_st_tensor *wt = genrep_st_find(ws, "walks"), *at = genrep_st_find(ws, "alpha_max");
        if (!wt || !at || wt->ndim != 2 || wt->shape[1] != src->Z || at->numel != wt->shape[0]) {
            fprintf(stderr, "genrep train: %s: expected tensors walks (T,%d) and alpha_max (T)\n", o->walks, src->Z);
            genrep_st_close(ws); return -1;
        }
        src->n_walks = (int)wt->shape[0];
        src->walks = (float *)xmalloc(sizeof(float) * (size_t)src->n_walks * src->Z, "walks");
        src->alpha_max = (float *)xmalloc(sizeof(float) * (size_t)src->n_walks, "walks");
        memcpy(src->walks, wt->data, sizeof(float) * (size_t)src->n_walks * src->Z);
        for (int t = 0; t < src->n_walks; t++) src->alpha_max[t] = at->data[t] * o->alpha;
        genrep_st_close(ws);
    }
    return 0;
}

static void source_free(source *src) {
    if (src->has_gen) anygen_free(&src->g);
    if (src->has_folder) folder_cache_close(&src->fc);
    genrep_dataset_free(&src->real);
    free(src->walks); free(src->alpha_max); free(src->pool.z); free(src->pool.y);
}

static genrep_view_config view_config(const source *src, const train_opts *o) {
    genrep_view_config vc = {(genrep_view_kind)o->views, o->sigma, 1.0f, src->n_walks, src->walks, src->alpha_max};
    return vc;
}

/* The pool of latent neighbours: RUN_DIR/pool.bin when it holds this run's
   pool (same size and key), else generated and written. */
static int pool_prepare(source *src, const train_opts *o, run_dir *run) {
    pool_t *p = &src->pool;
    const int Z = src->Z;
    p->A = o->anchors; p->N = o->pool; p->Z = Z;
    snprintf(p->key, sizeof p->key, "views=%d sigma=%.9g alpha=%.9g seed=%llu walks=%s gen=%s%s%s", o->views, (double)o->sigma,
             (double)o->alpha, (unsigned long long)o->seed, o->walks ? o->walks : "", o->gen,
             strcmp(o->cls, "all") ? " class=" : "", strcmp(o->cls, "all") ? o->cls : "");
    p->z = (float *)xmalloc(sizeof(float) * (size_t)p->A * (p->N + 1) * Z, "the pool of latents");
    p->y = src->cond ? (int32_t *)xmalloc(sizeof(int32_t) * (size_t)p->A, "the pool's labels") : NULL;
    const char *path = run_path(run, "pool.bin");
    if (!pool_read(path, p, p->A, p->N, Z, src->cond ? src->ncls : 0)) return 0;
    genrep_view_config vc = view_config(src, o);
    float *za = (float *)xmalloc(sizeof(float) * (size_t)p->A * Z, "pool anchors");
    float *zv = (float *)xmalloc(sizeof(float) * (size_t)p->A * Z, "pool views");
    genrep_status s = genrep_latent_anchors(za, p->A, Z, 1.0f, o->seed, 0);
    if (!s && src->cond) s = genrep_latent_classes(p->y, p->A, src->ncls, o->seed, 0);
    for (int a = 0; !s && a < p->A; a++) memcpy(p->z + (size_t)a * (p->N + 1) * Z, za + (size_t)a * Z, sizeof(float) * Z);
    for (int j = 1; !s && j <= p->N; j++) {
        if (o->views == GENREP_VIEW_NONE) memcpy(zv, za, sizeof(float) * (size_t)p->A * Z);
        else s = genrep_latent_view(zv, za, p->A, Z, &vc, o->seed, 0, j);
        for (int a = 0; !s && a < p->A; a++)
            memcpy(p->z + ((size_t)a * (p->N + 1) + j) * Z, zv + (size_t)a * Z, sizeof(float) * Z);
    }
    free(za); free(zv);
    if (s) { report_status("train", "pool of latent views", s); return -1; }
    return pool_write(run_path(run, "pool.bin"), p) ? -1 : 0;
}

/* The encoder, the linear head of the CE / inverter baselines, and the SGD state. */
typedef struct {
    genrep_encoder e;
    int head_dim, F;
    size_t np, nh;
    float *mom, *head, *dhead, *hmom, *hws; /* hws: the head's share-tree scratch */
    float *lws;                             /* NT-Xent / SupCon on this rank's rows: genrep_contrastive_rows_workspace */
    genrep_extra_tensor ex[3];
    int n_ex;
} model;

#define TRAIN_SHARE 2 /* anchors per share: bench/RESULTS.md */
static int model_create(model *m, const train_opts *o, const source *src, int B2) {
    genrep_encoder_config ec;
    genrep_status s;
    memset(m, 0, sizeof *m);
    if ((s = genrep_encoder_config_named(&ec, o->encoder, o->width, o->blocks, src->C, src->H, src->W))) { report_status("train", "--encoder", s); return -1; }
    if (o->loss == LOSS_CE || o->loss == LOSS_INVERTER) { ec.head_out = 0; ec.head_hidden = 0; }
    if ((s = genrep_encoder_create(&m->e, &ec, B2, o->seed ^ 0xE7C0DE))) { report_status("train", "encoder", s); return -1; }
    if ((s = genrep_encoder_set_precision(&m->e, o->precision ? GENREP_PRECISION_BF16 : GENREP_PRECISION_FP32))) {
        report_status("train", "--precision", s);
        genrep_encoder_free(&m->e);
        return -1;
    }
    {   /* K-independent sums (issue 16): every batch sum a pairwise tree over shares of
           TRAIN_SHARE anchors (both views), so K ranks give the bits of one process
           when K is a power of two and each rank holds a power of two of shares */
        int share = TRAIN_SHARE;
        while (share > 1 && (B2 / 2 * dist.size) % share) share /= 2; /* from the global batch: the same for every K */
        if ((s = genrep_encoder_set_share(&m->e, share, 2))) {
            report_status("train", "encoder", s);
            genrep_encoder_free(&m->e);
            return -1;
        }
        int per = B2 / 2 / share, K = dist.size; /* shares per rank */
        if (K > 1 && dist.rank == 0 && ((K & (K - 1)) || (per & (per - 1))))
            fprintf(stderr, "genrep train: note: %d ranks with %d shares of %d anchors each: the run equals one "
                    "process's only up to rounding, which training amplifies; bitwise needs a power-of-two rank "
                    "count and a power-of-two number of shares per rank (e.g. --batch 256 on 2, 4, .., 128 ranks)\n",
                    K, per, share);
    }
    m->F = m->e.feat_dim;
    m->head_dim = o->loss == LOSS_CE ? src->ncls : o->loss == LOSS_INVERTER ? src->Z : 0;
    m->np = m->e.num_params;
    m->nh = (size_t)m->head_dim * m->F + m->head_dim;
    m->mom = (float *)xcalloc(m->np, sizeof(float), "SGD momentum");
    m->head = (float *)xcalloc(m->nh + 1, sizeof(float), "head");
    m->dhead = (float *)xcalloc(m->nh + 1, sizeof(float), "head gradient");
    m->hmom = (float *)xcalloc(m->nh + 1, sizeof(float), "head momentum");
    if (!m->head_dim) /* NT-Xent / SupCon: this rank's rows of the loss (B2 of the 2B views) */
        m->lws = (float *)xmalloc(sizeof(float) * (genrep_contrastive_rows_workspace(B2 / 2 * dist.size, m->e.out_dim, B2 / 2,
                                                                                    m->e.share) + 1), "loss workspace");
    if (m->head_dim)
        m->hws = (float *)xmalloc(sizeof(float) * (genrep_linear_share_workspace(B2, m->F, m->head_dim, 2, m->e.share) + 1),
                                  "head gradient scratch");
    genrep_rng r; /* head init: PyTorch Linear default uniform(-1/sqrt(F), 1/sqrt(F)) */
    genrep_rng_init(&r, o->seed ^ 0x4EAD, 0);
    for (size_t i = 0; i < m->nh; i++) m->head[i] = (2.0f * genrep_rng_uniform(&r) - 1.0f) / sqrtf((float)m->F);
    genrep_extra_tensor ex[3] = {{"optim.momentum", m->mom, m->np}, {"head.linear", m->head, m->nh},
                                 {"optim.head_momentum", m->hmom, m->nh}};
    memcpy(m->ex, ex, sizeof ex);
    m->n_ex = m->head_dim ? 3 : 1;
    return 0;
}

static void model_free(model *m) {
    genrep_encoder_free(&m->e);
    free(m->mom); free(m->head); free(m->dhead); free(m->hmom); free(m->hws); free(m->lws);
}

static int model_save(model *m, const char *path, const train_opts *o, int64_t step) {
    char vals[OPT_MAX_RUN][160], sv[32];
    const char *kv[2 * OPT_MAX_RUN + 2];
    int n = opt_run_kv(&train_table, o, vals, kv);
    snprintf(sv, sizeof sv, "%lld", (long long)step);
    kv[2 * n] = "genrep.step"; kv[2 * n + 1] = sv;
    genrep_status s = genrep_encoder_save(&m->e, path, o->encoder, m->ex, m->n_ex, kv, n + 1);
    if (s) { report_status("train", path, s); fprintf(stderr, "genrep train: the previous checkpoint (if any) is intact\n"); }
    return s ? -1 : 0;
}

static int same_encoder(const genrep_encoder_config *a, const genrep_encoder_config *b) {
    int same = a->in_channels == b->in_channels && a->in_h == b->in_h && a->in_w == b->in_w && a->stem_width == b->stem_width
               && a->num_stages == b->num_stages && a->head_out == b->head_out && (!a->head_out || a->head_hidden == b->head_hidden);
    for (int i = 0; same && i < a->num_stages; i++)
        same = a->widths[i] == b->widths[i] && a->blocks[i] == b->blocks[i] && a->strides[i] == b->strides[i];
    return same;
}

/* Continue from RUN_DIR/ckpt.safetensors: the settings it records must be
   this command's, the encoder the same; one open, no second model.
   Returns the step to start from, or -1. */
static int64_t model_resume(model *m, const char *ckpt, const train_opts *o) {
    genrep_st *st;
    genrep_encoder_config fc;
    genrep_status s;
    if ((s = genrep_st_open(&st, ckpt, 0))) { report_status("train", ckpt, s); return -1; }
    int64_t step0 = -1;
    const char *sv = genrep_st_meta(st, "genrep.step");
    char *end = NULL;
    long long v = sv ? strtoll(sv, &end, 10) : -1;
    genrep_table_ref t = {"", m->e.tensors, m->e.num_tensors, m->e.params};
    if (opt_check_resume(&train_table, o, st, ckpt)) goto done;
    if ((s = genrep_encoder_config_from_file(&fc, st, ckpt))) { report_status("train", ckpt, s); goto done; }
    if (!same_encoder(&fc, &m->e.cfg)) {
        fprintf(stderr, "genrep train: %s holds another encoder (stem %d, %d stages, %d blocks) than --encoder %s --width %d "
                "--blocks %d asks for; use the same flags, or another --out\n", ckpt, fc.stem_width, fc.num_stages,
                fc.blocks[0], o->encoder, m->e.cfg.stem_width, m->e.cfg.blocks[0]);
        goto done;
    }
    if (!sv || end == sv || *end || v < 0 || v > o->steps) {
        fprintf(stderr, "genrep train: %s: metadata genrep.step = %s is not a step in 0..%d (--steps)\n", ckpt, sv ? sv : "(missing)", o->steps);
        goto done;
    }
    if ((s = genrep_tables_read(st, ckpt, &t, 1, m->ex, m->n_ex))) { report_status("train", ckpt, s); goto done; }
    step0 = v;
    fprintf(stderr, "genrep train: resuming %s at step %lld\n", ckpt, (long long)step0);
done:
    genrep_st_close(st);
    return step0;
}

/* One step's buffers: latents, labels, rendered and augmented views, loss
   scratch. The global batch is B anchors (2B views: view 1 of every anchor,
   then view 2); this rank renders and encodes anchors r0 .. r0+b-1 (b = B/K)
   in the same layout (2b views); the loss runs on the gathered 2B rows (g*). */
typedef struct {
    int B, B2, b, b2, r0;
    float *z1, *z2, *raw, *x, *dz, *hout, *probs, *dhout, *target;
    int32_t *y;
    float *gemb, *gdz, *gtarget, *grow; /* gathered (2B, width) rows, and the all-gather's receive buffer */
    int32_t *gy;
} batch;

static void batch_alloc(batch *b, int B, const source *src, const model *m) {
    const size_t Z = (size_t)(src->Z ? src->Z : 1), hd = (size_t)m->head_dim + 1, HW = src->pix;
    const size_t od = (size_t)(m->e.out_dim > m->head_dim ? m->e.out_dim : m->head_dim), w = od > Z + 1 ? od : Z + 1;
    b->B = B; b->B2 = 2 * B;
    b->b = B / dist.size; b->b2 = 2 * b->b; b->r0 = dist.rank * b->b;
    const size_t n = (size_t)b->b, n2 = (size_t)b->b2, N2 = (size_t)b->B2;
    b->z1 = (float *)xmalloc(sizeof(float) * n * Z, "latents");
    b->z2 = (float *)xmalloc(sizeof(float) * n * Z, "latents");
    b->y = (int32_t *)xmalloc(sizeof(int32_t) * n2, "labels");
    b->raw = (float *)xmalloc(sizeof(float) * n2 * HW, "views");
    b->x = (float *)xmalloc(sizeof(float) * n2 * HW, "views");
    b->dz = (float *)xmalloc(sizeof(float) * n2 * od, "embedding gradient");
    b->hout = (float *)xmalloc(sizeof(float) * n2 * hd, "head output");
    b->probs = (float *)xmalloc(sizeof(float) * N2 * hd, "head output");
    b->dhout = (float *)xmalloc(sizeof(float) * n2 * hd, "head gradient");
    b->target = (float *)xmalloc(sizeof(float) * n2 * (Z + 1), "inverter targets");
    b->gemb = (float *)xmalloc(sizeof(float) * N2 * w, "gathered embeddings");
    b->gdz = (float *)xmalloc(sizeof(float) * N2 * w, "gathered gradient");
    b->gtarget = (float *)xmalloc(sizeof(float) * N2 * (Z + 1), "gathered targets");
    b->grow = (float *)xmalloc(sizeof(float) * N2 * w, "all-gather buffer");
    b->gy = (int32_t *)xmalloc(sizeof(int32_t) * N2, "gathered labels");
}

static void batch_free(batch *b) {
    free(b->z1); free(b->z2); free(b->y); free(b->raw); free(b->x); free(b->dz);
    free(b->hout); free(b->probs); free(b->dhout); free(b->target);
    free(b->gemb); free(b->gdz); free(b->gtarget); free(b->grow); free(b->gy);
}

/* Every rank's 2b local rows of `size` bytes (view 1 of its anchors, then
   view 2) -> the global (2B) rows in one process's order: row v*B + r0 + i. */
static void gather_rows(void *g, const void *l, size_t size, batch *b) {
    const size_t half = (size_t)b->b * size;
    dist_allgather(b->grow, l, 2 * half);
    for (int r = 0; r < dist.size; r++)
        for (int v = 0; v < 2; v++)
            memcpy((char *)g + ((size_t)v * b->B + (size_t)r * b->b) * size, (char *)b->grow + ((size_t)2 * r + v) * half, half);
}

/* This rank's 2b rows of the global (2B, d) rows. */
static void local_rows(float *l, const float *g, size_t d, const batch *b) {
    for (int v = 0; v < 2; v++)
        memcpy(l + (size_t)v * b->b * d, g + ((size_t)v * b->B + b->r0) * d, sizeof(float) * b->b * d);
}

/* ---- the step ---- */

/* 1. the two views of each anchor before pixel augmentation, in [0, 1] (raw),
   and the labels y (2b). The step's anchors are sample indices step*B ..
   step*B+B-1; this rank's are step*B+r0 .. +b-1, drawn from the same
   (seed, sample index, view) streams, so the data does not depend on K. */
static genrep_status make_views(batch *b, source *src, const train_opts *o, int64_t step) {
    const int B = b->b, Z = src->Z;
    const size_t HW = src->pix;
    const uint64_t first = (uint64_t)step * b->B + (uint64_t)b->r0, seed_pick = o->seed ^ 0x51C4;
    genrep_status s = GENREP_OK;
    if (src->has_folder) { /* both views start from the same image of the mapped cache */
        const folder_cache *fc = &src->fc;
        for (int i = 0; i < B; i++) {
            genrep_rng r; genrep_rng_init(&r, seed_pick, first + i);
            uint32_t idx = genrep_rng_below(&r, (uint32_t)fc->n);
            const unsigned char *px = fc->px + (size_t)idx * HW;
            for (size_t p = 0; p < HW; p++) b->raw[(size_t)i * HW + p] = b->raw[(size_t)(B + i) * HW + p] = px[p] / 255.0f;
            b->y[i] = b->y[B + i] = fc->labels[idx];
        }
        return GENREP_OK;
    }
    if (!src->has_gen) {
        for (int i = 0; i < B; i++) {
            genrep_rng r; genrep_rng_init(&r, seed_pick, first + i);
            uint32_t idx = genrep_rng_below(&r, (uint32_t)src->real.n);
            memcpy(b->raw + (size_t)i * HW, src->real.images + (size_t)idx * HW, sizeof(float) * HW);
            memcpy(b->raw + (size_t)(B + i) * HW, src->real.images + (size_t)idx * HW, sizeof(float) * HW);
            b->y[i] = b->y[B + i] = src->real.labels[idx];
        }
        return GENREP_OK;
    }
    if (src->pool.z) {
        const pool_t *p = &src->pool;
        for (int i = 0; i < B; i++) {
            genrep_rng r; genrep_rng_init(&r, seed_pick, first + i);
            uint32_t a = genrep_rng_below(&r, (uint32_t)p->A), j = 1 + genrep_rng_below(&r, (uint32_t)p->N);
            memcpy(b->z1 + (size_t)i * Z, p->z + (size_t)a * (p->N + 1) * Z, sizeof(float) * Z);
            memcpy(b->z2 + (size_t)i * Z, p->z + ((size_t)a * (p->N + 1) + j) * Z, sizeof(float) * Z);
            if (src->cond) b->y[i] = p->y[a];
        }
    } else {
        genrep_view_config vc = view_config(src, o);
        s = genrep_latent_anchors(b->z1, B, Z, 1.0f, o->seed, first);
        if (!s && src->cond) s = genrep_latent_classes(b->y, B, src->ncls, o->seed, first);
        if (!s && o->views == GENREP_VIEW_NONE) memcpy(b->z2, b->z1, sizeof(float) * (size_t)B * Z);
        else if (!s) s = genrep_latent_view(b->z2, b->z1, B, Z, &vc, o->seed, first, 1);
    }
    /* both views in [0,1] at the source's shape; the independent view keeps the anchor's label */
    const int32_t *y = src->cond ? b->y : NULL;
    if (!s) s = anygen_render(&src->g, b->raw, b->z1, y, B);
    if (!s) s = anygen_render(&src->g, b->raw + (size_t)B * HW, b->z2, y, B);
    for (int i = 0; i < B; i++) b->y[B + i] = b->y[i];
    return s;
}

/* 2. pixel augmentations, independently per view, then (x - 0.5) / 0.5 */
static genrep_status augment(batch *b, const source *src, const train_opts *o, const genrep_aug_config *ac, int64_t step) {
    const int B = b->b, C = src->C, H = src->H, W = src->W;
    const size_t HW = src->pix;
    const uint64_t first = (uint64_t)step * b->B + (uint64_t)b->r0, seed_aug = o->seed ^ 0xA06;
    genrep_status s = GENREP_OK;
    if (o->aug) {
        s = genrep_augment_batch(b->x, b->raw, B, C, H, W, ac, seed_aug, first, 1);
        if (!s) s = genrep_augment_batch(b->x + (size_t)B * HW, b->raw + (size_t)B * HW, B, C, H, W, ac, seed_aug, first, 2);
    } else memcpy(b->x, b->raw, sizeof(float) * (size_t)b->b2 * HW);
    for (size_t i = 0; i < (size_t)b->b2 * HW; i++) b->x[i] = (b->x[i] - 0.5f) / 0.5f;
    return s;
}

/* 3. forward, loss, backward: e.grads (and dhead) = d loss / d params,
   summed over ranks. Each rank encodes its 2b views (BN statistics over all
   ranks through the encoder's bn_sync); the loss's input rows (embeddings,
   or the head's outputs) are gathered. NT-Xent / SupCon: each rank computes
   its own rows of the loss against all columns, the sums over rows taken
   as share trees and summed over ranks in the same tree (the bits of one
   process); CE / inverter: every rank computes the whole (small) loss and
   keeps its own rows of the gradient. Every batch sum of the backward is a
   share tree too (genrep_encoder_set_share). */
static genrep_status forward_backward(float *loss, model *m, batch *b, const train_opts *o) {
    genrep_encoder *e = &m->e;
    const int B = b->B, B2 = b->B2, n2 = b->b2, hd = m->head_dim, F = m->F, flags = o->scale_base_tau ? GENREP_LOSS_SCALE_BASE_TAU : 0;
    const size_t od = (size_t)e->out_dim;
    genrep_encoder_zero_grad(e);
    genrep_status s = genrep_encoder_forward(e, b->x, n2, 1);
    if (s) return s;
    gather_rows(b->gy, b->y, sizeof(int32_t), b);
    if (o->loss == LOSS_NTXENT || o->loss == LOSS_SUPCON) {
        /* each rank its own 2b rows of the loss against all 2B gathered embeddings
           (SimCLR's per-replica loss): the loss sum and the term every row's gradient
           gets from this rank's rows (gdz) summed over ranks by the tree, then added to
           this rank's rows. A non-finite row shows as a NaN loss on every rank. */
        const int32_t *gy = o->loss == LOSS_SUPCON ? b->gy : NULL;
        double lsum = 0.0;
        gather_rows(b->gemb, e->out, sizeof(float) * od, b);
        memset(b->dz, 0, sizeof(float) * (size_t)n2 * od);
        s = gy ? genrep_supcon_forward_rows(&lsum, m->lws, b->gemb, gy, B, e->out_dim, o->tau, flags, b->r0, b->b, e->share)
               : genrep_ntxent_forward_rows(&lsum, m->lws, b->gemb, B, e->out_dim, o->tau, flags, b->r0, b->b, e->share);
        if (s == GENREP_ERR_NONFINITE) { s = GENREP_OK; lsum = NAN; }
        if (!s) s = gy ? genrep_supcon_backward_rows(b->dz, b->gdz, m->lws, b->gemb, gy, B, e->out_dim, o->tau, flags, 1.0f,
                                                      b->r0, b->b, e->share)
                       : genrep_ntxent_backward_rows(b->dz, b->gdz, m->lws, b->gemb, B, e->out_dim, o->tau, flags, 1.0f,
                                                      b->r0, b->b, e->share);
        if (s) return s;
        if (dist.size > 1) {
            if ((s = dist_bn_sync(NULL, &lsum, 1))) return s;
            dist_allreduce_sum(b->gdz, (size_t)B2 * od);
        }
        *loss = (float)(lsum / B2);
        const float a = 1.0f / o->tau;
        for (int v = 0; v < 2; v++)
            for (size_t i = 0; i < (size_t)b->b * od; i++)
                b->dz[(size_t)v * b->b * od + i] += a * b->gdz[((size_t)v * B + b->r0) * od + i];
    } else { /* a linear head on the features: CE on labels, or MSE to the latents (inverter) */
        memset(m->dhead, 0, sizeof(float) * m->nh);
        memset(b->gdz, 0, sizeof(float) * (size_t)B2 * hd);
        s = genrep_linear_forward(b->hout, e->out, m->head, m->head + (size_t)hd * F, n2, F, hd);
        if (!s) gather_rows(b->gemb, b->hout, sizeof(float) * hd, b);
        if (!s && o->loss == LOSS_CE) {
            s = genrep_softmax_xent_forward(loss, b->probs, b->gemb, b->gy, B2, hd);
            if (!s) s = genrep_softmax_xent_backward(b->gdz, b->probs, b->gy, B2, hd, 1.0f);
        } else if (!s) {
            memcpy(b->target, b->z1, sizeof(float) * (size_t)b->b * hd);
            memcpy(b->target + (size_t)b->b * hd, b->z2, sizeof(float) * (size_t)b->b * hd);
            gather_rows(b->gtarget, b->target, sizeof(float) * hd, b);
            s = genrep_mse_forward(loss, b->gemb, b->gtarget, (size_t)B2 * hd);
            if (!s) s = genrep_mse_backward(b->gdz, b->gemb, b->gtarget, (size_t)B2 * hd, 1.0f);
        }
        if (!s) {
            local_rows(b->dhout, b->gdz, hd, b);
            memset(b->dz, 0, sizeof(float) * (size_t)n2 * F);
            /* dz as usual; the head's gradients by the share tree over the local rows (view 1, view 2) */
            s = genrep_linear_backward(b->dz, NULL, NULL, b->dhout, e->out, m->head, n2, F, hd);
            if (!s) s = genrep_linear_backward_share(m->dhead, m->dhead + (size_t)hd * F, m->hws, b->dhout, e->out, n2, F, hd,
                                                     2, e->share);
        }
    }
    if (!s) s = genrep_encoder_backward(e, NULL, b->dz);
    if (!s) dist_allreduce_sum(e->grads, m->np);
    if (!s && m->head_dim) dist_allreduce_sum(m->dhead, m->nh);
    return s;
}

/* A non-finite loss or gradient stops the run without saving: -1 with the message. */
static int check_finite(const model *m, float loss, int64_t step, const char *ckpt) {
    size_t bad = m->np;
    for (size_t i = 0; i < m->np && bad == m->np; i++) if (!isfinite(m->e.grads[i])) bad = i;
    if (isfinite(loss) && bad == m->np) return 0;
    if (dist.rank) return -1; /* the same loss and summed gradients on every rank: rank 0 says it */
    if (!isfinite(loss)) fprintf(stderr, "\ngenrep train: loss is %g at step %lld", loss, (long long)step + 1);
    else fprintf(stderr, "\ngenrep train: gradient %zu is %g at step %lld", bad, m->e.grads[bad], (long long)step + 1);
    fprintf(stderr, "; stopping without saving (last good checkpoint: %s%s)\n", ckpt, file_exists(ckpt) ? "" : ", none yet");
    return -1;
}

/* 4. SGD with the cosine schedule and warm-up; returns the step's lr */
static float update(model *m, const train_opts *o, int64_t step) {
    int warmup = o->warmup >= 0 ? o->warmup : o->steps / 20;
    float lr = genrep_cosine_lr(o->lr, 0.0f, step, warmup, o->steps);
    genrep_sgd_config sgd = {lr, o->momentum, o->wd, 0};
    genrep_status s = genrep_sgd_step(m->e.params, m->mom, m->e.grads, m->np, &sgd, step + 1);
    if (!s && m->head_dim) s = genrep_sgd_step(m->head, m->hmom, m->dhead, m->nh, &sgd, step + 1);
    assert(!s); /* sizes and config were validated at set-up */
    return lr;
}

/* ---- the kNN monitor (--eval-every): eval-mode features only, so the run's numbers do not change ---- */

typedef struct { int on, nb, nq; float *xb, *xq, *fb, *fq; int32_t *yb, *yq; } monitor;

static int monitor_open(monitor *mo, const train_opts *o, const source *src, int F) {
    const size_t HW = 784;
    memset(mo, 0, sizeof *mo);
    if (!o->eval_every) return 0;
    if (src->C != 1 || src->H != 28 || src->W != 28) {
        fprintf(stderr, "genrep train: --eval-every: the kNN monitor runs on Fashion-MNIST (1x28x28); this run's images are %dx%dx%d. "
                "Drop --eval-every and run genrep probe on the checkpoint instead\n", src->C, src->H, src->W);
        return -1;
    }
    genrep_dataset tr, te;
    genrep_status s;
    if ((s = genrep_fmnist_load(&tr, o->data_dir, 1))) { report_status("train", "--eval-every: Fashion-MNIST", s); return -1; }
    if ((s = genrep_fmnist_load(&te, o->data_dir, 0))) { report_status("train", "--eval-every: Fashion-MNIST", s); genrep_dataset_free(&tr); return -1; }
    mo->on = 1;
    mo->nb = o->eval_n < (int)tr.n ? o->eval_n : (int)tr.n;
    mo->nq = 2000 < (int)te.n ? 2000 : (int)te.n;
    mo->xb = (float *)xmalloc(sizeof(float) * (size_t)mo->nb * HW, "kNN bank");
    mo->xq = (float *)xmalloc(sizeof(float) * (size_t)mo->nq * HW, "kNN queries");
    mo->fb = (float *)xmalloc(sizeof(float) * (size_t)mo->nb * F, "kNN bank features");
    mo->fq = (float *)xmalloc(sizeof(float) * (size_t)mo->nq * F, "kNN query features");
    mo->yb = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)mo->nb, "kNN labels");
    mo->yq = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)mo->nq, "kNN labels");
    for (size_t i = 0; i < (size_t)mo->nb * HW; i++) mo->xb[i] = (tr.images[i] - 0.5f) / 0.5f;
    for (size_t i = 0; i < (size_t)mo->nq * HW; i++) mo->xq[i] = (te.images[i] - 0.5f) / 0.5f;
    memcpy(mo->yb, tr.labels, sizeof(int32_t) * (size_t)mo->nb);
    memcpy(mo->yq, te.labels, sizeof(int32_t) * (size_t)mo->nq);
    genrep_dataset_free(&tr); genrep_dataset_free(&te);
    return 0;
}

/* kNN top-1 (k = 200, cosine, temperature-weighted votes) of the first 2000
   test images against the bank, on the encoder's features; -1 on failure. */
static float monitor_eval(monitor *mo, genrep_encoder *e) {
    float acc = -1;
    genrep_status s = genrep_encoder_features(mo->fb, e, mo->xb, mo->nb);
    if (!s) s = genrep_encoder_features(mo->fq, e, mo->xq, mo->nq);
    if (!s) s = genrep_knn_accuracy(&acc, mo->fb, mo->yb, mo->nb, mo->fq, mo->yq, mo->nq, e->feat_dim, 10, 200);
    if (s) report_status("train", "kNN monitor", s);
    return s ? -1.0f : acc;
}

static void monitor_close(monitor *mo) { free(mo->xb); free(mo->xq); free(mo->fb); free(mo->fq); free(mo->yb); free(mo->yq); }

/* ---- ranks (mpirun; see dist.h): set-up agreements and shared state ---- */

/* Set-up under K ranks: every rank learns whether any rank failed (each
   failing rank printed why) and all stop at the same point. */
static int any_failed(int failed) { return dist_max(failed ? 1 : 0); }

/* Every rank must run the same command: rank 0's settings, line by line. */
static int same_flags(const train_opts *o) {
    static char mine[16384], ref[16384];
    mine[0] = '\0';
    opt_config_text(&train_table, o, mine, sizeof mine);
    memcpy(ref, mine, sizeof ref);
    dist_bcast(ref, sizeof ref);
    if (!strcmp(mine, ref)) return 0;
    const char *a = mine, *b = ref;
    while (*a && *b) { /* the first line that differs */
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la)) {
            fprintf(stderr, "genrep train: rank %d runs another command than rank 0: '%.*s' here, '%.*s' on rank 0; "
                    "every rank must get the same flags\n", dist.rank, (int)la, a, (int)lb, b);
            return -1;
        }
        a += la + (a[la] == '\n'); b += lb + (b[lb] == '\n');
    }
    fprintf(stderr, "genrep train: rank %d runs another command than rank 0; every rank must get the same flags\n", dist.rank);
    return -1;
}

/* Rank 0's model (fresh or resumed) and optimiser state to every rank. */
static void model_share(model *m) {
    dist_bcast(m->e.params, sizeof(float) * (m->np + m->e.num_buffers));
    dist_bcast(m->mom, sizeof(float) * m->np);
    if (m->head_dim) { dist_bcast(m->head, sizeof(float) * m->nh); dist_bcast(m->hmom, sizeof(float) * m->nh); }
}

/* Rank 0's pool (read or made by pool_prepare) to every rank. */
static void pool_share(source *src, const train_opts *o) {
    pool_t *p = &src->pool;
    if (dist.rank) {
        p->A = o->anchors; p->N = o->pool; p->Z = src->Z;
        p->z = (float *)xmalloc(sizeof(float) * (size_t)p->A * (p->N + 1) * p->Z, "the pool of latents");
        p->y = src->cond ? (int32_t *)xmalloc(sizeof(int32_t) * (size_t)p->A, "the pool's labels") : NULL;
    }
    dist_bcast(p->z, sizeof(float) * (size_t)p->A * (p->N + 1) * p->Z);
    if (p->y) dist_bcast(p->y, sizeof(int32_t) * (size_t)p->A);
}

/* A failure in the middle of a step on one rank: the others wait in a
   collective, so end them all. Rank 0 writes only between steps, with
   atomic writes, so the last checkpoint is whole. */
static void abort_ranks(const char *ckpt) {
    fprintf(stderr, "genrep train: rank %d failed; ending all %d ranks (last good checkpoint: %s%s)\n", dist.rank, dist.size,
            ckpt, dist.rank == 0 && !file_exists(ckpt) ? ", none yet" : "");
    dist_abort(1);
}

/* ---- main ---- */

static int train(int argc, char **argv);

int genrep_cmd_train(int argc, char **argv) {
    dist_init(&argc, &argv);
    int rc = train(argc, argv);
    dist_finalize();
    return rc;
}

static int train(int argc, char **argv) {
    train_opts o;
    int pr = parse(&o, argc, argv);
    pr = dist_max(pr < 0 ? 2 : pr > 0 ? 1 : 0); /* a rank that cannot parse stops them all */
    if (pr) return pr == 1 ? 0 : 2;
    if (dist.size > 1 && any_failed(same_flags(&o))) return 2;
    if (o.batch % dist.size) {
        if (!dist.rank) fprintf(stderr, "genrep train: --batch %d does not split over %d ranks; give a multiple of %d\n", o.batch, dist.size, dist.size);
        return 2;
    }
    if (o.threads) genrep_set_num_threads(o.threads);
    const int B = o.batch, B2 = 2 * B, rank0 = dist.rank == 0;
    run_dir run;
    source src;
    model m;
    batch b;
    monitor mo;
    int rc = 1;
    memset(&mo, 0, sizeof mo);
    /* rank 0 alone owns the run directory */
    if (any_failed(rank0 && run_open(&run, "train", o.out))) return 1;
    char ckpt[4200];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt.safetensors", o.out);
    if (dist.size > 1 && o.data && !strncmp(o.data, "folder:", 7)) { /* the cache lives in rank 0's RUN_DIR */
        if (rank0) fprintf(stderr, "genrep train: --data folder:DIR is not supported over MPI yet (%d ranks); run it in one process\n", dist.size);
        if (rank0) run_close(&run, 0);
        return 2;
    }
    int sr = source_open(&src, &o, B / dist.size, &run);
    if (any_failed(sr)) { source_free(&src); if (rank0) run_close(&run, 0); return sr == -2 ? 2 : 1; }
    if (src.has_folder && o.epochs) o.steps = (int)(((int64_t)o.epochs * src.fc.n + B - 1) / B); /* epochs of this folder */
    if (any_failed(model_create(&m, &o, &src, B2 / dist.size))) { source_free(&src); if (rank0) run_close(&run, 0); return 1; }
    if (dist.size > 1) { m.e.bn_sync = dist_bn_sync; m.e.bn_sync_user = NULL; m.e.bn_sync_rank = dist.rank; } /* whole-batch BN statistics */
    int64_t step0 = 0;
    if (any_failed(rank0 && !strcmp(o.resume, "auto") && file_exists(ckpt) && (step0 = model_resume(&m, ckpt, &o)) < 0)) goto out_model;
    {   /* config.txt: every setting as given, plus what the machine chose */
        char cfg[16384] = "";
        opt_config_text(&train_table, &o, cfg, sizeof cfg);
        snprintf(cfg + strlen(cfg), sizeof cfg - strlen(cfg), "resolved_steps = %d\nresolved_warmup = %d\nthreads_used = %d\nisa = %s\n",
                 o.steps, o.warmup >= 0 ? o.warmup : o.steps / 20, genrep_num_threads(), genrep_isa_name(genrep_get_isa()));
        if (dist.size > 1) snprintf(cfg + strlen(cfg), sizeof cfg - strlen(cfg), "ranks = %d (threads per rank)\n", dist.size);
        if (any_failed(rank0 && run_write_text(&run, "config.txt", cfg))) goto out_model;
    }
    if (src.has_gen && o.pool > 0) {
        if (any_failed(rank0 && pool_prepare(&src, &o, &run))) goto out_model;
        if (dist.size > 1) pool_share(&src, &o);
    }
    if (dist.size > 1) { /* one model: rank 0's, fresh or resumed */
        int64_t st = step0;
        dist_bcast(&st, sizeof st);
        step0 = st;
        model_share(&m);
    }
    if (any_failed(rank0 && monitor_open(&mo, &o, &src, m.F))) goto out_model;
    batch_alloc(&b, B, &src, &m);
    genrep_aug_config ac;
    genrep_aug_config_simclr(&ac, src.H, src.W);
    if (any_failed(rank0 && run_metrics_open(&run, o.eval_every ? "step,loss,lr,img_per_s,knn_top1\n" : "step,loss,lr,img_per_s\n", step0))) goto out_batch;
    run_catch_signals();

    double t0 = now_seconds(), tlast = t0, comm0 = dist.comm_s, wait0 = dist.wait_s;
    uint64_t red0 = dist.bytes_reduced, gat0 = dist.bytes_gathered;
    float loss = 0, knn = -1;
    rc = 0;
    int64_t step = step0;
    for (; step < o.steps && !rc; step++) {
        double tv = now_seconds();
        genrep_status s = make_views(&b, &src, &o, step);
        src.gen_s += now_seconds() - tv;
        if (!s) s = augment(&b, &src, &o, &ac, step);
        if (!s) s = forward_backward(&loss, &m, &b, &o);
        if (s) { report_status("train", "training step", s); if (dist.size > 1) abort_ranks(ckpt); rc = 1; break; }
        if (o.debug_nan_at == step + 1) loss = NAN;
        if (check_finite(&m, loss, step, ckpt)) { rc = 1; break; } /* loss and summed gradients: the same on every rank */
        float lr = update(&m, &o, step);
        int stop = dist_max(run_stop != 0); /* Ctrl-C on any rank: all stop after this step */
        /* 5. log, evaluate, checkpoint (rank 0) */
        double t = now_seconds(), ips = (double)B2 * (double)(step + 1 - step0) / (t - t0 + 1e-9);
        int last = step + 1 == o.steps || stop, evaluated = mo.on && ((step + 1) % o.eval_every == 0 || last);
        if (stop) rc = 130;
        if (!rank0) continue;
        int failed = 0;
        if (evaluated && (knn = monitor_eval(&mo, &m.e)) < 0) failed = 1;
        else if (evaluated ? run_metrics_row(&run, "%lld,%.6f,%.6g,%.1f,%.4f\n", (long long)step + 1, loss, lr, ips, knn)
                           : run_metrics_row(&run, mo.on ? "%lld,%.6f,%.6g,%.1f,\n" : "%lld,%.6f,%.6g,%.1f\n", (long long)step + 1, loss, lr, ips))
            failed = 1;
        if (!failed && !o.quiet && (t - tlast > 1.0 || last || evaluated)) {
            char eta[32], kn[32] = "";
            format_eta(eta, sizeof eta, (double)(o.steps - step - 1) * B2 / ips);
            if (knn >= 0) snprintf(kn, sizeof kn, "  kNN %.2f%%", 100 * knn);
            fprintf(stderr, "\rstep %lld/%d  loss %.4f  lr %.4f  %.0f img/s%s  ETA %s   ", (long long)step + 1, o.steps, loss, lr, ips, kn, eta);
            tlast = t;
        }
        if (!failed && ((step + 1) % o.ckpt_every == 0 || last) && model_save(&m, ckpt, &o, step + 1)) failed = 1;
        if (failed) { if (dist.size > 1) abort_ranks(ckpt); rc = 1; break; }
        if (stop) fprintf(stderr, "\ngenrep train: interrupted; checkpoint saved at step %lld\n", (long long)step + 1);
    }
    if (!o.quiet && rank0) fprintf(stderr, "\n");
    if (!o.quiet && rank0 && src.has_gen && step > step0) /* where a step's time goes (bench/RESULTS.md) */
        fprintf(stderr, "genrep train: %lld steps, %.1f%% of the time in the generator (latents and rendering, %.3f s per step)\n",
                (long long)(step - step0), 100.0 * src.gen_s / (now_seconds() - t0 + 1e-9), src.gen_s / (double)(step - step0));
    if (dist.size > 1 && rank0 && step > step0) { /* the communication of this run (bench/RESULTS.md) */
        double dt = now_seconds() - t0, n = (double)(step - step0);
        fprintf(stderr, "genrep train: %d ranks: per step %.0f bytes all-reduced, %.0f bytes all-gathered; "
                "%.1f%% of %.1f ms per step in MPI (rank 0)", dist.size, (double)(dist.bytes_reduced - red0) / n,
                (double)(dist.bytes_gathered - gat0) / n, 100.0 * (dist.comm_s - comm0) / dt, 1e3 * dt / n);
        if (dist.wait_s > wait0) fprintf(stderr, ", of which %.1f%% waiting for the other ranks", 100.0 * (dist.wait_s - wait0) / dt);
        fprintf(stderr, "\n");
    }
out_batch:
    batch_free(&b);
    monitor_close(&mo);
out_model:
    if (rank0 && run_close(&run, rc == 0) && rc == 0) rc = 1;
    model_free(&m);
    source_free(&src);
    return rc;
}
