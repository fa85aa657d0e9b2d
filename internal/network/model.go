package network

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// standard are Neutron's standard attributes, which every resource has.
type standard struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	ProjectID      string   `json:"project_id"`
	Tags           []string `json:"tags"`
	CreatedAt      string   `json:"created_at"`
	UpdatedAt      string   `json:"updated_at"`
	RevisionNumber int      `json:"revision_number"`
}

// render turns a stored body into the API's object, adding tenant_id (the old name
// of project_id, which clients still read).
func render(body any) object {
	data, _ := json.Marshal(body)
	var out object
	_ = json.Unmarshal(data, &out)
	if tags, ok := out["tags"].([]any); ok {
		list := make([]string, 0, len(tags))
		for _, t := range tags {
			list = append(list, fmt.Sprint(t))
		}
		out["tags"] = list
	} else {
		out["tags"] = []string{}
	}
	if p, ok := out["project_id"]; ok {
		out["tenant_id"] = p
	}
	return out
}

func (st *standard) touch(now string) {
	st.UpdatedAt = now
	st.RevisionNumber++
}

func newStandard(id, project, now string) standard {
	return standard{ID: id, ProjectID: project, Tags: []string{}, CreatedAt: now, UpdatedAt: now, RevisionNumber: 1}
}

// loadBody reads the JSON body of one row of table.
func loadBody(ctx context.Context, q db.Querier, table, id string, dst any) error {
	var body string
	if err := q.QueryRowContext(ctx, `SELECT body FROM `+table+` WHERE id = ?`, id).Scan(&body); err != nil {
		return err
	}
	return json.Unmarshal([]byte(body), dst)
}

// loadBodies reads the bodies of a query's rows (its one column is body).
func loadBodies[T any](ctx context.Context, q db.Querier, query string, args ...any) ([]T, error) {
	return db.QueryAll(ctx, q, func(sc db.Scanner) (T, error) {
		var body string
		var v T
		if err := sc.Scan(&body); err != nil {
			return v, err
		}
		return v, json.Unmarshal([]byte(body), &v)
	}, query, args...)
}

// projectBodies loads the bodies of table a caller may list: every row for admins,
// its project's rows for others (the read policy then filters each one).
func projectBodies[T any](ctx context.Context, q db.Querier, c caller, table string) ([]T, error) {
	if c.admin {
		return loadBodies[T](ctx, q, `SELECT body FROM `+table)
	}
	return loadBodies[T](ctx, q, `SELECT body FROM `+table+` WHERE project_id = ?`, c.project)
}

func saveBody(ctx context.Context, q db.Querier, table, id string, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `UPDATE `+table+` SET body = ? WHERE id = ?`, string(data), id)
	return err
}

func marshal(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

// caller is who is asking.
type caller struct {
	project string
	admin   bool
	creds   *auth.Credentials
}

func (s *Service) caller(r *http.Request) caller {
	c := auth.FromContext(r.Context())
	if c == nil {
		return caller{}
	}
	return caller{project: c.ProjectID, admin: s.policy.Allowed("context_is_admin", nil, c.PolicyCredentials()), creds: c}
}

// allowed checks a policy rule against a target without failing the request.
func (s *Service) allowed(c caller, rule string, target map[string]any) bool {
	return c.creds != nil && s.policy.Allowed(rule, target, c.creds.PolicyCredentials())
}

// enforce fails with upstream's 403 when rule does not allow the call (InvalidScope
// for a token of a scope the rule does not accept).
func (s *Service) enforce(c caller, rule string, target map[string]any) error {
	return s.authorize(c, "", rule, target, nil, false)
}

// requestBody decodes {"<member>": {...}} and rejects attributes the resource does
// not have, as upstream does.
func requestBody(r *http.Request, member string, allowed []string) (map[string]any, error) {
	var body map[string]json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return nil, badRequest("%s", err.Error())
	}
	raw, ok := body[member]
	if !ok {
		return nil, badRequest("Unable to find '%s' in request body", member)
	}
	var attrs map[string]any
	if err := json.Unmarshal(raw, &attrs); err != nil || attrs == nil {
		return nil, badRequest("Invalid format for %s: the body must be an object", member)
	}
	var unknown []string
	for k := range attrs {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, badRequest("Unrecognized attribute(s) '%s'", joinQuoted(unknown))
	}
	return attrs, nil
}

func joinQuoted(list []string) string {
	out := ""
	for i, s := range list {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}

// Typed attribute readers: each answers upstream's "Invalid input" on a wrong type.

func attrString(attrs map[string]any, key string, dst *string) error {
	v, ok := attrs[key]
	if !ok {
		return nil
	}
	if v == nil {
		*dst = ""
		return nil
	}
	s, isStr := v.(string)
	if !isStr {
		return invalidInput("'%v' is not a valid string for %s", v, key)
	}
	if len(s) > 255 {
		return invalidInput("'%s' exceeds maximum length of 255 for %s", s, key)
	}
	*dst = s
	return nil
}

func attrBool(attrs map[string]any, key string, dst *bool) error {
	v, ok := attrs[key]
	if !ok {
		return nil
	}
	switch b := v.(type) {
	case bool:
		*dst = b
	case string:
		switch b {
		case "true", "True", "1":
			*dst = true
		case "false", "False", "0":
			*dst = false
		default:
			return invalidInput("'%s' cannot be converted to boolean", b)
		}
	default:
		return invalidInput("'%v' cannot be converted to boolean", v)
	}
	return nil
}

func attrInt(attrs map[string]any, key string, dst *int) error {
	v, ok := attrs[key]
	if !ok || v == nil {
		return nil
	}
	switch n := v.(type) {
	case int: // converted by parseBody
		*dst = n
	case float64:
		if n != float64(int(n)) {
			return invalidInput("'%v' is not an integer", v)
		}
		*dst = int(n)
	case string:
		var i int
		if _, err := fmt.Sscanf(n, "%d", &i); err != nil {
			return invalidInput("'%s' is not an integer", n)
		}
		*dst = i
	default:
		return invalidInput("'%v' is not an integer", v)
	}
	return nil
}

func attrStrings(attrs map[string]any, key string, dst *[]string) error {
	v, ok := attrs[key]
	if !ok {
		return nil
	}
	if v == nil {
		*dst = []string{}
		return nil
	}
	list, isList := v.([]any)
	if !isList {
		return invalidInput("'%v' is not a list for %s", v, key)
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, isStr := e.(string)
		if !isStr {
			return invalidInput("'%v' is not a valid string for %s", e, key)
		}
		out = append(out, s)
	}
	*dst = out
	return nil
}

// projectFor is the project a new resource belongs to: the caller's, or for admins
// the one the body names (project_id or tenant_id).
func projectFor(c caller, attrs map[string]any) (string, error) {
	p, _ := attrs["project_id"].(string)
	if t, _ := attrs["tenant_id"].(string); p == "" {
		p = t
	}
	if p == "" || p == c.project {
		if c.project == "" {
			return "", badRequest("A project_id is required")
		}
		return c.project, nil
	}
	if !c.admin {
		return "", badRequest("Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges")
	}
	return p, nil
}

// newUUID makes a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// notFoundIfNoRows maps a missing row to the resource's 404.
func notFoundIfNoRows(err error, kind, what, id string) error {
	if db.IsNoRows(err) {
		return notFound(kind, what, id)
	}
	return err
}

func jsonRoundTrip(v any, dst any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

func jsonRoundTripString(s string, dst any) error { return json.Unmarshal([]byte(s), dst) }
