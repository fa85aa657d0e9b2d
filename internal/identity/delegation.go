package identity

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Delegations: a token may stand for less than its user. An application
// credential token carries a subset of the user's roles on one project; an
// OAuth1 token what the user delegated to a consumer. Such a token must never
// mint something that outlives or outgrows it (CVE-2020-12689 and its kin):
// identity refuses it what upstream's credentials, users and trusts APIs refuse
// it, and an EC2 key pair made with it stays bound to it (see credentials.go and
// ext_s3tokens.go).

// forbiddenAction is Keystone's ForbiddenAction message.
func forbiddenAction(action string) error {
	return httpapi.Forbidden("You are not authorized to perform the requested action: %s", action)
}

// blockDelegatedAppCredManagement refuses an OAuth1 token the application
// credential and access rule APIs, as upstream's _block_delegated_token_app_creds:
// an application credential made with it would outlive the delegation. (Tokens
// of application credentials answer to requireUnrestrictedToken instead.)
func blockDelegatedAppCredManagement(creds *auth.Credentials) error {
	if creds.OAuthAccessTokenID != "" {
		return httpapi.Forbidden("Cannot manage application credentials with a token issued via delegation.")
	}
	return nil
}

// blockDelegatedAccessTokenManagement refuses any delegated token the OAuth1
// access token API, as upstream's _block_delegated_token.
func blockDelegatedAccessTokenManagement(creds *auth.Credentials) error {
	if creds.Delegated() {
		return httpapi.Forbidden("Cannot manage OAuth access tokens with a token issued via delegation.")
	}
	return nil
}

// blockAppCredTrusts refuses an application credential's token every trust
// operation, restricted or not, as upstream's _check_application_credential: a
// trust would carry the delegation beyond its one project.
func blockAppCredTrusts(creds *auth.Credentials) error {
	if creds.AppCredID != "" {
		return forbiddenAction("Using method 'application_credential' is not allowed for managing trusts.")
	}
	return nil
}

// ec2DelegationKeys are the blob attributes binding an EC2 key pair to the
// delegation it was made with; once set they may not change (upstream's
// _validate_blob_update_keys, whose list also names "access_id").
var ec2DelegationKeys = []string{"trust_id", "app_cred_id", "access_token_id", "access_id"}

// ec2BlobDelegation is the delegation an ec2 blob is bound to ("" for none).
type ec2BlobDelegation struct{ TrustID, AppCredID, AccessTokenID string }

func ec2BlobDelegationOf(blob string) ec2BlobDelegation {
	var m map[string]any
	_ = json.Unmarshal([]byte(blob), &m)
	str := func(key string) string { s, _ := m[key].(string); return s }
	return ec2BlobDelegation{TrustID: str("trust_id"), AppCredID: str("app_cred_id"), AccessTokenID: str("access_token_id")}
}

// credentialInDelegationScope reports whether a delegated token may see or
// touch a credential. Upstream (_check_credential_project_scope,
// _check_delegation_for_ec2) binds a delegation to its project: credentials of
// another project, or of none (a TOTP seed), are out of its reach. Nimbus also
// keeps from it the EC2 key pairs of its project that another delegation, or the
// user itself, made: reading or re-keying one would log it in, through
// /v3/ec2tokens, with roles it does not hold.
func credentialInDelegationScope(creds *auth.Credentials, c *credentialRow) bool {
	if !creds.Delegated() {
		return true
	}
	if !c.ProjectID.Valid || c.ProjectID.String != creds.ProjectID {
		return false
	}
	if !strings.EqualFold(c.Type, ec2CredentialType) {
		return true
	}
	d := ec2BlobDelegationOf(c.Blob)
	return d.TrustID == creds.TrustID && d.AppCredID == creds.AppCredID && d.AccessTokenID == creds.OAuthAccessTokenID
}

// credentialOutOfScope is the answer to a delegated token reaching past it.
var credentialOutOfScope = forbiddenAction("Credential project does not match the project scope of the delegated token")

// bindEC2Blob records in an ec2 blob the delegation the caller's token stands
// for, whatever the blob said of it, so that an EC2 login with the key pair is
// that delegation again (upstream's _assign_unique_id). The blob must be a JSON
// object.
func bindEC2Blob(creds *auth.Credentials, blob string) (string, error) {
	if !creds.Delegated() {
		return blob, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(blob), &m); err != nil || m == nil {
		return "", httpapi.BadRequest("Invalid blob in credential")
	}
	if creds.AppCredID != "" {
		m["app_cred_id"] = creds.AppCredID
	}
	if creds.OAuthAccessTokenID != "" {
		m["access_token_id"] = creds.OAuthAccessTokenID
	}
	if creds.TrustID != "" {
		m["trust_id"] = creds.TrustID
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// validateEC2BlobUpdate refuses an update of an ec2 blob that changes or drops
// the delegation it is bound to (upstream: 400).
func validateEC2BlobUpdate(oldBlob, newBlob string) error {
	var before, after map[string]any
	_ = json.Unmarshal([]byte(oldBlob), &before)
	if err := json.Unmarshal([]byte(newBlob), &after); err != nil || after == nil {
		return httpapi.BadRequest("Invalid blob in credential")
	}
	for _, key := range ec2DelegationKeys {
		if !reflect.DeepEqual(before[key], after[key]) {
			return httpapi.BadRequest("%s can not be updated for credential", key)
		}
	}
	return nil
}
