/* Safetensors reader and writer: every loader rule on a hand-made file,
   round trip, F16/BF16 widening, model-level expectations, atomic writes.
   `test_safetensors --write-corpus DIR` writes the hand-made files (bad and
   good) to DIR instead: that is the fuzzer's seed corpus. */
#define _POSIX_C_SOURCE 200809L
#include "genrep.h"
#include "testutil.h"
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <dirent.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/resource.h>

static char tmpdir[256]; /* made in main, removed at the end */

/* ---- building files ---- */

/* [u64 LE hlen][json][data] into a malloc'd buffer; hlen < 0: strlen(json). */
static unsigned char *st_bytes(const char *json, int64_t hlen, const unsigned char *data, size_t dn, size_t *n) {
    size_t jl = strlen(json);
    uint64_t h = hlen < 0 ? (uint64_t)jl : (uint64_t)hlen;
    unsigned char *b = malloc(8 + jl + dn + 1);
    for (int k = 0; k < 8; k++) b[k] = (unsigned char)(h >> (8 * k));
    memcpy(b + 8, json, jl);
    if (data) memcpy(b + 8 + jl, data, dn); else memset(b + 8 + jl, 0, dn);
    *n = 8 + jl + dn;
    return b;
}

static void write_file(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

static unsigned char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

/* ---- the bad (and a few good) files, one Check test each ---- */

#define T1 "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]"
#define T2 "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]"
static const unsigned char nan_f32[8] = {0, 0, 0x80, 0x3F, 0, 0, 0xC0, 0x7F};  /* 1.0, NaN */
static const unsigned char inf_f32[8] = {0, 0, 0x80, 0xFF, 0, 0, 0x80, 0x3F};  /* -Inf, 1.0 */
static const unsigned char inf_f16[4] = {0x00, 0x3C, 0x00, 0x7C};              /* 1.0, +Inf */

enum { SP_NONE, SP_SHORT, SP_DEEP };
typedef struct {
    const char *name;
    const char *json;
    int64_t hlen;                 /* -1: the JSON's length */
    size_t dn;                    /* data bytes, zeros unless data */
    const unsigned char *data;
    int special;
    genrep_status want;
    const char *rule;             /* must appear in the message */
    const char *tensor;           /* must appear too (the tensor or key named), or NULL */
} st_case;

static const st_case cases[] = {
    {"short_file", "", 0, 0, NULL, SP_SHORT, GENREP_ERR_FORMAT, "file too short", NULL},
    {"hlen_above_cap", "{}", 200u << 20, 0, NULL, 0, GENREP_ERR_FORMAT, "exceeds the cap", NULL},
    {"hlen_u64_max", "{}", -2 /* 2^64-2 as u64 */, 0, NULL, 0, GENREP_ERR_FORMAT, "exceeds the cap", NULL},
    {"hlen_beyond_file", "{}", 1000, 0, NULL, 0, GENREP_ERR_FORMAT, "exceeds the file", NULL},
    {"truncated_data", "{\"a\":{" T1 "},\"b\":{" T2 "}}", -1, 12, NULL, 0, GENREP_ERR_FORMAT, "truncated", "'b'"},
    {"trailing_bytes", "{\"a\":{" T1 "},\"b\":{" T2 "}}", -1, 20, NULL, 0, GENREP_ERR_FORMAT, "trailing bytes", NULL},
    {"not_utf8", "{\"a\xff\":{" T1 "}}", -1, 8, NULL, 0, GENREP_ERR_FORMAT, "not valid UTF-8", NULL},
    {"utf8_overlong", "{\"a\xc0\xaf\":{" T1 "}}", -1, 8, NULL, 0, GENREP_ERR_FORMAT, "not valid UTF-8", NULL},
    {"utf8_surrogate", "{\"a\xed\xa0\x80\":{" T1 "}}", -1, 8, NULL, 0, GENREP_ERR_FORMAT, "not valid UTF-8", NULL},
    {"not_object", "[1, 2]", -1, 0, NULL, 0, GENREP_ERR_FORMAT, "not a JSON object", NULL},
    {"empty_header", "", -1, 0, NULL, 0, GENREP_ERR_FORMAT, "not a JSON object", NULL},
    {"json_missing_comma", "{\"a\":{\"dtype\":\"F32\" \"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "invalid JSON", "'a'"},
    {"json_trailing_comma", "{\"a\":{" T1 "},}", -1, 8, NULL, 0, GENREP_ERR_FORMAT, "invalid JSON", NULL},
    {"json_unterminated", "{\"a\":{\"dtype\":\"F32", -1, 0, NULL, 0, GENREP_ERR_FORMAT, "not terminated", NULL},
    {"json_after_object", "{\"a\":{" T1 "}} x", -1, 8, NULL, 0, GENREP_ERR_FORMAT, "trailing characters", NULL},
    {"json_bad_escape", "{\"a\\x\":{" T1 "}}", -1, 8, NULL, 0, GENREP_ERR_FORMAT, "bad escape", NULL},
    {"json_bad_unicode_escape", "{\"a\\u12g4\":{" T1 "}}", -1, 8, NULL, 0, GENREP_ERR_FORMAT, "bad \\u escape", NULL},
    {"json_lone_high_surrogate", "{\"a\\ud800\":{" T1 "}}", -1, 8, NULL, 0, GENREP_ERR_FORMAT, "unpaired surrogate", NULL},
    {"json_lone_low_surrogate", "{\"a\\udc00\":{" T1 "}}", -1, 8, NULL, 0, GENREP_ERR_FORMAT, "lone low surrogate", NULL},
    {"json_control_char", "{\"a\tb\":{" T1 "}}", -1, 8, NULL, 0, GENREP_ERR_FORMAT, "control character", NULL},
    {"json_nul_escape", "{\"a\\u0000\":{" T1 "}}", -1, 8, NULL, 0, GENREP_ERR_FORMAT, "NUL", NULL},
    {"deep_nesting", NULL, -1, 0, NULL, SP_DEEP, GENREP_ERR_FORMAT, "expected an integer at header byte 29, got an array", "'a'"},
    {"entry_not_object", "{\"a\":5}", -1, 0, NULL, 0, GENREP_ERR_FORMAT, "entry must be an object", "'a'"},
    {"dtype_true", "{\"a\":{\"dtype\":true,\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "dtype must be a string, got a boolean", "'a'"},
    {"shape_null", "{\"a\":{\"dtype\":\"F32\",\"shape\":null,\"data_offsets\":[0,8]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "must be an array of integers, got null", "'a'"},
    {"duplicate_tensor", "{\"a\":{" T1 "},\"a\":{" T2 "}}", -1, 16, NULL, 0, GENREP_ERR_FORMAT, "duplicate tensor name", "'a'"},
    {"duplicate_tensor_escaped", "{\"ab\":{" T1 "},\"\\u0061\\u0062\":{" T2 "}}", -1, 16, NULL, 0,
     GENREP_ERR_FORMAT, "duplicate tensor name", "'ab'"},
    {"duplicate_field", "{\"a\":{" T1 ",\"dtype\":\"F32\"}}", -1, 8, NULL, 0, GENREP_ERR_FORMAT, "duplicate key 'dtype'", "'a'"},
    {"duplicate_meta_key", "{\"__metadata__\":{\"k\":\"1\",\"\\u006b\":\"2\"},\"a\":{" T1 "}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "duplicate key 'k' in __metadata__", NULL},
    {"duplicate_metadata", "{\"__metadata__\":{},\"__metadata__\":{}}", -1, 0, NULL, 0, GENREP_ERR_FORMAT,
     "duplicate key '__metadata__'", NULL},
    {"meta_value_number", "{\"__metadata__\":{\"arch\":3}}", -1, 0, NULL, 0, GENREP_ERR_FORMAT, "is not a string", "'arch'"},
    {"meta_value_null", "{\"__metadata__\":{\"arch\":null}}", -1, 0, NULL, 0, GENREP_ERR_FORMAT, "is not a string (got null)", "'arch'"},
    {"meta_not_object", "{\"__metadata__\":\"x\"}", -1, 0, NULL, 0, GENREP_ERR_FORMAT, "__metadata__ must be an object", NULL},
    {"missing_field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", -1, 8, NULL, 0, GENREP_ERR_FORMAT, "missing field 'data_offsets'", "'a'"},
    {"unknown_field", "{\"a\":{" T1 ",\"foo\":1}}", -1, 8, NULL, 0, GENREP_ERR_FORMAT, "unknown field 'foo'", "'a'"},
    {"unknown_dtype", "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "unknown dtype 'F33'", "'a'"},
    {"unsupported_dtype", "{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", -1, 8, NULL, 0,
     GENREP_ERR_UNSUPPORTED, "dtype I64 is not supported", "'a'"},
    {"int_negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "malformed integer (negative number)", "'a'"},
    {"int_fractional", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "malformed integer (fractional number)", "'a'"},
    {"int_exponent", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8e0]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "malformed integer (exponent)", "'a'"},
    {"int_leading_zero", "{\"a\":{\"dtype\":\"F32\",\"shape\":[02],\"data_offsets\":[0,8]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "malformed integer (leading zero)", "'a'"},
    {"int_above_u64", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551616]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "larger than 2^64-1", "'a'"},
    {"int_string", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "expected an integer", "'a'"},
    {"rank_above_limit", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "rank above the limit", "'a'"},
    {"shape_overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "overflows", "'a'"},
    {"shape_u64_max", "{\"a\":{\"dtype\":\"F16\",\"shape\":[18446744073709551615],\"data_offsets\":[0,8]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "overflows", "'a'"},
    {"size_mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "byte size mismatch", "'a'"},
    {"begin_after_end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "begin 8 > end 0", "'a'"},
    {"offsets_three", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "must have 2 entries", "'a'"},
    {"offsets_out_of_range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[100,108]}}", -1, 8, NULL, 0,
     GENREP_ERR_FORMAT, "out of range", "'a'"},
    {"overlap", "{\"a\":{" T1 "},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", -1, 12, NULL, 0,
     GENREP_ERR_FORMAT, "overlaps", "'b'"},
    {"hole", "{\"a\":{" T1 "},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", -1, 20, NULL, 0,
     GENREP_ERR_FORMAT, "hole in the data section", "'b'"},
    {"hole_at_start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", -1, 12, NULL, 0,
     GENREP_ERR_FORMAT, "hole in the data section", "'a'"},
    {"nan_f32", "{\"w\":{" T1 "}}", -1, 8, nan_f32, 0, GENREP_ERR_NONFINITE, "non-finite value NaN at element 1", "'w'"},
    {"inf_f32", "{\"w\":{" T1 "}}", -1, 8, inf_f32, 0, GENREP_ERR_NONFINITE, "non-finite value -Inf at element 0", "'w'"},
    {"inf_f16", "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", -1, 4, inf_f16, 0,
     GENREP_ERR_NONFINITE, "non-finite value +Inf at element 1", "'h'"},
    /* good files: parse cleanly */
    {"good_empty", "{}", -1, 0, NULL, 0, GENREP_OK, NULL, NULL},
    {"good_two", "{\"__metadata__\":{\"arch\":\"dcgan\",\"z\":\"128\"},\"b\":{" T2 "},\"a\":{" T1 "}}", -1, 16, NULL, 0, GENREP_OK, NULL, NULL},
    {"good_mixed", " {\"s\" : {\"shape\":[],\"dtype\":\"BF16\",\"data_offsets\":[6,8]}, \"h\\u00e9\\ud83d\\ude00\":{\"dtype\":\"F16\","
     "\"shape\":[3,1],\"data_offsets\":[0,6]}, \"z\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[8,8]}}\n  ", -1, 8, NULL, 0,
     GENREP_OK, NULL, NULL},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static unsigned char *case_bytes(const st_case *c, size_t *n) {
    if (c->special == SP_SHORT) {
        unsigned char *b = malloc(5);
        memcpy(b, "\x02\x00\x00\x00\x00", 5);
        *n = 5;
        return b;
    }
    if (c->special == SP_DEEP) { /* {"a":{"dtype":"F32","shape":[[[[...  : 10000 brackets */
        size_t k = 10000;
        char *j = malloc(64 + k);
        strcpy(j, "{\"a\":{\"dtype\":\"F32\",\"shape\":[");
        size_t l = strlen(j);
        memset(j + l, '[', k);
        j[l + k] = '\0';
        unsigned char *b = st_bytes(j, -1, NULL, 0, n);
        free(j);
        return b;
    }
    int64_t h = c->hlen == -2 ? (int64_t)-2 : c->hlen; /* -2 becomes 2^64-2 */
    if (c->hlen == -2) {
        unsigned char *b = st_bytes(c->json, 0, NULL, c->dn, n);
        for (int k = 0; k < 8; k++) b[k] = (unsigned char)((UINT64_MAX - 1) >> (8 * k));
        return b;
    }
    return st_bytes(c->json, h, c->data, c->dn, n);
}

START_TEST(loader_rule) {
    const st_case *c = &cases[_i];
    size_t n;
    unsigned char *b = case_bytes(c, &n);
    char path[512];
    snprintf(path, sizeof path, "%s/%s.safetensors", tmpdir, c->name);
    write_file(path, b, n);
    genrep_st *st = (genrep_st *)(uintptr_t)1;
    genrep_status s = genrep_st_open(&st, path, 0);
    const char *msg = genrep_last_error();
    ck_assert_msg(s == c->want, "%s: status %s, want %s (%s)", c->name, genrep_status_str(s), genrep_status_str(c->want), msg);
    if (c->want == GENREP_OK) {
        ck_assert_ptr_nonnull(st);
    } else {
        ck_assert_msg(st == NULL, "%s: handle not NULL on failure", c->name);
        ck_assert_msg(strstr(msg, c->rule) != NULL, "%s: message '%s' does not name the rule '%s'", c->name, msg, c->rule);
        ck_assert_msg(strstr(msg, path) != NULL, "%s: message '%s' does not name the file", c->name, msg);
        if (c->tensor)
            ck_assert_msg(strstr(msg, c->tensor) != NULL, "%s: message '%s' does not name %s", c->name, msg, c->tensor);
    }
    /* the memory entry point agrees, and names "<memory>" without a name */
    genrep_st *st2 = NULL;
    ck_assert_int_eq(genrep_st_open_memory(&st2, b, n, 0, NULL), c->want);
    if (c->want != GENREP_OK) ck_assert_ptr_nonnull(strstr(genrep_last_error(), "<memory>"));
    genrep_st_close(st);
    genrep_st_close(st2);
    unlink(path);
    free(b);
}
END_TEST

/* Non-finite weights load when the caller allows them. */
START_TEST(nonfinite_allowed) {
    size_t n;
    unsigned char *b = st_bytes("{\"w\":{" T1 "}}", -1, nan_f32, 8, &n);
    genrep_st *st = NULL;
    ck_assert_int_eq(genrep_st_open_memory(&st, b, n, GENREP_ST_ALLOW_NONFINITE, "nan"), GENREP_OK);
    const genrep_st_tensor *t = genrep_st_find(st, "w");
    ck_assert_ptr_nonnull(t);
    ck_assert(t->data[0] == 1.0f && isnan(t->data[1]));
    genrep_st_close(st);
    ck_assert_int_eq(genrep_st_open_memory(&st, b, n, 4, "nan"), GENREP_ERR_ARG); /* unknown flag */
    free(b);
}
END_TEST

/* The good mixed file: whitespace, any field order, scalar, empty tensor,
   escaped UTF-8 names with a surrogate pair, offsets out of header order. */
START_TEST(good_file_contents) {
    size_t n;
    unsigned char *b = case_bytes(&cases[NCASES - 1], &n);
    /* F16 [1, -2, 65504] then BF16 scalar 1.0 */
    const unsigned char d[8] = {0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B, 0x80, 0x3F};
    memcpy(b + n - 8, d, 8);
    genrep_st *st = NULL;
    ck_assert_int_eq(genrep_st_open_memory(&st, b, n, 0, "mixed"), GENREP_OK);
    ck_assert_int_eq(genrep_st_count(st), 3);
    const genrep_st_tensor *h = genrep_st_find(st, "h\xc3\xa9\xf0\x9f\x98\x80");
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_eq(h, genrep_st_get(st, 0)); /* data order */
    ck_assert_str_eq(h->dtype, "F16");
    ck_assert_int_eq(h->ndim, 2); ck_assert_int_eq(h->shape[0], 3); ck_assert_int_eq(h->shape[1], 1);
    ck_assert(h->data[0] == 1.0f && h->data[1] == -2.0f && h->data[2] == 65504.0f);
    ck_assert_uint_eq((uintptr_t)h->data % 64, 0);
    const genrep_st_tensor *s = genrep_st_find(st, "s");
    ck_assert_int_eq(s->ndim, 0); ck_assert_int_eq(s->numel, 1); ck_assert(s->data[0] == 1.0f);
    const genrep_st_tensor *z = genrep_st_find(st, "z");
    ck_assert_int_eq(z->numel, 0); ck_assert_int_eq(z->shape[1], 5);
    ck_assert_ptr_null(genrep_st_find(st, "q"));
    ck_assert_ptr_null(genrep_st_meta(st, "arch"));
    ck_assert_int_eq(genrep_st_meta_count(st), 0);
    genrep_st_close(st);
    free(b);
}
END_TEST

/* F16 and BF16 widening on known values, subnormals and infinities included. */
START_TEST(widening_known_values) {
    static const uint16_t h[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x8000, 0x3555, 0x7C00, 0xFC00, 0x7E00};
    const float hv[] = {1.0f, -2.0f, 65504.0f, 0x1p-24f, 1023 * 0x1p-24f, 0x1p-14f, -0.0f, 0.333251953125f, INFINITY, -INFINITY, NAN};
    static const uint16_t bf[] = {0x3F80, 0xC049, 0x0001, 0x807F, 0x7F7F, 0x7F80, 0xFF80, 0x7FC0};
    const float bv[] = {1.0f, -3.140625f, 0x1p-133f, -127 * 0x1p-133f, 0x1.fep127f, INFINITY, -INFINITY, NAN};
    enum { NH = sizeof h / sizeof h[0], NB = sizeof bf / sizeof bf[0] };
    char json[256];
    snprintf(json, sizeof json, "{\"h\":{\"dtype\":\"F16\",\"shape\":[%d],\"data_offsets\":[0,%d]},"
             "\"b\":{\"dtype\":\"BF16\",\"shape\":[%d],\"data_offsets\":[%d,%d]}}", NH, 2 * NH, NB, 2 * NH, 2 * NH + 2 * NB);
    unsigned char data[2 * (NH + NB)];
    for (int i = 0; i < NH; i++) { data[2 * i] = (unsigned char)h[i]; data[2 * i + 1] = (unsigned char)(h[i] >> 8); }
    for (int i = 0; i < NB; i++) { data[2 * NH + 2 * i] = (unsigned char)bf[i]; data[2 * NH + 2 * i + 1] = (unsigned char)(bf[i] >> 8); }
    size_t n;
    unsigned char *b = st_bytes(json, -1, data, sizeof data, &n);
    genrep_st *st = NULL;
    ck_assert_int_eq(genrep_st_open_memory(&st, b, n, 0, "w"), GENREP_ERR_NONFINITE);
    ck_assert_int_eq(genrep_st_open_memory(&st, b, n, GENREP_ST_ALLOW_NONFINITE, "w"), GENREP_OK);
    const genrep_st_tensor *th = genrep_st_find(st, "h"), *tb = genrep_st_find(st, "b");
    for (int i = 0; i < NH; i++) {
        if (isnan(hv[i])) { ck_assert_msg(isnan(th->data[i]), "f16 %04x", h[i]); continue; }
        ck_assert_msg(th->data[i] == hv[i] && signbit(th->data[i]) == signbit(hv[i]),
                      "f16 %04x -> %.9g, want %.9g", h[i], (double)th->data[i], (double)hv[i]);
    }
    for (int i = 0; i < NB; i++) {
        if (isnan(bv[i])) { ck_assert_msg(isnan(tb->data[i]), "bf16 %04x", bf[i]); continue; }
        ck_assert_msg(tb->data[i] == bv[i], "bf16 %04x -> %.9g, want %.9g", bf[i], (double)tb->data[i], (double)bv[i]);
    }
    genrep_st_close(st);
    free(b);
}
END_TEST

/* ---- writer ---- */

static float wa[6] = {1, -2, 3.5f, 1e-30f, -0.0f, 7};
static float wb[4] = {0.25f, 0.5f, 0.75f, 1e30f};
static float wc[1] = {42};
static const char *const meta[] = {"arch", "dcgan", "z_dim", "128", "note", "quote \" back\\ nl\n tab\t \xc3\xa9 \xf0\x9f\x98\x80"};

static void entries3(genrep_st_entry e[4]) {
    memset(e, 0, 4 * sizeof *e);
    e[0].name = "net.0.weight"; e[0].ndim = 2; e[0].shape[0] = 2; e[0].shape[1] = 3; e[0].data = wa;
    e[1].name = "net.1.bias"; e[1].ndim = 1; e[1].shape[0] = 4; e[1].data = wb;
    e[2].name = "scale"; e[2].ndim = 0; e[2].data = wc;
    e[3].name = "empty\"name"; e[3].ndim = 2; e[3].shape[0] = 0; e[3].shape[1] = 3; e[3].data = NULL;
}

static int count_temp_files(void) {
    DIR *d = opendir(tmpdir);
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d))) k += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return k;
}

START_TEST(round_trip) {
    genrep_st_entry e[4];
    entries3(e);
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "%s/rt1.safetensors", tmpdir);
    snprintf(p2, sizeof p2, "%s/rt2.safetensors", tmpdir);
    ck_assert_int_eq(genrep_st_write(p1, e, 4, meta, 3), GENREP_OK);
    ck_assert_int_eq(genrep_st_write(p2, e, 4, meta, 3), GENREP_OK);
    size_t n1, n2;
    unsigned char *b1 = read_file(p1, &n1), *b2 = read_file(p2, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_int_eq(memcmp(b1, b2, n1), 0);
    uint64_t hlen = 0;
    for (int k = 0; k < 8; k++) hlen |= (uint64_t)b1[k] << (8 * k);
    ck_assert_uint_eq(hlen % 8, 0);
    ck_assert_uint_eq(n1, 8 + hlen + 4 * (6 + 4 + 1)); /* no holes, no padding */
    ck_assert_int_eq(b1[8], '{');
    genrep_st *st = NULL;
    ck_assert_int_eq(genrep_st_open(&st, p1, 0), GENREP_OK);
    ck_assert_int_eq(genrep_st_count(st), 4);
    for (int i = 0; i < 4; i++) {
        const genrep_st_tensor *t = genrep_st_find(st, e[i].name);
        ck_assert_ptr_nonnull(t);
        ck_assert_str_eq(t->dtype, "F32");
        ck_assert_int_eq(t->ndim, e[i].ndim);
        for (int k = 0; k < t->ndim; k++) ck_assert_int_eq(t->shape[k], e[i].shape[k]);
        if (t->numel) ck_assert_int_eq(memcmp(t->data, e[i].data, (size_t)t->numel * 4), 0); /* bit exact, -0 too */
    }
    /* tensors lie in the order written (the empty one sorts first at offset 44) */
    ck_assert_str_eq(genrep_st_get(st, 0)->name, "net.0.weight");
    ck_assert_str_eq(genrep_st_get(st, 1)->name, "net.1.bias");
    for (int i = 0; i < 3; i++) ck_assert_str_eq(genrep_st_meta(st, meta[2 * i]), meta[2 * i + 1]);
    ck_assert_int_eq(genrep_st_meta_count(st), 3);
    const char *k0, *v0;
    genrep_st_meta_get(st, 0, &k0, &v0);
    ck_assert_str_eq(k0, "arch"); ck_assert_str_eq(v0, "dcgan");
    genrep_st_close(st);
    /* rewriting over an existing file works and leaves no temp files */
    wc[0] = 43;
    ck_assert_int_eq(genrep_st_write(p1, e, 3, NULL, 0), GENREP_OK);
    wc[0] = 42;
    ck_assert_int_eq(genrep_st_open(&st, p1, 0), GENREP_OK);
    ck_assert(genrep_st_find(st, "scale")->data[0] == 43.0f);
    ck_assert_int_eq(genrep_st_meta_count(st), 0);
    genrep_st_close(st);
    ck_assert_int_eq(count_temp_files(), 0);
    free(b1); free(b2);
    unlink(p1); unlink(p2);
}
END_TEST

/* The exact bytes of a small file: compact JSON, tensors in the order given,
   metadata first, spaces up to a multiple of 8, then little-endian floats. */
START_TEST(writer_exact_bytes) {
    float x[2] = {1.0f, -2.0f};
    genrep_st_entry e[1];
    memset(e, 0, sizeof e);
    e[0].name = "a"; e[0].ndim = 1; e[0].shape[0] = 2; e[0].data = x;
    const char *kv[] = {"k", "v"};
    char p[512];
    snprintf(p, sizeof p, "%s/exact.safetensors", tmpdir);
    ck_assert_int_eq(genrep_st_write(p, e, 1, kv, 1), GENREP_OK);
    const char *json = "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t jl = strlen(json), hl = (jl + 7) / 8 * 8, n;
    unsigned char *b = read_file(p, &n);
    ck_assert_uint_eq(n, 8 + hl + 8);
    ck_assert_uint_eq(b[0], hl); for (int k = 1; k < 8; k++) ck_assert_uint_eq(b[k], 0);
    ck_assert_int_eq(memcmp(b + 8, json, jl), 0);
    for (size_t k = jl; k < hl; k++) ck_assert_uint_eq(b[8 + k], ' ');
    const unsigned char d[8] = {0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0};
    ck_assert_int_eq(memcmp(b + 8 + hl, d, 8), 0);
    free(b);
    unlink(p);
}
END_TEST

START_TEST(writer_rejects_bad_input) {
    genrep_st_entry e[4];
    entries3(e);
    char p[512];
    snprintf(p, sizeof p, "%s/bad.safetensors", tmpdir);
    e[1].name = "net.0.weight";
    ck_assert_int_eq(genrep_st_write(p, e, 2, NULL, 0), GENREP_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), "duplicate tensor name 'net.0.weight'"));
    entries3(e);
    const char *dupmeta[] = {"a", "1", "a", "2"};
    ck_assert_int_eq(genrep_st_write(p, e, 2, dupmeta, 2), GENREP_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), "duplicate metadata key 'a'"));
    e[0].ndim = 9;
    ck_assert_int_eq(genrep_st_write(p, e, 2, NULL, 0), GENREP_ERR_ARG);
    entries3(e);
    e[0].name = "__metadata__";
    ck_assert_int_eq(genrep_st_write(p, e, 2, NULL, 0), GENREP_ERR_ARG);
    entries3(e);
    e[0].name = "bad\xff";
    ck_assert_int_eq(genrep_st_write(p, e, 2, NULL, 0), GENREP_ERR_ARG);
    ck_assert_int_eq(access(p, F_OK), -1); /* nothing was created */
    ck_assert_int_eq(count_temp_files(), 0);
}
END_TEST

/* ---- model-level expectations ---- */

START_TEST(expect_names_and_shapes) {
    genrep_st_entry e[4];
    entries3(e);
    char p[512];
    snprintf(p, sizeof p, "%s/expect.safetensors", tmpdir);
    ck_assert_int_eq(genrep_st_write(p, e, 3, NULL, 0), GENREP_OK);
    genrep_st *st = NULL;
    ck_assert_int_eq(genrep_st_open(&st, p, 0), GENREP_OK);
    genrep_st_spec ok[3] = {{"scale", 0, {0}}, {"net.0.weight", 2, {2, 3}}, {"net.1.bias", 1, {4}}};
    ck_assert_int_eq(genrep_st_expect(st, ok, 3), GENREP_OK);
    /* missing */
    genrep_st_spec miss[4] = {{"scale", 0, {0}}, {"net.0.weight", 2, {2, 3}}, {"net.1.bias", 1, {4}}, {"net.2.weight", 1, {5}}};
    ck_assert_int_eq(genrep_st_expect(st, miss, 4), GENREP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), "missing tensor 'net.2.weight'"));
    /* extra */
    ck_assert_int_eq(genrep_st_expect(st, ok, 2), GENREP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), "unexpected tensor 'net.1.bias'"));
    /* wrong shape */
    genrep_st_spec wrong[3] = {{"scale", 0, {0}}, {"net.0.weight", 2, {3, 2}}, {"net.1.bias", 2, {4, 1}}};
    ck_assert_int_eq(genrep_st_expect(st, wrong, 3), GENREP_ERR_SHAPE);
    const char *m = genrep_last_error();
    ck_assert_ptr_nonnull(strstr(m, "tensor 'net.0.weight' is [2, 3], the model expects [3, 2]"));
    ck_assert_ptr_nonnull(strstr(m, "tensor 'net.1.bias' is [4], the model expects [4, 1]"));
    genrep_st_close(st);
    unlink(p);
}
END_TEST

