package backup

import (
	"bytes"
	"cmp"
	"compress/zlib"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestoreDetectsCorruption: a chunk that is not what the backup stored
// (other data, a flipped byte, cut short, longer, an extra one, one gone) or
// metadata that lies fails the restore with ErrInvalidBackup or ErrNotFound,
// and the damaged chunk's data is not written.
func TestRestoreDetectsCorruption(t *testing.T) {
	compress := func(b []byte) []byte {
		var buf bytes.Buffer
		w := zlib.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	cases := []struct {
		name   string
		damage func(t testing.TB, ts testStore, r Result, vol []byte)
		want   error
	}{
		{"other data of the same length", func(t testing.TB, ts testStore, r Result, vol []byte) {
			other := bytes.Clone(vol[testChunk : 2*testChunk])
			other[testChunk/2]++
			ts.write(t, r.Container, chunkName(r.Prefix, 2), compress(other))
		}, ErrInvalidBackup},
		{"a flipped byte", func(t testing.TB, ts testStore, r Result, vol []byte) {
			b := ts.read(t, r.Container, chunkName(r.Prefix, 2))
			b[len(b)/2] ^= 1
			ts.write(t, r.Container, chunkName(r.Prefix, 2), b)
		}, ErrInvalidBackup},
		{"cut short", func(t testing.TB, ts testStore, r Result, vol []byte) {
			b := ts.read(t, r.Container, chunkName(r.Prefix, 2))
			ts.write(t, r.Container, chunkName(r.Prefix, 2), b[:len(b)-100])
		}, ErrInvalidBackup},
		{"longer", func(t testing.TB, ts testStore, r Result, vol []byte) {
			ts.write(t, r.Container, chunkName(r.Prefix, 2), compress(append(bytes.Clone(vol[testChunk:2*testChunk]), 0)))
		}, ErrInvalidBackup},
		{"an extra chunk", func(t testing.TB, ts testStore, r Result, vol []byte) {
			ts.write(t, r.Container, chunkName(r.Prefix, 6), compress(vol[:10]))
		}, ErrInvalidBackup},
		{"a chunk gone", func(t testing.TB, ts testStore, r Result, vol []byte) {
			if err := ts.driver.store.remove(context.Background(), ts.auth, r.Container, chunkName(r.Prefix, 3)); err != nil {
				t.Fatal(err)
			}
		}, ErrNotFound},
		{"md5 in the metadata", func(t testing.TB, ts testStore, r Result, vol []byte) {
			m := ts.read(t, r.Container, metadataName(r.Prefix))
			i := bytes.Index(m, []byte(`"md5": "`)) + len(`"md5": "`)
			m[i] = "01"[(m[i]-'0'+1)%2]
			ts.write(t, r.Container, metadataName(r.Prefix), m)
		}, ErrInvalidBackup},
		{"a sha256 in the sha256file", func(t testing.TB, ts testStore, r Result, vol []byte) {
			m := ts.read(t, r.Container, sha256FileName(r.Prefix))
			i := bytes.LastIndex(m, []byte(`"sha256s"`))
			i += bytes.IndexByte(m[i+12:], '"') + 13
			m[i] = "01"[(m[i]-'0'+1)%2]
			ts.write(t, r.Container, sha256FileName(r.Prefix), m)
		}, ErrInvalidBackup},
		{"metadata not JSON", func(t testing.TB, ts testStore, r Result, vol []byte) {
			ts.write(t, r.Container, metadataName(r.Prefix), []byte("{"))
		}, ErrInvalidBackup},
		{"sha256file gone", func(t testing.TB, ts testStore, r Result, vol []byte) {
			if err := ts.driver.store.remove(context.Background(), ts.auth, r.Container, sha256FileName(r.Prefix)); err != nil {
				t.Fatal(err)
			}
		}, ErrNotFound},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ts := st.make(t, ChunkOptions{ChunkSize: testChunk})
			vol := volumeData(5, testSize)
			for _, c := range cases {
				t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
					s := spec(ts, "b-"+strings.ReplaceAll(c.name, " ", "-"))
					r, err := ts.driver.Backup(context.Background(), s, &memVolume{b: vol}, testSize, nil)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = ts.driver.Delete(context.Background(), saved(s, r)) })
					c.damage(t, ts, r, vol)
					dst := &memVolume{b: make([]byte, testSize)}
					err = ts.driver.Restore(context.Background(), saved(s, r), dst, testSize, RestoreOptions{})
					t.Logf("restore: %v", err)
					if !errors.Is(err, c.want) {
						t.Fatalf("restore: %v, want %v", err, c.want)
					}
					// nothing of the damaged chunk (or past it) was written
					// where it differs from what was backed up
					for i := testChunk; i < testSize; i++ {
						if dst.b[i] != 0 && dst.b[i] != vol[i] {
							t.Fatalf("byte %d written: %x, backed up %x", i, dst.b[i], vol[i])
						}
					}
				})
			}
		})
	}
}

