package compute

import (
	"context"
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
