package main

import (
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/dygen/dygen/gen"
	"github.com/dygen/dygen/internal/peak"
	"github.com/stretchr/testify/require"
)

func TestBench(t *testing.T) {
	needGo(t)
	if testing.Short() {
		t.Skip("builds and runs a generated package")
	}
	dir := t.TempDir()
	spec := writeFile(t, filepath.Join(dir, "tiny.yaml"), tinySpec)
	chart := filepath.Join(dir, "bench.png")

	code, stdout, stderr := runCLI(t, "bench", "-spec", spec, "-benchtime", "1x", "-count", "1", "-plot", chart)
	if code != exitOK {
		t.Fatalf("dygen bench: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// The variant each layer runs here, as dygen works it out (a layer
	// whose plan has no AVX-512 kernels runs AVX2 on an AVX-512 CPU).
	s, err := loadSpec(spec)
	require.NoError(t, err)
	expected := expectedVariants(s.Layers, runtime.GOARCH, nil)
	for _, want := range []string{"generated code:", "KiB of assembly", "GFLOP/s", "% of peak", "time/op", "variant"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	for _, layer := range []string{"Tiny", "Small3x3"} {
		v := expected[layer]
		if want := "peak of one core, " + v.String() + " kernels:"; !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
		for _, n := range []string{"1", "8"} {
			row := regexp.MustCompile(`(?m)^` + layer + `\s+` + n + `\s+[0-9]+\s+` + regexp.QuoteMeta(v.String()) + `\s+[0-9.]+(ns|µs|ms|s)\s+[0-9.e-]+\s+[0-9.e-]+%$`)
			if !row.MatchString(stdout) {
				t.Errorf("no row for %s N=%s with the variant %s, a time, GFLOP/s and %% of peak:\n%s", layer, n, v, stdout)
			}
		}
	}
	f, err := os.Open(chart)
	if err != nil {
		t.Fatalf("-plot wrote no chart: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("-plot %s: not a PNG: %v", chart, err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 300 {
		t.Errorf("chart is %v, too small to read", b)
	}

	// One batch size, one core.
	code, stdout, stderr = runCLI(t, "bench", "-spec", spec, "-n", "1", "-cpu", "1", "-benchtime", "1x", "-count", "1")
	if code != exitOK {
		t.Fatalf("dygen bench -n 1 -cpu 1: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !regexp.MustCompile(`(?m)^Tiny\s+1\s+1\s`).MatchString(stdout) || regexp.MustCompile(`(?m)^Tiny\s+8\s`).MatchString(stdout) {
		t.Errorf("-n 1 -cpu 1: want only N=1 rows with procs 1:\n%s", stdout)
	}

	// One layer, pure Go: the percentage is of the pure-Go peak.
	code, stdout, stderr = runCLI(t, "bench", "-spec", spec, "-layers", "^Tin", "-tags", "purego", "-n", "1", "-cpu", "1", "-benchtime", "1x", "-count", "1")
	if code != exitOK {
		t.Fatalf("dygen bench -layers ^Tin -tags purego: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"(1 of 2 layers, -layers ^Tin)", "peak of one core, pure Go kernels:", "pure Go, 12 scalar float32 accumulators"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("-layers ^Tin -tags purego: output lacks %q:\n%s", want, stdout)
		}
	}
	if !regexp.MustCompile(`(?m)^Tiny\s+1\s+1\s+pure Go\s`).MatchString(stdout) || strings.Contains(stdout, "Small3x3") || strings.Contains(stdout, "AVX2+FMA kernels") {
		t.Errorf("-layers ^Tin -tags purego: want one pure-Go row of Tiny against the pure-Go peak:\n%s", stdout)
	}
}

func TestBenchErrors(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, filepath.Join(dir, "tiny.yaml"), tinySpec)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench"}, "-spec is required"},
		{[]string{"bench", "-spec", spec, "-n", "4"}, "batch sizes 1 and 8, not 4"},
		{[]string{"bench", "-spec", spec, "-n", "1,x"}, "positive integers"},
		{[]string{"bench", "-spec", spec, "-benchtime", "fast"}, "neither a positive duration"},
		{[]string{"bench", "-spec", spec, "-benchtime", "0x"}, "neither a positive duration"},
		{[]string{"bench", "-spec", spec, "-count", "0"}, "-count must be at least 1"},
		{[]string{"bench", "-spec", spec, "-cpu", "0"}, "positive integers"},
		{[]string{"bench", "-spec", spec, "-plot", "chart.svg"}, "ending in .png"},
		{[]string{"bench", "-spec", spec, "-timeout", "0s"}, "-timeout must be positive"},
		{[]string{"bench", "-spec", spec, "extra"}, `unexpected argument "extra"`},
		{[]string{"bench", "-spec", spec, "-layers", "Tiny("}, `-layers "Tiny(" is not a valid regexp: error parsing regexp: missing closing )`},
		{[]string{"bench", "-spec", spec, "-layers", "^Conv"}, `-layers "^Conv" matches no layer of ` + spec + `; its layers: Tiny, Small3x3`},
	} {
		code, out, errOut := runCLI(t, tc.args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "usage: dygen bench") {
			t.Errorf("dygen %q: code %d (want %d), stdout %q, stderr (want %q):\n%s", tc.args, code, exitUsage, out, tc.want, errOut)
		}
	}
	missing := filepath.Join(dir, "missing.yaml")
	if code, _, errOut := runCLI(t, "bench", "-spec", missing); code != exitFail || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("dygen bench on a missing spec: code %d, stderr:\n%s", code, errOut)
	}
	bad := writeFile(t, filepath.Join(dir, "bad.yaml"), "layers:\n  - name: X\n    in_channels: 0\n")
	if code, _, errOut := runCLI(t, "bench", "-spec", bad); code != exitFail || !strings.Contains(errOut, "bad.yaml") {
		t.Errorf("dygen bench on a bad spec: code %d, stderr:\n%s", code, errOut)
	}
}

func TestParseBenchOutput(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: dygenbench/tiny
cpu: AMD EPYC 7B13
BenchmarkTiny/N=1-2         	   10000	      8270 ns/op	         0.01200 GFLOP/s	         1.000 variant	       0 B/op	       0 allocs/op
BenchmarkTiny/N=1-2         	   10000	      8000 ns/op	         0.01300 GFLOP/s	         1.000 variant	       0 B/op	       0 allocs/op
BenchmarkTiny/N=1-2         	   10000	      9000 ns/op	         0.01100 GFLOP/s	         1.000 variant	       0 B/op	       0 allocs/op
BenchmarkTiny/N=8           	     100	     70900 ns/op	         3.400 GFLOP/s
BenchmarkSmall3x3/N=8-2     	       1	    279000 ns/op	         7.000 variant
--- FAIL: something
PASS
ok  	dygenbench/tiny	0.01s
`
	lines, cpu := parseBenchOutput([]byte(out))
	if cpu != "AMD EPYC 7B13" {
		t.Errorf("cpu %q", cpu)
	}
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5: %+v", len(lines), lines)
	}
	layers := []gen.Layer{{Name: "Small3x3"}, {Name: "Tiny"}}
	// Where a benchmark reports no valid variant (Tiny N=8, and Small3x3's
	// code 7), the expected one stands.
	expected := map[string]peak.Variant{"Small3x3": peak.PureGo, "Tiny": peak.PureGo}
	rs := summarize(lines, layers, expected, 1)
	if len(rs) != 3 {
		t.Fatalf("got %d results, want 3: %+v", len(rs), rs)
	}
	setPctPeak(rs, map[peak.Variant]float64{peak.AVX2FMA: 100, peak.PureGo: 10})
	want := []benchResult{
		{Layer: "Small3x3", N: 8, CPU: 2, Runs: 1, NsPerOp: 279000, Variant: peak.PureGo},
		{Layer: "Tiny", N: 1, CPU: 2, Runs: 3, NsPerOp: 8270, GFLOPS: 0.012, Variant: peak.AVX2FMA, Reported: true, PctPeak: 100 * 0.012 / 200},
		{Layer: "Tiny", N: 8, CPU: 1, Runs: 1, NsPerOp: 70900, GFLOPS: 3.4, Variant: peak.PureGo, PctPeak: 34},
	}
	for i, w := range want {
		g := rs[i]
		if g.Layer != w.Layer || g.N != w.N || g.CPU != w.CPU || g.Runs != w.Runs || g.NsPerOp != w.NsPerOp ||
			!near(g.GFLOPS, w.GFLOPS) || g.Variant != w.Variant || g.Reported != w.Reported || !near(g.PctPeak, w.PctPeak) {
			t.Errorf("result %d = %+v, want %+v", i, g, w)
		}
	}

	var b strings.Builder
	writeBenchTable(&b, rs)
	for _, row := range []string{`(?m)^Small3x3\s+8\s+2\s+pure Go\s+279µs\s+-\s+-$`, `(?m)^Tiny\s+1\s+2\s+AVX2\+FMA\s+8\.27µs\s+0\.012\s+0\.006%$`, `(?m)^Tiny\s+8\s+1\s+pure Go\s+70\.9µs\s+3\.4\s+34\.0%$`} {
		if !regexp.MustCompile(row).MatchString(b.String()) {
			t.Errorf("table lacks a row matching %s:\n%s", row, b.String())
		}
	}
	b.Reset()
	writePeaks(&b, rs, map[peak.Variant]float64{peak.AVX2FMA: 100, peak.PureGo: 10}, "amd64", "")
	for _, want := range []string{"peak of one core, pure Go kernels: 10.0 GFLOP/s (pure Go, 12 scalar float32 accumulators)", "peak of one core, AVX2+FMA kernels: 100.0 GFLOP/s", "variant: not reported by some benchmarks; worked out as the generated code does from GOARCH amd64, no build tags"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("peaks lack %q:\n%s", want, b.String())
		}
	}
}

func TestExpectedVariants(t *testing.T) {
	s, err := loadSpec(writeFile(t, filepath.Join(t.TempDir(), "tiny.yaml"), tinySpec))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		goarch string
		tags   []string
		want   peak.Variant
	}{
		{"amd64", []string{"purego"}, peak.PureGo},
		{"arm64", nil, peak.NEON},
		{"arm64", []string{"purego"}, peak.PureGo},
		{"amd64", nil, peak.Generated("amd64", nil)},
	} {
		got := expectedVariants(s.Layers, tc.goarch, tc.tags)
		for _, l := range s.Layers {
			want := tc.want
			if want == peak.AVX512 {
				// A layer whose plan has no AVX-512 kernels runs AVX2's.
				pl, err := gen.NewPlan(l)
				require.NoError(t, err)
				if !pl.TierOK(gen.ISAAVX512) {
					want = peak.AVX2FMA
				}
			}
			if got[l.Name] != want {
				t.Errorf("%s %q: %s runs %s, want %s", tc.goarch, tc.tags, l.Name, got[l.Name], want)
			}
		}
	}
	if got := splitTags("purego, netgo foo"); !slices.Equal(got, []string{"purego", "netgo", "foo"}) {
		t.Errorf("splitTags: %q", got)
	}
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}
