package backup

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// swiftStore keeps backups in an object store through its Swift v1 API, as
// upstream's swift driver: the container (volumebackups by default) in the
// account of the storage URL each call gives, objects named
// volume_<volume id>/<timestamp>/az_<zone>_backup_<id>-00001, ...
type swiftStore struct {
	container string
	client    *http.Client
	// attempts and backoff retry what failed in transit or on a 5xx
	// (upstream's backup_swift_retry_attempts, backup_swift_retry_backoff).
	attempts int
	backoff  time.Duration
}

// SwiftOptions configure NewSwift.
type SwiftOptions struct {
	ChunkOptions
	// Container is the default container (backup_swift_container).
	Container string
	// Client reaches the object store; nil: one without a proxy.
	Client *http.Client
}

// NewSwift is the chunked driver keeping backups in an object store, reached
// with each call's Spec.Auth, upstream's swift driver with
// backup_swift_auth=per_user.
func NewSwift(o SwiftOptions) (*Chunked, error) {
	if o.Client == nil {
		o.Client = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8}}
	}
	return newChunked(&swiftStore{container: cmp.Or(o.Container, DefaultSwiftContainer), client: o.Client,
		attempts: 3, backoff: time.Second}, o.ChunkOptions)
}

func (s *swiftStore) defaultContainer(Spec) string { return s.container }

func (s *swiftStore) prefix(b Spec, now time.Time) string {
	return fmt.Sprintf("volume_%s/%s/az_%s_backup_%s", b.VolumeID, now.Format("20060102150405"), b.AvailabilityZone, b.ID)
}

// checkNames refuses names Swift would not take as a container and object
// names (a container has no slash; a name is at most 1024 bytes).
func (s *swiftStore) checkNames(container, prefix string) error {
	if container == "" || len(container) > 256 || strings.ContainsAny(container, "/\x00") {
		return fmt.Errorf("%w: container %q", ErrInvalidBackup, container)
	}
	if prefix == "" || len(prefix) > 1000 || strings.ContainsRune(prefix, 0) {
		return fmt.Errorf("%w: object prefix %q", ErrInvalidBackup, prefix)
	}
	return nil
}

