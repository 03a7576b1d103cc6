/* trainer/cmd_probe.c: `genrep probe`, the linear (and kNN) evaluation of a
   frozen encoder on real Fashion-MNIST or on image folders (--probe-train,
   --probe-test), or of raw pixels / a random encoder. Folder images are
   decoded a batch at a time straight into features (nothing but the
   features is kept), so a folder larger than memory probes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup under -std=c11 */
#endif
#include "common.h"
#include "folder.h"
#include "opt.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *run, *encoder, *random, *data_dir, *out, *probe_train, *probe_test;
    int raw, train_n, probe, epochs, knn, threads, width, blocks, size, channels, skip_bad;
    float lr;
    uint64_t seed;
} probe_opts;

#define F(x) offsetof(probe_opts, x)
static const opt_spec probe_spec[] = {
    {"run", OPT_STR, F(run), NULL, 0, 0, NULL, "RUN_DIR", "probe RUN_DIR/ckpt.safetensors; the result goes to RUN_DIR/probe.csv", 0},
    {"encoder", OPT_STR, F(encoder), NULL, 0, 0, NULL, "FILE", "probe an encoder checkpoint", 0},
    {"raw", OPT_BOOL, F(raw), NULL, 0, 0, NULL, NULL, "baseline: raw pixels as features", 0},
    {"random", OPT_STR, F(random), NULL, 0, 0, NULL, "small|resnet18", "baseline: a randomly initialised encoder (--seed, --width, --blocks)", 0},
    {"width", OPT_INT, F(width), NULL, 1, GENREP_ENCODER_MAX_WIDTH, NULL, "W", "--random: base channels (default: the arch's own)", 0},
    {"blocks", OPT_INT, F(blocks), NULL, 1, GENREP_ENCODER_MAX_BLOCKS, NULL, "N", "--random: basic blocks per stage (default 2)", 0},
    {"data-dir", OPT_STR, F(data_dir), NULL, 0, 0, NULL, "DIR", "Fashion-MNIST files (default $GENREP_FMNIST_DIR or Debian's path)", 0},
    {"probe-train", OPT_STR, F(probe_train), NULL, 0, 0, NULL, "DIR", "train the probe on DIR/<class>/<image>.png|jpg instead of Fashion-MNIST", 0},
    {"probe-test", OPT_STR, F(probe_test), NULL, 0, 0, NULL, "DIR", "test it on DIR/<class>/... (the same class folders)", 0},
    {"size", OPT_INT, F(size), NULL, 1, 4096, NULL, "S", "folders with --raw/--random: centre-crop and resize to SxS (else one common size); with an encoder its input size is used", 0},
    {"channels", OPT_INT, F(channels), NULL, 1, 3, NULL, "1|3", "folders with --raw/--random: gray or RGB (default 3); with an encoder its input channels", 0},
    {"skip-bad", OPT_BOOL, F(skip_bad), NULL, 0, 0, NULL, NULL, "folders: leave out unreadable files (each is named) instead of stopping", 0},
    {"train-n", OPT_INT, F(train_n), "60000", 10, 100000000, NULL, "N", "use the first N training images", 0},
    {"probe", OPT_ENUM, F(probe), "lbfgs", 0, 0, "lbfgs|adam", NULL, "lbfgs: L-BFGS to tolerance, L2 by 3-fold CV on the training images; adam: the old fixed-epoch probe", 0},
    {"epochs", OPT_INT, F(epochs), "60", 1, 10000, NULL, "E", "--probe adam: epochs", 0},
    {"lr", OPT_FLOAT, F(lr), "1e-2", 1e-8, 10, NULL, "LR", "--probe adam: learning rate", 0},
    {"knn", OPT_INT, F(knn), "200", 0, 60000, NULL, "K", "neighbours for the kNN accuracy (0: skip)", 0},
    {"out", OPT_STR, F(out), NULL, 0, 0, NULL, "FILE.csv", "where to write the result row (default RUN_DIR/probe.csv)", 0},
    {"seed", OPT_U64, F(seed), "0", 0, 0, NULL, "S", "seed of the probe and of --random", 0},
    {"threads", OPT_INT, F(threads), NULL, 1, 1024, NULL, "T", "OpenMP threads (default: OMP_NUM_THREADS, else all cores)", 0},
};
#undef F
static const opt_table probe_table = {
    "probe", "(--run RUN_DIR | --encoder CKPT | --raw | --random small|resnet18) [--probe-train DIR --probe-test DIR] [flags]",
    "Features are the encoder's pooled features in eval mode (batchnorm running stats).\n",
    probe_spec, OPT_N(probe_spec)};

