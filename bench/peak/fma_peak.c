// fma_peak: this machine's single-core AVX2 FMA peak in GFLOP/s.
// 12 independent accumulators (enough to cover the FMA latency × the two
// FMA pipes of Zen 3/4 and recent Intel cores), vfmadd231ps ymm, 8 floats ×
// 2 flops per instruction. Prints the best of several trials as JSON.
// Build: gcc -O2 -mavx2 -mfma fma_peak.c -o fma_peak
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(void) {
    const long iters = 50000000;
    double best = 0, sink = 0;
    for (int trial = 0; trial < 7; trial++) {
        __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
        __m256 c0 = _mm256_set1_ps(0.f), c1 = _mm256_set1_ps(1.f), c2 = _mm256_set1_ps(2.f),
               c3 = _mm256_set1_ps(3.f), c4 = _mm256_set1_ps(4.f), c5 = _mm256_set1_ps(5.f),
               c6 = _mm256_set1_ps(6.f), c7 = _mm256_set1_ps(7.f), c8 = _mm256_set1_ps(8.f),
               c9 = _mm256_set1_ps(9.f), c10 = _mm256_set1_ps(10.f), c11 = _mm256_set1_ps(11.f);
        double t0 = now();
        for (long i = 0; i < iters; i++) {
            c0 = _mm256_fmadd_ps(c0, a, b);
            c1 = _mm256_fmadd_ps(c1, a, b);
            c2 = _mm256_fmadd_ps(c2, a, b);
            c3 = _mm256_fmadd_ps(c3, a, b);
            c4 = _mm256_fmadd_ps(c4, a, b);
            c5 = _mm256_fmadd_ps(c5, a, b);
            c6 = _mm256_fmadd_ps(c6, a, b);
            c7 = _mm256_fmadd_ps(c7, a, b);
            c8 = _mm256_fmadd_ps(c8, a, b);
            c9 = _mm256_fmadd_ps(c9, a, b);
            c10 = _mm256_fmadd_ps(c10, a, b);
            c11 = _mm256_fmadd_ps(c11, a, b);
            __asm__ volatile("" : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3), "+x"(c4), "+x"(c5), "+x"(c6),
                             "+x"(c7), "+x"(c8), "+x"(c9), "+x"(c10), "+x"(c11));
        }
        double dt = now() - t0;
        __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                                 _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
        s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
        float f[8];
        _mm256_storeu_ps(f, s);
        sink += f[0];
        double g = iters * 12.0 * 16.0 / dt / 1e9;
        if (g > best) best = g;
    }
    printf("{\"gflops\":%.2f,\"accumulators\":12,\"isa\":\"avx2+fma\",\"sink\":%g}\n", best, sink);
    return 0;
}
