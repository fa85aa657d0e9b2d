package storage

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// The receiving half of replication, as upstream's ssync_receiver
// missing_check: the sender lists the objects of the suffixes that differ,
// one "<hash> <timestamp> [<meta timestamp>]" line each (the timestamp its
// .data's or .ts's); the receiver answers the lines it wants, "<hash> d"
// (the data or tombstone), "<hash> m" (the metadata) or "<hash> dm". The
// sender then sends each wanted file as the object server's own PUT, POST or
// DELETE carrying the file's X-Timestamp, so the receiver keeps last-write-wins
// and invalidates its suffixes as for any write (upstream's ssync updates
// phase, over plain requests instead of one long stream).

// maxMissingCheck bounds the list a sender may post (a partition's objects,
// about 70 bytes each).
const maxMissingCheck = 64 << 20

// missingCheck answers SSYNC /<device>/<partition>.
func (s *Server) missingCheck(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) != 2 {
		swob.Text(w, http.StatusBadRequest, "Invalid path: "+r.URL.EscapedPath())
		return
	}
	partDir, ok := s.partitionDir(w, r, segs[0], segs[1])
	if !ok {
		return
	}
	var out strings.Builder
	sc := bufio.NewScanner(io.LimitReader(r.Body, maxMissingCheck))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) > 3 || !isObjectHash(fields[0]) {
			swob.Text(w, http.StatusBadRequest, "Invalid missing check line")
			return
		}
		var ts, metaTS swob.Timestamp
		var err error
		if len(fields) > 1 {
			ts, err = swob.ParseTimestamp(fields[1])
		}
		if err == nil && len(fields) > 2 {
			metaTS, err = swob.ParseTimestamp(fields[2])
		}
		if err != nil || len(fields) < 2 {
			swob.Text(w, http.StatusBadRequest, "Invalid missing check line")
			return
		}
		hash := fields[0]
		have, err := scanObject(filepath.Join(partDir, hash[len(hash)-3:], hash))
		if err != nil {
			s.log.Error("object SSYNC", "partition", partDir, "hash", hash, "error", err)
			swob.Error(w, http.StatusInternalServerError)
			return
		}
		want := ""
		if have.newest() < ts {
			want += "d"
		}
		// metadata applies to data: none for an object this receiver holds a
		// newer tombstone of
		if metaTS != 0 && max(have.newest(), have.metaTime) < metaTS && (have.data != "" || want != "") {
			want += "m"
		}
		if want != "" {
			fmt.Fprintf(&out, "%s %s\n", hash, want)
		}
	}
	if sc.Err() != nil {
		swob.Text(w, http.StatusBadRequest, "Invalid missing check list")
		return
	}
	swob.Write(w, http.StatusOK, "text/plain", out.String())
}

// isObjectHash reports whether name is an object's hash directory's name.
func isObjectHash(name string) bool {
	if len(name) != 32 {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil && strings.ToLower(name) == name
}
