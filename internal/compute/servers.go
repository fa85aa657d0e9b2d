package compute

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

func (s *Service) serverRoutes() []httpapi.Route {
	own := func(r *http.Request) (map[string]any, error) {
		return map[string]any{"target.project_id": auth.FromContext(r.Context()).ProjectID}, nil
	}
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/servers", Policy: "os_compute_api:servers:index", Target: own, Handler: s.listServers(false)},
		{Method: "GET", Path: "/v2.1/servers/detail", Policy: "os_compute_api:servers:detail", Target: own, Handler: s.listServers(true)},
		{Method: "POST", Path: "/v2.1/servers", Policy: "os_compute_api:servers:create", Target: own, Handler: s.createServer},
		{Method: "GET", Path: "/v2.1/servers/{id}", Handler: s.showServer},
		{Method: "PUT", Path: "/v2.1/servers/{id}", Handler: s.updateServer},
		{Method: "DELETE", Path: "/v2.1/servers/{id}", Handler: s.deleteServer},
	}
}

// visibleInstance loads a server the caller may act on under rule: another
// project's is 404, as upstream (it does not reveal that the server exists). A
// deleted server is 404 to admins too, as upstream's get_instance reads with
// read_deleted "no": admins find deleted servers by listing them (deleted=true,
// changes-since), and a client waiting for a delete sees it end.
func (s *Service) visibleInstance(r *http.Request, rule string) (*instance, error) {
	id := r.PathValue("id")
	in, err := loadInstance(r.Context(), s.db, id)
	if err != nil {
		return nil, err
	}
	creds := auth.FromContext(r.Context())
	if in.Deleted {
		return nil, notFound("Instance %s could not be found.", id)
	}
	target := map[string]any{"target.project_id": in.ProjectID, "target.user_id": in.UserID}
	if err := s.enforce(r, rule, target); err != nil {
		if in.ProjectID != creds.ProjectID {
			return nil, notFound("Instance %s could not be found.", id)
		}
		return nil, err
	}
	return in, nil
}

func (s *Service) serverLinks(id string) []httpapi.Link {
	self := s.base() + "/v2.1/servers/" + id
	return []httpapi.Link{{Rel: "self", Href: self}, {Rel: "bookmark", Href: strings.Replace(self, "/v2.1/", "/", 1)}}
}

// hostID is upstream's opaque host id: SHA-224 of the project and host, so a
// project can tell its servers apart by host without learning host names.
func hostID(project, host string) string {
	if host == "" {
		return ""
	}
	sum := sha256.Sum224([]byte(project + host))
	return hex.EncodeToString(sum[:])
}

