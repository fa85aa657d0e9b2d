package metadata

import (
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestSignature checks upstream's scheme: hex(HMAC-SHA256(secret, instance ID)).
func TestSignature(t *testing.T) {
	// As `python3 -c 'import hmac,hashlib; print(hmac.new(b"secret", b"vm-1", hashlib.sha256).hexdigest())'`.
	const sig = "8d8df128f7f73330977b8bd71fc9442bf6c491ce9b938aa95d11265d36ce09f5"
	if got := Sign("secret", "vm-1"); got != sig {
		t.Fatalf("Sign = %q, want %q", got, sig)
	}
	for _, tc := range []struct {
		secret, id, sig string
		ok              bool
	}{
		{"secret", "vm-1", sig, true},
		{"other", "vm-1", sig, false},
		{"secret", "vm-2", sig, false},
		{"secret", "vm-1", strings.ToUpper(sig), false},
		{"secret", "vm-1", sig[:63], false},
		{"secret", "vm-1", "", false},
	} {
		if got := VerifySignature(tc.secret, tc.id, tc.sig); got != tc.ok {
			t.Errorf("VerifySignature(%q, %q, %q) = %v, want %v", tc.secret, tc.id, tc.sig, got, tc.ok)
		}
	}
}

// TestForward checks what the proxy sends to the compute metadata API and how it
// answers the guest, for every status upstream maps.
func TestForward(t *testing.T) {
	var mu sync.Mutex
	var seen *http.Request
	var seenBody string
	status := http.StatusOK
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen, seenBody = r, string(body)
		code := status
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream-Only", "1")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"uuid": "vm-1"}`)
	}))
	defer upstream.Close()
	lookup := &fakeLookup{instances: map[string][2]string{"r1|10.0.0.5": {"vm-1", "proj-1"}, "network:n1|10.0.0.5": {"vm-n", "proj-n"}}}
	p, err := New(Options{Runner: &fakeRunner{}, Lookup: lookup, MetadataURL: upstream.URL + "/prefix/", SharedSecret: "s3cret",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	sendTo := func(at target, method, url, remote, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, url, strings.NewReader(body))
		req.RemoteAddr = remote
		req.Header.Set("X-Instance-ID", "spoofed")
		req.Header.Set("X-Forwarded-For", "10.0.0.99")
		req.Header.Set("X-Neutron-Network-ID", "spoofed")
		req.Header.Set("Content-Type", "text/plain")
		w := httptest.NewRecorder()
		p.handler(at).ServeHTTP(w, req)
		return w
	}
	send := func(method, url, remote, body string) *httptest.ResponseRecorder {
		return sendTo(target{router: "r1"}, method, url, remote, body)
	}

	for _, tc := range []struct {
		name     string
		at       target
		instance string
		headers  map[string]string // "" means absent
	}{
		{"a router's request with upstream's headers", target{router: "r1"}, "vm-1", map[string]string{
			"X-Tenant-ID": "proj-1", "X-Neutron-Router-ID": "r1", "X-Neutron-Network-ID": ""}},
		{"a DHCP namespace's request names the network instead", target{network: "n1"}, "vm-n", map[string]string{
			"X-Tenant-ID": "proj-n", "X-Neutron-Network-ID": "n1", "X-Neutron-Router-ID": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := sendTo(tc.at, "POST", "http://169.254.169.254/openstack/2013-04-04/password?x=1&y=%2F", "10.0.0.5:40000", "pw")
			if w.Code != 200 || w.Body.String() != `{"uuid": "vm-1"}` || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("answer %d %q %v", w.Code, w.Body, w.Header())
			}
			if w.Header().Get("X-Upstream-Only") != "" {
				t.Errorf("upstream passes on only the content type, got %v", w.Header())
			}
			mu.Lock()
			defer mu.Unlock()
			h := seen.Header
			want := map[string]string{
				"X-Forwarded-For":         "10.0.0.5",
				"X-Instance-ID":           tc.instance,
				"X-Instance-ID-Signature": Sign("s3cret", tc.instance),
				"Content-Type":            "text/plain",
			}
			maps.Copy(want, tc.headers)
			for k, v := range want {
				if got := h.Values(k); v == "" && len(got) != 0 || v != "" && (len(got) != 1 || got[0] != v) {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if !VerifySignature("s3cret", h.Get("X-Instance-ID"), h.Get("X-Instance-ID-Signature")) {
				t.Error("signature does not verify")
			}
			if seen.Method != "POST" || seen.URL.Path != "/prefix/openstack/2013-04-04/password" || seen.URL.RawQuery != "x=1&y=%2F" || seenBody != "pw" {
				t.Errorf("forwarded %s %s?%s body %q", seen.Method, seen.URL.Path, seen.URL.RawQuery, seenBody)
			}
		})
	}

	t.Run("an address the network does not know is 404", func(t *testing.T) {
		if w := sendTo(target{network: "n2"}, "GET", "/latest/meta-data/", "10.0.0.5:40000", ""); w.Code != 404 {
			t.Fatalf("answered %d %q", w.Code, w.Body)
		}
	})

	for _, tc := range []struct {
		upstream, want int
		text           string
	}{
		{http.StatusBadRequest, 400, "malformed"},
		{http.StatusForbidden, 403, "Access was denied"},
		{http.StatusNotFound, 404, "could not be found"},
		{http.StatusConflict, 409, "conflict"},
		{http.StatusInternalServerError, 500, msgRemoteInternal},
		{http.StatusTeapot, 500, msgUnknownError},
		{http.StatusServiceUnavailable, 500, msgUnknownError},
	} {
		t.Run(http.StatusText(tc.upstream), func(t *testing.T) {
			mu.Lock()
			status = tc.upstream
			mu.Unlock()
			w := send("GET", "/latest/meta-data/", "10.0.0.5:40000", "")
			if w.Code != tc.want || !strings.Contains(w.Body.String(), tc.text) || strings.Contains(w.Body.String(), "uuid") {
				t.Fatalf("upstream %d: answered %d %q, want %d with %q", tc.upstream, w.Code, w.Body, tc.want, tc.text)
			}
		})
	}

	t.Run("unknown source is 404 without forwarding", func(t *testing.T) {
		mu.Lock()
		seen = nil
		mu.Unlock()
		w := send("GET", "/latest/meta-data/", "10.0.0.6:40000", "")
		mu.Lock()
		defer mu.Unlock()
		if w.Code != 404 || seen != nil {
			t.Fatalf("answered %d %q, forwarded %v", w.Code, w.Body, seen != nil)
		}
	})
	t.Run("lookup failure is upstream's 500", func(t *testing.T) {
		lookup.err = errors.New("database is locked")
		defer func() { lookup.err = nil }()
		w := send("GET", "/latest/meta-data/", "10.0.0.5:40000", "")
		if w.Code != 500 || !strings.Contains(w.Body.String(), msgUnknownError) || strings.Contains(w.Body.String(), "locked") {
			t.Fatalf("answered %d %q", w.Code, w.Body)
		}
	})
	t.Run("compute metadata API down is 500", func(t *testing.T) {
		down, err := New(Options{Runner: &fakeRunner{}, Lookup: lookup, MetadataURL: "http://127.0.0.1:1",
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", "/latest/meta-data/", nil)
		req.RemoteAddr = "10.0.0.5:1"
		w := httptest.NewRecorder()
		down.handler(target{router: "r1"}).ServeHTTP(w, req)
		if w.Code != 500 || !strings.Contains(w.Body.String(), msgUnknownError) {
			t.Fatalf("answered %d %q", w.Code, w.Body)
		}
	})
}

// TestNewRejects checks the options New refuses.
func TestNewRejects(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8775", "ftp://h/", "http://"} {
		if _, err := New(Options{Runner: &fakeRunner{}, Lookup: &fakeLookup{}, MetadataURL: u}); err == nil {
			t.Errorf("New accepted metadata URL %q", u)
		}
	}
	if _, err := New(Options{Lookup: &fakeLookup{}, MetadataURL: "http://h"}); err == nil {
		t.Error("New accepted no Runner")
	}
}
