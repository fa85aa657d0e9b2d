package objectstore

import (
	"context"
	"log/slog"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/proxy"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/storage"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// ReaperInterval is the pause between account reaper passes (upstream's
// interval, an hour).
const ReaperInterval = time.Hour

// ReaperStats count one account reaper pass.
type ReaperStats struct {
	Accounts   int // deleted accounts this node reaped
	Containers int // containers removed, with their objects
	Failures   int // containers left for the next pass
}

// reapAccounts is one account reaper pass, as upstream's reaper: each
// account database on this node marked deleted, when its device is the
// account's first primary (so one node reaps each account), has its
// containers' objects and then its containers removed; each container gone
// is recorded in the account's rows, which the account replicator spreads
// and, once none is left and reclaim_age passed, reclaims with the account.
// A pass is idempotent: a container half reaped is listed and reaped again.
func reapAccounts(ctx context.Context, s *storage.Server, internal *proxy.Proxy, accounts *ring.Ring, local storage.LocalDevices) ReaperStats {
	var st ReaperStats
	for _, a := range s.DeletedAccounts(ctx) {
		nodes := accounts.Nodes(accounts.Partition(a.Account))
		if len(nodes) == 0 || !local(nodes[0]) || nodes[0].Name != a.Device {
			continue
		}
		st.Accounts++
		for _, container := range a.Containers {
			if ctx.Err() != nil {
				return st
			}
			if !internal.ReapContainer(ctx, a.Account, container) {
				st.Failures++
				continue
			}
			if err := s.MarkContainerReaped(ctx, a, container, swob.Now()); err != nil {
				st.Failures++
				continue
			}
			st.Containers++
		}
	}
	return st
}

// runReaper runs an account reaper pass every interval until ctx ends.
func runReaper(ctx context.Context, s *storage.Server, internal *proxy.Proxy, loadRing func() (*ring.Ring, error),
	local storage.LocalDevices, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rg, err := loadRing()
			if err != nil {
				log.Warn("account reaper: no account ring", "error", err)
				continue
			}
			if st := reapAccounts(ctx, s, internal, rg, local); st.Containers > 0 || st.Failures > 0 {
				log.Info("account reaper pass", "accounts", st.Accounts, "containers", st.Containers, "failures", st.Failures)
			}
		}
	}
}

// ReapAccounts runs one account reaper pass now.
func (a *AllInOne) ReapAccounts(ctx context.Context) (ReaperStats, error) {
	rg, err := a.loadAccountRing()
	if err != nil {
		return ReaperStats{}, err
	}
	return reapAccounts(ctx, a.Storage, a.Proxy, rg, a.localAccounts), nil
}
