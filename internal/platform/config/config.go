// Package config is Nimbus's one configuration: defaults fit for an all-in-one cloud,
// overridden by a TOML file, then by NIMBUS_* environment variables, then by flags.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration; each service reads its own section.
type Config struct {
	DataDir  string   `toml:"data_dir" env:"NIMBUS_DATA_DIR"`
	Region   string   `toml:"region" env:"NIMBUS_REGION"`
	Database Database `toml:"database"`
	Bus      Bus      `toml:"bus"`
	API      API      `toml:"api"`
	Log      Log      `toml:"log"`
	Identity Identity `toml:"identity"`
	Image    Image    `toml:"image"`
	Network  Network  `toml:"network"`
	Compute  Compute  `toml:"compute"`
	// ObjectStore configures the Swift-compatible object store.
	ObjectStore ObjectStore `toml:"object_store"`
	Volume      Volume      `toml:"volume"`
}

// Volume configures the Cinder-compatible block storage service and this
// host's volume managers, one per backend (host@backend).
type Volume struct {
	Port int `toml:"port" env:"NIMBUS_VOLUME_PORT"`
	// Host is this host's name in host@backend#pool (default: network.host,
	// else the hostname).
	Host string `toml:"host" env:"NIMBUS_VOLUME_HOST"`
	// AvailabilityZone is upstream's storage_availability_zone.
	AvailabilityZone string `toml:"storage_availability_zone" env:"NIMBUS_VOLUME_AVAILABILITY_ZONE"`
	// DefaultVolumeType is upstream's default_volume_type (empty: __DEFAULT__).
	DefaultVolumeType string `toml:"default_volume_type" env:"NIMBUS_VOLUME_DEFAULT_VOLUME_TYPE"`
	// Driver is the driver of backends that name none: "auto" (file where
	// qemu-storage-daemon runs, else fake), "file" or "fake".
	Driver string `toml:"driver" env:"NIMBUS_VOLUME_DRIVER"`
	// Backends are upstream's enabled_backends; empty: one named "file".
	Backends []VolumeBackend `toml:"backends"`
	// Default per-project quotas (upstream's quota_volumes, quota_gigabytes,
	// quota_snapshots, quota_backups, quota_backup_gigabytes): 0 keeps
	// upstream's default, -1 is unlimited.
	QuotaVolumes         int `toml:"quota_volumes" env:"NIMBUS_VOLUME_QUOTA_VOLUMES"`
	QuotaGigabytes       int `toml:"quota_gigabytes" env:"NIMBUS_VOLUME_QUOTA_GIGABYTES"`
	QuotaSnapshots       int `toml:"quota_snapshots" env:"NIMBUS_VOLUME_QUOTA_SNAPSHOTS"`
	QuotaBackups         int `toml:"quota_backups" env:"NIMBUS_VOLUME_QUOTA_BACKUPS"`
	QuotaBackupGigabytes int `toml:"quota_backup_gigabytes" env:"NIMBUS_VOLUME_QUOTA_BACKUP_GIGABYTES"`
	// BackupDriver is where backups go: "swift" (the object store, in the
	// volume service's own account, as upstream's swift driver with
	// backup_swift_auth = single_user) or "posix" (a directory, DATA_DIR/
	// volumes/backups); empty: swift when the object store runs, else posix.
	BackupDriver string `toml:"backup_driver" env:"NIMBUS_VOLUME_BACKUP_DRIVER"`
	// ReportInterval is the volume managers' heartbeat and convergence
	// period (upstream's report_interval, 10s).
	ReportInterval Duration `toml:"report_interval" env:"NIMBUS_VOLUME_REPORT_INTERVAL"`
}

// Quotas are the default limits set (non-zero), keyed by upstream's resource
// names; the unset ones keep Cinder's defaults.
func (v Volume) Quotas() map[string]int {
	out := map[string]int{}
	for k, n := range map[string]int{"volumes": v.QuotaVolumes, "gigabytes": v.QuotaGigabytes,
		"snapshots": v.QuotaSnapshots, "backups": v.QuotaBackups, "backup_gigabytes": v.QuotaBackupGigabytes} {
		if n != 0 {
			out[k] = n
		}
	}
	return out
}

