package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// roleStorage runs an object-storage node (nimbus serve --role storage).
const roleStorage = "storage"

// serveStorage runs a storage node until ctx ends.
func serveStorage(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	o := cfg.ObjectStore
	dir := filepath.Join(cfg.DataDir, "objectstore")
	suffix := o.HashPathSuffix
	if suffix == "" {
		var err error
		if suffix, err = objectstore.ReadHashPathSuffix(dir); err != nil {
			return err
		}
	}
	opts := objectstore.NodeOptions{Devices: filepath.Join(dir, "devices"), HashPathSuffix: suffix, Host: cfg.API.Host,
		ObjectPort: o.ObjectPort, ContainerPort: o.ContainerPort, AccountPort: o.AccountPort, Logger: log,
		ReplicatorInterval: time.Duration(o.ReplicatorInterval) * time.Second,
		ExpirerInterval:    time.Duration(o.ExpirerInterval) * time.Second, ReclaimAge: time.Duration(o.ReclaimAge) * time.Second,
		AuditorInterval: time.Duration(o.AuditorInterval) * time.Second, ReaperInterval: time.Duration(o.ReaperInterval) * time.Second}
	// the replicator needs the cluster's object ring: copy it (as upstream's
	// rings are copied to every node) to DATA_DIR/objectstore/rings
	if ringPath := filepath.Join(dir, "rings", "object.ring.gz"); fileExists(ringPath) {
		opts.ObjectRing = ringPath
	} else {
		log.Warn("no object ring: the object replicator does not run", "ring", ringPath)
	}
	if cfg.API.EphemeralPorts {
		opts.ObjectPort, opts.ContainerPort, opts.AccountPort = 0, 0, 0
	}
	n, err := objectstore.StartStorageNode(opts)
	if err != nil {
		return err
	}
	defer n.Close()
	endpoints := map[string]string{}
	for _, s := range n.Servers {
		endpoints[s.Name] = s.Listener.URL
	}
	fmt.Println(readyLine("nimbus storage ready", endpoints, "devices="+opts.Devices))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.Run(ctx)
	}()
	errc := make(chan error, len(n.Servers))
	for _, s := range n.Servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := httpapi.Serve(ctx, s.Listener, s.Handler, log); err != nil {
				errc <- fmt.Errorf("%s: %w", s.Name, err)
			}
		}()
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	log.Info("nimbus storage stopped")
	return errors.Join(errs...)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
