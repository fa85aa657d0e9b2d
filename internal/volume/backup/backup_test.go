package backup

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"
	"time"
)

const (
	testChunk = 256 << 10
	// testSize ends in a partial block and a partial chunk
	testSize = 4*testChunk + 3*DefaultBlockSize + 1234
)

// volumeData is a volume's worth of data as a guest leaves it: random
// blocks, text, and runs of zeros.
func volumeData(seed uint64, size int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, size)
	for off := 0; off < size; off += 64 << 10 {
		end := min(off+64<<10, size)
		switch (off >> 16) % 3 {
		case 0:
			for i := off; i < end; i++ {
				b[i] = byte(rng.Uint32())
			}
		case 1:
			copy(b[off:end], bytes.Repeat([]byte("volume backup text "), (end-off)/19+1))
		}
	}
	return b
}

func spec(ts testStore, id string) Spec {
	return Spec{ID: id, VolumeID: "vol-1", AvailabilityZone: "nova", Name: "b " + id, Description: "test",
		CreatedAt: time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC), Auth: ts.auth}
}

// saved is the Spec the API would keep for a backup it took.
func saved(s Spec, r Result) Spec {
	s.Container, s.Prefix = r.Container, r.Prefix
	return s
}

func restore(t *testing.T, ts testStore, s Spec, fill byte, isNew bool) []byte {
	t.Helper()
	dst := &memVolume{b: bytes.Repeat([]byte{fill}, testSize)}
	var last, total int64
	err := ts.driver.Restore(context.Background(), s, dst, testSize, RestoreOptions{VolumeIsNew: isNew,
		Progress: func(done, all int64) { last, total = done, all }})
	if err != nil {
		t.Fatalf("restore %s: %v", s.ID, err)
	}
	if last != total || total == 0 {
		t.Errorf("restore progress ended at %d of %d", last, total)
	}
	return dst.b
}

// TestBackupFullAndIncremental: a full backup stores every chunk; an
// incremental one only the runs of blocks that changed; restores of both
// chains give the volume back byte for byte, into a new volume (zeros) and
// over an old one (junk); delete leaves nothing.
func TestBackupFullAndIncremental(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ts := st.make(t, ChunkOptions{ChunkSize: testChunk})
			ctx := context.Background()
			vol := volumeData(1, testSize)
			var reported []int64
			full, err := ts.driver.Backup(ctx, spec(ts, "full-1"), &memVolume{b: vol}, testSize,
				func(done int64) { reported = append(reported, done) })
			if err != nil {
				t.Fatal(err)
			}
			if full.ObjectCount != 5 || full.SizeGB != 1 || full.Incremental || full.ChangedBytes != testSize {
				t.Errorf("full backup: %+v", full)
			}
			if !slices.IsSorted(reported) || len(reported) != 5 || reported[4] != testSize {
				t.Errorf("progress: %v", reported)
			}
			objects := ts.objects(t, full.Container)
			chunks := chunkObjects(objects, full.Prefix)
			var stored int64
			for _, n := range chunks {
				stored += n
			}
			if len(chunks) != 5 || len(objects) != 7 || stored != full.StoredBytes || stored >= testSize {
				t.Errorf("full backup stored %v (%d bytes of %d), result %+v", objects, stored, int64(testSize), full)
			}

			// change two adjacent blocks in chunk 2, one in chunk 4, zero a
			// random block in chunk 1 and change the partial last block
			changed := slices.Clone(vol)
			for i := 2*testChunk + DefaultBlockSize; i < 2*testChunk+3*DefaultBlockSize; i++ {
				changed[i] ^= 0x5a
			}
			changed[4*testChunk+10]++
			clear(changed[0 : DefaultBlockSize-1])
			changed[testSize-1]++
			incr, err := ts.driver.Backup(ctx, Spec{ID: "incr-1", VolumeID: "vol-1", AvailabilityZone: "nova",
				Parent: new(saved(spec(ts, "full-1"), full)), Auth: ts.auth}, &memVolume{b: changed}, testSize, nil)
			if err != nil {
				t.Fatal(err)
			}
			// the blocks changed: [0], [2 chunks + 1, +2] (one run), the
			// first block of chunk 4 and the last block, in chunk 4 too
			wantChanged := int64(4*DefaultBlockSize + (testSize-4*testChunk)%DefaultBlockSize)
			if incr.ObjectCount != 4 || !incr.Incremental || incr.ChangedBytes != wantChanged {
				t.Errorf("incremental backup: %+v, want 4 objects of %d bytes", incr, wantChanged)
			}
			if got := chunkObjects(ts.objects(t, incr.Container), incr.Prefix); len(got) != 4 {
				t.Errorf("incremental backup stored %v", got)
			}

			for _, isNew := range []bool{true, false} {
				if got := restore(t, ts, saved(spec(ts, "full-1"), full), 0xee, isNew); !bytes.Equal(got, vol) && !isNew {
					t.Errorf("full restore over junk differs")
				}
				if got := restore(t, ts, saved(spec(ts, "full-1"), full), 0, isNew); !bytes.Equal(got, vol) {
					t.Errorf("full restore (new %v) differs", isNew)
				}
				chain := saved(spec(ts, "incr-1"), incr)
				chain.Parent = new(saved(spec(ts, "full-1"), full))
				if got := restore(t, ts, chain, 0, isNew); !bytes.Equal(got, changed) {
					t.Errorf("incremental chain restore (new %v) differs", isNew)
				}
			}

			// the incremental backup goes; its parent stays restorable
			chain := saved(spec(ts, "incr-1"), incr)
			chain.Parent = new(saved(spec(ts, "full-1"), full))
			if err := ts.driver.Delete(ctx, chain); err != nil {
				t.Fatal(err)
			}
			if objects := ts.objects(t, incr.Container); len(chunkObjects(objects, incr.Prefix)) != 0 || !allUnder(objects, full.Prefix) {
				t.Errorf("after deleting the incremental backup: %v", objects)
			}
			if err := ts.driver.Restore(ctx, chain, &memVolume{b: make([]byte, testSize)}, testSize, RestoreOptions{}); !errors.Is(err, ErrNotFound) {
				t.Errorf("restore of a deleted backup: %v", err)
			}
			if got := restore(t, ts, saved(spec(ts, "full-1"), full), 0, true); !bytes.Equal(got, vol) {
				t.Errorf("full restore after the incremental's delete differs")
			}
			for range 2 {
				if err := ts.driver.Delete(ctx, saved(spec(ts, "full-1"), full)); err != nil {
					t.Fatal(err)
				}
			}
			if objects := ts.objects(t, full.Container); len(objects) != 0 {
				t.Errorf("after delete: %v", objects)
			}
		})
	}
}

