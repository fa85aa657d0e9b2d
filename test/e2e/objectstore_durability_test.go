package e2e

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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
			t.Logf("nimbus up log (tail):\n%s", failureLog(c.Log(), 60))
		}
	})
	suffix, err := os.ReadFile(filepath.Join(c.Dir, "objectstore", "hash_path_suffix"))
	if err != nil {
		t.Fatal(err)
	}
	nodes := newStorageNodes(t, strings.TrimSpace(string(suffix)))

	// the object ring: the all-in-one's devices out, the three nodes' in
	moveRing(t, c, "object", nodes)
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

// daemonNodes starts three `nimbus serve --role storage` processes of the
// cluster c, moves the object, container and account rings onto them (one
// device, sd1, each, one per zone) and restarts c so its proxy reads them.
// The nodes' daemons pass every second. It returns the nodes and the
// cluster's hash path suffix.
func daemonNodes(t *testing.T, c *Cloud) ([]*storageProcess, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(c.Dir, "objectstore", "hash_path_suffix"))
	if err != nil {
		t.Fatal(err)
	}
	suffix := strings.TrimSpace(string(data))
	nodes := newStorageNodes(t, suffix, "NIMBUS_OBJECT_STORE_AUDITOR_INTERVAL=1", "NIMBUS_OBJECT_STORE_EXPIRER_INTERVAL=1",
		"NIMBUS_OBJECT_STORE_REAPER_INTERVAL=1")
	for _, name := range []string{"object", "container", "account"} {
		moveRing(t, c, name, nodes)
	}
	for _, n := range nodes {
		n.start(t)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	return nodes, suffix
}

// nodeFiles lists the files with ext of a/c/o on the nodes, by the ring they
// were given.
func nodeFiles(t *testing.T, nodes []*storageProcess, suffix, account, container, object, ext string) []string {
	t.Helper()
	rg, err := ring.Load(filepath.Join(nodes[0].dir, "objectstore", "rings", "object.ring.gz"), "", suffix)
	if err != nil {
		t.Fatal(err)
	}
	sum := rg.Hash(account, container, object)
	hash := hex.EncodeToString(sum[:])
	var out []string
	for _, n := range nodes {
		files, _ := filepath.Glob(filepath.Join(n.dir, "objectstore", "devices", "sd1", "objects",
			fmt.Sprint(rg.Partition(account, container, object)), hash[29:], hash, "*"+ext))
		out = append(out, files...)
	}
	return out
}

