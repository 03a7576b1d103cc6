// [GEMM] SGEMM throughput: genrep_sgemm per ISA path and thread count against
// OpenBLAS cblas_sgemm on the same shapes in the same binary.
// Counter "GFLOPS" = 2*M*N*K / time (real time, so threads count).
// OpenBLAS reads OPENBLAS_CORETYPE when it loads, so bench/run_gemm.sh runs
// this binary once per core type; the name carries no core type.
#define GENREP_IMPLEMENTATION
#include "genrep.h"

#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

extern "C" void openblas_set_num_threads(int);

namespace {

struct Shape { int M, N, K; const char *name; };
// 0, 1: square; 2, 3: the conv GEMMs of a ResNet stage via im2col,
// out (K_out, H*W*batch) = weight (K_out, C*R*S) @ col (C*R*S, H*W*batch).
const Shape kShapes[] = {
    {1024, 1024, 1024, "1024^3"},
    {2048, 2048, 2048, "2048^3"},
    {64, 25088, 576, "64x25088x576"},
    {128, 6272, 1152, "128x6272x1152"},
};

struct Operands {
    std::vector<float> A, B, C;
};

// Operands per shape, made once (the large ones are 50+ MB).
Operands &operands(int s) {
    static Operands ops[sizeof kShapes / sizeof kShapes[0]];
    Operands &o = ops[s];
    if (o.A.empty()) {
        const Shape &sh = kShapes[s];
        o.A.resize((size_t)sh.M * sh.K);
        o.B.resize((size_t)sh.K * sh.N);
        o.C.resize((size_t)sh.M * sh.N);
        genrep_rng r;
        genrep_rng_init(&r, 1, 2);
        for (float &x : o.A) x = genrep_rng_uniform(&r) - 0.5f;
        for (float &x : o.B) x = genrep_rng_uniform(&r) - 0.5f;
    }
    return o;
}

void set_flops(benchmark::State &state, const Shape &sh) {
    state.counters["GFLOPS"] = benchmark::Counter(2e-9 * sh.M * sh.N * sh.K,
                                                  benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(sh.name);
}

// Args: isa, threads, shape index.
void BM_genrep_sgemm(benchmark::State &state) {
    genrep_isa isa = (genrep_isa)state.range(0);
    int nt = (int)state.range(1);
    const Shape &sh = kShapes[state.range(2)];
    if (genrep_set_isa(isa) != GENREP_OK) {
        state.SkipWithError("ISA not supported on this CPU");
        return;
    }
    omp_set_num_threads(nt);
    Operands &o = operands((int)state.range(2));
    for (auto _ : state) {
        genrep_sgemm(0, 0, sh.M, sh.N, sh.K, 1.0f, o.A.data(), sh.K, o.B.data(), sh.N, 0.0f, o.C.data(), sh.N);
        benchmark::ClobberMemory();
    }
    set_flops(state, sh);
}

// bf16 operands, fp32 accumulation (genrep_gemm_bf16, same fp32 inputs; the
// rounding to bf16 happens in packing and is timed). FLOPs counted as for
// SGEMM. isa 2: the AVX512-BF16 kernel (vdpbf16ps) where the CPU has it;
// isa 1: the AVX2 emulation. Args: isa, threads, shape index.
void BM_genrep_gemm_bf16(benchmark::State &state) {
    genrep_isa isa = (genrep_isa)state.range(0);
    int nt = (int)state.range(1);
    const Shape &sh = kShapes[state.range(2)];
    if (genrep_set_isa(isa) != GENREP_OK) {
        state.SkipWithError("ISA not supported on this CPU");
        return;
    }
    omp_set_num_threads(nt);
    Operands &o = operands((int)state.range(2));
    for (auto _ : state) {
        if (genrep_gemm_bf16(0, 0, sh.M, sh.N, sh.K, o.A.data(), sh.K, o.B.data(), sh.N, 0.0f, o.C.data(), sh.N))
            state.SkipWithError("genrep_gemm_bf16 failed");
        benchmark::ClobberMemory();
    }
    set_flops(state, sh);
}

void bf16_args(benchmark::internal::Benchmark *b) {
    b->ArgNames({"isa", "threads", "shape"});
    for (int s = 0; s < 4; s++)
        for (int nt : {1, 2}) b->Args({GENREP_ISA_AVX512, nt, s});
    for (int s : {0, 2}) b->Args({GENREP_ISA_AVX2, 2, s});
}

// Args: threads, shape index.
void BM_openblas_sgemm(benchmark::State &state) {
    int nt = (int)state.range(0);
    const Shape &sh = kShapes[state.range(1)];
    openblas_set_num_threads(nt);
    Operands &o = operands((int)state.range(1));
    for (auto _ : state) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, sh.M, sh.N, sh.K, 1.0f, o.A.data(), sh.K,
                    o.B.data(), sh.N, 0.0f, o.C.data(), sh.N);
        benchmark::ClobberMemory();
    }
    set_flops(state, sh);
}

void genrep_args(benchmark::internal::Benchmark *b) {
    b->ArgNames({"isa", "threads", "shape"});
    for (int s = 0; s < 4; s++)
        for (int isa : {GENREP_ISA_AVX512, GENREP_ISA_AVX2})
            for (int nt : {1, 2}) b->Args({isa, nt, s});
    // The scalar fallback is ~20x slower: one square and one conv shape.
    for (int s : {0, 2}) b->Args({GENREP_ISA_SCALAR, 2, s});
}

void openblas_args(benchmark::internal::Benchmark *b) {
    b->ArgNames({"threads", "shape"});
    for (int s = 0; s < 4; s++)
        for (int nt : {1, 2}) b->Args({nt, s});
}

// Largest value over the repetitions: for the GFLOPS counter the best
// repetition, which on a shared machine is the one least disturbed by others
// (its time column is the slowest repetition). Medians stay the headline.
double stat_max(const std::vector<double> &v) { return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()); }

} // namespace

BENCHMARK(BM_genrep_sgemm)->Apply(genrep_args)->UseRealTime()->Unit(benchmark::kMillisecond)
    ->ComputeStatistics("max", stat_max);
BENCHMARK(BM_genrep_gemm_bf16)->Apply(bf16_args)->UseRealTime()->Unit(benchmark::kMillisecond)
    ->ComputeStatistics("max", stat_max);
BENCHMARK(BM_openblas_sgemm)->Apply(openblas_args)->UseRealTime()->Unit(benchmark::kMillisecond)
    ->ComputeStatistics("max", stat_max);

BENCHMARK_MAIN();
