package compute

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// Run is the conductor: it places instances waiting in scheduling, allocates
// their ports and hands them to their host's agent, finishes deletes of
// instances no host has, and repeats on every change and every few seconds, so a
// crash at any step resumes where it stopped (level-triggered, DESIGN.md).
func (s *Service) Run(ctx context.Context) {
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		s.heartbeat(ctx)
	}()
	defer func() { <-beat }()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		if err := s.conduct(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("conductor pass", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.work:
		case <-tick.C:
		}
	}
}

// conduct is one pass over the instances that need the conductor.
func (s *Service) conduct(ctx context.Context) error {
	if err := s.offloadShelved(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("offload shelved servers", "error", err)
	}
	pending, err := db.QueryAll(ctx, s.db, scanInstance, `SELECT `+instanceColumns+` FROM instances
		WHERE deleted = ? AND (task_state IN (?, ?, ?, ?) OR (task_state IN (?, ?, ?) AND host IS NULL)) ORDER BY created_at`,
		false, taskScheduling, taskNetworking, taskResizePrep, taskRebuildBDM, taskDeleting, taskUnshelving, taskRebuilding)
	if err != nil {
		return err
	}
	// Instances are worked on conductWorkers at a time: most of a boot is waiting
	// for the network service, and claims stay exact under concurrency (claim is
	// conditional on the usage it read). The pass ends when all are done, so two
	// passes of this conductor never overlap.
	sem := make(chan struct{}, conductWorkers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, in := range pending {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case sem <- struct{}{}:
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			var err error
			switch in.TaskState {
			case taskDeleting:
				err = s.deleteUnplaced(ctx, in)
			case taskScheduling, taskUnshelving:
				err = s.schedule(ctx, in)
			case taskNetworking, taskRebuildBDM:
				err = s.allocateNetwork(ctx, in)
			case taskRebuilding:
				err = s.scheduleEvacuation(ctx, in)
			case taskResizePrep:
				err = s.prepResize(ctx, in)
			}
			if err != nil && ctx.Err() == nil {
				s.log.Warn("conductor", "instance", in.UUID, "task", in.TaskState, "error", err)
			}
		}()
	}
	return nil
}

// conductWorkers is how many instances a conductor pass works on at once.
const conductWorkers = 8

// wake tells the conductor there is work, and no agent: what changed concerns
// no host yet (an instance to schedule, or one deleted before it had a host).
func (s *Service) wake() {
	select {
	case s.work <- struct{}{}:
	default:
	}
}

// deleteUnplaced finishes the delete of an instance no agent runs.
// Its ports go first, as in ReportInstance.
func (s *Service) deleteUnplaced(ctx context.Context, in *instance) error {
	unplacedDeleting := func(cur *instance) bool {
		return !cur.Deleted && cur.Host == "" && cur.TaskState == taskDeleting
	}
	cur, err := loadInstance(ctx, s.db, in.UUID)
	if err != nil || !unplacedDeleting(cur) {
		return err
	}
	s.releasePorts(ctx, cur)
	s.releaseVolumes(ctx, cur)
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		cur, err := loadInstance(ctx, tx, in.UUID)
		if err != nil || !unplacedDeleting(cur) {
			return err
		}
		return s.finishDelete(ctx, tx, cur)
	})
}

// schedule picks a host for the instance and claims its resources there. The
// hosts are chosen on host states read outside any transaction; each claim
// checks its host again in its own (claim), and a claim that loses to a
// concurrent one (another instance, another conductor) goes on to the next
// host, then to a new selection on fresh states, as upstream retries a
// placement claim on a generation conflict. Only a selection that finds no
// host is "No valid host was found" and ERROR, as upstream; an instance
// another conductor took is left to it.
func (s *Service) schedule(ctx context.Context, in *instance) error {
	for range maxScheduleRounds {
		hosts, err := s.hostStates(ctx)
		if err != nil {
			return err
		}
		candidates, why := s.selectHosts(ctx, hosts, in)
		if len(candidates) == 0 {
			return s.failBuild(ctx, in, in.TaskState, "No valid host was found. "+why)
		}
		for _, host := range candidates {
			var placed *instance
			taken := false
			err := s.db.InTx(ctx, func(tx *db.Tx) error {
				placed, taken = nil, false
				cur, err := loadInstance(ctx, tx, in.UUID)
				if err != nil {
					return err
				}
				if cur.TaskState != in.TaskState || cur.Deleted {
					taken = true
					return nil
				}
				claimed, err := s.claim(ctx, tx, cur.UUID, host, cur.Flavor)
				if err != nil || !claimed {
					return err
				}
				cur.Host, cur.TaskState, cur.UpdatedAt = host, taskNetworking, stamp(s.now())
				if cur.AZ == "" {
					cur.AZ = s.zoneOfHost(hosts, host)
				}
				placed = cur
				return saveInstance(ctx, tx, cur)
			})
			switch {
			case err != nil:
				return err
			case taken:
				return nil
			case placed != nil:
				return s.allocateNetwork(ctx, placed)
			}
		}
		if in.Request.ForcedHost != "" {
			// A forced host skips the filters, so selecting again finds it again:
			// it has no room, as upstream's placement answers for it.
			return s.failBuild(ctx, in, in.TaskState, "No valid host was found. There are not enough hosts available.")
		}
	}
	// Every round's hosts filled up before the claim: they are busy, not full
	// (each selection, on fresh states, still found room, and the filters are
	// the claim's own rule). The next pass tries again.
	return fmt.Errorf("instance %s: every claim lost to concurrent ones in %d rounds", in.UUID, maxScheduleRounds)
}

// maxScheduleRounds bounds how often one pass selects hosts again for an
// instance whose claims all lost.
const maxScheduleRounds = 10

