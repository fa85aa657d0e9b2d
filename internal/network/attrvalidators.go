package network

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// The validators of the nested attributes, transcribed from neutron-lib's
// neutron_lib/api/validators/__init__.py (and allowedaddresspairs.py): each
// returns upstream's reason, or "" when the value is valid, and checks in
// upstream's order, so a body with several faults gets upstream's first one.
// A validator that upstream makes raise an exception instead of returning a
// reason (allowed address pairs) returns that error.

var whitespace = regexp.MustCompile(`\s`)

// validIPAddress is validate_ip_address: netaddr's IPAddress with ZEROFILL
// (leading zeros of IPv4 octets dropped), then an IPv4 address must be written
// as four dotted octets and without leading zeros ("is not an accepted IP
// address, '<canonical>' is recommended").
func validIPAddress(v any) string {
	s, ok := v.(string)
	if !ok || whitespace.MatchString(s) {
		return fmt.Sprintf("'%s' is not a valid IP address", pyStr(v))
	}
	ip, ok := parseZerofill(s)
	if !ok {
		return fmt.Sprintf("'%s' is not a valid IP address", s)
	}
	if !strings.Contains(s, ":") && strings.Count(s, ".") != 3 {
		return fmt.Sprintf("'%s' is not a valid IP address", s)
	}
	if ip.Is4() && ip.String() != s {
		return fmt.Sprintf("'%s' is not an accepted IP address, '%s' is recommended", s, ip)
	}
	return ""
}

// parseZerofill parses an address as netaddr does with ZEROFILL: an IPv4
// octet's leading zeros do not count ("010.0.0.1" is 10.0.0.1). IPv6 zones are
// not addresses to netaddr.
func parseZerofill(s string) (netip.Addr, bool) {
	if !strings.Contains(s, ":") {
		octets := strings.Split(s, ".")
		for i, o := range octets {
			if trimmed := strings.TrimLeft(o, "0"); trimmed != o {
				if trimmed == "" {
					trimmed = "0"
				}
				octets[i] = trimmed
			}
		}
		s = strings.Join(octets, ".")
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	return ip, true
}

func validIPAddressOrNone(v any) string {
	if v == nil {
		return ""
	}
	return validIPAddress(v)
}

// validSubnetOrNone is type:subnet_or_none.
func validSubnetOrNone(v any) string {
	if v == nil {
		return ""
	}
	return validSubnet(v)
}

// validRouteCIDR is validate_route_cidr: a network address with its prefix
// length (no host bits), and not a loopback network.
func validRouteCIDR(v any) string {
	s, ok := v.(string)
	if !ok || whitespace.MatchString(s) || !strings.Contains(s, "/") {
		return fmt.Sprintf("'%s' is not a valid CIDR", pyStr(v))
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Masked() != p {
		return fmt.Sprintf("'%s' is not a valid CIDR", s)
	}
	if p.Addr().IsLoopback() {
		return fmt.Sprintf("'%s' is not a routable CIDR", s)
	}
	return ""
}

// validMACAddress is validate_mac_address: netaddr's valid_mac (colons, dashes,
// dots or none), but never the all-zero or broadcast address.
func validMACAddress(v any) string {
	s, ok := v.(string)
	if ok && !whitespace.MatchString(s) {
		if hw, err := parseMACForms(s); err == nil {
			if !slices.Equal(hw, make([]byte, 6)) && !slices.Equal(hw, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
				return ""
			}
		}
	}
	return fmt.Sprintf("'%s' is not a valid MAC address", pyStr(v))
}

// parseMACForms reads an EUI-48 in the forms netaddr's valid_mac accepts:
// Go's (xx:xx:.., xx-xx-.., xxxx.xxxx.xxxx), bare hex, and octets of one digit.
var macBare = regexp.MustCompile(`^[0-9a-fA-F]{12}$`)
var macShortOctets = regexp.MustCompile(`^[0-9a-fA-F]{1,2}([:-][0-9a-fA-F]{1,2}){5}$`)

func parseMACForms(s string) (net.HardwareAddr, error) {
	switch {
	case macBare.MatchString(s):
		s = s[0:2] + ":" + s[2:4] + ":" + s[4:6] + ":" + s[6:8] + ":" + s[8:10] + ":" + s[10:12]
	case macShortOctets.MatchString(s):
		parts := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '-' })
		for i, p := range parts {
			if len(p) == 1 {
				parts[i] = "0" + p
			}
		}
		s = strings.Join(parts, ":")
	}
	hw, err := net.ParseMAC(s)
	if err == nil && len(hw) != 6 {
		return nil, fmt.Errorf("not an EUI-48")
	}
	return hw, err
}

