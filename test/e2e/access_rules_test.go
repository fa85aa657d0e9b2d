package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAccessRulesAreEnforcedByEveryService: an application credential limited by
// access rules calls only what they allow, on every service (keystonemiddleware's
// validate_allowed_request upstream), while compute, booting a server for it,
// still reaches image and network on its behalf with its service token.
func TestAccessRulesAreEnforcedByEveryService(t *testing.T) {
	c := shared
	imageID := fakeImage(t, c, uniqueName("access-rules-img"))
	demoTok, info := login(t, c, "demo", c.Secret("demo"), "demo")
	urls := catalogURLs(t, c, demoTok)
	path := func(service, rest string) string {
		u, err := url.Parse(urls[service])
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimRight(u.Path, "/") + rest
	}
	var networks struct {
		Networks []struct{ ID, Name string } `json:"networks"`
	}
	r := request(t, "GET", urls["network"]+"/v2.0/networks?name=private", demoTok, nil)
	decodeJSON(t, string(r.Body), &networks)
	var flavors struct {
		Flavors []struct{ ID, Name string } `json:"flavors"`
	}
	r = request(t, "GET", urls["compute"]+"/flavors", demoTok, nil)
	decodeJSON(t, string(r.Body), &flavors)
	if len(networks.Networks) != 1 || len(flavors.Flavors) == 0 {
		t.Fatalf("network private %v, flavors %v", networks, flavors)
	}

	appCred := func(name string, rules ...map[string]any) string {
		t.Helper()
		r := request(t, "POST", c.IdentityURL+"/v3/users/"+info.Token.User.ID+"/application_credentials", demoTok,
			map[string]any{"application_credential": map[string]any{"name": uniqueName(name), "access_rules": rules}})
		if r.Status != http.StatusCreated {
			t.Fatalf("create application credential: %v", r)
		}
		var ac struct {
			ApplicationCredential struct{ ID, Secret string } `json:"application_credential"`
		}
		decodeJSON(t, string(r.Body), &ac)
		noteSecret(ac.ApplicationCredential.Secret)
		t.Cleanup(func() {
			request(t, "DELETE", c.IdentityURL+"/v3/users/"+info.Token.User.ID+"/application_credentials/"+ac.ApplicationCredential.ID, demoTok, nil)
		})
		r = request(t, "POST", c.IdentityURL+"/v3/auth/tokens?nocatalog", "", map[string]any{"auth": map[string]any{
			"identity": map[string]any{"methods": []string{"application_credential"}, "application_credential": map[string]any{
				"id": ac.ApplicationCredential.ID, "secret": ac.ApplicationCredential.Secret}}}})
		if r.Status != http.StatusCreated {
			t.Fatalf("application credential login: %v", r)
		}
		noteSecret(r.Header.Get("X-Subject-Token"))
		return r.Header.Get("X-Subject-Token")
	}
	rule := func(service, method, p string) map[string]any {
		return map[string]any{"service": service, "method": method, "path": p}
	}
	status := func(method, u, token string, body any) int {
		t.Helper()
		return request(t, method, u, token, body).Status
	}

	// Image list only: the list answers, nothing else does, on any service.
	imagesOnly := appCred("images-only", rule("image", "GET", path("image", "/v2/images")))
	for _, tt := range []struct {
		what, method, url string
		want              int
	}{
		{"the image list", "GET", urls["image"] + "/v2/images", http.StatusOK},
		{"one image", "GET", urls["image"] + "/v2/images/" + imageID, http.StatusUnauthorized},
		{"the network list", "GET", urls["network"] + "/v2.0/networks", http.StatusUnauthorized},
		{"the server list", "GET", urls["compute"] + "/servers", http.StatusUnauthorized},
		{"identity's catalog", "GET", c.IdentityURL + "/v3/auth/catalog", http.StatusUnauthorized},
	} {
		if got := status(tt.method, tt.url, imagesOnly, nil); got != tt.want {
			t.Errorf("%s with an images-only credential: %d, want %d", tt.what, got, tt.want)
		}
	}

	// Compute only: booting works, compute calling image and network for it with
	// its service token; the credential itself still cannot call them.
	serversPath := path("compute", "/servers")
	computeOnly := appCred("compute-only", rule("compute", "POST", serversPath), rule("compute", "GET", serversPath+"/*"),
		rule("compute", "DELETE", serversPath+"/*"))
	r = request(t, "POST", urls["compute"]+"/servers", computeOnly, map[string]any{"server": map[string]any{
		"name": uniqueName("access-rules-vm"), "imageRef": imageID, "flavorRef": flavors.Flavors[0].ID,
		"networks": []any{map[string]any{"uuid": networks.Networks[0].ID}}}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("boot with a compute-only credential: %v", r)
	}
	var created struct {
		Server struct{ ID string } `json:"server"`
	}
	decodeJSON(t, string(r.Body), &created)
	serverURL := urls["compute"] + "/servers/" + created.Server.ID
	t.Cleanup(func() { request(t, "DELETE", serverURL, demoTok, nil) })
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var s struct {
			Server struct {
				Status string
				Fault  struct{ Message string }
			} `json:"server"`
		}
		r := request(t, "GET", serverURL, computeOnly, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("show the server with the compute-only credential: %v", r)
		}
		decodeJSON(t, string(r.Body), &s)
		if s.Server.Status == "ACTIVE" {
			break
		}
		if s.Server.Status == "ERROR" || time.Now().After(deadline) {
			t.Fatalf("server %s: %s (%s)", created.Server.ID, s.Server.Status, s.Server.Fault.Message)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if got := status("GET", urls["image"]+"/v2/images/"+imageID, computeOnly, nil); got != http.StatusUnauthorized {
		t.Errorf("the image with a compute-only credential: %d, want 401", got)
	}
	if got := status("DELETE", serverURL, computeOnly, nil); got != http.StatusNoContent {
		t.Errorf("delete the server with the compute-only credential: %d", got)
	}
}

// catalogURLs maps each service type of the token's catalog to its public URL.
func catalogURLs(t *testing.T, c *Cloud, token string) map[string]string {
	t.Helper()
	r := request(t, "GET", c.IdentityURL+"/v3/auth/catalog", token, nil)
	var cat struct {
		Catalog []struct {
			Type      string
			Endpoints []struct{ Interface, URL string }
		} `json:"catalog"`
	}
	if err := json.Unmarshal(r.Body, &cat); err != nil || r.Status != http.StatusOK {
		t.Fatalf("catalog: %v", r)
	}
	out := map[string]string{}
	for _, s := range cat.Catalog {
		for _, e := range s.Endpoints {
			if e.Interface == "public" {
				out[s.Type] = strings.TrimSuffix(strings.TrimRight(e.URL, "/"), "/v2.0")
			}
		}
	}
	for _, typ := range []string{"compute", "image", "network"} {
		if out[typ] == "" {
			t.Fatalf("catalog lacks %s: %+v", typ, cat)
		}
	}
	return out
}
