package gen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dygen/dygen/internal/modtest"
	"github.com/dygen/dygen/verify"
)

// randomLayer draws a valid layer covering the spec's options: odd channel
// counts, groups and depthwise, every padding form and mode, stride larger
// than the kernel, dilation, large padding, even kernels, 1×1 inputs, fixed
// and run-time input sizes, and the family's keys: every routing (square
// windows and zero padding where the reference wants them), gate,
// temperature, attention width, BN, activation, residual, external routing
// and state_dict paths. It returns the layer's YAML and the parameters the
// parser must resolve it to.
func randomLayer(rng *rand.Rand, name string) (yaml string, want Layer) {
	for {
		var b strings.Builder
		p := verify.Params{Mode: verify.Zeros, Bias: true, K: 3, SH: 1, SW: 1, DH: 1, DW: 1}
		fmt.Fprintf(&b, "  - name: %s\n", name)
		p.Routing = []string{verify.DyNet, verify.DyNet, verify.CondConv, verify.DyCNN, verify.ODConv, verify.Static}[rng.IntN(6)]
		if p.Routing != verify.DyNet || rng.IntN(3) == 0 {
			fmt.Fprintf(&b, "    routing: %s\n", p.Routing)
		}
		// dycnn and odconv take ints: square windows, equal padding.
		square := p.Routing == verify.DyCNN || p.Routing == verify.ODConv
		switch rng.IntN(4) {
		case 0:
			p.Groups = 1
		case 1:
			p.Groups = 2 + rng.IntN(3)
		default:
			p.Groups = 0 // depthwise, or a channel multiplier
		}
		if p.Groups == 0 {
			p.InC = 1 + rng.IntN(9)
			p.Groups = p.InC
			p.OutC = p.InC * (1 + rng.IntN(2))
		} else {
			p.InC = p.Groups * (1 + rng.IntN(5))
			p.OutC = p.Groups * (1 + rng.IntN(5))
		}
		fmt.Fprintf(&b, "    in_channels: %d\n    out_channels: %d\n", p.InC, p.OutC)
		if p.Groups != 1 || rng.IntN(4) == 0 {
			fmt.Fprintf(&b, "    groups: %d\n", p.Groups)
		}
		p.KH, p.KW = 1+rng.IntN(5), 1+rng.IntN(5)
		if square {
			p.KW = p.KH
		}
		if p.KH == p.KW && rng.IntN(2) == 0 {
			fmt.Fprintf(&b, "    kernel_size: %d\n", p.KH)
		} else {
			fmt.Fprintf(&b, "    kernel_size: [%d, %d]\n", p.KH, p.KW)
		}
		pair := func(key string, h, w *int, maxV int, always bool) {
			*h, *w = 1+rng.IntN(maxV), 1+rng.IntN(maxV)
			if square {
				*w = *h
			}
			if rng.IntN(3) == 0 && !always {
				*h, *w = 1, 1
				return
			}
			if *h == *w && rng.IntN(2) == 0 {
				fmt.Fprintf(&b, "    %s: %d\n", key, *h)
			} else {
				fmt.Fprintf(&b, "    %s: [%d, %d]\n", key, *h, *w)
			}
		}
		pair("stride", &p.SH, &p.SW, 4, false)
		pair("dilation", &p.DH, &p.DW, 3, false)
		switch r := rng.IntN(6); {
		case r == 0 && p.SH == 1 && p.SW == 1:
			b.WriteString("    padding: same\n")
			th, tw := p.DH*(p.KH-1), p.DW*(p.KW-1)
			p.PadT, p.PadB, p.PadL, p.PadR = th/2, th-th/2, tw/2, tw-tw/2
		case r == 1:
			b.WriteString("    padding: valid\n")
		case r == 2 && !square:
			ph, pw := rng.IntN(6), rng.IntN(6)
			fmt.Fprintf(&b, "    padding: [%d, %d]\n", ph, pw)
			p.PadT, p.PadB, p.PadL, p.PadR = ph, ph, pw, pw
		case r == 3:
			ph := rng.IntN(4)
			fmt.Fprintf(&b, "    padding: %d\n", ph)
			p.PadT, p.PadB, p.PadL, p.PadR = ph, ph, ph, ph
		}
		if square && p.PadT != p.PadL {
			continue // "same" with an even kernel: asymmetric
		}
		if rng.IntN(5) > 0 && p.Routing != verify.ODConv {
			p.Mode = []string{verify.Zeros, verify.Reflect, verify.Replicate, verify.Circular}[rng.IntN(4)]
			fmt.Fprintf(&b, "    padding_mode: %s\n", p.Mode)
		}
		if p.Routing == verify.ODConv {
			p.Bias = false // ODConv2d has no bias
		} else if rng.IntN(4) == 0 {
			p.Bias = false
			b.WriteString("    bias: false\n")
		}
		if p.Routing == verify.Static {
			p.K = 1
		} else if rng.IntN(3) > 0 {
			p.K = 1 + rng.IntN(6)
			fmt.Fprintf(&b, "    num_experts: %d\n", p.K)
		}
		randomFamily(rng, &b, &p)
		l := Layer{Name: name, Params: p.WithDefaults()}
		if rng.IntN(6) == 0 {
			// Module paths in a state dict (the generated Load test writes
			// the tensors there).
			l.StateDict.Conv = "blocks." + name + ".conv"
			fmt.Fprintf(&b, "    state_dict: {conv: %s", l.StateDict.Conv)
			if p.BatchNorm {
				l.StateDict.BatchNorm = "blocks." + name + ".bn"
				fmt.Fprintf(&b, ", batch_norm: %s", l.StateDict.BatchNorm)
			}
			if p.Routing != verify.Static && !p.ExternalRouting {
				l.StateDict.Routing = "routing." + name
				fmt.Fprintf(&b, ", routing: %s", l.StateDict.Routing)
			}
			b.WriteString("}\n")
		}
		if rng.IntN(2) == 0 {
			l.InputH, l.InputW = 1+rng.IntN(13), 1+rng.IntN(13)
			if rng.IntN(8) == 0 {
				l.InputH, l.InputW = 1, 1
			}
			if p.CheckInput(l.InputH, l.InputW) != nil {
				continue
			}
			fmt.Fprintf(&b, "    input_size: [%d, %d]\n", l.InputH, l.InputW)
		}
		if l.Params.Check() != nil {
			continue
		}
		return b.String(), l
	}
}

