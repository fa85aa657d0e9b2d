package network

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// securityGroupBody is a security group as stored; its rules live in their table.
type securityGroupBody struct {
	standard
	Stateful bool `json:"stateful"`
}

// ruleBody is a security group rule as stored.
type ruleBody struct {
	standard
	SecurityGroupID string  `json:"security_group_id"`
	Direction       string  `json:"direction"`
	EtherType       string  `json:"ethertype"`
	Protocol        *string `json:"protocol"`
	PortRangeMin    *int    `json:"port_range_min"`
	PortRangeMax    *int    `json:"port_range_max"`
	RemoteIPPrefix  *string `json:"remote_ip_prefix"`
	RemoteGroupID   *string `json:"remote_group_id"`
	RemoteAddrGroup *string `json:"remote_address_group_id"`
}

var securityGroupAttributes = []string{"name", "description", "project_id", "tenant_id", "stateful", "tags"}

var ruleAttributes = []string{"security_group_id", "direction", "ethertype", "protocol", "port_range_min",
	"port_range_max", "remote_ip_prefix", "remote_group_id", "remote_address_group_id", "description", "project_id", "tenant_id"}

func (s *Service) securityGroupRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.0/security-groups", Handler: s.listSecurityGroups},
		{Method: "POST", Path: "/v2.0/security-groups", Handler: s.createSecurityGroup},
		{Method: "GET", Path: "/v2.0/security-groups/{id}", Handler: s.showSecurityGroup},
		{Method: "PUT", Path: "/v2.0/security-groups/{id}", Handler: s.updateSecurityGroup},
		{Method: "DELETE", Path: "/v2.0/security-groups/{id}", Handler: s.deleteSecurityGroup},
		{Method: "GET", Path: "/v2.0/security-group-rules", Handler: s.listRules},
		{Method: "POST", Path: "/v2.0/security-group-rules", Handler: s.createRule},
		{Method: "GET", Path: "/v2.0/security-group-rules/{id}", Handler: s.showRule},
		{Method: "DELETE", Path: "/v2.0/security-group-rules/{id}", Handler: s.deleteRule},
	}
}

// target is the group as upstream's policy engine sees it; Nimbus shares no group
// (no RBAC), so shared is false.
func (sg *securityGroupBody) target() map[string]any {
	return map[string]any{"id": sg.ID, "project_id": sg.ProjectID, "tenant_id": sg.ProjectID, "shared": false}
}

// target is the rule as upstream's policy engine sees it, with
// security_group:project_id, its group's owner (upstream's sg_owner rule). A rule
// belongs to its group's project here, so that is the rule's own project.
func (rule *ruleBody) target() map[string]any {
	return map[string]any{"id": rule.ID, "project_id": rule.ProjectID, "tenant_id": rule.ProjectID,
		"security_group_id": rule.SecurityGroupID, "security_group:project_id": rule.ProjectID}
}

