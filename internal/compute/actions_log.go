package compute

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// actionEvent is one step of an instance action (os-instance-actions events).
type actionEvent struct {
	Event      string  `json:"event"`
	StartTime  string  `json:"start_time"`
	FinishTime *string `json:"finish_time"`
	Result     *string `json:"result"`
	Traceback  *string `json:"traceback"`
	Host       string  `json:"host,omitempty"`
}

// startAction records that a user asked for action on the instance (upstream's
// InstanceAction.action_start), under the request's id.
func (s *Service) startAction(ctx context.Context, q querier, r *http.Request, in *instance, action string) error {
	creds := auth.FromContext(ctx)
	now := stampMicro(s.now())
	_, err := q.ExecContext(ctx, `INSERT INTO instance_actions (id, instance_uuid, action, request_id, project_id, user_id,
		start_time, updated_at, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '[]')`,
		uuid.NewString(), in.UUID, action, httpapi.RequestID(r.Context()), creds.ProjectID, creds.UserID, now, now)
	return err
}
