package dhcp

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// reloadWait bounds the wait for dnsmasq to read its host file after a start or
// a SIGHUP: past it the pass goes on (the resync retries nothing: dnsmasq has the
// file, just late).
const reloadWait = time.Second

// logSize is the size of the network's dnsmasq log now (0 when it has none), to
// look for a reload's line after it.
func logSize(dir string) int64 {
	fi, err := os.Stat(filepath.Join(dir, "log"))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// awaitHostsRead waits until dnsmasq's log, past offset, says it read the host
// file. A SIGHUP only asks: dnsmasq re-reads in its own loop, and a port reported
// ACTIVE before that would see its guest's first DISCOVER ignored (a static
// range answers only the hosts it has read) and wait seconds for the retry. A
// directory without a log (no dnsmasq of ours wrote it: the tests' fakes) is not
// waited for.
func awaitHostsRead(ctx context.Context, dir string, offset int64) error {
	path := filepath.Join(dir, "log")
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	want := []byte("read " + filepath.Join(dir, "host") + "\n")
	deadline := time.Now().Add(reloadWait)
	for {
		if f, err := os.Open(path); err == nil {
			data, err := readFrom(f, offset)
			f.Close()
			if err == nil && bytes.Contains(data, want) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dnsmasq did not log reading %s within %s", filepath.Join(dir, "host"), reloadWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func readFrom(f *os.File, offset int64) ([]byte, error) {
	if _, err := f.Seek(offset, 0); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	_, err := b.ReadFrom(f)
	return b.Bytes(), err
}
