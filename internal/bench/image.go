package bench

import (
	"context"
	"encoding/json"
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
	// ServerPID, when set, is sampled for resident memory during the transfers.
	ServerPID int
	// Rounds repeats upload, download, dd write and dd read, interleaved, and reports
	// the medians: a shared disk's rate varies from one second to the next.
	Rounds int
	// ColdReads drops the page cache before each read (download, dd read), so both
	// read from the disk; it needs root. Without it both read from memory.
	ColdReads bool
}

// ImageReport is the outcome: rates in MB/s (10^6 bytes), ratios to dd.
type ImageReport struct {
	SizeBytes      int64   `json:"size_bytes"`
	Rounds         int     `json:"rounds"`
	UploadMBps     float64 `json:"upload_mb_per_s"`
	DownloadMBps   float64 `json:"download_mb_per_s"`
	DDWriteMBps    float64 `json:"dd_write_mb_per_s"`
	DDReadMBps     float64 `json:"dd_read_mb_per_s"`
	UploadRatio    float64 `json:"upload_ratio_to_dd"`
	DownloadRatio  float64 `json:"download_ratio_to_dd"`
	ServerRSSStart int64   `json:"server_rss_start_bytes,omitempty"`
	ServerRSSPeak  int64   `json:"server_rss_peak_bytes,omitempty"`
	ColdReads      bool    `json:"cold_reads"`
}

// Image uploads an image of o.Size through PUT /v2/images/{id}/file (the server
// hashes it with md5 and sha512 and fsyncs it), downloads it, deletes it, and times
// dd writing (conv=fsync) and reading the same size in o.DDDir for comparison.
func Image(ctx context.Context, o ImageOptions, progress func(string)) (*ImageReport, error) {
	if o.Size <= 0 {
		o.Size = 1 << 30
	}
	if o.DDDir == "" {
		o.DDDir = os.TempDir()
	}
	if err := CheckLoopback(ctx, o.Credentials.AuthURL); err != nil {
		return nil, err
	}
	base, err := identityBase(o.Credentials.AuthURL)
	if err != nil {
		return nil, err
	}
	ks := newKeystone(base, 1, 10*time.Minute)
	defer ks.close()
	hdr, body, err := ks.request(ctx, http.MethodPost, "/auth/tokens", passwordBody(o.Credentials, true), nil, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	token := hdr.Get("X-Subject-Token")
	imageURL, err := publicEndpoint(body, "image")
	if err != nil {
		return nil, err
	}
	img := newKeystone(imageURL, 1, 10*time.Minute)
	defer img.close()
	rep := &ImageReport{SizeBytes: o.Size, ColdReads: o.ColdReads}
	mem := sampleRSS(o.ServerPID)
	rep.ServerRSSStart = mem.start

	if o.Rounds < 1 {
		o.Rounds = 1
	}
	rep.Rounds = o.Rounds
	var up, down, ddw, ddr []float64
	for round := range o.Rounds {
		progress(fmt.Sprintf("round %d of %d: %d MiB up, down, then dd in %s", round+1, o.Rounds, o.Size>>20, o.DDDir))
		u, d, err := transfer(ctx, img, imageURL, token, o)
		if err != nil {
			return nil, err
		}
		w, r, err := ddRates(ctx, o.DDDir, o.Size, o.ColdReads)
		if err != nil {
			return nil, err
		}
		up, down, ddw, ddr = append(up, u), append(down, d), append(ddw, w), append(ddr, r)
	}
	rep.ServerRSSPeak = mem.stop()
	rep.UploadMBps, rep.DownloadMBps, rep.DDWriteMBps, rep.DDReadMBps = median(up), median(down), median(ddw), median(ddr)
	rep.UploadRatio = rep.UploadMBps / rep.DDWriteMBps
	rep.DownloadRatio = rep.DownloadMBps / rep.DDReadMBps
	return rep, nil
}

// transfer uploads and downloads one image and returns both rates.
func transfer(ctx context.Context, img *keystone, imageURL, token string, o ImageOptions) (up, down float64, err error) {
	auth := map[string]string{"X-Auth-Token": token}
	_, created, err := img.request(ctx, http.MethodPost, "/v2/images", mustJSON(map[string]any{
		"name": "nimbus-bench-image", "disk_format": "raw", "container_format": "bare"}), auth, http.StatusCreated)
	if err != nil {
		return 0, 0, err
	}
	var im struct{ ID string }
	if err := json.Unmarshal(created, &im); err != nil {
		return 0, 0, err
	}
	defer img.request(context.WithoutCancel(ctx), http.MethodDelete, "/v2/images/"+im.ID, nil, auth, http.StatusNoContent)

	start := time.Now()
	if err := stream(ctx, img.client, http.MethodPut, imageURL+"/v2/images/"+im.ID+"/file", token, newPatternReader(o.Size), o.Size, http.StatusNoContent); err != nil {
		return 0, 0, err
	}
	up = mbps(o.Size, time.Since(start))
	if err := maybeDropCaches(o.ColdReads); err != nil {
		return 0, 0, err
	}
	start = time.Now()
	if err := stream(ctx, img.client, http.MethodGet, imageURL+"/v2/images/"+im.ID+"/file", token, nil, 0, http.StatusOK); err != nil {
		return 0, 0, err
	}
	down = mbps(o.Size, time.Since(start))
	return up, down, nil
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
	if _, err := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 1<<20)); err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d, want %d", method, url, resp.StatusCode, want)
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

// ddRates times dd writing size bytes with an fsync at the end, then reading them.
// dd copies the same bytes the upload sends, from a file in memory (/dev/shm): a
// virtual disk may write zeros for free, so /dev/zero would flatter dd.
func ddRates(ctx context.Context, dir string, size int64, cold bool) (write, read float64, err error) {
	src := filepath.Join(os.TempDir(), "nimbus-bench-src."+strconv.Itoa(os.Getpid()))
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		src = filepath.Join("/dev/shm", filepath.Base(src))
	}
	if err := writePattern(src, size); err != nil {
		return 0, 0, err
	}
	defer os.Remove(src)
	f := filepath.Join(dir, "nimbus-bench-dd."+strconv.Itoa(os.Getpid()))
	defer os.Remove(f)
	start := time.Now()
	if out, err := exec.CommandContext(ctx, "dd", "if="+src, "of="+f, "bs=1M", "conv=fsync").CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("dd: %v: %s", err, out)
	}
	write = mbps(size, time.Since(start))
	if err := maybeDropCaches(cold); err != nil {
		return 0, 0, err
	}
	start = time.Now()
	if out, err := exec.CommandContext(ctx, "dd", "if="+f, "of=/dev/null", "bs=1M").CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("dd: %v: %s", err, out)
	}
	return write, mbps(size, time.Since(start)), nil
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

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

// maybeDropCaches writes dirty pages out and drops the page cache, so the next read
// comes from the disk.
func maybeDropCaches(drop bool) error {
	if !drop {
		return nil
	}
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0); err != nil {
		return fmt.Errorf("drop the page cache (needs root; or run without --cold-reads): %w", err)
	}
	return nil
}

func writePattern(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.CopyBuffer(f, newPatternReader(size), make([]byte, 1<<20)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
