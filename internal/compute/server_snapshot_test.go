package compute

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

var _ SnapshotImages = (*memImages)(nil)

var memImageSeq atomic.Int64

// CreateImage makes a queued private image of the caller's project, its
// properties the strings of meta beyond Glance's own attributes.
func (m *memImages) CreateImage(ctx context.Context, token string, meta map[string]any) (Image, error) {
	creds, err := m.auth.Authenticate(ctx, token)
	if err != nil {
		return Image{}, err
	}
	n := memImageSeq.Add(1)
	img := Image{ID: fmt.Sprintf("cccccccc-0000-4000-8000-%012d", n), Status: "queued", Properties: map[string]string{},
		CreatedAt: fmt.Sprintf("2026-02-01T00:00:%02dZ", n%60)}
	for k, v := range meta {
		switch k {
		case "name":
			img.Name = v.(string)
		case "disk_format":
			img.DiskFormat = v.(string)
		case "container_format", "visibility", "min_disk", "min_ram":
		default:
			img.Properties[k] = fmt.Sprint(v)
		}
	}
	m.addPrivate(img, creds.ProjectID)
	return img, nil
}

// snapshotImages are the images made from server id, by name.
func (e *testEnv) snapshotImages(id string) map[string]Image {
	e.images.mu.Lock()
	defer e.images.mu.Unlock()
	out := map[string]Image{}
	for _, img := range e.images.images {
		if img.Properties["instance_uuid"] == id {
			out[img.Name] = img
		}
	}
	return out
}

// TestCreateImage: createImage makes the image as the caller with upstream's
// properties, answers Location before 2.45 and {"image_id"} from it, goes
// through the task states to ACTIVE with no task, and is refused in wrong
// states, for a volume-backed server and for another project.
func TestCreateImage(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	action := "/v2.1/servers/" + id + "/action"

	status, _, hdr := e.doAt("2.44", "POST", action, e.DemoToken, map[string]any{"createImage": map[string]any{"name": "snap1", "metadata": map[string]any{"k": "v"}}})
	if status != 202 || !strings.Contains(hdr.Get("Location"), "/images/cccccccc-") {
		t.Fatalf("createImage at 2.44: %d, Location %q", status, hdr.Get("Location"))
	}
	s := e.server(id)
	if s["OS-EXT-STS:task_state"] != taskImageSnapshotPending || s["status"] != "ACTIVE" {
		t.Errorf("after createImage: %v %v", s["status"], s["OS-EXT-STS:task_state"])
	}
	// A second one while the first runs is refused, with upstream's message.
	status, out, raw := e.Do("POST", action, e.DemoToken, map[string]any{"createImage": map[string]any{"name": "snap2"}})
	checkFault(t, status, out, raw, 409, "Cannot 'createImage' instance "+id+" while it is in task_state image_snapshot_pending")
	insts, err := e.Compute.HostInstances(t.Context(), "h1")
	if err != nil || len(insts) != 1 || insts[0].Snapshot == nil {
		t.Fatalf("the agent's view: %+v %v", insts, err)
	}
	e.agent()
	if s := e.server(id); s["OS-EXT-STS:task_state"] != nil || s["status"] != "ACTIVE" {
		t.Errorf("after the snapshot: %v %v", s["status"], s["OS-EXT-STS:task_state"])
	}
	img := e.snapshotImages(id)["snap1"]
	for k, want := range map[string]string{"image_type": "snapshot", "instance_uuid": id, "k": "v",
		"base_image_ref": "aaaaaaaa-0000-4000-8000-000000000001", "hypervisor_type": "qemu"} {
		if img.Properties[k] != want {
			t.Errorf("image property %s = %q, want %q (%v)", k, img.Properties[k], want, img.Properties)
		}
	}
	if img.Properties["user_id"] == "" {
		t.Errorf("image user_id missing: %v", img.Properties)
	}
	got := e.mustAt(202, "2.45", "POST", action, e.DemoToken, map[string]any{"createImage": map[string]any{"name": "snap3"}})
	if img := e.snapshotImages(id)["snap3"]; got["image_id"] != img.ID {
		t.Errorf("2.45 answer %v, image %v", got, img.ID)
	}
	e.agent()
	actions := e.Must(200, "GET", "/v2.1/servers/"+id+"/os-instance-actions", e.DemoToken, nil)["instanceActions"].([]any)
	if a := actions[0].(map[string]any); a["action"] != "createImage" {
		t.Errorf("latest action %v", a)
	}

	// Wrong state; a lock does not stop a snapshot (as upstream).
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"lock": nil})
	e.mustAt(202, "2.45", "POST", action, e.DemoToken, map[string]any{"createImage": map[string]any{"name": "locked"}})
	e.agent()
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"unlock": nil})
	for _, tc := range []struct {
		name  string
		body  any
		token string
		want  int
		msg   string
	}{
		{"no name", map[string]any{"createImage": map[string]any{}}, e.DemoToken, 400, "'name' is a required property"},
		{"unknown field", map[string]any{"createImage": map[string]any{"name": "x", "x": 1}}, e.DemoToken, 400, "('x' was unexpected)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, raw := e.Do("POST", action, tc.token, tc.body)
			checkFault(t, status, out, raw, tc.want, tc.msg)
		})
	}
}

