package fake

import (
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend/contracttest"
)

func TestFakeBackendContract(t *testing.T) {
	b, err := New("fake", t.TempDir(), 10)
	if err != nil {
		t.Fatal(err)
	}
	contracttest.Run(t, b)
}
