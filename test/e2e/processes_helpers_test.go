package e2e

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Helpers of the tests that run a cloud as several processes on one PostgreSQL
// database (nimbus up and nimbus serve --role api) and load it concurrently.

// postgresSchemaURL creates a schema of its own for one cloud in the e2e
// PostgreSQL database, dropped at cleanup, and returns the database's URL with
// search_path set to it: clouds of parallel tests (and TestCloudOnPostgreSQL,
// which resets schema public) then share the database without meeting. Without
// NIMBUS_E2E_DATABASE_URL the test is skipped.
func postgresSchemaURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv(e2eDatabaseEnv)
	if url == "" {
		t.Skip(e2eDatabaseEnv + " is not set: no PostgreSQL database for a cloud of several processes " +
			"(`make postgres` creates one; `make test` sets it)")
	}
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "e2e_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

// processConnections bounds each process's connections to PostgreSQL: the
// processes of the tests running at once share the server's max_connections
// (100), which the default pool of 32 each would exhaust.
const processConnections = "NIMBUS_DATABASE_MAX_CONNECTIONS=12"

// startPostgresCloud starts `nimbus up` on a schema of its own (postgresSchemaURL),
// without the guest image, with env added; it is stopped at cleanup, before its
// schema is dropped.
func startPostgresCloud(t *testing.T, env ...string) *Cloud {
	t.Helper()
	url := postgresSchemaURL(t)
	c, err := StartCloudEnv(filepath.Join(t.TempDir(), "cloud"),
		append([]string{"NIMBUS_IMAGE_GUEST_IMAGE=false", processConnections}, env...), "--db", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop nimbus up: %v", err)
		}
		if t.Failed() {
			t.Logf("nimbus up log (tail):\n%s", failureLog(c.Log(), 60))
		}
	})
	return c
}

// startAPIProcess starts `nimbus serve --role api` beside the cloud c, with the
// api.toml c wrote, on ports of its own; it is stopped at cleanup (before c, which
// was started first). Restart starts it again with the api.toml of the moment (c
// writes a new one, with its new bus, at each start).
func startAPIProcess(t *testing.T, c *Cloud) *Cloud {
	t.Helper()
	p := &Cloud{Dir: c.Dir, Ready: "nimbus api ready", LogFile: filepath.Join(t.TempDir(), "api.log"),
		Env:  []string{processConnections},
		Args: []string{"serve", "--role", "api", "--config", filepath.Join(c.Dir, "api.toml"), "--ephemeral-ports"}}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop nimbus serve --role api: %v", err)
		}
		if t.Failed() {
			t.Logf("nimbus serve --role api log (tail):\n%s", failureLog(p.Log(), 60))
		}
	})
	return p
}

// apis are the API base URLs of one process serving a cloud.
type apis struct{ identity, compute, image, network string }

func apisOf(c *Cloud) apis {
	e := c.Endpoints
	return apis{identity: e["identity"] + "/v3", compute: e["compute"] + "/v2.1", image: e["image"] + "/v2",
		network: e["network"] + "/v2.0"}
}

// fleet is a cloud's processes as a client sees them behind a load balancer:
// request i goes to process i modulo their number.
type fleet []*Cloud

func (f fleet) at(i int) apis { return apisOf(f[i%len(f)]) }

// outcome is the answer to one request of a concurrent load (err: none came).
type outcome struct {
	response
	err error
}

func (o outcome) String() string {
	if o.err != nil {
		return "no answer: " + o.err.Error()
	}
	return o.response.String()
}

// send is tryRequest as an outcome, within two minutes.
func send(method, url, token string, body any, headers ...string) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := tryRequest(ctx, method, url, token, body, headers...)
	return outcome{r, err}
}

// must sends a request of a test's set-up, which must answer want; it decodes
// the body into out (when not nil).
func must(t *testing.T, want int, out any, method, url, token string, body any, headers ...string) response {
	t.Helper()
	o := send(method, url, token, body, headers...)
	if o.err != nil || o.Status != want {
		t.Fatalf("%s %s: %v, want %d", method, url, o, want)
	}
	if out != nil {
		if err := json.Unmarshal(o.Body, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, truncate(string(o.Body), 300))
		}
	}
	return o.response
}

// loginTo issues a token for user, scoped to project (of domain Default), at the
// identity API of a.
func loginTo(t *testing.T, a apis, user, password, project string) string {
	t.Helper()
	r := must(t, http.StatusCreated, nil, "POST", a.identity+"/auth/tokens?nocatalog", "", passwordAuth(user, password, project))
	tok := r.Header.Get("X-Subject-Token")
	noteSecret(tok)
	return tok
}

// projectWithAdmin creates a project of domain Default in which the bootstrap
// admin has role admin, and returns its id and a token of the admin scoped to it.
func projectWithAdmin(t *testing.T, c *Cloud, adminToken, name string) (id, token string) {
	t.Helper()
	a := apisOf(c)
	var p struct{ Project struct{ ID string } }
	must(t, http.StatusCreated, &p, "POST", a.identity+"/projects", adminToken,
		map[string]any{"project": map[string]any{"name": name, "domain_id": "default"}})
	var users struct{ Users []struct{ ID string } }
	must(t, http.StatusOK, &users, "GET", a.identity+"/users?name=admin&domain_id=default", adminToken, nil)
	var roles struct{ Roles []struct{ ID string } }
	must(t, http.StatusOK, &roles, "GET", a.identity+"/roles?name=admin", adminToken, nil)
	if len(users.Users) != 1 || len(roles.Roles) != 1 {
		t.Fatalf("admin user %v, admin role %v", users, roles)
	}
	must(t, http.StatusNoContent, nil, "PUT", fmt.Sprintf("%s/projects/%s/users/%s/roles/%s", a.identity, p.Project.ID,
		users.Users[0].ID, roles.Roles[0].ID), adminToken, nil)
	return p.Project.ID, loginTo(t, a, "admin", c.Secret("admin"), name)
}

// eventuallyWithin retries cond until it holds or d has passed, and says which.
func eventuallyWithin(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
	return true
}

// statusCounts tallies the outcomes of a load by status (0: no answer).
func statusCounts(outs []outcome) map[int]int {
	m := map[int]int{}
	for _, o := range outs {
		if o.err != nil {
			m[0]++
			continue
		}
		m[o.Status]++
	}
	return m
}

// noServerErrors reports the outcomes of a load that were 5xx or no answer: a
// concurrent request may lose (409, 403, 413), never fail.
func noServerErrors(t *testing.T, what string, outs []outcome) {
	t.Helper()
	bad := 0
	for _, o := range outs {
		if o.err != nil || o.Status >= 500 {
			bad++
			if bad <= 3 {
				t.Errorf("%s: %v", what, o)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d requests failed (answers by status: %v)", what, bad, len(outs), statusCounts(outs))
	}
}
