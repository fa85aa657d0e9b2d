package storage

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The object updater, as upstream's: container updates the object servers
// could not deliver wait as async-pending files, and a pass replays them,
// removing each once its container server took it. A pass is idempotent and
// safe to stop at any point: a file goes only after its update succeeded, and
// replaying an update twice changes nothing (rows merge by timestamp).

// UpdatePending replays every async pending on the node's devices once and
// returns how many were delivered and how many are left.
func (s *Server) UpdatePending(ctx context.Context) (sent, left int) {
	devices, err := os.ReadDir(s.opts.Devices)
	if err != nil {
		return 0, 0
	}
	for _, dev := range devices {
		root := filepath.Join(s.opts.Devices, dev.Name(), "async_pending")
		suffixes, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		for _, suffix := range suffixes {
			dir := filepath.Join(root, suffix.Name())
			files, err := os.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, f := range files {
				if ctx.Err() != nil {
					return sent, left
				}
				if strings.HasSuffix(f.Name(), ".bad") {
					continue
				}
				path := filepath.Join(dir, f.Name())
				if err := s.replay(ctx, path); err != nil {
					left++
					s.log.Debug("async pending not delivered yet", "file", path, "error", err)
					continue
				}
				sent++
			}
			_ = os.Remove(dir) // only when empty
		}
	}
	return sent, left
}

// replay delivers one async pending and removes it.
func (s *Server) replay(ctx context.Context, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var p asyncPending
	if err := json.Unmarshal(data, &p); err != nil {
		// a torn or foreign file can never be delivered: upstream quarantines
		// such files; keep it aside rather than retry it forever
		s.log.Warn("unreadable async pending set aside", "file", path, "error", err)
		if rerr := os.Rename(path, path+".bad"); rerr != nil {
			return rerr
		}
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := update{method: p.Op, host: p.Host, device: p.Device, part: p.Partition,
		path: "/" + p.Account + "/" + p.Container + "/" + p.Object, headers: p.Headers}
	if u.headers == nil {
		u.headers = http.Header{}
	}
	if err := s.send(cctx, u); err != nil {
		// a container deleted since no longer wants the update
		if strings.HasSuffix(err.Error(), "404 Not Found") {
			return os.Remove(path)
		}
		return err
	}
	return os.Remove(path)
}

// UpdaterInterval is how often the updater passes (upstream's is 300 s; the
// pendings of an all-in-one are few, and a listing waits on them).
const UpdaterInterval = 30 * time.Second

// RunUpdater replays async pendings every interval until ctx ends.
func (s *Server) RunUpdater(ctx context.Context, interval time.Duration) {
	runEvery(ctx, interval, func() {
		if sent, left := s.UpdatePending(ctx); sent > 0 || left > 0 {
			s.log.Info("object updater pass", "sent", sent, "left", left)
		}
	})
}
