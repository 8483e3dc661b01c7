package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/cpu"

	"github.com/dygen/dygen/gen"
	"github.com/dygen/dygen/internal/modtest"
	"github.com/dygen/dygen/internal/peak"
)

var benchCmd = &command{
	name:     "bench",
	synopsis: "benchmark a spec's kernels against this machine's FMA peak",
	usage:    "dygen bench -spec FILE [-layers RE] [-n 1,8] [-benchtime 1s|20x] [-count 3] [-cpu LIST] [-tags TAGS] [-plot FILE.png] [-keep] [-v] [-timeout D]",
	help: `Bench measures how fast the kernels generated for a spec run here. It
generates the spec's package into a temporary module that uses this dygen
(as verify does), runs the generated benchmarks there with
'go test -run ^$ -bench ...' (one benchmark per layer, with sub-benchmarks
for batch sizes N=1 and N=8), and prints per layer and batch size the
median over -count runs of the time per Forward call, the kernel variant
that ran (the AVX2+FMA assembly or pure Go), the throughput in GFLOP/s
(2·N·Cout·(Cin/groups)·KH·KW·Ho·Wo per Forward, pooling, routing and kernel
fusion included in the time) and its percentage of that variant's peak.
Above the table it prints the generated package's size (Go, assembly and
tests) and how long 'go test' took to build its tests and start them, with
the build and module caches as they were. -layers keeps the layers whose
names match a regexp (unanchored, as go test -bench); one that matches no
layer is an error that lists them.

The variant is the one each generated benchmark reports in its "variant"
metric (0 pure Go, 1 AVX2+FMA) when it reports one; otherwise dygen works
it out as the generated code does: the assembly runs on amd64, without the
purego tag, on a CPU that golang.org/x/sys/cpu says has AVX2 and FMA. That
package honours GODEBUG, so GODEBUG=cpu.avx2=off pins the pure-Go kernels
(in dygen and in the benchmarks it runs) on an AVX2 machine.

Each variant's peak is measured by dygen itself, in this process and just
before the benchmarks run, with the micro-benchmark that ships with dygen
(internal/peak), best of several runs on one core: for AVX2+FMA a loop of
12 independent VFMADD231PS chains on YMM registers, for pure Go 12
independent scalar float32 multiply-add chains in Go. So with -tags purego
or on a CPU without AVX2 and FMA the percentages are of what Go code
without assembly can reach. With -cpu P a benchmark may use P cores, and
its percentage is of P times the one-core peak.

With -plot, a bar chart of the same numbers is written as a PNG: one group
of bars per layer, one bar per batch size (and -cpu value), and the peak of
each variant that ran as a horizontal line.

Examples:

	dygen bench -spec layers.yaml
	dygen bench -spec layers.yaml -n 1 -benchtime 20x -count 1
	dygen bench -spec layers.yaml -layers '^Conv3x3' -cpu 1
	GODEBUG=cpu.avx2=off dygen bench -spec layers.yaml
	dygen bench -spec layers.yaml -cpu 1,2 -plot bench.png
	dygen bench -spec layers.yaml -tags purego -plot purego.png
	dygen bench -spec layers.yaml -keep -v
`,
}

