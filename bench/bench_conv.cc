// bench_conv.cc -- conv2d forward / backward through the C API (im2col + genrep_sgemm),
// GFLOP/s per ISA and thread count, and where the time goes (im2col, GEMM,
// scatter / col2im), plus the alternative batch layout (one GEMM per image,
// images in parallel) for comparison with the library's chunked big GEMM.
//   make -C bench run-conv                     (or build/bench/bench_conv --benchmark_repetitions=5)
// FLOPs: forward 2*N*K*C*R*S*P*Q; backward (dinp + dweight) twice that.
// The PyTorch peer is bench/conv_torch.py (same shapes, same session).
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include <benchmark/benchmark.h>
#include <algorithm>
#include <cstring>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

struct Shape { const char *name; int N, C, H, W, K, R, S, stride, pad; };
const Shape kShapes[] = {
    {"3x3_64to64_128x14x14", 128, 64, 14, 14, 64, 3, 3, 1, 1},
    {"3x3_128to128_128x7x7", 128, 128, 7, 7, 128, 3, 3, 1, 1},
};

struct Bufs {
    genrep_conv2d_desc d;
    float *x, *w, *b, *y, *dy, *dx, *dw, *db, *ws;
    size_t nws;
    explicit Bufs(const Shape &s) {
        genrep_conv2d_init(&d, s.N, s.C, s.H, s.W, s.K, s.R, s.S, s.stride, s.pad);
        size_t ni = (size_t)d.N * d.C * d.H * d.W, no = (size_t)d.N * d.K * d.P * d.Q,
               nw = (size_t)d.K * d.C * d.R * d.S;
        nws = genrep_conv2d_workspace(&d);
        x = rnd(ni, 1); w = rnd(nw, 2); b = rnd(d.K, 3); dy = rnd(no, 4);
        y = rnd(no, 5); dx = rnd(ni, 6); dw = rnd(nw, 7); db = rnd(d.K, 8);
        ws = rnd(nws, 9);
    }
    ~Bufs() { for (float *p : {x, w, b, y, dy, dx, dw, db, ws}) genrep_free(p); }
    static float *rnd(size_t n, uint64_t seed) {
        float *p = (float *)genrep_alloc(n * sizeof(float));
        genrep_rng r; genrep_rng_init(&r, seed, 0);
        for (size_t i = 0; i < n; i++) p[i] = genrep_rng_uniform(&r) - 0.5f;
        return p;
    }
    double fwd_flops() const { return 2.0 * d.N * d.K * d.C * d.R * d.S * d.P * d.Q; }
};