// verifyDictKeys is _verify_dict_keys: v must be a dictionary holding the
// expected keys (exactly them when strict). Python prints the two key sets in
// no fixed order; Nimbus prints them in the order given and sorted.
func verifyDictKeys(expected []string, v any, strict bool) string {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Sprintf("Invalid input. '%s' must be a dictionary with keys: %s", pyStr(v), pyList(expected))
	}
	provided := slicesSortedKeys(m)
	match := true
	for _, k := range expected {
		if _, ok := m[k]; !ok {
			match = false
		}
	}
	if strict && len(provided) != len(expected) {
		match = false
	}
	if !match {
		return fmt.Sprintf("Validation of dictionary's keys failed. Expected keys: %s Provided keys: %s", pySet(expected), pySet(provided))
	}
	return ""
}

func slicesSortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// pySet prints a list of strings as Python prints a set.
func pySet(keys []string) string {
	if len(keys) == 0 {
		return "set()"
	}
	return "{'" + strings.Join(keys, "', '") + "'}"
}

// validIPPools is type:ip_pools: a list of {start, end}, both addresses.
func validIPPools(v any) string {
	list, ok := v.([]any)
	if !ok {
		return fmt.Sprintf("Invalid data format for IP pool: '%s'", pyStr(v))
	}
	for _, pool := range list {
		if msg := verifyDictKeys([]string{"start", "end"}, pool, true); msg != "" {
			return msg
		}
		m := pool.(map[string]any)
		for _, k := range []string{"start", "end"} {
			if msg := validIPAddress(m[k]); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// validFixedIPs is type:fixed_ips: a list of dictionaries, each an address
// (not given twice) and a subnet UUID, both optional.
func validFixedIPs(v any) string {
	list, ok := v.([]any)
	if !ok {
		return fmt.Sprintf("Invalid data format for fixed IP: '%s'", pyStr(v))
	}
	var seen []string
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return fmt.Sprintf("Invalid data format for fixed IP: '%s'", pyStr(e))
		}
		if ip, ok := m["ip_address"]; ok {
			if slices.Contains(seen, jsonschema.Repr(ip)) {
				return fmt.Sprintf("Duplicate IP address '%s'", pyStr(ip))
			}
			if msg := validIPAddress(ip); msg != "" {
				return msg
			}
			seen = append(seen, jsonschema.Repr(ip))
		}
		if id, ok := m["subnet_id"]; ok {
			if msg := validUUID(id); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// validNameservers is type:nameservers: unique addresses. Upstream iterates
// over anything iterable, so a string is checked character by character.
func validNameservers(v any) string {
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case string:
		for _, r := range x {
			list = append(list, string(r))
		}
	case map[string]any:
		for _, k := range slicesSortedKeys(x) {
			list = append(list, k)
		}
	default:
		return fmt.Sprintf("Invalid data format for nameserver: '%s'", pyStr(v))
	}
	var seen []string
	for _, host := range list {
		if msg := validIPAddress(host); msg != "" {
			return fmt.Sprintf("'%s' is not a valid nameserver. %s", pyStr(host), msg)
		}
		if slices.Contains(seen, host.(string)) {
			return fmt.Sprintf("Duplicate nameserver '%s'", pyStr(host))
		}
		seen = append(seen, host.(string))
	}
	return ""
}

// validHostRoutes is type:hostroutes: unique {destination, nexthop}, a
// routable CIDR and an address.
func validHostRoutes(v any) string {
	list, ok := v.([]any)
	if !ok {
		return fmt.Sprintf("Invalid data format for hostroute: '%s'", pyStr(v))
	}
	var seen []string // reprs: a route is a dictionary
	for _, route := range list {
		if msg := verifyDictKeys([]string{"destination", "nexthop"}, route, true); msg != "" {
			return msg
		}
		m := route.(map[string]any)
		if msg := validRouteCIDR(m["destination"]); msg != "" {
			return msg
		}
		if msg := validIPAddress(m["nexthop"]); msg != "" {
			return msg
		}
		key := jsonschema.Repr(route)
		if slices.Contains(seen, key) {
			return fmt.Sprintf("Duplicate hostroute '%s'", key)
		}
		seen = append(seen, key)
	}
	return ""
}

// validDictOrNone is type:dict_or_none without key specs (binding:profile).
func validDictOrNone(v any) string {
	if v == nil {
		return ""
	}
	if _, ok := v.(map[string]any); !ok {
		return fmt.Sprintf("'%s' is not a dictionary", pyStr(v))
	}
	return ""
}

// validGatewayInfo is external_gateway_info's type:dict_or_nodata with its key
// specs (l3.py, and l3_ext_gw_mode's enable_snat): nothing or {} clears the
// gateway; otherwise network_id is required, no other keys but the specs', and
// each checked in the specs' order (enable_snat is converted, whose failure is
// InvalidInput as any converter's).
func validGatewayInfo(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	if m, ok := v.(map[string]any); ok && len(m) == 0 {
		return "", nil
	}
	if s, ok := v.(string); ok && s == "" {
		return "", nil // falsy: no data
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Sprintf("'%s' is not a dictionary", pyStr(v)), nil
	}
	if msg := verifyDictKeys([]string{"network_id"}, m, false); msg != "" {
		return msg, nil
	}
	specs := []string{"network_id", "external_fixed_ips", "enable_snat"}
	var unexpected []string
	for _, k := range slicesSortedKeys(m) {
		if !slices.Contains(specs, k) {
			unexpected = append(unexpected, k)
		}
	}
	if len(unexpected) > 0 {
		return "Unexpected keys supplied: " + strings.Join(unexpected, ", "), nil
	}
	if msg := validUUID(m["network_id"]); msg != "" {
		return msg, nil
	}
	if f, ok := m["external_fixed_ips"]; ok {
		if msg := validFixedIPs(f); msg != "" {
			return msg, nil
		}
	}
	if b, ok := m["enable_snat"]; ok {
		converted, err := toBoolean(b)
		if err != nil {
			return "", err
		}
		m["enable_snat"] = converted
	}
	return "", nil
}

// validUUIDList is type:uuid_list: a list without duplicates, each a UUID.
func validUUIDList(v any) string {
	return validListOfItems(v, validUUID)
}

// validListOfUniqueStrings is type:list_of_unique_strings.
func validListOfUniqueStrings(max int) func(any) string {
	return func(v any) string { return validListOfItems(v, validString(max)) }
}

// validListOfItems is _validate_list_of_items: a list, without duplicates,
// each item valid.
func validListOfItems(v any, item func(any) string) string {
	list, ok := v.([]any)
	if !ok {
		return fmt.Sprintf("'%s' is not a list", pyStr(v))
	}
	var seen, dupKeys, dups []string // reprs to compare (items may be dictionaries), str() to print
	for _, e := range list {
		key := jsonschema.Repr(e)
		if slices.Contains(seen, key) && !slices.Contains(dupKeys, key) {
			dupKeys = append(dupKeys, key)
			dups = append(dups, pyStr(e))
		}
		seen = append(seen, key)
	}
	if len(dups) > 0 {
		return fmt.Sprintf("Duplicate items in the list: '%s'", strings.Join(dups, ", "))
	}
	for _, e := range list {
		if msg := item(e); msg != "" {
			return msg
		}
	}
	return ""
}

// validRange is type:range: an integer (int() of it) from min to max.
func validRange(min, max int) func(any) string {
	return func(v any) string {
		i, ok := v.(int) // converted already (convert_to_int)
		if !ok {
			n, err := toInt(v)
			if err != nil {
				return fmt.Sprintf("'%s' is not an integer", pyStr(v))
			}
			i = n.(int)
		}
		if i < min {
			return fmt.Sprintf("'%d' is too small - must be at least '%d'", i, min)
		}
		if i > max {
			return fmt.Sprintf("'%d' is too large - must be no larger than '%d'", i, max)
		}
		return ""
	}
}

// maxAllowedAddressPairs is neutron.conf's max_allowed_address_pair default.
const maxAllowedAddressPairs = 10

// validAllowedAddressPairs is allowedaddresspairs' validator, which raises its
// exceptions (HTTPBadRequest, AllowedAddressPairsMissingIP,
// DuplicateAddressPairInRequest, AllowedAddressPairExhausted) rather than
// returning a reason, except for an item that is not a dictionary.
func validAllowedAddressPairs(v any) (string, error) {
	list, ok := v.([]any)
	if !ok {
		return "", badRequest("Allowed address pairs must be a list.")
	}
	if len(list) > maxAllowedAddressPairs {
		return "", neutronError(400, "AllowedAddressPairExhausted",
			"The number of allowed address pair exceeds the maximum %d.", maxAllowedAddressPairs)
	}
	var seen []string // reprs of (mac, ip)
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return fmt.Sprintf("'%s' is not a dictionary", pyStr(e)), nil
		}
		mac, hasMAC := m["mac_address"]
		if hasMAC {
			if msg := validMACAddress(mac); msg != "" {
				return "", badRequest("%s", msg)
			}
		}
		ip, ok := m["ip_address"]
		if !ok {
			return "", neutronError(400, "AllowedAddressPairsMissingIP", "AllowedAddressPair must contain ip_address")
		}
		p := jsonschema.Repr([]any{mac, ip})
		if slices.Contains(seen, p) {
			return "", neutronError(400, "DuplicateAddressPairInRequest",
				"Request contains duplicate address pair: mac_address %s ip_address %s.", pyStr(mac), pyStr(ip))
		}
		seen = append(seen, p)
		var extra []string
		for _, k := range slicesSortedKeys(m) {
			if k != "mac_address" && k != "ip_address" {
				extra = append(extra, k)
			}
		}
		if len(extra) > 0 {
			return "", badRequest("Unrecognized attribute(s) '%s'", strings.Join(extra, ", "))
		}
		s, _ := ip.(string)
		var msg string
		if strings.Contains(s, "/") {
			msg = validSubnet(ip)
		} else {
			msg = validIPAddress(ip)
		}
		if msg != "" {
			return "", badRequest("%s", msg)
		}
	}
	return "", nil
}

// The security group extension's own converters and validator
// (neutron/extensions/securitygroup.py), which raise its exceptions. They
// check here; parseRule normalizes the values afterwards.

// sgSupportedProtocols is upstream's sg_supported_protocols as Python prints
// the tuple: SG_RULE_PROTO_ANY, then IP_PROTOCOL_MAP's names.
const sgSupportedProtocols = "(None, 'any', 'ah', 'dccp', 'egp', 'esp', 'gre', 'hopopt', 'icmp', 'igmp', 'ip', 'ipip', " +
	"'ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'icmpv6', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', 'ospf', 'pgm', 'rsvp', " +
	"'sctp', 'tcp', 'udp', 'udplite', 'vrrp')"

// checkProtocol is convert_protocol's check: None or "any", a name Nimbus
// knows, or an integer from 0 to 255 (int() of a number or a string).
func checkProtocol(v any) (any, error) {
	invalid := neutronError(http.StatusBadRequest, "SecurityGroupRuleInvalidProtocol",
		"Security group rule protocol %s not supported. Only protocol values %s and integer representations [0 to 255] are supported.",
		pyStr(v), sgSupportedProtocols)
	if v == nil || v == "any" {
		return v, nil
	}
	if n, err := toInt(v); err == nil {
		if _, isBool := v.(bool); !isBool {
			if i := n.(int); i >= 0 && i <= 255 {
				return v, nil
			}
			return nil, invalid
		}
	}
	s, ok := v.(string)
	if !ok {
		return nil, invalid
	}
	if _, known := protocolNumbers[strings.ToLower(s)]; known {
		return v, nil
	}
	return nil, invalid
}

// checkEthertype is convert_ethertype_to_case_insensitive: IPv4 or IPv6 in
// any case.
func checkEthertype(v any) (any, error) {
	if s, ok := v.(string); ok {
		for _, e := range []string{"IPv4", "IPv6"} {
			if strings.EqualFold(s, e) {
				return e, nil
			}
		}
	}
	return nil, neutronError(http.StatusBadRequest, "SecurityGroupRuleInvalidEtherType",
		"Security group rule for ethertype '%s' not supported. Allowed values are ['IPv4', 'IPv6'].", pyStr(v))
}

// checkIPPrefix is convert_ip_prefix_to_cidr's check: nothing (an empty or
// null prefix is none), or what netaddr's IPNetwork reads, an address with or
// without a prefix length.
func checkIPPrefix(v any) (any, error) {
	if v == nil || v == "" {
		return nil, nil
	}
	if s, ok := v.(string); ok {
		if _, err := netip.ParsePrefix(s); err == nil {
			return v, nil
		}
		if _, err := netip.ParseAddr(s); err == nil {
			return v, nil
		}
	}
	return nil, neutronError(http.StatusBadRequest, "InvalidCIDR", "Invalid CIDR %s given as IP prefix.", pyStr(v))
}

// validNameNotDefault is type:name_not_default: a name, never "default" in
// any case (SecurityGroupDefaultAlreadyExists, 409): the project's default
// group is made by the service alone.
func validNameNotDefault(v any) (string, error) {
	if msg := validString(nameFieldSize)(v); msg != "" {
		return msg, nil
	}
	if strings.ToLower(v.(string)) == "default" {
		return "", conflict("SecurityGroupDefaultAlreadyExists", "Default security group already exists.")
	}
	return "", nil
}

// Extra DHCP options (neutron-lib's api/definitions/extra_dhcp_opt.py).
const (
	dhcpOptNameMaxLen  = 64
	dhcpOptValueMaxLen = 255
)

// validExtraDHCPOpts is type:list_of_any_key_specs_or_none with
// EXTRA_DHCP_OPT_KEY_SPECS: none, or a list without duplicates whose every
// option matches one of the two specs (a blank value only for router and
// classless-static-route). Upstream raises InvalidInput for every fault.
func validExtraDHCPOpts(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	var raised error
	msg := validListOfItems(v, func(item any) string {
		matched, err := matchesDHCPOptSpec(item)
		switch {
		case err != nil:
			raised = err
			return "raised"
		case !matched:
			return fmt.Sprintf("No valid key specs matched for: %s", pyStr(item))
		}
		return ""
	})
	if raised != nil {
		return "", raised
	}
	if msg != "" {
		return "", invalidInput("%s", msg)
	}
	return "", nil
}

// matchesDHCPOptSpec is _validate_any_key_spec over the two specs: validate_dict
// of each, in order, whose ip_version conversion raises rather than fails.
func matchesDHCPOptSpec(item any) (bool, error) {
	m, ok := item.(map[string]any)
	if !ok {
		return false, nil
	}
	blankName := func(v any) string { return validValues("router", "classless-static-route")(v) }
	specs := []struct{ name, value func(any) string }{
		{blankName, validStringOrNone(dhcpOptValueMaxLen)},
		{validOneLineNotEmptyString(dhcpOptNameMaxLen), func(v any) string {
			if v == nil {
				return ""
			}
			return validOneLineNotEmptyString(dhcpOptValueMaxLen)(v)
		}},
	}
	for _, spec := range specs {
		_, hasName := m["opt_name"]
		_, hasValue := m["opt_value"]
		if !hasName || !hasValue {
			continue
		}
		extra := false
		for k := range m {
			if k != "opt_name" && k != "opt_value" && k != "ip_version" {
				extra = true
			}
		}
		if extra || spec.name(m["opt_name"]) != "" || spec.value(m["opt_value"]) != "" {
			continue
		}
		if version, ok := m["ip_version"]; ok {
			converted, err := toInt(version)
			if err != nil {
				return false, err
			}
			m["ip_version"] = converted
			if validValues(4, 6)(converted) != "" {
				continue
			}
		}
		return true, nil
	}
	return false, nil
}

// validOneLineNotEmptyString is type:oneline_not_empty_string: not blank, and
// one line as Python's splitlines counts them (a final line break is no
// second line).
func validOneLineNotEmptyString(max int) func(any) string {
	return func(v any) string {
		if msg := validNotEmptyString(max)(v); msg != "" {
			return msg
		}
		s := v.(string)
		trimmed := strings.TrimSuffix(s, "\r\n")
		if trimmed == s && s != "" && isLineBreak(rune(s[len(s)-1])) {
			trimmed = s[:len(s)-1]
		}
		if strings.IndexFunc(trimmed, isLineBreak) >= 0 {
			return fmt.Sprintf("Multi-line string is not allowed: '%s'", s)
		}
		return ""
	}
}

// isLineBreak is a boundary of Python's str.splitlines.
func isLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', '\x1c', '\x1d', '\x1e', '\u0085', '\u2028', '\u2029':
		return true
	}
	return false
}

