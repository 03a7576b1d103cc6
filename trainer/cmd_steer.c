/* trainer/cmd_steer.c: `genrep steer-train`, learn one linear latent walk
   per image transform through a frozen generator (Jahanian et al. 2020),
   for GenRep's steered views (`genrep train --view steer`). */
#include "common.h"
#include "opt.h"
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *gen, *out, *grid, *transforms, *alpha_max;
    int steps, batch, threads;
    float lr;
    uint64_t seed;
} steer_opts;

#define F(x) offsetof(steer_opts, x)
static const opt_spec steer_spec[] = {
    {"gen", OPT_STR, F(gen), NULL, 0, 0, NULL, "FILE", "frozen generator weights (from genrep gan-train)", OPT_REQUIRED},
    {"out", OPT_STR, F(out), NULL, 0, 0, NULL, "FILE", "walks file: tensors \"walks\" (T, zdim) per alpha unit and \"alpha_max\" (T), "
     "metadata genrep.transforms (in order)", OPT_REQUIRED},
    {"transforms", OPT_STR, F(transforms), "shiftx,shifty,zoom,rotate,brightness,contrast", 0, 0, NULL, "LIST",
     "comma list of the transforms to learn", 0},
    {"alpha-max", OPT_STR, F(alpha_max), NULL, 0, 0, NULL, "LIST", "comma list of alpha ranges, one per transform, used in "
     "training and views (default per transform: shift 4 px, zoom 0.75 log2, rotate 30 deg, brightness 0.4, contrast 0.75 log2)", 0},
    {"steps", OPT_INT, F(steps), "2000", 1, 100000000, NULL, "N", "Adam steps", 0},
    {"batch", OPT_INT, F(batch), "32", 1, 4096, NULL, "B", "latents per step", 0},
    {"lr", OPT_FLOAT, F(lr), "1e-3", 1e-8, 10, NULL, "LR", "Adam learning rate", 0},
    {"seed", OPT_U64, F(seed), "0", 0, 0, NULL, "S", "walk init and latent draws", 0},
    {"grid", OPT_STR, F(grid), NULL, 0, 0, NULL, "FILE.png", "one row per transform: G(z + alpha w) for alpha from -max to +max", 0},
    {"threads", OPT_INT, F(threads), NULL, 1, 1024, NULL, "T", "OpenMP threads (default OMP_NUM_THREADS / all cores)", 0},
};
#undef F
static const opt_table steer_table = {
    "steer-train", "--gen WEIGHTS.safetensors --out WALKS.safetensors [flags]",
    "Alpha units: shift pixels, zoom log2 magnification, rotate degrees counter-clockwise,\n"
    "brightness added to [-1,1] pixels, contrast log2 factor about the image mean.\n",
    steer_spec, OPT_N(steer_spec)};

/* Parse a comma list of transforms; returns the count or -1. */
static int parse_transforms(const char *v, genrep_steer_kind *kinds) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v);
    int n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (n == GENREP_STEER_MAX_WALKS) {
            fprintf(stderr, "genrep steer-train: --transforms: at most %d\n", GENREP_STEER_MAX_WALKS);
            return -1;
        }
        if (genrep_steer_parse(&kinds[n], tok)) {
            fprintf(stderr, "genrep steer-train: --transforms: %s\n", genrep_last_error());
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (kinds[i] == kinds[n]) { fprintf(stderr, "genrep steer-train: --transforms: '%s' twice\n", tok); return -1; }
        n++;
    }
    if (!n) fprintf(stderr, "genrep steer-train: --transforms: empty list\n");
    return n ? n : -1;
}

static int parse_floats(const char *v, float *out, int max) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v);
    int n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (n == max) { fprintf(stderr, "genrep steer-train: --alpha-max: more than %d values\n", max); return -1; }
        char *end;
        errno = 0;
        double x = strtod(tok, &end);
        if (errno || end == tok || *end || !isfinite(x) || x < 1e-6 || x > 1e6) {
            fprintf(stderr, "genrep steer-train: --alpha-max: '%s' is not a number in 1e-06..1e+06\n", tok);
            return -1;
        }
        out[n++] = (float)x;
    }
    return n;
}

