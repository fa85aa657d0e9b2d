package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fake compute hosts' resources (virt/fake's defaults) and the scheduler's
// default ratios and reservation: what no host may be claimed beyond. (vCPUs are
// not limited by the default filters, as upstream's, where placement counts them.)
const (
	fakeHostMemoryMB = 16384
	fakeHostDiskGB   = 500
	ramRatio         = 1.5
	diskRatio        = 1.0
	reservedMemoryMB = 512
)

// TestComputeScale is the fake driver's scale acceptance: 1,000 servers requested
// concurrently across 10 fake hosts all reach ACTIVE, each with a port; no host is
// claimed beyond its capacity times the allocation ratios (the flavor packs the
// hosts to about 93% of their RAM); the listings page through all of them; and
// every server is deleted again. No timing is asserted: `nimbus bench compute`
// measures.
func TestComputeScale(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cloud of its own and boots 1,000 servers")
	}
	t.Parallel()
	const servers, hosts = 1000, 10
	c, err := StartCloudEnv(filepath.Join(t.TempDir(), "cloud"), []string{"NIMBUS_IMAGE_GUEST_IMAGE=false",
		"NIMBUS_COMPUTE_DRIVER=fake", fmt.Sprintf("NIMBUS_COMPUTE_FAKE_HOSTS=%d", hosts),
		"NIMBUS_COMPUTE_QUOTA_INSTANCES=-1", "NIMBUS_COMPUTE_QUOTA_CORES=-1", "NIMBUS_COMPUTE_QUOTA_RAM=-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop the cloud: %v\n%s", err, tailString(c.Log(), 3000))
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	api := loginAdmin(ctx, t, c)

	// Fixtures: an image (the fake driver never reads it), a flavor that fills
	// the hosts' RAM to ~93% with 1,000 servers, a network for their ports.
	var img struct{ ID string }
	api.do(ctx, t, http.MethodPost, api.image+"/v2/images", map[string]any{"name": "scale", "disk_format": "raw",
		"container_format": "bare"}, http.StatusCreated, &img)
	api.raw(ctx, t, http.MethodPut, api.image+"/v2/images/"+img.ID+"/file", make([]byte, 1<<16), http.StatusNoContent)
	var fl struct{ Flavor struct{ ID string } }
	const flavorRAM = 224
	api.do(ctx, t, http.MethodPost, api.compute+"/flavors", map[string]any{"flavor": map[string]any{"name": "scale",
		"vcpus": 1, "ram": flavorRAM, "disk": 1}}, http.StatusOK, &fl)
	var net struct{ Network struct{ ID string } }
	api.do(ctx, t, http.MethodPost, api.network+"/v2.0/networks", map[string]any{"network": map[string]any{"name": "scale"}},
		http.StatusCreated, &net)
	api.do(ctx, t, http.MethodPost, api.network+"/v2.0/subnets", map[string]any{"subnet": map[string]any{"name": "scale",
		"network_id": net.Network.ID, "ip_version": 4, "cidr": "10.96.0.0/21"}}, http.StatusCreated, nil)
	api.do(ctx, t, http.MethodPut, api.network+"/v2.0/quotas/"+api.project, map[string]any{"quota": map[string]any{"port": -1}},
		http.StatusOK, nil)

	// 1,000 POST /servers, 16 at a time.
	ids := make(chan string, servers)
	work := make(chan int)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var errs []string
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				var out struct{ Server struct{ ID string } }
				err := api.call(ctx, http.MethodPost, api.compute+"/servers", map[string]any{"server": map[string]any{
					"name": fmt.Sprintf("scale-%d", i), "imageRef": img.ID, "flavorRef": fl.Flavor.ID,
					"networks": []map[string]string{{"uuid": net.Network.ID}}}}, http.StatusAccepted, &out)
				if err != nil {
					errMu.Lock()
					errs = append(errs, err.Error())
					errMu.Unlock()
					continue
				}
				ids <- out.Server.ID
			}
		}()
	}
	for i := range servers {
		work <- i
	}
	close(work)
	wg.Wait()
	close(ids)
	if len(errs) > 0 {
		t.Fatalf("%d of %d POST /servers failed, the first: %s", len(errs), servers, errs[0])
	}
	want := map[string]bool{}
	for id := range ids {
		want[id] = true
	}

	// All ACTIVE, each with an address, paging through /servers/detail.
	var listed []scaleServer
	for {
		listed = api.listAll(ctx, t, api.compute+"/servers/detail?all_tenants=1&limit=100")
		active, failed := 0, []string{}
		for _, s := range listed {
			switch s.Status {
			case "ACTIVE":
				active++
			case "ERROR":
				failed = append(failed, s.ID+": "+s.Fault.Message)
			}
		}
		if len(failed) > 0 {
			t.Fatalf("%d servers in ERROR, e.g. %s", len(failed), failed[0])
		}
		if active == servers {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d of %d servers ACTIVE when time ran out", active, servers)
		}
		time.Sleep(time.Second)
	}
	if len(listed) != servers {
		t.Fatalf("listed %d servers, want %d", len(listed), servers)
	}
	type claim struct{ ram, disk, n int }
	perHost := map[string]*claim{}
	for _, s := range listed {
		if !want[s.ID] {
			t.Fatalf("listed server %s that the test did not create", s.ID)
		}
		delete(want, s.ID)
		if s.Host == "" {
			t.Fatalf("ACTIVE server %s has no OS-EXT-SRV-ATTR:host", s.ID)
		}
		if len(s.Addresses["scale"]) == 0 {
			t.Fatalf("server %s has no address on network scale: %v", s.ID, s.Addresses)
		}
		h := perHost[s.Host]
		if h == nil {
			h = &claim{}
			perHost[s.Host] = h
		}
		h.n++
		h.ram, h.disk = h.ram+flavorRAM, h.disk+1
	}
	if len(want) > 0 {
		t.Fatalf("%d created servers were not listed", len(want))
	}
	if len(perHost) != hosts {
		t.Errorf("servers landed on %d hosts, want all %d", len(perHost), hosts)
	}
	ramLimit := int(fakeHostMemoryMB*ramRatio) - reservedMemoryMB
	for host, h := range perHost {
		if h.ram > ramLimit || h.disk > int(fakeHostDiskGB*diskRatio) {
			t.Errorf("host %s overcommitted: %d servers claim %d MB, %d GB (limits %d MB, %d GB)", host, h.n,
				h.ram, h.disk, ramLimit, int(fakeHostDiskGB*diskRatio))
		}
	}
	// The hypervisors' own accounting, where the cloud has os-hypervisors.
	var hv struct {
		Hypervisors []struct {
			Name         string `json:"hypervisor_hostname"`
			MemoryMBUsed int    `json:"memory_mb_used"`
			MemoryMB     int    `json:"memory_mb"`
			VCPUsUsed    int    `json:"vcpus_used"`
		}
	}
	if err := api.call(ctx, http.MethodGet, api.compute+"/os-hypervisors/detail", nil, http.StatusOK, &hv); err == nil {
		for _, h := range hv.Hypervisors {
			// memory_mb_used counts the reserved memory, as upstream's.
			if used := h.MemoryMBUsed; used > int(float64(h.MemoryMB)*ramRatio) {
				t.Errorf("os-hypervisors: %s has %d MB used of %d MB (x%.1f)", h.Name, used, h.MemoryMB, ramRatio)
			}
		}
	} else {
		t.Logf("no os-hypervisors (%v): claims checked from the servers' hosts", err)
	}

	// The index listing pages the same servers, at its default page size too.
	for _, path := range []string{"/servers?limit=250", "/servers"} {
		index := api.listAll(ctx, t, api.compute+path)
		seen := map[string]bool{}
		for _, s := range index {
			seen[s.ID] = true
		}
		if len(index) != servers || len(seen) != servers {
			t.Errorf("GET %s paged through %d servers (%d distinct), want %d", path, len(index), len(seen), servers)
		}
	}

	// Every server deleted, its port with it.
	work = make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := api.call(ctx, http.MethodDelete, api.compute+"/servers/"+listed[i].ID, nil, http.StatusNoContent, nil); err != nil {
					errMu.Lock()
					errs = append(errs, err.Error())
					errMu.Unlock()
				}
			}
		}()
	}
	for i := range listed {
		work <- i
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d DELETE /servers failed, the first: %s", len(errs), errs[0])
	}
	for {
		left := api.listAll(ctx, t, api.compute+"/servers?all_tenants=1")
		if len(left) == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d servers left when time ran out", len(left))
		}
		time.Sleep(time.Second)
	}
	var ports struct {
		Ports []struct {
			DeviceOwner string `json:"device_owner"`
		}
	}
	api.do(ctx, t, http.MethodGet, api.network+"/v2.0/ports?network_id="+net.Network.ID, nil, http.StatusOK, &ports)
	for _, p := range ports.Ports {
		if strings.HasPrefix(p.DeviceOwner, "compute:") {
			t.Errorf("compute ports are left on the network after the deletes (%d ports in all)", len(ports.Ports))
			break
		}
	}
}

