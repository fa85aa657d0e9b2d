package compute

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// vm_state values (upstream nova.compute.vm_states).
const (
	vmBuilding  = "building"
	vmActive    = "active"
	vmStopped   = "stopped"
	vmPaused    = "paused"
	vmSuspended = "suspended"
	vmRescued   = "rescued"
	vmResized   = "resized"
	vmError     = "error"
	vmDeleted   = "deleted"
)

// task_state values (nova.compute.task_states) this service uses.
const (
	taskScheduling    = "scheduling"
	taskNetworking    = "networking"
	taskSpawning      = "spawning"
	taskPoweringOff   = "powering-off"
	taskPoweringOn    = "powering-on"
	taskRebooting     = "rebooting"
	taskRebootingHard = "rebooting_hard"
	taskPausing       = "pausing"
	taskUnpausing     = "unpausing"
	taskSuspending    = "suspending"
	taskResuming      = "resuming"
	taskRescuing      = "rescuing"
	taskUnrescuing    = "unrescuing"
	// A resize: the conductor claims the new flavor (prep), the agent moves
	// the guest onto it (migrating), and a revert moves it back.
	taskResizePrep      = "resize_prep"
	taskResizeMigrating = "resize_migrating"
	taskResizeReverting = "resize_reverting"
	taskDeleting        = "deleting"
)

// Power states (nova.compute.power_state), as the agents report them.
const (
	powerNoState   = 0
	powerRunning   = 1
	powerPaused    = 3
	powerShutdown  = 4
	powerCrashed   = 6
	powerSuspended = 7
)

// instance is one row of instances.
type instance struct {
	UUID         string
	ID           int64
	ProjectID    string
	UserID       string
	Name         string
	Hostname     string
	Host         string
	AZ           string
	VMState      string
	TaskState    string
	PowerState   int
	Flavor       Flavor
	ImageRef     string
	KeyName      string
	Metadata     map[string]string
	Tags         []string
	Locked       bool
	LockedBy     string
	LockedReason string
	Request      buildRequest
	Fault        *fault
	CreatedAt    string
	UpdatedAt    string
	LaunchedAt   string
	TerminatedAt string
	Deleted      bool

	// read is the row as loadInstance read it, which saveInstance writes
	// against (nil: not read from the database).
	read *instanceRead
}

// buildRequest is the rest of the create request and the build's progress.
type buildRequest struct {
	Networks         []requestedNetwork `json:"networks,omitempty"`
	SecurityGroups   []string           `json:"security_groups,omitempty"` // as requested (names)
	SecurityGroupIDs []string           `json:"security_group_ids,omitempty"`
	UserData         string             `json:"user_data,omitempty"` // base64, as given
	KeyData          string             `json:"key_data,omitempty"`
	KeyType          string             `json:"key_type,omitempty"`
	ConfigDrive      bool               `json:"config_drive,omitempty"`
	LaunchIndex      int                `json:"launch_index"`
	ReservationID    string             `json:"reservation_id"`
	AccessIPv4       string             `json:"access_ip_v4,omitempty"`
	// Password is what the guest posted to the metadata service (upstream
	// keeps it in system_metadata): os-server-password shows and clears it.
	Password string `json:"password,omitempty"`
	// DiskConfig is OS-DCF:diskConfig, AUTO or MANUAL ("" is MANUAL).
	DiskConfig  string `json:"disk_config,omitempty"`
	AccessIPv6  string `json:"access_ip_v6,omitempty"`
	Image       Image  `json:"image"`
	ServerGroup string `json:"server_group,omitempty"`
	ForcedHost  string `json:"forced_host,omitempty"`
	// RequestedHost and RequestedNode are 2.74's host and hypervisor_hostname:
	// unlike a forced host, the scheduler's filters still run.
	RequestedHost string `json:"requested_host,omitempty"`
	RequestedNode string `json:"requested_node,omitempty"`
	// NewFlavor is the flavor a resize asked for, until the conductor claims it;
	// OldFlavor is the one the server had, kept (and claimed) until the resize
	// is confirmed or reverted.
	NewFlavor *Flavor `json:"new_flavor,omitempty"`
	OldFlavor *Flavor `json:"old_flavor,omitempty"`
	// RescueImage is what a rescued server boots, its own disk attached second.
	RescueImage *Image `json:"rescue_image,omitempty"`
	// Snapshot is the image a snapshot, backup or shelve uploads to, until
	// done; ShelvedImage is a shelved server's image, what an unshelve
	// spawns from, and ShelvedAt when it was shelved (shelved_offload_time).
	Snapshot     *pendingSnapshot `json:"snapshot,omitempty"`
	ShelvedImage string           `json:"shelved_image,omitempty"`
	ShelvedAt    string           `json:"shelved_at,omitempty"`
	// Description is the server's (2.19); nil is null.
	Description *string `json:"description,omitempty"`
	// PinnedAZ is the zone the create request asked for (2.96); the instance's
	// AZ becomes its host's once scheduled.
	PinnedAZ string `json:"pinned_az,omitempty"`
	// SchedulerHints are the create request's, as 2.100 shows them.
	SchedulerHints map[string]any `json:"scheduler_hints,omitempty"`
	// Evacuation is the latest evacuation's record (server_evacuate.go).
	Evacuation *evacuation `json:"evacuation,omitempty"`
	// Attempts and TriedHosts drive rescheduling (upstream's retry filter).
	Attempts   int      `json:"attempts,omitempty"`
	TriedHosts []string `json:"tried_hosts,omitempty"`
	// Ports are the instance's ports once allocated, with what the server views
	// show (upstream's network info cache).
	Ports []instancePort `json:"ports,omitempty"`
	// RequestID is the create request's, for the instance action's events.
	RequestID string `json:"request_id,omitempty"`
	// LocalDisks are the server's ephemeral and swap disks (local_disks.go);
	// PreserveEphemeral is its last rebuild's preserve_ephemeral.
	LocalDisks        []LocalDisk `json:"local_disks,omitempty"`
	PreserveEphemeral bool        `json:"preserve_ephemeral,omitempty"`
}

