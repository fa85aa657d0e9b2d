package identity

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"testing"
)

// s3V1Signature signs an S3 string to sign with AWS signature v1.
func s3V1Signature(secret, sts string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TestDisabledDomainUsersCannotAuthenticate: upstream checks the user's domain
// on every authentication (identity_api.assert_user_enabled), whatever names
// the user (its id names no domain) and whichever method or project.
func TestDisabledDomainUsersCannotAuthenticate(t *testing.T) {
	e := newTestEnv(t)
	domainID := obj(e.Must(http.StatusCreated, "POST", "/v3/domains", e.AdminToken,
		map[string]any{"domain": map[string]any{"name": "acme"}}), "domain")["id"].(string)
	userID := obj(e.Must(http.StatusCreated, "POST", "/v3/users", e.AdminToken, map[string]any{"user": map[string]any{
		"name": "wile", "password": "wile-pw", "domain_id": domainID}}), "user")["id"].(string)
	// A project in the disabled domain, and one in the enabled Default domain.
	ownProject := obj(e.Must(http.StatusCreated, "POST", "/v3/projects", e.AdminToken, map[string]any{"project": map[string]any{
		"name": "acme-p", "domain_id": domainID}}), "project")["id"].(string)
	defaultProject := extCreateProject(e, "elsewhere")
	member := extRoleID(t, e, "member")
	for _, p := range []string{ownProject, defaultProject} {
		e.Must(http.StatusNoContent, "PUT", "/v3/projects/"+p+"/users/"+userID+"/roles/"+member, e.AdminToken, nil)
	}
	byID := func(scope any) map[string]any {
		a := map[string]any{"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"id": userID, "password": "wile-pw"}}}}
		if scope != nil {
			a["scope"] = scope
		}
		return map[string]any{"auth": a}
	}
	onProject := func(id string) map[string]any { return map[string]any{"project": map[string]any{"id": id}} }
	login := func(body any) (int, string) {
		status, _, hdr := e.Do("POST", "/v3/auth/tokens", "", body)
		return status, hdr.Get("X-Subject-Token")
	}

	// While the domain is enabled everything works; keep a token of each kind.
	// (Authorizing an OAuth1 request token takes an admin, as upstream.)
	e.Must(http.StatusNoContent, "PUT", "/v3/projects/"+ownProject+"/users/"+userID+"/roles/"+extRoleID(t, e, "admin"), e.AdminToken, nil)
	_, elsewhereToken := login(byID(onProject(defaultProject)))
	_, ownToken := login(byID(onProject(ownProject)))
	f := newOAuth1Fixture(t, e)
	f.adminProject = ownProject
	reqToken, reqSecret := f.requestToken(t, e, "HMAC-SHA1")
	verifier := obj(e.Must(http.StatusOK, "PUT", "/v3/OS-OAUTH1/authorize/"+reqToken, ownToken,
		map[string]any{"roles": []any{map[string]any{"name": "member"}}}), "token")["oauth_verifier"].(string)
	accToken, accSecret := f.accessToken(t, e, "HMAC-SHA1", reqToken, reqSecret, verifier)
	oauth := f.signer("HMAC-SHA1")
	oauth.token, oauth.tokenSecret = accToken, accSecret
	if status, _, _ := f.login(t, e, oauth); status != http.StatusCreated {
		t.Fatalf("oauth1 login while enabled: %d", status)
	}
	ac := obj(e.Must(http.StatusCreated, "POST", "/v3/users/"+userID+"/application_credentials", ownToken,
		appCredBody(map[string]any{"name": "ci"})), "application_credential")
	ec2 := obj(e.Must(http.StatusCreated, "POST", "/v3/users/"+userID+"/credentials/OS-EC2", elsewhereToken,
		map[string]any{"tenant_id": defaultProject}), "credential")
	if status, _, _ := ec2V2Login(e, e.AdminToken, ec2["access"].(string), ec2["secret"].(string)); status != http.StatusOK {
		t.Fatalf("EC2 login while enabled: %d", status)
	}

	e.Must(http.StatusOK, "PATCH", "/v3/domains/"+domainID, e.AdminToken, map[string]any{"domain": map[string]any{"enabled": false}})

	for name, body := range map[string]any{
		"password by id, unscoped":                byID(nil),
		"password by id, on a project elsewhere":  byID(onProject(defaultProject)),
		"password by id, on its domain's project": byID(onProject(ownProject)),
		"password by name":                        passwordAuth("wile", "wile-pw", nil), // passwordAuth names Default: not found either
		"application credential":                  appCredAuth(map[string]any{"id": ac["id"], "secret": ac["secret"]}),
		"token issued before":                     tokenAuth(elsewhereToken, onProject(defaultProject)),
	} {
		if status, _ := login(body); status != http.StatusUnauthorized && status != http.StatusNotFound {
			t.Errorf("%s: %d, want a refusal", name, status)
		}
	}
	nameInDomain := map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"password"},
		"password": map[string]any{"user": map[string]any{"name": "wile", "password": "wile-pw", "domain": map[string]any{"id": domainID}}}}}}
	if status, _ := login(nameInDomain); status != http.StatusUnauthorized {
		t.Errorf("password by name in its domain: %d, want 401", status)
	}
	if status, _, _ := ec2V2Login(e, e.AdminToken, ec2["access"].(string), ec2["secret"].(string)); status != http.StatusUnauthorized {
		t.Errorf("EC2 login: %d, want 401", status)
	}
	s3 := map[string]any{"credentials": map[string]any{"access": ec2["access"], "token": base64.StdEncoding.EncodeToString([]byte("x")),
		"signature": s3V1Signature(ec2["secret"].(string), "x")}}
	if status, _, _ := e.Do("POST", "/v3/s3tokens", e.AdminToken, s3); status != http.StatusUnauthorized {
		t.Errorf("S3 login: %d, want 401", status)
	}
	if status, _, _ := f.login(t, e, oauth); status != http.StatusUnauthorized {
		t.Errorf("oauth1 login: %d, want 401", status)
	}
	// Tokens issued before the domain was disabled are revoked, on any project.
	for name, token := range map[string]string{"on a project elsewhere": elsewhereToken, "on its domain's project": ownToken} {
		if status, _, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": token}); status != http.StatusNotFound {
			t.Errorf("token %s validates after the domain was disabled: %d", name, status)
		}
	}

	// Enabled again, the user logs in again (the old tokens stay revoked).
	e.Must(http.StatusOK, "PATCH", "/v3/domains/"+domainID, e.AdminToken, map[string]any{"domain": map[string]any{"enabled": true}})
	if status, _ := login(byID(onProject(defaultProject))); status != http.StatusCreated {
		t.Fatalf("login after re-enabling: %d", status)
	}
	if status, _, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": elsewhereToken}); status != http.StatusNotFound {
		t.Errorf("a revoked token validates again: %d", status)
	}
}
