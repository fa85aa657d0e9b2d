package storage

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

// The object replicator, as upstream's with ssync: for each partition on a
// local device, compare suffix hashes with the partition's other primaries
// (REPLICATE) and push the objects of the suffixes that differ (SSYNC's
// missing check, then the wanted files as PUT, POST and DELETE carrying their
// own timestamps). A partition on a device that is no longer one of its
// primaries (a handoff, or a device a rebalance moved it from) is pushed to
// every primary and, once all of them have it, removed here.
//
// A pass is level-triggered and safe to stop anywhere: it only copies what a
// receiver lacks (the receiver's last-write-wins refuses anything older), and
// it removes a handoff's files only after every primary took or already had
// each of them. Replication only pushes; a replica that lacks something is
// repaired by a replica that has it.

// ReplicationStats count one replication pass.
type ReplicationStats struct {
	Partitions int // partitions looked at
	Suffixes   int // suffixes that differed from a primary's
	Sent       int // files sent (data, metadata, tombstones)
	Removed    int // handoff partitions removed once the primaries had them
	Failures   int // primaries that could not be synced this pass
}

// LocalDevices says which of a ring's devices this node serves (upstream
// compares the devices' addresses with the node's own).
type LocalDevices func(*ring.Device) bool

// ListensAt is a LocalDevices for a node whose object server listens at
// host:port (a wildcard host matches any address).
func ListensAt(host string, port int) LocalDevices {
	wildcard := host == "" || host == "0.0.0.0" || host == "::"
	return func(d *ring.Device) bool {
		return d.Port == port && (wildcard || d.IP == host || (host == "localhost" && d.IP == "127.0.0.1"))
	}
}

// ReplicateObjects runs one replication pass over the local devices of rg.
func (s *Server) ReplicateObjects(ctx context.Context, rg *ring.Ring, local LocalDevices) ReplicationStats {
	var st ReplicationStats
	for _, dev := range rg.Devices() {
		if !local(dev) {
			continue
		}
		devDir := s.deviceDir(dev.Name)
		if devDir == "" {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(devDir, passPolicy(ctx).DataDir()))
		if err != nil {
			continue
		}
		for _, e := range entries {
			part, err := strconv.Atoi(e.Name())
			if err != nil || !e.IsDir() || part < 0 || part >= rg.PartitionCount() {
				continue
			}
			if ctx.Err() != nil {
				return st
			}
			st.Partitions++
			s.replicatePartition(ctx, rg, dev, devDir, part, &st)
		}
	}
	return st
}

// replicatePartition syncs one local partition with its primaries.
func (s *Server) replicatePartition(ctx context.Context, rg *ring.Ring, dev *ring.Device, devDir string, part int, st *ReplicationStats) {
	partDir := filepath.Join(devDir, passPolicy(ctx).DataDir(), strconv.Itoa(part))
	local, err := s.suffixHashes(partDir, nil)
	if err != nil {
		s.log.Error("object replicator: suffix hashes", "partition", partDir, "error", err)
		st.Failures++
		return
	}
	primary := false
	var others []*ring.Device
	for _, d := range rg.Nodes(part) {
		if d.ID == dev.ID {
			primary = true
		} else {
			others = append(others, d)
		}
	}
	// what a handoff holds now: only these files go once the primaries have them
	var held []localObject
	if !primary {
		if held, err = listObjects(partDir, sortedKeys(local)); err != nil {
			st.Failures++
			return
		}
	}
	inSync := true
	for _, remote := range others {
		if err := s.syncWith(ctx, remote, partDir, part, local, st); err != nil {
			inSync = false
			st.Failures++
			s.log.Warn("object replicator: sync failed", "partition", partDir, "remote", remote.IP+":"+strconv.Itoa(remote.Port)+"/"+remote.Name, "error", err)
		}
	}
	if !primary && inSync {
		removeHandedOff(partDir, held)
		st.Removed++
	}
}

// syncWith pushes to remote what differs between the suffix hashes.
func (s *Server) syncWith(ctx context.Context, remote *ring.Device, partDir string, part int, local map[string]string, st *ReplicationStats) error {
	base := "http://" + net.JoinHostPort(remote.IP, strconv.Itoa(remote.Port)) + "/" + url.PathEscape(remote.Name) + "/" + strconv.Itoa(part)
	resp, err := s.replicationRequest(ctx, "REPLICATE", base, nil, -1, nil)
	if err != nil {
		return err
	}
	remoteHashes := map[string]string{}
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&remoteHashes)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("REPLICATE answer: %w", err)
	}
	var differ []string
	for suffix, h := range local {
		if remoteHashes[suffix] != h {
			differ = append(differ, suffix)
		}
	}
	if len(differ) == 0 {
		return nil
	}
	sort.Strings(differ)
	st.Suffixes += len(differ)
	objects, err := listObjects(partDir, differ)
	if err != nil {
		return err
	}
	var list strings.Builder
	byHash := map[string]localObject{}
	for _, o := range objects {
		byHash[o.hash] = o
		fmt.Fprintf(&list, "%s %s", o.hash, o.newest().Normal())
		if o.meta != "" {
			fmt.Fprintf(&list, " %s", o.metaTime.Normal())
		}
		list.WriteString("\n")
	}
	resp, err = s.replicationRequest(ctx, "SSYNC", base, strings.NewReader(list.String()), int64(list.Len()), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, maxMissingCheck))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			continue
		}
		o, ok := byHash[fields[0]]
		if !ok {
			continue
		}
		if strings.Contains(fields[1], "d") {
			if err := s.sendFile(ctx, base, o, o.dataOrTomb()); err != nil {
				return err
			}
			st.Sent++
		}
		if strings.Contains(fields[1], "m") && o.meta != "" {
			if err := s.sendFile(ctx, base, o, o.meta); err != nil {
				return err
			}
			st.Sent++
		}
	}
	return sc.Err()
}

