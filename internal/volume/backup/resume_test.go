package backup

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
)

// countingStore counts the chunk objects put into a store.
type countingStore struct {
	objectStore
	chunkPuts atomic.Int64
}

func (c *countingStore) put(ctx context.Context, a Auth, container, name string, data []byte) error {
	if !strings.HasSuffix(name, "_metadata") && !strings.HasSuffix(name, "_sha256file") {
		c.chunkPuts.Add(1)
	}
	return c.objectStore.put(ctx, a, container, name, data)
}

// stopAfter is a volume whose reads stop the backup (cancel its context, as
// the service stopping does) at the read of chunk n: the pool of buffers then
// holds at most three chunks, so the first is stored by then.
type stopAfter struct {
	memVolume
	chunk int64
	n     int
	reads int
	stop  context.CancelFunc
}

func (v *stopAfter) ReadAt(p []byte, off int64) (int, error) {
	if off%v.chunk == 0 {
		if v.reads++; v.reads == v.n {
			v.stop()
		}
	}
	return v.memVolume.ReadAt(p, off)
}

// TestBackupResumesInterrupted: a backup stopped part way (the service
// stopping, or killed: the objects stay either way) and retried with the
// names saved before it began stores only the chunks the first attempt did
// not; a chunk whose volume data changed in between is stored again; the
// backup restores to the volume as it is at the retry.
func TestBackupResumesInterrupted(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ts := st.make(t, ChunkOptions{ChunkSize: testChunk})
			counter := &countingStore{objectStore: ts.driver.store}
			ts.driver.store = counter
			s := spec(ts, "resumed")
			s.Container, s.Prefix = ts.driver.Names(s)
			vol := volumeData(5, testSize)

			ctx, stop := context.WithCancel(context.Background())
			src := &stopAfter{memVolume: memVolume{b: vol}, chunk: testChunk, n: 4, stop: stop}
			if _, err := ts.driver.Backup(ctx, s, src, testSize, nil); err == nil {
				t.Fatal("the stopped backup succeeded")
			}
			left := chunkObjects(ts.objects(t, s.Container), s.Prefix)
			if len(left) == 0 || len(left) >= 5 {
				t.Fatalf("the stopped backup left chunks %v, want some of 5", left)
			}
			if _, ok := ts.objects(t, s.Container)[metadataName(s.Prefix)]; ok {
				t.Fatal("the stopped backup wrote its metadata")
			}

			// the first chunk's data changes before the retry
			copy(vol[100:], "changed since the interrupted attempt")
			counter.chunkPuts.Store(0)
			r, err := ts.driver.Backup(context.Background(), s, &memVolume{b: vol}, testSize, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantPuts := int64(5 - len(left) + 1)
			if r.ObjectCount != 5 || r.ReusedObjects != len(left)-1 || counter.chunkPuts.Load() != wantPuts {
				t.Errorf("objects %d, reused %d, chunk puts %d; want 5, %d, %d (left %v)",
					r.ObjectCount, r.ReusedObjects, counter.chunkPuts.Load(), len(left)-1, wantPuts, left)
			}
			if got := restore(t, ts, saved(s, r), 0, true); !bytes.Equal(got, vol) {
				t.Error("restore differs from the volume at the retry")
			}
		})
	}
}

// TestReuseChunk: a stored chunk is reused only when its bytes are the
// chunk's, stored as they are or compressed.
func TestReuseChunk(t *testing.T) {
	ts := newDirTestStore(t, ChunkOptions{ChunkSize: testChunk})
	ctx := context.Background()
	s := spec(ts, "reuse")
	container, prefix := ts.driver.Names(s)
	if err := ts.driver.store.createContainer(ctx, s.Auth, container); err != nil {
		t.Fatal(err)
	}
	text := bytes.Repeat([]byte("chunk text "), 3000)
	random := volumeData(12, 64<<10)
	var buf []byte
	_, compressed := compressChunk(text, "zlib", &buf)
	for _, c := range []struct {
		name   string
		stored []byte
		data   []byte
		want   string // "" not reused
	}{
		{"as is", random, random, "none"},
		{"compressed", bytes.Clone(compressed), text, "zlib"},
		{"other data", random, volumeData(13, 64<<10), ""},
		{"truncated", random[:1000], random, ""},
		{"compressed, truncated", bytes.Clone(compressed[:len(compressed)/2]), text, ""},
		{"compressed, other data", bytes.Clone(compressed), append(bytes.Clone(text), 'x'), ""},
		{"longer", append(bytes.Clone(random), 0), random, ""},
		{"compressed, then more", append(bytes.Clone(compressed), "more"...), text, ""},
		{"empty", nil, random, ""},
	} {
		ts.write(t, container, chunkName(prefix, 1), c.stored)
		o, n, reused, err := ts.driver.reuseChunk(ctx, s.Auth, container, chunkName(prefix, 1), 0, c.data)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if reused != (c.want != "") || (reused && (o.Compression != c.want || n != int64(len(c.stored)) || o.Length != int64(len(c.data)))) {
			t.Errorf("%s: reused %v as %+v (%d bytes), want %q", c.name, reused, o, n, c.want)
		}
	}
	if _, _, reused, err := ts.driver.reuseChunk(ctx, s.Auth, container, chunkName(prefix, 2), 0, text); reused || err != nil {
		t.Errorf("a missing chunk: reused %v, %v", reused, err)
	}
}
