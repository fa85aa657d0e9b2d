package e2e

import (
	"context"
	"database/sql"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
)

// Acceptance 5 at the level of the whole cloud: `nimbus up --db postgres://...` serves
// the openstack CLI and keeps its state in PostgreSQL across restarts.

// e2eDatabaseEnv names a PostgreSQL database the test may wipe (`make postgres`
// creates nimbus_e2e; `make test` passes its URL).
const e2eDatabaseEnv = "NIMBUS_E2E_DATABASE_URL"

func TestCloudOnPostgreSQL(t *testing.T) {
	url := os.Getenv(e2eDatabaseEnv)
	if url == "" {
		t.Skip(e2eDatabaseEnv + " is not set: no PostgreSQL database for a whole cloud " +
			"(`make postgres` creates one; `make test` sets it to postgres://nimbus_test:nimbus_test@127.0.0.1:5432/nimbus_e2e)")
	}
	t.Parallel()
	resetDatabase(t, url)

	dir := filepath.Join(t.TempDir(), "cloud")
	c, err := StartCloud(dir, "--db", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	if _, err := os.Stat(filepath.Join(dir, "nimbus.db")); !os.IsNotExist(err) {
		t.Fatalf("a cloud on PostgreSQL made a SQLite database in its data dir (%v)", err)
	}
	if u, err := neturl.Parse(url); err == nil {
		if pw, ok := u.User.Password(); ok && strings.Contains(c.Log(), ":"+pw+"@") {
			t.Fatalf("the database password appears in the log:\n%s", c.Log())
		}
	}

	var tok row
	OSJSON(t, c, "nimbus-admin", &tok, "token", "issue")
	noteSecret(str(tok, "id"))
	if str(tok, "project_id") == "" || str(tok, "user_id") == "" {
		t.Fatalf("token issue: %v", tok)
	}
	name := uniqueName("pg-project")
	var project row
	OSJSON(t, c, "nimbus-admin", &project, "project", "create", "--description", "on PostgreSQL", name)
	wantField(t, "project create", project, "name", name)
	wantField(t, "project create", project, "domain_id", "default")
	var projects []row
	OSJSON(t, c, "nimbus-admin", &projects, "project", "list")
	for _, want := range []string{"admin", "demo", name} {
		if _, ok := findRow(projects, "Name", want); !ok {
			t.Fatalf("project list lacks %s: %v", want, projects)
		}
	}
	var demoTok row
	OSJSON(t, c, "nimbus-demo", &demoTok, "token", "issue")
	noteSecret(str(demoTok, "id"))

	// The state is in PostgreSQL: it survives a restart of the cloud.
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	OSJSON(t, c, "nimbus-admin", &project, "project", "show", name)
	wantField(t, "project show after a restart", project, "description", "on PostgreSQL")
	OS(t, c, "nimbus-admin", "project", "delete", name)
	mustFail(t, c, "nimbus-admin", "No project with a name or ID of", "project", "show", name)

	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables == 0 {
		t.Fatalf("no table in PostgreSQL's schema public: where did the cloud keep its state?")
	}
	assertNoSecretsInLog(t, c)
}

// resetDatabase empties schema public of the database at url, so that each run
// bootstraps a new cloud.
func resetDatabase(t *testing.T, url string) {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, `DROP SCHEMA IF EXISTS public CASCADE`); err != nil {
		t.Fatalf("reset %s: %v", e2eDatabaseEnv, err)
	}
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA public`); err != nil {
		t.Fatalf("reset %s: %v", e2eDatabaseEnv, err)
	}
}
