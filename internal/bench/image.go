package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ImageOptions configure the image transfer scenario.
type ImageOptions struct {
	Credentials Credentials
	// Size of the image uploaded and downloaded (default 1 GiB).
	Size int64
	// DDDir is where dd writes and reads the same size, on the disk the image store
	// uses (default: the system temp dir; point it at the data dir's disk).
	DDDir string
	// ServerPID, when set, is sampled for resident memory and CPU during the transfers.
	ServerPID int
	// ImageDir is the server's image store directory, when known (a cloud the bench
	// started): the image file is then evicted from the page cache before a cold
	// download without needing root, and its cached share is reported.
	ImageDir string
	// Rounds repeats upload, download, dd write and dd read, interleaved, and reports
	// the medians: a shared disk's rate varies from one second to the next.
	Rounds int
	// ColdReads evicts the files from the page cache before each read (download, dd
	// read), so both read from the disk: per file with posix_fadvise where the bench
	// knows the path, else by dropping the whole page cache (root).
	ColdReads bool
}

// ImageRound is one round's figures. Rates are MB/s (10^6 bytes); cores are CPU
// seconds per second of the upload; cached shares are 0..1, -1 when unknown.
type ImageRound struct {
	UploadMBps          float64 `json:"upload_mb_per_s"`
	DownloadMBps        float64 `json:"download_mb_per_s"`
	DDWriteMBps         float64 `json:"dd_write_mb_per_s"`
	DDDirectMBps        float64 `json:"dd_direct_write_mb_per_s"`
	DDReadMBps          float64 `json:"dd_read_mb_per_s"`
	UploadServerCores   float64 `json:"upload_server_cores"`
	UploadBenchCores    float64 `json:"upload_bench_cores"`
	UploadOtherCores    float64 `json:"upload_other_cores"`
	DownloadServerCores float64 `json:"download_server_cores"`
	DownloadBenchCores  float64 `json:"download_bench_cores"`
	DownloadOtherCores  float64 `json:"download_other_cores"`
	DownloadCached      float64 `json:"download_cached_share"`
	DDReadCached        float64 `json:"dd_read_cached_share"`
}

// ImageReport is the outcome: medians over the rounds, ratios to dd.
type ImageReport struct {
	SizeBytes      int64        `json:"size_bytes"`
	Rounds         []ImageRound `json:"rounds"`
	UploadMBps     float64      `json:"upload_mb_per_s"`
	DownloadMBps   float64      `json:"download_mb_per_s"`
	DDWriteMBps    float64      `json:"dd_write_mb_per_s"`
	DDDirectMBps   float64      `json:"dd_direct_write_mb_per_s"`
	DDReadMBps     float64      `json:"dd_read_mb_per_s"`
	UploadRatio    float64      `json:"upload_ratio_to_dd"`
	DownloadRatio  float64      `json:"download_ratio_to_dd"`
	ServerRSSStart int64        `json:"server_rss_start_bytes,omitempty"`
	ServerRSSPeak  int64        `json:"server_rss_peak_bytes,omitempty"`
	ColdReads      bool         `json:"cold_reads"`
}

// Image uploads an image of o.Size through PUT /v2/images/{id}/file (the server
// hashes it with md5 and sha512 and fsyncs it), downloads it, deletes it, and times
// dd writing (conv=fsync, and oflag=direct for the disk's own rate) and reading the
// same size in o.DDDir for comparison.
func Image(ctx context.Context, o ImageOptions, progress func(string)) (*ImageReport, error) {
	if o.Size <= 0 {
		o.Size = 1 << 30
	}
	if o.DDDir == "" {
		o.DDDir = os.TempDir()
	}
	o.Rounds = max(o.Rounds, 1)
	token, imageURL, _, err := serviceLogin(ctx, o.Credentials, "image")
	if err != nil {
		return nil, err
	}
	img := newKeystone(imageURL, 1, 10*time.Minute)
	defer img.close()

	// One source file in memory (/dev/shm) feeds both the upload (sent with sendfile,
	// so the bench costs the machine little) and dd.
	src, err := writeSource(o.Size)
	if err != nil {
		return nil, err
	}
	defer os.Remove(src)

	rep := &ImageReport{SizeBytes: o.Size, ColdReads: o.ColdReads}
	mem := sampleRSS(o.ServerPID)
	rep.ServerRSSStart = mem.start
	for round := range o.Rounds {
		progress(fmt.Sprintf("round %d of %d: %d MiB up, down, then dd in %s", round+1, o.Rounds, o.Size>>20, o.DDDir))
		r, err := transfer(ctx, img, imageURL, token, src, o)
		if err != nil {
			mem.stop()
			return nil, err
		}
		if err := ddRates(ctx, src, o, &r); err != nil {
			mem.stop()
			return nil, err
		}
		rep.Rounds = append(rep.Rounds, r)
	}
	rep.ServerRSSPeak = mem.stop()
	pick := func(f func(ImageRound) float64) float64 {
		var v []float64
		for _, r := range rep.Rounds {
			v = append(v, f(r))
		}
		return median(v)
	}
	rep.UploadMBps = pick(func(r ImageRound) float64 { return r.UploadMBps })
	rep.DownloadMBps = pick(func(r ImageRound) float64 { return r.DownloadMBps })
	rep.DDWriteMBps = pick(func(r ImageRound) float64 { return r.DDWriteMBps })
	rep.DDDirectMBps = pick(func(r ImageRound) float64 { return r.DDDirectMBps })
	rep.DDReadMBps = pick(func(r ImageRound) float64 { return r.DDReadMBps })
	rep.UploadRatio = rep.UploadMBps / rep.DDWriteMBps
	rep.DownloadRatio = rep.DownloadMBps / rep.DDReadMBps
	return rep, nil
}

