package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	// The acceptance package below is compiled from the module cache at the version
	// go.mod requires; this import keeps that requirement in go.mod.
	_ "github.com/gophercloud/gophercloud/v2/openstack"
)

// gophercloudSuite is one of gophercloud's own acceptance suites: its packages are
// compiled with the build tag acceptance, at the version go.mod requires, and run
// against the shared cloud with the environment gophercloud's CI gets from devstack.
type gophercloudSuite struct {
	name     string   // for logs, e.g. "identity v3"
	packages []string // relative to gophercloudAcceptance
	// heading is the heading of the section of compatibilityDoc whose table lists the
	// suite's tests that do not pass, with the reason.
	heading string
	// standIns are the files, by URL, that tests of the suite download from the
	// Internet themselves (not through the cloud); standInProxy serves them instead.
	standIns map[string][]byte
	// cloud is the cloud the suite runs against; nil means the shared one, whose
	// guest image is OS_IMAGE_ID. Another cloud names its image in imageID.
	cloud   *Cloud
	imageID string
	// env is added to the suite's environment (OS_NETWORK_NAME, ...).
	env map[string]string
	// only, when set, are the only tests of the packages that run; without are
	// tests that never run here, because another suite runs them (on a cloud of
	// their own). Rows of compatibilityDoc are checked only for the tests that may run.
	only, without []string
}

const gophercloudAcceptance = "github.com/gophercloud/gophercloud/v2/internal/acceptance/openstack/"

// compatibilityDoc lists the acceptance tests that are known not to pass, with the reason.
const compatibilityDoc = "../../docs/COMPATIBILITY.md"

// acceptanceResult is the outcome of one top-level test of the acceptance suite.
type acceptanceResult struct {
	Name    string
	Action  string // pass, fail or skip
	Elapsed float64
	Output  []string
}

// TestGophercloudIdentityV3Acceptance runs gophercloud's identity v3 acceptance tests.
func TestGophercloudIdentityV3Acceptance(t *testing.T) {
	runGophercloudSuite(t, gophercloudSuite{name: "identity v3", packages: []string{"identity/v3"},
		heading: "gophercloud identity v3"})
}

// TestGophercloudImageV2Acceptance runs gophercloud's image service v2 acceptance tests.
func TestGophercloudImageV2Acceptance(t *testing.T) {
	runGophercloudSuite(t, gophercloudSuite{name: "image v2", packages: []string{"image/v2"},
		heading: "gophercloud image v2",
		// TestImageStage downloads gophercloud's ImportImageURL itself before staging it.
		standIns: map[string][]byte{cirrosURL: qcow2StandIn(t)}})
}

// TestGophercloudObjectStorageV1Acceptance runs gophercloud's object storage v1
// acceptance tests against the shared cloud's object store.
func TestGophercloudObjectStorageV1Acceptance(t *testing.T) {
	runGophercloudSuite(t, gophercloudSuite{name: "objectstorage v1", packages: []string{"objectstorage/v1"},
		heading: "gophercloud objectstorage v1"})
}

// cirrosURL is the image gophercloud's image tests import (ImportImageURL).
const cirrosURL = "http://download.cirros-cloud.net/0.4.0/cirros-0.4.0-x86_64-disk.img"

// qcow2StandIn is a small empty qcow2 disk, made by qemu-img as any image would be.
func qcow2StandIn(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(qcow2StandInFile(t))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// qcow2StandInFile makes the disk of qcow2StandIn in a temporary file.
func qcow2StandInFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stand-in.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", path, "64M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v\n%s", err, out)
	}
	return path
}

// TestGophercloudNetworkingV2Acceptance runs gophercloud's networking v2 acceptance
// tests: the core resources and the extensions Nimbus implements.
func TestGophercloudNetworkingV2Acceptance(t *testing.T) {
	runGophercloudSuite(t, gophercloudSuite{name: "networking v2", heading: "gophercloud networking v2",
		packages: []string{"networking/v2", "networking/v2/extensions", "networking/v2/extensions/layer3",
			"networking/v2/extensions/portsbinding", "networking/v2/extensions/quotas",
			"networking/v2/extensions/networkipavailabilities", "networking/v2/extensions/agents",
			"networking/v2/extensions/mtu", "networking/v2/extensions/subnetpools", "networking/v2/extensions/trunks",
			"networking/v2/extensions/trunk_details"},
		without: networkingDataPlaneTests})
}

