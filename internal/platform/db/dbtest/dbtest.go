// Package dbtest opens the database a service's tests run on: SQLite in the test's
// directory, or PostgreSQL when NIMBUS_TEST_DATABASE_URL is set, each test in a schema
// of its own so packages may share one database and run in parallel.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// Open returns an empty database for t, closed (and its schema dropped) at cleanup.
func Open(t testing.TB, dir string) *db.DB {
	t.Helper()
	ctx := context.Background()
	url := os.Getenv("NIMBUS_TEST_DATABASE_URL")
	if url != "" {
		url = freshSchema(t, url)
	}
	d, err := db.Open(ctx, url, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// freshSchema creates a schema for one test and returns url with search_path set to it.
func freshSchema(t testing.TB, url string) string {
	t.Helper()
	ctx := context.Background()
	admin, err := db.Open(ctx, url, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		_ = admin.Close()
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}
