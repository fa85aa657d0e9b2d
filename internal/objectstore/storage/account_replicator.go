package storage

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// The account replicator is db_replicator.go's pass and REPLICATE handler
// over an account's container rows, which merge as upstream's account broker
// merges them: the newer put and delete timestamps win, and the counts merged
// last (reports carry no timestamp of their own; the container servers keep
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
func (a *accountRequest) replicate() { answerReplicate(a.w, a.r, &accountDB, a) }

func (a *accountRequest) mergeInfo(ctx context.Context, tx *sql.Tx, in *replicaInfo) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO account_info (id, account, created_at) VALUES (1, ?, ?)
		ON CONFLICT (id) DO NOTHING`, a.p.account, in.Created); err != nil {
		return err
	}
	info, err := loadAccountInfo(ctx, tx)
	if err != nil {
		return err
	}
	mergeReplicaInfo(&info.createdAt, &info.put, &info.deletedAt, info.metadata, in)
	return saveAccountInfo(ctx, tx, info)
}

func (a *accountRequest) mergeRows(ctx context.Context, tx *sql.Tx, req dbSyncRequest) (int64, func(), error) {
	var point int64
	for _, row := range req.Containers {
		if row.Name == "" || row.Objects < 0 || row.Bytes < 0 {
			return 0, nil, errBadItem
		}
		if err := mergeContainerRow(ctx, tx, row); err != nil {
			return 0, nil, err
		}
		point = max(point, row.Seq)
	}
	return point, nil, nil
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
