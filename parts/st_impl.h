/* parts/st_impl.h: development fragment of genrep.h, inlined before release */

/* --------------------------------------------------------- [SAFETENSORS] */
/* Reader: the whole file is read with one fread into one buffer, the JSON
   header is parsed by a schema-directed strict parser (the profile allows
   exactly three nesting levels: top object -> tensor object -> array, so
   the parser has no recursion and its depth is bounded by construction),
   every rule is checked, and only then one slab is allocated for the
   handle: struct, tensor table, name index, strings, and the widened F32
   data of every tensor at a 64-byte aligned address. Numbers are parsed
   digit by digit as unsigned 64-bit integers, never through a double.
   Writer: everything is validated and the whole file laid out in memory
   first (genrep__st_serialize), then written to a temp file beside the
   target with write(), fsync'd, renamed over the target, and the directory
   fsync'd; any failure unlinks the temp file and leaves the target as it was. */

#include <errno.h>
#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#define GENREP__ST_POSIX 1
#endif

struct genrep_st {
    int               ntensors, nmeta;
    genrep_st_tensor *tensors;  /* (ntensors) in data-section order */
    int              *by_name;  /* (ntensors) indices into tensors, sorted by name */
    const char      **meta;     /* (2*nmeta) key, value, ... sorted by key */
};

/* dtype table: name, bytes per element, supported by this profile */
typedef struct { const char *name; int size; int supported; } genrep__st_dtype;
static const genrep__st_dtype genrep__st_dtypes[] = {
    {"F32", 4, 1}, {"F16", 2, 1}, {"BF16", 2, 1},
    {"F64", 8, 0}, {"I64", 8, 0}, {"I32", 4, 0}, {"I16", 2, 0}, {"I8", 1, 0},
    {"U64", 8, 0}, {"U32", 4, 0}, {"U16", 2, 0}, {"U8", 1, 0}, {"BOOL", 1, 0},
    {"F8_E4M3", 1, 0}, {"F8_E5M2", 1, 0}, {"F8_E8M0", 1, 0}, {"C64", 8, 0},
};
enum { GENREP__ST_F32 = 0, GENREP__ST_F16 = 1, GENREP__ST_BF16 = 2 };

/* One tensor entry of the header while parsing (strings live in the pool). */
typedef struct {
    const char *name;
    int         dtype, ndim;
    uint64_t    shape[GENREP_ST_MAX_RANK];
    uint64_t    begin, end, numel;
} genrep__st_rec;

typedef struct {
    const unsigned char *p, *start, *end; /* header bytes being parsed */
    char           *pool;                 /* unescaped strings, NUL-terminated */
    size_t          pool_used;
    const char     *file;                 /* for messages */
    genrep__st_rec *recs;
    int             nrecs, caprecs;
    const char    **meta;                 /* key, value pairs */
    int             nmeta, capmeta;
    int             have_meta;
} genrep__st_parser;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static genrep_status genrep__st_fail(const char *file, genrep_status s, const char *fmt, ...) {
    char detail[448];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return genrep__fail(s, "safetensors '%.200s': %s", file ? file : "<memory>", detail);
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF.
   Returns the offset of the first bad byte, or n if all is well. */
static size_t genrep__utf8_check(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        int len; unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
        else return i;
        if (n - i < (size_t)len) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (int k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
        i += (size_t)len;
    }
    return n;
}

static void genrep__st_ws(genrep__st_parser *P) {
    while (P->p < P->end && (*P->p == ' ' || *P->p == '\t' || *P->p == '\n' || *P->p == '\r')) P->p++;
}

static size_t genrep__st_pos(const genrep__st_parser *P) { return (size_t)(P->p - P->start); }

/* What the next JSON value is, for messages. */
static const char *genrep__st_kind(const genrep__st_parser *P) {
    if (P->p >= P->end) return "end of header";
    switch (*P->p) {
    case '"': return "a string";
    case '{': return "an object";
    case '[': return "an array";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    case '-': return "a negative number";
    default: return (*P->p >= '0' && *P->p <= '9') ? "a number" : "an invalid character";
    }
}

static genrep_status genrep__st_expect(genrep__st_parser *P, char c, const char *where) {
    genrep__st_ws(P);
    if (P->p >= P->end || *P->p != (unsigned char)c)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON at header byte %zu: expected '%c' %s, got %s",
                               genrep__st_pos(P), c, where, genrep__st_kind(P));
    P->p++;
    return GENREP_OK;
}

static int genrep__st_hex4(const unsigned char *s, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        *v = *v * 16 + d;
    }
    return 1;
}

/* Parse a JSON string at P->p (after whitespace) into the pool; *out points
   at the NUL-terminated unescaped text. The pool holds header_len + 1 bytes,
   enough because every string shrinks when unescaped and loses its quotes. */
