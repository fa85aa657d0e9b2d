package compute

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

var _ NetworkProxy = (*memNetwork)(nil)

// The memNetwork's floating IPs: the pool "public" (an external network)
// hands out 203.0.113.x; the caller sees its project's.

func (m *memNetwork) visibleFIP(ctx context.Context, token, id string) (*FloatingIP, error) {
	c, err := m.caller(ctx, token)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.fips[id]
	if !ok || !c.sees(m.fipOwners[id]) {
		return nil, httpapi.NotFound("Floating IP %s could not be found", id)
	}
	return f, nil
}

func (m *memNetwork) ListFloatingIPs(ctx context.Context, token, project string) ([]FloatingIP, error) {
	m.mu.Lock()
	ids := slices.Sorted(maps.Keys(m.fips))
	m.mu.Unlock()
	var out []FloatingIP
	for _, id := range ids {
		if f, err := m.visibleFIP(ctx, token, id); err == nil && m.fipOwners[id] == project {
			out = append(out, *f)
		}
	}
	return out, nil
}

func (m *memNetwork) GetFloatingIP(ctx context.Context, token, id string) (FloatingIP, error) {
	f, err := m.visibleFIP(ctx, token, id)
	if err != nil {
		return FloatingIP{}, err
	}
	return *f, nil
}

func (m *memNetwork) FloatingIPByAddress(ctx context.Context, token, address string) (FloatingIP, error) {
	m.mu.Lock()
	var id string
	for _, f := range m.fips {
		if f.IP == address {
			id = f.ID
		}
	}
	m.mu.Unlock()
	return m.GetFloatingIP(ctx, token, id)
}

func (m *memNetwork) CreateFloatingIP(ctx context.Context, token, pool string) (FloatingIP, error) {
	c, err := m.caller(ctx, token)
	if err != nil {
		return FloatingIP{}, err
	}
	if pool != "public" {
		return FloatingIP{}, httpapi.NotFound("Floating IP pool not found.")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fips == nil {
		m.fips, m.fipOwners = map[string]*FloatingIP{}, map[string]string{}
	}
	m.next++
	f := &FloatingIP{ID: fmt.Sprintf("ffffffff-0000-4000-8000-%012d", m.next), IP: fmt.Sprintf("203.0.113.%d", m.next), Pool: "public"}
	m.fips[f.ID], m.fipOwners[f.ID] = f, c.project
	return *f, nil
}

func (m *memNetwork) DeleteFloatingIP(ctx context.Context, token, id string) error {
	if _, err := m.visibleFIP(ctx, token, id); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.fips, id)
	return nil
}

func (m *memNetwork) AssociateFloatingIP(ctx context.Context, token, id, portID, fixedIP string) error {
	f, err := m.visibleFIP(ctx, token, id)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f.PortID, f.FixedIP, f.DeviceID = portID, fixedIP, ""
	if p := m.ports[portID]; p != nil {
		f.DeviceID = p.DeviceID
	}
	return nil
}

