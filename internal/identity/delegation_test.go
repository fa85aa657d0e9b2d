package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// Regression tests of CVE-2020-12689 and its kin (keystone bugs 1872733, 1872735,
// 1872737, 2142138, 2149775, 2150089): a delegation (a restricted application
// credential, an OAuth1 access token) must not turn itself into the user's full
// roles through EC2 credentials, nor outlive itself through them.

// ec2V2Login signs a v2 EC2 request with the key pair and posts it to
// /v3/ec2tokens as the service token caller (upstream's ec2tokens needs a
// service's or an admin's token). It returns the status, token body and token.
func ec2V2Login(e *testEnv, caller, access, secret string) (int, map[string]any, string) {
	e.t.Helper()
	now := time.Now().UTC().Format("2006-01-02T15:04:05Z")
	params := map[string]any{"AWSAccessKeyId": access, "Action": "DescribeInstances", "SignatureMethod": "HmacSHA256",
		"SignatureVersion": "2", "Timestamp": now, "Version": "2016-11-15"}
	sts := "GET\nec2.example.com\n/\nAWSAccessKeyId=" + access + "&Action=DescribeInstances&SignatureMethod=HmacSHA256" +
		"&SignatureVersion=2&Timestamp=" + awsURIEncodeForTest(now) + "&Version=2016-11-15"
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(sts))
	body := map[string]any{"credentials": map[string]any{"access": access, "host": "ec2.example.com", "verb": "GET",
		"path": "/", "params": params, "signature": base64.StdEncoding.EncodeToString(m.Sum(nil))}}
	status, out, hdr := e.Do("POST", "/v3/ec2tokens", caller, body)
	return status, obj(out, "token"), hdr.Get("X-Subject-Token")
}

// ec2Blob is a /v3/credentials body for an ec2 key pair on project.
func ec2CredentialBody(userID, projectID, access, secret string, extra map[string]any) map[string]any {
	blob := map[string]any{"access": access, "secret": secret}
	for k, v := range extra {
		blob[k] = v
	}
	b, _ := json.Marshal(blob)
	return credBody(map[string]any{"type": "ec2", "user_id": userID, "project_id": projectID, "blob": string(b)})
}

// blobOf decodes the blob of a credential answer.
func blobOf(t *testing.T, credential map[string]any) map[string]any {
	t.Helper()
	var b map[string]any
	s, _ := credential["blob"].(string)
	if err := json.Unmarshal([]byte(s), &b); err != nil {
		t.Fatalf("blob %q: %v", s, err)
	}
	return b
}

func TestRestrictedApplicationCredentialCannotCreateEC2Credentials(t *testing.T) {
	e := newTestEnv(t)
	demoID, demoProject := acUserID(e, e.DemoToken), extProjectID(e, e.DemoToken)
	ac := obj(e.Must(http.StatusCreated, "POST", "/v3/users/"+demoID+"/application_credentials", e.DemoToken,
		appCredBody(map[string]any{"name": "reader-only", "roles": []any{map[string]any{"name": "reader"}}})), "application_credential")
	_, _, acToken := acLogin(e, map[string]any{"id": ac["id"], "secret": ac["secret"]})

	// The attack: store a key pair with the restricted credential's token, then log
	// in with it for a token carrying all of the user's roles.
	status, out, _ := e.Do("POST", "/v3/credentials", acToken, ec2CredentialBody(demoID, demoProject, "stolen", "s3cr3t", nil))
	if status != http.StatusForbidden {
		t.Fatalf("restricted application credential created an EC2 credential: %d %v", status, out)
	}
	if status, tok, _ := ec2V2Login(e, e.AdminToken, "stolen", "s3cr3t"); status == http.StatusOK {
		t.Fatalf("EC2 login with the stored key pair: roles %v", roleNames(tok))
	}
	// The os-ec2 API refuses it too, and so do project-less credentials (upstream:
	// a delegation is bound to its project).
	e.Must(http.StatusForbidden, "POST", "/v3/users/"+demoID+"/credentials/OS-EC2", acToken, map[string]any{"tenant_id": demoProject})
	e.Must(http.StatusForbidden, "POST", "/v3/credentials", acToken, credBody(map[string]any{"type": "totp", "blob": "GEZDGNBVGY3TQOJQ", "user_id": demoID}))
}

