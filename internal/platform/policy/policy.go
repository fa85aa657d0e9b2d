// Package policy evaluates oslo.policy rules: the check-string language
// ("role:admin or (role:reader and system_scope:all)"), named rules, defaults that each
// service registers, and a policy.yaml that overrides them, as upstream services do.
package policy

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Enforcer holds the rules in force.
type Enforcer struct {
	mu     sync.RWMutex
	rules  map[string]check
	text   map[string]string
	scopes map[string][]string
}

// The token scopes oslo.policy's scope_types name.
const (
	ScopeSystem  = "system"
	ScopeDomain  = "domain"
	ScopeProject = "project"
)

// NewEnforcer returns an Enforcer with no rules; unknown rules deny.
func NewEnforcer() *Enforcer {
	return &Enforcer{rules: map[string]check{}, text: map[string]string{}, scopes: map[string][]string{}}
}

// SetScopeTypes records the token scopes each rule accepts (oslo.policy's scope_types),
// enforced as upstream's services do with enforce_scope = True: a token of another
// scope is refused whatever the check string says, so a domain-scoped token never
// reaches an API whose resources belong to projects. A rule without scope types
// accepts every scope. A policy file changes check strings only, as upstream's:
// scope types are the code's.
func (e *Enforcer) SetScopeTypes(scopes map[string][]string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, types := range scopes {
		for _, t := range types {
			if t != ScopeSystem && t != ScopeDomain && t != ScopeProject {
				return fmt.Errorf("policy rule %q: unknown scope type %q", name, t)
			}
		}
		e.scopes[name] = types
	}
	return nil
}

// ScopeTypes returns the token scopes a rule accepts (nil: every scope).
func (e *Enforcer) ScopeTypes(rule string) []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.scopes[rule]
}

// TokenScope is the scope a credentials dictionary stands for: "system", "domain"
// or "project". An unscoped token counts as project-scoped, as oslo.policy's
// _enforce_scope reads it: it then passes the scope check of a project rule and
// holds no role nor project for the check string, so only rules on the user
// itself (a token validating or revoking itself, a user reading its own
// projects) let it through, as upstream.
func TokenScope(creds map[string]any) string {
	switch {
	case str(creds["system_scope"]) == "all":
		return ScopeSystem
	case str(creds["domain_id"]) != "":
		return ScopeDomain
	}
	return ScopeProject
}

// Register adds default rules; it fails on a rule that does not parse, which is a bug.
func (e *Enforcer) Register(defaults map[string]string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, s := range defaults {
		if _, overridden := e.text[name]; overridden {
			continue
		}
		c, err := Parse(s)
		if err != nil {
			return fmt.Errorf("policy rule %q: %w", name, err)
		}
		e.rules[name], e.text[name] = c, s
	}
	return nil
}

// LoadFile applies overrides from a policy.yaml (or JSON) file in oslo.policy syntax.
func (e *Enforcer) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read policy file: %w", err)
	}
	var overrides map[string]string
	if err := yaml.Unmarshal(data, &overrides); err != nil {
		return fmt.Errorf("parse policy file %s: %w", path, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, s := range overrides {
		c, err := Parse(s)
		if err != nil {
			return fmt.Errorf("policy file %s, rule %q: %w", path, name, err)
		}
		e.rules[name], e.text[name] = c, s
	}
	return nil
}

// Rule returns the check string of a rule, for `policy list`-style output.
func (e *Enforcer) Rule(name string) (string, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, ok := e.text[name]
	return s, ok
}

// Allowed evaluates rule for target (the resource's attributes, flat "target.x.y" keys
// or nested maps) and creds (the caller's attributes). A token whose scope is not
// among the rule's scope types is refused first. Rules a check string refers to
// ("rule:admin_only") are evaluated without scope types, as oslo.policy's.
func (e *Enforcer) Allowed(rule string, target, creds map[string]any) bool {
	e.mu.RLock()
	c, ok := e.rules[rule]
	scopes := e.scopes[rule]
	e.mu.RUnlock()
	if !ok {
		return false
	}
	if len(scopes) > 0 && !slices.Contains(scopes, TokenScope(creds)) {
		return false
	}
	ctx := &evalContext{e: e, target: target, creds: creds}
	ok = c.eval(ctx)
	return ok && !ctx.abort
}

type evalContext struct {
	e      *Enforcer
	target map[string]any
	creds  map[string]any
	depth  int
	// active holds the rules being evaluated; memo the results of those already
	// evaluated (rules depend only on target and creds, so each is evaluated once).
	active map[string]bool
	memo   map[string]bool
	// abort is set when a rule cycle or excessive nesting is met: the whole
	// evaluation then denies, whatever "not" or "or" around the cycle would say.
	abort bool
}

func (ctx *evalContext) rule(name string) bool {
	if ctx.abort {
		return false
	}
	if v, ok := ctx.memo[name]; ok {
		return v
	}
	// a rule cycle in a policy file must not hang requests, nor grant access
	if ctx.depth > 32 || ctx.active[name] {
		ctx.abort = true
		return false
	}
	ctx.e.mu.RLock()
	c, ok := ctx.e.rules[name]
	ctx.e.mu.RUnlock()
	if !ok {
		return false
	}
	if ctx.active == nil {
		ctx.active, ctx.memo = map[string]bool{}, map[string]bool{}
	}
	ctx.depth++
	ctx.active[name] = true
	v := c.eval(ctx)
	delete(ctx.active, name)
	ctx.depth--
	if !ctx.abort {
		ctx.memo[name] = v
	}
	return v
}

// lookup finds key in m, first as a flat key, then by walking dotted path segments.
func lookup(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	var cur any = m
	for _, part := range strings.Split(key, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
