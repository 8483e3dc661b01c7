package verify

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dygen/dygen/dyrt"
)

// goldenDirOrSkip returns the golden directory, skipping the test when it
// is missing unless DYGEN_REQUIRE_GOLDEN=1.
func goldenDirOrSkip(t *testing.T) (string, []string) {
	t.Helper()
	dir, ok := GoldenDir()
	if !ok {
		if os.Getenv("DYGEN_REQUIRE_GOLDEN") == "1" {
			t.Fatalf("golden directory not found (tried %q); set DYGEN_GOLDEN_DIR", dir)
		}
		t.Skipf("golden directory not found (tried %q)", dir)
	}
	files, err := GoldenFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		if os.Getenv("DYGEN_REQUIRE_GOLDEN") == "1" {
			t.Fatalf("no golden files in %s", dir)
		}
		t.Skipf("no golden files in %s", dir)
	}
	return dir, files
}

func TestGolden(t *testing.T) {
	_, files := goldenDirOrSkip(t)
	for ci, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			g, err := LoadGolden(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Reference(g.Params, g.Weights, g.Input, g.N, g.H, g.W)
			if err != nil {
				t.Fatal(err)
			}
			// Reference against PyTorch's float64 output, tightly.
			maxW, maxD := 0.0, 0.0
			for i, v := range g.Want {
				maxW = math.Max(maxW, math.Abs(v))
				maxD = math.Max(maxD, math.Abs(r.Y[i]-v))
			}
			if maxD > GoldenRefTol*maxW {
				t.Errorf("reference vs output_f64: max |diff| %.3g > %.0e·max|y| (%.3g)", maxD, GoldenRefTol, maxW)
			}
			// Routing: PyTorch's float32 coefficients against Pi.
			for i, v := range g.Routing {
				if d := math.Abs(float64(v) - r.Pi[i]); d > 1e-6 {
					t.Fatalf("routing[%d] = %v, reference %v (diff %.3g)", i, v, r.Pi[i], d)
				}
			}
			// A plain float32 forward within the bounds: the fused order
			// and, in turn, one of the others (all of them on small cases).
			for ord := range numOrders {
				if len(g.Want)*g.Params.Taps() > 200_000 && ord != orderFused && ord != order(ci%int(numOrders)) {
					continue
				}
				got := forward32(g.Params, g.Weights, g.Input, g.N, g.H, g.W, ord, nil)
				if err := CheckGolden(g, got); err != nil {
					t.Errorf("float32 %v order: %v", ord, err)
				}
			}
			// PyTorch's own float32 output is a correct float32
			// implementation too.
			if err := CheckGolden(g, g.Output); err != nil {
				t.Errorf("PyTorch float32 output: %v", err)
			}
			rep := Measure(g.Output, r)
			t.Logf("%v: PyTorch float32 rel err %.2g, worst |err|/bound %.2g", g.Params, rep.MaxRelErr, rep.WorstRatio)
		})
	}
}

// TestGoldenCorrupt checks that CheckGolden rejects a corrupted result and
// a golden case whose data disagree with the reference.
func TestGoldenCorrupt(t *testing.T) {
	_, files := goldenDirOrSkip(t)
	g, err := LoadGolden(files[0])
	if err != nil {
		t.Fatal(err)
	}
	got := append([]float32(nil), g.Output...)
	got[len(got)/2] += 0.01
	if err := CheckGolden(g, got); err == nil || !strings.Contains(err.Error(), "1 of ") {
		t.Errorf("CheckGolden of a corrupted output: %v", err)
	}
	g.Weights.Weight[0] += 0.5
	if err := CheckGolden(g, g.Output); err == nil || !strings.Contains(err.Error(), "reference disagrees") {
		t.Errorf("CheckGolden with corrupted weights: %v", err)
	}
}

