package dhcp

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func mutating(name string, args []string) bool {
	if name == "sysctl" {
		return !slices.Contains(args, "-n")
	}
	if name != "ip" && name != "bridge" {
		return true
	}
	s := " " + strings.Join(args, " ") + " "
	for _, w := range []string{" add ", " del ", " set ", " replace ", " append ", " flush "} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// timerFields are what changes by itself in `ip -d link` and `ip addr`: the bridge's
// running timers, and IPv6 duplicate address detection finishing ("tentative").
var timerFields = regexp.MustCompile(`\S*_timer\s+\S+| tentative`)

func timers(s string) string { return timerFields.ReplaceAllString(s, "") }

func itoa(i int) string { return strconv.Itoa(i) }
