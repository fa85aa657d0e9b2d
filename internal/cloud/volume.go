package cloud

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/nimbus-cloud/nimbus/internal/platform/config"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/volume"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend/fake"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend/file"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend/iscsi"
	"github.com/nimbus-cloud/nimbus/internal/volume/backup"
)

// volumeParts are the block storage service and this host's volume manager.
type volumeParts struct {
	service *volume.Service
	manager *volume.Manager
}

// volumeDrivers build a backend by driver name: "file" (qcow2 files served
// over NBD), "iscsi" (raw files served by tgt) or "fake" (sparse files, no exports: scale tests and machines
// without QEMU).
var volumeDrivers = map[string]func(cfg config.VolumeBackend) (backend.Backend, error){
	"fake": func(cfg config.VolumeBackend) (backend.Backend, error) {
		return fake.New(cfg.Name, cfg.PoolDir, cfg.CapacityGB)
	},
	"file": func(cfg config.VolumeBackend) (backend.Backend, error) {
		return file.New(file.Options{Name: cfg.Name, Pool: cfg.PoolDir, Host: cfg.ExportHost, Namespace: cfg.ExportNamespace,
			VolumeClearZero: cfg.VolumeClear == "zero"})
	},
	"iscsi": func(cfg config.VolumeBackend) (backend.Backend, error) {
		return iscsi.New(iscsi.Options{Name: cfg.Name, Pool: cfg.PoolDir, Host: cfg.ExportHost, Namespace: cfg.ExportNamespace,
			VolumeClearZero: cfg.VolumeClear == "zero"})
	},
}

// volumeDriver resolves "auto": file where qemu-storage-daemon runs, else fake.
func volumeDriver(name string) string {
	if name != "auto" && name != "" {
		return name
	}
	if _, err := exec.LookPath("qemu-storage-daemon"); err == nil {
		return "file"
	}
	return "fake"
}

// startVolume starts the block storage API and the in-process volume manager
// of this host's backends; it returns the API's URL for the catalog.
// The manager reaches the image service as the admin user, as upstream's
// cinder-volume with its service user.
func (c *Cloud) startVolume(ctx context.Context, imageURL, adminPassword string) (string, error) {
	vc := c.cfg.Volume
	enforcer, err := newEnforcer(c.cfg.API.PolicyFile)
	if err != nil {
		return "", err
	}
	host, err := volumeHostName(c.cfg)
	if err != nil {
		return "", err
	}
	backends, err := c.volumeBackends()
	if err != nil {
		return "", err
	}
	images := &volume.ServiceClient{URL: imageURL, IdentityURL: c.IdentityURL + "/v3", Username: "admin",
		Password: adminPassword, ProjectName: "admin"}
	manager := volume.NewManager(volume.ManagerOptions{DB: c.db, Logger: c.log, Host: host,
		AvailabilityZone: vc.AvailabilityZone, Backends: backends, Interval: vc.ReportInterval.Duration,
		Images: images, Compute: images, ScratchDir: filepath.Join(c.cfg.DataDir, "volumes", "scratch"), Quotas: vc.Quotas()})
	// the first heartbeat before the API serves, so the scheduler has the
	// backends from the first request on (the loop in Serve keeps it fresh)
	if err := manager.Pass(ctx); err != nil {
		c.log.Warn("volume manager's first pass", "error", err)
	}
	port := vc.Port
	if c.cfg.API.EphemeralPorts {
		port = 0
	}
	l, err := httpapi.Listen(c.cfg.API.Host, port)
	if err != nil {
		return "", err
	}
	// this host's manager in process, the volume hosts' over the bus
	conns := &volume.BusConnections{Bus: c.bus, Local: manager}
	svc, err := volume.New(ctx, volume.Options{
		DB: c.db, Logger: c.log, Auth: c.identity.Validator(), Policy: enforcer, PublicURL: l.URL,
		DefaultVolumeType: vc.DefaultVolumeType, AvailabilityZone: vc.AvailabilityZone, Quotas: vc.Quotas(),
		Images: images, Connections: conns, Nudge: conns.Nudge, CheckResponses: c.cfg.API.CheckResponses,
	})
	if err != nil {
		_ = l.Close()
		return "", err
	}
	if err := volume.ServeServiceAccess(c.bus, images); err != nil {
		_ = l.Close()
		return "", err
	}
	c.vol = volumeParts{service: svc, manager: manager}
	// this host's cinder-backup
	backups, err := c.backupDriver(images)
	if err != nil {
		_ = l.Close()
		return "", err
	}
	manager.SetBackupDriver(backups)
	c.servers = append(c.servers, apiServer{name: "volume", listener: l, handler: svc.Handler()})
	return l.URL, nil
}

