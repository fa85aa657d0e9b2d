package extraspecs

import (
	"math/big"
	"slices"
	"strings"
	"unicode"
)

// isPySpace is Python's str.isspace, which int() and str.strip() trim: Go's
// unicode.IsSpace lacks only the ASCII separators U+001C-U+001F.
func isPySpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

// pyInt parses s as Python's int(s) does, since upstream's integer specs are
// whatever that accepts: surrounding whitespace, one sign, decimal digits of
// any script, single underscores between digits, and no size limit.
func pyInt(s string) (*big.Int, bool) {
	s = strings.TrimFunc(s, isPySpace)
	sign := ""
	if s != "" && (s[0] == '+' || s[0] == '-') {
		sign, s = s[:1], s[1:]
	}
	digits := []byte(sign)
	afterDigit := false
	for _, r := range s {
		if r == '_' && afterDigit {
			afterDigit = false
			continue
		}
		d, ok := decimalDigit(r)
		if !ok {
			return nil, false
		}
		digits = append(digits, '0'+d)
		afterDigit = true
	}
	if !afterDigit { // empty, or ending in '_'
		return nil, false
	}
	return new(big.Int).SetString(string(digits), 10)
}

// decimalDigit is the value of a Unicode decimal digit (category Nd). Unicode
// lays every script's digits out as runs of ten from its zero, and Go's table
// merges adjacent runs, so the offset into a range modulo ten is the value.
func decimalDigit(r rune) (byte, bool) {
	if r >= '0' && r <= '9' {
		return byte(r - '0'), true
	}
	for _, rg := range unicode.Nd.R16 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) % 10), true
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) % 10), true
		}
	}
	return 0, false
}

// pyBoolWords are what oslo's strutils.bool_from_string(strict=True) accepts.
var pyBoolWords = []string{"1", "t", "true", "on", "y", "yes", "0", "f", "false", "off", "n", "no"}

// pyBool reports whether bool_from_string(s, strict=True) accepts s: it strips
// and lower-cases first. Go's lower-casing differs from Python's only on
// letters that cannot spell one of the words.
func pyBool(s string) bool {
	return slices.Contains(pyBoolWords, strings.ToLower(strings.TrimFunc(s, isPySpace)))
}
