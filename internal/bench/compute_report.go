package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func (r *ComputeReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the request stats, the boots, the listings, the deletes and
// the comparison with upstream, for people.
func (r *ComputeReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "nimbus bench compute: %s as %s on project %s\n", r.Target, r.User, r.Project)
	fmt.Fprintf(&b, "concurrency %d, %d cores, %s; %d compute hosts; flavor %s\n\n", r.Concurrency, r.Cores, r.GoVersion,
		r.Hosts, r.Flavor)
	if err := writeStats(&b, r.Scenarios, statsColumns{Count: "requests", Rate: "req/s", Per: "req"}); err != nil {
		return err
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "boots: %d servers requested at concurrency %d, %d ACTIVE, %d ERROR, the last ACTIVE %s after the first POST: %s boots/s\n",
		r.Servers, r.Concurrency, r.Active, r.Failed, ms(r.BootElapsed), rate(r.BootsPerSec))
	if u := r.BootServer; u != nil {
		fmt.Fprintf(&b, "boots: server %.2f cores busy, %s of server CPU per boot\n", u.Cores, ms(u.CPUPerRequest))
	}
	fmt.Fprintf(&b, "POST→ACTIVE (seen by a listing every %s): p50 %s, p99 %s, max %s\n", ms(r.Poll), ms(r.ToActiveP50),
		ms(r.ToActiveP99), ms(r.ToActiveMax))
	if len(r.Walks) > 0 {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		width := len("listing paged through")
		for _, wk := range r.Walks {
			width = max(width, len(wk.Name))
		}
		left := func(s string) string { return s + strings.Repeat(" ", width-len(s)) }
		fmt.Fprintln(tw, left("listing paged through")+"\tservers\tpages\trounds\tmedian\tmin\tmax\t")
		for _, wk := range r.Walks {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t\n", left(wk.Name), wk.Servers, wk.Pages, wk.Rounds, ms(wk.Median),
				ms(wk.Min), ms(wk.Max))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.ListStates) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r.ListStates)) {
			parts = append(parts, fmt.Sprintf("%d %s", r.ListStates[k], k))
		}
		fmt.Fprintf(&b, "the large listing's servers: %s (those the hosts had no room for are ERROR: they list the same)\n",
			strings.Join(parts, ", "))
	}
	b.WriteString("\n")
	if r.Deleted > 0 {
		fmt.Fprintf(&b, "deletes: %d servers gone from the listing %s after the first DELETE: %s deletes/s\n", r.Deleted,
			ms(r.DeleteElapsed), rate(r.DeletesPerSec))
	}
	verdict := "meets"
	if r.BootsPerSec < ComputeAimBootsPerSec {
		verdict = "misses"
	}
	fmt.Fprintf(&b, "aim: %s boots/s with the fake driver %s the aim of %d boots/s\n", rate(r.BootsPerSec), verdict, ComputeAimBootsPerSec)
	if s := r.Serial; s != nil {
		fmt.Fprintf(&b, "one boot at a time (%d): POST→ACTIVE p50 %s, p99 %s\n", s.Requests, ms(s.P50), ms(s.P99))
	}
	fmt.Fprintf(&b, "upstream: Rally boot median %s; a typical build spends %s before QEMU starts and %s waiting for Neutron\n",
		ms(UpstreamBootMedian), ms(UpstreamBuildBeforeQEMU), ms(UpstreamBuildNeutronWait))
	if r.Serial != nil {
		fmt.Fprintf(&b, "  one boot here, median %s: %.0fx faster than Rally's (with no guest to start)\n", ms(r.Serial.P50), r.Speedup)
	}
	if r.QuotaNote != "" {
		fmt.Fprintf(&b, "quota: %s\n", r.QuotaNote)
	}
	if r.ServerRSSStart > 0 {
		fmt.Fprintf(&b, "server RSS: %.1f MB before load, %.1f MB after\n", float64(r.ServerRSSStart)/1e6, float64(r.ServerRSSEnd)/1e6)
	}
	writeWarnings(&b, r.Scenarios)
	_, err := io.WriteString(w, b.String())
	return err
}
