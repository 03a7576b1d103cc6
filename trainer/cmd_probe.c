/* trainer/cmd_probe.c: `genrep probe`, the linear (and kNN) evaluation of a
   frozen encoder on real Fashion-MNIST, or of raw pixels / a random encoder. */
#include "common.h"
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
        "usage: genrep probe (--run RUN_DIR | --encoder CKPT | --raw | --random small|resnet18) [flags]\n"
        "  --run DIR        probe RUN_DIR/ckpt.safetensors; results go to RUN_DIR/probe.csv\n"
        "  --encoder FILE   probe an encoder checkpoint\n"
        "  --raw            baseline: raw pixels as features\n"
        "  --random ARCH    baseline: a randomly initialised encoder (--seed; --width W, --blocks N as in train)\n"
        "  --data-dir DIR   Fashion-MNIST files (default $GENREP_FMNIST_DIR or Debian's path)\n"
        "  --train-n N      use the first N training images (default all 60000)\n"
        "  --probe lbfgs|adam  lbfgs (default): L-BFGS to tolerance, L2 by 3-fold CV on the\n"
        "                   training images; adam: the old fixed-epoch probe (--epochs E (60), --lr (1e-2))\n"
        "  --knn K          neighbours for the kNN accuracy (default 200; 0 = skip)\n"
        "  --out FILE.csv   where to write the result row (default RUN_DIR/probe.csv)\n"
        "  --seed S --threads T\n"
        "Features are the encoder's pooled features in eval mode (batchnorm running stats).\n");
}

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
    const char *C = "probe";
    char run[1024] = "", enc_path[1200] = "", random_arch[32] = "", data_dir[1024] = "", out[1200] = "";
    int raw = 0, train_n = 60000, knn_k = 200, threads = 0, width = 0, blocks = 0, adam = 0;
    uint64_t seed = 0;
    genrep_probe_config pc;
    genrep_probe_config_default(&pc);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
#define VAL() do { if (!(v = flag_value(C, argc, argv, &i))) return 2; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--run")) { VAL(); snprintf(run, sizeof run, "%s", v); }
        else if (!strcmp(a, "--encoder")) { VAL(); snprintf(enc_path, sizeof enc_path, "%s", v); }
        else if (!strcmp(a, "--raw")) raw = 1;
        else if (!strcmp(a, "--random")) {
            VAL();
            if (strcmp(v, "small") && strcmp(v, "resnet18")) { fprintf(stderr, "genrep probe: --random: '%s' unknown, expected small or resnet18\n", v); return 2; }
            snprintf(random_arch, sizeof random_arch, "%s", v);
        }
        else if (!strcmp(a, "--width")) { VAL(); if (flag_int(C, a, v, 1, GENREP_ENCODER_MAX_WIDTH, &width)) return 2; }
        else if (!strcmp(a, "--blocks")) { VAL(); if (flag_int(C, a, v, 1, GENREP_ENCODER_MAX_BLOCKS, &blocks)) return 2; }
        else if (!strcmp(a, "--data-dir")) { VAL(); snprintf(data_dir, sizeof data_dir, "%s", v); }
        else if (!strcmp(a, "--train-n")) { VAL(); if (flag_int(C, a, v, 10, 60000, &train_n)) return 2; }
        else if (!strcmp(a, "--epochs")) { VAL(); if (flag_int(C, a, v, 1, 10000, &pc.epochs)) return 2; }
        else if (!strcmp(a, "--lr")) { VAL(); if (flag_float(C, a, v, 1e-8, 10, &pc.lr)) return 2; }
        else if (!strcmp(a, "--probe")) {
            VAL();
            if (strcmp(v, "lbfgs") && strcmp(v, "adam")) { fprintf(stderr, "genrep probe: --probe: '%s' unknown, expected lbfgs or adam\n", v); return 2; }
            adam = v[0] == 'a';
        }
        else if (!strcmp(a, "--knn")) { VAL(); if (flag_int(C, a, v, 0, 60000, &knn_k)) return 2; }
        else if (!strcmp(a, "--out")) { VAL(); snprintf(out, sizeof out, "%s", v); }
        else if (!strcmp(a, "--seed")) { VAL(); if (flag_u64(C, a, v, &seed)) return 2; }
        else if (!strcmp(a, "--threads")) { VAL(); if (flag_int(C, a, v, 1, 1024, &threads)) return 2; }
        else { fprintf(stderr, "genrep probe: unknown flag '%s' (genrep probe --help lists them)\n", a); return 2; }
#undef VAL
    }
    int nsrc = !!run[0] + !!enc_path[0] + raw + !!random_arch[0];
    if (nsrc != 1) { fprintf(stderr, "genrep probe: give exactly one of --run, --encoder, --raw, --random\n"); return 2; }
    if (threads) genrep_set_num_threads(threads);
    if (run[0]) {
        snprintf(enc_path, sizeof enc_path, "%s/ckpt.safetensors", run);
        if (!out[0]) snprintf(out, sizeof out, "%s/probe.csv", run);
    }
    pc.seed = seed;
    genrep_dataset tr, te;
    genrep_status s;
    const char *dd = data_dir[0] ? data_dir : NULL;
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
