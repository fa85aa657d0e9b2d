package network

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// trunkBody is a trunk (the trunk extension): a parent port that carries the
// traffic of sub-ports, each told apart by its segmentation (a VLAN ID). The
// sub-ports live in trunk_subports, whose keys hold that a port is in one trunk
// at most and a VLAN is used once per trunk.
type trunkBody struct {
	standard
	AdminStateUp bool   `json:"admin_state_up"`
	PortID       string `json:"port_id"`
}

// subPort is one sub-port of a trunk, as the API renders it.
type subPort struct {
	PortID           string `json:"port_id"`
	SegmentationType string `json:"segmentation_type"`
	SegmentationID   int    `json:"segmentation_id"`
}

// trunkAttributes is neutron-lib's api/definitions/trunk.py with the standard
// attributes (description, tags).
var trunkAttributes = slices.Concat(attributeMap{
	{name: "admin_state_up", post: true, put: true, convert: toBoolean},
	{name: "name", post: true, put: true, validate: validString(nameFieldSize)},
	{name: "port_id", post: true, required: true, validate: validUUID},
	{name: "sub_ports", post: true, validate: validSubports},
	tagsOnCreate,
}, standardAttributes(descriptionFieldSize), readOnly("id", "status", "created_at", "updated_at", "revision_number"))

// validSubports is neutron-lib's validate_subports.
func validSubports(v any) string {
	list, ok := v.([]any)
	if !ok {
		return fmt.Sprintf("Invalid data format for subports: '%s' is not a list", pyStr(v))
	}
	ids := map[string]bool{}
	segmentations := map[any]map[any]bool{}
	for _, e := range list {
		sp, ok := e.(map[string]any)
		if !ok {
			return fmt.Sprintf("Invalid data format for subport: '%s' is not a dict", pyStr(e))
		}
		id, has := sp["port_id"]
		if !has {
			return "A valid port UUID must be specified"
		}
		if validUUID(id) != "" {
			return fmt.Sprintf("Invalid UUID for subport: '%s'", pyStr(id))
		}
		if ids[id.(string)] {
			return fmt.Sprintf("Non unique UUID for subport: '%s'", id)
		}
		ids[id.(string)] = true
		segType := sp["segmentation_type"]
		if segType == "inherit" {
			return ""
		}
		segID, hasID := sp["segmentation_id"]
		if (segType == nil || segType == "" || !hasID || segID == nil) && len(sp) > 1 {
			return fmt.Sprintf("Invalid subport details '%s': missing segmentation information. Must specify both segmentation_id and segmentation_type", pyStr(sp))
		}
		if segmentations[segType][segID] {
			return fmt.Sprintf("Segmentation ID '%s' for '%s' is not unique", pyStr(segID), id)
		}
		if segID != nil {
			if segmentations[segType] == nil {
				segmentations[segType] = map[any]bool{}
			}
			segmentations[segType][segID] = true
		}
	}
	return ""
}

func (s *Service) trunkRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.0/trunks", Handler: s.listTrunks},
		{Method: "POST", Path: "/v2.0/trunks", Handler: s.createTrunk},
		{Method: "GET", Path: "/v2.0/trunks/{id}", Handler: s.showTrunk},
		{Method: "PUT", Path: "/v2.0/trunks/{id}", Handler: s.updateTrunk},
		{Method: "DELETE", Path: "/v2.0/trunks/{id}", Handler: s.deleteTrunk},
		{Method: "GET", Path: "/v2.0/trunks/{id}/get_subports", Handler: s.getSubports},
		{Method: "PUT", Path: "/v2.0/trunks/{id}/add_subports", Handler: s.addSubports},
		{Method: "PUT", Path: "/v2.0/trunks/{id}/remove_subports", Handler: s.removeSubports},
	}
}

func (t *trunkBody) target() map[string]any {
	return map[string]any{"id": t.ID, "project_id": t.ProjectID, "tenant_id": t.ProjectID, "port_id": t.PortID}
}

// trunkSubports are the sub-ports of trunks (all when trunkID is empty), by trunk.
func trunkSubports(ctx context.Context, q db.Querier, trunkID string) (map[string][]subPort, error) {
	query, args := `SELECT trunk_id, port_id, segmentation_type, segmentation_id FROM trunk_subports`, []any{}
	if trunkID != "" {
		query, args = query+` WHERE trunk_id = ?`, append(args, trunkID)
	}
	type row struct {
		trunk string
		sp    subPort
	}
	rows, err := db.QueryAll(ctx, q, func(sc db.Scanner) (row, error) {
		var r row
		return r, sc.Scan(&r.trunk, &r.sp.PortID, &r.sp.SegmentationType, &r.sp.SegmentationID)
	}, query+` ORDER BY segmentation_type, segmentation_id`, args...)
	if err != nil {
		return nil, err
	}
	out := map[string][]subPort{}
	for _, r := range rows {
		out[r.trunk] = append(out[r.trunk], r.sp)
	}
	return out, nil
}

