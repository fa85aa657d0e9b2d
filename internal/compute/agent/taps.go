package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// The taps LinuxHost made for each instance are recorded in
// <instances>/_taps/<uuid>, one name a line, outside the instance's directory
// (Destroy removes that before Release runs): a port detached while the guest
// was off, or while an agent restarted, still has its tap found and removed.

func (h *LinuxHost) tapsFile(uuid string) string { return filepath.Join(h.InstancesDir, "_taps", uuid) }

func (h *LinuxHost) recordedTaps(uuid string) []string {
	data, err := os.ReadFile(h.tapsFile(uuid))
	if err != nil {
		return nil
	}
	return strings.Fields(string(data))
}

// recordTaps writes the record (nil removes it), through a rename so a crash
// leaves the old record or the new one.
func (h *LinuxHost) recordTaps(uuid string, taps []string) error {
	path := h.tapsFile(uuid)
	if len(taps) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(taps, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Plug makes the taps of spec's NICs and records them with those recorded
// before. Taps already recorded are trusted to exist, so a pass over a guest
// whose ports did not change runs no command.
func (h *LinuxHost) Plug(ctx context.Context, spec virt.Spec) error { return h.plug(ctx, spec, false) }

// plug is Plug; all also checks (and makes) the recorded taps.
func (h *LinuxHost) plug(ctx context.Context, spec virt.Spec, all bool) error {
	recorded := h.recordedTaps(spec.UUID)
	taps := slices.Clone(recorded)
	for _, nic := range spec.NICs {
		known := slices.Contains(recorded, nic.Tap)
		if known && !all {
			continue
		}
		if err := h.tap(ctx, nic); err != nil {
			return err
		}
		if !known {
			taps = append(taps, nic.Tap)
		}
	}
	if len(taps) == len(recorded) {
		return nil
	}
	return h.recordTaps(spec.UUID, taps)
}

// Prune removes the recorded taps of ports spec no longer has. The caller
// makes sure no guest holds them (unplugged, or not running).
func (h *LinuxHost) Prune(ctx context.Context, spec virt.Spec) error {
	recorded := h.recordedTaps(spec.UUID)
	var keep []string
	for _, tap := range recorded {
		if slices.ContainsFunc(spec.NICs, func(n virt.NIC) bool { return n.Tap == tap }) {
			keep = append(keep, tap)
			continue
		}
		if err := h.deleteTap(ctx, tap); err != nil {
			return err
		}
	}
	if len(keep) == len(recorded) {
		return nil
	}
	return h.recordTaps(spec.UUID, keep)
}

func (h *LinuxHost) deleteTap(ctx context.Context, tap string) error {
	if !h.linkExists(ctx, tap) {
		return nil
	}
	if out, err := h.ip(ctx, "link", "del", tap); err != nil {
		return fmt.Errorf("delete %s: %v: %s", tap, err, out)
	}
	return nil
}
