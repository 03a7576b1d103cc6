/* tests/test_biggan.c: genrep.h's [BIGGAN] (BigGAN-deep forward) against the
   PyTorch reference of weights/export_pytorch.py (the port's architecture,
   names and shapes). Fixtures from tests/ref/make_biggan_golden.py: random
   128 and 256 px models at reduced width, exported with export_biggan, and
   the images PyTorch rendered in float64; every ISA path must match them
   within 1e-4 relative plus 5e-5 absolute (5e-5 of the [-1, 1] range, for
   pixels near 0 where a relative bound means nothing): PyTorch's own
   float32 forward is 1.7e-5 from the float64 one on the 256 px case, and
   genrep's 2.1e-5 (make_biggan_golden.py prints the former). biggan_names.txt: the names and shapes
   of the full published 128/256 px models, which genrep's loader must
   expect exactly, in the same order. */
#include "../genrep.h"
#include "golden.h"
#include "testutil.h"
#include <string.h>
#include <unistd.h>

static void ref_path(char *buf, size_t n, const char *file) {
    const char *d = getenv("GENREP_REF_DIR");
    snprintf(buf, n, "%s/%s", d && *d ? d : "tests/ref", file);
}

static void golden_case(int R) {
    char st_path[256], bin_path[256], f[64];
    snprintf(f, sizeof f, "biggan%d.safetensors", R);
    ref_path(st_path, sizeof st_path, f);
    snprintf(f, sizeof f, "biggan%d_images.bin", R);
    ref_path(bin_path, sizeof bin_path, f);
    golden_file gf;
    ck_assert_int_eq(golden_load(&gf, bin_path), 0);
    golden_tensor *zt = golden_get(&gf, "z"), *yt = golden_get(&gf, "class_vec"), *it = golden_get(&gf, "images");
    const float *tr = golden_f32(&gf, "truncation");
    ck_assert(zt && yt && it && tr && it->ndim == 4 && it->dims[2] == R && it->dims[3] == R);
    const int B = (int)zt->dims[0];
    genrep_biggan g;
    /* max_batch 1: the 2-image case also goes through render's chunking */
    genrep_status s = genrep_biggan_load(&g, st_path, 1);
    ck_assert_msg(s == GENREP_OK, "genrep_biggan_load %s: %s", st_path, genrep_last_error());
    ck_assert_int_eq(g.cfg.output_dim, R);
    ck_assert_int_eq(g.cfg.z_dim, (int)zt->dims[1]);
    ck_assert_int_eq(g.cfg.num_classes, (int)yt->dims[1]);
    const size_t n = (size_t)B * 3 * R * R;
    const float *ref = (const float *)it->data;
    double s1 = 0, s2 = 0; /* the reference is not trivial */
    for (size_t i = 0; i < n; i++) { s1 += ref[i]; s2 += (double)ref[i] * ref[i]; }
    ck_assert(s2 / n - (s1 / n) * (s1 / n) > 0.05);
    float *out = malloc(n * sizeof(float));
    genrep_isa saved = genrep_get_isa();
    int ran = 0;
    for (int isa = GENREP_ISA_SCALAR; isa <= GENREP_ISA_AVX512; isa++) {
        if (genrep_set_isa((genrep_isa)isa) != GENREP_OK) continue;
        ran++;
        memset(out, 0, n * sizeof(float));
        s = genrep_biggan_render(&g, out, (const float *)zt->data, (const float *)yt->data, B, tr[0]);
        ck_assert_msg(s == GENREP_OK, "render: %s", genrep_last_error());
        char what[96];
        snprintf(what, sizeof what, "biggan%d images, isa %s", R, genrep_isa_name((genrep_isa)isa));
        double q = tu_close_ratio(out, ref, n, 5e-5, 1e-4, NULL);
        printf("%s: worst ratio %.3f\n", what, q);
        TU_ASSERT_CLOSE(out, ref, n, 5e-5, 1e-4, what);
    }
    ck_assert_int_eq(genrep_set_isa(saved), GENREP_OK);
    ck_assert_int_ge(ran, 1);
    /* the blended statistics matter: another truncation gives other images */
    ck_assert_int_eq(genrep_biggan_render(&g, out, (const float *)zt->data, (const float *)yt->data, B,
                                          tr[0] == 1.0f ? 0.5 : 1.0), GENREP_OK);
    ck_assert(tu_close_ratio(out, ref, n, 1e-3, 1e-2, NULL) > 1.0);
    free(out);
    genrep_biggan_free(&g);
    golden_free(&gf);
}

START_TEST(biggan128_matches_pytorch) { golden_case(128); }
END_TEST

START_TEST(biggan256_matches_pytorch) { golden_case(256); }
END_TEST

