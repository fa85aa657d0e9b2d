package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/cloud"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
)

// upHostsCloud is a `nimbus up --compute-hosts N` whose data plane lives in a
// namespace of the test's (its "root" namespace: the shared bridge, the public
// interface, the firewall rules), so that the test can compare that namespace
// exactly before and after, while the machine's namespaces, links, processes
// and mounts are compared by what carries the cloud's identity (other tests
// run beside it).
type upHostsCloud struct {
	*Cloud
	t      *testing.T
	bed    *dataplanetest.Bed
	host   string // network.host
	dir    string
	purged bool
	// before is the host namespace's state before nimbus up.
	before []string
}

func startUpHosts(t *testing.T, tag string, hosts int, env ...string) *upHostsCloud {
	t.Helper()
	dataplanetest.RequireHost(t, "ip", "bridge", "dnsmasq", "iptables", "ipset", "nft", "conntrack", "arping")
	bed := dataplanetest.NewBed(t, tag)
	u := &upHostsCloud{t: t, bed: bed, host: bed.Prefix, dir: filepath.Join(t.TempDir(), "cloud")}
	u.before = hostNamespaceState(t, bed)
	// Registered before the cloud's stop: runs after it, and purges what a
	// test that failed half-way left.
	t.Cleanup(func() {
		if !u.purged {
			if out, err := u.down("--purge"); err != nil {
				t.Errorf("cleanup: nimbus down --purge: %v\n%s", err, out)
			}
		}
	})
	c, err := StartCloudEnv(u.dir, append([]string{"NIMBUS_NETWORK_DATAPLANE=on", "NIMBUS_NETWORK_HOST=" + u.host,
		"NIMBUS_NETWORK_HOST_NAMESPACE=" + bed.Host}, env...), "--compute-hosts", strconv.Itoa(hosts))
	if err != nil {
		t.Fatal(err)
	}
	u.Cloud = c
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if t.Failed() {
			t.Logf("nimbus up log:\n%s", tail(c.Log(), 150))
			for i := 1; i <= hosts; i++ {
				t.Logf("compute host c%d log:\n%s", i, tail(readText(filepath.Join(u.dir, "hosts", "c"+strconv.Itoa(i), "nimbus.log")), 60))
			}
		}
	})
	return u
}

// down runs `nimbus down` on the cloud's data directory with args.
func (u *upHostsCloud) down(args ...string) (string, error) {
	cmd := exec.Command(nimbusBin, append([]string{"down", "--data-dir", u.dir}, args...)...)
	out, err := cmd.CombinedOutput()
	if err == nil && slices.Contains(args, "--purge") {
		u.purged = true
	}
	return string(out), err
}

// layout is the cloud's up-state.json.
func (u *upHostsCloud) layout() cloud.HostsLayout {
	u.t.Helper()
	data, err := os.ReadFile(filepath.Join(u.dir, cloud.StateFile))
	if err != nil {
		u.t.Fatal(err)
	}
	var l cloud.HostsLayout
	if err := json.Unmarshal(data, &l); err != nil {
		u.t.Fatal(err)
	}
	return l
}

