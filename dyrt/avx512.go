package dyrt

import (
	"fmt"
	"os"
)

// AVX512 reports whether dygen's generated layers run their AVX-512
// micro-kernels on this CPU rather than the AVX2 ones (the layers check
// AVX-512F themselves, through golang.org/x/sys/cpu, so
// GODEBUG=cpu.avx512f=off turns them off whatever this says).
//
// Having AVX-512 is not enough: a core whose 512-bit FMA is double-pumped
// (AMD Zen 4) or has one 512-bit FMA port (Intel client cores) has the same
// FLOPs per cycle in AVX2, and there oneDNN's AVX-512 build was slower than
// its AVX2 build on dygen's suite. So AVX512 is true only on cores with two
// full-width 512-bit FMA pipes: AMD from family 1Ah (Zen 5) on, and Intel's
// server cores (Skylake-SP, Cascade/Cooper Lake, Ice Lake-SP, Sapphire,
// Emerald and Granite Rapids). The environment variable DYGEN_AVX512=on or
// off overrides the rule (read once, at start-up).
var AVX512 = avx512Default()

// AVX512Reason says why AVX512 has its value, for dygen bench and the
// tests' logs.
var AVX512Reason string

func avx512Default() bool {
	switch v := os.Getenv("DYGEN_AVX512"); v {
	case "on":
		AVX512Reason = "DYGEN_AVX512=on"
		return true
	case "off":
		AVX512Reason = "DYGEN_AVX512=off"
		return false
	case "":
	default:
		AVX512Reason = fmt.Sprintf("DYGEN_AVX512=%q is neither on nor off: the CPU rule applies", v)
	}
	ok, why := wideFMA(cpuIdentity())
	if AVX512Reason != "" {
		AVX512Reason += "; "
	}
	AVX512Reason += why
	return ok
}

// CPUIdentity is what the AVX-512 rule reads of a CPU.
type CPUIdentity struct {
	Vendor        string // "AuthenticAMD", "GenuineIntel", …; "" off amd64
	Family, Model int    // display family and model (base + extended)
}

// wideFMA is the rule of AVX512 for CPU id.
func wideFMA(id CPUIdentity) (bool, string) {
	what := fmt.Sprintf("%s family %#x model %#x", id.Vendor, id.Family, id.Model)
	switch id.Vendor {
	case "AuthenticAMD":
		if id.Family >= 0x1a {
			return true, what + ": Zen 5 or later, full-width 512-bit FMA"
		}
		return false, what + ": before Zen 5 (Zen 4 double-pumps 512-bit FMAs: AVX2 is as fast)"
	case "GenuineIntel":
		if id.Family == 6 {
			switch id.Model {
			case 0x55, 0x6a, 0x6c, 0x8f, 0xcf, 0xad, 0xae:
				return true, what + ": Intel server core, two 512-bit FMA ports"
			}
		}
		return false, what + ": not an Intel server core known to have two 512-bit FMA ports"
	}
	return false, what + ": unknown vendor"
}
