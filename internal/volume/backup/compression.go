package backup

import (
	"compress/bzip2"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Compression algorithms as upstream's backup_compression_algorithm names
// them: "none" (or "off", "no") and "zlib" (or "gzip", which upstream also
// writes with zlib and records as "gzip"). Upstream's "bz2" and "zstd" are
// not written here (the standard library has no compressor for them); a
// restore reads bz2 chunks an upstream backup stored.
const (
	CompressionNone = "none"
	CompressionZlib = "zlib"
)

// checkCompression says whether Nimbus can write chunks with algorithm, and
// whether it compresses at all.
func checkCompression(algorithm string) (compress bool, err error) {
	switch strings.ToLower(algorithm) {
	case "none", "off", "no":
		return false, nil
	case "zlib", "gzip":
		return true, nil
	}
	return false, fmt.Errorf("unsupported compression algorithm: %s", algorithm)
}

// decompressorFor is the reader of chunks recorded with algorithm; nil for
// uncompressed ones.
func decompressorFor(algorithm string) (func(io.Reader) (io.Reader, error), error) {
	switch strings.ToLower(algorithm) {
	case "none", "off", "no":
		return nil, nil
	case "zlib", "gzip":
		return func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) }, nil
	case "bz2", "bzip2":
		return func(r io.Reader) (io.Reader, error) { return bzip2.NewReader(r), nil }, nil
	}
	return nil, fmt.Errorf("unsupported compression algorithm: %q", algorithm)
}

// compressChunk is upstream's _prepare_output_data: data compressed, unless
// that does not make it smaller, when it is stored as it is ("none").
// Compression stops as soon as its output reaches the data's length, and
// reuses out's memory.
func compressChunk(data []byte, algorithm string, out *[]byte) (string, []byte) {
	if cap(*out) < len(data) {
		*out = make([]byte, 0, len(data))
	}
	w := &cappedWriter{b: (*out)[:0:len(data)]}
	zw, _ := zlib.NewWriterLevel(w, zlib.DefaultCompression)
	_, err := zw.Write(data)
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return CompressionNone, data
	}
	return strings.ToLower(algorithm), w.b
}

// cappedWriter collects what is written into b, and refuses what would not
// fit in its capacity.
type cappedWriter struct{ b []byte }

var errNoSmaller = errors.New("compressed data is not smaller")

func (w *cappedWriter) Write(p []byte) (int, error) {
	if len(w.b)+len(p) >= cap(w.b) {
		return 0, errNoSmaller
	}
	w.b = append(w.b, p...)
	return len(p), nil
}
