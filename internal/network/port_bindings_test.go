package network

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

// serviceToken is a token of a user with the service role on a project of its
// own, as Nova's service user calls Neutron with (the port bindings' rules
// are service-only). The role is made when identity has none.
func serviceToken(t testing.TB, e *testEnv) string {
	t.Helper()
	call := func(want int, method, path string, body any) (map[string]any, http.Header) {
		t.Helper()
		data, _ := json.Marshal(body)
		if body == nil {
			data = nil
		}
		req, err := http.NewRequest(method, e.identity.URL+path, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Auth-Token", e.AdminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: status %d, want %d: %v", method, path, resp.StatusCode, want, out)
		}
		return out, resp.Header
	}
	roles, _ := call(http.StatusOK, "GET", "/v3/roles?name=service", nil)
	var roleID string
	if list, _ := roles["roles"].([]any); len(list) > 0 {
		roleID = list[0].(map[string]any)["id"].(string)
	} else {
		out, _ := call(http.StatusCreated, "POST", "/v3/roles", map[string]any{"role": map[string]any{"name": "service"}})
		roleID = out["role"].(map[string]any)["id"].(string)
	}
	_, project := e.identity.NewProjectUser("nova-service")
	users, _ := call(http.StatusOK, "GET", "/v3/users?name=nova-service", nil)
	userID := users["users"].([]any)[0].(map[string]any)["id"].(string)
	call(http.StatusNoContent, "PUT", "/v3/projects/"+project+"/users/"+userID+"/roles/"+roleID, nil)
	token, _ := e.identity.Login("nova-service", "nova-service-pw", "nova-service")
	return token
}

// TestPortBindings takes a port through a live migration's bindings, as
// Nova does: an INACTIVE binding for the destination (whose agent then wires
// the port), its activation (the port's host moves, its MAC and addresses
// stay, the source's agent lets the port go), a DOWN report of the source's
// agent that does not touch the port, the source's binding deleted.
func TestPortBindings(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	svc := serviceToken(t, e)
	netID, _ := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	port := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID})
	id := port["id"].(string)
	base := "/v2.0/ports/" + id + "/bindings"
	e.Must(http.StatusOK, "PUT", "/v2.0/ports/"+id, e.AdminToken, map[string]any{"port": map[string]any{"binding:host_id": "src"}})
	if err := e.Network.SetPortStatus(ctx, "ACTIVE", id); err != nil {
		t.Fatal(err)
	}

	// Only the service may create one; the project's member does not see them.
	e.Fail(http.StatusForbidden, "", "POST", base, e.AdminToken, map[string]any{"binding": map[string]any{"host": "dst"}})
	if status, _, _ := e.Do("GET", base, e.DemoToken, nil); status != http.StatusForbidden && status != http.StatusNotFound {
		t.Fatalf("GET bindings as the port's member: %d, want refused", status)
	}

	created := e.Must(http.StatusCreated, "POST", base, svc, map[string]any{"binding": map[string]any{"host": "dst"}})["binding"].(map[string]any)
	if created["host"] != "dst" || created["status"] != "INACTIVE" || created["vif_type"] != "bridge" || created["vnic_type"] != "normal" {
		t.Fatalf("created binding = %v", created)
	}
	e.Fail(http.StatusConflict, "PortBindingAlreadyExists", "POST", base, svc, map[string]any{"binding": map[string]any{"host": "dst"}})
	e.Fail(http.StatusConflict, "PortBindingAlreadyExists", "POST", base, svc, map[string]any{"binding": map[string]any{"host": "src"}})
	wantBindings(t, e, base, map[string]string{"src": "ACTIVE", "dst": "INACTIVE"})
	if got := e.Must(http.StatusOK, "GET", base+"/dst", e.AdminToken, nil)["binding"].(map[string]any); got["status"] != "INACTIVE" {
		t.Fatalf("GET binding dst = %v", got)
	}
	e.Fail(http.StatusNotFound, "PortBindingNotFound", "GET", base+"/nowhere", e.AdminToken, nil)
	shown := e.Must(http.StatusOK, "GET", "/v2.0/ports/"+id, e.AdminToken, nil)["port"].(map[string]any)
	if _, ok := shown["nimbus:bindings"]; ok || shown["binding:host_id"] != "src" {
		t.Fatalf("port show = %v; want src's binding and no other", shown)
	}
	// Both agents wire the port now: the destination's tap is ready before the switch-over.
	wantWired(t, e, "src", id, true)
	wantWired(t, e, "dst", id, true)
	wantWired(t, e, "elsewhere", id, false)

	e.Fail(http.StatusConflict, "PortBindingAlreadyActive", "PUT", base+"/src/activate", svc, nil)
	e.Fail(http.StatusNotFound, "PortBindingNotFound", "PUT", base+"/nowhere/activate", svc, nil)
	e.Fail(http.StatusForbidden, "", "PUT", base+"/dst/activate", e.AdminToken, nil)
	active := e.Must(http.StatusOK, "PUT", base+"/dst/activate", svc, nil)["binding"].(map[string]any)
	if active["host"] != "dst" || active["status"] != "ACTIVE" {
		t.Fatalf("activated binding = %v", active)
	}
	wantBindings(t, e, base, map[string]string{"dst": "ACTIVE", "src": "INACTIVE"})
	moved := e.Must(http.StatusOK, "GET", "/v2.0/ports/"+id, e.AdminToken, nil)["port"].(map[string]any)
	if moved["binding:host_id"] != "dst" || moved["mac_address"] != port["mac_address"] ||
		!jsonEqual(moved["fixed_ips"], port["fixed_ips"]) || moved["status"] != "ACTIVE" {
		t.Fatalf("port after the move = %v; want host dst, its MAC, addresses and status kept (was %v)", moved, port)
	}
	wantWired(t, e, "src", id, false)
	wantWired(t, e, "dst", id, true)
	// The source's agent no longer wires the port and says so: the port runs on elsewhere.
	if err := e.Network.SetPortStatus(ctx, "DOWN", id); err != nil {
		t.Fatal(err)
	}
	if got := e.Must(http.StatusOK, "GET", "/v2.0/ports/"+id, e.AdminToken, nil)["port"].(map[string]any)["status"]; got != "ACTIVE" {
		t.Fatalf("status after the source's DOWN report = %v, want ACTIVE", got)
	}

	// The source's binding goes (twice: a delete is idempotent); a DOWN report counts again.
	e.Must(http.StatusNoContent, "DELETE", base+"/src", svc, nil)
	e.Must(http.StatusNoContent, "DELETE", base+"/src", svc, nil)
	wantBindings(t, e, base, map[string]string{"dst": "ACTIVE"})
	if err := e.Network.SetPortStatus(ctx, "DOWN", id); err != nil {
		t.Fatal(err)
	}
	if got := e.Must(http.StatusOK, "GET", "/v2.0/ports/"+id, e.AdminToken, nil)["port"].(map[string]any)["status"]; got != "DOWN" {
		t.Fatalf("status after a DOWN report = %v, want DOWN", got)
	}
	// Deleting the active binding unbinds the port; a new binding is then the active one.
	e.Must(http.StatusNoContent, "DELETE", base+"/dst", svc, nil)
	if got := e.Must(http.StatusOK, "GET", "/v2.0/ports/"+id, e.AdminToken, nil)["port"].(map[string]any); got["binding:host_id"] != "" ||
		got["binding:vif_type"] != "unbound" {
		t.Fatalf("port after its active binding was deleted = %v", got)
	}
	wantBindings(t, e, base, map[string]string{})
	again := e.Must(http.StatusCreated, "POST", base, svc, map[string]any{"binding": map[string]any{"host": "h3"}})["binding"].(map[string]any)
	if again["status"] != "ACTIVE" {
		t.Fatalf("binding of an unbound port = %v, want ACTIVE", again)
	}
}

