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
	boot := func(attrs map[string]any) map[string]any {
		s := map[string]any{"name": "vm", "imageRef": "aaaaaaaa-0000-4000-8000-000000000001", "flavorRef": "1",
			"networks": []any{map[string]any{"uuid": netUUID}}}
		for k, v := range attrs {
			if v == nil {
				delete(s, k)
				continue
			}
			s[k] = v
		}
		return map[string]any{"server": s}
	}
	checkValidation(t, e, []validationCase{
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

		// Servers (schemas/servers.py create): a flavorRef as a number, counts
		// as strings, networks "none" from 2.37.
		{"flavorRef a number, counts as strings", "2.1", "POST", "/v2.1/servers", e.DemoToken, boot(map[string]any{"flavorRef": 1, "min_count": "1", "max_count": "1"}), 202, ""},
		{"networks none at 2.37", "2.37", "POST", "/v2.1/servers", e.DemoToken, boot(map[string]any{"networks": "none"}), 202, ""},
		{"networks missing at 2.37", "2.37", "POST", "/v2.1/servers", e.DemoToken, boot(map[string]any{"networks": nil}), 400,
			"Invalid input for field/attribute server. Value: {'flavorRef': '1', 'imageRef': 'aaaaaaaa-0000-4000-8000-000000000001', 'name': 'vm'}. 'networks' is a required property"},
		{"name too long", "2.1", "POST", "/v2.1/servers", e.DemoToken, boot(map[string]any{"name": strings.Repeat("n", 256)}), 400,
			"Invalid input for field/attribute name. Value: " + strings.Repeat("n", 256) + ". '" + strings.Repeat("n", 256) + "' is too long"},
		{"min_count zero", "2.1", "POST", "/v2.1/servers", e.DemoToken, boot(map[string]any{"min_count": "0"}), 400,
			"Invalid input for field/attribute min_count. Value: 0. 0 is less than the minimum of 1"},

		// Server groups (schemas/server_groups.py create): one policy to 2.63,
		// policy and rules (integers as strings) from 2.64.
		{"group rules from 2.64", "2.64", "POST", "/v2.1/os-server-groups", e.DemoToken,
			map[string]any{"server_group": map[string]any{"name": "g", "policy": "anti-affinity", "rules": map[string]any{"max_server_per_host": "2"}}}, 200, ""},
		{"group policies at 2.64", "2.64", "POST", "/v2.1/os-server-groups", e.DemoToken,
			map[string]any{"server_group": map[string]any{"name": "g", "policies": []any{"affinity"}}}, 400, "Invalid input for field/attribute server_group. Value: ..."},

		// Services (schemas/services.py update): forced_down from 2.11.
		{"forced_down at 2.10", "2.10", "PUT", "/v2.1/os-services/force-down", e.AdminToken,
			map[string]any{"host": "h1", "binary": "nova-compute", "forced_down": true}, 400,
			"Additional properties are not allowed ('forced_down' was unexpected)"},
		{"forced_down as a string at 2.11", "2.11", "PUT", "/v2.1/os-services/force-down", e.AdminToken,
			map[string]any{"host": "h1", "binary": "nova-compute", "forced_down": "false"}, 200, ""},

		// Server metadata (schemas/server_metadata.py).
		{"metadata value not a string", "2.1", "POST", "/v2.1/servers/" + id + "/metadata", e.DemoToken,
			map[string]any{"metadata": map[string]any{"k": 1}}, 400, "Invalid input for field/attribute k. Value: 1. 1 is not of type 'string'"},
	})
}

// validationCase is a request and upstream's answer to it.
type validationCase struct {
	name, version, method, path string
	token                       string
	body                        any
	status                      int
	message                     string // the whole message, or its start when it ends in "..."
}

