package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Volume scenario names, as the report shows them: each is one operation
// through the block-storage API, timed from its request until the API shows
// its end state.
const (
	VolScenarioBlank          = "create blank → available"
	VolScenarioBlankConc      = "create blank → available, concurrent"
	VolScenarioImage          = "create from image → available"
	VolScenarioImageConc      = "create from image → available, concurrent"
	VolScenarioSnapshot       = "snapshot create → available"
	VolScenarioAttach         = "attach: attachment create+update+complete → in-use"
	VolScenarioDetach         = "detach: attachment delete → available"
	VolScenarioLegacyAttach   = "attach: os-reserve+initialize_connection+os-attach → in-use"
	VolScenarioLegacyDetach   = "detach: os-begin_detaching+terminate_connection+os-detach → available"
	VolScenarioSnapshotDelete = "snapshot delete → gone"
	VolScenarioDelete         = "delete → gone"
)

// volumeMicroversion is the block-storage microversion the bench speaks: 3.44
// has attachment complete, as Nova's new-style attach uses it.
const volumeMicroversion = "volume 3.44"

// VolumeOptions configure `nimbus bench volume`.
type VolumeOptions struct {
	Credentials Credentials
	// Volumes is how many volumes each create scenario makes (one at a time,
	// then again at Concurrency); also how many snapshots and attach cycles.
	Volumes int
	// Concurrency is how many clients create at once in the concurrent
	// scenarios.
	Concurrency int
	// ImageSize is the raw image the from-image volumes are made of (random
	// bytes: nothing sparse or compressible to make the copy cheap).
	ImageSize int64
	// Poll is how often a client reads a volume while it waits for it.
	Poll time.Duration
	// ServerPID, when set, adds the server's memory to the report.
	ServerPID int
	Timeout   time.Duration // per request
	// Wait bounds one operation's wait for its end state.
	Wait time.Duration
}

// VolumeReport is the outcome of `nimbus bench volume`.
type VolumeReport struct {
	Target      string    `json:"target"`
	Cores       int       `json:"cores"`
	GoVersion   string    `json:"go_version"`
	Started     time.Time `json:"started"`
	Concurrency int       `json:"concurrency"`
	ImageSize   int64     `json:"image_size_bytes"`
	// Backend is the volume service's pool the volumes landed in
	// (host@backend#pool), when the bench could see it (admin).
	Backend string `json:"backend,omitempty"`
	// Poll is the resolution of the latencies.
	Poll time.Duration `json:"poll_ns"`
	// Scenarios are the operations' latencies, request to end state (see the
	// VolScenario names; P95 is the report's p90).
	Scenarios []Stats `json:"scenarios"`
	// QuotaNote says how the project's quota admitted the volumes.
	QuotaNote      string `json:"quota_note,omitempty"`
	ServerRSSStart int64  `json:"server_rss_start_bytes,omitempty"`
	ServerRSSEnd   int64  `json:"server_rss_end_bytes,omitempty"`
}

// Scenario returns the stats of the named scenario, if it ran.
func (r *VolumeReport) Scenario(name string) *Stats { return findStats(r.Scenarios, name) }

// Check fails when an operation failed.
func (r *VolumeReport) Check() error {
	errs := failedScenarios(r.Scenarios)
	return errors.Join(errs...)
}

// cinder is the bench's client of the block-storage API.
type cinder struct {
	api   *keystone
	token string
	poll  time.Duration
	wait  time.Duration
}

func (c *cinder) call(ctx context.Context, method, path string, body any, want int) ([]byte, error) {
	var data []byte
	if body != nil {
		data = mustJSON(body)
	}
	_, out, err := c.api.request(ctx, method, path, data,
		map[string]string{"X-Auth-Token": c.token, "OpenStack-API-Version": volumeMicroversion}, want)
	return out, err
}

// status reads a volume's or a snapshot's status ("" when it is gone).
func (c *cinder) status(ctx context.Context, kind, id string) (string, error) {
	_, out, err := c.api.request(ctx, http.MethodGet, "/"+kind+"s/"+id, nil,
		map[string]string{"X-Auth-Token": c.token, "OpenStack-API-Version": volumeMicroversion}, http.StatusOK)
	if err != nil && strings.Contains(err.Error(), ": status 404,") {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var doc map[string]struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return "", err
	}
	return doc[kind].Status, nil
}

