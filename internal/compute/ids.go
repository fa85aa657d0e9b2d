package compute

import (
	"context"
	"fmt"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// The kinds of integer id drawn from compute_sequences.
const (
	seqInstances  = "instances"
	seqAggregates = "aggregates"
	// seqServices numbers compute and control services alike, as upstream's
	// one services table does.
	seqServices = "services"
)

// nextIDs draws n consecutive integer ids of kind and returns the first. The
// draw is one statement of its own, committed at once, never part of the
// caller's transaction: on PostgreSQL concurrent draws queue on the counter's
// row lock (READ COMMITTED) instead of aborting each other as serializable
// transactions would, and an id drawn by a transaction that then fails is
// skipped, as a database sequence skips it. On SQLite the draw takes the
// process's write turn like any transaction, rather than waiting in SQLite's
// busy handler.
func nextIDs(ctx context.Context, d *db.DB, kind string, n int) (int64, error) {
	const draw = `UPDATE compute_sequences SET last_value = last_value + ? WHERE name = ? RETURNING last_value`
	var last int64
	var err error
	if d.Dialect == db.SQLite {
		err = d.InTx(ctx, func(tx *db.Tx) error { return tx.QueryRowContext(ctx, draw, n, kind).Scan(&last) })
	} else {
		err = d.QueryRowContext(ctx, draw, n, kind).Scan(&last)
	}
	if err != nil {
		return 0, fmt.Errorf("draw %d %s id(s): %w", n, kind, err)
	}
	return last - int64(n) + 1, nil
}