// requestedNetwork is one entry of the create request's networks. Once the
// request is accepted every entry names its port: the user's own, or one the
// API made for the server as the user (Created).
type requestedNetwork struct {
	NetworkID string `json:"uuid,omitempty"`
	PortID    string `json:"port,omitempty"`
	FixedIP   string `json:"fixed_ip,omitempty"`
	// Created: the API made the port for this server, so it is deleted with
	// it; the user's own port is only unbound.
	Created bool `json:"created,omitempty"`
	// Tag is the device tag (2.32, 2.42+) the metadata API's devices show.
	Tag string `json:"tag,omitempty"`
}

// instancePort is a port of the instance (Created: made by compute, so deleted
// with the instance; a port the user brought is only unbound).
type instancePort struct {
	ID          string   `json:"id"`
	NetworkID   string   `json:"network_id"`
	NetworkName string   `json:"network_name"`
	MAC         string   `json:"mac"`
	IPs         []string `json:"ips"`
	FloatingIPs []string `json:"floating_ips,omitempty"`
	MTU         int      `json:"mtu,omitempty"`
	Created     bool     `json:"created"`
	// Tag is the device tag of an attached interface (2.49).
	Tag string `json:"tag,omitempty"`
}

type fault struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details string `json:"details,omitempty"`
	Created string `json:"created"`
}

const instanceColumns = `uuid, id, project_id, user_id, display_name, hostname, host, availability_zone, vm_state,
	task_state, power_state, flavor, image_ref, key_name, metadata, tags, locked, locked_by, locked_reason, request,
	fault, created_at, updated_at, launched_at, terminated_at, deleted`

func scanInstance(sc db.Scanner) (*instance, error) {
	var in instance
	var host, az, task, key, lockedBy, lockedReason, faultJSON, launched, terminated sql.NullString
	var flavorJSON, metaJSON, tagsJSON, reqJSON string
	if err := sc.Scan(&in.UUID, &in.ID, &in.ProjectID, &in.UserID, &in.Name, &in.Hostname, &host, &az, &in.VMState,
		&task, &in.PowerState, &flavorJSON, &in.ImageRef, &key, &metaJSON, &tagsJSON, &in.Locked, &lockedBy, &lockedReason,
		&reqJSON, &faultJSON, &in.CreatedAt, &in.UpdatedAt, &launched, &terminated, &in.Deleted); err != nil {
		return nil, err
	}
	in.Host, in.AZ, in.TaskState, in.KeyName = host.String, az.String, task.String, key.String
	in.LockedBy, in.LockedReason, in.LaunchedAt, in.TerminatedAt = lockedBy.String, lockedReason.String, launched.String, terminated.String
	for _, f := range []struct {
		raw string
		dst any
	}{{flavorJSON, &in.Flavor}, {metaJSON, &in.Metadata}, {tagsJSON, &in.Tags}, {reqJSON, &in.Request}} {
		if err := json.Unmarshal([]byte(f.raw), f.dst); err != nil {
			return nil, err
		}
	}
	if faultJSON.Valid && faultJSON.String != "" {
		in.Fault = &fault{}
		if err := json.Unmarshal([]byte(faultJSON.String), in.Fault); err != nil {
			return nil, err
		}
	}
	if in.Metadata == nil {
		in.Metadata = map[string]string{}
	}
	read := &instanceRead{values: in.columnValues()}
	read.stored = slices.Clone(read.values)
	for i, raw := range map[int]string{colFlavor: flavorJSON, colMetadata: metaJSON, colTags: tagsJSON, colRequest: reqJSON,
		colFault: faultJSON.String} {
		read.stored[i] = raw
	}
	in.read = read
	return &in, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func jsonUnmarshal(raw string, v any) error { return json.Unmarshal([]byte(raw), v) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain data is marshalled here
	}
	return string(b)
}