static genrep_status genrep__st_string(genrep__st_parser *P, const char **out, const char *what) {
    genrep__st_ws(P);
    if (P->p >= P->end || *P->p != '"')
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON at header byte %zu: expected %s (a string), got %s",
                               genrep__st_pos(P), what, genrep__st_kind(P));
    size_t at = genrep__st_pos(P);
    P->p++;
    char *dst = P->pool + P->pool_used, *d = dst;
    for (;;) {
        if (P->p >= P->end)
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: string at header byte %zu is not terminated", at);
        unsigned c = *P->p++;
        if (c == '"') break;
        if (c < 0x20)
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: unescaped control character 0x%02x in string at header byte %zu", c, at);
        if (c != '\\') { *d++ = (char)c; continue; }
        if (P->p >= P->end)
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: string at header byte %zu is not terminated", at);
        c = *P->p++;
        switch (c) {
        case '"': *d++ = '"'; break;
        case '\\': *d++ = '\\'; break;
        case '/': *d++ = '/'; break;
        case 'b': *d++ = '\b'; break;
        case 'f': *d++ = '\f'; break;
        case 'n': *d++ = '\n'; break;
        case 'r': *d++ = '\r'; break;
        case 't': *d++ = '\t'; break;
        case 'u': {
            unsigned u, u2;
            if (P->end - P->p < 4 || !genrep__st_hex4(P->p, &u))
                return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: bad \\u escape in string at header byte %zu", at);
            P->p += 4;
            if (u >= 0xDC00 && u <= 0xDFFF)
                return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: lone low surrogate \\u%04X in string at header byte %zu", u, at);
            if (u >= 0xD800 && u <= 0xDBFF) {
                /* a high surrogate must be followed by \uDC00..\uDFFF */
                if (P->end - P->p < 6 || P->p[0] != '\\' || P->p[1] != 'u' || !genrep__st_hex4(P->p + 2, &u2)
                    || u2 < 0xDC00 || u2 > 0xDFFF)
                    return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: unpaired surrogate \\u%04X in string at header byte %zu", u, at);
                P->p += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (u2 - 0xDC00);
            }
            if (u == 0)
                return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "string at header byte %zu contains NUL (\\u0000), not allowed in names", at);
            if (u < 0x80) *d++ = (char)u;
            else if (u < 0x800) { *d++ = (char)(0xC0 | (u >> 6)); *d++ = (char)(0x80 | (u & 0x3F)); }
            else if (u < 0x10000) {
                *d++ = (char)(0xE0 | (u >> 12)); *d++ = (char)(0x80 | ((u >> 6) & 0x3F)); *d++ = (char)(0x80 | (u & 0x3F));
            } else {
                *d++ = (char)(0xF0 | (u >> 18)); *d++ = (char)(0x80 | ((u >> 12) & 0x3F));
                *d++ = (char)(0x80 | ((u >> 6) & 0x3F)); *d++ = (char)(0x80 | (u & 0x3F));
            }
            break;
        }
        default:
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: bad escape '\\%c' in string at header byte %zu",
                                   c >= 0x20 && c < 0x7F ? (char)c : '?', at);
        }
    }
    *d++ = '\0';
    P->pool_used += (size_t)(d - dst);
    *out = dst;
    return GENREP_OK;
}

/* An unsigned integer, digit by digit: no sign, fraction, exponent, leading
   zero, or value above 2^64-1. what/name say where it is for messages. */
static genrep_status genrep__st_u64(genrep__st_parser *P, uint64_t *v, const char *what, const char *name) {
    genrep__st_ws(P);
    const char *bad = NULL;
    if (P->p < P->end && *P->p == '-') bad = "negative number";
    else if (P->p >= P->end || *P->p < '0' || *P->p > '9')
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': %s: malformed integer: expected an integer at header byte %zu, got %s",
                               name, what, genrep__st_pos(P), genrep__st_kind(P));
    else if (*P->p == '0' && P->end - P->p > 1 && P->p[1] >= '0' && P->p[1] <= '9') bad = "leading zero";
    if (bad)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': %s: malformed integer (%s) at header byte %zu",
                               name, what, bad, genrep__st_pos(P));
    uint64_t x = 0;
    size_t at = genrep__st_pos(P);
    while (P->p < P->end && *P->p >= '0' && *P->p <= '9') {
        unsigned dgt = (unsigned)(*P->p - '0');
        if (x > (UINT64_MAX - dgt) / 10)
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': %s: malformed integer (larger than 2^64-1) at header byte %zu",
                                   name, what, at);
        x = x * 10 + dgt;
        P->p++;
    }
    if (P->p < P->end && (*P->p == '.' || *P->p == 'e' || *P->p == 'E'))
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': %s: malformed integer (%s) at header byte %zu",
                               name, what, *P->p == '.' ? "fractional number" : "exponent", at);
    *v = x;
    return GENREP_OK;
}

/* "[u64, u64, ...]" with at most maxn entries (rank limit for shapes). */
static genrep_status genrep__st_u64_array(genrep__st_parser *P, uint64_t *v, int *n, int maxn,
                                          const char *what, const char *name) {
    genrep__st_ws(P);
    if (P->p >= P->end || *P->p != '[')
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': field '%s' must be an array of integers, got %s",
                               name, what, genrep__st_kind(P));
    P->p++;
    *n = 0;
    genrep__st_ws(P);
    if (P->p < P->end && *P->p == ']') { P->p++; return GENREP_OK; }
    for (;;) {
        uint64_t x = 0;
        genrep_status s = genrep__st_u64(P, &x, what, name);
        if (s) return s;
        if (*n == maxn)
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': %s has more than %d entries%s", name, what, maxn,
                                   maxn == GENREP_ST_MAX_RANK ? " (rank above the limit)" : "");
        v[(*n)++] = x;
        genrep__st_ws(P);
        if (P->p < P->end && *P->p == ',') { P->p++; continue; }
        if (P->p < P->end && *P->p == ']') { P->p++; return GENREP_OK; }
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON at header byte %zu: expected ',' or ']' in '%s' of tensor '%.64s', got %s",
                               genrep__st_pos(P), what, name, genrep__st_kind(P));
    }
}

/* Grow a temporary array (GENREP_MALLOC has no realloc). */
static int genrep__st_grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return 1;
    int nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > INT32_MAX / 2) return 0;
        nc *= 2;
    }
    void *q = genrep_alloc((size_t)nc * elem);
    if (!q) return 0;
    if (*arr) { memcpy(q, *arr, (size_t)*cap * elem); genrep_free(*arr); }
    *arr = q; *cap = nc;
    return 1;
}

/* Per-tensor rules that need the whole entry: fields present, dtype known
   and supported, shape x dtype size without overflow, offsets ordered and
   matching the byte size, inside the data section. */
