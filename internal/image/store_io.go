package image

import (
	"errors"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// directAlign is the alignment direct I/O needs of buffers, lengths and offsets: a
// page, a multiple of every logical block size in use.
const directAlign = 4096

// imageFile writes an image into a new file with direct I/O (O_DIRECT): an image is
// written once and read back rarely, so copying it into the page cache only to flush
// it at the closing fsync costs a core's time for nothing (on the 2-core machine of
// docs/PERFORMANCE.md, dd writes 1 GiB at ≈1.3 GB/s direct against 0.2–0.6 GB/s
// through the page cache with conv=fsync). A write that cannot go direct (the short
// last chunk, a file system without O_DIRECT) goes through the page cache, with
// writeback started at once so that the fsync finds little left to do.
type imageFile struct {
	f      *os.File
	direct bool
	off    int64
}

func newImageFile(f *os.File) *imageFile {
	return &imageFile{f: f, direct: setDirect(f, true) == nil}
}

func (w *imageFile) Write(p []byte) (int, error) {
	if w.direct && !aligned(p) {
		w.buffered()
	}
	if w.direct {
		n, err := w.f.Write(p)
		w.off += int64(n)
		if err == nil || n > 0 || !errors.Is(err, unix.EINVAL) {
			return n, err
		}
		// the file system refused this direct write: go on through the page cache
		w.buffered()
	}
	n, err := w.f.Write(p)
	if n > 0 {
		_ = unix.SyncFileRange(int(w.f.Fd()), w.off, int64(n), unix.SYNC_FILE_RANGE_WRITE)
		w.off += int64(n)
	}
	return n, err
}

// buffered turns direct I/O off for the rest of the file.
func (w *imageFile) buffered() {
	w.direct = false
	_ = setDirect(w.f, false)
}

// aligned says whether p may be written with direct I/O at an aligned offset.
func aligned(p []byte) bool {
	return len(p) > 0 && len(p)%directAlign == 0 && uintptr(unsafe.Pointer(&p[0]))%directAlign == 0
}

// setDirect turns O_DIRECT on or off for f; file systems without direct I/O refuse.
func setDirect(f *os.File, on bool) error {
	fd := f.Fd()
	fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		fl |= unix.O_DIRECT
	} else {
		fl &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(fd, unix.F_SETFL, fl)
	return err
}

// alignedBuffer returns n bytes starting at a directAlign boundary.
func alignedBuffer(n int) []byte {
	b := make([]byte, n+directAlign)
	off := (directAlign - int(uintptr(unsafe.Pointer(&b[0]))%directAlign)) % directAlign
	return b[off : off+n : off+n]
}

// Downloads are sent in windows of readWindow with sendfile, while the kernel is asked
// (POSIX_FADV_WILLNEED) to read readAhead bytes beyond what is being sent: a cold
// image streams with many reads in flight instead of the kernel's own read-ahead.
const (
	readWindow = 4 << 20
	readAhead  = 32 << 20
)

// prefetchReader reads n bytes of f from its current offset off.
type prefetchReader struct {
	f      *os.File
	off, n int64
	hinted int64
}

func (r *prefetchReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	r.hint()
	n, err := r.f.Read(p[:min(int64(len(p)), r.n)])
	r.off += int64(n)
	r.n -= int64(n)
	if err == io.EOF && r.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// WriteTo sends the data to w, with sendfile when w is (or wraps) a connection's
// writer, one window at a time.
func (r *prefetchReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.n > 0 {
		r.hint()
		k, err := io.Copy(w, io.LimitReader(r.f, min(r.n, readWindow)))
		total += k
		r.off += k
		r.n -= k
		if err != nil {
			return total, err
		}
		if k == 0 {
			return total, io.ErrUnexpectedEOF
		}
	}
	return total, nil
}

// hint asks the kernel to start reading up to readAhead bytes past the offset.
func (r *prefetchReader) hint() {
	start, end := max(r.hinted, r.off), r.off+min(r.n, readAhead)
	// a window at a time, and what is left at the end
	if end-start >= readWindow || end > start && end == r.off+r.n {
		_ = unix.Fadvise(int(r.f.Fd()), start, end-start, unix.FADV_WILLNEED)
		r.hinted = end
	}
}
