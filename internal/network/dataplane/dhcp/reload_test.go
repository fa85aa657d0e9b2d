package dhcp

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAwaitHostsRead: only a "read <dir>/host" line written after the offset ends
// the wait; a directory without a log is not waited for.
func TestAwaitHostsRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := awaitHostsRead(ctx, dir, 0); err != nil {
		t.Fatalf("no log: %v", err)
	}
	log := filepath.Join(dir, "log")
	line := "Dec  3 19:00:45 dnsmasq-dhcp[1]: read " + filepath.Join(dir, "host") + "\n"
	if err := os.WriteFile(log, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	offset := logSize(dir)
	go func() {
		time.Sleep(20 * time.Millisecond)
		f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
		if err == nil {
			f.WriteString(line)
			f.Close()
		}
	}()
	if err := awaitHostsRead(ctx, dir, offset); err != nil {
		t.Fatalf("a reload logged after the offset: %v", err)
	}
	if err := awaitHostsRead(ctx, dir, logSize(dir)); err == nil {
		t.Fatal("the wait ended on a line from before the offset")
	}
}