// TestCreateBackup: rotation keeps the newest backups of a type; the
// Location before 2.45 only when rotation keeps the image; a volume-backed
// server is refused with upstream's message.
func TestCreateBackup(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	action := "/v2.1/servers/" + id + "/action"
	backup := func(name string, rotation any) (int, map[string]any) {
		status, out, hdr := e.doAt("2.44", "POST", action, e.DemoToken, map[string]any{"createBackup": map[string]any{
			"name": name, "backup_type": "daily", "rotation": rotation}})
		if status == 202 {
			if loc := hdr.Get("Location"); (rotation != 0) != (loc != "") {
				t.Errorf("backup %s rotation %v: Location %q", name, rotation, loc)
			}
			if s := e.server(id); s["OS-EXT-STS:task_state"] != taskImageBackup {
				t.Errorf("task state %v", s["OS-EXT-STS:task_state"])
			}
			e.agent()
		}
		return status, out
	}
	backup("b1", 2)
	backup("b2", "2")
	backup("b3", 2)
	imgs := e.snapshotImages(id)
	if len(imgs) != 2 || imgs["b1"].ID != "" {
		t.Errorf("after three backups with rotation 2: %v", imgs)
	}
	if b := imgs["b3"]; b.Properties["image_type"] != "backup" || b.Properties["backup_type"] != "daily" {
		t.Errorf("backup properties %v", b.Properties)
	}
	backup("b4", 1)
	if imgs := e.snapshotImages(id); len(imgs) != 1 || imgs["b4"].ID == "" {
		t.Errorf("after rotation 1: %v", imgs)
	}
	got := e.mustAt(202, "2.45", "POST", action, e.DemoToken, map[string]any{"createBackup": map[string]any{
		"name": "b5", "backup_type": "weekly", "rotation": 1}})
	if got["image_id"] == nil {
		t.Errorf("2.45 answer %v", got)
	}
	e.agent()
	for _, tc := range []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"negative rotation", map[string]any{"name": "x", "backup_type": "daily", "rotation": -1}, "rotation"},
		{"no backup_type", map[string]any{"name": "x", "rotation": 1}, "'backup_type' is a required property"},
	} {
		status, out, raw := e.Do("POST", action, e.DemoToken, map[string]any{"createBackup": tc.body})
		checkFault(t, status, out, raw, 400, tc.msg)
	}
}

