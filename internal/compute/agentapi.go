package compute

import (
	"context"
	"errors"
	"fmt"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// AgentInstance is an instance as its host's agent sees it: what to run and the
// task to carry out (the desired state).
type AgentInstance struct {
	UUID        string            `json:"uuid"`
	Name        string            `json:"name"` // the hypervisor's name, instance-%08x
	VMState     string            `json:"vm_state"`
	TaskState   string            `json:"task_state"`
	PowerState  int               `json:"power_state"`
	VCPUs       int               `json:"vcpus"`
	MemoryMB    int               `json:"memory_mb"`
	DiskGB      int               `json:"disk_gb"`
	ImageID     string            `json:"image_id"`
	ImageProps  map[string]string `json:"image_properties"`
	DiskFormat  string            `json:"disk_format"`
	Ports       []AgentPort       `json:"ports"`
	ConfigDrive bool              `json:"config_drive"`
	// Rescue is the image a rescued server boots (while rescuing and rescued).
	Rescue *AgentImage `json:"rescue,omitempty"`
	// Volumes are the instance's volumes (the root one first when it boots
	// from a volume).
	Volumes []AgentVolume `json:"volumes,omitempty"`
	// Snapshot is the image a snapshot, backup or shelve uploads the disk to.
	Snapshot *AgentImage `json:"snapshot,omitempty"`
	// LocalDisks are its ephemeral and swap disks, which the host makes;
	// PreserveEphemeral is its rebuild's preserve_ephemeral.
	LocalDisks        []LocalDisk `json:"local_disks,omitempty"`
	PreserveEphemeral bool        `json:"preserve_ephemeral,omitempty"`
}

// AgentImage is an image a guest boots from.
type AgentImage struct {
	ID         string `json:"id"`
	DiskFormat string `json:"disk_format"`
}

// AgentPort is a NIC of the instance.
type AgentPort struct {
	ID  string `json:"id"`
	MAC string `json:"mac"`
	MTU int    `json:"mtu"`
}

// AgentReport is what an agent tells of an instance: the task it finished (Task,
// or "" for a power-state observation), the power state it sees, and Error when
// the task failed.
type AgentReport struct {
	Host       string `json:"host"`
	UUID       string `json:"uuid"`
	Task       string `json:"task"`
	PowerState int    `json:"power_state"`
	Error      string `json:"error,omitempty"`
	// Next, when set, is the task state the task moved on to (a snapshot's
	// image_pending_upload, image_uploading): the task goes on.
	Next string `json:"next,omitempty"`
}

// ServiceReport is a compute agent's heartbeat with its host's resources.
type ServiceReport struct {
	Host              string `json:"host"`
	Zone              string `json:"zone,omitempty"`
	HostIP            string `json:"host_ip,omitempty"`
	VCPUs             int    `json:"vcpus"`
	MemoryMB          int    `json:"memory_mb"`
	DiskGB            int    `json:"disk_gb"`
	HypervisorType    string `json:"hypervisor_type"`
	HypervisorVersion int    `json:"hypervisor_version"`
	CPUInfo           string `json:"cpu_info,omitempty"`
}

// HostCalls are the calls the API makes to a host's agent and waits for.
type HostCalls interface {
	ConsoleOutput(ctx context.Context, host, uuid string, lines int) (string, error)
	// VNCSocket is where the guest's VNC server listens on its host.
	VNCSocket(ctx context.Context, host, uuid string) (string, error)
	// Diagnostics are the figures of the instance's guest.
	Diagnostics(ctx context.Context, host, uuid string) (virt.Diagnostics, error)
	// HostUptime is the host's uptime as uptime(1) prints it.
	HostUptime(ctx context.Context, host string) (string, error)
}

// Consoles issues the single-use tokens of the VNC console proxy
// (console.MemoryTokens) and makes their URLs.
type Consoles interface {
	// Issue returns the URL of a console on the VNC server at socket.
	Issue(socket string) (string, error)
}

// SetHostCalls plugs in how the API reaches the agents (in process or over the bus).
func (s *Service) SetHostCalls(h HostCalls) { s.hosts = h }

// HostInstances is the desired state of a host: every instance placed there and
// not yet deleted, ready for its agent (spawning, running or being changed).
func (s *Service) HostInstances(ctx context.Context, host string) ([]AgentInstance, error) {
	rows, err := db.QueryAll(ctx, s.db, scanInstance, `SELECT `+instanceColumns+` FROM instances
		WHERE host = ? AND deleted = ? AND (task_state IS NULL OR task_state NOT IN (?, ?))`, host, false, taskNetworking, taskRebuildBDM)
	if err != nil {
		return nil, err
	}
	volumes, err := s.hostVolumes(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]AgentInstance, 0, len(rows))
	for _, in := range rows {
		ai := AgentInstance{UUID: in.UUID, Name: instanceName(in.ID), VMState: in.VMState, TaskState: in.TaskState,
			PowerState: in.PowerState, VCPUs: in.Flavor.VCPUs, MemoryMB: in.Flavor.RAM, DiskGB: in.Flavor.Disk,
			ImageID: in.ImageRef, ImageProps: in.Request.Image.Properties, DiskFormat: in.Request.Image.DiskFormat,
			ConfigDrive: in.Request.ConfigDrive, Volumes: volumes[in.UUID], LocalDisks: in.Request.LocalDisks,
			PreserveEphemeral: in.Request.PreserveEphemeral}
		if img := in.Request.RescueImage; img != nil && (in.VMState == vmRescued || in.TaskState == taskRescuing) {
			ai.Rescue = &AgentImage{ID: img.ID, DiskFormat: img.DiskFormat}
		}
		agentSnapshotView(in, &ai)
		for _, p := range in.Request.Ports {
			ai.Ports = append(ai.Ports, AgentPort{ID: p.ID, MAC: p.MAC, MTU: p.MTU})
		}
		out = append(out, ai)
	}
	evacuated, err := s.evacuatedFrom(ctx, host)
	if err != nil {
		return nil, err
	}
	for _, in := range evacuated {
		ai := AgentInstance{UUID: in.UUID, Name: instanceName(in.ID), VMState: in.VMState, TaskState: AgentTaskEvacuated}
		for _, p := range in.Request.Ports {
			ai.Ports = append(ai.Ports, AgentPort{ID: p.ID, MAC: p.MAC, MTU: p.MTU})
		}
		out = append(out, ai)
	}
	return out, nil
}

