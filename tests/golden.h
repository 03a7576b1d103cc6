/* tests/golden.h: reader for golden files written by tests/ref/golden_io.py.
   Format (little-endian): "GRGD", u32 version=1, u32 count, then per tensor
   u32 name_len, name, u32 dtype (0 f32, 1 i32), u32 ndim, i64 dims[ndim], data. */
#ifndef GENREP_GOLDEN_H
#define GENREP_GOLDEN_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

typedef struct {
    char    name[128];
    int     dtype;           /* 0 float32, 1 int32 */
    int     ndim;
    int64_t dims[8];
    int64_t numel;
    void   *data;            /* float* or int32_t* */
} golden_tensor;

typedef struct {
    int            count;
    golden_tensor *t;
} golden_file;

/* Returns 0 on success; on failure prints why to stderr and returns -1. */
static inline int golden_load(golden_file *g, const char *path) {
    memset(g, 0, sizeof *g);
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "golden: cannot open %s\n", path); return -1; }
    char magic[4]; uint32_t ver, count;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "GRGD", 4) || fread(&ver, 4, 1, f) != 1 || ver != 1
        || fread(&count, 4, 1, f) != 1 || count > 100000) {
        fprintf(stderr, "golden: %s: bad header\n", path); fclose(f); return -1;
    }
    g->t = (golden_tensor *)calloc(count ? count : 1, sizeof *g->t);
    g->count = (int)count;
    for (uint32_t i = 0; i < count; i++) {
        golden_tensor *t = &g->t[i];
        uint32_t nl, dt, nd;
        if (fread(&nl, 4, 1, f) != 1 || nl >= sizeof t->name || fread(t->name, 1, nl, f) != nl
            || fread(&dt, 4, 1, f) != 1 || fread(&nd, 4, 1, f) != 1 || nd > 8 || dt > 1
            || fread(t->dims, 8, nd, f) != nd) {
            fprintf(stderr, "golden: %s: bad tensor header %u\n", path, i); fclose(f); return -1;
        }
        t->dtype = (int)dt; t->ndim = (int)nd; t->numel = 1;
        for (uint32_t d = 0; d < nd; d++) t->numel *= t->dims[d];
        t->data = malloc((size_t)(t->numel ? t->numel : 1) * 4);
        if (fread(t->data, 4, (size_t)t->numel, f) != (size_t)t->numel) {
            fprintf(stderr, "golden: %s: truncated data of %s\n", path, t->name); fclose(f); return -1;
        }
    }
    fclose(f);
    return 0;
}

/* The tensor called name, or NULL (and a message) if absent. */
static inline golden_tensor *golden_get(golden_file *g, const char *name) {
    for (int i = 0; i < g->count; i++)
        if (!strcmp(g->t[i].name, name)) return &g->t[i];
    fprintf(stderr, "golden: no tensor named %s\n", name);
    return NULL;
}
static inline float *golden_f32(golden_file *g, const char *name) {
    golden_tensor *t = golden_get(g, name);
    return t && t->dtype == 0 ? (float *)t->data : NULL;
}
static inline int32_t *golden_i32(golden_file *g, const char *name) {
    golden_tensor *t = golden_get(g, name);
    return t && t->dtype == 1 ? (int32_t *)t->data : NULL;
}
static inline void golden_free(golden_file *g) {
    for (int i = 0; i < g->count; i++) free(g->t[i].data);
    free(g->t);
    memset(g, 0, sizeof *g);
}
#endif
