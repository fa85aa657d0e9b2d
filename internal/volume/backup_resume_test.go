package volume

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/volume/backup"
)

// stoppingBackups is a backup driver whose next backup ends the manager's
// pass part way, as a kill or a stop of the service does: its source cancels
// the pass's context at the read of chunk n.
type stoppingBackups struct {
	BackupDriver
	chunk int64
	n     int
	stop  context.CancelFunc // nil: no stop
}

func (s *stoppingBackups) Backup(ctx context.Context, spec BackupSpec, src io.ReaderAt, size int64, progress func(int64)) (BackupResult, error) {
	if s.stop != nil {
		src = &stoppingSource{ReaderAt: src, chunk: s.chunk, n: s.n, stop: s.stop}
	}
	return s.BackupDriver.Backup(ctx, spec, src, size, progress)
}

type stoppingSource struct {
	io.ReaderAt
	chunk int64
	n     int
	reads int
	stop  context.CancelFunc
}

func (s *stoppingSource) ReadAt(p []byte, off int64) (int, error) {
	if off%s.chunk == 0 {
		// the driver reads chunk by chunk and holds at most three buffers,
		// so by the fourth read the first chunk is stored
		if s.reads++; s.reads == s.n {
			s.stop()
		}
	}
	return s.ReaderAt.ReadAt(p, off)
}

// TestBackupResumesAfterStop: a backup whose pass ended part way (the
// service killed or stopped) stays creating with its container and prefix
// saved, and the next pass finishes it from the chunks already stored: they
// are not stored again (the directory store renames every object it puts
// into place, so a chunk put again is another file). That the resumed
// backup restores is backup.TestBackupResumesInterrupted's to show.
func TestBackupResumesAfterStop(t *testing.T) {
	e := newTestEnv(t, nil)
	const chunk = 32 << 20
	d, err := backup.NewDirectory(filepath.Join(e.Dir, "backups"), backup.ChunkOptions{ChunkSize: chunk})
	if err != nil {
		t.Fatal(err)
	}
	driver := &stoppingBackups{BackupDriver: &ChunkedBackups{Driver: d}, chunk: chunk, n: 4}
	e.Manager.SetBackupDriver(driver)
	e.settle()
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 1, "volume_type": e.pinnedType("alpha")})
	b := e.Backends["alpha"]
	writePattern(t, b, vol, 1, "before the stop")

	id := e.Must(http.StatusAccepted, "POST", "/v3/backups", e.DemoToken,
		map[string]any{"backup": map[string]any{"volume_id": vol}})["backup"].(map[string]any)["id"].(string)
	ctx, stop := context.WithCancel(context.Background())
	driver.stop = stop
	_ = e.Manager.Pass(ctx) // ends with the context's error
	driver.stop = nil

	if bk := e.backup(e.DemoToken, id); bk["status"] != "creating" || bk["container"] == nil {
		t.Fatalf("backup after the stopped pass: %v", bk)
	}
	var container, prefix string
	if err := e.DB.QueryRowContext(t.Context(), `SELECT container, service_metadata FROM volume_backups WHERE id = ?`,
		id).Scan(&container, &prefix); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(e.Dir, "backups", container)
	chunks := func() map[string]os.FileInfo {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]os.FileInfo{}
		for _, entry := range entries {
			if strings.HasPrefix(entry.Name(), prefix+"-") && !strings.HasSuffix(entry.Name(), ".part") {
				fi, err := entry.Info()
				if err != nil {
					t.Fatal(err)
				}
				out[entry.Name()] = fi
			}
		}
		return out
	}
	before := chunks()
	if len(before) == 0 || len(before) >= 32 {
		t.Fatalf("the stopped pass left %d of 32 chunks", len(before))
	}

	e.settle()
	bk := e.backup(e.DemoToken, id)
	if bk["status"] != "available" || bk["object_count"] != float64(32) {
		t.Fatalf("resumed backup: %v", bk)
	}
	after := chunks()
	for name, fi := range before {
		if !os.SameFile(fi, after[name]) {
			t.Errorf("chunk %s was stored again", name)
		}
	}
	if st := e.volume(e.DemoToken, vol)["status"]; st != "available" {
		t.Fatalf("volume after the backup: %v", st)
	}

}
