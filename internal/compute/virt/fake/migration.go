package fake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

var _ virt.LiveMigrator = (*Driver)(nil)

// The fake's live migration hands a guest from one fake Driver to another
// in the same process: PrepareIncoming registers the destination under a
// made-up migration port, LiveMigrate finds it there. Like QEMU's, the
// source's guest is gone once the migration completes (State: Shutdown
// until Destroy), the destination's waits paused until FinishIncoming.

var (
	endpointsMu sync.Mutex
	endpoints   = map[string]*Driver{} // "host:port" -> the destination
	nextPort    = 49152
)

// incomingState is a guest waiting for its state on a destination.
type incomingState struct {
	in virt.Incoming
}

func (d *Driver) incomingGuests() map[string]incomingState {
	if d.incoming == nil {
		d.incoming = map[string]incomingState{}
	}
	return d.incoming
}

// PrepareIncoming registers the guest as waiting here (paused).
func (d *Driver) PrepareIncoming(_ context.Context, s virt.Spec, listenHost string) (virt.Incoming, error) {
	if listenHost == "" {
		return virt.Incoming{}, errors.New("fake: no listen host")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if w, ok := d.incomingGuests()[s.UUID]; ok {
		return w.in, nil
	}
	if _, ok := d.guests[s.UUID]; ok {
		return virt.Incoming{}, fmt.Errorf("fake: guest %s already runs on this host", s.UUID)
	}
	endpointsMu.Lock()
	port := nextPort
	nextPort++
	in := virt.Incoming{Host: listenHost, MigrationPort: port, NBDPort: port + 10000}
	endpoints[fmt.Sprintf("%s:%d", listenHost, port)] = d
	endpointsMu.Unlock()
	if s.RootDisk != "" {
		in.Exports = append(in.Exports, "drive-virtio-disk0")
	}
	for i := range s.LocalDisks {
		in.Exports = append(in.Exports, fmt.Sprintf("drive-virtio-disk%d", i+1))
	}
	d.incomingGuests()[s.UUID] = incomingState{in: in}
	d.guests[s.UUID] = virt.Paused
	d.nics[s.UUID] = slices.Clone(s.NICs)
	d.guestVolumes()[s.UUID] = slices.Clone(s.Volumes)
	d.sizes[s.UUID] = [2]int{s.VCPUs, s.MemoryMB}
	d.started[s.UUID] = time.Now()
	return in, nil
}

// LiveMigrate moves the guest to the destination registered at to.
func (d *Driver) LiveMigrate(_ context.Context, s virt.Spec, to virt.Incoming, _ virt.LiveMigrationOptions, progress func(virt.MigrationProgress)) (virt.MigrationResult, error) {
	start := time.Now()
	endpointsMu.Lock()
	dst := endpoints[fmt.Sprintf("%s:%d", to.Host, to.MigrationPort)]
	endpointsMu.Unlock()
	if dst == nil {
		return virt.MigrationResult{}, fmt.Errorf("fake: nothing listens on %s:%d", to.Host, to.MigrationPort)
	}
	d.mu.Lock()
	st, ok := d.guests[s.UUID]
	mem := int64(d.sizes[s.UUID][1]) << 20
	if ok && st != virt.Running && st != virt.Paused {
		ok = false
	}
	if ok {
		d.guests[s.UUID] = virt.Shutdown
	}
	d.mu.Unlock()
	if !ok {
		return virt.MigrationResult{}, fmt.Errorf("fake: guest %s does not run here", s.UUID)
	}
	dst.mu.Lock()
	_, waiting := dst.incomingGuests()[s.UUID]
	dst.mu.Unlock()
	if !waiting {
		d.set(s, nil, st)
		return virt.MigrationResult{}, fmt.Errorf("fake: the destination does not wait for %s", s.UUID)
	}
	if progress != nil {
		progress(virt.MigrationProgress{Status: "completed", MemoryTotal: mem, MemoryProcessed: mem})
	}
	return virt.MigrationResult{Total: time.Since(start), MemoryBytes: mem}, nil
}

// FinishIncoming resumes the migrated guest (unless s.Paused).
func (d *Driver) FinishIncoming(_ context.Context, s virt.Spec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.guests[s.UUID]; !ok {
		return virt.ErrNotFound
	}
	if w, ok := d.incomingGuests()[s.UUID]; ok {
		endpointsMu.Lock()
		delete(endpoints, fmt.Sprintf("%s:%d", w.in.Host, w.in.MigrationPort))
		endpointsMu.Unlock()
		delete(d.incomingGuests(), s.UUID)
	}
	if !s.Paused {
		d.guests[s.UUID] = virt.Running
	}
	return nil
}

// AbortLiveMigration: the fake's migrations complete at once, so there is
// never one to abort.
func (d *Driver) AbortLiveMigration(context.Context, virt.Spec) error { return nil }

// ForceCompleteLiveMigration: no migration is ever under way in the fake.
func (d *Driver) ForceCompleteLiveMigration(context.Context, virt.Spec) error {
	return errors.New("fake: no live migration under way")
}

// LiveMigrationProgress reports none under way.
func (d *Driver) LiveMigrationProgress(context.Context, virt.Spec) (virt.MigrationProgress, error) {
	return virt.MigrationProgress{Status: "none"}, nil
}
