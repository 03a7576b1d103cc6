// [AUG] SimCLR augmentation throughput: genrep_augment_batch at 28x28x1
// (Fashion-MNIST) and 128x128x3 -> 112x112x3 (GenRep's ImageNet-100 crop),
// 1 and 2 threads. Counter "views/s": views per second (see below).
// GenRep recipe: resized crop (0.2,1), flip, jitter p=0.8, grayscale p=0.2;
// the "+blur" rows add SimCLR's Gaussian blur (p=0.5). The torchvision peer
// is bench/augment_torchvision.py (same shapes, one view per call).
#define GENREP_IMPLEMENTATION
#include "genrep.h"

#include <benchmark/benchmark.h>

#include <vector>

namespace {

// Each family runs twice: "real" rates use wall time (what a training
// loop sees); "cpu" rates use the process's CPU time, i.e. views per
// core-second, which stays meaningful on a loaded machine.
void BM_Augment(benchmark::State &state, int C, int H, int W, int OH, int OW, int blur) {
    int threads = (int)state.range(0);
    int batch = H * W > 4096 ? 64 : 512;
    genrep_set_num_threads(threads);
    std::vector<float> in((size_t)batch * C * H * W), out((size_t)batch * C * OH * OW);
    genrep_rng r;
    genrep_rng_init(&r, 1, 2);
    for (float &x : in) x = genrep_rng_uniform(&r);
    genrep_aug_config cfg;
    genrep_aug_config_simclr(&cfg, OH, OW);
    if (blur) cfg.blur_p = 0.5f;
    uint64_t first = 0;
    // warm-up: touch the output pages and start the thread pool
    genrep_augment_batch(out.data(), in.data(), batch, C, H, W, &cfg, 7, first, 0);
    for (auto _ : state) {
        // a new sample range each iteration: fresh random parameters
        first += batch;
        if (genrep_augment_batch(out.data(), in.data(), batch, C, H, W, &cfg, 7, first, 0) != GENREP_OK) {
            state.SkipWithError(genrep_last_error());
            break;
        }
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.counters["views/s"] = benchmark::Counter((double)state.iterations() * batch, benchmark::Counter::kIsRate);
}

}  // namespace

#define GENREP_AUG_BENCH(name, ...)                                                                  \
    BENCHMARK_CAPTURE(BM_Augment, name##_real, __VA_ARGS__)->Arg(1)->Arg(2)->UseRealTime()            \
        ->Unit(benchmark::kMicrosecond);                                                             \
    BENCHMARK_CAPTURE(BM_Augment, name##_cpu, __VA_ARGS__)->Arg(1)->Arg(2)->MeasureProcessCPUTime()   \
        ->Unit(benchmark::kMicrosecond)

GENREP_AUG_BENCH(28x28x1, 1, 28, 28, 28, 28, 0);
GENREP_AUG_BENCH(28x28x1_blur, 1, 28, 28, 28, 28, 1);
GENREP_AUG_BENCH(128to112x3, 3, 128, 128, 112, 112, 0);
GENREP_AUG_BENCH(128to112x3_blur, 3, 128, 128, 112, 112, 1);

BENCHMARK_MAIN();
