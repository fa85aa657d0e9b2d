// Package metadata is the metadata proxy of the data plane, as upstream's
// neutron-metadata-agent with the haproxy its L3 agent runs in each router
// namespace and its DHCP agent in the DHCP namespace of each network no router
// serves (enable_isolated_metadata, force_metadata): a guest asks
// http://169.254.169.254/ through its router, or through the DHCP port its DHCP
// lease routes that address to; the proxy identifies the instance by (router ID,
// source address) or (network ID, source address), forwards the request to the
// compute metadata API with upstream's headers (X-Forwarded-For, X-Instance-ID,
// X-Tenant-ID, X-Instance-ID-Signature, and X-Neutron-Router-ID or
// X-Neutron-Network-ID) and passes the answer back.
//
// There is no process per namespace: a listening socket bound to 169.254.169.254:80
// is opened inside each namespace (netns.Listen), served by goroutines of the agent,
// which forward from the agent's own namespace. The address is on lo of each
// qrouter- namespace (put there here) and on the ns- device of each qdhcp-
// namespace (put there by the DHCP part, as upstream's DHCP agent does). Converge is
// level-triggered like the other parts: after a restart it finds the addresses in
// place and only opens new listeners.
package metadata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/platform/netns"
)

// Address is where guests find the metadata service (and Port its port).
const (
	Address = "169.254.169.254"
	Port    = "80"
)

// Lookup finds the instance behind a request: the network service's
// MetadataInstance (a request that reached a router) and MetadataNetworkInstance
// (one that reached a network's DHCP namespace). "No such instance" is an
// *httpapi.Error with status 404.
type Lookup interface {
	MetadataInstance(ctx context.Context, routerID string, ip netip.Addr) (instanceID, projectID string, err error)
	MetadataNetworkInstance(ctx context.Context, networkID string, ip netip.Addr) (instanceID, projectID string, err error)
}

// Options configure a Proxy.
type Options struct {
	// Runner runs the ip commands that put the address on the namespaces' lo.
	Runner dataplane.Runner
	Lookup Lookup
	// MetadataURL is the compute metadata API requests go to, e.g.
	// http://127.0.0.1:8775 (upstream's nova_metadata_protocol, _host and _port); a
	// path in it prefixes the guests' paths.
	MetadataURL string
	// SharedSecret signs the instance IDs (upstream's metadata_proxy_shared_secret,
	// the same on both sides).
	SharedSecret string
	Log          *slog.Logger
	// Timeout bounds one forwarded request (default 60 s).
	Timeout time.Duration
}

// Proxy serves the metadata API in the router and DHCP namespaces of one host.
type Proxy struct {
	opts   Options
	base   *url.URL
	client *http.Client

	mu        sync.Mutex
	closed    bool
	listeners map[string]*listener // by namespace

	// Tests replace how a namespace is listened in and identified.
	listen    func(ns string) (net.Listener, error)
	namespace func(ns string) (nsID, error)
}

// listener is the serving socket of one namespace.
type listener struct {
	id   nsID
	at   target
	srv  *http.Server
	done chan struct{} // closed when Serve has returned
}

// nsID identifies one namespace (the nsfs inode its /run/netns handle is bound to),
// so a namespace deleted and made again under the same name is told apart.
type nsID struct{ dev, ino uint64 }

