package compute

import (
	"encoding/json"
	"maps"
	"net/http"
	"regexp"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/compute/extraspecs"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// extraSpecKey is upstream's pattern for extra spec keys (and values' length).
var extraSpecKey = regexp.MustCompile(`^[\w.:-]{1,255}$`)

func (s *Service) saveExtraSpecs(r *http.Request, id string, change func(map[string]string)) (map[string]string, error) {
	var specs map[string]string
	err := s.db.InTx(r.Context(), func(tx *db.Tx) error {
		var raw string
		if err := tx.QueryRowContext(r.Context(), `SELECT extra_specs FROM flavors WHERE id = ?`, id).Scan(&raw); err != nil {
			if db.IsNoRows(err) {
				return notFound("Flavor %s could not be found.", id)
			}
			return err
		}
		specs = map[string]string{}
		_ = json.Unmarshal([]byte(raw), &specs)
		change(specs)
		data, _ := json.Marshal(specs)
		_, err := tx.ExecContext(r.Context(), `UPDATE flavors SET extra_specs = ? WHERE id = ?`, string(data), id)
		return err
	})
	return specs, err
}

func (s *Service) listExtraSpecs(r *http.Request) (httpapi.Response, error) {
	f, err := s.flavor(r.Context(), auth.FromContext(r.Context()), r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"extra_specs": f.ExtraSpecs}), nil
}

func (s *Service) showExtraSpec(r *http.Request) (httpapi.Response, error) {
	f, err := s.flavor(r.Context(), auth.FromContext(r.Context()), r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	key := r.PathValue("key")
	v, ok := f.ExtraSpecs[key]
	if !ok {
		return httpapi.Response{}, notFound("Flavor %s has no extra specs with key %s.", f.ID, key)
	}
	return httpapi.OK(map[string]any{key: v}), nil
}

// decodeSpecs reads {"extra_specs": {k: v}} (create) or {k: v} (update of one key).
func decodeSpecs(r *http.Request, wrapped bool) (map[string]string, error) {
	var raw map[string]any
	if err := httpapi.DecodeJSON(r, &raw); err != nil {
		return nil, err
	}
	if wrapped {
		inner, ok := raw["extra_specs"].(map[string]any)
		if !ok {
			return nil, badRequest("Invalid input for field/attribute extra_specs. 'extra_specs' is a required property")
		}
		raw = inner
	}
	out := map[string]string{}
	for k, v := range raw {
		if !extraSpecKey.MatchString(k) {
			return nil, badRequest("Invalid input for field/attribute extra_specs. Additional properties are not allowed ('%s' was unexpected)", k)
		}
		var str string
		switch x := v.(type) {
		case string:
			str = x
		case float64, bool:
			b, _ := json.Marshal(x)
			str = string(b)
		default:
			return nil, badRequest("Invalid input for field/attribute %s. Value: %v. It is not a string, number or boolean", k, v)
		}
		if len(str) > 255 {
			return nil, badRequest("Invalid input for field/attribute %s. The value is longer than 255 characters", k)
		}
		out[k] = str
	}
	return out, nil
}

// checkSpecs is 2.86's check of each spec against upstream's registry; before
// it, any name and value are stored. It runs before the flavor is looked up
// and before update's body/URI check, as upstream's does, and in name order so
// that the same bad body always names the same spec.
func checkSpecs(r *http.Request, specs map[string]string) error {
	if !since(r, 86) {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(specs)) {
		if err := extraspecs.Validate(name, specs[name]); err != nil {
			return badRequest("%s", err)
		}
	}
	return nil
}

func (s *Service) createExtraSpecs(r *http.Request) (httpapi.Response, error) {
	in, err := decodeSpecs(r, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := checkSpecs(r, in); err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.saveExtraSpecs(r, r.PathValue("id"), func(m map[string]string) {
		for k, v := range in {
			m[k] = v
		}
	}); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"extra_specs": in}), nil
}

