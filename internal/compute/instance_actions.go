package compute

import (
	"context"
	"net/http"

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

func actionView(a *instanceAction) map[string]any {
	return map[string]any{"action": a.Action, "instance_uuid": a.InstanceUUID, "message": a.Message,
		"project_id": a.ProjectID, "request_id": a.RequestID, "start_time": a.StartTime, "user_id": a.UserID}
}

func (s *Service) listInstanceActions(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-instance-actions:list")
	if err != nil {
		return httpapi.Response{}, err
	}
	actions, err := db.QueryAll(r.Context(), s.db, scanInstanceAction, `SELECT `+instanceActionColumns+`
		FROM instance_actions WHERE instance_uuid = ? ORDER BY start_time DESC, id DESC`, in.UUID)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := make([]map[string]any, 0, len(actions))
	for _, a := range actions {
		out = append(out, actionView(a))
	}
	return httpapi.OK(map[string]any{"instanceActions": out}), nil
}

func (s *Service) showInstanceAction(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-instance-actions:show")
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
	v := actionView(a)
	// At 2.1 events (with their tracebacks) are shown only to those the
	// events rule allows: admins by default.
	creds := auth.FromContext(r.Context())
	if s.policy.Allowed("os_compute_api:os-instance-actions:events", map[string]any{"target.project_id": in.ProjectID}, creds.PolicyCredentials()) {
		events := make([]map[string]any, 0, len(a.Events))
		for _, e := range a.Events {
			events = append(events, map[string]any{"event": e.Event, "start_time": e.StartTime, "finish_time": e.FinishTime,
				"result": e.Result, "traceback": e.Traceback})
		}
		v["events"] = events
	}
	return httpapi.OK(map[string]any{"instanceAction": v}), nil
}

// taskEvents are the compute manager's event names for the tasks the agents
// carry out, with the action each belongs to (upstream's wrap_instance_event).
var taskEvents = map[string][2]string{
	taskSpawning:      {"create", "compute__do_build_and_run_instance"},
	taskPoweringOff:   {"stop", "compute_stop_instance"},
	taskPoweringOn:    {"start", "compute_start_instance"},
	taskRebooting:     {"reboot", "compute_reboot_instance"},
	taskRebootingHard: {"reboot", "compute_reboot_instance"},
	taskPausing:       {"pause", "compute_pause_instance"},
	taskUnpausing:     {"unpause", "compute_unpause_instance"},
	taskSuspending:    {"suspend", "compute_suspend_instance"},
	taskResuming:      {"resume", "compute_resume_instance"},
	taskDeleting:      {"delete", "compute_terminate_instance"},
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
