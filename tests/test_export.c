/* tests/test_export.c: a PyTorch generator exported by weights/export_pytorch.py
   (fixtures from tests/ref/make_export_golden.py) loads into genrep's
   generator and renders the images PyTorch rendered, on every ISA path. */
#define _POSIX_C_SOURCE 200809L /* getpid, unlink */
#include "../genrep.h"
#include "golden.h"
#include "testutil.h"
#include <string.h>
#include <unistd.h>

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

static void check_case(const char *name, int cond, int zdim, int width, int C, int S) {
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
    /* the shape comes from the file's metadata and matches PyTorch's output */
    int gc, gh, gw;
    genrep_gen_shape(&g, &gc, &gh, &gw);
    ck_assert(gc == C && gh == S && gw == S);
    ck_assert(it->dims[0] == B && it->dims[1] == C && it->dims[2] == S && it->dims[3] == S);
    const size_t pix = (size_t)C * S * S;
    float *out = malloc(sizeof(float) * (size_t)B * pix);
    const float *ref = (const float *)it->data;
    /* the references are not trivial: spread and few saturated pixels */
    double s1 = 0, s2 = 0, n = (double)B * pix;
    for (size_t i = 0; i < B * pix; i++) { s1 += ref[i]; s2 += (double)ref[i] * ref[i]; }
    ck_assert(s2 / n - (s1 / n) * (s1 / n) > 0.05);
    genrep_isa saved = genrep_get_isa();
    int ran = 0;
    for (int isa = GENREP_ISA_SCALAR; isa <= GENREP_ISA_AVX512; isa++) {
        if (genrep_set_isa((genrep_isa)isa) != GENREP_OK) continue;
        ran++;
        memset(out, 0, sizeof(float) * (size_t)B * pix);
        ck_assert_int_eq(genrep_gen_render(&g, out, (const float *)zt->data, y, B), GENREP_OK);
        char what[96];
        snprintf(what, sizeof what, "%s images, isa %s", name, genrep_isa_name((genrep_isa)isa));
        TU_ASSERT_CLOSE(out, ref, (size_t)B * pix, 2e-5, 1e-4, what);
    }
    ck_assert_int_eq(genrep_set_isa(saved), GENREP_OK);
    ck_assert_int_ge(ran, 1);
    free(out);
    genrep_gen_free(&g);
    golden_free(&gf);
}

START_TEST(export_dcgan_matches_pytorch) { check_case("dcgan", 0, 16, 8, 1, 28); }
END_TEST

START_TEST(export_cgan_matches_pytorch) { check_case("cgan", 1, 12, 4, 1, 28); }
END_TEST

/* Two other members of the family: the PyTorch DCGAN tutorial's 64x64 RGB
   nn.Sequential (convT first and output layers, no output bias), and a
   class-conditional 32x32x3 one with a sigmoid. */
START_TEST(export_tutorial_matches_pytorch) { check_case("tutorial", 0, 10, 2, 3, 64); }
END_TEST

START_TEST(export_cbn32_matches_pytorch) { check_case("cbn32", 1, 12, 3, 3, 32); }
END_TEST

/* A plain PyTorch state_dict saved as safetensors keeps batchnorm's int64
   num_batches_tracked: the loader names the tensor and says how to convert. */
START_TEST(export_plain_state_dict_hint) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/genrep_test_i64_%d.safetensors", (int)getpid());
    const char hdr[] = "{\"main.1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}";
    size_t hl = sizeof hdr - 1, padded = (hl + 7) & ~(size_t)7;
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t n = padded, v = 1234;
    fwrite(&n, 8, 1, f);
    fwrite(hdr, 1, hl, f);
    for (size_t i = hl; i < padded; i++) fputc(' ', f);
    fwrite(&v, 8, 1, f);
    fclose(f);
    genrep_gen g;
    ck_assert_int_eq(genrep_gen_load(&g, path, 2), GENREP_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(genrep_last_error(), "num_batches_tracked") && strstr(genrep_last_error(), "export_pytorch.py"),
                  "%s", genrep_last_error());
    unlink(path);
}
END_TEST

/* Architecture metadata: a file with some but not all of the keys, or a
   bad value, is refused naming the key; a family generator round-trips
   its metadata through genrep_gen_save. */
START_TEST(export_arch_metadata) {
    char src[256], path[64];
    ref_path(src, sizeof src, "export_tutorial.safetensors");
    genrep_gen g, g2;
    load_generator(&g, src, 2);
    ck_assert(g.cfg.first == GENREP_GEN_FIRST_CONVT && g.cfg.n_up == 3 && g.cfg.out_layer == GENREP_GEN_OUT_CONVT
              && g.cfg.out_bias == 0 && g.cfg.out_act == GENREP_GEN_ACT_TANH && g.cfg.out_channels == 3);
    snprintf(path, sizeof path, "/tmp/genrep_test_arch_%d.safetensors", (int)getpid());
    ck_assert_int_eq(genrep_gen_save(&g, path, NULL, 0), GENREP_OK);
    load_generator(&g2, path, 2);
    ck_assert(!memcmp(&g2.cfg, &g.cfg, sizeof g.cfg));
    genrep_gen_free(&g2);
    /* rewrite with one key dropped, then with a bad value */
    genrep_st_entry e[GENREP_GAN_MAX_TENSORS];
    memset(e, 0, sizeof e);
    for (int i = 0; i < g.n_tensors; i++) {
        e[i].name = g.table[i].name;
        e[i].ndim = g.table[i].ndim;
        for (int d = 0; d < g.table[i].ndim; d++) e[i].shape[d] = g.table[i].shape[d];
        e[i].data = g.params + g.table[i].offset;
    }
    const char *kv[] = {"genrep.model", "dcgan", "genrep.zdim", "10", "genrep.width", "2", "genrep.dwidth", "8",
                        "genrep.n_classes", "10", "genrep.embed_dim", "32", "genrep.first", "convt", "genrep.n_up", "3",
                        "genrep.out_size", "64", "genrep.out_channels", "3", "genrep.out_layer", "convt",
                        "genrep.out_bias", "0", "genrep.out_act", "tanh"};
    ck_assert_int_eq(genrep_st_write(path, e, g.n_tensors, kv, 12), GENREP_OK); /* no out_act */
    ck_assert_int_eq(genrep_gen_load(&g2, path, 2), GENREP_ERR_FORMAT);
    ck_assert_msg(strstr(genrep_last_error(), "genrep.out_act is missing"), "%s", genrep_last_error());
    kv[25] = "relu";
    ck_assert_int_eq(genrep_st_write(path, e, g.n_tensors, kv, 13), GENREP_OK);
    ck_assert_int_eq(genrep_gen_load(&g2, path, 2), GENREP_ERR_FORMAT);
    ck_assert_msg(strstr(genrep_last_error(), "genrep.out_act is 'relu'"), "%s", genrep_last_error());
    kv[25] = "tanh"; kv[17] = "48"; /* out_size that disagrees with the tensors */
    ck_assert_int_eq(genrep_st_write(path, e, g.n_tensors, kv, 13), GENREP_OK);
    ck_assert_int_ne(genrep_gen_load(&g2, path, 2), GENREP_OK);
    unlink(path);
    genrep_gen_free(&g);
}
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
    tcase_add_test(tc, export_tutorial_matches_pytorch);
    tcase_add_test(tc, export_cbn32_matches_pytorch);
    tcase_add_test(tc, export_plain_state_dict_hint);
    tcase_add_test(tc, export_arch_metadata);
    tcase_add_test(tc, export_roundtrip_through_genrep_writer);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
