package compute

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/compute/scheduler"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// os-aggregates at 2.1 (admin only): host aggregates whose metadata the
// scheduler reads; the availability_zone key puts their hosts in that zone.
func (s *Service) aggregateRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/os-aggregates", Policy: "os_compute_api:os-aggregates:index", Handler: s.listAggregates},
		{Method: "POST", Path: "/v2.1/os-aggregates", Policy: "os_compute_api:os-aggregates:create", Handler: s.createAggregate},
		{Method: "GET", Path: "/v2.1/os-aggregates/{id}", Policy: "os_compute_api:os-aggregates:show", Handler: s.showAggregate},
		{Method: "PUT", Path: "/v2.1/os-aggregates/{id}", Policy: "os_compute_api:os-aggregates:update", Handler: s.updateAggregate},
		{Method: "DELETE", Path: "/v2.1/os-aggregates/{id}", Policy: "os_compute_api:os-aggregates:delete", Handler: s.deleteAggregate},
		// The body names the action, so its rule (os-aggregates:add_host,
		// :remove_host, :set_metadata) is enforced in the handler.
		{Method: "POST", Path: "/v2.1/os-aggregates/{id}/action", Handler: s.aggregateAction},
	}
}

// aggregate is one row of aggregates.
type aggregate struct {
	ID                   int64
	UUID, Name           string
	Metadata             map[string]string
	Hosts                []string
	CreatedAt, UpdatedAt string
}

const metaAZ = "availability_zone"

func (a *aggregate) zone() string { return a.Metadata[metaAZ] }

func scanAggregate(sc db.Scanner) (*aggregate, error) {
	var a aggregate
	var meta, hosts string
	if err := sc.Scan(&a.ID, &a.UUID, &a.Name, &meta, &hosts, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return nil, err
	}
	if err := jsonUnmarshal(meta, &a.Metadata); err != nil {
		return nil, err
	}
	if err := jsonUnmarshal(hosts, &a.Hosts); err != nil {
		return nil, err
	}
	if a.Metadata == nil {
		a.Metadata = map[string]string{}
	}
	if a.Hosts == nil {
		a.Hosts = []string{}
	}
	return &a, nil
}

const aggregateColumns = `id, uuid, name, metadata, hosts, created_at, updated_at`

func loadAggregates(ctx context.Context, q querier) ([]*aggregate, error) {
	return db.QueryAll(ctx, q, scanAggregate, `SELECT `+aggregateColumns+` FROM aggregates ORDER BY id`)
}

func loadAggregate(ctx context.Context, q querier, raw string) (*aggregate, error) {
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, notFound("Aggregate %s could not be found.", raw)
	}
	a, err := scanAggregate(q.QueryRowContext(ctx, `SELECT `+aggregateColumns+` FROM aggregates WHERE id = ?`, id))
	if db.IsNoRows(err) {
		return nil, notFound("Aggregate %s could not be found.", raw)
	}
	return a, err
}

func saveAggregate(ctx context.Context, q querier, a *aggregate) error {
	_, err := q.ExecContext(ctx, `UPDATE aggregates SET name = ?, metadata = ?, hosts = ?, updated_at = ? WHERE id = ?`,
		a.Name, mustJSON(a.Metadata), mustJSON(a.Hosts), a.UpdatedAt, a.ID)
	if db.IsUniqueViolation(err) {
		return conflict("Aggregate %s already exists.", a.Name)
	}
	return err
}

// hostAggregates is each host's aggregates as the scheduler reads them.
func hostAggregates(ctx context.Context, q querier) (map[string][]scheduler.Aggregate, error) {
	aggs, err := loadAggregates(ctx, q)
	if err != nil {
		return nil, err
	}
	out := map[string][]scheduler.Aggregate{}
	for _, a := range aggs {
		for _, h := range a.Hosts {
			out[h] = append(out[h], scheduler.Aggregate{Name: a.Name, Metadata: a.Metadata, AZ: a.zone()})
		}
	}
	return out, nil
}

// aggregateView is an aggregate as the API shows it: with its uuid from 2.41.
func (s *Service) aggregateView(r *http.Request, a *aggregate, full bool) map[string]any {
	v := map[string]any{"id": a.ID, "name": a.Name, "availability_zone": nullable(a.zone()), "created_at": nullTime(a.CreatedAt),
		"updated_at": nullTime(a.UpdatedAt), "deleted": false, "deleted_at": nil}
	if since(r, 41) {
		v["uuid"] = a.UUID
	}
	if full {
		v["hosts"], v["metadata"] = a.Hosts, a.Metadata
	}
	return v
}

