package compute

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// setVolumeStatus is the volume service finishing (or failing) a volume.
func (m *memVolumes) setStatus(id, status string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.volumes[id].Status = status
}

// createdVolumes are the volumes the service was asked to create, in order.
func (m *memVolumes) created() []string {
	var out []string
	for _, c := range m.log() {
		if id, ok := strings.CutPrefix(c, "create-volume "); ok {
			out = append(out, id)
		}
	}
	return out
}

const testImage = "aaaaaaaa-0000-4000-8000-000000000001"

// TestCreateServerBlockDeviceErrors: every block_device_mapping_v2 upstream
// refuses is its 400 (or the schema's), and leaves no server, port or volume.
func TestCreateServerBlockDeviceErrors(t *testing.T) {
	e, vols := newVolumeEnv(t)
	vols.add(e.DemoProject, Volume{ID: testVolume, Size: 1})
	vols.add(e.DemoProject, Volume{ID: testVolume2, Size: 1, Bootable: true, Status: "in-use"})
	vols.add(e.identity.AdminProject, Volume{ID: otherVolume, Size: 1, Bootable: true})
	ports := e.net.count()
	bdm := func(attrs map[string]any, entries ...map[string]any) map[string]any {
		list := []any{}
		for _, m := range entries {
			list = append(list, m)
		}
		a := map[string]any{"imageRef": nil, "block_device_mapping_v2": list}
		for k, v := range attrs {
			a[k] = v
		}
		return serverBody(a)
	}
	boot := func(src, dest, uuid string, size any) map[string]any {
		m := map[string]any{"source_type": src, "destination_type": dest, "boot_index": 0}
		if uuid != "" {
			m["uuid"] = uuid
		}
		if size != nil {
			m["volume_size"] = size
		}
		return m
	}
	for _, tc := range []struct {
		name string
		body any
		msg  string
	}{
		{"blank with a uuid", bdm(nil, boot("blank", "volume", testVolume, 1)), "Block Device Mapping is Invalid: Invalid device UUID."},
		{"volume without a uuid", bdm(nil, boot("volume", "volume", "", nil)), "Block Device Mapping is Invalid: Missing device UUID."},
		{"image to local without an image", bdm(nil, boot("image", "local", testImage, nil)), "Block Device Mapping is Invalid: Mapping image to local is not supported."},
		{"no boot index 0", bdm(nil, map[string]any{"source_type": "volume", "uuid": testVolume, "boot_index": 1}),
			"Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid."},
		{"two boot index 0", bdm(nil, boot("volume", "volume", testVolume, nil), boot("image", "volume", testImage, 1)),
			"Boot sequence for the instance and image/block device mapping combination is not valid."},
		{"image to volume without a size", bdm(nil, boot("image", "volume", testImage, nil)),
			"Images with destination_type 'volume' need to have a non-zero size specified"},
		{"unknown image", bdm(nil, boot("image", "volume", "aaaaaaaa-0000-4000-8000-0000000000ff", 1)),
			"Block Device Mapping is Invalid: failed to get image aaaaaaaa-0000-4000-8000-0000000000ff."},
		{"unknown volume", bdm(nil, boot("volume", "volume", missingVolumeID, nil)), "Block Device Mapping is Invalid: failed to get volume " + missingVolumeID + "."},
		{"another project's volume", bdm(nil, boot("volume", "volume", otherVolume, nil)), "Block Device Mapping is Invalid: failed to get volume " + otherVolume + "."},
		{"a volume that is not bootable", bdm(nil, boot("volume", "volume", testVolume, nil)), "Block Device " + testVolume + " is not bootable."},
		{"a volume in use", bdm(nil, boot("volume", "volume", testVolume2, nil)), "Invalid volume: volume '" + testVolume2 + "' status must be 'available'. Currently in 'in-use'"},
		{"a volume for several servers", bdm(map[string]any{"imageRef": testImage, "max_count": 2},
			boot("image", "local", testImage, nil), map[string]any{"source_type": "volume", "destination_type": "volume", "uuid": testVolume}),
			"Cannot attach one or more volumes to multiple instances"},
		{"an ephemeral disk", bdm(map[string]any{"imageRef": testImage}, boot("image", "local", testImage, nil),
			map[string]any{"source_type": "blank", "destination_type": "local", "volume_size": 1}), "Ephemeral disks requested are larger than the instance type allows."},
		{"a bad source", bdm(nil, boot("disk", "volume", testVolume, nil)), "source_type"},
		{"a bad disk bus", bdm(nil, map[string]any{"source_type": "image", "destination_type": "volume", "uuid": testImage, "boot_index": 0,
			"volume_size": 1, "disk_bus": "floppy"}), "Block Device Mapping is Invalid."},
		{"a bad size", bdm(nil, boot("image", "volume", testImage, 0)), "volume_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.fault(t, "", "POST", "/v2.1/servers", e.DemoToken, tc.body, 400, tc.msg)
		})
	}
	if n := e.net.count(); n != ports {
		t.Errorf("refused creates left %d ports, want %d", n, ports)
	}
	if calls := vols.log(); len(calls) != 0 {
		t.Errorf("refused creates changed volumes: %v", calls)
	}
	if servers := e.Must(200, "GET", "/v2.1/servers", e.DemoToken, nil)["servers"].([]any); len(servers) != 0 {
		t.Errorf("refused creates left servers: %v", servers)
	}
}

