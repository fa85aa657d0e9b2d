package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteJSON writes the report as indented JSON.
func (r *NetworkReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the scenarios, the address check and the comparison with
// upstream, for people.
func (r *NetworkReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "nimbus bench network: %s as %s on project %s\n", r.Target, r.User, r.Project)
	fmt.Fprintf(&b, "concurrency %d, %d cores, %s; ports on subnet %s; one op = one request, one pair or one iteration\n\n",
		r.Concurrency, r.Cores, r.GoVersion, r.CIDR)
	if err := writeStats(&b, r.Scenarios, statsColumns{Count: "ops", Rate: "ops/s", Per: "op"}); err != nil {
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
		fmt.Fprintf(&b, "port addresses: %d ports created, %d distinct IPv4 addresses (%s)\n", r.PortsCreated, r.DistinctIPs, verdict)
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
		fmt.Fprintf(&b, "server RSS: %.1f MB before load, %.1f MB after\n", float64(r.ServerRSSStart)/1e6, float64(r.ServerRSSEnd)/1e6)
	}
	writeWarnings(&b, r.Scenarios)
	_, err := io.WriteString(w, b.String())
	return err
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
