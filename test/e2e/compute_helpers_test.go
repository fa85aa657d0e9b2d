package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
)

// fakeImage uploads a public 1 MiB raw image named name (the fake driver never
// reads it) and returns its id; it is deleted at cleanup.
func fakeImage(t *testing.T, c *Cloud, name string) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "img.raw")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	var image row
	OSJSON(t, c, adminCloud, &image, "image", "create", "--public", "--disk-format", "raw", "--container-format", "bare",
		"--file", img, name)
	id := str(image, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(nil, adminCloud, "image", "delete", id) })
	return id
}

// fakeComputeCloud starts a cloud of its own whose compute hosts run the fake
// driver, with env added, and uploads a fake image named image.
func fakeComputeCloud(t *testing.T, image string, env ...string) *Cloud {
	t.Helper()
	c, err := StartCloudEnv(filepath.Join(t.TempDir(), "cloud"), append([]string{"NIMBUS_IMAGE_GUEST_IMAGE=false"}, env...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	fakeImage(t, c, image)
	return c
}

// underlay joins the bed's host namespace and hostB by a veth "phys0", the
// physical link and tunnel underlay of two simulated hosts (192.0.2.1 and .2).
func underlay(b *dataplanetest.Bed, hostB string) {
	host := b.Host
	b.Sh(host, "ip", "link", "add", "phys0", "type", "veth", "peer", "name", "phys0", "netns", hostB)
	for _, h := range []struct{ ns, addr string }{{host, "192.0.2.1/24"}, {hostB, "192.0.2.2/24"}} {
		b.Sh(h.ns, "ip", "addr", "add", h.addr, "dev", "phys0")
		b.Sh(h.ns, "ip", "link", "set", "phys0", "up")
	}
}