// VolumeBackend is one backend section of upstream's cinder.conf.
type VolumeBackend struct {
	// Name is volume_backend_name, the backend in host@backend#pool.
	Name string `toml:"name"`
	// Driver: "file", "iscsi" or "fake" (empty: volume.driver).
	Driver string `toml:"driver"`
	// PoolDir holds the volumes (default DATA_DIR/volumes/NAME).
	PoolDir string `toml:"pool_dir"`
	// CapacityGB is the pool's size reported to the scheduler (0: the file
	// system's free space).
	CapacityGB int `toml:"capacity_gb"`
	// ExportHost is the IP address the file driver's NBD exports listen on and
	// give the attaching hosts (default: api.host unless it is a wildcard,
	// else 127.0.0.1).
	ExportHost string `toml:"export_host"`
	// ExportNamespace is the network namespace the file driver's NBD exports
	// listen in (default: network.host_namespace, the host's network when
	// hosts are simulated as namespaces).
	ExportNamespace string `toml:"export_namespace"`
	// VolumeClear is upstream's volume_clear: "zero" writes zeros over a
	// deleted volume's data, "none" (the default) does not.
	VolumeClear string `toml:"volume_clear"`
}

// Compute configures the Nova-compatible service and this host's compute agent.
type Compute struct {
	Port         int `toml:"port" env:"NIMBUS_COMPUTE_PORT"`
	MetadataPort int `toml:"metadata_port" env:"NIMBUS_COMPUTE_METADATA_PORT"`
	// NoVNCProxyPort is the VNC console proxy's (upstream novncproxy_port).
	NoVNCProxyPort int `toml:"novncproxy_port" env:"NIMBUS_COMPUTE_NOVNCPROXY_PORT"`
	// Driver is this host's hypervisor driver: "auto" (qemu where it can run,
	// else fake), "qemu" (real VMs), "fake" (no VMs: API and scale tests) or
	// "none" (no compute agent here).
	Driver string `toml:"driver" env:"NIMBUS_COMPUTE_DRIVER"`
	// Accelerator is QEMU's: auto (KVM when usable, else TCG), kvm or tcg.
	Accelerator string `toml:"accelerator" env:"NIMBUS_COMPUTE_ACCELERATOR"`
	// DefaultEphemeralFormat is upstream's default_ephemeral_format (ext4 here).
	DefaultEphemeralFormat string `toml:"default_ephemeral_format" env:"NIMBUS_COMPUTE_DEFAULT_EPHEMERAL_FORMAT"`
	// Host is this compute host's name (default: network.host, else the hostname).
	Host string `toml:"host" env:"NIMBUS_COMPUTE_HOST"`
	// FakeHosts, with the fake driver, runs that many compute hosts in this
	// process (HOST-1 ... HOST-N), for scheduling and scale tests.
	FakeHosts int `toml:"fake_hosts" env:"NIMBUS_COMPUTE_FAKE_HOSTS"`
	// FakeSpawnTime is how long a fake spawn takes (0: at once), so tests can
	// catch builds in flight.
	FakeSpawnTime Duration `toml:"fake_spawn_time" env:"NIMBUS_COMPUTE_FAKE_SPAWN_TIME"`
	// DefaultAvailabilityZone is upstream's default_availability_zone.
	DefaultAvailabilityZone string `toml:"default_availability_zone" env:"NIMBUS_COMPUTE_DEFAULT_AZ"`
	// QuotaInstances, QuotaCores and QuotaRAM are the default per-project limits
	// (upstream [quota] instances, cores, ram): 0 keeps Nova's default (10, 20,
	// 51200 MB), -1 is unlimited. Benches and scale tests lift them.
	QuotaInstances int `toml:"quota_instances" env:"NIMBUS_COMPUTE_QUOTA_INSTANCES"`
	QuotaCores     int `toml:"quota_cores" env:"NIMBUS_COMPUTE_QUOTA_CORES"`
	QuotaRAM       int `toml:"quota_ram" env:"NIMBUS_COMPUTE_QUOTA_RAM"`
	// ShelvedOffloadTime is upstream's shelved_offload_time in seconds: 0
	// offloads a shelved server at once, -1 never.
	ShelvedOffloadTime int `toml:"shelved_offload_time" env:"NIMBUS_COMPUTE_SHELVED_OFFLOAD_TIME"`
}

