package image

import (
	"net/http"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// imageTaskRoutes is the image's tasks (GET /v2/images/{id}/tasks, since v2.12):
// the imports that ran on it, for whoever may see the image, as upstream's
// get_task_info (a caller get_image refuses gets 404).
func (s *Service) imageTaskRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2/images/{image_id}/tasks", Policy: "get_image", Target: s.imageTarget, Handler: s.imageTasks,
			Schemas: answers(map[int]jsonschema.Schema{http.StatusOK: imageTasksResponse})},
	}
}

// imageTasks answers upstream's task records (glance/db/sqlalchemy/api.py
// _task_format with the task's info), oldest first: Nimbus keeps no request or
// user id of a task, so those are null.
func (s *Service) imageTasks(r *http.Request) (httpapi.Response, error) {
	id := r.PathValue("image_id")
	all, err := db.QueryAll(r.Context(), s.db, scanTask, `SELECT `+taskColumns+` FROM image_tasks WHERE type = ? ORDER BY created_at, id`,
		"api_image_import")
	if err != nil {
		return httpapi.Response{}, err
	}
	all = slices.DeleteFunc(all, func(t *taskRow) bool { return t.Input["image_id"] != id })
	tasks := make([]any, 0, len(all))
	for _, t := range all {
		tasks = append(tasks, map[string]any{
			"id": t.ID, "type": t.Type, "status": t.Status, "owner": t.Owner, "expires_at": nullable(t.ExpiresAt),
			"created_at": t.CreatedAt, "updated_at": t.UpdatedAt, "deleted_at": nil, "deleted": false,
			"image_id": id, "request_id": nil, "user_id": nil,
			"input": t.Input, "result": t.Result, "message": t.Message,
		})
	}
	return httpapi.OK(map[string]any{"tasks": tasks}), nil
}
