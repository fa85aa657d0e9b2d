package metadata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"

	proxy "github.com/nimbus-cloud/nimbus/internal/network/dataplane/metadata"
)

// handler serves the metadata API.
type handler struct {
	src    Source
	opts   Options
	vendor any
	log    *slog.Logger
}

// Handler is the metadata API (port 8775) as upstream's nova-api-metadata with
// service_metadata_proxy: the network service's proxy names the instance in
// X-Instance-ID, signed with the shared secret, and each instance sees only its
// own metadata. GET / is answered to anyone, as upstream.
func Handler(src Source, opts Options) http.Handler {
	h := &handler{src: src, opts: opts, log: opts.logger()}
	h.vendor = parseVendorData(opts.VendorData, h.log)
	if opts.SharedSecret == "" {
		h.log.Warn("metadata_proxy_shared_secret is not configured, the metadata information returned by the proxy cannot be trusted")
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// As upstream: the EC2 version list needs no instance.
	if path.Clean(r.URL.Path) == "/" {
		writeResult(w, text([]byte(strings.Join(listedEC2Versions(), "\n"))))
		return
	}
	inst, err := h.instance(r)
	if err != nil {
		writeError(w, err)
		return
	}
	d := &document{inst: inst, domain: h.opts.DHCPDomain, vendor: h.vendor, address: r.Header.Get(proxy.HeaderForwardedFor), now: h.opts.now()}
	res, ok := d.lookup(r.URL.Path)
	switch {
	case !ok:
		writeError(w, errNotFound)
	case res.password:
		h.password(w, r, inst)
	default:
		writeResult(w, res)
	}
}

func writeResult(w http.ResponseWriter, res result) {
	w.Header().Set("Content-Type", res.contentType)
	w.WriteHeader(http.StatusOK)
	w.Write(res.body)
}

// instance is the instance a request is from, as upstream's
// _handle_instance_id_request: the proxy's headers must all be there (400), the
// signature must match (403), and the instance must exist in the project the
// proxy names (404 otherwise, so another project's instances do not show).
func (h *handler) instance(r *http.Request) (*Instance, error) {
	ids := r.Header.Values(proxy.HeaderInstanceID)
	sigs := r.Header.Values(proxy.HeaderSignature)
	tenants := r.Header.Values(proxy.HeaderTenantID)
	var msg string
	switch {
	case len(ids) == 0:
		msg = "X-Instance-ID header is missing from request."
	case len(sigs) == 0:
		msg = "X-Instance-ID-Signature header is missing from request."
	case len(tenants) == 0:
		msg = "X-Tenant-ID header is missing from request."
	case len(ids) > 1:
		msg = "Multiple X-Instance-ID headers found within request."
	case len(tenants) > 1:
		msg = "Multiple X-Tenant-ID headers found within request."
	}
	if msg != "" {
		return nil, &apiError{status: http.StatusBadRequest, explanation: msg}
	}
	id, tenant := ids[0], tenants[0]
	// Several signatures reach upstream joined, and so never match.
	sig := strings.Join(sigs, ", ")
	remote := r.Header.Get(proxy.HeaderForwardedFor)
	if sig == "" || !proxy.VerifySignature(h.opts.SharedSecret, id, sig) {
		if id != "" {
			h.log.Warn("X-Instance-ID-Signature does not match the expected signature", "instance", id, "signature", sig, "remote", remote)
		}
		return nil, &apiError{status: http.StatusForbidden, explanation: msgInvalidSignature}
	}
	inst, err := h.src.Instance(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		h.log.Error("Failed to get metadata for instance id", "instance", id, "remote", remote)
		return nil, errNotFound
	}
	if err != nil {
		h.log.Error("Failed to get metadata for instance id", "instance", id, "error", err)
		return nil, fmt.Errorf("metadata of instance %s: %w", id, err)
	}
	if inst.ProjectID != tenant {
		h.log.Warn("Tenant_id does not match tenant_id of instance", "tenant", tenant, "instance", id)
		return nil, errNotFound
	}
	return inst, nil
}

// setPassword keeps a posted password, if the Source can.
func (h *handler) setPassword(ctx context.Context, uuid, password string) error {
	ps, ok := h.src.(PasswordStore)
	if !ok {
		return &apiError{status: http.StatusBadRequest, explanation: "Storing a password is not supported."}
	}
	err := ps.SetPassword(ctx, uuid, password)
	if errors.Is(err, ErrNotFound) {
		return &apiError{status: http.StatusBadRequest, explanation: fmt.Sprintf("Instance %s could not be found.", uuid)}
	}
	if err != nil {
		return fmt.Errorf("password of instance %s: %w", uuid, err)
	}
	return nil
}
