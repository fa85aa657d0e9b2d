"""Writes a full backup (bz2) and an incremental one (zlib) of a small volume
the way cinder/backup/chunkeddriver.py and drivers/posix.py store them
(backup_file_size 65536, backup_sha_block_size_bytes 32768), for
TestRestoreUpstreamBackups. Run from this directory: python3 make.py"""
import bz2, datetime, hashlib, json, os, zlib

SIZE, CHUNK, BLOCK = 200000, 65536, 32768
VOLUME_ID = "9c1b2f0e-6a51-4c55-9f1e-2b7d0c6f1a10"


def volume(generation):
    # volumeBytes in restore_test.go
    data = bytearray((i * 7 + i // 1000) % 251 for i in range(SIZE))
    data[70000:110000] = bytes(40000)
    if generation == 2:
        for i in range(140000, 140100):
            data[i] ^= 0xFF
        data[0] = 42
    return bytes(data)


def backup(backup_id, data, algorithm, parent=None):
    container = os.path.join(backup_id[0:2], backup_id[2:4], backup_id)
    os.makedirs(container, exist_ok=True)
    prefix = "volume_%s_%s_backup_%s" % (VOLUME_ID, "20261207210000", backup_id)
    created = str(datetime.datetime(2026, 12, 7, 21, 0, 0, tzinfo=datetime.timezone.utc))
    objects, shas, n = [], [], 1

    def chunk(segment, offset):
        nonlocal n
        name = "%s-%05d" % (prefix, n)
        comp = {"bz2": bz2, "zlib": zlib}[algorithm].compress(segment)
        alg, out = (algorithm, comp) if len(comp) < len(segment) else ("none", segment)
        with open(os.path.join(container, name), "wb") as f:
            f.write(out)
        objects.append({name: {"offset": offset, "length": len(segment), "compression": alg,
                               "md5": hashlib.md5(segment).hexdigest()}})
        n += 1

    for off in range(0, SIZE, CHUNK):
        buf = data[off:off + CHUNK]
        sl = [hashlib.sha256(buf[o:o + BLOCK]).hexdigest() for o in range(0, len(buf), BLOCK)]
        base = len(shas)
        shas.extend(sl)
        if parent is None:
            chunk(buf, off)
            continue
        ext = -1
        for i, s in enumerate(sl):
            if s != parent[base + i]:
                if ext == -1:
                    ext = i * BLOCK
            elif ext != -1:
                chunk(buf[ext:i * BLOCK], off + ext)
                ext = -1
        if ext != -1:
            chunk(buf[ext:], off + ext)
    common = {"version": "1.0.0", "backup_id": backup_id, "volume_id": VOLUME_ID, "backup_name": "b",
              "backup_description": None, "created_at": created}
    with open(os.path.join(container, prefix + "_sha256file"), "wb") as f:
        f.write(json.dumps(dict(common, chunk_size=BLOCK, sha256s=shas), sort_keys=True, indent=2).encode())
    meta = dict(common, objects=objects, parent_id=parent and "5e0a3c1d-full", volume_meta=None)
    with open(os.path.join(container, prefix + "_metadata"), "wb") as f:
        f.write(json.dumps(meta, sort_keys=True, indent=2).encode())
    return shas


full = backup("5e0a3c1d-full", volume(1), "bz2")
backup("7f4b9d2e-incr", volume(2), "zlib", parent=full)
