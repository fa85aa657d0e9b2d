package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// containerSchema is one container's database: its info row and its object
// rows, deleted ones kept (with their timestamp) so a late, older update of a
// replica cannot resurrect them.
const containerSchema = `
CREATE TABLE IF NOT EXISTS container_info (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	account TEXT NOT NULL,
	container TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	put_timestamp INTEGER NOT NULL DEFAULT 0,
	delete_timestamp INTEGER NOT NULL DEFAULT 0,
	metadata TEXT NOT NULL DEFAULT '{}',
	object_count INTEGER NOT NULL DEFAULT 0,
	bytes_used INTEGER NOT NULL DEFAULT 0,
	account_hosts TEXT NOT NULL DEFAULT '',
	account_devices TEXT NOT NULL DEFAULT '',
	account_partition TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS object (
	name TEXT PRIMARY KEY,
	created_at INTEGER NOT NULL,
	size INTEGER NOT NULL,
	content_type TEXT NOT NULL,
	etag TEXT NOT NULL,
	deleted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS object_deleted_name ON object (deleted, name);
CREATE TABLE IF NOT EXISTS object_change (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL UNIQUE
);
` + replicationSchema

type containerInfo struct {
	account, container        string
	createdAt, put, deletedAt swob.Timestamp
	metadata                  map[string]metadataItem
	objects, bytes            int64
	accountHosts              string
	accountDevices            string
	accountPartition          string
}

// deleted is upstream's is_deleted: deleted after its last PUT, and empty.
func (c containerInfo) deleted() bool { return c.deletedAt > c.put && c.objects == 0 }

func loadContainerInfo(ctx context.Context, q rowQuerier) (containerInfo, error) {
	var c containerInfo
	var md string
	err := q.QueryRowContext(ctx, `SELECT account, container, created_at, put_timestamp, delete_timestamp, metadata,
		object_count, bytes_used, account_hosts, account_devices, account_partition FROM container_info`).Scan(
		&c.account, &c.container, &c.createdAt, &c.put, &c.deletedAt, &md, &c.objects, &c.bytes,
		&c.accountHosts, &c.accountDevices, &c.accountPartition)
	if err != nil {
		return c, err
	}
	c.metadata = map[string]metadataItem{}
	_ = json.Unmarshal([]byte(md), &c.metadata)
	return c, nil
}

// ContainerHandler is the container server: the container's PUT, POST, HEAD,
// GET (listing) and DELETE on /<device>/<partition>/<account>/<container>,
// and the object servers' row updates (PUT and DELETE with an object name).
func (s *Server) ContainerHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, dev, ok := s.requestDevice(w, r, 4, 5)
		if !ok {
			return
		}
		dir, hash := s.hashDir(dev, "containers", p.partition, p.account, p.container)
		c := containerRequest{dbRequest{s: s, w: w, r: r, p: p, kind: &containerDB, path: filepath.Join(dir, hash+".db")}}
		switch {
		case p.object != "" && r.Method == http.MethodPut:
			c.putObject(false)
		case p.object != "" && r.Method == http.MethodDelete:
			c.putObject(true)
		case p.object != "":
			swob.Error(w, http.StatusMethodNotAllowed)
		case r.Method == "REPLICATE":
			c.replicate()
		case r.Method == http.MethodPut:
			c.put()
		case r.Method == http.MethodPost:
			c.post()
		case r.Method == http.MethodDelete:
			c.delete()
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			c.get()
		default:
			swob.Error(w, http.StatusMethodNotAllowed)
		}
	})
}

type containerRequest struct{ dbRequest }

