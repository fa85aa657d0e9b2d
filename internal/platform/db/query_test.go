package db

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestQueryAllAndStrings(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.ExecContext(ctx, `CREATE TABLE t (name TEXT, n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"b", "a", "c"} {
		if _, err := d.ExecContext(ctx, `INSERT INTO t (name, n) VALUES (?, ?)`, name, i); err != nil {
			t.Fatal(err)
		}
	}
	names, err := QueryStrings(ctx, d, `SELECT name FROM t ORDER BY name`)
	if err != nil || !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Fatalf("QueryStrings = %v, %v", names, err)
	}
	type row struct {
		name string
		n    int
	}
	rows, err := QueryAll(ctx, d, func(s Scanner) (row, error) {
		var r row
		return r, s.Scan(&r.name, &r.n)
	}, `SELECT name, n FROM t WHERE n > ? ORDER BY n`, 0)
	if err != nil || len(rows) != 2 || rows[0] != (row{"a", 1}) || rows[1] != (row{"c", 2}) {
		t.Fatalf("QueryAll = %v, %v", rows, err)
	}
	boom := errors.New("boom")
	if _, err := QueryAll(ctx, d, func(Scanner) (int, error) { return 0, boom }, `SELECT n FROM t`); !errors.Is(err, boom) {
		t.Fatalf("scan error not returned: %v", err)
	}
	if empty, err := QueryStrings(ctx, d, `SELECT name FROM t WHERE n < 0`); err != nil || len(empty) != 0 {
		t.Fatalf("empty result = %v, %v", empty, err)
	}
}
