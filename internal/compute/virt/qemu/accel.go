package qemu

import (
	"fmt"
	"os"
	"strings"
)

// resolveAccel turns a Spec's accelerator into the one QEMU gets. "auto" (and "")
// is KVM only when /dev/kvm opens read-write and the CPU advertises hardware
// virtualisation (vmx or svm): a /dev/kvm that opens is not enough (a paravirtual
// KVM without them cannot run stock guest kernels, and QEMU's accel=kvm:tcg does
// not fall back when the open succeeds), so anything less is TCG. A probe boot of
// the firmware alone would not tell: on such a host SeaBIOS runs under KVM to "No
// bootable device", and only the guest kernel then hangs.
func resolveAccel(want string, kvmUsable func() bool) (string, error) {
	switch want {
	case "kvm", "tcg":
		return want, nil
	case "", "auto":
		if kvmUsable() {
			return "kvm", nil
		}
		return "tcg", nil
	}
	return "", fmt.Errorf("accelerator %q: want auto, kvm or tcg", want)
}

// hostKVMUsable is resolveAccel's probe of this host.
func hostKVMUsable() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(cpuinfo), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(key) != "flags" {
			continue
		}
		for _, flag := range strings.Fields(value) {
			if flag == "vmx" || flag == "svm" {
				return true
			}
		}
		return false
	}
	return false
}
