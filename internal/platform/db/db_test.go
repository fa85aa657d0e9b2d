package db

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// testSchema is the PostgreSQL schema these tests own, so they do not fight other
// packages' tests (which reset schema public) when go test runs packages in parallel.
const testSchema = "nimbus_dbtest"

// backend opens a fresh, empty database of one dialect.
type backend struct {
	name string
	open func(t *testing.T) *DB
}

// backends returns SQLite, plus PostgreSQL when NIMBUS_TEST_DATABASE_URL is set.
func backends() []backend {
	bs := []backend{{"sqlite", openSQLite}}
	if url := os.Getenv("NIMBUS_TEST_DATABASE_URL"); url != "" {
		bs = append(bs, backend{"postgres", func(t *testing.T) *DB { return openPostgres(t, url) }})
	}
	return bs
}

func forEachBackend(t *testing.T, fn func(t *testing.T, d *DB)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}

func openSQLite(t *testing.T) *DB {
	t.Helper()
	d, err := Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// openPostgres recreates testSchema and opens url with search_path set to it.
func openPostgres(t *testing.T, url string) *DB {
	t.Helper()
	ctx := context.Background()
	admin, err := Open(ctx, url, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"DROP SCHEMA IF EXISTS " + testSchema + " CASCADE",
		"CREATE SCHEMA " + testSchema,
	} {
		if _, err := admin.ExecContext(ctx, stmt); err != nil {
			_ = admin.Close()
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	_ = admin.Close()
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	d, err := Open(ctx, url+sep+"search_path="+testSchema, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if d.Dialect != Postgres {
		t.Fatalf("Dialect = %v, want Postgres", d.Dialect)
	}
	var schema string
	if err := d.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil || schema != testSchema {
		t.Fatalf("current_schema() = %q (err %v), want %q", schema, err, testSchema)
	}
	return d
}

func TestRebind(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		sqlite   string
		postgres string
	}{
		{"no placeholders", "SELECT 1", "SELECT 1", "SELECT 1"},
		{"one", "SELECT * FROM t WHERE id = ?", "SELECT * FROM t WHERE id = ?", "SELECT * FROM t WHERE id = $1"},
		{
			"several",
			"INSERT INTO t (a, b, c) VALUES (?, ?, ?)",
			"INSERT INTO t (a, b, c) VALUES (?, ?, ?)",
			"INSERT INTO t (a, b, c) VALUES ($1, $2, $3)",
		},
		{
			"ten and more",
			"VALUES (?,?,?,?,?,?,?,?,?,?,?)",
			"VALUES (?,?,?,?,?,?,?,?,?,?,?)",
			"VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
		},
		{
			"question mark inside quotes",
			"SELECT '?' AS q, name FROM t WHERE a = ? AND b LIKE 'what?%' AND c = ?",
			"SELECT '?' AS q, name FROM t WHERE a = ? AND b LIKE 'what?%' AND c = ?",
			"SELECT '?' AS q, name FROM t WHERE a = $1 AND b LIKE 'what?%' AND c = $2",
		},
		{
			"escaped quote inside literal",
			"SELECT 'it''s ?' , ?",
			"SELECT 'it''s ?' , ?",
			"SELECT 'it''s ?' , $1",
		},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (&DB{Dialect: SQLite}).Rebind(tt.in); got != tt.sqlite {
				t.Errorf("SQLite Rebind(%q) = %q, want %q", tt.in, got, tt.sqlite)
			}
			if got := (&DB{Dialect: Postgres}).Rebind(tt.in); got != tt.postgres {
				t.Errorf("Postgres Rebind(%q) = %q, want %q", tt.in, got, tt.postgres)
			}
		})
	}
}

func TestOpenSQLiteDefaultPath(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "not", "yet", "there")
	d, err := Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	path := filepath.Join(dir, "nimbus.db")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	if d.Dialect != SQLite {
		t.Errorf("Dialect = %v, want SQLite", d.Dialect)
	}
	if want := "sqlite://" + path; d.Redacted != want {
		t.Errorf("Redacted = %q, want %q", d.Redacted, want)
	}
	// Hold several pooled connections at once: every one needs the pragmas.
	for i := 0; i < 3; i++ {
		conn, err := d.sql.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var mode string
		var fk, sync int
		if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" {
			t.Errorf("conn %d: journal_mode = %q, want wal", i, mode)
		}
		if fk != 1 {
			t.Errorf("conn %d: foreign_keys = %d, want 1", i, fk)
		}
		if sync != 2 {
			t.Errorf("conn %d: synchronous = %d, want 2 (FULL)", i, sync)
		}
	}
}

