/* trainer/common.c: helpers of the CLI: files, time, messages, checked allocation, pools. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fdopen under -std=c11 */
#endif
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

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

void gen_to_unit(float *x, size_t n, const genrep_gen *g) {
    if (g->cfg.out_act == GENREP_GEN_ACT_SIGMOID) return;
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * (x[i] + 1.0f);
    if (g->cfg.out_act == GENREP_GEN_ACT_NONE)
        for (size_t i = 0; i < n; i++) x[i] = x[i] < 0.0f ? 0.0f : x[i] > 1.0f ? 1.0f : x[i];
}

int gen_require_28(const char *cmd, const char *path, const genrep_gen *g, const char *why) {
    int C, H, W;
    genrep_gen_shape(g, &C, &H, &W);
    if (C == 1 && H == 28 && W == 28) return 0;
    fprintf(stderr, "genrep %s: %s makes %dx%dx%d images; %s takes 1x28x28 generators (%s)\n", cmd, path, C, H, W, cmd, why);
    return -1;
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

/* ---- allocation ---- */

static void *oom(size_t n, const char *what) {
    fprintf(stderr, "genrep: out of memory: %zu bytes for %s\n", n, what);
    exit(1);
}
void *xmalloc(size_t n, const char *what) { void *p = malloc(n ? n : 1); return p ? p : oom(n, what); }
void *xcalloc(size_t n, size_t size, const char *what) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    return p ? p : oom(n * size, what);
}
void *xrealloc(void *q, size_t n, const char *what) { void *p = realloc(q, n ? n : 1); return p ? p : oom(n, what); }

genrep_status load_encoder(const char *cmd, const char *path, genrep_encoder *e, int max_batch) {
    genrep_extra_tensor allowed[1] = {{"head.linear", NULL, 0}};
    genrep_status s = genrep_encoder_load(e, path, max_batch, allowed, 1, NULL);
    if (s) report_status(cmd, path, s);
    return s;
}

/* ---- pool of latent neighbours ---- */

int pool_write(const char *path, const pool_t *p) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) { fprintf(stderr, "genrep train: cannot write %s: %s\n", tmp, strerror(errno)); return -1; }
    uint32_t h[5] = {2, (uint32_t)p->A, (uint32_t)p->N, (uint32_t)p->Z, p->y ? 1u : 0u};
    size_t nz = (size_t)p->A * (p->N + 1) * p->Z;
    int ok = fwrite("GRPL", 1, 4, f) == 4 && fwrite(h, 4, 5, f) == 5 && fwrite(p->key, 1, POOL_KEY_LEN, f) == POOL_KEY_LEN
             && fwrite(p->z, 4, nz, f) == nz
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
    struct stat sb;
    if (stat(path, &sb)) return -1; /* no pool yet: made silently */
    int fd;
    if (genrep_file_open_regular(&fd, path)) { /* a FIFO, a directory ...: never read, replaced */
        fprintf(stderr, "genrep train: %s; regenerating\n", genrep_last_error());
        return -1;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) { close(fd); return -1; }
    char m[4], key[POOL_KEY_LEN]; uint32_t h[5];
    size_t nz = (size_t)A * (N + 1) * Z;
    int labels = ncls > 0;
    int ok = fread(m, 1, 4, f) == 4 && !memcmp(m, "GRPL", 4) && fread(h, 4, 5, f) == 5 && h[0] == 2
             && h[1] == (uint32_t)A && h[2] == (uint32_t)N && h[3] == (uint32_t)Z && h[4] == (uint32_t)labels;
    int same_key = ok && fread(key, 1, POOL_KEY_LEN, f) == POOL_KEY_LEN && !memcmp(key, p->key, POOL_KEY_LEN);
    if (ok && !same_key) {
        fclose(f);
        fprintf(stderr, "genrep train: %s was made with other settings (%.*s); regenerating\n", path, POOL_KEY_LEN, key);
        return -1;
    }
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

/* ---- any generator: DCGAN family or BigGAN-deep ---- */

int gen_file_is_biggan(const char *path) {
    genrep_st *st;
    if (genrep_st_open(&st, path, GENREP_ST_HEADER_ONLY)) return 0;
    const char *m = genrep_st_meta(st, "genrep.model");
    int big = m && !strcmp(m, "biggan-deep");
    genrep_st_close(st);
    return big;
}

