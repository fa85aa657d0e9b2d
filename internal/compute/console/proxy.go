package console

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/unixsock"
)

// DefaultWebRoot is where Debian's novnc package installs the noVNC client.
const DefaultWebRoot = "/usr/share/novnc"

// DefaultPort is upstream's novncproxy_port.
const DefaultPort = 6080

// Options configure a Proxy.
type Options struct {
	// Tokens authorizes connections; required.
	Tokens Tokens
	// WebRoot holds the noVNC files; DefaultWebRoot when empty.
	WebRoot string
	// BaseURL is the public console URL (upstream's novncproxy_base_url, e.g.
	// http://host:6080/vnc_lite.html). When set, a browser's Origin scheme must match
	// it, as upstream checks against the token's access_url_base.
	BaseURL string
	// AllowedOrigins are hostnames a browser's Origin may name besides this host's
	// (upstream's [console] allowed_origins).
	AllowedOrigins []string
	// DialTimeout bounds connecting to the guest's VNC server; 5s when zero.
	DialTimeout time.Duration
	// Logger receives connection logs; slog.Default() when nil.
	Logger *slog.Logger
}

// Proxy is the console proxy's HTTP handler: noVNC's files, and the websocket relaying
// a consumed token's VNC target.
type Proxy struct {
	tokens   Tokens
	files    http.Handler
	base     *url.URL
	allowed  []string
	dialTime time.Duration
	log      *slog.Logger

	mu     sync.Mutex
	conns  map[*relay]struct{}
	closed bool
}

// NewProxy returns a Proxy; opts.Tokens must be set. A BaseURL that does not parse
// disables the scheme check rather than every console (and is logged).
func NewProxy(opts Options) *Proxy {
	p := &Proxy{
		tokens:   opts.Tokens,
		allowed:  opts.AllowedOrigins,
		dialTime: opts.DialTimeout,
		log:      opts.Logger,
		conns:    map[*relay]struct{}{},
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.dialTime <= 0 {
		p.dialTime = 5 * time.Second
	}
	root := opts.WebRoot
	if root == "" {
		root = DefaultWebRoot
	}
	p.files = http.FileServer(http.Dir(root))
	if opts.BaseURL != "" {
		if u, err := url.Parse(opts.BaseURL); err == nil && u.Scheme != "" {
			p.base = u
		} else {
			p.log.Warn("console: base URL does not parse; origin scheme not checked", "base_url", opts.BaseURL)
		}
	}
	return p
}

// ServeHTTP serves a websocket upgrade on any path (noVNC connects to "/?token=…",
// older clients to "/websockify?token=…"), and noVNC's files otherwise.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isUpgrade(r) {
		p.serveWebsocket(w, r)
		return
	}
	p.serveFiles(w, r)
}

// serveFiles serves the noVNC client, without directory listings: they would only show
// which noVNC version runs.
func (p *Proxy) serveFiles(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/") {
		http.NotFound(w, r)
		return
	}
	p.files.ServeHTTP(w, r)
}

// serveWebsocket authorizes, connects to the target, and only then upgrades, so a
// refused console is a plain HTTP status the client can show.
func (p *Proxy) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	log := p.log.With("remote", r.RemoteAddr)
	key, subprotocol, err := checkHandshake(r)
	if err != nil {
		var he *handshakeError
		status := http.StatusBadRequest
		if errors.As(err, &he) {
			status = he.status
		}
		if status == http.StatusUpgradeRequired {
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		log.Info("console: refused handshake", "err", err)
		http.Error(w, err.Error(), status)
		return
	}
	// Before consuming: a page from another site must not burn the user's token.
	if err := checkOrigin(r, p.allowed, p.base); err != nil {
		log.Warn("console: refused origin", "err", err)
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	token := requestToken(r)
	log = log.With("token", tokenPrefix(token))
	target, err := p.tokens.Consume(r.Context(), token)
	if errors.Is(err, ErrInvalidToken) {
		// Upstream's message, with the token masked as upstream does.
		log.Warn("console: the token is invalid or has expired")
		http.Error(w, "the token is invalid or has expired", http.StatusForbidden)
		return
	}
	if err != nil {
		log.Error("console: token lookup failed", "err", err)
		http.Error(w, "token lookup failed", http.StatusInternalServerError)
		return
	}
	log = log.With("target", target.String())
	tconn, err := p.dial(r, target)
	if err != nil {
		log.Error("console: cannot reach the guest's VNC server", "err", err)
		http.Error(w, "cannot reach the console", http.StatusBadGateway)
		return
	}
	conn, br, err := upgrade(w, key, subprotocol)
	if err != nil {
		tconn.Close()
		log.Error("console: upgrade failed", "err", err)
		if errors.Is(err, http.ErrNotSupported) {
			// HTTP/2 cannot be hijacked; the response is still ours to write.
			http.Error(w, "websocket needs HTTP/1.1", http.StatusHTTPVersionNotSupported)
		}
		return
	}
	rl := &relay{ws: newWSConn(conn, br, false), target: tconn, log: log}
	if !p.track(rl) {
		rl.ws.writeClose(closeGoingAway, "proxy shutting down")
		conn.Close()
		tconn.Close()
		return
	}
	defer p.untrack(rl)
	log.Info("console: connected")
	rl.run()
}

func (p *Proxy) dial(r *http.Request, t Target) (net.Conn, error) {
	network, addr, err := t.network()
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: p.dialTime}
	var c net.Conn
	if network == "unix" {
		c, err = unixsock.Dial(r.Context(), &d, addr) // an instance dir may be deep
	} else {
		c, err = d.DialContext(r.Context(), network, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s %s: %w", network, addr, err)
	}
	return c, nil
}

// requestToken takes the token from the query, or else from noVNC's "token" cookie, as
// upstream does.
func requestToken(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	if c, err := r.Cookie("token"); err == nil {
		return c.Value
	}
	return ""
}

// tokenPrefix is all of a token a log may hold: enough to match a user's report, far
// too little to use.
func tokenPrefix(t string) string {
	const n = 6
	if len(t) <= n {
		return strings.Repeat("*", len(t))
	}
	return t[:n] + "…"
}

func (p *Proxy) track(rl *relay) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[rl] = struct{}{}
	return true
}

func (p *Proxy) untrack(rl *relay) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, rl)
}

// Close ends every open console (http.Server.Shutdown does not see hijacked
// connections) and refuses new ones.
func (p *Proxy) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for rl := range p.conns {
		rl.stop()
	}
	return nil
}