/* ---- atomic writes: the old file survives every failure ---- */

static void make_old(const char *p, unsigned char **old, size_t *n) {
    genrep_st_entry e[4];
    entries3(e);
    ck_assert_int_eq(genrep_st_write(p, e, 2, meta, 1), GENREP_OK);
    *old = read_file(p, n);
    ck_assert_ptr_nonnull(*old);
}

static void assert_unchanged(const char *p, const unsigned char *old, size_t n) {
    size_t m;
    unsigned char *now = read_file(p, &m);
    ck_assert_msg(now != NULL, "%s vanished", p);
    ck_assert_uint_eq(m, n);
    ck_assert_msg(memcmp(now, old, n) == 0, "%s changed", p);
    free(now);
    ck_assert_int_eq(count_temp_files(), 0);
}

START_TEST(atomic_missing_directory) {
    genrep_st_entry e[4];
    entries3(e);
    char p[512];
    snprintf(p, sizeof p, "%s/no/such/dir/w.safetensors", tmpdir);
    ck_assert_int_eq(genrep_st_write(p, e, 3, NULL, 0), GENREP_ERR_IO);
    const char *m = genrep_last_error();
    ck_assert_ptr_nonnull(strstr(m, "cannot create the temp file"));
    ck_assert_ptr_nonnull(strstr(m, "No such file or directory"));
    ck_assert_ptr_nonnull(strstr(m, p));
}
END_TEST

