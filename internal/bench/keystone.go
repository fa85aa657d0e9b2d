package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// keystone is a minimal Keystone v3 client tuned for load: keep-alive connections,
// enough idle connections for every worker, bodies drained so connections are reused.
type keystone struct {
	base   string // .../v3
	client *http.Client
}

func newKeystone(base string, concurrency int, timeout time.Duration) *keystone {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	tr := &http.Transport{
		Proxy:               nil, // never through a proxy: the target is this machine
		DialContext:         dialer.DialContext,
		MaxIdleConns:        2 * concurrency,
		MaxIdleConnsPerHost: 2 * concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &keystone{base: base, client: &http.Client{Transport: tr, Timeout: timeout}}
}

// loopbackOnly is the dialer's last word on the target: whatever a name resolved to,
// only loopback addresses are dialled.
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing to connect to %s: not a loopback address", address)
	}
	return nil
}

func (k *keystone) close() { k.client.CloseIdleConnections() }

// request sends one request and drains the response; it fails unless the status is want.
func (k *keystone) request(ctx context.Context, method, path string, body []byte, hdr map[string]string, want int) (http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, k.base+path, rd)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for name, v := range hdr {
		req.Header.Set(name, v)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != want {
		return nil, nil, fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, snippet(data))
	}
	return resp.Header, data, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// issue posts an auth request and returns the new token.
func (k *keystone) issue(ctx context.Context, body []byte, nocatalog bool) (string, error) {
	path := "/auth/tokens"
	if nocatalog {
		path += "?nocatalog"
	}
	hdr, _, err := k.request(ctx, http.MethodPost, path, body, nil, http.StatusCreated)
	if err != nil {
		return "", err
	}
	tok := hdr.Get("X-Subject-Token")
	if tok == "" {
		return "", fmt.Errorf("POST %s: no X-Subject-Token", path)
	}
	return tok, nil
}

// validate checks subject with the caller's token; the body is read and dropped.
func (k *keystone) validate(ctx context.Context, authToken, subject string, nocatalog bool) ([]byte, error) {
	path := "/auth/tokens"
	if nocatalog {
		path += "?nocatalog"
	}
	_, body, err := k.request(ctx, http.MethodGet, path, nil,
		map[string]string{"X-Auth-Token": authToken, "X-Subject-Token": subject}, http.StatusOK)
	return body, err
}

// serviceLogin logs in to c's cloud (loopback only) with a project-scoped password
// token and returns the token, the public endpoint of serviceType from its catalog
// and the id of the token's project.
func serviceLogin(ctx context.Context, c Credentials, serviceType string) (token, endpoint, projectID string, err error) {
	if err := CheckLoopback(ctx, c.AuthURL); err != nil {
		return "", "", "", err
	}
	base, err := identityBase(c.AuthURL)
	if err != nil {
		return "", "", "", err
	}
	ks := newKeystone(base, 1, time.Minute)
	defer ks.close()
	hdr, body, err := ks.request(ctx, http.MethodPost, "/auth/tokens", passwordBody(c, true), nil, http.StatusCreated)
	if err != nil {
		return "", "", "", fmt.Errorf("login: %w", err)
	}
	if endpoint, err = publicEndpoint(body, serviceType); err != nil {
		return "", "", "", err
	}
	var doc struct {
		Token struct{ Project struct{ ID string } }
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", "", "", err
	}
	return hdr.Get("X-Subject-Token"), endpoint, doc.Token.Project.ID, nil
}

// domainRef names a domain by id, else by name, else as the default domain.
func domainRef(id, name string) map[string]any {
	switch {
	case id != "":
		return map[string]any{"id": id}
	case name != "":
		return map[string]any{"name": name}
	default:
		return map[string]any{"id": "default"}
	}
}

// passwordBody is a password login, project-scoped unless scoped is false.
func passwordBody(c Credentials, scoped bool) []byte {
	a := map[string]any{"identity": map[string]any{
		"methods": []string{"password"},
		"password": map[string]any{"user": map[string]any{
			"name": c.Username, "password": c.Password, "domain": domainRef(c.UserDomainID, c.UserDomainName),
		}},
	}}
	if scoped {
		a["scope"] = projectScope(c)
	}
	return mustJSON(map[string]any{"auth": a})
}

// tokenBody re-scopes token to the project with the token method.
func tokenBody(c Credentials, token string) []byte {
	return mustJSON(map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"token"}, "token": map[string]any{"id": token}},
		"scope":    projectScope(c),
	}})
}

func projectScope(c Credentials) map[string]any {
	if c.ProjectID != "" {
		return map[string]any{"project": map[string]any{"id": c.ProjectID}}
	}
	return map[string]any{"project": map[string]any{
		"name": c.ProjectName, "domain": domainRef(c.ProjectDomainID, c.ProjectDomainName),
	}}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
