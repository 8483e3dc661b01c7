package verify

import (
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dygen/dygen/dyrt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoadGoldenFamily writes family cases of each routing and checks that
// LoadGolden reads them back, and names what is wrong with bad ones.
func TestLoadGoldenFamily(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(81, 82))
	// write stores a case of layer p under the names the family README
	// gives, with drop left out and extra tensors added.
	write := func(name string, spec map[string]any, p Params, drop string, extra ...dyrt.Tensor) string {
		t.Helper()
		const n, h, w = 2, 3, 3
		p = p.WithDefaults()
		ho, wo := p.OutputSize(h, w)
		wt := RandomWeights(p, rng)
		var ts []dyrt.Tensor
		add := func(t dyrt.Tensor) {
			if t.Name != drop {
				ts = append(ts, t)
			}
		}
		for _, tn := range p.Tensors() {
			prefix := map[string]string{ModConv: "", ModRouting: p.DefaultRoutingPath(), ModBN: "bn."}[tn.Module]
			add(dyrt.F32Tensor(prefix+tn.Name, tn.Shape, *wt.Field(tn.Field)))
		}
		out := make([]float32, n*p.OutC*ho*wo)
		add(dyrt.F32Tensor("input", []int{n, p.InC, h, w}, RandomInput(n, p.InC*h*w, rng)))
		if p.Residual {
			add(dyrt.F32Tensor("residual", []int{n, p.OutC, ho, wo}, out))
		}
		add(dyrt.F32Tensor("output", []int{n, p.OutC, ho, wo}, out))
		add(dyrt.F64Tensor("output_f64", []int{n, p.OutC, ho, wo}, make([]float64, len(out))))
		switch p.Routing {
		case DyNet:
			add(dyrt.F32Tensor("routing", []int{n, p.K, p.OutC}, make([]float32, n*p.K*p.OutC)))
		case CondConv, DyCNN:
			add(dyrt.F32Tensor("routing", []int{n, p.K}, make([]float32, n*p.K)))
		case ODConv:
			filter, spatial, kernel := p.ODHeads()
			add(dyrt.F32Tensor("routing.channel", []int{n, p.InC}, make([]float32, n*p.InC)))
			if filter {
				add(dyrt.F32Tensor("routing.filter", []int{n, p.OutC}, make([]float32, n*p.OutC)))
			}
			if spatial {
				add(dyrt.F32Tensor("routing.spatial", []int{n, p.KH * p.KW}, make([]float32, n*p.KH*p.KW)))
			}
			if kernel {
				add(dyrt.F32Tensor("routing.kernel", []int{n, p.K}, make([]float32, n*p.K)))
			}
		}
		ts = append(ts, extra...)
		base := map[string]any{"name": "T", "in_channels": p.InC, "out_channels": p.OutC, "kernel_size": []int{p.KH, p.KW},
			"stride": []int{1, 1}, "padding": []int{p.PadT, p.PadL}, "dilation": []int{1, 1}, "groups": p.Groups, "bias": p.Bias,
			"padding_mode": p.Mode, "num_experts": p.K, "batch": n, "input_size": []int{h, w}}
		for k, v := range spec {
			if v == nil {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		js, err := json.Marshal(base)
		require.NoError(t, err)
		path := filepath.Join(dir, name+".safetensors")
		require.NoError(t, dyrt.Write(path, map[string]string{"spec": string(js)}, ts))
		return path
	}
	cc := Params{InC: 4, OutC: 6, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PadT: 1, PadB: 1, PadL: 1, PadR: 1, Groups: 2, K: 3,
		Bias: true, Mode: Replicate, Routing: CondConv, BatchNorm: true, BNEps: 1e-3, Activation: ActSiLU, Residual: true}
	ccSpec := map[string]any{"routing": "condconv", "batch_norm": true, "batch_norm_eps": 1e-3, "activation": "silu", "residual": true}
	g, err := LoadGolden(write("cc", ccSpec, cc, ""))
	require.NoError(t, err)
	assert.Equal(t, cc.WithDefaults(), g.Params)
	assert.Len(t, g.Residual, 2*6*9)
	assert.Equal(t, Extra{Residual: g.Residual}, g.Extra())
	require.NoError(t, cc.CheckWeights(g.Weights))

	od := Params{InC: 4, OutC: 4, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PadT: 1, PadB: 1, PadL: 1, PadR: 1, Groups: 4, K: 2,
		Mode: Zeros, Routing: ODConv, Temperature: 4, AttnC: 3}
	odSpec := map[string]any{"routing": "odconv", "temperature": 4.0, "attention_channels": 3, "bias": false}
	g, err = LoadGolden(write("od", odSpec, od, ""))
	require.NoError(t, err)
	assert.Equal(t, od.WithDefaults(), g.Params)
	assert.Len(t, g.Routing, 2*od.RoutingLen())
	assert.Equal(t, float32(1), g.Routing[od.InC], "absent filter head") // depthwise: α_f = 1

	// External routing: the stored routing is the call's.
	ext := cc
	ext.ExternalRouting = true
	extSpec := map[string]any{"routing": "condconv", "routing_input": "external", "batch_norm": true, "batch_norm_eps": 1e-3, "activation": "silu", "residual": true}
	g, err = LoadGolden(write("ext", extSpec, ext, ""))
	require.NoError(t, err)
	assert.True(t, g.Params.ExternalRouting)
	assert.Len(t, g.Extra().Routing, 2*3)

	for _, c := range []struct {
		name string
		spec map[string]any
		p    Params
		drop string
		add  []dyrt.Tensor
		want string
	}{
		{"badrouting", map[string]any{"routing": "dynamo"}, cc, "", nil, `routing must be one of`},
		{"badact", map[string]any{"routing": "condconv", "activation": "gelu"}, cc, "", nil, `activation must be one of`},
		{"badeps", map[string]any{"routing": "condconv", "batch_norm": true, "batch_norm_eps": -1.0}, cc, "", nil, `batch_norm_eps must be positive`},
		{"badtemp", map[string]any{"routing": "odconv", "temperature": 0.0, "bias": false}, od, "", nil, `temperature must be positive`},
		{"badinput", map[string]any{"routing": "condconv", "routing_input": "shared"}, cc, "", nil, `routing_input must be own or external`},
		{"odbias", map[string]any{"routing": "odconv", "bias": true}, od, "", nil, `odconv has no conv bias`},
		{"nobn", ccSpec, cc, "bn.running_var", nil, `no tensor "bn.running_var"`},
		{"norouting", ccSpec, cc, "routing_fn.weight", nil, `no tensor "routing_fn.weight"`},
		{"noresidual", ccSpec, cc, "residual", nil, `no tensor "residual"`},
		{"extraresidual", map[string]any{"routing": "condconv", "batch_norm": true, "batch_norm_eps": 1e-3, "activation": "silu", "residual": false}, cc, "", nil,
			`has a tensor "residual" but the spec says residual: false`},
		{"nohead", odSpec, od, "routing.spatial", nil, `no tensor "routing.spatial"`},
		{"extrahead", odSpec, od, "", []dyrt.Tensor{dyrt.F32Tensor("routing.filter", []int{2, 4}, make([]float32, 8))}, `has a tensor "routing.filter" but the layer has no such head`},
		{"shape", map[string]any{"routing": "condconv", "batch_norm": true, "batch_norm_eps": 1e-3, "activation": "silu", "residual": true, "num_experts": 2}, cc, "", nil,
			`tensor "weight": shape [3 108], want [2 108]`},
	} {
		path := write(c.name, c.spec, c.p, c.drop, c.add...)
		_, err := LoadGolden(path)
		if assert.Error(t, err, c.name) {
			assert.True(t, strings.HasPrefix(err.Error(), path+": "), "%s: %v is not prefixed by the path", c.name, err)
			assert.Contains(t, err.Error(), c.want, c.name)
		}
	}
}

// TestLoadBlockErrors rewrites a golden block's metadata and tensors and
// checks that LoadBlock names the problem.
func TestLoadBlockErrors(t *testing.T) {
	var path string
	for _, f := range sharedFilesOrSkip(t, GoldenBlocksDir) {
		if strings.Contains(f, "condconv_residual") {
			path = f
		}
	}
	if path == "" {
		t.Skip("no condconv_residual block")
	}
	f, err := dyrt.Open(path)
	require.NoError(t, err)
	dir := t.TempDir()
	rewrite := func(name string, mutate func(m map[string]any), drop string) string {
		t.Helper()
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(f.Metadata["block"]), &m))
		if mutate != nil {
			mutate(m)
		}
		js, err := json.Marshal(m)
		require.NoError(t, err)
		var ts []dyrt.Tensor
		for _, n := range f.Names() {
			if n != drop {
				tn, _ := f.Tensor(n)
				ts = append(ts, *tn)
			}
		}
		p := filepath.Join(dir, name+".safetensors")
		require.NoError(t, dyrt.Write(p, map[string]string{"block": string(js)}, ts))
		return p
	}
	b, err := LoadBlock(rewrite("same", nil, ""))
	require.NoError(t, err)
	require.Len(t, b.Convs, 3)
	assert.Equal(t, "routing_fn", b.Convs[0].RoutingPath)
	assert.Equal(t, "bn2", b.Convs[1].BNPath)
	assert.True(t, b.Convs[1].Params.ExternalRouting)
	assert.Equal(t, []string{"own", "external", "external"}, []string{b.Convs[0].RoutingInput, b.Convs[1].RoutingInput, b.Convs[2].RoutingInput})
	assert.Equal(t, "block_input", b.Convs[2].Residual)
	assert.Len(t, b.Routing, 2*4)

	conv := func(i int, m map[string]any) map[string]any {
		return m["convs"].([]any)[i].(map[string]any)
	}
	spec := func(i int, m map[string]any) map[string]any { return conv(i, m)["spec"].(map[string]any) }
	for _, c := range []struct {
		name   string
		mutate func(m map[string]any)
		drop   string
		want   string
	}{
		{"nobn", nil, "bn2.running_mean", filepath.Join(dir, "nobn.safetensors") + `: conv 1 (conv_dw): no tensor "bn2.running_mean"`},
		{"badspec", func(m map[string]any) { spec(0, m)["groups"] = 7 }, "", `conv 0 (conv_pw): spec: in_channels 40 is not divisible by groups 7`},
		{"badkey", func(m map[string]any) { spec(2, m)["state_dict"].(map[string]any)["bn"] = "bn3" }, "", `state_dict has an unknown key "bn"`},
		{"residual", func(m map[string]any) { conv(2, m)["residual"] = nil }, "", `residual "" disagrees with the spec's residual: true`},
		{"badresidual", func(m map[string]any) { conv(2, m)["residual"] = "x" }, "", `residual is "x"`},
		{"noconvs", func(m map[string]any) { m["convs"] = []any{} }, "", `no convs`},
		{"shape", func(m map[string]any) { m["input"] = []int{2, 40, 14} }, "", `must be [N, C, H, W]`},
		{"input", func(m map[string]any) { m["input"] = []int{2, 40, 14, 15} }, "", `conv 0 (conv_pw) takes [2 40 14 14], the block's input is [2 40 14 15]`},
		{"norouting", nil, "routing", `no tensor "routing"`},
	} {
		p := rewrite(c.name, c.mutate, c.drop)
		_, err := LoadBlock(p)
		if assert.Error(t, err, c.name) {
			assert.Contains(t, err.Error(), c.want, c.name)
		}
	}
	// A block whose shared routing is missing fails in Reference.
	b, err = LoadBlock(rewrite("nofn", func(m map[string]any) { delete(m, "routing_fn") }, ""))
	require.NoError(t, err)
	_, err = b.Reference()
	assert.ErrorContains(t, err, "takes its routing from outside, but the block has no routing_fn")
	_, err = LoadBlock(filepath.Join(dir, "absent.safetensors"))
	assert.Error(t, err)
	_, err = LoadBlock(familyFilesOrSkip(t)[0])
	assert.ErrorContains(t, err, "no __metadata__.block")
}