func init() {
	benchCmd.setup = func(fs *flag.FlagSet) func(stdout, stderr io.Writer) int {
		o := &benchOptions{}
		fs.StringVar(&o.spec, "spec", "", "the layer spec `FILE` (YAML or JSON); required")
		fs.StringVar(&o.layers, "layers", "", "benchmark only the layers whose names match the regexp `RE` (unanchored, as go test -bench; default: every layer)")
		fs.StringVar(&o.n, "n", "1,8", "the batch sizes to run, a comma-separated `LIST` out of 1 and 8 (the generated benchmarks' sizes)")
		fs.StringVar(&o.benchtime, "benchtime", "1s", "run each benchmark for `T`, a duration such as 1s or a count such as 20x (go test -benchtime)")
		fs.IntVar(&o.count, "count", 3, "run each benchmark `C` times; the table shows the medians (go test -count)")
		fs.StringVar(&o.cpu, "cpu", "", "run each benchmark with GOMAXPROCS set to each value in the comma-separated `LIST` (go test -cpu; default: GOMAXPROCS)")
		fs.StringVar(&o.tags, "tags", "", "build `TAGS` for the generated package, e.g. purego to benchmark the pure-Go kernels (go test -tags)")
		fs.StringVar(&o.plot, "plot", "", "also draw the results as a bar chart into the PNG `FILE`")
		fs.BoolVar(&o.keep, "keep", false, "keep the temporary module (its path is printed)")
		fs.BoolVar(&o.verbose, "v", false, "print progress and the output of go test")
		fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up after duration `D` (passed to go test -timeout too)")
		return func(stdout, stderr io.Writer) int { return runBench(o, stdout, stderr) }
	}
}

type benchOptions struct {
	spec, layers, n, benchtime, cpu, tags, plot string
	count                                       int
	keep, verbose                               bool
	timeout                                     time.Duration
}

var benchtimeRE = regexp.MustCompile(`^[1-9][0-9]*x$`)

// benchResult is the median of the runs of one layer, batch size and
// GOMAXPROCS.
type benchResult struct {
	Layer    string
	N, CPU   int
	Runs     int
	NsPerOp  float64
	GFLOPS   float64      // 0 when the benchmark reported none
	Variant  peak.Variant // the kernel variant that ran
	Reported bool         // whether the benchmark reported Variant (else it was worked out)
	PctPeak  float64      // of CPU × the one-core peak of Variant; 0 when unknown
}

