package ring

import "testing"

// TestPolicies checks policy selection as upstream's StoragePolicyCollection
// does it: names and aliases in any case, indexes from the backend header,
// and each policy's ring and directory names.
func TestPolicies(t *testing.T) {
	byName := []struct {
		name  string
		index int
		ok    bool
	}{
		{"Policy-0", 0, true},
		{"policy-0", 0, true},
		{"reduced-redundancy", 1, true},
		{"REDUCED-Redundancy", 1, true},
		{"gold", 0, false},
		{"", 0, false},
		{" Policy-0", 0, false}, // upstream does not trim
		{"1", 0, false},         // a name, not an index
	}
	for _, tc := range byName {
		p, ok := PolicyByName(tc.name)
		if ok != tc.ok || (ok && p.Index != tc.index) {
			t.Errorf("PolicyByName(%q) = %d %v, want %d %v", tc.name, p.Index, ok, tc.index, tc.ok)
		}
	}
	byIndex := []struct {
		header string
		index  int
		ok     bool
	}{
		{"", 0, true}, // no header: upstream's legacy policy 0
		{"0", 0, true},
		{"1", 1, true},
		{" 1", 1, true},
		{"2", 0, false},
		{"-1", 0, false},
		{"one", 0, false},
		{"1.0", 0, false},
	}
	for _, tc := range byIndex {
		p, ok := ParsePolicyIndex(tc.header)
		if ok != tc.ok || (ok && p.Index != tc.index) {
			t.Errorf("ParsePolicyIndex(%q) = %d %v, want %d %v", tc.header, p.Index, ok, tc.index, tc.ok)
		}
	}
	names := []struct {
		index         int
		ring, dataDir string
		replicas      int
		isDefault     bool
	}{
		{0, "object", "objects", 3, true},
		{1, "object-1", "objects-1", 2, false},
	}
	for _, tc := range names {
		p, _ := PolicyByIndex(tc.index)
		if p.RingName() != tc.ring || p.DataDir() != tc.dataDir || p.Replicas != tc.replicas || p.Default != tc.isDefault {
			t.Errorf("policy %d: %s %s %d %v", tc.index, p.RingName(), p.DataDir(), p.Replicas, p.Default)
		}
	}
	if DefaultPolicy().Index != 0 {
		t.Errorf("default policy %d", DefaultPolicy().Index)
	}
}

// FuzzParsePolicyIndex: whatever a request carries, a policy is found only
// among the defined ones, and its directory is one of theirs (never a path
// a client chose).
func FuzzParsePolicyIndex(f *testing.F) {
	for _, s := range []string{"", "0", "1", "../1", "1e3", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		p, ok := ParsePolicyIndex(v)
		if !ok {
			return
		}
		for _, known := range Policies {
			if known.Index == p.Index && known.DataDir() == p.DataDir() {
				return
			}
		}
		t.Fatalf("%q: policy %+v", v, p)
	})
}
