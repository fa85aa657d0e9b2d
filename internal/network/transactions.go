package network

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// How the network service writes (docs/network.md, "Concurrency"): every write that
// depends on a read makes the read in the same transaction, which db.InTx makes
// serializable on SQLite and PostgreSQL alike; PostgreSQL runs a transaction that
// lost a race again from the start, so the functions given to inTx compute and
// write, and act on nothing outside the transaction. The invariants the schema can
// hold it holds (an address per subnet, a segment, a default group per project, a
// floating IP per fixed IP): inserts of rows that may be taken use ON CONFLICT DO
// NOTHING and look at what they stored, so a conflict is an answer, not an
// aborted transaction.

// inTx runs fn in the request's transaction: that of the bulk creation the request
// is an item of (so that the items are stored together or not at all), else one of
// its own, which first checks the revision an If-Match header constrains the
// request to. The write transactions of one project's requests take their turn in
// this process (writeQueue).
func (s *Service) inTx(ctx context.Context, fn func(*db.Tx) error) error {
	if bulk, ok := ctx.Value(bulkKey{}).(*bulkTx); ok {
		err := fn(bulk.tx)
		if err != nil && bulk.err == nil {
			bulk.err = err
		}
		return err
	}
	project := ""
	if c := auth.FromContext(ctx); c != nil {
		project = c.ProjectID
	}
	leave, err := s.writers.enter(ctx, project)
	if err != nil {
		return err
	}
	defer leave()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := checkRevisionInTx(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

// bulkTx is the transaction the items of a bulk creation share, with the first
// error one of them met (a serialization failure runs the whole bulk again).
type bulkTx struct {
	tx  *db.Tx
	err error
}

type bulkKey struct{}

// expectedRevision is what an If-Match header constrains a request to: the
// resource (its table and id) must be at revision want when the request writes.
type expectedRevision struct {
	table, id, want string
}

type revisionKey struct{}

// revisionTables are the tables of the resources revision-if-match applies to, by
// their member name.
var revisionTables = map[string]string{"network": "networks", "subnet": "subnets", "port": "ports",
	"router": "routers", "security_group": "security_groups", "security_group_rule": "security_group_rules",
	"floatingip": "floatingips"}

// checkRevisionInTx fails with upstream's 412 unless the resource the request is
// constrained to is at the revision it names. It runs in the request's own
// transaction, so no concurrent update slips in between the check and the write.
func checkRevisionInTx(ctx context.Context, tx *db.Tx) error {
	exp, ok := ctx.Value(revisionKey{}).(expectedRevision)
	if !ok {
		return nil
	}
	var raw string
	err := tx.QueryRowContext(ctx, `SELECT body FROM `+exp.table+` WHERE id = ?`, exp.id).Scan(&raw)
	if db.IsNoRows(err) {
		return nil // the request answers 404
	}
	if err != nil {
		return err
	}
	var stored struct {
		RevisionNumber json.Number `json:"revision_number"`
	}
	if err := json.Unmarshal([]byte(raw), &stored); err != nil {
		return fmt.Errorf("revision of %s %s: %w", exp.table, exp.id, err)
	}
	if have := stored.RevisionNumber.String(); have != exp.want {
		return revisionConflict(exp.want, have)
	}
	return nil
}

// revisionConflict is upstream's RevisionNumberConstraintFailed.
func revisionConflict(want, have string) error {
	return neutronError(http.StatusPreconditionFailed, "RevisionNumberConstraintFailed",
		"Constrained to %s, but current revision is %s", want, have)
}

// writeQueue lines up the write transactions of each project in this process. Two
// of them almost always depend on each other (the project's quota counts, the
// addresses of its subnets), so on PostgreSQL one of two running at once is
// aborted and run again; under a burst of one project's requests most attempts
// are wasted that way, and some exhaust db.InTx's retries. In line, a project's
// requests conflict only with other processes' (and SQLite has one writer
// anyway). Correctness does not rest on it: the transactions are serializable.
type writeQueue struct {
	mu    sync.Mutex
	lines map[string]*writeLine
}

// writeLine is one project's line: its turn, and how many are in it.
type writeLine struct {
	turn    chan struct{}
	waiting int
}

// enter waits for key's turn (or the end of ctx) and returns the function that
// gives the turn to the next.
func (q *writeQueue) enter(ctx context.Context, key string) (leave func(), err error) {
	q.mu.Lock()
	if q.lines == nil {
		q.lines = map[string]*writeLine{}
	}
	line := q.lines[key]
	if line == nil {
		line = &writeLine{turn: make(chan struct{}, 1)}
		q.lines[key] = line
	}
	line.waiting++
	q.mu.Unlock()
	out := func() {
		q.mu.Lock()
		if line.waiting--; line.waiting == 0 {
			delete(q.lines, key)
		}
		q.mu.Unlock()
	}
	select {
	case line.turn <- struct{}{}:
		return func() { <-line.turn; out() }, nil
	case <-ctx.Done():
		out()
		return nil, fmt.Errorf("wait to write: %w", ctx.Err())
	}
}
