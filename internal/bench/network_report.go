package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes the report as indented JSON.
func (r *NetworkReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the API scenarios, the address check and the comparison with
// upstream, then the data-plane timings (each part only when it ran), for people.
func (r *NetworkReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	if len(r.Scenarios) > 0 {
		if err := r.writeAPI(&b); err != nil {
			return err
		}
	}
	if r.Dataplane != nil {
		if len(r.Scenarios) > 0 {
			b.WriteString("\n")
		}
		if err := r.Dataplane.write(&b); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeAPI writes the API scenarios.
func (r *NetworkReport) writeAPI(b *strings.Builder) error {
	fmt.Fprintf(b, "nimbus bench network: %s as %s on project %s\n", r.Target, r.User, r.Project)
	fmt.Fprintf(b, "concurrency %d, %d cores, %s; ports on subnet %s; one op = one request, one pair or one iteration\n\n",
		r.Concurrency, r.Cores, r.GoVersion, r.CIDR)
	if err := writeStats(b, r.Scenarios, statsColumns{Count: "ops", Rate: "ops/s", Per: "op"}); err != nil {
		return err
	}
	b.WriteString("\n")
	if s := r.Scenario(NetScenarioPortCreate); s != nil {
		verdict := "all distinct"
		if r.DistinctIPs != r.PortsCreated {
			verdict = "FAILED"
			if len(r.DuplicateIPs) > 0 {
				verdict += ": shared " + strings.Join(r.DuplicateIPs, ", ")
			}
		}
		fmt.Fprintf(b, "port addresses: %d ports created, %d distinct IPv4 addresses (%s)\n", r.PortsCreated, r.DistinctIPs, verdict)
	}
	if s := r.Scenario(NetScenarioNetwork); s != nil {
		b.WriteString(anchorLine("network create+delete", s.P50, UpstreamNetworkCreateDelete, r.NetworkSpeedup))
	}
	if s := r.Scenario(NetScenarioPortIteration); s != nil {
		b.WriteString(anchorLine(fmt.Sprintf("%d-port create/delete iteration", r.PortsPerIteration), s.P50,
			UpstreamPortIteration, r.PortIterationSpeedup))
	}
	if r.QuotaRaised {
		b.WriteString("the project's port quota was lifted for the run and put back afterwards\n")
	}
	if r.ServerRSSStart > 0 {
		fmt.Fprintf(b, "server RSS: %.1f MB before load, %.1f MB after\n", float64(r.ServerRSSStart)/1e6, float64(r.ServerRSSEnd)/1e6)
	}
	writeWarnings(b, r.Scenarios)
	return nil
}

// anchorLine compares a median with upstream's (Rally's) and the aim.
func anchorLine(what string, median, anchor time.Duration, speedup float64) string {
	verdict := "meets"
	if speedup < NetworkAim {
		verdict = "misses"
	}
	times := fmt.Sprintf("%.0f", speedup)
	if speedup < 10 {
		times = fmt.Sprintf("%.1f", speedup)
	}
	return fmt.Sprintf("%s: median %s, upstream Neutron (Rally) %s: %sx faster, %s the aim of %dx\n",
		what, ms(median), ms(anchor), times, verdict, NetworkAim)
}

// write writes the data-plane timings, the warm-up and the comparison with the aim.
func (r *DataplaneReport) write(b *strings.Builder) error {
	fmt.Fprintf(b, "nimbus bench network, data plane: host %s (namespace %s), subnet %s\n", r.Host, r.HostNamespace, r.CIDR)
	fmt.Fprintf(b, "%d iterations after one warm-up: a port plugged into an instance namespace is bound (%s after its\n"+
		"creation), leased once ACTIVE, then given a floating IP (associated %s after its creation) that the\n"+
		"outside host pings every %s\n\n", len(r.Samples), r.Settle, r.Settle, dpPoll)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("timing")
	for _, t := range r.Timings {
		width = max(width, len(t.Name))
	}
	left := func(s string) string { return s + strings.Repeat(" ", width-len(s)) }
	fmt.Fprintln(tw, left("timing")+"\tn\tp50\tp90\tmax\t")
	for _, t := range r.Timings {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t\n", left(t.Name), t.Count, ms(t.P50), ms(t.P90), ms(t.Max))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("\n")
	if w := r.Warmup; w != nil {
		fmt.Fprintf(b, "first port of the network (warm-up, not counted): %s %s, %s %s\n",
			DPTimingLease, ms(w.Lease), DPTimingFIP, ms(w.Reach))
	}
	if r.MachineCores >= 0 && len(r.Samples) > 0 {
		fmt.Fprintf(b, "machine: %.2f of %d cores busy during the iterations (cloud, agents' commands, bench and all else)\n",
			r.MachineCores, runtime.NumCPU())
	}
	for _, name := range []string{DPTimingLease, DPTimingFIP} {
		if t := r.Timing(name); t != nil {
			verdict := "meets the aim (well under a second): every iteration under " + DataplaneAim.String()
			if t.Max >= DataplaneAim {
				verdict = "misses the aim (well under a second): the slowest iteration took " + ms(t.Max)
			}
			fmt.Fprintf(b, "%s: p50 %s, p90 %s, max %s; %s\n", name, ms(t.P50), ms(t.P90), ms(t.Max), verdict)
		}
	}
	return nil
}
