package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

// TestRingCommand runs nimbus ring as an operator would: create, add devices,
// rebalance (the ring file appears), set a weight, remove a device, and the
// mistakes refused.
func TestRingCommand(t *testing.T) {
	dir := t.TempDir()
	builder := filepath.Join(dir, "object.builder")
	run := func(args ...string) error {
		cmd := ringCommand()
		cmd.SetArgs(args)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		return cmd.Execute()
	}
	must := func(args ...string) {
		t.Helper()
		if err := run(args...); err != nil {
			t.Fatalf("nimbus ring %s: %v", strings.Join(args, " "), err)
		}
	}
	must("create", builder, "6", "3")
	if err := run("create", builder, "6", "3"); err == nil {
		t.Fatal("create over an existing builder succeeded")
	}
	for _, d := range []string{"r1z1-127.0.0.1:6200/d1", "r1z2-127.0.0.1:6200/d2", "r1z3-127.0.0.1:6200/d3", "r1z4-127.0.0.1:6200/d4"} {
		must("add", builder, d, "100")
	}
	if err := run("add", builder, "r1z1-127.0.0.1:6200/d1", "100"); err == nil {
		t.Fatal("the same device added twice")
	}
	if err := run("add", builder, "127.0.0.1:6200/d9", "100"); err == nil {
		t.Fatal("a device without region and zone accepted")
	}
	must("rebalance", builder)
	r, err := ring.Load(filepath.Join(dir, "object.ring.gz"), "", "x")
	if err != nil || r.PartitionCount() != 64 || len(r.Devices()) != 4 {
		t.Fatalf("the ring file: %v", err)
	}
	must("set-weight", builder, "d3", "50")
	must("remove", builder, "3")
	must("rebalance", builder)
	must("show", builder)
	if err := run("remove", builder, "3"); err == nil {
		t.Fatal("a removed device removed again")
	}
	if err := run("set-weight", builder, "0", "heavy"); err == nil {
		t.Fatal("a weight that is no number accepted")
	}
	b, err := ring.LoadBuilder(builder)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range b.Replica2Part2Dev {
		for _, id := range row {
			if id == 3 {
				t.Fatal("the removed device still holds partitions")
			}
		}
	}
}
