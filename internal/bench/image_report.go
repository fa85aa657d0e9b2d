package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func (r *ImageReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes every round, then the medians and ratios, for people.
func (r *ImageReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "nimbus bench image: %d MiB, %d rounds; MB/s = 10^6 bytes/s\n\n", r.SizeBytes>>20, len(r.Rounds))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tMB/s\t\t\t\t\tupload cores\t\t\tdownload cores\t\t\tcached before reading\t\t")
	fmt.Fprintln(tw, "round\tupload\tdd fsync\tdd direct\tdownload\tdd read\tserver\tbench\tother\tserver\tbench\tother\timage\tdd file\t")
	for i, x := range r.Rounds {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", i+1, x.UploadMBps, x.DDWriteMBps, x.DDDirectMBps,
			x.DownloadMBps, x.DDReadMBps, cores(x.UploadServerCores), cores(x.UploadBenchCores), cores(x.UploadOtherCores),
			cores(x.DownloadServerCores), cores(x.DownloadBenchCores), cores(x.DownloadOtherCores),
			share(x.DownloadCached), share(x.DDReadCached))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nmedians: upload %.0f MB/s = %.2f of dd conv=fsync (%.0f MB/s; dd oflag=direct %.0f MB/s)\n",
		r.UploadMBps, r.UploadRatio, r.DDWriteMBps, r.DDDirectMBps)
	fmt.Fprintf(&b, "         download %.0f MB/s = %.2f of dd read (%.0f MB/s)\n", r.DownloadMBps, r.DownloadRatio, r.DDReadMBps)
	if r.ColdReads {
		fmt.Fprintln(&b, "reads were cold: the files were evicted from the page cache before each read")
	} else {
		fmt.Fprintln(&b, "reads were not made cold: see the cached shares above")
	}
	if r.ServerRSSStart > 0 {
		fmt.Fprintf(&b, "server RSS %.1f MB before, %.1f MB at most during the transfers (sampled every 50 ms)\n",
			float64(r.ServerRSSStart)/1e6, float64(r.ServerRSSPeak)/1e6)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cores(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

func share(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}
