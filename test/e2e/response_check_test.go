package e2e

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi/httpapitest"
)

// checkResponsesEnv turns on every process's response schema check
// (api.check_responses): each answer of each cloud the suite starts is validated
// against its route's schema at the request's version, and a mismatch is logged.
// The package fails when any log holds one (responseViolations, at TestMain's end).
const checkResponsesEnv = "NIMBUS_CHECK_RESPONSES=1"

// violationLog collects the response schema violations of the logs of every
// process the package starts. Each log is read as its process exits (before a
// test's temporary directory goes) and once more at the package's end, from
// where the previous read stopped: a restarted cloud appends to its log.
type violationLog struct {
	mu        sync.Mutex
	read      map[string]int64 // log file -> bytes already read
	found     []string
	readErr   []string
	unchecked map[string]bool // routes answered without a response schema
}

// responseViolations is the package's collector.
var responseViolations = &violationLog{}

// watch registers a log file, so that the package's end reads it too.
func (v *violationLog) watch(path string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.read == nil {
		v.read = map[string]int64{}
	}
	if _, ok := v.read[path]; !ok {
		v.read[path] = 0
	}
}

// scan reads what path gained since the last read.
func (v *violationLog) scan(path string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.read == nil {
		v.read = map[string]int64{}
	}
	f, err := os.Open(path)
	if err != nil {
		if !os.IsNotExist(err) { // a test's directory already removed: read at its process's exit
			v.readErr = append(v.readErr, err.Error())
		}
		return
	}
	defer f.Close()
	if _, err := f.Seek(v.read[path], io.SeekStart); err != nil {
		v.readErr = append(v.readErr, err.Error())
		return
	}
	data, err := io.ReadAll(f)
	if err != nil {
		v.readErr = append(v.readErr, err.Error())
		return
	}
	// Only whole lines: a line still being written is read next time.
	if i := strings.LastIndexByte(string(data), '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		data = nil
	}
	v.read[path] += int64(len(data))
	found, err := httpapitest.ScanViolations(strings.NewReader(string(data)))
	if err != nil {
		v.readErr = append(v.readErr, fmt.Sprintf("%s: %v", path, err))
	}
	for _, f := range found {
		v.found = append(v.found, fmt.Sprintf("%s (%s)", f, filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path)))
	}
	unchecked, _ := httpapitest.ScanUnchecked(strings.NewReader(string(data)))
	if v.unchecked == nil {
		v.unchecked = map[string]bool{}
	}
	for _, u := range unchecked {
		v.unchecked[u.String()] = true
	}
}

// coverage is what the check did not cover: the routes that answered a success
// without a response schema, one a line, sorted. Every route of every service
// declares its schemas (each service's TestSchemaCoverage), so one that answered
// without fails the package too: an answer the check never saw is not checked.
func (v *violationLog) coverage() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.unchecked) == 0 {
		return ""
	}
	lines := make([]string, 0, len(v.unchecked))
	for u := range v.unchecked {
		lines = append(lines, "  "+u)
	}
	sort.Strings(lines)
	return fmt.Sprintf("routes that answered without a response schema, so unchecked: %d\n%s\n",
		len(lines), strings.Join(lines, "\n"))
}

// scanAll reads every registered log once more.
func (v *violationLog) scanAll() {
	v.mu.Lock()
	paths := make([]string, 0, len(v.read))
	for p := range v.read {
		paths = append(paths, p)
	}
	v.mu.Unlock()
	for _, p := range paths {
		v.scan(p)
	}
}

// report is what fails the package: every violation found, one a line naming the
// service, route, version, status, field and message; empty when there is none.
func (v *violationLog) report() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var b strings.Builder
	if len(v.found) > 0 {
		fmt.Fprintf(&b, "responses that broke their route's response schema (api.check_responses): %d\n", len(v.found))
		for _, f := range v.found {
			fmt.Fprintf(&b, "  %s\n", f)
		}
	}
	for _, e := range v.readErr {
		fmt.Fprintf(&b, "reading a cloud's log for response schema violations: %s\n", e)
	}
	return b.String()
}

// TestViolationLogFailsTheRun: a violation a process logged is reported at the
// package's end, naming route, version, field and message, once, even when the
// log is read again after a restart appended to it; a log without violations
// reports nothing.
func TestViolationLogFailsTheRun(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nimbus.log")
	write := func(s string) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	v := &violationLog{}
	v.watch(path)
	write(`time=2026-12-07T12:00:00.000Z level=INFO msg=request service=compute status=200` + "\n")
	v.scanAll()
	if r := v.report(); r != "" {
		t.Fatalf("a clean log reported:\n%s", r)
	}
	write(`time=2026-12-07T12:00:01.000Z level=ERROR msg="response schema violation" service=compute ` +
		`route="GET /v2.1/servers/{server_id}" version=2.47 status=200 field=server.flavor ` +
		`error="'original_name' is a required property" request_id=req-3f1c2a9e-1b2c-4d3e-8f4a-5b6c7d8e9f00` + "\n" +
		`time=2026-12-07T12:00:01.000Z level=ERROR msg="response schema vio`) // a line being written
	v.scan(path) // the process exited
	write("lation\" service=image route=\"GET /v2/images\" version=0.0 status=200 field=images.0 error=\"x\"\n")
	v.scanAll() // the package's end
	v.scanAll()
	r := v.report()
	for _, want := range []string{"response schema (api.check_responses): 2", "compute GET /v2.1/servers/{server_id} at version 2.47 answered 200",
		"server.flavor: 'original_name' is a required property", "image GET /v2/images answered 200", "nimbus.log"} {
		if !strings.Contains(r, want) {
			t.Errorf("report does not say %q:\n%s", want, r)
		}
	}
	if strings.Count(r, "original_name") != 1 {
		t.Errorf("a violation reported twice:\n%s", r)
	}
	if v.coverage() != "" {
		t.Errorf("coverage without unchecked routes: %s", v.coverage())
	}
	write(`time=2026-12-07T12:00:02.000Z level=INFO msg="response without a schema" service=network route="GET /v2.0/ports" version=0.0 status=200` + "\n")
	v.scanAll()
	if c := v.coverage(); !strings.Contains(c, ": 1\n  network GET /v2.0/ports answering 200") {
		t.Errorf("coverage %q", c)
	}
}

// TestCloudsCheckResponses: the clouds of this package run with the response
// check on (their log says so at start).
func TestCloudsCheckResponses(t *testing.T) {
	if !strings.Contains(shared.Log(), "checking every API response against its route's response schema") {
		t.Fatal("the shared cloud does not check its responses (api.check_responses)")
	}
}
