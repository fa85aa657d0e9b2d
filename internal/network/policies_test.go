package network

import (
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

const upstreamPolicies = "testdata/upstream-policies.yaml"

// TestDefaultPoliciesAreUpstreams holds the default rules to upstream's definitions:
// every rule Nimbus registers has upstream's check string and scope types.
func TestDefaultPoliciesAreUpstreams(t *testing.T) {
	upstream, err := policytest.LoadUpstream(upstreamPolicies)
	if err != nil {
		t.Fatal(err)
	}
	ours := policy.NewEnforcer()
	if err := registerPolicies(ours); err != nil {
		t.Fatal(err)
	}
	for _, rules := range []map[string]string{baseRules, defaultPolicies} {
		for name, check := range rules {
			want, ok := upstream.Rule(name)
			if !ok {
				t.Errorf("%s: upstream has no such rule", name)
				continue
			}
			if check != want {
				t.Errorf("%s:\n  ours     %q\n  upstream %q", name, check, want)
			}
			if got, want := ours.ScopeTypes(name), upstream.ScopeTypes(name); !slices.Equal(got, want) {
				t.Errorf("%s: scope types %v, upstream %v", name, got, want)
			}
		}
	}
}

// TestAttributeRules: the rules a body brings in, as upstream's _build_match_rule
// builds them.
func TestAttributeRules(t *testing.T) {
	for _, tc := range []struct {
		name     string
		resource string
		action   string
		attrs    map[string]any
		creating bool
		want     []string
	}{
		{"plain attributes bring none", "port", "create_port", map[string]any{"name": "x", "admin_state_up": true}, true, nil},
		{"addresses by subnet and address", "port", "create_port",
			map[string]any{"fixed_ips": []any{map[string]any{"subnet_id": "s"}, map[string]any{"ip_address": "10.0.0.2"}}}, true,
			[]string{"create_port:fixed_ips", "create_port:fixed_ips:ip_address", "create_port:fixed_ips:subnet_id"}},
		{"address pairs", "port", "update_port",
			map[string]any{"allowed_address_pairs": []any{map[string]any{"ip_address": "0.0.0.0/0", "mac_address": "fa:16:3e:00:00:01"}}}, false,
			[]string{"update_port:allowed_address_pairs", "update_port:allowed_address_pairs:ip_address", "update_port:allowed_address_pairs:mac_address"}},
		{"a default device owner on create", "port", "create_port", map[string]any{"device_owner": "", "device_id": ""}, true, nil},
		{"a device owner on update", "port", "update_port", map[string]any{"device_owner": ""}, false, []string{"update_port:device_owner"}},
		{"a MAC of null", "port", "create_port", map[string]any{"mac_address": nil}, true, []string{"create_port:mac_address"}},
		{"binding profile keys are not policed", "port", "create_port", map[string]any{"binding:profile": map[string]any{"a": 1}}, true,
			[]string{"create_port:binding:profile"}},
		{"shared false on create", "network", "create_network", map[string]any{"shared": "False", "router:external": false}, true, nil},
		{"shared false on update", "network", "update_network", map[string]any{"shared": false}, false, []string{"update_network:shared"}},
		{"port security on by default", "network", "create_network", map[string]any{"port_security_enabled": true}, true, nil},
		{"gateway keys", "router", "create_router",
			map[string]any{"external_gateway_info": map[string]any{"network_id": "n", "enable_snat": false, "other": 1}}, true,
			[]string{"create_router:external_gateway_info", "create_router:external_gateway_info:enable_snat",
				"create_router:external_gateway_info:network_id"}},
		{"no gateway on create", "router", "create_router", map[string]any{"external_gateway_info": nil}, true, nil},
		{"a floating address", "floatingip", "create_floatingip", map[string]any{"floating_ip_address": "172.24.4.2"}, true,
			[]string{"create_floatingip:floating_ip_address"}},
		{"an unknown resource", "agent", "update_agent", map[string]any{"admin_state_up": false}, false, nil},
	} {
		got := attributeRules(tc.resource, tc.action, tc.attrs, tc.creating)
		if !slices.Equal(got, tc.want) && len(got)+len(tc.want) > 0 {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
