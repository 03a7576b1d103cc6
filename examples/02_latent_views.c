/* 02_latent_views: anchors and their latent views, rendered side by side.
   usage: 02_latent_views [--gen WEIGHTS] [--walks WALKS] [--sigma S] [--out FILE.png] [--smoke]
   Each row is one anchor z: the anchor's image, then K Gaussian views
   (z + sigma * TruncNormal), K angular views (the same, rescaled to |z|)
   and, given a walks file from `genrep steer-train`, K steered views
   (z + sum_t alpha_t w_t). Nearby latents give the same object changed a
   little: these are GenRep's positive pairs.
   --smoke: 4 rows, /tmp/genrep_02_latent_views.png, a random generator if
   the weights file is missing and two random walks if --walks is not given. */
#define GENREP_IMPLEMENTATION
#define GENREP_IMAGE_IO
#include "genrep.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K 3   /* views of each kind */

static int fail(const char *what, genrep_status st) {
    fprintf(stderr, "02_latent_views: %s: %s: %s\n", what, genrep_status_str(st), genrep_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *gen_path = "weights/fmnist_dcgan.safetensors", *walks_path = NULL, *out = "latent_views.png";
    int smoke = 0, rows = 8;
    float sigma = 0.2f;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke")) { smoke = 1; rows = 4; out = "/tmp/genrep_02_latent_views.png"; }
        else if (!strcmp(argv[i], "--gen") && i + 1 < argc) gen_path = argv[++i];
        else if (!strcmp(argv[i], "--walks") && i + 1 < argc) walks_path = argv[++i];
        else if (!strcmp(argv[i], "--sigma") && i + 1 < argc) sigma = (float)atof(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else { fprintf(stderr, "usage: %s [--gen W] [--walks W] [--sigma S] [--out F.png] [--smoke]\n", argv[0]); return 2; }
    }
    genrep_gen g;
    genrep_status s;
    FILE *f = fopen(gen_path, "rb");
    if (f) { fclose(f); if ((s = genrep_gen_load(&g, gen_path, 64))) return fail(gen_path, s); }
    else if (smoke) {
        genrep_gan_config c;
        genrep_gan_config_default(&c, GENREP_GAN_DCGAN);
        if ((s = genrep_gen_create(&g, &c, 64, 1))) return fail("genrep_gen_create", s);
        printf("%s not found: using a randomly initialised generator (smoke test)\n", gen_path);
    } else { fprintf(stderr, "02_latent_views: cannot open %s\n", gen_path); return 1; }
    int GC, GH, GW;   /* this example draws 28x28 gray images; 01_generate takes any shape */
    genrep_gen_shape(&g, &GC, &GH, &GW);
    if (GC != 1 || GH != 28 || GW != 28) { fprintf(stderr, "%s: %s makes %dx%dx%d images, this example takes 1x28x28\n", argv[0], gen_path, GC, GH, GW); return 1; }
    const int Z = g.cfg.zdim, cond = g.cfg.kind == GENREP_GAN_CGAN, HW = 28 * 28;

    /* Steering walks: tensors "walks" (T, Z), per alpha unit, and
       "alpha_max" (T). The file stays open: the views read its data. */
    genrep_st *wst = NULL;
    const float *walks = NULL, *alpha_max = NULL;
    int T = 0;
    float *rw = NULL, ra[2] = {1.0f, 1.0f};   /* smoke: two random walks */
    if (walks_path) {
        if ((s = genrep_st_open(&wst, walks_path, 0))) return fail(walks_path, s);
        const genrep_st_tensor *w = genrep_st_find(wst, "walks"), *a = genrep_st_find(wst, "alpha_max");
        if (!w || !a || w->ndim != 2 || w->shape[1] != Z || a->numel != w->shape[0]) {
            fprintf(stderr, "02_latent_views: %s: expected tensors walks (T,%d) and alpha_max (T)\n", walks_path, Z);
            return 1;
        }
        T = (int)w->shape[0]; walks = w->data; alpha_max = a->data;
    } else if (smoke) {
        if (!(rw = (float *)malloc(sizeof(float) * 2 * Z))) { fprintf(stderr, "02_latent_views: out of memory\n"); return 1; }
        genrep_rng r;
        genrep_rng_init(&r, 7, 0);
        for (int i = 0; i < 2 * Z; i++) rw[i] = 0.3f * genrep_rng_normal(&r);
        T = 2; walks = rw; alpha_max = ra;
        printf("no --walks: steering two random directions (smoke test)\n");
    }

    /* Columns: anchor, then K views of each kind. View numbers 1..K name
       independent random streams: view v of anchor b is a function of
       (seed, b, v) only. */
    genrep_view_config vc[3] = {{GENREP_VIEW_GAUSS, sigma, 1.0f, 0, NULL, NULL},
                                {GENREP_VIEW_ANGULAR, sigma, 1.0f, 0, NULL, NULL},
                                {GENREP_VIEW_STEER, 0.0f, 1.0f, T, walks, alpha_max}};
    const int kinds = T ? 3 : 2, cols = 1 + kinds * K;
    const uint64_t seed = 0;
    float *z = (float *)malloc(sizeof(float) * (size_t)rows * Z), *zv = (float *)malloc(sizeof(float) * (size_t)rows * Z);
    float *col = (float *)malloc(sizeof(float) * (size_t)rows * HW);
    float *grid = (float *)malloc(sizeof(float) * (size_t)rows * cols * HW);
    int32_t y[64];
    if (!z || !zv || !col || !grid) { fprintf(stderr, "02_latent_views: out of memory\n"); return 1; }
    if ((s = genrep_latent_anchors(z, rows, Z, 1.0f, seed, 0))) return fail("genrep_latent_anchors", s);
    if (cond && (s = genrep_latent_classes(y, rows, g.cfg.n_classes, seed, 0))) return fail("genrep_latent_classes", s);
    for (int c = 0; c < cols; c++) {
        const float *zc = z;
        if (c > 0) {   /* column c is view (c-1)%K + 1 of kind (c-1)/K */
            if ((s = genrep_latent_view(zv, z, rows, Z, &vc[(c - 1) / K], seed, 0, (c - 1) % K + 1)))
                return fail("genrep_latent_view", s);
            zc = zv;
        }
        /* views keep their anchor's class: same object, changed a little */
        if ((s = genrep_gen_render(&g, col, zc, cond ? y : NULL, rows))) return fail("genrep_gen_render", s);
        for (int r = 0; r < rows; r++) memcpy(grid + ((size_t)r * cols + c) * HW, col + (size_t)r * HW, sizeof(float) * HW);
    }
    const float mean[1] = {0.5f}, std[1] = {0.5f};   /* tanh's [-1, 1] -> [0, 1] */
    if ((s = genrep_png_write_grid(out, grid, rows, cols, 1, 28, 28, 2, 0.5f, mean, std)))
        return fail("genrep_png_write_grid", s);
    printf("wrote %s: %d rows: anchor, %d gauss, %d angular%s (sigma %g)\n", out, rows, K, K,
           T ? ", then steered views" : "", sigma);
    free(z); free(zv); free(col); free(grid); free(rw);
    genrep_st_close(wst);
    genrep_gen_free(&g);
    return 0;
}
