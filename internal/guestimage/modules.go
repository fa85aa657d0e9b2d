package guestimage

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// guestModules are the drivers the guest loads at boot: virtio (PCI, disk, SCSI,
// network, console, rng, balloon), IDE/SATA CD-ROMs and the filesystems of a config
// drive, and the ACPI power button with the input events busybox acpid reads.
// Their dependencies are added, in order, from each module's own .modinfo.
var guestModules = []string{
	"virtio_pci", "virtio_blk", "virtio_scsi", "sd_mod", "virtio_net", "virtio_console",
	"virtio_rng", "virtio_balloon", "ata_piix", "ata_generic", "sr_mod",
	"isofs", "vfat", "nls_cp437", "nls_ascii", "button", "evdev",
}

// addModules copies the wanted modules and everything they depend on into
// lib/modules of t, and returns their file names in load order (dependencies first).
// A wanted module built into the kernel is skipped.
func addModules(t tree, moduleDir string, wanted []string) ([]string, error) {
	paths := map[string]string{} // module name -> .ko path
	err := filepath.WalkDir(filepath.Join(moduleDir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".ko") {
			paths[moduleName(filepath.Base(p))] = p
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("kernel modules: %w", err)
	}
	builtin, err := builtinModules(filepath.Join(moduleDir, "modules.builtin"))
	if err != nil {
		return nil, err
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name, wantedBy string) error
	visit = func(name, wantedBy string) error {
		switch {
		case state[name] == 2 || builtin[name]:
			return nil
		case state[name] == 1:
			return fmt.Errorf("module dependency cycle at %s", name)
		}
		p, ok := paths[name]
		if !ok {
			return fmt.Errorf("kernel module %s (wanted by %s) is not in %s", name, wantedBy, moduleDir)
		}
		state[name] = 1
		deps, err := moduleDepends(p)
		if err != nil {
			return err
		}
		for _, dep := range deps {
			if err := visit(dep, name); err != nil {
				return err
			}
		}
		state[name] = 2
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		t.file("lib/modules/"+name+".ko", data, 0o644)
		order = append(order, name+".ko")
		return nil
	}
	for _, name := range wanted {
		if err := visit(moduleName(name), "the guest"); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// moduleName normalises a module or file name as the kernel does ("virtio-rng.ko" is
// module virtio_rng).
func moduleName(s string) string {
	return strings.ReplaceAll(strings.TrimSuffix(s, ".ko"), "-", "_")
}

func builtinModules(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kernel modules: %w", err)
	}
	out := map[string]bool{}
	for _, line := range strings.Fields(string(data)) {
		out[moduleName(filepath.Base(line))] = true
	}
	return out, nil
}

// moduleDepends reads the "depends=" entry of a module's .modinfo section, which is
// what depmod would have put in modules.dep (Debian's package ships none).
func moduleDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("kernel module %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("kernel module %s has no .modinfo", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("kernel module %s: %w", path, err)
	}
	for _, entry := range bytes.Split(data, []byte{0}) {
		if deps, ok := bytes.CutPrefix(entry, []byte("depends=")); ok {
			var out []string
			for _, d := range strings.Split(string(deps), ",") {
				if d != "" {
					out = append(out, moduleName(d))
				}
			}
			return out, nil
		}
	}
	return nil, nil
}