// New returns a proxy; it serves nothing before its first Converge.
func New(opts Options) (*Proxy, error) {
	if opts.Runner == nil || opts.Lookup == nil {
		return nil, errors.New("metadata proxy: Runner and Lookup are required")
	}
	base, err := url.Parse(opts.MetadataURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("metadata proxy: metadata URL %q is not an http(s) URL", opts.MetadataURL)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the compute metadata API is reached directly, whatever HTTP_PROXY says
	p := &Proxy{
		opts:      opts,
		base:      base,
		client:    &http.Client{Transport: tr, Timeout: opts.Timeout},
		listeners: map[string]*listener{},
		listen: func(ns string) (net.Listener, error) {
			return netns.Listen(ns, "tcp", net.JoinHostPort(Address, Port))
		},
		namespace: namespaceID,
	}
	if opts.SharedSecret == "" {
		p.log().Warn("metadata proxy without a shared secret: any host that can reach the compute metadata API can claim to be any instance")
	}
	return p, nil
}

// Name implements the network agent's Part.
func (p *Proxy) Name() string { return "metadata" }

// target is what a request reached: a router, or a network's DHCP namespace.
type target struct {
	router, network string // one of them
}

func (t target) String() string {
	if t.router != "" {
		return "router " + t.router
	}
	return "network " + t.network
}

// Converge serves every admin-up router of st whose namespace exists (the L3 part,
// which runs before, makes it): 169.254.169.254/32 on the namespace's lo, and a
// listener inside it; and every network whose DHCP namespace serves metadata
// (dataplane.DHCPMetadata) and exists with the address on its ns- device (the DHCP
// part, which runs before, makes both). Listeners of namespaces no longer served,
// gone, or made again, and those that stopped serving, are closed (and opened again
// where still wanted). It wires no ports.
func (p *Proxy) Converge(ctx context.Context, st dataplane.State) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("metadata proxy is closed")
	}
	nss, err := dataplane.Namespaces(ctx, p.opts.Runner)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	var errs []error
	for _, r := range st.Routers {
		ns := dataplane.RouterNamespace(r.ID)
		if !r.AdminStateUp || !nss[ns] {
			continue
		}
		want[ns] = true
		err := ensureAddress(ctx, p.opts.Runner, ns)
		if err == nil {
			err = p.serveIn(ns, target{router: r.ID})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("metadata for router %s: %w", r.ID, err))
		}
	}
	for _, n := range st.Networks {
		ns := dataplane.DHCPNamespace(n.ID)
		if !dataplane.DHCPMetadata(st.Host, n) || !nss[ns] {
			continue
		}
		want[ns] = true
		err := hasDHCPAddress(ctx, p.opts.Runner, ns)
		if err == nil {
			err = p.serveIn(ns, target{network: n.ID})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("metadata for network %s: %w", n.ID, err))
		}
	}
	for ns, l := range p.listeners {
		if !want[ns] {
			p.log().Info("metadata proxy stops serving", "target", l.at.String(), "netns", ns)
			p.stop(ns)
		}
	}
	return nil, errors.Join(errs...)
}

// serveIn makes sure a live listener for t serves in namespace ns (as it is now).
func (p *Proxy) serveIn(ns string, t target) error {
	id, err := p.namespace(ns)
	if err != nil {
		return err
	}
	if l := p.listeners[ns]; l != nil {
		select {
		case <-l.done:
			p.log().Warn("metadata listener stopped; opening it again", "target", t.String())
		default:
			if l.id == id && l.at == t {
				return nil
			}
			p.log().Info("namespace made again; metadata listener follows", "target", t.String(), "netns", ns)
		}
		p.stop(ns)
	}
	ln, err := p.listen(ns)
	if err != nil {
		return err
	}
	l := &listener{id: id, at: t, done: make(chan struct{}), srv: &http.Server{
		Handler:           p.handler(t),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(p.log().Handler(), slog.LevelDebug),
	}}
	p.listeners[ns] = l
	go func() {
		defer close(l.done)
		if err := l.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log().Warn("metadata listener", "target", t.String(), "error", err)
		}
	}()
	p.log().Info("metadata proxy serving", "target", t.String(), "netns", ns)
	return nil
}

// stop closes a namespace's listener and its connections and waits for it to stop
// serving (so the namespace is no longer held open). Called with p.mu held.
func (p *Proxy) stop(ns string) {
	l := p.listeners[ns]
	if l == nil {
		return
	}
	_ = l.srv.Close()
	<-l.done
	delete(p.listeners, ns)
}

// Serving lists the namespaces with a live listener.
func (p *Proxy) Serving() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for ns, l := range p.listeners {
		select {
		case <-l.done:
		default:
			out = append(out, ns)
		}
	}
	return out
}

// Close stops serving everywhere. The addresses stay: they are harmless, and a
// restarted agent finds them in place.
func (p *Proxy) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for ns := range p.listeners {
		p.stop(ns)
	}
	return nil
}

func (p *Proxy) log() *slog.Logger {
	if p.opts.Log == nil {
		return slog.Default()
	}
	return p.opts.Log
}

func namespaceID(ns string) (nsID, error) {
	fi, err := os.Stat(filepath.Join(netns.Dir, ns))
	if err != nil {
		return nsID{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nsID{}, fmt.Errorf("network namespace %s: no inode", ns)
	}
	return nsID{dev: uint64(st.Dev), ino: st.Ino}, nil
}
