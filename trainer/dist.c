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

static int pow2(int K) { return K > 0 && (K & (K - 1)) == 0; }

/* Small vectors (the BN sums). K a power of two: recursive doubling, the
   whole vector exchanged with rank r ^ d for d = 1, 2, 4, ..: after step d
   every rank holds the sum over its aligned block of 2d ranks, built as the
   perfect pairwise tree over ranks in rank order, the tree genrep.h's share
   mode continues (see dist.h). log2 K rounds of n doubles. Otherwise: gather
   all, add in rank order. */
genrep_status dist_bn_sync(void *user, double *v, int n) {
    (void)user;
    const int K = dist.size;
    double t0 = start();
    if (pow2(K)) {
        double *in = (double *)grow(sizeof(double) * (size_t)n);
        for (int d = 1; d < K; d <<= 1) {
            if (MPI_Sendrecv(v, n, MPI_DOUBLE, dist.rank ^ d, 7, in, n, MPI_DOUBLE, dist.rank ^ d, 7, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE) != MPI_SUCCESS) return GENREP_ERR_IO;
            for (int i = 0; i < n; i++) v[i] = v[i] + in[i];
            dist.calls++;
        }
    } else {
        double *all = (double *)grow(sizeof(double) * (size_t)n * K);
        if (MPI_Allgather(v, n, MPI_DOUBLE, all, n, MPI_DOUBLE, MPI_COMM_WORLD) != MPI_SUCCESS) return GENREP_ERR_IO;
        for (int i = 0; i < n; i++) {
            double s = all[i];
            for (int r = 1; r < K; r++) s += all[(size_t)r * n + i];
            v[i] = s;
        }
        dist.calls++;
    }
    dist.comm_s += MPI_Wtime() - t0;
    dist.bytes_reduced += sizeof(double) * (size_t)n;
    return GENREP_OK;
}

/* K a power of two: the same tree for a long vector at ring traffic
   (Rabenseifner): a reduce-scatter by recursive halving, nearest rank
   first (d = 1, 2, ..: the lower rank of each pair keeps the lower half of
   the current segment, receives the partner's copy of it and adds), so the
   segment a rank ends with holds the perfect tree over all ranks; then the
   segments are gathered back by recursive doubling in the reverse order.
   2 (K-1)/K of the vector sent per rank. */
static void allreduce_tree(float *v, size_t n) {
    const int K = dist.size, me = dist.rank;
    size_t lo[32], hi[32];
    size_t a = 0, b = n;
    int steps = 0;
    float *in = (float *)grow(sizeof(float) * (n / 2 + 1));
    for (int d = 1; d < K; d <<= 1, steps++) {
        const size_t mid = a + (b - a) / 2;
        const int upper = (me & d) != 0;
        const size_t ka = upper ? mid : a, kb = upper ? b : mid, sa = upper ? a : mid, sb = upper ? mid : b;
        lo[steps] = a; hi[steps] = b;
        MPI_Sendrecv(v + sa, (int)(sb - sa), MPI_FLOAT, me ^ d, 8, in, (int)(kb - ka), MPI_FLOAT, me ^ d, 8,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        for (size_t i = 0; i < kb - ka; i++) v[ka + i] = v[ka + i] + in[i];
        a = ka; b = kb;
    }
    for (int st = steps - 1; st >= 0; st--) { /* back up: send what I own, receive the partner's half */
        const int d = 1 << st, upper = (me & d) != 0;
        const size_t oa = upper ? lo[st] : b, ob = upper ? a : hi[st]; /* the partner's half */
        MPI_Sendrecv(v + a, (int)(b - a), MPI_FLOAT, me ^ d, 9, v + oa, (int)(ob - oa), MPI_FLOAT, me ^ d, 9,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        a = lo[st]; b = hi[st];
    }
    dist.calls += 2 * (uint64_t)steps;
}

/* Gradients: a reduce-scatter by hand (MPI_Alltoallv: rank j receives
   everyone's slice j and adds the K pieces in rank order), then an
   all-gather of the summed slices. The same traffic as a ring all-reduce,
   2 (K-1)/K of the vector per rank. */
void dist_allreduce_sum(float *v, size_t n) {
    const int K = dist.size, me = dist.rank;
    if (K == 1 || n == 0) return;
    double t0 = start();
    if (pow2(K) && n < ((size_t)1 << 31)) {
        allreduce_tree(v, n);
        dist.comm_s += MPI_Wtime() - t0;
        dist.bytes_reduced += sizeof(float) * n;
        return;
    }
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
