package clients

import (
	"context"
	"net/http"
	"net/url"

	"github.com/nimbus-cloud/nimbus/internal/compute"
)

// Security groups and their rules, always as the caller (never compute's own
// token): Nova's proxy API must show and change only what the user's project
// may reach, and the network service's policy is what decides that.

type securityGroupBody struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	ProjectID   string     `json:"project_id"`
	TenantID    string     `json:"tenant_id"`
	Rules       []ruleBody `json:"security_group_rules"`
}

func (g securityGroupBody) group() compute.SecurityGroup {
	out := compute.SecurityGroup{ID: g.ID, Name: g.Name, Description: g.Description, ProjectID: g.ProjectID}
	if out.ProjectID == "" {
		out.ProjectID = g.TenantID
	}
	for _, r := range g.Rules {
		out.Rules = append(out.Rules, r.rule())
	}
	return out
}

type ruleBody struct {
	ID             string  `json:"id"`
	GroupID        string  `json:"security_group_id"`
	Direction      string  `json:"direction"`
	EtherType      string  `json:"ethertype"`
	Protocol       *string `json:"protocol"`
	PortMin        *int    `json:"port_range_min"`
	PortMax        *int    `json:"port_range_max"`
	RemoteIPPrefix *string `json:"remote_ip_prefix"`
	RemoteGroupID  *string `json:"remote_group_id"`
}

func (r ruleBody) rule() compute.SecurityGroupRule {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return compute.SecurityGroupRule{ID: r.ID, GroupID: r.GroupID, Direction: r.Direction, EtherType: r.EtherType,
		Protocol: deref(r.Protocol), PortMin: r.PortMin, PortMax: r.PortMax,
		RemoteIPPrefix: deref(r.RemoteIPPrefix), RemoteGroupID: deref(r.RemoteGroupID)}
}

func (c *Network) SecurityGroups(ctx context.Context, token string, filter compute.SecurityGroupFilter) ([]compute.SecurityGroup, error) {
	q := url.Values{}
	if filter.ProjectID != "" {
		q.Set("project_id", filter.ProjectID)
	}
	if filter.Name != "" {
		q.Set("name", filter.Name)
	}
	for _, id := range filter.IDs {
		q.Add("id", id)
	}
	path := "v2.0/security-groups"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var body struct {
		Groups []securityGroupBody `json:"security_groups"`
	}
	if err := c.e.get(ctx, token, path, &body); err != nil {
		return nil, err
	}
	out := make([]compute.SecurityGroup, len(body.Groups))
	for i, g := range body.Groups {
		out[i] = g.group()
	}
	return out, nil
}

func (c *Network) GetSecurityGroup(ctx context.Context, token, id string) (compute.SecurityGroup, error) {
	var body struct {
		Group securityGroupBody `json:"security_group"`
	}
	if err := c.e.get(ctx, token, "v2.0/security-groups/"+url.PathEscape(id), &body); err != nil {
		return compute.SecurityGroup{}, err
	}
	return body.Group.group(), nil
}

func (c *Network) CreateSecurityGroup(ctx context.Context, token, name, description string) (compute.SecurityGroup, error) {
	var body struct {
		Group securityGroupBody `json:"security_group"`
	}
	req := map[string]any{"security_group": map[string]any{"name": name, "description": description}}
	if err := c.e.send(ctx, token, http.MethodPost, "v2.0/security-groups", req, &body, http.StatusCreated); err != nil {
		return compute.SecurityGroup{}, err
	}
	return body.Group.group(), nil
}

func (c *Network) UpdateSecurityGroup(ctx context.Context, token, id, name, description string) (compute.SecurityGroup, error) {
	var body struct {
		Group securityGroupBody `json:"security_group"`
	}
	req := map[string]any{"security_group": map[string]any{"name": name, "description": description}}
	if err := c.e.send(ctx, token, http.MethodPut, "v2.0/security-groups/"+url.PathEscape(id), req, &body, http.StatusOK); err != nil {
		return compute.SecurityGroup{}, err
	}
	return body.Group.group(), nil
}

func (c *Network) DeleteSecurityGroup(ctx context.Context, token, id string) error {
	return c.e.remove(ctx, token, "v2.0/security-groups/"+url.PathEscape(id))
}

func (c *Network) GetSecurityGroupRule(ctx context.Context, token, id string) (compute.SecurityGroupRule, error) {
	var body struct {
		Rule ruleBody `json:"security_group_rule"`
	}
	if err := c.e.get(ctx, token, "v2.0/security-group-rules/"+url.PathEscape(id), &body); err != nil {
		return compute.SecurityGroupRule{}, err
	}
	return body.Rule.rule(), nil
}

// CreateSecurityGroupRule sends the rule's nulls as JSON nulls, as upstream's
// client does, so the network service applies its own defaults.
func (c *Network) CreateSecurityGroupRule(ctx context.Context, token string, rule compute.SecurityGroupRule) (compute.SecurityGroupRule, error) {
	orNull := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	fields := map[string]any{"security_group_id": rule.GroupID, "direction": rule.Direction, "ethertype": rule.EtherType,
		"protocol": orNull(rule.Protocol), "remote_ip_prefix": orNull(rule.RemoteIPPrefix), "remote_group_id": orNull(rule.RemoteGroupID)}
	if rule.PortMin != nil {
		fields["port_range_min"] = *rule.PortMin
	}
	if rule.PortMax != nil {
		fields["port_range_max"] = *rule.PortMax
	}
	var body struct {
		Rule ruleBody `json:"security_group_rule"`
	}
	if err := c.e.send(ctx, token, http.MethodPost, "v2.0/security-group-rules", map[string]any{"security_group_rule": fields},
		&body, http.StatusCreated); err != nil {
		return compute.SecurityGroupRule{}, err
	}
	return body.Rule.rule(), nil
}

func (c *Network) DeleteSecurityGroupRule(ctx context.Context, token, id string) error {
	return c.e.remove(ctx, token, "v2.0/security-group-rules/"+url.PathEscape(id))
}
