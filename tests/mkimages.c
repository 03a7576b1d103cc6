/* tests/mkimages.c: writes a small image folder for the folder-data tests
   (tests/test_folder.sh):
       mkimages DIR CLASSES PER_CLASS W H C [PREFIX]
   CLASSES > 0: DIR/c<k>/<PREFIX><i>.png, class k drawn as stripes of period
   2 + 2k at a random phase, with class-dependent colour and noise, so a
   probe can tell the classes apart; CLASSES = 0: DIR/<PREFIX><i>.png
   (unlabelled). C = 1 (gray PNG) or 3 (RGB PNG). Deterministic (Philox). */
#define GENREP_IMAGE_IO
#include "../genrep.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
    if (argc < 7) { fprintf(stderr, "usage: mkimages DIR CLASSES PER_CLASS W H C [PREFIX]\n"); return 2; }
    const char *dir = argv[1], *prefix = argc > 7 ? argv[7] : "img";
    int K = atoi(argv[2]), n = atoi(argv[3]), W = atoi(argv[4]), H = atoi(argv[5]), C = atoi(argv[6]);
    if (K < 0 || n < 1 || W < 1 || H < 1 || (C != 1 && C != 3)) { fprintf(stderr, "mkimages: bad arguments\n"); return 2; }
    mkdir(dir, 0777);
    float *img = (float *)malloc(sizeof(float) * (size_t)C * H * W);
    char path[4096];
    for (int k = 0; k < (K ? K : 1); k++) {
        if (K) { snprintf(path, sizeof path, "%s/c%d", dir, k); mkdir(path, 0777); }
        for (int i = 0; i < n; i++) {
            genrep_rng r;
            genrep_rng_init(&r, 77, (uint64_t)k * 100000 + i);
            int period = 2 + 2 * k, phase = (int)genrep_rng_below(&r, (uint32_t)period);
            for (int c = 0; c < C; c++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        float v = ((y + phase) / (period / 2)) % 2 ? 0.8f : 0.2f;
                        if (C == 3) v *= c == k % 3 ? 1.0f : 0.6f;
                        v += 0.1f * (genrep_rng_uniform(&r) - 0.5f);
                        img[((size_t)c * H + y) * W + x] = v;
                    }
            if (K) snprintf(path, sizeof path, "%s/c%d/%s%03d.png", dir, k, prefix, i);
            else snprintf(path, sizeof path, "%s/%s%03d.png", dir, prefix, i);
            genrep_status s = genrep_png_write_grid(path, img, 1, 1, C, H, W, 0, 0.0f, NULL, NULL);
            if (s) { fprintf(stderr, "mkimages: %s: %s\n", path, genrep_last_error()); return 1; }
        }
    }
    free(img);
    return 0;
}
