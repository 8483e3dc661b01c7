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

// Golden is one PyTorch golden case (see shared/golden/README.md and
// shared/golden-family/README.md): a layer, its weights, an input batch
// with its extra inputs, and what PyTorch computed for it.
type Golden struct {
	Path    string    // file the case was loaded from
	Name    string    // the spec's name, or the file's base name
	Params  Params    // the layer, padding symmetric as PyTorch's [PH, PW], defaults filled in
	N, H, W int       // batch and input size
	Weights Weights   // the layer's parameters
	Input   []float32 // [N,Cin,H,W]
	Output  []float32 // PyTorch's float32 result [N,Cout,Ho,Wo]
	// OutputF64 is the float64 result rounded to float32. Compare against
	// Want, which keeps it at full precision.
	OutputF64 []float32
	// Residual [N,Cout,Ho,Wo] is the tensor added before the activation,
	// when the layer has one.
	Residual []float32
	// Routing is PyTorch's float32 routing coefficients, for debugging,
	// [N, RoutingLen] in the RoutingLen layout (family.go): for dynet π
	// [N,K,Cout]; for condconv and dycnn the file's "routing" [N,K]; for
	// odconv routing.channel, routing.filter, routing.spatial and
	// routing.kernel one after the other, 1 for an absent head. Empty for
	// static layers.
	Routing []float32
	Want    []float64 // output_f64 at full precision [N,Cout,Ho,Wo]
}

// Extra returns the extra inputs to call g's layer with: the residual when
// the case has one, and the stored routing when the layer takes its
// routing from outside.
func (g *Golden) Extra() Extra {
	var e Extra
	if g.Params.Residual {
		e.Residual = g.Residual
	}
	if g.Params.WithDefaults().ExternalRouting {
		e.Routing = g.Routing
	}
	return e
}

// goldenSpec is the JSON in a golden file's __metadata__.spec (and of each
// conv of a block's __metadata__.block).
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

	// The family's keys (shared/golden-family/README.md); absent in the
	// seed cases, which are dynet layers with a softmax gate.
	Routing           *string           `json:"routing"`
	Gate              *string           `json:"gate"`
	Temperature       *float64          `json:"temperature"`
	AttentionChannels *int              `json:"attention_channels"`
	BatchNorm         *bool             `json:"batch_norm"`
	BatchNormEps      *float64          `json:"batch_norm_eps"`
	Activation        *string           `json:"activation"`
	Residual          *bool             `json:"residual"`
	RoutingInput      *string           `json:"routing_input"`
	StateDict         map[string]string `json:"state_dict"`
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

// paramsFromSpec resolves a golden spec into Params (defaults filled in),
// batch and input size.
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
	str := func(v *string) string {
		if v == nil {
			return ""
		}
		return *v
	}
	p.Routing, p.Gate, p.Activation = str(s.Routing), str(s.Gate), str(s.Activation)
	if s.Routing != nil && *s.Routing == "" {
		err = fmt.Errorf("routing is empty")
		return
	}
	if s.Temperature != nil {
		if p.Temperature = *s.Temperature; !(p.Temperature > 0) {
			err = fmt.Errorf("temperature must be positive, got %v", p.Temperature)
			return
		}
	}
	if s.AttentionChannels != nil {
		if p.AttnC = *s.AttentionChannels; p.AttnC <= 0 {
			err = fmt.Errorf("attention_channels must be positive, got %d", p.AttnC)
			return
		}
	}
	if s.BatchNorm != nil {
		p.BatchNorm = *s.BatchNorm
	}
	if s.BatchNormEps != nil {
		if p.BNEps = *s.BatchNormEps; !(p.BNEps > 0) {
			err = fmt.Errorf("batch_norm_eps must be positive, got %v", p.BNEps)
			return
		}
	}
	if s.Residual != nil {
		p.Residual = *s.Residual
	}
	switch ri := str(s.RoutingInput); ri {
	case "", "own":
	case "external":
		p.ExternalRouting = true
	default:
		err = fmt.Errorf("routing_input must be own or external, got %q", ri)
		return
	}
	p = p.WithDefaults()
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

// modulePrefix is the state-dict prefix of a module path: path + ".", or
// "" for the root.
func modulePrefix(path string) string {
	if path == "" {
		return ""
	}
	return path + "."
}

// loadWeights reads every tensor of p.Tensors() from f, each named
// prefix(t.Module) + t.Name and checked against its shape.
func loadWeights(f *dyrt.File, p Params, prefix func(module string) string) (Weights, error) {
	var w Weights
	for _, t := range p.Tensors() {
		v, err := f.Float32(prefix(t.Module)+t.Name, t.Shape...)
		if err != nil {
			return Weights{}, err
		}
		*w.Field(t.Field) = v
	}
	return w, nil
}

