/* trainer/impl.c: the one translation unit of the CLI that holds genrep.h's implementation. */
#define GENREP_IMPLEMENTATION
#include "trainer.h"