// waitFor polls a volume or snapshot until it shows status want ("" gone),
// and fails on an error status.
func (c *cinder) waitFor(ctx context.Context, kind, id, want string) error {
	ctx, cancel := context.WithTimeout(ctx, c.wait)
	defer cancel()
	for {
		st, err := c.status(ctx, kind, id)
		switch {
		case err != nil:
			return fmt.Errorf("%s %s: %w", kind, id, err)
		case st == want:
			return nil
		case st == "error" || st == "error_deleting" || st == "error_restoring":
			return fmt.Errorf("%s %s is %s, want %q", kind, id, st, want)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: still %s, want %q: %w", kind, id, st, want, ctx.Err())
		case <-time.After(c.poll):
		}
	}
}

// createVolume creates a volume (from image when imageID is set) and returns
// its id.
func (c *cinder) createVolume(ctx context.Context, name, imageID string) (string, error) {
	v := map[string]any{"size": 1, "name": name}
	if imageID != "" {
		v["imageRef"] = imageID
	}
	out, err := c.call(ctx, http.MethodPost, "/volumes", map[string]any{"volume": v}, http.StatusAccepted)
	if err != nil {
		return "", err
	}
	var doc struct{ Volume struct{ ID string } }
	if err := json.Unmarshal(out, &doc); err != nil || doc.Volume.ID == "" {
		return "", fmt.Errorf("create volume: no id in %s", snippet(out))
	}
	return doc.Volume.ID, nil
}

// timed is one scenario's operations and their latencies.
type timed struct {
	mu    sync.Mutex
	stats Stats
	lat   []time.Duration
	start time.Time
}

func newTimed(name string) *timed { return &timed{stats: Stats{Name: name}, start: time.Now()} }

// do runs op and records its latency, or its error.
func (t *timed) do(op func() error) error {
	start := time.Now()
	err := op()
	d := time.Since(start)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats.Requests++
	if err != nil {
		t.stats.Errors++
		if t.stats.FirstError == "" {
			t.stats.FirstError = err.Error()
		}
		return err
	}
	t.lat = append(t.lat, d)
	return nil
}

// done is the scenario's stats: p50, p90 (in P95's place: the counts are
// small) and max of the successful operations, operations a second overall.
func (t *timed) done() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.Elapsed = time.Since(t.start)
	slices.Sort(t.lat)
	if n := len(t.lat); n > 0 {
		s.P50, s.P95, s.P99, s.Max = Percentile(t.lat, 50), Percentile(t.lat, 90), Percentile(t.lat, 99), t.lat[n-1]
	}
	if s.Elapsed > 0 {
		s.Rate = float64(len(t.lat)) / s.Elapsed.Seconds()
	}
	return s
}

