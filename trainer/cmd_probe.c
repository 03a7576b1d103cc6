/* trainer/cmd_probe.c: `genrep probe`, the linear (and kNN) evaluation of a
   frozen encoder on real Fashion-MNIST, or of raw pixels / a random encoder. */
#include "common.h"
#include "opt.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *run, *encoder, *random, *data_dir, *out;
    int raw, train_n, probe, epochs, knn, threads, width, blocks;
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
    {"train-n", OPT_INT, F(train_n), "60000", 10, 60000, NULL, "N", "use the first N training images", 0},
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
    "probe", "(--run RUN_DIR | --encoder CKPT | --raw | --random small|resnet18) [flags]",
    "Features are the encoder's pooled features in eval mode (batchnorm running stats).\n",
    probe_spec, OPT_N(probe_spec)};

/* Encoder features of n images (normalised to (x-0.5)/0.5 as in training). */
static int features(genrep_encoder *e, const genrep_dataset *d, int n, float *out) {
    const int HW = d->h * d->w, CH = e->max_batch;
    float *x = (float *)malloc(sizeof(float) * (size_t)CH * HW);
    for (int i0 = 0; i0 < n; i0 += CH) {
        int nb = n - i0 < CH ? n - i0 : CH;
        for (size_t i = 0; i < (size_t)nb * HW; i++) x[i] = (d->images[(size_t)i0 * HW + i] - 0.5f) / 0.5f;
        genrep_status s = genrep_encoder_features(out + (size_t)i0 * e->feat_dim, e, x, nb);
        if (s) { report_status("probe", "features", s); free(x); return -1; }
    }
    free(x);
    return 0;
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
    genrep_dataset tr, te;
    genrep_status s;
    const char *dd = o.data_dir;
    if ((s = genrep_fmnist_load(&tr, dd, 1)) || (s = genrep_fmnist_load(&te, dd, 0))) {
        report_status("probe", "loading Fashion-MNIST", s); return 1;
    }
    int ntr = train_n < tr.n ? train_n : (int)tr.n, nte = (int)te.n, D;
    float *ftr, *fte;
    const char *what;
    double t0 = now_seconds();
    if (raw) {
        D = tr.c * tr.h * tr.w; ftr = tr.images; fte = te.images; what = "raw pixels";
    } else {
        genrep_encoder e;
        if (enc_path[0]) {
            if ((s = load_encoder("probe", enc_path, &e, 256))) return 1;
            if (e.cfg.in_channels != tr.c || e.cfg.in_h != tr.h || e.cfg.in_w != tr.w) {
                fprintf(stderr, "genrep probe: %s takes %dx%dx%d images (metadata genrep.in); Fashion-MNIST's are %dx%dx%d\n",
                        enc_path, e.cfg.in_channels, e.cfg.in_h, e.cfg.in_w, tr.c, tr.h, tr.w);
                genrep_encoder_free(&e); return 1;
            }
            what = enc_path;
        } else {
            genrep_encoder_config ec;
            if ((s = genrep_encoder_config_named(&ec, random_arch, width, blocks, 1, 28, 28))) { report_status("probe", "--random", s); return 2; }
            if ((s = genrep_encoder_create(&e, &ec, 256, seed ^ 0xE7C0DE))) { report_status("probe", "encoder", s); return 1; }
            what = random_arch[0] == 's' ? "random small encoder" : "random resnet18 encoder";
        }
        D = e.feat_dim;
        ftr = (float *)malloc(sizeof(float) * (size_t)ntr * D);
        fte = (float *)malloc(sizeof(float) * (size_t)nte * D);
        fprintf(stderr, "genrep probe: extracting %d-d features of %d + %d images ...\n", D, ntr, nte);
        if (features(&e, &tr, ntr, ftr) || features(&e, &te, nte, fte)) return 1;
        genrep_encoder_free(&e);
    }
    double t1 = now_seconds();
    float acc = 0, tracc = 0, knn = -1;
    genrep_logreg_result lr = {0};
    genrep_logreg_config lc;
    genrep_logreg_config_default(&lc);
    if (adam) s = genrep_linear_probe(&acc, &tracc, ftr, tr.labels, ntr, fte, te.labels, nte, D, 10, &pc);
    else if (!(s = genrep_logreg_probe(&lr, ftr, tr.labels, ntr, fte, te.labels, nte, D, 10, &lc))) {
        acc = lr.test_acc; tracc = lr.train_acc;
    }
    if (s) { report_status("probe", "linear probe", s); return 1; }
    double t15 = now_seconds();
    if (knn_k > 0 && (s = genrep_knn_accuracy(&knn, ftr, tr.labels, ntr, fte, te.labels, nte, D, 10, knn_k))) {
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
    if (!raw) { free(ftr); free(fte); }
    genrep_dataset_free(&tr); genrep_dataset_free(&te);
    return 0;
}
