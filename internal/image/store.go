package image

import (
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Store keeps image data, one object per image id, as upstream's glance_store backends.
type Store interface {
	// Write streams r into the object id, hashing as it goes; limit caps the size
	// (ErrTooLarge beyond). A failed write leaves no object and no partial data.
	Write(id string, r io.Reader, limit int64) (Written, error)
	// Open returns the object's data.
	Open(id string) (io.ReadSeekCloser, int64, error)
	// Delete removes the object; deleting a missing object is not an error.
	Delete(id string) error
	// Clean removes partial data left by a crash: what was last written before
	// olderThan (partial data of a transfer in flight is written to all the time).
	Clean(olderThan time.Time) error
}

// sizedWriter is a Store that writes data differently when the client gave
// its size (0: unknown), as glance_store's add is told image_size.
type sizedWriter interface {
	WriteSized(id string, r io.Reader, size, limit int64) (Written, error)
}

// Written describes stored data.
type Written struct {
	Size   int64
	MD5    string // hex, Glance's "checksum"
	SHA512 string // hex, Glance's os_hash_value with os_hash_algo sha512
}

// ErrTooLarge is returned when data exceeds the write limit.
var ErrTooLarge = errors.New("image data exceeds the size limit")

// FileStore is the filesystem store: one file per image id in one directory.
type FileStore struct{ Dir string }

var _ Store = (*FileStore)(nil)

// NewFileStore creates dir if needed.
func NewFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create image store: %w", err)
	}
	return &FileStore{Dir: dir}, nil
}

func (s *FileStore) path(id string) string { return filepath.Join(s.Dir, filepath.Base(id)) }

// Write streams into a temp file beside the target, fsyncs and renames it in place,
// so a reader never sees half an image.
func (s *FileStore) Write(id string, r io.Reader, limit int64) (Written, error) {
	f, err := os.CreateTemp(s.Dir, filepath.Base(id)+".*.tmp")
	if err != nil {
		return Written{}, err
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	md, sh := md5.New(), sha512.New()
	// read one byte past the limit to tell "exactly at the limit" from "over it"
	n, err := copyHashed(newImageFile(f), md, sh, io.LimitReader(r, limit+1))
	if err != nil {
		return Written{}, err
	}
	if n > limit {
		return Written{}, ErrTooLarge
	}
	if err := f.Sync(); err != nil {
		return Written{}, err
	}
	if err := f.Close(); err != nil {
		return Written{}, err
	}
	if err := os.Rename(f.Name(), s.path(id)); err != nil {
		os.Remove(f.Name())
		return Written{}, err
	}
	done = true
	if d, err := os.Open(s.Dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return Written{Size: n, MD5: hex.EncodeToString(md.Sum(nil)), SHA512: hex.EncodeToString(sh.Sum(nil))}, nil
}

// chunkSize is the unit the upload pipeline moves; chunkDepth chunks are in flight.
const (
	chunkSize  = 1 << 20
	chunkDepth = 4
)

// copyHashed copies src to dst while both hashes see every byte, in a pipeline: one
// goroutine reads the next chunk while others hash (md5, sha512) and write the
// previous ones, each stage in order, so an upload runs at the pace of its slowest
// stage (a hash) rather than of their sum. Memory is chunkDepth chunks whatever the
// size. Only io.EOF ends the copy: a body cut off mid-way (io.ErrUnexpectedEOF from
// net/http) is an error.
func copyHashed(dst io.Writer, h1, h2 hash.Hash, src io.Reader) (int64, error) {
	type chunk struct {
		p    []byte
		refs atomic.Int32
	}
	pool := make(chan []byte, chunkDepth)
	for range chunkDepth {
		pool <- alignedBuffer(chunkSize)
	}
	release := func(c *chunk) {
		if c.refs.Add(-1) == 0 {
			pool <- c.p[:cap(c.p)]
		}
	}
	var writeErr atomic.Pointer[error]
	stages := []func(*chunk){
		func(c *chunk) { h1.Write(c.p) },
		func(c *chunk) { h2.Write(c.p) },
		func(c *chunk) {
			if writeErr.Load() == nil {
				if _, err := dst.Write(c.p); err != nil {
					writeErr.Store(&err)
				}
			}
		},
	}
	queues := make([]chan *chunk, len(stages))
	var wg sync.WaitGroup
	for i, stage := range stages {
		queues[i] = make(chan *chunk, chunkDepth)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range queues[i] {
				stage(c)
				release(c)
			}
		}()
	}
	var total int64
	var rerr error
	for writeErr.Load() == nil {
		buf := <-pool
		var n int
		n, rerr = fill(src, buf)
		if n > 0 {
			c := &chunk{p: buf[:n]}
			c.refs.Store(int32(len(stages)))
			for _, q := range queues {
				q <- c
			}
			total += int64(n)
		} else {
			pool <- buf
		}
		if rerr != nil {
			break
		}
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	if p := writeErr.Load(); p != nil {
		return total, *p
	}
	if rerr == io.EOF {
		return total, nil
	}
	return total, rerr
}

// fill reads until buf is full or src fails; io.EOF is returned as is.
func fill(src io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := src.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Open opens the image file.
func (s *FileStore) Open(id string) (io.ReadSeekCloser, int64, error) {
	f, err := os.Open(s.path(id))
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	// Downloads read the whole file in order: a larger read-ahead keeps the disk busy.
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
	return f, st.Size(), nil
}

// Delete removes the image file.
func (s *FileStore) Delete(id string) error {
	if err := os.Remove(s.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Clean removes the temp files of interrupted writes, last written before olderThan.
func (s *FileStore) Clean(olderThan time.Time) error {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, os.ErrNotExist) || err == nil && !info.ModTime().Before(olderThan) {
			continue // renamed into place meanwhile, or in flight
		}
		if err := os.Remove(filepath.Join(s.Dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
