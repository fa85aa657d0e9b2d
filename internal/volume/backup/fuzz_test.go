package backup

import (
	"encoding/json"
	"testing"
)

// FuzzParseMetadata: whatever a store holds as a metadata object, the parser
// does not panic, and what it accepts names only the backup's own chunks,
// inside the bounds a restore checks.
func FuzzParseMetadata(f *testing.F) {
	const prefix = "volume_v/20261207210000/az_nova_backup_b"
	good, _ := json.Marshal(metadata{BackupID: "b", Version: driverVersion, VolumeID: "v", Objects: []storedObjects{
		{prefix + "-00001": {Compression: "zlib", Length: 52428800, MD5: "0123456789abcdef0123456789abcdef", Offset: 0}},
		{prefix + "-00002": {Compression: "none", Length: 1, MD5: "0123456789abcdef0123456789abcdef", Offset: 52428800}},
	}})
	f.Add(good, prefix)
	f.Add([]byte(`{"version":"1.0.0","objects":[{"../x-00001":{"offset":0,"length":1,"md5":"","compression":"none"}}]}`), "x")
	f.Add([]byte(`{"version":"1.0.0","objects":[{}]}`), prefix)
	f.Add([]byte(`{"version":"1.0.0","objects":[{"p-00001":{"offset":-1,"length":9223372036854775807}}]}`), "p")
	f.Add([]byte(`null`), "")
	f.Fuzz(func(t *testing.T, data []byte, prefix string) {
		_, chunks, err := parseMetadata(data, prefix)
		if err != nil {
			return
		}
		for _, c := range chunks {
			if !isChunkName(c.name, prefix) || c.offset < 0 || c.length <= 0 || c.offset+c.length < c.offset {
				t.Fatalf("accepted %+v", c)
			}
			if _, err := decompressorFor(c.compression); err != nil {
				t.Fatalf("accepted compression %q", c.compression)
			}
		}
	})
}

// FuzzParseSHA256File: whatever a store holds as a sha256file, the parser
// does not panic and accepts only a bounded block size and whole sha256s.
func FuzzParseSHA256File(f *testing.F) {
	good, _ := json.Marshal(sha256File{BackupID: "b", ChunkSize: 32768, Version: driverVersion,
		SHA256s: []string{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}})
	f.Add(good)
	f.Add([]byte(`{"version":"1.0.0","chunk_size":0,"sha256s":["zz"]}`))
	f.Add([]byte(`{"version":"1.0.0","chunk_size":99999999999,"sha256s":[]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, sums, err := parseSHA256File(data)
		if err != nil {
			return
		}
		if file.ChunkSize <= 0 || file.ChunkSize > maxBlockSize || len(sums) != len(file.SHA256s) {
			t.Fatalf("accepted block size %d, %d sums of %d", file.ChunkSize, len(sums), len(file.SHA256s))
		}
	})
}
