package compute

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

func (s *Service) serviceRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/os-services", Policy: "os_compute_api:os-services:list", Handler: s.listServices},
		{Method: "PUT", Path: "/v2.1/os-services/{action}", Policy: "os_compute_api:os-services:update", Handler: s.updateService},
		{Method: "DELETE", Path: "/v2.1/os-services/{id}", Policy: "os_compute_api:os-services:delete", Handler: s.deleteService},
	}
}

type serviceRow struct {
	ID                   int64
	UUID                 string
	Host, Binary, Zone   string
	Disabled, ForcedDown bool
	Reason               *string
	UpdatedAt, LastSeen  string
}

func (s *Service) listServices(r *http.Request) (httpapi.Response, error) {
	rows, err := db.QueryAll(r.Context(), s.db, scanService, `SELECT `+serviceColumns+` FROM compute_services
		UNION ALL SELECT `+controlServiceColumns+` FROM control_services ORDER BY 1`)
	if err != nil {
		return httpapi.Response{}, err
	}
	q := r.URL.Query()
	out := []map[string]any{}
	for _, v := range rows {
		if (q.Get("host") != "" && q.Get("host") != v.Host) || (q.Get("binary") != "" && q.Get("binary") != v.Binary) {
			continue
		}
		out = append(out, s.serviceView(r, v))
	}
	return httpapi.OK(map[string]any{"services": out}), nil
}

const serviceColumns = `node_id, id, host, service_binary, zone, disabled, forced_down, disabled_reason, updated_at, last_seen_at`

func scanService(sc db.Scanner) (serviceRow, error) {
	var v serviceRow
	err := sc.Scan(&v.ID, &v.UUID, &v.Host, &v.Binary, &v.Zone, &v.Disabled, &v.ForcedDown, &v.Reason, &v.UpdatedAt, &v.LastSeen)
	return v, err
}

// serviceView is a service as the request's microversion shows it: forced_down
// from 2.11, its UUID as id from 2.53.
func (s *Service) serviceView(r *http.Request, v serviceRow) map[string]any {
	status, state := "enabled", "down"
	if v.Disabled {
		status = "disabled"
	}
	if s.up(hostState{ForcedDown: v.ForcedDown, LastSeen: parseStamp(v.LastSeen)}) {
		state = "up"
	}
	var id any = v.ID
	if since(r, 53) {
		id = v.UUID
	}
	sv := map[string]any{"id": id, "binary": v.Binary, "host": v.Host, "zone": v.Zone, "status": status,
		"state": state, "updated_at": nullTime(v.LastSeen), "disabled_reason": v.Reason}
	if since(r, 11) {
		sv["forced_down"] = v.ForcedDown
	}
	return sv
}

