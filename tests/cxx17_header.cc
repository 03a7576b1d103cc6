// The header compiles as C++17 (declarations and implementation).
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include <cstdio>
int main() {
    float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 0, 1}, c[4] = {0, 0, 0, 0};
    if (genrep_sgemm(0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2) != GENREP_OK) return 1;
    if (c[0] != 1 || c[1] != 2 || c[2] != 3 || c[3] != 4) { std::printf("wrong result\n"); return 1; }
    std::printf("C++17 header ok (%s)\n", genrep_isa_name(genrep_get_isa()));
    return 0;
}