// toLowerString is convert_string_to_case_insensitive: a string in lower case;
// anything else (null too) is InvalidInput.
func toLowerString(v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, invalidInput("Input value %s must be string type", pyStr(v))
	}
	return strings.ToLower(s), nil
}

var dnsLabelPattern = regexp.MustCompile(`^([a-z0-9-]{1,63}|<project_id>|<project_name>|<user_name>|<user_id>)$`)
var allDigits = regexp.MustCompile(`^[0-9]+$`)

// validDNSName is type:dns_host_name's format check (_validate_dns_format):
// empty, or labels of the DNS alphabet within the FQDN limit. The check of a
// name against the configured dns_domain does not apply: Nimbus's domain is
// upstream's default (openstacklocal.), for which upstream skips it.
func validDNSName(v any) string {
	s, _ := v.(string)
	if s == "" {
		return ""
	}
	trimmed := strings.TrimSuffix(s, ".")
	reason := ""
	labels := strings.Split(trimmed, ".")
	switch {
	case len([]rune(trimmed)) > 255:
		reason = fmt.Sprintf("'%s' exceeds the 255 character FQDN limit", trimmed)
	default:
		for _, label := range labels {
			switch {
			case label == "":
				reason = "Encountered an empty component"
			case strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-"):
				reason = fmt.Sprintf("Name '%s' must not start or end with a hyphen", label)
			case !dnsLabelPattern.MatchString(label):
				reason = fmt.Sprintf("Name '%s' must be 1-63 characters long, each of which can only be alphanumeric or a hyphen", label)
			}
			if reason != "" {
				break
			}
		}
		if reason == "" && len(labels) > 1 && allDigits.MatchString(labels[len(labels)-1]) {
			reason = fmt.Sprintf("TLD '%s' must not be all numeric", labels[len(labels)-1])
		}
	}
	if reason != "" {
		return fmt.Sprintf("'%s' not a valid PQDN or FQDN. Reason: %s", s, reason)
	}
	return ""
}

