package identity

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Groups: Keystone's /v3/groups and their membership. Roles granted to a group
// reach its members, so removing a member (or deleting a group that holds roles)
// revokes the affected users' tokens.

// queryGroups loads the groups matching where, ordered by name.
func (s *Service) queryGroups(ctx context.Context, where string, args ...any) ([]*groupRow, error) {
	out, err := db.QueryAll(ctx, s.db, scanGroup, `SELECT `+groupColumns+` FROM groups WHERE `+where+` ORDER BY name, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return out, nil
}

func (s *Service) groupJSON(g *groupRow) map[string]any {
	return mergeExtra(map[string]any{
		"id": g.ID, "name": g.Name, "domain_id": g.DomainID, "description": g.Description,
		"links": s.links("/v3/groups/" + g.ID),
	}, g.Extra)
}

func (s *Service) groupRoutes() []httpapi.Route {
	const member = "/v3/groups/{group_id}/users/{user_id}"
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/groups", Policy: "identity:list_groups", Target: domainScopedListTarget("target.group.domain_id"), Handler: s.listGroups,
			Schemas: schemas(nil, map[int]jsonschema.Schema{http.StatusOK: groupIndexResponse})},
		{Method: "POST", Path: "/v3/groups", Handler: s.createGroup,
			Schemas: schemas(groupCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: groupResponse})}, // policy needs the body's domain
		{Method: "GET", Path: "/v3/groups/{group_id}", Policy: "identity:get_group", Target: s.groupTarget, Handler: s.showGroup,
			Schemas: schemas(nil, map[int]jsonschema.Schema{http.StatusOK: groupResponse})},
		{Method: "PATCH", Path: "/v3/groups/{group_id}", Policy: "identity:update_group", Target: s.groupTarget, Handler: s.updateGroup,
			Schemas: schemas(groupUpdateRequest, map[int]jsonschema.Schema{http.StatusOK: groupResponse})},
		{Method: "DELETE", Path: "/v3/groups/{group_id}", Policy: "identity:delete_group", Target: s.groupTarget, Handler: s.deleteGroup, Schemas: noContent},
		{Method: "GET", Path: "/v3/groups/{group_id}/users", Policy: "identity:list_users_in_group", Target: s.groupTarget, Handler: s.listUsersInGroup,
			Schemas: okBody(userIndexResponse)},
		{Method: "PUT", Path: member, Policy: "identity:add_user_to_group", Target: s.membershipTarget, Handler: s.addUserToGroup, Schemas: noContent},
		{Method: "HEAD", Path: member, Policy: "identity:check_user_in_group", Target: s.membershipTarget, Handler: s.checkUserInGroup, Schemas: noContent},
		{Method: "GET", Path: member, Policy: "identity:check_user_in_group", Target: s.membershipTarget, Handler: s.checkUserInGroup, Schemas: noContent},
		{Method: "DELETE", Path: member, Policy: "identity:remove_user_from_group", Target: s.membershipTarget, Handler: s.removeUserFromGroup, Schemas: noContent},
	}
}

// groupTarget exposes the path's group to policy; a missing group gets its id only,
// so that non-admins learn nothing before the handler's 404.
func (s *Service) groupTarget(r *http.Request) (map[string]any, error) {
	id := pathParam(r, "group_id")
	t := map[string]any{"target.group.id": id}
	if g, err := s.getGroup(r.Context(), s.db, id); err == nil && g != nil {
		t["target.group.domain_id"] = g.DomainID
	}
	return t, nil
}

// membershipTarget is the group's target plus the user's.
func (s *Service) membershipTarget(r *http.Request) (map[string]any, error) {
	t, err := s.groupTarget(r)
	if err != nil {
		return nil, err
	}
	ut, err := s.userTarget(r)
	if err != nil {
		return nil, err
	}
	for k, v := range ut {
		t[k] = v
	}
	return t, nil
}

func (s *Service) listGroups(r *http.Request) (httpapi.Response, error) {
	q := r.URL.Query()
	where, args := "1 = 1", []any{}
	for _, col := range []string{"name", "domain_id"} {
		if v := q.Get(col); v != "" {
			where += " AND " + col + " = ?"
			args = append(args, v)
		}
	}
	where, args = scopeDomainFilter(r.Context(), where, args)
	groups, err := s.queryGroups(r.Context(), where, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := make([]map[string]any, 0, len(groups))
	for _, g := range groups {
		if inexactFiltersMatch(q, map[string]string{"name": g.Name, "domain_id": g.DomainID}) {
			out = append(out, s.groupJSON(g))
		}
	}
	return httpapi.OK(map[string]any{"groups": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) createGroup(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	obj, err := decodeEnvelope(r, "group")
	if err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: obj}
	name, _ := f.Name("name", true)
	desc, _ := f.NullableString("description")
	domainID, _ := f.NullableString("domain_id")
	f.Drop("id", "links")
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	dom := ownerDomainID(ctx, domainID)
	if err := httpapi.Enforce(r, s.policy, "identity:create_group", map[string]any{"target.group.domain_id": dom}); err != nil {
		return httpapi.Response{}, err
	}
	g := &groupRow{ID: newID(), Name: strings.TrimSpace(name), DomainID: dom, Extra: marshalJSON(f.Extra())}
	if desc != nil {
		g.Description = *desc
	}
	// The domain is read in the transaction that inserts: a group is never created
	// into a domain being deleted.
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := s.requireDomain(ctx, tx, dom); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO groups (`+groupColumns+`) VALUES (?,?,?,?,?)`,
			g.ID, g.Name, g.DomainID, g.Description, g.Extra)
		if db.IsUniqueViolation(err) {
			return conflict("group", "name", g.Name)
		}
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.Created(map[string]any{"group": s.groupJSON(g)}), nil
}