func TestOpenSQLiteExplicitPath(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "other.db")
	d, err := Open(ctx, "sqlite://"+path, "/nonexistent-data-dir-ignored")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.ExecContext(ctx, "CREATE TABLE t (id INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	if d.Redacted != "sqlite://"+path {
		t.Errorf("Redacted = %q", d.Redacted)
	}
}

func TestOpenErrorsDoNotLeakPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tests := []struct {
		name string
		url  string
		want string // substring the error must contain
	}{
		{"mysql", "mysql://user:secret@db.example:3306/nimbus", "mysql://***@db.example:3306/nimbus"},
		{"no scheme", "user:secret@db.example/nimbus", "<invalid url>"},
		{"http", "http://admin:secret@example.com/", "http://***@example.com/"},
		// Nothing listens on port 1: the connection is refused, and the error must not
		// repeat the password from the URL.
		{"postgres unreachable", "postgres://user:secret@127.0.0.1:1/nimbus?connect_timeout=5", "127.0.0.1:1"},
		{"postgres password parameter", "postgres://user@127.0.0.1:1/nimbus?password=secret&connect_timeout=5", "password=***"},
		{"postgres bad parameter", "postgres://user:secret@127.0.0.1:1/nimbus?sslmode=bogus&password=secret", "sslmode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Open(ctx, tt.url, t.TempDir())
			if err == nil {
				_ = d.Close()
				t.Fatalf("Open(%q) succeeded, want error", tt.url)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error leaks the password: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://user:pw@host:5432/db", "postgres://***@host:5432/db"},
		{"postgresql://user@host/db", "postgresql://***@host/db"},
		{"postgres://host/db?sslmode=disable", "postgres://host/db?sslmode=disable"},
		{"postgres://user:p@ss@host/db", "postgres://***@host/db"},
		{"postgres://u:pw@host/db?sslmode=disable&password=pw2", "postgres://***@host/db?sslmode=disable&password=***"},
		{"postgres://host/db?PASSWORD=pw&sslpassword=pw3&user=u", "postgres://host/db?PASSWORD=***&sslpassword=***&user=u"},
		{"sqlite:///var/lib/nimbus/nimbus.db", "sqlite:///var/lib/nimbus/nimbus.db"},
		{"user:pw@host", "<invalid url>"},
		{"", "<invalid url>"},
	}
	for _, tt := range tests {
		if got := redact(tt.in); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"only comments and blanks", "-- a comment\n\n   -- indented comment;\n\n", nil},
		{"one without final newline", "CREATE TABLE a (id INTEGER);", []string{"CREATE TABLE a (id INTEGER)"}},
		{"one without semicolon", "CREATE TABLE a (id INTEGER)\n", []string{"CREATE TABLE a (id INTEGER)"}},
		{
			"several with comments",
			"-- 0001: first migration\n" +
				"CREATE TABLE a (\n" +
				"    id INTEGER PRIMARY KEY,\n" +
				"    -- the name\n" +
				"    name TEXT NOT NULL\n" +
				");\n" +
				"\n" +
				"-- an index;\n" +
				"CREATE INDEX a_name ON a (name);\n" +
				"   -- trailing comment\n",
			[]string{
				"CREATE TABLE a (\n    id INTEGER PRIMARY KEY,\n    name TEXT NOT NULL\n)",
				"CREATE INDEX a_name ON a (name)",
			},
		},
		{
			"semicolon inside a line does not split",
			"INSERT INTO a (name) VALUES ('x;y');\nINSERT INTO a (name) VALUES ('z');\n",
			[]string{"INSERT INTO a (name) VALUES ('x;y')", "INSERT INTO a (name) VALUES ('z')"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := splitStatements(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("splitStatements() = %q, want %q", got, tt.want)
			}
		})
	}
}

