/* libFuzzer target for the IDX reader (genrep_idx_read, plain or gzip):
   any bytes either load into a consistent genrep_idx or fail with a status
   and a message naming the file. The reader takes a path, so each input is
   written to a memfd and read as /proc/self/fd/N. The first byte picks the
   form: odd = the rest is gzip-compressed here first (so mutations reach the
   IDX parser behind zlib), even = the rest as it is (plain IDX, or gzip
   bytes from the seeds: zlib's header and CRC checks). */
#define _GNU_SOURCE
#include "genrep.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "tests/fuzz/fuzz_util.h"

static void write_gzip(int fd, const uint8_t *p, size_t n) {
    z_stream z; memset(&z, 0, sizeof z);
    FUZZ_REQUIRE(deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    uLong cap = deflateBound(&z, (uLong)n);
    uint8_t *out = (uint8_t *)malloc(cap + 1);
    FUZZ_REQUIRE(out);
    z.next_in = (Bytef *)p; z.avail_in = (uInt)n; z.next_out = out; z.avail_out = (uInt)cap;
    FUZZ_REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    fuzz_write_all(fd, out, z.total_out);
    deflateEnd(&z); free(out);
}

/* The reader allocates the payload the header declares (up to 2 GiB) before
   reading it; under ASan each such allocation costs ~0.1 s of shadow
   poisoning, so inputs declaring more than 1 MiB are skipped here (the
   reader's bound itself is tested in tests/test_data.c). */
static int declares_huge(const uint8_t *p, size_t n) {
    if (n < 4 || p[0] || p[1]) return 0;
    int es = p[2] == 0x08 || p[2] == 0x09 ? 1 : p[2] == 0x0B ? 2 : p[2] == 0x0C || p[2] == 0x0D ? 4 : 8;
    double bytes = es;
    for (int d = 0; d < p[3] && d < GENREP_IDX_MAX_DIMS && 4 + 4 * (size_t)d + 4 <= n; d++) {
        const uint8_t *b = p + 4 + 4 * d;
        bytes *= (double)(((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3]);
    }
    return bytes > (double)(1 << 20);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || declares_huge(data + 1, size - 1)) return 0;
    char path[64];
    int fd = fuzz_memfd("idx", path);
    if (data[0] & 1) write_gzip(fd, data + 1, size - 1);
    else fuzz_write_all(fd, data + 1, size - 1);
    genrep_idx x;
    genrep_status st = genrep_idx_read(&x, path);
    if (st == GENREP_OK) {
        FUZZ_REQUIRE(x.data && x.ndim >= 1 && x.ndim <= GENREP_IDX_MAX_DIMS);
        int64_t n = 1;
        for (int d = 0; d < GENREP_IDX_MAX_DIMS; d++) { FUZZ_REQUIRE(x.dims[d] >= 1); n *= x.dims[d]; }
        FUZZ_REQUIRE(n == x.numel && x.numel * x.elem_size <= GENREP_IDX_MAX_BYTES);
        volatile unsigned acc = 0; /* every byte readable */
        for (int64_t i = 0; i < x.numel * x.elem_size; i++) acc += ((const unsigned char *)x.data)[i];
        (void)acc;
        genrep_idx_free(&x);
    } else {
        FUZZ_REQUIRE(x.data == NULL);
        FUZZ_REQUIRE(strstr(genrep_last_error(), path) != NULL);
    }
    close(fd);
    return 0;
}
