package compute

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/fake"
)

// volumePass is one pass of the host's agent over its instances' volumes with
// the fake driver (the agent package's syncVolumes, which TestSyncVolumes
// covers, replayed here as agentPass replays its loop): the guests get their
// attaching volumes, lose their detaching ones, and the agent reports.
func (e *testEnv) volumePass(host string) {
	e.t.Helper()
	ctx := context.Background()
	d := e.drivers[host]
	want, err := e.Compute.HostInstances(ctx, host)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, inst := range want {
		if len(inst.Volumes) == 0 {
			continue
		}
		spec := virt.Spec{UUID: inst.UUID}
		var present []string
		for _, v := range inst.Volumes {
			if v.Status == VolumeDetaching {
				if err := d.DetachVolume(ctx, spec, v.Disk.VolumeID); err != nil {
					e.t.Fatal(err)
				}
				continue
			}
			if err := d.AttachVolume(ctx, spec, v.Disk); err != nil {
				e.t.Fatal(err)
			}
			present = append(present, v.Disk.VolumeID)
		}
		if err := e.Compute.ReportVolumes(ctx, VolumeReport{Host: host, UUID: inst.UUID, Present: present}); err != nil {
			e.t.Fatal(err)
		}
	}
}

func newVolumeEnv(t *testing.T) (*testEnv, *memVolumes) {
	vols := newMemVolumes()
	e := newTestEnv(t, func(o *Options) { o.Volumes = vols })
	if err := e.Compute.ReportService(context.Background(), ServiceReport{Host: "h1", HostIP: "192.0.2.10", VCPUs: 8,
		MemoryMB: 8192, DiskGB: 100, HypervisorType: "QEMU", HypervisorVersion: 7002000}); err != nil {
		t.Fatal(err)
	}
	return e, vols
}

const (
	testVolume      = "b0000000-0000-4000-8000-000000000001"
	testVolume2     = "b0000000-0000-4000-8000-000000000002"
	otherVolume     = "b0000000-0000-4000-8000-0000000000ee"
	missingVolumeID = "b0000000-0000-4000-8000-0000000000ff"
)