// serverView renders a server as GET /servers/{id} shows it (o nil: one
// server, not a list) at the request's microversion.
func (s *Service) serverView(r *http.Request, in *instance, o *serverViewOpts) map[string]any {
	creds := auth.FromContext(r.Context())
	image := any("")
	if in.ImageRef != "" {
		self := s.base() + "/images/" + in.ImageRef
		image = map[string]any{"id": in.ImageRef, "links": []httpapi.Link{{Rel: "bookmark", Href: self}}}
	}
	addresses := map[string][]map[string]any{}
	for _, p := range in.Request.Ports {
		for _, ip := range p.IPs {
			addresses[p.NetworkName] = append(addresses[p.NetworkName], addressView(ip, "fixed", p.MAC))
		}
		for _, ip := range p.FloatingIPs {
			addresses[p.NetworkName] = append(addresses[p.NetworkName], addressView(ip, "floating", p.MAC))
		}
	}
	groups := []map[string]string{}
	for _, g := range in.Request.SecurityGroups {
		groups = append(groups, map[string]string{"name": g})
	}
	var keyName any
	if in.KeyName != "" {
		keyName = in.KeyName
	}
	var task any
	if in.TaskState != "" {
		task = in.TaskState
	}
	configDrive := ""
	if in.Request.ConfigDrive {
		configDrive = "True"
	}
	v := map[string]any{
		"id": in.UUID, "name": in.Name, "status": in.status(), "tenant_id": in.ProjectID, "user_id": in.UserID,
		"metadata": in.Metadata, "hostId": hostID(in.ProjectID, in.Host), "image": image,
		"flavor":  map[string]any{"id": in.Flavor.ID, "links": []httpapi.Link{{Rel: "bookmark", Href: s.base() + "/flavors/" + in.Flavor.ID}}},
		"created": in.CreatedAt, "updated": in.UpdatedAt, "addresses": addresses,
		"accessIPv4": in.Request.AccessIPv4, "accessIPv6": in.Request.AccessIPv6, "links": s.serverLinks(in.UUID),
		"OS-DCF:diskConfig": diskConfigOf(in), "OS-EXT-AZ:availability_zone": s.zoneOf(in), "config_drive": configDrive,
		"key_name": keyName, "OS-SRV-USG:launched_at": nullTime(in.LaunchedAt), "OS-SRV-USG:terminated_at": nullTime(in.TerminatedAt),
		"OS-EXT-STS:task_state": task, "OS-EXT-STS:vm_state": in.VMState, "OS-EXT-STS:power_state": in.PowerState,
		"os-extended-volumes:volumes_attached": s.volumesAttachedView(r, in, o), "security_groups": groups,
	}
	// nova/api/openstack/compute/views/servers.py _progress_statuses
	switch in.status() {
	case "ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING":
		v["progress"] = 0
	}
	if in.Fault != nil && (in.VMState == vmError || in.VMState == vmDeleted) {
		f := map[string]any{"code": in.Fault.Code, "created": in.Fault.Created, "message": in.Fault.Message}
		if isAdmin(creds) && in.Fault.Details != "" {
			f["details"] = in.Fault.Details
		}
		v["fault"] = f
	}
	if s.policy.Allowed("os_compute_api:os-extended-server-attributes", map[string]any{"target.project_id": in.ProjectID}, creds.PolicyCredentials()) {
		var host any
		if in.Host != "" {
			host = in.Host
		}
		v["OS-EXT-SRV-ATTR:host"] = host
		v["OS-EXT-SRV-ATTR:hypervisor_hostname"] = host
		v["OS-EXT-SRV-ATTR:instance_name"] = instanceName(in.ID)
	}
	if o == nil {
		o = &serverViewOpts{}
	}
	s.addVersionedFields(r, in, v, o)
	return v
}

// instanceName is the hypervisor's name of the guest (upstream instance_name_template).
func instanceName(id int64) string { return "instance-" + strconv.FormatInt(0x100000000+id, 16)[1:] }

func addressView(ip, kind, mac string) map[string]any {
	version := 4
	if strings.Contains(ip, ":") {
		version = 6
	}
	return map[string]any{"addr": ip, "version": version, "OS-EXT-IPS:type": kind, "OS-EXT-IPS-MAC:mac_addr": mac}
}

// nullTime is a stored time as Nova's OS-SRV-USG fields show it (microseconds,
// no zone), null when unset.
func nullTime(t string) any {
	if t == "" {
		return nil
	}
	return strings.TrimSuffix(t, "Z") + ".000000"
}

// diskConfigOf is OS-DCF:diskConfig as upstream shows it: AUTO when the
// server asked for it (auto_disk_config), MANUAL otherwise.
func diskConfigOf(in *instance) string {
	if in.Request.DiskConfig == "AUTO" {
		return "AUTO"
	}
	return "MANUAL"
}

// checkDiskConfig is the schema of OS-DCF:diskConfig in create, rebuild and
// resize (nova/api/openstack/compute/schemas/servers.py).
func checkDiskConfig(d string) error {
	if d != "AUTO" && d != "MANUAL" {
		return badRequest("Invalid input for field/attribute OS-DCF:diskConfig. Value: %s. '%s' is not one of ['AUTO', 'MANUAL']", d, d)
	}
	return nil
}

