package identity

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Credentials (/v3/credentials) are opaque blobs users store, such as EC2 key pairs.
// The blob is user data: it is stored as given and never logged.

func (s *Service) credentialRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/credentials", Handler: s.listCredentials,
			Schemas: okBody(credentialIndexResponse)}, // policy per credential
		{Method: "POST", Path: "/v3/credentials", Handler: s.createCredential,
			Schemas: schemas(credentialCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: credentialResponse})}, // policy needs the body's user
		{Method: "GET", Path: "/v3/credentials/{credential_id}", Policy: "identity:get_credential", Target: s.credentialTarget, Handler: s.showCredential,
			Schemas: okBody(credentialResponse)},
		{Method: "PATCH", Path: "/v3/credentials/{credential_id}", Policy: "identity:update_credential", Target: s.credentialTarget, Handler: s.updateCredential,
			Schemas: schemas(credentialUpdateRequest, map[int]jsonschema.Schema{http.StatusOK: credentialResponse})},
		{Method: "DELETE", Path: "/v3/credentials/{credential_id}", Policy: "identity:delete_credential", Target: s.credentialTarget, Handler: s.deleteCredential, Schemas: noContent},
	}
}

type credentialRow struct {
	ID, UserID, Type, Blob string
	ProjectID              sql.NullString
	Extra                  string
}

const credentialColumns = `id, user_id, project_id, type, blob, extra`

func scanCredential(row db.Scanner) (*credentialRow, error) {
	c := &credentialRow{}
	err := row.Scan(&c.ID, &c.UserID, &c.ProjectID, &c.Type, &c.Blob, &c.Extra)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load credential: %w", err)
	}
	return c, nil
}

