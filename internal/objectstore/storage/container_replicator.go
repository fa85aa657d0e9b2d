package storage

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// The container replicator, as upstream's db_replicator: each container
// database has an id, and each replica remembers, per sender id, the last
// change it merged from that sender (incoming_sync, its sync point). A pass
// sends every local database's info to the container's other primaries
// ("sync": the receiver merges the timestamps and metadata, creating the
// database if it had none, and answers its sync point for the sender), then
// the object rows changed after that point, in batches ("merge_items": rows
// merge by timestamp as object updates do, and the sync point advances). A
// database on a device that is not one of its primaries is removed once
// every primary took it. Changes are counted in object_change, whose
// AUTOINCREMENT sequence a changed row moves to the end, as upstream's
// ROWIDs.

// replicationSchema is what a database keeps for replication, besides its
// change table: its id and, per sender, its sync point.
const replicationSchema = `
CREATE TABLE IF NOT EXISTS incoming_sync (
	remote_id TEXT PRIMARY KEY,
	sync_point INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS replication_id (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	uuid TEXT NOT NULL
);
`

// recordChange moves name to the end of a change table (a new sequence).
func recordChange(ctx context.Context, tx *sql.Tx, table, name string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE name = ?`, name); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (name) VALUES (?)`, name)
	return err
}

// dbSyncRequest is a REPLICATE request to a container or account server.
type dbSyncRequest struct {
	Op    string       `json:"op"` // "sync" or "merge_items"
	ID    string       `json:"id"` // the sender's database id
	Info  *replicaInfo `json:"info,omitempty"`
	Items []objectRow  `json:"items,omitempty"`
	// Containers are an account database's rows
	Containers []containerRow `json:"containers,omitempty"`
}

// replicaInfo is what a container database says of itself.
type replicaInfo struct {
	Created          swob.Timestamp          `json:"created_at"`
	Put              swob.Timestamp          `json:"put_timestamp"`
	Deleted          swob.Timestamp          `json:"delete_timestamp"`
	Metadata         map[string]metadataItem `json:"metadata"`
	AccountHosts     string                  `json:"account_hosts"`
	AccountDevices   string                  `json:"account_devices"`
	AccountPartition string                  `json:"account_partition"`
}

// dbSyncAnswer is the receiver's answer to "sync".
type dbSyncAnswer struct {
	ID    string `json:"id"`
	Point int64  `json:"point"` // the last of the sender's changes merged here; -1 none
	Hash  string `json:"hash"`  // of the receiver's rows: equal to the sender's, nothing to send
}

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

// mergeBatch is how many rows one merge_items carries (upstream's per_diff).
const mergeBatch = 1000

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

// replicationID is the database's id, made on first use (upstream makes it
// with the database).
func replicationID(ctx context.Context, tx *sql.Tx) (string, error) {
	var id string
	err := tx.QueryRowContext(ctx, `SELECT uuid FROM replication_id`).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id = hex.EncodeToString(b[:])
	_, err = tx.ExecContext(ctx, `INSERT INTO replication_id (id, uuid) VALUES (1, ?)`, id)
	return id, err
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

// peers says whether dev is one of part's primaries, and lists the others.
func peers(rg *ring.Ring, part int, dev *ring.Device) (primary bool, others []*ring.Device) {
	for _, d := range rg.Nodes(part) {
		if d.ID == dev.ID {
			primary = true
		} else {
			others = append(others, d)
		}
	}
	return primary, others
}

// removeDB removes a handed-off database and the directories it empties.
func (s *Server) removeDB(path string) {
	s.dbs.remove(path)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(path + suffix)
	}
	hashDir := filepath.Dir(path)
	if os.Remove(hashDir) == nil && os.Remove(filepath.Dir(hashDir)) == nil {
		_ = os.Remove(filepath.Dir(filepath.Dir(hashDir)))
	}
}

// dbReplicate sends one REPLICATE to a container server.
func (s *Server) dbReplicate(ctx context.Context, target string, body dbSyncRequest, answer any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "REPLICATE", target, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.replClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("REPLICATE %s: %s", target, resp.Status)
	}
	if answer != nil {
		return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(answer)
	}
	return nil
}
