package netns

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// TestWatchLinksNamesTapsOfItsNamespace makes a tap in a fresh namespace and one in
// the host's, and checks that the namespace's watcher names the first only, and that
// ending the context closes the channel.
func TestWatchLinksNamesTapsOfItsNamespace(t *testing.T) {
	name := newNamespace(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	links, err := WatchLinks(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	outside := "tapnsw-out"
	if out, err := exec.Command("ip", "tuntap", "add", "dev", outside, "mode", "tap").CombinedOutput(); err != nil {
		t.Fatalf("ip tuntap add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", outside).Run() })
	if out, err := exec.Command("ip", "-n", name, "tuntap", "add", "dev", "tapnsw-in", "mode", "tap").CombinedOutput(); err != nil {
		t.Fatalf("ip tuntap add in %s: %v: %s", name, err, out)
	}
	deadline := time.After(10 * time.Second)
	for seen := false; !seen; {
		select {
		case link := <-links:
			if link == outside {
				t.Fatalf("the watcher of %s named %s, a link of the host's namespace", name, link)
			}
			seen = link == "tapnsw-in"
		case <-deadline:
			t.Fatal("no event for the tap made in the namespace")
		}
	}
	cancel()
	for {
		select {
		case _, open := <-links:
			if !open {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the channel stayed open after the context ended")
		}
	}
}

func TestLinkNamesIgnoresGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {1, 2, 3}, make([]byte, 64)} {
		if got := linkNames(b); len(got) != 0 {
			t.Fatalf("linkNames(%v) = %q", b, got)
		}
	}
}