// checkValidation sends each case in turn and holds its status, and the
// message of its fault when it names one.
func checkValidation(t *testing.T, e *testEnv, cases []validationCase) {
	t.Helper()
	for _, tc := range cases {
		status, out, raw, _ := e.send(tc.version, tc.method, tc.path, tc.token, tc.body)
		if status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, status, raw, tc.status)
			continue
		}
		if tc.message == "" {
			continue
		}
		var msg string
		for _, fault := range out {
			if f, ok := fault.(map[string]any); ok {
				msg, _ = f["message"].(string)
			}
		}
		if prefix, ok := strings.CutSuffix(tc.message, "..."); ok {
			if !strings.HasPrefix(msg, prefix) {
				t.Errorf("%s: %q, want it to start %q", tc.name, msg, prefix)
			}
		} else if msg != tc.message {
			t.Errorf("%s: %q\n want %q", tc.name, msg, tc.message)
		}
	}
}

// TestActionSchemas: each action of the action routes is held to its own
// upstream schema at the request's microversion (upstream's permissive forms
// accepted, invalid ones refused with Nova's message), behind upstream's
// dispatcher: one action key per body ("Malformed request body" otherwise),
// a known one ("There is no such action"), served at that microversion (404).
func TestActionSchemas(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	server := "/v2.1/servers/" + id + "/action"
	e.mustAt(200, "2.1", "POST", "/v2.1/flavors", e.AdminToken, map[string]any{"flavor": map[string]any{
		"name": "private", "id": "private", "ram": 64, "vcpus": 1, "disk": 0, "os-flavor-access:is_public": false}})
	flavor := "/v2.1/flavors/private/action"
	agg := e.mustAt(200, "2.1", "POST", "/v2.1/os-aggregates", e.AdminToken, map[string]any{"aggregate": map[string]any{"name": "rack"}})
	aggregate := fmt.Sprintf("/v2.1/os-aggregates/%v/action", agg["aggregate"].(map[string]any)["id"])
	checkValidation(t, e, []validationCase{
		// The dispatcher.
		{"no action", "2.1", "POST", server, e.DemoToken, map[string]any{}, 400, "Malformed request body"},
		{"two actions", "2.1", "POST", server, e.DemoToken, map[string]any{"pause": nil, "unpause": nil}, 400, "Malformed request body"},
		{"unknown action", "2.1", "POST", server, e.DemoToken, map[string]any{"explode": nil}, 400, "There is no such action: explode"},
		{"addFloatingIp after 2.43", "2.44", "POST", server, e.DemoToken, map[string]any{"addFloatingIp": map[string]any{"address": "x"}}, 404, ""},
		{"os-getVNCConsole after 2.5", "2.6", "POST", server, e.DemoToken, map[string]any{"os-getVNCConsole": map[string]any{"type": "novnc"}}, 404, ""},

		// Server actions (schemas/console_output.py, servers.py, lock_server.py, admin_actions.py, ...).
		// (past the schema, the fake host keeps no console: 409)
		{"console length as a string", "2.1", "POST", server, e.DemoToken, map[string]any{"os-getConsoleOutput": map[string]any{"length": "5"}}, 409, ""},
		{"console length null", "2.1", "POST", server, e.DemoToken, map[string]any{"os-getConsoleOutput": map[string]any{"length": nil}}, 409, ""},
		{"console length not a number", "2.1", "POST", server, e.DemoToken, map[string]any{"os-getConsoleOutput": map[string]any{"length": "x"}}, 400,
			"Invalid input for field/attribute length. Value: x. 'x' does not match '^-?[0-9]+$'"},
		{"console length below -1", "2.1", "POST", server, e.DemoToken, map[string]any{"os-getConsoleOutput": map[string]any{"length": -2}}, 400,
			"Invalid input for field/attribute length. Value: -2. -2 is less than the minimum of -1"},
		{"console unknown field", "2.1", "POST", server, e.DemoToken, map[string]any{"os-getConsoleOutput": map[string]any{"lines": 5}}, 400,
			"Invalid input for field/attribute os-getConsoleOutput. Value: {'lines': 5}. Additional properties are not allowed ('lines' was unexpected)"},
		{"reboot type unknown", "2.1", "POST", server, e.DemoToken, map[string]any{"reboot": map[string]any{"type": "gentle"}}, 400,
			"Invalid input for field/attribute type. Value: gentle. 'gentle' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']"},
		{"reboot without type", "2.1", "POST", server, e.DemoToken, map[string]any{"reboot": map[string]any{}}, 400,
			"Invalid input for field/attribute reboot. Value: {}. 'type' is a required property"},
		{"resize flavorRef an object", "2.1", "POST", server, e.DemoToken, map[string]any{"resize": map[string]any{"flavorRef": map[string]any{}}}, 400,
			"Invalid input for field/attribute flavorRef. Value: {}. {} is not of type 'string', 'integer'"},
		{"lock reason before 2.73 (any lock body)", "2.72", "POST", server, e.DemoToken, map[string]any{"lock": map[string]any{"locked_reason": ""}}, 202, ""},
		{"unlock", "2.72", "POST", server, e.DemoToken, map[string]any{"unlock": nil}, 202, ""},
		{"lock reason empty from 2.73", "2.73", "POST", server, e.DemoToken, map[string]any{"lock": map[string]any{"locked_reason": ""}}, 400,
			"Invalid input for field/attribute locked_reason. Value: . '' should be non-empty"},
		{"lock null from 2.73", "2.73", "POST", server, e.DemoToken, map[string]any{"lock": nil}, 202, ""},
		{"unlock again", "2.73", "POST", server, e.DemoToken, map[string]any{"unlock": nil}, 202, ""},
		{"reset state unknown", "2.1", "POST", server, e.AdminToken, map[string]any{"os-resetState": map[string]any{"state": "deleted"}}, 400,
			"Invalid input for field/attribute state. Value: deleted. 'deleted' is not one of ['active', 'error']"},
		{"rescue image not a UUID", "2.1", "POST", server, e.DemoToken, map[string]any{"rescue": map[string]any{"rescue_image_ref": "x"}}, 400,
			"Invalid input for field/attribute rescue_image_ref. Value: x. 'x' is not a 'uuid'"},
		{"reboot type not a string", "2.1", "POST", server, e.DemoToken, map[string]any{"reboot": map[string]any{"type": 1}}, 400,
			"Invalid input for field/attribute type. Value: 1. 1 is not of type 'string'"},

		// Flavor actions (schemas/flavor_access.py).
		{"tenant access", "2.1", "POST", flavor, e.AdminToken, map[string]any{"addTenantAccess": map[string]any{"tenant": e.DemoProject}}, 200, ""},
		{"tenant empty", "2.1", "POST", flavor, e.AdminToken, map[string]any{"addTenantAccess": map[string]any{"tenant": ""}}, 400,
			"Invalid input for field/attribute tenant. Value: . '' should be non-empty"},
		{"tenant missing", "2.1", "POST", flavor, e.AdminToken, map[string]any{"removeTenantAccess": map[string]any{}}, 400,
			"Invalid input for field/attribute removeTenantAccess. Value: {}. 'tenant' is a required property"},
		{"flavor action unknown", "2.1", "POST", flavor, e.AdminToken, map[string]any{"explode": nil}, 400, "There is no such action: explode"},

		// Aggregate actions (schemas/aggregates.py).
		{"metadata value null", "2.1", "POST", aggregate, e.AdminToken, map[string]any{"set_metadata": map[string]any{"metadata": map[string]any{"k": nil}}}, 200, ""},
		{"metadata value a number", "2.1", "POST", aggregate, e.AdminToken, map[string]any{"set_metadata": map[string]any{"metadata": map[string]any{"k": 1}}}, 400,
			"Invalid input for field/attribute k. Value: 1. 1 is not of type 'string', 'null'"},
		{"host with a space", "2.1", "POST", aggregate, e.AdminToken, map[string]any{"add_host": map[string]any{"host": "h 1"}}, 400,
			"Invalid input for field/attribute host. Value: h 1. 'h 1' does not match '^[a-zA-Z0-9-._]*$'"},
	})
}
