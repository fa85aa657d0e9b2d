package auth

import (
	"regexp"
	"strings"
	"sync"
)

// AccessRule is one request an application credential's token may make
// (Keystone's access rules): a service type of the catalog, a method, and a
// path template where "*" and "{name}" match one path segment (or what is left
// of it) and "**" matches anything, "/" included.
type AccessRule struct {
	Service string `json:"service"`
	Method  string `json:"method"`
	Path    string `json:"path"`
}

// Allows reports whether the rule lets a request of method on path reach the
// service of type serviceType, as keystonemiddleware's validate_allowed_request
// matches one rule.
func (r AccessRule) Allows(serviceType, method, path string) bool {
	return r.Service == serviceType && r.Method == method && PathMatches(path, r.Path)
}

// pathPatterns caches compiled templates: a token's rules are checked on every
// request it makes, and users reuse few templates.
var pathPatterns sync.Map // template -> *regexp.Regexp

const maxCachedPathPatterns = 4096

var pathPatternCount struct {
	sync.Mutex
	n int
}

// PathMatches reports whether path matches the access rule template pattern, as
// keystonemiddleware's _path_matches: "{tag}" and "*" become "[^/]+", "**"
// becomes ".*", and the whole path must match. Unlike keystonemiddleware, which
// pastes the other characters into its regular expression as they are, they
// match only themselves here, so a "." in "/v2.1" is not a wildcard and a
// template holding regular-expression syntax neither matches more than it says
// nor fails.
func PathMatches(path, pattern string) bool {
	if re, ok := pathPatterns.Load(pattern); ok {
		return re.(*regexp.Regexp).MatchString(path)
	}
	re := compilePathPattern(pattern)
	pathPatternCount.Lock()
	if pathPatternCount.n >= maxCachedPathPatterns {
		pathPatterns.Clear() // bounded memory; patterns are cheap to compile again
		pathPatternCount.n = 0
	}
	if _, loaded := pathPatterns.LoadOrStore(pattern, re); !loaded {
		pathPatternCount.n++
	}
	pathPatternCount.Unlock()
	return re.MatchString(path)
}

// compilePathPattern reads the template left to right with keystonemiddleware's
// token grammar: "{...}" (up to the first "}"), "**", "*", and any other
// character as a literal, except that a "{" without its "}" and a lone "}" are
// part of no token and dropped, as there.
func compilePathPattern(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^`)
	for i := 0; i < len(pattern); {
		switch {
		case pattern[i] == '{' && strings.IndexByte(pattern[i:], '}') > 0:
			b.WriteString(`[^/]+`)
			i += strings.IndexByte(pattern[i:], '}') + 1
		case strings.HasPrefix(pattern[i:], "**"):
			b.WriteString(`.*`)
			i += 2
		case pattern[i] == '*':
			b.WriteString(`[^/]+`)
			i++
		case pattern[i] == '{' || pattern[i] == '}':
			i++
		default:
			j := i + 1
			for j < len(pattern) && !strings.ContainsRune("{}*", rune(pattern[j])) {
				j++
			}
			b.WriteString(regexp.QuoteMeta(pattern[i:j]))
			i = j
		}
	}
	b.WriteString(`$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		// Only a template that is not UTF-8 gets here (identity stores JSON
		// strings, which are): it matches nothing.
		return regexp.MustCompile(`^\b\B$`)
	}
	return re
}