func (s *Service) listAggregates(r *http.Request) (httpapi.Response, error) {
	aggs, err := loadAggregates(r.Context(), s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := make([]map[string]any, 0, len(aggs))
	for _, a := range aggs {
		out = append(out, s.aggregateView(r, a, true))
	}
	return httpapi.OK(map[string]any{"aggregates": out}), nil
}

func (s *Service) showAggregate(r *http.Request) (httpapi.Response, error) {
	a, err := loadAggregate(r.Context(), s.db, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"aggregate": s.aggregateView(r, a, true)}), nil
}

// aggregateFields validates create and update bodies: name 1-255 characters,
// availability_zone 1-255 characters without ':' (it would read as az:host).
func aggregateFields(r *http.Request, nameRequired bool) (name, az *string, err error) {
	var req struct {
		Aggregate *struct {
			Name *string `json:"name"`
			AZ   *string `json:"availability_zone"`
		} `json:"aggregate"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, nil, err
	}
	if req.Aggregate == nil {
		return nil, nil, badRequest("Invalid input for field/attribute aggregate. 'aggregate' is a required property")
	}
	name, az = req.Aggregate.Name, req.Aggregate.AZ
	if name == nil && nameRequired {
		return nil, nil, badRequest("Invalid input for field/attribute aggregate. 'name' is a required property")
	}
	if name == nil && az == nil {
		return nil, nil, badRequest("Invalid input for field/attribute aggregate. Value: {}. {} does not have enough properties")
	}
	if name != nil && (strings.TrimSpace(*name) == "" || len(*name) > 255) {
		return nil, nil, badRequest("Invalid input for field/attribute name. Value: %s. It must be 1-255 characters and not only spaces", *name)
	}
	if az != nil && (strings.TrimSpace(*az) == "" || len(*az) > 255 || strings.Contains(*az, ":")) {
		return nil, nil, badRequest("Invalid input for field/attribute availability_zone. Value: %s.", *az)
	}
	return name, az, nil
}

func (s *Service) createAggregate(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	name, az, err := aggregateFields(r, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	a := &aggregate{UUID: newUUID(), Name: *name, Metadata: map[string]string{}, Hosts: []string{}}
	if az != nil {
		a.Metadata[metaAZ] = *az
	}
	// updated_at stays empty (null in the API) until the first change.
	a.CreatedAt = stamp(s.now())
	// A name taken is refused before an id is drawn, as upstream checks before
	// it inserts (so a refused create leaves no gap); the unique name decides
	// between concurrent creates.
	var taken int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM aggregates WHERE name = ?`, a.Name).Scan(&taken); err != nil {
		return httpapi.Response{}, err
	}
	if taken > 0 {
		return httpapi.Response{}, conflict("Aggregate %s already exists.", a.Name)
	}
	if a.ID, err = nextIDs(ctx, s.db, seqAggregates, 1); err != nil {
		return httpapi.Response{}, err
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO aggregates (`+aggregateColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.UUID, a.Name, mustJSON(a.Metadata), "[]", a.CreatedAt, a.UpdatedAt)
		if db.IsUniqueViolation(err) {
			return conflict("Aggregate %s already exists.", a.Name)
		}
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"aggregate": s.aggregateView(r, a, false)}), nil
}

func (s *Service) updateAggregate(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	name, az, err := aggregateFields(r, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	var a *aggregate
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if a, err = loadAggregate(ctx, tx, r.PathValue("id")); err != nil {
			return err
		}
		if name != nil {
			a.Name = *name
		}
		if az != nil {
			if err := checkZoneChange(ctx, tx, a, a.Hosts, *az); err != nil {
				return err
			}
			a.Metadata[metaAZ] = *az
		}
		a.UpdatedAt = stamp(s.now())
		return saveAggregate(ctx, tx, a)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"aggregate": s.aggregateView(r, a, true)}), nil
}

// checkZoneChange is upstream's rule that a host is in one zone only: hosts of
// a (or joining it) may not sit in another aggregate of a different zone.
func checkZoneChange(ctx context.Context, q querier, a *aggregate, hosts []string, zone string) error {
	if zone == "" {
		return nil
	}
	aggs, err := loadAggregates(ctx, q)
	if err != nil {
		return err
	}
	for _, other := range aggs {
		if other.ID == a.ID || other.zone() == "" || other.zone() == zone {
			continue
		}
		for _, h := range hosts {
			if slices.Contains(other.Hosts, h) {
				return badRequest("Cannot update aggregate %d. Reason: One or more hosts already in availability zone(s) ['%s'].", a.ID, other.zone())
			}
		}
	}
	return nil
}

// deleteAggregate answers 200 without a body, as upstream; an aggregate with
// hosts cannot go.
func (s *Service) deleteAggregate(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		a, err := loadAggregate(ctx, tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if len(a.Hosts) > 0 {
			return badRequest("Cannot delete aggregate: %d. Reason: Host aggregate is not empty.", a.ID)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM aggregates WHERE id = ?`, a.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusOK}, nil
}

// aggregateAction is POST /os-aggregates/{id}/action: add_host, remove_host or
// set_metadata, each under its own rule.
func (s *Service) aggregateAction(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	name, arg, err := oneAction(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	var apply func(tx *db.Tx, a *aggregate) error
	switch name {
	case "add_host", "remove_host":
		var req struct {
			Host *string `json:"host"`
		}
		if err := json.Unmarshal(arg, &req); err != nil || req.Host == nil || *req.Host == "" || len(*req.Host) > 255 {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute %s. 'host' is a required property", name)
		}
		host := *req.Host
		if name == "add_host" {
			apply = func(tx *db.Tx, a *aggregate) error { return addAggregateHost(ctx, tx, a, host) }
		} else {
			apply = func(tx *db.Tx, a *aggregate) error {
				i := slices.Index(a.Hosts, host)
				if i < 0 {
					return notFound("Cannot remove host %s in aggregate %d", host, a.ID)
				}
				a.Hosts = slices.Delete(a.Hosts, i, i+1)
				return nil
			}
		}
	case "set_metadata":
		var req struct {
			Metadata map[string]*string `json:"metadata"`
		}
		if err := json.Unmarshal(arg, &req); err != nil || req.Metadata == nil {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute set_metadata. 'metadata' is a required property")
		}
		for k, v := range req.Metadata {
			if k == "" || len(k) > 255 || (v != nil && len(*v) > 255) {
				return httpapi.Response{}, badRequest("Invalid input for field/attribute metadata. Keys and values must be 1-255 characters")
			}
			if k == metaAZ && v != nil && (strings.TrimSpace(*v) == "" || strings.Contains(*v, ":")) {
				return httpapi.Response{}, badRequest("Invalid input for field/attribute availability_zone. Value: %s.", *v)
			}
		}
		apply = func(tx *db.Tx, a *aggregate) error {
			if v, ok := req.Metadata[metaAZ]; ok && v != nil {
				if err := checkZoneChange(ctx, tx, a, a.Hosts, *v); err != nil {
					return err
				}
			}
			for k, v := range req.Metadata {
				if v == nil {
					delete(a.Metadata, k)
				} else {
					a.Metadata[k] = *v
				}
			}
			return nil
		}
	default:
		return httpapi.Response{}, badRequest("There is no such action: %s", name)
	}
	if err := s.enforce(r, "os_compute_api:os-aggregates:"+name, nil); err != nil {
		return httpapi.Response{}, err
	}
	var a *aggregate
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if a, err = loadAggregate(ctx, tx, r.PathValue("id")); err != nil {
			return err
		}
		if err := apply(tx, a); err != nil {
			return err
		}
		a.UpdatedAt = stamp(s.now())
		return saveAggregate(ctx, tx, a)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.kick("") // the scheduler's view of these hosts changed
	return httpapi.OK(map[string]any{"aggregate": s.aggregateView(r, a, true)}), nil
}

func addAggregateHost(ctx context.Context, tx *db.Tx, a *aggregate, host string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM compute_services WHERE host = ?`, host).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return notFound("Compute host %s could not be found.", host)
	}
	if slices.Contains(a.Hosts, host) {
		return conflict("Aggregate %d already has host %s.", a.ID, host)
	}
	if err := checkZoneChange(ctx, tx, a, []string{host}, a.zone()); err != nil {
		return badRequest("Cannot add host to aggregate %d. Reason: %s", a.ID, strings.SplitN(errMessage(err), "Reason: ", 2)[1])
	}
	a.Hosts = append(a.Hosts, host)
	return nil
}
