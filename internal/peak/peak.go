package peak

import (
	"runtime"
	"time"
)

// Kernel describes the loop that Measure times on this machine: that of the
// fastest variant available here (see Variant.Kernel).
func Kernel() string { return best().Kernel() }

// Measure returns the FMA peak of one core in GFLOP/s (1e9 float32
// floating-point operations per second, a fused multiply-add counting as
// two) of the fastest variant available here: the best of 10 timed runs of
// about 40 ms of the peak loop (see the package documentation), on a
// goroutine locked to its OS thread. It takes about half a second.
// Variant.Measure measures a given variant.
func Measure() (gflops float64) {
	k, _ := best().loop()
	return measure(k, 40*time.Millisecond, 10)
}

// measure times runs of loop k of about d each and returns the best rate.
func measure(k loop, d time.Duration, runs int) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Calibrate: grow n until one run takes a tenth of d, then scale.
	n := 1 << 10
	for {
		t := timeRun(k, n)
		if t >= d/10 || n >= 1<<30 {
			if t <= 0 {
				t = 1
			}
			n = int(float64(n) * float64(d) / float64(t))
			if n < 1 {
				n = 1
			}
			break
		}
		n *= 4
	}
	best := 0.0
	for range runs {
		t := timeRun(k, n)
		if t <= 0 {
			continue
		}
		if r := float64(n) * k.flopsPerIter / t.Seconds() / 1e9; r > best {
			best = r
		}
	}
	return best
}

// loop is one implementation of the peak loop.
type loop struct {
	name         string
	flopsPerIter float64
	run          func(n int, out *[8]float32)
}

func timeRun(k loop, n int) time.Duration {
	var out [8]float32
	start := time.Now()
	k.run(n, &out)
	t := time.Since(start)
	sink = out[0]
	return t
}

// sink keeps the loops' results alive.
var sink float32

// goLoopFlops is the FLOPs per iteration of goLoop: 12 multiply-adds.
const goLoopFlops = 12 * 2

// goLoop is the pure-Go peak loop: 12 independent scalar float32
// multiply-add chains per iteration.
func goLoop(n int, out *[8]float32) {
	a, b := float32(1), float32(0.999999)
	var s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11 float32
	for range n {
		s0 = s0*b + a
		s1 = s1*b + a
		s2 = s2*b + a
		s3 = s3*b + a
		s4 = s4*b + a
		s5 = s5*b + a
		s6 = s6*b + a
		s7 = s7*b + a
		s8 = s8*b + a
		s9 = s9*b + a
		s10 = s10*b + a
		s11 = s11*b + a
	}
	out[0] = s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 + s8 + s9 + s10 + s11
}

var goKernel = loop{name: "pure Go, 12 scalar float32 accumulators", flopsPerIter: goLoopFlops, run: goLoop}
