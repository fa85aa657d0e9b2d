package image

import (
	"cmp"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// taskRow is a Glance task: an import request run asynchronously upstream. Nimbus
// runs it at once; its only kind, "import" from a URL, fetches only from the
// configured web-download prefixes, so without any it fails with a clear message,
// as upstream's does when its import fails.
type taskRow struct {
	ID, Type, Status, Owner string
	Input                   map[string]any
	Result                  map[string]any
	Message                 string
	ExpiresAt               sql.NullString
	CreatedAt, UpdatedAt    string
}

// taskLifetime is how long a finished task is kept (upstream task_time_to_live, 48 h).
const taskLifetime = 48 * time.Hour

func (s *Service) taskRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2/tasks", Policy: "tasks_api_access", Handler: s.taskAction("get_tasks", s.listTasks),
			Schemas: responses(http.StatusOK, "tasks")},
		{Method: "POST", Path: "/v2/tasks", Policy: "tasks_api_access", Handler: s.taskAction("add_task", s.createTask),
			Schemas: responses(http.StatusCreated, "task")},
		{Method: "GET", Path: "/v2/tasks/{task_id}", Policy: "tasks_api_access", Handler: s.taskAction("get_task", s.showTask),
			Schemas: responses(http.StatusOK, "task")},
	}
}

// taskAction checks the action's own rule after tasks_api_access, which guards
// the whole tasks API, as upstream checks both.
func (s *Service) taskAction(rule string, h httpapi.Handler) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		if err := httpapi.Enforce(r, s.policy, rule, map[string]any{}); err != nil {
			return httpapi.Response{}, err
		}
		return h(r)
	}
}

const taskColumns = `id, type, status, owner, input, result, message, expires_at, created_at, updated_at`

func scanTask(sc db.Scanner) (*taskRow, error) {
	var t taskRow
	var input string
	var result sql.NullString
	if err := sc.Scan(&t.ID, &t.Type, &t.Status, &t.Owner, &input, &result, &t.Message, &t.ExpiresAt, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return nil, err
	}
	_ = json.Unmarshal([]byte(input), &t.Input)
	if result.Valid {
		_ = json.Unmarshal([]byte(result.String), &t.Result)
	}
	return &t, nil
}

// taskJSON renders a task; lists leave input and result out, as upstream.
func taskJSON(t *taskRow, full bool) map[string]any {
	out := map[string]any{"id": t.ID, "type": t.Type, "status": t.Status, "owner": t.Owner,
		"created_at": t.CreatedAt, "updated_at": t.UpdatedAt,
		"self": "/v2/tasks/" + t.ID, "schema": "/v2/schemas/task"}
	// as upstream's view: expires_at only once set, image_id on the full view
	// of a task that has one (an image import's)
	if t.ExpiresAt.Valid {
		out["expires_at"] = t.ExpiresAt.String
	}
	if id, ok := t.Input["image_id"].(string); ok && full && t.Type == "api_image_import" {
		out["image_id"] = id
	}
	if full {
		out["input"] = t.Input
		out["result"] = t.Result
		out["message"] = t.Message
	}
	return out
}

func (s *Service) createTask(r *http.Request) (httpapi.Response, error) {
	body, err := decodeTaskCreate(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if body.Type != "import" {
		// the other types upstream's schema names are its own, made by image imports
		return httpapi.Response{}, httpapi.BadRequest("Provided type of task is unsupported: %s", body.Type)
	}
	from, _ := body.Input["import_from"].(string)
	if from == "" {
		return httpapi.Response{}, httpapi.BadRequest("Input does not contain 'import_from' field")
	}
	if _, ok := body.Input["import_from_format"].(string); !ok {
		return httpapi.Response{}, httpapi.BadRequest("Input does not contain 'import_from_format' field")
	}
	if props, ok := body.Input["image_properties"]; ok {
		if _, isMap := props.(map[string]any); !isMap {
			return httpapi.Response{}, httpapi.BadRequest("Input field 'image_properties' must be an object")
		}
	}
	u, err := url.Parse(from)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return httpapi.Response{}, httpapi.BadRequest("Invalid import_from URL %q: only http and https are supported.", from)
	}
	now := s.now()
	t := &taskRow{ID: newID(), Type: body.Type, Status: "failure", Owner: s.caller(r).project, Input: body.Input,
		CreatedAt: stamp(now), UpdatedAt: stamp(now),
		ExpiresAt: sql.NullString{String: stamp(now.Add(taskLifetime)), Valid: true}}
	t.Message = s.webDownloadRefusal(from)
	input, _ := json.Marshal(t.Input)
	if _, err := s.db.ExecContext(r.Context(), `INSERT INTO image_tasks (`+taskColumns+`) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)`,
		t.ID, t.Type, t.Status, t.Owner, string(input), t.Message, t.ExpiresAt, t.CreatedAt, t.UpdatedAt); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(taskJSON(t, true)).WithHeader("Location", "/v2/tasks/"+t.ID), nil
}

