/* [MODELIO]: encoder and discriminator files round-trip every value and the
   whole config; loading is strict (missing, reshaped and unexpected tensors
   are refused by name; optimiser state may stay unread); older encoder files
   (one width, one depth) still load; bad metadata is refused by key. */
#include "genrep.h"
#include "tests/testutil.h"
#include <string.h>
#include <unistd.h>

static char dir[64];
static const char *tmp_path(const char *name) {
    static char p[160];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* A small encoder with non-trivial values in every slot (buffers included). */
static void make_encoder(genrep_encoder *e, int width, int blocks, int head_out) {
    genrep_encoder_config c;
    ck_assert_int_eq(genrep_encoder_config_named(&c, "small", width, blocks, 1, 28, 28), GENREP_OK);
    c.head_out = head_out;
    if (!head_out) c.head_hidden = 0;
    ck_assert_int_eq(genrep_encoder_create(e, &c, 2, 7), GENREP_OK);
    tu_fill(e->params, e->num_params + e->num_buffers, 3, -1, 1);
}

START_TEST(encoder_round_trip) {
    genrep_encoder a, b;
    make_encoder(&a, 4, 1, 16);
    a.cfg.strides[2] = 2; /* as made */
    float mom[8] = {1, 2, 3, 4, 5, 6, 7, 8}, back[8] = {0};
    genrep_extra_tensor ex = {"optim.momentum", mom, 8};
    const char *kv[2] = {"train.sigma", "0.4"};
    ck_assert_int_eq(genrep_encoder_save(&a, tmp_path("e.safetensors"), "small", &ex, 1, kv, 1), GENREP_OK);
    genrep_extra_tensor in = {"optim.momentum", back, 8};
    genrep_st *st = NULL;
    ck_assert_int_eq(genrep_encoder_load(&b, tmp_path("e.safetensors"), 3, &in, 1, &st), GENREP_OK);
    ck_assert_ptr_nonnull(st);
    ck_assert_str_eq(genrep_st_meta(st, "train.sigma"), "0.4");
    ck_assert_str_eq(genrep_st_meta(st, "genrep.widths"), "4,8,16");
    ck_assert_str_eq(genrep_st_meta(st, "genrep.blocks"), "1,1,1");
    ck_assert_int_eq(b.max_batch, 3);
    ck_assert_int_eq(b.cfg.stem_width, 4);
    ck_assert_int_eq(b.cfg.num_stages, 3);
    ck_assert_int_eq(b.cfg.head_out, 16);
    ck_assert_int_eq(b.num_params, a.num_params);
    ck_assert_int_eq(b.num_buffers, a.num_buffers);
    ck_assert(!memcmp(a.params, b.params, (a.num_params + a.num_buffers) * sizeof(float)));
    ck_assert(!memcmp(mom, back, sizeof mom));
    genrep_st_close(st);
    genrep_encoder_free(&b);
    /* without asking for the optimiser state: still loads (optim.* may stay unread) */
    ck_assert_int_eq(genrep_encoder_load(&b, tmp_path("e.safetensors"), 1, NULL, 0, NULL), GENREP_OK);
    ck_assert(!memcmp(a.params, b.params, a.num_params * sizeof(float)));
    genrep_encoder_free(&b);
    genrep_encoder_free(&a);
}
END_TEST

START_TEST(encoder_strict) {
    genrep_encoder a, b;
    make_encoder(&a, 4, 2, 8);
    float extra[3] = {1, 2, 3};
    /* an unexpected tensor is named and refused */
    genrep_extra_tensor foo = {"head.linear", extra, 3};
    ck_assert_int_eq(genrep_encoder_save(&a, tmp_path("x.safetensors"), "small", &foo, 1, NULL, 0), GENREP_OK);
    memset(&b, 0, sizeof b);
    ck_assert_int_eq(genrep_encoder_load(&b, tmp_path("x.safetensors"), 1, NULL, 0, NULL), GENREP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), "head.linear"));
    ck_assert_ptr_null(b.params);
    /* ... unless the caller allows it (data NULL: allowed, not read) */
    genrep_extra_tensor allow = {"head.linear", NULL, 0};
    ck_assert_int_eq(genrep_encoder_load(&b, tmp_path("x.safetensors"), 1, &allow, 1, NULL), GENREP_OK);
    genrep_encoder_free(&b);
    /* a required extra tensor of the wrong size is named */
    float want[4];
    genrep_extra_tensor w4 = {"head.linear", want, 4};
    ck_assert_int_eq(genrep_encoder_load(&b, tmp_path("x.safetensors"), 1, &w4, 1, NULL), GENREP_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), "head.linear"));
    /* metadata that describes a shallower net than the tensors: the second block is named */
    genrep_encoder one;
    make_encoder(&one, 4, 1, 8);
    genrep_table_ref t = {"", a.tensors, a.num_tensors, a.params};
    char head[32];
    snprintf(head, sizeof head, "%d,%d", a.cfg.head_hidden, a.cfg.head_out);
    const char *kv[14] = {"genrep.encoder", "small", "genrep.in", "1,28,28", "genrep.stem", "4", "genrep.widths", "4,8,16",
                          "genrep.blocks", "1,1,1", "genrep.strides", "1,2,2", "genrep.head", head};
    ck_assert_int_eq(genrep_tables_save(tmp_path("lie.safetensors"), &t, 1, NULL, 0, kv, 7), GENREP_OK);
    ck_assert_int_eq(genrep_encoder_load(&b, tmp_path("lie.safetensors"), 1, NULL, 0, NULL), GENREP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), ".1."));
    /* a wider stage than the tensors: the tensor and both shapes are named */
    kv[7] = "4,7,16"; kv[9] = "2,2,2";
    ck_assert_int_eq(genrep_tables_save(tmp_path("wide.safetensors"), &t, 1, NULL, 0, kv, 7), GENREP_OK);
    ck_assert_int_eq(genrep_encoder_load(&b, tmp_path("wide.safetensors"), 1, NULL, 0, NULL), GENREP_ERR_SHAPE);
    ck_assert_msg(strstr(genrep_last_error(), "(8,") && strstr(genrep_last_error(), "(7,"), "%s", genrep_last_error());
    genrep_encoder_free(&one);
    /* a huge extra tensor (even under the optim. prefix a caller may leave unread) is refused
       from the header, before its data is read */
    size_t nbig = 4 * (a.num_params + a.num_buffers) + ((size_t)1 << 20) + 1;
    float *big = (float *)calloc(nbig, sizeof(float));
    ck_assert_ptr_nonnull(big);
    genrep_extra_tensor bt = {"optim.big", big, nbig};
    ck_assert_int_eq(genrep_encoder_save(&a, tmp_path("big.safetensors"), "small", &bt, 1, NULL, 0), GENREP_OK);
    free(big);
    ck_assert_int_eq(genrep_encoder_load(&b, tmp_path("big.safetensors"), 1, NULL, 0, NULL), GENREP_ERR_FORMAT);
    ck_assert_msg(strstr(genrep_last_error(), "refused unread") != NULL, "%s", genrep_last_error());
    genrep_encoder_free(&a);
}
END_TEST

