package volume

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// The image metadata actions (contrib/volume_image_metadata.py), retype
// and re-image (3.68).

const (
	policyImageMetadataSet    = "volume_extension:volume_image_metadata:set"
	policyImageMetadataRemove = "volume_extension:volume_image_metadata:remove"
	policyRetype              = "volume:retype"
	policyReimage             = "volume:reimage"
	policyReimageReserved     = "volume:reimage_reserved"
)

func init() {
	for rule, check := range map[string]string{policyImageMetadataSet: adminOrMember, policyImageMetadataRemove: adminOrMember,
		policyRetype: adminOrMember, policyReimage: adminOrMember, policyReimageReserved: adminOrMember} {
		defaultPolicies[rule] = check
	}
}

func (s *Service) moreVolumeActions() map[string]func(r *http.Request, body json.RawMessage) (httpapi.Response, error) {
	return map[string]func(r *http.Request, body json.RawMessage) (httpapi.Response, error){
		"os-set_image_metadata":   s.setImageMetadata,
		"os-unset_image_metadata": s.unsetImageMetadata,
		"os-show_image_metadata":  s.showImageMetadata,
		"os-retype":               s.retypeVolume,
		"os-reimage":              s.reimageVolume,
		"os-unmanage":             s.unmanageVolume, // manage.go
	}
}

func (s *Service) setImageMetadata(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	var in struct {
		Metadata map[string]string `json:"metadata"`
	}
	if err := decodeAction(raw, "os-set_image_metadata", &in); err != nil {
		return httpapi.Response{}, badRequest("Malformed request body.")
	}
	if in.Metadata == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute os-set_image_metadata. Value: %s. 'metadata' is a required property", raw)
	}
	if err := validExtraSpecs(in.Metadata); err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	var out map[string]string
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, policyImageMetadataSet)
		if err != nil {
			return err
		}
		if err := setKeyValues(ctx, tx, "volume_glance_metadata", "volume_id", v.ID, in.Metadata, true); err != nil {
			return err
		}
		out, err = keyValues(ctx, tx, "volume_glance_metadata", "volume_id", v.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"metadata": out}), nil
}

func (s *Service) showImageMetadata(r *http.Request, _ json.RawMessage) (httpapi.Response, error) {
	v, err := s.actionVolume(r, s.db, policyImageMetadataShow)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"metadata": v.ImageMetadata}), nil
}

