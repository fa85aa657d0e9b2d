package ring

import (
	"strconv"
	"strings"
)

// Policy is a storage policy, as upstream's storage_policy.py: a name a
// container is created with (X-Storage-Policy), an index the servers carry
// (X-Backend-Storage-Policy-Index), and an object ring of its own
// (object.ring.gz for index 0, object-N.ring.gz for index N) whose objects
// live in their own directories on every device (objects/, objects-N/).
type Policy struct {
	Index   int
	Name    string
	Aliases []string // other names the policy answers to (the name is the first)
	Default bool     // containers created without X-Storage-Policy get it
	// Replicas is how many replicas the ring nimbus up makes has.
	Replicas int
}

// Policies are Nimbus's storage policies: upstream's Policy-0 (3 replicas,
// the default), and reduced-redundancy with 2 replicas, for data a client
// can recreate (the name says what it trades, as the "reduced redundancy"
// storage class of other object stores).
var Policies = []Policy{
	{Index: 0, Name: "Policy-0", Aliases: []string{"Policy-0"}, Default: true, Replicas: 3},
	{Index: 1, Name: "reduced-redundancy", Aliases: []string{"reduced-redundancy"}, Replicas: 2},
}

// PolicyByName finds a policy by its name or an alias, ignoring case, as
// upstream's get_by_name.
func PolicyByName(name string) (Policy, bool) {
	for _, p := range Policies {
		for _, alias := range p.Aliases {
			if strings.EqualFold(alias, name) {
				return p, true
			}
		}
	}
	return Policy{}, false
}

// PolicyByIndex finds a policy by its index.
func PolicyByIndex(index int) (Policy, bool) {
	for _, p := range Policies {
		if p.Index == index {
			return p, true
		}
	}
	return Policy{}, false
}

// DefaultPolicy is the policy of containers created without one.
func DefaultPolicy() Policy {
	for _, p := range Policies {
		if p.Default {
			return p
		}
	}
	return Policies[0]
}

// ParsePolicyIndex reads an X-Backend-Storage-Policy-Index value: "" is
// policy 0 (upstream's legacy policy); anything but a known index is not ok.
func ParsePolicyIndex(v string) (Policy, bool) {
	if v == "" {
		return PolicyByIndex(0)
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return Policy{}, false
	}
	return PolicyByIndex(n)
}

// RingName is the name of the policy's object ring, upstream's: "object"
// for index 0, "object-N" for the others.
func (p Policy) RingName() string {
	if p.Index == 0 {
		return "object"
	}
	return "object-" + strconv.Itoa(p.Index)
}

// DataDir is the directory of the policy's objects on each device,
// upstream's get_data_dir: "objects", "objects-N".
func (p Policy) DataDir() string {
	if p.Index == 0 {
		return "objects"
	}
	return "objects-" + strconv.Itoa(p.Index)
}
