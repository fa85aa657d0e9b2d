package storage

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Suffix hashes, as upstream's diskfile get_hashes: each partition keeps a
// hash per suffix directory, computed from the names (timestamps and kinds) of
// the files that count in its objects, so two replicas compare a partition by
// a few hundred short strings instead of listing it. The hashes are cached in
// the partition (hashesFile) and every write or delete in a suffix records the
// suffix in hashesInvalidFile, which the next computation folds in: a write
// never rewrites the cache, only appends three bytes.

const (
	hashesFile        = "hashes.json"    // upstream's hashes.pkl
	hashesInvalidFile = "hashes.invalid" // suffixes written since, one a line
)

// partitionLocks serialize a partition's cache updates: an invalidation
// waits for a computation in progress, so its suffix is recomputed next time.
type partitionLocks struct{ m sync.Map }

func (p *partitionLocks) lock(partDir string) func() {
	v, _ := p.m.LoadOrStore(partDir, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// invalidateSuffix records that a file changed in hashDir's suffix, as
// upstream's invalidate_hash. Failing to record it must fail the write: a
// replica whose cache hides a change would never be repaired.
func (s *Server) invalidateSuffix(hashDir string) error {
	suffixDir := filepath.Dir(hashDir)
	partDir := filepath.Dir(suffixDir)
	defer s.partLocks.lock(partDir)()
	f, err := os.OpenFile(filepath.Join(partDir, hashesInvalidFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(filepath.Base(suffixDir) + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// isSuffix reports whether name is a suffix directory's: three hex digits.
func isSuffix(name string) bool {
	if len(name) != 3 {
		return false
	}
	_, err := hex.DecodeString("0" + name)
	return err == nil
}

// suffixHashes returns partDir's suffix hashes, recomputing the invalidated
// suffixes and those in recalculate (all of them when there is no cache yet).
// An empty suffix directory is removed and has no hash, as upstream.
func (s *Server) suffixHashes(partDir string, recalculate []string) (map[string]string, error) {
	defer s.partLocks.lock(partDir)()
	hashes := map[string]string{}
	stale := map[string]bool{}
	rewrite := false
	data, err := os.ReadFile(filepath.Join(partDir, hashesFile))
	if err == nil && json.Unmarshal(data, &hashes) == nil {
		if inv, err := os.ReadFile(filepath.Join(partDir, hashesInvalidFile)); err == nil {
			for _, suffix := range strings.Fields(string(inv)) {
				stale[suffix] = true
			}
		}
	} else {
		// no cache (or a torn one): every suffix on disk is computed
		hashes, rewrite = map[string]string{}, true
		entries, err := os.ReadDir(partDir)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return hashes, nil
			}
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() && isSuffix(e.Name()) {
				stale[e.Name()] = true
			}
		}
	}
	for _, suffix := range recalculate {
		if isSuffix(suffix) {
			stale[suffix] = true
		}
	}
	for suffix := range stale {
		s.reclaimSuffix(filepath.Join(partDir, suffix))
		h, err := hashSuffix(filepath.Join(partDir, suffix))
		if err != nil {
			return nil, err
		}
		if h == "" {
			delete(hashes, suffix)
		} else {
			hashes[suffix] = h
		}
	}
	if len(stale) > 0 || rewrite {
		if out, err := json.Marshal(hashes); err == nil {
			if err := writeAtomic(partDir, hashesFile, out); err != nil {
				return nil, err
			}
		}
		// only now: a crash before the cache is written keeps the
		// invalidations, so nothing is lost, only recomputed
		_ = os.Remove(filepath.Join(partDir, hashesInvalidFile))
	}
	return hashes, nil
}

// hashSuffix is the MD5 of a suffix directory's objects: each hash dir's name
// and the files that count in it (the winning .data or .ts and a newer .meta),
// in name order. Obsolete files are removed on the way, as upstream's
// hash_cleanup_listdir; "" when the suffix holds nothing (and is removed).
func hashSuffix(suffixDir string) (string, error) {
	entries, err := os.ReadDir(suffixDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		return "", err
	}
	sum := md5.New()
	any := false
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, hash := range names {
		f, err := scanObject(filepath.Join(suffixDir, hash))
		if err != nil {
			return "", err
		}
		f.cleanup()
		files := f.files()
		if len(files) == 0 {
			_ = os.Remove(f.dir) // only when empty
			continue
		}
		any = true
		sum.Write([]byte(hash))
		for _, name := range files {
			sum.Write([]byte(name))
		}
	}
	if !any {
		_ = os.Remove(suffixDir)
		return "", nil
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// files are the names of the files that count, oldest first.
func (f objectFiles) files() []string {
	var out []string
	for _, name := range []string{f.data, f.tomb, f.meta} {
		if name != "" {
			out = append(out, name)
		}
	}
	return out
}

// writeAtomic writes dir/name through a temporary file and a rename.
func writeAtomic(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+"-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}

// replicate answers REPLICATE /<device>/<partition>[/<suffix>-<suffix>...]:
// the partition's suffix hashes as JSON (upstream's is a pickle), after
// recomputing the suffixes named, which a replicator names after pushing them.
func (s *Server) replicate(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) < 2 || len(segs) > 3 {
		swob.Text(w, http.StatusBadRequest, "Invalid path: "+r.URL.EscapedPath())
		return
	}
	partDir, ok := s.partitionDir(w, r, segs[0], segs[1])
	if !ok {
		return
	}
	var recalculate []string
	if len(segs) == 3 {
		recalculate = strings.Split(segs[2], "-")
	}
	hashes, err := s.suffixHashes(partDir, recalculate)
	if err != nil {
		s.log.Error("object REPLICATE", "partition", partDir, "error", err)
		swob.Error(w, http.StatusInternalServerError)
		return
	}
	body, _ := json.Marshal(hashes)
	swob.Write(w, http.StatusOK, "application/json", string(body))
}

// partitionDir is <device>/objects[-N]/<partition> (by the request's policy) for a backend request (507
// when the device is not mounted, 400 for a partition that is no number).
func (s *Server) partitionDir(w http.ResponseWriter, r *http.Request, device, partition string) (string, bool) {
	if device == "" || device == "." || device == ".." || strings.ContainsAny(device, "/\\") {
		swob.Text(w, http.StatusBadRequest, "Invalid device")
		return "", false
	}
	part, ok := parsePartition(partition)
	if !ok {
		swob.Text(w, http.StatusBadRequest, "Invalid partition")
		return "", false
	}
	dev := s.deviceDir(device)
	if dev == "" {
		insufficientStorage(w, device)
		return "", false
	}
	policy, ok := requestPolicy(w, r)
	if !ok {
		return "", false
	}
	return filepath.Join(dev, policy.DataDir(), part), true
}

// parsePartition checks a partition number of a backend path.
func parsePartition(v string) (string, bool) {
	part, err := strconv.Atoi(v)
	if err != nil || part < 0 || part >= 1<<ring.MaxPartPower || strconv.Itoa(part) != v {
		return "", false
	}
	return v, true
}
