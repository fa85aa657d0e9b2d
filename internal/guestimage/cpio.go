package guestimage

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
)

// cpio "newc" mode bits (see the kernel's Documentation/driver-api/early-userspace).
const (
	cpioDir     = 0o040000
	cpioFile    = 0o100000
	cpioSymlink = 0o120000
	cpioChar    = 0o020000
)

// cpioEpoch is every entry's mtime, so that the same inputs give the same bytes.
const cpioEpoch = 1700000000

// writeInitramfs writes t as a gzip-compressed newc cpio archive, the format the
// kernel unpacks into its initial root filesystem. Parents sort before children.
func writeInitramfs(t tree, dest string) error {
	f, err := os.Create(dest)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := bufio.NewWriterSize(f, 1<<20)
	zw, err := gzip.NewWriterLevel(buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if err := writeCPIO(zw, t); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := buf.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func writeCPIO(w io.Writer, t tree) error {
	paths := make([]string, 0, len(t))
	for p := range t {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	ino := uint32(1)
	for _, p := range paths {
		n := t[p]
		var mode uint32
		var body []byte
		nlink := uint32(1)
		switch {
		case n.mode.IsDir():
			mode, nlink = cpioDir, 2
		case n.mode&fs.ModeSymlink != 0:
			mode, body = cpioSymlink, []byte(n.target)
		case n.mode&fs.ModeCharDevice != 0:
			mode = cpioChar
		default:
			mode, body = cpioFile, n.data
		}
		mode |= uint32(n.mode.Perm())
		if n.mode&fs.ModeSticky != 0 {
			mode |= 0o1000
		}
		if err := writeCPIOEntry(w, ino, mode, nlink, n.major, n.minor, p, body); err != nil {
			return err
		}
		ino++
	}
	return writeCPIOEntry(w, 0, 0, 1, 0, 0, "TRAILER!!!", nil)
}

func writeCPIOEntry(w io.Writer, ino, mode, nlink, major, minor uint32, name string, body []byte) error {
	header := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, cpioEpoch, len(body), 0, 0, major, minor, len(name)+1, 0)
	if _, err := io.WriteString(w, header+name+"\x00"); err != nil {
		return err
	}
	if err := pad4(w, len(header)+len(name)+1); err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return pad4(w, len(body))
}

var zeros [4]byte

func pad4(w io.Writer, n int) error {
	_, err := w.Write(zeros[:(4-n%4)%4])
	return err
}