func sqlFile(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

// appliedVersions returns the versions schema_migrations records for service.
func appliedVersions(t *testing.T, d *DB, service string) []int {
	t.Helper()
	rows, err := d.QueryContext(context.Background(),
		"SELECT version FROM schema_migrations WHERE service = ? ORDER BY version", service)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// tableExists reports whether table exists in the database (or the current schema).
func tableExists(t *testing.T, d *DB, table string) bool {
	t.Helper()
	q := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if d.Dialect == Postgres {
		q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
	}
	var n int
	if err := d.QueryRowContext(context.Background(), q, table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestMigrateOrderAndIdempotence(t *testing.T) {
	// Each migration appends its name at position COUNT(*), so the table records the
	// order they ran in. Listed out of order; as text "0010" sorts before "9".
	fsys := fstest.MapFS{
		"0010_fourth.sql": sqlFile("INSERT INTO log (pos, name) SELECT COUNT(*), 'fourth' FROM log;\n"),
		"9_third.sql":     sqlFile("INSERT INTO log (pos, name) SELECT COUNT(*), 'third' FROM log;\n"),
		"0002_second.sql": sqlFile("-- depends on 0001\n" +
			"INSERT INTO log (pos, name) SELECT COUNT(*), 'second' FROM log;\n"),
		"0001_first.sql": sqlFile("CREATE TABLE log (pos INTEGER NOT NULL, name TEXT NOT NULL);\n" +
			"INSERT INTO log (pos, name) VALUES (0, 'first');\n"),
		"README.md":            sqlFile("not a migration"),
		"old/0003_ignored.sql": sqlFile("THIS IS NOT SQL;\n"),
	}
	forEachBackend(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		for run := 1; run <= 2; run++ {
			if err := d.Migrate(ctx, "svc", fsys); err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
			rows, err := d.QueryContext(ctx, "SELECT pos, name FROM log ORDER BY pos")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for rows.Next() {
				var pos int
				var name string
				if err := rows.Scan(&pos, &name); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%d:%s", pos, name))
			}
			rows.Close()
			if want := []string{"0:first", "1:second", "2:third", "3:fourth"}; !slices.Equal(got, want) {
				t.Errorf("run %d: log = %v, want %v", run, got, want)
			}
			if got, want := appliedVersions(t, d, "svc"), []int{1, 2, 9, 10}; !slices.Equal(got, want) {
				t.Errorf("run %d: versions = %v, want %v", run, got, want)
			}
		}
	})
}

func TestMigrateVersionsPerService(t *testing.T) {
	alpha := fstest.MapFS{
		"0001_a.sql": sqlFile("CREATE TABLE alpha_one (id INTEGER);\n"),
		"0002_b.sql": sqlFile("CREATE TABLE alpha_two (id INTEGER);\n"),
	}
	beta := fstest.MapFS{
		"0001_a.sql": sqlFile("CREATE TABLE beta_one (id INTEGER);\n"),
	}
	forEachBackend(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		if err := d.Migrate(ctx, "alpha", alpha); err != nil {
			t.Fatal(err)
		}
		// alpha's version 1 must not mark beta's version 1 as applied.
		if err := d.Migrate(ctx, "beta", beta); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"alpha_one", "alpha_two", "beta_one"} {
			if !tableExists(t, d, table) {
				t.Errorf("table %s missing", table)
			}
		}
		if got := appliedVersions(t, d, "alpha"); !slices.Equal(got, []int{1, 2}) {
			t.Errorf("alpha versions = %v, want [1 2]", got)
		}
		if got := appliedVersions(t, d, "beta"); !slices.Equal(got, []int{1}) {
			t.Errorf("beta versions = %v, want [1]", got)
		}
		if got := appliedVersions(t, d, "gamma"); len(got) != 0 {
			t.Errorf("gamma versions = %v, want none", got)
		}
	})
}

func TestMigrateFailureRollsBack(t *testing.T) {
	good := sqlFile("CREATE TABLE first (id INTEGER PRIMARY KEY);\n")
	broken := fstest.MapFS{
		"0001_first.sql": good,
		"0002_second.sql": sqlFile("CREATE TABLE second (id INTEGER PRIMARY KEY);\n" +
			"INSERT INTO second (id) VALUES (1);\n" +
			"INSERT INTO no_such_table (id) VALUES (1);\n"),
		"0003_third.sql": sqlFile("CREATE TABLE third (id INTEGER);\n"),
	}
	fixed := fstest.MapFS{
		"0001_first.sql": good,
		"0002_second.sql": sqlFile("CREATE TABLE second (id INTEGER PRIMARY KEY);\n" +
			"INSERT INTO second (id) VALUES (1);\n"),
		"0003_third.sql": sqlFile("CREATE TABLE third (id INTEGER);\n"),
	}
	forEachBackend(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		err := d.Migrate(ctx, "svc", broken)
		if err == nil {
			t.Fatal("Migrate with a broken migration succeeded")
		}
		for _, want := range []string{"svc/0002_second.sql", "no_such_table"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		if !tableExists(t, d, "first") {
			t.Error("table first missing: migration 1 should stay applied")
		}
		if tableExists(t, d, "second") {
			t.Error("table second exists: the failed migration was not rolled back")
		}
		if tableExists(t, d, "third") {
			t.Error("table third exists: migrations after a failure must not run")
		}
		if got := appliedVersions(t, d, "svc"); !slices.Equal(got, []int{1}) {
			t.Errorf("versions after failure = %v, want [1]", got)
		}

		if err := d.Migrate(ctx, "svc", fixed); err != nil {
			t.Fatalf("Migrate after fix: %v", err)
		}
		for _, table := range []string{"first", "second", "third"} {
			if !tableExists(t, d, table) {
				t.Errorf("table %s missing after fix", table)
			}
		}
		var n int
		if err := d.QueryRowContext(ctx, "SELECT COUNT(*) FROM second").Scan(&n); err != nil || n != 1 {
			t.Errorf("rows in second = %d (err %v), want 1", n, err)
		}
		if got := appliedVersions(t, d, "svc"); !slices.Equal(got, []int{1, 2, 3}) {
			t.Errorf("versions after fix = %v, want [1 2 3]", got)
		}
	})
}

// TestMigrateFromProcessesAtOnce: processes that start at once on one database
// (nimbus up and nimbus serve --role api) each migrate it; every one succeeds and
// each migration runs once (a second run of 0002 would log it twice, of 0001 fail).
func TestMigrateFromProcessesAtOnce(t *testing.T) {
	fsys := fstest.MapFS{
		"0001_first.sql":  sqlFile("CREATE TABLE log (name TEXT NOT NULL);\n"),
		"0002_second.sql": sqlFile("INSERT INTO log (name) VALUES ('second');\n"),
		"0003_third.sql":  sqlFile("CREATE TABLE other (id INTEGER);\nINSERT INTO log (name) VALUES ('third');\n"),
	}
	const processes = 6
	// handles opens the database of d once more per process, as each process does.
	handles := map[string]func(t *testing.T) []*DB{
		"sqlite": func(t *testing.T) []*DB {
			url := "sqlite://" + filepath.Join(t.TempDir(), "shared.db")
			var ds []*DB
			for range processes {
				d, err := Open(context.Background(), url, "")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = d.Close() })
				ds = append(ds, d)
			}
			return ds
		},
	}
	if url := os.Getenv("NIMBUS_TEST_DATABASE_URL"); url != "" {
		handles["postgres"] = func(t *testing.T) []*DB {
			ds := []*DB{openPostgres(t, url)}
			sep := "?"
			if strings.Contains(url, "?") {
				sep = "&"
			}
			for range processes - 1 {
				d, err := Open(context.Background(), url+sep+"search_path="+testSchema, "")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = d.Close() })
				ds = append(ds, d)
			}
			return ds
		}
	}
	for name, open := range handles {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ds := open(t)
			if n, err := ds[0].MigrationsApplied(ctx, "svc"); err != nil || n != 0 {
				t.Fatalf("MigrationsApplied on a new database = %d, %v; want 0", n, err)
			}
			var wg sync.WaitGroup
			errs := make([]error, len(ds))
			start := make(chan struct{})
			for i, d := range ds {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs[i] = d.Migrate(ctx, "svc", fsys)
				}()
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("process %d: Migrate: %v", i, err)
				}
			}
			var names []string
			rows, err := ds[0].QueryContext(ctx, "SELECT name FROM log ORDER BY name")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var n string
				if err := rows.Scan(&n); err != nil {
					t.Fatal(err)
				}
				names = append(names, n)
			}
			rows.Close()
			if want := []string{"second", "third"}; !slices.Equal(names, want) {
				t.Errorf("log = %v, want %v: a migration ran more than once", names, want)
			}
			if got := appliedVersions(t, ds[0], "svc"); !slices.Equal(got, []int{1, 2, 3}) {
				t.Errorf("versions = %v, want [1 2 3]", got)
			}
			if n, err := ds[1].MigrationsApplied(ctx, "svc"); err != nil || n != 3 {
				t.Errorf("MigrationsApplied = %d, %v; want 3", n, err)
			}
		})
	}
}

