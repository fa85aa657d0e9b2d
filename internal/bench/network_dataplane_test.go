package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/testbed"
)

func TestSummarize(t *testing.T) {
	if got := summarize(nil); got != nil {
		t.Fatalf("summarize(nil) = %v", got)
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	// Ten iterations, out of order: bind to ACTIVE 10..100 ms, the lease 5 ms
	// later each time but once 200 ms later, the floating IP 1..10 ms.
	var samples []DataplaneSample
	for _, i := range []int{3, 9, 1, 10, 5, 7, 2, 8, 4, 6} {
		dhcp := 5
		if i == 4 {
			dhcp = 200
		}
		samples = append(samples, DataplaneSample{Active: ms(10 * i), Lease: ms(10*i + dhcp), Reach: ms(i)})
	}
	got := summarize(samples)
	want := []Timing{
		{DPTimingActive, 10, ms(50), ms(90), ms(100)},
		{DPTimingDHCP, 10, ms(5), ms(5), ms(200)},
		{DPTimingLease, 10, ms(65), ms(105), ms(240)},
		{DPTimingFIP, 10, ms(5), ms(9), ms(10)},
	}
	if len(got) != len(want) {
		t.Fatalf("summarize = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("timing %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	rep := DataplaneReport{Timings: got}
	if rep.Timing(DPTimingFIP) == nil || rep.Timing("no such") != nil {
		t.Errorf("Timing lookup")
	}
}

func TestDataplaneReportTable(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	samples := []DataplaneSample{{ms(300), ms(340), ms(150)}, {ms(310), ms(1200), ms(160)}}
	dp := &DataplaneReport{Host: "nbench1", HostNamespace: "nbench1-host", CIDR: "10.242.0.0/24", Settle: time.Second,
		Warmup: &DataplaneSample{ms(400), ms(450), ms(170)}, Samples: samples, Timings: summarize(samples), MachineCores: 0.25}

	// The data plane alone: no API part.
	var out bytes.Buffer
	if err := (&NetworkReport{Dataplane: dp}).WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	for _, w := range []string{
		"data plane: host nbench1 (namespace nbench1-host), subnet 10.242.0.0/24",
		"2 iterations after one warm-up",
		"(1s after its\ncreation)",
		"  timing                     n     p50     p90     max\n" +
			"  bind to port ACTIVE        2   300ms   310ms   310ms\n" +
			"  port ACTIVE to DHCP lease  2  40.0ms   890ms   890ms\n" +
			"  bind to DHCP lease         2   340ms  1200ms  1200ms\n" +
			"  FIP associate to ping      2   150ms   160ms   160ms\n",
		"first port of the network (warm-up, not counted): bind to DHCP lease 450ms, FIP associate to ping 170ms",
		"bind to DHCP lease: p50 340ms, p90 1200ms, max 1200ms; misses the aim (well under a second): the slowest iteration took 1200ms",
		"FIP associate to ping: p50 150ms, p90 160ms, max 160ms; meets the aim (well under a second): every iteration under 1s",
		"machine: 0.25 of",
	} {
		if !strings.Contains(table, w) {
			t.Errorf("table lacks %q:\n%s", w, table)
		}
	}
	if strings.Contains(table, "ops/s") {
		t.Errorf("a data-plane-only report shows the API table:\n%s", table)
	}

	var js bytes.Buffer
	if err := (&NetworkReport{Dataplane: dp}).WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back NetworkReport
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Dataplane == nil ||
		back.Dataplane.Timing(DPTimingLease).Max != ms(1200) || len(back.Dataplane.Samples) != 2 {
		t.Fatalf("JSON round trip: %v\n%s", err, js.String())
	}
}

func TestCollection(t *testing.T) {
	for kind, want := range map[string]string{"port": "/v2.0/ports", "floatingip": "/v2.0/floatingips",
		"security_group": "/v2.0/security-groups", "security_group_rule": "/v2.0/security-group-rules"} {
		if got := collection(kind); got != want {
			t.Errorf("collection(%q) = %q, want %q", kind, got, want)
		}
	}
}

// TestDataplaneScenario runs the data-plane scenarios briefly against a real
// throw-away cloud (this repository's nimbus, built here) on a bed of its own,
// then checks that nothing is left: bench namespaces, the agents' namespaces and
// dnsmasqs, the run dir. It needs root and the tools; no figure is asserted, the
// machine is shared.
func TestDataplaneScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cloud")
	}
	if missing := testbed.Missing(DataplaneTools...); len(missing) > 0 {
		t.Skipf("needs %s", strings.Join(missing, ", "))
	}
	exe := filepath.Join(t.TempDir(), "nimbus")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", exe, "github.com/nimbus-cloud/nimbus/cmd/nimbus")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build nimbus: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := StartDataplaneCloud(ctx, exe, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			c.Stop()
		}
	}()
	creds, err := LoadCloud("nimbus-admin", c.CloudsYAML)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Dataplane(ctx, DataplaneOptions{Credentials: creds, Bed: c.Bed, Host: c.Host,
		Dir: filepath.Join(c.DataDir, "dhclient"), Iterations: 2, Settle: 300 * time.Millisecond}, func(s string) { t.Log(s) })
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.DataDir, "nimbus.log"))
		t.Fatalf("%v\ncloud log:\n%s", err, tail(log, 4000))
	}
	if rep.Warmup == nil || len(rep.Samples) != 2 || len(rep.Timings) != 4 {
		t.Fatalf("report: %+v", rep)
	}
	for _, s := range append(rep.Samples, *rep.Warmup) {
		if s.Active <= 0 || s.Lease < s.Active || s.Reach <= 0 {
			t.Errorf("sample %+v", s)
		}
	}

	// What the agents made is found by their files, which go too: look before.
	agentNamespaces, dnsmasqs := c.agents.Namespaces(), c.agents.DNSMasqs()
	if len(agentNamespaces) < 2 || len(dnsmasqs) < 1 {
		t.Errorf("the agents made namespaces %v and dnsmasqs %v: want qdhcp- and qrouter- namespaces, dnsmasqs", agentNamespaces, dnsmasqs)
	}
	c.Stop()
	stopped = true
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, ns := range append(agentNamespaces, c.Bed.Prefix+"-") {
		if strings.Contains(string(out), ns) {
			t.Errorf("namespace %s is left:\n%s", ns, out)
		}
	}
	for _, pid := range dnsmasqs {
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(stat), ") Z ") {
			t.Errorf("dnsmasq %d is left", pid)
		}
	}
	if _, err := os.Stat(filepath.Dir(c.agents.DHCPDir)); !os.IsNotExist(err) {
		t.Errorf("the cloud's run dir is left: %v", err)
	}
	if _, err := os.Stat(c.DataDir); !os.IsNotExist(err) {
		t.Errorf("the data dir is left: %v", err)
	}
}
