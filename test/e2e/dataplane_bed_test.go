package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/cloud"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/metadata"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/testbed"
)

// dataplaneCloud is a cloud whose data plane is real and lives in a namespace the
// test made, playing the host's root namespace: its bridges, taps, the public
// interface (devstack's br-ex, 172.24.4.1) and firewall rules are there, so the
// namespace is also the "outside" host the routers' gateways face. Instances are
// namespaces plugged into it by a veth whose host end is named like the tap the
// compute agent would make.
type dataplaneCloud struct {
	*Cloud
	t    *testing.T
	bed  *dataplanetest.Bed
	Host string // network.host: the name ports are bound to
	dir  string // the cloud's data dir
	// novaURL is the stand-in compute metadata API.
	novaURL string
	// dhcpDir is where the cloud's DHCP agent keeps its files (see cloud.RunDir).
	dhcpDir string
}

// startDataplaneCloud makes a bed and starts its cloud; tag tells apart the beds of
// tests running in parallel in one process.
func startDataplaneCloud(t *testing.T, tag string) *dataplaneCloud {
	t.Helper()
	d := newDataplaneBed(t, tag)
	d.start()
	return d
}

// newDataplaneBed makes the host namespace and the compute metadata API a cloud's
// data plane will use; start starts the cloud.
func newDataplaneBed(t *testing.T, tag string) *dataplaneCloud {
	t.Helper()
	dataplanetest.RequireHost(t, "ip", "bridge", "dnsmasq", "dhclient", "iptables", "ipset", "nft", "conntrack", "arping", "ping")
	bed := dataplanetest.NewBed(t, "e2e"+tag)
	dir := filepath.Join(t.TempDir(), "cloud")
	d := &dataplaneCloud{t: t, bed: bed, Host: bed.Prefix, dir: dir, dhcpDir: filepath.Join(cloud.RunDir(dir), "dhcp")}
	t.Cleanup(d.cleanup) // registered before the cloud's own: runs after it stopped
	// The compute metadata API the proxy forwards to (Nova's comes with compute): it
	// answers with the identity the proxy vouched for, once the signature checks out.
	nova := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(metadata.HeaderInstanceID)
		secret, _ := os.ReadFile(filepath.Join(dir, "secrets", "metadata-proxy-secret"))
		if !metadata.VerifySignature(strings.TrimSpace(string(secret)), id, r.Header.Get(metadata.HeaderSignature)) {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"uuid": id, "project_id": r.Header.Get(metadata.HeaderTenantID), "path": r.URL.Path,
			"router": r.Header.Get(metadata.HeaderRouterID), "network": r.Header.Get(metadata.HeaderNetworkID)})
	}))
	t.Cleanup(nova.Close)
	d.novaURL = nova.URL
	return d
}

// start starts the cloud on the bed, with env (NIMBUS_*=...) added.
func (d *dataplaneCloud) start(env ...string) {
	t := d.t
	t.Helper()
	c, err := StartCloudEnv(d.dir, append([]string{"NIMBUS_NETWORK_DATAPLANE=on", "NIMBUS_NETWORK_HOST=" + d.Host,
		"NIMBUS_NETWORK_HOST_NAMESPACE=" + d.bed.Host, "NIMBUS_IMAGE_GUEST_IMAGE=false", "NIMBUS_NETWORK_METADATA_URL=" + d.novaURL}, env...))
	if err != nil {
		t.Fatal(err)
	}
	d.Cloud = c
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if t.Failed() {
			t.Logf("cloud log:\n%s", tail(c.Log(), 200))
		}
	})
}

// cleanup removes what the cloud's agents made outside the host namespace, which
// goes with the bed: dnsmasq processes and the cloud's qdhcp- and qrouter- namespaces.
func (d *dataplaneCloud) cleanup() {
	d.agents().Remove()
	// Guests and volume exports outlive the cloud's process by design (a
	// restarted agent finds them); a test that failed half-way leaves them.
	killProcessesUnder(d.dir, "qemu-system", "qemu-storage-daemon", "qemu-nbd")
}

// killProcessesUnder kills (SIGKILL) the processes of the named binaries whose
// command line names a path under dir.
func killProcessesUnder(dir string, binaries ...string) {
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(data), dir+"/") {
			continue
		}
		name := filepath.Base(strings.SplitN(string(data), "\x00", 2)[0])
		for _, b := range binaries {
			if strings.HasPrefix(name, b) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

func (d *dataplaneCloud) agents() testbed.CloudAgents {
	return testbed.CloudAgents{DHCPDir: d.dhcpDir, Host: d.Host}
}

// namespaces are the qdhcp- and qrouter- namespaces of this cloud.
func (d *dataplaneCloud) namespaces() []string { return d.agents().Namespaces() }

// dnsmasqs are the PIDs of the live dnsmasq processes serving this cloud.
func (d *dataplaneCloud) dnsmasqs() []int { return d.agents().DNSMasqs() }

// instance plugs a namespace standing in for the instance of a port: eth0 with the
// port's MAC, whose veth peer tap<port[:11]> is left in the host namespace for the
// L2 agent to put on the network's bridge. It has no address until it leases one.
func (d *dataplaneCloud) instance(name, portID, mac string) string {
	d.t.Helper()
	return d.bed.Plug(name, portID, mac)
}

// instanceOn plugs an instance into the simulated host whose namespace is hostNS.
func (d *dataplaneCloud) instanceOn(hostNS, name, portID, mac string) string {
	d.t.Helper()
	return d.bed.PlugOn(hostNS, name, portID, mac)
}

// lease takes a DHCP lease in ns and sets the default route it offered.
func (d *dataplaneCloud) lease(ns string) map[string]string {
	d.t.Helper()
	got := dataplanetest.Lease(d.t, d.t.TempDir(), ns)
	if r := strings.Fields(got["routers"]); len(r) > 0 {
		d.bed.Sh(ns, "ip", "route", "replace", "default", "via", r[0])
	}
	return got
}

// eventually retries cond for up to a minute: the agents converge after each change,
// but a pass may take a while on a busy machine.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// never checks that cond stays false for a few tries (a packet that must not pass).
func never(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 3 {
		if cond() {
			t.Fatalf("%s", what)
		}
	}
}

func tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// failureLog is what a failed test shows of a process's log: its ERROR lines
// (a 500's cause is logged there, often long before the tail), then the tail.
func failureLog(s string, lines int) string {
	var errs []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, "level=ERROR") {
			errs = append(errs, line)
		}
	}
	return fmt.Sprintf("ERROR lines (%d):\n%s\ntail:\n%s", len(errs), tail(strings.Join(errs, "\n"), 40), tail(s, lines))
}

// portStatus reads a port's status with the CLI.
func (d *dataplaneCloud) portStatus(id string) string {
	var p row
	out, err := d.OpenStack(context.Background(), adminCloud, "port", "show", id, "-f", "json", "-c", "status")
	if err != nil {
		d.t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		d.t.Fatal(err)
	}
	return str(p, "status")
}
