// Package proxy is Swift's proxy server: the v1 API clients call
// (/v1/AUTH_<project>/<container>/<object>), authorized as keystoneauth
// authorizes, and carried out on the storage nodes the rings name: writes to
// every replica, acknowledged by a majority (quorum), reads from the first
// replica that answers, handoff nodes standing in for failed primaries. It
// keeps no state of its own, so any number of proxies can serve one cluster.
package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

// Authenticator validates the token a request carries (auth.Validator).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*auth.Credentials, error)
}

// Rings are the cluster's three rings.
type Rings struct {
	Account, Container, Object *ring.Ring
	// ObjectPolicies are the object rings of the storage policies other
	// than Policy-0 (whose ring is Object), by index.
	ObjectPolicies map[int]*ring.Ring
}

// Options configure a proxy.
type Options struct {
	Rings  Rings
	Auth   Authenticator
	Logger *slog.Logger
	// IdentityURL is announced in WWW-Authenticate on 401, as keystonemiddleware does.
	IdentityURL string
	// TempAuth, when set, serves /auth/ and accepts its AUTH_ tokens.
	TempAuth *TempAuth
	// OperatorRoles own their project's account (keystoneauth operator_roles);
	// ReaderRoles may read it (project_reader_roles); ResellerAdminRole owns
	// every account (reseller_admin_role).
	OperatorRoles     []string
	ReaderRoles       []string
	ResellerAdminRole string
	// Client reaches the storage nodes; nil: one with upstream's timeouts.
	Client *http.Client
	// AllowAccountManagement lets a reseller admin delete accounts
	// (upstream's allow_account_management; the account reaper empties them).
	AllowAccountManagement bool
	// MiddlewareInfo is what middleware in front of the proxy adds to /info
	// (upstream's register_swift_info), e.g. "s3api".
	MiddlewareInfo map[string]any
}

// Proxy is the object-store API.
type Proxy struct {
	// quotaFree remembers accounts without quotas (accountquota.go)
	quotaFree quotaFreeAccounts

	opts    Options
	log     *slog.Logger
	client  *http.Client
	limiter *errorLimiter
	// policies caches each container's storage policy (policy.go)
	policies policyCache
	// tasks remembers the expirer's task containers it made (expirer.go)
	tasks taskContainers
}

// New returns a proxy over the rings.
func New(o Options) *Proxy {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if len(o.OperatorRoles) == 0 {
		o.OperatorRoles = []string{"admin", "member"}
	}
	if len(o.ReaderRoles) == 0 {
		o.ReaderRoles = []string{"reader"}
	}
	if o.ResellerAdminRole == "" {
		o.ResellerAdminRole = "ResellerAdmin"
	}
	client := o.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			// upstream's conn_timeout (0.5s) and node_timeout (10s), a little wider
			DialContext:           (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			ResponseHeaderTimeout: 30 * time.Second,
			ExpectContinueTimeout: 10 * time.Second,
			MaxIdleConnsPerHost:   64,
		}}
	}
	return &Proxy{opts: o, log: o.Logger, client: client, limiter: newErrorLimiter()}
}

// CloseIdleConnections closes the proxy's idle connections to the storage
// nodes, so a node shutting down is not kept waiting on them.
func (p *Proxy) CloseIdleConnections() { p.client.CloseIdleConnections() }

// request is one client request as the controllers see it.
type request struct {
	w         http.ResponseWriter
	r         *http.Request
	transID   string
	version   string
	account   string
	container string
	object    string
	creds     *auth.Credentials
	owner     bool // keystoneauth's swift_owner
	// tempURLExpires is set when a temp URL authorized the request.
	tempURLExpires int64
	// tempAuthGroups are a tempauth user's groups; resellerAdmin is
	// upstream's reseller_request.
	tempAuthGroups []string
	resellerAdmin  bool
}

// Handler is the proxy's HTTP handler.
func (p *Proxy) Handler() http.Handler {
	return http.HandlerFunc(p.serve)
}

