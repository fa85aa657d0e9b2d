package e2e

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

// storageProcess is one `nimbus serve --role storage` with one device, sd1,
// on fixed ports so it comes back where the ring says it is.
type storageProcess struct {
	dir, log                               string
	objectPort, containerPort, accountPort int
	env                                    []string
	*process
}

func (s *storageProcess) start(t *testing.T) {
	t.Helper()
	p, _, err := startProcess([]string{"serve", "--role", "storage", "--data-dir", s.dir}, s.env, s.log, "nimbus storage ready")
	if err != nil {
		t.Fatalf("start storage node %s: %v\n%s", s.dir, err, tail(readFile(s.log), 40))
	}
	s.process = p
}

func readFile(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// freePorts picks n free loopback ports.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// TestObjectStoreDurability is issue 19's acceptance 4 with three object
// servers as separate processes: the object ring is moved onto three storage
// nodes, one is stopped during 1,000 PUTs, every acknowledged object reads
// back with its ETag, and once it is started again the replicators restore
// three replicas of every object (counted on disk).
func TestObjectStoreDurability(t *testing.T) {
	t.Parallel()
	c, err := StartCloud(filepath.Join(t.TempDir(), "cloud"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop cloud: %v", err)
		}
		if t.Failed() {
			t.Logf("nimbus up log (tail):\n%s", tail(c.Log(), 60))
		}
	})
	suffix, err := os.ReadFile(filepath.Join(c.Dir, "objectstore", "hash_path_suffix"))
	if err != nil {
		t.Fatal(err)
	}
	nodes := make([]*storageProcess, 3)
	for i := range nodes {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "objectstore", "devices", "sd1"), 0o750); err != nil {
			t.Fatal(err)
		}
		ports := freePorts(t, 3)
		n := &storageProcess{dir: dir, log: filepath.Join(dir, "storage.log"),
			objectPort: ports[0], containerPort: ports[1], accountPort: ports[2]}
		n.env = []string{
			"NIMBUS_OBJECT_STORE_HASH_PATH_SUFFIX=" + strings.TrimSpace(string(suffix)),
			fmt.Sprint("NIMBUS_OBJECT_STORE_OBJECT_PORT=", n.objectPort),
			fmt.Sprint("NIMBUS_OBJECT_STORE_CONTAINER_PORT=", n.containerPort),
			fmt.Sprint("NIMBUS_OBJECT_STORE_ACCOUNT_PORT=", n.accountPort),
			"NIMBUS_OBJECT_STORE_REPLICATOR_INTERVAL=1",
		}
		t.Cleanup(func() {
			if n.process != nil {
				_ = n.Stop()
			}
			if t.Failed() {
				t.Logf("storage node %d log (tail):\n%s", i, tail(readFile(n.log), 30))
			}
		})
		nodes[i] = n
	}

	// the object ring: the all-in-one's devices out, the three nodes' in
	builderPath := filepath.Join(c.Dir, "objectstore", "rings", "object.builder")
	b, err := ring.LoadBuilder(builderPath)
	if err != nil {
		t.Fatal(err)
	}
	for id, d := range b.Devices {
		if d != nil {
			if err := b.RemoveDevice(id); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, n := range nodes {
		if _, err := b.AddDevice(ring.Device{Region: 1, Zone: i + 1, IP: "127.0.0.1", Port: n.objectPort, Name: "sd1", Weight: 100}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Rebalance(); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(builderPath); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		ringDir := filepath.Join(n.dir, "objectstore", "rings")
		if err := os.MkdirAll(ringDir, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := b.WriteRing(filepath.Join(ringDir, "object.ring.gz")); err != nil {
			t.Fatal(err)
		}
	}
	// a node runs its replicator when it has the ring as it starts
	for _, n := range nodes {
		n.start(t)
	}
	// the proxy reads the rings when it starts
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}

	var token, storage string
	for _, line := range strings.Split(swift(t, c, t.TempDir(), "auth"), "\n") {
		if v, ok := strings.CutPrefix(line, "export OS_STORAGE_URL="); ok {
			storage = strings.Trim(v, `'"`)
		}
		if v, ok := strings.CutPrefix(line, "export OS_AUTH_TOKEN="); ok {
			token = strings.Trim(v, `'"`)
		}
	}
	if token == "" || storage == "" {
		t.Fatal("swift auth printed no token or storage URL")
	}
	do := func(method, path string, body []byte) (*http.Response, []byte, error) {
		req, err := http.NewRequest(method, storage+path, strings.NewReader(string(body)))
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("X-Auth-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		return resp, data, err
	}
	container := "/" + uniqueName("durable")
	if resp, body, err := do("PUT", container, nil); err != nil || resp.StatusCode != 201 {
		t.Fatalf("PUT %s: %v %v %s", container, resp, err, body)
	}

	const total = 1000
	acked := map[string]string{} // object name: ETag
	start := time.Now()
	for i := range total {
		if i == total/3 {
			if err := nodes[0].Stop(); err != nil {
				t.Fatalf("stop storage node: %v", err)
			}
		}
		data := make([]byte, 512+i%2048)
		_, _ = rand.Read(data)
		name := fmt.Sprintf("o%04d", i)
		resp, _, err := do("PUT", container+"/"+name, data)
		if err != nil || resp.StatusCode != 201 {
			continue // not acknowledged: nothing promised
		}
		sum := md5.Sum(data)
		etag := hex.EncodeToString(sum[:])
		if got := resp.Header.Get("Etag"); got != etag {
			t.Fatalf("PUT %s: ETag %s, want %s", name, got, etag)
		}
		acked[name] = etag
	}
	t.Logf("%d PUTs, %d acknowledged, in %s", total, len(acked), time.Since(start))
	if len(acked) < total*9/10 {
		t.Fatalf("only %d of %d PUTs acknowledged with two of three nodes up", len(acked), total)
	}
	for name, etag := range acked {
		resp, body, err := do("GET", container+"/"+name, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", name, resp, err)
		}
		sum := md5.Sum(body)
		if got := hex.EncodeToString(sum[:]); got != etag || resp.Header.Get("Etag") != etag {
			t.Fatalf("GET %s: body MD5 %s, ETag %s, want %s", name, got, resp.Header.Get("Etag"), etag)
		}
	}

	nodes[0].start(t)
	count := func() int {
		n := 0
		for _, node := range nodes {
			files, _ := filepath.Glob(filepath.Join(node.dir, "objectstore", "devices", "sd1", "objects", "*", "*", "*", "*.data"))
			n += len(files)
		}
		return n
	}
	if !eventuallyWithin(90*time.Second, func() bool { return count() >= 3*len(acked) }) {
		t.Fatalf("%d .data files on the three nodes, want %d (3 replicas of %d objects)", count(), 3*len(acked), len(acked))
	}
	// every acknowledged object, not only as many files
	for _, node := range nodes {
		files, _ := filepath.Glob(filepath.Join(node.dir, "objectstore", "devices", "sd1", "objects", "*", "*", "*", "*.data"))
		if len(files) < len(acked) {
			t.Fatalf("node %s holds %d objects, want all %d", node.dir, len(files), len(acked))
		}
	}
}
