package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var sorted []time.Duration
	for i := 1; i <= 100; i++ {
		sorted = append(sorted, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := Percentile(sorted, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("empty: %v", got)
	}
	if got := Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("one sample: %v", got)
	}
}

func TestRunIsBoundedInCountAndTime(t *testing.T) {
	var calls atomic.Int64
	op := func(context.Context, int) error { calls.Add(1); return nil }
	st := Run(context.Background(), "count", Load{Concurrency: 4, Duration: time.Minute, MaxRequests: 1000}, op)
	if st.Requests != 1000 || calls.Load() != 1000 {
		t.Fatalf("max 1000: %d recorded, %d calls", st.Requests, calls.Load())
	}
	start := time.Now()
	st = Run(context.Background(), "time", Load{Concurrency: 2, Duration: 100 * time.Millisecond, MaxRequests: 1 << 40},
		func(context.Context, int) error { time.Sleep(time.Millisecond); return nil })
	if d := time.Since(start); d > 2*time.Second || st.Requests == 0 {
		t.Fatalf("100ms run took %v with %d requests", d, st.Requests)
	}
}

func TestRunCountsErrors(t *testing.T) {
	var n atomic.Int64
	st := Run(context.Background(), "errs", Load{Concurrency: 1, Duration: time.Minute, MaxRequests: 10},
		func(context.Context, int) error {
			if n.Add(1)%2 == 0 {
				return os.ErrDeadlineExceeded
			}
			return nil
		})
	if st.Requests != 10 || st.Errors != 5 || st.FirstError == "" {
		t.Fatalf("got %+v", st)
	}
	if want := 5 / st.Elapsed.Seconds(); st.Rate < want*0.99 || st.Rate > want*1.01 {
		t.Fatalf("rate %v counts errors (want %v)", st.Rate, want)
	}
}

