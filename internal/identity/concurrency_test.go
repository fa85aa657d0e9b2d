package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
	"github.com/nimbus-cloud/nimbus/internal/platform/conctest"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

// The identity invariants under concurrency (issue 17): each test fires its calls
// at once with conctest.Burst, on one identity service and on two sharing one
// database (two Nimbus processes behind a load balancer), then checks what must
// hold whatever the interleaving. They run on SQLite and, with
// NIMBUS_TEST_DATABASE_URL set, on PostgreSQL.

const burst = 32

// instances runs test on one identity service and on two sharing one database.
func instances(t *testing.T, test func(t *testing.T, e *testEnv)) {
	for _, two := range []bool{false, true} {
		name := "one-instance"
		if two {
			name = "two-instances"
		}
		t.Run(name, func(t *testing.T) {
			e := newTestEnv(t)
			if two {
				e.addInstance()
			}
			test(t, e)
		})
	}
}

// addInstance starts a second identity service on the same database and keys and
// points e at a server that spreads requests over both, turn about. Each has its
// revocation list, as separate processes do (they share revocations over the bus,
// which these tests do not run).
func (e *testEnv) addInstance() {
	e.t.Helper()
	rr := &conctest.RoundRobin{}
	ts := httptest.NewUnstartedServer(rr)
	e.t.Cleanup(ts.Close)
	url := "http://" + ts.Listener.Addr().String()
	second := e.newInstance(url, nil)
	e.Svc.publicURL = url // both answer as the balancer's address (OAuth signatures cover it)
	rr.Handlers = []http.Handler{e.Svc.Handler(), second.Handler()}
	ts.Start()
	e.URL = ts.URL
	e.second = second
}

