package guestimage

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

const (
	sectorSize      = 512
	partitionOffset = 1 << 20 // the first partition starts at 1 MiB, as fdisk aligns it
	// fat16LBA is the MBR partition type of a FAT16 filesystem addressed by LBA.
	fat16LBA = 0x0e
)

// mbrCodePaths are where Debian's syslinux packages put the MBR boot code, which
// loads the active partition's boot sector.
var mbrCodePaths = []string{"/usr/lib/syslinux/mbr/mbr.bin", "/usr/lib/SYSLINUX/mbr.bin"}

// writeDisk makes the whole-disk image: an MBR with one active FAT partition that
// holds SYSLINUX, the kernel and the initramfs. Every step works on plain files
// (mtools and the mtools-based syslinux installer), so a build needs no loop
// devices and no root. The raw disk is then compressed into a qcow2.
func writeDisk(ctx context.Context, run Runner, work string, a Artifacts) error {
	kernel, err := os.Stat(a.Kernel)
	if err != nil {
		return err
	}
	ramdisk, err := os.Stat(a.Ramdisk)
	if err != nil {
		return err
	}
	// Room for both files, the bootloader and FAT overhead, in whole MiB.
	partSize := roundUp(kernel.Size()+ramdisk.Size()+8<<20, 1<<20)
	partSize = max(partSize, 32<<20)

	part := filepath.Join(work, "boot.fat")
	cfg := filepath.Join(work, "syslinux.cfg")
	if err := os.WriteFile(cfg, syslinuxConfig, 0o644); err != nil {
		return err
	}
	mtools := []string{"MTOOLS_SKIP_CHECK=1"}
	steps := []struct {
		env  []string
		name string
		args []string
	}{
		// -h: the partition's offset in sectors, which the FAT boot sector records.
		{nil, "mkfs.fat", []string{"-C", "-F", "16", "-h", strconv.Itoa(partitionOffset / sectorSize), "-n", "NIMBUS", part, strconv.FormatInt(partSize/1024, 10)}},
		{mtools, "mcopy", []string{"-i", part, a.Kernel, "::vmlinuz"}},
		{mtools, "mcopy", []string{"-i", part, a.Ramdisk, "::initrd.img"}},
		{mtools, "mcopy", []string{"-i", part, cfg, "::syslinux.cfg"}},
		{mtools, "syslinux", []string{"--install", part}},
	}
	for _, s := range steps {
		if _, err := run.Run(ctx, work, s.env, s.name, s.args...); err != nil {
			return fmt.Errorf("boot partition: %w", err)
		}
	}
	raw := filepath.Join(work, "disk.raw")
	if err := writeRawDisk(raw, part, partSize); err != nil {
		return err
	}
	if _, err := run.Run(ctx, work, nil, "qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", raw, a.Disk); err != nil {
		return fmt.Errorf("whole-disk image: %w", err)
	}
	return nil
}

// writeRawDisk writes the MBR (boot code and one active partition) and the
// partition's contents at partitionOffset.
func writeRawDisk(dest, partImage string, partSize int64) error {
	code, err := readFirst(mbrCodePaths)
	if err != nil {
		return fmt.Errorf("MBR boot code (package syslinux-common): %w", err)
	}
	mbr, err := masterBootRecord(code, partitionOffset/sectorSize, partSize/sectorSize)
	if err != nil {
		return err
	}
	partData, err := os.ReadFile(partImage)
	if err != nil {
		return err
	}
	f, err := os.Create(dest)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteAt(mbr, 0); err != nil {
		return err
	}
	if _, err := f.WriteAt(partData, partitionOffset); err != nil {
		return err
	}
	if err := f.Truncate(partitionOffset + partSize); err != nil {
		return err
	}
	return f.Close()
}

// masterBootRecord lays out sector 0: up to 440 bytes of boot code, a disk
// signature, one partition entry (active, FAT16 LBA) and the 0x55AA signature.
func masterBootRecord(code []byte, startLBA, sectors int64) ([]byte, error) {
	if len(code) > 440 {
		code = code[:440]
	}
	if startLBA+sectors > 1<<32-1 {
		return nil, fmt.Errorf("partition too large for an MBR: %d sectors", sectors)
	}
	mbr := make([]byte, sectorSize)
	copy(mbr, code)
	binary.LittleEndian.PutUint32(mbr[440:], 0x4e494d42) // disk signature "NIMB"
	entry := mbr[446:462]
	entry[0] = 0x80 // active: the MBR code boots this partition
	copy(entry[1:4], chs(startLBA))
	entry[4] = fat16LBA
	copy(entry[5:8], chs(startLBA+sectors-1))
	binary.LittleEndian.PutUint32(entry[8:], uint32(startLBA))
	binary.LittleEndian.PutUint32(entry[12:], uint32(sectors))
	mbr[510], mbr[511] = 0x55, 0xaa
	return mbr, nil
}

// chs encodes an LBA as cylinder/head/sector for 255 heads and 63 sectors per track,
// saturating past what CHS can address, as partitioning tools do.
func chs(lba int64) []byte {
	const heads, sectors = 255, 63
	c := lba / (heads * sectors)
	if c > 1023 {
		return []byte{0xfe, 0xff, 0xff}
	}
	h := (lba / sectors) % heads
	s := lba%sectors + 1
	return []byte{byte(h), byte(s) | byte((c>>2)&0xc0), byte(c)}
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

func readFirst(paths []string) ([]byte, error) {
	var firstErr error
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err == nil {
			return data, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}
