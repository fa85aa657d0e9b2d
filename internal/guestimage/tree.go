package guestimage

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// node is one entry of the guest's root filesystem, held in memory until it is
// written as an initramfs (the whole tree is a few MiB).
type node struct {
	mode   fs.FileMode // type bits and permissions
	data   []byte      // regular files
	target string      // symlinks
	major  uint32      // device nodes
	minor  uint32
}

// tree maps a path without its leading slash to its node.
type tree map[string]*node

func (t tree) dir(p string) {
	for p != "." && p != "/" && p != "" {
		if _, ok := t[p]; ok {
			return
		}
		t[p] = &node{mode: fs.ModeDir | 0o755}
		p = path.Dir(p)
	}
}

func (t tree) file(p string, data []byte, perm fs.FileMode) {
	t.dir(path.Dir(p))
	t[p] = &node{mode: perm, data: data}
}

func (t tree) symlink(p, target string) {
	t.dir(path.Dir(p))
	t[p] = &node{mode: fs.ModeSymlink | 0o777, target: target}
}

func (t tree) charDevice(p string, major, minor uint32, perm fs.FileMode) {
	t.dir(path.Dir(p))
	t[p] = &node{mode: fs.ModeDevice | fs.ModeCharDevice | perm, major: major, minor: minor}
}

// assembleRoot lays out the guest: busybox and its applet links, dropbear and the
// libraries it links, the kernel modules the guest loads, and the embedded /etc.
func assembleRoot(ctx context.Context, run Runner, staging, kernelRelease string) (tree, error) {
	t := tree{}
	for _, d := range []string{"proc", "sys", "dev", "run", "tmp", "mnt", "root", "var/empty", "var/log", "home", "etc/dropbear"} {
		t.dir(d)
	}
	t[path.Clean("tmp")].mode = fs.ModeDir | fs.ModeSticky | 0o777
	t[path.Clean("root")].mode = fs.ModeDir | 0o700
	// The kernel opens /dev/console for init before anything mounts devtmpfs.
	t.charDevice("dev/console", 5, 1, 0o600)
	t.charDevice("dev/null", 1, 3, 0o666)

	busybox := filepath.Join(staging, "bin", "busybox")
	data, err := os.ReadFile(busybox)
	if err != nil {
		return nil, fmt.Errorf("busybox: %w", err)
	}
	t.file("bin/busybox", data, 0o755)
	// The static busybox runs on the build host too; it lists its own applets.
	applets, err := run.Run(ctx, "", nil, busybox, "--list-full")
	if err != nil {
		return nil, err
	}
	for _, applet := range strings.Fields(string(applets)) {
		if applet != "bin/busybox" {
			t.symlink(applet, "/bin/busybox")
		}
	}
	t.symlink("init", "/bin/busybox")

	for _, bin := range []string{"usr/sbin/dropbear", "usr/bin/dropbearkey", "usr/bin/dbclient"} {
		data, err := os.ReadFile(filepath.Join(staging, bin))
		if err != nil {
			return nil, fmt.Errorf("dropbear: %w", err)
		}
		t.file(bin, data, 0o755)
	}
	if err := addSharedLibraries(t, staging); err != nil {
		return nil, err
	}
	order, err := addModules(t, filepath.Join(staging, "lib", "modules", kernelRelease), guestModules)
	if err != nil {
		return nil, err
	}
	t.file("etc/modules.order", []byte(strings.Join(order, "\n")+"\n"), 0o644)

	err = fs.WalkDir(rootfsFiles, "rootfs", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := rootfsFiles.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, "rootfs/")
		perm := fs.FileMode(0o644)
		switch {
		case bytes.HasPrefix(data, []byte("#!")):
			perm = 0o755
		case rel == "etc/shadow":
			perm = 0o600
		}
		t.file(rel, data, perm)
		return nil
	})
	return t, err
}
