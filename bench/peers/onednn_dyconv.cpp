// onednn_dyconv: the oneDNN peer of dygen's benchmark (bench/README.md).
//
// A whole DyConv forward per sample: mean pool, coefficient FC and softmax
// over the experts (plain C++ with OpenMP), the fusion of the K expert
// kernels with the sample's coefficients, and oneDNN's convolution
// primitive, built with format "any" so that oneDNN picks the layouts of
// its source, weights and destination. Every sample has its own fused
// kernel, so the fusion is inside the timed forward. Two modes:
//
//   kept (-mode kept; the comparison of record): as a network that keeps
//     oneDNN's layouts between layers runs it. The input is already in the
//     layout the primitive picked for its source (nChw8c, nChw16c, ...;
//     reordered from NCHW at setup), the output is left in the layout it
//     picked for its destination, and the fusion writes straight into the
//     primitive's weights layout: each expert's kernel is reordered into that
//     layout once at setup, and a sample's fusion is the weighted sum of the
//     K reordered experts, element by element, into the primitive's weights
//     buffer (the coefficient of each element is that of its output channel;
//     the layout's padding is zero in every expert, so it stays zero). Timed:
//     pool (over the blocked input), FC, softmax, fusion, convolution; no
//     reorder. The output is reordered to NCHW after the forward, untimed,
//     for the check against dygen.
//   converting (the default, -mode convert): NCHW in and out, as a caller
//     with NCHW tensors runs it. Fusion into a plain [G, Cout/G, Cin/G, KH,
//     KW] buffer, then in the timed forward: a reorder of the fused kernel
//     into the primitive's weights layout, a reorder of the NCHW input into
//     its source layout, the convolution, and a reorder of the output back
//     to NCHW.
//
// For N > 1 two formulations are built and the faster one is kept:
//   per-sample: one N=1 convolution primitive run N times;
//   grouped:    the batch folded into channels, one convolution with
//               groups = N·G over [1, N·Cin, H, W] (what PyTorch's reference
//               DyConv does). In kept mode it is built only when the
//               primitive's weights layout holds the N samples' kernels as N
//               equal consecutive parts (so the experts are stored once).
//
// It is a server driven by bench/cmd/dyconvbench over stdin/stdout, one
// command per line, one answer per line ("ok {json}" or "err message"):
//   setup DIR Cin Cout KH KW SH SW PH PW DH DW G K H W N T OUTFILE
//   time REPS
// Threads: omp_set_num_threads(T); oneDNN is built with the OpenMP runtime.
// ISA: oneDNN 2.6 reads ONEDNN_MAX_CPU_ISA, then DNNL_MAX_CPU_ISA (the
// driver sets both for its AVX2-capped peers).
// Build: g++ -O3 -march=native -fopenmp onednn_dyconv.cpp -ldnnl
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace dnnl;

static bool kept_mode = false;

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

// layout names a blocked memory layout in oneDNN's verbose notation: the
// dimensions from outermost to innermost (a, b, c, ... for dimension 0, 1,
// 2, ...; upper case when blocked), then the inner blocks, e.g. "aBcd8b" for
// nChw8c, "acdb" for nhwc, "ABcd8b8a" for OIhw8i8o.
static std::string layout(const memory::desc &md) {
    const dnnl_memory_desc_t &d = md.data;
    if (d.format_kind != dnnl_blocked) return "non-blocked";
    const auto &b = d.format_desc.blocking;
    std::vector<int> order(d.ndims);
    for (int i = 0; i < d.ndims; i++) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return b.strides[x] > b.strides[y]; });
    bool blocked[DNNL_MAX_NDIMS] = {};
    for (int i = 0; i < b.inner_nblks; i++) blocked[b.inner_idxs[i]] = true;
    std::string s;
    for (int i : order) s += char((blocked[i] ? 'A' : 'a') + i);
    for (int i = 0; i < b.inner_nblks; i++) s += std::to_string(b.inner_blks[i]) + char('a' + b.inner_idxs[i]);
    return s;
}

