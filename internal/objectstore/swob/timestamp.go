package swob

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Timestamp is Swift's X-Timestamp: seconds since the epoch to 10 µs, the
// order of every write (last write wins). Its normal form is
// "%016.5f" ("1733584000.12345"), the form file names and headers carry.
type Timestamp int64

// Now is the current time as a Timestamp.
func Now() Timestamp { return FromTime(time.Now()) }

// FromTime converts t, truncated to 10 µs.
func FromTime(t time.Time) Timestamp { return Timestamp(t.UnixNano() / 10_000) }

// ParseTimestamp reads a timestamp as upstream's Timestamp class accepts it: a
// decimal number of seconds, optionally with an "_offset" suffix (ignored here:
// offsets order writes of one timestamp, which Nimbus does not make yet).
func ParseTimestamp(s string) (Timestamp, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '_'); i >= 0 {
		if _, err := strconv.ParseUint(s[i+1:], 16, 64); err != nil {
			return 0, fmt.Errorf("invalid timestamp %q", s)
		}
		s = s[:i]
	}
	if s == "" || strings.ContainsAny(s, "eEnNiI+-") {
		return 0, fmt.Errorf("invalid timestamp %q", s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid timestamp %q", s)
	}
	// The bound holds after rounding to the precision, as upstream's
	// Timestamp checks it: 9999999999.999997 rounds to 1e10, too large.
	units := math.Round(f * 100_000)
	if units >= 1e10*100_000 {
		return 0, fmt.Errorf("invalid timestamp %q", s)
	}
	return Timestamp(units), nil
}

// Normal is the timestamp's normal form, "%016.5f".
func (t Timestamp) Normal() string {
	return fmt.Sprintf("%010d.%05d", int64(t)/100_000, int64(t)%100_000)
}

// Time is the timestamp as a time.Time.
func (t Timestamp) Time() time.Time { return time.Unix(0, int64(t)*10_000).UTC() }

// LastModified is the HTTP date of the timestamp, rounded up to the second
// as upstream's Last-Modified (so If-Modified-Since with it answers 304).
func (t Timestamp) LastModified() string {
	secs := int64(t) / 100_000
	if int64(t)%100_000 != 0 {
		secs++
	}
	return time.Unix(secs, 0).UTC().Format(time.RFC1123[:len(time.RFC1123)-3] + "GMT")
}

// ISO is the listing form of the timestamp, "2006-01-02T15:04:05.000000".
func (t Timestamp) ISO() string { return t.Time().Format("2006-01-02T15:04:05.000000") }