// TestVolumeAttachDetach: attach reserves the volume as the caller with the
// host's connector and answers the attachment at once; the agent plugs the
// disk and the attachment is completed (in-use); the server and the list show
// it per microversion; detach unplugs it and ends the attachment; bad input,
// volumes the caller cannot see, a second attach and wrong states are
// upstream's faults with nothing changed.
func TestVolumeAttachDetach(t *testing.T) {
	e, vols := newVolumeEnv(t)
	id := e.boot(e.DemoToken, nil)
	other := e.boot(e.DemoToken, map[string]any{"name": "other"})
	vols.add(e.DemoProject, Volume{ID: testVolume, Size: 1})
	vols.add(e.DemoProject, Volume{ID: testVolume2, Size: 2})
	vols.add(e.identity.AdminProject, Volume{ID: otherVolume, Size: 1})
	path := "/v2.1/servers/" + id + "/os-volume_attachments"
	att := func(m map[string]any) map[string]any { return map[string]any{"volumeAttachment": m} }

	for _, tc := range []struct {
		name, version string
		body          any
		status        int
		msg           string
	}{
		{"no volume", "", att(map[string]any{}), 400, "'volumeId' is a required property"},
		{"volume id not a uuid", "", att(map[string]any{"volumeId": "vol-1"}), 400, "is not a 'uuid'"},
		{"tag before 2.49", "2.48", att(map[string]any{"volumeId": testVolume, "tag": "t"}), 400, "('tag' was unexpected)"},
		{"delete_on_termination before 2.79", "2.78", att(map[string]any{"volumeId": testVolume, "delete_on_termination": true}), 400, "('delete_on_termination' was unexpected)"},
		{"bad device", "", att(map[string]any{"volumeId": testVolume, "device": "/dev/../sda"}), 400, "'/dev/../sda' does not match"},
		{"unknown volume", "", att(map[string]any{"volumeId": missingVolumeID}), 404, "Volume " + missingVolumeID + " could not be found."},
		{"another project's volume", "", att(map[string]any{"volumeId": otherVolume}), 404, "Volume " + otherVolume + " could not be found."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, raw, _ := e.send(tc.version, "POST", path, e.DemoToken, tc.body)
			checkFault(t, status, out, raw, tc.status, tc.msg)
		})
	}
	if calls := vols.log(); len(calls) != 0 {
		t.Fatalf("refused attaches called the volume service: %v", calls)
	}

	status, out, raw, _ := e.send("2.79", "POST", path, e.DemoToken,
		att(map[string]any{"volumeId": testVolume, "tag": "data", "delete_on_termination": true}))
	want := map[string]any{"id": testVolume, "serverId": id, "volumeId": testVolume, "device": "/dev/vdb", "tag": "data",
		"delete_on_termination": true}
	if status != 200 || !jsonEqual(out["volumeAttachment"], want) {
		t.Fatalf("attach: %d %s", status, raw)
	}
	if v := vols.volume(testVolume); v.Status != "attaching" {
		t.Fatalf("volume after the attach: %s, want attaching", v.Status)
	}
	if calls := vols.log(); !slices.Equal(calls, []string{"create-attachment " + testVolume, "update-attachment " + testVolume + " h1 192.0.2.10"}) {
		t.Fatalf("volume service calls %v", calls)
	}
	e.fault(t, "", "POST", path, e.DemoToken, att(map[string]any{"volumeId": testVolume}), 400,
		"Invalid volume: volume "+testVolume+" is already attached to instances: "+id)
	e.fault(t, "", "POST", "/v2.1/servers/"+other+"/os-volume_attachments", e.DemoToken,
		att(map[string]any{"volumeId": testVolume}), 400, "Invalid volume: volume "+testVolume+" is already attached to instances: "+id)

	// Until the guest has the disk the detach is refused, as Cinder refuses
	// to begin detaching a volume that is not in-use.
	e.fault(t, "", "DELETE", path+"/"+testVolume, e.DemoToken, nil, 400, "Volume status must be 'in-use'")
	e.volumePass("h1")
	if v := vols.volume(testVolume); v.Status != "in-use" || len(v.Attachments) != 1 || v.Attachments[0].ServerID != id {
		t.Fatalf("volume after the agent attached it: %+v", v)
	}
	if got := e.drivers["h1"].Hotplugs(); !slices.Equal(got, []string{"attach-volume " + id + " " + testVolume}) {
		t.Fatalf("hot-plugs %v", got)
	}
	e.Must(200, "POST", path, e.DemoToken, att(map[string]any{"volumeId": testVolume2}))
	e.volumePass("h1")

	list := func(version string) []any {
		t.Helper()
		status, out, raw, _ := e.send(version, "GET", path, e.DemoToken, nil)
		if status != 200 {
			t.Fatalf("list: %d %s", status, raw)
		}
		return out["volumeAttachments"].([]any)
	}
	if got := list(""); !jsonEqual(got, []any{
		map[string]any{"id": testVolume, "serverId": id, "volumeId": testVolume, "device": "/dev/vdb"},
		map[string]any{"id": testVolume2, "serverId": id, "volumeId": testVolume2, "device": "/dev/vdc"}}) {
		t.Fatalf("list at 2.1: %v", got)
	}
	got89 := list("2.89")[0].(map[string]any)
	if _, hasID := got89["id"]; hasID || got89["attachment_id"] == "" || got89["bdm_uuid"] == "" || got89["tag"] != "data" ||
		got89["delete_on_termination"] != true {
		t.Fatalf("list at 2.89: %v", got89)
	}
	if got := list("2.1"); len(got) != 2 {
		t.Fatalf("list: %v", got)
	}
	status, out, _, _ = e.send("2.1", "GET", path+"?limit=1&offset=1", e.DemoToken, nil)
	if status != 200 || len(out["volumeAttachments"].([]any)) != 1 || out["volumeAttachments"].([]any)[0].(map[string]any)["volumeId"] != testVolume2 {
		t.Fatalf("list with limit and offset: %v", out)
	}
	show := e.Must(200, "GET", path+"/"+testVolume, e.DemoToken, nil)["volumeAttachment"]
	if !jsonEqual(show, map[string]any{"id": testVolume, "serverId": id, "volumeId": testVolume, "device": "/dev/vdb"}) {
		t.Fatalf("show: %v", show)
	}
	e.fault(t, "", "GET", path+"/"+missingVolumeID, e.DemoToken, nil, 404,
		"Instance "+id+" is not attached to volume "+missingVolumeID)
	_, srv, _, _ := e.send("2.3", "GET", "/v2.1/servers/"+id, e.DemoToken, nil)
	if got := srv["server"].(map[string]any)["os-extended-volumes:volumes_attached"]; !jsonEqual(got, []any{
		map[string]any{"id": testVolume, "delete_on_termination": true}, map[string]any{"id": testVolume2, "delete_on_termination": false}}) {
		t.Fatalf("volumes_attached at 2.3: %v", got)
	}
	_, srvs, _, _ := e.send("2.2", "GET", "/v2.1/servers/detail", e.DemoToken, nil)
	for _, s := range srvs["servers"].([]any) {
		s := s.(map[string]any)
		want := []any{}
		if s["id"] == id {
			want = []any{map[string]any{"id": testVolume}, map[string]any{"id": testVolume2}}
		}
		if got := s["os-extended-volumes:volumes_attached"]; !jsonEqual(got, want) {
			t.Fatalf("volumes_attached of %s in the list at 2.2: %v", s["id"], got)
		}
	}

	// update: delete_on_termination from 2.85; a swap is Cinder's (admin).
	e.sendMust(202, "2.85", "PUT", path+"/"+testVolume2, e.DemoToken, att(map[string]any{"volumeId": testVolume2, "delete_on_termination": true}))
	e.fault(t, "2.85", "PUT", path+"/"+testVolume2, e.DemoToken, att(map[string]any{"volumeId": testVolume2, "device": "/dev/vdz"}),
		400, "The device property is not mutable")
	e.fault(t, "2.84", "PUT", path+"/"+testVolume2, e.DemoToken, att(map[string]any{"volumeId": testVolume}), 403,
		"os_compute_api:os-volumes-attachments:swap")
	e.fault(t, "2.84", "PUT", path+"/"+testVolume2, e.AdminToken, att(map[string]any{"volumeId": testVolume}), 409,
		"volume "+testVolume2+" is not migrating; this API should only be called by Cinder")

	// A locked server refuses its owner.
	e.Must(202, "POST", "/v2.1/servers/"+id+"/action", e.AdminToken, map[string]any{"lock": nil})
	e.fault(t, "", "DELETE", path+"/"+testVolume, e.DemoToken, nil, 409, "Instance "+id+" is locked")
	e.Must(202, "POST", "/v2.1/servers/"+id+"/action", e.AdminToken, map[string]any{"unlock": nil})

	e.Must(202, "DELETE", path+"/"+testVolume, e.DemoToken, nil)
	if v := vols.volume(testVolume); v.Status != "in-use" {
		t.Fatalf("volume before the agent detached it: %s", v.Status)
	}
	e.volumePass("h1")
	if v := vols.volume(testVolume); v.Status != "available" || len(v.Attachments) != 0 {
		t.Fatalf("volume after the detach: %+v", v)
	}
	e.fault(t, "", "DELETE", path+"/"+testVolume, e.DemoToken, nil, 404,
		"Instance "+id+" is not attached to volume "+testVolume)
	if got := list(""); len(got) != 1 {
		t.Fatalf("list after the detach: %v", got)
	}
	actions := e.Must(200, "GET", "/v2.1/servers/"+id+"/os-instance-actions", e.DemoToken, nil)["instanceActions"].([]any)
	var names []string
	for _, a := range actions {
		names = append(names, a.(map[string]any)["action"].(string))
	}
	for _, want := range []string{"attach_volume", "detach_volume"} {
		if !slices.Contains(names, want) {
			t.Errorf("instance actions %v lack %s", names, want)
		}
	}

	// The server's delete ends its volumes' attachments and deletes those
	// with delete_on_termination.
	e.Must(204, "DELETE", "/v2.1/servers/"+id, e.DemoToken, nil)
	e.run()
	if _, ok := vols.volumes[testVolume2]; ok {
		t.Fatalf("the delete_on_termination volume outlived its server: %+v", vols.volume(testVolume2))
	}
	if v := vols.volume(testVolume); v.Status != "available" {
		t.Fatalf("the detached volume after the server's delete: %+v", v)
	}
}