// TestBackupLayout: names, metadata and sha256file as upstream's drivers
// write them, so an operator (and upstream's restore) finds their way.
func TestBackupLayout(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ts := st.make(t, ChunkOptions{ChunkSize: testChunk})
			vol := volumeData(2, testSize)
			r, err := ts.driver.Backup(context.Background(), spec(ts, "0123abcd-b"), &memVolume{b: vol}, testSize, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][2]string{
				// container, prefix
				"directory":   {"01/23/0123abcd-b", `^volume_vol-1_\d{14}_backup_0123abcd-b$`},
				"objectstore": {"volumebackups", `^volume_vol-1/\d{14}/az_nova_backup_0123abcd-b$`},
			}[ts.name]
			if r.Container != want[0] || !regexp.MustCompile(want[1]).MatchString(r.Prefix) {
				t.Errorf("container %q prefix %q, want %v", r.Container, r.Prefix, want)
			}
			var meta map[string]any
			if err := json.Unmarshal(ts.read(t, r.Container, r.Prefix+"_metadata"), &meta); err != nil {
				t.Fatal(err)
			}
			if meta["version"] != "1.0.0" || meta["backup_id"] != "0123abcd-b" || meta["volume_id"] != "vol-1" ||
				meta["parent_id"] != nil || meta["backup_name"] != "b 0123abcd-b" || meta["created_at"] != "2026-12-07 21:00:00+00:00" {
				t.Errorf("metadata: %v", meta)
			}
			objects, _ := meta["objects"].([]any)
			if len(objects) != 5 {
				t.Fatalf("metadata objects: %v", meta["objects"])
			}
			for i, o := range objects {
				name := chunkName(r.Prefix, i+1)
				entry, _ := o.(map[string]any)[name].(map[string]any)
				offset, length := i*testChunk, min(testChunk, testSize-i*testChunk)
				sum := md5.Sum(vol[offset : offset+length])
				if entry["offset"] != float64(offset) || entry["length"] != float64(length) ||
					entry["md5"] != hex.EncodeToString(sum[:]) || entry["compression"] != "zlib" {
					t.Errorf("object %d: %v", i, o)
				}
				// a chunk is a zlib stream, as Python's zlib.compress writes
				zr, err := zlib.NewReader(bytes.NewReader(ts.read(t, r.Container, name)))
				if err != nil {
					t.Fatal(err)
				}
				var data bytes.Buffer
				if _, err := data.ReadFrom(zr); err != nil || !bytes.Equal(data.Bytes(), vol[offset:offset+length]) {
					t.Errorf("chunk %s: %v", name, err)
				}
			}
			var shaFile sha256File
			if err := json.Unmarshal(ts.read(t, r.Container, r.Prefix+"_sha256file"), &shaFile); err != nil {
				t.Fatal(err)
			}
			if shaFile.ChunkSize != 32768 || len(shaFile.SHA256s) != (testSize+32767)/32768 || shaFile.BackupID != "0123abcd-b" {
				t.Errorf("sha256file: chunk_size %d, %d sha256s", shaFile.ChunkSize, len(shaFile.SHA256s))
			}
		})
	}
}