/* rows = T, cols = n alphas evenly from -alpha_max to +alpha_max, one anchor. */
static genrep_status write_grid(const char *path, genrep_gen *g, const genrep_steer *s, const float *walks,
                                uint64_t seed) {
    const int cols = 9, D = s->D, n = s->T * cols;
    float *z = (float *)xmalloc(sizeof(float) * (size_t)n * D, "grid latents");
    float *img = (float *)xmalloc(sizeof(float) * (size_t)n * 784, "grid images");
    int32_t *y = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)n, "grid labels");
    float z0[1024];
    int32_t y0 = 0;
    genrep_status st = genrep_latent_anchors(z0, 1, D, 1.0f, seed, (uint64_t)1 << 41);
    if (!st && g->cfg.kind == GENREP_GAN_CGAN) st = genrep_latent_classes(&y0, 1, g->cfg.n_classes, seed, (uint64_t)1 << 41);
    for (int t = 0; t < s->T && !st; t++)
        for (int c = 0; c < cols; c++) {
            float a = s->alpha_max[t] * (2.0f * c / (cols - 1) - 1.0f);
            float *zr = z + (size_t)(t * cols + c) * D;
            for (int d = 0; d < D; d++) zr[d] = z0[d] + a * walks[(size_t)t * D + d];
            y[t * cols + c] = y0;
        }
    if (!st) st = genrep_gen_render(g, img, z, g->cfg.kind == GENREP_GAN_CGAN ? y : NULL, n);
    const float mean = 0.5f, std = 0.5f; /* [-1,1] -> [0,1] */
    if (!st) st = genrep_png_write_grid(path, img, s->T, cols, 1, 28, 28, 2, 1.0f, &mean, &std);
    free(z); free(img); free(y);
    return st;
}

/* Options into o, the transforms into kinds and alpha ranges into am.
   0: run; 1: --help printed; -1: bad flags (message printed). */
static int steer_parse(steer_opts *o, genrep_steer_kind *kinds, int *T, float *am, int *n_am, int argc, char **argv) {
    int r = opt_parse(&steer_table, o, NULL, argc, argv);
    if (r) return r;
    if ((*T = parse_transforms(o->transforms, kinds)) < 0) return -1;
    *n_am = 0;
    if (o->alpha_max && (*n_am = parse_floats(o->alpha_max, am, GENREP_STEER_MAX_WALKS)) < 0) return -1;
    if (*n_am && *n_am != *T) {
        fprintf(stderr, "genrep steer-train: --alpha-max has %d values for %d transforms\n", *n_am, *T);
        return -1;
    }
    return 0;
}

/* Adam steps on the walks with a progress line; the running loss in *avg. */
static genrep_status steer_loop(genrep_steer *st, double *avg, genrep_gen *g, const steer_opts *o) {
    genrep_adam_config ac = {o->lr, 0.9f, 0.999f, 1e-8f, 0.0f, 0};
    double t0 = now_seconds(), tlast = 0;
    genrep_status s = GENREP_OK;
    for (int step = 0; step < o->steps; step++) {
        float loss;
        if ((s = genrep_steer_train_step(st, &loss, g, o->batch, &ac, o->seed, step))) break;
        *avg = step ? 0.98 * *avg + 0.02 * loss : loss;
        double t = now_seconds();
        if (t - tlast > 1.0 || step + 1 == o->steps) {
            char eta[32];
            double sps = (step + 1) / (t - t0 + 1e-9);
            format_eta(eta, sizeof eta, (o->steps - step - 1) / sps);
            fprintf(stderr, "\rstep %d/%d  loss %.5f (avg %.5f)  %.1f steps/s  ETA %s   ", step + 1, o->steps, loss, *avg, sps, eta);
            tlast = t;
        }
    }
    fprintf(stderr, "\n");
    return s;
}

/* The walks file: walks (T, D) per alpha unit, alpha_max (T), how it was made. */
static genrep_status steer_save(const steer_opts *o, const genrep_steer *st, const float *walks, const char *names,
                                int D, double avg) {
    const int T = st->T;
    char sv[32], seedv[32], zv[16], lossv[32], lrv[32], bv[16];
    snprintf(sv, sizeof sv, "%d", o->steps); snprintf(seedv, sizeof seedv, "%llu", (unsigned long long)o->seed);
    snprintf(zv, sizeof zv, "%d", D); snprintf(lossv, sizeof lossv, "%.6g", avg);
    snprintf(lrv, sizeof lrv, "%g", o->lr); snprintf(bv, sizeof bv, "%d", o->batch);
    const char *kv[] = {"genrep.transforms", names, "genrep.generator", o->gen,
                        "genrep.alpha_units", "shiftx:px,shifty:px,zoom:log2,rotate:deg,brightness:add,contrast:log2",
                        "genrep.zdim", zv, "genrep.steps", sv, "genrep.batch", bv, "genrep.lr", lrv,
                        "genrep.seed", seedv, "genrep.final_loss", lossv};
    genrep_st_entry e[2] = {{"walks", 2, {T, D}, walks}, {"alpha_max", 1, {T}, st->alpha_max}};
    return genrep_st_write(o->out, e, 2, kv, (int)(sizeof kv / sizeof kv[0]) / 2);
}