// failBuild puts a building instance whose task is still task in ERROR with a
// fault, and gives back what it claimed (a task that moved on is another
// conductor's).
func (s *Service) failBuild(ctx context.Context, in *instance, task, message string) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		cur, err := loadInstance(ctx, tx, in.UUID)
		if err == nil && cur.evacuating() {
			return s.failEvacuationTx(ctx, tx, cur, evacFailed, message)
		}
		if err == nil && cur.VMState == vmShelvedOffloaded && cur.TaskState == task && !cur.Deleted {
			// An unshelve that found no host leaves the server offloaded, as upstream.
			cur.TaskState, cur.UpdatedAt = "", stamp(s.now())
			cur.Fault = &fault{Code: 500, Message: message, Created: cur.UpdatedAt}
			return saveInstance(ctx, tx, cur)
		}
		if err != nil || cur.VMState != vmBuilding || cur.TaskState != task || cur.Deleted {
			return err
		}
		if err := releaseClaims(ctx, tx, cur.UUID); err != nil {
			return err
		}
		now := stamp(s.now())
		cur.VMState, cur.TaskState, cur.Host, cur.UpdatedAt = vmError, "", "", now
		cur.Fault = &fault{Code: 500, Message: message, Created: now}
		return saveInstance(ctx, tx, cur)
	})
}

// allocateNetwork binds the instance's ports to its host, then hands it to the
// host's agent (task spawning). The ports were made with the user's token when
// the server was created (makePorts); the conductor makes none with its own
// credentials, it only binds (an admin's act, as upstream). Each port is
// recorded as soon as it is bound, so a conductor that crashes here binds it
// again (binding is idempotent) instead of recording it twice; the last one is
// recorded by the write that hands the instance on (one commit fewer per boot:
// SQLite commits one at a time, each an fsync). A port is recorded only while
// the instance is still being networked on that host: one deleted or
// rescheduled meanwhile has its port given back instead.
func (s *Service) allocateNetwork(ctx context.Context, in *instance) error {
	// The volumes first: one still being made keeps the instance here until
	// the next pass.
	if ready, err := s.allocateVolumes(ctx, in); err != nil || !ready {
		return err
	}
	owner := "compute:" + s.zoneOf(in)
	// Ports bound for an earlier host (a reschedule) are bound to this one.
	have := map[int]bool{}
	for i, p := range in.Request.Ports {
		have[i] = true
		if _, err := s.opts.Network.BindPort(ctx, p.ID, in.UUID, owner, in.Host); err != nil {
			return err
		}
	}
	var last *instancePort // bound, not yet recorded
	for i, n := range in.Request.Networks {
		if have[i] {
			continue
		}
		if last != nil {
			if err := s.recordPort(ctx, in, *last); err != nil {
				return err
			}
			last = nil
		}
		if n.PortID == "" {
			// Requested before the API made ports (an older Nimbus): the
			// conductor makes none with its own credentials.
			return s.failBuild(ctx, in, taskNetworking, fmt.Sprintf("Build of instance %s aborted: Failed to allocate the network(s): no port was made on network %s", in.UUID, n.NetworkID))
		}
		p, err := s.opts.Network.BindPort(ctx, n.PortID, in.UUID, owner, in.Host)
		if err != nil {
			return s.failBuild(ctx, in, taskNetworking, fmt.Sprintf("Build of instance %s aborted: Failed to allocate the network(s): %s", in.UUID, errMessage(err)))
		}
		ip := instancePort{ID: p.ID, NetworkID: p.NetworkID, MAC: p.MAC, Created: n.Created}
		for _, f := range p.FixedIPs {
			ip.IPs = append(ip.IPs, f.IP.String())
		}
		last = &ip
		net, err := s.opts.Network.GetNetwork(ctx, "", p.NetworkID)
		if err != nil {
			// Recorded without the network's name and MTU, rather than bound again.
			return errors.Join(err, s.recordPort(ctx, in, ip))
		}
		ip.NetworkName, ip.MTU = net.Name, net.MTU
	}
	if last != nil {
		return s.recordPort(ctx, in, *last, taskSpawning)
	}
	return s.recordPort(ctx, in, instancePort{}, taskSpawning)
}

// recordPort adds a port the instance now has to its record (none when p has
// no id), and with next moves its task on: the write that hands a built
// instance to its agent. An instance no longer being networked on its host
// (deleted, or another conductor's) is left as it is and the port given back.
func (s *Service) recordPort(ctx context.Context, in *instance, p instancePort, next ...string) error {
	var handed, moved *instance
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		handed, moved = nil, nil
		cur, err := loadInstance(ctx, tx, in.UUID)
		if err != nil {
			return err
		}
		if cur.Deleted || cur.TaskState != in.TaskState || cur.Host != in.Host {
			moved = cur
			return nil
		}
		if p.ID != "" && !slices.ContainsFunc(cur.Request.Ports, func(q instancePort) bool { return q.ID == p.ID }) {
			cur.Request.Ports = append(cur.Request.Ports, p)
		}
		if len(next) > 0 {
			cur.TaskState = next[0]
			if cur.evacuating() {
				cur.TaskState = taskRebuildSpawning
			}
		}
		cur.UpdatedAt = stamp(s.now())
		if err := saveInstance(ctx, tx, cur); err != nil {
			return err
		}
		handed = cur
		return nil
	})
	switch {
	case err != nil:
		return err
	case moved != nil:
		if p.ID != "" && moved.Deleted {
			s.releasePort(ctx, moved, p)
		}
		return nil
	}
	*in = *handed
	if len(next) > 0 {
		s.kick(in.Host)
	}
	return nil
}