// trunkJSON renders a trunk with its sub-ports and its status, which follows its
// parent port's, as upstream's agents report it: ACTIVE once the parent is wired,
// DOWN before.
func trunkJSON(t *trunkBody, subs []subPort, parentStatus string) object {
	o := render(t)
	list := make([]any, 0, len(subs))
	for _, sp := range subs {
		list = append(list, map[string]any{"port_id": sp.PortID, "segmentation_type": sp.SegmentationType,
			"segmentation_id": sp.SegmentationID})
	}
	o["sub_ports"] = list
	o["status"] = "DOWN"
	if parentStatus == "ACTIVE" {
		o["status"] = "ACTIVE"
	}
	return o
}

func (s *Service) renderTrunk(ctx context.Context, q db.Querier, t *trunkBody) (object, error) {
	subs, err := trunkSubports(ctx, q, t.ID)
	if err != nil {
		return nil, err
	}
	var parent portBody
	if err := loadBody(ctx, q, "ports", t.PortID, &parent); err != nil && !db.IsNoRows(err) {
		return nil, err
	}
	return trunkJSON(t, subs[t.ID], parent.Status), nil
}

var trunkKind = resourceKind{table: "trunks", getRule: "get_trunk", notFoundType: "TrunkNotFound", label: "Trunk"}

func (s *Service) visibleTrunk(ctx context.Context, c caller, q db.Querier, id string) (*trunkBody, error) {
	return loadVisible[trunkBody](ctx, s, c, q, trunkKind, id)
}

func (s *Service) listTrunks(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	trunks, err := loadBodies[trunkBody](r.Context(), s.db, `SELECT body FROM trunks`)
	if err != nil {
		return httpapi.Response{}, err
	}
	subs, err := trunkSubports(r.Context(), s.db, "")
	if err != nil {
		return httpapi.Response{}, err
	}
	var out []object
	for i := range trunks {
		if !s.allowed(c, "get_trunk", trunks[i].target()) {
			continue
		}
		var parent portBody
		if err := loadBody(r.Context(), s.db, "ports", trunks[i].PortID, &parent); err != nil && !db.IsNoRows(err) {
			return httpapi.Response{}, err
		}
		out = append(out, trunkJSON(&trunks[i], subs[trunks[i].ID], parent.Status))
	}
	return listResponse(r, "trunks", out)
}

func (s *Service) showTrunk(r *http.Request) (httpapi.Response, error) {
	t, err := s.visibleTrunk(r.Context(), s.caller(r), s.db, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	o, err := s.renderTrunk(r.Context(), s.db, t)
	if err != nil {
		return httpapi.Response{}, err
	}
	return showResponse(r, "trunk", o), nil
}

// checkTrunkPort is upstream's TrunkPortValidator: a port the caller sees, in no
// trunk yet; a sub-port must not serve a device (device_id set).
func (s *Service) checkTrunkPort(ctx context.Context, c caller, tx *db.Tx, id string, parent bool) error {
	p, _, err := s.visiblePort(ctx, c, tx, id)
	if err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM trunk_subports WHERE port_id = ?`, id).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return conflict("TrunkPortInUse", "Port %s is in use by another trunk.", id)
	}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM trunks WHERE port_id = ?`, id).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return conflict("ParentPortInUse", "Port %s is currently in use and is not eligible for use as a parent port.", id)
	}
	if !parent && p.DeviceID != "" {
		return conflict("PortInUse", "Unable to complete operation for network %s. The port %s is already attached to device %s.",
			p.NetworkID, p.ID, p.DeviceID)
	}
	return nil
}

