package volume

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/volume/backup"
)

// ServiceClient is the other services as the volume service calls them over
// their HTTP APIs: Images (Glance v2) and ComputeEvents (Nova's external
// events). Calls with a token act as its user; calls with token "" use the
// volume service's own token, from a password login to identity as
// upstream's service user.
type ServiceClient struct {
	URL         string // the image API's endpoint, e.g. http://127.0.0.1:9292
	IdentityURL string // http://host:5000/v3
	Username    string
	Password    string
	ProjectName string
	HTTP        *http.Client
	// Access, when set, hands out the service's token instead of a login
	// here: a volume host's, which keeps no credentials, asks the API's
	// over the bus (BusServiceAccess). URL "" is then the catalog's image.
	Access func(ctx context.Context) (ServiceAccess, error)

	mu      sync.Mutex
	token   string
	expires time.Time
	// catalog is the login's service catalog: type → public URL
	catalog map[string]string
}

var _ Images = (*ServiceClient)(nil)

// APIError is an image API answer other than success.
type APIError struct {
	Status int
	Body   string
}

func (e *APIError) Error() string { return fmt.Sprintf("image API: %d %s", e.Status, e.Body) }

func (c *ServiceClient) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// ownToken logs in (again when the token is about to expire).
func (c *ServiceClient) ownToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && time.Until(c.expires) > time.Minute {
		return c.token, nil
	}
	if c.Access != nil {
		a, err := c.Access(ctx)
		if err != nil {
			return "", fmt.Errorf("the volume service's token: %w", err)
		}
		c.token, c.expires, c.catalog = a.Token, a.Expires, a.Catalog
		if c.URL == "" {
			c.URL = a.Catalog["image"]
		}
		return c.token, nil
	}
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": c.Username, "password": c.Password, "domain": map[string]any{"id": "default"}}}},
		"scope": map[string]any{"project": map[string]any{"name": c.ProjectName, "domain": map[string]any{"id": "default"}}},
	}}
	data, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(c.IdentityURL, "/")+"/auth/tokens", bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return "", fmt.Errorf("volume service login: %d %s", resp.StatusCode, b)
	}
	var out struct {
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
	_ = json.NewDecoder(resp.Body).Decode(&out)
	c.token, c.expires = resp.Header.Get("X-Subject-Token"), out.Token.ExpiresAt
	c.catalog = map[string]string{}
	for _, svc := range out.Token.Catalog {
		for _, ep := range svc.Endpoints {
			if ep.Interface == "public" {
				c.catalog[svc.Type] = ep.URL
			}
		}
	}
	if c.expires.IsZero() {
		c.expires = time.Now().Add(time.Hour)
	}
	return c.token, nil
}

func (c *ServiceClient) do(ctx context.Context, token, method, path string, body io.Reader, contentType string, size int64) (*http.Response, error) {
	if token == "" {
		t, err := c.ownToken(ctx)
		if err != nil {
			return nil, err
		}
		token = t
	}
	c.mu.Lock()
	base := c.URL // filled from the catalog under mu with Access
	c.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(base, "/")+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Auth-Token", token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if size > 0 {
		req.ContentLength = size
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, &APIError{Status: resp.StatusCode, Body: string(b)}
	}
	return resp, nil
}

func (c *ServiceClient) Get(ctx context.Context, token, imageID string) (map[string]any, error) {
	resp, err := c.do(ctx, token, "GET", "/v2/images/"+url.PathEscape(imageID), nil, "", 0)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

func (c *ServiceClient) Download(ctx context.Context, token, imageID string) (io.ReadCloser, error) {
	resp, err := c.do(ctx, token, "GET", "/v2/images/"+url.PathEscape(imageID)+"/file", nil, "", 0)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (c *ServiceClient) Create(ctx context.Context, token string, fields map[string]any) (map[string]any, error) {
	data, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, token, "POST", "/v2/images", bytes.NewReader(data), "application/json", 0)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

func (c *ServiceClient) Upload(ctx context.Context, token, imageID string, data io.Reader, size int64) error {
	resp, err := c.do(ctx, token, "PUT", "/v2/images/"+url.PathEscape(imageID)+"/file", data, "application/octet-stream", size)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// VolumeExtended tells compute that in-use volumes grew, as upstream's
// volume manager does after an online extend (nova.extend_volume: the
// server external event volume-extended, compute 2.51), so the hypervisor
// resizes the disk the guest sees. Compute is found in the service's
// catalog; without one there is nobody to tell.
func (c *ServiceClient) VolumeExtended(ctx context.Context, volumeID string, servers []string) error {
	if len(servers) == 0 {
		return nil
	}
	token, err := c.ownToken(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	computeURL := c.catalog["compute"]
	c.mu.Unlock()
	if computeURL == "" {
		return nil
	}
	events := make([]map[string]any, 0, len(servers))
	for _, s := range servers {
		events = append(events, map[string]any{"name": "volume-extended", "server_uuid": s, "tag": volumeID})
	}
	data, _ := json.Marshal(map[string]any{"events": events})
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(computeURL, "/")+"/os-server-external-events", bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("OpenStack-API-Version", "compute 2.51")
	resp, err := c.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusMultiStatus {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("compute external events: %d %s", resp.StatusCode, b)
	}
	return nil
}

// ObjectStoreAuth is the volume service's own token and its project's
// object-store account, where backups go with backup_swift_auth =
// single_user.
func (c *ServiceClient) ObjectStoreAuth(ctx context.Context) (backup.Auth, error) {
	token, err := c.ownToken(ctx)
	if err != nil {
		return backup.Auth{}, err
	}
	c.mu.Lock()
	url := c.catalog["object-store"]
	c.mu.Unlock()
	if url == "" {
		return backup.Auth{}, fmt.Errorf("the catalog has no object-store endpoint for backups")
	}
	return backup.Auth{Token: token, StorageURL: url}, nil
}

// ServiceAccess is the volume service's token, its expiry and its catalog
// (type → public URL), as a volume host gets them from the API's process.
type ServiceAccess struct {
	Token   string            `json:"token"`
	Expires time.Time         `json:"expires"`
	Catalog map[string]string `json:"catalog"`
}

// ServiceAccess is this client's own token and catalog (logging in when
// needed), for the volume hosts.
func (c *ServiceClient) ServiceAccess(ctx context.Context) (ServiceAccess, error) {
	token, err := c.ownToken(ctx)
	if err != nil {
		return ServiceAccess{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	catalog := make(map[string]string, len(c.catalog))
	for k, v := range c.catalog {
		catalog[k] = v
	}
	return ServiceAccess{Token: token, Expires: c.expires, Catalog: catalog}, nil
}