// Volume measures the block-storage API's operations against a cloud: volume
// create → available, blank and from an image, one at a time and at
// Concurrency; snapshot create; attach and detach the way Nova does them
// (attachments, 3.44) and the legacy way (os-reserve, os-initialize_connection,
// os-attach; os-detach, os-terminate_connection); snapshot and volume delete.
// Everything it makes it deletes, also on failure.
func Volume(ctx context.Context, o VolumeOptions, progress func(string)) (*VolumeReport, error) {
	o.Volumes = max(o.Volumes, 1)
	o.Concurrency = max(o.Concurrency, 1)
	if o.ImageSize <= 0 {
		o.ImageSize = 64 << 20
	}
	if o.Poll <= 0 {
		o.Poll = 10 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
	if o.Wait <= 0 {
		o.Wait = 5 * time.Minute
	}
	token, endpoint, project, err := serviceLogin(ctx, o.Credentials, "block-storage")
	if err != nil {
		return nil, err
	}
	_, imageURL, _, err := serviceLogin(ctx, o.Credentials, "image")
	if err != nil {
		return nil, err
	}
	c := &cinder{api: newKeystone(endpoint, o.Concurrency+1, o.Timeout), token: token, poll: o.Poll, wait: o.Wait}
	defer c.api.close()
	g := newKeystone(imageURL, 1, 10*time.Minute)
	defer g.close()
	rep := &VolumeReport{Target: endpoint, Cores: runtime.NumCPU(), GoVersion: runtime.Version(), Started: time.Now(),
		Concurrency: o.Concurrency, ImageSize: o.ImageSize, Poll: o.Poll}
	if o.ServerPID > 0 {
		rep.ServerRSSStart, _ = RSS(o.ServerPID)
	}

	restore, note, err := c.liftQuota(ctx, project)
	if err != nil {
		return nil, err
	}
	rep.QuotaNote = note
	defer restore(context.WithoutCancel(ctx))

	progress(fmt.Sprintf("uploading a %d MiB raw image", o.ImageSize>>20))
	auth := map[string]string{"X-Auth-Token": token}
	imageID, err := uploadImage(ctx, g, auth, o.ImageSize)
	if err != nil {
		return nil, err
	}
	defer g.request(context.WithoutCancel(ctx), http.MethodDelete, "/v2/images/"+imageID, nil, auth, http.StatusNoContent)

	// every volume made is deleted at the end; the delete scenario times
	// those of the serial blank creates
	var mu sync.Mutex
	var made []string
	defer func() {
		cleanup := context.WithoutCancel(ctx)
		for _, id := range made {
			_, _ = c.call(cleanup, http.MethodDelete, "/volumes/"+id, nil, http.StatusAccepted)
		}
		for _, id := range made {
			_ = c.waitFor(cleanup, "volume", id, "")
		}
	}()
	create := func(t *timed, imageID string) error {
		return t.do(func() error {
			id, err := c.createVolume(ctx, "nimbus-bench-volume", imageID)
			if err != nil {
				return err
			}
			mu.Lock()
			made = append(made, id)
			mu.Unlock()
			return c.waitFor(ctx, "volume", id, "available")
		})
	}
	for _, sc := range []struct {
		name, image string
		concurrency int
	}{
		{VolScenarioBlank, "", 1}, {VolScenarioBlankConc, "", o.Concurrency},
		{VolScenarioImage, imageID, 1}, {VolScenarioImageConc, imageID, o.Concurrency},
	} {
		progress(fmt.Sprintf("%s: %d volumes", sc.name, o.Volumes))
		t := newTimed(sc.name)
		parallel(sc.concurrency, o.Volumes, func() { _ = create(t, sc.image) })
		rep.Scenarios = append(rep.Scenarios, t.done())
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if len(made) == 0 {
		return rep, rep.Check()
	}
	rep.Backend = c.volumeHost(ctx, made[0])

	progress("snapshots, attachments")
	vol := made[0]
	snaps, attach, detach := newTimed(VolScenarioSnapshot), newTimed(VolScenarioAttach), newTimed(VolScenarioDetach)
	legacyAttach, legacyDetach := newTimed(VolScenarioLegacyAttach), newTimed(VolScenarioLegacyDetach)
	var snapIDs []string
	for range o.Volumes {
		_ = snaps.do(func() error {
			id, err := c.createSnapshot(ctx, vol)
			if err != nil {
				return err
			}
			snapIDs = append(snapIDs, id)
			return c.waitFor(ctx, "snapshot", id, "available")
		})
		var attachment string
		if attach.do(func() (err error) { attachment, err = c.attachNew(ctx, vol); return err }) == nil {
			_ = detach.do(func() error { return c.detachNew(ctx, vol, attachment) })
		} else if attachment != "" {
			// a half-made attachment would keep the volume from its delete
			_, _ = c.call(context.WithoutCancel(ctx), http.MethodDelete, "/attachments/"+attachment, nil, http.StatusOK)
		}
		instance := uuid.NewString()
		if legacyAttach.do(func() error { return c.attachLegacy(ctx, vol, instance) }) == nil {
			_ = legacyDetach.do(func() error { return c.detachLegacy(ctx, vol) })
		} else {
			// as above: the volume back to available whatever step failed
			_, _ = c.call(context.WithoutCancel(ctx), http.MethodPost, "/volumes/"+vol+"/action",
				map[string]any{"os-force_detach": map[string]any{}}, http.StatusAccepted)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	snapDelete := newTimed(VolScenarioSnapshotDelete)
	for _, id := range snapIDs {
		_ = snapDelete.do(func() error {
			if _, err := c.call(ctx, http.MethodDelete, "/snapshots/"+id, nil, http.StatusAccepted); err != nil {
				return err
			}
			return c.waitFor(ctx, "snapshot", id, "")
		})
	}
	rep.Scenarios = append(rep.Scenarios, snaps.done(), attach.done(), detach.done(), legacyAttach.done(),
		legacyDetach.done(), snapDelete.done())

	progress("deletes")
	del := newTimed(VolScenarioDelete)
	mu.Lock()
	serial := slices.Clone(made[:min(o.Volumes, len(made))])
	made = made[len(serial):]
	mu.Unlock()
	for _, id := range serial {
		_ = del.do(func() error {
			if _, err := c.call(ctx, http.MethodDelete, "/volumes/"+id, nil, http.StatusAccepted); err != nil {
				mu.Lock()
				made = append(made, id)
				mu.Unlock()
				return err
			}
			return c.waitFor(ctx, "volume", id, "")
		})
	}
	rep.Scenarios = append(rep.Scenarios, del.done())
	if o.ServerPID > 0 {
		rep.ServerRSSEnd, _ = RSS(o.ServerPID)
	}
	return rep, nil
}

// parallel runs n calls of op on at most concurrency goroutines.
func parallel(concurrency, n int, op func()) {
	work := make(chan struct{})
	var wg sync.WaitGroup
	for range min(concurrency, n) {
		wg.Go(func() {
			for range work {
				op()
			}
		})
	}
	for range n {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
}

// uploadImage makes a raw image of size random bytes.
func uploadImage(ctx context.Context, g *keystone, auth map[string]string, size int64) (string, error) {
	_, body, err := g.request(ctx, http.MethodPost, "/v2/images", mustJSON(map[string]any{"name": "nimbus-bench-volume",
		"disk_format": "raw", "container_format": "bare"}), auth, http.StatusCreated)
	if err != nil {
		return "", fmt.Errorf("create the image: %w", err)
	}
	var img struct{ ID string }
	if err := json.Unmarshal(body, &img); err != nil || img.ID == "" {
		return "", fmt.Errorf("create the image: no id in %s", snippet(body))
	}
	if err := stream(ctx, g.client, http.MethodPut, g.base+"/v2/images/"+img.ID+"/file", auth["X-Auth-Token"],
		newPatternReader(size), size, http.StatusNoContent); err != nil {
		g.request(context.WithoutCancel(ctx), http.MethodDelete, "/v2/images/"+img.ID, nil, auth, http.StatusNoContent)
		return "", fmt.Errorf("upload the image: %w", err)
	}
	return img.ID, nil
}

// volumeHost is the volume's os-vol-host-attr:host, "" when the caller does
// not see it (not an admin).
func (c *cinder) volumeHost(ctx context.Context, id string) string {
	out, err := c.call(ctx, http.MethodGet, "/volumes/"+id, nil, http.StatusOK)
	if err != nil {
		return ""
	}
	var doc struct {
		Volume struct {
			Host string `json:"os-vol-host-attr:host"`
		}
	}
	_ = json.Unmarshal(out, &doc)
	return doc.Volume.Host
}

func (c *cinder) createSnapshot(ctx context.Context, volumeID string) (string, error) {
	out, err := c.call(ctx, http.MethodPost, "/snapshots", map[string]any{"snapshot": map[string]any{
		"volume_id": volumeID, "name": "nimbus-bench-snapshot"}}, http.StatusAccepted)
	if err != nil {
		return "", err
	}
	var doc struct{ Snapshot struct{ ID string } }
	if err := json.Unmarshal(out, &doc); err != nil || doc.Snapshot.ID == "" {
		return "", fmt.Errorf("create snapshot: no id in %s", snippet(out))
	}
	return doc.Snapshot.ID, nil
}

// benchConnector is os-brick's connector properties of this host, as Nova's
// compute sends them.
func benchConnector() map[string]any {
	return map[string]any{"host": "nimbus-bench", "ip": "127.0.0.1", "multipath": false, "platform": "x86_64",
		"os_type": "linux", "do_local_attach": false}
}

// attachNew is Nova's attach: an attachment reserved for an instance, updated
// with the host's connector (the backend exports the volume), completed;
// the volume is then in-use.
func (c *cinder) attachNew(ctx context.Context, volumeID string) (string, error) {
	out, err := c.call(ctx, http.MethodPost, "/attachments", map[string]any{"attachment": map[string]any{
		"volume_uuid": volumeID, "instance_uuid": uuid.NewString()}}, http.StatusOK)
	if err != nil {
		return "", err
	}
	var doc struct{ Attachment struct{ ID string } }
	if err := json.Unmarshal(out, &doc); err != nil || doc.Attachment.ID == "" {
		return "", fmt.Errorf("create attachment: no id in %s", snippet(out))
	}
	id := doc.Attachment.ID
	if _, err := c.call(ctx, http.MethodPut, "/attachments/"+id, map[string]any{"attachment": map[string]any{
		"connector": benchConnector()}}, http.StatusOK); err != nil {
		return id, err
	}
	if _, err := c.call(ctx, http.MethodPost, "/attachments/"+id+"/action", map[string]any{"os-complete": nil},
		http.StatusNoContent); err != nil {
		return id, err
	}
	return id, c.waitFor(ctx, "volume", volumeID, "in-use")
}

// detachNew is Nova's detach: the attachment deleted (the backend removes
// the export); the volume is then available.
func (c *cinder) detachNew(ctx context.Context, volumeID, attachmentID string) error {
	if _, err := c.call(ctx, http.MethodDelete, "/attachments/"+attachmentID, nil, http.StatusOK); err != nil {
		return err
	}
	return c.waitFor(ctx, "volume", volumeID, "available")
}

// attachLegacy is the attach before attachments (os-brick's callers before
// 3.27): reserve, initialize the connection (the export), attach.
func (c *cinder) attachLegacy(ctx context.Context, volumeID, instance string) error {
	path := "/volumes/" + volumeID + "/action"
	for _, step := range []struct {
		body any
		want int
	}{
		{map[string]any{"os-reserve": nil}, http.StatusAccepted},
		{map[string]any{"os-initialize_connection": map[string]any{"connector": benchConnector()}}, http.StatusOK},
		{map[string]any{"os-attach": map[string]any{"instance_uuid": instance, "mountpoint": "/dev/vdb", "mode": "rw"}},
			http.StatusAccepted},
	} {
		if _, err := c.call(ctx, http.MethodPost, path, step.body, step.want); err != nil {
			return err
		}
	}
	return c.waitFor(ctx, "volume", volumeID, "in-use")
}

// detachLegacy is os-begin_detaching, os-terminate_connection and os-detach,
// in Nova's order before attachments.
func (c *cinder) detachLegacy(ctx context.Context, volumeID string) error {
	path := "/volumes/" + volumeID + "/action"
	for _, step := range []struct {
		body any
		want int
	}{
		{map[string]any{"os-begin_detaching": nil}, http.StatusAccepted},
		{map[string]any{"os-terminate_connection": map[string]any{"connector": benchConnector()}}, http.StatusAccepted},
		{map[string]any{"os-detach": map[string]any{}}, http.StatusAccepted},
	} {
		if _, err := c.call(ctx, http.MethodPost, path, step.body, step.want); err != nil {
			return err
		}
	}
	return c.waitFor(ctx, "volume", volumeID, "available")
}

// liftQuota lifts the project's volume, snapshot and gigabyte quotas for the
// run (the scenarios hold 4 × Volumes volumes at once), and returns what puts
// them back; a caller who may not (not an admin) runs within them.
func (c *cinder) liftQuota(ctx context.Context, project string) (func(context.Context), string, error) {
	noop := func(context.Context) {}
	path := "/os-quota-sets/" + project
	out, err := c.call(ctx, http.MethodGet, path, nil, http.StatusOK)
	if err != nil {
		return noop, "", fmt.Errorf("read the volume quota: %w", err)
	}
	var doc struct {
		QuotaSet map[string]any `json:"quota_set"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return noop, "", fmt.Errorf("read the volume quota: %w", err)
	}
	old := map[string]any{}
	for _, k := range []string{"volumes", "snapshots", "gigabytes"} {
		old[k] = doc.QuotaSet[k]
	}
	if _, err := c.call(ctx, http.MethodPut, path, map[string]any{"quota_set": map[string]any{
		"volumes": -1, "snapshots": -1, "gigabytes": -1}}, http.StatusOK); err != nil {
		return noop, "the project's volume quotas apply (lifting them needs an admin)", nil
	}
	return func(ctx context.Context) {
		_, _ = c.call(ctx, http.MethodPut, path, map[string]any{"quota_set": old}, http.StatusOK)
	}, "the project's volumes, snapshots and gigabytes quotas were lifted with os-quota-sets and put back", nil
}
