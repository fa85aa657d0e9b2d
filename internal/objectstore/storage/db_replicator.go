package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// The account and container replicators, as upstream's db_replicator: each
// database has an id, and each replica remembers, per sender id, the last
// change it merged from that sender (incoming_sync, its sync point). A pass
// sends every local database's info to its other primaries
// ("sync": the receiver merges the timestamps and metadata, creating the
// database if it had none, and answers its sync point for the sender), then
// the rows changed after that point, in batches ("merge_items": rows
// merge as the database's own updates do, and the sync point advances). A
// database on a device that is not one of its primaries is removed once
// every primary took it. Changes are counted in a change table
// (object_change, container_change), whose AUTOINCREMENT sequence a changed
// row moves to the end, as upstream's ROWIDs.

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

// mergeBatch is how many rows one merge_items carries (upstream's per_diff).
const mergeBatch = 1000

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

// replicatedDB is one kind of replicated database (account or container):
// what the shared replication pass needs of it, as upstream's Replicator
// subclasses supply their server type and broker class to one base class.
type replicatedDB struct {
	kind   string // "account" or "container": names the data dir (kind+"s") and the log lines
	schema string
	// backfillChanges counts rows written before the change table existed
	// as changed now, so a sync sends them too.
	backfillChanges string
	// describe reads what a sync sends of the database: its info, and its
	// path below the partition on a remote server.
	describe func(ctx context.Context, tx *sql.Tx) (info replicaInfo, remotePath string, err error)
	rowsHash func(ctx context.Context, tx *sql.Tx) (string, error)
	// changedRows is the next merge_items batch: the rows changed after
	// point (at most mergeBatch), how many, and the last one's sequence.
	changedRows func(ctx context.Context, db *sql.DB, point int64) (batch dbSyncRequest, n int, last int64, err error)
}

// replicateDBs runs one replication pass of kind over the local devices of
// its ring rg.
func (s *Server) replicateDBs(ctx context.Context, kind *replicatedDB, rg *ring.Ring, local LocalDevices) ReplicationStats {
	var st ReplicationStats
	for _, dev := range rg.Devices() {
		if !local(dev) {
			continue
		}
		devDir := s.deviceDir(dev.Name)
		if devDir == "" {
			continue
		}
		dbs, _ := filepath.Glob(filepath.Join(devDir, kind.kind+"s", "*", "???", "*", "*.db"))
		for _, path := range dbs {
			if ctx.Err() != nil {
				return st
			}
			part, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(path)))))
			if err != nil || part < 0 || part >= rg.PartitionCount() {
				continue
			}
			st.Partitions++
			s.replicateDB(ctx, kind, rg, dev, path, part, &st)
		}
	}
	return st
}

// replicateDB syncs one database to its other primaries, and removes it
// once they all took it when dev is not one of them (a handoff).
func (s *Server) replicateDB(ctx context.Context, kind *replicatedDB, rg *ring.Ring, dev *ring.Device, path string, part int, st *ReplicationStats) {
	db, err := s.dbs.open(path, kind.schema, false)
	if err != nil {
		return
	}
	if _, err := s.reclaimRows(ctx, kind.kind, db); err != nil {
		s.log.Warn(kind.kind+" replicator: reclaim", "db", path, "error", err)
	}
	if s.reclaimableDB(ctx, kind.kind, db) {
		s.removeDB(path)
		st.Removed++
		return
	}
	var info replicaInfo
	var remotePath, id, hash string
	err = func() error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, kind.backfillChanges); err != nil {
			return err
		}
		if info, remotePath, err = kind.describe(ctx, tx); err != nil {
			return err
		}
		if id, err = replicationID(ctx, tx); err != nil {
			return err
		}
		if hash, err = kind.rowsHash(ctx, tx); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		s.log.Warn(kind.kind+" replicator", "db", path, "error", err)
		st.Failures++
		return
	}
	primary, others := peers(rg, part, dev)
	inSync := true
	for _, remote := range others {
		target := "http://" + net.JoinHostPort(remote.IP, strconv.Itoa(remote.Port)) + "/" + url.PathEscape(remote.Name) + "/" +
			strconv.Itoa(part) + "/" + remotePath
		if err := s.syncDB(ctx, kind, db, target, id, hash, info, st); err != nil {
			inSync = false
			st.Failures++
			s.log.Warn(kind.kind+" replicator: sync failed", "db", path, "remote", target, "error", err)
		}
	}
	if !primary && inSync {
		s.removeDB(path)
		st.Removed++
	}
}

// syncDB brings one remote replica up to date with db: a sync, then the
// rows changed after the remote's sync point, unless its rows hash equal.
func (s *Server) syncDB(ctx context.Context, kind *replicatedDB, db *sql.DB, target, id, hash string, info replicaInfo, st *ReplicationStats) error {
	var answer dbSyncAnswer
	if err := s.dbReplicate(ctx, target, dbSyncRequest{Op: "sync", ID: id, Info: &info}, &answer); err != nil {
		return err
	}
	if answer.Hash == hash {
		return nil
	}
	point := answer.Point
	for {
		batch, n, last, err := kind.changedRows(ctx, db, point)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		batch.Op, batch.ID = "merge_items", id
		if err := s.dbReplicate(ctx, target, batch, nil); err != nil {
			return err
		}
		st.Sent += n
		point = last
		if n < mergeBatch {
			return nil
		}
	}
}

