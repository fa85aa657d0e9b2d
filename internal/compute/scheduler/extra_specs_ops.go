package scheduler

import (
	"strconv"
	"strings"
)

// MatchExtraSpec reports whether a host's capability value satisfies a flavor
// extra spec requirement, with upstream's extra_specs_ops operators:
//
//	=  >=  <=  ==  !=   numeric (note "=" means at least, not equal)
//	s== s!= s< s<= s> s>=   string comparison
//	<in> v          v is a substring of the value
//	<all-in> v1 v2  every word is a substring of the value
//	<or> v1 <or> v2 the value equals one of the words
//
// A requirement whose first word is no operator must equal the value as a
// whole. A numeric operator on a value that is not a number does not match
// (upstream raises there; a host that cannot be compared is not a fit).
func MatchExtraSpec(value, req string) bool {
	return parseExtraSpec(req).match(value)
}

// extraSpec is a requirement split into its operator and words once per
// request, not once per host.
type extraSpec struct {
	raw  string
	op   string
	args []string
}

func parseExtraSpec(req string) extraSpec {
	words := strings.Fields(req)
	if len(words) == 0 {
		return extraSpec{raw: req}
	}
	return extraSpec{raw: req, op: words[0], args: words[1:]}
}

func (e extraSpec) match(value string) bool {
	switch e.op {
	case "<or>":
		// <or> v1 <or> v2 ...: every other word is a candidate.
		for i := 0; i < len(e.args); i += 2 {
			if e.args[i] == value {
				return true
			}
		}
		return false
	case "<all-in>":
		if len(e.args) == 0 {
			return false
		}
		for _, a := range e.args {
			if !strings.Contains(value, a) {
				return false
			}
		}
		return true
	}
	cmp, ok := extraSpecOps[e.op]
	if !ok {
		return value == e.raw
	}
	if len(e.args) == 0 {
		return false
	}
	return cmp(value, e.args[0])
}

var extraSpecOps = map[string]func(x, y string) bool{
	"=":    numeric(func(x, y float64) bool { return x >= y }),
	"==":   numeric(func(x, y float64) bool { return x == y }),
	"!=":   numeric(func(x, y float64) bool { return x != y }),
	">=":   numeric(func(x, y float64) bool { return x >= y }),
	"<=":   numeric(func(x, y float64) bool { return x <= y }),
	"<in>": strings.Contains,
	"s==":  func(x, y string) bool { return x == y },
	"s!=":  func(x, y string) bool { return x != y },
	"s<":   func(x, y string) bool { return x < y },
	"s<=":  func(x, y string) bool { return x <= y },
	"s>":   func(x, y string) bool { return x > y },
	"s>=":  func(x, y string) bool { return x >= y },
}

func numeric(cmp func(x, y float64) bool) func(x, y string) bool {
	return func(x, y string) bool {
		fx, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return false
		}
		fy, err := strconv.ParseFloat(y, 64)
		if err != nil {
			return false
		}
		return cmp(fx, fy)
	}
}