// TestVolumeAttachWithoutVolumeService: a cloud without a volume service has
// no volumes: an attach is upstream's 404 for the volume, a list is empty.
func TestVolumeAttachWithoutVolumeService(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 8, 8192, 100)
	id := e.boot(e.DemoToken, nil)
	path := "/v2.1/servers/" + id + "/os-volume_attachments"
	e.fault(t, "", "POST", path, e.DemoToken, map[string]any{"volumeAttachment": map[string]any{"volumeId": testVolume}},
		404, "Volume "+testVolume+" could not be found.")
	if got := e.Must(200, "GET", path, e.DemoToken, nil)["volumeAttachments"].([]any); len(got) != 0 {
		t.Fatalf("list: %v", got)
	}
	e.fault(t, "", "DELETE", path+"/"+testVolume, e.DemoToken, nil, 404, "Volume "+testVolume+" could not be found.")
}

// TestVolumeExtendedEvent: the volume service's volume-extended event makes the
// host's agent show the guest the volume's new size, once.
func TestVolumeExtendedEvent(t *testing.T) {
	e, vols := newVolumeEnv(t)
	id := e.boot(e.DemoToken, nil)
	vols.add(e.DemoProject, Volume{ID: testVolume, Size: 1})
	e.Must(200, "POST", "/v2.1/servers/"+id+"/os-volume_attachments", e.DemoToken, map[string]any{"volumeAttachment": map[string]any{"volumeId": testVolume}})
	e.volumePass("h1")
	vols.mu.Lock()
	vols.volumes[testVolume].Size = 3
	vols.mu.Unlock()
	_, out, raw, _ := e.send("2.51", "POST", "/v2.1/os-server-external-events", e.AdminToken, map[string]any{"events": []any{
		map[string]any{"name": "volume-extended", "server_uuid": id, "tag": testVolume}}})
	if ev := out["events"].([]any)[0].(map[string]any); ev["code"] != float64(200) || ev["status"] != "completed" {
		t.Fatalf("event: %s", raw)
	}
	ctx := context.Background()
	want, err := e.Compute.HostInstances(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(want, func(a AgentInstance) bool { return a.UUID == id })
	if i < 0 || len(want[i].Volumes) != 1 || !want[i].Volumes[0].Extend || want[i].Volumes[0].SizeGB != 3 {
		t.Fatalf("the agent's view after the event: %+v", want)
	}
	if err := e.Compute.ReportVolumes(ctx, VolumeReport{Host: "h1", UUID: id, Present: []string{testVolume}, Extended: []string{testVolume}}); err != nil {
		t.Fatal(err)
	}
	want, _ = e.Compute.HostInstances(ctx, "h1")
	i = slices.IndexFunc(want, func(a AgentInstance) bool { return a.UUID == id })
	if want[i].Volumes[0].Extend {
		t.Fatalf("the extend is still pending after the agent's report: %+v", want[i].Volumes)
	}
}

// fault sends a request and checks its answer is upstream's fault.
func (e *testEnv) fault(t *testing.T, version, method, path, token string, body any, status int, msg string) {
	t.Helper()
	got, out, raw, _ := e.send(version, method, path, token, body)
	checkFault(t, got, out, raw, status, msg)
}

func (e *testEnv) sendMust(want int, version, method, path, token string, body any) map[string]any {
	e.t.Helper()
	status, out, raw, _ := e.send(version, method, path, token, body)
	if status != want {
		e.t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, raw)
	}
	return out
}

// jsonEqual compares a decoded JSON value with want as JSON.
func jsonEqual(got, want any) bool {
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	return string(a) == string(b)
}

var _ = fake.New
