package e2e

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestComputeQEMUCrashWhileBooting is acceptance 5 with real VMs: kill -9 of the
// whole all-in-one while 20 QEMU servers boot. After the restart every server
// ends ACTIVE or ERROR (none stays in BUILD); each ACTIVE one runs in exactly one
// QEMU with its tap, an ERROR one has neither; the QEMUs that ran before the crash
// still run in the same process (the restart stopped none); and deleting them all
// leaves no QEMU, tap or instance directory.
func TestComputeQEMUCrashWhileBooting(t *testing.T) {
	requireQEMU(t)
	t.Parallel()
	d := newDataplaneBed(t, "qc")
	d.start("NIMBUS_COMPUTE_DRIVER=qemu", "NIMBUS_IMAGE_GUEST_IMAGE=true")
	instances := filepath.Join(d.dir, "instances")
	t.Cleanup(func() { killGuestsUnder(t, instances) }) // only if the test failed half-way

	const count = 20
	OS(t, d.Cloud, adminCloud, "quota", "set", "--instances", "20", "--cores", "20", "demo")
	OS(t, d.Cloud, adminCloud, "flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1", "q.crash")
	OS(t, d.Cloud, demoCloud, "server", "create", "--image", "nimbus-guest", "--flavor", "q.crash", "--network", "private",
		"--min", strconv.Itoa(count), "--max", strconv.Itoa(count), "qcrash")

	// The crash comes as soon as the first guests run, while the rest are still
	// being scheduled, plugged and spawned.
	var running map[int]string
	eventually(t, "the first QEMU of the batch", func() bool {
		running = guestsUnder(instances)
		return len(running) > 0
	})
	d.Cloud.Kill()
	running = daemonsUnder(instances) // what ran when the cloud died (not a QEMU still daemonizing)
	t.Logf("%d of %d QEMUs ran at the kill", len(running), count)
	if err := d.Cloud.Restart(); err != nil {
		t.Fatal(err)
	}

	var servers []row
	deadline := time.Now().Add(5 * time.Minute)
	for {
		OSJSON(t, d.Cloud, demoCloud, &servers, "server", "list")
		settled := 0
		for _, s := range servers {
			if st := str(s, "Status"); st == "ACTIVE" || st == "ERROR" {
				settled++
			}
		}
		if len(servers) == count && settled == count {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart %d servers, %d of them ACTIVE or ERROR: %v", len(servers), settled, servers)
		}
		time.Sleep(time.Second)
	}

	// Level-triggered agents settle the host a moment after the API does: every
	// ACTIVE server one QEMU and one tap, nothing else.
	active := map[string]bool{}
	for _, s := range servers {
		if str(s, "Status") == "ACTIVE" {
			active[str(s, "ID")] = true
		}
	}
	// The taps: one per ACTIVE server's port, besides the host ends of the network's
	// own devices (DHCP, router), which the L2 agent names the same way.
	networkTaps := map[string]bool{}
	var ports []row
	OSJSON(t, d.Cloud, adminCloud, &ports, "port", "list", "--long")
	for _, p := range ports {
		if strings.HasPrefix(str(p, "Device Owner"), "network:") {
			networkTaps["tap"+str(p, "ID")[:11]] = true
		}
	}
	wantTaps := maps.Clone(networkTaps)
	for id := range active {
		wantTaps["tap"+portIDOf(t, d, id)[:11]] = true
	}
	var guests map[int]string
	var taps []string
	settle := time.Now().Add(2 * time.Minute)
	for {
		guests, taps = guestsUnder(instances), tapsIn(t, d.bed.Host)
		if len(guests) == len(active) && sameSet(valuesOf(guests), active) && sameSet(taps, wantTaps) {
			break
		}
		if time.Now().After(settle) {
			for _, tap := range taps {
				if !wantTaps[tap] {
					t.Logf("the cloud's log of the port of the extra tap %s:\n%s", tap, grepLines(d.Cloud.Log(), strings.TrimPrefix(tap, "tap")))
				}
			}
			t.Fatalf("the host did not settle: QEMUs (pid: instance) %v, taps %v; want one QEMU for each of the ACTIVE %v and taps %v\nservers %v",
				guests, taps, active, wantTaps, servers)
		}
		time.Sleep(time.Second)
	}
	for pid, id := range running {
		if guests[pid] != id {
			t.Errorf("QEMU %d of server %s ran at the kill and is gone after the restart (now %v)", pid, id, guests)
		}
	}
	for _, e := range dirEntries(t, instances) {
		if !active[e] && !isAServer(servers, e) {
			t.Errorf("instances/%s belongs to no server", e)
		}
	}

	ids := make([]string, 0, len(servers))
	for _, s := range servers {
		ids = append(ids, str(s, "ID"))
	}
	OS(t, d.Cloud, demoCloud, append([]string{"server", "delete", "--wait"}, ids...)...)
	eventually(t, "no QEMU, tap or instance directory after the deletes", func() bool {
		return len(guestsUnder(instances)) == 0 && sameSet(tapsIn(t, d.bed.Host), networkTaps) && len(dirEntries(t, instances)) == 0
	})
}

// guestsUnder maps the pid of every live QEMU whose files are under dir to its
// instance (the -uuid on its command line).
func guestsUnder(dir string) map[int]string {
	guests := map[int]string{}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(data), "\x00")
		if !strings.HasPrefix(filepath.Base(args[0]), "qemu-system") || !strings.Contains(string(data), dir+"/") {
			continue
		}
		if i := slices.Index(args, "-uuid"); i >= 0 && i+1 < len(args) {
			guests[pid] = args[i+1]
		}
	}
	return guests
}

// daemonsUnder are the guestsUnder dir that are the daemon their instance's pid
// file names, i.e. QEMUs that finished starting.
func daemonsUnder(dir string) map[int]string {
	daemons := map[int]string{}
	for pid, id := range guestsUnder(dir) {
		data, err := os.ReadFile(filepath.Join(dir, id, "qemu.pid"))
		if err == nil && strings.TrimSpace(string(data)) == strconv.Itoa(pid) {
			daemons[pid] = id
		}
	}
	return daemons
}

// killGuestsUnder kills what guestsUnder finds, so a failed test leaves no VM.
func killGuestsUnder(t *testing.T, dir string) {
	for pid := range guestsUnder(dir) {
		t.Logf("killing leftover QEMU %d", pid)
		_ = exec.Command("kill", "-9", strconv.Itoa(pid)).Run()
	}
}

// tapsIn are the tap devices in namespace ns.
func tapsIn(t *testing.T, ns string) []string {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-o", "link", "show").Output()
	if err != nil {
		t.Fatalf("ip -n %s link: %v", ns, err)
	}
	var taps []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], "tap") {
			taps = append(taps, strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
		}
	}
	return taps
}

// grepLines are the lines of log that contain s.
func grepLines(log, s string) string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// dirEntries are the instance directories under dir.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), "_") { // the agent's own: _base (image cache), _taps
			names = append(names, e.Name())
		}
	}
	return names
}

func valuesOf(m map[int]string) []string {
	var vs []string
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}

// sameSet reports whether list holds exactly the keys of set.
func sameSet(list []string, set map[string]bool) bool {
	seen := map[string]bool{}
	for _, v := range list {
		if !set[v] {
			return false
		}
		seen[v] = true
	}
	return len(seen) == len(set)
}

func isAServer(servers []row, id string) bool {
	return slices.ContainsFunc(servers, func(s row) bool { return str(s, "ID") == id })
}