func (s *Service) getCredential(ctx context.Context, q db.Querier, id string) (*credentialRow, error) {
	return scanCredential(q.QueryRowContext(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE id = ?`, id))
}

func (s *Service) loadCredential(ctx context.Context, q db.Querier, id string) (*credentialRow, error) {
	c, err := s.getCredential(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, notFound("credential", id)
	}
	return c, nil
}

// credentialTarget exposes the credential's owner to policy; a missing credential
// gets an empty target, so that only admins learn it does not exist.
func (s *Service) credentialTarget(r *http.Request) (map[string]any, error) {
	t := map[string]any{}
	if c, err := s.getCredential(r.Context(), s.db, pathParam(r, "credential_id")); err == nil && c != nil {
		t["target.credential.user_id"] = c.UserID
	}
	return t, nil
}

func (s *Service) credentialJSON(c *credentialRow) map[string]any {
	return mergeExtra(map[string]any{
		"id": c.ID, "user_id": c.UserID, "project_id": nullStringJSON(c.ProjectID), "type": c.Type, "blob": c.Blob,
		"links": s.links("/v3/credentials/" + c.ID),
	}, c.Extra)
}

// ec2CredentialID is upstream's id of an EC2 credential: the sha256 of its access
// key, so that EC2 signatures find it; the blob must be a JSON object with "access".
func ec2CredentialID(blob string) (string, error) {
	var b map[string]any
	if err := json.Unmarshal([]byte(blob), &b); err != nil {
		return "", httpapi.BadRequest("Invalid blob in credential")
	}
	access, _ := b["access"].(string)
	if len(b) == 0 {
		return "", httpapi.BadRequest("Expecting to find blob in credential. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
	}
	if access == "" {
		return "", httpapi.BadRequest("Expecting to find access in credential. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
	}
	sum := sha256.Sum256([]byte(access))
	return hex.EncodeToString(sum[:]), nil
}

func (s *Service) listCredentials(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	creds := auth.FromContext(ctx)
	var target map[string]any
	if !creds.System {
		target = map[string]any{"target.credential.user_id": creds.UserID}
	}
	if err := httpapi.Enforce(r, s.policy, "identity:list_credentials", target); err != nil {
		return httpapi.Response{}, err
	}
	q := r.URL.Query()
	where, args := "1 = 1", []any{}
	for _, col := range []string{"user_id", "type"} {
		if q.Has(col) {
			where += " AND " + col + " = ?"
			args = append(args, q.Get(col))
		}
	}
	credentials, err := db.QueryAll(ctx, s.db, scanCredential, `SELECT `+credentialColumns+` FROM credentials WHERE `+where+` ORDER BY user_id, id`, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	pc := creds.PolicyCredentials()
	out := []map[string]any{}
	for _, c := range credentials {
		// As upstream: each credential is shown only if the caller may get it.
		if !s.policy.Allowed("identity:get_credential", map[string]any{"target.credential.user_id": c.UserID}, pc) ||
			!credentialInDelegationScope(creds, c) {
			continue
		}
		out = append(out, s.credentialJSON(c))
	}
	return httpapi.OK(map[string]any{"credentials": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) showCredential(r *http.Request) (httpapi.Response, error) {
	c, err := s.loadScopedCredential(r, s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"credential": s.credentialJSON(c)}), nil
}

// loadScopedCredential loads the path's credential, 403 when the caller's token is
// a delegation it is out of the reach of.
func (s *Service) loadScopedCredential(r *http.Request, q db.Querier) (*credentialRow, error) {
	c, err := s.loadCredential(r.Context(), q, pathParam(r, "credential_id"))
	if err != nil {
		return nil, err
	}
	if !credentialInDelegationScope(auth.FromContext(r.Context()), c) {
		return nil, credentialOutOfScope
	}
	return c, nil
}

// credentialFields reads a credential body into c.
func credentialFields(f *fields, c *credentialRow, create bool) {
	required := func(name string) {
		if _, ok := f.m[name]; !ok && create && f.err == nil {
			f.err = httpapi.BadRequest("'%s' is a required property", name)
		}
	}
	required("blob")
	required("type")
	if v, ok := f.String("blob", 0); ok {
		c.Blob = v
	}
	if v, ok := f.Name("type", false); ok {
		c.Type = v
	}
	if v, ok := f.Name("user_id", false); ok {
		c.UserID = v
	}
	if v, ok := f.NullableString("project_id"); ok {
		c.ProjectID = sql.NullString{}
		if v != nil && *v != "" {
			c.ProjectID = sql.NullString{String: *v, Valid: true}
		}
	}
	f.Drop("links")
}

func requireEC2Project(c *credentialRow) error {
	if strings.EqualFold(c.Type, "ec2") && !c.ProjectID.Valid {
		return httpapi.BadRequest("Expecting to find project_id in credential. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
	}
	return nil
}

func (s *Service) createCredential(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	creds := auth.FromContext(ctx)
	obj, err := decodeEnvelope(r, "credential")
	if err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: obj}
	f.Drop("id") // upstream assigns it
	// A credential is the caller's own unless the body names another user.
	c := &credentialRow{UserID: creds.UserID}
	credentialFields(f, c, true)
	if err := httpapi.Enforce(r, s.policy, "identity:create_credential",
		map[string]any{"target.credential.user_id": c.UserID}); err != nil {
		return httpapi.Response{}, err
	}
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	ec2 := strings.EqualFold(c.Type, ec2CredentialType)
	if ec2 {
		// A restricted application credential's key pair would log in with all of
		// the user's roles (CVE-2020-12689).
		if err := s.requireUnrestrictedToken(ctx, creds, "additional credentials"); err != nil {
			return httpapi.Response{}, err
		}
	}
	if creds.Delegated() && (!c.ProjectID.Valid || c.ProjectID.String != creds.ProjectID) {
		return httpapi.Response{}, credentialOutOfScope
	}
	if err := requireEC2Project(c); err != nil {
		return httpapi.Response{}, err
	}
	c.ID = newID()
	if ec2 {
		if c.ID, err = ec2CredentialID(c.Blob); err != nil {
			return httpapi.Response{}, err
		}
		if c.Blob, err = bindEC2Blob(creds, c.Blob); err != nil {
			return httpapi.Response{}, err
		}
		if !credentialInDelegationScope(creds, c) { // the blob named another delegation
			return httpapi.Response{}, credentialOutOfScope
		}
	}
	c.Extra = marshalJSON(f.Extra())
	if err := s.insertCredential(ctx, s.db, c); err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.Created(map[string]any{"credential": s.credentialJSON(c)}), nil
}

// insertCredential stores a new credential; 409 when its id is taken.
func (s *Service) insertCredential(ctx context.Context, q db.Querier, c *credentialRow) error {
	_, err := q.ExecContext(ctx, `INSERT INTO credentials (`+credentialColumns+`) VALUES (?,?,?,?,?,?)`,
		c.ID, c.UserID, c.ProjectID, c.Type, c.Blob, c.Extra)
	if db.IsUniqueViolation(err) {
		return conflict("credential", "id", c.ID)
	}
	return err
}

// updateCredential applies the request to the credential as stored when it
// writes (the EC2 blob rule compares with the stored blob), in one transaction.
func (s *Service) updateCredential(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if _, err := s.loadScopedCredential(r, s.db); err != nil {
		return httpapi.Response{}, err
	}
	obj, err := decodeEnvelope(r, "credential")
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := requireSomeProperty(obj, "credential"); err != nil {
		return httpapi.Response{}, err
	}
	_, blobGiven := obj["blob"]
	var updated *credentialRow
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		c, err := s.loadScopedCredential(r, tx)
		if err != nil {
			return err
		}
		f := &fields{m: maps.Clone(obj)} // fields consume the map: a run again needs it whole
		f.requireSameID(c.ID, "credential")
		owner, before := c.UserID, *c
		credentialFields(f, c, false)
		if f.err != nil {
			return f.err
		}
		if blobGiven && strings.EqualFold(before.Type, ec2CredentialType) {
			if err := validateEC2BlobUpdate(before.Blob, c.Blob); err != nil {
				return err
			}
		}
		// Nor may a delegation move a credential out of its reach.
		if !credentialInDelegationScope(auth.FromContext(ctx), c) {
			return credentialOutOfScope
		}
		// Handing a credential to another user needs the right to update it as them too.
		if c.UserID != owner {
			if err := httpapi.Enforce(r, s.policy, "identity:update_credential",
				map[string]any{"target.credential.user_id": c.UserID}); err != nil {
				return err
			}
		}
		if err := requireEC2Project(c); err != nil {
			return err
		}
		c.Extra = extraMerged(c.Extra, f.Extra())
		if _, err := tx.ExecContext(ctx, `UPDATE credentials SET user_id = ?, project_id = ?, type = ?, blob = ?, extra = ?
			WHERE id = ?`, c.UserID, c.ProjectID, c.Type, c.Blob, c.Extra, c.ID); err != nil {
			return fmt.Errorf("update credential: %w", err)
		}
		updated = c
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.OK(map[string]any{"credential": s.credentialJSON(updated)}), nil
}

func (s *Service) deleteCredential(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	c, err := s.loadScopedCredential(r, s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM credentials WHERE id = ?`, c.ID)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("delete credential: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 { // deleted meanwhile
		return httpapi.Response{}, notFound("credential", c.ID)
	}
	s.changed()
	return httpapi.NoContent(), nil
}
