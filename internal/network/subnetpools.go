package network

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// subnetPoolBody is a subnet pool (the subnetpool extension): prefixes subnets are
// allocated from, by prefix length or by CIDR, never twice.
type subnetPoolBody struct {
	standard
	Prefixes         []string `json:"prefixes"`
	IPVersion        int      `json:"ip_version"`
	DefaultPrefixLen int      `json:"default_prefixlen"`
	MinPrefixLen     int      `json:"min_prefixlen"`
	MaxPrefixLen     int      `json:"max_prefixlen"`
	DefaultQuota     *int     `json:"default_quota"`
	IsDefault        bool     `json:"is_default"`
	Shared           bool     `json:"shared"`
	AddressScopeID   *string  `json:"address_scope_id"`
}

// subnetPoolAttributes is neutron-lib's api/definitions/subnetpool.py with the
// attributes address_scope.py adds and the standard ones (description, tags).
var subnetPoolAttributes = slices.Concat(attributeMap{
	{name: "name", post: true, put: true, required: true, validate: validNotEmptyString(nameFieldSize)},
	{name: "prefixes", post: true, put: true, required: true, validate: validSubnetList},
	{name: "default_quota", post: true, put: true, convert: toIntOrNone, validate: validNonNegativeOrNone},
	{name: "default_prefixlen", post: true, put: true, convert: toInt, validate: validNonNegative},
	{name: "min_prefixlen", post: true, put: true, convert: toInt, validate: validNonNegative},
	{name: "max_prefixlen", post: true, put: true, convert: toInt, validate: validNonNegative},
	{name: "is_default", post: true, put: true, convert: toBoolean},
	{name: "shared", post: true, convert: toBoolean},
	{name: "address_scope_id", post: true, put: true, validate: validUUIDOrNone},
	tagsOnCreate,
}, standardAttributes(descriptionFieldSize), readOnly("id", "ip_version", "created_at", "updated_at", "revision_number"))

func validNonNegativeOrNone(v any) string {
	if v == nil {
		return ""
	}
	return validNonNegative(v)
}

func (s *Service) subnetPoolRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.0/subnetpools", Handler: s.listSubnetPools},
		{Method: "POST", Path: "/v2.0/subnetpools", Handler: s.createSubnetPool},
		{Method: "GET", Path: "/v2.0/subnetpools/{id}", Handler: s.showSubnetPool},
		{Method: "PUT", Path: "/v2.0/subnetpools/{id}", Handler: s.updateSubnetPool},
		{Method: "DELETE", Path: "/v2.0/subnetpools/{id}", Handler: s.deleteSubnetPool},
		{Method: "PUT", Path: "/v2.0/subnetpools/{id}/add_prefixes", Handler: s.addPrefixes},
		{Method: "PUT", Path: "/v2.0/subnetpools/{id}/remove_prefixes", Handler: s.removePrefixes},
	}
}

func (sp *subnetPoolBody) target() map[string]any {
	return map[string]any{"id": sp.ID, "project_id": sp.ProjectID, "tenant_id": sp.ProjectID, "shared": sp.Shared,
		"is_default": sp.IsDefault}
}

func (sp *subnetPoolBody) prefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(sp.Prefixes))
	for _, p := range sp.Prefixes {
		if pfx, err := netip.ParsePrefix(p); err == nil {
			out = append(out, pfx)
		}
	}
	return out
}

func subnetPoolJSON(sp *subnetPoolBody) object { return render(sp) }

var subnetPoolKind = resourceKind{table: "subnetpools", getRule: "get_subnetpool", notFoundType: "SubnetPoolNotFound", label: "Subnet pool"}

func (s *Service) visibleSubnetPool(ctx context.Context, c caller, q db.Querier, id string) (*subnetPoolBody, error) {
	return loadVisible[subnetPoolBody](ctx, s, c, q, subnetPoolKind, id)
}

