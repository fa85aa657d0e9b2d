package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// OS-OAUTH1: a consumer (a third-party application) obtains a request token for a
// project, a user of that project authorizes it with some of their roles, the
// consumer exchanges it for an access token, and then authenticates with method
// "oauth1" for tokens scoped to that project carrying only the delegated roles.

// Upstream's [oauth1] request_token_duration and access_token_duration defaults.
const (
	oauth1RequestTokenDuration = 8 * time.Hour
	oauth1AccessTokenDuration  = 24 * time.Hour
	oauth1FormContentType      = "application/x-www-form-urlencoded"
)

func (s *Service) oauth1Routes() []httpapi.Route {
	c := "/v3/OS-OAUTH1/consumers/{consumer_id}"
	at := "/v3/users/{user_id}/OS-OAUTH1/access_tokens"
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/OS-OAUTH1/consumers", Policy: "identity:list_consumers", Handler: s.listConsumers,
			Schemas: okBody(consumerIndexResponse)},
		{Method: "POST", Path: "/v3/OS-OAUTH1/consumers", Policy: "identity:create_consumer", Handler: s.createConsumer, LateValidation: lazyValidation("consumer"),
			Schemas: schemas(consumerCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: consumerCreateResponse})},
		{Method: "GET", Path: c, Policy: "identity:get_consumer", Handler: s.showConsumer,
			Schemas: okBody(consumerResponse)},
		{Method: "PATCH", Path: c, Policy: "identity:update_consumer", Handler: s.updateConsumer, LateValidation: lazyValidation("consumer"),
			Schemas: schemas(consumerUpdateRequest, map[int]jsonschema.Schema{http.StatusOK: consumerResponse})},
		{Method: "DELETE", Path: c, Policy: "identity:delete_consumer", Handler: s.deleteConsumer, Schemas: noContent},
		// The OAuth signature authenticates these two, not a token.
		{Method: "POST", Path: "/v3/OS-OAUTH1/request_token", Public: true, Handler: s.createRequestToken,
			Schemas: answering(http.StatusCreated, nil)}, // a form-encoded token, not JSON
		{Method: "POST", Path: "/v3/OS-OAUTH1/access_token", Public: true, Handler: s.createAccessToken,
			Schemas: answering(http.StatusCreated, nil)},
		{Method: "PUT", Path: "/v3/OS-OAUTH1/authorize/{request_token_id}", Policy: "identity:authorize_request_token", Handler: s.authorizeRequestToken, LateValidation: lazyValidation("roles"),
			Schemas: schemas(authorizeRequest, map[int]jsonschema.Schema{http.StatusOK: authorizeResponse})},
		{Method: "GET", Path: at, Policy: "identity:list_access_tokens", Target: s.userTarget, Handler: s.listAccessTokens,
			Schemas: okBody(accessTokenIndexResponse)},
		{Method: "GET", Path: at + "/{access_token_id}", Policy: "identity:get_access_token", Target: s.userTarget, Handler: s.showAccessToken,
			Schemas: okBody(accessTokenResponse)},
		// Upstream checks identity:ec2_delete_credential here (keystone/api/users.py),
		// against a target holding no credential: it comes down to admin_required.
		{Method: "DELETE", Path: at + "/{access_token_id}", Policy: "identity:ec2_delete_credential", Handler: s.deleteAccessToken, Schemas: noContent},
		{Method: "GET", Path: at + "/{access_token_id}/roles", Policy: "identity:list_access_token_roles", Target: s.userTarget, Handler: s.listAccessTokenRoles,
			Schemas: okBody(accessTokenRoleIndexResponse)},
		{Method: "GET", Path: at + "/{access_token_id}/roles/{role_id}", Policy: "identity:get_access_token_role", Target: s.userTarget, Handler: s.showAccessTokenRole,
			Schemas: okBody(accessTokenRoleResponse)},
	}
}

// oauth1Secret is 32 random bytes, url-safe base64: only RFC 3986 unreserved
// characters, so every client encodes it the same way when building signing keys.
func oauth1Secret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// --- consumers ---

type consumerRow struct {
	ID          string
	Description sql.NullString
	Secret      string
	Extra       string
}