func TestLoadCloud(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clouds.yaml")
	yaml := `clouds:
  nimbus-admin:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: admin
      password: "s3cret: with colon"
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCloud("nimbus-admin", path)
	if err != nil {
		t.Fatal(err)
	}
	want := Credentials{AuthURL: "http://127.0.0.1:5000/v3", Username: "admin", Password: "s3cret: with colon",
		ProjectName: "admin", UserDomainName: "Default", ProjectDomainName: "Default"}
	if c != want {
		t.Fatalf("got %+v", c)
	}
	if _, err := LoadCloud("nope", path); err == nil {
		t.Fatal("unknown cloud accepted")
	}
	t.Setenv("OS_CLIENT_CONFIG_FILE", path)
	if c, err := LoadCloud("nimbus-admin", ""); err != nil || c.Username != "admin" {
		t.Fatalf("via OS_CLIENT_CONFIG_FILE: %+v %v", c, err)
	}
}

func TestIdentityBase(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:5000":      "http://127.0.0.1:5000/v3",
		"http://127.0.0.1:5000/":     "http://127.0.0.1:5000/v3",
		"http://127.0.0.1:5000/v3":   "http://127.0.0.1:5000/v3",
		"http://127.0.0.1:5000/v3/":  "http://127.0.0.1:5000/v3",
		"http://localhost/identity/": "http://localhost/identity/v3",
	} {
		if got, err := identityBase(in); err != nil || got != want {
			t.Errorf("identityBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := identityBase("127.0.0.1:5000"); err == nil {
		t.Error("URL without scheme accepted")
	}
}

func TestLoopbackOnly(t *testing.T) {
	ctx := context.Background()
	for _, ok := range []string{"http://127.0.0.1:5000/v3", "http://[::1]:5000", "http://127.1.2.3:1", "http://localhost:5000"} {
		if err := CheckLoopback(ctx, ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://10.0.0.1:5000", "http://192.168.1.1", "http://0.0.0.0:5000", "http://8.8.8.8"} {
		if err := CheckLoopback(ctx, bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
		host := strings.TrimPrefix(bad, "http://")
		if !strings.Contains(host, ":") {
			host += ":80"
		}
		if err := loopbackOnly("tcp", host, nil); err == nil {
			t.Errorf("dialer accepts %s", host)
		}
	}
	if err := loopbackOnly("tcp", "127.0.0.1:5000", nil); err != nil {
		t.Errorf("dialer refuses loopback: %v", err)
	}
}

// fakeKeystone answers just enough of Keystone v3 for the bench: password and token
// logins, and validation that checks both headers.
func fakeKeystone(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var issued atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v3/auth/tokens", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Auth struct {
				Identity struct {
					Methods  []string `json:"methods"`
					Password struct {
						User struct {
							Name     string `json:"name"`
							Password string `json:"password"`
						} `json:"user"`
					} `json:"password"`
					Token struct {
						ID string `json:"id"`
					} `json:"token"`
				} `json:"identity"`
			} `json:"auth"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id := req.Auth.Identity
		switch {
		case len(id.Methods) == 1 && id.Methods[0] == "password" && id.Password.User.Password == "pw":
		case len(id.Methods) == 1 && id.Methods[0] == "token" && strings.HasPrefix(id.Token.ID, "tok-"):
		default:
			http.Error(w, `{"error":{"code":401}}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Subject-Token", "tok-"+time.Now().Format(time.RFC3339Nano))
		issued.Add(1)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"token":{}}`))
	})
	mux.HandleFunc("GET /v3/auth/tokens", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("X-Auth-Token"), "tok-") || !strings.HasPrefix(r.Header.Get("X-Subject-Token"), "tok-") {
			http.Error(w, "{}", http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(`{"token":{"catalog":[]}}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &issued
}

func TestIdentityAgainstFake(t *testing.T) {
	srv, _ := fakeKeystone(t)
	rep, err := Identity(context.Background(), IdentityOptions{
		Credentials: Credentials{AuthURL: srv.URL + "/v3", Username: "admin", Password: "pw", ProjectName: "admin"},
		Load:        Load{Concurrency: 4, Duration: 50 * time.Millisecond, MaxRequests: 200},
		BcryptCost:  4, BcryptSamples: 1, Subjects: 3, ServerPIDs: []int{os.Getpid()},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Scenarios) != len(IdentityScenarios) {
		t.Fatalf("%d scenarios", len(rep.Scenarios))
	}
	for _, s := range rep.Scenarios {
		if s.Requests == 0 || s.Errors != 0 || s.Rate <= 0 || s.P50 <= 0 || s.P99 < s.P50 {
			t.Errorf("%s: %+v", s.Name, s)
		}
	}
	if rep.Bcrypt == nil || rep.Bcrypt.PerSec <= 0 || rep.IssueOfBcryptLimit <= 0 {
		t.Errorf("bcrypt limit: %+v, fraction %v", rep.Bcrypt, rep.IssueOfBcryptLimit)
	}
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"password issue", "token re-scope", "validate ?nocatalog", "validate +catalog", "of the bcrypt limit"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back IdentityReport
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Scenarios) != len(rep.Scenarios) {
		t.Fatalf("JSON round trip: %v", err)
	}
}

func TestIdentityFailsOnBadLogin(t *testing.T) {
	srv, issued := fakeKeystone(t)
	_, err := Identity(context.Background(), IdentityOptions{
		Credentials: Credentials{AuthURL: srv.URL, Username: "admin", Password: "wrong", ProjectName: "admin"},
		Load:        Load{Concurrency: 1, Duration: time.Second, MaxRequests: 10},
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "401") || issued.Load() != 0 {
		t.Fatalf("err = %v, issued %d", err, issued.Load())
	}
}

func TestParseScenarios(t *testing.T) {
	if s, err := ParseScenarios("all"); err != nil || len(s) != 4 {
		t.Fatal(s, err)
	}
	if s, err := ParseScenarios("validate-nocatalog, issue"); err != nil || len(s) != 2 {
		t.Fatal(s, err)
	}
	if _, err := ParseScenarios("issue,bogus"); err == nil {
		t.Fatal("bogus scenario accepted")
	}
}
