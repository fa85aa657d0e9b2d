# Run: python3 internal/volume/backup/testdata/upstream_chunk_work.py (docs/PERFORMANCE.md, Block storage, Backups).
# The CPU work of upstream's ChunkedBackupDriver per chunk (cinder/backup/chunkeddriver.py):
# backup: _calculate_sha (sha256 per 32 KiB block), _prepare_output_data (zlib.compress), md5;
# restore: zlib.decompress. Same data mix as the Go benchmark: 64 KiB runs of random, text, zeros.
import hashlib, os, time, zlib
SIZE, CHUNK, BLOCK = 256 << 20, 52428800, 32768
parts = []
text = b"volume backup text " * (65536 // 19 + 1)
for i, off in enumerate(range(0, SIZE, 65536)):
    k = i % 3
    parts.append(os.urandom(65536) if k == 0 else text[:65536] if k == 1 else bytes(65536))
vol = b"".join(parts)
best_b = best_r = None
cpu_b = cpu_r = 0.0
for _ in range(3):
    c0 = time.process_time()
    t = time.perf_counter(); objs = []
    for off in range(0, SIZE, CHUNK):
        data = vol[off:off + CHUNK]
        mv = memoryview(data)
        shas = [hashlib.sha256(mv[o:o + BLOCK]).hexdigest() for o in range(0, len(data), BLOCK)]
        comp = zlib.compress(data)
        if len(comp) >= len(data): comp = data
        md5 = hashlib.md5(data).hexdigest()
        objs.append(comp)
    tb = time.perf_counter() - t
    c1 = time.process_time()
    t = time.perf_counter()
    for c in objs:
        zlib.decompress(c)
    tr = time.perf_counter() - t
    cpu_b += c1 - c0
    cpu_r += time.process_time() - c1
    best_b = tb if best_b is None else min(best_b, tb)
    best_r = tr if best_r is None else min(best_r, tr)
print("stored/volume %.4f" % (sum(map(len, objs)) / SIZE))
print("backup CPU work  %.1f MB/s" % (SIZE / best_b / 1e6))
print("restore CPU work %.1f MB/s" % (SIZE / best_r / 1e6))
print("backup CPU  %.2f cpu-s/GiB" % (cpu_b / 3 / (SIZE / 2**30)))
print("restore CPU %.2f cpu-s/GiB" % (cpu_r / 3 / (SIZE / 2**30)))
