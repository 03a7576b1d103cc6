/* 01_generate: load a trained generator and write a PNG grid of its samples.
   usage: 01_generate [--gen WEIGHTS.safetensors] [--out FILE.png] [--seed S] [--smoke]
   An unconditional generator (dcgan) gives 8 rows of 8 samples; a
   class-conditional one (cgan) gives one row per class. The weights come
   from `genrep gan-train` (weights/fmnist_dcgan.safetensors is the default).
   --smoke: write /tmp/genrep_01_generate.png, and if the weights file is
   missing use a randomly initialised generator (noise, but every call runs). */
#define GENREP_IMPLEMENTATION
#define GENREP_IMAGE_IO
#include "genrep.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLS 8

static int fail(const char *what, genrep_status st) {
    fprintf(stderr, "01_generate: %s: %s: %s\n", what, genrep_status_str(st), genrep_last_error());
    return 1;
}

/* Load weights written by `genrep gan-train`: the architecture is in the
   file's metadata (genrep.model = dcgan|cgan, genrep.zdim, genrep.width,
   ...), the tensors carry the generator's state_dict names. Returns 0, or
   1 after printing why. */
static int load_generator(genrep_gen *g, const char *path, int max_batch) {
    genrep_st *st;
    genrep_status s = genrep_st_open(&st, path, 0);
    if (s) return fail(path, s);
    const char *model = genrep_st_meta(st, "genrep.model");
    if (!model || (strcmp(model, "dcgan") && strcmp(model, "cgan"))) {
        fprintf(stderr, "01_generate: %s: metadata genrep.model is not dcgan or cgan: not a generator file\n", path);
        genrep_st_close(st);
        return 1;
    }
    genrep_gan_config c;
    genrep_gan_config_default(&c, strcmp(model, "cgan") ? GENREP_GAN_DCGAN : GENREP_GAN_CGAN);
    const char *keys[5] = {"genrep.zdim", "genrep.width", "genrep.dwidth", "genrep.n_classes", "genrep.embed_dim"};
    int *vals[5] = {&c.zdim, &c.width, &c.dwidth, &c.n_classes, &c.embed_dim};
    for (int i = 0; i < 5; i++) {
        const char *v = genrep_st_meta(st, keys[i]);
        if (v) *vals[i] = atoi(v);   /* a bad value is refused by genrep_gen_create */
    }
    if ((s = genrep_gen_create(g, &c, max_batch, 0))) { genrep_st_close(st); return fail(path, s); }
    /* the file must hold exactly the generator's tensors, with their shapes */
    genrep_st_spec spec[GENREP_GAN_MAX_TENSORS];
    memset(spec, 0, sizeof spec);
    for (int i = 0; i < g->n_tensors; i++) {
        spec[i].name = g->table[i].name;
        spec[i].ndim = g->table[i].ndim;
        for (int d = 0; d < g->table[i].ndim; d++) spec[i].shape[d] = g->table[i].shape[d];
    }
    s = genrep_st_expect(st, spec, g->n_tensors);
    for (int i = 0; i < g->n_tensors && !s; i++)
        memcpy(g->params + g->table[i].offset, genrep_st_find(st, g->table[i].name)->data,
               g->table[i].numel * sizeof(float));
    genrep_st_close(st);
    if (s) { genrep_gen_free(g); return fail(path, s); }
    return 0;
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
        if (load_generator(&g, gen_path, 64)) return 1;
        printf("loaded %s: %s, zdim %d, width %d\n", gen_path, g.cfg.kind == GENREP_GAN_CGAN ? "cgan" : "dcgan",
               g.cfg.zdim, g.cfg.width);
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
    int rows = cond ? g.cfg.n_classes : 8, B = rows * COLS;
    float *z = (float *)malloc(sizeof(float) * (size_t)B * Z);
    float *img = (float *)malloc(sizeof(float) * (size_t)B * 28 * 28);
    int32_t *y = (int32_t *)malloc(sizeof(int32_t) * (size_t)B);
    if (!z || !img || !y) { fprintf(stderr, "01_generate: out of memory\n"); return 1; }
    for (int b = 0; b < B; b++) y[b] = b / COLS;   /* row r shows class r */
    genrep_status s = genrep_latent_anchors(z, B, Z, 1.0f, seed, 0);
    if (s) return fail("genrep_latent_anchors", s);
    /* Eval mode (batchnorm running statistics), in chunks of max_batch. */
    if ((s = genrep_gen_render(&g, img, z, cond ? y : NULL, B))) return fail("genrep_gen_render", s);

    /* The generator ends in tanh: pixels are in [-1, 1]. A finite check
       catches weights that loaded but are garbage. */
    for (size_t i = 0; i < (size_t)B * 28 * 28; i++)
        if (!(img[i] >= -1.0f && img[i] <= 1.0f)) { fprintf(stderr, "01_generate: pixel %zu is %g\n", i, img[i]); return 1; }
    /* mean/std undo the [-1, 1] range: written value = x * 0.5 + 0.5 */
    const float mean[1] = {0.5f}, std[1] = {0.5f};
    if ((s = genrep_png_write_grid(out, img, rows, COLS, 1, 28, 28, 2, 0.5f, mean, std)))
        return fail("genrep_png_write_grid", s);
    printf("wrote %s: %d x %d samples%s\n", out, rows, COLS, cond ? " (one row per class)" : "");
    free(z); free(img); free(y);
    genrep_gen_free(&g);
    return 0;
}