static genrep_status genrep__st_check_rec(genrep__st_parser *P, genrep__st_rec *r, unsigned seen,
                                          const char *dtype, uint64_t data_size) {
    static const char *fields[3] = {"dtype", "shape", "data_offsets"};
    for (int f = 0; f < 3; f++)
        if (!(seen & (1u << f)))
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': missing field '%s'", r->name, fields[f]);
    r->dtype = -1;
    for (int i = 0; i < (int)(sizeof genrep__st_dtypes / sizeof genrep__st_dtypes[0]); i++)
        if (!strcmp(dtype, genrep__st_dtypes[i].name)) r->dtype = i;
    if (r->dtype < 0)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': unknown dtype '%.32s'", r->name, dtype);
    if (!genrep__st_dtypes[r->dtype].supported)
        return genrep__st_fail(P->file, GENREP_ERR_UNSUPPORTED, "tensor '%.64s': dtype %s is not supported (this profile reads F32, F16, BF16)",
                               r->name, dtype);
    /* numel and bytes in 64 bits; every dim must also fit int64 */
    uint64_t numel = 1;
    int zero = 0;
    for (int i = 0; i < r->ndim; i++) zero |= r->shape[i] == 0;
    for (int i = 0; i < r->ndim; i++) {
        uint64_t d = r->shape[i];
        if (d > (uint64_t)INT64_MAX || (!zero && d && numel > (uint64_t)INT64_MAX / d))
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': shape x dtype size overflows 64 bits (dim %d = %llu)",
                                   r->name, i, (unsigned long long)d);
        numel *= d;
    }
    uint64_t es = (uint64_t)genrep__st_dtypes[r->dtype].size;
    if (numel > (uint64_t)INT64_MAX / es)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': shape x dtype size overflows 64 bits", r->name);
    r->numel = numel;
    if (r->begin > r->end)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': data_offsets begin %llu > end %llu", r->name,
                               (unsigned long long)r->begin, (unsigned long long)r->end);
    if (r->end - r->begin != numel * es)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT,
                               "tensor '%.64s': byte size mismatch: data_offsets span %llu bytes, shape x %s needs %llu",
                               r->name, (unsigned long long)(r->end - r->begin), dtype, (unsigned long long)(numel * es));
    if (r->end > data_size)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT,
                               "tensor '%.64s': data_offsets [%llu, %llu] out of range: the data section has %llu bytes (truncated file?)",
                               r->name, (unsigned long long)r->begin, (unsigned long long)r->end, (unsigned long long)data_size);
    return GENREP_OK;
}

/* {"dtype": "...", "shape": [...], "data_offsets": [b, e]} in any order. */
static genrep_status genrep__st_tensor_entry(genrep__st_parser *P, const char *name, uint64_t data_size) {
    genrep_status s;
    genrep__st_ws(P);
    if (P->p >= P->end || *P->p != '{')
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': entry must be an object, got %s", name, genrep__st_kind(P));
    P->p++;
    if (!genrep__st_grow((void **)&P->recs, &P->caprecs, P->nrecs + 1, sizeof(genrep__st_rec)))
        return genrep__st_fail(P->file, GENREP_ERR_NOMEM, "out of memory parsing the header");
    genrep__st_rec *r = &P->recs[P->nrecs++];
    memset(r, 0, sizeof *r);
    r->name = name;
    unsigned seen = 0;
    const char *dtype = "";
    genrep__st_ws(P);
    if (P->p < P->end && *P->p == '}') P->p++;
    else for (;;) {
        const char *key;
        if ((s = genrep__st_string(P, &key, "a field name"))) return s;
        if ((s = genrep__st_expect(P, ':', "after a field name"))) return s;
        int f = !strcmp(key, "dtype") ? 0 : !strcmp(key, "shape") ? 1 : !strcmp(key, "data_offsets") ? 2 : -1;
        if (f < 0)
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': unknown field '%.32s'", name, key);
        if (seen & (1u << f))
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': duplicate key '%s'", name, key);
        seen |= 1u << f;
        if (f == 0) {
            genrep__st_ws(P);
            if (P->p >= P->end || *P->p != '"')
                return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': dtype must be a string, got %s", name, genrep__st_kind(P));
            if ((s = genrep__st_string(P, &dtype, "a dtype"))) return s;
        } else if (f == 1) {
            if ((s = genrep__st_u64_array(P, r->shape, &r->ndim, GENREP_ST_MAX_RANK, "shape", name))) return s;
        } else {
            uint64_t off[3]; int n;
            if ((s = genrep__st_u64_array(P, off, &n, 3, "data_offsets", name))) return s;
            if (n != 2)
                return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "tensor '%.64s': data_offsets must have 2 entries, has %d", name, n);
            r->begin = off[0]; r->end = off[1];
        }
        genrep__st_ws(P);
        if (P->p < P->end && *P->p == ',') { P->p++; continue; }
        if (P->p < P->end && *P->p == '}') { P->p++; break; }
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON at header byte %zu: expected ',' or '}' in tensor '%.64s', got %s",
                               genrep__st_pos(P), name, genrep__st_kind(P));
    }
    return genrep__st_check_rec(P, r, seen, dtype, data_size);
}

/* "__metadata__": {"key": "value", ...}, values strings only. */
static genrep_status genrep__st_metadata(genrep__st_parser *P) {
    genrep_status s;
    genrep__st_ws(P);
    if (P->p >= P->end || *P->p != '{')
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "__metadata__ must be an object of strings, got %s", genrep__st_kind(P));
    P->p++;
    genrep__st_ws(P);
    if (P->p < P->end && *P->p == '}') { P->p++; return GENREP_OK; }
    for (;;) {
        const char *key, *val;
        if ((s = genrep__st_string(P, &key, "a __metadata__ key"))) return s;
        if ((s = genrep__st_expect(P, ':', "after a __metadata__ key"))) return s;
        genrep__st_ws(P);
        if (P->p >= P->end || *P->p != '"')
            return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "__metadata__ value for key '%.64s' is not a string (got %s)", key,
                                   genrep__st_kind(P));
        if ((s = genrep__st_string(P, &val, "a __metadata__ value"))) return s;
        if (!genrep__st_grow((void **)&P->meta, &P->capmeta, 2 * P->nmeta + 2, sizeof(const char *)))
            return genrep__st_fail(P->file, GENREP_ERR_NOMEM, "out of memory parsing the header");
        P->meta[2 * P->nmeta] = key; P->meta[2 * P->nmeta + 1] = val;
        P->nmeta++;
        genrep__st_ws(P);
        if (P->p < P->end && *P->p == ',') { P->p++; continue; }
        if (P->p < P->end && *P->p == '}') { P->p++; return GENREP_OK; }
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON at header byte %zu: expected ',' or '}' in __metadata__, got %s",
                               genrep__st_pos(P), genrep__st_kind(P));
    }
}