/* The loader expects exactly the full published models' tensors (names,
   shapes, order) as PyTorch's state_dict of the port's architecture lists
   them (make_biggan_golden.py also checks the port's published parameter
   counts, 50.4 M and 55.9 M). */
START_TEST(biggan_full_configs_have_the_ports_names) {
    char path[256];
    ref_path(path, sizeof path, "biggan_names.txt");
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    static genrep_param_info t[3 * GENREP_BIGGAN_MAX_TENSORS];
    int seen[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        const int R = k ? 256 : 128;
        genrep_biggan_config c;
        int n = 0;
        ck_assert_int_eq(genrep_biggan_config_default(&c, R), GENREP_OK);
        ck_assert_int_eq(genrep_biggan_file_table(t, 3 * GENREP_BIGGAN_MAX_TENSORS, &n, &c), GENREP_OK);
        char line[512];
        rewind(f);
        int i = 0;
        while (fgets(line, sizeof line, f)) {
            int r; char name[256]; int off = 0;
            ck_assert_int_eq(sscanf(line, "%d %255s %n", &r, name, &off), 2);
            if (r != R) continue;
            ck_assert_msg(i < n, "%d px: PyTorch has more tensors than genrep (%s)", R, name);
            ck_assert_msg(!strcmp(name, t[i].name), "%d px tensor %d: PyTorch %s, genrep %s", R, i, name, t[i].name);
            int64_t d[8]; int nd = 0, used;
            const char *p = line + off;
            while (nd < 8 && sscanf(p, "%lld%n", (long long *)&d[nd], &used) == 1) { p += used; nd++; }
            ck_assert_msg(nd == t[i].ndim, "%s: ndim %d vs %d", name, nd, t[i].ndim);
            for (int j = 0; j < nd; j++) ck_assert_msg(d[j] == t[i].shape[j], "%s: dim %d", name, j);
            i++;
        }
        ck_assert_int_eq(i, n);
        seen[k] = i;
    }
    fclose(f);
    ck_assert_int_eq(seen[0], 506);
    ck_assert_int_eq(seen[1], 602);
    /* the attention sits before GenBlock 8 at 64x64: 256 channels at 128 px, 512 at 256 px */
    genrep_biggan_config c;
    ck_assert_int_eq(genrep_biggan_config_default(&c, 256), GENREP_OK);
    ck_assert_int_eq(c.channel_width * c.in_mult[c.attention_layer_position], 512);
}
END_TEST

/* Bad files and arguments are refused by name. */
START_TEST(biggan_refusals) {
    genrep_biggan g;
    ck_assert_int_eq(genrep_biggan_load(&g, "weights/fmnist_dcgan.safetensors", 1), GENREP_ERR_FORMAT);
    ck_assert(strstr(genrep_last_error(), "genrep.model") != NULL);
    /* a file missing one tensor */
    char src[256], tmp[64];
    ref_path(src, sizeof src, "biggan128.safetensors");
    snprintf(tmp, sizeof tmp, "/tmp/genrep_test_biggan_%d.safetensors", (int)getpid());
    genrep_st *st;
    ck_assert_int_eq(genrep_st_open(&st, src, 0), GENREP_OK);
    const int n = genrep_st_count(st);
    genrep_st_entry *e = calloc((size_t)n, sizeof *e);
    const char *kv[16];
    int nm = genrep_st_meta_count(st), k = 0;
    ck_assert_int_le(nm, 8);
    for (int i = 0; i < nm; i++) genrep_st_meta_get(st, i, &kv[2 * i], &kv[2 * i + 1]);
    for (int i = 0; i < n; i++) {
        const genrep_st_tensor *x = genrep_st_get(st, i);
        if (!strcmp(x->name, "generator.layers.3.conv_2.weight_v")) continue;
        e[k].name = x->name; e[k].ndim = x->ndim; e[k].data = x->data;
        memcpy(e[k].shape, x->shape, sizeof x->shape);
        k++;
    }
    ck_assert_int_eq(k, n - 1);
    ck_assert_int_eq(genrep_st_write(tmp, e, k, kv, nm), GENREP_OK);
    ck_assert_int_eq(genrep_biggan_load(&g, tmp, 1), GENREP_ERR_FORMAT);
    ck_assert_msg(strstr(genrep_last_error(), "generator.layers.3.conv_2.weight_v") != NULL, "%s", genrep_last_error());
    /* a zero u: sigma 0 is refused naming the module */
    static float zero[4096];
    for (int i = 0; i < n; i++) {
        const genrep_st_tensor *x = genrep_st_get(st, i);
        e[i].name = x->name; e[i].ndim = x->ndim; e[i].data = x->data;
        memcpy(e[i].shape, x->shape, sizeof x->shape);
        if (!strcmp(x->name, "generator.gen_z.weight_u")) { ck_assert_int_le(x->numel, 4096); e[i].data = zero; }
    }
    ck_assert_int_eq(genrep_st_write(tmp, e, n, kv, nm), GENREP_OK);
    ck_assert_int_eq(genrep_biggan_load(&g, tmp, 1), GENREP_ERR_FORMAT);
    ck_assert_msg(strstr(genrep_last_error(), "generator.gen_z") != NULL, "%s", genrep_last_error());
    unlink(tmp);
    free(e);
    genrep_st_close(st);
    /* truncation outside (0, 1], B <= 0 */
    ck_assert_int_eq(genrep_biggan_load(&g, src, 1), GENREP_OK);
    float z[8] = {0}, y[5] = {1, 0, 0, 0, 0}, *out = malloc(3 * 128 * 128 * sizeof(float));
    ck_assert_int_eq(genrep_biggan_render(&g, out, z, y, 1, 0.0), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "truncation") != NULL);
    ck_assert_int_eq(genrep_biggan_render(&g, out, z, y, 1, 1.5), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_biggan_render(&g, out, z, y, 0, 0.5), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_biggan_render(&g, out, z, y, 1, 0.5), GENREP_OK);
    free(out);
    genrep_biggan_free(&g);
    genrep_biggan_config c;
    ck_assert_int_eq(genrep_biggan_config_default(&c, 100), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_biggan_config_default(&c, 128), GENREP_OK);
    c.output_dim = 256; /* the 128 px layers do not reach 256 */
    ck_assert_int_eq(genrep_biggan_create(&g, &c, 1, 1), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "output_dim") != NULL);
}
END_TEST

