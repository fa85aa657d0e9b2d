package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Version is an API microversion such as compute 2.79.
type Version struct{ Major, Minor int }

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Less reports whether v is older than o.
func (v Version) Less(o Version) bool {
	return v.Major < o.Major || v.Major == o.Major && v.Minor < o.Minor
}

// AtLeast reports whether v is o or newer.
func (v Version) AtLeast(o Version) bool { return !v.Less(o) }

// ParseVersion parses "2.79".
func ParseVersion(s string) (Version, error) {
	maj, min, ok := strings.Cut(strings.TrimSpace(s), ".")
	if !ok {
		return Version{}, fmt.Errorf("invalid version %q", s)
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if err1 != nil || err2 != nil || a < 0 || b < 0 {
		return Version{}, fmt.Errorf("invalid version %q", s)
	}
	return Version{a, b}, nil
}

// Microversions describes one service's negotiation: the header family and the range.
type Microversions struct {
	Service      string // value used in OpenStack-API-Version: "compute", "volume"
	LegacyHeader string // e.g. X-OpenStack-Nova-API-Version; empty if none
	Min, Max     Version
}

// Negotiate picks the version a request asks for (default Min, "latest" = Max) and
// answers 406 when it is out of range, 400 when malformed.
func (m Microversions) Negotiate(r *http.Request) (Version, error) {
	want := ""
	for _, h := range r.Header.Values("OpenStack-API-Version") {
		for _, part := range strings.Split(h, ",") {
			svc, ver, ok := strings.Cut(strings.TrimSpace(part), " ")
			if ok && strings.EqualFold(svc, m.Service) {
				want = strings.TrimSpace(ver)
			}
		}
	}
	if want == "" && m.LegacyHeader != "" {
		want = strings.TrimSpace(r.Header.Get(m.LegacyHeader))
	}
	switch {
	case want == "":
		return m.Min, nil
	case strings.EqualFold(want, "latest"):
		return m.Max, nil
	}
	v, err := ParseVersion(want)
	if err != nil {
		return Version{}, BadRequest("Invalid API version request: %q.", want)
	}
	if v.Less(m.Min) || m.Max.Less(v) {
		return Version{}, Errorf(http.StatusNotAcceptable,
			"Version %s is not supported by the API. Minimum is %s and maximum is %s.", v, m.Min, m.Max)
	}
	return v, nil
}

// Echo sets the response headers upstream returns for a negotiated version.
func (m Microversions) Echo(h http.Header, v Version) {
	h.Set("OpenStack-API-Version", m.Service+" "+v.String())
	vary := "OpenStack-API-Version"
	if m.LegacyHeader != "" {
		h.Set(m.LegacyHeader, v.String())
		vary += ", " + m.LegacyHeader
	}
	h.Set("Vary", vary)
}
