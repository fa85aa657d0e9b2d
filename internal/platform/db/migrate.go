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
func (d *DB) Migrate(ctx context.Context, service string, fsys fs.FS) error {
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
		var applied int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE service = ? AND version = ?`,
			service, m.version).Scan(&applied); err != nil {
			return fmt.Errorf("check migration %s/%s: %w", service, m.name, err)
		}
		if applied > 0 {
			continue
		}
		body, err := fs.ReadFile(fsys, path.Clean(m.name))
		if err != nil {
			return err
		}
		err = d.InTx(ctx, func(tx *Tx) error {
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
