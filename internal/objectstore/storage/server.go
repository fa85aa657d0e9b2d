// Package storage is Swift's storage node: the object server (files on disk by
// device, partition, suffix and hash, metadata in extended attributes), and the
// container and account servers (one SQLite database per container and per
// account, holding listings and stats). They speak Swift's backend protocol:
// /<device>/<partition>/<account>[/<container>[/<object>]] with X-Timestamp
// ordering every write, so the proxy and the servers can run in separate
// processes, and the later replicators can merge what they hold.
package storage

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Options configure a storage node.
type Options struct {
	// Devices is the directory holding one directory per device
	// (upstream's devices = /srv/node); a device that is not a directory
	// answers 507, as an unmounted disk.
	Devices string
	// HashPrefix and HashSuffix are the cluster's swift_hash_path_prefix and
	// suffix: names hash with them into directories and partitions.
	HashPrefix, HashSuffix string
	Logger                 *slog.Logger
	// Client sends container and account updates; nil: a client with a
	// 10-second timeout (upstream's node_timeout is 3s, conn_timeout 0.5s).
	Client *http.Client
	// ReclaimAge is how long tombstones and deleted rows are kept (0: a
	// week, upstream's reclaim_age).
	ReclaimAge time.Duration
}

// Server is one storage node's object, container and account servers.
type Server struct {
	opts   Options
	log    *slog.Logger
	client *http.Client
	dbs    *dbCache

	partLocks partitionLocks
	// replClient pushes objects to other object servers: no overall
	// timeout, since an object may take minutes; the pass's context bounds it
	replClient *http.Client

	reporterOnce sync.Once
	reports      *reporter
	reporterDone sync.WaitGroup
	done         chan struct{}
	closeOnce    sync.Once
}

// New prepares a storage node on opts.Devices.
func New(opts Options) (*Server, error) {
	if opts.Devices == "" {
		return nil, errors.New("storage: no devices directory")
	}
	if err := os.MkdirAll(opts.Devices, 0o755); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Server{opts: opts, log: opts.Logger, client: client, dbs: newDBCache(512), done: make(chan struct{}),
		replClient: &http.Client{Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			ResponseHeaderTimeout: time.Minute, MaxIdleConnsPerHost: 4,
		}}}, nil
}

// CloseIdleConnections closes the node's idle connections to other servers.
func (s *Server) CloseIdleConnections() {
	s.client.CloseIdleConnections()
	s.replClient.CloseIdleConnections()
}

// Close closes the databases the node keeps open.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.reporterDone.Wait()
	s.CloseIdleConnections()
	s.dbs.closeAll()
}

// backendPath is a parsed backend request path.
type backendPath struct {
	device    string
	partition int
	account   string
	container string
	object    string
}

// parsePath splits /<device>/<partition>/<account>[/<container>[/<object>]];
// segments are unescaped one by one, so an object name may hold "/" while
// account and container names may not.
func parsePath(r *http.Request, minParts, maxParts int) (backendPath, bool) {
	raw := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	segs := strings.SplitN(raw, "/", 5)
	if len(segs) < minParts || len(segs) > maxParts {
		return backendPath{}, false
	}
	parts := make([]string, len(segs))
	for i, seg := range segs {
		v, err := url.PathUnescape(seg)
		if err != nil || v == "" {
			return backendPath{}, false
		}
		if i < 4 && strings.Contains(v, "/") {
			return backendPath{}, false
		}
		parts[i] = v
	}
	p := backendPath{device: parts[0], account: parts[2]}
	part, err := strconv.Atoi(parts[1])
	if err != nil || part < 0 || part >= 1<<ring.MaxPartPower {
		return backendPath{}, false
	}
	p.partition = part
	if p.device == "." || p.device == ".." || p.account == "." || p.account == ".." {
		return backendPath{}, false
	}
	if len(parts) > 3 {
		p.container = parts[3]
	}
	if len(parts) > 4 {
		p.object = parts[4]
	}
	return p, true
}