/* The top-level object. */
static genrep_status genrep__st_header(genrep__st_parser *P, uint64_t data_size) {
    genrep_status s;
    genrep__st_ws(P);
    if (P->p >= P->end || *P->p != '{')
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "header is not a JSON object (starts with %s)", genrep__st_kind(P));
    P->p++;
    genrep__st_ws(P);
    if (P->p < P->end && *P->p == '}') P->p++;
    else for (;;) {
        const char *key;
        if ((s = genrep__st_string(P, &key, "a tensor name"))) return s;
        if ((s = genrep__st_expect(P, ':', "after a tensor name"))) return s;
        if (!strcmp(key, "__metadata__")) {
            if (P->have_meta) return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "duplicate key '__metadata__'");
            P->have_meta = 1;
            if ((s = genrep__st_metadata(P))) return s;
        } else if ((s = genrep__st_tensor_entry(P, key, data_size))) {
            return s;
        }
        genrep__st_ws(P);
        if (P->p < P->end && *P->p == ',') { P->p++; continue; }
        if (P->p < P->end && *P->p == '}') { P->p++; break; }
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON at header byte %zu: expected ',' or '}' after a tensor entry, got %s",
                               genrep__st_pos(P), genrep__st_kind(P));
    }
    genrep__st_ws(P);
    if (P->p != P->end)
        return genrep__st_fail(P->file, GENREP_ERR_FORMAT, "invalid JSON: trailing characters after the header object at header byte %zu",
                               genrep__st_pos(P));
    return GENREP_OK;
}

static int genrep__st_cmp_name(const void *a, const void *b) {
    return strcmp((*(const genrep__st_rec *const *)a)->name, (*(const genrep__st_rec *const *)b)->name);
}
static int genrep__st_cmp_offset(const void *a, const void *b) {
    const genrep__st_rec *x = *(const genrep__st_rec *const *)a, *y = *(const genrep__st_rec *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}
static int genrep__st_cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static uint16_t genrep__st_ld16(const unsigned char *b) { return (uint16_t)(b[0] | (b[1] << 8)); }
static uint32_t genrep__st_ld32(const unsigned char *b) {
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}
static float genrep__st_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* IEEE binary16 -> binary32, exact (subnormals, inf, NaN payload kept). */
static float genrep__f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0x1F) return genrep__st_bits(sign | 0x7F800000u | (m << 13));
    if (e) return genrep__st_bits(sign | ((e + 112) << 23) | (m << 13));
    float f = (float)m * 0x1p-24f; /* subnormal: m * 2^-24, exact */
    return sign ? -f : f;
}

static int genrep__st_cmp_tensor(const void *a, const void *b) {
    return strcmp((*(const genrep_st_tensor *const *)a)->name, (*(const genrep_st_tensor *const *)b)->name);
}

/* After the header parsed: cross-tensor rules, then the slab. order and
   tidx are caller-owned scratch (nt + 1 entries each); *out gets the slab
   as soon as it exists so the caller frees it on failure. */
static genrep_status genrep__st_build(genrep__st_parser *P, const unsigned char *data, uint64_t data_size, int flags,
                                      genrep__st_rec **order, const genrep_st_tensor **tidx, genrep_st **out) {
    const char *file = P->file;
    int nt = P->nrecs, nm = P->nmeta;
    /* duplicates, compared after unescaping */
    for (int i = 0; i < nt; i++) order[i] = &P->recs[i];
    qsort(order, (size_t)nt, sizeof *order, genrep__st_cmp_name);
    for (int i = 1; i < nt; i++)
        if (!strcmp(order[i]->name, order[i - 1]->name))
            return genrep__st_fail(file, GENREP_ERR_FORMAT, "duplicate tensor name '%.64s'", order[i]->name);
    if (nm > 1) qsort(P->meta, (size_t)nm, 2 * sizeof(const char *), genrep__st_cmp_str);
    for (int i = 1; i < nm; i++)
        if (!strcmp(P->meta[2 * i], P->meta[2 * i - 2]))
            return genrep__st_fail(file, GENREP_ERR_FORMAT, "duplicate key '%.64s' in __metadata__", P->meta[2 * i]);

    /* the data section is tiled exactly: sorted by offset, each tensor
       starts where the previous one ended, the last ends at the file end */
    qsort(order, (size_t)nt, sizeof *order, genrep__st_cmp_offset);
    uint64_t pos = 0;
    for (int i = 0; i < nt; i++) {
        const genrep__st_rec *r = order[i];
        if (r->begin < pos)
            return genrep__st_fail(file, GENREP_ERR_FORMAT, "tensor '%.64s' [%llu, %llu] overlaps tensor '%.64s' (ends at %llu)", r->name,
                                   (unsigned long long)r->begin, (unsigned long long)r->end, order[i - 1]->name, (unsigned long long)pos);
        if (r->begin > pos)
            return genrep__st_fail(file, GENREP_ERR_FORMAT, "hole in the data section: bytes [%llu, %llu) before tensor '%.64s' belong to no tensor",
                                   (unsigned long long)pos, (unsigned long long)r->begin, r->name);
        pos = r->end;
    }
    if (pos != data_size)
        return genrep__st_fail(file, GENREP_ERR_FORMAT, "trailing bytes: %llu bytes after the last tensor's data",
                               (unsigned long long)(data_size - pos));

    /* one slab: struct | tensors | by_name | meta | strings | 64-aligned data */
    size_t off_ten = (sizeof(genrep_st) + 63) & ~(size_t)63;
    size_t off_idx = off_ten + (size_t)nt * sizeof(genrep_st_tensor);
    size_t off_meta = (off_idx + (size_t)nt * sizeof(int) + 7) & ~(size_t)7;
    size_t off_str = off_meta + 2 * (size_t)nm * sizeof(char *);
    size_t off_data = (off_str + P->pool_used + 63) & ~(size_t)63, total = off_data;
    for (int i = 0; i < nt; i++) total += ((size_t)order[i]->numel * sizeof(float) + 63) & ~(size_t)63;
    unsigned char *slab = (unsigned char *)genrep_alloc(total);
    if (!slab) return genrep__st_fail(file, GENREP_ERR_NOMEM, "out of memory: %zu bytes for the tensors", total);
    genrep_st *st = (genrep_st *)(void *)slab;
    *out = st;
    st->ntensors = nt; st->nmeta = nm;
    st->tensors = (genrep_st_tensor *)(void *)(slab + off_ten);
    st->by_name = (int *)(void *)(slab + off_idx);
    st->meta = (const char **)(void *)(slab + off_meta);
    char *strs = (char *)(slab + off_str);
    memcpy(strs, P->pool, P->pool_used);
    size_t dpos = off_data;
    for (int i = 0; i < nt; i++) {
        const genrep__st_rec *r = order[i];
        genrep_st_tensor *t = &st->tensors[i];
        memset(t, 0, sizeof *t);
        t->name = strs + (r->name - P->pool);
        t->dtype = genrep__st_dtypes[r->dtype].name;
        t->ndim = r->ndim;
        for (int k = 0; k < r->ndim; k++) t->shape[k] = (int64_t)r->shape[k];
        t->numel = (int64_t)r->numel;
        float *dst = (float *)(void *)(slab + dpos);
        t->data = dst;
        dpos += ((size_t)r->numel * sizeof(float) + 63) & ~(size_t)63;
        const unsigned char *src = data + r->begin;
        size_t cnt = (size_t)r->numel;
        /* byte-wise little-endian loads: right on any host, a plain load on x86 */
        if (r->dtype == GENREP__ST_F32) for (size_t k = 0; k < cnt; k++) dst[k] = genrep__st_bits(genrep__st_ld32(src + 4 * k));
        else if (r->dtype == GENREP__ST_F16) for (size_t k = 0; k < cnt; k++) dst[k] = genrep__f16_to_f32(genrep__st_ld16(src + 2 * k));
        else for (size_t k = 0; k < cnt; k++) dst[k] = genrep__st_bits((uint32_t)genrep__st_ld16(src + 2 * k) << 16);
        if (!(flags & GENREP_ST_ALLOW_NONFINITE))
            for (size_t k = 0; k < cnt; k++)
                if (!isfinite(dst[k]))
                    return genrep__st_fail(file, GENREP_ERR_NONFINITE,
                                           "tensor '%.64s': non-finite value %s at element %zu (pass GENREP_ST_ALLOW_NONFINITE to accept)",
                                           r->name, isnan(dst[k]) ? "NaN" : dst[k] > 0 ? "+Inf" : "-Inf", k);
    }
    /* name index for genrep_st_find */
    for (int i = 0; i < nt; i++) tidx[i] = &st->tensors[i];
    qsort(tidx, (size_t)nt, sizeof *tidx, genrep__st_cmp_tensor);
    for (int i = 0; i < nt; i++) st->by_name[i] = (int)(tidx[i] - st->tensors);
    for (int i = 0; i < 2 * nm; i++) st->meta[i] = strs + (P->meta[i] - P->pool);
    return GENREP_OK;
}