// Quotas are the default limits set (non-zero), keyed by upstream's resource
// names; the unset ones keep Nova's defaults.
func (c Compute) Quotas() map[string]int {
	out := map[string]int{}
	for k, v := range map[string]int{"instances": c.QuotaInstances, "cores": c.QuotaCores, "ram": c.QuotaRAM} {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// Network configures the Neutron-compatible service.
type Network struct {
	Port int `toml:"port" env:"NIMBUS_NETWORK_PORT"`
	// GlobalMTU is upstream's global_physnet_mtu.
	GlobalMTU int `toml:"global_physnet_mtu" env:"NIMBUS_NETWORK_GLOBAL_MTU"`
	// ML2 type drivers, as upstream's ml2_conf.ini.
	TenantNetworkTypes []string `toml:"tenant_network_types"`
	FlatNetworks       []string `toml:"flat_networks"`
	VLANRanges         []string `toml:"network_vlan_ranges"`
	VXLANRanges        []string `toml:"vni_ranges"`
	// DefaultNetworks makes the first start create devstack's networks: "public"
	// (external, flat on physical network "public", PublicCIDR) and the demo
	// project's "private" (PrivateCIDR) with "router1" between them.
	DefaultNetworks bool   `toml:"default_networks" env:"NIMBUS_NETWORK_DEFAULT_NETWORKS"`
	PublicCIDR      string `toml:"public_cidr" env:"NIMBUS_NETWORK_PUBLIC_CIDR"`
	PrivateCIDR     string `toml:"private_cidr" env:"NIMBUS_NETWORK_PRIVATE_CIDR"`

	// Dataplane says whether this process runs the host's data-plane agents (L2,
	// DHCP, L3, security groups, metadata proxy): "auto" (when root), "on" or "off".
	Dataplane string `toml:"dataplane" env:"NIMBUS_NETWORK_DATAPLANE"`
	// Host is this host's name in port bindings and the agent list (default: the
	// machine's hostname).
	Host string `toml:"host" env:"NIMBUS_NETWORK_HOST"`
	// HostNamespace, when set, is a network namespace that plays the host's root
	// namespace for the data plane: the tests run a whole cloud's data plane in one.
	HostNamespace string `toml:"host_namespace" env:"NIMBUS_NETWORK_HOST_NAMESPACE"`
	// LocalIP is the VXLAN tunnel endpoint (upstream's [vxlan] local_ip).
	LocalIP string `toml:"local_ip" env:"NIMBUS_NETWORK_LOCAL_IP"`
	// PhysicalInterfaceMappings map physical networks to interfaces, "physnet:ifname"
	// (upstream's [linux_bridge] physical_interface_mappings).
	PhysicalInterfaceMappings []string `toml:"physical_interface_mappings"`
	// PublicInterface is the host's side of the "public" physical network, like
	// devstack's br-ex: a veth made on start (its peer <name>-p is the mapped
	// interface) holding the public subnet's gateway address. Empty: none.
	PublicInterface string `toml:"public_interface" env:"NIMBUS_NETWORK_PUBLIC_INTERFACE"`
	// MetadataURL is the compute metadata API the metadata proxy forwards to
	// (default: this cloud's own, compute's metadata API), and
	// MetadataSecret the secret that signs the instance ID (upstream's
	// metadata_proxy_shared_secret; default: generated into the data dir).
	MetadataURL    string `toml:"metadata_url" env:"NIMBUS_NETWORK_METADATA_URL"`
	MetadataSecret string `toml:"metadata_proxy_shared_secret" env:"NIMBUS_METADATA_PROXY_SHARED_SECRET"`
	// EnableIsolatedMetadata and ForceMetadata are upstream's DHCP agent options:
	// the DHCP namespace of a network no router serves (or of every network) also
	// serves the metadata API. Nimbus enables isolated metadata by default, so
	// instances of router-less networks get their metadata too.
	EnableIsolatedMetadata bool `toml:"enable_isolated_metadata" env:"NIMBUS_NETWORK_ENABLE_ISOLATED_METADATA"`
	ForceMetadata          bool `toml:"force_metadata" env:"NIMBUS_NETWORK_FORCE_METADATA"`
}

// Image configures the Glance-compatible service.
type Image struct {
	Port int `toml:"port" env:"NIMBUS_IMAGE_PORT"`
	// SizeCap is upstream's image_size_cap in bytes.
	SizeCap int64 `toml:"image_size_cap" env:"NIMBUS_IMAGE_SIZE_CAP"`
	// Per-project quotas (upstream's image_count_total, image_size_total); 0 = unlimited.
	QuotaImages int   `toml:"image_count_total" env:"NIMBUS_IMAGE_COUNT_TOTAL"`
	QuotaBytes  int64 `toml:"image_size_total" env:"NIMBUS_IMAGE_SIZE_TOTAL"`
	// GuestImage makes the first start upload the test guest (`nimbus image build`)
	// as public images, so a new cloud can boot a VM at once.
	GuestImage bool `toml:"guest_image" env:"NIMBUS_IMAGE_GUEST_IMAGE"`
	// Store is where image data lives: "file" (DATA_DIR/images, the default) or
	// "swift" (the object store, in the admin project's account, as
	// glance_store's single-tenant swift driver keeps images).
	Store string `toml:"store" env:"NIMBUS_IMAGE_STORE"`
	// SwiftContainer and SwiftChunkSize are glance_store's swift_store_container
	// (glance) and swift_store_large_object_chunk_size (MB, 200).
	SwiftContainer string `toml:"swift_store_container" env:"NIMBUS_IMAGE_SWIFT_STORE_CONTAINER"`
	SwiftChunkSize int64  `toml:"swift_store_large_object_chunk_size" env:"NIMBUS_IMAGE_SWIFT_STORE_LARGE_OBJECT_CHUNK_SIZE"`
	// SwiftLargeObjectSize is glance_store's swift_store_large_object_size
	// (MB, 5120): data of a size the client gave below it is one object.
	SwiftLargeObjectSize int64 `toml:"swift_store_large_object_size" env:"NIMBUS_IMAGE_SWIFT_STORE_LARGE_OBJECT_SIZE"`
}

// ObjectStore configures the Swift-compatible object store an all-in-one runs:
// its proxy, one storage node and the rings made on first start.
type ObjectStore struct {
	// Enabled starts the object store with the cloud.
	Enabled bool `toml:"enabled" env:"NIMBUS_OBJECT_STORE_ENABLED"`
	// Port is the proxy's (upstream's bind_port 8080); ObjectPort,
	// ContainerPort and AccountPort the storage servers' (6200, 6201, 6202).
	Port          int `toml:"port" env:"NIMBUS_OBJECT_STORE_PORT"`
	ObjectPort    int `toml:"object_port" env:"NIMBUS_OBJECT_STORE_OBJECT_PORT"`
	ContainerPort int `toml:"container_port" env:"NIMBUS_OBJECT_STORE_CONTAINER_PORT"`
	AccountPort   int `toml:"account_port" env:"NIMBUS_OBJECT_STORE_ACCOUNT_PORT"`
	// Devices, Replicas and PartPower shape the rings of the first start:
	// devices d1..dN, one per zone, under DATA_DIR/objectstore/devices.
	Devices   int `toml:"devices" env:"NIMBUS_OBJECT_STORE_DEVICES"`
	Replicas  int `toml:"replicas" env:"NIMBUS_OBJECT_STORE_REPLICAS"`
	PartPower int `toml:"part_power" env:"NIMBUS_OBJECT_STORE_PART_POWER"`
	// HashPathSuffix is the cluster's swift_hash_path_suffix for a storage node
	// joining it (nimbus serve --role storage); empty: the one in
	// DATA_DIR/objectstore/hash_path_suffix (nimbus up generates it there).
	HashPathSuffix string `toml:"hash_path_suffix" env:"NIMBUS_OBJECT_STORE_HASH_PATH_SUFFIX"`
	// TempAuthUsers are the proxy's tempauth users, upstream's lines
	// "user_<account>_<user> = <key> [.admin] [.reseller_admin]", one per
	// line or separated by ";"; empty: no tempauth (/auth/v1.0).
	TempAuthUsers string `toml:"tempauth_users" env:"NIMBUS_OBJECT_STORE_TEMPAUTH_USERS"`
	// ReplicatorInterval is the pause in seconds between a storage node's
	// replication passes (upstream's run_pause; 0: 30).
	ReplicatorInterval int `toml:"replicator_interval" env:"NIMBUS_OBJECT_STORE_REPLICATOR_INTERVAL"`
	// ExpirerInterval is the pause in seconds between the object expirer's
	// passes (upstream's interval; 0: 300).
	ExpirerInterval int `toml:"expirer_interval" env:"NIMBUS_OBJECT_STORE_EXPIRER_INTERVAL"`
	// AuditorInterval is the pause in seconds between the object auditor's
	// passes (0: 600).
	AuditorInterval int `toml:"auditor_interval" env:"NIMBUS_OBJECT_STORE_AUDITOR_INTERVAL"`
	// ReaperInterval is the pause in seconds between the account reaper's
	// passes (0: 3600).
	ReaperInterval int `toml:"reaper_interval" env:"NIMBUS_OBJECT_STORE_REAPER_INTERVAL"`
	// AllowAccountManagement lets a reseller admin DELETE an account, which
	// the account reaper then empties (upstream's allow_account_management).
	AllowAccountManagement bool `toml:"allow_account_management" env:"NIMBUS_OBJECT_STORE_ALLOW_ACCOUNT_MANAGEMENT"`
	// ReclaimAge is how many seconds tombstones and deleted database rows
	// are kept before they are removed (upstream's reclaim_age; 0: 604800).
	ReclaimAge int `toml:"reclaim_age" env:"NIMBUS_OBJECT_STORE_RECLAIM_AGE"`
	// S3StorageDomain enables the S3 API's virtual-host-style addressing
	// (upstream's s3api storage_domain, comma-separated domains):
	// "<bucket>.<domain>" names a bucket.
	S3StorageDomain string `toml:"s3_storage_domain" env:"NIMBUS_OBJECT_STORE_S3_STORAGE_DOMAIN"`
}

// Database selects the SQL database.
type Database struct {
	URL string `toml:"url" env:"NIMBUS_DATABASE_URL"`
	// MaxConnections bounds this process's connections to the database (0: 32 on
	// PostgreSQL, 8 on SQLite). The processes of a cloud share PostgreSQL's
	// max_connections (100 by default), so each must stay within its part.
	MaxConnections int `toml:"max_connections" env:"NIMBUS_DATABASE_MAX_CONNECTIONS"`
}

// Bus selects the message bus.
type Bus struct {
	// URL of an external NATS (with its token: nats://TOKEN@host:4222); empty runs
	// the embedded server, on API.Host and Port, which hosts joining the cloud use.
	URL  string `toml:"url" env:"NIMBUS_BUS_URL"`
	Port int    `toml:"port" env:"NIMBUS_BUS_PORT"`
}

// API places the listeners.
type API struct {
	Host string `toml:"host" env:"NIMBUS_API_HOST"`
	// EphemeralPorts picks free ports instead of upstream's defaults.
	EphemeralPorts bool `toml:"ephemeral_ports" env:"NIMBUS_EPHEMERAL_PORTS"`
	// PolicyFile overrides default policies (oslo.policy YAML).
	PolicyFile string `toml:"policy_file" env:"NIMBUS_POLICY_FILE"`
	// MetricsPort is the Prometheus metrics listener's, apart from every API port
	// (0: no metrics listener).
	MetricsPort int `toml:"metrics_port" env:"NIMBUS_METRICS_PORT"`
	// CheckResponses validates every API response against its route's response
	// schema (upstream's, per API version) and logs each mismatch as
	// "response schema violation", the answer unchanged: a conformance check
	// for tests and staging, at the cost of decoding every JSON body again.
	CheckResponses bool `toml:"check_responses" env:"NIMBUS_CHECK_RESPONSES"`
}

// Log sets the log output.
type Log struct {
	Level  string `toml:"level" env:"NIMBUS_LOG_LEVEL"`
	Format string `toml:"format" env:"NIMBUS_LOG_FORMAT"` // text or json
	File   string `toml:"file" env:"NIMBUS_LOG_FILE"`     // empty: stderr
}

// Identity configures the Keystone-compatible service.
type Identity struct {
	Port                   int      `toml:"port" env:"NIMBUS_IDENTITY_PORT"`
	TokenExpiration        Duration `toml:"token_expiration" env:"NIMBUS_TOKEN_EXPIRATION"`
	BcryptCost             int      `toml:"bcrypt_cost" env:"NIMBUS_BCRYPT_COST"`
	LockoutFailureAttempts int      `toml:"lockout_failure_attempts" env:"NIMBUS_LOCKOUT_FAILURE_ATTEMPTS"`
	LockoutDuration        Duration `toml:"lockout_duration" env:"NIMBUS_LOCKOUT_DURATION"`
	MaxActiveKeys          int      `toml:"max_active_keys" env:"NIMBUS_MAX_ACTIVE_KEYS"`
	// AllowRescopeScopedToken mirrors Keystone's [token] allow_rescope_scoped_token.
	AllowRescopeScopedToken bool `toml:"allow_rescope_scoped_token" env:"NIMBUS_ALLOW_RESCOPE_SCOPED_TOKEN"`
}

// Duration is a time.Duration written as "24h" in TOML and env.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// DefaultDataDir is where an all-in-one keeps its state unless told otherwise.
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/nimbus"
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "nimbus")
	}
	return "nimbus-data"
}

