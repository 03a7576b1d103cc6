/* trainer/cmd_views.c: `genrep views`, the paper's figure of views: one row
   per anchor, one column per way of making a positive view. */
#include "common.h"
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
        "usage: genrep views --gen WEIGHTS.safetensors [--walks WALKS.safetensors] [flags]\n"
        "  --out FILE.png   (default views.png)   --rows N (default 8)   --sigma S (default 0.2)\n"
        "  --seed S\n"
        "Columns, left to right: anchor G(z); Gaussian view G(z + sigma*eps); steered view\n"
        "G(z + sum alpha_t w_t) (with --walks); SimCLR pixel view of the anchor; Gaussian + SimCLR;\n"
        "steered + SimCLR (with --walks); for a class-conditional generator also the independent\n"
        "view (another z of the same class: SupCon's positive) and independent + SimCLR.\n");
}

int genrep_cmd_views(int argc, char **argv) {
    const char *C = "views";
    char gen[1024] = "", walks_path[1024] = "", out[1024] = "views.png";
    int rows = 8;
    float sigma = 0.2f;
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
#define VAL() do { if (!(v = flag_value(C, argc, argv, &i))) return 2; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--gen")) { VAL(); snprintf(gen, sizeof gen, "%s", v); }
        else if (!strcmp(a, "--walks")) { VAL(); snprintf(walks_path, sizeof walks_path, "%s", v); }
        else if (!strcmp(a, "--out")) { VAL(); snprintf(out, sizeof out, "%s", v); }
        else if (!strcmp(a, "--rows")) { VAL(); if (flag_int(C, a, v, 1, 64, &rows)) return 2; }
        else if (!strcmp(a, "--sigma")) { VAL(); if (flag_float(C, a, v, 0, 100, &sigma)) return 2; }
        else if (!strcmp(a, "--seed")) { VAL(); if (flag_u64(C, a, v, &seed)) return 2; }
        else { fprintf(stderr, "genrep views: unknown flag '%s' (genrep views --help lists them)\n", a); return 2; }
#undef VAL
    }
    if (!gen[0]) { fprintf(stderr, "genrep views: --gen WEIGHTS.safetensors is required\n"); return 2; }
    genrep_gen g;
    genrep_status s;
    if ((s = genrep_gen_load(&g, gen, rows))) { report_status(C, gen, s); return 1; }
    const int Z = g.cfg.zdim, cond = g.cfg.kind == GENREP_GAN_CGAN, HW = 28 * 28;
    float *walks = NULL, *amax = NULL;
    int T = 0;
    if (walks_path[0]) {
        genrep_st *ws;
        if ((s = genrep_st_open(&ws, walks_path, 0))) { report_status(C, walks_path, s); return 1; }
        const genrep_st_tensor *wt = genrep_st_find(ws, "walks"), *at = genrep_st_find(ws, "alpha_max");
        if (!wt || !at || wt->ndim != 2 || wt->shape[1] != Z || at->numel != wt->shape[0]) {
            fprintf(stderr, "genrep views: %s: expected tensors walks (T,%d) and alpha_max (T)\n", walks_path, Z);
            return 1;
        }
        T = (int)wt->shape[0];
        walks = (float *)malloc(sizeof(float) * (size_t)T * Z);
        amax = (float *)malloc(sizeof(float) * (size_t)T);
        memcpy(walks, wt->data, sizeof(float) * (size_t)T * Z);
        memcpy(amax, at->data, sizeof(float) * (size_t)T);
        genrep_st_close(ws);
    }
    /* latent columns: anchor, gauss, [steer], [independent] */
    int nlat = 2 + (T > 0) + cond;
    int ncol = 2 * nlat;   /* each latent column, then each with SimCLR pixels */
    float *z = (float *)malloc(sizeof(float) * (size_t)rows * Z), *zv = (float *)malloc(sizeof(float) * (size_t)rows * Z);
    int32_t *y = (int32_t *)malloc(sizeof(int32_t) * (size_t)rows);
    float *lat = (float *)malloc(sizeof(float) * (size_t)nlat * rows * HW);
    float *grid = (float *)malloc(sizeof(float) * (size_t)rows * ncol * HW);
    genrep_latent_anchors(z, rows, Z, 1.0f, seed, 0);
    if (cond) genrep_latent_classes(y, rows, g.cfg.n_classes, seed, 0);
    const int32_t *yy = cond ? y : NULL;
    int c = 0;
    s = genrep_gen_render(&g, lat + (size_t)(c++) * rows * HW, z, yy, rows);
    genrep_view_config vc = {GENREP_VIEW_GAUSS, sigma, 1.0f, T, walks, amax};
    if (!s) s = genrep_latent_view(zv, z, rows, Z, &vc, seed, 0, 1);
    if (!s) s = genrep_gen_render(&g, lat + (size_t)(c++) * rows * HW, zv, yy, rows);
    if (!s && T) {
        vc.kind = GENREP_VIEW_STEER;
        s = genrep_latent_view(zv, z, rows, Z, &vc, seed, 0, 2);
        if (!s) s = genrep_gen_render(&g, lat + (size_t)(c++) * rows * HW, zv, yy, rows);
    }
    if (!s && cond) {
        vc.kind = GENREP_VIEW_INDEPENDENT;
        s = genrep_latent_view(zv, z, rows, Z, &vc, seed, 0, 3);
        if (!s) s = genrep_gen_render(&g, lat + (size_t)(c++) * rows * HW, zv, yy, rows);
    }
    if (s) { report_status(C, "rendering", s); return 1; }
    for (size_t i = 0; i < (size_t)nlat * rows * HW; i++) lat[i] = 0.5f * (lat[i] + 1.0f);
    genrep_aug_config ac;
    genrep_aug_config_simclr(&ac, 28, 28);
    float *aug = (float *)malloc(sizeof(float) * (size_t)rows * HW);
    /* column order: anchor, gauss, [steer], [indep], SimCLR(anchor), gauss+SimCLR, ... */
    for (int col = 0; col < ncol; col++) {
        int li = col % nlat;
        const float *src = lat + (size_t)li * rows * HW;
        if (col >= nlat) {
            genrep_augment_batch(aug, src, rows, 1, 28, 28, &ac, seed ^ 0xF16, 0, col);
            src = aug;
        }
        for (int r = 0; r < rows; r++) memcpy(grid + ((size_t)r * ncol + col) * HW, src + (size_t)r * HW, sizeof(float) * HW);
    }
    if ((s = genrep_png_write_grid(out, grid, rows, ncol, 1, 28, 28, 2, 1.0f, NULL, NULL))) {
        report_status(C, out, s); return 1;
    }
    printf("genrep views: wrote %s (%d rows x %d columns: anchor, gauss%s%s, then each with SimCLR pixels)\n",
           out, rows, ncol, T ? ", steer" : "", cond ? ", independent" : "");
    free(z); free(zv); free(y); free(lat); free(grid); free(aug); free(walks); free(amax);
    genrep_gen_free(&g);
    return 0;
}
