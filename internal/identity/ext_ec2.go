package identity

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// EC2 credentials (/v3/users/{user_id}/credentials/OS-EC2) are credentials of type
// "ec2" whose blob holds {"access", "secret", "trust_id"}; their id is the sha256 of
// the access key, so that they are also visible through /v3/credentials, as upstream.

func (s *Service) ec2CredentialRoutes() []httpapi.Route {
	base := "/v3/users/{user_id}/credentials/OS-EC2"
	ownerTarget := func(r *http.Request) (map[string]any, error) {
		id := pathParam(r, "user_id")
		return map[string]any{"user_id": id, "target.credential.user_id": id}, nil
	}
	return []httpapi.Route{
		{Method: "GET", Path: base, Policy: "identity:ec2_list_credentials", Target: ownerTarget, Handler: s.listEC2Credentials,
			Schemas: okBody(ec2CredentialIndexResponse)},
		{Method: "POST", Path: base, Policy: "identity:ec2_create_credential", Target: ownerTarget, Handler: s.createEC2Credential,
			Schemas: answering(http.StatusCreated, ec2CredentialResponse)},
		{Method: "GET", Path: base + "/{credential_id}", Policy: "identity:ec2_get_credential", Target: s.ec2CredentialTarget, Handler: s.showEC2Credential,
			Schemas: okBody(ec2CredentialResponse)},
		{Method: "DELETE", Path: base + "/{credential_id}", Policy: "identity:ec2_delete_credential", Target: s.ec2CredentialTarget, Handler: s.deleteEC2Credential, Schemas: noContent},
	}
}

const ec2CredentialType = "ec2"

type ec2Blob struct {
	Access  string  `json:"access"`
	Secret  string  `json:"secret"`
	TrustID *string `json:"trust_id"`
}

func ec2AccessHash(access string) string {
	sum := sha256.Sum256([]byte(access))
	return hex.EncodeToString(sum[:])
}

// getEC2Credential loads the ec2 credential whose access key is access.
func (s *Service) getEC2Credential(ctx context.Context, access string) (*credentialRow, error) {
	c, err := s.getCredential(ctx, s.db, ec2AccessHash(access))
	if err != nil || c == nil || c.Type != ec2CredentialType {
		return nil, err
	}
	return c, nil
}

// ec2CredentialTarget exposes the credential's owner to policy. As upstream
// (keystone/api/users.py _build_enforcer_target_data_owner_and_user_id_match), a
// credential missing under the access key's hash answers 404 before the policy;
// one of another type is the handler's 401.
func (s *Service) ec2CredentialTarget(r *http.Request) (map[string]any, error) {
	hash := ec2AccessHash(pathParam(r, "credential_id"))
	c, err := s.getCredential(r.Context(), s.db, hash)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, notFound("credential", hash)
	}
	return map[string]any{"user_id": pathParam(r, "user_id"), "target.credential.user_id": c.UserID}, nil
}

func (s *Service) ec2CredentialJSON(c *credentialRow) map[string]any {
	var b ec2Blob
	_ = json.Unmarshal([]byte(c.Blob), &b)
	return map[string]any{
		"user_id": c.UserID, "tenant_id": nullStringJSON(c.ProjectID), "access": b.Access, "secret": b.Secret,
		"trust_id": extNullString(b.TrustID),
		"links":    s.links("/v3/users/" + c.UserID + "/credentials/OS-EC2/" + b.Access),
	}
}

// ec2RequireUser answers 404 unless the user exists.
func (s *Service) ec2RequireUser(ctx context.Context, q db.Querier, id string) error {
	u, err := s.getUser(ctx, q, id)
	if err != nil {
		return err
	}
	if u == nil {
		return notFound("user", id)
	}
	return nil
}

// ec2OutOfScope is upstream's answer (_check_delegation_for_ec2) to a delegated
// token reaching for an EC2 credential out of its reach (credentialInDelegationScope).
var ec2OutOfScope = forbiddenAction("EC2 credential project does not match the project scope of the delegated token")

