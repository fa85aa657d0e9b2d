package firewall

import (
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
)

// mutating adds to the shared judgement the firewall's read-only tools.
func mutating(name string, args []string) bool {
	switch name {
	case "iptables-save", "ip6tables-save":
		return false
	case "ipset":
		return !strings.Contains(" "+strings.Join(args, " ")+" ", " save ")
	}
	return dataplanetest.Mutating(name, args)
}
