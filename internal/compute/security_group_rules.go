package compute

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// ruleRequest is POST /os-security-group-rules' security_group_rule. Ports,
// protocol and cidr are whatever JSON the client sent: upstream's schema never
// checked them, its rule builder does.
type ruleRequest struct {
	ParentGroupID string
	GroupID       *string
	FromPort      any
	ToPort        any
	IPProtocol    any
	CIDR          any
}

// parseRuleRequest is upstream's create_rules schema.
func parseRuleRequest(r *http.Request) (ruleRequest, error) {
	var body map[string]json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return ruleRequest{}, err
	}
	raw, ok := body["security_group_rule"]
	if !ok {
		return ruleRequest{}, badRequest("'security_group_rule' is a required property")
	}
	var rule map[string]any
	if err := json.Unmarshal(raw, &rule); err != nil || rule == nil {
		return ruleRequest{}, badRequest("Invalid input for field/attribute security_group_rule. Value: %s. %s is not of type 'object'", raw, raw)
	}
	var req ruleRequest
	parent, ok := rule["parent_group_id"]
	if !ok {
		return ruleRequest{}, badRequest("Invalid input for field/attribute security_group_rule. 'parent_group_id' is a required property")
	}
	p, ok := parent.(string)
	if !ok {
		return ruleRequest{}, badRequest("Invalid input for field/attribute parent_group_id. Value: %v. %v is not of type 'string'", parent, parent)
	}
	if !isUUID(p) {
		return ruleRequest{}, badRequest("Invalid input for field/attribute parent_group_id. Value: %s. '%s' is not a 'uuid'", p, p)
	}
	req.ParentGroupID = p
	if g, ok := rule["group_id"]; ok && g != nil {
		id, ok := g.(string)
		if !ok {
			return ruleRequest{}, badRequest("Invalid input for field/attribute group_id. Value: %v. %v is not of type 'string', 'null'", g, g)
		}
		if !isUUID(id) {
			return ruleRequest{}, badRequest("Invalid input for field/attribute group_id. Value: %s. '%s' is not a 'uuid'", id, id)
		}
		req.GroupID = &id
	}
	req.FromPort, req.ToPort, req.IPProtocol, req.CIDR = rule["from_port"], rule["to_port"], rule["ip_protocol"], rule["cidr"]
	return req, nil
}

// newRule is a rule Nova asks for: always ingress, from a group or a CIDR.
type newRule struct {
	GroupID  string
	CIDR     string
	Protocol *string
	FromPort *int
	ToPort   *int
}

// parseCIDR is upstream's parse_cidr: none is 0.0.0.0/0, the value may be
// URL-quoted and must carry a prefix length.
func parseCIDR(v any) (string, error) {
	if !truthy(v) {
		return "0.0.0.0/0", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", badRequest("%v is not a valid IP network.", v)
	}
	unquoted, err := url.PathUnescape(s)
	if err != nil {
		return "", badRequest("%s is not a valid IP network.", s)
	}
	if _, err := netip.ParsePrefix(unquoted); err != nil {
		return "", badRequest("%s is not a valid IP network.", unquoted)
	}
	return unquoted, nil
}

// truthy is Python's truth of a JSON value, which upstream's checks use.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case float64:
		return x != 0
	case bool:
		return x
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// pyString is Python's str() of a JSON scalar.
func pyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		if x == math.Trunc(x) {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "True"
		}
		return "False"
	}
	return fmt.Sprint(v)
}

// pyInt is Python's int() of a JSON scalar.
func pyInt(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		return int(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		return n, err == nil
	}
	return 0, false
}

// newIngressRule is upstream's _new_ingress_rule; nil (with no error) is a
// CIDR rule without protocol and both ports, which upstream cannot build.
func newIngressRule(protocol, fromPort, toPort any, groupID, cidr string) (*newRule, error) {
	rule := &newRule{GroupID: groupID}
	if groupID != "" {
		// A source group opens everything unless a range is given.
		upper := ""
		if truthy(protocol) {
			upper = strings.ToUpper(pyString(protocol))
		}
		if fromPort == nil && toPort == nil {
			switch upper {
			case "ICMP":
				fromPort, toPort = -1.0, -1.0
			case "TCP", "UDP":
				fromPort, toPort = 1.0, 65535.0
			}
		}
	} else {
		rule.CIDR = cidr
	}
	if !truthy(protocol) || fromPort == nil || toPort == nil {
		if cidr != "" {
			return nil, nil
		}
		return rule, nil
	}
	proto := pyString(protocol)
	upper := strings.ToUpper(proto)
	from, okFrom := pyInt(fromPort)
	to, okTo := pyInt(toPort)
	if !okFrom || !okTo {
		if upper == "ICMP" {
			return nil, badRequest("Invalid input received: Type and Code must be integers for ICMP protocol type")
		}
		return nil, badRequest("Invalid input received: To and From ports must be integers")
	}
	portRange := func(msg string) error {
		return badRequest("Invalid port range %d:%d. %s", from, to, msg)
	}
	switch upper {
	case "TCP", "UDP":
		if from > to {
			return nil, portRange("Former value cannot be greater than the later")
		}
		if from < 1 || to > 65535 {
			return nil, portRange(fmt.Sprintf("Valid %s ports should be between 1-65535", upper))
		}
	case "ICMP":
		if from < -1 || from > 255 || to < -1 || to > 255 {
			return nil, portRange("For ICMP, the type:code must be valid")
		}
	default:
		return nil, badRequest("Invalid IP protocol %s.", proto)
	}
	rule.Protocol, rule.FromPort, rule.ToPort = &proto, &from, &to
	return rule, nil
}