func newTransID() string {
	var b [11]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("tx%s-%010x", hex.EncodeToString(b[:]), time.Now().Unix())
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := newTransID()
	w.Header().Set("X-Trans-Id", id)
	w.Header().Set("X-Openstack-Request-Id", id)
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("object-store proxy panic", "method", r.Method, "path", r.URL.EscapedPath(), "panic", v)
			if !rec.wrote {
				swob.Error(rec, http.StatusInternalServerError)
			}
		}
		p.log.Debug("object-store request", "method", r.Method, "path", r.URL.EscapedPath(), "status", rec.status,
			"trans_id", id, "duration", time.Since(start))
	}()
	p.dispatch(rec, r, id)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.status, s.wrote = http.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (p *Proxy) dispatch(w http.ResponseWriter, r *http.Request, id string) {
	if len(r.RequestURI) > MaxRequestLine {
		swob.Error(w, http.StatusRequestURITooLong)
		return
	}
	path := r.URL.Path
	switch path {
	case "/healthcheck":
		swob.Write(w, http.StatusOK, "text/plain", "OK")
		return
	case "/info":
		p.info(w, r)
		return
	}
	if p.opts.TempAuth != nil && isTempAuthPath(path) {
		p.serveTempAuth(w, r)
		return
	}
	if !validName(path) {
		swob.Text(w, http.StatusPreconditionFailed, "Invalid UTF8 or contains NULL")
		return
	}
	req := &request{w: w, r: r, transID: id}
	// split_path(path, 1, 4, rest_with_last=True): /version/account/container/object
	segs := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 4)
	if !strings.HasPrefix(path, "/") || segs[0] == "" {
		swob.Error(w, http.StatusNotFound)
		return
	}
	req.version = segs[0]
	if len(segs) > 1 {
		req.account = segs[1]
	}
	if len(segs) > 2 {
		req.container = segs[2]
	}
	if len(segs) > 3 {
		req.object = segs[3]
	}
	// empty segments before the last are an invalid path (404), an empty
	// last one ("/v1/a/") is no segment at all
	switch {
	case len(segs) == 2 && req.account == "",
		len(segs) == 3 && req.account == "",
		len(segs) == 4 && (req.account == "" || req.container == ""):
		swob.Error(w, http.StatusNotFound)
		return
	}
	if req.version != "v1" && req.version != "v1.0" {
		swob.Error(w, http.StatusBadRequest)
		return
	}
	if req.account == "" {
		swob.Error(w, http.StatusNotFound)
		return
	}
	if p.cors(req) || p.staticWeb(req) || p.formPost(req) || p.extractArchive(req) {
		return
	}
	// COPY is authorized as what it stands for: a GET of the source and a
	// PUT of the destination (objectCopyVerb)
	switch {
	case isBulkDelete(r, req):
		// as upstream's bulk middleware sits before auth: every delete it
		// makes is authorized on its own
		p.bulkDelete(req)
		return
	case isTempURL(r) && r.Method != http.MethodOptions:
		if !p.authorizeTempURL(req) {
			return
		}
	case r.Method == "COPY" && req.object != "":
	default:
		if !p.authorize(req) {
			return
		}
	}
	switch {
	case req.object != "":
		p.objectRequest(req)
	case req.container != "":
		p.containerRequest(req)
	default:
		p.accountRequest(req)
	}
}

// info is GET /info: the cluster's capabilities, with upstream's keys, and
// only what Nimbus implements.
func (p *Proxy) info(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		swob.Error(w, http.StatusMethodNotAllowed)
		return
	}
	body := map[string]any{
		"swift": map[string]any{
			"version":                   UpstreamVersion,
			"max_file_size":             MaxFileSize,
			"max_meta_name_length":      MaxMetaNameLength,
			"max_meta_value_length":     MaxMetaValueLength,
			"max_meta_count":            MaxMetaCount,
			"max_meta_overall_size":     MaxMetaOverallSize,
			"max_header_size":           MaxHeaderSize,
			"max_request_line":          MaxRequestLine,
			"max_object_name_length":    MaxObjectNameLength,
			"container_listing_limit":   ListingLimit,
			"account_listing_limit":     ListingLimit,
			"max_account_name_length":   MaxAccountNameLength,
			"max_container_name_length": MaxContainerNameLength,
			"valid_api_versions":        []string{"v1", "v1.0"},
			"extra_header_count":        0,
			"allow_account_management":  p.opts.AllowAccountManagement,
			"account_autocreate":        true,
			"policies":                  p.policiesInfo(),
		},
		"container_quotas": map[string]any{},
		"bulk_delete":      map[string]any{"max_deletes_per_request": maxDeletesPerRequest, "max_failed_deletes": maxFailedDeletes},
		"tempurl": map[string]any{
			"methods":                 tempURLMethods,
			"allowed_digests":         []string{"sha1", "sha256", "sha512"},
			"deprecated_digests":      []string{"sha1"},
			"incoming_remove_headers": []string{"x-timestamp", "x-open-expired"},
			"incoming_allow_headers":  []string{},
			"outgoing_remove_headers": []string{"x-object-meta-*"},
			"outgoing_allow_headers":  []string{"x-object-meta-public-*"},
		},
	}
	maps.Copy(body, p.opts.MiddlewareInfo)
	p.authInfo(body)
	for k, v := range objectMiddlewareInfo() {
		body[k] = v
	}
	data, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusOK)
		return
	}
	swob.Write(w, http.StatusOK, "application/json; charset=UTF-8", string(data))
}
