/* trainer/dist.c: see dist.h. */
#include "dist.h"
#include "common.h"
#include <stdlib.h>
#include <string.h>

dist_state dist = {0, 1, 0.0, 0.0, 0, 0, 0};

#if defined(GENREP_MPI) && GENREP_MPI
#include <mpi.h>

static int split_wait; /* GENREP_MPI_WAIT=1 */
/* MPI_Wtime, after a timed barrier under GENREP_MPI_WAIT=1 */
static double start(void) {
    double t = MPI_Wtime();
    if (split_wait) { MPI_Barrier(MPI_COMM_WORLD); dist.wait_s += MPI_Wtime() - t; }
    return t;
}

static void *scratch;   /* grown on demand; the trainer runs one step at a time */
static size_t scratch_n;
static void *grow(size_t bytes) {
    if (bytes > scratch_n) { scratch = xrealloc(scratch, bytes, "MPI scratch"); scratch_n = bytes; }
    return scratch;
}

void dist_init(int *argc, char ***argv) {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &dist.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &dist.size);
    const char *w = getenv("GENREP_MPI_WAIT");
    split_wait = w && !strcmp(w, "1");
}

void dist_finalize(void) {
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
    free(scratch); scratch = NULL; scratch_n = 0;
}

/* Small vectors (the BN sums): gather all, add in rank order. */
genrep_status dist_bn_sync(void *user, double *v, int n) {
    (void)user;
    const int K = dist.size;
    double t0 = start(), *all = (double *)grow(sizeof(double) * (size_t)n * K);
    if (MPI_Allgather(v, n, MPI_DOUBLE, all, n, MPI_DOUBLE, MPI_COMM_WORLD) != MPI_SUCCESS) return GENREP_ERR_IO;
    for (int i = 0; i < n; i++) {
        double s = all[i];
        for (int r = 1; r < K; r++) s += all[(size_t)r * n + i];
        v[i] = s;
    }
    dist.comm_s += MPI_Wtime() - t0;
    dist.bytes_reduced += sizeof(double) * (size_t)n;
    dist.calls++;
    return GENREP_OK;
}

/* Gradients: a reduce-scatter by hand (MPI_Alltoallv: rank j receives
   everyone's slice j and adds the K pieces in rank order), then an
   all-gather of the summed slices. The same traffic as a ring all-reduce,
   2 (K-1)/K of the vector per rank. */
void dist_allreduce_sum(float *v, size_t n) {
    const int K = dist.size, me = dist.rank;
    if (K == 1 || n == 0) return;
    double t0 = start();
    int *cnt = (int *)xmalloc(sizeof(int) * 4 * (size_t)K, "MPI counts"), *off = cnt + K, *rc = cnt + 2 * K, *ro = cnt + 3 * K;
    size_t done = 0;
    const size_t chunk = (size_t)1 << 28; /* int counts: at most 2^28 floats per round */
    while (done < n) {
        const size_t m = n - done < chunk ? n - done : chunk;
        for (int r = 0; r < K; r++) {
            off[r] = (int)(m * r / K);
            cnt[r] = (int)(m * (r + 1) / K) - off[r];
        }
        const int mine = cnt[me];
        for (int r = 0; r < K; r++) { rc[r] = mine; ro[r] = r * mine; }
        float *pieces = (float *)grow(sizeof(float) * ((size_t)mine * K + 1));
        MPI_Alltoallv(v + done, cnt, off, MPI_FLOAT, pieces, rc, ro, MPI_FLOAT, MPI_COMM_WORLD);
        float *dst = v + done + off[me];
        for (int i = 0; i < mine; i++) {
            float s = pieces[i];
            for (int r = 1; r < K; r++) s += pieces[(size_t)r * mine + i];
            dst[i] = s;
        }
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, v + done, cnt, off, MPI_FLOAT, MPI_COMM_WORLD);
        done += m;
    }
    free(cnt);
    dist.comm_s += MPI_Wtime() - t0;
    dist.bytes_reduced += sizeof(float) * n;
    dist.calls += 2;
}

void dist_allgather(void *out, const void *in, size_t bytes) {
    double t0 = start();
    if (bytes > (size_t)1 << 30) { fprintf(stderr, "genrep train: all-gather of %zu bytes per rank is over 1 GiB\n", bytes); dist_abort(1); }
    MPI_Allgather(in, (int)bytes, MPI_BYTE, out, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
    dist.comm_s += MPI_Wtime() - t0;
    dist.bytes_gathered += bytes * (size_t)dist.size;
    dist.calls++;
}

void dist_bcast(void *buf, size_t bytes) {
    if (dist.size == 1) return;
    for (size_t done = 0; done < bytes;) { /* int counts: 1 GiB per call */
        size_t m = bytes - done < ((size_t)1 << 30) ? bytes - done : ((size_t)1 << 30);
        MPI_Bcast((char *)buf + done, (int)m, MPI_BYTE, 0, MPI_COMM_WORLD);
        done += m;
    }
}

int dist_max(int v) {
    if (dist.size == 1) return v;
    double t0 = MPI_Wtime();
    int r = v;
    MPI_Allreduce(&v, &r, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    dist.comm_s += MPI_Wtime() - t0;
    dist.calls++;
    return r;
}

void dist_abort(int code) {
    fflush(stdout); fflush(stderr);
    if (dist.size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

#else /* one process: nothing to exchange */

void dist_init(int *argc, char ***argv) { (void)argc; (void)argv; }
void dist_finalize(void) {}
genrep_status dist_bn_sync(void *user, double *v, int n) { (void)user; (void)v; (void)n; return GENREP_OK; }
void dist_allreduce_sum(float *v, size_t n) { (void)v; (void)n; }
void dist_allgather(void *out, const void *in, size_t bytes) { if (out != in) memmove(out, in, bytes); }
void dist_bcast(void *buf, size_t bytes) { (void)buf; (void)bytes; }
int  dist_max(int v) { return v; }
void dist_abort(int code) { fflush(stdout); fflush(stderr); exit(code); }
#endif
