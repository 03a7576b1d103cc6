/* 04_contrastive_step: a complete, minimal GenRep training loop.
   usage: 04_contrastive_step [--gen WEIGHTS] [--steps N] [--save ENCODER.safetensors] [--smoke]
   Each step: B anchors z and their Gaussian views z' -> generator -> two
   images per sample -> SimCLR augmentations -> encoder (ResNet + head,
   L2-normalised output) -> NT-Xent loss -> backward -> SGD. The loss is
   printed every few steps. --save writes the encoder in the checkpoint
   format of `genrep train`, so 05_embed and `genrep embed` can use it.
   --smoke: a tiny encoder, batch 16, 12 steps, and a random generator if
   the weights file is missing; exits 1 unless the loss goes down. */
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, genrep_status st) {
    fprintf(stderr, "04_contrastive_step: %s: %s: %s\n", what, genrep_status_str(st), genrep_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *gen_path = "weights/fmnist_dcgan.safetensors", *save = NULL;
    int smoke = 0, steps = 200, B = 128;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke")) { smoke = 1; steps = 12; B = 16; }
        else if (!strcmp(argv[i], "--gen") && i + 1 < argc) gen_path = argv[++i];
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--save") && i + 1 < argc) save = argv[++i];
        else { fprintf(stderr, "usage: %s [--gen WEIGHTS] [--steps N] [--save FILE] [--smoke]\n", argv[0]); return 2; }
    }
    if (steps < 1 || (save && smoke)) { fprintf(stderr, "04_contrastive_step: need --steps >= 1; --save is not for --smoke\n"); return 2; }
    genrep_status s;
    genrep_gen g;
    FILE *f = fopen(gen_path, "rb");
    if (f) { fclose(f); if ((s = genrep_gen_load(&g, gen_path, B))) return fail(gen_path, s); }
    else if (smoke) {
        genrep_gan_config c;
        genrep_gan_config_default(&c, GENREP_GAN_DCGAN);
        if ((s = genrep_gen_create(&g, &c, B, 1))) return fail("genrep_gen_create", s);
        printf("%s not found: using a randomly initialised generator (smoke test)\n", gen_path);
    } else { fprintf(stderr, "04_contrastive_step: cannot open %s\n", gen_path); return 1; }
    int GC, GH, GW;   /* this example draws 28x28 gray images; 01_generate takes any shape */
    genrep_gen_shape(&g, &GC, &GH, &GW);
    if (GC != 1 || GH != 28 || GW != 28) { fprintf(stderr, "%s: %s makes %dx%dx%d images, this example takes 1x28x28\n", argv[0], gen_path, GC, GH, GW); return 1; }
    const int Z = g.cfg.zdim, cond = g.cfg.kind == GENREP_GAN_CGAN, HW = 28 * 28;

    /* The encoder sees both views of B samples in one batch of 2B images:
       rows 0..B-1 are view 1, rows B..2B-1 view 2 (NT-Xent's layout). */
    genrep_encoder_config ec;
    genrep_encoder_config_small(&ec, 1, 28, 28);
    if (smoke) {   /* 2 stages of one block, 8 and 16 channels: runs in seconds */
        ec.stem_width = 8; ec.num_stages = 2;
        ec.widths[0] = 8; ec.widths[1] = 16; ec.blocks[0] = ec.blocks[1] = 1;
        ec.head_hidden = 16; ec.head_out = 16;
    }
    genrep_encoder e;
    if ((s = genrep_encoder_create(&e, &ec, 2 * B, 1234))) return fail("genrep_encoder_create", s);
    size_t n_img = (size_t)2 * B * HW;
    float *z = (float *)malloc(sizeof(float) * 2 * B * Z);       /* anchors, then views */
    float *raw = (float *)malloc(sizeof(float) * n_img), *x = (float *)malloc(sizeof(float) * n_img);
    float *lws = (float *)malloc(sizeof(float) * genrep_ntxent_workspace(B));
    float *dz = (float *)malloc(sizeof(float) * 2 * B * e.out_dim);
    float *mom = (float *)calloc(e.num_params, sizeof(float));    /* SGD momentum, zero at step 1 */
    int32_t *y = (int32_t *)calloc((size_t)2 * B, sizeof(int32_t));     /* classes (cgan only) */
    if (!z || !raw || !x || !lws || !dz || !mom || !y) { fprintf(stderr, "04_contrastive_step: out of memory\n"); return 1; }
    genrep_aug_config ac;
    genrep_aug_config_simclr(&ac, 28, 28);
    genrep_view_config vc = {GENREP_VIEW_GAUSS, 0.2f, 1.0f, 0, NULL, NULL};
    genrep_sgd_config sgd = {0.1f, 0.9f, 1e-4f, 0};
    const uint64_t seed = 0;
    float loss = 0, early = 0, late = 0;   /* loss summed over the first and the last 3 steps */

    for (int step = 0; step < steps; step++) {
        uint64_t first = (uint64_t)step * B;   /* sample indices of this batch */
        /* 1. latents: anchors, their Gaussian views (and one class per sample) */
        s = genrep_latent_anchors(z, B, Z, 1.0f, seed, first);
        if (!s) s = genrep_latent_view(z + (size_t)B * Z, z, B, Z, &vc, seed, first, 1);
        if (!s && cond) s = genrep_latent_classes(y, B, g.cfg.n_classes, seed, first);
        for (int b = 0; b < B; b++) y[B + b] = y[b];   /* a view keeps its anchor's class */
        /* 2. images in [-1, 1] -> [0, 1] */
        if (!s) s = genrep_gen_render(&g, raw, z, cond ? y : NULL, 2 * B);
        for (size_t i = 0; i < n_img; i++) raw[i] = 0.5f * raw[i] + 0.5f;
        /* 3. pixel augmentations, independently for each view (view index 1, 2),
           then normalise to (x - 0.5) / 0.5 as `genrep train` does */
        if (!s) s = genrep_augment_batch(x, raw, B, 1, 28, 28, &ac, seed, first, 1);
        if (!s) s = genrep_augment_batch(x + n_img / 2, raw + n_img / 2, B, 1, 28, 28, &ac, seed, first, 2);
        for (size_t i = 0; i < n_img; i++) x[i] = (x[i] - 0.5f) / 0.5f;
        /* 4. encoder forward in training mode; e.out is (2B, out_dim), L2-normalised */
        if (!s) s = genrep_encoder_forward(&e, x, 2 * B, 1);
        /* 5. NT-Xent (tau 0.1) and its gradient; backward passes accumulate */
        if (!s) s = genrep_ntxent_forward(&loss, lws, e.out, B, e.out_dim, 0.1f, 0);
        memset(dz, 0, sizeof(float) * 2 * B * e.out_dim);
        genrep_encoder_zero_grad(&e);
        if (!s) s = genrep_ntxent_backward(dz, lws, e.out, B, e.out_dim, 0.1f, 0, 1.0f);
        if (!s) s = genrep_encoder_backward(&e, NULL, dz);
        /* 6. SGD with momentum, cosine schedule: the first num_params floats of
           e.params are trained; the BN running statistics after them are not */
        sgd.lr = genrep_cosine_lr(0.1f, 0.0f, step, steps / 10, steps);
        if (!s) s = genrep_sgd_step(e.params, mom, e.grads, e.num_params, &sgd, step + 1);
        if (s) return fail("training step", s);
        if (step < 3) early += loss;
        if (step >= steps - 3) late += loss;
        if (step % 4 == 0 || step == steps - 1) printf("step %3d  loss %.4f  lr %.4f\n", step + 1, loss, sgd.lr);
    }

    if (save) {   /* the library's encoder file: tensors + the whole config, what `genrep embed` reads */
        if ((s = genrep_encoder_save(&e, save, "small", NULL, 0, NULL, 0))) return fail(save, s);
        printf("wrote %s\n", save);
    }
    free(z); free(raw); free(x); free(lws); free(dz); free(mom); free(y);
    genrep_encoder_free(&e);
    genrep_gen_free(&g);
    /* NT-Xent starts near log(2B - 1) (all embeddings alike) and must fall */
    if (smoke && !(late < early)) { fprintf(stderr, "04_contrastive_step: loss did not go down\n"); return 1; }
    return 0;
}