// networkingDataPlaneTests are the networking tests that need a running data plane:
// they wait for a router interface port to become ACTIVE, which the L3 agent reports
// once it has wired the port. The shared cloud has no data plane, so these run on a
// cloud of their own, in TestGophercloudNetworkingV2DataPlane.
var networkingDataPlaneTests = []string{"TestLayer3FloatingIPsExternalCreateDelete", "TestLayer3FloatingIPsWithFixedIPsExternalCreateDelete"}

// TestGophercloudNetworkingV2DataPlane runs the networking acceptance tests that need
// a data plane against a cloud whose data plane is real and lives in a namespace the
// test made (see startDataplaneCloud), alongside the other tests.
func TestGophercloudNetworkingV2DataPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("runs gophercloud acceptance tests on a cloud of their own")
	}
	t.Parallel()
	d := startDataplaneCloud(t, "g")
	// The cloud has no guest image; the tests need an OS_IMAGE_ID but never boot it.
	var image row
	OSJSON(t, d.Cloud, adminCloud, &image, "image", "create", "--disk-format", "qcow2", "--container-format", "bare",
		"--public", "--file", qcow2StandInFile(t), "gophercloud-stand-in")
	runGophercloudSuite(t, gophercloudSuite{name: "networking v2 (data plane)", heading: "gophercloud networking v2",
		packages: []string{"networking/v2/extensions/layer3"}, cloud: d.Cloud, imageID: str(image, "id"),
		only: networkingDataPlaneTests})
}

