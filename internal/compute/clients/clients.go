// Package clients are the image and network services as the compute service
// calls them: over their REST APIs with gophercloud, as upstream Nova calls
// Glance and Neutron, whether they run in the same process or not. Calls made
// for a user carry the user's token (so the other service's visibility rules
// apply); the others use the compute service's own credentials.
package clients

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Credentials are the compute service's own (upstream's [neutron] and
// [glance] sections' service user).
type Credentials struct {
	IdentityURL string // http://host:5000/v3
	Username    string
	Password    string
	ProjectName string
	DomainID    string
}

// endpoint is one service reached for a user (their token) or for compute.
type endpoint struct {
	url   string // ends with /
	creds Credentials

	mu      sync.Mutex
	service *gophercloud.ServiceClient
}

func newEndpoint(creds Credentials, url string) *endpoint {
	return &endpoint{url: strings.TrimSuffix(url, "/") + "/", creds: creds}
}

// own is compute's service client, authenticated on first use (the identity
// API may not serve yet when the services are wired) and again when its token
// expires.
func (e *endpoint) own(ctx context.Context) (*gophercloud.ServiceClient, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.service != nil {
		return e.service, nil
	}
	domain := e.creds.DomainID
	if domain == "" {
		domain = "default"
	}
	provider, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{
		IdentityEndpoint: e.creds.IdentityURL, Username: e.creds.Username, Password: e.creds.Password,
		DomainID: domain, AllowReauth: true,
		Scope: &gophercloud.AuthScope{ProjectName: e.creds.ProjectName, DomainID: domain},
	})
	if err != nil {
		return nil, fmt.Errorf("authenticate the compute service at %s: %w", e.creds.IdentityURL, err)
	}
	e.service = &gophercloud.ServiceClient{ProviderClient: provider, Endpoint: e.url}
	return e.service, nil
}

// as is the client for a call: the user's token, or compute's own when token is "".
// A call for a user also carries compute's own token in X-Service-Token, as
// upstream Nova sends with [service_user] send_service_user_token: it tells the
// other service that compute acts for the user, so that the user's application
// credential access rules, which name compute's API, do not refuse it.
func (e *endpoint) as(ctx context.Context, token string) (*gophercloud.ServiceClient, error) {
	if token == "" {
		return e.own(ctx)
	}
	provider := &gophercloud.ProviderClient{HTTPClient: http.Client{}}
	provider.SetToken(token)
	sc := &gophercloud.ServiceClient{ProviderClient: provider, Endpoint: e.url}
	if service := e.serviceToken(ctx); service != "" {
		sc.MoreHeaders = map[string]string{"X-Service-Token": service}
	}
	return sc, nil
}

// serviceToken is compute's own token, renewed when it is about to expire (a
// stale one would fail the user's call). Without one (identity unreachable) the
// call goes with the user's token alone, as before service tokens.
func (e *endpoint) serviceToken(ctx context.Context) string {
	own, err := e.own(ctx)
	if err != nil {
		return ""
	}
	provider := own.ProviderClient
	if r, ok := provider.GetAuthResult().(tokens.CreateResult); ok {
		if t, err := r.ExtractToken(); err == nil && time.Until(t.ExpiresAt) < serviceTokenMargin {
			if err := provider.Reauthenticate(ctx, provider.Token()); err != nil {
				return ""
			}
		}
	}
	return provider.Token()
}

// serviceTokenMargin renews compute's token this long before it expires, so that
// it outlives the call it is sent with.
const serviceTokenMargin = 5 * time.Minute

// get decodes GET path (relative to the endpoint) into out, as token's bearer.
func (e *endpoint) get(ctx context.Context, token, path string, out any) error {
	sc, err := e.as(ctx, token)
	if err != nil {
		return err
	}
	_, err = sc.Get(ctx, e.url+path, out, &gophercloud.RequestOpts{OkCodes: []int{http.StatusOK}})
	return apiError(err)
}

// send is a POST or PUT of body as token's bearer (compute for ""), decoding
// the answer into out.
func (e *endpoint) send(ctx context.Context, token, method, path string, body, out any, ok int) error {
	sc, err := e.as(ctx, token)
	if err != nil {
		return err
	}
	opts := &gophercloud.RequestOpts{OkCodes: []int{ok}}
	if method == http.MethodPost {
		_, err = sc.Post(ctx, e.url+path, body, out, opts)
	} else {
		_, err = sc.Put(ctx, e.url+path, body, out, opts)
	}
	return apiError(err)
}

// remove is a DELETE as token's bearer (compute for "").
func (e *endpoint) remove(ctx context.Context, token, path string) error {
	sc, err := e.as(ctx, token)
	if err != nil {
		return err
	}
	_, err = sc.Delete(ctx, e.url+path, nil)
	return apiError(err)
}

// apiError turns gophercloud's unexpected status into the *httpapi.Error the
// compute service maps (a 404 stays a 404), with the other service's message.
func apiError(err error) error {
	if err == nil {
		return nil
	}
	var unexpected gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &unexpected) {
		return &httpapi.Error{Status: unexpected.Actual, Message: message(unexpected.Body)}
	}
	return err
}

// message digs the human text out of an OpenStack error body.
func message(body []byte) string {
	s := strings.TrimSpace(string(body))
	for _, key := range []string{`"message": "`, `"message":"`} {
		if i := strings.Index(s, key); i >= 0 {
			rest := s[i+len(key):]
			if j := strings.Index(rest, `"`); j >= 0 {
				return rest[:j]
			}
		}
	}
	return s
}
