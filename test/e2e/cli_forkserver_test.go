package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// The openstack CLI spends about a second of CPU importing itself and its plugins
// on every run, which made CLI start-up the largest cost of the e2e suite (hundreds
// of commands on two cores; swift's likewise). openstackCLI runs each command in a process
// forked from one interpreter that imported them once (testdata/cli_forkserver.py):
// the same installed CLI, its own main() with the command's argv, environment and
// working directory, its output and its exit status, as an exec of the script gives.

// The fork servers of the package's openstack and swift commands.
var (
	openstackCLI = &cliForkServer{name: "openstack", module: "openstackclient.shell",
		plugins: []string{"openstack.", "keystoneauth1.", "cliff."}}
	swiftCLI = &cliForkServer{name: "swift", module: "swiftclient.shell"}
)

// cliForkServer starts testdata/cli_forkserver.py for one CLI on first use.
type cliForkServer struct {
	name    string   // the installed script, looked up in PATH
	module  string   // the module whose main() the script calls
	plugins []string // prefixes of the entry point groups of its plugins

	once  sync.Once
	err   error
	sock  string
	dir   string
	cmd   *exec.Cmd
	stdin io.WriteCloser // closing it stops the server
}

// start runs the server with the interpreter of the script's #! line and waits for
// its ready line.
func (s *cliForkServer) start() error {
	s.once.Do(func() { s.err = s.startOnce() })
	return s.err
}

func (s *cliForkServer) startOnce() error {
	script, err := exec.LookPath(s.name)
	if err != nil {
		return err
	}
	first, err := os.ReadFile(script)
	if err != nil {
		return err
	}
	line, _, _ := strings.Cut(string(first), "\n")
	interp := strings.Fields(strings.TrimPrefix(line, "#!"))
	if !strings.HasPrefix(line, "#!") || len(interp) == 0 {
		return fmt.Errorf("%s is not a script with a #! line", script)
	}
	// The server runs what the script runs: sys.exit(main()) of this module.
	if !strings.Contains(string(first), "from "+s.module+" import main") {
		return fmt.Errorf("%s does not call %s's main", script, s.module)
	}
	server, err := filepath.Abs(filepath.Join("testdata", "cli_forkserver.py"))
	if err != nil {
		return err
	}
	// Unix socket paths are short: a directory of its own under /tmp, not t.TempDir.
	s.dir, err = os.MkdirTemp("", "nimbus-e2e-cli-")
	if err != nil {
		return err
	}
	s.sock = filepath.Join(s.dir, "sock")
	args := append(append(interp[1:], server, s.sock, script, s.module), s.plugins...)
	s.cmd = exec.Command(interp[0], args...)
	s.cmd.Env = withoutOS(os.Environ())
	s.cmd.Stderr = os.Stderr
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return err
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	ready, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(ready) != "ready" {
		s.stop()
		return fmt.Errorf("%s fork server did not start: %q %v", s.name, ready, err)
	}
	return nil
}

// stop ends the server (commands still running finish on their own).
func (s *cliForkServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.stdin.Close()
	_ = s.cmd.Wait()
	_ = os.RemoveAll(s.dir)
}

// withoutOS is env without the OS_* variables, which would configure the CLI.
func withoutOS(env []string) []string {
	var kept []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "OS_") {
			kept = append(kept, kv)
		}
	}
	return kept
}

// combined runs the CLI with args (not including argv[0]) and env in the test's
// working directory and returns its combined stdout and stderr, as
// exec.Cmd.CombinedOutput does; ctx's end kills the command.
func (s *cliForkServer) combined(ctx context.Context, args, env []string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	err = s.run(ctx, dir, args, env, &out, &out)
	return out.String(), err
}

