package backup

import (
	"context"
	"errors"
	"testing"
)

// TestObjectStoreRefusesOtherTokens: a token the store does not know (401),
// or one of another project (403), fails backup, restore and delete with
// ErrAccessDenied and leaves the backup as it was.
func TestObjectStoreRefusesOtherTokens(t *testing.T) {
	ts := newSwiftTestStore(t, ChunkOptions{ChunkSize: testChunk})
	ctx := context.Background()
	vol := volumeData(9, testSize)
	s := spec(ts, "mine")
	r, err := ts.driver.Backup(ctx, s, &memVolume{b: vol}, testSize, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{"forged", "other", ""} {
		bad := saved(s, r)
		bad.Auth.Token = token
		b := bad
		b.ID, b.Container, b.Prefix = "theirs-2", "", ""
		if _, err := ts.driver.Backup(ctx, b, &memVolume{b: vol}, testSize, nil); !errors.Is(err, ErrAccessDenied) {
			t.Errorf("token %q: backup: %v", token, err)
		}
		if err := ts.driver.Restore(ctx, bad, &memVolume{b: make([]byte, testSize)}, testSize, RestoreOptions{}); !errors.Is(err, ErrAccessDenied) {
			t.Errorf("token %q: restore: %v", token, err)
		}
		err = ts.driver.Delete(ctx, bad)
		t.Logf("token %q: %v", token, err)
		if !errors.Is(err, ErrAccessDenied) {
			t.Errorf("token %q: delete: %v", token, err)
		}
	}
	if got := restore(t, ts, saved(s, r), 0, true); string(got) != string(vol) {
		t.Error("the backup changed")
	}
}
