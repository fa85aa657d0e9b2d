package extraspecs

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
)

type kind int

const (
	kindStr kind = iota
	kindInt
	kindBool
)

// spec is one entry of upstream's registry. Its name doubles as a regular
// expression, as upstream's does: the '.' of "hw:numa_cpus.{num}" matches any
// character, and each {param} becomes a named group of the param's pattern.
type spec struct {
	name    string
	params  []param
	kind    kind
	pattern string   // kindStr: the value must match all of it (Python re syntax)
	enum    []string // kindStr without a pattern: the value must be one of these
	min     *int64   // kindInt bounds, each optional
	max     *int64
}

type param struct{ name, pattern string }

func text(name string) spec { return spec{name: name, kind: kindStr} }

func oneOf(name string, values ...string) spec {
	return spec{name: name, kind: kindStr, enum: values}
}

func format(name, pattern string) spec {
	return spec{name: name, kind: kindStr, pattern: pattern}
}

func boolean(name string) spec { return spec{name: name, kind: kindBool} }

func integer(name string) spec { return spec{name: name, kind: kindInt} }

func atLeast(name string, min int64) spec {
	s := integer(name)
	s.min = &min
	return s
}

func between(name string, min, max int64) spec {
	s := atLeast(name, min)
	s.max = &max
	return s
}

// with returns s with one more {name} parameter; s's params are not shared.
func (s spec) with(name, pattern string) spec {
	s.params = append(slices.Clip(s.params), param{name, pattern})
	return s
}

// nameRegex is the name with its parameters expanded, still in Python syntax:
// upstream derives its namespaces from this text.
func (s spec) nameRegex() string {
	re := s.name
	for _, p := range s.params {
		re = strings.ReplaceAll(re, "{"+p.name+"}", "(?P<"+p.name+">"+p.pattern+")")
	}
	return re
}

// validator is a spec with its expressions compiled for full matches.
type validator struct {
	spec
	nameRE  *regexp.Regexp
	valueRE *regexp.Regexp
}

func compile(s spec) *validator {
	v := &validator{spec: s, nameRE: fullMatch(s.nameRegex())}
	if s.kind == kindStr && s.pattern != "" {
		v.valueRE = fullMatch(s.pattern)
	}
	return v
}

func fail(format string, args ...any) error {
	return fmt.Errorf("Validation failed; "+format, args...)
}

func (v *validator) validate(name, value string) error {
	if !v.nameRE.MatchString(name) {
		return fail("expected a name of format '%s' but got '%s'.", v.name, name)
	}
	switch v.kind {
	case kindInt:
		return v.validateInt(value)
	case kindBool:
		if !pyBool(value) {
			return fail("'%s' is not a valid boolean-like value.", value)
		}
	default:
		return v.validateStr(value)
	}
	return nil
}

func (v *validator) validateInt(value string) error {
	n, ok := pyInt(value)
	if !ok {
		return fail("'%s' is not a valid integer value.", value)
	}
	// The bounds' messages show the parsed number (" +7" reads 7), max first.
	if v.max != nil && n.Cmp(big.NewInt(*v.max)) > 0 {
		return fail("'%s' is greater than the max value of '%d'.", n, *v.max)
	}
	if v.min != nil && n.Cmp(big.NewInt(*v.min)) < 0 {
		return fail("'%s' is less than the min value of '%d'.", n, *v.min)
	}
	return nil
}

func (v *validator) validateStr(value string) error {
	switch {
	case v.valueRE != nil:
		if !v.valueRE.MatchString(value) {
			return fail("'%s' is not of the format '%s'.", value, v.pattern)
		}
	case v.enum != nil:
		if !slices.Contains(v.enum, value) {
			return fail("'%s' is not one of: %s.", value, strings.Join(v.enum, ", "))
		}
	}
	return nil
}
