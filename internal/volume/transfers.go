package volume

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Volume transfers (cinder/api/contrib/volume_transfer.py, v3/volume_transfer.py,
// cinder/transfer/api.py): the owner offers an available volume (it becomes
// awaiting-transfer) and gets an auth key once; a user of another project who
// has the transfer's id and key accepts it, and the volume (with its snapshots
// unless no_snapshots, 3.55) moves to that project, counted against its quota
// in the same transaction (413 over). The key is stored only as an HMAC-SHA256
// under a random salt (upstream keeps an HMAC-SHA1) and compared in constant
// time. /os-volume-transfer and /volume-transfers are the same API; as
// upstream's router, both answer at every microversion, the latter's create
// taking no_snapshots from 3.55.

// Rule names (cinder/policies/volume_transfer.py).
const (
	policyTransferGetAll = "volume:get_all_transfers"
	policyTransferCreate = "volume:create_transfer"
	policyTransferGet    = "volume:get_transfer"
	policyTransferAccept = "volume:accept_transfer"
	policyTransferDelete = "volume:delete_transfer"
)

const statusAwaitingTransfer = "awaiting-transfer"

func init() {
	maps.Copy(defaultPolicies, map[string]string{
		policyTransferGetAll: adminOrReader, policyTransferCreate: adminOrMember, policyTransferGet: adminOrReader,
		policyTransferAccept: adminOrMember, policyTransferDelete: adminOrMember,
	})
	extraRouteGroups = append(extraRouteGroups, (*Service).transferRoutes)
	responses := map[string]map[int]jsonschema.Schema{}
	for _, base := range []string{"/v3/os-volume-transfer", "/v3/volume-transfers"} {
		responses["POST "+base] = map[int]jsonschema.Schema{202: rsOne("transfer", rsTransfer)}
		responses["GET "+base] = map[int]jsonschema.Schema{200: rsList("transfers", rsTransferSummary)}
		responses["GET "+base+"/detail"] = map[int]jsonschema.Schema{200: rsList("transfers", rsTransfer)}
		responses["GET "+base+"/{transfer_id}"] = map[int]jsonschema.Schema{200: rsOne("transfer", rsTransfer)}
		responses["DELETE "+base+"/{transfer_id}"] = map[int]jsonschema.Schema{202: nil}
		responses["POST "+base+"/{transfer_id}/accept"] = map[int]jsonschema.Schema{202: rsOne("transfer", rsTransferSummary)}
	}
	RegisterResponses(responses)
}

var (
	rsTransferSummary = rsObjectOf(jsonschema.Schema{"id": rsString, "volume_id": rsString, "name": rsStringNull, "links": rsLinks},
		"id", "volume_id", "name", "links")
	rsTransfer = rsObjectOf(jsonschema.Schema{"id": rsString, "created_at": rsString, "name": rsStringNull,
		"volume_id": rsString, "links": rsLinks, "auth_key": rsString, "no_snapshots": rsBoolean,
		"destination_project_id": rsStringNull, "source_project_id": rsString, "accepted": rsBoolean},
		"id", "created_at", "name", "volume_id", "links")
)

func (s *Service) transferRoutes() []httpapi.Route {
	var routes []httpapi.Route
	for _, base := range []string{"/v3/os-volume-transfer", "/v3/volume-transfers"} {
		create := []httpapi.Schema{{Request: transferCreateSchema(false)}}
		if base == "/v3/volume-transfers" {
			create = versioned(func(minor int) jsonschema.Schema { return transferCreateSchema(minor >= 55) }, 55)
		}
		routes = append(routes,
			httpapi.Route{Method: "POST", Path: base, Handler: s.createTransfer(base == "/v3/volume-transfers"), Schemas: create},
			httpapi.Route{Method: "GET", Path: base, Handler: s.listTransfers(false)},
			httpapi.Route{Method: "GET", Path: base + "/detail", Handler: s.listTransfers(true)},
			httpapi.Route{Method: "GET", Path: base + "/{transfer_id}", Handler: s.showTransfer},
			httpapi.Route{Method: "DELETE", Path: base + "/{transfer_id}", Handler: s.deleteTransfer},
			httpapi.Route{Method: "POST", Path: base + "/{transfer_id}/accept", Handler: s.acceptTransfer,
				Schemas: []httpapi.Schema{{Request: transferAcceptSchema}}},
		)
	}
	return routes
}

// transferCreateSchema is schemas/volume_transfer.py create (create_v355 with no_snapshots).
func transferCreateSchema(noSnapshots bool) jsonschema.Schema {
	props := map[string]any{
		"volume_id": map[string]any{"type": "string", "format": "uuid"},
		"name": map[string]any{"oneOf": []any{map[string]any{"type": "string", "format": "name_non_mandatory_remove_white_spaces"},
			map[string]any{"type": "null"}}},
	}
	if noSnapshots {
		props["no_snapshots"] = schemaBoolean
	}
	return jsonschema.Schema{"type": "object", "properties": map[string]any{
		"transfer": map[string]any{"type": "object", "properties": props, "required": []any{"volume_id"}, "additionalProperties": false},
	}, "required": []any{"transfer"}, "additionalProperties": false}
}

var transferAcceptSchema = jsonschema.Schema{"type": "object", "properties": map[string]any{
	"accept": map[string]any{"type": "object", "properties": map[string]any{
		"auth_key": map[string]any{"type": []any{"string", "integer"}}}, "required": []any{"auth_key"}, "additionalProperties": false},
}, "required": []any{"accept"}, "additionalProperties": false}

// transfer is one row of volume_transfers.
type transfer struct {
	ID, VolumeID, Salt, Hash, SourceProject, CreatedAt string
	Name                                               *string
	NoSnapshots                                        bool
}

const transferColumns = `id, volume_id, name, salt, crypt_hash, source_project_id, no_snapshots, created_at`

func scanTransfer(sc db.Scanner) (*transfer, error) {
	t := &transfer{}
	return t, sc.Scan(&t.ID, &t.VolumeID, &t.Name, &t.Salt, &t.Hash, &t.SourceProject, &t.NoSnapshots, &t.CreatedAt)
}

// randomHex is _get_random_string: n hex digits, from the system's CSPRNG.
func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)[:n]
}

