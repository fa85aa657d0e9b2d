package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitVolume polls `volume show` until the volume's status is want (the
// volume manager runs beside the API): the CLI a user types, no clock asserted.
func waitVolume(t *testing.T, c *Cloud, cloud, id, want string) row {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var v row
		OSJSON(t, c, cloud, &v, "volume", "show", id)
		if str(v, "status") == want {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume %s: status %s, want %s", id, str(v, "status"), want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestVolumeCLI drives the block storage API with the real openstack CLI:
// volume create/list/show/set/delete, extend with volume set --size, a clone
// (--source), a volume
// type bound to a backend by volume_backend_name, the quota's 413, and
// another project that can neither see nor touch the volume.
func TestVolumeCLI(t *testing.T) {
	c := shared
	t.Parallel()
	name := uniqueName("cli-vol")
	var v row
	OSJSON(t, c, demoCloud, &v, "volume", "create", "--size", "1", "--property", "purpose=e2e", name)
	id := str(v, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), demoCloud, "volume", "delete", "--force", id) })
	wantField(t, "volume create", v, "size", "1")
	v = waitVolume(t, c, demoCloud, id, "available")
	wantField(t, "volume show", v, "name", name)
	if !strings.Contains(fmt.Sprint(v["properties"]), "purpose") {
		t.Fatalf("volume show: properties %v", v["properties"])
	}
	var list []row
	OSJSON(t, c, demoCloud, &list, "volume", "list")
	if r, ok := findRow(list, "ID", id); !ok || str(r, "Name") != name || str(r, "Status") != "available" {
		t.Fatalf("volume list lacks %s: %v", name, list)
	}
	// set: rename, description, and grow (os-extend)
	OS(t, c, demoCloud, "volume", "set", "--name", name+"-renamed", "--description", "grown", id)
	OS(t, c, demoCloud, "volume", "set", "--size", "2", id)
	v = waitVolume(t, c, demoCloud, id, "available")
	wantField(t, "volume set", v, "name", name+"-renamed")
	wantField(t, "volume set", v, "size", "2")
	// shrinking is refused
	mustFail(t, c, demoCloud, "New size must be greater than", "volume", "set", "--size", "1", id)
	// a clone of it (--source), on its backend
	var clone row
	OSJSON(t, c, demoCloud, &clone, "volume", "create", "--source", id, "--size", "2", name+"-clone")
	cloneID := str(clone, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), demoCloud, "volume", "delete", cloneID) })
	clone = waitVolume(t, c, demoCloud, cloneID, "available")
	wantField(t, "volume create --source", clone, "source_volid", id)

	// a type on the "file" backend by name, as an operator makes one
	typeName := uniqueName("cli-type")
	var vt row
	OSJSON(t, c, adminCloud, &vt, "volume", "type", "create", "--property", "volume_backend_name=file", typeName)
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), adminCloud, "volume", "type", "delete", typeName) })
	var typed row
	OSJSON(t, c, demoCloud, &typed, "volume", "create", "--size", "1", "--type", typeName, name+"-typed")
	typedID := str(typed, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), demoCloud, "volume", "delete", typedID) })
	typed = waitVolume(t, c, demoCloud, typedID, "available")
	wantField(t, "typed volume", typed, "type", typeName)
	var adminView row
	OSJSON(t, c, adminCloud, &adminView, "volume", "show", typedID)
	if host := str(adminView, "os-vol-host-attr:host"); !strings.HasSuffix(host, "@file#file") {
		t.Fatalf("typed volume on %q", host)
	}
	// a type whose backend nobody has: the volume ends in error, as upstream
	badType := uniqueName("cli-nowhere")
	OS(t, c, adminCloud, "volume", "type", "create", "--property", "volume_backend_name=nowhere", badType)
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), adminCloud, "volume", "type", "delete", badType) })
	var lost row
	OSJSON(t, c, demoCloud, &lost, "volume", "create", "--size", "1", "--type", badType, name+"-lost")
	waitVolume(t, c, demoCloud, str(lost, "id"), "error")
	OS(t, c, demoCloud, "volume", "delete", str(lost, "id"))

	// another project: not found, whether shown, changed or deleted
	project := uniqueName("vol-other")
	password := "pw-" + project
	OS(t, c, adminCloud, "project", "create", project)
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), adminCloud, "project", "delete", project) })
	OS(t, c, adminCloud, "user", "create", "--project", project, "--password", password, project)
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), adminCloud, "user", "delete", project) })
	OS(t, c, adminCloud, "role", "add", "--project", project, "--user", project, "member")
	other := newCLIConfig(t, fmt.Sprintf(`clouds:
  other:
    auth:
      auth_url: %s/v3
      username: %s
      password: %q
      project_name: %s
      user_domain_name: Default
      project_domain_name: Default
    identity_api_version: 3
`, c.IdentityURL, project, password, project))
	for _, args := range [][]string{{"volume", "show", id}, {"volume", "set", "--name", "stolen", id}, {"volume", "delete", id}} {
		out, err := other.run("other", args...)
		if err == nil || !strings.Contains(out, "No volume with a name or ID") && !strings.Contains(out, "could not be found") {
			t.Fatalf("another project: openstack %s: %v %s", strings.Join(args, " "), err, out)
		}
	}
	out, err := other.run("other", "volume", "list", "-f", "value", "-c", "ID")
	if err != nil || strings.Contains(out, id) {
		t.Fatalf("another project lists: %v %s", err, out)
	}
	// its quota: one volume allowed, the second refused with upstream's 413
	var projectRow row
	OSJSON(t, c, adminCloud, &projectRow, "project", "show", project)
	OS(t, c, adminCloud, "quota", "set", "--volumes", "1", str(projectRow, "id"))
	if _, err := other.run("other", "volume", "create", "--size", "1", "first"); err != nil {
		t.Fatal(err)
	}
	out, err = other.run("other", "volume", "create", "--size", "1", "second")
	if err == nil || !strings.Contains(out, "Maximum number of volumes allowed (1) exceeded for quota 'volumes'") || !strings.Contains(out, "413") {
		t.Fatalf("over quota: %v %s", err, out)
	}
	ids, _ := other.run("other", "volume", "list", "-f", "value", "-c", "ID")
	for _, vid := range strings.Fields(ids) {
		_, _ = other.run("other", "volume", "delete", vid)
	}

	OS(t, c, demoCloud, "volume", "delete", id)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := c.OpenStack(context.Background(), demoCloud, "volume", "show", id); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume %s still there after delete", id)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestVolumeFromImageCLI: `volume create --image` as a user, which the volume
