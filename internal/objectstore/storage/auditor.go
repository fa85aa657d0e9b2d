package storage

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// The object auditor, as upstream's: it walks every object, reads each winning
// .data through MD5 and compares it (and its length) with the ETag and
// Content-Length its metadata recorded at the PUT. A file that disagrees, or
// whose metadata cannot be read, is quarantined: its hash directory moves to
// <device>/quarantined/objects/ and its suffix is invalidated, so the
// partition's hashes differ from the other replicas' and the replicator
// pushes a good copy back. The object server's GET verifies what it reads in
// the same way (verifiedBody).

// errCorrupt is a .data whose bytes or metadata disagree.
var errCorrupt = errors.New("object file corrupt")

// quarantine moves an object's hash directory aside, as upstream's
// quarantine_renamer (a name already quarantined gets a random tail), and
// invalidates its suffix so the replicator repairs the object.
func (s *Server) quarantine(hashDir string) error {
	suffixDir := filepath.Dir(hashDir)
	devDir := filepath.Dir(filepath.Dir(filepath.Dir(suffixDir)))
	qdir := filepath.Join(devDir, "quarantined", "objects")
	if err := os.MkdirAll(qdir, 0o755); err != nil {
		return err
	}
	dest := filepath.Join(qdir, filepath.Base(hashDir))
	if _, err := os.Lstat(dest); err == nil {
		var b [8]byte
		_, _ = rand.Read(b[:])
		dest += "-" + hex.EncodeToString(b[:])
	}
	if err := os.Rename(hashDir, dest); err != nil {
		return err
	}
	s.log.Warn("object quarantined", "from", hashDir, "to", dest)
	return s.invalidateSuffix(hashDir)
}

// checkDataFile reads a .data whole and compares it with its metadata.
func checkDataFile(path string) error {
	md, err := readMetadata(path)
	if err != nil {
		return fmt.Errorf("%w: %v", errCorrupt, err)
	}
	fd, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fd.Close()
	sum := md5.New()
	n, err := io.Copy(sum, fd)
	if err != nil {
		return err
	}
	return compareWithMetadata(md, n, sum)
}

// compareWithMetadata checks a file's length and MD5 against what its
// metadata says.
func compareWithMetadata(md map[string]string, n int64, sum hash.Hash) error {
	if size, err := strconv.ParseInt(md["Content-Length"], 10, 64); err != nil || size != n {
		return fmt.Errorf("%w: %d bytes, metadata says %q", errCorrupt, n, md["Content-Length"])
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != md["ETag"] {
		return fmt.Errorf("%w: MD5 %s, metadata says %q", errCorrupt, got, md["ETag"])
	}
	return nil
}

// AuditStats count one auditor pass.
type AuditStats struct {
	Checked, Quarantined, Errors int
	Bytes                        int64
}

// AuditorInterval is the pause between auditor passes.
const AuditorInterval = 10 * time.Minute

// AuditorBytesPerSecond bounds how fast a pass reads (upstream's
// bytes_per_second default), so auditing never starves the clients' reads.
const AuditorBytesPerSecond = 10 << 20

// AuditObjects checks every object on the node's devices once, reading at
// most bytesPerSecond (0: no limit).
func (s *Server) AuditObjects(ctx context.Context, bytesPerSecond int64) AuditStats {
	var st AuditStats
	start := time.Now()
	devices, err := os.ReadDir(s.opts.Devices)
	if err != nil {
		return st
	}
	for _, dev := range devices {
		hashDirs, _ := filepath.Glob(filepath.Join(s.opts.Devices, dev.Name(), "objects*", "*", "???", "*"))
		for _, dir := range hashDirs {
			if !isDataDir(filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(dir))))) {
				continue
			}
			if ctx.Err() != nil {
				return st
			}
			if !isObjectHash(filepath.Base(dir)) || !isSuffix(filepath.Base(filepath.Dir(dir))) {
				continue
			}
			f, err := scanObject(dir)
			if err == nil && f.data == "" {
				s.auditTombstone(f)
			}
			if err != nil || f.data == "" {
				continue
			}
			path := filepath.Join(dir, f.data)
			st.Checked++
			if fi, err := os.Stat(path); err == nil {
				st.Bytes += fi.Size()
			}
			switch err := checkDataFile(path); {
			case errors.Is(err, errCorrupt):
				s.log.Warn("object auditor: corrupt object", "file", path, "error", err)
				if qerr := s.quarantine(dir); qerr != nil {
					s.log.Error("object auditor: quarantine", "dir", dir, "error", qerr)
					st.Errors++
				} else {
					st.Quarantined++
				}
			case err != nil && !errors.Is(err, os.ErrNotExist): // a file replaced meanwhile is no fault
				st.Errors++
			}
			if bytesPerSecond > 0 {
				if wait := time.Duration(float64(st.Bytes)/float64(bytesPerSecond)*float64(time.Second)) - time.Since(start); wait > 0 {
					select {
					case <-ctx.Done():
						return st
					case <-time.After(wait):
					}
				}
			}
		}
	}
	return st
}

// RunAuditor audits every interval until ctx ends.
func (s *Server) RunAuditor(ctx context.Context, interval time.Duration) {
	runEvery(ctx, interval, func() {
		if st := s.AuditObjects(ctx, AuditorBytesPerSecond); st.Quarantined > 0 || st.Errors > 0 {
			s.log.Info("object auditor pass", "checked", st.Checked, "quarantined", st.Quarantined, "errors", st.Errors)
		}
	})
}

// verifyBeforeSendLimit is the largest whole-object GET whose bytes are
// checked before the first is sent, so a corrupt replica answers 404 and the
// proxy reads the next one: reading 4 MiB twice (the second time from the
// page cache) costs a few milliseconds, while the objects most reads fetch
// (web assets, documents, thumbnails) stay under it. A larger object is
// checked while it streams (verifiedBody).
const verifyBeforeSendLimit = 4 << 20

// verifiedBody is a .data read in order from its first byte to its last,
// hashed on the way: when the read that would deliver the last bytes finds
// the MD5 wrong, the object is quarantined and the response aborted without
// them, so the client sees a broken transfer rather than a complete corrupt
// object. A read out of order (a Range) stops the checking.
type verifiedBody struct {
	fd       *os.File
	size     int64
	etag     string
	next     int64
	sum      hash.Hash
	checking bool
	corrupt  func()
}

func newVerifiedBody(fd *os.File, size int64, etag string, corrupt func()) *verifiedBody {
	return &verifiedBody{fd: fd, size: size, etag: etag, sum: md5.New(), checking: true, corrupt: corrupt}
}

func (v *verifiedBody) ReadAt(p []byte, off int64) (int, error) {
	n, err := v.fd.ReadAt(p, off)
	if !v.checking {
		return n, err
	}
	if off != v.next {
		v.checking = false
		return n, err
	}
	v.sum.Write(p[:n])
	v.next += int64(n)
	if v.next >= v.size || errors.Is(err, io.EOF) {
		v.checking = false
		if v.next != v.size || hex.EncodeToString(v.sum.Sum(nil)) != v.etag {
			v.corrupt()
			// net/http closes the connection without a word more
			panic(http.ErrAbortHandler)
		}
	}
	return n, err
}
