package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// roleProxy runs an object-store proxy (nimbus serve --role proxy).
const roleProxy = "proxy"

// serveProxy runs a proxy until ctx ends: the cluster's rings (ringDir, else
// DATA_DIR/objectstore/rings), identity's tokens validated as --role api
// validates them (the cloud's Fernet keys in DATA_DIR/fernet-keys, its
// revocations followed on the bus), and tempauth with the cluster's key.
func serveProxy(ctx context.Context, cfg config.Config, ringDir string, log *slog.Logger) error {
	o := cfg.ObjectStore
	dir := filepath.Join(cfg.DataDir, "objectstore")
	if ringDir == "" {
		ringDir = filepath.Join(dir, "rings")
	}
	suffix := o.HashPathSuffix
	if suffix == "" {
		var err error
		if suffix, err = objectstore.ReadHashPathSuffix(dir); err != nil {
			return err
		}
	}
	if cfg.Bus.URL == "" {
		return errors.New("nimbus serve --role proxy follows the cloud's token revocations on its bus: set [bus] url (the cloud's join.toml has it)")
	}
	// read first, and never created here: a wrong directory is the likeliest mistake
	keyDir := filepath.Join(cfg.DataDir, "fernet-keys")
	if entries, err := os.ReadDir(keyDir); err != nil || len(entries) == 0 {
		return fmt.Errorf("no Fernet keys in %s (%v): the proxy opens identity's tokens with the cloud's keys, "+
			"in the data directory of its nimbus up", keyDir, err)
	}
	keys, err := fernet.OpenRepository(keyDir, cfg.Identity.MaxActiveKeys)
	if err != nil {
		return err
	}
	b, err := bus.Start(bus.Options{URL: cfg.Bus.URL, Log: log})
	if err != nil {
		return err
	}
	defer b.Close()
	revoked := auth.NewRevocationList()
	stopFollowing, err := auth.FollowRevocations(ctx, b, revoked, log)
	if err != nil {
		return err
	}
	defer stopFollowing()
	port := o.Port
	if cfg.API.EphemeralPorts {
		port = 0
	}
	p, srv, err := objectstore.StartProxy(objectstore.ProxyOptions{RingDir: ringDir, HashPathSuffix: suffix,
		Host: cfg.API.Host, Port: port, Auth: auth.NewValidator(auth.Codec{Keys: keys}, revoked),
		IdentityURL: identityURLOf(cfg.DataDir),
		TempAuthDir: dir, TempAuthUsers: o.TempAuthUsers, Logger: log})
	if err != nil {
		return err
	}
	fmt.Println(readyLine("nimbus proxy ready", map[string]string{srv.Name: srv.Listener.URL}, "rings="+ringDir))
	var wg sync.WaitGroup
	wg.Go(func() { followKeysAndRevocations(ctx, keys, b, revoked, log) })
	err = httpapi.Serve(ctx, srv.Listener, srv.Handler, log)
	p.CloseIdleConnections()
	wg.Wait()
	log.Info("nimbus proxy stopped")
	return err
}

// identityURLOf is the cloud's identity URL as its admin-openrc names it
// (OS_AUTH_URL without /v3), for the WWW-Authenticate of a 401; "" when the
// data directory has none.
func identityURLOf(dataDir string) string {
	data, err := os.ReadFile(filepath.Join(dataDir, "admin-openrc"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "export OS_AUTH_URL="); ok {
			return strings.TrimSuffix(strings.Trim(strings.TrimSpace(v), `'"`), "/v3")
		}
	}
	return ""
}

// followKeysAndRevocations keeps the proxy's view of identity current, as the
// api role's: rotated keys read every 2 s, and every stored revocation read
// again every 10 s (the bus delivers at most once).
func followKeysAndRevocations(ctx context.Context, keys *fernet.Repository, b *bus.Bus, revoked *auth.RevocationList, log *slog.Logger) {
	reload := time.NewTicker(2 * time.Second)
	defer reload.Stop()
	resync := time.NewTicker(10 * time.Second)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload.C:
			if err := keys.Reload(); err != nil {
				log.Warn("reload fernet keys", "error", err)
			}
		case <-resync.C:
			var events []auth.RevocationEvent
			if err := b.Call(ctx, auth.RevocationListSubject, struct{}{}, &events); err != nil {
				log.Warn("resync revocations", "error", err)
				continue
			}
			revoked.Add(events...)
		}
	}
}
