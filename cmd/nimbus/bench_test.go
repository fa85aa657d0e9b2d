package main

import (
	"strings"
	"testing"
)

// TestCheckComputeQEMUFlags: --qemu needs --start, its own flags need --qemu,
// --boots a sane count; the fake-driver bench is untouched.
func TestCheckComputeQEMUFlags(t *testing.T) {
	for _, tc := range []struct {
		name        string
		start, qemu bool
		qemuOnly    []string
		boots       int
		wantErr     string
	}{
		{"fake driver, running cloud", false, false, nil, 5, ""},
		{"fake driver, --start", true, false, nil, 5, ""},
		{"--start --qemu", true, true, nil, 5, ""},
		{"--start --qemu --boots 1", true, true, []string{"--boots"}, 1, ""},
		{"--start --qemu --boots 100", true, true, []string{"--boots", "--qemu-logs"}, 100, ""},
		{"--qemu without --start", false, true, nil, 5, "--qemu needs --start"},
		{"--boots without --qemu", true, false, []string{"--boots"}, 3, "--boots: only with --qemu"},
		{"--qemu-logs without --qemu", false, false, []string{"--qemu-logs"}, 5, "--qemu-logs: only with --qemu"},
		{"--boots 0", true, true, []string{"--boots"}, 0, "--boots must be 1..100"},
		{"--boots 101", true, true, []string{"--boots"}, 101, "--boots must be 1..100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkComputeQEMUFlags(tc.start, tc.qemu, tc.qemuOnly, tc.boots)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