func (s *Service) showGroup(r *http.Request) (httpapi.Response, error) {
	g, err := s.loadGroup(r.Context(), s.db, pathParam(r, "group_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"group": s.groupJSON(g)}), nil
}

// updateGroup applies the request to the group as stored when it writes.
func (s *Service) updateGroup(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	g, err := s.loadGroup(ctx, s.db, pathParam(r, "group_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	obj, err := decodeEnvelope(r, "group")
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := requireSomeProperty(obj, "group"); err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: obj}
	f.requireSameID(g.ID, "group")
	f.requireSameDomain(g.DomainID) // a group's domain never changes
	name, hasName := f.Name("name", false)
	desc, hasDesc := f.NullableString("description")
	f.Drop("links")
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	extra, id := f.Extra(), g.ID
	var updated *groupRow
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		g, err := s.loadGroup(ctx, tx, id)
		if err != nil {
			return err
		}
		if hasName {
			g.Name = strings.TrimSpace(name)
		}
		if hasDesc {
			g.Description = ""
			if desc != nil {
				g.Description = *desc
			}
		}
		g.Extra = extraMerged(g.Extra, extra)
		_, err = tx.ExecContext(ctx, `UPDATE groups SET name = ?, description = ?, extra = ? WHERE id = ?`,
			g.Name, g.Description, g.Extra, g.ID)
		if db.IsUniqueViolation(err) {
			return conflict("group", "name", g.Name)
		}
		if err != nil {
			return fmt.Errorf("update group: %w", err)
		}
		updated = g
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.OK(map[string]any{"group": s.groupJSON(updated)}), nil
}

func (s *Service) deleteGroup(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id := pathParam(r, "group_id")
	var members []string
	var grants int
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := s.loadGroup(ctx, tx, id); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM assignments WHERE actor_id = ?`, id).Scan(&grants); err != nil {
			return fmt.Errorf("count group grants: %w", err)
		}
		ids, err := db.QueryStrings(ctx, tx, `SELECT user_id FROM user_group_membership WHERE group_id = ?`, id)
		if err != nil {
			return fmt.Errorf("list group members: %w", err)
		}
		members = ids
		for _, q := range []string{
			`DELETE FROM assignments WHERE actor_id = ?`,
			`DELETE FROM user_group_membership WHERE group_id = ?`,
			`DELETE FROM groups WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("delete group: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	// As upstream: members lose roles only if the group held any; then their tokens,
	// which may carry those roles, are revoked.
	if grants > 0 && len(members) > 0 {
		events := make([]auth.RevocationEvent, 0, len(members))
		for _, id := range members {
			events = append(events, auth.RevocationEvent{UserID: id})
		}
		if err := s.revoke(ctx, events...); err != nil {
			return httpapi.Response{}, err
		}
	}
	return httpapi.NoContent(), nil
}

func (s *Service) listUsersInGroup(r *http.Request) (httpapi.Response, error) {
	g, err := s.loadGroup(r.Context(), s.db, pathParam(r, "group_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	where, args := userFilters(r, "id IN (SELECT user_id FROM user_group_membership WHERE group_id = ?)", []any{g.ID})
	users, err := s.queryUsers(r.Context(), where, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	return s.usersResponse(r, users), nil
}

// loadMembership loads the path's group and user, 404 for either missing.
func (s *Service) loadMembership(r *http.Request, q db.Querier) (*groupRow, *userRow, error) {
	g, err := s.loadGroup(r.Context(), q, pathParam(r, "group_id"))
	if err != nil {
		return nil, nil, err
	}
	u, err := s.loadUser(r.Context(), q, pathParam(r, "user_id"))
	if err != nil {
		return nil, nil, err
	}
	return g, u, nil
}

func notMember(userID, groupID string) error {
	return httpapi.NotFound("User '%s' not found in group '%s'", userID, groupID)
}

// addUserToGroup adds the membership in the transaction that finds the group and
// the user, so that neither is deleted in between.
func (s *Service) addUserToGroup(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		g, u, err := s.loadMembership(r, tx)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_group_membership (user_id, group_id) VALUES (?, ?)
			ON CONFLICT DO NOTHING`, u.ID, g.ID); err != nil {
			return fmt.Errorf("add group member: %w", err)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.NoContent(), nil
}

func (s *Service) checkUserInGroup(r *http.Request) (httpapi.Response, error) {
	g, u, err := s.loadMembership(r, s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	var n int
	if err := s.db.QueryRowContext(r.Context(), `SELECT COUNT(*) FROM user_group_membership WHERE user_id = ? AND group_id = ?`,
		u.ID, g.ID).Scan(&n); err != nil {
		return httpapi.Response{}, err
	}
	if n == 0 {
		return httpapi.Response{}, notMember(u.ID, g.ID)
	}
	return httpapi.NoContent(), nil
}

func (s *Service) removeUserFromGroup(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	groupID, userID := pathParam(r, "group_id"), pathParam(r, "user_id")
	res, err := s.db.ExecContext(ctx, `DELETE FROM user_group_membership WHERE user_id = ? AND group_id = ?`, userID, groupID)
	if err != nil {
		return httpapi.Response{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// Say which of group, user and membership is missing, as upstream.
		if _, _, err := s.loadMembership(r, s.db); err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.Response{}, notMember(userID, groupID)
	}
	s.changed()
	// Roles the user held through the group are gone: so are tokens carrying them.
	if err := s.revoke(ctx, auth.RevocationEvent{UserID: userID}); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}
