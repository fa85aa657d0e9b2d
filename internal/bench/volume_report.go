package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func (r *VolumeReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes one line per operation, request to end state: count,
// failures, p50, p90 and max, for people.
func (r *VolumeReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "nimbus bench volume: %s\n", r.Target)
	fmt.Fprintf(&b, "%d cores, %s; concurrent clients %d; from-image volumes of a %d MiB raw image; status read every %s\n",
		r.Cores, r.GoVersion, r.Concurrency, r.ImageSize>>20, ms(r.Poll))
	if r.Backend != "" {
		fmt.Fprintf(&b, "volumes on %s\n", r.Backend)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("operation (request → state)")
	for _, s := range r.Scenarios {
		width = max(width, len([]rune(s.Name)))
	}
	left := func(s string) string { return s + strings.Repeat(" ", width-len([]rune(s))) }
	fmt.Fprintln(tw, left("operation (request → state)")+"\tops\tfailed\tp50\tp90\tmax\t")
	for _, s := range r.Scenarios {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t\n", left(s.Name), s.Requests, s.Errors, ms(s.P50), ms(s.P95), ms(s.Max))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.QuotaNote != "" {
		fmt.Fprintf(&b, "quota: %s\n", r.QuotaNote)
	}
	if r.ServerRSSStart > 0 {
		fmt.Fprintf(&b, "server RSS: %.1f MB before, %.1f MB after\n", float64(r.ServerRSSStart)/1e6, float64(r.ServerRSSEnd)/1e6)
	}
	for _, s := range r.Scenarios {
		if s.FirstError != "" {
			fmt.Fprintf(&b, "first error in %s: %s\n", s.Name, s.FirstError)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
