package volume

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

func init() { extraRouteGroups = append(extraRouteGroups, (*Service).backupRecordRoutes) }

// importVolumeID is upstream's IMPORT_VOLUME_ID: the volume an imported
// backup names, since its own is not known here.
const importVolumeID = "00000000-0000-0000-0000-000000000000"

// backupRecordRoutes are the backups API's export_record and import_record
// (admin_api): a backup's row, base64 JSON as upstream's encode_record, so
// that another deployment (or this one, after the row is gone) can use the
// stored backup again.
func (s *Service) backupRecordRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/backups/{backup_id}/export_record", Handler: s.exportBackupRecord,
			Schemas: []httpapi.Schema{{Responses: map[int]jsonschema.Schema{http.StatusOK: backupRecordResponse}}}},
		{Method: "POST", Path: "/v3/backups/import_record", Handler: s.importBackupRecord,
			Schemas: []httpapi.Schema{{Request: backupImportSchema,
				Responses: map[int]jsonschema.Schema{http.StatusCreated: rsOne("backup", rsBackupSummary)}}}},
	}
}

var backupRecordResponse = rsOne("backup-record", rsObjectOf(jsonschema.Schema{"backup_service": rsString, "backup_url": rsString},
	"backup_service", "backup_url"))

// backupImportSchema is schemas/backups.py import_record.
var backupImportSchema = jsonschema.Schema{"type": "object", "properties": map[string]any{
	"backup-record": map[string]any{"type": "object", "properties": map[string]any{
		"backup_service": map[string]any{"type": "string", "minLength": 0, "maxLength": 255},
		"backup_url":     map[string]any{"type": "string", "minLength": 1},
	}, "required": []any{"backup_service", "backup_url"}, "additionalProperties": false},
}, "required": []any{"backup-record"}, "additionalProperties": false}

// backupRecord is what export_record encodes: the backup's fields by
// upstream's names.
type backupRecord struct {
	ID                  string  `json:"id"`
	VolumeID            string  `json:"volume_id"`
	SnapshotID          *string `json:"snapshot_id"`
	DisplayName         *string `json:"display_name"`
	DisplayDescription  *string `json:"display_description"`
	Status              string  `json:"status"`
	Size                *int    `json:"size"`
	ObjectCount         int     `json:"object_count"`
	Container           *string `json:"container"`
	Service             *string `json:"service"`
	ServiceMetadata     *string `json:"service_metadata"`
	AvailabilityZone    *string `json:"availability_zone"`
	ParentID            *string `json:"parent_id"`
	NumDependentBackups int     `json:"num_dependent_backups"`
	DataTimestamp       *string `json:"data_timestamp"`
	CreatedAt           string  `json:"created_at"`
	ProjectID           string  `json:"project_id"`
	UserID              string  `json:"user_id"`
}

func (s *Service) exportBackupRecord(r *http.Request) (httpapi.Response, error) {
	b, err := s.visibleBackup(r, s.db, r.PathValue("backup_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.enforce(r, policyBackupExport, backupTarget(b)); err != nil {
		return httpapi.Response{}, err
	}
	if b.Status != backupAvailable {
		return httpapi.Response{}, badRequest("Invalid backup: Backup status must be available and not %s.", b.Status)
	}
	size := b.Size
	rec := backupRecord{ID: b.ID, VolumeID: b.VolumeID, SnapshotID: b.SnapshotID, DisplayName: b.Name,
		DisplayDescription: b.Description, Status: b.Status, Size: &size, ObjectCount: b.ObjectCount,
		Container: b.Container, Service: b.Service, ServiceMetadata: b.ServiceMetadata,
		AvailabilityZone: b.AvailabilityZone, ParentID: b.ParentID, NumDependentBackups: b.NumDependentBackups,
		DataTimestamp: b.DataTimestamp, CreatedAt: b.CreatedAt, ProjectID: b.ProjectID, UserID: b.UserID}
	data, err := json.Marshal(rec)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"backup-record": map[string]any{"backup_service": deref(b.Service),
		"backup_url": base64.StdEncoding.EncodeToString(data)}}), nil
}

// importBackupRecord is backup/api.py import_record: the record decoded (an
// id and a size required), refused when a backup with that id exists, the
// quota counted, and the row made the caller's. A backup service must be up
// to own it (503 otherwise); the stored objects are not read again here, so
// the backup is available at once.
func (s *Service) importBackupRecord(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyBackupImport, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	var body struct {
		Record struct {
			Service string `json:"backup_service"`
			URL     string `json:"backup_url"`
		} `json:"backup-record"`
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	raw, err := base64.StdEncoding.DecodeString(body.Record.URL)
	if err != nil {
		return httpapi.Response{}, badRequest("Invalid input received: Can't decode backup record.")
	}
	var rec backupRecord
	var fields map[string]any
	if json.Unmarshal(raw, &rec) != nil || json.Unmarshal(raw, &fields) != nil {
		return httpapi.Response{}, badRequest("Invalid input received: Can't parse backup record.")
	}
	if id, ok := fields["id"].(string); !ok || id == "" {
		return httpapi.Response{}, badRequest("Invalid input received: Provided backup record is missing an id")
	}
	if rec.Size == nil {
		return httpapi.Response{}, badRequest("Invalid input received: Provided backup record is missing size attribute")
	}
	if *rec.Size < 0 || rec.ObjectCount < 0 {
		// a negative size would count against backup_gigabytes the wrong way
		return httpapi.Response{}, badRequest("Invalid input received: Provided backup record has a negative size")
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM volume_backups WHERE id = ?`, rec.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return badRequest("Invalid backup: Backup already exists in database.")
		}
		if err := s.checkQuota(ctx, tx, callerProject(r), map[string]int{"backups": 1, "backup_gigabytes": *rec.Size}); err != nil {
			return err
		}
		hosts, err := db.QueryStrings(ctx, tx, `SELECT host FROM volume_services WHERE binary_name = 'cinder-backup'
			AND NOT disabled ORDER BY heartbeat_at DESC`)
		if err != nil {
			return err
		}
		var upHost string
		for _, h := range hosts {
			if up, err := backupServiceUp(ctx, tx, h, s.now()); err != nil {
				return err
			} else if up {
				upHost = h
				break
			}
		}
		if upHost == "" {
			return httpapi.Errorf(http.StatusServiceUnavailable, "Service cinder-backup could not be found.")
		}
		// an incremental backup keeps its chain when its parent is here
		var parentID *string
		if rec.ParentID != nil {
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM volume_backups WHERE id = ?`, *rec.ParentID).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				parentID = rec.ParentID
			}
		}
		now := dbTime(s.now())
		service := body.Record.Service
		_, err = tx.ExecContext(ctx, `INSERT INTO volume_backups (id, volume_id, snapshot_id, project_id, user_id, name,
			description, status, size, object_count, container, service, availability_zone, parent_id, host,
			service_metadata, data_timestamp, created_at, updated_at)
			VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			rec.ID, importVolumeID, callerProject(r), callerUser(r), rec.DisplayName, rec.DisplayDescription,
			backupAvailable, *rec.Size, rec.ObjectCount, rec.Container, service, rec.AvailabilityZone, parentID, upHost,
			rec.ServiceMetadata, rec.DataTimestamp, now, now)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	b, err := backupByID(ctx, s.db, rec.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusCreated, map[string]any{"backup": s.backupSummary(r, b)}), nil
}