// TestBootFromVolume: a server booted from a new volume made from an image
// waits in BUILD until the volume service has made it, then is reserved,
// given its host's connection and spawned with the volume as its root disk;
// it has no image of its own, its root volume cannot be detached, and its
// delete deletes the volume (delete_on_termination). A volume that fails
// fails the build with upstream's fault.
func TestBootFromVolume(t *testing.T) {
	e, vols := newVolumeEnv(t)
	body := serverBody(map[string]any{"imageRef": "", "block_device_mapping_v2": []any{map[string]any{
		"uuid": testImage, "source_type": "image", "destination_type": "volume", "boot_index": "0", "volume_size": "1",
		"delete_on_termination": true}}})
	id := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, body)["server"].(map[string]any)["id"].(string)
	made := vols.created()
	if len(made) != 1 {
		t.Fatalf("volumes made: %v", vols.log())
	}
	root := made[0]
	e.conduct()
	e.conduct()
	if s := e.server(id); s["status"] != "BUILD" || s["OS-EXT-STS:task_state"] != "networking" {
		t.Fatalf("while the volume is made: %v %v", s["status"], s["OS-EXT-STS:task_state"])
	}
	vols.setStatus(root, "available")
	e.conduct()
	ctx := context.Background()
	want, err := e.Compute.HostInstances(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 1 || len(want[0].Volumes) != 1 || !want[0].Volumes[0].Disk.Boot || want[0].Volumes[0].Disk.Export != "volume-"+root ||
		want[0].Volumes[0].Disk.TLSPSKIdentity != "h1" || want[0].TaskState != "spawning" {
		t.Fatalf("the agent's view: %+v", want)
	}
	e.run()
	e.volumePass("h1")
	s := e.server(id)
	if s["status"] != "ACTIVE" || s["image"] != "" {
		t.Fatalf("after the agent: %v, image %v", s["status"], s["image"])
	}
	if v := vols.volume(root); v.Status != "in-use" {
		t.Fatalf("root volume: %+v", v)
	}
	atts := e.Must(200, "GET", "/v2.1/servers/"+id+"/os-volume_attachments", e.DemoToken, nil)["volumeAttachments"].([]any)
	if len(atts) != 1 || atts[0].(map[string]any)["device"] != "/dev/vda" {
		t.Fatalf("attachments: %v", atts)
	}
	e.fault(t, "", "DELETE", "/v2.1/servers/"+id+"/os-volume_attachments/"+root, e.DemoToken, nil, 400, "Cannot detach a root device volume")
	other := "aaaaaaaa-0000-4000-8000-000000000002"
	e.images.add(Image{ID: other, Name: "other", Status: "active", DiskFormat: "qcow2", Size: 1 << 20})
	e.fault(t, "", "POST", "/v2.1/servers/"+id+"/action", e.DemoToken, map[string]any{"rebuild": map[string]any{"imageRef": other}}, 400,
		"Image "+other+" is unacceptable: Unable to rebuild with a different image for a volume-backed server.")

	e.Must(204, "DELETE", "/v2.1/servers/"+id, e.DemoToken, nil)
	e.run()
	if _, ok := vols.volumes[root]; ok {
		t.Fatalf("the root volume outlived its server: %+v", vols.volume(root))
	}

	// A volume the volume service fails to make fails the build.
	failed := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, body)["server"].(map[string]any)["id"].(string)
	made = vols.created()
	vols.setStatus(made[len(made)-1], "error")
	e.conduct()
	e.conduct()
	s = e.server(failed)
	if s["status"] != "ERROR" || !strings.Contains(s["fault"].(map[string]any)["message"].(string),
		"did not finish being created even after we waited 180 seconds or 61 attempts. And its status is error.") {
		t.Fatalf("a server whose volume failed: %v %v", s["status"], s["fault"])
	}
}

