package identity

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// maxPasswordLength is Keystone's [identity] max_password_length.
const maxPasswordLength = 4096

// bcryptInput truncates to bcrypt's 72-byte limit, as passlib (upstream's hasher) does.
func bcryptInput(password string) []byte {
	b := []byte(password)
	if len(b) > 72 {
		b = b[:72]
	}
	return b
}

func (s *Service) hashPassword(password string) (string, error) {
	if len(password) > maxPasswordLength {
		return "", httpapi.BadRequest("Invalid input for field 'password': the password is longer than %d characters.", maxPasswordLength)
	}
	h, err := bcrypt.GenerateFromPassword(bcryptInput(password), s.bcryptCost())
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

func (s *Service) bcryptCost() int {
	if c := s.cfg.BcryptCost; c >= bcrypt.MinCost && c <= bcrypt.MaxCost {
		return c
	}
	return bcrypt.DefaultCost
}

// prepareDummyHash starts making the hash a login for an unknown user is compared
// against, so a failed login takes as long whether or not the user exists. At
// upstream's cost it takes a quarter second, so it is made in the background rather
// than delaying start-up; the first failed login waits for it if need be.
func (s *Service) prepareDummyHash() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		h, err := bcrypt.GenerateFromPassword([]byte("nimbus-no-such-user"), s.bcryptCost())
		if err != nil {
			s.log.Error("prepare dummy password hash", "error", err)
		}
		s.dummy = h
	}()
	s.dummyReady = done
}

// dummyHash waits for the hash prepareDummyHash makes.
func (s *Service) dummyHash() []byte {
	<-s.dummyReady
	return s.dummy
}

func checkHash(hash []byte, password string) bool {
	return bcrypt.CompareHashAndPassword(hash, bcryptInput(password)) == nil
}

// errAuthFailed is the one answer to every failed login: it says nothing about
// whether the user exists or which check failed.
var errAuthFailed = httpapi.Unauthorized("The request you have made requires authentication.")

// checkPassword verifies a user's password, applying the lockout policy.
func (s *Service) checkPassword(ctx context.Context, u *userRow, password string) error {
	if u == nil {
		checkHash(s.dummyHash(), password)
		return errAuthFailed
	}
	now := s.now()
	if n := s.cfg.LockoutFailureAttempts; n > 0 && u.FailedAuthCount >= n && u.LastFailedAuthAt.Valid {
		last := u.LastFailedAuthAt.Int64
		if s.cfg.LockoutDuration.Duration == 0 || now.UnixMicro()-last < s.cfg.LockoutDuration.Microseconds() {
			checkHash(s.dummyHash(), password)
			return httpapi.Unauthorized("The account is locked for user: %s.", u.ID)
		}
	}
	if !u.PasswordHash.Valid || !checkHash([]byte(u.PasswordHash.String), password) {
		if _, err := s.db.ExecContext(ctx, `UPDATE users SET failed_auth_count = failed_auth_count + 1,
			last_failed_auth_at = ? WHERE id = ?`, now.UnixMicro(), u.ID); err != nil {
			return fmt.Errorf("record failed login: %w", err)
		}
		return errAuthFailed
	}
	if u.FailedAuthCount > 0 {
		if _, err := s.db.ExecContext(ctx, `UPDATE users SET failed_auth_count = 0, last_failed_auth_at = NULL
			WHERE id = ?`, u.ID); err != nil {
			return fmt.Errorf("reset failed logins: %w", err)
		}
	}
	if !u.Enabled {
		return errAuthFailed
	}
	return nil
}

// isAuthFailure reports whether err is a 401 to hand back as is.
func isAuthFailure(err error) bool {
	var he *httpapi.Error
	return errors.As(err, &he) && he.Status == 401
}
