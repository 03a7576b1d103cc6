/* 01_generate: load a trained generator and write a PNG grid of its samples.
   usage: 01_generate [--gen WEIGHTS.safetensors] [--out FILE.png] [--seed S] [--smoke]
   An unconditional generator (dcgan) gives 8 rows of 8 samples; a
   class-conditional one (cgan) gives one row per class. The weights come
   from `genrep gan-train` (weights/fmnist_dcgan.safetensors is the default)
   or from PyTorch through weights/export_pytorch.py: any DCGAN-family
   generator, any image size, gray or RGB (e.g. the PyTorch DCGAN tutorial's
   64x64 RGB one); the shape comes from the file.
   --smoke: write /tmp/genrep_01_generate.png, and if the weights file is
   missing use a randomly initialised generator (noise, but every call runs). */
#define GENREP_IMPLEMENTATION
#define GENREP_IMAGE_IO
#include "genrep.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLS 8

static int fail(const char *what, genrep_status st) {
    fprintf(stderr, "01_generate: %s: %s: %s\n", what, genrep_status_str(st), genrep_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *gen_path = "weights/fmnist_dcgan.safetensors", *out = "generate.png";
    int smoke = 0;
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke")) { smoke = 1; out = "/tmp/genrep_01_generate.png"; }
        else if (!strcmp(argv[i], "--gen") && i + 1 < argc) gen_path = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else { fprintf(stderr, "usage: %s [--gen WEIGHTS] [--out FILE.png] [--seed S] [--smoke]\n", argv[0]); return 2; }
    }

    genrep_gen g;
    FILE *f = fopen(gen_path, "rb");
    if (f) {
        fclose(f);
        genrep_status s0;
        if ((s0 = genrep_gen_load(&g, gen_path, 64))) return fail(gen_path, s0);
        printf("loaded %s: %s, zdim %d, width %d, images %dx%dx%d\n", gen_path, g.cfg.kind == GENREP_GAN_CGAN ? "cgan" : "dcgan",
               g.cfg.zdim, g.cfg.width, g.cfg.out_channels, g.cfg.out_size, g.cfg.out_size);
    } else if (smoke) {
        genrep_gan_config c;
        genrep_gan_config_default(&c, GENREP_GAN_DCGAN);
        genrep_status s = genrep_gen_create(&g, &c, 64, 1);
        if (s) return fail("genrep_gen_create", s);
        printf("%s not found: using a randomly initialised generator (smoke test)\n", gen_path);
    } else {
        fprintf(stderr, "01_generate: cannot open %s (make it with `genrep gan-train`)\n", gen_path);
        return 1;
    }

    /* The latents: B anchors z ~ TruncNormal(-2, 2), and for the conditional
       generator the class of each row. Sample b is the same for any B. */
    int cond = g.cfg.kind == GENREP_GAN_CGAN, Z = g.cfg.zdim;
    int rows = cond ? g.cfg.n_classes : 8, B = rows * COLS, C, H, W;
    genrep_gen_shape(&g, &C, &H, &W);   /* one image: (C,H,W) */
    if (C != 1 && C != 3) { fprintf(stderr, "01_generate: %d-channel images cannot be a PNG grid\n", C); return 1; }
    const size_t pix = (size_t)C * H * W;
    float *z = (float *)malloc(sizeof(float) * (size_t)B * Z);
    float *img = (float *)malloc(sizeof(float) * (size_t)B * pix);
    int32_t *y = (int32_t *)malloc(sizeof(int32_t) * (size_t)B);
    if (!z || !img || !y) { fprintf(stderr, "01_generate: out of memory\n"); return 1; }
    for (int b = 0; b < B; b++) y[b] = b / COLS;   /* row r shows class r */
    genrep_status s = genrep_latent_anchors(z, B, Z, 1.0f, seed, 0);
    if (s) return fail("genrep_latent_anchors", s);
    /* Eval mode (batchnorm running statistics), in chunks of max_batch. */
    if ((s = genrep_gen_render(&g, img, z, cond ? y : NULL, B))) return fail("genrep_gen_render", s);

    /* tanh (the default) gives pixels in [-1, 1], sigmoid [0, 1]. A finite
       check catches weights that loaded but are garbage. */
    for (size_t i = 0; i < (size_t)B * pix; i++)
        if (!isfinite(img[i])) { fprintf(stderr, "01_generate: pixel %zu is %g\n", i, img[i]); return 1; }
    /* mean/std undo the [-1, 1] range: written value = x * 0.5 + 0.5 (sigmoid: as is) */
    const int sig = g.cfg.out_act == GENREP_GEN_ACT_SIGMOID;
    const float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.5f, 0.5f, 0.5f}, m0[3] = {0, 0, 0}, s1[3] = {1, 1, 1};
    if ((s = genrep_png_write_grid(out, img, rows, COLS, C, H, W, 2, 0.5f, sig ? m0 : mean, sig ? s1 : std)))
        return fail("genrep_png_write_grid", s);
    printf("wrote %s: %d x %d samples%s\n", out, rows, COLS, cond ? " (one row per class)" : "");
    free(z); free(img); free(y);
    genrep_gen_free(&g);
    return 0;
}
