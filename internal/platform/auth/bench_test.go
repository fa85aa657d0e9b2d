package auth

import (
	"fmt"
	"testing"
	"time"
)

// benchToken is a typical project-scoped token: hex ids, three roles, one audit id.
func benchToken(issued time.Time) *Token {
	return &Token{UserID: hexUser, UserDomainID: "default", ProjectID: hexProject, ProjectDomainID: "default",
		Methods: []string{"password"},
		Roles: []Role{{ID: hexRole, Name: "admin"}, {ID: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Name: "member"},
			{ID: "cccccccccccccccccccccccccccccccc", Name: "reader"}},
		AuditIDs: []string{"Wd3CrxFpQMKpOmHTOvnRAQ"}, IssuedAt: issued, ExpiresAt: issued.Add(24 * time.Hour)}
}

func BenchmarkSeal(b *testing.B) {
	c := newCodec(b)
	tok := benchToken(time.Now().UTC())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Seal(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	c := newCodec(b)
	s, err := c.Seal(benchToken(time.Now().UTC()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Open(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidatorCached is what every API request pays after a token's first use:
// a cache hit, the expiry check and the revocation check.
func BenchmarkValidatorCached(b *testing.B) {
	v := NewValidator(newCodec(b), NewRevocationList())
	s, err := v.Codec.Seal(benchToken(time.Now().UTC()))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := v.Token(s); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Token(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Token(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkValidatorRevocationCheck validates a cached token against a list holding
// 10,000 revoked tokens (events by audit id, indexed), and then also against events
// that are not by audit id (user, project, role: scanned one by one).
func BenchmarkValidatorRevocationCheck(b *testing.B) {
	now := time.Now().UTC()
	for _, general := range []int{0, 100, 1000} {
		b.Run(fmt.Sprintf("audit=10000/general=%d", general), func(b *testing.B) {
			revoked := NewRevocationList()
			for i := range 10000 {
				revoked.Add(RevocationEvent{AuditID: fmt.Sprintf("revoked-%06d", i), IssuedBefore: now})
			}
			for i := range general {
				revoked.Add(RevocationEvent{UserID: fmt.Sprintf("%032x", i+1), IssuedBefore: now})
			}
			v := NewValidator(newCodec(b), revoked)
			s, err := v.Codec.Seal(benchToken(now))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := v.Token(s); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Token(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