// request sends one request for container (and object name, if any) with
// the caller's token, retrying transport failures and 5xx answers; body is
// replayed from the start on each attempt.
func (s *swiftStore) request(ctx context.Context, a Auth, method, container, name, query string, body []byte, hdr http.Header) (*http.Response, error) {
	if a.Token == "" || a.StorageURL == "" {
		return nil, fmt.Errorf("%w: no token or storage URL for the object store", ErrAccessDenied)
	}
	p := "/" + container
	if name != "" {
		p += "/" + name
	}
	u := strings.TrimSuffix(a.StorageURL, "/") + (&url.URL{Path: p}).EscapedPath()
	if query != "" {
		u += "?" + query
	}
	var lastErr error
	for attempt := range s.attempts {
		if attempt > 0 {
			select {
			case <-time.After(s.backoff << (attempt - 1)):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		var r io.Reader
		if body != nil {
			r = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, r)
		if err != nil {
			return nil, err
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		req.Header.Set("X-Auth-Token", a.Token)
		resp, err := s.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			lastErr = err
			continue
		}
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return nil, fmt.Errorf("%w: %s", ErrAccessDenied, statusText(method, p, resp))
		case resp.StatusCode >= 500:
			lastErr = errors.New(statusText(method, p, resp))
			continue
		}
		return resp, nil
	}
	return nil, fmt.Errorf("object store: %w", lastErr)
}

// statusText reads an answer the client did not want into an error's text.
func statusText(method, path string, resp *http.Response) string {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	return fmt.Sprintf("object store: %s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(msg)))
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
}

// createContainer is upstream's put_container: HEAD, and PUT on 404.
func (s *swiftStore) createContainer(ctx context.Context, a Auth, container string) error {
	resp, err := s.request(ctx, a, http.MethodHead, container, "", "", nil, nil)
	if err != nil {
		return err
	}
	drain(resp)
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNoContent:
		return nil
	case http.StatusNotFound:
	default:
		return fmt.Errorf("object store: HEAD /%s: %d", container, resp.StatusCode)
	}
	resp, err = s.request(ctx, a, http.MethodPut, container, "", "", nil, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusAccepted {
		return errors.New(statusText(http.MethodPut, "/"+container, resp))
	}
	drain(resp)
	return nil
}

// put stores an object with its md5 as ETag, so the store refuses a body
// that arrived altered; the ETag it answers must be that md5 (upstream's
// SwiftObjectWriter checks it).
func (s *swiftStore) put(ctx context.Context, a Auth, container, name string, data []byte) error {
	sum := md5.Sum(data)
	etag := hex.EncodeToString(sum[:])
	resp, err := s.request(ctx, a, http.MethodPut, container, name, "", data, http.Header{
		"Etag": {etag}, "Content-Type": {"application/octet-stream"}})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return errors.New(statusText(http.MethodPut, "/"+container+"/"+name, resp))
	}
	drain(resp)
	if got := strings.Trim(resp.Header.Get("Etag"), `"`); got != etag {
		return fmt.Errorf("%w: error writing object to swift, MD5 of object in swift %s is not the same as MD5 of object sent to swift %s",
			ErrInvalidBackup, got, etag)
	}
	return nil
}

func (s *swiftStore) open(ctx context.Context, a Auth, container, name string) (io.ReadCloser, error) {
	resp, err := s.request(ctx, a, http.MethodGet, container, name, "", nil, nil)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return transportBody{resp.Body, "/" + container + "/" + name}, nil
	case http.StatusNotFound:
		drain(resp)
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, container, name)
	}
	return nil, errors.New(statusText(http.MethodGet, "/"+container+"/"+name, resp))
}

// transportBody is an object's body whose read errors say they are the
// connection's: a body cut off in transit (Go's io.ErrUnexpectedEOF) is not
// a chunk stored short, which a restore reports as an invalid backup.
type transportBody struct {
	io.ReadCloser
	path string
}

func (b transportBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("object store: reading %s: %v", b.path, err)
	}
	return n, err
}

// list is upstream's get_container_entries (full_listing): the container's
// listing under prefix, page after page.
func (s *swiftStore) list(ctx context.Context, a Auth, container, prefix string) ([]string, error) {
	var names []string
	marker := ""
	for {
		q := url.Values{"format": {"json"}, "prefix": {prefix}}
		if marker != "" {
			q.Set("marker", marker)
		}
		resp, err := s.request(ctx, a, http.MethodGet, container, "", q.Encode(), nil, nil)
		if err != nil {
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusNotFound, http.StatusNoContent:
			drain(resp)
			return names, nil
		case http.StatusOK:
		default:
			return nil, errors.New(statusText(http.MethodGet, "/"+container, resp))
		}
		var page []struct {
			Name string `json:"name"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&page)
		drain(resp)
		if err != nil {
			return nil, fmt.Errorf("object store: listing /%s: %w", container, err)
		}
		if len(page) == 0 || page[len(page)-1].Name <= marker {
			return names, nil
		}
		for _, o := range page {
			names = append(names, o.Name)
		}
		marker = page[len(page)-1].Name
	}
}

// remove is upstream's delete_object: a 404 is no error.
func (s *swiftStore) remove(ctx context.Context, a Auth, container, name string) error {
	resp, err := s.request(ctx, a, http.MethodDelete, container, name, "", nil, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusOK {
		return errors.New(statusText(http.MethodDelete, "/"+container+"/"+name, resp))
	}
	drain(resp)
	return nil
}

// removeContainer leaves the container: it is shared by the account's
// backups, as upstream leaves it.
func (s *swiftStore) removeContainer(context.Context, Auth, string) error { return nil }
