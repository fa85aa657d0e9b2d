// Package objectstoretest runs an in-process object store for the tests of
// the packages that use one (the image store, the bench, the S3 API).
package objectstoretest

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/objectstore"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Start starts an all-in-one object store with o (Dir defaults to a temp
// dir, Host to loopback, PartPower to 6, Logger to one that discards) and
// serves it until tb ends.
func Start(tb testing.TB, o objectstore.Options) *objectstore.AllInOne {
	tb.Helper()
	if o.Dir == "" {
		o.Dir = tb.TempDir()
	}
	o.Host = cmp.Or(o.Host, "127.0.0.1")
	o.PartPower = cmp.Or(o.PartPower, 6)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a, err := objectstore.StartAllInOne(o)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range a.Servers {
		wg.Go(func() { _ = httpapi.Serve(ctx, s.Listener, s.Handler, o.Logger) })
	}
	tb.Cleanup(func() {
		a.CloseIdleConnections()
		http.DefaultClient.CloseIdleConnections()
		cancel()
		wg.Wait()
		a.Close()
	})
	return a
}
