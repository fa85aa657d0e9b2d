package compute

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// A server's security groups are its ports' (upstream reads them from
// Neutron, not from the instance): the list shows each port's groups, the
// actions change every port. The instance keeps their names for the server
// views and their ids for the ports it makes later.

// securityGroupServer is the request's server, on whose project
// os-security-groups:rule must allow the call, and the caller's token.
func (s *Service) securityGroupServer(r *http.Request, rule string) (*instance, string, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-security-groups:"+rule)
	if err != nil {
		return nil, "", err
	}
	token, err := userToken(r)
	return in, token, err
}

// listServerSecurityGroups is GET /servers/{id}/os-security-groups: the
// groups of every port, each port's in turn (a group on two ports is listed
// twice, as upstream does), those the caller cannot see left out.
func (s *Service) listServerSecurityGroups(r *http.Request) (httpapi.Response, error) {
	in, token, err := s.securityGroupServer(r, "list")
	if err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	ports, err := s.opts.Network.DevicePorts(ctx, token, in.UUID)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("ports of server %s: %w", in.UUID, err)
	}
	byID, err := s.portGroups(ctx, token, ports)
	if err != nil {
		return httpapi.Response{}, err
	}
	var groups []SecurityGroup
	for _, p := range ports {
		for _, id := range p.SecurityGroups {
			if sg, ok := byID[id]; ok {
				groups = append(groups, sg)
			}
		}
	}
	known := make([]SecurityGroup, 0, len(byID))
	for _, sg := range byID {
		known = append(known, sg)
	}
	body, err := s.newGroupRefs(ctx, token, known).groupsView(groups)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(body), nil
}