func (c *containerRequest) put() {
	ts, ok := requestTimestamp(c.w, c.r)
	if !ok {
		return
	}
	db := c.open(true)
	if db == nil {
		return
	}
	ctx := c.r.Context()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		c.failed(err)
		return
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO container_info (id, account, container, created_at) VALUES (1, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`, c.p.account, c.p.container, ts); err != nil {
		c.failed(err)
		return
	}
	info, err := loadContainerInfo(ctx, tx)
	if err != nil {
		c.failed(err)
		return
	}
	// created: new, or deleted before this PUT (upstream answers 201 then, 202
	// for a PUT to a container that exists)
	created := info.put == 0 || info.deleted()
	if info.put < ts {
		info.put = ts
		if created {
			info.createdAt = ts
		}
	}
	if !setContainerPolicy(c.w, c.r, info.metadata, ts, created) {
		return
	}
	mergeMetadata(info.metadata, c.r.Header, ts, "X-Container-Meta-", "X-Container-Sysmeta-", "X-Container-Read", "X-Container-Write")
	if hosts := c.r.Header.Get("X-Account-Host"); hosts != "" {
		info.accountHosts = hosts
		info.accountDevices = c.r.Header.Get("X-Account-Device")
		info.accountPartition = c.r.Header.Get("X-Account-Partition")
	}
	if err := saveContainerInfo(ctx, tx, info); err != nil {
		c.failed(err)
		return
	}
	if err := tx.Commit(); err != nil {
		c.failed(err)
		return
	}
	if err := c.s.reportContainer(ctx, info); err != nil {
		// the account never heard of the container: upstream answers 404
		// when the account is missing, so the proxy can tell
		c.s.log.Warn("account update failed", "account", c.p.account, "container", c.p.container, "error", err)
		if errors.Is(err, errAccountNotFound) {
			swob.Error(c.w, http.StatusNotFound)
			return
		}
	}
	if created {
		swob.Error(c.w, http.StatusCreated)
	} else {
		swob.Error(c.w, http.StatusAccepted)
	}
}

func saveContainerInfo(ctx context.Context, tx *sql.Tx, info containerInfo) error {
	md, _ := json.Marshal(info.metadata)
	_, err := tx.ExecContext(ctx, `UPDATE container_info SET created_at = ?, put_timestamp = ?, delete_timestamp = ?,
		metadata = ?, account_hosts = ?, account_devices = ?, account_partition = ?`,
		info.createdAt, info.put, info.deletedAt, string(md), info.accountHosts, info.accountDevices, info.accountPartition)
	return err
}

func (c *containerRequest) post() {
	ts, ok := requestTimestamp(c.w, c.r)
	if !ok {
		return
	}
	db := c.open(false)
	if db == nil {
		return
	}
	_, status, ok := updateInfo(&c.dbRequest, db, loadContainerInfo, saveContainerInfo, func(_ *sql.Tx, info *containerInfo) (int, error) {
		if info.deleted() {
			return http.StatusNotFound, nil
		}
		mergeMetadata(info.metadata, c.r.Header, ts, "X-Container-Meta-", "X-Container-Sysmeta-", "X-Container-Read", "X-Container-Write")
		return http.StatusNoContent, nil
	})
	if ok {
		swob.Error(c.w, status)
	}
}

func (c *containerRequest) delete() {
	ts, ok := requestTimestamp(c.w, c.r)
	if !ok {
		return
	}
	db := c.open(false)
	if db == nil {
		return
	}
	info, status, ok := updateInfo(&c.dbRequest, db, loadContainerInfo, saveContainerInfo, func(_ *sql.Tx, info *containerInfo) (int, error) {
		if info.deleted() {
			return http.StatusNotFound, nil
		}
		if info.objects > 0 {
			return http.StatusConflict, nil
		}
		if info.deletedAt < ts {
			info.deletedAt = ts
		}
		return http.StatusNoContent, nil
	})
	if !ok {
		return
	}
	if status == http.StatusNoContent {
		if err := c.s.reportContainer(c.r.Context(), info); err != nil {
			c.s.log.Warn("account update failed", "account", c.p.account, "container", c.p.container, "error", err)
		}
	}
	swob.Error(c.w, status)
}

// objectRow is one row of a container's listing, as replicators exchange it.
type objectRow struct {
	Name        string         `json:"name"`
	Created     swob.Timestamp `json:"created_at"`
	Size        int64          `json:"size"`
	ContentType string         `json:"content_type"`
	ETag        string         `json:"etag"`
	Deleted     bool           `json:"deleted"`
	Seq         int64          `json:"seq,omitempty"`
}

// mergeObjectRow merges a row into the object rows, the newer timestamp
// winning, and returns how the container's count and bytes change (the
// caller applies them in the same transaction). A changed row gets a new
// change sequence: the replicator's sync points count in it, as upstream's
// in ROWIDs (which a replace bumps there).
func mergeObjectRow(ctx context.Context, tx *sql.Tx, row objectRow) (dCount, dBytes int64, err error) {
	var oldCreated, oldSize int64
	var oldDeleted bool
	err = tx.QueryRowContext(ctx, `SELECT created_at, size, deleted FROM object WHERE name = ?`, row.Name).
		Scan(&oldCreated, &oldSize, &oldDeleted)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, 0, err
	}
	if exists && swob.Timestamp(oldCreated) >= row.Created {
		return 0, 0, nil // an older update: nothing to change
	}
	if row.Deleted {
		row.Size, row.ContentType, row.ETag = 0, "", ""
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO object (name, created_at, size, content_type, etag, deleted)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET created_at = excluded.created_at,
		size = excluded.size, content_type = excluded.content_type, etag = excluded.etag, deleted = excluded.deleted`,
		row.Name, row.Created, row.Size, row.ContentType, row.ETag, row.Deleted); err != nil {
		return 0, 0, err
	}
	if err := recordChange(ctx, tx, "object_change", row.Name); err != nil {
		return 0, 0, err
	}
	if exists && !oldDeleted {
		dCount, dBytes = -1, -oldSize
	}
	if !row.Deleted {
		dCount, dBytes = dCount+1, dBytes+row.Size
	}
	return dCount, dBytes, nil
}

