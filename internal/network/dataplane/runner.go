package dataplane

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
)

// Runner runs one command (ip, bridge, nft, dnsmasq, ...) in a network namespace ("" is
// the host's own). Every external command of the data plane goes through it, so a
// failing step is logged with its output, and tests can record what ran.
type Runner interface {
	Run(ctx context.Context, namespace, name string, args ...string) ([]byte, error)
}

// ExecRunner runs commands for real, entering namespaces with `ip netns exec`.
type ExecRunner struct{ Log *slog.Logger }

var _ Runner = ExecRunner{}

func (r ExecRunner) Run(ctx context.Context, namespace, name string, args ...string) ([]byte, error) {
	argv := append([]string{name}, args...)
	if namespace != "" {
		argv = append([]string{"ip", "netns", "exec", namespace}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	log := r.Log
	if log == nil {
		log = slog.Default()
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		log.Debug("command failed", "netns", namespace, "cmd", strings.Join(argv, " "), "error", err, "stderr", msg)
		return stdout.Bytes(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, msg)
	}
	log.Debug("ran", "netns", namespace, "cmd", strings.Join(argv, " "))
	return stdout.Bytes(), nil
}