/* The probe's data: Fashion-MNIST in memory, or a folder read as it goes. */
typedef struct {
    genrep_dataset ds;       /* fmnist: images and labels */
    folder_t f;              /* folder: files and labels */
    int is_folder, n, n_bad; /* n: images kept (folder: after the unreadable ones) */
    char **bad;              /* the unreadable files, with reasons */
    int32_t *labels;         /* n labels (folder: of the kept images) */
} pdata;

/* Features of the first n images of d: out (n, D), rows of unreadable folder
   images dropped (d->n, d->labels updated). feat: an encoder (NULL: raw pixels,
   D = C*H*W). Folder images are decoded per batch of CH. */
static int pdata_features(pdata *d, int n, const folder_shape *sh, genrep_encoder *e, float *out, int D) {
    const int CH = e ? e->max_batch : 256;
    const size_t HW = (size_t)sh->C * sh->H * sh->W;
    float *x = (float *)xmalloc(sizeof(float) * (size_t)CH * HW, "a batch of images");
    int kept = 0;
    char err[1024];
    for (int i0 = 0; i0 < n; i0 += CH) {
        int nb = n - i0 < CH ? n - i0 : CH, got = 0;
        for (int i = i0; i < i0 + nb; i++) {
            if (!d->is_folder) {
                memcpy(x + (size_t)got * HW, d->ds.images + (size_t)i * HW, sizeof(float) * HW);
                d->labels[kept + got++] = d->ds.labels[i];
                continue;
            }
            int r = folder_image(x + (size_t)got * HW, &d->f, i, sh, err, sizeof err);
            if (r == -2) { fprintf(stderr, "genrep probe: %s\n", err); free(x); return -1; }
            if (r) {
                d->bad = (char **)xrealloc(d->bad, sizeof(char *) * (size_t)(d->n_bad + 1), "unreadable files");
                d->bad[d->n_bad++] = strdup(err);
                continue;
            }
            d->labels[kept + got++] = d->f.labels[i];
        }
        if (!e) {
            memcpy(out + (size_t)kept * D, x, sizeof(float) * (size_t)got * HW);
        } else if (got) {
            for (size_t i = 0; i < (size_t)got * HW; i++) x[i] = (x[i] - 0.5f) / 0.5f; /* as in training */
            genrep_status s = genrep_encoder_features(out + (size_t)kept * e->feat_dim, e, x, got);
            if (s) { report_status("probe", "features", s); free(x); return -1; }
        }
        kept += got;
    }
    free(x);
    d->n = kept;
    return 0;
}

static int pdata_open(pdata *d, const char *dir, const char *data_dir, int train) {
    memset(d, 0, sizeof *d);
    genrep_status s;
    if (!dir) {
        if ((s = genrep_fmnist_load(&d->ds, data_dir, train))) { report_status("probe", "loading Fashion-MNIST", s); return -1; }
        d->n = (int)d->ds.n;
    } else {
        if (folder_scan(&d->f, dir, "probe")) return -1;
        if (d->f.flat) {
            fprintf(stderr, "genrep probe: folder %s has no class sub-folders: the probe needs labels (DIR/<class>/<image>)\n", dir);
            return -1;
        }
        d->is_folder = 1;
        d->n = d->f.n;
    }
    d->labels = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)(d->n ? d->n : 1), "labels");
    return 0;
}

static void pdata_free(pdata *d) {
    genrep_dataset_free(&d->ds);
    folder_free(&d->f);
    for (int i = 0; i < d->n_bad; i++) free(d->bad[i]);
    free(d->bad); free(d->labels);
    memset(d, 0, sizeof *d);
}

