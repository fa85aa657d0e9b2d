package image

import (
	"errors"
	"io"

	"github.com/nimbus-cloud/nimbus/internal/image/imageformat"
)

// inspectingReader runs the format inspector over image data as it streams to
// the store (upstream's InspectWrapper in ImageProxy.set_data), so nothing is
// buffered or read twice. As soon as the formats are known it fails the read
// when the data is already sure to be refused, so a refused upload stops at
// its first megabytes; at the end of the stream it gives upstream Glance's
// verdict (format matches disk_format, safety checks), and fails the last read
// when the data is refused, so the store keeps none of it.
type inspectingReader struct {
	r          io.Reader
	diskFormat string
	d          *imageformat.Detector
	early      bool // the early verdict was asked for
	verdict    *imageformat.UploadVerdict
}

func newInspectingReader(r io.Reader, diskFormat string) *inspectingReader {
	return &inspectingReader{r: r, diskFormat: diskFormat, d: imageformat.NewDetector()}
}

func (s *inspectingReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		_, _ = s.d.Write(p[:n])
	}
	if !s.early && s.d.Decided() {
		s.early = true
		if rerr := imageformat.UploadRefused(s.diskFormat, s.d); rerr != nil {
			return n, &refusedDataError{rerr}
		}
	}
	if err == io.EOF {
		s.d.Finish()
		v, verr := imageformat.Upload(s.diskFormat, s.d)
		if verr != nil {
			return n, &refusedDataError{verr}
		}
		s.verdict = &v
	}
	return n, err
}

// refusedDataError is image data the format inspection refuses.
type refusedDataError struct{ err error }

func (e *refusedDataError) Error() string { return refusalMessage(e.err) }

// refusalMessage is upstream's message for a refusal (InvalidImageData): "Image
// failed safety checks", or the format mismatch, with what failed.
func refusalMessage(err error) string {
	var safety *imageformat.SafetyError
	if errors.As(err, &safety) {
		return "Image failed safety checks: " + safety.Error()
	}
	return err.Error()
}
