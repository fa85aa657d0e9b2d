package volume

import (
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend/fake"
)

func bvOf(id string, sizeGB int) backend.Volume { return backend.Volume{ID: id, SizeGB: sizeGB} }

// patternOffset is where the tests write their pattern: past the first
// block, so a restore that skipped it or wrote it at 0 is seen.
const patternOffset = 3<<20 + 17

// writePattern writes text into a volume's data on its backend, as a guest would.
func writePattern(t *testing.T, b *fake.Backend, id string, sizeGB int, text string) {
	t.Helper()
	d, err := b.Open(t.Context(), bvOf(id, sizeGB), "")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.WriteAt([]byte(text), patternOffset); err != nil {
		t.Fatal(err)
	}
}

// readPattern reads n bytes where writePattern writes.
func readPattern(t *testing.T, b *fake.Backend, id string, sizeGB, n int) string {
	t.Helper()
	d, err := b.Open(t.Context(), bvOf(id, sizeGB), "")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	buf := make([]byte, n)
	if _, err := d.ReadAt(buf, patternOffset); err != nil {
		t.Fatal(err)
	}
	return string(buf)
}