// deviceDir is the device's directory, or "" when it is not mounted (missing).
func (s *Server) deviceDir(device string) string {
	dir := filepath.Join(s.opts.Devices, device)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return ""
	}
	return dir
}

// requestDevice parses the request's path (of minParts to maxParts
// segments) and finds its device's directory; when either fails it answers
// (400, 507) and ok is false.
func (s *Server) requestDevice(w http.ResponseWriter, r *http.Request, minParts, maxParts int) (p backendPath, dev string, ok bool) {
	if p, ok = parsePath(r, minParts, maxParts); !ok {
		swob.Text(w, http.StatusBadRequest, "Invalid path: "+r.URL.EscapedPath())
		return p, "", false
	}
	if dev = s.deviceDir(p.device); dev == "" {
		insufficientStorage(w, p.device)
		return p, "", false
	}
	return p, dev, true
}

func insufficientStorage(w http.ResponseWriter, device string) {
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	body := strings.Replace(swob.DefaultBody(http.StatusInsufficientStorage), "%s", device, 1)
	swob.Write(w, http.StatusInsufficientStorage, "text/html; charset=UTF-8", body)
}

// requestTimestamp is the request's X-Timestamp; Swift's servers refuse a
// write without one ("Missing timestamp").
func requestTimestamp(w http.ResponseWriter, r *http.Request) (swob.Timestamp, bool) {
	v := r.Header.Get("X-Timestamp")
	if v == "" {
		swob.Text(w, http.StatusBadRequest, "Missing timestamp")
		return 0, false
	}
	ts, err := swob.ParseTimestamp(v)
	if err != nil {
		swob.Text(w, http.StatusBadRequest, "X-Timestamp should be a UNIX timestamp float value; was "+strconv.Quote(v))
		return 0, false
	}
	return ts, true
}

// hashDir is where a name's files live: <kind>/<partition>/<suffix>/<hash>,
// the suffix being the hash's last three hex digits, as upstream.
func (s *Server) hashDir(devDir, kind string, partition int, account string, more ...string) (string, string) {
	sum := ring.HashPath(s.opts.HashPrefix, s.opts.HashSuffix, account, more...)
	hash := hexString(sum[:])
	return filepath.Join(devDir, kind, strconv.Itoa(partition), hash[len(hash)-3:], hash), hash
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, len(b)*2)
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}

// update is one container or account update a server sends to another.
type update struct {
	method  string
	host    string // ip:port
	device  string
	part    string
	path    string // /account/container[/object]
	headers http.Header
}

// send delivers u; an error means the other server must hear of it later
// (the async-pending files the updater replays).
func (s *Server) send(ctx context.Context, u update) error {
	target := "http://" + u.host + "/" + url.PathEscape(u.device) + "/" + u.part + escapePath(u.path)
	req, err := http.NewRequestWithContext(ctx, u.method, target, nil)
	if err != nil {
		return err
	}
	for k, v := range u.headers {
		req.Header[k] = v
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return errors.New(u.method + " " + target + ": " + resp.Status)
	}
	return nil
}

// escapePath escapes each segment of a /a/c/o path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

// targets pairs the comma-separated X-*-Host, X-*-Device lists of a request
// with its partition, as the proxy sends them (one container replica per
// object replica, or several).
func targets(h http.Header, kind string) []update {
	hosts := splitList(h.Get("X-" + kind + "-Host"))
	devices := splitList(h.Get("X-" + kind + "-Device"))
	part := h.Get("X-" + kind + "-Partition")
	if part == "" {
		return nil
	}
	if _, err := strconv.Atoi(part); err != nil {
		return nil
	}
	var out []update
	for i := range min(len(hosts), len(devices)) {
		out = append(out, update{host: hosts[i], device: devices[i], part: part})
	}
	return out
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
