package console

import "testing"

func TestURL(t *testing.T) {
	tests := []struct{ base, want string }{
		// As upstream's ConsoleAuthToken.access_url for novnc.
		{"http://cloud.example:6080/vnc_lite.html", "http://cloud.example:6080/vnc_lite.html?path=%3Ftoken%3Dabc_-9"},
		{"https://cloud.example/console/vnc_lite.html?path=console",
			"https://cloud.example/console/vnc_lite.html?path=console%3Ftoken%3Dabc_-9"},
		{"http://cloud.example:6080/vnc_auto.html?autoconnect=true",
			"http://cloud.example:6080/vnc_auto.html?autoconnect=true&path=%3Ftoken%3Dabc_-9"},
	}
	for _, tt := range tests {
		if got := URL(tt.base, "abc_-9"); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.base, got, tt.want)
		}
	}
}
