package compute

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// The in-memory network service's security groups, answering as
// internal/network does through the HTTP client: every call as the token's
// project (an admin sees all), each project's "default" group made on first
// need with upstream's rules, list order by id, and the network's refusals
// (404 for what the caller cannot see, 409 for the default group, a group in
// use or a duplicate rule).

// memCaller is the project a token acts for; "" (compute itself) is an admin.
type memCaller struct {
	project string
	admin   bool
}

func (m *memNetwork) caller(ctx context.Context, token string) (memCaller, error) {
	if token == "" || m.auth == nil {
		return memCaller{admin: true}, nil
	}
	creds, err := m.auth.Authenticate(ctx, token)
	if err != nil {
		return memCaller{}, httpapi.Unauthorized("The request you have made requires authentication.")
	}
	return memCaller{project: creds.ProjectID, admin: isAdmin(creds)}, nil
}

func (c memCaller) sees(project string) bool { return c.admin || c.project == project }

// ensureDefault is the project's default group's id, made as Neutron makes it:
// all egress, ingress from its own members. The caller holds m.mu.
func (m *memNetwork) ensureDefault(project string) string {
	for _, g := range m.groups {
		if g.ProjectID == project && g.Name == "default" {
			return g.ID
		}
	}
	g := &SecurityGroup{ID: newUUID(), Name: "default", Description: "Default security group", ProjectID: project}
	for _, eth := range []string{"IPv4", "IPv6"} {
		g.Rules = append(g.Rules,
			SecurityGroupRule{ID: newUUID(), GroupID: g.ID, Direction: "egress", EtherType: eth},
			SecurityGroupRule{ID: newUUID(), GroupID: g.ID, Direction: "ingress", EtherType: eth, RemoteGroupID: g.ID})
	}
	m.groups[g.ID] = g
	return g.ID
}

