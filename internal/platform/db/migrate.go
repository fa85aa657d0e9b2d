package db

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migrate applies the migrations of one service that are not yet applied. Files are
// named NNNN_description.sql inside fsys (embedded in the service); each runs in its
// own transaction with its version recorded, so a crash mid-way re-runs only that file.
// Processes that start at once on one database (nimbus up and nimbus serve --role
// api) apply each migration once: on PostgreSQL they take turns under an advisory
// lock, on SQLite under its one writer, and each checks inside its transaction
// whether the other has applied it.
func (d *DB) Migrate(ctx context.Context, service string, fsys fs.FS) error {
	if d.Dialect == Postgres {
		unlock, err := d.lockMigrations(ctx)
		if err != nil {
			return err
		}
		defer unlock()
	}
	if _, err := d.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		service TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (service, version))`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return fmt.Errorf("read %s migrations: %w", service, err)
	}
	type migration struct {
		version int
		name    string
	}
	var todo []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return fmt.Errorf("%s migration %s: name must start with a number", service, e.Name())
		}
		todo = append(todo, migration{v, e.Name()})
	}
	slices.SortFunc(todo, func(a, b migration) int { return a.version - b.version })
	for _, m := range todo {
		body, err := fs.ReadFile(fsys, path.Clean(m.name))
		if err != nil {
			return err
		}
		err = d.InTx(ctx, func(tx *Tx) error {
			var applied int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE service = ? AND version = ?`,
				service, m.version).Scan(&applied); err != nil {
				return fmt.Errorf("check: %w", err)
			}
			if applied > 0 {
				return nil
			}
			for _, stmt := range splitStatements(string(body)) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%w\nin statement: %s", err, stmt)
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (service, version) VALUES (?, ?)`, service, m.version)
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s/%s: %w", service, m.name, err)
		}
	}
	return nil
}

// lockMigrations takes PostgreSQL's advisory lock on migrating the current schema,
// held by a connection of its own until unlock (or until the process dies, which
// ends its session). The lock is the schema's, so that databases shared by
// several schemas (the tests') migrate them side by side.
func (d *DB) lockMigrations(ctx context.Context) (unlock func(), err error) {
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock migrations: %w", err)
	}
	const key = `hashtext('nimbus migrations ' || current_schema())`
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+key+`)`); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("lock migrations: %w", err)
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(`+key+`)`)
		_ = conn.Close()
	}, nil
}

// MigrationsApplied counts the migrations of service applied to the database: none
// on a database no cloud has started on.
func (d *DB) MigrationsApplied(ctx context.Context, service string) (int, error) {
	var exists bool
	q := `SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if d.Dialect == Postgres {
		q = `SELECT to_regclass('schema_migrations') IS NOT NULL`
	}
	if err := d.QueryRowContext(ctx, q).Scan(&exists); err != nil {
		return 0, fmt.Errorf("look for schema_migrations: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var n int
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE service = ?`, service).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s migrations: %w", service, err)
	}
	return n, nil
}

// splitStatements splits a migration file on semicolons at line ends; migrations are
// plain DDL with no procedural bodies.
func splitStatements(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ";\n") {
		var lines []string
		for _, line := range strings.Split(part, "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "--") {
				lines = append(lines, line)
			}
		}
		if stmt := strings.TrimSuffix(strings.TrimSpace(strings.Join(lines, "\n")), ";"); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}
