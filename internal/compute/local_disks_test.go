package compute

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// TestLocalDisks: upstream's _validate_bdm over the request's blank local
// disks and the flavor's (_get_flavor_defined_bdms, _volume_size): its
// messages, and the disks to make with their names and devices.
func TestLocalDisks(t *testing.T) {
	flavor := Flavor{Disk: 1, Ephemeral: 2, Swap: 512}
	root := blockDeviceRequest{SourceType: bdmSourceImage, DestinationType: bdmDestLocal, UUID: testImage, BootIndex: new(0)}
	eph := func(size int, format string) blockDeviceRequest {
		return blockDeviceRequest{SourceType: bdmSourceBlank, DestinationType: bdmDestLocal, VolumeSize: size, GuestFormat: format}
	}
	swap := func(size int) blockDeviceRequest { return eph(size, "swap") }
	rootVolume := blockDeviceRequest{SourceType: bdmSourceVolume, DestinationType: bdmDestVolume, UUID: testVolume, BootIndex: new(0)}
	const (
		ephTooBig  = "Ephemeral disks requested are larger than the instance type allows. If no size is given in one block device mapping, flavor ephemeral size will be used."
		swapTooBig = "Swap drive requested is larger than instance type allows."
	)
	tests := []struct {
		name   string
		bdms   []blockDeviceRequest
		flavor Flavor
		want   []string // name device sizeMB format label
		err    string
	}{
		{"the flavor's disks without mappings", nil, flavor,
			[]string{"disk.eph0 /dev/vdb 2048  ephemeral0", "disk.swap /dev/vdc 512 swap "}, ""},
		{"a flavor without local disks", nil, Flavor{Disk: 1}, nil, ""},
		{"two ephemerals of the flavor's size", []blockDeviceRequest{root, eph(1, "ext4"), eph(1, "ext4")}, Flavor{Disk: 1, Ephemeral: 2},
			[]string{"disk.eph0 /dev/vdb 1024 ext4 ephemeral0", "disk.eph1 /dev/vdc 1024 ext4 ephemeral1"}, ""},
		{"an ephemeral without a size has the flavor's", []blockDeviceRequest{root, eph(0, "")}, flavor,
			[]string{"disk.eph0 /dev/vdb 2048  ephemeral0", "disk.swap /dev/vdc 512 swap "}, ""},
		{"a swap mapping replaces the flavor's", []blockDeviceRequest{root, swap(256)}, flavor,
			[]string{"disk.eph0 /dev/vdb 2048  ephemeral0", "disk.swap /dev/vdc 256 swap "}, ""},
		{"after a root volume", []blockDeviceRequest{rootVolume}, flavor,
			[]string{"disk.eph0 /dev/vdb 2048  ephemeral0", "disk.swap /dev/vdc 512 swap "}, ""},
		{"ephemerals larger than the flavor's", []blockDeviceRequest{root, eph(1, ""), eph(2, "")}, flavor, nil, ephTooBig},
		{"two ephemerals without a size", []blockDeviceRequest{root, eph(0, ""), eph(0, "")}, flavor, nil, ephTooBig},
		{"an ephemeral on a flavor without", []blockDeviceRequest{root, eph(1, "")}, Flavor{Disk: 1}, nil, ephTooBig},
		{"two swaps", []blockDeviceRequest{root, swap(1), swap(1)}, flavor, nil, "Block Device Mapping is Invalid: More than one swap drive requested."},
		{"a swap larger than the flavor's", []blockDeviceRequest{root, swap(513)}, flavor, nil, swapTooBig},
		{"a swap on a flavor without", []blockDeviceRequest{root, swap(1)}, Flavor{Disk: 1}, nil, swapTooBig},
		{"more local disks than max_local_block_devices", []blockDeviceRequest{root, eph(1, ""), eph(1, ""), swap(1)}, flavor, nil,
			"Block Device Mapping is Invalid: You specified more local devices than the limit allows"},
		{"the flavor's count toward the limit", []blockDeviceRequest{root, eph(1, ""), eph(1, "")}, flavor, nil,
			"Block Device Mapping is Invalid: You specified more local devices than the limit allows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := localDisks(tt.bdms, tt.flavor)
			if tt.err != "" {
				var he *httpapi.Error
				if !errors.As(err, &he) || he.Status != 400 || he.Message != tt.err {
					t.Fatalf("error %v, want 400 %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, d := range got {
				lines = append(lines, strings.Join([]string{d.Name, d.Device, strconv.Itoa(d.SizeMB), d.GuestFormat, d.Label}, " "))
			}
			if !slices.Equal(lines, tt.want) {
				t.Fatalf("disks\n%q\nwant\n%q", lines, tt.want)
			}
		})
	}
}

// TestServerLocalDisks: a server of a flavor with ephemeral and swap, booted
// with two ephemeral mappings as gophercloud's TestBootFromMultiEphemeralServer
// does, is accepted; its agent is told the disks to make; the metadata's
// block-device-mapping names them; a volume attached later takes the next
// device; and a resize to a flavor of less ephemeral fails as upstream's.
func TestServerLocalDisks(t *testing.T) {
	e := newMVEnv(t)
	for _, f := range []map[string]any{
		{"name": "m1.eph", "id": "eph", "ram": 512, "vcpus": 1, "disk": 1, "OS-FLV-EXT-DATA:ephemeral": 2, "swap": 0},
		{"name": "m1.swap", "id": "swap", "ram": 512, "vcpus": 1, "disk": 1, "OS-FLV-EXT-DATA:ephemeral": 1, "swap": 256},
	} {
		e.Must(200, "POST", "/v2.1/flavors", e.AdminToken, map[string]any{"flavor": f})
	}
	blank := map[string]any{"source_type": "blank", "destination_type": "local", "boot_index": -1, "guest_format": "ext4",
		"volume_size": 1, "delete_on_termination": true}
	id := e.activeServer("2.1", map[string]any{"flavorRef": "eph", "block_device_mapping_v2": []any{
		map[string]any{"source_type": "image", "destination_type": "local", "uuid": testImage, "boot_index": 0,
			"volume_size": 5, "delete_on_termination": true}, blank, blank}})
	if s := e.server(id); s["status"] != "ACTIVE" {
		t.Fatalf("server %v", s["status"])
	}
	insts, err := e.Compute.HostInstances(t.Context(), "h1")
	if err != nil || len(insts) != 1 {
		t.Fatalf("the agent's view: %+v %v", insts, err)
	}
	want := []LocalDisk{
		{Name: "disk.eph0", Device: "/dev/vdb", SizeMB: 1024, GuestFormat: "ext4", Label: "ephemeral0"},
		{Name: "disk.eph1", Device: "/dev/vdc", SizeMB: 1024, GuestFormat: "ext4", Label: "ephemeral1"},
	}
	if !slices.Equal(insts[0].LocalDisks, want) {
		t.Errorf("local disks %+v, want %+v", insts[0].LocalDisks, want)
	}
	md, err := e.Compute.Instance(t.Context(), id)
	if err != nil || !slices.Equal(md.Ephemerals, []string{"/dev/vdb", "/dev/vdc"}) || md.Swap != "" {
		t.Errorf("metadata: %+v %v", md, err)
	}
	in, err := loadInstance(t.Context(), e.Compute.db, id)
	if err != nil {
		t.Fatal(err)
	}
	if got := nextDeviceName(in.localDeviceRows()); got != "/dev/vdd" {
		t.Errorf("a volume attached next is %s, want /dev/vdd", got)
	}

	// The flavor's disks, without mappings: ephemeral0 of its size, then swap.
	id2 := e.activeServer("2.1", map[string]any{"flavorRef": "swap"})
	md, err = e.Compute.Instance(t.Context(), id2)
	if err != nil || !slices.Equal(md.Ephemerals, []string{"/dev/vdb"}) || md.Swap != "/dev/vdc" {
		t.Errorf("metadata of the flavor's disks: %+v %v", md, err)
	}

	// Less ephemeral than the server has: the conductor refuses, as
	// upstream's libvirt driver ("Unable to resize disk down.").
	action := "/v2.1/servers/" + id + "/action"
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"resize": map[string]any{"flavorRef": "swap"}})
	e.conduct()
	acts := e.mustAt(200, "2.84", "GET", "/v2.1/servers/"+id+"/os-instance-actions", e.AdminToken, nil)["instanceActions"].([]any)
	shown := e.mustAt(200, "2.84", "GET", "/v2.1/servers/"+id+"/os-instance-actions/"+acts[0].(map[string]any)["request_id"].(string),
		e.AdminToken, nil)["instanceAction"].(map[string]any)
	if s := e.server(id); s["status"] != "ACTIVE" || shown["message"] != "Error" ||
		!strings.Contains(fmt.Sprint(shown["events"]), "Unable to resize disk down.") {
		t.Errorf("resize to less ephemeral: %v, action %v", s["status"], shown)
	}

	// Refused at the API, with upstream's message.
	e.fault(t, "", "POST", "/v2.1/servers", e.DemoToken, serverBody(map[string]any{"flavorRef": "eph",
		"networks": []any{map[string]any{"uuid": netUUID}},
		"block_device_mapping_v2": []any{map[string]any{"source_type": "image", "destination_type": "local",
			"uuid": testImage, "boot_index": 0}, blank, blank, blank}}), 400,
		"Ephemeral disks requested are larger than the instance type allows.")
}

