/* tests/test_export.c: a PyTorch generator exported by weights/export_pytorch.py
   (fixtures from tests/ref/make_export_golden.py) loads into genrep's
   generator and renders the images PyTorch rendered, on every ISA path. */
#define GENREP_IMPLEMENTATION
#include "../genrep.h"
#include "golden.h"
#include "testutil.h"
#include <string.h>

/* Fixtures are looked up in $GENREP_REF_DIR, default tests/ref (run from the repo root). */
static void ref_path(char *buf, size_t n, const char *file) {
    const char *d = getenv("GENREP_REF_DIR");
    snprintf(buf, n, "%s/%s", d && *d ? d : "tests/ref", file);
}

static int meta_int(const genrep_st *st, const char *key) {
    const char *v = genrep_st_meta(st, key);
    ck_assert_msg(v != NULL, "metadata %s missing", key);
    char *end;
    long x = strtol(v, &end, 10);
    ck_assert_msg(end != v && !*end && x > 0, "metadata %s = '%s' is not a positive integer", key, v);
    return (int)x;
}

/* What the trainer's gen_load does (trainer/common.c): config from the
   metadata, genrep_st_expect against the model's table (exactly its
   tensors, same shapes), then copy by name. */
static void load_generator(genrep_gen *g, const char *path, int max_batch) {
    genrep_st *st;
    genrep_status s = genrep_st_open(&st, path, 0);
    ck_assert_msg(s == GENREP_OK, "open %s: %s", path, genrep_last_error());
    const char *m = genrep_st_meta(st, "genrep.model");
    ck_assert_msg(m && (!strcmp(m, "dcgan") || !strcmp(m, "cgan")), "genrep.model");
    genrep_gan_config c;
    genrep_gan_config_default(&c, !strcmp(m, "cgan") ? GENREP_GAN_CGAN : GENREP_GAN_DCGAN);
    c.zdim = meta_int(st, "genrep.zdim");
    c.width = meta_int(st, "genrep.width");
    c.dwidth = meta_int(st, "genrep.dwidth");
    c.n_classes = meta_int(st, "genrep.n_classes");
    c.embed_dim = meta_int(st, "genrep.embed_dim");
    ck_assert_int_eq(genrep_gen_create(g, &c, max_batch, 0), GENREP_OK);
    genrep_st_spec spec[GENREP_GAN_MAX_TENSORS];
    memset(spec, 0, sizeof spec);
    for (int i = 0; i < g->n_tensors; i++) {
        spec[i].name = g->table[i].name;
        spec[i].ndim = g->table[i].ndim;
        for (int d = 0; d < g->table[i].ndim; d++) spec[i].shape[d] = g->table[i].shape[d];
    }
    s = genrep_st_expect(st, spec, g->n_tensors);
    ck_assert_msg(s == GENREP_OK, "expect: %s", genrep_last_error());
    for (int i = 0; i < g->n_tensors; i++) {
        const genrep_st_tensor *t = genrep_st_find(st, g->table[i].name);
        ck_assert(t && (size_t)t->numel == g->table[i].numel);
        memcpy(g->params + g->table[i].offset, t->data, g->table[i].numel * sizeof(float));
    }
    genrep_st_close(st);
}

