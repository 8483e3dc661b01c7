// onednn_dyconv: the oneDNN peer of dygen's benchmark (bench/README.md).
//
// A whole DyConv forward per sample: mean pool, coefficient FC and softmax
// over the experts (plain C++ with OpenMP), kernel fusion into a plain
// [G, Cout/G, Cin/G, KH, KW] buffer, then oneDNN: a reorder of the fused
// kernel into the blocked layout oneDNN picked for its convolution (format
// "any"), a reorder of the NCHW input into its blocked layout, the
// convolution primitive, and a reorder of the output back to NCHW. Every
// sample has its own fused kernel, so all of this is inside the timed
// forward. For N > 1 two formulations are built and the faster one is kept:
//   per-sample: one N=1 convolution primitive run N times;
//   grouped:    the batch folded into channels, one convolution with
//               groups = N·G over [1, N·Cin, H, W] (what PyTorch's reference
//               DyConv does).
//
// It is a server driven by bench/cmd/dyconvbench over stdin/stdout, one
// command per line, one answer per line ("ok {json}" or "err message"):
//   setup DIR Cin Cout KH KW SH SW PH PW DH DW G K H W N T OUTFILE
//   time REPS
// Threads: omp_set_num_threads(T); oneDNN is built with the OpenMP runtime.
// Build: g++ -O3 -march=native -fopenmp onednn_dyconv.cpp -ldnnl
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace dnnl;

static std::vector<float> readf(const std::string &path, size_t n) {
    FILE *f = fopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error("cannot open " + path);
    std::vector<float> v(n);
    size_t got = fread(v.data(), sizeof(float), n, f);
    fclose(f);
    if (got != n) throw std::runtime_error(path + ": short file, want " + std::to_string(n) + " floats");
    return v;
}

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    default: return "all";
    }
}

struct Cfg {
    std::string dir, out;
    int Cin, Cout, KH, KW, SH, SW, PH, PW, DH, DW, G, K, H, W, N, T;
};

// One convolution with its reorders, for a batch of nb samples folded into
// channels (nb = 1: per-sample; nb = N: grouped).
struct Conv {
    int nb;
    convolution_forward::primitive_desc pd;
    convolution_forward conv;
    memory src_user, src_prim, w_user, w_prim, b_mem, dst_prim, dst_user;
    bool src_re, w_re, dst_re;
    reorder r_src, r_w, r_dst;
    std::string impl;
};

struct Bench {
    engine eng{engine::kind::cpu, 0};
    stream strm{eng};
    Cfg c;
    int Ho, Wo, F, hw, howo;
    std::vector<float> weight, bias, fcw, fcb, x, y, biasrep;
    std::vector<float> fused;   // [N or 1][Cout][F] plain
    std::vector<double> pooled, logits;
    std::vector<float> pi;
    std::unique_ptr<Conv> per, grp;
    Conv *use = nullptr;

    std::unique_ptr<Conv> build(int nb) {
        auto cv = std::make_unique<Conv>();
        cv->nb = nb;
        int g = nb * c.G, cin = nb * c.Cin, cout = nb * c.Cout;
        memory::dims src_d{1, cin, c.H, c.W}, dst_d{1, cout, Ho, Wo}, b_d{cout};
        memory::dims w_d = g > 1 ? memory::dims{g, cout / g, cin / g, c.KH, c.KW}
                                 : memory::dims{cout, cin, c.KH, c.KW};
        auto wtag = g > 1 ? memory::format_tag::goihw : memory::format_tag::oihw;
        auto any = memory::format_tag::any;
        auto f32 = memory::data_type::f32;
        convolution_forward::desc d(prop_kind::forward_inference, algorithm::convolution_direct,
                                    memory::desc(src_d, f32, any), memory::desc(w_d, f32, any),
                                    memory::desc(b_d, f32, memory::format_tag::x), memory::desc(dst_d, f32, any),
                                    {c.SH, c.SW}, {c.DH - 1, c.DW - 1}, {c.PH, c.PW}, {c.PH, c.PW});
        cv->pd = convolution_forward::primitive_desc(d, eng);
        cv->conv = convolution_forward(cv->pd);
        cv->impl = cv->pd.impl_info_str();
        cv->src_user = memory({src_d, f32, memory::format_tag::nchw}, eng, x.data());
        cv->w_user = memory({w_d, f32, wtag}, eng, fused.data());
        cv->dst_user = memory({dst_d, f32, memory::format_tag::nchw}, eng, y.data());
        cv->b_mem = memory({b_d, f32, memory::format_tag::x}, eng, nb == 1 ? bias.data() : biasrep.data());
        cv->src_re = cv->pd.src_desc() != cv->src_user.get_desc();
        cv->w_re = cv->pd.weights_desc() != cv->w_user.get_desc();
        cv->dst_re = cv->pd.dst_desc() != cv->dst_user.get_desc();
        cv->src_prim = cv->src_re ? memory(cv->pd.src_desc(), eng) : cv->src_user;
        cv->w_prim = cv->w_re ? memory(cv->pd.weights_desc(), eng) : cv->w_user;
        cv->dst_prim = cv->dst_re ? memory(cv->pd.dst_desc(), eng) : cv->dst_user;
        if (cv->src_re) cv->r_src = reorder(cv->src_user, cv->src_prim);
        if (cv->w_re) cv->r_w = reorder(cv->w_user, cv->w_prim);
        if (cv->dst_re) cv->r_dst = reorder(cv->dst_prim, cv->dst_user);
        return cv;
    }

