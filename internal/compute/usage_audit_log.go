package compute

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// usageAuditLogRoutes are os-instance-usage-audit-log
// (nova/api/openstack/compute/instance_usage_audit_log.py): the state of the
// instance usage audit of the last completed period on every compute host.
// Nimbus runs no audit task (upstream's instance_usage_audit defaults to off),
// so every host is "not run", as upstream reports a cloud that audits nothing.
func (s *Service) usageAuditLogRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/os-instance-usage-audit-log", Policy: "os_compute_api:os-instance-usage-audit-log:list",
			Target: emptyTarget, Handler: s.usageAuditLog(false),
			Schemas: []httpapi.Schema{{Responses: map[int]map[string]any{200: auditLogResponse("instance_usage_audit_logs")}}}},
		{Method: "GET", Path: "/v2.1/os-instance-usage-audit-log/{before}", Policy: "os_compute_api:os-instance-usage-audit-log:show",
			Target: emptyTarget, Handler: s.usageAuditLog(true),
			Schemas: []httpapi.Schema{{Responses: map[int]map[string]any{200: auditLogResponse("instance_usage_audit_log")}}}},
	}
}

// auditLogResponse is upstream's index_response and show_response, under key.
// hosts_not_run items are host names: upstream's schema says format uuid, which
// its own answer (host names) does not meet, so the format is left out.
func auditLogResponse(key string) map[string]any {
	count := map[string]any{"type": "integer", "minimum": 0}
	log := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"hosts_not_run": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"log": map[string]any{"type": "object", "additionalProperties": map[string]any{
				"type": "object",
				"properties": map[string]any{"instances": count, "errors": count, "message": map[string]any{"type": "string"},
					"state": map[string]any{"type": "string", "enum": []any{"RUNNING", "DONE"}}},
				"additionalProperties": false,
			}},
			"num_hosts": count, "num_hosts_done": count, "num_hosts_not_run": count, "num_hosts_running": count,
			"overall_status":   map[string]any{"type": "string"},
			"period_beginning": map[string]any{"type": "string", "format": "date-time"},
			"period_ending":    map[string]any{"type": "string", "format": "date-time"},
			"total_errors":     count, "total_instances": count,
		},
		"required": []any{"hosts_not_run", "log", "num_hosts", "num_hosts_done", "num_hosts_not_run", "num_hosts_running",
			"overall_status", "period_beginning", "period_ending", "total_errors", "total_instances"},
		"additionalProperties": false,
	}
	return map[string]any{"type": "object", "properties": map[string]any{key: log}, "required": []any{key}, "additionalProperties": false}
}

// lastCompletedMonth is oslo's last_completed_audit_period for upstream's
// default period, a month: from the first of the month before the one that
// ended last before before, to its end.
func lastCompletedMonth(before time.Time) (begin, end time.Time) {
	end = time.Date(before.Year(), before.Month(), 1, 0, 0, 0, 0, time.UTC)
	if !end.Before(before) {
		end = end.AddDate(0, -1, 0)
	}
	return end.AddDate(0, -1, 0), end
}

func (s *Service) usageAuditLog(show bool) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		before := s.now().UTC()
		key := "instance_usage_audit_logs"
		if show {
			key = "instance_usage_audit_log"
			id := r.PathValue("before")
			layout := "2006-01-02 15:04:05"
			if strings.Contains(id, ".") {
				layout = "2006-01-02 15:04:05.999999"
			}
			t, err := time.Parse(layout, id)
			if err != nil {
				return httpapi.Response{}, badRequest("Invalid timestamp for date %s", id)
			}
			before = t
		}
		begin, end := lastCompletedMonth(before)
		rows, err := db.QueryAll(r.Context(), s.db, scanService, `SELECT `+serviceColumns+` FROM compute_services ORDER BY host`)
		if err != nil {
			return httpapi.Response{}, err
		}
		notRun := []string{}
		for _, v := range rows {
			notRun = append(notRun, v.Host)
		}
		done := fmt.Sprintf("%d of %d", 0, len(notRun))
		if len(notRun) == 0 {
			done = "ALL"
		}
		return httpapi.OK(map[string]any{key: map[string]any{
			"period_beginning": begin.Format("2006-01-02 15:04:05"), "period_ending": end.Format("2006-01-02 15:04:05"),
			"num_hosts": len(notRun), "num_hosts_done": 0, "num_hosts_running": 0, "num_hosts_not_run": len(notRun),
			"hosts_not_run": notRun, "total_instances": 0, "total_errors": 0,
			"overall_status": done + " hosts done. 0 errors.", "log": map[string]any{},
		}}), nil
	}
}
