/* trainer/common.h: flag parsing, run directories, checkpoints of the CLI. */
#ifndef GENREP_TRAINER_COMMON_H
#define GENREP_TRAINER_COMMON_H
#include "trainer.h"
#include <stdio.h>

/* Flag values: on a bad value print "genrep CMD: --flag: ..." and return -1. */
int  flag_int(const char *cmd, const char *flag, const char *val, long lo, long hi, int *out);
int  flag_float(const char *cmd, const char *flag, const char *val, double lo, double hi, float *out);
int  flag_u64(const char *cmd, const char *flag, const char *val, uint64_t *out);
/* argv[*i] is a flag that needs a value: return it and advance, or complain. */
const char *flag_value(const char *cmd, int argc, char **argv, int *i);

int  mkdir_p(const char *path);            /* 0 on success; errors printed */
int  file_exists(const char *path);
/* Write text to path atomically (temp + fsync + rename). 0 on success. */
int  write_text_atomic(const char *path, const char *text);
double now_seconds(void);
/* "1h02m" / "3m05s" / "12s" */
void format_eta(char *buf, size_t n, double seconds);

/* Print "genrep CMD: what: status: detail" for a failed library call. */
void report_status(const char *cmd, const char *what, genrep_status st);

/* Generator weights <-> safetensors. Metadata keys: genrep.model = "dcgan"
   or "cgan", genrep.zdim, genrep.width, genrep.dwidth, genrep.n_classes,
   genrep.embed_dim. extra_kv (n_extra pairs) is added to the metadata. */
genrep_status gen_save(const char *path, const genrep_gen *g, const char *const *extra_kv, int n_extra);
/* Create g (max_batch) from a weights file; checks every tensor's name and shape. */
genrep_status gen_load(const char *path, genrep_gen *g, int max_batch);

/* Encoder checkpoints: tensors under their state_dict names, plus extra
   tensors (optimiser state) and metadata genrep.encoder = "small" or
   "resnet18", genrep.in = "C,H,W", genrep.head_out. */
typedef struct { const char *name; const float *data; size_t n; } extra_tensor;
genrep_status enc_save(const char *path, const genrep_encoder *e, const char *arch,
                       const extra_tensor *extra, int n_extra, const char *const *kv, int n_kv);
/* Create e from a checkpoint (max_batch); when extra is not NULL, fill the
   extra tensors (their sizes must match). *st_out (may be NULL) receives
   the open file for reading more metadata; close it with genrep_st_close. */
genrep_status enc_load(const char *path, genrep_encoder *e, int max_batch, extra_tensor *extra, int n_extra,
                       genrep_st **st_out);
/* The encoder config a checkpoint's metadata describes (arch, input, head,
   width, depth), validated; prints a message naming path and returns
   GENREP_ERR_FORMAT if it describes none. *arch_out (may be NULL) points into st. */
genrep_status enc_config_from_meta(const genrep_st *st, const char *path, genrep_encoder_config *c,
                                   const char **arch_out);
/* The encoder of arch (small|resnet18) with base width (0: the arch's own;
   1..ENC_MAX_WIDTH) and basic blocks per stage (0: the arch's 2;
   1..ENC_MAX_BLOCKS). -1 for an unknown arch, width or depth. Checkpoints
   store the arch (genrep.encoder), width (genrep.width) and depth (genrep.blocks). */
#define ENC_MAX_WIDTH 512
#define ENC_MAX_BLOCKS 8
int enc_config_by_name(genrep_encoder_config *c, const char *arch, int width, int blocks, int C, int H, int W);

/* Pool of latent neighbours (genrep train --pool): "GRPL", u32 version=1,
   u32 anchors, u32 neighbours, u32 zdim, u32 has_labels, then
   anchors*(neighbours+1)*zdim floats (anchor first), then anchors int32
   labels if has_labels. Native byte order: the file is a cache of one run. */
typedef struct { int A, N, Z; float *z; int32_t *y; } pool_t;
/* Write atomically (temp + fsync + rename). 0 on success, else -1 with a message. */
int pool_write(const char *path, const pool_t *p);
/* Read into p->z (A*(N+1)*Z floats) and p->y (A labels when ncls > 0), both
   allocated by the caller. The file must match A, N, Z and labels exactly,
   hold finite latents and labels in [0, ncls). 0 on success; -1 when
   missing (silently) or not matching (with a message). */
int pool_read(const char *path, pool_t *p, int A, int N, int Z, int ncls);
#endif
