package console

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
)

// checkOrigin is upstream's Origin check (nova/console/websocketproxy.py): a browser's
// Origin must name this host (the Host header's hostname) or one of the allowed
// origins, so another site's page cannot drive a user's console. No Origin header
// means a non-browser client, which is allowed. When base is set, the origin's scheme
// (or X-Forwarded-Proto, behind a TLS-terminating proxy) must match base's.
func checkOrigin(r *http.Request, allowed []string, base *url.URL) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	o, err := url.Parse(origin)
	if err != nil || o.Hostname() == "" || o.Scheme == "" {
		return fmt.Errorf("origin header %q not valid", origin)
	}
	scheme := o.Scheme
	if fp := r.Header.Get("X-Forwarded-Proto"); fp != "" {
		scheme = fp
	}
	if o.Hostname() != hostname(r.Host) && !slices.Contains(allowed, o.Hostname()) {
		return fmt.Errorf("origin %q does not match this host %q", origin, r.Host)
	}
	if base != nil && scheme != base.Scheme {
		return fmt.Errorf("origin scheme %q does not match %q", scheme, base.Scheme)
	}
	return nil
}

// hostname strips the port and IPv6 brackets from a Host header.
func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	if len(hostport) > 1 && hostport[0] == '[' && hostport[len(hostport)-1] == ']' {
		return hostport[1 : len(hostport)-1]
	}
	return hostport
}