int genrep_cmd_probe(int argc, char **argv) {
    probe_opts o;
    int pr = opt_parse(&probe_table, &o, NULL, argc, argv);
    if (pr) return pr > 0 ? 0 : 2;
    if (o.random && strcmp(o.random, "small") && strcmp(o.random, "resnet18")) {
        fprintf(stderr, "genrep probe: --random: '%s' unknown, expected small or resnet18\n", o.random); return 2;
    }
    char enc_path[4200] = "", out[4200] = "";
    const char *random_arch = o.random ? o.random : "";
    int raw = o.raw, train_n = o.train_n, knn_k = o.knn, width = o.width, blocks = o.blocks, adam = o.probe == 1;
    uint64_t seed = o.seed;
    genrep_probe_config pc;
    genrep_probe_config_default(&pc);
    pc.epochs = o.epochs; pc.lr = o.lr;
    if (o.encoder) snprintf(enc_path, sizeof enc_path, "%s", o.encoder);
    if (o.out) snprintf(out, sizeof out, "%s", o.out);
    int nsrc = !!o.run + !!o.encoder + raw + !!o.random;
    if (nsrc != 1) { fprintf(stderr, "genrep probe: give exactly one of --run, --encoder, --raw, --random\n"); return 2; }
    if (o.threads) genrep_set_num_threads(o.threads);
    if (o.run) {
        snprintf(enc_path, sizeof enc_path, "%s/ckpt.safetensors", o.run);
        if (!out[0]) snprintf(out, sizeof out, "%s/probe.csv", o.run);
    }
    pc.seed = seed;
    if (!!o.probe_train != !!o.probe_test) { fprintf(stderr, "genrep probe: give both --probe-train DIR and --probe-test DIR\n"); return 2; }
    const int folders = !!o.probe_train;
    if ((o.size || o.channels || o.skip_bad) && !folders) { fprintf(stderr, "genrep probe: --size, --channels and --skip-bad are for --probe-train/--probe-test folders\n"); return 2; }
    if (o.channels == 2) { fprintf(stderr, "genrep probe: --channels: 2 is not an image format, expected 1 (gray) or 3 (RGB)\n"); return 2; }
    pdata tr, te;
    if (pdata_open(&tr, o.probe_train, o.data_dir, 1)) { pdata_free(&tr); return 1; }
    if (pdata_open(&te, o.probe_test, o.data_dir, 0)) { pdata_free(&tr); pdata_free(&te); return 1; }
    int ncls = 10;
    if (folders) { /* the same classes, in the same order */
        int same = tr.f.n_classes == te.f.n_classes;
        for (int c = 0; same && c < tr.f.n_classes; c++) same = !strcmp(tr.f.classes[c], te.f.classes[c]);
        if (!same) {
            fprintf(stderr, "genrep probe: %s and %s have different class folders (%d: %s ... and %d: %s ...); they must be the same\n",
                    o.probe_train, o.probe_test, tr.f.n_classes, tr.f.classes[0], te.f.n_classes, te.f.classes[0]);
            pdata_free(&tr); pdata_free(&te); return 1;
        }
        ncls = tr.f.n_classes;
        if (ncls < 2) { fprintf(stderr, "genrep probe: %s has one class folder; a probe needs two or more\n", o.probe_train); pdata_free(&tr); pdata_free(&te); return 1; }
    }
    genrep_status s;
    int ntr = train_n < tr.n ? train_n : tr.n, nte = te.n, D;
    float *ftr, *fte;
    const char *what;
    double t0 = now_seconds();
    folder_shape sh = {1, 28, 28, 0, 0};
    genrep_encoder e;
    int have_e = 0;
    if (!raw) {
        if (enc_path[0]) {
            if ((s = load_encoder("probe", enc_path, &e, 256))) { pdata_free(&tr); pdata_free(&te); return 1; }
            if (!folders && (e.cfg.in_channels != 1 || e.cfg.in_h != 28 || e.cfg.in_w != 28)) {
                fprintf(stderr, "genrep probe: %s takes %dx%dx%d images (metadata genrep.in); Fashion-MNIST's are 1x28x28: "
                        "probe it on image folders with --probe-train DIR --probe-test DIR\n",
                        enc_path, e.cfg.in_channels, e.cfg.in_h, e.cfg.in_w);
                genrep_encoder_free(&e); pdata_free(&tr); pdata_free(&te); return 1;
            }
            if (folders && (o.size || o.channels)) {
                fprintf(stderr, "genrep probe: --size and --channels are for --raw/--random; %s takes %dx%dx%d images\n",
                        enc_path, e.cfg.in_channels, e.cfg.in_h, e.cfg.in_w);
                genrep_encoder_free(&e); pdata_free(&tr); pdata_free(&te); return 2;
            }
            /* folders are brought to the encoder's input: centre-crop + resize when it is square */
            sh.C = e.cfg.in_channels; sh.H = e.cfg.in_h; sh.W = e.cfg.in_w; sh.fit = 1;
            what = enc_path;
        } else {
            if (folders) {
                sh.C = o.channels ? o.channels : 3; sh.size = o.size;
                if (folder_shape_init(&sh, &tr.f, "probe")) { pdata_free(&tr); pdata_free(&te); return 1; }
            }
            genrep_encoder_config ec;
            if ((s = genrep_encoder_config_named(&ec, random_arch, width, blocks, sh.C, sh.H, sh.W))) { report_status("probe", "--random", s); pdata_free(&tr); pdata_free(&te); return 2; }
            if ((s = genrep_encoder_create(&e, &ec, 256, seed ^ 0xE7C0DE))) { report_status("probe", "encoder", s); pdata_free(&tr); pdata_free(&te); return 1; }
            what = random_arch[0] == 's' ? "random small encoder" : "random resnet18 encoder";
        }
        have_e = 1;
        D = e.feat_dim;
    } else {
        if (folders) {
            sh.C = o.channels ? o.channels : 3; sh.size = o.size;
            if (folder_shape_init(&sh, &tr.f, "probe")) { pdata_free(&tr); pdata_free(&te); return 1; }
        }
        D = sh.C * sh.H * sh.W; what = "raw pixels";
    }
    ftr = (float *)xmalloc(sizeof(float) * (size_t)ntr * D, "features");
    fte = (float *)xmalloc(sizeof(float) * (size_t)(nte ? nte : 1) * D, "features");
    fprintf(stderr, "genrep probe: extracting %d-d features of %d + %d images ...\n", D, ntr, nte);
    if (pdata_features(&tr, ntr, &sh, have_e ? &e : NULL, ftr, D) || pdata_features(&te, nte, &sh, have_e ? &e : NULL, fte, D)) {
        if (have_e) genrep_encoder_free(&e);
        pdata_free(&tr); pdata_free(&te); free(ftr); free(fte); return 1;
    }
    if (have_e) genrep_encoder_free(&e);
    if (folders) { /* every unreadable file named; stop unless --skip-bad */
        int r1 = folder_report_bad("probe", &tr.f, tr.n_bad, tr.bad, o.skip_bad);
        int r2 = folder_report_bad("probe", &te.f, te.n_bad, te.bad, o.skip_bad);
        if (r1 || r2 || tr.n < 2 || te.n < 1) {
            if (!r1 && !r2) fprintf(stderr, "genrep probe: too few readable images left (%d train, %d test)\n", tr.n, te.n);
            pdata_free(&tr); pdata_free(&te); free(ftr); free(fte); return 1;
        }
    }
    ntr = tr.n; nte = te.n;
    double t1 = now_seconds();
    float acc = 0, tracc = 0, knn = -1;
    genrep_logreg_result lr = {0};
    genrep_logreg_config lc;
    genrep_logreg_config_default(&lc);
    if (adam) s = genrep_linear_probe(&acc, &tracc, ftr, tr.labels, ntr, fte, te.labels, nte, D, ncls, &pc);
    else if (!(s = genrep_logreg_probe(&lr, ftr, tr.labels, ntr, fte, te.labels, nte, D, ncls, &lc))) {
        acc = lr.test_acc; tracc = lr.train_acc;
    }
    if (s) { report_status("probe", "linear probe", s); return 1; }
    double t15 = now_seconds();
    if (knn_k > ntr) knn_k = ntr; /* a small folder */
    if (knn_k > 0 && (s = genrep_knn_accuracy(&knn, ftr, tr.labels, ntr, fte, te.labels, nte, D, ncls, knn_k))) {
        report_status("probe", "kNN", s); return 1;
    }
    double t2 = now_seconds();
    printf("probe: %s: linear top-1 %.2f%% (train %.2f%%)", what, 100 * acc, 100 * tracc);
    if (knn >= 0) printf("  kNN(k=%d) top-1 %.2f%%", knn_k, 100 * knn);
    if (!adam) printf("  [L2 %g by CV, %d L-BFGS iterations%s]", lr.lambda, lr.fit.iters, lr.fit.hit_cap ? " (hit the cap)" : "");
    printf("  [features %.0fs, linear %.0fs, kNN %.0fs]\n", t1 - t0, t15 - t1, t2 - t15);
    if (out[0]) {
        char row[2048];
        snprintf(row, sizeof row, "source,train_n,linear_top1,train_top1,knn_k,knn_top1,probe,l2,probe_iters,grad_max,probe_s\n"
                 "\"%s\",%d,%.4f,%.4f,%d,%.4f,%s,%g,%d,%.3g,%.1f\n",
                 what, ntr, acc, tracc, knn_k, knn, adam ? "adam" : "lbfgs", adam ? pc.weight_decay : lr.lambda,
                 adam ? pc.epochs : lr.fit.iters, adam ? 0.0 : lr.fit.grad_max, t2 - t1);
        if (write_text_atomic(out, row)) return 1;
    }
    free(ftr); free(fte);
    pdata_free(&tr); pdata_free(&te);
    return 0;
}
