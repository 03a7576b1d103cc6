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
