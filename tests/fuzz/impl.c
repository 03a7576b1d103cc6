/* genrep.h's implementation, instrumented like the targets
   (-fsanitize=fuzzer-no-link), for the targets that use only its API:
   compiled once instead of once per target (see tests/fuzz/Makefile). */
#define _GNU_SOURCE
#define GENREP_IMAGE_IO
#define GENREP_IMPLEMENTATION
#include "genrep.h"
