package volume

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// Volume manage and unmanage (cinder/api/contrib/volume_manage.py,
// volume_unmanage.py, v3/volume_manage.py, resource_common_manage.py): an
// admin brings storage a backend holds under management (the volume is
// "managing" until its manager has taken the object over and knows its size,
// then "available", or "error_managing"), lists what a backend could manage
// (3.8), and lets go of a volume without deleting its data (os-unmanage:
// "unmanaging", then the row goes).

// Rule names (cinder/policies/manageable_volumes.py), all admin_api.
const (
	policyVolumeManage   = "volume_extension:volume_manage"
	policyVolumeUnmanage = "volume_extension:volume_unmanage"
	policyListManageable = "volume_extension:list_manageable"
)

// statuses of the manage flow (cinder/objects/fields.py).
const (
	statusManaging      = "managing"
	statusErrorManaging = "error_managing"
	statusUnmanaging    = "unmanaging"
)

func init() {
	maps.Copy(defaultPolicies, map[string]string{
		policyVolumeManage: ruleAdminAPI, policyVolumeUnmanage: ruleAdminAPI, policyListManageable: ruleAdminAPI,
	})
	extraRouteGroups = append(extraRouteGroups, (*Service).manageRoutes)
	RegisterResponses(manageResponses)
}

func (s *Service) manageRoutes() []httpapi.Route {
	create := versioned(volumeManageSchema, 16)
	return []httpapi.Route{
		{Method: "POST", Path: "/v3/os-volume-manage", Handler: s.manageVolume, Schemas: create},
		{Method: "GET", Path: "/v3/os-volume-manage", Handler: s.listManageable(false, 0)},
		{Method: "GET", Path: "/v3/os-volume-manage/detail", Handler: s.listManageable(true, 0)},
		{Method: "POST", Path: "/v3/manageable_volumes", Handler: s.manageVolumeV38, Schemas: create},
		{Method: "GET", Path: "/v3/manageable_volumes", Handler: s.listManageable(false, 8)},
		{Method: "GET", Path: "/v3/manageable_volumes/detail", Handler: s.listManageable(true, 8)},
	}
}

var (
	rsManageable = rsObjectOf(jsonschema.Schema{
		"reference": rsStringMap, "size": rsInteger, "safe_to_manage": rsBoolean,
		"reason_not_safe": rsStringNull, "cinder_id": rsStringNull, "extra_info": jsonschema.Schema{"type": []any{"object", "null"}},
	}, "reference", "size", "safe_to_manage")
	rsManageableList = rsObjectOf(jsonschema.Schema{"manageable-volumes": jsonschema.Schema{"type": "array", "items": rsManageable}},
		"manageable-volumes")
)

var manageResponses = map[string]map[int]jsonschema.Schema{
	"POST /v3/os-volume-manage":         {202: volumeOne},
	"GET /v3/os-volume-manage":          {200: rsManageableList},
	"GET /v3/os-volume-manage/detail":   {200: rsManageableList},
	"POST /v3/manageable_volumes":       {202: volumeOne},
	"GET /v3/manageable_volumes":        {200: rsManageableList},
	"GET /v3/manageable_volumes/detail": {200: rsManageableList},
}

// schemaCinderHost is parameter_types.cinder_host: host@backend#pool.
var schemaCinderHost = jsonschema.Schema{"type": []any{"string", "null"}, "minLength": 1, "maxLength": 255,
	"pattern": `^[a-zA-Z0-9-._#@:/+]*$`}

// volumeManageSchema is schemas/volume_manage.py (cluster from 3.16).
func volumeManageSchema(minor int) jsonschema.Schema {
	nameLike := map[string]any{"type": []any{"string", "null"}, "minLength": 0, "maxLength": 255}
	props := map[string]any{
		"description": schemaDescription, "availability_zone": nameLike, "bootable": schemaBoolean,
		"volume_type": nameLike, "name": nameLike, "host": schemaCinderHost,
		"ref": map[string]any{"type": []any{"object", "string"}}, "metadata": schemaMetadataAllowsNull,
	}
	if minor >= 16 {
		props["cluster"] = map[string]any{"type": []any{"string", "null"}, "minLength": 0, "maxLength": 255}
	}
	return jsonschema.Schema{"type": "object", "properties": map[string]any{
		"volume": map[string]any{"type": "object", "properties": props, "required": []any{"ref"}, "additionalProperties": false},
	}, "required": []any{"volume"}, "additionalProperties": false}
}

