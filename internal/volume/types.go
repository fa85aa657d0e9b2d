package volume

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// typeRoutes are the volume types API with its extra specs and type access
// (cinder/api/v3/types.py, contrib/types_manage.py, types_extra_specs.py,
// volume_type_access.py). Policies are checked in the handlers, after the type
// is loaded, as upstream authorizes with the type as target.
func (s *Service) typeRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/types", Handler: s.listTypes},
		{Method: "POST", Path: "/v3/types", Handler: s.createType},
		{Method: "GET", Path: "/v3/types/{type_id}", Handler: s.showType},
		{Method: "PUT", Path: "/v3/types/{type_id}", Handler: s.updateType},
		{Method: "DELETE", Path: "/v3/types/{type_id}", Handler: s.deleteType},
		{Method: "GET", Path: "/v3/types/{type_id}/extra_specs", Handler: s.listExtraSpecs},
		{Method: "POST", Path: "/v3/types/{type_id}/extra_specs", Handler: s.createExtraSpecs},
		{Method: "GET", Path: "/v3/types/{type_id}/extra_specs/{key}", Handler: s.showExtraSpec},
		{Method: "PUT", Path: "/v3/types/{type_id}/extra_specs/{key}", Handler: s.updateExtraSpec},
		{Method: "DELETE", Path: "/v3/types/{type_id}/extra_specs/{key}", Handler: s.deleteExtraSpec},
		{Method: "GET", Path: "/v3/types/{type_id}/os-volume-type-access", Handler: s.listTypeAccess},
		{Method: "POST", Path: "/v3/types/{type_id}/action", Handler: s.typeAction},
	}
}

// userVisibleExtraSpecs are the specs a non-admin sees
// (type_extra_specs.USER_VISIBLE_EXTRA_SPECS).
var userVisibleExtraSpecs = []string{"RESKEY:availability_zones", "multiattach", "replication_enabled"}

func isAdmin(r *http.Request) bool {
	c := auth.FromContext(r.Context())
	if c == nil {
		return false
	}
	for _, role := range c.RoleNames() {
		if role == "admin" {
			return true
		}
	}
	return false
}

func callerProject(r *http.Request) string {
	if c := auth.FromContext(r.Context()); c != nil {
		return c.ProjectID
	}
	return ""
}

func callerUser(r *http.Request) string {
	if c := auth.FromContext(r.Context()); c != nil {
		return c.UserID
	}
	return ""
}

func (s *Service) ownTarget(r *http.Request) map[string]any {
	return map[string]any{"project_id": callerProject(r)}
}

