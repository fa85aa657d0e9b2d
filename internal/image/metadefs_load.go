package image

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// standardMetadefs are the namespaces upstream ships (metadefs/README.md).
//
//go:embed metadefs/*.json
var standardMetadefs embed.FS

// loadStandardMetadefs adds the standard namespaces the database does not hold
// yet, as `glance-manage db_load_metadefs` does (without --merge): a namespace
// that exists, as shipped or as an operator changed it, is left alone, so
// running it at every start changes nothing after the first. It is one
// transaction of a few multi-row inserts (the files hold some thousand rows):
// processes starting at once on one database serialize on it, and the later
// one finds the namespaces there.
func (s *Service) loadStandardMetadefs(ctx context.Context) error {
	docs, err := standardNamespaces()
	if err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		return s.insertStandardNamespaces(ctx, tx, docs)
	})
	if db.IsUniqueViolation(err) {
		// another process loaded them between our read and our write
		err = s.db.InTx(ctx, func(tx *db.Tx) error { return s.insertStandardNamespaces(ctx, tx, docs) })
	}
	if err != nil {
		return fmt.Errorf("load the standard metadef namespaces: %w", err)
	}
	return nil
}

// standardNamespaces reads the shipped files as upstream's loader does: owner
// "admin" unless a file says, visibility private when a file says none (upstream
// leaves it NULL, which only admins see), protected as the file says.
func standardNamespaces() ([]map[string]any, error) {
	files, err := fs.Glob(standardMetadefs, "metadefs/*.json")
	if err != nil {
		return nil, err
	}
	var docs []map[string]any
	for _, file := range files {
		data, err := standardMetadefs.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if _, ok := doc["owner"].(string); !ok {
			doc["owner"] = "admin"
		}
		if _, ok := doc["visibility"].(string); !ok {
			doc["visibility"] = "private"
		}
		docs = append(docs, doc)
	}
	return docs, nil
}

// rowBatch collects the rows of one table for a multi-row insert.
type rowBatch struct {
	table   string
	columns []string
	rows    [][]any
}

func (b *rowBatch) add(values ...any) { b.rows = append(b.rows, values) }

// insert writes the rows in statements of at most 500 rows (well under either
// database's limit of bound parameters).
func (b *rowBatch) insert(ctx context.Context, tx *db.Tx) error {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(b.columns)), ", ") + ")"
	for start := 0; start < len(b.rows); start += 500 {
		chunk := b.rows[start:min(start+500, len(b.rows))]
		placeholders := make([]string, len(chunk))
		var args []any
		for i, r := range chunk {
			placeholders[i] = row
			args = append(args, r...)
		}
		q := `INSERT INTO ` + b.table + ` (` + strings.Join(b.columns, ", ") + `) VALUES ` + strings.Join(placeholders, ", ")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert into %s: %w", b.table, err)
		}
	}
	return nil
}

func (s *Service) insertStandardNamespaces(ctx context.Context, tx *db.Tx, docs []map[string]any) error {
	existing, err := names(ctx, tx, `SELECT namespace FROM metadef_namespaces`)
	if err != nil {
		return err
	}
	resourceTypes, err := names(ctx, tx, `SELECT name FROM metadef_resource_types`)
	if err != nil {
		return err
	}
	now := stamp(s.now())
	namespaces := &rowBatch{table: "metadef_namespaces", columns: strings.Split(namespaceColumns, ", ")}
	types := &rowBatch{table: "metadef_resource_types", columns: []string{"name", "protected", "created_at", "updated_at"}}
	assocs := &rowBatch{table: "metadef_namespace_resource_types", columns: []string{"namespace_id", "resource_type", "prefix", "properties_target", "created_at", "updated_at"}}
	objects := &rowBatch{table: "metadef_objects", columns: []string{"namespace_id", "name", "description", "required", "properties", "created_at", "updated_at"}}
	props := &rowBatch{table: "metadef_properties", columns: []string{"namespace_id", "name", "json_schema", "created_at", "updated_at"}}
	tags := &rowBatch{table: "metadef_tags", columns: []string{"namespace_id", "name", "folded_name", "created_at", "updated_at"}}
	for _, doc := range docs {
		name, _ := doc["namespace"].(string)
		if existing[name] {
			continue
		}
		existing[name] = true
		id := newID()
		protected, _ := doc["protected"].(bool)
		namespaces.add(id, name, optString(doc, "display_name"), optString(doc, "description"), doc["visibility"], protected,
			doc["owner"], now, now)
		list, _ := doc["resource_type_associations"].([]any)
		for _, item := range list {
			a, _ := item.(map[string]any)
			rt, _ := a["name"].(string)
			if !resourceTypes[rt] {
				// upstream's loader makes the resource types it creates protected
				resourceTypes[rt] = true
				types.add(rt, true, now, now)
			}
			assocs.add(id, rt, optString(a, "prefix"), optString(a, "properties_target"), now, now)
		}
		list, _ = doc["objects"].([]any)
		for _, item := range list {
			o := objectFromBody(item.(map[string]any))
			objects.add(id, o.Name, o.Description, jsonText(o.Required), jsonText(o.Properties), now, now)
		}
		defs, _ := doc["properties"].(map[string]any)
		for propName, def := range defs {
			d := propertyType(def)
			delete(d, "name")
			props.add(id, propName, jsonText(d), now, now)
		}
		list, _ = doc["tags"].([]any)
		for _, item := range list {
			t, _ := item.(map[string]any)
			tagName, _ := t["name"].(string)
			tags.add(id, tagName, strings.ToLower(tagName), now, now)
		}
	}
	// parents first: the contents refer to their namespace and resource type
	for _, b := range []*rowBatch{namespaces, types, assocs, objects, props, tags} {
		if err := b.insert(ctx, tx); err != nil {
			return err
		}
	}
	return nil
}

// names is the set of the first column of q's rows.
func names(ctx context.Context, tx *db.Tx, q string) (map[string]bool, error) {
	list, err := db.QueryAll(ctx, tx, func(sc db.Scanner) (string, error) {
		var n string
		err := sc.Scan(&n)
		return n, err
	}, q)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(list))
	for _, n := range list {
		out[n] = true
	}
	return out, nil
}
