package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestGlanceCLI drives the image service with the `glance` client (python3-glanceclient,
// which the openstack CLI depends on): image-create with --progress streams the file
// and shows the progress bar, the image becomes active with the right checksum, and
// image-download gives the same bytes back.
func TestGlanceCLI(t *testing.T) {
	c := shared
	dir := t.TempDir()
	data := make([]byte, 3<<20+17)
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
	name := uniqueName("glance-cli")
	// The client draws its progress bar only on a terminal: give it one with script(1).
	out := glance(t, c, "script", "-qec", "glance image-create --progress --file "+in+
		" --disk-format raw --container-format bare --name "+name, "/dev/null")
	if !strings.Contains(out, "100%") {
		t.Fatalf("image-create --progress printed no progress bar:\n%s", out)
	}
	id := regexp.MustCompile(`\|\s+id\s+\|\s+([0-9a-f-]{36})\s+\|`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("image-create printed no id:\n%s", out)
	}
	t.Cleanup(func() { _, _ = runGlance(c, "image-delete", id[1]) })
	shown := glance(t, c, "image-show", id[1])
	for _, want := range []string{"active", hex.EncodeToString(sum[:]), name} {
		if !strings.Contains(shown, want) {
			t.Fatalf("image-show lacks %q:\n%s", want, shown)
		}
	}
	// the image's tasks (v2.12, which the versions document lists): none for an upload
	if tasks := glance(t, c, "image-tasks", id[1]); !strings.Contains(tasks, "Status") {
		t.Fatalf("image-tasks:\n%s", tasks)
	}
	back := filepath.Join(dir, "back.img")
	glance(t, c, "image-download", "--file", back, id[1])
	if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("image-download: %d bytes (err %v), want the %d uploaded", len(got), err, len(data))
	}
}

// glance runs the glance client (or script(1) running it) as demo against the shared cloud and fails the test on error.
func glance(t *testing.T, c *Cloud, args ...string) string {
	t.Helper()
	out, err := runGlance(c, args...)
	if err != nil {
		t.Fatalf("glance %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func runGlance(c *Cloud, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := "glance"
	if args[0] == "script" {
		name, args = args[0], args[1:]
	}
	cmd := exec.CommandContext(ctx, name, args...)
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "OS_AUTH_URL="+c.IdentityURL+"/v3", "OS_USERNAME=demo", "OS_PASSWORD="+c.Secret("demo"),
		"OS_PROJECT_NAME=demo", "OS_USER_DOMAIN_ID=default", "OS_PROJECT_DOMAIN_ID=default",
		"OS_IDENTITY_API_VERSION=3", "OS_IMAGE_API_VERSION=2", "OS_REGION_NAME=RegionOne")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestGlanceMetadefsCLI reads the metadata definitions with the glance client,
// as Horizon's property pickers do: the standard namespaces upstream ships are
// listed, and one shows with its properties and resource type associations.
func TestGlanceMetadefsCLI(t *testing.T) {
	c := shared
	list := glance(t, c, "md-namespace-list")
	for _, want := range []string{"OS::Compute::Watchdog", "OS::Compute::Hypervisor", "OS::Compute::LibvirtImage"} {
		if !strings.Contains(list, want) {
			t.Fatalf("md-namespace-list lacks %s:\n%s", want, list)
		}
	}
	flavor := glance(t, c, "md-namespace-list", "--resource-types", "OS::Nova::Flavor")
	if !strings.Contains(flavor, "OS::Compute::Watchdog") || strings.Contains(flavor, "OS::Compute::LibvirtImage") {
		t.Fatalf("md-namespace-list --resource-types OS::Nova::Flavor:\n%s", flavor)
	}
	shown := glance(t, c, "md-namespace-show", "OS::Compute::Watchdog", "--resource-type", "OS::Glance::Image")
	for _, want := range []string{"hw_watchdog_action", "OS::Nova::Flavor", "Watchdog Behavior"} {
		if !strings.Contains(shown, want) {
			t.Fatalf("md-namespace-show lacks %s:\n%s", want, shown)
		}
	}
	prop := glance(t, c, "md-property-show", "OS::Compute::Watchdog", "watchdog_action")
	if !strings.Contains(prop, "poweroff") {
		t.Fatalf("md-property-show:\n%s", prop)
	}
	if types := glance(t, c, "md-resource-type-list"); !strings.Contains(types, "OS::Glance::Image") {
		t.Fatalf("md-resource-type-list:\n%s", types)
	}
}
