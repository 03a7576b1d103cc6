/* tests/mpi_ckpt_diff.c: how far apart two checkpoints are, for tests/mpi.sh.
   usage: mpi_ckpt_diff A.safetensors B.safetensors TOL
   Per tensor the relative distance max|a - b| / max|b| (the tensor's own
   scale: element-wise ratios blow up at values near 0); prints the largest
   and its tensor, exits 0 when it is <= TOL, 1 when larger or when the files
   hold different tensors, 2 on a bad file. The weights are compared (the
   encoder's parameters and BN running statistics, the head); the optimiser
   state (optim.*, a running average of gradients, which jump where a ReLU
   flips) is reported on a second line, not judged. */
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s A.safetensors B.safetensors TOL\n", argv[0]); return 2; }
    genrep_st *a, *b;
    if (genrep_st_open(&a, argv[1], 0)) { fprintf(stderr, "%s: %s\n", argv[1], genrep_last_error()); return 2; }
    if (genrep_st_open(&b, argv[2], 0)) { fprintf(stderr, "%s: %s\n", argv[2], genrep_last_error()); return 2; }
    double worst = 0, oworst = 0, tol = atof(argv[3]), d2 = 0, n2 = 0;
    const char *wname = "", *oname = "";
    int rc = genrep_st_count(a) == genrep_st_count(b) ? 0 : 1;
    for (int i = 0; !rc && i < genrep_st_count(a); i++) {
        const genrep_st_tensor *x = genrep_st_get(a, i), *y = genrep_st_find(b, x->name);
        if (!y || y->numel != x->numel) { fprintf(stderr, "%s: not in %s or another shape\n", x->name, argv[2]); rc = 1; break; }
        double d = 0, m = 0;
        for (int64_t k = 0; k < x->numel; k++) {
            double e = fabs((double)x->data[k] - y->data[k]);
            if (strncmp(x->name, "optim.", 6)) { d2 += e * e; n2 += (double)y->data[k] * y->data[k]; }
            if (!(e <= d)) d = e; /* NaN counts as the largest */
            if (fabs(y->data[k]) > m) m = fabs(y->data[k]);
        }
        double r = m > 0 ? d / m : d;
        if (!strncmp(x->name, "optim.", 6)) { if (!(r <= oworst)) { oworst = r; oname = x->name; } }
        else if (!(r <= worst)) { worst = r; wname = x->name; }
    }
    if (rc) printf("different tensors\n");
    else printf("weights: |a-b|/|b| %.3g over all; per tensor max|a-b|/max|b| up to %.3g (%s); optimiser state %.3g (%s)\n",
                sqrt(d2 / (n2 > 0 ? n2 : 1)), worst, wname, oworst, oname);
    genrep_st_close(a); genrep_st_close(b);
    return rc ? 1 : worst <= tol ? 0 : 1;
}
