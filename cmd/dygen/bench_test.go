package main

import (
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dygen/dygen/gen"
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
	for _, want := range []string{"generated code:", "KiB of assembly", "FMA peak of one core:", "GFLOP/s", "% of peak", "time/op"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	for _, layer := range []string{"Tiny", "Small3x3"} {
		for _, n := range []string{"1", "8"} {
			row := regexp.MustCompile(`(?m)^` + layer + `\s+` + n + `\s+[0-9]+\s+[0-9.]+(ns|µs|ms|s)\s+[0-9.e-]+\s+[0-9.e-]+%$`)
			if !row.MatchString(stdout) {
				t.Errorf("no row for %s N=%s with a time, GFLOP/s and %% of peak:\n%s", layer, n, stdout)
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
BenchmarkTiny/N=1-2         	   10000	      8270 ns/op	         0.01200 GFLOP/s	       0 B/op	       0 allocs/op
BenchmarkTiny/N=1-2         	   10000	      8000 ns/op	         0.01300 GFLOP/s	       0 B/op	       0 allocs/op
BenchmarkTiny/N=1-2         	   10000	      9000 ns/op	         0.01100 GFLOP/s	       0 B/op	       0 allocs/op
BenchmarkTiny/N=8           	     100	     70900 ns/op	         3.400 GFLOP/s
BenchmarkSmall3x3/N=8-2     	       1	    279000 ns/op
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
	rs := summarize(lines, layers, 100, 1)
	if len(rs) != 3 {
		t.Fatalf("got %d results, want 3: %+v", len(rs), rs)
	}
	want := []benchResult{
		{Layer: "Small3x3", N: 8, CPU: 2, Runs: 1, NsPerOp: 279000},
		{Layer: "Tiny", N: 1, CPU: 2, Runs: 3, NsPerOp: 8270, GFLOPS: 0.012, PctPeak: 100 * 0.012 / 200},
		{Layer: "Tiny", N: 8, CPU: 1, Runs: 1, NsPerOp: 70900, GFLOPS: 3.4, PctPeak: 3.4},
	}
	for i, w := range want {
		g := rs[i]
		if g.Layer != w.Layer || g.N != w.N || g.CPU != w.CPU || g.Runs != w.Runs || g.NsPerOp != w.NsPerOp ||
			!near(g.GFLOPS, w.GFLOPS) || !near(g.PctPeak, w.PctPeak) {
			t.Errorf("result %d = %+v, want %+v", i, g, w)
		}
	}
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}
