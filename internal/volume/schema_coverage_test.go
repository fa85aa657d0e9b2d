package volume

import (
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi/httpapitest"
)

// TestVolumeSchemaCoverage: every route has its response schemas, and every
// route taking a body its request schema or a reason why not.
func TestVolumeSchemaCoverage(t *testing.T) {
	e := newTestEnv(t, nil)
	httpapitest.CheckSchemaCoverage(t, withResponses(e.Service.routes()), map[string]string{
		"POST /v3/types: no request schema":                              "validated in the handler with upstream's messages",
		"PUT /v3/types/{type_id}: no request schema":                     "validated in the handler with upstream's messages",
		"POST /v3/types/{type_id}/extra_specs: no request schema":        "validated in the handler with upstream's messages",
		"PUT /v3/types/{type_id}/extra_specs/{key}: no request schema":   "validated in the handler with upstream's messages",
		"POST /v3/types/{type_id}/action: no request schema":             "one schema per action, checked in the handler",
		"POST /v3/volumes/{volume_id}/action: no request schema":         "one schema per action, checked in the handler",
		"POST /v3/attachments/{attachment_id}/action: no request schema": "os-complete, checked in the handler",
		"PUT /v3/os-quota-sets/{target}: no request schema":              "quota_set's keys depend on the volume types: checked in the handler",
	})
}
