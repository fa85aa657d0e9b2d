package file

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// benchCase is one qemu-img bench workload: size bytes a request, count
// requests, written or read, sequential (step = size) or scattered (a prime
// multiple of size, taken modulo the volume's size by qemu-img bench).
type benchCase struct {
	name  string
	size  int64
	count int
	write bool
	step  int64
}

var benchCases = []benchCase{
	{"seq-4k-write", 4 << 10, 10000, true, 4 << 10},
	{"rand-4k-write", 4 << 10, 10000, true, 1021 * (4 << 10)},
	{"seq-1m-write", 1 << 20, 256, true, 1 << 20},
	{"rand-1m-write", 1 << 20, 256, true, 389 << 20},
	{"seq-4k-read", 4 << 10, 10000, false, 4 << 10},
	{"rand-4k-read", 4 << 10, 10000, false, 1021 * (4 << 10)},
	{"seq-1m-read", 1 << 20, 256, false, 1 << 20},
	{"rand-1m-read", 1 << 20, 256, false, 389 << 20},
}

var benchCompleted = regexp.MustCompile(`Run completed in ([0-9.]+) seconds`)

// qemuBench runs qemu-img bench with the case's workload on the image that
// imageArgs name, queue depth 8, and returns its MB/s.
func qemuBench(tb testing.TB, c benchCase, imageArgs ...string) float64 {
	tb.Helper()
	args := []string{"bench", "-d", "8", "-c", strconv.Itoa(c.count), "-s", strconv.FormatInt(c.size, 10), "-S", strconv.FormatInt(c.step, 10)}
	if c.write {
		args = append(args, "-w")
	}
	out, err := exec.Command("qemu-img", append(args, imageArgs...)...).CombinedOutput()
	if err != nil {
		tb.Fatalf("qemu-img bench: %v: %s", err, out)
	}
	m := benchCompleted.FindSubmatch(out)
	if m == nil {
		tb.Fatalf("qemu-img bench: %s", out)
	}
	secs, _ := strconv.ParseFloat(string(m[1]), 64)
	return float64(c.size) * float64(c.count) / secs / 1e6
}

// BenchmarkBlockThroughput compares the same qcow2 volume read and written by
// qemu-img locally and through its NBD export as a guest reaches it (QEMU's
// NBD client, TCP on loopback; TLS apart, see BenchmarkTLSCost), like with
// like, both at queue depth 8 on allocated clusters:
//
//   - writeback: the file opened as the compute driver opens a guest's local
//     root disk (-drive format=qcow2: cache=writeback, aio=threads) against
//     the export as the backend serves it (the daemon's node through the host's
//     page cache too). This is what a guest sees, root disk against volume.
//   - direct: both through O_DIRECT with Linux AIO (qemu-img -t none -i
//     native against the daemon's default, cache.direct=on, aio=native), the
//     disk without the page cache, as Nova opens a volume (cache=none).
//
// Each iteration is one qemu-img bench run; MB/s is reported per case.
//
//	go test ./internal/volume/backend/file -run '^$' -bench BlockThroughput -benchtime 1x -count 3
func BenchmarkBlockThroughput(b *testing.B) {
	for _, mode := range []struct {
		name  string
		local []string // qemu-img's cache and aio options on the file
		opts  Options  // the daemon's
	}{
		{"writeback", []string{"-t", "writeback", "-i", "threads"}, Options{PageCache: true}},
		{"direct", []string{"-t", "none", "-i", "native"}, Options{}},
	} {
		be := newBackend(b, mode.opts)
		ctx := context.Background()
		v := backend.Volume{ID: "bench", SizeGB: 1}
		if err := be.Create(ctx, v); err != nil {
			b.Fatal(err)
		}
		path := be.volumePath(v.ID)
		// Allocated clusters everywhere, so reads read data on both paths.
		qemuBench(b, benchCase{"fill", 1 << 20, 1024, true, 1 << 20}, "-f", "qcow2", path)
		for _, c := range benchCases {
			b.Run(mode.name+"/local/"+c.name, func(b *testing.B) {
				for range b.N {
					b.ReportMetric(qemuBench(b, c, append(mode.local, "-f", "qcow2", path)...), "MB/s")
				}
			})
		}
		// qemu-img bench takes no --object, so no TLS credentials: the export
		// is served without TLS for these cases, and BenchmarkTLSCost measures
		// TLS.
		be.plainNBD = true
		info, err := be.Export(ctx, v, backend.Export{AttachmentID: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		image := fmt.Sprintf("driver=nbd,server.type=inet,server.host=%s,server.port=%d,export=%s",
			info.Data["host"], info.Data["port"], info.Data["export_name"])
		for _, c := range benchCases {
			b.Run(mode.name+"/nbd/"+c.name, func(b *testing.B) {
				for range b.N {
					b.ReportMetric(qemuBench(b, c, "--image-opts", image), "MB/s")
				}
			})
		}
		if err := be.Unexport(ctx, v, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreate is the backend's share of a volume create: blank, and from
// a 64 MiB raw image (inspection and conversion).
//
//	go test ./internal/volume/backend/file -run '^$' -bench 'Create|ExportUnexport' -benchtime 20x
func BenchmarkCreate(b *testing.B) {
	be := newBackend(b, Options{})
	ctx := context.Background()
	img := filepath.Join(b.TempDir(), "image.raw")
	if err := os.WriteFile(img, pattern(9, 64<<20), 0o600); err != nil {
		b.Fatal(err)
	}
	// Every iteration makes a new volume: ids run on across the runs b.Run makes.
	next := 0
	id := func(prefix string) string { next++; return prefix + strconv.Itoa(next) }
	b.Run("blank", func(b *testing.B) {
		for range b.N {
			if err := be.Create(ctx, backend.Volume{ID: id("blank-"), SizeGB: 1}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("from-image-64MiB", func(b *testing.B) {
		for range b.N {
			v := backend.Volume{ID: id("img-"), SizeGB: 1}
			if err := be.CreateFromImage(ctx, v, backend.ImageSource{Path: img, Format: "raw"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkExportUnexport is the backend's share of an attach and a detach:
// the daemon's start with the export, and its removal with the daemon's stop.
func BenchmarkExportUnexport(b *testing.B) {
	be := newBackend(b, Options{})
	ctx := context.Background()
	v := backend.Volume{ID: "vol", SizeGB: 1}
	if err := be.Create(ctx, v); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		if _, err := be.Export(ctx, v, backend.Export{AttachmentID: "att"}); err != nil {
			b.Fatal(err)
		}
		if err := be.Unexport(ctx, v, "att"); err != nil {
			b.Fatal(err)
		}
	}
}

var qemuIORate = regexp.MustCompile(`\(([0-9.]+) MiB/sec`)

// BenchmarkTLSCost is what TLS-PSK costs the export: 256 MiB written and read
// back by qemu-io (which, unlike qemu-img bench, takes the TLS credentials)
// through the export with and without TLS.
//
//	go test ./internal/volume/backend/file -run '^$' -bench TLSCost -benchtime 1x -count 3
func BenchmarkTLSCost(b *testing.B) {
	for _, plain := range []bool{true, false} {
		name := map[bool]string{true: "plain", false: "tls-psk"}[plain]
		be := newBackend(b, Options{})
		be.plainNBD = plain
		ctx := context.Background()
		v := backend.Volume{ID: "bench", SizeGB: 1}
		if err := be.Create(ctx, v); err != nil {
			b.Fatal(err)
		}
		info, err := be.Export(ctx, v, backend.Export{AttachmentID: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		client := &tlsClient{info: info, dir: b.TempDir()}
		key := fmt.Sprintf("%s:%s\n", info.Data["tls_psk_identity"], info.Data["tls_psk_key"])
		if err := os.WriteFile(filepath.Join(client.dir, "keys.psk"), []byte(key), 0o600); err != nil {
			b.Fatal(err)
		}
		opts := client.imageOpts("")
		if plain {
			opts = strings.TrimSuffix(opts, ",tls-creds=tls0")
		}
		for _, op := range []string{"write", "read"} {
			b.Run(name+"/"+op+"-256MiB", func(b *testing.B) {
				for range b.N {
					out, err := exec.Command("qemu-io", "--object", client.objectArg(), "--image-opts", "-c", op+" 0 256M", opts).CombinedOutput()
					m := qemuIORate.FindSubmatch(out)
					if err != nil || m == nil {
						b.Fatalf("qemu-io: %v: %s", err, out)
					}
					rate, _ := strconv.ParseFloat(string(m[1]), 64)
					b.ReportMetric(rate*1.048576, "MB/s")
				}
			})
		}
	}
}