// runGophercloudSuite runs a suite first as admin (as gophercloud's CI does on
// devstack), then as demo for the tests that need a non-admin user. Every test must
// pass, be skipped, or be listed in docs/COMPATIBILITY.md; a listed test that passes
// fails the run too, so that the document stays true.
func runGophercloudSuite(t *testing.T, suite gophercloudSuite) {
	if testing.Short() {
		t.Skipf("runs the whole gophercloud %s acceptance suite", suite.name)
	}
	known, err := knownIncompatible(compatibilityDoc, suite.heading)
	if err != nil {
		t.Fatal(err)
	}
	// Rows of tests this run leaves to another do not concern it.
	for name := range known {
		if slices.Contains(suite.without, name) || (suite.only != nil && !slices.Contains(suite.only, name)) {
			delete(known, name)
		}
	}
	c := suite.cloud
	if c == nil {
		c = shared
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// Tests listed as "Not run" would send traffic out of the machine: skip them,
	// and the tests another suite runs.
	var notRun []string
	for name, reason := range known {
		if strings.HasPrefix(reason, "Not run") {
			notRun = append(notRun, name)
		}
	}
	skip := anyOf(append(notRun, suite.without...))
	run := anyOf(suite.only)
	dir := t.TempDir()
	var bins []string
	for i, pkg := range suite.packages {
		bin := filepath.Join(dir, fmt.Sprintf("acceptance-%d.test", i))
		build := exec.CommandContext(ctx, "go", "test", "-c", "-tags", "acceptance", "-o", bin, gophercloudAcceptance+pkg)
		build.Dir = "../.."
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("compile %s: %v\n%s", pkg, err, out)
		}
		bins = append(bins, bin)
	}
	runAll := func(env map[string]string, run string) (map[string]*acceptanceResult, error) {
		all := map[string]*acceptanceResult{}
		for i, bin := range bins {
			res, err := runAcceptance(ctx, t, bin, suite.packages[i], env, run, skip)
			if err != nil {
				return nil, err
			}
			for name, r := range res {
				if _, dup := all[name]; dup {
					return nil, fmt.Errorf("test %s is in two packages of the suite", name)
				}
				all[name] = r
			}
		}
		return all, nil
	}

	adminEnv := map[string]string{
		"OS_AUTH_URL":             c.IdentityURL + "/v3",
		"OS_USERNAME":             "admin",
		"OS_PASSWORD":             c.Secret("admin"),
		"OS_PROJECT_NAME":         "admin",
		"OS_USER_DOMAIN_ID":       "default",
		"OS_PROJECT_DOMAIN_ID":    "default",
		"OS_DOMAIN_ID":            "default", // what gophercloud's AuthOptionsFromEnv reads, as in its script/stackenv
		"OS_REGION_NAME":          "RegionOne",
		"OS_IDENTITY_API_VERSION": "3",
		"OS_BRANCH":               "master",
		// What devstack exports for the compute and networking suites: the external
		// network and the image a new cloud has, and upstream's flavor ids.
		"OS_POOL_NAME":        "public",
		"OS_EXTGW_ID":         cliID(t, c, "network", "show", "public"),
		"OS_IMAGE_ID":         suite.imageID,
		"OS_FLAVOR_ID":        "1",
		"OS_FLAVOR_ID_RESIZE": "2",
	}
	maps.Copy(adminEnv, suite.env)
	if suite.imageID == "" {
		adminEnv["OS_IMAGE_ID"] = cliID(t, c, "image", "show", "nimbus-guest")
	}
	// Whatever a test fetches from outside the cloud goes through standInProxy.
	proxy := standInProxy(t, suite.standIns)
	identity, err := url.Parse(c.IdentityURL)
	if err != nil {
		t.Fatal(err)
	}
	cloudHost := identity.Hostname()
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		adminEnv[k] = proxy
	}
	adminEnv["NO_PROXY"], adminEnv["no_proxy"] = cloudHost, cloudHost
	results, err := runAll(adminEnv, run)
	if err != nil {
		t.Fatal(err)
	}

	// Tests that skipped as admin (clients.RequireNonAdmin) run again as demo.
	var again []string
	for name, r := range results {
		if r.Action == "skip" {
			again = append(again, name)
		}
	}
	if len(again) > 0 {
		demoEnv := map[string]string{}
		for k, v := range adminEnv {
			demoEnv[k] = v
		}
		demoEnv["OS_USERNAME"] = "demo"
		demoEnv["OS_PASSWORD"] = c.Secret("demo")
		demoEnv["OS_PROJECT_NAME"] = "demo"
		demo, err := runAll(demoEnv, anyOf(again))
		if err != nil {
			t.Fatal(err)
		}
		for name, r := range demo {
			if r.Action != "skip" {
				r.Name += " (as demo)"
				results[name] = r
			}
		}
	}

	names := make([]string, 0, len(results))
	for name := range results {
		names = append(names, name)
	}
	sort.Strings(names)
	counts := map[string]int{}
	for _, name := range names {
		r := results[name]
		counts[r.Action]++
		_, listed := known[name]
		if listed && r.Action == "fail" {
			counts["known"]++
		}
		switch {
		case r.Action == "pass" && listed:
			t.Errorf("%s passes but %s lists it as incompatible (%s): remove it from the table", r.Name, compatibilityDoc, known[name])
		case r.Action == "pass":
			t.Logf("PASS %s (%.2fs)", r.Name, r.Elapsed)
		case r.Action == "skip":
			t.Logf("SKIP %s: %s", r.Name, lastLines(r.Output, 3))
		case r.Action == "fail" && listed:
			t.Logf("FAIL %s (known: %s)", r.Name, known[name])
		default:
			t.Errorf("FAIL %s, which %s does not list:\n%s", r.Name, compatibilityDoc, failureLines(r.Output))
		}
	}
	for name, reason := range known {
		if _, ok := results[name]; !ok && !strings.HasPrefix(reason, "Not run") {
			t.Errorf("%s lists %s (%s), which the acceptance suite no longer has", compatibilityDoc, name, reason)
		}
	}
	for _, name := range suite.only {
		if _, ok := results[name]; !ok && !strings.HasPrefix(known[name], "Not run") {
			t.Errorf("the acceptance suite has no test %s", name)
		}
	}
	t.Logf("gophercloud %s acceptance: %d tests, %d passed, %d failed (%d listed in %s), %d skipped",
		suite.name, len(results), counts["pass"], counts["fail"], counts["known"], compatibilityDoc, counts["skip"])
}

