package policy

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

type check interface {
	eval(*evalContext) bool
}

type constCheck bool
type andCheck []check
type orCheck []check
type notCheck struct{ c check }
type ruleCheck string
type roleCheck string // role:<name or %(target)s>
type genericCheck struct{ kind, match string }

// fieldCheck is Neutron's "field:<resource>:<attribute>=<value>" (neutron/policy.py
// FieldCheck): the target's attribute has the value, or matches the regular
// expression of a value written "~<expression>".
type fieldCheck struct {
	attr, value string
	regex       *regexp.Regexp
}

func (c constCheck) eval(*evalContext) bool { return bool(c) }
func (c andCheck) eval(ctx *evalContext) bool {
	for _, x := range c {
		if !x.eval(ctx) {
			return false
		}
	}
	return true
}
func (c orCheck) eval(ctx *evalContext) bool {
	for _, x := range c {
		if x.eval(ctx) {
			return true
		}
	}
	return false
}
func (c notCheck) eval(ctx *evalContext) bool  { return !c.c.eval(ctx) }
func (c ruleCheck) eval(ctx *evalContext) bool { return ctx.rule(string(c)) }

func (c roleCheck) eval(ctx *evalContext) bool {
	want, ok := substitute(string(c), ctx.target)
	if !ok {
		return false
	}
	roles, _ := ctx.creds["roles"].([]string)
	for _, r := range roles {
		if strings.EqualFold(r, want) {
			return true
		}
	}
	return false
}

// eval follows oslo.policy's GenericCheck: the right side is substituted from the
// target; a quoted or constant left side is compared to it, otherwise the left side
// names a credential attribute.
func (c genericCheck) eval(ctx *evalContext) bool {
	match, ok := substitute(c.match, ctx.target)
	if !ok {
		return false
	}
	if lit, isLit := literal(c.kind); isLit {
		return lit == match
	}
	v, ok := lookup(ctx.creds, c.kind)
	// An absent or empty attribute matches nothing: a project-scoped token has no
	// domain_id, and must not match a target whose domain_id is empty too. Only
	// a rule's constant None matches it, as oslo.policy compares str(None) for
	// the attributes a token lacks ("not domain_id:None": a domain-scoped token);
	// a target value that renders None does not.
	if !ok || v == nil || v == "" {
		return c.match == "None"
	}
	if list, isList := v.([]string); isList {
		for _, x := range list {
			if x == match {
				return true
			}
		}
		return false
	}
	s := str(v)
	if b, isBool := v.(bool); isBool { // is_admin:1 / is_admin_project:True
		return (b && (match == "True" || match == "true" || match == "1")) ||
			(!b && (match == "False" || match == "false" || match == "0"))
	}
	return s == match
}

func (c fieldCheck) eval(ctx *evalContext) bool {
	v, ok := lookup(ctx.target, c.attr)
	if !ok || v == nil {
		return false
	}
	if c.regex != nil {
		return c.regex.MatchString(str(v))
	}
	if b, isBool := v.(bool); isBool { // upstream converts "True" as the attribute's type
		want, err := strconv.ParseBool(c.value)
		return err == nil && b == want
	}
	return str(v) == c.value
}

func parseFieldCheck(match string) (check, error) {
	_, spec, ok := strings.Cut(match, ":")
	attr, value, hasValue := strings.Cut(spec, "=")
	if !ok || !hasValue || attr == "" {
		return nil, fmt.Errorf("malformed field check %q: want field:<resource>:<attribute>=<value>", "field:"+match)
	}
	c := fieldCheck{attr: attr, value: value}
	if expr, isRegex := strings.CutPrefix(value, "~"); isRegex {
		// Python's re.match, which upstream uses, anchors at the start.
		re, err := regexp.Compile(`^(?:` + expr + `)`)
		if err != nil {
			return nil, fmt.Errorf("field check %q: %w", "field:"+match, err)
		}
		c.regex = re
	}
	return c, nil
}