func TestEC2CredentialOfApplicationCredentialIsBoundToIt(t *testing.T) {
	e := newTestEnv(t)
	demoID, demoProject := acUserID(e, e.DemoToken), extProjectID(e, e.DemoToken)
	adminProject := extProjectID(e, e.AdminToken)
	// demo holds a role the credential does not get.
	auditor := obj(e.Must(http.StatusCreated, "POST", "/v3/roles", e.AdminToken, map[string]any{"role": map[string]any{"name": "auditor"}}), "role")
	e.Must(http.StatusNoContent, "PUT", "/v3/projects/"+demoProject+"/users/"+demoID+"/roles/"+auditor["id"].(string), e.AdminToken, nil)
	demoToken := e.Login("demo", testDemoPassword, "demo")
	ac := obj(e.Must(http.StatusCreated, "POST", "/v3/users/"+demoID+"/application_credentials", demoToken,
		appCredBody(map[string]any{"name": "free", "unrestricted": true, "roles": []any{map[string]any{"name": "member"}}})),
		"application_credential")
	acID := ac["id"].(string)
	_, _, acToken := acLogin(e, map[string]any{"id": acID, "secret": ac["secret"]})

	// Both APIs record the application credential in the blob...
	viaV3 := obj(e.Must(http.StatusCreated, "POST", "/v3/credentials", acToken,
		ec2CredentialBody(demoID, demoProject, "via-v3", "secret-1", nil)), "credential")
	if blobOf(t, viaV3)["app_cred_id"] != acID {
		t.Fatalf("blob of a credential made with an application credential: %v", viaV3["blob"])
	}
	viaEC2 := obj(e.Must(http.StatusCreated, "POST", "/v3/users/"+demoID+"/credentials/OS-EC2", acToken,
		map[string]any{"tenant_id": demoProject}), "credential")
	stored := obj(e.Must(http.StatusOK, "GET", "/v3/credentials/"+ec2AccessHash(viaEC2["access"].(string)), e.DemoToken, nil), "credential")
	if blobOf(t, stored)["app_cred_id"] != acID {
		t.Fatalf("blob of an os-ec2 credential made with an application credential: %v", stored["blob"])
	}
	// ... whatever the body says, and only for the credential's own project.
	forged := obj(e.Must(http.StatusCreated, "POST", "/v3/credentials", acToken,
		ec2CredentialBody(demoID, demoProject, "forged", "secret-2", map[string]any{"app_cred_id": nil})), "credential")
	if blobOf(t, forged)["app_cred_id"] != acID {
		t.Fatalf("the body unset the application credential: %v", forged["blob"])
	}
	e.Must(http.StatusForbidden, "POST", "/v3/credentials", acToken, ec2CredentialBody(demoID, adminProject, "elsewhere", "s", nil))
	e.Must(http.StatusForbidden, "POST", "/v3/users/"+demoID+"/credentials/OS-EC2", acToken, map[string]any{"tenant_id": adminProject})

	// An EC2 login gets the application credential's roles only, and is its token.
	var tokens []string
	for access, secret := range map[string]string{"via-v3": "secret-1", viaEC2["access"].(string): viaEC2["secret"].(string)} {
		status, tok, token := ec2V2Login(e, e.AdminToken, access, secret)
		if status != http.StatusOK {
			t.Fatalf("EC2 login: %d", status)
		}
		if roles := roleNames(tok); len(roles) != 2 || !roles["member"] || !roles["reader"] || obj(tok, "application_credential")["id"] != acID {
			t.Fatalf("EC2 login of %s got roles %v, application credential %v; want member and reader of %s",
				access, roles, tok["application_credential"], acID)
		}
		tokens = append(tokens, token)
	}

	// The blob's delegation cannot be changed or removed (upstream: 400).
	id := viaV3["id"].(string)
	for name, blob := range map[string]map[string]any{
		"removed":   {"access": "via-v3", "secret": "secret-1"},
		"changed":   {"access": "via-v3", "secret": "secret-1", "app_cred_id": "another"},
		"trust set": {"access": "via-v3", "secret": "secret-1", "app_cred_id": acID, "trust_id": "t"},
	} {
		b, _ := json.Marshal(blob)
		if status, out, _ := e.Do("PATCH", "/v3/credentials/"+id, e.DemoToken, credBody(map[string]any{"blob": string(b)})); status != http.StatusBadRequest {
			t.Errorf("blob delegation %s: %d %v, want 400", name, status, out)
		}
	}
	b, _ := json.Marshal(map[string]any{"access": "via-v3", "secret": "rotated", "app_cred_id": acID})
	e.Must(http.StatusOK, "PATCH", "/v3/credentials/"+id, e.DemoToken, credBody(map[string]any{"blob": string(b)}))

	// Deleting the application credential ends the EC2 logins and their tokens.
	e.Must(http.StatusNoContent, "DELETE", "/v3/users/"+demoID+"/application_credentials/"+acID, e.DemoToken, nil)
	if status, _, _ := ec2V2Login(e, e.AdminToken, "via-v3", "rotated"); status != http.StatusUnauthorized {
		t.Fatalf("EC2 login after the application credential was deleted: %d, want 401", status)
	}
	for _, token := range tokens {
		if status, _, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": token}); status != http.StatusNotFound {
			t.Fatalf("EC2 token of a deleted application credential validates: %d", status)
		}
	}
}