// transferHash is the stored form of an auth key: HMAC-SHA256 keyed by the salt.
func transferHash(salt, authKey string) string {
	m := hmac.New(sha256.New, []byte(salt))
	m.Write([]byte(authKey))
	return hex.EncodeToString(m.Sum(nil))
}

// transferView is the create and detail view (views/transfers.py): no_snapshots
// from 3.55, the history keys from 3.57.
func (s *Service) transferView(r *http.Request, t *transfer, authKey string) map[string]any {
	view := map[string]any{"id": t.ID, "created_at": viewTime(&t.CreatedAt), "name": nullable(t.Name), "volume_id": t.VolumeID,
		"links": s.links(r, "os-volume-transfer", t.ID)}
	if authKey != "" {
		view["auth_key"] = authKey
	}
	if since(r, 55) {
		view["no_snapshots"] = t.NoSnapshots
	}
	if since(r, 57) {
		view["destination_project_id"], view["source_project_id"], view["accepted"] = nil, t.SourceProject, false
	}
	return view
}

func (s *Service) transferSummary(r *http.Request, t *transfer) map[string]any {
	return map[string]any{"id": t.ID, "volume_id": t.VolumeID, "name": nullable(t.Name), "links": s.links(r, "os-volume-transfer", t.ID)}
}

