package objectstore

import (
	"cmp"
	"context"
	"path/filepath"
	"sync"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/proxy"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

// runProxyDaemons runs the object expirer and the account reaper on a
// storage node that has the cluster's rings, as upstream runs them on the
// storage nodes with an internal client: a proxy of the node's own that
// serves no client. The expirer takes the task containers whose first
// replica is on this node, the reaper the deleted accounts whose first
// replica is. The rings are read once: restart the node after copying new
// ones.
func (n *StorageNode) runProxyDaemons(ctx context.Context, wg *sync.WaitGroup) {
	dir := filepath.Dir(n.opts.ObjectRing)
	load := func(name string) *ring.Ring {
		rg, err := ring.Load(filepath.Join(dir, name+".ring.gz"), "", n.opts.HashPathSuffix)
		if err != nil {
			return nil
		}
		return rg
	}
	rings := proxy.Rings{Account: load("account"), Container: load("container"), Object: load("object")}
	if rings.Account == nil || rings.Container == nil || rings.Object == nil {
		n.opts.Logger.Warn("no account, container or object ring: the object expirer and account reaper do not run", "rings", dir)
		return
	}
	for _, p := range otherPolicies() {
		if rg := load(p.RingName()); rg != nil {
			if rings.ObjectPolicies == nil {
				rings.ObjectPolicies = map[int]*ring.Ring{}
			}
			rings.ObjectPolicies[p.Index] = rg
		}
	}
	internal := proxy.New(proxy.Options{Rings: rings, Logger: n.opts.Logger})
	wg.Go(func() {
		internal.RunExpirer(ctx, cmp.Or(n.opts.ExpirerInterval, proxy.ExpirerInterval), n.localContainers)
		internal.CloseIdleConnections()
	})
	wg.Go(func() {
		runReaper(ctx, n.Storage, internal, func() (*ring.Ring, error) { return rings.Account, nil }, n.localAccounts,
			cmp.Or(n.opts.ReaperInterval, ReaperInterval), n.opts.Logger)
	})
}