int genrep_cmd_steer_train(int argc, char **argv) {
    const char *C = "steer-train";
    steer_opts o;
    genrep_steer_kind kinds[GENREP_STEER_MAX_WALKS];
    float am[GENREP_STEER_MAX_WALKS];
    int T, n_am;
    int pr = steer_parse(&o, kinds, &T, am, &n_am, argc, argv);
    if (pr) return pr > 0 ? 0 : 2;
    if (o.threads) genrep_set_num_threads(o.threads);

    if (gen_file_is_biggan(o.gen)) { /* walks are learnt through the generator's backward; [BIGGAN] is forward-only */
        fprintf(stderr, "genrep steer-train: %s is a BigGAN-deep file; steer-train back-propagates through the generator and "
                "genrep.h's BigGAN has no backward pass. Learn BigGAN walks elsewhere and give them as a walks file "
                "(tensors walks (T,%s) and alpha_max (T)) to genrep train --views steer --walks FILE\n", o.gen, "z_dim");
        return 2;
    }
    genrep_gen g;
    genrep_status s = genrep_gen_load(&g, o.gen, o.batch);
    if (s) { report_status(C, o.gen, s); return 1; }
    if (gen_require_28(C, o.gen, &g, "its image edits are tuned to 28x28 Fashion-MNIST")) { genrep_gen_free(&g); return 1; }
    const int D = g.cfg.zdim;
    if (D > 1024) { fprintf(stderr, "genrep steer-train: zdim %d is over 1024\n", D); genrep_gen_free(&g); return 1; }
    genrep_steer st;
    if ((s = genrep_steer_create(&st, kinds, n_am ? am : NULL, T, D, o.batch, o.seed))) {
        report_status(C, "walk state", s); genrep_gen_free(&g); return 1;
    }
    char names[256] = "";
    for (int t = 0; t < T; t++) {
        if (t) strcat(names, ",");
        strcat(names, genrep_steer_name(kinds[t]));
    }
    fprintf(stderr, "genrep steer-train: %d walks (%s) in %d-d latent of %s; %d steps of %d, lr %g\n",
            T, names, D, o.gen, o.steps, o.batch, o.lr);

    const uint64_t held_out = (uint64_t)1 << 40;
    const int EB = o.batch < 64 ? o.batch : 64;
    float l0[GENREP_STEER_MAX_WALKS], l_still[GENREP_STEER_MAX_WALKS], l1[GENREP_STEER_MAX_WALKS];
    double t0 = now_seconds(), avg = 0;
    float *walks = (float *)xmalloc(sizeof(float) * (size_t)T * D, "walks");
    int rc = 0;
    if ((s = genrep_steer_eval(&st, l0, l_still, &g, EB, o.seed, held_out))) { report_status(C, "eval", s); rc = 1; }
    if (!rc && (s = steer_loop(&st, &avg, &g, &o))) { report_status(C, "train step", s); rc = 1; }
    if (!rc && (s = genrep_steer_eval(&st, l1, NULL, &g, EB, o.seed, held_out))) { report_status(C, "eval", s); rc = 1; }
    genrep_steer_walks(walks, &st);
    if (!rc) {
        /* held-out masked MSE against the edit: walked, at the start, and not moving at all */
        printf("%-11s %9s %10s %10s %10s %9s\n", "transform", "alpha_max", "walk_end", "walk_init", "still", "|w|*amax");
        for (int t = 0; t < T; t++) {
            double n2 = 0;
            for (int d = 0; d < D; d++) n2 += (double)st.unit[(size_t)t * D + d] * st.unit[(size_t)t * D + d];
            printf("%-11s %9.3g %10.5f %10.5f %10.5f %9.3f\n", genrep_steer_name(kinds[t]), st.alpha_max[t], l1[t], l0[t],
                   l_still[t], sqrt(n2));
        }
        if ((s = steer_save(&o, &st, walks, names, D, avg))) { report_status(C, o.out, s); rc = 1; }
        else fprintf(stderr, "genrep steer-train: wrote %s (%.0fs)\n", o.out, now_seconds() - t0);
    }
    if (!rc && o.grid && *o.grid) {
        if ((s = write_grid(o.grid, &g, &st, walks, o.seed))) { report_status(C, o.grid, s); rc = 1; }
        else fprintf(stderr, "genrep steer-train: wrote %s\n", o.grid);
    }
    free(walks);
    genrep_steer_free(&st);
    genrep_gen_free(&g);
    return rc;
}
