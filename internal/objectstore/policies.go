package objectstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/storage"
)

// The storage policies other than Policy-0 each have an object ring of their
// own (object-N.ring.gz, upstream's name), over the same devices and object
// server: the all-in-one makes them beside object.ring.gz, with the policy's
// replica count (at most the store's), and a storage node replicates each
// policy whose ring it has.

// otherPolicies are the policies with a ring of their own besides Policy-0's.
func otherPolicies() []ring.Policy {
	var out []ring.Policy
	for _, p := range ring.Policies {
		if p.Index != 0 {
			out = append(out, p)
		}
	}
	return out
}

// ensurePolicyRings makes (on first start) or re-addresses the object rings
// of the other policies, the object server listening on objectPort.
func ensurePolicyRings(o Options, objectPort int, suffix string) (map[int]*ring.Ring, error) {
	rings := map[int]*ring.Ring{}
	for _, p := range otherPolicies() {
		po := o
		po.Replicas = min(p.Replicas, o.Replicas)
		rg, err := ensureRing(filepath.Join(o.Dir, "rings"), p.RingName(), po, objectPort, suffix)
		if err != nil {
			return nil, err
		}
		rings[p.Index] = rg
	}
	return rings, nil
}

// policyRingLoader reads the ring at path as it is now, for each pass.
func policyRingLoader(path, suffix string) func() (*ring.Ring, error) {
	return func() (*ring.Ring, error) { return ring.Load(path, "", suffix) }
}

// runPolicyReplicators replicates the other policies' objects whose rings
// are in dir, until ctx ends.
func runPolicyReplicators(ctx context.Context, wg *sync.WaitGroup, s *storage.Server, dir, suffix string,
	interval time.Duration, local storage.LocalDevices) {
	for _, p := range otherPolicies() {
		path := filepath.Join(dir, p.RingName()+".ring.gz")
		if _, err := os.Stat(path); err != nil {
			continue
		}
		wg.Go(func() { s.RunPolicyReplicator(ctx, p, interval, policyRingLoader(path, suffix), local) })
	}
}

// ReplicatePolicy runs one replication pass of policy index's objects now.
func (a *AllInOne) ReplicatePolicy(ctx context.Context, index int) (storage.ReplicationStats, error) {
	p, ok := ring.PolicyByIndex(index)
	if !ok {
		return storage.ReplicationStats{}, errors.New("no such storage policy")
	}
	rg, err := ring.Load(filepath.Join(filepath.Dir(a.objectRingPath), p.RingName()+".ring.gz"), "", a.hashSuffix)
	if err != nil {
		return storage.ReplicationStats{}, err
	}
	return a.Storage.ReplicatePolicyObjects(ctx, p, rg, a.local), nil
}
