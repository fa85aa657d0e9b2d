package compute

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// os-instance-actions at 2.1: what was asked of a server (startAction records
// it) and, for those the events rule allows, the steps its host carried out.
func (s *Service) instanceActionRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/servers/{id}/os-instance-actions", Handler: s.listInstanceActions},
		{Method: "GET", Path: "/v2.1/servers/{id}/os-instance-actions/{request_id}", Handler: s.showInstanceAction},
	}
}

type instanceAction struct {
	ID, InstanceUUID, Action, RequestID, ProjectID, UserID string
	Message                                                *string
	StartTime, UpdatedAt                                   string
	Events                                                 []actionEvent
}

const instanceActionColumns = `id, instance_uuid, action, request_id, project_id, user_id, message, start_time, updated_at, events`

func scanInstanceAction(sc db.Scanner) (*instanceAction, error) {
	var a instanceAction
	var events string
	if err := sc.Scan(&a.ID, &a.InstanceUUID, &a.Action, &a.RequestID, &a.ProjectID, &a.UserID, &a.Message, &a.StartTime,
		&a.UpdatedAt, &events); err != nil {
		return nil, err
	}
	return &a, jsonUnmarshal(events, &a.Events)
}

// actionView is an action as the request's microversion shows it: updated_at
// from 2.58.
func actionView(r *http.Request, a *instanceAction) map[string]any {
	v := map[string]any{"action": a.Action, "instance_uuid": a.InstanceUUID, "message": a.Message,
		"project_id": a.ProjectID, "request_id": a.RequestID, "start_time": a.StartTime, "user_id": a.UserID}
	if since(r, 58) {
		v["updated_at"] = a.UpdatedAt
	}
	return v
}

// actionsInstance is the server whose actions are asked for: from 2.21 a deleted
// one too, for whoever may see its actions.
func (s *Service) actionsInstance(r *http.Request, rule string) (*instance, error) {
	if !since(r, 21) {
		return s.visibleInstance(r, rule)
	}
	id := r.PathValue("id")
	in, err := loadInstance(r.Context(), s.db, id)
	if err != nil {
		return nil, err
	}
	creds := auth.FromContext(r.Context())
	if err := s.enforce(r, rule, map[string]any{"target.project_id": in.ProjectID, "target.user_id": in.UserID}); err != nil {
		if in.ProjectID != creds.ProjectID {
			return nil, notFound("Instance %s could not be found.", id)
		}
		return nil, err
	}
	return in, nil
}

func (s *Service) listInstanceActions(r *http.Request) (httpapi.Response, error) {
	in, err := s.actionsInstance(r, "os_compute_api:os-instance-actions:list")
	if err != nil {
		return httpapi.Response{}, err
	}
	actions, err := db.QueryAll(r.Context(), s.db, scanInstanceAction, `SELECT `+instanceActionColumns+`
		FROM instance_actions WHERE instance_uuid = ? ORDER BY start_time DESC, id DESC`, in.UUID)
	if err != nil {
		return httpapi.Response{}, err
	}
	body := map[string]any{}
	if since(r, 58) {
		if actions, err = s.actionsPage(r, in, actions, body); err != nil {
			return httpapi.Response{}, err
		}
	}
	out := make([]map[string]any, 0, len(actions))
	for _, a := range actions {
		out = append(out, actionView(r, a))
	}
	body["instanceActions"] = out
	return httpapi.OK(body), nil
}

// actionsPage applies 2.58's changes-since, 2.66's changes-before and the
// limit/marker (a request id) paging to actions, newest first, and sets the
// next link in body when a page is full.
func (s *Service) actionsPage(r *http.Request, in *instance, actions []*instanceAction, body map[string]any) ([]*instanceAction, error) {
	q := r.URL.Query()
	var after, before time.Time
	var err error
	if v := q.Get("changes-since"); v != "" {
		if after, err = changesTime("changes-since", v); err != nil {
			return nil, err
		}
	}
	if v := q.Get("changes-before"); v != "" && since(r, 66) {
		if before, err = changesTime("changes-before", v); err != nil {
			return nil, err
		}
		if !after.IsZero() && after.After(before) {
			return nil, badRequest("The value of changes-since must be less than or equal to changes-before.")
		}
	}
	kept := actions[:0]
	for _, a := range actions {
		at, err := time.Parse("2006-01-02T15:04:05.999999", a.UpdatedAt)
		if err != nil || (!after.IsZero() && at.Before(after)) || (!before.IsZero() && at.After(before)) {
			continue
		}
		kept = append(kept, a)
	}
	actions = kept
	if marker := q.Get("marker"); marker != "" {
		i := slices.IndexFunc(actions, func(a *instanceAction) bool { return a.RequestID == marker })
		if i < 0 {
			return nil, badRequest("Marker %s could not be found.", marker)
		}
		actions = actions[i+1:]
	}
	limit, err := pageLimit(q.Get("limit"))
	if err != nil {
		return nil, err
	}
	if limit >= 0 && len(actions) >= limit {
		actions = actions[:limit]
		if limit > 0 {
			next := url.Values{"limit": {strconv.Itoa(limit)}, "marker": {actions[limit-1].RequestID}}
			body["links"] = []httpapi.Link{{Rel: "next", Href: s.base() + "/v2.1/servers/" + in.UUID + "/os-instance-actions?" + next.Encode()}}
		}
	}
	return actions, nil
}

