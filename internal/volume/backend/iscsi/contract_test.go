package iscsi

import (
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend/contracttest"
)

// TestISCSIBackendContract holds the iSCSI backend to what the volume manager
// expects of every backend, as the file backend and the fake are.
func TestISCSIBackendContract(t *testing.T) {
	contracttest.Run(t, newBackend(t, Options{}))
}
