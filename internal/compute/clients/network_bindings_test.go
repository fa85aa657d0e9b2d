package clients_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/clients"
)

// TestPortBindingsClient: the calls of a live migration against the real
// network service, as a compute user with the service role (upstream's nova
// user): each is idempotent, so an agent step that runs again goes on.
func TestPortBindingsClient(t *testing.T) {
	e := newNetEnv(t)
	ctx := t.Context()
	c := serviceClient(t, e)
	netID := e.create(e.identity.AdminToken, "networks", "network", map[string]any{"name": "n"})
	e.create(e.identity.AdminToken, "subnets", "subnet", map[string]any{"network_id": netID, "ip_version": 4, "cidr": "10.0.0.0/24"})
	portID := e.create(e.identity.AdminToken, "ports", "port", map[string]any{"network_id": netID, "binding:host_id": "src"})

	for range 2 {
		if err := c.CreatePortBinding(ctx, portID, "dst"); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := c.ActivatePortBinding(ctx, portID, "dst"); err != nil {
			t.Fatal(err)
		}
	}
	ports, err := c.DevicePorts(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range ports {
		if p.ID == portID {
			found = true
			if p.HostID != "dst" {
				t.Fatalf("port host after activation = %q, want dst", p.HostID)
			}
		}
	}
	if !found {
		t.Fatalf("port %s not listed", portID)
	}
	for range 2 {
		if err := c.DeletePortBinding(ctx, portID, "src"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.DeletePortBinding(ctx, "no-such-port", "src"); err != nil {
		t.Fatalf("delete of a binding of no port: %v", err)
	}
	// The admin alone (today's compute credentials) is refused, as upstream.
	if err := e.client.CreatePortBinding(ctx, portID, "third"); err == nil {
		t.Fatal("an admin without the service role created a binding")
	}
}

// serviceClient is the network client as user nova with the admin and
// service roles on the admin project.
func serviceClient(t *testing.T, e *netEnv) *clients.Network {
	t.Helper()
	call := func(want int, method, path string, body any) map[string]any {
		t.Helper()
		var rd *bytes.Reader
		if body != nil {
			data, _ := json.Marshal(body)
			rd = bytes.NewReader(data)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, e.identity.URL+path, rd)
		req.Header.Set("X-Auth-Token", e.identity.AdminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %v", method, path, resp.StatusCode, want, out)
		}
		return out
	}
	user := call(http.StatusCreated, "POST", "/v3/users", map[string]any{"user": map[string]any{"name": "nova",
		"password": "nova-pw", "domain_id": "default"}})["user"].(map[string]any)["id"].(string)
	for _, role := range []string{"admin", "service"} {
		roles := call(http.StatusOK, "GET", "/v3/roles?name="+role, nil)["roles"].([]any)
		call(http.StatusNoContent, "PUT", "/v3/projects/"+e.identity.AdminProject+"/users/"+user+"/roles/"+
			roles[0].(map[string]any)["id"].(string), nil)
	}
	creds := clients.Credentials{IdentityURL: e.identity.URL + "/v3", Username: "nova", Password: "nova-pw", ProjectName: "admin"}
	return clients.NewNetwork(creds, e.url)
}
