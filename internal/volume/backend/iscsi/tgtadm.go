package iscsi

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// tgtadm's command lines, one function per operation, without the binary and
// the control port (-C): what the backend asks of tgtd, testable without it.

// lun is the logical unit of every export's target (LUN 0 is tgt's controller).
const lun = 1

func argsNewTarget(tid int, iqn string) []string {
	return []string{"--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", strconv.Itoa(tid), "--targetname", iqn}
}

// argsNewLUN backs the target's LUN with the volume's raw file through tgt's
// rdwr store (pread/pwrite on the file).
func argsNewLUN(tid int, path string) []string {
	return []string{"--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", strconv.Itoa(tid),
		"--lun", strconv.Itoa(lun), "--backing-store", path, "--bstype", "rdwr"}
}

// argsLUNReadOnly makes the LUN refuse writes (tgtadm takes the parameter on
// an update only, not with the LUN's creation).
func argsLUNReadOnly(tid int) []string {
	return []string{"--lld", "iscsi", "--mode", "logicalunit", "--op", "update", "--tid", strconv.Itoa(tid),
		"--lun", strconv.Itoa(lun), "--params", "readonly=1"}
}

// newLUNSteps are the commands of a LUN over path.
func newLUNSteps(tid int, path string, readOnly bool) [][]string {
	steps := [][]string{argsNewLUN(tid, path)}
	if readOnly {
		steps = append(steps, argsLUNReadOnly(tid))
	}
	return steps
}

func argsDeleteLUN(tid int) []string {
	return []string{"--lld", "iscsi", "--mode", "logicalunit", "--op", "delete", "--tid", strconv.Itoa(tid), "--lun", strconv.Itoa(lun)}
}

func argsNewAccount(user, password string) []string {
	return []string{"--lld", "iscsi", "--mode", "account", "--op", "new", "--user", user, "--password", password}
}

func argsBindAccount(tid int, user string) []string {
	return []string{"--lld", "iscsi", "--mode", "account", "--op", "bind", "--tid", strconv.Itoa(tid), "--user", user}
}

func argsDeleteAccount(user string) []string {
	return []string{"--lld", "iscsi", "--mode", "account", "--op", "delete", "--user", user}
}

// argsBindInitiator is the target's ACL: an initiator name (iqn...) or an
// address; tgt lets in an initiator that matches any entry.
func argsBindInitiator(tid int, initiator string) []string {
	flag := "--initiator-address"
	if strings.HasPrefix(initiator, "iqn.") || strings.HasPrefix(initiator, "eui.") {
		flag = "--initiator-name"
	}
	return []string{"--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", strconv.Itoa(tid), flag, initiator}
}

// argsDeleteTarget removes the target with its LUN, bindings and sessions
// (--force: its initiators' connections are closed).
func argsDeleteTarget(tid int) []string {
	return []string{"--lld", "iscsi", "--mode", "target", "--op", "delete", "--force", "--tid", strconv.Itoa(tid)}
}

func argsShowTargets() []string {
	return []string{"--lld", "iscsi", "--mode", "target", "--op", "show"}
}

func argsShowAccounts() []string {
	return []string{"--lld", "iscsi", "--mode", "account", "--op", "show"}
}

// liveTarget is one target as tgtd reports it (tgtadm --mode target --op show).
type liveTarget struct {
	TID      int
	IQN      string
	LUNs     []liveLUN
	Accounts []string
	ACL      []string
}

// liveLUN is one logical unit of a target.
type liveLUN struct {
	LUN      int
	Path     string
	ReadOnly bool
}

// lun finds the target's LUN n.
func (t liveTarget) lun(n int) (liveLUN, bool) {
	for _, l := range t.LUNs {
		if l.LUN == n {
			return l, true
		}
	}
	return liveLUN{}, false
}

// parseTargets reads tgtadm's target listing. Its layout is indentation:
//
//	Target 1: iqn...
//	    System information: / I_T nexus information: / LUN information: /
//	    Account information: / ACL information:
//	        LUN: 1
//	            Backing store path: /pool/volume-x
//
// A line it does not know is skipped, so a newer tgt's extra fields do no
// harm; a "Target" line it cannot read is an error (the listing is not what
// the backend thinks it is).
func parseTargets(out string) ([]liveTarget, error) {
	var targets []liveTarget
	var section string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		indent := len(raw) - len(strings.TrimLeft(raw, " \t"))
		if indent == 0 {
			rest, ok := strings.CutPrefix(line, "Target ")
			if !ok {
				continue
			}
			num, iqn, ok := strings.Cut(rest, ": ")
			tid, err := strconv.Atoi(num)
			if !ok || err != nil || tid <= 0 || strings.TrimSpace(iqn) == "" {
				return nil, fmt.Errorf("tgtadm: bad target line %q", line)
			}
			targets = append(targets, liveTarget{TID: tid, IQN: strings.TrimSpace(iqn)})
			section = ""
			continue
		}
		if len(targets) == 0 {
			continue
		}
		t := &targets[len(targets)-1]
		if strings.HasSuffix(line, " information:") {
			section = strings.TrimSuffix(line, " information:")
			continue
		}
		switch section {
		case "LUN":
			if v, ok := strings.CutPrefix(line, "LUN: "); ok {
				n, err := strconv.Atoi(v)
				if err != nil {
					return nil, fmt.Errorf("tgtadm: bad LUN line %q", line)
				}
				t.LUNs = append(t.LUNs, liveLUN{LUN: n})
				continue
			}
			if len(t.LUNs) == 0 {
				continue
			}
			l := &t.LUNs[len(t.LUNs)-1]
			if v, ok := strings.CutPrefix(line, "Backing store path: "); ok {
				l.Path = v
			} else if v, ok := strings.CutPrefix(line, "Readonly: "); ok {
				l.ReadOnly = v == "Yes"
			}
		case "Account":
			t.Accounts = append(t.Accounts, line)
		case "ACL":
			t.ACL = append(t.ACL, line)
		}
	}
	return targets, sc.Err()
}

// parseAccounts reads tgtadm's account listing ("Account list:" then one user
// a line).
func parseAccounts(out string) []string {
	var users []string
	for line := range strings.Lines(out) {
		raw := strings.TrimRight(line, "\r\n")
		if raw == "" || !strings.HasPrefix(raw, " ") && !strings.HasPrefix(raw, "\t") {
			continue // the header
		}
		if u := strings.TrimSpace(raw); u != "" {
			users = append(users, strings.TrimSuffix(u, " (outgoing)"))
		}
	}
	return users
}
