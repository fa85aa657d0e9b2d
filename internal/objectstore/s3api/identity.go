package s3api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

// Identity checks a signed request as upstream's s3token middleware has
// keystone check it (POST /v3/s3tokens with the access key, the base64 of
// the string to sign and the signature), and answers the credentials of the
// EC2 credential's user on its project.
type Identity interface {
	CheckSignature(ctx context.Context, access, stringToSign, signature string) (*auth.Credentials, error)
}

// SecretReader is an Identity that can also read an EC2 credential's
// secret, as upstream's s3token does with secret_cache_duration: checking
// the chunk signatures of an aws-chunked body needs it.
type SecretReader interface {
	Secret(ctx context.Context, userID, access string) (string, error)
}

// ErrSignature is a signature identity refused (keystone's 401): a wrong
// secret, an unknown access key or a disabled user alike, as upstream tells
// them apart no more than keystone does.
var ErrSignature = errors.New("s3api: signature refused")

// KeystoneS3Tokens is Identity over identity's API, as upstream's s3token
// calls it: the proxy authenticates as a service user (s3tokens is for
// services and admins only) and keeps that token until shortly before it
// expires. It needs nothing but the identity URL and the service user's
// password, so a proxy running apart from identity can use it.
type KeystoneS3Tokens struct {
	// URL is identity's v3 endpoint, e.g. http://127.0.0.1:5000/v3.
	URL                             string
	Username, Password, ProjectName string
	UserDomainID, ProjectDomainID   string
	Client                          *http.Client

	mu      sync.Mutex
	token   string
	expires time.Time
}

var _ Identity = (*KeystoneS3Tokens)(nil)

// serviceTokenMargin renews the service token this long before it expires.
const serviceTokenMargin = 5 * time.Minute

func (k *KeystoneS3Tokens) client() *http.Client {
	if k.Client != nil {
		return k.Client
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// CheckSignature asks identity's s3tokens.
func (k *KeystoneS3Tokens) CheckSignature(ctx context.Context, access, stringToSign, signature string) (*auth.Credentials, error) {
	body, _ := json.Marshal(map[string]any{"credentials": map[string]string{
		"access":    access,
		"token":     base64.URLEncoding.EncodeToString([]byte(stringToSign)),
		"signature": signature,
	}})
	for attempt := 0; ; attempt++ {
		token, err := k.serviceToken(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(k.URL, "/")+"/s3tokens", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Auth-Token", token)
		resp, err := k.client().Do(req)
		if err != nil {
			return nil, fmt.Errorf("s3tokens: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("s3tokens: %w", err)
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			return credentialsFromToken(data)
		case resp.StatusCode == http.StatusForbidden && attempt == 0:
			continue // our token may have been revoked: authenticate again once
		case resp.StatusCode == http.StatusUnauthorized:
			return nil, ErrSignature
		default:
			return nil, fmt.Errorf("s3tokens: status %d", resp.StatusCode)
		}
	}
}

// Secret reads the credential's secret (GET
// /v3/users/{user}/credentials/OS-EC2/{access}) as the service user.
func (k *KeystoneS3Tokens) Secret(ctx context.Context, userID, access string) (string, error) {
	token, err := k.serviceToken(ctx, false)
	if err != nil {
		return "", err
	}
	u := strings.TrimSuffix(k.URL, "/") + "/users/" + url.PathEscape(userID) + "/credentials/OS-EC2/" + url.PathEscape(access)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-Auth-Token", token)
	resp, err := k.client().Do(req)
	if err != nil {
		return "", fmt.Errorf("ec2 credential: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Credential struct {
			Secret string `json:"secret"`
		} `json:"credential"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out) != nil ||
		out.Credential.Secret == "" {
		return "", fmt.Errorf("ec2 credential: status %d", resp.StatusCode)
	}
	return out.Credential.Secret, nil
}

// serviceToken is the service user's token, renewed when near expiry or when
// fresh is asked.
func (k *KeystoneS3Tokens) serviceToken(ctx context.Context, fresh bool) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !fresh && k.token != "" && time.Until(k.expires) > serviceTokenMargin {
		return k.token, nil
	}
	userDomain, projectDomain := k.UserDomainID, k.ProjectDomainID
	if userDomain == "" {
		userDomain = "default"
	}
	if projectDomain == "" {
		projectDomain = "default"
	}
	body, _ := json.Marshal(map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": k.Username, "password": k.Password, "domain": map[string]string{"id": userDomain}}}},
		"scope": map[string]any{"project": map[string]any{"name": k.ProjectName, "domain": map[string]string{"id": projectDomain}}},
	}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(k.URL, "/")+"/auth/tokens", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := k.client().Do(req)
	if err != nil {
		return "", fmt.Errorf("authenticate the object store at %s: %w", k.URL, err)
	}
	defer resp.Body.Close()
	var out struct {
		Token struct {
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"token"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out) != nil {
		return "", fmt.Errorf("authenticate the object store at %s: status %d", k.URL, resp.StatusCode)
	}
	k.token, k.expires = resp.Header.Get("X-Subject-Token"), out.Token.ExpiresAt
	return k.token, nil
}

// tokenBody is the part of identity's token body the proxy uses, as
// upstream's parse_v3_response reads it.
type tokenBody struct {
	Token struct {
		User struct {
			ID     string `json:"id"`
			Name   string `json:"name"`
			Domain struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"domain"`
		} `json:"user"`
		Project *struct {
			ID     string `json:"id"`
			Name   string `json:"name"`
			Domain struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"domain"`
		} `json:"project"`
		Roles []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"roles"`
		Methods   []string  `json:"methods"`
		AuditIDs  []string  `json:"audit_ids"`
		ExpiresAt time.Time `json:"expires_at"`
		IssuedAt  time.Time `json:"issued_at"`
		AppCred   *struct {
			ID          string            `json:"id"`
			AccessRules []auth.AccessRule `json:"access_rules"`
		} `json:"application_credential"`
	} `json:"token"`
}

// credentialsFromToken reads identity's token body; one without a project is
// refused, as s3token needs the tenant to name the account.
func credentialsFromToken(data []byte) (*auth.Credentials, error) {
	var t tokenBody
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("s3tokens: %w", err)
	}
	tok := t.Token
	if tok.Project == nil || tok.Project.ID == "" || tok.User.ID == "" {
		return nil, ErrSignature
	}
	c := &auth.Credentials{
		UserID: tok.User.ID, UserName: tok.User.Name, UserDomainID: tok.User.Domain.ID, UserDomainName: tok.User.Domain.Name,
		ProjectID: tok.Project.ID, ProjectName: tok.Project.Name, ProjectDomainID: tok.Project.Domain.ID,
		ProjectDomainNm: tok.Project.Domain.Name, Methods: tok.Methods, AuditIDs: tok.AuditIDs,
		IssuedAt: tok.IssuedAt, ExpiresAt: tok.ExpiresAt,
	}
	for _, r := range tok.Roles {
		c.Roles = append(c.Roles, auth.Role{ID: r.ID, Name: r.Name})
	}
	if tok.AppCred != nil {
		c.AppCredID, c.AccessRules = tok.AppCred.ID, tok.AppCred.AccessRules
	}
	return c, nil
}
