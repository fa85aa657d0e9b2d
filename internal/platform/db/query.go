package db

import "context"

// Scanner is what *sql.Row and *sql.Rows offer: scan functions take either.
type Scanner = interface{ Scan(...any) error }

// QueryAll runs query on q and scans each row with scan. The rows are closed before it
// returns (so callers may query again while using the result), and an error met while
// iterating is returned, not dropped.
func QueryAll[T any](ctx context.Context, q Querier, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// QueryStrings runs a query of one text column and returns its values.
func QueryStrings(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	return QueryAll(ctx, q, func(row Scanner) (string, error) {
		var v string
		err := row.Scan(&v)
		return v, err
	}, query, args...)
}