// TestCreateServerWithDataVolume: an image-backed server with an existing
// volume as a second disk reserves it at once (as the caller) and has it at
// its first start.
func TestCreateServerWithDataVolume(t *testing.T) {
	e, vols := newVolumeEnv(t)
	vols.add(e.DemoProject, Volume{ID: testVolume, Size: 2})
	body := serverBody(map[string]any{"block_device_mapping_v2": []any{
		map[string]any{"uuid": testImage, "source_type": "image", "destination_type": "local", "boot_index": 0},
		map[string]any{"uuid": testVolume, "source_type": "volume", "destination_type": "volume", "boot_index": -1},
	}})
	id := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, body)["server"].(map[string]any)["id"].(string)
	if v := vols.volume(testVolume); v.Status != "reserved" {
		t.Fatalf("the volume after the create: %+v", v)
	}
	e.conduct()
	e.run()
	e.volumePass("h1")
	s := e.server(id)
	if s["status"] != "ACTIVE" || s["image"].(map[string]any)["id"] != testImage {
		t.Fatalf("server: %v %v", s["status"], s["image"])
	}
	if v := vols.volume(testVolume); v.Status != "in-use" {
		t.Fatalf("volume: %+v", v)
	}
	atts := e.Must(200, "GET", "/v2.1/servers/"+id+"/os-volume_attachments", e.DemoToken, nil)["volumeAttachments"].([]any)
	if len(atts) != 1 || atts[0].(map[string]any)["device"] != "/dev/vdb" {
		t.Fatalf("attachments: %v", atts)
	}
	if got := e.drivers["h1"].Hotplugs(); !slices.Contains(got, "attach-volume "+id+" "+testVolume) {
		t.Fatalf("hot-plugs: %v", got)
	}
	// Not delete_on_termination: the volume outlives the server, available.
	e.Must(204, "DELETE", "/v2.1/servers/"+id, e.DemoToken, nil)
	e.run()
	if v := vols.volume(testVolume); v.Status != "available" {
		t.Fatalf("volume after the server's delete: %+v", v)
	}
}

// TestVolumesFollowAReschedule: a server rescheduled after its volume was
// given the first host's connection gets a new attachment for the new host.
func TestVolumesFollowAReschedule(t *testing.T) {
	e, vols := newVolumeEnv(t)
	vols.add(e.DemoProject, Volume{ID: testVolume, Size: 1})
	body := serverBody(map[string]any{"block_device_mapping_v2": []any{
		map[string]any{"uuid": testImage, "source_type": "image", "destination_type": "local", "boot_index": 0},
		map[string]any{"uuid": testVolume, "source_type": "volume", "destination_type": "volume"},
	}})
	id := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, body)["server"].(map[string]any)["id"].(string)
	e.conduct()
	ctx := context.Background()
	first, err := instanceBlockDevices(ctx, e.Compute.db, id)
	if err != nil || len(first) != 1 || first[0].ConnectorHost != "h1" || first[0].Status != bdmAttaching {
		t.Fatalf("mapping after the first placement: %+v, %v", first, err)
	}
	// The spawn failed on h1 and the server was placed on h2.
	if _, err := e.Compute.db.ExecContext(ctx, `UPDATE instances SET host = ?, task_state = ? WHERE uuid = ?`, "h2", taskNetworking, id); err != nil {
		t.Fatal(err)
	}
	in, err := loadInstance(ctx, e.Compute.db, id)
	if err != nil {
		t.Fatal(err)
	}
	if ready, err := e.Compute.allocateVolumes(ctx, in); err != nil || !ready {
		t.Fatalf("allocateVolumes on h2: %v, %v", ready, err)
	}
	again, _ := instanceBlockDevices(ctx, e.Compute.db, id)
	if len(again) != 1 || again[0].ConnectorHost != "h2" || again[0].AttachmentID == first[0].AttachmentID || again[0].Status != bdmAttaching {
		t.Fatalf("mapping after the reschedule: %+v", again)
	}
	calls := vols.log()
	if want := []string{"delete-attachment " + testVolume, "create-attachment " + testVolume, "update-attachment " + testVolume + " h2 "}; !slices.Equal(calls[len(calls)-3:], want) {
		t.Fatalf("volume service calls %v, want them to end with %v", calls, want)
	}
}
