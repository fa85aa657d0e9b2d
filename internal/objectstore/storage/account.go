package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// accountSchema is one account's database: its info row and a row per
// container the container servers reported, deleted ones kept by timestamp.
const accountSchema = `
CREATE TABLE IF NOT EXISTS account_info (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	account TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	put_timestamp INTEGER NOT NULL DEFAULT 0,
	delete_timestamp INTEGER NOT NULL DEFAULT 0,
	metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS container (
	name TEXT PRIMARY KEY,
	put_timestamp INTEGER NOT NULL,
	delete_timestamp INTEGER NOT NULL,
	object_count INTEGER NOT NULL,
	bytes_used INTEGER NOT NULL,
	deleted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS container_deleted_name ON container (deleted, name);
CREATE TABLE IF NOT EXISTS container_change (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL UNIQUE
);
` + replicationSchema

type accountInfo struct {
	createdAt, put, deletedAt swob.Timestamp
	metadata                  map[string]metadataItem
}

func (a accountInfo) deleted() bool { return a.deletedAt > a.put }

func loadAccountInfo(ctx context.Context, q rowQuerier) (accountInfo, error) {
	var a accountInfo
	var md string
	err := q.QueryRowContext(ctx, `SELECT created_at, put_timestamp, delete_timestamp, metadata FROM account_info`).
		Scan(&a.createdAt, &a.put, &a.deletedAt, &md)
	a.metadata = map[string]metadataItem{}
	if err == nil {
		_ = json.Unmarshal([]byte(md), &a.metadata)
	}
	return a, err
}

func saveAccountInfo(ctx context.Context, tx *sql.Tx, a accountInfo) error {
	md, _ := json.Marshal(a.metadata)
	_, err := tx.ExecContext(ctx, `UPDATE account_info SET created_at = ?, put_timestamp = ?, delete_timestamp = ?, metadata = ?`,
		a.createdAt, a.put, a.deletedAt, string(md))
	return err
}

// AccountHandler is the account server: the account's PUT, POST, HEAD, GET
// (listing) and DELETE on /<device>/<partition>/<account>, and the container
// servers' reports (PUT with a container name).
func (s *Server) AccountHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, dev, ok := s.requestDevice(w, r, 3, 4)
		if !ok {
			return
		}
		dir, hash := s.hashDir(dev, "accounts", p.partition, p.account)
		a := accountRequest{dbRequest{s: s, w: w, r: r, p: p, kind: &accountDB, path: filepath.Join(dir, hash+".db")}}
		switch {
		case p.container != "" && r.Method == http.MethodPut:
			a.putContainer()
		case p.container != "":
			swob.Error(w, http.StatusMethodNotAllowed)
		case r.Method == "REPLICATE":
			a.replicate()
		case r.Method == http.MethodPut:
			a.put()
		case r.Method == http.MethodPost:
			a.update(false)
		case r.Method == http.MethodDelete:
			a.update(true)
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			a.get()
		default:
			swob.Error(w, http.StatusMethodNotAllowed)
		}
	})
}

type accountRequest struct{ dbRequest }

// tx runs fn on the account's info in a transaction, saving it after, and
// answers fn's status.
func (a *accountRequest) tx(db *sql.DB, fn func(tx *sql.Tx, info *accountInfo) (int, error)) {
	if _, status, ok := updateInfo(&a.dbRequest, db, loadAccountInfo, saveAccountInfo, fn); ok {
		swob.Error(a.w, status)
	}
}

func (a *accountRequest) put() {
	ts, ok := requestTimestamp(a.w, a.r)
	if !ok {
		return
	}
	db := a.open(true)
	if db == nil {
		return
	}
	if _, err := db.ExecContext(a.r.Context(), `INSERT INTO account_info (id, account, created_at) VALUES (1, ?, ?)
		ON CONFLICT (id) DO NOTHING`, a.p.account, ts); err != nil {
		a.failed(err)
		return
	}
	a.tx(db, func(_ *sql.Tx, info *accountInfo) (int, error) {
		created := info.put == 0 || info.deleted()
		if info.put < ts {
			info.put = ts
			if created {
				info.createdAt = ts
			}
		}
		mergeMetadata(info.metadata, a.r.Header, ts, "X-Account-Meta-", "X-Account-Sysmeta-")
		if created {
			return http.StatusCreated, nil
		}
		return http.StatusAccepted, nil
	})
}

