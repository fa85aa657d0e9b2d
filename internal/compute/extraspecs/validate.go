// Package extraspecs is upstream Nova's registry of flavor extra specs, which
// the compute API checks every extra spec against from microversion 2.86.
package extraspecs

import (
	"regexp"
	"strings"
)

// registry holds the validators in upstream's registration order (its entry
// points' order, each module's own order within), since a name is given to
// the first whose expression matches it.
type registry struct {
	ordered    []*validator
	byName     map[string]*validator
	namespaces []*regexp.Regexp
}

var specs = newRegistry(
	accelSpecs(),
	aggregateSpecs(),
	capabilitySpecs(),
	hwSpecs(),
	hwRNGSpecs(),
	hwVideoSpecs(),
	unnamespacedSpecs(),
	osSpecs(),
	pciPassthroughSpecs(),
	quotaSpecs(),
	resourceSpecs(),
	traitSpecs(),
	vmwareSpecs(),
)

func newRegistry(groups ...[]spec) *registry {
	reg := &registry{byName: map[string]*validator{}}
	seen := map[string]bool{}
	for _, group := range groups {
		for _, s := range group {
			if ns, _, ok := strings.Cut(s.nameRegex(), ":"); ok && !seen[ns] {
				seen[ns] = true
				reg.namespaces = append(reg.namespaces, fullMatch(ns))
			}
			v := compile(s)
			// A name registered twice keeps its first place and its last
			// definition, as upstream's dict does.
			if old, ok := reg.byName[s.name]; ok {
				*old = *v
				continue
			}
			reg.byName[s.name] = v
			reg.ordered = append(reg.ordered, v)
		}
	}
	return reg
}

// Validate checks one extra spec as upstream does from 2.86. The error's text
// is upstream's message, the detail of the API's 400. A name of no namespace
// or of a namespace the registry does not know passes: those belong to
// operators and out-of-tree drivers.
func Validate(name, value string) error {
	return specs.validate(name, value)
}

func (reg *registry) validate(name, value string) error {
	if v, ok := reg.byName[name]; ok {
		return v.validate(name, value)
	}
	for _, v := range reg.ordered {
		if v.nameRE.MatchString(name) {
			return v.validate(name, value)
		}
	}
	ns, _, ok := strings.Cut(name, ":")
	if !ok {
		return nil
	}
	for _, re := range reg.namespaces {
		if re.MatchString(ns) {
			return fail("extra spec '%s' does not appear to be a valid extra spec.", name)
		}
	}
	return nil
}
