package metadata

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	proxy "github.com/nimbus-cloud/nimbus/internal/network/dataplane/metadata"
)

// httpCase is one request and the answer upstream gives it.
type httpCase struct {
	name   string
	req    *http.Request
	status int
	ctype  string
	body   string
}

func (tc httpCase) check(t *testing.T, h http.Handler) {
	t.Helper()
	w := serve(h, tc.req)
	body := withoutSeed(t, w.Body.String())
	if w.Code != tc.status || body != tc.body {
		t.Errorf("%s %s: %d %q, want %d %q", tc.req.Method, tc.req.URL.Path, w.Code, body, tc.status, tc.body)
	}
	if got := w.Header().Get("Content-Type"); got != tc.ctype {
		t.Errorf("%s %s: Content-Type %q, want %q", tc.req.Method, tc.req.URL.Path, got, tc.ctype)
	}
}

const (
	notFound = "404 Not Found\n\nThe resource could not be found.\n\n   "
	ec2List  = "1.0\n2007-01-19\n2007-03-01\n2007-08-29\n2007-10-10\n2007-12-15\n2008-02-01\n2008-09-01\n2009-04-04\nlatest"
	osList   = "2012-08-10\n2013-04-04\n2013-10-17\n2015-10-15\n2016-06-30\n2016-10-06\n2017-02-22\n2018-08-27\n2020-10-14\n2025-04-04\nlatest"
)

func badRequest(msg string) string { return "400 Bad Request\n\n" + msg + "\n\n   " }

// TestSignatureChecks follows upstream's _handle_instance_id_request: the proxy's
// headers, its signature, the instance and its project.
func TestSignatureChecks(t *testing.T) {
	src := newFakeSource(instanceA(), instanceB())
	h := Handler(src, testOptions())
	const forbidden = "403 Forbidden\n\nInvalid proxy request signature.\n\n   "
	without := func(header string) *http.Request {
		r := request("GET", "/openstack/latest/meta_data.json", uuidB, "proj-b")
		r.Header.Del(header)
		return r
	}
	with := func(header, value string) *http.Request {
		r := request("GET", "/openstack/latest/meta_data.json", uuidB, "proj-b")
		r.Header.Set(header, value)
		return r
	}
	twice := func(header string) *http.Request {
		r := request("GET", "/openstack/latest/meta_data.json", uuidB, "proj-b")
		r.Header.Add(header, r.Header.Get(header))
		return r
	}
	wrongSecret := request("GET", "/openstack/latest/meta_data.json", uuidB, "proj-b")
	wrongSecret.Header.Set(proxy.HeaderSignature, proxy.Sign("other", uuidB))
	unsigned := httptest.NewRequest("GET", "/latest/meta-data/", nil)
	metaB := `{"uuid": "0000beef-0000-4000-8000-00000000000b", "hostname": "db.novalocal", "name": "db", "launch_index": 1, ` +
		`"availability_zone": "az2", "random_seed": "SEED", "project_id": "proj-b", "devices": [], "dedicated_cpus": []}`
	for _, tc := range []httpCase{
		{"good", request("GET", "/openstack/latest/meta_data.json", uuidB, "proj-b"), 200, contentJSON, metaB},
		{"no instance id", without(proxy.HeaderInstanceID), 400, contentText, badRequest("X-Instance-ID header is missing from request.")},
		{"no signature", without(proxy.HeaderSignature), 400, contentText, badRequest("X-Instance-ID-Signature header is missing from request.")},
		{"no tenant", without(proxy.HeaderTenantID), 400, contentText, badRequest("X-Tenant-ID header is missing from request.")},
		{"two instance ids", twice(proxy.HeaderInstanceID), 400, contentText, badRequest("Multiple X-Instance-ID headers found within request.")},
		{"two tenants", twice(proxy.HeaderTenantID), 400, contentText, badRequest("Multiple X-Tenant-ID headers found within request.")},
		{"nothing", unsigned, 400, contentText, badRequest("X-Instance-ID header is missing from request.")},
		{"bad signature", with(proxy.HeaderSignature, strings.Repeat("0", 64)), 403, contentText, forbidden},
		{"empty signature", with(proxy.HeaderSignature, ""), 403, contentText, forbidden},
		{"upper-case signature", with(proxy.HeaderSignature, strings.ToUpper(proxy.Sign(testSecret, uuidB))), 403, contentText, forbidden},
		{"another instance's signature", with(proxy.HeaderSignature, proxy.Sign(testSecret, uuidA)), 403, contentText, forbidden},
		{"wrong secret", wrongSecret, 403, contentText, forbidden},
		{"unknown instance", request("GET", "/openstack/latest/meta_data.json", "no-such-vm", "proj-b"), 404, contentText, notFound},
		{"another project", request("GET", "/openstack/latest/meta_data.json", uuidB, "proj-a"), 404, contentText, notFound},
		// The version list is the same for everyone: upstream answers it unsigned.
		{"root unsigned", httptest.NewRequest("GET", "/", nil), 200, contentText, ec2List},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, h) })
	}
	t.Run("source failure", func(t *testing.T) {
		src := newFakeSource(instanceB())
		src.err = errors.New("database is down")
		httpCase{"", request("GET", "/openstack/latest/meta_data.json", uuidB, "proj-b"), 500, contentText,
			"500 Internal Server Error\n\nAn unknown error has occurred. Please try your request again.\n\n   "}.check(t, Handler(src, testOptions()))
	})
}

// TestOwnData: the same paths answer each instance its own.
func TestOwnData(t *testing.T) {
	h := Handler(newFakeSource(instanceA(), instanceB()), testOptions())
	for _, tc := range []struct{ uuid, project, path, want string }{
		{uuidA, "proj-a", "/latest/meta-data/instance-id", "i-00000005"},
		{uuidB, "proj-b", "/latest/meta-data/instance-id", "i-0000002a"},
		{uuidA, "proj-a", "/latest/meta-data/hostname", "web-1.novalocal"},
		{uuidB, "proj-b", "/latest/meta-data/hostname", "db.novalocal"},
		{uuidA, "proj-a", "/openstack/latest/user_data", "#cloud-config\nhostname: web-1\n"},
		{uuidB, "proj-b", "/openstack/latest/user_data", notFound},
	} {
		w := serve(h, request("GET", tc.path, tc.uuid, tc.project))
		if w.Body.String() != tc.want {
			t.Errorf("%s %s = %q, want %q", tc.uuid, tc.path, w.Body.String(), tc.want)
		}
	}
	// The meta_data.json of each names its own UUID and project.
	for _, inst := range []*Instance{instanceA(), instanceB()} {
		body := serve(h, request("GET", "/openstack/latest/meta_data.json", inst.UUID, inst.ProjectID)).Body.String()
		if !strings.Contains(body, `"uuid": "`+inst.UUID+`"`) || !strings.Contains(body, `"project_id": "`+inst.ProjectID+`"`) {
			t.Errorf("meta_data.json of %s: %s", inst.UUID, body)
		}
	}
}