/* Parse and validate bytes[0, n) and build the handle. */
static genrep_status genrep__st_parse(genrep_st **out, const unsigned char *bytes, size_t n, int flags, const char *file) {
    *out = NULL;
    if (n < 8)
        return genrep__st_fail(file, GENREP_ERR_FORMAT, "file too short: %zu bytes, the 8-byte header length is missing", n);
    uint64_t hlen = (uint64_t)genrep__st_ld32(bytes) | ((uint64_t)genrep__st_ld32(bytes + 4) << 32);
    /* compare without forming 8 + hlen, which could wrap */
    if (hlen > GENREP_ST_MAX_HEADER)
        return genrep__st_fail(file, GENREP_ERR_FORMAT, "header length %llu exceeds the cap of %llu bytes",
                               (unsigned long long)hlen, (unsigned long long)GENREP_ST_MAX_HEADER);
    if (hlen > (uint64_t)(n - 8))
        return genrep__st_fail(file, GENREP_ERR_FORMAT, "header length %llu exceeds the file (%zu bytes after the length)",
                               (unsigned long long)hlen, n - 8);
    const unsigned char *hdr = bytes + 8;
    size_t bad = genrep__utf8_check(hdr, (size_t)hlen);
    if (bad != (size_t)hlen)
        return genrep__st_fail(file, GENREP_ERR_FORMAT, "header is not valid UTF-8 (byte %zu)", bad);
    uint64_t data_size = (uint64_t)(n - 8 - (size_t)hlen);

    genrep__st_parser P;
    memset(&P, 0, sizeof P);
    P.file = file;
    P.start = P.p = hdr; P.end = hdr + hlen;
    P.pool = (char *)genrep_alloc((size_t)hlen + 1);
    if (!P.pool) return genrep__st_fail(file, GENREP_ERR_NOMEM, "out of memory for a %llu-byte header", (unsigned long long)hlen);
    genrep_status s = genrep__st_header(&P, data_size);
    genrep__st_rec **order = NULL;
    const genrep_st_tensor **tidx = NULL;
    if (!s) {
        order = (genrep__st_rec **)genrep_alloc(((size_t)P.nrecs + 1) * sizeof *order);
        tidx = (const genrep_st_tensor **)genrep_alloc(((size_t)P.nrecs + 1) * sizeof *tidx);
        if (!order || !tidx) s = genrep__st_fail(file, GENREP_ERR_NOMEM, "out of memory for %d tensors", P.nrecs);
        else s = genrep__st_build(&P, hdr + hlen, data_size, flags, order, tidx, out);
    }
    if (s && *out) { genrep_free(*out); *out = NULL; }
    genrep_free(P.pool); genrep_free(P.recs); genrep_free((void *)P.meta);
    genrep_free(order); genrep_free((void *)tidx);
    return s;
}

GENREP_API genrep_status genrep_st_open_memory(genrep_st **out, const void *bytes, size_t n, int flags, const char *name) {
    GENREP__CHECK_PTR(out);
    *out = NULL;
    if (!bytes && n) return genrep__fail(GENREP_ERR_ARG, "genrep_st_open_memory: bytes is NULL");
    if (flags & ~GENREP_ST_ALLOW_NONFINITE) return genrep__fail(GENREP_ERR_ARG, "genrep_st_open_memory: unknown flags 0x%x", (unsigned)flags);
    return genrep__st_parse(out, (const unsigned char *)bytes, n, flags, name);
}

