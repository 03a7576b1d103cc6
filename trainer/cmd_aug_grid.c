/* trainer/cmd_aug_grid.c: `genrep aug-grid`, a PNG of SimCLR views of real
   Fashion-MNIST images: one row per image, the anchor then K views, as the
   encoder will see them in training. */
#include "common.h"
#include <stdlib.h>
#include <string.h>

static void aug_grid_usage(FILE *f) {
    fprintf(f,
        "usage: genrep aug-grid [flags]\n"
        "Write a PNG grid of augmented views of Fashion-MNIST test images: each row is\n"
        "an image (left) followed by K random views (GenRep's SimCLR recipe: resized\n"
        "crop scale 0.2-1, flip, colour jitter p=0.8, grayscale p=0.2).\n\n"
        "  --out FILE.png   output file (default aug_grid.png)\n"
        "  --n N            rows, 1..64 (default 8)\n"
        "  --views K        views per row, 1..32 (default 8)\n"
        "  --seed S         seed of the image choice and the views (default 0)\n"
        "  --size S         side of the views in pixels, 8..256 (default 28)\n"
        "  --blur           add SimCLR's Gaussian blur (p=0.5)\n"
        "  --train          draw images from the train split (default: test)\n"
        "  --data-dir DIR   Fashion-MNIST directory (default $GENREP_FMNIST_DIR or\n"
        "                   /usr/share/datasets/fashion-mnist)\n");
}

int genrep_cmd_aug_grid(int argc, char **argv) {
    const char *cmd = "aug-grid";
    const char *out = "aug_grid.png", *data_dir = NULL;
    int n = 8, views = 8, size = 28, blur = 0, train = 0;
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { aug_grid_usage(stdout); return 0; }
        else if (!strcmp(a, "--blur")) blur = 1;
        else if (!strcmp(a, "--train")) train = 1;
        else if (!strcmp(a, "--out") || !strcmp(a, "--data-dir")) {
            if (!(v = flag_value(cmd, argc, argv, &i))) return 2;
            if (!*v) { fprintf(stderr, "genrep %s: %s: empty value\n", cmd, a); return 2; }
            if (!strcmp(a, "--out")) out = v; else data_dir = v;
        } else if (!strcmp(a, "--n") || !strcmp(a, "--views") || !strcmp(a, "--size")) {
            if (!(v = flag_value(cmd, argc, argv, &i))) return 2;
            int r = !strcmp(a, "--n") ? flag_int(cmd, a, v, 1, 64, &n)
                  : !strcmp(a, "--views") ? flag_int(cmd, a, v, 1, 32, &views)
                  : flag_int(cmd, a, v, 8, 256, &size);
            if (r) return 2;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = flag_value(cmd, argc, argv, &i)) || flag_u64(cmd, a, v, &seed)) return 2;
        } else {
            fprintf(stderr, "genrep %s: unknown flag '%s'\n\n", cmd, a);
            aug_grid_usage(stderr);
            return 2;
        }
    }
    size_t olen = strlen(out);
    if (olen < 4 || strcmp(out + olen - 4, ".png")) {
        fprintf(stderr, "genrep %s: --out: '%s' must end in .png\n", cmd, out);
        return 2;
    }

    genrep_dataset ds;
    genrep_status st = genrep_fmnist_load(&ds, data_dir, train);
    if (st) {
        fprintf(stderr, "genrep %s: cannot load Fashion-MNIST: %s\n"
                        "  install it with `sudo apt-get install dataset-fashion-mnist`, or point --data-dir\n"
                        "  (or GENREP_FMNIST_DIR) at a directory holding the four *-ubyte.gz files\n",
                cmd, genrep_last_error());
        return 1;
    }
    genrep_aug_config cfg;
    genrep_aug_config_simclr(&cfg, size, size);
    if (blur) cfg.blur_p = 0.5f;

    /* rows*(1+views) tiles of (1, size, size): anchor (resized to the view
       size) then the views of that image, sample index = dataset index */
    int cols = 1 + views;
    size_t tile = (size_t)size * size;
    float *grid = (float *)malloc((size_t)n * cols * tile * sizeof(float));
    if (!grid) { fprintf(stderr, "genrep %s: out of memory\n", cmd); genrep_dataset_free(&ds); return 1; }
    genrep_rng rng;
    genrep_rng_init(&rng, seed, 0x61756767726964ull /* "auggrid" */);
    int rc = 0;
    for (int r = 0; r < n && !rc; r++) {
        uint32_t idx = genrep_rng_below(&rng, (uint32_t)ds.n);
        const float *img = ds.images + (size_t)idx * 784;
        float *row = grid + (size_t)r * cols * tile;
        st = genrep_aug_resized_crop(row, img, 1, 28, 28, 0, 0, 28, 28, size, size);
        for (int k = 0; k < views && !st; k++)
            st = genrep_augment_batch(row + (size_t)(1 + k) * tile, img, 1, 1, 28, 28, &cfg, seed, idx, k);
        if (st) { report_status(cmd, "augment", st); rc = 1; }
    }
    if (!rc) {
        st = genrep_png_write_grid(out, grid, n, cols, 1, size, size, 2, 0.5f, NULL, NULL);
        if (st) { fprintf(stderr, "genrep %s: --out: %s\n", cmd, genrep_last_error()); rc = 1; }
        else printf("wrote %s: %d rows of an image and %d views, %dx%d, seed %llu\n", out, n, views, size, size,
                    (unsigned long long)seed);
    }
    free(grid);
    genrep_dataset_free(&ds);
    return rc;
}
