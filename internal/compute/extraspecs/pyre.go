package extraspecs

import (
	"regexp"
	"strings"
)

// pyClasses are the members Python's re gives \d, \w and \s in str patterns.
// RE2 gives them ASCII only, so "٣" would be a digit upstream and not here.
// \s is Python's str.isspace: Unicode's separators plus \v and U+001C-U+001F.
var pyClasses = map[byte]string{
	'd': `\p{Nd}`,
	'w': `\p{L}\p{N}_`,
	's': `\t-\r\x1c-\x20\x85\p{Z}`,
}

// fullMatch compiles a pattern of upstream's (Python re syntax) the way
// re.fullmatch applies it. The registry's patterns are fixed, so a construct
// RE2 lacks (look-around, back-references) panics when the package loads
// rather than at a request.
func fullMatch(python string) *regexp.Regexp {
	return regexp.MustCompile(`^(?:` + toRE2(python) + `)$`)
}

// toRE2 rewrites Python's \d, \w, \s (and their negations outside a set) with
// Python's Unicode members; everything else the registry uses means the same
// in both syntaxes.
func toRE2(p string) string {
	var b strings.Builder
	inSet := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			i++
			e := p[i]
			members, known := pyClasses[e|0x20] // \D, \W, \S negate \d, \w, \s
			switch {
			case !known:
				b.WriteByte('\\')
				b.WriteByte(e)
			case e == e|0x20 && inSet:
				b.WriteString(members)
			case e == e|0x20:
				b.WriteString("[" + members + "]")
			case inSet:
				panic("extraspecs: negated class \\" + string(e) + " inside a set: " + p)
			default:
				b.WriteString("[^" + members + "]")
			}
		case c == '[' && !inSet:
			inSet = true
			b.WriteByte(c)
			// A ']' first in a set (after an optional '^') is a literal in both syntaxes.
			if i+1 < len(p) && p[i+1] == '^' {
				i++
				b.WriteByte('^')
			}
			if i+1 < len(p) && p[i+1] == ']' {
				i++
				b.WriteByte(']')
			}
		case c == ']' && inSet:
			inSet = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
