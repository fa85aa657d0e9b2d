package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report as indented JSON.
func (r *ObjectStoreReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the figures for people.
func (r *ObjectStoreReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "nimbus bench objectstore: %s; MB/s = 10^6 bytes/s\n\n", r.StorageURL)
	for _, st := range []Stats{r.SmallPut, r.SmallGet} {
		fmt.Fprintf(&b, "%-10s %d B at concurrency %d: %7.1f req/s  (%d requests, %d errors; p50 %s p95 %s p99 %s)",
			st.Name, r.SmallSize, r.Concurrency, st.Rate, st.Requests, st.Errors,
			ms(st.P50), ms(st.P95), ms(st.P99))
		if st.Server != nil {
			fmt.Fprintf(&b, "  server %.2f cores", st.Server.Cores)
		}
		if st.Client != nil {
			fmt.Fprintf(&b, ", bench %.2f", st.Client.Cores)
		}
		b.WriteString("\n")
	}
	if r.LargePutMBps > 0 {
		fmt.Fprintf(&b, "large PUT  %d MiB: %7.1f MB/s = %.2f of dd conv=fsync (%.0f MB/s)\n",
			r.LargeSize>>20, r.LargePutMBps, r.PutRatio, r.DDWriteMBps)
		fmt.Fprintf(&b, "large GET  %d MiB: %7.1f MB/s = %.2f of dd read (%.0f MB/s)\n",
			r.LargeSize>>20, r.LargeGetMBps, r.GetRatio, r.DDReadMBps)
	}
	if r.ServerRSSStart > 0 {
		fmt.Fprintf(&b, "server RSS %.1f MB before, %.1f MB at most during the large transfers (sampled every 50 ms)\n",
			float64(r.ServerRSSStart)/1e6, float64(r.ServerRSSPeak)/1e6)
	}
	if r.ListingObjects > 0 {
		fmt.Fprintf(&b, "listing    %d objects: %s in %d requests (paged as swiftclient's full listing)\n",
			r.ListingObjects, ms(r.ListingTime), r.ListingPages)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
