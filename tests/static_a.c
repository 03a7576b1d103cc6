/* Two translation units, each with its own static copy of genrep.h, link together. */
#define GENREP_STATIC
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include <stdio.h>
int other_unit_gemm(void);
int main(void) {
    float a = 2, b = 3, c = 0;
    if (genrep_sgemm(0, 0, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1) || c != 6.0f) return 1;
    if (other_unit_gemm() != 0) return 1;
    printf("two static units ok\n");
    return 0;
}
