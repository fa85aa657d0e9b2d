package identity

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// catalog builds the service catalog a token carries: enabled services with their
// enabled endpoints, URLs substituted for the project as Keystone does.
func (s *Service) catalog(ctx context.Context, projectID string) ([]map[string]any, error) {
	// A project with endpoint-filter associations sees only those endpoints.
	allowed, filtered, err := s.projectEndpointFilter(ctx, projectID)
	if err != nil {
		return nil, err
	}
	// A service without enabled endpoints is still listed, with none, as upstream.
	rows, err := s.db.QueryContext(ctx, `SELECT s.id, s.type, s.extra, COALESCE(e.id, ''), COALESCE(e.interface, ''),
		COALESCE(e.url, ''), COALESCE(e.region_id, '')
		FROM services s LEFT JOIN endpoints e ON e.service_id = s.id AND e.enabled = TRUE
		WHERE s.enabled = TRUE ORDER BY s.type, s.id, e.interface`)
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	defer rows.Close()
	out := []map[string]any{}
	byService := map[string]map[string]any{}
	for rows.Next() {
		var sid, stype, sextra, eid, iface, url, region string
		if err := rows.Scan(&sid, &stype, &sextra, &eid, &iface, &url, &region); err != nil {
			return nil, err
		}
		entry, ok := byService[sid]
		if !ok {
			name, _ := unmarshalObject(sextra)["name"].(string)
			entry = map[string]any{"id": sid, "type": stype, "name": name, "endpoints": []map[string]any{}}
			byService[sid] = entry
			out = append(out, entry)
		}
		if eid == "" || (filtered && !allowed[eid]) {
			continue
		}
		url, ok = substituteURL(url, projectID)
		if !ok {
			continue // needs a project id the token does not have
		}
		var regionValue any
		if region != "" {
			regionValue = region
		}
		entry["endpoints"] = append(entry["endpoints"].([]map[string]any), map[string]any{
			"id": eid, "interface": iface, "region": regionValue, "region_id": regionValue, "url": url,
		})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if filtered {
		// As upstream, a filtered catalog leaves out the services left without
		// an endpoint (an unfiltered one keeps them).
		out = slices.DeleteFunc(out, func(entry map[string]any) bool {
			return len(entry["endpoints"].([]map[string]any)) == 0
		})
	}
	return out, nil
}

// substituteURL expands $(project_id)s / %(tenant_id)s style templates.
func substituteURL(url, projectID string) (string, bool) {
	for _, key := range []string{"project_id", "tenant_id"} {
		for _, tmpl := range []string{"$(" + key + ")s", "%(" + key + ")s"} {
			if strings.Contains(url, tmpl) {
				if projectID == "" {
					return "", false
				}
				url = strings.ReplaceAll(url, tmpl, projectID)
			}
		}
	}
	return url, true
}