// updateServiceByID is 2.53's PUT /os-services/{uuid} with status,
// disabled_reason and forced_down; it answers the whole service.
func (s *Service) updateServiceByID(r *http.Request) (httpapi.Response, error) {
	id := r.PathValue("action")
	if !isUUID(id) {
		return httpapi.Response{}, badRequest("Invalid uuid %s", id)
	}
	var req struct {
		Status     *string `json:"status"`
		Reason     *string `json:"disabled_reason"`
		ForcedDown any     `json:"forced_down"` // upstream's boolean: also "true", "yes", ...
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	forcedDown, err := boolField("forced_down", req.ForcedDown)
	if err != nil {
		return httpapi.Response{}, err
	}
	if req.Status == nil && req.ForcedDown == nil && req.Reason == nil {
		return httpapi.Response{}, badRequest("At least one of 'status' or 'forced_down' must be specified in the update request.")
	}
	if req.Status != nil && *req.Status != "enabled" && *req.Status != "disabled" {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute status. Value: %s. '%s' is not one of ['enabled', 'disabled']", *req.Status, *req.Status)
	}
	if req.Reason != nil && (req.Status == nil || *req.Status != "disabled") {
		return httpapi.Response{}, badRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.")
	}
	if req.Reason != nil && (*req.Reason == "" || len(*req.Reason) > 255) {
		return httpapi.Response{}, badRequest("The string containing the reason for disabling the service must be 1-255 characters.")
	}
	var v serviceRow
	err = s.db.InTx(r.Context(), func(tx *db.Tx) error {
		cur, err := scanService(tx.QueryRowContext(r.Context(), `SELECT `+serviceColumns+` FROM compute_services WHERE id = ?`, id))
		if db.IsNoRows(err) {
			var binary string
			err = tx.QueryRowContext(r.Context(), `SELECT service_binary FROM control_services WHERE id = ?`, id).Scan(&binary)
			if err == nil {
				return badRequest("Updating a %s service is not supported. Only nova-compute services can be updated.", binary)
			}
		}
		if db.IsNoRows(err) {
			return notFound("Service %s could not be found.", id)
		}
		if err != nil {
			return err
		}
		if req.Status != nil {
			cur.Disabled = *req.Status == "disabled"
			cur.Reason = nil
			if cur.Disabled {
				cur.Reason = req.Reason
			}
		}
		if req.ForcedDown != nil {
			cur.ForcedDown = forcedDown
		}
		v = cur
		_, err = tx.ExecContext(r.Context(), `UPDATE compute_services SET disabled = ?, disabled_reason = ?, forced_down = ? WHERE id = ?`,
			cur.Disabled, cur.Reason, cur.ForcedDown, id)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"service": s.serviceView(r, v)}), nil
}

// updateService is the 2.1 form: PUT /os-services/{enable,disable,
// disable-log-reason,force-down} with {"host", "binary"}.
func (s *Service) updateService(r *http.Request) (httpapi.Response, error) {
	if since(r, 53) {
		return s.updateServiceByID(r)
	}
	var req struct {
		Host       string `json:"host"`
		Binary     string `json:"binary"`
		Reason     string `json:"disabled_reason"`
		ForcedDown any    `json:"forced_down"` // upstream's boolean: also "true", "yes", ...
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	forcedDown, err := boolField("forced_down", req.ForcedDown)
	if err != nil {
		return httpapi.Response{}, err
	}
	action := r.PathValue("action")
	if req.Host == "" || req.Binary == "" {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute host and binary: both are required")
	}
	var q string
	var args []any
	table := serviceTable(req.Binary)
	body := map[string]any{"host": req.Host, "binary": req.Binary}
	switch action {
	case "enable":
		q, args = `UPDATE `+table+` SET disabled = ?, disabled_reason = NULL WHERE host = ? AND service_binary = ?`, []any{false}
		body["status"] = "enabled"
	case "disable":
		q, args = `UPDATE `+table+` SET disabled = ?, disabled_reason = NULL WHERE host = ? AND service_binary = ?`, []any{true}
		body["status"] = "disabled"
	case "disable-log-reason":
		if req.Reason == "" || len(req.Reason) > 255 {
			return httpapi.Response{}, badRequest("The string containing the reason for disabling the service must be 1-255 characters.")
		}
		q, args = `UPDATE `+table+` SET disabled = ?, disabled_reason = ? WHERE host = ? AND service_binary = ?`, []any{true, req.Reason}
		body["status"], body["disabled_reason"] = "disabled", req.Reason
	case "force-down":
		// 2.11: a service known to be down (its host fenced) is down at once,
		// without waiting out service_down_time.
		if !since(r, 11) {
			return httpapi.Response{}, versionNotFound()
		}
		if req.ForcedDown == nil {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute forced_down. 'forced_down' is a required property")
		}
		q, args = `UPDATE `+table+` SET forced_down = ? WHERE host = ? AND service_binary = ?`, []any{forcedDown}
		body["forced_down"] = forcedDown
	default:
		return httpapi.Response{}, notFound("Unknown action")
	}
	res, err := s.db.ExecContext(r.Context(), q, append(args, req.Host, req.Binary)...)
	if err != nil {
		return httpapi.Response{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return httpapi.Response{}, notFound("Host '%s' is not mapped to any cell", req.Host)
	}
	return httpapi.OK(map[string]any{"service": body}), nil
}

// deleteService is DELETE /os-services/{id} (the 2.1 integer id): the host's
// service and node go, and the host leaves its aggregates. A host still running
// instances cannot go, as upstream; a live agent registers its host again.
func (s *Service) deleteService(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	raw := r.PathValue("id")
	// The integer id before 2.53, the service's UUID from 2.53.
	column, id := "node_id", any(raw)
	if since(r, 53) {
		if !isUUID(raw) {
			return httpapi.Response{}, badRequest("Invalid uuid %s", raw)
		}
		column = "id"
	} else {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return httpapi.Response{}, badRequest("Invalid uuid %s", raw)
		}
		id = n
	}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var host string
		err := tx.QueryRowContext(ctx, `SELECT host FROM compute_services WHERE `+column+` = ?`, id).Scan(&host)
		if db.IsNoRows(err) {
			// A control service goes alone; while its conductor runs, its next
			// heartbeat registers it again, as upstream's services do.
			controlColumn := map[string]string{"node_id": "number", "id": "id"}[column]
			res, err := tx.ExecContext(ctx, `DELETE FROM control_services WHERE `+controlColumn+` = ?`, id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				return nil
			}
			return notFound("Service %s could not be found.", raw)
		}
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM instances WHERE host = ? AND deleted = ?`, host, false).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return conflict("Unable to delete compute service that is hosting instances. Migrate or delete the instances first.")
		}
		aggs, err := loadAggregates(ctx, tx)
		if err != nil {
			return err
		}
		for _, a := range aggs {
			if i := slices.Index(a.Hosts, host); i >= 0 {
				a.Hosts = slices.Delete(a.Hosts, i, i+1)
				a.UpdatedAt = stamp(s.now())
				if err := saveAggregate(ctx, tx, a); err != nil {
					return err
				}
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM compute_services WHERE host = ?`, host)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}