func (s *Service) listSubnetPools(r *http.Request) (httpapi.Response, error) {
	return listVisible[subnetPoolBody](r, s, subnetPoolKind, "subnetpools", subnetPoolJSON)
}

func (s *Service) showSubnetPool(r *http.Request) (httpapi.Response, error) {
	sp, err := s.visibleSubnetPool(r.Context(), s.caller(r), s.db, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return showResponse(r, "subnetpool", subnetPoolJSON(sp)), nil
}

// setPrefixes reads a validated prefix list into the pool: compacted, of one IP
// version (upstream's SubnetPoolReader._read_prefix_info).
func (sp *subnetPoolBody) setPrefixes(v any) error {
	list := stringList(v)
	if len(list) == 0 {
		return neutronError(http.StatusBadRequest, "EmptySubnetPoolPrefixList", "Empty subnet pool prefix list.")
	}
	var prefixes []netip.Prefix
	for _, s := range list {
		p := netip.MustParsePrefix(s) // validSubnetList checked them
		prefixes = append(prefixes, p)
		if p.Addr().Is4() != prefixes[0].Addr().Is4() {
			return neutronError(http.StatusBadRequest, "PrefixVersionMismatch", "Cannot mix IPv4 and IPv6 prefixes in a subnet pool.")
		}
	}
	sp.IPVersion = 6
	if prefixes[0].Addr().Is4() {
		sp.IPVersion = 4
	}
	sp.Prefixes = nil
	for _, p := range compact(prefixes) {
		sp.Prefixes = append(sp.Prefixes, p.String())
	}
	return nil
}

// setBounds applies the prefix lengths of a request and checks them as upstream's
// SubnetPoolHelper: min <= default <= max <= the version's bits; on create the
// minimum defaults to 8 (IPv4) or 64 (IPv6), the maximum to the bits, the default
// to the minimum.
func (sp *subnetPoolBody) setBounds(attrs map[string]any, creating bool) error {
	bits := 32
	if sp.IPVersion == 6 {
		bits = 128
	}
	if creating {
		sp.MinPrefixLen, sp.MaxPrefixLen = 8, bits
		if sp.IPVersion == 6 {
			sp.MinPrefixLen = 64
		}
	}
	if v, ok := attrs["min_prefixlen"].(int); ok {
		sp.MinPrefixLen = v
	}
	if v, ok := attrs["max_prefixlen"].(int); ok {
		sp.MaxPrefixLen = v
	}
	if v, ok := attrs["default_prefixlen"].(int); ok {
		sp.DefaultPrefixLen = v
	} else if creating {
		sp.DefaultPrefixLen = sp.MinPrefixLen
	}
	bounds := func(kind string, n int, base string, baseN int) error {
		return neutronError(http.StatusBadRequest, "IllegalSubnetPoolPrefixBounds",
			"Illegal prefix bounds: %s=%d, %s=%d.", kind, n, base, baseN)
	}
	switch {
	case sp.MinPrefixLen > sp.MaxPrefixLen:
		return bounds("min_prefixlen", sp.MinPrefixLen, "max_prefixlen", sp.MaxPrefixLen)
	case sp.MaxPrefixLen > bits:
		return bounds("max_prefixlen", sp.MaxPrefixLen, "ip_version_max", bits)
	case sp.DefaultPrefixLen < sp.MinPrefixLen:
		return bounds("default_prefixlen", sp.DefaultPrefixLen, "min_prefixlen", sp.MinPrefixLen)
	case sp.DefaultPrefixLen > sp.MaxPrefixLen:
		return bounds("default_prefixlen", sp.DefaultPrefixLen, "max_prefixlen", sp.MaxPrefixLen)
	}
	return nil
}

func (sp *subnetPoolBody) apply(attrs map[string]any) {
	if v, ok := attrs["name"].(string); ok {
		sp.Name = v
	}
	if v, ok := attrs["description"].(string); ok {
		sp.Description = v
	}
	if v, ok := attrs["is_default"].(bool); ok {
		sp.IsDefault = v
	}
	if v, ok := attrs["shared"].(bool); ok {
		sp.Shared = v
	}
	if v, ok := attrs["default_quota"]; ok {
		sp.DefaultQuota = nil
		if n, isInt := v.(int); isInt {
			sp.DefaultQuota = &n
		}
	}
	if v, ok := attrs["address_scope_id"]; ok {
		sp.AddressScopeID = nil
		if id, isStr := v.(string); isStr && id != "" {
			sp.AddressScopeID = &id
		}
	}
	if v, ok := attrs["tags"]; ok {
		sp.Tags = stringList(v)
	}
}

// checkAddressScope holds a pool's address scope as upstream's _validate_address_scope_id
// does: a scope the caller sees, owned or shared, of the pool's IP version, whose
// other pools' prefixes do not overlap the pool's.
func (s *Service) checkAddressScope(ctx context.Context, c caller, tx *db.Tx, sp *subnetPoolBody) error {
	if sp.AddressScopeID == nil {
		return nil
	}
	scope, err := s.visibleAddressScope(ctx, c, tx, *sp.AddressScopeID)
	if err != nil {
		return err
	}
	if !scope.Shared && scope.ProjectID != sp.ProjectID && !c.admin {
		return neutronError(http.StatusBadRequest, "IllegalSubnetPoolAssociationToAddressScope",
			"Illegal subnetpool association: subnetpool %s cannot be associated with address scope %s.", sp.ID, scope.ID)
	}
	if scope.IPVersion != sp.IPVersion {
		return neutronError(http.StatusBadRequest, "IllegalSubnetPoolIpVersionAssociationToAddressScope",
			"Illegal subnetpool association: subnetpool %s cannot associate with address scope %s because subnetpool ip_version is not %d.",
			sp.ID, scope.ID, scope.IPVersion)
	}
	others, err := loadBodies[subnetPoolBody](ctx, tx, `SELECT body FROM subnetpools WHERE address_scope_id = ? AND id <> ?`, scope.ID, sp.ID)
	if err != nil {
		return err
	}
	for i := range others {
		if anyOverlap(others[i].prefixes(), sp.prefixes()) {
			return conflict("AddressScopePrefixConflict", "Failed to associate address scope: subnetpools within an address scope must have unique prefixes.")
		}
	}
	return nil
}

// checkDefault holds upstream's one default pool per IP version.
func checkDefault(ctx context.Context, tx *db.Tx, sp *subnetPoolBody) error {
	if !sp.IsDefault {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM subnetpools WHERE ip_version = ? AND is_default = 1 AND id <> ?`,
		sp.IPVersion, sp.ID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return invalidInput("A default subnetpool for this IP family has already been set. Only one default may exist per IP family")
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Service) saveSubnetPool(ctx context.Context, tx *db.Tx, sp *subnetPoolBody) error {
	_, err := tx.ExecContext(ctx, `UPDATE subnetpools SET is_default = ?, address_scope_id = ?, body = ? WHERE id = ?`,
		boolInt(sp.IsDefault), sp.AddressScopeID, marshal(sp), sp.ID)
	return err
}

func (s *Service) createSubnetPool(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "subnetpool", subnetPoolAttributes, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	project, err := projectFor(c, attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	sp := &subnetPoolBody{standard: newStandard(newUUID(), project, stamp(s.now()))}
	if err := sp.setPrefixes(attrs["prefixes"]); err != nil {
		return httpapi.Response{}, err
	}
	if err := sp.setBounds(attrs, true); err != nil {
		return httpapi.Response{}, err
	}
	sp.apply(attrs)
	if err := s.authorize(c, "subnetpool", "create_subnetpool", sp.target(), attrs, true); err != nil {
		return httpapi.Response{}, err
	}
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		if err := checkDefault(r.Context(), tx, sp); err != nil {
			return err
		}
		if err := s.checkAddressScope(r.Context(), c, tx, sp); err != nil {
			return err
		}
		_, err := tx.ExecContext(r.Context(), `INSERT INTO subnetpools (id, project_id, ip_version, is_default, address_scope_id, body)
			VALUES (?, ?, ?, ?, ?, ?)`, sp.ID, sp.ProjectID, sp.IPVersion, boolInt(sp.IsDefault), sp.AddressScopeID, marshal(sp))
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"subnetpool": subnetPoolJSON(sp)}), nil
}

func (s *Service) updateSubnetPool(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "subnetpool", subnetPoolAttributes, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	var sp *subnetPoolBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		if sp, err = s.visibleSubnetPool(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		if err := s.authorize(c, "subnetpool", "update_subnetpool", sp.target(), attrs, false); err != nil {
			return err
		}
		if v, ok := attrs["prefixes"]; ok {
			old := sp.prefixes()
			version := sp.IPVersion
			if err := sp.setPrefixes(v); err != nil {
				return err
			}
			if sp.IPVersion != version {
				return neutronError(http.StatusBadRequest, "PrefixVersionMismatch", "Cannot mix IPv4 and IPv6 prefixes in a subnet pool.")
			}
			if len(subtractAll(old, sp.prefixes())) > 0 {
				return neutronError(http.StatusBadRequest, "IllegalSubnetPoolPrefixUpdate",
					"Illegal update to prefixes: Existing prefixes must be a subset of the new prefixes.")
			}
		}
		if err := sp.setBounds(attrs, false); err != nil {
			return err
		}
		sp.apply(attrs)
		if err := checkDefault(r.Context(), tx, sp); err != nil {
			return err
		}
		if err := s.checkAddressScope(r.Context(), c, tx, sp); err != nil {
			return err
		}
		sp.touch(stamp(s.now()))
		return s.saveSubnetPool(r.Context(), tx, sp)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"subnetpool": subnetPoolJSON(sp)}), nil
}

func (s *Service) deleteSubnetPool(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		sp, err := s.visibleSubnetPool(r.Context(), c, tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := s.enforce(c, "delete_subnetpool", sp.target()); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(r.Context(), `SELECT COUNT(*) FROM subnets WHERE subnetpool_id = ?`, sp.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return neutronError(http.StatusBadRequest, "SubnetPoolDeleteError", "Unable to delete subnet pool: Subnet pool has existing allocations.")
		}
		_, err = tx.ExecContext(r.Context(), `DELETE FROM subnetpools WHERE id = ?`, sp.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// prefixesBody reads the body of add_prefixes and remove_prefixes:
// {"prefixes": [...]} (neutron-lib's subnetpool_prefix_ops).
func prefixesBody(r *http.Request) ([]netip.Prefix, error) {
	var body map[string]any
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return nil, badRequest("%s", err.Error())
	}
	v, ok := body["prefixes"]
	if !ok {
		return nil, badRequest("Invalid input for prefixes. Reason: prefixes is a required attribute.")
	}
	if msg := validSubnetList(v); msg != "" {
		return nil, badRequest("Invalid input for prefixes. Reason: %s.", msg)
	}
	var out []netip.Prefix
	for _, p := range stringList(v) {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out, nil
}

func (s *Service) addPrefixes(r *http.Request) (httpapi.Response, error) {
	return s.changePrefixes(r, "add_prefixes", func(tx *db.Tx, sp *subnetPoolBody, prefixes []netip.Prefix) ([]netip.Prefix, error) {
		return append(sp.prefixes(), prefixes...), nil
	})
}

func (s *Service) removePrefixes(r *http.Request) (httpapi.Response, error) {
	return s.changePrefixes(r, "remove_prefixes", func(tx *db.Tx, sp *subnetPoolBody, prefixes []netip.Prefix) ([]netip.Prefix, error) {
		used, err := s.poolAllocations(r.Context(), tx, sp.ID, "")
		if err != nil {
			return nil, err
		}
		if anyOverlap(used, prefixes) {
			return nil, neutronError(http.StatusBadRequest, "IllegalSubnetPoolPrefixUpdate",
				"Illegal update to prefixes: One or more the prefixes to be removed is in use by a subnet..")
		}
		return subtractAll(sp.prefixes(), prefixes), nil
	})
}

// changePrefixes runs add_prefixes or remove_prefixes: the pool's new prefix list,
// of the pool's IP version, answered as {"prefixes": [...]}.
func (s *Service) changePrefixes(r *http.Request, rule string,
	next func(tx *db.Tx, sp *subnetPoolBody, prefixes []netip.Prefix) ([]netip.Prefix, error)) (httpapi.Response, error) {
	c := s.caller(r)
	prefixes, err := prefixesBody(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	var sp *subnetPoolBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		if sp, err = s.visibleSubnetPool(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		if err := s.enforce(c, rule, sp.target()); err != nil {
			return err
		}
		if len(prefixes) == 0 {
			return nil
		}
		for _, p := range prefixes {
			if p.Addr().Is4() != (sp.IPVersion == 4) {
				return neutronError(http.StatusBadRequest, "PrefixVersionMismatch", "Cannot mix IPv4 and IPv6 prefixes in a subnet pool.")
			}
		}
		list, err := next(tx, sp, prefixes)
		if err != nil {
			return err
		}
		sp.Prefixes = []string{}
		for _, p := range compact(list) {
			sp.Prefixes = append(sp.Prefixes, p.String())
		}
		if err := s.checkAddressScope(r.Context(), c, tx, sp); err != nil {
			return err
		}
		sp.touch(stamp(s.now()))
		return s.saveSubnetPool(r.Context(), tx, sp)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"prefixes": sp.Prefixes}), nil
}

// poolAllocations are the CIDRs of a pool's subnets (of one project, when named).
func (s *Service) poolAllocations(ctx context.Context, q db.Querier, poolID, project string) ([]netip.Prefix, error) {
	query, args := `SELECT body FROM subnets WHERE subnetpool_id = ?`, []any{poolID}
	if project != "" {
		query, args = query+` AND project_id = ?`, append(args, project)
	}
	subs, err := loadBodies[subnetBody](ctx, q, query, args...)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Prefix, 0, len(subs))
	for i := range subs {
		out = append(out, subs[i].prefix())
	}
	return out, nil
}

// subnetRequest is what a subnet create asks of a pool: a CIDR, or a prefix length.
type subnetRequest struct {
	cidr      netip.Prefix // valid for a specific subnet
	prefixLen int          // for any subnet; 0: the pool's default
}

// allocateSubnet takes a subnet out of a pool's free space as upstream's
// SubnetAllocator: within the pool's prefix length bounds and the project's
// default_quota (in /32s for IPv4, /64s for IPv6), a CIDR when it lies in the free
// space, else the first subnet of the smallest free block that holds the prefix
// length. It runs in the transaction that stores the subnet, which is what keeps
// two subnets of a pool apart (upstream locks the pool's row for that).
func (s *Service) allocateSubnet(ctx context.Context, tx *db.Tx, sp *subnetPoolBody, project string, req subnetRequest) (netip.Prefix, error) {
	prefixLen := req.prefixLen
	if req.cidr.IsValid() {
		prefixLen = req.cidr.Bits()
	}
	if prefixLen == 0 {
		prefixLen = sp.DefaultPrefixLen
	}
	if prefixLen > sp.MaxPrefixLen {
		return netip.Prefix{}, neutronError(http.StatusBadRequest, "MaxPrefixSubnetAllocationError",
			"Unable to allocate subnet with prefix length %d, maximum allowed prefix is %d.", prefixLen, sp.MaxPrefixLen)
	}
	if prefixLen < sp.MinPrefixLen {
		return netip.Prefix{}, neutronError(http.StatusBadRequest, "MinPrefixSubnetAllocationError",
			"Unable to allocate subnet with prefix length %d, minimum allowed prefix is %d.", prefixLen, sp.MinPrefixLen)
	}
	if sp.DefaultQuota != nil && *sp.DefaultQuota > 0 {
		unit := 32
		if sp.IPVersion == 6 {
			unit = 64
		}
		mine, err := s.poolAllocations(ctx, tx, sp.ID, project)
		if err != nil {
			return netip.Prefix{}, err
		}
		used := math.Pow(2, float64(unit-prefixLen))
		for _, p := range mine {
			used += math.Pow(2, float64(unit-p.Bits()))
		}
		if used > float64(*sp.DefaultQuota) {
			return netip.Prefix{}, conflict("SubnetPoolQuotaExceeded", "Per-project subnet pool prefix quota exceeded.")
		}
	}
	used, err := s.poolAllocations(ctx, tx, sp.ID, "")
	if err != nil {
		return netip.Prefix{}, err
	}
	free := compact(subtractAll(sp.prefixes(), used))
	if req.cidr.IsValid() {
		for _, f := range free {
			if f.Bits() <= req.cidr.Bits() && f.Contains(req.cidr.Addr()) {
				return req.cidr, nil
			}
		}
		return netip.Prefix{}, subnetAllocationError("Cannot allocate requested subnet from the available set of prefixes")
	}
	// The longest free prefixes first (best fit), in address order among equals.
	slices.SortStableFunc(free, func(a, b netip.Prefix) int { return b.Bits() - a.Bits() })
	for _, f := range free {
		if prefixLen >= f.Bits() {
			return netip.PrefixFrom(f.Addr(), prefixLen), nil
		}
	}
	return netip.Prefix{}, subnetAllocationError(fmt.Sprintf("Insufficient prefix space to allocate subnet size /%d", prefixLen))
}

// subnetAllocationError is upstream's SubnetAllocationError, which upstream leaves
// unmapped (a 500); Nimbus answers 409, the pool having no room.
func subnetAllocationError(reason string) error {
	return conflict("SubnetAllocationError", "Failed to allocate subnet: %s.", reason)
}

// subnetPoolFor is the pool a subnet create names (subnetpool_id, or the default
// pool of its IP version with use_default_subnetpool), nil for none, as upstream's
// _get_subnetpool_id.
func (s *Service) subnetPoolFor(ctx context.Context, c caller, tx *db.Tx, attrs map[string]any, ipVersion int) (*subnetPoolBody, error) {
	id, _ := attrs["subnetpool_id"].(string)
	useDefault := false
	if v, ok := attrs["use_default_subnetpool"]; ok {
		b, err := toBoolean(v)
		if err != nil {
			return nil, err
		}
		useDefault = b.(bool)
	}
	if useDefault && id != "" {
		return nil, badSubnetsRequest("subnetpool_id and use_default_subnetpool cannot both be specified")
	}
	if id == "" && useDefault {
		err := tx.QueryRowContext(ctx, `SELECT id FROM subnetpools WHERE ip_version = ? AND is_default = 1`, ipVersion).Scan(&id)
		if db.IsNoRows(err) {
			return nil, badSubnetsRequest("No default subnetpool found for IPv%d", ipVersion)
		}
		if err != nil {
			return nil, err
		}
	}
	if id == "" {
		return nil, nil
	}
	sp, err := s.visibleSubnetPool(ctx, c, tx, id)
	if err != nil {
		return nil, err
	}
	if ipVersion != 0 && ipVersion != sp.IPVersion {
		return nil, badSubnetsRequest("Cannot allocate IPv%d subnet from IPv%d subnet pool", ipVersion, sp.IPVersion)
	}
	return sp, nil
}

// badSubnetsRequest is upstream's BadRequest(resource='subnets').
func badSubnetsRequest(format string, args ...any) error {
	return neutronError(http.StatusBadRequest, "BadRequest", "Bad subnets request: "+strings.TrimSuffix(format, ".")+".", args...)
}
