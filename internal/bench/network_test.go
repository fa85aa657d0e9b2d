package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDuplicates(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{"10.0.0.2", "10.0.0.3"}, nil},
		{[]string{"10.0.0.3", "10.0.0.2", "10.0.0.3"}, []string{"10.0.0.3"}},
		{[]string{"b", "a", "b", "a", "b"}, []string{"a", "b"}},
	} {
		if got := duplicates(c.in); !slices.Equal(got, c.want) {
			t.Errorf("duplicates(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestUsableHosts(t *testing.T) {
	for _, c := range []struct {
		cidr    string
		want    int
		wantErr bool
	}{
		{"10.240.0.0/20", 4093, false},
		{"10.0.0.0/24", 253, false},
		{"10.0.0.0/29", 5, false},
		{"10.0.0.0/30", 0, true},
		{"10.0.0.1/24", 0, true}, // not a network address
		{"fd00::/64", 0, true},
		{"bogus", 0, true},
	} {
		got, err := usableHosts(c.cidr)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("usableHosts(%q) = %d, %v; want %d, error %v", c.cidr, got, err, c.want, c.wantErr)
		}
	}
}

func TestNeutronBase(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://127.0.0.1:9696", "http://127.0.0.1:9696"},
		{"http://127.0.0.1:9696/", "http://127.0.0.1:9696"},
		{"http://127.0.0.1:9696/v2.0/", "http://127.0.0.1:9696"},
		{"http://127.0.0.1/networking/v2.0", "http://127.0.0.1/networking"},
		{"ftp://127.0.0.1", ""},
	} {
		got, err := neutronBase(c.in)
		if got != c.want || (err != nil) != (c.want == "") {
			t.Errorf("neutronBase(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestAnchorLine(t *testing.T) {
	for _, c := range []struct {
		median time.Duration
		want   string
	}{
		{19 * time.Millisecond, "median 19.0ms, upstream Neutron (Rally) 380ms: 20x faster, meets the aim of 20x"},
		{20 * time.Millisecond, "19x faster, misses the aim"},
		{100 * time.Millisecond, "3.8x faster, misses"},
	} {
		got := anchorLine("network create+delete", c.median, UpstreamNetworkCreateDelete, speedup(UpstreamNetworkCreateDelete, c.median))
		if !strings.Contains(got, c.want) {
			t.Errorf("anchorLine(%v) = %q, want it to contain %q", c.median, got, c.want)
		}
	}
	if got := speedup(time.Second, 0); got != 0 {
		t.Errorf("speedup of nothing = %v", got)
	}
}

// fakeNeutron is a login and enough of a network API for the bench: ports get the
// next address of the subnet (or always the same one, with sameIP), a port quota
// of 500 is enforced, and quotas can be lifted and reset.
type fakeNeutron struct {
	mu        sync.Mutex
	sameIP    bool
	next      int
	ids       int
	networks  map[string]bool
	subnets   map[string]string // id -> network
	ports     map[string]string // id -> network
	portLimit int
	quotaOps  []string
}

func newFakeNeutron(t *testing.T, sameIP bool) (*httptest.Server, *fakeNeutron) {
	f := &fakeNeutron{sameIP: sameIP, networks: map[string]bool{}, subnets: map[string]string{}, ports: map[string]string{}, portLimit: 500}
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("POST /v3/auth/tokens", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Subject-Token", "tok-1")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"token":{"project":{"id":"p1"},"catalog":[{"type":"network","endpoints":[{"interface":"public","url":%q}]}]}}`, srv.URL+"/")
	})
	created := func(w http.ResponseWriter, kind string, v map[string]any) {
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{kind: v})
	}
	mux.HandleFunc("POST /v2.0/{kinds}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Auth-Token") != "tok-1" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		var body map[string]map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.ids++
		id := fmt.Sprintf("id-%d", f.ids)
		switch r.PathValue("kinds") {
		case "networks":
			f.networks[id] = true
			created(w, "network", map[string]any{"id": id})
		case "subnets":
			network := body["subnet"]["network_id"].(string)
			if !f.networks[network] {
				http.Error(w, "no network", http.StatusNotFound)
				return
			}
			f.subnets[id] = network
			created(w, "subnet", map[string]any{"id": id})
		case "ports":
			network := body["port"]["network_id"].(string)
			if f.portLimit >= 0 && len(f.ports) >= f.portLimit {
				http.Error(w, `{"NeutronError":{"type":"OverQuota"}}`, http.StatusConflict)
				return
			}
			f.ports[id] = network
			if !f.sameIP {
				f.next++
			}
			ip := fmt.Sprintf("10.240.%d.%d", (f.next+1)/256, (f.next+1)%256)
			created(w, "port", map[string]any{"id": id, "fixed_ips": []any{map[string]any{"ip_address": ip}}})
		default:
			http.NotFound(w, r)
		}
	})
	mux.HandleFunc("DELETE /v2.0/{kinds}/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		id := r.PathValue("id")
		switch r.PathValue("kinds") {
		case "networks":
			for _, n := range f.ports {
				if n == id {
					http.Error(w, "in use", http.StatusConflict)
					return
				}
			}
			delete(f.networks, id)
			for sub, n := range f.subnets { // as upstream: a network's subnets go with it
				if n == id {
					delete(f.subnets, sub)
				}
			}
		case "subnets":
			delete(f.subnets, id)
		case "ports":
			delete(f.ports, id)
		case "quotas":
			f.portLimit = 500
			f.quotaOps = append(f.quotaOps, "delete")
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /v2.0/ports", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		var out []any
		for id, n := range f.ports {
			if n == r.URL.Query().Get("network_id") {
				out = append(out, map[string]any{"id": id})
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ports": out})
	})
	mux.HandleFunc("GET /v2.0/quotas/p1/details.json", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		fmt.Fprintf(w, `{"quota":{"port":{"limit":%d,"used":%d,"reserved":0}}}`, f.portLimit, len(f.ports))
	})
	mux.HandleFunc("GET /v2.0/quotas", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"quotas":[]}`)
	})
	mux.HandleFunc("PUT /v2.0/quotas/p1", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Quota struct{ Port int } }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.portLimit = body.Quota.Port
		f.quotaOps = append(f.quotaOps, fmt.Sprintf("put %d", body.Quota.Port))
		fmt.Fprint(w, `{"quota":{}}`)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, f
}

func TestNetworkAgainstFake(t *testing.T) {
	for _, c := range []struct {
		name    string
		sameIP  bool
		wantErr string
	}{
		{"distinct addresses", false, ""},
		{"shared address", true, "distinct IP addresses"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, f := newFakeNeutron(t, c.sameIP)
			rep, err := Network(context.Background(), NetworkOptions{
				Credentials: Credentials{AuthURL: srv.URL + "/v3", Username: "admin", Password: "pw", ProjectName: "admin"},
				Concurrency: 4, Ports: 600, Networks: 7, Iterations: 5, PortsPerIteration: 10,
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range rep.Scenarios {
				names = append(names, s.Name)
			}
			want := []string{NetScenarioPortCreate, NetScenarioPortDelete, NetScenarioNetwork, NetScenarioNetworkSubnet, NetScenarioPortIteration}
			if !slices.Equal(names, want) {
				t.Fatalf("scenarios %v, want %v", names, want)
			}
			counts := []int64{600, 600, 7, 7, 5}
			for i, s := range rep.Scenarios {
				if s.Requests != counts[i] || s.P50 <= 0 || s.P99 < s.P50 {
					t.Errorf("%s: %+v", s.Name, s)
				}
			}
			if rep.PortsCreated != 600 || rep.NetworkSpeedup <= 0 || rep.PortIterationSpeedup <= 0 || !rep.QuotaRaised {
				t.Errorf("report: %+v", rep)
			}
			err = rep.Check()
			if c.wantErr == "" && err != nil {
				t.Errorf("check: %v", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("check: %v, want %q", err, c.wantErr)
			}
			// everything was deleted again, the quota put back as it was
			if len(f.networks)+len(f.subnets)+len(f.ports) != 0 {
				t.Errorf("left %d networks, %d subnets, %d ports", len(f.networks), len(f.subnets), len(f.ports))
			}
			if !slices.Equal(f.quotaOps, []string{"put -1", "delete"}) || f.portLimit != 500 {
				t.Errorf("quota operations %v, limit %d", f.quotaOps, f.portLimit)
			}

			var table, js bytes.Buffer
			if err := rep.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			wantLines := []string{"port create", "ops/s", "network+subnet create+delete", "10-port create/delete iteration: median",
				"upstream Neutron (Rally) 380ms", "quota was lifted"}
			if c.sameIP {
				wantLines = append(wantLines, "600 ports created, 1 distinct IPv4 addresses (FAILED: shared 10.240.0.1)")
			} else {
				wantLines = append(wantLines, "600 distinct IPv4 addresses (all distinct)")
			}
			for _, w := range wantLines {
				if !strings.Contains(table.String(), w) {
					t.Errorf("table lacks %q:\n%s", w, table.String())
				}
			}
			if err := rep.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			var back NetworkReport
			if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Scenarios) != 5 || back.PortsCreated != 600 {
				t.Fatalf("JSON round trip: %v", err)
			}
		})
	}
}

func TestNetworkRefusesASmallSubnet(t *testing.T) {
	_, err := Network(context.Background(), NetworkOptions{Ports: 300, CIDR: "10.0.0.0/24", Concurrency: 8}, nil)
	if err == nil || !strings.Contains(err.Error(), "253 addresses") {
		t.Fatalf("err = %v", err)
	}
}
