/* trainer/common.c: flag parsing, run directories, checkpoints of the CLI. */
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

const char *flag_value(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "genrep %s: %s needs a value\n", cmd, argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int flag_int(const char *cmd, const char *flag, const char *val, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end) {
        fprintf(stderr, "genrep %s: %s: '%s' is not an integer\n", cmd, flag, val);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "genrep %s: %s: %ld is out of range, expected %ld..%ld\n", cmd, flag, v, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int flag_float(const char *cmd, const char *flag, const char *val, double lo, double hi, float *out) {
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || end == val || *end || v != v) {
        fprintf(stderr, "genrep %s: %s: '%s' is not a number\n", cmd, flag, val);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "genrep %s: %s: %g is out of range, expected %g..%g\n", cmd, flag, v, lo, hi);
        return -1;
    }
    *out = (float)v;
    return 0;
}

int flag_u64(const char *cmd, const char *flag, const char *val, uint64_t *out) {
    char *end;
    errno = 0;
    if (*val == '-') { fprintf(stderr, "genrep %s: %s: must be >= 0, got '%s'\n", cmd, flag, val); return -1; }
    unsigned long long v = strtoull(val, &end, 10);
    if (errno || end == val || *end) {
        fprintf(stderr, "genrep %s: %s: '%s' is not a non-negative integer\n", cmd, flag, val);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int mkdir_p(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        fprintf(stderr, "genrep: path too long: %s\n", path);
        return -1;
    }
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) && errno != EEXIST) {
                fprintf(stderr, "genrep: cannot create directory %s: %s\n", buf, strerror(errno));
                return -1;
            }
            *p = c;
            if (!c) break;
        }
    }
    struct stat sb;
    if (stat(path, &sb) || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "genrep: %s is not a directory\n", path);
        return -1;
    }
    return 0;
}

int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

int write_text_atomic(const char *path, const char *text) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { fprintf(stderr, "genrep: cannot write %s: %s\n", tmp, strerror(errno)); return -1; }
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w <= 0) {
            fprintf(stderr, "genrep: cannot write %s: %s\n", tmp, strerror(errno));
            close(fd); unlink(tmp); return -1;
        }
        off += (size_t)w;
    }
    if (fsync(fd) || close(fd) || rename(tmp, path)) {
        fprintf(stderr, "genrep: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp); return -1;
    }
    return 0;
}

double now_seconds(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

void format_eta(char *buf, size_t n, double s) {
    if (s < 0 || s != s) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%lds", t);
}

void report_status(const char *cmd, const char *what, genrep_status st) {
    fprintf(stderr, "genrep %s: %s: %s: %s\n", cmd, what, genrep_status_str(st), genrep_last_error());
}

/* ---- generator weights: the library's format ([GANIO] in genrep.h) ---- */

genrep_status gen_save(const char *path, const genrep_gen *g, const char *const *extra_kv, int n_extra) {
    return genrep_gen_save(g, path, extra_kv, n_extra);
}

genrep_status gen_load(const char *path, genrep_gen *g, int max_batch) {
    return genrep_gen_load(g, path, max_batch);
}

/* ---- encoder checkpoints ---- */

/* arch small|resnet18; width > 0 scales the channels: stem and first stage
   width, each later stage twice the one before (small: W/2W/4W, resnet18:
   W/2W/4W/8W); 0 keeps the architecture's own (32, 64). blocks > 0: basic
   blocks per stage (0: the architecture's 2). */
int enc_config_by_name(genrep_encoder_config *c, const char *arch, int width, int blocks, int C, int H, int W) {
    if (!strcmp(arch, "small")) genrep_encoder_config_small(c, C, H, W);
    else if (!strcmp(arch, "resnet18")) genrep_encoder_config_resnet18(c, C, H, W);
    else return -1;
    if (width < 0 || width > ENC_MAX_WIDTH || blocks < 0 || blocks > ENC_MAX_BLOCKS) return -1;
    if (blocks > 0)
        for (int i = 0; i < c->num_stages; i++) c->blocks[i] = blocks;
    if (width > 0) {
        c->stem_width = width;
        for (int i = 0; i < c->num_stages; i++) c->widths[i] = width << i;
    }
    return 0;
}

genrep_status enc_save(const char *path, const genrep_encoder *e, const char *arch,
                       const extra_tensor *extra, int n_extra, const char *const *kv, int n_kv) {
    int n = e->num_tensors + n_extra;
    genrep_st_entry *en = (genrep_st_entry *)calloc((size_t)n, sizeof *en);
    const char **meta = (const char **)calloc((size_t)(2 * n_kv + 10), sizeof *meta);
    if (!en || !meta) { free(en); free(meta); return GENREP_ERR_NOMEM; }
    for (int i = 0; i < e->num_tensors; i++) {
        const genrep_encoder_tensor *t = &e->tensors[i];
        en[i].name = t->name; en[i].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) en[i].shape[d] = t->shape[d];
        en[i].data = e->params + t->offset;
    }
    for (int i = 0; i < n_extra; i++) {
        genrep_st_entry *x = &en[e->num_tensors + i];
        x->name = extra[i].name; x->ndim = 1; x->shape[0] = (int64_t)extra[i].n; x->data = extra[i].data;
    }
    char in[64], ho[32], wd[32], bl[32];
    snprintf(in, sizeof in, "%d,%d,%d", e->cfg.in_channels, e->cfg.in_h, e->cfg.in_w);
    snprintf(ho, sizeof ho, "%d", e->cfg.head_out);
    snprintf(wd, sizeof wd, "%d", e->cfg.stem_width);
    snprintf(bl, sizeof bl, "%d", e->cfg.blocks[0]);
    meta[0] = "genrep.encoder"; meta[1] = arch;
    meta[2] = "genrep.in"; meta[3] = in;
    meta[4] = "genrep.head_out"; meta[5] = ho;
    meta[6] = "genrep.width"; meta[7] = wd;
    meta[8] = "genrep.blocks"; meta[9] = bl;
    for (int i = 0; i < 2 * n_kv; i++) meta[10 + i] = kv[i];
    genrep_status s = genrep_st_write(path, en, n, meta, 5 + n_kv);
    free(en); free(meta);
    return s;
}

