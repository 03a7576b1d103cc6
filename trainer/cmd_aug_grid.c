/* trainer/cmd_aug_grid.c: `genrep aug-grid`, a PNG of SimCLR views of real
   Fashion-MNIST images: one row per image, the anchor then K views, as the
   encoder will see them in training. */
#include "common.h"
#include "opt.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *out, *data_dir;
    int n, views, size, blur, train;
    uint64_t seed;
} aug_grid_opts;

#define F(x) offsetof(aug_grid_opts, x)
static const opt_spec aug_grid_spec[] = {
    {"out", OPT_STR, F(out), "aug_grid.png", 0, 0, NULL, "FILE.png", "output file", 0},
    {"n", OPT_INT, F(n), "8", 1, 64, NULL, "N", "rows", 0},
    {"views", OPT_INT, F(views), "8", 1, 32, NULL, "K", "views per row", 0},
    {"seed", OPT_U64, F(seed), "0", 0, 0, NULL, "S", "seed of the image choice and the views", 0},
    {"size", OPT_INT, F(size), "28", 8, 256, NULL, "S", "side of the views in pixels", 0},
    {"blur", OPT_BOOL, F(blur), NULL, 0, 0, NULL, NULL, "add SimCLR's Gaussian blur (p=0.5)", 0},
    {"train", OPT_BOOL, F(train), NULL, 0, 0, NULL, NULL, "draw images from the train split (default: test)", 0},
    {"data-dir", OPT_STR, F(data_dir), NULL, 0, 0, NULL, "DIR", "Fashion-MNIST directory (default $GENREP_FMNIST_DIR or "
     "/usr/share/datasets/fashion-mnist)", 0},
};
#undef F
static const opt_table aug_grid_table = {
    "aug-grid", "[flags]",
    "Write a PNG grid of augmented views of Fashion-MNIST test images: each row is\n"
    "an image (left) followed by K random views (GenRep's SimCLR recipe: resized\n"
    "crop scale 0.2-1, flip, colour jitter p=0.8, grayscale p=0.2).\n",
    aug_grid_spec, OPT_N(aug_grid_spec)};

int genrep_cmd_aug_grid(int argc, char **argv) {
    const char *cmd = "aug-grid";
    aug_grid_opts o;
    int pr = opt_parse(&aug_grid_table, &o, NULL, argc, argv);
    if (pr) return pr > 0 ? 0 : 2;
    const char *out = o.out, *data_dir = o.data_dir;
    const int n = o.n, views = o.views, size = o.size, blur = o.blur, train = o.train;
    const uint64_t seed = o.seed;
    if (data_dir && !*data_dir) { fprintf(stderr, "genrep %s: --data-dir: empty value\n", cmd); return 2; }
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
    float *grid = (float *)xmalloc((size_t)n * cols * tile * sizeof(float), "the grid");
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