// TestObjectStoreDurabilityDaemons is the rest of issue 19's acceptance 4,
// with the object, container and account servers in three storage node
// processes: a byte flipped in one replica on disk is never served, the
// auditor quarantines it and the replicator repairs it (the files counted);
// a storage node (its container server) killed with SIGKILL during writes
// has, once restarted, every acknowledged object in its listing; and an
// object uploaded with X-Delete-After leaves listing and disk once the
// expirer of the node holding its task container ran. Last, a reseller
// admin deletes the account (allow_account_management) and the reaper
// removes all it held from the nodes' disks.
func TestObjectStoreDurabilityDaemons(t *testing.T) {
	t.Parallel()
	c, err := StartCloudEnv(filepath.Join(t.TempDir(), "cloud"), []string{"NIMBUS_OBJECT_STORE_ALLOW_ACCOUNT_MANAGEMENT=true"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop cloud: %v", err)
		}
		if t.Failed() {
			t.Logf("nimbus up log (tail):\n%s", failureLog(c.Log(), 60))
		}
	})
	nodes, suffix := daemonNodes(t, c)
	cliDir := t.TempDir()
	var token, storage string
	for _, line := range strings.Split(swift(t, c, cliDir, "auth"), "\n") {
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
	account := storage[strings.LastIndex(storage, "/")+1:]
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
	md5Hex := func(b []byte) string {
		sum := md5.Sum(b)
		return hex.EncodeToString(sum[:])
	}

	t.Run("byte flip", func(t *testing.T) {
		container := uniqueName("flip")
		if resp, body, err := do("PUT", "/"+container, nil); err != nil || resp.StatusCode != 201 {
			t.Fatalf("PUT container: %v %v %s", resp, err, body)
		}
		data := make([]byte, 256<<10)
		_, _ = rand.Read(data)
		etag := md5Hex(data)
		if resp, body, err := do("PUT", "/"+container+"/obj", data); err != nil || resp.StatusCode != 201 {
			t.Fatalf("PUT object: %v %v %s", resp, err, body)
		}
		files := nodeFiles(t, nodes, suffix, account, container, "obj", ".data")
		if len(files) != 3 {
			t.Fatalf("%d replicas on disk, want 3", len(files))
		}
		flipped, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		flipped[len(flipped)/2] ^= 0xff
		if err := os.WriteFile(files[0], flipped, 0o644); err != nil { // same inode: its metadata stays
			t.Fatal(err)
		}
		quarantined := func() int {
			n := 0
			for _, node := range nodes {
				dirs, _ := filepath.Glob(filepath.Join(node.dir, "objectstore", "devices", "sd1", "quarantined", "objects", "*"))
				n += len(dirs)
			}
			return n
		}
		if !eventuallyWithin(60*time.Second, func() bool { return quarantined() >= 1 }) {
			t.Fatal("the auditor did not quarantine the flipped replica")
		}
		for range 10 {
			resp, body, err := do("GET", "/"+container+"/obj", nil)
			if err != nil || resp.StatusCode != 200 || md5Hex(body) != etag {
				t.Fatalf("GET after the flip: %v %v, body MD5 %s, want %s", resp, err, md5Hex(body), etag)
			}
		}
		repaired := func() bool {
			files := nodeFiles(t, nodes, suffix, account, container, "obj", ".data")
			for _, f := range files {
				if b, err := os.ReadFile(f); err != nil || md5Hex(b) != etag {
					return false
				}
			}
			return len(files) == 3
		}
		if !eventuallyWithin(90*time.Second, repaired) {
			t.Fatalf("replicas after repair: %v, want 3 good ones", nodeFiles(t, nodes, suffix, account, container, "obj", ".data"))
		}
	})

	t.Run("container server killed", func(t *testing.T) {
		container := uniqueName("crash")
		if resp, body, err := do("PUT", "/"+container, nil); err != nil || resp.StatusCode != 201 {
			t.Fatalf("PUT container: %v %v %s", resp, err, body)
		}
		const total = 300
		var acked []string
		for i := range total {
			if i == total/3 {
				nodes[1].Kill() // kill -9 in the middle of the writes
			}
			name := fmt.Sprintf("o%04d", i)
			if resp, _, err := do("PUT", "/"+container+"/"+name, []byte(name)); err == nil && resp.StatusCode == 201 {
				acked = append(acked, name)
			}
		}
		if len(acked) < total*9/10 {
			t.Fatalf("only %d of %d PUTs acknowledged with two of three nodes up", len(acked), total)
		}
		nodes[1].start(t)
		rg, err := ring.Load(filepath.Join(nodes[0].dir, "objectstore", "rings", "container.ring.gz"), "", suffix)
		if err != nil {
			t.Fatal(err)
		}
		part := rg.Partition(account, container)
		listed := func(n *storageProcess) map[string]bool {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/sd1/%d/%s/%s?format=json&limit=10000",
				n.containerPort, part, account, container))
			if err != nil {
				return nil
			}
			defer resp.Body.Close()
			var rows []struct {
				Name string `json:"name"`
			}
			if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&rows) != nil {
				return nil
			}
			out := map[string]bool{}
			for _, r := range rows {
				out[r.Name] = true
			}
			return out
		}
		converged := func() bool {
			for _, n := range nodes {
				names := listed(n)
				for _, name := range acked {
					if !names[name] {
						return false
					}
				}
			}
			return true
		}
		if !eventuallyWithin(120*time.Second, converged) {
			t.Fatalf("container replicas lack acknowledged objects: %d, %d, %d listed of %d",
				len(listed(nodes[0])), len(listed(nodes[1])), len(listed(nodes[2])), len(acked))
		}
		resp, body, err := do("GET", "/"+container+"?limit=10000", nil)
		if err != nil || resp.StatusCode != 200 || len(strings.Fields(string(body))) < len(acked) {
			t.Fatalf("proxy listing after the crash: %v %v, %d names, want %d", resp, err, len(strings.Fields(string(body))), len(acked))
		}
	})

	t.Run("expirer", func(t *testing.T) {
		container := uniqueName("expire")
		in := filepath.Join(cliDir, "soon.txt")
		if err := os.WriteFile(in, []byte("gone soon"), 0o600); err != nil {
			t.Fatal(err)
		}
		swift(t, c, cliDir, "upload", "-H", "X-Delete-After: 20", "--object-name", "soon", container, in)
		if out := swift(t, c, cliDir, "stat", container, "soon"); !strings.Contains(out, "X-Delete-At") {
			t.Fatalf("swift stat shows no X-Delete-At:\n%s", out)
		}
		// a quorum at least (the proxy may still skip the node killed above)
		if got := nodeFiles(t, nodes, suffix, account, container, "soon", ".data"); len(got) < 2 {
			t.Fatalf("%d replicas on disk, want 2 or 3", len(got))
		}
		gone := func() bool {
			out, err := runSwift(c, cliDir, "list", container)
			return err == nil && !strings.Contains(out, "soon") &&
				len(nodeFiles(t, nodes, suffix, account, container, "soon", ".data")) == 0
		}
		if !eventuallyWithin(120*time.Second, gone) {
			t.Fatalf("expired object still listed or on disk: %v", nodeFiles(t, nodes, suffix, account, container, "soon", ".data"))
		}
		tombstones := func() bool { return len(nodeFiles(t, nodes, suffix, account, container, "soon", ".ts")) == 3 }
		if !eventuallyWithin(60*time.Second, tombstones) {
			t.Fatalf("%d tombstones, want 3", len(nodeFiles(t, nodes, suffix, account, container, "soon", ".ts")))
		}
	})

	t.Run("account reaper", func(t *testing.T) {
		const admin = "nimbus-admin"
		OS(t, c, admin, "role", "create", "ResellerAdmin")
		OS(t, c, admin, "role", "add", "--user", "admin", "--project", "admin", "ResellerAdmin")
		var tok map[string]any
		OSJSON(t, c, admin, &tok, "token", "issue")
		adminToken, _ := tok["id"].(string)
		dataFiles := func() int {
			n := 0
			for _, node := range nodes {
				files, _ := filepath.Glob(filepath.Join(node.dir, "objectstore", "devices", "sd1", "objects", "*", "*", "*", "*.data"))
				n += len(files)
			}
			return n
		}
		if dataFiles() == 0 {
			t.Fatal("no objects on the nodes before the account is deleted")
		}
		req, _ := http.NewRequest("DELETE", storage, nil)
		req.Header.Set("X-Auth-Token", adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE of the account by a reseller admin: %d, want 204", resp.StatusCode)
		}
		if resp, _, err := do("HEAD", "", nil); err != nil || resp.StatusCode != 404 {
			t.Fatalf("HEAD of the deleted account: %v %v, want 404", resp, err)
		}
		if !eventuallyWithin(120*time.Second, func() bool { return dataFiles() == 0 }) {
			t.Fatalf("%d objects left on the nodes after the reaper", dataFiles())
		}
	})
}