START_TEST(atomic_nonfinite_keeps_old) {
    char p[512];
    snprintf(p, sizeof p, "%s/old_nan.safetensors", tmpdir);
    unsigned char *old; size_t n;
    make_old(p, &old, &n);
    genrep_st_entry e[4];
    entries3(e);
    float bad[4] = {1, 2, NAN, 4};
    e[1].data = bad;
    ck_assert_int_eq(genrep_st_write(p, e, 3, NULL, 0), GENREP_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), "tensor 'net.1.bias': non-finite value at element 2"));
    assert_unchanged(p, old, n);
    free(old);
    unlink(p);
}
END_TEST

/* rename() fails (the target is a directory): the temp file is removed. */
START_TEST(atomic_rename_failure) {
    char p[512];
    snprintf(p, sizeof p, "%s/target_dir", tmpdir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    genrep_st_entry e[4];
    entries3(e);
    ck_assert_int_eq(genrep_st_write(p, e, 3, NULL, 0), GENREP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), "previous file, if any, is unchanged"));
    struct stat sb;
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
    ck_assert_int_eq(count_temp_files(), 0);
    rmdir(p);
}
END_TEST

/* write() fails half-way (file size limit, EFBIG): old file intact, no temp. */
START_TEST(atomic_write_failure_midway) {
    char p[512];
    snprintf(p, sizeof p, "%s/old_fsize.safetensors", tmpdir);
    unsigned char *old; size_t n;
    make_old(p, &old, &n);
    enum { BIG = 1 << 16 };
    float *big = calloc(BIG, sizeof(float));
    genrep_st_entry e[1];
    memset(e, 0, sizeof e);
    e[0].name = "big"; e[0].ndim = 1; e[0].shape[0] = BIG; e[0].data = big;
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old_lim, lim;
    getrlimit(RLIMIT_FSIZE, &old_lim);
    lim = old_lim;
    lim.rlim_cur = 4096;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    genrep_status s = genrep_st_write(p, e, 1, NULL, 0);
    setrlimit(RLIMIT_FSIZE, &old_lim);
    ck_assert_int_eq(s, GENREP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), "writing failed"));
    assert_unchanged(p, old, n);
    free(big); free(old);
    unlink(p);
}
END_TEST

