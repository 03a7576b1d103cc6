// bench_peak.cc -- the machine's measured FMA peak, the denominator of every
// "% of peak" in bench/RESULTS.md. A loop of independent FMA chains with no
// loads or stores: 24 accumulators (more than latency x pipes = 4 x 2 on
// Zen 5, so the FMA pipes never wait on a result), AVX-512 (zmm, 16 floats)
// and AVX2 (ymm, 8 floats), on 1 and 2 threads (OpenMP, one loop per thread,
// wall time). GFLOP/s = threads * iters * 24 chains * lanes * 2 / wall time.
//   make -C bench run-peak           (build/bench/bench_peak --benchmark_repetitions=5)
// Compiled without -march: the kernels carry target attributes, like genrep.h.
#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <omp.h>

namespace {

constexpr long kIters = 1L << 24; // per thread and repetition: ~0.1 s at 200 GFLOP/s per core
constexpr int kChains = 24;

// acc = acc * m + a with m just below 1: values settle at a / (1 - m), no
// overflow, no denormals, and every FMA depends only on its own chain.
__attribute__((target("avx512f"), noinline)) float fma_chains_avx512(long iters) {
    __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-6f);
    __m512 acc[kChains];
#pragma GCC unroll 24
    for (int i = 0; i < kChains; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 24
        for (int i = 0; i < kChains; i++) acc[i] = _mm512_fmadd_ps(acc[i], m, a);
    }
    __m512 s = acc[0];
#pragma GCC unroll 24
    for (int i = 1; i < kChains; i++) s = _mm512_add_ps(s, acc[i]);
    float out[16]; // (not _mm512_reduce_add_ps: GCC 12's header warns in it)
    _mm512_storeu_ps(out, s);
    float t = 0.0f;
    for (float x : out) t += x;
    return t;
}

__attribute__((target("avx2,fma"), noinline)) float fma_chains_avx2(long iters) {
    // 16 ymm registers: 12 chains + the two constants (12 >= 4 x 2 in flight)
    constexpr int kC = 12;
    __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-6f);
    __m256 acc[kC];
#pragma GCC unroll 12
    for (int i = 0; i < kC; i++) acc[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < 2 * iters; it++) { // 2x the iterations: 24 FMAs per two trips
#pragma GCC unroll 12
        for (int i = 0; i < kC; i++) acc[i] = _mm256_fmadd_ps(acc[i], m, a);
    }
    __m256 s = acc[0];
#pragma GCC unroll 12
    for (int i = 1; i < kC; i++) s = _mm256_add_ps(s, acc[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

// The bf16 peak: 24 independent vdpbf16ps chains (AVX512-BF16), each
// instruction 16 lanes x 2 multiply-adds = 64 FLOP. Operands are constant
// bf16 pairs (1/4, 1/4): acc grows by 1/8 per step, no overflow in 2^24 steps.
__attribute__((target("avx512f,avx512bf16"), noinline)) float dpbf16_chains(long iters) {
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3e803e80); // bf16 pair (0.25, 0.25)
    __m512 acc[kChains];
#pragma GCC unroll 24
    for (int i = 0; i < kChains; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 24
        for (int i = 0; i < kChains; i++) acc[i] = _mm512_dpbf16_ps(acc[i], x, x);
    }
    __m512 s = acc[0];
#pragma GCC unroll 24
    for (int i = 1; i < kChains; i++) s = _mm512_add_ps(s, acc[i]);
    float out[16];
    _mm512_storeu_ps(out, s);
    float t = 0.0f;
    for (float v : out) t += v;
    return t;
}

// Args: threads.
void BM_peak_dpbf16(benchmark::State &state) {
    const int nt = (int)state.range(0);
    if (!__builtin_cpu_supports("avx512bf16")) { state.SkipWithError("no AVX512-BF16"); return; }
    for (auto _ : state) {
        float sink = 0.0f;
#pragma omp parallel num_threads(nt) reduction(+ : sink)
        sink += dpbf16_chains(kIters);
        benchmark::DoNotOptimize(sink);
    }
    state.counters["GFLOP/s"] = benchmark::Counter(4e-9 * nt * (double)kIters * kChains * 16,
                                                   benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel("avx512bf16 t" + std::to_string(nt));
}
BENCHMARK(BM_peak_dpbf16)->DenseRange(1, 2)->ArgNames({"threads"})->UseRealTime()->Unit(benchmark::kMillisecond);

// Args: isa (1 AVX2, 2 AVX-512), threads.
void BM_peak_fma(benchmark::State &state) {
    const int isa = (int)state.range(0), nt = (int)state.range(1);
    if (isa == 2 && !__builtin_cpu_supports("avx512f")) { state.SkipWithError("no AVX-512"); return; }
    if (isa == 1 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
        state.SkipWithError("no AVX2/FMA");
        return;
    }
    const int lanes = isa == 2 ? 16 : 8;
    for (auto _ : state) {
        float sink = 0.0f;
#pragma omp parallel num_threads(nt) reduction(+ : sink)
        sink += isa == 2 ? fma_chains_avx512(kIters) : fma_chains_avx2(kIters);
        benchmark::DoNotOptimize(sink);
    }
    state.counters["GFLOP/s"] = benchmark::Counter(2e-9 * nt * (double)kIters * kChains * lanes,
                                                   benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(std::string(isa == 2 ? "avx512" : "avx2") + " t" + std::to_string(nt));
}
BENCHMARK(BM_peak_fma)->ArgsProduct({{1, 2}, {1, 2}})->ArgNames({"isa", "threads"})->UseRealTime()
    ->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