func (s *Service) showInstanceAction(r *http.Request) (httpapi.Response, error) {
	in, err := s.actionsInstance(r, "os_compute_api:os-instance-actions:show")
	if err != nil {
		return httpapi.Response{}, err
	}
	reqID := r.PathValue("request_id")
	a, err := scanInstanceAction(s.db.QueryRowContext(r.Context(), `SELECT `+instanceActionColumns+`
		FROM instance_actions WHERE instance_uuid = ? AND request_id = ? ORDER BY start_time DESC LIMIT 1`, in.UUID, reqID))
	if db.IsNoRows(err) {
		return httpapi.Response{}, notFound("Action for request_id %s on instance %s not found", reqID, in.UUID)
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	v := actionView(r, a)
	// Before 2.51 events (with their tracebacks) are shown only to those the
	// events rule allows, admins by default; from 2.51 to everyone, the traceback
	// (and from 2.62 the host, from 2.84 the details) still only to them.
	creds := auth.FromContext(r.Context())
	privileged := s.policy.Allowed("os_compute_api:os-instance-actions:events", map[string]any{"target.project_id": in.ProjectID}, creds.PolicyCredentials())
	if privileged || since(r, 51) {
		events := make([]map[string]any, 0, len(a.Events))
		for _, e := range a.Events {
			ev := map[string]any{"event": e.Event, "start_time": e.StartTime, "finish_time": e.FinishTime, "result": e.Result}
			if privileged {
				ev["traceback"] = e.Traceback
			}
			if since(r, 62) {
				ev["hostId"] = hostID(in.ProjectID, e.Host)
				if privileged {
					ev["host"] = e.Host
				}
			}
			if since(r, 84) && privileged {
				var details any
				if e.Result != nil && *e.Result == "Error" && e.Traceback != nil {
					details = *e.Traceback // the fault's message: the agent's error is all there is
				}
				ev["details"] = details
			}
			events = append(events, ev)
		}
		v["events"] = events
	}
	return httpapi.OK(map[string]any{"instanceAction": v}), nil
}

// taskEvents are the compute manager's event names for the tasks the agents
// carry out, with the action each belongs to (upstream's wrap_instance_event).
var taskEvents = map[string][2]string{
	taskSpawning:        {"create", "compute__do_build_and_run_instance"},
	taskPoweringOff:     {"stop", "compute_stop_instance"},
	taskPoweringOn:      {"start", "compute_start_instance"},
	taskRebooting:       {"reboot", "compute_reboot_instance"},
	taskRebootingHard:   {"reboot", "compute_reboot_instance"},
	taskPausing:         {"pause", "compute_pause_instance"},
	taskUnpausing:       {"unpause", "compute_unpause_instance"},
	taskSuspending:      {"suspend", "compute_suspend_instance"},
	taskResuming:        {"resume", "compute_resume_instance"},
	taskResizePrep:      {"resize", "compute_prep_resize"},
	taskResizeMigrating: {"resize", "compute_finish_resize"},
	taskResizeReverting: {"revertResize", "compute_finish_revert_resize"},
	taskDeleting:        {"delete", "compute_terminate_instance"},
}

// recordTaskEvent adds the event of a task an agent reports finished to the
// instance's latest action of that kind: Success, or Error with the agent's
// message as the traceback. The event starts when the action was asked for
// (the agent does not say when it began).
func (s *Service) recordTaskEvent(ctx context.Context, q querier, in *instance, rep AgentReport) error {
	ev, ok := taskEvents[rep.Task]
	if !ok {
		return nil
	}
	return s.recordEvent(ctx, q, in, rep, ev)
}

// recordEvent adds event ev[1] of the reported task to the instance's latest
// action ev[0].
func (s *Service) recordEvent(ctx context.Context, q querier, in *instance, rep AgentReport, ev [2]string) error {
	a, err := scanInstanceAction(q.QueryRowContext(ctx, `SELECT `+instanceActionColumns+` FROM instance_actions
		WHERE instance_uuid = ? AND action = ? ORDER BY start_time DESC, id DESC LIMIT 1`, in.UUID, ev[0]))
	if db.IsNoRows(err) {
		return nil
	}
	if err != nil {
		return err
	}
	now := stampMicro(s.now())
	result := "Success"
	e := actionEvent{Event: ev[1], StartTime: a.StartTime, FinishTime: &now, Result: &result, Host: rep.Host}
	var message any
	if a.Message != nil {
		message = *a.Message
	}
	if rep.Error != "" {
		result = "Error"
		e.Traceback = &rep.Error
		message = "Error" // upstream's action message once an event failed
	}
	a.Events = append(a.Events, e)
	_, err = q.ExecContext(ctx, `UPDATE instance_actions SET events = ?, updated_at = ?, message = ? WHERE id = ?`,
		mustJSON(a.Events), now, message, a.ID)
	return err
}