// transfer uploads and downloads one image and returns both rates, with the CPU the
// server, the bench and everything else spent during the upload.
func transfer(ctx context.Context, img *keystone, imageURL, token, src string, o ImageOptions) (ImageRound, error) {
	r := ImageRound{DownloadCached: -1, DDReadCached: -1}
	auth := map[string]string{"X-Auth-Token": token}
	_, created, err := img.request(ctx, http.MethodPost, "/v2/images", mustJSON(map[string]any{
		"name": "nimbus-bench-image", "disk_format": "raw", "container_format": "bare"}), auth, http.StatusCreated)
	if err != nil {
		return r, err
	}
	var im struct{ ID string }
	if err := json.Unmarshal(created, &im); err != nil {
		return r, err
	}
	defer img.request(context.WithoutCancel(ctx), http.MethodDelete, "/v2/images/"+im.ID, nil, auth, http.StatusNoContent)

	f, err := os.Open(src)
	if err != nil {
		return r, err
	}
	defer f.Close()
	cpu := startCPU(o.ServerPID)
	start := time.Now()
	if err := stream(ctx, img.client, http.MethodPut, imageURL+"/v2/images/"+im.ID+"/file", token, f, o.Size, http.StatusNoContent); err != nil {
		return r, err
	}
	elapsed := time.Since(start)
	r.UploadMBps = mbps(o.Size, elapsed)
	r.UploadServerCores, r.UploadBenchCores, r.UploadOtherCores = cpu.stop(elapsed)

	imagePath := ""
	if o.ImageDir != "" {
		imagePath = filepath.Join(o.ImageDir, im.ID)
	}
	if r.DownloadCached, err = coldRead(o.ColdReads, imagePath); err != nil {
		return r, err
	}
	cpu = startCPU(o.ServerPID)
	start = time.Now()
	if err := stream(ctx, img.client, http.MethodGet, imageURL+"/v2/images/"+im.ID+"/file", token, nil, 0, http.StatusOK); err != nil {
		return r, err
	}
	elapsed = time.Since(start)
	r.DownloadMBps = mbps(o.Size, elapsed)
	r.DownloadServerCores, r.DownloadBenchCores, r.DownloadOtherCores = cpu.stop(elapsed)
	return r, nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	slices.Sort(s)
	return s[len(s)/2]
}

// publicEndpoint finds a service's public URL in a token response's catalog.
func publicEndpoint(tokenBody []byte, serviceType string) (string, error) {
	var doc struct {
		Token struct {
			Catalog []struct {
				Type      string
				Endpoints []struct{ Interface, URL string }
			}
		}
	}
	if err := json.Unmarshal(tokenBody, &doc); err != nil {
		return "", err
	}
	for _, s := range doc.Token.Catalog {
		for _, e := range s.Endpoints {
			if s.Type == serviceType && e.Interface == "public" {
				return e.URL, nil
			}
		}
	}
	return "", fmt.Errorf("the catalog has no public %s endpoint", serviceType)
}

// stream sends body (or reads the response, for GET) without holding it in memory.
// An *os.File body goes out with sendfile.
func stream(ctx context.Context, client *http.Client, method, url, token string, body io.Reader, size int64, want int) error {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", token)
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// io.Discard's own ReadFrom reads 8 KiB at a time: hide it, so reads are of up to 1 MiB
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, resp.Body, make([]byte, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d, want %d", method, url, resp.StatusCode, want)
	}
	if method == http.MethodGet && n != resp.ContentLength {
		return fmt.Errorf("%s %s: %d bytes, want %d", method, url, n, resp.ContentLength)
	}
	return nil
}

// patternReader yields n bytes of a random 1 MiB block, repeated: incompressible for
// anything that looks at less than a MiB, and free to produce.
type patternReader struct {
	block []byte
	left  int64
	off   int
}

