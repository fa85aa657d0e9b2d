// Package guestimage builds Nimbus's small test guest from Debian packages: the Debian
// cloud kernel, an initramfs holding the whole userspace (busybox, dropbear, the
// virtio drivers and a boot script that does what cirros does: DHCP, OpenStack
// metadata, SSH keys, user-data, a console marker), and a whole-disk qcow2 with a
// bootloader that boots the same pair. Builds are cached by their inputs.
package guestimage

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// builderVersion is part of every cache key: bump it whenever the build steps change
// (they are code, which the key does not hash), or stale caches keep being used.
const builderVersion = "2"

// BootMarker is the console line the guest prints when it is fully up.
const BootMarker = "nimbus-guest: boot complete"

// The guest's own files, copied into the initramfs as they are (scripts made executable).
//
//go:embed all:rootfs
var rootfsFiles embed.FS

//go:embed syslinux.cfg
var syslinuxConfig []byte

// Artifacts are the paths of one finished build.
type Artifacts struct {
	Dir     string `json:"-"`
	Key     string `json:"key"`     // hash of every input; names the cache entry
	Kernel  string `json:"kernel"`  // vmlinuz, for direct boot (Glance aki)
	Ramdisk string `json:"ramdisk"` // initrd.img (Glance ari)
	Disk    string `json:"disk"`    // whole-disk qcow2 with a bootloader
	// KernelVersion is the Debian kernel package version, e.g. 6.1.0-56-cloud-amd64.
	KernelVersion string `json:"kernel_version"`
	// CommandLine is what the bootloader passes to the kernel; direct boot should pass the same.
	CommandLine string `json:"command_line"`
}

// Options configures a build.
type Options struct {
	// CacheDir holds one directory per build key; DefaultCacheDir() when empty.
	CacheDir string
	Logger   *slog.Logger
	// Runner runs external commands; a logging runner when nil.
	Runner Runner
}

// DefaultCacheDir is $NIMBUS_GUEST_CACHE, else the user's cache directory.
func DefaultCacheDir() string {
	if d := os.Getenv("NIMBUS_GUEST_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "nimbus", "guest-image")
	}
	return filepath.Join(os.TempDir(), "nimbus-guest-image")
}

// Build returns the cached build for the current inputs, building it first when absent.
// Concurrent builds of the same key are safe: each builds aside and the first to
// finish publishes its result.
func Build(ctx context.Context, opts Options) (Artifacts, error) {
	if opts.CacheDir == "" {
		opts.CacheDir = DefaultCacheDir()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Runner == nil {
		opts.Runner = execRunner{log: opts.Logger}
	}
	pkgs, err := resolvePackages(ctx, opts.Runner)
	if err != nil {
		return Artifacts{}, err
	}
	key, err := buildKey(pkgs)
	if err != nil {
		return Artifacts{}, err
	}
	dir := filepath.Join(opts.CacheDir, key)
	if a, err := loadManifest(dir); err == nil {
		return a, nil
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return Artifacts{}, fmt.Errorf("guest image cache: %w", err)
	}
	work, err := os.MkdirTemp(opts.CacheDir, ".build-"+key[:12]+"-")
	if err != nil {
		return Artifacts{}, fmt.Errorf("guest image cache: %w", err)
	}
	defer os.RemoveAll(work)
	opts.Logger.Info("building the guest image", "key", key, "kernel", pkgs.kernel)
	a, err := build(ctx, opts, pkgs, work)
	if err != nil {
		return Artifacts{}, err
	}
	a.Key = key
	if err := writeManifest(filepath.Join(work, "out"), a); err != nil {
		return Artifacts{}, err
	}
	if err := os.Rename(filepath.Join(work, "out"), dir); err != nil {
		// Another build of the same key won the race; use its result.
		if a, lerr := loadManifest(dir); lerr == nil {
			return a, nil
		}
		return Artifacts{}, fmt.Errorf("publish guest image: %w", err)
	}
	pruneOtherBuilds(opts.CacheDir, key, opts.Logger)
	return loadManifest(dir)
}

// pruneOtherBuilds removes the cache entries of older inputs (a new kernel, a changed
// boot script): only the current build is ever used.
func pruneOtherBuilds(cacheDir, keep string, log *slog.Logger) {
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() && e.Name() != keep && !strings.HasPrefix(e.Name(), ".") {
			if err := os.RemoveAll(filepath.Join(cacheDir, e.Name())); err != nil {
				log.Warn("prune guest image cache", "dir", e.Name(), "error", err)
			}
		}
	}
}

