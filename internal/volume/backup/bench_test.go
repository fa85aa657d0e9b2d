package backup

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
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
				var cpu time.Duration
				for b.Loop() {
					n++
					s := spec(ts, fmt.Sprintf("bench-%d", n))
					start := cpuTime(b)
					r, err := ts.driver.Backup(ctx, s, vol, benchSize, nil)
					if err != nil {
						b.Fatal(err)
					}
					cpu += cpuTime(b) - start
					b.StopTimer()
					b.ReportMetric(float64(r.StoredBytes)/benchSize, "stored/volume")
					if err := ts.driver.Delete(ctx, saved(s, r)); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				reportCPU(b, cpu, n)
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
				n, start := 0, cpuTime(b)
				for b.Loop() {
					n++
					if err := ts.driver.Restore(ctx, saved(s, r), dst, benchSize, RestoreOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				reportCPU(b, cpuTime(b)-start, n)
				if err := ts.driver.Delete(ctx, saved(s, r)); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// cpuTime is the CPU time (user and system) the process has used: the
// benchmark's, and the in-process object store's. On a shared machine it
// varies less than the wall time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU seconds per GiB of volume of n operations.
func reportCPU(b *testing.B, cpu time.Duration, n int) {
	if n > 0 {
		b.ReportMetric(cpu.Seconds()/(float64(n)*benchSize/(1<<30)), "cpu-s/GiB")
	}
}