// PortActive tells an agent whether the network service has wired the port
// (upstream's network-vif-plugged event, asked for instead of waited on).
func (s *Service) PortActive(ctx context.Context, portID string) (bool, error) {
	p, err := s.opts.Network.PortStatus(ctx, portID)
	if err != nil {
		return false, err
	}
	return p.Status == "ACTIVE", nil
}

// ReportService records a compute agent's heartbeat and resources; the first
// report of a host registers its service and hypervisor, under a number drawn
// before (nextIDs), so concurrent registrations never take the same one.
func (s *Service) ReportService(ctx context.Context, rep ServiceReport) error {
	if rep.Host == "" {
		return errors.New("report without a host")
	}
	now := stamp(s.now())
	zone := rep.Zone
	if zone == "" {
		zone = s.opts.DefaultAvailabilityZone
	}
	update := func(tx *db.Tx) (bool, error) {
		res, err := tx.ExecContext(ctx, `UPDATE compute_services SET last_seen_at = ?, updated_at = ?, host_ip = ?,
			hypervisor_type = ?, hypervisor_version = ?, cpu_info = ?, vcpus = ?, memory_mb = ?, local_gb = ? WHERE host = ?`,
			now, now, rep.HostIP, rep.HypervisorType, rep.HypervisorVersion, nonEmpty(rep.CPUInfo, "{}"), rep.VCPUs,
			rep.MemoryMB, rep.DiskGB, rep.Host)
		if err != nil {
			return false, fmt.Errorf("heartbeat of host %s: %w", rep.Host, err)
		}
		n, err := res.RowsAffected()
		return n > 0, err
	}
	registered := false
	if err := s.db.InTx(ctx, func(tx *db.Tx) (err error) {
		registered, err = update(tx)
		return err
	}); err != nil || registered {
		return err
	}
	number, err := nextIDs(ctx, s.db, seqServices, 1)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		// Another process may have registered the host meanwhile: then this is
		// its heartbeat, and the number drawn goes unused.
		if _, err := tx.ExecContext(ctx, `INSERT INTO compute_services (id, host, service_binary, zone, last_seen_at,
			created_at, updated_at, node_id, node_uuid, host_ip, hypervisor_type, hypervisor_version, cpu_info, vcpus,
			memory_mb, local_gb) VALUES (?, ?, 'nova-compute', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host) DO NOTHING`,
			newUUID(), rep.Host, zone, now, now, now, number, newUUID(), rep.HostIP, rep.HypervisorType, rep.HypervisorVersion,
			nonEmpty(rep.CPUInfo, "{}"), rep.VCPUs, rep.MemoryMB, rep.DiskGB); err != nil {
			return fmt.Errorf("register host %s: %w", rep.Host, err)
		}
		_, err := update(tx)
		return err
	})
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// taskDone is the vm_state a finished task leaves (upstream's compute manager).
var taskDone = map[string]string{
	taskSpawning:        vmActive,
	taskPoweringOff:     vmStopped,
	taskPoweringOn:      vmActive,
	taskRebooting:       vmActive,
	taskRebootingHard:   vmActive,
	taskPausing:         vmPaused,
	taskUnpausing:       vmActive,
	taskSuspending:      vmSuspended,
	taskResuming:        vmActive,
	taskRescuing:        vmRescued,
	taskUnrescuing:      vmActive,
	taskResizeMigrating: vmResized,
}