func (s *Service) updateExtraSpec(r *http.Request) (httpapi.Response, error) {
	in, err := decodeSpecs(r, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := checkSpecs(r, in); err != nil {
		return httpapi.Response{}, err
	}
	key := r.PathValue("key")
	v, ok := in[key]
	if !ok || len(in) != 1 {
		return httpapi.Response{}, badRequest("Request body and URI mismatch")
	}
	if _, err := s.saveExtraSpecs(r, r.PathValue("id"), func(m map[string]string) { m[key] = v }); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{key: v}), nil
}

func (s *Service) deleteExtraSpec(r *http.Request) (httpapi.Response, error) {
	key, id := r.PathValue("key"), r.PathValue("id")
	found := false
	if _, err := s.saveExtraSpecs(r, id, func(m map[string]string) {
		_, found = m[key]
		delete(m, key)
	}); err != nil {
		return httpapi.Response{}, err
	}
	if !found {
		return httpapi.Response{}, notFound("Flavor %s has no extra specs with key %s.", id, key)
	}
	return httpapi.OK(nil), nil // 200 without a body, as upstream
}

func (s *Service) flavorAccess(r *http.Request, id string) (httpapi.Response, error) {
	projects, err := db.QueryStrings(r.Context(), s.db, `SELECT project_id FROM flavor_projects WHERE flavor_id = ? ORDER BY project_id`, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	list := []map[string]string{}
	for _, p := range projects {
		list = append(list, map[string]string{"flavor_id": id, "tenant_id": p})
	}
	return httpapi.OK(map[string]any{"flavor_access": list}), nil
}

func (s *Service) listFlavorAccess(r *http.Request) (httpapi.Response, error) {
	f, err := s.flavor(r.Context(), auth.FromContext(r.Context()), r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if f.IsPublic {
		return httpapi.Response{}, notFound("Access list not available for public flavors.")
	}
	return s.flavorAccess(r, f.ID)
}

// flavorAction is addTenantAccess / removeTenantAccess.
func (s *Service) flavorAction(r *http.Request) (httpapi.Response, error) {
	action, arg, err := oneAction(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	rule := map[string]string{"addTenantAccess": "os_compute_api:os-flavor-access:add_tenant_access",
		"removeTenantAccess": "os_compute_api:os-flavor-access:remove_tenant_access"}[action]
	if rule == "" {
		return httpapi.Response{}, badRequest("There is no such action: %s", action)
	}
	var body struct {
		Tenant string `json:"tenant"`
	}
	if err := json.Unmarshal(arg, &body); err != nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute %s.", action)
	}
	f, err := s.flavor(r.Context(), auth.FromContext(r.Context()), r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.enforce(r, rule, nil); err != nil {
		return httpapi.Response{}, err
	}
	if body.Tenant == "" {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute tenant. 'tenant' is a required property")
	}
	if f.IsPublic {
		return httpapi.Response{}, conflict("Can not add access to a public flavor.")
	}
	if action == "addTenantAccess" {
		if _, err := s.db.ExecContext(r.Context(), `INSERT INTO flavor_projects (flavor_id, project_id) VALUES (?, ?)`, f.ID, body.Tenant); err != nil {
			if db.IsUniqueViolation(err) {
				return httpapi.Response{}, conflict("Flavor access already exists for flavor %s and project %s combination.", f.ID, body.Tenant)
			}
			if db.IsForeignKeyViolation(err) { // the flavor was deleted meanwhile
				return httpapi.Response{}, notFound("Flavor %s could not be found.", f.ID)
			}
			return httpapi.Response{}, err
		}
	} else {
		res, err := s.db.ExecContext(r.Context(), `DELETE FROM flavor_projects WHERE flavor_id = ? AND project_id = ?`, f.ID, body.Tenant)
		if err != nil {
			return httpapi.Response{}, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return httpapi.Response{}, notFound("Flavor access not found for %s / %s combination.", f.ID, body.Tenant)
		}
	}
	return s.flavorAccess(r, f.ID)
}
