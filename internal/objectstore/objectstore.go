// Package objectstore assembles Nimbus's Swift: the rings, one storage node
// (object, container and account servers over a few devices) and the proxy,
// as `nimbus up` runs them in one process. Each part also stands alone
// (ring, storage, proxy), speaking Swift's backend protocol over HTTP, so the
// roles can be split over processes and hosts.
package objectstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/proxy"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/s3api"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/storage"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Options configure an all-in-one object store.
type Options struct {
	// Dir holds the store's state: rings/, devices/ and the hash path suffix.
	Dir  string
	Host string
	// TempAuthUsers are tempauth's users (upstream's user_<account>_<user>
	// lines); none: no /auth/.
	TempAuthUsers string
	// Ports of the proxy and of the storage servers (upstream's 8080, 6200,
	// 6201, 6202); 0 picks free ones.
	ProxyPort, ObjectPort, ContainerPort, AccountPort int
	// Devices, Replicas and PartPower shape the rings made on first start
	// (default 3 devices in 3 zones, 3 replicas, 2^10 partitions).
	Devices, Replicas, PartPower int
	Auth                         proxy.Authenticator
	IdentityURL                  string
	Logger                       *slog.Logger
	// ExpirerInterval is the pause between expirer passes (0: 300 s),
	// ReaperInterval between account reaper passes (0: an hour); ReclaimAge
	// how long tombstones and deleted rows are kept (0: a week).
	ExpirerInterval, ReaperInterval, ReclaimAge time.Duration
	// AllowAccountManagement lets a reseller admin delete accounts
	// (upstream's allow_account_management), which the reaper then empties.
	AllowAccountManagement bool
	// S3 serves the S3 API on the proxy's port when its Identity is set.
	S3 s3api.Options
}

// Server is one listener of the object store and what it serves.
type Server struct {
	Name     string
	Listener *httpapi.Listener
	Handler  http.Handler
}

// AllInOne is a running object store: a proxy and one storage node.
type AllInOne struct {
	Storage *storage.Server
	Proxy   *proxy.Proxy
	Servers []Server
	// URL is the proxy's base URL (the catalog adds /v1/AUTH_<project>).
	URL string

	objectRingPath, containerRingPath, accountRingPath string
	hashSuffix                                         string
	local, localContainers, localAccounts              storage.LocalDevices
	expirerInterval, reaperInterval                    time.Duration
	log                                                *slog.Logger
}

// RingNames are the three rings, upstream's file names.
var RingNames = []string{"account", "container", "object"}

