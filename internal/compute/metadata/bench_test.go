package metadata

import "testing"

// BenchmarkMetaDataJSON is one signed request for meta_data.json: the signature
// check, the lookup, 512 random bytes and the JSON.
func BenchmarkMetaDataJSON(b *testing.B) {
	h := Handler(newFakeSource(instanceA()), testOptions())
	r := request("GET", "/openstack/latest/meta_data.json", uuidA, "proj-a")
	b.ReportAllocs()
	for b.Loop() {
		if w := serve(h, r); w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}