func (m *memNetwork) VisibleNetworks(ctx context.Context, token string) ([]NetworkInfo, error) {
	nets, err := m.Networks(ctx, token)
	slices.SortFunc(nets, func(a, b NetworkInfo) int { return compareStrings(a.ID, b.ID) })
	return nets, err
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestFloatingIPProxy: os-floating-ips to 2.35 and addFloatingIp and
// removeFloatingIp to 2.43, through the network service as the caller, with
// upstream's views, codes and messages; the server shows the address while
// it is on it.
func TestFloatingIPProxy(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	const fips = "/v2.1/os-floating-ips"
	nf := e.mustAt(404, "2.1", "POST", fips, e.DemoToken, nil)
	if msg := nf["itemNotFound"].(map[string]any)["message"]; msg != "Floating IP pool not found." {
		t.Errorf("default pool: %q", msg)
	}
	f := e.mustAt(200, "2.35", "POST", fips, e.DemoToken, map[string]any{"pool": "public"})["floating_ip"].(map[string]any)
	if f["pool"] != "public" || f["fixed_ip"] != nil || f["instance_id"] != nil {
		t.Errorf("allocated: %v", f)
	}
	addr := f["ip"].(string)
	act := "/v2.1/servers/" + id + "/action"
	bad := e.mustAt(400, "2.1", "POST", act, e.DemoToken, map[string]any{"addFloatingIp": map[string]any{"address": addr, "fixed_address": "10.9.9.9"}})
	if msg := bad["badRequest"].(map[string]any)["message"]; msg != "Specified fixed address not assigned to instance" {
		t.Errorf("wrong fixed address: %q", msg)
	}
	e.mustAt(202, "2.43", "POST", act, e.DemoToken, map[string]any{"addFloatingIp": map[string]any{"address": addr}})
	shown := e.mustAt(200, "2.1", "GET", fips+"/"+f["id"].(string), e.DemoToken, nil)["floating_ip"].(map[string]any)
	if shown["instance_id"] != id || shown["fixed_ip"] == nil {
		t.Errorf("associated: %v", shown)
	}
	floating := false
	for _, ips := range e.server(id)["addresses"].(map[string]any) {
		for _, ip := range ips.([]any) {
			floating = floating || ip.(map[string]any)["addr"] == addr && ip.(map[string]any)["OS-EXT-IPS:type"] == "floating"
		}
	}
	if !floating {
		t.Errorf("the server does not show %s: %v", addr, e.server(id)["addresses"])
	}
	list := e.mustAt(200, "2.1", "GET", fips, e.DemoToken, nil)["floating_ips"].([]any)
	if len(list) != 1 {
		t.Errorf("list: %v", list)
	}
	e.mustAt(404, "2.44", "POST", act, e.DemoToken, map[string]any{"removeFloatingIp": map[string]any{"address": addr}})
	e.mustAt(202, "2.1", "POST", act, e.DemoToken, map[string]any{"removeFloatingIp": map[string]any{"address": addr}})
	notOn := e.mustAt(409, "2.1", "POST", act, e.DemoToken, map[string]any{"removeFloatingIp": map[string]any{"address": addr}})
	if msg := notOn["conflictingRequest"].(map[string]any)["message"]; msg != fmt.Sprintf("Floating IP %s is not associated with instance %s.", addr, id) {
		t.Errorf("not associated: %q", msg)
	}
	e.mustAt(202, "2.1", "DELETE", fips+"/"+f["id"].(string), e.DemoToken, nil)
	gone := e.mustAt(404, "2.1", "GET", fips+"/"+f["id"].(string), e.DemoToken, nil)
	if msg := gone["itemNotFound"].(map[string]any)["message"]; msg != "Floating IP not found for ID "+f["id"].(string) {
		t.Errorf("gone: %q", msg)
	}
	e.mustAt(404, "2.36", "GET", fips, e.DemoToken, nil)

	// os-networks: the networks the caller sees, nova-network's fields null.
	nets := e.mustAt(200, "2.35", "GET", "/v2.1/os-networks", e.DemoToken, nil)["networks"].([]any)
	if len(nets) == 0 || nets[0].(map[string]any)["label"] != "private" || nets[0].(map[string]any)["cidr"] != nil {
		t.Errorf("os-networks: %v", nets)
	}
	if _, has := nets[0].(map[string]any)["bridge"]; has {
		t.Errorf("a member sees admin fields: %v", nets[0])
	}
	e.mustAt(200, "2.1", "GET", "/v2.1/os-networks/"+netUUID, e.DemoToken, nil)
	e.mustAt(404, "2.1", "GET", "/v2.1/os-networks/nope", e.DemoToken, nil)
	e.mustAt(410, "2.1", "POST", "/v2.1/os-networks", e.AdminToken, map[string]any{"network": map[string]any{"label": "x"}})
	e.mustAt(404, "2.36", "GET", "/v2.1/os-networks", e.DemoToken, nil)
	// nova-network's calls are Gone at every microversion (@wsgi.removed);
	// the action dispatcher still answers an unknown action first.
	for _, v := range []string{"2.1", "2.36", microversions.Max.String()} {
		e.mustAt(410, v, "POST", "/v2.1/os-networks", e.AdminToken, map[string]any{"network": map[string]any{"label": "x"}})
		e.mustAt(410, v, "POST", "/v2.1/os-networks/add", e.AdminToken, map[string]any{"id": netUUID})
		e.mustAt(410, v, "DELETE", "/v2.1/os-networks/"+netUUID, e.AdminToken, nil)
		e.mustAt(410, v, "POST", "/v2.1/os-networks/"+netUUID+"/action", e.AdminToken, map[string]any{"disassociate": nil})
		e.mustAt(410, v, "POST", "/v2.1/os-networks/"+netUUID+"/action", e.AdminToken, map[string]any{"associate_host": "h1"})
		status, out, raw, _ := e.send(v, "POST", "/v2.1/os-networks/"+netUUID+"/action", e.AdminToken, map[string]any{"explode": nil})
		checkFault(t, status, out, raw, 400, "There is no such action: explode")
	}
}
