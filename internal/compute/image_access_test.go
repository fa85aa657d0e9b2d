package compute

import (
	"context"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

// TestKernelAndRamdiskOfAnotherProject (issue 16, finding 3): an image's
// kernel_id and ramdisk_id are images too, and the host's agent fetches them
// with the cloud's own credentials; so the API looks each up as the caller,
// as upstream's _handle_kernel_and_ramdisk, and a tenant cannot boot, rebuild
// or rescue onto another project's private kernel or ramdisk: the request is
// refused and nothing of that project's images reaches a host.
func TestKernelAndRamdiskOfAnotherProject(t *testing.T) {
	e := newMVEnv(t)
	personas, victim := e.identity.Personas("kernel")
	var victimToken string
	for _, p := range personas {
		if p.Name == policytest.Member {
			victimToken = p.Token
		}
	}
	// The victim's private kernel and ramdisk; the attacker's (demo's) images
	// that name them.
	e.images.addPrivate(Image{ID: "aki-victim", Status: "active", DiskFormat: "aki", ContainerFormat: "aki", Size: 1 << 20}, victim)
	e.images.addPrivate(Image{ID: "ari-victim", Status: "active", DiskFormat: "ari", ContainerFormat: "ari", Size: 1 << 20}, victim)
	e.images.add(Image{ID: "aki-public", Status: "active", DiskFormat: "aki", ContainerFormat: "aki", Size: 1 << 20})
	evil := func(id string, props map[string]string) string {
		e.images.addPrivate(Image{ID: id, Status: "active", DiskFormat: "ami", ContainerFormat: "ami", Size: 1 << 20, Properties: props}, e.DemoProject)
		return id
	}
	stolenKernel := evil("eeeeeeee-0000-4000-8000-00000000000a", map[string]string{"kernel_id": "aki-victim"})
	stolenRamdisk := evil("eeeeeeee-0000-4000-8000-00000000000b", map[string]string{"kernel_id": "aki-public", "ramdisk_id": "ari-victim"})
	stolenBoth := evil("eeeeeeee-0000-4000-8000-00000000000c", map[string]string{"kernel_id": "aki-victim", "ramdisk_id": "ari-victim"})

	for _, img := range []string{stolenKernel, stolenRamdisk, stolenBoth} {
		status, out, raw := e.Do("POST", "/v2.1/servers", e.DemoToken, serverBody(map[string]any{"imageRef": img,
			"networks": []any{map[string]any{"uuid": netUUID}}}))
		checkFault(t, status, out, raw, 400, "Can not find requested image")
	}
	if n := e.count(`SELECT COUNT(*) FROM instances`); n != 0 {
		t.Fatalf("%d servers made from images naming another project's kernel or ramdisk", n)
	}

	// Rebuild and rescue onto them are refused the same way.
	id := e.activeServer("2.1", nil)
	action := "/v2.1/servers/" + id + "/action"
	for _, img := range []string{stolenKernel, stolenRamdisk} {
		status, out, raw := e.Do("POST", action, e.DemoToken, map[string]any{"rebuild": map[string]any{"imageRef": img}})
		checkFault(t, status, out, raw, 400, "Cannot find image for rebuild")
		status, out, raw = e.Do("POST", action, e.DemoToken, map[string]any{"rescue": map[string]any{"rescue_image_ref": img}})
		checkFault(t, status, out, raw, 400, "Requested rescue image '"+img+"' is not supported")
	}
	if srv := e.server(id); srv["status"] != "ACTIVE" || srv["image"].(map[string]any)["id"] != "aaaaaaaa-0000-4000-8000-000000000001" {
		t.Errorf("after the refused rebuilds and rescues: %v, image %v", srv["status"], srv["image"])
	}
	// Nothing of the victim's reaches the host's agent, which downloads every
	// image its desired state names.
	insts, err := e.Compute.HostInstances(context.Background(), "h1")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range insts {
		named := []string{in.ImageID, in.ImageProps["kernel_id"], in.ImageProps["ramdisk_id"]}
		if in.Rescue != nil {
			named = append(named, in.Rescue.ID)
		}
		for _, n := range named {
			if n == "aki-victim" || n == "ari-victim" {
				t.Errorf("instance %s hands the agent the victim's image %s", in.UUID, n)
			}
		}
	}

	// The owner boots on its own kernel and ramdisk; "nokernel" boots no kernel
	// at all (upstream ignores the ramdisk then).
	e.images.addPrivate(Image{ID: "eeeeeeee-0000-4000-8000-00000000000d", Status: "active", DiskFormat: "ami", ContainerFormat: "ami", Size: 1 << 20,
		Properties: map[string]string{"kernel_id": "aki-victim", "ramdisk_id": "ari-victim"}}, victim)
	e.net.networks["eeeeeeee-0000-4000-8000-00000000000e"] = NetworkInfo{ID: "eeeeeeee-0000-4000-8000-00000000000e", Name: "victim", ProjectID: victim, MTU: 1450}
	e.Must(202, "POST", "/v2.1/servers", victimToken, serverBody(map[string]any{"imageRef": "eeeeeeee-0000-4000-8000-00000000000d",
		"networks": []any{map[string]any{"uuid": "eeeeeeee-0000-4000-8000-00000000000e"}}}))
	noKernel := evil("eeeeeeee-0000-4000-8000-00000000000f", map[string]string{"kernel_id": "nokernel", "ramdisk_id": "ari-victim"})
	nk := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, serverBody(map[string]any{"imageRef": noKernel,
		"networks": []any{map[string]any{"uuid": netUUID}}}))["server"].(map[string]any)["id"].(string)
	e.conduct()
	insts, err = e.Compute.HostInstances(context.Background(), "h1")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range insts {
		if in.UUID == nk && (in.ImageProps["kernel_id"] != "" || in.ImageProps["ramdisk_id"] != "") {
			t.Errorf("a nokernel image hands the agent kernel %q, ramdisk %q", in.ImageProps["kernel_id"], in.ImageProps["ramdisk_id"])
		}
	}
}

// count runs a COUNT query on the compute database.
func (e *testEnv) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.Compute.db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestZeroDiskFlavorIsAdmins: a flavor of no root disk bounds nothing an image
// makes on the host's disk, so upstream's servers:create:zero_disk_flavor
// (admin) decides who boots an image on one: a member gets upstream's 403 and
// no server, an admin boots.
func TestZeroDiskFlavorIsAdmins(t *testing.T) {
	e := newMVEnv(t)
	e.Must(200, "POST", "/v2.1/flavors", e.AdminToken, map[string]any{"flavor": map[string]any{"name": "nodisk", "id": "nodisk",
		"ram": 512, "vcpus": 1, "disk": 0}})
	body := serverBody(map[string]any{"flavorRef": "nodisk", "networks": []any{map[string]any{"uuid": netUUID}}})
	status, out, raw := e.Do("POST", "/v2.1/servers", e.DemoToken, body)
	checkFault(t, status, out, raw, 403, "Only volume-backed servers are allowed for flavors with zero disk.")
	if n := e.count(`SELECT COUNT(*) FROM instances`); n != 0 {
		t.Fatalf("%d servers after the refusal", n)
	}
	e.mustAt(202, "2.37", "POST", "/v2.1/servers", e.AdminToken, serverBody(map[string]any{"flavorRef": "nodisk", "networks": "none"}))
}
