// bench_biggan.cc -- BigGAN-deep forward ([BIGGAN], genrep_biggan_render) at
// the published full width (ch 128, z 128, 1000 classes, n_stats 51) with
// random weights (genrep_biggan_create: timing does not depend on the
// values), batch 8 one-hot classes at truncation 0.4, for 128 and 256 px:
// images/s and GFLOP/s from genrep_biggan_macs (2 FLOPs per multiply-add).
//   make -C bench run-biggan   (bench/run_biggan.sh: the FMA peak, this, and the
//                               PyTorch peer bench/biggan_torch.py, with ratios)
// Args: output_dim, ISA, threads.
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include <benchmark/benchmark.h>
#include <string>
#include <vector>

namespace {

const int kBatch = 8;

void BM_biggan_render(benchmark::State &st) {
    const int R = (int)st.range(0), threads = (int)st.range(2);
    if (genrep_set_isa((genrep_isa)st.range(1)) != GENREP_OK) { st.SkipWithError("ISA not available"); return; }
    genrep_set_num_threads(threads);
    genrep_biggan_config cfg;
    genrep_biggan g;
    if (genrep_biggan_config_default(&cfg, R) != GENREP_OK || genrep_biggan_create(&g, &cfg, kBatch, 1) != GENREP_OK) {
        st.SkipWithError(genrep_last_error());
        return;
    }
    std::vector<float> z((size_t)kBatch * cfg.z_dim), y((size_t)kBatch * cfg.num_classes, 0.0f),
        out((size_t)kBatch * 3 * R * R);
    genrep_rng r;
    genrep_rng_init(&r, 7, 0);
    for (auto &v : z) v = 0.4f * genrep_rng_truncnormal(&r, -2.0f, 2.0f);
    for (int b = 0; b < kBatch; b++) y[(size_t)b * cfg.num_classes + (b * 97) % cfg.num_classes] = 1.0f;
    if (genrep_biggan_render(&g, out.data(), z.data(), y.data(), kBatch, 0.4) != GENREP_OK) {  // warm-up
        st.SkipWithError(genrep_last_error());
        genrep_biggan_free(&g);
        return;
    }
    for (auto _ : st) {
        if (genrep_biggan_render(&g, out.data(), z.data(), y.data(), kBatch, 0.4) != GENREP_OK) st.SkipWithError("render");
        benchmark::ClobberMemory();
    }
    const double gflop = 2.0 * genrep_biggan_macs(&cfg) * 1e-9;
    st.counters["img/s"] = benchmark::Counter(kBatch, benchmark::Counter::kIsIterationInvariantRate);
    st.counters["GFLOP/s"] = benchmark::Counter(gflop * kBatch, benchmark::Counter::kIsIterationInvariantRate);
    st.counters["GFLOP/img"] = gflop;
    st.SetLabel("biggan" + std::to_string(R) + " B8 " + genrep_isa_name(genrep_get_isa()) + " t" +
                std::to_string(threads));
    genrep_biggan_free(&g);
}

}  // namespace

// Wall time is the figure; CPU is the whole process's (both threads).
BENCHMARK(BM_biggan_render)
    ->Args({128, GENREP_ISA_AVX512, 2})
    ->Args({256, GENREP_ISA_AVX512, 2})
    ->Args({128, GENREP_ISA_AVX2, 2})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK_MAIN();
