/* Core: status strings, allocation alignment, Philox RNG, tensor, ISA choice. */
#include "genrep.h"
#include "testutil.h"
#include <string.h>

/* Philox4x32-10 known-answer tests from the Random123 distribution (kat_vectors). */
START_TEST(philox_known_answers) {
    uint32_t out[4];
    /* key 0, counter 0 */
    genrep_philox(out, 0, 0, 0);
    ck_assert_uint_eq(out[0], 0x6627e8d5u); ck_assert_uint_eq(out[1], 0xe169c58du);
    ck_assert_uint_eq(out[2], 0xbc57ac4cu); ck_assert_uint_eq(out[3], 0x9b00dbd8u);
    /* key all ones, counter all ones */
    genrep_philox(out, 0xffffffffffffffffull, 0xffffffffffffffffull, 0xffffffffffffffffull);
    ck_assert_uint_eq(out[0], 0x408f276du); ck_assert_uint_eq(out[1], 0x41c83b0eu);
    ck_assert_uint_eq(out[2], 0xa20bc7c6u); ck_assert_uint_eq(out[3], 0x6d5451fdu);
    /* pi digits: ctr = 243f6a88 85a308d3 13198a2e 03707344, key = a4093822 299f31d0 */
    genrep_philox(out, ((uint64_t)0x299f31d0u << 32) | 0xa4093822u,
                  ((uint64_t)0x03707344u << 32) | 0x13198a2eu,
                  ((uint64_t)0x85a308d3u << 32) | 0x243f6a88u);
    ck_assert_uint_eq(out[0], 0xd16cfe09u); ck_assert_uint_eq(out[1], 0x94fdccebu);
    ck_assert_uint_eq(out[2], 0x5001e420u); ck_assert_uint_eq(out[3], 0x24126ea1u);
}
END_TEST

START_TEST(rng_streams_independent_of_order) {
    /* Drawing stream 5 after stream 3 or alone gives the same numbers. */
    genrep_rng a, b, c;
    genrep_rng_init(&a, 42, 3);
    for (int i = 0; i < 10; i++) genrep_rng_u32(&a);
    genrep_rng_init(&b, 42, 5);
    genrep_rng_init(&c, 42, 5);
    for (int i = 0; i < 100; i++) ck_assert_uint_eq(genrep_rng_u32(&b), genrep_rng_u32(&c));
    genrep_rng_init(&a, 42, 3); genrep_rng_init(&b, 42, 5);
    int same = 0;
    for (int i = 0; i < 100; i++) same += genrep_rng_u32(&a) == genrep_rng_u32(&b);
    ck_assert_int_lt(same, 3);
}
END_TEST

START_TEST(rng_distributions) {
    genrep_rng r;
    genrep_rng_init(&r, 7, 0);
    const int n = 200000;
    double s = 0, s2 = 0, us = 0; int in = 0;
    float umin = 1, umax = 0;
    for (int i = 0; i < n; i++) {
        float x = genrep_rng_normal(&r); s += x; s2 += (double)x * x;
        float u = genrep_rng_uniform(&r); us += u;
        if (u < umin) umin = u;
        if (u > umax) umax = u;
        float t = genrep_rng_truncnormal(&r, -2, 2); in += (t >= -2 && t <= 2);
    }
    ck_assert(fabs(s / n) < 0.01);
    ck_assert(fabs(s2 / n - 1.0) < 0.02);
    ck_assert(fabs(us / n - 0.5) < 0.005);
    ck_assert(umin >= 0.0f && umax < 1.0f);
    ck_assert_int_eq(in, n);
    /* below(n) is uniform: chi-square-ish bound over 10 bins */
    int bins[10] = {0};
    for (int i = 0; i < 100000; i++) { uint32_t v = genrep_rng_below(&r, 10); ck_assert_uint_lt(v, 10); bins[v]++; }
    for (int i = 0; i < 10; i++) ck_assert(abs(bins[i] - 10000) < 500);
}
END_TEST

START_TEST(alloc_aligned_and_tensor) {
    for (size_t sz = 1; sz < 5000; sz = sz * 3 + 1) {
        void *p = genrep_alloc(sz);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % 64, 0);
        genrep_free(p);
    }
    genrep_tensor t;
    int64_t shape[4] = {2, 3, 4, 5};
    ck_assert_int_eq(genrep_tensor_create(&t, 4, shape), GENREP_OK);
    ck_assert_int_eq(genrep_tensor_numel(&t), 120);
    ck_assert_int_eq(t.stride[0], 60); ck_assert_int_eq(t.stride[1], 20);
    ck_assert_int_eq(t.stride[2], 5); ck_assert_int_eq(t.stride[3], 1);
    ck_assert_uint_eq((uintptr_t)t.data % 64, 0);
    for (int i = 0; i < 120; i++) ck_assert(t.data[i] == 0.0f);
    genrep_tensor_free(&t);
    ck_assert_ptr_null(t.data);
    int64_t bad[2] = {3, -1};
    ck_assert_int_eq(genrep_tensor_create(&t, 2, bad), GENREP_ERR_ARG);
    ck_assert(strstr(genrep_last_error(), "negative") != NULL);
    ck_assert_int_eq(genrep_tensor_create(&t, 5, shape), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_tensor_create(NULL, 2, shape), GENREP_ERR_ARG);
}
END_TEST

START_TEST(status_and_isa) {
    for (int s = GENREP_OK; s <= GENREP_ERR_NONFINITE; s++)
        ck_assert(strcmp(genrep_status_str((genrep_status)s), "unknown status") != 0);
    genrep_isa isa = genrep_get_isa();
    ck_assert_int_ge(isa, GENREP_ISA_SCALAR);
    ck_assert_int_eq(genrep_set_isa(GENREP_ISA_SCALAR), GENREP_OK);
    ck_assert_int_eq(genrep_get_isa(), GENREP_ISA_SCALAR);
    ck_assert_int_eq(genrep_set_isa((genrep_isa)7), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_set_isa(isa), GENREP_OK);
    ck_assert_int_ge(genrep_num_threads(), 1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, philox_known_answers);
    tcase_add_test(tc, rng_streams_independent_of_order);
    tcase_add_test(tc, rng_distributions);
    tcase_add_test(tc, alloc_aligned_and_tensor);
    tcase_add_test(tc, status_and_isa);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
