package objectstore

import (
	"cmp"
	"context"
	"path/filepath"
	"sync"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/proxy"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

// runExpirer runs the object expirer on a storage node that has the
// cluster's rings, as upstream runs object-expirer on the storage nodes with
// an internal client: a proxy of its own that serves no client, taking the
// task containers whose first replica is on this node. The rings are read
// once: restart the node after copying new ones.
func (n *StorageNode) runExpirer(ctx context.Context, wg *sync.WaitGroup) {
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
		n.opts.Logger.Warn("no account, container or object ring: the object expirer does not run", "rings", dir)
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
	expirer := proxy.New(proxy.Options{Rings: rings, Logger: n.opts.Logger})
	wg.Go(func() {
		expirer.RunExpirer(ctx, cmp.Or(n.opts.ExpirerInterval, proxy.ExpirerInterval), n.localContainers)
		expirer.CloseIdleConnections()
	})
}