    // route: pool + FC + softmax of sample xs into pi [K, Cout].
    void route(const float *xs) {
        int Cin = c.Cin, KC = c.K * c.Cout;
#pragma omp parallel for schedule(static)
        for (int ch = 0; ch < Cin; ch++) {
            const float *p = xs + (size_t)ch * hw;
            double s = 0;
            for (int i = 0; i < hw; i++) s += p[i];
            pooled[ch] = s / hw;
        }
#pragma omp parallel for schedule(static)
        for (int j = 0; j < KC; j++) {
            const float *r = fcw.data() + (size_t)j * Cin;
            double a = fcb[j];
            for (int ch = 0; ch < Cin; ch++) a += (double)r[ch] * pooled[ch];
            logits[j] = a;
        }
        for (int o = 0; o < c.Cout; o++) {
            double m = -INFINITY, s = 0;
            for (int k = 0; k < c.K; k++) m = std::max(m, logits[k * c.Cout + o]);
            for (int k = 0; k < c.K; k++) s += (logits[k * c.Cout + o] = std::exp(logits[k * c.Cout + o] - m));
            for (int k = 0; k < c.K; k++) pi[k * c.Cout + o] = (float)(logits[k * c.Cout + o] / s);
        }
    }

    // fuse: dst [Cout][F] = Σ_k pi[k, o]·weight[k, o].
    void fuse(float *dst) {
        int Cout = c.Cout, K = c.K, Fl = F;
        const float *w = weight.data();
        const float *p = pi.data();
#pragma omp parallel for schedule(static)
        for (int o = 0; o < Cout; o++) {
            float *d = dst + (size_t)o * Fl;
            const float *w0 = w + (size_t)o * Fl;
            float a0 = p[o];
            for (int j = 0; j < Fl; j++) d[j] = a0 * w0[j];
            for (int k = 1; k < K; k++) {
                const float *wk = w + ((size_t)k * Cout + o) * Fl;
                float a = p[k * Cout + o];
                for (int j = 0; j < Fl; j++) d[j] += a * wk[j];
            }
        }
    }

    void run_conv(Conv *cv, float *xs, float *ys) {
        cv->src_user.set_data_handle(xs);
        cv->dst_user.set_data_handle(ys);
        if (cv->src_re) cv->r_src.execute(strm, cv->src_user, cv->src_prim);
        if (cv->w_re) cv->r_w.execute(strm, cv->w_user, cv->w_prim);
        cv->conv.execute(strm, {{DNNL_ARG_SRC, cv->src_prim}, {DNNL_ARG_WEIGHTS, cv->w_prim},
                                {DNNL_ARG_BIAS, cv->b_mem}, {DNNL_ARG_DST, cv->dst_prim}});
        if (cv->dst_re) cv->r_dst.execute(strm, cv->dst_prim, cv->dst_user);
        strm.wait();
    }

    void forward(Conv *cv) {
        size_t in = (size_t)c.Cin * hw, out = (size_t)c.Cout * howo, wf = (size_t)c.Cout * F;
        if (cv->nb == 1) {
            for (int i = 0; i < c.N; i++) {
                route(x.data() + i * in);
                fuse(fused.data());
                run_conv(cv, x.data() + i * in, y.data() + i * out);
            }
        } else {
            for (int i = 0; i < c.N; i++) {
                route(x.data() + i * in);
                fuse(fused.data() + i * wf);
            }
            run_conv(cv, x.data(), y.data());
        }
    }

    double time_once(Conv *cv) {
        auto t0 = std::chrono::steady_clock::now();
        forward(cv);
        auto t1 = std::chrono::steady_clock::now();
        return std::chrono::duration<double, std::milli>(t1 - t0).count();
    }

    double median_of(Conv *cv, int reps) {
        std::vector<double> t;
        for (int i = 0; i < reps; i++) t.push_back(time_once(cv));
        std::sort(t.begin(), t.end());
        return t[t.size() / 2];
    }

