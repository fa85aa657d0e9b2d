package metadata

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// TestConvergeCommands checks the commands and listeners of Converge with a recording
// fake runner: lo brought up and given the address only where missing, nothing
// changed by a second pass or by a restarted proxy, listeners only for admin-up
// routers with a namespace, re-opened when the namespace is made again or the
// listener died, closed when the router goes.
func TestConvergeCommands(t *testing.T) {
	r := &fakeRunner{Outputs: map[string]string{
		"|ip netns list":                     "qrouter-r1\nqrouter-r2 (id: 7)\nqrouter-r4\nqdhcp-n1\n",
		"qrouter-r1|ip -d -j addr show":      loJSON(false),
		"qrouter-r2|ip -d -j addr show":      loJSON(true, "169.254.169.254/32"),
		"qrouter-r4|ip -d -j addr show":      loJSON(true),
		"|ip -d -j addr show":                "[]",
		"qdhcp-n1|ip -d -j addr show":        loJSON(true),
		"qrouter-missing|ip -d -j addr show": "",
	}}
	st := dataplane.State{Routers: []dataplane.Router{
		{ID: "r1", AdminStateUp: true},
		{ID: "r2", AdminStateUp: true},
		{ID: "r3", AdminStateUp: true}, // no namespace (yet): nothing to serve
		{ID: "r4", AdminStateUp: false},
	}}
	newProxy := func() (*Proxy, *fakeNamespaces) {
		p, err := New(Options{Runner: r, Lookup: &fakeLookup{}, MetadataURL: "http://127.0.0.1:8775", SharedSecret: "s",
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		f := newFakeNamespaces()
		f.install(t, p)
		return p, f
	}
	p, f := newProxy()
	ctx := context.Background()
	converge := func() {
		t.Helper()
		if wired, err := p.Converge(ctx, st); err != nil || wired != nil {
			t.Fatalf("Converge = %v, %v", wired, err)
		}
	}
	serving := func(want ...string) {
		t.Helper()
		got := p.Serving()
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("serving %v, want %v", got, want)
		}
	}

	converge()
	if got, want := take(r), []string{
		"qrouter-r1|ip link set lo up",
		"qrouter-r1|ip addr add 169.254.169.254/32 dev lo",
	}; !slices.Equal(got, want) {
		t.Fatalf("first pass ran %q, want %q", got, want)
	}
	serving("r1", "r2")

	// The host now holds what the first pass made.
	r.Outputs["qrouter-r1|ip -d -j addr show"] = loJSON(true, "169.254.169.254/32")
	converge()
	if c := take(r); len(c) > 0 {
		t.Fatalf("second pass ran %q", c)
	}
	if f.opened["qrouter-r1"] != 1 || f.opened["qrouter-r2"] != 1 {
		t.Fatalf("listeners opened %v, want one each", f.opened)
	}

	// A restarted proxy (a kill -9 of the agent) finds the addresses: it only listens.
	p.Close()
	p, f = newProxy()
	converge()
	if c := take(r); len(c) > 0 {
		t.Fatalf("pass after a restart ran %q", c)
	}
	serving("r1", "r2")

	// r2's namespace deleted and made again by the L3 part: a new listener.
	f.ids["qrouter-r2"] = nsID{dev: 4, ino: 99}
	old := f.lns["qrouter-r2"]
	converge()
	if f.opened["qrouter-r2"] != 2 {
		t.Fatalf("listeners opened in qrouter-r2: %d, want 2", f.opened["qrouter-r2"])
	}
	if !old.closed.Load() {
		t.Fatal("the listener in the old namespace still accepts")
	}

	// r1's listener dies behind our back: the next pass opens it again.
	f.lns["qrouter-r1"].Close()
	waitFor(t, func() bool { return !slices.Contains(p.Serving(), "r1") })
	converge()
	if f.opened["qrouter-r1"] != 2 {
		t.Fatalf("listeners opened in qrouter-r1: %d, want 2", f.opened["qrouter-r1"])
	}
	serving("r1", "r2")

	// r1 set admin-down, then r2 removed: their listeners close.
	st.Routers[0].AdminStateUp = false
	r1 := f.lns["qrouter-r1"]
	converge()
	serving("r2")
	if !r1.closed.Load() {
		t.Fatal("an admin-down router's listener still accepts")
	}
	st.Routers = st.Routers[2:]
	converge()
	serving()
	if c := take(r); len(c) > 0 {
		t.Fatalf("removing routers ran %q (the address goes with the namespace)", c)
	}

	p.Close()
	if _, err := p.Converge(ctx, st); err == nil {
		t.Fatal("Converge after Close succeeded")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("condition not met within 2 s")
}