// TestBackupUncompressed: with compression "none" the chunks are the data.
func TestBackupUncompressed(t *testing.T) {
	ts := newDirTestStore(t, ChunkOptions{ChunkSize: testChunk, Compression: "none"})
	vol := volumeData(3, testSize)
	r, err := ts.driver.Backup(context.Background(), spec(ts, "plain"), &memVolume{b: vol}, testSize, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.StoredBytes != testSize || !bytes.Equal(ts.read(t, r.Container, chunkName(r.Prefix, 2)), vol[testChunk:2*testChunk]) {
		t.Errorf("stored %d bytes; chunk 2 is not the data", r.StoredBytes)
	}
	if got := restore(t, ts, saved(spec(ts, "plain"), r), 1, false); !bytes.Equal(got, vol) {
		t.Error("restore differs")
	}
	if _, err := NewDirectory(t.TempDir(), ChunkOptions{Compression: "zstd"}); err == nil {
		t.Error("zstd accepted")
	}
	if _, err := NewDirectory(t.TempDir(), ChunkOptions{ChunkSize: 100000}); err == nil {
		t.Error("a chunk size that is not a multiple of the block size accepted")
	}
}

// TestBackupRetryReplacesLeftovers: a backup retried with the prefix it
// started with replaces what the interrupted attempt stored.
func TestBackupRetryReplacesLeftovers(t *testing.T) {
	ts := newDirTestStore(t, ChunkOptions{ChunkSize: testChunk})
	s := spec(ts, "retried")
	s.Prefix = ts.driver.NewPrefix(s)
	s.Container = ts.driver.container(s)
	if err := ts.driver.store.createContainer(context.Background(), s.Auth, s.Container); err != nil {
		t.Fatal(err)
	}
	ts.write(t, s.Container, chunkName(s.Prefix, 9), []byte("left by a crash"))
	vol := volumeData(4, testSize)
	r, err := ts.driver.Backup(context.Background(), s, &memVolume{b: vol}, testSize, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Prefix != s.Prefix || len(ts.objects(t, r.Container)) != 7 {
		t.Errorf("prefix %q, objects %v", r.Prefix, ts.objects(t, r.Container))
	}
	if got := restore(t, ts, saved(s, r), 0, true); !bytes.Equal(got, vol) {
		t.Error("restore differs")
	}
}

// TestCompressChunk: a chunk compression does not make smaller is stored as
// it is ("none"), also when the worker's buffer is larger than the chunk.
func TestCompressChunk(t *testing.T) {
	random := volumeData(11, 64<<10) // the first 64 KiB are random
	text := bytes.Repeat([]byte("text "), 1000)
	buf := make([]byte, 0, 1<<20)
	for _, c := range []struct {
		data []byte
		want string
	}{{random, "none"}, {text, "zlib"}, {random[:100], "none"}, {text[:100], "zlib"}} {
		algorithm, out := compressChunk(c.data, "zlib", &buf)
		if algorithm != c.want || (algorithm == "none" && !bytes.Equal(out, c.data)) || len(out) > len(c.data) {
			t.Errorf("%d bytes: %s, %d bytes", len(c.data), algorithm, len(out))
		}
	}
}
