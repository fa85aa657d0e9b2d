package guestimage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// kernelMetaPackage always depends on the current Debian cloud kernel, which has the
// virtio drivers as modules and boots fast under TCG.
const kernelMetaPackage = "linux-image-cloud-amd64"

// userspacePackages give the guest's programs: busybox (static), dropbear, and the
// shared libraries dropbear needs (checked against its ELF dependencies at build time).
var userspacePackages = []string{
	"busybox-static", "dropbear-bin",
	"libc6", "libcrypt1", "libgmp10", "libtomcrypt1", "libtommath1", "zlib1g",
}

// packageSet is the exact Debian packages (name=version) one build uses.
type packageSet struct {
	kernel        string            // e.g. linux-image-6.1.0-56-cloud-amd64
	kernelRelease string            // e.g. 6.1.0-56-cloud-amd64
	versions      map[string]string // package -> candidate version
}

func (p packageSet) sorted() []string {
	out := make([]string, 0, len(p.versions))
	for name, v := range p.versions {
		out = append(out, name+"="+v)
	}
	sort.Strings(out)
	return out
}

// resolvePackages asks apt (offline, from its package lists) which versions a build
// would download, so the cache key is known before anything is fetched.
func resolvePackages(ctx context.Context, run Runner) (packageSet, error) {
	meta, err := showPackages(ctx, run, append([]string{kernelMetaPackage}, userspacePackages...))
	if err != nil {
		return packageSet{}, err
	}
	kernel := ""
	for _, dep := range strings.Split(meta[kernelMetaPackage]["Depends"], ",") {
		if name, _, _ := strings.Cut(strings.TrimSpace(dep), " "); strings.HasPrefix(name, "linux-image-") {
			kernel = name
			break
		}
	}
	if kernel == "" {
		return packageSet{}, fmt.Errorf("%s depends on no linux-image package", kernelMetaPackage)
	}
	kernelInfo, err := showPackages(ctx, run, []string{kernel})
	if err != nil {
		return packageSet{}, err
	}
	set := packageSet{kernel: kernel, kernelRelease: strings.TrimPrefix(kernel, "linux-image-"), versions: map[string]string{
		kernel: kernelInfo[kernel]["Version"],
	}}
	for _, name := range userspacePackages {
		set.versions[name] = meta[name]["Version"]
	}
	return set, nil
}

// showPackages reads the candidate stanza of each package (one apt-cache call, as
// each call loads the whole package cache) and returns its fields by package.
func showPackages(ctx context.Context, run Runner, names []string) (map[string]map[string]string, error) {
	out, err := run.Run(ctx, "", nil, "apt-cache", append([]string{"show", "--no-all-versions"}, names...)...)
	if err != nil {
		return nil, fmt.Errorf("resolve the guest's Debian packages (are apt's package lists there? run apt-get update): %w", err)
	}
	stanzas := map[string]map[string]string{}
	for _, stanza := range strings.Split(string(out), "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, " ") {
				fields[k] = strings.TrimSpace(v)
			}
		}
		if name := fields["Package"]; name != "" {
			stanzas[name] = fields
		}
	}
	for _, name := range names {
		if stanzas[name]["Version"] == "" {
			return nil, fmt.Errorf("apt-cache knows no version of %s", name)
		}
	}
	return stanzas, nil
}

// fetchPackages downloads the exact versions with apt-get (the only network a build
// uses) and unpacks them all into staging, as dpkg would, without running scripts.
func fetchPackages(ctx context.Context, run Runner, pkgs packageSet, staging, download string) error {
	for _, dir := range []string{staging, download} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	args := []string{"download"}
	if os.Geteuid() == 0 {
		// As root apt drops to the _apt user, which cannot write to our directory.
		args = append([]string{"-o", "APT::Sandbox::User=root"}, args...)
	}
	args = append(args, pkgs.sorted()...)
	if _, err := run.Run(ctx, download, nil, "apt-get", args...); err != nil {
		return fmt.Errorf("download the guest's Debian packages: %w", err)
	}
	debs, err := filepath.Glob(filepath.Join(download, "*.deb"))
	if err != nil {
		return err
	}
	if len(debs) != len(pkgs.versions) {
		return fmt.Errorf("apt-get downloaded %d packages, want %d", len(debs), len(pkgs.versions))
	}
	for _, deb := range debs {
		if _, err := run.Run(ctx, "", nil, "dpkg-deb", "-x", deb, staging); err != nil {
			return fmt.Errorf("unpack %s: %w", filepath.Base(deb), err)
		}
	}
	return nil
}