/* A read-only directory (meaningful only without root, which ignores modes). */
START_TEST(atomic_readonly_directory) {
    if (geteuid() == 0) return;
    char d[512], p[600];
    snprintf(d, sizeof d, "%s/ro", tmpdir);
    ck_assert_int_eq(mkdir(d, 0755), 0);
    snprintf(p, sizeof p, "%s/w.safetensors", d);
    unsigned char *old; size_t n;
    make_old(p, &old, &n);
    chmod(d, 0555);
    genrep_st_entry e[4];
    entries3(e);
    genrep_status s = genrep_st_write(p, e, 3, NULL, 0);
    chmod(d, 0755);
    ck_assert_int_eq(s, GENREP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), "Permission denied"));
    assert_unchanged(p, old, n);
    free(old);
    unlink(p); rmdir(d);
}
END_TEST

/* Reading: a file that does not exist is an I/O error naming it. */
START_TEST(open_missing_file) {
    genrep_st *st = NULL;
    ck_assert_int_eq(genrep_st_open(&st, "/nonexistent/x.safetensors", 0), GENREP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), "/nonexistent/x.safetensors"));
    ck_assert_ptr_null(st);
    ck_assert_int_eq(genrep_st_open(NULL, "x", 0), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_st_open(&st, tmpdir, 0), GENREP_ERR_IO); /* a directory */
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), "not a regular file"));
}
END_TEST

