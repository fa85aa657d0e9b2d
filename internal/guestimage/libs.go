package guestimage

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// libraryDirs are where Debian's multiarch packages put amd64 shared libraries; the
// guest's dynamic loader searches the same directories.
var libraryDirs = []string{"lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64"}

// addSharedLibraries adds every shared library the dynamically linked programs in t
// need, transitively, from the unpacked packages in staging, and the dynamic loader.
// A library no package provides fails the build, rather than a guest whose ssh
// cannot start.
func addSharedLibraries(t tree, staging string) error {
	var queue []string
	for p, n := range t {
		if n.mode.IsRegular() && n.mode&0o111 != 0 && isELF(n.data) {
			queue = append(queue, p)
		}
	}
	sort.Strings(queue)
	seen := map[string]bool{}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		f, err := elf.NewFile(bytes.NewReader(t[p].data))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		needed, err := f.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if interp := interpreter(f); interp != "" && !seen[interp] {
			needed = append(needed, interp)
		}
		for _, lib := range needed {
			if seen[lib] {
				continue
			}
			seen[lib] = true
			data, err := findLibrary(staging, lib)
			if err != nil {
				return fmt.Errorf("%s needs %s: %w", p, lib, err)
			}
			dest := path.Join("lib/x86_64-linux-gnu", path.Base(lib))
			if path.IsAbs(lib) {
				dest = strings.TrimPrefix(lib, "/")
			}
			t.file(dest, data, 0o755)
			queue = append(queue, dest)
		}
	}
	return nil
}

func isELF(data []byte) bool { return len(data) > 4 && string(data[:4]) == elf.ELFMAG }

func interpreter(f *elf.File) string {
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			data := make([]byte, p.Filesz)
			if _, err := p.ReadAt(data, 0); err == nil {
				return strings.TrimRight(string(data), "\x00")
			}
		}
	}
	return ""
}

// findLibrary reads a library from the unpacked packages, following symlinks inside
// staging (packages use absolute links, e.g. /lib64/ld-linux-x86-64.so.2).
func findLibrary(staging, lib string) ([]byte, error) {
	candidates := []string{lib}
	if !path.IsAbs(lib) {
		candidates = nil
		for _, dir := range libraryDirs {
			candidates = append(candidates, path.Join("/", dir, lib))
		}
	}
	for _, c := range candidates {
		if p, err := resolveIn(staging, c); err == nil {
			return os.ReadFile(p)
		}
	}
	return nil, fmt.Errorf("no package of the guest provides it (searched %s)", strings.Join(libraryDirs, ", "))
}

// resolveIn follows symlinks of p as if staging were the root directory.
func resolveIn(staging, p string) (string, error) {
	for range 16 {
		full := filepath.Join(staging, p)
		fi, err := os.Lstat(full)
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			return full, nil
		}
		target, err := os.Readlink(full)
		if err != nil {
			return "", err
		}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(p), target)
		}
		p = target
	}
	return "", fmt.Errorf("too many symlinks at %s", p)
}
