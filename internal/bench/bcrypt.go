package bench

import (
	"fmt"
	"runtime"
	"slices"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// BcryptLimit is the ceiling bcrypt puts on password logins on this machine: each
// login verifies one hash, which occupies one core for the whole hash, so no server
// can issue more than cores ÷ (time of one hash) password tokens per second.
type BcryptLimit struct {
	Cost     int           `json:"cost"`
	Cores    int           `json:"cores"`
	HashTime time.Duration `json:"hash_ns"`
	PerSec   float64       `json:"limit_per_s"`
}

// MeasureBcrypt times a password check at cost (the work a login does) samples
// times on one core and keeps the median.
func MeasureBcrypt(cost, samples int) (BcryptLimit, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return BcryptLimit{}, fmt.Errorf("bcrypt cost %d outside %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	samples = max(samples, 1)
	password := []byte("nimbus-bench-password")
	hash, err := bcrypt.GenerateFromPassword(password, cost)
	if err != nil {
		return BcryptLimit{}, err
	}
	times := make([]time.Duration, samples)
	for i := range times {
		t0 := time.Now()
		if err := bcrypt.CompareHashAndPassword(hash, password); err != nil {
			return BcryptLimit{}, err
		}
		times[i] = time.Since(t0)
	}
	slices.Sort(times)
	l := BcryptLimit{Cost: cost, Cores: runtime.NumCPU(), HashTime: times[len(times)/2]}
	l.PerSec = float64(l.Cores) / l.HashTime.Seconds()
	return l, nil
}
