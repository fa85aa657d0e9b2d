package file

import (
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend/contracttest"
)

// TestFileBackendContract holds the file backend to what the volume manager
// expects of every backend, as the fake is.
func TestFileBackendContract(t *testing.T) {
	contracttest.Run(t, newBackend(t, Options{}))
}
