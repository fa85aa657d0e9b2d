package backup

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
)

// extent is a run of a chunk's data to store as one object.
type extent struct {
	number int // the object's number, from 1
	start  int // in the chunk's data
	end    int
}

// chunkJob is a chunk read from the volume and the extents of it to store;
// its buffer goes back to the pool when they are stored.
type chunkJob struct {
	offset  int64
	data    []byte
	extents []extent
}

// Backup is upstream's ChunkedBackupDriver.backup: the volume read a chunk at
// a time, the sha256 of each block of it recorded, and the chunk (for an
// incremental backup: each run of blocks whose sha256 differs from the
// parent's) compressed and stored as the next object. The sha256file and then
// the metadata object are written last, so a backup interrupted before has no
// metadata and no restore reads it. Its objects are deleted on failure; not
// when ctx was cancelled (the service stopping) or the process died: a retry
// with the same prefix (Names, saved before) resumes from the chunks stored,
// reusing each that holds what the volume holds now (resumeChunks).
func (d *Chunked) Backup(ctx context.Context, s Spec, src io.ReaderAt, size int64, progress func(done int64)) (Result, error) {
	if s.ID == "" || s.VolumeID == "" {
		return Result{}, fmt.Errorf("%w: a backup needs its id and its volume's", ErrInvalidBackup)
	}
	if size <= 0 {
		return Result{}, fmt.Errorf("%w: volume size %d is invalid", ErrInvalidBackup, size)
	}
	blocks := int((size + d.blockSize - 1) / d.blockSize)
	var parentSums [][32]byte
	var parentID *string
	if s.Parent != nil {
		p := *s.Parent
		if p.ID == "" || p.Container == "" || p.Prefix == "" {
			return Result{}, fmt.Errorf("%w: the parent backup has no stored objects", ErrInvalidBackup)
		}
		if err := d.store.checkNames(p.Container, p.Prefix); err != nil {
			return Result{}, err
		}
		f, sums, err := d.readSHA256s(ctx, s.Auth, p, size, d.blockSize)
		if err != nil {
			return Result{}, fmt.Errorf("parent %w", err)
		}
		if f.VolumeID != s.VolumeID {
			// upstream's API takes the parent from the volume's own backups
			return Result{}, fmt.Errorf("%w: the parent backup %s is of volume %q, not %s", ErrInvalidBackup, p.ID, f.VolumeID, s.VolumeID)
		}
		if f.ChunkSize != d.blockSize {
			return Result{}, fmt.Errorf("%w: hash block size has changed since the last backup. New hash block size: %d. Old hash block size: %d. Do a full backup",
				ErrInvalidBackup, d.blockSize, f.ChunkSize)
		}
		if blocks > len(sums) {
			return Result{}, fmt.Errorf("%w: volume size increased since the last backup. Do a full backup", ErrInvalidBackup)
		}
		parentSums, parentID = sums, &p.ID
	}

	container := d.container(s)
	prefix := s.Prefix
	if prefix == "" {
		prefix = d.NewPrefix(s)
	}
	if err := d.store.checkNames(container, prefix); err != nil {
		return Result{}, err
	}
	named := s
	named.Container, named.Prefix = container, prefix
	var stored map[string]bool
	if s.Prefix != "" {
		// a retry: the chunks an interrupted attempt stored are candidates
		// for reuse; the rest of what it stored is replaced or removed
		var err error
		if stored, err = d.storedChunks(ctx, s.Auth, container, prefix); err != nil {
			return Result{}, err
		}
	}
	if err := d.store.createContainer(ctx, s.Auth, container); err != nil {
		return Result{}, err
	}

	res, sums, objects, err := d.storeChunks(ctx, s.Auth, container, prefix, src, size, parentSums, stored, progress)
	if err == nil {
		err = d.removeUnlisted(ctx, s.Auth, container, stored, objects)
	}
	if err == nil {
		err = d.writeSummary(ctx, named, parentID, sums, objects)
	}
	if err != nil {
		if ctx.Err() != nil && s.Prefix != "" {
			// stopped, not failed: the caller's row still says creating, and
			// its next attempt resumes from what is stored
			return Result{}, err
		}
		if derr := d.Delete(context.WithoutCancel(ctx), named); derr != nil {
			err = fmt.Errorf("%w (and its objects are left: %v)", err, derr)
		}
		return Result{}, err
	}
	res.SizeGB = (size + 1<<30 - 1) >> 30
	res.Container, res.Prefix, res.Incremental = container, prefix, s.Parent != nil
	return res, nil
}