// recordImport records an interoperable import as upstream does, as a task of
// type api_image_import (admins see it in /v2/tasks): Nimbus runs the import
// before answering, so the task is already over, failed with why when failure
// is not nil.
func (s *Service) recordImport(r *http.Request, im *imageRow, method string, failure error) error {
	now := s.now()
	t := &taskRow{ID: newID(), Type: "api_image_import", Status: "success", Owner: s.caller(r).project,
		Input: map[string]any{"image_id": im.ID, "import_req": map[string]any{"method": map[string]any{"name": method}},
			"backend": []string{storeID(s.store)}},
		Result:    map[string]any{"image_id": im.ID},
		CreatedAt: stamp(now), UpdatedAt: stamp(now),
		ExpiresAt: sql.NullString{String: stamp(now.Add(taskLifetime)), Valid: true}}
	if failure != nil {
		t.Status, t.Result = "failure", nil
		var he *httpapi.Error
		if errors.As(failure, &he) {
			t.Message = he.Message
		} else {
			t.Message = failure.Error()
		}
	}
	input, _ := json.Marshal(t.Input)
	var result any
	if t.Result != nil {
		data, _ := json.Marshal(t.Result)
		result = string(data)
	}
	_, err := s.db.ExecContext(r.Context(), `INSERT INTO image_tasks (`+taskColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Type, t.Status, t.Owner, string(input), result, t.Message, t.ExpiresAt, t.CreatedAt, t.UpdatedAt)
	return err
}

// webDownloadRefusal says why a URL import cannot run: Nimbus fetches nothing from
// outside the machine unless an operator allows the URL's prefix.
func (s *Service) webDownloadRefusal(from string) string {
	for _, prefix := range s.opts.WebDownloadAllowed {
		if strings.HasPrefix(from, prefix) {
			return "Import from " + from + " failed: fetching from URLs is not implemented yet."
		}
	}
	return "Import from " + from + " is not allowed: no configured web-download prefix allows this URL."
}

func (s *Service) visibleTask(r *http.Request, t *taskRow) bool {
	c := s.caller(r)
	return c.admin || c.project != "" && t.Owner == c.project
}

func (s *Service) showTask(r *http.Request) (httpapi.Response, error) {
	id := r.PathValue("task_id")
	t, err := scanTask(s.db.QueryRowContext(r.Context(), `SELECT `+taskColumns+` FROM image_tasks WHERE id = ?`, id))
	if db.IsNoRows(err) || err == nil && !s.visibleTask(r, t) {
		return httpapi.Response{}, httpapi.NotFound("Task with the given id %s not found", id)
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(taskJSON(t, true)), nil
}

// listTasks lists the caller's tasks (all, for admins) newest first, with the type
// and status filters and limit/marker paging upstream offers.
func (s *Service) listTasks(r *http.Request) (httpapi.Response, error) {
	q := r.URL.Query()
	if err := checkTaskListQuery(q); err != nil {
		return httpapi.Response{}, err
	}
	page, err := httpapi.ParsePage(r, 0)
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.db.ExecContext(r.Context(), `DELETE FROM image_tasks WHERE expires_at < ?`, stamp(s.now())); err != nil {
		return httpapi.Response{}, err
	}
	all, err := db.QueryAll(r.Context(), s.db, scanTask, `SELECT `+taskColumns+` FROM image_tasks`)
	if err != nil {
		return httpapi.Response{}, err
	}
	all = slices.DeleteFunc(all, func(t *taskRow) bool {
		return !s.visibleTask(r, t) || q.Has("type") && q.Get("type") != t.Type || q.Has("status") && q.Get("status") != t.Status
	})
	slices.SortFunc(all, func(a, b *taskRow) int {
		return cmp.Or(cmp.Compare(b.CreatedAt, a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	items, more, err := httpapi.Apply(page, all, func(t *taskRow) string { return t.ID })
	if err != nil {
		return httpapi.Response{}, err
	}
	list := make([]any, 0, len(items))
	for _, t := range items {
		list = append(list, taskJSON(t, false))
	}
	body := map[string]any{"tasks": list, "first": "/v2/tasks", "schema": "/v2/schemas/tasks"}
	if more {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("marker", items[len(items)-1].ID)
		body["next"] = withQuery("/v2/tasks", next)
	}
	return httpapi.OK(body), nil
}

// taskCreate is a create body as upstream reads it.
type taskCreate struct {
	Type  string
	Input map[string]any
}

// decodeTaskCreate is upstream's deserializer (glance/api/v2/tasks.py create):
// type and input are required, and the body must fit the task schema (its raw
// form: no attribute it does not name).
func decodeTaskCreate(r *http.Request) (taskCreate, error) {
	var out taskCreate
	doc, err := decodeDocument(r)
	if err != nil {
		return out, err
	}
	body, _ := doc.(map[string]any)
	for _, key := range []string{"type", "input"} {
		if _, ok := body[key]; !ok {
			return out, httpapi.BadRequest("Task '%s' is required", key)
		}
	}
	schema := loadSchema("task")
	schema["additionalProperties"] = false
	if verr := jsonschema.Validate(schema, doc); verr != nil {
		return out, httpapi.BadRequest("Provided object does not match schema 'task': %s", verr.Message)
	}
	out.Type, _ = body["type"].(string)
	out.Input, _ = plainJSON(body["input"]).(map[string]any)
	return out, nil
}

// checkTaskListQuery is upstream's task list deserializer (glance/api/v2/tasks.py
// index): the sort direction, the status and type filters, a UUID marker and a
// non-negative integer limit, each refused with its message.
func checkTaskListQuery(q url.Values) error {
	if q.Has("sort_dir") && q.Get("sort_dir") != "asc" && q.Get("sort_dir") != "desc" {
		return httpapi.BadRequest("Invalid sort direction: %s", q.Get("sort_dir"))
	}
	if v := q.Get("status"); v != "" && !slices.Contains([]string{"pending", "processing", "success", "failure"}, v) {
		return httpapi.BadRequest("Invalid status value: %s", v)
	}
	if v := q.Get("type"); v != "" && v != "import" {
		return httpapi.BadRequest("Invalid type value: %s", v)
	}
	if q.Has("marker") && !isUUID(q.Get("marker")) {
		return httpapi.BadRequest("Invalid marker format")
	}
	if q.Has("limit") {
		if _, err := listLimit(q); err != nil {
			return err
		}
	}
	return nil
}