// TestPortBindingRollback: a binding deactivated by an activation can be
// activated again (a migration rolled back after its switch-over): the port
// returns to its source, whose agent wires it, and the destination's stops.
func TestPortBindingRollback(t *testing.T) {
	e := newTestEnv(t, nil)
	svc := serviceToken(t, e)
	netID, _ := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	id := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID})["id"].(string)
	base := "/v2.0/ports/" + id + "/bindings"
	e.Must(http.StatusOK, "PUT", "/v2.0/ports/"+id, e.AdminToken, map[string]any{"port": map[string]any{"binding:host_id": "src"}})
	e.Must(http.StatusCreated, "POST", base, svc, map[string]any{"binding": map[string]any{"host": "dst"}})
	e.Must(http.StatusOK, "PUT", base+"/dst/activate", svc, nil)
	e.Must(http.StatusOK, "PUT", base+"/src/activate", svc, nil)
	wantBindings(t, e, base, map[string]string{"src": "ACTIVE", "dst": "INACTIVE"})
	wantWired(t, e, "src", id, true)
	wantWired(t, e, "dst", id, false)
}

// TestPortBindingRequests: what a client may send to create a binding.
func TestPortBindingRequests(t *testing.T) {
	e := newTestEnv(t, nil)
	svc := serviceToken(t, e)
	netID, _ := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	id := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID})["id"].(string)
	base := "/v2.0/ports/" + id + "/bindings"
	for _, tc := range []struct {
		name   string
		body   any
		status int
	}{
		{"no binding", map[string]any{"port": map[string]any{}}, http.StatusBadRequest},
		{"no host", map[string]any{"binding": map[string]any{}}, http.StatusBadRequest},
		{"empty host", map[string]any{"binding": map[string]any{"host": ""}}, http.StatusBadRequest},
		{"host not a string", map[string]any{"binding": map[string]any{"host": 7}}, http.StatusBadRequest},
		{"long host", map[string]any{"binding": map[string]any{"host": strings.Repeat("h", 256)}}, http.StatusBadRequest},
		{"unknown vnic type", map[string]any{"binding": map[string]any{"host": "h", "vnic_type": "direct"}}, http.StatusBadRequest},
		{"profile not an object", map[string]any{"binding": map[string]any{"host": "h", "profile": "x"}}, http.StatusBadRequest},
	} {
		if status, _, data := e.Do("POST", base, svc, tc.body); status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, status, tc.status, data)
		}
	}
	e.Fail(http.StatusNotFound, "PortNotFound", "POST", "/v2.0/ports/nope/bindings", svc, map[string]any{"binding": map[string]any{"host": "h"}})
}