    std::string setup(const Cfg &cfg) {
        c = cfg;
        omp_set_num_threads(c.T);
        Ho = (c.H + 2 * c.PH - c.DH * (c.KH - 1) - 1) / c.SH + 1;
        Wo = (c.W + 2 * c.PW - c.DW * (c.KW - 1) - 1) / c.SW + 1;
        F = c.Cin / c.G * c.KH * c.KW;
        hw = c.H * c.W;
        howo = Ho * Wo;
        weight = readf(c.dir + "/weight.f32", (size_t)c.K * c.Cout * F);
        bias = readf(c.dir + "/bias.f32", c.Cout);
        fcw = readf(c.dir + "/fc_weight.f32", (size_t)c.K * c.Cout * c.Cin);
        fcb = readf(c.dir + "/fc_bias.f32", (size_t)c.K * c.Cout);
        x = readf(c.dir + "/x.f32", (size_t)c.N * c.Cin * hw);
        y.assign((size_t)c.N * c.Cout * howo, 0.f);
        biasrep.resize((size_t)c.N * c.Cout);
        for (int i = 0; i < c.N; i++) std::copy(bias.begin(), bias.end(), biasrep.begin() + (size_t)i * c.Cout);
        fused.assign((size_t)c.N * c.Cout * F, 0.f);
        pooled.assign(c.Cin, 0);
        logits.assign((size_t)c.K * c.Cout, 0);
        pi.assign((size_t)c.K * c.Cout, 0);
        per = build(1);
        grp.reset();
        use = per.get();
        double per_ms = median_of(per.get(), 3), grp_ms = -1;
        std::string grp_impl;
        if (c.N > 1) {
            grp = build(c.N);
            grp_ms = median_of(grp.get(), 3);
            grp_impl = grp->impl;
            if (grp_ms < per_ms) use = grp.get();
        }
        forward(use);
        FILE *f = fopen(c.out.c_str(), "wb");
        if (!f) throw std::runtime_error("cannot create " + c.out);
        fwrite(y.data(), sizeof(float), y.size(), f);
        fclose(f);
        char buf[1024];
        snprintf(buf, sizeof buf,
                 "{\"impl\":\"%s\",\"isa\":\"%s\",\"formulation\":\"%s\",\"per_sample_ms\":%.4f,"
                 "\"grouped_ms\":%.4f,\"grouped_impl\":\"%s\",\"src_reorder\":%s,\"weights_layout_reorder\":%s,"
                 "\"threads\":%d,\"version\":\"%d.%d.%d\",\"first_ms\":%.4f}",
                 use->impl.c_str(), isa_name(dnnl_get_effective_cpu_isa()),
                 use == per.get() ? "per-sample" : "grouped", per_ms, grp_ms, grp_impl.c_str(),
                 use->src_re ? "true" : "false", use->w_re ? "true" : "false", omp_get_max_threads(),
                 dnnl_version()->major, dnnl_version()->minor, dnnl_version()->patch, std::min(per_ms, grp_ms < 0 ? per_ms : grp_ms));
        return buf;
    }

    std::string time(int reps) {
        std::ostringstream o;
        o << "{\"ms\":[";
        for (int i = 0; i < reps; i++) {
            if (i) o << ",";
            char b[32];
            snprintf(b, sizeof b, "%.5f", time_once(use));
            o << b;
        }
        o << "]}";
        return o.str();
    }
};

int main() {
    Bench b;
    std::string line;
    while (std::getline(std::cin, line)) {
        std::istringstream in(line);
        std::string cmd;
        in >> cmd;
        try {
            if (cmd == "setup") {
                Cfg c;
                in >> c.dir >> c.Cin >> c.Cout >> c.KH >> c.KW >> c.SH >> c.SW >> c.PH >> c.PW >> c.DH >> c.DW >> c.G >>
                    c.K >> c.H >> c.W >> c.N >> c.T >> c.out;
                if (!in) throw std::runtime_error("bad setup line: " + line);
                std::cout << "ok " << b.setup(c) << std::endl;
            } else if (cmd == "time") {
                int reps = 0;
                in >> reps;
                if (!b.use || reps <= 0) throw std::runtime_error("time before setup, or bad reps");
                std::cout << "ok " << b.time(reps) << std::endl;
            } else if (cmd == "quit") {
                return 0;
            } else {
                throw std::runtime_error("unknown command: " + cmd);
            }
        } catch (const std::exception &e) {
            std::string m = e.what();
            std::replace(m.begin(), m.end(), '\n', ' ');
            std::cout << "err " << m << std::endl;
        }
    }
    return 0;
}
