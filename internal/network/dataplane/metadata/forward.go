package metadata

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Headers the proxy sets on what it forwards (upstream's names). A guest's own
// headers are never passed on, so it cannot claim another identity.
const (
	HeaderForwardedFor = "X-Forwarded-For"
	HeaderInstanceID   = "X-Instance-ID"
	HeaderTenantID     = "X-Tenant-ID"
	HeaderSignature    = "X-Instance-ID-Signature"
	HeaderRouterID     = "X-Neutron-Router-ID"
	HeaderNetworkID    = "X-Neutron-Network-ID"
)

// Explanations of upstream's error answers (neutron/agent/metadata/agent.py).
const (
	msgUnknownError   = "An unknown error has occurred. Please try your request again."
	msgRemoteInternal = "Remote metadata server experienced an internal server error."
)

// handler serves the metadata requests that reach one router or DHCP namespace.
func (p *Proxy) handler(t target) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serve(w, r, t) })
}

// serve identifies the instance by (router or network, source address) and forwards
// the request to the compute metadata API, as upstream's haproxy and metadata agent
// together do.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, t target) {
	log := p.log().With("target", t.String(), "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip, perr := netip.ParseAddr(host)
	if err != nil || perr != nil {
		log.Warn("metadata request from an unparsable address")
		writeError(w, http.StatusInternalServerError, msgUnknownError)
		return
	}
	ip = ip.Unmap()
	var instanceID, projectID string
	if t.router != "" {
		instanceID, projectID, err = p.opts.Lookup.MetadataInstance(r.Context(), t.router, ip)
	} else {
		instanceID, projectID, err = p.opts.Lookup.MetadataNetworkInstance(r.Context(), t.network, ip)
	}
	if err != nil {
		if httpapi.IsStatus(err, http.StatusNotFound) {
			// As upstream: no port, or more than one, is a plain 404.
			log.Debug("metadata request from an unknown address", "error", err)
			writeError(w, http.StatusNotFound, "")
			return
		}
		log.Warn("metadata instance lookup", "error", err)
		writeError(w, http.StatusInternalServerError, msgUnknownError)
		return
	}
	u := *p.base
	u.Path = strings.TrimSuffix(p.base.Path, "/") + r.URL.Path
	u.RawPath = strings.TrimSuffix(p.base.EscapedPath(), "/") + r.URL.EscapedPath()
	u.RawQuery = r.URL.RawQuery
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), r.Body)
	if err != nil {
		log.Warn("metadata request", "error", err)
		writeError(w, http.StatusInternalServerError, msgUnknownError)
		return
	}
	req.ContentLength = r.ContentLength
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set(HeaderForwardedFor, ip.String())
	req.Header.Set(HeaderInstanceID, instanceID)
	req.Header.Set(HeaderTenantID, projectID)
	req.Header.Set(HeaderSignature, Sign(p.opts.SharedSecret, instanceID))
	// As upstream's haproxy: the router or the network the request reached.
	if t.router != "" {
		req.Header.Set(HeaderRouterID, t.router)
	} else {
		req.Header.Set(HeaderNetworkID, t.network)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		log.Warn("metadata request to the compute metadata API", "url", u.Redacted(), "error", err)
		writeError(w, http.StatusInternalServerError, msgUnknownError)
		return
	}
	defer resp.Body.Close()
	log = log.With("instance", instanceID, "status", resp.StatusCode)
	// Upstream passes on only 200's content type and body and maps the other
	// statuses to its own answers.
	switch resp.StatusCode {
	case http.StatusOK:
		log.Debug("metadata request forwarded")
		if ct := resp.Header.Get("Content-Type"); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(http.StatusOK)
		if _, err := io.Copy(w, resp.Body); err != nil {
			log.Debug("metadata answer cut short", "error", err)
		}
	case http.StatusForbidden:
		log.Warn("The remote metadata server responded with Forbidden. This response usually occurs when shared secrets do not match.")
		writeError(w, http.StatusForbidden, "")
	case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict:
		writeError(w, resp.StatusCode, "")
	case http.StatusInternalServerError:
		log.Warn(msgRemoteInternal)
		writeError(w, http.StatusInternalServerError, msgRemoteInternal)
	default:
		log.Warn(fmt.Sprintf("Unexpected response code: %d", resp.StatusCode))
		writeError(w, http.StatusInternalServerError, msgUnknownError)
	}
}

// explanations are webob's default texts of the statuses upstream answers with.
var explanations = map[int]string{
	http.StatusBadRequest:          "The server could not comply with the request since it is either malformed or otherwise incorrect.",
	http.StatusForbidden:           "Access was denied to this resource.",
	http.StatusNotFound:            "The resource could not be found.",
	http.StatusConflict:            "There was a conflict when trying to complete your request.",
	http.StatusInternalServerError: "The server has either erred or is incapable of performing the requested operation.",
}

// writeError answers as upstream's webob exceptions do in plain text: the status
// line, then the explanation.
func writeError(w http.ResponseWriter, status int, explanation string) {
	if explanation == "" {
		explanation = explanations[status]
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "%d %s\n\n%s\n\n   ", status, http.StatusText(status), explanation)
}
