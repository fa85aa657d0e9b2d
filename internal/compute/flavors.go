package compute

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Flavor is a hardware template; servers keep a copy of theirs.
type Flavor struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	VCPUs       int               `json:"vcpus"`
	RAM         int               `json:"ram"`
	Disk        int               `json:"disk"`
	Ephemeral   int               `json:"ephemeral"`
	Swap        int               `json:"swap"`
	RXTXFactor  float64           `json:"rxtx_factor"`
	IsPublic    bool              `json:"is_public"`
	Description *string           `json:"description,omitempty"`
	ExtraSpecs  map[string]string `json:"extra_specs"`
}

// DefaultFlavors are upstream's m1 flavors (ids 1-5) and the small test flavors
// devstack makes for tempest (m1.nano 42, m1.micro 84).
var DefaultFlavors = []Flavor{
	{ID: "1", Name: "m1.tiny", VCPUs: 1, RAM: 512, Disk: 1},
	{ID: "2", Name: "m1.small", VCPUs: 1, RAM: 2048, Disk: 20},
	{ID: "3", Name: "m1.medium", VCPUs: 2, RAM: 4096, Disk: 40},
	{ID: "4", Name: "m1.large", VCPUs: 4, RAM: 8192, Disk: 80},
	{ID: "5", Name: "m1.xlarge", VCPUs: 8, RAM: 16384, Disk: 160},
	{ID: "42", Name: "m1.nano", VCPUs: 1, RAM: 128, Disk: 1},
	{ID: "84", Name: "m1.micro", VCPUs: 1, RAM: 192, Disk: 1},
}

// EnsureDefaultFlavors creates the default flavors that are missing (by id), as
// the all-in-one's first start does.
func (s *Service) EnsureDefaultFlavors(ctx context.Context) error {
	for _, f := range DefaultFlavors {
		f.RXTXFactor, f.IsPublic = 1, true
		if err := s.insertFlavor(ctx, f); err != nil && !db.IsUniqueViolation(err) {
			return fmt.Errorf("default flavor %s: %w", f.Name, err)
		}
	}
	return nil
}

func (s *Service) flavorRoutes() []httpapi.Route {
	// Extra specs are read against the caller's own project, as upstream's
	// flavors_extraspecs (project-scoped: no domain or system token).
	own := func(r *http.Request) (map[string]any, error) {
		return map[string]any{"target.project_id": auth.FromContext(r.Context()).ProjectID}, nil
	}
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/flavors", Handler: s.listFlavors(false)},
		{Method: "GET", Path: "/v2.1/flavors/detail", Handler: s.listFlavors(true)},
		{Method: "GET", Path: "/v2.1/flavors/{id}", Handler: s.showFlavor},
		{Method: "POST", Path: "/v2.1/flavors", Policy: "os_compute_api:os-flavor-manage:create", Handler: s.createFlavor},
		{Method: "DELETE", Path: "/v2.1/flavors/{id}", Policy: "os_compute_api:os-flavor-manage:delete", Handler: s.deleteFlavor},
		{Method: "PUT", Path: "/v2.1/flavors/{id}", Policy: "os_compute_api:os-flavor-manage:update", Handler: s.updateFlavor},
		{Method: "GET", Path: "/v2.1/flavors/{id}/os-extra_specs", Policy: "os_compute_api:os-flavor-extra-specs:index", Target: own, Handler: s.listExtraSpecs},
		{Method: "POST", Path: "/v2.1/flavors/{id}/os-extra_specs", Policy: "os_compute_api:os-flavor-extra-specs:create", Handler: s.createExtraSpecs},
		{Method: "GET", Path: "/v2.1/flavors/{id}/os-extra_specs/{key}", Policy: "os_compute_api:os-flavor-extra-specs:show", Target: own, Handler: s.showExtraSpec},
		{Method: "PUT", Path: "/v2.1/flavors/{id}/os-extra_specs/{key}", Policy: "os_compute_api:os-flavor-extra-specs:update", Handler: s.updateExtraSpec},
		{Method: "DELETE", Path: "/v2.1/flavors/{id}/os-extra_specs/{key}", Policy: "os_compute_api:os-flavor-extra-specs:delete", Handler: s.deleteExtraSpec},
		{Method: "GET", Path: "/v2.1/flavors/{id}/os-flavor-access", Policy: "os_compute_api:os-flavor-access", Handler: s.listFlavorAccess},
		{Method: "POST", Path: "/v2.1/flavors/{id}/action", Handler: s.flavorAction},
	}
}