// putObject merges an object server's update into the object rows: the row
// of the newer timestamp wins, whatever order updates arrive in.
func (c *containerRequest) putObject(deleted bool) {
	ts, ok := requestTimestamp(c.w, c.r)
	if !ok {
		return
	}
	var size int64
	contentType, etag := "", ""
	if !deleted {
		var err error
		if size, err = strconv.ParseInt(c.r.Header.Get("X-Size"), 10, 64); err != nil || size < 0 {
			swob.Text(c.w, http.StatusBadRequest, "Invalid X-Size")
			return
		}
		contentType, etag = c.r.Header.Get("X-Content-Type"), c.r.Header.Get("X-Etag")
	}
	db := c.open(false)
	if db == nil {
		return
	}
	ctx := c.r.Context()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		c.failed(err)
		return
	}
	defer tx.Rollback()
	info, err := loadContainerInfo(ctx, tx)
	if err != nil {
		c.failed(err)
		return
	}
	if info.deleted() {
		swob.Error(c.w, http.StatusNotFound)
		return
	}
	dCount, dBytes, err := mergeObjectRow(ctx, tx, objectRow{Name: c.p.object, Created: ts, Size: size,
		ContentType: contentType, ETag: etag, Deleted: deleted})
	if err != nil {
		c.failed(err)
		return
	}
	if _, err := tx.ExecContext(ctx, `UPDATE container_info SET object_count = object_count + ?, bytes_used = bytes_used + ?`,
		dCount, dBytes); err != nil {
		c.failed(err)
		return
	}
	if err := tx.Commit(); err != nil {
		c.failed(err)
		return
	}
	if dCount != 0 || dBytes != 0 {
		c.s.reportSoon(c.path)
	}
	if deleted {
		swob.Error(c.w, http.StatusNoContent)
	} else {
		swob.Error(c.w, http.StatusCreated)
	}
}

func (c *containerRequest) get() {
	db := c.open(false)
	if db == nil {
		return
	}
	ctx := c.r.Context()
	info, err := loadContainerInfo(ctx, db)
	if err != nil {
		c.failed(err)
		return
	}
	h := c.w.Header()
	if info.deleted() {
		h.Set("X-Backend-Put-Timestamp", info.put.Normal())
		h.Set("X-Backend-Delete-Timestamp", info.deletedAt.Normal())
		swob.Error(c.w, http.StatusNotFound)
		return
	}
	h.Set("X-Container-Object-Count", strconv.FormatInt(info.objects, 10))
	h.Set("X-Container-Bytes-Used", strconv.FormatInt(info.bytes, 10))
	h.Set("X-Timestamp", info.createdAt.Normal())
	h.Set("X-Put-Timestamp", info.put.Normal())
	h.Set("X-Backend-Put-Timestamp", info.put.Normal())
	h.Set("X-Backend-Delete-Timestamp", info.deletedAt.Normal())
	h.Set("X-Backend-Storage-Policy-Index", "0")
	h.Set("Last-Modified", info.put.LastModified())
	setMetadataHeaders(h, info.metadata)
	c.answerListing(c.p.container, func(marker, endMarker, prefix string, reverse bool, limit int) ([]listEntry, error) {
		return fetchObjects(ctx, db, marker, endMarker, prefix, reverse, limit)
	})
}

