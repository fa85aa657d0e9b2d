package volume

import (
	"context"
	"sort"

	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// quotaDefaults are upstream's defaults (cinder/quota.py quota_* options);
// -1 is unlimited. Per-type limits (volumes_TYPE, gigabytes_TYPE,
// snapshots_TYPE) default to -1 too.
var quotaDefaults = map[string]int{
	"volumes": 10, "snapshots": 10, "gigabytes": 1000, "backups": 10, "backup_gigabytes": 1000,
	"per_volume_gigabytes": -1, "groups": 10,
}

// perTypeResources are the resources counted per volume type too.
var perTypeResources = []string{"volumes", "gigabytes", "snapshots"}

// quotaResources are the quota set's keys: the global resources, then the
// per-type ones of every type.
func quotaResources(ctx context.Context, q db.Querier) ([]string, error) {
	out := []string{"volumes", "snapshots", "gigabytes", "backups", "backup_gigabytes", "per_volume_gigabytes", "groups"}
	names, err := db.QueryStrings(ctx, q, `SELECT name FROM volume_types ORDER BY name`)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		for _, r := range perTypeResources {
			out = append(out, r+"_"+n)
		}
	}
	return out, nil
}

// defaultLimit is the quota class "default" limit of a resource: the
// configured default, a row of volume_quota_classes, or upstream's default.
func (s *Service) defaultLimit(ctx context.Context, q db.Querier, resource string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT hard_limit FROM volume_quota_classes WHERE class_name = 'default' AND resource = ?`,
		resource).Scan(&n)
	if err == nil {
		return n, nil
	}
	if !db.IsNoRows(err) {
		return 0, err
	}
	if v, ok := s.opts.Quotas[resource]; ok {
		return v, nil
	}
	if v, ok := quotaDefaults[resource]; ok {
		return v, nil
	}
	return -1, nil
}

// limitOf is a project's limit of a resource: its own row, else the default.
func (s *Service) limitOf(ctx context.Context, q db.Querier, project, resource string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT hard_limit FROM volume_quotas WHERE project_id = ? AND resource = ?`,
		project, resource).Scan(&n)
	if err == nil {
		return n, nil
	}
	if !db.IsNoRows(err) {
		return 0, err
	}
	return s.defaultLimit(ctx, q, resource)
}

// usageOf counts a project's use of a resource from the resources themselves,
// inside the caller's transaction: counted usage cannot drift from the rows
// (as Nova's counting quotas), and the serializable transaction that counts
// and then inserts keeps concurrent creates within the limit. gigabytes is
// the volumes' sizes (their target size while extending) and the snapshots'
// (upstream's default, no_snapshot_gb_quota false).
func usageOf(ctx context.Context, q db.Querier, project, resource string) (int, error) {
	base, typeName, perType := resource, "", false
	for _, r := range perTypeResources {
		if strings.HasPrefix(resource, r+"_") {
			base, typeName, perType = r, strings.TrimPrefix(resource, r+"_"), true
		}
	}
	typeCond, args := "", []any{project}
	if perType {
		typeCond = ` AND volume_type_id IN (SELECT id FROM volume_types WHERE name = ?)`
		args = append(args, typeName)
	}
	var n int
	var err error
	switch base {
	case "volumes":
		err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM volumes WHERE project_id = ? AND use_quota`+typeCond, args...).Scan(&n)
	case "snapshots":
		err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM volume_snapshots WHERE project_id = ? AND use_quota`+typeCond, args...).Scan(&n)
	case "gigabytes":
		var vols, snaps int
		err = q.QueryRowContext(ctx, `SELECT COALESCE(SUM(CASE WHEN target_size IS NOT NULL AND target_size > size
			THEN target_size ELSE size END), 0) FROM volumes WHERE project_id = ? AND use_quota`+typeCond, args...).Scan(&vols)
		if err == nil {
			err = q.QueryRowContext(ctx, `SELECT COALESCE(SUM(volume_size), 0) FROM volume_snapshots
				WHERE project_id = ? AND use_quota`+typeCond, args...).Scan(&snaps)
		}
		n = vols + snaps
	case "backups":
		err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM volume_backups WHERE project_id = ?`, project).Scan(&n)
	case "backup_gigabytes":
		err = q.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) FROM volume_backups WHERE project_id = ?`, project).Scan(&n)
	}
	return n, err
}