// TestShelve: shelve → SHELVED_OFFLOADED at once (shelved_offload_time 0),
// no host and no claim; unshelve schedules it anew, spawns it from the
// shelved image on the same ports, deletes the image: ACTIVE. Wrong states,
// locks and the admin-only rules are refused as upstream.
func TestShelve(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	action := "/v2.1/servers/" + id + "/action"
	ports := e.server(id)["addresses"]

	status, out, raw := e.Do("POST", action, e.DemoToken, map[string]any{"unshelve": nil})
	checkFault(t, status, out, raw, 409, "Cannot 'unshelve' instance "+id+" while it is in vm_state active")
	status, out, raw = e.Do("POST", action, e.DemoToken, map[string]any{"shelveOffload": nil})
	checkFault(t, status, out, raw, 403, "os_compute_api:os-shelve:shelve_offload")
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"lock": nil})
	status, out, raw = e.Do("POST", action, e.DemoToken, map[string]any{"shelve": nil})
	checkFault(t, status, out, raw, 409, "Instance "+id+" is locked")
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"unlock": nil})

	e.Must(202, "POST", action, e.DemoToken, map[string]any{"shelve": nil})
	if s := e.server(id); s["OS-EXT-STS:task_state"] != taskShelving {
		t.Errorf("after shelve: %v", s["OS-EXT-STS:task_state"])
	}
	e.agent() // the snapshot; offloading follows at once
	if s := e.server(id); s["status"] != "SHELVED" || s["OS-EXT-STS:task_state"] != taskShelvingOffloading {
		t.Errorf("after the shelve's snapshot: %v %v", s["status"], s["OS-EXT-STS:task_state"])
	}
	image := e.snapshotImages(id)["vm-shelved"]
	if image.ID == "" {
		t.Fatalf("no shelved image: %v", e.snapshotImages(id))
	}
	e.agent()
	s := e.server(id)
	if s["status"] != "SHELVED_OFFLOADED" || s["OS-EXT-STS:task_state"] != nil || s["OS-EXT-SRV-ATTR:host"] != nil {
		t.Errorf("after offload: %v %v %v", s["status"], s["OS-EXT-STS:task_state"], s["OS-EXT-SRV-ATTR:host"])
	}
	if u := e.hostUsage("h1"); u.VCPUsUsed != 0 {
		t.Errorf("h1 still has %d vCPUs claimed", u.VCPUsUsed)
	}
	if ok, _ := e.drivers["h1"].State(t.Context(), virtSpec(id)); ok != 0 {
		t.Errorf("the guest is still on h1: %v", ok)
	}
	// A host named before 2.91 is ignored; at 2.91 a member may not name one.
	status, out, _ = e.doAt("2.91", "POST", action, e.DemoToken, map[string]any{"unshelve": map[string]any{"host": "h1"}})
	if status != 403 {
		t.Errorf("member unshelve to a host: %d %v", status, out)
	}
	status, out, _ = e.doAt("2.91", "POST", action, e.AdminToken, map[string]any{"unshelve": map[string]any{"host": "nope"}})
	if status != 400 {
		t.Errorf("unshelve to an unknown host: %d %v", status, out)
	}
	status, out, _ = e.doAt("2.77", "POST", action, e.DemoToken, map[string]any{"unshelve": map[string]any{"availability_zone": "elsewhere"}})
	if status != 400 {
		t.Errorf("unshelve to an unknown zone: %d %v", status, out)
	}

	e.mustAt(202, "2.91", "POST", action, e.AdminToken, map[string]any{"unshelve": map[string]any{"host": "h1"}})
	insts, err := e.Compute.HostInstances(t.Context(), "h1")
	if err == nil && len(insts) == 0 {
		e.conduct()
		insts, err = e.Compute.HostInstances(t.Context(), "h1")
	}
	if err != nil || len(insts) != 1 || insts[0].ImageID != image.ID {
		t.Fatalf("the agent's view of the unshelve: %+v %v", insts, err)
	}
	e.agent()
	s = e.server(id)
	if s["status"] != "ACTIVE" || s["OS-EXT-SRV-ATTR:host"] != "h1" || fmt.Sprint(s["addresses"]) != fmt.Sprint(ports) {
		t.Errorf("after unshelve: %v %v %v (was %v)", s["status"], s["OS-EXT-SRV-ATTR:host"], s["addresses"], ports)
	}
	if _, ok := e.snapshotImages(id)["vm-shelved"]; ok {
		t.Errorf("the shelved image is still there")
	}
	if u := e.hostUsage("h1"); u.VCPUsUsed != 1 {
		t.Errorf("h1 has %d vCPUs claimed, want 1", u.VCPUsUsed)
	}
	var names []string
	for _, a := range e.Must(200, "GET", "/v2.1/servers/"+id+"/os-instance-actions", e.DemoToken, nil)["instanceActions"].([]any) {
		names = append(names, a.(map[string]any)["action"].(string))
	}
	if strings.Join(names[:2], ",") != "unshelve,shelve" {
		t.Errorf("actions %v", names)
	}
}

// TestShelveKeptOnHost: with shelved_offload_time -1 a shelved server stays
// on its host, an admin offloads it, and unshelving a SHELVED server powers it
// on where it is (a zone is refused for it, as upstream).
func TestShelveKeptOnHost(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.ShelvedOffloadTime = shelveOffloadNever })
	e.net.networks = map[string]NetworkInfo{netUUID: {ID: netUUID, Name: "private", ProjectID: e.DemoProject, MTU: 1450}}
	e.host("h1", 8, 8192, 100)
	id := e.activeServer("2.1", nil)
	action := "/v2.1/servers/" + id + "/action"
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"shelve": nil})
	e.agent()
	if s := e.server(id); s["status"] != "SHELVED" || s["OS-EXT-STS:task_state"] != nil || s["OS-EXT-STS:power_state"] != float64(powerShutdown) {
		t.Fatalf("after shelve: %v %v %v", s["status"], s["OS-EXT-STS:task_state"], s["OS-EXT-STS:power_state"])
	}
	status, out, raw, _ := e.send("2.77", "POST", action, e.DemoToken, map[string]any{"unshelve": map[string]any{"availability_zone": "nova"}})
	checkFault(t, status, out, raw, 409, "Specifying an availability zone or a host when unshelving server \""+id+"\" with status \"shelved\" is not supported. The server status must be SHELVED_OFFLOADED.")
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"unshelve": nil})
	e.agent()
	if s := e.server(id); s["status"] != "ACTIVE" || s["OS-EXT-STS:power_state"] != float64(powerRunning) {
		t.Errorf("after unshelve: %v %v", s["status"], s["OS-EXT-STS:power_state"])
	}
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"shelve": nil})
	e.agent()
	e.Must(202, "POST", action, e.AdminToken, map[string]any{"shelveOffload": nil})
	e.agent()
	if s := e.server(id); s["status"] != "SHELVED_OFFLOADED" {
		t.Errorf("after shelveOffload: %v", s["status"])
	}
}

