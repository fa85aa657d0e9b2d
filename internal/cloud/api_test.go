package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/config"
)

func TestStartAPIRefusesSQLite(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, url := range []string{"", "sqlite://" + filepath.Join(t.TempDir(), "nimbus.db")} {
		cfg := config.Default()
		cfg.DataDir, cfg.Database.URL, cfg.Bus.URL = t.TempDir(), url, "nats://token@127.0.0.1:4222"
		_, err := StartAPI(context.Background(), cfg, log)
		if !errors.Is(err, errAPINeedsPostgreSQL) {
			t.Errorf("database %q: StartAPI = %v, want the SQLite refusal", url, err)
		}
		if entries, _ := os.ReadDir(cfg.DataDir); len(entries) != 0 {
			t.Errorf("database %q: the refused api role left %d files in the data dir", url, len(entries))
		}
	}
}

func TestStartAPINeedsTheCloudsDataDir(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "not-the-cloud")
	cfg.Database.URL, cfg.Bus.URL = "postgres://nimbus@127.0.0.1:1/nimbus", "nats://token@127.0.0.1:4222"
	_, err := StartAPI(context.Background(), cfg, log)
	if err == nil || !strings.Contains(err.Error(), "data directory of the cloud") {
		t.Fatalf("StartAPI on a data dir without the cloud's secrets = %v, want it to say so", err)
	}
	if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
		t.Errorf("StartAPI made the data dir it refused (%v)", err)
	}
}

// TestAPIJoinFile: api.toml, read as nimbus serve --role api reads its --config,
// gives the api process the cloud's database, bus and data directory and the
// settings both must agree on; a cloud on SQLite has none (a stale one goes).
func TestAPIJoinFile(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir, cfg.Region = dir, "RegionTwo"
	cfg.Database.URL = "postgres://nimbus:secret@db.example:5432/nimbus"
	cfg.API.PolicyFile = "/etc/nimbus/policy.yaml"
	cfg.Identity.TokenExpiration = config.Duration{Duration: 8 * time.Hour}
	cfg.Identity.LockoutFailureAttempts = 5
	cfg.Image.QuotaImages = 12
	cfg.Network.VXLANRanges = []string{"5000:6000"}
	cfg.Compute.QuotaInstances = 40
	cfg.Identity.Port, cfg.Compute.Driver = 5999, "qemu" // each process's own: not carried
	if err := writeAPIJoinFile(cfg, "nats://tok@10.0.0.1:4222", "md-secret", true); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "api.toml")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("api.toml: %v, mode %v; want 0600", err, fi.Mode())
	}
	got, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"data_dir", got.DataDir, dir},
		{"region", got.Region, "RegionTwo"},
		{"database.url", got.Database.URL, cfg.Database.URL},
		{"bus.url", got.Bus.URL, "nats://tok@10.0.0.1:4222"},
		{"api.policy_file", got.API.PolicyFile, cfg.API.PolicyFile},
		{"identity.token_expiration", got.Identity.TokenExpiration, cfg.Identity.TokenExpiration},
		{"identity.lockout_failure_attempts", got.Identity.LockoutFailureAttempts, 5},
		{"image.image_count_total", got.Image.QuotaImages, 12},
		{"network.vni_ranges", strings.Join(got.Network.VXLANRanges, ","), "5000:6000"},
		{"network.metadata_proxy_shared_secret", got.Network.MetadataSecret, "md-secret"},
		{"compute.quota_instances", got.Compute.QuotaInstances, 40},
		{"identity.port (not carried)", got.Identity.Port, config.Default().Identity.Port},
		{"compute.driver (not carried)", got.Compute.Driver, config.Default().Compute.Driver},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if err := writeAPIJoinFile(cfg, "nats://tok@10.0.0.1:4222", "md-secret", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a cloud on SQLite kept api.toml (%v)", err)
	}
}

// TestPreviousBusPort: a restart with ephemeral ports takes its bus's port again
// when it is free, so what joined the bus finds it; any free port when taken.
func TestPreviousBusPort(t *testing.T) {
	dir := t.TempDir()
	if got := previousBusPort(dir, "127.0.0.1"); got != 0 {
		t.Fatalf("no join.toml: port %d, want 0", got)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := writeJoinFile(dir, fmt.Sprintf("nats://tok@127.0.0.1:%d", port), "http://127.0.0.1:8775", "s"); err != nil {
		t.Fatal(err)
	}
	if got := previousBusPort(dir, "127.0.0.1"); got != 0 {
		t.Errorf("the previous port is taken: port %d, want 0", got)
	}
	_ = l.Close()
	if got := previousBusPort(dir, "127.0.0.1"); got != port {
		t.Errorf("the previous port is free: port %d, want %d", got, port)
	}
}
