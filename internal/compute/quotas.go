package compute

import (
	"context"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// defaultQuotas are Nova's default quota limits.
var defaultQuotas = map[string]int{
	"instances":                   10,
	"cores":                       20,
	"ram":                         51200,
	"key_pairs":                   100,
	"metadata_items":              128,
	"server_groups":               10,
	"server_group_members":        10,
	"injected_files":              5,
	"injected_file_content_bytes": 10240,
	"injected_file_path_bytes":    255,
	// The network quotas the 2.1 API still shows (removed at 2.36); the
	// network service enforces its own.
	"fixed_ips":            -1,
	"floating_ips":         10,
	"security_groups":      10,
	"security_group_rules": 20,
}

// quotaLimits are the project's limits: its own rows over the defaults.
func (s *Service) quotaLimits(ctx context.Context, q querier, project string) (map[string]int, error) {
	limits := map[string]int{}
	for k, v := range s.opts.Quotas {
		limits[k] = v
	}
	rows, err := q.QueryContext(ctx, `SELECT resource, hard_limit FROM compute_quotas WHERE project_id = ?`, project)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var res string
		var limit int
		if err := rows.Scan(&res, &limit); err != nil {
			return nil, err
		}
		limits[res] = limit
	}
	return limits, rows.Err()
}

// userQuotaLimits are a user's limits in a project: the user's own rows over
// the project's limits (upstream's get_user_quotas).
func (s *Service) userQuotaLimits(ctx context.Context, q querier, project, user string) (map[string]int, bool, error) {
	limits, err := s.quotaLimits(ctx, q, project)
	if err != nil {
		return nil, false, err
	}
	own, err := userQuotaRows(ctx, q, `SELECT resource, hard_limit FROM compute_user_quotas WHERE project_id = ? AND user_id = ?`, project, user)
	if err != nil {
		return nil, false, err
	}
	for res, n := range own {
		limits[res] = n
	}
	return limits, len(own) > 0, nil
}

func userQuotaRows(ctx context.Context, q querier, query string, args ...any) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var res string
		var n int
		if err := rows.Scan(&res, &n); err != nil {
			return nil, err
		}
		out[res] = n
	}
	return out, rows.Err()
}

// userQuotaMaximum is the most a user's limit of res may be set to: what the
// project's limit leaves after every user's limit, plus this user's own
// (nova/quota.py get_settable_quotas; -1 when unlimited).
func (s *Service) userQuotaMaximum(ctx context.Context, q querier, project, user, res string, projectLimit int) (int, error) {
	if projectLimit < 0 {
		return -1, nil
	}
	var sum, mine int
	var own *int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(hard_limit), 0) FROM compute_user_quotas WHERE project_id = ? AND resource = ?`,
		project, res).Scan(&sum); err != nil {
		return 0, err
	}
	err := q.QueryRowContext(ctx, `SELECT hard_limit FROM compute_user_quotas WHERE project_id = ? AND user_id = ? AND resource = ?`,
		project, user, res).Scan(&mine)
	if err == nil {
		own = &mine
	} else if !db.IsNoRows(err) {
		return 0, err
	}
	if own != nil && *own < 0 {
		return -1, nil
	}
	if own != nil {
		return projectLimit - sum + *own, nil
	}
	return projectLimit - sum, nil
}