// TestIncrementalNeedsItsParent: an incremental backup over a parent that is
// not stored is refused, as is one over a smaller volume's backup or another
// volume's; a restore
// of an incremental backup without its parent, or with another one, too.
func TestIncrementalNeedsItsParent(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ts := st.make(t, ChunkOptions{ChunkSize: testChunk})
			ctx := context.Background()
			vol := volumeData(6, testSize)
			missing := spec(ts, "gone")
			missing.Container, missing.Prefix = ts.driver.container(missing), ts.driver.NewPrefix(missing)
			s := spec(ts, "incr")
			s.Parent = &missing
			if _, err := ts.driver.Backup(ctx, s, &memVolume{b: vol}, testSize, nil); !errors.Is(err, ErrNotFound) {
				t.Errorf("backup over a missing parent: %v", err)
			}

			small := spec(ts, "small")
			r, err := ts.driver.Backup(ctx, small, &memVolume{b: vol[:testChunk]}, testChunk, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.Parent = new(saved(small, r))
			if _, err := ts.driver.Backup(ctx, s, &memVolume{b: vol}, testSize, nil); !errors.Is(err, ErrInvalidBackup) {
				t.Errorf("backup over a smaller volume's: %v", err)
			}

			full := spec(ts, "full")
			fr, err := ts.driver.Backup(ctx, full, &memVolume{b: vol}, testSize, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.Parent = new(saved(full, fr))
			otherVolume := s
			otherVolume.VolumeID = "vol-2"
			if _, err := ts.driver.Backup(ctx, otherVolume, &memVolume{b: vol}, testSize, nil); !errors.Is(err, ErrInvalidBackup) {
				t.Errorf("backup over another volume's: %v", err)
			}
			ir, err := ts.driver.Backup(ctx, s, &memVolume{b: vol}, testSize, nil)
			if err != nil {
				t.Fatal(err)
			}
			if ir.ObjectCount != 0 || ir.StoredBytes != 0 {
				t.Errorf("an incremental backup of an unchanged volume stored %+v", ir)
			}
			dst := &memVolume{b: make([]byte, testSize)}
			alone := saved(s, ir)
			alone.Parent = nil
			if err := ts.driver.Restore(ctx, alone, dst, testSize, RestoreOptions{}); !errors.Is(err, ErrInvalidBackup) {
				t.Errorf("restore without the parent: %v", err)
			}
			other := saved(s, ir)
			other.Parent = new(saved(small, r))
			if err := ts.driver.Restore(ctx, other, dst, testSize, RestoreOptions{}); !errors.Is(err, ErrInvalidBackup) {
				t.Errorf("restore over another parent: %v", err)
			}
			withParent := saved(s, ir)
			if err := ts.driver.Restore(ctx, withParent, dst, testSize, RestoreOptions{}); err != nil || !bytes.Equal(dst.b, vol) {
				t.Errorf("restore of the chain: %v", err)
			}
			for _, b := range []Spec{withParent, saved(small, r), saved(full, fr)} {
				if err := ts.driver.Delete(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestRestoreStaysInsideTheVolume: a backup larger than the volume it is
// restored into is refused before anything is written.
func TestRestoreStaysInsideTheVolume(t *testing.T) {
	ts := newDirTestStore(t, ChunkOptions{ChunkSize: testChunk})
	vol := volumeData(7, testSize)
	s := spec(ts, "big")
	r, err := ts.driver.Backup(context.Background(), s, &memVolume{b: vol}, testSize, nil)
	if err != nil {
		t.Fatal(err)
	}
	dst := &memVolume{b: make([]byte, testSize-1)}
	if err := ts.driver.Restore(context.Background(), saved(s, r), dst, testSize-1, RestoreOptions{}); !errors.Is(err, ErrInvalidBackup) {
		t.Errorf("restore into a smaller volume: %v", err)
	}
	if !bytes.Equal(dst.b, make([]byte, testSize-1)) {
		t.Error("the smaller volume was written")
	}
	// a larger one takes it, and keeps what is past the backup
	dst = &memVolume{b: bytes.Repeat([]byte{7}, testSize+100)}
	if err := ts.driver.Restore(context.Background(), saved(s, r), dst, testSize+100, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst.b[:testSize], vol) || !bytes.Equal(dst.b[testSize:], bytes.Repeat([]byte{7}, 100)) {
		t.Error("restore into a larger volume differs")
	}
}

// TestDirectoryStoreStaysInside: a container or prefix leading outside the
// backup path, or a symbolic link out of it, is refused.
func TestDirectoryStoreStaysInside(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "backups")
	d, err := NewDirectory(dir, ChunkOptions{ChunkSize: testChunk})
	if err != nil {
		t.Fatal(err)
	}
	vol := volumeData(8, testChunk)
	ctx := context.Background()
	for _, s := range []Spec{
		{ID: "a", VolumeID: "v", Container: "../outside"},
		{ID: "a", VolumeID: "v", Container: "/tmp"},
		{ID: "a", VolumeID: "v", Container: "ok", Prefix: "../x"},
		{ID: "../../x", VolumeID: "v"},
	} {
		if _, err := d.Backup(ctx, s, &memVolume{b: vol}, testChunk, nil); !errors.Is(err, ErrInvalidBackup) {
			t.Errorf("backup %+v: %v", s, err)
		}
		if s.Container == "" {
			continue
		}
		if err := d.Delete(ctx, Spec{ID: s.ID, Container: s.Container, Prefix: cmp.Or(s.Prefix, "p")}); !errors.Is(err, ErrInvalidBackup) {
			t.Errorf("delete %+v: %v", s, err)
		}
	}
	if err := os.Symlink(base, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Backup(ctx, Spec{ID: "a", VolumeID: "v", Container: "link/x"}, &memVolume{b: vol}, testChunk, nil); err == nil {
		t.Error("backup through a link out of the backup path")
	}
	entries, _ := os.ReadDir(base)
	if len(entries) != 1 {
		t.Errorf("written outside the backup path: %v", entries)
	}
}

// volumeBytes is the volume testdata/upstream/make.py backs up: generation 1
// in its full backup, 2 in its incremental one.
func volumeBytes(generation int) []byte {
	const size = 200000
	b := make([]byte, size)
	for i := range b {
		b[i] = byte((i*7 + i/1000) % 251)
	}
	clear(b[70000:110000])
	if generation == 2 {
		for i := 140000; i < 140100; i++ {
			b[i] ^= 0xff
		}
		b[0] = 42
	}
	return b
}

// TestRestoreUpstreamBackups: a full backup (bz2) and an incremental one
// (zlib) stored as upstream's chunked posix driver stores them restore byte
// for byte, and an incremental backup Nimbus takes over upstream's full one
// restores too.
func TestRestoreUpstreamBackups(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/upstream")); err != nil {
		t.Fatal(err)
	}
	d, err := NewDirectory(dir, ChunkOptions{ChunkSize: 65536})
	if err != nil {
		t.Fatal(err)
	}
	const volumeID = "9c1b2f0e-6a51-4c55-9f1e-2b7d0c6f1a10"
	upstream := func(id string) Spec {
		return Spec{ID: id, VolumeID: volumeID, Container: id[0:2] + "/" + id[2:4] + "/" + id,
			Prefix: "volume_" + volumeID + "_20261207210000_backup_" + id}
	}
	full, incr := upstream("5e0a3c1d-full"), upstream("7f4b9d2e-incr")
	incr.Parent = &full
	ctx := context.Background()
	for _, c := range []struct {
		s    Spec
		want []byte
	}{{full, volumeBytes(1)}, {incr, volumeBytes(2)}} {
		dst := &memVolume{b: bytes.Repeat([]byte{1}, len(c.want))}
		if err := d.Restore(ctx, c.s, dst, int64(len(dst.b)), RestoreOptions{}); err != nil {
			t.Fatalf("restore %s: %v", c.s.ID, err)
		}
		if !bytes.Equal(dst.b, c.want) {
			t.Errorf("restore %s differs", c.s.ID)
		}
	}

	changed := volumeBytes(2)
	changed[199999]++
	ours := Spec{ID: "ours", VolumeID: volumeID, Parent: &full}
	r, err := d.Backup(ctx, ours, &memVolume{b: changed}, int64(len(changed)), nil)
	if err != nil {
		t.Fatal(err)
	}
	// blocks 0 (byte 0), 4 (bytes 131072-163839) and the last one changed
	if r.ObjectCount != 3 {
		t.Errorf("incremental backup over upstream's: %+v", r)
	}
	dst := &memVolume{b: make([]byte, len(changed))}
	if err := d.Restore(ctx, saved(ours, r), dst, int64(len(dst.b)), RestoreOptions{VolumeIsNew: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst.b, changed) {
		t.Error("restore of Nimbus's incremental over upstream's full differs")
	}
}
