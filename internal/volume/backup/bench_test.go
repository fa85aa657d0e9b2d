package backup

import (
	"context"
	"fmt"
	"testing"
)

// benchSize is the volume the benchmarks back up and restore: 256 MiB of
// volumeData (a third random, a third text, a third zeros).
const benchSize = 256 << 20

// BenchmarkBackup backs up a 256 MiB volume in full with upstream's defaults
// (50 MB chunks, 32 KiB blocks, zlib), into a directory and into an
// in-process object store (3 replicas); MB/s are the volume's bytes.
func BenchmarkBackup(b *testing.B) {
	vol := &memVolume{b: volumeData(10, benchSize)}
	for _, st := range stores {
		for _, compression := range []string{CompressionZlib, CompressionNone} {
			b.Run(fmt.Sprintf("%s/%s", st.name, compression), func(b *testing.B) {
				ts := st.make(b, ChunkOptions{Compression: compression})
				ctx := context.Background()
				b.SetBytes(benchSize)
				n := 0
				for b.Loop() {
					n++
					s := spec(ts, fmt.Sprintf("bench-%d", n))
					r, err := ts.driver.Backup(ctx, s, vol, benchSize, nil)
					if err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					b.ReportMetric(float64(r.StoredBytes)/benchSize, "stored/volume")
					if err := ts.driver.Delete(ctx, saved(s, r)); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			})
		}
	}
}

// BenchmarkRestore restores that backup into a volume in memory, every chunk
// checked against its sha256s and md5.
func BenchmarkRestore(b *testing.B) {
	vol := &memVolume{b: volumeData(10, benchSize)}
	dst := &memVolume{b: make([]byte, benchSize)}
	for _, st := range stores {
		for _, compression := range []string{CompressionZlib, CompressionNone} {
			b.Run(fmt.Sprintf("%s/%s", st.name, compression), func(b *testing.B) {
				ts := st.make(b, ChunkOptions{Compression: compression})
				ctx := context.Background()
				s := spec(ts, "bench")
				r, err := ts.driver.Backup(ctx, s, vol, benchSize, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(benchSize)
				for b.Loop() {
					if err := ts.driver.Restore(ctx, saved(s, r), dst, benchSize, RestoreOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				if err := ts.driver.Delete(ctx, saved(s, r)); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