static int write_corpus(const char *dir) {
    char p[1024];
    for (int i = 0; i < NCASES; i++) {
        size_t n;
        unsigned char *b = case_bytes(&cases[i], &n);
        snprintf(p, sizeof p, "%s/%s", dir, cases[i].name);
        FILE *f = fopen(p, "wb");
        if (!f) { perror(p); return 1; }
        fwrite(b, 1, n, f);
        fclose(f);
        free(b);
    }
    genrep_st_entry e[4];
    entries3(e);
    snprintf(p, sizeof p, "%s/good_written", dir);
    if (genrep_st_write(p, e, 4, meta, 3)) { fprintf(stderr, "%s\n", genrep_last_error()); return 1; }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--write-corpus")) return write_corpus(argv[2]);
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/genrep_st_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("loader");
    tcase_add_loop_test(tc, loader_rule, 0, NCASES);
    tcase_add_test(tc, nonfinite_allowed);
    tcase_add_test(tc, good_file_contents);
    tcase_add_test(tc, widening_known_values);
    tcase_add_test(tc, open_missing_file);
    suite_add_tcase(s, tc);
    TCase *tw = tcase_create("writer");
    tcase_add_test(tw, round_trip);
    tcase_add_test(tw, writer_exact_bytes);
    tcase_add_test(tw, writer_rejects_bad_input);
    tcase_add_test(tw, expect_names_and_shapes);
    tcase_add_test(tw, atomic_missing_directory);
    tcase_add_test(tw, atomic_nonfinite_keeps_old);
    tcase_add_test(tw, atomic_rename_failure);
    tcase_add_test(tw, atomic_write_failure_midway);
    tcase_add_test(tw, atomic_readonly_directory);
    suite_add_tcase(s, tw);
    int rc = tu_run(s);
    rmdir(tmpdir);
    return rc;
}
