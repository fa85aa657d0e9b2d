package proxy

import (
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

func TestErrorLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newErrorLimiter()
	l.now = func() time.Time { return now }
	d := &ring.Device{IP: "10.0.0.1", Port: 6200, Name: "sdb"}
	other := &ring.Device{IP: "10.0.0.1", Port: 6200, Name: "sdc"}
	for i := range errorSuppressionLimit {
		if l.limited(d) {
			t.Fatalf("limited after %d errors", i)
		}
		l.failed(d, false)
		now = now.Add(time.Second)
	}
	l.failed(d, false)
	if !l.limited(d) || l.limited(other) {
		t.Fatal("11 errors within the interval do not limit the node, or limit another")
	}
	now = now.Add(errorSuppressionInterval + time.Second)
	if l.limited(d) {
		t.Fatal("still limited after a quiet interval")
	}
	// errors spread further apart than the interval never add up
	for range 20 {
		l.failed(other, false)
		now = now.Add(errorSuppressionInterval + time.Second)
	}
	if l.limited(other) {
		t.Fatal("sparse errors limited the node")
	}
	l.failed(other, true) // a 507
	if !l.limited(other) {
		t.Fatal("an unmounted device is not limited at once")
	}
}