// checkQuota refuses, with upstream's 413 and message, a change of deltas
// (resource: amount added) that takes a project over a limit. Run it in the
// transaction that writes the change: the count and the write are one
// serializable step.
func (s *Service) checkQuota(ctx context.Context, q db.Querier, project string, deltas map[string]int) error {
	for _, resource := range quotaOrder(deltas) {
		delta := deltas[resource]
		if delta <= 0 {
			continue
		}
		limit, err := s.limitOf(ctx, q, project, resource)
		if err != nil {
			return err
		}
		if limit < 0 {
			continue
		}
		used, err := usageOf(ctx, q, project, resource)
		if err != nil {
			return err
		}
		if used+delta <= limit {
			continue
		}
		return quotaError(resource, delta, limit, used)
	}
	return nil
}

// quotaOrder is the order upstream's reserve_opts list the resources, so
// the first over its limit is the one its error names: the counts before
// the gigabytes, the global ones before the per-type ones.
func quotaOrder(deltas map[string]int) []string {
	rank := func(k string) int {
		base := k
		perType := 0
		for _, r := range perTypeResources {
			if strings.HasPrefix(k, r+"_") {
				base, perType = r, 10
			}
		}
		switch base {
		case "volumes", "snapshots", "backups":
			return perType
		}
		return perType + 1
	}
	keys := sortedKeys(deltas)
	sort.SliceStable(keys, func(i, j int) bool { return rank(keys[i]) < rank(keys[j]) })
	return keys
}

// quotaError is the exception upstream raises for the resource over its
// limit (cinder/exception.py QuotaError subclasses, all 413).
func quotaError(resource string, requested, limit, used int) error {
	switch {
	case resource == "gigabytes" || strings.HasPrefix(resource, "gigabytes_"):
		return overQuota("Requested volume or snapshot exceeds allowed %s quota. Requested %dG, quota is %dG and %dG has been consumed.",
			resource, requested, limit, used)
	case resource == "volumes" || strings.HasPrefix(resource, "volumes_"):
		return overQuota("Maximum number of volumes allowed (%d) exceeded for quota '%s'.", limit, resource)
	case resource == "snapshots" || strings.HasPrefix(resource, "snapshots_"):
		return overQuota("Maximum number of snapshots allowed (%d) exceeded", limit)
	case resource == "backups":
		return overQuota("Maximum number of backups allowed (%d) exceeded", limit)
	case resource == "backup_gigabytes":
		return overQuota("Requested backup exceeds allowed Backup gigabytes quota. Requested %dG, quota is %dG and %dG has been consumed.",
			requested, limit, used)
	}
	return overQuota("Quota exceeded for resources: ['%s']", resource)
}

// CheckQuota is checkQuota for the snapshot and backup code of the package's
// other files: deltas such as {"snapshots": 1, "gigabytes": size,
// "snapshots_TYPE": 1, "gigabytes_TYPE": size}.
func (s *Service) CheckQuota(ctx context.Context, tx *db.Tx, project string, deltas map[string]int) error {
	return s.checkQuota(ctx, tx, project, deltas)
}

// volumeDeltas are a new volume's quota deltas: the global and per-type
// counts and gigabytes.
func volumeDeltas(typeName string, size int) map[string]int {
	return map[string]int{"volumes": 1, "gigabytes": size,
		"volumes_" + typeName: 1, "gigabytes_" + typeName: size}
}

// checkPerVolumeSize is per_volume_gigabytes (VolumeSizeExceedsLimit).
func (s *Service) checkPerVolumeSize(ctx context.Context, q db.Querier, project string, size int) error {
	limit, err := s.limitOf(ctx, q, project, "per_volume_gigabytes")
	if err != nil {
		return err
	}
	if limit >= 0 && size > limit {
		return overQuota("Requested volume size %dG is larger than maximum allowed limit %dG.", size, limit)
	}
	return nil
}
