package metadata

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPassword follows upstream's handle_password: GET reads, POST stores once.
func TestPassword(t *testing.T) {
	src := newFakeSource(instanceB())
	h := Handler(src, testOptions())
	post := func(body string) *httptest.ResponseRecorder {
		r := request("POST", "/openstack/latest/password", uuidB, "proj-b")
		r.Body, r.ContentLength = readCloser(body), int64(len(body))
		return serve(h, r)
	}
	httpCase{"", request("GET", "/openstack/latest/password", uuidB, "proj-b"), 200, contentHTML, ""}.check(t, h)
	if w := post(strings.Repeat("x", maxPasswordSize+1)); w.Code != 400 || w.Body.String() != badRequest("Request is too large.") {
		t.Errorf("too large: %d %q", w.Code, w.Body.String())
	}
	if w := post("ZW5jcnlwdGVk"); w.Code != 200 || w.Body.String() != "" {
		t.Errorf("POST: %d %q", w.Code, w.Body.String())
	}
	httpCase{"", request("GET", "/openstack/2013-04-04/password", uuidB, "proj-b"), 200, contentHTML, "ZW5jcnlwdGVk"}.check(t, h)
	if w := post("again"); w.Code != 409 || w.Body.String() != "409 Conflict\n\nThere was a conflict when trying to complete your request.\n\n   " {
		t.Errorf("second POST: %d %q", w.Code, w.Body.String())
	}
	httpCase{"", request("PUT", "/openstack/latest/password", uuidB, "proj-b"), 400, contentText, badRequest("GET and POST only are supported.")}.check(t, h)

	// A Source that cannot store passwords refuses the POST.
	h = Handler(readOnlySource{src}, testOptions())
	i, _ := src.Instance(context.Background(), uuidB)
	i.Password = ""
	src.instances[uuidB] = i
	if w := post("x"); w.Code != 400 || w.Body.String() != badRequest("Storing a password is not supported.") {
		t.Errorf("POST to a read-only source: %d %q", w.Code, w.Body.String())
	}
}

// readOnlySource hides the PasswordStore of a Source.
type readOnlySource struct{ s Source }

func (r readOnlySource) Instance(ctx context.Context, uuid string) (*Instance, error) {
	return r.s.Instance(ctx, uuid)
}
