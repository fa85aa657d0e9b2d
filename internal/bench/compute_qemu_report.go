package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Spread is the median and the extremes of a few timings.
type Spread struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"p50_ns"`
	Min time.Duration `json:"min_ns"`
	Max time.Duration `json:"max_ns"`
}

// spreadOf is the Spread of times (nearest-rank median, as Percentile).
func spreadOf(times []time.Duration) Spread {
	if len(times) == 0 {
		return Spread{}
	}
	sorted := slices.Sorted(slices.Values(times))
	return Spread{N: len(sorted), P50: Percentile(sorted, 50), Min: sorted[0], Max: sorted[len(sorted)-1]}
}

// QEMUReport is the outcome of `nimbus bench compute --qemu`: the raw QEMU boots
// of the test guest (the floor) and the cloud's boots of the same image.
type QEMUReport struct {
	Target    string    `json:"target"`
	Cores     int       `json:"cores"`
	GoVersion string    `json:"go_version"`
	Started   time.Time `json:"started"`
	// Image is the test guest's build key; Flavor the size both sides boot.
	Image  string `json:"image"`
	Flavor string `json:"flavor"`
	Boots  int    `json:"boots"`
	// ConsolePoll is how often both sides looked for the boot marker.
	ConsolePoll time.Duration `json:"console_poll_ns"`
	// Floor are the raw boots, Spawn to the boot marker; FloorWarmup the unmeasured first.
	Floor       []time.Duration `json:"floor_ns"`
	FloorWarmup time.Duration   `json:"floor_warmup_ns"`
	// FloorSpawn is each raw boot's Spawn alone: QEMU started, QMP up, CPUs running.
	FloorSpawn []time.Duration `json:"floor_spawn_ns"`
	// ToActive and ToMarker are the cloud's boots: POST /servers to ACTIVE and to
	// the boot marker in the console output; the warm-up (which fills the image
	// cache) apart.
	ToActive          []time.Duration `json:"to_active_ns"`
	ToMarker          []time.Duration `json:"to_marker_ns"`
	CloudWarmupActive time.Duration   `json:"cloud_warmup_active_ns"`
	CloudWarmupMarker time.Duration   `json:"cloud_warmup_marker_ns"`
	// The spreads of the above, and Added = MarkerStats.P50 - FloorStats.P50:
	// what Nimbus adds, as the difference of two medians of whole guest boots
	// (seconds each under TCG, varying by as much between runs).
	FloorStats  Spread        `json:"floor"`
	SpawnStats  Spread        `json:"floor_spawn"`
	ActiveStats Spread        `json:"post_to_active"`
	MarkerStats Spread        `json:"post_to_marker"`
	Added       time.Duration `json:"added_ns"`
	// AddedBeforeGuest = ActiveStats.P50 - SpawnStats.P50: the same without the
	// guest's boot in it. The cloud's guest runs its first instruction when
	// the agent resumes it, just before it reports ACTIVE, and boots as the
	// floor's from there, so this is what Nimbus adds before that, less QEMU's
	// own start, which the floor has too.
	AddedBeforeGuest time.Duration `json:"added_before_guest_ns"`
	Aim              time.Duration `json:"aim_added_ns"`
	// FloorBusy and CloudBusy are the cores the whole machine kept busy during
	// each side (-1 unknown); the guest itself keeps about one busy under TCG.
	FloorBusy float64 `json:"floor_machine_cores"`
	CloudBusy float64 `json:"cloud_machine_cores"`
}

// summarize fills the spreads and what Nimbus adds from the timings.
func (r *QEMUReport) summarize() {
	r.FloorStats, r.SpawnStats = spreadOf(r.Floor), spreadOf(r.FloorSpawn)
	r.ActiveStats, r.MarkerStats = spreadOf(r.ToActive), spreadOf(r.ToMarker)
	r.Added = r.MarkerStats.P50 - r.FloorStats.P50
	r.AddedBeforeGuest = r.ActiveStats.P50 - r.SpawnStats.P50
}

// WriteJSON writes the report as indented JSON.
func (r *QEMUReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the floor, the cloud's boots, what Nimbus adds against the aim
// and upstream's anchors, for people. Figures only: no verdict fails a run.
func (r *QEMUReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "nimbus bench compute --qemu: %s; %d cores, %s\n", r.Target, r.Cores, r.GoVersion)
	fmt.Fprintf(&b, "guest image %s, flavor %s, config drive, one boot at a time; the console polled every %s\n\n",
		r.Image, r.Flavor, ms(r.ConsolePoll))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	const first = "timing"
	rows := []struct {
		name string
		s    Spread
	}{
		{"floor: raw QEMU, Spawn to boot marker", r.FloorStats},
		{"floor: raw QEMU, Spawn alone", r.SpawnStats},
		{"cloud: POST /servers to ACTIVE", r.ActiveStats},
		{"cloud: POST /servers to boot marker", r.MarkerStats},
	}
	width := len(first)
	for _, row := range rows {
		width = max(width, len(row.name))
	}
	left := func(s string) string { return s + strings.Repeat(" ", width-len(s)) }
	fmt.Fprintln(tw, left(first)+"\tn\tp50\tmin\tmax\t")
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t\n", left(row.name), row.s.N, ms(row.s.P50), ms(row.s.Min), ms(row.s.Max))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nwarm-ups (not counted): floor %s; cloud POST→ACTIVE %s, POST→boot marker %s (fills the image cache)\n",
		ms(r.FloorWarmup), ms(r.CloudWarmupActive), ms(r.CloudWarmupMarker))
	if r.FloorBusy >= 0 && r.CloudBusy >= 0 && (r.FloorBusy > 0 || r.CloudBusy > 0) {
		fmt.Fprintf(&b, "machine: %.2f of %d cores busy during the floor, %.2f during the cloud's boots (the guest itself keeps about one busy under TCG)\n",
			r.FloorBusy, r.Cores, r.CloudBusy)
	}
	verdict := func(d time.Duration) string {
		if d >= r.Aim {
			return "over"
		}
		return "within"
	}
	fmt.Fprintf(&b, "added by Nimbus: %s (POST→boot marker p50 minus the floor's p50: whole boots, noisy), %s the aim of under %s\n",
		signedMS(r.Added), verdict(r.Added), ms(r.Aim))
	if r.ActiveStats.N > 0 && r.SpawnStats.N > 0 {
		fmt.Fprintf(&b, "added before the guest runs: %s (POST→ACTIVE p50 %s minus the floor's Spawn p50 %s: the guest starts paused and runs from just before ACTIVE), %s the aim\n",
			signedMS(r.AddedBeforeGuest), ms(r.ActiveStats.P50), ms(r.SpawnStats.P50), verdict(r.AddedBeforeGuest))
	}
	fmt.Fprintf(&b, "upstream: Rally boot median %s; a typical build spends %s before QEMU starts and %s waiting for Neutron\n",
		ms(UpstreamBootMedian), ms(UpstreamBuildBeforeQEMU), ms(UpstreamBuildNeutronWait))
	if r.ActiveStats.N > 0 {
		fmt.Fprintf(&b, "  POST→ACTIVE here, median %s: %.0fx faster than Rally's boot median\n", ms(r.ActiveStats.P50),
			speedup(UpstreamBootMedian, r.ActiveStats.P50))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// signedMS is ms with a sign for negative durations (the cloud can beat a noisy floor).
func signedMS(d time.Duration) string {
	if d < 0 {
		return "-" + ms(-d)
	}
	return ms(d)
}
