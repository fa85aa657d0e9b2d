package storage

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Reclaim, as upstream's reclaim_age: a tombstone (an object's .ts, a
// database's deleted row) must outlive every replica that could still hold
// the older state it hides, or replication would bring that state back. After
// reclaim_age (a week) every replica is assumed to have heard of it, and it
// is removed.
//
// Objects: the auditor, finding an object whose winning file is a .ts older
// than reclaim_age, invalidates its suffix; the next suffix hash computation
// (the replicator's, or a REPLICATE's) removes the .ts when it is still the
// newest file and still old enough (upstream's cleanup_ondisk_files, called
// from hash_suffix_dir), and the hash directory once empty. Databases: each
// replication pass deletes the rows deleted before reclaim_age (upstream's
// broker.reclaim).

// DefaultReclaimAge is upstream's reclaim_age default: a week.
const DefaultReclaimAge = 7 * 24 * time.Hour

// reclaimAge is the node's reclaim_age.
func (s *Server) reclaimAge() time.Duration {
	if s.opts.ReclaimAge > 0 {
		return s.opts.ReclaimAge
	}
	return DefaultReclaimAge
}

// reclaimable reports whether a tombstone of ts is older than age at now.
func reclaimable(ts swob.Timestamp, age time.Duration, now time.Time) bool {
	return now.Sub(ts.Time()) > age
}

// reclaimTombstone removes hashDir's tombstone when it is the object's
// newest file and older than age (a .meta or .data beside it that is older is
// obsolete and goes too, as upstream removes what the tombstone hides); the
// directory goes once empty. It reports whether it removed the tombstone.
func reclaimTombstone(hashDir string, age time.Duration, now time.Time) bool {
	f, err := scanObject(hashDir)
	if err != nil || f.tomb == "" || !reclaimable(f.tombTime, age, now) {
		return false
	}
	f.cleanup()
	_ = os.Remove(filepath.Join(hashDir, f.tomb))
	_ = os.Remove(filepath.Join(hashDir, sidecarPrefix+f.tomb+".metadata"))
	_ = os.Remove(hashDir) // only when empty: a file written meanwhile stays
	return true
}

// reclaimSuffix reclaims the old tombstones of a suffix directory, before
// its hash is computed.
func (s *Server) reclaimSuffix(suffixDir string) {
	entries, err := os.ReadDir(suffixDir)
	if err != nil {
		return
	}
	now, age := time.Now(), s.reclaimAge()
	for _, e := range entries {
		if e.IsDir() && isObjectHash(e.Name()) {
			reclaimTombstone(filepath.Join(suffixDir, e.Name()), age, now)
		}
	}
}

// auditTombstone is the auditor's part: an object whose winning file is an
// old tombstone has its suffix invalidated, so the next hash computation
// reclaims it (upstream's auditor does the same on DiskFileDeleted).
func (s *Server) auditTombstone(f objectFiles) {
	if f.tomb != "" && reclaimable(f.tombTime, s.reclaimAge(), time.Now()) {
		if err := s.invalidateSuffix(f.dir); err != nil {
			s.log.Warn("object auditor: invalidate an old tombstone's suffix", "dir", f.dir, "error", err)
		}
	}
}

// reclaimStatements delete a database's rows deleted before a time, and
// their change records, by kind.
var reclaimStatements = map[string][]string{
	"container": {
		`DELETE FROM object_change WHERE name IN (SELECT name FROM object WHERE deleted = 1 AND created_at < ?)`,
		`DELETE FROM object WHERE deleted = 1 AND created_at < ?`,
	},
	"account": {
		`DELETE FROM container_change WHERE name IN
			(SELECT name FROM container WHERE deleted = 1 AND delete_timestamp < ?)`,
		`DELETE FROM container WHERE deleted = 1 AND delete_timestamp < ?`,
	},
}

// reclaimRows deletes db's rows deleted before reclaim_age, as upstream's
// broker.reclaim in each replication pass, and returns how many went.
func (s *Server) reclaimRows(ctx context.Context, kind string, db *sql.DB) (int64, error) {
	stmts := reclaimStatements[kind]
	if len(stmts) == 0 {
		return 0, nil
	}
	before := swob.FromTime(time.Now().Add(-s.reclaimAge()))
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var n int64
	for i, stmt := range stmts {
		res, err := tx.ExecContext(ctx, stmt, before)
		if err != nil {
			return 0, err
		}
		if i == len(stmts)-1 {
			n, _ = res.RowsAffected()
		}
	}
	return n, tx.Commit()
}

// reclaimableDB reports whether a whole database may go, as upstream's
// db_replicator decides: deleted before reclaim_age and empty (a container
// without objects, an account without containers).
func (s *Server) reclaimableDB(ctx context.Context, kind string, db *sql.DB) bool {
	before := swob.FromTime(time.Now().Add(-s.reclaimAge()))
	switch kind {
	case "container":
		info, err := loadContainerInfo(ctx, db)
		return err == nil && info.deleted() && info.deletedAt < before
	case "account":
		info, err := loadAccountInfo(ctx, db)
		if err != nil || !info.deleted() || info.deletedAt >= before {
			return false
		}
		var live int
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM container WHERE deleted = 0`).Scan(&live)
		return err == nil && live == 0
	}
	return false
}
