package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

type oneToken struct{}

func (oneToken) Authenticate(_ context.Context, token string) (*auth.Credentials, error) {
	if token == "t" {
		return &auth.Credentials{ProjectID: "p", Roles: []auth.Role{{Name: "member"}}}, nil
	}
	return nil, errors.New("invalid")
}

// unreachableRings are rings whose every device refuses connections: the
// fuzzed requests exercise parsing, authorization and the constraints, and
// whatever reaches the backend fails cleanly (503).
func unreachableRings(t testing.TB) Rings {
	b, err := ring.NewBuilder(2, 3)
	if err != nil {
		t.Fatal(err)
	}
	for z := 1; z <= 3; z++ { // ports 1-3: nothing listens there
		if _, err := b.AddDevice(ring.Device{Zone: z, IP: "127.0.0.1", Port: z, Name: "d", Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Rebalance(); err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/r.ring.gz"
	if err := b.WriteRing(path); err != nil {
		t.Fatal(err)
	}
	r, err := ring.Load(path, "", "s")
	if err != nil {
		t.Fatal(err)
	}
	return Rings{Account: r, Container: r, Object: r}
}

// FuzzProxyRequest sends the proxy arbitrary paths, methods and client headers
// (metadata, Range, conditionals, lengths): it must answer every one with a
// status, never a panic or a 500.
func FuzzProxyRequest(f *testing.F) {
	for _, s := range [][4]string{
		{"GET", "/v1/AUTH_p/c/o", "Range", "bytes=0-1"},
		{"PUT", "/v1/AUTH_p/c/o", "X-Object-Meta-A", "b"},
		{"POST", "/v1/AUTH_p/c", "X-Container-Meta-", "x"},
		{"PUT", "/v1/AUTH_p/c/%2e%2e/o", "X-Delete-After", "-1"},
		{"GET", "/v1/AUTH_p/c?limit=99999&format=xml", "Accept", "*/*;q=0"},
		{"HEAD", "/v1//", "If-Match", "*"},
		{"PUT", "/v1/AUTH_p/c/o", "Content-Type", "a/b;swift_bytes=1"},
		{"GET", "/info", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	p := New(Options{Rings: unreachableRings(f), Auth: oneToken{}})
	h := p.Handler()
	f.Fuzz(func(t *testing.T, method, target, header, value string) {
		r, err := http.NewRequest(method, "http://proxy"+target, nil)
		if err != nil || r.URL.Path == "" {
			return
		}
		r.RequestURI = r.URL.RequestURI()
		r.Header.Set("X-Auth-Token", "t")
		if header != "" && validHeader(header, value) {
			r.Header.Set(header, value)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code < 200 || w.Code >= 600 || w.Code == http.StatusInternalServerError {
			t.Fatalf("%s %q %s: %q → %d %q", method, target, header, value, w.Code, w.Body.String())
		}
	})
}

// validHeader is what net/http would let a client send.
func validHeader(k, v string) bool {
	for _, c := range []byte(k) {
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	for _, c := range []byte(v) {
		if c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}
