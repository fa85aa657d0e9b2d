package agent

import (
	"context"

	"github.com/nimbus-cloud/nimbus/internal/compute"
)

// removeEvacuated removes what this host still has of an instance evacuated
// from it while it was down — its QEMU, its directory (disks, config drive,
// sockets) and its taps — and reports it, so the evacuation completes
// (upstream's _destroy_evacuated_instances at the compute service's start).
// The guest is never started again: the instance's host is another now. Only
// instances the evacuation's record names as leaving this host come here; a
// guest of an instance that merely looks unknown meets the orphan rule of
// Pass. Run again after a crash, it finds nothing left and reports again.
func (a *Agent) removeEvacuated(ctx context.Context, inst compute.AgentInstance) {
	a.opts.Log.Info("removing the guest of an instance evacuated from this host", "host", a.opts.Host, "instance", inst.UUID)
	rep := compute.AgentReport{Host: a.opts.Host, UUID: inst.UUID, Task: compute.AgentTaskEvacuated}
	if err := a.destroy(ctx, inst); err != nil {
		a.opts.Log.Warn("remove an evacuated guest", "instance", inst.UUID, "error", err)
		rep.Error = err.Error()
	}
	if err := a.opts.Controller.ReportInstance(ctx, rep); err != nil && ctx.Err() == nil {
		a.opts.Log.Warn("report an evacuated guest removed", "instance", inst.UUID, "error", err)
	}
}
