package compute

import (
	"fmt"
	"strings"
	"testing"
)

// TestRequestValidationByNovaSchema: bodies are held to Nova's own request
// schemas (schemas/nova) before the policy, per microversion: upstream's
// permissive forms accepted (a flavor id as a string, a number or null,
// booleans and integers as strings), invalid ones refused with Nova's 400
// "Invalid input for field/attribute <name>. Value: <value>. <message>".
func TestRequestValidationByNovaSchema(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	n := 0
	flavor := func(attrs map[string]any) map[string]any {
		n++
		f := map[string]any{"name": fmt.Sprintf("v%d", n), "ram": 64, "vcpus": 1, "disk": 0}
		for k, v := range attrs {
			if v == nil {
				f[k] = nil
				continue
			}
			f[k] = v
		}
		return map[string]any{"flavor": f}
	}
	for _, tc := range []struct {
		name, version, method, path string
		token                       string
		body                        any
		status                      int
		message                     string // the whole message, or its start when it ends in "..."
	}{
		// Flavors (schemas/flavors.py create): permissive ids, integers and booleans.
		{"flavor id a string", "2.1", "POST", "/v2.1/flavors", e.AdminToken, flavor(map[string]any{"id": "small-1"}), 200, ""},
		{"flavor id a number", "2.1", "POST", "/v2.1/flavors", e.AdminToken, flavor(map[string]any{"id": 4242}), 200, ""},
		{"flavor id null", "2.1", "POST", "/v2.1/flavors", e.AdminToken, flavor(map[string]any{"id": nil}), 200, ""},
		{"ram as a string", "2.1", "POST", "/v2.1/flavors", e.AdminToken, flavor(map[string]any{"ram": "128"}), 200, ""},
		{"is_public as a string", "2.1", "POST", "/v2.1/flavors", e.AdminToken, flavor(map[string]any{"os-flavor-access:is_public": "yes"}), 200, ""},
		{"ram not a number", "2.1", "POST", "/v2.1/flavors", e.AdminToken, flavor(map[string]any{"ram": "lots"}), 400,
			"Invalid input for field/attribute ram. Value: lots. 'lots' does not match '^[0-9]+$'"},
		{"is_public not a boolean", "2.1", "POST", "/v2.1/flavors", e.AdminToken, flavor(map[string]any{"os-flavor-access:is_public": "maybe"}), 400,
			"Invalid input for field/attribute os-flavor-access:is_public. Value: maybe. 'maybe' is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no']"},
		{"name with a leading space", "2.1", "POST", "/v2.1/flavors", e.AdminToken, flavor(map[string]any{"name": " small"}), 400,
			"An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace."},
		{"flavor id with a space at its end", "2.1", "POST", "/v2.1/flavors", e.AdminToken, flavor(map[string]any{"id": "small "}), 400,
			"Invalid input for field/attribute id. Value: small . 'small ' does not match ..."},
		{"unknown field", "2.1", "POST", "/v2.1/flavors", e.AdminToken, flavor(map[string]any{"color": "red"}), 400,
			"Invalid input for field/attribute flavor. Value: ..."},
		{"description before 2.55", "2.54", "POST", "/v2.1/flavors", e.AdminToken, flavor(map[string]any{"description": "d"}), 400,
			"Invalid input for field/attribute flavor. Value: ..."},
		{"description from 2.55", "2.55", "POST", "/v2.1/flavors", e.AdminToken, flavor(map[string]any{"description": "d"}), 200, ""},
		// Validation comes before the policy, as Nova's: a member's bad body is a 400.
		{"a member's bad body", "2.1", "POST", "/v2.1/flavors", e.DemoToken, flavor(map[string]any{"ram": "lots"}), 400,
			"Invalid input for field/attribute ram. Value: lots. 'lots' does not match '^[0-9]+$'"},
		{"a member's good body", "2.1", "POST", "/v2.1/flavors", e.DemoToken, flavor(nil), 403, ""},

		// Key pairs (schemas/keypairs.py): type from 2.2, user_id from 2.10.
		{"key pair type at 2.1", "2.1", "POST", "/v2.1/os-keypairs", e.DemoToken, map[string]any{"keypair": map[string]any{"name": "k1", "type": "ssh"}}, 400,
			"Invalid input for field/attribute keypair. Value: {'name': 'k1', 'type': 'ssh'}. Additional properties are not allowed ('type' was unexpected)"},
		{"key pair type x509 at 2.2", "2.2", "POST", "/v2.1/os-keypairs", e.DemoToken, map[string]any{"keypair": map[string]any{"name": "k2", "type": "x509"}}, 201, ""},
		{"key pair type unknown", "2.2", "POST", "/v2.1/os-keypairs", e.DemoToken, map[string]any{"keypair": map[string]any{"name": "k3", "type": "dsa"}}, 400,
			"Invalid input for field/attribute type. Value: dsa. 'dsa' is not one of ['ssh', 'x509']"},
		{"key pair without a name", "2.2", "POST", "/v2.1/os-keypairs", e.DemoToken, map[string]any{"keypair": map[string]any{}}, 400,
			"Invalid input for field/attribute keypair. Value: {}. 'name' is a required property"},

		// Server tags (schemas/server_tags.py): no "/" or "," in a tag.
		{"tags replaced", "2.26", "PUT", "/v2.1/servers/" + id + "/tags", e.DemoToken, map[string]any{"tags": []any{"a", "b"}}, 200, ""},
		{"a tag with a slash", "2.26", "PUT", "/v2.1/servers/" + id + "/tags", e.DemoToken, map[string]any{"tags": []any{"a/b"}}, 400,
			"Invalid input for field/attribute 0. Value: a/b. 'a/b' does not match '^[^,/]*$'"},

		// Quota sets (schemas/quota_sets.py): integers as strings, force as a string.
		{"quota as a string, forced", "2.1", "PUT", "/v2.1/os-quota-sets/" + e.DemoProject, e.AdminToken,
			map[string]any{"quota_set": map[string]any{"instances": "20", "force": "True"}}, 200, ""},
		{"quota below -1", "2.1", "PUT", "/v2.1/os-quota-sets/" + e.DemoProject, e.AdminToken,
			map[string]any{"quota_set": map[string]any{"instances": -2}}, 400,
			"Invalid input for field/attribute instances. Value: -2. -2 is less than the minimum of -1"},
		{"a network quota from 2.36", "2.36", "PUT", "/v2.1/os-quota-sets/" + e.DemoProject, e.AdminToken,
			map[string]any{"quota_set": map[string]any{"floating_ips": 1}}, 400,
			"Invalid input for field/attribute quota_set. Value: {'floating_ips': 1}. Additional properties are not allowed ('floating_ips' was unexpected)"},

		// Server metadata (schemas/server_metadata.py).
		{"metadata value not a string", "2.1", "POST", "/v2.1/servers/" + id + "/metadata", e.DemoToken,
			map[string]any{"metadata": map[string]any{"k": 1}}, 400, "Invalid input for field/attribute k. Value: 1. 1 is not of type 'string'"},
	} {
		status, out, raw, _ := e.send(tc.version, tc.method, tc.path, tc.token, tc.body)
		if status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, status, raw, tc.status)
			continue
		}
		if tc.message == "" {
			continue
		}
		msg, _ := out["badRequest"].(map[string]any)["message"].(string)
		if prefix, ok := strings.CutSuffix(tc.message, "..."); ok {
			if !strings.HasPrefix(msg, prefix) {
				t.Errorf("%s: %q, want it to start %q", tc.name, msg, prefix)
			}
		} else if msg != tc.message {
			t.Errorf("%s: %q\n want %q", tc.name, msg, tc.message)
		}
	}
}