// Default returns the all-in-one defaults.
func Default() Config {
	return Config{
		DataDir: DefaultDataDir(),
		Region:  "RegionOne",
		API:     API{Host: "127.0.0.1", MetricsPort: 9180},
		Bus:     Bus{Port: 4222},
		Log:     Log{Level: "info", Format: "text"},
		Identity: Identity{
			Port:                    5000,
			TokenExpiration:         Duration{24 * time.Hour},
			BcryptCost:              12,
			LockoutDuration:         Duration{30 * time.Minute},
			MaxActiveKeys:           3,
			AllowRescopeScopedToken: true,
		},
		Image: Image{Port: 9292, SizeCap: 1 << 40, GuestImage: true, Store: "file"},
		Network: Network{Port: 9696, GlobalMTU: 1500, DefaultNetworks: true,
			PublicCIDR: "172.24.4.0/24", PrivateCIDR: "10.0.0.0/26",
			Dataplane: "auto", LocalIP: "127.0.0.1", PublicInterface: "nimbus-ex",
			EnableIsolatedMetadata: true},
		ObjectStore: ObjectStore{Enabled: true, Port: 8080, ObjectPort: 6200, ContainerPort: 6201, AccountPort: 6202,
			Devices: 3, Replicas: 3, PartPower: 10},
		Volume:  Volume{Port: 8776, Driver: "auto", AvailabilityZone: "nova", ReportInterval: Duration{10 * time.Second}},
		Compute: Compute{Port: 8774, MetadataPort: 8775, NoVNCProxyPort: 6080, Driver: "auto", Accelerator: "auto", DefaultAvailabilityZone: "nova", DefaultEphemeralFormat: "ext4"},
	}
}

