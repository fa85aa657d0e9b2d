package identity

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

type appCredRow struct {
	ID, Name, SecretHash, Description, UserID string
	ProjectID, System                         sql.NullString
	ExpiresAt                                 sql.NullInt64
	Unrestricted                              bool
	CreatedAt                                 int64
	RoleIDs                                   []string
}

const appCredColumns = `id, name, secret_hash, description, user_id, project_id, system, expires_at, unrestricted, created_at`

func (s *Service) scanAppCred(ctx context.Context, row db.Scanner) (*appCredRow, error) {
	a := &appCredRow{}
	err := row.Scan(&a.ID, &a.Name, &a.SecretHash, &a.Description, &a.UserID, &a.ProjectID, &a.System, &a.ExpiresAt,
		&a.Unrestricted, &a.CreatedAt)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load application credential: %w", err)
	}
	a.RoleIDs, err = db.QueryStrings(ctx, s.db, `SELECT role_id FROM application_credential_roles WHERE application_credential_id = ?`, a.ID)
	if err != nil {
		return nil, fmt.Errorf("load application credential roles: %w", err)
	}
	return a, nil
}

func (s *Service) getApplicationCredential(ctx context.Context, id string) (*appCredRow, error) {
	return s.scanAppCred(ctx, s.db.QueryRowContext(ctx, `SELECT `+appCredColumns+` FROM application_credentials WHERE id = ?`, id))
}

// authApplicationCredential verifies an application credential login by id, or by
// name plus its user.
func (s *Service) authApplicationCredential(ctx context.Context, id, name, secret string, user *ref) (*appCredRow, error) {
	var ac *appCredRow
	var err error
	switch {
	case id != "":
		ac, err = s.getApplicationCredential(ctx, id)
	case name != "" && user != nil:
		var u *userRow
		u, err = s.lookupUser(ctx, user)
		if err == nil && u != nil {
			ac, err = s.scanAppCred(ctx, s.db.QueryRowContext(ctx,
				`SELECT `+appCredColumns+` FROM application_credentials WHERE user_id = ? AND name = ?`, u.ID, name))
		}
	default:
		return nil, httpapi.BadRequest("Expecting to find id or name and user in application_credential.")
	}
	if err != nil && !isAuthFailure(err) {
		return nil, err
	}
	if ac == nil {
		checkHash(s.dummyHash(), secret)
		return nil, errAuthFailed
	}
	if !checkHash([]byte(ac.SecretHash), secret) {
		return nil, errAuthFailed
	}
	if ac.ExpiresAt.Valid && !s.now().Before(time.UnixMicro(ac.ExpiresAt.Int64)) {
		return nil, errAuthFailed
	}
	return ac, nil
}

func timeFromMicro(us int64) time.Time { return time.UnixMicro(us).UTC() }
