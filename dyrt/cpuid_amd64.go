package dyrt

// cpuid executes CPUID with EAX = leaf and ECX = sub.
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

func cpuIdentity() CPUIdentity {
	_, b, c, d := cpuid(0, 0)
	v := make([]byte, 0, 12)
	for _, r := range []uint32{b, d, c} {
		v = append(v, byte(r), byte(r>>8), byte(r>>16), byte(r>>24))
	}
	a, _, _, _ := cpuid(1, 0)
	fam := int(a>>8) & 0xf
	model := int(a>>4) & 0xf
	if fam == 0xf {
		fam += int(a>>20) & 0xff
	}
	if fam == 0x6 || fam >= 0xf {
		model += int(a>>16) & 0xf << 4
	}
	return CPUIdentity{Vendor: string(v), Family: fam, Model: model}
}
