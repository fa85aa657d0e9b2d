package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Evacuate (nova/api/openstack/compute/evacuate.py, compute/api.py evacuate,
// conductor rebuild_instance, compute manager rebuild_instance with
// recreate=True): a server whose host's compute service is down is rebuilt on
// another host from its image (its local disks died with the host), on its own
// ports and with its volumes attached anew for the new host. The API clears
// the instance's host (task rebuilding), the conductor picks a host as for a
// build, never the source (ignore_hosts), claims there, binds the ports and
// re-attaches the volumes (task rebuild_block_device_mapping), and the new
// host's agent spawns the guest (task rebuild_spawning). When the source
// host's agent comes back it finds the instance among its evacuated ones
// (the migration record names it the source) and removes the guest it had.

// Upstream's task states of a rebuild on a new host (nova.compute.task_states).
const (
	taskRebuildBDM      = "rebuild_block_device_mapping"
	taskRebuildSpawning = "rebuild_spawning"
)

// AgentTaskEvacuated is the task an agent is given for a guest it still has
// of an instance evacuated from its host: destroy it and its taps and disks,
// then report the task (upstream's _destroy_evacuated_instances). The API
// never shows it: the instance's own task is on its new host.
const AgentTaskEvacuated = "evacuated"

// The migration statuses of an evacuation, as upstream records them:
// accepted by the API, done once rebuilt on the new host, completed once the
// source removed its guest; error when no host was found, failed when the
// rebuild failed.
const (
	evacAccepted  = "accepted"
	evacDone      = "done"
	evacCompleted = "completed"
	evacError     = "error"
	evacFailed    = "failed"
)

// evacuation is the instance's latest evacuation: upstream's migration record
// of type evacuation, kept on the instance until compute has a migrations
// table (the record the source's cleanup is guarded by). SourceCompute must
// stay the first field: the source host finds its evacuated instances by it
// (evacuatedFrom).
type evacuation struct {
	SourceCompute string `json:"source_compute"`
	ID            string `json:"uuid"`
	Status        string `json:"status"`
	DestCompute   string `json:"dest_compute,omitempty"`
	// Force: the destination was forced (before 2.29 a host given, at
	// 2.29–2.67 force true): no filters, only the claim, as upstream.
	Force bool `json:"force,omitempty"`
	// OnSharedStorage is the 2.1–2.13 flag; no host here shares storage.
	OnSharedStorage bool `json:"on_shared_storage,omitempty"`
	// TargetState is 2.95's: the server ends stopped on its new host. A
	// server stopped before the evacuation ends stopped too (OrigVMState).
	TargetState string `json:"target_state,omitempty"`
	OrigVMState string `json:"orig_vm_state"`
	// SourceCleaned: the source removed its guest before the rebuild was
	// done; the migration completes then.
	SourceCleaned bool   `json:"source_cleaned,omitempty"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
}

// evacuating says whether the instance's evacuation is under way (its new
// host not yet running it).
func (in *instance) evacuating() bool {
	e := in.Request.Evacuation
	return e != nil && e.Status == evacAccepted
}

type evacuateRequest struct {
	Host            *string `json:"host"`
	OnSharedStorage any     `json:"onSharedStorage"`
	AdminPass       *string `json:"adminPass"`
	Force           any     `json:"force"`
}

// parseEvacuate reads the action's argument with the request microversion's
// schema: onSharedStorage required until 2.13 and gone from 2.14, force from
// 2.29 to 2.67.
func parseEvacuate(r *http.Request, arg json.RawMessage) (evacuateRequest, error) {
	var req evacuateRequest
	allowed := func(name string) bool {
		switch name {
		case "host", "adminPass":
			return true
		case "onSharedStorage":
			return !since(r, 14)
		case "force":
			return since(r, 29) && !since(r, 68)
		}
		return false
	}
	if err := decodeAction("evacuate", arg, allowed, &req); err != nil {
		return req, err
	}
	if !since(r, 14) && req.OnSharedStorage == nil {
		return req, badRequest("Invalid input for field/attribute evacuate. Value: %s. 'onSharedStorage' is a required property", arg)
	}
	if h := req.Host; h != nil && (*h == "" || len(*h) > 255 || strings.ContainsAny(*h, " \t\r\n/")) {
		return req, badRequest("Invalid input for field/attribute host. Value: %s. '%s' is not a 'hostname'", *h, *h)
	}
	if p := req.AdminPass; p != nil && len(*p) > 255 {
		return req, badRequest("Invalid input for field/attribute adminPass. Value: %s. '%s' is too long", *p, *p)
	}
	return req, nil
}

// evacuate is the evacuate action (admins by default): answers 200 with the
// new admin password until 2.13, no body from 2.14, as upstream.
func (s *Service) evacuate(r *http.Request, arg json.RawMessage) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-evacuate")
	if err != nil {
		return httpapi.Response{}, err
	}
	req, err := parseEvacuate(r, arg)
	if err != nil {
		return httpapi.Response{}, err
	}
	onShared, err := boolField("onSharedStorage", req.OnSharedStorage)
	if err != nil {
		return httpapi.Response{}, err
	}
	force, err := boolField("force", req.Force)
	if err != nil {
		return httpapi.Response{}, err
	}
	host := ""
	if req.Host != nil {
		host = *req.Host
	}
	if force && host == "" {
		return httpapi.Response{}, badRequest("Can't force to a non-provided destination")
	}
	if onShared && req.AdminPass != nil {
		return httpapi.Response{}, badRequest("admin password can't be changed on existing disk")
	}
	password := ""
	switch {
	case req.AdminPass != nil:
		password = *req.AdminPass
	case since(r, 14) || !onShared:
		password = randomPassword()
	}
	hosts, err := s.hostStates(r.Context())
	if err != nil {
		return httpapi.Response{}, err
	}
	if host != "" && !slices.ContainsFunc(hosts, func(h hostState) bool { return h.Host == host }) {
		return httpapi.Response{}, notFound("Compute host %s not found.", host)
	}
	current := in.Host
	if in.evacuating() && current == "" {
		current = in.Request.Evacuation.SourceCompute // upstream keeps it until the new host takes the server
	}
	if current == host {
		return httpapi.Response{}, badRequest("The target host can't be the same one.")
	}
	record := &evacuation{ID: newUUID(), Status: evacAccepted, DestCompute: host, OnSharedStorage: onShared,
		// Before 2.29 a named host is used as it is (the conductor skips the
		// scheduler); from 2.29 only with force; from 2.68 never.
		Force: host != "" && (!since(r, 29) || force)}
	if since(r, 95) {
		record.TargetState = vmStopped
	}
	err = s.changeState(r, in, "evacuate", []string{vmActive, vmStopped, vmError}, taskRebuilding, func(_ *db.Tx, cur *instance) error {
		// The source's service is read in the same transaction that moves
		// the server, so a host that came back meanwhile keeps it.
		src, err := loadHostStates(r.Context(), s.db, `SELECT `+hostStateColumns+` FROM `+hostStateFrom+` WHERE host = ?`, cur.Host)
		if err != nil {
			return err
		}
		if len(src) == 1 && s.up(src[0]) {
			s.log.Error("instance compute service state expected to be down, but it was up", "host", cur.Host, "instance", cur.UUID)
			return badRequest("Compute service of %s is still in use.", cur.Host)
		}
		now := stamp(s.now())
		record.SourceCompute, record.OrigVMState, record.CreatedAt, record.UpdatedAt = cur.Host, cur.VMState, now, now
		cur.Request.Evacuation = record
		// No host while the conductor finds one: the source's agent, back
		// meanwhile, must not act on the server (it finds it evacuated).
		cur.Host = ""
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.wake()
	if !since(r, 14) {
		return httpapi.Response{Status: http.StatusOK, Body: map[string]any{"adminPass": nullable(password)}}, nil
	}
	return httpapi.Response{Status: http.StatusOK}, nil
}

// evacuationProbe is the instance as the scheduler sees its evacuation: the
// source host ignored (upstream's ignore_hosts), the destination the request
// named forced or requested.
func evacuationProbe(in *instance) *instance {
	probe := *in
	e := in.Request.Evacuation
	probe.Request.TriedHosts = []string{e.SourceCompute}
	probe.Request.ForcedHost, probe.Request.RequestedHost, probe.Request.RequestedNode = "", "", ""
	if e.DestCompute != "" {
		if e.Force {
			probe.Request.ForcedHost = e.DestCompute
		} else {
			probe.Request.RequestedHost = e.DestCompute
		}
	}
	return &probe
}

// scheduleEvacuation places an evacuated instance on a new host: the
// scheduler's pick (its filters, server groups included), never the source;
// the source's claim is given back in the transaction that takes the new
// one, so a crash leaves either. A claim lost to a concurrent one goes on to
// the next host as schedule does. No host: ERROR on the source host, the
// migration in error, as upstream's conductor.
func (s *Service) scheduleEvacuation(ctx context.Context, in *instance) error {
	if in.Request.Evacuation.OnSharedStorage {
		// Upstream's destination finds the instance's files not on its disk.
		return s.failEvacuation(ctx, in, evacFailed, "Invalid state of instance files on shared storage")
	}
	probe := evacuationProbe(in)
	for range maxScheduleRounds {
		hosts, err := s.hostStates(ctx)
		if err != nil {
			return err
		}
		candidates, why := s.selectHosts(ctx, hosts, probe)
		if len(candidates) == 0 {
			return s.failEvacuation(ctx, in, evacError, "No valid host was found. "+why)
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
				if cur.Deleted || cur.TaskState != taskRebuilding || cur.Host != "" || !cur.evacuating() {
					taken = true
					return nil
				}
				if err := releaseClaims(ctx, tx, cur.UUID); err != nil {
					return err
				}
				claimed, err := s.claim(ctx, tx, cur.UUID, host, cur.Flavor)
				if err != nil {
					return err
				}
				if !claimed {
					return errClaimLost
				}
				now := stamp(s.now())
				cur.Host, cur.TaskState, cur.UpdatedAt = host, taskRebuildBDM, now
				cur.AZ = s.zoneOfHost(hosts, host)
				cur.Request.Evacuation.DestCompute, cur.Request.Evacuation.UpdatedAt = host, now
				placed = cur
				return saveInstance(ctx, tx, cur)
			})
			switch {
			case errors.Is(err, errClaimLost):
				continue // rolled back: the source's claim is still held
			case err != nil:
				return err
			case taken:
				return nil
			case placed != nil:
				return s.allocateNetwork(ctx, placed)
			}
		}
		if probe.Request.ForcedHost != "" {
			return s.failEvacuation(ctx, in, evacError, "No valid host was found. There are not enough hosts available.")
		}
	}
	return fmt.Errorf("instance %s: every claim for its evacuation lost to concurrent ones in %d rounds", in.UUID, maxScheduleRounds)
}

// errClaimLost rolls back an evacuation's transaction whose claim on the new
// host lost, keeping the claim on the source it had released.
var errClaimLost = errors.New("the claim on the host was lost")

// failEvacuation ends an evacuation that is still under way in ERROR with a
// fault: before a host was found (status error) the server stays on its
// source host, as upstream; after (failed) on its new one.
func (s *Service) failEvacuation(ctx context.Context, in *instance, status, message string) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		cur, err := loadInstance(ctx, tx, in.UUID)
		if err != nil {
			return err
		}
		return s.failEvacuationTx(ctx, tx, cur, status, message)
	})
}

// failEvacuationTx is failEvacuation in the caller's transaction, on the
// instance as it read it there.
func (s *Service) failEvacuationTx(ctx context.Context, tx *db.Tx, cur *instance, status, message string) error {
	if cur.Deleted || !cur.evacuating() || !slices.Contains([]string{taskRebuilding, taskRebuildBDM, taskRebuildSpawning}, cur.TaskState) {
		return nil
	}
	now := stamp(s.now())
	if cur.Host == "" {
		cur.Host = cur.Request.Evacuation.SourceCompute
	}
	cur.Request.Evacuation.Status, cur.Request.Evacuation.UpdatedAt = status, now
	cur.VMState, cur.TaskState, cur.UpdatedAt = vmError, "", now
	cur.Fault = &fault{Code: 500, Message: message, Created: now}
	return saveInstance(ctx, tx, cur)
}

// reportEvacuation applies the new host's report of the rebuild: done, the
// server ACTIVE there (the migration done), or stopped next when it was
// stopped before or 2.95 asked for it (upstream powers it off after the
// spawn); failed, ERROR. It says whether the report was the evacuation's.
func (s *Service) reportEvacuation(ctx context.Context, tx *db.Tx, in *instance, rep AgentReport, after *func(context.Context)) (bool, error) {
	if rep.Task != taskRebuildSpawning || !in.evacuating() {
		return false, nil
	}
	if err := s.recordEvent(ctx, tx, in, rep, [2]string{"evacuate", "compute_rebuild_instance"}); err != nil {
		return true, err
	}
	now := stamp(s.now())
	e := in.Request.Evacuation
	e.UpdatedAt = now
	in.PowerState = rep.PowerState
	if rep.Error != "" {
		e.Status = evacFailed
		in.VMState, in.TaskState = vmError, ""
		in.Fault = &fault{Code: 500, Message: fmt.Sprintf("Rebuild of instance %s failed: %s", in.UUID, rep.Error), Created: now}
		return true, nil
	}
	e.Status = evacDone
	if e.SourceCleaned {
		e.Status = evacCompleted
	}
	in.VMState, in.TaskState, in.LaunchedAt = vmActive, "", now
	if e.TargetState == vmStopped || e.OrigVMState == vmStopped {
		in.TaskState = taskPoweringOff
		host := in.Host
		*after = func(context.Context) { s.kick(host) }
	}
	return true, nil
}

// evacuatedFrom are the instances evacuated from host whose guest the host
// may still have: upstream's migrations of type evacuation from it, accepted
// or done. The record is found by its first field in the request's JSON, then
// checked exactly.
func (s *Service) evacuatedFrom(ctx context.Context, host string) ([]*instance, error) {
	key, err := json.Marshal(host)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryAll(ctx, s.db, scanInstance, `SELECT `+instanceColumns+` FROM instances
		WHERE deleted = ? AND (host IS NULL OR host <> ?) AND request LIKE ?`,
		false, host, `%"evacuation":{"source_compute":`+string(key)+`,%`)
	if err != nil {
		return nil, fmt.Errorf("instances evacuated from %s: %w", host, err)
	}
	return slices.DeleteFunc(rows, func(in *instance) bool {
		e := in.Request.Evacuation
		return e == nil || e.SourceCompute != host || e.SourceCleaned || (e.Status != evacAccepted && e.Status != evacDone)
	}), nil
}

// evacuatedCleaned records that the source host removed the guest of an
// instance evacuated from it: the migration completed, as upstream's
// _destroy_evacuated_instances leaves it.
func (s *Service) evacuatedCleaned(ctx context.Context, rep AgentReport) error {
	if rep.Error != "" {
		s.log.Warn("the source host could not remove an evacuated guest", "host", rep.Host, "instance", rep.UUID, "error", rep.Error)
		return nil
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		cur, err := loadInstance(ctx, tx, rep.UUID)
		if err != nil {
			return err
		}
		e := cur.Request.Evacuation
		if e == nil || e.SourceCompute != rep.Host || (e.Status != evacAccepted && e.Status != evacDone) {
			return nil
		}
		// An evacuation still under way completes when its rebuild is done
		// (reportEvacuation finds it accepted).
		if e.Status == evacDone {
			e.Status, e.UpdatedAt = evacCompleted, stamp(s.now())
		} else {
			e.SourceCleaned = true
		}
		return saveInstance(ctx, tx, cur)
	})
}