func TestMigrateBadName(t *testing.T) {
	d := openSQLite(t)
	err := d.Migrate(context.Background(), "svc", fstest.MapFS{"first.sql": sqlFile("CREATE TABLE x (id INTEGER);\n")})
	if err == nil || !strings.Contains(err.Error(), "first.sql") {
		t.Fatalf("Migrate error = %v, want one naming first.sql", err)
	}
	if tableExists(t, d, "x") {
		t.Error("badly named migration was applied")
	}
}

var errSentinel = errors.New("sentinel")

func TestInTx(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		if _, err := d.ExecContext(ctx, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		count := func() int {
			t.Helper()
			var n int
			if err := d.QueryRowContext(ctx, "SELECT COUNT(*) FROM items").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}

		// Commit: both rows visible afterwards, and visible inside the transaction too.
		err := d.InTx(ctx, func(tx *Tx) error {
			for i, name := range []string{"a", "b"} {
				if _, err := tx.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (?, ?)", i+1, name); err != nil {
					return err
				}
			}
			var name string
			if err := tx.QueryRowContext(ctx, "SELECT name FROM items WHERE id = ?", 2).Scan(&name); err != nil {
				return err
			}
			if name != "b" {
				return fmt.Errorf("name = %q inside tx", name)
			}
			rows, err := tx.QueryContext(ctx, "SELECT id FROM items WHERE name IN (?, ?)", "a", "b")
			if err != nil {
				return err
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				n++
			}
			if n != 2 {
				return fmt.Errorf("%d rows inside tx, want 2", n)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatalf("InTx commit: %v", err)
		}
		if n := count(); n != 2 {
			t.Fatalf("rows after commit = %d, want 2", n)
		}

		// Rollback: fn's error comes back unchanged and its writes are gone.
		err = d.InTx(ctx, func(tx *Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (?, ?)", 3, "c"); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM items WHERE id = ?", 1); err != nil {
				return err
			}
			return fmt.Errorf("wrapped: %w", errSentinel)
		})
		if !errors.Is(err, errSentinel) {
			t.Fatalf("InTx error = %v, want the sentinel", err)
		}
		if n := count(); n != 2 {
			t.Errorf("rows after rollback = %d, want 2", n)
		}
		var name string
		if err := d.QueryRowContext(ctx, "SELECT name FROM items WHERE id = ?", 1).Scan(&name); err != nil || name != "a" {
			t.Errorf("row 1 after rollback = %q (err %v), want a", name, err)
		}
		err = d.QueryRowContext(ctx, "SELECT name FROM items WHERE id = ?", 3).Scan(&name)
		if !IsNoRows(err) {
			t.Errorf("row 3 after rollback: err = %v, want no rows", err)
		}

		// A panic inside fn rolls back too, and leaves the database usable.
		func() {
			defer func() {
				if recover() == nil {
					t.Error("InTx swallowed the panic")
				}
			}()
			_ = d.InTx(ctx, func(tx *Tx) error {
				if _, err := tx.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (?, ?)", 4, "d"); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		shortCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := d.InTx(shortCtx, func(tx *Tx) error {
			_, err := tx.ExecContext(shortCtx, "INSERT INTO items (id, name) VALUES (?, ?)", 5, "e")
			return err
		}); err != nil {
			t.Fatalf("InTx after a panicking InTx: %v", err)
		}
		if n := count(); n != 3 {
			t.Errorf("rows after panic and insert = %d, want 3", n)
		}
	})
}