const flavorColumns = `id, name, vcpus, ram, disk, ephemeral, swap, rxtx_factor, is_public, description, extra_specs`

func scanFlavor(sc db.Scanner) (Flavor, error) {
	var f Flavor
	var desc *string
	var specs string
	if err := sc.Scan(&f.ID, &f.Name, &f.VCPUs, &f.RAM, &f.Disk, &f.Ephemeral, &f.Swap, &f.RXTXFactor, &f.IsPublic, &desc, &specs); err != nil {
		return f, err
	}
	f.Description = desc
	if err := json.Unmarshal([]byte(specs), &f.ExtraSpecs); err != nil || f.ExtraSpecs == nil {
		f.ExtraSpecs = map[string]string{}
	}
	return f, nil
}

func (s *Service) insertFlavor(ctx context.Context, f Flavor) error {
	specs, _ := json.Marshal(f.ExtraSpecs)
	if f.ExtraSpecs == nil {
		specs = []byte("{}")
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO flavors (`+flavorColumns+`, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.Name, f.VCPUs, f.RAM, f.Disk, f.Ephemeral, f.Swap, f.RXTXFactor, f.IsPublic, f.Description, string(specs), stamp(s.now()))
	return err
}

// flavor loads a flavor the caller may see: public ones, private ones its project
// was given, any for admins. Others are 404, as upstream.
func (s *Service) flavor(ctx context.Context, creds *auth.Credentials, id string) (Flavor, error) {
	f, err := scanFlavor(s.db.QueryRowContext(ctx, `SELECT `+flavorColumns+` FROM flavors WHERE id = ?`, id))
	if db.IsNoRows(err) {
		return f, notFound("Flavor %s could not be found.", id)
	}
	if err != nil {
		return f, err
	}
	if !f.IsPublic && !isAdmin(creds) {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM flavor_projects WHERE flavor_id = ? AND project_id = ?`,
			id, creds.ProjectID).Scan(&n); err != nil {
			return f, err
		}
		if n == 0 {
			return f, notFound("Flavor %s could not be found.", id)
		}
	}
	return f, nil
}

func (s *Service) listFlavors(detail bool) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		creds := auth.FromContext(r.Context())
		q := r.URL.Query()
		// is_public: true by default; admins may ask for all ("none") or private only.
		public := "true"
		if v := strings.ToLower(q.Get("is_public")); v != "" {
			public = v
		}
		switch public {
		case "true", "t", "yes", "1", "false", "f", "no", "0", "none":
		default:
			return httpapi.Response{}, badRequest("Invalid is_public filter [%s]", q.Get("is_public"))
		}
		minRAM, err1 := optionalInt(q.Get("minRam"))
		minDisk, err2 := optionalInt(q.Get("minDisk"))
		if err1 != nil {
			return httpapi.Response{}, badRequest("Invalid minRam filter [%s]", q.Get("minRam"))
		}
		if err2 != nil {
			return httpapi.Response{}, badRequest("Invalid minDisk filter [%s]", q.Get("minDisk"))
		}
		page, err := httpapi.ParsePage(r, 1000)
		if err != nil {
			return httpapi.Response{}, err
		}
		all, err := db.QueryAll(r.Context(), s.db, scanFlavor, `SELECT `+flavorColumns+` FROM flavors`)
		if err != nil {
			return httpapi.Response{}, err
		}
		access, err := db.QueryStrings(r.Context(), s.db, `SELECT flavor_id FROM flavor_projects WHERE project_id = ?`, creds.ProjectID)
		if err != nil {
			return httpapi.Response{}, err
		}
		var out []Flavor
		for _, f := range all {
			visible := f.IsPublic || slices.Contains(access, f.ID)
			if isAdmin(creds) {
				switch public {
				case "none":
					visible = true
				case "false", "f", "no", "0":
					visible = !f.IsPublic
				default:
					visible = f.IsPublic || slices.Contains(access, f.ID)
				}
			} else if public == "false" || public == "f" || public == "no" || public == "0" {
				visible = !f.IsPublic && slices.Contains(access, f.ID)
			}
			if visible && f.RAM >= minRAM && f.Disk >= minDisk {
				out = append(out, f)
			}
		}
		sortFlavors(out, q.Get("sort_key"), q.Get("sort_dir"))
		out, more, err := httpapi.Apply(page, out, func(f Flavor) string { return f.ID })
		if err != nil {
			return httpapi.Response{}, err
		}
		views := make([]map[string]any, 0, len(out))
		for _, f := range out {
			views = append(views, s.flavorView(r, f, detail))
		}
		body := map[string]any{"flavors": views}
		if more && len(out) > 0 {
			body["flavors_links"] = []httpapi.Link{{Rel: "next", Href: s.base() + "/v2.1/flavors" + detailSuffix(detail) +
				"?limit=" + strconv.Itoa(page.Limit) + "&marker=" + out[len(out)-1].ID}}
		}
		return httpapi.OK(body), nil
	}
}

func detailSuffix(detail bool) string {
	if detail {
		return "/detail"
	}
	return ""
}

// sortFlavors orders as upstream: by flavorid ascending unless asked otherwise.
func sortFlavors(fs []Flavor, key, dir string) {
	less := func(a, b Flavor) int {
		switch key {
		case "name":
			return strings.Compare(a.Name, b.Name)
		case "memory_mb", "ram":
			return a.RAM - b.RAM
		case "vcpus":
			return a.VCPUs - b.VCPUs
		case "root_gb", "disk":
			return a.Disk - b.Disk
		}
		return strings.Compare(a.ID, b.ID)
	}
	slices.SortStableFunc(fs, func(a, b Flavor) int {
		if strings.EqualFold(dir, "desc") {
			return less(b, a)
		}
		return less(a, b)
	})
}

func optionalInt(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid %q", s)
	}
	return n, nil
}

// flavorView renders a flavor as the API shows it.
func (s *Service) flavorView(r *http.Request, f Flavor, detail bool) map[string]any {
	self := s.base() + "/v2.1/flavors/" + f.ID
	v := map[string]any{"id": f.ID, "name": f.Name, "links": []httpapi.Link{
		{Rel: "self", Href: self}, {Rel: "bookmark", Href: strings.Replace(self, "/v2.1/", "/", 1)}}}
	if !detail {
		// From 2.55 the list shows each flavor's description too
		// (schemas/flavors.py index_response_v255).
		if since(r, 55) {
			var d any
			if f.Description != nil {
				d = *f.Description
			}
			v["description"] = d
		}
		return v
	}
	v["ram"], v["disk"], v["vcpus"] = f.RAM, f.Disk, f.VCPUs
	// Before 2.75 a flavor without swap shows "" (upstream's quirk).
	if f.Swap == 0 && !since(r, 75) {
		v["swap"] = ""
	} else {
		v["swap"] = f.Swap
	}
	v["OS-FLV-EXT-DATA:ephemeral"] = f.Ephemeral
	v["OS-FLV-DISABLED:disabled"] = false
	v["os-flavor-access:is_public"] = f.IsPublic
	v["rxtx_factor"] = f.RXTXFactor
	if since(r, 55) {
		var d any
		if f.Description != nil {
			d = *f.Description
		}
		v["description"] = d
	}
	if since(r, 61) {
		creds := auth.FromContext(r.Context())
		if s.policy.Allowed("os_compute_api:os-flavor-extra-specs:index", map[string]any{"target.project_id": creds.ProjectID}, creds.PolicyCredentials()) {
			specs := f.ExtraSpecs
			if specs == nil {
				specs = map[string]string{}
			}
			v["extra_specs"] = specs
		}
	}
	return v
}

// updateFlavor is 2.55's PUT /flavors/{id}: only the description changes.
func (s *Service) updateFlavor(r *http.Request) (httpapi.Response, error) {
	if !since(r, 55) {
		return httpapi.Response{}, versionNotFound()
	}
	var req struct {
		Flavor map[string]json.RawMessage `json:"flavor"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	raw, ok := req.Flavor["description"]
	if !ok {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute flavor. 'description' is a required property")
	}
	if len(req.Flavor) > 1 {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute flavor. Additional properties are not allowed")
	}
	desc, err := flavorDescription(raw)
	if err != nil {
		return httpapi.Response{}, err
	}
	f, err := s.flavor(r.Context(), auth.FromContext(r.Context()), r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.db.ExecContext(r.Context(), `UPDATE flavors SET description = ? WHERE id = ?`, desc, f.ID); err != nil {
		return httpapi.Response{}, err
	}
	f.Description = desc
	return httpapi.OK(map[string]any{"flavor": s.flavorView(r, f, true)}), nil
}

// flavorDescription is a description as upstream's schema takes it: null or a
// string of up to 65,535 printable characters.
func flavorDescription(raw json.RawMessage) (*string, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var d string
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, badRequest("Invalid input for field/attribute description. Value: %s. It is not of type 'string', 'null'", raw)
	}
	if len(d) > 65535 || strings.ContainsFunc(d, func(c rune) bool { return c < 0x20 && c != '\n' && c != '\t' && c != '\r' }) {
		return nil, badRequest("Invalid input for field/attribute description. Value: %s. It must be at most 65535 printable characters", d)
	}
	return &d, nil
}

func (s *Service) showFlavor(r *http.Request) (httpapi.Response, error) {
	f, err := s.flavor(r.Context(), auth.FromContext(r.Context()), r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"flavor": s.flavorView(r, f, true)}), nil
}

type flavorRequest struct {
	Flavor *struct {
		Name        *string          `json:"name"`
		ID          any              `json:"id"` // a string, a number or null, as upstream's schema
		RAM         any              `json:"ram"`
		VCPUs       any              `json:"vcpus"`
		Disk        any              `json:"disk"`
		Ephemeral   any              `json:"OS-FLV-EXT-DATA:ephemeral"`
		Swap        any              `json:"swap"`
		RXTXFactor  *float64         `json:"rxtx_factor"`
		IsPublic    any              `json:"os-flavor-access:is_public"` // a boolean or its strings
		Description *json.RawMessage `json:"description"`
	} `json:"flavor"`
}

// flavorInt reads an integer attribute of a flavor request (JSON number or
// numeric string, as upstream's schema), within [min, max].
func flavorInt(name string, v any, required bool, min int) (int, error) {
	if v == nil {
		if required {
			return 0, badRequest("Invalid input for field/attribute flavor. Value: 'ram'. '%s' is a required property", name)
		}
		return 0, nil
	}
	var n float64
	switch x := v.(type) {
	case float64:
		n = x
	case string:
		p, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return 0, badRequest("Invalid input for field/attribute %s. Value: %s. '%s' is not of type 'integer'", name, x, x)
		}
		n = float64(p)
	default:
		return 0, badRequest("Invalid input for field/attribute %s. Value: %v. %v is not of type 'integer', 'string'", name, v, v)
	}
	if n != math.Trunc(n) || n < float64(min) || n > math.MaxInt32 {
		return 0, badRequest("Invalid input for field/attribute %s. Value: %v. %v is less than the minimum of %d", name, v, v, min)
	}
	return int(n), nil
}