func TestOAuth1DelegationCannotEscalateThroughEC2(t *testing.T) {
	e := newTestEnv(t)
	f := newOAuth1Fixture(t, e)
	reqToken, reqSecret := f.requestToken(t, e, "HMAC-SHA1")
	verifier := f.authorize(t, e, reqToken, map[string]any{"name": "reader"})
	accToken, accSecret := f.accessToken(t, e, "HMAC-SHA1", reqToken, reqSecret, verifier)
	sg := f.signer("HMAC-SHA1")
	sg.token, sg.tokenSecret = accToken, accSecret
	status, oauthToken, _ := f.login(t, e, sg)
	if status != http.StatusCreated {
		t.Fatalf("oauth1 login: %d", status)
	}

	// The delegated token stores a key pair; the blob records the access token.
	c := obj(e.Must(http.StatusCreated, "POST", "/v3/credentials", oauthToken,
		ec2CredentialBody(f.adminID, f.adminProject, "consumer-key", "consumer-secret", nil)), "credential")
	if blobOf(t, c)["access_token_id"] != accToken {
		t.Fatalf("blob of a credential made with an OAuth1 token: %v", c["blob"])
	}
	e.Must(http.StatusForbidden, "POST", "/v3/credentials", oauthToken, credBody(map[string]any{"type": "totp", "blob": "x", "user_id": f.adminID}))

	// An EC2 login is the delegation again: its roles (reader), not admin's.
	status, tok, token := ec2V2Login(e, e.AdminToken, "consumer-key", "consumer-secret")
	if status != http.StatusOK {
		t.Fatalf("EC2 login: %d", status)
	}
	if roles := roleNames(tok); len(roles) != 1 || !roles["reader"] || obj(tok, "OS-OAUTH1")["access_token_id"] != accToken {
		t.Fatalf("EC2 login got roles %v, OS-OAUTH1 %v; want the delegation's reader", roles, tok["OS-OAUTH1"])
	}
	// Deleting the access token ends both.
	e.Must(http.StatusNoContent, "DELETE", "/v3/users/"+f.adminID+"/OS-OAUTH1/access_tokens/"+accToken, e.AdminToken, nil)
	if status, _, _ := ec2V2Login(e, e.AdminToken, "consumer-key", "consumer-secret"); status != http.StatusUnauthorized {
		t.Fatalf("EC2 login after the access token was deleted: %d, want 401", status)
	}
	if status, _, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": token}); status != http.StatusNotFound {
		t.Fatalf("EC2 token of a deleted access token validates: %d", status)
	}
}

