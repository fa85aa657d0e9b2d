// Package e2e starts real Nimbus clouds and drives them with real clients: the
// Debian `openstack` CLI and gophercloud. One cloud is shared by the package; tests
// that must crash or restart a cloud start their own.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nimbusBin is the binary under test, built once by TestMain.
var nimbusBin string

// shared is the cloud most tests use.
var shared *Cloud

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "nimbus-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	defer openstackCLI.stop()
	defer swiftCLI.stop()
	nimbusBin = filepath.Join(tmp, "nimbus")
	build := exec.Command("go", "build", "-o", nimbusBin, "../../cmd/nimbus")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build nimbus:", err)
		return 1
	}
	shared, err = StartCloud(filepath.Join(tmp, "shared"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "start shared cloud:", err)
		return 1
	}
	code := m.Run()
	if err := shared.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop shared cloud:", err)
		if code == 0 {
			code = 1
		}
	}
	// Every answer of every cloud held to its route's response schema.
	responseViolations.scanAll()
	for _, report := range []string{responseViolations.report(), responseViolations.coverage()} {
		if report != "" {
			fmt.Fprint(os.Stderr, "FAIL: ", report)
			code = 1
		}
	}
	return code
}

// Cloud is a `nimbus up` process.
type Cloud struct {
	Dir         string
	IdentityURL string // http://127.0.0.1:PORT
	Args        []string
	// Env is added to the environment of `nimbus up` (after NIMBUS_NETWORK_DATAPLANE=off
	// and NIMBUS_COMPUTE_DRIVER=fake:
	// clouds build no data plane unless a test gives them a host namespace of their own).
	Env     []string
	LogFile string
	// Ready is the start of the line the process prints when it serves
	// (default "nimbus ready"; "nimbus api ready" for nimbus serve --role api).
	Ready string
	// Endpoints are the URLs of the ready line by name (identity, compute, ...).
	Endpoints map[string]string
	*process
}

// StartCloud runs `nimbus up --ephemeral-ports` on dir and waits for its ready line.
// Extra arguments (e.g. --db postgres://...) are passed through; NIMBUS_BCRYPT_COST
// and other NIMBUS_* variables come from the environment.
func StartCloud(dir string, extra ...string) (*Cloud, error) {
	return StartCloudEnv(dir, nil, extra...)
}

// StartCloudEnv is StartCloud with extra environment variables (NIMBUS_*=...).
func StartCloudEnv(dir string, env []string, extra ...string) (*Cloud, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c := &Cloud{Dir: dir, Args: append([]string{"up", "--data-dir", dir, "--ephemeral-ports"}, extra...),
		Env: env, LogFile: filepath.Join(dir, "nimbus.log")}
	return c, c.start()
}

func (c *Cloud) start() error {
	ready := c.Ready
	if ready == "" {
		ready = "nimbus ready"
	}
	p, line, err := startProcess(c.Args, c.Env, c.LogFile, ready)
	if err != nil {
		return err
	}
	c.process = p
	c.Endpoints = map[string]string{}
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, "="); ok && strings.HasPrefix(v, "http") {
			c.Endpoints[k] = v
		}
	}
	c.IdentityURL = c.Endpoints["identity"]
	if c.IdentityURL == "" {
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("ready line without identity URL: %q", line)
	}
	return nil
}

// process is a running nimbus command.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited, with err
	err  error
}

// startProcess runs nimbus with args and env (after NIMBUS_NETWORK_DATAPLANE=off
// and NIMBUS_COMPUTE_DRIVER=fake: no data plane and no VMs unless a test asks
// for them, with a namespace of its own; and with every response checked
// against its schema, checkResponsesEnv), logging to logFile,
// and waits for the stdout line starting with ready, which it returns.
func startProcess(args, env []string, logFile, ready string) (*process, string, error) {
	logf, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(nimbusBin, args...)
	cmd.Env = append(append(os.Environ(), "NIMBUS_NETWORK_DATAPLANE=off", "NIMBUS_COMPUTE_DRIVER=fake", checkResponsesEnv), env...)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, "", err
	}
	responseViolations.watch(logFile)
	p := &process{cmd: cmd, done: make(chan struct{})}
	readyLine := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, "stdout:", line)
			if strings.HasPrefix(line, ready) {
				readyLine <- line
			}
		}
	}()
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		responseViolations.scan(logFile) // before the test's directory goes
		close(p.done)
	}()
	logText := func() string { data, _ := os.ReadFile(logFile); return string(data) }
	select {
	case line := <-readyLine:
		return p, line, nil
	case <-p.done:
		return nil, "", fmt.Errorf("nimbus %s exited before ready: %v; log:\n%s", args[0], p.err, logText())
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		return nil, "", fmt.Errorf("nimbus %s not ready after 60s; log:\n%s", args[0], logText())
	}
}

// Stop sends SIGTERM and waits for a clean exit (nothing to do once it was killed).
func (p *process) Stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("nimbus did not stop within 30s of SIGTERM")
	}
}

// Kill sends SIGKILL, as a crash would, and waits for the process to be gone.
func (p *process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Log returns what the cloud wrote to its log so far.
func (c *Cloud) Log() string {
	data, _ := os.ReadFile(c.LogFile)
	return string(data)
}

// Restart starts the cloud again on the same data dir and arguments.
func (c *Cloud) Restart() error { return c.start() }

// CloudsYAML is the clouds.yaml the cloud wrote.
func (c *Cloud) CloudsYAML() string { return filepath.Join(c.Dir, "clouds.yaml") }

// Secret reads a generated bootstrap password ("admin" or "demo").
func (c *Cloud) Secret(user string) string {
	data, err := os.ReadFile(filepath.Join(c.Dir, "secrets", user+"-password"))
	if err != nil {
		panic(err)
	}
	return strings.TrimSpace(string(data))
}

// OpenStack runs the real openstack CLI against cloud name (nimbus-admin, nimbus-demo)
// of c's clouds.yaml, with no OS_* variables leaking in from the environment.
func (c *Cloud) OpenStack(ctx context.Context, cloud string, args ...string) (string, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := runOpenStack(ctx, c.CloudsYAML(), cloud, args...)
	if err != nil {
		return out, fmt.Errorf("openstack %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return out, nil
}

// OS runs the CLI and fails the test on error.
func OS(t *testing.T, c *Cloud, cloud string, args ...string) string {
	t.Helper()
	out, err := c.OpenStack(context.Background(), cloud, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// OSJSON runs the CLI with -f json and decodes its output into v.
func OSJSON(t *testing.T, c *Cloud, cloud string, v any, args ...string) {
	t.Helper()
	out := OS(t, c, cloud, append(args, "-f", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("openstack %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// uniqueName returns a name unlikely to collide across tests sharing a cloud.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}
