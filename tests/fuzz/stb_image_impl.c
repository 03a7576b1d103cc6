/* Debian's stb_image (libstb-dev header, the source of its libstb.so),
   compiled into fuzz_image with ASan and coverage, so the fuzzer sees
   inside the decoders. Built with -fno-sanitize=pointer-overflow,nonnull-attribute:
   stb 2.27 forms NULL + 0 and calls memcpy(NULL, p, 0) for a PNG whose first
   IDAT chunk is empty (harmless, and not genrep.h's to fix); every other
   sanitizer check stays on. */
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