/* Random models (benches) are deterministic and finite; MACs add up. */
START_TEST(biggan_create_random) {
    genrep_biggan_config c;
    ck_assert_int_eq(genrep_biggan_config_default(&c, 128), GENREP_OK);
    c.channel_width = 4; c.z_dim = 8; c.num_classes = 3; c.n_stats = 3;
    genrep_biggan a, b;
    ck_assert_int_eq(genrep_biggan_create(&a, &c, 2, 7), GENREP_OK);
    ck_assert_int_eq(genrep_biggan_create(&b, &c, 2, 7), GENREP_OK);
    ck_assert_int_eq(a.n_params, b.n_params);
    ck_assert(!memcmp(a.params, b.params, a.n_params * sizeof(float)));
    ck_assert(genrep_biggan_param(&a, "generator.gen_z.weight") != NULL);
    ck_assert(genrep_biggan_param(&a, "generator.layers.8.gamma") != NULL);
    float z[16], y[6] = {1, 0, 0, 0, 0, 1}, *out = malloc(2 * 3 * 128 * 128 * sizeof(float));
    tu_fill(z, 16, 3, -1.0f, 1.0f);
    ck_assert_int_eq(genrep_biggan_render(&a, out, z, y, 2, 0.5), GENREP_OK);
    for (int i = 0; i < 2 * 3 * 128 * 128; i++) ck_assert(out[i] >= -1.0f && out[i] <= 1.0f);
    /* the manual's determinism promise: the same bits on 1 and on 2 threads */
    float *out1 = malloc(2 * 3 * 128 * 128 * sizeof(float));
    const int nt = genrep_num_threads();
    genrep_set_num_threads(1);
    ck_assert_int_eq(genrep_biggan_render(&b, out1, z, y, 2, 0.5), GENREP_OK);
    genrep_set_num_threads(nt > 1 ? nt : 2);
    ck_assert_int_eq(genrep_biggan_render(&a, out, z, y, 2, 0.5), GENREP_OK);
    genrep_set_num_threads(nt);
    ck_assert(!memcmp(out, out1, 2 * 3 * 128 * 128 * sizeof(float)));
    free(out1);
    free(out);
    genrep_biggan_free(&a);
    genrep_biggan_free(&b);
    /* the published 128 px model: per image about 7.5 G multiply-adds in the
       convs alone; a hand count of conv_1 + conv_2 of the last block: 64x64x9x2 per pixel of 128x128 */
    ck_assert_int_eq(genrep_biggan_config_default(&c, 128), GENREP_OK);
    const double macs = genrep_biggan_macs(&c), last = 2.0 * 64 * 64 * 9 * 128 * 128;
    ck_assert(macs > 4 * last && macs < 1e11);
}
END_TEST

int main(void) {
    Suite *s = suite_create("biggan");
    TCase *tc = tcase_create("biggan");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, biggan128_matches_pytorch);
    tcase_add_test(tc, biggan256_matches_pytorch);
    tcase_add_test(tc, biggan_full_configs_have_the_ports_names);
    tcase_add_test(tc, biggan_refusals);
    tcase_add_test(tc, biggan_create_random);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