// typeView is upstream's v3 types view: extra specs to those who may see them
// (all of them to admins, the user-visible ones to readers), qos_specs_id to
// admins, and the type access extension's is_public.
func (s *Service) typeView(r *http.Request, t *volumeType) map[string]any {
	v := map[string]any{"id": t.ID, "name": t.Name, "is_public": t.IsPublic, "description": t.Description,
		"os-volume-type-access:is_public": t.IsPublic}
	target := s.ownTarget(r)
	if s.allowed(r, policyTypeExtraSpecsSeen, target) {
		specs := map[string]string{}
		sensitive := s.allowed(r, policyExtraSpecsReadSens, target)
		for k, val := range t.ExtraSpecs {
			if sensitive || contains(userVisibleExtraSpecs, k) {
				specs[k] = val
			}
		}
		v["extra_specs"] = specs
	}
	if s.allowed(r, policyTypeQosSeen, target) {
		v["qos_specs_id"] = nil
	}
	return v
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// visibleType loads the type the path names as the caller may see it
// ("default" is the default type); a private type not shared with the caller
// is not found, as upstream's project_only query.
func (s *Service) visibleType(r *http.Request, q db.Querier, id string) (*volumeType, error) {
	ctx := r.Context()
	if id == "default" {
		return s.defaultType(ctx, q)
	}
	t, err := typeByID(ctx, q, id)
	if db.IsNoRows(err) {
		return nil, notFound("Volume type %s could not be found.", id)
	}
	if err != nil {
		return nil, err
	}
	if ok, err := typeAccessible(ctx, q, t, callerProject(r), isAdmin(r)); err != nil {
		return nil, err
	} else if !ok {
		return nil, notFound("Volume type %s could not be found.", id)
	}
	return t, nil
}

func (s *Service) listTypes(r *http.Request) (httpapi.Response, error) {
	if err := s.enforce(r, policyTypeGetAll, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	q := r.URL.Query()
	// non-admins see the public types and those shared with them
	// (is_public=True for them); admins choose with is_public
	// (_parse_is_public: None lists all, else the flag)
	wantPublic := "true"
	if isAdmin(r) {
		wantPublic = strings.ToLower(q.Get("is_public"))
		if wantPublic == "none" {
			wantPublic = ""
		}
	}
	all, err := db.QueryAll(ctx, s.db, scanType, `SELECT `+typeColumns+` FROM volume_types ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return httpapi.Response{}, err
	}
	var out []*volumeType
	for _, t := range all {
		switch wantPublic {
		case "":
		case "true", "1", "yes", "on", "y", "t":
			if !t.IsPublic {
				if ok, err := typeAccessible(ctx, s.db, t, callerProject(r), false); err != nil || !ok {
					if err != nil {
						return httpapi.Response{}, err
					}
					continue
				}
			}
		case "false", "0", "no", "off", "n", "f":
			if t.IsPublic {
				continue
			}
		default:
			return httpapi.Response{}, badRequest("Invalid is_public filter [%s]", q.Get("is_public"))
		}
		out = append(out, t)
	}
	if err := loadExtraSpecs(ctx, s.db, out...); err != nil {
		return httpapi.Response{}, err
	}
	page, err := httpapi.ParsePage(r, 0)
	if err != nil {
		return httpapi.Response{}, badRequest("%s", httpapi.AsError(err).Message)
	}
	out, _, err = httpapi.Apply(page, out, func(t *volumeType) string { return t.ID })
	if err != nil {
		return httpapi.Response{}, err
	}
	views := make([]any, 0, len(out))
	for _, t := range out {
		views = append(views, s.typeView(r, t))
	}
	return httpapi.OK(map[string]any{"volume_types": views}), nil
}

func (s *Service) showType(r *http.Request) (httpapi.Response, error) {
	t, err := s.visibleType(r, s.db, r.PathValue("type_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.enforce(r, policyTypeGet, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"volume_type": s.typeView(r, t)}), nil
}

// boolFromString is oslo's strutils.bool_from_string(strict=True) over a
// JSON value: booleans, and the strings it knows.
func boolFromString(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "1", "t", "true", "on", "y", "yes":
			return true, true
		case "0", "f", "false", "off", "n", "no":
			return false, true
		}
	case float64:
		if b == 1 {
			return true, true
		}
		if b == 0 {
			return false, true
		}
	}
	return false, false
}

type typeBody struct {
	VolumeType *struct {
		Name        *string           `json:"name"`
		Description *string           `json:"description"`
		IsPublic    any               `json:"is_public"`
		AccessFlag  any               `json:"os-volume-type-access:is_public"`
		ExtraSpecs  map[string]string `json:"extra_specs"`
	} `json:"volume_type"`
}

func validTypeName(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > 255 {
		return badRequest("Invalid input for field/attribute name. Value: %s. It must be a string of 1 to 255 characters, not blank.", name)
	}
	return nil
}

func (s *Service) createType(r *http.Request) (httpapi.Response, error) {
	if err := s.enforce(r, policyTypeCreate, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	var body typeBody
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	vt := body.VolumeType
	if vt == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute volume_type. Value: None. 'volume_type' is a required property")
	}
	if vt.Name == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute name. Value: None. 'name' is a required property")
	}
	if err := validTypeName(*vt.Name); err != nil {
		return httpapi.Response{}, err
	}
	if vt.Description != nil && len(*vt.Description) > 255 {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute description. It must be at most 255 characters.")
	}
	public := true
	if vt.AccessFlag != nil {
		b, ok := boolFromString(vt.AccessFlag)
		if !ok {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute os-volume-type-access:is_public. Value: %v.", vt.AccessFlag)
		}
		public = b
	}
	if err := validExtraSpecs(vt.ExtraSpecs); err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	id := uuid.NewString()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := typeByName(ctx, tx, *vt.Name); err == nil {
			return conflict("Volume Type %s already exists.", *vt.Name)
		} else if !db.IsNoRows(err) {
			return err
		}
		now := dbTime(s.now())
		if _, err := tx.ExecContext(ctx, `INSERT INTO volume_types (id, name, description, is_public, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`, id, *vt.Name, vt.Description, public, now, now); err != nil {
			if db.IsUniqueViolation(err) {
				return conflict("Volume Type %s already exists.", *vt.Name)
			}
			return err
		}
		return putExtraSpecs(ctx, tx, id, vt.ExtraSpecs)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	t, err := typeByID(ctx, s.db, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"volume_type": s.typeView(r, t)}), nil
}

func (s *Service) updateType(r *http.Request) (httpapi.Response, error) {
	if err := s.enforce(r, policyTypeUpdate, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	var body typeBody
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	vt := body.VolumeType
	if vt == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute volume_type. Value: None. 'volume_type' is a required property")
	}
	var public *bool
	if vt.IsPublic != nil {
		b, ok := boolFromString(vt.IsPublic)
		if !ok {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute is_public. Value: %v.", vt.IsPublic)
		}
		public = &b
	}
	if vt.Name != nil && strings.TrimSpace(*vt.Name) == "" {
		return httpapi.Response{}, badRequest("Volume type name can not be empty.")
	}
	if vt.Name == nil && vt.Description == nil && public == nil {
		return httpapi.Response{}, badRequest("Specify volume type name, description, is_public or a combination thereof.")
	}
	ctx := r.Context()
	id := r.PathValue("type_id")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		t, err := typeByID(ctx, tx, id)
		if db.IsNoRows(err) {
			return notFound("Volume type %s could not be found.", id)
		}
		if err != nil {
			return err
		}
		if vt.Name != nil && *vt.Name != t.Name {
			if t.Name == s.opts.DefaultVolumeType {
				return badRequest("The volume type %s is a default volume type and cannot be renamed.", t.ID)
			}
			if _, err := typeByName(ctx, tx, *vt.Name); err == nil {
				return conflict("Volume Type %s already exists.", *vt.Name)
			}
			t.Name = *vt.Name
		}
		if vt.Description != nil {
			t.Description = vt.Description
		}
		if public != nil {
			t.IsPublic = *public
		}
		_, err = tx.ExecContext(ctx, `UPDATE volume_types SET name = ?, description = ?, is_public = ?, updated_at = ? WHERE id = ?`,
			t.Name, t.Description, t.IsPublic, dbTime(s.now()), t.ID)
		if db.IsUniqueViolation(err) { // a concurrent create or rename took the name
			return conflict("Volume Type %s already exists.", t.Name)
		}
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	t, err := typeByID(ctx, s.db, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"volume_type": s.typeView(r, t)}), nil
}

func (s *Service) deleteType(r *http.Request) (httpapi.Response, error) {
	if err := s.enforce(r, policyTypeDelete, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	id := r.PathValue("type_id")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		t, err := typeByID(ctx, tx, id)
		if db.IsNoRows(err) {
			return notFound("Volume type %s could not be found.", id)
		}
		if err != nil {
			return err
		}
		if t.Name == s.opts.DefaultVolumeType {
			return badRequest("The volume type %s is a default volume type and cannot be deleted.", t.ID)
		}
		var inUse int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM volumes WHERE volume_type_id = ?`, t.ID).Scan(&inUse); err != nil {
			return err
		}
		if inUse > 0 {
			return badRequest("Target volume type is still in use.")
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM volume_types WHERE id = ?`, t.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// validExtraSpecs is upstream's extra specs schema: keys of 1 to 255
// characters of [a-zA-Z0-9-_:. /], values strings of up to 255.
func validExtraSpecs(specs map[string]string) error {
	for k, v := range specs {
		if len(k) == 0 || len(k) > 255 {
			return badRequest("Invalid input for field/attribute extra_specs. Key %q must be 1 to 255 characters.", k)
		}
		for _, c := range k {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_:. /", c)) {
				return badRequest("Invalid input for field/attribute extra_specs. Additional properties are not allowed (%s was unexpected)", strconv.Quote(k))
			}
		}
		if len(v) > 255 {
			return badRequest("Invalid input for field/attribute extra_specs. Value of %s is longer than 255 characters.", k)
		}
	}
	return nil
}

func putExtraSpecs(ctx context.Context, tx *db.Tx, typeID string, specs map[string]string) error {
	for _, k := range sortedKeys(specs) {
		if _, err := tx.ExecContext(ctx, `DELETE FROM volume_type_extra_specs WHERE volume_type_id = ? AND key = ?`, typeID, k); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO volume_type_extra_specs (volume_type_id, key, value) VALUES (?, ?, ?)`,
			typeID, k, specs[k]); err != nil {
			return err
		}
	}
	return nil
}

// extraSpecsType loads the type of an extra specs route (upstream's
// _check_type: 404 for an unknown type, whoever asks).
func (s *Service) extraSpecsType(r *http.Request, q db.Querier) (*volumeType, error) {
	id := r.PathValue("type_id")
	t, err := typeByID(r.Context(), q, id)
	if db.IsNoRows(err) {
		return nil, notFound("Volume type %s could not be found.", id)
	}
	return t, err
}

// visibleSpecs filters specs as the types view does.
func (s *Service) visibleSpecs(r *http.Request, specs map[string]string) map[string]string {
	if s.allowed(r, policyExtraSpecsReadSens, s.ownTarget(r)) {
		return specs
	}
	out := map[string]string{}
	for k, v := range specs {
		if contains(userVisibleExtraSpecs, k) {
			out[k] = v
		}
	}
	return out
}

func (s *Service) listExtraSpecs(r *http.Request) (httpapi.Response, error) {
	if err := s.enforce(r, policyExtraSpecsIndex, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	t, err := s.extraSpecsType(r, s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"extra_specs": s.visibleSpecs(r, t.ExtraSpecs)}), nil
}

func (s *Service) createExtraSpecs(r *http.Request) (httpapi.Response, error) {
	if err := s.enforce(r, policyExtraSpecsCreate, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	var body struct {
		ExtraSpecs map[string]any `json:"extra_specs"`
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	if body.ExtraSpecs == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute extra_specs. Value: None. 'extra_specs' is a required property")
	}
	specs, err := stringSpecs(body.ExtraSpecs)
	if err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		t, err := s.extraSpecsType(r, tx)
		if err != nil {
			return err
		}
		return putExtraSpecs(ctx, tx, t.ID, specs)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"extra_specs": specs}), nil
}

// stringSpecs takes the spec values upstream accepts (strings, and numbers
// and booleans it turns into strings) and refuses the rest.
func stringSpecs(in map[string]any) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range in {
		switch x := v.(type) {
		case string:
			out[k] = x
		case bool:
			out[k] = map[bool]string{true: "True", false: "False"}[x]
		case float64:
			out[k] = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			return nil, badRequest("Invalid input for field/attribute %s. Value: %v. is not of type 'string'", k, v)
		}
	}
	return out, validExtraSpecs(out)
}

