package peak

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/cpu"

	"github.com/dygen/dygen/dyrt"
)

func TestMeasure(t *testing.T) {
	for _, v := range Variants {
		k, ok := v.loop()
		if !ok {
			if _, err := v.Measure(); err == nil {
				t.Errorf("%s: Measure of an unavailable variant: no error", v)
			}
			continue
		}
		g := measure(k, 5*time.Millisecond, 3)
		t.Logf("%s (%s): %.1f GFLOP/s", v, v.Kernel(), g)
		if !(g > 0) {
			t.Fatalf("%s: measure = %v, want > 0", v, g)
		}
		if g > 1e4 {
			t.Fatalf("%s: measure = %v GFLOP/s for one core, implausibly high", v, g)
		}
	}
	if Kernel() != best().Kernel() || !best().Available() {
		t.Errorf("Kernel() = %q, best() = %s", Kernel(), best())
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
	if k, ok := NEON.loop(); ok {
		out = [8]float32{}
		k.run(100, &out)
		// 24 accumulators × 100 iterations of += 0.999999 per lane, in
		// lanes 0–3.
		for i, v := range out[:4] {
			if v < 2399 || v > 2401 {
				t.Fatalf("neonLoop: lane %d = %v, want about 2400", i, v)
			}
		}
	} else if runtime.GOARCH == "arm64" && os.Getenv("DYGEN_REQUIRE_ASM") != "" {
		t.Fatalf("DYGEN_REQUIRE_ASM is set but the NEON peak loop is not in this build (purego)")
	}
	if k, ok := AVX512.loop(); ok {
		out = [8]float32{}
		k.run(100, &out)
		// 24 accumulators × 100 iterations of += 0.999999 per lane, in
		// lanes 0–7 (the low half of the sum).
		for i, v := range out {
			if v < 2399 || v > 2401 {
				t.Fatalf("fmaLoop512: lane %d = %v, want about 2400", i, v)
			}
		}
	}
	if k, ok := AVX2FMA.loop(); ok {
		out = [8]float32{}
		k.run(100, &out)
		// 12 accumulators × 100 iterations of += 0.999999 per lane.
		for i, v := range out {
			if v < 1199 || v > 1201 {
				t.Fatalf("fmaLoop: lane %d = %v, want about 1200", i, v)
			}
		}
	}
}

func TestVariants(t *testing.T) {
	if !PureGo.Available() || AVX2FMA.Available() != hasAVX2FMA {
		t.Errorf("Available: pure Go %v, AVX2+FMA %v (hasAVX2FMA %v)", PureGo.Available(), AVX2FMA.Available(), hasAVX2FMA)
	}
	for i, v := range Variants {
		if int(v) != i || !v.Valid() || v.String() == "" || v.Kernel() == "" {
			t.Errorf("Variants[%d] = %d %q %q", i, int(v), v, v.Kernel())
		}
	}
	if Variant(7).Valid() || Variant(7).Available() {
		t.Error("variant 7 is valid or available")
	}
	host := PureGo
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		host = AVX2FMA
		if cpu.X86.HasAVX512F && dyrt.AVX512 {
			host = AVX512
		}
	}
	for _, tc := range []struct {
		goarch string
		tags   []string
		want   Variant
	}{
		{"amd64", nil, host},
		{"amd64", []string{"netgo", "purego"}, PureGo},
		{"arm64", nil, NEON},
		{"arm64", []string{"purego"}, PureGo},
		{"386", nil, PureGo},
	} {
		if got := Generated(tc.goarch, tc.tags); got != tc.want {
			t.Errorf("Generated(%q, %q) = %s, want %s", tc.goarch, tc.tags, got, tc.want)
		}
	}
}

// TestGODEBUG checks, in child processes, that GODEBUG=cpu.avx2=off turns
// the AVX2+FMA and AVX-512 variants off, and cpu.avx512f=off the AVX-512
// one: the ways to pin a variant that README's "Pinning a variant"
// describes.
func TestGODEBUG(t *testing.T) {
	switch os.Getenv("PEAK_TEST_CHILD") {
	case "avx2":
		if Generated("amd64", nil) != PureGo || AVX2FMA.Available() || AVX512.Available() || best() != PureGo {
			t.Fatalf("GODEBUG=%s: Generated = %s, AVX2+FMA available %v", os.Getenv("GODEBUG"), Generated("amd64", nil), AVX2FMA.Available())
		}
		return
	case "avx512f":
		if Generated("amd64", nil) != AVX2FMA || AVX512.Available() || best() != AVX2FMA {
			t.Fatalf("GODEBUG=%s: Generated = %s, AVX-512 available %v", os.Getenv("GODEBUG"), Generated("amd64", nil), AVX512.Available())
		}
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	if runtime.GOARCH != "amd64" || !cpu.X86.HasAVX2 {
		t.Skip("no AVX2 to turn off")
	}
	for _, off := range []string{"avx2", "avx512f"} {
		if off == "avx512f" && !cpu.X86.HasAVX512F {
			continue
		}
		cmd := exec.Command(os.Args[0], "-test.run", "^TestGODEBUG$", "-test.v")
		cmd.Env = append(os.Environ(), "PEAK_TEST_CHILD="+off, "GODEBUG=cpu."+off+"=off")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("child with GODEBUG=cpu.%s=off: %v\n%s", off, err, out)
		}
	}
}

func BenchmarkMeasure(b *testing.B) {
	var g float64
	k, _ := best().loop()
	for b.Loop() {
		g = measure(k, 20*time.Millisecond, 3)
	}
	b.ReportMetric(g, "GFLOP/s")
}
