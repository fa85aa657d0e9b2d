package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestVolumeReport: the table shows each operation's count, failures and
// percentiles; Check fails on a failed operation and names it.
func TestVolumeReport(t *testing.T) {
	for _, c := range []struct {
		name      string
		scenarios []Stats
		want      []string
		checkErr  string // "" Check passes
	}{
		{"clean", []Stats{
			{Name: VolScenarioBlank, Requests: 10, P50: 120 * time.Millisecond, P95: 150 * time.Millisecond, Max: 200 * time.Millisecond},
			{Name: VolScenarioAttach, Requests: 10, P50: 45 * time.Millisecond, P95: 60 * time.Millisecond, Max: 61 * time.Millisecond},
		}, []string{VolScenarioBlank, "120ms", "150ms", "200ms", VolScenarioAttach, "45.0ms", "volumes on node1@file#file"}, ""},
		{"a failure", []Stats{
			{Name: VolScenarioImage, Requests: 4, Errors: 1, FirstError: "volume v is error, want \"available\"", P50: 2 * time.Second},
		}, []string{VolScenarioImage, "2000ms", "first error in " + VolScenarioImage}, VolScenarioImage + ": 1 of 4 failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &VolumeReport{Target: "http://127.0.0.1:1/v3/p", Cores: 2, Concurrency: 4, ImageSize: 64 << 20,
				Backend: "node1@file#file", Poll: 10 * time.Millisecond, Scenarios: c.scenarios}
			var b strings.Builder
			if err := r.WriteTable(&b); err != nil {
				t.Fatal(err)
			}
			for _, want := range c.want {
				if !strings.Contains(b.String(), want) {
					t.Errorf("table lacks %q:\n%s", want, b.String())
				}
			}
			err := r.Check()
			if (c.checkErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.checkErr) {
				t.Errorf("Check = %v, want %q", err, c.checkErr)
			}
		})
	}
}

// TestVolumeScenario runs a short version of the scenario against a
// throw-away cloud (this repository's nimbus, built here): every operation
// must succeed and be counted, and the cloud must hold no volume, snapshot
// or image of the bench afterwards. No figure is asserted: the machine is
// shared.
func TestVolumeScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cloud")
	}
	exe := filepath.Join(t.TempDir(), "nimbus")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", exe, "github.com/nimbus-cloud/nimbus/cmd/nimbus")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build nimbus: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := StartCloud(ctx, exe, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	creds, err := LoadCloud("nimbus-admin", c.CloudsYAML)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Volume(ctx, VolumeOptions{Credentials: creds, Volumes: 2, Concurrency: 2, ImageSize: 1<<20 + 4096,
		ServerPID: c.PID}, func(s string) { t.Log(s) })
	if err == nil {
		err = rep.Check()
	}
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.DataDir, "nimbus.log"))
		t.Fatalf("%v\ncloud log:\n%s", err, tail(log, 4000))
	}
	for _, name := range []string{VolScenarioBlank, VolScenarioBlankConc, VolScenarioImage, VolScenarioImageConc,
		VolScenarioSnapshot, VolScenarioAttach, VolScenarioDetach, VolScenarioLegacyAttach, VolScenarioLegacyDetach,
		VolScenarioSnapshotDelete, VolScenarioDelete} {
		if s := rep.Scenario(name); s == nil || s.Requests != 2 || s.P50 <= 0 || s.Max < s.P50 {
			t.Errorf("%s: %+v", name, s)
		}
	}
	// what the bench made is gone
	token, endpoint, _, err := serviceLogin(ctx, creds, "block-storage")
	if err != nil {
		t.Fatal(err)
	}
	api := &cinder{api: newKeystone(endpoint, 1, time.Minute), token: token}
	defer api.api.close()
	for _, path := range []string{"/volumes", "/snapshots"} {
		out, err := api.call(ctx, "GET", path, nil, 200)
		if err != nil || strings.Contains(string(out), "nimbus-bench") {
			t.Errorf("GET %s after the bench: %v %s", path, err, out)
		}
	}
}