// exists is upstream's _rule_exists over the group's ingress rules: the same
// source group, CIDR, ports and protocol (compared as given: "TCP" is not the
// network's "tcp", so the network service's own check may answer instead).
func (n *newRule) exists(sg SecurityGroup) bool {
	eqs := func(a string, b *string) bool { return (a == "" && b == nil) || (b != nil && a == *b) }
	eqi := func(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	for _, r := range sg.Rules {
		if r.Direction != "ingress" {
			continue
		}
		have := toNovaRule(r)
		// upstream's new rule has no cidr key for a group rule, while an
		// existing one always has one (0.0.0.0/0 at least).
		if have.GroupID == n.GroupID && n.CIDR != "" && have.CIDR == n.CIDR && eqi(have.FromPort, n.FromPort) &&
			eqi(have.ToPort, n.ToPort) && eqs(have.Protocol, n.Protocol) {
			return true
		}
	}
	return false
}

// networkRule is upstream's _make_neutron_security_group_rules_list: ingress,
// IPv4 for a group rule (Nova has no ethertype), -1 ports left out.
func (n *newRule) networkRule(parent string) SecurityGroupRule {
	rule := SecurityGroupRule{GroupID: parent, Direction: "ingress", EtherType: "IPv4", RemoteIPPrefix: n.CIDR,
		RemoteGroupID: n.GroupID}
	if n.Protocol != nil {
		rule.Protocol = *n.Protocol
	}
	if n.CIDR != "" {
		if p, err := netip.ParsePrefix(n.CIDR); err == nil && p.Addr().Is6() {
			rule.EtherType = "IPv6"
		}
	}
	if n.FromPort != nil && *n.FromPort != -1 {
		rule.PortMin = n.FromPort
	}
	if n.ToPort != nil && *n.ToPort != -1 {
		rule.PortMax = n.ToPort
	}
	return rule
}

func (s *Service) createSecurityGroupRule(r *http.Request) (httpapi.Response, error) {
	if err := proxyAvailable(r); err != nil {
		return httpapi.Response{}, err
	}
	req, err := parseRuleRequest(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	token, err := s.proxyCaller(r, "rule:create")
	if err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	parent, err := s.opts.Network.GetSecurityGroup(ctx, token, req.ParentGroupID)
	if err != nil {
		return httpapi.Response{}, networkError(err, "security group "+req.ParentGroupID, groupNotFound)
	}
	var source *groupRef
	var rule *newRule
	if req.GroupID != nil {
		sg, err := s.opts.Network.GetSecurityGroup(ctx, token, *req.GroupID)
		if err != nil {
			return httpapi.Response{}, networkError(err, "security group "+*req.GroupID, groupNotFound)
		}
		source = &groupRef{Name: sg.Name, TenantID: sg.ProjectID}
		rule, err = newIngressRule(req.IPProtocol, req.FromPort, req.ToPort, sg.ID, "")
		if err != nil {
			return httpapi.Response{}, err
		}
	} else {
		cidr, err := parseCIDR(req.CIDR)
		if err != nil {
			return httpapi.Response{}, err
		}
		if rule, err = newIngressRule(req.IPProtocol, req.FromPort, req.ToPort, "", cidr); err != nil {
			return httpapi.Response{}, err
		}
	}
	if rule == nil {
		return httpapi.Response{}, badRequest("Not enough parameters to build a valid rule.")
	}
	if rule.CIDR != "" {
		// A zero prefix is only for "anything" (upstream's get_net_and_prefixlen).
		if p, _ := netip.ParsePrefix(rule.CIDR); p.Bits() == 0 && !p.Addr().IsUnspecified() {
			return httpapi.Response{}, badRequest("Bad prefix for network in cidr %s", rule.CIDR)
		}
	}
	if rule.exists(parent) {
		return httpapi.Response{}, badRequest("This rule already exists in group %s", parent.ID)
	}
	made, err := s.opts.Network.CreateSecurityGroupRule(ctx, token, rule.networkRule(parent.ID))
	if err != nil {
		// The network's 409 (a duplicate, over quota) is upstream's SecurityGroupLimitExceeded.
		return httpapi.Response{}, networkError(err, "create security group rule", map[int]int{
			http.StatusNotFound: http.StatusNotFound, http.StatusConflict: http.StatusForbidden, http.StatusBadRequest: http.StatusBadRequest})
	}
	v, err := s.newGroupRefs(ctx, token, nil).ruleView(toNovaRule(made), source)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"security_group_rule": v}), nil
}

func (s *Service) deleteSecurityGroupRule(r *http.Request) (httpapi.Response, error) {
	if err := proxyAvailable(r); err != nil {
		return httpapi.Response{}, err
	}
	token, err := s.proxyCaller(r, "rule:delete")
	if err != nil {
		return httpapi.Response{}, err
	}
	id := r.PathValue("id")
	if err := checkGroupID(id); err != nil { // upstream checks a rule id with the group's check
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	rule, err := s.opts.Network.GetSecurityGroupRule(ctx, token, id)
	if err != nil {
		return httpapi.Response{}, networkError(err, "security group rule "+id, groupNotFound)
	}
	if _, err := s.opts.Network.GetSecurityGroup(ctx, token, rule.GroupID); err != nil {
		return httpapi.Response{}, networkError(err, "security group "+rule.GroupID, groupNotFound)
	}
	if err := s.opts.Network.DeleteSecurityGroupRule(ctx, token, id); err != nil {
		return httpapi.Response{}, fmt.Errorf("delete security group rule %s: %w", id, err)
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}
