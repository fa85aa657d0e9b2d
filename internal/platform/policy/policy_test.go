package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// eval parses s and evaluates it against target and creds with an enforcer holding rules.
func eval(t *testing.T, e *Enforcer, s string, target, creds map[string]any) bool {
	t.Helper()
	c, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	if e == nil {
		e = NewEnforcer()
	}
	return c.eval(&evalContext{e: e, target: target, creds: creds})
}

func TestParseAndEvaluate(t *testing.T) {
	admin := map[string]any{"roles": []string{"admin"}, "user_id": "u1", "project_id": "p1", "system_scope": ""}
	reader := map[string]any{"roles": []string{"reader"}, "user_id": "u2", "project_id": "p1", "domain_id": "d1", "system_scope": ""}
	sysReader := map[string]any{"roles": []string{"reader"}, "user_id": "u3", "system_scope": "all"}
	member := map[string]any{"roles": []string{"member", "reader"}, "user_id": "u4", "project_id": "p2"}
	nobody := map[string]any{}

	rules := NewEnforcer()
	if err := rules.Register(map[string]string{
		"admin_required":    "role:admin or is_admin:1",
		"owner":             "user_id:%(target.user.id)s",
		"admin_or_owner":    "rule:admin_required or rule:owner",
		"chain3":            "rule:admin_or_owner",
		"deny_all":          "!",
		"allow_all":         "@",
		"allow_empty":       "",
		"project_member":    "role:member and project_id:%(target.project_id)s",
		"not_project_owner": "not rule:project_member",
	}); err != nil {
		t.Fatal(err)
	}

	const complex = "(role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s) or rule:admin_required"

	tests := []struct {
		name   string
		rule   string
		target map[string]any
		creds  map[string]any
		want   bool
	}{
		{"at allows", "@", nil, nobody, true},
		{"bang denies", "!", nil, admin, false},
		{"empty allows", "", nil, nobody, true},
		{"whitespace allows", "   ", nil, nobody, true},
		{"role match", "role:admin", nil, admin, true},
		{"role case-insensitive", "role:ADMIN", nil, admin, true},
		{"role mismatch", "role:admin", nil, reader, false},
		{"role no roles", "role:admin", nil, nobody, false},
		{"role from target", "role:%(target.role)s", map[string]any{"target.role": "reader"}, reader, true},
		{"role from missing target", "role:%(target.role)s", nil, reader, false},
		{"rule admin via role", "rule:admin_required", nil, admin, true},
		{"rule admin denies reader", "rule:admin_required", nil, reader, false},
		{"rule unknown denies", "rule:does_not_exist", nil, admin, false},
		{"rule chain owner", "rule:chain3", map[string]any{"target.user.id": "u2"}, reader, true},
		{"rule chain not owner", "rule:chain3", map[string]any{"target.user.id": "u1"}, reader, false},
		{"rule chain admin", "rule:chain3", map[string]any{"target.user.id": "zzz"}, admin, true},
		{"rule deny_all", "rule:deny_all", nil, admin, false},
		{"rule allow_all", "rule:allow_all", nil, nobody, true},
		{"rule allow_empty", "rule:allow_empty", nil, nobody, true},
		{"rule of not", "rule:not_project_owner", map[string]any{"target.project_id": "p2"}, member, false},
		{"rule of not other project", "rule:not_project_owner", map[string]any{"target.project_id": "p1"}, member, true},

		// precedence: not > and > or
		{"and binds tighter than or (left)", "role:admin or role:reader and role:member", nil, admin, true},
		{"and binds tighter than or (false)", "role:nope or role:reader and role:member", nil, reader, false},
		{"and binds tighter than or (true)", "role:nope or role:reader and role:member", nil, member, true},
		{"or of and, first false", "role:member and role:admin or role:reader", nil, reader, true},
		{"not binds tighter than and", "not role:admin and role:reader", nil, reader, true},
		{"not binds tighter than and (admin)", "not role:admin and role:reader", nil, admin, false},
		{"not binds tighter than or", "not role:reader or role:admin", nil, reader, false},
		{"not of group", "not (role:reader or role:admin)", nil, reader, false},
		{"not of group none", "not (role:reader or role:admin)", nil, nobody, true},
		{"double not", "not not role:reader", nil, reader, true},
		{"group changes precedence", "(role:nope or role:reader) and role:member", nil, reader, false},
		{"group changes precedence member", "(role:nope or role:reader) and role:member", nil, member, true},
		{"upper-case operators", "role:nope OR role:reader AND NOT role:admin", nil, reader, true},
		{"at and bang combined", "@ and !", nil, admin, false},
		{"at or bang", "! or @", nil, nobody, true},
		{"nested parens", "((role:reader))", nil, reader, true},

		// the keystone-style complex rule
		{"complex system reader", complex, nil, sysReader, true},
		{"complex domain reader match", complex, map[string]any{"target.domain_id": "d1"}, reader, true},
		{"complex domain reader mismatch", complex, map[string]any{"target.domain_id": "d2"}, reader, false},
		{"complex domain reader missing target", complex, nil, reader, false},
		{"complex admin", complex, nil, admin, true},
		{"complex member without reader", complex, map[string]any{"target.domain_id": "d1"}, map[string]any{"roles": []string{"member"}, "domain_id": "d1"}, false},

		// target substitution: flat and nested
		{"flat target key", "user_id:%(target.user.id)s", map[string]any{"target.user.id": "u2"}, reader, true},
		{"flat target key mismatch", "user_id:%(target.user.id)s", map[string]any{"target.user.id": "u1"}, reader, false},
		{"nested target map", "user_id:%(target.user.id)s", map[string]any{"target": map[string]any{"user": map[string]any{"id": "u2"}}}, reader, true},
		{"nested target map mismatch", "user_id:%(target.user.id)s", map[string]any{"target": map[string]any{"user": map[string]any{"id": "u9"}}}, reader, false},
		{"partially nested target", "user_id:%(target.user.id)s", map[string]any{"target": map[string]any{"user.id": "u2"}}, reader, false},
		{"missing target key denies", "user_id:%(target.user.id)s", map[string]any{}, reader, false},
		{"nil target denies", "user_id:%(target.user.id)s", nil, reader, false},
		{"nil target value denies", "user_id:%(target.user.id)s", map[string]any{"target.user.id": nil}, map[string]any{"user_id": ""}, false},
		{"target path through non-map denies", "user_id:%(target.user.id)s", map[string]any{"target": map[string]any{"user": "u2"}}, reader, false},
		{"missing cred attribute denies", "user_id:%(target.user.id)s", map[string]any{"target.user.id": "u2"}, nobody, false},
		{"missing cred does not equal empty target", "project_id:%(target.project_id)s", map[string]any{"target.project_id": ""}, nobody, false},
		{"constant right side", "system_scope:all", nil, sysReader, true},
		{"constant right side mismatch", "system_scope:all", nil, reader, false},
		{"list-valued cred", "roles:member", nil, member, true},
		{"list-valued cred mismatch", "roles:admin", nil, member, false},

		// is_admin style bool credentials
		{"is_admin:1 true", "is_admin:1", nil, map[string]any{"is_admin": true}, true},
		{"is_admin:1 false", "is_admin:1", nil, map[string]any{"is_admin": false}, false},
		{"is_admin:True true", "is_admin:True", nil, map[string]any{"is_admin": true}, true},
		{"is_admin:true true", "is_admin:true", nil, map[string]any{"is_admin": true}, true},
		{"is_admin:True false", "is_admin:True", nil, map[string]any{"is_admin": false}, false},
		{"is_admin:False false", "is_admin:False", nil, map[string]any{"is_admin": false}, true},
		{"is_admin:0 false", "is_admin:0", nil, map[string]any{"is_admin": false}, true},
		{"is_admin:0 true", "is_admin:0", nil, map[string]any{"is_admin": true}, false},
		{"is_admin missing", "is_admin:1", nil, nobody, false},
		{"is_admin_project:True", "is_admin_project:True", nil, map[string]any{"is_admin_project": true}, true},
		{"is_admin via rule", "rule:admin_required", nil, map[string]any{"is_admin": true}, true},
		{"int credential", "level:3", nil, map[string]any{"level": 3}, true},

		// quoted / constant left side compares to the substituted right side
		{"quoted literal match", "'member':%(target.role.name)s", map[string]any{"target.role.name": "member"}, nobody, true},
		{"quoted literal mismatch", "'member':%(target.role.name)s", map[string]any{"target.role.name": "admin"}, nobody, false},
		{"quoted literal missing target", "'member':%(target.role.name)s", nil, nobody, false},
		{"double-quoted literal", `"member":%(target.role.name)s`, map[string]any{"target": map[string]any{"role": map[string]any{"name": "member"}}}, nobody, true},
		{"quoted literal is not a cred lookup", "'user_id':u2", nil, reader, false},
		{"True literal with bool target", "True:%(target.enabled)s", map[string]any{"target.enabled": true}, nobody, true},
		{"True literal with false target", "True:%(target.enabled)s", map[string]any{"target.enabled": false}, nobody, false},
		{"None literal with a target value of nil", "None:%(target.role.domain_id)s", map[string]any{"target.role.domain_id": nil}, nobody, true},
		{"None literal with a target value", "None:%(target.role.domain_id)s", map[string]any{"target.role.domain_id": "d1"}, nobody, false},
		{"None literal with no target value", "None:%(target.role.domain_id)s", nil, nobody, false},
		{"not None with a target value", "not None:%(target.project.domain_id)s", map[string]any{"target.project.domain_id": "d1"}, nobody, true},
		{"not None with nil", "not None:%(target.project.domain_id)s", map[string]any{"target.project.domain_id": nil}, nobody, false},
		{"nil renders None, never a cred's value", "domain_id:%(target.domain_id)s", map[string]any{"target.domain_id": nil}, map[string]any{"domain_id": "d1"}, false},
		{"an attribute the token lacks is None", "not domain_id:None", nil, map[string]any{"domain_id": "d1"}, true},
		{"an attribute the token lacks is None (empty)", "not domain_id:None", nil, map[string]any{"domain_id": ""}, false},
		{"an attribute the token lacks is None (absent)", "domain_id:None", nil, nobody, true},
		{"multiple substitutions", "user_id:%(target.a)s%(target.b)s", map[string]any{"target.a": "u", "target.b": "2"}, reader, true},
		{"one of multiple substitutions missing", "user_id:%(target.a)s%(target.b)s", map[string]any{"target.a": "u2"}, reader, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := eval(t, rules, tc.rule, tc.target, tc.creds); got != tc.want {
				t.Errorf("eval(%q, target=%v, creds=%v) = %v, want %v", tc.rule, tc.target, tc.creds, got, tc.want)
			}
		})
	}
}