// ReportInstance applies an agent's report: a finished task moves the instance
// to its next state, a failed spawn is rescheduled (or ERROR after the last
// attempt), a finished delete releases everything, and an observation without a
// task syncs the power state (a guest that powered itself off is stopped). A
// report of a task the instance no longer has (a delete came meanwhile) is
// stale and changes nothing: the agent sees the new task on its next pass.
func (s *Service) ReportInstance(ctx context.Context, rep AgentReport) error {
	if rep.Task == AgentTaskEvacuated {
		return s.evacuatedCleaned(ctx, rep)
	}
	if rep.Task == taskDeleting {
		// Upstream deallocates the network before it destroys the instance, so
		// a client that sees the server gone finds its ports gone too (and can
		// delete the network at once). A crash before the delete is recorded
		// only means the agent's next report releases them again (404s).
		if in, err := loadInstance(ctx, s.db, rep.UUID); err == nil &&
			in.Host == rep.Host && !in.Deleted && in.TaskState == taskDeleting {
			s.releasePorts(ctx, in)
			s.releaseVolumes(ctx, in)
		}
	}
	var reschedule bool
	var after func(context.Context) // what follows outside the transaction
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		reschedule, after = false, nil
		in, err := loadInstance(ctx, tx, rep.UUID)
		if err != nil {
			return err
		}
		if in.Host != rep.Host || in.Deleted {
			return nil // a stale report from a host the instance left
		}
		now := s.now()
		in.UpdatedAt = stamp(now)
		if rep.Task != "" && rep.Task != in.TaskState {
			return nil // the task changed meanwhile: the agent will see the new one
		}
		if handled, err := s.reportEvacuation(ctx, tx, in, rep, &after); handled || err != nil {
			if err != nil {
				return err
			}
			return saveInstance(ctx, tx, in)
		}
		if handled, err := s.reportImageTask(ctx, tx, in, rep, &after); handled || err != nil {
			if err != nil {
				return err
			}
			return saveInstance(ctx, tx, in)
		}
		if err := s.recordTaskEvent(ctx, tx, in, rep); err != nil {
			return err
		}
		switch {
		case rep.Task == taskDeleting:
			return s.finishDelete(ctx, tx, in)
		case rep.Task == "":
			if in.TaskState != "" || in.PowerState == rep.PowerState {
				return nil
			}
			in.PowerState = rep.PowerState
			if in.VMState == vmActive && (rep.PowerState == powerShutdown || rep.PowerState == powerCrashed) {
				in.VMState = vmStopped
			}
		case rep.Error != "" && rep.Task == taskSpawning:
			in.Request.Attempts++
			in.Request.TriedHosts = append(in.Request.TriedHosts, in.Host)
			if err := releaseClaims(ctx, tx, in.UUID); err != nil {
				return err
			}
			if in.Request.Attempts < s.opts.MaxAttempts {
				in.Host, in.TaskState, in.PowerState = "", taskScheduling, powerNoState
				reschedule = true
			} else {
				in.VMState, in.TaskState = vmError, ""
				in.Fault = &fault{Code: 500, Message: fmt.Sprintf("Build of instance %s aborted: %s", in.UUID, rep.Error),
					Created: stamp(now)}
				in.Host = ""
			}
		case rep.Error != "" && rep.Task == taskRebuilding:
			// The old guest is gone: a rebuild that fails leaves ERROR, as upstream.
			in.VMState, in.TaskState, in.PowerState = vmError, "", rep.PowerState
			in.Fault = &fault{Code: 500, Message: fmt.Sprintf("Rebuild of instance %s failed: %s", in.UUID, rep.Error),
				Created: stamp(now)}
		case rep.Error != "" && (rep.Task == taskResizeMigrating || rep.Task == taskResizeReverting):
			// The guest may be on neither flavor now: ERROR, as upstream.
			in.VMState, in.TaskState, in.PowerState = vmError, "", rep.PowerState
			in.Fault = &fault{Code: 500, Message: fmt.Sprintf("Resize of instance %s failed: %s", in.UUID, rep.Error),
				Created: stamp(now)}
		case rep.Task == taskRebuilding || rep.Task == taskResizeReverting:
			// A rebuilt or reverted server is as it was before: running, or stopped.
			in.VMState, in.TaskState, in.PowerState = vmActive, "", rep.PowerState
			if rep.PowerState == powerShutdown {
				in.VMState = vmStopped
			}
			if rep.Task == taskRebuilding {
				in.LaunchedAt = stamp(now)
			}
		case rep.Error != "":
			// A failed action leaves the instance as it was, as upstream
			// reverts the task state; the action's event records the error.
			in.TaskState, in.PowerState = "", rep.PowerState
		default:
			next, ok := taskDone[rep.Task]
			if !ok {
				return fmt.Errorf("report of unknown task %q", rep.Task)
			}
			in.VMState, in.TaskState, in.PowerState = next, "", rep.PowerState
			if rep.Task == taskSpawning {
				in.LaunchedAt = stamp(now)
			}
		}
		return saveInstance(ctx, tx, in)
	})
	if err != nil {
		return err
	}
	if after != nil {
		after(ctx)
	}
	if reschedule {
		s.log.Warn("spawn failed, rescheduling", "instance", rep.UUID, "host", rep.Host, "error", rep.Error)
		s.wake()
	}
	return nil
}