func runBench(o *benchOptions, stdout, stderr io.Writer) int {
	c := benchCmd
	if o.spec == "" {
		return usageError(c, stderr, "-spec is required")
	}
	var layerRE *regexp.Regexp
	if o.layers != "" {
		re, err := regexp.Compile(o.layers)
		if err != nil {
			return usageError(c, stderr, "-layers %q is not a valid regexp: %v", o.layers, err)
		}
		layerRE = re
	}
	ns, err := parseIntList(o.n)
	if err != nil {
		return usageError(c, stderr, "-n %q: %v", o.n, err)
	}
	for _, n := range ns {
		if n != 1 && n != 8 {
			return usageError(c, stderr, "-n %q: the generated benchmarks run batch sizes 1 and 8, not %d", o.n, n)
		}
	}
	if !benchtimeRE.MatchString(o.benchtime) {
		if d, err := time.ParseDuration(o.benchtime); err != nil || d <= 0 {
			return usageError(c, stderr, "-benchtime %q is neither a positive duration (1s, 500ms) nor a count (20x)", o.benchtime)
		}
	}
	if o.count < 1 {
		return usageError(c, stderr, "-count must be at least 1, got %d", o.count)
	}
	if o.cpu != "" {
		if _, err := parseIntList(o.cpu); err != nil {
			return usageError(c, stderr, "-cpu %q: %v", o.cpu, err)
		}
	}
	if o.plot != "" && !strings.EqualFold(filepath.Ext(o.plot), ".png") {
		return usageError(c, stderr, "-plot %q: the chart is a PNG; give a file name ending in .png", o.plot)
	}
	if o.timeout <= 0 {
		return usageError(c, stderr, "-timeout must be positive, got %v", o.timeout)
	}
	s, err := loadSpec(o.spec)
	if err != nil {
		return failf(c, stderr, "%v", err)
	}
	if len(s.Layers) == 0 {
		return failf(c, stderr, "%s has no layers to benchmark", o.spec)
	}
	specLayers := len(s.Layers)
	if layerRE != nil {
		sub := *s
		sub.Layers = nil
		var names []string
		for _, l := range s.Layers {
			names = append(names, l.Name)
			if layerRE.MatchString(l.Name) {
				sub.Layers = append(sub.Layers, l)
			}
		}
		if len(sub.Layers) == 0 {
			return usageError(c, stderr, "-layers %q matches no layer of %s; its layers: %s", o.layers, o.spec, strings.Join(names, ", "))
		}
		s = &sub
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	// Generate into a temporary module.
	mod, err := newScratchModule(s, o.spec, "bench", stderr, o.keep, o.verbose)
	if err != nil {
		return failf(c, stderr, "%v", err)
	}
	defer mod.Close()
	progress := mod.progressf
	tmp, pkgName := mod.Dir, mod.PkgName
	progress("generated %d layers of %s (dygen at %s) into %s", len(s.Layers), o.spec, mod.DygenDir, mod.PkgDir)

	// Build the test binary first, so that a build failure is reported as
	// one, with the compiler's output.
	buildArgs := []string{"test", "-run", "^$", "-count=1"}
	if o.tags != "" {
		buildArgs = append(buildArgs, "-tags", o.tags)
	}
	buildArgs = append(buildArgs, "./"+pkgName)
	progress("building: go %s", strings.Join(buildArgs, " "))
	buildStart := time.Now()
	bout, berr, err := modtest.RunGo(ctx, tmp, nil, buildArgs...)
	buildTime := time.Since(buildStart)
	if err != nil {
		mod.Failed = true
		stderr.Write(bout)
		stderr.Write(berr)
		return failf(c, stderr, "the generated package does not build: %v", err)
	}

	// The variant each layer is expected to run, and those variants' peaks,
	// in this process.
	goarch := runtime.GOARCH
	if out, _, err := modtest.RunGo(ctx, tmp, nil, "env", "GOARCH"); err == nil && len(bytes.TrimSpace(out)) > 0 {
		goarch = string(bytes.TrimSpace(out))
	}
	expected := expectedVariants(s.Layers, goarch, splitTags(o.tags))
	peaks := map[peak.Variant]float64{}
	for _, l := range s.Layers {
		measurePeak(peaks, expected[l.Name], progress)
	}
	if _, ok := peaks[peak.AVX512]; ok {
		// The AVX2 peak beside it: the line AVX-512 is measured against.
		measurePeak(peaks, peak.AVX2FMA, progress)
	}

	names := make([]string, len(s.Layers))
	for i, l := range s.Layers {
		names[i] = regexp.QuoteMeta(l.Name)
	}
	nAlt := make([]string, len(ns))
	for i, n := range ns {
		nAlt[i] = strconv.Itoa(n)
	}
	benchRE := fmt.Sprintf("^Benchmark(%s)$/^N=(%s)$", strings.Join(names, "|"), strings.Join(nAlt, "|"))
	base := []string{"test", "-run", "^$", "-bench", benchRE, "-benchtime", o.benchtime,
		"-count", strconv.Itoa(o.count), "-timeout", o.timeout.String()}
	if o.tags != "" {
		base = append(base, "-tags", o.tags)
	}
	// One go test per -cpu value, with GOMAXPROCS set to match: given a
	// -cpu list, the testing package measures a b.Loop benchmark's first
	// sub-benchmark result before it applies the first value.
	var runs [][]string // extra environment of each run
	var runArgs [][]string
	if o.cpu == "" {
		runs, runArgs = append(runs, nil), append(runArgs, append(base, "./"+pkgName))
	} else {
		cpus, _ := parseIntList(o.cpu) // validated above
		for _, p := range cpus {
			runs = append(runs, []string{"GOMAXPROCS=" + strconv.Itoa(p)})
			runArgs = append(runArgs, append(slices.Clone(base), "-cpu", strconv.Itoa(p), "./"+pkgName))
		}
	}
	var tout, terr []byte
	var testErr error
	for i, args := range runArgs {
		progress("%s go %s", strings.Join(runs[i], " "), strings.Join(args, " "))
		out, errOut, err := modtest.RunGo(ctx, tmp, runs[i], args...)
		tout, terr = append(tout, out...), append(terr, errOut...)
		if err != nil {
			testErr = err
			break
		}
	}
	if o.verbose {
		stderr.Write(tout)
		stderr.Write(terr)
	}
	lines, goCPU := parseBenchOutput(tout)
	if testErr != nil {
		mod.Failed = true
		if !o.verbose {
			stderr.Write(tout)
			stderr.Write(terr)
		}
		if ctx.Err() != nil {
			return failf(c, stderr, "the benchmarks did not finish within -timeout %v", o.timeout)
		}
		return failf(c, stderr, "go test -bench failed: %v", testErr)
	}
	if len(lines) == 0 {
		mod.Failed = true
		if !o.verbose {
			stderr.Write(tout)
		}
		return failf(c, stderr, "go test ran no benchmarks matching %s", benchRE)
	}
	// go test names a benchmark without a -P suffix when GOMAXPROCS is 1.
	results := summarize(lines, s.Layers, expected, 1)
	for _, r := range results {
		measurePeak(peaks, r.Variant, progress) // a variant that was not expected
	}
	setPctPeak(results, peaks)

	model := cpuModel()
	if model == "" {
		model = goCPU
	}
	if model == "" {
		model = runtime.GOARCH
	}
	if layerRE != nil {
		fmt.Fprintf(stdout, "spec: %s (%d of %d layers, -layers %s)", o.spec, len(s.Layers), specLayers, o.layers)
	} else {
		fmt.Fprintf(stdout, "spec: %s (%d layers)", o.spec, len(s.Layers))
	}
	if o.tags != "" {
		fmt.Fprintf(stdout, ", -tags %s", o.tags)
	}
	fmt.Fprintf(stdout, "\ngenerated code: %s of Go, %s of assembly, %s of tests; built and started (go test, caches as they were) in %.1f s\n",
		fmtKiB(mod.Size.Go), fmtKiB(mod.Size.Asm), fmtKiB(mod.Size.Tests), buildTime.Seconds())
	fmt.Fprintf(stdout, "cpu: %s, %d logical CPUs\n", model, runtime.NumCPU())
	writePeaks(stdout, results, peaks, goarch, o.tags)
	fmt.Fprintf(stdout, "benchtime %s, median of %d runs; %% of peak is of procs × the one-core peak of the layer's variant (procs: GOMAXPROCS)\n\n", o.benchtime, o.count)
	writeBenchTable(stdout, results)

	var problems []string
	for _, l := range s.Layers {
		for _, n := range ns {
			found := false
			for _, r := range results {
				if r.Layer == l.Name && r.N == n {
					found = true
				}
			}
			if !found {
				problems = append(problems, fmt.Sprintf("layer %s (%s:%d): no benchmark result for N=%d", l.Name, o.spec, l.Line, n))
			}
		}
	}

	if o.plot != "" {
		title := fmt.Sprintf("dygen bench %s on %s", filepath.Base(o.spec), model)
		if o.tags != "" {
			title += " (-tags " + o.tags + ")"
		}
		if err := writeBenchPlot(o.plot, title, s.Layers, results, peaks); err != nil {
			mod.Failed = true
			return failf(c, stderr, "writing the chart: %v", err)
		}
		progress("wrote the chart to %s", o.plot)
	}
	if len(problems) > 0 {
		mod.Failed = true
		for _, p := range problems {
			fmt.Fprintf(stderr, "dygen bench: %s\n", p)
		}
		return exitFail
	}
	return exitOK
}

func parseIntList(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		v, err := strconv.Atoi(f)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("want a comma-separated list of positive integers, got %q", f)
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// benchLine is one line of go test -bench output.
type benchLine struct {
	Layer      string
	N, CPU     int // CPU is 0 when the name has no -P suffix
	Iters      int64
	NsPerOp    float64
	GFLOPS     float64
	hasGF      bool
	Variant    peak.Variant // the "variant" metric
	hasVariant bool
}

// variantMetric is the unit of the metric in which a generated benchmark
// reports the kernel variant that ran: b.ReportMetric(code, "variant"),
// with the codes of peak.Variant (0 pure Go, 1 AVX2+FMA).
const variantMetric = "variant"

var benchLineRE = regexp.MustCompile(`^Benchmark([A-Za-z_][A-Za-z0-9_]*)/N=([0-9]+)(?:-([0-9]+))?\s+([0-9]+)\s+(.*)$`)

// parseBenchOutput reads the benchmark result lines of go test output, and
// the "cpu:" header line.
func parseBenchOutput(out []byte) (lines []benchLine, cpu string) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		t := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(t, "cpu: "); ok && cpu == "" {
			cpu = strings.TrimSpace(v)
			continue
		}
		m := benchLineRE.FindStringSubmatch(t)
		if m == nil {
			continue
		}
		var l benchLine
		l.Layer = m[1]
		l.N, _ = strconv.Atoi(m[2])
		if m[3] != "" {
			l.CPU, _ = strconv.Atoi(m[3])
		}
		l.Iters, _ = strconv.ParseInt(m[4], 10, 64)
		f := strings.Fields(m[5])
		okNs := false
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			switch f[i+1] {
			case "ns/op":
				l.NsPerOp, okNs = v, true
			case "GFLOP/s":
				l.GFLOPS, l.hasGF = v, true
			case variantMetric:
				if pv := peak.Variant(v); float64(pv) == v && pv.Valid() {
					l.Variant, l.hasVariant = pv, true
				}
			}
		}
		if okNs {
			lines = append(lines, l)
		}
	}
	return lines, cpu
}

