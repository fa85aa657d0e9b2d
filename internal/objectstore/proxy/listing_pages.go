package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

// listAll reads a JSON listing (an account's containers or a container's
// objects) page after page from the first node that answers, as the
// container server pages it at ListingLimit rows; a missing account or
// container lists nothing. name gives a row's name, the next page's marker.
func listAll[T any](ctx context.Context, p *Proxy, rg *ring.Ring, part int, path string, q url.Values, h http.Header,
	name func(T) string) ([]T, error) {
	var out []T
	q.Set("format", "json")
	for {
		resp := p.readFirst(ctx, rg, part, http.MethodGet, path, q.Encode(), h)
		if resp == nil {
			return nil, errNoNode
		}
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusNoContent {
			resp.Body.Close()
			return out, nil
		}
		var page []T
		err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < ListingLimit {
			return out, nil
		}
		q.Set("marker", name(page[len(page)-1]))
	}
}