func TestConstraintViolations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		for _, stmt := range []string{
			"CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
			"CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents (id))",
		} {
			if _, err := d.ExecContext(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := d.ExecContext(ctx, "INSERT INTO parents (id, name) VALUES (?, ?)", 1, "p"); err != nil {
			t.Fatal(err)
		}
		_, uniqueErr := d.ExecContext(ctx, "INSERT INTO parents (id, name) VALUES (?, ?)", 2, "p")
		_, pkErr := d.ExecContext(ctx, "INSERT INTO parents (id, name) VALUES (?, ?)", 1, "q")
		_, fkErr := d.ExecContext(ctx, "INSERT INTO children (id, parent_id) VALUES (?, ?)", 1, 99)
		_, fkDeleteErr := func() (any, error) {
			if _, err := d.ExecContext(ctx, "INSERT INTO children (id, parent_id) VALUES (?, ?)", 2, 1); err != nil {
				t.Fatal(err)
			}
			return d.ExecContext(ctx, "DELETE FROM parents WHERE id = ?", 1)
		}()
		_, notNullErr := d.ExecContext(ctx, "INSERT INTO parents (id, name) VALUES (?, NULL)", 3)
		// Inside a transaction, as stores use it, and wrapped.
		txErr := d.InTx(ctx, func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO parents (id, name) VALUES (?, ?)", 4, "p")
			return fmt.Errorf("create parent: %w", err)
		})

		tests := []struct {
			name           string
			err            error
			unique, foreig bool
		}{
			{"unique column", uniqueErr, true, false},
			{"primary key", pkErr, true, false},
			{"unique in tx, wrapped", txErr, true, false},
			{"foreign key insert", fkErr, false, true},
			{"foreign key delete", fkDeleteErr, false, true},
			{"not null", notNullErr, false, false},
			{"nil", nil, false, false},
			{"other", errors.New("connection reset"), false, false},
			{"no rows", ErrNoRows, false, false},
		}
		for _, tt := range tests {
			if tt.name != "nil" && tt.err == nil {
				t.Errorf("%s: statement succeeded, want an error", tt.name)
				continue
			}
			if got := IsUniqueViolation(tt.err); got != tt.unique {
				t.Errorf("%s: IsUniqueViolation(%v) = %v, want %v", tt.name, tt.err, got, tt.unique)
			}
			if got := IsForeignKeyViolation(tt.err); got != tt.foreig {
				t.Errorf("%s: IsForeignKeyViolation(%v) = %v, want %v", tt.name, tt.err, got, tt.foreig)
			}
		}
	})
}

