package storage

import (
	"context"
	"path/filepath"
	"strconv"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// The account server's part of the account reaper, as upstream's: the reaper
// walks the account databases on a node's devices, and for each one marked
// deleted (a reseller admin's DELETE) removes its containers' objects and
// then the containers through the other servers; here it finds them and
// records each container gone in the account's rows (upstream's container
// servers report it with X-Account-Override-Deleted), so the account
// replicators spread it and, once no container is left and reclaim_age
// passed, remove the account's databases.

// DeletedAccount is an account database marked deleted, with the containers
// it still lists.
type DeletedAccount struct {
	Account    string
	Device     string
	Partition  int
	DeletedAt  swob.Timestamp
	Containers []string
	path       string
}

// DeletedAccounts lists the account databases on the node's devices that are
// marked deleted.
func (s *Server) DeletedAccounts(ctx context.Context) []DeletedAccount {
	var out []DeletedAccount
	paths, _ := filepath.Glob(filepath.Join(s.opts.Devices, "*", "accounts", "*", "???", "*", "*.db"))
	for _, path := range paths {
		if ctx.Err() != nil {
			return out
		}
		part, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(path)))))
		if err != nil {
			continue
		}
		db, err := s.dbs.open(path, accountSchema, false)
		if err != nil {
			continue
		}
		info, err := loadAccountInfo(ctx, db)
		if err != nil || !info.deleted() {
			continue
		}
		var name string
		if err := db.QueryRowContext(ctx, `SELECT account FROM account_info`).Scan(&name); err != nil {
			continue
		}
		a := DeletedAccount{Account: name, Partition: part, DeletedAt: info.deletedAt, path: path,
			Device: filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(path))))))}
		rows, err := db.QueryContext(ctx, `SELECT name FROM container WHERE deleted = 0 ORDER BY name`)
		if err != nil {
			continue
		}
		for rows.Next() {
			var c string
			if rows.Scan(&c) == nil {
				a.Containers = append(a.Containers, c)
			}
		}
		rows.Close()
		out = append(out, a)
	}
	return out
}

// MarkContainerReaped records in a deleted account's database that the
// reaper removed one of its containers at ts.
func (s *Server) MarkContainerReaped(ctx context.Context, a DeletedAccount, container string, ts swob.Timestamp) error {
	db, err := s.dbs.open(a.path, accountSchema, false)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE container SET delete_timestamp = max(delete_timestamp, ?), object_count = 0,
		bytes_used = 0, deleted = 1 WHERE name = ? AND put_timestamp < ?`, ts, container, ts); err != nil {
		return err
	}
	if err := recordChange(ctx, tx, "container_change", container); err != nil {
		return err
	}
	return tx.Commit()
}