// offset is the position (in floats) of the element at logical index pos,
// within the padded dimensions, of a blocked memory: oneDNN's own formula.
static dnnl_dim_t offset(const dnnl_memory_desc_t &d, const dnnl_dim_t *pos) {
    const auto &b = d.format_desc.blocking;
    dnnl_dim_t p[DNNL_MAX_NDIMS];
    for (int i = 0; i < d.ndims; i++) p[i] = pos[i];
    dnnl_dim_t off = d.offset0, stride = 1;
    for (int i = b.inner_nblks - 1; i >= 0; i--) {
        int dim = b.inner_idxs[i];
        off += p[dim] % b.inner_blks[i] * stride;
        p[dim] /= b.inner_blks[i];
        stride *= b.inner_blks[i];
    }
    for (int i = 0; i < d.ndims; i++) off += p[i] * b.strides[i];
    return off;
}

// A 64-byte aligned float buffer.
struct Buf {
    float *p = nullptr;
    size_t n = 0;
    Buf() = default;
    explicit Buf(size_t n_) : n(n_) {
        p = static_cast<float *>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64));
        if (!p) throw std::runtime_error("out of memory");
        std::memset(p, 0, n * sizeof(float));
    }
    Buf(Buf &&o) noexcept : p(o.p), n(o.n) { o.p = nullptr; }
    Buf &operator=(Buf &&o) noexcept { std::swap(p, o.p); std::swap(n, o.n); return *this; }
    ~Buf() { std::free(p); }
};

// A piece of the fusion in kept mode: reps consecutive runs of len floats
// from float p of the weights buffer; within each run the output channel is
// c0 + j (step 1) or c0 (step 0) for the run's float j.
struct Piece {
    size_t p;
    int c0, len, step, reps;
};

// The pieces of weights floats [0, n) whose output channels are ch.
static std::vector<Piece> make_pieces(const std::vector<int32_t> &ch, size_t n) {
    const int max_floats = 4096; // a piece is at most this long (load balance)
    std::vector<Piece> out;
    size_t p = 0;
    while (p < n) {
        int c0 = ch[p], step = 0, len = 1;
        if (p + 1 < n && ch[p + 1] == c0 + 1) step = 1;
        while (p + len < n && len < max_floats && ch[p + len] == c0 + step * len) len++;
        if (!out.empty()) {
            Piece &q = out.back();
            if (q.c0 == c0 && q.len == len && q.step == step && q.p + (size_t)q.len * q.reps == p &&
                (q.reps + 1) * len <= max_floats) {
                q.reps++;
                p += len;
                continue;
            }
        }
        out.push_back({p, c0, len, step, 1});
        p += len;
    }
    return out;
}

// fuse_step1 fuses n floats (runs of L) of a piece whose output channels
// are c0 + j in each run: d[r+j] = Σ_k p0[k·ld + j]·e[k][q+r+j], summed in
// the order k = 0, 1, ..., K-1 in a register per float.
template <int L>
static inline void fuse_step1(float *d, const float *const *e, size_t q, const float *p0, size_t ld, int K, int n) {
    for (int r = 0; r < n; r += L) {
        float a[L];
        const float *w0 = e[0] + q + r;
        for (int j = 0; j < L; j++) a[j] = p0[j] * w0[j];
        for (int k = 1; k < K; k++) {
            const float *wk = e[k] + q + r, *pk = p0 + k * ld;
            for (int j = 0; j < L; j++) a[j] += pk[j] * wk[j];
        }
        for (int j = 0; j < L; j++) d[r + j] = a[j];
    }
}

