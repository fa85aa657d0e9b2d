package image

import (
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

// TestDefaultPoliciesAreUpstreams holds the service's defaults to upstream's
// (testdata/upstream-policies.yaml, transcribed from glance/policies/*.py): the
// same rule names, check strings and scope types, none missing, none extra.
func TestDefaultPoliciesAreUpstreams(t *testing.T) {
	data, err := os.ReadFile("testdata/upstream-policies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var upstream map[string]policytest.UpstreamRule
	if err := yaml.Unmarshal(data, &upstream); err != nil {
		t.Fatal(err)
	}
	scopes := scopeTypes()
	for name, rule := range upstream {
		check, ok := defaultPolicies[name]
		if !ok {
			t.Errorf("upstream rule %s is not registered", name)
			continue
		}
		if check != rule.Check {
			t.Errorf("%s: %q, upstream %q", name, check, rule.Check)
		}
		if !slices.Equal(scopes[name], rule.Scopes) {
			t.Errorf("%s: scope types %v, upstream %v", name, scopes[name], rule.Scopes)
		}
	}
	for name := range defaultPolicies {
		if _, ok := upstream[name]; !ok {
			t.Errorf("rule %s is not upstream's", name)
		}
	}
}