// TestOAuth1TokenCannotManageDelegations: upstream's _block_delegated_token and
// _block_delegated_token_app_creds. A delegated token must not mint a lasting
// credential (an application credential) nor manage delegations.
func TestOAuth1TokenCannotManageDelegations(t *testing.T) {
	e := newTestEnv(t)
	f := newOAuth1Fixture(t, e)
	reqToken, reqSecret := f.requestToken(t, e, "HMAC-SHA1")
	verifier := f.authorize(t, e, reqToken, map[string]any{"name": "admin"})
	accToken, accSecret := f.accessToken(t, e, "HMAC-SHA1", reqToken, reqSecret, verifier)
	sg := f.signer("HMAC-SHA1")
	sg.token, sg.tokenSecret = accToken, accSecret
	_, oauthToken, _ := f.login(t, e, sg)
	ac := obj(e.Must(http.StatusCreated, "POST", "/v3/users/"+f.adminID+"/application_credentials", e.AdminToken,
		appCredBody(map[string]any{"name": "existing"})), "application_credential")
	demoAC := obj(e.Must(http.StatusCreated, "POST", "/v3/users/"+acUserID(e, e.DemoToken)+"/application_credentials", e.DemoToken,
		appCredBody(map[string]any{"name": "demo's"})), "application_credential")
	_, _, demoACToken := acLogin(e, map[string]any{"id": demoAC["id"], "secret": demoAC["secret"]})

	apps := "/v3/users/" + f.adminID + "/application_credentials"
	tokens := "/v3/users/" + f.adminID + "/OS-OAUTH1/access_tokens"
	extRunStatusCases(t, e, []extStatusCase{
		{"create an application credential", "POST", apps, oauthToken, appCredBody(map[string]any{"name": "backdoor"}), 403},
		{"list application credentials", "GET", apps, oauthToken, nil, 403},
		{"show an application credential", "GET", apps + "/" + ac["id"].(string), oauthToken, nil, 403},
		{"delete an application credential", "DELETE", apps + "/" + ac["id"].(string), oauthToken, nil, 403},
		{"list access rules", "GET", "/v3/users/" + f.adminID + "/access_rules", oauthToken, nil, 403},
		{"list access tokens", "GET", tokens, oauthToken, nil, 403},
		{"show its access token", "GET", tokens + "/" + accToken, oauthToken, nil, 403},
		{"delete its access token", "DELETE", tokens + "/" + accToken, oauthToken, nil, 403},
		{"an application credential lists access tokens", "GET", "/v3/users/" + acUserID(e, e.DemoToken) + "/OS-OAUTH1/access_tokens", demoACToken, nil, 403},
	})
}

// TestEC2TokensCannotAuthorizeIdentityCalls: as keystone's auth context
// middleware, a token from an EC2 login serves the other services only.
func TestEC2TokensCannotAuthorizeIdentityCalls(t *testing.T) {
	e := newTestEnv(t)
	demoID, demoProject := acUserID(e, e.DemoToken), extProjectID(e, e.DemoToken)
	c := obj(e.Must(http.StatusCreated, "POST", "/v3/users/"+demoID+"/credentials/OS-EC2", e.DemoToken,
		map[string]any{"tenant_id": demoProject}), "credential")
	status, _, token := ec2V2Login(e, e.AdminToken, c["access"].(string), c["secret"].(string))
	if status != http.StatusOK {
		t.Fatalf("EC2 login: %d", status)
	}
	extRunStatusCases(t, e, []extStatusCase{
		{"create an application credential", "POST", "/v3/users/" + demoID + "/application_credentials", token,
			appCredBody(map[string]any{"name": "from-ec2"}), 403},
		{"create a credential", "POST", "/v3/credentials", token, ec2CredentialBody(demoID, demoProject, "k", "s", nil), 403},
		{"read the project", "GET", "/v3/projects/" + demoProject, token, nil, 403},
	})
}