static void check_case(const char *name, int cond, int zdim, int width) {
    char st_path[256], bin_path[256];
    char f[96];
    snprintf(f, sizeof f, "export_%s.safetensors", name);
    ref_path(st_path, sizeof st_path, f);
    snprintf(f, sizeof f, "export_%s_images.bin", name);
    ref_path(bin_path, sizeof bin_path, f);
    golden_file gf;
    ck_assert_int_eq(golden_load(&gf, bin_path), 0);
    golden_tensor *zt = golden_get(&gf, "z"), *it = golden_get(&gf, "images");
    ck_assert(zt && it && zt->ndim == 2 && it->ndim == 4);
    int B = (int)zt->dims[0];
    ck_assert_int_eq(zt->dims[1], zdim);
    const int32_t *y = cond ? golden_i32(&gf, "y") : NULL;
    ck_assert(!cond || y);
    genrep_gen g;
    /* max_batch 4 < B: render's chunking is covered too */
    load_generator(&g, st_path, 4);
    ck_assert_int_eq(g.cfg.kind, cond ? GENREP_GAN_CGAN : GENREP_GAN_DCGAN);
    ck_assert_int_eq(g.cfg.width, width);
    float *out = malloc(sizeof(float) * (size_t)B * 784);
    const float *ref = (const float *)it->data;
    /* the references are not trivial: spread and few saturated pixels */
    double s1 = 0, s2 = 0;
    for (int i = 0; i < B * 784; i++) { s1 += ref[i]; s2 += (double)ref[i] * ref[i]; }
    ck_assert(s2 / (B * 784) - (s1 / (B * 784)) * (s1 / (B * 784)) > 0.05);
    genrep_isa saved = genrep_get_isa();
    int ran = 0;
    for (int isa = GENREP_ISA_SCALAR; isa <= GENREP_ISA_AVX512; isa++) {
        if (genrep_set_isa((genrep_isa)isa) != GENREP_OK) continue;
        ran++;
        memset(out, 0, sizeof(float) * (size_t)B * 784);
        ck_assert_int_eq(genrep_gen_render(&g, out, (const float *)zt->data, y, B), GENREP_OK);
        char what[96];
        snprintf(what, sizeof what, "%s images, isa %s", name, genrep_isa_name((genrep_isa)isa));
        TU_ASSERT_CLOSE(out, ref, (size_t)B * 784, 2e-5, 1e-4, what);
    }
    genrep_set_isa(saved);
    ck_assert_int_ge(ran, 1);
    free(out);
    genrep_gen_free(&g);
    golden_free(&gf);
}

START_TEST(export_dcgan_matches_pytorch) { check_case("dcgan", 0, 16, 8); }
END_TEST

START_TEST(export_cgan_matches_pytorch) { check_case("cgan", 1, 12, 4); }
END_TEST

/* The exporter's profile survives genrep's strict loader and a genrep
   rewrite: saving the loaded model with genrep_st_write and reading both
   back gives identical tensors. */
START_TEST(export_roundtrip_through_genrep_writer) {
    genrep_gen g;
    char src[256];
    ref_path(src, sizeof src, "export_dcgan.safetensors");
    load_generator(&g, src, 2);
    genrep_st_entry e[GENREP_GAN_MAX_TENSORS];
    memset(e, 0, sizeof e);
    for (int i = 0; i < g.n_tensors; i++) {
        e[i].name = g.table[i].name; e[i].ndim = g.table[i].ndim;
        for (int d = 0; d < g.table[i].ndim; d++) e[i].shape[d] = g.table[i].shape[d];
        e[i].data = g.params + g.table[i].offset;
    }
    const char *kv[2] = {"genrep.model", "dcgan"};
    char path[64];
    snprintf(path, sizeof path, "/tmp/genrep_test_export_%d.safetensors", (int)getpid());
    ck_assert_int_eq(genrep_st_write(path, e, g.n_tensors, kv, 1), GENREP_OK);
    genrep_st *a, *b;
    ck_assert_int_eq(genrep_st_open(&a, src, 0), GENREP_OK);
    ck_assert_int_eq(genrep_st_open(&b, path, 0), GENREP_OK);
    ck_assert_int_eq(genrep_st_count(a), genrep_st_count(b));
    ck_assert_int_eq(genrep_st_count(a), g.n_tensors);
    for (int i = 0; i < genrep_st_count(a); i++) {
        const genrep_st_tensor *ta = genrep_st_get(a, i), *tb = genrep_st_find(b, ta->name);
        ck_assert(tb && ta->numel == tb->numel && !strcmp(ta->dtype, "F32"));
        ck_assert(!memcmp(ta->data, tb->data, (size_t)ta->numel * sizeof(float)));
    }
    ck_assert(genrep_st_find(a, "bn0.num_batches_tracked") == NULL);
    genrep_st_close(a);
    genrep_st_close(b);
    unlink(path);
    genrep_gen_free(&g);
}
END_TEST

int main(void) {
    Suite *s = suite_create("export");
    TCase *tc = tcase_create("export");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, export_dcgan_matches_pytorch);
    tcase_add_test(tc, export_cgan_matches_pytorch);
    tcase_add_test(tc, export_roundtrip_through_genrep_writer);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
