package backup

import (
	"bytes"
	"compress/zlib"
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
)

// countingStore records the chunk objects put into a store.
type countingStore struct {
	objectStore
	mu   sync.Mutex
	puts []string
}

func (c *countingStore) put(ctx context.Context, a Auth, container, name string, data []byte) error {
	if !strings.HasSuffix(name, "_metadata") && !strings.HasSuffix(name, "_sha256file") {
		c.mu.Lock()
		c.puts = append(c.puts, name)
		c.mu.Unlock()
	}
	return c.objectStore.put(ctx, a, container, name, data)
}

func (c *countingStore) chunkPuts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.puts)
}

// stopAfter is a volume whose reads stop the backup (cancel its context, as
// the service stopping does) at the read of chunk n: the pool of buffers
// holds three chunks, so n-3 chunks are stored by then.
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
			src := &stopAfter{memVolume: memVolume{b: vol}, chunk: testChunk, n: 5, stop: stop}
			if _, err := ts.driver.Backup(ctx, s, src, testSize, nil); err == nil {
				t.Fatal("the stopped backup succeeded")
			}
			left := chunkObjects(ts.objects(t, s.Container), s.Prefix)
			if len(left) < 2 || len(left) >= 5 {
				t.Fatalf("the stopped backup left chunks %v, want 2 to 4 of 5", left)
			}
			if _, ok := ts.objects(t, s.Container)[metadataName(s.Prefix)]; ok {
				t.Fatal("the stopped backup wrote its metadata")
			}

			// the first chunk's data changes before the retry
			copy(vol[100:], "changed since the interrupted attempt")
			before := len(counter.chunkPuts())
			r, err := ts.driver.Backup(context.Background(), s, &memVolume{b: vol}, testSize, nil)
			if err != nil {
				t.Fatal(err)
			}
			// a PUT the stop cut off may still land after the listing above
			// (the object store): it is reused too, so left is a lower bound
			puts := counter.chunkPuts()[before:]
			first := chunkName(s.Prefix, 1)
			if r.ObjectCount != 5 || r.ReusedObjects+len(puts) != 5 || !slices.Contains(puts, first) {
				t.Errorf("objects %d, reused %d, stored again %v: want 5 objects, each stored or reused, %s (changed) stored",
					r.ObjectCount, r.ReusedObjects, puts, first)
			}
			for name := range left {
				if name != first && slices.Contains(puts, name) {
					t.Errorf("chunk %s, stored before the stop, was stored again", name)
				}
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

// FuzzReuseChunk: whatever a store holds under a chunk's name, a resumed
// backup reuses it only when it is the chunk, as it is or compressed, and
// never fails or panics on it.
func FuzzReuseChunk(f *testing.F) {
	text := bytes.Repeat([]byte("fuzzed chunk "), 500)
	var buf []byte
	_, compressed := compressChunk(text, "zlib", &buf)
	f.Add(bytes.Clone(compressed))
	f.Add(bytes.Clone(text))
	f.Add([]byte{0x78, 0x9c})
	ts := newDirTestStore(f, ChunkOptions{ChunkSize: testChunk})
	ctx := context.Background()
	s := spec(ts, "fuzz")
	container, prefix := ts.driver.Names(s)
	if err := ts.driver.store.createContainer(ctx, s.Auth, container); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, stored []byte) {
		ts.write(t, container, chunkName(prefix, 1), stored)
		o, _, reused, err := ts.driver.reuseChunk(ctx, s.Auth, container, chunkName(prefix, 1), 0, text)
		if err != nil {
			t.Fatal(err)
		}
		if !reused {
			return
		}
		got := stored
		if o.Compression != CompressionNone {
			zr, err := zlib.NewReader(bytes.NewReader(stored))
			if err != nil {
				t.Fatalf("reused as %s: %v", o.Compression, err)
			}
			if got, err = io.ReadAll(zr); err != nil {
				t.Fatalf("reused as %s: %v", o.Compression, err)
			}
		}
		if !bytes.Equal(got, text) {
			t.Fatalf("reused %d bytes as %s that are not the chunk", len(stored), o.Compression)
		}
	})
}