// summarize takes the medians of the lines per layer, batch size and CPU
// count, in the spec's layer order. A result's variant is the one its
// benchmark reported, else expected[layer]. defaultCPU is the GOMAXPROCS of
// lines without a -P suffix. PctPeak is left for setPctPeak.
func summarize(lines []benchLine, layers []gen.Layer, expected map[string]peak.Variant, defaultCPU int) []benchResult {
	type key struct {
		layer  string
		n, cpu int
	}
	groups := map[key][]benchLine{}
	var keys []key
	for _, l := range lines {
		cpu := l.CPU
		if cpu == 0 {
			cpu = defaultCPU
		}
		k := key{l.Layer, l.N, cpu}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], l)
	}
	order := map[string]int{}
	for i, l := range layers {
		order[l.Name] = i
	}
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		oa, okA := order[a.layer]
		ob, okB := order[b.layer]
		if !okA {
			oa = len(layers)
		}
		if !okB {
			ob = len(layers)
		}
		if oa != ob {
			return oa < ob
		}
		if a.n != b.n {
			return a.n < b.n
		}
		return a.cpu < b.cpu
	})
	var out []benchResult
	for _, k := range keys {
		g := groups[k]
		var nsv, gfv []float64
		for _, l := range g {
			nsv = append(nsv, l.NsPerOp)
			if l.hasGF {
				gfv = append(gfv, l.GFLOPS)
			}
		}
		r := benchResult{Layer: k.layer, N: k.n, CPU: k.cpu, Runs: len(g), NsPerOp: median(nsv), Variant: expected[k.layer]}
		if len(gfv) > 0 {
			r.GFLOPS = median(gfv)
		}
		for _, l := range g {
			if l.hasVariant {
				r.Variant, r.Reported = l.Variant, true
				break
			}
		}
		out = append(out, r)
	}
	return out
}

