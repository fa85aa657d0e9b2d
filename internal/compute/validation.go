package compute

import (
	"net"
	"net/netip"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// invalidRequest is Nova's 400 for a body its schema refuses
// (nova/api/validation/validators.py _SchemaValidator.validate): the last
// element of the offending value's path, the value as Python's str() shows it,
// and jsonschema's message; a name format's own explanation (InvalidName); the
// bare message for the body itself.
func invalidRequest(e *jsonschema.Error) *httpapi.Error {
	if e.Keyword == "json" {
		return badRequest("%s", e.Message)
	}
	if e.Keyword == "format" {
		for format, reason := range nameFormats {
			if strings.HasSuffix(e.Message, " is not a '"+format+"'") {
				return badRequest("An invalid 'name' value was provided. The name must be: %s", reason)
			}
		}
	}
	if len(e.Path) == 0 {
		return badRequest("%s", e.Message)
	}
	return badRequest("Invalid input for field/attribute %v. Value: %s. %s", e.Path[len(e.Path)-1], pyStr(e.Value), e.Message)
}

// pyStr is a JSON value as Python's str() renders it: strings bare, the rest
// as their repr.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return jsonschema.Repr(v)
}

// nameFormats are Nova's name format checkers with the reasons their
// InvalidName gives (nova/api/validation/parameter_types.py).
var nameFormats = map[string]string{
	"name":                                 "printable characters. Can not start or end with whitespace.",
	"name_with_leading_trailing_spaces":    "printable characters with at least one non space character",
	"az_name":                              "printable characters except :.Can not start or end with whitespace.",
	"az_name_with_leading_trailing_spaces": "printable characters except :, with at least one non space character",
}

// printable is parameter_types._is_printable over the range upstream builds
// its regexes from (U+0000 to U+FFFE): neither "other" (C*) nor a separator
// other than a space (Zs).
func printable(r rune) bool {
	if r >= 0xFFFF || unicode.In(r, unicode.C) {
		return false
	}
	return !unicode.In(r, unicode.Z) || unicode.In(r, unicode.Zs)
}

// solid is a printable character that is not a space.
func solid(r rune) bool { return printable(r) && !unicode.In(r, unicode.Zs) }

// strictName is valid_name_regex: printable, not starting or ending with a
// space (the empty string passes: minLength refuses it).
func strictName(except string) jsonschema.FormatChecker {
	return func(s string) bool {
		rs := []rune(s)
		for _, r := range rs {
			if !printable(r) || strings.ContainsRune(except, r) {
				return false
			}
		}
		return len(rs) == 0 || solid(rs[0]) && solid(rs[len(rs)-1])
	}
}

// spacedName is valid_name_leading_trailing_spaces_regex: printable with at
// least one character that is not a space.
func spacedName(except string) jsonschema.FormatChecker {
	return func(s string) bool {
		some := false
		for _, r := range s {
			if !printable(r) || strings.ContainsRune(except, r) {
				return false
			}
			some = some || solid(r)
		}
		return some
	}
}

// Nova's format checkers (nova/api/validation/validators.py); the jsonschema
// package applies them to strings only, as upstream's do.
func init() {
	jsonschema.RegisterFormat("name", strictName(""))
	jsonschema.RegisterFormat("name_with_leading_trailing_spaces", spacedName(""))
	jsonschema.RegisterFormat("az_name", strictName(":"))
	jsonschema.RegisterFormat("az_name_with_leading_trailing_spaces", spacedName(":"))
	// uuidutils.is_uuid_like: any form uuid.UUID() reads whose canonical
	// string is the input once lowercased and stripped of dashes and braces.
	jsonschema.RegisterFormat("uuid", func(s string) bool {
		u, err := uuid.Parse(s)
		if err != nil {
			return false
		}
		strip := strings.NewReplacer("urn:", "", "uuid:", "", "{", "", "}", "", "-", "")
		return strings.ReplaceAll(u.String(), "-", "") == strip.Replace(strings.ToLower(s))
	})
	// netaddr.IPNetwork with a "/" and no whitespace.
	jsonschema.RegisterFormat("cidr", func(s string) bool {
		if !strings.Contains(s, "/") || strings.ContainsAny(s, " \t\n\r\v\f") {
			return false
		}
		if _, err := netip.ParsePrefix(s); err == nil {
			return true
		}
		_, _, err := net.ParseCIDR(s)
		return err == nil
	})
	jsonschema.RegisterFormat("ipv4", func(s string) bool {
		a, err := netip.ParseAddr(s)
		return err == nil && a.Is4()
	})
	jsonschema.RegisterFormat("ipv6", func(s string) bool {
		a, err := netip.ParseAddr(s)
		return err == nil && a.Is6()
	})
	// oslo's parse_isotime (iso8601): a date and time, the zone optional.
	jsonschema.RegisterFormat("date-time", func(s string) bool {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05"} {
			if _, err := time.Parse(layout, s); err == nil {
				return true
			}
		}
		return false
	})
}