func (s *Service) unsetImageMetadata(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	var in struct {
		Key *string `json:"key"`
	}
	if err := decodeAction(raw, "os-unset_image_metadata", &in); err != nil || in.Key == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute os-unset_image_metadata. Value: %s. 'key' is a required property", raw)
	}
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, policyImageMetadataRemove)
		if err != nil {
			return err
		}
		if _, ok := v.ImageMetadata[*in.Key]; !ok {
			return notFound("Glance metadata for volume %s cannot be found.", v.ID)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM volume_glance_metadata WHERE volume_id = ? AND key = ?`, v.ID, *in.Key)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(nil), nil
}

// retypeVolume changes a volume's type where its pool satisfies the new
// type (the scheduler's check of the current backend); a retype that needs
// the volume moved to another backend is refused, as Nimbus migrates no
// volumes (upstream's migration_policy "never" ends the same way).
func (s *Service) retypeVolume(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	var in struct {
		NewType         *string `json:"new_type"`
		MigrationPolicy *string `json:"migration_policy"`
	}
	if err := decodeAction(raw, "os-retype", &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.NewType == nil || *in.NewType == "" {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute os-retype. Value: %s. 'new_type' is a required property", raw)
	}
	if in.MigrationPolicy != nil && *in.MigrationPolicy != "never" && *in.MigrationPolicy != "on-demand" {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute migration_policy. Value: %s. '%s' is not one of ['on-demand', 'never']",
			*in.MigrationPolicy, *in.MigrationPolicy)
	}
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, policyRetype)
		if err != nil {
			return err
		}
		nt, err := s.resolveType(r, tx, *in.NewType)
		if err != nil {
			if httpapi.IsStatus(err, http.StatusNotFound) {
				return badRequest("Invalid volume_type passed: %s.", *in.NewType)
			}
			return err
		}
		if (v.Status != statusAvailable && v.Status != statusInUse) || nt.ID == v.VolumeTypeID {
			return badRequest("Invalid volume: Volume %s status must be available or in-use, must not be migrating, have "+
				"snapshots, be replicated, be part of a group and destination host/cluster must be different than the current "+
				"one", v.ID)
		}
		if multiattachType(nt) != v.Multiattach && v.Status != statusAvailable {
			return badRequest("Invalid volume_type passed, retypes affecting multiattach are only allowed on available "+
				"volumes, the specified volume however currently has a status of: %s.", v.Status)
		}
		candidates, err := pools(ctx, tx, s.now())
		if err != nil {
			return err
		}
		here := false
		for _, p := range candidates {
			if p.Host == v.Host && capabilitiesPass(p.Capabilities, nt.ExtraSpecs) {
				here = true
			}
		}
		if !here {
			return badRequest("Invalid volume: volume %s would have to move to another backend for type %s, and volume migration is not supported.",
				v.ID, nt.Name)
		}
		if err := s.checkQuota(ctx, tx, v.ProjectID, map[string]int{"volumes_" + nt.Name: 1, "gigabytes_" + nt.Name: v.Size}); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE volumes SET volume_type_id = ?, multiattach = ?, updated_at = ? WHERE id = ?`,
			nt.ID, multiattachType(nt), dbTime(s.now()), v.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// reimageVolume (3.68) writes an image over a volume: the volume
// "downloading" with the image recorded, which the manager then writes.
func (s *Service) reimageVolume(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	if !since(r, 68) {
		return httpapi.Response{}, badRequest("There is no such action: os-reimage")
	}
	var in struct {
		ImageID         *string `json:"image_id"`
		ReimageReserved any     `json:"reimage_reserved"`
	}
	if err := decodeAction(raw, "os-reimage", &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.ImageID == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute os-reimage. Value: %s. 'image_id' is a required property", raw)
	}
	reserved := false
	if in.ReimageReserved != nil {
		b, ok := boolFromString(in.ReimageReserved)
		if !ok {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute reimage_reserved. Value: %v.", in.ReimageReserved)
		}
		reserved = b
	}
	if s.opts.Images == nil {
		return httpapi.Response{}, badRequest("Invalid input received: no image service.")
	}
	ctx := r.Context()
	image, err := s.opts.Images.Get(ctx, r.Header.Get("X-Auth-Token"), *in.ImageID)
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && (apiErr.Status == 404 || apiErr.Status == 403) {
			return httpapi.Response{}, notFound("Image %s could not be found.", *in.ImageID)
		}
		return httpapi.Response{}, err
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, "")
		if err != nil {
			return err
		}
		rule := policyReimage
		if v.Status == statusReserved {
			rule = policyReimageReserved
		}
		if err := s.enforce(r, rule, volumeTarget(v)); err != nil {
			return err
		}
		if len(v.Attachments) > 1 {
			return conflict("Cannot re-image a volume which is attached to more than one server.")
		}
		allowed := []string{statusAvailable, statusError}
		if reserved {
			allowed = append(allowed, statusReserved)
		}
		if !contains(allowed, v.Status) {
			return badRequest("Invalid volume: Volume %s status must be %s, but current status is %s.", v.ID, strings.Join(allowed, " or "), v.Status)
		}
		if st, _ := image["status"].(string); st != "active" {
			return badRequest("Invalid input received: Image %s is not active.", *in.ImageID)
		}
		if imgGB := int((num(image["size"]) + gib - 1) / gib); imgGB > v.Size {
			return badRequest("Invalid input received: Size of specified image %d is larger than volume size %d.", imgGB, v.Size)
		}
		_, err = tx.ExecContext(ctx, `UPDATE volumes SET status = ?, previous_status = ?, image_id = ?, updated_at = ? WHERE id = ?`,
			statusDownloading, v.Status, *in.ImageID, dbTime(s.now()), v.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	return httpapi.Response{Status: http.StatusAccepted}, nil
}
