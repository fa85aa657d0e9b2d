package main

import (
	"strings"
	"testing"
)

// TestCheckComputeQEMUFlags: --qemu needs --start, --boots needs --qemu and a
// sane count; the fake-driver bench is untouched.
func TestCheckComputeQEMUFlags(t *testing.T) {
	for _, tc := range []struct {
		name             string
		start, qemu, set bool
		boots            int
		wantErr          string
	}{
		{"fake driver, running cloud", false, false, false, 5, ""},
		{"fake driver, --start", true, false, false, 5, ""},
		{"--start --qemu", true, true, false, 5, ""},
		{"--start --qemu --boots 1", true, true, true, 1, ""},
		{"--start --qemu --boots 100", true, true, true, 100, ""},
		{"--qemu without --start", false, true, false, 5, "--qemu needs --start"},
		{"--boots without --qemu", true, false, true, 3, "--boots is for --qemu"},
		{"--boots 0", true, true, true, 0, "--boots must be 1..100"},
		{"--boots 101", true, true, true, 101, "--boots must be 1..100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkComputeQEMUFlags(tc.start, tc.qemu, tc.set, tc.boots)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