// FuzzLocalDisks: any block_device_mapping_v2 and flavor sizes give local
// disks that fit the flavor, with files of local disk names only, or a 400.
func FuzzLocalDisks(f *testing.F) {
	f.Add(`[{"source_type":"image","destination_type":"local","uuid":"x","boot_index":0},{"source_type":"blank","destination_type":"local","guest_format":"ext4","volume_size":1}]`, 2, 512)
	f.Add(`[{"source_type":"blank","destination_type":"local","guest_format":"swap","volume_size":"8"}]`, 0, 16)
	f.Fuzz(func(t *testing.T, raw string, ephemeral, swap int) {
		var list []any
		if json.Unmarshal([]byte(raw), &list) != nil || ephemeral < 0 || swap < 0 || ephemeral > 1<<20 || swap > 1<<20 {
			return
		}
		bdms, err := parseBlockDevices(list, true)
		if err != nil {
			return
		}
		disks, err := localDisks(bdms, Flavor{Disk: 1, Ephemeral: ephemeral, Swap: swap})
		if err != nil {
			var he *httpapi.Error
			if !errors.As(err, &he) || he.Status != 400 {
				t.Fatalf("not a 400: %v", err)
			}
			return
		}
		total := 0
		for _, d := range disks {
			if !ValidLocalDiskName(d.Name) || d.SizeMB <= 0 {
				t.Fatalf("disk %+v", d)
			}
			if !d.Swap() {
				total += d.SizeMB
			} else if d.SizeMB > swap {
				t.Fatalf("swap %d MB > flavor's %d", d.SizeMB, swap)
			}
		}
		if total > ephemeral*1024 {
			t.Fatalf("ephemerals %d MB > flavor's %d GB", total, ephemeral)
		}
	})
}