// setPctPeak sets each result's percentage of CPU times the one-core peak
// of its variant (0 where either is unknown).
func setPctPeak(rs []benchResult, peaks map[peak.Variant]float64) {
	for i := range rs {
		r := &rs[i]
		r.PctPeak = 0
		if pk := peaks[r.Variant]; pk > 0 && r.GFLOPS > 0 {
			r.PctPeak = 100 * r.GFLOPS / (pk * float64(r.CPU))
		}
	}
}

// splitTags splits a -tags value (comma- or space-separated) into tags.
func splitTags(tags string) []string {
	return strings.FieldsFunc(tags, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// expectedVariants returns the variant each layer's generated code runs
// when built for goarch with tags on this CPU, as the generated code
// decides it (peak.Generated); pure Go for a layer without assembly.
func expectedVariants(layers []gen.Layer, goarch string, tags []string) map[string]peak.Variant {
	v := peak.Generated(goarch, tags)
	m := map[string]peak.Variant{}
	for _, l := range layers {
		m[l.Name] = v
		pl, err := gen.NewPlan(l)
		switch {
		case err == nil && !pl.HasAsm():
			m[l.Name] = peak.PureGo // no assembly backend
		case err == nil && v == peak.AVX512 && !pl.TierOK(gen.ISAAVX512):
			m[l.Name] = peak.AVX2FMA // the plan keeps AVX2's kernels
		}
	}
	return m
}

// measurePeak measures v's one-core peak into peaks unless it is there
// already; a variant whose loop cannot run here gets 0 (no percentage).
func measurePeak(peaks map[peak.Variant]float64, v peak.Variant, progress func(string, ...any)) {
	if _, ok := peaks[v]; ok {
		return
	}
	progress("measuring the %s peak (%s)", v, v.Kernel())
	g, err := v.Measure()
	if err != nil {
		progress("%v", err)
	} else {
		progress("%s peak of one core: %.1f GFLOP/s", v, g)
	}
	peaks[v] = g
}

// writePeaks prints the one-core peak of each variant that ran and where
// the variants came from.
func writePeaks(w io.Writer, rs []benchResult, peaks map[peak.Variant]float64, goarch, tags string) {
	reported, workedOut := false, false
	for _, v := range peak.Variants {
		ran := false
		for _, r := range rs {
			if r.Variant == v {
				ran = true
				reported = reported || r.Reported
				workedOut = workedOut || !r.Reported
			}
		}
		if !ran {
			continue
		}
		if pk := peaks[v]; pk > 0 {
			fmt.Fprintf(w, "peak of one core, %s kernels: %.1f GFLOP/s (%s)\n", v, pk, v.Kernel())
		} else {
			fmt.Fprintf(w, "peak of one core, %s kernels: not measured, its loop cannot run in this dygen (%s)\n", v, v.Kernel())
		}
	}
	if workedOut {
		t := "no build tags"
		if tags != "" {
			t = "-tags " + tags
		}
		src := "not reported by the benchmarks"
		if reported {
			src = "not reported by some benchmarks"
		}
		fmt.Fprintf(w, "variant: %s; worked out as the generated code does from GOARCH %s, %s and this CPU (x/sys/cpu: AVX2 %v, FMA %v)\n",
			src, goarch, t, cpu.X86.HasAVX2, cpu.X86.HasFMA)
	} else {
		fmt.Fprintf(w, "variant: as each benchmark reported it\n")
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func writeBenchTable(w io.Writer, rs []benchResult) {
	rows := [][]string{{"layer", "N", "procs", "variant", "time/op", "GFLOP/s", "% of peak"}}
	for _, r := range rs {
		gf, pct := "-", "-"
		if r.GFLOPS > 0 {
			gf = fmtSig(r.GFLOPS)
		}
		if r.PctPeak > 0 {
			pct = fmtSig(r.PctPeak) + "%"
		}
		rows = append(rows, []string{r.Layer, strconv.Itoa(r.N), strconv.Itoa(r.CPU), r.Variant.String(), fmtDuration(r.NsPerOp), gf, pct})
	}
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if i == 0 {
				b.WriteString(cell + pad) // names left-aligned, numbers right-aligned
			} else {
				b.WriteString("  " + pad + cell)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// fmtSig writes v with one decimal, or with 2 significant digits when it
// is below 1.
// fmtKiB prints a byte count in KiB.
func fmtKiB(n int) string { return fmt.Sprintf("%.0f KiB", float64(n)/1024) }

func fmtSig(v float64) string {
	if v < 1 {
		return strconv.FormatFloat(v, 'g', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// fmtDuration writes ns nanoseconds with 3 significant digits.
func fmtDuration(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.3gs", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.3gms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.3gµs", ns/1e3)
	}
	return fmt.Sprintf("%.3gns", ns)
}

// cpuModel returns the CPU's model name from /proc/cpuinfo, or "".
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}
