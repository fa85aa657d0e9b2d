package image

import (
	"bytes"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// storeDirs are the file systems the store is tried on: the test's temp dir (ext4
// here: direct I/O) and /dev/shm (tmpfs: direct I/O or the page-cache fallback,
// depending on the kernel).
func storeDirs(t *testing.T) map[string]string {
	dirs := map[string]string{"tempdir": t.TempDir()}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "nimbus-store-test")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			dirs["shm"] = d
		}
	}
	return dirs
}

// TestFileStoreWrite checks data and checksums around every boundary the pipeline
// and direct I/O care about: empty, under and over one aligned block, one chunk,
// several chunks with a short tail; the source hands out odd-sized reads.
func TestFileStoreWrite(t *testing.T) {
	for name, dir := range storeDirs(t) {
		s, err := NewFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{0, 1, directAlign - 1, directAlign, directAlign + 1, chunkSize - 1, chunkSize,
			chunkSize + 1, 3*chunkSize + 12345, (chunkDepth + 3) * chunkSize} {
			data := randomBytes(size)
			w, err := s.Write("img", iotest.HalfReader(bytes.NewReader(data)), int64(size))
			if err != nil {
				t.Fatalf("%s, %d bytes: %v", name, size, err)
			}
			m, sh := md5.Sum(data), sha512.Sum512(data)
			if w.Size != int64(size) || w.MD5 != hex.EncodeToString(m[:]) || w.SHA512 != hex.EncodeToString(sh[:]) {
				t.Errorf("%s, %d bytes: wrote %+v", name, size, w)
			}
			got, err := os.ReadFile(filepath.Join(dir, "img"))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s, %d bytes: stored data differs (%d bytes, %v)", name, size, len(got), err)
			}
		}
	}
}

// TestFileStoreWriteFailures: a body cut off mid-way or over the limit leaves nothing.
func TestFileStoreWriteFailures(t *testing.T) {
	cutOff := errors.New("connection reset")
	for name, dir := range storeDirs(t) {
		s, err := NewFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name  string
			r     io.Reader
			limit int64
			want  error
		}{
			{"cut off in the first chunk", io.MultiReader(bytes.NewReader(randomBytes(5000)), iotest.ErrReader(cutOff)), 1 << 30, cutOff},
			{"cut off after chunks", io.MultiReader(bytes.NewReader(randomBytes(2*chunkSize)), iotest.ErrReader(io.ErrUnexpectedEOF)), 1 << 30, io.ErrUnexpectedEOF},
			{"over the limit", bytes.NewReader(randomBytes(chunkSize + 10)), chunkSize + 9, ErrTooLarge},
			{"over a small limit", bytes.NewReader(randomBytes(10)), 0, ErrTooLarge},
		} {
			if _, err := s.Write("img", tc.r, tc.limit); !errors.Is(err, tc.want) {
				t.Errorf("%s, %s: err = %v, want %v", name, tc.name, err, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("%s, %s: left %v", name, tc.name, entries)
			}
		}
	}
}

// repeatReader yields n bytes of block, repeated.
type repeatReader struct {
	block []byte
	left  int64
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), r.left)], r.block[r.off:])
	r.off = (r.off + n) % len(r.block)
	r.left -= int64(n)
	return n, nil
}

// BenchmarkFileStoreWrite is the store's share of an upload: 256 MiB hashed with md5
// and sha512, written and fsynced, with no network in the way. Compare with
// BenchmarkHashes: the pipeline runs at the pace of the slower hash.
func BenchmarkFileStoreWrite(b *testing.B) {
	s, err := NewFileStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	const size = 256 << 20
	block := randomBytes(1 << 20)
	b.SetBytes(size)
	for b.Loop() {
		if _, err := s.Write("img", &repeatReader{block: block, left: size}, size); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHashes times each hash alone on this CPU: the bounds of an upload.
func BenchmarkHashes(b *testing.B) {
	block := randomBytes(1 << 20)
	for name, h := range map[string]func() io.Writer{"md5": func() io.Writer { return md5.New() }, "sha512": func() io.Writer { return sha512.New() }} {
		b.Run(name, func(b *testing.B) {
			w := h()
			b.SetBytes(int64(len(block)))
			for b.Loop() {
				w.Write(block)
			}
		})
	}
}