// Args: shape index, ISA, threads. Returns false (and skips) if the ISA is missing.
bool setup(benchmark::State &st) {
    if (genrep_set_isa((genrep_isa)st.range(1)) != GENREP_OK) { st.SkipWithError("ISA not available"); return false; }
    genrep_set_num_threads((int)st.range(2));
    st.SetLabel(std::string(kShapes[st.range(0)].name) + " " + genrep_isa_name(genrep_get_isa()) + " t" +
                std::to_string(st.range(2)));
    return true;
}
void gflops(benchmark::State &st, double flops) {
    st.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_conv2d_fwd(benchmark::State &st) {
    if (!setup(st)) return;
    Bufs B(kShapes[st.range(0)]);
    for (auto _ : st) {
        genrep_conv2d_forward(B.y, B.ws, B.x, B.w, B.b, &B.d);
        benchmark::ClobberMemory();
    }
    gflops(st, B.fwd_flops());
    st.counters["ws_MB"] = B.nws * 4.0 / 1e6;
}

void BM_conv2d_bwd(benchmark::State &st) {
    if (!setup(st)) return;
    Bufs B(kShapes[st.range(0)]);
    for (auto _ : st) {
        genrep_conv2d_backward(B.dx, B.dw, B.db, B.ws, B.dy, B.x, B.w, &B.d);
        benchmark::ClobberMemory();
    }
    gflops(st, 2 * B.fwd_flops());
}

// Where the forward's time goes: the same loop as genrep_conv2d_forward with
// one stage per benchmark (the other stages skipped). Arg 3 selects it:
// 0 im2col, 1 GEMM, 2 scatter (+bias).
void BM_conv2d_fwd_stage(benchmark::State &st) {
    if (!setup(st)) return;
    Bufs B(kShapes[st.range(0)]);
    const genrep_conv2d_desc &d = B.d;
    genrep__col_geom g = genrep__conv2d_geom(&d);
    const int CRS = d.C * d.R * d.S;
    const size_t PQ = (size_t)d.P * d.Q, CHW = (size_t)d.C * d.H * d.W;
    const int nb = genrep__conv_chunk(d.N, CRS, PQ);
    float *col = B.ws, *y = B.ws + (size_t)CRS * nb * PQ;
    const int stage = (int)st.range(3);
    static const char *names[] = {"im2col", "gemm", "scatter"};
    st.SetLabel(std::string(kShapes[st.range(0)].name) + " t" + std::to_string(st.range(2)) + " " + names[stage]);
    for (auto _ : st) {
        for (int n0 = 0; n0 < d.N; n0 += nb) {
            int m = d.N - n0 < nb ? d.N - n0 : nb, cols = (int)(m * PQ);
            if (stage == 0) genrep__im2col(col, cols, B.x + n0 * CHW, m, &g);
            if (stage == 1) genrep_sgemm(0, 0, d.K, cols, CRS, 1.0f, B.w, CRS, col, cols, 0.0f, y, cols);
            if (stage == 2) genrep__chunk_scatter(B.y + (size_t)n0 * d.K * PQ, y, B.b, 0, m, d.K, PQ);
        }
        benchmark::ClobberMemory();
    }
    if (stage == 1) gflops(st, B.fwd_flops());
}

// Backward stages: 0 gather dout, 1 im2col, 2 dweight GEMM, 3 dcol GEMM, 4 col2im, 5 dbias.
void BM_conv2d_bwd_stage(benchmark::State &st) {
    if (!setup(st)) return;
    Bufs B(kShapes[st.range(0)]);
    const genrep_conv2d_desc &d = B.d;
    genrep__col_geom g = genrep__conv2d_geom(&d);
    const int K = d.K, CRS = d.C * d.R * d.S;
    const size_t PQ = (size_t)d.P * d.Q, CHW = (size_t)d.C * d.H * d.W;
    const int nb = genrep__conv_chunk(d.N, CRS, PQ);
    float *col = B.ws, *dy = B.ws + (size_t)CRS * nb * PQ;
    const int stage = (int)st.range(3);
    static const char *names[] = {"gather", "im2col", "gemm_dweight", "gemm_dcol", "col2im", "dbias"};
    st.SetLabel(std::string(kShapes[st.range(0)].name) + " t" + std::to_string(st.range(2)) + " " + names[stage]);
    for (auto _ : st) {
        if (stage == 5) genrep__bias_grad(B.db, B.dy, d.N, K, PQ);
        else
            for (int n0 = 0; n0 < d.N; n0 += nb) {
                int m = d.N - n0 < nb ? d.N - n0 : nb, cols = (int)(m * PQ);
                if (stage == 0) genrep__chunk_gather(dy, B.dy + (size_t)n0 * K * PQ, m, K, PQ);
                if (stage == 1) genrep__im2col(col, cols, B.x + n0 * CHW, m, &g);
                if (stage == 2) genrep_sgemm(0, 1, K, CRS, cols, 1.0f, dy, cols, col, cols, 1.0f, B.dw, CRS);
                if (stage == 3) genrep_sgemm(1, 0, CRS, cols, K, 1.0f, B.w, CRS, dy, cols, 0.0f, col, cols);
                if (stage == 4) genrep__col2im_add(B.dx + n0 * CHW, col, cols, m, &g);
            }
        benchmark::ClobberMemory();
    }
    if (stage == 2 || stage == 3) gflops(st, B.fwd_flops());
}

// Chunk size: arg 3 is the im2col budget in K floats (1 = one image per
// chunk, 1024 = the default 4 MB, 1<<20 = the whole batch in one GEMM).
void BM_conv2d_fwd_budget(benchmark::State &st) {
    if (!setup(st)) return;
    size_t old = genrep__conv_col_budget;
    genrep__conv_col_budget = (size_t)st.range(3) * 1024;
    {
        Bufs B(kShapes[st.range(0)]);
        st.SetLabel(std::string(kShapes[st.range(0)].name) + " t" + std::to_string(st.range(2)) + " budget " +
                    std::to_string(st.range(3)) + "K floats, ws " + std::to_string(B.nws * 4 / 1000000) + " MB");
        for (auto _ : st) {
            genrep_conv2d_forward(B.y, B.ws, B.x, B.w, B.b, &B.d);
            benchmark::ClobberMemory();
        }
        gflops(st, B.fwd_flops());
    }
    genrep__conv_col_budget = old;
}

// The other layout: one (K, PQ) GEMM per image, images spread over threads
// (each GEMM runs single-threaded: genrep_sgemm does not nest), each thread
// with its own im2col slab. Not in the library: measured here to compare.
void BM_conv2d_fwd_per_image_parallel(benchmark::State &st) {
    if (!setup(st)) return;
    Bufs B(kShapes[st.range(0)]);
    const genrep_conv2d_desc &d = B.d;
    genrep__col_geom g = genrep__conv2d_geom(&d);
    const int K = d.K, CRS = d.C * d.R * d.S, nt = (int)st.range(2);
    const size_t PQ = (size_t)d.P * d.Q, CHW = (size_t)d.C * d.H * d.W;
    std::vector<float *> cols(nt);
    for (int t = 0; t < nt; t++) cols[t] = (float *)genrep_alloc((size_t)CRS * PQ * sizeof(float));
    for (auto _ : st) {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int n = 0; n < d.N; n++) {
#ifdef _OPENMP
            float *col = cols[omp_get_thread_num()];
#else
            float *col = cols[0];
#endif
            float *o = B.y + (size_t)n * K * PQ;
            genrep__im2col(col, PQ, B.x + n * CHW, 1, &g);
            for (int k = 0; k < K; k++) for (size_t j = 0; j < PQ; j++) o[k * PQ + j] = B.b[k];
            genrep_sgemm(0, 0, K, (int)PQ, CRS, 1.0f, B.w, CRS, col, (int)PQ, 1.0f, o, (int)PQ);
        }
        benchmark::ClobberMemory();
    }
    for (float *c : cols) genrep_free(c);
    gflops(st, B.fwd_flops());
}