// scaleServer is what the scale test reads of a listed server.
type scaleServer struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Host      string `json:"OS-EXT-SRV-ATTR:host"`
	Addresses map[string][]struct {
		Addr string `json:"addr"`
	} `json:"addresses"`
	Fault struct{ Message string } `json:"fault"`
}

// adminAPI is the REST client of the scale test: the admin's token and the
// catalog's compute, image and network endpoints.
type adminAPI struct {
	client                  *http.Client
	token, project          string
	compute, image, network string
}

// loginAdmin logs in as the bootstrap admin (project admin) and reads the catalog.
func loginAdmin(ctx context.Context, t *testing.T, c *Cloud) *adminAPI {
	t.Helper()
	a := &adminAPI{client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}}
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{"user": map[string]any{
			"name": "admin", "domain": map[string]string{"id": "default"}, "password": c.Secret("admin")}}},
		"scope": map[string]any{"project": map[string]any{"name": "admin", "domain": map[string]string{"id": "default"}}}}}
	data, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.IdentityURL+"/v3/auth/tokens", bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		Token struct {
			Project struct{ ID string }
			Catalog []struct {
				Type      string
				Endpoints []struct{ Interface, URL string }
			}
		}
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("login: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		t.Fatal(err)
	}
	a.token, a.project = resp.Header.Get("X-Subject-Token"), tok.Token.Project.ID
	for _, s := range tok.Token.Catalog {
		for _, e := range s.Endpoints {
			if e.Interface != "public" {
				continue
			}
			u := strings.TrimRight(e.URL, "/")
			switch s.Type {
			case "compute":
				a.compute = u
			case "image":
				a.image = u
			case "network":
				a.network = strings.TrimSuffix(u, "/v2.0")
			}
		}
	}
	if a.compute == "" || a.image == "" || a.network == "" {
		t.Fatalf("catalog lacks compute, image or network: %+v", tok.Token.Catalog)
	}
	return a
}