// portGroups are the groups of the ports that the caller may see, by id.
func (s *Service) portGroups(ctx context.Context, token string, ports []Port) (map[string]SecurityGroup, error) {
	var ids []string
	for _, p := range ports {
		for _, id := range p.SecurityGroups {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	out := map[string]SecurityGroup{}
	if len(ids) == 0 {
		return out, nil
	}
	groups, err := s.opts.Network.SecurityGroups(ctx, token, SecurityGroupFilter{IDs: ids})
	if err != nil {
		return nil, fmt.Errorf("security groups of the ports: %w", err)
	}
	for _, sg := range groups {
		out[sg.ID] = sg
	}
	return out, nil
}

// groupActionName reads {"addSecurityGroup": {"name": ...}} as upstream's
// schema (an object with only a non-empty string name).
func groupActionName(action string, arg json.RawMessage) (string, error) {
	var body map[string]json.RawMessage
	if err := json.Unmarshal(arg, &body); err != nil || body == nil {
		return "", badRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'object'", action, arg, arg)
	}
	raw, ok := body["name"]
	if !ok {
		return "", badRequest("Invalid input for field/attribute %s. 'name' is a required property", action)
	}
	for k := range body {
		if k != "name" {
			return "", badRequest("Invalid input for field/attribute %s. Additional properties are not allowed ('%s' was unexpected)", action, k)
		}
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil || string(raw) == "null" {
		return "", badRequest("Invalid input for field/attribute name. Value: %s. %s is not of type 'string'", raw, raw)
	}
	if name == "" {
		return "", badRequest("Invalid input for field/attribute name. Value: . '' is too short")
	}
	return name, nil
}

// groupAction is what addSecurityGroup and removeSecurityGroup act on.
type groupAction struct {
	in    *instance
	token string
	name  string // as the request gave it
	group SecurityGroup
	ports []Port
}

// serverGroupAction is the part addSecurityGroup and removeSecurityGroup share,
// in upstream's order: schema, server, policy, name, then the group, looked up
// by id or by name in the caller's project (find_resourceid_by_name_or_id),
// and the server's ports.
func (s *Service) serverGroupAction(r *http.Request, action, rule string, arg json.RawMessage) (*groupAction, error) {
	name, err := groupActionName(action, arg)
	if err != nil {
		return nil, err
	}
	in, token, err := s.securityGroupServer(r, rule)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(name) == "" {
		return nil, badRequest("Security group name cannot be empty")
	}
	ctx := r.Context()
	a := &groupAction{in: in, token: token, name: name}
	if a.group, err = s.findSecurityGroup(ctx, token, auth.FromContext(ctx).ProjectID, name); err != nil {
		return nil, err
	}
	if a.ports, err = s.opts.Network.DevicePorts(ctx, token, in.UUID); err != nil {
		return nil, fmt.Errorf("ports of server %s: %w", in.UUID, err)
	}
	if len(a.ports) == 0 {
		return nil, notFound("instance_id %s could not be found as device id on any ports", in.UUID)
	}
	return a, nil
}

// findSecurityGroup finds a group by id among those the caller sees, else by
// name in project; several of that name are 409.
func (s *Service) findSecurityGroup(ctx context.Context, token, project, nameOrID string) (SecurityGroup, error) {
	if isUUID(nameOrID) {
		found, err := s.opts.Network.SecurityGroups(ctx, token, SecurityGroupFilter{IDs: []string{nameOrID}})
		if err != nil {
			return SecurityGroup{}, fmt.Errorf("find security group %s: %w", nameOrID, err)
		}
		if len(found) > 0 {
			return found[0], nil
		}
	}
	found, err := s.opts.Network.SecurityGroups(ctx, token, SecurityGroupFilter{ProjectID: project, Name: nameOrID})
	if err != nil {
		return SecurityGroup{}, fmt.Errorf("find security group %s: %w", nameOrID, err)
	}
	switch len(found) {
	case 0:
		return SecurityGroup{}, notFound("Security group %s is not found for project %s", nameOrID, project)
	case 1:
		return found[0], nil
	}
	return SecurityGroup{}, conflict("Multiple security_group matches found for name '%s', use an ID to be more specific.", nameOrID)
}

// addSecurityGroup puts the group on every port of the server (202); a port
// without port security or an address refuses it (400), and the ports
// changed before stay changed, as upstream.
func (s *Service) addSecurityGroup(r *http.Request, arg json.RawMessage) (httpapi.Response, error) {
	a, err := s.serverGroupAction(r, "addSecurityGroup", "add", arg)
	if err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	for i, p := range a.ports {
		if !p.PortSecurityEnabled || (len(p.FixedIPs) == 0 && p.IPAllocation != "deferred") {
			return httpapi.Response{}, badRequest("Network requires port_security_enabled and subnet associated in order to apply security groups.")
		}
		// A group already there is sent again, as upstream: the network
		// service refuses the repeated item (400), which the caller gets.
		groups := append(slices.Clone(p.SecurityGroups), a.group.ID)
		if a.ports[i], err = s.opts.Network.SetPortSecurityGroups(ctx, a.token, p.ID, groups); err != nil {
			return httpapi.Response{}, networkError(err, "add security group to port "+p.ID,
				map[int]int{http.StatusBadRequest: http.StatusBadRequest, http.StatusConflict: http.StatusConflict})
		}
	}
	if err := s.recordServerGroups(ctx, a); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// removeSecurityGroup takes the group from every port that has it (202); on
// none of them it is 404.
func (s *Service) removeSecurityGroup(r *http.Request, arg json.RawMessage) (httpapi.Response, error) {
	a, err := s.serverGroupAction(r, "removeSecurityGroup", "remove", arg)
	if err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	found := false
	for i, p := range a.ports {
		at := slices.Index(p.SecurityGroups, a.group.ID)
		if at < 0 {
			continue
		}
		rest := slices.Delete(slices.Clone(p.SecurityGroups), at, at+1)
		if a.ports[i], err = s.opts.Network.SetPortSecurityGroups(ctx, a.token, p.ID, rest); err != nil {
			return httpapi.Response{}, fmt.Errorf("remove security group from port %s: %w", p.ID, err)
		}
		found = true
	}
	if !found {
		return httpapi.Response{}, notFound("Security group %s not associated with the instance %s", a.name, a.in.UUID)
	}
	if err := s.recordServerGroups(ctx, a); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// recordServerGroups keeps in the instance the groups its ports now have, by
// name (a nameless group by id, as upstream shows it) for the server views.
func (s *Service) recordServerGroups(ctx context.Context, a *groupAction) error {
	byID, err := s.portGroups(ctx, a.token, a.ports)
	if err != nil {
		return err
	}
	var ids, names []string
	for _, p := range a.ports {
		for _, id := range p.SecurityGroups {
			sg, ok := byID[id]
			if !ok || slices.Contains(ids, id) {
				continue
			}
			ids = append(ids, id)
			names = append(names, cmp.Or(sg.Name, sg.ID))
		}
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		cur, err := loadInstance(ctx, tx, a.in.UUID)
		if err != nil || cur.Deleted {
			return err // a deleted server's ports are gone with it
		}
		cur.Request.SecurityGroups, cur.Request.SecurityGroupIDs = names, ids
		cur.UpdatedAt = stamp(s.now())
		return saveInstance(ctx, tx, cur)
	})
}
