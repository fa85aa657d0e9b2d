package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/nimbus-cloud/nimbus/internal/guestimage"
)

func imageCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Image tools"}
	var cacheDir, output string
	build := &cobra.Command{
		Use:   "build",
		Short: "Build the small test guest from Debian packages (cached)",
		Long: `Builds Nimbus's cirros-like test guest from Debian packages only (apt-get download;
no other network): the Debian cloud kernel, an initramfs with busybox, dropbear and the
virtio drivers, and a whole-disk qcow2 with a bootloader booting the same pair. The
guest takes DHCP on eth0, reads OpenStack metadata (config drive, else 169.254.169.254)
for its hostname, SSH keys and user-data, starts SSH for root with those keys, prints
"` + guestimage.BootMarker + `" and its addresses to the serial console, and powers
off on the ACPI power button.

The result is cached by its inputs (package versions and the guest's files); a second
build is instant. ` + "`nimbus up`" + ` uploads it on first start as public images.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			a, err := guestimage.Build(cmd.Context(), guestimage.Options{CacheDir: cacheDir, Logger: log})
			if err != nil {
				return err
			}
			if output != "" {
				if err := os.MkdirAll(output, 0o755); err != nil {
					return err
				}
				for _, p := range []*string{&a.Kernel, &a.Ramdisk, &a.Disk} {
					dest := filepath.Join(output, "nimbus-guest-"+filepath.Base(*p))
					if err := copyTo(*p, dest); err != nil {
						return err
					}
					*p = dest
				}
			}
			fmt.Printf("kernel:  %s\nramdisk: %s\ndisk:    %s\ncmdline: %s\nbuild:   %s (kernel %s)\n",
				a.Kernel, a.Ramdisk, a.Disk, a.CommandLine, a.Key, a.KernelVersion)
			return nil
		},
	}
	build.Flags().StringVar(&cacheDir, "cache-dir", "", "build cache (default "+guestimage.DefaultCacheDir()+"; env NIMBUS_GUEST_CACHE)")
	build.Flags().StringVar(&output, "output", "", "also copy the kernel, ramdisk and disk into this directory")
	cmd.AddCommand(build)
	return cmd
}

func copyTo(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
