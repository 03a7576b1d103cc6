/* 03_augment: SimCLR views of one of your own images (PNG, JPEG, BMP ...).
   usage: 03_augment IMAGE [--views K] [--size S] [--blur] [--out FILE.png] [--smoke]
   Writes one row: the image, then K random views as the encoder would see
   them (GenRep's recipe: resized crop of 20-100% of the area, flip, colour
   jitter w.p. 0.8, grayscale w.p. 0.2; --blur adds SimCLR's Gaussian blur).
   Each view's random choices are printed; images larger than 512 pixels a
   side are shrunk to that first. --smoke draws a small test image
   to /tmp/genrep_03_input.png first and augments that. */
#define GENREP_IMPLEMENTATION
#define GENREP_IMAGE_IO
#include "genrep.h"
#include <stb/stb_image.h>        /* implementations come from -lstb */
#include <stb/stb_image_write.h>
#include <stb/stb_image_resize.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, genrep_status st) {
    fprintf(stderr, "03_augment: %s: %s: %s\n", what, genrep_status_str(st), genrep_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *path = NULL, *out = "augment.png";
    int K = 8, S = 96, blur = 0, smoke = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke")) { smoke = 1; out = "/tmp/genrep_03_augment.png"; }
        else if (!strcmp(argv[i], "--views") && i + 1 < argc) K = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) S = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--blur")) blur = 1;
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else { path = NULL; smoke = 0; break; }
    }
    if (smoke && !path) {   /* a 64x48 RGB test card: gradient, red square, blue bar */
        static unsigned char px[48 * 64 * 3];
        for (int y = 0; y < 48; y++)
            for (int x = 0; x < 64; x++) {
                unsigned char *p = px + (y * 64 + x) * 3;
                p[0] = (unsigned char)(x * 4); p[1] = (unsigned char)(y * 5); p[2] = 128;
                if (x > 10 && x < 30 && y > 8 && y < 28) { p[0] = 230; p[1] = 20; p[2] = 20; }
                if (y > 36) { p[0] = 20; p[1] = 40; p[2] = 220; }
            }
        path = "/tmp/genrep_03_input.png";
        if (!stbi_write_png(path, 64, 48, 3, px, 64 * 3)) { fprintf(stderr, "03_augment: cannot write %s\n", path); return 1; }
    }
    if (!path || K < 1 || K > 64 || S < 8 || S > 512) {
        fprintf(stderr, "usage: %s IMAGE [--views 1..64] [--size 8..512] [--blur] [--out FILE.png] [--smoke]\n", argv[0]);
        return 2;
    }

    /* Decode to 8-bit RGB (gray and palette images are expanded), then to
       the library's layout: float (C, H, W) planes in [0, 1]. */
    int W, H, C = 3;
    unsigned char *px = NULL; /* PNG or JPEG only, within the manual's [IMAGE] limits */
    genrep_status st = genrep_image_load(&px, &W, &H, path, C);
    if (st) { fprintf(stderr, "03_augment: %s\n", genrep_last_error()); return 1; }
    int W0 = W, H0 = H;
    unsigned char *small = NULL;
    if (W > 512 || H > 512) {   /* a photo: shrink it to 512 on the long side first */
        double f = 512.0 / (W > H ? W : H);
        int w2 = (int)(W * f + 0.5), h2 = (int)(H * f + 0.5);
        w2 = w2 < 1 ? 1 : w2; h2 = h2 < 1 ? 1 : h2;
        small = (unsigned char *)malloc((size_t)w2 * h2 * C);
        if (!small || !stbir_resize_uint8(px, W, H, 0, small, w2, h2, 0, C)) {
            fprintf(stderr, "03_augment: cannot shrink %s\n", path);
            return 1;
        }
        W = w2; H = h2;
    }
    size_t HW = (size_t)H * W, SS = (size_t)S * S;
    float *img = (float *)malloc(sizeof(float) * C * HW);
    float *row = (float *)malloc(sizeof(float) * (size_t)(1 + K) * C * SS);
    if (!img || !row) { fprintf(stderr, "03_augment: out of memory\n"); return 1; }
    for (int c = 0; c < C; c++)
        for (size_t i = 0; i < HW; i++) img[c * HW + i] = (small ? small : px)[i * C + c] / 255.0f;
    genrep_image_free(px);
    free(small);

    genrep_aug_config cfg;
    genrep_aug_config_simclr(&cfg, S, S);   /* output S x S, GenRep's probabilities */
    if (blur) cfg.blur_p = 0.5f;
    genrep_status s = genrep_aug_config_check(&cfg);
    if (s) return fail("genrep_aug_config_check", s);
    /* Tile 0: the whole image resized to S x S (the crop box is the image). */
    if ((s = genrep_aug_resized_crop(row, img, C, H, W, 0, 0, H, W, S, S))) return fail("genrep_aug_resized_crop", s);
    const uint64_t seed = 42;
    for (int k = 0; k < K; k++) {
        /* A view is a pure function of (seed, sample index, view index):
           draw its parameters, then apply them. genrep_augment_batch does
           both for a batch of images, in parallel. */
        genrep_aug_params p;
        genrep_aug_sample(&p, &cfg, H, W, seed, 0, k);
        if ((s = genrep_aug_apply(row + (size_t)(1 + k) * C * SS, img, C, H, W, &cfg, &p)))
            return fail("genrep_aug_apply", s);
        printf("view %d: crop %dx%d at (%d,%d)%s", k + 1, p.crop_w, p.crop_h, p.left, p.top, p.flip ? ", flip" : "");
        if (p.jitter)
            printf(", jitter b %.2f c %.2f s %.2f h %+.2f", p.brightness, p.contrast, p.saturation, p.hue);
        printf("%s", p.gray ? ", gray" : "");
        if (p.blur) printf(", blur sigma %.2f", p.sigma);
        printf("\n");
    }
    if ((s = genrep_png_write_grid(out, row, 1, 1 + K, C, S, S, 2, 1.0f, NULL, NULL)))
        return fail("genrep_png_write_grid", s);
    printf("wrote %s: %s (%dx%d", out, path, W0, H0);
    if (W != W0 || H != H0) printf(", crops in the copy shrunk to %dx%d", W, H);
    printf(") and %d views of %dx%d\n", K, S, S);
    free(img); free(row);
    return 0;
}
