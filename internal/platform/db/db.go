// Package db opens the one database of a Nimbus deployment, SQLite (embedded, WAL) for
// all-in-one or PostgreSQL for clusters, and runs each service's embedded migrations.
// Services write portable SQL with ? placeholders; Rebind adapts it per dialect.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	_ "modernc.org/sqlite"             // SQLite driver "sqlite"
)

// Dialect is the SQL flavour of the open database.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

// DB is a database handle whose query methods accept ? placeholders on any dialect.
type DB struct {
	sql     *sql.DB
	Dialect Dialect
	// URL with credentials removed, for logs.
	Redacted string
	// writer is SQLite's one write lock, taken in-process before the database's: a
	// writer that finds the database's lock held sleeps in SQLite's busy handler
	// (1, 2, 5 ... 100 ms back-off) however soon it is free, and under concurrent
	// writes those sleeps become the latency tail; waiting here wakes it at once.
	writer chan struct{}
}

// Open connects to url: empty or sqlite://PATH for SQLite (default dataDir/nimbus.db),
// postgres:// or postgresql:// for PostgreSQL.
func Open(ctx context.Context, url, dataDir string) (*DB, error) {
	switch {
	case url == "" || strings.HasPrefix(url, "sqlite://"):
		path := strings.TrimPrefix(url, "sqlite://")
		if path == "" {
			path = filepath.Join(dataDir, "nimbus.db")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
		// synchronous(FULL): an acknowledged write survives kill -9 and power loss.
		// _txlock=immediate: writers take the lock up front instead of failing on upgrade.
		dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate"
		sdb, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		sdb.SetMaxOpenConns(8)
		sdb.SetMaxIdleConns(8) // reopening SQLite connections under load costs more than keeping them
		d := &DB{sql: sdb, Dialect: SQLite, Redacted: "sqlite://" + path, writer: make(chan struct{}, 1)}
		return d, d.ping(ctx)
	case strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://"):
		sdb, err := sql.Open("pgx", url)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		sdb.SetMaxOpenConns(32)
		sdb.SetMaxIdleConns(32)
		// Connections a burst opened go back to the server once idle: its
		// max_connections is shared by every process of the cloud.
		sdb.SetConnMaxIdleTime(time.Minute)
		d := &DB{sql: sdb, Dialect: Postgres, Redacted: redact(url)}
		return d, d.ping(ctx)
	}
	return nil, fmt.Errorf("unsupported database URL %q (want sqlite://PATH or postgres://...)", redact(url))
}

func (d *DB) ping(ctx context.Context) error {
	if err := d.sql.PingContext(ctx); err != nil {
		_ = d.sql.Close()
		return fmt.Errorf("connect to %s: %w", d.Redacted, err)
	}
	return nil
}

func redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return "<invalid url>"
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "***@" + rest[at+1:]
	}
	// libpq and pgx also take the password as a query parameter.
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		params := strings.Split(rest[q+1:], "&")
		for i, p := range params {
			if k, _, ok := strings.Cut(p, "="); ok && (strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword")) {
				params[i] = k + "=***"
			}
		}
		rest = rest[:q+1] + strings.Join(params, "&")
	}
	return scheme + "://" + rest
}

// SetMaxConnections bounds the connections the handle holds open (n <= 0 keeps
// the dialect's default): several processes share one PostgreSQL server's
// max_connections.
func (d *DB) SetMaxConnections(n int) {
	if n > 0 {
		d.sql.SetMaxOpenConns(n)
		d.sql.SetMaxIdleConns(n)
	}
}

// Close closes the database.
func (d *DB) Close() error { return d.sql.Close() }

