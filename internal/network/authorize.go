package network

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

// policedAttribute is an attribute upstream's API definitions mark enforce_policy:
// a request that sets it needs the rule "<action>:<name>" besides the action's own.
type policedAttribute struct {
	name string
	// def is the attribute's API default, when it has one: creating a resource with
	// the default value is not policed (upstream's _is_attribute_explicitly_set),
	// an update naming the attribute always is.
	def        any
	hasDefault bool
	// subAttributes are the keys of a dictionary attribute with rules of their own
	// ("create_router:external_gateway_info:enable_snat"), checked when present.
	subAttributes []string
}

func withDefault(name string, def any) policedAttribute {
	return policedAttribute{name: name, def: def, hasDefault: true}
}

func always(name string) policedAttribute { return policedAttribute{name: name} }

// policedAttributes are, per resource, the attributes Nimbus accepts that
// neutron-lib's API definitions mark enforce_policy (network, port, subnet,
// provider_net, external_net, port_security, portbindings, allowedaddresspairs,
// port_trusted_vif, dvr, l3_ext_ha_mode, l3, l3_ext_gw_mode, l3_flavors,
// network_mtu_writable, auto_allocated_topology, subnet_segmentid_enforce).
var policedAttributes = map[string][]policedAttribute{
	"network": {
		withDefault("shared", false), withDefault("router:external", false), withDefault("is_default", false),
		withDefault("port_security_enabled", true), withDefault("mtu", 0),
		always("provider:network_type"), always("provider:physical_network"), always("provider:segmentation_id"),
	},
	"subnet": {withDefault("segment_id", nil)},
	"port": {
		always("mac_address"), always("fixed_ips"), withDefault("device_id", ""), withDefault("device_owner", ""),
		always("allowed_address_pairs"), always("port_security_enabled"), always("binding:host_id"),
		withDefault("binding:vnic_type", "normal"), always("binding:profile"), always("trusted"),
	},
	"router": {
		always("distributed"), always("ha"), always("flavor_id"),
		{name: "external_gateway_info", def: nil, hasDefault: true,
			subAttributes: []string{"network_id", "enable_snat", "external_fixed_ips", "qos_policy_id"}},
	},
	"floatingip":    {withDefault("floating_ip_address", nil)},
	"address_scope": {withDefault("shared", false)},
	"subnetpool":    {withDefault("shared", false), withDefault("is_default", false)},
	"trunk":         {withDefault("sub_ports", []any{})},
}

// attributeRules are the rules a create or update body brings in besides the
// action's own, as upstream's policy._build_match_rule builds them: for each
// policed attribute the request sets, "<action>:<attribute>"; for a dictionary
// attribute, also "<action>:<attribute>:<key>" for each of its policed keys
// present; for a list attribute, "<action>:<attribute>:<key>" for every key of
// every dictionary in it (fixed_ips' ip_address and subnet_id, the address pairs'
// ip_address and mac_address). They are sorted, so the answer names them in a
// stable order.
func attributeRules(resource, action string, attrs map[string]any, creating bool) []string {
	seen := map[string]bool{}
	for _, a := range policedAttributes[resource] {
		v, set := attrs[a.name]
		if !set || creating && a.hasDefault && isDefault(a.name, v, a.def) {
			continue
		}
		rule := action + ":" + a.name
		seen[rule] = true
		switch x := v.(type) {
		case map[string]any:
			for _, key := range a.subAttributes {
				if _, ok := x[key]; ok {
					seen[rule+":"+key] = true
				}
			}
		case []any:
			for _, item := range x {
				if m, ok := item.(map[string]any); ok {
					for key := range m {
						seen[rule+":"+key] = true
					}
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// isDefault reports whether a request's value is the attribute's default, after
// the conversion the attribute's reader applies ("False" is false).
func isDefault(name string, v, def any) bool {
	attrs := map[string]any{name: v}
	switch d := def.(type) {
	case nil:
		return v == nil
	case bool:
		var b bool
		return attrBool(attrs, name, &b) == nil && b == d
	case int:
		n := -1
		return v != nil && attrInt(attrs, name, &n) == nil && n == d
	case string:
		s, ok := v.(string)
		return ok && s == d
	}
	return false
}

// authorize decides an operation as upstream's policy engine does: the action's
// rule and the rules of the attributes the request sets (attrs; nil for none) must
// all allow the caller on target, the resource as it will be. A token of a scope
// the action does not accept is refused first (InvalidScope, 403), whatever its
// roles. The answer is 403; a caller who may not even see the resource gets 404
// before this, from the visible* loaders.
func (s *Service) authorize(c caller, resource, action string, target, attrs map[string]any, creating bool) error {
	if err := s.checkScope(c, action); err != nil {
		return err
	}
	rules := append([]string{action}, attributeRules(resource, action, attrs, creating)...)
	for _, rule := range rules {
		if !s.ruleAllows(c, rule, target) {
			return policyRefusal(rules)
		}
	}
	return nil
}

// ruleAllows evaluates one rule. A rule that does not exist falls back, as in
// upstream's oslo.policy, to neutron's default rule: admin, or the owner of the
// target.
func (s *Service) ruleAllows(c caller, rule string, target map[string]any) bool {
	if c.creds == nil {
		return false
	}
	creds := c.creds.PolicyCredentials()
	if _, ok := s.policy.Rule(rule); ok {
		return s.policy.Allowed(rule, target, creds)
	}
	owner, _ := target["project_id"].(string)
	return s.policy.Allowed("context_is_admin", target, creds) || owner != "" && owner == c.creds.ProjectID
}

// checkScope refuses a token whose scope the rule does not accept, with upstream's
// InvalidScope (oslo.policy's message).
func (s *Service) checkScope(c caller, rule string) error {
	if c.creds == nil {
		return neutronError(http.StatusUnauthorized, "", "The request you have made requires authentication.")
	}
	scopes := s.policy.ScopeTypes(rule)
	token := policy.TokenScope(c.creds.PolicyCredentials())
	if len(scopes) == 0 || slices.Contains(scopes, token) {
		return nil
	}
	quoted := make([]string, len(scopes))
	for i, sc := range scopes {
		quoted[i] = "'" + sc + "'"
	}
	return neutronError(http.StatusForbidden, "InvalidScope", "rule:%s requires a scope of [%s], request was made with %s scope.",
		rule, strings.Join(quoted, ", "), token)
}

// policyRefusal is upstream's 403 for rules that do not all allow:
// "(rule:create_port and rule:create_port:mac_address) is disallowed by policy".
func policyRefusal(rules []string) error {
	named := make([]string, len(rules))
	for i, r := range rules {
		named[i] = "rule:" + r
	}
	what := named[0]
	if len(named) > 1 {
		what = "(" + strings.Join(named, " and ") + ")"
	}
	return neutronError(http.StatusForbidden, "PolicyNotAuthorized", "%s is disallowed by policy", what)
}

// hideAttributes removes from a rendered resource the attributes the caller may not
// see: those with a rule "get_<resource>:<attribute>" that does not allow it on the
// resource (upstream's _exclude_attributes_by_policy; binding:host_id, provider:*
// and such are admin's).
func (s *Service) hideAttributes(c caller, resource string, o object, target map[string]any) {
	for attr := range o {
		rule := "get_" + resource + ":" + attr
		if _, ok := s.policy.Rule(rule); ok && !s.allowed(c, rule, target) {
			delete(o, attr)
		}
	}
}
