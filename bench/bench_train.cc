// bench_train.cc -- one SimCLR training step through the C API, steps/s and
// view-images/s per thread count: the small ResNet encoder
// (genrep_encoder_config_small, 1x28x28) on two views of 256 anchors (512
// images), NT-Xent (tau 0.1), zeroed gradients, backward, SGD (momentum 0.9,
// wd 1e-4) -- the calls of "One SimCLR step" in genrep.h [ENCODER], the same
// as trainer/cmd_train.c minus rendering and augmentation. The input is a
// fixed batch of pseudo-random images in [0,1], made once and normalised to
// [-1,1] as the trainer does ((x - 0.5) / 0.5).
//   make -C bench run-train    (this, the PyTorch peer bench/train_torch.py and
//                               the peak RSS of a training run: bench/run_train.sh)
// Extra flags, read before Google Benchmark's (it then runs nothing):
//   --profile_steps=N [--profile_threads=T] [--profile_out=FILE] [--profile_bf16] [--profile_share=S]
// times N steps (after one warm-up step) with genrep_encoder_profile on and
// prints the per-layer table, plus the loss, SGD and zeroing that the
// encoder's profile does not see, to stderr and FILE.
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

const int kAnchors = 256, kViews = 2 * kAnchors;  // B anchors, 2B view images per step
const float kTau = 0.1f;

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Encoder, optimiser state and buffers of one training run.
struct Trainer {
    genrep_encoder enc;
    genrep_sgd_config sgd = {0.05f, 0.9f, 1e-4f, 0};  // the trainer's defaults (lr before its schedule)
    std::vector<float> x, lws, dz, mom;
    int64_t step = 0;
    float loss = 0;
    bool ok = false;
    // per-phase wall seconds, summed over timed steps (profile mode)
    double t_zero = 0, t_fwd = 0, t_loss = 0, t_bwd = 0, t_sgd = 0;

    Trainer() {
        genrep_encoder_config c;
        genrep_encoder_config_small(&c, 1, 28, 28);
        if (genrep_encoder_create(&enc, &c, kViews, 0) != GENREP_OK) return;
        x.resize((size_t)kViews * 28 * 28);
        genrep_rng r;
        genrep_rng_init(&r, 7, 0);
        for (auto &v : x) v = (genrep_rng_uniform(&r) - 0.5f) / 0.5f;
        lws.resize(genrep_ntxent_workspace(kAnchors));
        dz.resize((size_t)kViews * enc.out_dim);
        mom.resize(enc.num_params);
        ok = true;
    }
    ~Trainer() { if (ok) genrep_encoder_free(&enc); }

    // One step; with timed, adds each phase's wall time to the t_* sums.
    genrep_status run(bool timed = false) {
        genrep_status s;
        double t0 = timed ? now() : 0, t1, t2, t3, t4;
        memset(enc.grads, 0, enc.num_params * sizeof(float));
        t1 = timed ? now() : 0;
        if ((s = genrep_encoder_forward(&enc, x.data(), kViews, 1))) return s;
        t2 = timed ? now() : 0;
        memset(dz.data(), 0, dz.size() * sizeof(float));
        if ((s = genrep_ntxent_forward(&loss, lws.data(), enc.out, kAnchors, enc.out_dim, kTau, 0))) return s;
        if ((s = genrep_ntxent_backward(dz.data(), lws.data(), enc.out, kAnchors, enc.out_dim, kTau, 0, 1.0f))) return s;
        t3 = timed ? now() : 0;
        if ((s = genrep_encoder_backward(&enc, NULL, dz.data()))) return s;
        t4 = timed ? now() : 0;
        s = genrep_sgd_step(enc.params, mom.data(), enc.grads, enc.num_params, &sgd, ++step);
        if (timed) {
            double t5 = now();
            t_zero += t1 - t0; t_fwd += t2 - t1; t_loss += t3 - t2; t_bwd += t4 - t3; t_sgd += t5 - t4;
        }
        return s;
    }
};