func (s *Service) zoneOf(in *instance) string {
	if in.AZ != "" {
		return in.AZ
	}
	if in.Host == "" {
		return ""
	}
	return s.opts.DefaultAvailabilityZone
}

func (s *Service) showServer(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:servers:show")
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"server": s.serverView(r, in, nil)}), nil
}

// listServers is GET /servers and /servers/detail with upstream's filters, newest
// first, paged by limit and marker.
func (s *Service) listServers(detail bool) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		ctx := r.Context()
		creds := auth.FromContext(ctx)
		q := r.URL.Query()
		admin := isAdmin(creds)
		allTenants := false
		if v, ok := q["all_tenants"]; ok {
			on, err := boolField("all_tenants", firstOr(v, "true"))
			if err != nil {
				return httpapi.Response{}, err
			}
			if on {
				rule := "os_compute_api:servers:index:get_all_tenants"
				if detail {
					rule = "os_compute_api:servers:detail:get_all_tenants"
				}
				if err := s.enforce(r, rule, nil); err != nil {
					return httpapi.Response{}, err
				}
				allTenants = true
			}
		}
		where, args := []string{"deleted = ?"}, []any{false}
		if admin {
			if d, err := boolField("deleted", q.Get("deleted")); err == nil && d {
				args[0] = true
			}
		}
		project := creds.ProjectID
		if admin && (q.Get("project_id") != "" || q.Get("tenant_id") != "") {
			project = firstNonEmpty(q.Get("project_id"), q.Get("tenant_id"))
			allTenants = false
		}
		if !allTenants {
			where, args = append(where, "project_id = ?"), append(args, project)
		}
		if h := q.Get("host"); h != "" && admin {
			where, args = append(where, "host = ?"), append(args, h)
		}
		if img := q.Get("image"); img != "" {
			where, args = append(where, "image_ref = ?"), append(args, refID(img))
		}
		if since := q.Get("changes-since"); since != "" {
			where, args = append(where, "updated_at >= ?"), append(args, since)
		}
		extra, err := listFiltersOf(r, q, admin)
		if err != nil {
			return httpapi.Response{}, err
		}
		where, args = append(where, extra.where...), append(args, extra.args...)
		page, err := httpapi.ParsePage(r, 1000)
		if err != nil {
			return httpapi.Response{}, err
		}
		// Without filters applied below, the database pages (keyset on the sort
		// order), so a page reads limit+1 rows, not every server of the project.
		sqlPaged := !q.Has("name") && !q.Has("status") && !q.Has("flavor") && !q.Has("ip") && len(extra.preds) == 0
		if sqlPaged {
			if page.Marker != "" {
				var at string
				var id int64
				err := s.db.QueryRowContext(ctx, `SELECT created_at, id FROM instances WHERE `+strings.Join(where, " AND ")+
					` AND uuid = ?`, append(slices.Clone(args), page.Marker)...).Scan(&at, &id)
				if db.IsNoRows(err) {
					return httpapi.Response{}, httpapi.NotFound("Marker %s could not be found.", page.Marker)
				} else if err != nil {
					return httpapi.Response{}, err
				}
				where, args = append(where, "(created_at < ? OR (created_at = ? AND id < ?))"), append(args, at, at, id)
			}
			// The page is picked on the narrow sort keys, then read: sorting whole
			// rows under a LIMIT costs more than reading every row of a page of 1,000.
			where = []string{`uuid IN (SELECT uuid FROM instances WHERE ` + strings.Join(where, " AND ") +
				` ORDER BY created_at DESC, id DESC LIMIT ` + strconv.Itoa(page.Limit+1) + `)`}
		}
		rows, err := db.QueryAll(ctx, s.db, scanInstance, `SELECT `+instanceColumns+` FROM instances WHERE `+
			strings.Join(where, " AND ")+` ORDER BY created_at DESC, id DESC`, args...)
		if err != nil {
			return httpapi.Response{}, err
		}
		if sqlPaged {
			page.Marker = "" // applied above
		}
		var nameRE *regexp.Regexp
		if n := q.Get("name"); n != "" {
			if nameRE, err = regexp.Compile(n); err != nil {
				return httpapi.Response{}, badRequest("Invalid regular expression for name: %s", n)
			}
		}
		status := strings.ToUpper(q.Get("status"))
		flavor := refID(q.Get("flavor"))
		var out []*instance
		for _, in := range rows {
			if nameRE != nil && !nameRE.MatchString(in.Name) {
				continue
			}
			if status != "" && in.status() != status {
				continue
			}
			if flavor != "" && in.Flavor.ID != flavor {
				continue
			}
			if ip := q.Get("ip"); ip != "" && !hasIP(in, ip) {
				continue
			}
			if slices.ContainsFunc(extra.preds, func(p func(*instance) bool) bool { return !p(in) }) {
				continue
			}
			out = append(out, in)
		}
		out, more, err := httpapi.Apply(page, out, func(in *instance) string { return in.UUID })
		if err != nil {
			return httpapi.Response{}, err
		}
		views := make([]map[string]any, 0, len(out))
		opts := &serverViewOpts{list: true}
		if detail {
			if opts.volumes, err = s.pageVolumes(r.Context(), out); err != nil {
				return httpapi.Response{}, err
			}
		}
		for _, in := range out {
			if detail {
				views = append(views, s.serverView(r, in, opts))
			} else {
				views = append(views, map[string]any{"id": in.UUID, "name": in.Name, "links": s.serverLinks(in.UUID)})
			}
		}
		body := map[string]any{"servers": views}
		if more && len(out) > 0 {
			next := s.base() + "/v2.1/servers" + detailSuffix(detail) + "?limit=" + strconv.Itoa(page.Limit) + "&marker=" + out[len(out)-1].UUID
			body["servers_links"] = []httpapi.Link{{Rel: "next", Href: next}}
		}
		return httpapi.OK(body), nil
	}
}

