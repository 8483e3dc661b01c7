package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/dygen/dygen/gen"
	"github.com/dygen/dygen/internal/modtest"
	"github.com/dygen/dygen/verify"
)

var verifyCmd = &command{
	name:     "verify",
	synopsis: "generate a spec into a temporary module, test it, and compare with golden files",
	usage:    "dygen verify [-spec FILE] [-golden FILE|DIR ...] [-keep] [-v] [-timeout D]",
	help: `Verify checks that the kernels generated for a spec compute what the layers
compute. It generates the spec's package into a temporary module that uses
this dygen (the way a user's module would), runs go vet and the generated
tests there (the differential tests against dygen's float64 reference, the
fuzz targets' seed corpora, and a check of every golden file that matches a
layer), and prints a table of the results: per layer and check the largest
absolute and relative errors and the worst error relative to its bound.

Golden files are safetensors files written from PyTorch (see the README of
the golden directory for their layout). A golden file matches a layer when
its hyperparameters equal the layer's and, for a layer with a fixed
input_size, its input has that size. A golden file that matches no layer is
an error, and so is every failed check or test: the exit status is then 1,
and the temporary module is kept for a look (its path is printed). Without
-golden, the files listed in $DYGEN_GOLDEN (joined by the OS path list
separator) are used, if any.

Without -spec, verify makes the spec from the golden files: one layer per
file, with the file's hyperparameters (every variant and epilogue of the
family) and its input size, named after the case. So any directory of
golden cases, including ones no spec was written for, is checked through
the generated API.

Examples:

	dygen verify -golden ../shared/golden -golden ../shared/golden-family
	dygen verify -spec layers.yaml
	dygen verify -spec layers.yaml -golden ../shared/golden
	dygen verify -spec layers.yaml -golden case003.safetensors -golden case007.safetensors
	dygen verify -spec layers.yaml -keep -v
`,
}

func init() {
	verifyCmd.setup = func(fs *flag.FlagSet) func(stdout, stderr io.Writer) int {
		o := &verifyOptions{}
		fs.StringVar(&o.spec, "spec", "", "the layer spec `FILE` (YAML or JSON); without it, one layer per golden file")
		fs.Var(&o.golden, "golden", "a golden safetensors `FILE`, or a directory: all its *.safetensors files; repeatable")
		fs.BoolVar(&o.keep, "keep", false, "keep the temporary module even when everything passes")
		fs.BoolVar(&o.verbose, "v", false, "print progress and the full output of go vet and go test")
		fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up after duration `D` (passed to go test -timeout too)")
		return func(stdout, stderr io.Writer) int { return runVerify(o, stdout, stderr) }
	}
}

type verifyOptions struct {
	spec    string
	golden  stringList
	keep    bool
	verbose bool
	timeout time.Duration
}

// goldenFile is a golden file and the spec's layers that it matches.
type goldenFile struct {
	path   string
	g      *verify.Golden
	layers []string
}