func (s *Service) listEC2Credentials(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	userID := pathParam(r, "user_id")
	if err := s.ec2RequireUser(ctx, s.db, userID); err != nil {
		return httpapi.Response{}, err
	}
	credentials, err := db.QueryAll(ctx, s.db, scanCredential, `SELECT `+credentialColumns+` FROM credentials WHERE user_id = ? AND type = ?
		ORDER BY id`, userID, ec2CredentialType)
	if err != nil {
		return httpapi.Response{}, err
	}
	creds := auth.FromContext(ctx)
	out := []map[string]any{}
	for _, c := range credentials {
		if !credentialInDelegationScope(creds, c) {
			continue
		}
		out = append(out, s.ec2CredentialJSON(c))
	}
	return httpapi.OK(map[string]any{"credentials": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) createEC2Credential(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	userID := pathParam(r, "user_id")
	var body map[string]any
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: body}
	extRequire(f, "tenant_id")
	tenantID, _ := f.String("tenant_id", 64)
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	creds := auth.FromContext(ctx)
	if err := s.requireUnrestrictedToken(ctx, creds, appCredsManaged); err != nil {
		return httpapi.Response{}, err
	}
	if err := s.ec2RequireUser(ctx, s.db, userID); err != nil {
		return httpapi.Response{}, err
	}
	if p, err := s.getProject(ctx, s.db, tenantID); err != nil {
		return httpapi.Response{}, err
	} else if p == nil {
		return httpapi.Response{}, notFound("project", tenantID)
	}
	project := sql.NullString{String: tenantID, Valid: true}
	if creds.Delegated() && tenantID != creds.ProjectID {
		return httpapi.Response{}, ec2OutOfScope
	}
	blob := ec2Blob{Access: newID(), Secret: newID()}
	data, _ := json.Marshal(blob)
	// Upstream records only a trust here; Nimbus binds the key pair to an
	// application credential or OAuth1 delegation too, so that its EC2 logins
	// are that delegation (as a key pair made through /v3/credentials is).
	bound, err := bindEC2Blob(creds, string(data))
	if err != nil {
		return httpapi.Response{}, err
	}
	c := &credentialRow{ID: ec2AccessHash(blob.Access), UserID: userID, ProjectID: project, Type: ec2CredentialType,
		Blob: bound, Extra: "{}"}
	// The user and the project are read again in the transaction that inserts: no
	// key pair outlives either.
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := s.ec2RequireUser(ctx, tx, userID); err != nil {
			return err
		}
		if p, err := s.getProject(ctx, tx, tenantID); err != nil {
			return err
		} else if p == nil {
			return notFound("project", tenantID)
		}
		return s.insertCredential(ctx, tx, c)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.Created(map[string]any{"credential": s.ec2CredentialJSON(c)}), nil
}

// loadEC2Credential finds the user's credential by access key, 404 otherwise.
func (s *Service) loadEC2Credential(r *http.Request) (*credentialRow, error) {
	ctx := r.Context()
	userID, access := pathParam(r, "user_id"), pathParam(r, "credential_id")
	if err := s.ec2RequireUser(ctx, s.db, userID); err != nil {
		return nil, err
	}
	c, err := s.getEC2Credential(ctx, access)
	if err != nil {
		return nil, err
	}
	if c == nil || c.UserID != userID {
		return nil, httpapi.NotFound("Could not find EC2 credential: %s.", access)
	}
	if !credentialInDelegationScope(auth.FromContext(ctx), c) {
		return nil, ec2OutOfScope
	}
	return c, nil
}

func (s *Service) showEC2Credential(r *http.Request) (httpapi.Response, error) {
	c, err := s.loadEC2Credential(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"credential": s.ec2CredentialJSON(c)}), nil
}

func (s *Service) deleteEC2Credential(r *http.Request) (httpapi.Response, error) {
	c, err := s.loadEC2Credential(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.db.ExecContext(r.Context(), `DELETE FROM credentials WHERE id = ?`, c.ID); err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.NoContent(), nil
}
