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
