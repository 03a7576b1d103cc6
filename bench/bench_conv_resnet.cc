// bench_conv_resnet.cc -- every conv shape of the default small ResNet encoder
// at the SimCLR batch (512 images = 2 views of 256), genrep against oneDNN's
// direct convolution in the same process.
//   make -C bench run-conv_resnet     (bench/run_conv_resnet.sh: 2 threads, medians)
// Ops: fwd (forward, no bias, as the encoder calls it), bwd_data (dinp only),
// bwd_weight (dweight only), bwd (dinp + dweight: what the encoder's backward
// costs per conv). FLOPs: 2*N*K*C*R*S*P*Q per op, twice that for bwd.
// oneDNN (Debian libdnnl-dev, v2.x): algorithm::convolution_direct with
// format_tag::any, so it picks its preferred blocked layouts (nChw16c,
// OIhw16i16o, ...); the operands are filled directly in those layouts, no
// reorder is timed. genrep runs its public NCHW API (AVX-512 path).
// Both use libgomp: threads set by omp_set_num_threads / genrep_set_num_threads.
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include <benchmark/benchmark.h>
#include <dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

struct Shape { const char *name; int N, C, H, W, K, R, S, stride, pad; };
// The small ResNet (genrep.h [ENCODER] defaults: stem 1->32, stages 32/64/128,
// strides 1/2/2, 1x1 stride-2 shortcuts) at batch 512.
const Shape kShapes[] = {
    {"stem_3x3_1to32_28", 512, 1, 28, 28, 32, 3, 3, 1, 1},
    {"3x3_32to32_28", 512, 32, 28, 28, 32, 3, 3, 1, 1},
    {"3x3s2_32to64_28", 512, 32, 28, 28, 64, 3, 3, 2, 1},
    {"1x1s2_32to64_28", 512, 32, 28, 28, 64, 1, 1, 2, 0},
    {"3x3_64to64_14", 512, 64, 14, 14, 64, 3, 3, 1, 1},
    {"3x3s2_64to128_14", 512, 64, 14, 14, 128, 3, 3, 2, 1},
    {"1x1s2_64to128_14", 512, 64, 14, 14, 128, 1, 1, 2, 0},
    {"3x3_128to128_7", 512, 128, 7, 7, 128, 3, 3, 1, 1},
};
const char *kOps[] = {"fwd", "bwd_data", "bwd_weight", "bwd"};

float *rnd(size_t n, uint64_t seed) {
    float *p = (float *)genrep_alloc(n * sizeof(float));
    genrep_rng r;
    genrep_rng_init(&r, seed, 0);
    for (size_t i = 0; i < n; i++) p[i] = genrep_rng_uniform(&r) - 0.5f;
    return p;
}

double fwd_flops(const Shape &s) {
    const int P = (s.H + 2 * s.pad - s.R) / s.stride + 1, Q = (s.W + 2 * s.pad - s.S) / s.stride + 1;
    return 2.0 * s.N * s.K * s.C * s.R * s.S * P * Q;
}

