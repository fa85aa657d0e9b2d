package objectstore

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

// objectRing reads the cluster's object ring.
func (c *cluster) objectRing() *ring.Ring {
	c.t.Helper()
	suffix, err := ReadHashPathSuffix(c.dir)
	if err != nil {
		c.t.Fatal(err)
	}
	rg, err := ring.Load(filepath.Join(c.dir, "rings", "object.ring.gz"), "", suffix)
	if err != nil {
		c.t.Fatal(err)
	}
	return rg
}

// replicas lists the devices holding a .data of AUTH_a/container/object.
func (c *cluster) replicas(rg *ring.Ring, container, object string) []string {
	return c.files(rg, container, object, ".data")
}

// files lists the devices holding a file of AUTH_a/container/object with ext.
func (c *cluster) files(rg *ring.Ring, container, object, ext string) []string {
	c.t.Helper()
	part := rg.Partition("AUTH_a", container, object)
	hash := rg.Hash("AUTH_a", container, object)
	hex := fmt.Sprintf("%x", hash[:])
	files, _ := filepath.Glob(filepath.Join(c.dir, "devices", "*", "objects", fmt.Sprint(part), hex[29:], hex, "*"+ext))
	var devices []string
	for _, f := range files {
		rel, _ := filepath.Rel(filepath.Join(c.dir, "devices"), f)
		devices = append(devices, strings.Split(rel, string(filepath.Separator))[0])
	}
	return devices
}

func (c *cluster) replicate() {
	c.t.Helper()
	if _, err := c.a.ReplicateObjects(context.Background()); err != nil {
		c.t.Fatal(err)
	}
}

// TestObjectStoreReplicatorRestoresReplicas: objects written while a device
// is down land on handoffs; once it is back, a replication pass leaves three
// replicas of each, all on primaries, none on the handoff.
func TestObjectStoreReplicatorRestoresReplicas(t *testing.T) {
	c := startClusterWith(t, 4)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c", "", 201)
	d1 := filepath.Join(c.dir, "devices", "d1")
	if err := os.Rename(d1, d1+".unmounted"); err != nil {
		t.Fatal(err)
	}
	const n = 30
	for i := range n {
		c.expect("a-member", "PUT", fmt.Sprintf("%s/c/o%d", acct, i), fmt.Sprintf("body %d", i), 201)
	}
	// a delete and a POST while it is down travel too
	c.expect("a-member", "DELETE", acct+"/c/o0", "", 204)
	c.expect("a-member", "POST", acct+"/c/o1", "", 202, "X-Object-Meta-Color", "red")
	if err := os.Rename(d1+".unmounted", d1); err != nil {
		t.Fatal(err)
	}
	rg := c.objectRing()
	handedOff := 0
	for i := 1; i < n; i++ {
		for _, d := range c.replicas(rg, "c", fmt.Sprintf("o%d", i)) {
			if d == "d1" {
				t.Fatalf("o%d reached d1 while it was down", i)
			}
		}
		for _, p := range rg.Nodes(rg.Partition("AUTH_a", "c", fmt.Sprintf("o%d", i))) {
			if p.Name == "d1" {
				handedOff++
			}
		}
	}
	if handedOff == 0 {
		t.Fatal("no object has d1 as a primary: the test proves nothing")
	}
	c.replicate()
	for i := 1; i < n; i++ {
		name := fmt.Sprintf("o%d", i)
		got := c.replicas(rg, "c", name)
		if len(got) != 3 {
			t.Fatalf("%s: replicas on %v, want 3", name, got)
		}
		primaries := map[string]bool{}
		for _, p := range rg.Nodes(rg.Partition("AUTH_a", "c", name)) {
			primaries[p.Name] = true
		}
		for _, d := range got {
			if !primaries[d] {
				t.Fatalf("%s: a replica left on handoff %s (%v)", name, d, got)
			}
		}
	}
	// the tombstone and the POST reached every primary too
	for name, ext := range map[string]string{"o0": ".ts", "o1": ".meta"} {
		if got := c.files(rg, "c", name, ext); len(got) != 3 {
			t.Fatalf("%s: %s files on %v, want 3", name, ext, got)
		}
	}
	if r := c.expect("a-member", "GET", acct+"/c/o1", "", 200, "X-Newest", "true"); r.header.Get("X-Object-Meta-Color") != "red" {
		t.Fatalf("o1 lost its POST: %v", r.header)
	}
	c.expect("a-member", "GET", acct+"/c/o0", "", 404)
	// a second pass finds nothing to do
	st, err := c.a.ReplicateObjects(context.Background())
	if err != nil || st.Sent != 0 || st.Failures != 0 {
		t.Fatalf("second pass: %+v %v", st, err)
	}
}

