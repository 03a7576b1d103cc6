/* trainer/cmd_views.c: `genrep views`, the paper's figure of views: one row
   per anchor, one column per way of making a positive view. */
#include "common.h"
#include "opt.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>


typedef struct {
    const char *gen, *walks, *out, *cls;
    int rows, size;
    float sigma;
    uint64_t seed;
} views_opts;

#define F(x) offsetof(views_opts, x)
static const opt_spec views_spec[] = {
    {"gen", OPT_STR, F(gen), NULL, 0, 0, NULL, "FILE", "generator weights: DCGAN family or BigGAN-deep", OPT_REQUIRED},
    {"class", OPT_STR, F(cls), "all", 0, 0, NULL, "all|C|C1,C2|A-B", "classes of a conditional generator's anchors (drawn uniformly from the list)", 0},
    {"size", OPT_INT, F(size), NULL, 1, 4096, NULL, "S", "draw each image at SxS (area average or bilinear; default: the generator's size)", 0},
    {"walks", OPT_STR, F(walks), NULL, 0, 0, NULL, "FILE", "steering walks (genrep steer-train): adds the steered columns", 0},
    {"out", OPT_STR, F(out), "views.png", 0, 0, NULL, "FILE.png", "output image", 0},
    {"rows", OPT_INT, F(rows), "8", 1, 64, NULL, "N", "anchors, one per row", 0},
    {"sigma", OPT_FLOAT, F(sigma), "0.2", 0, 100, NULL, "S", "latent noise scale of the Gaussian view", 0},
    {"seed", OPT_U64, F(seed), "0", 0, 0, NULL, "S", "seed of the anchors and views", 0},
};
#undef F
static const opt_table views_table = {
    "views", "--gen WEIGHTS.safetensors [--walks WALKS.safetensors] [flags]",
    "Columns, left to right: anchor G(z); Gaussian view G(z + sigma*eps); steered view\n"
    "G(z + sum alpha_t w_t) (with --walks); SimCLR pixel view of the anchor; Gaussian + SimCLR;\n"
    "steered + SimCLR (with --walks); for a class-conditional generator also the independent\n"
    "view (another z of the same class: SupCon's positive) and independent + SimCLR.\n"
    "A BigGAN-deep file (metadata genrep.model = biggan-deep) draws the same figure: z = 1.0 x\n"
    "TruncNormal(-2,2), truncation 1, one-hot classes from --class.\n",
    views_spec, OPT_N(views_spec)};

/* The walks file: walks (T, Z) and alpha_max (T) copied out; T, or -1 with a message. */
static int read_walks(const char *path, int Z, float **walks, float **amax) {
    genrep_st *ws;
    genrep_status s;
    if ((s = genrep_st_open(&ws, path, 0))) { report_status("views", path, s); return -1; }
    const genrep_st_tensor *wt = genrep_st_find(ws, "walks"), *at = genrep_st_find(ws, "alpha_max");
    if (!wt || !at || wt->ndim != 2 || wt->shape[1] != Z || at->numel != wt->shape[0]) {
        fprintf(stderr, "genrep views: %s: expected tensors walks (T,%d) and alpha_max (T)\n", path, Z);
        genrep_st_close(ws);
        return -1;
    }
    int T = (int)wt->shape[0];
    *walks = (float *)xmalloc(sizeof(float) * (size_t)T * Z, "walks");
    *amax = (float *)xmalloc(sizeof(float) * (size_t)T, "walks");
    memcpy(*walks, wt->data, sizeof(float) * (size_t)T * Z);
    memcpy(*amax, at->data, sizeof(float) * (size_t)T);
    genrep_st_close(ws);
    return T;
}

/* lat = the latent columns rendered, (nlat, rows, HW) in [0, 1]: anchor,
   gauss, [steer], [independent]. */