// newStorageNodes makes three storage nodes (not started) of the cluster
// whose hash path suffix is suffix: device sd1 and ports of their own each,
// replicators passing every second; env adds to their environment.
func newStorageNodes(t *testing.T, suffix string, env ...string) []*storageProcess {
	t.Helper()
	nodes := make([]*storageProcess, 3)
	for i := range nodes {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "objectstore", "devices", "sd1"), 0o750); err != nil {
			t.Fatal(err)
		}
		ports := freePorts(t, 3)
		n := &storageProcess{dir: dir, log: filepath.Join(dir, "storage.log"),
			objectPort: ports[0], containerPort: ports[1], accountPort: ports[2]}
		n.env = append([]string{
			"NIMBUS_OBJECT_STORE_HASH_PATH_SUFFIX=" + suffix,
			fmt.Sprint("NIMBUS_OBJECT_STORE_OBJECT_PORT=", n.objectPort),
			fmt.Sprint("NIMBUS_OBJECT_STORE_CONTAINER_PORT=", n.containerPort),
			fmt.Sprint("NIMBUS_OBJECT_STORE_ACCOUNT_PORT=", n.accountPort),
			"NIMBUS_OBJECT_STORE_REPLICATOR_INTERVAL=1",
		}, env...)
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
	return nodes
}

// moveRing takes the all-in-one's devices out of c's ring name (object,
// container or account) and puts the nodes' in, one device sd1 each, one per
// zone, and gives every node the rebalanced ring.
func moveRing(t *testing.T, c *Cloud, name string, nodes []*storageProcess) {
	t.Helper()
	builderPath := filepath.Join(c.Dir, "objectstore", "rings", name+".builder")
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
		port := map[string]int{"object": n.objectPort, "container": n.containerPort, "account": n.accountPort}[name]
		if _, err := b.AddDevice(ring.Device{Region: 1, Zone: i + 1, IP: "127.0.0.1", Port: port, Name: "sd1", Weight: 100}); err != nil {
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
		if err := b.WriteRing(filepath.Join(ringDir, name+".ring.gz")); err != nil {
			t.Fatal(err)
		}
	}
}