func (s *Service) createTransfer(withSnapshotsChoice bool) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		ctx := r.Context()
		var body struct {
			Transfer struct {
				VolumeID    string  `json:"volume_id"`
				Name        *string `json:"name"`
				NoSnapshots any     `json:"no_snapshots"`
			} `json:"transfer"`
		}
		if err := decodeBody(r, &body); err != nil {
			return httpapi.Response{}, err
		}
		in := body.Transfer
		noSnapshots := false
		if withSnapshotsChoice && since(r, 55) && in.NoSnapshots != nil {
			noSnapshots, _ = boolFromString(in.NoSnapshots)
		}
		authKey, salt := randomHex(16), randomHex(8)
		t := &transfer{ID: uuid.NewString(), VolumeID: in.VolumeID, Name: cleanText(in.Name), Salt: salt,
			Hash: transferHash(salt, authKey), NoSnapshots: noSnapshots, CreatedAt: dbTime(s.now())}
		err := s.db.InTx(ctx, func(tx *db.Tx) error {
			v, err := s.visibleVolume(r, tx, in.VolumeID)
			if err != nil {
				return err
			}
			if err := s.enforce(r, policyTransferCreate, volumeTarget(v)); err != nil {
				return err
			}
			if v.Status != statusAvailable {
				return badRequest("Invalid volume: status must be available")
			}
			if !noSnapshots {
				bad, err := db.QueryStrings(ctx, tx, `SELECT id FROM volume_snapshots WHERE volume_id = ? AND status <> 'available' ORDER BY created_at`, v.ID)
				if err != nil {
					return err
				}
				if len(bad) > 0 {
					return badRequest("Invalid snapshot: snapshot: %s status must be available", bad[0])
				}
			}
			t.SourceProject = v.ProjectID
			res, err := tx.ExecContext(ctx, `UPDATE volumes SET status = ?, updated_at = ? WHERE id = ? AND status = ?`,
				statusAwaitingTransfer, t.CreatedAt, v.ID, statusAvailable)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return badRequest("Invalid volume: status must be available")
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO volume_transfers (id, volume_id, name, salt, crypt_hash, source_project_id,
				no_snapshots, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				t.ID, t.VolumeID, t.Name, t.Salt, t.Hash, t.SourceProject, t.NoSnapshots, t.CreatedAt, t.CreatedAt)
			return err
		})
		if err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.JSON(http.StatusAccepted, map[string]any{"transfer": s.transferView(r, t, authKey)}), nil
	}
}

// visibleTransfer is transfer_get: another project's transfer is not found
// (for admins too, unless the admin looks across projects).
func (s *Service) visibleTransfer(ctx context.Context, r *http.Request, q db.Querier, id string) (*transfer, error) {
	t, err := scanTransfer(q.QueryRowContext(ctx, `SELECT `+transferColumns+` FROM volume_transfers WHERE id = ?`, id))
	if db.IsNoRows(err) || err == nil && t.SourceProject != callerProject(r) && !isAdmin(r) {
		return nil, notFound("Transfer %s could not be found.", id)
	}
	return t, err
}

func (s *Service) listTransfers(detail bool) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		if err := s.enforce(r, policyTransferGetAll, s.ownTarget(r)); err != nil {
			return httpapi.Response{}, err
		}
		q := r.URL.Query()
		where, args := ` WHERE source_project_id = ?`, []any{callerProject(r)}
		if isAdmin(r) && boolParam(q.Get("all_tenants")) {
			where, args = ` WHERE 1 = 1`, nil
		}
		if name := q.Get("name"); name != "" {
			where, args = where+` AND name = ?`, append(args, name)
		}
		if vol := q.Get("volume_id"); vol != "" {
			where, args = where+` AND volume_id = ?`, append(args, vol)
		}
		p, err := parseListParams(r)
		if err != nil {
			return httpapi.Response{}, err
		}
		rows, err := db.QueryAll(r.Context(), s.db, scanTransfer, `SELECT `+transferColumns+` FROM volume_transfers`+where+
			` ORDER BY created_at, id`, args...)
		if err != nil {
			return httpapi.Response{}, err
		}
		if since(r, 59) {
			// SUPPORT_TRANSFER_PAGINATION: sort and marker as the other lists
			if err := sortTransfers(rows, p.sortKeys, p.sortDirs); err != nil {
				return httpapi.Response{}, err
			}
		} else {
			p.marker = "" // common.limited: limit and offset only
		}
		if rows, err = pageOf(rows, func(t *transfer) string { return t.ID }, p); err != nil {
			return httpapi.Response{}, err
		}
		out := make([]map[string]any, 0, len(rows))
		for _, t := range rows {
			if detail {
				out = append(out, s.transferView(r, t, ""))
			} else {
				out = append(out, s.transferSummary(r, t))
			}
		}
		return httpapi.OK(map[string]any{"transfers": out}), nil
	}
}

