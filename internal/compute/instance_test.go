package compute

import (
	"context"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// TestSaveInstanceWritesOnlyWhatChanged: a write changes the columns its
// caller changed and nothing else, so two writes of one instance read at the
// same time keep each other's changes; one whose instance changed state since
// it was read (deleted meanwhile) is refused and writes nothing, never bringing
// the row back; a JSON column stored in another spelling than Nimbus writes is
// still written against what is stored.
func TestSaveInstanceWritesOnlyWhatChanged(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	id := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, serverBody(nil))["server"].(map[string]any)["id"].(string)
	load := func() *instance {
		t.Helper()
		in, err := loadInstance(ctx, e.Compute.db, id)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}

	renamer, tagger := load(), load()
	renamer.Name = "renamed"
	if err := saveInstance(ctx, e.Compute.db, renamer); err != nil {
		t.Fatal(err)
	}
	tagger.Tags = []string{"blue"}
	if err := saveInstance(ctx, e.Compute.db, tagger); err != nil {
		t.Fatal(err)
	}
	if in := load(); in.Name != "renamed" || len(in.Tags) != 1 || in.Tags[0] != "blue" {
		t.Errorf("after a rename and a tag from the same read: name %q, tags %v; want both kept", in.Name, in.Tags)
	}

	// A JSON column spelt otherwise (a space before it) than it is written.
	if _, err := e.Compute.db.ExecContext(ctx, `UPDATE instances SET request = ' ' || request WHERE uuid = ?`, id); err != nil {
		t.Fatal(err)
	}
	in := load()
	in.Request.AccessIPv4 = "192.0.2.1"
	if err := saveInstance(ctx, e.Compute.db, in); err != nil {
		t.Fatalf("write of a column stored in another spelling: %v", err)
	}
	if in := load(); in.Request.AccessIPv4 != "192.0.2.1" {
		t.Errorf("access IPv4 %q after its write", in.Request.AccessIPv4)
	}

	stale := load()
	e.Must(204, "DELETE", "/v2.1/servers/"+id, e.DemoToken, nil) // never placed: deleted at once
	stale.Name = "back from the dead"
	err := saveInstance(ctx, e.Compute.db, stale)
	if !httpapi.IsStatus(err, 409) {
		t.Errorf("write of an instance deleted since it was read: %v, want 409", err)
	}
	if in := load(); !in.Deleted || in.VMState != vmDeleted || in.Name != "renamed" {
		t.Errorf("after the stale write: deleted %v, vm_state %s, name %q; want it deleted as it was", in.Deleted, in.VMState, in.Name)
	}
}
