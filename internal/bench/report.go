package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes the report as indented JSON.
func (r *IdentityReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report for people.
func (r *IdentityReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "nimbus bench identity: %s as %s on project %s\n", r.Target, r.User, r.Project)
	fmt.Fprintf(&b, "concurrency %d, %s per scenario after %s warm-up, %d cores, %s\n\n",
		r.Concurrency, r.Duration, r.Warmup, r.Cores, r.GoVersion)

	if err := writeStats(&b, r.Scenarios, statsColumns{Count: "requests", Rate: "req/s", Per: "req"}); err != nil {
		return err
	}

	if l := r.Bcrypt; l != nil {
		fmt.Fprintf(&b, "\nbcrypt cost %d: one hash takes %s here; limit = %d cores / %s = %s password logins/s\n",
			l.Cost, ms(l.HashTime), l.Cores, ms(l.HashTime), rate(l.PerSec))
		if s := r.Scenario(ScenarioIssue); s != nil {
			fmt.Fprintf(&b, "password issue: %s/s = %.1f%% of the bcrypt limit\n", rate(s.Rate), 100*r.IssueOfBcryptLimit)
			switch u := s.Server; {
			case u == nil || u.CPUPerRequest <= 0:
			case u.CPUPerRequest > l.HashTime:
				fmt.Fprintf(&b, "issue path besides bcrypt: %s of server CPU per login (%s CPU/req - %s bcrypt)\n",
					ms(u.CPUPerRequest-l.HashTime), ms(u.CPUPerRequest), ms(l.HashTime))
			default:
				fmt.Fprintf(&b, "server CPU per login %s < one Go bcrypt %s: the server's bcrypt is faster than Go's\n",
					ms(u.CPUPerRequest), ms(l.HashTime))
			}
		}
	}
	if r.ServerIdleRSS > 0 {
		fmt.Fprintf(&b, "server RSS: %.1f MB before load", float64(r.ServerIdleRSS)/1e6)
		if n := len(r.Scenarios); n > 0 && r.Scenarios[n-1].Server != nil {
			fmt.Fprintf(&b, ", %.1f MB after", float64(r.Scenarios[n-1].Server.RSS)/1e6)
		}
		b.WriteString("\n")
	}
	writeWarnings(&b, r.Scenarios)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeWarnings notes the scenarios that other load disturbed and their first errors.
func writeWarnings(b *strings.Builder, stats []Stats) {
	for _, s := range stats {
		if s.OtherCores > disturbed {
			fmt.Fprintf(b, "warning: other processes kept %.2f cores busy during %s: its figures are disturbed\n", s.OtherCores, s.Name)
		}
	}
	for _, s := range stats {
		if s.FirstError != "" {
			fmt.Fprintf(b, "first error in %s: %s\n", s.Name, s.FirstError)
		}
	}
}

// statsColumns name a stats table's count and rate columns and the unit of its
// CPU column ("requests", "req/s", "req").
type statsColumns struct{ Count, Rate, Per string }

// writeStats writes one line per scenario: counts, rate and latency percentiles,
// and the CPU of the server, the bench and the rest of the machine when known.
// Every column is right-aligned but the first.
func writeStats(b *strings.Builder, stats []Stats, cols statsColumns) error {
	withServer := false
	for _, s := range stats {
		withServer = withServer || s.Server != nil
	}
	// Names are padded to one width, as tabwriter aligns every column right.
	width := len("scenario")
	for _, s := range stats {
		width = max(width, len(s.Name))
	}
	left := func(s string) string { return s + strings.Repeat(" ", width-len(s)) }
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := left("scenario") + "\t" + cols.Count + "\terrors\t" + cols.Rate + "\tp50\tp95\tp99\tmax\t"
	if withServer {
		header += "server CPU/" + cols.Per + "\tserver cores\tbench cores\tother cores\t"
	}
	fmt.Fprintln(tw, header)
	for _, s := range stats {
		line := fmt.Sprintf("%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t", left(s.Name), s.Requests, s.Errors, rate(s.Rate),
			ms(s.P50), ms(s.P95), ms(s.P99), ms(s.Max))
		if withServer {
			if s.Server != nil {
				line += fmt.Sprintf("%s\t%.2f\t", ms(s.Server.CPUPerRequest), s.Server.Cores)
			} else {
				line += "-\t-\t"
			}
			if s.Client != nil {
				line += fmt.Sprintf("%.2f\t", s.Client.Cores)
			} else {
				line += "-\t"
			}
			if s.Server != nil && s.Client != nil && s.MachineCores >= 0 {
				line += fmt.Sprintf("%.2f\t", s.OtherCores)
			} else {
				line += "-\t"
			}
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// disturbed is how much CPU from other processes makes a scenario's figures suspect.
const disturbed = 0.1

// ms formats a duration in milliseconds with precision that suits its size.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	case v >= 10:
		return fmt.Sprintf("%.1fms", v)
	default:
		return fmt.Sprintf("%.3fms", v)
	}
}

func rate(r float64) string {
	if r >= 100 {
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.2f", r)
}