// call sends body as JSON (nil: none), wants status and decodes the answer into out (if not nil).
func (a *adminAPI) call(ctx context.Context, method, u string, body any, status int, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		return fmt.Errorf("%s %s: status %d, want %d: %.300s", method, u, resp.StatusCode, status, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (a *adminAPI) do(ctx context.Context, t *testing.T, method, u string, body any, status int, out any) {
	t.Helper()
	if err := a.call(ctx, method, u, body, status, out); err != nil {
		t.Fatal(err)
	}
}

// raw sends data as application/octet-stream.
func (a *adminAPI) raw(ctx context.Context, t *testing.T, method, u string, data []byte, status int) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(data))
	req.Header.Set("X-Auth-Token", a.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d", method, u, resp.StatusCode, status)
	}
}

// listAll follows a server listing's next links to its end.
func (a *adminAPI) listAll(ctx context.Context, t *testing.T, u string) []scaleServer {
	t.Helper()
	var all []scaleServer
	for pages := 0; u != ""; pages++ {
		if pages > 1000 {
			t.Fatalf("more than 1000 pages: the next links loop")
		}
		var doc struct {
			Servers []scaleServer
			Links   []struct{ Rel, Href string } `json:"servers_links"`
		}
		a.do(ctx, t, http.MethodGet, u, nil, http.StatusOK, &doc)
		all, u = append(all, doc.Servers...), ""
		for _, l := range doc.Links {
			if l.Rel == "next" {
				if _, err := url.Parse(l.Href); err != nil {
					t.Fatalf("next link %q: %v", l.Href, err)
				}
				u = l.Href
			}
		}
	}
	return all
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
