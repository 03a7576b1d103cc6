/* trainer/common.h: helpers of the CLI: files, time, messages, checked allocation, pools. */
#ifndef GENREP_TRAINER_COMMON_H
#define GENREP_TRAINER_COMMON_H
#include "trainer.h"
#include <stdio.h>

int  mkdir_p(const char *path);            /* 0 on success; errors printed */
int  file_exists(const char *path);
/* Write text to path atomically (temp + fsync + rename). 0 on success. */
int  write_text_atomic(const char *path, const char *text);
double now_seconds(void);
/* "1h02m" / "3m05s" / "12s" */
void format_eta(char *buf, size_t n, double seconds);

/* Print "genrep CMD: what: status: detail" for a failed library call. */
void report_status(const char *cmd, const char *what, genrep_status st);

/* Allocation that cannot fail quietly: on failure print "genrep: out of
   memory: N bytes for WHAT" and exit(1). */
void *xmalloc(size_t n, const char *what);
void *xcalloc(size_t n, size_t size, const char *what);
void *xrealloc(void *p, size_t n, const char *what);

/* A generator's output (any DCGAN-family activation) onto [0, 1] in place:
   tanh (x+1)/2, sigmoid as is, none (x+1)/2 clamped. */
void gen_to_unit(float *x, size_t n, const genrep_gen *g);

/* 0 if g makes 1x28x28 images; else prints "genrep CMD: PATH makes CxHxW
   images; CMD takes 1x28x28 (WHY)" and returns -1. */
int gen_require_28(const char *cmd, const char *path, const genrep_gen *g, const char *why);

/* Any generator file --gen takes, told apart by its metadata genrep.model:
   a DCGAN-family file (dcgan|cgan: genrep_gen_load) or a BigGAN-deep file
   (biggan-deep: genrep_biggan_load, rendered at truncation 1 from
   z = 1.0 x TruncNormal(-2, 2), class one-hot). Labels y are indices into
   the --class list (cls[y] is the class rendered; cls NULL: every class,
   y is the class itself), so a run on 3 classes has labels 0..2. What
   anygen_render writes is (C,H,W) in [0, 1]: the generator's own image
   (C,H,W = GC,GH,GW) unless anygen_set_shape asked for another side or
   channel count (area-averaged when the side divides, else bilinear;
   RGB -> gray 0.2989 R + 0.587 G + 0.114 B, gray -> RGB copied). */
typedef struct {
    int biggan;                 /* 1: g_big, 0: g */
    genrep_gen g;
    genrep_biggan g_big;
    int Z, cond, ncls;          /* latent size; class-conditional; labels 0..ncls-1 (0 when unconditional) */
    int n_gen_classes;          /* the generator's own class count */
    int *cls;                   /* ncls class ids of the --class list, NULL for all */
    int GC, GH, GW;             /* the generator's image */
    int C, H, W;                /* anygen_render's image */
    int max_batch;
    float *cvec, *tmp;          /* BigGAN one-hot rows; the generator's images before resizing */
} anygen;

/* 1 if path's metadata says BigGAN-deep, 0 if not (or unreadable: the loader then says why). */
int  gen_file_is_biggan(const char *path);
/* Load path (either family) for batches up to max_batch. Prints
   "genrep CMD: PATH: ..." and returns -1 on failure; an image that is
   neither 1 nor 3 channels is refused here. */
int  anygen_load(anygen *a, const char *cmd, const char *path, int max_batch);
/* --class: "all" (default), a class "C", a list "C1,C2,..." or ranges
   "A-B" (ImageNet indices for BigGAN). Needs a class-conditional
   generator for anything but "all". Prints and returns -1 when bad. */
int  anygen_classes(anygen *a, const char *cmd, const char *spec);
/* Render at C channels and S x S instead (0: the generator's own). */
void anygen_set_shape(anygen *a, int C, int S);
/* out (B,C,H,W) in [0,1] = the generator on z (B,Z) and labels y (B, NULL
   when unconditional). Any B. */
genrep_status anygen_render(anygen *a, float *out, const float *z, const int32_t *y, int B);
void anygen_free(anygen *a);

/* An encoder from a `genrep train` checkpoint (or any encoder file) for
   inference: optimiser state and the CE / inverter baselines' head.linear
   may be in the file and stay unread; anything else must match. Prints
   "genrep CMD: PATH: ..." and returns non-zero on failure. */
genrep_status load_encoder(const char *cmd, const char *path, genrep_encoder *e, int max_batch);

/* Pool of latent neighbours (genrep train --pool): "GRPL", u32 version=2,
   u32 anchors, u32 neighbours, u32 zdim, u32 has_labels, char key[256]
   (the settings that made it: views, sigma, seed, walks, generator), then
   anchors*(neighbours+1)*zdim floats (anchor first), then anchors int32
   labels if has_labels. Native byte order: the file is a cache of one run;
   one made with other settings is regenerated, never reused. */
#define POOL_KEY_LEN 256
typedef struct { int A, N, Z; float *z; int32_t *y; char key[POOL_KEY_LEN]; } pool_t;
/* Write atomically (temp + fsync + rename). 0 on success, else -1 with a message. */
int pool_write(const char *path, const pool_t *p);
/* Read into p->z (A*(N+1)*Z floats) and p->y (A labels when ncls > 0), both
   allocated by the caller. The file must match A, N, Z and labels exactly,
   carry p->key, hold finite latents and labels in [0, ncls). 0 on success;
   -1 when missing (silently) or not matching (with a message). */
int pool_read(const char *path, pool_t *p, int A, int N, int Z, int ncls);
#endif
