package backup

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Names are the container and the object prefix backup s is stored under:
// its own, or those a new backup gets now. A caller saves them before Backup,
// as upstream's _prepare_backup saves backup.container and service_metadata
// first, so that a backup interrupted by a crash or a stop is found again:
// Backup called with them resumes it, Delete removes what it stored.
func (d *Chunked) Names(s Spec) (container, prefix string) {
	prefix = s.Prefix
	if prefix == "" {
		prefix = d.NewPrefix(s)
	}
	return d.container(s), prefix
}

// storedChunks are the chunk objects under prefix that an interrupted
// attempt of the backup left. A store's put is whole or absent (a directory's
// renames a finished file into place, an object store's PUT lands whole), so
// each is a complete object; whether it holds what the volume holds now is
// reuseChunk's to check.
func (d *Chunked) storedChunks(ctx context.Context, a Auth, container, prefix string) (map[string]bool, error) {
	names, err := d.store.list(ctx, a, container, prefix)
	if err != nil {
		return nil, fmt.Errorf("backup: listing what an interrupted attempt stored: %w", err)
	}
	chunks := map[string]bool{}
	for _, name := range names {
		if isChunkName(name, prefix) {
			chunks[name] = true
		}
	}
	return chunks, nil
}

// reuseChunk says whether the stored object name holds data (as this driver
// stores it: as it is, or zlib-compressed), the chunk this pass would store
// under that name. The volume may have changed since the interrupted attempt
// (a backup of an in-use volume, --force), and the numbering of an
// incremental backup's objects follows what changed, so nothing but the
// bytes themselves decides. It returns the object's record and its stored
// length, as storeChunk does. The object is compared as it streams in, not
// held in memory: compressed first when this driver compresses.
func (d *Chunked) reuseChunk(ctx context.Context, a Auth, container, name string, offset int64, data []byte) (storedObject, int64, bool, error) {
	forms := []bool{false, true} // inflate?
	if d.compress {
		forms = []bool{true, false}
	}
	for _, inflate := range forms {
		n, same, err := d.storedAs(ctx, a, container, name, data, inflate)
		if errors.Is(err, ErrNotFound) {
			return storedObject{}, 0, false, nil
		}
		if err != nil {
			return storedObject{}, 0, false, fmt.Errorf("backup: reading %s to reuse it: %w", name, err)
		}
		if !same {
			continue
		}
		algorithm := CompressionNone
		if inflate {
			algorithm = CompressionZlib
			if d.compress {
				algorithm = strings.ToLower(d.compression) // as storeChunk records it ("gzip" is zlib)
			}
		}
		sum := md5.Sum(data)
		return storedObject{Compression: algorithm, Length: int64(len(data)), MD5: hex.EncodeToString(sum[:]), Offset: offset},
			n, true, nil
	}
	return storedObject{}, 0, false, nil
}

// storedAs reads the object name, inflating it or not, and says whether it
// reads as exactly want, with the object's stored length. A stored chunk is
// never longer than its data (compression that does not make it smaller is
// not kept), so reading stops past that.
func (d *Chunked) storedAs(ctx context.Context, a Auth, container, name string, want []byte, inflate bool) (int64, bool, error) {
	r, err := d.store.open(ctx, a, container, name)
	if err != nil {
		return 0, false, err
	}
	defer r.Close()
	stored := &countingReader{r: bufio.NewReader(io.LimitReader(r, int64(len(want))+1))}
	var content io.Reader = stored
	if inflate {
		zr, err := zlib.NewReader(stored)
		if err != nil {
			return 0, false, nil
		}
		defer zr.Close()
		content = zr
	}
	w := &matchWriter{want: want}
	if _, err := io.Copy(w, io.LimitReader(content, int64(len(want))+1)); err != nil || w.n != len(want) {
		return 0, false, nil
	}
	// the whole object is the chunk: nothing after the zlib stream, and a
	// compressed one shorter than the data
	if rest, err := io.Copy(io.Discard, stored); err != nil || rest != 0 || stored.n > int64(len(want)) ||
		inflate && stored.n >= int64(len(want)) {
		return 0, false, nil
	}
	return stored.n, true, nil
}

// countingReader counts the bytes taken from it. It is an io.ByteReader, so
// zlib reads through it no further than its stream ends (it would buffer
// ahead of any other reader), and what follows is still there to be found.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// matchWriter accepts what it is written only while it matches want.
type matchWriter struct {
	want []byte
	n    int
}

var errMismatch = errors.New("stored chunk differs")

func (w *matchWriter) Write(p []byte) (int, error) {
	if len(p) > len(w.want)-w.n || !bytes.Equal(p, w.want[w.n:w.n+len(p)]) {
		return 0, errMismatch
	}
	w.n += len(p)
	return len(p), nil
}

// removeUnlisted removes the chunks an interrupted attempt stored that this
// one does not list (the volume changed: an incremental backup's objects
// are numbered differently), so that the backup's objects are exactly those
// its metadata lists.
func (d *Chunked) removeUnlisted(ctx context.Context, a Auth, container string, stored map[string]bool, objects []storedObjects) error {
	if len(stored) == 0 {
		return nil
	}
	listed := map[string]bool{}
	for _, o := range objects {
		for name := range o {
			listed[name] = true
		}
	}
	var errs []error
	for name := range stored {
		if !listed[name] {
			if err := d.store.remove(ctx, a, container, name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
