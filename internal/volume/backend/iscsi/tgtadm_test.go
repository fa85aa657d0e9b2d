package iscsi

import (
	"reflect"
	"strings"
	"testing"
)

func TestTGTAdmArgs(t *testing.T) {
	tests := []struct {
		name string
		got  []string
		want string
	}{
		{"new target", argsNewTarget(3, "iqn.2010-10.org.openstack:volume-v:a"),
			"--lld iscsi --mode target --op new --tid 3 --targetname iqn.2010-10.org.openstack:volume-v:a"},
		{"new lun", argsNewLUN(3, "/pool/volume-v"),
			"--lld iscsi --mode logicalunit --op new --tid 3 --lun 1 --backing-store /pool/volume-v --bstype rdwr"},
		{"read-only lun", argsLUNReadOnly(3),
			"--lld iscsi --mode logicalunit --op update --tid 3 --lun 1 --params readonly=1"},
		{"delete lun", argsDeleteLUN(3), "--lld iscsi --mode logicalunit --op delete --tid 3 --lun 1"},
		{"new account", argsNewAccount("u", "p"), "--lld iscsi --mode account --op new --user u --password p"},
		{"bind account", argsBindAccount(3, "u"), "--lld iscsi --mode account --op bind --tid 3 --user u"},
		{"delete account", argsDeleteAccount("u"), "--lld iscsi --mode account --op delete --user u"},
		{"acl by name", argsBindInitiator(3, "iqn.2010-10.org.openstack.nimbus:host1"),
			"--lld iscsi --mode target --op bind --tid 3 --initiator-name iqn.2010-10.org.openstack.nimbus:host1"},
		{"acl for all", argsBindInitiator(3, "ALL"), "--lld iscsi --mode target --op bind --tid 3 --initiator-address ALL"},
		{"delete target", argsDeleteTarget(3), "--lld iscsi --mode target --op delete --force --tid 3"},
		{"show targets", argsShowTargets(), "--lld iscsi --mode target --op show"},
		{"show accounts", argsShowAccounts(), "--lld iscsi --mode account --op show"},
	}
	for _, tc := range tests {
		if got := strings.Join(tc.got, " "); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// showTwoTargets is tgt 1.0.85's listing of two targets, the second
// read-only with an I_T nexus.
const showTwoTargets = `Target 1: iqn.2010-10.org.openstack:volume-v1:a1
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            Backing store type: null
            Backing store path: None
            Readonly: No
        LUN: 1
            Type: disk
            Size: 1074 MB, Block size: 512
            Readonly: No
            Backing store type: rdwr
            Backing store path: /pool/volume-v1
            Backing store flags: 
    Account information:
        userone
    ACL information:
        iqn.2010-10.org.openstack.nimbus:host1
Target 7: iqn.2010-10.org.openstack:volume-v2:a2
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
        I_T nexus: 1
            Initiator: iqn.2008-11.org.linux-kvm alias: none
            Connection: 0
                IP Address: 127.0.0.1
    LUN information:
        LUN: 1
            Type: disk
            Readonly: Yes
            Backing store path: /pool/volume-v2
    Account information:
        usertwo
        other (outgoing)
    ACL information:
        ALL
`

func TestParseTargets(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []liveTarget
		wantErr bool
	}{
		{"none", "", nil, false},
		{"two", showTwoTargets, []liveTarget{
			{TID: 1, IQN: "iqn.2010-10.org.openstack:volume-v1:a1",
				LUNs:     []liveLUN{{LUN: 0, Path: "None"}, {LUN: 1, Path: "/pool/volume-v1"}},
				Accounts: []string{"userone"}, ACL: []string{"iqn.2010-10.org.openstack.nimbus:host1"}},
			{TID: 7, IQN: "iqn.2010-10.org.openstack:volume-v2:a2",
				LUNs:     []liveLUN{{LUN: 1, Path: "/pool/volume-v2", ReadOnly: true}},
				Accounts: []string{"usertwo", "other (outgoing)"}, ACL: []string{"ALL"}},
		}, false},
		{"bad tid", "Target x: iqn.a\n", nil, true},
		{"no name", "Target 1: \n", nil, true},
		{"bad lun", "Target 1: iqn.a\n    LUN information:\n        LUN: z\n", nil, true},
		{"lines before any target", "    LUN information:\n        LUN: 1\n", nil, false},
	}
	for _, tc := range tests {
		got, err := parseTargets(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseAccounts(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Account list:\n", nil},
		{"Account list:\n    u1\n    u2\n", []string{"u1", "u2"}},
		{"Account list:\n    u1\n    out (outgoing)\n", []string{"u1", "out"}},
	}
	for _, tc := range tests {
		if got := parseAccounts(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseAccounts(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseTargetIQN(t *testing.T) {
	tests := []struct {
		iqn, volume, attachment string
		ok                      bool
	}{
		{targetIQN("v-1", "a-1"), "v-1", "a-1", true},
		{"iqn.2010-10.org.openstack:volume-v-1", "", "", false},
		{"iqn.2010-10.org.openstack:volume-v/1:a", "", "", false},
		{"iqn.2010-10.org.other:volume-v:a", "", "", false},
		{"iqn.2010-10.org.openstack:volume-v:a:b", "", "", false},
	}
	for _, tc := range tests {
		v, a, ok := parseTargetIQN(tc.iqn)
		if v != tc.volume || a != tc.attachment || ok != tc.ok {
			t.Errorf("parseTargetIQN(%q) = %q %q %v", tc.iqn, v, a, ok)
		}
	}
}

func TestACLEntry(t *testing.T) {
	tests := []struct{ initiator, want string }{
		{"iqn.2010-10.org.openstack.nimbus:host-1", "iqn.2010-10.org.openstack.nimbus:host-1"},
		{"eui.02004567A425678D", "eui.02004567A425678D"},
		{"", "ALL"},
		{"--initiator-address", "ALL"},
		{"iqn.2010-10.org.x:a b", "ALL"},
		{"10.0.0.1", "ALL"},
	}
	for _, tc := range tests {
		w := wantedTarget{rec: exportRecord{}}
		w.rec.Connector.Initiator = tc.initiator
		if got := w.aclEntry(); got != tc.want {
			t.Errorf("aclEntry(%q) = %q, want %q", tc.initiator, got, tc.want)
		}
	}
}

// FuzzParseTargets feeds tgtadm's target listing parser anything: it must not
// panic, and what it returns must be well formed.
func FuzzParseTargets(f *testing.F) {
	f.Add(showTwoTargets)
	f.Add("Target 1: iqn.a\n    LUN information:\n        LUN: 1\n")
	f.Add("Account list:\n    u1\n")
	f.Fuzz(func(t *testing.T, in string) {
		targets, err := parseTargets(in)
		if err != nil {
			return
		}
		for _, tg := range targets {
			if tg.TID <= 0 || tg.IQN == "" {
				t.Fatalf("target %+v from %q", tg, in)
			}
		}
		parseAccounts(in)
	})
}