func (s *Service) manageVolumeV38(r *http.Request) (httpapi.Response, error) {
	if !since(r, 8) {
		return httpapi.Response{}, versionNotFound(r)
	}
	return s.manageVolume(r)
}

// clusterHost is common.get_cluster_host: one and only one of cluster and
// host from clusterSince, else host required. Nimbus has no clusters, so a
// cluster names no service.
func clusterHost(r *http.Request, params map[string]string, clusterSince int) (cluster, host string, err error) {
	msg := "Host field is missing."
	if since(r, clusterSince) {
		cluster = params["cluster"]
		msg = "One and only one of cluster and host must be set."
	}
	host = params["host"]
	if (cluster == "") == (host == "") {
		return "", "", badRequest("Invalid input received: %s", msg)
	}
	return cluster, host, nil
}

// backendOf is extract_host(host, 'backend'): host@backend without the pool.
func backendOf(host string) string {
	b, _, _ := strings.Cut(host, "#")
	return b
}

// manageService is _get_service_by_host_cluster: the cinder-volume service of
// the host's backend, up and enabled, else upstream's 503s.
func (s *Service) manageService(ctx context.Context, q db.Querier, cluster, host string) (az string, err error) {
	if cluster != "" {
		return "", httpErrorf(http.StatusServiceUnavailable, "Cluster '%s' not found", cluster)
	}
	var disabled bool
	var heartbeat string
	err = q.QueryRowContext(ctx, `SELECT availability_zone, disabled, heartbeat_at FROM volume_services
		WHERE host = ? AND binary_name = 'cinder-volume'`, backendOf(host)).Scan(&az, &disabled, &heartbeat)
	if db.IsNoRows(err) {
		return "", httpErrorf(http.StatusServiceUnavailable, "Host '%s' not found", host)
	}
	if err != nil {
		return "", err
	}
	beat, perr := time.Parse(time.RFC3339Nano, heartbeat)
	if disabled || perr != nil || s.now().Sub(beat) > serviceDownTime {
		return "", httpErrorf(http.StatusServiceUnavailable, "Service is unavailable at this time.")
	}
	return az, nil
}

// managedName is extract_id_from_volume_name: the id of a volume-<uuid> name.
var managedName = regexp.MustCompile(`^volume-([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$`)

