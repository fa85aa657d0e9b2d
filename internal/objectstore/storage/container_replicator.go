package storage

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

// The container replicator is db_replicator.go's pass and REPLICATE handler
// over a container's object rows, which merge as object updates do.

// rowsHash sums a container's rows (names, timestamps, deletions), as
// upstream's database hash, so two replicas in sync know it at once and no
// merged row echoes back to its sender.
func rowsHash(ctx context.Context, tx *sql.Tx) (string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, created_at, deleted FROM object ORDER BY name`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	sum := md5.New()
	for rows.Next() {
		var name string
		var created int64
		var deleted bool
		if err := rows.Scan(&name, &created, &deleted); err != nil {
			return "", err
		}
		fmt.Fprintf(sum, "%s\x00%d\x00%t\n", name, created, deleted)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// replicate answers REPLICATE /<device>/<partition>/<account>/<container>.
func (c *containerRequest) replicate() { answerReplicate(c.w, c.r, &containerDB, c) }

func (c *containerRequest) mergeInfo(ctx context.Context, tx *sql.Tx, in *replicaInfo) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO container_info (id, account, container, created_at) VALUES (1, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`, c.p.account, c.p.container, in.Created); err != nil {
		return err
	}
	info, err := loadContainerInfo(ctx, tx)
	if err != nil {
		return err
	}
	mergeReplicaInfo(&info.createdAt, &info.put, &info.deletedAt, info.metadata, in)
	if info.accountHosts == "" {
		info.accountHosts, info.accountDevices, info.accountPartition = in.AccountHosts, in.AccountDevices, in.AccountPartition
	}
	return saveContainerInfo(ctx, tx, info)
}

// mergeRows merges object rows and applies their count and bytes to the
// container's; a change is reported to the account after the commit.
func (c *containerRequest) mergeRows(ctx context.Context, tx *sql.Tx, req dbSyncRequest) (int64, func(), error) {
	var count, bytes, point int64
	for _, row := range req.Items {
		if row.Name == "" || row.Size < 0 {
			return 0, nil, errBadItem
		}
		dCount, dBytes, err := mergeObjectRow(ctx, tx, row)
		if err != nil {
			return 0, nil, err
		}
		count, bytes, point = count+dCount, bytes+dBytes, max(point, row.Seq)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE container_info SET object_count = object_count + ?, bytes_used = bytes_used + ?`,
		count, bytes); err != nil {
		return 0, nil, err
	}
	if count == 0 && bytes == 0 {
		return point, nil, nil
	}
	return point, func() { c.s.reportSoon(c.path) }, nil
}

// containerDB is the container databases, as the replication pass sees them.
var containerDB = replicatedDB{
	kind:   "container",
	schema: containerSchema,
	backfillChanges: `INSERT INTO object_change (name) SELECT name FROM object
		WHERE name NOT IN (SELECT name FROM object_change) ORDER BY name`,
	describe: func(ctx context.Context, tx *sql.Tx) (replicaInfo, string, error) {
		info, err := loadContainerInfo(ctx, tx)
		if err != nil {
			return replicaInfo{}, "", err
		}
		return replicaInfo{
			Created: info.createdAt, Put: info.put, Deleted: info.deletedAt, Metadata: info.metadata,
			AccountHosts: info.accountHosts, AccountDevices: info.accountDevices, AccountPartition: info.accountPartition,
		}, url.PathEscape(info.account) + "/" + url.PathEscape(info.container), nil
	},
	rowsHash:    rowsHash,
	changedRows: changedObjectRows,
}

// changedObjectRows is the container's next merge_items batch after point.
func changedObjectRows(ctx context.Context, db *sql.DB, point int64) (dbSyncRequest, int, int64, error) {
	rows, err := db.QueryContext(ctx, `SELECT o.name, o.created_at, o.size, o.content_type, o.etag, o.deleted, c.seq
		FROM object_change c JOIN object o ON o.name = c.name WHERE c.seq > ? ORDER BY c.seq LIMIT ?`, point, mergeBatch)
	if err != nil {
		return dbSyncRequest{}, 0, 0, err
	}
	defer rows.Close()
	var items []objectRow
	for rows.Next() {
		var r objectRow
		if err := rows.Scan(&r.Name, &r.Created, &r.Size, &r.ContentType, &r.ETag, &r.Deleted, &r.Seq); err != nil {
			return dbSyncRequest{}, 0, 0, err
		}
		items = append(items, r)
	}
	if err := rows.Err(); err != nil || len(items) == 0 {
		return dbSyncRequest{}, 0, 0, err
	}
	return dbSyncRequest{Items: items}, len(items), items[len(items)-1].Seq, nil
}

// ReplicateContainers runs one container replication pass over the local
// devices of the container ring rg.
func (s *Server) ReplicateContainers(ctx context.Context, rg *ring.Ring, local LocalDevices) ReplicationStats {
	return s.replicateDBs(ctx, &containerDB, rg, local)
}

// RunContainerReplicator replicates the container databases every interval
// until ctx ends, reading the container ring anew each pass.
func (s *Server) RunContainerReplicator(ctx context.Context, interval time.Duration, loadRing func() (*ring.Ring, error), local LocalDevices) {
	s.runDBReplicator(ctx, &containerDB, interval, loadRing, local)
}