// rangeQuery builds the WHERE clause bounding names by marker, end marker and
// prefix, in either direction.
func rangeQuery(marker, endMarker, prefix string, reverse bool) (string, []any) {
	var where []string
	var args []any
	lower, upper := ">", "<"
	if reverse {
		lower, upper = "<", ">"
	}
	if marker != "" {
		where = append(where, "name "+lower+" ?")
		args = append(args, marker)
	}
	if endMarker != "" {
		where = append(where, "name "+upper+" ?")
		args = append(args, endMarker)
	}
	if prefix != "" {
		where = append(where, "name >= ?")
		args = append(args, prefix)
		if end := prefixEnd(prefix); end != "" {
			where = append(where, "name < ?")
			args = append(args, end)
		}
	}
	order := " ORDER BY name"
	if reverse {
		order += " DESC"
	}
	clause := ""
	if len(where) > 0 {
		clause = " AND " + strings.Join(where, " AND ")
	}
	return clause + order + " LIMIT ?", args
}

func fetchObjects(ctx context.Context, db *sql.DB, marker, endMarker, prefix string, reverse bool, limit int) ([]listEntry, error) {
	clause, args := rangeQuery(marker, endMarker, prefix, reverse)
	rows, err := db.QueryContext(ctx, `SELECT name, created_at, size, content_type, etag FROM object WHERE deleted = 0`+clause,
		append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []listEntry
	for rows.Next() {
		var e listEntry
		var created swob.Timestamp
		if err := rows.Scan(&e.name, &created, &e.bytes, &e.contentType, &e.hash); err != nil {
			return nil, err
		}
		e.lastModified = created.ISO()
		out = append(out, e)
	}
	return out, rows.Err()
}

// errAccountNotFound is an account server's 404 to a container update.
var errAccountNotFound = errors.New("account not found")

// reportContainer tells the account servers the container's timestamps and
// stats (what upstream's container server sends on PUT and DELETE, and its
// container updater afterwards).
func (s *Server) reportContainer(ctx context.Context, info containerInfo) error {
	hosts, devices := splitList(info.accountHosts), splitList(info.accountDevices)
	if len(hosts) == 0 || info.accountPartition == "" {
		return nil
	}
	h := http.Header{}
	h.Set("X-Put-Timestamp", info.put.Normal())
	h.Set("X-Delete-Timestamp", info.deletedAt.Normal())
	h.Set("X-Object-Count", strconv.FormatInt(info.objects, 10))
	h.Set("X-Bytes-Used", strconv.FormatInt(info.bytes, 10))
	h.Set("X-Timestamp", swob.Now().Normal())
	var errs []error
	notFound := 0
	for i := range min(len(hosts), len(devices)) {
		u := update{method: http.MethodPut, host: hosts[i], device: devices[i], part: info.accountPartition,
			path: "/" + info.account + "/" + info.container, headers: h}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.send(cctx, u)
		cancel()
		if err != nil {
			if strings.HasSuffix(err.Error(), "404 Not Found") {
				notFound++
			}
			errs = append(errs, err)
		}
	}
	if notFound > 0 && notFound == len(errs) {
		return errAccountNotFound
	}
	return errors.Join(errs...)
}

// reporter batches the account updates of busy containers: each object write
// marks its container, and one report a moment later carries the counts of
// all the writes in between (upstream's container updater, run continuously).
type reporter struct {
	mu    sync.Mutex
	dirty map[string]bool
	kick  chan struct{}
}

func (s *Server) reportSoon(path string) {
	s.reporterOnce.Do(func() {
		s.reports = &reporter{dirty: map[string]bool{}, kick: make(chan struct{}, 1)}
		s.reporterDone.Add(1)
		go func() {
			defer s.reporterDone.Done()
			s.runReporter()
		}()
	})
	s.reports.mu.Lock()
	s.reports.dirty[path] = true
	s.reports.mu.Unlock()
	select {
	case s.reports.kick <- struct{}{}:
	default:
	}
}

func (s *Server) runReporter() {
	for {
		select {
		case <-s.done:
			return
		case <-s.reports.kick:
		}
		select { // gather the writes of a burst
		case <-s.done:
			return
		case <-time.After(50 * time.Millisecond):
		}
		s.reports.mu.Lock()
		paths := s.reports.dirty
		s.reports.dirty = map[string]bool{}
		s.reports.mu.Unlock()
		for path := range paths {
			db, err := s.dbs.open(path, containerSchema, false)
			if err != nil {
				continue
			}
			info, err := loadContainerInfo(context.Background(), db)
			if err != nil {
				continue
			}
			if err := s.reportContainer(context.Background(), info); err != nil {
				s.log.Warn("container stats not reported to the account; the next write retries", "path", path, "error", err)
			}
		}
	}
}