// StartAllInOne opens the listeners, makes or updates the rings so they name
// them, and builds the storage node and the proxy. The caller serves Servers.
func StartAllInOne(o Options) (_ *AllInOne, err error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Devices <= 0 {
		o.Devices = 3
	}
	if o.Replicas <= 0 {
		o.Replicas = 3
	}
	if o.PartPower <= 0 {
		o.PartPower = 10
	}
	a := &AllInOne{}
	defer func() {
		if err != nil {
			for _, s := range a.Servers {
				_ = s.Listener.Close()
			}
			if a.Storage != nil {
				a.Storage.Close()
			}
		}
	}()
	suffix, err := hashPathSuffix(filepath.Join(o.Dir, "hash_path_suffix"))
	if err != nil {
		return nil, err
	}
	devices := filepath.Join(o.Dir, "devices")
	for i := 1; i <= o.Devices; i++ {
		if err := os.MkdirAll(filepath.Join(devices, fmt.Sprintf("d%d", i)), 0o750); err != nil {
			return nil, err
		}
	}
	a.Storage, err = storage.New(storage.Options{Devices: devices, HashSuffix: suffix, Logger: o.Logger, ReclaimAge: o.ReclaimAge})
	if err != nil {
		return nil, err
	}
	ports := map[string]int{"object": o.ObjectPort, "container": o.ContainerPort, "account": o.AccountPort}
	handlers := map[string]http.Handler{"object": a.Storage.ObjectHandler(), "container": a.Storage.ContainerHandler(),
		"account": a.Storage.AccountHandler()}
	rings := map[string]*ring.Ring{}
	var policyRings map[int]*ring.Ring
	for _, name := range RingNames {
		l, err := httpapi.Listen(o.Host, ports[name])
		if err != nil {
			return nil, fmt.Errorf("%s server: %w", name, err)
		}
		a.Servers = append(a.Servers, Server{Name: name + "-server", Listener: l, Handler: handlers[name]})
		port := l.Addr().(*net.TCPAddr).Port
		switch name {
		case "object":
			a.local = storage.ListensAt(o.Host, port)
		case "container":
			a.localContainers = storage.ListensAt(o.Host, port)
		case "account":
			a.localAccounts = storage.ListensAt(o.Host, port)
		}
		if rings[name], err = ensureRing(filepath.Join(o.Dir, "rings"), name, o, port, suffix); err != nil {
			return nil, err
		}
		if name == "object" {
			if policyRings, err = ensurePolicyRings(o, port, suffix); err != nil {
				return nil, err
			}
		}
	}
	l, err := httpapi.Listen(o.Host, o.ProxyPort)
	if err != nil {
		return nil, fmt.Errorf("object-store proxy: %w", err)
	}
	a.URL = l.URL
	a.objectRingPath, a.hashSuffix = filepath.Join(o.Dir, "rings", "object.ring.gz"), suffix
	a.containerRingPath = filepath.Join(o.Dir, "rings", "container.ring.gz")
	a.accountRingPath = filepath.Join(o.Dir, "rings", "account.ring.gz")
	tempAuth, err := LoadTempAuth(o.Dir, o.TempAuthUsers)
	if err != nil {
		return nil, err
	}
	popts := proxy.Options{
		Rings: proxy.Rings{Account: rings["account"], Container: rings["container"], Object: rings["object"],
			ObjectPolicies: policyRings},
		Auth: o.Auth, Logger: o.Logger, IdentityURL: o.IdentityURL, AllowAccountManagement: o.AllowAccountManagement,
		TempAuth: tempAuth,
	}
	if o.S3.Identity != nil {
		popts.MiddlewareInfo = map[string]any{"s3api": s3api.Info()}
	}
	a.Proxy = proxy.New(popts)
	handler := a.Proxy.Handler()
	if o.S3.Identity != nil {
		// as upstream's pipeline: s3api (and s3token) before the proxy
		o.S3.Logger = o.Logger
		handler = s3api.New(o.S3, handler)
	}
	a.Servers = append(a.Servers, Server{Name: "object-store", Listener: l, Handler: handler})
	a.expirerInterval = cmp.Or(o.ExpirerInterval, proxy.ExpirerInterval)
	a.reaperInterval, a.log = cmp.Or(o.ReaperInterval, ReaperInterval), o.Logger
	return a, nil
}

// Run runs the store's daemons until ctx ends: the object updater,
// replicators (one per storage policy) and auditor, the container and
// account replicators, and the object expirer.
func (a *AllInOne) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { a.Storage.RunUpdater(ctx, storage.UpdaterInterval) })
	wg.Go(func() { a.Storage.RunReplicator(ctx, storage.ReplicatorInterval, a.loadObjectRing, a.local) })
	wg.Go(func() { a.Proxy.RunExpirer(ctx, a.expirerInterval, a.localContainers) })
	wg.Go(func() {
		runReaper(ctx, a.Storage, a.Proxy, a.loadAccountRing, a.localAccounts, a.reaperInterval, a.log)
	})
	runPolicyReplicators(ctx, &wg, a.Storage, filepath.Dir(a.objectRingPath), a.hashSuffix, storage.ReplicatorInterval, a.local)
	wg.Go(func() { a.Storage.RunAuditor(ctx, storage.AuditorInterval) })
	wg.Go(func() {
		a.Storage.RunContainerReplicator(ctx, storage.ReplicatorInterval, a.loadContainerRing, a.localContainers)
	})
	wg.Go(func() {
		a.Storage.RunAccountReplicator(ctx, storage.ReplicatorInterval, a.loadAccountRing, a.localAccounts)
	})
	wg.Wait()
}

