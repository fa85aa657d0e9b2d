package compute

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// rescue is the rescue action (ACTIVE, SHUTOFF or ERROR with no task): the
// host's agent stops the guest and boots it from the rescue image (the
// server's own unless rescue_image_ref names another) with the server's disk
// attached second, so a broken system can be mended; unrescue boots it from
// its own disk again. The answer is the rescue's admin password.
func (s *Service) rescue(r *http.Request, arg json.RawMessage) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-rescue")
	if err != nil {
		return httpapi.Response{}, err
	}
	var req struct {
		AdminPass      *string `json:"adminPass"`
		RescueImageRef *string `json:"rescue_image_ref"`
	}
	if len(arg) > 0 && string(arg) != "null" {
		allowed := func(name string) bool { return name == "adminPass" || name == "rescue_image_ref" }
		if err := decodeAction("rescue", arg, allowed, &req); err != nil {
			return httpapi.Response{}, err
		}
	}
	if err := s.checkLocked(r, in); err != nil {
		return httpapi.Response{}, err
	}
	imageID := in.ImageRef
	if req.RescueImageRef != nil {
		if imageID = refID(*req.RescueImageRef); imageID == "" {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute rescue_image_ref. Value: %s.", *req.RescueImageRef)
		}
	}
	image, err := s.bootImage(r.Context(), r.Header.Get("X-Auth-Token"), imageID, in.Flavor)
	if hidden := (*hiddenImage)(nil); errors.As(err, &hidden) {
		return httpapi.Response{}, badRequest("Requested rescue image '%s' is not supported", imageID)
	} else if err != nil {
		return httpapi.Response{}, err
	}
	adminPass := randomPassword()
	if req.AdminPass != nil {
		adminPass = *req.AdminPass
	}
	err = s.changeState(r, in, "rescue", []string{vmActive, vmStopped, vmError}, taskRescuing, func(_ *db.Tx, cur *instance) error {
		cur.Request.RescueImage = &image
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"adminPass": adminPass}), nil
}

// unrescue boots a rescued server from its own disk again.
func (s *Service) unrescue(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-unrescue")
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.changeState(r, in, "unrescue", []string{vmRescued}, taskUnrescuing, nil); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// changeState starts task on the instance if it is placed and in one of the
// vm_states from with no task (upstream's check_instance_host and
// check_instance_state) and not locked (check_instance_lock, admins exempt),
// applying change to it, records the action and nudges its host. The checks
// and the write are one transaction, on the instance as it is now, and the
// write changes only what the action changes (saveInstance).
func (s *Service) changeState(r *http.Request, in *instance, action string, from []string, task string,
	change func(*db.Tx, *instance) error) error {
	ctx := r.Context()
	var done *instance
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		done = nil
		cur, err := loadInstance(ctx, tx, in.UUID)
		if err != nil {
			return err
		}
		if cur.Deleted {
			return notFound("Instance %s could not be found.", cur.UUID)
		}
		if err := s.checkLocked(r, cur); err != nil {
			return err
		}
		if !slices.Contains(from, cur.VMState) {
			return invalidState(action, cur, "vm_state", cur.VMState)
		}
		if cur.TaskState != "" {
			return invalidState(action, cur, "task_state", cur.TaskState)
		}
		if cur.Host == "" {
			return conflict("Instance %s is not ready", cur.UUID)
		}
		if change != nil {
			if err := change(tx, cur); err != nil {
				return err
			}
		}
		cur.TaskState, cur.UpdatedAt = task, stamp(s.now())
		if err := saveInstance(ctx, tx, cur); err != nil {
			return err
		}
		done = cur
		return s.startAction(ctx, tx, r, cur, action)
	})
	if err != nil {
		return err
	}
	*in = *done
	s.kick(in.Host)
	return nil
}