// A third layout: the library's chunks (same size), but whole chunks spread
// over threads, each thread running im2col, a single-threaded GEMM and the
// scatter on its own slab: no barrier inside a forward, at the price of one
// workspace per thread. Not in the library: measured here to compare.
void BM_conv2d_fwd_chunk_parallel(benchmark::State &st) {
    if (!setup(st)) return;
    Bufs B(kShapes[st.range(0)]);
    const genrep_conv2d_desc &d = B.d;
    genrep__col_geom g = genrep__conv2d_geom(&d);
    const int K = d.K, CRS = d.C * d.R * d.S, nt = (int)st.range(2);
    const size_t PQ = (size_t)d.P * d.Q, CHW = (size_t)d.C * d.H * d.W;
    const int nb = genrep__conv_chunk(d.N, CRS, PQ), nchunks = (d.N + nb - 1) / nb;
    std::vector<float *> slabs(nt);
    for (int t = 0; t < nt; t++) slabs[t] = (float *)genrep_alloc(B.nws * sizeof(float));
    for (auto _ : st) {
#pragma omp parallel for schedule(static, 1) num_threads(nt)
        for (int ch = 0; ch < nchunks; ch++) {
#ifdef _OPENMP
            float *col = slabs[omp_get_thread_num()];
#else
            float *col = slabs[0];
#endif
            float *y = col + (size_t)CRS * nb * PQ;
            int n0 = ch * nb, m = d.N - n0 < nb ? d.N - n0 : nb, cols = (int)(m * PQ);
            genrep__im2col(col, cols, B.x + n0 * CHW, m, &g);
            genrep_sgemm(0, 0, K, cols, CRS, 1.0f, B.w, CRS, col, cols, 0.0f, y, cols);
            genrep__chunk_scatter(B.y + (size_t)n0 * K * PQ, y, B.b, 0, m, K, PQ);
        }
        benchmark::ClobberMemory();
    }
    for (float *p : slabs) genrep_free(p);
    gflops(st, B.fwd_flops());
}

// Real time (OpenMP threads), ms, and the best repetition next to the
// median: on a shared machine the minimum is the least disturbed run.
void Common(benchmark::internal::Benchmark *b) {
    b->UseRealTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("min", [](const std::vector<double> &v) {
        return *std::min_element(v.begin(), v.end());
    });
}

void Args(benchmark::internal::Benchmark *b) {
    for (int s = 0; s < 2; s++)
        for (int isa : {GENREP_ISA_AVX2, GENREP_ISA_AVX512})
            for (int t : {1, 2}) b->Args({s, isa, t});
    Common(b);
}
void StageArgs(benchmark::internal::Benchmark *b, int nstages) {
    for (int s = 0; s < 2; s++)
        for (int t : {1, 2})
            for (int k = 0; k < nstages; k++) b->Args({s, GENREP_ISA_AVX512, t, k});
    Common(b);
}

}  // namespace

BENCHMARK(BM_conv2d_fwd)->Apply(Args);
BENCHMARK(BM_conv2d_bwd)->Apply(Args);
BENCHMARK(BM_conv2d_fwd_stage)->Apply([](benchmark::internal::Benchmark *b) { StageArgs(b, 3); });
BENCHMARK(BM_conv2d_bwd_stage)->Apply([](benchmark::internal::Benchmark *b) { StageArgs(b, 6); });
BENCHMARK(BM_conv2d_fwd_budget)->Apply([](benchmark::internal::Benchmark *b) {
    for (int s = 0; s < 2; s++)
        for (int t : {1, 2})
            for (int kb : {1, 256, 1024, 4096, 1 << 20}) b->Args({s, GENREP_ISA_AVX512, t, kb});
    Common(b);
});
BENCHMARK(BM_conv2d_fwd_per_image_parallel)->Apply([](benchmark::internal::Benchmark *b) {
    for (int s = 0; s < 2; s++)
        for (int t : {1, 2}) b->Args({s, GENREP_ISA_AVX512, t});
    Common(b);
});
BENCHMARK(BM_conv2d_fwd_chunk_parallel)->Apply([](benchmark::internal::Benchmark *b) {
    for (int s = 0; s < 2; s++)
        for (int t : {1, 2}) b->Args({s, GENREP_ISA_AVX512, t});
    Common(b);
});
BENCHMARK_MAIN();