// insertSubports validates and stores sub-ports of a trunk as upstream's
// SubPortsValidator: not the parent, both segmentation details, a known type
// (vlan) with an ID in range (1-4094), a port in no other trunk; a segmentation
// already used on the trunk is DuplicateSubPort.
func (s *Service) insertSubports(ctx context.Context, c caller, tx *db.Tx, t *trunkBody, raw any) error {
	list, _ := raw.([]any)
	for _, e := range list {
		sp := e.(map[string]any)
		id := sp["port_id"].(string)
		if id == t.PortID {
			return conflict("ParentPortInUse", "Port %s is currently in use and is not eligible for use as a parent port.", id)
		}
		segType, hasType := sp["segmentation_type"].(string)
		segRaw, hasID := sp["segmentation_id"]
		if !hasType || !hasID {
			return invalidInput("Invalid subport details '%s': missing segmentation information. Must specify both segmentation_id and segmentation_type", pyStr(sp))
		}
		seg, err := toInt(segRaw)
		if err != nil {
			return invalidInput("Invalid subport details: segmentation_id '%s' is not an integer", pyStr(segRaw))
		}
		if segType != "vlan" {
			return invalidInput("Unknown segmentation_type '%s'", segType)
		}
		if n := seg.(int); n < 1 || n > 4094 {
			return invalidInput("Segmentation ID '%d' is not in range", n)
		}
		if err := s.checkTrunkPort(ctx, c, tx, id, false); err != nil {
			return err
		}
		inserted, err := insertedOne(tx.ExecContext(ctx, `INSERT INTO trunk_subports (port_id, trunk_id, segmentation_type, segmentation_id)
			VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, id, t.ID, segType, seg))
		if err != nil {
			return err
		}
		if !inserted {
			return conflict("DuplicateSubPort", "segmentation_type %s and segmentation_id %d already in use on trunk %s.", segType, seg, t.ID)
		}
	}
	return nil
}

func (s *Service) createTrunk(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "trunk", trunkAttributes, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	project, err := projectFor(c, attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	t := &trunkBody{standard: newStandard(newUUID(), project, stamp(s.now())), AdminStateUp: true, PortID: attrs["port_id"].(string)}
	t.apply(attrs)
	if err := s.authorize(c, "trunk", "create_trunk", t.target(), attrs, true); err != nil {
		return httpapi.Response{}, err
	}
	var out object
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		if err := s.checkTrunkPort(r.Context(), c, tx, t.PortID, true); err != nil {
			return err
		}
		if _, err := tx.ExecContext(r.Context(), `INSERT INTO trunks (id, project_id, port_id, body) VALUES (?, ?, ?, ?)`,
			t.ID, t.ProjectID, t.PortID, marshal(t)); err != nil {
			return err
		}
		if err := s.insertSubports(r.Context(), c, tx, t, attrs["sub_ports"]); err != nil {
			return err
		}
		out, err = s.renderTrunk(r.Context(), tx, t)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"trunk": out}), nil
}

func (t *trunkBody) apply(attrs map[string]any) {
	if v, ok := attrs["name"].(string); ok {
		t.Name = v
	}
	if v, ok := attrs["description"].(string); ok {
		t.Description = v
	}
	if v, ok := attrs["admin_state_up"].(bool); ok {
		t.AdminStateUp = v
	}
	if v, ok := attrs["tags"]; ok {
		t.Tags = stringList(v)
	}
}

func (s *Service) updateTrunk(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "trunk", trunkAttributes, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	var out object
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		t, err := s.visibleTrunk(r.Context(), c, tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := s.authorize(c, "trunk", "update_trunk", t.target(), attrs, false); err != nil {
			return err
		}
		t.apply(attrs)
		t.touch(stamp(s.now()))
		if err := saveBody(r.Context(), tx, "trunks", t.ID, t); err != nil {
			return err
		}
		out, err = s.renderTrunk(r.Context(), tx, t)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"trunk": out}), nil
}

// deleteTrunk removes a trunk with its sub-ports. Upstream refuses while the
// parent port is bound to an instance (TrunkInUse): the hypervisor's VLAN
// interfaces would lose their traffic.
func (s *Service) deleteTrunk(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		t, err := s.visibleTrunk(r.Context(), c, tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := s.enforce(c, "delete_trunk", t.target()); err != nil {
			return err
		}
		var parent portBody
		if err := loadBody(r.Context(), tx, "ports", t.PortID, &parent); err != nil && !db.IsNoRows(err) {
			return err
		}
		if parent.BindingHostID != "" && parent.DeviceID != "" {
			return conflict("TrunkInUse", "Trunk %s is currently in use.", t.ID)
		}
		for _, q := range []string{`DELETE FROM trunk_subports WHERE trunk_id = ?`, `DELETE FROM trunks WHERE id = ?`} {
			if _, err := tx.ExecContext(r.Context(), q, t.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

func (s *Service) getSubports(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	t, err := s.visibleTrunk(r.Context(), c, s.db, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.enforce(c, "get_subports", t.target()); err != nil {
		return httpapi.Response{}, err
	}
	o, err := s.renderTrunk(r.Context(), s.db, t)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"sub_ports": o["sub_ports"]}), nil
}

// subportsBody reads the body of add_subports and remove_subports:
// {"sub_ports": [...]}.
func subportsBody(r *http.Request) (any, error) {
	var body map[string]any
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return nil, badRequest("%s", err.Error())
	}
	v, ok := body["sub_ports"]
	if !ok {
		return nil, badRequest("Failed to parse request. Required attribute 'sub_ports' not specified")
	}
	if msg := validSubports(v); msg != "" {
		return nil, invalidInput("%s", msg)
	}
	return v, nil
}

func (s *Service) addSubports(r *http.Request) (httpapi.Response, error) {
	return s.changeSubports(r, "add_subports", func(tx *db.Tx, c caller, t *trunkBody, subs any) error {
		return s.insertSubports(r.Context(), c, tx, t, subs)
	})
}

func (s *Service) removeSubports(r *http.Request) (httpapi.Response, error) {
	return s.changeSubports(r, "remove_subports", func(tx *db.Tx, c caller, t *trunkBody, subs any) error {
		list, _ := subs.([]any)
		for _, e := range list {
			id := e.(map[string]any)["port_id"].(string)
			res, err := tx.ExecContext(r.Context(), `DELETE FROM trunk_subports WHERE trunk_id = ? AND port_id = ?`, t.ID, id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return neutronError(http.StatusNotFound, "SubPortNotFound", "SubPort %s on trunk %s could not be found.", id, t.ID)
			}
		}
		return nil
	})
}

// changeSubports runs add_subports or remove_subports; the answer is the trunk,
// not wrapped in {"trunk": ...}: upstream's member actions answer what the plugin
// returns.
func (s *Service) changeSubports(r *http.Request, rule string, change func(tx *db.Tx, c caller, t *trunkBody, subs any) error) (httpapi.Response, error) {
	c := s.caller(r)
	subs, err := subportsBody(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	var out object
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		t, err := s.visibleTrunk(r.Context(), c, tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := s.enforce(c, rule, t.target()); err != nil {
			return err
		}
		if err := change(tx, c, t, subs); err != nil {
			return err
		}
		t.touch(stamp(s.now()))
		if err := saveBody(r.Context(), tx, "trunks", t.ID, t); err != nil {
			return err
		}
		out, err = s.renderTrunk(r.Context(), tx, t)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(out), nil
}

// trunkOfPort refuses deleting a port that is a trunk's parent or sub-port, as
// upstream (PortInUseAsTrunkParent, PortInUseAsSubPort).
func trunkOfPort(ctx context.Context, tx *db.Tx, portID string) error {
	var trunk string
	err := tx.QueryRowContext(ctx, `SELECT id FROM trunks WHERE port_id = ?`, portID).Scan(&trunk)
	if err == nil {
		return conflict("PortInUseAsTrunkParent", "Port %s is currently a parent port for trunk %s.", portID, trunk)
	}
	if !db.IsNoRows(err) {
		return err
	}
	err = tx.QueryRowContext(ctx, `SELECT trunk_id FROM trunk_subports WHERE port_id = ?`, portID).Scan(&trunk)
	if err == nil {
		return conflict("PortInUseAsSubPort", "Port %s is currently a subport for trunk %s.", portID, trunk)
	}
	if !db.IsNoRows(err) {
		return err
	}
	return nil
}

// trunkDetails adds trunk_details (the trunk-details extension) to the rendered
// ports that are trunk parents: the trunk and its sub-ports with their MACs.
func (s *Service) trunkDetails(ctx context.Context, q db.Querier, ports []object) error {
	trunks, err := loadBodies[trunkBody](ctx, q, `SELECT body FROM trunks`)
	if err != nil || len(trunks) == 0 {
		return err
	}
	subs, err := trunkSubports(ctx, q, "")
	if err != nil {
		return err
	}
	byParent := map[string]*trunkBody{}
	for i := range trunks {
		byParent[trunks[i].PortID] = &trunks[i]
	}
	for _, o := range ports {
		id, _ := o["id"].(string)
		t := byParent[id]
		if t == nil {
			continue
		}
		list := []any{}
		for _, sp := range subs[t.ID] {
			var p portBody
			if err := loadBody(ctx, q, "ports", sp.PortID, &p); err != nil && !db.IsNoRows(err) {
				return err
			}
			list = append(list, map[string]any{"port_id": sp.PortID, "segmentation_type": sp.SegmentationType,
				"segmentation_id": sp.SegmentationID, "mac_address": p.MACAddress})
		}
		o["trunk_details"] = map[string]any{"trunk_id": t.ID, "sub_ports": list}
	}
	return nil
}
