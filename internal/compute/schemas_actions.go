package compute

import (
	"fmt"
	"sort"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// novaActionRoutes names, per action route (POST .../action), the upstream
// controller methods (@wsgi.action) Nimbus serves on it. Upstream's dispatcher
// (nova/api/openstack/wsgi.py) picks the method by the body's one key, answers
// 400 "Malformed request body" for none or several and "There is no such
// action" for an unknown one, then validates the body against that method's
// schema at the request's microversion; each method answers its own status.
var novaActionRoutes = map[string][]string{
	"POST /v2.1/servers/{id}/action": {
		"servers._stop", "servers._start", "servers._reboot", "servers._rebuild",
		"servers._resize", "servers._confirm_resize", "servers._revert_resize",
		"pause_server._pause", "pause_server._unpause",
		"suspend_server._suspend", "suspend_server._resume",
		"rescue._rescue", "rescue._unrescue",
		"lock_server._lock", "lock_server._unlock",
		"console_output.get_console_output", "remote_consoles.get_vnc_console",
		"security_groups._addSecurityGroup", "security_groups._removeSecurityGroup",
		"admin_actions._reset_state",
		"floating_ips._add_floating_ip", "floating_ips._remove_floating_ip",
		"servers._create_image", "create_backup._create_backup",
		"shelve._shelve", "shelve._shelve_offload", "shelve._unshelve",
		"evacuate._evacuate",
	},
	"POST /v2.1/flavors/{id}/action": {
		"flavor_access._add_tenant_access", "flavor_access._remove_tenant_access",
	},
	"POST /v2.1/os-aggregates/{id}/action": {
		"aggregates._add_host", "aggregates._remove_host", "aggregates._set_metadata",
	},
	// nova-network's actions, removed (410 Gone at every microversion).
	"POST /v2.1/os-networks/{id}/action": {
		"networks._disassociate_host_and_project", "networks_associate._associate_host",
		"networks_associate._disassociate_host_only", "networks_associate._disassociate_project_only",
	},
}

// novaActionSchemas are an action route's schemas per microversion range, from
// its methods' declarations: the request schema holds, under each action's
// key, the argument schema of that action's own (upstream's schemas are
// {"<action>": argument} with the action required and nothing else allowed),
// so a body naming one action served at that version is validated as
// upstream validates it, and any other body reaches the dispatcher, which
// answers as upstream's does. The responses hold each served action's status,
// an anyOf where several actions answer the same one.
func novaActionSchemas(methods []string) ([]httpapi.Schema, error) {
	novaOnce.Do(loadNova)
	if novaErr != nil {
		return nil, novaErr
	}
	type action struct {
		name   string
		method string
		decls  []novaDecl
	}
	var actions []action
	bounds := map[httpapi.Version]bool{microversions.Min: true}
	for _, m := range methods {
		decls, ok := novaMethods[m]
		if !ok {
			return nil, fmt.Errorf("no upstream method %s", m)
		}
		a := action{method: m, decls: decls}
		for _, d := range decls {
			if d.Kind == "action" {
				a.name = d.Action
			}
			for _, b := range d.bounds() {
				bounds[b] = true
			}
		}
		if a.name == "" {
			return nil, fmt.Errorf("%s is not an action", m)
		}
		actions = append(actions, a)
	}
	starts := make([]httpapi.Version, 0, len(bounds))
	for b := range bounds {
		starts = append(starts, b)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Less(starts[j]) })
	var out []httpapi.Schema
	for i, from := range starts {
		sc := httpapi.Schema{Min: from, Responses: map[int]jsonschema.Schema{}}
		if i+1 < len(starts) {
			sc.Max = httpapi.Version{Major: starts[i+1].Major, Minor: starts[i+1].Minor - 1}
		}
		properties := map[string]any{}
		byStatus := map[int][]any{}
		seen := map[string]bool{} // "status module.schema": each listed once
		for _, a := range actions {
			if !servedAt(a.decls, from) {
				continue // the action's own 404 (VersionNotFoundForAPIMethod)
			}
			status := 200 // Nova's default without @wsgi.response
			var response jsonschema.Schema
			var responseName string
			for _, d := range a.decls {
				if !d.covers(from) {
					continue
				}
				switch d.Kind {
				case "status":
					status = d.Status
				case "request":
					s, err := novaSchema(d.Module, d.Schema)
					if err != nil {
						return nil, err
					}
					if len(s) == 0 {
						// Upstream's schema of a removed action ({}) takes any
						// body.
						properties[a.name] = map[string]any{}
						continue
					}
					props, _ := s["properties"].(map[string]any)
					arg, ok := props[a.name]
					if !ok {
						return nil, fmt.Errorf("%s.%s has no %q", d.Module, d.Schema, a.name)
					}
					properties[a.name] = arg
				case "response":
					s, err := novaSchema(d.Module, d.Schema)
					if err != nil {
						return nil, err
					}
					response, responseName = s, d.Module+"."+d.Schema
				}
			}
			if statuses, ok := novaCodeStatuses[a.method]; ok {
				for st, s := range statuses {
					sc.Responses[st] = s
				}
				continue
			}
			if response == nil {
				return nil, fmt.Errorf("%s has no response schema at %s", a.method, from)
			}
			if key := fmt.Sprint(status, " ", responseName); !seen[key] {
				seen[key] = true
				byStatus[status] = append(byStatus[status], response)
			}
		}
		for st, schemas := range byStatus {
			if len(schemas) == 1 {
				sc.Responses[st] = schemas[0].(jsonschema.Schema)
			} else {
				sc.Responses[st] = map[string]any{"anyOf": schemas}
			}
		}
		sc.Request = map[string]any{"properties": properties}
		out = append(out, sc)
	}
	return out, nil
}

// bounds are the versions where the declaration starts to apply and stops
// applying (the one after its last), within Nimbus's microversions.
func (d novaDecl) bounds() []httpapi.Version {
	var out []httpapi.Version
	if lo := parseVersion(d.Min, microversions.Min); microversions.Min.Less(lo) && !microversions.Max.Less(lo) {
		out = append(out, lo)
	}
	if d.Max != "" {
		hi := parseVersion(d.Max, microversions.Max)
		next := httpapi.Version{Major: hi.Major, Minor: hi.Minor + 1}
		if microversions.Min.Less(next) && !microversions.Max.Less(next) {
			out = append(out, next)
		}
	}
	return out
}