int anygen_load(anygen *a, const char *cmd, const char *path, int max_batch) {
    genrep_status s;
    memset(a, 0, sizeof *a);
    a->max_batch = max_batch;
    a->biggan = gen_file_is_biggan(path);
    if (a->biggan) { /* its activations are large (12 MB per 128 px image): render in chunks of 8 */
        a->max_batch = max_batch = max_batch < 8 ? max_batch : 8;
        if ((s = genrep_biggan_load(&a->g_big, path, max_batch))) { report_status(cmd, path, s); return -1; }
        const genrep_biggan_config *c = &a->g_big.cfg;
        a->Z = c->z_dim; a->cond = 1; a->ncls = a->n_gen_classes = c->num_classes;
        a->GC = 3; a->GH = a->GW = c->output_dim;
        a->cvec = (float *)xcalloc((size_t)max_batch * c->num_classes, sizeof(float), "BigGAN class vectors");
    } else {
        if ((s = genrep_gen_load(&a->g, path, max_batch))) {
            int not_a_gen = s == GENREP_ERR_FORMAT && strstr(genrep_last_error(), "genrep.model is") != NULL;
            report_status(cmd, path, s);
            if (not_a_gen)
                fprintf(stderr, "genrep %s: --gen takes a DCGAN-family generator (metadata genrep.model = dcgan or cgan: genrep "
                        "gan-train, weights/export_pytorch.py) or a BigGAN-deep file (genrep.model = biggan-deep: "
                        "weights/export_pytorch.py --biggan)\n", cmd);
            return -1;
        }
        a->Z = a->g.cfg.zdim; a->cond = a->g.cfg.kind == GENREP_GAN_CGAN;
        a->ncls = a->n_gen_classes = a->cond ? a->g.cfg.n_classes : 0;
        genrep_gen_shape(&a->g, &a->GC, &a->GH, &a->GW);
    }
    a->C = a->GC; a->H = a->GH; a->W = a->GW;
    if (a->GC != 1 && a->GC != 3) {
        fprintf(stderr, "genrep %s: %s makes %d-channel images; the augmentations, encoder and figures take 1 (gray) or 3 (RGB)\n",
                cmd, path, a->GC);
        anygen_free(a);
        return -1;
    }
    return 0;
}

void anygen_free(anygen *a) {
    if (a->biggan) genrep_biggan_free(&a->g_big);
    else if (a->g.params) genrep_gen_free(&a->g);
    free(a->cls); free(a->cvec); free(a->tmp);
    memset(a, 0, sizeof *a);
}

int anygen_classes(anygen *a, const char *cmd, const char *spec) {
    if (!spec || !strcmp(spec, "all")) return 0;
    const int N = a->n_gen_classes;
    if (!a->cond) {
        fprintf(stderr, "genrep %s: --class %s needs a class-conditional generator (cgan or BigGAN); this one is unconditional\n", cmd, spec);
        return -1;
    }
    int *cls = (int *)xmalloc(sizeof(int) * (size_t)N, "--class list"), n = 0;
    unsigned char *seen = (unsigned char *)xcalloc((size_t)N, 1, "--class list");
    const char *p = spec;
    for (;;) { /* C or A-B, comma separated */
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        int ok = end != p && (*p >= '0' && *p <= '9');
        if (ok && *end == '-') { const char *q = end + 1; hi = strtol(q, &end, 10); ok = end != q && *q >= '0' && *q <= '9'; }
        if (!ok || (*end && *end != ',') || lo > hi || lo < 0 || hi >= N) {
            fprintf(stderr, "genrep %s: --class '%s': expected all, a class, a list C1,C2,... or ranges A-B of classes in 0..%d "
                    "(this generator has %d classes)\n", cmd, spec, N - 1, N);
            free(cls); free(seen); return -1;
        }
        for (long c = lo; c <= hi; c++) {
            if (seen[c]) { fprintf(stderr, "genrep %s: --class '%s': class %ld given twice\n", cmd, spec, c); free(cls); free(seen); return -1; }
            seen[c] = 1; cls[n++] = (int)c;
        }
        if (!*end) break;
        p = end + 1;
    }
    free(seen);
    free(a->cls);
    a->cls = cls; a->ncls = n;
    return 0;
}

