// bench_gen.cc -- generator forward (sampling) throughput through the C API:
// genrep_gen_render (eval mode: batchnorm running statistics) of a batch of
// 256 latents, images/s per model, ISA and thread count, and GFLOP/s from
// genrep_gen_macs (2 FLOPs per multiply-add). Default sizes: zdim 128,
// width 32 (about 14 M multiply-adds per image). Kind 2 is the PyTorch DCGAN
// tutorial's generator (nz 100, ngf 64, 64x64 RGB, convT first and output
// layers; about 104 M multiply-adds per image), a DCGAN-family member loaded
// from metadata like any exported one.
//   make -C bench run-gen      (runs this and the PyTorch peer bench/gen_torch.py
//                               back to back through bench/run_gen.sh)
// Args: kind (0 dcgan, 1 cgan, 2 tutorial), ISA, threads. On a shared machine set
// OMP_WAIT_POLICY=passive (run_gen.sh does): spinning OpenMP barriers of a
// preempted 2-thread team otherwise cost more than the work.
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include <benchmark/benchmark.h>
#include <algorithm>
#include <string>
#include <vector>

namespace {

const int kBatch = 256;

void BM_gen_render(benchmark::State &st) {
    if (genrep_set_isa((genrep_isa)st.range(1)) != GENREP_OK) { st.SkipWithError("ISA not available"); return; }
    const int threads = (int)st.range(2);
    genrep_set_num_threads(threads);
    genrep_gan_config cfg;
    genrep_gan_config_default(&cfg, st.range(0) == 1 ? GENREP_GAN_CGAN : GENREP_GAN_DCGAN);
    if (st.range(0) == 2) {  // the tutorial: ConvTranspose2d(100, 512, 4, 1, 0) ... ConvTranspose2d(64, 3, 4, 2, 1), Tanh
        cfg.zdim = 100; cfg.width = 64; cfg.first = GENREP_GEN_FIRST_CONVT; cfg.n_up = 3; cfg.out_size = 64;
        cfg.out_channels = 3; cfg.out_layer = GENREP_GEN_OUT_CONVT; cfg.out_bias = 0;
    }
    genrep_gen g;
    if (genrep_gen_create(&g, &cfg, kBatch, 1) != GENREP_OK) { st.SkipWithError(genrep_last_error()); return; }
    // non-trivial running statistics, as in a trained model
    for (int t = 0; t < g.n_tensors; t++) {
        const genrep_param_info *p = &g.table[t];
        if (!p->is_buffer) continue;
        bool var = std::string(p->name).find("running_var") != std::string::npos;
        for (size_t i = 0; i < p->numel; i++) g.params[p->offset + i] = var ? 1.5f : 0.1f;
    }
    std::vector<float> z((size_t)kBatch * cfg.zdim), out((size_t)kBatch * cfg.out_channels * cfg.out_size * cfg.out_size);
    std::vector<int32_t> y(kBatch);
    genrep_rng r;
    genrep_rng_init(&r, 7, 0);
    for (auto &v : z) v = genrep_rng_normal(&r);
    for (int b = 0; b < kBatch; b++) y[b] = b % cfg.n_classes;
    const int32_t *yp = cfg.kind == GENREP_GAN_CGAN ? y.data() : nullptr;
    if (genrep_gen_render(&g, out.data(), z.data(), yp, kBatch) != GENREP_OK) {  // warm-up, checks it runs
        st.SkipWithError(genrep_last_error());
        genrep_gen_free(&g);
        return;
    }
    for (auto _ : st) {
        genrep_gen_render(&g, out.data(), z.data(), yp, kBatch);
        benchmark::ClobberMemory();
    }
    st.SetItemsProcessed(st.iterations() * kBatch);
    st.counters["img/s"] = benchmark::Counter(kBatch, benchmark::Counter::kIsIterationInvariantRate);
    st.counters["GFLOP/s"] = benchmark::Counter(2.0 * genrep_gen_macs(&cfg) * kBatch * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
    st.SetLabel(std::string(st.range(0) == 2 ? "tutorial" : cfg.kind == GENREP_GAN_CGAN ? "cgan" : "dcgan") + " B256 " +
                genrep_isa_name(genrep_get_isa()) + " t" + std::to_string(threads));
    genrep_gen_free(&g);
}

void Args(benchmark::internal::Benchmark *b) {
    b->Args({0, GENREP_ISA_AVX512, 2});  // the headline: dcgan, batch 256, 2 threads
    b->Args({0, GENREP_ISA_AVX512, 1});
    b->Args({0, GENREP_ISA_AVX2, 2});
    b->Args({1, GENREP_ISA_AVX512, 2});  // class-conditional
    b->Args({2, GENREP_ISA_AVX512, 2});  // the PyTorch DCGAN tutorial's 64x64x3 generator
    b->Args({2, GENREP_ISA_AVX2, 2});
}

// Where the time goes: the layers of the default DCGAN's eval forward at
// batch 256, one per benchmark (stage arg), through the same public ops the
// generator chains, on buffers of their own. 1 thread, process CPU time.
struct Layers {
    static const int B = kBatch, Z = 128, C0 = 128, C1 = 64, C2 = 32;
    genrep_convt2d_desc d1, d2;
    genrep_conv2d_desc d3;
    std::vector<float> z, fcw, w1, w2, w3, b3, g, bb, m, v, mean, rstd, a0, a1, a2, t1, t2, t3, o, ws;
    Layers() {
        genrep_convt2d_init(&d1, B, C0, 7, 7, C1, 4, 4, 2, 1, 0);
        genrep_convt2d_init(&d2, B, C1, 14, 14, C2, 4, 4, 2, 1, 0);
        genrep_conv2d_init(&d3, B, C2, 28, 28, 1, 3, 3, 1, 1);
        size_t nws = std::max(std::max(genrep_convt2d_workspace(&d1), genrep_convt2d_workspace(&d2)),
                              genrep_conv2d_workspace(&d3));
        genrep_rng r;
        genrep_rng_init(&r, 3, 0);
        auto rnd = [&r](std::vector<float> &x, size_t n, float s) {
            x.resize(n);
            for (auto &e : x) e = s * genrep_rng_normal(&r);
        };
        rnd(z, (size_t)B * Z, 1); rnd(fcw, (size_t)C0 * 49 * Z, 0.05f); rnd(w1, (size_t)C0 * C1 * 16, 0.05f);
        rnd(w2, (size_t)C1 * C2 * 16, 0.05f); rnd(w3, (size_t)C2 * 9, 0.1f); b3.assign(1, 0.f);
        g.assign(C0, 1.f); bb.assign(C0, 0.f); m.assign(C0, 0.1f); v.assign(C0, 1.5f);
        mean.resize(C0); rstd.resize(C0);
        a0.resize((size_t)B * C0 * 49); t1.resize(a0.size()); a1.resize((size_t)B * C1 * 196); t2.resize(a1.size());
        a2.resize((size_t)B * C2 * 784); t3.resize(a2.size()); o.resize((size_t)B * 784); ws.resize(nws);
    }
    // runs stage k; returns its FLOPs (0 for memory-bound stages)
    double run(int k) {
        switch (k) {
        case 0: genrep_linear_forward(a0.data(), z.data(), fcw.data(), nullptr, B, Z, C0 * 49); return 2.0 * B * Z * C0 * 49;
        case 1: genrep_batchnorm_forward(t1.data(), mean.data(), rstd.data(), m.data(), v.data(), a0.data(), g.data(),
                                         bb.data(), B, C0, 49, 1e-5f, 0.1f, 0);
                genrep_relu_forward(t1.data(), t1.data(), t1.size()); return 0;
        case 2: genrep_convt2d_forward(a1.data(), ws.data(), t1.data(), w1.data(), nullptr, &d1); return 2.0 * B * C0 * C1 * 16 * 49;
        case 3: genrep_batchnorm_forward(t2.data(), mean.data(), rstd.data(), m.data(), v.data(), a1.data(), g.data(),
                                         bb.data(), B, C1, 196, 1e-5f, 0.1f, 0);
                genrep_relu_forward(t2.data(), t2.data(), t2.size()); return 0;
        case 4: genrep_convt2d_forward(a2.data(), ws.data(), t2.data(), w2.data(), nullptr, &d2); return 2.0 * B * C1 * C2 * 16 * 196;
        case 5: genrep_batchnorm_forward(t3.data(), mean.data(), rstd.data(), m.data(), v.data(), a2.data(), g.data(),
                                         bb.data(), B, C2, 784, 1e-5f, 0.1f, 0);
                genrep_relu_forward(t3.data(), t3.data(), t3.size()); return 0;
        case 6: genrep_conv2d_forward(o.data(), ws.data(), t3.data(), w3.data(), b3.data(), &d3); return 2.0 * B * C2 * 9 * 784;
        default: genrep_tanh_forward(o.data(), o.data(), o.size()); return 0;
        }
    }
};

void BM_gen_layer(benchmark::State &st) {
    static const char *names[] = {"fc", "bn0+relu", "up1 convT 128->64 7->14", "bn1+relu",
                                  "up2 convT 64->32 14->28", "bn2+relu", "out conv3x3 32->1", "tanh"};
    genrep_set_isa(GENREP_ISA_AVX512);
    genrep_set_num_threads(1);
    Layers L;
    const int k = (int)st.range(0);
    for (int j = 0; j <= 7; j++) L.run(j);  // inputs of every stage filled
    double flops = 0;
    for (auto _ : st) {
        flops = L.run(k);
        benchmark::ClobberMemory();
    }
    if (flops > 0)
        st.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    st.SetLabel(std::string("layer ") + names[k] + " " + genrep_isa_name(genrep_get_isa()) + " t1");
}

}  // namespace

// Wall time is the figure; the CPU column is the whole process's CPU time
// (both threads), so img per CPU-second can be compared on a loaded machine.
BENCHMARK(BM_gen_render)->Apply(Args)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_gen_layer)->DenseRange(0, 7)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK_MAIN();
