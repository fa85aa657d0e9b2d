package bench

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Identity scenarios, in the order they run.
const (
	ScenarioIssue             = "issue"              // POST /v3/auth/tokens, password method, project scope
	ScenarioRescope           = "rescope"            // POST /v3/auth/tokens, token method, project scope
	ScenarioValidateNoCatalog = "validate-nocatalog" // GET /v3/auth/tokens?nocatalog
	ScenarioValidateCatalog   = "validate-catalog"   // GET /v3/auth/tokens
)

// IdentityScenarios lists every identity scenario.
var IdentityScenarios = []string{ScenarioIssue, ScenarioRescope, ScenarioValidateNoCatalog, ScenarioValidateCatalog}

var scenarioTitles = map[string]string{
	ScenarioIssue:             "password issue",
	ScenarioRescope:           "token re-scope",
	ScenarioValidateNoCatalog: "validate ?nocatalog",
	ScenarioValidateCatalog:   "validate +catalog",
}

// IdentityOptions configure `nimbus bench identity`.
type IdentityOptions struct {
	Credentials Credentials
	Load        Load
	Scenarios   []string // default: all
	// BcryptCost is the cost the cloud hashes passwords with; the bench times one
	// hash at this cost locally to compute the bcrypt limit of password logins.
	BcryptCost    int
	BcryptSamples int
	// Subjects is how many distinct tokens the validation scenarios cycle through.
	Subjects int
	// ServerPIDs, when set, add the server's CPU and memory to the report (all its
	// processes: a uwsgi master's children are not counted in its own times).
	ServerPIDs []int
	Timeout    time.Duration // per request
}

// IdentityReport is the outcome of `nimbus bench identity`.
type IdentityReport struct {
	Target      string        `json:"target"`
	User        string        `json:"user"`
	Project     string        `json:"project"`
	Concurrency int           `json:"concurrency"`
	Duration    time.Duration `json:"duration_ns"`
	Warmup      time.Duration `json:"warmup_ns"`
	Cores       int           `json:"cores"`
	GoVersion   string        `json:"go_version"`
	Started     time.Time     `json:"started"`
	Bcrypt      *BcryptLimit  `json:"bcrypt,omitempty"`
	// IssueOfBcryptLimit is the password issue rate as a fraction of Bcrypt.PerSec.
	IssueOfBcryptLimit float64 `json:"issue_of_bcrypt_limit,omitempty"`
	// ServerIdleRSS is the server's resident memory before the first scenario.
	ServerIdleRSS int64   `json:"server_idle_rss_bytes,omitempty"`
	Scenarios     []Stats `json:"scenarios"`
}

// Scenario returns the stats of the scenario named id, if it ran.
func (r *IdentityReport) Scenario(id string) *Stats {
	return findStats(r.Scenarios, scenarioTitles[id])
}

// ParseScenarios validates a comma-separated scenario list ("" or "all" = every one).
func ParseScenarios(s string) ([]string, error) {
	if s == "" || s == "all" {
		return IdentityScenarios, nil
	}
	var out []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(IdentityScenarios, name) {
			return nil, fmt.Errorf("unknown scenario %q (want %s)", name, strings.Join(IdentityScenarios, ", "))
		}
		out = append(out, name)
	}
	return out, nil
}

// Identity logs in once, prepares tokens, times bcrypt locally, then runs each
// scenario against the cloud. progress, if not nil, hears what is running.
func Identity(ctx context.Context, o IdentityOptions, progress func(string)) (*IdentityReport, error) {
	if progress == nil {
		progress = func(string) {}
	}
	c := o.Credentials
	if c.AuthURL == "" || c.Username == "" || c.Password == "" || (c.ProjectName == "" && c.ProjectID == "") {
		return nil, fmt.Errorf("need an auth URL, a username, a password and a project (flags or --cloud)")
	}
	base, err := identityBase(c.AuthURL)
	if err != nil {
		return nil, err
	}
	if err := CheckLoopback(ctx, base); err != nil {
		return nil, err
	}
	scenarios := o.Scenarios
	if len(scenarios) == 0 {
		scenarios = IdentityScenarios
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	o.Subjects = max(o.Subjects, 1)
	k := newKeystone(base, o.Load.Concurrency, o.Timeout)
	defer k.close()

	rep := &IdentityReport{
		Target: base, User: c.Username, Project: firstNonEmpty(c.ProjectName, c.ProjectID),
		Concurrency: o.Load.Concurrency, Duration: o.Load.Duration, Warmup: o.Load.Warmup,
		Cores: runtime.NumCPU(), GoVersion: runtime.Version(), Started: time.Now().UTC(),
	}

	progress("logging in as " + c.Username)
	unscoped, err := k.issue(ctx, passwordBody(c, false), true)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	rescopeBody := tokenBody(c, unscoped)
	authToken, err := k.issue(ctx, rescopeBody, true)
	if err != nil {
		return nil, fmt.Errorf("re-scope to the project: %w", err)
	}
	subjects := []string{authToken}
	for len(subjects) < o.Subjects {
		t, err := k.issue(ctx, rescopeBody, true)
		if err != nil {
			return nil, fmt.Errorf("issue subject tokens: %w", err)
		}
		subjects = append(subjects, t)
	}
	body, err := k.validate(ctx, authToken, subjects[0], false)
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	if !bytes.Contains(body, []byte(`"token"`)) {
		return nil, fmt.Errorf("validate: body has no token: %s", snippet(body))
	}

	if slices.Contains(scenarios, ScenarioIssue) && o.BcryptCost > 0 {
		progress(fmt.Sprintf("timing bcrypt at cost %d", o.BcryptCost))
		l, err := MeasureBcrypt(o.BcryptCost, o.BcryptSamples)
		if err != nil {
			return nil, err
		}
		rep.Bcrypt = &l
	}
	rep.ServerIdleRSS = totalRSS(o.ServerPIDs)

	passwordLogin := passwordBody(c, true)
	next := make([]int, o.Load.Concurrency)
	ops := map[string]Op{
		ScenarioIssue: func(ctx context.Context, _ int) error {
			_, err := k.issue(ctx, passwordLogin, false)
			return err
		},
		ScenarioRescope: func(ctx context.Context, _ int) error {
			_, err := k.issue(ctx, rescopeBody, false)
			return err
		},
		ScenarioValidateNoCatalog: func(ctx context.Context, w int) error {
			next[w]++
			_, err := k.validate(ctx, authToken, subjects[(w+next[w]*o.Load.Concurrency)%len(subjects)], true)
			return err
		},
		ScenarioValidateCatalog: func(ctx context.Context, w int) error {
			next[w]++
			_, err := k.validate(ctx, authToken, subjects[(w+next[w]*o.Load.Concurrency)%len(subjects)], false)
			return err
		},
	}
	for _, id := range IdentityScenarios { // always in the documented order
		if !slices.Contains(scenarios, id) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		progress(fmt.Sprintf("running %s for %s at concurrency %d", scenarioTitles[id], o.Load.Duration, o.Load.Concurrency))
		Warm(ctx, o.Load, ops[id])
		st := measureUsage(ctx, scenarioTitles[id], o.Load, ops[id], o.ServerPIDs...)
		rep.Scenarios = append(rep.Scenarios, st)
		if id == ScenarioIssue && rep.Bcrypt != nil && rep.Bcrypt.PerSec > 0 {
			rep.IssueOfBcryptLimit = st.Rate / rep.Bcrypt.PerSec
		}
	}
	return rep, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
