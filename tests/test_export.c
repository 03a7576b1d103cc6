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

/* The library's loader: config from the metadata, exactly the model's
   tensors with the same shapes, copied by name. */
static void load_generator(genrep_gen *g, const char *path, int max_batch) {
    genrep_status s = genrep_gen_load(g, path, max_batch);
    ck_assert_msg(s == GENREP_OK, "genrep_gen_load %s: %s", path, genrep_last_error());
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
    ck_assert_int_eq(genrep_set_isa(saved), GENREP_OK);
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
    /* a file of another kind is refused by name */
    genrep_gen bad;
    char clf[256];
    snprintf(clf, sizeof clf, "weights/fmnist_classifier.safetensors");
    ck_assert_int_eq(genrep_gen_load(&bad, clf, 2), GENREP_ERR_FORMAT);
    ck_assert(strstr(genrep_last_error(), "genrep.model") != NULL);
    genrep_gen g;
    char src[256];
    ref_path(src, sizeof src, "export_dcgan.safetensors");
    load_generator(&g, src, 2);
    char path[64];
    snprintf(path, sizeof path, "/tmp/genrep_test_export_%d.safetensors", (int)getpid());
    ck_assert_int_eq(genrep_gen_save(&g, path, NULL, 0), GENREP_OK);
    genrep_gen g2; /* and back through the library loader */
    load_generator(&g2, path, 2);
    ck_assert_int_eq(g2.n_params, g.n_params);
    ck_assert(!memcmp(g2.params, g.params, g.n_params * sizeof(float)));
    genrep_gen_free(&g2);
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