// TestRebuildPreserveEphemeral: a rebuild's preserve_ephemeral reaches the
// host's agent (which refuses it, as upstream's libvirt driver: the agent's
// TestAgentRebuildPreserveEphemeral), and a later rebuild without it clears it.
func TestRebuildPreserveEphemeral(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	action := "/v2.1/servers/" + id + "/action"
	for _, preserve := range []bool{true, false} {
		e.Must(202, "POST", action, e.DemoToken, map[string]any{"rebuild": map[string]any{"imageRef": testImage, "preserve_ephemeral": preserve}})
		insts, err := e.Compute.HostInstances(t.Context(), "h1")
		if err != nil || len(insts) != 1 || insts[0].TaskState != taskRebuilding || insts[0].PreserveEphemeral != preserve {
			t.Fatalf("preserve_ephemeral %v: the agent's view %+v %v", preserve, insts, err)
		}
		e.agent()
	}
}

// TestMetadataVolumeDevices: the metadata's block-device-mapping has the
// server's volumes (ebs<n>), its root volume too, as upstream's
// instance_block_mapping; a blank volume booted with it follows the
// flavor's local disks.
func TestMetadataVolumeDevices(t *testing.T) {
	e, _ := newVolumeEnv(t)
	e.Must(200, "POST", "/v2.1/flavors", e.AdminToken, map[string]any{"flavor": map[string]any{
		"name": "m1.eph", "id": "eph", "ram": 512, "vcpus": 1, "disk": 1, "OS-FLV-EXT-DATA:ephemeral": 1}})
	body := serverBody(map[string]any{"imageRef": "", "flavorRef": "eph", "block_device_mapping_v2": []any{
		map[string]any{"uuid": testImage, "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 1},
		map[string]any{"source_type": "blank", "destination_type": "volume", "volume_size": 1}}})
	id := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, body)["server"].(map[string]any)["id"].(string)
	md, err := e.Compute.Instance(t.Context(), id)
	if err != nil || !slices.Equal(md.Volumes, []string{"/dev/vda", "/dev/vdc"}) || !slices.Equal(md.Ephemerals, []string{"/dev/vdb"}) {
		t.Fatalf("metadata volumes %v, ephemerals %v (%v)", md.Volumes, md.Ephemerals, err)
	}
}
