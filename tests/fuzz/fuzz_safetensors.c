/* libFuzzer target for the safetensors loader: any bytes either load into a
   handle that keeps its promises or fail with a status, a message and no
   handle. Sanitizers (address, undefined) catch the rest. */
#define _GNU_SOURCE /* memfd_create in fuzz_util.h */
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include <string.h>

#include "tests/fuzz/fuzz_util.h"

/* Everything a loaded handle promises: names findable, shapes consistent
   with numel, data readable and finite, tensors in data order, metadata
   sorted and findable, the file passes its own expectation check. */
static void check_handle(const genrep_st *st, int flags) {
    int n = genrep_st_count(st);
    genrep_st_spec *specs = (genrep_st_spec *)malloc(((size_t)n + 1) * sizeof *specs);
    FUZZ_REQUIRE(specs);
    for (int i = 0; i < n; i++) {
        const genrep_st_tensor *t = genrep_st_get(st, i);
        FUZZ_REQUIRE(t && t->name && t->dtype);
        FUZZ_REQUIRE(genrep_st_find(st, t->name) == t);
        FUZZ_REQUIRE(t->ndim >= 0 && t->ndim <= GENREP_ST_MAX_RANK);
        int64_t numel = 1;
        for (int k = 0; k < t->ndim; k++) numel *= t->shape[k];
        FUZZ_REQUIRE(numel == t->numel);
        FUZZ_REQUIRE(((uintptr_t)t->data & 63) == 0);
        volatile float acc = 0;
        for (int64_t k = 0; k < t->numel; k++) {
            FUZZ_REQUIRE((flags & GENREP_ST_ALLOW_NONFINITE) || isfinite(t->data[k]));
            acc += t->data[k];
        }
        (void)acc;
        specs[i].name = t->name;
        specs[i].ndim = t->ndim;
        memcpy(specs[i].shape, t->shape, sizeof specs[i].shape);
    }
    FUZZ_REQUIRE(genrep_st_expect(st, specs, n) == GENREP_OK);
    if (n > 0) FUZZ_REQUIRE(genrep_st_expect(st, specs, n - 1) == GENREP_ERR_FORMAT);
    free(specs);
    int m = genrep_st_meta_count(st);
    const char *prev = NULL;
    for (int i = 0; i < m; i++) {
        const char *k, *v;
        genrep_st_meta_get(st, i, &k, &v);
        FUZZ_REQUIRE(k && v && genrep_st_meta(st, k) == v);
        FUZZ_REQUIRE(!prev || strcmp(prev, k) < 0);
        prev = k;
    }
    /* the writer's layout of what was read reads back identically */
    if (flags & GENREP_ST_ALLOW_NONFINITE) return;
    genrep_st_entry *e = (genrep_st_entry *)calloc((size_t)n + 1, sizeof *e);
    const char **kv = (const char **)calloc(2 * (size_t)m + 1, sizeof *kv);
    FUZZ_REQUIRE(e && kv);
    for (int i = 0; i < n; i++) {
        const genrep_st_tensor *t = genrep_st_get(st, i);
        e[i].name = t->name; e[i].ndim = t->ndim; e[i].data = t->data;
        memcpy(e[i].shape, t->shape, sizeof e[i].shape);
    }
    for (int i = 0; i < m; i++) genrep_st_meta_get(st, i, &kv[2 * i], &kv[2 * i + 1]);
    unsigned char *buf; size_t len;
    FUZZ_REQUIRE(genrep__st_serialize("fuzz-out", e, n, kv, m, &buf, &len) == GENREP_OK);
    uint64_t hl = 0;
    for (int k = 0; k < 8; k++) hl |= (uint64_t)buf[k] << (8 * k);
    FUZZ_REQUIRE(hl % 8 == 0);
    genrep_st *back = NULL;
    FUZZ_REQUIRE(genrep_st_open_memory(&back, buf, len, 0, "fuzz-back") == GENREP_OK);
    FUZZ_REQUIRE(genrep_st_count(back) == n && genrep_st_meta_count(back) == m);
    for (int i = 0; i < n; i++) {
        const genrep_st_tensor *a = genrep_st_get(st, i), *b = genrep_st_find(back, a->name);
        FUZZ_REQUIRE(b && b->ndim == a->ndim && b->numel == a->numel && !strcmp(b->dtype, "F32"));
        FUZZ_REQUIRE(!memcmp(b->shape, a->shape, sizeof a->shape));
        FUZZ_REQUIRE(!a->numel || !memcmp(b->data, a->data, (size_t)a->numel * sizeof(float)));
    }
    for (int i = 0; i < m; i++) FUZZ_REQUIRE(!strcmp(genrep_st_meta(back, kv[2 * i]), kv[2 * i + 1]));
    genrep_st_close(back);
    genrep_free(buf);
    free(e); free((void *)kv);
}

static void parse_one(const uint8_t *data, size_t size) {
    genrep_st *st = (genrep_st *)(uintptr_t)1;
    genrep_status s = genrep_st_open_memory(&st, data, size, 0, "fuzz");
    if (s == GENREP_ERR_NONFINITE) {
        FUZZ_REQUIRE(st == NULL);
        s = genrep_st_open_memory(&st, data, size, GENREP_ST_ALLOW_NONFINITE, "fuzz");
        FUZZ_REQUIRE(s == GENREP_OK);
        check_handle(st, GENREP_ST_ALLOW_NONFINITE);
    } else if (s == GENREP_OK) {
        check_handle(st, 0);
    } else {
        FUZZ_REQUIRE(st == NULL);
        FUZZ_REQUIRE(s == GENREP_ERR_FORMAT || s == GENREP_ERR_UNSUPPORTED || s == GENREP_ERR_NOMEM);
        FUZZ_REQUIRE(strncmp(genrep_last_error(), "safetensors 'fuzz': ", 20) == 0);
    }
    genrep_st_close(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* 1. the bytes as they are */
    parse_one(data, size);
    /* 2. the same bytes with the header length rewritten to end at the last
       '}', so mutations of the JSON text do not all die at the length check */
    if (size < 8) return 0;
    size_t end = size;
    while (end > 8 && data[end - 1] != '}') end--;
    if (end == 8) return 0;
    uint8_t *b = (uint8_t *)malloc(size);
    FUZZ_REQUIRE(b);
    memcpy(b, data, size);
    uint64_t h = end - 8;
    for (int k = 0; k < 8; k++) b[k] = (uint8_t)(h >> (8 * k));
    parse_one(b, size);
    free(b);
    return 0;
}
