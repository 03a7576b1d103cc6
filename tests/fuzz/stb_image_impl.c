/* Debian's stb_image (libstb-dev header, the source of its libstb.so),
   compiled into fuzz_image with ASan and coverage, so the fuzzer sees
   inside the decoders. Built with
   -fno-sanitize=pointer-overflow,nonnull-attribute,shift-exponent:
   stb 2.27 forms NULL + 0 and calls memcpy(NULL, p, 0) for a PNG whose first
   IDAT chunk is empty, and on a corrupt JPEG entropy stream lets
   code_bits go negative so stbi__grow_buffer_unsafe shifts by more than 31
   (stb_image.h:2065, found by the smoke on 2026-12-07: "shift exponent 39";
   the decoded pixels of such a file are garbage, memory stays in bounds,
   which ASan keeps checking). Both are stb's, not genrep.h's to fix; every
   other sanitizer check stays on. */
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