// update is POST (metadata) and DELETE (the account marked deleted).
func (a *accountRequest) update(del bool) {
	ts, ok := requestTimestamp(a.w, a.r)
	if !ok {
		return
	}
	db := a.open(false)
	if db == nil {
		return
	}
	a.tx(db, func(_ *sql.Tx, info *accountInfo) (int, error) {
		if info.deleted() {
			return http.StatusNotFound, nil
		}
		if del {
			info.deletedAt = max(info.deletedAt, ts)
		} else {
			mergeMetadata(info.metadata, a.r.Header, ts, "X-Account-Meta-", "X-Account-Sysmeta-")
		}
		return http.StatusNoContent, nil
	})
}

// putContainer merges a container server's report: the newer put and delete
// timestamps win, and the counts are the latest reported.
func (a *accountRequest) putContainer() {
	h := a.r.Header
	put, err1 := swob.ParseTimestamp(orZero(h.Get("X-Put-Timestamp")))
	del, err2 := swob.ParseTimestamp(orZero(h.Get("X-Delete-Timestamp")))
	objects, err3 := strconv.ParseInt(orZero(h.Get("X-Object-Count")), 10, 64)
	bytes, err4 := strconv.ParseInt(orZero(h.Get("X-Bytes-Used")), 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		swob.Text(a.w, http.StatusBadRequest, "Invalid container update: "+err.Error())
		return
	}
	db := a.open(false)
	if db == nil {
		return
	}
	a.tx(db, func(tx *sql.Tx, info *accountInfo) (int, error) {
		if info.deleted() {
			return http.StatusNotFound, nil
		}
		_, err := tx.ExecContext(a.r.Context(), `INSERT INTO container (name, put_timestamp, delete_timestamp, object_count, bytes_used, deleted)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET
			put_timestamp = max(put_timestamp, excluded.put_timestamp),
			delete_timestamp = max(delete_timestamp, excluded.delete_timestamp),
			object_count = excluded.object_count, bytes_used = excluded.bytes_used,
			deleted = max(delete_timestamp, excluded.delete_timestamp) > max(put_timestamp, excluded.put_timestamp)`,
			a.p.container, put, del, objects, bytes, del > put)
		if err == nil {
			err = recordChange(a.r.Context(), tx, "container_change", a.p.container)
		}
		return http.StatusCreated, err
	})
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func (a *accountRequest) get() {
	db := a.open(false)
	if db == nil {
		return
	}
	ctx := a.r.Context()
	info, err := loadAccountInfo(ctx, db)
	if err != nil {
		a.failed(err)
		return
	}
	h := a.w.Header()
	if info.deleted() {
		h.Set("X-Account-Status", "Deleted")
		swob.Error(a.w, http.StatusNotFound)
		return
	}
	var containers, objects, bytes int64
	if err := db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(object_count), 0), coalesce(sum(bytes_used), 0)
		FROM container WHERE deleted = 0`).Scan(&containers, &objects, &bytes); err != nil {
		a.failed(err)
		return
	}
	h.Set("X-Account-Container-Count", strconv.FormatInt(containers, 10))
	h.Set("X-Account-Object-Count", strconv.FormatInt(objects, 10))
	h.Set("X-Account-Bytes-Used", strconv.FormatInt(bytes, 10))
	// the one policy's stats, as upstream adds a set per policy in use
	if containers > 0 {
		h.Set("X-Account-Storage-Policy-Policy-0-Container-Count", strconv.FormatInt(containers, 10))
		h.Set("X-Account-Storage-Policy-Policy-0-Object-Count", strconv.FormatInt(objects, 10))
		h.Set("X-Account-Storage-Policy-Policy-0-Bytes-Used", strconv.FormatInt(bytes, 10))
	}
	h.Set("X-Timestamp", info.createdAt.Normal())
	h.Set("X-Put-Timestamp", info.put.Normal())
	setMetadataHeaders(h, info.metadata)
	a.answerListing(a.p.account, func(marker, endMarker, prefix string, reverse bool, limit int) ([]listEntry, error) {
		clause, args := rangeQuery(marker, endMarker, prefix, reverse)
		rows, err := db.QueryContext(ctx, `SELECT name, put_timestamp, object_count, bytes_used FROM container WHERE deleted = 0`+clause,
			append(args, limit)...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []listEntry
		for rows.Next() {
			var e listEntry
			var put swob.Timestamp
			if err := rows.Scan(&e.name, &put, &e.count, &e.bytes); err != nil {
				return nil, err
			}
			e.lastModified = put.ISO()
			out = append(out, e)
		}
		return out, rows.Err()
	})
}
