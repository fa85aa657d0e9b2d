package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Cloud is a throw-away all-in-one (`nimbus up --ephemeral-ports` in a fresh data
// dir) that a bench starts, measures and removes.
type Cloud struct {
	// DataDir is the cloud's data dir; its images are in DataDir/images.
	DataDir string
	// CloudsYAML is the clouds.yaml it wrote (clouds nimbus-admin and nimbus-demo).
	CloudsYAML string
	// PID is the server's process id.
	PID  int
	cmd  *exec.Cmd
	done chan error
}

// StartCloud runs `exe up` with a new data dir under parent and waits for its ready
// line, without a network data plane; env (NAME=value) is added to its environment. Its log goes to
// DataDir/nimbus.log.
func StartCloud(ctx context.Context, exe, parent string, env ...string) (*Cloud, error) {
	dir, err := os.MkdirTemp(parent, "nimbus-bench-cloud.")
	if err != nil {
		return nil, err
	}
	c := &Cloud{DataDir: dir, CloudsYAML: filepath.Join(dir, "clouds.yaml"), done: make(chan error, 1)}
	logFile, err := os.Create(filepath.Join(dir, "nimbus.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logFile.Close()
	c.cmd = exec.Command(exe, "up", "--data-dir", dir, "--ephemeral-ports")
	c.cmd.Stderr = logFile
	// A bench measures the APIs: its cloud never builds a data plane on this host.
	c.cmd.Env = append(append(os.Environ(), "NIMBUS_NETWORK_DATAPLANE=off"), env...)
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.PID = c.cmd.Process.Pid
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			if !found && strings.HasPrefix(sc.Text(), "nimbus ready") {
				found = true
				ready <- true
			}
		}
		if !found {
			ready <- false
		}
		_, _ = io.Copy(io.Discard, out)
		c.done <- c.cmd.Wait()
	}()
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	select {
	case ok := <-ready:
		if ok {
			return c, nil
		}
		err = errors.New("nimbus up exited before it was ready")
	case <-timeout.C:
		err = errors.New("nimbus up was not ready within a minute")
	case <-ctx.Done():
		err = ctx.Err()
	}
	log, _ := os.ReadFile(filepath.Join(dir, "nimbus.log"))
	c.Stop()
	return nil, fmt.Errorf("%w; its log:\n%s", err, tail(log, 2000))
}

// Stop ends the cloud (SIGTERM, then SIGKILL after 10 s) and removes its data dir.
func (c *Cloud) Stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	os.RemoveAll(c.DataDir)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