genrep_status enc_config_from_meta(const genrep_st *st, const char *path, genrep_encoder_config *c,
                                   const char **arch_out) {
    const char *arch = genrep_st_meta(st, "genrep.encoder"), *in = genrep_st_meta(st, "genrep.in");
    const char *ho = genrep_st_meta(st, "genrep.head_out"), *wd = genrep_st_meta(st, "genrep.width");
    const char *bl = genrep_st_meta(st, "genrep.blocks");
    /* no genrep.width / genrep.blocks (older files): the architecture's own */
    int C, H, W, head_out, width = 0, blocks = 0;
    /* bounds keep a hostile header from asking for a huge model (the CLI's images are at most 3x1024x1024) */
    if (!arch || !in || !ho || sscanf(in, "%d,%d,%d", &C, &H, &W) != 3 || sscanf(ho, "%d", &head_out) != 1
        || C < 1 || C > 4 || H < 8 || H > 1024 || W < 8 || W > 1024 || head_out < 0 || head_out > 65536
        || (wd && (sscanf(wd, "%d", &width) != 1 || width < 1 || width > ENC_MAX_WIDTH))
        || (bl && (sscanf(bl, "%d", &blocks) != 1 || blocks < 1 || blocks > ENC_MAX_BLOCKS))
        || enc_config_by_name(c, arch, width, blocks, C, H, W)) {
        fprintf(stderr, "genrep: %s: not an encoder checkpoint (metadata genrep.encoder/genrep.in/"
                "genrep.head_out/genrep.width/genrep.blocks missing or invalid)\n", path);
        return GENREP_ERR_FORMAT;
    }
    c->head_out = head_out;
    if (head_out == 0) c->head_hidden = 0;
    if (arch_out) *arch_out = arch;
    return GENREP_OK;
}