GENREP_API genrep_status genrep_st_open(genrep_st **out, const char *path, int flags) {
    GENREP__CHECK_PTR(out);
    *out = NULL;
    GENREP__CHECK_PTR(path);
    if (flags & ~GENREP_ST_ALLOW_NONFINITE) return genrep__fail(GENREP_ERR_ARG, "genrep_st_open: unknown flags 0x%x", (unsigned)flags);
#ifdef GENREP__ST_POSIX
    struct stat sb; /* a directory opens with fopen and reports a huge size */
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) return genrep__st_fail(path, GENREP_ERR_IO, "not a regular file");
#endif
    FILE *f = fopen(path, "rb");
    if (!f) return genrep__st_fail(path, GENREP_ERR_IO, "cannot open: %s", strerror(errno));
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) { fclose(f); return genrep__st_fail(path, GENREP_ERR_IO, "cannot determine the file size"); }
    unsigned char *buf = (unsigned char *)genrep_alloc((size_t)len);
    if (!buf) { fclose(f); return genrep__st_fail(path, GENREP_ERR_NOMEM, "out of memory reading %ld bytes", len); }
    size_t got = fread(buf, 1, (size_t)len, f); /* the one read */
    int err = ferror(f);
    fclose(f);
    if (got != (size_t)len || err) { genrep_free(buf); return genrep__st_fail(path, GENREP_ERR_IO, "read %zu of %ld bytes", got, len); }
    genrep_status s = genrep__st_parse(out, buf, (size_t)len, flags, path);
    genrep_free(buf);
    return s;
}

GENREP_API void genrep_st_close(genrep_st *st) { genrep_free(st); }
GENREP_API int genrep_st_count(const genrep_st *st) { return st ? st->ntensors : 0; }
GENREP_API const genrep_st_tensor *genrep_st_get(const genrep_st *st, int i) {
    return st && i >= 0 && i < st->ntensors ? &st->tensors[i] : NULL;
}

GENREP_API const genrep_st_tensor *genrep_st_find(const genrep_st *st, const char *name) {
    if (!st || !name) return NULL;
    int lo = 0, hi = st->ntensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const genrep_st_tensor *t = &st->tensors[st->by_name[mid]];
        int c = strcmp(name, t->name);
        if (!c) return t;
        if (c < 0) hi = mid - 1; else lo = mid + 1;
    }
    return NULL;
}

GENREP_API const char *genrep_st_meta(const genrep_st *st, const char *key) {
    if (!st || !key) return NULL;
    int lo = 0, hi = st->nmeta - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(key, st->meta[2 * mid]);
        if (!c) return st->meta[2 * mid + 1];
        if (c < 0) hi = mid - 1; else lo = mid + 1;
    }
    return NULL;
}

GENREP_API int genrep_st_meta_count(const genrep_st *st) { return st ? st->nmeta : 0; }
GENREP_API void genrep_st_meta_get(const genrep_st *st, int i, const char **key, const char **value) {
    int ok = st && i >= 0 && i < st->nmeta;
    if (key) *key = ok ? st->meta[2 * i] : NULL;
    if (value) *value = ok ? st->meta[2 * i + 1] : NULL;
}

