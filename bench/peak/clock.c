// clock estimates the core clock of the CPU it runs on: a chain of
// dependent integer ADDs (one cycle each on every x86 core dygen is measured
// on) timed with CLOCK_MONOTONIC. It prints GHz, the best of 3 runs of 2e9
// ADDs. purego_peak.sh uses it to state the pure-Go kernels' speed as a
// fraction of 4 FLOPs per cycle (two scalar multiplies and two scalar adds),
// next to the fraction of internal/peak's measured pure-Go loop.
#include <stdio.h>
#include <time.h>

int main(void) {
	const long n = 2000000000L;
	long x = 0;
	double best = 0;
	for (int r = 0; r < 3; r++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (long i = 0; i < n; i += 10) {
			__asm__ volatile("add $1,%0\n\tadd $1,%0\n\tadd $1,%0\n\tadd $1,%0\n\tadd $1,%0\n\t"
			                 "add $1,%0\n\tadd $1,%0\n\tadd $1,%0\n\tadd $1,%0\n\tadd $1,%0"
			                 : "+r"(x));
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		double t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
		if (n / t / 1e9 > best) {
			best = n / t / 1e9;
		}
	}
	printf("%.3f\n", best);
	return (int)(x & 0); // x is used: the chain is not optimised away
}