// standInProxy starts an HTTP proxy on this machine for an acceptance suite's tests
// and returns its URL: it answers the GETs of standIns' URLs with their contents and
// refuses everything else, so no test traffic leaves the machine (requests to the
// cloud, on loopback or NO_PROXY, do not go through it).
func standInProxy(t *testing.T, standIns map[string][]byte) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if data, ok := standIns[r.URL.String()]; ok && r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			_, _ = w.Write(data)
			return
		}
		t.Logf("stand-in proxy refused %s %s: tests may not reach out of the machine", r.Method, r.URL)
		http.Error(w, "refused by the e2e stand-in proxy: tests may not reach out of the machine", http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// cliID is the id of a resource of cloud c, as admin sees it.
func cliID(t *testing.T, c *Cloud, args ...string) string {
	t.Helper()
	return strings.TrimSpace(OS(t, c, "nimbus-admin", append(args, "-f", "value", "-c", "id")...))
}

// anyOf is a -test.run pattern matching exactly the named top-level tests, or ""
// (every test) for none.
func anyOf(names []string) string {
	if len(names) == 0 {
		return ""
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	sort.Strings(quoted)
	return "^(" + strings.Join(quoted, "|") + ")$"
}

// runAcceptance runs the compiled acceptance binary under test2json with env (and no
// other OS_* variable) and returns the outcome of each top-level test.
func runAcceptance(ctx context.Context, t *testing.T, bin, pkg string, env map[string]string, run, skip string) (map[string]*acceptanceResult, error) {
	t.Helper()
	args := []string{"tool", "test2json", "-t", "-p", pkg, bin, "-test.v=test2json", "-test.timeout=9m", "-test.count=1"}
	if run != "" {
		args = append(args, "-test.run", run)
	}
	if skip != "" {
		args = append(args, "-test.skip", skip)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = filepath.Dir(bin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// test2json and the suite are children of `go tool`: on timeout kill the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	results, perr := parseTest2JSON(stdout)
	_, _ = io.Copy(io.Discard, stdout)
	werr := cmd.Wait()
	if perr != nil {
		return nil, perr
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("acceptance suite did not finish in time: %v", ctx.Err())
	}
	if len(results) == 0 && run == "" {
		return nil, fmt.Errorf("acceptance suite ran no test (%v)\n%s", werr, stderr.String())
	}
	for name, r := range results {
		if r.Action == "" { // started but never ended: the binary died (panic, timeout)
			r.Action = "fail"
			r.Output = append(r.Output, fmt.Sprintf("test did not finish: %v\n%s", werr, stderr.String()))
			results[name] = r
		}
	}
	return results, nil
}

// parseTest2JSON reads `go tool test2json` events and keeps the top-level tests.
func parseTest2JSON(r io.Reader) (map[string]*acceptanceResult, error) {
	results := map[string]*acceptanceResult{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			Action  string
			Test    string
			Elapsed float64
			Output  string
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue // not an event (test2json passes through nothing else, but be lenient)
		}
		if ev.Test == "" {
			continue
		}
		top, _, _ := strings.Cut(ev.Test, "/")
		res := results[top]
		if res == nil {
			res = &acceptanceResult{Name: top}
			results[top] = res
		}
		switch ev.Action {
		case "output":
			res.Output = append(res.Output, strings.TrimRight(ev.Output, "\n"))
		case "pass", "fail", "skip":
			if ev.Test == top {
				res.Action = ev.Action
				res.Elapsed = ev.Elapsed
			}
		}
	}
	return results, sc.Err()
}

// testName is the name of a Go test function.
var testName = regexp.MustCompile(`^Test[A-Z0-9_][A-Za-z0-9_]*$`)

// knownIncompatible reads the table under the heading of doc: rows `| TestName | reason |`.
func knownIncompatible(doc, heading string) (map[string]string, error) {
	data, err := os.ReadFile(doc)
	if err != nil {
		return nil, err
	}
	known := map[string]string{}
	in, found := false, false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			in = strings.Contains(strings.ToLower(line), strings.ToLower(heading))
			found = found || in
			continue
		}
		if !in || !strings.HasPrefix(strings.TrimSpace(line), "|") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) < 2 {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[0]), "`")
		if !testName.MatchString(name) {
			continue // header or separator row
		}
		if _, dup := known[name]; dup {
			return nil, fmt.Errorf("%s lists %s twice", doc, name)
		}
		known[name] = strings.TrimSpace(strings.Join(cells[1:], "|"))
	}
	if !found {
		return nil, fmt.Errorf("%s has no heading containing %q", doc, heading)
	}
	return known, nil
}

// ansiEscape matches the colour codes of gophercloud's test helpers.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// failureSource matches the lines a test logs from its own files (assertions,
// t.Fatal), not the resources tools.PrintResource dumps.
var failureSource = regexp.MustCompile(`^\s*[A-Za-z0-9_]+\.go:\d+: `)

// failureLines picks from a failed test's output the lines that say why: assertion
// failures and errors logged by the test files, and any panic; else its last lines.
func failureLines(out []string) string {
	var keep []string
	panicked := false
	for _, l := range out {
		l = ansiEscape.ReplaceAllString(l, "")
		if strings.HasPrefix(l, "panic:") || strings.Contains(l, "test timed out") {
			panicked = true
		}
		if panicked || (failureSource.MatchString(l) && !strings.Contains(l, "tools.go:")) {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		return lastLines(out, 40)
	}
	if len(keep) > 60 {
		keep = keep[:60]
	}
	return strings.Join(keep, "\n")
}

// lastLines returns the last n non-empty lines of out.
func lastLines(out []string, n int) string {
	var keep []string
	for _, l := range out {
		if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "=== ") {
			keep = append(keep, l)
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, "\n")
}
