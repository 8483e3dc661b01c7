package dyrt

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWideFMARule(t *testing.T) {
	for _, c := range []struct {
		id   CPUIdentity
		want bool
	}{
		{CPUIdentity{"AuthenticAMD", 0x19, 0x01}, false}, // Zen 3
		{CPUIdentity{"AuthenticAMD", 0x19, 0x11}, false}, // Zen 4
		{CPUIdentity{"AuthenticAMD", 0x1a, 0x02}, true},  // Zen 5
		{CPUIdentity{"GenuineIntel", 6, 0x8f}, true},     // Sapphire Rapids
		{CPUIdentity{"GenuineIntel", 6, 0x55}, true},     // Skylake-SP
		{CPUIdentity{"GenuineIntel", 6, 0x8c}, false},    // Tiger Lake (client)
		{CPUIdentity{"", 0, 0}, false},
	} {
		got, why := wideFMA(c.id)
		assert.Equal(t, c.want, got, "%+v: %s", c.id, why)
		assert.NotEmpty(t, why)
	}
}

func TestCPUIdentityAndReason(t *testing.T) {
	id := cpuIdentity()
	t.Logf("CPU %+v; AVX512=%v (%s)", id, AVX512, AVX512Reason)
	assert.NotEmpty(t, AVX512Reason)
}
