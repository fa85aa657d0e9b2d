package policy

import "testing"

// TestFieldCheck covers Neutron's field check (neutron/policy.py FieldCheck):
// "field:<resource>:<attribute>=<value>" holds when the target's attribute has that
// value, booleans by their truth; a value starting with "~" is a regular expression.
func TestFieldCheck(t *testing.T) {
	e := NewEnforcer()
	if err := e.Register(map[string]string{
		"shared":         "field:networks:shared=True",
		"external":       "field:networks:router:external=True",
		"network_device": "field:port:device_owner=~^network:",
		"named":          "field:networks:name=public",
		"unanchored":     "field:port:device_owner=~network:",
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rule   string
		target map[string]any
		want   bool
	}{
		{"shared", map[string]any{"shared": true}, true},
		{"shared", map[string]any{"shared": false}, false},
		{"shared", map[string]any{"shared": "True"}, true},
		{"shared", map[string]any{}, false},
		{"shared", map[string]any{"shared": nil}, false},
		{"external", map[string]any{"router:external": true}, true},
		{"external", map[string]any{"router:external": false, "shared": true}, false},
		{"network_device", map[string]any{"device_owner": "network:dhcp"}, true},
		{"network_device", map[string]any{"device_owner": "compute:nova"}, false},
		{"network_device", map[string]any{"device_owner": ""}, false},
		{"network_device", map[string]any{"device_owner": "xnetwork:"}, false},
		{"network_device", map[string]any{}, false},
		{"unanchored", map[string]any{"device_owner": "xnetwork:"}, false}, // re.match: from the start
		{"unanchored", map[string]any{"device_owner": "network:x"}, true},
		{"named", map[string]any{"name": "public"}, true},
		{"named", map[string]any{"name": "Public"}, false},
	}
	for _, tt := range tests {
		if got := e.Allowed(tt.rule, tt.target, map[string]any{}); got != tt.want {
			t.Errorf("%s on %v: %v, want %v", tt.rule, tt.target, got, tt.want)
		}
	}
	// "not" of a field check, as Neutron's create_port:device_owner uses it.
	if err := e.Register(map[string]string{"not_device": "not rule:network_device or role:admin"}); err != nil {
		t.Fatal(err)
	}
	if e.Allowed("not_device", map[string]any{"device_owner": "network:router_interface"}, map[string]any{"roles": []string{"member"}}) {
		t.Error("a member set a network: device owner")
	}
	for _, bad := range []string{"field:networks", "field:networks:shared", "field:port:device_owner=~("} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted a malformed field check", bad)
		}
	}
}