// newInstance is another identity service on e's database and keys, as another
// process would run, on bus b when not nil.
func (e *testEnv) newInstance(publicURL string, b *bus.Bus) *Service {
	e.t.Helper()
	svc, err := New(context.Background(), Options{DB: e.Svc.db, Config: e.Svc.cfg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Keys: e.Svc.keys,
		Revoked: auth.NewRevocationList(), Policy: policy.NewEnforcer(), PublicURL: publicURL, Bus: b})
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

// each applies f to every running instance.
func (e *testEnv) each(f func(s *Service)) {
	f(e.Svc)
	if e.second != nil {
		f(e.second)
	}
}

// reply is an answer as a burst keeps it.
type reply struct {
	status int
	body   map[string]any
	header http.Header
}

// try sends a request from any goroutine (it never fails the test itself).
func (e *testEnv) try(method, path, token string, body any, headers map[string]string) (reply, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		return reply{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	var out map[string]any
	if len(bytes.TrimSpace(data)) > 0 && json.Unmarshal(data, &out) != nil {
		out = map[string]any{"raw": string(data)}
	}
	return reply{status: resp.StatusCode, body: out, header: resp.Header}, nil
}

// answers are a burst's replies, in call order.
type answers []reply

func (a answers) count(status int) int {
	n := 0
	for _, r := range a {
		if r.status == status {
			n++
		}
	}
	return n
}

func (a answers) String() string {
	counts := map[int]int{}
	for _, r := range a {
		counts[r.status]++
	}
	return fmt.Sprint(counts)
}

// statusBurst runs n calls at once; a transport failure or a 5xx fails the test.
func statusBurst(t *testing.T, n int, call func(i int) (reply, error)) answers {
	t.Helper()
	a := make(answers, n)
	errs := conctest.Burst(n, func(i int) error {
		var err error
		a[i], err = call(i)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if a[i].status >= 500 {
			t.Errorf("call %d: %d %v", i, a[i].status, a[i].body)
		}
	}
	return a
}

// TestConcurrentCreatesOfOneName (acceptance 2): 32 creates of one name at once
// make exactly one resource: one 201, upstream's 409 for every other, one row.
func TestConcurrentCreatesOfOneName(t *testing.T) {
	instances(t, func(t *testing.T, e *testEnv) {
		adminID := extUserID(e, e.AdminToken)
		cases := []struct {
			kind, create, list string
			body               map[string]any
			method             string
		}{
			{"user", "/v3/users", "/v3/users?name=dup", map[string]any{"user": map[string]any{"name": "dup", "domain_id": "default"}}, "POST"},
			{"group", "/v3/groups", "/v3/groups?name=dup", map[string]any{"group": map[string]any{"name": "dup", "domain_id": "default"}}, "POST"},
			{"project", "/v3/projects", "/v3/projects?name=dup", map[string]any{"project": map[string]any{"name": "dup", "domain_id": "default"}}, "POST"},
			{"domain", "/v3/domains", "/v3/domains?name=dup", map[string]any{"domain": map[string]any{"name": "dup"}}, "POST"},
			{"global role", "/v3/roles", "/v3/roles?name=dup", map[string]any{"role": map[string]any{"name": "dup"}}, "POST"},
			{"domain role", "/v3/roles", "/v3/roles?name=dup&domain_id=default", map[string]any{"role": map[string]any{"name": "dup", "domain_id": "default"}}, "POST"},
			{"region", "/v3/regions/dup", "/v3/regions", map[string]any{"region": map[string]any{}}, "PUT"},
			{"application credential", "/v3/users/" + adminID + "/application_credentials",
				"/v3/users/" + adminID + "/application_credentials?name=dup", map[string]any{"application_credential": map[string]any{"name": "dup"}}, "POST"},
		}
		for _, c := range cases {
			a := statusBurst(t, burst, func(int) (reply, error) {
				return e.try(c.method, c.create, e.AdminToken, c.body, nil)
			})
			if a.count(http.StatusCreated) != 1 || a.count(http.StatusConflict) != burst-1 {
				t.Errorf("%s: answers %v, want one 201 and %d 409", c.kind, a, burst-1)
			}
			listed := e.Must(http.StatusOK, "GET", c.list, e.AdminToken, nil)
			n := 0
			for _, key := range []string{"users", "groups", "projects", "domains", "roles", "regions", "application_credentials"} {
				for _, o := range list(listed, key) {
					if o["name"] == "dup" || o["id"] == "dup" {
						n++
					}
				}
			}
			if n != 1 {
				t.Errorf("%s: %d listed named dup, want 1", c.kind, n)
			}
		}
	})
}

// TestConcurrentRenamesToOneName: 32 users renamed to one name at once: one of
// them gets it, the others upstream's 409.
func TestConcurrentRenamesToOneName(t *testing.T) {
	instances(t, func(t *testing.T, e *testEnv) {
		ids := make([]string, burst)
		for i := range ids {
			ids[i] = obj(e.Must(http.StatusCreated, "POST", "/v3/users", e.AdminToken,
				map[string]any{"user": map[string]any{"name": fmt.Sprint("u", i)}}), "user")["id"].(string)
		}
		a := statusBurst(t, burst, func(i int) (reply, error) {
			return e.try("PATCH", "/v3/users/"+ids[i], e.AdminToken, map[string]any{"user": map[string]any{"name": "taken"}}, nil)
		})
		if a.count(http.StatusOK) != 1 || a.count(http.StatusConflict) != burst-1 {
			t.Fatalf("answers %v, want one 200 and %d 409", a, burst-1)
		}
		if got := len(list(e.Must(http.StatusOK, "GET", "/v3/users?name=taken", e.AdminToken, nil), "users")); got != 1 {
			t.Fatalf("%d users named taken", got)
		}
	})
}

// TestConcurrentAccessRuleSharing: application credentials created at once with
// the same access rule share one rule, as upstream, and none of them fails.
func TestConcurrentAccessRuleSharing(t *testing.T) {
	instances(t, func(t *testing.T, e *testEnv) {
		adminID := extUserID(e, e.AdminToken)
		rule := []map[string]any{{"service": "compute", "path": "/v2.1/servers", "method": "GET"}}
		a := statusBurst(t, burst, func(i int) (reply, error) {
			return e.try("POST", "/v3/users/"+adminID+"/application_credentials", e.AdminToken,
				map[string]any{"application_credential": map[string]any{"name": fmt.Sprint("ac", i), "access_rules": rule}}, nil)
		})
		if a.count(http.StatusCreated) != burst {
			t.Fatalf("answers %v, want %d 201", a, burst)
		}
		rules := list(e.Must(http.StatusOK, "GET", "/v3/users/"+adminID+"/access_rules", e.AdminToken, nil), "access_rules")
		if len(rules) != 1 {
			t.Fatalf("%d access rules, want the one shared: %v", len(rules), rules)
		}
	})
}

// TestUpdatesRacingDisableKeepEverything: a disable racing other updates of one
// user, project and group stays, and no update loses another's attribute (each
// update used to write back the whole row it had read).
func TestUpdatesRacingDisableKeepEverything(t *testing.T) {
	instances(t, func(t *testing.T, e *testEnv) {
		for _, kind := range []string{"user", "project", "group"} {
			created := obj(e.Must(http.StatusCreated, "POST", "/v3/"+kind+"s", e.AdminToken,
				map[string]any{kind: map[string]any{"name": "racing-" + kind, "domain_id": "default"}}), kind)
			id := created["id"].(string)
			a := statusBurst(t, burst, func(i int) (reply, error) {
				change := map[string]any{fmt.Sprintf("x%02d", i): "v"}
				if i == burst/2 && kind != "group" {
					change = map[string]any{"enabled": false}
				}
				return e.try("PATCH", "/v3/"+kind+"s/"+id, e.AdminToken, map[string]any{kind: change}, nil)
			})
			if a.count(http.StatusOK) != burst {
				t.Errorf("%s: answers %v, want all 200", kind, a)
			}
			got := obj(e.Must(http.StatusOK, "GET", "/v3/"+kind+"s/"+id, e.AdminToken, nil), kind)
			if kind != "group" && got["enabled"] != false {
				t.Errorf("%s: enabled again after the updates", kind)
			}
			for i := range burst {
				if key := fmt.Sprintf("x%02d", i); (i != burst/2 || kind == "group") && got[key] != "v" {
					t.Errorf("%s: attribute %s lost", kind, key)
				}
			}
		}
	})
}

// TestPasswordChangeRacingRename: a user's new password stays whatever renames
// race it (a rename used to write back the password hash it had read).
func TestPasswordChangeRacingRename(t *testing.T) {
	instances(t, func(t *testing.T, e *testEnv) {
		id := obj(e.Must(http.StatusCreated, "POST", "/v3/users", e.AdminToken,
			map[string]any{"user": map[string]any{"name": "pw", "password": "old-password"}}), "user")["id"].(string)
		a := statusBurst(t, burst, func(i int) (reply, error) {
			change := map[string]any{"description": fmt.Sprint("d", i)}
			if i == burst/2 {
				change = map[string]any{"password": "new-password"}
			}
			return e.try("PATCH", "/v3/users/"+id, e.AdminToken, map[string]any{"user": change}, nil)
		})
		if a.count(http.StatusOK) != burst {
			t.Fatalf("answers %v, want all 200", a)
		}
		login := func(password string) int {
			status, _, _ := e.Do("POST", "/v3/auth/tokens", "", map[string]any{"auth": map[string]any{"identity": map[string]any{
				"methods": []string{"password"}, "password": map[string]any{"user": map[string]any{"id": id, "password": password}}}}})
			return status
		}
		if login("new-password") != http.StatusCreated || login("old-password") != http.StatusUnauthorized {
			t.Fatal("the new password did not stay")
		}
	})
}

// TestProjectTagsUnderConcurrency: one tag added 32 times at once is one tag (all
// answer 201, as the idempotent PUT it is), and distinct tags added at once never
// take a project past upstream's 80.
func TestProjectTagsUnderConcurrency(t *testing.T) {
	instances(t, func(t *testing.T, e *testEnv) {
		id := extCreateProject(e, "tagged")
		a := statusBurst(t, burst, func(int) (reply, error) {
			return e.try("PUT", "/v3/projects/"+id+"/tags/same", e.AdminToken, nil, nil)
		})
		if a.count(http.StatusCreated) != burst {
			t.Fatalf("same tag: answers %v, want %d 201", a, burst)
		}
		tags := make([]string, 70)
		for i := range tags {
			tags[i] = fmt.Sprint("t", i)
		}
		e.Must(http.StatusOK, "PUT", "/v3/projects/"+id+"/tags", e.AdminToken, map[string]any{"tags": tags})
		a = statusBurst(t, burst, func(i int) (reply, error) {
			return e.try("PUT", fmt.Sprintf("/v3/projects/%s/tags/n%d", id, i), e.AdminToken, nil, nil)
		})
		if a.count(http.StatusCreated) != 10 || a.count(http.StatusBadRequest) != burst-10 {
			t.Errorf("distinct tags: answers %v, want 10 201 and %d 400", a, burst-10)
		}
		if got := e.Must(http.StatusOK, "GET", "/v3/projects/"+id+"/tags", e.AdminToken, nil)["tags"].([]any); len(got) != 80 {
			t.Errorf("%d tags, want 80", len(got))
		}
	})
}

// TestLockoutUnderConcurrentGuesses: with lockout after 3 failures, 32 wrong
// passwords at once check at most 3 of them; the others find the account
// locked, and so does the right password afterwards.
func TestLockoutUnderConcurrentGuesses(t *testing.T) {
	instances(t, func(t *testing.T, e *testEnv) {
		e.each(func(s *Service) { s.cfg.LockoutFailureAttempts = 3 })
		id := obj(e.Must(http.StatusCreated, "POST", "/v3/users", e.AdminToken,
			map[string]any{"user": map[string]any{"name": "guessed", "password": "right-password"}}), "user")["id"].(string)
		login := func(password string) (reply, error) {
			return e.try("POST", "/v3/auth/tokens", "", map[string]any{"auth": map[string]any{"identity": map[string]any{
				"methods": []string{"password"}, "password": map[string]any{"user": map[string]any{"id": id, "password": password}}}}}, nil)
		}
		a := statusBurst(t, burst, func(i int) (reply, error) { return login(fmt.Sprint("guess-", i)) })
		checked := 0
		for i, r := range a {
			if r.status != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d", i, r.status)
			}
			if !strings.Contains(fmt.Sprint(r.body), "locked") {
				checked++
			}
		}
		if checked > 3 {
			t.Fatalf("%d passwords checked before the lockout, want at most 3", checked)
		}
		r, err := login("right-password")
		if err != nil || r.status != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(r.body), "locked") {
			t.Fatalf("right password after the lockout: %d %v %v", r.status, r.body, err)
		}
	})
}

// TestCreatesRacingParentDeleteLeaveNoOrphans: users, groups and projects created
// in a domain (or under a project) that is deleted at the same time either come
// first and go with it, or find it gone (404): none outlives it.
func TestCreatesRacingParentDeleteLeaveNoOrphans(t *testing.T) {
	instances(t, func(t *testing.T, e *testEnv) {
		for try := range 3 {
			domain := obj(e.Must(http.StatusCreated, "POST", "/v3/domains", e.AdminToken,
				map[string]any{"domain": map[string]any{"name": fmt.Sprint("doomed", try)}}), "domain")["id"].(string)
			e.Must(http.StatusOK, "PATCH", "/v3/domains/"+domain, e.AdminToken, map[string]any{"domain": map[string]any{"enabled": false}})
			parent := obj(e.Must(http.StatusCreated, "POST", "/v3/projects", e.AdminToken,
				map[string]any{"project": map[string]any{"name": fmt.Sprint("parent", try), "domain_id": "default"}}), "project")["id"].(string)
			statusBurst(t, burst, func(i int) (reply, error) {
				name := fmt.Sprint("child", i)
				switch {
				case i == 8*try:
					return e.try("DELETE", "/v3/domains/"+domain, e.AdminToken, nil, nil)
				case i == 8*try+1:
					return e.try("DELETE", "/v3/projects/"+parent, e.AdminToken, nil, nil)
				case i%4 == 0:
					return e.try("POST", "/v3/users", e.AdminToken, map[string]any{"user": map[string]any{"name": name, "domain_id": domain}}, nil)
				case i%4 == 1:
					return e.try("POST", "/v3/groups", e.AdminToken, map[string]any{"group": map[string]any{"name": name, "domain_id": domain}}, nil)
				case i%4 == 2:
					return e.try("POST", "/v3/projects", e.AdminToken, map[string]any{"project": map[string]any{"name": name, "domain_id": domain}}, nil)
				default:
					return e.try("POST", "/v3/projects", e.AdminToken, map[string]any{"project": map[string]any{"name": name, "parent_id": parent}}, nil)
				}
			})
			ctx := context.Background()
			for _, q := range []struct{ what, sql, id string }{
				{"users of the deleted domain", `SELECT COUNT(*) FROM users WHERE domain_id = ?`, domain},
				{"groups of the deleted domain", `SELECT COUNT(*) FROM groups WHERE domain_id = ?`, domain},
				{"projects of the deleted domain", `SELECT COUNT(*) FROM projects WHERE domain_id = ?`, domain},
				{"the deleted domain", `SELECT COUNT(*) FROM projects WHERE id = ?`, domain},
			} {
				var n int
				if err := e.Svc.db.QueryRowContext(ctx, q.sql, q.id).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("try %d: %d %s", try, n, q.what)
				}
			}
			var parents, children int
			if err := e.Svc.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM projects WHERE id = ?`, parent).Scan(&parents); err != nil {
				t.Fatal(err)
			}
			if err := e.Svc.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM projects WHERE parent_id = ?`, parent).Scan(&children); err != nil {
				t.Fatal(err)
			}
			if parents == 0 && children > 0 {
				t.Errorf("try %d: %d projects under a deleted parent", try, children)
			}
		}
	})
}

