/* libFuzzer target for the image path (genrep_image_decode / genrep_image_load,
   [IMAGE] in genrep.h): the guard that every image goes through before
   Debian's stb_image sees it (magic bytes: PNG or JPEG only, size cap,
   stbi_info_from_memory then the pixel cap, PNG inflate check, JPEG scan
   cap), then stb's PNG and JPEG decoders themselves. Any bytes either
   decode into w x h pixels within the caps, every byte readable, or fail
   with a message naming the input and no pixels. The first byte picks the
   entry and the channel count: bit 0 set = through a memfd file
   (genrep_image_load: regular-file open, fstat size cap, one read), clear =
   from memory; C = 1 + (byte >> 1) % 4.
   The caps are lowered here (1 MiB files, 2^16 pixels, 64 JPEG scans) so
   that one input costs milliseconds under ASan; the guard's code is the same.
   stb_image is linked into this harness from Debian's libstb-dev header
   (tests/fuzz/stb_image_impl.c, the same source as its libstb.so), so that
   its decoders carry ASan and libFuzzer's coverage: from the shared library
   they would be a black box the fuzzer cannot steer into. */
#define _GNU_SOURCE
#define GENREP_IMAGE_IO
#define GENREP_IMAGE_MAX_BYTES ((int64_t)1 << 20)
#define GENREP_IMAGE_MAX_PIXELS ((int64_t)1 << 16)
#define GENREP_IMAGE_MAX_SCANS 64
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include <string.h>
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int C = 1 + (data[0] >> 1) % 4, via_file = data[0] & 1;
    const uint8_t *b = data + 1;
    size_t n = size - 1;
    unsigned char *px = (unsigned char *)1;
    int w = -1, h = -1, fd = -1;
    char path[64] = "fuzz-input";
    genrep_status st;
    if (via_file) {
        fd = fuzz_memfd("image", path);
        fuzz_write_all(fd, b, n);
        st = genrep_image_load(&px, &w, &h, path, C);
    } else {
        st = genrep_image_decode(&px, &w, &h, b, n, C, path);
    }
    if (st == GENREP_OK) {
        FUZZ_REQUIRE(px && w >= 1 && h >= 1 && w <= GENREP_IMAGE_MAX_SIDE && h <= GENREP_IMAGE_MAX_SIDE);
        FUZZ_REQUIRE((int64_t)w * h <= GENREP_IMAGE_MAX_PIXELS);
        FUZZ_REQUIRE(n >= 8 && ((b[0] == 0x89 && b[1] == 'P') || (b[0] == 0xFF && b[1] == 0xD8)));
        volatile unsigned acc = 0; /* every byte readable */
        for (size_t i = 0; i < (size_t)w * h * C; i++) acc += px[i];
        (void)acc;
        genrep_image_free(px);
    } else {
        FUZZ_REQUIRE(px == NULL);
        FUZZ_REQUIRE(st == GENREP_ERR_FORMAT || st == GENREP_ERR_IO || st == GENREP_ERR_NOMEM);
        FUZZ_REQUIRE(strstr(genrep_last_error(), path) != NULL);
    }
    if (fd >= 0) close(fd);
    return 0;
}
