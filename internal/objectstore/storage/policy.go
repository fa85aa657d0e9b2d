package storage

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Storage policies on a storage node, as upstream's: every object request
// (the proxy's, a replicator's) names its policy in
// X-Backend-Storage-Policy-Index, and the object server keeps each policy's
// objects in their own directory on the device (objects/, objects-1/), so a
// partition of one policy never mixes with another's. A container remembers
// its policy from the PUT that created it.

// policyIndexHeader carries a request's policy between the servers.
const policyIndexHeader = "X-Backend-Storage-Policy-Index"

// requestPolicy is the request's storage policy; an index no policy has is
// 503 "No policy with index N", as upstream's get_name_and_placement.
func requestPolicy(w http.ResponseWriter, r *http.Request) (ring.Policy, bool) {
	v := r.Header.Get(policyIndexHeader)
	p, ok := ring.ParsePolicyIndex(v)
	if !ok {
		swob.Text(w, http.StatusServiceUnavailable, "No policy with index "+v)
	}
	return p, ok
}

// policyKey carries a replication pass's policy to the requests it makes.
type policyKey struct{}

// withPolicy is ctx for a pass over policy p's objects.
func withPolicy(ctx context.Context, p ring.Policy) context.Context {
	return context.WithValue(ctx, policyKey{}, p)
}

// passPolicy is the policy of the pass ctx belongs to (Policy-0 when none).
func passPolicy(ctx context.Context) ring.Policy {
	if p, ok := ctx.Value(policyKey{}).(ring.Policy); ok {
		return p
	}
	p, _ := ring.PolicyByIndex(0)
	return p
}

// setPassPolicy tags a replication request with its pass's policy.
func setPassPolicy(ctx context.Context, req *http.Request) {
	req.Header.Set(policyIndexHeader, strconv.Itoa(passPolicy(ctx).Index))
}

// ReplicatePolicyObjects runs one replication pass over policy p's objects
// on the local devices of p's ring rg.
func (s *Server) ReplicatePolicyObjects(ctx context.Context, p ring.Policy, rg *ring.Ring, local LocalDevices) ReplicationStats {
	return s.ReplicateObjects(withPolicy(ctx, p), rg, local)
}

// RunPolicyReplicator replicates policy p's objects every interval until ctx
// ends, reading p's ring anew each pass.
func (s *Server) RunPolicyReplicator(ctx context.Context, p ring.Policy, interval time.Duration, loadRing func() (*ring.Ring, error), local LocalDevices) {
	s.RunReplicator(withPolicy(ctx, p), interval, loadRing, local)
}

// isDataDir reports whether a device's directory holds a policy's objects.
func isDataDir(name string) bool {
	for _, p := range ring.Policies {
		if p.DataDir() == name {
			return true
		}
	}
	return false
}

// containerPolicyKey is where a container keeps its policy index: with its
// metadata, so the container replicators carry it to every replica (the
// newest write of it winning) and a HEAD answers it as upstream's does.
const containerPolicyKey = policyIndexHeader

// setContainerPolicy applies a container PUT's policy, as upstream's
// _update_or_create: a container created (or recreated after a delete)
// takes the requested policy, else the proxy's default; an existing one
// asked for another policy answers 409 with its own. It answers and reports
// false on a conflict.
func setContainerPolicy(w http.ResponseWriter, r *http.Request, md map[string]metadataItem, ts swob.Timestamp, created bool) bool {
	requested := r.Header.Get(policyIndexHeader)
	if created {
		index := requested
		if index == "" {
			index = r.Header.Get("X-Backend-Storage-Policy-Default")
		}
		p, ok := ring.ParsePolicyIndex(index)
		if !ok {
			p = ring.DefaultPolicy()
		}
		md[containerPolicyKey] = metadataItem{Value: strconv.Itoa(p.Index), Timestamp: ts}
		return true
	}
	current := "0"
	if item, ok := md[containerPolicyKey]; ok && item.Value != "" {
		current = item.Value
	}
	if requested != "" && requested != current {
		w.Header().Set(policyIndexHeader, current)
		swob.Error(w, http.StatusConflict)
		return false
	}
	return true
}
