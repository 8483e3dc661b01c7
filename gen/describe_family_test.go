package gen

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDescribeFamily checks that dygen plan says how each variant routes
// and what its epilogue does, and where.
func TestDescribeFamily(t *testing.T) {
	spec := `package: p
layers:
  - {name: Dy, in_channels: 8, out_channels: 16, kernel_size: 3, padding: 1, num_experts: 4, gate: sigmoid, input_size: [8, 8]}
  - {name: Cond, routing: condconv, in_channels: 8, out_channels: 16, kernel_size: 1, num_experts: 3, batch_norm: true, activation: silu, bias: false}
  - {name: Ext, routing: condconv, routing_input: external, in_channels: 16, out_channels: 16, kernel_size: 3, padding: 1, groups: 16, num_experts: 3, residual: true}
  - {name: Cnn, routing: dycnn, in_channels: 8, out_channels: 8, kernel_size: 3, padding: 1, num_experts: 4, temperature: 34, attention_channels: 3, activation: relu6}
  - {name: Od, routing: odconv, in_channels: 8, out_channels: 8, kernel_size: 3, padding: 1, num_experts: 2, bias: false, batch_norm: true, residual: true, activation: relu}
  - {name: Plain, routing: static, in_channels: 8, out_channels: 8, kernel_size: 3, padding: 1}
`
	s, err := ParseSpec("family.yaml", []byte(spec))
	require.NoError(t, err)
	want := map[string][]string{
		"Dy": {"routing: mean pool of the 8 input channels, FC 8→64, sigmoid per expert and output channel → 64 floats per sample",
			"epilogue: none"},
		"Cond": {"routing_fn 8→3, sigmoid (one weight per expert) → 3 floats per sample",
			"epilogue: BatchNorm (eps 1e-05) folded into the experts and the bias at load, then silu; the activation is applied as the kernels store their outputs"},
		"Ext": {"routing: external (routing_input: external): ForwardRouted reads 3 floats per sample",
			"epilogue: + residual; the residual is added as the kernels store their outputs"},
		"Cnn": {"fc1 8→3, ReLU, fc2 →4, softmax(z/T) with T = 34 → 4 floats per sample",
			"epilogue: relu6;"},
		"Od": {"fc 8→16, BN, ReLU, heads channel σ [8], filter σ [8], spatial σ [9], kernel softmax [2], all over T = 1 → 27 floats per sample",
			"epilogue: ODConv's attentions folded into each sample's fused kernel (α_w·α_f per expert and output channel, α_c·α_s per tap), then BatchNorm (eps 1e-05) folded into the experts and the bias at load, then + residual, then relu; the residual and the activation are applied"},
		"Plain": {"routing: none (static conv: the weights are fused once, at load)", "epilogue: none"},
	}
	require.Len(t, s.Layers, len(want))
	for _, l := range s.Layers {
		pl, err := NewPlan(l)
		require.NoError(t, err, l.Name)
		d := pl.Describe()
		for _, w := range want[l.Name] {
			assert.Contains(t, d, w, "layer %s", l.Name)
		}
		assert.Equal(t, 1, strings.Count(d, "  routing:"), "layer %s: one routing line", l.Name)
	}
}
