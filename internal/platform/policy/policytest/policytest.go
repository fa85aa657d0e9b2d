// Package policytest holds a service's routes against upstream's default policies:
// for every route and every kind of caller (admin, member and reader of the owning
// project, a member of another project, domain- and system-scoped tokens), the
// outcome of a real request must be what upstream's rule, as upstream's source
// defines it, decides. The expected outcomes come from a file of upstream's
// definitions (check strings and scope types) kept beside the test, never from
// the service's own policy table, so a wrong default, a route wired to the wrong
// rule or a handler that forgets a check all fail.
package policytest

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

// The personas every matrix tries; a service may add its own.
const (
	Admin       = "admin"        // role admin on the owning project
	Member      = "member"       // role member on the owning project
	Reader      = "reader"       // role reader on the owning project
	OtherMember = "other-member" // role member on another project
	DomainAdmin = "domain-admin" // role admin on the owning project's domain, domain-scoped
	SystemAdmin = "system-admin" // role admin on the system, system-scoped
)

// Persona is a caller: a real token and the credentials upstream's rules are
// evaluated against (auth.Credentials.PolicyCredentials of that token).
type Persona struct {
	Name  string
	Token string
	Creds map[string]any
}

// UpstreamRule is one default rule as upstream's source writes it.
type UpstreamRule struct {
	Check  string   `yaml:"check"`
	Scopes []string `yaml:"scope_types"`
}

// LoadUpstream reads upstream's default rules from a YAML file mapping each rule's
// name to its check string and scope types (transcribed from upstream's policy
// modules, e.g. nova/policies/servers.py), into an enforcer of their own.
func LoadUpstream(path string) (*policy.Enforcer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rules map[string]UpstreamRule
	if err := yaml.Unmarshal(data, &rules); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	checks := map[string]string{}
	scopes := map[string][]string{}
	for name, r := range rules {
		checks[name] = r.Check
		if len(r.Scopes) > 0 {
			scopes[name] = r.Scopes
		}
	}
	e := policy.NewEnforcer()
	if err := e.Register(checks); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := e.SetScopeTypes(scopes); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// Case is one route of the matrix.
type Case struct {
	// Route is the route table's "METHOD /pattern".
	Route string
	// Name tells apart the cases of one route (the actions of POST
	// /servers/{id}/action) in the table and in failures; empty: Route.
	Name string
	// Rules are upstream's rules that decide the request: all must allow. None
	// means any authenticated caller (a route upstream checks no rule on).
	Rules []string
	// Target is what the rules are evaluated against: the touched resource's
	// attributes (project_id, user_id, ...), as upstream builds its target.
	Target map[string]any
	// Expect, when set, decides the outcome instead of Rules (for routes whose
	// upstream outcome is not one rule, e.g. a list filtered per item).
	Expect func(p Persona) bool
	// Do makes the request as p (on a fresh resource when it consumes one) and
	// reports whether it was allowed; Allowed turns a status into that.
	Do func(t *testing.T, p Persona) bool
}

// Allowed is the usual reading of a status: 401, 403 and 404 (upstream hides
// another project's resources behind a 404) are refusals, anything else, a
// validation error included, got past the policy.
func Allowed(status int) bool {
	return status != http.StatusUnauthorized && status != http.StatusForbidden && status != http.StatusNotFound
}

// Matrix checks a service.
type Matrix struct {
	Upstream *policy.Enforcer
	Personas []Persona
	// Routes is the service's route table: a route with neither a case nor a
	// place in Skip fails the test, so a new route cannot miss the matrix.
	Routes []httpapi.Route
	// Skip names routes left out, each with its reason.
	Skip map[string]string
}

// Check runs every case for every persona and fails where the outcome is not
// upstream's. It logs the matrix (A allowed, - refused) for reviewers.
func (m Matrix) Check(t *testing.T, cases []Case) {
	t.Helper()
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.Route] = true
		for _, rule := range c.Rules {
			if _, ok := m.Upstream.Rule(rule); !ok {
				t.Errorf("%s: upstream has no rule %q", c.Route, rule)
			}
		}
	}
	var missing []string
	for _, r := range m.Routes {
		key := r.Method + " " + r.Path
		if r.Public || covered[key] {
			continue
		}
		if _, skipped := m.Skip[key]; skipped {
			continue
		}
		missing = append(missing, key)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("routes without a policy case:\n  %s", strings.Join(missing, "\n  "))
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-60s", "route")
	for _, p := range m.Personas {
		fmt.Fprintf(&table, " %-13s", p.Name)
	}
	table.WriteString("\n")
	for _, c := range cases {
		name := c.Route
		if c.Name != "" {
			name += " " + c.Name
		}
		fmt.Fprintf(&table, "%-60s", name)
		for _, p := range m.Personas {
			want := m.expect(c, p)
			got := c.Do(t, p)
			mark := "-"
			if got {
				mark = "A"
			}
			if got != want {
				mark += "!"
				t.Errorf("%s as %s: allowed=%v, upstream's rules %v say %v", name, p.Name, got, c.Rules, want)
			}
			fmt.Fprintf(&table, " %-13s", mark)
		}
		table.WriteString("\n")
	}
	t.Logf("policy matrix (A allowed, - refused, ! differs from upstream):\n%s", table.String())
}

func (m Matrix) expect(c Case, p Persona) bool {
	if c.Expect != nil {
		return c.Expect(p)
	}
	return slices.IndexFunc(c.Rules, func(rule string) bool {
		return !m.Upstream.Allowed(rule, c.Target, p.Creds)
	}) < 0
}
