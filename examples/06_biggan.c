/* 06_biggan: sample BigGAN-deep (the paper's generator) into a PNG grid.
   usage: 06_biggan --gen BIGGAN.safetensors [--class C]... [--truncation T]
                    [--cols N] [--seed S] [--out FILE.png] [--smoke]
   The weights: a pytorch_pretrained_biggan checkpoint exported once with
     /usr/bin/python3 weights/export_pytorch.py --biggan pytorch_model.bin --out biggan256.safetensors
   One row per --class (ImageNet index; default 0 1 2), N columns (default
   4). z = T * TruncNormal(-2, 2) as the port samples it (default T 0.4; T
   also picks the stored batch-norm statistics).
   --smoke: the random-weight 128 px test fixture (tests/ref/biggan128.safetensors),
   2 x 2 images to /tmp/genrep_06_biggan.png (noise, but every call runs). */
#define GENREP_IMPLEMENTATION
#define GENREP_IMAGE_IO
#include "genrep.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 32

static int fail(const char *what, genrep_status st) {
    fprintf(stderr, "06_biggan: %s: %s: %s\n", what, genrep_status_str(st), genrep_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *gen_path = NULL, *out = "biggan.png";
    int classes[MAX_ROWS], rows = 0, cols = 4, smoke = 0;
    double trunc = 0.4;
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke")) smoke = 1;
        else if (!strcmp(argv[i], "--gen") && i + 1 < argc) gen_path = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--class") && i + 1 < argc && rows < MAX_ROWS) classes[rows++] = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--truncation") && i + 1 < argc) trunc = atof(argv[++i]);
        else if (!strcmp(argv[i], "--cols") && i + 1 < argc) cols = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s --gen BIGGAN.safetensors [--class C]... [--truncation T] [--cols N] [--seed S] "
                    "[--out FILE.png] [--smoke]\n", argv[0]);
            return 2;
        }
    }
    if (smoke) { gen_path = "tests/ref/biggan128.safetensors"; out = "/tmp/genrep_06_biggan.png"; cols = 2; }
    if (!gen_path) { fprintf(stderr, "06_biggan: give --gen BIGGAN.safetensors (see the comment at the top)\n"); return 2; }
    if (cols < 1 || cols > 64) { fprintf(stderr, "06_biggan: --cols must be in 1..64\n"); return 2; }
    if (!rows) { rows = smoke ? 2 : 3; for (int r = 0; r < rows; r++) classes[r] = r; }

    genrep_biggan g;
    genrep_status s = genrep_biggan_load(&g, gen_path, cols);   /* one row per render call */
    if (s) return fail(gen_path, s);
    const int R = g.cfg.output_dim, Z = g.cfg.z_dim, NC = g.cfg.num_classes, B = rows * cols;
    printf("loaded %s: BigGAN-deep %d px, ch %d, z %d, %d classes, %.1f GFLOP per image\n", gen_path, R,
           g.cfg.channel_width, Z, NC, 2e-9 * genrep_biggan_macs(&g.cfg));
    for (int r = 0; r < rows; r++)
        if (classes[r] < 0 || classes[r] >= NC) { fprintf(stderr, "06_biggan: --class %d, expected 0..%d\n", classes[r], NC - 1); return 2; }

    float *z = (float *)malloc(sizeof(float) * (size_t)B * Z);
    float *y = (float *)calloc((size_t)B * NC, sizeof(float));
    float *img = (float *)malloc(sizeof(float) * (size_t)B * 3 * R * R);
    if (!z || !y || !img) { fprintf(stderr, "06_biggan: out of memory\n"); return 1; }
    /* sample b: its own Philox stream, so it does not depend on the grid's size */
    for (int b = 0; b < B; b++) {
        genrep_rng rng;
        genrep_rng_init(&rng, seed, (uint64_t)b);
        for (int j = 0; j < Z; j++) z[(size_t)b * Z + j] = (float)trunc * genrep_rng_truncnormal(&rng, -2.0f, 2.0f);
        y[(size_t)b * NC + classes[b / cols]] = 1.0f;   /* row r: class classes[r], one-hot */
    }
    if ((s = genrep_biggan_render(&g, img, z, y, B, trunc))) return fail("genrep_biggan_render", s);
    for (size_t i = 0; i < (size_t)B * 3 * R * R; i++)
        if (!(img[i] >= -1.0f && img[i] <= 1.0f)) { fprintf(stderr, "06_biggan: pixel %zu is %g\n", i, img[i]); return 1; }
    const float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.5f, 0.5f, 0.5f};   /* [-1,1] -> [0,1] */
    if ((s = genrep_png_write_grid(out, img, rows, cols, 3, R, R, 2, 1.0f, mean, std))) return fail("genrep_png_write_grid", s);
    printf("wrote %s: %d x %d samples at truncation %g (one row per class)\n", out, rows, cols, trunc);
    free(z); free(y); free(img);
    genrep_biggan_free(&g);
    return 0;
}