func TestIsNoRows(t *testing.T) {
	d := openSQLite(t)
	var n int
	err := d.QueryRowContext(context.Background(), "SELECT 1 WHERE 1 = 0").Scan(&n)
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"real", err, true},
		{"wrapped", fmt.Errorf("get user: %w", err), true},
		{"nil", nil, false},
		{"other", errSentinel, false},
	}
	for _, tt := range tests {
		if got := IsNoRows(tt.err); got != tt.want {
			t.Errorf("%s: IsNoRows(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// TestSQLiteWritersQueue: concurrent transactions on SQLite queue for the write lock
// in-process (each sees the others' commits, none fails), and one that waits gives up
// when its context ends.
func TestSQLiteWritersQueue(t *testing.T) {
	d := openSQLite(t)
	ctx := context.Background()
	if _, err := d.ExecContext(ctx, `CREATE TABLE counter (n INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ExecContext(ctx, `INSERT INTO counter (n) VALUES (0)`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- d.InTx(ctx, func(tx *Tx) error {
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT n FROM counter`).Scan(&n); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `UPDATE counter SET n = ?`, n+1)
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := d.QueryRowContext(ctx, `SELECT n FROM counter`).Scan(&n); err != nil || n != 40 {
		t.Fatalf("counter = %d (%v), want 40 increments", n, err)
	}

	held, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = d.InTx(ctx, func(*Tx) error { close(held); <-release; return nil })
	}()
	<-held
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := d.InTx(short, func(*Tx) error { return nil })
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a writer waiting past its deadline got %v", err)
	}
}