func (m *memNetwork) sortedGroups() []*SecurityGroup {
	out := make([]*SecurityGroup, 0, len(m.groups))
	for _, g := range m.groups {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *SecurityGroup) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func copyGroup(g *SecurityGroup) SecurityGroup {
	out := *g
	out.Rules = slices.Clone(g.Rules)
	return out
}

func groupNotFoundErr(id string) error {
	return httpapi.NotFound("Security group %s could not be found.", id)
}

// visibleGroup is the caller's group id; the caller holds m.mu.
func (m *memNetwork) visibleGroup(c memCaller, id string) (*SecurityGroup, error) {
	g, ok := m.groups[id]
	if !ok || !c.sees(g.ProjectID) {
		return nil, groupNotFoundErr(id)
	}
	return g, nil
}

func (m *memNetwork) SecurityGroups(ctx context.Context, token string, f SecurityGroupFilter) ([]SecurityGroup, error) {
	c, err := m.caller(ctx, token)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.project != "" {
		m.ensureDefault(c.project)
	}
	var out []SecurityGroup
	for _, g := range m.sortedGroups() {
		if !c.sees(g.ProjectID) || (f.ProjectID != "" && g.ProjectID != f.ProjectID) || (f.Name != "" && g.Name != f.Name) ||
			(len(f.IDs) > 0 && !slices.Contains(f.IDs, g.ID)) {
			continue
		}
		out = append(out, copyGroup(g))
	}
	return out, nil
}

func (m *memNetwork) GetSecurityGroup(ctx context.Context, token, id string) (SecurityGroup, error) {
	c, err := m.caller(ctx, token)
	if err != nil {
		return SecurityGroup{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g, err := m.visibleGroup(c, id)
	if err != nil {
		return SecurityGroup{}, err
	}
	return copyGroup(g), nil
}

func (m *memNetwork) CreateSecurityGroup(ctx context.Context, token, name, description string) (SecurityGroup, error) {
	c, err := m.caller(ctx, token)
	if err != nil {
		return SecurityGroup{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.project != "" {
		m.ensureDefault(c.project)
	}
	if name == "default" {
		return SecurityGroup{}, httpapi.Conflict("Default security group already exists.")
	}
	g := &SecurityGroup{ID: newUUID(), Name: name, Description: description, ProjectID: c.project}
	for _, eth := range []string{"IPv4", "IPv6"} {
		g.Rules = append(g.Rules, SecurityGroupRule{ID: newUUID(), GroupID: g.ID, Direction: "egress", EtherType: eth})
	}
	m.groups[g.ID] = g
	return copyGroup(g), nil
}

func (m *memNetwork) UpdateSecurityGroup(ctx context.Context, token, id, name, description string) (SecurityGroup, error) {
	c, err := m.caller(ctx, token)
	if err != nil {
		return SecurityGroup{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g, err := m.visibleGroup(c, id)
	if err != nil {
		return SecurityGroup{}, err
	}
	if (g.Name == "default") != (name == "default") {
		return SecurityGroup{}, httpapi.Conflict("Updating default security group not allowed.")
	}
	g.Name, g.Description = name, description
	return copyGroup(g), nil
}

func (m *memNetwork) DeleteSecurityGroup(ctx context.Context, token, id string) error {
	c, err := m.caller(ctx, token)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g, err := m.visibleGroup(c, id)
	if err != nil {
		return err
	}
	if g.Name == "default" && !c.admin {
		return httpapi.Conflict("Insufficient rights for removing default security group.")
	}
	for _, p := range m.ports {
		if slices.Contains(p.SecurityGroups, id) {
			return httpapi.Conflict("Security Group %s in use.", id)
		}
	}
	delete(m.groups, id)
	return nil
}

// visibleRule finds a rule and its group; the caller holds m.mu.
func (m *memNetwork) visibleRule(c memCaller, id string) (*SecurityGroup, int, error) {
	for _, g := range m.groups {
		if i := slices.IndexFunc(g.Rules, func(r SecurityGroupRule) bool { return r.ID == id }); i >= 0 && c.sees(g.ProjectID) {
			return g, i, nil
		}
	}
	return nil, 0, httpapi.NotFound("Security group rule %s could not be found.", id)
}

func (m *memNetwork) GetSecurityGroupRule(ctx context.Context, token, id string) (SecurityGroupRule, error) {
	c, err := m.caller(ctx, token)
	if err != nil {
		return SecurityGroupRule{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g, i, err := m.visibleRule(c, id)
	if err != nil {
		return SecurityGroupRule{}, err
	}
	return g.Rules[i], nil
}

func (m *memNetwork) CreateSecurityGroupRule(ctx context.Context, token string, rule SecurityGroupRule) (SecurityGroupRule, error) {
	c, err := m.caller(ctx, token)
	if err != nil {
		return SecurityGroupRule{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g, err := m.visibleGroup(c, rule.GroupID)
	if err != nil {
		return SecurityGroupRule{}, err
	}
	if rule.RemoteGroupID != "" {
		if _, err := m.visibleGroup(c, rule.RemoteGroupID); err != nil {
			return SecurityGroupRule{}, err
		}
	}
	rule.Protocol = strings.ToLower(rule.Protocol)
	if (rule.PortMin != nil || rule.PortMax != nil) && rule.Protocol == "" {
		return SecurityGroupRule{}, httpapi.BadRequest("Must also specify protocol if port range is given.")
	}
	eqi := func(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	for _, r := range g.Rules {
		if r.Direction == rule.Direction && r.EtherType == rule.EtherType && r.Protocol == rule.Protocol &&
			eqi(r.PortMin, rule.PortMin) && eqi(r.PortMax, rule.PortMax) && r.RemoteIPPrefix == rule.RemoteIPPrefix &&
			r.RemoteGroupID == rule.RemoteGroupID {
			return SecurityGroupRule{}, httpapi.Conflict("Security group rule already exists. Rule id is %s.", r.ID)
		}
	}
	rule.ID = newUUID()
	g.Rules = append(g.Rules, rule)
	return rule, nil
}

func (m *memNetwork) DeleteSecurityGroupRule(ctx context.Context, token, id string) error {
	c, err := m.caller(ctx, token)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g, i, err := m.visibleRule(c, id)
	if err != nil {
		return err
	}
	g.Rules = slices.Delete(g.Rules, i, i+1)
	return nil
}

func (m *memNetwork) DevicePorts(ctx context.Context, token, device string) ([]Port, error) {
	c, err := m.caller(ctx, token)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Port
	for _, p := range m.ports {
		if p.DeviceID == device && c.sees(p.ProjectID) {
			cp := *p
			cp.SecurityGroups = slices.Clone(p.SecurityGroups)
			out = append(out, cp)
		}
	}
	slices.SortFunc(out, func(a, b Port) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// SetPortSecurityGroups is the network's port update: only groups of the
// port's project (any, for an admin), a group named twice refused as
// neutron-lib's uuid_list validator does.
func (m *memNetwork) SetPortSecurityGroups(ctx context.Context, token, portID string, ids []string) (Port, error) {
	c, err := m.caller(ctx, token)
	if err != nil {
		return Port{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.ports[portID]
	if !ok || !c.sees(p.ProjectID) {
		return Port{}, httpapi.NotFound("Port %s could not be found.", portID)
	}
	if dup := duplicate(ids); dup != "" {
		return Port{}, httpapi.BadRequest("Invalid input for security_groups. Reason: Duplicate items in the list: '%s'.", dup)
	}
	for _, id := range ids {
		g, err := m.visibleGroup(c, id)
		if err != nil {
			return Port{}, err
		}
		if g.ProjectID != p.ProjectID && !c.admin {
			return Port{}, groupNotFoundErr(id)
		}
	}
	groups := slices.Clone(ids)
	slices.Sort(groups)
	p.SecurityGroups = slices.Compact(groups)
	cp := *p
	cp.SecurityGroups = slices.Clone(p.SecurityGroups)
	return cp, nil
}

// duplicate is the first item a list holds twice, "" if none.
func duplicate(items []string) string {
	seen := map[string]bool{}
	for _, it := range items {
		if seen[it] {
			return it
		}
		seen[it] = true
	}
	return ""
}