// Load returns defaults overridden by the TOML file at path (if path is non-empty)
// and then by environment variables.
func Load(path string) (Config, error) {
	cfg := Default()
	if path != "" {
		md, err := toml.DecodeFile(path, &cfg)
		if err != nil {
			return cfg, fmt.Errorf("read config %s: %w", path, err)
		}
		if undecoded := md.Undecoded(); len(undecoded) > 0 {
			return cfg, fmt.Errorf("config %s: unknown keys %v", path, undecoded)
		}
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), os.LookupEnv); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// applyEnv sets every field tagged env:"NAME" whose variable is set.
func applyEnv(v reflect.Value, lookup func(string) (string, bool)) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		name := f.Tag.Get("env")
		if name == "" {
			if fv.Kind() == reflect.Struct {
				if err := applyEnv(fv, lookup); err != nil {
					return err
				}
			}
			continue
		}
		s, ok := lookup(name)
		if !ok {
			continue
		}
		if err := setField(fv, s); err != nil {
			return fmt.Errorf("environment variable %s=%q: %w", name, s, err)
		}
	}
	return nil
}

func setField(fv reflect.Value, s string) error {
	if u, ok := fv.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(s)
	case reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		fv.SetInt(int64(n))
	case reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		fv.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		fv.SetBool(b)
	default:
		return fmt.Errorf("unsupported field kind %s", fv.Kind())
	}
	return nil
}