// TestInTxReadThenWriteUnderConcurrency: 32 writers each read a counter and write
// it back plus one, in one transaction. Under PostgreSQL's default READ COMMITTED
// two of them read the same value and one increment is lost; InTx must make every
// backend count exactly.
func TestInTxReadThenWriteUnderConcurrency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		if _, err := d.ExecContext(ctx, `CREATE TABLE counter (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ExecContext(ctx, `INSERT INTO counter (id, v) VALUES (1, 0)`); err != nil {
			t.Fatal(err)
		}
		const writers, each = 32, 5
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					errs <- d.InTx(ctx, func(tx *Tx) error {
						var v int
						if err := tx.QueryRowContext(ctx, `SELECT v FROM counter WHERE id = 1`).Scan(&v); err != nil {
							return err
						}
						_, err := tx.ExecContext(ctx, `UPDATE counter SET v = ? WHERE id = 1`, v+1)
						return err
					})
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("InTx: %v", err)
			}
		}
		var v int
		if err := d.QueryRowContext(ctx, `SELECT v FROM counter WHERE id = 1`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != writers*each {
			t.Fatalf("counter = %d after %d increments: lost updates", v, writers*each)
		}
	})
}

// TestInTxCheckThenInsertUnderConcurrency: writers insert a row only while fewer
// than a limit exist (a quota's shape). No backend may exceed the limit.
func TestInTxCheckThenInsertUnderConcurrency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		if _, err := d.ExecContext(ctx, `CREATE TABLE items (id INTEGER PRIMARY KEY, owner TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		const limit, writers = 5, 32
		errOver := errors.New("over quota")
		var wg sync.WaitGroup
		results := make(chan error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results <- d.InTx(ctx, func(tx *Tx) error {
					var n int
					if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM items WHERE owner = 'p'`).Scan(&n); err != nil {
						return err
					}
					if n >= limit {
						return errOver
					}
					_, err := tx.ExecContext(ctx, `INSERT INTO items (id, owner) VALUES (?, 'p')`, i)
					return err
				})
			}()
		}
		wg.Wait()
		close(results)
		created := 0
		for err := range results {
			switch {
			case err == nil:
				created++
			case !errors.Is(err, errOver):
				t.Fatalf("InTx: %v", err)
			}
		}
		var n int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM items`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != limit || created != limit {
			t.Fatalf("%d rows (%d acknowledged), limit %d", n, created, limit)
		}
	})
}

func TestIsSerializationFailure(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("SQLSTATE 40001"), false}, // only a real PostgreSQL error counts
		{&pgconn.PgError{Code: "40001"}, true},
		{fmt.Errorf("update: %w", &pgconn.PgError{Code: "40P01"}), true},
		{&pgconn.PgError{Code: "23505"}, false},
	} {
		if got := IsSerializationFailure(tt.err); got != tt.want {
			t.Errorf("IsSerializationFailure(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
