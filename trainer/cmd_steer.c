/* trainer/cmd_steer.c: `genrep steer-train`, learn one linear latent walk
   per image transform through a frozen generator (Jahanian et al. 2020),
   for GenRep's steered views (`genrep train --view steer`). */
#include "common.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
        "usage: genrep steer-train --gen WEIGHTS.safetensors --out WALKS.safetensors [flags]\n"
        "  --gen FILE         frozen generator weights (from genrep gan-train)\n"
        "  --out FILE         walks file: tensors \"walks\" (T, zdim) per alpha unit and\n"
        "                     \"alpha_max\" (T), metadata genrep.transforms (in order)\n"
        "  --transforms LIST  comma list of shiftx,shifty,zoom,rotate,brightness,contrast\n"
        "                     (default all six, in that order)\n"
        "  --alpha-max LIST   comma list of alpha ranges, one per transform (default per\n"
        "                     transform: shift 4 px, zoom 0.75 log2, rotate 30 deg,\n"
        "                     brightness 0.4, contrast 0.75 log2); used in training and views\n"
        "  --steps N          Adam steps (default 2000)   --batch B (32)   --lr (1e-3)\n"
        "  --seed S           walk init and latent draws (default 0)\n"
        "  --grid FILE.png    one row per transform: G(z + alpha w) for alpha from -max to +max\n"
        "  --threads T        OpenMP threads\n"
        "Alpha units: shift pixels, zoom log2 magnification, rotate degrees counter-clockwise,\n"
        "brightness added to [-1,1] pixels, contrast log2 factor about the image mean.\n");
}

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
        if (flag_float("steer-train", "--alpha-max", tok, 1e-6, 1e6, &out[n])) return -1;
        n++;
    }
    return n;
}