// hostNamespaceState is everything in the test's host namespace a cloud could
// change: links, addresses, routes, firewall rules and sets (nft's ruleset
// without the empty tables and base chains iptables-nft leaves, which hold no rule).
func hostNamespaceState(t *testing.T, b *dataplanetest.Bed) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(b.Sh(b.Host, "ip", "-o", "link", "show"), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			out = append(out, "link "+strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
		}
	}
	for _, l := range strings.Split(b.Sh(b.Host, "ip", "-o", "addr", "show"), "\n") {
		if f := strings.Fields(l); len(f) > 3 {
			out = append(out, "addr "+f[1]+" "+f[3])
		}
	}
	for _, l := range strings.Split(b.Sh(b.Host, "ip", "route", "show", "table", "all"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, "route "+l)
		}
	}
	for _, s := range strings.Fields(b.Sh(b.Host, "ipset", "list", "-n")) {
		out = append(out, "ipset "+s)
	}
	var ruleset struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(b.Sh(b.Host, "nft", "-j", "list", "ruleset")), &ruleset); err != nil {
		t.Fatal(err)
	}
	for _, item := range ruleset.Nftables {
		for kind, body := range item {
			var obj struct {
				Family, Table, Chain, Name, Hook string
				Expr                             json.RawMessage
			}
			_ = json.Unmarshal(body, &obj)
			switch {
			case kind == "rule":
				out = append(out, "nft rule "+obj.Family+" "+obj.Table+" "+obj.Chain+" "+string(obj.Expr))
			case kind == "chain" && obj.Hook == "":
				out = append(out, "nft chain "+obj.Family+" "+obj.Table+" "+obj.Name)
			case kind == "set" || kind == "map" || kind == "flowtable":
				out = append(out, "nft "+kind+" "+obj.Family+" "+obj.Table+" "+obj.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// machineState lists what on the whole machine carries one of marks: network
// namespaces, links of the root namespace, processes (by command line) and
// mounts.
func machineState(t *testing.T, marks []string) []string {
	t.Helper()
	ours := func(s string) bool {
		for _, m := range marks {
			if m != "" && strings.Contains(s, m) {
				return true
			}
		}
		return false
	}
	var out []string
	list, _ := exec.Command("ip", "netns", "list").Output()
	for _, l := range strings.Split(string(list), "\n") {
		if ns, _, _ := strings.Cut(strings.TrimSpace(l), " "); ns != "" && ours(ns) {
			out = append(out, "netns "+ns)
		}
	}
	links, _ := exec.Command("ip", "-o", "link", "show").Output()
	for _, l := range strings.Split(string(links), "\n") {
		if f := strings.Fields(l); len(f) > 1 && ours(f[1]) {
			out = append(out, "link "+f[1])
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "stat"))
		if line := strings.ReplaceAll(string(cmdline), "\x00", " "); ours(line) && !strings.Contains(string(stat), ") Z ") &&
			!strings.HasPrefix(line, nimbusBin+" down ") {
			out = append(out, "process "+p.Name()+" "+line)
		}
	}
	mounts, _ := os.ReadFile("/proc/mounts")
	for _, l := range strings.Split(string(mounts), "\n") {
		if ours(l) {
			out = append(out, "mount "+l)
		}
	}
	sort.Strings(out)
	return out
}

// marks are the names that identify this cloud's things on the machine: its
// directories, its ID and host name, and its networks', routers' and ports'
// IDs as device and namespace names carry them (first 11 characters).
func (u *upHostsCloud) marks() []string {
	u.t.Helper()
	marks := []string{u.dir + "/", cloud.RunDir(u.dir) + "/", "-" + u.layout().ID + "-", "nh" + u.layout().ID}
	for _, kind := range []string{"network", "router", "port"} {
		var rows []row
		OSJSON(u.t, u.Cloud, adminCloud, &rows, kind, "list")
		for _, r := range rows {
			if id := str(r, "ID"); len(id) > 11 {
				marks = append(marks, id[:11])
			}
		}
	}
	return marks
}

// TestUpComputeHostsPurge (issue 21, acceptance 6): `nimbus up --compute-hosts 2`
// shows three compute services, hypervisors and L2 agents; a network, a router
// and a server on each compute host (QEMU when the machine runs it), one reached
// over SSH through a floating IP; then `nimbus down --purge` stops the cloud and
// leaves the host namespace exactly as before and nothing of the cloud on the
// machine (namespaces, links, processes, mounts, run and data directories).
func TestUpComputeHostsPurge(t *testing.T) {
	t.Parallel()
	qemu := true
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img", "ssh"} {
		if _, err := exec.LookPath(tool); err != nil {
			qemu = false
		}
	}
	env := []string{"NIMBUS_COMPUTE_DRIVER=fake", "NIMBUS_IMAGE_GUEST_IMAGE=false"}
	if qemu {
		env = []string{"NIMBUS_COMPUTE_DRIVER=qemu", "NIMBUS_IMAGE_GUEST_IMAGE=true"}
	}
	u := startUpHosts(t, "up", 2, env...)
	b := u.bed
	hostNames := []string{u.host, u.host + "-c1", u.host + "-c2"}

	var services []row
	eventually(t, "three nova-compute services up", func() bool {
		OSJSON(t, u.Cloud, adminCloud, &services, "compute", "service", "list", "--service", "nova-compute")
		var up []string
		for _, s := range services {
			if str(s, "State") == "up" {
				up = append(up, str(s, "Host"))
			}
		}
		sort.Strings(up)
		return slices.Equal(up, hostNames)
	})
	var hypervisors []row
	OSJSON(t, u.Cloud, adminCloud, &hypervisors, "hypervisor", "list")
	if len(hypervisors) != 3 {
		t.Fatalf("hypervisor list = %v, want the all-in-one and its two compute hosts", hypervisors)
	}
	var agents []row
	eventually(t, "a Linux bridge agent alive on each host", func() bool {
		OSJSON(t, u.Cloud, adminCloud, &agents, "network", "agent", "list", "--agent-type", "linux-bridge")
		var alive []string
		for _, a := range agents {
			if str(a, "Alive") == "true" {
				alive = append(alive, str(a, "Host"))
			}
		}
		sort.Strings(alive)
		return slices.Equal(alive, hostNames)
	})

	// A network and a router of the test's own, a server on each compute host.
	OS(t, u.Cloud, adminCloud, "network", "create", "net-up")
	OS(t, u.Cloud, adminCloud, "subnet", "create", "--network", "net-up", "--subnet-range", "10.9.0.0/24", "sub-up")
	OS(t, u.Cloud, adminCloud, "router", "create", "r-up")
	OS(t, u.Cloud, adminCloud, "router", "set", "--external-gateway", "public", "r-up")
	OS(t, u.Cloud, adminCloud, "router", "add", "subnet", "r-up", "sub-up")
	var groups []row
	OSJSON(t, u.Cloud, adminCloud, &groups, "security", "group", "list", "--project", "admin")
	var group string
	for _, g := range groups {
		if str(g, "Name") == "default" {
			group = str(g, "ID")
		}
	}
	OS(t, u.Cloud, adminCloud, "security", "group", "rule", "create", "--protocol", "icmp", group)
	OS(t, u.Cloud, adminCloud, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", group)
	key := filepath.Join(t.TempDir(), "id_rsa")
	if err := os.WriteFile(key, []byte(OS(t, u.Cloud, adminCloud, "keypair", "create", "k-up")), 0o600); err != nil {
		t.Fatal(err)
	}
	image := "nimbus-guest"
	if !qemu {
		image = fakeImage(t, u.Cloud, "img-up")
	}
	var servers []string
	for i, h := range hostNames[1:] {
		var srv row
		OSJSON(t, u.Cloud, adminCloud, &srv, "server", "create", "--image", image, "--flavor", "m1.tiny",
			"--network", "net-up", "--key-name", "k-up", "--availability-zone", "nova:"+h, "--wait", "vm-up"+strconv.Itoa(i+1))
		wantField(t, "server create", srv, "status", "ACTIVE")
		var shown row
		OSJSON(t, u.Cloud, adminCloud, &shown, "server", "show", str(srv, "id"))
		wantField(t, "server host", shown, "OS-EXT-SRV-ATTR:host", h)
		servers = append(servers, str(srv, "id"))
	}
	var ports []row
	OSJSON(t, u.Cloud, adminCloud, &ports, "port", "list", "--device-id", servers[0])
	var fip row
	OSJSON(t, u.Cloud, adminCloud, &fip, "floating", "ip", "create", "public")
	floating := str(fip, "floating_ip_address")
	OS(t, u.Cloud, adminCloud, "floating", "ip", "set", "--port", str(ports[0], "ID"), floating)
	if qemu {
		var hostname string
		eventually(t, "ssh to the server on the first compute host through its floating IP", func() bool {
			out, err := exec.Command("ip", "netns", "exec", b.Host, "ssh", "-i", key, "-o", "StrictHostKeyChecking=no",
				"-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "root@"+floating, "hostname").Output()
			hostname = strings.TrimSpace(string(out))
			return err == nil
		})
		if hostname != "vm-up1" {
			t.Errorf("hostname over SSH = %q, want vm-up1", hostname)
		}
	}

	marks := u.marks()
	during := machineState(t, marks)
	for _, want := range []string{"netns nimbus-" + u.layout().ID + "-c1", "netns qrouter-", "netns qdhcp-"} {
		if !slices.ContainsFunc(during, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Fatalf("the cloud's things on the machine lack %q (the comparison would prove nothing):\n%s", want, strings.Join(during, "\n"))
		}
	}
	if qemu && !slices.ContainsFunc(during, func(s string) bool { return strings.Contains(s, "qemu-system") }) {
		t.Fatalf("no QEMU process of the cloud found:\n%s", strings.Join(during, "\n"))
	}
	if slices.Equal(hostNamespaceState(t, b), u.before) {
		t.Fatal("the host namespace did not change with the cloud running (the comparison would prove nothing)")
	}

	if out, err := u.down("--purge"); err != nil {
		t.Fatalf("nimbus down --purge: %v\n%s", err, out)
	}
	// down returns once up has exited; this test, its parent, reaps it.
	select {
	case <-u.done:
	case <-time.After(30 * time.Second):
		t.Fatal("nimbus up still runs after nimbus down")
	}
	assertPurged(t, u, marks)
}

// assertPurged checks that nothing carrying marks is left on the machine, that
// the host namespace is as it was before nimbus up, and that the cloud's run
// and data directories are gone.
func assertPurged(t *testing.T, u *upHostsCloud, marks []string) {
	t.Helper()
	if left := machineState(t, marks); len(left) > 0 {
		t.Errorf("the cloud left on the machine:\n%s", strings.Join(left, "\n"))
	}
	after := hostNamespaceState(t, u.bed)
	if !slices.Equal(after, u.before) {
		t.Errorf("the host namespace is not as before nimbus up:\nbefore:\n%s\nafter:\n%s",
			strings.Join(u.before, "\n"), strings.Join(after, "\n"))
	}
	for _, dir := range []string{u.dir, cloud.RunDir(u.dir)} {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s is still there after the purge (%v)", dir, err)
		}
	}
}

// TestDownAfterKill9: `nimbus up --compute-hosts 1` killed with -9 takes its
// compute host's agent with it; `nimbus down` then finds no cloud to stop and
// keeps everything, and `nimbus down --purge` removes what the dead cloud made
// (its routers, DHCP, bridges, the compute host and the data directory), from
// what its data directory records and what is on the host.
func TestDownAfterKill9(t *testing.T) {
	t.Parallel()
	u := startUpHosts(t, "uk", 1, "NIMBUS_COMPUTE_DRIVER=fake", "NIMBUS_IMAGE_GUEST_IMAGE=false")
	OS(t, u.Cloud, adminCloud, "network", "create", "net-k")
	OS(t, u.Cloud, adminCloud, "subnet", "create", "--network", "net-k", "--subnet-range", "10.8.0.0/24", "sub-k")
	OS(t, u.Cloud, adminCloud, "router", "create", "r-k")
	OS(t, u.Cloud, adminCloud, "router", "set", "--external-gateway", "public", "r-k")
	OS(t, u.Cloud, adminCloud, "router", "add", "subnet", "r-k", "sub-k")
	var srv row
	OSJSON(t, u.Cloud, adminCloud, &srv, "server", "create", "--image", fakeImage(t, u.Cloud, "img-k"), "--flavor", "m1.tiny",
		"--network", "net-k", "--availability-zone", "nova:"+u.host+"-c1", "--wait", "vm-k")
	marks := u.marks()
	eventually(t, "the router's and the network's namespaces", func() bool {
		during := machineState(t, marks)
		return slices.ContainsFunc(during, func(s string) bool { return strings.HasPrefix(s, "netns qrouter-") }) &&
			slices.ContainsFunc(during, func(s string) bool { return strings.HasPrefix(s, "netns qdhcp-") })
	})
	agent := u.layout().Hosts[0].PID
	if agent <= 0 {
		t.Fatalf("up-state.json records no PID for the compute host's agent: %+v", u.layout())
	}

	// kill -9 of the compute host's agent alone: it stays down until SIGHUP
	// asks nimbus up to start the agents that are not running.
	if err := syscall.Kill(agent, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "nimbus up to see its agent gone (PID 0 in up-state.json)", func() bool { return u.layout().Hosts[0].PID == 0 })
	if err := u.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the agent started again on SIGHUP", func() bool {
		pid := u.layout().Hosts[0].PID
		return pid > 0 && pid != agent && processRuns(pid)
	})
	agent = u.layout().Hosts[0].PID

	// kill -9 of nimbus up takes the agent with it; a new nimbus up adopts the
	// compute host (same namespace and address, no second one).
	layoutBefore := u.layout()
	u.Kill()
	eventually(t, "the compute host's agent gone with nimbus up", func() bool { return !processRuns(agent) })
	if err := u.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the compute host's service up after the restart", func() bool {
		var services []row
		OSJSON(t, u.Cloud, adminCloud, &services, "compute", "service", "list", "--host", u.host+"-c1")
		return len(services) == 1 && str(services[0], "State") == "up"
	})
	if l := u.layout(); len(l.Hosts) != 1 || l.Hosts[0].Namespace != layoutBefore.Hosts[0].Namespace ||
		l.Underlay != layoutBefore.Underlay || l.Hosts[0].Address != layoutBefore.Hosts[0].Address {
		t.Fatalf("the restarted cloud's compute hosts %+v, want those of before %+v", l, layoutBefore)
	}
	wantField(t, "the server after the restart", showServer(t, u.Cloud, str(srv, "id")), "status", "ACTIVE")
	agent = u.layout().Hosts[0].PID
	u.Kill()
	eventually(t, "the compute host's agent gone with nimbus up", func() bool { return !processRuns(agent) })
	if out, err := u.down(); err != nil || !strings.Contains(strings.Join(machineState(t, marks), "\n"), "netns nimbus-") {
		t.Fatalf("nimbus down of a killed cloud: %v\n%s\n(it must succeed and keep what the cloud made)", err, out)
	}
	if out, err := u.down("--purge"); err != nil {
		t.Fatalf("nimbus down --purge after kill -9: %v\n%s", err, out)
	}
	assertPurged(t, u, marks)
	if out, err := u.down("--purge"); err != nil {
		t.Fatalf("a second nimbus down --purge: %v\n%s", err, out)
	}
}

// processRuns says whether pid is a live process (not a zombie).
func processRuns(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	return err == nil && !strings.Contains(string(stat), ") Z ")
}

func showServer(t *testing.T, c *Cloud, id string) row {
	t.Helper()
	var r row
	OSJSON(t, c, adminCloud, &r, "server", "show", id)
	return r
}
