package main

import (
	"slices"
	"strings"
	"testing"
)

func TestSelectLayers(t *testing.T) {
	idx, err := selectLayers("^Conv3x3C(64|128)$")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range idx {
		got = append(got, layers[i].Name)
	}
	if want := []string{"Conv3x3C64", "Conv3x3C128"}; !slices.Equal(got, want) {
		t.Errorf("selected %v, want %v", got, want)
	}
	if idx, err := selectLayers("."); err != nil || len(idx) != len(layers) {
		t.Errorf(`selectLayers("."): %d layers, %v; want all %d`, len(idx), err, len(layers))
	}

	// A regexp that matches nothing is an error that lists the layers.
	_, err = selectLayers("Conv9x9")
	if err == nil {
		t.Fatal(`selectLayers("Conv9x9"): no error`)
	}
	for _, want := range []string{`-layers "Conv9x9" matches no layer`, "Stem7x7, Conv3x3C64", "Group1x1G3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}

	// One that does not compile.
	_, err = selectLayers("Conv(3x3")
	if err == nil || !strings.Contains(err.Error(), `-layers "Conv(3x3" is not a valid regexp`) || !strings.Contains(err.Error(), "missing closing )") {
		t.Errorf(`selectLayers("Conv(3x3"): %v`, err)
	}
}

func TestOneDNNEnv(t *testing.T) {
	base := []string{"PATH=/bin", "ONEDNN_MAX_CPU_ISA=SSE41", "DNNL_MAX_CPU_ISA=AVX", "OMP_PROC_BIND=true"}
	if got, want := onednnEnv(base, false), []string{"PATH=/bin", "OMP_PROC_BIND=true"}; !slices.Equal(got, want) {
		t.Errorf("uncapped: %v, want %v (no ISA cap from the caller's environment)", got, want)
	}
	got := onednnEnv(base, true)
	want := []string{"PATH=/bin", "OMP_PROC_BIND=true", "ONEDNN_MAX_CPU_ISA=AVX2", "DNNL_MAX_CPU_ISA=AVX2"}
	if !slices.Equal(got, want) {
		t.Errorf("capped: %v, want %v", got, want)
	}
}

func TestPeerNames(t *testing.T) {
	for _, name := range defaultPeers {
		if peerDesc[name] == "" || peerLabel[name] == "" {
			t.Errorf("peer %q has no description or label", name)
		}
		if _, ok := peerColor[name]; !ok {
			t.Errorf("peer %q has no chart colour", name)
		}
	}
	if defaultPeers[0] != "dygen" {
		t.Errorf("default peers start with %q, want dygen (the reference)", defaultPeers[0])
	}
}

// fakeResult is a configuration where each peer ran at the given GFLOP/s
// (0: failed).
func fakeResult(gf map[string]float64) *configResult {
	cr := &configResult{Layer: "Conv3x3C64", Desc: "3x3 64→64 @56", N: 1, Threads: 1, Peers: map[string]*peerResult{}}
	for name, g := range gf {
		r := &peerResult{OK: g > 0, GFLOPS: g, MedianMS: 1 / g, Info: map[string]any{"formulation": "per-sample", "impl": "jit:avx2"}}
		if g == 0 {
			r.Error = "output differs"
		}
		if strings.HasPrefix(name, "onednn-kept") {
			r.Info["mode"] = "layouts-kept"
			r.Info["src_layout"], r.Info["dst_layout"], r.Info["weights_layout"] = "aBcd8b", "aBcd8b", "ABcd8b8a"
		}
		cr.Peers[name] = r
	}
	return cr
}

func TestDygenOver(t *testing.T) {
	cr := fakeResult(map[string]float64{"dygen": 100, "dygen-avx2": 60, "onednn-kept": 80, "onednn-kept-avx2": 50, "onednn": 40, "onednn-avx2": 25, "gonum": 10})
	got := dygenOver(cr)
	want := map[string]float64{
		"best_onednn_kept": 1.25, "best_onednn_converting": 2.5, "gonum": 10, "avx2_pinned": 1.2,
		"onednn-kept": 1.25, "onednn-kept-avx2": 2, "onednn": 2.5, "onednn-avx2": 4,
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("dygenOver[%q] = %v (present %v), want %v", k, g, ok, w)
		}
	}
	// The ratio of record needs both kept builds; without them it is absent.
	cr = fakeResult(map[string]float64{"dygen": 100, "onednn-kept": 0, "onednn-kept-avx2": 50, "onednn": 40})
	got = dygenOver(cr)
	if _, ok := got["best_onednn_kept"]; ok {
		t.Errorf("best_onednn_kept with a failed kept build: %v", got)
	}
	if _, ok := got["avx2_pinned"]; ok {
		t.Errorf("avx2_pinned without dygen-avx2: %v", got)
	}
	if got["best_onednn_converting"] != 2.5 {
		t.Errorf("best_onednn_converting of one converting build: %v", got["best_onednn_converting"])
	}
	if dygenOver(fakeResult(map[string]float64{"dygen": 0, "onednn": 40})) != nil {
		t.Error("ratios without dygen's result")
	}
}

func TestMarkdownModes(t *testing.T) {
	rep := &report{
		Machine:   map[string]any{"model": "AMD EPYC"},
		PeakGF:    100,
		Rounds:    1,
		PeerOrder: []string{"dygen", "onednn-kept", "onednn-kept-avx2", "onednn", "onednn-avx2"},
		Results: []*configResult{fakeResult(map[string]float64{
			"dygen": 100, "onednn-kept": 80, "onednn-kept-avx2": 50, "onednn": 40, "onednn-avx2": 25})},
	}
	md := markdown(rep)
	for _, want := range []string{
		"| dygen | oneDNN kept | oneDNN kept (AVX2 cap) | oneDNN converting | oneDNN converting (AVX2 cap) | dygen / best oneDNN, layouts kept (of record) | dygen / best oneDNN, converting |",
		"| 1.25× | 2.50× |",
		"oneDNN kept** (the comparison of record)",
		"per-sample, jit:avx2, aBcd8b → aBcd8b, ABcd8b8a",
		"oneDNN kept 1.25×, oneDNN kept (AVX2 cap) 2.00×, oneDNN converting 2.50×, oneDNN converting (AVX2 cap) 4.00×",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}

	// A results.json from before the kept mode renders its converting
	// columns only.
	rep.PeerOrder = []string{"dygen", "onednn", "onednn-avx2"}
	rep.Results = []*configResult{fakeResult(map[string]float64{"dygen": 100, "onednn": 40, "onednn-avx2": 50})}
	md = markdown(rep)
	if strings.Contains(md, "layouts kept (of record)") || !strings.Contains(md, "| dygen / best oneDNN, converting |") || !strings.Contains(md, "| 2.00× |") {
		t.Errorf("converting-only table:\n%s", md)
	}
}
