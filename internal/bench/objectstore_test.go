package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/objectstoretest"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

// oneToken stands in for identity: "tok" is a member of project p.
type oneToken struct{}

func (oneToken) Authenticate(_ context.Context, token string) (*auth.Credentials, error) {
	if token != "tok" {
		return nil, errors.New("invalid token")
	}
	return &auth.Credentials{UserID: "u", ProjectID: "p", Roles: []auth.Role{{ID: "member", Name: "member"}}}, nil
}

// startObjectStore runs an in-process all-in-one (3 devices, 3 replicas) and
// returns its storage URL for project p.
func startObjectStore(t *testing.T) string {
	t.Helper()
	a := objectstoretest.Start(t, objectstore.Options{Auth: oneToken{}})
	return a.URL + "/v1/AUTH_p"
}

// TestObjectStoreScenario runs a short version of the scenario against a real
// store: every phase must succeed, report figures, and leave nothing behind.
func TestObjectStoreScenario(t *testing.T) {
	storageURL := startObjectStore(t)
	rep, err := ObjectStore(context.Background(), ObjectStoreOptions{
		StorageURL: storageURL, Token: "tok", Concurrency: 4,
		SmallDuration: 200 * time.Millisecond, SmallMax: 40, LargeSize: 3<<20 + 17, LargeRounds: 2,
		ListingObjects: 30, ListingRounds: 2, DDDir: t.TempDir(), ServerPIDs: []int{os.Getpid()},
	}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if rep.SmallPut.Requests == 0 || rep.SmallPut.Errors != 0 || rep.SmallPut.Rate <= 0 ||
		rep.SmallGet.Requests == 0 || rep.SmallGet.Errors != 0 || rep.SmallGet.Rate <= 0 || rep.SmallPut.Server == nil {
		t.Errorf("small objects: PUT %+v GET %+v", rep.SmallPut, rep.SmallGet)
	}
	if rep.LargePutMBps <= 0 || rep.LargeGetMBps <= 0 || rep.DDWriteMBps <= 0 || rep.DDReadMBps <= 0 ||
		rep.ServerRSSStart <= 0 || rep.ServerRSSPeak < rep.ServerRSSStart {
		t.Errorf("large objects: %+v", rep)
	}
	// 30 names fit one page; the empty page after it ends the listing
	if rep.ListingObjects != 30 || rep.ListingPages != 2 || rep.ListingTime <= 0 {
		t.Errorf("listing: %d objects, %d pages, %v", rep.ListingObjects, rep.ListingPages, rep.ListingTime)
	}
	// the bench's containers are gone: the account lists nothing
	req, _ := http.NewRequest(http.MethodGet, storageURL+"?format=json", nil)
	req.Header.Set("X-Auth-Token", "tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var containers []struct{ Name string }
	if resp.StatusCode == http.StatusOK {
		_ = json.NewDecoder(resp.Body).Decode(&containers)
	}
	resp.Body.Close()
	if len(containers) != 0 {
		t.Errorf("left behind: %+v", containers)
	}
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"small PUT", "small GET", "of dd conv=fsync", "of dd read", "server RSS", "listing    30 objects"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back ObjectStoreReport
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.ListingObjects != 30 {
		t.Fatalf("JSON round trip: %v", err)
	}
}

// TestObjectStoreScenarioRefuses: a wrong token fails before anything is written,
// and a target off loopback is refused.
func TestObjectStoreScenarioRefuses(t *testing.T) {
	storageURL := startObjectStore(t)
	if _, err := ObjectStore(context.Background(), ObjectStoreOptions{StorageURL: storageURL, Token: "bad"}, func(string) {}); err == nil ||
		!strings.Contains(err.Error(), "401") {
		t.Errorf("bad token: %v", err)
	}
	if _, err := ObjectStore(context.Background(), ObjectStoreOptions{StorageURL: "http://10.0.0.1:8080/v1/AUTH_p", Token: "tok"}, func(string) {}); err == nil {
		t.Error("off-loopback target accepted")
	}
	if _, err := ObjectStore(context.Background(), ObjectStoreOptions{}, func(string) {}); !errors.Is(err, ErrNoStorageURL) {
		t.Errorf("no target: %v", err)
	}
}
