package firewall

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// syncSets makes each wanted remote-group set hold exactly the group's member
// addresses of the family. A set whose content differs is rebuilt aside and
// swapped in, so rules that use it never see it half filled.
func (a *Agent) syncSets(ctx context.Context, ns string, f family, st dataplane.State, wanted map[string]bool) error {
	if len(wanted) == 0 {
		return nil
	}
	have, err := a.listSets(ctx, ns)
	if err != nil {
		return err
	}
	var script strings.Builder
	for gid, g := range st.SecurityGroups {
		name := SetName(f.ether, gid)
		if !wanted[name] {
			continue
		}
		want := members(f, g.MemberIPs)
		if cur, ok := have[name]; ok && slices.Equal(cur, want) {
			continue
		}
		tmp := tempSetName(f.ether, gid)
		script.WriteString("create " + name + " hash:net family " + f.setFam + " -exist\n")
		script.WriteString("create " + tmp + " hash:net family " + f.setFam + " -exist\n")
		script.WriteString("flush " + tmp + "\n")
		for _, m := range want {
			script.WriteString("add " + tmp + " " + m + " -exist\n")
		}
		script.WriteString("swap " + tmp + " " + name + "\n")
		script.WriteString("destroy " + tmp + "\n")
	}
	// Sets of groups the state does not know (no members here): empty.
	for name := range wanted {
		if _, ok := have[name]; ok {
			continue
		}
		known := false
		for gid := range st.SecurityGroups {
			known = known || SetName(f.ether, gid) == name
		}
		if !known {
			script.WriteString("create " + name + " hash:net family " + f.setFam + " -exist\n")
		}
	}
	if script.Len() == 0 {
		return nil
	}
	return a.ipsetRestore(ctx, ns, script.String())
}

// members are the family's addresses as ipset prints them (a host address
// without its /32 or /128), sorted.
func members(f family, ips []netip.Prefix) []string {
	var out []string
	for _, p := range ips {
		if !p.IsValid() || !f.has(p.Addr()) {
			continue
		}
		p = p.Masked()
		if p.IsSingleIP() {
			out = append(out, p.Addr().String())
		} else {
			out = append(out, p.String())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// listSets reads our sets (N<ethertype>...) and their members from `ipset save`.
func (a *Agent) listSets(ctx context.Context, ns string) (map[string][]string, error) {
	out, err := a.Runner.Run(ctx, ns, "ipset", "save")
	if err != nil {
		return nil, err
	}
	sets := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !ourSet(f[1]) {
			continue
		}
		switch f[0] {
		case "create":
			if _, ok := sets[f[1]]; !ok {
				sets[f[1]] = []string{}
			}
		case "add":
			if len(f) >= 3 {
				m := f[2]
				if p, err := netip.ParsePrefix(m); err == nil && p.IsSingleIP() {
					m = p.Addr().String()
				}
				sets[f[1]] = append(sets[f[1]], m)
			}
		}
	}
	for k := range sets {
		slices.Sort(sets[k])
	}
	return sets, nil
}

func ourSet(name string) bool {
	return strings.HasPrefix(name, "NIPv4") || strings.HasPrefix(name, "NIPv6") ||
		strings.HasPrefix(name, "TIPv4") || strings.HasPrefix(name, "TIPv6")
}

// removeStaleSets destroys our sets of the family that no rule uses any more (run
// after the rules that used them are gone).
func (a *Agent) removeStaleSets(ctx context.Context, ns string, f family, wanted map[string]bool) error {
	have, err := a.listSets(ctx, ns)
	if err != nil {
		return err
	}
	var errs []error
	for name := range have {
		if wanted[name] || !strings.HasPrefix(name[1:], f.ether) {
			continue
		}
		if _, err := a.Runner.Run(ctx, ns, "ipset", "destroy", name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (a *Agent) ipsetRestore(ctx context.Context, ns, script string) error {
	file, err := os.CreateTemp("", "nimbus-ipset-*.restore")
	if err != nil {
		return err
	}
	defer os.Remove(file.Name())
	if _, err := file.WriteString(script); err != nil {
		file.Close()
		return err
	}
	if err := file.Close(); err != nil {
		return err
	}
	_, err = a.Runner.Run(ctx, ns, "ipset", "restore", "-file", file.Name())
	return err
}