// Rebind turns ? placeholders into the dialect's ($1, $2, ... for PostgreSQL).
func (d *DB) Rebind(q string) string {
	if d.Dialect != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	inQuote := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '\'' {
			inQuote = !inQuote
		}
		if c == '?' && !inQuote {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Querier is what both *DB and *Tx offer, so store code works inside or outside a transaction.
type Querier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func (d *DB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.sql.ExecContext(ctx, d.Rebind(q), args...)
}

func (d *DB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.sql.QueryContext(ctx, d.Rebind(q), args...)
}

func (d *DB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return d.sql.QueryRowContext(ctx, d.Rebind(q), args...)
}

// Tx is a transaction with the same placeholder handling.
type Tx struct {
	tx *sql.Tx
	d  *DB
}

func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.d.Rebind(q), args...)
}

func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.d.Rebind(q), args...)
}

func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.Rebind(q), args...)
}

// InTx runs fn in a transaction, committing if it returns nil. If fn panics the
// transaction is rolled back before the panic goes on, so the connection (and, on
// SQLite, the write lock) is not left held.
//
// Every transaction is serializable, on both dialects, so a write that depends on
// a read inside fn (a check, then an insert) holds however many requests and
// processes write at once. SQLite gets it from its single writer (taken in-process
// first, see DB.writer). PostgreSQL runs the transaction at SERIALIZABLE isolation
// and aborts one of two that interleave with a serialization failure (or a
// deadlock): InTx then runs fn again, from the start, in a new transaction, after
// a short randomised back-off, up to maxTxAttempts times. So fn must have no effect
// outside tx that a second run would repeat: compute in fn, act on the result
// after InTx returns.
func (d *DB) InTx(ctx context.Context, fn func(*Tx) error) error {
	if d.writer != nil { // every SQLite transaction writes: _txlock=immediate
		select {
		case d.writer <- struct{}{}:
			defer func() { <-d.writer }()
		case <-ctx.Done():
			return fmt.Errorf("begin transaction: %w", ctx.Err())
		}
		return d.runTx(ctx, nil, fn)
	}
	opts := &sql.TxOptions{Isolation: sql.LevelSerializable}
	for attempt := 1; ; attempt++ {
		err := d.runTx(ctx, opts, fn)
		if err == nil || !IsSerializationFailure(err) || attempt == maxTxAttempts {
			return err
		}
		if err := sleepBackoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// maxTxAttempts bounds the retries of a transaction PostgreSQL keeps aborting,
// as oslo.db's db_max_retries (20) does upstream's: with the back-off below,
// about 10 s of contention on one row before the caller sees the failure (a 500
// a client may retry, never a broken invariant). A loaded machine stretches
// every transaction, and so how often they collide.
const maxTxAttempts = 20

// sleepBackoff waits before attempt+1: exponential from 2 ms, capped at 1 s, with
// full jitter so the transactions that collided do not collide again in step.
func sleepBackoff(ctx context.Context, attempt int) error {
	ceiling := min(2*time.Millisecond<<attempt, time.Second)
	t := time.NewTimer(rand.N(ceiling) + time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("retry transaction: %w", ctx.Err())
	}
}

func (d *DB) runTx(ctx context.Context, opts *sql.TxOptions, fn func(*Tx) error) error {
	tx, err := d.sql.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(&Tx{tx: tx, d: d}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// IsSerializationFailure reports whether err is PostgreSQL aborting a transaction
// so that concurrent ones stay serializable (SQLSTATE 40001) or to break a deadlock
// (40P01): the transaction may be run again as it was.
func IsSerializationFailure(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	return false
}

// IsUniqueViolation reports whether err is a unique-constraint failure on either dialect.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505")
}

// IsForeignKeyViolation reports whether err is a foreign-key failure on either dialect.
func IsForeignKeyViolation(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "FOREIGN KEY constraint failed") || strings.Contains(msg, "SQLSTATE 23503")
}

// ErrNoRows is sql.ErrNoRows, re-exported so stores need not import database/sql.
var ErrNoRows = sql.ErrNoRows

// IsNoRows reports whether err means "no such row".
func IsNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