func TestLoadGoldenErrors(t *testing.T) {
	dir := t.TempDir()
	spec := `{"name": "T", "in_channels": 2, "out_channels": 2, "kernel_size": [1, 1], "stride": [1, 1], "padding": [0, 0], "dilation": [1, 1], "groups": 1, "bias": false, "padding_mode": "zeros", "num_experts": 1, "batch": 1, "input_size": [1, 1]}`
	good := []dyrt.Tensor{
		dyrt.F32Tensor("weight", []int{1, 2, 2, 1, 1}, make([]float32, 4)),
		dyrt.F32Tensor("_coefficient_fn.fc.weight", []int{2, 2}, make([]float32, 4)),
		dyrt.F32Tensor("_coefficient_fn.fc.bias", []int{2}, make([]float32, 2)),
		dyrt.F32Tensor("input", []int{1, 2, 1, 1}, []float32{1, 2}),
		dyrt.F32Tensor("output", []int{1, 2, 1, 1}, make([]float32, 2)),
		dyrt.F64Tensor("output_f64", []int{1, 2, 1, 1}, make([]float64, 2)),
		dyrt.F32Tensor("routing", []int{1, 1, 2}, []float32{1, 1}),
	}
	write := func(name, spec string, ts []dyrt.Tensor) string {
		path := filepath.Join(dir, name)
		meta := map[string]string{}
		if spec != "" {
			meta["spec"] = spec
		}
		if err := dyrt.Write(path, meta, ts); err != nil {
			t.Fatal(err)
		}
		return path
	}
	path := write("good.safetensors", spec, good)
	g, err := LoadGolden(path)
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "T" || g.Params.Bias || g.Weights.Bias != nil || g.N != 1 || g.H != 1 || g.W != 1 {
		t.Errorf("loaded %+v", g)
	}
	if err := CheckGolden(g, []float32{0, 0}); err != nil {
		t.Errorf("CheckGolden: %v", err)
	}

	without := func(name string) []dyrt.Tensor {
		var ts []dyrt.Tensor
		for _, tn := range good {
			if tn.Name != name {
				ts = append(ts, tn)
			}
		}
		return ts
	}
	for _, c := range []struct {
		name, spec string
		ts         []dyrt.Tensor
		want       string
	}{
		{"nospec", "", good, "no __metadata__.spec"},
		{"badjson", "{", good, "spec: unexpected EOF"},
		{"missing", strings.Replace(spec, `"num_experts": 1,`, "", 1), good, "missing num_experts"},
		{"badpair", strings.Replace(spec, `"kernel_size": [1, 1]`, `"kernel_size": [1, 1, 1]`, 1), good, "kernel_size is [1, 1, 1]"},
		{"badmode", strings.Replace(spec, `"zeros"`, `"mirror"`, 1), good, `padding_mode must be`},
		{"badgroups", strings.Replace(spec, `"groups": 1`, `"groups": 3`, 1), good, "not divisible by groups"},
		{"badinput", strings.Replace(spec, `"input_size": [1, 1]`, `"input_size": [0, 1]`, 1), good, "input size must be positive"},
		{"noweight", spec, without("weight"), `no tensor "weight"`},
		{"shape", strings.Replace(spec, `"num_experts": 1`, `"num_experts": 2`, 1), good, `tensor "weight": shape [1 2 2 1 1], want [2 2 2 1 1]`},
		{"extrabias", spec, append(without(""), dyrt.F32Tensor("bias", []int{2}, make([]float32, 2))), "spec says bias: false"},
		{"nobias", strings.Replace(spec, `"bias": false`, `"bias": true`, 1), good, `no tensor "bias"`},
		{"routing", spec, append(without("routing"), dyrt.F32Tensor("routing", []int{1, 2}, []float32{1, 1})), `tensor "routing": shape [1 2], want [1 1 2]`},
	} {
		path := write(c.name+".safetensors", c.spec, c.ts)
		_, err := LoadGolden(path)
		if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: LoadGolden error %v, want %q prefixed by the path", c.name, err, c.want)
		}
	}
	if _, err := LoadGolden(filepath.Join(dir, "absent.safetensors")); err == nil {
		t.Error("LoadGolden of a missing file succeeded")
	}
}

func TestGoldenDirEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DYGEN_GOLDEN_DIR", dir)
	if d, ok := GoldenDir(); d != dir || !ok {
		t.Errorf("GoldenDir() = %q, %v; want %q, true", d, ok, dir)
	}
	for _, name := range []string{"b.safetensors", "a.safetensors", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := GoldenFiles(dir)
	if err != nil || len(files) != 2 || filepath.Base(files[0]) != "a.safetensors" || filepath.Base(files[1]) != "b.safetensors" {
		t.Errorf("GoldenFiles = %v, %v", files, err)
	}
	t.Setenv("DYGEN_GOLDEN_DIR", filepath.Join(dir, "absent"))
	if _, ok := GoldenDir(); ok {
		t.Error("GoldenDir reports a missing directory as existing")
	}
	if _, err := GoldenFiles(filepath.Join(dir, "absent")); err == nil {
		t.Error("GoldenFiles of a missing directory succeeded")
	}
}

func TestModuleOf(t *testing.T) {
	for in, want := range map[string]string{
		"module github.com/dygen/dygen\n\ngo 1.26\n":     "github.com/dygen/dygen",
		"// c\nmodule \"github.com/dygen/dygen\" // x\n": "github.com/dygen/dygen",
		"modules x\nmodule other/mod\n":                  "other/mod",
		"go 1.26\n":                                      "",
	} {
		if got := moduleOf([]byte(in)); got != want {
			t.Errorf("moduleOf(%q) = %q, want %q", in, got, want)
		}
	}
	if _, ok := findModuleRoot(t.TempDir()); ok {
		// Only possible if a temp dir lies inside the dygen module.
		t.Log("temp dir is inside a dygen module")
	}
	wd, _ := os.Getwd()
	if root, ok := findModuleRoot(wd); !ok || root != filepath.Dir(wd) {
		t.Errorf("findModuleRoot(%s) = %q, %v", wd, root, ok)
	}
}
