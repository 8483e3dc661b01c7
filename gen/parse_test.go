package gen

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dygen/dygen/verify"
)

// specSrc is a spec with package p and one layer whose mapping starts on
// line 3, column 5 (`  - name: C`), followed by lines (indented to the
// layer's keys), the first of them on line 4.
func specSrc(lines ...string) string {
	var b strings.Builder
	b.WriteString("package: p\nlayers:\n  - name: C\n")
	for _, l := range lines {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

// specParams returns the defaults for a 4 -> 8, 3x3 layer, changed by mod.
func specParams(mod func(*verify.Params)) verify.Params {
	p := verify.Params{InC: 4, OutC: 8, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1,
		Groups: 1, K: 3, Bias: true, Mode: verify.Zeros}
	if mod != nil {
		mod(&p)
	}
	return p
}

func TestParseSpecValid(t *testing.T) {
	std := []string{"in_channels: 4", "out_channels: 8", "kernel_size: 3"}
	with := func(extra ...string) string { return specSrc(append(append([]string{}, std...), extra...)...) }
	pads := func(t, b, l, r int) func(*verify.Params) {
		return func(p *verify.Params) { p.PadT, p.PadB, p.PadL, p.PadR = t, b, l, r }
	}
	tests := []struct {
		name   string
		src    string
		layers []Layer // package is "p" unless pkg is set
		pkg    string
	}{
		{"defaults", with(), []Layer{{Name: "C", Line: 3, Params: specParams(nil)}}, ""},
		{"pairs", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: [3, 5]", "stride: [2, 1]",
			"dilation: [1, 2]", "padding: [1, 2]"),
			[]Layer{{Name: "C", Line: 3, Params: specParams(func(p *verify.Params) {
				p.KW, p.SH, p.DW = 5, 2, 2
				p.PadT, p.PadB, p.PadL, p.PadR = 1, 1, 2, 2
			})}}, ""},
		{"ints", with("stride: 2", "dilation: 3", "padding: 4"),
			[]Layer{{Name: "C", Line: 3, Params: specParams(func(p *verify.Params) {
				p.SH, p.SW, p.DH, p.DW = 2, 2, 3, 3
				p.PadT, p.PadB, p.PadL, p.PadR = 4, 4, 4, 4
			})}}, ""},
		{"every scalar key", with("groups: 4", "bias: false", "padding_mode: reflect", "num_experts: 1", "input_size: [5, 6]"),
			[]Layer{{Name: "C", Line: 3, InputH: 5, InputW: 6, Params: specParams(func(p *verify.Params) {
				p.Groups, p.Bias, p.Mode, p.K = 4, false, verify.Reflect, 1
			})}}, ""},
		{"bias true", with("bias: true"), []Layer{{Name: "C", Line: 3, Params: specParams(nil)}}, ""},
		{"dycnn defaults", with("routing: dycnn"), []Layer{{Name: "C", Line: 3, Params: specParams(func(p *verify.Params) {
			p.Routing, p.Temperature, p.AttnC = verify.DyCNN, 1, 2
		})}}, ""},
		{"dycnn with 3 input channels", specSrc("in_channels: 3", "out_channels: 8", "kernel_size: 3", "routing: dycnn", "num_experts: 5"),
			[]Layer{{Name: "C", Line: 3, Params: specParams(func(p *verify.Params) {
				p.InC, p.K, p.Routing, p.Temperature, p.AttnC = 3, 5, verify.DyCNN, 1, 5
			})}}, ""},
		{"odconv", with("routing: odconv", "temperature: 34", "bias: false", "padding: same"),
			[]Layer{{Name: "C", Line: 3, Params: specParams(func(p *verify.Params) {
				p.Routing, p.Temperature, p.AttnC, p.Bias = verify.ODConv, 34, 16, false
				p.PadT, p.PadB, p.PadL, p.PadR = 1, 1, 1, 1
			})}}, ""},
		{"odconv bias defaults to false", with("routing: odconv", "attention_channels: 3"),
			[]Layer{{Name: "C", Line: 3, Params: specParams(func(p *verify.Params) {
				p.Routing, p.Temperature, p.AttnC, p.Bias = verify.ODConv, 1, 3, false
			})}}, ""},
		{"epilogue and state dict", with("gate: sigmoid", "batch_norm: true", "batch_norm_eps: 0.001", "activation: hardswish", "residual: true",
			"state_dict: {conv: layer1.0.conv1, batch_norm: layer1.0.bn1, routing: blocks.5.0.routing_fn}"),
			[]Layer{{Name: "C", Line: 3, StateDict: StateDict{"layer1.0.conv1", "layer1.0.bn1", "blocks.5.0.routing_fn"},
				Params: specParams(func(p *verify.Params) {
					p.Gate, p.BatchNorm, p.BNEps, p.Activation, p.Residual = verify.Sigmoid, true, 1e-3, verify.ActHardswish, true
				})}}, ""},
		{"static and external", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "routing: static", "num_experts: 1",
			"routing_input: own", "activation: relu"),
			[]Layer{{Name: "C", Line: 3, Params: specParams(func(p *verify.Params) {
				p.Routing, p.K, p.Activation = verify.Static, 1, verify.ActReLU
			})}}, ""},
		{"condconv external", with("routing: condconv", "routing_input: external", "bias: false"),
			[]Layer{{Name: "C", Line: 3, Params: specParams(func(p *verify.Params) {
				p.Routing, p.ExternalRouting, p.Bias = verify.CondConv, true, false
			})}}, ""},
		{"replicate", with("padding_mode: replicate"),
			[]Layer{{Name: "C", Line: 3, Params: specParams(func(p *verify.Params) { p.Mode = verify.Replicate })}}, ""},
		{"circular, padding equal to input", with("padding_mode: circular", "padding: 2", "input_size: [2, 2]"),
			[]Layer{{Name: "C", Line: 3, InputH: 2, InputW: 2, Params: specParams(func(p *verify.Params) {
				p.Mode = verify.Circular
				p.PadT, p.PadB, p.PadL, p.PadR = 2, 2, 2, 2
			})}}, ""},
		{"zeros explicit", with(`padding_mode: "zeros"`), []Layer{{Name: "C", Line: 3, Params: specParams(nil)}}, ""},
		{"input_size null", with("input_size: null"), []Layer{{Name: "C", Line: 3, Params: specParams(nil)}}, ""},
		{"same odd", with("padding: same"), []Layer{{Name: "C", Line: 3, Params: specParams(pads(1, 1, 1, 1))}}, ""},
		{"same even", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: [2, 4]", "padding: same"),
			[]Layer{{Name: "C", Line: 3, Params: specParams(func(p *verify.Params) {
				p.KH, p.KW = 2, 4
				p.PadT, p.PadB, p.PadL, p.PadR = 0, 1, 1, 2
			})}}, ""},
		{"same dilated", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: [4, 5]", "dilation: [2, 3]", `padding: "same"`),
			[]Layer{{Name: "C", Line: 3, Params: specParams(func(p *verify.Params) {
				p.KH, p.KW, p.DH, p.DW = 4, 5, 2, 3
				p.PadT, p.PadB, p.PadL, p.PadR = 3, 3, 6, 6
			})}}, ""},
		{"same even dilated", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: [2, 6]", "dilation: [3, 1]", "padding: 'same'"),
			[]Layer{{Name: "C", Line: 3, Params: specParams(func(p *verify.Params) {
				p.KH, p.KW, p.DH = 2, 6, 3
				p.PadT, p.PadB, p.PadL, p.PadR = 1, 2, 2, 3
			})}}, ""},
		{"same fixed reflect", with("padding: same", "padding_mode: reflect", "input_size: [2, 2]"),
			[]Layer{{Name: "C", Line: 3, InputH: 2, InputW: 2, Params: specParams(func(p *verify.Params) {
				p.Mode = verify.Reflect
				p.PadT, p.PadB, p.PadL, p.PadR = 1, 1, 1, 1
			})}}, ""},
		{"valid", with("padding: valid", "stride: 2"), []Layer{{Name: "C", Line: 3, Params: specParams(func(p *verify.Params) {
			p.SH, p.SW = 2, 2
		})}}, ""},
		{"kernel equals input", with("input_size: [3, 3]"), []Layer{{Name: "C", Line: 3, InputH: 3, InputW: 3, Params: specParams(nil)}}, ""},
		{"alias", "package: p\nlayers:\n  - {name: A, in_channels: 4, out_channels: 8, kernel_size: &k [3, 3]}\n" +
			"  - {name: B, in_channels: 4, out_channels: 8, kernel_size: *k}\n",
			[]Layer{{Name: "A", Line: 3, Params: specParams(nil)}, {Name: "B", Line: 4, Params: specParams(nil)}}, ""},
		{"several layers, lines", "# comment\npackage: net_2\n\nlayers:\n- name: A\n  in_channels: 4\n  out_channels: 8\n  kernel_size: 3\n" +
			"- name: B_2\n  in_channels: 8\n  out_channels: 4\n  kernel_size: 1\n  groups: 2\n",
			[]Layer{{Name: "A", Line: 5, Params: specParams(nil)},
				{Name: "B_2", Line: 9, Params: specParams(func(p *verify.Params) { p.InC, p.OutC, p.KH, p.KW, p.Groups = 8, 4, 1, 1, 2 })}}, "net_2"},
		{"json", `{"package": "p", "layers": [
	{"name": "C", "in_channels": 4, "out_channels": 8, "kernel_size": [3, 3], "stride": 1,
	 "padding": "same", "dilation": [1, 1], "groups": 1, "bias": true,
	 "padding_mode": "zeros", "num_experts": 3, "input_size": [8, 9]},
	{"name": "D", "in_channels": 4, "out_channels": 8, "kernel_size": 3, "input_size": null}
]}`,
			[]Layer{{Name: "C", Line: 2, InputH: 8, InputW: 9, Params: specParams(pads(1, 1, 1, 1))},
				{Name: "D", Line: 5, Params: specParams(nil)}}, ""},
		{"limits", specSrc("in_channels: 65536", "out_channels: 16", "kernel_size: 1", "num_experts: 1", "groups: 16"),
			[]Layer{{Name: "C", Line: 3, Params: specParams(func(p *verify.Params) {
				p.InC, p.OutC, p.KH, p.KW, p.K, p.Groups = 65536, 16, 1, 1, 1, 16
			})}}, ""},
		{"limits 2", specSrc("in_channels: 1", "out_channels: 1", "kernel_size: [64, 2]", "stride: 4096", "dilation: [1, 4096]",
			"padding: 4096", "num_experts: 1024", "input_size: [16384, 16384]"),
			[]Layer{{Name: "C", Line: 3, InputH: 16384, InputW: 16384, Params: specParams(func(p *verify.Params) {
				p.InC, p.OutC, p.KH, p.KW, p.K = 1, 1, 64, 2, 1024
				p.SH, p.SW, p.DH, p.DW = 4096, 4096, 1, 4096
				p.PadT, p.PadB, p.PadL, p.PadR = 4096, 4096, 4096, 4096
			})}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSpec("t.yaml", []byte(tt.src))
			if err != nil {
				t.Fatalf("ParseSpec: %v\nsource:\n%s", err, tt.src)
			}
			pkg := tt.pkg
			if pkg == "" {
				pkg = "p"
			}
			if s.Path != "t.yaml" || s.Package != pkg {
				t.Errorf("Path, Package = %q, %q; want t.yaml, %q", s.Path, s.Package, pkg)
			}
			for i := range tt.layers {
				tt.layers[i].Params = tt.layers[i].Params.WithDefaults()
			}
			if !reflect.DeepEqual(s.Layers, tt.layers) {
				t.Errorf("layers:\n got %+v\nwant %+v", s.Layers, tt.layers)
			}
			for _, l := range s.Layers {
				specCheckLayer(t, l)
			}
		})
	}
}