// validDNSDomain is type:dns_domain_name: empty, or an FQDN (with its final
// dot) of valid labels leaving room for a sub-domain.
func validDNSDomain(v any) string {
	if msg := validString(0)(v); msg != "" {
		return msg
	}
	s := v.(string)
	switch {
	case s == "":
		return ""
	case !strings.HasSuffix(s, "."):
		return fmt.Sprintf("'%s' is not a FQDN", s)
	}
	if msg := validDNSName(s); msg != "" {
		return msg
	}
	if n := len([]rune(s)); n > 255-2 {
		return fmt.Sprintf("'%s' contains %d characters. Adding a sub-domain will cause it to exceed the maximum length of a FQDN of '255'", s, n)
	}
	return ""
}

// validFIPDNSName is type:fip_dns_host_name: empty, or a relative name of
// valid labels leaving room for a domain.
func validFIPDNSName(v any) string {
	if msg := validString(0)(v); msg != "" {
		return msg
	}
	s := v.(string)
	switch {
	case s == "":
		return ""
	case strings.HasSuffix(s, "."):
		return fmt.Sprintf("'%s' is a FQDN. It should be a relative domain name", s)
	}
	if msg := validDNSName(s); msg != "" {
		return msg
	}
	if n := len([]rune(s)); n > 255-3 {
		return fmt.Sprintf("'%s' contains %d characters. Adding a domain name will cause it to exceed the maximum length of a FQDN of '255'", s, n)
	}
	return ""
}

