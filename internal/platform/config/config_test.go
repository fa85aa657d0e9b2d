package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// envNames lists every NIMBUS_* variable Config reads, so tests can start from a clean
// environment whatever the developer's shell exports.
var envNames = []string{
	"NIMBUS_DATA_DIR", "NIMBUS_REGION", "NIMBUS_DATABASE_URL", "NIMBUS_BUS_URL",
	"NIMBUS_API_HOST", "NIMBUS_EPHEMERAL_PORTS", "NIMBUS_POLICY_FILE",
	"NIMBUS_LOG_LEVEL", "NIMBUS_LOG_FORMAT", "NIMBUS_LOG_FILE",
	"NIMBUS_IDENTITY_PORT", "NIMBUS_TOKEN_EXPIRATION", "NIMBUS_BCRYPT_COST",
	"NIMBUS_LOCKOUT_FAILURE_ATTEMPTS", "NIMBUS_LOCKOUT_DURATION", "NIMBUS_MAX_ACTIVE_KEYS",
	"NIMBUS_ALLOW_RESCOPE_SCOPED_TOKEN",
}

// clearEnv unsets every NIMBUS_* variable for the duration of the test.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, name := range envNames {
		if _, ok := os.LookupEnv(name); ok {
			t.Setenv(name, "") // restores the original value after the test
			os.Unsetenv(name)
		}
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nimbus.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefault(t *testing.T) {
	cfg := Default()
	tests := []struct {
		name      string
		got, want any
	}{
		{"region", cfg.Region, "RegionOne"},
		{"api host", cfg.API.Host, "127.0.0.1"},
		{"ephemeral ports", cfg.API.EphemeralPorts, false},
		{"log level", cfg.Log.Level, "info"},
		{"log format", cfg.Log.Format, "text"},
		{"identity port", cfg.Identity.Port, 5000},
		{"token expiration", cfg.Identity.TokenExpiration.Duration, 24 * time.Hour},
		{"bcrypt cost", cfg.Identity.BcryptCost, 12},
		{"lockout duration", cfg.Identity.LockoutDuration.Duration, 30 * time.Minute},
		{"max active keys", cfg.Identity.MaxActiveKeys, 3},
		{"allow rescope", cfg.Identity.AllowRescopeScopedToken, true},
		{"database url", cfg.Database.URL, ""},
		{"bus url", cfg.Bus.URL, ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("Default() %s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if cfg.DataDir == "" {
		t.Error("Default() DataDir is empty")
	}
}

func TestLoadEmptyPathIsDefault(t *testing.T) {
	clearEnv(t)
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("Load(\"\") = %+v, want Default() %+v", cfg, Default())
	}
}

func TestLoadFile(t *testing.T) {
	clearEnv(t)
	path := writeConfig(t, `
region = "RegionTwo"

[database]
url = "postgres://db.example/nimbus"

[api]
ephemeral_ports = true

[identity]
token_expiration = "2h"
bcrypt_cost = 10
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"region", cfg.Region, "RegionTwo"},
		{"database url", cfg.Database.URL, "postgres://db.example/nimbus"},
		{"ephemeral ports", cfg.API.EphemeralPorts, true},
		{"token expiration", cfg.Identity.TokenExpiration.Duration, 2 * time.Hour},
		{"bcrypt cost", cfg.Identity.BcryptCost, 10},
		// Keys the file does not mention keep their defaults, even in a section it sets.
		{"identity port kept", cfg.Identity.Port, 5000},
		{"lockout duration kept", cfg.Identity.LockoutDuration.Duration, 30 * time.Minute},
		{"api host kept", cfg.API.Host, "127.0.0.1"},
		{"allow rescope kept", cfg.Identity.AllowRescopeScopedToken, true},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("Load %s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestLoadFileErrors(t *testing.T) {
	clearEnv(t)
	tests := []struct {
		name     string
		body     string
		wantErrs []string
	}{
		{
			name:     "unknown top-level key",
			body:     "regoin = \"x\"\n",
			wantErrs: []string{"unknown keys", "regoin"},
		},
		{
			name:     "unknown nested keys",
			body:     "[identity]\nbcrypt_cost = 10\ntoken_lifetime = \"2h\"\n[nova]\nport = 8774\n",
			wantErrs: []string{"unknown keys", "identity.token_lifetime", "nova"},
		},
		{
			name:     "bad duration",
			body:     "[identity]\ntoken_expiration = \"forever\"\n",
			wantErrs: []string{"forever"},
		},
		{
			name:     "wrong type",
			body:     "[identity]\nbcrypt_cost = \"high\"\n",
			wantErrs: []string{"bcrypt_cost"},
		},
		{
			name:     "syntax error",
			body:     "[identity\n",
			wantErrs: []string{"nimbus.toml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tt.body))
			if err == nil {
				t.Fatal("Load succeeded, want error")
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	clearEnv(t)
	path := filepath.Join(t.TempDir(), "absent.toml")
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load(missing) error = %v, want one naming %s", err, path)
	}
}

func TestLoadEnvOverridesFile(t *testing.T) {
	clearEnv(t)
	path := writeConfig(t, `
region = "FromFile"
[api]
ephemeral_ports = true
[identity]
token_expiration = "2h"
bcrypt_cost = 10
port = 5001
`)
	t.Setenv("NIMBUS_REGION", "FromEnv")
	t.Setenv("NIMBUS_EPHEMERAL_PORTS", "false")
	t.Setenv("NIMBUS_TOKEN_EXPIRATION", "90m")
	t.Setenv("NIMBUS_BCRYPT_COST", "8")
	t.Setenv("NIMBUS_DATABASE_URL", "sqlite:///tmp/x.db")
	t.Setenv("NIMBUS_ALLOW_RESCOPE_SCOPED_TOKEN", "false")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"region", cfg.Region, "FromEnv"},
		{"ephemeral ports", cfg.API.EphemeralPorts, false},
		{"token expiration", cfg.Identity.TokenExpiration.Duration, 90 * time.Minute},
		{"bcrypt cost", cfg.Identity.BcryptCost, 8},
		{"database url", cfg.Database.URL, "sqlite:///tmp/x.db"},
		{"allow rescope", cfg.Identity.AllowRescopeScopedToken, false},
		// Not overridden by env: the file wins over the default.
		{"identity port from file", cfg.Identity.Port, 5001},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("Load %s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestLoadEnvWithoutFile(t *testing.T) {
	clearEnv(t)
	t.Setenv("NIMBUS_IDENTITY_PORT", "15000")
	t.Setenv("NIMBUS_LOCKOUT_DURATION", "5m")
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Identity.Port != 15000 {
		t.Errorf("Identity.Port = %d, want 15000", cfg.Identity.Port)
	}
	if cfg.Identity.LockoutDuration.Duration != 5*time.Minute {
		t.Errorf("Identity.LockoutDuration = %v, want 5m", cfg.Identity.LockoutDuration)
	}
}

func TestLoadBadEnv(t *testing.T) {
	tests := []struct {
		name, value string
	}{
		{"NIMBUS_BCRYPT_COST", "abc"},
		{"NIMBUS_TOKEN_EXPIRATION", "forever"},
		{"NIMBUS_IDENTITY_PORT", "50OO"},
		{"NIMBUS_EPHEMERAL_PORTS", "sometimes"},
		{"NIMBUS_LOCKOUT_DURATION", "10"}, // a duration needs a unit
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(tt.name, tt.value)
			_, err := Load("")
			if err == nil {
				t.Fatalf("Load with %s=%s succeeded, want error", tt.name, tt.value)
			}
			if !strings.Contains(err.Error(), tt.name) {
				t.Errorf("error %q does not name %s", err, tt.name)
			}
		})
	}
}

func TestDurationText(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"24h", 24 * time.Hour, false},
		{"1h30m", 90 * time.Minute, false},
		{"500ms", 500 * time.Millisecond, false},
		{"", 0, true},
		{"forever", 0, true},
	}
	for _, tt := range tests {
		var d Duration
		err := d.UnmarshalText([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("UnmarshalText(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if d.Duration != tt.want {
			t.Errorf("UnmarshalText(%q) = %v, want %v", tt.in, d.Duration, tt.want)
		}
		text, err := d.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Duration
		if err := back.UnmarshalText(text); err != nil || back != d {
			t.Errorf("round trip of %q: got %v (err %v)", tt.in, back, err)
		}
	}
}