// TestGrantsRacingDeletesLeaveNoDanglingAssignments: role assignments made while
// their user, group, project or role is deleted either come first and go with
// it, or find it gone (404).
func TestGrantsRacingDeletesLeaveNoDanglingAssignments(t *testing.T) {
	instances(t, func(t *testing.T, e *testEnv) {
		for try := range 3 {
			user := obj(e.Must(http.StatusCreated, "POST", "/v3/users", e.AdminToken,
				map[string]any{"user": map[string]any{"name": fmt.Sprint("granted", try)}}), "user")["id"].(string)
			group := obj(e.Must(http.StatusCreated, "POST", "/v3/groups", e.AdminToken,
				map[string]any{"group": map[string]any{"name": fmt.Sprint("granted", try)}}), "group")["id"].(string)
			project := extCreateProject(e, fmt.Sprint("granted", try))
			role := obj(e.Must(http.StatusCreated, "POST", "/v3/roles", e.AdminToken,
				map[string]any{"role": map[string]any{"name": fmt.Sprint("granted", try)}}), "role")["id"].(string)
			statusBurst(t, burst, func(i int) (reply, error) {
				switch i {
				case try * 4:
					return e.try("DELETE", "/v3/users/"+user, e.AdminToken, nil, nil)
				case try*4 + 1:
					return e.try("DELETE", "/v3/groups/"+group, e.AdminToken, nil, nil)
				case try*4 + 2:
					return e.try("DELETE", "/v3/projects/"+project, e.AdminToken, nil, nil)
				case try*4 + 3:
					return e.try("DELETE", "/v3/roles/"+role, e.AdminToken, nil, nil)
				}
				if i%2 == 0 {
					return e.try("PUT", "/v3/projects/"+project+"/users/"+user+"/roles/"+role, e.AdminToken, nil, nil)
				}
				return e.try("PUT", "/v3/projects/"+project+"/groups/"+group+"/roles/"+role, e.AdminToken, nil, nil)
			})
			var n int
			if err := e.Svc.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM assignments
				WHERE actor_id IN (?, ?) OR target_id = ? OR role_id = ?`, user, group, project, role).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("try %d: %d assignments left of deleted users, groups, projects and roles", try, n)
			}
		}
	})
}

// TestImpliedRolesRacingMakeNoCycle: "a implies b" and "b implies a" asked at once
// never both hold.
func TestImpliedRolesRacingMakeNoCycle(t *testing.T) {
	instances(t, func(t *testing.T, e *testEnv) {
		for try := range 4 {
			a := obj(e.Must(http.StatusCreated, "POST", "/v3/roles", e.AdminToken,
				map[string]any{"role": map[string]any{"name": fmt.Sprint("a", try)}}), "role")["id"].(string)
			b := obj(e.Must(http.StatusCreated, "POST", "/v3/roles", e.AdminToken,
				map[string]any{"role": map[string]any{"name": fmt.Sprint("b", try)}}), "role")["id"].(string)
			statusBurst(t, burst, func(i int) (reply, error) {
				if i%2 == 0 {
					return e.try("PUT", "/v3/roles/"+a+"/implies/"+b, e.AdminToken, nil, nil)
				}
				return e.try("PUT", "/v3/roles/"+b+"/implies/"+a, e.AdminToken, nil, nil)
			})
			var n int
			if err := e.Svc.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM implied_roles
				WHERE prior_role_id IN (?, ?)`, a, b).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Fatalf("try %d: %d inference rules between a and b, want 1", try, n)
			}
		}
	})
}