func virtSpec(id string) virt.Spec { return virt.Spec{UUID: id} }

// TestShelvedOffloadTime: with a positive shelved_offload_time a shelved
// server stays on its host until that long has passed, then the conductor
// starts its offload (upstream's _poll_shelved_instances).
func TestShelvedOffloadTime(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.ShelvedOffloadTime = 3600 })
	e.net.networks = map[string]NetworkInfo{netUUID: {ID: netUUID, Name: "private", ProjectID: e.DemoProject, MTU: 1450}}
	e.host("h1", 8, 8192, 100)
	id := e.activeServer("2.1", nil)
	e.Must(202, "POST", "/v2.1/servers/"+id+"/action", e.DemoToken, map[string]any{"shelve": nil})
	e.agent()
	e.conduct()
	if s := e.server(id); s["status"] != "SHELVED" || s["OS-EXT-STS:task_state"] != nil {
		t.Fatalf("within shelved_offload_time: %v %v", s["status"], s["OS-EXT-STS:task_state"])
	}
	later := time.Now().Add(2 * time.Hour)
	e.Compute.now = func() time.Time { return later }
	e.host("h1", 8, 8192, 100) // heard from at the new time
	e.conduct()
	if s := e.server(id); s["OS-EXT-STS:task_state"] != taskShelvingOffloading {
		t.Fatalf("after shelved_offload_time: %v %v", s["status"], s["OS-EXT-STS:task_state"])
	}
	e.agent()
	if s := e.server(id); s["status"] != "SHELVED_OFFLOADED" {
		t.Errorf("after the offload: %v", s["status"])
	}
}

// TestSnapshotFailure: the agent's intermediate states show in the server;
// a report moving to a state outside the task's is refused; a failed upload
// reverts the task state and deletes the image, as upstream.
func TestSnapshotFailure(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	got := e.mustAt(202, "2.45", "POST", "/v2.1/servers/"+id+"/action", e.DemoToken, map[string]any{"createImage": map[string]any{"name": "s"}})
	ctx := t.Context()
	if err := e.Compute.ReportInstance(ctx, AgentReport{Host: "h1", UUID: id, Task: taskImageSnapshotPending, Next: taskShelvingOffloading}); err == nil {
		t.Errorf("a move to shelving_offloading from a snapshot was taken")
	}
	if err := e.Compute.ReportInstance(ctx, AgentReport{Host: "h1", UUID: id, Task: taskImageSnapshotPending, Next: taskImageUploading}); err != nil {
		t.Fatal(err)
	}
	if s := e.server(id); s["OS-EXT-STS:task_state"] != taskImageUploading {
		t.Errorf("task state %v", s["OS-EXT-STS:task_state"])
	}
	if err := e.Compute.ReportInstance(ctx, AgentReport{Host: "h1", UUID: id, Task: taskImageUploading, PowerState: powerRunning, Error: "upload: boom"}); err != nil {
		t.Fatal(err)
	}
	if s := e.server(id); s["OS-EXT-STS:task_state"] != nil || s["status"] != "ACTIVE" {
		t.Errorf("after the failure: %v %v", s["status"], s["OS-EXT-STS:task_state"])
	}
	if imgs := e.snapshotImages(id); len(imgs) != 0 {
		t.Errorf("image %v kept after a failed snapshot: %v", got["image_id"], imgs)
	}
}

// TestDeleteShelved: deleting a SHELVED_OFFLOADED server (no host: at once)
// deletes its shelved image too, as upstream.
func TestDeleteShelved(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	e.Must(202, "POST", "/v2.1/servers/"+id+"/action", e.DemoToken, map[string]any{"shelve": nil})
	e.agent()
	e.agent()
	if imgs := e.snapshotImages(id); len(imgs) != 1 || e.server(id)["status"] != "SHELVED_OFFLOADED" {
		t.Fatalf("shelved: %v %v", e.server(id)["status"], imgs)
	}
	e.Must(204, "DELETE", "/v2.1/servers/"+id, e.DemoToken, nil)
	if imgs := e.snapshotImages(id); len(imgs) != 0 {
		t.Errorf("images left after the delete: %v", imgs)
	}
	e.Must(404, "GET", "/v2.1/servers/"+id, e.DemoToken, nil)
}