func (s *Service) showExtraSpec(r *http.Request) (httpapi.Response, error) {
	if err := s.enforce(r, policyExtraSpecsShow, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	t, err := s.extraSpecsType(r, s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	key := r.PathValue("key")
	v, ok := s.visibleSpecs(r, t.ExtraSpecs)[key]
	if !ok {
		return httpapi.Response{}, notFound("Volume Type %s has no extra specs with key %s.", t.ID, key)
	}
	return httpapi.OK(map[string]any{key: v}), nil
}

func (s *Service) updateExtraSpec(r *http.Request) (httpapi.Response, error) {
	if err := s.enforce(r, policyExtraSpecsUpdate, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	var body map[string]any
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	key := r.PathValue("key")
	if _, ok := body[key]; !ok {
		return httpapi.Response{}, badRequest("Request body and URI mismatch")
	}
	if len(body) > 1 {
		return httpapi.Response{}, badRequest("Request body contains too many items")
	}
	specs, err := stringSpecs(body)
	if err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		t, err := s.extraSpecsType(r, tx)
		if err != nil {
			return err
		}
		return putExtraSpecs(ctx, tx, t.ID, specs)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(specs), nil
}

func (s *Service) deleteExtraSpec(r *http.Request) (httpapi.Response, error) {
	if err := s.enforce(r, policyExtraSpecsDelete, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	key := r.PathValue("key")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		t, err := s.extraSpecsType(r, tx)
		if err != nil {
			return err
		}
		if _, ok := t.ExtraSpecs[key]; !ok {
			return notFound("Volume Type %s has no extra specs with key %s.", t.ID, key)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM volume_type_extra_specs WHERE volume_type_id = ? AND key = ?`, t.ID, key)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

func (s *Service) listTypeAccess(r *http.Request) (httpapi.Response, error) {
	if err := s.enforce(r, policyTypeAccessList, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	t, err := s.extraSpecsType(r, s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	if t.IsPublic {
		return httpapi.Response{}, notFound("Access list not available for public volume types.")
	}
	projects, err := db.QueryStrings(r.Context(), s.db,
		`SELECT project_id FROM volume_type_projects WHERE volume_type_id = ? ORDER BY project_id`, t.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := make([]any, 0, len(projects))
	for _, p := range projects {
		out = append(out, map[string]any{"volume_type_id": t.ID, "project_id": p})
	}
	return httpapi.OK(map[string]any{"volume_type_access": out}), nil
}

// typeAction is POST /types/{id}/action: addProjectAccess and
// removeProjectAccess (volume_type_access.py), 202 each.
func (s *Service) typeAction(r *http.Request) (httpapi.Response, error) {
	var body map[string]json.RawMessage
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	var access struct {
		Project string `json:"project"`
	}
	ctx := r.Context()
	for name, raw := range body {
		switch name {
		case "addProjectAccess", "removeProjectAccess":
		default:
			continue
		}
		rule := policyTypeAccessAdd
		if name == "removeProjectAccess" {
			rule = policyTypeAccessRemove
		}
		if err := s.enforce(r, rule, s.ownTarget(r)); err != nil {
			return httpapi.Response{}, err
		}
		if err := httpapi.DecodeJSONBytes(raw, &access); err != nil || access.Project == "" {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute project. 'project' is a required property")
		}
		err := s.db.InTx(ctx, func(tx *db.Tx) error {
			t, err := s.extraSpecsType(r, tx)
			if err != nil {
				return err
			}
			if name == "addProjectAccess" {
				if t.IsPublic {
					return badRequest("Invalid volume type: Type access modification is not applicable to public volume type.")
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO volume_type_projects (volume_type_id, project_id) VALUES (?, ?)`, t.ID, access.Project)
				if db.IsUniqueViolation(err) {
					return conflict("Volume type access for %s / %s combination already exists.", t.ID, access.Project)
				}
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM volume_type_projects WHERE volume_type_id = ? AND project_id = ?`, t.ID, access.Project)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return notFound("Volume type access not found for %s / %s combination.", t.ID, access.Project)
			}
			return nil
		})
		if err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.Response{Status: http.StatusAccepted}, nil
	}
	return httpapi.Response{}, badRequest("There is no such action: %s", strings.Join(sortedKeys(body), ","))
}

// decodeBody reads a JSON body with Cinder's message for a malformed one.
func decodeBody(r *http.Request, dst any) error {
	if err := httpapi.DecodeJSON(r, dst); err != nil {
		if httpapi.IsStatus(err, http.StatusRequestEntityTooLarge) {
			return err
		}
		e := httpapi.AsError(err)
		if strings.HasPrefix(e.Message, "Invalid input") {
			return err
		}
		return badRequest("Malformed request body")
	}
	return nil
}