/* rows = T, cols = n alphas evenly from -alpha_max to +alpha_max, one anchor. */
static genrep_status write_grid(const char *path, genrep_gen *g, const genrep_steer *s, const float *walks,
                                uint64_t seed) {
    const int cols = 9, D = s->D, n = s->T * cols;
    float *z = (float *)malloc(sizeof(float) * (size_t)n * D), *img = (float *)malloc(sizeof(float) * (size_t)n * 784);
    int32_t *y = (int32_t *)malloc(sizeof(int32_t) * (size_t)n);
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

int genrep_cmd_steer_train(int argc, char **argv) {
    const char *C = "steer-train";
    char gen_path[1024] = "", out[1024] = "", grid[1024] = "";
    int steps = 2000, batch = 32, threads = 0, T = GENREP_STEER_N_KINDS, n_am = 0;
    float lr = 1e-3f, am[GENREP_STEER_MAX_WALKS];
    uint64_t seed = 0;
    genrep_steer_kind kinds[GENREP_STEER_MAX_WALKS];
    for (int t = 0; t < T; t++) kinds[t] = (genrep_steer_kind)t;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
#define VAL() do { if (!(v = flag_value(C, argc, argv, &i))) return 2; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--gen")) { VAL(); snprintf(gen_path, sizeof gen_path, "%s", v); }
        else if (!strcmp(a, "--out")) { VAL(); snprintf(out, sizeof out, "%s", v); }
        else if (!strcmp(a, "--grid")) { VAL(); snprintf(grid, sizeof grid, "%s", v); }
        else if (!strcmp(a, "--transforms")) { VAL(); if ((T = parse_transforms(v, kinds)) < 0) return 2; }
        else if (!strcmp(a, "--alpha-max")) { VAL(); if ((n_am = parse_floats(v, am, GENREP_STEER_MAX_WALKS)) < 0) return 2; }
        else if (!strcmp(a, "--steps")) { VAL(); if (flag_int(C, a, v, 1, 100000000, &steps)) return 2; }
        else if (!strcmp(a, "--batch")) { VAL(); if (flag_int(C, a, v, 1, 4096, &batch)) return 2; }
        else if (!strcmp(a, "--lr")) { VAL(); if (flag_float(C, a, v, 1e-8, 10, &lr)) return 2; }
        else if (!strcmp(a, "--seed")) { VAL(); if (flag_u64(C, a, v, &seed)) return 2; }
        else if (!strcmp(a, "--threads")) { VAL(); if (flag_int(C, a, v, 1, 1024, &threads)) return 2; }
        else { fprintf(stderr, "genrep steer-train: unknown flag '%s' (genrep steer-train --help lists them)\n", a); return 2; }
#undef VAL
    }
    if (!gen_path[0] || !out[0]) {
        fprintf(stderr, "genrep steer-train: --gen and --out are required (train a generator first with genrep gan-train)\n");
        return 2;
    }
    if (n_am && n_am != T) {
        fprintf(stderr, "genrep steer-train: --alpha-max has %d values for %d transforms\n", n_am, T);
        return 2;
    }
    if (threads) genrep_set_num_threads(threads);

    genrep_gen g;
    genrep_status s = genrep_gen_load(&g, gen_path, batch);
    if (s) { report_status(C, gen_path, s); return 1; }
    const int D = g.cfg.zdim;
    if (D > 1024) { fprintf(stderr, "genrep steer-train: zdim %d is over 1024\n", D); return 1; }
    genrep_steer st;
    if ((s = genrep_steer_create(&st, kinds, n_am ? am : NULL, T, D, batch, seed))) {
        report_status(C, "walk state", s); genrep_gen_free(&g); return 1;
    }
    char names[256] = "";
    for (int t = 0; t < T; t++) {
        if (t) strcat(names, ",");
        strcat(names, genrep_steer_name(kinds[t]));
    }
    fprintf(stderr, "genrep steer-train: %d walks (%s) in %d-d latent of %s; %d steps of %d, lr %g\n",
            T, names, D, gen_path, steps, batch, lr);

    genrep_adam_config ac = {lr, 0.9f, 0.999f, 1e-8f, 0.0f, 0};
    const uint64_t held_out = (uint64_t)1 << 40;
    const int EB = batch < 64 ? batch : 64;
    float l0[GENREP_STEER_MAX_WALKS], l_still[GENREP_STEER_MAX_WALKS], l1[GENREP_STEER_MAX_WALKS];
    if ((s = genrep_steer_eval(&st, l0, l_still, &g, EB, seed, held_out))) { report_status(C, "eval", s); return 1; }
    double t0 = now_seconds(), tlast = 0, avg = 0;
    int rc = 0;
    for (int step = 0; step < steps; step++) {
        float loss;
        if ((s = genrep_steer_train_step(&st, &loss, &g, batch, &ac, seed, step))) {
            fprintf(stderr, "\n"); report_status(C, "train step", s); rc = 1; break;
        }
        avg = step ? 0.98 * avg + 0.02 * loss : loss;
        double t = now_seconds();
        if (t - tlast > 1.0 || step + 1 == steps) {
            char eta[32];
            double sps = (step + 1) / (t - t0 + 1e-9);
            format_eta(eta, sizeof eta, (steps - step - 1) / sps);
            fprintf(stderr, "\rstep %d/%d  loss %.5f (avg %.5f)  %.1f steps/s  ETA %s   ", step + 1, steps, loss, avg, sps, eta);
            tlast = t;
        }
    }
    fprintf(stderr, "\n");
    if (!rc && (s = genrep_steer_eval(&st, l1, NULL, &g, EB, seed, held_out))) { report_status(C, "eval", s); rc = 1; }
    float *walks = (float *)malloc(sizeof(float) * (size_t)T * D);
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
        char sv[32], seedv[32], zv[16], lossv[32], lrv[32], bv[16];
        snprintf(sv, sizeof sv, "%d", steps); snprintf(seedv, sizeof seedv, "%llu", (unsigned long long)seed);
        snprintf(zv, sizeof zv, "%d", D); snprintf(lossv, sizeof lossv, "%.6g", avg);
        snprintf(lrv, sizeof lrv, "%g", lr); snprintf(bv, sizeof bv, "%d", batch);
        const char *kv[] = {"genrep.transforms", names, "genrep.generator", gen_path,
                            "genrep.alpha_units", "shiftx:px,shifty:px,zoom:log2,rotate:deg,brightness:add,contrast:log2",
                            "genrep.zdim", zv, "genrep.steps", sv, "genrep.batch", bv, "genrep.lr", lrv,
                            "genrep.seed", seedv, "genrep.final_loss", lossv};
        genrep_st_entry e[2] = {{"walks", 2, {T, D}, walks}, {"alpha_max", 1, {T}, st.alpha_max}};
        if ((s = genrep_st_write(out, e, 2, kv, (int)(sizeof kv / sizeof kv[0]) / 2))) { report_status(C, out, s); rc = 1; }
        else fprintf(stderr, "genrep steer-train: wrote %s (%.0fs)\n", out, now_seconds() - t0);
    }
    if (!rc && grid[0]) {
        if ((s = write_grid(grid, &g, &st, walks, seed))) { report_status(C, grid, s); rc = 1; }
        else fprintf(stderr, "genrep steer-train: wrote %s\n", grid);
    }
    free(walks);
    genrep_steer_free(&st);
    genrep_gen_free(&g);
    return rc;
}