// manager fills from the image service with the cloud's own login, and
// `image create --volume` (os-volume_upload_image) back to an image.
func TestVolumeFromImageCLI(t *testing.T) {
	c := shared
	t.Parallel()
	file := filepath.Join(t.TempDir(), "disk.raw")
	data := make([]byte, 1<<20)
	copy(data, "nimbus volume from image")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var img row
	OSJSON(t, c, demoCloud, &img, "image", "create", "--disk-format", "raw", "--container-format", "bare", "--file", file,
		"--property", "os_distro=nimbus", uniqueName("vol-src"))
	imageID := str(img, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), demoCloud, "image", "delete", imageID) })
	var v row
	OSJSON(t, c, demoCloud, &v, "volume", "create", "--image", imageID, "--size", "1", uniqueName("from-image"))
	id := str(v, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), demoCloud, "volume", "delete", "--force", id) })
	v = waitVolume(t, c, demoCloud, id, "available")
	wantField(t, "volume from image", v, "bootable", "true")
	if meta := fmt.Sprint(v["volume_image_metadata"]); !strings.Contains(meta, imageID) || !strings.Contains(meta, "nimbus") {
		t.Fatalf("volume_image_metadata %s", meta)
	}
	// and back: the volume uploaded as a new image of the project
	name := uniqueName("from-volume")
	OS(t, c, demoCloud, "image", "create", "--volume", id, name)
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), demoCloud, "image", "delete", name) })
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var got row
		OSJSON(t, c, demoCloud, &got, "image", "show", name)
		if str(got, "status") == "active" {
			if size, _ := got["size"].(float64); int64(size) != 1<<30 {
				t.Fatalf("uploaded image size %v, want the volume's 1 GiB", got["size"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("image from volume: status %s", str(got, "status"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	waitVolume(t, c, demoCloud, id, "available")
}