// finishDelete marks the instance deleted and gives back its claims.
func (s *Service) finishDelete(ctx context.Context, tx *db.Tx, in *instance) error {
	if err := releaseClaims(ctx, tx, in.UUID); err != nil {
		return err
	}
	now := stamp(s.now())
	in.VMState, in.TaskState, in.PowerState, in.Deleted, in.TerminatedAt, in.UpdatedAt = vmDeleted, "", powerNoState, true, now, now
	return saveInstance(ctx, tx, in)
}

// releasePorts deletes the ports compute made for the instance and unbinds the
// ones its user brought; a port made for it but never bound (a server deleted
// or failed before its host was chosen) is deleted too. Failures are logged:
// the port stays, as upstream.
func (s *Service) releasePorts(ctx context.Context, in *instance) {
	bound := map[string]bool{}
	for _, p := range in.Request.Ports {
		bound[p.ID] = true
		var err error
		if p.Created {
			err = s.opts.Network.DeletePort(ctx, p.ID)
		} else {
			err = s.opts.Network.UnbindPort(ctx, p.ID)
		}
		if err != nil && !httpapi.IsStatus(err, 404) {
			s.log.Warn("release port of deleted instance", "instance", in.UUID, "port", p.ID, "error", err)
		}
	}
	for _, n := range in.Request.Networks {
		if !n.Created || bound[n.PortID] {
			continue
		}
		if err := s.opts.Network.DeletePort(ctx, n.PortID); err != nil && !httpapi.IsStatus(err, 404) {
			s.log.Warn("release port of deleted instance", "instance", in.UUID, "port", n.PortID, "error", err)
		}
	}
}
