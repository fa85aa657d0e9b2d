package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// List is every instance directory in InstancesDir that this driver made
// (instance.json names its uuid), running or not.
func (d *Driver) List(ctx context.Context) ([]virt.Info, error) {
	entries, err := os.ReadDir(d.opts.InstancesDir)
	if err != nil {
		return nil, fmt.Errorf("list guests: %w", err)
	}
	var out []virt.Info
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(d.opts.InstancesDir, e.Name())
		doc, err := readInstanceDoc(dir)
		if err != nil {
			continue // not a guest of ours (or one whose start never got that far)
		}
		st, err := d.state(ctx, dir, doc.UUID)
		if err != nil {
			d.log.Warn("list guests: state unknown", "uuid", doc.UUID, "error", err)
		}
		out = append(out, virt.Info{UUID: doc.UUID, State: st})
	}
	return out, nil
}

// instanceDoc is what the driver records in the instance's directory so List can
// name guests that have no process (shut down, suspended).
type instanceDoc struct {
	UUID string `json:"uuid"`
	Name string `json:"name"`
}

func writeInstanceDoc(s virt.Spec) error {
	data, err := json.Marshal(instanceDoc{UUID: s.UUID, Name: s.Name})
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.Dir, instanceDocFile+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.Dir, instanceDocFile))
}

func readInstanceDoc(dir string) (instanceDoc, error) {
	var doc instanceDoc
	data, err := os.ReadFile(filepath.Join(dir, instanceDocFile))
	if err != nil {
		return doc, err
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.UUID == "" {
		return doc, fmt.Errorf("%s: not an instance document", filepath.Join(dir, instanceDocFile))
	}
	return doc, nil
}
