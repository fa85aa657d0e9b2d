package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// loginClient bounds a login: an identity service that does not answer must not
// hold an upload forever.
var loginClient = &http.Client{Timeout: 30 * time.Second}

// KeystonePasswordAuth logs in to identity (v3 password, scoped to project, all
// in the default domain) and takes the catalog's public object-store endpoint:
// the image service's own account, as glance_store's single-tenant store logs in
// with swift_store_auth_address, swift_store_user and swift_store_key.
func KeystonePasswordAuth(identityURL, username, password, project string) SwiftAuth {
	return func(ctx context.Context) (string, string, time.Time, error) {
		body, _ := json.Marshal(map[string]any{"auth": map[string]any{
			"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
				"user": map[string]any{"name": username, "password": password, "domain": map[string]string{"id": "default"}}}},
			"scope": map[string]any{"project": map[string]any{"name": project, "domain": map[string]string{"id": "default"}}},
		}})
		url := strings.TrimSuffix(identityURL, "/")
		if !strings.HasSuffix(url, "/v3") {
			url += "/v3"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/auth/tokens", bytes.NewReader(body))
		if err != nil {
			return "", "", time.Time{}, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := loginClient.Do(req)
		if err != nil {
			return "", "", time.Time{}, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return "", "", time.Time{}, err
		}
		if resp.StatusCode != http.StatusCreated {
			return "", "", time.Time{}, fmt.Errorf("identity login as %s: %d", username, resp.StatusCode)
		}
		var doc struct {
			Token struct {
				ExpiresAt time.Time `json:"expires_at"`
				Catalog   []struct {
					Type      string `json:"type"`
					Endpoints []struct {
						Interface string `json:"interface"`
						URL       string `json:"url"`
					} `json:"endpoints"`
				} `json:"catalog"`
			} `json:"token"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return "", "", time.Time{}, fmt.Errorf("identity login: %w", err)
		}
		for _, svc := range doc.Token.Catalog {
			for _, e := range svc.Endpoints {
				if svc.Type == "object-store" && e.Interface == "public" {
					return resp.Header.Get("X-Subject-Token"), e.URL, doc.Token.ExpiresAt, nil
				}
			}
		}
		return "", "", time.Time{}, fmt.Errorf("the catalog has no public object-store endpoint")
	}
}
