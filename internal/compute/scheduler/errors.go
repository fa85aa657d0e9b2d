package scheduler

import (
	"fmt"
	"strings"
)

// FilterResult is how many hosts one filter started and ended with, as
// upstream logs "RamFilter: (start: 3, end: 0)".
type FilterResult struct {
	Filter     string
	Start, End int
}

func (r FilterResult) String() string {
	return fmt.Sprintf("%s: (start: %d, end: %d)", r.Filter, r.Start, r.End)
}

// NoValidHost is returned when no host passes. Its message is upstream's, so
// the API can put it in the server's fault as is.
type NoValidHost struct {
	// Reason is the detail after upstream's "No valid host was found. ".
	Reason string
	// Filter is the filter that removed the last hosts; empty when there
	// were no hosts to begin with or none matched ForceHosts.
	Filter string
	// Results are the filters that ran, in order.
	Results []FilterResult
	// Instance is the position in the batch of the instance that found no
	// host (0 for Select).
	Instance int
}

func (e *NoValidHost) Error() string {
	return "No valid host was found. " + e.Reason
}

func noValidHost(instance int, filter string, results []FilterResult) *NoValidHost {
	reason := "There are not enough hosts available."
	if len(results) > 0 {
		parts := make([]string, len(results))
		for i, r := range results {
			parts[i] = r.String()
		}
		reason += " Filter " + filter + " returned 0 hosts. Filter results: [" + strings.Join(parts, ", ") + "]"
	}
	return &NoValidHost{Reason: reason, Filter: filter, Results: results, Instance: instance}
}