static genrep_status render_latent_columns(float *lat, anygen *g, const views_opts *o, int T, const float *walks,
                                           const float *amax) {
    const int rows = o->rows, Z = g->Z, cond = g->cond;
    const size_t HW = (size_t)g->C * g->H * g->W;
    float *z = (float *)xmalloc(sizeof(float) * (size_t)rows * Z, "latents");
    float *zv = (float *)xmalloc(sizeof(float) * (size_t)rows * Z, "latents");
    int32_t *y = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)rows, "labels");
    const int32_t *yy = cond ? y : NULL;
    int c = 0;
    genrep_status s = genrep_latent_anchors(z, rows, Z, 1.0f, o->seed, 0);
    if (!s && cond) s = genrep_latent_classes(y, rows, g->ncls, o->seed, 0);
    if (!s) s = anygen_render(g, lat + (size_t)(c++) * rows * HW, z, yy, rows);
    genrep_view_config vc = {GENREP_VIEW_GAUSS, o->sigma, 1.0f, T, walks, amax};
    if (!s) s = genrep_latent_view(zv, z, rows, Z, &vc, o->seed, 0, 1);
    if (!s) s = anygen_render(g, lat + (size_t)(c++) * rows * HW, zv, yy, rows);
    if (!s && T) {
        vc.kind = GENREP_VIEW_STEER;
        s = genrep_latent_view(zv, z, rows, Z, &vc, o->seed, 0, 2);
        if (!s) s = anygen_render(g, lat + (size_t)(c++) * rows * HW, zv, yy, rows);
    }
    if (!s && cond) {
        vc.kind = GENREP_VIEW_INDEPENDENT;
        s = genrep_latent_view(zv, z, rows, Z, &vc, o->seed, 0, 3);
        if (!s) s = anygen_render(g, lat + (size_t)(c++) * rows * HW, zv, yy, rows);
    }
    free(z); free(zv); free(y);
    return s;
}

/* grid (rows, ncol) tiles: the latent columns, then each with SimCLR pixels. */
static genrep_status fill_grid(float *grid, const float *lat, int nlat, int rows, uint64_t seed, int C, int H, int W) {
    const int ncol = 2 * nlat;
    const size_t HW = (size_t)C * H * W;
    genrep_aug_config ac;
    genrep_aug_config_simclr(&ac, H, W);
    float *aug = (float *)xmalloc(sizeof(float) * (size_t)rows * HW, "views");
    genrep_status s = GENREP_OK;
    for (int col = 0; col < ncol && !s; col++) {
        const float *src = lat + (size_t)(col % nlat) * rows * HW;
        if (col >= nlat) {
            s = genrep_augment_batch(aug, src, rows, C, H, W, &ac, seed ^ 0xF16, 0, col);
            src = aug;
        }
        for (int r = 0; r < rows; r++) memcpy(grid + ((size_t)r * ncol + col) * HW, src + (size_t)r * HW, sizeof(float) * HW);
    }
    free(aug);
    return s;
}

int genrep_cmd_views(int argc, char **argv) {
    const char *C = "views";
    views_opts o;
    int pr = opt_parse(&views_table, &o, NULL, argc, argv);
    if (pr) return pr > 0 ? 0 : 2;
    anygen g;
    genrep_status s;
    if (anygen_load(&g, C, o.gen, o.rows)) return 1;
    if (anygen_classes(&g, C, o.cls)) { anygen_free(&g); return 2; }
    anygen_set_shape(&g, 0, o.size);
    const int cond = g.cond, rows = o.rows, IC = g.C, IH = g.H, IW = g.W;
    const size_t HW = (size_t)IC * IH * IW;
    float *walks = NULL, *amax = NULL;
    int T = 0;
    if (o.walks && *o.walks && (T = read_walks(o.walks, g.Z, &walks, &amax)) < 0) { anygen_free(&g); return 1; }
    /* latent columns: anchor, gauss, [steer], [independent]; each then with SimCLR pixels */
    const int nlat = 2 + (T > 0) + cond, ncol = 2 * nlat;
    float *lat = (float *)xmalloc(sizeof(float) * (size_t)nlat * rows * HW, "rendered views");
    float *grid = (float *)xmalloc(sizeof(float) * (size_t)rows * ncol * HW, "the grid");
    int rc = 0;
    if ((s = render_latent_columns(lat, &g, &o, T, walks, amax)) || (s = fill_grid(grid, lat, nlat, rows, o.seed, IC, IH, IW))) {
        report_status(C, "rendering", s); rc = 1;
    } else if ((s = genrep_png_write_grid(o.out, grid, rows, ncol, IC, IH, IW, 2, 1.0f, NULL, NULL))) {
        report_status(C, o.out, s); rc = 1;
    } else {
        printf("genrep views: wrote %s (%d rows x %d columns: anchor, gauss%s%s, then each with SimCLR pixels)\n",
               o.out, rows, ncol, T ? ", steer" : "", cond ? ", independent" : "");
    }
    free(lat); free(grid); free(walks); free(amax);
    anygen_free(&g);
    return rc;
}
