package agent

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// TestLinuxHostTaps: Plug makes the taps of the instance's ports and records
// them; Prune removes the recorded taps of ports it no longer has (a detach),
// twice changing nothing; Release removes the rest and the record. In a
// namespace of the test's own (root only).
func TestLinuxHostTaps(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	ns := fmt.Sprintf("nimbus-taps-test-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", ns).Run() })
	h := &LinuxHost{InstancesDir: t.TempDir(), HostNamespace: ns}
	ctx := t.Context()
	a := virt.NIC{MAC: "fa:16:3e:00:00:01", Tap: "tapaaaaaaaa-11", MTU: 1400}
	b := virt.NIC{MAC: "fa:16:3e:00:00:02", Tap: "tapbbbbbbbb-22"}
	spec := func(nics ...virt.NIC) virt.Spec { return virt.Spec{UUID: "vm", NICs: nics} }
	exists := func(tap string) bool { return exec.Command("ip", "-n", ns, "link", "show", tap).Run() == nil }

	steps := []struct {
		name  string
		do    func() error
		taps  map[string]bool
		known []string
	}{
		{"plug two", func() error { return h.Plug(ctx, spec(a, b)) }, map[string]bool{a.Tap: true, b.Tap: true}, []string{a.Tap, b.Tap}},
		{"prune after a's detach", func() error { return h.Prune(ctx, spec(b)) }, map[string]bool{a.Tap: false, b.Tap: true}, []string{b.Tap}},
		{"prune again", func() error { return h.Prune(ctx, spec(b)) }, map[string]bool{a.Tap: false, b.Tap: true}, []string{b.Tap}},
		{"plug a again", func() error { return h.Plug(ctx, spec(b, a)) }, map[string]bool{a.Tap: true, b.Tap: true}, []string{b.Tap, a.Tap}},
		{"release", func() error { return h.Release(ctx, compute.AgentInstance{UUID: "vm"}, spec(b)) }, map[string]bool{a.Tap: false, b.Tap: false}, nil},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for tap, want := range st.taps {
			if got := exists(tap); got != want {
				t.Errorf("%s: tap %s exists = %v, want %v", st.name, tap, got, want)
			}
		}
		if got := h.recordedTaps("vm"); !slices.Equal(got, st.known) {
			t.Errorf("%s: recorded taps %v, want %v", st.name, got, st.known)
		}
	}
}