func (s *Service) createFlavor(r *http.Request) (httpapi.Response, error) {
	var req flavorRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	if req.Flavor == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute flavor. Value: None. 'flavor' is a required property")
	}
	in := req.Flavor
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" || len(*in.Name) > 255 {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute name. 'name' is a required property and must be 1-255 characters")
	}
	f := Flavor{Name: strings.TrimSpace(*in.Name), RXTXFactor: 1, IsPublic: true, ExtraSpecs: map[string]string{}}
	var err error
	if in.Description != nil {
		if !since(r, 55) {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute flavor. Additional properties are not allowed ('description' was unexpected)")
		}
		if f.Description, err = flavorDescription(*in.Description); err != nil {
			return httpapi.Response{}, err
		}
	}
	if f.RAM, err = flavorInt("ram", in.RAM, true, 1); err != nil {
		return httpapi.Response{}, err
	}
	if f.VCPUs, err = flavorInt("vcpus", in.VCPUs, true, 1); err != nil {
		return httpapi.Response{}, err
	}
	if f.Disk, err = flavorInt("disk", in.Disk, true, 0); err != nil {
		return httpapi.Response{}, err
	}
	if f.Ephemeral, err = flavorInt("OS-FLV-EXT-DATA:ephemeral", in.Ephemeral, false, 0); err != nil {
		return httpapi.Response{}, err
	}
	if f.Swap, err = flavorInt("swap", in.Swap, false, 0); err != nil {
		return httpapi.Response{}, err
	}
	if in.RXTXFactor != nil {
		if *in.RXTXFactor <= 0 {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute rxtx_factor. Value: %v. %v is less than the minimum of 0", *in.RXTXFactor, *in.RXTXFactor)
		}
		f.RXTXFactor = *in.RXTXFactor
	}
	if in.IsPublic != nil {
		// strutils.bool_from_string(strict=True), as upstream's create.
		if f.IsPublic, err = boolField("os-flavor-access:is_public", in.IsPublic); err != nil {
			return httpapi.Response{}, err
		}
	}
	// Upstream stores str(id): a number is its decimal form.
	id := ""
	switch v := in.ID.(type) {
	case string:
		id = v
	case float64:
		id = strconv.FormatFloat(v, 'f', -1, 64)
	}
	switch {
	case id == "" || strings.EqualFold(id, "auto"):
		f.ID = uuid.NewString()
	default:
		f.ID = strings.TrimSpace(id)
		if len(f.ID) > 255 || strings.ContainsAny(f.ID, "/?#") {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute id. Value: %s. Does not match pattern", f.ID)
		}
	}
	if err := s.insertFlavor(r.Context(), f); err != nil {
		if db.IsUniqueViolation(err) {
			var byID int
			_ = s.db.QueryRowContext(r.Context(), `SELECT COUNT(*) FROM flavors WHERE id = ?`, f.ID).Scan(&byID)
			if byID > 0 {
				return httpapi.Response{}, conflict("Flavor with ID %s already exists.", f.ID)
			}
			return httpapi.Response{}, conflict("Flavor with name %s already exists.", f.Name)
		}
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"flavor": s.flavorView(r, f, true)}), nil
}

func (s *Service) deleteFlavor(r *http.Request) (httpapi.Response, error) {
	res, err := s.db.ExecContext(r.Context(), `DELETE FROM flavors WHERE id = ?`, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return httpapi.Response{}, notFound("Flavor %s could not be found.", r.PathValue("id"))
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

func isAdmin(creds *auth.Credentials) bool {
	if creds == nil {
		return false
	}
	for _, role := range creds.Roles {
		if role.Name == "admin" {
			return true
		}
	}
	return false
}