/* Append "name [d0, d1]" style text to a message buffer, truncating with "...". */
static void genrep__st_msg(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
    if (*len + 4 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if (*len + (size_t)k >= cap - 4) { strcpy(buf + cap - 4, "..."); *len = cap; return; }
    *len += (size_t)k;
}

static void genrep__st_shape_str(char *s, size_t cap, int ndim, const int64_t *shape) {
    size_t l = 0;
    l += (size_t)snprintf(s, cap, "[");
    for (int i = 0; i < ndim && l < cap; i++) l += (size_t)snprintf(s + l, cap - l, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (l < cap) snprintf(s + l, cap - l, "]");
}

GENREP_API genrep_status genrep_st_expect(const genrep_st *st, const genrep_st_spec *specs, int n) {
    GENREP__CHECK_PTR(st);
    GENREP__CHECK_NONNEG(n);
    if (n && !specs) return genrep__fail(GENREP_ERR_ARG, "genrep_st_expect: specs is NULL");
    unsigned char *used = (unsigned char *)genrep_alloc((size_t)st->ntensors + 1);
    if (!used) return genrep__fail(GENREP_ERR_NOMEM, "genrep_st_expect: out of memory");
    memset(used, 0, (size_t)st->ntensors + 1);
    char msg[400]; size_t len = 0; msg[0] = '\0';
    int missing = 0, extra = 0, wrong = 0;
    for (int i = 0; i < n; i++) {
        const genrep_st_tensor *t = genrep_st_find(st, specs[i].name);
        if (!t) {
            genrep__st_msg(msg, sizeof msg, &len, "%smissing tensor '%.64s'", len ? "; " : "", specs[i].name ? specs[i].name : "(null)");
            missing++;
            continue;
        }
        used[t - st->tensors] = 1;
        int same = t->ndim == specs[i].ndim;
        for (int k = 0; same && k < t->ndim; k++) same = t->shape[k] == specs[i].shape[k];
        if (!same) {
            char a[96], b[96];
            genrep__st_shape_str(a, sizeof a, t->ndim, t->shape);
            genrep__st_shape_str(b, sizeof b, specs[i].ndim < 0 ? 0 : specs[i].ndim > GENREP_ST_MAX_RANK ? GENREP_ST_MAX_RANK : specs[i].ndim,
                                 specs[i].shape);
            genrep__st_msg(msg, sizeof msg, &len, "%swrong shape: tensor '%.64s' is %s, the model expects %s", len ? "; " : "", t->name, a, b);
            wrong++;
        }
    }
    for (int i = 0; i < st->ntensors; i++)
        if (!used[i]) {
            genrep__st_msg(msg, sizeof msg, &len, "%sunexpected tensor '%.64s'", len ? "; " : "", st->tensors[i].name);
            extra++;
        }
    genrep_free(used);
    if (!missing && !extra && !wrong) return GENREP_OK;
    return genrep__fail(missing || extra ? GENREP_ERR_FORMAT : GENREP_ERR_SHAPE,
                        "genrep_st_expect: %d missing, %d unexpected, %d wrong shape: %s", missing, extra, wrong, msg);
}

/* ---- writer ---- */

/* Append s as a JSON string (quotes, escapes) to buf at *len; buf may be
   NULL to count. s is valid UTF-8 (checked by the caller). */
static void genrep__st_put(char *buf, size_t *len, const char *s, size_t n) {
    if (buf) memcpy(buf + *len, s, n);
    *len += n;
}
static void genrep__st_put_str(char *buf, size_t *len, const char *s) {
    genrep__st_put(buf, len, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[8];
        if (*p == '"' || *p == '\\') { e[0] = '\\'; e[1] = (char)*p; genrep__st_put(buf, len, e, 2); }
        else if (*p < 0x20) { snprintf(e, sizeof e, "\\u%04x", *p); genrep__st_put(buf, len, e, 6); }
        else genrep__st_put(buf, len, (const char *)p, 1);
    }
    genrep__st_put(buf, len, "\"", 1);
}
static void genrep__st_put_u64(char *buf, size_t *len, uint64_t v) {
    char t[24];
    int k = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    genrep__st_put(buf, len, t, (size_t)k);
}

/* The header JSON, padded with spaces to a multiple of 8; buf NULL counts. */
static size_t genrep__st_header_json(char *buf, const genrep_st_entry *e, int n, const char *const *kv, int nm) {
    size_t len = 0;
    uint64_t off = 0;
    genrep__st_put(buf, &len, "{", 1);
    if (nm > 0) {
        genrep__st_put_str(buf, &len, "__metadata__");
        genrep__st_put(buf, &len, ":{", 2);
        for (int i = 0; i < nm; i++) {
            if (i) genrep__st_put(buf, &len, ",", 1);
            genrep__st_put_str(buf, &len, kv[2 * i]);
            genrep__st_put(buf, &len, ":", 1);
            genrep__st_put_str(buf, &len, kv[2 * i + 1]);
        }
        genrep__st_put(buf, &len, "}", 1);
    }
    for (int i = 0; i < n; i++) {
        if (i || nm > 0) genrep__st_put(buf, &len, ",", 1);
        genrep__st_put_str(buf, &len, e[i].name);
        genrep__st_put(buf, &len, ":{\"dtype\":\"F32\",\"shape\":[", 25);
        uint64_t numel = 1;
        for (int k = 0; k < e[i].ndim; k++) {
            if (k) genrep__st_put(buf, &len, ",", 1);
            genrep__st_put_u64(buf, &len, (uint64_t)e[i].shape[k]);
            numel *= (uint64_t)e[i].shape[k];
        }
        genrep__st_put(buf, &len, "],\"data_offsets\":[", 18);
        genrep__st_put_u64(buf, &len, off);
        genrep__st_put(buf, &len, ",", 1);
        off += numel * 4;
        genrep__st_put_u64(buf, &len, off);
        genrep__st_put(buf, &len, "]}", 2);
    }
    genrep__st_put(buf, &len, "}", 1);
    while (len % 8) genrep__st_put(buf, &len, " ", 1);
    return len;
}

/* Validate entries and metadata and lay out the whole file in one buffer
   (*out, *outn; the caller frees it with genrep_free): what genrep_st_write
   puts on disk, byte for byte. Checks what the reader will demand: unique
   UTF-8 names, not "__metadata__", rank <= 8, finite data. */
static genrep_status genrep__st_serialize(const char *path, const genrep_st_entry *entries, int n,
                                          const char *const *meta_kv, int n_meta, unsigned char **out, size_t *outn) {
    *out = NULL; *outn = 0;
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        const genrep_st_entry *e = &entries[i];
        if (!e->name) return genrep__st_fail(path, GENREP_ERR_ARG, "entry %d: name is NULL", i);
        size_t nl = strlen(e->name);
        if (genrep__utf8_check((const unsigned char *)e->name, nl) != nl)
            return genrep__st_fail(path, GENREP_ERR_ARG, "entry %d: name is not valid UTF-8", i);
        if (!strcmp(e->name, "__metadata__"))
            return genrep__st_fail(path, GENREP_ERR_ARG, "entry %d: '__metadata__' is reserved", i);
        if (e->ndim < 0 || e->ndim > GENREP_ST_MAX_RANK)
            return genrep__st_fail(path, GENREP_ERR_ARG, "tensor '%.64s': ndim %d outside 0..%d", e->name, e->ndim, GENREP_ST_MAX_RANK);
        uint64_t numel = 1;
        int zero = 0;
        for (int k = 0; k < e->ndim; k++) {
            if (e->shape[k] < 0)
                return genrep__st_fail(path, GENREP_ERR_ARG, "tensor '%.64s': shape[%d] = %lld is negative", e->name, k, (long long)e->shape[k]);
            zero |= e->shape[k] == 0;
        }
        for (int k = 0; k < e->ndim && !zero; k++) {
            if (numel > ((uint64_t)SIZE_MAX / 8) / (uint64_t)e->shape[k])
                return genrep__st_fail(path, GENREP_ERR_ARG, "tensor '%.64s': shape overflows", e->name);
            numel *= (uint64_t)e->shape[k];
        }
        if (zero) numel = 0;
        if (total + numel * 4 < total || total + numel * 4 > (uint64_t)SIZE_MAX / 2)
            return genrep__st_fail(path, GENREP_ERR_ARG, "tensor '%.64s': the file would be too large", e->name);
        total += numel * 4;
        if (numel && !e->data) return genrep__st_fail(path, GENREP_ERR_ARG, "tensor '%.64s': data is NULL", e->name);
        for (uint64_t k = 0; k < numel; k++)
            if (!isfinite(e->data[k]))
                return genrep__st_fail(path, GENREP_ERR_NONFINITE, "tensor '%.64s': non-finite value at element %llu, not written",
                                       e->name, (unsigned long long)k);
    }
    for (int i = 0; i < 2 * n_meta; i++) {
        if (!meta_kv[i]) return genrep__st_fail(path, GENREP_ERR_ARG, "metadata %s %d is NULL", i % 2 ? "value" : "key", i / 2);
        size_t l = strlen(meta_kv[i]);
        if (genrep__utf8_check((const unsigned char *)meta_kv[i], l) != l)
            return genrep__st_fail(path, GENREP_ERR_ARG, "metadata %s %d is not valid UTF-8", i % 2 ? "value" : "key", i / 2);
    }
    /* unique names and keys */
    const char **srt = (const char **)genrep_alloc(((size_t)(n > n_meta ? n : n_meta) + 1) * sizeof(char *));
    if (!srt) return genrep__fail(GENREP_ERR_NOMEM, "genrep_st_write: out of memory");
    genrep_status s = GENREP_OK;
    for (int i = 0; i < n; i++) srt[i] = entries[i].name;
    qsort(srt, (size_t)n, sizeof *srt, genrep__st_cmp_str);
    for (int i = 1; i < n && !s; i++)
        if (!strcmp(srt[i], srt[i - 1])) s = genrep__st_fail(path, GENREP_ERR_ARG, "duplicate tensor name '%.64s'", srt[i]);
    for (int i = 0; i < n_meta; i++) srt[i] = meta_kv[2 * i];
    qsort(srt, (size_t)n_meta, sizeof *srt, genrep__st_cmp_str);
    for (int i = 1; i < n_meta && !s; i++)
        if (!strcmp(srt[i], srt[i - 1])) s = genrep__st_fail(path, GENREP_ERR_ARG, "duplicate metadata key '%.64s'", srt[i]);
    genrep_free((void *)srt);
    if (s) return s;

    size_t hlen = genrep__st_header_json(NULL, entries, n, meta_kv, n_meta);
    if ((uint64_t)hlen > GENREP_ST_MAX_HEADER)
        return genrep__st_fail(path, GENREP_ERR_ARG, "header of %zu bytes exceeds the cap", hlen);
    size_t len = 8 + hlen + (size_t)total;
    unsigned char *buf = (unsigned char *)genrep_alloc(len);
    if (!buf) return genrep__st_fail(path, GENREP_ERR_NOMEM, "out of memory for a %zu-byte file", len);
    for (int k = 0; k < 8; k++) buf[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
    genrep__st_header_json((char *)buf + 8, entries, n, meta_kv, n_meta);
    /* data, little-endian, contiguous in entry order (what the header says) */
    unsigned char *d = buf + 8 + hlen;
    for (int i = 0; i < n; i++) {
        uint64_t numel = 1;
        for (int k = 0; k < entries[i].ndim; k++) numel *= (uint64_t)entries[i].shape[k];
        for (uint64_t k = 0; k < numel; k++, d += 4) {
            uint32_t u;
            memcpy(&u, &entries[i].data[k], 4);
            d[0] = (unsigned char)u; d[1] = (unsigned char)(u >> 8); d[2] = (unsigned char)(u >> 16); d[3] = (unsigned char)(u >> 24);
        }
    }
    GENREP_ASSERT(d == buf + len);
    *out = buf; *outn = len;
    return GENREP_OK;
}

#ifdef GENREP__ST_POSIX
static int genrep__st_write_all(int fd, const unsigned char *b, size_t n) {
    while (n) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return 0;
        b += k; n -= (size_t)k;
    }
    return 1;
}
#endif

GENREP_API genrep_status genrep_st_write(const char *path, const genrep_st_entry *entries, int n,
                                         const char *const *meta_kv, int n_meta) {
    GENREP__CHECK_PTR(path);
    GENREP__CHECK_NONNEG(n);
    GENREP__CHECK_NONNEG(n_meta);
    if (n && !entries) return genrep__fail(GENREP_ERR_ARG, "genrep_st_write: entries is NULL");
    if (n_meta && !meta_kv) return genrep__fail(GENREP_ERR_ARG, "genrep_st_write: meta_kv is NULL");
    /* everything is validated and laid out before the file system is touched */
    unsigned char *buf;
    size_t len;
    genrep_status s = genrep__st_serialize(path, entries, n, meta_kv, n_meta, &buf, &len);
    if (s) return s;
    size_t plen = strlen(path);
    char *tmp = (char *)genrep_alloc(plen + 48);
    if (!tmp) { genrep_free(buf); return genrep__fail(GENREP_ERR_NOMEM, "genrep_st_write: out of memory"); }
#ifdef GENREP__ST_POSIX
    /* temp file next to the target, so rename() stays within one file system
       and replaces the target atomically */
    static GENREP__TLS unsigned genrep__st_tmp_counter; /* per thread; O_EXCL settles collisions */
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        snprintf(tmp, plen + 48, "%s.tmp.%ld.%u", path, (long)getpid(), genrep__st_tmp_counter++);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        s = genrep__st_fail(path, GENREP_ERR_IO, "cannot create the temp file '%.200s': %s", tmp, strerror(errno));
        genrep_free(tmp); genrep_free(buf);
        return s;
    }
    int ok = genrep__st_write_all(fd, buf, len), err = ok ? 0 : errno;
    if (ok && fsync(fd) != 0) { ok = 0; err = errno; }
    if (close(fd) != 0 && ok) { ok = 0; err = errno; }
    if (ok && rename(tmp, path) != 0) { ok = 0; err = errno; }
    if (!ok) {
        unlink(tmp);
        s = genrep__st_fail(path, GENREP_ERR_IO, "writing failed (%s); the previous file, if any, is unchanged", strerror(err));
    } else {
        /* make the rename itself durable: fsync the directory (skipped where
           the file system cannot fsync directories) */
        const char *slash = strrchr(path, '/');
        if (slash) { size_t dl = (size_t)(slash - path); memcpy(tmp, path, dl ? dl : 1); tmp[dl ? dl : 1] = '\0'; }
        else strcpy(tmp, ".");
        int dfd = open(tmp, O_RDONLY);
        if (dfd >= 0) {
            if (fsync(dfd) != 0 && errno != EINVAL && errno != EROFS && errno != EBADF)
                s = genrep__st_fail(path, GENREP_ERR_IO, "written, but fsync of the directory failed: %s", strerror(errno));
            close(dfd);
        }
    }
#else
    /* no POSIX: stdio to a temp name, then replace (not atomic everywhere) */
    snprintf(tmp, plen + 48, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f != NULL;
    if (f) {
        ok = fwrite(buf, 1, len, f) == len;
        ok = fflush(f) == 0 && ok;
        ok = fclose(f) == 0 && ok;
        if (ok) { remove(path); ok = rename(tmp, path) == 0; }
        if (!ok) remove(tmp);
    }
    if (!ok) s = genrep__st_fail(path, GENREP_ERR_IO, "writing failed");
#endif
    genrep_free(tmp); genrep_free(buf);
    return s;
}