// build runs every step in work and leaves the artifacts in work/out.
func build(ctx context.Context, opts Options, pkgs packageSet, work string) (Artifacts, error) {
	staging := filepath.Join(work, "debs")
	if err := fetchPackages(ctx, opts.Runner, pkgs, staging, filepath.Join(work, "download")); err != nil {
		return Artifacts{}, err
	}
	out := filepath.Join(work, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return Artifacts{}, err
	}
	a := Artifacts{
		Kernel:        filepath.Join(out, "vmlinuz"),
		Ramdisk:       filepath.Join(out, "initrd.img"),
		Disk:          filepath.Join(out, "disk.qcow2"),
		KernelVersion: pkgs.kernelRelease,
		CommandLine:   commandLine(),
	}
	if err := copyFile(filepath.Join(staging, "boot", "vmlinuz-"+pkgs.kernelRelease), a.Kernel); err != nil {
		return Artifacts{}, fmt.Errorf("kernel: %w", err)
	}
	root, err := assembleRoot(ctx, opts.Runner, staging, pkgs.kernelRelease)
	if err != nil {
		return Artifacts{}, err
	}
	if err := writeInitramfs(root, a.Ramdisk); err != nil {
		return Artifacts{}, err
	}
	if err := writeDisk(ctx, opts.Runner, work, a); err != nil {
		return Artifacts{}, err
	}
	return a, nil
}

// commandLine is the kernel command line of the bootloader config.
func commandLine() string {
	for _, line := range strings.Split(string(syslinuxConfig), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "APPEND" {
			return strings.Join(f[1:], " ")
		}
	}
	return ""
}

// buildKey hashes every input of a build: package versions, the guest's files and
// the builder version, so a change to any of them makes a new cache entry.
func buildKey(pkgs packageSet) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "builder %s\n", builderVersion)
	for _, p := range pkgs.sorted() {
		fmt.Fprintf(h, "package %s\n", p)
	}
	fmt.Fprintf(h, "modules %s\n", strings.Join(guestModules, ","))
	h.Write(syslinuxConfig)
	var paths []string
	err := fs.WalkDir(rootfsFiles, "rootfs", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, path)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(paths)
	for _, p := range paths {
		data, err := rootfsFiles.ReadFile(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "file %s %d\n", p, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

const manifestName = "manifest.json"

func writeManifest(dir string, a Artifacts) error {
	rel := a
	for _, p := range []*string{&rel.Kernel, &rel.Ramdisk, &rel.Disk} {
		*p = filepath.Base(*p)
	}
	data, err := json.MarshalIndent(rel, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, manifestName), append(data, '\n'), 0o644)
}

// loadManifest reads a finished build; the manifest is written last, so its presence
// means the build is complete.
func loadManifest(dir string) (Artifacts, error) {
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return Artifacts{}, err
	}
	var a Artifacts
	if err := json.Unmarshal(data, &a); err != nil {
		return Artifacts{}, fmt.Errorf("guest image manifest %s: %w", dir, err)
	}
	a.Dir = dir
	for _, p := range []*string{&a.Kernel, &a.Ramdisk, &a.Disk} {
		*p = filepath.Join(dir, *p)
		if _, err := os.Stat(*p); err != nil {
			return Artifacts{}, errors.New("guest image cache entry is incomplete: " + dir)
		}
	}
	return a, nil
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o644)
}