genrep_status enc_load(const char *path, genrep_encoder *e, int max_batch, extra_tensor *extra, int n_extra,
                       genrep_st **st_out) {
    genrep_st *st;
    genrep_status s = genrep_st_open(&st, path, 0);
    if (s) return s;
    genrep_encoder_config c;
    const char *arch;
    if ((s = enc_config_from_meta(st, path, &c, &arch))) {
        genrep_st_close(st);
        return s;
    }
    {   /* a file must hold at least the values of the model its metadata describes:
           checked before that model is allocated (a small file cannot ask for gigabytes) */
        size_t np = 0, nbuf = 0, have = 0;
        if ((s = genrep_encoder_sizes(&c, max_batch, &np, &nbuf, NULL))) {
            fprintf(stderr, "genrep: %s: %s\n", path, genrep_last_error());
            genrep_st_close(st);
            return s;
        }
        for (int i = 0; i < genrep_st_count(st); i++) have += (size_t)genrep_st_get(st, i)->numel;
        if (have < np + nbuf) {
            fprintf(stderr, "genrep: %s: holds %zu values, but the %s encoder of its metadata (width %d, %d blocks per stage) has %zu\n",
                    path, have, arch, c.stem_width, c.blocks[0], np + nbuf);
            genrep_st_close(st);
            return GENREP_ERR_SHAPE;
        }
    }
    s = genrep_encoder_create(e, &c, max_batch, 0);
    if (s) { genrep_st_close(st); return s; }
    int n = e->num_tensors + n_extra;
    genrep_st_spec *spec = (genrep_st_spec *)calloc((size_t)n, sizeof *spec);
    for (int i = 0; i < e->num_tensors; i++) {
        const genrep_encoder_tensor *t = &e->tensors[i];
        spec[i].name = t->name; spec[i].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) spec[i].shape[d] = t->shape[d];
    }
    for (int i = 0; i < n_extra; i++) {
        spec[e->num_tensors + i].name = extra[i].name;
        spec[e->num_tensors + i].ndim = 1;
        spec[e->num_tensors + i].shape[0] = (int64_t)extra[i].n;
    }
    /* without extra tensors, optimiser state in the file is fine: check only ours */
    for (int i = 0; i < n && !s; i++) {
        const genrep_st_tensor *x = genrep_st_find(st, spec[i].name);
        if (!x) {
            fprintf(stderr, "genrep: %s: tensor %s is missing\n", path, spec[i].name);
            s = GENREP_ERR_FORMAT;
            break;
        }
        int64_t want = 1;
        for (int d = 0; d < spec[i].ndim; d++) want *= spec[i].shape[d];
        if (x->numel != want || x->ndim != spec[i].ndim) {
            fprintf(stderr, "genrep: %s: tensor %s has %lld values, expected %lld\n", path, spec[i].name,
                    (long long)x->numel, (long long)want);
            s = GENREP_ERR_SHAPE;
            break;
        }
        if (i < e->num_tensors) memcpy(e->params + e->tensors[i].offset, x->data, (size_t)want * sizeof(float));
        else memcpy((float *)extra[i - e->num_tensors].data, x->data, (size_t)want * sizeof(float));
    }
    free(spec);
    if (s) { genrep_encoder_free(e); genrep_st_close(st); return s; }
    if (st_out) *st_out = st; else genrep_st_close(st);
    return GENREP_OK;
}

/* ---- pool of latent neighbours ---- */

int pool_write(const char *path, const pool_t *p) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) { fprintf(stderr, "genrep train: cannot write %s: %s\n", tmp, strerror(errno)); return -1; }
    uint32_t h[5] = {1, (uint32_t)p->A, (uint32_t)p->N, (uint32_t)p->Z, p->y ? 1u : 0u};
    size_t nz = (size_t)p->A * (p->N + 1) * p->Z;
    int ok = fwrite("GRPL", 1, 4, f) == 4 && fwrite(h, 4, 5, f) == 5 && fwrite(p->z, 4, nz, f) == nz
             && (!p->y || fwrite(p->y, 4, (size_t)p->A, f) == (size_t)p->A);
    ok = fflush(f) == 0 && ok && fsync(fileno(f)) == 0;
    int err = errno;
    if (fclose(f) || !ok || rename(tmp, path)) {
        if (ok) err = errno;
        unlink(tmp);
        fprintf(stderr, "genrep train: cannot write %s: %s\n", path, strerror(err));
        return -1;
    }
    return 0;
}

int pool_read(const char *path, pool_t *p, int A, int N, int Z, int ncls) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char m[4]; uint32_t h[5];
    size_t nz = (size_t)A * (N + 1) * Z;
    int labels = ncls > 0;
    int ok = fread(m, 1, 4, f) == 4 && !memcmp(m, "GRPL", 4) && fread(h, 4, 5, f) == 5 && h[0] == 1
             && h[1] == (uint32_t)A && h[2] == (uint32_t)N && h[3] == (uint32_t)Z && h[4] == (uint32_t)labels;
    ok = ok && fread(p->z, 4, nz, f) == nz && (!labels || fread(p->y, 4, (size_t)A, f) == (size_t)A);
    ok = ok && fgetc(f) == EOF;
    fclose(f);
    if (!ok) { fprintf(stderr, "genrep train: %s does not match this run (anchors/neighbours/zdim) or is corrupt; regenerating\n", path); return -1; }
    for (size_t i = 0; i < nz; i++)
        if (!isfinite(p->z[i])) { fprintf(stderr, "genrep train: %s holds a non-finite latent; regenerating\n", path); return -1; }
    for (int i = 0; labels && i < A; i++)
        if (p->y[i] < 0 || p->y[i] >= ncls) {
            fprintf(stderr, "genrep train: %s: label %d of anchor %d is outside 0..%d; regenerating\n", path,
                    (int)p->y[i], i, ncls - 1);
            return -1;
        }
    return 0;
}
