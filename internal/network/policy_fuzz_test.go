package network

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

// bodyFuzzOperation is one create or update a tenant makes with a fuzzed body.
type bodyFuzzOperation struct {
	method, path, member, action string
	// fixed are attributes the operation always sets (the network of a port).
	fixed map[string]any
	// target is the resource as upstream's policy engine sees it, before the body.
	target map[string]any
	// cleanup removes what a successful create made.
	collection string
}

// createDefaults are the API defaults of attributes whose rules an ordinary
// member fails (neutron-lib's definitions): creating with them is not policed.
var createDefaults = map[string]any{"shared": false, "router:external": false, "is_default": false}

// FuzzBodyPolicy drives creates and updates of ports, networks and routers with
// arbitrary bodies, as a member of a project that does not own the shared network
// its ports go on: no body makes the service fail (5xx) or panic, and no request
// that sets an attribute whose upstream rule ("create_port:mac_address",
// "update_port:fixed_ips:ip_address", "create_router:external_gateway_info:enable_snat"...)
// denies the caller succeeds. The rules are read from upstream's definitions
// (testdata/upstream-policies.yaml), apart from the service's own table.
func FuzzBodyPolicy(f *testing.F) {
	e := newTestEnv(f, nil)
	upstream, err := policytest.LoadUpstream(upstreamPolicies)
	if err != nil {
		f.Fatal(err)
	}
	shared := e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "shared", "shared": true})["id"].(string)
	e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": shared, "ip_version": 4, "cidr": "10.70.0.0/22"})
	ext := e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "public", "router:external": true})["id"].(string)
	e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": ext, "ip_version": 4, "cidr": "172.24.4.0/24"})
	tenant, project := e.NewProjectUser("tenant")
	creds, err := e.identity.Service.Validator().Authenticate(f.Context(), tenant)
	if err != nil {
		f.Fatal(err)
	}
	port := e.Create(tenant, "ports", "port", map[string]any{"network_id": shared})["id"].(string)
	network := e.Create(tenant, "networks", "network", map[string]any{"name": "own"})["id"].(string)
	router := e.Create(tenant, "routers", "router", map[string]any{"name": "own"})["id"].(string)
	owned := map[string]any{"project_id": project, "tenant_id": project}
	portTarget := map[string]any{"project_id": project, "tenant_id": project, "network_id": shared,
		"network:project_id": e.identity.AdminProject, "shared": true, "device_owner": ""}
	operations := []bodyFuzzOperation{
		{"POST", "/v2.0/ports", "port", "create_port", map[string]any{"network_id": shared}, portTarget, "ports"},
		{"PUT", "/v2.0/ports/" + port, "port", "update_port", nil, portTarget, ""},
		{"POST", "/v2.0/networks", "network", "create_network", nil, owned, "networks"},
		{"PUT", "/v2.0/networks/" + network, "network", "update_network", nil, owned, ""},
		{"POST", "/v2.0/routers", "router", "create_router", nil, owned, "routers"},
		{"PUT", "/v2.0/routers/" + router, "router", "update_router", nil, owned, ""},
	}
	for _, seed := range []string{
		`{"name": "ok"}`,
		`{"mac_address": "fa:16:3e:00:00:01"}`,
		`{"fixed_ips": [{"ip_address": "10.70.0.5"}]}`,
		`{"fixed_ips": [{"subnet_id": "x", "ip_address": "10.70.0.6"}, {"ip_address": "10.70.0.7"}]}`,
		`{"fixed_ips": []}`,
		`{"allowed_address_pairs": [{"ip_address": "0.0.0.0/0"}]}`,
		`{"allowed_address_pairs": [{"mac_address": "fa:16:3e:00:00:02", "ip_address": "10.0.0.1"}]}`,
		`{"port_security_enabled": false, "security_groups": []}`,
		`{"binding:host_id": "h1", "binding:profile": {"x": 1}}`,
		`{"device_owner": "network:router_interface"}`,
		`{"device_owner": "compute:nova", "device_id": "vm"}`,
		`{"trusted": true}`,
		`{"shared": true}`, `{"shared": "False"}`, `{"router:external": "1"}`, `{"is_default": false}`,
		`{"provider:network_type": "flat"}`, `{"mtu": 1400}`,
		`{"external_gateway_info": {"network_id": "` + ext + `", "enable_snat": false}}`,
		`{"external_gateway_info": {"network_id": "` + ext + `", "external_fixed_ips": [{"ip_address": "172.24.4.9"}]}}`,
		`{"distributed": true}`, `{"ha": false}`,
		`{"name": "x", "fixed_ips": null, "mac_address": null}`,
		`[]`, `null`, `"port"`, `{"fixed_ips": [1, "a", {"ip_address": {}}]}`,
	} {
		for op := range operations {
			f.Add(uint8(op), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, raw []byte) {
		op := operations[int(which)%len(operations)]
		var attrs map[string]any
		body := []byte(`{"` + op.member + `": ` + string(raw) + `}`)
		if json.Unmarshal(raw, &attrs) == nil && attrs != nil {
			for k, v := range op.fixed {
				attrs[k] = v
			}
			body, _ = json.Marshal(map[string]any{op.member: attrs})
		}
		status, out := send(t, e.URL, op.method, op.path, tenant, body)
		if status >= 500 {
			t.Fatalf("%s %s %s: %d %v", op.method, op.path, body, status, out)
		}
		denied := deniedAttribute(upstream, op, attrs, creds.PolicyCredentials())
		if status < 300 && denied != "" {
			t.Fatalf("%s %s %s as a member: %d, but upstream's %s denies it", op.method, op.path, body, status, denied)
		}
		if status == http.StatusCreated && op.collection != "" {
			created, _ := out[op.member].(map[string]any)
			id, _ := created["id"].(string)
			if s, _ := send(t, e.URL, "DELETE", "/v2.0/"+op.collection+"/"+id, e.AdminToken, nil); s != http.StatusNoContent && s != http.StatusConflict {
				t.Fatalf("delete the %s made by %s: %d", op.member, body, s)
			}
		}
	})
}

