package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Trust-scoped tokens ("scope": {"OS-TRUST:trust": {"id": ...}}), as Keystone's
// token model (keystone/models/token_model.py) and authentication
// (keystone/api/_shared/authentication.py) issue them: the trustee logs in and
// gets the trust's roles on the trust's project, as the trustor when the trust
// impersonates; every role the trust names (and those they imply) must still be
// the trustor's; each token uses up one of the trust's remaining uses.
//
// Keystone checks the trust again whenever it validates the token; Nimbus's
// services validate tokens locally, so the token carries the trust and both its
// users and is revoked instead: when the trust goes (trustDeleted), when either
// user's tokens are (RevocationEvent.Matches) and when the trustor loses a role
// on the project (a user and project event). It expires with the trust.

// trustGrant is the trust a login asked for, with the root of its redelegation
// chain, whose trustor's roles the whole chain stands on.
type trustGrant struct {
	trust *trustRow
	root  *trustRow
}

// trustPedigreeLimit bounds the walk up a redelegation chain (upstream's depth is
// at most max_redelegation_count, so a longer chain is corrupt).
const trustPedigreeLimit = trustMaxRedelegation + 2

// trustForScope reads the scope's trust reference and loads the trust and its
// chain. As upstream, a trust that does not exist (or has expired or run out of
// uses) fails the login with 401.
func (s *Service) trustForScope(ctx context.Context, raw json.RawMessage) (*trustGrant, error) {
	var ref struct {
		ID string `json:"id"`
	}
	if err := httpapi.DecodeJSONBytes(raw, &ref); err != nil {
		return nil, err
	}
	if ref.ID == "" {
		return nil, httpapi.BadRequest("Expecting to find trust_id in trust. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
	}
	g := &trustGrant{}
	t, err := s.loadTrust(ctx, ref.ID)
	if err != nil {
		return nil, httpapi.Unauthorized("Could not find trust: %s.", ref.ID)
	}
	g.trust, g.root = t, t
	for i := 0; g.root.RedelegatedTrustID.Valid; i++ {
		parent, err := s.loadTrust(ctx, g.root.RedelegatedTrustID.String)
		if err != nil || i >= trustPedigreeLimit {
			return nil, httpapi.Unauthorized("Could not find trust: %s.", g.root.RedelegatedTrustID.String)
		}
		g.root = parent
	}
	return g, nil
}

// applyTrust makes t a token of the trust for the authenticated user u: the
// checks of upstream's TokenModel.mint for a trust, then the trust's roles.
func (s *Service) applyTrust(ctx context.Context, t *auth.Token, u *userRow, g *trustGrant) error {
	tr := g.trust
	if u.ID != tr.TrusteeUserID {
		return httpapi.Forbidden("User is not a trustee.")
	}
	trustor, err := s.getUser(ctx, s.db, tr.TrustorUserID)
	if err != nil {
		return err
	}
	if err := s.requireUserEnabled(ctx, trustor); err != nil {
		return httpapi.Forbidden("Trustor is disabled.")
	}
	t.TrustID, t.TrustorUserID, t.TrusteeUserID, t.Impersonation = tr.ID, tr.TrustorUserID, tr.TrusteeUserID, tr.Impersonation
	if tr.Impersonation {
		t.UserID, t.UserDomainID = trustor.ID, trustor.DomainID
	}
	if tr.ExpiresAt.Valid {
		// Keystone refuses the token once the trust has expired; a token
		// validated locally expires with it instead.
		if exp := time.UnixMicro(tr.ExpiresAt.Int64).UTC(); exp.Before(t.ExpiresAt) {
			t.ExpiresAt = exp
		}
	}
	if !tr.ProjectID.Valid {
		return nil // a trust without a project delegates no role
	}
	roles, err := s.trustTokenRoles(ctx, g)
	if err != nil {
		return err
	}
	t.Roles = roles
	return nil
}

// trustTokenRoles are the trust's roles and those they imply, each of which the
// chain's original trustor must still hold on the project (else 403 "Trustee has
// no delegated roles."); domain-specific roles are left out, as upstream.
func (s *Service) trustTokenRoles(ctx context.Context, g *trustGrant) ([]auth.Role, error) {
	named, err := db.QueryStrings(ctx, s.db, `SELECT role_id FROM trust_roles WHERE trust_id = ?`, g.trust.ID)
	if err != nil {
		return nil, fmt.Errorf("load trust roles: %w", err)
	}
	delegated, err := s.impliedClosure(ctx, s.db, named)
	if err != nil {
		return nil, err
	}
	held, err := s.trustorRoleIDs(ctx, s.db, g.root.TrustorUserID, g.root.ProjectID.String)
	if err != nil {
		return nil, err
	}
	for _, id := range delegated {
		if !slices.Contains(held, id) {
			return nil, httpapi.Forbidden("Trustee has no delegated roles.")
		}
	}
	return s.globalRoles(ctx, delegated)
}

// trustorRoleIDs are the roles a user holds on a project, directly, through
// groups, inheritance or implication.
func (s *Service) trustorRoleIDs(ctx context.Context, q db.Querier, userID, projectID string) ([]string, error) {
	if projectID == "" {
		return nil, nil
	}
	direct, err := s.directRoleIDs(ctx, q, userID, tokenScope{ProjectID: projectID})
	if err != nil {
		return nil, err
	}
	return s.impliedClosure(ctx, q, direct)
}

// consumeTrustUse takes one of the trust's remaining uses once its token is
// built, as upstream's consume_use: atomically, so that two logins racing for the
// last use cannot both have it.
func (s *Service) consumeTrustUse(ctx context.Context, tr *trustRow) error {
	if !tr.RemainingUses.Valid {
		return nil
	}
	res, err := s.db.ExecContext(ctx, `UPDATE trusts SET remaining_uses = remaining_uses - 1
		WHERE id = ? AND remaining_uses > 0`, tr.ID)
	if err != nil {
		return fmt.Errorf("consume trust use: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return httpapi.Forbidden("No remaining uses for trust: %s.", tr.ID)
	}
	s.changed()
	return nil
}

// trustSubtree lists a trust and every trust redelegated from it, down the chain.
func trustSubtree(ctx context.Context, q db.Querier, id string) ([]string, error) {
	ids := []string{id}
	for i := 0; i < len(ids) && i < 64; i++ {
		children, err := db.QueryStrings(ctx, q, `SELECT id FROM trusts WHERE redelegated_trust_id = ?`, ids[i])
		if err != nil {
			return nil, fmt.Errorf("list redelegated trusts: %w", err)
		}
		for _, c := range children {
			if !slices.Contains(ids, c) {
				ids = append(ids, c)
			}
		}
	}
	return ids, nil
}

// trustRevocationEvents revoke the tokens of the given trusts (an event's
// access_token_id matches a token's trust).
func trustRevocationEvents(ids []string) []auth.RevocationEvent {
	events := make([]auth.RevocationEvent, len(ids))
	for i, id := range ids {
		events[i] = auth.RevocationEvent{AppCredID: id}
	}
	return events
}

// redelegatedTrustEvents extends user events: the tokens of trusts redelegated
// from the user's trusts stand on the user's roles too, though neither of their
// users is the user (upstream checks the chain's original trustor).
func (s *Service) redelegatedTrustEvents(ctx context.Context, events []auth.RevocationEvent) ([]auth.RevocationEvent, error) {
	var extra []auth.RevocationEvent
	for _, e := range events {
		if e.UserID == "" {
			continue
		}
		where, args := `trustor_user_id = ?`, []any{e.UserID}
		if e.ProjectID != "" {
			where, args = where+` AND project_id = ?`, append(args, e.ProjectID)
		}
		roots, err := db.QueryStrings(ctx, s.db, `SELECT id FROM trusts WHERE `+where, args...)
		if err != nil {
			return nil, fmt.Errorf("list trusts: %w", err)
		}
		for _, root := range roots {
			ids, err := trustSubtree(ctx, s.db, root)
			if err != nil {
				return nil, err
			}
			for _, ev := range trustRevocationEvents(ids[1:]) {
				ev.IssuedBefore = e.IssuedBefore
				extra = append(extra, ev)
			}
		}
	}
	return extra, nil
}
