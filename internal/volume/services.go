package volume

import (
	"context"
	"net/http"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

func init() { extraRouteGroups = append(extraRouteGroups, (*Service).serviceRoutes) }

// serviceRoutes are cinder/api/v3/services.py (os-services with the
// os-extended-services keys) and contrib/scheduler_stats.py, the admin's.
func (s *Service) serviceRoutes() []httpapi.Route {
	enableSchema := []httpapi.Schema{{Request: serviceToggleSchema(false)}}
	return withSnapshotBackupResponses([]httpapi.Route{
		{Method: "GET", Path: "/v3/os-services", Handler: s.listServices},
		{Method: "PUT", Path: "/v3/os-services/enable", Handler: s.enableService, Schemas: enableSchema},
		{Method: "PUT", Path: "/v3/os-services/disable", Handler: s.disableService, Schemas: enableSchema},
		{Method: "PUT", Path: "/v3/os-services/disable-log-reason", Handler: s.disableServiceWithReason,
			Schemas: []httpapi.Schema{{Request: serviceToggleSchema(true)}}},
		{Method: "GET", Path: "/v3/scheduler-stats/get_pools", Handler: s.getPools},
	})
}

// serviceToggleSchema is schemas/services.py enable_and_disable (and
// disable_log_reason with the reason).
func serviceToggleSchema(reason bool) jsonschema.Schema {
	str := map[string]any{"type": "string", "minLength": 1, "maxLength": 255}
	props := map[string]any{"binary": str, "service": str,
		"host":    map[string]any{"type": []any{"string", "null"}, "minLength": 1, "maxLength": 255},
		"cluster": map[string]any{"type": []any{"string", "null"}, "minLength": 0, "maxLength": 255}}
	if reason {
		props["disabled_reason"] = str
	}
	return jsonschema.Schema{"type": "object", "properties": props, "additionalProperties": false,
		"anyOf": []any{map[string]any{"required": []any{"binary"}}, map[string]any{"required": []any{"service"}}}}
}

// schedulerHost is the host the in-process scheduler reports as: this
// process's, as upstream's cinder-scheduler reports CONF.host.
func schedulerHost() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

// schedulerHeartbeat records the scheduler as up: it runs inside this API
// (every create is scheduled in its transaction), so an API that answers has
// a live scheduler, and the row is refreshed when the services are listed.
func (s *Service) schedulerHeartbeat(ctx context.Context) error {
	now := dbTime(s.now())
	host := schedulerHost()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE volume_services SET heartbeat_at = ?, updated_at = ?
			WHERE host = ? AND binary_name = 'cinder-scheduler'`, now, now, host)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO volume_services (id, host, binary_name, topic, availability_zone,
			heartbeat_at, created_at, updated_at) VALUES (?, ?, 'cinder-scheduler', 'cinder-scheduler', ?, ?, ?, ?)`,
			uuid.NewString(), host, s.opts.AvailabilityZone, now, now, now)
		return err
	})
}

// serviceRow is one row of volume_services as the list shows it.
type serviceRow struct {
	Host, Binary, Zone     string
	Disabled, Frozen       bool
	DisabledReason         *string
	Capabilities           string
	HeartbeatAt, CreatedAt string
}

func scanServiceRow(sc db.Scanner) (serviceRow, error) {
	var r serviceRow
	err := sc.Scan(&r.Host, &r.Binary, &r.Zone, &r.Disabled, &r.Frozen, &r.DisabledReason, &r.Capabilities,
		&r.HeartbeatAt, &r.CreatedAt)
	return r, err
}

