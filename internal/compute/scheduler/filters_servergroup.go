package scheduler

// groupReq is the request's server group, indexed for per-host lookups.
type groupReq struct {
	policy string
	// on is how many members run on each host.
	on  map[string]int
	max int
}

// newGroupReq counts members per host from both sources the caller may fill:
// ServerGroup.Hosts (one entry per member) and each host's Instances that
// are Members. The larger count wins, so filling both counts a member once.
// Members may include the instances being scheduled right now (upstream's
// API adds them before scheduling); they are on no host yet, so they count
// nowhere.
func newGroupReq(g *ServerGroup, hosts []*HostState) *groupReq {
	if g == nil {
		return nil
	}
	gr := &groupReq{policy: g.Policy, on: map[string]int{}, max: g.MaxServerPerHost}
	if gr.max <= 0 {
		gr.max = 1
	}
	for _, h := range g.Hosts {
		gr.on[h]++
	}
	if len(g.Members) == 0 {
		return gr
	}
	members := set(g.Members)
	for _, h := range hosts {
		n := 0
		for uuid := range h.Instances {
			if members[uuid] {
				n++
			}
		}
		if n > gr.on[h.Name] {
			gr.on[h.Name] = n
		}
	}
	return gr
}

// movingFrom is upstream's exception for moves: the instance being placed is
// already on this host (a resize to the same host), which must not count
// against its own group.
func (r *request) movingFrom(h *HostState) bool {
	return r.uuid != "" && h.Instances[r.uuid]
}

// antiAffinityPasses is ServerGroupAntiAffinityFilter: with an anti-affinity
// group, the host must hold fewer members than max_server_per_host (1 unless
// the group's rules say otherwise).
func antiAffinityPasses(r *request, h *HostState) bool {
	g := r.group
	if g == nil || g.policy != PolicyAntiAffinity || r.movingFrom(h) {
		return true
	}
	return g.on[h.Name] < g.max
}

// affinityPasses is ServerGroupAffinityFilter: with an affinity group that
// already has members placed, the host must hold one; the first member goes
// anywhere. As upstream, when the members' only host is gone (not in the
// host list) nothing passes rather than breaking the group.
func affinityPasses(r *request, h *HostState) bool {
	g := r.group
	if g == nil || g.policy != PolicyAffinity || r.movingFrom(h) {
		return true
	}
	if len(g.on) == 0 {
		return true
	}
	return g.on[h.Name] > 0
}
