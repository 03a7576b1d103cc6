/* Shared by the libFuzzer harnesses: the failure macro, and the input as a
   file (a memfd read back through /proc/self/fd/N, no disk involved). */
#ifndef GENREP_FUZZ_UTIL_H
#define GENREP_FUZZ_UTIL_H
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_REQUIRE(x) do { if (!(x)) __builtin_trap(); } while (0)

static inline void fuzz_write_all(int fd, const uint8_t *p, size_t n) {
    while (n) { ssize_t w = write(fd, p, n); FUZZ_REQUIRE(w > 0); p += w; n -= (size_t)w; }
}

/* An empty memfd named name; path receives its /proc/self/fd path. Close the fd when done.
   (memfd_create: the harness defines _GNU_SOURCE before its first include.) */
static inline int fuzz_memfd(const char *name, char path[64]) {
    int fd = memfd_create(name, 0);
    FUZZ_REQUIRE(fd >= 0);
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}
#endif