void anygen_set_shape(anygen *a, int C, int S) {
    a->C = C ? C : a->GC;
    a->H = a->W = S ? S : a->GH;
    free(a->tmp); a->tmp = NULL;
    if (a->C != a->GC || a->H != a->GH || a->W != a->GW)
        a->tmp = (float *)xmalloc(sizeof(float) * (size_t)a->max_batch * a->GC * a->GH * a->GW, "generator images");
}

/* One image (GC,GH,GW) in [0,1] -> (C,H,W): channels first (in place in
   `in`: gray into channel 0), then each channel area-averaged when the
   side divides (an f x f box, f = GH/H), else bilinearly resized. */
static genrep_status anygen_reshape(float *out, float *in, const anygen *a) {
    const int GC = a->GC, GH = a->GH, GW = a->GW, C = a->C, H = a->H, W = a->W, Cr = C < GC ? C : GC;
    const size_t gp = (size_t)GH * GW, op = (size_t)H * W;
    if (C == 1 && GC == 3)
        for (size_t i = 0; i < gp; i++) in[i] = 0.2989f * in[i] + 0.587f * in[gp + i] + 0.114f * in[2 * gp + i];
    if (GH % H == 0 && GW % W == 0) {
        const int fy = GH / H, fx = GW / W;
        const float inv = 1.0f / (float)(fy * fx);
        for (int c = 0; c < Cr; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    float s = 0;
                    for (int dy = 0; dy < fy; dy++)
                        for (int dx = 0; dx < fx; dx++) s += in[c * gp + (size_t)(y * fy + dy) * GW + x * fx + dx];
                    out[c * op + (size_t)y * W + x] = s * inv;
                }
    } else {
        genrep_status s = genrep_aug_resized_crop(out, in, Cr, GH, GW, 0, 0, GH, GW, H, W);
        if (s) return s;
    }
    for (int c = Cr; c < C; c++) memcpy(out + c * op, out, sizeof(float) * op); /* gray -> RGB */
    return GENREP_OK;
}

genrep_status anygen_render(anygen *a, float *out, const float *z, const int32_t *y, int B) {
    const size_t gpix = (size_t)a->GC * a->GH * a->GW, pix = (size_t)a->C * a->H * a->W;
    genrep_status s = GENREP_OK;
    for (int n0 = 0; n0 < B && !s; n0 += a->max_batch) {
        const int m = B - n0 < a->max_batch ? B - n0 : a->max_batch;
        float *dst = a->tmp ? a->tmp : out + (size_t)n0 * pix;
        const float *zz = z + (size_t)n0 * a->Z;
        if (a->biggan) { /* one-hot class rows; truncation 1 picks the last statistics row */
            const int NC = a->n_gen_classes;
            memset(a->cvec, 0, sizeof(float) * (size_t)m * NC);
            for (int i = 0; i < m; i++) a->cvec[(size_t)i * NC + (a->cls ? a->cls[y[n0 + i]] : y[n0 + i])] = 1.0f;
            s = genrep_biggan_render(&a->g_big, dst, zz, a->cvec, m, 1.0);
            for (size_t i = 0; !s && i < (size_t)m * gpix; i++) dst[i] = 0.5f * (dst[i] + 1.0f); /* tanh range */
        } else {
            int32_t yb[256];
            const int32_t *yy = NULL;
            int done = 0;
            for (; !s && a->cond && a->cls && done < m; done += 256) { /* labels -> the list's classes */
                const int k = m - done < 256 ? m - done : 256;
                for (int i = 0; i < k; i++) yb[i] = a->cls[y[n0 + done + i]];
                s = genrep_gen_render(&a->g, dst + (size_t)done * gpix, zz + (size_t)done * a->Z, yb, k);
            }
            if (!(a->cond && a->cls)) {
                yy = a->cond ? y + n0 : NULL;
                s = genrep_gen_render(&a->g, dst, zz, yy, m);
            }
            if (!s) gen_to_unit(dst, (size_t)m * gpix, &a->g);
        }
        for (int i = 0; !s && a->tmp && i < m; i++) s = anygen_reshape(out + (size_t)(n0 + i) * pix, a->tmp + (size_t)i * gpix, a);
    }
    return s;
}
