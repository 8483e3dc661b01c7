package peak

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestMeasure(t *testing.T) {
	g := measure(5*time.Millisecond, 3)
	t.Logf("%s: %.1f GFLOP/s", Kernel(), g)
	if !(g > 0) {
		t.Fatalf("measure = %v, want > 0", g)
	}
	if g > 1e4 {
		t.Fatalf("measure = %v GFLOP/s for one core, implausibly high", g)
	}
}

func TestKernels(t *testing.T) {
	var out [8]float32
	goLoop(100, &out)
	if !(out[0] > 0) {
		t.Errorf("goLoop: sum %v, want > 0", out[0])
	}
	if runtime.GOARCH == "amd64" && !hasAVX2FMA && os.Getenv("DYGEN_REQUIRE_ASM") != "" {
		t.Fatalf("DYGEN_REQUIRE_ASM is set but the AVX2+FMA peak loop cannot run (no AVX2+FMA, or built with purego)")
	}
	if hasAVX2FMA {
		out = [8]float32{}
		kernel().run(100, &out)
		// 12 accumulators × 100 iterations of += 0.999999 per lane.
		for i, v := range out {
			if v < 1199 || v > 1201 {
				t.Fatalf("fmaLoop: lane %d = %v, want about 1200", i, v)
			}
		}
	}
}

func BenchmarkMeasure(b *testing.B) {
	var g float64
	for b.Loop() {
		g = measure(20*time.Millisecond, 3)
	}
	b.ReportMetric(g, "GFLOP/s")
}