// TestOAuth1RequestTokenExchangedOnce: an authorized request token exchanged 32
// times at once yields one access token.
func TestOAuth1RequestTokenExchangedOnce(t *testing.T) {
	instances(t, func(t *testing.T, e *testEnv) {
		f := newOAuth1Fixture(t, e)
		reqToken, reqSecret := f.requestToken(t, e, "HMAC-SHA1")
		verifier := f.authorize(t, e, reqToken, map[string]any{"name": "admin"})
		headers := make([]string, burst)
		for i := range headers {
			sg := f.signer("HMAC-SHA1")
			sg.token, sg.tokenSecret, sg.nonce = reqToken, reqSecret, fmt.Sprint("exchange-", i)
			sg.extra = map[string]string{"oauth_verifier": verifier}
			headers[i] = sg.header("POST", e.URL+"/v3/OS-OAUTH1/access_token")
		}
		a := statusBurst(t, burst, func(i int) (reply, error) {
			return e.try("POST", "/v3/OS-OAUTH1/access_token", "", nil, map[string]string{"Authorization": headers[i]})
		})
		if a.count(http.StatusCreated) != 1 {
			t.Fatalf("answers %v, want one 201", a)
		}
		var n int
		if err := e.Svc.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM oauth1_access_tokens`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("%d access tokens from one request token", n)
		}
	})
}

// TestTokensRacingDisableAndDeleteAreRevoked: a token issued while its user is
// disabled or its project deleted is either refused or revoked: none of them
// validates afterwards. One instance: a second process would learn the
// revocations over the bus.
func TestTokensRacingDisableAndDeleteAreRevoked(t *testing.T) {
	e := newTestEnv(t)
	for try := range 4 {
		name := fmt.Sprint("revoked", try)
		project := extCreateProject(e, name)
		user := obj(e.Must(http.StatusCreated, "POST", "/v3/users", e.AdminToken,
			map[string]any{"user": map[string]any{"name": name, "password": "pw"}}), "user")["id"].(string)
		e.Must(http.StatusNoContent, "PUT", "/v3/projects/"+project+"/users/"+user+"/roles/"+extRoleID(t, e, "member"), e.AdminToken, nil)
		a := statusBurst(t, burst, func(i int) (reply, error) {
			switch i {
			case try * 3:
				return e.try("DELETE", "/v3/projects/"+project, e.AdminToken, nil, nil)
			case try*3 + 1:
				return e.try("PATCH", "/v3/users/"+user, e.AdminToken, map[string]any{"user": map[string]any{"enabled": false}}, nil)
			}
			return e.try("POST", "/v3/auth/tokens", "", map[string]any{"auth": map[string]any{
				"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{"user": map[string]any{"id": user, "password": "pw"}}},
				"scope":    map[string]any{"project": map[string]any{"id": project}}}}, nil)
		})
		for _, r := range a {
			token := r.header.Get("X-Subject-Token")
			if r.status != http.StatusCreated || token == "" {
				continue
			}
			if status, _, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": token}); status != http.StatusNotFound {
				t.Fatalf("try %d: a token issued racing the disable and the delete still validates (%d)", try, status)
			}
		}
	}
}

// TestTokenBodiesFollowOtherInstancesWrites: a token body another identity process
// rendered (and cached) is rendered again once this one writes what it shows: the
// write's note reaches it over the bus. Before, each process rebuilt its cache
// only on its own writes, and showed the old project name for ever.
func TestTokenBodiesFollowOtherInstancesWrites(t *testing.T) {
	e := newTestEnv(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	server, err := bus.Start(bus.Options{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Close)
	e.Svc.bus = server
	if err := e.Svc.followChanges(); err != nil {
		t.Fatal(err)
	}
	joined, err := bus.Start(bus.Options{URL: server.URL, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(joined.Close)
	other := e.newInstance(e.URL, joined)
	ts := httptest.NewServer(other.Handler())
	t.Cleanup(ts.Close)

	projectName := func() string {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+"/v3/auth/tokens", nil)
		req.Header.Set("X-Auth-Token", e.AdminToken)
		req.Header.Set("X-Subject-Token", e.DemoToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Token struct {
				Project struct{ Name string } `json:"project"`
			} `json:"token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body.Token.Project.Name
	}
	if got := projectName(); got != "demo" {
		t.Fatalf("project name %q, want demo", got)
	}
	demo := extProjectID(e, e.DemoToken)
	e.Must(http.StatusOK, "PATCH", "/v3/projects/"+demo, e.AdminToken, map[string]any{"project": map[string]any{"name": "renamed"}})
	// The note crosses the bus on its own time: wait for it, within a bound.
	for deadline := time.Now().Add(10 * time.Second); projectName() != "renamed"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the other instance still shows the old project name")
		}
	}
}