// runDBReplicator replicates kind's databases every interval until ctx
// ends, reading the ring anew each pass.
func (s *Server) runDBReplicator(ctx context.Context, kind *replicatedDB, interval time.Duration, loadRing func() (*ring.Ring, error), local LocalDevices) {
	runEvery(ctx, interval, func() {
		rg, err := loadRing()
		if err != nil {
			s.log.Warn(kind.kind+" replicator: no ring", "error", err)
			return
		}
		if st := s.replicateDBs(ctx, kind, rg, local); st.Sent > 0 || st.Removed > 0 || st.Failures > 0 {
			s.log.Info(kind.kind+" replicator pass", "databases", st.Partitions, "rows", st.Sent,
				"removed", st.Removed, "failures", st.Failures)
		}
	})
}

// replicaRequest is a REPLICATE to one account or container database: what
// the shared handler needs of each kind, as upstream's ReplicatorRpc calls
// its broker's merge_timestamps and merge_items.
type replicaRequest interface {
	open(create bool) *sql.DB // nil when it answered (404, 500)
	failed(err error)
	// mergeInfo creates the database's info row if it had none and merges
	// the sender's info into it.
	mergeInfo(ctx context.Context, tx *sql.Tx, in *replicaInfo) error
	// mergeRows merges a batch of the sender's rows and returns the highest
	// change sequence among them, or errBadItem for an invalid row;
	// afterCommit, when not nil, runs once the batch is committed.
	mergeRows(ctx context.Context, tx *sql.Tx, req dbSyncRequest) (point int64, afterCommit func(), err error)
}

var errBadItem = errors.New("invalid replication item")

// answerReplicate answers a REPLICATE to a database of kind: "sync" merges
// the sender's info (creating the database) and answers its sync point and
// rows hash; "merge_items" merges a batch of rows and moves the sync point.
func answerReplicate(w http.ResponseWriter, r *http.Request, kind *replicatedDB, rr replicaRequest) {
	var req dbSyncRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxMissingCheck)).Decode(&req); err != nil || req.ID == "" ||
		(req.Op == "sync" && req.Info == nil) || (req.Op != "sync" && req.Op != "merge_items") {
		swob.Text(w, http.StatusBadRequest, "Invalid replication request")
		return
	}
	db := rr.open(req.Op == "sync")
	if db == nil {
		return
	}
	ctx := r.Context()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		rr.failed(err)
		return
	}
	defer tx.Rollback()
	var answer *dbSyncAnswer
	var afterCommit func()
	if req.Op == "sync" {
		answer, err = syncAnswer(ctx, tx, kind, rr, req)
	} else {
		afterCommit, err = mergeItems(ctx, tx, rr, req)
	}
	if errors.Is(err, errBadItem) {
		swob.Text(w, http.StatusBadRequest, "Invalid replication item")
		return
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		rr.failed(err)
		return
	}
	if afterCommit != nil {
		afterCommit()
	}
	if answer == nil {
		swob.Error(w, http.StatusNoContent)
		return
	}
	body, _ := json.Marshal(answer)
	swob.Write(w, http.StatusOK, "application/json", string(body))
}

// syncAnswer merges the sender's info and answers the sender's sync point
// here, -1 when none.
func syncAnswer(ctx context.Context, tx *sql.Tx, kind *replicatedDB, rr replicaRequest, req dbSyncRequest) (*dbSyncAnswer, error) {
	if err := rr.mergeInfo(ctx, tx, req.Info); err != nil {
		return nil, err
	}
	answer := &dbSyncAnswer{Point: -1}
	var err error
	if answer.ID, err = replicationID(ctx, tx); err != nil {
		return nil, err
	}
	if answer.Hash, err = kind.rowsHash(ctx, tx); err != nil {
		return nil, err
	}
	err = tx.QueryRowContext(ctx, `SELECT sync_point FROM incoming_sync WHERE remote_id = ?`, req.ID).Scan(&answer.Point)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	return answer, nil
}

// mergeItems merges a batch of the sender's rows and moves its sync point.
func mergeItems(ctx context.Context, tx *sql.Tx, rr replicaRequest, req dbSyncRequest) (afterCommit func(), err error) {
	point, afterCommit, err := rr.mergeRows(ctx, tx, req)
	if err != nil {
		return nil, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO incoming_sync (remote_id, sync_point) VALUES (?, ?)
		ON CONFLICT (remote_id) DO UPDATE SET sync_point = max(sync_point, excluded.sync_point)`, req.ID, point)
	return afterCommit, err
}

// mergeReplicaInfo merges a sender's info into a database's: created at the
// oldest, put and delete at the newest, each metadata key's newer value.
func mergeReplicaInfo(createdAt, put, deletedAt *swob.Timestamp, metadata map[string]metadataItem, in *replicaInfo) {
	if in.Created != 0 && (*createdAt == 0 || in.Created < *createdAt) {
		*createdAt = in.Created
	}
	*put, *deletedAt = max(*put, in.Put), max(*deletedAt, in.Deleted)
	for k, v := range in.Metadata {
		if old, ok := metadata[k]; !ok || old.Timestamp < v.Timestamp {
			metadata[k] = v
		}
	}
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

// dbReplicate sends one REPLICATE to an account or container server.
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