func TestParseStructure(t *testing.T) {
	tests := []struct {
		in   string
		want string // %T-ish shape rendered by shape()
	}{
		{"@", "true"},
		{"!", "false"},
		{"", "true"},
		{"role:admin", "role(admin)"},
		{"rule:x", "rule(x)"},
		{"user_id:%(target.user.id)s", "generic(user_id,%(target.user.id)s)"},
		{"a:1 or b:2 and c:3", "or[generic(a,1) and[generic(b,2) generic(c,3)]]"},
		{"a:1 and b:2 or c:3", "or[and[generic(a,1) generic(b,2)] generic(c,3)]"},
		{"not a:1 and b:2", "and[not(generic(a,1)) generic(b,2)]"},
		{"not (a:1 and b:2)", "not(and[generic(a,1) generic(b,2)])"},
		{"(a:1 or b:2) and c:3", "and[or[generic(a,1) generic(b,2)] generic(c,3)]"},
		{"a:1 or b:2 or c:3", "or[generic(a,1) generic(b,2) generic(c,3)]"},
		{"(x:%(target.y)s)", "generic(x,%(target.y)s)"},
		{"((x:%(target.y)s) or @)", "or[generic(x,%(target.y)s) true]"},
		{"  role:a   and\trole:b\n", "and[role(a) role(b)]"},
		{"kind:with:colons", "generic(kind,with:colons)"},
		{"kind:", "generic(kind,)"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			c, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got := shape(c); got != tc.want {
				t.Errorf("Parse(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func shape(c check) string {
	switch x := c.(type) {
	case constCheck:
		if x {
			return "true"
		}
		return "false"
	case roleCheck:
		return "role(" + string(x) + ")"
	case ruleCheck:
		return "rule(" + string(x) + ")"
	case genericCheck:
		return "generic(" + x.kind + "," + x.match + ")"
	case notCheck:
		return "not(" + shape(x.c) + ")"
	case andCheck:
		parts := make([]string, len(x))
		for i, y := range x {
			parts[i] = shape(y)
		}
		return "and[" + strings.Join(parts, " ") + "]"
	case orCheck:
		parts := make([]string, len(x))
		for i, y := range x {
			parts[i] = shape(y)
		}
		return "or[" + strings.Join(parts, " ") + "]"
	}
	return "?"
}

func TestParseRejectsMalformed(t *testing.T) {
	for _, s := range []string{
		"foo",
		"role:admin or foo",
		"(role:admin",
		"((role:admin)",
		"role:admin)",
		"(role:admin))",
		")",
		"(",
		"()",
		"role:a and",
		"or role:a",
		"role:a or",
		"and",
		"not",
		"role:a role:b",
		"role:a and and role:b",
		":value",
		"(role:a) (role:b)",
		"@ @",
	} {
		t.Run(s, func(t *testing.T) {
			if c, err := Parse(s); err == nil {
				t.Errorf("Parse(%q) = %s, want error", s, shape(c))
			}
		})
	}
}

func TestEnforcerUnknownRuleDenies(t *testing.T) {
	e := NewEnforcer()
	if e.Allowed("nothing", nil, map[string]any{"roles": []string{"admin"}}) {
		t.Fatal("unknown rule allowed")
	}
	if _, ok := e.Rule("nothing"); ok {
		t.Fatal("Rule reports an unknown rule")
	}
}

func TestRegisterRejectsBadDefault(t *testing.T) {
	e := NewEnforcer()
	if err := e.Register(map[string]string{"bad": "(role:admin"}); err == nil {
		t.Fatal("Register accepted an unparsable rule")
	}
	if e.Allowed("bad", nil, map[string]any{"roles": []string{"admin"}}) {
		t.Fatal("unparsable rule is in force")
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRuleCycleDenies(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		{"two-rule cycle", "a: rule:b\nb: rule:a\n"},
		{"self reference", "a: rule:a\n"},
		{"cycle under not", "a: not rule:b\nb: rule:a\n"},
		{"cycle under or", "a: rule:b or role:nope\nb: rule:a\n"},
		// Each level doubles the work if rules are re-evaluated blindly; this must
		// still answer promptly.
		{"branching cycle", "a: rule:b or rule:b or rule:b\nb: rule:a or rule:a or rule:a\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEnforcer()
			if err := e.LoadFile(writeFile(t, "policy.yaml", tc.yaml)); err != nil {
				t.Fatal(err)
			}
			done := make(chan bool, 1)
			go func() { done <- e.Allowed("a", nil, map[string]any{"roles": []string{"admin"}}) }()
			select {
			case got := <-done:
				if got {
					t.Error("cyclic rule allowed")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("evaluating a rule cycle did not terminate")
			}
		})
	}
}

func TestDeepRuleDAGIsFast(t *testing.T) {
	// r0 -> r1 (twice) -> r2 (twice) ... : no cycle, but 2^30 paths.
	var b strings.Builder
	const n = 30
	for i := 0; i < n; i++ {
		b.WriteString("r" + itoa(i) + ": rule:r" + itoa(i+1) + " and rule:r" + itoa(i+1) + "\n")
	}
	b.WriteString("r" + itoa(n) + ": role:admin\n")
	e := NewEnforcer()
	if err := e.LoadFile(writeFile(t, "policy.yaml", b.String())); err != nil {
		t.Fatal(err)
	}
	if !e.Allowed("r"+itoa(n-5), nil, map[string]any{"roles": []string{"admin"}}) {
		t.Fatal("short chain denied")
	}
	done := make(chan [2]bool, 1)
	go func() {
		done <- [2]bool{
			e.Allowed("r0", nil, map[string]any{"roles": []string{"admin"}}),
			e.Allowed("r0", nil, map[string]any{"roles": []string{"reader"}}),
		}
	}()
	select {
	case got := <-done:
		if !got[0] || got[1] {
			t.Fatalf("Allowed(r0) admin=%v reader=%v, want true false", got[0], got[1])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("evaluating a deep rule DAG did not terminate promptly")
	}
}

func TestTooDeepRuleChainDenies(t *testing.T) {
	var b strings.Builder
	const n = 40
	for i := 0; i < n; i++ {
		b.WriteString("r" + itoa(i) + ": not not rule:r" + itoa(i+1) + "\n")
	}
	b.WriteString("r" + itoa(n) + ": role:admin\n")
	e := NewEnforcer()
	if err := e.LoadFile(writeFile(t, "policy.yaml", b.String())); err != nil {
		t.Fatal(err)
	}
	for _, roles := range [][]string{{"admin"}, {"reader"}} {
		if e.Allowed("r0", nil, map[string]any{"roles": roles}) {
			t.Errorf("roles %v: over-deep chain allowed", roles)
		}
	}
	if !e.Allowed("r20", nil, map[string]any{"roles": []string{"admin"}}) {
		t.Error("chain of 20 denied")
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var d []byte
	for ; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return string(d)
}

func TestLoadFileOverridesAndRegister(t *testing.T) {
	e := NewEnforcer()
	if err := e.Register(map[string]string{
		"identity:get_user":  "role:admin",
		"identity:list_user": "role:admin",
	}); err != nil {
		t.Fatal(err)
	}
	reader := map[string]any{"roles": []string{"reader"}}
	admin := map[string]any{"roles": []string{"admin"}}
	if e.Allowed("identity:get_user", nil, reader) {
		t.Fatal("default should deny reader")
	}

	p := writeFile(t, "policy.yaml", `
# operator overrides
"identity:get_user": "role:reader or role:admin"
"custom:rule": "rule:identity:get_user and not role:admin"
`)
	if err := e.LoadFile(p); err != nil {
		t.Fatal(err)
	}
	if !e.Allowed("identity:get_user", nil, reader) || !e.Allowed("identity:get_user", nil, admin) {
		t.Fatal("override not in force")
	}
	if s, _ := e.Rule("identity:get_user"); s != "role:reader or role:admin" {
		t.Fatalf("Rule text = %q", s)
	}
	if e.Allowed("identity:list_user", nil, reader) || !e.Allowed("identity:list_user", nil, admin) {
		t.Fatal("non-overridden default changed")
	}
	if !e.Allowed("custom:rule", nil, reader) || e.Allowed("custom:rule", nil, admin) {
		t.Fatal("custom rule from file not evaluated")
	}

	// A service registering its defaults after the file was loaded must not clobber
	// the operator's override, but does add new defaults.
	if err := e.Register(map[string]string{
		"identity:get_user":    "!",
		"identity:delete_user": "role:admin",
	}); err != nil {
		t.Fatal(err)
	}
	if !e.Allowed("identity:get_user", nil, reader) {
		t.Fatal("Register clobbered an override")
	}
	if s, _ := e.Rule("identity:get_user"); s != "role:reader or role:admin" {
		t.Fatalf("Rule text after Register = %q", s)
	}
	if !e.Allowed("identity:delete_user", nil, admin) || e.Allowed("identity:delete_user", nil, reader) {
		t.Fatal("new default not registered")
	}

	// JSON is YAML too.
	if err := e.LoadFile(writeFile(t, "policy.json", `{"identity:delete_user": "@"}`)); err != nil {
		t.Fatal(err)
	}
	if !e.Allowed("identity:delete_user", nil, reader) {
		t.Fatal("JSON override not in force")
	}
}

func TestLoadFileErrors(t *testing.T) {
	e := NewEnforcer()
	if err := e.LoadFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
	if err := e.LoadFile(writeFile(t, "bad.yaml", "a: [unterminated\n")); err == nil {
		t.Error("bad YAML accepted")
	}
	if err := e.LoadFile(writeFile(t, "badrule.yaml", "a: \"(role:admin\"\n")); err == nil {
		t.Error("unparsable rule accepted")
	}
	if err := e.LoadFile(writeFile(t, "empty.yaml", "")); err != nil {
		t.Errorf("empty file: %v", err)
	}
}

func TestAllowedWithNestedTarget(t *testing.T) {
	e := NewEnforcer()
	if err := e.Register(map[string]string{
		"owner": "user_id:%(target.user.id)s or project_id:%(target.project.id)s",
	}); err != nil {
		t.Fatal(err)
	}
	creds := map[string]any{"user_id": "u1", "project_id": "p1"}
	for _, tc := range []struct {
		target map[string]any
		want   bool
	}{
		{map[string]any{"target.user.id": "u1"}, true},
		{map[string]any{"target": map[string]any{"project": map[string]any{"id": "p1"}}}, true},
		{map[string]any{"target": map[string]any{"project": map[string]any{"id": "p2"}}}, false},
		{map[string]any{"target.user.id": "u2", "target.project.id": "p2"}, false},
		{nil, false},
	} {
		if got := e.Allowed("owner", tc.target, creds); got != tc.want {
			t.Errorf("Allowed(owner, %v) = %v, want %v", tc.target, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "@", "!", "role:admin", "rule:x", "not role:a", "a:1 and b:2 or c:3",
		"(role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s) or rule:admin_required",
		"'member':%(target.role.name)s", "is_admin:1", "((", "))", "%(", ")s", "not not not", "(a:%(b)s)s)",
		"role:%(target.x)s%(y)s", "\"\":x", "'':%()s",
		"field:networks:shared=True", "not field:port:device_owner=~^network:", "field:port:x=~(", "field:a:=b",
		"project_id:%(network:project_id)s",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse(%q) returned a check with an error", s)
			}
			return
		}
		if c == nil {
			t.Fatalf("Parse(%q) returned nil check and nil error", s)
		}
		e := NewEnforcer()
		e.rules["x"] = c // allow the rule to refer to itself
		ctx := &evalContext{e: e, target: map[string]any{}, creds: map[string]any{}}
		_ = c.eval(ctx)
		_ = c.eval(&evalContext{e: e, target: map[string]any{"shared": true, "device_owner": "network:dhcp", "x": 1},
			creds: map[string]any{}})
		_ = e.Allowed("x", map[string]any{}, map[string]any{})
		_ = e.Allowed("x", nil, nil)
	})
}

func TestScopeTypes(t *testing.T) {
	e := NewEnforcer()
	if err := e.Register(map[string]string{
		"project_only": "role:reader",
		"any_scope":    "role:reader",
		"system_admin": "role:admin",
		"nested":       "rule:project_only",
		"own":          "user_id:%(user_id)s",
		"system_own":   "user_id:%(user_id)s",
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.SetScopeTypes(map[string][]string{
		"project_only": {ScopeProject},
		"system_admin": {ScopeSystem, ScopeProject},
		"own":          {ScopeProject},
		"system_own":   {ScopeSystem},
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.SetScopeTypes(map[string][]string{"x": {"tenant"}}); err == nil {
		t.Fatal("SetScopeTypes accepted an unknown scope type")
	}
	project := map[string]any{"roles": []string{"reader", "admin"}, "project_id": "p1", "domain_id": "", "system_scope": ""}
	domain := map[string]any{"roles": []string{"reader", "admin"}, "project_id": "", "domain_id": "d1", "system_scope": ""}
	system := map[string]any{"roles": []string{"reader", "admin"}, "project_id": "", "domain_id": "", "system_scope": "all"}
	unscoped := map[string]any{"roles": []string{}, "user_id": "u1", "project_id": "", "domain_id": "", "system_scope": ""}
	tests := []struct {
		rule  string
		creds map[string]any
		want  bool
	}{
		{"project_only", project, true},
		{"project_only", domain, false},
		{"project_only", system, false},
		// oslo.policy takes an unscoped token for a project-scoped one; it holds
		// no role, so only rules on its user pass.
		{"project_only", unscoped, false},
		{"own", unscoped, true},
		{"system_own", unscoped, false},
		{"any_scope", domain, true},
		{"any_scope", system, true},
		{"system_admin", system, true},
		{"system_admin", project, true},
		{"system_admin", domain, false},
		// scope types apply to the rule enforced, not to the rules it refers to
		{"nested", domain, true},
	}
	for _, tt := range tests {
		if got := e.Allowed(tt.rule, map[string]any{"user_id": "u1"}, tt.creds); got != tt.want {
			t.Errorf("Allowed(%s, %s scope) = %v, want %v", tt.rule, TokenScope(tt.creds), got, tt.want)
		}
	}
}
