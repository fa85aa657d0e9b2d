package volume

import (
	"context"
	"maps"
	"slices"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// volumeType is one row of volume_types with its extra specs.
type volumeType struct {
	ID          string
	Name        string
	Description *string
	IsPublic    bool
	ExtraSpecs  map[string]string
	CreatedAt   string
	UpdatedAt   string
}

// BackendName is the type's volume_backend_name extra spec ("" for any).
func (t *volumeType) BackendName() string { return t.ExtraSpecs["volume_backend_name"] }

func scanType(sc db.Scanner) (*volumeType, error) {
	t := &volumeType{}
	err := sc.Scan(&t.ID, &t.Name, &t.Description, &t.IsPublic, &t.CreatedAt, &t.UpdatedAt)
	return t, err
}

const typeColumns = `id, name, description, is_public, created_at, updated_at`

func loadExtraSpecs(ctx context.Context, q db.Querier, types ...*volumeType) error {
	for _, t := range types {
		t.ExtraSpecs = map[string]string{}
		rows, err := q.QueryContext(ctx, `SELECT key, value FROM volume_type_extra_specs WHERE volume_type_id = ?`, t.ID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return err
			}
			t.ExtraSpecs[k] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// typeByID loads a type with its extra specs; db.ErrNoRows when absent.
func typeByID(ctx context.Context, q db.Querier, id string) (*volumeType, error) {
	t, err := scanType(q.QueryRowContext(ctx, `SELECT `+typeColumns+` FROM volume_types WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	return t, loadExtraSpecs(ctx, q, t)
}

func typeByName(ctx context.Context, q db.Querier, name string) (*volumeType, error) {
	t, err := scanType(q.QueryRowContext(ctx, `SELECT `+typeColumns+` FROM volume_types WHERE name = ?`, name))
	if err != nil {
		return nil, err
	}
	return t, loadExtraSpecs(ctx, q, t)
}

// typeAccessible reports whether project may use the type: public types, the
// types shared with it, and every type for admins.
func typeAccessible(ctx context.Context, q db.Querier, t *volumeType, project string, admin bool) (bool, error) {
	if t.IsPublic || admin {
		return true, nil
	}
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM volume_type_projects WHERE volume_type_id = ? AND project_id = ?`,
		t.ID, project).Scan(&n)
	return n > 0, err
}

// ensureDefaultType makes __DEFAULT__ (or the configured default type) on the
// first start, as upstream's migration creates __DEFAULT__.
func (s *Service) ensureDefaultType(ctx context.Context) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := typeByName(ctx, tx, s.opts.DefaultVolumeType); err == nil {
			return nil
		} else if !db.IsNoRows(err) {
			return err
		}
		now := dbTime(s.now())
		desc := "Default Volume Type"
		_, err := tx.ExecContext(ctx, `INSERT INTO volume_types (id, name, description, is_public, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`, uuid.NewString(), s.opts.DefaultVolumeType, desc, true, now, now)
		return err
	})
}

// defaultType is the type of volumes created without one.
func (s *Service) defaultType(ctx context.Context, q db.Querier) (*volumeType, error) {
	t, err := typeByName(ctx, q, s.opts.DefaultVolumeType)
	if db.IsNoRows(err) {
		return nil, notFound("Default volume type can not be found.")
	}
	return t, err
}

// sortedKeys is a map's keys in order, for stable answers.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
