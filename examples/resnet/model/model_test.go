package model

import (
	"path/filepath"
	"testing"

	"github.com/dygen/dygen/dyrt"
	"github.com/dygen/dygen/gen"
)

// TestLayersMatchSpec checks that Layers describes ../layers.yaml.
func TestLayersMatchSpec(t *testing.T) {
	s, err := gen.LoadSpec(filepath.Join("..", "layers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Layers) != len(Layers) {
		t.Fatalf("the spec has %d layers, Layers %d", len(s.Layers), len(Layers))
	}
	for i, sl := range s.Layers {
		l := Layers[i]
		if l.Name != sl.Name || l.Params.WithDefaults() != sl.Params.WithDefaults() || l.InputH != sl.InputH || l.InputW != sl.InputW {
			t.Errorf("layer %d: Layers has %s %v %dx%d, the spec %s %v %dx%d",
				i, l.Name, l.Params, l.InputH, l.InputW, sl.Name, sl.Params, sl.InputH, sl.InputW)
		}
	}
}

// TestWriteDemo checks that the demo file holds every tensor with
// PyTorch's shapes, and that the same seed gives the same weights.
func TestWriteDemo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.safetensors")
	if err := WriteDemo(path, 3); err != nil {
		t.Fatal(err)
	}
	f, err := dyrt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range Layers {
		p := l.Params
		shapes := map[string][]int{
			WeightName:   {p.K, p.OutC, p.InC / p.Groups, p.KH, p.KW},
			FCWeightName: {p.K * p.OutC, p.InC},
			FCBiasName:   {p.K * p.OutC},
		}
		if p.Bias {
			shapes[BiasName] = []int{p.OutC}
		} else if f.Has(l.Prefix + BiasName) {
			t.Errorf("%s has a bias, but the layer has none", l.Prefix)
		}
		for name, shape := range shapes {
			if _, err := f.Float32(l.Prefix+name, shape...); err != nil {
				t.Errorf("%s%s: %v", l.Prefix, name, err)
			}
		}
	}
	a, b := DemoTensors(3), DemoTensors(3)
	if len(a) != len(b) || string(a[0].Data) != string(b[0].Data) {
		t.Errorf("DemoTensors is not deterministic")
	}
	if c := DemoTensors(4); string(a[0].Data) == string(c[0].Data) {
		t.Errorf("DemoTensors ignores the seed")
	}
}