// ensureDefaultSecurityGroup returns the project's "default" group, creating it with
// upstream's rules (all egress; ingress from members of the group) when missing.
// A project's first calls may come at once: the partial unique index
// security_groups_one_default keeps one group, and a concurrent creation is a
// serialization failure (PostgreSQL) that db.InTx runs again, finding the group.
func (s *Service) ensureDefaultSecurityGroup(ctx context.Context, tx *db.Tx, project string) (string, error) {
	var id string
	err := tx.QueryRowContext(ctx, `SELECT id FROM security_groups WHERE project_id = ? AND name = 'default'`, project).Scan(&id)
	if err == nil || !db.IsNoRows(err) {
		return id, err
	}
	sg := &securityGroupBody{standard: newStandard(newUUID(), project, stamp(s.now())), Stateful: true}
	sg.Name, sg.Description = "default", "Default security group"
	inserted, err := insertedOne(tx.ExecContext(ctx, `INSERT INTO security_groups (id, project_id, name, body)
		VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, sg.ID, sg.ProjectID, sg.Name, marshal(sg)))
	if err != nil {
		return "", err
	}
	if !inserted {
		return "", fmt.Errorf("default security group of %s: created during the transaction", project)
	}
	for _, eth := range []string{"IPv4", "IPv6"} {
		self := sg.ID
		for _, r := range []*ruleBody{
			{Direction: "egress", EtherType: eth},
			{Direction: "ingress", EtherType: eth, RemoteGroupID: &self},
		} {
			if err := s.insertRule(ctx, tx, sg, r); err != nil {
				return "", err
			}
		}
	}
	return sg.ID, nil
}

func (s *Service) insertSecurityGroup(ctx context.Context, tx *db.Tx, sg *securityGroupBody) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO security_groups (id, project_id, name, body) VALUES (?, ?, ?, ?)`,
		sg.ID, sg.ProjectID, sg.Name, marshal(sg))
	return err
}

func (s *Service) insertRule(ctx context.Context, tx *db.Tx, sg *securityGroupBody, r *ruleBody) error {
	r.standard = newStandard(newUUID(), sg.ProjectID, stamp(s.now()))
	r.SecurityGroupID = sg.ID
	_, err := tx.ExecContext(ctx, `INSERT INTO security_group_rules (id, security_group_id, project_id, remote_address_group_id, body)
		VALUES (?, ?, ?, ?, ?)`, r.ID, sg.ID, sg.ProjectID, r.RemoteAddrGroup, marshal(r))
	return err
}

// ruleJSON renders a rule as upstream: no name nor tags (rules are not
// taggable), with normalized_cidr, the remote prefix as a network.
func ruleJSON(r *ruleBody) object {
	o := render(r)
	delete(o, "name")
	delete(o, "tags")
	o["normalized_cidr"] = r.RemoteIPPrefix
	return o
}

// securityGroupJSON renders a group with its rules.
func securityGroupJSON(sg *securityGroupBody, rules []ruleBody) object {
	o := render(sg)
	list := make([]any, 0, len(rules))
	for i := range rules {
		list = append(list, ruleJSON(&rules[i]))
	}
	o["security_group_rules"] = list
	return o
}

func (s *Service) listSecurityGroups(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	if c.project != "" {
		if err := s.inTx(r.Context(), func(tx *db.Tx) error {
			_, err := s.ensureDefaultSecurityGroup(r.Context(), tx, c.project)
			return err
		}); err != nil {
			return httpapi.Response{}, err
		}
	}
	groups, err := projectBodies[securityGroupBody](r.Context(), s.db, c, "security_groups")
	if err != nil {
		return httpapi.Response{}, err
	}
	rules, err := projectBodies[ruleBody](r.Context(), s.db, c, "security_group_rules")
	if err != nil {
		return httpapi.Response{}, err
	}
	byGroup := map[string][]ruleBody{}
	for _, rule := range rules {
		byGroup[rule.SecurityGroupID] = append(byGroup[rule.SecurityGroupID], rule)
	}
	var out []object
	for i := range groups {
		if s.allowed(c, "get_security_group", groups[i].target()) {
			out = append(out, securityGroupJSON(&groups[i], byGroup[groups[i].ID]))
		}
	}
	return listResponse(r, "security_groups", out)
}

// visibleSecurityGroup loads a group of the caller's project (any, for admins).
func (s *Service) visibleSecurityGroup(ctx context.Context, c caller, q db.Querier, id string) (*securityGroupBody, error) {
	var sg securityGroupBody
	if err := loadBody(ctx, q, "security_groups", id, &sg); err != nil {
		return nil, notFoundIfNoRows(err, "SecurityGroupNotFound", "Security group", id)
	}
	if !s.allowed(c, "get_security_group", sg.target()) {
		return nil, notFound("SecurityGroupNotFound", "Security group", id)
	}
	return &sg, nil
}

func (s *Service) groupRules(ctx context.Context, q db.Querier, id string) ([]ruleBody, error) {
	return loadBodies[ruleBody](ctx, q, `SELECT body FROM security_group_rules WHERE security_group_id = ?`, id)
}

func (s *Service) showSecurityGroup(r *http.Request) (httpapi.Response, error) {
	sg, err := s.visibleSecurityGroup(r.Context(), s.caller(r), s.db, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	rules, err := s.groupRules(r.Context(), s.db, sg.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return showResponse(r, "security_group", securityGroupJSON(sg, rules)), nil
}

func (s *Service) createSecurityGroup(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "security_group", securityGroupAttributeMap, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	project, err := projectFor(c, attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	sg := &securityGroupBody{standard: newStandard(newUUID(), project, stamp(s.now())), Stateful: true}
	if err := s.authorize(c, "security_group", "create_security_group", sg.target(), attrs, true); err != nil {
		return httpapi.Response{}, err
	}
	if err := attrString(attrs, "name", &sg.Name); err != nil {
		return httpapi.Response{}, err
	}
	if err := attrString(attrs, "description", &sg.Description); err != nil {
		return httpapi.Response{}, err
	}
	if err := attrBool(attrs, "stateful", &sg.Stateful); err != nil {
		return httpapi.Response{}, err
	}
	if err := attrStrings(attrs, "tags", &sg.Tags); err != nil {
		return httpapi.Response{}, err
	}
	var rules []ruleBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		rules = nil // from the start when the transaction runs again
		if _, err := s.ensureDefaultSecurityGroup(r.Context(), tx, project); err != nil {
			return err
		}
		if sg.Name == "default" {
			return conflict("SecurityGroupDefaultAlreadyExists", "Default security group already exists.")
		}
		if err := s.checkQuota(r.Context(), tx, project, "security_group", "security_groups"); err != nil {
			return err
		}
		if err := s.insertSecurityGroup(r.Context(), tx, sg); err != nil {
			return err
		}
		for _, eth := range []string{"IPv4", "IPv6"} {
			rule := &ruleBody{Direction: "egress", EtherType: eth}
			if err := s.insertRule(r.Context(), tx, sg, rule); err != nil {
				return err
			}
			rules = append(rules, *rule)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"security_group": securityGroupJSON(sg, rules)}), nil
}

func (s *Service) updateSecurityGroup(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "security_group", securityGroupAttributeMap, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	var sg *securityGroupBody
	var rules []ruleBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		if sg, err = s.visibleSecurityGroup(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		if err := s.authorize(c, "security_group", "update_security_group", sg.target(), attrs, false); err != nil {
			return err
		}
		wasDefault := sg.Name == "default"
		if err := attrString(attrs, "name", &sg.Name); err != nil {
			return err
		}
		if err := attrString(attrs, "description", &sg.Description); err != nil {
			return err
		}
		if err := attrBool(attrs, "stateful", &sg.Stateful); err != nil {
			return err
		}
		if wasDefault != (sg.Name == "default") {
			return conflict("SecurityGroupCannotUpdateDefault", "Updating default security group not allowed.")
		}
		sg.touch(stamp(s.now()))
		if _, err := tx.ExecContext(r.Context(), `UPDATE security_groups SET name = ?, body = ? WHERE id = ?`, sg.Name, marshal(sg), sg.ID); err != nil {
			return err
		}
		rules, err = s.groupRules(r.Context(), tx, sg.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"security_group": securityGroupJSON(sg, rules)}), nil
}

func (s *Service) deleteSecurityGroup(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		sg, err := s.visibleSecurityGroup(r.Context(), c, tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := s.enforce(c, "delete_security_group", sg.target()); err != nil {
			return err
		}
		if sg.Name == "default" && !c.admin {
			return conflict("SecurityGroupCannotRemoveDefault", "Insufficient rights for removing default security group.")
		}
		var users int
		if err := tx.QueryRowContext(r.Context(), `SELECT COUNT(*) FROM port_security_groups WHERE security_group_id = ?`, sg.ID).Scan(&users); err != nil {
			return err
		}
		if users > 0 {
			return conflict("SecurityGroupInUse", "Security Group %s in use.", sg.ID)
		}
		_, err = tx.ExecContext(r.Context(), `DELETE FROM security_groups WHERE id = ?`, sg.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

func (s *Service) listRules(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	rules, err := projectBodies[ruleBody](r.Context(), s.db, c, "security_group_rules")
	if err != nil {
		return httpapi.Response{}, err
	}
	var out []object
	for i := range rules {
		if s.allowed(c, "get_security_group_rule", rules[i].target()) {
			out = append(out, ruleJSON(&rules[i]))
		}
	}
	return listResponse(r, "security_group_rules", out)
}

func (s *Service) visibleRule(ctx context.Context, c caller, q db.Querier, id string) (*ruleBody, error) {
	var rule ruleBody
	if err := loadBody(ctx, q, "security_group_rules", id, &rule); err != nil {
		return nil, notFoundIfNoRows(err, "SecurityGroupRuleNotFound", "Security group rule", id)
	}
	if !s.allowed(c, "get_security_group_rule", rule.target()) {
		return nil, notFound("SecurityGroupRuleNotFound", "Security group rule", id)
	}
	return &rule, nil
}

func (s *Service) showRule(r *http.Request) (httpapi.Response, error) {
	rule, err := s.visibleRule(r.Context(), s.caller(r), s.db, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return showResponse(r, "security_group_rule", ruleJSON(rule)), nil
}

func (s *Service) createRule(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "security_group_rule", securityGroupRuleAttributeMap, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	rule, err := parseRule(attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	sgID, _ := attrs["security_group_id"].(string)
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		sg, err := s.visibleSecurityGroup(r.Context(), c, tx, sgID)
		if err != nil {
			return err
		}
		// The rule goes to the group's owner's: adding one takes owning the group
		// (upstream's sg_owner).
		target := map[string]any{"project_id": c.project, "tenant_id": c.project, "security_group_id": sg.ID,
			"security_group:project_id": sg.ProjectID}
		if err := s.authorize(c, "security_group_rule", "create_security_group_rule", target, attrs, true); err != nil {
			return err
		}
		if rule.RemoteGroupID != nil {
			if _, err := s.visibleSecurityGroup(r.Context(), c, tx, *rule.RemoteGroupID); err != nil {
				return err
			}
		}
		if rule.RemoteAddrGroup != nil {
			if _, err := s.visibleAddressGroup(r.Context(), c, tx, *rule.RemoteAddrGroup); err != nil {
				return err
			}
		}
		existing, err := s.groupRules(r.Context(), tx, sg.ID)
		if err != nil {
			return err
		}
		for i := range existing {
			if sameRule(&existing[i], rule) {
				return conflict("SecurityGroupRuleExists", "Security group rule already exists. Rule id is %s.", existing[i].ID)
			}
		}
		if err := s.checkQuota(r.Context(), tx, sg.ProjectID, "security_group_rule", "security_group_rules"); err != nil {
			return err
		}
		if err := attrString(attrs, "description", &rule.Description); err != nil {
			return err
		}
		desc := rule.Description
		if err := s.insertRule(r.Context(), tx, sg, rule); err != nil {
			return err
		}
		rule.Description = desc
		return saveBody(r.Context(), tx, "security_group_rules", rule.ID, rule)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"security_group_rule": ruleJSON(rule)}), nil
}

func (s *Service) deleteRule(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		rule, err := s.visibleRule(r.Context(), c, tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := s.enforce(c, "delete_security_group_rule", rule.target()); err != nil {
			return err
		}
		_, err = tx.ExecContext(r.Context(), `DELETE FROM security_group_rules WHERE id = ?`, rule.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// protocolNumbers are the names upstream accepts, with their IP protocol numbers.
var protocolNumbers = map[string]int{"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132,
	"gre": 47, "ah": 51, "esp": 50, "dccp": 33, "igmp": 2, "ipip": 4, "ospf": 89, "pgm": 113, "rsvp": 46, "udplite": 136,
	"vrrp": 112, "egp": 8, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43}

// parseRule validates a rule as upstream does.
func parseRule(attrs map[string]any) (*ruleBody, error) {
	rule := &ruleBody{EtherType: "IPv4"}
	if err := attrString(attrs, "direction", &rule.Direction); err != nil {
		return nil, err
	}
	if rule.Direction != "ingress" && rule.Direction != "egress" {
		return nil, invalidInput("'%s' is not in ['ingress', 'egress']", rule.Direction)
	}
	if sg, _ := attrs["security_group_id"].(string); sg == "" {
		return nil, badRequest("Failed to parse request. Required attribute 'security_group_id' not specified")
	}
	if err := attrString(attrs, "ethertype", &rule.EtherType); err != nil {
		return nil, err
	}
	switch strings.ToLower(rule.EtherType) {
	case "ipv4":
		rule.EtherType = "IPv4"
	case "ipv6":
		rule.EtherType = "IPv6"
	default:
		return nil, invalidInput("'%s' is not in ['IPv4', 'IPv6']", rule.EtherType)
	}
	if v, ok := attrs["protocol"]; ok && v != nil {
		p := strings.ToLower(strings.TrimSpace(toString(v)))
		if p == "any" || p == "" {
			p = ""
		} else if _, known := protocolNumbers[p]; !known {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n > 255 {
				_, err := checkProtocol(v) // the attribute map's converter refused it already
				return nil, err
			}
		}
		if p != "" {
			rule.Protocol = &p
		}
	}
	for _, f := range []struct {
		key string
		dst **int
	}{{"port_range_min", &rule.PortRangeMin}, {"port_range_max", &rule.PortRangeMax}} {
		if v, ok := attrs[f.key]; ok && v != nil {
			n, err := portValue(v)
			if err != nil {
				return nil, err
			}
			*f.dst = &n
		}
	}
	if err := checkPortRange(rule); err != nil {
		return nil, err
	}
	if v, ok := attrs["remote_ip_prefix"]; ok && v != nil {
		p, err := netip.ParsePrefix(toString(v))
		if err != nil {
			a, aerr := netip.ParseAddr(toString(v))
			if aerr != nil {
				return nil, invalidInput("'%v' is not a valid IP subnet", v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4() != (rule.EtherType == "IPv4") {
			return nil, badRequest("Conflicting value ethertype %s for CIDR %s", rule.EtherType, p)
		}
		str := p.Masked().String()
		rule.RemoteIPPrefix = &str
	}
	if v, ok := attrs["remote_group_id"]; ok && v != nil {
		str := toString(v)
		rule.RemoteGroupID = &str
	}
	if v, ok := attrs["remote_address_group_id"]; ok && v != nil {
		str := toString(v)
		rule.RemoteAddrGroup = &str
	}
	remotes := 0
	for _, set := range []bool{rule.RemoteIPPrefix != nil, rule.RemoteGroupID != nil, rule.RemoteAddrGroup != nil} {
		if set {
			remotes++
		}
	}
	if remotes > 1 {
		return nil, neutronError(http.StatusBadRequest, "SecurityGroupMultipleRemoteEntites",
			"Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.")
	}
	return rule, nil
}

// portValue is upstream's convert_validate_port_value: an integer (or a string
// of one) from 0 to 65535, else SecurityGroupInvalidPortValue naming the value.
func portValue(v any) (int, error) {
	n, err := toInt(v)
	if _, isFloat := v.(float64); err == nil && (!isFloat || v.(float64) >= 0) {
		if p := n.(int); p >= 0 && p <= 65535 {
			return p, nil
		}
	}
	return 0, neutronError(http.StatusBadRequest, "SecurityGroupInvalidPortValue", "Invalid value for port %s", pyStr(v))
}

// portProtocols are the protocols with ports (upstream's SG_PORT_PROTO_NAMES and
// SG_PORT_PROTO_NUMS).
var portProtocols = []string{"dccp", "sctp", "tcp", "udp", "udplite", "33", "132", "6", "17", "136"}

// checkPortRange is upstream's _validate_port_range.
func checkPortRange(rule *ruleBody) error {
	lo, hi := rule.PortRangeMin, rule.PortRangeMax
	if lo == nil && hi == nil {
		return nil
	}
	if rule.Protocol == nil {
		return neutronError(http.StatusBadRequest, "SecurityGroupProtocolRequiredWithPorts", "Must also specify protocol if port range is given.")
	}
	switch proto := *rule.Protocol; {
	case slices.Contains(portProtocols, proto):
		if lo != nil && *lo == 0 || hi != nil && *hi == 0 {
			return neutronError(http.StatusBadRequest, "SecurityGroupInvalidPortValue", "Invalid value for port 0")
		}
		if lo == nil || hi == nil || *lo > *hi {
			return neutronError(http.StatusBadRequest, "SecurityGroupInvalidPortRange", "For TCP/UDP protocols, port_range_min must be <= port_range_max")
		}
	case slices.Contains([]string{"icmp", "icmpv6", "ipv6-icmp", "1", "58"}, proto):
		for _, f := range []struct {
			value       *int
			field, attr string
		}{{lo, "type", "port_range_min"}, {hi, "code", "port_range_max"}} {
			if f.value != nil && *f.value > 255 {
				return neutronError(http.StatusBadRequest, "SecurityGroupInvalidIcmpValue",
					"Invalid value for ICMP %s (%s) %d. It must be 0 to 255.", f.field, f.attr, *f.value)
			}
		}
		if lo == nil && hi != nil {
			return neutronError(http.StatusBadRequest, "SecurityGroupMissingIcmpType",
				"ICMP code (port-range-max) %d is provided but ICMP type (port-range-min) is missing.", *hi)
		}
	default:
		number := proto
		if n, ok := protocolNumbers[proto]; ok {
			number = strconv.Itoa(n)
		}
		return neutronError(http.StatusBadRequest, "SecurityGroupInvalidProtocolForPort",
			"Ports cannot be specified for protocol %s. Ports are only supported for DCCP, SCTP, TCP, UDP, UDPLITE.", number)
	}
	return nil
}

func sameRule(a, b *ruleBody) bool {
	eq := func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	eqi := func(x, y *int) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return a.Direction == b.Direction && a.EtherType == b.EtherType && eq(a.Protocol, b.Protocol) &&
		eqi(a.PortRangeMin, b.PortRangeMin) && eqi(a.PortRangeMax, b.PortRangeMax) &&
		eq(a.RemoteIPPrefix, b.RemoteIPPrefix) && eq(a.RemoteGroupID, b.RemoteGroupID) && eq(a.RemoteAddrGroup, b.RemoteAddrGroup)
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.Itoa(int(x))
	}
	return ""
}

// setPortSecurity applies port_security_enabled, security_groups and
// allowed_address_pairs together, with upstream's rules between them.
func (s *Service) setPortSecurity(ctx context.Context, tx *db.Tx, c caller, p *portBody, attrs map[string]any, creating bool) error {
	if err := attrBool(attrs, "port_security_enabled", &p.PortSecurityEnabled); err != nil {
		return err
	}
	_, groupsGiven := attrs["security_groups"]
	var groups []string
	if err := attrStrings(attrs, "security_groups", &groups); err != nil {
		return err
	}
	if v, ok := attrs["allowed_address_pairs"]; ok {
		var pairs []addressPair
		if v != nil {
			if err := decodeInto(v, &pairs, "allowed_address_pairs"); err != nil {
				return err
			}
		}
		for i, pair := range pairs {
			if _, err := netip.ParsePrefix(pair.IPAddress); err != nil {
				if _, err := netip.ParseAddr(pair.IPAddress); err != nil {
					return invalidInput("'%s' is not a valid IP address", pair.IPAddress)
				}
			}
			if pair.MACAddress != "" {
				mac, err := parseMAC(pair.MACAddress)
				if err != nil {
					return err
				}
				pairs[i].MACAddress = mac
			}
		}
		if pairs == nil {
			pairs = []addressPair{}
		}
		p.AllowedAddressPairs = pairs
	}
	if !p.PortSecurityEnabled {
		if groupsGiven && len(groups) > 0 || !groupsGiven && len(p.SecurityGroups) > 0 && !creating {
			return conflict("PortSecurityPortHasSecurityGroup", "Port has security group associated. Cannot disable port security or ip address until security group is removed")
		}
		if len(p.AllowedAddressPairs) > 0 {
			return conflict("AddressPairAndPortSecurityRequired", "Port Security must be enabled in order to have allowed address pairs on a port.")
		}
		groups, groupsGiven = []string{}, true
	}
	switch {
	case groupsGiven:
	case creating && !strings.HasPrefix(p.DeviceOwner, "network:"):
		id, err := s.ensureDefaultSecurityGroup(ctx, tx, p.ProjectID)
		if err != nil {
			return err
		}
		groups, groupsGiven = []string{id}, true
	}
	if !groupsGiven {
		return nil
	}
	slices.Sort(groups)
	groups = slices.Compact(groups)
	for _, g := range groups {
		sg, err := s.visibleSecurityGroup(ctx, c, tx, g)
		if err != nil {
			return err
		}
		if sg.ProjectID != p.ProjectID && !c.admin {
			return notFound("SecurityGroupNotFound", "Security group", g)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM port_security_groups WHERE port_id = ?`, p.ID); err != nil {
		return err
	}
	for _, g := range groups {
		if _, err := tx.ExecContext(ctx, `INSERT INTO port_security_groups (port_id, security_group_id) VALUES (?, ?)`, p.ID, g); err != nil {
			return err
		}
	}
	p.SecurityGroups = groups
	return nil
}