// specCheckLayer checks what every accepted layer must satisfy.
func specCheckLayer(t *testing.T, l Layer) {
	t.Helper()
	if err := l.Params.Check(); err != nil {
		t.Errorf("layer %s: Check: %v", l.Name, err)
	}
	if !specNameRE.MatchString(l.Name) || l.Line < 1 {
		t.Errorf("layer %q: bad name or line %d", l.Name, l.Line)
	}
	if (l.InputH > 0) != (l.InputW > 0) {
		t.Errorf("layer %s: input %dx%d", l.Name, l.InputH, l.InputW)
	}
	if l.Fixed() {
		if err := l.Params.CheckInput(l.InputH, l.InputW); err != nil {
			t.Errorf("layer %s: CheckInput(%d, %d): %v", l.Name, l.InputH, l.InputW, err)
		}
		if ho, wo := l.Params.OutputSize(l.InputH, l.InputW); ho < 1 || wo < 1 {
			t.Errorf("layer %s: output size %dx%d", l.Name, ho, wo)
		}
	}
}

func TestParseSpecTestdata(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "spec", "*"))
	if err != nil || len(files) < 2 {
		t.Fatalf("testdata specs: %v, %v", files, err)
	}
	for _, f := range files {
		s, err := LoadSpec(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if s.Path != f || len(s.Layers) == 0 {
			t.Errorf("%s: Path %q, %d layers", f, s.Path, len(s.Layers))
		}
		for _, l := range s.Layers {
			specCheckLayer(t, l)
		}
	}
	// Spot-check the every-option file's resolution.
	s, err := LoadSpec(filepath.Join("testdata", "spec", "every_option.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Layer{
		"Full": {Name: "Full", Line: 5, InputH: 17, InputW: 23, Params: verify.Params{InC: 8, OutC: 12, KH: 3, KW: 5,
			SH: 2, SW: 1, DH: 1, DW: 2, PadT: 1, PadB: 1, PadL: 2, PadR: 2, Groups: 4, K: 2, Bias: false, Mode: verify.Reflect}},
		"SameEven": {Name: "SameEven", Line: 27, InputH: 9, InputW: 9, Params: verify.Params{InC: 4, OutC: 4, KH: 4, KW: 2,
			SH: 1, SW: 1, DH: 2, DW: 1, PadT: 3, PadB: 3, PadL: 0, PadR: 1, Groups: 1, K: 3, Bias: true, Mode: verify.Circular}},
		"Depthwise": {Name: "Depthwise", Line: 46, Params: verify.Params{InC: 16, OutC: 16, KH: 7, KW: 7,
			SH: 1, SW: 1, DH: 1, DW: 1, PadT: 3, PadB: 3, PadL: 3, PadR: 3, Groups: 16, K: 1, Bias: true, Mode: verify.Zeros}},
	}
	for _, l := range s.Layers {
		w, ok := want[l.Name]
		w.Params = w.Params.WithDefaults()
		if ok && !reflect.DeepEqual(l, w) {
			t.Errorf("every_option.yaml %s:\n got %+v\nwant %+v", l.Name, l, w)
		}
	}
}

// specErrorCases are specs that ParseSpec must refuse, each with lines that
// its error must contain (file:line:col, layer, field, expected, got).
var specErrorCases = []struct {
	name string
	src  string
	want []string
}{
	// YAML syntax.
	{"yaml unclosed list", "package: p\nlayers: [\n  {name: C}\n", []string{"t.yaml:2: invalid YAML: did not find expected ',' or ']'"}},
	{"yaml first line", "package: p: q\n", []string{"t.yaml:1: invalid YAML: mapping values are not allowed in this context"}},
	{"yaml bad indent", specSrc("in_channels: 4", "  - out_channels: 8"), []string{"t.yaml:5: invalid YAML: mapping values are not allowed in this context"}},
	{"yaml tab", "package: p\nlayers:\n\t- name: C\n", []string{"t.yaml:3: invalid YAML: found character that cannot start any token"}},
	{"yaml bad utf8", "package: p\nlayers:\n  - na\xffme: C\n", []string{"t.yaml:3:7: invalid YAML: invalid leading UTF-8 octet"}},
	{"yaml control char", "package: p\nlayers: \x01\n", []string{"t.yaml:2:9: invalid YAML: control characters are not allowed"}},
	{"yaml unknown anchor", specSrc("in_channels: *x"), []string{"t.yaml:4:18: invalid YAML: unknown anchor 'x' referenced"}},
	{"two documents", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3") + "---\npackage: q\n",
		[]string{"t.yaml:7:1: expected a single YAML document, got a second one"}},

	// Top level.
	{"empty file", "", []string{`t.yaml:1:1: expected a mapping with fields "package" and "layers", got an empty document`}},
	{"comments only", "# nothing\n", []string{`t.yaml:1:1: expected a mapping with fields "package" and "layers", got an empty document`}},
	{"top-level list", "- a\n- b\n", []string{`t.yaml:1:1: expected a mapping with fields "package" and "layers", got ["a", "b"] (2 elements)`}},
	{"top-level scalar", "42\n", []string{`t.yaml:1:1: expected a mapping with fields "package" and "layers", got 42`}},
	{"unknown top key", "package: p\nlayer:\n  - name: C\n", []string{
		`t.yaml:2:1: field "layer": unknown field, did you mean "layers"?`,
		`t.yaml:1:1: field "layers": expected a non-empty list of layers, got nothing (the field is required)`}},
	{"unknown top key, no suggestion", "package: p\nversion: 2\nlayers: []\n", []string{
		`t.yaml:2:1: field "version": unknown field, expected one of package, layers`}},
	{"missing package", "layers:\n  - {name: C, in_channels: 4, out_channels: 8, kernel_size: 3}\n", []string{
		`t.yaml:1:1: field "package": expected a Go package name (a lower-case identifier that is not a Go keyword), got nothing (the field is required)`}},
	{"package upper-case", "package: Net\nlayers: [{name: C, in_channels: 4, out_channels: 8, kernel_size: 3}]\n", []string{
		`t.yaml:1:10: field "package": expected a Go package name (a lower-case identifier that is not a Go keyword), got "Net"`}},
	{"package keyword", "package: func\nlayers: [{name: C, in_channels: 4, out_channels: 8, kernel_size: 3}]\n", []string{
		`t.yaml:1:10: field "package": expected a Go package name`, `got "func"`}},
	{"package int", "package: 3\nlayers: [{name: C, in_channels: 4, out_channels: 8, kernel_size: 3}]\n", []string{
		`t.yaml:1:10: field "package": expected a Go package name`, `got 3`}},
	{"duplicate top key", "package: p\npackage: q\nlayers: [{name: C, in_channels: 4, out_channels: 8, kernel_size: 3}]\n", []string{
		`t.yaml:2:1: field "package": expected each field once, got it again (first at line 1)`}},
	{"empty layers", "package: p\nlayers: []\n", []string{`t.yaml:2:9: field "layers": expected a non-empty list of layers, got an empty list`}},
	{"null layers", "package: p\nlayers:\n", []string{`t.yaml:2:8: field "layers": expected a non-empty list of layers, got null`}},
	{"layers mapping", "package: p\nlayers:\n  name: C\n", []string{`t.yaml:3:3: field "layers": expected a non-empty list of layers, got a mapping`}},
	{"layer not a mapping", "package: p\nlayers:\n  - 3\n", []string{`t.yaml:3:5: layer #1: expected a mapping of layer fields, got 3`}},

	// Unknown and duplicate keys.
	{"typo", specSrc("in_channels: 4", "out_channels: 8", "kernal_size: 3"), []string{
		`t.yaml:6:5: layer "C": field "kernal_size": unknown field, did you mean "kernel_size"?`,
		`t.yaml:3:5: layer "C": field "kernel_size": expected a positive int or [KH, KW] (each at most 64), got nothing (the field is required)`}},
	{"camel case", specSrc("inChannels: 4", "out_channels: 8", "kernel_size: 3"), []string{
		`t.yaml:4:5: layer "C": field "inChannels": unknown field, did you mean "in_channels"?`}},
	{"reference module name", specSrc("in_planes: 4", "out_channels: 8", "kernel_size: 3", "K: 4"), []string{
		`t.yaml:4:5: layer "C": field "in_planes": unknown field, did you mean "in_channels"?`,
		`t.yaml:7:5: layer "C": field "K": unknown field, did you mean "num_experts"?`}},
	{"unknown key", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "dropout: 0.1"), []string{
		`t.yaml:7:5: layer "C": field "dropout": unknown field, expected one of name, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, num_experts, input_size, routing, gate, temperature, attention_channels, batch_norm, batch_norm_eps, activation, residual, routing_input, state_dict`}},
	{"temperature outside dycnn and odconv", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "temperature: 30"), []string{
		`t.yaml:7:5: layer "C": field "temperature": expected only with routing: dycnn or odconv, got 30`}},
	{"gate outside dynet", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "routing: condconv", "gate: sigmoid"), []string{
		`t.yaml:8:5: layer "C": field "gate": expected only with routing: dynet (the other routings have their own gates), got "sigmoid"`}},
	{"bad routing", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "routing: condcov"), []string{
		`t.yaml:7:14: layer "C": field "routing": expected one of dynet, condconv, dycnn, odconv, static, got "condcov"; did you mean "condconv"?`}},
	{"bad gate and activation", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "gate: max", "activation: gelu"), []string{
		`t.yaml:7:11: layer "C": field "gate": expected one of softmax, sigmoid, got "max"`,
		`t.yaml:8:17: layer "C": field "activation": expected one of none, relu, relu6, hardswish, silu, sigmoid, got "gelu"`}},
	{"odconv refusals", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: [3, 1]", "routing: odconv", "padding_mode: reflect", "bias: true", "stride: [1, 2]"), []string{
		`t.yaml:6:18: layer "C": field "kernel_size": expected a square kernel_size with routing: odconv (the reference takes an int), got [3, 1]`,
		`t.yaml:8:19: layer "C": field "padding_mode": expected zeros with routing: odconv (its channel attention scales the input before the zero padding), got reflect`,
		`t.yaml:9:11: layer "C": field "bias": expected false with routing: odconv (ODConv2d has no conv bias), got true`,
		`t.yaml:10:13: layer "C": field "stride": expected a square stride with routing: odconv (the reference takes an int), got [1, 2]`}},
	{"dycnn padding", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "routing: dycnn", "padding: [1, 2]", "temperature: 0"), []string{
		`t.yaml:8:14: layer "C": field "padding": expected the same padding on every side with routing: dycnn (the reference takes an int), got (t1, b1, l2, r2)`,
		`t.yaml:9:18: layer "C": field "temperature": expected a positive number (1 for a converged checkpoint), got 0`}},
	{"bn eps without bn", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "batch_norm_eps: 0.001", "residual: yes please"), []string{
		`t.yaml:7:5: layer "C": field "batch_norm_eps": expected only with batch_norm: true, got 0.001`,
		`t.yaml:8:15: layer "C": field "residual": expected true or false, got "yes please"`}},
	{"static refusals", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "routing: static", "num_experts: 4", "routing_input: external"), []string{
		`t.yaml:8:18: layer "C": field "num_experts": expected 1 (a static layer has one kernel), got 4`,
		`t.yaml:9:20: layer "C": field "routing_input": expected own (a static layer has no routing), got external`}},
	{"state_dict", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "routing_input: external",
		"state_dict: {conv: layer1.0.conv1., batch_norm: bn1, routing: r, bias: b}"), []string{
		`layer "C": field "state_dict.conv": expected a module path such as layer1.0.conv1 (names and indices joined by dots, no trailing dot), got "layer1.0.conv1."`,
		`layer "C": field "state_dict.batch_norm": expected only with batch_norm: true, got "bn1"`,
		`layer "C": field "state_dict.routing": expected only for a layer with its own routing (not static, not routing_input: external), got "r"`,
		`layer "C": field "bias": unknown field, expected one of conv, batch_norm, routing`}},
	{"merge key", "package: p\nlayers:\n  - &a {name: A, in_channels: 4, out_channels: 8, kernel_size: 3}\n  - {<<: *a, name: B}\n", []string{
		`t.yaml:4:6: layer "B": field "<<": YAML merge keys are not supported; write the fields out`}},
	{"non-scalar key", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "? [a, b]", ": 1"), []string{
		`t.yaml:7:7: layer "C": expected a field name, got ["a", "b"] (2 elements) as a key`}},
	{"duplicate key", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "stride: 1", "stride: 2"), []string{
		`t.yaml:8:5: layer "C": field "stride": expected each field once, got it again (first at line 7)`}},

	// Names.
	{"missing name", "package: p\nlayers:\n  - in_channels: 4\n    out_channels: 8\n    kernel_size: 3\n", []string{
		`t.yaml:3:5: layer #1: field "name": expected an exported Go identifier (an upper-case letter, then letters, digits or _), got nothing (the field is required)`}},
	{"lower-case name", "package: p\nlayers:\n  - name: conv1\n    in_channels: 4\n    out_channels: 8\n    kernel_size: 3\n", []string{
		`t.yaml:3:11: layer #1: field "name": expected an exported Go identifier (an upper-case letter, then letters, digits or _), got "conv1"`}},
	{"name not identifier", "package: p\nlayers:\n  - {name: C, in_channels: 4, out_channels: 8, kernel_size: 3}\n  - {name: Conv-1, in_channels: 4, out_channels: 8, kernel_size: 3}\n", []string{
		`t.yaml:4:12: layer #2: field "name": expected an exported Go identifier`, `got "Conv-1"`}},
	{"name int", "package: p\nlayers:\n  - {name: 12, in_channels: 4, out_channels: 8, stride: x, kernel_size: 3}\n", []string{
		`t.yaml:3:12: layer #1: field "name": expected an exported Go identifier`, `got 12`,
		`t.yaml:3:57: layer #1: field "stride": expected a positive int or [H, W] (each at most 4096), got "x"`}},
	{"duplicate name by alias", "package: p\nlayers:\n  - &a {name: C, in_channels: 4, out_channels: 8, kernel_size: 3}\n  - *a\n", []string{
		`t.yaml:4:5: layer "C": field "name": expected a unique layer name, got "C" again (first used at line 3)`}},
	{"parser error line", "package: p\nlayers:\n  - name: C\n    in_channels: 4\n   out_channels: 8\n", []string{
		`t.yaml:3: invalid YAML: did not find expected '-' indicator`}},
	{"parser error line 2", specSrc("in_channels: [1,", "out_channels: 8"), []string{
		`t.yaml:4: invalid YAML: did not find expected ',' or ']'`}},
	{"duplicate name", "package: p\nlayers:\n  - {name: C, in_channels: 4, out_channels: 8, kernel_size: 3}\n  - {name: D, in_channels: 4, out_channels: 8, kernel_size: 3}\n  - {name: C, in_channels: 4, out_channels: 8, kernel_size: 3}\n", []string{
		`t.yaml:5:12: layer "C": field "name": expected a unique layer name, got "C" again (first used at line 3)`}},

	// Types.
	{"string for stride", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "stride: abc"), []string{
		`t.yaml:7:13: layer "C": field "stride": expected a positive int or [H, W] (each at most 4096), got "abc"`}},
	{"quoted int", specSrc(`in_channels: "4"`, "out_channels: 8", "kernel_size: 3"), []string{
		`t.yaml:4:18: layer "C": field "in_channels": expected a positive int (at most 65536), got "4"`}},
	{"float kernel", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3.5"), []string{
		`t.yaml:6:18: layer "C": field "kernel_size": expected a positive int or [KH, KW] (each at most 64), got 3.5`}},
	{"float integral", specSrc("in_channels: 4.0", "out_channels: 8", "kernel_size: 3"), []string{
		`t.yaml:4:18: layer "C": field "in_channels": expected a positive int (at most 65536), got 4.0`}},
	{"bool for int", specSrc("in_channels: true", "out_channels: 8", "kernel_size: 3"), []string{
		`t.yaml:4:18: layer "C": field "in_channels": expected a positive int (at most 65536), got true`}},
	{"null for int", specSrc("in_channels:", "out_channels: 8", "kernel_size: 3"), []string{
		`t.yaml:4:17: layer "C": field "in_channels": expected a positive int (at most 65536), got null`}},
	{"octal-looking int", specSrc("in_channels: 010", "out_channels: 8", "kernel_size: 3"), []string{
		`t.yaml:4:18: layer "C": field "in_channels": expected a positive int (at most 65536), got 010`}},
	{"huge int", specSrc("in_channels: 99999999999999999999", "out_channels: 8", "kernel_size: 3"), []string{
		`t.yaml:4:18: layer "C": field "in_channels": expected a positive int (at most 65536), got 99999999999999999999`}},
	{"list too long", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "stride: [1, 2, 3]"), []string{
		`t.yaml:7:13: layer "C": field "stride": expected a positive int or [H, W] (each at most 4096), got [1, 2, 3] (3 elements)`}},
	{"list too short", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: [3]"), []string{
		`t.yaml:6:18: layer "C": field "kernel_size": expected a positive int or [KH, KW] (each at most 64), got [3] (1 element)`}},
	{"empty list", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: []"), []string{
		`t.yaml:6:18: layer "C": field "kernel_size": expected a positive int or [KH, KW] (each at most 64), got an empty list`}},
	{"mapping for int", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: {h: 3}"), []string{
		`t.yaml:6:18: layer "C": field "kernel_size": expected a positive int or [KH, KW] (each at most 64), got a mapping`}},
	{"bad list element", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", `padding: [1, "a"]`), []string{
		`t.yaml:7:18: layer "C": field "padding": expected a non-negative int or [PH, PW] (each at most 4096), "same" or "valid", got "a" as PW`}},
	{"nested list", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: [[3], 3]"), []string{
		`t.yaml:6:19: layer "C": field "kernel_size": expected a positive int or [KH, KW] (each at most 64), got [3] (1 element) as KH`}},
	{"padding string", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "padding: full"), []string{
		`t.yaml:7:14: layer "C": field "padding": expected a non-negative int or [PH, PW] (each at most 4096), "same" or "valid", got "full"`}},
	{"padding case", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "padding: SAME"), []string{
		`t.yaml:7:14: layer "C": field "padding": expected a non-negative int or [PH, PW] (each at most 4096), "same" or "valid", got "SAME"; did you mean "same"?`}},
	{"bias string", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "bias: yes"), []string{
		`t.yaml:7:11: layer "C": field "bias": expected true or false, got "yes"`}},
	{"bias int", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "bias: 1"), []string{
		`t.yaml:7:11: layer "C": field "bias": expected true or false, got 1`}},
	{"padding mode", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "padding_mode: mirror"), []string{
		`t.yaml:7:19: layer "C": field "padding_mode": expected one of zeros, reflect, replicate or circular, got "mirror"`}},
	{"padding mode typo", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "padding_mode: Reflect"), []string{
		`t.yaml:7:19: layer "C": field "padding_mode": expected one of zeros, reflect, replicate or circular, got "Reflect"; did you mean "reflect"?`}},
	{"padding mode int", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "padding_mode: 0"), []string{
		`t.yaml:7:19: layer "C": field "padding_mode": expected one of zeros, reflect, replicate or circular, got 0`}},
	{"input_size int", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "input_size: 32"), []string{
		`t.yaml:7:17: layer "C": field "input_size": expected [H, W] of positive ints (each at most 16384), got 32`}},
	{"custom tag", specSrc("in_channels: !big 4", "out_channels: 8", "kernel_size: 3"), []string{
		`t.yaml:4:18: layer "C": field "in_channels": expected a positive int (at most 65536), got !big "4"`}},

	// Missing required keys.
	{"missing channels", specSrc("kernel_size: 3"), []string{
		`t.yaml:3:5: layer "C": field "in_channels": expected a positive int (at most 65536), got nothing (the field is required)`,
		`t.yaml:3:5: layer "C": field "out_channels": expected a positive int (at most 65536), got nothing (the field is required)`}},
	{"missing kernel", specSrc("in_channels: 4", "out_channels: 8"), []string{
		`t.yaml:3:5: layer "C": field "kernel_size": expected a positive int or [KH, KW] (each at most 64), got nothing (the field is required)`}},

	// Sizes.
	{"zero channels", specSrc("in_channels: 0", "out_channels: 8", "kernel_size: 3"), []string{
		`t.yaml:4:18: layer "C": field "in_channels": expected a positive int (at most 65536), got 0`}},
	{"zero kernel", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 0"), []string{
		`t.yaml:6:18: layer "C": field "kernel_size": expected a positive int or [KH, KW] (each at most 64), got 0`}},
	{"negative stride", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "stride: -1"), []string{
		`t.yaml:7:13: layer "C": field "stride": expected a positive int or [H, W] (each at most 4096), got -1`}},
	{"zero dilation element", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "dilation: [1, 0]"), []string{
		`t.yaml:7:19: layer "C": field "dilation": expected a positive int or [H, W] (each at most 4096), got 0 as W`}},
	{"negative padding", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "padding: -1"), []string{
		`t.yaml:7:14: layer "C": field "padding": expected a non-negative int or [PH, PW] (each at most 4096), "same" or "valid", got -1`}},
	{"zero experts", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "num_experts: 0"), []string{
		`t.yaml:7:18: layer "C": field "num_experts": expected a positive int (at most 1024), got 0`}},
	{"zero groups", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "groups: 0"), []string{
		`t.yaml:7:13: layer "C": field "groups": expected a positive int (at most 65536), got 0`}},
	{"zero input", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "input_size: [0, 4]"), []string{
		`t.yaml:7:18: layer "C": field "input_size": expected [H, W] of positive ints (each at most 16384), got 0 as H`}},

	// Limits.
	{"channels limit", specSrc("in_channels: 65537", "out_channels: 8", "kernel_size: 3"), []string{
		`t.yaml:4:18: layer "C": field "in_channels": expected a positive int (at most 65536), got 65537`}},
	{"kernel limit", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: [3, 65]"), []string{
		`t.yaml:6:22: layer "C": field "kernel_size": expected a positive int or [KH, KW] (each at most 64), got 65 as KW`}},
	{"stride limit", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "stride: 4097"), []string{
		`t.yaml:7:13: layer "C": field "stride": expected a positive int or [H, W] (each at most 4096), got 4097`}},
	{"padding limit", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "padding: [5000, 1]"), []string{
		`t.yaml:7:15: layer "C": field "padding": expected a non-negative int or [PH, PW] (each at most 4096), "same" or "valid", got 5000 as PH`}},
	{"experts limit", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "num_experts: 1025"), []string{
		`t.yaml:7:18: layer "C": field "num_experts": expected a positive int (at most 1024), got 1025`}},
	{"input limit", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "input_size: [16385, 4]"), []string{
		`t.yaml:7:18: layer "C": field "input_size": expected [H, W] of positive ints (each at most 16384), got 16385 as H`}},
	{"weights limit", specSrc("in_channels: 65536", "out_channels: 65536", "kernel_size: 64", "num_experts: 1024"), []string{
		`t.yaml:3:5: layer "C": expected at most 1073741824 elements in the expert weights [num_experts, out_channels, in_channels/groups, KH, KW] and the FC weights [num_experts·out_channels, in_channels], got 18014398509481984 and 4398046511104`}},
	{"same limit", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 64", "dilation: 200", "padding: same"), []string{
		`t.yaml:8:14: layer "C": field "padding": expected padding of at most 4096 per side, got "same" resolving to (t6300, b6300, l6300, r6300)`}},

	// Cross-field checks.
	{"groups in", specSrc("in_channels: 4", "out_channels: 6", "kernel_size: 3", "groups: 3"), []string{
		`t.yaml:7:13: layer "C": field "groups": expected a positive int dividing in_channels (4) and out_channels (6), got 3: in_channels 4 is not divisible by groups 3`}},
	{"groups out", specSrc("in_channels: 6", "out_channels: 8", "kernel_size: 3", "groups: 3"), []string{
		`t.yaml:7:13: layer "C": field "groups": expected a positive int dividing in_channels (6) and out_channels (8), got 3: out_channels 8 is not divisible by groups 3`}},
	{"same strided", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "stride: [1, 2]", "padding: same"), []string{
		`t.yaml:8:14: layer "C": field "padding": expected "same" only with stride 1 (as PyTorch), got "same" with stride [1, 2]`}},
	{"input smaller than kernel", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: [3, 5]", "input_size: [4, 4]"), []string{
		`t.yaml:7:17: layer "C": field "input_size": expected an input at least as large as the dilated kernel after padding, got [4, 4] with padding (t0, b0, l0, r0): padded input 4x4 is smaller than the dilated kernel 3x5`}},
	{"input smaller than dilated kernel", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "dilation: 2", "padding: 1", "input_size: [2, 2]"), []string{
		`t.yaml:9:17: layer "C": field "input_size": expected an input at least as large as the dilated kernel after padding, got [2, 2] with padding (t1, b1, l1, r1): padded input 4x4 is smaller than the dilated kernel 5x5`}},
	{"reflect padding too large", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "padding: [1, 2]", "padding_mode: reflect", "input_size: [8, 2]"), []string{
		`t.yaml:7:14: layer "C": field "padding": expected padding smaller than the input size [8, 2] with padding_mode reflect, got (t1, b1, l2, r2): reflect padding (2, 2) must be smaller than the input width 2`}},
	{"reflect same too large", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 5", "padding: same", "padding_mode: reflect", "input_size: [2, 9]"), []string{
		`t.yaml:7:14: layer "C": field "padding": expected padding smaller than the input size [2, 9] with padding_mode reflect, got (t2, b2, l2, r2): reflect padding (2, 2) must be smaller than the input height 2`}},
	{"circular padding too large", specSrc("in_channels: 4", "out_channels: 8", "kernel_size: 3", "padding: 3", "padding_mode: circular", "input_size: [2, 2]"), []string{
		`t.yaml:7:14: layer "C": field "padding": expected padding at most the input size [2, 2] with padding_mode circular, got (t3, b3, l3, r3): circular padding (3, 3) must not exceed the input height 2`}},
}