// deviceOwnerPrefixes are the prefixes a subnet service type must start with:
// neutron-lib's DEVICE_OWNER_PREFIXES, extended by DEVICE_OWNER_COMPUTE_PREFIX
// with Python's list += str, which adds the string's characters one by one
// ("compute:nova" passes by its "c", and so does any type starting with one of
// "compute:"'s letters).
var deviceOwnerPrefixes = []string{"network:", "neutron:", "c", "o", "m", "p", "u", "t", "e", ":"}

// checkServiceTypes is type:list_of_subnet_service_types, which raises:
// a list of strings, each a device owner prefix's.
func checkServiceTypes(v any) (string, error) {
	if v == nil || v == false || v == "" || v == float64(0) {
		return "", nil // falsy: nothing to check
	}
	if m, ok := v.(map[string]any); ok && len(m) == 0 {
		return "", nil
	}
	list, ok := v.([]any)
	if !ok {
		return "", badRequest("Subnet service types must be a list.")
	}
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return "", neutronError(http.StatusBadRequest, "InvalidInputSubnetServiceType",
				"Subnet service type %s is not a string.", pyStr(e))
		}
		if !slices.ContainsFunc(deviceOwnerPrefixes, func(p string) bool { return strings.HasPrefix(s, p) }) {
			return "", neutronError(http.StatusBadRequest, "InvalidSubnetServiceType",
				"Subnet service type %s does not correspond to a valid device owner.", s)
		}
	}
	return "", nil
}