// listServices is ServiceController.index: every service (filtered by host
// and binary), up when its heartbeat is within service_down_time, with the
// extended services' keys, cluster from 3.7 and backend_state for volume
// services from 3.49.
func (s *Service) listServices(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyServicesIndex, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	if err := s.schedulerHeartbeat(ctx); err != nil {
		return httpapi.Response{}, err
	}
	query, args := `SELECT host, binary_name, availability_zone, disabled, frozen, disabled_reason, capabilities,
		heartbeat_at, created_at FROM volume_services WHERE 1 = 1`, []any{}
	q := r.URL.Query()
	if h, ok := q["host"]; ok {
		query += ` AND host = ?`
		args = append(args, h[len(h)-1])
	}
	if b, ok := q["binary"]; ok {
		query += ` AND binary_name = ?`
		args = append(args, b[len(b)-1])
	}
	rows, err := db.QueryAll(ctx, s.db, scanServiceRow, query+` ORDER BY binary_name, host`, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	now := s.now()
	out := make([]any, 0, len(rows))
	for _, svc := range rows {
		state := "down"
		beat, err := time.Parse(time.RFC3339Nano, svc.HeartbeatAt)
		if err == nil && now.Sub(beat).Abs() <= serviceDownTime {
			state = "up"
		}
		status := "enabled"
		if svc.Disabled {
			status = "disabled"
		}
		entry := map[string]any{"binary": svc.Binary, "host": svc.Host, "zone": svc.Zone, "status": status,
			"state": state, "updated_at": viewTime(&svc.HeartbeatAt), "disabled_reason": nullable(svc.DisabledReason)}
		if svc.Binary == "cinder-volume" {
			entry["replication_status"] = "disabled"
			entry["active_backend_id"] = nil
			entry["frozen"] = svc.Frozen
			if since(r, 49) {
				backendState := "down"
				if state == "up" {
					backendState = "up"
				}
				entry["backend_state"] = backendState
			}
		}
		if since(r, 7) {
			entry["cluster"] = nil
		}
		out = append(out, entry)
	}
	return httpapi.OK(map[string]any{"services": out}), nil
}

type serviceToggle struct {
	Host           *string `json:"host"`
	Binary         string  `json:"binary"`
	Service        string  `json:"service"`
	DisabledReason *string `json:"disabled_reason"`
}

func (s *Service) enableService(r *http.Request) (httpapi.Response, error) {
	return s.toggleService(r, false)
}

func (s *Service) disableService(r *http.Request) (httpapi.Response, error) {
	return s.toggleService(r, true)
}

func (s *Service) disableServiceWithReason(r *http.Request) (httpapi.Response, error) {
	return s.toggleService(r, true)
}

// toggleService is enable, disable and disable-log-reason: the service of
// host and binary (or the older key service) found or 404, then its
// disabled flag; the answer echoes the request as upstream's.
func (s *Service) toggleService(r *http.Request, disable bool) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyServicesUpdate, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	var body serviceToggle
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	if body.Host == nil || *body.Host == "" {
		return httpapi.Response{}, badRequest("Missing required element 'host' in request body.")
	}
	binary := body.Binary
	if binary == "" {
		binary = body.Service
	}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE volume_services SET disabled = ?, disabled_reason = ?, updated_at = ?
			WHERE host = ? AND binary_name = ?`, disable, body.DisabledReason, dbTime(s.now()), *body.Host, binary)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("Service %s could not be found on host %s.", binary, *body.Host)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	out := map[string]any{"host": *body.Host, "service": body.Service, "binary": body.Binary, "disabled": disable,
		"status": map[bool]string{true: "disabled", false: "enabled"}[disable]}
	if body.DisabledReason != nil {
		out["disabled_reason"] = *body.DisabledReason
	}
	return httpapi.OK(out), nil
}

// getPools is scheduler-stats/get_pools: the pools of the volume services up
// and enabled, with detail their capabilities as the backends report them
// (the backend's keys and the pool's) and what is allocated there; name and
// volume_type filter from 3.28 (volume_type from 3.35).
func (s *Service) getPools(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyGetPools, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	q := r.URL.Query()
	detail := boolParam(q.Get("detail"))
	candidates, err := pools(ctx, s.db, s.now())
	if err != nil {
		return httpapi.Response{}, err
	}
	var specs map[string]string
	if since(r, 35) && q.Get("volume_type") != "" {
		t, err := s.resolveType(r, s.db, q.Get("volume_type"))
		if err != nil {
			return httpapi.Response{}, err
		}
		specs = t.ExtraSpecs
	}
	out := make([]any, 0, len(candidates))
	for _, p := range candidates {
		if since(r, 28) && q.Get("name") != "" && p.Host != q.Get("name") {
			continue
		}
		if specs != nil && !capabilitiesPass(p.Capabilities, specs) {
			continue
		}
		if !detail {
			out = append(out, map[string]any{"name": p.Host})
			continue
		}
		caps := map[string]any{}
		for k, v := range p.Capabilities {
			caps[k] = v
		}
		caps["allocated_capacity_gb"] = p.AllocatedGB
		out = append(out, map[string]any{"name": p.Host, "capabilities": caps})
	}
	return httpapi.OK(map[string]any{"pools": out}), nil
}
