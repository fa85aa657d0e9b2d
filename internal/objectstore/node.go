package objectstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/storage"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// NodeOptions configure a storage node running on its own (nimbus serve
// --role storage): its devices and the cluster's hash path suffix.
type NodeOptions struct {
	// Devices holds one directory per device the rings name on this node.
	Devices string
	// HashPathSuffix is the cluster's (the all-in-one's
	// DATA_DIR/objectstore/hash_path_suffix): every node must hash alike.
	HashPathSuffix string
	// ObjectRing is the object ring's file (the cluster's object.ring.gz),
	// read anew by each replication pass; "" runs no replicator. The
	// container and account rings are read beside it, if there.
	ObjectRing string
	// ReplicatorInterval is the pause between replication passes (0: 30 s).
	ReplicatorInterval                     time.Duration
	Host                                   string
	ObjectPort, ContainerPort, AccountPort int
	Logger                                 *slog.Logger
	// ExpirerInterval is the pause between expirer passes (0: 300 s),
	// AuditorInterval between auditor passes (0: 10 minutes), ReaperInterval
	// between account reaper passes (0: an hour); ReclaimAge how long
	// tombstones and deleted rows are kept (0: a week).
	ExpirerInterval, AuditorInterval, ReaperInterval, ReclaimAge time.Duration
}

// StorageNode is a storage node's servers.
type StorageNode struct {
	Storage *storage.Server
	Servers []Server

	opts                                  NodeOptions
	local, localContainers, localAccounts storage.LocalDevices
}

// StartStorageNode opens the node's three listeners over its devices. Nothing
// here makes rings: add the node's devices to the cluster's rings with
// nimbus ring add, at the ports it listens on.
func StartStorageNode(o NodeOptions) (_ *StorageNode, err error) {
	if o.HashPathSuffix == "" {
		return nil, errors.New("a storage node needs the cluster's hash path suffix")
	}
	if fi, err := os.Stat(o.Devices); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("devices directory %s: %v", o.Devices, err)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	n := &StorageNode{opts: o}
	defer func() {
		if err != nil {
			for _, s := range n.Servers {
				_ = s.Listener.Close()
			}
			if n.Storage != nil {
				n.Storage.Close()
			}
		}
	}()
	if n.Storage, err = storage.New(storage.Options{Devices: o.Devices, HashSuffix: o.HashPathSuffix, Logger: o.Logger,
		ReclaimAge: o.ReclaimAge}); err != nil {
		return nil, err
	}
	for _, s := range []struct {
		name    string
		port    int
		handler http.Handler
	}{
		{"object", o.ObjectPort, n.Storage.ObjectHandler()},
		{"container", o.ContainerPort, n.Storage.ContainerHandler()},
		{"account", o.AccountPort, n.Storage.AccountHandler()},
	} {
		l, err := httpapi.Listen(o.Host, s.port)
		if err != nil {
			return nil, fmt.Errorf("%s server: %w", s.name, err)
		}
		n.Servers = append(n.Servers, Server{Name: s.name + "-server", Listener: l, Handler: s.handler})
		switch s.name {
		case "object":
			n.local = storage.ListensAt(o.Host, l.Addr().(*net.TCPAddr).Port)
		case "container":
			n.localContainers = storage.ListensAt(o.Host, l.Addr().(*net.TCPAddr).Port)
		case "account":
			n.localAccounts = storage.ListensAt(o.Host, l.Addr().(*net.TCPAddr).Port)
		}
	}
	return n, nil
}

// Run runs the node's daemons until ctx ends: the object updater and
// auditor, and the replicators and the expirer when the node has the rings.
func (n *StorageNode) Run(ctx context.Context) {
	interval := n.opts.ReplicatorInterval
	if interval <= 0 {
		interval = storage.ReplicatorInterval
	}
	var wg sync.WaitGroup
	wg.Go(func() { n.Storage.RunUpdater(ctx, storage.UpdaterInterval) })
	wg.Go(func() { n.Storage.RunAuditor(ctx, cmp.Or(n.opts.AuditorInterval, storage.AuditorInterval)) })
	if n.opts.ObjectRing != "" {
		wg.Go(func() { n.Storage.RunReplicator(ctx, interval, n.loadObjectRing, n.local) })
		n.runProxyDaemons(ctx, &wg)
		runPolicyReplicators(ctx, &wg, n.Storage, filepath.Dir(n.opts.ObjectRing), n.opts.HashPathSuffix, interval, n.local)
		containerRing := filepath.Join(filepath.Dir(n.opts.ObjectRing), "container.ring.gz")
		if _, err := os.Stat(containerRing); err == nil {
			wg.Go(func() {
				n.Storage.RunContainerReplicator(ctx, interval, func() (*ring.Ring, error) {
					return ring.Load(containerRing, "", n.opts.HashPathSuffix)
				}, n.localContainers)
			})
		}
		accountRing := filepath.Join(filepath.Dir(n.opts.ObjectRing), "account.ring.gz")
		if _, err := os.Stat(accountRing); err == nil {
			wg.Go(func() {
				n.Storage.RunAccountReplicator(ctx, interval, func() (*ring.Ring, error) {
					return ring.Load(accountRing, "", n.opts.HashPathSuffix)
				}, n.localAccounts)
			})
		}
	}
	wg.Wait()
}

func (n *StorageNode) loadObjectRing() (*ring.Ring, error) {
	return ring.Load(n.opts.ObjectRing, "", n.opts.HashPathSuffix)
}

// ReplicateObjects runs one object replication pass now.
func (n *StorageNode) ReplicateObjects(ctx context.Context) (storage.ReplicationStats, error) {
	rg, err := n.loadObjectRing()
	if err != nil {
		return storage.ReplicationStats{}, err
	}
	return n.Storage.ReplicateObjects(ctx, rg, n.local), nil
}

// Close closes the node's databases (the caller stops the servers).
func (n *StorageNode) Close() { n.Storage.Close() }

// ReadHashPathSuffix reads the suffix an all-in-one generated in dir
// (DATA_DIR/objectstore), for nodes joining its cluster.
func ReadHashPathSuffix(dir string) (string, error) {
	path := filepath.Join(dir, "hash_path_suffix")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("the cluster's hash path suffix: %w (copy it from the all-in-one's data directory, objectstore/hash_path_suffix)", err)
	}
	return hashPathSuffix(path)
}