func TestParseSpecErrors(t *testing.T) {
	for _, tt := range specErrorCases {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSpec("t.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("ParseSpec accepted:\n%s\ngot %+v", tt.src, s)
			}
			if s != nil {
				t.Errorf("ParseSpec returned a spec with an error")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", msg, w)
				}
			}
			for _, line := range strings.Split(msg, "\n") {
				if !strings.HasPrefix(line, "t.yaml:") {
					t.Errorf("error line %q does not start with the file and line", line)
				}
			}
			var se *SpecError
			if !errors.As(err, &se) || se.Path != "t.yaml" || se.Line < 1 {
				t.Errorf("errors.As(*SpecError) = %+v", se)
			}
		})
	}
}

// TestParseSpecCollects checks that the errors of every layer come back
// together, one per line, in file order, and that a layer is named by its
// number when its name is unusable.
func TestParseSpecCollects(t *testing.T) {
	src := `package: p
layers:
  - name: A
    in_channels: 4
    out_channels: 8
    kernel_size: 3
    stride: abc
  - name: b
    in_channels: -4
    out_channels: 8
    kernel_size: 3
  - name: A
    in_channels: 4
    out_channels: 8
    kernel_size: 3
    padding_mode: mirror
`
	_, err := ParseSpec("net.yaml", []byte(src))
	if err == nil {
		t.Fatal("accepted")
	}
	want := []string{
		`net.yaml:7:13: layer "A": field "stride": expected a positive int or [H, W] (each at most 4096), got "abc"`,
		`net.yaml:8:11: layer #2: field "name": expected an exported Go identifier (an upper-case letter, then letters, digits or _), got "b"`,
		`net.yaml:9:18: layer #2: field "in_channels": expected a positive int (at most 65536), got -4`,
		`net.yaml:12:11: layer "A": field "name": expected a unique layer name, got "A" again (first used at line 3)`,
		`net.yaml:16:19: layer "A": field "padding_mode": expected one of zeros, reflect, replicate or circular, got "mirror"`,
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A syntax error stops the parse: no other error is reported.
	_, err = ParseSpec("net.yaml", []byte(src+"  - [\n"))
	if err == nil || strings.Count(err.Error(), "\n") != 0 || !strings.Contains(err.Error(), "invalid YAML") {
		t.Errorf("syntax error: %v", err)
	}

	// Many errors are capped.
	var b strings.Builder
	b.WriteString("package: p\nlayers:\n")
	for range 150 {
		b.WriteString("  - {name: x}\n")
	}
	_, err = ParseSpec("net.yaml", []byte(b.String()))
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != specMaxErrors+1 || !strings.HasPrefix(lines[specMaxErrors], "net.yaml: too many errors") {
		t.Errorf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestSpecSuggest(t *testing.T) {
	for _, tt := range []struct{ key, want string }{
		{"kernal_size", "kernel_size"}, {"kernel", "kernel_size"}, {"KernelSize", "kernel_size"},
		{"kernel-size", "kernel_size"}, {"stides", "stride"}, {"dilations", "dilation"},
		{"in_planes", "in_channels"}, {"out_planes", "out_channels"}, {"K", "num_experts"},
		{"experts", "num_experts"}, {"num_expert", "num_experts"}, {"group", "groups"},
		{"pad", "padding"}, {"padding_mod", "padding_mode"}, {"input", "input_size"},
		{"nmae", "name"}, {"biases", "bias"},
		{"channels", ""}, {"tempo", ""}, {"x", ""},
		{"temp", "temperature"}, {"bn", "batch_norm"}, {"act", "activation"}, {"eps", "batch_norm_eps"}, {"", ""},
	} {
		if got := specSuggest(tt.key, specLayerKeys); got != tt.want {
			t.Errorf("specSuggest(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// FuzzParseSpec checks that ParseSpec never panics, that every error line
// names the file, and that whatever it accepts is a valid layer: Params pass
// Check and, for fixed sizes, CheckInput, with a positive output size.
func FuzzParseSpec(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "spec", "*"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tt := range specErrorCases {
		f.Add([]byte(tt.src))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSpec("f.yaml", data)
		if err != nil {
			if s != nil {
				t.Fatal("spec and error")
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.yaml:") {
					t.Fatalf("error line %q does not start with the file name", line)
				}
			}
			return
		}
		if !specPackageRE.MatchString(s.Package) || specGoKeywords[s.Package] || len(s.Layers) == 0 {
			t.Fatalf("package %q, %d layers", s.Package, len(s.Layers))
		}
		names := map[string]bool{}
		for _, l := range s.Layers {
			if names[l.Name] {
				t.Fatalf("duplicate name %q", l.Name)
			}
			names[l.Name] = true
			p := l.Params
			if err := p.Check(); err != nil {
				t.Fatalf("layer %s: %v: Check: %v", l.Name, p, err)
			}
			if p.InC > specMaxChannels || p.OutC > specMaxChannels || p.KH > specMaxKernel || p.KW > specMaxKernel ||
				max(p.SH, p.SW, p.DH, p.DW, p.PadT, p.PadB, p.PadL, p.PadR) > specMaxStep || p.K > specMaxExperts ||
				l.InputH > specMaxInput || l.InputW > specMaxInput || p.WeightLen() > specMaxWeights || p.FCWeightLen() > specMaxWeights {
				t.Fatalf("layer %s: %v, input %dx%d: over a limit", l.Name, p, l.InputH, l.InputW)
			}
			if l.InputH < 0 || l.InputW < 0 || (l.InputH == 0) != (l.InputW == 0) {
				t.Fatalf("layer %s: input %dx%d", l.Name, l.InputH, l.InputW)
			}
			if l.Fixed() {
				if err := p.CheckInput(l.InputH, l.InputW); err != nil {
					t.Fatalf("layer %s: %v: CheckInput(%d, %d): %v", l.Name, p, l.InputH, l.InputW, err)
				}
				if ho, wo := p.OutputSize(l.InputH, l.InputW); ho < 1 || wo < 1 {
					t.Fatalf("layer %s: %v: output %dx%d", l.Name, p, ho, wo)
				}
			}
		}
	})
}
