package qemu

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

func TestTail(t *testing.T) {
	tests := []struct {
		text string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\nc\n", 0, "a\nb\nc\n"},
		{"a\nb\nc\n", 5, "a\nb\nc\n"},
		{"a\nb\nc\n", 1, "c\n"},
		{"", 3, ""},
		{"\n\n", 1, "\n"},
	}
	for _, tt := range tests {
		if got := tail(tt.text, tt.n); got != tt.want {
			t.Errorf("tail(%q, %d) = %q, want %q", tt.text, tt.n, got, tt.want)
		}
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		out  string
		want int
	}{
		{"QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022", 7002022},
		{"QEMU emulator version 8.1.0\n", 8001000},
		{"QEMU emulator version 9.2\n", 9002000},
	}
	for _, tt := range tests {
		if got, err := parseVersion(tt.out); err != nil || got != tt.want {
			t.Errorf("parseVersion(%q) = %d, %v; want %d", tt.out, got, err, tt.want)
		}
	}
	if _, err := parseVersion("no such thing"); err == nil {
		t.Error("parseVersion of nonsense: no error")
	}
}

func TestPowerState(t *testing.T) {
	for status, want := range map[string]virt.PowerState{
		"running": virt.Running, "paused": virt.Paused, "prelaunch": virt.Paused, "inmigrate": virt.Paused,
		"postmigrate": virt.Paused, "suspended": virt.Paused, "io-error": virt.Paused,
		"guest-panicked": virt.Crashed, "internal-error": virt.Crashed, "shutdown": virt.Shutdown,
	} {
		if got := powerState(status); got != want {
			t.Errorf("powerState(%q) = %v, want %v", status, got, want)
		}
	}
}

// TestShellQuote runs the quoted words through /bin/sh, which is what QEMU does with
// an exec: migration URI.
func TestShellQuote(t *testing.T) {
	for _, s := range []string{"/plain/path", "/with space/state", "/it's/state", `/a"b$c;d\e/state`} {
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("sh printf %s = %q, %v; want %q", shellQuote(s), out, err, s)
		}
	}
}

func TestMemTotal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meminfo")
	os.WriteFile(path, []byte("MemTotal:       24576000 kB\nMemFree:         1000 kB\n"), 0o644)
	if got, err := memTotalMB(path); err != nil || got != 24000 {
		t.Fatalf("memTotalMB = %d, %v; want 24000", got, err)
	}
	os.WriteFile(path, []byte("MemFree: 1 kB\n"), 0o644)
	if _, err := memTotalMB(path); err == nil {
		t.Fatal("memTotalMB without MemTotal: no error")
	}
}

// TestNoProcessStates checks what the files say of a guest without QEMU, and that a
// pid file naming another process (a reused pid) is not taken for the guest.
func TestNoProcessStates(t *testing.T) {
	instances := t.TempDir()
	d, err := New(Options{InstancesDir: instances, Binary: "/bin/true", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	s := baseSpec()
	s.Dir = filepath.Join(instances, "u1")
	ctx := t.Context()
	if st, err := d.State(ctx, s); st != virt.NoState || !errors.Is(err, virt.ErrNotFound) {
		t.Fatalf("State without a dir = %v, %v; want nostate, ErrNotFound", st, err)
	}
	if err := d.Pause(ctx, s); !errors.Is(err, virt.ErrNotFound) {
		t.Fatalf("Pause without a dir = %v, want ErrNotFound", err)
	}
	os.MkdirAll(s.Dir, 0o755)
	writeInstanceDoc(s)
	// This test's own pid: alive, but not a QEMU of this guest.
	os.WriteFile(filepath.Join(s.Dir, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	if st, err := d.State(ctx, s); st != virt.Shutdown || err != nil {
		t.Fatalf("State with a dir = %v, %v; want shutdown", st, err)
	}
	if err := d.Suspend(ctx, s); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Suspend of a stopped guest = %v, want ErrNotRunning", err)
	}
	os.WriteFile(filepath.Join(s.Dir, stateFile), []byte("saved"), 0o644)
	if st, err := d.State(ctx, s); st != virt.Suspended || err != nil {
		t.Fatalf("State with saved state = %v, %v; want suspended", st, err)
	}
	os.Mkdir(filepath.Join(instances, "not-a-guest"), 0o755)
	list, err := d.List(ctx)
	if err != nil || len(list) != 1 || list[0] != (virt.Info{UUID: s.UUID, State: virt.Suspended}) {
		t.Fatalf("List = %+v, %v; want the one suspended guest", list, err)
	}
	if err := d.Destroy(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Destroy left the dir: %v", err)
	}
	if !isAlive(os.Getpid()) {
		t.Fatal("Destroy signalled a process that is not the guest's")
	}
	for _, dir := range []string{"", "/", instances, filepath.Dir(instances), filepath.Join(instances, "a", "b"), "relative/dir"} {
		other := s
		other.Dir = dir
		if err := d.Destroy(ctx, other); err == nil {
			t.Errorf("Destroy with dir %q outside the instances dir: no error", dir)
		}
	}
	if _, err := os.Stat(instances); err != nil {
		t.Fatalf("Destroy removed the instances dir: %v", err)
	}
}

func isAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }
