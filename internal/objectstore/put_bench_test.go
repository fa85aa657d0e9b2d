package objectstore

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
)

// startBenchCluster is startClusterIn for benchmarks: an all-in-one of three
// devices, 3 replicas, stopped when b ends.
func startBenchCluster(b *testing.B) string {
	b.Helper()
	a, err := StartAllInOne(Options{Dir: b.TempDir(), Host: "127.0.0.1", PartPower: 6, Devices: 3,
		Logger: slog.New(slog.DiscardHandler), Auth: tokens{"a-member": creds("a", "member")}})
	if err != nil {
		b.Fatal(err)
	}
	serve(b, a)
	benchPut(b, a.URL+"/v1/AUTH_a/bench", nil)
	return a.URL + "/v1/AUTH_a/bench"
}

func benchPut(b *testing.B, url string, body []byte) {
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", "a-member")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusAccepted {
		b.Fatalf("PUT %s: %d", url, res.StatusCode)
	}
}

// BenchmarkObjectPutLarge: 64 MiB PUTs through the proxy to three replicas
// (MB/s is the client's rate; each byte is written three times).
func BenchmarkObjectPutLarge(b *testing.B) {
	url := startBenchCluster(b)
	body := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	b.SetBytes(int64(len(body)))
	for i := 0; b.Loop(); i++ {
		benchPut(b, fmt.Sprintf("%s/large-%d", url, i), body)
	}
}

// BenchmarkObjectPutSmall: 4 KiB PUTs at concurrency 8, as the bench's
// small-object phase.
func BenchmarkObjectPutSmall(b *testing.B) {
	url := startBenchCluster(b)
	body := bytes.Repeat([]byte("x"), 4096)
	var n atomic.Int64
	b.SetParallelism(4) // 2 cores x 4 = 8 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchPut(b, fmt.Sprintf("%s/small-%d", url, n.Add(1)), body)
		}
	})
}