// localObject is one object's hash directory in a partition being replicated.
type localObject struct {
	hash string
	objectFiles
}

func (o localObject) dataOrTomb() string {
	if o.data != "" {
		return o.data
	}
	return o.tomb
}

// listObjects lists the objects of a partition's suffixes.
func listObjects(partDir string, suffixes []string) ([]localObject, error) {
	var out []localObject
	for _, suffix := range suffixes {
		entries, err := os.ReadDir(filepath.Join(partDir, suffix))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, err
		}
		for _, e := range entries {
			if !e.IsDir() || !isObjectHash(e.Name()) {
				continue
			}
			f, err := scanObject(filepath.Join(partDir, suffix, e.Name()))
			if err != nil {
				return nil, err
			}
			if f.data != "" || f.tomb != "" {
				out = append(out, localObject{hash: e.Name(), objectFiles: f})
			}
		}
	}
	return out, nil
}

// sendFile sends one file as the object server's own request: a .data as a
// PUT of its bytes and metadata, a .meta as a POST, a .ts as a DELETE, each
// with the file's timestamp. The receiver checks a PUT's ETag, so a corrupt
// replica is refused rather than spread. A 409 (the receiver holds something
// newer) and a DELETE's or POST's 404 are success.
func (s *Server) sendFile(ctx context.Context, base string, o localObject, name string) error {
	path := filepath.Join(o.dir, name)
	md, err := readMetadata(path)
	if err != nil {
		return err
	}
	objName := md["name"]
	if objName == "" {
		// a .meta carries no name: the .data beside it does
		if dataMD, err := readMetadata(filepath.Join(o.dir, o.data)); err == nil {
			objName = dataMD["name"]
		}
	}
	if !strings.HasPrefix(objName, "/") || strings.Count(objName, "/") < 3 {
		return fmt.Errorf("%s: no object name in its metadata", path)
	}
	headers := http.Header{"X-Backend-Replication": {"True"}}
	for k, v := range md {
		if k != "name" && k != "Content-Length" {
			headers.Set(k, v)
		}
	}
	target := base + escapePath(objName)
	var resp *http.Response
	switch filepath.Ext(name) {
	case ".data":
		fd, err := os.Open(path)
		if err != nil {
			return err
		}
		defer fd.Close()
		fi, err := fd.Stat()
		if err != nil {
			return err
		}
		resp, err = s.replicationRequest(ctx, http.MethodPut, target, fd, fi.Size(), headers)
		if err != nil {
			return err
		}
	default:
		method := http.MethodDelete
		if filepath.Ext(name) == ".meta" {
			method = http.MethodPost
		}
		if resp, err = s.replicationRequest(ctx, method, target, nil, 0, headers); err != nil {
			// a DELETE of nothing still leaves its tombstone; metadata for an
			// object the receiver holds a newer tombstone of has nothing to
			// apply to: both are done
			var status statusError
			if errors.As(err, &status) && status.code == http.StatusNotFound {
				return nil
			}
			return err
		}
	}
	resp.Body.Close()
	return nil
}

// statusError is a replication request's unexpected answer.
type statusError struct {
	method, target string
	code           int
}

func (e statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.target, e.code, http.StatusText(e.code))
}

// replicationRequest sends one request to another object server; a status
// other than 2xx or 409 is an error.
func (s *Server) replicationRequest(ctx context.Context, method, target string, body io.Reader, length int64, h http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if length >= 0 {
		req.ContentLength = length
	}
	for k, v := range h {
		req.Header[k] = v
	}
	setPassPolicy(ctx, req)
	resp, err := s.replClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusConflict {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, statusError{method, target, resp.StatusCode}
	}
	return resp, nil
}

// removeHandedOff removes a handoff partition's files the primaries now hold,
// then whatever directories that empties. A file written since the pass
// began stays (and its suffix stays invalid), for the next pass to hand off.
func removeHandedOff(partDir string, held []localObject) {
	for _, o := range held {
		for _, name := range append(o.files(), o.obsolete...) {
			_ = os.Remove(filepath.Join(o.dir, name))
			_ = os.Remove(filepath.Join(o.dir, sidecarPrefix+name+".metadata"))
		}
		if os.Remove(o.dir) == nil {
			_ = os.Remove(filepath.Dir(o.dir))
		}
	}
	// the cache first: with it gone, a suffix that survives is recomputed
	_ = os.Remove(filepath.Join(partDir, hashesFile))
	_ = os.Remove(filepath.Join(partDir, hashesInvalidFile))
	_ = os.Remove(partDir)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ReplicatorInterval is how often the replicator passes (upstream's
// run_pause is 30 s).
const ReplicatorInterval = 30 * time.Second

// RunReplicator replicates every interval until ctx ends, reading the ring
// anew each pass (a rebalance writes a new one); a ring that cannot be read
// skips the pass.
func (s *Server) RunReplicator(ctx context.Context, interval time.Duration, loadRing func() (*ring.Ring, error), local LocalDevices) {
	runEvery(ctx, interval, func() {
		rg, err := loadRing()
		if err != nil {
			s.log.Warn("object replicator: no ring", "error", err)
			return
		}
		if st := s.ReplicateObjects(ctx, rg, local); st.Sent > 0 || st.Removed > 0 || st.Failures > 0 {
			s.log.Info("object replicator pass", "partitions", st.Partitions, "suffixes", st.Suffixes,
				"sent", st.Sent, "removed", st.Removed, "failures", st.Failures)
		}
	})
}