func runVerify(o *verifyOptions, stdout, stderr io.Writer) int {
	c := verifyCmd
	if o.timeout <= 0 {
		return usageError(c, stderr, "-timeout must be positive, got %v", o.timeout)
	}
	paths, err := goldenPaths(o.golden)
	if err != nil {
		return failf(c, stderr, "%v", err)
	}
	if o.spec == "" && len(paths) == 0 {
		return usageError(c, stderr, "-spec is required without golden files (-golden or $DYGEN_GOLDEN)")
	}
	loaded := make([]*verify.Golden, len(paths))
	for i, p := range paths {
		if loaded[i], err = verify.LoadGolden(p); err != nil {
			return failf(c, stderr, "golden file %s: %v", p, err)
		}
	}
	var s *gen.Spec
	if o.spec == "" {
		s = specFromGoldens(loaded)
		o.spec = s.Path
	} else if s, err = loadSpec(o.spec); err != nil {
		return failf(c, stderr, "%v", err)
	}
	goldens := make([]*goldenFile, 0, len(paths))
	for i, p := range paths {
		g := loaded[i]
		gf := &goldenFile{path: p, g: g}
		for _, l := range s.Layers {
			if goldenMatches(g, l) {
				gf.layers = append(gf.layers, l.Name)
			}
		}
		goldens = append(goldens, gf)
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	// Generate into a temporary module.
	mod, err := newScratchModule(s, o.spec, "verify", stderr, o.keep, o.verbose)
	if err != nil {
		return failf(c, stderr, "%v", err)
	}
	defer mod.Close()
	progress := mod.progressf
	tmp := mod.Dir
	progress("generated %d layers of %s (dygen at %s) into %s", len(s.Layers), o.spec, mod.DygenDir, mod.PkgDir)

	// go vet.
	progress("go vet ./...")
	vout, verr, err := modtest.RunGo(ctx, tmp, nil, "vet", "./...")
	if o.verbose {
		stderr.Write(vout)
		stderr.Write(verr)
	}
	if err != nil {
		mod.Failed = true
		if !o.verbose {
			stderr.Write(vout)
			stderr.Write(verr)
		}
		return failf(c, stderr, "go vet of the generated package failed: %v", err)
	}

	// go test.
	var env []string
	var matched []string
	for _, gf := range goldens {
		if len(gf.layers) > 0 {
			abs, err := filepath.Abs(gf.path)
			if err != nil {
				abs = gf.path
			}
			matched = append(matched, abs)
		}
	}
	env = append(env, "DYGEN_GOLDEN="+strings.Join(matched, string(os.PathListSeparator)))
	args := []string{"test", "-json", "-count=1", "-run", ".", "-timeout", o.timeout.String(), "./..."}
	progress("go %s (DYGEN_GOLDEN: %d files)", strings.Join(args, " "), len(matched))
	tout, terr, testErr := modtest.RunGo(ctx, tmp, env, args...)
	rep, err := parseTestJSON(bytes.NewReader(tout))
	if err != nil {
		mod.Failed = true
		return failf(c, stderr, "reading go test -json output: %v", err)
	}
	if o.verbose {
		for _, tr := range rep.Runs {
			for _, l := range tr.Output {
				fmt.Fprintln(stderr, l)
			}
		}
	}

	// The table, in spec order.
	order := map[string]int{}
	for i, l := range s.Layers {
		order[l.Name] = i
	}
	for _, ch := range rep.Checks {
		if i, ok := order[ch.Layer]; ok {
			ch.layerIndex = i
		} else {
			ch.layerIndex = len(s.Layers)
		}
	}
	sort.SliceStable(rep.Checks, func(i, j int) bool {
		a, b := rep.Checks[i], rep.Checks[j]
		if a.layerIndex != b.layerIndex {
			return a.layerIndex < b.layerIndex
		}
		return a.orderIndex < b.orderIndex
	})
	writeTable(stdout, rep.Checks)

	// Everything that went wrong.
	var problems []string
	nFailedChecks := 0
	for _, ch := range rep.Checks {
		if !ch.OK {
			nFailedChecks++
			problems = append(problems, fmt.Sprintf("layer %s: check %s failed: max abs err %.3g, max rel err %.3g, worst err/bound %.3g (%s)",
				ch.Layer, ch.Check, ch.MaxAbs, ch.MaxRel, ch.Ratio, ch.Test))
		}
		if _, ok := order[ch.Layer]; !ok {
			problems = append(problems, fmt.Sprintf("test %s reported layer %q, which is not in %s", ch.Test, ch.Layer, o.spec))
		}
	}
	for _, l := range s.Layers {
		n := 0
		for _, ch := range rep.Checks {
			if ch.Layer == l.Name {
				n++
			}
		}
		if n == 0 {
			problems = append(problems, fmt.Sprintf("layer %s (%s:%d): the generated tests reported no check", l.Name, o.spec, l.Line))
		}
	}
	for _, gf := range goldens {
		if len(gf.layers) == 0 {
			problems = append(problems, fmt.Sprintf("golden file %s matches no layer of %s: %s", gf.path, o.spec, describeMismatch(gf.g, s.Layers)))
			continue
		}
		for _, name := range gf.layers {
			if !checkedGolden(rep.Checks, name, gf) {
				problems = append(problems, fmt.Sprintf("golden file %s matches layer %s, but the generated tests reported no check of it", gf.path, name))
			}
		}
	}
	problems = append(problems, rep.BadLines...)
	failedTests := rep.failed()
	pkgHasFailedTest := map[string]bool{}
	for _, tr := range failedTests {
		if tr.Test != "" {
			pkgHasFailedTest[tr.Pkg] = true
		}
	}
	for _, tr := range failedTests {
		switch {
		case tr.Test != "":
			problems = append(problems, "test failed: "+tr.Pkg+" "+tr.Test)
		case !pkgHasFailedTest[tr.Pkg]:
			// A failure outside any test: a panic in init, a timeout, a
			// test binary that did not build.
			problems = append(problems, "package failed: "+tr.Pkg)
		}
	}
	if testErr != nil && len(failedTests) == 0 && len(rep.Build) == 0 {
		problems = append(problems, fmt.Sprintf("go test failed: %v", testErr))
	}
	if len(rep.Build) > 0 {
		problems = append(problems, "the generated package does not build")
	}

	nGolden := 0
	for _, gf := range goldens {
		if len(gf.layers) > 0 {
			nGolden++
		}
	}
	fmt.Fprintf(stdout, "\n%d checks, %d failed; %d layers; %d of %d golden files matched a layer\n",
		len(rep.Checks), nFailedChecks, len(s.Layers), nGolden, len(goldens))
	if len(problems) == 0 {
		fmt.Fprintln(stdout, "PASS")
		return exitOK
	}

	mod.Failed = true
	if !o.verbose {
		// Show what the failing tests printed, and what did not build.
		for _, l := range rep.Build {
			fmt.Fprintln(stderr, l)
		}
		for _, tr := range failedTests {
			if tr.Test == "" && pkgHasFailedTest[tr.Pkg] {
				continue // a package's summary; its failed tests are shown
			}
			for _, l := range tr.Output {
				fmt.Fprintln(stderr, l)
			}
		}
		for _, l := range rep.Other {
			fmt.Fprintln(stderr, l)
		}
		if len(rep.Runs) == 0 {
			stderr.Write(terr)
		}
	}
	for _, p := range problems {
		fmt.Fprintf(stderr, "dygen verify: %s\n", p)
	}
	fmt.Fprintln(stdout, "FAIL")
	return exitFail
}

// goldenPaths expands the -golden arguments (or, without any, the list in
// $DYGEN_GOLDEN) into files.
func goldenPaths(args []string) ([]string, error) {
	if len(args) == 0 {
		for _, p := range filepath.SplitList(os.Getenv("DYGEN_GOLDEN")) {
			if p != "" {
				args = append(args, p)
			}
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, a := range args {
		st, err := os.Stat(a)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("golden file or directory %s does not exist", a)
		}
		if err != nil {
			return nil, fmt.Errorf("golden file or directory %s: %v", a, err)
		}
		var files []string
		if st.IsDir() {
			files, err = verify.GoldenFiles(a)
			if err != nil {
				return nil, fmt.Errorf("golden directory %s: %v", a, err)
			}
			if len(files) == 0 {
				return nil, fmt.Errorf("golden directory %s has no *.safetensors files", a)
			}
		} else {
			files = []string{a}
		}
		for _, f := range files {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// specFromGoldens makes the spec that verify checks when it is given golden
// files and no spec: one layer per file, with the file's hyperparameters
// and its input size fixed, named after the case (made a unique exported
// Go identifier).
func specFromGoldens(gs []*verify.Golden) *gen.Spec {
	s := &gen.Spec{Path: "(a layer per golden file)", Package: "goldens"}
	used := map[string]bool{}
	for i, g := range gs {
		name := goIdent(g.Name)
		if name == "" {
			name = fmt.Sprintf("Golden%03d", i)
		}
		for base, k := name, 2; used[name]; k++ {
			name = fmt.Sprintf("%s_%d", base, k)
		}
		used[name] = true
		s.Layers = append(s.Layers, gen.Layer{Name: name, Line: i + 1, Params: g.Params, InputH: g.H, InputW: g.W})
	}
	return s
}

// goIdent makes name an exported Go identifier: letters, digits and
// underscores kept, the first letter upper-cased, "" when nothing is left.
func goIdent(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsLetter(r) && r < unicode.MaxASCII, r == '_' && b.Len() > 0, unicode.IsDigit(r) && r < unicode.MaxASCII && b.Len() > 0:
			b.WriteRune(r)
		}
	}
	out := b.String()
	if out == "" {
		return ""
	}
	return strings.ToUpper(out[:1]) + out[1:]
}

// goldenMatches reports whether golden file g is a case of layer l: the
// same hyperparameters and, for a fixed input size, the same input size.
func goldenMatches(g *verify.Golden, l gen.Layer) bool {
	return g.Matches(l.Params, l.InputH, l.InputW)
}

// checkedGolden reports whether the checks include one of golden file gf
// by layer.
func checkedGolden(checks []*check, layer string, gf *goldenFile) bool {
	base := filepath.Base(gf.path)
	names := []string{base, strings.TrimSuffix(base, filepath.Ext(base)), gf.g.Name, gf.path}
	for _, c := range checks {
		name, ok := strings.CutPrefix(c.Check, "golden:")
		if c.Layer != layer || !ok {
			continue
		}
		// A layer with assembly checks each golden file once per variant:
		// "golden:FILE variant:NAME" (the log line's spaces become "_").
		if i := strings.Index(name, "_variant:"); i >= 0 {
			name = name[:i]
		}
		for _, n := range names {
			if n != "" && name == n {
				return true
			}
		}
	}
	return false
}

// describeMismatch says what a golden file holds and how it differs from
// the closest layer of the spec.
func describeMismatch(g *verify.Golden, layers []gen.Layer) string {
	msg := fmt.Sprintf("it holds %s on %dx%d inputs", g.Params, g.H, g.W)
	best, bestDiffs := "", []string(nil)
	for _, l := range layers {
		d := paramDiffs(g.Params, l.Params)
		if l.Fixed() && (g.H != l.InputH || g.W != l.InputW) {
			d = append(d, fmt.Sprintf("input_size %dx%d (file: %dx%d)", l.InputH, l.InputW, g.H, g.W))
		}
		if best == "" || len(d) < len(bestDiffs) {
			best, bestDiffs = l.Name, d
		}
	}
	if best != "" {
		msg += fmt.Sprintf("; the closest layer, %s, has %s", best, strings.Join(bestDiffs, ", "))
	}
	return msg
}

// paramDiffs lists the fields in which layer l differs from golden g.
func paramDiffs(g, l verify.Params) []string {
	var d []string
	add := func(name string, lv, gv any) {
		if lv != gv {
			d = append(d, fmt.Sprintf("%s %v (file: %v)", name, lv, gv))
		}
	}
	pair := func(a, b int) string { return fmt.Sprintf("[%d, %d]", a, b) }
	add("in_channels", l.InC, g.InC)
	add("out_channels", l.OutC, g.OutC)
	add("kernel_size", pair(l.KH, l.KW), pair(g.KH, g.KW))
	add("stride", pair(l.SH, l.SW), pair(g.SH, g.SW))
	add("dilation", pair(l.DH, l.DW), pair(g.DH, g.DW))
	add("padding (t, b, l, r)", fmt.Sprint([]int{l.PadT, l.PadB, l.PadL, l.PadR}), fmt.Sprint([]int{g.PadT, g.PadB, g.PadL, g.PadR}))
	add("groups", l.Groups, g.Groups)
	add("num_experts", l.K, g.K)
	add("bias", l.Bias, g.Bias)
	add("padding_mode", l.Mode, g.Mode)
	g, l = g.WithDefaults(), l.WithDefaults()
	add("routing", l.Routing, g.Routing)
	add("gate", l.Gate, g.Gate)
	add("temperature", l.Temperature, g.Temperature)
	add("attention_channels", l.AttnC, g.AttnC)
	add("batch_norm", l.BatchNorm, g.BatchNorm)
	add("batch_norm_eps", l.BNEps, g.BNEps)
	add("activation", l.Activation, g.Activation)
	add("residual", l.Residual, g.Residual)
	routingInput := func(p verify.Params) string {
		if p.ExternalRouting {
			return "external"
		}
		return "own"
	}
	add("routing_input", routingInput(l), routingInput(g))
	return d
}
