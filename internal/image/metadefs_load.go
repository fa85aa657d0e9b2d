package image

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// standardMetadefs are the namespaces upstream ships (metadefs/README.md).
//
//go:embed metadefs/*.json
var standardMetadefs embed.FS

// loadStandardMetadefs adds the standard namespaces the database does not hold
// yet, as `glance-manage db_load_metadefs` does (without --merge): a namespace
// that exists, as shipped or as an operator changed it, is left alone, so
// running it at every start changes nothing after the first. Each namespace is
// one transaction; a process loading it at the same moment makes the other
// find it there.
func (s *Service) loadStandardMetadefs(ctx context.Context) error {
	files, err := fs.Glob(standardMetadefs, "metadefs/*.json")
	if err != nil {
		return err
	}
	for _, file := range files {
		data, err := standardMetadefs.ReadFile(file)
		if err != nil {
			return err
		}
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		// upstream's loader: owner "admin" unless the file says; resource
		// types it creates are protected
		if _, ok := doc["owner"]; !ok {
			doc["owner"] = "admin"
		}
		if list, ok := doc["resource_type_associations"].([]any); ok {
			for _, a := range list {
				if m, ok := a.(map[string]any); ok {
					m["protected"] = true
				}
			}
		}
		name, _ := doc["namespace"].(string)
		err = s.db.InTx(ctx, func(tx *db.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM metadef_namespaces WHERE namespace = ?`, name).Scan(&n); err != nil || n > 0 {
				return err
			}
			_, err := s.insertNamespace(ctx, tx, doc)
			return err
		})
		if httpapi.IsStatus(err, http.StatusConflict) {
			// another process loaded it first
			s.log.Debug("standard metadef namespace already loaded", "namespace", name, "error", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("load metadef namespace %s: %w", name, err)
		}
	}
	return nil
}
