package storage

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// The account replicator is the container replicator's twin (see
// container_replicator.go): the same sync and merge_items exchange, over an
// account's container rows, which merge as upstream's account broker merges
// them: the newer put and delete timestamps win, and the counts merged last
// (reports carry no timestamp of their own; the container servers keep
// reporting, so the newest counts spread).

// containerRow is one row of an account's listing, as replicators exchange it.
type containerRow struct {
	Name    string         `json:"name"`
	Put     swob.Timestamp `json:"put_timestamp"`
	Delete  swob.Timestamp `json:"delete_timestamp"`
	Objects int64          `json:"object_count"`
	Bytes   int64          `json:"bytes_used"`
	Seq     int64          `json:"seq,omitempty"`
}

// mergeContainerRow merges a replica's row into the account's rows.
func mergeContainerRow(ctx context.Context, tx *sql.Tx, row containerRow) error {
	var put, del, objects, bytes int64
	err := tx.QueryRowContext(ctx, `SELECT put_timestamp, delete_timestamp, object_count, bytes_used FROM container WHERE name = ?`,
		row.Name).Scan(&put, &del, &objects, &bytes)
	if err == nil && int64(row.Put) <= put && int64(row.Delete) <= del && row.Objects == objects && row.Bytes == bytes {
		return nil // nothing new
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO container (name, put_timestamp, delete_timestamp, object_count, bytes_used, deleted)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET
		put_timestamp = max(put_timestamp, excluded.put_timestamp),
		delete_timestamp = max(delete_timestamp, excluded.delete_timestamp),
		object_count = excluded.object_count, bytes_used = excluded.bytes_used,
		deleted = max(delete_timestamp, excluded.delete_timestamp) > max(put_timestamp, excluded.put_timestamp)`,
		row.Name, row.Put, row.Delete, row.Objects, row.Bytes, row.Delete > row.Put); err != nil {
		return err
	}
	return recordChange(ctx, tx, "container_change", row.Name)
}

// accountRowsHash sums an account's rows, as rowsHash a container's.
func accountRowsHash(ctx context.Context, tx *sql.Tx) (string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, put_timestamp, delete_timestamp, object_count, bytes_used FROM container ORDER BY name`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	sum := md5.New()
	for rows.Next() {
		var r containerRow
		if err := rows.Scan(&r.Name, &r.Put, &r.Delete, &r.Objects, &r.Bytes); err != nil {
			return "", err
		}
		fmt.Fprintf(sum, "%s\x00%d\x00%d\x00%d\x00%d\n", r.Name, r.Put, r.Delete, r.Objects, r.Bytes)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// replicate answers REPLICATE /<device>/<partition>/<account>.
func (a *accountRequest) replicate() {
	var req dbSyncRequest
	if err := json.NewDecoder(io.LimitReader(a.r.Body, maxMissingCheck)).Decode(&req); err != nil || req.ID == "" ||
		(req.Op == "sync" && req.Info == nil) || (req.Op != "sync" && req.Op != "merge_items") {
		swob.Text(a.w, http.StatusBadRequest, "Invalid replication request")
		return
	}
	db := a.open(req.Op == "sync")
	if db == nil {
		return
	}
	ctx := a.r.Context()
	if req.Op == "sync" {
		if _, err := db.ExecContext(ctx, `INSERT INTO account_info (id, account, created_at) VALUES (1, ?, ?)
			ON CONFLICT (id) DO NOTHING`, a.p.account, req.Info.Created); err != nil {
			a.failed(err)
			return
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		a.failed(err)
		return
	}
	defer tx.Rollback()
	var answer *dbSyncAnswer
	if req.Op == "sync" {
		answer, err = a.syncInfo(ctx, tx, req)
	} else {
		err = a.mergeItems(ctx, tx, req)
	}
	if errors.Is(err, errBadItem) {
		swob.Text(a.w, http.StatusBadRequest, "Invalid replication item")
		return
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		a.failed(err)
		return
	}
	if answer == nil {
		swob.Error(a.w, http.StatusNoContent)
		return
	}
	body, _ := json.Marshal(answer)
	swob.Write(a.w, http.StatusOK, "application/json", string(body))
}

var errBadItem = errors.New("invalid replication item")

func (a *accountRequest) syncInfo(ctx context.Context, tx *sql.Tx, req dbSyncRequest) (*dbSyncAnswer, error) {
	info, err := loadAccountInfo(ctx, tx)
	if err != nil {
		return nil, err
	}
	in := req.Info
	if in.Created != 0 && (info.createdAt == 0 || in.Created < info.createdAt) {
		info.createdAt = in.Created
	}
	info.put, info.deletedAt = max(info.put, in.Put), max(info.deletedAt, in.Deleted)
	for k, v := range in.Metadata {
		if old, ok := info.metadata[k]; !ok || old.Timestamp < v.Timestamp {
			info.metadata[k] = v
		}
	}
	if err := saveAccountInfo(ctx, tx, info); err != nil {
		return nil, err
	}
	answer := &dbSyncAnswer{Point: -1}
	if answer.ID, err = replicationID(ctx, tx); err != nil {
		return nil, err
	}
	if answer.Hash, err = accountRowsHash(ctx, tx); err != nil {
		return nil, err
	}
	err = tx.QueryRowContext(ctx, `SELECT sync_point FROM incoming_sync WHERE remote_id = ?`, req.ID).Scan(&answer.Point)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	return answer, nil
}

func (a *accountRequest) mergeItems(ctx context.Context, tx *sql.Tx, req dbSyncRequest) error {
	var point int64
	for _, row := range req.Containers {
		if row.Name == "" || row.Objects < 0 || row.Bytes < 0 {
			return errBadItem
		}
		if err := mergeContainerRow(ctx, tx, row); err != nil {
			return err
		}
		point = max(point, row.Seq)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO incoming_sync (remote_id, sync_point) VALUES (?, ?)
		ON CONFLICT (remote_id) DO UPDATE SET sync_point = max(sync_point, excluded.sync_point)`, req.ID, point)
	return err
}

// accountDB is the account databases, as the replication pass sees them.
var accountDB = replicatedDB{
	kind:   "account",
	schema: accountSchema,
	backfillChanges: `INSERT INTO container_change (name) SELECT name FROM container
		WHERE name NOT IN (SELECT name FROM container_change) ORDER BY name`,
	describe: func(ctx context.Context, tx *sql.Tx) (replicaInfo, string, error) {
		info, err := loadAccountInfo(ctx, tx)
		if err != nil {
			return replicaInfo{}, "", err
		}
		var account string
		if err := tx.QueryRowContext(ctx, `SELECT account FROM account_info`).Scan(&account); err != nil {
			return replicaInfo{}, "", err
		}
		return replicaInfo{Created: info.createdAt, Put: info.put, Deleted: info.deletedAt, Metadata: info.metadata},
			url.PathEscape(account), nil
	},
	rowsHash:    accountRowsHash,
	changedRows: changedContainerRows,
}

// changedContainerRows is the account's next merge_items batch after point.
func changedContainerRows(ctx context.Context, db *sql.DB, point int64) (dbSyncRequest, int, int64, error) {
	rows, err := db.QueryContext(ctx, `SELECT c.name, c.put_timestamp, c.delete_timestamp, c.object_count, c.bytes_used, ch.seq
		FROM container_change ch JOIN container c ON c.name = ch.name WHERE ch.seq > ? ORDER BY ch.seq LIMIT ?`, point, mergeBatch)
	if err != nil {
		return dbSyncRequest{}, 0, 0, err
	}
	defer rows.Close()
	var items []containerRow
	for rows.Next() {
		var r containerRow
		if err := rows.Scan(&r.Name, &r.Put, &r.Delete, &r.Objects, &r.Bytes, &r.Seq); err != nil {
			return dbSyncRequest{}, 0, 0, err
		}
		items = append(items, r)
	}
	if err := rows.Err(); err != nil || len(items) == 0 {
		return dbSyncRequest{}, 0, 0, err
	}
	return dbSyncRequest{Containers: items}, len(items), items[len(items)-1].Seq, nil
}

// ReplicateAccounts runs one account replication pass over the local devices
// of the account ring rg.
func (s *Server) ReplicateAccounts(ctx context.Context, rg *ring.Ring, local LocalDevices) ReplicationStats {
	return s.replicateDBs(ctx, &accountDB, rg, local)
}

// RunAccountReplicator replicates the account databases every interval until
// ctx ends, reading the account ring anew each pass.
func (s *Server) RunAccountReplicator(ctx context.Context, interval time.Duration, loadRing func() (*ring.Ring, error), local LocalDevices) {
	s.runDBReplicator(ctx, &accountDB, interval, loadRing, local)
}
