/* libFuzzer target for the view-pool file of `genrep train --pool`
   (pool_read in trainer/common.c): any file either matches the run and
   holds finite latents and labels in [0, ncls), or is refused. The run's
   expectation (anchors, neighbours, zdim, classes) is taken from the first
   input bytes, small, half the time equal to the file's own header so the
   fuzzer gets past it. A pool that loads is written back with pool_write
   and must read back identically. */
#define _GNU_SOURCE
#include "trainer/common.c"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    int A = 1 + data[0] % 16, N = 1 + data[1] % 8, Z = 1 + data[2] % 16, ncls = data[3] % 3 == 0 ? 0 : 1 + data[3] % 12;
    data += 4; size -= 4;
    uint32_t h[5];
    if (size >= 24 && (ncls & 1)) { /* follow the file's header when it is small */
        memcpy(h, data + 4, sizeof h);
        if (h[1] >= 1 && h[1] <= 64 && h[2] >= 1 && h[2] <= 16 && h[3] >= 1 && h[3] <= 64) {
            A = (int)h[1]; N = (int)h[2]; Z = (int)h[3];
            if (!h[4]) ncls = 0;
        }
    }
    char path[64];
    int fd = fuzz_memfd("pool", path);
    fuzz_write_all(fd, data, size);
    size_t nz = (size_t)A * (N + 1) * Z;
    pool_t p = {A, N, Z, (float *)malloc(nz * sizeof(float)), ncls ? (int32_t *)malloc((size_t)A * 4) : NULL, {0}};
    /* the settings key: the file's own half the time, so the fuzzer gets past it */
    if (size >= 24 + POOL_KEY_LEN && (data[0] & 1)) memcpy(p.key, data + 24, POOL_KEY_LEN);
    FUZZ_REQUIRE(p.z && (!ncls || p.y));
    if (pool_read(path, &p, A, N, Z, ncls) == 0) {
        for (size_t i = 0; i < nz; i++) FUZZ_REQUIRE(isfinite(p.z[i]));
        for (int i = 0; ncls && i < A; i++) FUZZ_REQUIRE(p.y[i] >= 0 && p.y[i] < ncls);
        /* round trip through the writer, in a private temp dir */
        char dir[] = "/tmp/fuzz_pool.XXXXXX", out[64];
        FUZZ_REQUIRE(mkdtemp(dir));
        snprintf(out, sizeof out, "%s/pool.bin", dir);
        FUZZ_REQUIRE(pool_write(out, &p) == 0);
        pool_t q = {A, N, Z, (float *)malloc(nz * sizeof(float)), ncls ? (int32_t *)malloc((size_t)A * 4) : NULL, {0}};
        memcpy(q.key, p.key, POOL_KEY_LEN); /* the same run's key reads back */
        FUZZ_REQUIRE(pool_read(out, &q, A, N, Z, ncls) == 0);
        FUZZ_REQUIRE(!memcmp(p.z, q.z, nz * sizeof(float)) && (!ncls || !memcmp(p.y, q.y, (size_t)A * 4)));
        free(q.z); free(q.y);
        unlink(out); rmdir(dir);
    }
    free(p.z); free(p.y);
    close(fd);
    return 0;
}
