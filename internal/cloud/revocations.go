package cloud

import (
	"context"
	"fmt"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// sharesDatabase says whether other processes may serve the APIs from this
// cloud's database (nimbus serve --role api), so that what one writes the others
// must hear of: only PostgreSQL, since SQLite has one writing process.
func (c *Cloud) sharesDatabase() bool { return c.db != nil && c.db.Dialect == db.Postgres }

// followRevocations applies the revocations that the identity services of other
// processes publish on the bus to this process's list, as they are made, so that a
// token revoked there is refused here too.
func (c *Cloud) followRevocations(ctx context.Context) error {
	if _, err := auth.FollowRevocations(ctx, c.bus, c.revoked, c.log); err != nil {
		return fmt.Errorf("follow the revocations of other processes: %w", err)
	}
	return nil
}

// revocationResync is how often a process sharing its database reads every stored
// revocation event again.
const revocationResync = 10 * time.Second

// resyncRevocations reads the stored revocation events now and then: the bus
// delivers at most once, so an event published while this process was cut off
// from it (a restart of the bus) would otherwise never apply here. Adding an
// event the list holds changes nothing.
func (c *Cloud) resyncRevocations(ctx context.Context) {
	t := time.NewTicker(revocationResync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			events, err := c.identity.RevocationEvents(ctx)
			if err != nil {
				if ctx.Err() == nil {
					c.log.Warn("resync revocations", "error", err)
				}
				continue
			}
			c.revoked.Add(events...)
		}
	}
}
