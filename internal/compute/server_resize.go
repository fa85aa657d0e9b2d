package compute

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// resize is the resize action (ACTIVE or SHUTOFF with no task): the server
// moves to another flavor on its own host (upstream with
// allow_resize_to_same_host; Nimbus does not migrate disks between hosts). The
// conductor claims the new flavor (resize_prep), the agent restarts the guest
// on it with its disk grown and a copy of the old one kept (resize_migrating),
// and the server waits in VERIFY_RESIZE for confirmResize or revertResize.
func (s *Service) resize(r *http.Request, arg json.RawMessage) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:servers:resize")
	if err != nil {
		return httpapi.Response{}, err
	}
	var req struct {
		FlavorRef  any     `json:"flavorRef"`
		DiskConfig *string `json:"OS-DCF:diskConfig"`
	}
	allowed := func(name string) bool { return name == "flavorRef" || name == "OS-DCF:diskConfig" }
	if err := decodeAction("resize", arg, allowed, &req); err != nil {
		return httpapi.Response{}, err
	}
	if req.FlavorRef == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute resize. Value: %s. 'flavorRef' is a required property", arg)
	}
	flavorID := refID(req.FlavorRef)
	if flavorID == "" {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute flavorRef. Value: %v.", req.FlavorRef)
	}
	if d := req.DiskConfig; d != nil {
		if err := checkDiskConfig(*d); err != nil {
			return httpapi.Response{}, err
		}
	}
	if err := s.checkLocked(r, in); err != nil {
		return httpapi.Response{}, err
	}
	next, err := s.flavor(r.Context(), auth.FromContext(r.Context()), flavorID)
	if httpapi.IsStatus(err, http.StatusNotFound) {
		return httpapi.Response{}, badRequest("Unable to locate requested flavor.")
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	if next.Disk == 0 && in.Flavor.Disk == 0 {
		if err := s.checkZeroDisk(r, next); err != nil {
			return httpapi.Response{}, err
		}
	}
	err = s.changeState(r, in, "resize", []string{vmActive, vmStopped}, taskResizePrep, func(tx *db.Tx, cur *instance) error {
		if next.ID == cur.Flavor.ID {
			return badRequest("When resizing, instances must change flavor!")
		}
		if next.Disk == 0 && cur.Flavor.Disk != 0 {
			return badRequest("Resize to zero disk flavor is not allowed.")
		}
		if err := s.checkResizeQuota(r.Context(), tx, cur, next); err != nil {
			return err
		}
		cur.Request.NewFlavor = &next
		if d := req.DiskConfig; d != nil {
			cur.Request.DiskConfig = *d
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// checkResizeQuota refuses a resize whose larger flavor the project's cores or
// RAM quota has no room for (upstream counts only the increase).
func (s *Service) checkResizeQuota(ctx context.Context, tx *db.Tx, in *instance, next Flavor) error {
	grow := map[string]int{"cores": next.VCPUs - in.Flavor.VCPUs, "ram": next.RAM - in.Flavor.RAM}
	if grow["cores"] <= 0 && grow["ram"] <= 0 {
		return nil
	}
	limits, err := s.quotaLimits(ctx, tx, in.ProjectID)
	if err != nil {
		return err
	}
	if limits["cores"] < 0 && limits["ram"] < 0 {
		return nil
	}
	used, err := s.usage(ctx, tx, in.ProjectID)
	if err != nil {
		return err
	}
	for _, res := range []string{"cores", "ram"} {
		if limit := limits[res]; limit >= 0 && grow[res] > 0 && used[res]+grow[res] > limit {
			return forbidden("Quota exceeded for %s: Requested %d, but already used %d of %d %s", res, grow[res], used[res], limit, res)
		}
	}
	return nil
}

// prepResize is the conductor's part of a resize (upstream's prep_resize on
// the host): it claims the new flavor on the server's host beside the old one
// and hands the resize to its agent. A flavor that does not fit, or has a
// smaller disk, fails the resize: the server stays as it was, the fault and
// the action's event say why.
func (s *Service) prepResize(ctx context.Context, in *instance) error {
	handed, reason := false, ""
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		handed, reason = false, ""
		cur, err := loadInstance(ctx, tx, in.UUID)
		if err != nil || cur.TaskState != taskResizePrep || cur.Deleted {
			return err
		}
		next := cur.Request.NewFlavor
		switch {
		case next == nil:
			reason = "The resize has no flavor to go to."
		case next.Disk < cur.Flavor.Disk || next.Ephemeral < cur.ephemeralGB():
			reason = "Unable to resize disk down."
		default:
			claimed, err := s.claim(ctx, tx, cur.UUID, cur.Host, *next)
			if err != nil {
				return err
			}
			if !claimed {
				reason = fmt.Sprintf("No valid host was found. There are not enough resources on host %s for flavor %s.", cur.Host, next.Name)
			}
		}
		now := stamp(s.now())
		cur.Request.NewFlavor, cur.UpdatedAt = nil, now
		report := AgentReport{Host: cur.Host, UUID: cur.UUID, Task: taskResizePrep, Error: reason}
		if err := s.recordTaskEvent(ctx, tx, cur, report); err != nil {
			return err
		}
		if reason != "" {
			cur.TaskState = ""
			cur.Fault = &fault{Code: 500, Message: reason, Created: now}
			return saveInstance(ctx, tx, cur)
		}
		old := cur.Flavor
		cur.Flavor, cur.Request.OldFlavor, cur.TaskState = *next, &old, taskResizeMigrating
		handed = true
		return saveInstance(ctx, tx, cur)
	})
	if err != nil {
		return err
	}
	if reason != "" {
		s.log.Warn("resize failed", "instance", in.UUID, "host", in.Host, "reason", reason)
	}
	if handed {
		s.kick(in.Host)
	}
	return nil
}

// confirmResize keeps the new flavor: the old one's claim is given back and the
// server is ACTIVE (or SHUTOFF) at once; its agent drops the copy of the old
// disk on its next pass.
func (s *Service) confirmResize(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:servers:confirm_resize")
	if err != nil {
		return httpapi.Response{}, err
	}
	err = s.changeState(r, in, "confirmResize", []string{vmResized}, "", func(tx *db.Tx, cur *instance) error {
		if cur.Request.OldFlavor == nil {
			return badRequest("Instance has not been resized.")
		}
		if err := releaseClaims(r.Context(), tx, cur.UUID, cur.Request.OldFlavor.ID); err != nil {
			return err
		}
		cur.Request.OldFlavor, cur.VMState = nil, vmActive
		if cur.PowerState == powerShutdown || cur.PowerState == powerCrashed {
			cur.VMState = vmStopped
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusNoContent}, nil
}

// revertResize goes back to the old flavor: the new one's claim is given back
// and the agent restarts the guest on the old flavor and its old disk
// (resize_reverting, REVERT_RESIZE).
func (s *Service) revertResize(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:servers:revert_resize")
	if err != nil {
		return httpapi.Response{}, err
	}
	err = s.changeState(r, in, "revertResize", []string{vmResized}, taskResizeReverting, func(tx *db.Tx, cur *instance) error {
		if cur.Request.OldFlavor == nil {
			return badRequest("Instance has not been resized.")
		}
		if err := releaseClaims(r.Context(), tx, cur.UUID, cur.Flavor.ID); err != nil {
			return err
		}
		cur.Flavor, cur.Request.OldFlavor = *cur.Request.OldFlavor, nil
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}