// randomFamily draws the family's keys for p (routing, window and padding
// already drawn), writing them to b.
func randomFamily(rng *rand.Rand, b *strings.Builder, p *verify.Params) {
	if p.Routing == verify.DyNet && rng.IntN(3) == 0 {
		p.Gate = verify.Sigmoid
		b.WriteString("    gate: sigmoid\n")
	}
	if p.Routing == verify.DyCNN || p.Routing == verify.ODConv {
		p.Temperature = []float64{1, 4, 34}[rng.IntN(3)]
		if p.Temperature != 1 || rng.IntN(2) == 0 {
			fmt.Fprintf(b, "    temperature: %g\n", p.Temperature)
		}
		if rng.IntN(2) == 0 {
			p.AttnC = 1 + rng.IntN(8)
			fmt.Fprintf(b, "    attention_channels: %d\n", p.AttnC)
		} else {
			p.AttnC = verify.DefaultAttnC(p.Routing, p.InC, p.K)
		}
	}
	if rng.IntN(5) < 2 {
		p.BatchNorm, p.BNEps = true, verify.DefaultBNEps
		b.WriteString("    batch_norm: true\n")
		if rng.IntN(3) == 0 {
			p.BNEps = 1e-3
			b.WriteString("    batch_norm_eps: 0.001\n")
		}
	}
	if rng.IntN(2) == 0 {
		p.Activation = verify.Activations[1+rng.IntN(len(verify.Activations)-1)]
		fmt.Fprintf(b, "    activation: %s\n", p.Activation)
	}
	if rng.IntN(4) == 0 {
		p.Residual = true
		b.WriteString("    residual: true\n")
	}
	if p.Routing != verify.Static && rng.IntN(5) == 0 {
		p.ExternalRouting = true
		b.WriteString("    routing_input: external\n")
	}
}