// querier is a *db.DB or a *db.Tx.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// loadInstance reads one instance (deleted ones too).
func loadInstance(ctx context.Context, q querier, uuid string) (*instance, error) {
	in, err := scanInstance(q.QueryRowContext(ctx, `SELECT `+instanceColumns+` FROM instances WHERE uuid = ?`, uuid))
	if db.IsNoRows(err) {
		return nil, notFound("Instance %s could not be found.", uuid)
	}
	return in, err
}

// instanceRead is an instance's row as it was read: the value of each column
// its fields made (to tell which columns a write changes) and the text stored
// in each (a JSON column's may be spelt otherwise), which the write is
// conditional on.
type instanceRead struct{ values, stored []any }

// instanceColumn is a column of instances a write may change: the value it
// stores of the instance, with "" standing for NULL in a nullable one.
type instanceColumn struct {
	name     string
	nullable bool
	value    func(in *instance) any
}

// The columns a write may change, in the order of instanceColumns; uuid, id,
// project_id, user_id and created_at never change.
const (
	colDisplayName = iota
	colHostname
	colHost
	colAZ
	colVMState
	colTaskState
	colPowerState
	colFlavor
	colImageRef
	colKeyName
	colMetadata
	colTags
	colLocked
	colLockedBy
	colLockedReason
	colRequest
	colFault
	colUpdatedAt
	colLaunchedAt
	colTerminatedAt
	colDeleted
)

var instanceWritable = []instanceColumn{
	colDisplayName:  {"display_name", false, func(in *instance) any { return in.Name }},
	colHostname:     {"hostname", false, func(in *instance) any { return in.Hostname }},
	colHost:         {"host", true, func(in *instance) any { return in.Host }},
	colAZ:           {"availability_zone", true, func(in *instance) any { return in.AZ }},
	colVMState:      {"vm_state", false, func(in *instance) any { return in.VMState }},
	colTaskState:    {"task_state", true, func(in *instance) any { return in.TaskState }},
	colPowerState:   {"power_state", false, func(in *instance) any { return in.PowerState }},
	colFlavor:       {"flavor", false, func(in *instance) any { return mustJSON(in.Flavor) }},
	colImageRef:     {"image_ref", false, func(in *instance) any { return in.ImageRef }},
	colKeyName:      {"key_name", true, func(in *instance) any { return in.KeyName }},
	colMetadata:     {"metadata", false, func(in *instance) any { return mustJSON(in.Metadata) }},
	colTags:         {"tags", false, func(in *instance) any { return mustJSON(nonNilTags(in.Tags)) }},
	colLocked:       {"locked", false, func(in *instance) any { return in.Locked }},
	colLockedBy:     {"locked_by", true, func(in *instance) any { return in.LockedBy }},
	colLockedReason: {"locked_reason", true, func(in *instance) any { return in.LockedReason }},
	colRequest:      {"request", false, func(in *instance) any { return mustJSON(in.Request) }},
	colFault:        {"fault", true, func(in *instance) any { return faultText(in.Fault) }},
	colUpdatedAt:    {"updated_at", false, func(in *instance) any { return in.UpdatedAt }},
	colLaunchedAt:   {"launched_at", true, func(in *instance) any { return in.LaunchedAt }},
	colTerminatedAt: {"terminated_at", true, func(in *instance) any { return in.TerminatedAt }},
	colDeleted:      {"deleted", false, func(in *instance) any { return in.Deleted }},
}