func newPatternReader(n int64) *patternReader {
	b := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return &patternReader{block: b, left: n}
}

func (p *patternReader) Read(buf []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := copy(buf[:min(int64(len(buf)), p.left)], p.block[p.off:])
	p.off = (p.off + n) % len(p.block)
	p.left -= int64(n)
	return n, nil
}

// writeSource writes the bytes every upload and dd write send, in memory (/dev/shm)
// where there is one: a virtual disk may write zeros for free, so /dev/zero would
// flatter dd, and reading the source from a disk would slow both.
func writeSource(size int64) (string, error) {
	dir := os.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dir = "/dev/shm"
	}
	f, err := os.CreateTemp(dir, "nimbus-bench-src.")
	if err != nil {
		return "", err
	}
	if _, err := io.CopyBuffer(f, newPatternReader(size), make([]byte, 1<<20)); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), f.Close()
}

// ddRates times dd writing the source with an fsync at the end (the upload's anchor),
// then with direct I/O (the disk's own rate, and how the image store writes), then
// reading that file back (the download's anchor: a file written as images are).
func ddRates(ctx context.Context, src string, o ImageOptions, r *ImageRound) error {
	f := filepath.Join(o.DDDir, "nimbus-bench-dd."+strconv.Itoa(os.Getpid()))
	defer os.Remove(f)
	dd := func(args ...string) (float64, error) {
		start := time.Now()
		if out, err := exec.CommandContext(ctx, "dd", append(args, "bs=1M")...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("dd: %v: %s", err, out)
		}
		return mbps(o.Size, time.Since(start)), nil
	}
	var err error
	if r.DDWriteMBps, err = dd("if="+src, "of="+f, "conv=fsync"); err != nil {
		return err
	}
	os.Remove(f)
	if r.DDDirectMBps, err = dd("if="+src, "of="+f, "oflag=direct", "conv=fsync"); err != nil {
		return err
	}
	if r.DDReadCached, err = coldRead(o.ColdReads, f); err != nil {
		return err
	}
	r.DDReadMBps, err = dd("if="+f, "of=/dev/null")
	return err
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

// coldRead readies a read of path: with cold, evicts it from the page cache (per
// file when path is known, else the whole cache, which needs root); then returns
// the share of path's pages still cached (-1 when path is unknown).
func coldRead(cold bool, path string) (float64, error) {
	if cold {
		if err := evict(path); err != nil {
			return 0, err
		}
	}
	if path == "" {
		return -1, nil
	}
	share, err := cachedShare(path)
	if err != nil {
		return -1, nil
	}
	return share, nil
}

// evict drops path's pages from the page cache (they are clean: both writers
// fsynced), or, with no path, the whole page cache.
func evict(path string) error {
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return fadviseDontNeed(f)
	}
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0); err != nil {
		return errors.New("cold reads of a server's image need its image directory (--start) or root to drop the page cache; run with --cold-reads=false to read warm")
	}
	return nil
}

// cpuMeter measures the CPU of the server, of the bench and of the whole machine.
type cpuMeter struct {
	pid                   int
	server, self, machine time.Duration
	ok                    bool
}

func startCPU(pid int) cpuMeter {
	m := cpuMeter{pid: pid, ok: pid > 0}
	var err1, err2, err3 error
	m.server, err1 = cpuTime(pid)
	m.self, err2 = cpuTime(os.Getpid())
	m.machine, err3 = machineBusy()
	m.ok = m.ok && err1 == nil && err2 == nil && err3 == nil
	return m
}

// stop returns the cores the server, the bench and everything else kept busy, or -1s.
func (m cpuMeter) stop(elapsed time.Duration) (server, bench, other float64) {
	s, err1 := cpuTime(m.pid)
	b, err2 := cpuTime(os.Getpid())
	all, err3 := machineBusy()
	if !m.ok || err1 != nil || err2 != nil || err3 != nil || elapsed <= 0 {
		return -1, -1, -1
	}
	sec := elapsed.Seconds()
	server, bench = (s-m.server).Seconds()/sec, (b-m.self).Seconds()/sec
	return server, bench, max((all-m.machine).Seconds()/sec-server-bench, 0)
}

// rssSampler records a process's resident memory every 50 ms.
type rssSampler struct {
	start int64
	peak  int64
	done  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{done: make(chan struct{})}
	if pid <= 0 {
		return s
	}
	s.start, _ = RSS(pid)
	s.peak = s.start
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				if v, err := RSS(pid); err == nil {
					s.mu.Lock()
					s.peak = max(s.peak, v)
					s.mu.Unlock()
				}
			}
		}
	}()
	return s
}

func (s *rssSampler) stop() int64 {
	close(s.done)
	s.wg.Wait()
	return s.peak
}