// volumeBackends builds this host's [[volume.backends]] (one "file" backend
// when none is configured).
func (c *Cloud) volumeBackends() ([]backend.Backend, error) {
	vc := c.cfg.Volume
	configured := vc.Backends
	if len(configured) == 0 {
		configured = []config.VolumeBackend{{Name: "file"}}
	}
	var backends []backend.Backend
	for _, bc := range configured {
		bc, err := c.volumeBackendDefaults(bc)
		if err != nil {
			return nil, err
		}
		driver := bc.Driver
		if driver == "" {
			driver = vc.Driver
		}
		driver = volumeDriver(driver)
		build, ok := volumeDrivers[driver]
		if !ok {
			return nil, fmt.Errorf("volume backend %s: unknown driver %q", bc.Name, driver)
		}
		b, err := build(bc)
		if err != nil {
			return nil, fmt.Errorf("volume backend %s: %w", bc.Name, err)
		}
		c.log.Info("volume backend", "name", bc.Name, "driver", driver, "pool_dir", bc.PoolDir)
		backends = append(backends, b)
	}
	return backends, nil
}

// volumeBackendDefaults fills what a backend's section leaves out from the
// rest of the configuration, and checks it.
func (c *Cloud) volumeBackendDefaults(bc config.VolumeBackend) (config.VolumeBackend, error) {
	if bc.PoolDir == "" {
		bc.PoolDir = filepath.Join(c.cfg.DataDir, "volumes", bc.Name)
	}
	// the API's address serves the exports too, unless it is a wildcard,
	// which connection_info cannot give the attaching hosts
	if ip := net.ParseIP(c.cfg.API.Host); bc.ExportHost == "" && ip != nil && !ip.IsUnspecified() {
		bc.ExportHost = c.cfg.API.Host
	}
	if bc.ExportNamespace == "" {
		bc.ExportNamespace = c.cfg.Network.HostNamespace
	}
	if bc.VolumeClear != "" && bc.VolumeClear != "none" && bc.VolumeClear != "zero" {
		return bc, fmt.Errorf("volume backend %s: volume_clear %q: want none or zero", bc.Name, bc.VolumeClear)
	}
	return bc, nil
}

// run runs the volume manager until ctx ends.
func (v volumeParts) run(ctx context.Context, wg *sync.WaitGroup) {
	if v.manager == nil {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		v.manager.Run(ctx)
	}()
}

// backupDriver is the chunked backup driver [volume] backup_driver names.
func (c *Cloud) backupDriver(service *volume.ServiceClient) (volume.BackupDriver, error) {
	name := c.cfg.Volume.BackupDriver
	if name == "" {
		name = "posix"
		if c.cfg.ObjectStore.Enabled {
			name = "swift"
		}
	}
	switch name {
	case "swift":
		d, err := backup.NewSwift(backup.SwiftOptions{})
		if err != nil {
			return nil, err
		}
		return &volume.ChunkedBackups{Driver: d, Auth: service.ObjectStoreAuth}, nil
	case "posix":
		d, err := backup.NewDirectory(filepath.Join(c.cfg.DataDir, "volumes", "backups"), backup.ChunkOptions{})
		if err != nil {
			return nil, err
		}
		return &volume.ChunkedBackups{Driver: d}, nil
	}
	return nil, fmt.Errorf("volume.backup_driver %q: want swift or posix", name)
}
