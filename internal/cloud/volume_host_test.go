package cloud

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/config"
)

// TestStartVolumeHostRefusals: the volume role needs the cloud's PostgreSQL
// database and its bus, and says so before it touches anything.
func TestStartVolumeHostRefusals(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, url := range []string{"", "sqlite://" + filepath.Join(t.TempDir(), "nimbus.db")} {
		cfg := config.Default()
		cfg.DataDir, cfg.Database.URL, cfg.Bus.URL = filepath.Join(t.TempDir(), "data"), url, "nats://token@127.0.0.1:4222"
		_, err := StartVolumeHost(context.Background(), cfg, log)
		if !errors.Is(err, errVolumeHostNeedsPostgreSQL) {
			t.Errorf("database %q: StartVolumeHost = %v, want the SQLite refusal", url, err)
		}
		if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
			t.Errorf("database %q: the refused volume role made its data dir (%v)", url, err)
		}
	}
	cfg := config.Default()
	cfg.DataDir, cfg.Database.URL = filepath.Join(t.TempDir(), "data"), "postgres://nimbus@127.0.0.1:1/nimbus"
	if _, err := StartVolumeHost(context.Background(), cfg, log); err == nil || !strings.Contains(err.Error(), "[bus] url") {
		t.Errorf("no bus: StartVolumeHost = %v, want the [bus] url message", err)
	}
}

func TestVolumeHostName(t *testing.T) {
	cfg := config.Default()
	cfg.Volume.Host, cfg.Network.Host = "st1", "net1"
	if h, err := volumeHostName(cfg); err != nil || h != "st1" {
		t.Errorf("volume.host set: %q %v", h, err)
	}
	cfg.Volume.Host = ""
	if h, err := volumeHostName(cfg); err != nil || h != "net1" {
		t.Errorf("network.host only: %q %v", h, err)
	}
	cfg.Network.Host = ""
	if h, err := volumeHostName(cfg); err != nil || h == "" {
		t.Errorf("neither: %q %v, want the machine's name", h, err)
	}
}