// weight_channels returns, for every float of a weights memory with dims
// [g,] o, i, h, w (cog output channels per group), the output channel g·cog+o
// of its element, over the padded dimensions: the padding is zero in every
// expert, so its channel only has to be a valid index.
static std::vector<int32_t> weight_channels(const memory::desc &md, int cog) {
    const dnnl_memory_desc_t &d = md.data;
    if (d.format_kind != dnnl_blocked) throw std::runtime_error("kept mode: the weights layout is not a blocked one");
    size_t n = md.get_size() / sizeof(float);
    std::vector<int32_t> ch(n, -1);
    int nd = d.ndims;
    dnnl_dim_t pos[DNNL_MAX_NDIMS] = {};
    for (;;) {
        dnnl_dim_t off = offset(d, pos);
        if (off < 0 || (size_t)off >= n) throw std::runtime_error("kept mode: weights offset outside the buffer");
        ch[off] = nd == 5 ? (int32_t)(pos[0] * cog + pos[1]) : (int32_t)pos[0];
        int i = nd - 1;
        while (i >= 0 && ++pos[i] == d.padded_dims[i]) pos[i--] = 0;
        if (i < 0) break;
    }
    for (size_t p = 0; p < n; p++)
        if (ch[p] < 0) throw std::runtime_error("kept mode: the weights layout has floats outside its dimensions");
    return ch;
}