void label(benchmark::State &st, const char *impl) {
    const Shape &s = kShapes[st.range(0)];
    st.SetLabel(std::string(s.name) + " " + kOps[st.range(1)] + " " + impl + " t" + std::to_string(st.range(2)));
    double f = fwd_flops(s) * (st.range(1) == 3 ? 2 : 1);
    st.counters["GFLOP/s"] = benchmark::Counter(f * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Args: shape, op, threads.
void BM_genrep(benchmark::State &st) {
    const Shape &s = kShapes[st.range(0)];
    const int op = (int)st.range(1);
    if (genrep_set_isa(GENREP_ISA_AVX512) != GENREP_OK) { st.SkipWithError("no AVX-512"); return; }
    genrep_set_num_threads((int)st.range(2));
    genrep_conv2d_desc d;
    genrep_conv2d_init(&d, s.N, s.C, s.H, s.W, s.K, s.R, s.S, s.stride, s.pad);
    const size_t ni = (size_t)d.N * d.C * d.H * d.W, no = (size_t)d.N * d.K * d.P * d.Q,
                 nw = (size_t)d.K * d.C * d.R * d.S, nws = genrep_conv2d_workspace(&d);
    float *x = rnd(ni, 1), *w = rnd(nw, 2), *y = rnd(no, 3), *dy = rnd(no, 4), *dx = rnd(ni, 5),
          *dw = rnd(nw, 6), *ws = rnd(nws, 7);
    for (auto _ : st) {
        if (op == 0) genrep_conv2d_forward(y, ws, x, w, NULL, &d);
        else genrep_conv2d_backward(op & 1 ? dx : NULL, op >= 2 ? dw : NULL, NULL, ws, dy, x, w, &d);
        benchmark::ClobberMemory();
    }
    for (float *p : {x, w, y, dy, dx, dw, ws}) genrep_free(p);
    label(st, "genrep");
}

// oneDNN's primitive for one op, created outside the timed loop.
void BM_onednn(benchmark::State &st) {
    using namespace dnnl;
    using tag = memory::format_tag;
    using dt = memory::data_type;
    const Shape &s = kShapes[st.range(0)];
    const int op = (int)st.range(1);
    omp_set_num_threads((int)st.range(2));
    const int P = (s.H + 2 * s.pad - s.R) / s.stride + 1, Q = (s.W + 2 * s.pad - s.S) / s.stride + 1;
    engine eng(engine::kind::cpu, 0);
    stream str(eng);
    memory::dims src_d = {s.N, s.C, s.H, s.W}, wei_d = {s.K, s.C, s.R, s.S}, dst_d = {s.N, s.K, P, Q};
    memory::dims strides = {s.stride, s.stride}, pad = {s.pad, s.pad};
    // padding_r so that the output is P x Q (as PyTorch: the bottom/right pad may be unused)
    memory::dims pad_r = {(P - 1) * s.stride + s.R - s.H - s.pad, (Q - 1) * s.stride + s.S - s.W - s.pad};
    memory::desc src_md(src_d, dt::f32, tag::any), wei_md(wei_d, dt::f32, tag::any), dst_md(dst_d, dt::f32, tag::any);
    convolution_forward::desc fd(prop_kind::forward_training, algorithm::convolution_direct, src_md, wei_md, dst_md,
                                 strides, pad, pad_r);
    convolution_forward::primitive_desc fpd(fd, eng);
    // every memory filled with values in the primitive's own layout (no reorder)
    std::vector<std::unique_ptr<memory>> mems;
    auto make = [&](const memory::desc &md, uint64_t seed) {
        mems.emplace_back(new memory(md, eng));
        float *p = (float *)mems.back()->get_data_handle();
        genrep_rng r;
        genrep_rng_init(&r, seed, 0);
        for (size_t i = 0; i < md.get_size() / sizeof(float); i++) p[i] = genrep_rng_uniform(&r) - 0.5f;
        return *mems.back();
    };
    std::vector<std::pair<primitive, std::unordered_map<int, memory>>> prims;
    std::string impl;
    if (op == 0) {
        prims.push_back({convolution_forward(fpd), {{DNNL_ARG_SRC, make(fpd.src_desc(), 1)},
                                                    {DNNL_ARG_WEIGHTS, make(fpd.weights_desc(), 2)},
                                                    {DNNL_ARG_DST, make(fpd.dst_desc(), 3)}}});
        impl = fpd.impl_info_str();
    }
    if (op & 1) {
        convolution_backward_data::desc bd(algorithm::convolution_direct, src_md, wei_md, dst_md, strides, pad, pad_r);
        convolution_backward_data::primitive_desc bpd(bd, eng, fpd);
        prims.push_back({convolution_backward_data(bpd), {{DNNL_ARG_DIFF_SRC, make(bpd.diff_src_desc(), 4)},
                                                          {DNNL_ARG_WEIGHTS, make(bpd.weights_desc(), 5)},
                                                          {DNNL_ARG_DIFF_DST, make(bpd.diff_dst_desc(), 6)}}});
        impl += bpd.impl_info_str();
    }
    if (op >= 2) {
        convolution_backward_weights::desc wd(algorithm::convolution_direct, src_md, wei_md, dst_md, strides, pad,
                                              pad_r);
        convolution_backward_weights::primitive_desc wpd(wd, eng, fpd);
        prims.push_back({convolution_backward_weights(wpd), {{DNNL_ARG_SRC, make(wpd.src_desc(), 7)},
                                                             {DNNL_ARG_DIFF_WEIGHTS, make(wpd.diff_weights_desc(), 8)},
                                                             {DNNL_ARG_DIFF_DST, make(wpd.diff_dst_desc(), 9)}}});
        impl += (impl.empty() ? "" : "+") + std::string(wpd.impl_info_str());
    }
    for (auto &p : prims) p.first.execute(str, p.second); // warm-up: oneDNN's own scratch, JIT
    str.wait();
    for (auto _ : st) {
        for (auto &p : prims) p.first.execute(str, p.second);
        str.wait();
    }
    label(st, ("onednn " + impl).c_str());
}

void Args(benchmark::internal::Benchmark *b) {
    for (int s = 0; s < (int)(sizeof kShapes / sizeof kShapes[0]); s++)
        for (int op = 0; op < 4; op++)
            for (int t : {1, 2}) {
                if (s == 0 && (op & 1)) continue; // the stem's input (the image) needs no gradient
                b->Args({s, op, t});
            }
    b->ArgNames({"shape", "op", "threads"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

} // namespace

BENCHMARK(BM_genrep)->Apply(Args);
BENCHMARK(BM_onednn)->Apply(Args);
BENCHMARK_MAIN();
