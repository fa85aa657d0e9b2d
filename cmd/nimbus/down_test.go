package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestRunningUp: only a PID file whose lock a live up holds names a cloud to
// stop; one left by a dead up (its PID maybe another program's now) does not,
// and a second up on the data directory is refused while the first holds it.
func TestRunningUp(t *testing.T) {
	dir := t.TempDir()
	if pid, err := runningUp(dir); pid != 0 || err != nil {
		t.Fatalf("no pid file: %d, %v", pid, err)
	}
	// Left by an up killed with -9: the PID runs (this test), unlocked.
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if pid, err := runningUp(dir); pid != 0 || err != nil {
		t.Fatalf("pid file of a dead up: %d, %v; want 0", pid, err)
	}
	remove, err := writePIDFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if pid, err := runningUp(dir); pid != os.Getpid() || err != nil {
		t.Fatalf("pid file held by a running up: %d, %v; want %d", pid, err, os.Getpid())
	}
	if _, err := writePIDFile(dir); err == nil {
		t.Fatal("a second up on the data directory was not refused")
	}
	remove()
	if _, err := os.Stat(filepath.Join(dir, pidFile)); !os.IsNotExist(err) {
		t.Fatalf("pid file left after remove: %v", err)
	}
	if pid, err := runningUp(dir); pid != 0 || err != nil {
		t.Fatalf("after up stopped: %d, %v", pid, err)
	}
}