func (s *Service) manageVolume(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyVolumeManage, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	var body struct {
		Volume struct {
			Host             *string           `json:"host"`
			Cluster          *string           `json:"cluster"`
			Name             *string           `json:"name"`
			Description      *string           `json:"description"`
			VolumeType       *string           `json:"volume_type"`
			AvailabilityZone *string           `json:"availability_zone"`
			Bootable         any               `json:"bootable"`
			Ref              any               `json:"ref"`
			Metadata         map[string]string `json:"metadata"`
		} `json:"volume"`
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	in := body.Volume
	params := map[string]string{}
	for k, p := range map[string]*string{"host": in.Host, "cluster": in.Cluster} {
		if p != nil {
			params[k] = *p
		}
	}
	cluster, host, err := clusterHost(r, params, 16)
	if err != nil {
		return httpapi.Response{}, err
	}
	// a string ref is accepted by the schema; the drivers read a dict
	ref, ok := in.Ref.(map[string]any)
	if !ok {
		ref = map[string]any{}
	}
	bootable := false
	if in.Bootable != nil {
		bootable, _ = boolFromString(in.Bootable)
	}
	if name, ok := ref["source-name"].(string); ok {
		if m := managedName.FindStringSubmatch(name); m != nil {
			if _, err := volumeByID(ctx, s.db, m[1]); err == nil {
				return httpapi.Response{}, badRequest("Invalid volume: Unable to manage existing volume. The volume is already managed")
			} else if !db.IsNoRows(err) {
				return httpapi.Response{}, err
			}
		}
	}
	refJSON, err := json.Marshal(ref)
	if err != nil {
		return httpapi.Response{}, badRequest("Invalid input received: bad ref")
	}
	id := uuid.NewString()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var vtype *volumeType
		if in.VolumeType != nil && *in.VolumeType != "" {
			t, err := s.resolveType(r, tx, *in.VolumeType)
			if err != nil {
				return badRequest("Invalid volume type: Cannot find requested '%s' volume type", *in.VolumeType)
			}
			vtype = t
		} else if vtype, err = s.defaultType(ctx, tx); err != nil {
			return err
		}
		az, err := s.manageService(ctx, tx, cluster, host)
		if err != nil {
			return err
		}
		if in.AvailabilityZone != nil {
			az = *in.AvailabilityZone
		}
		manageHost := host
		if !strings.Contains(host, "#") {
			manageHost = backendOf(host)
		}
		// the row counts as a volume at once (usage is counted from rows);
		// its gigabytes are counted by the manager once it knows the size,
		// as upstream's manager reserves them
		if err := s.checkQuota(ctx, tx, callerProject(r), map[string]int{"volumes": 1, "volumes_" + vtype.Name: 1}); err != nil {
			return err
		}
		now := dbTime(s.now())
		var name, desc *string
		if in.Name != nil && strings.TrimSpace(*in.Name) != "" {
			name = cleanText(in.Name)
		}
		if in.Description != nil && strings.TrimSpace(*in.Description) != "" {
			desc = cleanText(in.Description)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO volumes (id, project_id, user_id, name, description, size, status,
			attach_status, availability_zone, volume_type_id, host, bootable, multiattach, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, 0, ?, 'detached', ?, ?, ?, ?, ?, ?, ?)`,
			id, callerProject(r), callerUser(r), name, desc, statusManaging, az, vtype.ID, manageHost, bootable,
			multiattachType(vtype), now, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO volume_manage_refs (volume_id, ref) VALUES (?, ?)`, id, string(refJSON)); err != nil {
			return err
		}
		return setKeyValues(ctx, tx, "volume_metadata", "volume_id", id, in.Metadata, false)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	v, err := s.visibleVolume(r, s.db, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusAccepted, map[string]any{"volume": s.volumeDetail(r, v)}), nil
}

// ManageableLister is the volume manager as the API asks it for a backend's
// manageable volumes (upstream's get_manageable_volumes RPC call).
type ManageableLister interface {
	ManageableVolumes(ctx context.Context, host string) ([]backend.ManageableVolume, error)
}

var _ ManageableLister = (*Manager)(nil)

// listManageable is the manageable-volumes listing (index and detail), from
// minMinor (0 for os-volume-manage).
func (s *Service) listManageable(detail bool, minMinor int) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		if minMinor > 0 && !since(r, minMinor) {
			return httpapi.Response{}, versionNotFound(r)
		}
		if err := s.enforce(r, policyListManageable, s.ownTarget(r)); err != nil {
			return httpapi.Response{}, err
		}
		q := r.URL.Query()
		params := map[string]string{"host": q.Get("host"), "cluster": q.Get("cluster")}
		cluster, host, err := clusterHost(r, params, 17)
		if err != nil {
			return httpapi.Response{}, err
		}
		page, err := manageablePage(q)
		if err != nil {
			return httpapi.Response{}, err
		}
		if _, err := s.manageService(r.Context(), s.db, cluster, host); err != nil {
			return httpapi.Response{}, err
		}
		lister, ok := s.opts.Connections.(ManageableLister)
		if !ok {
			return httpapi.Response{}, httpErrorf(http.StatusServiceUnavailable, "Service is unavailable at this time.")
		}
		all, err := lister.ManageableVolumes(r.Context(), backendOf(host))
		if err != nil {
			return httpapi.Response{}, badRequest("Invalid input received: %v", err)
		}
		items, err := page.apply(all)
		if err != nil {
			return httpapi.Response{}, err
		}
		out := make([]map[string]any, 0, len(items))
		for _, m := range items {
			view := map[string]any{"reference": m.Reference, "size": m.SizeGB, "safe_to_manage": m.SafeToManage}
			if detail {
				view["reason_not_safe"], view["cinder_id"], view["extra_info"] = nilIfEmpty(m.ReasonNotSafe), nilIfEmpty(m.CinderID), nil
				if m.ExtraInfo != nil {
					view["extra_info"] = m.ExtraInfo
				}
			}
			out = append(out, view)
		}
		return httpapi.OK(map[string]any{"manageable-volumes": out}), nil
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// manageableQuery is the listing's paging and sorting (get_pagination_params,
// get_sort_params with default key reference; keys reference and size).
type manageableQuery struct {
	marker        string
	limit, offset int
	keys, dirs    []string
}

func manageablePage(q map[string][]string) (manageableQuery, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	p := manageableQuery{marker: get("marker"), limit: 1000}
	for _, k := range []string{"limit", "offset"} {
		if v := get(k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return p, badRequest("Invalid input received: %s param must be an integer", k)
			}
			if k == "limit" {
				p.limit = n
			} else {
				p.offset = n
			}
		}
	}
	if sort := get("sort"); sort != "" {
		for _, part := range strings.Split(sort, ",") {
			key, dir, _ := strings.Cut(strings.TrimSpace(part), ":")
			if dir == "" {
				dir = "asc"
			}
			p.keys, p.dirs = append(p.keys, key), append(p.dirs, strings.ToLower(dir))
		}
	} else {
		for _, k := range strings.Split(get("sort_key"), ",") {
			if k = strings.TrimSpace(k); k != "" {
				p.keys = append(p.keys, k)
			}
		}
		if len(p.keys) == 0 {
			p.keys = []string{"reference"}
		}
		dir := strings.ToLower(get("sort_dir"))
		if dir == "" {
			dir = "desc"
		}
		for range p.keys {
			p.dirs = append(p.dirs, dir)
		}
	}
	var badKeys, badDirs []string
	for i, k := range p.keys {
		if k != "reference" && k != "size" {
			badKeys = append(badKeys, k)
		}
		if p.dirs[i] != "asc" && p.dirs[i] != "desc" {
			badDirs = append(badDirs, p.dirs[i])
		}
	}
	if len(badKeys) > 0 {
		return p, badRequest("Invalid input received: Invalid sort keys passed: %s", strings.Join(badKeys, ", "))
	}
	if len(badDirs) > 0 {
		return p, badRequest("Invalid input received: Invalid sort dirs passed: %s", strings.Join(badDirs, ", "))
	}
	return p, nil
}