// run runs the CLI with args (not including argv[0]) and env in dir, its stdout
// and stderr written to stdout and stderr (one pipe when they are the same), as
// exec.Cmd.Run does; ctx's end kills the command.
func (s *cliForkServer) run(ctx context.Context, dir string, args, env []string, stdout, stderr io.Writer) error {
	if err := s.start(); err != nil {
		return err
	}
	req, err := json.Marshal(map[string]any{"argv": args, "env": env, "dir": dir})
	if err != nil {
		return err
	}
	conn, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: s.sock, Net: "unixpacket"})
	if err != nil {
		return err
	}
	defer conn.Close()
	// The command holds the only write ends: each pipe reads EOF once it is gone.
	var copies sync.WaitGroup
	pipe := func(to io.Writer) (*os.File, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		copies.Go(func() { _, _ = io.Copy(to, r); r.Close() })
		return w, nil
	}
	outW, err := pipe(stdout)
	if err != nil {
		return err
	}
	errW := outW
	if stderr != stdout {
		if errW, err = pipe(stderr); err != nil {
			outW.Close()
			copies.Wait()
			return err
		}
	}
	_, _, err = conn.WriteMsgUnix(req, syscall.UnixRights(int(outW.Fd()), int(errW.Fd())), nil)
	outW.Close()
	errW.Close()
	if err != nil {
		copies.Wait()
		return err
	}
	reply := func() (string, int, error) {
		buf := make([]byte, 64)
		n, err := conn.Read(buf)
		if err != nil {
			return "", 0, fmt.Errorf("%s fork server: %w", s.name, err)
		}
		word, num, _ := strings.Cut(string(buf[:n]), " ")
		v, err := strconv.Atoi(num)
		return word, v, err
	}
	_, pid, err := reply()
	if err != nil {
		copies.Wait()
		return err
	}
	kill := context.AfterFunc(ctx, func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	defer kill()
	copies.Wait()
	word, code, err := reply()
	switch {
	case err != nil:
		return err
	case word == "exit" && code == 0:
		return nil
	case word == "exit":
		return fmt.Errorf("exit status %d", code)
	case ctx.Err() != nil:
		return fmt.Errorf("signal: %s (%w)", syscall.Signal(code), ctx.Err())
	default:
		return fmt.Errorf("signal: %s", syscall.Signal(code))
	}
}

// runOpenStack runs the openstack CLI as user cloud of the clouds.yaml at config,
// with no OS_* variable leaking in from the environment.
func runOpenStack(ctx context.Context, config, cloud string, args ...string) (string, error) {
	env := append(withoutOS(os.Environ()), "OS_CLIENT_CONFIG_FILE="+config)
	return openstackCLI.combined(ctx, append([]string{"--os-cloud", cloud}, args...), env)
}

// TestCLIForkServerIsTheScript holds the fork servers to the installed scripts:
// for commands that need no cloud (a version, usage errors, help, a command that
// finds no credentials), stdout, stderr and the exit status are the same both ways.
func TestCLIForkServerIsTheScript(t *testing.T) {
	t.Parallel()
	env := withoutOS(os.Environ()) // no cloud: the commands that need one fail
	for _, tc := range []struct {
		cli  *cliForkServer
		args []string
	}{
		{openstackCLI, []string{"no-such-command"}},
		{openstackCLI, []string{"server", "create"}},
		{openstackCLI, []string{"help", "image", "create"}},
		{openstackCLI, []string{"project", "list"}},
		{swiftCLI, []string{"--version"}},
		{swiftCLI, []string{"list"}},
	} {
		dir := t.TempDir()
		cmd := exec.Command(tc.cli.name, tc.args...)
		cmd.Dir, cmd.Env = dir, env
		var wantOut, wantErr, gotOut, gotErr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &wantOut, &wantErr
		want := cmd.Run()
		got := tc.cli.run(context.Background(), dir, tc.args, env, &gotOut, &gotErr)
		what := tc.cli.name + " " + strings.Join(tc.args, " ")
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: fork server: %v, script: %v", what, got, want)
		}
		if gotOut.String() != wantOut.String() {
			t.Errorf("%s: fork server's stdout:\n%s\nthe script's:\n%s", what, &gotOut, &wantOut)
		}
		if gotErr.String() != wantErr.String() {
			t.Errorf("%s: fork server's stderr:\n%s\nthe script's:\n%s", what, &gotErr, &wantErr)
		}
	}
}
