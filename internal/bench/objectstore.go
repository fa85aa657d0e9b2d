package bench

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ObjectStoreOptions configure the object-store scenario. The target is a Swift v1
// storage URL (http://host:port/v1/AUTH_x) and a token: given as such (any Swift,
// e.g. upstream's with tempauth), or found by logging in with Credentials and taking
// the catalog's object-store endpoint.
type ObjectStoreOptions struct {
	Credentials Credentials
	StorageURL  string
	Token       string
	// Small objects: SmallSize bytes (4 KiB), PUT then GET at Concurrency (8) for
	// SmallDuration each (after SmallWarmup), at most SmallMax requests each.
	SmallSize     int
	Concurrency   int
	SmallDuration time.Duration
	SmallWarmup   time.Duration
	SmallMax      int64
	// Large objects: LargeSize bytes (256 MiB) PUT then GET, LargeRounds times.
	LargeSize   int64
	LargeRounds int
	// ListingObjects are put in a container of their own (at Concurrency), which is
	// then listed whole, paged as swiftclient pages, ListingRounds times.
	ListingObjects int
	ListingRounds  int
	// DDDir is a directory on the disk of the store's devices: dd writes and reads
	// LargeSize there, the anchor for the large-object rates.
	DDDir string
	// ServerPIDs are the store's processes (Nimbus's one, or upstream's proxy and
	// servers): their resident memory is sampled during the large transfers and
	// their CPU measured during the small-object runs.
	ServerPIDs []int
	Timeout    time.Duration
}

// ObjectStoreReport is the scenario's outcome. MB/s are 10^6 bytes per second.
type ObjectStoreReport struct {
	StorageURL     string  `json:"storage_url"`
	SmallSize      int     `json:"small_size_bytes"`
	Concurrency    int     `json:"concurrency"`
	SmallPut       Stats   `json:"small_put"`
	SmallGet       Stats   `json:"small_get"`
	LargeSize      int64   `json:"large_size_bytes"`
	LargePutMBps   float64 `json:"large_put_mb_per_s"`
	LargeGetMBps   float64 `json:"large_get_mb_per_s"`
	DDWriteMBps    float64 `json:"dd_write_mb_per_s"`
	DDReadMBps     float64 `json:"dd_read_mb_per_s"`
	PutRatio       float64 `json:"large_put_ratio_to_dd"`
	GetRatio       float64 `json:"large_get_ratio_to_dd"`
	ServerRSSStart int64   `json:"server_rss_start_bytes,omitempty"`
	ServerRSSPeak  int64   `json:"server_rss_peak_bytes,omitempty"`
	// ListingObjects is how many objects the listed container held; ListingTime the
	// median time to list them all, ListingPages the requests that took.
	ListingObjects int           `json:"listing_objects"`
	ListingTime    time.Duration `json:"listing_ns"`
	ListingPages   int           `json:"listing_pages"`
}

// swiftTarget is a storage URL, its token and a client that keeps connections.
type swiftTarget struct {
	url, token string
	client     *http.Client
}

// do sends one request and drains the answer; it fails unless the status is one of want.
func (s *swiftTarget) do(ctx context.Context, method, path string, body io.Reader, size int64, hdr map[string]string, want ...int) (http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, body)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	req.Header.Set("X-Auth-Token", s.token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return resp.Header, data, nil
		}
	}
	return nil, nil, fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, snippet(data))
}

