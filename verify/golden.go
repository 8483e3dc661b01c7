package verify

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/dygen/dygen/dyrt"
)

// ModulePath is dygen's module path, used to find the module root.
const ModulePath = "github.com/dygen/dygen"

// Golden is one PyTorch golden case (see shared/golden/README.md): a layer,
// its weights, an input batch, and what PyTorch computed for it.
type Golden struct {
	Path    string    // file the case was loaded from
	Name    string    // the spec's name, or the file's base name
	Params  Params    // the layer, padding symmetric as PyTorch's [PH, PW]
	N, H, W int       // batch and input size
	Weights Weights   // the layer's parameters
	Input   []float32 // [N,Cin,H,W]
	Output  []float32 // PyTorch's float32 result [N,Cout,Ho,Wo]
	// OutputF64 is the float64 result rounded to float32. Compare against
	// Want, which keeps it at full precision.
	OutputF64 []float32
	Routing   []float32 // softmax coefficients [N,K,Cout]
	Want      []float64 // output_f64 at full precision [N,Cout,Ho,Wo]
}

// goldenSpec is the JSON in a golden file's __metadata__.spec.
type goldenSpec struct {
	Name        string          `json:"name"`
	InChannels  *int            `json:"in_channels"`
	OutChannels *int            `json:"out_channels"`
	KernelSize  json.RawMessage `json:"kernel_size"`
	Stride      json.RawMessage `json:"stride"`
	Padding     json.RawMessage `json:"padding"`
	Dilation    json.RawMessage `json:"dilation"`
	Groups      *int            `json:"groups"`
	Bias        *bool           `json:"bias"`
	PaddingMode *string         `json:"padding_mode"`
	NumExperts  *int            `json:"num_experts"`
	Batch       *int            `json:"batch"`
	InputSize   json.RawMessage `json:"input_size"`
}

// pair decodes an int or an [a, b] pair (PyTorch's int-or-tuple arguments);
// def is used when the field is absent, unless def is nil.
func pair(field string, raw json.RawMessage, def []int) (int, int, error) {
	if len(raw) == 0 {
		if def == nil {
			return 0, 0, fmt.Errorf("missing %s", field)
		}
		return def[0], def[1], nil
	}
	var v int
	if err := json.Unmarshal(raw, &v); err == nil {
		return v, v, nil
	}
	var vs []int
	if err := json.Unmarshal(raw, &vs); err != nil || len(vs) != 2 {
		return 0, 0, fmt.Errorf("%s is %s, want an integer or a pair of integers", field, raw)
	}
	return vs[0], vs[1], nil
}

// paramsFromSpec resolves a golden spec into Params, batch and input size.
func paramsFromSpec(s *goldenSpec) (p Params, n, h, w int, err error) {
	req := func(name string, v *int) (int, error) {
		if v == nil {
			return 0, fmt.Errorf("missing %s", name)
		}
		return *v, nil
	}
	if p.InC, err = req("in_channels", s.InChannels); err != nil {
		return
	}
	if p.OutC, err = req("out_channels", s.OutChannels); err != nil {
		return
	}
	if p.K, err = req("num_experts", s.NumExperts); err != nil {
		return
	}
	if n, err = req("batch", s.Batch); err != nil {
		return
	}
	if p.KH, p.KW, err = pair("kernel_size", s.KernelSize, nil); err != nil {
		return
	}
	if p.SH, p.SW, err = pair("stride", s.Stride, []int{1, 1}); err != nil {
		return
	}
	var ph, pw int
	if ph, pw, err = pair("padding", s.Padding, []int{0, 0}); err != nil {
		return
	}
	p.PadT, p.PadB, p.PadL, p.PadR = ph, ph, pw, pw
	if p.DH, p.DW, err = pair("dilation", s.Dilation, []int{1, 1}); err != nil {
		return
	}
	if h, w, err = pair("input_size", s.InputSize, nil); err != nil {
		return
	}
	p.Groups, p.Bias, p.Mode = 1, true, Zeros
	if s.Groups != nil {
		p.Groups = *s.Groups
	}
	if s.Bias != nil {
		p.Bias = *s.Bias
	}
	if s.PaddingMode != nil {
		p.Mode = *s.PaddingMode
	}
	if err = p.Check(); err != nil {
		return
	}
	if n <= 0 {
		err = fmt.Errorf("batch must be positive, got %d", n)
		return
	}
	err = p.CheckInput(h, w)
	return
}

