package image

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

// TestTransferSurvivesAnotherInstanceStarting: an upload in flight on one image
// service is left alone by another starting on the same database (as `nimbus serve
// --role api` next to `nimbus up`, or a process restarting beside it): the upload
// completes, active, with all its bytes.
func TestTransferSurvivesAnotherInstanceStarting(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.Create(e.DemoToken, map[string]any{"disk_format": "raw", "container_format": "bare"})
	data := bytes.Repeat([]byte("nimbus"), 1<<18)
	body, feed := io.Pipe()
	defer feed.Close()
	done := make(chan *http.Response, 1)
	go func() { done <- e.raw(e.URL, "PUT", "/v2/images/"+id+"/file", e.DemoToken, body, nil) }()
	if _, err := feed.Write(data[:len(data)/2]); err != nil {
		t.Fatal(err)
	}
	// the transport took the first half; the service claims the image once it
	// reads the request: saving
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil)["status"]
		if got == "saving" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mid-upload status %v", got)
		}
	}
	opts := e.opts
	opts.Policy = policy.NewEnforcer()
	if _, err := New(context.Background(), opts); err != nil { // the other instance starts: recover
		t.Fatal(err)
	}
	if _, err := feed.Write(data[len(data)/2:]); err != nil {
		t.Fatal(err)
	}
	feed.Close()
	resp := <-done
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("upload across another instance's start: %d", resp.StatusCode)
	}
	show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil)
	if show["status"] != "active" || show["size"] != float64(len(data)) {
		t.Fatalf("after upload: status %v size %v, want active %d", show["status"], show["size"], len(data))
	}
}

// TestDeadTransferIsTakenOver: an image a dead transfer left in saving (its lease
// ran out, its process gone) takes a new upload, and the dead transfer, should it
// come back, can no longer make the image active.
func TestDeadTransferIsTakenOver(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.Create(e.DemoToken, map[string]any{"disk_format": "raw", "container_format": "bare"})
	if _, err := e.DB.ExecContext(t.Context(), `UPDATE images SET status = 'saving', transfer_id = 'dead',
		transfer_expires = ? WHERE id = ?`, time.Now().Add(-time.Second).Unix(), id); err != nil {
		t.Fatal(err)
	}
	if code, _, _, _ := e.Do("PUT", "/v2/images/"+id+"/file", e.DemoToken, []byte("new bytes"), nil); code != http.StatusNoContent {
		t.Fatalf("upload over a dead transfer: %d", code)
	}
	res, err := e.DB.ExecContext(t.Context(), `UPDATE images SET status = 'active' WHERE id = ? AND transfer_id = 'dead'`, id)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 0 {
		t.Fatal("the dead transfer still holds the image")
	}
	// a live lease is not taken over
	id2 := e.Create(e.DemoToken, map[string]any{"disk_format": "raw", "container_format": "bare"})
	if _, err := e.DB.ExecContext(t.Context(), `UPDATE images SET status = 'saving', transfer_id = 'live',
		transfer_expires = ? WHERE id = ?`, time.Now().Add(transferLease).Unix(), id2); err != nil {
		t.Fatal(err)
	}
	if code, _, _, _ := e.Do("PUT", "/v2/images/"+id2+"/file", e.DemoToken, []byte("x"), nil); code != http.StatusConflict {
		t.Fatalf("upload over a live transfer: %d, want 409", code)
	}
}