// deniedAttribute names the first rule upstream evaluates for a body's attributes
// ("<action>:<attribute>", and "<action>:<attribute>:<key>" for the keys of a
// dictionary or of the dictionaries of a list) that exists and denies creds; ""
// when none does.
func deniedAttribute(upstream *policy.Enforcer, op bodyFuzzOperation, attrs map[string]any, creds map[string]any) string {
	target := map[string]any{}
	for k, v := range op.target {
		target[k] = v
	}
	if owner, ok := attrs["device_owner"].(string); ok && op.member == "port" {
		target["device_owner"] = owner
	}
	creating := op.method == "POST"
	for name, v := range attrs {
		if def, ok := createDefaults[name]; creating && ok && sameBool(v, def) {
			continue
		}
		rules := []string{op.action + ":" + name}
		switch x := v.(type) {
		case map[string]any:
			for key := range x {
				rules = append(rules, op.action+":"+name+":"+key)
			}
		case []any:
			for _, item := range x {
				if m, ok := item.(map[string]any); ok {
					for key := range m {
						rules = append(rules, op.action+":"+name+":"+key)
					}
				}
			}
		}
		for _, rule := range rules {
			if _, exists := upstream.Rule(rule); exists && !upstream.Allowed(rule, target, creds) {
				return rule
			}
		}
	}
	return ""
}

// sameBool reports whether a body's value is the boolean def as the API reads it.
func sameBool(v, def any) bool {
	want, _ := def.(bool)
	switch x := v.(type) {
	case bool:
		return x == want
	case string:
		return want && (x == "true" || x == "True" || x == "1") || !want && (x == "false" || x == "False" || x == "0")
	}
	return false
}

// send makes a request for the fuzz function, failing t (not the env's F) on a
// transport error.
func send(t *testing.T, base, method, path, token string, body []byte) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.NewDecoder(strings.NewReader(string(data))).Decode(&out)
	return resp.StatusCode, out
}
