/* 05_embed: embed a folder of your images with a trained encoder.
   usage: 05_embed --encoder CKPT.safetensors --images DIR [--out FILE.csv] [--query IMG] [--k K] [--smoke]
   Loads a checkpoint written by `genrep train` (RUN_DIR/ckpt.safetensors),
   turns every image in DIR into the encoder's feature vector (the pooled
   features the linear probe uses, not the projection head) and writes a
   CSV: a header, then one row per file: path, f0, f1, ... With --query it
   prints the k images of DIR most similar (cosine) to the query image.
   Images are decoded by stb_image, converted to the encoder's channels,
   resized to its input size and normalised as in training. Files that
   cannot be decoded are reported and skipped.
   --smoke: writes a randomly initialised encoder checkpoint and a folder of
   small PNGs under /tmp first, embeds them and checks that the query's
   nearest neighbour is itself. */
#define GENREP_IMPLEMENTATION
#define GENREP_IMAGE_IO
#include "genrep.h"
#include <stb/stb_image.h>          /* implementations come from -lstb */
#include <stb/stb_image_write.h>
#include <stb/stb_image_resize.h>
#include <dirent.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, genrep_status st) {
    fprintf(stderr, "05_embed: %s: %s: %s\n", what, genrep_status_str(st), genrep_last_error());
    return 1;
}

/* An encoder checkpoint (genrep_encoder_save, as `genrep train` writes it):
   its metadata rebuilds the model, whatever width and depth; optimiser state
   is left unread, and a CE / inverter run's linear head is allowed. */
static int load_encoder(genrep_encoder *e, const char *path) {
    genrep_extra_tensor head = {"head.linear", NULL, 0};
    genrep_status s = genrep_encoder_load(e, path, 1, &head, 1, NULL);
    return s ? fail(path, s) : 0;
}

/* x (C, H, W) = image at path, converted, resized and normalised to
   (v - 0.5) / 0.5 as `genrep train` feeds the encoder. 0 or 1. */
static int load_image(float *x, const char *path, int C, int H, int W) {
    int w, h;
    unsigned char *px = NULL, *rs = NULL; /* PNG or JPEG only, within the manual's [IMAGE] limits */
    if (genrep_image_load(&px, &w, &h, path, C)) { fprintf(stderr, "05_embed: skipping: %s\n", genrep_last_error()); return 1; }
    if (w != W || h != H) {   /* stb_image_resize filters properly when shrinking */
        rs = (unsigned char *)malloc((size_t)W * H * C);
        if (!rs || !stbir_resize_uint8(px, w, h, 0, rs, W, H, 0, C)) { free(rs); genrep_image_free(px); return 1; }
    }
    const unsigned char *p = rs ? rs : px;
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H * W; i++) x[c * H * W + i] = (p[i * C + c] / 255.0f - 0.5f) / 0.5f;
    free(rs);
    genrep_image_free(px);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* --smoke: a random "small" encoder checkpoint, 6 PNGs of bars and one
   file that is not an image at all. */
static int make_smoke_inputs(const char *ckpt, const char *dir) {
    genrep_encoder_config c;
    genrep_encoder e;
    genrep_encoder_config_small(&c, 1, 28, 28);
    genrep_status s = genrep_encoder_create(&e, &c, 1, 99);
    if (s) return fail("genrep_encoder_create", s);
    s = genrep_encoder_save(&e, ckpt, "small", NULL, 0, NULL, 0);
    genrep_encoder_free(&e);
    if (s) return fail(ckpt, s);
    char path[512];
    unsigned char px[28 * 28];
    mkdir(dir, 0755);   /* may exist already; writing the files tells */
    for (int k = 0; k < 6; k++) {   /* image k: a bar, vertical for even k, at 4 + 3k */
        for (int i = 0; i < 28 * 28; i++) px[i] = abs((k % 2 ? i / 28 : i % 28) - 4 - 3 * k) < 3 ? 255 : 0;
        snprintf(path, sizeof path, "%s/img%d.png", dir, k);
        if (!stbi_write_png(path, 28, 28, 1, px, 28)) { fprintf(stderr, "05_embed: cannot write %s\n", path); return 1; }
    }
    snprintf(path, sizeof path, "%s/broken.png", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fputs("not a png", f) < 0 || fclose(f)) { fprintf(stderr, "05_embed: cannot write %s\n", path); return 1; }
    return 0;
}