func literal(kind string) (string, bool) {
	if len(kind) >= 2 && (kind[0] == '\'' || kind[0] == '"') && kind[len(kind)-1] == kind[0] {
		return kind[1 : len(kind)-1], true
	}
	switch kind {
	case "True", "False", "None": // Python constants, as oslo.policy reads them
		return kind, true
	}
	return "", false
}

var substRE = regexp.MustCompile(`%\(([^)]+)\)s`)

// substitute expands %(key)s from target; a missing key fails the check, as
// upstream. A key present with no value (nil) reads "None", as Python's %
// formatting renders it: Keystone's "None:%(target.role.domain_id)s" holds for a
// global role, and "not None:%(target.project.domain_id)s" keeps a check from
// matching a target without a domain.
func substitute(s string, target map[string]any) (string, bool) {
	if !strings.Contains(s, "%(") {
		return s, true
	}
	ok := true
	out := substRE.ReplaceAllStringFunc(s, func(m string) string {
		key := substRE.FindStringSubmatch(m)[1]
		v, found := lookup(target, key)
		if !found {
			ok = false
			return ""
		}
		if v == nil {
			return "None"
		}
		return str(v)
	})
	return out, ok
}

// Parse compiles an oslo.policy check string.
func Parse(s string) (check, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return constCheck(true), nil
	}
	p := &parser{toks: tokenize(s)}
	c, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q in %q", p.toks[p.pos], s)
	}
	return c, nil
}

func tokenize(s string) []string {
	var toks []string
	for _, f := range strings.Fields(s) {
		for strings.HasPrefix(f, "(") {
			toks = append(toks, "(")
			f = f[1:]
		}
		var closing int
		for strings.HasSuffix(f, ")") && !strings.HasSuffix(f, ")s") {
			closing++
			f = f[:len(f)-1]
		}
		if f != "" {
			toks = append(toks, f)
		}
		for ; closing > 0; closing-- {
			toks = append(toks, ")")
		}
	}
	return toks
}

type parser struct {
	toks []string
	pos  int
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) or() (check, error) {
	first, err := p.and()
	if err != nil {
		return nil, err
	}
	list := orCheck{first}
	for strings.EqualFold(p.peek(), "or") {
		p.pos++
		c, err := p.and()
		if err != nil {
			return nil, err
		}
		list = append(list, c)
	}
	if len(list) == 1 {
		return first, nil
	}
	return list, nil
}

func (p *parser) and() (check, error) {
	first, err := p.not()
	if err != nil {
		return nil, err
	}
	list := andCheck{first}
	for strings.EqualFold(p.peek(), "and") {
		p.pos++
		c, err := p.not()
		if err != nil {
			return nil, err
		}
		list = append(list, c)
	}
	if len(list) == 1 {
		return first, nil
	}
	return list, nil
}

func (p *parser) not() (check, error) {
	if strings.EqualFold(p.peek(), "not") {
		p.pos++
		c, err := p.not()
		if err != nil {
			return nil, err
		}
		return notCheck{c}, nil
	}
	return p.atom()
}

func (p *parser) atom() (check, error) {
	tok := p.peek()
	switch tok {
	case "":
		return nil, fmt.Errorf("unexpected end of rule")
	case "(":
		p.pos++
		c, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing closing parenthesis")
		}
		p.pos++
		return c, nil
	case ")":
		return nil, fmt.Errorf("unexpected closing parenthesis")
	case "@":
		p.pos++
		return constCheck(true), nil
	case "!":
		p.pos++
		return constCheck(false), nil
	}
	p.pos++
	kind, match, ok := strings.Cut(tok, ":")
	if !ok || kind == "" {
		return nil, fmt.Errorf("malformed check %q", tok)
	}
	switch kind {
	case "rule":
		return ruleCheck(match), nil
	case "role":
		return roleCheck(match), nil
	case "field":
		return parseFieldCheck(match)
	}
	return genericCheck{kind: kind, match: match}, nil
}