// refValue is how paginate_entries_list compares a reference: its smallest value.
func refValue(ref map[string]string) string {
	vals := slices.Sorted(maps.Values(ref))
	if len(vals) == 0 {
		return ""
	}
	return vals[0]
}

// apply sorts and pages as volume_utils.paginate_entries_list; the marker is
// a reference as JSON or, as a convenience, its source-name.
func (p manageableQuery) apply(all []backend.ManageableVolume) ([]backend.ManageableVolume, error) {
	sorted := slices.Clone(all)
	slices.SortStableFunc(sorted, func(a, b backend.ManageableVolume) int {
		for i, k := range p.keys {
			c := 0
			if k == "size" {
				c = a.SizeGB - b.SizeGB
			} else {
				c = strings.Compare(refValue(a.Reference), refValue(b.Reference))
			}
			if p.dirs[i] == "desc" {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	start := 0
	if p.marker != "" {
		want := map[string]string{}
		if err := json.Unmarshal([]byte(p.marker), &want); err != nil {
			want = map[string]string{"source-name": p.marker}
		}
		start = -1
		for i, m := range sorted {
			if maps.Equal(m.Reference, want) {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return nil, badRequest("Invalid input received: marker not found: %s", p.marker)
		}
	}
	lo := min(start+p.offset, len(sorted))
	hi := min(start+p.limit+p.offset, len(sorted))
	return sorted[lo:hi], nil
}

// unmanageVolume is the os-unmanage action: delete(unmanage_only=True).
func (s *Service) unmanageVolume(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, policyVolumeUnmanage)
		if err != nil {
			return err
		}
		var snapshots int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM volume_snapshots WHERE volume_id = ?`, v.ID).Scan(&snapshots); err != nil {
			return err
		}
		ok := v.AttachStatus != attachAttached && contains(deletableStatuses, v.Status) && snapshots == 0 &&
			(v.MigrationStatus == nil || *v.MigrationStatus == "success" || *v.MigrationStatus == "error")
		if !ok {
			return badRequest("Invalid volume: Volume status must be %s and must not be migrating, attached, belong to a group, "+
				"have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.",
				strings.Join(deletableStatuses, " or "))
		}
		if v.Host == "" || v.Status == statusErrorManaging {
			// nothing on a backend is the service's: the row goes at once
			_, err := tx.ExecContext(ctx, `DELETE FROM volumes WHERE id = ?`, v.ID)
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE volumes SET status = ?, updated_at = ? WHERE id = ?`, statusUnmanaging, dbTime(s.now()), v.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	return httpapi.Response{Status: http.StatusAccepted}, nil
}
