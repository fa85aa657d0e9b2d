package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestComputeScheduling is the reference's scheduling with three hosts, driven
// by the CLI: anti-affinity puts three servers of a group on three hosts and a
// fourth faults with "No valid host was found"; so does a flavor too large for
// any host; a disabled service gets no instances; RAM is overcommitted by the
// ratio (1.5, 512 MB reserved) and no further.
func TestComputeScheduling(t *testing.T) {
	t.Parallel()
	c := fakeComputeCloud(t, "sched-img", "NIMBUS_COMPUTE_FAKE_HOSTS=3")
	var hosts []row
	eventually(t, "three compute services up", func() bool {
		OSJSON(t, c, adminCloud, &hosts, "compute", "service", "list", "--service", "nova-compute")
		return len(hosts) == 3
	})

	// waitFor waits until the server is ACTIVE or ERROR and returns its admin view.
	waitFor := func(id string) row {
		t.Helper()
		var s row
		deadline := time.Now().Add(time.Minute)
		for {
			OSJSON(t, c, adminCloud, &s, "server", "show", id)
			if st := str(s, "status"); st == "ACTIVE" || st == "ERROR" {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("server %s stays %s", id, str(s, "status"))
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	boot := func(name, flavor string, extra ...string) row {
		t.Helper()
		var created row
		OSJSON(t, c, demoCloud, &created, append([]string{"server", "create", "--image", "sched-img", "--flavor", flavor, "--network", "private"},
			append(extra, name)...)...)
		return waitFor(str(created, "id"))
	}
	noValidHost := func(s row) {
		t.Helper()
		if str(s, "status") != "ERROR" || !strings.Contains(str(s, "fault"), "No valid host was found") {
			t.Errorf("server %s: %s, fault %s; want No valid host", str(s, "name"), str(s, "status"), str(s, "fault"))
		}
	}
	deleteAll := func(names ...string) {
		t.Helper()
		OS(t, c, demoCloud, append([]string{"server", "delete", "--wait"}, names...)...)
	}

	// Anti-affinity: three hosts for three members, none for a fourth.
	var group row
	OSJSON(t, c, demoCloud, &group, "server", "group", "create", "--policy", "anti-affinity", "spread")
	used := map[string]bool{}
	for _, name := range []string{"g1", "g2", "g3"} {
		s := boot(name, "m1.tiny", "--hint", "group="+str(group, "id"))
		h := str(s, "OS-EXT-SRV-ATTR:host")
		if str(s, "status") != "ACTIVE" || used[h] {
			t.Fatalf("anti-affinity member %s: %s on %q (hosts so far %v)", name, str(s, "status"), h, used)
		}
		used[h] = true
	}
	noValidHost(boot("g4", "m1.tiny", "--hint", "group="+str(group, "id")))
	deleteAll("g1", "g2", "g3", "g4")

	// A flavor larger than every host (within a quota raised for it).
	OS(t, c, adminCloud, "quota", "set", "--ram", "200000", "demo")
	OS(t, c, adminCloud, "flavor", "create", "--ram", "65536", "--disk", "1", "--vcpus", "1", "huge")
	noValidHost(boot("big", "huge"))
	deleteAll("big")

	// Two of the three services disabled: everything lands on the third, which
	// takes RAM up to 1.5 times its 16384 MB less 512 MB reserved (two 12000 MB
	// servers, 24000 MB) and not a third.
	names := []string{str(hosts[0], "Host"), str(hosts[1], "Host"), str(hosts[2], "Host")}
	for _, h := range names[:2] {
		OS(t, c, adminCloud, "compute", "service", "set", "--disable", h, "nova-compute")
	}
	OS(t, c, adminCloud, "flavor", "create", "--ram", "12000", "--disk", "1", "--vcpus", "1", "large")
	for _, name := range []string{"o1", "o2"} {
		s := boot(name, "large")
		if str(s, "status") != "ACTIVE" || str(s, "OS-EXT-SRV-ATTR:host") != names[2] {
			t.Fatalf("%s: %s on %q, want ACTIVE on the one enabled host %s", name, str(s, "status"), str(s, "OS-EXT-SRV-ATTR:host"), names[2])
		}
	}
	noValidHost(boot("o3", "large"))
}