// loadObjectRing reads the object ring as it is now (nimbus ring rebalance
// rewrites it).
func (a *AllInOne) loadObjectRing() (*ring.Ring, error) {
	return ring.Load(a.objectRingPath, "", a.hashSuffix)
}

func (a *AllInOne) loadContainerRing() (*ring.Ring, error) {
	return ring.Load(a.containerRingPath, "", a.hashSuffix)
}

func (a *AllInOne) loadAccountRing() (*ring.Ring, error) {
	return ring.Load(a.accountRingPath, "", a.hashSuffix)
}

// ReplicateAccounts runs one account replication pass now.
func (a *AllInOne) ReplicateAccounts(ctx context.Context) (storage.ReplicationStats, error) {
	rg, err := a.loadAccountRing()
	if err != nil {
		return storage.ReplicationStats{}, err
	}
	return a.Storage.ReplicateAccounts(ctx, rg, a.localAccounts), nil
}

// ReplicateContainers runs one container replication pass now.
func (a *AllInOne) ReplicateContainers(ctx context.Context) (storage.ReplicationStats, error) {
	rg, err := a.loadContainerRing()
	if err != nil {
		return storage.ReplicationStats{}, err
	}
	return a.Storage.ReplicateContainers(ctx, rg, a.localContainers), nil
}

// ReplicateObjects runs one object replication pass now.
func (a *AllInOne) ReplicateObjects(ctx context.Context) (storage.ReplicationStats, error) {
	rg, err := a.loadObjectRing()
	if err != nil {
		return storage.ReplicationStats{}, err
	}
	return a.Storage.ReplicateObjects(ctx, rg, a.local), nil
}

// CloseIdleConnections closes the proxy's and the storage node's idle
// connections to the storage servers, before the servers shut down (a
// connection the server never read a request from holds its shutdown for
// five seconds).
func (a *AllInOne) CloseIdleConnections() {
	a.Proxy.CloseIdleConnections()
	a.Storage.CloseIdleConnections()
}

// Close closes the storage node's databases (the caller stops the servers).
func (a *AllInOne) Close() { a.Storage.Close() }

// allInOneMeta marks the ring devices the all-in-one made and serves itself.
const allInOneMeta = "nimbus-up"

// ensureRing makes the ring on first start (one device per zone, all on this
// node) and, on every start, points its devices at this start's listener, as
// swift-ring-builder set_info would: free ports differ between starts, the
// partitions and the data do not move.
func ensureRing(dir, name string, o Options, port int, suffix string) (*ring.Ring, error) {
	builderPath := filepath.Join(dir, name+".builder")
	ip := o.Host
	if ip == "" || ip == "0.0.0.0" || ip == "::" {
		ip = "127.0.0.1"
	}
	b, err := ring.LoadBuilder(builderPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if b, err = ring.NewBuilder(o.PartPower, o.Replicas); err != nil {
			return nil, err
		}
		for i := 1; i <= o.Devices; i++ {
			if _, err := b.AddDevice(ring.Device{Region: 1, Zone: i, IP: ip, Port: port, Name: fmt.Sprintf("d%d", i), Weight: 100,
				Meta: allInOneMeta}); err != nil {
				return nil, err
			}
		}
		if _, err := b.Rebalance(); err != nil {
			return nil, fmt.Errorf("%s ring: %w", name, err)
		}
	case err != nil:
		return nil, err
	default:
		for _, d := range b.Devices {
			// only the devices this process serves: an operator may have
			// added others (nimbus ring add) on other storage nodes
			if d != nil && d.Meta == allInOneMeta {
				if err := b.SetAddress(d.ID, ip, port); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := b.Save(builderPath); err != nil {
		return nil, err
	}
	ringPath := filepath.Join(dir, name+".ring.gz")
	if err := b.WriteRing(ringPath); err != nil {
		return nil, err
	}
	return ring.Load(ringPath, "", suffix)
}

// hashPathSuffix reads the cluster's swift_hash_path_suffix, generating it on
// first start: every node must hash names with the same one, and it must
// never change.
func hashPathSuffix(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(data)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	suffix := hex.EncodeToString(b[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(suffix+"\n"), 0o600); err != nil {
		return "", err
	}
	return suffix, nil
}
