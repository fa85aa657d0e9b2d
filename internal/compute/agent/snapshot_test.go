package agent

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/fake"
)

// TestAgentSnapshotTasks: a snapshot reports its task states in upstream's
// order and ends on the last; a shelve powers the guest off first; an offload
// destroys the guest; an unshelve powers it on; a snapshot without an image is
// an error.
func TestAgentSnapshotTasks(t *testing.T) {
	ctx := context.Background()
	d := fake.New(virt.HostResources{})
	for _, id := range []string{"snap", "backup", "shelve", "offload", "unshelve", "no-image"} {
		if err := d.Spawn(ctx, virt.Spec{UUID: id}); err != nil {
			t.Fatal(err)
		}
	}
	_ = d.PowerOff(ctx, virt.Spec{UUID: "offload"}, 0)
	_ = d.PowerOff(ctx, virt.Spec{UUID: "unshelve"}, 0)
	img := &compute.AgentImage{ID: "img", DiskFormat: "qcow2"}
	c := &ctrl{want: []compute.AgentInstance{
		{UUID: "snap", VMState: "active", TaskState: "image_snapshot_pending", PowerState: 1, Snapshot: img},
		{UUID: "backup", VMState: "active", TaskState: "image_backup", PowerState: 1, Snapshot: img},
		{UUID: "shelve", VMState: "active", TaskState: "shelving", PowerState: 1, Snapshot: img},
		{UUID: "offload", VMState: "shelved", TaskState: "shelving_offloading", PowerState: 4},
		{UUID: "unshelve", VMState: "shelved", TaskState: "unshelving", PowerState: 4},
		{UUID: "no-image", VMState: "active", TaskState: "image_backup", PowerState: 1},
	}}
	a, err := New(Options{Host: "h1", Driver: d, Controller: c, InstancesDir: t.TempDir(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	a.wg.Wait()
	byInstance := map[string][]string{}
	c.mu.Lock()
	reports := c.reports // in the order made (take sorts them)
	c.mu.Unlock()
	for _, r := range reports {
		step := r.Task + ">" + r.Next
		if r.Next == "" {
			step = r.Task
			if r.Error != "" {
				step += "!"
			}
		}
		byInstance[r.UUID] = append(byInstance[r.UUID], step)
	}
	for id, want := range map[string][]string{
		"snap": {"image_snapshot_pending>image_snapshot", "image_snapshot>image_pending_upload",
			"image_pending_upload>image_uploading", "image_uploading"},
		"backup":   {"image_backup>image_pending_upload", "image_pending_upload>image_uploading", "image_uploading"},
		"shelve":   {"shelving>shelving_image_pending_upload", "shelving_image_pending_upload>shelving_image_uploading", "shelving_image_uploading"},
		"offload":  {"shelving_offloading"},
		"unshelve": {"unshelving"},
		"no-image": {"image_backup!"},
	} {
		if got := byInstance[id]; !slices.Equal(got, want) {
			t.Errorf("%s reported %v, want %v", id, got, want)
		}
	}
	for id, want := range map[string]virt.PowerState{"snap": virt.Running, "shelve": virt.Shutdown, "offload": virt.NoState, "unshelve": virt.Running} {
		if st, _ := d.State(ctx, virt.Spec{UUID: id}); st != want {
			t.Errorf("%s: %s, want %s", id, st, want)
		}
	}
}