// A run of the mean pool in kept mode: channels [c, c+len) of a sample,
// whose floats sit at base + j·cs (+ h·sh + w·sw) in the source memory.
struct PoolRun {
    int c, len;
    dnnl_dim_t base, cs;
};

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
    bool src_re = false, w_re = false, dst_re = false;
    reorder r_src, r_w, r_dst;
    std::string impl;

    // Kept mode: the input and output in the primitive's layouts, one memory
    // per sample (per-sample) or one for the batch (grouped); the experts in
    // its weights layout; the fusion's pieces and the pool's runs.
    std::vector<memory> ksrc, kdst;
    std::vector<Buf> experts; // K × P floats
    std::vector<const float *> eptr;
    size_t P = 0;             // floats of one sample's fused kernel (grouped: w_prim holds nb of them)
    std::vector<Piece> pieces;
    int ld = 0;                            // row length of the coefficients [K][ld]
    std::vector<std::vector<PoolRun>> pool; // per sample
    dnnl_dim_t sh = 0, sw = 0;
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
    Buf kpi; // kept mode: coefficients [K][ld], channel-indexed as the fused layout
    std::unique_ptr<Conv> per, grp;
    Conv *use = nullptr;
    std::string grp_note;

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
        cv->b_mem = memory({b_d, f32, memory::format_tag::x}, eng, nb == 1 ? bias.data() : biasrep.data());
        if (kept_mode) return build_kept(cv.get(), src_d, w_d, wtag, dst_d) ? std::move(cv) : nullptr;
        cv->src_user = memory({src_d, f32, memory::format_tag::nchw}, eng, x.data());
        cv->w_user = memory({w_d, f32, wtag}, eng, fused.data());
        cv->dst_user = memory({dst_d, f32, memory::format_tag::nchw}, eng, y.data());
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

    // build_kept prepares kept mode, outside the timed region: the input in
    // the primitive's source layout, its output memories, the experts in its
    // weights layout, and the fusion's and pool's plans. It returns false
    // when a grouped primitive's weights layout does not hold the samples'
    // kernels as equal consecutive parts (grp_note says why).
    bool build_kept(Conv *cv, const memory::dims &src_d, const memory::dims &w_d, memory::format_tag wtag,
                    const memory::dims &dst_d) {
        int nb = cv->nb;
        auto f32 = memory::data_type::f32;
        memory::desc sd = cv->pd.src_desc(), wd = cv->pd.weights_desc(), dd = cv->pd.dst_desc();
        cv->w_prim = memory(wd, eng); // the fusion's destination, never the plain buffer
        std::memset(cv->w_prim.get_data_handle(), 0, wd.get_size());
        size_t in = (size_t)c.Cin * hw;
        // The input, reordered once from NCHW: as the previous layer of a
        // network that keeps oneDNN's layouts would have left it.
        int regions = nb == 1 ? c.N : 1;
        for (int i = 0; i < regions; i++) {
            memory u({src_d, f32, memory::format_tag::nchw}, eng, x.data() + i * in);
            memory m(sd, eng), o(dd, eng);
            reorder(u, m).execute(strm, u, m);
            cv->ksrc.push_back(m);
            cv->kdst.push_back(o);
        }
        strm.wait();
        // The experts in the weights layout.
        int cog = c.Cout / c.G;
        size_t wn = wd.get_size() / sizeof(float), one = (size_t)c.Cout * F;
        std::vector<int32_t> ch = weight_channels(wd, cog);
        cv->P = wn / nb;
        if (wn % nb != 0) {
            grp_note = "weights layout of " + std::to_string(wn) + " floats is not " + std::to_string(nb) + " equal parts";
            return false;
        }
        for (size_t p = 0; p < cv->P; p++)
            for (int s = 1; s < nb; s++)
                if (ch[p + s * cv->P] != ch[p] + s * c.Cout) {
                    grp_note = "weights layout (" + layout(wd) + ") does not hold the samples' kernels as consecutive parts";
                    return false;
                }
        std::vector<float> plain(nb * one);
        for (int k = 0; k < c.K; k++) {
            for (int s = 0; s < nb; s++)
                std::copy(weight.begin() + k * one, weight.begin() + (k + 1) * one, plain.begin() + s * one);
            memory u({w_d, f32, wtag}, eng, plain.data()), m(wd, eng);
            reorder(u, m).execute(strm, u, m);
            strm.wait();
            const float *e = static_cast<const float *>(m.get_data_handle());
            for (size_t p = 0; p < cv->P; p++)
                for (int s = 1; s < nb; s++)
                    if (e[p + s * cv->P] != e[p]) {
                        grp_note = "weights layout (" + layout(wd) + ") does not hold the samples' kernels as equal parts";
                        return false;
                    }
            Buf b(cv->P);
            std::copy(e, e + cv->P, b.p);
            cv->experts.push_back(std::move(b));
        }
        for (const Buf &b : cv->experts) cv->eptr.push_back(b.p);
        ch.resize(cv->P);
        cv->pieces = make_pieces(ch, cv->P);
        int maxc = *std::max_element(ch.begin(), ch.end());
        cv->ld = std::max(cv->ld, maxc + 1 + (nb - 1) * c.Cout);
        // The pool's runs: channels whose floats are consecutive, at most 16.
        const dnnl_memory_desc_t &s = sd.data;
        if (s.format_kind != dnnl_blocked) throw std::runtime_error("kept mode: the source layout is not a blocked one");
        cv->sh = s.format_desc.blocking.strides[2];
        cv->sw = s.format_desc.blocking.strides[3];
        for (int smp = 0; smp < nb; smp++) {
            std::vector<PoolRun> runs;
            dnnl_dim_t pos[4] = {0, 0, 0, 0};
            for (int ci = 0; ci < c.Cin; ci++) {
                pos[1] = smp * c.Cin + ci;
                dnnl_dim_t o = offset(s, pos);
                if (!runs.empty()) {
                    PoolRun &r = runs.back();
                    if (r.len == 1 && r.c + 1 == ci) {
                        r.cs = o - r.base, r.len = 2;
                        continue;
                    }
                    if (r.len < 16 && r.c + r.len == ci && r.base + r.len * r.cs == o) {
                        r.len++;
                        continue;
                    }
                }
                runs.push_back({ci, 1, o, 1});
            }
            // Runs whose channels are far apart (nchw) pool one channel at a time.
            std::vector<PoolRun> split;
            for (const PoolRun &r : runs) {
                if (r.cs == 1 || r.len == 1) {
                    split.push_back(r);
                } else {
                    for (int j = 0; j < r.len; j++) split.push_back({r.c + j, 1, r.base + j * r.cs, 1});
                }
            }
            cv->pool.push_back(split);
        }
        return true;
    }

    // route: pool + FC + softmax of sample xs into pi [K, Cout].
    void route(const float *xs) {
        int Cin = c.Cin;
#pragma omp parallel for schedule(static)
        for (int ch = 0; ch < Cin; ch++) {
            const float *p = xs + (size_t)ch * hw;
            double s = 0;
            for (int i = 0; i < hw; i++) s += p[i];
            pooled[ch] = s / hw;
        }
        coefficients(pi.data(), c.Cout, 0);
    }

    // coefficients: FC + softmax of pooled into dst[k·ld + off + o].
    void coefficients(float *dst, int ld, int off) {
        int Cin = c.Cin, KC = c.K * c.Cout;
#pragma omp parallel for schedule(static)
        for (int j = 0; j < KC; j++) {
            const float *r = fcw.data() + (size_t)j * Cin;
            const double *pl = pooled.data();
            double a = 0; // in double, vectorized (a serial chain of double adds took 4x longer)
#pragma omp simd reduction(+ : a)
            for (int ch = 0; ch < Cin; ch++) a += (double)r[ch] * pl[ch];
            logits[j] = fcb[j] + a;
        }
        for (int o = 0; o < c.Cout; o++) {
            double m = -INFINITY, s = 0;
            for (int k = 0; k < c.K; k++) m = std::max(m, logits[k * c.Cout + o]);
            for (int k = 0; k < c.K; k++) s += (logits[k * c.Cout + o] = std::exp(logits[k * c.Cout + o] - m));
            for (int k = 0; k < c.K; k++) dst[(size_t)k * ld + off + o] = (float)(logits[k * c.Cout + o] / s);
        }
    }

    // pool_kept: the mean of sample smp of source memory xs, in its layout.
    void pool_kept(const Conv *cv, const float *xs, int smp) {
        const std::vector<PoolRun> &runs = cv->pool[smp];
        int nr = (int)runs.size(), H = c.H, W = c.W;
        dnnl_dim_t sh = cv->sh, sw = cv->sw;
        double inv = 1.0 / hw;
#pragma omp parallel for schedule(static)
        for (int ri = 0; ri < nr; ri++) {
            const PoolRun &r = runs[ri];
            double acc[16] = {};
            switch (r.len) {
            case 1: pool_run<1>(acc, xs + r.base, H, W, sh, sw); break;
            case 8: pool_run<8>(acc, xs + r.base, H, W, sh, sw); break;
            case 16: pool_run<16>(acc, xs + r.base, H, W, sh, sw); break;
            default:
                for (int h = 0; h < H; h++)
                    for (int w = 0; w < W; w++) {
                        const float *p = xs + r.base + h * sh + w * sw;
                        for (int j = 0; j < r.len; j++) acc[j] += p[j];
                    }
            }
            for (int j = 0; j < r.len; j++) pooled[r.c + j] = acc[j] * inv;
        }
    }

    // pool_run adds the H×W pixels of L consecutive channels at x into acc,
    // in double, with four independent partial sums per channel.
    template <int L>
    static void pool_run(double *acc, const float *x, int H, int W, dnnl_dim_t sh, dnnl_dim_t sw) {
        double a[4][L] = {};
        for (int h = 0; h < H; h++) {
            const float *row = x + h * sh;
            int w = 0;
            for (; w + 4 <= W; w += 4)
                for (int q = 0; q < 4; q++)
                    for (int j = 0; j < L; j++) a[q][j] += row[(w + q) * sw + j];
            for (; w < W; w++)
                for (int j = 0; j < L; j++) a[0][j] += row[w * sw + j];
        }
        for (int j = 0; j < L; j++) acc[j] = (a[0][j] + a[1][j]) + (a[2][j] + a[3][j]);
    }

    // fuse_kept: the fused kernels of ns samples, straight into the
    // primitive's weights buffer: for every float, Σ_k π[k, channel]·E_k.
    void fuse_kept(const Conv *cv, int ns) {
        float *dst = static_cast<float *>(cv->w_prim.get_data_handle());
        const int K = c.K, ld = cv->ld, np = (int)cv->pieces.size();
        const Piece *pcs = cv->pieces.data();
        const float *pi0 = kpi.p;
        const size_t P = cv->P;
        const float *const *e = cv->eptr.data();
        const float *e0 = e[0];
#pragma omp parallel for schedule(static)
        for (long t = 0; t < (long)np * ns; t++) {
            int s = (int)(t / np);
            const Piece &q = pcs[t % np];
            float *d = dst + s * P + q.p;
            const float *p0 = pi0 + q.c0 + s * c.Cout;
            const int len = q.len, n = len * q.reps;
            if (q.step && len == 8) {
                fuse_step1<8>(d, e, q.p, p0, ld, K, n);
            } else if (q.step && len == 16) {
                fuse_step1<16>(d, e, q.p, p0, ld, K, n);
            } else if (q.step) {
                for (int r = 0; r < n; r += len) {
                    const float *w0 = e0 + q.p + r;
                    for (int j = 0; j < len; j++) d[r + j] = p0[j] * w0[j];
                    for (int k = 1; k < K; k++) {
                        const float *wk = e[k] + q.p + r, *pk = p0 + (size_t)k * ld;
                        for (int j = 0; j < len; j++) d[r + j] += pk[j] * wk[j];
                    }
                }
            } else {
                const float *w0 = e0 + q.p;
                float a0 = p0[0];
                for (int j = 0; j < n; j++) d[j] = a0 * w0[j];
                for (int k = 1; k < K; k++) {
                    const float *wk = e[k] + q.p;
                    float a = p0[(size_t)k * ld];
                    for (int j = 0; j < n; j++) d[j] += a * wk[j];
                }
            }
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

    void forward_kept(Conv *cv) {
        if (cv->nb == 1) {
            for (int i = 0; i < c.N; i++) {
                pool_kept(cv, static_cast<const float *>(cv->ksrc[i].get_data_handle()), 0);
                coefficients(kpi.p, cv->ld, 0);
                fuse_kept(cv, 1);
                cv->conv.execute(strm, {{DNNL_ARG_SRC, cv->ksrc[i]}, {DNNL_ARG_WEIGHTS, cv->w_prim},
                                        {DNNL_ARG_BIAS, cv->b_mem}, {DNNL_ARG_DST, cv->kdst[i]}});
                strm.wait();
            }
        } else {
            const float *xs = static_cast<const float *>(cv->ksrc[0].get_data_handle());
            for (int i = 0; i < c.N; i++) {
                pool_kept(cv, xs, i);
                coefficients(kpi.p, cv->ld, i * c.Cout);
            }
            fuse_kept(cv, c.N);
            cv->conv.execute(strm, {{DNNL_ARG_SRC, cv->ksrc[0]}, {DNNL_ARG_WEIGHTS, cv->w_prim},
                                    {DNNL_ARG_BIAS, cv->b_mem}, {DNNL_ARG_DST, cv->kdst[0]}});
            strm.wait();
        }
    }

    // kept_to_nchw converts kept mode's output to NCHW in y (untimed, for
    // the check).
    void kept_to_nchw(Conv *cv) {
        auto f32 = memory::data_type::f32;
        size_t out = (size_t)c.Cout * howo;
        for (size_t i = 0; i < cv->kdst.size(); i++) {
            memory::dims dd{1, cv->nb * c.Cout, Ho, Wo};
            memory u({dd, f32, memory::format_tag::nchw}, eng, y.data() + i * out);
            reorder(cv->kdst[i], u).execute(strm, cv->kdst[i], u);
        }
        strm.wait();
    }

    void forward(Conv *cv) {
        if (kept_mode) {
            forward_kept(cv);
            return;
        }
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
        fused.assign(kept_mode ? 0 : (size_t)c.N * c.Cout * F, 0.f);
        pooled.assign(c.Cin, 0);
        logits.assign((size_t)c.K * c.Cout, 0);
        pi.assign((size_t)c.K * c.Cout, 0);
        grp_note.clear();
        use = nullptr;
        per.reset();
        grp.reset();
        per = build(1);
        if (!per) throw std::runtime_error("kept mode: " + grp_note);
        alloc_kpi();
        use = per.get();
        double per_ms = median_of(per.get(), 3), grp_ms = -1;
        std::string grp_impl;
        if (c.N > 1) {
            grp = build(c.N);
            if (grp) {
                alloc_kpi();
                grp_ms = median_of(grp.get(), 3);
                grp_impl = grp->impl;
                if (grp_ms < per_ms) use = grp.get();
            }
        }
        forward(use);
        if (kept_mode) kept_to_nchw(use);
        FILE *f = fopen(c.out.c_str(), "wb");
        if (!f) throw std::runtime_error("cannot create " + c.out);
        fwrite(y.data(), sizeof(float), y.size(), f);
        fclose(f);
        std::ostringstream o;
        o << "{\"mode\":\"" << (kept_mode ? "layouts-kept" : "converting") << "\",\"impl\":\"" << use->impl
          << "\",\"isa\":\"" << isa_name(dnnl_get_effective_cpu_isa()) << "\",\"formulation\":\""
          << (use == per.get() ? "per-sample" : "grouped") << "\",\"per_sample_ms\":" << per_ms
          << ",\"grouped_ms\":" << grp_ms << ",\"grouped_impl\":\"" << grp_impl << "\",\"src_layout\":\""
          << layout(use->pd.src_desc()) << "\",\"weights_layout\":\"" << layout(use->pd.weights_desc())
          << "\",\"dst_layout\":\"" << layout(use->pd.dst_desc()) << "\"";
        if (kept_mode) {
            o << ",\"fusion_pieces\":" << use->pieces.size();
            if (!grp_note.empty()) o << ",\"grouped_note\":\"" << grp_note << "\"";
        } else {
            o << ",\"src_reorder\":" << (use->src_re ? "true" : "false")
              << ",\"weights_layout_reorder\":" << (use->w_re ? "true" : "false");
        }
        o << ",\"threads\":" << omp_get_max_threads() << ",\"version\":\"" << dnnl_version()->major << "."
          << dnnl_version()->minor << "." << dnnl_version()->patch
          << "\",\"first_ms\":" << std::min(per_ms, grp_ms < 0 ? per_ms : grp_ms) << "}";
        return o.str();
    }

    // alloc_kpi sizes the kept mode's coefficients for the widest
    // formulation built so far (zero beyond the real channels).
    void alloc_kpi() {
        if (!kept_mode) return;
        int ld = std::max(per ? per->ld : 0, grp ? grp->ld : 0);
        if (per) per->ld = ld;
        if (grp) grp->ld = ld;
        kpi = Buf((size_t)c.K * ld);
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

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "-mode" && i + 1 < argc) {
            std::string m = argv[++i];
            if (m == "kept") {
                kept_mode = true;
            } else if (m != "convert") {
                std::cerr << "onednn_dyconv: -mode " << m << ": want kept or convert\n";
                return 2;
            }
        } else {
            std::cerr << "usage: onednn_dyconv [-mode kept|convert]\n";
            return 2;
        }
    }
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
            std::replace(m.begin(), m.end(), '"', '\'');
            std::cout << "err " << m << std::endl;
        }
    }
    return 0;
}
