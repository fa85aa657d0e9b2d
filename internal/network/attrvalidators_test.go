package network

import "testing"

// TestAddressValidators holds validate_ip_address, validate_route_cidr and
// validate_mac_address to netaddr's forms: what upstream accepts, and its
// reasons for what it does not.
func TestAddressValidators(t *testing.T) {
	for _, tc := range []struct {
		name     string
		validate func(any) string
		value    any
		want     string
	}{
		{"an IPv4 address", validIPAddress, "10.0.0.1", ""},
		{"an IPv6 address", validIPAddress, "2001:db8::1", ""},
		{"an IPv4-mapped IPv6 address", validIPAddress, "::ffff:10.0.0.1", ""},
		{"three octets", validIPAddress, "10.0.1", "'10.0.1' is not a valid IP address"},
		{"leading zeros", validIPAddress, "010.000.0.1", "'010.000.0.1' is not an accepted IP address, '10.0.0.1' is recommended"},
		{"an IPv6 zone", validIPAddress, "fe80::1%eth0", "'fe80::1%eth0' is not a valid IP address"},
		{"whitespace", validIPAddress, " 10.0.0.1", "' 10.0.0.1' is not a valid IP address"},
		{"a number", validIPAddress, float64(167772161), "'167772161' is not a valid IP address"},
		{"null", validIPAddress, nil, "'None' is not a valid IP address"},
		{"null where allowed", validIPAddressOrNone, nil, ""},
		{"a route", validRouteCIDR, "0.0.0.0/0", ""},
		{"an IPv6 route", validRouteCIDR, "2001:db8::/32", ""},
		{"a route without length", validRouteCIDR, "10.0.0.0", "'10.0.0.0' is not a valid CIDR"},
		{"a loopback route", validRouteCIDR, "::1/128", "'::1/128' is not a routable CIDR"},
		{"a MAC", validMACAddress, "fa:16:3e:aa:bb:cc", ""},
		{"a MAC in capitals with dashes", validMACAddress, "FA-16-3E-AA-BB-CC", ""},
		{"a MAC of one-digit octets", validMACAddress, "0:1:2:3:4:5", ""},
		{"a MAC in Cisco's form", validMACAddress, "fa16.3eaa.bbcc", ""},
		{"an all-zero MAC", validMACAddress, "00:00:00:00:00:00", "'00:00:00:00:00:00' is not a valid MAC address"},
		{"an EUI-64", validMACAddress, "fa:16:3e:aa:bb:cc:dd:ee", "'fa:16:3e:aa:bb:cc:dd:ee' is not a valid MAC address"},
		{"a MAC not a string", validMACAddress, true, "'True' is not a valid MAC address"},
	} {
		if got := tc.validate(tc.value); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