func (s *Service) getConsumer(ctx context.Context, q db.Querier, id string) (*consumerRow, error) {
	c := &consumerRow{}
	err := q.QueryRowContext(ctx, `SELECT id, description, secret, extra FROM oauth1_consumers WHERE id = ?`, id).
		Scan(&c.ID, &c.Description, &c.Secret, &c.Extra)
	if db.IsNoRows(err) {
		return nil, notFound("consumer", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load consumer: %w", err)
	}
	return c, nil
}

func (s *Service) consumerJSON(c *consumerRow) map[string]any {
	var desc any
	if c.Description.Valid {
		desc = c.Description.String
	}
	return mergeExtra(map[string]any{"id": c.ID, "description": desc,
		"links": s.links("/v3/OS-OAUTH1/consumers/" + c.ID)}, c.Extra)
}

// consumerFields reads a consumer's description and extra attributes.
func consumerFields(r *http.Request) (desc *string, descSet bool, extra map[string]any, err error) {
	m, err := decodeEnvelope(r, "consumer")
	if err != nil {
		return nil, false, nil, err
	}
	if _, ok := m["secret"]; ok {
		return nil, false, nil, httpapi.BadRequest("Cannot change consumer secret.")
	}
	f := &fields{m: m}
	desc, descSet = f.NullableString("description")
	f.Drop("id", "links")
	if f.err != nil {
		return nil, false, nil, f.err
	}
	return desc, descSet, f.Extra(), nil
}

func (s *Service) createConsumer(r *http.Request) (httpapi.Response, error) {
	desc, _, extra, err := consumerFields(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	c := &consumerRow{ID: newID(), Secret: oauth1Secret(), Extra: marshalJSON(extra)}
	if desc != nil {
		c.Description = sql.NullString{String: *desc, Valid: true}
	}
	if _, err := s.db.ExecContext(r.Context(), `INSERT INTO oauth1_consumers (id, description, secret, extra, created_at)
		VALUES (?, ?, ?, ?, ?)`, c.ID, c.Description, c.Secret, c.Extra, s.now().UnixMicro()); err != nil {
		return httpapi.Response{}, fmt.Errorf("create consumer: %w", err)
	}
	s.changed()
	j := s.consumerJSON(c)
	j["secret"] = c.Secret // the only time it is shown
	return httpapi.Created(map[string]any{"consumer": j}), nil
}

func (s *Service) listConsumers(r *http.Request) (httpapi.Response, error) {
	rows, err := s.db.QueryContext(r.Context(), `SELECT id, description, secret, extra FROM oauth1_consumers
		ORDER BY created_at, id`)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("list consumers: %w", err)
	}
	defer rows.Close()
	out := []map[string]any{}
	for rows.Next() {
		c := &consumerRow{}
		if err := rows.Scan(&c.ID, &c.Description, &c.Secret, &c.Extra); err != nil {
			return httpapi.Response{}, err
		}
		out = append(out, s.consumerJSON(c))
	}
	if err := rows.Err(); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"consumers": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) showConsumer(r *http.Request) (httpapi.Response, error) {
	c, err := s.getConsumer(r.Context(), s.db, pathParam(r, "consumer_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"consumer": s.consumerJSON(c)}), nil
}

// updateConsumer applies the request to the consumer as stored when it writes.
func (s *Service) updateConsumer(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id := pathParam(r, "consumer_id")
	if _, err := s.getConsumer(ctx, s.db, id); err != nil {
		return httpapi.Response{}, err
	}
	desc, descSet, extra, err := consumerFields(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	var updated *consumerRow
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		c, err := s.getConsumer(ctx, tx, id)
		if err != nil {
			return err
		}
		if descSet {
			c.Description = sql.NullString{}
			if desc != nil {
				c.Description = sql.NullString{String: *desc, Valid: true}
			}
		}
		c.Extra = extraMerged(c.Extra, extra)
		if _, err := tx.ExecContext(ctx, `UPDATE oauth1_consumers SET description = ?, extra = ? WHERE id = ?`,
			c.Description, c.Extra, c.ID); err != nil {
			return fmt.Errorf("update consumer: %w", err)
		}
		updated = c
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.OK(map[string]any{"consumer": s.consumerJSON(updated)}), nil
}

// deleteConsumer removes the consumer with its request and access tokens, revoking
// every token issued through them.
func (s *Service) deleteConsumer(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	c, err := s.getConsumer(ctx, s.db, pathParam(r, "consumer_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	// The access tokens to revoke are those the delete takes with it: listed in its
	// transaction, revoked after it, so that none issued in between survives.
	var ids []string
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if ids, err = accessTokenIDs(ctx, tx, `consumer_id = ?`, c.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth1_consumers WHERE id = ?`, c.ID); err != nil {
			return fmt.Errorf("delete consumer: %w", err)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	if err := s.revokeAccessTokens(ctx, ids); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// --- request tokens ---

func formResponse(status int, v url.Values) httpapi.Response {
	// Keystone writes key=value pairs in this order; clients parse it as a form.
	body := ""
	for _, k := range []string{"oauth_token", "oauth_token_secret", "oauth_expires_at"} {
		if x := v.Get(k); x != "" {
			if body != "" {
				body += "&"
			}
			body += k + "=" + url.QueryEscape(x)
		}
	}
	return httpapi.Response{Status: status, Body: []byte(body)}.WithHeader("Content-Type", oauth1FormContentType)
}

func (s *Service) createRequestToken(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	o, err := parseOAuth1Request(r, s.publicURL)
	if err != nil {
		return httpapi.Response{}, err
	}
	projectID := r.Header.Get("Requested-Project-Id")
	if projectID == "" {
		return httpapi.Response{}, httpapi.BadRequest("Expecting to find Requested-Project-Id in request. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
	}
	c, err := s.getConsumer(ctx, s.db, o.get("oauth_consumer_key"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := o.verify(c.Secret, "", s.now()); err != nil {
		return httpapi.Response{}, err
	}
	id, secret := newID(), oauth1Secret()
	expires := s.now().UTC().Truncate(time.Microsecond).Add(oauth1RequestTokenDuration)
	// The project is read in the transaction that inserts, so that none is deleted in between.
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if p, err := s.getProject(ctx, tx, projectID); err != nil {
			return err
		} else if p == nil {
			return notFound("project", projectID)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO oauth1_request_tokens (id, secret, consumer_id, requested_project_id,
			expires_at) VALUES (?, ?, ?, ?, ?)`, id, secret, c.ID, projectID, expires.UnixMicro()); err != nil {
			return fmt.Errorf("create request token: %w", err)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return formResponse(http.StatusCreated, url.Values{"oauth_token": {id}, "oauth_token_secret": {secret},
		"oauth_expires_at": {formatTime(expires)}}), nil
}

type requestTokenRow struct {
	ID, Secret, ConsumerID, ProjectID string
	AuthorizingUserID, RoleIDs        sql.NullString
	Verifier                          sql.NullString
	ExpiresAt                         int64
}

func (s *Service) getRequestToken(ctx context.Context, id string) (*requestTokenRow, error) {
	t := &requestTokenRow{}
	err := s.db.QueryRowContext(ctx, `SELECT id, secret, consumer_id, requested_project_id, authorizing_user_id,
		role_ids, verifier, expires_at FROM oauth1_request_tokens WHERE id = ?`, id).
		Scan(&t.ID, &t.Secret, &t.ConsumerID, &t.ProjectID, &t.AuthorizingUserID, &t.RoleIDs, &t.Verifier, &t.ExpiresAt)
	if db.IsNoRows(err) {
		return nil, notFound("request token", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load request token: %w", err)
	}
	if s.now().UnixMicro() >= t.ExpiresAt {
		return nil, httpapi.Unauthorized("Request token is expired")
	}
	return t, nil
}

type roleRefRequest struct {
	Roles []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"roles"`
}

// authorizeRequestToken lets the calling user delegate some of their roles on the
// requested project to the consumer; the answer's verifier goes to the consumer.
func (s *Service) authorizeRequestToken(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	creds := auth.FromContext(ctx)
	if t, err := s.valid.Token(r.Header.Get("X-Auth-Token")); err == nil && (t.OAuthAccessTokenID != "" || t.AppCredID != "") {
		return httpapi.Response{}, httpapi.Forbidden("Cannot authorize a request token with a token issued via delegation.")
	}
	var req roleRefRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	if len(req.Roles) == 0 {
		return httpapi.Response{}, httpapi.BadRequest("Invalid input for field 'roles': expected a non-empty list.")
	}
	var roleIDs []string
	for _, ref := range req.Roles {
		var role *roleRow
		var err error
		switch {
		case ref.ID != "":
			if role, err = s.getRole(ctx, s.db, ref.ID); err == nil && role == nil {
				err = notFound("role", ref.ID)
			}
		case ref.Name != "":
			if role, err = s.getRoleByName(ctx, s.db, ref.Name, nullDomainID); err == nil && role == nil {
				err = notFound("role", ref.Name)
			}
		default:
			err = httpapi.BadRequest("Invalid input for field 'roles': each role needs an id or a name.")
		}
		if err != nil {
			return httpapi.Response{}, err
		}
		if !slices.Contains(roleIDs, role.ID) {
			roleIDs = append(roleIDs, role.ID)
		}
	}
	rt, err := s.getRequestToken(ctx, pathParam(r, "request_token_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if rt.Verifier.Valid {
		return httpapi.Response{}, httpapi.Unauthorized("Request token has already been authorized.")
	}
	held, err := s.effectiveRoles(ctx, creds.UserID, tokenScope{ProjectID: rt.ProjectID})
	if err != nil {
		return httpapi.Response{}, err
	}
	if len(held) == 0 {
		return httpapi.Response{}, httpapi.Unauthorized("User is not a member of the requested project")
	}
	for _, id := range roleIDs {
		if !slices.ContainsFunc(held, func(h auth.Role) bool { return h.ID == id }) {
			return httpapi.Response{}, httpapi.Unauthorized("authorizing user does not have role required")
		}
	}
	verifier := oauth1Verifier()
	res, err := s.db.ExecContext(ctx, `UPDATE oauth1_request_tokens SET authorizing_user_id = ?, role_ids = ?, verifier = ?
		WHERE id = ? AND verifier IS NULL`, creds.UserID, marshalJSON(roleIDs), verifier, rt.ID)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("authorize request token: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return httpapi.Response{}, httpapi.Unauthorized("Request token has already been authorized.")
	}
	return httpapi.OK(map[string]any{"token": map[string]any{"oauth_verifier": verifier}}), nil
}

// oauth1Verifier is 16 random letters and digits (upstream uses 8).
func oauth1Verifier() string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b [16]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)] // 256 % 62 bias is irrelevant at 16 characters
	}
	return string(b[:])
}

// --- access tokens ---

type accessTokenRow struct {
	ID, Secret, ConsumerID, ProjectID, AuthorizingUserID string
	RoleIDs                                              []string
	ExpiresAt                                            int64
}

const accessTokenColumns = `id, secret, consumer_id, project_id, authorizing_user_id, role_ids, expires_at`

func scanAccessToken(row db.Scanner) (*accessTokenRow, error) {
	t := &accessTokenRow{}
	var roles string
	if err := row.Scan(&t.ID, &t.Secret, &t.ConsumerID, &t.ProjectID, &t.AuthorizingUserID, &roles, &t.ExpiresAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(roles), &t.RoleIDs); err != nil {
		return nil, fmt.Errorf("access token %s roles: %w", t.ID, err)
	}
	return t, nil
}

func (s *Service) getAccessToken(ctx context.Context, id string) (*accessTokenRow, error) {
	t, err := scanAccessToken(s.db.QueryRowContext(ctx, `SELECT `+accessTokenColumns+` FROM oauth1_access_tokens
		WHERE id = ?`, id))
	if db.IsNoRows(err) {
		return nil, notFound("access token", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load access token: %w", err)
	}
	return t, nil
}

// createAccessToken exchanges an authorized request token (signed with its secret
// and carrying its verifier) for an access token.
func (s *Service) createAccessToken(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	o, err := parseOAuth1Request(r, s.publicURL)
	if err != nil {
		return httpapi.Response{}, err
	}
	if o.get("oauth_token") == "" || o.get("oauth_verifier") == "" {
		return httpapi.Response{}, httpapi.BadRequest("Expecting to find oauth_token and oauth_verifier in the OAuth Authorization header.")
	}
	rt, err := s.getRequestToken(ctx, o.get("oauth_token"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if rt.ConsumerID != o.get("oauth_consumer_key") {
		return httpapi.Response{}, httpapi.Unauthorized("Provided consumer key does not match stored consumer key.")
	}
	c, err := s.getConsumer(ctx, s.db, rt.ConsumerID)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := o.verify(c.Secret, rt.Secret, s.now()); err != nil {
		return httpapi.Response{}, err
	}
	if !rt.Verifier.Valid || !rt.AuthorizingUserID.Valid {
		return httpapi.Response{}, httpapi.Unauthorized("Request token has not been authorized.")
	}
	if subtle.ConstantTimeCompare([]byte(rt.Verifier.String), []byte(o.get("oauth_verifier"))) != 1 {
		return httpapi.Response{}, httpapi.Unauthorized("Provided verifier does not match stored verifier")
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	at := &accessTokenRow{ID: newID(), Secret: oauth1Secret(), ConsumerID: c.ID, ProjectID: rt.ProjectID,
		AuthorizingUserID: rt.AuthorizingUserID.String, ExpiresAt: now.Add(oauth1AccessTokenDuration).UnixMicro()}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		// Deleting first, the token as authorized, makes the exchange single-use
		// even when two race: the second deletes nothing.
		res, err := tx.ExecContext(ctx, `DELETE FROM oauth1_request_tokens WHERE id = ? AND verifier = ?`,
			rt.ID, rt.Verifier.String)
		if err != nil {
			return fmt.Errorf("consume request token: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return notFound("request token", rt.ID)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO oauth1_access_tokens (`+accessTokenColumns+`, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, at.ID, at.Secret, at.ConsumerID, at.ProjectID, at.AuthorizingUserID,
			rt.RoleIDs.String, at.ExpiresAt, now.UnixMicro())
		if err != nil {
			return fmt.Errorf("create access token: %w", err)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return formResponse(http.StatusCreated, url.Values{"oauth_token": {at.ID}, "oauth_token_secret": {at.Secret},
		"oauth_expires_at": {formatTime(time.UnixMicro(at.ExpiresAt))}}), nil
}

func (s *Service) accessTokenJSON(t *accessTokenRow) map[string]any {
	self := "/v3/users/" + t.AuthorizingUserID + "/OS-OAUTH1/access_tokens/" + t.ID
	return map[string]any{
		"id": t.ID, "consumer_id": t.ConsumerID, "project_id": t.ProjectID,
		"authorizing_user_id": t.AuthorizingUserID, "expires_at": formatTime(time.UnixMicro(t.ExpiresAt)),
		"links": map[string]any{"self": s.selfURL(self), "roles": s.selfURL(self + "/roles")},
	}
}

// userAccessToken loads an access token of the user named in the path.
func (s *Service) userAccessToken(r *http.Request) (*accessTokenRow, error) {
	t, err := s.getAccessToken(r.Context(), pathParam(r, "access_token_id"))
	if err != nil {
		return nil, err
	}
	if t.AuthorizingUserID != pathParam(r, "user_id") {
		return nil, httpapi.Unauthorized("User IDs do not match")
	}
	return t, nil
}

func (s *Service) listAccessTokens(r *http.Request) (httpapi.Response, error) {
	if err := blockDelegatedAccessTokenManagement(auth.FromContext(r.Context())); err != nil {
		return httpapi.Response{}, err
	}
	tokens, err := db.QueryAll(r.Context(), s.db, scanAccessToken, `SELECT `+accessTokenColumns+` FROM oauth1_access_tokens
		WHERE authorizing_user_id = ? ORDER BY created_at, id`, pathParam(r, "user_id"))
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("list access tokens: %w", err)
	}
	out := []map[string]any{}
	for _, t := range tokens {
		out = append(out, s.accessTokenJSON(t))
	}
	return httpapi.OK(map[string]any{"access_tokens": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) showAccessToken(r *http.Request) (httpapi.Response, error) {
	if err := blockDelegatedAccessTokenManagement(auth.FromContext(r.Context())); err != nil {
		return httpapi.Response{}, err
	}
	t, err := s.userAccessToken(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"access_token": s.accessTokenJSON(t)}), nil
}

func (s *Service) deleteAccessToken(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := blockDelegatedAccessTokenManagement(auth.FromContext(ctx)); err != nil {
		return httpapi.Response{}, err
	}
	t, err := s.userAccessToken(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM oauth1_access_tokens WHERE id = ?`, t.ID); err != nil {
		return httpapi.Response{}, fmt.Errorf("delete access token: %w", err)
	}
	s.changed()
	// Revoked after the delete, so that no token issued in between survives it.
	if err := s.revokeAccessTokens(ctx, []string{t.ID}); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// revokeAccessTokens revokes every token issued with the given access tokens: the
// events' access_token_id matches a token's OAuth1 access token.
func (s *Service) revokeAccessTokens(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	events := make([]auth.RevocationEvent, len(ids))
	for i, id := range ids {
		events[i] = auth.RevocationEvent{AppCredID: id}
	}
	return s.revoke(ctx, events...)
}

func accessTokenIDs(ctx context.Context, q db.Querier, where string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id FROM oauth1_access_tokens WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list access tokens: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func (s *Service) listAccessTokenRoles(r *http.Request) (httpapi.Response, error) {
	t, err := s.userAccessToken(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []map[string]any{}
	for _, id := range t.RoleIDs {
		role, err := s.getRole(r.Context(), s.db, id)
		if err != nil {
			return httpapi.Response{}, err
		}
		if role != nil { // a deleted role has left the delegation
			out = append(out, s.accessTokenRoleJSON(role))
		}
	}
	return httpapi.OK(map[string]any{"roles": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) showAccessTokenRole(r *http.Request) (httpapi.Response, error) {
	t, err := s.userAccessToken(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	roleID := pathParam(r, "role_id")
	if slices.Contains(t.RoleIDs, roleID) {
		role, err := s.getRole(r.Context(), s.db, roleID)
		if err != nil {
			return httpapi.Response{}, err
		}
		if role != nil {
			return httpapi.OK(map[string]any{"role": s.accessTokenRoleJSON(role)}), nil
		}
	}
	return httpapi.Response{}, notFound("role", roleID)
}

// --- the "oauth1" authentication method ---

// authOAuth1 authenticates a token request signed with an access token and returns
// the access token; the token is issued to its authorizing user.
func (s *Service) authOAuth1(r *http.Request) (*accessTokenRow, error) {
	ctx := r.Context()
	o, err := parseOAuth1Request(r, s.publicURL)
	if err != nil {
		return nil, err
	}
	if o.get("oauth_token") == "" {
		return nil, httpapi.BadRequest("Expecting to find oauth_token in the OAuth Authorization header.")
	}
	at, err := s.getAccessToken(ctx, o.get("oauth_token"))
	if err != nil {
		if httpapi.AsError(err).Status == http.StatusNotFound {
			return nil, httpapi.Unauthorized("Could not validate the access token")
		}
		return nil, err
	}
	if s.now().UnixMicro() >= at.ExpiresAt {
		return nil, httpapi.Unauthorized("Access token is expired")
	}
	if at.ConsumerID != o.get("oauth_consumer_key") {
		return nil, httpapi.Unauthorized("Could not validate the access token")
	}
	c, err := s.getConsumer(ctx, s.db, at.ConsumerID)
	if err != nil {
		return nil, err
	}
	if err := o.verify(c.Secret, at.Secret, s.now()); err != nil {
		if httpapi.AsError(err).Status == http.StatusUnauthorized {
			return nil, httpapi.Unauthorized("Could not validate the access token")
		}
		return nil, err
	}
	return at, nil
}

// oauth1Scope is the scope of a token issued with an access token: its project.
// Asking for another scope fails.
func oauth1Scope(explicit bool, requested tokenScope, at *accessTokenRow) (tokenScope, error) {
	want := tokenScope{ProjectID: at.ProjectID}
	if explicit && requested != want {
		return requested, httpapi.Unauthorized("OAuth1 tokens are scoped to the access token's project.")
	}
	return want, nil
}

// applyOAuth1 restricts a token to what the access token delegates: the roles the
// user still holds among those authorized, until the access token expires.
func applyOAuth1(t *auth.Token, at *accessTokenRow, roles []auth.Role) []auth.Role {
	t.OAuthAccessTokenID = at.ID
	if exp := time.UnixMicro(at.ExpiresAt).UTC(); exp.Before(t.ExpiresAt) {
		t.ExpiresAt = exp
	}
	return slices.DeleteFunc(roles, func(r auth.Role) bool { return !slices.Contains(at.RoleIDs, r.ID) })
}

// oauth1TokenJSON is the "OS-OAUTH1" object of a token issued with an access token.
func (s *Service) oauth1TokenJSON(ctx context.Context, accessTokenID string) (map[string]any, error) {
	j := map[string]any{"access_token_id": accessTokenID}
	at, err := s.getAccessToken(ctx, accessTokenID)
	switch {
	case err == nil:
		j["consumer_id"] = at.ConsumerID
	case httpapi.AsError(err).Status != http.StatusNotFound:
		return nil, err
	}
	return j, nil
}

// accessTokenRoleJSON is a role of an access token as keystone/api/users.py's
// _format_role_entity shows it: the role without its description (nor
// "enabled", an attribute it may have been given).
func (s *Service) accessTokenRoleJSON(r *roleRow) map[string]any {
	j := s.trustRoleJSON(r)
	delete(j, "description")
	delete(j, "enabled")
	return j
}
