package backup

import (
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"compress/zlib"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// maxChain bounds the incremental backups a restore follows.
const maxChain = 1000

// minListBlock is the smallest block size the bounds on the metadata objects a
// restore reads assume (upstream's is 32 KiB; a sha256file with smaller
// blocks is read if it fits).
const minListBlock = 4096

// writePiece is how much of a chunk a restore verifies and writes at a time,
// and the runs of zeros it does not write into a new volume (upstream's
// _write_nonzero, 1 MiB).
const writePiece = 1 << 20

// layer is one backup of a restore's chain, read and checked.
type layer struct {
	spec      Spec
	chunks    []chunk
	sums      [][32]byte
	blockSize int64
}

// Restore is upstream's ChunkedBackupDriver.restore: the chain of backups
// from the full one up, each one's chunks written where its metadata says.
// Every metadata object and sha256file of the chain is read and checked
// before anything is written (the object list against the store's, the
// chunks inside size); then each piece of a chunk is checked against the
// sha256s of its blocks before it is written, and its md5 at its end, so a
// corrupted chunk fails the restore (upstream checks neither) and what it
// held is not written.
func (d *Chunked) Restore(ctx context.Context, s Spec, dst io.WriterAt, size int64, o RestoreOptions) error {
	if size <= 0 {
		return fmt.Errorf("%w: volume size %d is invalid", ErrInvalidBackup, size)
	}
	var chain []Spec
	seen := map[string]bool{}
	for p := &s; p != nil; p = p.Parent {
		if seen[p.ID] || len(chain) >= maxChain {
			return fmt.Errorf("%w: the chain of backups above %s loops or is too long", ErrInvalidBackup, p.ID)
		}
		seen[p.ID] = true
		if p.ID == "" || p.Container == "" || p.Prefix == "" {
			return fmt.Errorf("%w: backup %q has no stored objects", ErrInvalidBackup, p.ID)
		}
		if err := d.store.checkNames(p.Container, p.Prefix); err != nil {
			return err
		}
		chain = append(chain, *p)
	}
	slices.Reverse(chain)

	layers := make([]layer, len(chain))
	var total int64
	for i, b := range chain {
		var parent *Spec
		if i > 0 {
			parent = &chain[i-1]
		}
		l, err := d.readLayer(ctx, s.Auth, b, parent, size)
		if err != nil {
			return err
		}
		for _, c := range l.chunks {
			total += c.length
		}
		layers[i] = l
	}

	var mu sync.Mutex
	var done int64
	for i, l := range layers {
		// Zeros are skipped only in the full backup: an incremental one's
		// zeros cover what the layers below wrote (upstream skips them in
		// every layer of a new volume, and so restores such blocks wrong).
		skipZeros := o.VolumeIsNew && i == 0
		err := d.restoreLayer(ctx, s.Auth, l, dst, skipZeros, func(n int64) {
			mu.Lock()
			defer mu.Unlock()
			done += n
			if o.Progress != nil {
				o.Progress(done, total)
			}
		})
		if err != nil {
			return fmt.Errorf("backup %s: %w", l.spec.ID, err)
		}
	}
	return nil
}

// restoreWorkers restore a layer's chunks side by side. Their order within
// a layer does not matter: each byte written is checked against the layer's
// sha256 of its block, so chunks that overlap (which upstream never
// writes) write the same data.
const restoreWorkers = 2

// restoreLayer restores the chunks of one backup of the chain.
func (d *Chunked) restoreLayer(ctx context.Context, a Auth, l layer, dst io.WriterAt, skipZeros bool, progress func(int64)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan chunk)
	var wg sync.WaitGroup
	for range restoreWorkers {
		wg.Go(func() {
			for c := range next {
				if err := d.restoreChunk(ctx, a, l, c, dst, skipZeros, progress); err != nil {
					cancel(err)
				}
			}
		})
	}
	for _, c := range l.chunks {
		select {
		case next <- c:
			continue
		case <-ctx.Done():
		}
		break
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// readLayer reads and checks the metadata and the sha256file of backup b,
// whose parent in the chain is parent (nil for the full backup).
func (d *Chunked) readLayer(ctx context.Context, a Auth, b Spec, parent *Spec, size int64) (layer, error) {
	data, err := d.readSmall(ctx, a, b.Container, metadataName(b.Prefix), listLimit(size, minListBlock))
	if err != nil {
		return layer{}, fmt.Errorf("backup %s: %w", b.ID, err)
	}
	m, chunks, err := parseMetadata(data, b.Prefix)
	if err != nil {
		return layer{}, fmt.Errorf("backup %s: %w", b.ID, err)
	}
	if m.BackupID != b.ID || (b.VolumeID != "" && m.VolumeID != b.VolumeID) {
		return layer{}, fmt.Errorf("%w: %s is backup %q of volume %q, not %s of %s", ErrInvalidBackup,
			metadataName(b.Prefix), m.BackupID, m.VolumeID, b.ID, b.VolumeID)
	}
	storedParent := ""
	if m.ParentID != nil {
		storedParent = *m.ParentID
	}
	switch {
	case parent == nil && storedParent != "":
		return layer{}, fmt.Errorf("%w: backup %s is incremental over %s, which the restore was not given", ErrInvalidBackup, b.ID, storedParent)
	case parent != nil && storedParent != parent.ID:
		return layer{}, fmt.Errorf("%w: backup %s is over %q, not %s", ErrInvalidBackup, b.ID, storedParent, parent.ID)
	}
	f, sums, err := d.readSHA256s(ctx, a, b, size, minListBlock)
	if err != nil {
		return layer{}, err
	}
	for _, c := range chunks {
		if c.offset > size-c.length {
			return layer{}, fmt.Errorf("%w: backup %s holds data up to %d bytes, more than the volume's %d",
				ErrInvalidBackup, b.ID, c.offset+c.length, size)
		}
		if c.offset%f.ChunkSize != 0 || (c.offset+c.length-1)/f.ChunkSize >= int64(len(sums)) {
			return layer{}, fmt.Errorf("%w: backup %s: object %s does not match the blocks of its sha256file", ErrInvalidBackup, b.ID, c.name)
		}
	}
	// as upstream's _restore_v1: the store holds the chunks the metadata
	// lists, no fewer and no more. A chunk the listing misses is looked up
	// before it is called missing: an object store's listing may lag its
	// objects (a container replica not yet updated).
	names, err := d.store.list(ctx, a, b.Container, b.Prefix)
	if err != nil {
		return layer{}, err
	}
	listed := map[string]bool{}
	for _, n := range names {
		if isChunkName(n, b.Prefix) {
			listed[n] = true
		}
	}
	for _, c := range chunks {
		if listed[c.name] {
			delete(listed, c.name)
			continue
		}
		r, err := d.store.open(ctx, a, b.Container, c.name)
		if err != nil {
			return layer{}, fmt.Errorf("backup %s: %w", b.ID, err)
		}
		r.Close()
	}
	if len(listed) > 0 {
		return layer{}, fmt.Errorf("%w: backup %s: the store holds %d chunk objects its metadata does not list",
			ErrInvalidBackup, b.ID, len(listed))
	}
	return layer{spec: b, chunks: chunks, sums: sums, blockSize: f.ChunkSize}, nil
}

// restoreChunk reads chunk c of layer l and writes it into dst a piece at a
// time, each piece's blocks checked against their sha256s first.
func (d *Chunked) restoreChunk(ctx context.Context, a Auth, l layer, c chunk, dst io.WriterAt, skipZeros bool, progress func(int64)) error {
	r, err := d.store.open(ctx, a, l.spec.Container, c.name)
	if err != nil {
		return err
	}
	defer r.Close()
	body := io.Reader(r)
	if dec, _ := decompressorFor(c.compression); dec != nil {
		if body, err = dec(r); err != nil {
			return chunkError(c, err)
		}
	}
	pieceSize := max(writePiece/l.blockSize, 1) * l.blockSize
	buf := make([]byte, min(pieceSize, c.length))
	sum := md5.New()
	block := c.offset / l.blockSize
	for off, end := c.offset, c.offset+c.length; off < end; {
		if err := ctx.Err(); err != nil {
			return err
		}
		piece := buf[:min(int64(len(buf)), end-off)]
		if _, err := io.ReadFull(body, piece); err != nil {
			return chunkError(c, err)
		}
		sum.Write(piece)
		for start := int64(0); start < int64(len(piece)); start += l.blockSize {
			if sha256.Sum256(piece[start:min(start+l.blockSize, int64(len(piece)))]) != l.sums[block] {
				return fmt.Errorf("%w: object %s: block %d does not match its sha256", ErrInvalidBackup, c.name, block)
			}
			block++
		}
		if err := writeAt(dst, piece, off, skipZeros); err != nil {
			return err
		}
		off += int64(len(piece))
		progress(int64(len(piece)))
	}
	// the chunk must end here: more data is not the chunk recorded, and a
	// compressed stream is checked (zlib's adler32) only at its end
	var extra [1]byte
	if n, err := io.ReadFull(body, extra[:]); n > 0 {
		return fmt.Errorf("%w: object %s holds more than its length %d", ErrInvalidBackup, c.name, c.length)
	} else if err != io.EOF {
		return chunkError(c, err)
	}
	if !bytes.Equal(sum.Sum(nil), c.md5[:]) {
		return fmt.Errorf("%w: object %s does not match its md5", ErrInvalidBackup, c.name)
	}
	return nil
}

// writeAt writes p at off; with skipZeros, its runs of zeros of writePiece
// (and the zeros at its end) are left unwritten.
func writeAt(dst io.WriterAt, p []byte, off int64, skipZeros bool) error {
	if !skipZeros {
		_, err := dst.WriteAt(p, off)
		return err
	}
	for start := 0; start < len(p); start += writePiece {
		piece := p[start:min(start+writePiece, len(p))]
		if isZero(piece) {
			continue
		}
		if _, err := dst.WriteAt(piece, off+int64(start)); err != nil {
			return err
		}
	}
	return nil
}

var zeros = make([]byte, writePiece)

func isZero(p []byte) bool { return bytes.Equal(p, zeros[:len(p)]) }

// chunkError tells a chunk that is not what it should be (short, or a
// compressed stream that does not decode) from a failure to read it.
func chunkError(c chunk, err error) error {
	var corrupt flate.CorruptInputError
	var structural bzip2.StructuralError
	var internal flate.InternalError
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, zlib.ErrChecksum) ||
		errors.Is(err, zlib.ErrHeader) || errors.Is(err, zlib.ErrDictionary) || errors.As(err, &corrupt) ||
		errors.As(err, &structural) || errors.As(err, &internal) {
		return fmt.Errorf("%w: object %s: %v", ErrInvalidBackup, c.name, err)
	}
	return fmt.Errorf("backup: reading object %s: %w", c.name, err)
}
