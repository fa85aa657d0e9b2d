package volume

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
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

// hangingBackups is a backup driver whose backups hang at the read of chunk
// n until the test ends: the pass never returns, nothing of its error paths
// runs, as when the process is killed (kill -9) there.
type hangingBackups struct {
	BackupDriver
	chunk   int64
	n       int
	reached chan struct{} // closed at the read of chunk n
	release chan struct{} // closed at the test's end
}

func (h *hangingBackups) Backup(ctx context.Context, spec BackupSpec, src io.ReaderAt, size int64, progress func(int64)) (BackupResult, error) {
	return h.BackupDriver.Backup(ctx, spec, &hangingSource{ReaderAt: src, h: h}, size, progress)
}

type hangingSource struct {
	io.ReaderAt
	h     *hangingBackups
	reads int
}

func (s *hangingSource) ReadAt(p []byte, off int64) (int, error) {
	if off%s.h.chunk == 0 {
		if s.reads++; s.reads == s.h.n {
			close(s.h.reached)
			<-s.h.release
			return 0, errors.New("the test is over")
		}
	}
	return s.ReaderAt.ReadAt(p, off)
}

// TestBackupResumesAfterStop: a backup whose pass ended part way stays
// creating with its container and prefix saved, and the next pass finishes
// it from the chunks already stored: they are not stored again (the
// directory store renames every object it puts into place, so a chunk put
// again is another file). Two ways to end the pass: the service stopping
// (its context cancelled: the driver keeps its objects), and the process
// killed (the pass never returns, and a new manager on the same database,
// as after a restart, finishes the backup). That the resumed backup
// restores is backup.TestBackupResumesInterrupted's to show.
func TestBackupResumesAfterStop(t *testing.T) {
	for _, killed := range []bool{false, true} {
		t.Run(map[bool]string{false: "stopped", true: "killed"}[killed], func(t *testing.T) {
			testBackupResumes(t, killed)
		})
	}
}

func testBackupResumes(t *testing.T, killed bool) {
	e := newTestEnv(t, nil)
	const chunk = 32 << 20
	dir := filepath.Join(e.Dir, "backups")
	d, err := backup.NewDirectory(dir, backup.ChunkOptions{ChunkSize: chunk})
	if err != nil {
		t.Fatal(err)
	}
	stopping := &stoppingBackups{BackupDriver: &ChunkedBackups{Driver: d}, chunk: chunk, n: 4}
	hanging := &hangingBackups{BackupDriver: &ChunkedBackups{Driver: d}, chunk: chunk, n: 4,
		reached: make(chan struct{}), release: make(chan struct{})}
	if killed {
		e.Manager.SetBackupDriver(hanging)
	} else {
		e.Manager.SetBackupDriver(stopping)
	}
	e.settle()
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 1, "volume_type": e.pinnedType("alpha")})
	writePattern(t, e.Backends["alpha"], vol, 1, "before the stop")

	id := e.Must(http.StatusAccepted, "POST", "/v3/backups", e.DemoToken,
		map[string]any{"backup": map[string]any{"volume_id": vol}})["backup"].(map[string]any)["id"].(string)
	ctx, stop := context.WithCancel(context.Background())
	if killed {
		killedPass := make(chan struct{})
		go func() {
			defer close(killedPass)
			_ = e.Manager.Pass(ctx)
		}()
		<-hanging.reached
		t.Cleanup(func() {
			// the killed pass's context goes first, so that it writes nothing
			stop()
			close(hanging.release)
			<-killedPass
		})
		// a new process: a new manager over the same database and backends
		backends := make([]backend.Backend, 0, len(e.Backends))
		for _, name := range []string{"alpha", "beta"} {
			backends = append(backends, e.Backends[name])
		}
		e.Manager = NewManager(ManagerOptions{DB: e.DB, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Host: "node1", Backends: backends, ScratchDir: filepath.Join(e.Dir, "scratch")})
		e.Manager.SetBackupDriver(&ChunkedBackups{Driver: d})
	} else {
		stopping.stop = stop
		_ = e.Manager.Pass(ctx) // ends with the context's error
		stopping.stop = nil
	}

	if bk := e.backup(e.DemoToken, id); bk["status"] != "creating" || bk["container"] == nil {
		t.Fatalf("backup after the interrupted pass: %v", bk)
	}
	var container, prefix string
	if err := e.DB.QueryRowContext(t.Context(), `SELECT container, service_metadata FROM volume_backups WHERE id = ?`,
		id).Scan(&container, &prefix); err != nil {
		t.Fatal(err)
	}
	chunks := func() map[string]os.FileInfo {
		entries, err := os.ReadDir(filepath.Join(dir, container))
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
		t.Fatalf("the interrupted pass left %d of 32 chunks", len(before))
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
