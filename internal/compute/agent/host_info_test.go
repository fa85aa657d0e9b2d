package agent

import (
	"strings"
	"testing"
	"time"
)

func TestFormatUptime(t *testing.T) {
	now := time.Date(2026, 12, 4, 8, 32, 11, 0, time.UTC)
	load := []string{"0.20", "0.12", "0.14", "1/234", "5678"}
	for _, tc := range []struct {
		up   time.Duration
		want string
	}{
		{7 * time.Minute, " 08:32:11 up 7 min,  load average: 0.20, 0.12, 0.14"},
		{3*time.Hour + 4*time.Minute, " 08:32:11 up  3:04,  load average: 0.20, 0.12, 0.14"},
		{24*time.Hour + 5*time.Minute, " 08:32:11 up 1 day, 5 min,  load average: 0.20, 0.12, 0.14"},
		{93*24*time.Hour + 18*time.Hour + 25*time.Minute, " 08:32:11 up 93 days, 18:25,  load average: 0.20, 0.12, 0.14"},
	} {
		if got := formatUptime(now, tc.up, load); got != tc.want {
			t.Errorf("formatUptime(%s) = %q, want %q", tc.up, got, tc.want)
		}
	}
	if got := formatUptime(now, time.Minute, nil); !strings.HasSuffix(got, "load average: 0.00, 0.00, 0.00") {
		t.Errorf("without load: %q", got)
	}
}