// stateColumns are what every write of an instance is conditional on, whatever
// it changes: the state its change was decided on (upstream's instance.save
// with expected_vm_state and expected_task_state), the host, and not deleted.
var stateColumns = []int{colDeleted, colVMState, colTaskState, colHost}

func (in *instance) columnValues() []any {
	out := make([]any, len(instanceWritable))
	for i, c := range instanceWritable {
		out[i] = c.value(in)
	}
	return out
}

func faultText(f *fault) string {
	if f == nil {
		return ""
	}
	return mustJSON(f)
}

// errInstanceChanged is a write's refusal when the instance is no longer as it
// was read: another request changed it in between (the API answers 409).
func errInstanceChanged(uuid string) error {
	return conflict("Instance %s changed while the request was being processed; please try again.", uuid)
}

// saveInstance writes the columns of in that changed since it was read, and
// only those, on the condition that the row still holds what was read: the
// instance's state (stateColumns) and each column written. Read in the same
// transaction, as every caller does, the condition holds (SQLite has one
// writer; PostgreSQL aborts a serializable transaction whose row changed
// under it, and db.InTx runs it again); an instance read earlier, outside,
// is refused with errInstanceChanged instead of writing back a stale row (a
// rename racing a delete brought deleted servers back).
func saveInstance(ctx context.Context, q querier, in *instance) error {
	if in.read == nil {
		return fmt.Errorf("save instance %s: it was not read from the database", in.UUID)
	}
	now := in.columnValues()
	stored := slices.Clone(in.read.stored)
	var set, where []string
	var setArgs, whereArgs []any
	condition := func(i int) {
		c := instanceWritable[i]
		if c.nullable {
			where, whereArgs = append(where, "COALESCE("+c.name+", '') = ?"), append(whereArgs, in.read.stored[i])
		} else {
			where, whereArgs = append(where, c.name+" = ?"), append(whereArgs, in.read.stored[i])
		}
	}
	for _, i := range stateColumns {
		condition(i)
	}
	for i, c := range instanceWritable {
		if now[i] == in.read.values[i] {
			continue
		}
		v := now[i]
		if c.nullable {
			v = nullable(v.(string))
		}
		set, setArgs = append(set, c.name+" = ?"), append(setArgs, v)
		if i != colUpdatedAt && !slices.Contains(stateColumns, i) {
			condition(i)
		}
		stored[i] = now[i]
	}
	if len(set) == 0 {
		return nil
	}
	res, err := q.ExecContext(ctx, `UPDATE instances SET `+strings.Join(set, ", ")+` WHERE uuid = ? AND `+strings.Join(where, " AND "),
		append(append(setArgs, in.UUID), whereArgs...)...)
	if err != nil {
		return fmt.Errorf("save instance %s: %w", in.UUID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("save instance %s: %w", in.UUID, err)
	} else if n != 1 {
		return errInstanceChanged(in.UUID)
	}
	// As stored now, for a further write in the same transaction.
	in.read = &instanceRead{values: now, stored: stored}
	return nil
}

// status is the API's status of an instance (nova.api.openstack.common's state map).
func (in *instance) status() string {
	switch in.VMState {
	case vmBuilding:
		return "BUILD"
	case vmActive, vmStopped:
		switch in.TaskState {
		case taskResizePrep, taskResizeMigrating:
			return "RESIZE"
		case taskRebooting:
			return "REBOOT"
		case taskRebootingHard:
			return "HARD_REBOOT"
		case taskRebuilding, taskRebuildBDM, taskRebuildSpawning:
			return "REBUILD"
		}
		if in.VMState == vmStopped {
			return "SHUTOFF"
		}
		return "ACTIVE"
	case vmPaused:
		return "PAUSED"
	case vmSuspended:
		return "SUSPENDED"
	case vmRescued:
		return "RESCUE"
	case vmShelved:
		return "SHELVED"
	case vmShelvedOffloaded:
		return "SHELVED_OFFLOADED"
	case vmResized:
		if in.TaskState == taskResizeReverting {
			return "REVERT_RESIZE"
		}
		return "VERIFY_RESIZE"
	case vmError:
		if in.TaskState == taskRebuilding || in.TaskState == taskRebuildBDM || in.TaskState == taskRebuildSpawning {
			return "REBUILD"
		}
		return "ERROR"
	case vmDeleted:
		return "DELETED"
	}
	return "UNKNOWN"
}
