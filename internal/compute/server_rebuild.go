package compute

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// taskRebuilding is the task of a rebuild: the host's agent destroys the guest,
// makes a new disk on the (new) image and boots it again on the same ports.
const taskRebuilding = "rebuilding"

// rebuildFields are the rebuild action's fields, each from the microversion
// that added it (0: from 2.1).
var rebuildFields = map[string]int{
	"imageRef": 0, "name": 0, "adminPass": 0, "metadata": 0, "accessIPv4": 0, "accessIPv6": 0,
	"OS-DCF:diskConfig": 0, "preserve_ephemeral": 0, "personality": 0,
	"description": 19, "key_name": 54, "user_data": 57, "trusted_image_certificates": 63, "hostname": 90,
}

type rebuildRequest struct {
	ImageRef          *string         `json:"imageRef"`
	Name              *string         `json:"name"`
	AdminPass         *string         `json:"adminPass"`
	Metadata          map[string]any  `json:"metadata"`
	AccessIPv4        *string         `json:"accessIPv4"`
	AccessIPv6        *string         `json:"accessIPv6"`
	DiskConfig        *string         `json:"OS-DCF:diskConfig"`
	PreserveEphemeral *bool           `json:"preserve_ephemeral"`
	Description       json.RawMessage `json:"description"`
	KeyName           json.RawMessage `json:"key_name"`
	UserData          json.RawMessage `json:"user_data"`
	TrustedCerts      json.RawMessage `json:"trusted_image_certificates"`
	Hostname          json.RawMessage `json:"hostname"`
}

// rebuild is the rebuild action (ACTIVE, SHUTOFF or ERROR with no task): the
// server boots again from imageRef with its ports, flavor and host; the API
// answers at once with the server in REBUILD and its new admin password.
func (s *Service) rebuild(r *http.Request, arg json.RawMessage) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:servers:rebuild")
	if err != nil {
		return httpapi.Response{}, err
	}
	req, err := parseRebuild(r, arg)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.checkLocked(r, in); err != nil {
		return httpapi.Response{}, err
	}
	image, err := s.bootImage(r.Context(), r.Header.Get("X-Auth-Token"), refID(*req.ImageRef), in.Flavor)
	if hidden := (*hiddenImage)(nil); errors.As(err, &hidden) {
		return httpapi.Response{}, badRequest("Cannot find image for rebuild")
	} else if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.checkVolumeBackedRebuild(r.Context(), in, image.ID); err != nil {
		return httpapi.Response{}, err
	}
	var key *KeyPair
	if present(req.KeyName) && !isNull(req.KeyName) {
		name, err := stringField("key_name", req.KeyName)
		if err != nil {
			return httpapi.Response{}, err
		}
		k, err := s.keypair(r, auth.FromContext(r.Context()).UserID, name)
		if err != nil {
			return httpapi.Response{}, badRequest("Invalid key_name provided.")
		}
		key = &k
	}
	adminPass := randomPassword()
	if req.AdminPass != nil {
		adminPass = *req.AdminPass
	}
	err = s.changeState(r, in, "rebuild", []string{vmActive, vmStopped, vmError}, taskRebuilding, func(_ *db.Tx, cur *instance) error {
		return applyRebuild(r, cur, req, image, key)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	view := slimBefore275(r, s.serverView(r, in, nil))
	view["adminPass"] = adminPass
	return httpapi.Response{Status: http.StatusAccepted, Body: map[string]any{"server": view}}, nil
}

// parseRebuild reads the action's argument: imageRef required, and only the
// fields the request's microversion has.
func parseRebuild(r *http.Request, arg json.RawMessage) (rebuildRequest, error) {
	var req rebuildRequest
	allowed := func(name string) bool {
		v, ok := rebuildFields[name]
		return ok && since(r, v) && !(name == "personality" && since(r, 57))
	}
	if err := decodeAction("rebuild", arg, allowed, &req); err != nil {
		return req, err
	}
	if req.ImageRef == nil {
		return req, badRequest("Invalid input for field/attribute rebuild. 'imageRef' is a required property")
	}
	if refID(*req.ImageRef) == "" {
		return req, badRequest("Invalid input for field/attribute imageRef. Value: %s.", *req.ImageRef)
	}
	if n := req.Name; n != nil && (strings.TrimSpace(*n) == "" || len(*n) > 255) {
		return req, badRequest("Invalid input for field/attribute name. Value: %s.", *n)
	}
	if d := req.DiskConfig; d != nil {
		if err := checkDiskConfig(*d); err != nil {
			return req, err
		}
	}
	if present(req.UserData) && !isNull(req.UserData) {
		data, err := stringField("user_data", req.UserData)
		if err != nil {
			return req, err
		}
		if _, err := base64.StdEncoding.DecodeString(data); err != nil || len(data) > 65535 {
			return req, badRequest("Invalid input for field/attribute user_data. Value: %s. '%s' is not a 'base64'", data, data)
		}
	}
	if present(req.TrustedCerts) && !isNull(req.TrustedCerts) {
		var certs []string
		if err := json.Unmarshal(req.TrustedCerts, &certs); err != nil {
			return req, badRequest("Invalid input for field/attribute trusted_image_certificates. Value: %s. It is not of type 'array'", req.TrustedCerts)
		}
		if len(certs) > 0 {
			return req, badRequest("Image signature certificate validation is not supported by this cloud.")
		}
	}
	return req, nil
}

// applyRebuild changes what the rebuild request names; the rest of the server
// stays as it was.
func applyRebuild(r *http.Request, in *instance, req rebuildRequest, image Image, key *KeyPair) error {
	in.ImageRef, in.Request.Image = image.ID, image
	in.Request.PreserveEphemeral = req.PreserveEphemeral != nil && *req.PreserveEphemeral
	if req.Name != nil {
		in.Name = *req.Name
	}
	if req.Metadata != nil {
		md, err := metadataField(req.Metadata)
		if err != nil {
			return err
		}
		in.Metadata = md
	}
	if v := req.AccessIPv4; v != nil {
		in.Request.AccessIPv4 = *v
	}
	if d := req.DiskConfig; d != nil {
		in.Request.DiskConfig = *d
	}
	if v := req.AccessIPv6; v != nil {
		in.Request.AccessIPv6 = *v
	}
	if present(req.Description) {
		d, err := descriptionField(req.Description)
		if err != nil {
			return err
		}
		in.Request.Description = d
	}
	if present(req.KeyName) {
		in.KeyName, in.Request.KeyData, in.Request.KeyType = "", "", ""
		if key != nil {
			in.KeyName, in.Request.KeyData, in.Request.KeyType = key.Name, key.PublicKey, key.Type
		}
	}
	if present(req.UserData) {
		in.Request.UserData = ""
		if !isNull(req.UserData) {
			in.Request.UserData, _ = stringField("user_data", req.UserData)
		}
	}
	if present(req.Hostname) {
		h, err := hostnameField(r, req.Hostname)
		if err != nil {
			return err
		}
		in.Hostname = h
	}
	return nil
}
