package storage

import (
	"container/list"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sync"

	_ "modernc.org/sqlite" // SQLite driver "sqlite"
)

// dbCache keeps the most recently used account and container databases open:
// opening SQLite costs more than a listing, and a node holds more databases
// than it may keep open.
type dbCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *cachedDB, most recent first
	byKey map[string]*list.Element
}

type cachedDB struct {
	path string
	db   *sql.DB
}

func newDBCache(max int) *dbCache {
	return &dbCache{max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

// errNoDB is returned when the database does not exist and create is false.
var errNoDB = errors.New("no such database")

// open returns the database at path, creating it with schema when create is
// set. Each database has one connection: writes to it are serialized in this
// process, as upstream serializes them with its lock on the file.
func (c *dbCache) open(path, schema string, create bool) (*sql.DB, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[path]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*cachedDB).db, nil
	}
	if _, err := os.Stat(path); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if !create {
			return nil, errNoDB
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
	}
	// synchronous(NORMAL), as upstream's get_db_connection sets: in WAL
	// mode a commit is written to the WAL (so a killed process loses no
	// acknowledged row, see TestDBCommitSurvivesKill) without an fsync per
	// row; the fsync comes at each checkpoint. That is upstream's guarantee
	// for a row, which its container server appends to the .pending file
	// without an fsync (swift/common/db.py put_record).
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, err
	}
	c.byKey[path] = c.order.PushFront(&cachedDB{path: path, db: db})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		old := last.Value.(*cachedDB)
		delete(c.byKey, old.path)
		// a request still using it finishes first: Close waits for none, but
		// database/sql fails later calls, so close after a grace period
		go closeLater(old.db)
	}
	return db, nil
}

// remove forgets the database at path (its files are about to go): a
// request still using it finishes first.
func (c *dbCache) remove(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[path]; ok {
		c.order.Remove(el)
		delete(c.byKey, path)
		go closeLater(el.Value.(*cachedDB).db)
	}
}

func (c *dbCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.order.Front(); el != nil; el = el.Next() {
		_ = el.Value.(*cachedDB).db.Close()
	}
	c.order.Init()
	clear(c.byKey)
}