// storeChunks reads the volume and stores its chunks, compressing and
// uploading on workers while the next chunk is read and hashed. The first
// failure stops the reading and the next uploads, not those under way: a
// PUT cut off may still land in the store after the cleanup listed it.
func (d *Chunked) storeChunks(ctx context.Context, a Auth, container, prefix string, src io.ReaderAt, size int64,
	parentSums [][32]byte, reusable map[string]bool, progress func(int64)) (Result, []string, []storedObjects, error) {
	stopped, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	const workers = 2
	pool := make(chan []byte, workers+1)
	for range cap(pool) {
		pool <- nil
	}
	jobs := make(chan chunkJob)

	var mu sync.Mutex
	var res Result
	stored := map[int]storedObject{}
	var done int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var buf []byte
			for job := range jobs {
				for _, e := range job.extents {
					if stopped.Err() != nil {
						break
					}
					data := job.data[e.start:e.end]
					name, offset := chunkName(prefix, e.number), job.offset+int64(e.start)
					var o storedObject
					var n int64
					reused := false
					var err error
					if reusable[name] {
						o, n, reused, err = d.reuseChunk(ctx, a, container, name, offset, data)
					}
					if err == nil && !reused {
						o, n, err = d.storeChunk(ctx, a, container, name, offset, data, &buf)
					}
					if err != nil {
						stop(err)
						break
					}
					mu.Lock()
					stored[e.number] = o
					res.StoredBytes += n
					res.ChangedBytes += int64(len(data))
					if reused {
						res.ReusedObjects++
					}
					mu.Unlock()
				}
				mu.Lock()
				done += int64(len(job.data))
				if progress != nil && stopped.Err() == nil {
					progress(done)
				}
				mu.Unlock()
				pool <- job.data
			}
		})
	}

	sums := make([]string, 0, (size+d.blockSize-1)/d.blockSize)
	number := 0
	err := func() error {
		defer close(jobs)
		for offset := int64(0); offset < size; offset += d.chunkSize {
			var buf []byte
			select {
			case buf = <-pool:
			case <-stopped.Done():
				return context.Cause(stopped)
			}
			n := min(d.chunkSize, size-offset)
			if int64(cap(buf)) < n {
				buf = make([]byte, d.chunkSize)
			}
			data := buf[:n]
			if k, err := src.ReadAt(data, offset); k < len(data) {
				pool <- buf
				return fmt.Errorf("backup: reading the volume at %d: %w", offset+int64(k), err)
			}
			job := chunkJob{offset: offset, data: data}
			first := len(sums) // the chunk's first block
			changedFrom := -1  // start of a run of changed blocks, in the chunk
			for start := 0; start < len(data); start += int(d.blockSize) {
				end := min(start+int(d.blockSize), len(data))
				sum := sha256.Sum256(data[start:end])
				sums = append(sums, hex.EncodeToString(sum[:]))
				changed := parentSums == nil || parentSums[first+start/int(d.blockSize)] != sum
				switch {
				case changed && changedFrom < 0:
					changedFrom = start
				case !changed && changedFrom >= 0:
					number++
					job.extents = append(job.extents, extent{number: number, start: changedFrom, end: start})
					changedFrom = -1
				}
			}
			if changedFrom >= 0 {
				number++
				job.extents = append(job.extents, extent{number: number, start: changedFrom, end: len(data)})
			}
			select {
			case jobs <- job:
			case <-stopped.Done():
				pool <- buf
				return context.Cause(stopped)
			}
		}
		return nil
	}()
	wg.Wait()
	if err == nil {
		err = context.Cause(stopped)
	}
	if err != nil {
		return Result{}, nil, nil, err
	}
	objects := make([]storedObjects, 0, len(stored))
	for _, n := range slices.Sorted(maps.Keys(stored)) {
		objects = append(objects, storedObjects{chunkName(prefix, n): stored[n]})
	}
	res.ObjectCount = len(objects)
	return res, sums, objects, nil
}

// storeChunk is upstream's _backup_chunk: data compressed (when that makes it
// smaller) and stored as name, its md5 (of the data before compression)
// recorded. It returns the bytes stored.
func (d *Chunked) storeChunk(ctx context.Context, a Auth, container, name string, offset int64, data []byte, buf *[]byte) (storedObject, int64, error) {
	algorithm, out := CompressionNone, data
	if d.compress {
		algorithm, out = compressChunk(data, d.compression, buf)
	}
	if err := d.store.put(ctx, a, container, name, out); err != nil {
		return storedObject{}, 0, err
	}
	sum := md5.Sum(data)
	return storedObject{Compression: algorithm, Length: int64(len(data)), MD5: hex.EncodeToString(sum[:]), Offset: offset}, int64(len(out)), nil
}

// writeSummary writes the sha256file, then the metadata object, as upstream's
// _finalize_backup: the metadata is what makes the backup restorable.
func (d *Chunked) writeSummary(ctx context.Context, s Spec, parentID *string, sums []string, objects []storedObjects) error {
	created := pythonTime(s.CreatedAt)
	shaFile, err := json.MarshalIndent(sha256File{BackupDescription: nullable(s.Description), BackupID: s.ID, BackupName: nullable(s.Name),
		ChunkSize: d.blockSize, CreatedAt: created, SHA256s: sums, Version: driverVersion, VolumeID: s.VolumeID}, "", "  ")
	if err != nil {
		return err
	}
	if err := d.store.put(ctx, s.Auth, s.Container, sha256FileName(s.Prefix), shaFile); err != nil {
		return err
	}
	meta, err := json.MarshalIndent(metadata{BackupDescription: nullable(s.Description), BackupID: s.ID, BackupName: nullable(s.Name),
		CreatedAt: created, Objects: objects, ParentID: parentID, Version: driverVersion, VolumeID: s.VolumeID,
		VolumeMeta: json.RawMessage("null")}, "", "  ")
	if err != nil {
		return err
	}
	return d.store.put(ctx, s.Auth, s.Container, metadataName(s.Prefix), meta)
}