// loadRouting reads the routing coefficients a golden file stores for
// debugging, into the RoutingLen layout [N, RoutingLen] (see Golden.Routing).
func loadRouting(f *dyrt.File, p Params, n int) ([]float32, error) {
	switch p.Routing {
	case DyNet:
		return f.Float32("routing", n, p.K, p.OutC)
	case CondConv, DyCNN:
		return f.Float32("routing", n, p.K)
	case ODConv:
		filter, spatial, kernel := p.ODHeads()
		nr := p.RoutingLen()
		out := make([]float32, n*nr)
		off := 0
		for _, hd := range []struct {
			name    string
			size    int
			present bool
		}{{"routing.channel", p.InC, true}, {"routing.filter", p.OutC, filter}, {"routing.spatial", p.KH * p.KW, spatial}, {"routing.kernel", p.K, kernel}} {
			v := make([]float32, n*hd.size)
			if hd.present {
				var err error
				if v, err = f.Float32(hd.name, n, hd.size); err != nil {
					return nil, err
				}
			} else {
				if f.Has(hd.name) {
					return nil, fmt.Errorf("%s: has a tensor %q but the layer has no such head", f.Path, hd.name)
				}
				for i := range v {
					v[i] = 1
				}
			}
			for s := range n {
				copy(out[s*nr+off:], v[s*hd.size:(s+1)*hd.size])
			}
			off += hd.size
		}
		return out, nil
	}
	return nil, nil
}

// LoadGolden reads a golden case, a seed case (shared/golden) or a family
// case (shared/golden-family): the layer from the header's
// __metadata__.spec JSON and the tensors listed in the READMEs, each
// checked against the shape the spec implies. The layer's tensors are
// those of Params.Tensors, named relative to the file: the conv's at "",
// the routing's at Params.DefaultRoutingPath, the BN's at "bn.". Errors
// name the file and the problem (a missing or ill-shaped tensor, a bias or
// residual tensor that the spec says the layer lacks, a bad spec).
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
	for _, c := range []struct {
		name string
		has  bool
		key  string
	}{{"bias", p.Bias, "bias: false"}, {"residual", p.Residual, "residual: false"}} {
		if !c.has && f.Has(c.name) {
			return nil, fmt.Errorf("%s: has a tensor %q but the spec says %s", path, c.name, c.key)
		}
	}
	routingPath := p.DefaultRoutingPath()
	if g.Weights, err = loadWeights(f, p, func(m string) string {
		switch m {
		case ModRouting:
			return routingPath
		case ModBN:
			return "bn."
		}
		return ""
	}); err != nil {
		return nil, err
	}
	ho, wo := p.OutputSize(h, w)
	load := func(dst *[]float32, name string, shape ...int) {
		if err == nil {
			*dst, err = f.Float32(name, shape...)
		}
	}
	load(&g.Input, "input", n, p.InC, h, w)
	if p.Residual {
		load(&g.Residual, "residual", n, p.OutC, ho, wo)
	}
	load(&g.Output, "output", n, p.OutC, ho, wo)
	load(&g.OutputF64, "output_f64", n, p.OutC, ho, wo)
	if err != nil {
		return nil, err
	}
	if g.Routing, err = loadRouting(f, p, n); err != nil {
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
	r, err := ReferenceExtra(g.Params, g.Weights, g.Input, g.N, g.H, g.W, g.Extra())
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
	if err := Compare(got, &Result{Y: want, Bound: bound, Pi: r.Pi, Routing: r.Routing, N: r.N, Ho: r.Ho, Wo: r.Wo, C: r.C}); err != nil {
		return fmt.Errorf("%s: %v", g.Name, err)
	}
	return nil
}

// GoldenDir locates the seed golden cases: $DYGEN_GOLDEN_DIR when set; else
// <root>/../shared/golden for the first directory <root>, walking up from
// the working directory, whose go.mod declares module github.com/dygen/dygen;
// else the same path relative to this package's source directory (found
// through runtime.Caller, which works for a module that uses dygen through a
// replace directive). The bool reports whether the directory exists.
func GoldenDir() (string, bool) { return sharedDir("DYGEN_GOLDEN_DIR", "golden") }

// GoldenFamilyDir locates the family's single-layer golden cases
// (shared/golden-family) as GoldenDir does, with $DYGEN_GOLDEN_FAMILY_DIR in
// place of $DYGEN_GOLDEN_DIR.
func GoldenFamilyDir() (string, bool) { return sharedDir("DYGEN_GOLDEN_FAMILY_DIR", "golden-family") }

// GoldenBlocksDir locates the golden blocks (shared/golden-blocks) as
// GoldenDir does, with $DYGEN_GOLDEN_BLOCKS_DIR in place of
// $DYGEN_GOLDEN_DIR.
func GoldenBlocksDir() (string, bool) { return sharedDir("DYGEN_GOLDEN_BLOCKS_DIR", "golden-blocks") }

// sharedDir finds ../shared/<name> beside the module root (see GoldenDir),
// or the directory named by the environment variable env.
func sharedDir(env, name string) (string, bool) {
	if d := os.Getenv(env); d != "" {
		return d, isDir(d)
	}
	var tried string
	if wd, err := os.Getwd(); err == nil {
		if root, ok := findModuleRoot(wd); ok {
			d := filepath.Join(root, "..", "shared", name)
			if isDir(d) {
				return d, true
			}
			tried = d
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		d := filepath.Join(filepath.Dir(file), "..", "..", "shared", name)
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
