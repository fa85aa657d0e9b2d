package objectstore

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

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
	HashPathSuffix                         string
	Host                                   string
	ObjectPort, ContainerPort, AccountPort int
	Logger                                 *slog.Logger
}

// StorageNode is a storage node's servers.
type StorageNode struct {
	Storage *storage.Server
	Servers []Server
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
	n := &StorageNode{}
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
	if n.Storage, err = storage.New(storage.Options{Devices: o.Devices, HashSuffix: o.HashPathSuffix, Logger: o.Logger}); err != nil {
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
	}
	return n, nil
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
