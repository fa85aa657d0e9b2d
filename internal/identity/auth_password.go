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
	if s.lockoutApplies(u) {
		allowed, err := s.takeLoginAttempt(ctx, u.ID)
		if err != nil {
			return err
		}
		if !allowed {
			checkHash(s.dummyHash(), password)
			return httpapi.Unauthorized("The account is locked for user: %s.", u.ID)
		}
		if !u.PasswordHash.Valid || !checkHash([]byte(u.PasswordHash.String), password) {
			return errAuthFailed // the attempt taken stays counted as a failure
		}
		if err := s.resetFailedLogins(ctx, u.ID); err != nil {
			return err
		}
	} else {
		if !u.PasswordHash.Valid || !checkHash([]byte(u.PasswordHash.String), password) {
			if _, err := s.db.ExecContext(ctx, `UPDATE users SET failed_auth_count = failed_auth_count + 1,
				last_failed_auth_at = ? WHERE id = ?`, s.now().UnixMicro(), u.ID); err != nil {
				return fmt.Errorf("record failed login: %w", err)
			}
			return errAuthFailed
		}
		if u.FailedAuthCount > 0 {
			if err := s.resetFailedLogins(ctx, u.ID); err != nil {
				return err
			}
		}
	}
	if !u.Enabled {
		return errAuthFailed
	}
	return nil
}

// lockoutApplies reports whether failed logins can lock u out: the lockout is
// configured, and the user's ignore_lockout_failure_attempts option (upstream's
// PCI-DSS exemption, for service users) is not set.
func (s *Service) lockoutApplies(u *userRow) bool {
	ignore, _ := unmarshalObject(u.Options)["ignore_lockout_failure_attempts"].(bool)
	return s.cfg.LockoutFailureAttempts > 0 && !ignore
}

// takeLoginAttempt counts a login attempt as a failure before its password is
// checked (a success resets the count), unless the account is locked: fewer
// than LockoutFailureAttempts failures, or the last one older than
// LockoutDuration. One conditional update decides, so that guesses sent at once
// check no more passwords than the lockout allows (reading the count, checking,
// then counting let every guess of a burst through).
func (s *Service) takeLoginAttempt(ctx context.Context, userID string) (bool, error) {
	now := s.now()
	unlocked := `failed_auth_count < ? OR last_failed_auth_at IS NULL`
	args := []any{now.UnixMicro(), userID, s.cfg.LockoutFailureAttempts}
	if d := s.cfg.LockoutDuration.Duration; d > 0 {
		unlocked += ` OR last_failed_auth_at <= ?`
		args = append(args, now.Add(-d).UnixMicro())
	}
	res, err := s.db.ExecContext(ctx, `UPDATE users SET failed_auth_count = failed_auth_count + 1,
		last_failed_auth_at = ? WHERE id = ? AND (`+unlocked+`)`, args...)
	if err != nil {
		return false, fmt.Errorf("record login attempt: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record login attempt: %w", err)
	}
	return n == 1, nil
}

func (s *Service) resetFailedLogins(ctx context.Context, userID string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET failed_auth_count = 0, last_failed_auth_at = NULL
		WHERE id = ?`, userID); err != nil {
		return fmt.Errorf("reset failed logins: %w", err)
	}
	return nil
}

// isAuthFailure reports whether err is a 401 to hand back as is.
func isAuthFailure(err error) bool {
	var he *httpapi.Error
	return errors.As(err, &he) && he.Status == 401
}