func hasIP(in *instance, re string) bool {
	m, err := regexp.Compile(re)
	if err != nil {
		return false
	}
	for _, p := range in.Request.Ports {
		if slices.ContainsFunc(p.IPs, m.MatchString) {
			return true
		}
	}
	return false
}

func firstOr(v []string, def string) string {
	if len(v) == 0 || v[0] == "" {
		return def
	}
	return v[0]
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// updateServer is PUT /servers/{id}: it changes the name, access addresses,
// description and hostname of the server as it is when the change is written
// (one transaction), and nothing else: a rename racing a delete leaves the
// server deleted (404 once it is), never brings it back.
func (s *Service) updateServer(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:servers:update")
	if err != nil {
		return httpapi.Response{}, err
	}
	var req struct {
		Server *struct {
			Name       *string `json:"name"`
			AccessIPv4 *string `json:"accessIPv4"`
			AccessIPv6 *string `json:"accessIPv6"`
			// Raw, so that null (clear it) differs from absent.
			Description json.RawMessage `json:"description"` // 2.19
			Hostname    json.RawMessage `json:"hostname"`    // 2.90
		} `json:"server"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	if req.Server == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute server. 'server' is a required property")
	}
	var changes []func(*instance)
	if n := req.Server.Name; n != nil {
		if strings.TrimSpace(*n) == "" || len(*n) > 255 {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute name. Value: %s.", *n)
		}
		changes = append(changes, func(in *instance) { in.Name = *n })
	}
	if v := req.Server.AccessIPv4; v != nil {
		changes = append(changes, func(in *instance) { in.Request.AccessIPv4 = *v })
	}
	if v := req.Server.AccessIPv6; v != nil {
		changes = append(changes, func(in *instance) { in.Request.AccessIPv6 = *v })
	}
	if raw := req.Server.Description; present(raw) {
		if !since(r, 19) {
			return httpapi.Response{}, unexpected("description")
		}
		d, err := descriptionField(raw)
		if err != nil {
			return httpapi.Response{}, err
		}
		changes = append(changes, func(in *instance) { in.Request.Description = d })
	}
	if raw := req.Server.Hostname; present(raw) {
		if !since(r, 90) {
			return httpapi.Response{}, unexpected("hostname")
		}
		h, err := hostnameField(r, raw)
		if err != nil {
			return httpapi.Response{}, err
		}
		changes = append(changes, func(in *instance) { in.Hostname = h })
	}
	err = s.changeInstance(r, in.UUID, "", func(_ *db.Tx, cur *instance) error {
		for _, change := range changes {
			change(cur)
		}
		in = cur
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"server": slimBefore275(r, s.serverView(r, in, nil))}), nil
}

// slimBefore275 is a server as PUT and rebuild answer before 2.75
// (servers.py update and _action_rebuild, show_all_attributes false): the
// addresses without their type and MAC, and none of the extension attributes
// (zone, config drive, key, usage, security groups, extended attributes, host
// status, states, volumes).
func slimBefore275(r *http.Request, v map[string]any) map[string]any {
	if since(r, 75) {
		return v
	}
	for k := range v {
		if strings.HasPrefix(k, "OS-EXT-") || strings.HasPrefix(k, "OS-SRV-USG:") {
			delete(v, k)
		}
	}
	for _, k := range []string{"config_drive", "key_name", "security_groups", "host_status", "os-extended-volumes:volumes_attached"} {
		delete(v, k)
	}
	if addrs, ok := v["addresses"].(map[string][]map[string]any); ok {
		for _, list := range addrs {
			for _, a := range list {
				delete(a, "OS-EXT-IPS:type")
				delete(a, "OS-EXT-IPS-MAC:mac_addr")
			}
		}
	}
	return v
}

// deleteServer marks the server deleting; its host's agent destroys the guest
// and reports it gone, which gives back its claims and its ports. A server
// never placed goes at once (upstream's local delete).
func (s *Service) deleteServer(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:servers:delete")
	if err != nil {
		return httpapi.Response{}, err
	}
	var local bool // no host runs it: deleted here
	err = s.db.InTx(r.Context(), func(tx *db.Tx) error {
		local = false
		cur, err := loadInstance(r.Context(), tx, in.UUID)
		if err != nil {
			return err
		}
		if cur.Deleted {
			return notFound("Instance %s could not be found.", in.UUID)
		}
		if err := s.checkLocked(r, cur); err != nil {
			return err
		}
		in = cur
		if err := s.startAction(r.Context(), tx, r, cur, "delete"); err != nil {
			return err
		}
		// No host runs it (ERROR, or not placed yet): upstream's local delete,
		// done here and now (or by the conductor if this process dies first).
		local = cur.Host == ""
		cur.TaskState, cur.UpdatedAt = taskDeleting, stamp(s.now())
		return saveInstance(r.Context(), tx, cur)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.dropImagesOfDeleted(r.Context(), in)
	if local {
		if err := s.deleteUnplaced(r.Context(), in); err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.NoContent(), nil // no host to tell
	}
	s.kick(in.Host)
	return httpapi.NoContent(), nil
}

// availabilityZones are the zones a server may ask for: the default one and
// every zone of a compute service (its aggregates' or its own).
func (s *Service) availabilityZones(ctx context.Context) (map[string]bool, error) {
	zones := map[string]bool{s.opts.DefaultAvailabilityZone: true}
	hosts, err := s.hostStates(ctx)
	if err != nil {
		return nil, err
	}
	for _, h := range hosts {
		zones[h.zone()] = true
	}
	return zones, nil
}