func (s *Service) showTransfer(r *http.Request) (httpapi.Response, error) {
	if err := s.enforce(r, policyTransferGet, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	t, err := s.visibleTransfer(r.Context(), r, s.db, r.PathValue("transfer_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"transfer": s.transferView(r, t, "")}), nil
}

func (s *Service) deleteTransfer(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		t, err := s.visibleTransfer(ctx, r, tx, r.PathValue("transfer_id"))
		if err != nil {
			return err
		}
		v, err := volumeByID(ctx, tx, t.VolumeID)
		if err != nil {
			return err
		}
		if err := s.enforce(r, policyTransferDelete, volumeTarget(v)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM volume_transfers WHERE id = ?`, t.ID); err != nil {
			return err
		}
		// transfer_destroy: the volume is available again
		_, err = tx.ExecContext(ctx, `UPDATE volumes SET status = ?, updated_at = ? WHERE id = ? AND status = ?`,
			statusAvailable, dbTime(s.now()), v.ID, statusAwaitingTransfer)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

func (s *Service) acceptTransfer(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyTransferAccept, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	var body struct {
		Accept struct {
			AuthKey any `json:"auth_key"`
		} `json:"accept"`
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	authKey := fmt.Sprint(body.Accept.AuthKey)
	if f, ok := body.Accept.AuthKey.(float64); ok {
		authKey = strconv.FormatFloat(f, 'f', -1, 64)
	}
	id := r.PathValue("transfer_id")
	project, user := callerProject(r), callerUser(r)
	var accepted *transfer
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		// transfer_get(context.elevated()): any project's transfer, by id
		t, err := scanTransfer(tx.QueryRowContext(ctx, `SELECT `+transferColumns+` FROM volume_transfers WHERE id = ?`, id))
		if db.IsNoRows(err) {
			return notFound("Transfer %s could not be found.", id)
		}
		if err != nil {
			return err
		}
		if !hmac.Equal([]byte(transferHash(t.Salt, authKey)), []byte(t.Hash)) {
			return badRequest("Invalid auth key: Attempt to transfer %s with invalid auth key.", id)
		}
		v, err := volumeByID(ctx, tx, t.VolumeID)
		if err != nil {
			return err
		}
		if v.Status != statusAwaitingTransfer {
			return badRequest("Invalid volume: status must be %s", statusAwaitingTransfer)
		}
		vt, err := typeByID(ctx, tx, v.VolumeTypeID)
		if err != nil {
			return err
		}
		if err := s.checkPerVolumeSize(ctx, tx, project, v.Size); err != nil {
			return err
		}
		deltas := volumeDeltas(vt.Name, v.Size)
		if !t.NoSnapshots {
			var n, gb int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(volume_size), 0) FROM volume_snapshots
				WHERE volume_id = ? AND use_quota`, v.ID).Scan(&n, &gb); err != nil {
				return err
			}
			if n > 0 {
				deltas["snapshots"], deltas["snapshots_"+vt.Name] = n, n
				deltas["gigabytes"] += gb
				deltas["gigabytes_"+vt.Name] += gb
			}
		}
		if project != v.ProjectID {
			if err := s.checkQuota(ctx, tx, project, deltas); err != nil {
				return err
			}
		}
		now := dbTime(s.now())
		res, err := tx.ExecContext(ctx, `DELETE FROM volume_transfers WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return notFound("Transfer %s could not be found.", id)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE volumes SET project_id = ?, user_id = ?, status = ?, updated_at = ?
			WHERE id = ? AND status = ?`, project, user, statusAvailable, now, v.ID, statusAwaitingTransfer); err != nil {
			return err
		}
		if !t.NoSnapshots {
			if _, err := tx.ExecContext(ctx, `UPDATE volume_snapshots SET project_id = ?, user_id = ?, updated_at = ?
				WHERE volume_id = ?`, project, user, now, v.ID); err != nil {
				return err
			}
		}
		accepted = t
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusAccepted, map[string]any{"transfer": s.transferSummary(r, accepted)}), nil
}

// sortTransfers sorts by the transfer columns a client may name.
func sortTransfers(rows []*transfer, keys, dirs []string) error {
	value := func(t *transfer, key string) (string, bool) {
		switch key {
		case "id":
			return t.ID, true
		case "created_at":
			return t.CreatedAt, true
		case "name", "display_name":
			return deref(t.Name), true
		case "volume_id":
			return t.VolumeID, true
		}
		return "", false
	}
	for _, k := range keys {
		if _, ok := value(&transfer{}, k); !ok {
			return badRequest("Invalid input received: Invalid sort key")
		}
	}
	slices.SortStableFunc(rows, func(a, b *transfer) int {
		for i, k := range keys {
			va, _ := value(a, k)
			vb, _ := value(b, k)
			c := strings.Compare(va, vb)
			if dirs[i] == "desc" {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	return nil
}
