package compute

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// vm_states and task states of shelving (nova.compute.vm_states, task_states).
const (
	vmShelved                          = "shelved"
	vmShelvedOffloaded                 = "shelved_offloaded"
	taskShelving                       = "shelving"
	taskShelvingImagePendingUpload     = "shelving_image_pending_upload"
	taskShelvingImageUploading         = "shelving_image_uploading"
	taskShelvingOffloading             = "shelving_offloading"
	taskUnshelving                     = "unshelving"
	shelveOffloadNever             int = -1
)

// shelve is the shelve action: the guest powered off, its disk uploaded as the
// image "<name>-shelved" (task shelving, shelving_image_pending_upload,
// shelving_image_uploading), SHELVED; then offloaded at once when
// shelved_offload_time is 0 (upstream's default), later when it is positive,
// never when it is negative.
func (s *Service) shelve(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-shelve:shelve")
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.checkLocked(r, in); err != nil {
		return httpapi.Response{}, err
	}
	if !slices.Contains(snapshotStates, in.VMState) {
		return httpapi.Response{}, invalidState("shelve", in, "vm_state", in.VMState)
	}
	if in.TaskState != "" {
		return httpapi.Response{}, invalidState("shelve", in, "task_state", in.TaskState)
	}
	if in.ImageRef == "" {
		// Upstream offloads a volume-backed server at once (no image): the
		// volumes' connections would have to move with it, not done here yet.
		return httpapi.Response{}, badRequest("Shelve of volume-backed instances is not supported yet.")
	}
	img, err := s.createSnapshotImage(r, in, in.Name+"-shelved", "snapshot", nil)
	if err != nil {
		return httpapi.Response{}, err
	}
	err = s.changeSnapshotState(r, in, "shelve", snapshotStates, taskShelving, true, func(cur *instance) {
		cur.Request.Snapshot = &pendingSnapshot{ImageID: img.ID, Action: "shelve"}
	})
	if err != nil {
		s.dropImage(r.Context(), "", img.ID, in.UUID)
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// shelveOffload is the shelveOffload action (admins by default): a SHELVED
// server's guest, disk and taps removed from its host, its claim given back
// and its ports unbound from the host: SHELVED_OFFLOADED, no host.
func (s *Service) shelveOffload(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-shelve:shelve_offload")
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.changeSnapshotState(r, in, "shelveOffload", []string{vmShelved}, taskShelvingOffloading, true, nil); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// unshelve is the unshelve action: a SHELVED server is powered on where it is;
// a SHELVED_OFFLOADED one is scheduled anew (in availability_zone from 2.77,
// null unpinning it from 2.91; on host from 2.91, admins only) and spawned
// from its shelved image on its own ports; the shelved image is deleted once
// it runs.
func (s *Service) unshelve(r *http.Request, arg json.RawMessage) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-shelve:unshelve")
	if err != nil {
		return httpapi.Response{}, err
	}
	var req struct {
		AZ   json.RawMessage `json:"availability_zone"`
		Host *string         `json:"host"`
	}
	if since(r, 77) && len(arg) > 0 && string(arg) != "null" {
		if err := json.Unmarshal(arg, &req); err != nil {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute unshelve.")
		}
	}
	azPassed := req.AZ != nil
	var newAZ *string // nil: unpin (2.91's null)
	if azPassed && string(req.AZ) != "null" {
		var az string
		if err := json.Unmarshal(req.AZ, &az); err != nil {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute availability_zone.")
		}
		newAZ = &az
	}
	host := ""
	if since(r, 91) && req.Host != nil {
		host = *req.Host
	}
	if err := s.checkLocked(r, in); err != nil {
		return httpapi.Response{}, err
	}
	if in.VMState != vmShelved && in.VMState != vmShelvedOffloaded {
		return httpapi.Response{}, invalidState("unshelve", in, "vm_state", in.VMState)
	}
	if (azPassed || host != "") && in.VMState != vmShelvedOffloaded {
		return httpapi.Response{}, conflict("Specifying an availability zone or a host when unshelving server \"%s\" with status \"%s\" is not supported. The server status must be SHELVED_OFFLOADED.", in.UUID, in.VMState)
	}
	if newAZ != nil {
		zones, err := s.availableZones(r.Context())
		if err != nil {
			return httpapi.Response{}, err
		}
		if !slices.Contains(zones, *newAZ) {
			return httpapi.Response{}, badRequest("The requested availability zone is not available")
		}
	}
	if host != "" {
		if err := s.enforce(r, "os_compute_api:os-shelve:unshelve_to_host",
			map[string]any{"target.project_id": in.ProjectID, "target.user_id": in.UserID}); err != nil {
			return httpapi.Response{}, err
		}
		hosts, err := s.hostStates(r.Context())
		if err != nil {
			return httpapi.Response{}, err
		}
		i := slices.IndexFunc(hosts, func(h hostState) bool { return h.Host == host })
		if i < 0 {
			return httpapi.Response{}, badRequest("Compute host %s could not be found.", host)
		}
		want := in.AZ
		if azPassed {
			want = ""
			if newAZ != nil {
				want = *newAZ
			}
		}
		if want != "" && hosts[i].zone() != want {
			return httpapi.Response{}, conflict("Host \"%s\" is not in the availability zone \"%s\".", host, want)
		}
	}
	from := []string{vmShelved, vmShelvedOffloaded}
	err = s.changeSnapshotState(r, in, "unshelve", from, taskUnshelving, true, func(cur *instance) {
		if cur.VMState != vmShelvedOffloaded {
			return
		}
		if azPassed {
			cur.AZ, cur.Request.PinnedAZ = "", ""
			if newAZ != nil {
				cur.AZ, cur.Request.PinnedAZ = *newAZ, *newAZ
			}
		}
		cur.Request.RequestedHost, cur.Request.TriedHosts, cur.Request.Attempts = host, nil, 0
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// availableZones are the zones with an enabled compute service (upstream's
// get_availability_zones with get_only_available).
func (s *Service) availableZones(ctx context.Context) ([]string, error) {
	hosts, err := s.hostStates(ctx)
	if err != nil {
		return nil, err
	}
	var zones []string
	for _, h := range hosts {
		if !h.Disabled && !slices.Contains(zones, h.zone()) {
			zones = append(zones, h.zone())
		}
	}
	return zones, nil
}