// Args: threads, precision (0 fp32, 1 bf16: genrep_encoder_set_precision).
void BM_train_step(benchmark::State &st) {
    const int threads = (int)st.range(0), bf16 = (int)st.range(1);
    genrep_set_num_threads(threads);
    Trainer T;
    if (!T.ok) { st.SkipWithError(genrep_last_error()); return; }
    if (bf16 && genrep_encoder_set_precision(&T.enc, GENREP_PRECISION_BF16) != GENREP_OK) {
        st.SkipWithError(genrep_last_error());
        return;
    }
    if (T.run() != GENREP_OK) { st.SkipWithError(genrep_last_error()); return; }  // warm-up, checks it runs
    for (auto _ : st) {
        T.run();
        benchmark::ClobberMemory();
    }
    st.SetItemsProcessed(st.iterations() * kViews);
    st.counters["steps/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
    st.counters["img/s"] = benchmark::Counter(kViews, benchmark::Counter::kIsIterationInvariantRate);
    st.counters["loss"] = T.loss;
    st.SetLabel(std::string("simclr small B256x2 ") + (bf16 ? "bf16-" : "") + genrep_isa_name(genrep_get_isa()) +
                " t" + std::to_string(threads));
}

// Args: threads, share (anchors per share, both views: genrep_encoder_set_share(enc, share, 2),
// the K-independent sums genrep train uses; 0 = the default reductions), fp32.
void BM_train_step_share(benchmark::State &st) {
    const int threads = (int)st.range(0), share = (int)st.range(1);
    genrep_set_num_threads(threads);
    Trainer T;
    if (!T.ok || genrep_encoder_set_share(&T.enc, share, 2) != GENREP_OK) { st.SkipWithError(genrep_last_error()); return; }
    if (T.run() != GENREP_OK) { st.SkipWithError(genrep_last_error()); return; }
    for (auto _ : st) {
        T.run();
        benchmark::ClobberMemory();
    }
    st.SetItemsProcessed(st.iterations() * kViews);
    st.counters["img/s"] = benchmark::Counter(kViews, benchmark::Counter::kIsIterationInvariantRate);
    st.SetLabel(std::string("simclr small B256x2 share ") + std::to_string(share) + " " + genrep_isa_name(genrep_get_isa()) +
                " t" + std::to_string(threads));
}

// --profile_steps mode: the encoder's per-layer table plus the rest of the step.
int profile(int steps, int threads, const char *path, int bf16, int share) {
    genrep_set_num_threads(threads);
    Trainer T;
    if (T.ok && bf16 && genrep_encoder_set_precision(&T.enc, GENREP_PRECISION_BF16) != GENREP_OK) T.ok = false;
    if (T.ok && share && genrep_encoder_set_share(&T.enc, share, 2) != GENREP_OK) T.ok = false;
    if (!T.ok || T.run() != GENREP_OK) { fprintf(stderr, "bench_train: %s\n", genrep_last_error()); return 1; }
    genrep_encoder_profile(&T.enc, 1);
    std::vector<char> buf(1 << 16);
    genrep_encoder_profile_report(&T.enc, buf.data(), buf.size());  // drop the warm-up step's counters
    double t0 = now();
    for (int i = 0; i < steps; i++)
        if (T.run(true) != GENREP_OK) { fprintf(stderr, "bench_train: %s\n", genrep_last_error()); return 1; }
    double wall = (now() - t0) / steps;
    genrep_encoder_profile_report(&T.enc, buf.data(), buf.size());
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double MiB = 1024.0 * 1024.0;
    char head[512], tail[1024];
    snprintf(head, sizeof head,
             "genrep SimCLR step profile: small encoder, 1x28x28, %d anchors x 2 views, %s%s, %d threads, share %d, "
             "mean of %d steps after 1 warm-up (profiling on)\n",
             kAnchors, bf16 ? "bf16 GEMMs, " : "", genrep_isa_name(genrep_get_isa()), genrep_num_threads(), share, steps);
    snprintf(tail, sizeof tail,
             "step phases (ms per step): zero grads %.2f  encoder fwd %.2f  ntxent fwd+bwd %.2f  encoder bwd %.2f  "
             "sgd %.2f  = step %.2f ms (%.3f steps/s, %.0f img/s)\n"
             "memory: encoder slabs params+buffers %.1f MiB, grads %.1f MiB, activations %.1f MiB, conv "
             "workspace %.1f MiB; loss workspace %.1f MiB; peak RSS of this process %ld MiB\n",
             1e3 * T.t_zero / steps, 1e3 * T.t_fwd / steps, 1e3 * T.t_loss / steps, 1e3 * T.t_bwd / steps,
             1e3 * T.t_sgd / steps, 1e3 * wall, 1 / wall, kViews / wall,
             (T.enc.num_params + T.enc.num_buffers) * 4.0 / MiB, T.enc.num_params * 4.0 / MiB,
             T.enc.acts_floats * 4.0 / MiB, T.enc.ws_floats * 4.0 / MiB, T.lws.size() * 4.0 / MiB,
             ru.ru_maxrss / 1024);
    std::string text = std::string(head) + buf.data() + tail;
    fputs(text.c_str(), stderr);
    if (path) {
        FILE *f = fopen(path, "w");
        if (!f) { fprintf(stderr, "bench_train: cannot write %s\n", path); return 1; }
        fputs(text.c_str(), f);
        fclose(f);
    }
    return 0;
}

}  // namespace

// Wall time is the figure; the CPU column is the whole process's CPU time
// (both threads), for img per CPU-second on a loaded machine.
BENCHMARK(BM_train_step)->ArgNames({"threads", "bf16"})->ArgsProduct({{1, 2}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime()
    ->MeasureProcessCPUTime();
BENCHMARK(BM_train_step_share)->ArgNames({"threads", "share"})->ArgsProduct({{1, 2}, {0, 1, 2, 4, 8}})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

int main(int argc, char **argv) {
    int steps = 0, threads = 2, bf16 = 0, share = 0;
    const char *path = nullptr;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--profile_steps=", 16)) steps = atoi(argv[i] + 16);
        else if (!strncmp(argv[i], "--profile_threads=", 18)) threads = atoi(argv[i] + 18);
        else if (!strncmp(argv[i], "--profile_out=", 14)) path = argv[i] + 14;
        else if (!strcmp(argv[i], "--profile_bf16")) bf16 = 1;
        else if (!strncmp(argv[i], "--profile_share=", 16)) share = atoi(argv[i] + 16);
    }
    if (steps > 0) return profile(steps, threads > 0 ? threads : 1, path, bf16, share);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