// ObjectStore runs the scenario: small PUT/s and GET/s, large PUT and GET MB/s
// beside dd, and the time to list a container of ListingObjects. Everything it
// creates is in containers named nimbus-bench-<random>, deleted at the end.
func ObjectStore(ctx context.Context, o ObjectStoreOptions, progress func(string)) (*ObjectStoreReport, error) {
	if o.SmallSize <= 0 {
		o.SmallSize = 4096
	}
	o.Concurrency = max(o.Concurrency, 1)
	if o.SmallDuration <= 0 {
		o.SmallDuration = 10 * time.Second
	}
	if o.SmallMax <= 0 {
		o.SmallMax = 1 << 40
	}
	if o.LargeSize <= 0 {
		o.LargeSize = 256 << 20
	}
	o.LargeRounds, o.ListingRounds = max(o.LargeRounds, 1), max(o.ListingRounds, 1)
	if o.ListingObjects < 0 {
		o.ListingObjects = 0
	}
	if o.DDDir == "" {
		o.DDDir = os.TempDir()
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.StorageURL == "" || o.Token == "" {
		if o.Credentials.AuthURL == "" {
			return nil, ErrNoStorageURL
		}
		token, endpoint, _, err := serviceLogin(ctx, o.Credentials, "object-store")
		if err != nil {
			return nil, err
		}
		o.StorageURL, o.Token = endpoint, token
	}
	if err := CheckLoopback(ctx, o.StorageURL); err != nil {
		return nil, err
	}
	client := newKeystone(o.StorageURL, o.Concurrency, o.Timeout)
	defer client.close()
	s := &swiftTarget{url: o.StorageURL, token: o.Token, client: client.client}

	suffix := make([]byte, 4)
	_, _ = crand.Read(suffix)
	container := "/nimbus-bench-" + hex.EncodeToString(suffix)
	listing := container + "-listing"
	for _, c := range []string{container, listing} {
		if _, _, err := s.do(ctx, http.MethodPut, c, nil, 0, nil, http.StatusCreated, http.StatusAccepted); err != nil {
			return nil, err
		}
	}
	var written sync.Map // object path -> struct{}, to delete at the end
	defer func() {
		progress("deleting what the bench wrote")
		cleanup(context.WithoutCancel(ctx), s, &written, o.Concurrency, container, listing)
	}()

	rep := &ObjectStoreReport{StorageURL: o.StorageURL, SmallSize: o.SmallSize, Concurrency: o.Concurrency,
		LargeSize: o.LargeSize}
	if err := smallObjects(ctx, s, o, container, &written, rep, progress); err != nil {
		return rep, err
	}
	if err := largeObjects(ctx, s, o, container, &written, rep, progress); err != nil {
		return rep, err
	}
	if err := listContainer(ctx, s, o, listing, &written, rep, progress); err != nil {
		return rep, err
	}
	return rep, nil
}

// smallObjects measures PUTs of distinct objects, then GETs of random ones of them.
func smallObjects(ctx context.Context, s *swiftTarget, o ObjectStoreOptions, container string, written *sync.Map,
	rep *ObjectStoreReport, progress func(string)) error {
	body := newPatternReader(int64(o.SmallSize)).block[:o.SmallSize]
	var seq atomic.Int64
	var names []string
	var mu sync.Mutex
	put := func(ctx context.Context, _ int) error {
		name := container + "/small-" + strconv.FormatInt(seq.Add(1), 10)
		_, _, err := s.do(ctx, http.MethodPut, name, bytes.NewReader(body), int64(len(body)),
			map[string]string{"Content-Type": "application/octet-stream"}, http.StatusCreated)
		if err == nil {
			written.Store(name, struct{}{})
			mu.Lock()
			names = append(names, name)
			mu.Unlock()
		}
		return err
	}
	load := Load{Concurrency: o.Concurrency, Duration: o.SmallDuration, Warmup: o.SmallWarmup, MaxRequests: o.SmallMax}
	progress(fmt.Sprintf("%d-byte PUTs at concurrency %d for %s", o.SmallSize, o.Concurrency, o.SmallDuration))
	Warm(ctx, load, put)
	rep.SmallPut = measureUsage(ctx, "small PUT", load, put, o.ServerPIDs...)
	if len(names) == 0 {
		return fmt.Errorf("no small object was written: %s", rep.SmallPut.FirstError)
	}
	get := func(ctx context.Context, _ int) error {
		name := names[rand.IntN(len(names))]
		_, data, err := s.do(ctx, http.MethodGet, name, nil, 0, nil, http.StatusOK)
		if err == nil && len(data) != len(body) {
			return fmt.Errorf("GET %s: %d bytes, want %d", name, len(data), len(body))
		}
		return err
	}
	progress(fmt.Sprintf("%d-byte GETs at concurrency %d for %s", o.SmallSize, o.Concurrency, o.SmallDuration))
	Warm(ctx, load, get)
	rep.SmallGet = measureUsage(ctx, "small GET", load, get, o.ServerPIDs...)
	if rep.SmallPut.Errors > 0 || rep.SmallGet.Errors > 0 {
		return fmt.Errorf("small objects: %d PUT and %d GET errors; first: %s %s", rep.SmallPut.Errors,
			rep.SmallGet.Errors, rep.SmallPut.FirstError, rep.SmallGet.FirstError)
	}
	return nil
}

// largeObjects streams LargeSize up and down LargeRounds times (medians reported),
// sampling the servers' memory, and times dd on the same disk between rounds.
func largeObjects(ctx context.Context, s *swiftTarget, o ObjectStoreOptions, container string, written *sync.Map,
	rep *ObjectStoreReport, progress func(string)) error {
	src, err := writeSource(o.LargeSize)
	if err != nil {
		return err
	}
	defer os.Remove(src)
	mem := sampleRSSOf(o.ServerPIDs)
	rep.ServerRSSStart = mem.start
	defer func() { rep.ServerRSSPeak = mem.stop() }()
	var puts, gets, ddw, ddr []float64
	for round := range o.LargeRounds {
		progress(fmt.Sprintf("round %d of %d: %d MiB PUT, GET, then dd in %s", round+1, o.LargeRounds, o.LargeSize>>20, o.DDDir))
		name := container + "/large-" + strconv.Itoa(round)
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		start := time.Now()
		err = stream(ctx, s.client, http.MethodPut, s.url+name, s.token, f, o.LargeSize, http.StatusCreated)
		f.Close()
		if err != nil {
			return err
		}
		puts = append(puts, mbps(o.LargeSize, time.Since(start)))
		written.Store(name, struct{}{})
		start = time.Now()
		if err := stream(ctx, s.client, http.MethodGet, s.url+name, s.token, nil, 0, http.StatusOK); err != nil {
			return err
		}
		gets = append(gets, mbps(o.LargeSize, time.Since(start)))
		var r ImageRound
		if err := ddRates(ctx, src, ImageOptions{Size: o.LargeSize, DDDir: o.DDDir}, &r); err != nil {
			return err
		}
		ddw, ddr = append(ddw, r.DDWriteMBps), append(ddr, r.DDReadMBps)
	}
	rep.LargePutMBps, rep.LargeGetMBps = median(puts), median(gets)
	rep.DDWriteMBps, rep.DDReadMBps = median(ddw), median(ddr)
	rep.PutRatio, rep.GetRatio = rep.LargePutMBps/rep.DDWriteMBps, rep.LargeGetMBps/rep.DDReadMBps
	return nil
}

// listContainer fills a container with ListingObjects empty objects, then lists
// it whole as swiftclient's get_container(full_listing=True) does: JSON pages of
// the server's default limit, each from the last name of the one before, until an
// empty page.
func listContainer(ctx context.Context, s *swiftTarget, o ObjectStoreOptions, container string, written *sync.Map,
	rep *ObjectStoreReport, progress func(string)) error {
	if o.ListingObjects == 0 {
		return nil
	}
	progress(fmt.Sprintf("putting %d objects in a container to list", o.ListingObjects))
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(o.ListingObjects) || ctx.Err() != nil {
					return
				}
				name := fmt.Sprintf("%s/obj-%08d", container, i)
				if _, _, err := s.do(ctx, http.MethodPut, name, bytes.NewReader(nil), 0, nil, http.StatusCreated); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				written.Store(name, struct{}{})
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	var times []float64
	for round := range o.ListingRounds {
		progress(fmt.Sprintf("listing round %d of %d", round+1, o.ListingRounds))
		start := time.Now()
		n, pages, err := fullListing(ctx, s, container)
		if err != nil {
			return err
		}
		times = append(times, float64(time.Since(start)))
		if n != o.ListingObjects {
			return fmt.Errorf("listed %d objects, want %d", n, o.ListingObjects)
		}
		rep.ListingPages = pages
	}
	rep.ListingObjects, rep.ListingTime = o.ListingObjects, time.Duration(median(times))
	return nil
}

// fullListing lists container whole, page after page; it returns the names counted
// and the requests made.
func fullListing(ctx context.Context, s *swiftTarget, container string) (names, pages int, err error) {
	marker := ""
	for {
		path := container + "?format=json"
		if marker != "" {
			path += "&marker=" + url.QueryEscape(marker)
		}
		_, data, err := s.do(ctx, http.MethodGet, path, nil, 0, nil, http.StatusOK, http.StatusNoContent)
		if err != nil {
			return names, pages, err
		}
		pages++
		var page []struct {
			Name string `json:"name"`
		}
		if len(data) > 0 {
			if err := json.Unmarshal(data, &page); err != nil {
				return names, pages, fmt.Errorf("listing: %w", err)
			}
		}
		if len(page) == 0 {
			return names, pages, nil
		}
		names += len(page)
		marker = page[len(page)-1].Name
	}
}

// cleanup deletes every object written, then the containers; failures are ignored
// (a bench that cannot clean up has already reported why).
func cleanup(ctx context.Context, s *swiftTarget, written *sync.Map, concurrency int, containers ...string) {
	names := make(chan string)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for name := range names {
				_, _, _ = s.do(ctx, http.MethodDelete, name, nil, 0, nil, http.StatusNoContent, http.StatusNotFound)
			}
		})
	}
	written.Range(func(k, _ any) bool {
		names <- k.(string)
		return true
	})
	close(names)
	wg.Wait()
	for _, c := range containers {
		_, _, _ = s.do(ctx, http.MethodDelete, c, nil, 0, nil, http.StatusNoContent, http.StatusNotFound)
	}
}

// multiRSS samples the summed resident memory of several processes every 50 ms.
type multiRSS struct {
	start, peak int64
	done        chan struct{}
	wg          sync.WaitGroup
}

func sampleRSSOf(pids []int) *multiRSS {
	m := &multiRSS{done: make(chan struct{})}
	if len(pids) == 0 {
		return m
	}
	m.start = totalRSS(pids)
	m.peak = m.start
	m.wg.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.done:
				return
			case <-t.C:
				m.peak = max(m.peak, totalRSS(pids))
			}
		}
	})
	return m
}

// stop ends the sampling and returns the peak (read after the sampler is done).
func (m *multiRSS) stop() int64 {
	select {
	case <-m.done:
	default:
		close(m.done)
	}
	m.wg.Wait()
	return m.peak
}

// ErrNoStorageURL is returned when neither a storage URL nor credentials are given.
var ErrNoStorageURL = errors.New("need --storage-url and --token, or credentials of a cloud with an object-store endpoint")