// FuzzCreatePortBinding: no body a client sends makes the server fail (5xx).
func FuzzCreatePortBinding(f *testing.F) {
	for _, seed := range []string{`{"binding": {"host": "h1"}}`, `{"binding": {"host": "h1", "vnic_type": "normal", "profile": {"a": 1}}}`,
		`{"binding": null}`, `{"binding": {"host": ["x"]}}`, `[]`, `{`} {
		f.Add(seed)
	}
	e := newTestEnv(f, nil)
	netID, _ := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	port := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID})["id"].(string)
	token := serviceToken(f, e)
	f.Fuzz(func(t *testing.T, body string) {
		req, err := http.NewRequest("POST", e.URL+"/v2.0/ports/"+port+"/bindings", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Auth-Token", token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("POST bindings %q: status %d", body, resp.StatusCode)
		}
	})
}

func wantBindings(t *testing.T, e *testEnv, path string, want map[string]string) {
	t.Helper()
	list := e.Must(http.StatusOK, "GET", path, e.AdminToken, nil)["bindings"].([]any)
	got := map[string]string{}
	for _, b := range list {
		m := b.(map[string]any)
		got[m["host"].(string)] = m["status"].(string)
	}
	if len(got) != len(want) || len(list) != len(want) {
		t.Fatalf("bindings = %v, want %v", got, want)
	}
	for h, s := range want {
		if got[h] != s {
			t.Fatalf("bindings = %v, want %v", got, want)
		}
	}
}

// wantWired checks whether host's desired state has the port on it.
func wantWired(t *testing.T, e *testEnv, host, portID string, want bool) {
	t.Helper()
	st, err := e.Network.HostState(context.Background(), dataplane.Host{Name: host}, HostRoles{})
	if err != nil {
		t.Fatal(err)
	}
	got := slices.ContainsFunc(st.Networks, func(n dataplane.Network) bool {
		return slices.ContainsFunc(n.Ports, func(p dataplane.Port) bool { return p.ID == portID })
	})
	if got != want {
		t.Fatalf("host %s wires port %s: %v, want %v", host, portID, got, want)
	}
}

func jsonEqual(a, b any) bool {
	da, _ := json.Marshal(a)
	db, _ := json.Marshal(b)
	return bytes.Equal(da, db)
}

// portBindingCases are the policy matrix's cases of the port bindings: only
// the service creates, activates and deletes them; admins read them.
func (m *matrix) portBindingCases() []policytest.Case {
	port := func() string {
		id := m.make("ports", "port", map[string]any{"network_id": m.net})
		m.e.Must(http.StatusOK, "PUT", "/v2.0/ports/"+id, m.e.AdminToken, map[string]any{"port": map[string]any{"binding:host_id": "h1"}})
		return id
	}
	target := map[string]any{"project_id": m.owner, "tenant_id": m.owner, "network_id": m.net,
		"network:project_id": m.owner, "network:tenant_id": m.owner, "shared": false, "device_owner": ""}
	path := "/v2.0/ports/" + m.port + "/bindings"
	return []policytest.Case{
		{Route: "GET /v2.0/ports/{id}/bindings", Rules: []string{"get_port", "get_port_binding"}, Target: target,
			Do: func(t *testing.T, p policytest.Persona) bool { return m.allowedAs(p, "GET", path, nil) }},
		{Route: "GET /v2.0/ports/{id}/bindings/{host}", Rules: []string{"get_port", "get_port_binding"}, Target: target,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "GET", "/v2.0/ports/"+port()+"/bindings/h1", nil)
			}},
		{Route: "POST /v2.0/ports/{id}/bindings", Rules: []string{"get_port", "create_port_binding"}, Target: target,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "POST", "/v2.0/ports/"+port()+"/bindings", map[string]any{"binding": map[string]any{"host": "h2"}})
			}},
		{Route: "PUT /v2.0/ports/{id}/bindings/{host}/activate", Rules: []string{"get_port", "activate"}, Target: target,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", "/v2.0/ports/"+port()+"/bindings/h2/activate", nil)
			}},
		{Route: "DELETE /v2.0/ports/{id}/bindings/{host}", Rules: []string{"get_port", "delete_port_binding"}, Target: target,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "DELETE", "/v2.0/ports/"+port()+"/bindings/h1", nil)
			}},
	}
}
