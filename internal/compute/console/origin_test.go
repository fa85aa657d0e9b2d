package console

import (
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestCheckOrigin(t *testing.T) {
	httpBase, _ := url.Parse("http://cloud.example:6080/vnc_lite.html")
	httpsBase, _ := url.Parse("https://cloud.example/vnc_lite.html")
	tests := []struct {
		name      string
		host      string
		origin    string
		forwarded string
		allowed   []string
		base      *url.URL
		ok        bool
	}{
		{"no origin: not a browser", "cloud.example:6080", "", "", nil, nil, true},
		{"same host, other port", "cloud.example:6080", "http://cloud.example", "", nil, nil, true},
		{"IPv6 host", "[2001:db8::1]:6080", "http://[2001:db8::1]:6080", "", nil, nil, true},
		{"other site", "cloud.example:6080", "http://evil.example", "", nil, nil, false},
		{"allowed origin", "10.0.0.5:6080", "https://dashboard.example", "", []string{"dashboard.example"}, nil, true},
		{"garbage origin", "cloud.example", "null", "", nil, nil, false},
		{"scheme matches base", "cloud.example:6080", "http://cloud.example:6080", "", nil, httpBase, true},
		{"scheme differs from base", "cloud.example", "http://cloud.example", "", nil, httpsBase, false},
		{"TLS terminated in front", "cloud.example", "http://cloud.example", "https", nil, httpsBase, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/?token=x", nil)
			r.Host = tt.host
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.forwarded != "" {
				r.Header.Set("X-Forwarded-Proto", tt.forwarded)
			}
			err := checkOrigin(r, tt.allowed, tt.base)
			if (err == nil) != tt.ok {
				t.Fatalf("err %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
