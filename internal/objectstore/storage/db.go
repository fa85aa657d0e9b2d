package storage

import (
	"context"
	"database/sql"
	"errors"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// dbRequest is a request to one account or container database: what the
// account and container servers' requests share, as upstream's
// DatabaseBroker is the base of its AccountBroker and ContainerBroker.
type dbRequest struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	p    backendPath
	kind *replicatedDB
	path string
}

func (d *dbRequest) failed(err error) {
	attrs := []any{"account", d.p.account}
	if d.kind == &containerDB {
		attrs = append(attrs, "container", d.p.container)
	}
	d.s.log.Error(d.kind.kind+" server", append(attrs, "error", err)...)
	swob.Error(d.w, http.StatusInternalServerError)
}

// open returns the database, or nil (having answered 404) when it does not
// exist and create is false.
func (d *dbRequest) open(create bool) *sql.DB {
	db, err := d.s.dbs.open(d.path, d.kind.schema, create)
	if errors.Is(err, errNoDB) {
		swob.Error(d.w, http.StatusNotFound)
		return nil
	}
	if err != nil {
		d.failed(err)
		return nil
	}
	return db
}

// answerListing answers a HEAD (204, no body) or a GET (the listing of
// name's rows that fetch reads) once the account's or container's headers
// are set.
func (d *dbRequest) answerListing(name string, fetch fetchFunc) {
	format := listingFormat(d.r)
	if format == "" {
		swob.Error(d.w, http.StatusNotAcceptable)
		return
	}
	if d.r.Method == http.MethodHead {
		h := d.w.Header()
		h.Set("Content-Type", format+"; charset=utf-8")
		h.Set("Content-Length", "0")
		d.w.WriteHeader(http.StatusNoContent)
		return
	}
	params, ok := parseListParams(d.w, d.r)
	if !ok {
		return
	}
	entries, err := listWithDelimiter(params, fetch)
	if err != nil {
		d.failed(err)
		return
	}
	writeListing(d.w, d.r, format, d.kind.kind, name, entries)
}

// rowQuerier is a database or a transaction, to read an info row from.
type rowQuerier = interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// updateInfo runs fn on the database's info row in a transaction, saving the
// row and committing when fn's status is 2xx. On a failure it answers 500
// and ok is false; otherwise the caller answers status.
func updateInfo[I any](d *dbRequest, db *sql.DB, load func(context.Context, rowQuerier) (I, error),
	save func(context.Context, *sql.Tx, I) error, fn func(tx *sql.Tx, info *I) (int, error)) (info I, status int, ok bool) {
	ctx := d.r.Context()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		d.failed(err)
		return info, 0, false
	}
	defer tx.Rollback()
	if info, err = load(ctx, tx); err != nil {
		d.failed(err)
		return info, 0, false
	}
	if status, err = fn(tx, &info); err != nil {
		d.failed(err)
		return info, 0, false
	}
	if status/100 == 2 {
		if err := save(ctx, tx, info); err != nil {
			d.failed(err)
			return info, 0, false
		}
		if err := tx.Commit(); err != nil {
			d.failed(err)
			return info, 0, false
		}
	}
	return info, status, true
}
