package compute

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

// TestPolicyMatrix holds every route of the compute API, for the six kinds of
// caller, to Nova's current default policies as upstream's source defines them
// (testdata/upstream-policies.yaml: check strings and scope_types, enforced as
// with enforce_scope and enforce_new_defaults): what a real request is allowed
// to do must be what upstream's rules say for that caller against the target
// upstream's handler builds ({project_id: the server's project}, {user_id: the
// key pair's user}, the caller's own project for lists and creates).
func TestPolicyMatrix(t *testing.T) {
	upstream, err := policytest.LoadUpstream("testdata/upstream-policies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := newMatrixEnv(t)
	policytest.Matrix{Upstream: upstream, Personas: m.personas, Routes: m.Compute.routes()}.Check(t, m.cases(upstream))
}

// matrixEnv is the compute API with a project owning a network, servers, a
// server group and a security group, the personas to call it as, and the
// fixtures that cases consume.
type matrixEnv struct {
	*testEnv
	personas []policytest.Persona
	project  string // the owning project
	member   string // its member's token, which makes its resources
	user     string // that member's user id, the servers' user
	netID    string // the project's network
	server   string // a server no case harms, with a port, a tag and metadata
	port     string // that server's port
	spare    []string
	seq      atomic.Int64
}

const (
	matrixImage  = "aaaaaaaa-0000-4000-8000-0000000000ff"
	matrixNetID  = "7d3f0c1e-0000-4000-8000-0000000000a1"
	matrixNet    = "matrix-net"
	matrixFlavor = "matrix"
	matrixSecret = "matrix-private"
)

func newMatrixEnv(t *testing.T) *matrixEnv {
	t.Helper()
	e := newTestEnv(t, func(o *Options) {
		o.Quotas = map[string]int{"instances": -1, "cores": -1, "ram": -1, "server_groups": -1, "server_group_members": -1, "key_pairs": -1}
		o.Volumes = newMemVolumes()
	})
	e.host("h1", 64, 1<<20, 10000)
	m := &matrixEnv{testEnv: e}
	m.personas, m.project = e.identity.Personas("matrix")
	for i, p := range m.personas {
		// Nova's context.is_admin (the is_admin:True check) is context_is_admin.
		p.Creds["is_admin"] = slices.Contains(p.Creds["roles"].([]string), "admin")
		m.personas[i] = p
		if p.Name == policytest.Member {
			m.member, m.user = p.Token, p.Creds["user_id"].(string)
		}
	}
	e.net.mu.Lock()
	e.net.networks[matrixNetID] = NetworkInfo{ID: matrixNetID, Name: matrixNet, ProjectID: m.project, MTU: 1450}
	e.net.mu.Unlock()
	m.server = m.newServer()
	e.Must(200, "PUT", "/v2.1/servers/"+m.server+"/metadata/k1", m.member, map[string]any{"meta": map[string]any{"k1": "v"}})
	e.mustAt(201, "2.26", "PUT", "/v2.1/servers/"+m.server+"/tags/t1", m.member, nil)
	att := e.Must(200, "GET", "/v2.1/servers/"+m.server+"/os-interface", m.member, nil)["interfaceAttachments"].([]any)
	m.port = att[0].(map[string]any)["port_id"].(string)
	e.Must(200, "POST", "/v2.1/flavors", e.AdminToken, map[string]any{"flavor": map[string]any{"name": matrixFlavor, "id": matrixFlavor,
		"ram": 64, "vcpus": 1, "disk": 0}})
	e.Must(200, "POST", "/v2.1/flavors/"+matrixFlavor+"/os-extra_specs", e.AdminToken, map[string]any{"extra_specs": map[string]any{"k1": "v"}})
	e.Must(200, "POST", "/v2.1/flavors", e.AdminToken, map[string]any{"flavor": map[string]any{"name": matrixSecret, "id": matrixSecret,
		"ram": 64, "vcpus": 1, "disk": 0, "os-flavor-access:is_public": false}})
	return m
}

// next is a number no earlier call returned, for unique names.
func (m *matrixEnv) next() int64 { return m.seq.Add(1) }

// newVolume is a new available volume of the owning project.
func (m *matrixEnv) newVolume() string {
	id := fmt.Sprintf("b0000000-0000-4000-8000-%012x", m.next())
	m.opts.Volumes.(*memVolumes).add(m.project, Volume{ID: id, Size: 1})
	return id
}

// attachedVolume attaches a new volume to the server as its member, and has
// the agent plug it, so that the volume is in-use.
func (m *matrixEnv) attachedVolume(server string) string {
	m.t.Helper()
	id := m.newVolume()
	m.Must(200, "POST", "/v2.1/servers/"+server+"/os-volume_attachments", m.member,
		map[string]any{"volumeAttachment": map[string]any{"volumeId": id}})
	m.volumePass("h1")
	return id
}

// newServer boots an ACTIVE server of the project, with a port on its network.
func (m *matrixEnv) newServer() string {
	m.t.Helper()
	id := m.Must(202, "POST", "/v2.1/servers", m.member, serverBody(map[string]any{
		"networks": []any{map[string]any{"uuid": matrixNetID}}}))["server"].(map[string]any)["id"].(string)
	m.conduct()
	m.run()
	return id
}

// fresh is a server no case has changed yet; give it back with spent when a
// case changed it.
func (m *matrixEnv) fresh() string {
	if n := len(m.spare); n > 0 {
		id := m.spare[n-1]
		m.spare = m.spare[:n-1]
		return id
	}
	return m.newServer()
}

// call makes a request as p at microversion version and tells whether it got
// past the policy.
func (m *matrixEnv) call(p policytest.Persona, version, method, path string, body any) bool {
	m.t.Helper()
	status, _, raw, _ := m.send(version, method, path, p.Token, body)
	if status >= 500 {
		m.t.Errorf("%s %s as %s: %d %s", method, path, p.Name, status, raw)
	}
	return policytest.Allowed(status)
}

// admin makes a setup request as the cloud's admin and returns the answer.
func (m *matrixEnv) admin(want int, version, method, path string, body any) map[string]any {
	m.t.Helper()
	return m.mustAt(want, version, method, path, m.AdminToken, body)
}

// ownTarget is what upstream's handlers check lists and creates against: the
// caller's own project and user.
func ownTarget(p policytest.Persona) map[string]any {
	return map[string]any{"project_id": p.Creds["project_id"], "user_id": p.Creds["user_id"]}
}

// asOwn expects the rules to allow p against its own project and user.
func asOwn(up interface {
	Allowed(string, map[string]any, map[string]any) bool
}, rules ...string) func(policytest.Persona) bool {
	return func(p policytest.Persona) bool {
		for _, r := range rules {
			if !up.Allowed(r, ownTarget(p), p.Creds) {
				return false
			}
		}
		return true
	}
}

type request struct {
	version, method, path string
	body                  any
}

// cases are the matrix's rows, one per route (one per action of the action
// route), grouped as the route tables are.
func (m *matrixEnv) cases(up interface {
	Allowed(string, map[string]any, map[string]any) bool
}) []policytest.Case {
	var cases []policytest.Case
	add := func(c ...policytest.Case) { cases = append(cases, c...) }
	serverTarget := map[string]any{"project_id": m.project, "user_id": m.user}
	// onServer is a case on the long-lived server, which it must not harm.
	onServer := func(route, rule string, req func(id string) request) policytest.Case {
		return policytest.Case{Route: route, Rules: []string{rule}, Target: serverTarget,
			Do: func(t *testing.T, p policytest.Persona) bool {
				r := req(m.server)
				return m.call(p, r.version, r.method, r.path, r.body)
			}}
	}
	// onFresh is a case that changes the server it acts on: each call gets an
	// untouched one (a refused call leaves it untouched for the next).
	onFresh := func(route, name, rule string, req func(id string) request) policytest.Case {
		return policytest.Case{Route: route, Name: name, Rules: []string{rule}, Target: serverTarget,
			Do: func(t *testing.T, p policytest.Persona) bool {
				id := m.fresh()
				r := req(id)
				ok := m.call(p, r.version, r.method, r.path, r.body)
				if !ok {
					m.spare = append(m.spare, id)
				}
				return ok
			}}
	}
	// anyone is a route upstream checks no rule on, for any token.
	anyone := func(route string, r request) policytest.Case {
		return policytest.Case{Route: route, Do: func(t *testing.T, p policytest.Persona) bool {
			return m.call(p, r.version, r.method, r.path, r.body)
		}}
	}
	// global is a case whose rule's target is empty ({} upstream): the
	// admin-only APIs and the "@" ones.
	global := func(route, rule string, r func() request) policytest.Case {
		return policytest.Case{Route: route, Rules: []string{rule}, Target: map[string]any{},
			Do: func(t *testing.T, p policytest.Persona) bool {
				req := r()
				return m.call(p, req.version, req.method, req.path, req.body)
			}}
	}
	fixed := func(version, method, path string, body any) func() request {
		return func() request { return request{version, method, path, body} }
	}
	// own is a case upstream checks against the caller's own project and user.
	own := func(route, rule string, r func() request) policytest.Case {
		return policytest.Case{Route: route, Rules: []string{rule}, Expect: asOwn(up, rule),
			Do: func(t *testing.T, p policytest.Persona) bool {
				req := r()
				return m.call(p, req.version, req.method, req.path, req.body)
			}}
	}
	srv := func(id string) string { return "/v2.1/servers/" + id }

	// Extensions and flavors.
	add(global("GET /v2.1/extensions", "os_compute_api:extensions", fixed("", "GET", "/v2.1/extensions", nil)),
		global("GET /v2.1/extensions/{alias}", "os_compute_api:extensions", fixed("", "GET", "/v2.1/extensions/os-keypairs", nil)),
		anyone("GET /v2.1/flavors", request{"", "GET", "/v2.1/flavors", nil}),
		anyone("GET /v2.1/flavors/detail", request{"", "GET", "/v2.1/flavors/detail", nil}),
		anyone("GET /v2.1/flavors/{id}", request{"", "GET", "/v2.1/flavors/1", nil}),
		global("POST /v2.1/flavors", "os_compute_api:os-flavor-manage:create", func() request {
			return request{"", "POST", "/v2.1/flavors", map[string]any{"flavor": map[string]any{"name": fmt.Sprintf("f%d", m.next()),
				"ram": 64, "vcpus": 1, "disk": 0}}}
		}),
		global("DELETE /v2.1/flavors/{id}", "os_compute_api:os-flavor-manage:delete", func() request {
			id := fmt.Sprintf("gone-%d", m.next())
			m.admin(200, "", "POST", "/v2.1/flavors", map[string]any{"flavor": map[string]any{"name": id, "id": id, "ram": 64, "vcpus": 1, "disk": 0}})
			return request{"", "DELETE", "/v2.1/flavors/" + id, nil}
		}),
		global("PUT /v2.1/flavors/{id}", "os_compute_api:os-flavor-manage:update",
			fixed("2.55", "PUT", "/v2.1/flavors/"+matrixFlavor, map[string]any{"flavor": map[string]any{"description": "d"}})),
		own("GET /v2.1/flavors/{id}/os-extra_specs", "os_compute_api:os-flavor-extra-specs:index",
			fixed("", "GET", "/v2.1/flavors/"+matrixFlavor+"/os-extra_specs", nil)),
		own("GET /v2.1/flavors/{id}/os-extra_specs/{key}", "os_compute_api:os-flavor-extra-specs:show",
			fixed("", "GET", "/v2.1/flavors/"+matrixFlavor+"/os-extra_specs/k1", nil)),
		global("POST /v2.1/flavors/{id}/os-extra_specs", "os_compute_api:os-flavor-extra-specs:create",
			fixed("", "POST", "/v2.1/flavors/"+matrixFlavor+"/os-extra_specs", map[string]any{"extra_specs": map[string]any{"k2": "v"}})),
		global("PUT /v2.1/flavors/{id}/os-extra_specs/{key}", "os_compute_api:os-flavor-extra-specs:update",
			fixed("", "PUT", "/v2.1/flavors/"+matrixFlavor+"/os-extra_specs/k1", map[string]any{"k1": "v"})),
		global("DELETE /v2.1/flavors/{id}/os-extra_specs/{key}", "os_compute_api:os-flavor-extra-specs:delete", func() request {
			key := fmt.Sprintf("d%d", m.next())
			m.admin(200, "", "POST", "/v2.1/flavors/"+matrixFlavor+"/os-extra_specs", map[string]any{"extra_specs": map[string]any{key: "v"}})
			return request{"", "DELETE", "/v2.1/flavors/" + matrixFlavor + "/os-extra_specs/" + key, nil}
		}),
		global("GET /v2.1/flavors/{id}/os-flavor-access", "os_compute_api:os-flavor-access",
			fixed("", "GET", "/v2.1/flavors/"+matrixSecret+"/os-flavor-access", nil)),
	)
	for _, a := range []struct{ action, rule string }{
		{"addTenantAccess", "os_compute_api:os-flavor-access:add_tenant_access"},
		{"removeTenantAccess", "os_compute_api:os-flavor-access:remove_tenant_access"},
	} {
		c := global("POST /v2.1/flavors/{id}/action", a.rule, fixed("", "POST", "/v2.1/flavors/"+matrixSecret+"/action",
			map[string]any{a.action: map[string]any{"tenant": m.project}}))
		c.Name = a.action
		add(c)
	}

	// Key pairs: the caller's own, upstream's target {user_id}.
	var publicKey string
	keyFor := func(p policytest.Persona, name string) {
		if publicKey == "" {
			publicKey = m.admin(200, "", "POST", "/v2.1/os-keypairs", map[string]any{"keypair": map[string]any{"name": "source"}})["keypair"].(map[string]any)["public_key"].(string)
		}
		status, _, raw, _ := m.send("2.10", "POST", "/v2.1/os-keypairs", m.AdminToken, map[string]any{"keypair": map[string]any{
			"name": name, "public_key": publicKey, "user_id": p.Creds["user_id"]}})
		if status != 201 && status != 409 {
			m.t.Fatalf("key pair %s of %s: %d %s", name, p.Name, status, raw)
		}
	}
	keypair := func(route, rule string, do func(p policytest.Persona) request) policytest.Case {
		return policytest.Case{Route: route, Rules: []string{rule}, Expect: asOwn(up, rule),
			Do: func(t *testing.T, p policytest.Persona) bool {
				r := do(p)
				return m.call(p, r.version, r.method, r.path, r.body)
			}}
	}
	add(keypair("GET /v2.1/os-keypairs", "os_compute_api:os-keypairs:index", func(policytest.Persona) request {
		return request{"", "GET", "/v2.1/os-keypairs", nil}
	}), keypair("POST /v2.1/os-keypairs", "os_compute_api:os-keypairs:create", func(policytest.Persona) request {
		return request{"", "POST", "/v2.1/os-keypairs", map[string]any{"keypair": map[string]any{"name": fmt.Sprintf("k%d", m.next())}}}
	}), keypair("GET /v2.1/os-keypairs/{name}", "os_compute_api:os-keypairs:show", func(p policytest.Persona) request {
		keyFor(p, "shown")
		return request{"", "GET", "/v2.1/os-keypairs/shown", nil}
	}), keypair("DELETE /v2.1/os-keypairs/{name}", "os_compute_api:os-keypairs:delete", func(p policytest.Persona) request {
		keyFor(p, "deleted")
		return request{"", "DELETE", "/v2.1/os-keypairs/deleted", nil}
	}))

	// Servers.
	add(own("GET /v2.1/servers", "os_compute_api:servers:index", fixed("", "GET", "/v2.1/servers", nil)),
		own("GET /v2.1/servers/detail", "os_compute_api:servers:detail", fixed("", "GET", "/v2.1/servers/detail", nil)),
		own("POST /v2.1/servers", "os_compute_api:servers:create", fixed("2.37", "POST", "/v2.1/servers",
			serverBody(map[string]any{"networks": "none"}))),
		policytest.Case{Route: "POST /v2.1/servers", Name: "on a network",
			Rules:  []string{"os_compute_api:servers:create", "os_compute_api:servers:create:attach_network"},
			Expect: asOwn(up, "os_compute_api:servers:create", "os_compute_api:servers:create:attach_network"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.call(p, "", "POST", "/v2.1/servers", serverBody(map[string]any{"networks": []any{map[string]any{"uuid": matrixNetID}}}))
			}},
		onServer("GET /v2.1/servers/{id}", "os_compute_api:servers:show", func(id string) request {
			return request{"", "GET", srv(id), nil}
		}),
		onServer("PUT /v2.1/servers/{id}", "os_compute_api:servers:update", func(id string) request {
			return request{"", "PUT", srv(id), map[string]any{"server": map[string]any{"name": "renamed"}}}
		}),
		onFresh("DELETE /v2.1/servers/{id}", "", "os_compute_api:servers:delete", func(id string) request {
			return request{"", "DELETE", srv(id), nil}
		}),
		onServer("GET /v2.1/servers/{id}/diagnostics", "os_compute_api:os-server-diagnostics", func(id string) request {
			return request{"", "GET", srv(id) + "/diagnostics", nil}
		}),
		onServer("POST /v2.1/servers/{id}/remote-consoles", "os_compute_api:os-remote-consoles", func(id string) request {
			return request{"2.6", "POST", srv(id) + "/remote-consoles", map[string]any{"remote_console": map[string]any{"protocol": "vnc", "type": "novnc"}}}
		}),
	)
	for _, a := range []struct {
		rule string
		body map[string]any
	}{
		{"os_compute_api:servers:stop", map[string]any{"os-stop": nil}},
		{"os_compute_api:servers:start", map[string]any{"os-start": nil}},
		{"os_compute_api:os-pause-server:pause", map[string]any{"pause": nil}},
		{"os_compute_api:os-pause-server:unpause", map[string]any{"unpause": nil}},
		{"os_compute_api:os-suspend-server:suspend", map[string]any{"suspend": nil}},
		{"os_compute_api:os-suspend-server:resume", map[string]any{"resume": nil}},
		{"os_compute_api:servers:reboot", map[string]any{"reboot": map[string]any{"type": "SOFT"}}},
		{"os_compute_api:servers:rebuild", map[string]any{"rebuild": map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000001"}}},
		{"os_compute_api:servers:resize", map[string]any{"resize": map[string]any{"flavorRef": "2"}}},
		{"os_compute_api:servers:confirm_resize", map[string]any{"confirmResize": nil}},
		{"os_compute_api:servers:revert_resize", map[string]any{"revertResize": nil}},
		{"os_compute_api:os-rescue", map[string]any{"rescue": nil}},
		{"os_compute_api:os-unrescue", map[string]any{"unrescue": nil}},
		{"os_compute_api:os-lock-server:lock", map[string]any{"lock": nil}},
		{"os_compute_api:os-lock-server:unlock", map[string]any{"unlock": nil}},
		{"os_compute_api:os-console-output", map[string]any{"os-getConsoleOutput": map[string]any{}}},
		{"os_compute_api:os-remote-consoles", map[string]any{"os-getVNCConsole": map[string]any{"type": "novnc"}}},
		{"os_compute_api:os-security-groups:add", map[string]any{"addSecurityGroup": map[string]any{"name": "default"}}},
		{"os_compute_api:os-security-groups:remove", map[string]any{"removeSecurityGroup": map[string]any{"name": "default"}}},
		{"os_compute_api:os-admin-actions:reset_state", map[string]any{"os-resetState": map[string]any{"state": "active"}}},
	} {
		var name string
		for k := range a.body {
			name = k
		}
		add(onFresh("POST /v2.1/servers/{id}/action", name, a.rule, func(id string) request {
			return request{"", "POST", srv(id) + "/action", a.body}
		}))
	}

	// Tags (2.26), metadata, addresses, interfaces, actions of a server.
	tags := func(method, suffix, rule string, body any) policytest.Case {
		return onServer(method+" /v2.1/servers/{id}/tags"+suffix, rule, func(id string) request {
			path := srv(id) + "/tags" + strings.ReplaceAll(suffix, "{tag}", "t1")
			if method == "DELETE" && suffix != "" {
				if status, _, raw, _ := m.send("2.26", "PUT", srv(id)+"/tags/gone", m.AdminToken, nil); status != 201 && status != 204 {
					m.t.Fatalf("tag the server: %d %s", status, raw)
				}
				path = srv(id) + "/tags/gone"
			}
			return request{"2.26", method, path, body}
		})
	}
	add(tags("GET", "", "os_compute_api:os-server-tags:index", nil),
		tags("PUT", "", "os_compute_api:os-server-tags:update_all", map[string]any{"tags": []string{"t1"}}),
		tags("GET", "/{tag}", "os_compute_api:os-server-tags:show", nil),
		tags("PUT", "/{tag}", "os_compute_api:os-server-tags:update", nil),
		tags("DELETE", "/{tag}", "os_compute_api:os-server-tags:delete", nil),
		onFresh("DELETE /v2.1/servers/{id}/tags", "", "os_compute_api:os-server-tags:delete_all", func(id string) request {
			return request{"2.26", "DELETE", srv(id) + "/tags", nil}
		}))
	meta := func(method, suffix, rule string, body any) policytest.Case {
		return onServer(method+" /v2.1/servers/{id}/metadata"+suffix, rule, func(id string) request {
			path := srv(id) + "/metadata" + strings.ReplaceAll(suffix, "{key}", "k1")
			if method == "DELETE" {
				m.admin(200, "", "PUT", srv(id)+"/metadata/gone", map[string]any{"meta": map[string]any{"gone": "v"}})
				path = srv(id) + "/metadata/gone"
			}
			return request{"", method, path, body}
		})
	}
	add(meta("GET", "", "os_compute_api:server-metadata:index", nil),
		meta("POST", "", "os_compute_api:server-metadata:create", map[string]any{"metadata": map[string]any{"k1": "v"}}),
		meta("PUT", "", "os_compute_api:server-metadata:update_all", map[string]any{"metadata": map[string]any{"k1": "v"}}),
		meta("GET", "/{key}", "os_compute_api:server-metadata:show", nil),
		meta("PUT", "/{key}", "os_compute_api:server-metadata:update", map[string]any{"meta": map[string]any{"k1": "v"}}),
		meta("DELETE", "/{key}", "os_compute_api:server-metadata:delete", nil),
		onServer("GET /v2.1/servers/{id}/ips", "os_compute_api:ips:index", func(id string) request {
			return request{"", "GET", srv(id) + "/ips", nil}
		}),
		onServer("GET /v2.1/servers/{id}/ips/{network}", "os_compute_api:ips:show", func(id string) request {
			return request{"", "GET", srv(id) + "/ips/" + matrixNet, nil}
		}),
		onServer("GET /v2.1/servers/{id}/os-volume_attachments", "os_compute_api:os-volumes-attachments:index", func(id string) request {
			return request{"", "GET", srv(id) + "/os-volume_attachments", nil}
		}),
		onServer("GET /v2.1/servers/{id}/os-volume_attachments/{volume}", "os_compute_api:os-volumes-attachments:show", func(id string) request {
			return request{"", "GET", srv(id) + "/os-volume_attachments/" + m.attachedVolume(id), nil}
		}),
		onServer("POST /v2.1/servers/{id}/os-volume_attachments", "os_compute_api:os-volumes-attachments:create", func(id string) request {
			return request{"", "POST", srv(id) + "/os-volume_attachments", map[string]any{"volumeAttachment": map[string]any{"volumeId": m.newVolume()}}}
		}),
		onServer("PUT /v2.1/servers/{id}/os-volume_attachments/{volume}", "os_compute_api:os-volumes-attachments:update", func(id string) request {
			v := m.attachedVolume(id)
			return request{"2.85", "PUT", srv(id) + "/os-volume_attachments/" + v,
				map[string]any{"volumeAttachment": map[string]any{"volumeId": v, "delete_on_termination": false}}}
		}),
		onServer("DELETE /v2.1/servers/{id}/os-volume_attachments/{volume}", "os_compute_api:os-volumes-attachments:delete", func(id string) request {
			return request{"", "DELETE", srv(id) + "/os-volume_attachments/" + m.attachedVolume(id), nil}
		}),
		onServer("GET /v2.1/servers/{id}/os-interface", "os_compute_api:os-attach-interfaces:list", func(id string) request {
			return request{"", "GET", srv(id) + "/os-interface", nil}
		}),
		onServer("GET /v2.1/servers/{id}/os-interface/{port}", "os_compute_api:os-attach-interfaces:show", func(id string) request {
			return request{"", "GET", srv(id) + "/os-interface/" + m.port, nil}
		}),
		onServer("POST /v2.1/servers/{id}/os-interface", "os_compute_api:os-attach-interfaces:create", func(id string) request {
			return request{"", "POST", srv(id) + "/os-interface", map[string]any{"interfaceAttachment": map[string]any{"net_id": matrixNetID}}}
		}),
		onServer("DELETE /v2.1/servers/{id}/os-interface/{port}", "os_compute_api:os-attach-interfaces:delete", func(id string) request {
			made := m.admin(200, "", "POST", srv(id)+"/os-interface", map[string]any{"interfaceAttachment": map[string]any{"net_id": matrixNetID}})
			return request{"", "DELETE", srv(id) + "/os-interface/" + made["interfaceAttachment"].(map[string]any)["port_id"].(string), nil}
		}),
		onServer("GET /v2.1/servers/{id}/os-instance-actions", "os_compute_api:os-instance-actions:list", func(id string) request {
			return request{"", "GET", srv(id) + "/os-instance-actions", nil}
		}),
		onServer("GET /v2.1/servers/{id}/os-instance-actions/{request_id}", "os_compute_api:os-instance-actions:show", func(id string) request {
			acts := m.admin(200, "", "GET", srv(id)+"/os-instance-actions", nil)["instanceActions"].([]any)
			return request{"", "GET", srv(id) + "/os-instance-actions/" + acts[len(acts)-1].(map[string]any)["request_id"].(string), nil}
		}),
		onServer("GET /v2.1/servers/{id}/os-security-groups", "os_compute_api:os-security-groups:list", func(id string) request {
			return request{"", "GET", srv(id) + "/os-security-groups", nil}
		}),
	)

	// Services, zones, hypervisors, limits, quotas, usage, aggregates: the
	// cloud's; quotas and usage by the project in the path.
	var h1 string
	hypervisor := func() string {
		if h1 == "" {
			h := m.admin(200, "", "GET", "/v2.1/os-hypervisors", nil)["hypervisors"].([]any)
			h1 = fmt.Sprint(h[0].(map[string]any)["id"])
		}
		return h1
	}
	projectTarget := map[string]any{"project_id": m.project}
	byProject := func(route, rule string, r request) policytest.Case {
		return policytest.Case{Route: route, Rules: []string{rule}, Target: projectTarget,
			Do: func(t *testing.T, p policytest.Persona) bool { return m.call(p, r.version, r.method, r.path, r.body) }}
	}
	// The image proxy checks no rule of its own (images.py, image_metadata.py):
	// the image service decides, here a public image's changes are admins'.
	m.images.add(Image{ID: matrixImage, Name: "matrix", Status: "active", Properties: map[string]string{"k": "v"}})
	imageAdmin := func(p policytest.Persona) bool { return slices.Contains(p.Creds["roles"].([]string), "admin") }
	add(anyone("GET /v2.1/images", request{"", "GET", "/v2.1/images", nil}),
		anyone("GET /v2.1/images/detail", request{"", "GET", "/v2.1/images/detail", nil}),
		anyone("GET /v2.1/images/{id}", request{"", "GET", "/v2.1/images/" + matrixImage, nil}),
		anyone("GET /v2.1/images/{id}/metadata", request{"", "GET", "/v2.1/images/" + matrixImage + "/metadata", nil}),
		anyone("GET /v2.1/images/{id}/metadata/{key}", request{"", "GET", "/v2.1/images/" + matrixImage + "/metadata/k", nil}),
		anyone("POST /v2.1/images/{id}/metadata", request{"", "POST", "/v2.1/images/" + matrixImage + "/metadata", map[string]any{"metadata": map[string]any{"k": "v"}}}),
		anyone("PUT /v2.1/images/{id}/metadata", request{"", "PUT", "/v2.1/images/" + matrixImage + "/metadata", map[string]any{"metadata": map[string]any{"k": "v"}}}),
		anyone("PUT /v2.1/images/{id}/metadata/{key}", request{"", "PUT", "/v2.1/images/" + matrixImage + "/metadata/k", map[string]any{"meta": map[string]any{"k": "v"}}}),
		policytest.Case{Route: "DELETE /v2.1/images/{id}/metadata/{key}", Expect: func(policytest.Persona) bool { return true },
			Do: func(t *testing.T, p policytest.Persona) bool {
				m.admin(200, "", "PUT", "/v2.1/images/"+matrixImage+"/metadata/gone", map[string]any{"meta": map[string]any{"gone": "v"}})
				return m.call(p, "", "DELETE", "/v2.1/images/"+matrixImage+"/metadata/gone", nil)
			}},
		policytest.Case{Route: "DELETE /v2.1/images/{id}", Expect: imageAdmin, Do: func(t *testing.T, p policytest.Persona) bool {
			id := fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", m.next())
			m.images.add(Image{ID: id, Name: id, Status: "active"})
			return m.call(p, "", "DELETE", "/v2.1/images/"+id, nil)
		}})

	// The network proxy: the rule against the caller's own project, then the
	// network service shows a project's floating IPs to it (and admins) only.
	newFIP := func() map[string]any {
		status, out, raw, _ := m.send("", "POST", "/v2.1/os-floating-ips", m.member, map[string]any{"pool": "public"})
		if status != 200 {
			m.t.Fatalf("allocate a floating IP: %d %s", status, raw)
		}
		return out["floating_ip"].(map[string]any)
	}
	seesFIP := func(rule string) func(policytest.Persona) bool {
		return func(p policytest.Persona) bool {
			return up.Allowed(rule, ownTarget(p), p.Creds) && (p.Creds["project_id"] == m.project || slices.Contains(p.Creds["roles"].([]string), "admin"))
		}
	}
	fipCase := func(route, rule, method string, path func(id string) string) policytest.Case {
		return policytest.Case{Route: route, Rules: []string{rule}, Expect: seesFIP(rule), Do: func(t *testing.T, p policytest.Persona) bool {
			return m.call(p, "", method, path(newFIP()["id"].(string)), nil)
		}}
	}
	add(own("GET /v2.1/os-floating-ips", "os_compute_api:os-floating-ips:list", fixed("", "GET", "/v2.1/os-floating-ips", nil)),
		own("POST /v2.1/os-floating-ips", "os_compute_api:os-floating-ips:create", fixed("", "POST", "/v2.1/os-floating-ips", map[string]any{"pool": "public"})),
		fipCase("GET /v2.1/os-floating-ips/{id}", "os_compute_api:os-floating-ips:show", "GET", func(id string) string { return "/v2.1/os-floating-ips/" + id }),
		fipCase("DELETE /v2.1/os-floating-ips/{id}", "os_compute_api:os-floating-ips:delete", "DELETE", func(id string) string { return "/v2.1/os-floating-ips/" + id }),
		own("GET /v2.1/os-networks", "os_compute_api:os-networks:list", fixed("", "GET", "/v2.1/os-networks", nil)),
		own("GET /v2.1/os-networks/{id}", "os_compute_api:os-networks:show", fixed("", "GET", "/v2.1/os-networks/"+matrixNetID, nil)),
		anyone("POST /v2.1/os-networks", request{"", "POST", "/v2.1/os-networks", map[string]any{"network": map[string]any{"label": "x"}}}),
		anyone("POST /v2.1/os-networks/add", request{"", "POST", "/v2.1/os-networks/add", map[string]any{"id": nil}}),
		anyone("DELETE /v2.1/os-networks/{id}", request{"", "DELETE", "/v2.1/os-networks/" + matrixNetID, nil}),
		anyone("POST /v2.1/os-networks/{id}/action", request{"", "POST", "/v2.1/os-networks/" + matrixNetID + "/action", map[string]any{"disassociate": nil}}),
		onFresh("POST /v2.1/servers/{id}/action", "addFloatingIp", "os_compute_api:os-floating-ips:add", func(id string) request {
			return request{"", "POST", srv(id) + "/action", map[string]any{"addFloatingIp": map[string]any{"address": newFIP()["ip"]}}}
		}),
		onFresh("POST /v2.1/servers/{id}/action", "removeFloatingIp", "os_compute_api:os-floating-ips:remove", func(id string) request {
			addr := newFIP()["ip"]
			m.admin(202, "", "POST", srv(id)+"/action", map[string]any{"addFloatingIp": map[string]any{"address": addr}})
			return request{"", "POST", srv(id) + "/action", map[string]any{"removeFloatingIp": map[string]any{"address": addr}}}
		}),
	)

	// The driver does not do what these ask (upstream libvirt's 501), past the policy.
	unsupported := func(route, rule, method, path string, body any) policytest.Case {
		return policytest.Case{Route: route, Rules: []string{rule}, Target: map[string]any{},
			Do: func(t *testing.T, p policytest.Persona) bool {
				status, _, raw, _ := m.send("", method, path, p.Token, body)
				if status >= 500 && status != http.StatusNotImplemented {
					t.Errorf("%s %s as %s: %d %s", method, path, p.Name, status, raw)
				}
				return policytest.Allowed(status)
			}}
	}
	add(unsupported("PUT /v2.1/os-hosts/{host}", "os_compute_api:os-hosts:update", "PUT", "/v2.1/os-hosts/h1", map[string]any{"status": "enable"}),
		unsupported("GET /v2.1/os-hosts/{host}/startup", "os_compute_api:os-hosts:start", "GET", "/v2.1/os-hosts/h1/startup", nil),
		unsupported("GET /v2.1/os-hosts/{host}/shutdown", "os_compute_api:os-hosts:shutdown", "GET", "/v2.1/os-hosts/h1/shutdown", nil),
		unsupported("GET /v2.1/os-hosts/{host}/reboot", "os_compute_api:os-hosts:reboot", "GET", "/v2.1/os-hosts/h1/reboot", nil))
	add(global("GET /v2.1/os-hosts", "os_compute_api:os-hosts:list", fixed("", "GET", "/v2.1/os-hosts", nil)),
		global("GET /v2.1/os-hosts/{host}", "os_compute_api:os-hosts:show", fixed("", "GET", "/v2.1/os-hosts/h1", nil)),
		global("GET /v2.1/os-instance-usage-audit-log", "os_compute_api:os-instance-usage-audit-log:list",
			fixed("", "GET", "/v2.1/os-instance-usage-audit-log", nil)),
		global("GET /v2.1/os-instance-usage-audit-log/{before}", "os_compute_api:os-instance-usage-audit-log:show",
			fixed("", "GET", "/v2.1/os-instance-usage-audit-log/2012-06-12%2010:00:00", nil)),
		global("POST /v2.1/os-server-external-events", "os_compute_api:os-server-external-events:create", func() request {
			return request{"", "POST", "/v2.1/os-server-external-events", map[string]any{"events": []any{
				map[string]any{"name": "network-changed", "server_uuid": m.server}}}}
		}),
		onServer("GET /v2.1/servers/{id}/os-server-password", "os_compute_api:os-server-password:show", func(id string) request {
			return request{"", "GET", srv(id) + "/os-server-password", nil}
		}),
		onServer("DELETE /v2.1/servers/{id}/os-server-password", "os_compute_api:os-server-password:clear", func(id string) request {
			return request{"", "DELETE", srv(id) + "/os-server-password", nil}
		}),
	)
	add(global("GET /v2.1/os-services", "os_compute_api:os-services:list", fixed("", "GET", "/v2.1/os-services", nil)),
		global("PUT /v2.1/os-services/{action}", "os_compute_api:os-services:update", fixed("", "PUT", "/v2.1/os-services/enable",
			map[string]any{"host": "h1", "binary": "nova-compute"})),
		global("DELETE /v2.1/os-services/{id}", "os_compute_api:os-services:delete", func() request {
			host := fmt.Sprintf("gone-%d", m.next())
			m.host(host, 1, 512, 10)
			list := m.admin(200, "", "GET", "/v2.1/os-services?host="+host, nil)["services"].([]any)
			return request{"", "DELETE", "/v2.1/os-services/" + fmt.Sprint(list[0].(map[string]any)["id"]), nil}
		}),
		global("GET /v2.1/os-availability-zone", "os_compute_api:os-availability-zone:list", fixed("", "GET", "/v2.1/os-availability-zone", nil)),
		global("GET /v2.1/os-availability-zone/detail", "os_compute_api:os-availability-zone:detail", fixed("", "GET", "/v2.1/os-availability-zone/detail", nil)),
		global("GET /v2.1/os-hypervisors", "os_compute_api:os-hypervisors:list", fixed("", "GET", "/v2.1/os-hypervisors", nil)),
		global("GET /v2.1/os-hypervisors/detail", "os_compute_api:os-hypervisors:list-detail", fixed("", "GET", "/v2.1/os-hypervisors/detail", nil)),
		global("GET /v2.1/os-hypervisors/statistics", "os_compute_api:os-hypervisors:statistics", fixed("", "GET", "/v2.1/os-hypervisors/statistics", nil)),
		global("GET /v2.1/os-hypervisors/{id}", "os_compute_api:os-hypervisors:show", func() request {
			return request{"", "GET", "/v2.1/os-hypervisors/" + hypervisor(), nil}
		}),
		global("GET /v2.1/os-hypervisors/{id}/uptime", "os_compute_api:os-hypervisors:uptime", func() request {
			return request{"", "GET", "/v2.1/os-hypervisors/" + hypervisor() + "/uptime", nil}
		}),
		global("GET /v2.1/os-hypervisors/{pattern}/search", "os_compute_api:os-hypervisors:search", fixed("", "GET", "/v2.1/os-hypervisors/h1/search", nil)),
		global("GET /v2.1/os-hypervisors/{pattern}/servers", "os_compute_api:os-hypervisors:servers", fixed("", "GET", "/v2.1/os-hypervisors/h1/servers", nil)),
		global("GET /v2.1/limits", "os_compute_api:limits", fixed("", "GET", "/v2.1/limits", nil)),
		byProject("GET /v2.1/os-quota-sets/{project}", "os_compute_api:os-quota-sets:show", request{"", "GET", "/v2.1/os-quota-sets/" + m.project, nil}),
		byProject("GET /v2.1/os-quota-sets/{project}/detail", "os_compute_api:os-quota-sets:detail", request{"", "GET", "/v2.1/os-quota-sets/" + m.project + "/detail", nil}),
		byProject("GET /v2.1/os-quota-sets/{project}/defaults", "os_compute_api:os-quota-sets:defaults", request{"", "GET", "/v2.1/os-quota-sets/" + m.project + "/defaults", nil}),
		byProject("PUT /v2.1/os-quota-sets/{project}", "os_compute_api:os-quota-sets:update", request{"", "PUT", "/v2.1/os-quota-sets/" + m.project,
			map[string]any{"quota_set": map[string]any{"key_pairs": -1}}}),
		byProject("DELETE /v2.1/os-quota-sets/{project}", "os_compute_api:os-quota-sets:delete", request{"", "DELETE", "/v2.1/os-quota-sets/" + m.project, nil}),
		global("GET /v2.1/os-simple-tenant-usage", "os_compute_api:os-simple-tenant-usage:list", fixed("", "GET", "/v2.1/os-simple-tenant-usage", nil)),
		byProject("GET /v2.1/os-simple-tenant-usage/{tenant}", "os_compute_api:os-simple-tenant-usage:show", request{"", "GET", "/v2.1/os-simple-tenant-usage/" + m.project, nil}),
	)
	aggregate := func() string {
		id := m.admin(200, "", "POST", "/v2.1/os-aggregates", map[string]any{"aggregate": map[string]any{"name": fmt.Sprintf("a%d", m.next())}})
		return fmt.Sprint(id["aggregate"].(map[string]any)["id"])
	}
	add(global("GET /v2.1/os-aggregates", "os_compute_api:os-aggregates:index", fixed("", "GET", "/v2.1/os-aggregates", nil)),
		global("POST /v2.1/os-aggregates", "os_compute_api:os-aggregates:create", func() request {
			return request{"", "POST", "/v2.1/os-aggregates", map[string]any{"aggregate": map[string]any{"name": fmt.Sprintf("a%d", m.next())}}}
		}),
		global("GET /v2.1/os-aggregates/{id}", "os_compute_api:os-aggregates:show", func() request {
			return request{"", "GET", "/v2.1/os-aggregates/" + aggregate(), nil}
		}),
		global("PUT /v2.1/os-aggregates/{id}", "os_compute_api:os-aggregates:update", func() request {
			return request{"", "PUT", "/v2.1/os-aggregates/" + aggregate(), map[string]any{"aggregate": map[string]any{"name": fmt.Sprintf("a%d", m.next())}}}
		}),
		global("DELETE /v2.1/os-aggregates/{id}", "os_compute_api:os-aggregates:delete", func() request {
			return request{"", "DELETE", "/v2.1/os-aggregates/" + aggregate(), nil}
		}),
	)
	for _, a := range []struct {
		action, rule string
		arg          map[string]any
	}{
		{"add_host", "os_compute_api:os-aggregates:add_host", map[string]any{"host": "h1"}},
		{"remove_host", "os_compute_api:os-aggregates:remove_host", map[string]any{"host": "h1"}},
		{"set_metadata", "os_compute_api:os-aggregates:set_metadata", map[string]any{"metadata": map[string]any{"k": "v"}}},
	} {
		c := global("POST /v2.1/os-aggregates/{id}/action", a.rule, func() request {
			id := aggregate()
			if a.action == "remove_host" {
				m.admin(200, "", "POST", "/v2.1/os-aggregates/"+id+"/action", map[string]any{"add_host": map[string]any{"host": "h1"}})
			}
			return request{"", "POST", "/v2.1/os-aggregates/" + id + "/action", map[string]any{a.action: a.arg}}
		})
		c.Name = a.action
		add(c)
	}

	// Server groups: the caller's own project's for lists and creates, the
	// group's project for the others.
	group := func() string {
		g := m.Must(200, "POST", "/v2.1/os-server-groups", m.member, groupBody(fmt.Sprintf("g%d", m.next()), "affinity"))
		return g["server_group"].(map[string]any)["id"].(string)
	}
	groupCase := func(route, rule string, r func() request) policytest.Case {
		return policytest.Case{Route: route, Rules: []string{rule}, Target: projectTarget,
			Do: func(t *testing.T, p policytest.Persona) bool {
				req := r()
				return m.call(p, req.version, req.method, req.path, req.body)
			}}
	}
	add(own("GET /v2.1/os-server-groups", "os_compute_api:os-server-groups:index", fixed("", "GET", "/v2.1/os-server-groups", nil)),
		own("POST /v2.1/os-server-groups", "os_compute_api:os-server-groups:create", func() request {
			return request{"", "POST", "/v2.1/os-server-groups", groupBody(fmt.Sprintf("g%d", m.next()), "affinity")}
		}),
		groupCase("GET /v2.1/os-server-groups/{id}", "os_compute_api:os-server-groups:show", func() request {
			return request{"", "GET", "/v2.1/os-server-groups/" + group(), nil}
		}),
		groupCase("DELETE /v2.1/os-server-groups/{id}", "os_compute_api:os-server-groups:delete", func() request {
			return request{"", "DELETE", "/v2.1/os-server-groups/" + group(), nil}
		}),
	)

	// Security groups (the network's, through the proxy): upstream checks the
	// caller's own project, and the network service hides another project's
	// groups (404), so acting on the project's group takes both.
	secgroup := func() string {
		g := m.Must(200, "POST", "/v2.1/os-security-groups", m.member, map[string]any{"security_group": map[string]any{
			"name": fmt.Sprintf("sg%d", m.next()), "description": "d"}})
		return g["security_group"].(map[string]any)["id"].(string)
	}
	seesProject := func(rule string) func(policytest.Persona) bool {
		return func(p policytest.Persona) bool {
			return asOwn(up, rule)(p) && (p.Creds["project_id"] == m.project || up.Allowed("context_is_admin", nil, p.Creds))
		}
	}
	sgCase := func(route, rule string, r func() request) policytest.Case {
		return policytest.Case{Route: route, Rules: []string{rule}, Expect: seesProject(rule),
			Do: func(t *testing.T, p policytest.Persona) bool {
				req := r()
				return m.call(p, req.version, req.method, req.path, req.body)
			}}
	}
	add(own("GET /v2.1/os-security-groups", "os_compute_api:os-security-groups:get", fixed("", "GET", "/v2.1/os-security-groups", nil)),
		own("POST /v2.1/os-security-groups", "os_compute_api:os-security-groups:create", func() request {
			return request{"", "POST", "/v2.1/os-security-groups", map[string]any{"security_group": map[string]any{
				"name": fmt.Sprintf("sg%d", m.next()), "description": "d"}}}
		}),
		sgCase("GET /v2.1/os-security-groups/{id}", "os_compute_api:os-security-groups:show", func() request {
			return request{"", "GET", "/v2.1/os-security-groups/" + secgroup(), nil}
		}),
		sgCase("PUT /v2.1/os-security-groups/{id}", "os_compute_api:os-security-groups:update", func() request {
			return request{"", "PUT", "/v2.1/os-security-groups/" + secgroup(), map[string]any{"security_group": map[string]any{
				"name": fmt.Sprintf("sg%d", m.next()), "description": "d"}}}
		}),
		sgCase("DELETE /v2.1/os-security-groups/{id}", "os_compute_api:os-security-groups:delete", func() request {
			return request{"", "DELETE", "/v2.1/os-security-groups/" + secgroup(), nil}
		}),
		sgCase("POST /v2.1/os-security-group-rules", "os_compute_api:os-security-groups:rule:create", func() request {
			return request{"", "POST", "/v2.1/os-security-group-rules", map[string]any{"security_group_rule": map[string]any{
				"parent_group_id": secgroup(), "ip_protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}}}
		}),
		sgCase("DELETE /v2.1/os-security-group-rules/{id}", "os_compute_api:os-security-groups:rule:delete", func() request {
			rule := m.Must(200, "POST", "/v2.1/os-security-group-rules", m.member, map[string]any{"security_group_rule": map[string]any{
				"parent_group_id": secgroup(), "ip_protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}})
			return request{"", "DELETE", "/v2.1/os-security-group-rules/" + fmt.Sprint(rule["security_group_rule"].(map[string]any)["id"]), nil}
		}),
	)
	_ = http.StatusOK
	return cases
}