// TestObjectStoreReplicatorMovesAfterRebalance: after a device joins and the
// ring is rebalanced, a pass moves each object to its new primaries and
// removes it from the device that lost the partition.
func TestObjectStoreReplicatorMovesAfterRebalance(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c", "", 201)
	const n = 30
	for i := range n {
		c.expect("a-member", "PUT", fmt.Sprintf("%s/c/o%d", acct, i), "moved", 201)
	}
	builderPath := filepath.Join(c.dir, "rings", "object.builder")
	b, err := ring.LoadBuilder(builderPath)
	if err != nil {
		t.Fatal(err)
	}
	d1 := b.Devices[0]
	if err := os.Mkdir(filepath.Join(c.dir, "devices", "d4"), 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddDevice(ring.Device{Region: 1, Zone: 4, IP: d1.IP, Port: d1.Port, Name: "d4", Weight: 100, Meta: allInOneMeta}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Rebalance(); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(builderPath); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteRing(filepath.Join(c.dir, "rings", "object.ring.gz")); err != nil {
		t.Fatal(err)
	}
	rg := c.objectRing()
	c.replicate()
	onD4 := 0
	for i := range n {
		name := fmt.Sprintf("o%d", i)
		want := map[string]bool{}
		for _, p := range rg.Nodes(rg.Partition("AUTH_a", "c", name)) {
			want[p.Name] = true
		}
		got := c.replicas(rg, "c", name)
		if len(got) != 3 {
			t.Fatalf("%s on %v, want its 3 primaries %v", name, got, want)
		}
		for _, d := range got {
			if !want[d] {
				t.Fatalf("%s on %v, want its primaries %v", name, got, want)
			}
			if d == "d4" {
				onD4++
			}
		}
	}
	if onD4 == 0 {
		t.Fatal("nothing moved to the new device")
	}
}

// TestObjectStoreCorruptReplicaRepaired: a byte flipped in one replica is
// never served, the auditor quarantines it, the replicator restores it.
func TestObjectStoreCorruptReplicaRepaired(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c", "", 201)
	const body = "the right bytes"
	c.expect("a-member", "PUT", acct+"/c/o", body, 201)
	rg := c.objectRing()
	corruptOne := func() string {
		devices := c.replicas(rg, "c", "o")
		if len(devices) != 3 {
			t.Fatalf("replicas on %v", devices)
		}
		files, _ := filepath.Glob(filepath.Join(c.dir, "devices", devices[0], "objects", "*", "*", "*", "*.data"))
		data, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		data[3] ^= 0x20
		if err := os.WriteFile(files[0], data, 0o644); err != nil {
			t.Fatal(err)
		}
		return devices[0]
	}
	quarantined := func() int {
		dirs, _ := filepath.Glob(filepath.Join(c.dir, "devices", "*", "quarantined", "objects", "*"))
		return len(dirs)
	}
	intact := func() {
		t.Helper()
		for _, d := range c.replicas(rg, "c", "o") {
			files, _ := filepath.Glob(filepath.Join(c.dir, "devices", d, "objects", "*", "*", "*", "*.data"))
			if data, _ := os.ReadFile(files[0]); string(data) != body {
				t.Fatalf("replica on %s: %q", d, data)
			}
		}
	}
	corruptOne()
	if st := c.a.Storage.AuditObjects(context.Background(), 0); st.Quarantined != 1 || quarantined() != 1 {
		t.Fatalf("auditor pass: %+v", st)
	}
	if got := c.replicas(rg, "c", "o"); len(got) != 2 {
		t.Fatalf("after quarantine: replicas on %v", got)
	}
	c.replicate()
	if got := c.replicas(rg, "c", "o"); len(got) != 3 {
		t.Fatalf("after replication: replicas on %v", got)
	}
	intact()
	// corrupt again: GETs never return the bad bytes, whichever replica they read
	corruptOne()
	for range 12 {
		if r := c.expect("a-member", "GET", acct+"/c/o", "", 200); r.body != body {
			t.Fatalf("GET returned %q", r.body)
		}
	}
	if quarantined() != 2 {
		// no GET happened to read the corrupt replica: the auditor finds it
		c.a.Storage.AuditObjects(context.Background(), 0)
	}
	c.replicate()
	if got := c.replicas(rg, "c", "o"); len(got) != 3 || quarantined() != 2 {
		t.Fatalf("after replication: replicas on %v, %d quarantined", got, quarantined())
	}
	intact()
}

// TestObjectStoreContainerReplicator: a container created and filled while
// one of its primaries was down reaches that primary after a pass (rows,
// deletions, metadata), and leaves the handoff that stood in for it.
func TestObjectStoreContainerReplicator(t *testing.T) {
	c := startClusterWith(t, 4)
	const acct = "/v1/AUTH_a"
	suffix, err := ReadHashPathSuffix(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	rg, err := ring.Load(filepath.Join(c.dir, "rings", "container.ring.gz"), "", suffix)
	if err != nil {
		t.Fatal(err)
	}
	// a container d1 is a primary of
	name := ""
	for i := 0; name == ""; i++ {
		for _, d := range rg.Nodes(rg.Partition("AUTH_a", fmt.Sprintf("c%d", i))) {
			if d.Name == "d1" {
				name = fmt.Sprintf("c%d", i)
			}
		}
	}
	part := rg.Partition("AUTH_a", name)
	d1 := filepath.Join(c.dir, "devices", "d1")
	if err := os.Rename(d1, d1+".unmounted"); err != nil {
		t.Fatal(err)
	}
	c.expect("a-member", "PUT", acct+"/"+name, "", 201, "X-Container-Meta-Color", "blue")
	for i := range 5 {
		c.expect("a-member", "PUT", fmt.Sprintf("%s/%s/o%d", acct, name, i), "12345", 201)
	}
	c.expect("a-member", "DELETE", acct+"/"+name+"/o0", "", 204)
	if err := os.Rename(d1+".unmounted", d1); err != nil {
		t.Fatal(err)
	}
	dbs := func() []string {
		files, _ := filepath.Glob(filepath.Join(c.dir, "devices", "*", "containers", fmt.Sprint(part), "*", "*", "*.db"))
		var devices []string
		for _, f := range files {
			rel, _ := filepath.Rel(filepath.Join(c.dir, "devices"), f)
			devices = append(devices, strings.Split(rel, string(filepath.Separator))[0])
		}
		return devices
	}
	if got := dbs(); len(got) != 3 {
		t.Fatalf("before: databases on %v", got)
	}
	st, err := c.a.ReplicateContainers(context.Background())
	if err != nil || st.Failures != 0 {
		t.Fatalf("pass: %+v %v", st, err)
	}
	got := dbs()
	primaries := map[string]bool{}
	for _, d := range rg.Nodes(part) {
		primaries[d.Name] = true
	}
	if len(got) != 3 {
		t.Fatalf("after: databases on %v, want its primaries %v", got, primaries)
	}
	for _, d := range got {
		if !primaries[d] {
			t.Fatalf("after: databases on %v, want its primaries %v", got, primaries)
		}
	}
	// each primary answers the same listing, d1 included
	var containerURL string
	for _, s := range c.a.Servers {
		if s.Name == "container-server" {
			containerURL = s.Listener.URL
		}
	}
	for d := range primaries {
		r, err := http.Get(fmt.Sprintf("%s/%s/%d/AUTH_a/%s", containerURL, d, part, name))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if string(body) != "o1\no2\no3\no4\n" || r.Header.Get("X-Container-Object-Count") != "4" ||
			r.Header.Get("X-Container-Bytes-Used") != "20" || r.Header.Get("X-Container-Meta-Color") != "blue" {
			t.Fatalf("%s: %q %v", d, body, r.Header)
		}
	}
	// nothing left to send
	if st, err := c.a.ReplicateContainers(context.Background()); err != nil || st.Sent != 0 || st.Failures != 0 {
		t.Fatalf("second pass: %+v %v", st, err)
	}

	// the account's databases likewise: on its primaries only, each listing the container
	arg, err := ring.Load(filepath.Join(c.dir, "rings", "account.ring.gz"), "", suffix)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := c.a.ReplicateAccounts(context.Background()); err != nil || st.Failures != 0 {
		t.Fatalf("account pass: %+v %v", st, err)
	}
	apart := arg.Partition("AUTH_a")
	accountDBs, _ := filepath.Glob(filepath.Join(c.dir, "devices", "*", "accounts", "*", "*", "*", "*.db"))
	if len(accountDBs) != 3 {
		t.Fatalf("account databases %v, want 3", accountDBs)
	}
	var accountURL string
	for _, s := range c.a.Servers {
		if s.Name == "account-server" {
			accountURL = s.Listener.URL
		}
	}
	for _, d := range arg.Nodes(apart) {
		r, err := http.Get(fmt.Sprintf("%s/%s/%d/AUTH_a", accountURL, d.Name, apart))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if !strings.Contains(string(body), name+"\n") {
			t.Fatalf("account replica on %s lists %q, want %s", d.Name, body, name)
		}
	}
	// a container report may land between passes; then the replicas settle
	settled := false
	for range 3 {
		st, err := c.a.ReplicateAccounts(context.Background())
		if err != nil || st.Failures != 0 {
			t.Fatalf("account pass: %+v %v", st, err)
		}
		if st.Sent == 0 {
			settled = true
			break
		}
	}
	if !settled {
		t.Fatal("account replicas keep sending rows")
	}
}
