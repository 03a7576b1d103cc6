#define GENREP_STATIC
#define GENREP_IMPLEMENTATION
#include "genrep.h"
int other_unit_gemm(void) {
    float a = 4, b = 5, c = 1;
    if (genrep_sgemm(0, 0, 1, 1, 1, 1.0f, &a, 1, &b, 1, 1.0f, &c, 1)) return 1;
    return c == 21.0f ? 0 : 1;
}
