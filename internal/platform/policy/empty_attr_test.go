package policy

import "testing"

// TestEmptyAttributeMatchesNothing guards the hole where a project-scoped token (no
// domain_id) met a list call without a domain filter (empty target.domain_id).
func TestEmptyAttributeMatchesNothing(t *testing.T) {
	e := NewEnforcer()
	if err := e.Register(map[string]string{"r": "domain_id:%(target.domain_id)s"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		target, creds map[string]any
		want          bool
	}{
		{map[string]any{"target.domain_id": ""}, map[string]any{"domain_id": ""}, false},
		{map[string]any{"target.domain_id": ""}, map[string]any{}, false},
		{map[string]any{"target.domain_id": "d"}, map[string]any{"domain_id": "d"}, true},
		{map[string]any{"target.domain_id": "d"}, map[string]any{"domain_id": "e"}, false},
	}
	for _, tt := range tests {
		if got := e.Allowed("r", tt.target, tt.creds); got != tt.want {
			t.Errorf("target %v creds %v: %v, want %v", tt.target, tt.creds, got, tt.want)
		}
	}
}