START_TEST(encoder_legacy_and_bad_metadata) {
    genrep_encoder a, b;
    make_encoder(&a, 8, 1, 128);
    genrep_table_ref t = {"", a.tensors, a.num_tensors, a.params};
    /* the keys of files written before the whole config was recorded */
    const char *old[10] = {"genrep.encoder", "small", "genrep.in", "1,28,28", "genrep.head_out", "128",
                           "genrep.width", "8", "genrep.blocks", "1"};
    ck_assert_int_eq(genrep_tables_save(tmp_path("old.safetensors"), &t, 1, NULL, 0, old, 5), GENREP_OK);
    ck_assert_int_eq(genrep_encoder_load(&b, tmp_path("old.safetensors"), 1, NULL, 0, NULL), GENREP_OK);
    ck_assert_int_eq(b.cfg.stem_width, 8);
    ck_assert_int_eq(b.cfg.widths[2], 32);
    ck_assert_int_eq(b.cfg.blocks[1], 1);
    ck_assert(!memcmp(a.params, b.params, (a.num_params + a.num_buffers) * sizeof(float)));
    genrep_encoder_free(&b);
    /* bad values are refused by key, before any model is built */
    char head[32];
    snprintf(head, sizeof head, "%d,%d", a.cfg.head_hidden, a.cfg.head_out);
    static const char *bad[][2] = {{"genrep.in", "1,28"}, {"genrep.in", "1, 28,28"}, {"genrep.in", "9,28,28"},
                                   {"genrep.widths", "-4,8,16"}, {"genrep.widths", "4,8,16,32,64"},
                                   {"genrep.blocks", "1,1"}, {"genrep.strides", "1,3,2"}, {"genrep.head", "8"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *kv[14] = {"genrep.encoder", "small", "genrep.in", "1,28,28", "genrep.stem", "8", "genrep.widths", "8,16,32",
                              "genrep.blocks", "1,1,1", "genrep.strides", "1,2,2", "genrep.head", head};
        for (int k = 0; k < 7; k++) if (!strcmp(kv[2 * k], bad[i][0])) kv[2 * k + 1] = bad[i][1];
        ck_assert_int_eq(genrep_tables_save(tmp_path("bad.safetensors"), &t, 1, NULL, 0, kv, 7), GENREP_OK);
        ck_assert_int_eq(genrep_encoder_load(&b, tmp_path("bad.safetensors"), 1, NULL, 0, NULL), GENREP_ERR_FORMAT);
        ck_assert_msg(strstr(genrep_last_error(), bad[i][0]) != NULL, "%s = '%s': %s", bad[i][0], bad[i][1], genrep_last_error());
    }
    genrep_encoder_free(&a);
}
END_TEST

START_TEST(disc_round_trip) {
    genrep_gan_config c;
    genrep_gan_config_default(&c, GENREP_GAN_CGAN);
    c.dwidth = 4;
    genrep_disc a, b;
    ck_assert_int_eq(genrep_disc_create(&a, &c, 2, 5), GENREP_OK);
    ck_assert_int_eq(genrep_disc_save(&a, tmp_path("d.safetensors"), NULL, 0), GENREP_OK);
    ck_assert_int_eq(genrep_disc_load(&b, tmp_path("d.safetensors"), 4), GENREP_OK);
    ck_assert_int_eq(b.cfg.kind, GENREP_GAN_CGAN);
    ck_assert_int_eq(b.cfg.dwidth, 4);
    ck_assert_int_eq(b.n_params, a.n_params);
    ck_assert(!memcmp(a.params, b.params, a.n_params * sizeof(float)));
    genrep_disc_free(&b);
    /* a generator file is not a discriminator: its tensors are named */
    genrep_gen g;
    ck_assert_int_eq(genrep_gen_create(&g, &c, 2, 5), GENREP_OK);
    ck_assert_int_eq(genrep_gen_save(&g, tmp_path("g.safetensors"), NULL, 0), GENREP_OK);
    ck_assert_int_ne(genrep_disc_load(&b, tmp_path("g.safetensors"), 4), GENREP_OK);
    genrep_gen_free(&g);
    genrep_disc_free(&a);
}
END_TEST

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/genrep_modelio_%d", (int)getpid());
    char cmd[128];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    if (system(cmd)) return 1;
    Suite *s = suite_create("modelio");
    TCase *tc = tcase_create("modelio");
    tcase_add_test(tc, encoder_round_trip);
    tcase_add_test(tc, encoder_strict);
    tcase_add_test(tc, encoder_legacy_and_bad_metadata);
    tcase_add_test(tc, disc_round_trip);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    int rc = tu_run(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) return 1;
    return rc;
}
