package scheduler

import (
	"strconv"
	"strings"
)

// imageReq is what the ImagePropertiesFilter checks, canonicalized once.
type imageReq struct {
	arch, hvType, vmMode string
	// version is img_hv_requested_version, e.g. ">=6.0, <6.2".
	version string
}

// prop reads the modern property name, falling back on the legacy one
// images uploaded before Liberty carry.
func prop(props map[string]string, modern, legacy string) string {
	if v := props[modern]; v != "" {
		return v
	}
	return props[legacy]
}

func parseImage(props map[string]string) imageReq {
	return imageReq{
		arch:    canonicalArch(prop(props, "hw_architecture", "architecture")),
		hvType:  canonicalHVType(prop(props, "img_hv_type", "hypervisor_type")),
		vmMode:  canonicalVMMode(prop(props, "hw_vm_mode", "vm_mode")),
		version: prop(props, "img_hv_requested_version", "hypervisor_version_requires"),
	}
}

// canonicalArch is upstream's Architecture.canonicalize.
func canonicalArch(a string) string {
	a = strings.ToLower(a)
	switch a {
	case "i386", "i486", "i586", "x86_32", "x86_32p":
		return "i686"
	case "amd64":
		return "x86_64"
	}
	return a
}

// canonicalHVType is upstream's HVType.canonicalize.
func canonicalHVType(t string) string {
	t = strings.ToLower(t)
	if t == "xapi" {
		return "xen"
	}
	return t
}

// canonicalVMMode is upstream's VMMode.canonicalize.
func canonicalVMMode(m string) string {
	m = strings.ToLower(m)
	switch m {
	case "pv":
		return "xen"
	case "hv", "baremetal":
		return "hvm"
	}
	return m
}

// supportedInstances is the host's list, or one derived from its arch and
// hypervisor type when the caller gave none.
func supportedInstances(h *HostState) []SupportedInstance {
	if h.SupportedInstances != nil {
		return h.SupportedInstances
	}
	if h.HypervisorType == "" {
		return nil
	}
	return []SupportedInstance{{Arch: h.CPUArch, HVType: h.HypervisorType, VMMode: "hvm"}}
}

// hvMatches treats a kvm host as running qemu guests too: upstream's libvirt
// driver advertises both domain types when KVM is available, so an image
// asking for qemu lands on kvm hosts (the reverse does not hold).
func hvMatches(want, have string) bool {
	return want == have || (want == "qemu" && have == "kvm")
}

// imagePasses is ImagePropertiesFilter: an image naming no architecture,
// hypervisor type or VM mode passes every host; otherwise one of the host's
// supported instances must provide every property named, and the hypervisor
// version must satisfy img_hv_requested_version.
func imagePasses(r *request, h *HostState) bool {
	img := &r.image
	if img.arch == "" && img.hvType == "" && img.vmMode == "" {
		return true
	}
	for _, s := range supportedInstances(h) {
		if img.arch != "" && img.arch != canonicalArch(s.Arch) {
			continue
		}
		if img.hvType != "" && !hvMatches(img.hvType, canonicalHVType(s.HVType)) {
			continue
		}
		if img.vmMode != "" && img.vmMode != canonicalVMMode(s.VMMode) {
			continue
		}
		if versionSatisfies(h.HypervisorVersion, img.version) {
			return true
		}
	}
	return false
}

// versionSatisfies is upstream's VersionPredicate check of the hypervisor
// version. No requirement or a host reporting no version passes, as
// upstream; a requirement that does not parse fails.
func versionSatisfies(hv int, req string) bool {
	req = strings.TrimSpace(req)
	if hv == 0 || req == "" {
		return true
	}
	have := intVersion(hv)
	for _, clause := range strings.Split(req, ",") {
		clause = strings.TrimSpace(clause)
		op := ""
		for _, o := range []string{"<=", ">=", "==", "!=", "<", ">"} {
			if strings.HasPrefix(clause, o) {
				op = o
				break
			}
		}
		if op == "" {
			return false
		}
		want, ok := parseVersion(strings.TrimSpace(clause[len(op):]))
		if !ok {
			return false
		}
		c := compareVersions(have, want)
		var pass bool
		switch op {
		case "<=":
			pass = c <= 0
		case ">=":
			pass = c >= 0
		case "==":
			pass = c == 0
		case "!=":
			pass = c != 0
		case "<":
			pass = c < 0
		case ">":
			pass = c > 0
		}
		if !pass {
			return false
		}
	}
	return true
}

// intVersion is upstream's convert_version_to_str: 6002000 is 6.2.0.
func intVersion(v int) []int {
	var parts []int
	for v > 0 {
		parts = append([]int{v % 1000}, parts...)
		v /= 1000
	}
	return parts
}

func parseVersion(s string) ([]int, bool) {
	if s == "" {
		return nil, false
	}
	var parts []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		parts = append(parts, n)
	}
	return parts, true
}

// compareVersions pads the shorter with zeros, so 6.2 equals 6.2.0 as
// StrictVersion has it.
func compareVersions(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