// TestRandomSpecs draws random valid specs, checks that the parser resolves
// them as drawn, generates them into one temporary module, compiles it and
// runs every generated test (the differential tests against the reference,
// the error, load, allocation and concurrency tests, the fuzz seeds).
func TestRandomSpecs(t *testing.T) {
	count := 200
	if testing.Short() {
		count = 40
	}
	const perPackage = 25
	rng := rand.New(rand.NewPCG(2026, 11))
	dir := t.TempDir()
	dygenDir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if err := modtest.Scaffold(dir, "example.com/randspecs", dygenDir); err != nil {
		t.Fatal(err)
	}
	modes, routings, acts := map[string]int{}, map[string]int{}, map[string]int{}
	bn, res, ext := 0, 0, 0
	fixed, depthwise, grouped, strideOverKernel, dilated := 0, 0, 0, 0, 0
	for pkg := 0; pkg*perPackage < count; pkg++ {
		var yaml strings.Builder
		name := fmt.Sprintf("rand%02d", pkg)
		fmt.Fprintf(&yaml, "package: %s\nlayers:\n", name)
		var want []Layer
		for i := pkg * perPackage; i < min(count, (pkg+1)*perPackage); i++ {
			y, l := randomLayer(rng, fmt.Sprintf("L%03d", i))
			yaml.WriteString(y)
			want = append(want, l)
			modes[l.Params.Mode]++
			routings[l.Params.Routing+"/"+l.Params.Gate]++
			acts[l.Params.Activation]++
			if l.Params.BatchNorm {
				bn++
			}
			if l.Params.Residual {
				res++
			}
			if l.Params.ExternalRouting {
				ext++
			}
			if l.Fixed() {
				fixed++
			}
			if l.Params.Groups == l.Params.InC && l.Params.InC > 1 {
				depthwise++
			} else if l.Params.Groups > 1 {
				grouped++
			}
			if l.Params.SH > l.Params.KH || l.Params.SW > l.Params.KW {
				strideOverKernel++
			}
			if l.Params.DH > 1 || l.Params.DW > 1 {
				dilated++
			}
		}
		specPath := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(specPath, []byte(yaml.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		spec, err := ParseSpec(specPath, []byte(yaml.String()))
		if err != nil {
			t.Fatalf("parsing a drawn spec: %v\n%s", err, yaml.String())
		}
		for i, l := range spec.Layers {
			w := want[i]
			if l.Name != w.Name || l.Params != w.Params || l.InputH != w.InputH || l.InputW != w.InputW || l.StateDict != w.StateDict {
				t.Fatalf("layer %s parsed as %+v, drawn as %+v", w.Name, l, w)
			}
		}
		files, err := Generate(spec, Options{})
		if err != nil {
			t.Fatalf("%s: %v", specPath, err)
		}
		if err := WriteFiles(filepath.Join(dir, name), files); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d layers: modes %v, %d fixed-size, %d depthwise, %d grouped, %d with stride > kernel, %d dilated; routings %v, activations %v, %d with BN, %d with a residual, %d with external routing",
		count, modes, fixed, depthwise, grouped, strideOverKernel, dilated, routings, acts, bn, res, ext)
	for _, r := range verify.Routings {
		if n := routings[r+"/"] + routings[r+"/"+verify.Softmax] + routings[r+"/"+verify.Sigmoid]; n == 0 {
			t.Errorf("no layer drew routing %s", r)
		}
	}
	for _, m := range []string{verify.Zeros, verify.Reflect, verify.Replicate, verify.Circular} {
		if modes[m] == 0 {
			t.Errorf("no layer drew padding mode %s", m)
		}
	}

	testGeneratedModule(t, dir)
}

// testSpecModule generates spec into its package of a new module in dir
// (example.com/<package>) and vets and tests it.
// planSpec parses a test spec, written in a new temporary folder as
// name.yaml, and plans its layers; it returns the folder, the spec and the
// plans in layer order.
func planSpec(t *testing.T, name, spec string) (string, *Spec, []*Plan) {
	t.Helper()
	dir := t.TempDir()
	parsed, err := ParseSpec(filepath.Join(dir, name+".yaml"), []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	var plans []*Plan
	for _, l := range parsed.Layers {
		pl, err := NewPlan(l)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, pl)
	}
	return dir, parsed, plans
}

func testSpecModule(t *testing.T, dir string, spec *Spec) {
	t.Helper()
	dygenDir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if err := modtest.Scaffold(dir, "example.com/"+spec.Package, dygenDir); err != nil {
		t.Fatal(err)
	}
	files, err := Generate(spec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(filepath.Join(dir, spec.Package), files); err != nil {
		t.Fatal(err)
	}
	testGeneratedModule(t, dir)
}

// testGeneratedModule vets the generated module in dir and runs its tests.
// With DYGEN_GENERATED_GOARCH set (arm64 in CI) it builds them for that
// architecture and runs them under DYGEN_GENERATED_EXEC (default
// qemu-<arch>-static, from Debian's qemu-user-static).
func testGeneratedModule(t *testing.T, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	tags := "-tags=" + generatedTestTags
	var env []string
	args := []string{"test", "-count=1", tags}
	if arch := os.Getenv("DYGEN_GENERATED_GOARCH"); arch != "" {
		exec := os.Getenv("DYGEN_GENERATED_EXEC")
		if exec == "" {
			exec = "qemu-" + map[string]string{"arm64": "aarch64"}[arch] + "-static"
		}
		env = append(env, "GOARCH="+arch)
		args = append(args, "-exec", exec)
		t.Logf("generated tests built for %s and run under %s", arch, exec)
	}
	if out, errOut, err := modtest.RunGo(ctx, dir, env, "vet", tags, "./..."); err != nil {
		t.Fatalf("go vet of the generated module: %v\n%s%s", err, out, errOut)
	}
	if testing.Short() {
		args = append(args, "-short")
	}
	out, errOut, err := modtest.RunGo(ctx, dir, env, append(args, "./...")...)
	if err != nil {
		t.Fatalf("generated tests failed: %v\n%s%s", err, tail(out, 8000), tail(errOut, 4000))
	}
	t.Logf("go test: %s", strings.TrimSpace(string(out)))
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// TestSharedPadColumns runs the layers whose packed rows share their zero
// columns (zero padding, column stride 1: Wq < W + PadL + PadR) through
// their generated tests: asymmetric padding from "same" with even kernels,
// padding wider than the kernel's reach, dilation, row strides, rows
// narrower than a vector, and several channels and groups, so that a tap
// running past a packed row's end reads the next row's, the next plane's
// or the tail's zeros.
func TestSharedPadColumns(t *testing.T) {
	const spec = `package: sharedpad
layers:
  - {name: Same4, in_channels: 3, out_channels: 5, kernel_size: 4, padding: same, num_experts: 2, input_size: [9, 11]}
  - {name: Same2x5D2, in_channels: 4, out_channels: 8, kernel_size: [2, 5], dilation: 2, padding: same, num_experts: 3, input_size: [7, 13]}
  - {name: WidePad1x1, in_channels: 2, out_channels: 4, kernel_size: 1, padding: [0, 3], num_experts: 2, input_size: [5, 6]}
  - {name: Pad2K3, in_channels: 6, out_channels: 8, kernel_size: 3, padding: 2, num_experts: 2, input_size: [10, 17]}
  - {name: RowStride, in_channels: 5, out_channels: 12, kernel_size: 3, stride: [2, 1], padding: 1, num_experts: 4, input_size: [12, 20]}
  - {name: Narrow, in_channels: 3, out_channels: 4, kernel_size: 3, padding: 1, num_experts: 2, input_size: [6, 3]}
  - {name: Grouped, in_channels: 8, out_channels: 8, kernel_size: 3, padding: 1, groups: 2, num_experts: 2, input_size: [8, 14]}
  - {name: Stem, in_channels: 3, out_channels: 8, kernel_size: 7, stride: 2, padding: 3, num_experts: 2, input_size: [20, 24]}
  - {name: Stride3, in_channels: 2, out_channels: 4, kernel_size: 5, stride: 3, padding: 4, num_experts: 2, input_size: [11, 19]}
  - {name: Depthwise, in_channels: 4, out_channels: 4, kernel_size: 5, padding: 2, groups: 4, num_experts: 2, input_size: [9, 21]}
`
	dir, parsed, plans := planSpec(t, "sharedpad", spec)
	for _, pl := range plans {
		p := pl.P
		if want := max(pl.Wo, pl.W+max(p.PadL, p.PadR)); p.SW == 1 && pl.Asm.Wq != want {
			t.Errorf("layer %s: packed rows of %d, want max(Wo, W + max(PadL, PadR)) = %d", pl.Name, pl.Asm.Wq, want)
		}
		if full := pl.Wo + (p.KW-1)*p.DW/p.SW; p.SW > 1 && pl.Asm.Wq >= full {
			t.Errorf("layer %s: packed rows of %d, want fewer than %d", pl.Name, pl.Asm.Wq, full)
		}
	}
	testSpecModule(t, dir, parsed)
}

// TestRuntimeBatchFusion runs a run-time-size layer with more than 4 MiB of
// expert weights, whose assembly path fuses and convolves a tile of
// experts for a tile of samples in turn, through its generated tests
// (BatchTiles checks that a batch gives the bits of one-sample calls);
// the random specs' layers are too small to reach that path.
func TestRuntimeBatchFusion(t *testing.T) {
	const spec = `package: rtbatch
layers:
  - {name: Wide, in_channels: 256, out_channels: 256, kernel_size: 3, padding: 1, num_experts: 4}
`
	dir, parsed, plans := planSpec(t, "rtbatch", spec)
	if pl := plans[0]; pl.RT == nil || pl.RT.Batch == nil {
		t.Fatalf("layer %s: no run-time-size batch fusion planned", pl.Name)
	}
	testSpecModule(t, dir, parsed)
}

// TestOwnPixelSplit runs, through their generated tests, layers that read
// their input and write their output in place (1x1, no padding, unit
// stride, Ho·Wo a multiple of 8), whose one-sample split may give each part
// its own routing and fusion and a range of pixel blocks (AsmPlan.
// OwnPixels): TestXThreads raises OwnProcs to run that split and compares
// its bits with one goroutine's. The random specs' layers rarely qualify.
// The layers cover a tail pixel block, groups, a tail channel block and
// fewer full pixel blocks than goroutines.
func TestOwnPixelSplit(t *testing.T) {
	const spec = `package: ownpix
layers:
  - {name: Square, in_channels: 8, out_channels: 12, kernel_size: 1, num_experts: 2, input_size: [8, 16]}
  - {name: Tail, in_channels: 5, out_channels: 16, kernel_size: 1, num_experts: 3, input_size: [10, 20]}
  - {name: Grouped, in_channels: 12, out_channels: 6, kernel_size: 1, groups: 3, num_experts: 2, input_size: [8, 14]}
  - {name: Few, in_channels: 4, out_channels: 8, kernel_size: 1, num_experts: 2, input_size: [6, 8]}
`
	dir, parsed, plans := planSpec(t, "ownpix", spec)
	for _, pl := range plans {
		if a := pl.Asm; a == nil || !a.Own || !a.OwnPixels {
			t.Fatalf("layer %s: no pixel split planned (plan: %+v)", pl.Name, a)
		}
		t.Logf("layer %s: %d full pixel blocks of %d vectors, tail %d×%d", pl.Name, pl.Asm.NPB, pl.Asm.P, pl.Asm.Nt, pl.Asm.Pt)
	}
	testSpecModule(t, dir, parsed)
}

// TestRuntimeDirectIn runs, through their generated tests, run-time-size
// 1x1 layers without padding or stride, whose assembly reads the input in
// place but for each channel's last, partial pixel block (RTPlan.DirectIn);
// their test sizes (testShapes) give planes with no whole pixel block of 3
// vectors, with one and a partial one, and with two and no partial one.
// Layers with padding or a stride keep the pack.
func TestRuntimeDirectIn(t *testing.T) {
	const spec = `package: rtdirect
layers:
  - {name: Plain, in_channels: 8, out_channels: 12, kernel_size: 1, num_experts: 2}
  - {name: Grouped, in_channels: 12, out_channels: 10, kernel_size: 1, groups: 2, num_experts: 3}
  - {name: Padded, in_channels: 4, out_channels: 8, kernel_size: 1, padding: 1, num_experts: 2}
  - {name: Strided, in_channels: 4, out_channels: 8, kernel_size: 1, stride: 2, num_experts: 2}
`
	dir, parsed, plans := planSpec(t, "rtdirect", spec)
	for _, pl := range plans {
		want := pl.Name == "Plain" || pl.Name == "Grouped"
		if pl.RT == nil || pl.RT.DirectIn != want {
			t.Fatalf("layer %s: RT plan %+v, want DirectIn %v", pl.Name, pl.RT, want)
		}
		t.Logf("layer %s: test sizes %v", pl.Name, pl.TestSizes)
	}
	testSpecModule(t, dir, parsed)
}

// TestEpilogueInKernels runs, through their generated tests, layers whose
// micro-kernels write the output in place and so finish it in their
// stores (AsmKernel.Act): every activation, with and without a residual,
// and blockings with tails (M = 4, 6, 5 and 3 channels; 5 and 7 outputs).
// Under DYGEN_GENERATED_GOARCH=arm64 these are the NEON epilogues.
func TestEpilogueInKernels(t *testing.T) {
	const spec = `package: epikern
layers:
  - {name: ReLU, in_channels: 8, out_channels: 8, kernel_size: 1, num_experts: 2, input_size: [8, 8], activation: relu}
  - {name: ReLU6Res, in_channels: 6, out_channels: 12, kernel_size: 1, num_experts: 2, input_size: [4, 6], activation: relu6, residual: true}
  - {name: Hardswish, in_channels: 4, out_channels: 6, kernel_size: 1, num_experts: 3, input_size: [8, 4], activation: hardswish}
  - {name: SiLURes, in_channels: 5, out_channels: 5, kernel_size: 1, num_experts: 2, input_size: [6, 4], activation: silu, residual: true}
  - {name: Sigmoid, in_channels: 3, out_channels: 7, kernel_size: 1, num_experts: 2, input_size: [2, 12], activation: sigmoid}
  - {name: ResOnly, in_channels: 9, out_channels: 9, kernel_size: 1, num_experts: 2, input_size: [8, 5], residual: true}
`
	dir, parsed, plans := planSpec(t, "epikern", spec)
	for _, pl := range plans {
		a := pl.Asm
		if a == nil || !a.DirectOut || a.Kernels[0].Act == "" {
			t.Fatalf("layer %s: the kernels do not finish the outputs (plan %+v)", pl.Name, a)
		}
		t.Logf("layer %s: %d×%d blocks (tail %d channels), activation %s, residual %v", pl.Name, a.M, a.P, a.Mt, pl.P.Activation, pl.Residual)
	}
	testSpecModule(t, dir, parsed)
}

// TestRuntimeEpilogue runs run-time-size layers with an epilogue through
// their generated tests: their copy out finishes the outputs (every
// activation, with and without a residual) over rows shorter than 8, of 8
// and longer ones whose last 8 floats overlap (the sizes testShapes picks);
// their packs cover stride 1 and 2, and the depthwise ones the pack that
// leaves the padding in place (fill 0; stride 2: both phases in one pass).
func TestRuntimeEpilogue(t *testing.T) {
	const spec = `package: rtepi
layers:
  - {name: SiLURes, in_channels: 4, out_channels: 4, kernel_size: 3, padding: 1, num_experts: 2, activation: silu, residual: true}
  - {name: ReLU6, in_channels: 3, out_channels: 5, kernel_size: 5, num_experts: 2, activation: relu6}
  - {name: SigmoidRes, in_channels: 6, out_channels: 8, kernel_size: 1, num_experts: 3, activation: sigmoid, residual: true}
  - {name: Hardswish, in_channels: 4, out_channels: 6, kernel_size: 3, stride: 2, padding: 1, num_experts: 2, activation: hardswish}
  - {name: ReLURes, in_channels: 5, out_channels: 5, kernel_size: 3, padding: 1, groups: 5, num_experts: 2, activation: relu, residual: true}
  - {name: DWS2, in_channels: 6, out_channels: 6, kernel_size: 5, stride: 2, padding: 2, groups: 6, num_experts: 2, activation: relu}
`
	dir, parsed, plans := planSpec(t, "rtepi", spec)
	for _, pl := range plans {
		if pl.RT == nil || !pl.Epi {
			t.Fatalf("layer %s: not a run-time-size layer with an epilogue", pl.Name)
		}
		t.Logf("layer %s: test sizes %v", pl.Name, pl.TestSizes)
	}
	// The generated tests' sizes give runs of fewer than 8 packed columns
	// per phase; the stride-2 pass that writes both phases at once needs 8
	// or more, so a test of DWS2 at larger sizes goes in beside them.
	const large = `package rtepi

import (
	"math/rand/v2"
	"testing"

	"github.com/dygen/dygen/verify"
)

func TestDWS2Large(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := dWS2Params
	w := verify.RandomWeights(p, rng)
	l := newDWS2ForTest(t, w)
	defer func(v bool) { dWS2UseAsm = v }(dWS2UseAsm)
	for _, sz := range [][2]int{{34, 40}, {21, 37}} {
		for _, asm := range []bool{false, dWS2AsmOK} {
			dWS2UseAsm = asm
			x := verify.RandomInput(2, p.InC*sz[0]*sz[1], rng)
			e := verify.RandomExtra(p, 2, sz[0], sz[1], rng)
			if _, err := verify.CheckCall(p, w, dWS2Call(l), x, e, 2, sz[0], sz[1]); err != nil {
				t.Errorf("%v, assembly %v: %v", sz, asm, err)
			}
		}
	}
}
`
	pkgDir := filepath.Join(dir, parsed.Package)
	if err := os.MkdirAll(pkgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkgDir, "large_test.go"), []byte(large), 0o644); err != nil {
		t.Fatal(err)
	}
	testSpecModule(t, dir, parsed)
}

// TestAVX512Tails runs, through their generated tests (TestXVariants with
// the AVX-512 variant, TestXAVX512Bits against AVX2), layers whose AVX-512
// micro-kernels end in their boundary classes: every output width from 1
// to 17 columns (flat rows of every count of 8-pixel vectors modulo the
// 16-pixel vectors and blocks, so the single-vector loop and the masked
// half vector both run), output channel counts that are not multiples of
// 16 or of the block (tail blocks of every M), depthwise layers (FMAs from
// memory), 1x1 layers that write in place with the epilogue and the
// residual under the mask, and run-time sizes. On a CPU without AVX-512
// the AVX2 and pure-Go variants run.
func TestAVX512Tails(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and tests a module of 25 layers")
	}
	const spec = `package: avx512tails
layers:
  - {name: W1, in_channels: 3, out_channels: 5, kernel_size: 3, padding: 1, num_experts: 2, input_size: [102, 1], activation: relu, residual: false}
  - {name: W2, in_channels: 3, out_channels: 7, kernel_size: 3, padding: 1, num_experts: 2, input_size: [69, 2], activation: silu, residual: false}
  - {name: W3, in_channels: 3, out_channels: 13, kernel_size: 3, padding: 1, num_experts: 2, input_size: [54, 3], activation: none, residual: true}
  - {name: W4, in_channels: 3, out_channels: 4, kernel_size: 3, padding: 1, num_experts: 2, input_size: [41, 4], activation: hardswish, residual: false}
  - {name: W5, in_channels: 3, out_channels: 6, kernel_size: 3, padding: 1, num_experts: 2, input_size: [35, 5], activation: sigmoid, residual: false}
  - {name: W6, in_channels: 3, out_channels: 9, kernel_size: 3, padding: 1, num_experts: 2, input_size: [31, 6], activation: relu6, residual: true}
  - {name: W7, in_channels: 3, out_channels: 3, kernel_size: 3, padding: 1, num_experts: 2, input_size: [29, 7], activation: none, residual: false}
  - {name: W8, in_channels: 3, out_channels: 10, kernel_size: 3, padding: 1, num_experts: 2, input_size: [23, 8], activation: relu, residual: false}
  - {name: W9, in_channels: 3, out_channels: 17, kernel_size: 3, padding: 1, num_experts: 2, input_size: [22, 9], activation: silu, residual: true}
  - {name: W10, in_channels: 3, out_channels: 8, kernel_size: 3, padding: 1, num_experts: 2, input_size: [21, 10], activation: none, residual: false}
  - {name: W11, in_channels: 3, out_channels: 11, kernel_size: 3, padding: 1, num_experts: 2, input_size: [20, 11], activation: hardswish, residual: false}
  - {name: W12, in_channels: 3, out_channels: 12, kernel_size: 3, padding: 1, num_experts: 2, input_size: [16, 12], activation: sigmoid, residual: true}
  - {name: W13, in_channels: 3, out_channels: 2, kernel_size: 3, padding: 1, num_experts: 2, input_size: [16, 13], activation: relu6, residual: false}
  - {name: W14, in_channels: 3, out_channels: 15, kernel_size: 3, padding: 1, num_experts: 2, input_size: [16, 14], activation: none, residual: false}
  - {name: W15, in_channels: 3, out_channels: 1, kernel_size: 3, padding: 1, num_experts: 2, input_size: [16, 15], activation: relu, residual: true}
  - {name: W16, in_channels: 3, out_channels: 19, kernel_size: 3, padding: 1, num_experts: 2, input_size: [12, 16], activation: silu, residual: false}
  - {name: W17, in_channels: 3, out_channels: 6, kernel_size: 3, padding: 1, num_experts: 2, input_size: [13, 17], activation: none, residual: false}
  - {name: DW5, in_channels: 7, out_channels: 7, groups: 7, kernel_size: 3, padding: 1, num_experts: 2, input_size: [40, 5], activation: relu, residual: true}
  - {name: DW9, in_channels: 7, out_channels: 7, groups: 7, kernel_size: 3, padding: 1, num_experts: 2, input_size: [24, 9], activation: relu, residual: true}
  - {name: DW13, in_channels: 7, out_channels: 7, groups: 7, kernel_size: 3, padding: 1, num_experts: 2, input_size: [19, 13], activation: relu, residual: true}
  - {name: DW17, in_channels: 7, out_channels: 7, groups: 7, kernel_size: 3, padding: 1, num_experts: 2, input_size: [16, 17], activation: relu, residual: true}
  - {name: PW104, in_channels: 5, out_channels: 13, kernel_size: 1, num_experts: 2, input_size: [13, 8], activation: silu, residual: true}
  - {name: PW72, in_channels: 4, out_channels: 18, kernel_size: 1, num_experts: 2, input_size: [9, 8], activation: hardswish}
  - {name: RT, in_channels: 3, out_channels: 13, kernel_size: 3, padding: 1, num_experts: 2}
  - {name: RTDW, in_channels: 9, out_channels: 9, groups: 9, kernel_size: 3, stride: 2, padding: 1, num_experts: 2}
`
	dir, parsed, plans := planSpec(t, "avx512tails", spec)
	halves := 0
	for _, pl := range plans {
		if !pl.TierOK(ISAAVX512) {
			t.Fatalf("layer %s has no AVX-512 kernels", pl.Name)
		}
		if pl.Asm != nil && pl.Asm.NV%2 == 1 {
			halves++
		}
	}
	if halves < 5 {
		t.Fatalf("only %d layers end their flat rows in a half vector", halves)
	}
	testSpecModule(t, dir, parsed)
}
