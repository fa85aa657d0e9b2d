package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImageCLI drives the image service with the real openstack CLI: create with
// data, list, show, save (bytes identical), set, sharing with another project, delete.
func TestImageCLI(t *testing.T) {
	c := shared
	const admin, demo = "nimbus-admin", "nimbus-demo"
	dir := t.TempDir()
	data := make([]byte, 2<<20+123)
	_, _ = rand.Read(data)
	// random bytes are a raw disk (declared qcow2 they are refused, as upstream
	// Glance refuses content that is not its disk_format); a zero where an MBR
	// signature would be keeps them from ever looking like a partition table
	data[510] = 0
	sum := md5.Sum(data)
	in := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	name := uniqueName("cli-image")
	var img row
	OSJSON(t, c, demo, &img, "image", "create", "--file", in, "--disk-format", "raw", "--container-format", "bare",
		"--property", "hw_disk_bus=virtio", "--tag", "e2e", name)
	id := str(img, "id")
	t.Cleanup(func() {
		_, _ = c.OpenStack(context.Background(), demo, "image", "set", "--unprotected", id)
		_, _ = c.OpenStack(context.Background(), demo, "image", "delete", id)
	})
	wantField(t, "image create", img, "disk_format", "raw")
	// the CLI prints the image as created, before its upload; show has the result
	OSJSON(t, c, demo, &img, "image", "show", id)
	wantField(t, "image show", img, "status", "active")
	wantField(t, "image show", img, "checksum", hex.EncodeToString(sum[:]))

	var images []row
	OSJSON(t, c, demo, &images, "image", "list")
	if r, ok := findRow(images, "ID", id); !ok || str(r, "Name") != name || str(r, "Status") != "active" {
		t.Fatalf("image list lacks %s: %v", name, images)
	}
	OSJSON(t, c, demo, &img, "image", "show", name)
	if size, _ := img["size"].(float64); int(size) != len(data) {
		t.Fatalf("image show: size %v, want %d", img["size"], len(data))
	}
	if props := str(img, "properties"); !strings.Contains(props, "hw_disk_bus") {
		t.Fatalf("image show: properties %q lack hw_disk_bus", props)
	}
	if tags := str(img, "tags"); !strings.Contains(tags, "e2e") {
		t.Fatalf("image show: tags %q", tags)
	}

	// a hidden image is found by name: the CLI asks again with os_hidden=True,
	// which upstream reads case-insensitively
	hiddenName := uniqueName("cli-hidden")
	var hidden row
	OSJSON(t, c, demo, &hidden, "image", "create", hiddenName)
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), demo, "image", "delete", str(hidden, "id")) })
	OS(t, c, demo, "image", "set", "--hidden", hiddenName)
	OSJSON(t, c, demo, &img, "image", "show", hiddenName)
	wantField(t, "image show (hidden)", img, "id", str(hidden, "id"))

	out := filepath.Join(dir, "out.img")
	OS(t, c, demo, "image", "save", "--file", out, id)
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("image save: %d bytes (err %v), want the %d uploaded", len(got), err, len(data))
	}

	renamed := name + "-renamed"
	OS(t, c, demo, "image", "set", "--name", renamed, "--property", "os_distro=nimbus", "--tag", "more", "--protected", id)
	OSJSON(t, c, demo, &img, "image", "show", id)
	wantField(t, "image set", img, "name", renamed)
	wantField(t, "image set", img, "protected", "true")
	if props := str(img, "properties"); !strings.Contains(props, "nimbus") {
		t.Fatalf("image set: properties %q", props)
	}
	if tags := str(img, "tags"); !strings.Contains(tags, "more") || !strings.Contains(tags, "e2e") {
		t.Fatalf("image set: tags %q", tags)
	}
	mustFail(t, c, demo, "protected", "image", "delete", id)
	mustFail(t, c, demo, "", "image", "set", "--public", id)

	// a member deactivates and reactivates its project's image (upstream's
	// default deactivate/reactivate: admin or the project's member)
	OS(t, c, demo, "image", "set", "--deactivate", id)
	OSJSON(t, c, demo, &img, "image", "show", id)
	wantField(t, "image set --deactivate", img, "status", "deactivated")
	mustFail(t, c, demo, "", "image", "save", "--file", out+"2", id)
	OS(t, c, demo, "image", "set", "--activate", id)
	OSJSON(t, c, demo, &img, "image", "show", id)
	wantField(t, "image set --activate", img, "status", "active")

	// Sharing: another project's user sees the image only once a member who accepted.
	projectName, userName := uniqueName("img-proj"), uniqueName("img-user")
	password := "pw-" + uniqueName("img")
	noteSecret(password)
	var project row
	OSJSON(t, c, admin, &project, "project", "create", projectName)
	projectID := str(project, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), admin, "project", "delete", projectID) })
	var user row
	OSJSON(t, c, admin, &user, "user", "create", "--project", projectName, "--password", password, userName)
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), admin, "user", "delete", str(user, "id")) })
	OS(t, c, admin, "role", "add", "--project", projectName, "--user", userName, "member")
	other := newCLIConfig(t, fmt.Sprintf(`clouds:
  e2e-other:
    auth:
      auth_url: %s
      username: %q
      password: %q
      project_name: %q
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
`, c.IdentityURL, userName, password, projectName))
	if _, err := other.run("e2e-other", "image", "show", id); err == nil {
		t.Fatal("another project sees a shared image before it is a member")
	}
	OS(t, c, demo, "image", "add", "project", id, projectID)
	if outp, err := other.run("e2e-other", "image", "set", "--accept", id); err != nil {
		t.Fatalf("image set --accept: %v", outp)
	}
	listOut, err := other.run("e2e-other", "image", "list", "-f", "value", "-c", "ID")
	if err != nil || !strings.Contains(listOut, id) {
		t.Fatalf("image list as member: %v %s", err, listOut)
	}
	if outp, err := other.run("e2e-other", "image", "save", "--file", out+"3", id); err != nil {
		t.Fatalf("image save as member: %v", outp)
	}

	OS(t, c, demo, "image", "set", "--unprotected", id)
	OS(t, c, demo, "image", "delete", id)
	if _, err := c.OpenStack(context.Background(), demo, "image", "show", id); err == nil {
		t.Fatal("image still there after delete")
	}
}
