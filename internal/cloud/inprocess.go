package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// inProcess calls the services' HTTP handlers directly: the same policy, quota and
// hashing code paths as a remote client, without a socket.
type inProcess struct {
	identity, image, network http.Handler
	token                    string
}

func (p *inProcess) login(ctx context.Context, password string) error {
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": "admin", "domain": map[string]any{"id": "default"}, "password": password},
		}},
		"scope": map[string]any{"project": map[string]any{"name": "admin", "domain": map[string]any{"id": "default"}}},
	}}
	res, err := p.call(ctx, p.identity, http.MethodPost, "/v3/auth/tokens", body, http.StatusCreated)
	if err != nil {
		return err
	}
	p.token = res.header.Get("X-Subject-Token")
	return nil
}

// call sends one request; body is JSON-encoded unless it is already a reader (raw
// image data). Any status but want is an error carrying the response body.
func (p *inProcess) call(ctx context.Context, h http.Handler, method, path string, body any, want int) (*recorder, error) {
	var r io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case io.Reader:
		r, contentType = b, "application/octet-stream"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, r)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = "127.0.0.1:0"
	if r != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if p.token != "" {
		req.Header.Set("X-Auth-Token", p.token)
	}
	res := &recorder{header: http.Header{}}
	h.ServeHTTP(res, req)
	if res.status != want {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, res.status, bytes.TrimSpace(res.body.Bytes()))
	}
	return res, nil
}

// recorder is the ResponseWriter of an in-process call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// inProcess is a client of this cloud's own APIs; login before use.
func (c *Cloud) inProcess() *inProcess {
	return &inProcess{identity: c.identity.Handler(), image: c.image.Handler(), network: c.network.Handler()}
}
