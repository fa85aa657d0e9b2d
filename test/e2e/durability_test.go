package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
)

// Acceptance 4: kill -9 during a stream of writes, restart on the same data dir:
// every acknowledged write is there and tokens issued before the crash still validate.
// Also key rotation on a running cloud.

func TestKillDuringWritesLosesNoAcknowledgedWrite(t *testing.T) {
	t.Parallel()
	c, err := StartCloud(filepath.Join(t.TempDir(), "cloud"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })

	adminTok, _ := login(t, c, "admin", c.Secret("admin"), "admin")
	demoTok, _ := login(t, c, "demo", c.Secret("demo"), "demo")
	revoked, _ := login(t, c, "admin", c.Secret("admin"), "admin")
	if r := request(t, "DELETE", c.IdentityURL+"/v3/auth/tokens", adminTok, nil, "X-Subject-Token", revoked); r.Status != http.StatusNoContent {
		t.Fatalf("revoke: %v", r)
	}

	// Writers stream project creations; each 201 is an acknowledged write.
	type ack struct{ id, name string }
	var (
		mu    sync.Mutex
		acked []ack
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prefix := uniqueName("durable")
	url := c.IdentityURL + "/v3/projects"
	const writers = 4
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				name := prefix + "-" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				r, err := tryRequest(ctx, "POST", url, adminTok, map[string]any{"project": map[string]any{
					"name": name, "description": "written before the crash", "tags": []string{"durable"}}})
				if err != nil {
					return // the cloud is gone
				}
				if r.Status != http.StatusCreated {
					t.Errorf("create %s: %v", name, r)
					return
				}
				var body struct {
					Project struct {
						ID string `json:"id"`
					} `json:"project"`
				}
				if err := json.Unmarshal(r.Body, &body); err != nil || body.Project.ID == "" {
					t.Errorf("create %s: %v: %s", name, err, r.Body)
					return
				}
				mu.Lock()
				acked = append(acked, ack{body.Project.ID, name})
				mu.Unlock()
			}
		}()
	}
	// Let the stream run, then crash the cloud in the middle of it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 100 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.Kill()
	wg.Wait()
	cancel()
	if t.Failed() {
		t.FailNow()
	}
	if len(acked) < 10 {
		t.Fatalf("only %d writes acknowledged before the crash", len(acked))
	}
	t.Logf("%d project creations acknowledged before kill -9", len(acked))

	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	// Tokens issued before the crash still validate, and still work.
	for _, tok := range []string{adminTok, demoTok} {
		if r := validate(t, c, tok, tok); r.Status != http.StatusOK {
			t.Fatalf("token issued before the crash: %v", r)
		}
	}
	if r := validate(t, c, adminTok, demoTok); r.Status != http.StatusOK {
		t.Fatalf("demo token issued before the crash, validated by admin: %v", r)
	}
	// A revocation acknowledged before the crash holds after it.
	wantKeystoneError(t, "token revoked before the crash", request(t, "GET", c.IdentityURL+"/v3/projects", revoked, nil), 401)

	// Every acknowledged project is there, by id and in the list.
	r := request(t, "GET", c.IdentityURL+"/v3/projects?tags=durable", adminTok, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("list projects after restart: %v", r)
	}
	var list struct {
		Projects []struct{ ID, Name string } `json:"projects"`
	}
	decodeJSON(t, string(r.Body), &list)
	listed := map[string]string{}
	for _, p := range list.Projects {
		listed[p.ID] = p.Name
	}
	missing := 0
	for _, a := range acked {
		if listed[a.id] != a.name {
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged project %s (%s) is not in the list after the restart", a.name, a.id)
			}
			continue
		}
		r := request(t, "GET", c.IdentityURL+"/v3/projects/"+a.id, adminTok, nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), a.name) {
			t.Errorf("acknowledged project %s after the restart: %v", a.name, r)
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged projects lost", missing, len(acked))
	}
	// The cloud takes writes again.
	r = request(t, "POST", c.IdentityURL+"/v3/projects", adminTok, map[string]any{"project": map[string]any{"name": prefix + "-after"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create after the restart: %v", r)
	}
	assertNoSecretsInLog(t, c)
}

func TestKeyRotationOnRunningCloud(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "cloud")
	c, err := StartCloud(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	keyDir := filepath.Join(dir, "fernet-keys")

	rotate := func() {
		t.Helper()
		out, err := exec.Command(nimbusBin, "identity", "rotate-keys", "--data-dir", dir).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "rotated") {
			t.Fatalf("nimbus identity rotate-keys: %v\n%s", err, out)
		}
	}
	// primaryIndex is the key file that encrypts new tokens.
	primaryIndex := func() int {
		t.Helper()
		entries, err := os.ReadDir(keyDir)
		if err != nil {
			t.Fatal(err)
		}
		top := -1
		for _, e := range entries {
			if n, err := strconv.Atoi(e.Name()); err == nil && n > top {
				top = n
			}
		}
		return top
	}
	// sealedWith says whether tok decrypts with key file index (it may be retired).
	sealedWith := func(tok string, index int) bool {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(keyDir, strconv.Itoa(index)))
		if err != nil {
			t.Fatalf("key %d: %v", index, err)
		}
		k, err := fernet.ParseKey(strings.TrimSpace(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = fernet.Decrypt([]byte(tok), []fernet.Key{k})
		return err == nil
	}
	// loginWithKey logs in until the cloud seals with key index: it picks up a
	// rotation within seconds, without a restart.
	loginWithKey := func(index int) string {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			tok, _ := login(t, c, "admin", c.Secret("admin"), "admin")
			if sealedWith(tok, index) {
				return tok
			}
			if time.Now().After(deadline) {
				t.Fatalf("15s after rotate-keys, new tokens are still not sealed with the new primary key %d", index)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	projects := c.IdentityURL + "/v3/projects"

	first := primaryIndex()
	old := loginWithKey(first)

	rotate()
	second := primaryIndex()
	if second <= first {
		t.Fatalf("rotate-keys: primary key %d, was %d", second, first)
	}
	newer := loginWithKey(second)
	for what, tok := range map[string]string{"token from before the rotation": old, "token from after it": newer} {
		if r := validate(t, c, newer, tok); r.Status != http.StatusOK {
			t.Fatalf("%s: %v", what, r)
		}
		if r := request(t, "GET", projects, tok, nil); r.Status != http.StatusOK {
			t.Fatalf("%s as X-Auth-Token: %v", what, r)
		}
	}

	// With max_active_keys 3 (the default), one more rotation retires the key that
	// sealed the first token: it stops validating, the newer one does not.
	rotate()
	third := primaryIndex()
	if _, err := os.Stat(filepath.Join(keyDir, strconv.Itoa(first))); !os.IsNotExist(err) {
		t.Fatalf("after two rotations key %d should be retired (%v)", first, err)
	}
	newest := loginWithKey(third)
	wantKeystoneError(t, "token sealed with a retired key", request(t, "GET", projects, old, nil), 401)
	if r := validate(t, c, newest, old); r.Status != http.StatusNotFound {
		t.Fatalf("validate a token sealed with a retired key: %v, want 404", r)
	}
	for what, tok := range map[string]string{"token sealed with the previous key": newer, "token sealed with the newest key": newest} {
		if r := request(t, "GET", projects, tok, nil); r.Status != http.StatusOK {
			t.Fatalf("%s: %v", what, r)
		}
	}
	// And a restart keeps the rotated keys.
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	if r := validate(t, c, newest, newer); r.Status != http.StatusOK {
		t.Fatalf("after a restart, a token of the previous key: %v", r)
	}
}