// LoadGolden reads a golden case: the layer from the header's
// __metadata__.spec JSON and the tensors listed in the README, each checked
// against the shape the spec implies. Errors name the file and the problem
// (a missing or ill-shaped tensor, a bias tensor that the spec says the
// layer lacks, a bad spec).
func LoadGolden(path string) (*Golden, error) {
	f, err := dyrt.Open(path)
	if err != nil {
		return nil, err
	}
	specJSON, ok := f.Metadata["spec"]
	if !ok {
		return nil, fmt.Errorf("%s: no __metadata__.spec in the header", path)
	}
	var spec goldenSpec
	dec := json.NewDecoder(strings.NewReader(specJSON))
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("%s: spec: %v", path, err)
	}
	p, n, h, w, err := paramsFromSpec(&spec)
	if err != nil {
		return nil, fmt.Errorf("%s: spec: %v", path, err)
	}
	g := &Golden{Path: path, Name: spec.Name, Params: p, N: n, H: h, W: w}
	if g.Name == "" {
		g.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	ho, wo := p.OutputSize(h, w)
	load := func(dst *[]float32, name string, shape ...int) {
		if err == nil {
			*dst, err = f.Float32(name, shape...)
		}
	}
	load(&g.Weights.Weight, "weight", p.K, p.OutC, p.InPerGroup(), p.KH, p.KW)
	if p.Bias {
		load(&g.Weights.Bias, "bias", p.OutC)
	} else if f.Has("bias") {
		return nil, fmt.Errorf("%s: has a tensor \"bias\" but the spec says bias: false", path)
	}
	load(&g.Weights.FCWeight, "_coefficient_fn.fc.weight", p.K*p.OutC, p.InC)
	load(&g.Weights.FCBias, "_coefficient_fn.fc.bias", p.K*p.OutC)
	load(&g.Input, "input", n, p.InC, h, w)
	load(&g.Output, "output", n, p.OutC, ho, wo)
	load(&g.OutputF64, "output_f64", n, p.OutC, ho, wo)
	load(&g.Routing, "routing", n, p.K, p.OutC)
	if err != nil {
		return nil, err
	}
	if g.Want, err = f.Float64("output_f64", n, p.OutC, ho, wo); err != nil {
		return nil, err
	}
	return g, nil
}

// want returns the float64 result, from Want or else from OutputF64.
func (g *Golden) want() []float64 {
	if g.Want != nil {
		return g.Want
	}
	w := make([]float64, len(g.OutputF64))
	for i, v := range g.OutputF64 {
		w[i] = float64(v)
	}
	return w
}

// GoldenRefTol is the relative agreement required between Reference and a
// golden case's float64 output, relative to the largest |output| of the case
// (both are float64 computations of the same sums in different orders).
const GoldenRefTol = 1e-9

// CheckGolden checks a float32 result got for the golden case g: it computes
// the Reference for g's layer, weights and input, checks that the reference
// agrees with PyTorch's float64 output to GoldenRefTol (so that a wrong
// reference or a corrupt file cannot hide), and then compares got against
// PyTorch's float64 output with the error model's bounds (see Compare).
func CheckGolden(g *Golden, got []float32) error {
	r, err := Reference(g.Params, g.Weights, g.Input, g.N, g.H, g.W)
	if err != nil {
		return fmt.Errorf("%s: reference: %v", g.Name, err)
	}
	return checkGoldenRef(g, r, got)
}

// checkGoldenRef is CheckGolden with the reference result r of g's data
// already computed.
func checkGoldenRef(g *Golden, r *Result, got []float32) error {
	want := g.want()
	if len(want) != len(r.Y) {
		return fmt.Errorf("%s: golden output has %d elements, the reference %d", g.Name, len(want), len(r.Y))
	}
	maxW := 0.0
	for _, v := range want {
		maxW = math.Max(maxW, math.Abs(v))
	}
	tol := GoldenRefTol * maxW
	bound := make([]float64, len(r.Y))
	for i, y := range r.Y {
		d := math.Abs(y - want[i])
		if !(d <= tol) {
			n, c, yy, x := r.Index(i)
			return fmt.Errorf("%s: the reference disagrees with PyTorch's float64 output at (n=%d, c=%d, y=%d, x=%d): %.17g vs %.17g (tolerance %.3g)",
				g.Name, n, c, yy, x, y, want[i], tol)
		}
		// The bound is for |got − y|; against want it grows by |y − want|.
		bound[i] = r.Bound[i] + d
	}
	if err := Compare(got, &Result{Y: want, Bound: bound, Pi: r.Pi, N: r.N, Ho: r.Ho, Wo: r.Wo, C: r.C}); err != nil {
		return fmt.Errorf("%s: %v", g.Name, err)
	}
	return nil
}

// GoldenDir locates the golden cases: $DYGEN_GOLDEN_DIR when set; else
// <root>/../shared/golden for the first directory <root>, walking up from
// the working directory, whose go.mod declares module github.com/dygen/dygen;
// else the same path relative to this package's source directory (found
// through runtime.Caller, which works for a module that uses dygen through a
// replace directive). The bool reports whether the directory exists.
func GoldenDir() (string, bool) {
	if d := os.Getenv("DYGEN_GOLDEN_DIR"); d != "" {
		return d, isDir(d)
	}
	var tried string
	if wd, err := os.Getwd(); err == nil {
		if root, ok := findModuleRoot(wd); ok {
			d := filepath.Join(root, "..", "shared", "golden")
			if isDir(d) {
				return d, true
			}
			tried = d
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		d := filepath.Join(filepath.Dir(file), "..", "..", "shared", "golden")
		if isDir(d) {
			return d, true
		}
	}
	return tried, false
}

func isDir(d string) bool {
	st, err := os.Stat(d)
	return err == nil && st.IsDir()
}

// findModuleRoot walks up from dir to the directory whose go.mod declares
// ModulePath.
func findModuleRoot(dir string) (string, bool) {
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && moduleOf(b) == ModulePath {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// moduleOf returns the module path a go.mod declares.
func moduleOf(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		rest, ok := strings.CutPrefix(line, "module")
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t' && rest[0] != '"') {
			continue
		}
		rest = strings.TrimSpace(rest)
		if u, err := strconv.Unquote(rest); err == nil {
			return u
		}
		return rest
	}
	return ""
}

// GoldenFiles lists the *.safetensors files in dir, sorted.
func GoldenFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".safetensors") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(files)
	return files, nil
}
