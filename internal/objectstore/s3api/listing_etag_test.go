package s3api

import (
	"encoding/json"
	"testing"
)

// TestListingETags: a Swift listing row's s3_etag becomes a key of its own,
// as upstream's ListingEtagMiddleware, and a bucket listing shows the S3
// ETag, else an SLO's "<slo etag>-N", else the MD5.
func TestListingETags(t *testing.T) {
	body := `[{"name":"mpu","hash":"aaa; s3_etag=bbb-2; slo_etag=ccc","bytes":7},{"name":"plain","hash":"ddd","bytes":1}]`
	out, ok := moveS3ETags([]byte(body))
	if !ok {
		t.Fatal("not rewritten")
	}
	var rows []listedObject
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatal(err)
	}
	if rows[0].Hash != "aaa; slo_etag=ccc" || rows[0].S3Etag != `"bbb-2"` || rows[0].Bytes != 7 {
		t.Errorf("rewritten row %+v", rows[0])
	}
	for _, tc := range []struct {
		o    listedObject
		want string
	}{
		{rows[0], `"bbb-2"`},
		{listedObject{Hash: "aaa; s3_etag=bbb-2; slo_etag=ccc"}, `"bbb-2"`},
		{listedObject{Hash: "aaa", SLOEtag: `"ccc"`}, `"ccc-N"`},
		{listedObject{Hash: "aaa; slo_etag=ccc"}, `"ccc-N"`},
		{rows[1], `"ddd"`},
	} {
		if got := tc.o.s3ETag(); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.o, got, tc.want)
		}
	}
	if !isContainerPath("/v1/AUTH_a/c") || isContainerPath("/v1/AUTH_a/c/o") || isContainerPath("/v1/AUTH_a") {
		t.Error("isContainerPath")
	}
}
