package cloud

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/config"
)

func TestHostsLayoutSaveLoad(t *testing.T) {
	dir := t.TempDir()
	if l, err := LoadHostsLayout(dir); err != nil || l != nil {
		t.Fatalf("no state file: got %v, %v; want nil, nil", l, err)
	}
	want := &HostsLayout{ID: CloudID(dir), Host: "h", Dataplane: true, HostNamespace: "ns", Bridge: "nh" + CloudID(dir),
		Underlay: "198.18.7.0/24", Hosts: []ComputeHost{{Name: "h-c1", Namespace: "nimbus-x-c1", Veth: "nhx-c1",
			Address: "198.18.7.2", DataDir: filepath.Join(dir, "hosts", "c1"), PID: 42}}}
	if err := want.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := LoadHostsLayout(dir)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded %+v, %v; want %+v", got, err, want)
	}
	if g := got.Gateway().String(); g != "198.18.7.1/24" {
		t.Fatalf("gateway %s, want 198.18.7.1/24", g)
	}
	if err := os.WriteFile(filepath.Join(dir, StateFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadHostsLayout(dir); err == nil {
		t.Fatal("a broken state file loaded without error")
	}
}

func TestCloudIDNamesFitLinks(t *testing.T) {
	a, b := CloudID("/var/lib/nimbus"), CloudID("/tmp/cloud")
	if len(a) != 6 || a == b || a != CloudID("/var/lib/nimbus") {
		t.Fatalf("CloudID: %q, %q", a, b)
	}
	// The longest veth name of 250 hosts fits IFNAMSIZ (15 characters).
	if veth := "nh" + a + "-c250"; len(veth) > 15 {
		t.Fatalf("veth name %q longer than 15", veth)
	}
}

func TestConfigureKeepsAGivenTunnelEndpoint(t *testing.T) {
	l := &HostsLayout{Underlay: "198.18.3.0/24"}
	cfg := config.Default()
	l.Configure(&cfg)
	if cfg.Network.LocalIP != "198.18.3.1" {
		t.Fatalf("default local_ip became %q, want the underlay's gateway", cfg.Network.LocalIP)
	}
	cfg.Network.LocalIP = "10.1.2.3"
	l.Configure(&cfg)
	if cfg.Network.LocalIP != "10.1.2.3" {
		t.Fatalf("a local_ip given by hand became %q", cfg.Network.LocalIP)
	}
}

func TestAgentEnvNamesTheHost(t *testing.T) {
	l := &HostsLayout{}
	h := ComputeHost{Name: "h-c2", Namespace: "nimbus-abc123-c2", Address: "198.18.0.3", DataDir: "/d/hosts/c2"}
	env := l.AgentEnv(config.Default(), h)
	for _, want := range []string{"NIMBUS_NETWORK_HOST=h-c2", "NIMBUS_NETWORK_HOST_NAMESPACE=nimbus-abc123-c2",
		"NIMBUS_NETWORK_LOCAL_IP=198.18.0.3", "NIMBUS_NETWORK_DATAPLANE=on", "NIMBUS_LOG_FILE="} {
		if !slices.Contains(env, want) {
			t.Errorf("agent env %v lacks %s", env, want)
		}
	}
}

func TestPurgeRecognisesTheCloudsProcesses(t *testing.T) {
	dirs := []string{"/tmp/c/cloud", "/run/nimbus/abc"}
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"-drive", "file=/tmp/c/cloud/instances/u/disk,if=virtio"}, true},
		{[]string{"--data-dir", "/tmp/c/cloud"}, true},
		{[]string{"--pid-file=/run/nimbus/abc/dhcp/n/pid"}, true},
		{[]string{"--data-dir", "/tmp/c/cloud2"}, false},
		{[]string{"/tmp/c/cloudy/x"}, false},
		{nil, false},
	} {
		if got := namesUnder(tc.args, dirs); got != tc.want {
			t.Errorf("namesUnder(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
	for name, want := range map[string]bool{"qemu-system-x86_64": true, "dnsmasq": true, "nimbus": true,
		"qemu-storage-daemon": true, "bash": false, "tail": false, "sshd": false} {
		if purgedBinary(name) != want {
			t.Errorf("purgedBinary(%q) = %v, want %v", name, !want, want)
		}
	}
	if !alive(os.Getpid()) {
		t.Error("this process is not alive")
	}
}

func TestRecordedTaps(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "_taps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "_taps", "u1"), []byte("tapaaaaaaaa-11\ntapbbbbbbbb-22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Only tap names: a record is never a way to delete another device.
	if err := os.WriteFile(filepath.Join(dir, "_taps", "u2"), []byte("eth0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := recordedTaps(dir)
	slices.Sort(got)
	if want := []string{"tapaaaaaaaa-11", "tapbbbbbbbb-22"}; !slices.Equal(got, want) {
		t.Fatalf("recorded taps %v, want %v", got, want)
	}
}

func TestPurgeRefusesARelativeOrRootDataDir(t *testing.T) {
	for _, dir := range []string{"", "/", "relative/dir"} {
		cfg := config.Default()
		cfg.DataDir = dir
		if err := Purge(t.Context(), cfg, nil); err == nil {
			t.Errorf("Purge with data dir %q: no error", dir)
		}
	}
}