int main(int argc, char **argv) {
    const char *ckpt = NULL, *dir = NULL, *out = "embeddings.csv", *query = NULL;
    int k = 5, smoke = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke")) smoke = 1;
        else if (!strcmp(argv[i], "--encoder") && i + 1 < argc) ckpt = argv[++i];
        else if (!strcmp(argv[i], "--images") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--query") && i + 1 < argc) query = argv[++i];
        else if (!strcmp(argv[i], "--k") && i + 1 < argc) k = atoi(argv[++i]);
        else { ckpt = NULL; smoke = 0; break; }
    }
    if (smoke) {
        ckpt = "/tmp/genrep_05_encoder.safetensors"; dir = "/tmp/genrep_05_images";
        out = "/tmp/genrep_05_embed.csv"; query = "/tmp/genrep_05_images/img4.png";
        if (make_smoke_inputs(ckpt, dir)) return 1;
    }
    if (!ckpt || !dir || k < 1) {
        fprintf(stderr, "usage: %s --encoder CKPT --images DIR [--out FILE.csv] [--query IMG] [--k K] [--smoke]\n", argv[0]);
        return 2;
    }
    genrep_encoder e;
    if (load_encoder(&e, ckpt)) return 1;
    const int C = e.cfg.in_channels, H = e.cfg.in_h, W = e.cfg.in_w, F = e.feat_dim;

    /* The image files of DIR (hidden files skipped), in byte order. */
    DIR *d = opendir(dir);
    if (!d) { fprintf(stderr, "05_embed: cannot open directory %s\n", dir); return 1; }
    char **names = NULL;
    int n = 0, cap = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        if (n == cap && !(names = (char **)realloc(names, sizeof(char *) * (cap = 2 * cap + 16)))) return 1;
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        if (!(names[n] = (char *)malloc(len))) return 1;
        snprintf(names[n++], len, "%s/%s", dir, de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(char *), cmp_str);

    /* Features (n, F) in eval mode (batchnorm running statistics). */
    float *x = (float *)malloc(sizeof(float) * C * H * W), *feat = (float *)malloc(sizeof(float) * (size_t)(n + 1) * F);
    FILE *csv = fopen(out, "w");
    if (!x || !feat || !csv) { fprintf(stderr, "05_embed: cannot write %s or out of memory\n", out); return 1; }
    fprintf(csv, "path");
    for (int j = 0; j < F; j++) fprintf(csv, ",f%d", j);
    fprintf(csv, "\n");
    int kept = 0, skipped = 0;
    genrep_status s;
    for (int i = 0; i < n; i++) {
        if (load_image(x, names[i], C, H, W)) { skipped++; free(names[i]); continue; }
        if ((s = genrep_encoder_features(feat + (size_t)kept * F, &e, x, 1))) return fail(names[i], s);
        fprintf(csv, "%s", names[i]);   /* (quote it if your paths may hold commas) */
        for (int j = 0; j < F; j++) fprintf(csv, ",%.6g", feat[(size_t)kept * F + j]);
        fprintf(csv, "\n");
        names[kept++] = names[i];
    }
    if (fclose(csv)) { fprintf(stderr, "05_embed: cannot write %s\n", out); return 1; }
    printf("wrote %s: %d images x %d features (%d skipped)\n", out, kept, F, skipped);

    int rc = smoke && (kept != 6 || skipped != 1);
    if (query && kept) {
        /* Cosine similarity = dot product of L2-normalised rows: normalise
           the kept rows and the query (row `kept`), then one linear layer
           gives sim (1, kept) = q . rows^T. */
        float *q = feat + (size_t)kept * F, *norm = (float *)malloc(sizeof(float) * (kept + 1));
        float *unit = (float *)malloc(sizeof(float) * (size_t)(kept + 1) * F), *sim = (float *)malloc(sizeof(float) * kept);
        if (!norm || !unit || !sim || load_image(x, query, C, H, W)) return 1;
        if ((s = genrep_encoder_features(q, &e, x, 1))) return fail(query, s);
        if ((s = genrep_l2norm_forward(unit, norm, feat, kept + 1, F, 1e-12f))) return fail("genrep_l2norm_forward", s);
        if ((s = genrep_linear_forward(sim, unit + (size_t)kept * F, unit, NULL, 1, F, kept))) return fail("genrep_linear_forward", s);
        printf("nearest to %s:\n", query);
        for (int r = 0; r < k && r < kept; r++) {   /* the best remaining row, k times */
            int best = 0;
            for (int i = 1; i < kept; i++) if (sim[i] > sim[best]) best = i;
            printf("  %d. %s  cos %.4f\n", r + 1, names[best], sim[best]);
            if (smoke && r == 0 && (strcmp(names[best], query) || sim[best] < 0.9999f)) rc = 1;
            sim[best] = -2.0f;
        }
        free(norm); free(unit); free(sim);
    }
    for (int i = 0; i < kept; i++) free(names[i]);
    free(names); free(x); free(feat);
    genrep_encoder_free(&e);
    if (rc) fprintf(stderr, "05_embed: smoke check failed\n");
    return rc;
}
