/* trainer/dist.h: data-parallel training over MPI ranks (genrep train under
   mpirun). Built with MPI only under `make MPI=1` (mpicc, -DGENREP_MPI=1);
   otherwise every call is the one-process version and nothing is linked.
   Horovod-style: every rank holds the whole model and its own share of the
   batch; what crosses ranks is
   - dist_bn_sync: the batch-norm sums of every BN layer, forward and
     backward (the encoder's bn_sync hook), 2C+1 doubles each;
   - dist_allgather_rows: the embeddings (and labels) of every rank's share,
     so the loss sees the whole batch;
   - dist_allreduce_sum: the gradients, before the optimiser step.
   Every sum runs in a fixed order and gives the same bits on every rank
   (the ranks must keep identical weights) whatever algorithm the MPI
   library would choose for MPI_Allreduce; reruns with the same K are
   bitwise identical. With K a power of two the sums are the pairwise tree
   over ranks in rank order ((r0 + r1) + (r2 + r3)) + ..: recursive doubling
   for the BN sums, a recursive-halving reduce-scatter (nearest rank first)
   and its mirror gather for the gradients. The encoder's share mode
   (genrep_encoder_set_share) makes each rank's sums the root of its subtree
   of the one-process tree over shares, so when every rank holds a power of
   two of shares the result is bitwise that of one process, whatever K. For
   other K: gathered and added in rank order, equal up to rounding. */
#ifndef GENREP_TRAINER_DIST_H
#define GENREP_TRAINER_DIST_H
#include "trainer.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int rank, size;            /* this process, and how many; 0 and 1 without MPI */
    double   comm_s;           /* seconds inside MPI calls (waiting for slower ranks included) */
    double   wait_s;           /* of which waiting at a barrier first: GENREP_MPI_WAIT=1 (benchmarks) */
    uint64_t bytes_reduced;    /* payload bytes of the vectors all-reduced (each counted once) */
    uint64_t bytes_gathered;   /* bytes of the all-gathered results */
    uint64_t calls;            /* collective calls */
} dist_state;
extern dist_state dist;

/* MPI_Init (once); rank and size. Safe to call without mpirun (size 1).
   GENREP_MPI_WAIT=1 puts a timed barrier before every collective, so
   comm_s - wait_s is the exchange alone (a benchmark switch: it costs a
   round trip per call). */
void dist_init(int *argc, char ***argv);
void dist_finalize(void);
/* The encoder's bn_sync hook: v (n doubles) = its sum over ranks (the tree above). */
genrep_status dist_bn_sync(void *user, double *v, int n);
/* v (n floats) = its sum over ranks (the tree above), same bits everywhere. */
void dist_allreduce_sum(float *v, size_t n);
/* out (size * bytes) = every rank's in (bytes), rank 0's first. */
void dist_allgather(void *out, const void *in, size_t bytes);
/* buf (bytes) = rank 0's buf. */
void dist_bcast(void *buf, size_t bytes);
/* The largest v over ranks (an agreement: errors, stop requests). */
int  dist_max(int v);
/* End every rank now with exit code (MPI_Abort; exit() with one process). */
void dist_abort(int code) __attribute__((noreturn));
#endif
